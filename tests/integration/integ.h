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
 * Fixture for the integration suite: a scratch directory, the real flowgate
 * binary started on loopback, its port file and log, and in-process peers
 * (echo servers) that each run their own event_base in a thread.
 */

#ifndef INTEG_H
#define INTEG_H

#include <sys/types.h>
#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

#define INTEG_PRINTF(a, b) __attribute__((__format__(__printf__, a, b)))

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

/* Loopback sockets; every call is bounded by a timeout. */
int		 integ_have_ipv6(void);
void		 integ_addr(int family, uint16_t port,
		    struct sockaddr_storage *, socklen_t *);
uint16_t	 integ_addr_port(const struct sockaddr_storage *);
uint16_t	 integ_local_port(int fd);
uint16_t	 integ_unused_port(int family);
int		 integ_udp_socket(int family, int bufsize);
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

/* Time and data. */
uint64_t	 integ_now_ms(void);
void		 integ_sleep_ms(int);
void		 integ_fill(void *, size_t, uint64_t *state);
void		 integ_sha256_hex(const void *, size_t, char hex[65]);

/* In-process peers, each with its own thread and event_base. */
enum integ_echo_kind {
	INTEG_ECHO_UDP = 0,	/* each datagram goes back to its sender */
	INTEG_ECHO_TCP,		/* echoes the stream; closes after peer EOF */
	INTEG_ECHO_HALFCLOSE	/* reads to EOF, answers, then closes */
};
#define INTEG_HALFCLOSE_FMT	"got %llu bytes, sha256=%s\n"
struct integ_echo;
struct integ_echo *integ_echo_start(enum integ_echo_kind, int family);
uint16_t	 integ_echo_port(const struct integ_echo *);
unsigned long	 integ_echo_count(const struct integ_echo *);
void		 integ_echo_stop(struct integ_echo *);

#endif /* INTEG_H */
