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
 * Fixture and helpers shared by the integration suites (check_integ,
 * check_tls, check_dtls): a scratch directory, the real flowgate binary
 * started on loopback (a second one as the tunnel client if a test needs
 * it), its port file and log, in-process peers (echo servers) that each
 * run their own event_base in a thread, child processes such as
 * `openssl s_client`, and the assertions the suites make on all of them.
 * Every helper fails the test on an error of its own (fork, a file it
 * cannot write); those named *_ok and integ_assert_*, integ_closed_line
 * and integ_bulk_echo also assert what the test checks, while those that
 * return a status (integ_tcp_ping, integ_log_wait) leave that to the test.
 */

#ifndef INTEG_H
#define INTEG_H

#include <sys/types.h>
#include <sys/socket.h>

#include <check.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>

#define INTEG_PRINTF(a, b) __attribute__((__format__(__printf__, a, b)))

/* Bounds and sizes every suite uses; generous, for loaded CI machines. */
#define INTEG_IO_MS	5000	/* one exchange */
#define INTEG_LOG_MS	5000	/* a log line to appear */
#define INTEG_STOP_MS	8000	/* SIGTERM to exit, drain_timeout 1s */
#define INTEG_RUN_MS	10000	/* one flowgate certs or probe run */
#define INTEG_RE_MAX	512	/* an ERE built by a test */
#define INTEG_LINE_MAX	2048	/* a log line copied out */
#define INTEG_PATH_MAX	320	/* a file in the scratch directory */

/*
 * The daemon under test.  The unchecked setup (in the runner process) makes
 * dir; the test (in its forked child) writes conf, starts the daemon and
 * owns pid.  One TCase holds one test, so one dir serves one test.
 */
struct integ {
	char		 dir[256];	/* mkdtemp; "" if that failed */
	char		 conf[320];	/* dir/flowgate.yml */
	char		 portfile[320];	/* dir/ports, written by -P */
	char		 logfile[320];	/* dir/flowgate.log: stdout+stderr */
	pid_t		 pid;		/* -1 when not running */
	int		 status;	/* wait status once reaped */
};
extern struct integ integ;

/* Fixtures: unchecked ones run in the runner, checked ones in the test. */
void		 integ_setup(void);
void		 integ_teardown(void);
void		 integ_checked_teardown(void);

/* The suite: one TCase per behaviour, each with these fixtures. */
TCase		*integ_tcase(Suite *, const char *name, int timeout);
int		 integ_suite_run(Suite *);

/* Files in the scratch directory; written via tmp + rename. */
void		 integ_path(const char *name, char *, size_t);
void		 integ_write(const char *path, const char *fmt, ...)
		    INTEG_PRINTF(2, 3);
#define integ_conf_write(...)	integ_write(integ.conf, __VA_ARGS__)
char		*integ_read_file(const char *path, size_t *len);

/* The daemon. */
const char	*integ_flowgate(void);
void		 integ_daemon_start(void);
void		 integ_daemon_signal(int);
int		 integ_daemon_wait(int timeout_ms);
int		 integ_daemon_running(void);
void		 integ_daemon_stop_ok(int timeout_ms);
void		 integ_daemon_kill(void);
int		 integ_run(const char *const argv[], int timeout_ms,
		    char **out, char **err);
const char	*integ_status_str(int, char *, size_t);
const char	*integ_io_state(void);

/*
 * A second daemon in the same scratch directory, flowgate as the tunnel
 * client, so each process holds one side of every tunnel.  integ_cli_swap
 * exchanges it with integ, so that every integ_daemon_* and integ_log_*
 * call in between acts on it; swap back before the next assertion about
 * the fixture's daemon.
 */
extern struct integ integ_cli;
void		 integ_cli_start(const char *fmt, ...) INTEG_PRINTF(1, 2);
void		 integ_cli_swap(void);
uint16_t	 integ_cli_port(const char *name, const char *scheme);
int		 integ_cli_log_wait(const char *ere, int timeout_ms, char *line,
		    size_t linesz);
int		 integ_cli_log_wait_count(const char *ere, int n,
		    int timeout_ms);
void		 integ_cli_closed_line(const char *service, unsigned port,
		    char *line, size_t linesz, const char *what);
void		 integ_cli_stop_ok(int timeout_ms);

/* The port file: "NAME SCHEME ADDR:PORT" per service. */
int		 integ_service_addr(const char *name, char *scheme, size_t,
		    struct sockaddr_storage *, socklen_t *);
void		 integ_service_get(const char *name, const char *scheme,
		    struct sockaddr_storage *, socklen_t *);
void		 integ_service_wait(const char *name, const char *scheme,
		    int timeout_ms, struct sockaddr_storage *, socklen_t *);

/* The daemon's log, searched with POSIX extended regular expressions. */
size_t		 integ_log_mark(void);
int		 integ_log_wait(size_t from, const char *ere, int timeout_ms,
		    char *line, size_t linesz);
int		 integ_log_count(size_t from, const char *ere);
int		 integ_log_wait_count(size_t from, const char *ere, int n,
		    int timeout_ms);
char		*integ_log_read(size_t from);
int		 integ_field(const char *line, const char *key, char *, size_t);
long long	 integ_field_num(const char *line, const char *key);
const char	*integ_re_escape(const char *, char *, size_t);
const char	*integ_re_closed(char *, size_t, const char *service,
		    const char *peer, unsigned port);
void		 integ_closed_line(const char *service, unsigned port,
		    char *line, size_t linesz, const char *what);
void		 integ_assert_field(const char *line, const char *key,
		    const char *want);
void		 integ_assert_field_re(const char *line, const char *key,
		    const char *ere);
void		 integ_assert_num(const char *line, const char *key,
		    long long want);

/* Loopback sockets; every call is bounded by a timeout. */
int		 integ_have_ipv6(void);
void		 integ_addr(int family, uint16_t port,
		    struct sockaddr_storage *, socklen_t *);
uint16_t	 integ_addr_port(const struct sockaddr_storage *);
uint16_t	 integ_local_port(int fd);
uint16_t	 integ_unused_port(int family);
int		 integ_udp_socket(int family, int bufsize);
int		 integ_send_gso(int, const struct sockaddr *, socklen_t,
		    const void *, size_t, uint16_t seg);
int		 integ_gro_coalesces(void);
int		 integ_tcp_connect(const struct sockaddr_storage *, socklen_t,
		    int timeout_ms);
int		 integ_send_all(int fd, const void *, size_t, int timeout_ms);
ssize_t		 integ_recv_wait(int fd, void *, size_t, int timeout_ms);
ssize_t		 integ_recv_exact(int fd, void *, size_t, int timeout_ms);
ssize_t		 integ_read_eof(int fd, void *, size_t, int timeout_ms,
		    int *how);
int		 integ_tcp_ping(int fd, const char *msg, int timeout_ms);
int		 integ_udp_ping(int fd, const struct sockaddr_storage *,
		    socklen_t, const char *msg, int timeout_ms);
int		 integ_tcp_connect_ok(const struct sockaddr_storage *,
		    socklen_t, const char *what);
void		 integ_tcp_ping_ok(int fd, const char *msg, const char *what);
void		 integ_udp_ping_ok(int fd, const struct sockaddr_storage *,
		    socklen_t, const char *msg, const char *what);
void		 integ_assert_closed_empty(int fd, int timeout_ms,
		    const char *what);
void		 integ_bulk_echo(int fd, unsigned long long total,
		    uint64_t seed, int timeout_ms);
void		 integ_bulk_echo_ex(int fd, unsigned long long total,
		    uint64_t seed, int timeout_ms, int flags);
#define INTEG_BULK_FIN	0x01	/* shut the write side after the last byte */

long long	 integ_rss_kb(pid_t);

/* Time and data. */
uint64_t	 integ_now_ms(void);
void		 integ_sleep_ms(int);
void		 integ_fill(void *, size_t, uint64_t *state);
void		 integ_sha256_hex(const void *, size_t, char hex[65]);
EVP_MD_CTX	*integ_sha256_new(void);
const char	*integ_sha256_final(EVP_MD_CTX *, char hex[65]);

/* Child processes with pipes on stdin, stdout and stderr. */
struct integ_proc {
	pid_t		 pid;
	int		 in;		/* its stdin, -1 once closed */
	int		 out;		/* its stdout */
	int		 err;		/* its stderr */
};
void		 integ_proc_start(struct integ_proc *,
		    const char *const argv[]);
int		 integ_proc_finish(struct integ_proc *, int term, char *errbuf,
		    size_t errsize);
void		 integ_fd_write_all(int fd, const void *, size_t,
		    const char *what);
size_t		 integ_fd_read(int fd, void *, size_t, int timeout_ms,
		    int until_eof);
void		 integ_sclient_start(struct integ_proc *, int dtls,
		    uint16_t port, const char *alpn, const char *cert,
		    const char *key, const char *ca);

/*
 * Certificates: a CA with a server and a client certificate, made by
 * `flowgate certs` and kept flat in the scratch directory as PREFIX-*.
 */
struct integ_pki {
	char		 ca[INTEG_PATH_MAX];
	char		 srv_crt[INTEG_PATH_MAX];
	char		 srv_key[INTEG_PATH_MAX];
	char		 cli_crt[INTEG_PATH_MAX];
	char		 cli_key[INTEG_PATH_MAX];
};
void		 integ_pki_make(struct integ_pki *, const char *prefix);
int		 integ_probe_run(const char *scheme, uint16_t port,
		    const struct integ_pki *trust, const struct integ_pki *id,
		    const char *timeout, char **out, char **err);
void		 integ_probe_ok(const char *scheme, uint16_t port,
		    const char *service, const struct integ_pki *,
		    char *line, size_t linesz);
void		 integ_stream_header(uint16_t port, uint8_t *hdr);

/*
 * An in-process TLS or DTLS client: each suite connects and drives it its
 * own way (a blocking TCP socket, a connected UDP socket); these helpers
 * describe its failures and take it down.
 */
struct integ_ssl {
	SSL_CTX		*ctx;
	SSL		*ssl;
	int		 fd;		/* -1 when closed */
	uint16_t	 lport;		/* the daemon logs it as peer */
	uint16_t	 port;		/* the server's (DTLS) */
	char		 err[512];	/* why the last call failed */
};
void		 integ_ssl_fail(struct integ_ssl *, const char *what, int se,
		    int syserr);
void		 integ_ssl_shutdown(struct integ_ssl *);
void		 integ_ssl_close(struct integ_ssl *);

/* In-process peers, each with its own thread and event_base. */
enum integ_echo_kind {
	INTEG_ECHO_UDP = 0,	/* each datagram goes back to its sender */
	INTEG_ECHO_TCP,		/* echoes the stream; closes after peer EOF */
	INTEG_ECHO_HALFCLOSE	/* reads to EOF, answers, then closes */
};
#define INTEG_HALFCLOSE_FMT	"got %llu bytes, sha256=%s\n"
const char	*integ_halfclose_answer(const void *, size_t, char *, size_t);
size_t		 integ_halfclose_ok(int fd, const void *, size_t,
		    const char *what);
struct integ_echo;
struct integ_echo *integ_echo_start(enum integ_echo_kind, int family);
uint16_t	 integ_echo_port(const struct integ_echo *);
unsigned long	 integ_echo_count(const struct integ_echo *);
void		 integ_echo_stop(struct integ_echo *);
void		 integ_tunnel_stop_ok(struct integ_echo *);

#endif /* INTEG_H */
