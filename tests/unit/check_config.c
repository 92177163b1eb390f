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

/* The path of a file under the test data directory. */
static void
datapath(char *buf, size_t size, const char *file)
{
	const char	*dir;

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

/*
 * The built-in configuration, rendered for a fresh state directory with
 * development certificates in it (as "flowgate run" does on first use).
 */
static struct config *
load_default(void)
{
	static const char *const files[] = { CERTS_CA_CRT, CERTS_CA_KEY,
	    CERTS_SERVER_CRT, CERTS_SERVER_KEY, CERTS_CLIENT_CRT,
	    CERTS_CLIENT_KEY };
	struct config	*cfg;
	char		 dir[] = "/tmp/fg-check-config.XXXXXX", path[PATH_MAX];
	char		*yaml, *err = NULL;
	size_t		 i;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_msg(certs_generate(dir, CERTS_DEFAULT_NAME, 30, 0,
	    &err) == 0, "certs: %s", err);
	yaml = config_default_render(dir);
	ck_assert_ptr_null(strstr(yaml, "@STATE@"));
	cfg = load_good(yaml);
	free(yaml);
	for (i = 0; i < NITEMS(files); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		(void)unlink(path);
	}
	(void)rmdir(dir);
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
	    "  - name: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "012345678_.-\n"
	    "    listen: tcp://0.0.0.0:0\n"
	    "    forward: tcp://host.example:22\n"
	    "    idle_timeout: 7d\n"
	    "    connect_timeout: 5m\n"
	    "    max_flows: 10000000\n"
	    "    buffer: 64MiB\n"
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

	sc = TAILQ_NEXT(sc, entry);
	ck_assert_uint_eq(strlen(sc->name), 64);
	ck_assert_uint_eq(sc->listen.port, 0);
	ck_assert_int_eq(sc->listen.has_port, 1);
	ck_assert_uint_eq(sc->idle_timeout, 7ULL * 24 * 3600 * 1000);
	ck_assert_uint_eq(sc->connect_timeout, 300000);
	ck_assert_uint_eq(sc->max_flows, 10000000);
	ck_assert_uint_eq(sc->buffer, 64 * 1024 * 1024);

	sc = config_find_service(cfg, "quoted");
	ck_assert_ptr_nonnull(sc);
	ck_assert_uint_eq(sc->idle_timeout, 90 * 60 * 1000);
	config_unref(cfg);
}
END_TEST

/*
 * A service whose listen transport needs no forward may omit it.  Today
 * every listener needs one, so this guards the transports to come.
 */
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
	ck_assert_int_eq(sc->line, 31);
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
	  "    forward: udp://127.0.0.1:2/x\n", 0 }
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
