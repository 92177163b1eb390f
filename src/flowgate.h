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

#ifndef FLOWGATE_H
#define FLOWGATE_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* glibc's sys/queue.h lacks the _SAFE iterators. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif
#ifndef LIST_FOREACH_SAFE
#define LIST_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = LIST_FIRST(head);					\
	    (var) != NULL && ((tvar) = LIST_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#ifndef __dead
#define __dead __attribute__((__noreturn__))
#endif
#define FG_PRINTF(a, b) __attribute__((__format__(__printf__, a, b)))

#define FG_MAX_DGRAM		65535	/* largest UDP payload we read */
#define FG_MAX_UDP_PAYLOAD	65507	/* largest IPv4 UDP payload */
#define FG_BATCH		32	/* recvmmsg/sendmmsg batch size */
#define FG_SBUF			(96 * 1024)	/* records sent in one batch */

struct transport_ops;
struct evconnlistener;
struct flow_dns;
struct src_counts;
struct flow;
struct half;
struct service;
struct worker;

/*
 * util.c: parsing helpers shared by the configuration and the transports.
 * All return 0 on success and -1 with *errstr pointing at a static
 * description on failure.
 */

/* A parsed endpoint URL: scheme://host:port[/path]. */
struct url {
	char		 scheme[16];	/* lower case, e.g. "udp" */
	char		 host[256];	/* no brackets; "" means any address */
	uint16_t	 port;		/* 0 only when the URL says :0 */
	int		 has_port;	/* the URL had a :port */
	char		 path[256];	/* "" or starting with '/' */
};

/* An address range with a port range, for allow lists. */
struct cidr {
	struct sockaddr_storage	 addr;	/* network address, host bits zero */
	int			 prefix;	/* bits, 0..32 or 0..128 */
	uint16_t		 port_lo;	/* 1..65535; both 0 means any port */
	uint16_t		 port_hi;
};

int		 parse_duration(const char *, uint64_t *ms, const char **errstr);
int		 parse_size(const char *, uint64_t *bytes, const char **errstr);
int		 parse_uint(const char *, uint64_t min, uint64_t max,
		    uint64_t *, const char **errstr);
int		 parse_bool(const char *, int *, const char **errstr);
int		 url_parse(const char *, struct url *, const char **errstr);
int		 addr_parse(const char *hostport, struct sockaddr_storage *,
		    socklen_t *, const char **errstr);
int		 addr_parse_numeric(const char *host, uint16_t port,
		    struct sockaddr_storage *, socklen_t *);
int		 cidr_parse(const char *, struct cidr *, const char **errstr);
int		 cidr_match(const struct cidr *, const struct sockaddr *);
const char	*addr_str(const struct sockaddr *, char *, size_t);
#define ADDRSTRLEN	64	/* "[ipv6%scope]:port" fits */
int		 addr_cmp(const struct sockaddr *, const struct sockaddr *);
uint64_t	 addr_hash(const struct sockaddr *, const uint8_t key[16]);
uint64_t	 siphash24(const void *, size_t, const uint8_t key[16]);
const char	*fmt_duration(uint64_t ms, char *, size_t);
const char	*fmt_size(uint64_t bytes, char *, size_t);
uint64_t	 now_ms(void);		/* CLOCK_MONOTONIC in ms */
void		*xcalloc(size_t, size_t);	/* fatal on failure: startup only */
char		*xstrdup(const char *);
int		 xasprintf(char **, const char *, ...) FG_PRINTF(2, 3);

/*
 * log.c
 */
enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG
};
enum log_format {
	LOG_FMT_TEXT = 0,
	LOG_FMT_JSON
};
void		 log_init(enum log_level, enum log_format, int use_syslog);
void		 log_set(enum log_level, enum log_format, int use_syslog);
int		 log_level_parse(const char *, enum log_level *);
int		 log_format_parse(const char *, enum log_format *);
void		 log_warn(const char *, ...) FG_PRINTF(1, 2);
void		 log_warnx(const char *, ...) FG_PRINTF(1, 2);
void		 log_error(const char *, ...) FG_PRINTF(1, 2);
void		 log_info(const char *, ...) FG_PRINTF(1, 2);
void		 log_debug(const char *, ...) FG_PRINTF(1, 2);
void		 log_emit(enum log_level, const char *, ...) FG_PRINTF(2, 3);
void		 log_vemit(enum log_level, const char *, va_list)
		    FG_PRINTF(2, 0);
int		 log_enabled(enum log_level);
__dead void	 fatal(const char *, ...) FG_PRINTF(1, 2);
__dead void	 fatalx(const char *, ...) FG_PRINTF(1, 2);

/*
 * config.c: the YAML file as plain structs.  Nothing here opens sockets.
 * A config is immutable once loaded and shared read-only between threads
 * through a reference count.
 */
/*
 * Counters of one service that outlive a reload: a service of the same
 * name in the new config takes over the old one's stats.
 */
struct service_stats {
	_Atomic int	 refs;
	_Atomic uint64_t nflows;	/* live, all workers */
	_Atomic uint64_t flows_total;
	_Atomic uint64_t flows_refused;
	_Atomic uint64_t bytes_in;	/* as they pass, live flows too */
	_Atomic uint64_t bytes_out;
	_Atomic uint64_t coalesced;	/* datagrams read in runs (udp_gro) */
	/* Live flows per client IP over all workers, for max_per_source. */
	pthread_mutex_t	 src_lock;
	struct src_counts *sources;	/* made on first use */
};
struct service_stats *service_stats_new(void);
struct service_stats *service_stats_ref(struct service_stats *);
void		 service_stats_unref(struct service_stats *);

/* TLS and DTLS settings: global defaults, and per service over them. */
struct tls_conf {
	char		*cert;		/* PEM certificate (chain) file */
	char		*key;		/* PEM private key file */
	char		*ca;		/* CA file: peers must chain to it */
	int		 client_auth;	/* TLS_AUTH_*; 0 = unset */
#define TLS_AUTH_REQUIRED	1
#define TLS_AUTH_OPTIONAL	2
#define TLS_AUTH_NONE		3
	char		*verify_name;	/* clients: expected server name, SNI */
	int		 min_version;	/* TLS_V12 or TLS_V13; 0 = unset */
	char		*ciphers;	/* TLS 1.2 cipher list (OpenSSL form) */
	char		*ciphersuites;	/* TLS 1.3 suites (OpenSSL form) */
#define TLS_V12		1
#define TLS_V13		2
};

struct service_conf {
	TAILQ_ENTRY(service_conf) entry;
	struct service_stats *stats;	/* never NULL once loaded */
	char		*name;
	struct url	 listen;
	struct url	 forward;
	int		 has_forward;
	const struct transport_ops *listen_ops;
	const struct transport_ops *forward_ops;
	uint64_t	 idle_timeout;		/* ms; 0 = transport default */
	uint64_t	 connect_timeout;	/* ms */
	uint64_t	 max_flows;		/* per service, all workers */
	uint64_t	 buffer;		/* bytes queued per direction */
	uint64_t	 max_datagram;		/* dtls: larger ones are dropped */
	uint64_t	 max_per_source;	/* flows per client IP, 0 = no cap */
	uint64_t	 header_timeout;	/* ms: tunnel header must arrive */
	uint64_t	 handshake_timeout;	/* ms: TLS/DTLS handshake */
	struct tls_conf	 tls;		/* merged with the global tls */
	struct cidr	*allow;		/* destinations a tunnel may reach */
	size_t		 nallow;
	int		 has_allow;	/* "allow" given (may be empty) */
	struct url	 fallback;	/* tls-stream: other ALPN goes here */
	int		 has_fallback;
	struct url	 destination;	/* tunnel clients: the header target */
	int		 has_destination;
	void		*tls_ctx;	/* SSL_CTX for the TLS side, or NULL */
	int		 line;			/* where the entry starts */
	int		 col;
	/* Set by the main thread once the listener is bound. */
	struct sockaddr_storage bound;
	socklen_t	 boundlen;
};
TAILQ_HEAD(service_confs, service_conf);

struct config {
	char		*path;		/* NULL for the built-in default */
	_Atomic int	 refs;
	uint64_t	 workers;	/* resolved: never 0 after load */
	enum log_level	 log_level;
	enum log_format	 log_format;
	int		 log_syslog;
	uint64_t	 max_flows;	/* total, all services */
	uint64_t	 drain_timeout;	/* ms */
	struct tls_conf	 tls;		/* defaults for every service */
	struct service_confs services;
	int		 nservices;
};

/* One configuration error, file:line:col: message. */
struct config_err {
	TAILQ_ENTRY(config_err) entry;
	char		*msg;		/* already formatted with location */
};
TAILQ_HEAD(config_errs, config_err);

struct config	*config_load(const char *path, struct config_errs *);
struct config	*config_load_string(const char *name, const char *yaml,
		    size_t len, struct config_errs *);
void		 config_errs_free(struct config_errs *);
struct config	*config_ref(struct config *);
void		 config_unref(struct config *);
struct service_conf *config_find_service(struct config *, const char *);
int		 service_conf_equal(const struct service_conf *,
		    const struct service_conf *);
int		 service_conf_same_listener(const struct service_conf *,
		    const struct service_conf *);
extern const char config_default_yaml[];
char		*config_default_render(const char *statedir);

/*
 * tls.c: OpenSSL contexts for TLS and DTLS, built at config load.
 */
void		*tls_ctx_new(const struct service_conf *, int server, int dtls,
		    char **errstr);
void		 tls_ctx_free(void *);
void		 tls_log_errors(enum log_level, const char *, ...)
		    FG_PRINTF(2, 3);
int		 tls_errors_string(char *, size_t);
int		 tls_alpn_is_stream(void *ssl);
int		 tls_alpn_any(void *ssl);
void		*tls_client_new(const struct service_conf *);
void		 tls_handshake(struct half *, int server, uint64_t timeout_ms,
		    void (*)(struct half *, int));
#define TLS_HS_OK	1
#define TLS_HS_FAIL	0
#define TLS_HS_TIMEOUT	(-1)
const char	*tls_error_reason(char *, size_t);
void		 tls_clear_errors(void);
int		 tls_set_fd(void *ssl, int fd);
void		 tls_relay_mode(void *ssl);
void		 tls_cork(void *ssl, u_char *buf, size_t cap);
int		 tls_uncork(void *ssl);
size_t		 tls_wpending(void *ssl);
int		 tls_wflush(void *ssl);
#define TLS_CORK_BUF	(260 * 1024)	/* the records of one 256 KiB read */

/* probe.c: the "probe" command. */
#define CERTS_NAME_DEFAULT	"godoxy.agent"
int		 probe_main(int, char *[]);

/*
 * transport.c: the registry.  Each src/transports/X.c exports exactly one
 * const struct transport_ops; the core finds it by URL scheme only.
 */
#define TR_DGRAM	0x01	/* carries datagram flows */
#define TR_STREAM	0x02	/* carries byte-stream flows */
#define TR_LISTEN	0x04	/* usable as a service's listen endpoint */
#define TR_FORWARD	0x08	/* usable as a service's forward endpoint */
#define TR_NEED_FORWARD	0x10	/* as listen: the service needs a forward */
#define TR_NEED_PORT	0x20	/* URL must carry a port */
#define TR_TLS		0x40	/* needs a TLS or DTLS context */
#define TR_TUNNEL	0x80	/* as listen: destinations come per flow */
#define TR_FALLBACK	0x100	/* as listen: takes a fallback endpoint */

/* One datagram in a batch: points into a worker buffer, never owned. */
struct dgram {
	u_char		*buf;
	size_t		 len;
};
int		 udp_sendv(int fd, struct sockaddr *, socklen_t,
		    const struct dgram *, int n, int *nogso);
/*
 * One recvmmsg(2) into the worker's receive slots (udp_recvv): up to
 * FG_BATCH messages, each one datagram or a run of them (udp_gro).
 */
struct udp_rx {
	struct mmsghdr		 msgs[FG_BATCH];
	struct iovec		 iov[FG_BATCH];
	struct sockaddr_storage	 from[FG_BATCH];
	union {
		char		 buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	 align;
	}			 cm[FG_BATCH];	/* UDP_GRO's segment size */
	size_t			 seg[FG_BATCH];	/* message i's datagram size */
	int			 ndgrams;	/* datagrams in all of them */
};
#define FG_RX_BUDGET	(4 * FG_BATCH)	/* datagrams read per wakeup */
struct service;
int		 udp_recvv(struct service *, int fd, struct udp_rx *,
		    int with_from);
int		 udp_rx_next(const struct udp_rx *, int i, size_t *off,
		    struct dgram *);
size_t		 udp_rx_room(const struct udp_rx *, int i,
		    const struct dgram *);
void		 udp_gro(int fd);

struct transport_ops {
	const char	*name;		/* URL scheme */
	int		 flags;		/* TR_* */
	uint64_t	 idle_default;	/* ms, when the service sets none */
	const char	*egress;	/* TR_TUNNEL: scheme of per-flow egress */

	/* Config time: extra checks on a service; NULL means none. */
	int		(*check)(const struct service_conf *, int as_listen,
			    const char **errstr);

	/*
	 * Ingress.  listen_open runs in the main thread and returns a bound
	 * socket (SO_REUSEPORT, one per worker); listen_start runs in the
	 * worker and arms the events on it.  listen_stop undoes listen_start
	 * and closes the socket.
	 */
	int		(*listen_open)(const struct service_conf *,
			    const struct sockaddr *, socklen_t,
			    const char **errstr);
	int		(*listen_start)(struct service *, int fd);
	void		(*listen_stop)(struct service *);

	/*
	 * Egress.  open starts connecting h (the flow's out half) to the
	 * service's forward endpoint; the transport calls half_ready() or
	 * flow_close().
	 */
	int		(*open)(struct half *);

	/* Datagram flows: send a batch out of this half. */
	int		(*dgram_send)(struct half *, struct dgram *, int n);

	/* Free tr_priv and anything the transport made; nothing else. */
	void		(*close)(struct half *);
};

const struct transport_ops *transport_find(const char *scheme);
extern const struct transport_ops *const transports[];
/* Shared by the transports that accept TCP connections. */
int		 tcp_listen_socket(const struct service_conf *,
		    const struct sockaddr *, socklen_t, const char **);
void		 tcp_accept_error_cb(struct evconnlistener *, void *);
void		 tcp_listen_close(struct service *);
void		 tcp_nodelay(int);
int		 udp_listen_socket(const struct service_conf *,
		    const struct sockaddr *, socklen_t, const char **);
int		 tcp_connect(struct half *, const struct sockaddr *, socklen_t,
		    uint64_t timeout_ms, void (*)(struct half *, int));
int		 tcp_connect_any(struct half *, const struct sockaddr *,
		    socklen_t, void (*)(struct half *, int));
int		 tcp_connect_retry(struct half *, int *,
		    void (*)(struct half *, int));
int		 transport_check_hostport(const struct service_conf *, int,
		    const char **);

/*
 * flow.c: the per-worker flow table, the idle timer wheel, the relay.
 */
enum flow_kind {
	FLOW_DGRAM = 0,
	FLOW_STREAM
};

/*
 * One side of a flow: the ingress ("in") or the egress ("out").  A half
 * owns its socket, its events and, for TLS, its SSL; flow_close() frees
 * them all.  Stream halves are driven by the core's relay once ready:
 * plain read(2)/write(2) or SSL_read/SSL_write on fd, with outq holding
 * what the peer could not take yet.
 */
struct half {
	struct flow	*flow;
	const struct transport_ops *ops;
	int		 fd;		/* -1 when none */
	struct event	*ev;		/* read readiness (or the transport's) */
	struct event	*wev;		/* write readiness (streams) */
	struct event	*tev;		/* a deadline: connect, handshake, header;
					   relaying TLS, the next turn */
	void		*ssl;		/* SSL *, owned; NULL for plain */
	struct evbuffer	*outq;		/* stream bytes waiting for this half */
	size_t		 ssl_wlen;	/* an SSL_write to repeat, this long */
	void		(*io_cb)(struct half *, int);	/* connect, handshake */
	int		(*dial)(struct half *, const struct sockaddr *,
			    socklen_t);			/* see half_dial() */
	void		*tr_priv;	/* the transport's, freed by close */
	int		 rerr;		/* a TLS read error behind data: next */
	int		 flags;
#define HALF_READY	0x01	/* handshake done; relay may run */
#define HALF_EOF	0x02	/* read side saw EOF */
#define HALF_SHUTWR	0x04	/* write side shut down */
#define HALF_SHUTPEND	0x08	/* shut the write side once outq drains */
#define HALF_RPAUSED	0x10	/* reading paused: the peer's outq is full */
#define HALF_RWANTW	0x20	/* SSL_read wants the socket writable */
#define HALF_WWANTR	0x40	/* SSL_write wants the socket readable */
#define HALF_NOGSO	0x80	/* the path refused UDP segmentation offload */
#define HALF_SHUTRETRY	0x100	/* close_notify could not be queued yet */
};

/* The timer wheel: slots of wheel_tick ms, lazily re-armed on expiry. */
#define WHEEL_SLOTS	512
struct wheel_link {
	LIST_ENTRY(wheel_link) entry;
	uint64_t	 deadline;	/* ms, monotonic */
	int		 slot;		/* -1 when not linked */
};
LIST_HEAD(wheel_slot, wheel_link);
struct wheel {
	struct wheel_slot slots[WHEEL_SLOTS];
	uint64_t	 tick;		/* ms per slot */
	uint64_t	 cur;		/* absolute tick number processed */
	size_t		 count;
};
void		 wheel_init(struct wheel *, uint64_t tick_ms, uint64_t now);
void		 wheel_add(struct wheel *, struct wheel_link *, uint64_t deadline);
void		 wheel_del(struct wheel *, struct wheel_link *);
/* Advance to now; calls cb for each link whose slot came due. */
void		 wheel_advance(struct wheel *, uint64_t now,
		    void (*cb)(struct wheel_link *, void *), void *);

struct flow {
	TAILQ_ENTRY(flow) sentry;	/* service's flows */
	TAILQ_ENTRY(flow) wentry;	/* worker's flows, then its dead */
	LIST_ENTRY(flow) hentry;	/* flow table hash chain */
	struct wheel_link idle;
	struct service	*service;
	struct worker	*worker;
	uint64_t	 id;
	enum flow_kind	 kind;
	struct half	 in;
	struct half	 out;
	struct sockaddr_storage peer;	/* ingress key: client address */
	socklen_t	 peerlen;
	struct sockaddr_storage dst;	/* egress destination, once known */
	socklen_t	 dstlen;
	uint64_t	 start;		/* ms */
	uint64_t	 last;		/* ms of the last byte either way */
	uint64_t	 bytes_in;	/* client -> destination */
	uint64_t	 bytes_out;	/* destination -> client */
	uint64_t	 pkts_in;
	uint64_t	 pkts_out;
	uint64_t	 drops;		/* datagrams dropped (queue full) */
	int		 flags;
#define FLOW_F_LINKED	0x01	/* in table and counters */
#define FLOW_F_CLOSING	0x02	/* flow_close ran; touch nothing */
#define FLOW_F_HASHED	0x04	/* in the hash by peer address */
#define FLOW_F_RELAYING	0x08	/* both halves ready */
#define FLOW_F_SOURCE	0x10	/* counted in its service's sources */
	struct evbuffer	*pending;	/* dgram: queued before out is ready */
	int		 npending;
	struct flow_dns	*dns;		/* lookup in progress, or NULL */
	struct sockaddr_storage *alts;	/* further addresses of the name */
	int		 nalts;
	int		 ialt;		/* the next one to try */
	uint64_t	 dial_deadline;	/* ms: connect (and handshake) by then */
	const char	*reason;	/* why it closed: one word */
	int		 err;		/* errno behind the reason, or 0 */
};

struct flow_table {
	LIST_HEAD(, flow) *buckets;
	size_t		 nbuckets;	/* power of two */
	size_t		 count;
	uint8_t		 key[16];	/* hash key, random per table */
};

void		 flow_table_init(struct flow_table *);
void		 flow_table_free(struct flow_table *);
struct flow	*flow_lookup(struct worker *, struct service *,
		    const struct sockaddr *);
struct flow	*flow_new(struct service *, enum flow_kind,
		    const struct sockaddr *, socklen_t, int flags);
#define FLOW_NEW_HASHED	0x01	/* into the table, keyed by the address */
#define FLOW_NEW_QUIET	0x02	/* a refusal was counted already */
void		 flow_close(struct flow *, const char *reason);
void		 flow_touch(struct flow *);
void		 flow_sweep(struct worker *);
void		 flow_reap(struct worker *);
void		 half_ready(struct half *);
struct evbuffer	*half_outq(struct half *);
void		 half_set_timer(struct half *, uint64_t ms,
		    event_callback_fn);
void		 flow_open(struct flow *);
int		 flow_dgram_in(struct flow *, struct dgram *, int n);
int		 flow_dgram_out(struct flow *, struct dgram *, int n);
void		 flow_log(struct flow *, enum log_level, const char *, ...)
		    FG_PRINTF(3, 4);
/*
 * Resolve host:port for f without blocking; cb gets the first address, or
 * NULL with a getaddrinfo error.  cb may run before flow_resolve returns,
 * so call it last.  A flow closed meanwhile is never called back.
 */
typedef void	 (*flow_resolve_cb)(struct flow *, const struct sockaddr *,
		    socklen_t, int);
void		 flow_resolve(struct flow *, const char *host, uint16_t port,
		    int socktype, flow_resolve_cb);
int		 flow_next_address(struct flow *, struct sockaddr_storage *,
		    socklen_t *);
void		 flow_filter_alts(struct flow *);
void		 half_reset(struct half *);
int		 half_next_address(struct half *, int refused,
		    struct sockaddr_storage *, socklen_t *);
int		 half_dial(struct half *, int socktype,
		    int (*)(struct half *, const struct sockaddr *, socklen_t));

/*
 * service.c: one service per worker, built from a service_conf.
 */
struct service {
	TAILQ_ENTRY(service) entry;
	struct worker	*worker;
	struct config	*config;	/* reference held */
	struct service_conf *conf;	/* inside config */
	int		 refs;		/* worker-local: list + each flow */
	int		 removed;	/* no longer in the running config */
	int		 listen_fd;	/* given by the main thread */
	struct event	*listen_ev;	/* transport's listener event */
	struct evconnlistener *listener;
	struct event	*retry_ev;	/* re-enables accept after EMFILE */
	void		*tr_priv;	/* the listen transport's */
	struct sockaddr_storage fwd;	/* pre-resolved numeric forward */
	socklen_t	 fwdlen;	/* 0: resolve per flow */
	uint64_t	 idle_timeout;	/* effective, ms */
	TAILQ_HEAD(, flow) flows;
	uint64_t	 nflows;
	uint64_t	 flows_total;
	uint64_t	 flows_refused;
	uint64_t	 refused_logged;	/* ms of last refusal log */
	uint64_t	 refused_quiet;	/* refusals not logged since */
};
TAILQ_HEAD(services, service);

struct service	*service_new(struct worker *, struct config *,
		    struct service_conf *, int listen_fd);
void		 service_stop(struct service *);
void		 service_adopt(struct service *, struct config *,
		    struct service_conf *);
void		 service_unref(struct service *);
int		 service_admit(struct service *, const struct sockaddr *,
		    int quiet);
void		 service_source_del(struct service *, const struct sockaddr *);
int		 service_allows(const struct service_conf *,
		    const struct sockaddr *);

/*
 * worker.c: one thread, one event_base, its own listeners and flow table.
 */
struct worker {
	int		 idx;
	pthread_t	 thread;
	struct event_base *base;
	struct evdns_base *dns;
	struct flow_table table;
	struct wheel	 wheel;
	struct event	*wheel_ev;
	struct event	*cmd_ev;	/* woken by the main thread */
	pthread_mutex_t	 cmd_lock;
	pthread_cond_t	 cmd_cond;	/* signalled when cmd is taken */
	int		 cmd;		/* WORKER_CMD_*, under cmd_lock */
	int		 cmd_done;	/* the worker took cmd */
#define WORKER_CMD_NONE		0
#define WORKER_CMD_RELOAD	1
#define WORKER_CMD_STOP		2
	struct config	*cmd_config;	/* new config, ref held */
	int		*cmd_fds;	/* listen fds, one per service */
	struct config	*config;	/* running config, ref held */
	struct services	 services;
	TAILQ_HEAD(, flow) allflows;	/* every live flow of this worker */
	TAILQ_HEAD(, flow) dead;	/* closed, freed by reap_ev */
	struct event	*reap_ev;
	struct event	*drain_ev;
	int		 draining;
	uint64_t	 nflows;	/* this worker's live flows */
	uint64_t	 trim_peak;	/* most flows since the last trim */
	uint64_t	 trimmed;	/* ms of the last trim */
	uint64_t	 next_flow_id;
	/* Scratch for batched datagram I/O; the hot path never mallocs. */
	u_char		*rbuf;		/* FG_BATCH * FG_MAX_DGRAM; also the
					   stream relay's scratch */
	u_char		*xbuf;		/* FG_MAX_DGRAM + 1: decrypted records */
	u_char		*tbuf;		/* TLS_CORK_BUF: corked TLS records */
	u_char		*sbuf;		/* FG_SBUF: DTLS records to send */
};

int		 worker_start(struct worker *, int idx);
void		 worker_send(struct worker *, int cmd, struct config *,
		    int *fds);
void		 worker_join(struct worker *);
void		 worker_flow_gone(struct worker *);

/*
 * flowgate.c: the process.  The single global.
 */
struct flowgate {
	struct event_base *base;	/* main thread */
	struct config	*config;
	struct worker	*workers;
	int		 nworkers;
	const char	*conf_path;
	const char	*port_file;	/* test hook: bound ports go here */
	int		 verbose;
	_Atomic uint64_t nflows;	/* all workers */
	_Atomic uint64_t flow_ids;
};
extern struct flowgate *flowgate;

#endif /* FLOWGATE_H */
