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

#include "flowgate.h"

#define REFUSE_LOG_MS	1000	/* at most one refusal line a second */

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
	svc->idle_timeout = sc->idle_timeout != 0 ? sc->idle_timeout :
	    sc->listen_ops->idle_default;
	if (svc->idle_timeout == 0)
		svc->idle_timeout = 300 * 1000;
	if (sc->has_forward && sc->forward.host[0] != '\0' &&
	    addr_parse_numeric(sc->forward.host, sc->forward.port, &svc->fwd,
	    &svc->fwdlen) == -1)
		svc->fwdlen = 0;	/* a name: resolved for each flow */
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

/* Move an unchanged service onto the equal conf of a new config. */
void
service_adopt(struct service *svc, struct config *cf, struct service_conf *sc)
{
	struct config	*old = svc->config;

	svc->config = config_ref(cf);
	svc->conf = sc;
	config_unref(old);
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
