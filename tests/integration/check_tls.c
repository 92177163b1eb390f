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
 * TLS suite: GoDoxy agent streams (tls-stream, spec/godoxy-stream.md §1,
 * §2) through the real flowgate binary on loopback.  The server daemon is
 * the fixture's (integ); tests that need flowgate as the client too start
 * a second daemon in the same scratch directory (cli_start, on
 * integ_cli), so each process holds one side of every tunnel.
 * Certificates come from `flowgate certs`, a fresh CA per test, and a
 * second, unrelated CA for the refusals.  Crafted headers and TLS corner
 * cases use an in-process OpenSSL client on a blocking socket with short
 * socket timeouts; the vector case also drives `openssl s_client`, and
 * `flowgate probe` also meets a fake agent (an OpenSSL server thread).
 * Every test asserts the bytes that came back, how the connection ended
 * and what the daemon logged.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <check.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "integ.h"
#include "proto/stream_header.h"

/* Lines 1-4 of every config; services follow. */
#define CONF_HEAD							\
	"workers: 2\n"							\
	"log: {level: debug}\n"						\
	"drain_timeout: 1s\n"						\
	"services:\n"

#define SOCK_TMO_MS	200	/* socket timeouts of TLS clients */

#define ALPN_STREAM	"godoxy-agent-stream/1"
#define VERIFY_NAME	"godoxy.agent"

static struct integ_pki	pa;	/* the CA of the daemons under test */
static struct integ_pki	pb;	/* an unrelated CA */

/*
 * The daemons
 */

/* The server, "agent": listen tls-stream, extra lines, then tls. */
static uint16_t
srv_start(const struct integ_pki *p, const char *extra)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	integ_conf_write(CONF_HEAD
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:0\n"
	    "%s"
	    "    tls:\n"
	    "      cert: \"%s\"\n"
	    "      key: \"%s\"\n"
	    "      ca: \"%s\"\n", extra, p->srv_crt, p->srv_key, p->ca);
	integ_daemon_start();
	integ_service_get("agent", "tls-stream", &ss, &len);
	return (integ_addr_port(&ss));
}

/*
 * Flowgate as the GoDoxy server side (integ_cli): "cli" listens on TCP
 * and tunnels each connection to the server at srvport, naming
 * 127.0.0.1:dstport in the header.  Returns cli's port.
 */
static uint16_t
cli_start(const struct integ_pki *p, uint16_t srvport, uint16_t dstport)
{
	integ_cli_start(CONF_HEAD
	    "  - name: cli\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tls-stream://127.0.0.1:%u\n"
	    "    destination: 127.0.0.1:%u\n"
	    "    connect_timeout: 10s\n"
	    "    tls:\n"
	    "      cert: \"%s\"\n"
	    "      key: \"%s\"\n"
	    "      ca: \"%s\"\n", (unsigned)srvport, (unsigned)dstport,
	    p->cli_crt, p->cli_key, p->ca);
	return (integ_cli_port("cli", "tcp"));
}

/*
 * Stream headers
 */

/* Recompute the big-endian CRC-32 of bytes 0..270 after an edit. */
static void
hdr_recrc(uint8_t h[SH_SIZE])
{
	uLong	crc;

	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, h, 271);
	h[271] = (uint8_t)(crc >> 24);
	h[272] = (uint8_t)(crc >> 16);
	h[273] = (uint8_t)(crc >> 8);
	h[274] = (uint8_t)crc;
}

/*
 * An in-process TLS client (struct integ_ssl) on a blocking socket.
 * SO_RCVTIMEO and SO_SNDTIMEO make every SSL call return within
 * SOCK_TMO_MS (as WANT_READ/WANT_WRITE), so each loop below is bounded by
 * a deadline.
 */

/*
 * A client session, not connected yet.  alpn is a comma-separated list
 * ("" or NULL offers none); cert and key may be NULL; maxver 0 means
 * TLS 1.3.  integ_ssl_close frees it.
 */
static void
tc_new(struct integ_ssl *c, const char *alpn, const char *cert, const char *key,
    const char *ca, int maxver)
{
	unsigned char	 wire[256];
	const char	*p, *comma;
	size_t		 wl = 0, n;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	c->ctx = SSL_CTX_new(TLS_client_method());
	ck_assert_msg(c->ctx != NULL, "SSL_CTX_new failed");
	SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
	if (maxver != 0)
		SSL_CTX_set_max_proto_version(c->ctx, maxver);
	ck_assert_msg(SSL_CTX_load_verify_locations(c->ctx, ca, NULL) == 1,
	    "cannot load %s", ca);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	if (cert != NULL) {
		ck_assert_msg(SSL_CTX_use_certificate_chain_file(c->ctx,
		    cert) == 1, "cannot load %s", cert);
		ck_assert_msg(SSL_CTX_use_PrivateKey_file(c->ctx, key,
		    SSL_FILETYPE_PEM) == 1, "cannot load %s", key);
	}
	for (p = alpn; p != NULL && *p != '\0'; p = comma + 1) {
		if ((comma = strchr(p, ',')) == NULL)
			comma = p + strlen(p);
		n = (size_t)(comma - p);
		ck_assert_msg(n > 0 && n < 256 && wl + 1 + n <= sizeof(wire),
		    "bad ALPN list %s", alpn);
		wire[wl++] = (unsigned char)n;
		memcpy(wire + wl, p, n);
		wl += n;
		if (*comma == '\0')
			break;
	}
	if (wl > 0)
		ck_assert_msg(SSL_CTX_set_alpn_protos(c->ctx, wire,
		    (unsigned)wl) == 0, "SSL_CTX_set_alpn_protos failed");
	c->ssl = SSL_new(c->ctx);
	ck_assert_msg(c->ssl != NULL, "SSL_new failed");
	ck_assert(SSL_set1_host(c->ssl, VERIFY_NAME) == 1);
	ck_assert(SSL_set_tlsext_host_name(c->ssl, VERIFY_NAME) == 1);
}

/* A TCP connection to 127.0.0.1:port under c's session; no TLS yet. */
static void
tc_connect(struct integ_ssl *c, uint16_t port)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	struct timeval		tv;

	integ_addr(AF_INET, port, &ss, &len);
	c->fd = integ_tcp_connect(&ss, len, INTEG_IO_MS);
	ck_assert_msg(c->fd != -1, "connect to 127.0.0.1:%u: %s",
	    (unsigned)port, integ_io_state());
	c->lport = integ_local_port(c->fd);
	tv.tv_sec = 0;
	tv.tv_usec = SOCK_TMO_MS * 1000;
	ck_assert(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)) == 0);
	ck_assert(setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)) == 0);
	ck_assert(SSL_set_fd(c->ssl, c->fd) == 1);
}

/* Shake hands on c's connection: 0, or -1 with c->err. */
static int
tc_handshake(struct integ_ssl *c)
{
	uint64_t	deadline;
	int		r, se;

	deadline = integ_now_ms() + INTEG_IO_MS;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_connect(c->ssl)) == 1)
			return (0);
		se = SSL_get_error(c->ssl, r);
		if ((se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) &&
		    integ_now_ms() < deadline)
			continue;
		integ_ssl_fail(c, "handshake", se, errno);
		return (-1);
	}
}

/*
 * Connect to 127.0.0.1:port and shake hands, arguments as for tc_new.
 * Returns 0, or -1 with c->err; either way tc_close follows.
 */
static int
tc_open(struct integ_ssl *c, uint16_t port, const char *alpn, const char *cert,
    const char *key, const char *ca, int maxver)
{
	tc_new(c, alpn, cert, key, ca, maxver);
	tc_connect(c, port);
	return (tc_handshake(c));
}

/* The negotiated ALPN protocol, "" for none. */
static const char *
tc_alpn(struct integ_ssl *c, char *buf, size_t size)
{
	const unsigned char	*p;
	unsigned int		 len;

	SSL_get0_alpn_selected(c->ssl, &p, &len);
	snprintf(buf, size, "%.*s", (int)len, p != NULL ? (const char *)p :
	    "");
	return (buf);
}

/* Write all of buf in one SSL_write (one record up to 16 KiB). */
static int
tc_write(struct integ_ssl *c, const void *buf, size_t len)
{
	uint64_t	deadline;
	int		r, se;

	deadline = integ_now_ms() + INTEG_IO_MS;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_write(c->ssl, buf, (int)len)) > 0)
			return (0);
		se = SSL_get_error(c->ssl, r);
		if ((se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) &&
		    integ_now_ms() < deadline)
			continue;
		integ_ssl_fail(c, "write", se, errno);
		return (-1);
	}
}

/*
 * One read: bytes, or 0 on close_notify, or -1 with *how ETIMEDOUT,
 * EPIPE (EOF without close_notify), ECONNRESET or EPROTO (an alert or
 * another TLS error, c->err says which).
 */
static ssize_t
tc_read(struct integ_ssl *c, void *buf, size_t size, int timeout_ms, int *how)
{
	uint64_t	deadline;
	unsigned long	e;
	int		r, se, syserr;

	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = SSL_read(c->ssl, buf, (int)size)) > 0) {
			*how = 0;
			return (r);
		}
		se = SSL_get_error(c->ssl, r);
		syserr = errno;
		if (se == SSL_ERROR_WANT_READ || se == SSL_ERROR_WANT_WRITE) {
			if (integ_now_ms() < deadline)
				continue;
			snprintf(c->err, sizeof(c->err), "read: nothing for "
			    "%d ms", timeout_ms);
			*how = ETIMEDOUT;
			return (-1);
		}
		if (se == SSL_ERROR_ZERO_RETURN) {
			*how = 0;
			return (0);
		}
		e = ERR_peek_error();
		if (se == SSL_ERROR_SYSCALL && syserr == ECONNRESET)
			*how = ECONNRESET;
		else if ((se == SSL_ERROR_SYSCALL && e == 0) ||
		    ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
			*how = EPIPE;
		else
			*how = EPROTO;
		integ_ssl_fail(c, "read", se, syserr);
		return (-1);
	}
}

/* Read exactly len bytes; fewer on close, error or timeout. */
static size_t
tc_read_exact(struct integ_ssl *c, void *buf, size_t len, int timeout_ms)
{
	char		*p = buf;
	uint64_t	 deadline, now;
	size_t		 got = 0;
	ssize_t		 n;
	int		 how;

	c->err[0] = '\0';
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while (got < len && (now = integ_now_ms()) < deadline) {
		n = tc_read(c, p + got, len - got, (int)(deadline - now),
		    &how);
		if (n <= 0) {
			if (n == 0)
				snprintf(c->err, sizeof(c->err),
				    "close_notify");
			break;
		}
		got += (size_t)n;
	}
	return (got);
}

/* Read until the connection ends; *how as tc_read, 0 for close_notify. */
static size_t
tc_read_eof(struct integ_ssl *c, void *buf, size_t size, int timeout_ms,
    int *how)
{
	char		*p = buf;
	uint64_t	 deadline, now;
	size_t		 got = 0;
	ssize_t		 n;

	*how = ETIMEDOUT;
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while ((now = integ_now_ms()) < deadline) {
		if (got == size) {
			*how = ENOBUFS;
			break;
		}
		n = tc_read(c, p + got, size - got, (int)(deadline - now), how);
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		break;
	}
	return (got);
}

static const char *
how_str(int how)
{
	switch (how) {
	case 0:
		return ("close_notify");
	case EPIPE:
		return ("EOF without close_notify");
	case EPROTO:
		return ("TLS error");
	default:
		return (strerror(how));
	}
}

/* Send msg and expect it back whole. */
static void
tc_ping(struct integ_ssl *c, const char *msg, const char *what)
{
	char	buf[1024];
	size_t	len = strlen(msg);

	ck_assert(len <= sizeof(buf));
	ck_assert_msg(tc_write(c, msg, len) == 0, "%s: %s", what, c->err);
	ck_assert_msg(tc_read_exact(c, buf, len, INTEG_IO_MS) == len &&
	    memcmp(buf, msg, len) == 0, "%s: \"%s\" did not come back whole: "
	    "%s", what, msg, c->err);
}

/* A stream tunnel with our CA's client certificate to 127.0.0.1:dst. */
static void
tunnel_open(struct integ_ssl *c, uint16_t port, uint16_t dst)
{
	uint8_t	hdr[SH_SIZE];
	char	alpn[64];

	ck_assert_msg(tc_open(c, port, ALPN_STREAM, pa.cli_crt, pa.cli_key,
	    pa.ca, 0) == 0, "tunnel handshake: %s", c->err);
	ck_assert_str_eq(tc_alpn(c, alpn, sizeof(alpn)), ALPN_STREAM);
	integ_stream_header(dst, hdr);
	ck_assert_msg(tc_write(c, hdr, sizeof(hdr)) == 0, "tunnel header: %s",
	    c->err);
}

/*
 * 1. flowgate client -> flowgate server -> TCP echo: 64 MiB each way at
 * once, the SHA-256 of what came back equals that of what was sent, and
 * the tunnel closes cleanly on both daemons.
 */
#define BIG_TOTAL	(64ULL * 1024 * 1024)
#define BIG_MS		40000

START_TEST(test_tls_client_server_64mib)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 dst[64];
	char			 more[512];
	uint64_t		 t0;
	ssize_t			 n;
	uint16_t		 sport, cport;
	unsigned		 lport;
	int			 fd, how;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	cport = cli_start(&pa, sport, integ_echo_port(echo));

	integ_addr(AF_INET, cport, &svc, &svclen);
	fd = integ_tcp_connect_ok(&svc, svclen, "cli");
	lport = integ_local_port(fd);
	t0 = integ_now_ms();
	integ_bulk_echo(fd, BIG_TOTAL, 64, BIG_MS);
	fprintf(stderr, "tls: 64 MiB each way in %llu ms\n",
	    (unsigned long long)(integ_now_ms() - t0));

	/* Our FIN crosses both daemons as close_notify; EOF comes back. */
	ck_assert(shutdown(fd, SHUT_WR) == 0);
	n = integ_read_eof(fd, more, sizeof(more), INTEG_IO_MS, &how);
	ck_assert_msg(n == 0 && how == 0, "after our FIN: %zd more bytes, "
	    "then %s", n, how == 0 ? "EOF" : strerror(how));
	close(fd);

	integ_cli_closed_line("cli", lport, line, sizeof(line), "64 MiB");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", (long long)BIG_TOTAL);
	integ_assert_num(line, "bytes_out", (long long)BIG_TOTAL);
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", (unsigned)sport);
	integ_assert_field(line, "dst", dst);

	snprintf(re, sizeof(re), "flow closed service=agent flow=[0-9]+ "
	    "peer=127\\.0\\.0\\.1:[0-9]+ dst=127\\.0\\.0\\.1:%u ",
	    (unsigned)integ_echo_port(echo));
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, sizeof(line)) ==
	    0, "the server logged no \"flow closed\" for the tunnel");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", (long long)BIG_TOTAL);
	integ_assert_num(line, "bytes_out", (long long)BIG_TOTAL);
	ck_assert_uint_eq(integ_echo_count(echo), 1);

	integ_tunnel_stop_ok(echo);
}
END_TEST

/* The client daemon logged a clean close of lport with total each way. */
static void
cli_closed_ok(unsigned lport, unsigned long long total, const char *what)
{
	char	line[INTEG_LINE_MAX];

	integ_cli_closed_line("cli", lport, line, sizeof(line), what);
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", (long long)total);
	integ_assert_num(line, "bytes_out", (long long)total);
}

/* The server daemon logged n clean closes toward echo, total each way. */
static void
srv_closed_ok(struct integ_echo *echo, unsigned long long total, int n)
{
	char	re[INTEG_RE_MAX];

	snprintf(re, sizeof(re), "flow closed service=agent flow=[0-9]+ "
	    "peer=127\\.0\\.0\\.1:[0-9]+ dst=127\\.0\\.0\\.1:%u .*"
	    "bytes_in=%llu bytes_out=%llu .*reason=closed$",
	    (unsigned)integ_echo_port(echo), total, total);
	ck_assert_int_eq(integ_log_wait_count(0, re, n, INTEG_LOG_MS), n);
}

/*
 * A FIN right behind 16 MiB: the client shuts its write side as soon as
 * the last byte is sent, while most of the stream still sits in the
 * daemons' queues and unsent TLS records.  Every byte still arrives and
 * comes back before close_notify and the EOF, and both tunnel ends log a
 * clean close with the full counts.
 */
#define FIN_TOTAL	(16ULL * 1024 * 1024)

START_TEST(test_tls_fin_in_flight)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	uint16_t		 sport, cport;
	unsigned		 lport;
	int			 fd, i;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	cport = cli_start(&pa, sport, integ_echo_port(echo));
	integ_addr(AF_INET, cport, &svc, &svclen);

	for (i = 0; i < 2; i++) {
		fd = integ_tcp_connect_ok(&svc, svclen, "cli");
		lport = integ_local_port(fd);
		integ_bulk_echo_ex(fd, FIN_TOTAL, 100 + (uint64_t)i, BIG_MS,
		    INTEG_BULK_FIN);
		close(fd);
		cli_closed_ok(lport, FIN_TOTAL, "16 MiB and an early FIN");
	}
	srv_closed_ok(echo, FIN_TOTAL, 2);

	integ_tunnel_stop_ok(echo);
}
END_TEST

/*
 * A server whose buffer is 4 KiB reads a quarter of each 16 KiB record
 * at a time: the rest stays inside OpenSSL, where no readiness of the
 * socket reports it, so the relay has to come back for it by itself.
 * Three bursts on an idle tunnel, then 4 MiB each way: every byte
 * arrives and comes back, then the FIN.
 */
#define SMALL_TOTAL	(4ULL * 1024 * 1024)
#define SMALL_SUM	(SMALL_TOTAL + 40000 + 16384 * 3 + 5 + 5000)

START_TEST(test_tls_small_buffer)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 more[512];
	const uint64_t		 burst[] = { 40000, 16384 * 3 + 5, 5000 };
	ssize_t			 n;
	uint16_t		 sport, cport;
	unsigned		 lport;
	int			 fd, how, i;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n"
	    "    buffer: 4KiB\n");
	cport = cli_start(&pa, sport, integ_echo_port(echo));
	integ_addr(AF_INET, cport, &svc, &svclen);

	fd = integ_tcp_connect_ok(&svc, svclen, "cli");
	lport = integ_local_port(fd);
	/*
	 * Each burst on an idle tunnel reaches the server's socket whole, and
	 * OpenSSL takes it all on the first read: no FIN follows until the
	 * whole echo is back, so nothing else would wake the relay.
	 */
	for (i = 0; i < 3; i++)
		integ_bulk_echo(fd, burst[i], 7 + (uint64_t)i, INTEG_IO_MS);
	integ_bulk_echo(fd, SMALL_TOTAL, 7, BIG_MS);
	ck_assert(shutdown(fd, SHUT_WR) == 0);
	n = integ_read_eof(fd, more, sizeof(more), INTEG_IO_MS, &how);
	ck_assert_msg(n == 0 && how == 0, "after our FIN: %zd more bytes, "
	    "then %s", n, how == 0 ? "EOF" : strerror(how));
	close(fd);
	cli_closed_ok(lport, SMALL_SUM, "4 MiB through a 4 KiB buffer");
	srv_closed_ok(echo, SMALL_SUM, 1);

	integ_tunnel_stop_ok(echo);
}
END_TEST

/*
 * A record that cannot be decrypted right behind good data, in one
 * segment, so the server reads both at once: the data goes on, but the
 * tunnel then ends as an error (or a reset, when a write to the failed
 * side comes first), logged as one, not as a clean close.
 */
START_TEST(test_tls_error_behind_data)
{
	struct integ_echo	*echo;
	struct integ_ssl	 c;
	char			 line[INTEG_LINE_MAX];
	/* application_data, TLS 1.2 on the wire, 32 bytes of zeros */
	static const u_char	 bad[5 + 32] = { 0x17, 0x03, 0x03, 0x00, 32 };
	uint16_t		 sport;
	int			 on = 1, off = 0;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	tunnel_open(&c, sport, integ_echo_port(echo));
	tc_ping(&c, "relaying", "the tunnel");

	ck_assert(setsockopt(c.fd, IPPROTO_TCP, TCP_CORK, &on,
	    sizeof(on)) == 0);
	ck_assert_msg(tc_write(&c, "good data", 9) == 0, "%s", c.err);
	ck_assert(write(c.fd, bad, sizeof(bad)) == (ssize_t)sizeof(bad));
	ck_assert(setsockopt(c.fd, IPPROTO_TCP, TCP_CORK, &off,
	    sizeof(off)) == 0);

	ck_assert_msg(integ_log_wait(0, "tls read failed service=agent ",
	    INTEG_LOG_MS, line, sizeof(line)) == 0, "the server logged no "
	    "\"tls read failed\"");
	integ_closed_line("agent", c.lport, line, sizeof(line),
	    "a bad record behind data");
	/* A write to the failed TLS side may end it first (reset). */
	ck_assert_msg(strstr(line, " reason=error") != NULL ||
	    strstr(line, " reason=reset") != NULL, "not an error: %s", line);
	integ_assert_num(line, "bytes_in", 8 + 9);
	integ_ssl_close(&c);

	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 2. `openssl s_client -alpn godoxy-agent-stream/1` with a client
 * certificate sends a header built like vector v1 and then data, and gets
 * its echo; a header and payload in one TLS record lose no payload.
 */
#define VEC_DATA	4096
#define ONE_RECORD	16000	/* header included: one TLS record */

START_TEST(test_tls_s_client_vector)
{
	struct integ_echo	*echo;
	struct integ_proc	 sc;
	struct integ_ssl	 c;
	const char		*data_dir;
	uint8_t			 hdr[SH_SIZE], v1[SH_SIZE];
	unsigned char		*buf, *got;
	char			 path[INTEG_PATH_MAX], *file;
	char			 line[INTEG_LINE_MAX];
	char			 re[INTEG_RE_MAX], errbuf[4096];
	uint64_t		 state = 2;
	size_t			 flen, i, n;
	uint16_t		 sport;
	int			 how;

	/* sh_build reproduces GoDoxy's vector v1 byte for byte. */
	if ((data_dir = getenv("FG_TESTDATA")) == NULL || *data_dir == '\0')
		data_dir = "tests/data";
	snprintf(path, sizeof(path), "%s/vectors/v1_127.0.0.1_8080.bin",
	    data_dir);
	file = integ_read_file(path, &flen);
	ck_assert_msg(file != NULL, "cannot read %s (set FG_TESTDATA)", path);
	ck_assert_uint_eq(flen, SH_SIZE);
	memcpy(v1, file, SH_SIZE);
	free(file);
	ck_assert(sh_build("127.0.0.1", "8080", 0, hdr, NULL) == 0);
	for (i = 0; i < SH_SIZE; i++)
		ck_assert_msg(hdr[i] == v1[i], "sh_build 127.0.0.1:8080 "
		    "differs from v1 at byte %zu: %02x, expected %02x", i,
		    hdr[i], v1[i]);

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");

	/* s_client: the header for our echo server, then data. */
	buf = malloc(ONE_RECORD);
	got = malloc(ONE_RECORD);
	ck_assert(buf != NULL && got != NULL);
	for (i = 0; i < VEC_DATA; i++)
		buf[i] = (unsigned char)("0123456789abcdefghijklmnopqrstuv"
		    "wxyz\n"[i % 37]);
	integ_stream_header(integ_echo_port(echo), hdr);
	integ_sclient_start(&sc, 0, sport, ALPN_STREAM, pa.cli_crt, pa.cli_key,
	    pa.ca);
	integ_fd_write_all(sc.in, hdr, sizeof(hdr), "s_client header");
	integ_sleep_ms(100);
	integ_fd_write_all(sc.in, buf, VEC_DATA, "s_client data");
	n = integ_fd_read(sc.out, got, VEC_DATA, INTEG_IO_MS, 0);
	if (n != VEC_DATA || memcmp(got, buf, VEC_DATA) != 0) {
		integ_proc_finish(&sc, 1, errbuf, sizeof(errbuf));
		ck_abort_msg("s_client got %zu of %d bytes back%s; its "
		    "stderr:\n%s", n, VEC_DATA, n == VEC_DATA ? ", different" :
		    "", errbuf);
	}
	/* -quiet implies -ign_eof: s_client stays until stopped. */
	n = integ_fd_read(sc.out, got, 1, 200, 0);
	ck_assert_msg(n == 0, "s_client got more than its echo");
	(void)integ_proc_finish(&sc, 1, errbuf, sizeof(errbuf));
	snprintf(re, sizeof(re), "flow closed service=agent flow=[0-9]+ "
	    "peer=127\\.0\\.0\\.1:[0-9]+ dst=127\\.0\\.0\\.1:%u ",
	    (unsigned)integ_echo_port(echo));
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, sizeof(line)) ==
	    0, "the server logged no \"flow closed\" for s_client's tunnel");
	/* The header is not payload. */
	integ_assert_num(line, "bytes_in", VEC_DATA);
	integ_assert_num(line, "bytes_out", VEC_DATA);

	/* Header and 16000 bytes in a single SSL_write: one record. */
	integ_fill(buf + SH_SIZE, ONE_RECORD - SH_SIZE, &state);
	memcpy(buf, hdr, SH_SIZE);
	ck_assert_msg(tc_open(&c, sport, ALPN_STREAM, pa.cli_crt, pa.cli_key,
	    pa.ca, 0) == 0, "handshake: %s", c.err);
	ck_assert_msg(tc_write(&c, buf, ONE_RECORD) == 0, "%s", c.err);
	n = tc_read_exact(&c, got, ONE_RECORD - SH_SIZE, INTEG_IO_MS);
	ck_assert_msg(n == ONE_RECORD - SH_SIZE, "got %zu of %d payload "
	    "bytes sent with the header: %s", n, ONE_RECORD - SH_SIZE, c.err);
	ck_assert_msg(memcmp(got, buf + SH_SIZE, n) == 0, "payload sent with "
	    "the header came back different");
	integ_ssl_shutdown(&c);
	n = tc_read_eof(&c, got, ONE_RECORD, INTEG_IO_MS, &how);
	ck_assert_msg(n == 0 && how == 0, "after close_notify: %zu bytes, "
	    "then %s (%s)", n, how_str(how), c.err);
	integ_closed_line("agent", c.lport, line, sizeof(line),
	    "one-record tunnel");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", ONE_RECORD - SH_SIZE);
	integ_assert_num(line, "bytes_out", ONE_RECORD - SH_SIZE);
	integ_ssl_close(&c);
	ck_assert_uint_eq(integ_echo_count(echo), 2);

	free(buf);
	free(got);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 3. Without a client certificate, with one from another CA, or offering
 * only an unknown ALPN protocol to a server without fallback: refused
 * with an alert, nothing dialled, and the server says why.
 */
struct refusal {
	const char	*name;
	const char	*alpn;
	int		 cert;		/* 0 none, a ours, b other */
	int		 maxver;
	const char	*client_err;	/* in our client's error */
	const char	*server_err;	/* in the server's log */
	const char	*reason;	/* flow closed reason, an ERE */
};

static const struct refusal refusals[] = {
	{ "no client certificate (TLS 1.3)", ALPN_STREAM, 0, 0,
	    "alert certificate required", "peer did not return a certificate",
	    "tls" },
	{ "no client certificate (TLS 1.2)", ALPN_STREAM, 0, TLS1_2_VERSION,
	    "alert handshake failure", "peer did not return a certificate",
	    "tls" },
	{ "client certificate of another CA (TLS 1.3)", ALPN_STREAM, 'b', 0,
	    "alert unknown ca", "certificate verify failed", "tls" },
	{ "client certificate of another CA (TLS 1.2)", ALPN_STREAM, 'b',
	    TLS1_2_VERSION, "alert unknown ca", "certificate verify failed",
	    "tls" },
	{ "ALPN h2 only, no fallback", "h2", 'a', 0,
	    "alert no application protocol", "no application protocol",
	    "(tls|alpn)" },
};

START_TEST(test_tls_refusals)
{
	const struct refusal	*rf;
	struct integ_echo	*echo;
	struct integ_proc	 sc;
	struct integ_ssl	 c;
	uint8_t			 hdr[SH_SIZE];
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX + 64];
	char			 buf[256], errbuf[8192], esc[256];
	long long		 id;
	size_t			 i, n;
	uint16_t		 sport;
	int			 how, status;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	integ_pki_make(&pb, "b");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	integ_stream_header(integ_echo_port(echo), hdr);

	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		rf = &refusals[i];
		if (tc_open(&c, sport, rf->alpn, rf->cert == 0 ? NULL :
		    rf->cert == 'a' ? pa.cli_crt : pb.cli_crt, rf->cert == 0 ?
		    NULL : rf->cert == 'a' ? pa.cli_key : pb.cli_key, pa.ca,
		    rf->maxver) == 0) {
			/* TLS 1.3: the verdict on our certificate is late. */
			(void)tc_write(&c, hdr, sizeof(hdr));
			(void)tc_write(&c, "data", 4);
			n = tc_read_eof(&c, buf, sizeof(buf), INTEG_IO_MS,
			    &how);
			ck_assert_msg(n == 0, "%s: %zu bytes came back",
			    rf->name, n);
			ck_assert_msg(how == EPROTO || how == ECONNRESET,
			    "%s: accepted; the connection ended with %s",
			    rf->name, how_str(how));
		}
		ck_assert_msg(strstr(c.err, rf->client_err) != NULL, "%s: "
		    "expected \"%s\", the client saw: %s", rf->name,
		    rf->client_err, c.err);
		integ_closed_line("agent", c.lport, line, sizeof(line),
		    rf->name);
		integ_assert_field_re(line, "reason", rf->reason);
		integ_assert_field(line, "dst", "-");
		id = integ_field_num(line, "flow");
		snprintf(re, sizeof(re), "warn handshake failed: "
		    "openssl=\"[^\"]*%s[^\"]*\" service=agent flow=%lld$",
		    integ_re_escape(rf->server_err, esc, sizeof(esc)), id);
		ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, NULL, 0) == 0,
		    "%s: no \"handshake failed ... %s\" line for flow %lld",
		    rf->name, rf->server_err, id);
		integ_ssl_close(&c);
	}

	/* s_client says so too. */
	integ_sclient_start(&sc, 0, sport, "h2", pa.cli_crt, pa.cli_key, pa.ca);
	n = integ_fd_read(sc.out, buf, sizeof(buf) - 1, INTEG_IO_MS, 1);
	status = integ_proc_finish(&sc, 0, errbuf, sizeof(errbuf));
	ck_assert_msg(n == 0, "s_client -alpn h2 got data: %s", buf);
	ck_assert_msg(status != -1 && !(WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0), "s_client -alpn h2 succeeded");
	ck_assert_msg(strstr(errbuf, "no application protocol") != NULL,
	    "s_client -alpn h2: no \"no application protocol\" alert in:\n%s",
	    errbuf);
	ck_assert_uint_eq(integ_echo_count(echo), 0);
	ck_assert_int_eq(integ_log_count(0, "tunnel request"), 0);

	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 4. Bad headers close only their own connection, with a log line, while
 * a long-lived tunnel keeps flowing: bad CRC, wrong version, port length
 * 6, a short header then EOF (close_notify, or a bare FIN), and a header
 * that never finishes (header_timeout 1s).
 */
enum bad_kind { BAD_CRC, BAD_VERSION, BAD_PORTLEN, BAD_SHORT_CN,
    BAD_SHORT_FIN, BAD_STALL };

struct bad_header {
	const char	*name;
	enum bad_kind	 kind;
	const char	*why_re;	/* the server's line about it */
	const char	*reason_re;	/* the flow closed reason */
};

static const struct bad_header bad_headers[] = {
	{ "bad CRC", BAD_CRC, "bad tunnel header: checksum mismatch",
	    "header" },
	{ "wrong version", BAD_VERSION, "bad tunnel header: bad version",
	    "header" },
	{ "port length 6", BAD_PORTLEN, "bad tunnel header: port length over 5",
	    "header" },
	/* The reason is the daemon's choice; the log line is required. */
	{ "short header, close_notify", BAD_SHORT_CN,
	    "bad tunnel header: [^ ].*", "(header|closed)" },
	/* A FIN without close_notify ends the stream all the same. */
	{ "short header, FIN", BAD_SHORT_FIN,
	    "bad tunnel header: [^ ].*", "(header|closed)" },
	{ "header never finishes", BAD_STALL, "bad tunnel header: [^ ].*",
	    "timeout" },
};

START_TEST(test_tls_bad_headers)
{
	const struct bad_header	*bh;
	struct integ_echo	*echo;
	struct integ_ssl	 live, c;
	uint8_t			 hdr[SH_SIZE], h[SH_SIZE];
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 msg[64];
	char			 buf[512];
	uint64_t		 t0, waited;
	long long		 id;
	size_t			 i, n, len;
	uint16_t		 sport;
	int			 how;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n"
	    "    header_timeout: 1s\n");
	integ_stream_header(integ_echo_port(echo), hdr);

	tunnel_open(&live, sport, integ_echo_port(echo));
	tc_ping(&live, "live tunnel: before", "live tunnel");

	for (i = 0; i < sizeof(bad_headers) / sizeof(bad_headers[0]); i++) {
		bh = &bad_headers[i];
		memcpy(h, hdr, SH_SIZE);
		len = SH_SIZE;
		switch (bh->kind) {
		case BAD_CRC:
			h[274] ^= 0x5a;
			break;
		case BAD_VERSION:
			h[4] = '1';		/* "0.1.1" */
			hdr_recrc(h);
			break;
		case BAD_PORTLEN:
			h[264] = 6;
			hdr_recrc(h);
			break;
		case BAD_SHORT_CN:
		case BAD_SHORT_FIN:
		case BAD_STALL:
			len = 100;
			break;
		}
		ck_assert_msg(tc_open(&c, sport, ALPN_STREAM, pa.cli_crt,
		    pa.cli_key, pa.ca, 0) == 0, "%s: handshake: %s", bh->name,
		    c.err);
		ck_assert_msg(tc_write(&c, h, len) == 0, "%s: %s", bh->name,
		    c.err);
		if (bh->kind == BAD_SHORT_CN)
			integ_ssl_shutdown(&c);
		else if (bh->kind == BAD_SHORT_FIN)
			ck_assert(shutdown(c.fd, SHUT_WR) == 0);
		t0 = integ_now_ms();
		n = tc_read_eof(&c, buf, sizeof(buf), 4000, &how);
		waited = integ_now_ms() - t0;
		ck_assert_msg(n == 0, "%s: %zu bytes came back", bh->name, n);
		/* The agent's answer to any bad header: close_notify. */
		ck_assert_msg(how == 0, "%s: expected close_notify, the "
		    "connection ended with %s (%s)", bh->name, how_str(how),
		    c.err);
		if (bh->kind == BAD_STALL)
			ck_assert_msg(waited >= 800 && waited <= 3000,
			    "%s: closed after %llu ms; header_timeout is 1s",
			    bh->name, (unsigned long long)waited);

		integ_closed_line("agent", c.lport, line, sizeof(line),
		    bh->name);
		integ_assert_field_re(line, "reason", bh->reason_re);
		integ_assert_field(line, "dst", "-");
		id = integ_field_num(line, "flow");
		snprintf(re, sizeof(re), "%s service=agent flow=%lld$",
		    bh->why_re, id);
		ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, NULL, 0) == 0,
		    "%s: no \"%s\" line for flow %lld", bh->name, bh->why_re,
		    id);
		integ_ssl_close(&c);

		snprintf(msg, sizeof(msg), "live tunnel: after %s", bh->name);
		tc_ping(&live, msg, "live tunnel");
	}
	/* Nothing was dialled for a bad header. */
	ck_assert_uint_eq(integ_echo_count(echo), 1);
	ck_assert_int_eq(integ_log_count(0, "tunnel request"), 1);
	ck_assert_int_eq(integ_log_count(0, integ_re_closed(re, sizeof(re),
	    "agent", "127.0.0.1", live.lport)), 0);
	integ_ssl_shutdown(&live);
	n = tc_read_eof(&live, buf, sizeof(buf), INTEG_IO_MS, &how);
	ck_assert_msg(n == 0 && how == 0, "live tunnel after close_notify: "
	    "%zu bytes, then %s (%s)", n, how_str(how), live.err);
	integ_closed_line("agent", live.lport, line, sizeof(line),
	    "live tunnel");
	integ_assert_field(line, "reason", "closed");
	integ_ssl_close(&live);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 5. Fallback: a connection that negotiates http/1.1, no ALPN or only an
 * unknown protocol is a plain decrypted stream to the fallback; one that
 * offers only godoxy-agent-stream/1 still gets the stream handler.
 */
struct fb_case {
	const char	*name;
	const char	*alpn;		/* offered */
	const char	*want_alpn;	/* negotiated */
	int		 stream;	/* 1: stream handler, 0: fallback */
};

static const struct fb_case fb_cases[] = {
	{ "ALPN http/1.1", "http/1.1", "http/1.1", 0 },
	{ "no ALPN", NULL, "", 0 },
	{ "ALPN h2 only", "h2", "", 0 },
	/* GoDoxy's agent prefers http/1.1 (spec §2.2); so do we. */
	{ "ALPN stream and http/1.1", ALPN_STREAM ",http/1.1", "http/1.1", 0 },
	{ "ALPN stream only", ALPN_STREAM, ALPN_STREAM, 1 },
};

START_TEST(test_tls_fallback)
{
	const struct fb_case	*fc;
	struct integ_echo	*echo, *fb;
	struct integ_ssl	 c;
	uint8_t			 hdr[SH_SIZE];
	char			 extra[256], line[INTEG_LINE_MAX], msg[160];
	char			 alpn[64], dst[64], buf[256];
	size_t			 i, n;
	uint16_t		 sport;
	int			 how;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	fb = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	snprintf(extra, sizeof(extra), "    allow: [\"127.0.0.0/8\"]\n"
	    "    fallback: tcp://127.0.0.1:%u\n",
	    (unsigned)integ_echo_port(fb));
	sport = srv_start(&pa, extra);
	integ_stream_header(integ_echo_port(echo), hdr);

	for (i = 0; i < sizeof(fb_cases) / sizeof(fb_cases[0]); i++) {
		fc = &fb_cases[i];
		ck_assert_msg(tc_open(&c, sport, fc->alpn, pa.cli_crt,
		    pa.cli_key, pa.ca, 0) == 0, "%s: handshake: %s", fc->name,
		    c.err);
		ck_assert_msg(strcmp(tc_alpn(&c, alpn, sizeof(alpn)),
		    fc->want_alpn) == 0, "%s: negotiated \"%s\", expected "
		    "\"%s\"", fc->name, alpn, fc->want_alpn);
		if (fc->stream)
			ck_assert_msg(tc_write(&c, hdr, sizeof(hdr)) == 0,
			    "%s: %s", fc->name, c.err);
		/* The fallback sees exactly these bytes: no header taken. */
		snprintf(msg, sizeof(msg), "GET /%zu HTTP/1.1\r\nHost: "
		    "godoxy.agent\r\n\r\n", i);
		tc_ping(&c, msg, fc->name);
		integ_ssl_shutdown(&c);
		n = tc_read_eof(&c, buf, sizeof(buf), INTEG_IO_MS, &how);
		ck_assert_msg(n == 0 && how == 0, "%s: after close_notify: %zu "
		    "bytes, then %s (%s)", fc->name, n, how_str(how), c.err);
		integ_closed_line("agent", c.lport, line, sizeof(line),
		    fc->name);
		integ_assert_field(line, "reason", "closed");
		snprintf(dst, sizeof(dst), "127.0.0.1:%u", (unsigned)
		    integ_echo_port(fc->stream ? echo : fb));
		integ_assert_field(line, "dst", dst);
		integ_assert_num(line, "bytes_in", (long long)strlen(msg));
		integ_assert_num(line, "bytes_out", (long long)strlen(msg));
		integ_ssl_close(&c);
	}
	ck_assert_uint_eq(integ_echo_count(echo), 1);
	ck_assert_uint_eq(integ_echo_count(fb), 4);

	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
	integ_echo_stop(fb);
}
END_TEST

/*
 * 6. flowgate probe: 0 against a flowgate server (which logs the health
 * check and dials nothing), 1 against a closed port, a server of another
 * CA, with a client certificate the server rejects (after the TLS 1.3
 * handshake, spec §2.1), and a server that never answers.
 */
static void
assert_probe_fail(int status, const char *out, const char *err,
    const char *want, const char *what)
{
	char	sbuf[64];

	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 1, "probe %s: %s, expected exit status 1; "
	    "stdout: %s stderr: %s", what, integ_status_str(status, sbuf,
	    sizeof(sbuf)), out, err);
	ck_assert_msg(strncmp(out, "FAIL tls-stream://127.0.0.1:", 28) == 0 &&
	    strstr(out, want) != NULL, "probe %s: expected \"FAIL ...%s\", "
	    "got: %s", what, want, out);
}

#define PROBE_REJECTED_RUNS	5

START_TEST(test_tls_probe)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 line[INTEG_LINE_MAX], *out, *err;
	uint64_t		 t0;
	uint16_t		 sport, port;
	int			 status, i, lfd, ntls;

	integ_pki_make(&pa, "a");
	integ_pki_make(&pb, "b");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");

	/* A flowgate server: 0, and a health check in its log. */
	integ_probe_ok("tls-stream", sport, "agent", &pa, line, sizeof(line));
	integ_assert_num(line, "bytes_in", 0);
	integ_assert_num(line, "bytes_out", 0);
	ck_assert_int_eq(integ_log_count(0, "tunnel request"), 0);

	/* A closed port: 1. */
	port = integ_unused_port(AF_INET);
	status = integ_probe_run("tls-stream", port, &pa, &pa, "5s", &out,
	    &err);
	assert_probe_fail(status, out, err, "refused", "of a closed port");
	free(out);
	free(err);

	/* Trusting another CA, the server's certificate fails: 1. */
	ntls = integ_log_count(0, "flow closed service=agent .* reason=tls");
	status = integ_probe_run("tls-stream", sport, &pb, &pb, "5s", &out,
	    &err);
	assert_probe_fail(status, out, err, "certificate verify failed",
	    "trusting another CA");
	free(out);
	free(err);
	ck_assert_msg(integ_log_wait_count(0, "flow closed service=agent .* "
	    "reason=tls", ntls + 1, INTEG_LOG_MS) == ntls + 1, "the server "
	    "logged no refused handshake for the probe of another CA");

	/*
	 * Our CA trusted, but a client certificate of another CA: under TLS
	 * 1.3 the server's verdict comes after the client's handshake ends.
	 * A probe that skipped waiting for it would pass; run it a few times.
	 */
	for (i = 0; i < PROBE_REJECTED_RUNS; i++) {
		ntls = integ_log_count(0, "flow closed service=agent .* "
		    "reason=tls");
		status = integ_probe_run("tls-stream", sport, &pa, &pb, "5s",
		    &out, &err);
		assert_probe_fail(status, out, err, "unknown ca", "with a "
		    "rejected client certificate");
		free(out);
		free(err);
		ck_assert_msg(integ_log_wait_count(0, "flow closed "
		    "service=agent .* reason=tls", ntls + 1, INTEG_LOG_MS) ==
		    ntls + 1, "run %d: the server logged no refused handshake",
		    i);
	}
	ck_assert_int_eq(integ_log_count(0, "health check received"), 1);

	/* A listener that never answers: 1, after -t. */
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(lfd != -1);
	integ_addr(AF_INET, 0, &ss, &len);
	ck_assert(bind(lfd, (struct sockaddr *)&ss, len) == 0);
	ck_assert(listen(lfd, 4) == 0);
	t0 = integ_now_ms();
	status = integ_probe_run("tls-stream", integ_local_port(lfd), &pa, &pa,
	    "1s", &out, &err);
	assert_probe_fail(status, out, err, "timed out", "of a silent "
	    "listener");
	ck_assert_msg(integ_now_ms() - t0 < 4000, "probe -t 1s took %llu ms",
	    (unsigned long long)(integ_now_ms() - t0));
	free(out);
	free(err);
	close(lfd);

	integ_daemon_stop_ok(INTEG_STOP_MS);
}
END_TEST

/*
 * 7. allow: a destination outside the list is refused before any dial,
 * logged, and the client sees the tunnel end without data; a listed one
 * works.
 */
START_TEST(test_tls_allow)
{
	struct integ_echo	*ok, *no;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	struct integ_ssl	 c;
	char			 extra[256], line[INTEG_LINE_MAX];
	char			 re[INTEG_RE_MAX];
	char			 buf[256];
	long long		 id;
	size_t			 n;
	ssize_t			 sn;
	uint16_t		 sport, cport;
	unsigned		 lport;
	int			 fd, how;

	ok = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	no = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	snprintf(extra, sizeof(extra), "    allow: [\"127.0.0.1/32:1-1023\", "
	    "\"127.0.0.1/32:%u\"]\n", (unsigned)integ_echo_port(ok));
	sport = srv_start(&pa, extra);

	/* In process: refused with close_notify, nothing comes back. */
	tunnel_open(&c, sport, integ_echo_port(no));
	(void)tc_write(&c, "denied?", 7);
	n = tc_read_eof(&c, buf, sizeof(buf), INTEG_IO_MS, &how);
	ck_assert_msg(n == 0 && how == 0, "denied tunnel: %zu bytes, then %s "
	    "(%s)", n, how_str(how), c.err);
	integ_closed_line("agent", c.lport, line, sizeof(line),
	    "denied tunnel");
	integ_assert_field(line, "reason", "denied");
	id = integ_field_num(line, "flow");
	snprintf(re, sizeof(re), "warn destination not allowed "
	    "dst=127\\.0\\.0\\.1:%u host=127\\.0\\.0\\.1 service=agent "
	    "flow=%lld$", (unsigned)integ_echo_port(no), id);
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, NULL, 0) == 0,
	    "no \"destination not allowed\" line for flow %lld", id);
	integ_ssl_close(&c);

	/* The listed destination works. */
	tunnel_open(&c, sport, integ_echo_port(ok));
	tc_ping(&c, "allowed", "allowed tunnel");
	integ_ssl_close(&c);

	/* Through a flowgate client: the end user sees EOF, no data. */
	cport = cli_start(&pa, sport, integ_echo_port(no));
	integ_addr(AF_INET, cport, &svc, &svclen);
	fd = integ_tcp_connect_ok(&svc, svclen, "cli");
	lport = integ_local_port(fd);
	(void)send(fd, "denied?", 7, MSG_NOSIGNAL);
	sn = integ_read_eof(fd, buf, sizeof(buf), INTEG_IO_MS, &how);
	ck_assert_msg(sn == 0 && how == 0, "through the client: %zd bytes, "
	    "then %s", sn, how == 0 ? "EOF" : strerror(how));
	close(fd);
	ck_assert_msg(integ_log_wait_count(0, "destination not allowed "
	    "dst=127\\.0\\.0\\.1:", 2, INTEG_LOG_MS) == 2, "no second "
	    "\"destination not allowed\" line");
	ck_assert_msg(integ_log_wait_count(0, "flow closed service=agent .* "
	    "reason=denied", 2, INTEG_LOG_MS) == 2, "no second reason=denied");
	integ_cli_closed_line("cli", lport, line, sizeof(line), "denied "
	    "through the client");
	integ_assert_num(line, "bytes_out", 0);
	ck_assert_uint_eq(integ_echo_count(no), 0);
	ck_assert_uint_eq(integ_echo_count(ok), 1);

	integ_tunnel_stop_ok(ok);
	integ_echo_stop(no);
}
END_TEST

/*
 * 8. 500 tunnels at once through a flowgate client and server: each gets
 * back exactly its own message, then each closes cleanly.
 */
#define MANY		500
#define MANY_MSG	512
#define MANY_MS		30000

static size_t
many_msg(char *buf, size_t size, int i)
{
	size_t	n;
	int	pad, k;

	n = (size_t)snprintf(buf, size, "tunnel %03d of %d: ", i, MANY);
	pad = (i * 37) % 400;
	for (k = 0; k < pad && n + 1 < size; k++)
		buf[n++] = (char)('a' + (i + k) % 26);
	buf[n++] = '\n';
	return (n);
}

START_TEST(test_tls_many_tunnels)
{
	static struct pollfd	 pfd[MANY];
	static char		 got[MANY][MANY_MSG], want[MANY][MANY_MSG];
	static size_t		 glen[MANY], wlen[MANY];
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	struct rlimit		 rl;
	char			 buf[64];
	uint64_t		 t0, deadline;
	ssize_t			 n;
	uint16_t		 sport, cport;
	int			 i, pending, done[MANY];

	/* Each daemon holds 2 fds per tunnel, and so does this process. */
	ck_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		ck_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	ck_assert_msg(rl.rlim_cur >= 2 * MANY + 64, "RLIMIT_NOFILE %llu is "
	    "too low for %d tunnels", (unsigned long long)rl.rlim_cur, MANY);

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	cport = cli_start(&pa, sport, integ_echo_port(echo));
	integ_addr(AF_INET, cport, &svc, &svclen);

	t0 = integ_now_ms();
	for (i = 0; i < MANY; i++) {
		pfd[i].fd = integ_tcp_connect(&svc, svclen, INTEG_IO_MS);
		ck_assert_msg(pfd[i].fd != -1, "tunnel %d: connect: %s", i,
		    integ_io_state());
		pfd[i].events = POLLIN;
		wlen[i] = many_msg(want[i], MANY_MSG, i);
		glen[i] = 0;
		done[i] = 0;
	}
	for (i = 0; i < MANY; i++)
		ck_assert_msg(integ_send_all(pfd[i].fd, want[i], wlen[i],
		    INTEG_IO_MS) == 0, "tunnel %d: send: %s", i,
		    integ_io_state());

	deadline = integ_now_ms() + MANY_MS;
	for (pending = MANY; pending > 0 && integ_now_ms() < deadline;) {
		if (poll(pfd, MANY, 200) <= 0)
			continue;
		for (i = 0; i < MANY; i++) {
			if (pfd[i].revents == 0 || done[i])
				continue;
			n = recv(pfd[i].fd, got[i] + glen[i], MANY_MSG -
			    glen[i], MSG_DONTWAIT);
			ck_assert_msg(n != 0, "tunnel %d: EOF after %zu of "
			    "%zu bytes", i, glen[i], wlen[i]);
			if (n == -1) {
				ck_assert_msg(errno == EAGAIN, "tunnel %d: %s",
				    i, strerror(errno));
				continue;
			}
			glen[i] += (size_t)n;
			ck_assert_msg(glen[i] <= wlen[i], "tunnel %d: %zu "
			    "bytes back, sent %zu", i, glen[i], wlen[i]);
			if (glen[i] == wlen[i]) {
				ck_assert_msg(memcmp(got[i], want[i],
				    wlen[i]) == 0, "tunnel %d: got \"%.*s\", "
				    "expected \"%.*s\"", i, 40, got[i], 40,
				    want[i]);
				done[i] = 1;
				pfd[i].events = 0;
				pending--;
			}
		}
	}
	ck_assert_msg(pending == 0, "%d of %d tunnels got no full echo "
	    "within %d ms", pending, MANY, MANY_MS);
	fprintf(stderr, "tls: %d tunnels up and echoed in %llu ms\n", MANY,
	    (unsigned long long)(integ_now_ms() - t0));
	ck_assert_uint_eq(integ_echo_count(echo), MANY);
	/* All were open at once: none has closed yet. */
	ck_assert_int_eq(integ_log_count(0, "flow closed"), 0);

	/* Each FIN crosses both daemons; each tunnel ends with EOF. */
	for (i = 0; i < MANY; i++) {
		ck_assert(shutdown(pfd[i].fd, SHUT_WR) == 0);
		pfd[i].events = POLLIN;
		done[i] = 0;
	}
	deadline = integ_now_ms() + MANY_MS;
	for (pending = MANY; pending > 0 && integ_now_ms() < deadline;) {
		if (poll(pfd, MANY, 200) <= 0)
			continue;
		for (i = 0; i < MANY; i++) {
			if (pfd[i].revents == 0 || done[i])
				continue;
			n = recv(pfd[i].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n == -1 && errno == EAGAIN)
				continue;
			ck_assert_msg(n == 0, "tunnel %d: %s after our FIN", i,
			    n > 0 ? "data" : strerror(errno));
			done[i] = 1;
			pfd[i].events = 0;
			pending--;
		}
	}
	ck_assert_msg(pending == 0, "%d of %d tunnels saw no EOF within %d ms",
	    pending, MANY, MANY_MS);
	for (i = 0; i < MANY; i++)
		close(pfd[i].fd);
	ck_assert_int_eq(integ_cli_log_wait_count("flow closed service=cli .* "
	    "reason=closed", MANY, INTEG_LOG_MS), MANY);
	ck_assert_int_eq(integ_log_wait_count(0, "flow closed service=agent "
	    ".* reason=closed", MANY, INTEG_LOG_MS), MANY);
	ck_assert_int_eq(integ_log_count(0, "flow closed"), MANY);
	fprintf(stderr, "tls: %d tunnels done in %llu ms\n", MANY,
	    (unsigned long long)(integ_now_ms() - t0));

	integ_tunnel_stop_ok(echo);
}
END_TEST

/*
 * 9. Half-close through TLS: the client's FIN becomes close_notify, the
 * server's answer written after it still arrives, then the end.
 */
#define HALF_REQ	(1024 * 1024)
#define HALF_TC		(64 * 1024)

START_TEST(test_tls_half_close)
{
	struct integ_echo	*srv;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	struct integ_ssl	 c;
	unsigned char		*req;
	char			 want[160], got[256], dst[64];
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	uint64_t		 state = 9;
	size_t			 off, n, alen;
	uint16_t		 sport, cport;
	unsigned		 lport;
	int			 fd, how;

	srv = integ_echo_start(INTEG_ECHO_HALFCLOSE, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	cport = cli_start(&pa, sport, integ_echo_port(srv));
	req = malloc(HALF_REQ);
	ck_assert_ptr_nonnull(req);
	integ_fill(req, HALF_REQ, &state);

	/* Plain TCP into the flowgate client: FIN, answer, EOF. */
	integ_addr(AF_INET, cport, &svc, &svclen);
	fd = integ_tcp_connect_ok(&svc, svclen, "cli");
	lport = integ_local_port(fd);
	alen = integ_halfclose_ok(fd, req, HALF_REQ, "through the client");
	close(fd);
	integ_cli_closed_line("cli", lport, line, sizeof(line), "half-close "
	    "through the client");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", HALF_REQ);
	integ_assert_num(line, "bytes_out", (long long)alen);
	snprintf(re, sizeof(re), "flow closed service=agent flow=[0-9]+ "
	    "peer=127\\.0\\.0\\.1:[0-9]+ dst=127\\.0\\.0\\.1:%u ",
	    (unsigned)integ_echo_port(srv));
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, sizeof(line)) ==
	    0, "the server logged no \"flow closed\" for the tunnel");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", HALF_REQ);
	integ_assert_num(line, "bytes_out", (long long)alen);

	/* In process: our close_notify, the answer, the server's. */
	tunnel_open(&c, sport, integ_echo_port(srv));
	for (off = 0; off < HALF_TC; off += 16384)
		ck_assert_msg(tc_write(&c, req + off, 16384) == 0, "%s",
		    c.err);
	integ_ssl_shutdown(&c);
	integ_halfclose_answer(req, HALF_TC, want, sizeof(want));
	n = tc_read_eof(&c, got, sizeof(got) - 1, INTEG_IO_MS, &how);
	got[n] = '\0';
	ck_assert_msg(how == 0, "no close_notify after the answer: %s (%s); "
	    "got \"%s\"", how_str(how), c.err, got);
	ck_assert_str_eq(got, want);
	integ_closed_line("agent", c.lport, line, sizeof(line),
	    "in-process tunnel");
	integ_assert_field(line, "reason", "closed");
	snprintf(dst, sizeof(dst), "127.0.0.1:%u",
	    (unsigned)integ_echo_port(srv));
	integ_assert_field(line, "dst", dst);
	integ_assert_num(line, "bytes_in", HALF_TC);
	integ_assert_num(line, "bytes_out", (long long)strlen(want));
	integ_ssl_close(&c);

	/*
	 * In process, a FIN without close_notify: the daemon takes it as the
	 * end of our stream too (half_read says so, and Go's agent does).
	 */
	tunnel_open(&c, sport, integ_echo_port(srv));
	ck_assert_msg(tc_write(&c, req, 16384) == 0, "%s", c.err);
	ck_assert(shutdown(c.fd, SHUT_WR) == 0);
	integ_halfclose_answer(req, 16384, want, sizeof(want));
	n = tc_read_eof(&c, got, sizeof(got) - 1, INTEG_IO_MS, &how);
	got[n] = '\0';
	ck_assert_msg(how == 0, "bare FIN: no close_notify after the answer: "
	    "%s (%s); got \"%s\"", how_str(how), c.err, got);
	ck_assert_str_eq(got, want);
	integ_closed_line("agent", c.lport, line, sizeof(line),
	    "bare FIN tunnel");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", 16384);
	integ_ssl_close(&c);
	ck_assert_uint_eq(integ_echo_count(srv), 3);

	free(req);
	integ_tunnel_stop_ok(srv);
}
END_TEST

/*
 * 10. TLS 1.2 with a client certificate, three times, each connection
 * offering the session of the one before (as OpenSSL's and Go's clients
 * do): every handshake succeeds, as a resumption or a full one.  The
 * server used to hand out TLS 1.2 sessions (tickets, ids) while verifying
 * clients without a session id context, and OpenSSL failed every
 * handshake that offered one back: "session id context uninitialized".
 */
#define REUSE_ROUNDS	3

START_TEST(test_tls_tls12_session_reuse)
{
	struct integ_echo	*echo;
	struct integ_ssl	 c;
	SSL_SESSION		*sess = NULL;
	uint8_t			 hdr[SH_SIZE];
	char			 line[INTEG_LINE_MAX], msg[64], buf[64];
	size_t			 n;
	uint16_t		 sport;
	int			 i, how, offered;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	sport = srv_start(&pa, "    allow: [\"127.0.0.0/8\"]\n");
	integ_stream_header(integ_echo_port(echo), hdr);

	for (i = 0; i < REUSE_ROUNDS; i++) {
		tc_new(&c, ALPN_STREAM, pa.cli_crt, pa.cli_key, pa.ca,
		    TLS1_2_VERSION);
		offered = sess != NULL && SSL_SESSION_is_resumable(sess);
		if (sess != NULL) {
			ck_assert(SSL_set_session(c.ssl, sess) == 1);
			SSL_SESSION_free(sess);
			sess = NULL;
		}
		tc_connect(&c, sport);
		ck_assert_msg(tc_handshake(&c) == 0, "connection %d (%s): %s",
		    i + 1, offered ? "offering the last session" : "no "
		    "session to offer", c.err);
		ck_assert_int_eq(SSL_version(c.ssl), TLS1_2_VERSION);
		fprintf(stderr, "tls: TLS 1.2 connection %d: %s, %s\n", i + 1,
		    offered ? "session offered" : "no session offered",
		    SSL_session_reused(c.ssl) ? "resumed" : "full handshake");
		ck_assert_msg(tc_write(&c, hdr, sizeof(hdr)) == 0, "connection "
		    "%d: header: %s", i + 1, c.err);
		snprintf(msg, sizeof(msg), "TLS 1.2 connection %d", i + 1);
		tc_ping(&c, msg, msg);
		/* A clean end keeps the session resumable for the client. */
		integ_ssl_shutdown(&c);
		n = tc_read_eof(&c, buf, sizeof(buf), INTEG_IO_MS, &how);
		ck_assert_msg(n == 0 && how == 0, "%s: after close_notify: %zu "
		    "bytes, then %s (%s)", msg, n, how_str(how), c.err);
		sess = SSL_get1_session(c.ssl);
		ck_assert_ptr_nonnull(sess);
		integ_closed_line("agent", c.lport, line, sizeof(line), msg);
		integ_assert_field(line, "reason", "closed");
		integ_ssl_close(&c);
	}
	SSL_SESSION_free(sess);
	ck_assert_int_eq(integ_log_count(0, "session id context"), 0);
	ck_assert_int_eq(integ_log_count(0, "handshake failed"), 0);
	ck_assert_uint_eq(integ_echo_count(echo), REUSE_ROUNDS);

	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 11. flowgate probe wants a close_notify as the agent's answer: a fake
 * agent that shakes hands, reads the 275-byte health header and then
 * closes TCP without close_notify makes it exit 1; the same agent with a
 * close_notify before its FIN makes it exit 0.  The probe used to take
 * a bare FIN for an answer.
 */
struct fake_agent {
	SSL_CTX		*ctx;
	int		 lfd;
	uint16_t	 port;
	int		 close_notify;	/* answer with close_notify */
	pthread_t	 thread;
	size_t		 got;		/* header bytes read */
	char		 err[256];	/* what went wrong, "" if nothing */
};

/* The one connection a test agent thread serves, within INTEG_RUN_MS. */
static int
agent_accept(int lfd, char *err, size_t errlen)
{
	struct pollfd	pfd;
	int		fd;

	pfd.fd = lfd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, INTEG_RUN_MS) != 1 ||
	    (fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) == -1) {
		snprintf(err, errlen, "no connection");
		return (-1);
	}
	return (fd);
}

/*
 * The fake agent's thread: one connection, every step bounded.  It may
 * not assert (only the test's thread may), so it leaves a note in err.
 */
static void *
fake_agent_main(void *arg)
{
	struct fake_agent	*fa = arg;
	struct timeval		 tv;
	SSL			*ssl = NULL;
	uint64_t		 deadline;
	char			 buf[512], ebuf[128];
	ssize_t			 n;
	int			 fd = -1, r, se;

	if ((fd = agent_accept(fa->lfd, fa->err, sizeof(fa->err))) == -1)
		return (NULL);
	tv.tv_sec = 0;
	tv.tv_usec = SOCK_TMO_MS * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((ssl = SSL_new(fa->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		snprintf(fa->err, sizeof(fa->err), "SSL_new failed");
		goto out;
	}
	deadline = integ_now_ms() + INTEG_IO_MS;
	while ((r = SSL_accept(ssl)) != 1) {
		se = SSL_get_error(ssl, r);
		if ((se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE) ||
		    integ_now_ms() >= deadline) {
			ERR_error_string_n(ERR_peek_error(), ebuf,
			    sizeof(ebuf));
			snprintf(fa->err, sizeof(fa->err), "handshake failed: "
			    "ssl_error=%d %s", se, ebuf);
			goto out;
		}
	}
	while (fa->got < SH_SIZE && integ_now_ms() < deadline) {
		r = SSL_read(ssl, buf, (int)(SH_SIZE - fa->got));
		if (r > 0) {
			fa->got += (size_t)r;
			continue;
		}
		se = SSL_get_error(ssl, r);
		if (se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE)
			break;
	}
	if (fa->got != SH_SIZE) {
		snprintf(fa->err, sizeof(fa->err), "read %zu header bytes",
		    fa->got);
		goto out;
	}
	if (fa->close_notify)
		(void)SSL_shutdown(ssl);
	/* The FIN; then wait for the probe to go, so no reset follows. */
	(void)shutdown(fd, SHUT_WR);
	while (integ_now_ms() < deadline) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR))
			break;
	}
out:
	ERR_clear_error();
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
	return (NULL);
}

/*
 * A TLS 1.2 agent that floods the flowgate client with renegotiation
 * requests (HelloRequest) and reads nothing: flowgate answers each with a
 * no_renegotiation alert, which must not pile up without bound while the
 * agent does not read (the client's memory stays flat), and once the agent
 * reads again and the TCP side closes, the tunnel must still end cleanly
 * (the alerts written while reading get flushed; nothing hangs).  After
 * the flood the agent ends its direction with a FIN and reads until EOF:
 * once the TCP side's FIN has come through too, flowgate must write out
 * what it holds, end the flow cleanly and close.  (Under ASan the client
 * may take seconds to work through the HelloRequests queued in its socket,
 * so the test waits for the agent before it starts the clock.)
 */
#define RENEG_MS	8000	/* of HelloRequests at most */
#define RENEG_DRAIN_MS	30000	/* the agent's reading, at most */
/* ASan's quarantine holds freed memory: RSS says nothing there. */
#if defined(__SANITIZE_ADDRESS__)
#define RENEG_RSS	0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RENEG_RSS	0
#endif
#endif
#ifndef RENEG_RSS
#define RENEG_RSS	1
#endif
#define RENEG_MAX	1000000

struct reneg_agent {
	SSL_CTX		*ctx;
	int		 lfd;
	pthread_t	 thread;
	int		 sent;		/* HelloRequests */
	long long	 drained;	/* bytes read after the flood */
	char		 err[256];
};

static void *
reneg_agent_main(void *arg)
{
	struct reneg_agent	*ra = arg;
	struct timeval		 tv;
	SSL			*ssl = NULL;
	uint64_t		 deadline;
	char			 buf[4096];
	int			 fd = -1, r;

	if ((fd = agent_accept(ra->lfd, ra->err, sizeof(ra->err))) == -1)
		return (NULL);
	/* A write flowgate does not take in a second ends the flood. */
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((ssl = SSL_new(ra->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1 ||
	    SSL_accept(ssl) != 1) {
		snprintf(ra->err, sizeof(ra->err), "handshake failed");
		goto out;
	}
	deadline = integ_now_ms() + RENEG_MS;
	while (ra->sent < RENEG_MAX && integ_now_ms() < deadline) {
		if (SSL_renegotiate(ssl) != 1 || SSL_do_handshake(ssl) != 1)
			break;
		ra->sent++;
	}
	ERR_clear_error();
	/* Our direction ends; read the header, the alerts, then EOF. */
	(void)shutdown(fd, SHUT_WR);
	tv.tv_sec = 0;
	tv.tv_usec = 250 * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	deadline = integ_now_ms() + RENEG_DRAIN_MS;
	for (;;) {
		if (integ_now_ms() >= deadline) {
			snprintf(ra->err, sizeof(ra->err), "no EOF from the "
			    "client within %d ms of the flood", RENEG_DRAIN_MS);
			break;
		}
		r = (int)recv(fd, buf, sizeof(buf), 0);
		if (r > 0) {
			ra->drained += r;
			continue;
		}
		if (r == 0)
			break;
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(ra->err, sizeof(ra->err), "recv: %s",
			    strerror(errno));
			break;
		}
	}
out:
	ERR_clear_error();
	SSL_free(ssl);
	if (fd != -1)
		close(fd);
	return (NULL);
}

START_TEST(test_tls_renegotiation_flood_bounded)
{
	struct reneg_agent	 ra;
	struct sockaddr_storage	 ss, cs;
	socklen_t		 len, cslen;
	long long		 rss0, rss1;
	uint16_t		 cport;
	char			 line[INTEG_LINE_MAX];
	int			 fd, rb = 4096;

	integ_pki_make(&pa, "a");
	memset(&ra, 0, sizeof(ra));
	ra.ctx = SSL_CTX_new(TLS_server_method());
	ck_assert(ra.ctx != NULL);
	ck_assert(SSL_CTX_set_max_proto_version(ra.ctx, TLS1_2_VERSION) == 1);
	ck_assert_msg(SSL_CTX_use_certificate_chain_file(ra.ctx,
	    pa.srv_crt) == 1 && SSL_CTX_use_PrivateKey_file(ra.ctx,
	    pa.srv_key, SSL_FILETYPE_PEM) == 1, "cannot load %s", pa.srv_crt);
	ra.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(ra.lfd != -1);
	/* A small window from the start: the agent reads nothing anyway. */
	ck_assert(setsockopt(ra.lfd, SOL_SOCKET, SO_RCVBUF, &rb,
	    sizeof(rb)) == 0);
	integ_addr(AF_INET, 0, &ss, &len);
	ck_assert(bind(ra.lfd, (struct sockaddr *)&ss, len) == 0);
	ck_assert(listen(ra.lfd, 4) == 0);

	cport = cli_start(&pa, integ_local_port(ra.lfd), 9);
	ck_assert(pthread_create(&ra.thread, NULL, reneg_agent_main, &ra) ==
	    0);
	integ_addr(AF_INET, cport, &cs, &cslen);
	fd = integ_tcp_connect_ok(&cs, cslen, "cli");
	integ_sleep_ms(300);
	rss0 = integ_rss_kb(integ_cli.pid);
	ck_assert(rss0 > 0);
	/* The flood runs up to RENEG_MS; then the agent reads. */
	integ_sleep_ms(RENEG_MS);
	rss1 = integ_rss_kb(integ_cli.pid);
	fprintf(stderr, "tls: renegotiation flood: %d HelloRequests, client "
	    "VmRSS %lld -> %lld KiB\n", ra.sent, rss0, rss1);
	ck_assert_msg(!RENEG_RSS || rss1 - rss0 < 3 * 1024, "the client grew "
	    "by %lld KiB "
	    "under %d renegotiation requests it could not answer",
	    rss1 - rss0, ra.sent);
	/* Our FIN: the tunnel must end, cleanly, everything written out. */
	close(fd);
	ck_assert(pthread_join(ra.thread, NULL) == 0);
	ck_assert_msg(ra.err[0] == '\0', "agent: %s", ra.err);
	ck_assert_msg(integ_cli_log_wait("flow closed service=cli ",
	    INTEG_IO_MS, line, sizeof(line)) == 0, "the tunnel did not end "
	    "after the flood");
	integ_assert_field(line, "reason", "closed");
	ck_assert_msg(ra.sent > 1000, "only %d HelloRequests went out",
	    ra.sent);
	close(ra.lfd);
	SSL_CTX_free(ra.ctx);
	integ_cli_stop_ok(INTEG_STOP_MS);
}
END_TEST

START_TEST(test_tls_probe_needs_close_notify)
{
	struct fake_agent	 fa;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*what;
	char			*out, *err, sbuf[64];
	int			 status, cn;

	integ_pki_make(&pa, "a");
	memset(&fa, 0, sizeof(fa));
	fa.ctx = SSL_CTX_new(TLS_server_method());
	ck_assert(fa.ctx != NULL);
	ck_assert(SSL_CTX_set_min_proto_version(fa.ctx, TLS1_2_VERSION) == 1);
	ck_assert_msg(SSL_CTX_use_certificate_chain_file(fa.ctx,
	    pa.srv_crt) == 1 && SSL_CTX_use_PrivateKey_file(fa.ctx,
	    pa.srv_key, SSL_FILETYPE_PEM) == 1, "cannot load %s", pa.srv_crt);
	ck_assert(SSL_CTX_load_verify_locations(fa.ctx, pa.ca, NULL) == 1);
	SSL_CTX_set_verify(fa.ctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Nothing but the close, or its absence, after the handshake. */
	SSL_CTX_set_num_tickets(fa.ctx, 0);
	fa.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(fa.lfd != -1);
	integ_addr(AF_INET, 0, &ss, &len);
	ck_assert(bind(fa.lfd, (struct sockaddr *)&ss, len) == 0);
	ck_assert(listen(fa.lfd, 4) == 0);
	fa.port = integ_local_port(fa.lfd);

	for (cn = 0; cn <= 1; cn++) {
		what = cn ? "close_notify, then FIN" :
		    "FIN without close_notify";
		fa.close_notify = cn;
		fa.got = 0;
		fa.err[0] = '\0';
		ck_assert(pthread_create(&fa.thread, NULL, fake_agent_main,
		    &fa) == 0);
		status = integ_probe_run("tls-stream", fa.port, &pa, &pa, "5s",
		    &out, &err);
		ck_assert(pthread_join(fa.thread, NULL) == 0);
		ck_assert_msg(fa.err[0] == '\0', "fake agent (%s): %s", what,
		    fa.err);
		if (cn) {
			ck_assert_msg(status != -1 && WIFEXITED(status) &&
			    WEXITSTATUS(status) == 0, "probe, answered with "
			    "%s: %s, expected exit status 0; stdout: %s "
			    "stderr: %s", what, integ_status_str(status, sbuf,
			    sizeof(sbuf)), out, err);
			ck_assert_msg(strncmp(out, "OK tls-stream://127.0.0.1:",
			    26) == 0, "probe printed \"%s\"", out);
		} else
			assert_probe_fail(status, out, err, "after the "
			    "handshake", "answered with a FIN without "
			    "close_notify");
		free(out);
		free(err);
	}
	close(fa.lfd);
	SSL_CTX_free(fa.ctx);
}
END_TEST

/*
 * 12. A reload while a connection waits before its handshake, on a
 * server with fallback (only a comment changed): the handshake that
 * follows, offering http/1.1, goes to the fallback.  The ALPN callback
 * used to read the service's settings through the TLS context, which
 * still pointed into the configuration the reload freed: ASan reported
 * a heap-use-after-free, a plain build read stale memory and passed.
 */
START_TEST(test_tls_reload_during_handshake)
{
	struct integ_echo	*echo, *fb;
	struct integ_ssl	 c;
	char			 extra[256], line[INTEG_LINE_MAX], alpn[64];
	char			 dst[64], buf[256], *conf;
	const char		*msg = "GET / HTTP/1.1\r\n\r\n";
	uint64_t		 deadline;
	size_t			 n, mark;
	uint16_t		 sport;
	long long		 flows = -1;
	int			 how;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	fb = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_pki_make(&pa, "a");
	snprintf(extra, sizeof(extra), "    allow: [\"127.0.0.0/8\"]\n"
	    "    fallback: tcp://127.0.0.1:%u\n",
	    (unsigned)integ_echo_port(fb));
	sport = srv_start(&pa, extra);

	/* Connected, no ClientHello yet: wait until the daemon has it. */
	tc_new(&c, "http/1.1", pa.cli_crt, pa.cli_key, pa.ca, 0);
	tc_connect(&c, sport);
	deadline = integ_now_ms() + INTEG_LOG_MS;
	while (flows != 1 && integ_now_ms() < deadline) {
		mark = integ_log_mark();
		integ_daemon_signal(SIGUSR1);
		if (integ_log_wait(mark, "info stats service=agent flows=",
		    INTEG_LOG_MS, line, sizeof(line)) == 0)
			flows = integ_field_num(line, "flows");
		if (flows != 1)
			integ_sleep_ms(20);
	}
	ck_assert_msg(flows == 1, "the server did not take our connection "
	    "(flows=%lld)", flows);

	conf = integ_read_file(integ.conf, NULL);
	ck_assert_ptr_nonnull(conf);
	integ_conf_write("%s# reloaded: only this comment is new\n", conf);
	free(conf);
	mark = integ_log_mark();
	integ_daemon_signal(SIGHUP);
	ck_assert_msg(integ_log_wait(mark, "configuration reloaded",
	    INTEG_LOG_MS, NULL, 0) == 0, "no \"configuration reloaded\" "
	    "within %d ms", INTEG_LOG_MS);

	ck_assert_msg(tc_handshake(&c) == 0, "handshake after the reload: %s",
	    c.err);
	ck_assert_str_eq(tc_alpn(&c, alpn, sizeof(alpn)), "http/1.1");
	tc_ping(&c, msg, "fallback after the reload");
	integ_ssl_shutdown(&c);
	n = tc_read_eof(&c, buf, sizeof(buf), INTEG_IO_MS, &how);
	ck_assert_msg(n == 0 && how == 0, "after close_notify: %zu bytes, "
	    "then %s (%s)", n, how_str(how), c.err);
	integ_closed_line("agent", c.lport, line, sizeof(line),
	    "fallback after reload");
	integ_assert_field(line, "reason", "closed");
	snprintf(dst, sizeof(dst), "127.0.0.1:%u",
	    (unsigned)integ_echo_port(fb));
	integ_assert_field(line, "dst", dst);
	integ_assert_num(line, "bytes_in", (long long)strlen(msg));
	integ_ssl_close(&c);
	ck_assert_uint_eq(integ_echo_count(fb), 1);
	ck_assert_uint_eq(integ_echo_count(echo), 0);

	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
	integ_echo_stop(fb);
}
END_TEST

static Suite *
tls_suite(void)
{
	Suite	*s;

	s = suite_create("tls");
	tcase_add_test(integ_tcase(s, "client_server_64mib", 60),
	    test_tls_client_server_64mib);
	tcase_add_test(integ_tcase(s, "fin_in_flight", 60),
	    test_tls_fin_in_flight);
	tcase_add_test(integ_tcase(s, "small_buffer", 60),
	    test_tls_small_buffer);
	tcase_add_test(integ_tcase(s, "error_behind_data", 20),
	    test_tls_error_behind_data);
	tcase_add_test(integ_tcase(s, "renegotiation_flood_bounded", 60),
	    test_tls_renegotiation_flood_bounded);
	tcase_add_test(integ_tcase(s, "s_client_vector", 20),
	    test_tls_s_client_vector);
	tcase_add_test(integ_tcase(s, "refusals", 20), test_tls_refusals);
	tcase_add_test(integ_tcase(s, "bad_headers", 30), test_tls_bad_headers);
	tcase_add_test(integ_tcase(s, "fallback", 20), test_tls_fallback);
	tcase_add_test(integ_tcase(s, "probe", 30), test_tls_probe);
	tcase_add_test(integ_tcase(s, "allow", 20), test_tls_allow);
	tcase_add_test(integ_tcase(s, "many_tunnels", 60),
	    test_tls_many_tunnels);
	tcase_add_test(integ_tcase(s, "half_close", 20), test_tls_half_close);
	tcase_add_test(integ_tcase(s, "tls12_session_reuse", 20),
	    test_tls_tls12_session_reuse);
	tcase_add_test(integ_tcase(s, "probe_needs_close_notify", 30),
	    test_tls_probe_needs_close_notify);
	tcase_add_test(integ_tcase(s, "reload_during_handshake", 20),
	    test_tls_reload_during_handshake);
	return (s);
}

int
main(void)
{
	return (integ_suite_run(tls_suite()));
}
