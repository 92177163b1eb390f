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
 * Unit tests for the GoDoxy stream header codec (src/proto/stream_header.c).
 * The six vectors in tests/data/vectors (found through $FG_TESTDATA) are
 * byte-identical to GoDoxy's own output: each must parse to its fields and
 * be rebuilt byte for byte.  A second table mutates a vector, with or
 * without a fresh CRC, and names the expected error.  Every row of both
 * tables is then fed to the incremental reader split at every byte
 * boundary and one byte at a time, with payload behind the header that
 * the reader must leave alone.
 */

#include <sys/types.h>

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proto/stream_header.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define TIMEOUT		10		/* seconds per test case */
#define PAYLOAD		"\x00PAYLOAD"	/* bytes after the header */
#define PAYLOADLEN	(sizeof(PAYLOAD) - 1)
#define SENTINEL	0x5a		/* fills outputs a failure must keep */

/* Indexes into vectors[], used as the base of a mutation. */
enum { V1, V2, V3, V4, V5, V6 };

struct vector {
	const char	*file;		/* under $FG_TESTDATA/vectors */
	const char	*host;
	size_t		 hostrep;	/* if set, host is host[0] this often */
	const char	*port;
	uint16_t	 portnum;
	uint8_t		 flag;
};

static const struct vector vectors[] = {
	[V1] = { "v1_127.0.0.1_8080.bin", "127.0.0.1", 0, "8080", 8080, 0 },
	[V2] = { "v2_example.com_443.bin", "example.com", 0, "443", 443, 0 },
	[V3] = { "v3_ipv6_loopback_53.bin", "::1", 0, "53", 53, 0 },
	[V4] = { "v4_healthcheck.bin", "", 0, "", 0, 0x01 },
	[V5] = { "v5_localhost_65535.bin", "localhost", 0, "65535", 65535, 0 },
	[V6] = { "v6_maxlen_host_255.bin", "a", 255, "1", 1, 0 },
};

/*
 * A vector with n bytes at off replaced, and the CRC recomputed if fixcrc.
 * A health probe parses to empty host and port whatever the bytes say.
 */
struct mutation {
	const char	*name;
	int		 base;		/* index into vectors[] */
	size_t		 off;
	const char	*bytes;
	size_t		 n;
	int		 fixcrc;
	const char	*err;		/* expected error, NULL for success */
	const char	*host;		/* when err is NULL */
	const char	*port;
	uint16_t	 portnum;
	uint8_t		 flag;
};

/* bytes is a literal, so sizeof counts embedded NULs. */
#define BAD(name, base, off, bytes, fix, err)				\
	{ name, base, off, bytes, sizeof(bytes) - 1, fix, err, NULL, NULL, \
	    0, 0 }
#define GOOD(name, base, off, bytes, fix, host, port, num, flag)	\
	{ name, base, off, bytes, sizeof(bytes) - 1, fix, NULL, host, port, \
	    num, flag }

static const struct mutation mutations[] = {
	/* GoDoxy check 1: all eight version bytes. */
	BAD("version byte 0", V1, 0, "1", 1, "bad version"),
	BAD("version byte 1", V1, 1, ",", 1, "bad version"),
	BAD("version byte 2", V1, 2, "2", 1, "bad version"),
	BAD("version byte 3", V1, 3, ",", 1, "bad version"),
	BAD("version byte 4", V1, 4, "9", 1, "bad version"),
	BAD("version byte 5", V1, 5, "\x01", 1, "bad version"),
	BAD("version byte 6", V1, 6, " ", 1, "bad version"),
	BAD("version byte 7", V1, 7, "\xff", 1, "bad version"),
	BAD("version space-padded", V1, 0, "0.1.0   ", 1, "bad version"),
	BAD("version 0.1.1", V1, 0, "0.1.1", 1, "bad version"),
	BAD("version all NUL", V1, 0, "\0\0\0\0\0\0\0\0", 1, "bad version"),
	BAD("version checked before CRC", V1, 2, "2", 0, "bad version"),
	BAD("health version bad", V4, 0, "0.2.0", 1, "bad version"),

	/* GoDoxy check 3 (check 2, hostlen <= 255, cannot fail). */
	BAD("portlen 6", V1, 264, "\x06", 1, "port length over 5"),
	BAD("portlen 255", V1, 264, "\xff", 1, "port length over 5"),
	BAD("portlen checked before CRC", V1, 264, "\x06", 0,
	    "port length over 5"),
	BAD("health portlen 6", V4, 264, "\x06", 1, "port length over 5"),

	/* GoDoxy check 4: CRC-32 big-endian over bytes 0..270. */
	BAD("CRC little-endian", V1, 271, "\xad\xed\x9c\x24", 0,
	    "checksum mismatch"),
	BAD("CRC bit flipped", V1, 274, "\xac", 0, "checksum mismatch"),
	BAD("CRC zero", V1, 271, "\0\0\0\0", 0, "checksum mismatch"),
	BAD("padding changed, CRC kept", V1, 18, "x", 0, "checksum mismatch"),
	BAD("flag changed, CRC kept", V1, 270, "\x01", 0,
	    "checksum mismatch"),
	BAD("health CRC bit flipped", V4, 271, "\x7c", 0,
	    "checksum mismatch"),

	/* Ours: the host is dialed, so it must be a plausible name. */
	BAD("hostlen into zero fill", V1, 8, "\x0a", 1, "host contains NUL"),
	BAD("hostlen 255 into zero fill", V1, 8, "\xff", 1,
	    "host contains NUL"),
	BAD("host with NUL", V1, 12, "\0", 1, "host contains NUL"),
	BAD("host with space", V1, 9, " ", 1,
	    "host contains control or space"),
	BAD("host with newline", V1, 17, "\n", 1,
	    "host contains control or space"),
	BAD("host with DEL", V1, 9, "\x7f", 1,
	    "host contains control or space"),
	BAD("host empty, not health", V1, 8, "\0", 1, "host is empty"),
	BAD("health header without the flag", V4, 270, "\0", 1,
	    "host is empty"),
	BAD("host bracketed", V1, 8, "\x05[::1]", 1,
	    "IPv6 host must not be bracketed"),

	/* Ours: the port is decimal 1..65535, never a service name. */
	BAD("port echo", V1, 264, "\x04" "echo", 1,
	    "port is not a decimal number"),
	BAD("port +80", V1, 264, "\x03" "+80\0\0", 1,
	    "port is not a decimal number"),
	BAD("port -80", V1, 264, "\x03" "-80\0\0", 1,
	    "port is not a decimal number"),
	BAD("port space 80", V1, 264, "\x03" " 80\0\0", 1,
	    "port is not a decimal number"),
	BAD("port 0x50", V1, 264, "\x04" "0x50\0", 1,
	    "port is not a decimal number"),
	BAD("portlen into zero fill", V1, 264, "\x05", 1,
	    "port is not a decimal number"),
	BAD("port 0", V1, 264, "\x01" "0\0\0\0\0", 1, "port out of range"),
	BAD("port 00000", V1, 264, "\x05" "00000", 1, "port out of range"),
	BAD("port 65536", V1, 264, "\x05" "65536", 1, "port out of range"),
	BAD("port 99999", V1, 264, "\x05" "99999", 1, "port out of range"),
	BAD("port empty, not health", V1, 264, "\0\0\0\0\0\0", 1,
	    "port is empty"),

	/* What GoDoxy tolerates, we tolerate. */
	GOOD("host padding non-zero", V1, 18, "Z", 1,
	    "127.0.0.1", "8080", 8080, 0),
	GOOD("host padding last byte 0xff", V1, 263, "\xff", 1,
	    "127.0.0.1", "8080", 8080, 0),
	GOOD("port padding non-zero", V1, 269, "9", 1,
	    "127.0.0.1", "8080", 8080, 0),
	GOOD("port 1 over old digits", V1, 264, "\x01" "1", 1,
	    "127.0.0.1", "1", 1, 0),
	GOOD("port leading zero", V1, 264, "\x05" "08080", 1,
	    "127.0.0.1", "08080", 8080, 0),
	GOOD("host with high bytes", V1, 8, "\x04\xc3\xa9t\xc3", 1,
	    "\xc3\xa9t\xc3", "8080", 8080, 0),
	GOOD("flag 0x02", V1, 270, "\x02", 1, "127.0.0.1", "8080", 8080, 0x02),
	GOOD("flag 0x80", V1, 270, "\x80", 1, "127.0.0.1", "8080", 8080, 0x80),
	GOOD("flag 0x03", V1, 270, "\x03", 1, "", "", 0, 0x03),
	GOOD("flag 0xff", V1, 270, "\xff", 1, "", "", 0, 0xff),
	GOOD("health with host and port", V1, 270, "\x01", 1, "", "", 0, 0x01),
	GOOD("health with port echo", V4, 264, "\x04" "echo", 1,
	    "", "", 0, 0x01),
	GOOD("health with host NUL", V4, 8, "\x03", 1, "", "", 0, 0x01),
};

/* What a case should parse to, with its bytes. */
struct expect {
	char		 name[64];
	const char	*err;		/* NULL for success */
	char		 host[SH_HOST_MAX + 1];
	const char	*port;
	uint16_t	 portnum;
	uint8_t		 flag;
};

static void
vector_path(const char *file, char *buf, size_t size)
{
	const char	*dir;

	if ((dir = getenv("FG_TESTDATA")) == NULL || *dir == '\0')
		dir = "tests/data";
	snprintf(buf, size, "%s/vectors/%s", dir, file);
}

/* Read a vector file, which must be exactly SH_SIZE bytes. */
static void
vector_load(int i, uint8_t buf[SH_SIZE])
{
	FILE	*f;
	char	 path[1024];
	size_t	 n;
	int	 extra;

	vector_path(vectors[i].file, path, sizeof(path));
	f = fopen(path, "rb");
	ck_assert_msg(f != NULL, "cannot open %s (set FG_TESTDATA)", path);
	n = fread(buf, 1, SH_SIZE, f);
	extra = fgetc(f);
	fclose(f);
	ck_assert_msg(n == SH_SIZE && extra == EOF, "%s: not %d bytes", path,
	    SH_SIZE);
}

static void
crc_store(uint8_t buf[SH_SIZE])
{
	uLong	crc;

	crc = crc32(crc32(0L, Z_NULL, 0), buf, SH_SIZE - 4);
	buf[SH_SIZE - 4] = (uint8_t)(crc >> 24);
	buf[SH_SIZE - 3] = (uint8_t)(crc >> 16);
	buf[SH_SIZE - 2] = (uint8_t)(crc >> 8);
	buf[SH_SIZE - 1] = (uint8_t)crc;
}

static size_t
case_count(void)
{
	return (nitems(vectors) + nitems(mutations));
}

/* Case i: the vectors first, then the mutations. */
static void
case_load(size_t i, uint8_t buf[SH_SIZE], struct expect *e)
{
	const struct vector	*v;
	const struct mutation	*m;

	memset(e, 0, sizeof(*e));
	if (i < nitems(vectors)) {
		v = &vectors[i];
		vector_load((int)i, buf);
		snprintf(e->name, sizeof(e->name), "%s", v->file);
		if (v->hostrep != 0)
			memset(e->host, v->host[0], v->hostrep);
		else
			snprintf(e->host, sizeof(e->host), "%s", v->host);
		e->port = v->port;
		e->portnum = v->portnum;
		e->flag = v->flag;
		return;
	}
	m = &mutations[i - nitems(vectors)];
	ck_assert_uint_le(m->off + m->n, SH_SIZE);
	vector_load(m->base, buf);
	memcpy(buf + m->off, m->bytes, m->n);
	if (m->fixcrc)
		crc_store(buf);
	snprintf(e->name, sizeof(e->name), "%s", m->name);
	e->err = m->err;
	if (m->err == NULL) {
		snprintf(e->host, sizeof(e->host), "%s", m->host);
		e->port = m->port;
		e->portnum = m->portnum;
		e->flag = m->flag;
	}
}

/*
 * Compare one parse result with the expectation.  A failure must leave
 * the header exactly as the caller filled it (with SENTINEL).
 */
static void
check_result(const struct expect *e, int ok, const struct stream_header *h,
    const char *errstr)
{
	struct stream_header	 untouched;

	if (e->err != NULL) {
		ck_assert_msg(!ok, "%s: parsed, want \"%s\"", e->name, e->err);
		ck_assert_msg(errstr != NULL && strcmp(errstr, e->err) == 0,
		    "%s: error \"%s\", want \"%s\"", e->name,
		    errstr == NULL ? "(null)" : errstr, e->err);
		memset(&untouched, SENTINEL, sizeof(untouched));
		ck_assert_msg(memcmp(h, &untouched, sizeof(*h)) == 0,
		    "%s: header changed on failure", e->name);
		return;
	}
	ck_assert_msg(ok, "%s: failed: %s", e->name,
	    errstr == NULL ? "(null)" : errstr);
	ck_assert_msg(strcmp(h->host, e->host) == 0, "%s: host \"%s\"",
	    e->name, h->host);
	ck_assert_uint_eq(h->hostlen, strlen(e->host));
	ck_assert_str_eq(h->port, e->port);
	ck_assert_uint_eq(h->portlen, strlen(e->port));
	ck_assert_uint_eq(h->portnum, e->portnum);
	ck_assert_uint_eq(h->flag, e->flag);
	ck_assert_int_eq(sh_is_health(h), (e->flag & 0x01) != 0);
}

START_TEST(test_stream_header_vectors)
{
	const struct vector	*v = &vectors[_i];
	struct expect		 e;
	struct stream_header	 h;
	uint8_t			 in[SH_SIZE], out[SH_SIZE];
	const char		*errstr = NULL;
	int			 r;

	case_load((size_t)_i, in, &e);
	memset(&h, SENTINEL, sizeof(h));
	r = sh_parse(in, &h, &errstr);
	check_result(&e, r == 0, &h, errstr);

	memset(out, SENTINEL, sizeof(out));
	if (_i == V4)
		r = sh_build_health(out);
	else
		r = sh_build(e.host, v->port, v->flag, out, &errstr);
	ck_assert_msg(r == 0, "%s: build: %s", v->file, errstr);
	ck_assert_msg(memcmp(in, out, SH_SIZE) == 0,
	    "%s: rebuilt bytes differ", v->file);
}
END_TEST

START_TEST(test_stream_header_mutations)
{
	struct expect		 e;
	struct stream_header	 h;
	uint8_t			 in[SH_SIZE];
	const char		*errstr = NULL;
	int			 r;

	case_load(nitems(vectors) + (size_t)_i, in, &e);
	memset(&h, SENTINEL, sizeof(h));
	r = sh_parse(in, &h, &errstr);
	check_result(&e, r == 0, &h, errstr);
}
END_TEST

/*
 * Feed every case in two pieces split at _i, with payload behind the
 * header: the first piece is taken whole (or up to the header's end), the
 * second only up to the header's end.
 */
START_TEST(test_stream_header_split)
{
	struct sh_reader	 r;
	struct expect		 e;
	struct stream_header	 h;
	uint8_t			 in[SH_SIZE + PAYLOADLEN];
	const char		*errstr;
	size_t			 i, split = (size_t)_i, used;
	enum sh_status		 st;

	for (i = 0; i < case_count(); i++) {
		case_load(i, in, &e);
		memcpy(in + SH_SIZE, PAYLOAD, PAYLOADLEN);
		memset(&h, SENTINEL, sizeof(h));
		errstr = NULL;
		sh_reader_init(&r);

		/* Split at the very end: payload comes with the header. */
		st = sh_reader_feed(&r, in, split < SH_SIZE ? split :
		    sizeof(in), &used, &h, &errstr);
		ck_assert_uint_eq(used, split);
		if (split < SH_SIZE) {
			ck_assert_msg(st == SH_MORE, "%s: split %zu: status %d",
			    e.name, split, st);
			st = sh_reader_feed(&r, in + split, sizeof(in) - split,
			    &used, &h, &errstr);
			ck_assert_msg(used == SH_SIZE - split,
			    "%s: split %zu: used %zu", e.name, split, used);
		}
		ck_assert(st == SH_DONE || st == SH_ERROR);
		check_result(&e, st == SH_DONE, &h, errstr);
	}
}
END_TEST

/* Feed every case one byte at a time, then payload the reader refuses. */
START_TEST(test_stream_header_bytewise)
{
	struct sh_reader	 r;
	struct expect		 e;
	struct stream_header	 h;
	uint8_t			 in[SH_SIZE];
	const char		*errstr;
	size_t			 i, j, used;
	enum sh_status		 st;

	for (i = 0; i < case_count(); i++) {
		case_load(i, in, &e);
		memset(&h, SENTINEL, sizeof(h));
		errstr = NULL;
		sh_reader_init(&r);
		st = SH_MORE;
		for (j = 0; j < SH_SIZE; j++) {
			ck_assert_msg(st == SH_MORE, "%s: done at byte %zu",
			    e.name, j);
			st = sh_reader_feed(&r, in + j, 1, &used, &h, &errstr);
			ck_assert_uint_eq(used, 1);
		}
		check_result(&e, st == SH_DONE, &h, errstr);

		/* Complete: payload stays with the caller, verdict repeats. */
		st = sh_reader_feed(&r, (const uint8_t *)PAYLOAD, PAYLOADLEN,
		    &used, &h, &errstr);
		ck_assert_uint_eq(used, 0);
		check_result(&e, st == SH_DONE, &h, errstr);
	}
}
END_TEST

/* Empty feeds, and a header plus payload arriving in one buffer. */
START_TEST(test_stream_header_reader_edges)
{
	struct sh_reader	 r;
	struct stream_header	 h;
	uint8_t			 in[SH_SIZE + PAYLOADLEN];
	const char		*errstr = NULL;
	size_t			 used = 99;

	vector_load(V2, in);
	memcpy(in + SH_SIZE, PAYLOAD, PAYLOADLEN);
	sh_reader_init(&r);
	ck_assert_int_eq(sh_reader_feed(&r, NULL, 0, &used, &h, &errstr),
	    SH_MORE);
	ck_assert_uint_eq(used, 0);
	ck_assert_int_eq(sh_reader_feed(&r, in, sizeof(in), &used, &h,
	    &errstr), SH_DONE);
	ck_assert_uint_eq(used, SH_SIZE);
	ck_assert_str_eq(h.host, "example.com");
	ck_assert_uint_eq(h.portnum, 443);
	ck_assert_int_eq(sh_reader_feed(&r, NULL, 0, &used, &h, &errstr),
	    SH_DONE);
	ck_assert_uint_eq(used, 0);

	/* init starts over. */
	sh_reader_init(&r);
	ck_assert_uint_eq(r.have, 0);
	ck_assert_int_eq(sh_reader_feed(&r, in, 10, &used, &h, &errstr),
	    SH_MORE);
	ck_assert_uint_eq(used, 10);
}
END_TEST

/* Builder limits: lengths and brackets only, as GoDoxy's sender. */
struct build_test {
	const char	*host;		/* NULL: 256 bytes of 'h' */
	const char	*port;
	uint8_t		 flag;
	const char	*err;		/* expected error, NULL for success */
	const char	*perr;		/* expected sh_parse error, built */
};

static const struct build_test build_tests[] = {
	{ "127.0.0.1", "8080", 0, NULL, NULL },
	{ "fe80::1%eth0", "443", 0, NULL, NULL },
	{ "example.com", "65535", 0x02, NULL, NULL },
	{ NULL, "1", 0, "host is too long", NULL },
	{ "example.com", "123456", 0, "port is too long", NULL },
	{ "example.com", "", 0, NULL, "port is empty" },
	{ "[::1]", "53", 0, "IPv6 host must not be bracketed", NULL },
	{ "[", "53", 0, "IPv6 host must not be bracketed", NULL },
	{ "", "80", 0, NULL, "host is empty" },
	{ "", "", 0x01, NULL, NULL },
	{ "example.com", "echo", 0, NULL, "port is not a decimal number" },
	{ "example.com", "0", 0, NULL, "port out of range" },
};

START_TEST(test_stream_header_build_table)
{
	const struct build_test	*t = &build_tests[_i];
	struct stream_header	 h;
	uint8_t			 out[SH_SIZE], untouched[SH_SIZE];
	char			 big[SH_HOST_MAX + 2];
	const char		*host, *errstr = NULL;
	int			 r;

	memset(big, 'h', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	host = t->host != NULL ? t->host : big;
	memset(out, SENTINEL, sizeof(out));
	memset(untouched, SENTINEL, sizeof(untouched));
	r = sh_build(host, t->port, t->flag, out, &errstr);
	if (t->err != NULL) {
		ck_assert_msg(r == -1, "\"%s\":\"%s\" built", host, t->port);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_msg(memcmp(out, untouched, SH_SIZE) == 0,
		    "output changed on failure");
		return;
	}
	ck_assert_msg(r == 0, "\"%s\":\"%s\": %s", host, t->port, errstr);
	r = sh_parse(out, &h, &errstr);
	if (t->perr != NULL) {
		ck_assert_int_eq(r, -1);
		ck_assert_str_eq(errstr, t->perr);
		return;
	}
	ck_assert_msg(r == 0, "\"%s\":\"%s\": parse: %s", host, t->port,
	    errstr);
	ck_assert_str_eq(h.host, host);
	ck_assert_str_eq(h.port, t->port);
	ck_assert_uint_eq(h.flag, t->flag);
}
END_TEST

/* 255 bytes of host is the most; it lands right before the port length. */
START_TEST(test_stream_header_build_maxlen)
{
	struct stream_header	 h;
	uint8_t			 out[SH_SIZE], v6[SH_SIZE];
	char			 host[SH_HOST_MAX + 2];
	const char		*errstr = NULL;

	memset(host, 'a', SH_HOST_MAX);
	host[SH_HOST_MAX] = '\0';
	ck_assert_int_eq(sh_build(host, "1", 0, out, &errstr), 0);
	vector_load(V6, v6);
	ck_assert(memcmp(out, v6, SH_SIZE) == 0);
	ck_assert_int_eq(sh_parse(out, &h, &errstr), 0);
	ck_assert_uint_eq(h.hostlen, SH_HOST_MAX);
	ck_assert_str_eq(h.host, host);

	host[SH_HOST_MAX] = 'a';
	host[SH_HOST_MAX + 1] = '\0';
	ck_assert_int_eq(sh_build(host, "1", 0, out, &errstr), -1);
	ck_assert_str_eq(errstr, "host is too long");

	ck_assert_int_eq(sh_build("a", "12345", 0, out, &errstr), 0);
	ck_assert_int_eq(sh_build("a", "123456", 0, out, &errstr), -1);
	ck_assert_str_eq(errstr, "port is too long");

	/* A NULL errstr is allowed. */
	ck_assert_int_eq(sh_build("[::1]", "1", 0, out, NULL), -1);
	out[0] = 'x';
	ck_assert_int_eq(sh_parse(out, &h, NULL), -1);
}
END_TEST

static Suite *
stream_header_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("stream_header");

	tc = tcase_create("vectors");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_loop_test(tc, test_stream_header_vectors, 0,
	    nitems(vectors));
	suite_add_tcase(s, tc);

	tc = tcase_create("malformed");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_loop_test(tc, test_stream_header_mutations, 0,
	    nitems(mutations));
	suite_add_tcase(s, tc);

	tc = tcase_create("incremental");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_loop_test(tc, test_stream_header_split, 0, SH_SIZE + 1);
	tcase_add_test(tc, test_stream_header_bytewise);
	tcase_add_test(tc, test_stream_header_reader_edges);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	tcase_set_timeout(tc, TIMEOUT);
	tcase_add_loop_test(tc, test_stream_header_build_table, 0,
	    nitems(build_tests));
	tcase_add_test(tc, test_stream_header_build_maxlen);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(stream_header_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
