/*
 * Copyright (c) 2026 The flowgate authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */


/*
 * Services: one per worker per configured service.  A service owns its
 * listener (through the listen transport) and is referenced by each of its
 * flows, so a service dropped by a reload lives on until its last flow is
 * gone.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/util.h>

#include "flowgate.h"

#define REFUSE_LOG_MS	1000	/* at most one refusal line a second */
#define SRC_BUCKETS	4096	/* per-source counts: chains of the hash */

/* Live flows from one client address, for max_per_source. */
struct src_count {
	LIST_ENTRY(src_count) entry;
	struct sockaddr_storage ip;	/* the port zeroed */
	uint64_t	 n;
};
struct src_counts {
	LIST_HEAD(, src_count) b[SRC_BUCKETS];
	uint8_t		 key[16];
};

static void
src_ip(const struct sockaddr *sa, struct sockaddr_storage *ip)
{
	memset(ip, 0, sizeof(*ip));
	if (sa->sa_family == AF_INET6) {
		memcpy(ip, sa, sizeof(struct sockaddr_in6));
		((struct sockaddr_in6 *)ip)->sin6_port = 0;
		((struct sockaddr_in6 *)ip)->sin6_flowinfo = 0;
	} else {
		memcpy(ip, sa, sizeof(struct sockaddr_in));
		((struct sockaddr_in *)ip)->sin_port = 0;
	}
}

static struct src_count *
src_find(struct src_counts *sc, const struct sockaddr_storage *ip,
    size_t *bucket)
{
	struct src_count	*c;

	*bucket = (size_t)(addr_hash((const struct sockaddr *)ip, sc->key) &
	    (SRC_BUCKETS - 1));
	LIST_FOREACH(c, &sc->b[*bucket], entry)
		if (addr_cmp((struct sockaddr *)&c->ip,
		    (const struct sockaddr *)ip) == 0)
			return (c);
	return (NULL);
}

/*
 * The counters of a service name, shared by every worker and kept across
 * reloads (the configuration hands them from one service_conf to the next).
 */
struct service_stats *
service_stats_new(void)
{
	struct service_stats	*st;

	st = xcalloc(1, sizeof(*st));
	atomic_init(&st->refs, 1);
	if ((errno = pthread_mutex_init(&st->src_lock, NULL)) != 0)
		fatal("pthread_mutex_init");
	return (st);
}

struct service_stats *
service_stats_ref(struct service_stats *st)
{
	atomic_fetch_add(&st->refs, 1);
	return (st);
}

void
service_stats_unref(struct service_stats *st)
{
	struct src_count	*c;
	size_t			 i;

	if (st == NULL || atomic_fetch_sub(&st->refs, 1) != 1)
		return;
	for (i = 0; st->sources != NULL && i < SRC_BUCKETS; i++) {
		while ((c = LIST_FIRST(&st->sources->b[i])) != NULL) {
			LIST_REMOVE(c, entry);
			free(c);
		}
	}
	free(st->sources);
	pthread_mutex_destroy(&st->src_lock);
	free(st);
}

/*
 * Count one more flow from sa's address over all workers: 0, or -1 when
 * that would pass cap (0: no cap), -2 when memory ran out.  The check and
 * the count are one step, so workers admitting at once cannot both pass.
 */
static int
service_source_add(struct service_stats *st, uint64_t cap,
    const struct sockaddr *sa)
{
	struct sockaddr_storage	 ip;
	struct src_count	*c;
	size_t			 b, i;
	int			 r = 0;

	src_ip(sa, &ip);
	pthread_mutex_lock(&st->src_lock);
	if (st->sources == NULL) {
		if ((st->sources = calloc(1, sizeof(*st->sources))) == NULL) {
			pthread_mutex_unlock(&st->src_lock);
			return (-2);
		}
		for (i = 0; i < SRC_BUCKETS; i++)
			LIST_INIT(&st->sources->b[i]);
		evutil_secure_rng_get_bytes(st->sources->key,
		    sizeof(st->sources->key));
	}
	if ((c = src_find(st->sources, &ip, &b)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			r = -2;
		else {
			c->ip = ip;
			LIST_INSERT_HEAD(&st->sources->b[b], c, entry);
		}
	}
	if (c != NULL && cap != 0 && c->n >= cap) {
		if (c->n == 0) {
			LIST_REMOVE(c, entry);
			free(c);
		}
		r = -1;
	} else if (c != NULL)
		c->n++;
	pthread_mutex_unlock(&st->src_lock);
	return (r);
}

/* One flow from sa's address less (flow_unlink). */
void
service_source_del(struct service *svc, const struct sockaddr *sa)
{
	struct service_stats	*st = svc->conf->stats;
	struct sockaddr_storage	 ip;
	struct src_count	*c;
	size_t			 b;

	src_ip(sa, &ip);
	pthread_mutex_lock(&st->src_lock);
	if (st->sources != NULL &&
	    (c = src_find(st->sources, &ip, &b)) != NULL && --c->n == 0) {
		LIST_REMOVE(c, entry);
		free(c);
	}
	pthread_mutex_unlock(&st->src_lock);
}

/* What follows from svc->conf: the effective idle timeout and so on. */
static void
service_derive(struct service *svc)
{
	struct service_conf	*sc = svc->conf;

	svc->idle_timeout = sc->idle_timeout != 0 ? sc->idle_timeout :
	    sc->listen_ops->idle_default;
	if (svc->idle_timeout == 0)
		svc->idle_timeout = 300 * 1000;
	svc->fwdlen = 0;	/* a name: resolved for each flow */
	if (sc->has_forward && sc->forward.host[0] != '\0' &&
	    addr_parse_numeric(sc->forward.host, sc->forward.port, &svc->fwd,
	    &svc->fwdlen) == -1)
		svc->fwdlen = 0;
}

/*
 * Build a service in worker w around a bound listening socket, which it
 * now owns.  Returns NULL (and closes fd) on failure.
 */
struct service *
service_new(struct worker *w, struct config *cf, struct service_conf *sc,
    int fd)
{
	struct service	*svc;

	if ((svc = calloc(1, sizeof(*svc))) == NULL) {
		log_warn("service %s", sc->name);
		if (fd != -1)
			close(fd);
		return (NULL);
	}
	svc->worker = w;
	svc->config = config_ref(cf);
	svc->conf = sc;
	svc->refs = 1;
	svc->listen_fd = -1;
	TAILQ_INIT(&svc->flows);
	service_derive(svc);
	TAILQ_INSERT_TAIL(&w->services, svc, entry);
	if (sc->listen_ops->listen_start != NULL &&
	    sc->listen_ops->listen_start(svc, fd) == -1) {
		log_warn("service %s: cannot start listener", sc->name);
		service_stop(svc);
		return (NULL);
	}
	log_debug("%s: service=%s worker=%d", __func__, sc->name, w->idx);
	return (svc);
}

/*
 * Move a service whose listen endpoint did not change onto its conf in a
 * new config: it keeps its listener and its flows, and new flows get the
 * new settings.
 */
void
service_adopt(struct service *svc, struct config *cf, struct service_conf *sc)
{
	struct config	*old = svc->config;

	svc->config = config_ref(cf);
	svc->conf = sc;
	config_unref(old);
	service_derive(svc);
}

/*
 * Stop listening and drop the worker's reference.  Flows that can live
 * without the listener run on; the transport closes those that cannot.
 */
void
service_stop(struct service *svc)
{
	if (svc->removed)
		return;
	svc->removed = 1;
	TAILQ_REMOVE(&svc->worker->services, svc, entry);
	if (svc->conf->listen_ops->listen_stop != NULL)
		svc->conf->listen_ops->listen_stop(svc);
	service_unref(svc);
}

void
service_unref(struct service *svc)
{
	if (--svc->refs > 0)
		return;
	config_unref(svc->config);
	free(svc);
}

/*
 * May svc take one more flow from peer?  If so it is counted for peer's
 * address (service_source_del undoes that).  Refusals are counted, unless
 * quiet (the caller saw this attempt refused before), and logged at most
 * once a second per service, with the number left unsaid.
 */
int
service_admit(struct service *svc, const struct sockaddr *peer, int quiet)
{
	struct service_conf	*sc = svc->conf;
	const char		*why = NULL;
	char			 a[ADDRSTRLEN];
	uint64_t		 now;

	if (svc->worker->draining)
		why = "draining";
	else if (sc->stats->nflows >= sc->max_flows)
		why = "service max_flows";
	else if (flowgate->nflows >= svc->config->max_flows)
		why = "max_flows";
	else {
		switch (service_source_add(sc->stats, sc->max_per_source,
		    peer)) {
		case -1:
			why = "max_per_source";
			break;
		case -2:
			why = "memory";
			break;
		}
	}
	if (why == NULL)
		return (0);
	if (quiet)
		return (-1);
	svc->flows_refused++;
	sc->stats->flows_refused++;
	now = now_ms();
	if (now - svc->refused_logged >= REFUSE_LOG_MS) {
		log_warnx("flow refused service=%s peer=%s reason=limit "
		    "limit=\"%s\" suppressed=%llu", sc->name,
		    addr_str(peer, a, sizeof(a)), why,
		    (unsigned long long)svc->refused_quiet);
		svc->refused_logged = now;
		svc->refused_quiet = 0;
	} else
		svc->refused_quiet++;
	return (-1);
}

/*
 * Whether a tunnel of sc may reach sa: always without an allow list,
 * otherwise only an address (and port) that one entry covers.
 */
int
service_allows(const struct service_conf *sc, const struct sockaddr *sa)
{
	size_t	i;

	if (!sc->has_allow)
		return (1);
	for (i = 0; i < sc->nallow; i++)
		if (cidr_match(&sc->allow[i], sa))
			return (1);
	return (0);
}
