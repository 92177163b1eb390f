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
 * dtls: GoDoxy's agent stream for UDP, DTLS 1.2 as pion/dtls speaks it.
 *
 * As a listener (the agent side) one unconnected UDP socket per worker
 * carries every peer.  A datagram from an unknown address goes through a
 * shared listener SSL driven by DTLSv1_listen(): a stateless cookie
 * exchange, so nothing is kept for a peer until it proves it receives at
 * its address.  Then that SSL becomes the peer's, with a small BIO that
 * hands OpenSSL the current datagram and sends with sendto(), and a new
 * listener takes its place.  Each peer is a datagram flow: the 275-byte
 * header comes alone in the first application record, then one record
 * is one datagram each way, through a connected UDP socket per flow.
 *
 * OpenSSL drops a new ClientHello on an established association (openssl
 * issue 3283), so a client that restarts from the same address would be
 * stuck; such a hello goes through the cookie exchange and a pending SSL,
 * and replaces the old session once its handshake succeeds.
 *
 * As egress (the GoDoxy server side) each flow opens its own DTLS session
 * from a fresh source port, queues datagrams during the handshake, and
 * sends the header for the service's destination in its own record.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/event.h>
#include <event2/util.h>

#include "flowgate.h"
#include "proto/dtls_peek.h"
#include "proto/stream_header.h"

#define DTLS_MTU	1200	/* pion's; only handshake messages obey it */

/*
 * The records of one dtls_dgram_send() call, in the worker's send buffer:
 * they leave together (sendmmsg, and one segmented datagram for a run of
 * equal sizes), not one sendto(2) each.
 */
struct dtls_batch {
	u_char		*buf;
	size_t		 used;
	struct dgram	 d[FG_BATCH];
	int		 n;
	uint64_t	 lost;		/* the socket refused them */
};

/* What the peer BIO reads (the current datagram) and where it sends. */
struct dtls_io {
	int			 fd;
	struct sockaddr_storage	 peer;
	socklen_t		 peerlen;
	const u_char		*in;	/* NULL once OpenSSL took it */
	size_t			 inlen;
	struct dtls_batch	*batch;	/* gathering records, or NULL */
	int			 nogso;	/* the path refused segmentation */
	int			 err;	/* a client's socket: ICMP error seen */
};

/*
 * Datagrams of one relaying session decrypted during one read of the
 * listening socket: each in place of its own record, in the worker's
 * receive buffer, so they go on as one batch (flow_dgram_in) and no copy.
 */
struct dtls_col {
	struct flow	*f;		/* whose, or NULL */
	u_char		*obuf;		/* where the next record decrypts */
	size_t		 ocap;
	struct dgram	 d[FG_BATCH];
	int		 n;
};

/*
 * A handshake the service's limits refused.  Its client retransmits the
 * same ClientHello (same random) until it gives up; each copy passes the
 * cookie check again, but it is still the one refusal.
 */
struct dtls_refusal {
	struct sockaddr_storage	 addr;
	u_char			 random[SSL3_RANDOM_SIZE];
};
#define DTLS_REFUSALS	16	/* remembered per worker and service */

/* A service's listener state in one worker. */
struct dtls_srv {
	SSL		*listener;	/* for addresses with no session */
	struct dtls_io	 lio;		/* its BIO's */
	struct dtls_col	*col;		/* during dtls_listen_cb */
	uint64_t	 hellos;	/* answered statelessly */
	uint64_t	 junk;		/* ignored datagrams */
	struct dtls_refusal refused[DTLS_REFUSALS];	/* a ring */
	int		 refused_next;
};

/* The agent side of one session. */
struct dtls_peer {
	struct dtls_io		 io;
	int			 state;
#define DP_HANDSHAKE	0
#define DP_HEADER	1	/* waiting for the 275 bytes */
#define DP_ROUTE	2	/* resolving and connecting the egress */
#define DP_RELAY	3
	struct sh_reader	 rd;
	struct stream_header	 hdr;
	SSL			*pending;	/* a restarted client's handshake */
	struct dtls_io		*pio;		/* its BIO's */
	uint64_t		 pending_deadline;
};

static BIO_METHOD	*dtls_bio_method;
static pthread_once_t	 dtls_bio_once = PTHREAD_ONCE_INIT;

static int
dtls_bio_read(BIO *b, char *buf, int len)
{
	struct dtls_io	*io = BIO_get_data(b);
	size_t		 n;

	BIO_clear_retry_flags(b);
	/* 0 would be EOF to OpenSSL: an empty datagram is no data. */
	if (io->in == NULL || io->inlen == 0) {
		io->in = NULL;
		BIO_set_retry_read(b);
		return (-1);
	}
	n = io->inlen < (size_t)len ? io->inlen : (size_t)len;
	memcpy(buf, io->in, n);
	io->in = NULL;
	return ((int)n);
}

static void
dtls_batch_flush(struct dtls_io *io)
{
	struct dtls_batch	*bt = io->batch;
	int			 sent;

	if (bt->n > 0) {
		sent = udp_sendv(io->fd, (struct sockaddr *)&io->peer,
		    io->peerlen, bt->d, bt->n, &io->nogso);
		bt->lost += (uint64_t)(bt->n - sent);
		if (sent < bt->n && errno == ECONNREFUSED)
			io->err = errno;
	}
	bt->n = 0;
	bt->used = 0;
}

/* One datagram per write; a full socket buffer is a lost packet. */
static int
dtls_bio_write(BIO *b, const char *buf, int len)
{
	struct dtls_io		*io = BIO_get_data(b);
	struct dtls_batch	*bt = io->batch;

	BIO_clear_retry_flags(b);
	if (bt != NULL && len > 0 && (size_t)len <= FG_SBUF) {
		if (bt->n == FG_BATCH || bt->used + (size_t)len > FG_SBUF)
			dtls_batch_flush(io);
		memcpy(bt->buf + bt->used, buf, (size_t)len);
		bt->d[bt->n].buf = bt->buf + bt->used;
		bt->d[bt->n++].len = (size_t)len;
		bt->used += (size_t)len;
		return (len);
	}
	if (sendto(io->fd, buf, (size_t)len, MSG_DONTWAIT,
	    (struct sockaddr *)&io->peer, io->peerlen) == -1 &&
	    errno == ECONNREFUSED)
		io->err = errno;
	return (len);
}

static long
dtls_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct dtls_io		*io = BIO_get_data(b);
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;

	switch (cmd) {
	case BIO_CTRL_FLUSH:
	case BIO_CTRL_DGRAM_SET_CONNECTED:
	case BIO_CTRL_DGRAM_SET_PEER:
	case BIO_CTRL_DGRAM_SET_NEXT_TIMEOUT:
		return (1);
	case BIO_CTRL_DGRAM_GET_PEER:
		if (io->peer.ss_family == AF_INET6) {
			sin6 = (struct sockaddr_in6 *)&io->peer;
			return (BIO_ADDR_rawmake(ptr, AF_INET6,
			    &sin6->sin6_addr, sizeof(sin6->sin6_addr),
			    sin6->sin6_port));
		}
		sin = (struct sockaddr_in *)&io->peer;
		return (BIO_ADDR_rawmake(ptr, AF_INET, &sin->sin_addr,
		    sizeof(sin->sin_addr), sin->sin_port));
	case BIO_CTRL_DGRAM_GET_MTU_OVERHEAD:
		return (io->peer.ss_family == AF_INET6 ? 48 : 28);
	case BIO_CTRL_DGRAM_QUERY_MTU:
	case BIO_CTRL_DGRAM_GET_FALLBACK_MTU:
		/* Never below pion's MTU, should OpenSSL ever ask. */
		return (DTLS_MTU);
	default:
		return (0);
	}
}

static void
dtls_bio_init(void)
{
	dtls_bio_method = BIO_meth_new(BIO_get_new_index() |
	    BIO_TYPE_SOURCE_SINK, "flowgate dtls");
	if (dtls_bio_method == NULL ||
	    BIO_meth_set_read(dtls_bio_method, dtls_bio_read) != 1 ||
	    BIO_meth_set_write(dtls_bio_method, dtls_bio_write) != 1 ||
	    BIO_meth_set_ctrl(dtls_bio_method, dtls_bio_ctrl) != 1)
		fatalx("cannot make the DTLS BIO method");
}

/* A BIO over io, which must not move while the BIO lives. */
static BIO *
dtls_bio_new(struct dtls_io *io)
{
	BIO	*b;

	pthread_once(&dtls_bio_once, dtls_bio_init);
	if ((b = BIO_new(dtls_bio_method)) == NULL)
		return (NULL);
	BIO_set_data(b, io);
	BIO_set_init(b, 1);
	return (b);
}

/* An SSL for the service's listener or a client, with pion's MTU. */
static SSL *
dtls_ssl_new(struct service *svc, struct dtls_io *io)
{
	SSL	*ssl;
	BIO	*b;

	if ((ssl = SSL_new(svc->conf->tls_ctx)) == NULL)
		return (NULL);
	if ((b = dtls_bio_new(io)) == NULL) {
		SSL_free(ssl);
		return (NULL);
	}
	SSL_set_bio(ssl, b, b);
	SSL_set_mtu(ssl, DTLS_MTU);
	SSL_set_accept_state(ssl);
	return (ssl);
}

/*
 * Retransmission: after every SSL call, the timer follows what OpenSSL
 * says; a timer that fires early is just re-armed.
 */
static void
dtls_timer_arm(struct half *h, SSL *ssl)
{
	struct timeval	tv;

	if (h->tev == NULL)
		return;
	if (ssl != NULL && DTLSv1_get_timeout(ssl, &tv) == 1)
		evtimer_add(h->tev, &tv);
	else
		evtimer_del(h->tev);
}

static int	dtls_peer_input(struct flow *, const u_char *, size_t);

/* Give up a restart in progress; the live session stays. */
static void
dtls_pending_drop(struct dtls_peer *p)
{
	SSL_free(p->pending);
	free(p->pio);
	p->pending = NULL;
	p->pio = NULL;
}

/* Arm the peer's deadline: the handshake's, then the header's. */
static void
dtls_deadline(struct half *h, uint64_t ms)
{
	struct timeval	tv;

	if (h->ev == NULL)
		return;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(h->ev, &tv);
}
static void	dtls_client_step(struct half *);
static void	dtls_client_fail(struct flow *, const char *);
static int	dtls_client_next(struct flow *);
static int	dtls_client_connect(struct half *, const struct sockaddr *,
		    socklen_t);

static void
dtls_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half		*h = arg;
	struct flow		*f = h->flow;
	struct dtls_peer	*p = h == &f->in ? h->tr_priv : NULL;
	struct timeval		 tv;
	SSL			*ssl = h->ssl;

	if (p != NULL && p->pending != NULL) {
		if (now_ms() < p->pending_deadline)
			ssl = p->pending;
		else
			dtls_pending_drop(p);
	}
	if (ssl == NULL)
		return;
	if (DTLSv1_get_timeout(ssl, &tv) == 1 &&
	    (tv.tv_sec > 0 || tv.tv_usec > 0)) {
		evtimer_add(h->tev, &tv);
		return;
	}
	ERR_clear_error();
	if (DTLSv1_handle_timeout(ssl) < 0) {
		if (ssl == h->ssl) {
			flow_log(f, LOG_LVL_INFO, "dtls handshake gave up");
			flow_close(f, "timeout");
			return;
		}
		/* A restart that went nowhere: keep the old session. */
		dtls_pending_drop(p);
		ssl = h->ssl;
	}
	if (p == NULL && h->tr_priv != NULL &&
	    ((struct dtls_io *)h->tr_priv)->err != 0) {
		/* The retransmission met the server port's ICMP error. */
		ERR_clear_error();
		errno = ((struct dtls_io *)h->tr_priv)->err;
		dtls_client_fail(f, "handshake");
		return;
	}
	dtls_timer_arm(h, ssl);
}

/*
 * The agent side.
 */
static void
dtls_peer_routed(struct flow *f, const struct sockaddr *sa, socklen_t len,
    int err)
{
	struct dtls_peer	*p = f->in.tr_priv;
	char			 a[ADDRSTRLEN];

	if (sa == NULL) {
		flow_log(f, LOG_LVL_WARN, "cannot resolve %s: %s", p->hdr.host,
		    evutil_gai_strerror(err));
		flow_close(f, "unresolved");
		return;
	}
	memcpy(&f->dst, sa, len);
	f->dstlen = len;
	if (!service_allows(f->service->conf, sa)) {
		flow_log(f, LOG_LVL_WARN, "destination not allowed dst=%s "
		    "host=%s", addr_str(sa, a, sizeof(a)), p->hdr.host);
		flow_close(f, "denied");
		return;
	}
	p->state = DP_RELAY;
	flow_open(f);
}

/* The collector gathering f's datagrams now, if any. */
static struct dtls_col *
dtls_collector(struct flow *f)
{
	struct dtls_srv	*srv = f->service->tr_priv;
	struct dtls_peer *p = f->in.tr_priv;

	if (srv == NULL || srv->col == NULL || srv->col->f != f ||
	    p == NULL || p->state != DP_RELAY)
		return (NULL);
	return (srv->col);
}

/* Pass on what the collector holds.  -1: the flow is gone. */
static int
dtls_col_flush(struct dtls_col *col)
{
	int	n = col->n;

	col->n = 0;
	if (n == 0 || col->f == NULL || (col->f->flags & FLOW_F_CLOSING))
		return (0);
	return (flow_dgram_in(col->f, col->d, n));
}

/* One application record from the client.  -1: the flow is gone. */
static int
dtls_peer_record(struct flow *f, u_char *buf, size_t len)
{
	struct dtls_peer	*p = f->in.tr_priv;
	struct dtls_col		*col;
	struct dgram		 d;
	const char		*errstr = NULL;
	enum sh_status		 st;
	size_t			 used;

	if (p->state == DP_HEADER) {
		/* pion reads the header whole: a longer record fails. */
		if (len > SH_SIZE - p->rd.have) {
			flow_log(f, LOG_LVL_WARN, "bad tunnel header: a %zu-byte "
			    "record where %zu header bytes were due", len,
			    SH_SIZE - p->rd.have);
			flow_close(f, "header");
			return (-1);
		}
		st = sh_reader_feed(&p->rd, buf, len, &used, &p->hdr, &errstr);
		if (st == SH_MORE)
			return (0);
		if (st == SH_ERROR) {
			flow_log(f, LOG_LVL_WARN, "bad tunnel header: %s",
			    errstr);
			flow_close(f, "header");
			return (-1);
		}
		if (f->in.ev != NULL)
			evtimer_del(f->in.ev);
		if (sh_is_health(&p->hdr)) {
			flow_log(f, LOG_LVL_INFO, "health check received");
			flow_close(f, "health");
			return (-1);
		}
		flow_log(f, LOG_LVL_DEBUG, "tunnel request host=%s port=%u",
		    p->hdr.host, p->hdr.portnum);
		/* Datagrams that follow wait in the flow's queue. */
		p->state = DP_ROUTE;
		f->in.flags |= HALF_READY;
		flow_resolve(f, p->hdr.host, p->hdr.portnum, SOCK_DGRAM,
		    dtls_peer_routed);
		return ((f->flags & FLOW_F_CLOSING) ? -1 : 0);
	}
	if ((col = dtls_collector(f)) != NULL && col->obuf == buf) {
		/* It stays where it was decrypted until the batch goes. */
		if (col->n == FG_BATCH && dtls_col_flush(col) == -1)
			return (-1);
		col->d[col->n].buf = buf;
		col->d[col->n++].len = len;
		col->obuf += len;
		col->ocap -= len;
		return (0);
	}
	d.buf = buf;
	d.len = len;
	return (flow_dgram_in(f, &d, 1));
}

/* Read every record the current datagram holds.  -1: the flow is gone. */
static int
dtls_peer_drain(struct flow *f)
{
	struct half	*h = &f->in;
	struct dtls_col	*col;
	u_char		*buf;
	size_t		 cap;
	int		 n;

	for (;;) {
		if ((col = dtls_collector(f)) != NULL && col->obuf != NULL) {
			buf = col->obuf;
			cap = col->ocap;
		} else {
			buf = f->worker->xbuf;
			cap = FG_MAX_DGRAM;
		}
		tls_clear_errors();
		if ((n = SSL_read(h->ssl, buf, (int)cap)) > 0) {
			if (dtls_peer_record(f, buf, (size_t)n) == -1)
				return (-1);
			continue;
		}
		switch (SSL_get_error(h->ssl, n)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			return (0);
		}
		/* What came before the end goes first. */
		if (col != NULL && dtls_col_flush(col) == -1)
			return (-1);
		switch (SSL_get_error(h->ssl, n)) {
		case SSL_ERROR_ZERO_RETURN:
			flow_close(f, "closed");
			return (-1);
		default:
			tls_log_errors(LOG_LVL_INFO, "dtls read failed "
			    "service=%s flow=%llu", f->service->conf->name,
			    (unsigned long long)f->id);
			flow_close(f, "tls");
			return (-1);
		}
	}
}

static int
dtls_peer_handshake(struct flow *f)
{
	struct half	*h = &f->in;
	struct dtls_peer *p = h->tr_priv;
	char		 reason[256];
	int		 r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(h->ssl)) != 1) {
		switch (SSL_get_error(h->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			dtls_timer_arm(h, h->ssl);
			return (0);
		default:
			flow_log(f, LOG_LVL_WARN, "dtls handshake failed: "
			    "openssl=\"%s\"", tls_error_reason(reason,
			    sizeof(reason)));
			flow_close(f, "tls");
			return (-1);
		}
	}
	dtls_timer_arm(h, NULL);
	/* pion requires the extended master secret; OpenSSL has no knob. */
	if (SSL_get_extms_support(h->ssl) != 1) {
		flow_log(f, LOG_LVL_WARN, "dtls peer without extended master "
		    "secret");
		flow_close(f, "tls");
		return (-1);
	}
	flow_log(f, LOG_LVL_DEBUG, "dtls established cipher=%s",
	    SSL_get_cipher_name(h->ssl));
	p->state = DP_HEADER;
	dtls_deadline(h, f->service->conf->header_timeout);
	return (0);
}

static void
dtls_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half		*h = arg;
	struct dtls_peer	*p = h->tr_priv;

	flow_log(h->flow, LOG_LVL_INFO, "%s not done in time",
	    p->state == DP_HANDSHAKE ? "dtls handshake" : "tunnel header");
	flow_close(h->flow, "timeout");
}

/*
 * Make a session for a verified ClientHello that sits in ssl: a flow
 * keyed by the client's address owns it from here.  NULL with errno
 * EPERM when a limit refused it, ENOMEM when memory ran out.
 */
static struct flow *
dtls_peer_new(struct service *svc, SSL *ssl, const struct sockaddr *from,
    socklen_t fromlen, int quiet)
{
	struct flow		*f;
	struct dtls_peer	*p;
	BIO			*b;
	int			 e;

	if ((f = flow_new(svc, FLOW_DGRAM, from, fromlen, FLOW_NEW_HASHED |
	    (quiet ? FLOW_NEW_QUIET : 0))) == NULL) {
		e = errno;
		SSL_free(ssl);
		errno = e;
		return (NULL);
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		SSL_free(ssl);
		flow_close(f, "error");
		errno = ENOMEM;
		return (NULL);
	}
	f->in.tr_priv = p;
	f->in.ssl = ssl;
	p->io.fd = svc->listen_fd;
	memcpy(&p->io.peer, from, fromlen);
	p->io.peerlen = fromlen;
	sh_reader_init(&p->rd);
	if ((b = dtls_bio_new(&p->io)) == NULL) {
		flow_close(f, "error");
		errno = ENOMEM;
		return (NULL);
	}
	SSL_set_bio(ssl, b, b);		/* frees the listener's BIO */
	SSL_set_mtu(ssl, DTLS_MTU);
	f->in.tev = evtimer_new(svc->worker->base, dtls_timer_cb, &f->in);
	f->in.ev = evtimer_new(svc->worker->base, dtls_deadline_cb, &f->in);
	if (f->in.tev == NULL || f->in.ev == NULL) {
		flow_close(f, "error");
		errno = ENOMEM;
		return (NULL);
	}
	dtls_deadline(&f->in, svc->conf->handshake_timeout);
	return (f);
}

/* A fresh listener for the next unknown address. */
static int
dtls_listener_renew(struct service *svc)
{
	struct dtls_srv	*srv = svc->tr_priv;

	srv->listener = dtls_ssl_new(svc, &srv->lio);
	return (srv->listener != NULL ? 0 : -1);
}

/*
 * Run a datagram from an address without a session (or a restarting
 * client) through the stateless cookie exchange.  Returns the listener
 * SSL, now holding a verified ClientHello, or NULL.
 */
static SSL *
dtls_listen(struct service *svc, const u_char *buf, size_t len,
    const struct sockaddr *from, socklen_t fromlen)
{
	struct dtls_srv	*srv = svc->tr_priv;
	BIO_ADDR	*addr;
	SSL		*ssl;
	int		 r;

	/* After a reload the service may carry a new context. */
	if (srv->listener != NULL &&
	    SSL_get_SSL_CTX(srv->listener) != svc->conf->tls_ctx) {
		SSL_free(srv->listener);
		srv->listener = NULL;
	}
	if (srv->listener == NULL && dtls_listener_renew(svc) == -1)
		return (NULL);
	srv->lio.fd = svc->listen_fd;
	memcpy(&srv->lio.peer, from, fromlen);
	srv->lio.peerlen = fromlen;
	srv->lio.in = buf;
	srv->lio.inlen = len;
	if ((addr = BIO_ADDR_new()) == NULL)
		return (NULL);
	ERR_clear_error();
	r = DTLSv1_listen(srv->listener, addr);
	BIO_ADDR_free(addr);
	ERR_clear_error();
	if (r == 0) {
		srv->hellos++;
		return (NULL);
	}
	if (r < 0) {
		srv->junk++;
		SSL_free(srv->listener);
		srv->listener = NULL;
		return (NULL);
	}
	/* The hello is buffered in this SSL: it is the peer's now. */
	ssl = srv->listener;
	srv->listener = NULL;
	(void)dtls_listener_renew(svc);
	return (ssl);
}

/*
 * An epoch-0 ClientHello that is not a late retransmit of the hello that
 * made this session.
 */
static int
dtls_is_new_hello(SSL *ssl, const u_char *d, size_t len)
{
	const uint8_t	*hello;
	u_char		 random[SSL3_RANDOM_SIZE];

	if (!dtls_peek_client_hello(d, len, &hello))
		return (0);
	if (SSL_get_client_random(ssl, random, sizeof(random)) !=
	    sizeof(random))
		return (1);
	return (memcmp(hello, random, sizeof(random)) != 0);
}

/* The restarted client finished its handshake: it replaces the old one. */
static void
dtls_peer_promote(struct flow *old)
{
	struct service		*svc = old->service;
	struct dtls_peer	*p = old->in.tr_priv, *np;
	struct sockaddr_storage	 from;
	socklen_t		 fromlen = old->peerlen;
	struct flow		*f;
	SSL			*ssl = p->pending;
	struct dtls_io		*pio = p->pio;

	p->pending = NULL;
	p->pio = NULL;
	memcpy(&from, &old->peer, fromlen);
	flow_log(old, LOG_LVL_INFO, "client restarted its dtls session");
	flow_close(old, "replaced");
	f = dtls_peer_new(svc, ssl, (struct sockaddr *)&from, fromlen, 0);
	free(pio);
	if (f == NULL)
		return;
	np = f->in.tr_priv;
	np->state = DP_HEADER;
	dtls_deadline(&f->in, svc->conf->header_timeout);
	/* The handshake is done; the header is due. */
	(void)dtls_peer_drain(f);
}

/* Datagrams of a restart in progress go to the pending SSL. */
static void
dtls_pending_input(struct flow *f, const u_char *buf, size_t len)
{
	struct dtls_peer	*p = f->in.tr_priv;
	int			 r;

	p->pio->in = buf;
	p->pio->inlen = len;
	ERR_clear_error();
	if ((r = SSL_do_handshake(p->pending)) == 1) {
		if (SSL_get_extms_support(p->pending) == 1) {
			dtls_peer_promote(f);
			return;
		}
		r = -1;
	}
	if (r != 1 && SSL_get_error(p->pending, r) != SSL_ERROR_WANT_READ &&
	    SSL_get_error(p->pending, r) != SSL_ERROR_WANT_WRITE) {
		ERR_clear_error();
		dtls_pending_drop(p);
		dtls_timer_arm(&f->in, f->in.ssl);
		return;
	}
	dtls_timer_arm(&f->in, p->pending);
}

/* A datagram for a known peer.  -1: the flow is gone. */
static int
dtls_peer_input(struct flow *f, const u_char *buf, size_t len)
{
	struct dtls_peer	*p = f->in.tr_priv;
	struct dtls_srv		*srv = f->service->tr_priv;
	SSL			*ssl;
	BIO			*b;
	int			 hello;

	hello = p->state != DP_HANDSHAKE &&
	    dtls_is_new_hello(f->in.ssl, buf, len);
	/* Anything but a record of a relaying session: in order, alone. */
	if (srv->col != NULL && srv->col->f == f && (p->pending != NULL ||
	    p->state != DP_RELAY || hello)) {
		srv->col->obuf = NULL;
		if (dtls_col_flush(srv->col) == -1)
			return (-1);
	}
	if (p->pending != NULL) {
		if (now_ms() < p->pending_deadline) {
			dtls_pending_input(f, buf, len);
			return (0);
		}
		dtls_pending_drop(p);
	}
	if (hello) {
		ssl = dtls_listen(f->service, buf, len,
		    (struct sockaddr *)&f->peer, f->peerlen);
		if (ssl == NULL)
			return (0);
		if ((p->pio = calloc(1, sizeof(*p->pio))) == NULL ||
		    (b = dtls_bio_new(p->pio)) == NULL) {
			free(p->pio);
			p->pio = NULL;
			SSL_free(ssl);
			return (0);
		}
		*p->pio = p->io;
		p->pio->in = NULL;
		SSL_set_bio(ssl, b, b);
		SSL_set_mtu(ssl, DTLS_MTU);
		p->pending = ssl;
		p->pending_deadline = now_ms() +
		    f->service->conf->handshake_timeout;
		dtls_pending_input(f, NULL, 0);
		return (0);
	}
	p->io.in = buf;
	p->io.inlen = len;
	if (p->state == DP_HANDSHAKE) {
		if (dtls_peer_handshake(f) == -1)
			return (-1);
		if (p->state == DP_HANDSHAKE)
			return (0);
	}
	return (dtls_peer_drain(f));
}

/*
 * Whether the ClientHello with this random, from this address, was
 * refused before; if not and note is set, remember it as refused now.
 */
static int
dtls_refused(struct dtls_srv *srv, const uint8_t *random,
    const struct sockaddr *from, int note)
{
	struct dtls_refusal	*r;
	int			 i;

	for (i = 0; i < DTLS_REFUSALS; i++) {
		r = &srv->refused[i];
		if (addr_cmp((struct sockaddr *)&r->addr, from) == 0 &&
		    memcmp(r->random, random, sizeof(r->random)) == 0)
			return (1);
	}
	if (note) {
		r = &srv->refused[srv->refused_next];
		srv->refused_next = (srv->refused_next + 1) % DTLS_REFUSALS;
		memset(&r->addr, 0, sizeof(r->addr));
		memcpy(&r->addr, from, from->sa_family == AF_INET6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
		memcpy(r->random, random, sizeof(r->random));
	}
	return (0);
}

/*
 * One datagram from a client: to its session, or to the listener when it
 * has none.  A session's records decrypt in place, from buf on, with room
 * up to the end of the slot (cap) so that no record is ever cut short.
 * OpenSSL has copied the datagram by then, and what SSL_read returns is
 * the plaintext of this datagram's own records (renegotiation is off, and
 * OpenSSL holds back only handshake records), each shorter than its
 * record: it never reaches a later datagram of the same run (udp_gro)
 * that is not read yet.
 */
static void
dtls_listen_dgram(struct service *svc, struct dtls_col *col, u_char *buf,
    size_t len, size_t cap, struct sockaddr *from, socklen_t fromlen)
{
	struct dtls_srv	*srv = svc->tr_priv;
	struct flow	*f;
	SSL		*ssl;
	const uint8_t	*hello;
	u_char		 random[SSL3_RANDOM_SIZE];
	int		 again;

	f = flow_lookup(svc->worker, svc, from);
	if (f != col->f) {
		(void)dtls_col_flush(col);
		col->f = f;
	}
	if (f != NULL) {
		col->obuf = buf;
		col->ocap = cap;
		(void)dtls_peer_input(f, buf, len);
		col->obuf = NULL;
		return;
	}
	/* Its random, read before OpenSSL takes the datagram. */
	if (!dtls_peek_client_hello(buf, len, &hello))
		hello = NULL;
	else
		memcpy(random, hello, sizeof(random));
	if ((ssl = dtls_listen(svc, buf, len, from, fromlen)) == NULL)
		return;
	again = hello != NULL && dtls_refused(srv, random, from, 0);
	if ((f = dtls_peer_new(svc, ssl, from, fromlen, again)) != NULL)
		(void)dtls_peer_input(f, NULL, 0);
	else if (hello != NULL && !again && errno == EPERM)
		(void)dtls_refused(srv, random, from, 1);
}

static void
dtls_listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct service		*svc = arg;
	struct dtls_srv		*srv = svc->tr_priv;
	struct udp_rx		 rx;
	struct dtls_col		 col;
	struct dgram		 dg;
	size_t			 off;
	int			 got, i, n;

	col.f = NULL;
	col.n = 0;
	srv->col = &col;
	for (got = 0; got < FG_RX_BUDGET; got += rx.ndgrams) {
		n = udp_recvv(svc, fd, &rx, 1);
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_warn("service=%s recvmmsg", svc->conf->name);
			break;
		}
		for (i = 0; i < n; i++) {
			/* Each datagram of a run handed over whole (udp_gro). */
			for (off = 0; udp_rx_next(&rx, i, &off, &dg);) {
				dtls_listen_dgram(svc, &col, dg.buf, dg.len,
				    udp_rx_room(&rx, i, &dg),
				    (struct sockaddr *)&rx.from[i],
				    rx.msgs[i].msg_hdr.msg_namelen);
			}
		}
		/* The slots are reused by the next read. */
		(void)dtls_col_flush(&col);
		if (n < FG_BATCH)
			break;
	}
	srv->col = NULL;
}

static int
dtls_listen_start(struct service *svc, int fd)
{
	struct dtls_srv	*srv;

	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return (-1);
	svc->tr_priv = srv;
	svc->listen_fd = fd;
	if (dtls_listener_renew(svc) == -1)
		return (-1);
	svc->listen_ev = event_new(svc->worker->base, fd, EV_READ | EV_PERSIST,
	    dtls_listen_cb, svc);
	if (svc->listen_ev == NULL || event_add(svc->listen_ev, NULL) == -1)
		return (-1);
	return (0);
}

/* The sessions live on the listening socket: they end with it. */
static void
dtls_listen_stop(struct service *svc)
{
	struct dtls_srv	*srv = svc->tr_priv;
	struct flow	*f;

	if (svc->listen_ev != NULL) {
		event_free(svc->listen_ev);
		svc->listen_ev = NULL;
	}
	while ((f = TAILQ_FIRST(&svc->flows)) != NULL)
		flow_close(f, "shutdown");
	if (srv != NULL) {
		log_debug("%s: service=%s hellos=%llu junk=%llu", __func__,
		    svc->conf->name, (unsigned long long)srv->hellos,
		    (unsigned long long)srv->junk);
		SSL_free(srv->listener);
		free(srv);
		svc->tr_priv = NULL;
	}
	if (svc->listen_fd != -1) {
		close(svc->listen_fd);
		svc->listen_fd = -1;
	}
}

/*
 * The client side.
 */
/*
 * The server's address answered port unreachable before the handshake was
 * done: when the name has further addresses (AAAA and A, a service on only
 * one of them), start over at the next one, as tcp's connect does.
 * Returns 1 when the flow went on (or was closed here), 0 to fail it.
 */
static int
dtls_client_next(struct flow *f)
{
	struct half		*h = &f->out;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;

	if ((h->flags & HALF_READY) ||
	    (h->ssl != NULL && SSL_is_init_finished(h->ssl)) ||
	    half_next_address(h, 1, &ss, &sl) == -1)
		return (0);
	if (dtls_client_connect(h, (struct sockaddr *)&ss, sl) == -1 &&
	    !(f->flags & FLOW_F_CLOSING)) {
		f->err = errno;
		flow_close(f, errno == ECONNREFUSED ? "refused" : "error");
	}
	return (1);
}

static void
dtls_client_fail(struct flow *f, const char *what)
{
	char	reason[256];

	if (ERR_peek_error() == 0 && errno == ECONNREFUSED &&
	    dtls_client_next(f))
		return;
	tls_error_reason(reason, sizeof(reason));
	if (reason[0] != '\0')
		flow_log(f, LOG_LVL_WARN, "dtls %s failed: openssl=\"%s\"",
		    what, reason);
	else {
		f->err = errno;
		flow_log(f, LOG_LVL_INFO, "dtls %s failed", what);
	}
	flow_close(f, f->err == ECONNREFUSED ? "refused" : "tls");
}

static void
dtls_client_step(struct half *h)
{
	struct flow		*f = h->flow;
	const struct service_conf *sc = f->service->conf;
	struct dtls_io		*io = h->tr_priv;
	uint8_t			 hdr[SH_SIZE];
	const char		*errstr = NULL;
	char			 port[8];
	int			 r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_do_handshake(h->ssl)) != 1) {
		switch (SSL_get_error(h->ssl, r)) {
		case SSL_ERROR_WANT_READ:
		case SSL_ERROR_WANT_WRITE:
			if (io->err != 0) {
				/* A send met the server port's ICMP error. */
				errno = io->err;
				dtls_client_fail(f, "handshake");
				return;
			}
			dtls_timer_arm(h, h->ssl);
			return;
		default:
			dtls_client_fail(f, "handshake");
			return;
		}
	}
	dtls_timer_arm(h, NULL);
	if (h->wev != NULL)
		evtimer_del(h->wev);
	if (SSL_get_extms_support(h->ssl) != 1) {
		flow_log(f, LOG_LVL_WARN, "dtls server without extended master "
		    "secret");
		flow_close(f, "tls");
		return;
	}
	snprintf(port, sizeof(port), "%u", sc->destination.port);
	if (sh_build(sc->destination.host, port, 0, hdr, &errstr) == -1) {
		flow_log(f, LOG_LVL_WARN, "cannot build header: %s", errstr);
		flow_close(f, "error");
		return;
	}
	/* The header alone in the first record, as pion reads it. */
	ERR_clear_error();
	if (SSL_write(h->ssl, hdr, sizeof(hdr)) != (int)sizeof(hdr)) {
		dtls_client_fail(f, "header write");
		return;
	}
	half_ready(h);
}

/*
 * One datagram from the server: a handshake step, or records decrypted in
 * place (as in dtls_listen_dgram, with room up to cap) into d[], which is
 * passed on whenever it is full.  -1: stop reading, the flow has closed
 * or moved on to its next address.
 */
static int
dtls_client_dgram(struct half *h, u_char *buf, size_t len, size_t cap,
    struct dgram *d, int *nd)
{
	struct flow	*f = h->flow;
	struct dtls_io	*io = h->tr_priv;
	size_t		 used;
	int		 r, alt;

	io->in = buf;
	io->inlen = len;
	if (!(h->flags & HALF_READY)) {
		alt = f->ialt;
		dtls_client_step(h);
		/* Closed, or gone on to the next address. */
		if ((f->flags & FLOW_F_CLOSING) || f->ialt != alt)
			return (-1);
		return (0);
	}
	for (used = 0;;) {
		if (*nd == FG_BATCH) {
			if (flow_dgram_out(f, d, *nd) == -1)
				return (-1);
			*nd = 0;
		}
		tls_clear_errors();
		errno = 0;
		r = SSL_read(h->ssl, buf + used, (int)(cap - used));
		if (r > 0) {
			d[*nd].buf = buf + used;
			d[(*nd)++].len = (size_t)r;
			used += (size_t)r;
			continue;
		}
		r = SSL_get_error(h->ssl, r);
		if (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE)
			break;
		/* What came before the end goes first. */
		if (*nd > 0 && flow_dgram_out(f, d, *nd) == -1)
			return (-1);
		if (r == SSL_ERROR_ZERO_RETURN)
			flow_close(f, "closed");
		else
			dtls_client_fail(f, "read");
		return (-1);
	}
	io->in = NULL;
	return (0);
}

/*
 * The client's socket: up to FG_BATCH messages per read, each datagram
 * (each segment of a run handed over whole, udp_gro) decrypted in place of
 * its record, passed on together.
 */
static void
dtls_client_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;
	struct flow	*f = h->flow;
	struct udp_rx	 rx;
	struct dgram	 d[FG_BATCH], dg;
	size_t		 off;
	int		 got, i, n, nd;

	for (got = 0; got < FG_RX_BUDGET; got += rx.ndgrams) {
		n = udp_recvv(f->service, fd, &rx, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			/* An ICMP error: the server is not there (any more). */
			ERR_clear_error();
			dtls_client_fail(f, "read");
			return;
		}
		for (i = 0, nd = 0; i < n; i++) {
			for (off = 0; udp_rx_next(&rx, i, &off, &dg);) {
				if (dtls_client_dgram(h, dg.buf, dg.len,
				    udp_rx_room(&rx, i, &dg), d, &nd) == -1)
					return;
			}
		}
		if (nd > 0 && flow_dgram_out(f, d, nd) == -1)
			return;
		if (n < FG_BATCH)
			return;
	}
}

static void
dtls_client_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;

	flow_log(h->flow, LOG_LVL_INFO, "dtls handshake not done in time");
	flow_close(h->flow, "timeout");
}

static int
dtls_client_connect(struct half *h, const struct sockaddr *sa,
    socklen_t len)
{
	struct flow	*f = h->flow;
	struct service	*svc = f->service;
	struct dtls_io	*io;
	struct timeval	 tv;
	BIO		*b;
	uint64_t	 ms = svc->conf->handshake_timeout;

	/* A fresh source port per session: no one accepts a restart. */
	h->fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (h->fd == -1 || connect(h->fd, sa, len) == -1)
		return (-1);
	udp_gro(h->fd);
	if (sa != (const struct sockaddr *)&f->dst)
		memcpy(&f->dst, sa, len);
	f->dstlen = len;
	/* The same BIO as the server's, over this connected socket. */
	if (h->tr_priv == NULL && (h->tr_priv = calloc(1, sizeof(*io))) == NULL)
		return (-1);
	io = h->tr_priv;
	memset(io, 0, sizeof(*io));
	io->fd = h->fd;
	memcpy(&io->peer, sa, len);
	io->peerlen = len;
	if ((h->ssl = tls_client_new(svc->conf)) == NULL ||
	    (b = dtls_bio_new(io)) == NULL)
		return (-1);
	SSL_set_bio(h->ssl, b, b);
	SSL_set_mtu(h->ssl, DTLS_MTU);
	SSL_set_connect_state(h->ssl);
	h->ev = event_new(f->worker->base, h->fd, EV_READ | EV_PERSIST,
	    dtls_client_read_cb, h);
	h->tev = evtimer_new(f->worker->base, dtls_timer_cb, h);
	h->wev = evtimer_new(f->worker->base, dtls_client_deadline_cb, h);
	if (h->ev == NULL || h->tev == NULL || h->wev == NULL ||
	    event_add(h->ev, NULL) == -1)
		return (-1);
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	evtimer_add(h->wev, &tv);
	dtls_client_step(h);
	return (0);
}

static int
dtls_open(struct half *h)
{
	return (half_dial(h, SOCK_DGRAM, dtls_client_connect));
}

/*
 * Datagrams out: one record each.  Bigger than the service allows (pion
 * reads at most 8155 bytes of payload) is dropped and counted.
 */
static int
dtls_dgram_send(struct half *h, struct dgram *d, int n)
{
	struct flow		*f = h->flow;
	uint64_t		 max = f->service->conf->max_datagram;
	struct dtls_io		*io;
	struct dtls_batch	 bt;
	int			 i, r;

	if (h->ssl == NULL || !SSL_is_init_finished(h->ssl)) {
		f->drops += (uint64_t)n;
		return (0);
	}
	io = BIO_get_data(SSL_get_wbio(h->ssl));
	bt.buf = f->worker->sbuf;
	bt.used = 0;
	bt.n = 0;
	bt.lost = 0;
	io->batch = &bt;
	for (i = 0; i < n; i++) {
		if (d[i].len > max || d[i].len == 0) {
			f->drops++;
			continue;
		}
		tls_clear_errors();
		errno = 0;
		if ((r = SSL_write(h->ssl, d[i].buf, (int)d[i].len)) > 0)
			continue;
		if (SSL_get_error(h->ssl, r) == SSL_ERROR_WANT_WRITE) {
			f->drops++;
			continue;
		}
		dtls_batch_flush(io);
		io->batch = NULL;
		if (h == &f->out)
			dtls_client_fail(f, "write");
		else {
			tls_log_errors(LOG_LVL_INFO, "dtls write failed "
			    "service=%s flow=%llu", f->service->conf->name,
			    (unsigned long long)f->id);
			flow_close(f, "tls");
		}
		return (-1);
	}
	dtls_batch_flush(io);
	io->batch = NULL;
	f->drops += bt.lost;
	if (io->err != 0 && h == &f->out) {
		/* The server's port said no: the session is gone. */
		ERR_clear_error();
		errno = io->err;
		dtls_client_fail(f, "write");
		return (-1);
	}
	return (0);
}

/*
 * The peer BIO points into tr_priv, so the session ends here: close_notify
 * out through it, then free both.
 */
static void
dtls_close(struct half *h)
{
	struct dtls_peer	*p = h->tr_priv;

	if (h->ssl != NULL) {
		if (SSL_is_init_finished(h->ssl) &&
		    !(SSL_get_shutdown(h->ssl) & SSL_SENT_SHUTDOWN))
			(void)SSL_shutdown(h->ssl);
		ERR_clear_error();
		SSL_free(h->ssl);
		h->ssl = NULL;
	}
	if (p != NULL && h == &h->flow->in) {
		if (p->pending != NULL)
			SSL_free(p->pending);
		free(p->pio);
		free(p);
	} else
		free(h->tr_priv);	/* a client's struct dtls_io */
	h->tr_priv = NULL;
}

static int
dtls_check(const struct service_conf *sc, int as_listen, const char **errstr)
{
	if (transport_check_hostport(sc, as_listen, errstr) == -1)
		return (-1);
	if (as_listen && sc->has_forward) {
		*errstr = "a dtls listener takes each destination from the "
		    "tunnel header; use allow, not forward";
		return (-1);
	}
	return (0);
}

const struct transport_ops dtls_transport = {
	.name = "dtls",
	.flags = TR_DGRAM | TR_LISTEN | TR_FORWARD | TR_NEED_PORT | TR_TLS |
	    TR_TUNNEL,
	.idle_default = 5 * 60 * 1000,
	.egress = "udp",
	.check = dtls_check,
	.listen_open = udp_listen_socket,
	.listen_start = dtls_listen_start,
	.listen_stop = dtls_listen_stop,
	.open = dtls_open,
	.dgram_send = dtls_dgram_send,
	.close = dtls_close,
};
