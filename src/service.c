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

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/util.h>

#include "flowgate.h"

static void	service_sources_init(struct service *);

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
 * Count one more flow from sa's address; -1 when that would pass cap.
 * A service without a cap has no table and counts nothing.
 */
int
service_source_add(struct service *svc, const struct sockaddr *sa)
{
	struct sockaddr_storage	 ip;
	struct src_count	*c;
	size_t			 b;

	if (svc->sources == NULL)
		return (0);
	src_ip(sa, &ip);
	if ((c = src_find(svc->sources, &ip, &b)) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return (-1);
		c->ip = ip;
		LIST_INSERT_HEAD(&svc->sources->b[b], c, entry);
	}
	if (svc->conf->max_per_source != 0 &&
	    c->n >= svc->conf->max_per_source) {
		if (c->n == 0) {
			LIST_REMOVE(c, entry);
			free(c);
		}
		return (-1);
	}
	c->n++;
	return (1);
}

void
service_source_del(struct service *svc, const struct sockaddr *sa)
{
	struct sockaddr_storage	 ip;
	struct src_count	*c;
	size_t			 b;

	if (svc->sources == NULL)
		return;
	src_ip(sa, &ip);
	if ((c = src_find(svc->sources, &ip, &b)) == NULL)
		return;
	if (--c->n == 0) {
		LIST_REMOVE(c, entry);
		free(c);
	}
}

/* Whether sa's address already has its cap of flows. */
static int
service_source_full(struct service *svc, const struct sockaddr *sa)
{
	struct sockaddr_storage	 ip;
	struct src_count	*c;
	size_t			 b;

	src_ip(sa, &ip);
	c = src_find(svc->sources, &ip, &b);
	return (c != NULL && c->n >= svc->conf->max_per_source);
}

static void
service_sources_init(struct service *svc)
{
	size_t	i;

	if (svc->sources != NULL || svc->conf->max_per_source == 0)
		return;
	if ((svc->sources = calloc(1, sizeof(*svc->sources))) == NULL)
		return;
	for (i = 0; i < SRC_BUCKETS; i++)
		LIST_INIT(&svc->sources->b[i]);
	evutil_secure_rng_get_bytes(svc->sources->key,
	    sizeof(svc->sources->key));
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
	service_sources_init(svc);
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
	struct src_count	*c;
	size_t			 i;

	if (--svc->refs > 0)
		return;
	for (i = 0; svc->sources != NULL && i < SRC_BUCKETS; i++) {
		while ((c = LIST_FIRST(&svc->sources->b[i])) != NULL) {
			LIST_REMOVE(c, entry);
			free(c);
		}
	}
	free(svc->sources);
	config_unref(svc->config);
	free(svc);
}

/*
 * May svc take one more flow?  Refusals are counted always and logged at
 * most once a second per service, with the number left unsaid.
 */
int
service_admit(struct service *svc, const struct sockaddr *peer)
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
	else if (svc->sources != NULL && sc->max_per_source != 0 &&
	    service_source_full(svc, peer))
		why = "max_per_source";
	if (why == NULL)
		return (0);
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
