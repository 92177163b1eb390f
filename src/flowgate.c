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
 * flowgate: the command line, the main thread's event loop (signals,
 * reload), listening sockets, and the workers' start and stop.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "certs.h"
#include "flowgate.h"

#define EXIT_CONFIG	1	/* bad configuration or start-up failure */
#define EXIT_USAGE	2	/* bad command line */

static __dead void
usage(void)
{
	fprintf(stderr,
	    "usage: flowgate run [-v] [-c file] [-P portfile]\n"
	    "       flowgate check [-v] [-c file]\n"
	    "       flowgate probe [-a ca] [-c cert] [-k key] [-n name] "
	    "[-t timeout] url\n"
	    "       flowgate certs [import | export] [-f] [-d dir] [-n name] "
	    "[-D days]\n"
	    "       flowgate version\n"
	    "       flowgate help\n");
	exit(EXIT_USAGE);
}

static void
help(void)
{
	printf("flowgate %s: UDP and TCP across WebSocket, TLS and DTLS\n\n"
	    "  run [-v] [-c file] [-P portfile]\n"
	    "      Run the daemon in the foreground.  Without -c, a built-in\n"
	    "      configuration serves demo services on 127.0.0.1 only.\n"
	    "      -P writes the addresses it listens on to portfile.\n"
	    "  check [-v] [-c file]\n"
	    "      Validate a configuration; print \"configuration OK\" or\n"
	    "      every error as file:line:col: message.\n"
	    "  probe [-a ca] [-c cert] [-k key] [-n name] [-t timeout] url\n"
	    "      GoDoxy stream health check of tls-stream://host:port;\n"
	    "      exit status 0 when the server accepted it, else 1.\n"
	    "  certs [-f] [-d dir] [-n name] [-D days]\n"
	    "      Create a CA, a server and a client certificate (mTLS).\n"
	    "  certs import [-f] [-d dir]   certs export [-d dir]\n"
	    "      From and to GoDoxy's AGENT_CA_CERT/AGENT_SSL_CERT.\n"
	    "  version\n"
	    "      Print the version.\n\n"
	    "Packaged configuration: %s/flowgate.yml (read when given "
	    "with -c)\n"
	    "See flowgate(8) and flowgate.yml(5).\n", PACKAGE_VERSION,
	    FG_SYSCONFDIR);
}

static const char *
url_fmt(const struct url *u, char *buf, size_t len)
{
	int	v6 = strchr(u->host, ':') != NULL;

	if (!u->has_port)
		snprintf(buf, len, "%s://%s%s", u->scheme, u->host, u->path);
	else
		snprintf(buf, len, "%s://%s%s%s:%u%s", u->scheme,
		    v6 ? "[" : "", u->host, v6 ? "]" : "", u->port, u->path);
	return (buf);
}

/*
 * Where the built-in configuration keeps its development certificates:
 * $FLOWGATE_STATE_DIR, else the system state directory for root, else
 * $XDG_STATE_HOME/flowgate or ~/.local/state/flowgate.
 */
static char *
state_dir(void)
{
	const char	*e;
	char		*dir;

	if ((e = getenv("FLOWGATE_STATE_DIR")) != NULL && *e != '\0')
		return (xstrdup(e));
	if (geteuid() == 0)
		return (xstrdup(FG_STATEDIR));
	if ((e = getenv("XDG_STATE_HOME")) != NULL && *e == '/') {
		xasprintf(&dir, "%s/flowgate", e);
		return (dir);
	}
	if ((e = getenv("HOME")) != NULL && *e == '/') {
		xasprintf(&dir, "%s/.local/state/flowgate", e);
		return (dir);
	}
	return (xstrdup(".flowgate"));
}

/* mkdir -p, each new level 0700. */
static int
mkdir_p(const char *path)
{
	char	*p, *s;
	int	 rc = 0;

	s = xstrdup(path);
	for (p = s + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(s, 0700) == -1 && errno != EEXIST)
			rc = -1;
		*p = '/';
	}
	if (mkdir(s, 0700) == -1 && errno != EEXIST)
		rc = -1;
	free(s);
	return (rc);
}

/*
 * The built-in configuration with @STATE@ replaced by the state directory
 * (quoted for YAML), creating the development certificates there on first
 * use.  NULL when they cannot be made.
 */
static char *
default_yaml(void)
{
	char		*dir, *err = NULL, *out;

	dir = state_dir();
	if (mkdir_p(dir) == -1 || certs_ensure(dir, &err) == -1) {
		log_error("state directory %s: %s", dir, err != NULL ? err :
		    strerror(errno));
		free(err);
		free(dir);
		return (NULL);
	}
	out = config_default_render(dir);
	free(dir);
	return (out);
}

/*
 * Load path (NULL: the built-in default).  Errors go to the log while
 * running, and bare to stderr for "check", one "file:line:col: ..." each.
 */
static struct config *
load(const char *path, int bare)
{
	struct config_errs	 errs;
	struct config_err	*e;
	struct config		*cf;
	char			*yaml;

	TAILQ_INIT(&errs);
	if (path != NULL)
		cf = config_load(path, &errs);
	else {
		if ((yaml = default_yaml()) == NULL)
			return (NULL);
		cf = config_load_string("(built-in)", yaml, strlen(yaml),
		    &errs);
		free(yaml);
	}
	TAILQ_FOREACH(e, &errs, entry) {
		if (bare)
			fprintf(stderr, "%s\n", e->msg);
		else
			log_error("%s", e->msg);
	}
	config_errs_free(&errs);
	return (cf);
}

/* Where a service listens: a numeric host, a name, or any address. */
static int
listen_addr(const struct service_conf *sc, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct addrinfo	 hints, *ai;
	char		 port[8];
	int		 rc;

	if (addr_parse_numeric(sc->listen.host, sc->listen.port, ss, len) == 0)
		return (0);
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_PASSIVE;
	hints.ai_socktype = SOCK_DGRAM;
	snprintf(port, sizeof(port), "%u", sc->listen.port);
	if ((rc = getaddrinfo(sc->listen.host, port, &hints, &ai)) != 0) {
		log_error("service %s: cannot resolve %s: %s", sc->name,
		    sc->listen.host, gai_strerror(rc));
		return (-1);
	}
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return (0);
}

static int
listen_socktype(const struct service_conf *sc)
{
	return ((sc->listen_ops->flags & TR_DGRAM) ? SOCK_DGRAM : SOCK_STREAM);
}

/* Whether a and b, of one family, would clash on one port. */
static int
listen_overlaps(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;

	if (a->sa_family != b->sa_family)
		return (0);	/* IPv6 sockets are IPV6_V6ONLY */
	if (a->sa_family == AF_INET) {
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		return (a4->sin_port == b4->sin_port &&
		    (a4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    b4->sin_addr.s_addr == htonl(INADDR_ANY) ||
		    a4->sin_addr.s_addr == b4->sin_addr.s_addr));
	}
	a6 = (const struct sockaddr_in6 *)a;
	b6 = (const struct sockaddr_in6 *)b;
	return (a6->sin6_port == b6->sin6_port &&
	    (IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr) ||
	    IN6_IS_ADDR_UNSPECIFIED(&b6->sin6_addr) ||
	    memcmp(&a6->sin6_addr, &b6->sin6_addr,
	    sizeof(a6->sin6_addr)) == 0));
}

/*
 * Whether a service of the running configuration holds a port that sa
 * would clash with, with the same socket type: then the port is ours (a
 * renamed service, one that moves to a port another leaves, or from one
 * address to the wildcard on the same port), and the kernel lets our
 * SO_REUSEPORT sockets share it while the old ones close.
 */
static int
listen_is_ours(const struct sockaddr *sa, int type)
{
	struct service_conf	*sc;

	if (flowgate->config == NULL)
		return (0);
	TAILQ_FOREACH(sc, &flowgate->config->services, entry)
		if (sc->boundlen > 0 && listen_socktype(sc) == type &&
		    listen_overlaps((struct sockaddr *)&sc->bound, sa))
			return (1);
	return (0);
}

/*
 * SO_REUSEPORT would let this process join a port that another process of
 * the same user holds the same way (a stale flowgate, say), and the two
 * would share the traffic silently.  So first bind the address alone, as
 * a socket without SO_REUSEPORT: it fails while anyone holds the port.  A
 * TCP probe sets SO_REUSEADDR, so connections in TIME_WAIT do not count.
 */
static int
listen_probe(const struct sockaddr *sa, socklen_t len, int type)
{
	int	fd, on = 1, r, e;

	if ((fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (type == SOCK_STREAM)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (sa->sa_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
		    sizeof(on));
	r = bind(fd, sa, len);
	e = errno;
	close(fd);
	errno = e;
	return (r);
}

/*
 * Open one listening socket per worker for sc into fds[w * stride].  The
 * first socket fixes the port (port 0 picks one); the others join it
 * through SO_REUSEPORT.
 */
static int
listen_open(struct service_conf *sc, int *fds, int stride)
{
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	const char		*errstr = "listen";
	char			 a[ADDRSTRLEN];
	int			 i, fd;

	if (listen_addr(sc, &ss, &len) == -1)
		return (-1);
	if (sc->listen.port != 0 &&
	    !listen_is_ours((struct sockaddr *)&ss, listen_socktype(sc)) &&
	    listen_probe((struct sockaddr *)&ss, len,
	    listen_socktype(sc)) == -1) {
		log_error("service %s: cannot listen on %s: %s%s", sc->name,
		    addr_str((struct sockaddr *)&ss, a, sizeof(a)),
		    strerror(errno), errno == EADDRINUSE ? " (another "
		    "process holds it; is another flowgate running?)" : "");
		return (-1);
	}
	for (i = 0; i < flowgate->nworkers; i++) {
		fd = sc->listen_ops->listen_open(sc, (struct sockaddr *)&ss,
		    len, &errstr);
		if (fd == -1) {
			log_error("service %s: cannot listen on %s: %s: %s",
			    sc->name, addr_str((struct sockaddr *)&ss, a,
			    sizeof(a)), errstr, strerror(errno));
			while (--i >= 0) {
				close(fds[i * stride]);
				fds[i * stride] = -1;
			}
			return (-1);
		}
		fds[i * stride] = fd;
		if (i == 0) {
			sc->boundlen = sizeof(sc->bound);
			if (getsockname(fd, (struct sockaddr *)&sc->bound,
			    &sc->boundlen) == -1) {
				memcpy(&sc->bound, &ss, len);
				sc->boundlen = len;
			}
			memcpy(&ss, &sc->bound, sc->boundlen);
			len = sc->boundlen;
		}
	}
	return (0);
}

/* The test and supervisor hook: "NAME SCHEME ADDR:PORT" per service. */
static void
port_file_write(struct config *cf)
{
	struct service_conf	*sc;
	char			 tmp[4096], a[ADDRSTRLEN];
	FILE			*fp;

	if (flowgate->port_file == NULL)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", flowgate->port_file);
	if ((fp = fopen(tmp, "w")) == NULL) {
		log_warn("%s", tmp);
		return;
	}
	TAILQ_FOREACH(sc, &cf->services, entry) {
		fprintf(fp, "%s %s %s\n", sc->name, sc->listen.scheme,
		    addr_str((struct sockaddr *)&sc->bound, a, sizeof(a)));
	}
	if (fclose(fp) != 0 || rename(tmp, flowgate->port_file) == -1)
		log_warn("%s", flowgate->port_file);
}

static void
log_services(struct config *cf, struct config *old)
{
	struct service_conf	*sc, *osc;
	char			 a[ADDRSTRLEN], fwd[600];

	TAILQ_FOREACH(sc, &cf->services, entry) {
		osc = old != NULL ? config_find_service(old, sc->name) : NULL;
		if (osc != NULL && service_conf_equal(osc, sc))
			continue;
		log_info("service %s service=%s listen=%s://%s forward=%s",
		    osc != NULL ? "changed" : "started", sc->name,
		    sc->listen.scheme, addr_str((struct sockaddr *)&sc->bound,
		    a, sizeof(a)), sc->has_forward ? url_fmt(&sc->forward,
		    fwd, sizeof(fwd)) : "-");
		if ((sc->listen_ops->flags & TR_TUNNEL) && !sc->has_forward &&
		    !sc->has_allow)
			log_warnx("service=%s has no allow list: tunnels may "
			    "reach any destination", sc->name);
		if ((sc->listen_ops->flags & TR_TLS) &&
		    sc->tls.client_auth == TLS_AUTH_NONE)
			log_warnx("service=%s accepts clients without a "
			    "certificate (tls.client_auth: none)", sc->name);
	}
	if (old == NULL)
		return;
	TAILQ_FOREACH(osc, &old->services, entry) {
		if (config_find_service(cf, osc->name) == NULL)
			log_info("service removed service=%s", osc->name);
	}
}

/*
 * Bring the workers onto cf: reuse the listeners of unchanged services,
 * open new ones for the rest.  On any failure nothing changes and -1 is
 * returned.  The caller's reference to cf moves to flowgate->config.
 */
static int
apply(struct config *cf)
{
	struct config		*old = flowgate->config;
	struct service_conf	*sc, *osc;
	int			*fds, n = cf->nservices, i, j, w;

	fds = xcalloc((size_t)flowgate->nworkers * (size_t)(n > 0 ? n : 1),
	    sizeof(int));
	for (i = 0; i < flowgate->nworkers * n; i++)
		fds[i] = -1;
	i = 0;
	TAILQ_FOREACH(sc, &cf->services, entry) {
		osc = old != NULL ? config_find_service(old, sc->name) : NULL;
		if (osc != NULL) {
			/* Counters follow the name across reloads. */
			service_stats_unref(sc->stats);
			sc->stats = service_stats_ref(osc->stats);
		}
		if (osc != NULL && service_conf_same_listener(osc, sc)) {
			/* Same listen endpoint: keep the sockets and flows. */
			sc->bound = osc->bound;
			sc->boundlen = osc->boundlen;
		} else if (listen_open(sc, &fds[i], n) == -1) {
			for (j = 0; j < flowgate->nworkers * n; j++)
				if (fds[j] != -1)
					close(fds[j]);
			free(fds);
			return (-1);
		}
		i++;
	}
	for (w = 0; w < flowgate->nworkers; w++)
		worker_send(&flowgate->workers[w], WORKER_CMD_RELOAD, cf,
		    &fds[w * n]);
	free(fds);
	log_services(cf, old);
	flowgate->config = cf;
	if (old != NULL)
		config_unref(old);
	port_file_write(cf);
	return (0);
}

static void
reload(void)
{
	struct config	*cf;

	log_info("reloading configuration from %s", flowgate->conf_path ?
	    flowgate->conf_path : "(built-in)");
	if ((cf = load(flowgate->conf_path, 0)) == NULL) {
		log_error("reload failed, keeping the running configuration");
		return;
	}
	if (cf->workers != (uint64_t)flowgate->nworkers)
		log_warnx("workers: a change takes effect at restart");
	if (apply(cf) == -1) {
		config_unref(cf);
		log_error("reload failed, keeping the running configuration");
		return;
	}
	log_set(flowgate->verbose ? LOG_LVL_DEBUG : cf->log_level,
	    cf->log_format, cf->log_syslog);
	log_info("configuration reloaded services=%d", cf->nservices);
}

/* SIGUSR1: one line of counters per service. */
static void
log_stats(void)
{
	struct service_conf	*sc;

	log_info("stats flows=%llu", (unsigned long long)flowgate->nflows);
	TAILQ_FOREACH(sc, &flowgate->config->services, entry) {
		log_info("stats service=%s flows=%llu flows_total=%llu "
		    "refused=%llu bytes_in=%llu bytes_out=%llu coalesced=%llu",
		    sc->name, (unsigned long long)sc->stats->nflows,
		    (unsigned long long)sc->stats->flows_total,
		    (unsigned long long)sc->stats->flows_refused,
		    (unsigned long long)sc->stats->bytes_in,
		    (unsigned long long)sc->stats->bytes_out,
		    (unsigned long long)sc->stats->coalesced);
	}
}

static void
signal_cb(evutil_socket_t sig, short ev, void *arg)
{
	static int	stopping;
	int		i;

	/* After the first stop request the workers are on their way out. */
	if (stopping && sig != SIGUSR1)
		return;
	switch (sig) {
	case SIGUSR1:
		log_stats();
		break;
	case SIGHUP:
		reload();
		break;
	case SIGINT:
	case SIGTERM:
		stopping = 1;
		log_info("%s: stopping, flows=%llu", strsignal((int)sig),
		    (unsigned long long)flowgate->nflows);
		for (i = 0; i < flowgate->nworkers; i++)
			worker_send(&flowgate->workers[i], WORKER_CMD_STOP,
			    NULL, NULL);
		event_base_loopexit(flowgate->base, NULL);
		break;
	}
}

static void
hint_default(struct config *cf)
{
	struct service_conf	*sc;
	char			 a[ADDRSTRLEN];

	fprintf(stderr, "flowgate: no -c given: running the built-in "
	    "configuration (127.0.0.1 only)\n");
	TAILQ_FOREACH(sc, &cf->services, entry) {
		if (sc->forward_ops == transport_find("echo") ||
		    (strcmp(sc->listen.scheme, "udp") != 0 &&
		    strcmp(sc->listen.scheme, "tcp") != 0))
			continue;
		fprintf(stderr, "  try: echo hello | socat - %s:%s\n",
		    strcmp(sc->listen.scheme, "udp") == 0 ? "UDP" : "TCP",
		    addr_str((struct sockaddr *)&sc->bound, a, sizeof(a)));
	}
	fprintf(stderr, "  stop with Ctrl-C; see flowgate(8) for a real "
	    "configuration\n");
}

/*
 * Every flow holds one or two descriptors: take what the hard limit allows
 * (as HAProxy does) and say so when it is below what max_flows implies.
 */
static void
raise_nofile(struct config *cf)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		(void)getrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur != RLIM_INFINITY &&
	    (uint64_t)rl.rlim_cur < 2 * cf->max_flows + 64)
		log_warnx("open files limit %llu is below what max_flows %llu "
		    "may need (two per TCP flow)",
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)cf->max_flows);
}

static int
cmd_run(void)
{
	struct config	*cf;
	struct event	*sigs[5];
	int		 signos[5] = { SIGHUP, SIGINT, SIGTERM, SIGUSR1, 0 }, i;

	if ((cf = load(flowgate->conf_path, 0)) == NULL)
		return (EXIT_CONFIG);
	log_set(flowgate->verbose ? LOG_LVL_DEBUG : cf->log_level,
	    cf->log_format, cf->log_syslog);
	raise_nofile(cf);
	if (evthread_use_pthreads() == -1)
		fatalx("libevent has no pthreads support");
	signal(SIGPIPE, SIG_IGN);
	if ((flowgate->base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	flowgate->nworkers = (int)cf->workers;
	flowgate->workers = xcalloc((size_t)flowgate->nworkers,
	    sizeof(struct worker));
	for (i = 0; i < flowgate->nworkers; i++)
		worker_start(&flowgate->workers[i], i);
	if (apply(cf) == -1) {
		config_unref(cf);
		for (i = 0; i < flowgate->nworkers; i++) {
			worker_send(&flowgate->workers[i], WORKER_CMD_STOP,
			    NULL, NULL);
			worker_join(&flowgate->workers[i]);
		}
		free(flowgate->workers);
		event_base_free(flowgate->base);
		return (EXIT_CONFIG);
	}
	for (i = 0; signos[i] != 0; i++) {
		sigs[i] = evsignal_new(flowgate->base, signos[i], signal_cb,
		    NULL);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) == -1)
			fatalx("cannot handle signal %d", signos[i]);
	}
	log_info("flowgate %s started workers=%d services=%d",
	    PACKAGE_VERSION, flowgate->nworkers, cf->nservices);
	if (flowgate->conf_path == NULL)
		hint_default(cf);

	event_base_dispatch(flowgate->base);

	for (i = 0; i < flowgate->nworkers; i++)
		worker_join(&flowgate->workers[i]);
	for (i = 0; signos[i] != 0; i++)
		event_free(sigs[i]);
	log_info("flowgate stopped");
	free(flowgate->workers);
	config_unref(flowgate->config);
	event_base_free(flowgate->base);
	libevent_global_shutdown();
	return (0);
}

static int
cmd_check(void)
{
	struct config	*cf;

	if ((cf = load(flowgate->conf_path, 1)) == NULL)
		return (EXIT_CONFIG);
	config_unref(cf);
	printf("configuration OK\n");
	return (0);
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd;
	int		 ch;

	log_init(LOG_LVL_INFO, LOG_FMT_TEXT, 0);
	if (argc < 2)
		usage();
	cmd = argv[1];
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
		printf("flowgate %s\n", PACKAGE_VERSION);
		return (0);
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		help();
		return (0);
	}
	if (strcmp(cmd, "certs") == 0)
		return (certs_main(argc - 1, argv + 1));
	if (strcmp(cmd, "probe") == 0)
		return (probe_main(argc - 1, argv + 1));
	if (strcmp(cmd, "run") != 0 && strcmp(cmd, "check") != 0) {
		fprintf(stderr, "flowgate: unknown command \"%s\"\n", cmd);
		usage();
	}
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "c:P:vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			flowgate->conf_path = optarg;
			break;
		case 'P':
			if (strcmp(cmd, "run") != 0)
				usage();
			flowgate->port_file = optarg;
			break;
		case 'v':
			flowgate->verbose = 1;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (flowgate->verbose)
		log_set(LOG_LVL_DEBUG, LOG_FMT_TEXT, 0);
	if (strcmp(cmd, "check") == 0)
		return (cmd_check());
	return (cmd_run());
}
