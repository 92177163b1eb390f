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
 * tls-stream: GoDoxy's agent stream, TCP over TLS.  As a listener (the
 * agent side) each TLS connection that negotiates ALPN
 * godoxy-agent-stream/1 sends the 275-byte request header, which names the
 * destination; a health-check header is answered with close_notify.  Other
 * ALPN results go to the service's fallback, if it has one.  As egress
 * (the GoDoxy server side) it connects, checks the server against the CA
 * and verify name, offers only the stream protocol and writes the header
 * for the service's destination.  The relay is the core's; TLS half-close
 * is a close_notify.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "flowgate.h"
#include "proto/stream_header.h"

/* The server side of one tunnel, until its destination is connected. */
struct tls_in {
	struct sh_reader	 rd;
	struct stream_header	 hdr;
	int			 state;
#define TS_HANDSHAKE	0	/* TLS handshake running */
#define TS_HEADER	1	/* reading the 275-byte header */
#define TS_ROUTE	2	/* resolving and connecting the egress */
	int			 check_allow;	/* header destination, not fallback */
};

static void
tls_set_timeout(struct bufferevent *bev, uint64_t ms)
{
	struct timeval	tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	bufferevent_set_timeouts(bev, &tv, &tv);
}

static SSL *
tls_ssl(struct half *h)
{
	return (h->bev != NULL ? bufferevent_openssl_get_ssl(h->bev) : NULL);
}

/* Why a TLS bufferevent failed, logged with OpenSSL's queue. */
static void
tls_fail(struct half *h, short what, const char *phase)
{
	struct flow	*f = h->flow;
	unsigned long	 e;
	char		 errs[512];
	int		 sockerr = EVUTIL_SOCKET_ERROR();

	errs[0] = '\0';
	while ((e = bufferevent_get_openssl_error(h->bev)) != 0) {
		/* Library 0 or SYS: an errno in disguise; the socket says. */
		if (errs[0] == '\0' && ERR_GET_LIB(e) != ERR_LIB_SYS &&
		    ERR_GET_LIB(e) != 0)
			ERR_error_string_n(e, errs, sizeof(errs));
	}
	if (what & BEV_EVENT_TIMEOUT) {
		flow_log(f, LOG_LVL_INFO, "%s timed out", phase);
		flow_close(f, "timeout");
	} else if (what & BEV_EVENT_EOF) {
		flow_log(f, LOG_LVL_INFO, "peer closed during %s", phase);
		flow_close(f, "closed");
	} else if (errs[0] != '\0') {
		flow_log(f, LOG_LVL_WARN, "%s failed: openssl=\"%s\"", phase,
		    errs);
		flow_close(f, "tls");
	} else {
		f->err = sockerr;
		flow_close(f, sockerr == ECONNREFUSED ? "refused" : "error");
	}
}

/*
 * Ingress.
 */
static void
tls_in_routed(struct flow *f, const struct sockaddr *sa, socklen_t len,
    int err)
{
	struct tls_in	*ts = f->in.tr_priv;
	char		 a[ADDRSTRLEN];

	if (sa == NULL) {
		flow_log(f, LOG_LVL_WARN, "cannot resolve %s: %s",
		    ts->check_allow ? ts->hdr.host :
		    f->service->conf->fallback.host, evutil_gai_strerror(err));
		flow_close(f, "unresolved");
		return;
	}
	memcpy(&f->dst, sa, len);
	f->dstlen = len;
	if (ts->check_allow && !service_allows(f->service->conf, sa)) {
		flow_log(f, LOG_LVL_WARN, "destination not allowed dst=%s "
		    "host=%s", addr_str(sa, a, sizeof(a)), ts->hdr.host);
		flow_close(f, "denied");
		return;
	}
	half_ready(&f->in);
	flow_open(f);
}

static void
tls_in_header(struct half *h)
{
	struct flow	*f = h->flow;
	struct tls_in	*ts = h->tr_priv;
	struct evbuffer	*in = bufferevent_get_input(h->bev);
	enum sh_status	 st = SH_MORE;
	const char	*errstr = NULL;
	size_t		 len, used;
	u_char		*p;

	while (ts->state == TS_HEADER && (len = evbuffer_get_length(in)) > 0) {
		if (len > SH_SIZE - ts->rd.have)
			len = SH_SIZE - ts->rd.have;
		if ((p = evbuffer_pullup(in, (ssize_t)len)) == NULL) {
			flow_close(f, "error");
			return;
		}
		st = sh_reader_feed(&ts->rd, p, len, &used, &ts->hdr, &errstr);
		evbuffer_drain(in, used);
		if (st != SH_MORE)
			break;
	}
	if (st == SH_MORE)
		return;
	if (st == SH_ERROR) {
		flow_log(f, LOG_LVL_WARN, "bad tunnel header: %s", errstr);
		flow_close(f, "header");
		return;
	}
	/* Payload after the header waits in the buffer for the relay. */
	ts->state = TS_ROUTE;
	bufferevent_disable(h->bev, EV_READ);
	bufferevent_set_timeouts(h->bev, NULL, NULL);
	if (sh_is_health(&ts->hdr)) {
		flow_log(f, LOG_LVL_INFO, "health check received");
		flow_close(f, "health");
		return;
	}
	flow_log(f, LOG_LVL_DEBUG, "tunnel request host=%s port=%u",
	    ts->hdr.host, ts->hdr.portnum);
	ts->check_allow = 1;
	flow_resolve(f, ts->hdr.host, ts->hdr.portnum, SOCK_STREAM,
	    tls_in_routed);
}

static void
tls_in_read_cb(struct bufferevent *bev, void *arg)
{
	struct half	*h = arg;
	struct tls_in	*ts = h->tr_priv;

	if (ts->state == TS_HEADER)
		tls_in_header(h);
}

static void
tls_in_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct half		*h = arg;
	struct flow		*f = h->flow;
	struct tls_in		*ts = h->tr_priv;
	const struct service_conf *sc = f->service->conf;
	SSL			*ssl = tls_ssl(h);

	if (!(what & BEV_EVENT_CONNECTED)) {
		tls_fail(h, what, ts->state == TS_HANDSHAKE ? "handshake" :
		    "header");
		return;
	}
	flow_log(f, LOG_LVL_DEBUG, "tls established version=%s cipher=%s",
	    SSL_get_version(ssl), SSL_get_cipher_name(ssl));
	if (tls_alpn_is_stream(ssl)) {
		ts->state = TS_HEADER;
		tls_set_timeout(bev, sc->header_timeout);
		tls_in_header(h);
		return;
	}
	if (!sc->has_fallback) {
		flow_log(f, LOG_LVL_INFO, "no %s ALPN and no fallback",
		    tls_alpn_any(ssl) ? "stream" : "usable");
		flow_close(f, "alpn");
		return;
	}
	ts->state = TS_ROUTE;
	bufferevent_disable(bev, EV_READ);
	bufferevent_set_timeouts(bev, NULL, NULL);
	flow_resolve(f, sc->fallback.host, sc->fallback.port, SOCK_STREAM,
	    tls_in_routed);
}

static void
tls_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct service	*svc = arg;
	struct flow	*f;
	struct tls_in	*ts;
	SSL		*ssl;

	if ((f = flow_new(svc, FLOW_STREAM, sa, (socklen_t)salen, 0)) == NULL) {
		close(fd);
		return;
	}
	tcp_nodelay(fd);
	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (ssl = SSL_new(svc->conf->tls_ctx)) == NULL) {
		free(ts);
		close(fd);
		tls_log_errors(LOG_LVL_WARN, "service=%s cannot make a TLS "
		    "session", svc->conf->name);
		flow_close(f, "error");
		return;
	}
	sh_reader_init(&ts->rd);
	f->in.tr_priv = ts;
	f->in.bev = bufferevent_openssl_socket_new(svc->worker->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (f->in.bev == NULL) {
		SSL_free(ssl);
		close(fd);
		flow_close(f, "error");
		return;
	}
	/* A peer that drops TCP without close_notify has still ended. */
	bufferevent_openssl_set_allow_dirty_shutdown(f->in.bev, 1);
	bufferevent_setcb(f->in.bev, tls_in_read_cb, NULL, tls_in_event_cb,
	    &f->in);
	tls_set_timeout(f->in.bev, svc->conf->handshake_timeout);
	bufferevent_setwatermark(f->in.bev, EV_READ, 0, svc->conf->buffer);
	bufferevent_enable(f->in.bev, EV_READ | EV_WRITE);
}

static int
tls_listen_start(struct service *svc, int fd)
{
	svc->listen_fd = fd;
	svc->listener = evconnlistener_new(svc->worker->base, tls_accept_cb,
	    svc, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (svc->listener == NULL)
		return (-1);
	evconnlistener_set_error_cb(svc->listener, tcp_accept_error_cb);
	return (0);
}

/*
 * Egress.
 */
static void
tls_out_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct half		*h = arg;
	struct flow		*f = h->flow;
	const struct service_conf *sc = f->service->conf;
	SSL			*ssl = tls_ssl(h);
	uint8_t			 hdr[SH_SIZE];
	const char		*errstr = NULL;
	char			 port[8];

	if (!(what & BEV_EVENT_CONNECTED)) {
		tls_fail(h, what, "connect");
		return;
	}
	if (tls_alpn_any(ssl) && !tls_alpn_is_stream(ssl)) {
		flow_log(f, LOG_LVL_WARN, "server chose another ALPN protocol");
		flow_close(f, "alpn");
		return;
	}
	f->dstlen = sizeof(f->dst);
	if (getpeername(bufferevent_getfd(bev), (struct sockaddr *)&f->dst,
	    &f->dstlen) == -1)
		f->dstlen = 0;
	tcp_nodelay(bufferevent_getfd(bev));
	snprintf(port, sizeof(port), "%u", sc->destination.port);
	if (sh_build(sc->destination.host, port, 0, hdr, &errstr) == -1) {
		flow_log(f, LOG_LVL_WARN, "cannot build header: %s", errstr);
		flow_close(f, "error");
		return;
	}
	/* The header goes first; the client's bytes follow it. */
	bufferevent_write(bev, hdr, sizeof(hdr));
	bufferevent_set_timeouts(bev, NULL, NULL);
	half_ready(h);
}

static int
tls_open(struct half *h)
{
	struct flow	*f = h->flow;
	struct service	*svc = f->service;
	SSL		*ssl;
	struct timeval	 tv;
	uint64_t	 ms = svc->conf->connect_timeout;

	if ((ssl = tls_client_new(svc->conf)) == NULL) {
		tls_log_errors(LOG_LVL_WARN, "service=%s cannot make a TLS "
		    "session", svc->conf->name);
		return (-1);
	}
	h->bev = bufferevent_openssl_socket_new(f->worker->base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (h->bev == NULL) {
		SSL_free(ssl);
		return (-1);
	}
	bufferevent_openssl_set_allow_dirty_shutdown(h->bev, 1);
	bufferevent_setcb(h->bev, NULL, NULL, tls_out_event_cb, h);
	/* One deadline for the TCP connect and the TLS handshake. */
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)((ms % 1000) * 1000);
	bufferevent_set_timeouts(h->bev, &tv, &tv);
	if (svc->fwdlen != 0) {
		memcpy(&f->dst, &svc->fwd, svc->fwdlen);
		f->dstlen = svc->fwdlen;
		return (bufferevent_socket_connect(h->bev,
		    (struct sockaddr *)&svc->fwd, (int)svc->fwdlen));
	}
	return (bufferevent_socket_connect_hostname(h->bev, f->worker->dns,
	    AF_UNSPEC, svc->conf->forward.host, svc->conf->forward.port));
}

/* TLS half-close: close_notify; the peer may still send until its own. */
static void
tls_shutdown_write(struct half *h)
{
	SSL	*ssl = tls_ssl(h);

	if (ssl != NULL && SSL_is_init_finished(ssl))
		(void)SSL_shutdown(ssl);
}

/* Every tunnel ends with close_notify once its handshake is done. */
static void
tls_close(struct half *h)
{
	SSL	*ssl = tls_ssl(h);

	if (ssl != NULL && SSL_is_init_finished(ssl) &&
	    !(SSL_get_shutdown(ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(ssl);
	ERR_clear_error();
	free(h == &h->flow->in ? h->tr_priv : NULL);
	h->tr_priv = NULL;
}

static int
tls_check(const struct service_conf *sc, int as_listen, const char **errstr)
{
	if (transport_check_hostport(sc, as_listen, errstr) == -1)
		return (-1);
	if (!as_listen)
		return (0);
	if (sc->has_forward) {
		*errstr = "a tls-stream listener takes each destination from "
		    "the tunnel header; use allow, not forward";
		return (-1);
	}
	if (sc->has_fallback && (strcmp(sc->fallback.scheme, "tcp") != 0 ||
	    sc->fallback.host[0] == '\0' || sc->fallback.port == 0 ||
	    sc->fallback.path[0] != '\0')) {
		*errstr = "fallback must be tcp://host:port";
		return (-1);
	}
	return (0);
}

const struct transport_ops tls_stream_transport = {
	.name = "tls-stream",
	.flags = TR_STREAM | TR_LISTEN | TR_FORWARD | TR_NEED_PORT | TR_TLS |
	    TR_TUNNEL,
	.idle_default = 60 * 60 * 1000,
	.egress = "tcp",
	.check = tls_check,
	.listen_open = tcp_listen_socket,
	.listen_start = tls_listen_start,
	.listen_stop = tcp_listen_close,
	.open = tls_open,
	.shutdown_write = tls_shutdown_write,
	.close = tls_close,
};
