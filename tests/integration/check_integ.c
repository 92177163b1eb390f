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
 * Integration suite: the real flowgate binary on loopback, between test
 * clients and in-process echo servers.  Every test asserts the bytes that
 * came back, how the connection ended and what the daemon logged, then
 * stops the daemon with SIGTERM and asserts exit status 0.  Configurations
 * listen on port 0; the daemon reports the ports it bound in the port file
 * (-P).  On failure the runner prints the daemon's log.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "integ.h"

/* Lines 1-4 of every config; services follow from line 5. */
#define CONF_HEAD(drain)						\
	"workers: 2\n"							\
	"log: {level: debug}\n"						\
	"drain_timeout: " drain "\n"					\
	"services:\n"

#define RELOAD_MS	5000	/* SIGHUP to "configuration reloaded" */

/*
 * 1. Many UDP sources at once: each gets exactly its own replies.
 */
#define MANY_SOURCES	200
#define MANY_ROUNDS	5

/* The datagram of source src in round seq: unique, of varying length. */
static size_t
many_msg(char *buf, size_t size, int src, int seq)
{
	size_t	n;
	int	pad, i;

	n = (size_t)snprintf(buf, size, "flowgate src=%03d seq=%d ", src, seq);
	pad = (src * 7 + seq * 13) % 97;
	for (i = 0; i < pad && n + 1 < size; i++)
		buf[n++] = (char)('a' + (src + seq + i) % 26);
	return (n);
}

START_TEST(test_integ_udp_many_sources)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	struct pollfd		 pfd[MANY_SOURCES];
	uint16_t		 ports[MANY_SOURCES];
	long long		 bytes[MANY_SOURCES];
	int			 got[MANY_SOURCES], seen[MANY_SOURCES];
	char			 want[256], buf[2048], *log, *p, *nl;
	char			 peer[64];
	size_t			 wlen;
	uint64_t		 deadline;
	ssize_t			 n;
	int			 i, r, pending, nfound;

	echo = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n"
	    "    idle_timeout: 30s\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);

	for (i = 0; i < MANY_SOURCES; i++) {
		pfd[i].fd = integ_udp_socket(AF_INET, 0);
		ck_assert_msg(pfd[i].fd != -1, "socket %d: %s", i,
		    strerror(errno));
		pfd[i].events = POLLIN;
		ports[i] = integ_local_port(pfd[i].fd);
		bytes[i] = 0;
	}

	/* Every round: all sources send at once, then all replies arrive. */
	for (r = 0; r < MANY_ROUNDS; r++) {
		for (i = 0; i < MANY_SOURCES; i++) {
			wlen = many_msg(want, sizeof(want), i, r);
			bytes[i] += (long long)wlen;
			ck_assert_msg(sendto(pfd[i].fd, want, wlen, 0,
			    (struct sockaddr *)&svc, svclen) == (ssize_t)wlen,
			    "sendto %d: %s", i, strerror(errno));
			got[i] = 0;
		}
		pending = MANY_SOURCES;
		deadline = integ_now_ms() + INTEG_IO_MS;
		while (pending > 0 && integ_now_ms() < deadline) {
			if (poll(pfd, MANY_SOURCES, 100) <= 0)
				continue;
			for (i = 0; i < MANY_SOURCES; i++) {
				if ((pfd[i].revents & POLLIN) == 0)
					continue;
				n = recv(pfd[i].fd, buf, sizeof(buf) - 1,
				    MSG_DONTWAIT);
				if (n == -1)
					continue;
				buf[n] = '\0';
				wlen = many_msg(want, sizeof(want), i, r);
				ck_assert_msg(got[i] == 0, "source %d round "
				    "%d: a second reply \"%.40s\"", i, r, buf);
				ck_assert_msg((size_t)n == wlen &&
				    memcmp(buf, want, wlen) == 0,
				    "source %d round %d: got %zd bytes "
				    "\"%.40s\", expected %zu bytes \"%.40s\"",
				    i, r, n, buf, wlen, want);
				got[i] = 1;
				pending--;
			}
		}
		ck_assert_msg(pending == 0, "round %d: %d of %d sources got "
		    "no reply within %d ms", r, pending, MANY_SOURCES,
		    INTEG_IO_MS);
	}

	/* Nothing extra may trail in. */
	integ_sleep_ms(200);
	for (i = 0; i < MANY_SOURCES; i++) {
		n = recv(pfd[i].fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
		buf[n > 0 ? n : 0] = '\0';
		ck_assert_msg(n == -1, "source %d: extra datagram \"%.40s\"", i,
		    buf);
	}
	ck_assert_uint_eq(integ_echo_count(echo),
	    MANY_SOURCES * MANY_ROUNDS);

	/* One flow per source, with its exact counters. */
	integ_daemon_stop_ok(INTEG_STOP_MS);
	memset(seen, 0, sizeof(seen));
	nfound = 0;
	log = integ_log_read(0);
	for (p = log; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		*nl = '\0';
		if (strstr(p, " flow closed service=u ") == NULL)
			continue;
		ck_assert_msg(integ_field(p, "peer", peer, sizeof(peer)) == 0 &&
		    strncmp(peer, "127.0.0.1:", 10) == 0, "bad peer in: %s", p);
		for (i = 0; i < MANY_SOURCES; i++)
			if ((unsigned)atoi(peer + 10) == ports[i])
				break;
		ck_assert_msg(i < MANY_SOURCES, "flow of an unknown peer: %s",
		    p);
		ck_assert_msg(seen[i]++ == 0, "second flow for %s: %s", peer,
		    p);
		integ_assert_num(p, "pkts_in", MANY_ROUNDS);
		integ_assert_num(p, "pkts_out", MANY_ROUNDS);
		integ_assert_num(p, "bytes_in", bytes[i]);
		integ_assert_num(p, "bytes_out", bytes[i]);
		nfound++;
	}
	free(log);
	ck_assert_msg(nfound == MANY_SOURCES, "%d flow closed lines for "
	    "service u, expected %d", nfound, MANY_SOURCES);

	for (i = 0; i < MANY_SOURCES; i++)
		close(pfd[i].fd);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 2. The largest IPv4 UDP payload passes whole both ways.
 */
#define MAX_DGRAM	65507

START_TEST(test_integ_udp_max_datagram)
{
	static const size_t	 sizes[] = { MAX_DGRAM, 1, 30000 };
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	unsigned char		*sent[3], *buf;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	uint64_t		 state = 7;
	ssize_t			 n;
	size_t			 i, j, total = 0;
	int			 fd, matched[3] = { 0, 0, 0 };

	echo = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n"
	    "    idle_timeout: 30s\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);

	fd = integ_udp_socket(AF_INET, 1024 * 1024);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	buf = malloc(MAX_DGRAM + 1);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < 3; i++) {
		sent[i] = malloc(sizes[i]);
		ck_assert_ptr_nonnull(sent[i]);
		integ_fill(sent[i], sizes[i], &state);
		ck_assert_msg(sendto(fd, sent[i], sizes[i], 0,
		    (struct sockaddr *)&svc, svclen) == (ssize_t)sizes[i],
		    "sendto %zu bytes: %s", sizes[i], strerror(errno));
		total += sizes[i];
	}
	/* Match by content: each must come back once, whole. */
	for (i = 0; i < 3; i++) {
		n = integ_recv_wait(fd, buf, MAX_DGRAM + 1, INTEG_IO_MS);
		ck_assert_msg(n > 0, "reply %zu of 3: %s", i + 1,
		    integ_io_state());
		for (j = 0; j < 3; j++)
			if ((size_t)n == sizes[j] && !matched[j] &&
			    memcmp(buf, sent[j], sizes[j]) == 0)
				break;
		ck_assert_msg(j < 3, "reply of %zd bytes matches no datagram "
		    "sent (or repeats one)", n);
		matched[j] = 1;
	}
	n = integ_recv_wait(fd, buf, MAX_DGRAM + 1, 200);
	ck_assert_msg(n == -1, "extra reply of %zd bytes", n);

	integ_daemon_stop_ok(INTEG_STOP_MS);
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "u",
	    "127.0.0.1", integ_local_port(fd)), 0, line, sizeof(line)) == 0,
	    "no flow closed line for our flow");
	integ_assert_num(line, "pkts_in", 3);
	integ_assert_num(line, "pkts_out", 3);
	integ_assert_num(line, "bytes_in", (long long)total);
	integ_assert_num(line, "bytes_out", (long long)total);

	for (i = 0; i < 3; i++)
		free(sent[i]);
	free(buf);
	close(fd);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 3. A UDP flow lives while traffic flows, expires 1s after it stops, and
 * a later datagram from the same source opens a new flow.
 */
START_TEST(test_integ_udp_idle_expiry)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 msg[64];
	char			 re_idle[INTEG_RE_MAX + 32];
	uint64_t		 last, waited;
	size_t			 mark, bytes = 0;
	long long		 first_id;
	unsigned		 port;
	int			 fd, k;

	echo = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n"
	    "    idle_timeout: 1s\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);
	fd = integ_udp_socket(AF_INET, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	port = integ_local_port(fd);
	integ_re_closed(re, sizeof(re), "u", "127.0.0.1", port);
	snprintf(re_idle, sizeof(re_idle), "%s.* reason=idle( |$)", re);

	/* 2.4 s of traffic, a datagram every 400 ms: no expiry. */
	for (k = 0; k < 7; k++) {
		if (k > 0)
			integ_sleep_ms(400);
		snprintf(msg, sizeof(msg), "keepalive %d", k);
		integ_udp_ping_ok(fd, &svc, svclen, msg, "active flow");
		bytes += strlen(msg);
	}
	last = integ_now_ms();
	ck_assert_msg(integ_log_count(0, re) == 0, "flow closed while "
	    "traffic was flowing");

	/* Silence: the flow expires after about 1 s, not before. */
	ck_assert_msg(integ_log_wait(0, re_idle, INTEG_LOG_MS, line,
	    sizeof(line)) == 0, "no \"flow closed ... reason=idle\" for peer "
	    "port %u within %d ms", port, INTEG_LOG_MS);
	waited = integ_now_ms() - last;
	ck_assert_msg(waited >= 900, "flow expired %llu ms after the last "
	    "datagram; idle_timeout is 1s", (unsigned long long)waited);
	integ_assert_num(line, "pkts_in", 7);
	integ_assert_num(line, "pkts_out", 7);
	integ_assert_num(line, "bytes_in", (long long)bytes);
	integ_assert_num(line, "bytes_out", (long long)bytes);
	first_id = integ_field_num(line, "flow");
	ck_assert_msg(first_id >= 0, "no flow id in: %s", line);

	/* The same source again: a new flow that works and expires too. */
	mark = integ_log_mark();
	integ_udp_ping_ok(fd, &svc, svclen, "after expiry", "new flow");
	ck_assert_msg(integ_log_wait(mark, re_idle, INTEG_LOG_MS, line,
	    sizeof(line)) == 0, "the new flow did not expire");
	ck_assert_msg(integ_field_num(line, "flow") != first_id,
	    "the new flow reuses id %lld", first_id);
	integ_assert_num(line, "pkts_in", 1);
	integ_assert_num(line, "bytes_out", (long long)strlen("after expiry"));

	close(fd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 4. 100 MiB each way through a TCP service, sent and received at once;
 * the SHA-256 of what came back equals that of what was sent.
 */
#define BIG_TOTAL	(100ULL * 1024 * 1024)
#define BIG_MS		45000

START_TEST(test_integ_tcp_100mib_sha256)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 more[512];
	ssize_t			 n;
	int			 fd;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: t\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tcp://127.0.0.1:%u\n"
	    "    connect_timeout: 2s\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("t", "tcp", &svc, &svclen);

	fd = integ_tcp_connect_ok(&svc, svclen, "service t");
	integ_bulk_echo(fd, BIG_TOTAL, 1, BIG_MS);

	/* Nothing more may come; then the flow closes with full counts. */
	n = integ_recv_wait(fd, more, sizeof(more), 100);
	ck_assert_msg(n == -1 && errno == ETIMEDOUT, "data beyond %llu "
	    "bytes", BIG_TOTAL);
	integ_re_closed(re, sizeof(re), "t", "127.0.0.1", integ_local_port(fd));
	close(fd);
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, sizeof(line)) ==
	    0, "no flow closed line for the 100 MiB flow");
	integ_assert_num(line, "bytes_in", (long long)BIG_TOTAL);
	integ_assert_num(line, "bytes_out", (long long)BIG_TOTAL);
	integ_assert_field(line, "reason", "closed");

	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * 5. Half-close: the client's FIN reaches the server, and the server's
 * answer, written after that FIN, still reaches the client, then EOF.
 */
#define HALF_REQ	(1024 * 1024)

START_TEST(test_integ_tcp_half_close)
{
	struct integ_echo	*srv;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	unsigned char		*req;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	uint64_t		 state = 5;
	size_t			 alen;
	unsigned		 port;
	int			 fd;

	srv = integ_echo_start(INTEG_ECHO_HALFCLOSE, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: h\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tcp://127.0.0.1:%u\n"
	    "    connect_timeout: 2s\n", (unsigned)integ_echo_port(srv));
	integ_daemon_start();
	integ_service_get("h", "tcp", &svc, &svclen);

	req = malloc(HALF_REQ);
	ck_assert_ptr_nonnull(req);
	integ_fill(req, HALF_REQ, &state);

	fd = integ_tcp_connect_ok(&svc, svclen, "service h");
	port = integ_local_port(fd);
	alen = integ_halfclose_ok(fd, req, HALF_REQ, "service h");
	close(fd);
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "h",
	    "127.0.0.1", port), INTEG_LOG_MS, line, sizeof(line)) == 0,
	    "no flow closed line for the half-closed flow");
	integ_assert_num(line, "bytes_in", HALF_REQ);
	integ_assert_num(line, "bytes_out", (long long)alen);
	integ_assert_field(line, "reason", "closed");
	free(req);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(srv);
}
END_TEST

/*
 * 6. A target that refuses: flowgate closes the client's connection and
 * logs reason=refused.
 */
START_TEST(test_integ_tcp_refused_target)
{
	struct sockaddr_storage	svc;
	socklen_t		svclen;
	char			line[INTEG_LINE_MAX], re[INTEG_RE_MAX], dst[64];
	unsigned		dead, port;
	int			fd;

	dead = integ_unused_port(AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: r\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tcp://127.0.0.1:%u\n"
	    "    connect_timeout: 2s\n", dead);
	integ_daemon_start();
	integ_service_get("r", "tcp", &svc, &svclen);

	fd = integ_tcp_connect_ok(&svc, svclen, "service r");
	port = integ_local_port(fd);
	/* It may already be closed: the result does not matter. */
	(void)send(fd, "hello?", 6, MSG_NOSIGNAL);
	integ_assert_closed_empty(fd, 2000 + 3000, "connection to a refused "
	    "target");
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "r",
	    "127.0.0.1", port), INTEG_LOG_MS, line, sizeof(line)) == 0,
	    "no flow closed line for the refused flow");
	integ_assert_field(line, "reason", "refused");
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", dead);
	integ_assert_field(line, "dst", dst);
	integ_assert_num(line, "bytes_out", 0);

	close(fd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
}
END_TEST

/*
 * An ICMP port unreachable from a UDP target ends that flow with reason
 * refused; the next datagram from the same client starts a new flow.
 */
START_TEST(test_integ_udp_icmp_refused)
{
	struct sockaddr_storage	svc;
	socklen_t		svclen;
	char			line[INTEG_LINE_MAX], re[INTEG_RE_MAX], dst[64];
	unsigned		dead, port;
	int			fd, i;

	dead = integ_unused_port(AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n", dead);
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);
	fd = integ_udp_socket(AF_INET, 0);
	ck_assert(fd != -1);
	port = integ_local_port(fd);
	/* The first send goes out; the ICMP answer ends the flow. */
	for (i = 0; i < 3; i++) {
		ck_assert(sendto(fd, "anyone?", 7, 0, (struct sockaddr *)&svc,
		    svclen) == 7);
		if (integ_log_wait(0, integ_re_closed(re, sizeof(re), "u",
		    "127.0.0.1", port), 1000, line, sizeof(line)) == 0)
			break;
	}
	ck_assert_msg(i < 3, "no flow closed line after an ICMP error");
	integ_assert_field(line, "reason", "refused");
	snprintf(dst, sizeof(dst), "127.0.0.1:%u", dead);
	integ_assert_field(line, "dst", dst);
	ck_assert_msg(strstr(line, "error=\"Connection refused\"") != NULL,
	    "no error detail in: %s", line);
	close(fd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
}
END_TEST

/*
 * Datagrams of one flow keep their order, and forward endpoints given by
 * host name are resolved (through /etc/hosts here) without blocking.
 */
#define ORDER_N		2000
#define ORDER_WINDOW	16

START_TEST(test_integ_udp_order_and_names)
{
	struct integ_echo	*uecho, *techo;
	struct sockaddr_storage	 usvc, tsvc;
	socklen_t		 usvclen, tsvclen;
	uint32_t		 seq, got, next = 0;
	uint64_t		 deadline;
	ssize_t			 n;
	int			 fd, tfd;
	uint32_t		 sent = 0;

	uecho = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	techo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://localhost:%u\n"
	    "  - name: t\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tcp://localhost:%u\n",
	    (unsigned)integ_echo_port(uecho), (unsigned)integ_echo_port(techo));
	integ_daemon_start();
	integ_service_get("u", "udp", &usvc, &usvclen);
	integ_service_get("t", "tcp", &tsvc, &tsvclen);

	fd = integ_udp_socket(AF_INET, 1 << 20);
	ck_assert(fd != -1);
	deadline = integ_now_ms() + 20000;
	while (next < ORDER_N && integ_now_ms() < deadline) {
		while (sent < ORDER_N && sent - next < ORDER_WINDOW) {
			seq = htonl(sent);
			ck_assert(sendto(fd, &seq, sizeof(seq), 0,
			    (struct sockaddr *)&usvc, usvclen) == sizeof(seq));
			sent++;
		}
		n = integ_recv_wait(fd, &got, sizeof(got), INTEG_IO_MS);
		ck_assert_msg(n == sizeof(got), "reply %u: %s", next,
		    integ_io_state());
		ck_assert_msg(ntohl(got) == next, "reply %u came as %u: out "
		    "of order", next, ntohl(got));
		next++;
	}
	ck_assert_uint_eq(next, ORDER_N);
	ck_assert_msg(integ_log_count(0, "cannot resolve") == 0,
	    "localhost did not resolve");

	tfd = integ_tcp_connect_ok(&tsvc, tsvclen, "service t by name");
	integ_tcp_ping_ok(tfd, "by name", "service t by name");
	close(tfd);
	close(fd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(uecho);
	integ_echo_stop(techo);
}
END_TEST

/*
 * Bursts of datagrams that flowgate sends as segmented runs (UDP GSO: a
 * run of one size, the last may be shorter) keep every boundary, every
 * byte and their order, both ways: equal sizes, a shorter one ending a
 * run, a longer one starting the next, one byte, and a run that would
 * pass 64 KiB together.
 */
#define BURST_N		64
#define BURST_ROUNDS	3

static size_t
burst_size(int i)
{
	if (i == BURST_N - 1)
		return (1);
	if (i >= 40)
		return (9000);		/* seven of them pass 64 KiB */
	if (i % 9 == 4)
		return (700);		/* shorter: ends a run */
	if (i % 13 == 6)
		return (1400);		/* longer: starts one */
	return (1200);
}

START_TEST(test_integ_udp_burst_boundaries)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	unsigned char		*sent[BURST_N], *buf;
	uint64_t		 state = 11;
	size_t			 len;
	ssize_t			 n;
	int			 fd, i, r;

	echo = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);

	fd = integ_udp_socket(AF_INET, 4 << 20);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	buf = malloc(65536);
	ck_assert_ptr_nonnull(buf);
	for (i = 0; i < BURST_N; i++) {
		sent[i] = malloc(burst_size(i));
		ck_assert_ptr_nonnull(sent[i]);
	}
	/* The first round sets the flow up; the others hit a live one. */
	for (r = 0; r < BURST_ROUNDS; r++) {
		for (i = 0; i < BURST_N; i++) {
			len = burst_size(i);
			integ_fill(sent[i], len, &state);
			ck_assert_msg(sendto(fd, sent[i], len, 0,
			    (struct sockaddr *)&svc, svclen) == (ssize_t)len,
			    "sendto: %s", strerror(errno));
		}
		for (i = 0; i < BURST_N; i++) {
			len = burst_size(i);
			n = integ_recv_wait(fd, buf, 65536, INTEG_IO_MS);
			ck_assert_msg(n > 0, "round %d reply %d: %s", r, i,
			    integ_io_state());
			ck_assert_msg((size_t)n == len && memcmp(buf, sent[i],
			    len) == 0, "round %d reply %d: %zd bytes where "
			    "%zu were due, or other bytes (boundary or order "
			    "lost)", r, i, n, len);
		}
	}
	n = integ_recv_wait(fd, buf, 65536, 200);
	ck_assert_msg(n == -1, "extra reply of %zd bytes", n);

	for (i = 0; i < BURST_N; i++)
		free(sent[i]);
	free(buf);
	close(fd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * Runs of datagrams handed over whole keep their boundaries both ways.
 * Two clients send segmented runs (UDP_SEGMENT, as a GSO sender does),
 * which flowgate's listening socket reads as one buffer each (UDP_GRO),
 * interleaved so that one read holds runs of both.  The destination is
 * this test: it must get every datagram on its own, in order per flow,
 * and answers each flow with segmented runs of other bytes, which the
 * flows' sockets read the same way.  Sizes: full runs, a shorter last
 * datagram, tiny ones; then an empty datagram each way.  The SIGUSR1
 * counter says how many datagrams came in runs: all of them.
 */
static const struct {
	uint16_t	seg;
	int		count;		/* full-size datagrams */
	size_t		tail;		/* then one this long, if not 0 */
} gro_runs[] = {
	{ 1000, 20, 333 },
	{ 1200, 40, 0 },
	{ 64, 50, 1 },
	{ 9000, 6, 8999 },
};

/* What one source must deliver, in order, to one socket. */
struct gro_stream {
	const unsigned char	*want;
	size_t			 total, off;	/* off: delivered so far */
	uint16_t		 seg;
	uint16_t		 port;		/* its source, 0 until known */
};

/*
 * Read from fd until every stream is complete.  Each datagram must be the
 * next one of the stream its source port belongs to; a stream's port is
 * learnt from its first datagram, told apart by its bytes.
 */
static void
gro_collect(int fd, struct gro_stream *st, int nst, const char *what,
    int run)
{
	unsigned char		 buf[65536];
	struct sockaddr_storage	 from;
	struct pollfd		 pfd;
	socklen_t		 fromlen;
	uint16_t		 port;
	size_t			 len;
	ssize_t			 n;
	int			 s, left;

	for (;;) {
		for (s = 0, left = 0; s < nst; s++)
			left |= st[s].off < st[s].total;
		if (!left)
			return;
		pfd.fd = fd;
		pfd.events = POLLIN;
		ck_assert_msg(poll(&pfd, 1, INTEG_IO_MS) == 1, "run %d: %s: "
		    "a datagram never came (%s)", run, what, integ_io_state());
		fromlen = sizeof(from);
		n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fromlen);
		ck_assert_msg(n >= 0, "run %d: %s: recvfrom: %s", run, what,
		    strerror(errno));
		port = integ_addr_port(&from);
		for (s = 0; s < nst; s++) {
			if (st[s].off >= st[s].total)
				continue;
			len = st[s].total - st[s].off < st[s].seg ?
			    st[s].total - st[s].off : st[s].seg;
			if (st[s].port == port || (st[s].port == 0 &&
			    (size_t)n == len && memcmp(buf, st[s].want +
			    st[s].off, len) == 0))
				break;
		}
		ck_assert_msg(s < nst, "run %d: %s: %zd bytes from port %u "
		    "that are the next datagram of no flow (a boundary or "
		    "the order lost)", run, what, n, (unsigned)port);
		ck_assert_msg((size_t)n == len && memcmp(buf, st[s].want +
		    st[s].off, len) == 0, "run %d: %s: at byte %zu of flow "
		    "%d: %zd bytes where %zu were due, or other bytes (a "
		    "boundary or the order lost)", run, what, st[s].off, s, n,
		    len);
		st[s].port = port;
		st[s].off += len;
	}
}

START_TEST(test_integ_udp_gro_boundaries)
{
	struct sockaddr_storage	 svc, flow;
	struct gro_stream	 fwd[2], rep[2];
	socklen_t		 svclen, flowlen;
	unsigned char		*req[2], *ans[2], none[1], extra[16];
	char			 line[INTEG_LINE_MAX];
	uint64_t		 state = 23;
	long long		 pkts = 0, bytes = 0;
	size_t			 r, total, mark;
	ssize_t			 n;
	int			 cli[2], dst, c;

	if (!integ_gro_coalesces()) {
		fprintf(stderr, "udp_gro_boundaries: skipped, this kernel "
		    "does not hand segmented runs over whole (UDP_GRO)\n");
		return;
	}
	dst = integ_udp_socket(AF_INET, 4 << 20);
	ck_assert_msg(dst != -1, "socket: %s", strerror(errno));
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n",
	    (unsigned)integ_local_port(dst));
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);
	for (c = 0; c < 2; c++) {
		cli[c] = integ_udp_socket(AF_INET, 4 << 20);
		req[c] = malloc(65536);
		ans[c] = malloc(65536);
		ck_assert_msg(cli[c] != -1 && req[c] != NULL && ans[c] != NULL,
		    "socket: %s", strerror(errno));
	}

	for (r = 0; r < sizeof(gro_runs) / sizeof(gro_runs[0]); r++) {
		total = (size_t)gro_runs[r].seg * (size_t)gro_runs[r].count +
		    gro_runs[r].tail;
		for (c = 0; c < 2; c++) {
			integ_fill(req[c], total, &state);
			integ_fill(ans[c], total, &state);
			fwd[c].want = req[c];
			rep[c].want = ans[c];
			fwd[c].total = rep[c].total = total;
			fwd[c].seg = rep[c].seg = gro_runs[r].seg;
			fwd[c].off = rep[c].off = 0;
			fwd[c].port = rep[c].port = 0;
		}
		pkts += gro_runs[r].count + (gro_runs[r].tail > 0);
		bytes += (long long)total;
		/* Both clients' runs before flowgate reads any. */
		for (c = 0; c < 2; c++)
			ck_assert_msg(integ_send_gso(cli[c],
			    (struct sockaddr *)&svc, svclen, req[c], total,
			    gro_runs[r].seg) == 0, "run %zu: segmented send: "
			    "%s", r, strerror(errno));
		gro_collect(dst, fwd, 2, "forwarded", (int)r);
		for (c = 0; c < 2; c++) {
			integ_addr(AF_INET, fwd[c].port, &flow, &flowlen);
			ck_assert_msg(integ_send_gso(dst,
			    (struct sockaddr *)&flow, flowlen, ans[c], total,
			    gro_runs[r].seg) == 0, "run %zu: segmented reply: "
			    "%s", r, strerror(errno));
		}
		for (c = 0; c < 2; c++)
			gro_collect(cli[c], &rep[c], 1, "reply", (int)r);
	}

	/* An empty datagram is one datagram, each way. */
	ck_assert_int_eq(sendto(cli[0], none, 0, 0, (struct sockaddr *)&svc,
	    svclen), 0);
	n = integ_recv_wait(dst, extra, sizeof(extra), INTEG_IO_MS);
	ck_assert_msg(n == 0, "the empty datagram arrived as %zd bytes (%s)",
	    n, n == -1 ? integ_io_state() : "");
	integ_addr(AF_INET, fwd[0].port, &flow, &flowlen);
	ck_assert_int_eq(sendto(dst, none, 0, 0, (struct sockaddr *)&flow,
	    flowlen), 0);
	n = integ_recv_wait(cli[0], extra, sizeof(extra), INTEG_IO_MS);
	ck_assert_msg(n == 0, "the empty reply arrived as %zd bytes (%s)", n,
	    n == -1 ? integ_io_state() : "");
	ck_assert_msg(integ_recv_wait(dst, extra, sizeof(extra), 200) == -1 &&
	    integ_recv_wait(cli[0], extra, sizeof(extra), 200) == -1 &&
	    integ_recv_wait(cli[1], extra, sizeof(extra), 200) == -1,
	    "a datagram more than was sent");

	/* Every datagram of every run came in a run, both ways. */
	mark = integ_log_mark();
	integ_daemon_signal(SIGUSR1);
	ck_assert_msg(integ_log_wait(mark, "info stats service=u ",
	    INTEG_LOG_MS, line, sizeof(line)) == 0, "no stats line");
	integ_assert_num(line, "coalesced", 4 * pkts);

	/* Each flow carried its client's, every datagram counted once. */
	integ_daemon_stop_ok(INTEG_STOP_MS);
	for (c = 0; c < 2; c++) {
		integ_closed_line("u", integ_local_port(cli[c]), line,
		    sizeof(line), "a client's flow");
		integ_assert_num(line, "pkts_in", pkts + (c == 0));
		integ_assert_num(line, "pkts_out", pkts + (c == 0));
		integ_assert_num(line, "bytes_in", bytes);
		integ_assert_num(line, "bytes_out", bytes);
		integ_assert_num(line, "drops", 0);
		close(cli[c]);
		free(req[c]);
		free(ans[c]);
	}
	close(dst);
}
END_TEST

/*
 * 7. SIGHUP adds a service; the unchanged one keeps its port and its live
 * connection.
 */
#define RELOAD_T							\
	"  - name: t\n"							\
	"    listen: tcp://127.0.0.1:0\n"				\
	"    forward: tcp://127.0.0.1:%u\n"				\
	"    connect_timeout: 2s\n"

START_TEST(test_integ_sighup_adds_service)
{
	struct integ_echo	*echo, *hc;
	struct sockaddr_storage	 svc, svc2, again;
	socklen_t		 svclen, svc2len, againlen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	size_t			 mark;
	unsigned		 port;
	int			 fd, fd2, fd3;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	hc = integ_echo_start(INTEG_ECHO_HALFCLOSE, AF_INET);
	integ_conf_write(CONF_HEAD("1s") RELOAD_T,
	    (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("t", "tcp", &svc, &svclen);
	fd = integ_tcp_connect_ok(&svc, svclen, "service t");
	port = integ_local_port(fd);
	integ_tcp_ping_ok(fd, "before reload", "service t");

	integ_conf_write(CONF_HEAD("1s") RELOAD_T
	    "  - name: t2\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tcp://127.0.0.1:%u\n",
	    (unsigned)integ_echo_port(echo), (unsigned)integ_echo_port(hc));
	mark = integ_log_mark();
	integ_daemon_signal(SIGHUP);
	ck_assert_msg(integ_log_wait(mark, "configuration reloaded", RELOAD_MS,
	    NULL, 0) == 0, "no \"configuration reloaded\" within %d ms",
	    RELOAD_MS);
	integ_service_wait("t2", "tcp", RELOAD_MS, &svc2, &svc2len);
	integ_service_get("t", "tcp", &again, &againlen);
	ck_assert_msg(integ_addr_port(&again) == integ_addr_port(&svc),
	    "service t moved from port %u to %u on reload",
	    (unsigned)integ_addr_port(&svc), (unsigned)integ_addr_port(&again));

	/* t2 forwards where the new configuration says. */
	fd2 = integ_tcp_connect_ok(&svc2, svc2len, "service t2");
	(void)integ_halfclose_ok(fd2, "hello t2", 8, "service t2");
	close(fd2);

	/* The old connection lives on; t still takes new ones. */
	integ_tcp_ping_ok(fd, "after reload", "live connection across reload");
	ck_assert_msg(integ_log_count(0, integ_re_closed(re, sizeof(re), "t",
	    "127.0.0.1", port)) == 0, "the live flow was closed by reload");
	fd3 = integ_tcp_connect_ok(&svc, svclen, "service t after reload");
	integ_tcp_ping_ok(fd3, "new after reload", "service t after reload");
	close(fd3);

	close(fd);
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, sizeof(line)) ==
	    0, "no flow closed line for the live flow");
	integ_assert_num(line, "bytes_in", (long long)strlen("before reload"
	    "after reload"));
	integ_assert_field(line, "reason", "closed");
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
	integ_echo_stop(hc);
}
END_TEST

/*
 * SIGHUP changes a UDP service's forward but not its listen endpoint: the
 * socket and the live flow stay (still to the old target), new flows go
 * to the new one.
 */
#define RELOAD_U							\
	"  - name: u\n"							\
	"    listen: udp://127.0.0.1:0\n"				\
	"    forward: udp://127.0.0.1:%u\n"

START_TEST(test_integ_sighup_changed_forward_keeps_flows)
{
	struct integ_echo	*e1, *e2;
	struct sockaddr_storage	 svc, again;
	socklen_t		 svclen, againlen;
	char			 re[INTEG_RE_MAX];
	size_t			 mark;
	unsigned		 port1;
	int			 fd1, fd2;

	e1 = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	e2 = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s") RELOAD_U,
	    (unsigned)integ_echo_port(e1));
	integ_daemon_start();
	integ_service_get("u", "udp", &svc, &svclen);
	fd1 = integ_udp_socket(AF_INET, 0);
	ck_assert(fd1 != -1);
	port1 = integ_local_port(fd1);
	integ_udp_ping_ok(fd1, &svc, svclen, "to e1", "flow 1 before reload");
	ck_assert_uint_eq(integ_echo_count(e1), 1);

	integ_conf_write(CONF_HEAD("1s") RELOAD_U,
	    (unsigned)integ_echo_port(e2));
	mark = integ_log_mark();
	integ_daemon_signal(SIGHUP);
	ck_assert_msg(integ_log_wait(mark, "configuration reloaded", RELOAD_MS,
	    NULL, 0) == 0, "no \"configuration reloaded\"");
	ck_assert_msg(integ_log_count(mark, "service changed service=u ") == 1,
	    "no \"service changed\" line for u");
	integ_service_get("u", "udp", &again, &againlen);
	ck_assert_uint_eq(integ_addr_port(&again), integ_addr_port(&svc));

	/* The live flow keeps its upstream socket to e1. */
	integ_udp_ping_ok(fd1, &svc, svclen, "still to e1",
	    "flow 1 after reload");
	ck_assert_uint_eq(integ_echo_count(e1), 2);
	ck_assert_msg(integ_log_count(0, integ_re_closed(re, sizeof(re), "u",
	    "127.0.0.1", port1)) == 0, "the live flow was closed by reload");

	/* A new flow follows the new forward. */
	fd2 = integ_udp_socket(AF_INET, 0);
	ck_assert(fd2 != -1);
	integ_udp_ping_ok(fd2, &svc, svclen, "to e2", "flow 2 after reload");
	ck_assert_uint_eq(integ_echo_count(e2), 1);
	ck_assert_uint_eq(integ_echo_count(e1), 2);

	close(fd1);
	close(fd2);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(e1);
	integ_echo_stop(e2);
}
END_TEST

/*
 * 8. A broken configuration on SIGHUP is reported with file:line:col and
 * changes nothing; a good one afterwards is taken.
 */
#define BROKEN_SERVICES							\
	"  - name: u\n"							\
	"    listen: udp://127.0.0.1:0\n"				\
	"    forward: udp://127.0.0.1:%u\n"				\
	"    idle_timeout: 30s\n"					\
	"  - name: t\n"							\
	"    listen: tcp://127.0.0.1:0\n"				\
	"    forward: tcp://127.0.0.1:%u\n"

START_TEST(test_integ_sighup_broken_config_keeps_old)
{
	struct integ_echo	*uecho, *techo;
	struct sockaddr_storage	 usvc, tsvc, again;
	socklen_t		 usvclen, tsvclen, againlen;
	char			 re[2 * INTEG_RE_MAX], path[INTEG_RE_MAX];
	char			 line[INTEG_LINE_MAX];
	size_t			 mark;
	unsigned		 up, tp;
	int			 ufd, tfd, fd, ufd2;

	uecho = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	techo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	up = integ_echo_port(uecho);
	tp = integ_echo_port(techo);
	integ_conf_write(CONF_HEAD("1s") BROKEN_SERVICES, up, tp);
	integ_daemon_start();
	integ_service_get("u", "udp", &usvc, &usvclen);
	integ_service_get("t", "tcp", &tsvc, &tsvclen);
	ufd = integ_udp_socket(AF_INET, 0);
	ck_assert(ufd != -1);
	integ_udp_ping_ok(ufd, &usvc, usvclen, "udp before", "service u");
	tfd = integ_tcp_connect_ok(&tsvc, tsvclen, "service t");
	integ_tcp_ping_ok(tfd, "tcp before", "service t");
	integ_re_escape(integ.conf, path, sizeof(path));

	/* An unknown key on line 4, column 1. */
	integ_conf_write("workers: 2\n"
	    "log: {level: debug}\n"
	    "drain_timeout: 1s\n"
	    "bogus_key: 1\n"
	    "services:\n" BROKEN_SERVICES, up, tp);
	mark = integ_log_mark();
	integ_daemon_signal(SIGHUP);
	snprintf(re, sizeof(re), "%s:4:1: .*bogus_key", path);
	ck_assert_msg(integ_log_wait(mark, re, RELOAD_MS, line,
	    sizeof(line)) == 0, "no \"%s:4:1: ...bogus_key\" error in the "
	    "log", integ.conf);
	ck_assert_msg(integ_log_wait(mark, "error reload failed, keeping the "
	    "running configuration", RELOAD_MS, NULL, 0) == 0,
	    "no \"reload failed\" line");

	/* A YAML syntax error: an unclosed flow sequence. */
	integ_conf_write(CONF_HEAD("1s") "  - name: [u\n");
	integ_daemon_signal(SIGHUP);
	ck_assert_msg(integ_log_wait_count(mark, "error reload failed", 2,
	    RELOAD_MS) >= 2, "the syntax error did not fail the reload");
	snprintf(re, sizeof(re), "%s:[0-9]+:[0-9]+: ", path);
	ck_assert_msg(integ_log_count(mark, re) >= 2, "the syntax error has "
	    "no file:line:col");
	ck_assert_msg(integ_log_count(mark, "configuration reloaded") == 0,
	    "a broken configuration was taken");

	/* Everything runs as before, on the same ports. */
	ck_assert_msg(integ_daemon_running(), "flowgate died on a bad reload");
	integ_service_get("t", "tcp", &again, &againlen);
	ck_assert_uint_eq(integ_addr_port(&again), integ_addr_port(&tsvc));
	integ_service_get("u", "udp", &again, &againlen);
	ck_assert_uint_eq(integ_addr_port(&again), integ_addr_port(&usvc));
	integ_udp_ping_ok(ufd, &usvc, usvclen, "udp after", "live udp flow");
	integ_tcp_ping_ok(tfd, "tcp after", "live tcp flow");
	fd = integ_tcp_connect_ok(&tsvc, tsvclen, "new tcp");
	integ_tcp_ping_ok(fd, "tcp new", "new tcp flow");
	close(fd);
	ufd2 = integ_udp_socket(AF_INET, 0);
	ck_assert(ufd2 != -1);
	integ_udp_ping_ok(ufd2, &usvc, usvclen, "udp new", "new udp flow");
	close(ufd2);

	/* A good configuration is taken again. */
	integ_conf_write(CONF_HEAD("1s") BROKEN_SERVICES, up, tp);
	mark = integ_log_mark();
	integ_daemon_signal(SIGHUP);
	ck_assert_msg(integ_log_wait(mark, "configuration reloaded", RELOAD_MS,
	    NULL, 0) == 0, "a fixed configuration was not taken");
	integ_tcp_ping_ok(tfd, "tcp fixed", "live tcp flow after good reload");

	close(tfd);
	close(ufd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(uecho);
	integ_echo_stop(techo);
}
END_TEST

/*
 * 9. SIGTERM with live flows: exit status 0 within drain_timeout plus a
 * margin; the flows close with reason=shutdown.
 */
START_TEST(test_integ_sigterm_exits_0)
{
	struct integ_echo	*uecho, *techo;
	struct sockaddr_storage	 usvc, tsvc;
	socklen_t		 usvclen, tsvclen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 sbuf[64];
	uint64_t		 t0, took;
	unsigned		 uport, tport;
	int			 ufd, tfd, status;

	uecho = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	techo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_conf_write(CONF_HEAD("2s") BROKEN_SERVICES,
	    (unsigned)integ_echo_port(uecho), (unsigned)integ_echo_port(techo));
	integ_daemon_start();
	integ_service_get("u", "udp", &usvc, &usvclen);
	integ_service_get("t", "tcp", &tsvc, &tsvclen);
	ufd = integ_udp_socket(AF_INET, 0);
	ck_assert(ufd != -1);
	uport = integ_local_port(ufd);
	integ_udp_ping_ok(ufd, &usvc, usvclen, "udp live", "service u");
	tfd = integ_tcp_connect_ok(&tsvc, tsvclen, "service t");
	tport = integ_local_port(tfd);
	integ_tcp_ping_ok(tfd, "tcp live", "service t");

	t0 = integ_now_ms();
	integ_daemon_signal(SIGTERM);
	status = integ_daemon_wait(2000 + 3000);
	took = integ_now_ms() - t0;
	ck_assert_msg(status != -1, "flowgate still running 5 s after "
	    "SIGTERM (drain_timeout 2s)");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "flowgate after SIGTERM: %s", integ_status_str(status, sbuf,
	    sizeof(sbuf)));
	integ_assert_closed_empty(tfd, 1000, "live connection after exit");

	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "t",
	    "127.0.0.1", tport), 0, line, sizeof(line)) == 0,
	    "no flow closed line for the tcp flow (exit after %llu ms)",
	    (unsigned long long)took);
	integ_assert_field(line, "reason", "shutdown");
	integ_assert_num(line, "bytes_in", 8);
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "u",
	    "127.0.0.1", uport), 0, line, sizeof(line)) == 0,
	    "no flow closed line for the udp flow");
	integ_assert_field(line, "reason", "shutdown");
	integ_assert_num(line, "pkts_in", 1);

	close(tfd);
	close(ufd);
	integ_echo_stop(uecho);
	integ_echo_stop(techo);
}
END_TEST

/*
 * 9b. Draining: after SIGTERM a live flow still carries data, no new
 * connection gets through, and flowgate exits as soon as the last flow
 * ends, long before drain_timeout.
 */
START_TEST(test_integ_sigterm_drains_live_flows)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 sbuf[64];
	unsigned		 port;
	int			 fd, nfd, status;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_conf_write(CONF_HEAD("10s") RELOAD_T,
	    (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("t", "tcp", &svc, &svclen);
	fd = integ_tcp_connect_ok(&svc, svclen, "service t");
	port = integ_local_port(fd);
	integ_tcp_ping_ok(fd, "before", "service t");

	integ_daemon_signal(SIGTERM);
	integ_sleep_ms(300);
	ck_assert_msg(integ_daemon_running(), "flowgate exited at once with a "
	    "live flow (drain_timeout 10s): %s",
	    integ_status_str(integ.status, sbuf, sizeof(sbuf)));
	integ_tcp_ping_ok(fd, "draining", "live flow while draining");

	/* Not accepting: refused, or closed without relaying anything. */
	nfd = integ_tcp_connect(&svc, svclen, 1000);
	if (nfd != -1) {
		(void)send(nfd, "x", 1, MSG_NOSIGNAL);
		integ_assert_closed_empty(nfd, 3000, "new connection while "
		    "draining");
		close(nfd);
	} else
		ck_assert_msg(errno == ECONNREFUSED, "new connection while "
		    "draining: %s", strerror(errno));
	ck_assert_msg(integ_daemon_running(), "flowgate exited while the "
	    "flow was live");

	close(fd);
	status = integ_daemon_wait(3000);
	ck_assert_msg(status != -1, "flowgate still running 3 s after its "
	    "last flow ended");
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "flowgate after SIGTERM: %s", integ_status_str(status, sbuf,
	    sizeof(sbuf)));
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "t",
	    "127.0.0.1", port), 0, line, sizeof(line)) == 0,
	    "no flow closed line for the drained flow");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", (long long)strlen("beforedraining"));
	integ_echo_stop(echo);
}
END_TEST

/*
 * 9c. A second stop signal right after the first, while a TCP flow is
 * live (a service manager's SIGTERM and a user's ^C): one stop, and exit
 * status 0 within drain_timeout plus a margin.  Two signals that reach
 * the main loop in one wakeup used to stop the workers twice, the second
 * time after those without flows were gone: flowgate hung or crashed.
 * Sent back to back they often do; sent while the daemon is held with
 * SIGSTOP, nearly always.  Two SIGTERMs pending for the process merge
 * into one, so those go to two of its threads.
 */
#define SIG_NAME(s)	((s) == SIGINT ? "SIGINT" : "SIGTERM")

enum double_how {
	DOUBLE_NOW,		/* back to back */
	DOUBLE_STOPPED,		/* to the process, while it is stopped */
	DOUBLE_THREADS		/* to two threads, while it is stopped */
};

struct double_sig {
	int		 first;
	int		 second;
	enum double_how	 how;
	const char	*how_str;
};

static const struct double_sig double_sigs[] = {
	{ SIGTERM, SIGINT, DOUBLE_STOPPED, "while stopped" },
	{ SIGTERM, SIGTERM, DOUBLE_THREADS, "to two threads while stopped" },
	{ SIGTERM, SIGINT, DOUBLE_NOW, "back to back" },
	{ SIGTERM, SIGTERM, DOUBLE_NOW, "back to back" },
};

/* Two thread ids of the daemon, from /proc/PID/task. */
static void
daemon_two_tids(pid_t tid[2])
{
	DIR		*d;
	struct dirent	*de;
	char		 path[64];
	int		 n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)integ.pid);
	d = opendir(path);
	ck_assert_msg(d != NULL, "%s: %s", path, strerror(errno));
	while (n < 2 && (de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			tid[n++] = (pid_t)atoi(de->d_name);
	closedir(d);
	ck_assert_msg(n == 2, "flowgate has %d threads, expected workers "
	    "too", n);
}

START_TEST(test_integ_double_sigterm)
{
	const struct double_sig	*ds;
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 sbuf[64], what[96];
	size_t			 i, mark;
	uint64_t		 t0;
	pid_t			 tid[2];
	int			 fd, status, nstop;

	/* Workers without flows exit at once: more of them, more chances. */
	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_conf_write("workers: 4\n"
	    "log: {level: debug}\n"
	    "drain_timeout: 1s\n"
	    "services:\n" RELOAD_T, (unsigned)integ_echo_port(echo));
	for (i = 0; i < sizeof(double_sigs) / sizeof(double_sigs[0]); i++) {
		ds = &double_sigs[i];
		snprintf(what, sizeof(what), "round %zu (%s, then %s, %s)",
		    i + 1, SIG_NAME(ds->first), SIG_NAME(ds->second),
		    ds->how_str);
		mark = integ_log_mark();
		integ_daemon_start();
		integ_service_get("t", "tcp", &svc, &svclen);
		fd = integ_tcp_connect_ok(&svc, svclen, what);
		integ_tcp_ping_ok(fd, "live", what);

		t0 = integ_now_ms();
		if (ds->how != DOUBLE_NOW)
			integ_daemon_signal(SIGSTOP);
		if (ds->how == DOUBLE_THREADS) {
			daemon_two_tids(tid);
			ck_assert(syscall(SYS_tgkill, integ.pid, tid[0],
			    ds->first) == 0);
			ck_assert(syscall(SYS_tgkill, integ.pid, tid[1],
			    ds->second) == 0);
		} else {
			integ_daemon_signal(ds->first);
			integ_daemon_signal(ds->second);
		}
		if (ds->how != DOUBLE_NOW)
			integ_daemon_signal(SIGCONT);
		status = integ_daemon_wait(1000 + 3000);
		ck_assert_msg(status != -1, "%s: flowgate still running 4 s "
		    "later (drain_timeout 1s)", what);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "%s: flowgate exited with %s after %llu ms", what,
		    integ_status_str(status, sbuf, sizeof(sbuf)),
		    (unsigned long long)(integ_now_ms() - t0));
		integ_assert_closed_empty(fd, 1000, what);
		close(fd);
		nstop = integ_log_count(mark, "stopping, flows=");
		ck_assert_msg(nstop == 1, "%s: %d \"stopping\" lines, expected "
		    "one stop", what, nstop);
		ck_assert_msg(integ_log_count(mark, "info flowgate stopped") ==
		    1, "%s: no \"flowgate stopped\" line", what);
	}
	integ_echo_stop(echo);
}
END_TEST

/*
 * 10. flowgate check: "configuration OK" and 0, or file:line:col errors
 * on stderr and 1.  It validates only: a port in use does not matter.
 */

/* True if one line of text contains a, and b too unless it is NULL. */
static int
has_line_with(const char *text, const char *a, const char *b)
{
	char	*copy, *line, *next;
	int	 found = 0;

	copy = strdup(text);
	ck_assert_ptr_nonnull(copy);
	for (line = copy; line != NULL && !found; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		found = strstr(line, a) != NULL &&
		    (b == NULL || strstr(line, b) != NULL);
	}
	free(copy);
	return (found);
}

/*
 * A listen address that another program holds: run exits 1 with a line
 * naming the address, and crashes nothing on the way out.
 */
START_TEST(test_integ_bind_conflict_exits_1)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*argv[5];
	char			*out, *err, sbuf[64], want[128];
	int			 held, st;

	held = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert(held != -1);
	integ_addr(AF_INET, 0, &ss, &len);
	ck_assert(bind(held, (struct sockaddr *)&ss, len) == 0);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: busy\n"
	    "    listen: udp://127.0.0.1:%u\n"
	    "    forward: echo://\n", (unsigned)integ_local_port(held));
	argv[0] = integ_flowgate();
	argv[1] = "run";
	argv[2] = "-c";
	argv[3] = integ.conf;
	argv[4] = NULL;
	st = integ_run(argv, 5000, &out, &err);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "run on a taken port: %s", integ_status_str(st, sbuf,
	    sizeof(sbuf)));
	snprintf(want, sizeof(want), "cannot listen on 127.0.0.1:%u",
	    (unsigned)integ_local_port(held));
	ck_assert_msg(strstr(err, want) != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, "Address already in use") != NULL,
	    "stderr: %s", err);
	free(out);
	free(err);
	close(held);
}
END_TEST

/*
 * A second flowgate on the same configuration does not join the first
 * one's ports through SO_REUSEPORT (they would share the traffic): it
 * exits 1 and says why.  The first keeps serving, and a reload that only
 * renames its services keeps their ports (they are its own).
 */
START_TEST(test_integ_second_instance_refused)
{
	struct sockaddr_storage	 us, ts;
	socklen_t		 uslen, tslen;
	const char		*argv[5];
	char			 conf2[PATH_MAX], *out, *err, sbuf[64];
	size_t			 mark;
	int			 fd, st;

	integ_conf_write(CONF_HEAD("1s")
	    "  - {name: u, listen: \"udp://127.0.0.1:0\", forward: \"echo://\"}\n"
	    "  - {name: t, listen: \"tcp://127.0.0.1:0\", forward: \"echo://\"}\n");
	integ_daemon_start();
	integ_service_get("u", "udp", &us, &uslen);
	integ_service_get("t", "tcp", &ts, &tslen);

	integ_path("second.yml", conf2, sizeof(conf2));
	integ_write(conf2, CONF_HEAD("1s")
	    "  - {name: u, listen: \"udp://127.0.0.1:%u\", forward: \"echo://\"}\n",
	    (unsigned)integ_addr_port(&us));
	argv[0] = integ_flowgate();
	argv[1] = "run";
	argv[2] = "-c";
	argv[3] = conf2;
	argv[4] = NULL;
	st = integ_run(argv, 5000, &out, &err);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "second instance on the udp port: %s; stderr: %s",
	    integ_status_str(st, sbuf, sizeof(sbuf)), err);
	ck_assert_msg(strstr(err, "Address already in use") != NULL &&
	    strstr(err, "another flowgate") != NULL, "stderr: %s", err);
	free(out);
	free(err);

	integ_write(conf2, CONF_HEAD("1s")
	    "  - {name: t, listen: \"tcp://127.0.0.1:%u\", forward: \"echo://\"}\n",
	    (unsigned)integ_addr_port(&ts));
	st = integ_run(argv, 5000, &out, &err);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "second instance on the tcp port: %s; stderr: %s",
	    integ_status_str(st, sbuf, sizeof(sbuf)), err);
	ck_assert_msg(strstr(err, "Address already in use") != NULL,
	    "stderr: %s", err);
	free(out);
	free(err);

	/* The first one still answers on both. */
	fd = integ_udp_socket(AF_INET, 0);
	ck_assert(fd != -1);
	integ_udp_ping_ok(fd, &us, uslen, "still mine", "service u");
	close(fd);
	fd = integ_tcp_connect_ok(&ts, tslen, "service t");
	integ_tcp_ping_ok(fd, "still mine", "service t");
	close(fd);

	/* Renamed, on the ports it holds: no conflict with itself. */
	integ_conf_write(CONF_HEAD("1s")
	    "  - {name: u2, listen: \"udp://127.0.0.1:%u\", forward: \"echo://\"}\n"
	    "  - {name: t2, listen: \"tcp://127.0.0.1:%u\", forward: \"echo://\"}\n",
	    (unsigned)integ_addr_port(&us), (unsigned)integ_addr_port(&ts));
	mark = integ_log_mark();
	integ_daemon_signal(SIGHUP);
	ck_assert_msg(integ_log_wait(mark, "configuration reloaded", RELOAD_MS,
	    NULL, 0) == 0, "renaming the services on their ports failed");
	fd = integ_udp_socket(AF_INET, 0);
	ck_assert(fd != -1);
	integ_udp_ping_ok(fd, &us, uslen, "renamed", "service u2");
	close(fd);
	fd = integ_tcp_connect_ok(&ts, tslen, "service t2");
	integ_tcp_ping_ok(fd, "renamed", "service t2");
	close(fd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
}
END_TEST

/*
 * SIGUSR1's stats lines count the bytes of live flows, not only of closed
 * ones: a TCP connection and a UDP flow that are still open show theirs.
 */
START_TEST(test_integ_stats_live_bytes)
{
	struct integ_echo	*techo, *uecho;
	struct sockaddr_storage	 ts, us;
	socklen_t		 tslen, uslen;
	char			 line[INTEG_LINE_MAX];
	size_t			 mark;
	int			 tfd, ufd;

	techo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	uecho = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - {name: t, listen: \"tcp://127.0.0.1:0\", "
	    "forward: \"tcp://127.0.0.1:%u\"}\n"
	    "  - {name: u, listen: \"udp://127.0.0.1:0\", "
	    "forward: \"udp://127.0.0.1:%u\"}\n",
	    (unsigned)integ_echo_port(techo), (unsigned)integ_echo_port(uecho));
	integ_daemon_start();
	integ_service_get("t", "tcp", &ts, &tslen);
	integ_service_get("u", "udp", &us, &uslen);

	tfd = integ_tcp_connect_ok(&ts, tslen, "service t");
	integ_tcp_ping_ok(tfd, "0123456789", "service t");
	ufd = integ_udp_socket(AF_INET, 0);
	ck_assert(ufd != -1);
	integ_udp_ping_ok(ufd, &us, uslen, "abcdefg", "service u");
	integ_udp_ping_ok(ufd, &us, uslen, "hij", "service u");

	mark = integ_log_mark();
	integ_daemon_signal(SIGUSR1);
	ck_assert_msg(integ_log_wait(mark, "info stats service=t flows=1 ",
	    INTEG_LOG_MS, line, sizeof(line)) == 0, "no stats line for t");
	integ_assert_num(line, "bytes_in", 10);
	integ_assert_num(line, "bytes_out", 10);
	ck_assert_msg(integ_log_wait(mark, "info stats service=u flows=1 ",
	    INTEG_LOG_MS, line, sizeof(line)) == 0, "no stats line for u");
	integ_assert_num(line, "bytes_in", 10);
	integ_assert_num(line, "bytes_out", 10);

	/* Closing them adds nothing twice. */
	close(tfd);
	ck_assert_msg(integ_log_wait(mark, "flow closed service=t ",
	    INTEG_LOG_MS, NULL, 0) == 0, "no flow closed line for t");
	mark = integ_log_mark();
	integ_daemon_signal(SIGUSR1);
	ck_assert_msg(integ_log_wait(mark, "info stats service=t flows=0 ",
	    INTEG_LOG_MS, line, sizeof(line)) == 0, "no stats line for t");
	integ_assert_num(line, "bytes_in", 10);
	integ_assert_num(line, "bytes_out", 10);

	close(ufd);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(techo);
	integ_echo_stop(uecho);
}
END_TEST

/*
 * max_per_source holds over all workers: with workers: 2 the kernel
 * spreads one address's source ports over both, and still only the cap's
 * worth of flows from it are let in.
 */
#define PERSRC_SOCKS	8

START_TEST(test_integ_max_per_source_all_workers)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 us;
	socklen_t		 uslen;
	int			 fd[PERSRC_SOCKS], i, answered = 0;

	echo = integ_echo_start(INTEG_ECHO_UDP, AF_INET);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:%u\n"
	    "    max_per_source: 3\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("u", "udp", &us, &uslen);
	for (i = 0; i < PERSRC_SOCKS; i++) {
		fd[i] = integ_udp_socket(AF_INET, 0);
		ck_assert(fd[i] != -1);
		if (integ_udp_ping(fd[i], &us, uslen, "one of many", 700) == 0)
			answered++;
	}
	ck_assert_msg(answered == 3, "%d of %d sources from one address got "
	    "through a cap of 3", answered, PERSRC_SOCKS);
	ck_assert_msg(integ_log_count(0, "reason=limit "
	    "limit=\"max_per_source\"") >= 1, "no max_per_source refusal "
	    "logged");
	/* Both workers took part, or the test proved nothing. */
	ck_assert_msg(integ_log_count(0, "worker=0") >= 1 &&
	    integ_log_count(0, "worker=1") >= 1, "services did not start on "
	    "two workers");
	for (i = 0; i < PERSRC_SOCKS; i++)
		close(fd[i]);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

START_TEST(test_integ_check_cmd)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*argv[5];
	char			 good[512], bad[512], missing[512], loc[600];
	char			*out, *err, sbuf[64];
	int			 held, st;

	/* Hold a port: check must not try to bind it. */
	held = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert(held != -1);
	integ_addr(AF_INET, 0, &ss, &len);
	ck_assert(bind(held, (struct sockaddr *)&ss, len) == 0);
	ck_assert(listen(held, 1) == 0);

	integ_path("good.yml", good, sizeof(good));
	integ_write(good, CONF_HEAD("1s")
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:9\n"
	    "  - name: t\n"
	    "    listen: tcp://127.0.0.1:%u\n"
	    "    forward: echo://\n", (unsigned)integ_local_port(held));
	argv[0] = integ_flowgate();
	argv[1] = "check";
	argv[2] = "-c";
	argv[3] = good;
	argv[4] = NULL;
	st = integ_run(argv, INTEG_IO_MS, &out, &err);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "check good.yml: %s; stderr: %s", st == -1 ? "timed out" :
	    integ_status_str(st, sbuf, sizeof(sbuf)), err);
	ck_assert_msg(strstr(out, "configuration OK") != NULL,
	    "check good.yml stdout: \"%s\"", out);
	free(out);
	free(err);

	/* Two errors: both reported, each at its place. */
	integ_path("bad.yml", bad, sizeof(bad));
	integ_write(bad, "workers: 2\n"
	    "services:\n"
	    "  - name: u\n"
	    "    listen: udp://127.0.0.1:0\n"
	    "    forward: udp://127.0.0.1:9\n"
	    "    bogus: 1\n"
	    "  - name: t\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: tcp://127.0.0.1:9\n"
	    "    idle_timeout: banana\n");
	argv[3] = bad;
	st = integ_run(argv, INTEG_IO_MS, &out, &err);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "check bad.yml: %s, expected exit status 1",
	    st == -1 ? "timed out" : integ_status_str(st, sbuf, sizeof(sbuf)));
	snprintf(loc, sizeof(loc), "%s:6:5: ", bad);
	ck_assert_msg(has_line_with(err, loc, "bogus"), "no \"%s...bogus\" "
	    "on stderr: %s", loc, err);
	snprintf(loc, sizeof(loc), "%s:10:", bad);
	ck_assert_msg(has_line_with(err, loc, NULL), "no \"%s\" on stderr "
	    "(the second error): %s", loc, err);
	ck_assert_msg(strstr(out, "configuration OK") == NULL,
	    "bad.yml reported OK");
	free(out);
	free(err);

	/* A file that is not there. */
	integ_path("missing.yml", missing, sizeof(missing));
	argv[3] = missing;
	st = integ_run(argv, INTEG_IO_MS, &out, &err);
	ck_assert_msg(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	    "check missing.yml: %s, expected exit status 1",
	    st == -1 ? "timed out" : integ_status_str(st, sbuf, sizeof(sbuf)));
	ck_assert_msg(strstr(err, missing) != NULL, "the error does not name "
	    "%s: %s", missing, err);
	free(out);
	free(err);
	close(held);
}
END_TEST

/*
 * IPv6: udp and tcp services on [::1], forwarding to [::1].
 */
START_TEST(test_integ_ipv6_loopback)
{
	struct integ_echo	*uecho, *techo;
	struct sockaddr_storage	 usvc, tsvc;
	socklen_t		 usvclen, tsvclen;
	char			 line[INTEG_LINE_MAX], re[INTEG_RE_MAX];
	char			 want[128];
	char			 dst[64], *ports;
	unsigned		 uport, tport;
	int			 ufd, tfd;

	if (!integ_have_ipv6()) {
		fprintf(stderr, "integ: ipv6_loopback skipped: no ::1\n");
		return;
	}
	uecho = integ_echo_start(INTEG_ECHO_UDP, AF_INET6);
	techo = integ_echo_start(INTEG_ECHO_TCP, AF_INET6);
	integ_conf_write(CONF_HEAD("1s")
	    "  - name: u6\n"
	    "    listen: udp://[::1]:0\n"
	    "    forward: udp://[::1]:%u\n"
	    "    idle_timeout: 30s\n"
	    "  - name: t6\n"
	    "    listen: tcp://[::1]:0\n"
	    "    forward: tcp://[::1]:%u\n",
	    (unsigned)integ_echo_port(uecho), (unsigned)integ_echo_port(techo));
	integ_daemon_start();
	integ_service_get("u6", "udp", &usvc, &usvclen);
	integ_service_get("t6", "tcp", &tsvc, &tsvclen);
	ck_assert_int_eq(usvc.ss_family, AF_INET6);
	ck_assert_int_eq(tsvc.ss_family, AF_INET6);
	ports = integ_read_file(integ.portfile, NULL);
	ck_assert_ptr_nonnull(ports);
	snprintf(want, sizeof(want), "u6 udp [::1]:%u\n",
	    (unsigned)integ_addr_port(&usvc));
	ck_assert_msg(strstr(ports, want) != NULL, "port file: %s", ports);
	free(ports);

	ufd = integ_udp_socket(AF_INET6, 0);
	ck_assert(ufd != -1);
	uport = integ_local_port(ufd);
	integ_udp_ping_ok(ufd, &usvc, usvclen, "over ipv6 udp", "service u6");
	tfd = integ_tcp_connect_ok(&tsvc, tsvclen, "service t6");
	tport = integ_local_port(tfd);
	integ_tcp_ping_ok(tfd, "over ipv6 tcp", "service t6");
	close(tfd);

	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "t6",
	    "[::1]", tport), INTEG_LOG_MS, line, sizeof(line)) == 0,
	    "no flow closed line with peer=[::1]:%u", tport);
	snprintf(dst, sizeof(dst), "[::1]:%u",
	    (unsigned)integ_echo_port(techo));
	integ_assert_field(line, "dst", dst);
	integ_assert_field(line, "reason", "closed");
	integ_daemon_stop_ok(INTEG_STOP_MS);
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "u6",
	    "[::1]", uport), 0, line, sizeof(line)) == 0,
	    "no flow closed line with peer=[::1]:%u", uport);
	integ_assert_num(line, "bytes_out", (long long)strlen("over ipv6 udp"));
	close(ufd);
	integ_echo_stop(uecho);
	integ_echo_stop(techo);
}
END_TEST

/*
 * max_flows: the flow over the limit is closed and logged as refused;
 * once a flow ends, a new one is admitted.
 */
START_TEST(test_integ_tcp_max_flows)
{
	struct integ_echo	*echo;
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	char			 re[INTEG_RE_MAX];
	unsigned		 port1;
	int			 fd1, fd2, fd3, fd4;

	echo = integ_echo_start(INTEG_ECHO_TCP, AF_INET);
	integ_conf_write(CONF_HEAD("1s") RELOAD_T
	    "    max_flows: 2\n", (unsigned)integ_echo_port(echo));
	integ_daemon_start();
	integ_service_get("t", "tcp", &svc, &svclen);
	fd1 = integ_tcp_connect_ok(&svc, svclen, "flow 1");
	port1 = integ_local_port(fd1);
	integ_tcp_ping_ok(fd1, "one", "flow 1");
	fd2 = integ_tcp_connect_ok(&svc, svclen, "flow 2");
	integ_tcp_ping_ok(fd2, "two", "flow 2");

	fd3 = integ_tcp_connect_ok(&svc, svclen, "flow 3");
	(void)send(fd3, "three", 5, MSG_NOSIGNAL);
	integ_assert_closed_empty(fd3, 3000, "flow 3 over max_flows 2");
	snprintf(re, sizeof(re), "warn flow refused service=t "
	    "peer=127\\.0\\.0\\.1:%u( .*)? reason=limit",
	    (unsigned)integ_local_port(fd3));
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, NULL, 0) == 0,
	    "no \"warn flow refused ... reason=limit\" line for flow 3");
	close(fd3);
	integ_tcp_ping_ok(fd1, "one again", "flow 1 after the refusal");
	integ_tcp_ping_ok(fd2, "two again", "flow 2 after the refusal");

	close(fd1);
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "t",
	    "127.0.0.1", port1), INTEG_LOG_MS, NULL, 0) == 0,
	    "flow 1 did not close");
	fd4 = integ_tcp_connect_ok(&svc, svclen, "flow 4");
	integ_tcp_ping_ok(fd4, "four", "flow 4 after flow 1 ended");
	close(fd4);
	close(fd2);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}
END_TEST

/*
 * echo:// with buffer 64KiB and a client that sends 64 MiB without ever
 * reading: flowgate stops taking bytes once its queues and the socket
 * buffers are full, its memory stays flat, and reading afterwards
 * returns exactly the bytes it took.  The echo used to queue everything.
 */
#define FLOOD_TOTAL	(64ULL * 1024 * 1024)
#define FLOOD_CHUNK	(256 * 1024)
#define FLOOD_STUCK_MS	1000	/* no progress for this long: blocked */
#define FLOOD_SEND_MS	8000	/* the sending phase, at most */
#define FLOOD_RSS_KB	(64LL * 1024)	/* growth allowed, KiB */

START_TEST(test_integ_echo_flood_bounded)
{
	struct sockaddr_storage	 svc;
	socklen_t		 svclen;
	struct pollfd		 pfd;
	EVP_MD_CTX		*smd, *rmd;
	unsigned char		*sbuf, *rbuf;
	char			 shex[65], rhex[65], line[INTEG_LINE_MAX];
	char			 re[INTEG_RE_MAX];
	unsigned long long	 sent = 0, recvd = 0;
	long long		 rss0, rss1;
	uint64_t		 state = 13, deadline, last, now;
	size_t			 soff = 0, slen = 0;
	ssize_t			 n;
	unsigned		 port;
	int			 fd, stuck = 0;

	integ_conf_write(CONF_HEAD("1s")
	    "  - name: e\n"
	    "    listen: tcp://127.0.0.1:0\n"
	    "    forward: echo://\n"
	    "    buffer: 64KiB\n");
	integ_daemon_start();
	integ_service_get("e", "tcp", &svc, &svclen);
	sbuf = malloc(FLOOD_CHUNK);
	rbuf = malloc(FLOOD_CHUNK);
	ck_assert_msg(sbuf != NULL && rbuf != NULL, "out of memory");
	smd = integ_sha256_new();
	rmd = integ_sha256_new();

	fd = integ_tcp_connect_ok(&svc, svclen, "service e");
	port = integ_local_port(fd);
	integ_tcp_ping_ok(fd, "warm up", "service e");
	rss0 = integ_rss_kb(integ.pid);
	ck_assert_msg(rss0 > 0, "no VmRSS in /proc/%d/status", (int)integ.pid);

	/* Send until flowgate takes nothing for FLOOD_STUCK_MS. */
	ck_assert(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	last = integ_now_ms();
	deadline = last + FLOOD_SEND_MS;
	while (sent < FLOOD_TOTAL) {
		if (soff == slen) {
			slen = FLOOD_TOTAL - sent < FLOOD_CHUNK ?
			    (size_t)(FLOOD_TOTAL - sent) : FLOOD_CHUNK;
			integ_fill(sbuf, slen, &state);
			soff = 0;
		}
		n = send(fd, sbuf + soff, slen - soff, MSG_NOSIGNAL |
		    MSG_DONTWAIT);
		now = integ_now_ms();
		if (n > 0) {
			EVP_DigestUpdate(smd, sbuf + soff, (size_t)n);
			soff += (size_t)n;
			sent += (unsigned long long)n;
			last = now;
			continue;
		}
		ck_assert_msg(errno == EAGAIN || errno == EINTR, "send after "
		    "%llu bytes: %s", sent, integ_io_state());
		if (now - last >= FLOOD_STUCK_MS) {
			stuck = 1;
			break;
		}
		ck_assert_msg(now < deadline, "after %d ms flowgate still "
		    "takes bytes from a client that never reads: %llu so far",
		    FLOOD_SEND_MS, sent);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, (int)(FLOOD_STUCK_MS - (now - last)));
	}
	rss1 = integ_rss_kb(integ.pid);
	fprintf(stderr, "integ: echo flood: %llu bytes taken, VmRSS %lld -> "
	    "%lld KiB\n", sent, rss0, rss1);
	ck_assert_msg(stuck, "flowgate took all %llu bytes from a client that "
	    "never reads (VmRSS %lld -> %lld KiB)", sent, rss0, rss1);
	ck_assert_msg(rss1 > 0 && rss1 - rss0 < FLOOD_RSS_KB, "VmRSS grew "
	    "from %lld to %lld KiB holding %llu bytes (buffer 64KiB)", rss0,
	    rss1, sent);

	/* Now read: exactly what was taken comes back, then nothing. */
	deadline = integ_now_ms() + INTEG_IO_MS;
	while (recvd < sent && integ_now_ms() < deadline) {
		n = integ_recv_wait(fd, rbuf, FLOOD_CHUNK,
		    (int)(deadline - integ_now_ms()));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		ck_assert_msg(n > 0, "after %llu of %llu bytes back: %s",
		    recvd, sent, n == 0 ? "EOF" : integ_io_state());
		EVP_DigestUpdate(rmd, rbuf, (size_t)n);
		recvd += (unsigned long long)n;
	}
	ck_assert_msg(recvd == sent, "%llu of %llu bytes came back within %d "
	    "ms", recvd, sent, INTEG_IO_MS);
	n = integ_recv_wait(fd, rbuf, FLOOD_CHUNK, 200);
	ck_assert_msg(n == -1 && errno == ETIMEDOUT, "more than the %llu "
	    "bytes taken came back", sent);
	integ_sha256_final(smd, shex);
	integ_sha256_final(rmd, rhex);
	ck_assert_str_eq(rhex, shex);

	/* The echo passes our FIN back once it has nothing left. */
	ck_assert(shutdown(fd, SHUT_WR) == 0);
	integ_assert_closed_empty(fd, INTEG_IO_MS, "after our FIN");
	close(fd);
	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re), "e",
	    "127.0.0.1", port), INTEG_LOG_MS, line, sizeof(line)) == 0,
	    "no flow closed line for the flood");
	integ_assert_field(line, "reason", "closed");
	integ_assert_num(line, "bytes_in", (long long)sent + 7);
	integ_assert_num(line, "bytes_out", (long long)sent + 7);

	free(sbuf);
	free(rbuf);
	integ_daemon_stop_ok(INTEG_STOP_MS);
}
END_TEST

static Suite *
integ_suite(void)
{
	Suite	*s;

	s = suite_create("integ");
	tcase_add_test(integ_tcase(s, "udp_many_sources", 30),
	    test_integ_udp_many_sources);
	tcase_add_test(integ_tcase(s, "udp_max_datagram", 20),
	    test_integ_udp_max_datagram);
	tcase_add_test(integ_tcase(s, "udp_idle_expiry", 30),
	    test_integ_udp_idle_expiry);
	tcase_add_test(integ_tcase(s, "tcp_100mib_sha256", 60),
	    test_integ_tcp_100mib_sha256);
	tcase_add_test(integ_tcase(s, "tcp_half_close", 20),
	    test_integ_tcp_half_close);
	tcase_add_test(integ_tcase(s, "tcp_refused_target", 20),
	    test_integ_tcp_refused_target);
	tcase_add_test(integ_tcase(s, "tcp_max_flows", 20),
	    test_integ_tcp_max_flows);
	tcase_add_test(integ_tcase(s, "echo_flood_bounded", 30),
	    test_integ_echo_flood_bounded);
	tcase_add_test(integ_tcase(s, "sighup_adds_service", 30),
	    test_integ_sighup_adds_service);
	tcase_add_test(integ_tcase(s, "udp_icmp_refused", 20),
	    test_integ_udp_icmp_refused);
	tcase_add_test(integ_tcase(s, "udp_order_and_names", 30),
	    test_integ_udp_order_and_names);
	tcase_add_test(integ_tcase(s, "udp_burst_boundaries", 30),
	    test_integ_udp_burst_boundaries);
	tcase_add_test(integ_tcase(s, "udp_gro_boundaries", 30),
	    test_integ_udp_gro_boundaries);
	tcase_add_test(integ_tcase(s, "sighup_changed_forward_keeps_flows",
	    20), test_integ_sighup_changed_forward_keeps_flows);
	tcase_add_test(integ_tcase(s, "sighup_broken_config_keeps_old", 30),
	    test_integ_sighup_broken_config_keeps_old);
	tcase_add_test(integ_tcase(s, "sigterm_exits_0", 20),
	    test_integ_sigterm_exits_0);
	tcase_add_test(integ_tcase(s, "sigterm_drains_live_flows", 30),
	    test_integ_sigterm_drains_live_flows);
	tcase_add_test(integ_tcase(s, "double_sigterm", 30),
	    test_integ_double_sigterm);
	tcase_add_test(integ_tcase(s, "bind_conflict_exits_1", 20),
	    test_integ_bind_conflict_exits_1);
	tcase_add_test(integ_tcase(s, "second_instance_refused", 30),
	    test_integ_second_instance_refused);
	tcase_add_test(integ_tcase(s, "stats_live_bytes", 20),
	    test_integ_stats_live_bytes);
	tcase_add_test(integ_tcase(s, "max_per_source_all_workers", 30),
	    test_integ_max_per_source_all_workers);
	tcase_add_test(integ_tcase(s, "check_cmd", 20),
	    test_integ_check_cmd);
	tcase_add_test(integ_tcase(s, "ipv6_loopback", 20),
	    test_integ_ipv6_loopback);
	return (s);
}

int
main(void)
{
	return (integ_suite_run(integ_suite()));
}
