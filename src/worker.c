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
 * Workers: one thread, one event_base, its own listeners, flow table and
 * timer wheel.  The main thread talks to a worker only through
 * worker_send(), which hands over a new config with the listening sockets
 * for it, or asks the worker to stop.
 */

#include <sys/types.h>

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "flowgate.h"

#define WORKER_TICK_MS	250
#define TRIM_FLOWS	64	/* a peak worth trimming after */
#define TRIM_MS		10000	/* at most one trim per worker per 10 s */

/* The process-wide state; the one global (in the library, for the tests). */
static struct flowgate	 flowgate_storage;
struct flowgate		*flowgate = &flowgate_storage;

/*
 * glibc gives freed memory back to the system only from the top of a heap,
 * so after a burst of flows (a DTLS session holds some 60 KB) the daemon
 * would keep its peak size for good.  Once a worker's flows have fallen
 * to a quarter of their peak, hand the free pages back (malloc_trim): at
 * most every TRIM_MS, and once more when the last one has gone.
 */
static void
worker_trim(struct worker *w)
{
#ifdef __GLIBC__
	uint64_t	now;

	if (w->nflows > w->trim_peak)
		w->trim_peak = w->nflows;
	if (w->trim_peak < TRIM_FLOWS || w->nflows > w->trim_peak / 4 ||
	    ((now = now_ms()) - w->trimmed < TRIM_MS && w->nflows > 0))
		return;
	(void)malloc_trim(0);
	w->trimmed = now;
	w->trim_peak = w->nflows;
#else
	(void)w;
#endif
}

static void
worker_tick_cb(evutil_socket_t fd, short ev, void *arg)
{
	flow_sweep(arg);
	worker_trim(arg);
}

static void
worker_reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	flow_reap(arg);
}

/*
 * Take a new config: services that are unchanged keep their listener and
 * flows; changed and removed ones stop (their flows run on where the
 * transport allows); new and changed ones start on the sockets given.
 */
static void
worker_reload(struct worker *w, struct config *cf, int *fds)
{
	struct service		*svc, *next;
	struct service_conf	*sc;
	int			 i;

	TAILQ_FOREACH_SAFE(svc, &w->services, entry, next) {
		sc = config_find_service(cf, svc->conf->name);
		i = 0;
		if (sc != NULL) {
			struct service_conf *p;

			TAILQ_FOREACH(p, &cf->services, entry) {
				if (p == sc)
					break;
				i++;
			}
		}
		if (sc != NULL && fds[i] == -1)
			service_adopt(svc, cf, sc);
		else
			service_stop(svc);
	}
	i = 0;
	TAILQ_FOREACH(sc, &cf->services, entry) {
		if (fds[i] != -1)
			(void)service_new(w, cf, sc, fds[i]);
		i++;
	}
	if (w->config != NULL)
		config_unref(w->config);
	w->config = cf;		/* the reference worker_send took */
}

static void
worker_drain_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct flow	*f;

	log_info("drain deadline reached worker=%d flows=%llu", w->idx,
	    (unsigned long long)w->nflows);
	/* Stopped services are off the list; their flows hold them. */
	while ((f = TAILQ_FIRST(&w->allflows)) != NULL)
		flow_close(f, "shutdown");
	event_base_loopexit(w->base, NULL);
}

static void
worker_stop(struct worker *w)
{
	struct service	*svc;
	struct timeval	 tv;
	uint64_t	 ms;

	w->draining = 1;
	while ((svc = TAILQ_FIRST(&w->services)) != NULL)
		service_stop(svc);
	/* Stopped before any config arrived: start-up failed. */
	ms = w->config != NULL ? w->config->drain_timeout : 0;
	if (w->nflows == 0) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	log_info("draining worker=%d flows=%llu deadline=%llums", w->idx,
	    (unsigned long long)w->nflows, (unsigned long long)ms);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	w->drain_ev = evtimer_new(w->base, worker_drain_cb, w);
	if (w->drain_ev == NULL || evtimer_add(w->drain_ev, &tv) == -1)
		event_base_loopexit(w->base, NULL);
}

/* A flow of w closed; a draining worker exits with its last flow. */
void
worker_flow_gone(struct worker *w)
{
	if (w->draining && w->nflows == 0)
		event_base_loopexit(w->base, NULL);
}

static void
worker_cmd_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct worker	*w = arg;
	struct config	*cf;
	int		*fds, cmd;

	pthread_mutex_lock(&w->cmd_lock);
	cmd = w->cmd;
	cf = w->cmd_config;
	fds = w->cmd_fds;
	w->cmd = WORKER_CMD_NONE;
	w->cmd_config = NULL;
	w->cmd_fds = NULL;
	pthread_mutex_unlock(&w->cmd_lock);

	switch (cmd) {
	case WORKER_CMD_RELOAD:
		worker_reload(w, cf, fds);
		break;
	case WORKER_CMD_STOP:
		worker_stop(w);
		break;
	}
	/* Tell worker_send() the fds were taken. */
	pthread_mutex_lock(&w->cmd_lock);
	w->cmd_done = 1;
	pthread_cond_broadcast(&w->cmd_cond);
	pthread_mutex_unlock(&w->cmd_lock);
}

static void *
worker_main(void *arg)
{
	struct worker	*w = arg;
	struct flow	*f;
	struct service	*svc;

	event_base_dispatch(w->base);

	/* Tear down whatever is left: flows first, they hold services. */
	while ((svc = TAILQ_FIRST(&w->services)) != NULL)
		service_stop(svc);
	while ((f = TAILQ_FIRST(&w->allflows)) != NULL)
		flow_close(f, "shutdown");
	/* Let cancelled lookups call back, then free what closed. */
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	flow_reap(w);
	if (w->drain_ev != NULL)
		event_free(w->drain_ev);
	event_free(w->wheel_ev);
	event_free(w->cmd_ev);
	event_free(w->reap_ev);
	evdns_base_free(w->dns, 1);
	flow_table_free(&w->table);
	if (w->config != NULL)
		config_unref(w->config);
	free(w->rbuf);
	free(w->xbuf);
	free(w->tbuf);
	free(w->sbuf);
	event_base_free(w->base);
	return (NULL);
}

int
worker_start(struct worker *w, int idx)
{
	struct timeval	tv = { 0, WORKER_TICK_MS * 1000 };

	w->idx = idx;
	TAILQ_INIT(&w->services);
	TAILQ_INIT(&w->allflows);
	TAILQ_INIT(&w->dead);
	pthread_mutex_init(&w->cmd_lock, NULL);
	pthread_cond_init(&w->cmd_cond, NULL);
	if ((w->base = event_base_new()) == NULL)
		fatalx("worker %d: event_base_new failed", idx);
	w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (w->dns == NULL) {
		log_warnx("worker %d: no usable resolv.conf; only /etc/hosts "
		    "and numeric addresses resolve", idx);
		w->dns = evdns_base_new(w->base, 0);
		if (w->dns == NULL)
			fatalx("worker %d: evdns_base_new failed", idx);
		(void)evdns_base_load_hosts(w->dns, NULL);
	}
	flow_table_init(&w->table);
	wheel_init(&w->wheel, WORKER_TICK_MS, now_ms());
	w->rbuf = xcalloc(FG_BATCH, FG_MAX_DGRAM + 1);
	w->xbuf = xcalloc(1, FG_MAX_DGRAM + 1);
	w->tbuf = xcalloc(1, TLS_CORK_BUF);
	w->sbuf = xcalloc(1, FG_SBUF);
	w->wheel_ev = event_new(w->base, -1, EV_PERSIST, worker_tick_cb, w);
	w->cmd_ev = event_new(w->base, -1, 0, worker_cmd_cb, w);
	w->reap_ev = event_new(w->base, -1, 0, worker_reap_cb, w);
	if (w->wheel_ev == NULL || w->cmd_ev == NULL || w->reap_ev == NULL ||
	    event_add(w->wheel_ev, &tv) == -1)
		fatalx("worker %d: cannot make events", idx);
	errno = pthread_create(&w->thread, NULL, worker_main, w);
	if (errno != 0)
		fatal("worker %d: pthread_create", idx);
	return (0);
}

/*
 * Hand a command to w and wait until the worker has taken it, so the
 * caller may reuse fds and knows cf's reference has moved.
 */
void
worker_send(struct worker *w, int cmd, struct config *cf, int *fds)
{
	pthread_mutex_lock(&w->cmd_lock);
	w->cmd = cmd;
	w->cmd_config = cf != NULL ? config_ref(cf) : NULL;
	w->cmd_fds = fds;
	w->cmd_done = 0;
	event_active(w->cmd_ev, EV_TIMEOUT, 0);
	while (!w->cmd_done)
		pthread_cond_wait(&w->cmd_cond, &w->cmd_lock);
	pthread_mutex_unlock(&w->cmd_lock);
}

void
worker_join(struct worker *w)
{
	pthread_join(w->thread, NULL);
	pthread_mutex_destroy(&w->cmd_lock);
	pthread_cond_destroy(&w->cmd_cond);
}
