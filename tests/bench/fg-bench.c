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
 * fg-bench: the echo servers and the load generator behind tests/bench/run.sh.
 *
 * Servers (run until SIGTERM, which exits 0):
 *	fg-bench echo-udp -l ADDR:PORT [-p PORTFILE] [-T THREADS]
 *	fg-bench echo-tcp -l ADDR:PORT [-p PORTFILE] [-T THREADS]
 *	    [-m echo|sink|source]
 * Generators (print one key=value line on stdout):
 *	fg-bench udp -t ADDR:PORT [-f FLOWS] [-s SIZE] [-d SECONDS]
 *	    [-w WINDOW | -r PPS_PER_FLOW] [-o TIMEOUT_MS] [-T THREADS]
 *	fg-bench tcp -t ADDR:PORT [-c CONNS] [-d SECONDS] [-s BLOCK]
 *	    [-w INFLIGHT] [-m echo|up|down] [-T THREADS]
 * Helpers for the script:
 *	fg-bench freeport [-n COUNT]	ports free for both TCP and UDP
 *	fg-bench probe udp|tcp -t ADDR:PORT [-o TIMEOUT_MS]
 *
 * udp: each flow is its own socket (own source port) and keeps -w
 * datagrams in flight (closed loop, default 8), or sends -r per second
 * (open loop).  Each datagram carries flow, slot, sequence number and send
 * time, and a payload taken from a fixed pattern; a reply counts only if it
 * comes from the target to the socket that sent it, intact.  A datagram
 * unanswered after -o ms (default 500) is lost and its slot reused; at the
 * end the generator waits up to 1 s for the rest.  Before the clock starts
 * each flow in turn exchanges one warm-up datagram, so proxies set up their
 * per-flow state one flow at a time.
 *
 * tcp: each connection writes -s byte blocks of a per-connection pattern
 * and reads the echo back, verifying every byte, with at most -w bytes
 * (default 1 MiB) not yet echoed.  At the end it sends its FIN and waits
 * up to 2 s for the rest of the echo and the peer's FIN.  Its line ends
 * with cpu=, the generator's own CPU seconds over the whole run.
 *
 * Plain syscalls only (epoll, recvmmsg/sendmmsg, nonblocking sockets), IPv4
 * only.  Every generator has a hard deadline of its duration plus 5 seconds,
 * enforced with alarm(2), so a wedged proxy cannot hang a benchmark run.
 * Exit status: 0 when something got through and nothing was wrong, 1
 * otherwise, 2 on a usage error, 3 at the hard deadline.
 */

#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif

#define BATCH		32		/* recvmmsg/sendmmsg batch */
#define DGRAM_MAX	65536		/* receive buffer per datagram */
#define UDP_MAX		65507		/* largest IPv4 UDP payload */
#define SOCKBUF		(4 * 1024 * 1024) /* asked-for socket buffers */
#define STREAM_BUF	65536		/* TCP read buffer */
#define MAX_THREADS	64
#define MAX_FLOWS	65536
#define MAX_RATE	1000000		/* datagrams per second per flow */
#define NSEC		1000000000ULL
#define MSEC		1000000ULL
#define HARD_EXTRA	5		/* seconds past -d before alarm fires */
#define GRACE_UDP	(1000 * MSEC)	/* wait for late replies at the end */
#define GRACE_TCP	(2000 * MSEC)	/* wait for the echo to drain */

/*
 * Every payload byte comes from one pseudo-random table.  A stream at
 * offset o carries pattern[o % PAT_PERIOD]; the table is PAT_PERIOD +
 * DGRAM_MAX long so that any chunk of up to DGRAM_MAX bytes starting
 * anywhere in the period can be compared with one memcmp.
 */
#define PAT_PERIOD	65521		/* prime, so streams do not line up */
static u_char	pattern[PAT_PERIOD + DGRAM_MAX];

/*
 * RTT histogram, in nanoseconds: exact below HIST_LINEAR, then 64
 * sub-buckets per power of two (1.6% resolution).
 */
#define HIST_LINEAR	128
#define HIST_SUB	64
#define HIST_SIZE	(HIST_LINEAR + 57 * HIST_SUB)

/* Every datagram starts with this, in host byte order (same machine). */
#define UDP_MAGIC	0x46474231U	/* "FGB1" */
#define UDP_WARM	0x46474257U	/* "FGBW": warm-up, not measured */
struct udp_hdr {
	uint32_t	 magic;
	uint32_t	 flow;		/* index of the sending flow */
	uint32_t	 slot;		/* window slot it occupies */
	uint32_t	 len;		/* whole datagram length */
	uint64_t	 seq;		/* per flow, from 0 */
	uint64_t	 ts;		/* send time, CLOCK_MONOTONIC ns */
};

/* Options of all subcommands; each uses the ones it needs. */
struct bench_conf {
	struct sockaddr_in	 addr;		/* -l or -t */
	int			 have_addr;
	struct sockaddr_in	 listen;	/* -l (relay-udp) */
	int			 have_listen;
	struct sockaddr_in	 to;		/* -t (relay-udp) */
	int			 have_to;
	const char		*portfile;	/* -p */
	int			 threads;	/* -T */
	int			 flows;		/* -f, or -c for tcp */
	size_t			 size;		/* -s: datagram or block */
	double			 duration;	/* -d, seconds */
	uint64_t		 window;	/* -w: datagrams, or bytes */
	int			 have_window;
	uint64_t		 rate;		/* -r: datagrams/s per flow */
	uint64_t		 timeout;	/* -o, ns */
	const char		*mode;		/* -m */
	int			 count;		/* -n */
	uint64_t		 start;		/* generator start, ns */
	uint64_t		 end;		/* start + duration */
};

static struct bench_conf	 bc;
static volatile sig_atomic_t	 stopping;

static __dead void	usage(void);
static uint64_t		now_ns(void);
static void		parse_addr(const char *, struct sockaddr_in *);
static double		parse_num(const char *, double, double, const char *);
static void		parse_opts(int, char **, const char *);
static void		pattern_init(void);
static void		set_nonblock(int);
static void		set_bufs(int, int);
static void		write_portfile(const char *, u_int);
static void		exit_cb(int);
static void		stop_cb(int);
static void		alarm_cb(int);
static void		signals_server(void);
static void		signals_client(void);
static u_int		hist_index(uint64_t);
static uint64_t		hist_value(u_int);
static double		hist_pct(const uint64_t *, uint64_t, double);
static int		server_socket(int, u_int, int);
static void		*udp_echo_run(void *);
static void		*tcp_echo_run(void *);
static int		cmd_echo(int, char **, int);
static int		cmd_udp(int, char **);
static int		cmd_tcp(int, char **);
static int		cmd_freeport(int, char **);
static int		cmd_probe(int, char **);
static int		cmd_relay(int, char **);

static __dead void
usage(void)
{
	fprintf(stderr,
	    "usage: fg-bench echo-udp -l addr:port [-p portfile] [-T threads]\n"
	    "       fg-bench echo-tcp -l addr:port [-p portfile] [-T threads] "
	    "[-m echo|sink|source]\n"
	    "       fg-bench udp -t addr:port [-f flows] [-s size] "
	    "[-d seconds]\n"
	    "           [-w window | -r pps_per_flow] [-o timeout_ms] "
	    "[-T threads]\n"
	    "       fg-bench tcp -t addr:port [-c conns] [-d seconds] "
	    "[-s block]\n"
	    "           [-w inflight_bytes] [-m echo|up|down] [-T threads]\n"
	    "       fg-bench freeport [-n count]\n"
	    "       fg-bench probe udp|tcp -t addr:port [-o timeout_ms]\n"
	    "       fg-bench relay-udp -l addr:port -t addr:port [-p portfile] "
	    "[-m poll|spin]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec);
}

/* Parses "a.b.c.d:port" (or "localhost:port") into sin; exits on error. */
static void
parse_addr(const char *s, struct sockaddr_in *sin)
{
	char		 host[64];
	const char	*colon;
	size_t		 len;

	if ((colon = strrchr(s, ':')) == NULL)
		errx(2, "%s: expected host:port", s);
	len = (size_t)(colon - s);
	if (len >= sizeof(host))
		errx(2, "%s: host too long", s);
	memcpy(host, s, len);
	host[len] = '\0';
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	if (len == 0 || strcmp(host, "localhost") == 0)
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
		errx(2, "%s: not an IPv4 address", host);
	sin->sin_port = htons((uint16_t)parse_num(colon + 1, 0, 65535,
	    "port"));
}

/* Parses a number in [min, max]; exits with a message naming what. */
static double
parse_num(const char *s, double min, double max, const char *what)
{
	char	*end;
	double	 v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || isnan(v))
		errx(2, "%s: invalid %s", s, what);
	if (v < min || v > max)
		errx(2, "%s: %s out of range [%g, %g]", s, what, min, max);
	return (v);
}

/* Fills bc from argv; allowed lists the option letters the caller takes. */
static void
parse_opts(int argc, char **argv, const char *allowed)
{
	int	 ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:d:f:l:m:n:o:p:r:s:t:T:w:")) != -1) {
		if (ch == '?' || strchr(allowed, ch) == NULL)
			usage();
		switch (ch) {
		case 'c':
		case 'f':
			bc.flows = (int)parse_num(optarg, 1, MAX_FLOWS,
			    "count");
			break;
		case 'd':
			bc.duration = parse_num(optarg, 0.1, 3600, "duration");
			break;
		case 'l':
		case 't':
			parse_addr(optarg, &bc.addr);
			bc.have_addr = 1;
			if (ch == 'l') {
				bc.listen = bc.addr;
				bc.have_listen = 1;
			} else {
				bc.to = bc.addr;
				bc.have_to = 1;
			}
			break;
		case 'm':
			bc.mode = optarg;
			break;
		case 'n':
			bc.count = (int)parse_num(optarg, 1, 64, "count");
			break;
		case 'o':
			bc.timeout = (uint64_t)parse_num(optarg, 1, 60000,
			    "timeout") * MSEC;
			break;
		case 'p':
			bc.portfile = optarg;
			break;
		case 'r':
			bc.rate = (uint64_t)parse_num(optarg, 1, MAX_RATE,
			    "rate");
			break;
		case 's':
			bc.size = (size_t)parse_num(optarg, 1, DGRAM_MAX,
			    "size");
			break;
		case 'T':
			bc.threads = (int)parse_num(optarg, 1, MAX_THREADS,
			    "threads");
			break;
		case 'w':
			bc.window = (uint64_t)parse_num(optarg, 1, 1 << 30,
			    "window");
			bc.have_window = 1;
			break;
		}
	}
	if (optind != argc)
		usage();
}

static void
pattern_init(void)
{
	uint32_t	 x;
	size_t		 i;

	/* xorshift32: cheap, and no byte value lines up with its offset. */
	x = 0x9e3779b9U;
	for (i = 0; i < PAT_PERIOD; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		pattern[i] = (u_char)(x >> 24);
	}
	for (; i < sizeof(pattern); i++)
		pattern[i] = pattern[i - PAT_PERIOD];
}

static void
set_nonblock(int fd)
{
	int	 fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		err(1, "fcntl");
}

/*
 * Asks for large socket buffers so that the echo server is not where
 * datagrams get dropped.  SO_RCVBUFFORCE passes net.core.rmem_max when we
 * are privileged; otherwise the plain option is capped silently.
 */
static void
set_bufs(int fd, int bytes)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes,
	    sizeof(bytes)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes,
		    sizeof(bytes));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &bytes,
	    sizeof(bytes)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes,
		    sizeof(bytes));
}

/* Writes the port through a temporary file so readers never see half. */
static void
write_portfile(const char *path, u_int port)
{
	char	 tmp[PATH_MAX];
	FILE	*f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		errx(1, "%s: path too long", path);
	if ((f = fopen(tmp, "w")) == NULL)
		err(1, "%s", tmp);
	fprintf(f, "%u\n", port);
	if (fclose(f) != 0)
		err(1, "%s", tmp);
	if (rename(tmp, path) == -1)
		err(1, "rename %s", path);
}

static void
exit_cb(int sig)
{
	_exit(0);
}

static void
stop_cb(int sig)
{
	stopping = 1;
}

static void
alarm_cb(int sig)
{
	static const char msg[] = "fg-bench: hard deadline reached\n";

	/* Fortified glibc will not let a (void) cast drop the result. */
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) == -1)
		_exit(3);
	_exit(3);
}

/* Servers hold nothing worth flushing, so SIGTERM simply exits 0. */
static void
signals_server(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = exit_cb;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/*
 * Generators end the run early on SIGTERM/SIGINT and still report; the
 * alarm is the hard deadline for everything, grace periods included.
 */
static void
signals_client(void)
{
	struct sigaction	 sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = stop_cb;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = alarm_cb;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	alarm((u_int)ceil(bc.duration) + HARD_EXTRA);
}

static u_int
hist_index(uint64_t v)
{
	u_int	 msb;

	if (v < HIST_LINEAR)
		return ((u_int)v);
	msb = 63 - (u_int)__builtin_clzll(v);
	return (HIST_LINEAR + (msb - 7) * HIST_SUB +
	    (u_int)((v >> (msb - 6)) & (HIST_SUB - 1)));
}

/* The middle of bucket i, the inverse of hist_index. */
static uint64_t
hist_value(u_int i)
{
	u_int	 k, sub;

	if (i < HIST_LINEAR)
		return (i);
	k = (i - HIST_LINEAR) / HIST_SUB;
	sub = (i - HIST_LINEAR) % HIST_SUB;
	return (((uint64_t)(HIST_SUB + sub) << (k + 1)) +
	    ((1ULL << (k + 1)) >> 1));
}

/* The p-th percentile (0 < p <= 1) of n samples, in microseconds. */
static double
hist_pct(const uint64_t *h, uint64_t n, double p)
{
	uint64_t	 want, seen;
	u_int		 i;

	if (n == 0)
		return (0);
	want = (uint64_t)ceil(p * (double)n);
	if (want == 0)
		want = 1;
	seen = 0;
	for (i = 0; i < HIST_SIZE; i++) {
		seen += h[i];
		if (seen >= want)
			return ((double)hist_value(i) / 1000.0);
	}
	return ((double)hist_value(HIST_SIZE - 1) / 1000.0);
}

/* ------------------------------------------------------------------------
 * Echo servers.
 */

/*
 * Opens one listening socket on bc.addr with the given port.  With
 * several threads every one has its own socket on the same port
 * (SO_REUSEPORT) and the kernel spreads flows between them.
 */
static int
server_socket(int type, u_int port, int reuseport)
{
	struct sockaddr_in	 sin;
	int			 fd, on = 1;

	if ((fd = socket(AF_INET, type | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1)
		err(1, "SO_REUSEADDR");
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on,
	    sizeof(on)) == -1)
		err(1, "SO_REUSEPORT");
	if (type == SOCK_DGRAM)
		set_bufs(fd, SOCKBUF);
	sin = bc.addr;
	sin.sin_port = htons((uint16_t)port);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		err(1, "bind %s:%u", inet_ntoa(sin.sin_addr), port);
	if (type == SOCK_STREAM && listen(fd, 1024) == -1)
		err(1, "listen");
	return (fd);
}

/*
 * UDP echo: a blocking recvmmsg batch, then the same batch straight back
 * to each sender with sendmmsg.  The buffers are reused in place.
 */
static void *
udp_echo_run(void *arg)
{
	struct mmsghdr		*msgs;
	struct iovec		*iov;
	struct sockaddr_in	*from;
	u_char			*bufs;
	int			 fd = *(int *)arg, n, i, r;

	msgs = calloc(BATCH, sizeof(*msgs));
	iov = calloc(BATCH, sizeof(*iov));
	from = calloc(BATCH, sizeof(*from));
	bufs = malloc((size_t)BATCH * DGRAM_MAX);
	if (msgs == NULL || iov == NULL || from == NULL || bufs == NULL)
		err(1, "udp echo buffers");
	for (;;) {
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs + (size_t)i * DGRAM_MAX;
			iov[i].iov_len = DGRAM_MAX;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
			msgs[i].msg_hdr.msg_name = &from[i];
			msgs[i].msg_hdr.msg_namelen = sizeof(from[i]);
			msgs[i].msg_hdr.msg_control = NULL;
			msgs[i].msg_hdr.msg_controllen = 0;
			msgs[i].msg_hdr.msg_flags = 0;
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ECONNREFUSED)
				continue;
			err(1, "recvmmsg");
		}
		for (i = 0; i < n; i++)
			iov[i].iov_len = msgs[i].msg_len;
		/* A partial send leaves the rest; a failure skips one. */
		for (i = 0; i < n; i += r) {
			r = sendmmsg(fd, msgs + i, (u_int)(n - i), 0);
			if (r <= 0) {
				if (errno == EINTR)
					r = 0;
				else
					r = 1;
			}
		}
	}
	return (NULL);
}

/* One accepted connection of the TCP echo server. */
struct econn {
	int		 fd;
	uint64_t	 count;		/* sink: bytes read; source: written */
	size_t		 off;		/* echo: first unsent byte in buf */
	size_t		 len;		/* echo: bytes in buf not yet sent */
	int		 eof;		/* the peer sent FIN */
	uint32_t	 events;	/* epoll interest now registered */
	u_char		 buf[STREAM_BUF];
};

enum echo_mode {
	ECHO_ECHO,			/* send every byte back */
	ECHO_SINK,			/* discard; at EOF send the count */
	ECHO_SOURCE			/* send pattern bytes until closed */
};

struct tcp_echo {
	int		 lfd;
	enum echo_mode	 mode;
};

static void	econn_close(int, struct econn *);
static int	econn_flush(struct econn *);
static void	econn_event(int, struct econn *, uint32_t, enum echo_mode);

static void
econn_close(int epfd, struct econn *c)
{
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c);
}

/* Sends what is buffered; returns -1 when the connection is broken. */
static int
econn_flush(struct econn *c)
{
	ssize_t	 n;

	while (c->len > 0) {
		n = send(c->fd, c->buf + c->off, c->len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return (0);
			return (-1);
		}
		c->off += (size_t)n;
		c->len -= (size_t)n;
	}
	c->off = 0;
	return (0);
}

/*
 * Handles one readiness event.  Echo reads only when its buffer is empty,
 * so a slow reader stops us reading from it: backpressure without an
 * unbounded queue.  The connection is closed (and freed) once the peer
 * has finished and everything owed to it is sent.
 */
static void
econn_event(int epfd, struct econn *c, uint32_t ev, enum echo_mode mode)
{
	struct epoll_event	 e;
	uint64_t		 be;
	ssize_t			 n;
	size_t			 off;
	int			 i;

	if (ev & EPOLLERR)
		goto close;
	if (c->len > 0 && econn_flush(c) == -1)
		goto close;
	if (!c->eof && c->len == 0 && (ev & (EPOLLIN | EPOLLHUP))) {
		n = recv(c->fd, c->buf, sizeof(c->buf), MSG_DONTWAIT);
		if (n == 0)
			c->eof = 1;
		else if (n == -1 && errno != EAGAIN && errno != EINTR)
			goto close;
		else if (n > 0 && mode == ECHO_ECHO) {
			c->len = (size_t)n;
			if (econn_flush(c) == -1)
				goto close;
		} else if (n > 0 && mode == ECHO_SINK)
			c->count += (uint64_t)n;
		if (c->eof && mode == ECHO_SINK) {
			be = c->count;
			for (i = 7; i >= 0; i--) {
				c->buf[i] = (u_char)be;
				be >>= 8;
			}
			c->off = 0;
			c->len = 8;
			if (econn_flush(c) == -1)
				goto close;
		}
		if (c->eof && mode == ECHO_SOURCE)
			goto close;
	}
	if (mode == ECHO_SOURCE && (ev & EPOLLOUT) && !c->eof) {
		off = (size_t)(c->count % PAT_PERIOD);
		n = send(c->fd, pattern + off, STREAM_BUF,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			goto close;
		if (n > 0)
			c->count += (uint64_t)n;
	}
	if (c->eof && c->len == 0)
		goto close;

	e.events = 0;
	if (c->len > 0 || mode == ECHO_SOURCE)
		e.events |= EPOLLOUT;
	if (c->len == 0 && !c->eof)
		e.events |= EPOLLIN;
	if (e.events != c->events) {
		e.data.ptr = c;
		if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) == -1)
			goto close;
		c->events = e.events;
	}
	return;
close:
	econn_close(epfd, c);
}

/*
 * TCP echo loop: one epoll set with the listener (data.ptr == NULL) and
 * every connection.  On EMFILE the listener is left out for 100 ms.
 */
static void *
tcp_echo_run(void *arg)
{
	struct tcp_echo		*te = arg;
	struct epoll_event	 evs[64], e;
	struct econn		*c;
	uint64_t		 paused = 0;
	int			 epfd, fd, n, i, on = 1;

	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	set_nonblock(te->lfd);
	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	e.data.ptr = NULL;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, te->lfd, &e) == -1)
		err(1, "epoll_ctl");
	for (;;) {
		if (paused != 0 && now_ns() - paused > 100 * MSEC) {
			e.events = EPOLLIN;
			e.data.ptr = NULL;
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, te->lfd, &e) == -1)
				err(1, "epoll_ctl");
			paused = 0;
		}
		n = epoll_wait(epfd, evs, 64, paused != 0 ? 100 : -1);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr != NULL) {
				econn_event(epfd, evs[i].data.ptr,
				    evs[i].events, te->mode);
				continue;
			}
			fd = accept4(te->lfd, NULL, NULL,
			    SOCK_NONBLOCK | SOCK_CLOEXEC);
			if (fd == -1) {
				if (errno == EMFILE || errno == ENFILE ||
				    errno == ENOBUFS || errno == ENOMEM) {
					warn("accept");
					(void)epoll_ctl(epfd, EPOLL_CTL_DEL,
					    te->lfd, NULL);
					paused = now_ns();
				}
				continue;
			}
			(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on,
			    sizeof(on));
			if ((c = calloc(1, sizeof(*c))) == NULL) {
				warn("calloc");
				close(fd);
				continue;
			}
			c->fd = fd;
			c->events = EPOLLIN;
			if (te->mode == ECHO_SOURCE)
				c->events |= EPOLLOUT;
			e.events = c->events;
			e.data.ptr = c;
			if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) == -1) {
				warn("epoll_ctl");
				close(fd);
				free(c);
			}
		}
	}
	return (NULL);
}

/* echo-udp and echo-tcp: bind, publish the port, serve until killed. */
static int
cmd_echo(int argc, char **argv, int type)
{
	pthread_t		 tid;
	struct tcp_echo		*te;
	struct sockaddr_in	 sin;
	socklen_t		 slen;
	enum echo_mode		 mode = ECHO_ECHO;
	u_int			 port;
	int			*fds, i;

	bc.threads = 1;
	parse_opts(argc, argv, type == SOCK_DGRAM ? "lpT" : "lpTm");
	if (!bc.have_addr)
		usage();
	if (bc.mode == NULL || strcmp(bc.mode, "echo") == 0)
		mode = ECHO_ECHO;
	else if (strcmp(bc.mode, "sink") == 0)
		mode = ECHO_SINK;
	else if (strcmp(bc.mode, "source") == 0)
		mode = ECHO_SOURCE;
	else
		usage();
	signals_server();
	pattern_init();

	if ((fds = calloc((size_t)bc.threads, sizeof(*fds))) == NULL ||
	    (te = calloc((size_t)bc.threads, sizeof(*te))) == NULL)
		err(1, "calloc");
	port = ntohs(bc.addr.sin_port);
	for (i = 0; i < bc.threads; i++) {
		fds[i] = server_socket(type, port, bc.threads > 1);
		slen = sizeof(sin);
		if (getsockname(fds[i], (struct sockaddr *)&sin, &slen) == -1)
			err(1, "getsockname");
		port = ntohs(sin.sin_port);
	}
	if (bc.portfile != NULL)
		write_portfile(bc.portfile, port);
	fprintf(stderr, "fg-bench: echo-%s listening on %s:%u\n",
	    type == SOCK_DGRAM ? "udp" : "tcp", inet_ntoa(bc.addr.sin_addr),
	    port);

	for (i = 0; i < bc.threads; i++) {
		te[i].lfd = fds[i];
		te[i].mode = mode;
		if (i == bc.threads - 1)
			break;
		if (pthread_create(&tid, NULL, type == SOCK_DGRAM ?
		    udp_echo_run : tcp_echo_run, type == SOCK_DGRAM ?
		    (void *)&fds[i] : (void *)&te[i]) != 0)
			errx(1, "pthread_create");
	}
	if (type == SOCK_DGRAM)
		udp_echo_run(&fds[i]);
	else
		tcp_echo_run(&te[i]);
	return (0);
}

/* ------------------------------------------------------------------------
 * UDP generator.
 */

/* One datagram in flight; ts == 0 marks a free slot. */
struct uslot {
	uint64_t	 seq;
	uint64_t	 ts;		/* send time, ns */
};

/*
 * One flow: its own unconnected socket (own source port), a ring of
 * slots for the datagrams in flight and, in window mode, a stack of the
 * free ones.  In rate mode datagram seq uses slot seq % nslots, and the
 * ring is long enough that finding a slot still busy means the datagram
 * that held it timed out.
 */
struct uflow {
	int		 fd;
	uint32_t	 id;		/* carried in every datagram */
	struct uslot	*slots;
	uint32_t	*free;		/* window mode: free slot indices */
	uint32_t	 nfree;
	uint64_t	 seq;		/* next sequence number to send */
};

struct ustats {
	uint64_t	 sent;
	uint64_t	 recv;		/* matched replies */
	uint64_t	 lost;		/* timed out or unanswered at the end */
	uint64_t	 late;		/* replies to datagrams already lost */
	uint64_t	 errors;	/* the sum of the err_ kinds below */
	uint64_t	 err_len;	/* wrong length or truncated */
	uint64_t	 err_src;	/* not from the target address */
	uint64_t	 err_flow;	/* came back to another flow's socket */
	uint64_t	 err_data;	/* header or payload corrupted */
	uint64_t	 err_seq;	/* a sequence number never sent */
	uint64_t	 senderr;	/* sendmmsg failed, not EAGAIN */
	uint64_t	 hist[HIST_SIZE];
};

struct uworker {
	pthread_t	 thread;
	struct uflow	*flows;
	int		 nflows;
	int		 epfd;
	uint32_t	 nslots;
	uint64_t	 outstanding;	/* busy slots over all flows */
	struct ustats	 st;
	struct mmsghdr	 smsg[BATCH];
	struct iovec	 siov[BATCH];
	u_char		*sbuf;		/* BATCH x bc.size */
	struct mmsghdr	 rmsg[BATCH];
	struct iovec	 riov[BATCH];
	struct sockaddr_in rfrom[BATCH];
	u_char		*rbuf;		/* BATCH x DGRAM_MAX */
};

static void	udp_build(struct uworker *, int, struct uflow *, uint32_t,
		    uint64_t, uint64_t);
static size_t	udp_pat(uint32_t, uint64_t);
static void	udp_sent(struct uworker *, struct uflow *, uint32_t,
		    uint64_t, uint64_t);
static void	uflow_fill(struct uworker *, struct uflow *, uint64_t);
static void	uflow_pace(struct uworker *, struct uflow *, uint64_t);
static void	uflow_check(struct uworker *, struct uflow *, int, uint64_t);
static void	uflow_recv(struct uworker *, struct uflow *);
static void	uflow_expire(struct uworker *, struct uflow *, uint64_t);
static void	*uworker_run(void *);
static int	udp_warmup(struct uflow *, uint64_t);

/* Where in the pattern the payload of (flow, seq) starts. */
static size_t
udp_pat(uint32_t flow, uint64_t seq)
{
	return ((size_t)((seq * 2654435761ULL + flow * 40503ULL) %
	    PAT_PERIOD));
}

/* Writes datagram (f, slot, seq) into send buffer i. */
static void
udp_build(struct uworker *w, int i, struct uflow *f, uint32_t slot,
    uint64_t seq, uint64_t now)
{
	struct udp_hdr	 h;
	u_char		*p = w->sbuf + (size_t)i * bc.size;

	h.magic = UDP_MAGIC;
	h.flow = f->id;
	h.slot = slot;
	h.len = (uint32_t)bc.size;
	h.seq = seq;
	h.ts = now;
	memcpy(p, &h, sizeof(h));
	memcpy(p + sizeof(h), pattern + udp_pat(f->id, seq),
	    bc.size - sizeof(h));
	w->siov[i].iov_base = p;
	w->siov[i].iov_len = bc.size;
	w->smsg[i].msg_hdr.msg_iov = &w->siov[i];
	w->smsg[i].msg_hdr.msg_iovlen = 1;
	w->smsg[i].msg_hdr.msg_name = &bc.addr;
	w->smsg[i].msg_hdr.msg_namelen = sizeof(bc.addr);
}

/* Books a datagram the kernel accepted into its slot. */
static void
udp_sent(struct uworker *w, struct uflow *f, uint32_t slot, uint64_t seq,
    uint64_t now)
{
	struct uslot	*s = &f->slots[slot];

	if (s->ts != 0) {
		/* Rate mode lapped a datagram that never came back. */
		w->st.lost++;
		w->outstanding--;
	}
	s->seq = seq;
	s->ts = now;
	w->st.sent++;
	w->outstanding++;
}

/* Window mode: sends one datagram into every free slot. */
static void
uflow_fill(struct uworker *w, struct uflow *f, uint64_t now)
{
	uint32_t	 n, i;
	int		 r;

	while (f->nfree > 0) {
		n = f->nfree < BATCH ? f->nfree : BATCH;
		for (i = 0; i < n; i++)
			udp_build(w, (int)i, f, f->free[f->nfree - 1 - i],
			    f->seq + i, now);
		r = sendmmsg(f->fd, w->smsg, n, MSG_DONTWAIT);
		if (r <= 0) {
			if (r == -1 && errno != EAGAIN && errno != ENOBUFS &&
			    errno != EINTR)
				w->st.senderr++;
			return;
		}
		for (i = 0; i < (uint32_t)r; i++)
			udp_sent(w, f, f->free[f->nfree - 1 - i], f->seq + i,
			    now);
		f->nfree -= (uint32_t)r;
		f->seq += (uint64_t)r;
		if ((uint32_t)r < n)
			return;
	}
}

/* Rate mode: sends whatever the schedule says is due, a batch at most. */
static void
uflow_pace(struct uworker *w, struct uflow *f, uint64_t now)
{
	uint64_t	 due, n, i;
	uint32_t	 mask = w->nslots - 1;
	int		 r;

	due = (now - bc.start) / 1000 * bc.rate / 1000000 + 1;
	if (due <= f->seq)
		return;
	n = due - f->seq;
	if (n > BATCH)
		n = BATCH;
	for (i = 0; i < n; i++)
		udp_build(w, (int)i, f, (uint32_t)((f->seq + i) & mask),
		    f->seq + i, now);
	r = sendmmsg(f->fd, w->smsg, (u_int)n, MSG_DONTWAIT);
	if (r <= 0) {
		if (r == -1 && errno != EAGAIN && errno != ENOBUFS &&
		    errno != EINTR)
			w->st.senderr++;
		return;
	}
	for (i = 0; i < (uint64_t)r; i++)
		udp_sent(w, f, (uint32_t)((f->seq + i) & mask), f->seq + i,
		    now);
	f->seq += (uint64_t)r;
}

/*
 * Checks received message i: it must come from the target, on the socket
 * of the flow that sent it, with the length and content sent.  A good
 * reply frees its slot and records the round trip.
 */
static void
uflow_check(struct uworker *w, struct uflow *f, int i, uint64_t now)
{
	struct udp_hdr		 h;
	struct uslot		*s;
	struct sockaddr_in	*from = &w->rfrom[i];
	const u_char		*p = w->riov[i].iov_base;
	size_t			 len = w->rmsg[i].msg_len;

	if ((w->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) || len != bc.size) {
		w->st.err_len++;
		goto bad;
	}
	if (from->sin_addr.s_addr != bc.addr.sin_addr.s_addr ||
	    from->sin_port != bc.addr.sin_port) {
		w->st.err_src++;
		goto bad;
	}
	memcpy(&h, p, sizeof(h));
	if (h.magic == UDP_WARM)
		return;
	if (h.magic != UDP_MAGIC || h.len != len || h.slot >= w->nslots ||
	    memcmp(p + sizeof(h), pattern + udp_pat(h.flow, h.seq),
	    len - sizeof(h)) != 0) {
		w->st.err_data++;
		goto bad;
	}
	if (h.flow != f->id) {
		w->st.err_flow++;
		goto bad;
	}
	s = &f->slots[h.slot];
	if (s->ts == 0 || s->seq != h.seq || s->ts != h.ts) {
		if (h.seq < f->seq)
			w->st.late++;
		else {
			w->st.err_seq++;
			goto bad;
		}
		return;
	}
	w->st.hist[hist_index(now > s->ts ? now - s->ts : 0)]++;
	w->st.recv++;
	w->outstanding--;
	s->ts = 0;
	if (f->free != NULL)
		f->free[f->nfree++] = h.slot;
	return;
bad:
	w->st.errors++;
}

/* Reads one batch of replies from a flow's socket. */
static void
uflow_recv(struct uworker *w, struct uflow *f)
{
	uint64_t	 now;
	int		 n, i;

	for (i = 0; i < BATCH; i++) {
		w->riov[i].iov_base = w->rbuf + (size_t)i * DGRAM_MAX;
		w->riov[i].iov_len = DGRAM_MAX;
		w->rmsg[i].msg_hdr.msg_iov = &w->riov[i];
		w->rmsg[i].msg_hdr.msg_iovlen = 1;
		w->rmsg[i].msg_hdr.msg_name = &w->rfrom[i];
		w->rmsg[i].msg_hdr.msg_namelen = sizeof(w->rfrom[i]);
		w->rmsg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(f->fd, w->rmsg, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	now = now_ns();
	for (i = 0; i < n; i++)
		uflow_check(w, f, i, now);
}

/* Window mode: gives up on datagrams older than the timeout. */
static void
uflow_expire(struct uworker *w, struct uflow *f, uint64_t now)
{
	uint32_t	 i;

	for (i = 0; i < w->nslots; i++) {
		if (f->slots[i].ts == 0 || now - f->slots[i].ts < bc.timeout)
			continue;
		f->slots[i].ts = 0;
		f->free[f->nfree++] = i;
		w->st.lost++;
		w->outstanding--;
	}
}

/*
 * One generator thread: sends while the run lasts, then only reads until
 * every datagram is answered or the grace period is over.  Whatever is
 * still in flight then counts as lost.
 */
static void *
uworker_run(void *arg)
{
	struct uworker		*w = arg;
	struct epoll_event	 evs[64];
	uint64_t		 now, last_expire = 0;
	int			 i, n, running;

	for (;;) {
		now = now_ns();
		running = now < bc.end && !stopping;
		if (!running) {
			if (w->outstanding == 0 || now >= bc.end + GRACE_UDP ||
			    stopping)
				break;
		} else if (bc.rate != 0) {
			for (i = 0; i < w->nflows; i++)
				uflow_pace(w, &w->flows[i], now);
		} else {
			if (now - last_expire >= 10 * MSEC) {
				for (i = 0; i < w->nflows; i++)
					uflow_expire(w, &w->flows[i], now);
				last_expire = now;
			}
			for (i = 0; i < w->nflows; i++)
				if (w->flows[i].nfree > 0)
					uflow_fill(w, &w->flows[i], now);
		}
		n = epoll_wait(w->epfd, evs, 64, bc.rate != 0 ? 1 : 10);
		for (i = 0; i < n; i++)
			uflow_recv(w, evs[i].data.ptr);
	}
	w->st.lost += w->outstanding;
	return (NULL);
}

/*
 * Before the clock starts, each flow in turn sends one datagram and waits
 * (up to 200 ms) for its echo, so that proxies that set up per-flow state
 * (socat forks a child per peer) do it one flow at a time and the run
 * measures the steady state.  Returns 1 when the echo came back.
 */
static int
udp_warmup(struct uflow *f, uint64_t deadline)
{
	struct udp_hdr	 h;
	struct pollfd	 pfd;
	u_char		*buf;
	uint64_t	 now, until;
	ssize_t		 n;
	int		 ok = 0;

	if ((buf = calloc(1, DGRAM_MAX)) == NULL)
		err(1, "calloc");
	memset(&h, 0, sizeof(h));
	h.magic = UDP_WARM;
	h.flow = f->id;
	h.len = (uint32_t)bc.size;
	memcpy(buf, &h, sizeof(h));
	if (sendto(f->fd, buf, bc.size, 0, (struct sockaddr *)&bc.addr,
	    sizeof(bc.addr)) != (ssize_t)bc.size)
		goto out;
	now = now_ns();
	until = now + 200 * MSEC < deadline ? now + 200 * MSEC : deadline;
	while (!ok && (now = now_ns()) < until) {
		pfd.fd = f->fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)((until - now) / MSEC) + 1) != 1)
			continue;
		n = recv(f->fd, buf, DGRAM_MAX, MSG_DONTWAIT);
		if (n >= (ssize_t)sizeof(h) && memcmp(buf, &h.magic,
		    sizeof(h.magic)) == 0)
			ok = 1;
	}
out:
	free(buf);
	return (ok);
}

static int
cmd_udp(int argc, char **argv)
{
	struct uworker		*ws, *w;
	struct uflow		*f;
	struct epoll_event	 e;
	struct sockaddr_in	 local;
	struct ustats		 tot;
	uint64_t		 nslots, stop;
	double			 secs, loss;
	int			 i, j, warm = 0;

	bc.flows = 1;
	bc.size = 64;
	bc.duration = 10;
	bc.window = 8;
	bc.timeout = 500 * MSEC;
	bc.threads = 1;
	parse_opts(argc, argv, "tfsdrwoT");
	if (!bc.have_addr)
		usage();
	if (bc.rate != 0 && bc.have_window)
		errx(2, "-r and -w are exclusive");
	if (bc.size < sizeof(struct udp_hdr) || bc.size > UDP_MAX)
		errx(2, "-s must be within [%zu, %d] for udp",
		    sizeof(struct udp_hdr), UDP_MAX);
	if (bc.threads > bc.flows)
		bc.threads = bc.flows;
	if (bc.rate != 0) {
		/* Room for two timeouts' worth of datagrams. */
		nslots = 16;
		while (nslots < 2 * bc.rate * (bc.timeout / MSEC) / 1000 &&
		    nslots < (1U << 20))
			nslots <<= 1;
	} else {
		if (bc.window > 4096)
			errx(2, "-w must be at most 4096 datagrams");
		nslots = bc.window;
	}
	signals_client();
	pattern_init();

	if ((ws = calloc((size_t)bc.threads, sizeof(*ws))) == NULL)
		err(1, "calloc");
	for (i = 0; i < bc.threads; i++) {
		w = &ws[i];
		w->nslots = (uint32_t)nslots;
		w->nflows = bc.flows / bc.threads +
		    (i < bc.flows % bc.threads ? 1 : 0);
		w->flows = calloc((size_t)w->nflows, sizeof(*w->flows));
		w->sbuf = malloc((size_t)BATCH * bc.size);
		w->rbuf = malloc((size_t)BATCH * DGRAM_MAX);
		if (w->flows == NULL || w->sbuf == NULL || w->rbuf == NULL)
			err(1, "malloc");
		if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
			err(1, "epoll_create1");
	}
	/* Flows are dealt round robin; flow k is worker k % T's k / T. */
	for (j = 0; j < bc.flows; j++) {
		w = &ws[j % bc.threads];
		f = &w->flows[j / bc.threads];
		f->id = (uint32_t)j;
		if ((f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) ==
		    -1)
			err(1, "socket (flow %d)", j);
		set_bufs(f->fd, 1024 * 1024);
		memset(&local, 0, sizeof(local));
		local.sin_family = AF_INET;
		local.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(f->fd, (struct sockaddr *)&local,
		    sizeof(local)) == -1)
			err(1, "bind (flow %d)", j);
		if ((f->slots = calloc(nslots, sizeof(*f->slots))) == NULL)
			err(1, "calloc");
		if (bc.rate == 0) {
			if ((f->free = calloc(nslots, sizeof(*f->free))) ==
			    NULL)
				err(1, "calloc");
			for (f->nfree = 0; f->nfree < nslots; f->nfree++)
				f->free[f->nfree] = (uint32_t)nslots - 1 -
				    f->nfree;
		}
		memset(&e, 0, sizeof(e));
		e.events = EPOLLIN;
		e.data.ptr = f;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, f->fd, &e) == -1)
			err(1, "epoll_ctl");
	}

	/* Bounded to 2 s in all; with the 1 s grace it fits the alarm. */
	stop = now_ns() + 2000 * MSEC;
	for (j = 0; j < bc.flows && !stopping; j++)
		warm += udp_warmup(&ws[j % bc.threads].flows[j / bc.threads],
		    stop);

	bc.start = now_ns();
	bc.end = bc.start + (uint64_t)(bc.duration * NSEC);
	for (i = 0; i < bc.threads; i++)
		if (pthread_create(&ws[i].thread, NULL, uworker_run,
		    &ws[i]) != 0)
			errx(1, "pthread_create");
	memset(&tot, 0, sizeof(tot));
	for (i = 0; i < bc.threads; i++) {
		pthread_join(ws[i].thread, NULL);
		tot.sent += ws[i].st.sent;
		tot.recv += ws[i].st.recv;
		tot.lost += ws[i].st.lost;
		tot.late += ws[i].st.late;
		tot.errors += ws[i].st.errors;
		tot.err_len += ws[i].st.err_len;
		tot.err_src += ws[i].st.err_src;
		tot.err_flow += ws[i].st.err_flow;
		tot.err_data += ws[i].st.err_data;
		tot.err_seq += ws[i].st.err_seq;
		tot.senderr += ws[i].st.senderr;
		for (j = 0; j < HIST_SIZE; j++)
			tot.hist[j] += ws[i].st.hist[j];
	}
	stop = now_ns();
	if (stop > bc.end)
		stop = bc.end;
	secs = (double)(stop - bc.start) / NSEC;
	loss = tot.sent == 0 ? 0 : 100.0 * (double)tot.lost /
	    (double)tot.sent;
	printf("udp flows=%d size=%zu %s=%" PRIu64 " warm=%d sent=%" PRIu64
	    " recv=%" PRIu64 " lost=%" PRIu64 " late=%" PRIu64
	    " loss_pct=%.3f pps=%.0f rtt_p50_us=%.1f rtt_p99_us=%.1f"
	    " secs=%.2f senderr=%" PRIu64 " errors=%" PRIu64 "\n",
	    bc.flows, bc.size, bc.rate != 0 ? "rate" : "window",
	    bc.rate != 0 ? bc.rate : bc.window, warm, tot.sent, tot.recv,
	    tot.lost, tot.late, loss, (double)tot.recv / secs,
	    hist_pct(tot.hist, tot.recv, 0.50),
	    hist_pct(tot.hist, tot.recv, 0.99), secs, tot.senderr,
	    tot.errors);
	if (tot.errors != 0)
		fprintf(stderr, "fg-bench: udp errors: length %" PRIu64
		    ", source %" PRIu64 ", other flow %" PRIu64 ", content %"
		    PRIu64 ", unknown seq %" PRIu64 "\n", tot.err_len,
		    tot.err_src, tot.err_flow, tot.err_data, tot.err_seq);
	fflush(stdout);
	/* Freed, so a sanitizer build's leak check passes. */
	for (i = 0; i < bc.threads; i++) {
		w = &ws[i];
		for (j = 0; j < (int)w->nflows; j++) {
			close(w->flows[j].fd);
			free(w->flows[j].slots);
			free(w->flows[j].free);
		}
		close(w->epfd);
		free(w->flows);
		free(w->sbuf);
		free(w->rbuf);
	}
	free(ws);
	return (tot.errors == 0 && tot.recv > 0 ? 0 : 1);
}

/* ------------------------------------------------------------------------
 * TCP generator.
 */

enum tcp_mode {
	TCP_ECHO,			/* write and read back (echo server) */
	TCP_UP,				/* write only (sink server) */
	TCP_DOWN			/* read only (source server) */
};

/* One client connection. */
struct tconn {
	int		 fd;
	uint32_t	 id;
	uint64_t	 base;		/* pattern offset of stream byte 0 */
	uint64_t	 wr;		/* bytes written */
	uint64_t	 rd;		/* bytes read back and verified */
	uint32_t	 events;	/* epoll interest now registered */
	int		 flags;
#define TC_SHUT		0x01		/* we sent our FIN */
#define TC_DONE		0x02		/* finished or failed; fd closed */
	u_char		 cnt[8];	/* up: the sink's byte count */
	u_int		 ncnt;
};

struct tstats {
	uint64_t	 bytes;		/* verified during the run */
	uint64_t	 wr;
	uint64_t	 rd;
	uint64_t	 errors;
	uint64_t	 noeof;		/* echoed all, but no FIN came back */
};

struct tworker {
	pthread_t	 thread;
	struct tconn	*conns;
	int		 nconns;
	int		 nopen;		/* conns without TC_DONE */
	int		 epfd;
	enum tcp_mode	 mode;
	struct tstats	 st;
	u_char		 rbuf[STREAM_BUF];
};

static int	tcp_connect(const struct sockaddr_in *, uint64_t);
static void	tconn_done(struct tworker *, struct tconn *, int);
static void	tconn_interest(struct tworker *, struct tconn *, int);
static void	tconn_event(struct tworker *, struct tconn *, uint32_t, int);
static void	*tworker_run(void *);

/* A nonblocking connect bounded by timeout ns; returns the fd or -1. */
static int
tcp_connect(const struct sockaddr_in *sin, uint64_t timeout)
{
	struct pollfd	 pfd;
	socklen_t	 len;
	int		 fd, e;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return (-1);
	if (connect(fd, (const struct sockaddr *)sin, sizeof(*sin)) == 0)
		return (fd);
	if (errno != EINPROGRESS)
		goto fail;
	pfd.fd = fd;
	pfd.events = POLLOUT;
	if (poll(&pfd, 1, (int)(timeout / MSEC)) != 1) {
		errno = ETIMEDOUT;
		goto fail;
	}
	len = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1)
		goto fail;
	if (e != 0) {
		errno = e;
		goto fail;
	}
	return (fd);
fail:
	e = errno;
	close(fd);
	errno = e;
	return (-1);
}

/*
 * The one way a connection ends: check what came back against what was
 * sent (unless it already failed), count and close.
 */
static void
tconn_done(struct tworker *w, struct tconn *c, int failed)
{
	uint64_t	 n;
	u_int		 i;

	if (c->flags & TC_DONE)
		return;
	if (failed)
		w->st.errors++;
	else if (w->mode == TCP_ECHO && c->rd != c->wr)
		w->st.errors++;
	else if (w->mode == TCP_UP) {
		for (n = 0, i = 0; i < c->ncnt; i++)
			n = n << 8 | c->cnt[i];
		if (c->ncnt != sizeof(c->cnt) || n != c->wr)
			w->st.errors++;
	}
	w->st.wr += c->wr;
	w->st.rd += c->rd;
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->flags |= TC_DONE;
	w->nopen--;
}

/* Asks for writability only while there is room to write. */
static void
tconn_interest(struct tworker *w, struct tconn *c, int running)
{
	struct epoll_event	 e;

	memset(&e, 0, sizeof(e));
	e.events = EPOLLIN;
	if (running && w->mode != TCP_DOWN &&
	    (w->mode == TCP_UP || c->wr - c->rd < bc.window))
		e.events |= EPOLLOUT;
	if (e.events == c->events)
		return;
	e.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e) == -1)
		tconn_done(w, c, 1);
	else
		c->events = e.events;
}

/*
 * Reads and verifies, then writes the next chunk while the run lasts.
 * Echo mode keeps at most -w bytes unacknowledged by the echo, so the
 * proxy's buffering cannot inflate the figure.
 */
static void
tconn_event(struct tworker *w, struct tconn *c, uint32_t ev, int running)
{
	uint64_t	 room;
	ssize_t		 n;
	size_t		 len;

	if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		n = recv(c->fd, w->rbuf, sizeof(w->rbuf), MSG_DONTWAIT);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			tconn_done(w, c, 1);
			return;
		}
		if (n == 0) {
			/* A FIN before ours is the peer giving up. */
			tconn_done(w, c, !(c->flags & TC_SHUT));
			return;
		}
		if (n > 0 && w->mode == TCP_UP) {
			if (c->ncnt + (size_t)n > sizeof(c->cnt)) {
				tconn_done(w, c, 1);
				return;
			}
			memcpy(c->cnt + c->ncnt, w->rbuf, (size_t)n);
			c->ncnt += (u_int)n;
		} else if (n > 0) {
			if (memcmp(w->rbuf, pattern + (c->base + c->rd) %
			    PAT_PERIOD, (size_t)n) != 0) {
				tconn_done(w, c, 1);
				return;
			}
			c->rd += (uint64_t)n;
			if (running)
				w->st.bytes += (uint64_t)n;
		}
	}
	if ((ev & EPOLLOUT) && running && w->mode != TCP_DOWN) {
		len = bc.size;
		if (w->mode == TCP_ECHO) {
			room = bc.window - (c->wr - c->rd);
			if (c->wr - c->rd >= bc.window)
				room = 0;
			if (room < len)
				len = (size_t)room;
		}
		if (len > 0) {
			n = send(c->fd, pattern + (c->base + c->wr) %
			    PAT_PERIOD, len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				tconn_done(w, c, 1);
				return;
			}
			if (n > 0) {
				c->wr += (uint64_t)n;
				if (w->mode == TCP_UP)
					w->st.bytes += (uint64_t)n;
			}
		}
	}
	tconn_interest(w, c, running);
}

/*
 * One generator thread.  When the run ends every connection sends its
 * FIN and waits (bounded) for the rest of the echo and the peer's FIN.
 */
static void *
tworker_run(void *arg)
{
	struct tworker		*w = arg;
	struct epoll_event	 evs[64];
	struct tconn		*c;
	uint64_t		 now;
	int			 i, n, running, shut = 0;

	for (;;) {
		now = now_ns();
		running = now < bc.end && !stopping;
		if (!running && !shut) {
			for (i = 0; i < w->nconns; i++) {
				c = &w->conns[i];
				if (c->flags & TC_DONE)
					continue;
				if (w->mode == TCP_DOWN) {
					tconn_done(w, c, 0);
					continue;
				}
				if (shutdown(c->fd, SHUT_WR) == -1) {
					tconn_done(w, c, 1);
					continue;
				}
				c->flags |= TC_SHUT;
				tconn_interest(w, c, 0);
			}
			shut = 1;
		}
		if (!running && (w->nopen == 0 ||
		    now >= bc.end + GRACE_TCP || stopping))
			break;
		n = epoll_wait(w->epfd, evs, 64, 10);
		for (i = 0; i < n; i++) {
			c = evs[i].data.ptr;
			if (!(c->flags & TC_DONE))
				tconn_event(w, c, evs[i].events, running);
		}
	}
	/* Whatever is left did not finish within the grace period. */
	for (i = 0; i < w->nconns; i++) {
		c = &w->conns[i];
		if (c->flags & TC_DONE)
			continue;
		if (w->mode == TCP_ECHO && c->rd == c->wr) {
			w->st.noeof++;
			c->flags |= TC_DONE;
			w->st.wr += c->wr;
			w->st.rd += c->rd;
			close(c->fd);
			w->nopen--;
		} else
			tconn_done(w, c, 1);
	}
	return (NULL);
}

static int
cmd_tcp(int argc, char **argv)
{
	struct tworker		*ws, *w;
	struct tconn		*c;
	struct epoll_event	 e;
	struct tstats		 tot;
	struct rusage		 ru;
	char			 cpu[32];
	enum tcp_mode		 mode;
	uint64_t		 stop, failed = 0;
	double			 secs;
	int			 i, j;

	bc.flows = 1;
	bc.size = 16384;
	bc.duration = 10;
	bc.window = 1024 * 1024;
	bc.threads = 1;
	parse_opts(argc, argv, "tcdswmT");
	if (!bc.have_addr)
		usage();
	if (bc.mode == NULL || strcmp(bc.mode, "echo") == 0)
		mode = TCP_ECHO;
	else if (strcmp(bc.mode, "up") == 0)
		mode = TCP_UP;
	else if (strcmp(bc.mode, "down") == 0)
		mode = TCP_DOWN;
	else
		usage();
	if (bc.threads > bc.flows)
		bc.threads = bc.flows;
	signals_client();
	pattern_init();

	if ((ws = calloc((size_t)bc.threads, sizeof(*ws))) == NULL)
		err(1, "calloc");
	for (i = 0; i < bc.threads; i++) {
		w = &ws[i];
		w->mode = mode;
		w->nconns = bc.flows / bc.threads +
		    (i < bc.flows % bc.threads ? 1 : 0);
		if ((w->conns = calloc((size_t)w->nconns,
		    sizeof(*w->conns))) == NULL)
			err(1, "calloc");
		if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
			err(1, "epoll_create1");
	}
	for (j = 0; j < bc.flows; j++) {
		w = &ws[j % bc.threads];
		c = &w->conns[j / bc.threads];
		c->id = (uint32_t)j;
		/* A source server starts every stream at offset 0. */
		c->base = mode == TCP_DOWN ? 0 : (uint64_t)j * 7919;
		if ((c->fd = tcp_connect(&bc.addr, 3000 * MSEC)) == -1) {
			warn("connect %s:%u (conn %d)",
			    inet_ntoa(bc.addr.sin_addr),
			    ntohs(bc.addr.sin_port), j);
			c->flags |= TC_DONE;
			failed++;
			continue;
		}
		memset(&e, 0, sizeof(e));
		e.events = c->events = mode == TCP_DOWN ? EPOLLIN :
		    EPOLLIN | EPOLLOUT;
		e.data.ptr = c;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e) == -1)
			err(1, "epoll_ctl");
		w->nopen++;
	}

	bc.start = now_ns();
	bc.end = bc.start + (uint64_t)(bc.duration * NSEC);
	for (i = 0; i < bc.threads; i++)
		if (pthread_create(&ws[i].thread, NULL, tworker_run,
		    &ws[i]) != 0)
			errx(1, "pthread_create");
	memset(&tot, 0, sizeof(tot));
	tot.errors = failed;
	for (i = 0; i < bc.threads; i++) {
		pthread_join(ws[i].thread, NULL);
		tot.bytes += ws[i].st.bytes;
		tot.wr += ws[i].st.wr;
		tot.rd += ws[i].st.rd;
		tot.errors += ws[i].st.errors;
		tot.noeof += ws[i].st.noeof;
	}
	stop = now_ns();
	if (stop > bc.end)
		stop = bc.end;
	secs = (double)(stop - bc.start) / NSEC;
	/* The generator's own CPU (user + system, whole run), for tls.sh. */
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		(void)snprintf(cpu, sizeof(cpu), "%.2f",
		    (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		    (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	else
		(void)snprintf(cpu, sizeof(cpu), "-");
	printf("tcp conns=%d block=%zu mode=%s bytes=%" PRIu64
	    " mbit_s=%.1f written=%" PRIu64 " read=%" PRIu64 " secs=%.2f"
	    " noeof=%" PRIu64 " errors=%" PRIu64 " cpu=%s\n", bc.flows,
	    bc.size, mode == TCP_ECHO ? "echo" : mode == TCP_UP ? "up" :
	    "down", tot.bytes, (double)tot.bytes * 8 / secs / 1e6, tot.wr,
	    tot.rd, secs, tot.noeof, tot.errors, cpu);
	fflush(stdout);
	/* The workers closed every connection (TC_DONE). */
	for (i = 0; i < bc.threads; i++) {
		close(ws[i].epfd);
		free(ws[i].conns);
	}
	free(ws);
	return (tot.errors == 0 && tot.bytes > 0 ? 0 : 1);
}

/* ------------------------------------------------------------------------
 * Helpers for run.sh.
 */

/*
 * Prints -n distinct loopback ports that are free for both TCP and UDP
 * right now.  All sockets stay open until every port is chosen, so the
 * ports printed are distinct.
 */
static int
cmd_freeport(int argc, char **argv)
{
	struct sockaddr_in	 sin;
	socklen_t		 slen;
	u_int			 ports[64];
	int			 fds[128], nfd = 0, got = 0, tries, t, u;

	bc.count = 1;
	parse_opts(argc, argv, "n");
	for (tries = 0; got < bc.count && tries < 1000; tries++) {
		if ((t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
			err(1, "socket");
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		slen = sizeof(sin);
		if (bind(t, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
		    getsockname(t, (struct sockaddr *)&sin, &slen) == -1)
			err(1, "bind");
		if ((u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
			err(1, "socket");
		if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			close(t);
			close(u);
			continue;
		}
		fds[nfd++] = t;
		fds[nfd++] = u;
		ports[got++] = ntohs(sin.sin_port);
	}
	if (got < bc.count)
		errx(1, "no free ports");
	for (t = 0; t < got; t++)
		printf("%u\n", ports[t]);
	for (t = 0; t < nfd; t++)
		close(fds[t]);
	return (0);
}

/*
 * Waits until ADDR:PORT echoes: one datagram, or a few bytes on a new
 * connection, retried every 100 ms until the timeout.  run.sh uses it to
 * know that a proxy and the path behind it are up.
 */
static int
cmd_probe(int argc, char **argv)
{
	static const char	 msg[] = "fg-bench probe";
	struct pollfd		 pfd;
	char			 buf[64];
	size_t			 got;
	ssize_t			 n;
	uint64_t		 deadline;
	int			 udp, fd = -1;

	if (argc < 2)
		usage();
	if (strcmp(argv[1], "udp") == 0)
		udp = 1;
	else if (strcmp(argv[1], "tcp") == 0)
		udp = 0;
	else
		usage();
	bc.timeout = 5000 * MSEC;
	parse_opts(argc - 1, argv + 1, "to");
	if (!bc.have_addr)
		usage();
	deadline = now_ns() + bc.timeout;
	signal(SIGPIPE, SIG_IGN);

	while (now_ns() < deadline) {
		if (fd != -1 && !udp) {
			close(fd);
			fd = -1;
		}
		if (fd == -1 && udp) {
			if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC,
			    0)) == -1)
				err(1, "socket");
			if (connect(fd, (struct sockaddr *)&bc.addr,
			    sizeof(bc.addr)) == -1)
				err(1, "connect");
		} else if (fd == -1) {
			if ((fd = tcp_connect(&bc.addr, 1000 * MSEC)) == -1) {
				usleep(100000);
				continue;
			}
		}
		if (send(fd, msg, sizeof(msg), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(msg)) {
			usleep(100000);
			continue;
		}
		/* A refused datagram shows up as ECONNREFUSED: retry. */
		for (got = 0; got < sizeof(msg);) {
			pfd.fd = fd;
			pfd.events = POLLIN;
			if (poll(&pfd, 1, 100) != 1)
				break;
			n = recv(fd, buf + got, sizeof(buf) - got,
			    MSG_DONTWAIT);
			if (n <= 0)
				break;
			got += (size_t)n;
			if (udp)
				break;
		}
		if (got == sizeof(msg) && memcmp(buf, msg, sizeof(msg)) == 0) {
			close(fd);
			return (0);
		}
		if (udp && got == 0)
			usleep(20000);
	}
	if (fd != -1)
		close(fd);
	warnx("probe %s %s:%u: no echo", udp ? "udp" : "tcp",
	    inet_ntoa(bc.addr.sin_addr), ntohs(bc.addr.sin_port));
	return (1);
}

/* ------------------------------------------------------------------------
 * The floor of a UDP relay for one client (relay-udp): what any user-space
 * forwarder costs on this machine when it does nothing but move datagrams.
 * One thread, a listening socket and a socket connected to -t; datagrams
 * from the client go to -t, replies go to the last client address seen.
 * No flow table, no counters, no timers, no checks: a baseline to compare
 * a real forwarder with, not a forwarder.  -m poll sleeps in epoll_wait as
 * an event loop does; -m spin never sleeps (a busy-polling forwarder, one
 * core gone).
 */

/* The relay's buffers, allocated once. */
struct relay {
	struct sockaddr_in	 client;	/* last source seen; 0: none */
	struct sockaddr_in	*from;
	struct mmsghdr		*msgs;
	struct iovec		*iov;
	u_char			*bufs;
};

/*
 * Read a batch from fd and send it out of out: from the client to the
 * socket's peer, or from the peer to the client.  Returns the batch size.
 */
static int
relay_move(struct relay *r, int fd, int out, int from_client)
{
	int	i, n, k;

	for (i = 0; i < BATCH; i++) {
		r->iov[i].iov_base = r->bufs + (size_t)i * DGRAM_MAX;
		r->iov[i].iov_len = DGRAM_MAX;
		memset(&r->msgs[i].msg_hdr, 0, sizeof(r->msgs[i].msg_hdr));
		r->msgs[i].msg_hdr.msg_iov = &r->iov[i];
		r->msgs[i].msg_hdr.msg_iovlen = 1;
		r->msgs[i].msg_hdr.msg_name = &r->from[i];
		r->msgs[i].msg_hdr.msg_namelen = sizeof(r->from[i]);
	}
	n = recvmmsg(fd, r->msgs, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return (0);
	if (from_client)
		r->client = r->from[n - 1];
	else if (r->client.sin_family != AF_INET)
		return (n);		/* no client yet: nowhere to go */
	for (i = 0; i < n; i++) {
		r->iov[i].iov_len = r->msgs[i].msg_len;
		r->msgs[i].msg_hdr.msg_name = from_client ? NULL : &r->client;
		r->msgs[i].msg_hdr.msg_namelen = from_client ? 0 :
		    sizeof(r->client);
	}
	for (i = 0; i < n; i += k)
		if ((k = sendmmsg(out, r->msgs + i, (u_int)(n - i), 0)) <= 0)
			k = 1;		/* a refused one is dropped */
	return (n);
}

static int
cmd_relay(int argc, char **argv)
{
	struct epoll_event	 ev[2];
	struct sockaddr_in	 sin;
	struct relay		 r;
	socklen_t		 slen;
	int			 lfd, ofd, epfd, spin = 0, i, n;

	parse_opts(argc, argv, "ltpm");
	if (!bc.have_listen || !bc.have_to)
		usage();
	if (bc.mode != NULL && strcmp(bc.mode, "spin") == 0)
		spin = 1;
	else if (bc.mode != NULL && strcmp(bc.mode, "poll") != 0)
		usage();
	signals_server();
	bc.addr = bc.listen;
	lfd = server_socket(SOCK_DGRAM, ntohs(bc.listen.sin_port), 0);
	if ((ofd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	set_bufs(ofd, SOCKBUF);
	if (connect(ofd, (struct sockaddr *)&bc.to, sizeof(bc.to)) == -1)
		err(1, "connect");
	set_nonblock(lfd);
	set_nonblock(ofd);
	slen = sizeof(sin);
	if (getsockname(lfd, (struct sockaddr *)&sin, &slen) == -1)
		err(1, "getsockname");
	if (bc.portfile != NULL)
		write_portfile(bc.portfile, ntohs(sin.sin_port));
	fprintf(stderr, "fg-bench: relay-udp %s:%u -> ",
	    inet_ntoa(sin.sin_addr), ntohs(sin.sin_port));
	fprintf(stderr, "%s:%u (%s)\n", inet_ntoa(bc.to.sin_addr),
	    ntohs(bc.to.sin_port), spin ? "spin" : "poll");
	memset(&r, 0, sizeof(r));
	r.from = calloc(BATCH, sizeof(*r.from));
	r.msgs = calloc(BATCH, sizeof(*r.msgs));
	r.iov = calloc(BATCH, sizeof(*r.iov));
	r.bufs = malloc((size_t)BATCH * DGRAM_MAX);
	if (r.from == NULL || r.msgs == NULL || r.iov == NULL ||
	    r.bufs == NULL)
		err(1, "relay buffers");
	if ((epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	ev[0].events = ev[1].events = EPOLLIN;
	ev[0].data.fd = lfd;
	ev[1].data.fd = ofd;
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev[0]) == -1 ||
	    epoll_ctl(epfd, EPOLL_CTL_ADD, ofd, &ev[1]) == -1)
		err(1, "epoll_ctl");
	for (;;) {
		if (spin) {
			(void)relay_move(&r, lfd, ofd, 1);
			(void)relay_move(&r, ofd, lfd, 0);
			continue;
		}
		if ((n = epoll_wait(epfd, ev, 2, -1)) == -1) {
			if (errno == EINTR)
				continue;
			err(1, "epoll_wait");
		}
		for (i = 0; i < n; i++) {
			if (ev[i].data.fd == lfd)
				while (relay_move(&r, lfd, ofd, 1) == BATCH)
					;
			else
				while (relay_move(&r, ofd, lfd, 0) == BATCH)
					;
		}
	}
	return (0);
}

int
main(int argc, char **argv)
{
	const char	*cmd;

	if (argc < 2)
		usage();
	cmd = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (strcmp(cmd, "echo-udp") == 0)
		return (cmd_echo(argc - 1, argv + 1, SOCK_DGRAM));
	if (strcmp(cmd, "echo-tcp") == 0)
		return (cmd_echo(argc - 1, argv + 1, SOCK_STREAM));
	if (strcmp(cmd, "udp") == 0)
		return (cmd_udp(argc - 1, argv + 1));
	if (strcmp(cmd, "tcp") == 0)
		return (cmd_tcp(argc - 1, argv + 1));
	if (strcmp(cmd, "freeport") == 0)
		return (cmd_freeport(argc - 1, argv + 1));
	if (strcmp(cmd, "probe") == 0)
		return (cmd_probe(argc - 1, argv + 1));
	if (strcmp(cmd, "relay-udp") == 0)
		return (cmd_relay(argc - 1, argv + 1));
	usage();
}
