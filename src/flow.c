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
 * Flows: the per-worker flow table (a keyed hash of datagram flows by
 * client address), the idle timer wheel, and the relay between the two
 * halves of a flow.  Transports set up halves; everything that moves bytes
 * from one half to the other, counts them, and tears a flow down is here.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "flowgate.h"

#define FLOW_TABLE_MIN		256
#define FLOW_PENDING_MAX	64	/* datagrams queued before egress */
#define FLOW_PENDING_BYTES	(256 * 1024)

/*
 * The timer wheel.  A link sits in the slot of its deadline's tick; a slot
 * that comes due hands each link whose deadline passed to the callback and
 * re-files the others (deadlines beyond one turn of the wheel).  Touching
 * a flow only updates flow->last; the callback re-files a flow that saw
 * traffic since, so the packet path never moves links around.
 */
void
wheel_init(struct wheel *w, uint64_t tick_ms, uint64_t now)
{
	int	i;

	for (i = 0; i < WHEEL_SLOTS; i++)
		LIST_INIT(&w->slots[i]);
	w->tick = tick_ms;
	w->cur = now / tick_ms;
	w->count = 0;
}

void
wheel_add(struct wheel *w, struct wheel_link *l, uint64_t deadline)
{
	uint64_t	t;

	t = deadline / w->tick;
	if (t <= w->cur)
		t = w->cur + 1;
	l->deadline = deadline;
	l->slot = (int)(t % WHEEL_SLOTS);
	LIST_INSERT_HEAD(&w->slots[l->slot], l, entry);
	w->count++;
}

void
wheel_del(struct wheel *w, struct wheel_link *l)
{
	if (l->slot < 0)
		return;
	LIST_REMOVE(l, entry);
	l->slot = -1;
	w->count--;
}

void
wheel_advance(struct wheel *w, uint64_t now,
    void (*cb)(struct wheel_link *, void *), void *arg)
{
	struct wheel_slot	 due;
	struct wheel_link	*l;
	uint64_t		 target, n;

	target = now / w->tick;
	for (n = 0; w->cur < target && n < WHEEL_SLOTS; n++) {
		w->cur++;
		/* Detach the slot: the callback may file links back into it. */
		LIST_INIT(&due);
		l = LIST_FIRST(&w->slots[w->cur % WHEEL_SLOTS]);
		if (l != NULL) {
			LIST_FIRST(&due) = l;
			l->entry.le_prev = &LIST_FIRST(&due);
			LIST_INIT(&w->slots[w->cur % WHEEL_SLOTS]);
		}
		while ((l = LIST_FIRST(&due)) != NULL) {
			LIST_REMOVE(l, entry);
			l->slot = -1;
			w->count--;
			if (l->deadline <= now)
				cb(l, arg);
			else
				wheel_add(w, l, l->deadline);
		}
	}
	/* More than a whole turn behind: every slot was visited once. */
	if (w->cur < target)
		w->cur = target;
}

/*
 * The flow table: chained hash of datagram flows keyed by service and
 * client address, SipHash with a per-table random key so a peer cannot
 * aim its source addresses at one chain.
 */
void
flow_table_init(struct flow_table *t)
{
	size_t	i;

	t->nbuckets = FLOW_TABLE_MIN;
	t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
	for (i = 0; i < t->nbuckets; i++)
		LIST_INIT(&t->buckets[i]);
	t->count = 0;
	evutil_secure_rng_get_bytes(t->key, sizeof(t->key));
}

void
flow_table_free(struct flow_table *t)
{
	free(t->buckets);
	t->buckets = NULL;
	t->nbuckets = 0;
}

static size_t
flow_bucket(struct flow_table *t, struct service *svc,
    const struct sockaddr *sa)
{
	uint64_t	h;

	h = addr_hash(sa, t->key) ^ ((uint64_t)(uintptr_t)svc * 0x9e3779b97f4a7c15ULL);
	return ((size_t)(h & (t->nbuckets - 1)));
}

/* Double the table when chains grow past one flow per bucket on average. */
static void
flow_table_grow(struct flow_table *t)
{
	LIST_HEAD(, flow)	*old, *nb;
	struct flow		*f;
	size_t			 i, oldn, n;

	n = t->nbuckets * 2;
	if ((nb = calloc(n, sizeof(*nb))) == NULL)
		return;		/* keep the longer chains; still correct */
	for (i = 0; i < n; i++)
		LIST_INIT(&nb[i]);
	old = (void *)t->buckets;
	oldn = t->nbuckets;
	t->buckets = (void *)nb;
	t->nbuckets = n;
	for (i = 0; i < oldn; i++) {
		while ((f = LIST_FIRST(&old[i])) != NULL) {
			LIST_REMOVE(f, hentry);
			LIST_INSERT_HEAD(&t->buckets[flow_bucket(t, f->service,
			    (struct sockaddr *)&f->peer)], f, hentry);
		}
	}
	free(old);
}

struct flow *
flow_lookup(struct worker *w, struct service *svc, const struct sockaddr *sa)
{
	struct flow_table	*t = &w->table;
	struct flow		*f;

	LIST_FOREACH(f, &t->buckets[flow_bucket(t, svc, sa)], hentry) {
		if (f->service == svc &&
		    addr_cmp((struct sockaddr *)&f->peer, sa) == 0)
			return (f);
	}
	return (NULL);
}

static void
flow_idle_cb(struct wheel_link *l, void *arg)
{
	struct flow	*f;
	uint64_t	 now = *(uint64_t *)arg, deadline;

	f = (struct flow *)((char *)l - offsetof(struct flow, idle));
	deadline = f->last + f->service->idle_timeout;
	if (deadline > now) {
		wheel_add(&f->worker->wheel, &f->idle, deadline);
		return;
	}
	flow_close(f, "idle");
}

/* Called from the worker's tick timer. */
void
flow_sweep(struct worker *w)
{
	uint64_t	now = now_ms();

	wheel_advance(&w->wheel, now, flow_idle_cb, &now);
}

/*
 * Make a flow and link it: into the table when hashed, into its service,
 * into every counter.  From here on the only way out is flow_close().
 * Returns NULL, errno EPERM when a limit refuses the flow or ENOMEM when
 * memory runs out.  flags:
 * FLOW_NEW_HASHED puts it in the table; FLOW_NEW_QUIET says the caller
 * knows this peer's attempt was refused and counted before (a handshake
 * retransmitted), so a refusal now is neither counted nor logged again.
 */
struct flow *
flow_new(struct service *svc, enum flow_kind kind, const struct sockaddr *sa,
    socklen_t salen, int flags)
{
	struct worker	*w = svc->worker;
	struct flow	*f;

	if (service_admit(svc, sa, flags & FLOW_NEW_QUIET) == -1) {
		errno = EPERM;
		return (NULL);
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		log_warn("flow refused service=%s reason=memory",
		    svc->conf->name);
		service_source_del(svc, sa);
		errno = ENOMEM;
		return (NULL);
	}
	f->service = svc;
	f->worker = w;
	f->kind = kind;
	f->id = ++flowgate->flow_ids;
	f->in.flow = f->out.flow = f;
	f->in.fd = f->out.fd = -1;
	f->in.ops = svc->conf->listen_ops;
	f->out.ops = svc->conf->forward_ops;
	if (f->out.ops == NULL && f->in.ops->egress != NULL)
		f->out.ops = transport_find(f->in.ops->egress);
	f->idle.slot = -1;
	if (salen > sizeof(f->peer))
		salen = sizeof(f->peer);
	memcpy(&f->peer, sa, salen);
	f->peerlen = salen;
	f->start = f->last = now_ms();

	/* Link: every counter moves here and only here. */
	if (flags & FLOW_NEW_HASHED) {
		if (w->table.count >= w->table.nbuckets)
			flow_table_grow(&w->table);
		LIST_INSERT_HEAD(&w->table.buckets[flow_bucket(&w->table, svc,
		    sa)], f, hentry);
		w->table.count++;
		f->flags |= FLOW_F_HASHED;
	}
	TAILQ_INSERT_TAIL(&svc->flows, f, sentry);
	TAILQ_INSERT_TAIL(&w->allflows, f, wentry);
	f->flags |= FLOW_F_SOURCE;	/* service_admit counted it */
	svc->refs++;
	svc->nflows++;
	svc->flows_total++;
	w->nflows++;
	svc->conf->stats->nflows++;
	svc->conf->stats->flows_total++;
	flowgate->nflows++;
	f->flags |= FLOW_F_LINKED;
	wheel_add(&w->wheel, &f->idle, f->last + svc->idle_timeout);
	return (f);
}

/* Undo exactly what flow_new linked. */
static void
flow_unlink(struct flow *f)
{
	struct service	*svc = f->service;
	struct worker	*w = f->worker;

	if (!(f->flags & FLOW_F_LINKED))
		return;
	f->flags &= ~FLOW_F_LINKED;
	if (f->flags & FLOW_F_HASHED) {
		LIST_REMOVE(f, hentry);
		w->table.count--;
		f->flags &= ~FLOW_F_HASHED;
	}
	TAILQ_REMOVE(&svc->flows, f, sentry);
	TAILQ_REMOVE(&w->allflows, f, wentry);
	if (f->flags & FLOW_F_SOURCE)
		service_source_del(svc, (struct sockaddr *)&f->peer);
	svc->nflows--;
	w->nflows--;
	svc->conf->stats->nflows--;
	flowgate->nflows--;
}

void
flow_log(struct flow *f, enum log_level lvl, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	if (!log_enabled(lvl))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_emit(lvl, "%s service=%s flow=%llu", msg, f->service->conf->name,
	    (unsigned long long)f->id);
}

/*
 * A lookup in progress.  It outlives its flow when the flow closes first:
 * evdns calls back once more (with EVUTIL_EAI_CANCEL), and that frees it.
 */
struct flow_dns {
	struct evdns_getaddrinfo_request *req;
	struct flow	*flow;		/* NULL once the flow is gone */
	flow_resolve_cb	 cb;
	int		 opening;	/* inside evdns_getaddrinfo() */
	int		 result;	/* an answer given while opening */
	struct evutil_addrinfo *ai;
};

#define FLOW_ALTS_MAX	7	/* addresses kept beyond the first */

/*
 * Keep the addresses after the first, so a connect that fails can try the
 * next one (a name with AAAA and A records, a service on one of them).
 */
static void
flow_keep_alts(struct flow *f, struct evutil_addrinfo *ai)
{
	struct evutil_addrinfo	*a;
	int			 n = 0;

	for (a = ai->ai_next; a != NULL && n < FLOW_ALTS_MAX; a = a->ai_next)
		n++;
	if (n == 0 || (f->alts = calloc((size_t)n, sizeof(*f->alts))) ==
	    NULL)
		return;
	for (a = ai->ai_next; a != NULL && f->nalts < n; a = a->ai_next) {
		if (a->ai_addrlen > sizeof(*f->alts))
			continue;
		memcpy(&f->alts[f->nalts++], a->ai_addr, a->ai_addrlen);
	}
}

/* Keep only the further addresses the service's allow list permits. */
void
flow_filter_alts(struct flow *f)
{
	int	i, n = 0;

	for (i = f->ialt; i < f->nalts; i++)
		if (service_allows(f->service->conf,
		    (struct sockaddr *)&f->alts[i]))
			f->alts[n++] = f->alts[i];
	f->nalts = n;
	f->ialt = 0;
}

/* The next address of the destination's name, if there is one. */
int
flow_next_address(struct flow *f, struct sockaddr_storage *ss,
    socklen_t *len)
{
	if (f->ialt >= f->nalts)
		return (-1);
	*ss = f->alts[f->ialt++];
	*len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	return (0);
}

static void
flow_resolve_deliver(struct flow *f, flow_resolve_cb cb, int result,
    struct evutil_addrinfo *ai)
{
	if (result == 0 && ai != NULL)
		flow_keep_alts(f, ai);
	if (result != 0 || ai == NULL)
		cb(f, NULL, 0, result != 0 ? result : EVUTIL_EAI_FAIL);
	else
		cb(f, ai->ai_addr, (socklen_t)ai->ai_addrlen, 0);
	if (ai != NULL)
		evutil_freeaddrinfo(ai);
}

static void
flow_resolve_done(int result, struct evutil_addrinfo *ai, void *arg)
{
	struct flow_dns	*d = arg;
	struct flow	*f = d->flow;
	flow_resolve_cb	 cb = d->cb;

	if (d->opening) {
		/* Answered at once: flow_resolve() takes it from here. */
		d->result = result;
		d->ai = ai;
		return;
	}
	free(d);
	if (f == NULL) {
		if (ai != NULL)
			evutil_freeaddrinfo(ai);
		return;
	}
	f->dns = NULL;
	flow_resolve_deliver(f, cb, result, ai);
}

void
flow_resolve(struct flow *f, const char *host, uint16_t port, int socktype,
    flow_resolve_cb cb)
{
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *req;
	struct sockaddr_storage		 ss;
	struct flow_dns			*d;
	socklen_t			 len;
	char				 sport[8];

	if (addr_parse_numeric(host, port, &ss, &len) == 0 && host[0] != '\0') {
		cb(f, (struct sockaddr *)&ss, len, 0);
		return;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		cb(f, NULL, 0, EVUTIL_EAI_MEMORY);
		return;
	}
	d->flow = f;
	d->cb = cb;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = socktype;
	snprintf(sport, sizeof(sport), "%u", port);
	d->opening = 1;
	req = evdns_getaddrinfo(f->worker->dns, host, sport, &hints,
	    flow_resolve_done, d);
	d->opening = 0;
	if (req != NULL) {
		d->req = req;
		f->dns = d;
		return;
	}
	/* NULL: answered already (hosts file, error). */
	flow_resolve_deliver(f, cb, d->result, d->ai);
	free(d);
}

/*
 * Dial sa and, while the dial itself fails (an AAAA address without an
 * IPv6 route, say), the name's next addresses.  tcp walks them within its
 * own connect; this covers the datagram transports.  Returns as the dial
 * does, -1 with errno once none is left (or the flow closed).
 */
static int
half_dial_any(struct half *h, const struct sockaddr *sa, socklen_t len)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;

	while (h->dial(h, sa, len) == -1) {
		if ((h->flow->flags & FLOW_F_CLOSING) ||
		    half_next_address(h, 0, &ss, &sl) == -1)
			return (-1);
		sa = (struct sockaddr *)&ss;
		len = sl;
	}
	return (0);
}

/*
 * After h's dial failed (errno saying why) or its destination refused
 * (refused, before it ever answered): the name's next address in ss, with
 * h's socket and events dropped to dial it again; or -1, errno kept, when
 * none is left.
 */
int
half_next_address(struct half *h, int refused, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct flow	*f = h->flow;
	char		 a[ADDRSTRLEN], b[ADDRSTRLEN];
	int		 e = errno;

	if (flow_next_address(f, ss, len) == -1) {
		errno = e;
		return (-1);
	}
	if (refused)
		flow_log(f, LOG_LVL_INFO, "destination refused, trying the "
		    "next address dst=%s next=%s", addr_str((struct sockaddr *)
		    &f->dst, a, sizeof(a)), addr_str((struct sockaddr *)ss, b,
		    sizeof(b)));
	else
		flow_log(f, LOG_LVL_DEBUG, "connect failed (%s), trying the "
		    "next address", strerror(e));
	half_reset(h);
	return (0);
}

static void
half_dial_resolved(struct flow *f, const struct sockaddr *sa, socklen_t len,
    int err)
{
	if (sa == NULL) {
		flow_log(f, LOG_LVL_WARN, "cannot resolve %s: %s",
		    f->service->conf->forward.host, evutil_gai_strerror(err));
		flow_close(f, "unresolved");
		return;
	}
	if (half_dial_any(&f->out, sa, len) == -1 &&
	    !(f->flags & FLOW_F_CLOSING)) {
		f->err = errno;
		flow_close(f, errno == ECONNREFUSED ? "refused" : "error");
	}
}

/*
 * The egress transports' common open: dial the destination a tunnel
 * request named, else the service's pre-resolved forward address, else
 * resolve the forward host first.  Returns as an open hook does.
 */
int
half_dial(struct half *h, int socktype,
    int (*dial)(struct half *, const struct sockaddr *, socklen_t))
{
	struct flow	*f = h->flow;
	struct service	*svc = f->service;

	h->dial = dial;
	f->dial_deadline = now_ms() + svc->conf->connect_timeout;
	if (f->dstlen != 0)
		return (half_dial_any(h, (struct sockaddr *)&f->dst,
		    f->dstlen));
	if (svc->fwdlen != 0)
		return (dial(h, (struct sockaddr *)&svc->fwd, svc->fwdlen));
	flow_resolve(f, svc->conf->forward.host, svc->conf->forward.port,
	    socktype, half_dial_resolved);
	return (0);
}

static void
flow_resolve_cancel(struct flow *f)
{
	struct flow_dns	*d = f->dns;

	if (d == NULL)
		return;
	f->dns = NULL;
	d->flow = NULL;
	evdns_getaddrinfo_cancel(d->req);	/* calls back, which frees d */
}

/* Whether h's flow ends without losing anything it carried. */
static int
flow_clean_end(struct half *h)
{
	const char	*r = h->flow->reason;

	if (h->outq != NULL && evbuffer_get_length(h->outq) > 0)
		return (0);
	return (strcmp(r, "reset") != 0 && strcmp(r, "error") != 0 &&
	    strcmp(r, "tls") != 0);
}

/* Drop h's socket and events, to dial it again (the next address). */
void
half_reset(struct half *h)
{
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->wev != NULL)
		event_free(h->wev);
	if (h->tev != NULL)
		event_free(h->tev);
	h->ev = h->wev = h->tev = NULL;
	if (h->ssl != NULL) {
		SSL_free(h->ssl);
		h->ssl = NULL;
	}
	if (h->fd != -1) {
		close(h->fd);
		h->fd = -1;
	}
}

static void
half_close(struct half *h)
{
	SSL	*ssl;

	/* The transport may end the session itself (dtls does). */
	if (h->ops != NULL && h->ops->close != NULL)
		h->ops->close(h);
	ssl = h->ssl;
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->wev != NULL)
		event_free(h->wev);
	if (h->tev != NULL)
		event_free(h->tev);
	h->ev = h->wev = h->tev = NULL;
	if (ssl != NULL) {
		/*
		 * A session that got going ends with close_notify (GoDoxy
		 * answers a bad header, a failed dial or a probe so), but
		 * not when bytes were lost: then the peer must not see a
		 * clean end.
		 */
		if (SSL_is_init_finished(ssl) &&
		    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN) &&
		    flow_clean_end(h))
			(void)SSL_shutdown(ssl);
		ERR_clear_error();
		SSL_free(ssl);
		h->ssl = NULL;
	}
	if (h->fd != -1) {
		close(h->fd);
		h->fd = -1;
	}
	if (h->outq != NULL) {
		evbuffer_free(h->outq);
		h->outq = NULL;
	}
}

/*
 * The one teardown path of a flow.  Safe on half-built flows and idempotent;
 * the caller must not touch f afterwards.
 */
void
flow_close(struct flow *f, const char *reason)
{
	struct worker	*w = f->worker;
	struct service	*svc = f->service;
	char		 peer[ADDRSTRLEN], dst[ADDRSTRLEN], err[128];

	if (f->flags & FLOW_F_CLOSING)
		return;
	f->flags |= FLOW_F_CLOSING;
	f->reason = reason;

	err[0] = '\0';
	if (f->err != 0) {
		snprintf(err, sizeof(err), " error=\"%s\"",
		    evutil_socket_error_to_string(f->err));
	}
	if (f->dstlen != 0)
		addr_str((struct sockaddr *)&f->dst, dst, sizeof(dst));
	else
		snprintf(dst, sizeof(dst), "-");
	log_emit(LOG_LVL_INFO, "flow closed service=%s flow=%llu peer=%s dst=%s "
	    "bytes_in=%llu bytes_out=%llu pkts_in=%llu pkts_out=%llu "
	    "drops=%llu duration=%llums reason=%s%s", svc->conf->name,
	    (unsigned long long)f->id,
	    addr_str((struct sockaddr *)&f->peer, peer, sizeof(peer)), dst,
	    (unsigned long long)f->bytes_in, (unsigned long long)f->bytes_out,
	    (unsigned long long)f->pkts_in, (unsigned long long)f->pkts_out,
	    (unsigned long long)f->drops,
	    (unsigned long long)(now_ms() - f->start), reason, err);

	wheel_del(&w->wheel, &f->idle);
	flow_resolve_cancel(f);
	free(f->alts);
	f->alts = NULL;
	half_close(&f->in);
	half_close(&f->out);
	if (f->pending != NULL)
		evbuffer_free(f->pending);
	flow_unlink(f);
	/*
	 * Free it only after the running callback returns (tmux does this
	 * with server_client_unref): callers up the stack may still test
	 * FLOW_F_CLOSING.  f->service must not be used from here on.
	 */
	TAILQ_INSERT_TAIL(&w->dead, f, wentry);
	if (w->reap_ev != NULL)
		event_active(w->reap_ev, EV_TIMEOUT, 0);
	service_unref(svc);
	worker_flow_gone(w);
}

/* The worker's reaper: free the flows closed since it last ran. */
void
flow_reap(struct worker *w)
{
	struct flow	*f;

	while ((f = TAILQ_FIRST(&w->dead)) != NULL) {
		TAILQ_REMOVE(&w->dead, f, wentry);
		free(f);
	}
}

void
flow_touch(struct flow *f)
{
	f->last = now_ms();
}

/*
 * Start the egress half; the transport reports back with half_ready() or
 * flow_close().  An open hook that returns -1 has left the flow alone, so
 * it is closed here; one that returns 0 may already have closed it.
 */
void
flow_open(struct flow *f)
{
	if (f->out.ops == NULL || f->out.ops->open == NULL) {
		flow_close(f, "error");
		return;
	}
	if (f->out.ops->open(&f->out) == -1) {
		if (f->err == 0)
			f->err = errno;
		flow_close(f, "error");
	}
}

/*
 * Traffic that came in on half "from": into the flow's counters and, as it
 * passes (live flows too), its service's; the flow is active now.
 */
static void
flow_count(struct flow *f, struct half *from, uint64_t pkts, uint64_t bytes)
{
	struct service_stats	*st = f->service->conf->stats;

	if (from == &f->in) {
		f->pkts_in += pkts;
		f->bytes_in += bytes;
		atomic_fetch_add_explicit(&st->bytes_in, bytes,
		    memory_order_relaxed);
	} else {
		f->pkts_out += pkts;
		f->bytes_out += bytes;
		atomic_fetch_add_explicit(&st->bytes_out, bytes,
		    memory_order_relaxed);
	}
	f->last = now_ms();
}

/*
 * Datagrams.  Before the egress is ready, datagrams wait in a bounded queue
 * (a 4-byte length, then the bytes); beyond it they are dropped and
 * counted.  Both directions count bytes and packets and keep the flow
 * alive.  Each returns -1 when the flow was closed on the way.
 */
int
flow_dgram_in(struct flow *f, struct dgram *d, int n)
{
	uint64_t	sum = 0;
	uint32_t	len;
	int		i;

	for (i = 0; i < n; i++)
		sum += d[i].len;
	flow_count(f, &f->in, (uint64_t)n, sum);
	if (!(f->out.flags & HALF_READY)) {
		if (f->pending == NULL && (f->pending = evbuffer_new()) == NULL) {
			f->drops += (uint64_t)n;
			return (0);
		}
		for (i = 0; i < n; i++) {
			if (f->npending >= FLOW_PENDING_MAX ||
			    evbuffer_get_length(f->pending) + d[i].len >
			    FLOW_PENDING_BYTES) {
				f->drops++;
				continue;
			}
			len = (uint32_t)d[i].len;
			if (evbuffer_add(f->pending, &len, sizeof(len)) == -1 ||
			    evbuffer_add(f->pending, d[i].buf, d[i].len) == -1) {
				f->drops++;
				continue;
			}
			f->npending++;
		}
		return (0);
	}
	if (f->out.ops->dgram_send(&f->out, d, n) == -1)
		return (-1);
	return ((f->flags & FLOW_F_CLOSING) ? -1 : 0);
}

int
flow_dgram_out(struct flow *f, struct dgram *d, int n)
{
	uint64_t	sum = 0;
	int		i;

	for (i = 0; i < n; i++)
		sum += d[i].len;
	flow_count(f, &f->out, (uint64_t)n, sum);
	if (f->in.ops->dgram_send(&f->in, d, n) == -1)
		return (-1);
	return ((f->flags & FLOW_F_CLOSING) ? -1 : 0);
}

/* Send what queued up while the egress was being set up. */
static void
flow_dgram_flush(struct flow *f)
{
	struct dgram	 d;
	uint32_t	 len;
	u_char		*p;

	while (f->pending != NULL && f->npending > 0) {
		if (evbuffer_remove(f->pending, &len, sizeof(len)) !=
		    sizeof(len))
			break;
		/* An empty datagram is a datagram too; pullup(0) is NULL. */
		p = len == 0 ? (u_char *)"" : evbuffer_pullup(f->pending, len);
		if (p == NULL) {
			f->drops += (uint64_t)f->npending;
			break;
		}
		d.buf = p;
		d.len = len;
		f->npending--;
		if (f->out.ops->dgram_send(&f->out, &d, 1) == -1 ||
		    (f->flags & FLOW_F_CLOSING))
			return;
		evbuffer_drain(f->pending, len);
	}
	if (f->pending != NULL) {
		evbuffer_free(f->pending);
		f->pending = NULL;
		f->npending = 0;
	}
}

/*
 * Streams.  The relay reads a half into the worker's scratch buffer and
 * writes it straight to the other half; only what the other half cannot
 * take now is queued in its outq, and reading stops while that queue is
 * over the service's buffer limit (it resumes below half of it); a read
 * takes no more than the room left under that limit, so the queue never
 * exceeds it.  TLS halves use SSL_read/SSL_write on the same terms.  An
 * EOF is passed on as shutdown(SHUT_WR), or close_notify, once the queue
 * has drained.
 *
 * Reads are large: fewer wakeups on both sides, and for TLS the records
 * of one read leave in one write(2) (TLS_CORK_BUF).  256 KiB reads used
 * about 10 % less CPU per byte than 64 KiB ones in a TLS tunnel with
 * eight connections (docs/benchmarks.md).  But a half reads once per
 * wakeup: four reads in a row (a megabyte) held the other direction of
 * the flow back, and a one-connection TLS tunnel was 14 % slower for it.
 */
#define RELAY_CHUNK	(256 * 1024)	/* one read at most */
#define TLS_RECORD	16384		/* one SSL_write, one full record */

static struct half *
half_peer(struct half *h)
{
	return (h == &h->flow->in ? &h->flow->out : &h->flow->in);
}

/* TLS records written but not yet taken by the socket (tls_cork). */
static size_t
half_wpending(struct half *h)
{
	return (h->ssl != NULL ? tls_wpending(h->ssl) : 0);
}

struct evbuffer *
half_outq(struct half *h)
{
	if (h->outq == NULL)
		h->outq = evbuffer_new();
	return (h->outq);
}

/*
 * Why SSL_read returned n <= 0 (e from SSL_get_error, err the errno it
 * left): 0 at EOF, or -1 with errno, EAGAIN when nothing is there now.
 */
static int
half_read_end(struct half *h, int n, int e, int err)
{
	switch (e) {
	case SSL_ERROR_WANT_WRITE:
		h->flags |= HALF_RWANTW;
		event_add(h->wev, NULL);
		/* FALLTHROUGH */
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return (-1);
	case SSL_ERROR_ZERO_RETURN:
		return (0);
	case SSL_ERROR_SYSCALL:
		/* A FIN without close_notify: an end all the same. */
		if (ERR_peek_error() == 0 && (n == 0 || err == 0))
			return (0);
		errno = err != 0 ? err : EPROTO;
		return (-1);
	default:
		tls_log_errors(LOG_LVL_INFO, "tls read failed service=%s "
		    "flow=%llu", h->flow->service->conf->name,
		    (unsigned long long)h->flow->id);
		errno = EPROTO;
		return (-1);
	}
}

/*
 * Read up to len bytes.  Returns the count, 0 at EOF (close_notify, or a
 * plain FIN), or -1 with errno: EAGAIN when nothing is there now.  *again
 * says TLS holds more (records, close_notify, an error) that no readiness
 * of the socket will report: the caller has to come back by itself.
 */
static ssize_t
half_read(struct half *h, void *buf, size_t len, int *again)
{
	size_t	got;
	int	n, e, err;

	*again = 0;
	if (h->ssl == NULL) {
		do
			n = (int)read(h->fd, buf, len);
		while (n == -1 && errno == EINTR);
		return (n);
	}
	if (h->rerr != 0) {
		/* The error that stopped the last read, behind its data. */
		errno = h->rerr;
		return (-1);
	}
	h->flags &= ~HALF_RWANTW;
	/* Several records per call, so the plain side gets large writes. */
	for (got = 0; got < len; got += (size_t)n) {
		tls_clear_errors();
		n = SSL_read(h->ssl, (u_char *)buf + got, (int)(len - got >
		    INT_MAX ? INT_MAX : len - got));
		if (n <= 0)
			break;
	}
	err = errno;
	e = got < len ? SSL_get_error(h->ssl, n) : SSL_ERROR_NONE;
	/* What OpenSSL wrote while reading (an alert, a key update) goes. */
	if (half_wpending(h) > 0)
		event_add(h->wev, NULL);
	if (got == 0)
		return (half_read_end(h, n, e, err));
	/*
	 * Data first.  What stopped the loop comes again on the next call,
	 * except an error: that is logged now and kept for it.
	 */
	if (e == SSL_ERROR_NONE)
		*again = SSL_has_pending(h->ssl);
	else if (e != SSL_ERROR_WANT_READ) {
		if (half_read_end(h, n, e, err) == -1 && errno != EAGAIN)
			h->rerr = errno;
		*again = 1;
	}
	return ((ssize_t)got);
}

/* Write up to len bytes; the count, or -1 with errno (EAGAIN: later). */
static ssize_t
half_write(struct half *h, const void *buf, size_t len)
{
	int	n, want;

	if (h->ssl == NULL) {
		do
			n = (int)write(h->fd, buf, len);
		while (n == -1 && errno == EINTR);
		return (n);
	}
	/* A write OpenSSL asked to repeat goes again with the same length. */
	want = (int)(h->ssl_wlen != 0 ? h->ssl_wlen : len > TLS_RECORD ?
	    TLS_RECORD : len);
	h->flags &= ~HALF_WWANTR;
	tls_clear_errors();
	if ((n = SSL_write(h->ssl, buf, want)) > 0) {
		h->ssl_wlen = 0;
		return (n);
	}
	switch (SSL_get_error(h->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		h->flags |= HALF_WWANTR;
		/* FALLTHROUGH */
	case SSL_ERROR_WANT_WRITE:
		h->ssl_wlen = (size_t)want;
		errno = EAGAIN;
		return (-1);
	default:
		tls_log_errors(LOG_LVL_INFO, "tls write failed service=%s "
		    "flow=%llu", h->flow->service->conf->name,
		    (unsigned long long)h->flow->id);
		if (errno == 0)
			errno = EPIPE;
		return (-1);
	}
}

static void
relay_fail(struct flow *f, int err)
{
	f->err = err;
	if (err == ECONNRESET || err == EPIPE)
		flow_close(f, "reset");
	else
		flow_close(f, "error");
}

/* Both write sides are shut and written out: the flow is done. */
static int
relay_check_done(struct flow *f)
{
	if ((f->in.flags & HALF_SHUTWR) && (f->out.flags & HALF_SHUTWR) &&
	    half_wpending(&f->in) == 0 && half_wpending(&f->out) == 0 &&
	    !((f->in.flags | f->out.flags) & HALF_SHUTRETRY)) {
		flow_close(f, "closed");
		return (-1);
	}
	return (0);
}

/*
 * Send close_notify.  When even the backlog is full, OpenSSL keeps the
 * alert and HALF_SHUTRETRY says to call again once it drains.  Returns -1
 * when the alert is still held.
 */
static int
half_ssl_shutdown(struct half *h)
{
	int	r;

	tls_clear_errors();
	r = SSL_shutdown(h->ssl);
	if (r < 0 && SSL_get_error(h->ssl, r) == SSL_ERROR_WANT_WRITE) {
		h->flags |= HALF_SHUTRETRY;
		ERR_clear_error();
		return (-1);
	}
	h->flags &= ~HALF_SHUTRETRY;
	ERR_clear_error();
	return (0);
}

/* Pass an EOF on: TLS sends close_notify, plain TCP a FIN. */
static int
half_shutdown(struct half *h)
{
	h->flags &= ~HALF_SHUTPEND;
	h->flags |= HALF_SHUTWR;
	if (h->ssl != NULL) {
		(void)half_ssl_shutdown(h);
		if (half_wpending(h) > 0 || (h->flags & HALF_SHUTRETRY)) {
			/* close_notify waits behind records: relay_flush. */
			event_add(h->wev, NULL);
			return (0);
		}
	} else if (h->fd != -1)
		(void)shutdown(h->fd, SHUT_WR);
	return (relay_check_done(h->flow));
}

static void
half_resume(struct half *h)
{
	if (!(h->flags & HALF_RPAUSED))
		return;
	h->flags &= ~HALF_RPAUSED;
	event_add(h->ev, NULL);
	/* TLS may hold a decrypted record that no readiness will report. */
	event_active(h->ev, EV_READ, 0);
}

/*
 * Write out h's queue.  Returns -1 when the flow was closed.
 */
static int
relay_flush(struct half *h)
{
	struct flow	*f = h->flow;
	struct half	*src = half_peer(h);
	size_t		 len, chunk;
	ssize_t		 n;
	u_char		*p;

	if (h->ssl != NULL) {
		if (tls_wflush(h->ssl) == -1) {
			relay_fail(f, errno);
			return (-1);
		}
		if (half_wpending(h) > 0) {
			event_add(h->wev, NULL);
			return (0);
		}
		if (h->flags & HALF_SHUTWR) {
			/*
			 * Only close_notify was left, or it could not even be
			 * queued: then SSL_shutdown sends the alert it holds
			 * (only then: called again it would read).
			 */
			if (((h->flags & HALF_SHUTRETRY) &&
			    half_ssl_shutdown(h) == -1) ||
			    half_wpending(h) > 0) {
				event_add(h->wev, NULL);
				return (0);
			}
			if (!(h->flags & HALF_RWANTW))
				event_del(h->wev);
			return (relay_check_done(f));
		}
		tls_cork(h->ssl, f->worker->tbuf, TLS_CORK_BUF);
	}
	while (h->outq != NULL && (len = evbuffer_get_length(h->outq)) > 0) {
		if (h->ssl == NULL) {
			n = evbuffer_write(h->outq, h->fd);
		} else {
			chunk = h->ssl_wlen != 0 ? h->ssl_wlen :
			    len > TLS_RECORD ? TLS_RECORD : len;
			if ((p = evbuffer_pullup(h->outq,
			    (ssize_t)chunk)) == NULL) {
				relay_fail(f, ENOMEM);
				return (-1);
			}
			if ((n = half_write(h, p, chunk)) > 0)
				evbuffer_drain(h->outq, (size_t)n);
		}
		if (n == -1) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			relay_fail(f, errno);
			return (-1);
		}
	}
	if (h->ssl != NULL && tls_uncork(h->ssl) == -1) {
		relay_fail(f, errno);
		return (-1);
	}
	len = h->outq != NULL ? evbuffer_get_length(h->outq) : 0;
	if (len <= f->service->conf->buffer / 2)
		half_resume(src);
	if (len > 0 || half_wpending(h) > 0) {
		event_add(h->wev, NULL);
		return (0);
	}
	if (!(h->flags & HALF_RWANTW))
		event_del(h->wev);
	if (h->flags & HALF_SHUTPEND)
		return (half_shutdown(h));
	return (0);
}

/* src reached EOF: stop reading it and pass the EOF on. */
static int
relay_eof(struct half *src, struct half *dst)
{
	src->flags |= HALF_EOF;
	event_del(src->ev);
	if (dst->flags & HALF_SHUTWR)
		return (relay_check_done(src->flow));
	if ((dst->outq != NULL && evbuffer_get_length(dst->outq) > 0) ||
	    half_wpending(dst) > 0) {
		dst->flags |= HALF_SHUTPEND;
		return (0);
	}
	return (half_shutdown(dst));
}

/*
 * Move what src has to dst: one read, written at once, the rest queued.
 * One read per wakeup: the socket's readiness brings us back (epoll is
 * level-triggered), after every other ready half had its turn, in
 * particular the other direction of this flow.  Only what TLS holds
 * already needs an explicit turn, and it takes it through a timer that
 * runs after the next poll, so it too waits for the others.  Returns -1
 * when the flow was closed.
 */
static int
relay_pump(struct half *src)
{
	struct half	*dst = half_peer(src);
	struct flow	*f = src->flow;
	u_char		*buf = f->worker->rbuf;
	uint64_t	 limit = f->service->conf->buffer;
	size_t		 queued, want;
	ssize_t		 n, w;
	int		 again;

	if (src->flags & (HALF_EOF | HALF_RPAUSED)) {
		/* Reading will be retried on resume; no spinning. */
		src->flags &= ~HALF_RWANTW;
		return (0);
	}
	queued = dst->outq != NULL ? evbuffer_get_length(dst->outq) : 0;
	if (queued >= limit) {
		/* Backpressure: relay_flush(dst) resumes us. */
		src->flags |= HALF_RPAUSED;
		src->flags &= ~HALF_RWANTW;
		event_del(src->ev);
		return (0);
	}
	want = limit - queued < RELAY_CHUNK ? (size_t)(limit - queued) :
	    RELAY_CHUNK;
	if ((n = half_read(src, buf, want, &again)) == 0)
		return (relay_eof(src, dst));
	if (n == -1) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return (0);
		relay_fail(f, errno);
		return (-1);
	}
	flow_count(f, src, 1, (uint64_t)n);
	w = 0;
	if (dst->flags & HALF_SHUTWR)
		w = n;		/* nowhere to go: discard */
	else if (dst->outq == NULL || evbuffer_get_length(dst->outq) == 0) {
		/* Records of one read leave in one write(2). */
		if (dst->ssl != NULL)
			tls_cork(dst->ssl, f->worker->tbuf, TLS_CORK_BUF);
		while (w < n) {
			ssize_t	k = half_write(dst, buf + w, (size_t)(n - w));

			if (k == -1) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				relay_fail(f, errno);
				return (-1);
			}
			w += k;
		}
		if (dst->ssl != NULL) {
			if (tls_uncork(dst->ssl) == -1) {
				relay_fail(f, errno);
				return (-1);
			}
			if (half_wpending(dst) > 0)
				event_add(dst->wev, NULL);
		}
	}
	if (w < n) {
		/* The only copy: what the peer cannot take now. */
		if (evbuffer_add(half_outq(dst), buf + w, (size_t)(n - w)) ==
		    -1) {
			relay_fail(f, ENOMEM);
			return (-1);
		}
		event_add(dst->wev, NULL);
	}
	if (again) {
		/* A timer runs after the next poll: the others go first. */
		static const struct timeval	zero;

		evtimer_add(src->tev, &zero);
	}
	return (0);
}

static void
relay_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;

	if ((h->flags & HALF_WWANTR) && relay_flush(h) == -1)
		return;
	(void)relay_pump(h);
}

static void
relay_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;

	if (relay_flush(h) == -1)
		return;
	if (h->flags & HALF_RWANTW)
		(void)relay_pump(h);
}

/* The turn a TLS half asked for (half_read's again): a read, as if woken. */
static void
relay_turn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;

	relay_read_cb(h->fd, EV_READ, h);
}

static int
relay_events(struct half *h)
{
	struct event_base	*base = h->flow->worker->base;

	/* Whatever the transport used during its handshake goes. */
	if (h->ev != NULL)
		event_free(h->ev);
	if (h->wev != NULL)
		event_free(h->wev);
	if (h->tev != NULL)
		event_free(h->tev);
	h->tev = NULL;
	h->ev = event_new(base, h->fd, EV_READ | EV_PERSIST, relay_read_cb,
	    h);
	h->wev = event_new(base, h->fd, EV_WRITE | EV_PERSIST,
	    relay_write_cb, h);
	if (h->ssl != NULL) {
		tls_relay_mode(h->ssl);
		if ((h->tev = evtimer_new(base, relay_turn_cb, h)) == NULL)
			return (-1);
	}
	if (h->ev == NULL || h->wev == NULL || event_add(h->ev, NULL) == -1)
		return (-1);
	return (0);
}

static void
relay_start(struct flow *f)
{
	if (relay_events(&f->in) == -1 || relay_events(&f->out) == -1) {
		relay_fail(f, ENOMEM);
		return;
	}
	/*
	 * Bytes may wait already: queued by a transport (a tunnel header)
	 * or held inside TLS (payload that came with the header).
	 */
	if (relay_flush(&f->out) == -1 || relay_flush(&f->in) == -1)
		return;
	event_active(f->in.ev, EV_READ, 0);
	event_active(f->out.ev, EV_READ, 0);
}

/* Arm (or re-arm) h's deadline timer to call cb after ms. */
void
half_set_timer(struct half *h, uint64_t ms, event_callback_fn cb)
{
	struct timeval	tv;

	if (h->tev != NULL)
		event_free(h->tev);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	if ((h->tev = evtimer_new(h->flow->worker->base, cb, h)) != NULL)
		evtimer_add(h->tev, &tv);
}

/* A transport finished its handshake on h; relay once both are ready. */
void
half_ready(struct half *h)
{
	struct flow	*f = h->flow;

	h->flags |= HALF_READY;
	if (!(f->in.flags & HALF_READY) || !(f->out.flags & HALF_READY) ||
	    (f->flags & FLOW_F_RELAYING))
		return;
	f->flags |= FLOW_F_RELAYING;
	if (f->kind == FLOW_STREAM)
		relay_start(f);
	else
		flow_dgram_flush(f);
}
