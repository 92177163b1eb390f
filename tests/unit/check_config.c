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
 * config.c: good files and their defaults, every error class with its exact
 * file:line:col and key, and the reference counts.  Snippets live either
 * inline or in tests/data (found through $FG_TESTDATA).
 */

#include <sys/types.h>

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "certs.h"
#include "flowgate.h"

#define SNIPPET		"snippet.yml"	/* the name inline snippets get */
#define TIMEOUT		10		/* seconds per test case */

/*
 * One expected error: where the YAML comes from, the position and key the
 * message must start with, and a piece of text it must contain.
 */
struct err_case {
	const char	*file;		/* under tests/data, or NULL */
	const char	*yaml;		/* the snippet when file is NULL */
	int		 line;		/* 0: the message has no position */
	int		 col;
	const char	*key;		/* NULL: the message names no key */
	const char	*text;
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* The path of a file under the test data directory; absolute as given. */
static void
datapath(char *buf, size_t size, const char *file)
{
	const char	*dir;

	if (file[0] == '/') {
		snprintf(buf, size, "%s", file);
		return;
	}
	if ((dir = getenv("FG_TESTDATA")) == NULL || *dir == '\0')
		dir = "tests/data";
	snprintf(buf, size, "%s/%s", dir, file);
}

static struct config *
load_str(const char *yaml, struct config_errs *errs)
{
	return (config_load_string(SNIPPET, yaml, strlen(yaml), errs));
}

/* Load a snippet that must be good; fail showing its errors if not. */
static struct config *
load_good(const char *yaml)
{
	struct config_errs	 errs;
	struct config_err	*e;
	struct config		*cfg;

	cfg = load_str(yaml, &errs);
	TAILQ_FOREACH(e, &errs, entry)
		fprintf(stderr, "unexpected: %s\n", e->msg);
	ck_assert_msg(cfg != NULL, "config failed: %s",
	    TAILQ_EMPTY(&errs) ? "(no error)" : TAILQ_FIRST(&errs)->msg);
	ck_assert(TAILQ_EMPTY(&errs));
	config_errs_free(&errs);
	return (cfg);
}

/* The files certs_generate() makes, and the config file some tests add. */
static const char *const certdir_files[] = { CERTS_CA_CRT, CERTS_CA_KEY,
    CERTS_SERVER_CRT, CERTS_SERVER_KEY, CERTS_CLIENT_CRT, CERTS_CLIENT_KEY,
    "flowgate.yml", "bad.yml" };

/*
 * A fresh directory (buf, at least 32 bytes) holding a CA with a server
 * and a client certificate, as "flowgate certs" makes them.
 */
static void
certdir_new(char *buf, size_t size)
{
	char	*err = NULL;

	ck_assert_uint_ge(size, 32);
	snprintf(buf, size, "/tmp/fg-check-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(buf));
	ck_assert_msg(certs_generate(buf, CERTS_DEFAULT_NAME, 30, 0,
	    &err) == 0, "certs: %s", err);
}

static void
certdir_free(const char *dir)
{
	char	path[PATH_MAX];
	size_t	i;

	for (i = 0; i < NITEMS(certdir_files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, certdir_files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

/* s with every "@D@" replaced by dir; the caller frees it. */
static char *
subst_dir(const char *s, const char *dir)
{
	const char	*at;
	char		*out;
	size_t		 n = 0, len = 0, dlen = strlen(dir);

	for (at = s; (at = strstr(at, "@D@")) != NULL; at += 3)
		n++;
	out = malloc(strlen(s) + n * dlen + 1);
	ck_assert_ptr_nonnull(out);
	while (*s != '\0') {
		if (strncmp(s, "@D@", 3) == 0) {
			memcpy(out + len, dir, dlen);
			len += dlen;
			s += 3;
		} else
			out[len++] = *s++;
	}
	out[len] = '\0';
	return (out);
}

/* Write text to dir/name. */
static void
write_file(const char *dir, const char *name, const char *text)
{
	char	 path[PATH_MAX];
	FILE	*fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/*
 * The built-in configuration, rendered for a fresh state directory with
 * development certificates in it (as "flowgate run" does on first use).
 */
static struct config *
load_default(void)
{
	struct config	*cfg;
	char		 dir[64];
	char		*yaml;

	certdir_new(dir, sizeof(dir));
	yaml = config_default_render(dir);
	ck_assert_ptr_null(strstr(yaml, "@STATE@"));
	cfg = load_good(yaml);
	free(yaml);
	certdir_free(dir);
	return (cfg);
}

static struct config *
load_good_file(const char *file)
{
	struct config_errs	 errs;
	struct config		*cfg;
	char			 path[PATH_MAX];

	datapath(path, sizeof(path), file);
	cfg = config_load(path, &errs);
	ck_assert_msg(cfg != NULL, "%s failed: %s", file,
	    TAILQ_EMPTY(&errs) ? "(no error)" : TAILQ_FIRST(&errs)->msg);
	config_errs_free(&errs);
	return (cfg);
}

/*
 * Run one error case: the load must fail and some message must be exactly
 * "NAME:LINE:COL: KEY: ..." with the expected text after the prefix.
 */
static void
expect_error(const struct err_case *c)
{
	struct config_errs	 errs;
	struct config_err	*e;
	struct config		*cfg;
	char			 path[PATH_MAX], prefix[PATH_MAX + 256];
	char			 where[32];
	const char		*name;
	int			 found = 0;

	if (c->file != NULL) {
		datapath(path, sizeof(path), c->file);
		cfg = config_load(path, &errs);
		name = path;
	} else {
		cfg = load_str(c->yaml, &errs);
		name = SNIPPET;
	}
	ck_assert_msg(cfg == NULL, "%s: loaded, expected %d:%d %s",
	    c->file != NULL ? c->file : c->yaml, c->line, c->col,
	    c->text);

	if (c->line != 0)
		snprintf(where, sizeof(where), ":%d:%d", c->line, c->col);
	else
		where[0] = '\0';
	if (c->key != NULL)
		snprintf(prefix, sizeof(prefix), "%s%s: %s: ", name, where,
		    c->key);
	else
		snprintf(prefix, sizeof(prefix), "%s%s: ", name, where);
	TAILQ_FOREACH(e, &errs, entry) {
		if (strncmp(e->msg, prefix, strlen(prefix)) == 0 &&
		    strstr(e->msg + strlen(prefix), c->text) != NULL)
			found = 1;
	}
	if (!found) {
		TAILQ_FOREACH(e, &errs, entry)
			fprintf(stderr, "got: %s\n", e->msg);
	}
	ck_assert_msg(found, "no error \"%s...%s\" for %s", prefix, c->text,
	    c->file != NULL ? c->file : c->yaml);
	config_errs_free(&errs);
}

static void
expect_errors(const struct err_case *cases, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		expect_error(&cases[i]);
}

/* As expect_errors, with "@D@" in file, yaml and text standing for dir. */
static void
expect_errors_dir(const struct err_case *cases, size_t n, const char *dir)
{
	struct err_case	 c;
	char		*file, *yaml, *text;
	size_t		 i;

	for (i = 0; i < n; i++) {
		c = cases[i];
		file = c.file != NULL ? subst_dir(c.file, dir) : NULL;
		yaml = c.yaml != NULL ? subst_dir(c.yaml, dir) : NULL;
		text = subst_dir(c.text, dir);
		c.file = file;
		c.yaml = yaml;
		c.text = text;
		expect_error(&c);
		free(file);
		free(yaml);
		free(text);
	}
}

/*
 * Good configurations and defaults.
 */

START_TEST(test_config_default_yaml)
{
	struct config		*cfg;
	struct service_conf	*sc;
	static const struct {
		const char	*name;
		const char	*listen;
		uint16_t	 lport;
		const char	*forward;
		uint16_t	 fport;
	} want[] = {
		{ "udp-demo", "udp", 7000, "udp", 7007 },
		{ "tcp-demo", "tcp", 7001, "tcp", 7008 },
		{ "tls-demo", "tcp", 7002, "tls-stream", 8890 },
		{ "agent", "tls-stream", 8890, NULL, 0 },
		{ "udp-echo", "udp", 7007, "echo", 0 },
		{ "tcp-echo", "tcp", 7008, "echo", 0 }
	};
	size_t			 i = 0;

	cfg = load_default();
	ck_assert_ptr_null(cfg->path);
	ck_assert_uint_eq(cfg->workers, 1);
	ck_assert_int_eq(cfg->nservices, 6);
	TAILQ_FOREACH(sc, &cfg->services, entry) {
		ck_assert_uint_lt(i, NITEMS(want));
		ck_assert_str_eq(sc->name, want[i].name);
		ck_assert_str_eq(sc->listen.scheme, want[i].listen);
		ck_assert_str_eq(sc->listen.host, "127.0.0.1");
		ck_assert_uint_eq(sc->listen.port, want[i].lport);
		ck_assert_ptr_eq(sc->listen_ops,
		    transport_find(want[i].listen));
		if (want[i].forward == NULL) {
			/* A tunnel server: destinations from the header. */
			ck_assert_int_eq(sc->has_forward, 0);
			ck_assert_int_eq(sc->has_allow, 1);
			ck_assert_ptr_nonnull(sc->tls_ctx);
			i++;
			continue;
		}
		ck_assert_int_eq(sc->has_forward, 1);
		ck_assert_str_eq(sc->forward.scheme, want[i].forward);
		ck_assert_uint_eq(sc->forward.port, want[i].fport);
		ck_assert_ptr_eq(sc->forward_ops,
		    transport_find(want[i].forward));
		ck_assert_ptr_nonnull(sc->stats);
		i++;
	}
	ck_assert_uint_eq(i, NITEMS(want));
	config_unref(cfg);
}
END_TEST

START_TEST(test_config_defaults)
{
	struct config		*cfg;
	struct service_conf	*sc;

	cfg = load_good_file("good-minimal.yml");
	ck_assert_ptr_nonnull(cfg->path);
	ck_assert_uint_ge(cfg->workers, 1);
	ck_assert_uint_le(cfg->workers, 256);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_INFO);
	ck_assert_int_eq(cfg->log_format, LOG_FMT_TEXT);
	ck_assert_int_eq(cfg->log_syslog, 0);
	ck_assert_uint_eq(cfg->max_flows, 100000);
	ck_assert_uint_eq(cfg->drain_timeout, 10000);
	ck_assert_int_eq(cfg->nservices, 1);

	sc = TAILQ_FIRST(&cfg->services);
	ck_assert_str_eq(sc->name, "dns");
	ck_assert_int_eq(sc->line, 3);
	ck_assert_int_eq(sc->col, 5);
	ck_assert_str_eq(sc->listen.host, "0.0.0.0");
	ck_assert_uint_eq(sc->listen.port, 5353);
	ck_assert_str_eq(sc->forward.host, "10.0.0.53");
	ck_assert_uint_eq(sc->forward.port, 53);
	ck_assert_uint_eq(sc->idle_timeout, 0);
	ck_assert_uint_eq(sc->connect_timeout, 10000);
	ck_assert_uint_eq(sc->max_flows, 100000);
	ck_assert_uint_eq(sc->buffer, 256 * 1024);
	ck_assert_uint_eq(sc->max_datagram, 8155);	/* what pion reads */
	ck_assert_uint_eq(sc->max_per_source, 0);	/* no cap */
	ck_assert_int_eq(sc->stats->refs, 1);
	ck_assert_uint_eq(sc->stats->nflows, 0);
	config_unref(cfg);
}
END_TEST

START_TEST(test_config_full)
{
	struct config		*cfg;
	struct service_conf	*sc;

	cfg = load_good_file("good-full.yml");
	ck_assert_uint_eq(cfg->workers, 4);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_DEBUG);
	ck_assert_int_eq(cfg->log_format, LOG_FMT_JSON);
	ck_assert_int_eq(cfg->log_syslog, 1);
	ck_assert_uint_eq(cfg->max_flows, 5000);
	ck_assert_uint_eq(cfg->drain_timeout, 30000);
	ck_assert_int_eq(cfg->nservices, 3);

	sc = config_find_service(cfg, "dns");
	ck_assert_ptr_nonnull(sc);
	ck_assert_int_eq(sc->line, 10);
	ck_assert_uint_eq(sc->idle_timeout, 5 * 60 * 1000);
	ck_assert_uint_eq(sc->connect_timeout, 500);
	ck_assert_uint_eq(sc->max_flows, 200);
	ck_assert_uint_eq(sc->buffer, 1024 * 1024);

	sc = config_find_service(cfg, "ssh");
	ck_assert_ptr_nonnull(sc);
	ck_assert_uint_eq(sc->connect_timeout, 5000);
	ck_assert_uint_eq(sc->max_flows, 5000);
	ck_assert_ptr_eq(sc->listen_ops, transport_find("tcp"));

	sc = config_find_service(cfg, "echo.tcp_1");
	ck_assert_ptr_nonnull(sc);
	ck_assert_str_eq(sc->listen.host, "::1");
	ck_assert_uint_eq(sc->listen.port, 7008);
	ck_assert_ptr_eq(sc->forward_ops, transport_find("echo"));
	config_unref(cfg);
}
END_TEST

/* A service's max_flows defaults to the global one, wherever that is. */
START_TEST(test_config_max_flows_inherit)
{
	struct config	*cfg;

	cfg = load_good(
	    "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "  - name: b\n"
	    "    listen: udp://127.0.0.1:3\n"
	    "    forward: udp://127.0.0.1:4\n"
	    "    max_flows: 7\n"
	    "max_flows: 1234\n");
	ck_assert_uint_eq(cfg->max_flows, 1234);
	ck_assert_uint_eq(config_find_service(cfg, "a")->max_flows, 1234);
	ck_assert_uint_eq(config_find_service(cfg, "b")->max_flows, 7);
	config_unref(cfg);
}
END_TEST

START_TEST(test_config_workers_auto)
{
	struct config	*cfg;
	long		 ncpu;

	cfg = load_good(
	    "workers: 0\n"
	    "services:\n"
	    "  - name: a\n"
	    "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tcp://127.0.0.1:2\n");
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (ncpu < 1)
		ncpu = 1;
	if (ncpu > 256)
		ncpu = 256;
	ck_assert_uint_eq(cfg->workers, (uint64_t)ncpu);
	config_unref(cfg);
}
END_TEST

/* Every bound is inclusive; the forms the key table allows all load. */
START_TEST(test_config_bounds)
{
	struct config		*cfg;
	struct service_conf	*sc;

	cfg = load_good(
	    "workers: 256\n"
	    "max_flows: 10000000\n"
	    "drain_timeout: 0s\n"
	    "log: {level: error, format: text, syslog: no}\n"
	    "services:\n"
	    "  - name: lo\n"
	    "    listen: udp://:53\n"
	    "    forward: udp://[::1]:53\n"
	    "    idle_timeout: 1s\n"
	    "    connect_timeout: 100ms\n"
	    "    max_flows: 1\n"
	    "    buffer: 4KiB\n"
	    "    max_datagram: 1\n"
	    "    max_per_source: 10000000\n"
	    "  - name: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "012345678_.-\n"
	    "    listen: tcp://0.0.0.0:0\n"
	    "    forward: tcp://host.example:22\n"
	    "    idle_timeout: 7d\n"
	    "    connect_timeout: 5m\n"
	    "    max_flows: 10000000\n"
	    "    buffer: 64MiB\n"
	    "    max_datagram: 16KiB\n"
	    "    max_per_source: 0\n"
	    "  - name: \"quoted\"\n"
	    "    listen: 'tcp://127.0.0.1:5'\n"
	    "    forward: echo://\n"
	    "    idle_timeout: 1h30m\n");
	ck_assert_uint_eq(cfg->workers, 256);
	ck_assert_uint_eq(cfg->drain_timeout, 0);
	ck_assert_int_eq(cfg->log_level, LOG_LVL_ERROR);

	sc = config_find_service(cfg, "lo");
	ck_assert_str_eq(sc->listen.host, "");
	ck_assert_uint_eq(sc->idle_timeout, 1000);
	ck_assert_uint_eq(sc->connect_timeout, 100);
	ck_assert_uint_eq(sc->max_flows, 1);
	ck_assert_uint_eq(sc->buffer, 4096);
	ck_assert_uint_eq(sc->max_datagram, 1);
	ck_assert_uint_eq(sc->max_per_source, 10000000);

	sc = TAILQ_NEXT(sc, entry);
	ck_assert_uint_eq(strlen(sc->name), 64);
	ck_assert_uint_eq(sc->listen.port, 0);
	ck_assert_int_eq(sc->listen.has_port, 1);
	ck_assert_uint_eq(sc->idle_timeout, 7ULL * 24 * 3600 * 1000);
	ck_assert_uint_eq(sc->connect_timeout, 300000);
	ck_assert_uint_eq(sc->max_flows, 10000000);
	ck_assert_uint_eq(sc->buffer, 64 * 1024 * 1024);
	ck_assert_uint_eq(sc->max_datagram, 16384);
	ck_assert_uint_eq(sc->max_per_source, 0);

	sc = config_find_service(cfg, "quoted");
	ck_assert_ptr_nonnull(sc);
	ck_assert_uint_eq(sc->idle_timeout, 90 * 60 * 1000);
	config_unref(cfg);
}
END_TEST

/*
 * TLS and tunnel keys: defaults, the global tls under each service's,
 * relative file names, and the allow, fallback and destination forms.
 */

/* A tls-stream agent, a client into it and a plain service, all defaults. */
START_TEST(test_config_tls_defaults)
{
	struct config		*cfg;
	struct service_conf	*sc;
	char			 dir[64], want[PATH_MAX];
	char			*yaml;

	certdir_new(dir, sizeof(dir));
	yaml = subst_dir(
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:8890\n"
	    "    tls: {cert: \"@D@/server.crt\", key: \"@D@/server.key\", "
	    "ca: \"@D@/ca.crt\"}\n"
	    "  - name: client\n"
	    "    listen: tcp://127.0.0.1:2222\n"
	    "    forward: tls-stream://agent.example:8890\n"
	    "    destination: 127.0.0.1:22\n"
	    "    tls: {cert: \"@D@/client.crt\", key: \"@D@/client.key\", "
	    "ca: \"@D@/ca.crt\"}\n"
	    "  - name: plain\n"
	    "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tcp://127.0.0.1:2\n", dir);
	cfg = load_good(yaml);
	free(yaml);

	sc = config_find_service(cfg, "agent");
	ck_assert_ptr_eq(sc->listen_ops, transport_find("tls-stream"));
	ck_assert_int_eq(sc->has_forward, 0);
	ck_assert_ptr_null(sc->forward_ops);
	snprintf(want, sizeof(want), "%s/server.crt", dir);
	ck_assert_str_eq(sc->tls.cert, want);
	ck_assert_int_eq(sc->tls.client_auth, TLS_AUTH_REQUIRED);
	ck_assert_str_eq(sc->tls.verify_name, "godoxy.agent");
	ck_assert_int_eq(sc->tls.min_version, TLS_V12);
	ck_assert_uint_eq(sc->header_timeout, 10000);
	ck_assert_uint_eq(sc->handshake_timeout, 10000);
	ck_assert_uint_eq(sc->connect_timeout, 10000);
	ck_assert_uint_eq(sc->idle_timeout, 0);	/* the transport's */
	ck_assert_int_eq(sc->has_allow, 0);	/* everything, with a warning */
	ck_assert_uint_eq(sc->nallow, 0);
	ck_assert_int_eq(sc->has_fallback, 0);
	ck_assert_int_eq(sc->has_destination, 0);
	ck_assert_ptr_nonnull(sc->tls_ctx);

	sc = config_find_service(cfg, "client");
	ck_assert_ptr_eq(sc->listen_ops, transport_find("tcp"));
	ck_assert_ptr_eq(sc->forward_ops, transport_find("tls-stream"));
	ck_assert_str_eq(sc->forward.host, "agent.example");
	ck_assert_uint_eq(sc->forward.port, 8890);
	ck_assert_int_eq(sc->has_destination, 1);
	ck_assert_str_eq(sc->destination.host, "127.0.0.1");
	ck_assert_uint_eq(sc->destination.port, 22);
	ck_assert_str_eq(sc->tls.verify_name, "godoxy.agent");
	ck_assert_int_eq(sc->tls.min_version, TLS_V12);
	ck_assert_ptr_nonnull(sc->tls_ctx);

	sc = config_find_service(cfg, "plain");
	ck_assert_ptr_null(sc->tls_ctx);	/* no TLS on either side */
	ck_assert_ptr_null(sc->tls.cert);
	ck_assert_uint_eq(sc->header_timeout, 10000);
	ck_assert_uint_eq(sc->handshake_timeout, 10000);
	config_unref(cfg);
	certdir_free(dir);
}
END_TEST

/* Each tls key a service leaves out comes from the global tls. */
START_TEST(test_config_tls_inherit)
{
	struct config		*cfg;
	struct service_conf	*sc;
	char			 dir[64], crt[PATH_MAX], key[PATH_MAX];
	char			 ca[PATH_MAX], ccrt[PATH_MAX], ckey[PATH_MAX];
	char			*yaml;

	certdir_new(dir, sizeof(dir));
	snprintf(crt, sizeof(crt), "%s/server.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(ccrt, sizeof(ccrt), "%s/client.crt", dir);
	snprintf(ckey, sizeof(ckey), "%s/client.key", dir);
	yaml = subst_dir(
	    "tls:\n"
	    "  cert: \"@D@/server.crt\"\n"
	    "  key: \"@D@/server.key\"\n"
	    "  ca: \"@D@/ca.crt\"\n"
	    "  client_auth: optional\n"
	    "  verify_name: agent.example\n"
	    "  min_version: 1.3\n"
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:8890\n"
	    "  - name: strict\n"
	    "    listen: tls-stream://127.0.0.1:8891\n"
	    "    tls: {client_auth: required, min_version: 1.2}\n"
	    "  - name: open\n"
	    "    listen: tls-stream://127.0.0.1:8892\n"
	    "    tls: {client_auth: none}\n"
	    "  - name: client\n"
	    "    listen: tcp://127.0.0.1:2222\n"
	    "    forward: tls-stream://127.0.0.1:8890\n"
	    "    destination: 127.0.0.1:22\n"
	    "    tls:\n"
	    "      cert: \"@D@/client.crt\"\n"
	    "      key: \"@D@/client.key\"\n"
	    "      verify_name: godoxy.agent\n", dir);
	cfg = load_good(yaml);
	free(yaml);

	/* The global values stay as written. */
	ck_assert_str_eq(cfg->tls.cert, crt);
	ck_assert_int_eq(cfg->tls.client_auth, TLS_AUTH_OPTIONAL);
	ck_assert_int_eq(cfg->tls.min_version, TLS_V13);

	sc = config_find_service(cfg, "agent");
	ck_assert_str_eq(sc->tls.cert, crt);
	ck_assert_str_eq(sc->tls.key, key);
	ck_assert_str_eq(sc->tls.ca, ca);
	ck_assert_int_eq(sc->tls.client_auth, TLS_AUTH_OPTIONAL);
	ck_assert_str_eq(sc->tls.verify_name, "agent.example");
	ck_assert_int_eq(sc->tls.min_version, TLS_V13);
	ck_assert_ptr_nonnull(sc->tls_ctx);

	sc = config_find_service(cfg, "strict");
	ck_assert_str_eq(sc->tls.cert, crt);
	ck_assert_int_eq(sc->tls.client_auth, TLS_AUTH_REQUIRED);
	ck_assert_int_eq(sc->tls.min_version, TLS_V12);

	sc = config_find_service(cfg, "open");
	ck_assert_int_eq(sc->tls.client_auth, TLS_AUTH_NONE);
	ck_assert_int_eq(sc->tls.min_version, TLS_V13);

	sc = config_find_service(cfg, "client");
	ck_assert_str_eq(sc->tls.cert, ccrt);
	ck_assert_str_eq(sc->tls.key, ckey);
	ck_assert_str_eq(sc->tls.ca, ca);
	ck_assert_str_eq(sc->tls.verify_name, "godoxy.agent");
	ck_assert_int_eq(sc->tls.min_version, TLS_V13);
	ck_assert_ptr_nonnull(sc->tls_ctx);

	/* A different tls setting makes a different service. */
	ck_assert(!service_conf_equal(config_find_service(cfg, "agent"),
	    config_find_service(cfg, "strict")));
	config_unref(cfg);
	certdir_free(dir);
}
END_TEST

/*
 * Relative file names, in the global tls and a service's, are relative to
 * the directory of the file that names them, not to the working
 * directory.  A missing one is reported by its full name.
 */
static const struct err_case relative_cases[] = {
	{ "@D@/bad.yml", NULL, 2, 5, "services[0].tls",
	    "cannot load certificate @D@/missing.crt" },
	{ "@D@/bad.yml", NULL, 5, 5, "services[1].tls",
	    "cannot load certificate /nonexistent/server.crt" }
};

START_TEST(test_config_tls_relative)
{
	struct config		*cfg;
	struct config_errs	 errs;
	struct service_conf	*sc;
	char			 dir[64], path[PATH_MAX], want[PATH_MAX];

	certdir_new(dir, sizeof(dir));
	write_file(dir, "flowgate.yml",
	    "tls:\n"
	    "  ca: ca.crt\n"
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:8890\n"
	    "    tls: {cert: server.crt, key: ./server.key}\n"
	    "  - name: client\n"
	    "    listen: tcp://127.0.0.1:2222\n"
	    "    forward: tls-stream://127.0.0.1:8890\n"
	    "    destination: 127.0.0.1:22\n"
	    "    tls: {cert: client.crt, key: client.key}\n");
	write_file(dir, "bad.yml",
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:8890\n"
	    "    tls: {cert: missing.crt, key: server.key, client_auth: none}\n"
	    "  - name: abs\n"
	    "    listen: tls-stream://127.0.0.1:8891\n"
	    "    tls: {cert: /nonexistent/server.crt, key: server.key, "
	    "client_auth: none}\n");
	ck_assert_int_eq(chdir("/"), 0);	/* not where the files are */

	snprintf(path, sizeof(path), "%s/flowgate.yml", dir);
	cfg = config_load(path, &errs);
	if (cfg == NULL)
		ck_abort_msg("%s", TAILQ_FIRST(&errs)->msg);
	ck_assert_str_eq(cfg->path, path);
	sc = config_find_service(cfg, "agent");
	snprintf(want, sizeof(want), "%s/server.crt", dir);
	ck_assert_str_eq(sc->tls.cert, want);
	snprintf(want, sizeof(want), "%s/./server.key", dir);
	ck_assert_str_eq(sc->tls.key, want);
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	ck_assert_str_eq(sc->tls.ca, want);
	ck_assert_ptr_nonnull(sc->tls_ctx);
	sc = config_find_service(cfg, "client");
	snprintf(want, sizeof(want), "%s/client.key", dir);
	ck_assert_str_eq(sc->tls.key, want);
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	ck_assert_str_eq(sc->tls.ca, want);
	ck_assert_ptr_nonnull(sc->tls_ctx);
	config_unref(cfg);

	expect_errors_dir(relative_cases, NITEMS(relative_cases), dir);
	certdir_free(dir);
}
END_TEST

/* Every form allow, fallback, destination and the timeouts accept. */
START_TEST(test_config_tunnel_keys)
{
	struct config		*cfg;
	struct service_conf	*sc;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 dir[64];
	char			*yaml;

	certdir_new(dir, sizeof(dir));
	yaml = subst_dir(
	    "tls:\n"
	    "  cert: \"@D@/server.crt\"\n"
	    "  key: \"@D@/server.key\"\n"
	    "  ca: \"@D@/ca.crt\"\n"
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://0.0.0.0:8890\n"
	    "    allow: [10.0.0.0/8:1-65535, 127.0.0.1:8080, '[::1]:22',\n"
	    "        '2001:db8::/32', 0.0.0.0/0:53]\n"
	    "    fallback: tcp://127.0.0.1:8081\n"
	    "    header_timeout: 100ms\n"
	    "    handshake_timeout: 5m\n"
	    "  - name: closed\n"
	    "    listen: tls-stream://0.0.0.0:8891\n"
	    "    allow: []\n"
	    "    header_timeout: 5m\n"
	    "    handshake_timeout: 100ms\n"
	    "  - name: v6\n"
	    "    listen: tcp://127.0.0.1:2222\n"
	    "    forward: tls-stream://[::1]:8890\n"
	    "    destination: '[::1]:22'\n"
	    "    tls: {cert: \"@D@/client.crt\", key: \"@D@/client.key\"}\n"
	    "  - name: byname\n"
	    "    listen: tcp://127.0.0.1:2223\n"
	    "    forward: tls-stream://agent.example:8890\n"
	    "    destination: db.internal:5432\n", dir);
	cfg = load_good(yaml);
	free(yaml);

	sc = config_find_service(cfg, "agent");
	ck_assert_int_eq(sc->has_allow, 1);
	ck_assert_uint_eq(sc->nallow, 5);
	ck_assert_int_eq(sc->allow[0].addr.ss_family, AF_INET);
	ck_assert_int_eq(sc->allow[0].prefix, 8);
	ck_assert_uint_eq(sc->allow[0].port_lo, 1);
	ck_assert_uint_eq(sc->allow[0].port_hi, 65535);
	ck_assert_int_eq(sc->allow[1].prefix, 32);
	ck_assert_uint_eq(sc->allow[1].port_lo, 8080);
	ck_assert_uint_eq(sc->allow[1].port_hi, 8080);
	ck_assert_int_eq(sc->allow[2].addr.ss_family, AF_INET6);
	ck_assert_int_eq(sc->allow[2].prefix, 128);
	ck_assert_uint_eq(sc->allow[2].port_lo, 22);
	ck_assert_int_eq(sc->allow[3].prefix, 32);
	ck_assert_uint_eq(sc->allow[3].port_lo, 0);	/* any port */
	ck_assert_uint_eq(sc->allow[3].port_hi, 0);
	ck_assert_int_eq(sc->allow[4].prefix, 0);
	ck_assert_int_eq(sc->has_fallback, 1);
	ck_assert_str_eq(sc->fallback.scheme, "tcp");
	ck_assert_str_eq(sc->fallback.host, "127.0.0.1");
	ck_assert_uint_eq(sc->fallback.port, 8081);
	ck_assert_uint_eq(sc->header_timeout, 100);
	ck_assert_uint_eq(sc->handshake_timeout, 5 * 60 * 1000);
	ck_assert_ptr_nonnull(sc->tls_ctx);

	/* The list is checked against resolved addresses. */
	ck_assert_int_eq(addr_parse_numeric("10.1.2.3", 443, &ss, &len), 0);
	ck_assert(service_allows(sc, (struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse_numeric("192.0.2.1", 53, &ss, &len), 0);
	ck_assert(service_allows(sc, (struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse_numeric("192.0.2.1", 80, &ss, &len), 0);
	ck_assert(!service_allows(sc, (struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse_numeric("::1", 23, &ss, &len), 0);
	ck_assert(!service_allows(sc, (struct sockaddr *)&ss));

	/* An empty list allows nothing; no list allows everything. */
	sc = config_find_service(cfg, "closed");
	ck_assert_int_eq(sc->has_allow, 1);
	ck_assert_uint_eq(sc->nallow, 0);
	ck_assert_int_eq(sc->has_fallback, 0);
	ck_assert_uint_eq(sc->header_timeout, 5 * 60 * 1000);
	ck_assert_uint_eq(sc->handshake_timeout, 100);
	ck_assert_int_eq(addr_parse_numeric("10.1.2.3", 443, &ss, &len), 0);
	ck_assert(!service_allows(sc, (struct sockaddr *)&ss));
	sc = config_find_service(cfg, "v6");
	ck_assert_int_eq(sc->has_allow, 0);
	ck_assert(service_allows(sc, (struct sockaddr *)&ss));

	ck_assert_str_eq(sc->forward.host, "::1");
	ck_assert_str_eq(sc->destination.host, "::1");
	ck_assert_uint_eq(sc->destination.port, 22);
	sc = config_find_service(cfg, "byname");
	ck_assert_str_eq(sc->destination.host, "db.internal");
	ck_assert_uint_eq(sc->destination.port, 5432);
	config_unref(cfg);
	certdir_free(dir);
}
END_TEST

/*
 * dtls in both roles: a GoDoxy agent's UDP side on the same port number as
 * its tls-stream side, one without client certificates or allow list, and
 * a client into it.  Each gets a DTLS context of its role; max_datagram
 * and max_per_source keep their defaults unless given.
 */
START_TEST(test_config_dtls_good)
{
	struct config		*cfg;
	struct service_conf	*sc;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	char			 dir[64], want[PATH_MAX];
	char			*yaml;

	certdir_new(dir, sizeof(dir));
	yaml = subst_dir(
	    "tls:\n"
	    "  ca: \"@D@/ca.crt\"\n"
	    "  min_version: 1.3\n"
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://0.0.0.0:8890\n"
	    "    allow: [127.0.0.1:53]\n"
	    "    tls: {cert: \"@D@/server.crt\", key: \"@D@/server.key\"}\n"
	    "  - name: agent-udp\n"
	    "    listen: dtls://0.0.0.0:8890\n"
	    "    allow: [127.0.0.1:53, 10.0.0.0/8]\n"
	    "    idle_timeout: 30s\n"
	    "    handshake_timeout: 2s\n"
	    "    header_timeout: 3s\n"
	    "    max_per_source: 64\n"
	    "    tls: {cert: \"@D@/server.crt\", key: \"@D@/server.key\"}\n"
	    "  - name: open\n"
	    "    listen: dtls://[::1]:0\n"
	    "    tls:\n"
	    "      cert: \"@D@/server.crt\"\n"
	    "      key: \"@D@/server.key\"\n"
	    "      client_auth: none\n"
	    "  - name: to-agent-udp\n"
	    "    listen: udp://127.0.0.1:5354\n"
	    "    forward: DTLS://agent.example:8890\n"
	    "    destination: 127.0.0.1:53\n"
	    "    max_datagram: 16KiB\n"
	    "    tls: {cert: \"@D@/client.crt\", key: \"@D@/client.key\"}\n"
	    "  - name: anon\n"
	    "    listen: udp://127.0.0.1:5355\n"
	    "    forward: dtls://127.0.0.1:8890\n"
	    "    destination: '[::1]:53'\n", dir);
	cfg = load_good(yaml);
	free(yaml);

	sc = config_find_service(cfg, "agent-udp");
	ck_assert_ptr_eq(sc->listen_ops, transport_find("dtls"));
	ck_assert_ptr_null(sc->forward_ops);
	ck_assert_int_eq(sc->has_forward, 0);
	ck_assert_str_eq(sc->listen.host, "0.0.0.0");
	ck_assert_uint_eq(sc->listen.port, 8890);
	ck_assert_uint_eq(sc->idle_timeout, 30000);
	ck_assert_uint_eq(sc->handshake_timeout, 2000);
	ck_assert_uint_eq(sc->header_timeout, 3000);
	ck_assert_uint_eq(sc->max_per_source, 64);
	ck_assert_uint_eq(sc->max_datagram, 8155);
	snprintf(want, sizeof(want), "%s/ca.crt", dir);
	ck_assert_str_eq(sc->tls.ca, want);
	ck_assert_int_eq(sc->tls.client_auth, TLS_AUTH_REQUIRED);
	/* Inherited, and ignored: dtls is DTLS 1.2 whatever it says. */
	ck_assert_int_eq(sc->tls.min_version, TLS_V13);
	ck_assert_ptr_nonnull(sc->tls_ctx);
	ck_assert_ptr_eq(SSL_CTX_get_ssl_method(sc->tls_ctx),
	    DTLS_server_method());
	ck_assert_int_eq(sc->has_allow, 1);
	ck_assert_uint_eq(sc->nallow, 2);
	ck_assert_int_eq(addr_parse_numeric("127.0.0.1", 53, &ss, &len), 0);
	ck_assert(service_allows(sc, (struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse_numeric("127.0.0.1", 54, &ss, &len), 0);
	ck_assert(!service_allows(sc, (struct sockaddr *)&ss));
	ck_assert_int_eq(addr_parse_numeric("10.9.8.7", 4242, &ss, &len), 0);
	ck_assert(service_allows(sc, (struct sockaddr *)&ss));

	/* The TCP side on the same port number is a service of its own. */
	sc = config_find_service(cfg, "agent");
	ck_assert_ptr_eq(SSL_CTX_get_ssl_method(sc->tls_ctx),
	    TLS_server_method());
	ck_assert(!service_conf_equal(sc,
	    config_find_service(cfg, "agent-udp")));

	sc = config_find_service(cfg, "open");
	ck_assert_str_eq(sc->listen.host, "::1");
	ck_assert_uint_eq(sc->listen.port, 0);
	ck_assert_int_eq(sc->tls.client_auth, TLS_AUTH_NONE);
	ck_assert_int_eq(sc->has_allow, 0);
	ck_assert_uint_eq(sc->max_per_source, 0);
	ck_assert_uint_eq(sc->handshake_timeout, 10000);
	ck_assert_uint_eq(sc->header_timeout, 10000);
	ck_assert_ptr_nonnull(sc->tls_ctx);

	sc = config_find_service(cfg, "to-agent-udp");
	ck_assert_ptr_eq(sc->listen_ops, transport_find("udp"));
	ck_assert_ptr_eq(sc->forward_ops, transport_find("dtls"));
	ck_assert_str_eq(sc->forward.scheme, "dtls");
	ck_assert_str_eq(sc->forward.host, "agent.example");
	ck_assert_uint_eq(sc->forward.port, 8890);
	ck_assert_int_eq(sc->has_destination, 1);
	ck_assert_str_eq(sc->destination.host, "127.0.0.1");
	ck_assert_uint_eq(sc->destination.port, 53);
	ck_assert_uint_eq(sc->max_datagram, 16384);
	ck_assert_uint_eq(sc->max_per_source, 0);
	ck_assert_str_eq(sc->tls.verify_name, "godoxy.agent");
	snprintf(want, sizeof(want), "%s/client.crt", dir);
	ck_assert_str_eq(sc->tls.cert, want);
	ck_assert_ptr_nonnull(sc->tls_ctx);
	ck_assert_ptr_eq(SSL_CTX_get_ssl_method(sc->tls_ctx),
	    DTLS_client_method());

	/* A client without a certificate of its own: the CA is enough. */
	sc = config_find_service(cfg, "anon");
	ck_assert_ptr_null(sc->tls.cert);
	ck_assert_str_eq(sc->destination.host, "::1");
	ck_assert_uint_eq(sc->max_datagram, 8155);
	ck_assert_ptr_nonnull(sc->tls_ctx);
	ck_assert_ptr_eq(SSL_CTX_get_ssl_method(sc->tls_ctx),
	    DTLS_client_method());
	config_unref(cfg);
	certdir_free(dir);
}
END_TEST

/*
 * Syntax, empty and top-level errors: the message names no key.
 */

static const struct err_case syntax_cases[] = {
	{ "bad-syntax.yml", NULL, 4, 30, NULL,
	    "mapping values are not allowed" },
	{ NULL, "services: [a\n", 2, 1, NULL,
	    "did not find expected ',' or ']' "
	    "(while parsing a flow sequence at 1:11)" },
	{ NULL, "workers: 1\n\tservices: []\n", 2, 1, NULL,
	    "found a tab character that violates indentation" },
	{ NULL, "services: \"a\n", 2, 1, NULL,
	    "found unexpected end of stream" },
	{ NULL, "workers: *nope\n", 1, 10, NULL,
	    "found undefined alias" },
	{ NULL, "workers: 1\nservices: \xff\n", 2, 11, NULL,
	    "invalid" }
};

START_TEST(test_config_syntax)
{
	expect_errors(syntax_cases, NITEMS(syntax_cases));
}
END_TEST

static const struct err_case empty_cases[] = {
	{ "bad-empty.yml", NULL, 1, 1, NULL, "empty configuration" },
	{ NULL, "", 1, 1, NULL, "empty configuration" },
	{ NULL, "---\n", 1, 1, NULL, "empty configuration" },
	{ NULL, "\n\n# nothing\n", 1, 1, NULL, "empty configuration" }
};

START_TEST(test_config_empty)
{
	expect_errors(empty_cases, NITEMS(empty_cases));
}
END_TEST

static const struct err_case top_level_cases[] = {
	{ "bad-top-level.yml", NULL, 2, 1, NULL,
	    "expected a mapping at the top level, found a sequence" },
	{ NULL, "just words\n", 1, 1, NULL,
	    "expected a mapping at the top level, found a scalar" },
	{ NULL, "# hello\n\n  [1, 2]\n", 3, 3, NULL,
	    "found a sequence" }
};

START_TEST(test_config_top_level)
{
	expect_errors(top_level_cases, NITEMS(top_level_cases));
}
END_TEST

static const struct err_case multi_doc_cases[] = {
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "---\n"
	    "workers: 2\n", 6, 1, NULL, "more than one YAML document" }
};

START_TEST(test_config_multi_doc)
{
	expect_errors(multi_doc_cases, NITEMS(multi_doc_cases));
}
END_TEST

START_TEST(test_config_missing_file)
{
	static const struct err_case c = {
		"no-such-file.yml", NULL, 0, 0, NULL,
		"cannot open: No such file or directory"
	};

	expect_error(&c);
}
END_TEST

/*
 * Keys: unknown, repeated, of the wrong node type.
 */

static const struct err_case unknown_key_cases[] = {
	{ "bad-unknown-key.yml", NULL, 6, 5, "services[0].idle_timout",
	    "unknown key" },
	{ NULL, "colour: blue\n", 1, 1, "colour", "unknown key" },
	{ NULL, "log: {level: info, colour: red}\n", 1, 20, "log.colour",
	    "unknown key" },
	{ NULL, "\"a\\tb\": 1\n", 1, 1, "a?b", "unknown key" },
	{ NULL, "? [a, b]\n: 1\n", 1, 3, NULL, "key must be a scalar" }
};

START_TEST(test_config_unknown_key)
{
	expect_errors(unknown_key_cases, NITEMS(unknown_key_cases));
}
END_TEST

static const struct err_case duplicate_key_cases[] = {
	{ "bad-duplicate-key.yml", NULL, 7, 5, "services[0].listen",
	    "duplicate key, first at 5:5" },
	{ "bad-duplicate-key.yml", NULL, 8, 1, "workers",
	    "duplicate key, first at 2:1" },
	{ NULL, "log:\n  level: info\n  level: debug\n", 3, 3, "log.level",
	    "duplicate key, first at 2:3" },
	{ NULL, "log: {}\nlog: {}\n", 2, 1, "log",
	    "duplicate key, first at 1:1" },
	{ NULL, "services: []\nservices: []\n", 2, 1, "services",
	    "duplicate key, first at 1:1" }
};

START_TEST(test_config_duplicate_key)
{
	expect_errors(duplicate_key_cases, NITEMS(duplicate_key_cases));
}
END_TEST

static const struct err_case wrong_type_cases[] = {
	{ "bad-wrong-type.yml", NULL, 2, 14, "log.level",
	    "expected a scalar, found a sequence" },
	{ "bad-wrong-type.yml", NULL, 3, 11, "services",
	    "expected a sequence, found a scalar" },
	{ NULL, "log: info\n", 1, 6, "log",
	    "expected a mapping, found a scalar" },
	{ NULL, "log:\nservices: []\n", 1, 5, "log",
	    "expected a mapping, found an empty value" },
	{ NULL, "workers: {a: 1}\n", 1, 10, "workers",
	    "expected a scalar, found a mapping" },
	{ NULL, "services: {name: a}\n", 1, 11, "services",
	    "expected a sequence, found a mapping" },
	{ NULL, "services:\n  - udp://127.0.0.1:1\n", 2, 5, "services[0]",
	    "expected a mapping, found a scalar" },
	{ NULL, "services:\n  - [a]\n", 2, 5, "services[0]",
	    "expected a mapping, found a sequence" },
	{ NULL, "services:\n"
	    "  - name: [a]\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 2, 11, "services[0].name",
	    "expected a scalar, found a sequence" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen:\n"
	    "      url: udp://127.0.0.1:1\n", 4, 7, "services[0].listen",
	    "expected a scalar, found a mapping" },
	{ NULL, "workers:\nservices: []\n", 1, 9, "workers",
	    "missing value" },
	{ NULL, "workers: \"1\\0\"\n", 1, 10, "workers",
	    "NUL byte" }
};

START_TEST(test_config_wrong_type)
{
	expect_errors(wrong_type_cases, NITEMS(wrong_type_cases));
}
END_TEST

/*
 * Values: numbers, durations, sizes, booleans, words, URLs, names.
 */

static const struct err_case number_cases[] = {
	{ "bad-range.yml", NULL, 2, 10, "workers",
	    "out of range, expected 0 to 256" },
	{ NULL, "workers: many\n", 1, 10, "workers", "invalid number" },
	{ NULL, "workers: -1\n", 1, 10, "workers", "invalid number" },
	{ NULL, "workers: 1.5\n", 1, 10, "workers", "invalid number" },
	{ NULL, "workers: 99999999999999999999999\n", 1, 10, "workers",
	    "out of range" },
	{ NULL, "max_flows: 0\n", 1, 12, "max_flows",
	    "out of range, expected 1 to 10000000" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    max_flows: 10000001\n", 5, 16, "services[0].max_flows",
	    "out of range" }
};

START_TEST(test_config_number)
{
	expect_errors(number_cases, NITEMS(number_cases));
}
END_TEST

static const struct err_case duration_cases[] = {
	{ "bad-range.yml", NULL, 7, 19, "services[0].idle_timeout",
	    "out of range, expected 1s to 7d" },
	{ NULL, "drain_timeout: 2h\n", 1, 16, "drain_timeout",
	    "out of range, expected 0s to 1h" },
	{ NULL, "drain_timeout: soon\n", 1, 16, "drain_timeout",
	    "missing number" },
	{ NULL, "drain_timeout: 5x\n", 1, 16, "drain_timeout",
	    "unknown unit" },
	{ NULL, "drain_timeout: -5s\n", 1, 16, "drain_timeout",
	    "negative duration" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    connect_timeout: 50ms\n", 5, 22,
	    "services[0].connect_timeout", "expected 100ms to 5m" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    idle_timeout: 500ms\n", 5, 19,
	    "services[0].idle_timeout", "out of range" }
};

START_TEST(test_config_duration)
{
	expect_errors(duration_cases, NITEMS(duration_cases));
}
END_TEST

static const struct err_case size_cases[] = {
	{ "bad-range.yml", NULL, 8, 13, "services[0].buffer",
	    "out of range, expected 4KiB to 64MiB" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    buffer: 65MiB\n", 5, 13, "services[0].buffer",
	    "out of range" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    buffer: lots\n", 5, 13, "services[0].buffer",
	    "missing number" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    buffer: 64QB\n", 5, 13, "services[0].buffer",
	    "unknown unit" }
};

START_TEST(test_config_size)
{
	expect_errors(size_cases, NITEMS(size_cases));
}
END_TEST

static const struct err_case choice_cases[] = {
	{ NULL, "log: {syslog: maybe}\n", 1, 15, "log.syslog",
	    "invalid boolean" },
	{ NULL, "log: {level: loud}\n", 1, 14, "log.level",
	    "expected error, warn, info or debug" },
	{ NULL, "log:\n  format: xml\n", 2, 11, "log.format",
	    "expected text or json" }
};

START_TEST(test_config_choice)
{
	expect_errors(choice_cases, NITEMS(choice_cases));
}
END_TEST

static const struct err_case url_cases[] = {
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp//127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 3, 13, "services[0].listen",
	    "missing \"://\"" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:99999\n", 4, 14,
	    "services[0].forward", "port out of range" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://::1:53\n"
	    "    forward: udp://127.0.0.1:2\n", 3, 13, "services[0].listen",
	    "IPv6 address must be in brackets" }
};

START_TEST(test_config_url)
{
	expect_errors(url_cases, NITEMS(url_cases));
}
END_TEST

static const struct err_case name_cases[] = {
	{ NULL, "services:\n"
	    "  - name: \"b c\"\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 2, 11, "services[0].name",
	    "invalid name" },
	{ NULL, "services:\n"
	    "  - name: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789_.-\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 2, 11, "services[0].name",
	    "invalid name" },
	{ NULL, "services:\n"
	    "  - name: caf\xc3\xa9\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 2, 11, "services[0].name",
	    "invalid name" },
	{ NULL, "services:\n"
	    "  - name: ''\n"
	    "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 2, 11, "services[0].name",
	    "missing value" }
};

START_TEST(test_config_bad_name)
{
	expect_errors(name_cases, NITEMS(name_cases));
}
END_TEST

/*
 * Services: required keys, transports and the rules between keys.
 */

static const struct err_case missing_cases[] = {
	{ "bad-missing.yml", NULL, 3, 5, "services[0]",
	    "missing required key \"listen\"" },
	{ NULL, "services:\n"
	    "  - listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 2, 5, "services[0]",
	    "missing required key \"name\"" },
	{ NULL, "workers: 1\n", 1, 1, NULL,
	    "missing required key \"services\"" },
	{ NULL, "{}\n", 1, 1, NULL, "missing required key \"services\"" }
};

START_TEST(test_config_missing_required)
{
	expect_errors(missing_cases, NITEMS(missing_cases));
}
END_TEST

static const struct err_case empty_services_cases[] = {
	{ NULL, "services: []\n", 1, 11, "services",
	    "at least one service is required" },
	{ NULL, "workers: 1\nservices:\n", 2, 10, "services",
	    "expected a sequence, found an empty value" }
};

START_TEST(test_config_empty_services)
{
	expect_errors(empty_services_cases, NITEMS(empty_services_cases));
}
END_TEST

static const struct err_case scheme_cases[] = {
	{ "bad-scheme.yml", NULL, 4, 13, "services[0].listen",
	    "unknown transport scheme \"foo\"" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: tcp://127.0.0.1:1\n"
	    "    forward: HTTP://127.0.0.1:2\n", 4, 14, "services[0].forward",
	    "unknown transport scheme \"http\"" }
};

START_TEST(test_config_scheme)
{
	expect_errors(scheme_cases, NITEMS(scheme_cases));
}
END_TEST

/* Every registered transport that cannot listen is refused as listen. */
START_TEST(test_config_cannot_listen)
{
	struct err_case	 c;
	char		 yaml[256], text[64];
	size_t		 i, tested = 0;

	for (i = 0; transports[i] != NULL; i++) {
		if (transports[i]->flags & TR_LISTEN)
			continue;
		snprintf(yaml, sizeof(yaml), "services:\n"
		    "  - name: a\n"
		    "    listen: %s://127.0.0.1:1\n"
		    "    forward: udp://127.0.0.1:2\n", transports[i]->name);
		snprintf(text, sizeof(text), "transport \"%s\" cannot listen",
		    transports[i]->name);
		c = (struct err_case){ NULL, yaml, 3, 13, "services[0].listen",
		    text };
		expect_error(&c);
		tested++;
	}
	ck_assert_uint_ge(tested, 1);	/* echo */
}
END_TEST

/*
 * Every registered transport that cannot forward is refused as forward.
 * Today every transport can, so this guards the ones to come.
 */
static const struct err_case need_forward_cases[] = {
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1:1\n", 2, 5, "services[0]",
	    "missing required key \"forward\" (a udp listen needs one)" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tcp://127.0.0.1:2\n"
	    "  - listen: tcp://127.0.0.1:3\n"
	    "    name: b\n", 5, 5, "services[1]",
	    "missing required key \"forward\"" }
};

START_TEST(test_config_need_forward)
{
	expect_errors(need_forward_cases, NITEMS(need_forward_cases));
}
END_TEST

static const struct err_case need_port_cases[] = {
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://127.0.0.1\n"
	    "    forward: udp://127.0.0.1:2\n", 3, 13, "services[0].listen",
	    "a udp URL needs a port" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tcp://10.0.0.1/x\n", 4, 14, "services[0].forward",
	    "a tcp URL needs a port" }
};

START_TEST(test_config_need_port)
{
	expect_errors(need_port_cases, NITEMS(need_port_cases));
}
END_TEST

static const struct err_case need_host_cases[] = {
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: udp://:1\n"
	    "    forward: udp://:53\n", 4, 14, "services[0].forward",
	    "a udp forward URL needs a host" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: tcp://:1\n"
	    "    forward: tcp://:22\n", 4, 14, "services[0].forward",
	    "needs a host" }
};

START_TEST(test_config_need_host)
{
	expect_errors(need_host_cases, NITEMS(need_host_cases));
}
END_TEST

static const struct err_case flow_kind_cases[] = {
	{ "bad-flow-kind.yml", NULL, 5, 14, "services[0].forward",
	    "udp listen cannot feed tcp forward" },
	{ NULL, "services:\n"
	    "  - name: a\n"
	    "    listen: tcp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n", 4, 14, "services[0].forward",
	    "tcp listen cannot feed udp forward" }
};

START_TEST(test_config_flow_kind)
{
	expect_errors(flow_kind_cases, NITEMS(flow_kind_cases));
}
END_TEST

static const struct err_case duplicate_name_cases[] = {
	{ "bad-duplicate-name.yml", NULL, 6, 11, "services[1].name",
	    "duplicate service name \"a\", first at 3:5" },
	{ NULL, "services:\n"
	    "  - {name: x, listen: 'udp://127.0.0.1:1', "
	    "forward: 'udp://127.0.0.1:2'}\n"
	    "  - {name: y, listen: 'udp://127.0.0.1:3', "
	    "forward: 'udp://127.0.0.1:4'}\n"
	    "  - {name: y, listen: 'udp://127.0.0.1:5', "
	    "forward: 'udp://127.0.0.1:6'}\n", 4, 12, "services[2].name",
	    "duplicate service name \"y\", first at 3:5" }
};

START_TEST(test_config_duplicate_name)
{
	expect_errors(duplicate_name_cases, NITEMS(duplicate_name_cases));
}
END_TEST

/*
 * The transports' own check hooks run on services that passed everything
 * else.  The test assumes a udp or tcp hook refuses a URL path; with no
 * hook registered it only checks that such a service loads.
 */
START_TEST(test_config_check_hook)
{
	static const char *const schemes[] = { "udp", "tcp" };
	const struct transport_ops	*ops;
	struct err_case			 c;
	char				 yaml[256];
	size_t				 i;

	for (i = 0; i < NITEMS(schemes); i++) {
		ops = transport_find(schemes[i]);
		ck_assert_ptr_nonnull(ops);
		ck_assert_ptr_nonnull(ops->check);
		snprintf(yaml, sizeof(yaml), "services:\n"
		    "  - name: a\n"
		    "    listen: %s://127.0.0.1:1/path\n"
		    "    forward: %s://127.0.0.1:2\n", ops->name, ops->name);
		c = (struct err_case){ NULL, yaml, 3, 13,
		    "services[0].listen", "URL takes no path" };
		expect_error(&c);

		snprintf(yaml, sizeof(yaml), "services:\n"
		    "  - name: a\n"
		    "    listen: %s://127.0.0.1:1\n"
		    "    forward: %s://127.0.0.1:2/path\n", ops->name,
		    ops->name);
		c = (struct err_case){ NULL, yaml, 4, 14,
		    "services[0].forward", "URL takes no path" };
		expect_error(&c);

		snprintf(yaml, sizeof(yaml), "services:\n"
		    "  - name: a\n"
		    "    listen: %s://127.0.0.1:1\n"
		    "    forward: %s://127.0.0.1:0\n", ops->name,
		    ops->name);
		c = (struct err_case){ NULL, yaml, 4, 14,
		    "services[0].forward", "cannot forward to port 0" };
		expect_error(&c);
	}
}
END_TEST

/*
 * TLS and tunnel keys: every new key with a bad value.  The snippets
 * share their first lines; the comments say which lines they fill.
 */
#define Y_SVC	"services:\n  - name: a\n"		/* lines 1-2 */
#define Y_TCP	"    listen: tcp://127.0.0.1:1\n"			\
		"    forward: tcp://127.0.0.1:2\n"		/* lines 3-4 */
#define Y_AGENT	"    listen: tls-stream://127.0.0.1:1\n"	/* line 3 */
#define Y_CLIENT "    listen: tcp://127.0.0.1:1\n"			\
		"    forward: tls-stream://127.0.0.1:2\n"	/* lines 3-4 */

static const struct err_case tls_type_cases[] = {
	{ NULL, "tls: x\n" Y_SVC Y_TCP, 1, 6, "tls",
	    "expected a mapping, found a scalar" },
	{ NULL, "tls: [a.crt]\n" Y_SVC Y_TCP, 1, 6, "tls",
	    "expected a mapping, found a sequence" },
	{ NULL, "tls:\n" Y_SVC Y_TCP, 1, 5, "tls",
	    "expected a mapping, found an empty value" },
	{ NULL, "tls: {certificate: a.crt}\n" Y_SVC Y_TCP, 1, 7,
	    "tls.certificate", "unknown key" },
	{ NULL, "tls: {cert: [a]}\n" Y_SVC Y_TCP, 1, 13, "tls.cert",
	    "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_TCP "    tls: on\n", 5, 10, "services[0].tls",
	    "expected a mapping, found a scalar" },
	{ NULL, Y_SVC Y_TCP "    tls: {cert: a.crt, verify: x}\n", 5, 24,
	    "services[0].tls.verify", "unknown key" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      cert: a.crt\n      cert: b.crt\n",
	    7, 7, "services[0].tls.cert", "duplicate key, first at 6:7" },
	{ NULL, Y_SVC Y_TCP "    tls: {key: {a: 1}}\n", 5, 16,
	    "services[0].tls.key", "expected a scalar, found a mapping" },
	{ NULL, Y_SVC Y_TCP "    tls: {ca: [a, b]}\n", 5, 15,
	    "services[0].tls.ca", "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_TCP "    tls: {verify_name: [x]}\n", 5, 24,
	    "services[0].tls.verify_name",
	    "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_TCP "    tls: {client_auth: {a: 1}}\n", 5, 24,
	    "services[0].tls.client_auth",
	    "expected a scalar, found a mapping" },
	{ NULL, Y_SVC Y_TCP "    tls: {min_version: [1.2]}\n", 5, 24,
	    "services[0].tls.min_version",
	    "expected a scalar, found a sequence" }
};

START_TEST(test_config_tls_type)
{
	expect_errors(tls_type_cases, NITEMS(tls_type_cases));
}
END_TEST

static const struct err_case tls_value_cases[] = {
	{ NULL, "tls: {client_auth: maybe}\n" Y_SVC Y_TCP, 1, 20,
	    "tls.client_auth", "expected required, optional or none" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      client_auth: Required\n", 6, 20,
	    "services[0].tls.client_auth",
	    "expected required, optional or none" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      client_auth: true\n", 6, 20,
	    "services[0].tls.client_auth", "expected required" },
	{ NULL, "tls: {min_version: 1.1}\n" Y_SVC Y_TCP, 1, 20,
	    "tls.min_version", "expected 1.2 or 1.3" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      min_version: 1.0\n", 6, 20,
	    "services[0].tls.min_version", "expected 1.2 or 1.3" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      min_version: TLSv1.3\n", 6, 20,
	    "services[0].tls.min_version", "expected 1.2 or 1.3" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      min_version: 1.20\n", 6, 20,
	    "services[0].tls.min_version", "expected 1.2 or 1.3" },
	{ NULL, Y_SVC Y_TCP "    tls:\n      min_version: 1.4\n", 6, 20,
	    "services[0].tls.min_version", "expected 1.2 or 1.3" },
	{ NULL, "tls:\n  cert: \"\"\n" Y_SVC Y_TCP, 2, 9, "tls.cert",
	    "missing value" },
	{ NULL, Y_SVC Y_TCP "    tls: {cert: ''}\n", 5, 17,
	    "services[0].tls.cert", "missing value" },
	{ NULL, Y_SVC Y_TCP "    tls: {key: ''}\n", 5, 16,
	    "services[0].tls.key", "missing value" },
	{ NULL, Y_SVC Y_TCP "    tls: {ca: ''}\n", 5, 15,
	    "services[0].tls.ca", "missing value" },
	{ NULL, Y_SVC Y_TCP "    tls: {verify_name: ''}\n", 5, 24,
	    "services[0].tls.verify_name", "missing value" },
	{ NULL, Y_SVC Y_TCP "    tls: {client_auth: ''}\n", 5, 24,
	    "services[0].tls.client_auth", "missing value" }
};

START_TEST(test_config_tls_value)
{
	expect_errors(tls_value_cases, NITEMS(tls_value_cases));
}
END_TEST

static const struct err_case tunnel_timeout_cases[] = {
	{ NULL, Y_SVC Y_TCP "    header_timeout: 99ms\n", 5, 21,
	    "services[0].header_timeout",
	    "out of range, expected 100ms to 5m" },
	{ NULL, Y_SVC Y_TCP "    header_timeout: 5m1s\n", 5, 21,
	    "services[0].header_timeout", "out of range" },
	{ NULL, Y_SVC Y_TCP "    header_timeout: 0\n", 5, 21,
	    "services[0].header_timeout", "out of range" },
	{ NULL, Y_SVC Y_TCP "    header_timeout: soon\n", 5, 21,
	    "services[0].header_timeout", "missing number" },
	{ NULL, Y_SVC Y_TCP "    header_timeout: [10s]\n", 5, 21,
	    "services[0].header_timeout",
	    "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_TCP "    handshake_timeout: 50ms\n", 5, 24,
	    "services[0].handshake_timeout",
	    "out of range, expected 100ms to 5m" },
	{ NULL, Y_SVC Y_TCP "    handshake_timeout: 6m\n", 5, 24,
	    "services[0].handshake_timeout", "out of range" },
	{ NULL, Y_SVC Y_TCP "    handshake_timeout: 10q\n", 5, 24,
	    "services[0].handshake_timeout", "unknown unit" },
	{ NULL, Y_SVC Y_TCP "    handshake_timeout: -1s\n", 5, 24,
	    "services[0].handshake_timeout", "negative duration" },
	{ NULL, Y_SVC Y_TCP "    handshake_timeout: {a: 1}\n", 5, 24,
	    "services[0].handshake_timeout",
	    "expected a scalar, found a mapping" }
};

START_TEST(test_config_tunnel_timeout)
{
	expect_errors(tunnel_timeout_cases, NITEMS(tunnel_timeout_cases));
}
END_TEST

static const struct err_case allow_cases[] = {
	{ NULL, Y_SVC Y_AGENT "    allow: [10.0.0.0/33]\n", 4, 13,
	    "services[0].allow[0]", "prefix length out of range" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['1.2.3.4:0']\n", 4, 13,
	    "services[0].allow[0]", "port out of range" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['1.2.3.4:9-3']\n", 4, 13,
	    "services[0].allow[0]", "invalid port range" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['1.2.3.4:70000']\n", 4, 13,
	    "services[0].allow[0]", "port out of range" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['1.2.3.4:a']\n", 4, 13,
	    "services[0].allow[0]", "invalid port" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['2001:db8::/129']\n", 4, 13,
	    "services[0].allow[0]", "prefix length out of range" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['[::1']\n", 4, 13,
	    "services[0].allow[0]", "unterminated '['" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['fe80::1%eth0']\n", 4, 13,
	    "services[0].allow[0]", "scope not allowed" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['10.0.0.0/']\n", 4, 13,
	    "services[0].allow[0]", "missing prefix length" },
	{ NULL, Y_SVC Y_AGENT "    allow: [host.example]\n", 4, 13,
	    "services[0].allow[0]", "invalid IPv4 address" },
	{ NULL, Y_SVC Y_AGENT "    allow: ['']\n", 4, 13,
	    "services[0].allow[0]", "missing value" },
	{ NULL, Y_SVC Y_AGENT "    allow: [[10.0.0.0/8]]\n", 4, 13,
	    "services[0].allow[0]", "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_AGENT "    allow: [10.0.0.0/8, 1.2.3.4:0]\n", 4, 25,
	    "services[0].allow[1]", "port out of range" },
	{ NULL, Y_SVC Y_AGENT "    allow:\n"
	    "      - 10.0.0.0/8\n"
	    "      - 10.0.0.0/33\n", 6, 9, "services[0].allow[1]",
	    "prefix length out of range" },
	{ NULL, Y_SVC Y_AGENT "    allow: {10.0.0.0/8: 22}\n", 4, 12,
	    "services[0].allow", "expected a sequence, found a mapping" },
	{ NULL, Y_SVC Y_AGENT "    allow: 10.0.0.0/8\n", 4, 12,
	    "services[0].allow", "expected a sequence, found a scalar" },
	{ NULL, Y_SVC Y_AGENT "    allow:\n", 4, 11,
	    "services[0].allow", "expected a sequence, found an empty value" },
	/* Only a tunnel listener takes destinations from its peers. */
	{ NULL, Y_SVC "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    allow: [10.0.0.0/8]\n", 5, 5, "services[0].allow",
	    "applies only to a tunnel listener (tls-stream, dtls), not udp" },
	{ NULL, Y_SVC Y_TCP "    allow: [10.0.0.0/8]\n", 5, 5,
	    "services[0].allow", "applies only to a tunnel listener" },
	{ NULL, Y_SVC Y_CLIENT "    destination: 127.0.0.1:22\n"
	    "    allow: [10.0.0.0/8]\n", 6, 5, "services[0].allow",
	    "applies only to a tunnel listener (tls-stream, dtls), not tcp" }
};

START_TEST(test_config_allow)
{
	expect_errors(allow_cases, NITEMS(allow_cases));
}
END_TEST

/* The tls-stream check hook reports a bad fallback at the listen URL. */
static const struct err_case fallback_cases[] = {
	{ NULL, Y_SVC Y_AGENT "    fallback: udp://127.0.0.1:8081\n", 3, 13,
	    "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tls-stream://127.0.0.1:8081\n",
	    3, 13, "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: http://127.0.0.1:8081\n", 3, 13,
	    "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tcp://:8081\n", 3, 13,
	    "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tcp://127.0.0.1\n", 3, 13,
	    "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tcp://127.0.0.1:0\n", 3, 13,
	    "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tcp://127.0.0.1:8081/api\n", 3, 13,
	    "services[0].listen", "fallback must be tcp://host:port" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tcp//127.0.0.1:8081\n", 4, 15,
	    "services[0].fallback", "missing \"://\"" },
	{ NULL, Y_SVC Y_AGENT "    fallback: tcp://127.0.0.1:99999\n", 4, 15,
	    "services[0].fallback", "port out of range" },
	{ NULL, Y_SVC Y_AGENT "    fallback: [tcp://127.0.0.1:8081]\n", 4, 15,
	    "services[0].fallback", "expected a scalar, found a sequence" }
};

START_TEST(test_config_fallback)
{
	expect_errors(fallback_cases, NITEMS(fallback_cases));
}
END_TEST

static const struct err_case destination_cases[] = {
	{ NULL, Y_SVC Y_TCP "    destination: 127.0.0.1:22\n", 5, 5,
	    "services[0].destination",
	    "applies only to a tunnel forward (tls-stream, dtls), not tcp" },
	{ NULL, Y_SVC "    listen: udp://127.0.0.1:1\n"
	    "    forward: udp://127.0.0.1:2\n"
	    "    destination: 127.0.0.1:53\n", 5, 5, "services[0].destination",
	    "applies only to a tunnel forward (tls-stream, dtls), not udp" },
	{ NULL, Y_SVC "    listen: tcp://127.0.0.1:1\n"
	    "    forward: echo://\n"
	    "    destination: 127.0.0.1:22\n", 5, 5, "services[0].destination",
	    "not echo" },
	{ NULL, Y_SVC Y_CLIENT "    destination: nohost\n", 5, 18,
	    "services[0].destination",
	    "expected host:port with a port from 1 to 65535" },
	{ NULL, Y_SVC Y_CLIENT "    destination: host:0\n", 5, 18,
	    "services[0].destination", "expected host:port" },
	{ NULL, Y_SVC Y_CLIENT "    destination: '[::1]'\n", 5, 18,
	    "services[0].destination", "expected host:port" },
	{ NULL, Y_SVC Y_CLIENT "    destination: ':22'\n", 5, 18,
	    "services[0].destination", "expected host:port" },
	{ NULL, Y_SVC Y_CLIENT "    destination: host:22/x\n", 5, 18,
	    "services[0].destination", "expected host:port" },
	{ NULL, Y_SVC Y_CLIENT "    destination: host:99999\n", 5, 18,
	    "services[0].destination", "port out of range" },
	{ NULL, Y_SVC Y_CLIENT "    destination: ''\n", 5, 18,
	    "services[0].destination", "missing value" },
	{ NULL, Y_SVC Y_CLIENT "    destination: [host, 22]\n", 5, 18,
	    "services[0].destination", "expected a scalar, found a sequence" },
	/* A tunnel forward needs one. */
	{ NULL, Y_SVC Y_CLIENT, 2, 5, "services[0]",
	    "missing required key \"destination\" "
	    "(a tls-stream forward needs one)" }
};

START_TEST(test_config_destination)
{
	expect_errors(destination_cases, NITEMS(destination_cases));
}
END_TEST

/*
 * A key that the service's transports would never use is an error, not
 * silently ignored: fallback belongs to a tls-stream listener, destination
 * to a tunnel forward.
 */
static const struct err_case unused_key_cases[] = {
	{ NULL, Y_SVC Y_TCP "    fallback: tcp://127.0.0.1:8081\n", 5, 5,
	    "services[0].fallback", "applies only to a tls-stream listener" },
	{ NULL, Y_SVC Y_CLIENT "    destination: 127.0.0.1:22\n"
	    "    fallback: tcp://127.0.0.1:8081\n", 6, 5,
	    "services[0].fallback", "applies only to a tls-stream listener" },
	{ NULL, Y_SVC Y_AGENT "    destination: 127.0.0.1:22\n", 4, 5,
	    "services[0].destination", "applies only to a tunnel forward" }
};

START_TEST(test_config_unused_key)
{
	expect_errors(unused_key_cases, NITEMS(unused_key_cases));
}
END_TEST

/* The rules of the tls-stream transport and of its TLS contexts. */
static const struct err_case tls_stream_cases[] = {
	{ NULL, Y_SVC Y_AGENT "    forward: tcp://127.0.0.1:2\n", 3, 13,
	    "services[0].listen", "use allow, not forward" },
	{ NULL, Y_SVC Y_AGENT "    forward: tls-stream://127.0.0.1:2\n"
	    "    destination: 127.0.0.1:22\n", 3, 13, "services[0].listen",
	    "takes each destination from the tunnel header" },
	{ NULL, Y_SVC "    listen: tls-stream://127.0.0.1:1/x\n", 3, 13,
	    "services[0].listen", "this URL takes no path" },
	{ NULL, Y_SVC "    listen: tls-stream://127.0.0.1\n", 3, 13,
	    "services[0].listen", "a tls-stream URL needs a port" },
	{ NULL, Y_SVC "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tls-stream://:2\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "a tls-stream forward URL needs a host" },
	{ NULL, Y_SVC "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tls-stream://127.0.0.1:0\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "cannot forward to port 0" },
	{ NULL, Y_SVC "    listen: tcp://127.0.0.1:1\n"
	    "    forward: tls-stream://127.0.0.1:2/x\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "this URL takes no path" },
	{ NULL, Y_SVC "    listen: udp://127.0.0.1:1\n"
	    "    forward: tls-stream://127.0.0.1:2\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "udp listen cannot feed tls-stream forward" },
	/* Contexts: reported at the service, under services[N].tls. */
	{ NULL, Y_SVC Y_AGENT, 2, 5, "services[0].tls",
	    "a tls-stream server needs tls.cert and tls.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: /nonexistent/server.crt}\n",
	    2, 5, "services[0].tls",
	    "a tls-stream server needs tls.cert and tls.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {key: /nonexistent/server.key}\n",
	    2, 5, "services[0].tls",
	    "a tls-stream server needs tls.cert and tls.key" },
	{ NULL, "services:\n"
	    "  - name: plain\n"
	    Y_TCP
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:8890\n"
	    "    tls:\n"
	    "      cert: /nonexistent/flowgate/server.crt\n"
	    "      key: /nonexistent/flowgate/server.key\n"
	    "      client_auth: none\n", 5, 5, "services[1].tls",
	    "cannot load certificate /nonexistent/flowgate/server.crt" },
	{ NULL, "tls:\n"
	    "  cert: /nonexistent/flowgate/server.crt\n"
	    "  key: /nonexistent/flowgate/server.key\n"
	    "  client_auth: none\n"
	    "services:\n"
	    "  - name: agent\n"
	    "    listen: tls-stream://127.0.0.1:8890\n", 6, 5,
	    "services[0].tls",
	    "cannot load certificate /nonexistent/flowgate/server.crt" },
	{ NULL, Y_SVC Y_CLIENT "    destination: h:1\n", 2, 5,
	    "services[0].tls",
	    "a tls-stream client needs tls.ca to verify the server" },
	{ NULL, Y_SVC Y_CLIENT "    destination: h:1\n"
	    "    tls: {ca: /nonexistent/flowgate/ca.crt}\n", 2, 5,
	    "services[0].tls", "cannot load CA /nonexistent/flowgate/ca.crt" }
};

START_TEST(test_config_tls_stream)
{
	expect_errors(tls_stream_cases, NITEMS(tls_stream_cases));
}
END_TEST

/* Files that exist but do not fit, from a fresh certificate set in @D@. */
static const struct err_case tls_file_cases[] = {
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/client.key, ca: @D@/ca.crt}\n", 2, 5, "services[0].tls",
	    "cannot load private key @D@/client.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/nope.key, ca: @D@/ca.crt}\n", 2, 5, "services[0].tls",
	    "cannot load private key @D@/nope.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.key, "
	    "key: @D@/server.key, ca: @D@/ca.crt}\n", 2, 5, "services[0].tls",
	    "cannot load certificate @D@/server.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key, ca: @D@/nope.crt}\n", 2, 5, "services[0].tls",
	    "cannot load CA @D@/nope.crt" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key, ca: @D@/ca.key}\n", 2, 5, "services[0].tls",
	    "cannot load CA @D@/ca.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key}\n", 2, 5, "services[0].tls",
	    "client certificates need tls.ca (or tls.client_auth: none)" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key, client_auth: optional}\n", 2, 5,
	    "services[0].tls", "client certificates need tls.ca" },
	{ NULL, Y_SVC Y_CLIENT "    destination: h:1\n"
	    "    tls: {cert: @D@/client.crt, ca: @D@/ca.crt}\n", 2, 5,
	    "services[0].tls", "tls.cert and tls.key go together" },
	{ NULL, Y_SVC Y_CLIENT "    destination: h:1\n"
	    "    tls: {key: @D@/client.key, ca: @D@/ca.crt}\n", 2, 5,
	    "services[0].tls", "tls.cert and tls.key go together" },
	{ NULL, Y_SVC Y_CLIENT "    destination: h:1\n"
	    "    tls: {cert: @D@/client.crt, key: @D@/client.key}\n", 2, 5,
	    "services[0].tls", "a tls-stream client needs tls.ca" },
	{ NULL, Y_SVC Y_CLIENT "    destination: h:1\n"
	    "    tls: {ca: @D@/server.key}\n", 2, 5,
	    "services[0].tls", "cannot load CA @D@/server.key" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key, ca: @D@/ca.crt, ciphers: NO-SUCH}\n", 2, 5,
	    "services[0].tls", "tls.ciphers: no usable cipher in NO-SUCH" },
	{ NULL, Y_SVC Y_AGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key, ca: @D@/ca.crt, ciphersuites: "
	    "TLS_NOPE}\n", 2, 5, "services[0].tls",
	    "tls.ciphersuites: no usable suite in TLS_NOPE" },
	{ NULL, "tls: {ciphersuites: \"\"}\n" Y_SVC Y_AGENT, 1, 21,
	    "tls.ciphersuites", "missing value" }
};

START_TEST(test_config_tls_file)
{
	char	dir[64];

	certdir_new(dir, sizeof(dir));
	expect_errors_dir(tls_file_cases, NITEMS(tls_file_cases), dir);
	certdir_free(dir);
}
END_TEST

/*
 * max_datagram and max_per_source: every kind of bad value, on a plain
 * service (both keys are accepted everywhere) and on the dtls roles.
 */
#define Y_UDP	"    listen: udp://127.0.0.1:1\n"			\
		"    forward: udp://127.0.0.1:2\n"		/* lines 3-4 */
#define Y_DAGENT "    listen: dtls://127.0.0.1:1\n"		/* line 3 */
#define Y_DCLIENT "    listen: udp://127.0.0.1:1\n"			\
		"    forward: dtls://127.0.0.1:2\n"		/* lines 3-4 */

static const struct err_case dgram_key_cases[] = {
	{ NULL, Y_SVC Y_UDP "    max_datagram: 0\n", 5, 19,
	    "services[0].max_datagram", "out of range, expected 1 to 16KiB" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: 16385\n", 5, 19,
	    "services[0].max_datagram", "out of range, expected 1 to 16KiB" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: 17KiB\n", 5, 19,
	    "services[0].max_datagram", "out of range" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: abc\n", 5, 19,
	    "services[0].max_datagram", "missing number" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: 8155QB\n", 5, 19,
	    "services[0].max_datagram", "unknown unit" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: -1\n", 5, 19,
	    "services[0].max_datagram", "negative size" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: {a: 1}\n", 5, 19,
	    "services[0].max_datagram", "expected a scalar, found a mapping" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: [8155]\n", 5, 19,
	    "services[0].max_datagram",
	    "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: ''\n", 5, 19,
	    "services[0].max_datagram", "missing value" },
	{ NULL, Y_SVC Y_UDP "    max_datagram: 1200\n    max_datagram: 1200\n",
	    6, 5, "services[0].max_datagram", "duplicate key, first at 5:5" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n"
	    "    max_datagram: 0\n", 6, 19, "services[0].max_datagram",
	    "out of range, expected 1 to 16KiB" },
	{ NULL, Y_SVC Y_DAGENT "    max_datagram: 65507\n", 4, 19,
	    "services[0].max_datagram", "out of range, expected 1 to 16KiB" },
	{ NULL, Y_SVC Y_UDP "    max_per_source: -1\n", 5, 21,
	    "services[0].max_per_source",
	    "invalid number, expected 0 to 10000000" },
	{ NULL, Y_SVC Y_UDP "    max_per_source: 10000001\n", 5, 21,
	    "services[0].max_per_source",
	    "out of range, expected 0 to 10000000" },
	{ NULL, Y_SVC Y_UDP "    max_per_source: x\n", 5, 21,
	    "services[0].max_per_source", "invalid number" },
	{ NULL, Y_SVC Y_UDP "    max_per_source: 1.5\n", 5, 21,
	    "services[0].max_per_source", "invalid number" },
	{ NULL, Y_SVC Y_UDP "    max_per_source: ''\n", 5, 21,
	    "services[0].max_per_source", "missing value" },
	{ NULL, Y_SVC Y_UDP "    max_per_source: [1]\n", 5, 21,
	    "services[0].max_per_source",
	    "expected a scalar, found a sequence" },
	{ NULL, Y_SVC Y_TCP "    max_per_source: 99999999999999999999999\n",
	    5, 21, "services[0].max_per_source", "out of range" },
	{ NULL, Y_SVC Y_DAGENT "    max_per_source: -1\n", 4, 21,
	    "services[0].max_per_source", "invalid number" },
	{ NULL, "max_per_source: 4\n" Y_SVC Y_UDP, 1, 1, "max_per_source",
	    "unknown key" }
};

START_TEST(test_config_dgram_keys)
{
	expect_errors(dgram_key_cases, NITEMS(dgram_key_cases));
}
END_TEST

/*
 * The rules of the dtls transport: at the listen URL from its check hook,
 * at the keys from the service rules, and from its DTLS contexts under
 * services[N].tls.
 */
static const struct err_case dtls_cases[] = {
	{ NULL, Y_SVC Y_DAGENT "    forward: udp://127.0.0.1:2\n", 3, 13,
	    "services[0].listen", "a dtls listener takes each destination "
	    "from the tunnel header; use allow, not forward" },
	{ NULL, Y_SVC Y_DAGENT "    forward: dtls://127.0.0.1:2\n"
	    "    destination: 127.0.0.1:53\n", 3, 13, "services[0].listen",
	    "use allow, not forward" },
	{ NULL, Y_SVC Y_DAGENT "    forward: echo://\n", 3, 13,
	    "services[0].listen", "use allow, not forward" },
	{ NULL, Y_SVC Y_DAGENT "    forward: tcp://127.0.0.1:2\n", 4, 14,
	    "services[0].forward", "dtls listen cannot feed tcp forward" },
	{ NULL, Y_SVC Y_DAGENT "    fallback: tcp://127.0.0.1:8081\n", 4, 5,
	    "services[0].fallback",
	    "applies only to a tls-stream listener, not dtls" },
	{ NULL, Y_SVC Y_DAGENT "    destination: 127.0.0.1:53\n", 4, 5,
	    "services[0].destination", "applies only to a tunnel forward "
	    "(tls-stream, dtls), and there is no forward" },
	{ NULL, Y_SVC "    listen: dtls://127.0.0.1:1/x\n", 3, 13,
	    "services[0].listen", "this URL takes no path" },
	{ NULL, Y_SVC "    listen: dtls://127.0.0.1\n", 3, 13,
	    "services[0].listen", "a dtls URL needs a port" },
	{ NULL, Y_SVC Y_DCLIENT, 2, 5, "services[0]",
	    "missing required key \"destination\" (a dtls forward needs one)" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: nohost\n", 5, 18,
	    "services[0].destination", "expected host:port" },
	{ NULL, Y_SVC "    listen: udp://127.0.0.1:1\n"
	    "    forward: dtls://:2\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "a dtls forward URL needs a host" },
	{ NULL, Y_SVC "    listen: udp://127.0.0.1:1\n"
	    "    forward: dtls://127.0.0.1:0\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "cannot forward to port 0" },
	{ NULL, Y_SVC "    listen: udp://127.0.0.1:1\n"
	    "    forward: dtls://127.0.0.1:2/x\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "this URL takes no path" },
	{ NULL, Y_SVC "    listen: tcp://127.0.0.1:1\n"
	    "    forward: dtls://127.0.0.1:2\n"
	    "    destination: h:1\n", 4, 14, "services[0].forward",
	    "tcp listen cannot feed dtls forward" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n"
	    "    allow: [10.0.0.0/8]\n", 6, 5, "services[0].allow",
	    "applies only to a tunnel listener (tls-stream, dtls), not udp" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n"
	    "    fallback: tcp://127.0.0.1:8081\n", 6, 5,
	    "services[0].fallback", "applies only to a tls-stream listener" },
	/* Contexts: reported at the service, under services[N].tls. */
	{ NULL, Y_SVC Y_DAGENT, 2, 5, "services[0].tls",
	    "a dtls server needs tls.cert and tls.key" },
	{ NULL, Y_SVC Y_DAGENT "    allow: [10.0.0.0/8]\n", 2, 5,
	    "services[0].tls", "a dtls server needs tls.cert and tls.key" },
	{ NULL, Y_SVC Y_DAGENT "    tls: {cert: /nonexistent/server.crt}\n",
	    2, 5, "services[0].tls",
	    "a dtls server needs tls.cert and tls.key" },
	{ NULL, Y_SVC Y_DAGENT "    tls: {key: /nonexistent/server.key}\n",
	    2, 5, "services[0].tls",
	    "a dtls server needs tls.cert and tls.key" },
	{ NULL, Y_SVC Y_DAGENT "    tls:\n"
	    "      cert: /nonexistent/flowgate/server.crt\n"
	    "      key: /nonexistent/flowgate/server.key\n"
	    "      client_auth: none\n", 2, 5, "services[0].tls",
	    "cannot load certificate /nonexistent/flowgate/server.crt" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n", 2, 5,
	    "services[0].tls",
	    "a dtls client needs tls.ca to verify the server" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n"
	    "    tls: {ca: /nonexistent/flowgate/ca.crt}\n", 2, 5,
	    "services[0].tls", "cannot load CA /nonexistent/flowgate/ca.crt" }
};

START_TEST(test_config_dtls)
{
	expect_errors(dtls_cases, NITEMS(dtls_cases));
}
END_TEST

/* dtls contexts from files that exist but do not fit (@D@ as above). */
static const struct err_case dtls_file_cases[] = {
	{ NULL, Y_SVC Y_DAGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key}\n", 2, 5, "services[0].tls",
	    "client certificates need tls.ca (or tls.client_auth: none)" },
	{ NULL, Y_SVC Y_DAGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/client.key, ca: @D@/ca.crt}\n", 2, 5, "services[0].tls",
	    "cannot load private key @D@/client.key" },
	{ NULL, Y_SVC Y_DAGENT "    tls: {cert: @D@/server.crt, "
	    "key: @D@/server.key, ca: @D@/ca.key}\n", 2, 5, "services[0].tls",
	    "cannot load CA @D@/ca.key" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n"
	    "    tls: {cert: @D@/client.crt, ca: @D@/ca.crt}\n", 2, 5,
	    "services[0].tls", "tls.cert and tls.key go together" },
	{ NULL, Y_SVC Y_DCLIENT "    destination: h:1\n"
	    "    tls: {cert: @D@/client.crt, key: @D@/client.key}\n", 2, 5,
	    "services[0].tls", "a dtls client needs tls.ca" }
};

START_TEST(test_config_dtls_file)
{
	char	dir[64];

	certdir_new(dir, sizeof(dir));
	expect_errors_dir(dtls_file_cases, NITEMS(dtls_file_cases), dir);
	certdir_free(dir);
}
END_TEST

/* One file, many errors: all are reported, each once, in file order. */
START_TEST(test_config_all_errors)
{
	static const char *const want[] = {
		":2:10: workers: invalid number",
		":3:1: colour: unknown key",
		":6:13: services[0].listen: a udp URL needs a port",
		":8:11: services[1].name: invalid name",
		":9:13: services[1].listen: transport \"echo\" cannot listen",
		":10:22: services[1].connect_timeout: out of range"
	};
	struct config_errs	 errs;
	struct config_err	*e;
	struct config		*cfg;
	char			 path[PATH_MAX], prefix[PATH_MAX + 128];
	size_t			 i = 0;

	datapath(path, sizeof(path), "bad-many.yml");
	cfg = config_load(path, &errs);
	ck_assert_ptr_null(cfg);
	TAILQ_FOREACH(e, &errs, entry) {
		ck_assert_msg(i < NITEMS(want), "extra error: %s", e->msg);
		snprintf(prefix, sizeof(prefix), "%s%s", path, want[i]);
		ck_assert_msg(strncmp(e->msg, prefix, strlen(prefix)) == 0,
		    "error %zu: got \"%s\", want \"%s\"", i, e->msg, prefix);
		i++;
	}
	ck_assert_uint_eq(i, NITEMS(want));
	config_errs_free(&errs);
	ck_assert(TAILQ_EMPTY(&errs));

	/* A list that held errors is reset by the next load. */
	cfg = config_load(path, &errs);
	ck_assert_ptr_null(cfg);
	i = 0;
	TAILQ_FOREACH(e, &errs, entry)
		i++;
	ck_assert_uint_eq(i, NITEMS(want));
	config_errs_free(&errs);

	/* Without a list the errors are dropped, not leaked. */
	ck_assert_ptr_null(config_load(path, NULL));
}
END_TEST

/*
 * References, lookups and equality.
 */

START_TEST(test_config_refcount)
{
	struct config	*cfg;

	cfg = load_default();
	ck_assert_int_eq(cfg->refs, 1);
	ck_assert_ptr_eq(config_ref(cfg), cfg);
	ck_assert_int_eq(cfg->refs, 2);
	config_unref(cfg);
	ck_assert_int_eq(cfg->refs, 1);
	config_unref(cfg);	/* frees; LeakSanitizer checks the rest */
	config_unref(NULL);
}
END_TEST

/* Stats outlive the config that made them while someone holds them. */
START_TEST(test_config_stats_refcount)
{
	struct config		*cfg;
	struct service_stats	*st;

	cfg = load_default();
	st = service_stats_ref(config_find_service(cfg, "udp-demo")->stats);
	ck_assert_int_eq(st->refs, 2);
	config_unref(cfg);
	ck_assert_int_eq(st->refs, 1);
	st->flows_total += 3;	/* still ours: ASan would object */
	ck_assert_uint_eq(st->flows_total, 3);
	service_stats_unref(st);
	service_stats_unref(NULL);
}
END_TEST

START_TEST(test_config_find_service)
{
	struct config		*cfg;
	struct service_conf	*sc;

	cfg = load_default();
	sc = config_find_service(cfg, "tcp-echo");
	ck_assert_ptr_nonnull(sc);
	ck_assert_str_eq(sc->name, "tcp-echo");
	ck_assert_int_eq(sc->line, 32);
	ck_assert_int_eq(sc->col, 5);
	ck_assert_ptr_null(config_find_service(cfg, "tcp"));
	ck_assert_ptr_null(config_find_service(cfg, ""));
	config_unref(cfg);
}
END_TEST

/*
 * Each variant changes one field of service "a" (or only what must not
 * count: its position in the file); equal says whether it still matches.
 */
static const struct {
	const char	*yaml;
	int		 equal;
} equal_cases[] = {
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n", 1 },
	{ "# moved down, keys reordered, defaults spelled out\n"
	  "services:\n"
	  "  - name: b\n"
	  "    listen: tcp://127.0.0.1:9\n"
	  "    forward: tcp://127.0.0.1:9\n"
	  "  - forward: udp://127.0.0.1:2\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    connect_timeout: 10s\n"
	  "    buffer: 256KiB\n"
	  "    name: a\n", 1 },
	{ "max_flows: 100000\n"
	  "services:\n"
	  "  - {name: a, listen: 'udp://127.0.0.1:1', "
	  "forward: 'udp://127.0.0.1:2'}\n", 1 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:3\n"
	  "    forward: udp://127.0.0.1:2\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.2:1\n"
	  "    forward: udp://127.0.0.1:2\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:3\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: echo://\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    idle_timeout: 1m\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    connect_timeout: 1s\n", 0 },
	{ "max_flows: 99\n"
	  "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    buffer: 8KiB\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2/x\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    header_timeout: 10s\n"
	  "    handshake_timeout: 10000ms\n", 1 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    header_timeout: 5s\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    handshake_timeout: 5s\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    max_datagram: 8155B\n"
	  "    max_per_source: 0\n", 1 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    max_datagram: 1200\n", 0 },
	{ "services:\n"
	  "  - name: a\n"
	  "    listen: udp://127.0.0.1:1\n"
	  "    forward: udp://127.0.0.1:2\n"
	  "    max_per_source: 4\n", 0 }
};

START_TEST(test_config_equal)
{
	struct config		*base, *cfg;
	struct service_conf	*a, *b, *other;
	size_t			 i;

	base = load_good(equal_cases[0].yaml);
	a = config_find_service(base, "a");
	ck_assert(service_conf_equal(a, a));
	for (i = 0; i < NITEMS(equal_cases); i++) {
		if (transport_find("udp")->check != NULL &&
		    strstr(equal_cases[i].yaml, "2/x") != NULL)
			continue;	/* a hook may refuse the path */
		cfg = load_good(equal_cases[i].yaml);
		b = config_find_service(cfg, "a");
		ck_assert_ptr_nonnull(b);
		ck_assert_msg(service_conf_equal(a, b) == equal_cases[i].equal,
		    "case %zu: want equal=%d", i, equal_cases[i].equal);
		ck_assert_int_eq(service_conf_equal(b, a),
		    equal_cases[i].equal);
		config_unref(cfg);
	}

	/* A different name is a different service. */
	cfg = load_default();
	a = config_find_service(cfg, "udp-echo");
	other = config_find_service(cfg, "tcp-echo");
	ck_assert(!service_conf_equal(a, other));
	config_unref(cfg);
	config_unref(base);
}
END_TEST

/* One TCase per error class, each holding its one table-driven test. */
#define ADD_CASE(s, name, test) do {					\
	TCase	*tc_;							\
									\
	tc_ = tcase_create(name);					\
	tcase_set_timeout(tc_, TIMEOUT);				\
	tcase_add_test(tc_, test);					\
	suite_add_tcase((s), tc_);					\
} while (0)

static Suite *
config_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("config");

	tc = tcase_create("good");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_test(tc, test_config_default_yaml);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_full);
	tcase_add_test(tc, test_config_max_flows_inherit);
	tcase_add_test(tc, test_config_workers_auto);
	tcase_add_test(tc, test_config_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("tls_good");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_test(tc, test_config_tls_defaults);
	tcase_add_test(tc, test_config_tls_inherit);
	tcase_add_test(tc, test_config_tls_relative);
	tcase_add_test(tc, test_config_tunnel_keys);
	tcase_add_test(tc, test_config_dtls_good);
	suite_add_tcase(s, tc);

	ADD_CASE(s, "syntax", test_config_syntax);
	ADD_CASE(s, "empty", test_config_empty);
	ADD_CASE(s, "top_level", test_config_top_level);
	ADD_CASE(s, "multi_doc", test_config_multi_doc);
	ADD_CASE(s, "missing_file", test_config_missing_file);
	ADD_CASE(s, "unknown_key", test_config_unknown_key);
	ADD_CASE(s, "duplicate_key", test_config_duplicate_key);
	ADD_CASE(s, "wrong_type", test_config_wrong_type);
	ADD_CASE(s, "number", test_config_number);
	ADD_CASE(s, "duration", test_config_duration);
	ADD_CASE(s, "size", test_config_size);
	ADD_CASE(s, "choice", test_config_choice);
	ADD_CASE(s, "url", test_config_url);
	ADD_CASE(s, "bad_name", test_config_bad_name);
	ADD_CASE(s, "missing_required", test_config_missing_required);
	ADD_CASE(s, "empty_services", test_config_empty_services);
	ADD_CASE(s, "scheme", test_config_scheme);
	ADD_CASE(s, "cannot_listen", test_config_cannot_listen);
	ADD_CASE(s, "need_forward", test_config_need_forward);
	ADD_CASE(s, "need_port", test_config_need_port);
	ADD_CASE(s, "need_host", test_config_need_host);
	ADD_CASE(s, "flow_kind", test_config_flow_kind);
	ADD_CASE(s, "duplicate_name", test_config_duplicate_name);
	ADD_CASE(s, "check_hook", test_config_check_hook);
	ADD_CASE(s, "tls_type", test_config_tls_type);
	ADD_CASE(s, "tls_value", test_config_tls_value);
	ADD_CASE(s, "tunnel_timeout", test_config_tunnel_timeout);
	ADD_CASE(s, "allow", test_config_allow);
	ADD_CASE(s, "fallback", test_config_fallback);
	ADD_CASE(s, "destination", test_config_destination);
	ADD_CASE(s, "unused_key", test_config_unused_key);
	ADD_CASE(s, "tls_stream", test_config_tls_stream);
	ADD_CASE(s, "tls_file", test_config_tls_file);
	ADD_CASE(s, "dgram_keys", test_config_dgram_keys);
	ADD_CASE(s, "dtls", test_config_dtls);
	ADD_CASE(s, "dtls_file", test_config_dtls_file);
	ADD_CASE(s, "all_errors", test_config_all_errors);

	tc = tcase_create("refcount");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_test(tc, test_config_refcount);
	tcase_add_test(tc, test_config_stats_refcount);
	tcase_add_test(tc, test_config_find_service);
	tcase_add_test(tc, test_config_equal);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(config_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
