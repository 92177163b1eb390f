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
 * OpenSSL contexts.  A service that speaks TLS or DTLS gets one SSL_CTX,
 * built in the main thread when its configuration loads (so "check" finds
 * a broken certificate, and SIGHUP picks up renewed files) and shared
 * read-only by the workers; SSL_CTX is reference counted by OpenSSL, so
 * live connections keep the one they started with.
 */

#include <sys/types.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "flowgate.h"

/*
 * OpenSSL's read-ahead buffer: four full TLS 1.3 records (5 bytes of
 * header, 16 KiB, the inner type byte and a 16-byte tag), plus the 3 bytes
 * OpenSSL 3 leaves at its start to align the payload (SSL3_ALIGN_PAYLOAD,
 * with malloc's 8-byte alignment).  A full read then ends on a record
 * boundary.  With 64 KiB the fourth record was always cut 91 bytes short,
 * and OpenSSL reads the rest of a record it has begun exactly, so every
 * other read(2) fetched 91 bytes.  Only a matter of speed: TLS 1.2's
 * AES-GCM records (16413 bytes) are cut 28 bytes short instead.
 */
#define TLS_RECORD_WIRE	(5 + 16384 + 1 + 16)
#define TLS_RBUF	(3 + 4 * TLS_RECORD_WIRE)

/* ALPN of GoDoxy's agent stream, in wire format (length-prefixed). */
static const unsigned char alpn_stream[] = "\x15godoxy-agent-stream/1";
#define ALPN_STREAM_LEN	(sizeof(alpn_stream) - 1)

/* Put OpenSSL's error queue into buf, oldest first, and clear it. */
int
tls_errors_string(char *buf, size_t len)
{
	unsigned long	 e;
	size_t		 off = 0;
	int		 n = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		if (off + 2 < len) {
			if (n++ > 0) {
				buf[off++] = ';';
				buf[off++] = ' ';
				buf[off] = '\0';
			}
			ERR_error_string_n(e, buf + off, len - off);
			off += strlen(buf + off);
		}
	}
	return (n);
}

/* Log msg with the whole OpenSSL error queue, which is then empty. */
void
tls_log_errors(enum log_level lvl, const char *fmt, ...)
{
	char	msg[512], errs[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (tls_errors_string(errs, sizeof(errs)) > 0)
		log_emit(lvl, "%s openssl=\"%s\"", msg, errs);
	else
		log_emit(lvl, "%s", msg);
}

static char *
tls_err(const char *what, const char *file)
{
	char	 errs[1024], *out;

	tls_errors_string(errs, sizeof(errs));
	xasprintf(&out, "%s%s%s%s%s", what, file != NULL ? " " : "",
	    file != NULL ? file : "", errs[0] != '\0' ? ": " : "", errs);
	return (out);
}

/*
 * The server's ALPN choice.  Without a fallback only the stream protocol
 * is acceptable and anything else is refused with no_application_protocol,
 * as GoDoxy's agent does.  With a fallback, http/1.1 is preferred over the
 * stream (GoDoxy's server order) and any other offer negotiates nothing,
 * to be routed to the fallback.
 */
static int
tls_alpn_select_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct flow			*f = SSL_get_app_data(ssl);
	unsigned int			 i, n;
	int				 has_stream = 0, has_http = 0;
	int				 fallback;

	/*
	 * The flow, not the context, says which service: a reload may have
	 * freed the conf that made the context this session still uses.
	 */
	fallback = f != NULL && f->service->conf->has_fallback;

	for (i = 0; i < inlen; i += n + 1) {
		n = in[i];
		if (i + 1 + n > inlen)
			break;
		if (n == ALPN_STREAM_LEN - 1 &&
		    memcmp(in + i + 1, alpn_stream + 1, n) == 0)
			has_stream = 1;
		else if (n == 8 && memcmp(in + i + 1, "http/1.1", 8) == 0) {
			has_http = 1;
			*out = in + i + 1;
			*outlen = 8;
		}
	}
	if (fallback) {
		if (has_http)
			return (SSL_TLSEXT_ERR_OK);
		if (!has_stream)
			return (SSL_TLSEXT_ERR_NOACK);
	}
	if (has_stream) {
		*out = alpn_stream + 1;
		*outlen = ALPN_STREAM_LEN - 1;
		return (SSL_TLSEXT_ERR_OK);
	}
	return (SSL_TLSEXT_ERR_ALERT_FATAL);
}

/*
 * DTLS cookies: HMAC-SHA256 over the peer's address and port and the
 * minute, with a key made once per process.  A cookie is good in the
 * minute it was made and the next, so no state is kept per peer before
 * the client proves it can receive at its address.
 */
static uint8_t		cookie_key[32];
static pthread_once_t	cookie_once = PTHREAD_ONCE_INIT;

static void
tls_cookie_init(void)
{
	if (RAND_bytes(cookie_key, sizeof(cookie_key)) != 1)
		fatalx("cannot make a DTLS cookie key");
}

static int
tls_cookie_make(SSL *ssl, uint64_t minute, unsigned char *out,
    unsigned int *outlen)
{
	BIO_ADDR	*peer;
	uint8_t		 msg[16 + 2 + 8 + 1];
	size_t		 alen = 16;
	uint16_t	 port;
	int		 family;

	pthread_once(&cookie_once, tls_cookie_init);
	if ((peer = BIO_ADDR_new()) == NULL)
		return (0);
	memset(msg, 0, sizeof(msg));
	if (BIO_dgram_get_peer(SSL_get_rbio(ssl), peer) <= 0 ||
	    BIO_ADDR_rawaddress(peer, msg, &alen) != 1) {
		BIO_ADDR_free(peer);
		return (0);
	}
	family = BIO_ADDR_family(peer);
	port = BIO_ADDR_rawport(peer);
	BIO_ADDR_free(peer);
	memcpy(msg + 16, &port, sizeof(port));
	memcpy(msg + 18, &minute, sizeof(minute));
	msg[26] = (uint8_t)family;
	return (HMAC(EVP_sha256(), cookie_key, sizeof(cookie_key), msg,
	    sizeof(msg), out, outlen) != NULL);
}

static int
tls_cookie_gen_cb(SSL *ssl, unsigned char *cookie, unsigned int *len)
{
	return (tls_cookie_make(ssl, (uint64_t)time(NULL) / 60, cookie, len));
}

static int
tls_cookie_verify_cb(SSL *ssl, const unsigned char *cookie,
    unsigned int len)
{
	unsigned char	want[EVP_MAX_MD_SIZE];
	unsigned int	wlen;
	uint64_t	minute = (uint64_t)time(NULL) / 60;
	int		i;

	for (i = 0; i < 2; i++) {
		if (tls_cookie_make(ssl, minute - (uint64_t)i, want, &wlen) &&
		    wlen == len && CRYPTO_memcmp(want, cookie, len) == 0)
			return (1);
	}
	return (0);
}

/*
 * A context for sc: server or client, TLS or DTLS.  Returns NULL with a
 * malloc'd *errstr naming the file and OpenSSL's reason.
 */
void *
tls_ctx_new(const struct service_conf *sc, int server, int dtls,
    char **errstr)
{
	const struct tls_conf	*t = &sc->tls;
	SSL_CTX			*ctx;
	int			 mode;

	ERR_clear_error();
	if (dtls)
		ctx = SSL_CTX_new(server ? DTLS_server_method() :
		    DTLS_client_method());
	else
		ctx = SSL_CTX_new(server ? TLS_server_method() :
		    TLS_client_method());
	if (ctx == NULL) {
		*errstr = tls_err("cannot make a TLS context", NULL);
		return (NULL);
	}
	if (dtls) {
		/*
		 * What pion/dtls (GoDoxy) speaks: DTLS 1.2, one suite, a
		 * group it supports first, no tickets or resumption.  The
		 * MTU is set per SSL (there is no CTX-level one).
		 */
		SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
		SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
		if (SSL_CTX_set_cipher_list(ctx,
		    "ECDHE-ECDSA-AES128-GCM-SHA256") != 1 ||
		    SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) {
			*errstr = tls_err("cannot set DTLS parameters", NULL);
			goto fail;
		}
		SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		if (server) {
			SSL_CTX_set_cookie_generate_cb(ctx, tls_cookie_gen_cb);
			SSL_CTX_set_cookie_verify_cb(ctx, tls_cookie_verify_cb);
		}
	} else {
		SSL_CTX_set_min_proto_version(ctx, t->min_version == TLS_V13 ?
		    TLS1_3_VERSION : TLS1_2_VERSION);
		if (t->ciphers != NULL &&
		    SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1) {
			*errstr = tls_err("tls.ciphers: no usable cipher in",
			    t->ciphers);
			goto fail;
		}
		if (t->ciphersuites != NULL &&
		    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1) {
			*errstr = tls_err("tls.ciphersuites: no usable suite in",
			    t->ciphersuites);
			goto fail;
		}
	}
	/*
	 * A peer that drops TCP without close_notify has ended all the same
	 * (GoDoxy's side does it); OpenSSL 3 would make that a fatal error.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* Partial writes, and a repeated SSL_write may come from a moved buffer. */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/*
	 * Read ahead into a buffer of several records: one read(2) for many
	 * records instead of two per record.  What it holds no readiness of
	 * the socket reports, so the relay asks for another turn while it
	 * holds anything (half_read in flow.c).
	 */
	if (!dtls) {
		SSL_CTX_set_read_ahead(ctx, 1);
		SSL_CTX_set_default_read_buffer_len(ctx, TLS_RBUF);
	}

	if (server && (t->cert == NULL || t->key == NULL)) {
		xasprintf(errstr, "a %s server needs tls.cert and tls.key",
		    sc->listen.scheme);
		goto fail;
	}
	if (t->cert != NULL &&
	    SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		*errstr = tls_err("cannot load certificate", t->cert);
		goto fail;
	}
	if (t->key != NULL &&
	    SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
		*errstr = tls_err("cannot load private key", t->key);
		goto fail;
	}
	if (t->cert != NULL && t->key != NULL &&
	    SSL_CTX_check_private_key(ctx) != 1) {
		*errstr = tls_err("private key does not match certificate",
		    t->key);
		goto fail;
	}
	if ((t->cert == NULL) != (t->key == NULL)) {
		xasprintf(errstr, "tls.cert and tls.key go together");
		goto fail;
	}

	if (server) {
		if (t->client_auth != TLS_AUTH_NONE && t->ca == NULL) {
			xasprintf(errstr, "client certificates need tls.ca "
			    "(or tls.client_auth: none)");
			goto fail;
		}
		if (t->client_auth != TLS_AUTH_NONE) {
			STACK_OF(X509_NAME) *names;

			if (SSL_CTX_load_verify_locations(ctx, t->ca,
			    NULL) != 1) {
				*errstr = tls_err("cannot load CA", t->ca);
				goto fail;
			}
			if ((names = SSL_load_client_CA_file(t->ca)) != NULL)
				SSL_CTX_set_client_CA_list(ctx, names);
			mode = SSL_VERIFY_PEER;
			if (t->client_auth == TLS_AUTH_REQUIRED)
				mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
			SSL_CTX_set_verify(ctx, mode, NULL);
			/* Client certificates must be fit for clientAuth. */
			SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
		} else
			SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		if (!dtls) {
			SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select_cb,
			    NULL);
			/*
			 * The agent protocol has no resumption: no tickets
			 * and no session cache (TLS 1.2 resumption would
			 * also need a session id context).
			 */
			SSL_CTX_set_num_tickets(ctx, 0);
			SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
			SSL_CTX_set_session_cache_mode(ctx,
			    SSL_SESS_CACHE_OFF);
		}
	} else {
		if (t->ca == NULL) {
			xasprintf(errstr, "a %s client needs tls.ca to verify "
			    "the server", sc->forward.scheme);
			goto fail;
		}
		if (SSL_CTX_load_verify_locations(ctx, t->ca, NULL) != 1) {
			*errstr = tls_err("cannot load CA", t->ca);
			goto fail;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
		/* Offer only the stream protocol (GoDoxy picks by its order). */
		if (!dtls && SSL_CTX_set_alpn_protos(ctx, alpn_stream,
		    ALPN_STREAM_LEN) != 0) {
			*errstr = tls_err("cannot set ALPN", NULL);
			goto fail;
		}
	}
	return (ctx);
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return (NULL);
}

void
tls_ctx_free(void *ctx)
{
	SSL_CTX_free(ctx);
}

/* Whether ssl negotiated GoDoxy's stream protocol. */
int
tls_alpn_is_stream(void *ssl)
{
	const unsigned char	*p;
	unsigned int		 len;

	SSL_get0_alpn_selected(ssl, &p, &len);
	return (len == ALPN_STREAM_LEN - 1 &&
	    memcmp(p, alpn_stream + 1, len) == 0);
}

/* Whether ssl negotiated any ALPN protocol. */
int
tls_alpn_any(void *ssl)
{
	const unsigned char	*p;
	unsigned int		 len;

	SSL_get0_alpn_selected(ssl, &p, &len);
	return (len > 0);
}

/*
 * A client SSL for sc: the verify name is checked against the server's
 * certificate and sent as SNI (unless it is an IP address).
 */
void *
tls_client_new(const struct service_conf *sc)
{
	SSL	*ssl;

	if ((ssl = SSL_new(sc->tls_ctx)) == NULL)
		return (NULL);
	if (SSL_set1_host(ssl, sc->tls.verify_name) != 1 ||
	    SSL_set_tlsext_host_name(ssl, sc->tls.verify_name) != 1) {
		SSL_free(ssl);
		return (NULL);
	}
	return (ssl);
}

/*
 * Before an SSL call whose SSL_get_error() matters: an empty queue needs
 * no clearing, and clearing costs a walk of all its slots every record.
 */
void
tls_clear_errors(void)
{
	if (ERR_peek_error() != 0)
		ERR_clear_error();
}

/* The first reason in OpenSSL's queue, for a log line; the queue is cleared. */
const char *
tls_error_reason(char *buf, size_t len)
{
	unsigned long	e;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		/* Library 0 or SYS: an errno in disguise; skip it. */
		if (buf[0] == '\0' && ERR_GET_LIB(e) != ERR_LIB_SYS &&
		    ERR_GET_LIB(e) != 0)
			ERR_error_string_n(e, buf, len);
	}
	return (buf);
}

static void	tls_hs_step(struct half *);

static void
tls_hs_io_cb(evutil_socket_t fd, short what, void *arg)
{
	tls_hs_step(arg);
}

static void
tls_hs_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;

	if (h->ev != NULL)
		event_del(h->ev);
	if (h->wev != NULL)
		event_del(h->wev);
	h->io_cb(h, TLS_HS_TIMEOUT);
}

/* One step of the handshake; the callback runs when it ends either way. */
static void
tls_hs_step(struct half *h)
{
	int	r;

	ERR_clear_error();
	if ((r = SSL_do_handshake(h->ssl)) == 1) {
		event_del(h->ev);
		event_del(h->wev);
		if (h->tev != NULL)
			evtimer_del(h->tev);
		h->io_cb(h, TLS_HS_OK);
		return;
	}
	switch (SSL_get_error(h->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		event_del(h->wev);
		event_add(h->ev, NULL);
		return;
	case SSL_ERROR_WANT_WRITE:
		event_del(h->ev);
		event_add(h->wev, NULL);
		return;
	default:
		/* The caller reads the reason off the error queue. */
		event_del(h->ev);
		event_del(h->wev);
		if (h->tev != NULL)
			evtimer_del(h->tev);
		h->io_cb(h, TLS_HS_FAIL);
	}
}

/*
 * Run the TLS handshake of h (its fd and ssl set) within timeout_ms, then
 * call done with TLS_HS_OK, TLS_HS_FAIL (reason in the OpenSSL error
 * queue) or TLS_HS_TIMEOUT.  The first step runs from the event loop, so
 * done never runs inside this call.
 */
void
tls_handshake(struct half *h, int server, uint64_t timeout_ms,
    void (*done)(struct half *, int))
{
	struct event_base	*base = h->flow->worker->base;

	h->io_cb = done;
	if (server)
		SSL_set_accept_state(h->ssl);
	else
		SSL_set_connect_state(h->ssl);
	h->ev = event_new(base, h->fd, EV_READ | EV_PERSIST, tls_hs_io_cb, h);
	h->wev = event_new(base, h->fd, EV_WRITE | EV_PERSIST, tls_hs_io_cb,
	    h);
	half_set_timer(h, timeout_ms, tls_hs_timeout_cb);
	if (h->ev == NULL || h->wev == NULL || h->tev == NULL) {
		/* Report it from the loop too, through the timer if any. */
		if (h->tev != NULL)
			event_active(h->tev, EV_TIMEOUT, 0);
		return;
	}
	event_active(h->ev, EV_READ, 0);
}

/*
 * The write side of a TLS stream.  OpenSSL hands its BIO one record per
 * write, so a 256 KiB relay read would leave as sixteen write(2) calls and
 * sixteen segments.  While the relay corks a half, its records gather
 * in the worker's buffer and leave in one write at tls_uncork().  What the
 * socket does not take waits in the half's backlog; while there is one, a
 * corked write is refused (SSL_write says WANT_WRITE and the relay queues
 * the plaintext, as with a full socket), so the backlog never holds more
 * than one corked batch plus the odd alert.  Reads use a plain socket BIO.
 */
struct tls_wio {
	int		 fd;
	int		 relay;		/* accept everything when uncorked */
	u_char		*cbuf;		/* corked: the worker's buffer */
	size_t		 clen;
	size_t		 ccap;
	struct evbuffer	*backlog;
};

/*
 * Uncorked writes stop here: above one corked batch, so that an alert or a
 * key update can still follow a batch the socket did not take.
 */
#define TLS_BACKLOG_MAX	(TLS_CORK_BUF + 64 * 1024)

static BIO_METHOD	*tls_wio_method;
static int		 tls_wio_type = -1;
static pthread_once_t	 tls_wio_once = PTHREAD_ONCE_INIT;

static size_t
tls_wio_pending(const struct tls_wio *io)
{
	return (io->backlog != NULL ? evbuffer_get_length(io->backlog) : 0);
}

static int
tls_wio_queue(struct tls_wio *io, const void *buf, size_t len)
{
	if (io->backlog == NULL && (io->backlog = evbuffer_new()) == NULL)
		return (-1);
	return (evbuffer_add(io->backlog, buf, len));
}

/* write(2) all of buf or what the socket takes; -1 only on an error. */
static ssize_t
tls_wio_send(struct tls_wio *io, const void *buf, size_t len)
{
	ssize_t	n;

	do
		n = write(io->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		n = 0;
	return (n);
}

static int
tls_wio_write(BIO *b, const char *buf, int len)
{
	struct tls_wio	*io = BIO_get_data(b);
	ssize_t		 n;

	BIO_clear_retry_flags(b);
	if (len <= 0)
		return (0);
	if (tls_wio_pending(io) > 0) {
		/*
		 * Uncorked: an alert or a handshake message, after the rest,
		 * but only up to a bound.  OpenSSL writes from inside SSL_read
		 * too (an alert for each renegotiation request, say), and a
		 * peer that never reads must not grow this without end: past
		 * the bound it is refused as a full socket would refuse it,
		 * and OpenSSL keeps the one message for later.
		 */
		if (io->cbuf != NULL ||
		    tls_wio_pending(io) + (size_t)len > TLS_BACKLOG_MAX) {
			BIO_set_retry_write(b);
			return (-1);
		}
		return (tls_wio_queue(io, buf, (size_t)len) == -1 ? -1 : len);
	}
	if (io->cbuf != NULL) {
		if (io->clen + (size_t)len > io->ccap) {
			/* Full: out with what gathered, then take this one. */
			if ((n = tls_wio_send(io, io->cbuf, io->clen)) == -1)
				return (-1);
			if ((size_t)n < io->clen) {
				if (tls_wio_queue(io, io->cbuf + n,
				    io->clen - (size_t)n) == -1)
					return (-1);
				io->clen = 0;
				BIO_set_retry_write(b);
				return (-1);
			}
			io->clen = 0;
		}
		if ((size_t)len <= io->ccap) {
			memcpy(io->cbuf + io->clen, buf, (size_t)len);
			io->clen += (size_t)len;
			return (len);
		}
	}
	if ((n = tls_wio_send(io, buf, (size_t)len)) == -1)
		return (-1);
	if (n == len)
		return (len);
	if (io->relay && (size_t)(len - n) <= TLS_BACKLOG_MAX) {
		if (tls_wio_queue(io, buf + n, (size_t)(len - n)) == -1)
			return (-1);
		return (len);
	}
	/* During the handshake: a socket BIO's terms. */
	if (n > 0)
		return ((int)n);
	BIO_set_retry_write(b);
	return (-1);
}

static long
tls_wio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_wio	*io = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		/* The backlog goes when the socket is writable. */
		return (1);
	case BIO_CTRL_WPENDING:
		return ((long)(tls_wio_pending(io) + io->clen));
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = io->fd;
		return (io->fd);
	default:
		return (0);
	}
}

static int
tls_wio_destroy(BIO *b)
{
	struct tls_wio	*io = BIO_get_data(b);

	if (io != NULL) {
		if (io->backlog != NULL)
			evbuffer_free(io->backlog);
		free(io);
		BIO_set_data(b, NULL);
	}
	return (1);
}

static void
tls_wio_init(void)
{
	tls_wio_type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK;
	tls_wio_method = BIO_meth_new(tls_wio_type, "flowgate tls writer");
	if (tls_wio_method == NULL ||
	    BIO_meth_set_write(tls_wio_method, tls_wio_write) != 1 ||
	    BIO_meth_set_ctrl(tls_wio_method, tls_wio_ctrl) != 1 ||
	    BIO_meth_set_destroy(tls_wio_method, tls_wio_destroy) != 1)
		fatalx("cannot make the TLS writer BIO method");
}

static struct tls_wio *
tls_wio(void *ssl)
{
	BIO	*b = SSL_get_wbio(ssl);

	if (b == NULL || BIO_method_type(b) != tls_wio_type)
		return (NULL);
	return (BIO_get_data(b));
}

/* Attach fd to ssl: a socket BIO to read, the corking writer to write. */
int
tls_set_fd(void *ssl, int fd)
{
	struct tls_wio	*io;
	BIO		*rb, *wb;

	pthread_once(&tls_wio_once, tls_wio_init);
	if ((io = calloc(1, sizeof(*io))) == NULL)
		return (-1);
	io->fd = fd;
	if ((rb = BIO_new_socket(fd, BIO_NOCLOSE)) == NULL) {
		free(io);
		return (-1);
	}
	if ((wb = BIO_new(tls_wio_method)) == NULL) {
		BIO_free(rb);
		free(io);
		return (-1);
	}
	BIO_set_data(wb, io);
	BIO_set_init(wb, 1);
	SSL_set_bio(ssl, rb, wb);
	return (0);
}

/* The handshake is over: from now on nothing written is refused uncorked. */
void
tls_relay_mode(void *ssl)
{
	struct tls_wio	*io;

	if ((io = tls_wio(ssl)) != NULL)
		io->relay = 1;
}

/* Gather the records written until tls_uncork() in buf. */
void
tls_cork(void *ssl, u_char *buf, size_t cap)
{
	struct tls_wio	*io;

	if ((io = tls_wio(ssl)) != NULL) {
		io->cbuf = buf;
		io->clen = 0;
		io->ccap = cap;
	}
}

/*
 * Write what gathered; what the socket does not take goes to the backlog.
 * Returns -1 with errno on a socket error.
 */
int
tls_uncork(void *ssl)
{
	struct tls_wio	*io;
	ssize_t		 n;
	int		 r = 0;

	if ((io = tls_wio(ssl)) == NULL || io->cbuf == NULL)
		return (0);
	if (io->clen > 0) {
		if ((n = tls_wio_send(io, io->cbuf, io->clen)) == -1)
			r = -1;
		else if ((size_t)n < io->clen && tls_wio_queue(io,
		    io->cbuf + n, io->clen - (size_t)n) == -1) {
			errno = ENOMEM;
			r = -1;
		}
	}
	io->cbuf = NULL;
	io->clen = io->ccap = 0;
	return (r);
}

/* Bytes OpenSSL wrote that the socket has not taken yet. */
size_t
tls_wpending(void *ssl)
{
	struct tls_wio	*io;

	if ((io = tls_wio(ssl)) == NULL)
		return (0);
	return (tls_wio_pending(io));
}

/* Write out the backlog: 0 when it is empty, -1 with errno on an error. */
int
tls_wflush(void *ssl)
{
	struct tls_wio	*io;
	int		 n;

	if ((io = tls_wio(ssl)) == NULL)
		return (0);
	while (tls_wio_pending(io) > 0) {
		n = evbuffer_write(io->backlog, io->fd);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return (-1);
		}
		if (n == 0)
			break;
	}
	return (0);
}
