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
 * flowgate probe: GoDoxy's stream health check as a command.  It connects,
 * completes the TLS handshake with the client certificate given, sends
 * the health-check header and waits for the server's close_notify.  Exit
 * status 0 means the server accepted the probe; 1 that it did not (the
 * reason is printed); 2 a usage error.  Under TLS 1.3 a server that
 * rejects the client certificate says so only after the client's handshake
 * has finished, so success is judged on the close, never on the handshake.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "flowgate.h"
#include "proto/stream_header.h"

#define PROBE_OK	0
#define PROBE_FAIL	1
#define PROBE_USAGE	2

#define PROBE_SLACK_US	100000	/* DTLS: least answer time worth a retry */

struct probe {
	struct event_base	*base;
	struct bufferevent	*bev;
	uint64_t		 start;	/* µs */
	uint64_t		 handshake;	/* µs when the handshake ended */
	int			 attempts;	/* DTLS: unanswered ones before */
	int			 status;
	char			 why[512];
};

static uint64_t
probe_now_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

static void
probe_why_openssl(struct probe *pr, const char *what)
{
	unsigned long	e;
	char		buf[256];

	buf[0] = '\0';
	while ((e = bufferevent_get_openssl_error(pr->bev)) != 0)
		if (buf[0] == '\0' && ERR_GET_LIB(e) != ERR_LIB_SYS &&
		    ERR_GET_LIB(e) != 0)
			ERR_error_string_n(e, buf, sizeof(buf));
	if (buf[0] == '\0' && EVUTIL_SOCKET_ERROR() != 0)
		snprintf(buf, sizeof(buf), "%s",
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	snprintf(pr->why, sizeof(pr->why), "%s%s%s", what,
	    buf[0] != '\0' ? ": " : "", buf);
}

/* Why an SSL call on the DTLS probe failed. */
static void
probe_why_ssl(struct probe *pr, const char *what)
{
	char	buf[256];

	tls_error_reason(buf, sizeof(buf));
	if (buf[0] == '\0' && errno != 0)
		snprintf(buf, sizeof(buf), "%s", strerror(errno));
	snprintf(pr->why, sizeof(pr->why), "%s%s%s", what,
	    buf[0] != '\0' ? ": " : "", buf);
}

static void
probe_read_cb(struct bufferevent *bev, void *arg)
{
	struct probe	*pr = arg;

	/* A health check is never answered with data. */
	evbuffer_drain(bufferevent_get_input(bev),
	    evbuffer_get_length(bufferevent_get_input(bev)));
	snprintf(pr->why, sizeof(pr->why), "server sent data instead of "
	    "closing");
	pr->status = PROBE_FAIL;
	event_base_loopexit(pr->base, NULL);
}

static void
probe_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct probe	*pr = arg;
	uint8_t		 hdr[SH_SIZE];

	if (what & BEV_EVENT_CONNECTED) {
		pr->handshake = probe_now_us();
		tcp_nodelay(bufferevent_getfd(bev));
		sh_build_health(hdr);
		bufferevent_write(bev, hdr, sizeof(hdr));
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		/* Without dirty shutdowns allowed, EOF is a close_notify. */
		if (pr->handshake != 0) {
			pr->status = PROBE_OK;
		} else
			snprintf(pr->why, sizeof(pr->why), "closed during "
			    "the handshake");
	} else if (what & BEV_EVENT_TIMEOUT) {
		snprintf(pr->why, sizeof(pr->why), "timed out %s",
		    pr->handshake != 0 ? "waiting for close_notify" :
		    "in the handshake");
	} else
		probe_why_openssl(pr, pr->handshake != 0 ?
		    "rejected after the handshake" : "handshake failed");
	event_base_loopexit(pr->base, NULL);
}

/*
 * One DTLS probe attempt: a connected UDP socket, poll() and OpenSSL's
 * timers.  Same contract as over TLS: handshake, health header in its own
 * record, and a close_notify back, here within "answer" µs of sending the
 * header (and before "deadline").  Returns 1 when the header went out and
 * nothing came back in time, the one outcome worth another attempt; 0
 * otherwise, with pr->status and pr->why set.
 */
static int
probe_dtls_once(struct service_conf *sc, struct addrinfo *ai,
    uint64_t deadline, uint64_t answer, struct probe *pr)
{
	struct pollfd	 pfd;
	struct timeval	 tv;
	uint8_t		 hdr[SH_SIZE], buf[2048];
	uint64_t	 until = deadline, now, wait;
	SSL		*ssl = NULL;
	BIO		*b;
	int		 fd, r, done = 0, e, again = 0;

	pr->start = probe_now_us();
	pr->handshake = 0;
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
		snprintf(pr->why, sizeof(pr->why), "connect: %s",
		    strerror(errno));
		goto out;
	}
	if ((ssl = tls_client_new(sc)) == NULL ||
	    (b = BIO_new_dgram(fd, BIO_NOCLOSE)) == NULL)
		fatalx("probe: out of memory");
	(void)BIO_ctrl(b, BIO_CTRL_DGRAM_SET_CONNECTED, 0, ai->ai_addr);
	SSL_set_bio(ssl, b, b);
	SSL_set_mtu(ssl, 1200);
	SSL_set_connect_state(ssl);
	for (;;) {
		ERR_clear_error();
		errno = 0;
		if (!done) {
			if ((r = SSL_do_handshake(ssl)) == 1) {
				done = 1;
				pr->handshake = probe_now_us();
				if (pr->handshake + answer < until)
					until = pr->handshake + answer;
				sh_build_health(hdr);
				if (SSL_write(ssl, hdr, sizeof(hdr)) !=
				    (int)sizeof(hdr)) {
					probe_why_ssl(pr, "header write");
					goto out;
				}
				continue;
			}
		} else {
			if ((r = SSL_read(ssl, buf, sizeof(buf))) > 0) {
				snprintf(pr->why, sizeof(pr->why), "server "
				    "sent data instead of closing");
				goto out;
			}
		}
		e = SSL_get_error(ssl, r);
		if (done && e == SSL_ERROR_ZERO_RETURN) {
			pr->status = PROBE_OK;
			goto out;
		}
		if (e != SSL_ERROR_WANT_READ) {
			probe_why_ssl(pr, done ? "rejected after the handshake" :
			    "handshake failed");
			goto out;
		}
		if ((now = probe_now_us()) >= until) {
			snprintf(pr->why, sizeof(pr->why), "timed out %s",
			    done ? "waiting for close_notify" :
			    "in the handshake");
			again = done;
			goto out;
		}
		wait = until - now;
		if (DTLSv1_get_timeout(ssl, &tv) == 1 &&
		    (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec < wait)
			wait = (uint64_t)tv.tv_sec * 1000000 +
			    (uint64_t)tv.tv_usec;
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(wait / 1000) + 1) == 0)
			(void)DTLSv1_handle_timeout(ssl);
	}
out:
	if (ssl != NULL) {
		if (pr->status == PROBE_OK)
			(void)SSL_shutdown(ssl);
		SSL_free(ssl);
	}
	if (fd != -1)
		close(fd);
	return (again);
}

/*
 * The DTLS probe.  A DTLS close_notify is one datagram with nothing behind
 * it: pion/dtls (GoDoxy's agent) loses it now and then, when its read loop
 * closes the socket before Close() has written the alert.  So an attempt
 * that got the header out but no answer is repeated with a fresh handshake
 * while the deadline leaves room for two more handshakes like the last:
 * the first waits a second for the answer, each next one twice as long as
 * the one before, and at least ten of the last handshake's time.  Every
 * other failure is final.
 */
static void
probe_dtls(struct service_conf *sc, struct addrinfo *ai, uint64_t timeout,
    struct probe *pr)
{
	uint64_t	deadline, answer = 1000000, hs;

	deadline = probe_now_us() + timeout * 1000;
	while (probe_dtls_once(sc, ai, deadline, answer, pr)) {
		hs = pr->handshake - pr->start;
		if (probe_now_us() + 2 * hs + PROBE_SLACK_US >= deadline)
			break;
		pr->attempts++;
		if (answer < hs * 10)
			answer = hs * 10;
		answer *= 2;
	}
}

static __dead void
probe_usage(void)
{
	fprintf(stderr, "usage: flowgate probe [-a ca] [-c cert] [-k key] "
	    "[-n name] [-t timeout] url\n");
	exit(PROBE_USAGE);
}

int
probe_main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "timeout", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 }
	};
	struct service_conf	 sc;
	struct probe		 pr;
	struct addrinfo		 hints, *ai = NULL;
	struct timeval		 tv;
	const char		*errstr;
	char			*err = NULL, port[8];
	uint64_t		 timeout = 5000;
	SSL			*ssl = NULL;
	int			 ch, rc, dtls;

	memset(&sc, 0, sizeof(sc));
	memset(&pr, 0, sizeof(pr));
	pr.status = PROBE_FAIL;
	sc.name = "probe";
	sc.tls.verify_name = CERTS_NAME_DEFAULT;
	sc.tls.min_version = TLS_V12;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "a:c:k:n:t:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'a':
			sc.tls.ca = optarg;
			break;
		case 'c':
			sc.tls.cert = optarg;
			break;
		case 'k':
			sc.tls.key = optarg;
			break;
		case 'n':
			sc.tls.verify_name = optarg;
			break;
		case 't':
			if (parse_duration(optarg, &timeout, &errstr) == -1 ||
			    timeout == 0) {
				fprintf(stderr, "flowgate probe: -t %s: %s\n",
				    optarg, timeout == 0 ? "zero" : errstr);
				return (PROBE_USAGE);
			}
			break;
		default:
			probe_usage();
		}
	}
	if (optind != argc - 1)
		probe_usage();
	if (url_parse(argv[optind], &sc.forward, &errstr) == -1) {
		fprintf(stderr, "flowgate probe: %s: %s\n", argv[optind],
		    errstr);
		return (PROBE_USAGE);
	}
	if (strcmp(sc.forward.scheme, "tls-stream") != 0 &&
	    strcmp(sc.forward.scheme, "dtls") != 0) {
		fprintf(stderr, "flowgate probe: %s: scheme must be "
		    "tls-stream or dtls\n", argv[optind]);
		return (PROBE_USAGE);
	}
	dtls = strcmp(sc.forward.scheme, "dtls") == 0;
	if (sc.forward.host[0] == '\0' || !sc.forward.has_port ||
	    sc.forward.port == 0) {
		fprintf(stderr, "flowgate probe: %s: needs host:port\n",
		    argv[optind]);
		return (PROBE_USAGE);
	}
	if (sc.tls.ca == NULL) {
		fprintf(stderr, "flowgate probe: -a ca is required to verify "
		    "the server\n");
		return (PROBE_USAGE);
	}

	if ((sc.tls_ctx = tls_ctx_new(&sc, 0, dtls, &err)) == NULL) {
		printf("FAIL %s: %s\n", argv[optind], err);
		free(err);
		return (PROBE_FAIL);
	}
	/* Only a close_notify is an answer; a bare FIN is not. */
	SSL_CTX_clear_options(sc.tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = dtls ? SOCK_DGRAM : SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", sc.forward.port);
	if ((rc = getaddrinfo(sc.forward.host, port, &hints, &ai)) != 0) {
		printf("FAIL %s: cannot resolve %s: %s\n", argv[optind],
		    sc.forward.host, gai_strerror(rc));
		tls_ctx_free(sc.tls_ctx);
		return (PROBE_FAIL);
	}
	if (dtls) {
		probe_dtls(&sc, ai, timeout, &pr);
		goto report;
	}
	if ((pr.base = event_base_new()) == NULL ||
	    (ssl = tls_client_new(&sc)) == NULL)
		fatalx("probe: out of memory");
	pr.bev = bufferevent_openssl_socket_new(pr.base, -1, ssl,
	    BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (pr.bev == NULL)
		fatalx("probe: cannot make a TLS bufferevent");
	bufferevent_setcb(pr.bev, probe_read_cb, NULL, probe_event_cb, &pr);
	tv.tv_sec = (time_t)(timeout / 1000);
	tv.tv_usec = (suseconds_t)((timeout % 1000) * 1000);
	bufferevent_set_timeouts(pr.bev, &tv, &tv);
	pr.start = probe_now_us();
	if (bufferevent_socket_connect(pr.bev, ai->ai_addr,
	    (int)ai->ai_addrlen) == -1)
		snprintf(pr.why, sizeof(pr.why), "connect: %s",
		    strerror(errno));
	else
		event_base_dispatch(pr.base);

	bufferevent_free(pr.bev);
	event_base_free(pr.base);
report:
	if (pr.status == PROBE_OK) {
		printf("OK %s latency=%.1fms handshake=%.1fms", argv[optind],
		    (double)(probe_now_us() - pr.start) / 1000.0,
		    (double)(pr.handshake - pr.start) / 1000.0);
		if (pr.attempts > 0)
			printf(" unanswered=%d", pr.attempts);
	} else {
		printf("FAIL %s: %s", argv[optind], pr.why);
		if (pr.attempts > 0)
			printf(" (%d attempts)", pr.attempts + 1);
	}
	printf("\n");
	freeaddrinfo(ai);
	tls_ctx_free(sc.tls_ctx);
	return (pr.status);
}
