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
 * The configuration: YAML in, plain structs out.  libyaml's document API
 * builds the node tree; the walker below checks it against one key table
 * per mapping (tmux options-table.c style) and fills struct config and its
 * service_confs.  Every problem is collected as "file:line:col: key: what",
 * sorted by position, so `flowgate check` shows all of them at once.
 * Nothing here opens a socket.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "flowgate.h"

#define CONF_MAX_FILE		(4 * 1024 * 1024)	/* bytes of a file */
#define CONF_MAX_NAME		64	/* service name length */
#define CONF_MAX_PATH		256	/* "services[12].idle_timeout" */
#define CONF_MAX_ERRORS		1000	/* then one "too many errors" */

#define MS_SEC			1000ULL
#define MS_MIN			(60 * MS_SEC)
#define MS_HOUR			(60 * MS_MIN)
#define MS_DAY			(24 * MS_HOUR)
#define KIB			1024ULL
#define MIB			(1024 * KIB)

/* What a key's value is, and so how it is parsed and where it is stored. */
enum conf_type {
	CONF_UINT,		/* uint64_t, min..max */
	CONF_DURATION,		/* uint64_t milliseconds, min..max */
	CONF_SIZE,		/* uint64_t bytes, min..max */
	CONF_BOOL,		/* int, 0 or 1 */
	CONF_LOG_LEVEL,		/* enum log_level */
	CONF_LOG_FORMAT,	/* enum log_format */
	CONF_NAME,		/* char *, [A-Za-z0-9_.-]{1,64} */
	CONF_URL,		/* struct url */
	CONF_STRING,		/* char *, a path or a name */
	CONF_CHOICE,		/* int: 1 + index in words; 0 = unset */
	CONF_CIDRS,		/* sequence of CIDR:ports -> allow list */
	CONF_HOSTPORT,		/* "host:port" -> struct url */
	CONF_MAPPING,		/* nested table; fields at base + off */
	CONF_SERVICES		/* sequence of service mappings */
};

/*
 * One key of one mapping.  The default is stored before the mapping is
 * walked, so a key that is absent keeps it; for the enum types dflt holds
 * the enum value and choices lists the accepted words.
 */
struct conf_key {
	const char	*name;
	enum conf_type	 type;
	uint64_t	 min;
	uint64_t	 max;
	uint64_t	 dflt;
	int		 flags;
#define CONF_REQUIRED	0x01	/* must be present */
	size_t		 off;		/* of the field in the target struct */
	const struct conf_key *sub;	/* CONF_MAPPING: its keys */
	size_t		 nsub;
	const char	*choices;	/* CONF_LOG_*, CONF_CHOICE: for messages */
	const char *const *words;	/* CONF_CHOICE: accepted words */
	const char	*help;
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

enum {
	LOGK_LEVEL,
	LOGK_FORMAT,
	LOGK_SYSLOG,
	LOGK_NKEYS
};
static const struct conf_key log_keys[LOGK_NKEYS] = {
	[LOGK_LEVEL] = {
		.name = "level",
		.type = CONF_LOG_LEVEL,
		.dflt = LOG_LVL_INFO,
		.off = offsetof(struct config, log_level),
		.choices = "error, warn, info or debug",
		.help = "Lowest level logged."
	},
	[LOGK_FORMAT] = {
		.name = "format",
		.type = CONF_LOG_FORMAT,
		.dflt = LOG_FMT_TEXT,
		.off = offsetof(struct config, log_format),
		.choices = "text or json",
		.help = "Log line format."
	},
	[LOGK_SYSLOG] = {
		.name = "syslog",
		.type = CONF_BOOL,
		.dflt = 0,
		.off = offsetof(struct config, log_syslog),
		.help = "Log to syslog instead of standard error."
	}
};

static const char *const client_auth_words[] = {
	"required", "optional", "none", NULL
};
static const char *const tls_version_words[] = { "1.2", "1.3", NULL };

enum {
	TLSK_CERT,
	TLSK_KEY,
	TLSK_CA,
	TLSK_CLIENT_AUTH,
	TLSK_VERIFY_NAME,
	TLSK_MIN_VERSION,
	TLSK_CIPHERS,
	TLSK_CIPHERSUITES,
	TLSK_NKEYS
};
static const struct conf_key tls_keys[TLSK_NKEYS] = {
	[TLSK_CERT] = {
		.name = "cert",
		.type = CONF_STRING,
		.off = offsetof(struct tls_conf, cert),
		.help = "PEM certificate file (with its chain)."
	},
	[TLSK_KEY] = {
		.name = "key",
		.type = CONF_STRING,
		.off = offsetof(struct tls_conf, key),
		.help = "PEM private key file of the certificate."
	},
	[TLSK_CA] = {
		.name = "ca",
		.type = CONF_STRING,
		.off = offsetof(struct tls_conf, ca),
		.help = "PEM CA file; peers must present a certificate it "
		    "signed."
	},
	[TLSK_CLIENT_AUTH] = {
		.name = "client_auth",
		.type = CONF_CHOICE,
		.off = offsetof(struct tls_conf, client_auth),
		.words = client_auth_words,
		.choices = "required, optional or none",
		.help = "Servers: whether clients must present a certificate."
	},
	[TLSK_VERIFY_NAME] = {
		.name = "verify_name",
		.type = CONF_STRING,
		.off = offsetof(struct tls_conf, verify_name),
		.help = "Clients: name expected in the server certificate, "
		    "sent as SNI; default godoxy.agent."
	},
	[TLSK_MIN_VERSION] = {
		.name = "min_version",
		.type = CONF_CHOICE,
		.off = offsetof(struct tls_conf, min_version),
		.words = tls_version_words,
		.choices = "1.2 or 1.3",
		.help = "Oldest TLS version accepted; default 1.2."
	},
	[TLSK_CIPHERS] = {
		.name = "ciphers",
		.type = CONF_STRING,
		.off = offsetof(struct tls_conf, ciphers),
		.help = "TLS 1.2 cipher list in OpenSSL's syntax; default "
		    "OpenSSL's.  Not for dtls, which uses GoDoxy's one suite."
	},
	[TLSK_CIPHERSUITES] = {
		.name = "ciphersuites",
		.type = CONF_STRING,
		.off = offsetof(struct tls_conf, ciphersuites),
		.help = "TLS 1.3 suites in OpenSSL's syntax, in order of "
		    "preference; default OpenSSL's."
	}
};

enum {
	SVC_NAME,
	SVC_LISTEN,
	SVC_FORWARD,
	SVC_IDLE_TIMEOUT,
	SVC_CONNECT_TIMEOUT,
	SVC_MAX_FLOWS,
	SVC_BUFFER,
	SVC_HEADER_TIMEOUT,
	SVC_HANDSHAKE_TIMEOUT,
	SVC_TLS,
	SVC_ALLOW,
	SVC_FALLBACK,
	SVC_DESTINATION,
	SVC_MAX_DATAGRAM,
	SVC_MAX_PER_SOURCE,
	SVC_NKEYS
};
static const struct conf_key service_keys[SVC_NKEYS] = {
	[SVC_NAME] = {
		.name = "name",
		.type = CONF_NAME,
		.flags = CONF_REQUIRED,
		.off = offsetof(struct service_conf, name),
		.help = "Unique name, 1 to 64 of A-Z a-z 0-9 _ . -."
	},
	[SVC_LISTEN] = {
		.name = "listen",
		.type = CONF_URL,
		.flags = CONF_REQUIRED,
		.off = offsetof(struct service_conf, listen),
		.help = "Ingress endpoint URL; its scheme names the transport."
	},
	[SVC_FORWARD] = {
		.name = "forward",
		.type = CONF_URL,
		.off = offsetof(struct service_conf, forward),
		.help = "Egress endpoint URL; required when the listen "
		    "transport needs one."
	},
	[SVC_IDLE_TIMEOUT] = {
		/* 0, below min, is only ever the default. */
		.name = "idle_timeout",
		.type = CONF_DURATION,
		.min = 1 * MS_SEC,
		.max = 7 * MS_DAY,
		.dflt = 0,
		.off = offsetof(struct service_conf, idle_timeout),
		.help = "Close a flow idle this long; default: the "
		    "transport's."
	},
	[SVC_CONNECT_TIMEOUT] = {
		.name = "connect_timeout",
		.type = CONF_DURATION,
		.min = 100,
		.max = 5 * MS_MIN,
		.dflt = 10 * MS_SEC,
		.off = offsetof(struct service_conf, connect_timeout),
		.help = "Give up connecting to the forward endpoint after this."
	},
	[SVC_MAX_FLOWS] = {
		/* 0, below min, is resolved to the global max_flows. */
		.name = "max_flows",
		.type = CONF_UINT,
		.min = 1,
		.max = 10000000,
		.dflt = 0,
		.off = offsetof(struct service_conf, max_flows),
		.help = "Live flows of this service; default: the global "
		    "max_flows."
	},
	[SVC_BUFFER] = {
		.name = "buffer",
		.type = CONF_SIZE,
		.min = 4 * KIB,
		.max = 64 * MIB,
		.dflt = 256 * KIB,
		.off = offsetof(struct service_conf, buffer),
		.help = "Bytes queued per direction before reads pause."
	},
	[SVC_HEADER_TIMEOUT] = {
		.name = "header_timeout",
		.type = CONF_DURATION,
		.min = 100,
		.max = 5 * MS_MIN,
		.dflt = 10 * MS_SEC,
		.off = offsetof(struct service_conf, header_timeout),
		.help = "Tunnel servers: close a tunnel whose request header "
		    "has not arrived by then."
	},
	[SVC_HANDSHAKE_TIMEOUT] = {
		.name = "handshake_timeout",
		.type = CONF_DURATION,
		.min = 100,
		.max = 5 * MS_MIN,
		.dflt = 10 * MS_SEC,
		.off = offsetof(struct service_conf, handshake_timeout),
		.help = "Close a TLS or DTLS peer whose handshake takes longer."
	},
	[SVC_TLS] = {
		.name = "tls",
		.type = CONF_MAPPING,
		.off = offsetof(struct service_conf, tls),
		.sub = tls_keys,
		.nsub = NITEMS(tls_keys),
		.help = "TLS settings over the global tls ones."
	},
	[SVC_ALLOW] = {
		.name = "allow",
		.type = CONF_CIDRS,
		.off = offsetof(struct service_conf, allow),
		.help = "Tunnel servers: destinations (CIDR[:port[-port]]) "
		    "flows may reach; default: all, with a warning."
	},
	[SVC_FALLBACK] = {
		.name = "fallback",
		.type = CONF_URL,
		.off = offsetof(struct service_conf, fallback),
		.help = "tls-stream servers: where connections that negotiate "
		    "another ALPN protocol, or none, go."
	},
	[SVC_DESTINATION] = {
		.name = "destination",
		.type = CONF_HOSTPORT,
		.off = offsetof(struct service_conf, destination),
		.help = "Tunnel clients: host:port the tunnel server dials."
	},
	[SVC_MAX_DATAGRAM] = {
		/* pion/dtls reads 8192-byte datagrams: 8155 of payload. */
		.name = "max_datagram",
		.type = CONF_SIZE,
		.min = 1,
		.max = 16384,
		.dflt = 8155,
		.off = offsetof(struct service_conf, max_datagram),
		.help = "dtls: larger datagrams are dropped and counted "
		    "instead of sent; raise it only between flowgate peers."
	},
	[SVC_MAX_PER_SOURCE] = {
		.name = "max_per_source",
		.type = CONF_UINT,
		.min = 0,
		.max = 10000000,
		.dflt = 0,
		.off = offsetof(struct service_conf, max_per_source),
		.help = "Live flows from one client IP address, over all workers; "
		    "0 means no cap."
	}
};

enum {
	GLB_WORKERS,
	GLB_LOG,
	GLB_MAX_FLOWS,
	GLB_DRAIN_TIMEOUT,
	GLB_TLS,
	GLB_SERVICES,
	GLB_NKEYS
};
static const struct conf_key global_keys[GLB_NKEYS] = {
	[GLB_WORKERS] = {
		/* 0 is resolved to the number of CPUs. */
		.name = "workers",
		.type = CONF_UINT,
		.min = 0,
		.max = 256,
		.dflt = 0,
		.off = offsetof(struct config, workers),
		.help = "Event loop threads; 0 means one per CPU."
	},
	[GLB_LOG] = {
		.name = "log",
		.type = CONF_MAPPING,
		.sub = log_keys,
		.nsub = NITEMS(log_keys),
		.help = "Logging: level, format, syslog."
	},
	[GLB_MAX_FLOWS] = {
		.name = "max_flows",
		.type = CONF_UINT,
		.min = 1,
		.max = 10000000,
		.dflt = 100000,
		.off = offsetof(struct config, max_flows),
		.help = "Live flows of all services together."
	},
	[GLB_DRAIN_TIMEOUT] = {
		.name = "drain_timeout",
		.type = CONF_DURATION,
		.min = 0,
		.max = 1 * MS_HOUR,
		.dflt = 10 * MS_SEC,
		.off = offsetof(struct config, drain_timeout),
		.help = "On shutdown, wait this long for flows to finish."
	},
	[GLB_TLS] = {
		.name = "tls",
		.type = CONF_MAPPING,
		.off = offsetof(struct config, tls),
		.sub = tls_keys,
		.nsub = NITEMS(tls_keys),
		.help = "TLS defaults for every service."
	},
	[GLB_SERVICES] = {
		.name = "services",
		.type = CONF_SERVICES,
		.flags = CONF_REQUIRED,
		.help = "The services, at least one."
	}
};

/* Where a key of the mapping being walked was seen, if it was. */
struct conf_seen {
	yaml_node_t	*key;		/* NULL when absent */
	yaml_node_t	*value;
	int		 ok;		/* the value parsed */
};

/* One collected error; sorted by position before it is handed out. */
struct conf_msg {
	size_t		 line;		/* 1-based; 0 when there is none */
	size_t		 col;
	size_t		 seq;		/* keeps equal positions in order */
	char		*msg;
};

/* The state of one load. */
struct conf_parse {
	const char	*file;		/* for messages */
	yaml_document_t	*doc;
	struct config	*cfg;
	struct conf_msg	*msgs;
	size_t		 nmsgs;
	size_t		 msgsize;
};

/*
 * The built-in configuration: loopback only.  @STATE@ is replaced by the
 * state directory, where a development CA and certificates are made on
 * first use.
 */
const char config_default_yaml[] =
    "# flowgate built-in default: loopback only; try\n"
    "#   echo hello | socat - UDP:127.0.0.1:7000\n"
    "#   echo hello | socat - TCP:127.0.0.1:7001\n"
    "#   echo hello | socat - TCP:127.0.0.1:7002   (through TLS)\n"
    "workers: 1\n"
    "max_flows: 1000\n"
    "tls:\n"
    "  ca: \"@STATE@/ca.crt\"\n"
    "services:\n"
    "  - name: udp-demo\n"
    "    listen: udp://127.0.0.1:7000\n"
    "    forward: udp://127.0.0.1:7007\n"
    "  - name: tcp-demo\n"
    "    listen: tcp://127.0.0.1:7001\n"
    "    forward: tcp://127.0.0.1:7008\n"
    "  - name: tls-demo\n"
    "    listen: tcp://127.0.0.1:7002\n"
    "    forward: tls-stream://127.0.0.1:8890\n"
    "    destination: 127.0.0.1:7008\n"
    "    tls:\n"
    "      cert: \"@STATE@/client.crt\"\n"
    "      key: \"@STATE@/client.key\"\n"
    "  - name: agent\n"
    "    listen: tls-stream://127.0.0.1:8890\n"
    "    allow: [127.0.0.0/8]\n"
    "    tls:\n"
    "      cert: \"@STATE@/server.crt\"\n"
    "      key: \"@STATE@/server.key\"\n"
    "  - name: udp-echo\n"
    "    listen: udp://127.0.0.1:7007\n"
    "    forward: echo://\n"
    "  - name: tcp-echo\n"
    "    listen: tcp://127.0.0.1:7008\n"
    "    forward: echo://\n";

/*
 * The built-in configuration with @STATE@ replaced by dir, escaped for the
 * double-quoted scalars it stands in.  The caller frees the result.
 */
char *
config_default_render(const char *dir)
{
	const char	*t = config_default_yaml, *at;
	char		*out, *q;
	size_t		 n, len, dlen, qlen;

	dlen = strlen(dir);
	q = xcalloc(2 * dlen + 1, 1);
	for (n = 0, qlen = 0; n < dlen; n++) {
		if (dir[n] == '"' || dir[n] == '\\')
			q[qlen++] = '\\';
		q[qlen++] = dir[n];
	}
	n = 0;
	for (at = t; (at = strstr(at, "@STATE@")) != NULL; at += 7)
		n++;
	out = xcalloc(strlen(t) + n * qlen + 1, 1);
	for (len = 0; *t != '\0';) {
		if (strncmp(t, "@STATE@", 7) == 0) {
			memcpy(out + len, q, qlen);
			len += qlen;
			t += 7;
		} else
			out[len++] = *t++;
	}
	free(q);
	return (out);
}

static void	 conf_mapping(struct conf_parse *, yaml_node_t *, const char *,
		    const struct conf_key *, size_t, void *,
		    struct conf_seen *);

/*
 * Record one error at line:col (1-based; 0 for none) of the key path key
 * (NULL or "" for none).
 */
static void FG_PRINTF(5, 6)
conf_error_at(struct conf_parse *p, size_t line, size_t col, const char *key,
    const char *fmt, ...)
{
	struct conf_msg	*m;
	char		 text[1024], where[64];
	va_list		 ap;

	if (p->nmsgs > CONF_MAX_ERRORS)
		return;
	if (p->nmsgs == p->msgsize) {
		p->msgsize = p->msgsize == 0 ? 16 : p->msgsize * 2;
		m = realloc(p->msgs, p->msgsize * sizeof(*m));
		if (m == NULL)
			fatal("%s", __func__);
		p->msgs = m;
	}
	m = &p->msgs[p->nmsgs];
	m->line = line;
	m->col = col;
	m->seq = p->nmsgs++;
	if (m->seq == CONF_MAX_ERRORS) {
		xasprintf(&m->msg, "%s: too many errors", p->file);
		m->line = m->col = SIZE_MAX;
		return;
	}

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (line != 0)
		snprintf(where, sizeof(where), ":%zu:%zu", line, col);
	else
		where[0] = '\0';
	if (key != NULL && *key != '\0')
		xasprintf(&m->msg, "%s%s: %s: %s", p->file, where, key, text);
	else
		xasprintf(&m->msg, "%s%s: %s", p->file, where, text);
}

/* libyaml marks count from 0; ours from 1. */
#define conf_error(p, node, key, ...)					\
	conf_error_at((p), (node)->start_mark.line + 1,			\
	    (node)->start_mark.column + 1, (key), __VA_ARGS__)

static int
conf_msg_cmp(const void *a, const void *b)
{
	const struct conf_msg	*ma = a, *mb = b;

	if (ma->line != mb->line)
		return (ma->line < mb->line ? -1 : 1);
	if (ma->col != mb->col)
		return (ma->col < mb->col ? -1 : 1);
	return (ma->seq < mb->seq ? -1 : ma->seq > mb->seq);
}

/* Sort the errors by position and move them onto errs (or drop them). */
static void
conf_flush_errors(struct conf_parse *p, struct config_errs *errs)
{
	struct config_err	*e;
	size_t			 i;

	if (p->nmsgs > 1)
		qsort(p->msgs, p->nmsgs, sizeof(*p->msgs), conf_msg_cmp);
	for (i = 0; i < p->nmsgs; i++) {
		if (errs == NULL) {
			free(p->msgs[i].msg);
			continue;
		}
		e = xcalloc(1, sizeof(*e));
		e->msg = p->msgs[i].msg;
		TAILQ_INSERT_TAIL(errs, e, entry);
	}
	free(p->msgs);
	p->msgs = NULL;
	p->nmsgs = p->msgsize = 0;
}

/*
 * Copy at most len bytes of user text s into buf for a message, with
 * anything unprintable as '?' and "..." when cut short.
 */
static const char *
conf_printable(const char *s, size_t len, char *buf, size_t size)
{
	size_t	i, n;

	n = len < size - 1 ? len : size - 1;
	for (i = 0; i < n; i++) {
		if (s[i] >= 0x20 && s[i] < 0x7f)
			buf[i] = s[i];
		else
			buf[i] = '?';
	}
	buf[i] = '\0';
	if (n < len && size > 4)
		memcpy(buf + size - 4, "...", 4);
	return (buf);
}

/* Describe what a node is, for "expected X, found Y". */
static const char *
conf_node_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		if (n->data.scalar.length == 0)
			return ("an empty value");
		return ("a scalar");
	case YAML_SEQUENCE_NODE:
		return ("a sequence");
	case YAML_MAPPING_NODE:
		return ("a mapping");
	default:
		return ("nothing");
	}
}

/*
 * "parent.name", or "name" at the top level.  Paths are short (the longest
 * name in a message is cut to 71 bytes), so a cut here cannot happen.
 */
static void
conf_keypath(char *buf, size_t size, const char *parent, const char *name)
{
	int	n;

	if (*parent == '\0')
		n = snprintf(buf, size, "%s", name);
	else
		n = snprintf(buf, size, "%s.%s", parent, name);
	if (n < 0 || (size_t)n >= size)
		fatalx("%s: key path too long", __func__);
}

/* The text of a scalar value, or NULL after reporting why there is none. */
static const char *
conf_scalar(struct conf_parse *p, yaml_node_t *n, const char *key)
{
	const char	*s;

	if (n->type != YAML_SCALAR_NODE) {
		conf_error(p, n, key, "expected a scalar, found %s",
		    conf_node_kind(n));
		return (NULL);
	}
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length) {
		conf_error(p, n, key, "value contains a NUL byte");
		return (NULL);
	}
	if (*s == '\0') {
		conf_error(p, n, key, "missing value");
		return (NULL);
	}
	return (s);
}

/* A number of unit type (duration or size) for messages. */
static const char *
conf_fmt(enum conf_type type, uint64_t v, char *buf, size_t size)
{
	if (type == CONF_DURATION)
		return (fmt_duration(v, buf, size));
	if (type == CONF_SIZE)
		return (fmt_size(v, buf, size));
	snprintf(buf, size, "%llu", (unsigned long long)v);
	return (buf);
}

static int
conf_name_valid(const char *s)
{
	size_t	n;

	n = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_.-");
	return (s[n] == '\0' && n >= 1 && n <= CONF_MAX_NAME);
}

/* Store each key's default into base, recursing into nested tables. */
static void
conf_defaults(const struct conf_key *keys, size_t nkeys, void *base)
{
	const struct conf_key	*k;
	char			*field;
	size_t			 i;

	for (i = 0; i < nkeys; i++) {
		k = &keys[i];
		field = (char *)base + k->off;
		switch (k->type) {
		case CONF_UINT:
		case CONF_DURATION:
		case CONF_SIZE:
			*(uint64_t *)field = k->dflt;
			break;
		case CONF_BOOL:
			*(int *)field = (int)k->dflt;
			break;
		case CONF_LOG_LEVEL:
			*(enum log_level *)field = (enum log_level)k->dflt;
			break;
		case CONF_LOG_FORMAT:
			*(enum log_format *)field = (enum log_format)k->dflt;
			break;
		case CONF_MAPPING:
			conf_defaults(k->sub, k->nsub, field);
			break;
		case CONF_CHOICE:
			*(int *)field = (int)k->dflt;
			break;
		case CONF_NAME:
		case CONF_URL:
		case CONF_STRING:
		case CONF_CIDRS:
		case CONF_HOSTPORT:
		case CONF_SERVICES:
			break;
		}
	}
}

static void	 conf_services(struct conf_parse *, yaml_node_t *,
		    const char *);

/* "host:port" with a bracketed IPv6 host, parsed as a URL's authority. */
static int
conf_hostport(struct conf_parse *p, yaml_node_t *value, const char *path,
    const char *s, struct url *u)
{
	const char	*errstr = NULL;
	char		 buf[600];
	int		 n;

	n = snprintf(buf, sizeof(buf), "x://%s", s);
	if (n < 0 || (size_t)n >= sizeof(buf)) {
		conf_error(p, value, path, "too long");
		return (-1);
	}
	if (url_parse(buf, u, &errstr) == -1) {
		conf_error(p, value, path, "%s", errstr);
		return (-1);
	}
	if (u->host[0] == '\0' || !u->has_port || u->port == 0 ||
	    u->path[0] != '\0') {
		conf_error(p, value, path, "expected host:port with a port "
		    "from 1 to 65535");
		return (-1);
	}
	return (0);
}

/* A sequence of CIDR[:port[-port]] entries into sc->allow. */
static int
conf_cidrs(struct conf_parse *p, yaml_node_t *seq, const char *path,
    struct service_conf *sc)
{
	yaml_node_item_t	*item;
	yaml_node_t		*n;
	const char		*s, *errstr;
	char			 kp[CONF_MAX_PATH];
	size_t			 idx, count;
	int			 bad = 0;

	if (seq->type != YAML_SEQUENCE_NODE) {
		conf_error(p, seq, path, "expected a sequence, found %s",
		    conf_node_kind(seq));
		return (-1);
	}
	count = (size_t)(seq->data.sequence.items.top -
	    seq->data.sequence.items.start);
	free(sc->allow);
	sc->allow = count > 0 ? xcalloc(count, sizeof(*sc->allow)) : NULL;
	sc->nallow = 0;
	sc->has_allow = 1;
	idx = 0;
	for (item = seq->data.sequence.items.start;
	    item < seq->data.sequence.items.top; item++, idx++) {
		if (snprintf(kp, sizeof(kp), "%s[%zu]", path, idx) >=
		    (int)sizeof(kp))
			fatalx("%s: key path too long", __func__);
		if ((n = yaml_document_get_node(p->doc, *item)) == NULL)
			continue;
		if ((s = conf_scalar(p, n, kp)) == NULL) {
			bad = 1;
			continue;
		}
		errstr = NULL;
		if (cidr_parse(s, &sc->allow[sc->nallow], &errstr) == -1) {
			conf_error(p, n, kp, "%s", errstr);
			bad = 1;
			continue;
		}
		sc->nallow++;
	}
	return (bad ? -1 : 0);
}

/*
 * Parse one value of key k into its field in base.  Returns 0, or -1 after
 * reporting the error.
 */
static int
conf_set(struct conf_parse *p, const struct conf_key *k, yaml_node_t *value,
    const char *path, void *base)
{
	char		*field = (char *)base + k->off;
	char		 lo[32], hi[32];
	const char	*s, *errstr;
	uint64_t	 v;
	int		 b;

	switch (k->type) {
	case CONF_MAPPING:
		if (value->type != YAML_MAPPING_NODE) {
			conf_error(p, value, path,
			    "expected a mapping, found %s",
			    conf_node_kind(value));
			return (-1);
		}
		conf_mapping(p, value, path, k->sub, k->nsub, field, NULL);
		return (0);
	case CONF_CIDRS:
		return (conf_cidrs(p, value, path, (struct service_conf *)base));
	case CONF_SERVICES:
		if (value->type != YAML_SEQUENCE_NODE) {
			conf_error(p, value, path,
			    "expected a sequence, found %s",
			    conf_node_kind(value));
			return (-1);
		}
		conf_services(p, value, path);
		return (0);
	default:
		break;
	}

	if ((s = conf_scalar(p, value, path)) == NULL)
		return (-1);
	errstr = NULL;
	switch (k->type) {
	case CONF_UINT:
		if (parse_uint(s, k->min, k->max, &v, &errstr) == -1) {
			conf_error(p, value, path, "%s, expected %llu to %llu",
			    errstr, (unsigned long long)k->min,
			    (unsigned long long)k->max);
			return (-1);
		}
		*(uint64_t *)field = v;
		break;
	case CONF_DURATION:
	case CONF_SIZE:
		if (k->type == CONF_DURATION)
			b = parse_duration(s, &v, &errstr);
		else
			b = parse_size(s, &v, &errstr);
		if (b == -1) {
			conf_error(p, value, path, "%s", errstr);
			return (-1);
		}
		if (v < k->min || v > k->max) {
			conf_error(p, value, path,
			    "out of range, expected %s to %s",
			    conf_fmt(k->type, k->min, lo, sizeof(lo)),
			    conf_fmt(k->type, k->max, hi, sizeof(hi)));
			return (-1);
		}
		*(uint64_t *)field = v;
		break;
	case CONF_BOOL:
		if (parse_bool(s, &b, &errstr) == -1) {
			conf_error(p, value, path, "%s", errstr);
			return (-1);
		}
		*(int *)field = b;
		break;
	case CONF_LOG_LEVEL:
		if (log_level_parse(s, (enum log_level *)field) == -1) {
			conf_error(p, value, path, "expected %s", k->choices);
			return (-1);
		}
		break;
	case CONF_LOG_FORMAT:
		if (log_format_parse(s, (enum log_format *)field) == -1) {
			conf_error(p, value, path, "expected %s", k->choices);
			return (-1);
		}
		break;
	case CONF_NAME:
		if (!conf_name_valid(s)) {
			conf_error(p, value, path, "invalid name, use 1 to %d "
			    "of A-Z a-z 0-9 _ . -", CONF_MAX_NAME);
			return (-1);
		}
		free(*(char **)field);
		*(char **)field = xstrdup(s);
		break;
	case CONF_URL:
		if (url_parse(s, (struct url *)field, &errstr) == -1) {
			conf_error(p, value, path, "%s", errstr);
			return (-1);
		}
		break;
	case CONF_STRING:
		if (*s == '\0') {
			conf_error(p, value, path, "empty value");
			return (-1);
		}
		free(*(char **)field);
		*(char **)field = xstrdup(s);
		break;
	case CONF_CHOICE:
		for (b = 0; k->words[b] != NULL; b++)
			if (strcmp(s, k->words[b]) == 0)
				break;
		if (k->words[b] == NULL) {
			conf_error(p, value, path, "expected %s", k->choices);
			return (-1);
		}
		*(int *)field = b + 1;
		break;
	case CONF_HOSTPORT:
		return (conf_hostport(p, value, path, s, (struct url *)field));
	case CONF_MAPPING:
	case CONF_CIDRS:
	case CONF_SERVICES:
		break;
	}
	return (0);
}

/*
 * Walk mapping map against the key table keys, storing into base.  Unknown
 * and repeated keys are errors; a repeat is spotted through seen, which
 * afterwards tells the caller which keys were present (seen may be NULL
 * when the caller does not care; then a local one is used).
 */
static void
conf_mapping(struct conf_parse *p, yaml_node_t *map, const char *path,
    const struct conf_key *keys, size_t nkeys, void *base,
    struct conf_seen *seen)
{
	struct conf_seen	 local[16], *sn;
	yaml_node_pair_t	*pair;
	yaml_node_t		*key, *value;
	const char		*name;
	char			 kp[CONF_MAX_PATH], buf[72];
	size_t			 i, len;

	if (seen == NULL) {
		if (nkeys > NITEMS(local))
			fatalx("%s: table too large", __func__);
		seen = local;
	}
	memset(seen, 0, nkeys * sizeof(*seen));

	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		key = yaml_document_get_node(p->doc, pair->key);
		value = yaml_document_get_node(p->doc, pair->value);
		if (key == NULL || value == NULL)
			continue;
		if (key->type != YAML_SCALAR_NODE) {
			conf_error(p, key, path, "key must be a scalar, "
			    "found %s", conf_node_kind(key));
			continue;
		}
		name = (const char *)key->data.scalar.value;
		len = key->data.scalar.length;
		for (i = 0; i < nkeys; i++) {
			if (strlen(keys[i].name) == len &&
			    memcmp(keys[i].name, name, len) == 0)
				break;
		}
		if (i == nkeys) {
			conf_keypath(kp, sizeof(kp), path,
			    conf_printable(name, len, buf, sizeof(buf)));
			conf_error(p, key, kp, "unknown key");
			continue;
		}
		conf_keypath(kp, sizeof(kp), path, keys[i].name);
		sn = &seen[i];
		if (sn->key != NULL) {
			conf_error(p, key, kp,
			    "duplicate key, first at %zu:%zu",
			    sn->key->start_mark.line + 1,
			    sn->key->start_mark.column + 1);
			continue;
		}
		sn->key = key;
		sn->value = value;
		sn->ok = conf_set(p, &keys[i], value, kp, base) == 0;
	}

	for (i = 0; i < nkeys; i++) {
		if ((keys[i].flags & CONF_REQUIRED) && seen[i].key == NULL) {
			conf_error(p, map, path, "missing required key \"%s\"",
			    keys[i].name);
		}
	}
}

/* Check a URL's scheme and form for one side of a service. */
static const struct transport_ops *
conf_endpoint(struct conf_parse *p, const struct url *u, yaml_node_t *node,
    const char *path, int as_listen)
{
	const struct transport_ops	*ops;
	char				 buf[32];

	ops = transport_find(u->scheme);
	if (ops == NULL) {
		conf_error(p, node, path, "unknown transport scheme \"%s\"",
		    conf_printable(u->scheme, strlen(u->scheme), buf,
		    sizeof(buf)));
		return (NULL);
	}
	if (as_listen && (ops->flags & TR_LISTEN) == 0) {
		conf_error(p, node, path, "transport \"%s\" cannot listen",
		    ops->name);
		return (NULL);
	}
	if (!as_listen && (ops->flags & TR_FORWARD) == 0) {
		conf_error(p, node, path, "transport \"%s\" cannot forward",
		    ops->name);
		return (NULL);
	}
	if ((ops->flags & TR_NEED_PORT) && !u->has_port) {
		conf_error(p, node, path, "a %s URL needs a port", ops->name);
		return (NULL);
	}
	if ((ops->flags & TR_NEED_PORT) && !as_listen && u->host[0] == '\0') {
		conf_error(p, node, path, "a %s forward URL needs a host",
		    ops->name);
		return (NULL);
	}
	return (ops);
}

/*
 * The rules that span keys of one service: transports exist and can play
 * their part, a forward is there when needed, both sides carry a common
 * flow kind, and finally the transports' own check hooks.
 */
static void
conf_service_check(struct conf_parse *p, struct service_conf *sc,
    yaml_node_t *map, const char *path, struct conf_seen *seen)
{
	const struct transport_ops	*lops = NULL, *fops = NULL;
	struct conf_seen		*ls = &seen[SVC_LISTEN];
	struct conf_seen		*fs = &seen[SVC_FORWARD];
	const char			*errstr;
	char				 lkp[CONF_MAX_PATH], fkp[CONF_MAX_PATH];
	char				 kp[CONF_MAX_PATH];
	size_t				 before = p->nmsgs;

	conf_keypath(lkp, sizeof(lkp), path, "listen");
	conf_keypath(fkp, sizeof(fkp), path, "forward");
	sc->has_forward = fs->key != NULL && fs->ok;
	sc->has_fallback = seen[SVC_FALLBACK].key != NULL &&
	    seen[SVC_FALLBACK].ok;
	sc->has_destination = seen[SVC_DESTINATION].key != NULL &&
	    seen[SVC_DESTINATION].ok;
	if (ls->ok)
		lops = conf_endpoint(p, &sc->listen, ls->value, lkp, 1);
	if (sc->has_forward)
		fops = conf_endpoint(p, &sc->forward, fs->value, fkp, 0);
	sc->listen_ops = lops;
	sc->forward_ops = fops;

	if (lops != NULL && (lops->flags & TR_NEED_FORWARD) &&
	    fs->key == NULL) {
		conf_error(p, map, path, "missing required key \"forward\" "
		    "(a %s listen needs one)", lops->name);
	}
	if (lops != NULL && fops != NULL &&
	    (lops->flags & fops->flags & (TR_DGRAM | TR_STREAM)) == 0) {
		conf_error(p, fs->value, fkp,
		    "%s listen cannot feed %s forward", lops->name, fops->name);
	}
	if (lops != NULL && seen[SVC_ALLOW].key != NULL &&
	    !(lops->flags & TR_TUNNEL)) {
		conf_keypath(kp, sizeof(kp), path, "allow");
		conf_error(p, seen[SVC_ALLOW].key, kp, "applies only to a "
		    "tunnel listener (tls-stream, dtls), not %s", lops->name);
	}
	if (lops != NULL && seen[SVC_FALLBACK].key != NULL &&
	    !(lops->flags & TR_FALLBACK)) {
		conf_keypath(kp, sizeof(kp), path, "fallback");
		conf_error(p, seen[SVC_FALLBACK].key, kp, "applies only to "
		    "a tls-stream listener, not %s", lops->name);
	}
	if (seen[SVC_DESTINATION].key != NULL && fs->key == NULL) {
		conf_keypath(kp, sizeof(kp), path, "destination");
		conf_error(p, seen[SVC_DESTINATION].key, kp, "applies only to "
		    "a tunnel forward (tls-stream, dtls), and there is no "
		    "forward");
	}
	if (fops != NULL && sc->has_destination &&
	    !(fops->flags & TR_TUNNEL)) {
		conf_keypath(kp, sizeof(kp), path, "destination");
		conf_error(p, seen[SVC_DESTINATION].key, kp, "applies only to "
		    "a tunnel forward (tls-stream, dtls), not %s", fops->name);
	}
	if (fops != NULL && (fops->flags & TR_TUNNEL) &&
	    !sc->has_destination && seen[SVC_DESTINATION].key == NULL) {
		conf_error(p, map, path, "missing required key "
		    "\"destination\" (a %s forward needs one)", fops->name);
	}

	/* The hooks see only services that passed everything above. */
	if (p->nmsgs != before || !seen[SVC_NAME].ok || lops == NULL)
		return;
	if (fs->key != NULL && fops == NULL)
		return;
	errstr = NULL;
	if (lops->check != NULL && lops->check(sc, 1, &errstr) == -1) {
		conf_error(p, ls->value, lkp, "%s",
		    errstr != NULL ? errstr : "rejected by the transport");
	}
	errstr = NULL;
	if (fops != NULL && fops->check != NULL &&
	    fops->check(sc, 0, &errstr) == -1) {
		conf_error(p, fs->value, fkp, "%s",
		    errstr != NULL ? errstr : "rejected by the transport");
	}
}

/*
 * Parse the services sequence into p->cfg->services.  Each entry is linked
 * in as soon as it exists so that a failed load frees it with the rest.
 */
static void
conf_services(struct conf_parse *p, yaml_node_t *seq, const char *path)
{
	struct config		*cfg = p->cfg;
	struct service_conf	*sc, *other;
	struct conf_seen	 seen[SVC_NKEYS];
	yaml_node_item_t	*item;
	yaml_node_t		*map;
	char			 sp[CONF_MAX_PATH], kp[CONF_MAX_PATH];
	size_t			 idx;
	int			 n;

	if (seq->data.sequence.items.start == seq->data.sequence.items.top) {
		conf_error(p, seq, path, "at least one service is required");
		return;
	}
	idx = 0;
	for (item = seq->data.sequence.items.start;
	    item < seq->data.sequence.items.top; item++, idx++) {
		n = snprintf(sp, sizeof(sp), "%s[%zu]", path, idx);
		if (n < 0 || (size_t)n >= sizeof(sp))
			fatalx("%s: key path too long", __func__);
		if ((map = yaml_document_get_node(p->doc, *item)) == NULL)
			continue;
		if (map->type != YAML_MAPPING_NODE) {
			conf_error(p, map, sp, "expected a mapping, found %s",
			    conf_node_kind(map));
			continue;
		}

		sc = xcalloc(1, sizeof(*sc));
		sc->stats = service_stats_new();
		sc->line = (int)map->start_mark.line + 1;
		sc->col = (int)map->start_mark.column + 1;
		TAILQ_INSERT_TAIL(&cfg->services, sc, entry);
		cfg->nservices++;

		conf_defaults(service_keys, NITEMS(service_keys), sc);
		conf_mapping(p, map, sp, service_keys, NITEMS(service_keys),
		    sc, seen);

		if (seen[SVC_NAME].ok) {
			TAILQ_FOREACH(other, &cfg->services, entry) {
				if (other == sc)
					break;
				if (other->name == NULL ||
				    strcmp(other->name, sc->name) != 0)
					continue;
				conf_keypath(kp, sizeof(kp), sp, "name");
				conf_error(p, seen[SVC_NAME].value, kp,
				    "duplicate service name \"%s\", first at "
				    "%d:%d", sc->name, other->line, other->col);
				break;
			}
		}
		conf_service_check(p, sc, map, sp, seen);
	}
}

/*
 * A relative file name in the configuration is relative to the directory
 * of the file that names it.
 */
static char *
conf_path_join(const char *conf_path, const char *name)
{
	const char	*slash;
	char		*out;

	if (name[0] == '/' || conf_path == NULL ||
	    (slash = strrchr(conf_path, '/')) == NULL)
		return (xstrdup(name));
	xasprintf(&out, "%.*s/%s", (int)(slash - conf_path), conf_path, name);
	return (out);
}

/* Fill what a service's tls left unset from the global tls, then defaults. */
static void
conf_tls_merge(struct tls_conf *t, const struct tls_conf *g,
    const char *conf_path)
{
	char	**f[] = { &t->cert, &t->key, &t->ca };
	char	*const gf[] = { g->cert, g->key, g->ca };
	char	*abs;
	size_t	 i;

	for (i = 0; i < NITEMS(f); i++) {
		if (*f[i] == NULL && gf[i] != NULL)
			*f[i] = xstrdup(gf[i]);
		if (*f[i] != NULL) {
			abs = conf_path_join(conf_path, *f[i]);
			free(*f[i]);
			*f[i] = abs;
		}
	}
	if (t->verify_name == NULL)
		t->verify_name = xstrdup(g->verify_name != NULL ?
		    g->verify_name : "godoxy.agent");
	if (t->client_auth == 0)
		t->client_auth = g->client_auth != 0 ? g->client_auth :
		    TLS_AUTH_REQUIRED;
	if (t->min_version == 0)
		t->min_version = g->min_version != 0 ? g->min_version :
		    TLS_V12;
	if (t->ciphers == NULL && g->ciphers != NULL)
		t->ciphers = xstrdup(g->ciphers);
	if (t->ciphersuites == NULL && g->ciphersuites != NULL)
		t->ciphersuites = xstrdup(g->ciphersuites);
}

/*
 * Build the TLS contexts of the services that need one, so that a missing
 * or broken certificate is a configuration error (also for "check").
 */
static void
conf_tls_build(struct conf_parse *p, struct config *cfg)
{
	struct service_conf		*sc;
	const struct transport_ops	*ops;
	char				*errstr, kp[CONF_MAX_PATH];
	size_t				 idx = 0;
	int				 server;

	TAILQ_FOREACH(sc, &cfg->services, entry) {
		if (snprintf(kp, sizeof(kp), "services[%zu].tls", idx++) >=
		    (int)sizeof(kp))
			fatalx("%s: key path too long", __func__);
		if (sc->listen_ops != NULL && (sc->listen_ops->flags & TR_TLS)) {
			ops = sc->listen_ops;
			server = 1;
		} else if (sc->forward_ops != NULL &&
		    (sc->forward_ops->flags & TR_TLS)) {
			ops = sc->forward_ops;
			server = 0;
		} else
			continue;
		errstr = NULL;
		sc->tls_ctx = tls_ctx_new(sc, server,
		    (ops->flags & TR_DGRAM) && !(ops->flags & TR_STREAM),
		    &errstr);
		if (sc->tls_ctx == NULL) {
			conf_error_at(p, (size_t)sc->line, (size_t)sc->col, kp,
			    "%s", errstr != NULL ? errstr : "TLS setup failed");
			free(errstr);
		}
	}
}

/* Resolve the defaults that depend on other keys or on the machine. */
static void
conf_resolve(struct config *cfg)
{
	struct service_conf	*sc;
	long			 ncpu;

	if (cfg->workers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		if (ncpu < 1)
			ncpu = 1;
		if ((uint64_t)ncpu > global_keys[GLB_WORKERS].max)
			ncpu = (long)global_keys[GLB_WORKERS].max;
		cfg->workers = (uint64_t)ncpu;
	}
	TAILQ_FOREACH(sc, &cfg->services, entry) {
		if (sc->max_flows == 0)
			sc->max_flows = cfg->max_flows;
		conf_tls_merge(&sc->tls, &cfg->tls, cfg->path);
	}
}

/*
 * Report libyaml's parse error: where it found the problem, and why.  A
 * reader error (bad encoding) has no mark, only a byte offset into yaml.
 */
static void
conf_yaml_error(struct conf_parse *p, yaml_parser_t *parser,
    const char *yaml, size_t len)
{
	yaml_mark_t	 mark;
	const char	*problem;
	size_t		 i;

	if (parser->error == YAML_MEMORY_ERROR)
		fatalx("%s: out of memory", __func__);
	mark = parser->problem_mark;
	if (parser->error == YAML_READER_ERROR) {
		memset(&mark, 0, sizeof(mark));
		for (i = 0; i < parser->problem_offset && i < len; i++) {
			if (yaml[i] == '\n') {
				mark.line++;
				mark.column = 0;
			} else
				mark.column++;
		}
	}
	problem = parser->problem != NULL ? parser->problem : "syntax error";
	if (parser->context != NULL) {
		conf_error_at(p, mark.line + 1, mark.column + 1, NULL,
		    "%s (%s at %zu:%zu)", problem, parser->context,
		    parser->context_mark.line + 1,
		    parser->context_mark.column + 1);
	} else {
		conf_error_at(p, mark.line + 1, mark.column + 1, NULL,
		    "%s", problem);
	}
}

static void
tls_conf_clear(struct tls_conf *t)
{
	free(t->cert);
	free(t->key);
	free(t->ca);
	free(t->verify_name);
	free(t->ciphers);
	free(t->ciphersuites);
	memset(t, 0, sizeof(*t));
}

static void
config_free(struct config *cfg)
{
	struct service_conf	*sc, *next;

	TAILQ_FOREACH_SAFE(sc, &cfg->services, entry, next) {
		TAILQ_REMOVE(&cfg->services, sc, entry);
		service_stats_unref(sc->stats);
		free(sc->name);
		tls_conf_clear(&sc->tls);
		free(sc->allow);
		if (sc->tls_ctx != NULL)
			tls_ctx_free(sc->tls_ctx);
		free(sc);
	}
	tls_conf_clear(&cfg->tls);
	free(cfg->path);
	free(cfg);
}

/*
 * Parse len bytes of yaml named file (for messages) into a new config with
 * one reference, or return NULL with every error appended to errs.
 */
static struct config *
conf_load(const char *file, const char *path, const char *yaml, size_t len,
    struct config_errs *errs)
{
	struct conf_parse	 p;
	struct config		*cfg;
	yaml_parser_t		 parser;
	yaml_document_t		 doc, extra;
	yaml_node_t		*root, *n;

	memset(&p, 0, sizeof(p));
	p.file = file;
	p.doc = &doc;
	cfg = xcalloc(1, sizeof(*cfg));
	atomic_init(&cfg->refs, 1);
	TAILQ_INIT(&cfg->services);
	if (path != NULL)
		cfg->path = xstrdup(path);
	p.cfg = cfg;
	conf_defaults(global_keys, NITEMS(global_keys), cfg);

	if (!yaml_parser_initialize(&parser))
		fatalx("%s: yaml_parser_initialize failed", __func__);
	yaml_parser_set_input_string(&parser, (const unsigned char *)yaml,
	    len);
	if (!yaml_parser_load(&parser, &doc)) {
		conf_yaml_error(&p, &parser, yaml, len);
		yaml_parser_delete(&parser);
		goto fail;
	}

	/*
	 * A second document would be ignored silently; refuse it, unless it
	 * is empty (a stray "---" at the end).
	 */
	if (!yaml_parser_load(&parser, &extra))
		conf_yaml_error(&p, &parser, yaml, len);
	else {
		n = yaml_document_get_root_node(&extra);
		if (n != NULL && (n->type != YAML_SCALAR_NODE ||
		    n->data.scalar.length != 0)) {
			conf_error(&p, n, NULL, "more than one YAML document; "
			    "only one is allowed");
		}
		yaml_document_delete(&extra);
	}
	yaml_parser_delete(&parser);

	root = yaml_document_get_root_node(&doc);
	if (root == NULL || (root->type == YAML_SCALAR_NODE &&
	    root->data.scalar.length == 0 &&
	    root->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)) {
		conf_error_at(&p, 1, 1, NULL, "empty configuration, expected "
		    "a mapping with at least \"services\"");
	} else if (root->type != YAML_MAPPING_NODE) {
		conf_error(&p, root, NULL, "expected a mapping at the top "
		    "level, found %s", conf_node_kind(root));
	} else if (p.nmsgs == 0) {
		conf_mapping(&p, root, "", global_keys, NITEMS(global_keys),
		    cfg, NULL);
	}
	yaml_document_delete(&doc);
	if (p.nmsgs != 0)
		goto fail;

	conf_resolve(cfg);
	conf_tls_build(&p, cfg);
	if (p.nmsgs != 0)
		goto fail;
	return (cfg);

fail:
	conf_flush_errors(&p, errs);
	config_free(cfg);
	return (NULL);
}

/*
 * Load the configuration file path.  On success the caller owns the one
 * reference; on failure errs (reinitialized here) holds every error.
 */
struct config *
config_load(const char *path, struct config_errs *errs)
{
	struct config		*cfg;
	struct config_err	*e;
	FILE			*f;
	char			*buf, *nbuf;
	size_t			 len, size, n;
	int			 saved;

	if (errs != NULL)
		TAILQ_INIT(errs);
	if ((f = fopen(path, "r")) == NULL) {
		saved = errno;
		goto fail_errno;
	}
	buf = NULL;
	len = size = 0;
	for (;;) {
		if (len == size) {
			if (size >= CONF_MAX_FILE) {
				free(buf);
				fclose(f);
				saved = EFBIG;
				goto fail_errno;
			}
			size = size == 0 ? 8192 : size * 2;
			if ((nbuf = realloc(buf, size)) == NULL)
				fatal("%s", __func__);
			buf = nbuf;
		}
		n = fread(buf + len, 1, size - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		saved = errno;
		free(buf);
		fclose(f);
		goto fail_errno;
	}
	fclose(f);

	cfg = conf_load(path, path, buf, len, errs);
	free(buf);
	return (cfg);

fail_errno:
	if (errs != NULL) {
		e = xcalloc(1, sizeof(*e));
		xasprintf(&e->msg, "%s: cannot open: %s", path,
		    strerror(saved));
		TAILQ_INSERT_TAIL(errs, e, entry);
	}
	return (NULL);
}

/*
 * Load a configuration from memory; name stands for the file in messages
 * and the config's path stays NULL.  Ownership as config_load.
 */
struct config *
config_load_string(const char *name, const char *yaml, size_t len,
    struct config_errs *errs)
{
	if (errs != NULL)
		TAILQ_INIT(errs);
	if (yaml == NULL) {
		yaml = "";
		len = 0;
	}
	return (conf_load(name != NULL ? name : "(string)", NULL, yaml, len,
	    errs));
}

/* Free every error on errs and leave it empty. */
void
config_errs_free(struct config_errs *errs)
{
	struct config_err	*e;

	while ((e = TAILQ_FIRST(errs)) != NULL) {
		TAILQ_REMOVE(errs, e, entry);
		free(e->msg);
		free(e);
	}
}

struct config *
config_ref(struct config *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
	return (cfg);
}

/* Drop a reference; the last one frees the config and its services. */
void
config_unref(struct config *cfg)
{
	if (cfg == NULL)
		return;
	if (atomic_fetch_sub(&cfg->refs, 1) == 1)
		config_free(cfg);
}

struct service_conf *
config_find_service(struct config *cfg, const char *name)
{
	struct service_conf	*sc;

	TAILQ_FOREACH(sc, &cfg->services, entry) {
		if (strcmp(sc->name, name) == 0)
			return (sc);
	}
	return (NULL);
}

static int
conf_str_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a == b);
	return (strcmp(a, b) == 0);
}

static int
conf_url_equal(const struct url *a, const struct url *b)
{
	return (strcmp(a->scheme, b->scheme) == 0 &&
	    strcmp(a->host, b->host) == 0 &&
	    a->port == b->port &&
	    a->has_port == b->has_port &&
	    strcmp(a->path, b->path) == 0);
}

/*
 * Whether two services would run identically, so that a reload can keep
 * the running one; position, list linkage and stats do not count.
 */
int
service_conf_equal(const struct service_conf *a, const struct service_conf *b)
{
	if (strcmp(a->name, b->name) != 0)
		return (0);
	if (!conf_url_equal(&a->listen, &b->listen))
		return (0);
	if (a->has_forward != b->has_forward)
		return (0);
	if (a->has_forward && !conf_url_equal(&a->forward, &b->forward))
		return (0);
	if (a->has_fallback != b->has_fallback || (a->has_fallback &&
	    !conf_url_equal(&a->fallback, &b->fallback)))
		return (0);
	if (a->has_destination != b->has_destination ||
	    (a->has_destination &&
	    !conf_url_equal(&a->destination, &b->destination)))
		return (0);
	if (a->has_allow != b->has_allow || a->nallow != b->nallow ||
	    (a->nallow > 0 &&
	    memcmp(a->allow, b->allow, a->nallow * sizeof(*a->allow)) != 0))
		return (0);
	if (!conf_str_equal(a->tls.cert, b->tls.cert) ||
	    !conf_str_equal(a->tls.key, b->tls.key) ||
	    !conf_str_equal(a->tls.ca, b->tls.ca) ||
	    !conf_str_equal(a->tls.verify_name, b->tls.verify_name) ||
	    !conf_str_equal(a->tls.ciphers, b->tls.ciphers) ||
	    !conf_str_equal(a->tls.ciphersuites, b->tls.ciphersuites) ||
	    a->tls.client_auth != b->tls.client_auth ||
	    a->tls.min_version != b->tls.min_version)
		return (0);
	return (a->listen_ops == b->listen_ops &&
	    a->forward_ops == b->forward_ops &&
	    a->idle_timeout == b->idle_timeout &&
	    a->connect_timeout == b->connect_timeout &&
	    a->header_timeout == b->header_timeout &&
	    a->handshake_timeout == b->handshake_timeout &&
	    a->max_flows == b->max_flows &&
	    a->max_datagram == b->max_datagram &&
	    a->max_per_source == b->max_per_source &&
	    a->buffer == b->buffer);
}

/*
 * Whether a reload can hand a's listening sockets to b: the same name and
 * the same listen endpoint.  Everything else may change under live flows.
 */
int
service_conf_same_listener(const struct service_conf *a,
    const struct service_conf *b)
{
	return (strcmp(a->name, b->name) == 0 &&
	    a->listen_ops == b->listen_ops &&
	    conf_url_equal(&a->listen, &b->listen));
}
