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
 * and verify name, offers only the stream protocol and queues the header
 * for the service's destination ahead of the client's bytes.  Once set up,
 * the core relays with SSL_read/SSL_write; its half-close is close_notify.
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
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "flowgate.h"
#include "proto/stream_header.h"

/* The server side of one tunnel, until its destination is connected. */
struct tls_in {
	struct sh_reader	 rd;
	struct stream_header	 hdr;
	int			 check_allow;	/* header destination, not fallback */
};

static void
tls_fail(struct flow *f, int result, const char *phase)
{
	char	reason[256];

	if (result == TLS_HS_TIMEOUT) {
		flow_log(f, LOG_LVL_INFO, "%s timed out", phase);
		flow_close(f, "timeout");
		return;
	}
	tls_error_reason(reason, sizeof(reason));
	if (reason[0] == '\0') {
		f->err = errno;
		flow_log(f, LOG_LVL_INFO, "%s failed: connection closed",
		    phase);
		flow_close(f, "closed");
		return;
	}
	flow_log(f, LOG_LVL_WARN, "%s failed: openssl=\"%s\"", phase, reason);
	flow_close(f, "tls");
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
	if (ts->check_allow)
		flow_filter_alts(f);
	if (ts->check_allow && !service_allows(f->service->conf, sa) &&
	    flow_next_address(f, &f->dst, &f->dstlen) == -1) {
		flow_log(f, LOG_LVL_WARN, "destination not allowed dst=%s "
		    "host=%s", addr_str(sa, a, sizeof(a)), ts->hdr.host);
		flow_close(f, "denied");
		return;
	}
	half_ready(&f->in);
	flow_open(f);
}

/* The header is read straight off TLS, never a byte beyond it. */
static void
tls_in_header_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;
	struct flow	*f = h->flow;
	struct tls_in	*ts = h->tr_priv;
	enum sh_status	 st;
	const char	*errstr = NULL;
	uint8_t		 buf[SH_SIZE];
	size_t		 used;
	int		 n;

	for (;;) {
		ERR_clear_error();
		n = SSL_read(h->ssl, buf, (int)(SH_SIZE - ts->rd.have));
		if (n <= 0)
			break;
		st = sh_reader_feed(&ts->rd, buf, (size_t)n, &used, &ts->hdr,
		    &errstr);
		if (st == SH_MORE)
			continue;
		if (st == SH_ERROR) {
			flow_log(f, LOG_LVL_WARN, "bad tunnel header: %s",
			    errstr);
			flow_close(f, "header");
			return;
		}
		/* Done; payload after it stays in TLS for the relay. */
		event_del(h->ev);
		event_del(h->wev);
		evtimer_del(h->tev);
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
		return;
	}
	switch (SSL_get_error(h->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		event_del(h->wev);
		event_add(h->ev, NULL);
		return;
	case SSL_ERROR_WANT_WRITE:
		event_add(h->wev, NULL);
		return;
	case SSL_ERROR_ZERO_RETURN:
		flow_log(f, LOG_LVL_WARN, "bad tunnel header: closed after %zu "
		    "of %d bytes", ts->rd.have, SH_SIZE);
		flow_close(f, "header");
		return;
	default:
		tls_fail(f, TLS_HS_FAIL, "header read");
	}
}

static void
tls_in_header_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;
	struct tls_in	*ts = h->tr_priv;

	flow_log(h->flow, LOG_LVL_WARN, "bad tunnel header: none within %s "
	    "(%zu of %d bytes)", "header_timeout", ts->rd.have, SH_SIZE);
	flow_close(h->flow, "timeout");
}

static void
tls_in_handshake_done(struct half *h, int result)
{
	struct flow		*f = h->flow;
	const struct service_conf *sc = f->service->conf;
	struct tls_in		*ts = h->tr_priv;

	if (result != TLS_HS_OK) {
		tls_fail(f, result, "handshake");
		return;
	}
	flow_log(f, LOG_LVL_DEBUG, "tls established version=%s cipher=%s",
	    SSL_get_version(h->ssl), SSL_get_cipher_name(h->ssl));
	if (tls_alpn_is_stream(h->ssl)) {
		event_free(h->ev);
		event_free(h->wev);
		h->ev = event_new(f->worker->base, h->fd, EV_READ | EV_PERSIST,
		    tls_in_header_cb, h);
		h->wev = event_new(f->worker->base, h->fd, EV_WRITE |
		    EV_PERSIST, tls_in_header_cb, h);
		half_set_timer(h, sc->header_timeout,
		    tls_in_header_timeout_cb);
		if (h->ev == NULL || h->wev == NULL || h->tev == NULL) {
			flow_close(f, "error");
			return;
		}
		/* The header may have come with the handshake's last flight. */
		event_active(h->ev, EV_READ, 0);
		return;
	}
	if (!sc->has_fallback) {
		flow_log(f, LOG_LVL_INFO, "no %s ALPN and no fallback",
		    tls_alpn_any(h->ssl) ? "stream" : "usable");
		flow_close(f, "alpn");
		return;
	}
	ts->check_allow = 0;
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

	if ((f = flow_new(svc, FLOW_STREAM, sa, (socklen_t)salen, 0)) == NULL) {
		close(fd);
		return;
	}
	tcp_nodelay(fd);
	f->in.fd = fd;
	if ((ts = calloc(1, sizeof(*ts))) == NULL ||
	    (f->in.ssl = SSL_new(svc->conf->tls_ctx)) == NULL ||
	    tls_set_fd(f->in.ssl, fd) == -1) {
		free(ts);
		tls_log_errors(LOG_LVL_WARN, "service=%s cannot make a TLS "
		    "session", svc->conf->name);
		flow_close(f, "error");
		return;
	}
	sh_reader_init(&ts->rd);
	f->in.tr_priv = ts;
	SSL_set_app_data(f->in.ssl, f);		/* for the ALPN callback */
	tls_handshake(&f->in, 1, svc->conf->handshake_timeout,
	    tls_in_handshake_done);
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
tls_out_handshake_done(struct half *h, int result)
{
	struct flow		*f = h->flow;
	const struct service_conf *sc = f->service->conf;
	uint8_t			 hdr[SH_SIZE];
	const char		*errstr = NULL;
	char			 port[8];

	if (result != TLS_HS_OK) {
		tls_fail(f, result, "handshake");
		return;
	}
	if (tls_alpn_any(h->ssl) && !tls_alpn_is_stream(h->ssl)) {
		flow_log(f, LOG_LVL_WARN, "server chose another ALPN protocol");
		flow_close(f, "alpn");
		return;
	}
	snprintf(port, sizeof(port), "%u", sc->destination.port);
	if (sh_build(sc->destination.host, port, 0, hdr, &errstr) == -1) {
		flow_log(f, LOG_LVL_WARN, "cannot build header: %s", errstr);
		flow_close(f, "error");
		return;
	}
	/* The header goes first; the client's bytes follow it. */
	if (half_outq(h) == NULL ||
	    evbuffer_add(h->outq, hdr, sizeof(hdr)) == -1) {
		flow_close(f, "error");
		return;
	}
	half_ready(h);
}

static void
tls_out_connected(struct half *h, int err)
{
	struct flow		*f = h->flow;
	uint64_t		 now;

	if (tcp_connect_retry(h, &err, tls_out_connected))
		return;
	if (err != 0) {
		f->err = err;
		flow_close(f, err == ECONNREFUSED ? "refused" :
		    err == ETIMEDOUT ? "timeout" : "error");
		return;
	}
	if ((h->ssl = tls_client_new(f->service->conf)) == NULL ||
	    tls_set_fd(h->ssl, h->fd) == -1) {
		tls_log_errors(LOG_LVL_WARN, "service=%s cannot make a TLS "
		    "session", f->service->conf->name);
		flow_close(f, "error");
		return;
	}
	/* One deadline covers the connect and the handshake. */
	now = now_ms();
	event_free(h->wev);
	h->wev = NULL;
	tls_handshake(h, 0, f->dial_deadline > now ? f->dial_deadline - now :
	    1, tls_out_handshake_done);
}

static int
tls_dial(struct half *h, const struct sockaddr *sa, socklen_t len)
{
	return (tcp_connect_any(h, sa, len, tls_out_connected));
}

static int
tls_open(struct half *h)
{
	return (half_dial(h, SOCK_STREAM, tls_dial));
}

static void
tls_close(struct half *h)
{
	if (h == &h->flow->in)
		free(h->tr_priv);
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
	    TR_TUNNEL | TR_FALLBACK,
	.idle_default = 60 * 60 * 1000,
	.egress = "tcp",
	.check = tls_check,
	.listen_open = tcp_listen_socket,
	.listen_start = tls_listen_start,
	.listen_stop = tcp_listen_close,
	.open = tls_open,
	.close = tls_close,
};
