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
 * Unit tests for util.c.  Every parser is driven by a table of inputs with
 * the expected value or the exact error text; each row runs as its own
 * loop iteration so a failure names the row.  On failure a parser must
 * leave its output alone, which the tests check with a sentinel.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <check.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flowgate.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define SENTINEL	0x5a5a5a5a5a5a5a5aULL

/* parse_duration and parse_size share a row shape. */
struct num_test {
	const char	*in;
	uint64_t	 want;	/* when err is NULL */
	const char	*err;	/* expected error, NULL for success */
};

static const struct num_test duration_tests[] = {
	{ "250ms", 250, NULL },
	{ "30s", 30000, NULL },
	{ "5m", 300000, NULL },
	{ "1h", 3600000, NULL },
	{ "2d", 172800000, NULL },
	{ "1h30m", 5400000, NULL },
	{ "1m30s", 90000, NULL },
	{ "300", 300000, NULL },
	{ "0", 0, NULL },
	{ "0s", 0, NULL },
	{ "007s", 7000, NULL },
	{ "1d2h3m4s5ms", 93784005, NULL },
	{ "1h1h", 7200000, NULL },
	{ "18446744073709551615ms", UINT64_MAX, NULL },
	{ "18446744073709551", 18446744073709551000ULL, NULL },
	{ "", 0, "empty duration" },
	{ "-5s", 0, "negative duration" },
	{ "-0", 0, "negative duration" },
	{ "s", 0, "missing number" },
	{ "ms", 0, "missing number" },
	{ "1hs", 0, "unknown unit" },
	{ "5x", 0, "unknown unit" },
	{ "5sec", 0, "unknown unit" },
	{ "5MS", 0, "unknown unit" },
	{ "1h30", 0, "missing unit" },
	{ "1 h", 0, "whitespace not allowed" },
	{ " 5s", 0, "whitespace not allowed" },
	{ "5s ", 0, "whitespace not allowed" },
	{ "5s\n", 0, "whitespace not allowed" },
	{ "1.5h", 0, "fractional values not supported" },
	{ "1h-30m", 0, "negative values not allowed" },
	{ "+5s", 0, "invalid character" },
	{ "5\xc2\xb5s", 0, "invalid character" },
	{ "18446744073709551616ms", 0, "value out of range" },
	{ "18446744073709552", 0, "value out of range" },
	{ "213503982335d", 0, "value out of range" },
	{ "18446744073709551615ms1ms", 0, "value out of range" },
	{ "99999999999999999999999999999999s", 0, "value out of range" }
};

static const struct num_test size_tests[] = {
	{ "512", 512, NULL },
	{ "0", 0, NULL },
	{ "100B", 100, NULL },
	{ "64KiB", 65536, NULL },
	{ "1MiB", 1048576, NULL },
	{ "2GiB", 2147483648ULL, NULL },
	{ "64KB", 64000, NULL },
	{ "1MB", 1000000, NULL },
	{ "1GB", 1000000000, NULL },
	{ "64k", 65536, NULL },
	{ "64K", 65536, NULL },
	{ "1m", 1048576, NULL },
	{ "1M", 1048576, NULL },
	{ "1g", 1073741824, NULL },
	{ "1G", 1073741824, NULL },
	{ "1TiB", 1ULL << 40, NULL },
	{ "15EiB", 15ULL << 60, NULL },
	{ "18446744073709551615", UINT64_MAX, NULL },
	{ "", 0, "empty size" },
	{ "-1", 0, "negative size" },
	{ "KiB", 0, "missing number" },
	{ "64kb", 0, "unknown unit" },
	{ "64Ki", 0, "unknown unit" },
	{ "64KiBx", 0, "unknown unit" },
	{ "1b", 0, "unknown unit" },
	{ "64 KiB", 0, "whitespace not allowed" },
	{ " 64", 0, "whitespace not allowed" },
	{ "1.5MiB", 0, "fractional values not supported" },
	{ "0x10", 0, "invalid character" },
	{ "18446744073709551616", 0, "value out of range" },
	{ "16EiB", 0, "value out of range" },
	{ "17179869184GiB", 0, "value out of range" },
	{ "18446744073709551616KiB", 0, "value out of range" }
};

static const struct uint_test {
	const char	*in;
	uint64_t	 min;
	uint64_t	 max;
	uint64_t	 want;
	const char	*err;
} uint_tests[] = {
	{ "0", 0, 10, 0, NULL },
	{ "10", 0, 10, 10, NULL },
	{ "007", 0, 10, 7, NULL },
	{ "65535", 1, 65535, 65535, NULL },
	{ "18446744073709551615", 0, UINT64_MAX, UINT64_MAX, NULL },
	{ "11", 0, 10, 0, "value out of range" },
	{ "5", 6, 10, 0, "value out of range" },
	{ "0", 1, 65535, 0, "value out of range" },
	{ "65536", 1, 65535, 0, "value out of range" },
	{ "18446744073709551616", 0, UINT64_MAX, 0, "value out of range" },
	{ "", 0, 10, 0, "missing number" },
	{ "+5", 0, 10, 0, "invalid number" },
	{ "-5", 0, 10, 0, "invalid number" },
	{ "5 ", 0, 10, 0, "invalid number" },
	{ " 5", 0, 10, 0, "invalid number" },
	{ "0x10", 0, 100, 0, "invalid number" },
	{ "1e3", 0, 10000, 0, "invalid number" },
	{ "five", 0, 10, 0, "invalid number" }
};

static const struct bool_test {
	const char	*in;
	int		 want;	/* -1: error */
} bool_tests[] = {
	{ "true", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "Yes", 1 },
	{ "on", 1 }, { "ON", 1 },
	{ "false", 0 }, { "False", 0 }, { "no", 0 }, { "NO", 0 },
	{ "off", 0 }, { "oFf", 0 },
	{ "", -1 }, { "1", -1 }, { "0", -1 }, { "y", -1 }, { "n", -1 },
	{ "truee", -1 }, { "enable", -1 }, { " true", -1 }, { "true ", -1 },
	{ "o", -1 }
};

static const struct url_test {
	const char	*in;
	const char	*scheme;
	const char	*host;
	uint16_t	 port;
	int		 has_port;
	const char	*path;
	const char	*err;
} url_tests[] = {
	{ "udp://0.0.0.0:53", "udp", "0.0.0.0", 53, 1, "", NULL },
	{ "udp://:5353", "udp", "", 5353, 1, "", NULL },
	{ "tcp://[::1]:22", "tcp", "::1", 22, 1, "", NULL },
	{ "ws://gw.example:8080/tunnel", "ws", "gw.example", 8080, 1,
	    "/tunnel", NULL },
	{ "echo://", "echo", "", 0, 0, "", NULL },
	{ "dtls://agent:8890", "dtls", "agent", 8890, 1, "", NULL },
	{ "UDP://Host.Example:1", "udp", "Host.Example", 1, 1, "", NULL },
	{ "wss://gw.example/tunnel?token=x&a=b", "wss", "gw.example", 0, 0,
	    "/tunnel?token=x&a=b", NULL },
	{ "tcp://[fe80::1%lo]:22", "tcp", "fe80::1%lo", 22, 1, "", NULL },
	{ "tcp://127.0.0.1:0", "tcp", "127.0.0.1", 0, 1, "", NULL },
	{ "tcp://h:65535", "tcp", "h", 65535, 1, "", NULL },
	{ "tls-stream://agent.example:8890", "tls-stream", "agent.example",
	    8890, 1, "", NULL },
	{ "x+y.z-w://h", "x+y.z-w", "h", 0, 0, "", NULL },
	{ "udp://[::]:53", "udp", "::", 53, 1, "", NULL },
	{ "udp://[::ffff:1.2.3.4]", "udp", "::ffff:1.2.3.4", 0, 0, "", NULL },
	{ "tcp://my_host.local.:1", "tcp", "my_host.local.", 1, 1, "", NULL },
	{ "relay://host:9000/", "relay", "host", 9000, 1, "/", NULL },
	{ "abcdefghijklmno://x", "abcdefghijklmno", "x", 0, 0, "", NULL },
	{ "ws://1e100.net", "ws", "1e100.net", 0, 0, "", NULL },
	{ "", NULL, NULL, 0, 0, NULL, "empty URL" },
	{ "udp:/x", NULL, NULL, 0, 0, NULL, "missing \"://\"" },
	{ "udp//x", NULL, NULL, 0, 0, NULL, "missing \"://\"" },
	{ "0.0.0.0:53", NULL, NULL, 0, 0, NULL, "missing \"://\"" },
	{ "://host", NULL, NULL, 0, 0, NULL, "missing scheme" },
	{ "1udp://x", NULL, NULL, 0, 0, NULL, "invalid scheme" },
	{ "ud_p://x", NULL, NULL, 0, 0, NULL, "invalid scheme" },
	{ "abcdefghijklmnop://x", NULL, NULL, 0, 0, NULL, "scheme too long" },
	{ "udp://user@host:53", NULL, NULL, 0, 0, NULL,
	    "userinfo not allowed" },
	{ "udp://@host", NULL, NULL, 0, 0, NULL, "userinfo not allowed" },
	{ "udp://host:53#frag", NULL, NULL, 0, 0, NULL,
	    "fragments not allowed" },
	{ "ws://h/p#", NULL, NULL, 0, 0, NULL, "fragments not allowed" },
	{ "udp://host :53", NULL, NULL, 0, 0, NULL,
	    "whitespace not allowed" },
	{ "udp://ho\tst", NULL, NULL, 0, 0, NULL, "whitespace not allowed" },
	{ " udp://h", NULL, NULL, 0, 0, NULL, "whitespace not allowed" },
	{ "udp://ho\x01st", NULL, NULL, 0, 0, NULL,
	    "control character in URL" },
	{ "udp://h/\x7f", NULL, NULL, 0, 0, NULL,
	    "control character in URL" },
	{ "udp://h\xc3\xa9", NULL, NULL, 0, 0, NULL,
	    "non-ascii character in URL" },
	{ "udp://host:", NULL, NULL, 0, 0, NULL, "missing port" },
	{ "udp://host:/p", NULL, NULL, 0, 0, NULL, "missing port" },
	{ "udp://host:65536", NULL, NULL, 0, 0, NULL, "port out of range" },
	{ "udp://host:99999999999999999999", NULL, NULL, 0, 0, NULL,
	    "port out of range" },
	{ "udp://host:5x", NULL, NULL, 0, 0, NULL, "invalid port" },
	{ "udp://host:-1", NULL, NULL, 0, 0, NULL, "invalid port" },
	{ "udp://host:+1", NULL, NULL, 0, 0, NULL, "invalid port" },
	{ "udp://::1:53", NULL, NULL, 0, 0, NULL,
	    "IPv6 address must be in brackets" },
	{ "udp://::1", NULL, NULL, 0, 0, NULL,
	    "IPv6 address must be in brackets" },
	{ "udp://[::1", NULL, NULL, 0, 0, NULL, "unterminated '['" },
	{ "udp://[::1/x]", NULL, NULL, 0, 0, NULL, "unterminated '['" },
	{ "udp://[::1]x", NULL, NULL, 0, 0, NULL,
	    "invalid character after ']'" },
	{ "udp://[::1]]:1", NULL, NULL, 0, 0, NULL,
	    "invalid character after ']'" },
	{ "udp://[::1]:", NULL, NULL, 0, 0, NULL, "missing port" },
	{ "udp://[1.2.3.4]:53", NULL, NULL, 0, 0, NULL,
	    "invalid IPv6 address" },
	{ "udp://[]:53", NULL, NULL, 0, 0, NULL, "invalid IPv6 address" },
	{ "udp://[gw.example]:53", NULL, NULL, 0, 0, NULL,
	    "invalid IPv6 address" },
	{ "udp://[fe80::1%]:53", NULL, NULL, 0, 0, NULL, "invalid scope" },
	{ "udp://[fe80::1%a*b]:53", NULL, NULL, 0, 0, NULL, "invalid scope" },
	{ "udp://[fe80::1%abcdefghijklmnop]:53", NULL, NULL, 0, 0, NULL,
	    "invalid scope" },
	{ "udp://bad..name", NULL, NULL, 0, 0, NULL, "invalid host name" },
	{ "udp://.name", NULL, NULL, 0, 0, NULL, "invalid host name" },
	{ "udp://-bad:1", NULL, NULL, 0, 0, NULL, "invalid host name" },
	{ "udp://bad-:1", NULL, NULL, 0, 0, NULL, "invalid host name" },
	{ "udp://a.bad-.c", NULL, NULL, 0, 0, NULL, "invalid host name" },
	{ "udp://.:1", NULL, NULL, 0, 0, NULL, "invalid host name" },
	{ "udp://b*d:1", NULL, NULL, 0, 0, NULL,
	    "invalid character in host name" },
	{ "udp://a]b:1", NULL, NULL, 0, 0, NULL,
	    "invalid character in host name" },
	{ "udp://256.0.0.1:53", NULL, NULL, 0, 0, NULL,
	    "invalid IPv4 address" },
	{ "udp://1.2.3:53", NULL, NULL, 0, 0, NULL, "invalid IPv4 address" },
	{ "udp://01.2.3.4:53", NULL, NULL, 0, 0, NULL,
	    "invalid IPv4 address" },
	{ "udp://1234", NULL, NULL, 0, 0, NULL, "invalid IPv4 address" },
	{ "udp://h?x", NULL, NULL, 0, 0, NULL, "query without path" },
	{ "udp://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaa.com", NULL, NULL, 0, 0, NULL, "host name label too long" }
};

static const struct addr_test {
	const char	*in;
	const char	*str;	/* addr_str of the result */
	int		 family;
	const char	*err;
} addr_tests[] = {
	{ "1.2.3.4:53", "1.2.3.4:53", AF_INET, NULL },
	{ "127.0.0.1:0", "127.0.0.1:0", AF_INET, NULL },
	{ "255.255.255.255:65535", "255.255.255.255:65535", AF_INET, NULL },
	{ ":8080", "0.0.0.0:8080", AF_INET, NULL },
	{ "[::1]:53", "[::1]:53", AF_INET6, NULL },
	{ "[::]:1", "[::]:1", AF_INET6, NULL },
	{ "[fe80::1%lo]:53", "[fe80::1%lo]:53", AF_INET6, NULL },
	{ "[::ffff:1.2.3.4]:1", "[::ffff:1.2.3.4]:1", AF_INET6, NULL },
	{ "[2001:DB8::A]:443", "[2001:db8::a]:443", AF_INET6, NULL },
	{ "", NULL, 0, "empty address" },
	{ "1.2.3.4", NULL, 0, "missing port" },
	{ "1.2.3.4:", NULL, 0, "missing port" },
	{ "[::1]", NULL, 0, "missing port" },
	{ "::1:53", NULL, 0, "IPv6 address must be in brackets" },
	{ "localhost:53", NULL, 0, "numeric address required" },
	{ "1.2.3.256:53", NULL, 0, "invalid IPv4 address" },
	{ "1.2.3:53", NULL, 0, "invalid IPv4 address" },
	{ "[::1:53", NULL, 0, "unterminated '['" },
	{ "[1.2.3.4]:53", NULL, 0, "invalid IPv6 address" },
	{ "[]:53", NULL, 0, "invalid IPv6 address" },
	{ "1.2.3.4:99999", NULL, 0, "port out of range" },
	{ "1.2.3.4:5 3", NULL, 0, "invalid port" },
	{ "[::1]x53", NULL, 0, "invalid character after ']'" },
	{ "[fe80::1%nosuchif0]:53", NULL, 0, "unknown interface" },
	{ "[fe80::1%99999999999]:53", NULL, 0, "invalid scope" }
};

static const struct numeric_test {
	const char	*host;
	uint16_t	 port;
	const char	*str;	/* NULL: must fail */
} numeric_tests[] = {
	{ "", 80, "0.0.0.0:80" },
	{ NULL, 80, "0.0.0.0:80" },
	{ "127.0.0.1", 8080, "127.0.0.1:8080" },
	{ "::1", 22, "[::1]:22" },
	{ "fe80::1%lo", 53, "[fe80::1%lo]:53" },
	{ "::", 0, "[::]:0" },
	{ "localhost", 80, NULL },
	{ "gw.example", 80, NULL },
	{ "[::1]", 80, NULL },
	{ "1.2.3", 80, NULL },
	{ "1.2.3.4:80", 80, NULL },
	{ "fe80::1%", 80, NULL }
};

static const struct cidr_test {
	const char	*in;
	const char	*net;	/* the network address, host bits zero */
	int		 prefix;
	uint16_t	 lo;
	uint16_t	 hi;
	const char	*err;
} cidr_tests[] = {
	{ "10.0.0.0/8", "10.0.0.0", 8, 0, 0, NULL },
	{ "10.0.0.0/8:1-65535", "10.0.0.0", 8, 1, 65535, NULL },
	{ "10.0.0.0/8:53", "10.0.0.0", 8, 53, 53, NULL },
	{ "127.0.0.1:8080", "127.0.0.1", 32, 8080, 8080, NULL },
	{ "127.0.0.1", "127.0.0.1", 32, 0, 0, NULL },
	{ "::/0", "::", 0, 0, 0, NULL },
	{ "[::1]:53", "::1", 128, 53, 53, NULL },
	{ "[::1]", "::1", 128, 0, 0, NULL },
	{ "[2001:db8::]/32:80-90", "2001:db8::", 32, 80, 90, NULL },
	{ "2001:db8::/32", "2001:db8::", 32, 0, 0, NULL },
	{ "10.1.2.3/8", "10.0.0.0", 8, 0, 0, NULL },
	{ "192.168.1.255/23", "192.168.0.0", 23, 0, 0, NULL },
	{ "2001:db8:ffff::1/33", "2001:db8:8000::", 33, 0, 0, NULL },
	{ "0.0.0.0/0", "0.0.0.0", 0, 0, 0, NULL },
	{ "1.2.3.4/0", "0.0.0.0", 0, 0, 0, NULL },
	{ "::1:53", "::1:53", 128, 0, 0, NULL },
	{ "10.0.0.0/8:7-7", "10.0.0.0", 8, 7, 7, NULL },
	{ "", NULL, 0, 0, 0, "empty address" },
	{ "/8", NULL, 0, 0, 0, "missing address" },
	{ ":53", NULL, 0, 0, 0, "missing address" },
	{ "10.0.0.0/33", NULL, 0, 0, 0, "prefix length out of range" },
	{ "::/129", NULL, 0, 0, 0, "prefix length out of range" },
	{ "10.0.0.0/0008", NULL, 0, 0, 0, "prefix length out of range" },
	{ "10.0.0.0/", NULL, 0, 0, 0, "missing prefix length" },
	{ "10.0.0.0/:53", NULL, 0, 0, 0, "missing prefix length" },
	{ "10.0.0.0/x", NULL, 0, 0, 0, "invalid prefix length" },
	{ "10.0.0.0/8x", NULL, 0, 0, 0, "invalid prefix length" },
	{ "10.0.0.0/-8", NULL, 0, 0, 0, "invalid prefix length" },
	{ "10.0.0.0/8:", NULL, 0, 0, 0, "missing port" },
	{ "10.0.0.0/8:1-", NULL, 0, 0, 0, "missing port" },
	{ "10.0.0.0/8:-9", NULL, 0, 0, 0, "missing port" },
	{ "10.0.0.0/8:0", NULL, 0, 0, 0, "port out of range" },
	{ "10.0.0.0/8:0-5", NULL, 0, 0, 0, "port out of range" },
	{ "10.0.0.0/8:65536", NULL, 0, 0, 0, "port out of range" },
	{ "10.0.0.0/8:90-80", NULL, 0, 0, 0, "invalid port range" },
	{ "10.0.0.0/8:a", NULL, 0, 0, 0, "invalid port" },
	{ "10.0.0.0/8:1-2-3", NULL, 0, 0, 0, "invalid port" },
	{ "2001:db8::/32:80", NULL, 0, 0, 0,
	    "IPv6 address must be in brackets" },
	{ "[::1", NULL, 0, 0, 0, "unterminated '['" },
	{ "[::1]x", NULL, 0, 0, 0, "invalid character after ']'" },
	{ "[]", NULL, 0, 0, 0, "invalid IPv6 address" },
	{ "[1.2.3.4]:53", NULL, 0, 0, 0, "invalid IPv6 address" },
	{ "10.0.0/8", NULL, 0, 0, 0, "invalid IPv4 address" },
	{ "host.example/8", NULL, 0, 0, 0, "invalid IPv4 address" },
	{ "fe80::1%lo/64", NULL, 0, 0, 0, "scope not allowed" },
	{ " 10.0.0.0/8", NULL, 0, 0, 0, "invalid IPv4 address" }
};

static const struct match_test {
	const char	*cidr;
	const char	*addr;	/* for addr_parse */
	int		 want;
} match_tests[] = {
	{ "10.0.0.0/8", "10.1.2.3:80", 1 },
	{ "10.0.0.0/8", "11.0.0.1:80", 0 },
	{ "10.0.0.0/8", "9.255.255.255:80", 0 },
	{ "10.0.0.0/8:53", "10.0.0.1:53", 1 },
	{ "10.0.0.0/8:53", "10.0.0.1:54", 0 },
	{ "10.0.0.0/8:1-65535", "10.0.0.1:65535", 1 },
	{ "10.0.0.0/8:1-65535", "10.0.0.1:0", 0 },
	{ "10.0.0.0/8", "[::ffff:10.1.1.1]:9", 1 },
	{ "10.0.0.0/8:53", "[::ffff:10.1.1.1]:53", 1 },
	{ "10.0.0.0/8:53", "[::ffff:10.1.1.1]:54", 0 },
	{ "10.0.0.0/8", "[::ffff:11.1.1.1]:9", 0 },
	{ "10.0.0.0/8", "[::a00:1]:1", 0 },
	{ "::/0", "[2001:db8::1]:1", 1 },
	{ "::/0", "1.2.3.4:1", 0 },
	{ "::/0", "[::ffff:1.2.3.4]:1", 0 },
	{ "0.0.0.0/0", "[::1]:1", 0 },
	{ "::ffff:10.0.0.0/104", "10.1.1.1:5", 1 },
	{ "::ffff:10.0.0.0/104", "[::ffff:10.1.1.1]:5", 1 },
	{ "::ffff:10.0.0.0/104", "11.1.1.1:5", 0 },
	{ "[2001:db8::]/32:80-90", "[2001:db8:1::5]:85", 1 },
	{ "[2001:db8::]/32:80-90", "[2001:db8:1::5]:80", 1 },
	{ "[2001:db8::]/32:80-90", "[2001:db8:1::5]:90", 1 },
	{ "[2001:db8::]/32:80-90", "[2001:db8:1::5]:91", 0 },
	{ "[2001:db8::]/32:80-90", "[2001:db9::5]:85", 0 },
	{ "127.0.0.1:8080", "127.0.0.1:8080", 1 },
	{ "127.0.0.1:8080", "127.0.0.2:8080", 0 },
	{ "127.0.0.1", "127.0.0.1:1", 1 },
	{ "0.0.0.0/0", "255.255.255.255:1", 1 },
	{ "192.168.0.0/23", "192.168.1.200:1", 1 },
	{ "192.168.0.0/23", "192.168.2.1:1", 0 },
	{ "2001:db8::/33", "[2001:db8:7fff::1]:1", 1 },
	{ "2001:db8::/33", "[2001:db8:8000::1]:1", 0 },
	{ "[fe80::]/10", "[fe80::1%lo]:1", 1 }
};

/* Pairs in increasing order: addr_cmp(a, b) < 0. */
static const struct cmp_test {
	const char	*a;
	const char	*b;
	int		 want;	/* sign */
} cmp_tests[] = {
	{ "1.2.3.4:53", "1.2.3.4:53", 0 },
	{ "[::1]:53", "[::1]:53", 0 },
	{ "1.2.3.4:53", "1.2.3.5:1", -1 },
	{ "1.2.3.4:53", "1.2.3.4:54", -1 },
	{ "1.2.3.4:2", "1.2.3.4:256", -1 },
	{ "9.0.0.0:1", "10.0.0.0:1", -1 },
	{ "255.255.255.255:65535", "[::]:0", -1 },
	{ "[::1]:1", "[::2]:1", -1 },
	{ "[::1]:2", "[::1]:256", -1 },
	{ "[fe80::1%1]:1", "[fe80::1%2]:1", -1 },
	{ "[fe80::1%9]:1", "[fe80::2%1]:1", -1 },
	{ "[fe80::1%9]:1", "[fe80::1%1]:2", -1 }
};

static const struct fmt_test {
	uint64_t	 in;
	const char	*want;
} fmt_duration_tests[] = {
	{ 0, "0s" },
	{ 1, "1ms" },
	{ 250, "250ms" },
	{ 1000, "1s" },
	{ 1001, "1s1ms" },
	{ 30000, "30s" },
	{ 90000, "1m30s" },
	{ 300000, "5m" },
	{ 3600000, "1h" },
	{ 5400000, "1h30m" },
	{ 86400000, "1d" },
	{ 172800000, "2d" },
	{ 172800001, "2d1ms" },
	{ 93784005, "1d2h3m4s5ms" },
	{ UINT64_MAX, "213503982334d14h25m51s615ms" }
}, fmt_size_tests[] = {
	{ 0, "0" },
	{ 1, "1" },
	{ 1000, "1000" },
	{ 1023, "1023" },
	{ 1024, "1KiB" },
	{ 1536, "1536" },
	{ 65536, "64KiB" },
	{ 1024000, "1000KiB" },
	{ 1048576, "1MiB" },
	{ 3ULL << 30, "3GiB" },
	{ 1ULL << 40, "1TiB" },
	{ 1ULL << 50, "1PiB" },
	{ 15ULL << 60, "15EiB" },
	{ UINT64_MAX, "18446744073709551615" },
	{ UINT64_MAX - 1023, "18014398509481983KiB" }
};

/*
 * The 64 SipHash-2-4 vectors published with the reference code: key
 * 00 01 .. 0f, message 00 01 .. (i - 1) of length i, digest as
 * little-endian bytes.
 */
static const uint8_t siphash_vectors[64][8] = {
	{ 0x31, 0x0e, 0x0e, 0xdd, 0x47, 0xdb, 0x6f, 0x72 },
	{ 0xfd, 0x67, 0xdc, 0x93, 0xc5, 0x39, 0xf8, 0x74 },
	{ 0x5a, 0x4f, 0xa9, 0xd9, 0x09, 0x80, 0x6c, 0x0d },
	{ 0x2d, 0x7e, 0xfb, 0xd7, 0x96, 0x66, 0x67, 0x85 },
	{ 0xb7, 0x87, 0x71, 0x27, 0xe0, 0x94, 0x27, 0xcf },
	{ 0x8d, 0xa6, 0x99, 0xcd, 0x64, 0x55, 0x76, 0x18 },
	{ 0xce, 0xe3, 0xfe, 0x58, 0x6e, 0x46, 0xc9, 0xcb },
	{ 0x37, 0xd1, 0x01, 0x8b, 0xf5, 0x00, 0x02, 0xab },
	{ 0x62, 0x24, 0x93, 0x9a, 0x79, 0xf5, 0xf5, 0x93 },
	{ 0xb0, 0xe4, 0xa9, 0x0b, 0xdf, 0x82, 0x00, 0x9e },
	{ 0xf3, 0xb9, 0xdd, 0x94, 0xc5, 0xbb, 0x5d, 0x7a },
	{ 0xa7, 0xad, 0x6b, 0x22, 0x46, 0x2f, 0xb3, 0xf4 },
	{ 0xfb, 0xe5, 0x0e, 0x86, 0xbc, 0x8f, 0x1e, 0x75 },
	{ 0x90, 0x3d, 0x84, 0xc0, 0x27, 0x56, 0xea, 0x14 },
	{ 0xee, 0xf2, 0x7a, 0x8e, 0x90, 0xca, 0x23, 0xf7 },
	{ 0xe5, 0x45, 0xbe, 0x49, 0x61, 0xca, 0x29, 0xa1 },
	{ 0xdb, 0x9b, 0xc2, 0x57, 0x7f, 0xcc, 0x2a, 0x3f },
	{ 0x94, 0x47, 0xbe, 0x2c, 0xf5, 0xe9, 0x9a, 0x69 },
	{ 0x9c, 0xd3, 0x8d, 0x96, 0xf0, 0xb3, 0xc1, 0x4b },
	{ 0xbd, 0x61, 0x79, 0xa7, 0x1d, 0xc9, 0x6d, 0xbb },
	{ 0x98, 0xee, 0xa2, 0x1a, 0xf2, 0x5c, 0xd6, 0xbe },
	{ 0xc7, 0x67, 0x3b, 0x2e, 0xb0, 0xcb, 0xf2, 0xd0 },
	{ 0x88, 0x3e, 0xa3, 0xe3, 0x95, 0x67, 0x53, 0x93 },
	{ 0xc8, 0xce, 0x5c, 0xcd, 0x8c, 0x03, 0x0c, 0xa8 },
	{ 0x94, 0xaf, 0x49, 0xf6, 0xc6, 0x50, 0xad, 0xb8 },
	{ 0xea, 0xb8, 0x85, 0x8a, 0xde, 0x92, 0xe1, 0xbc },
	{ 0xf3, 0x15, 0xbb, 0x5b, 0xb8, 0x35, 0xd8, 0x17 },
	{ 0xad, 0xcf, 0x6b, 0x07, 0x63, 0x61, 0x2e, 0x2f },
	{ 0xa5, 0xc9, 0x1d, 0xa7, 0xac, 0xaa, 0x4d, 0xde },
	{ 0x71, 0x65, 0x95, 0x87, 0x66, 0x50, 0xa2, 0xa6 },
	{ 0x28, 0xef, 0x49, 0x5c, 0x53, 0xa3, 0x87, 0xad },
	{ 0x42, 0xc3, 0x41, 0xd8, 0xfa, 0x92, 0xd8, 0x32 },
	{ 0xce, 0x7c, 0xf2, 0x72, 0x2f, 0x51, 0x27, 0x71 },
	{ 0xe3, 0x78, 0x59, 0xf9, 0x46, 0x23, 0xf3, 0xa7 },
	{ 0x38, 0x12, 0x05, 0xbb, 0x1a, 0xb0, 0xe0, 0x12 },
	{ 0xae, 0x97, 0xa1, 0x0f, 0xd4, 0x34, 0xe0, 0x15 },
	{ 0xb4, 0xa3, 0x15, 0x08, 0xbe, 0xff, 0x4d, 0x31 },
	{ 0x81, 0x39, 0x62, 0x29, 0xf0, 0x90, 0x79, 0x02 },
	{ 0x4d, 0x0c, 0xf4, 0x9e, 0xe5, 0xd4, 0xdc, 0xca },
	{ 0x5c, 0x73, 0x33, 0x6a, 0x76, 0xd8, 0xbf, 0x9a },
	{ 0xd0, 0xa7, 0x04, 0x53, 0x6b, 0xa9, 0x3e, 0x0e },
	{ 0x92, 0x59, 0x58, 0xfc, 0xd6, 0x42, 0x0c, 0xad },
	{ 0xa9, 0x15, 0xc2, 0x9b, 0xc8, 0x06, 0x73, 0x18 },
	{ 0x95, 0x2b, 0x79, 0xf3, 0xbc, 0x0a, 0xa6, 0xd4 },
	{ 0xf2, 0x1d, 0xf2, 0xe4, 0x1d, 0x45, 0x35, 0xf9 },
	{ 0x87, 0x57, 0x75, 0x19, 0x04, 0x8f, 0x53, 0xa9 },
	{ 0x10, 0xa5, 0x6c, 0xf5, 0xdf, 0xcd, 0x9a, 0xdb },
	{ 0xeb, 0x75, 0x09, 0x5c, 0xcd, 0x98, 0x6c, 0xd0 },
	{ 0x51, 0xa9, 0xcb, 0x9e, 0xcb, 0xa3, 0x12, 0xe6 },
	{ 0x96, 0xaf, 0xad, 0xfc, 0x2c, 0xe6, 0x66, 0xc7 },
	{ 0x72, 0xfe, 0x52, 0x97, 0x5a, 0x43, 0x64, 0xee },
	{ 0x5a, 0x16, 0x45, 0xb2, 0x76, 0xd5, 0x92, 0xa1 },
	{ 0xb2, 0x74, 0xcb, 0x8e, 0xbf, 0x87, 0x87, 0x0a },
	{ 0x6f, 0x9b, 0xb4, 0x20, 0x3d, 0xe7, 0xb3, 0x81 },
	{ 0xea, 0xec, 0xb2, 0xa3, 0x0b, 0x22, 0xa8, 0x7f },
	{ 0x99, 0x24, 0xa4, 0x3c, 0xc1, 0x31, 0x57, 0x24 },
	{ 0xbd, 0x83, 0x8d, 0x3a, 0xaf, 0xbf, 0x8d, 0xb7 },
	{ 0x0b, 0x1a, 0x2a, 0x32, 0x65, 0xd5, 0x1a, 0xea },
	{ 0x13, 0x50, 0x79, 0xa3, 0x23, 0x1c, 0xe6, 0x60 },
	{ 0x93, 0x2b, 0x28, 0x46, 0xe4, 0xd7, 0x06, 0x66 },
	{ 0xe1, 0x91, 0x5f, 0x5c, 0xb1, 0xec, 0xa4, 0x6c },
	{ 0xf3, 0x25, 0x96, 0x5c, 0xa1, 0x6d, 0x62, 0x9f },
	{ 0x57, 0x5f, 0xf2, 0x8e, 0x60, 0x38, 0x1b, 0xe5 },
	{ 0x72, 0x45, 0x06, 0xeb, 0x4c, 0x32, 0x8a, 0x95 }
};

static void
ref_key(uint8_t key[16])
{
	int	i;

	for (i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
}

/* Parse a test address or fail the test. */
static void
must_addr(const char *s, struct sockaddr_storage *ss)
{
	const char	*errstr = NULL;
	socklen_t	 len;

	ck_assert_msg(addr_parse(s, ss, &len, &errstr) == 0,
	    "addr_parse(\"%s\"): %s", s, errstr);
}

/* A long string of one character, for the never-crash checks. */
static char *
long_string(int c, size_t len)
{
	char	*s;

	s = malloc(len + 1);
	ck_assert_ptr_nonnull(s);
	memset(s, c, len);
	s[len] = '\0';
	return (s);
}

START_TEST(test_util_duration_table)
{
	const struct num_test	*t = &duration_tests[_i];
	const char		*errstr = NULL;
	uint64_t		 v = SENTINEL;
	int			 r;

	r = parse_duration(t->in, &v, &errstr);
	if (t->err == NULL) {
		ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
		ck_assert_uint_eq(v, t->want);
	} else {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_uint_eq(v, SENTINEL);
	}
}
END_TEST

START_TEST(test_util_size_table)
{
	const struct num_test	*t = &size_tests[_i];
	const char		*errstr = NULL;
	uint64_t		 v = SENTINEL;
	int			 r;

	r = parse_size(t->in, &v, &errstr);
	if (t->err == NULL) {
		ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
		ck_assert_uint_eq(v, t->want);
	} else {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_uint_eq(v, SENTINEL);
	}
}
END_TEST

START_TEST(test_util_uint_table)
{
	const struct uint_test	*t = &uint_tests[_i];
	const char		*errstr = NULL;
	uint64_t		 v = SENTINEL;
	int			 r;

	r = parse_uint(t->in, t->min, t->max, &v, &errstr);
	if (t->err == NULL) {
		ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
		ck_assert_uint_eq(v, t->want);
	} else {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_uint_eq(v, SENTINEL);
	}
}
END_TEST

START_TEST(test_util_bool_table)
{
	const struct bool_test	*t = &bool_tests[_i];
	const char		*errstr = NULL;
	int			 v = 42, r;

	r = parse_bool(t->in, &v, &errstr);
	if (t->want != -1) {
		ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
		ck_assert_int_eq(v, t->want);
	} else {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, "invalid boolean");
		ck_assert_int_eq(v, 42);
	}
}
END_TEST

/* The scalar parsers survive huge inputs and NULL. */
START_TEST(test_util_scalar_long_input)
{
	const char	*errstr;
	uint64_t	 v;
	char		*s;
	int		 b;

	s = long_string('9', 100000);
	ck_assert_int_eq(parse_duration(s, &v, &errstr), -1);
	ck_assert_str_eq(errstr, "value out of range");
	ck_assert_int_eq(parse_size(s, &v, &errstr), -1);
	ck_assert_int_eq(parse_uint(s, 0, UINT64_MAX, &v, &errstr), -1);
	free(s);
	s = long_string('s', 100000);
	ck_assert_int_eq(parse_duration(s, &v, &errstr), -1);
	ck_assert_str_eq(errstr, "missing number");
	ck_assert_int_eq(parse_bool(s, &b, &errstr), -1);
	free(s);
	s = long_string('0', 100000);
	ck_assert_int_eq(parse_uint(s, 0, 0, &v, &errstr), 0);
	ck_assert_uint_eq(v, 0);
	free(s);
	ck_assert_int_eq(parse_duration(NULL, &v, &errstr), -1);
	ck_assert_int_eq(parse_size(NULL, &v, &errstr), -1);
	ck_assert_int_eq(parse_uint(NULL, 0, 1, &v, &errstr), -1);
	ck_assert_int_eq(parse_bool(NULL, &b, &errstr), -1);
}
END_TEST

START_TEST(test_util_url_table)
{
	const struct url_test	*t = &url_tests[_i];
	struct url		 u, orig;
	const char		*errstr = NULL;
	int			 r;

	memset(&u, 0xa5, sizeof(u));
	orig = u;
	r = url_parse(t->in, &u, &errstr);
	if (t->err == NULL) {
		ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
		ck_assert_str_eq(u.scheme, t->scheme);
		ck_assert_str_eq(u.host, t->host);
		ck_assert_uint_eq(u.port, t->port);
		ck_assert_int_eq(u.has_port, t->has_port);
		ck_assert_str_eq(u.path, t->path);
	} else {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_msg(memcmp(&u, &orig, sizeof(u)) == 0,
		    "\"%s\": output changed on failure", t->in);
	}
}
END_TEST

/* Names at the length limits, and inputs far beyond them. */
START_TEST(test_util_url_limits)
{
	struct url	 u;
	const char	*errstr;
	char		 buf[1024], label[64];
	char		*s;

	memset(label, 'a', 63);
	label[63] = '\0';
	/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 bytes. */
	snprintf(buf, sizeof(buf), "tcp://%s.%s.%s.%.61s:1", label, label,
	    label, label);
	ck_assert_int_eq(url_parse(buf, &u, &errstr), 0);
	ck_assert_uint_eq(strlen(u.host), 253);
	snprintf(buf, sizeof(buf), "tcp://%s.%s.%s.%.61s.:1", label, label,
	    label, label);
	ck_assert_int_eq(url_parse(buf, &u, &errstr), 0);
	ck_assert_uint_eq(strlen(u.host), 254);
	snprintf(buf, sizeof(buf), "tcp://%s.%s.%s.%.62s:1", label, label,
	    label, label);
	ck_assert_int_eq(url_parse(buf, &u, &errstr), -1);
	ck_assert_str_eq(errstr, "host name too long");

	/* 255-byte paths fit, 256 do not. */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, "ws://h/", 7);
	memset(buf + 7, 'p', 254);
	ck_assert_int_eq(url_parse(buf, &u, &errstr), 0);
	ck_assert_uint_eq(strlen(u.path), 255);
	buf[7 + 254] = 'p';
	ck_assert_int_eq(url_parse(buf, &u, &errstr), -1);
	ck_assert_str_eq(errstr, "path too long");

	s = long_string('a', 1 << 20);
	ck_assert_int_eq(url_parse(s, &u, &errstr), -1);
	ck_assert_str_eq(errstr, "missing \"://\"");
	memcpy(s, "udp://", 6);
	ck_assert_int_eq(url_parse(s, &u, &errstr), -1);
	ck_assert_str_eq(errstr, "host name too long");
	s[6] = '[';
	ck_assert_int_eq(url_parse(s, &u, &errstr), -1);
	ck_assert_str_eq(errstr, "unterminated '['");
	s[(1 << 20) - 1] = ']';
	ck_assert_int_eq(url_parse(s, &u, &errstr), -1);
	ck_assert_str_eq(errstr, "invalid IPv6 address");
	free(s);
	ck_assert_int_eq(url_parse(NULL, &u, &errstr), -1);
}
END_TEST

START_TEST(test_util_addr_table)
{
	const struct addr_test	*t = &addr_tests[_i];
	struct sockaddr_storage	 ss;
	const char		*errstr = NULL;
	char			 buf[ADDRSTRLEN];
	socklen_t		 len = 12345;
	int			 r;

	memset(&ss, 0xa5, sizeof(ss));
	r = addr_parse(t->in, &ss, &len, &errstr);
	if (t->err == NULL) {
		ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
		ck_assert_int_eq(ss.ss_family, t->family);
		ck_assert_uint_eq(len, t->family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
		ck_assert_str_eq(addr_str((struct sockaddr *)&ss, buf,
		    sizeof(buf)), t->str);
	} else {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_uint_eq(len, 12345);
	}
}
END_TEST

START_TEST(test_util_addr_numeric_table)
{
	const struct numeric_test *t = &numeric_tests[_i];
	struct sockaddr_storage	 ss;
	char			 buf[ADDRSTRLEN];
	socklen_t		 len;
	int			 r;

	r = addr_parse_numeric(t->host, t->port, &ss, &len);
	if (t->str == NULL)
		ck_assert_msg(r == -1, "\"%s\" parsed", t->host);
	else {
		ck_assert_msg(r == 0, "\"%s\" failed", t->host);
		ck_assert_str_eq(addr_str((struct sockaddr *)&ss, buf,
		    sizeof(buf)), t->str);
	}
}
END_TEST

/* The scope index is kept, and a numeric scope means the same interface. */
START_TEST(test_util_addr_scope)
{
	struct sockaddr_storage	 a, b;
	struct sockaddr_in6	*sin6;
	unsigned int		 lo;
	char			 buf[64];

	lo = if_nametoindex("lo");
	ck_assert_uint_ne(lo, 0);
	must_addr("[fe80::1%lo]:53", &a);
	sin6 = (struct sockaddr_in6 *)&a;
	ck_assert_uint_eq(sin6->sin6_scope_id, lo);
	snprintf(buf, sizeof(buf), "[fe80::1%%%u]:53", lo);
	must_addr(buf, &b);
	ck_assert_int_eq(addr_cmp((struct sockaddr *)&a,
	    (struct sockaddr *)&b), 0);
}
END_TEST

START_TEST(test_util_cidr_table)
{
	const struct cidr_test	*t = &cidr_tests[_i];
	struct cidr		 c, orig;
	const char		*errstr = NULL;
	const void		*ap;
	unsigned char		 want[16];
	int			 r;

	memset(&c, 0xa5, sizeof(c));
	orig = c;
	r = cidr_parse(t->in, &c, &errstr);
	if (t->err != NULL) {
		ck_assert_msg(r == -1, "\"%s\" parsed", t->in);
		ck_assert_str_eq(errstr, t->err);
		ck_assert_msg(memcmp(&c, &orig, sizeof(c)) == 0,
		    "\"%s\": output changed on failure", t->in);
		return;
	}
	ck_assert_msg(r == 0, "\"%s\": %s", t->in, errstr);
	if (c.addr.ss_family == AF_INET)
		ap = &((struct sockaddr_in *)&c.addr)->sin_addr;
	else {
		ck_assert_int_eq(c.addr.ss_family, AF_INET6);
		ap = &((struct sockaddr_in6 *)&c.addr)->sin6_addr;
		ck_assert_uint_eq(((struct sockaddr_in6 *)&c.addr)->
		    sin6_scope_id, 0);
	}
	/* Compare bytes: inet_ntop spells some IPv6 forms oddly. */
	ck_assert_int_eq(inet_pton(c.addr.ss_family, t->net, want), 1);
	ck_assert_msg(memcmp(ap, want, c.addr.ss_family == AF_INET ? 4 : 16)
	    == 0, "\"%s\": network is not %s", t->in, t->net);
	ck_assert_int_eq(c.prefix, t->prefix);
	ck_assert_uint_eq(c.port_lo, t->lo);
	ck_assert_uint_eq(c.port_hi, t->hi);
}
END_TEST

START_TEST(test_util_cidr_long_input)
{
	struct cidr	 c;
	const char	*errstr;
	char		*s;

	s = long_string('1', 100000);
	ck_assert_int_eq(cidr_parse(s, &c, &errstr), -1);
	s[3] = '/';
	ck_assert_int_eq(cidr_parse(s, &c, &errstr), -1);
	s[0] = '[';
	ck_assert_int_eq(cidr_parse(s, &c, &errstr), -1);
	ck_assert_str_eq(errstr, "unterminated '['");
	memcpy(s, "10.0.0.0/8:", 11);
	ck_assert_int_eq(cidr_parse(s, &c, &errstr), -1);
	ck_assert_str_eq(errstr, "port out of range");
	free(s);
	ck_assert_int_eq(cidr_parse(NULL, &c, &errstr), -1);
}
END_TEST

START_TEST(test_util_match_table)
{
	const struct match_test	*t = &match_tests[_i];
	struct sockaddr_storage	 ss;
	struct cidr		 c;
	const char		*errstr = NULL;

	ck_assert_msg(cidr_parse(t->cidr, &c, &errstr) == 0, "\"%s\": %s",
	    t->cidr, errstr);
	must_addr(t->addr, &ss);
	ck_assert_msg(cidr_match(&c, (struct sockaddr *)&ss) == t->want,
	    "%s in %s: want %d", t->addr, t->cidr, t->want);
}
END_TEST

/* Odd inputs: NULL, unknown families, prefixes a caller made up. */
START_TEST(test_util_match_odd)
{
	struct sockaddr_storage	 ss;
	struct cidr		 c;
	const char		*errstr;

	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c, &errstr), 0);
	must_addr("1.2.3.4:5", &ss);
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 1);
	ck_assert_int_eq(cidr_match(NULL, (struct sockaddr *)&ss), 0);
	ck_assert_int_eq(cidr_match(&c, NULL), 0);
	c.prefix = 33;
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 0);
	c.prefix = -1;
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 0);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	c.prefix = 0;
	ck_assert_int_eq(cidr_match(&c, (struct sockaddr *)&ss), 0);
}
END_TEST

/* addr_str truncates to any size and always terminates. */
START_TEST(test_util_addr_str_truncate)
{
	struct sockaddr_in6	 sin6;
	struct sockaddr_storage	 ss;
	char			 buf[ADDRSTRLEN], full[ADDRSTRLEN];
	size_t			 n;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	memset(&sin6.sin6_addr, 0xff, 16);
	sin6.sin6_port = htons(65535);
	sin6.sin6_scope_id = UINT32_MAX;	/* no such interface */
	addr_str((struct sockaddr *)&sin6, full, sizeof(full));
	ck_assert_str_eq(full,
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff%4294967295]:65535");
	ck_assert_uint_lt(strlen(full), ADDRSTRLEN);
	for (n = 1; n <= sizeof(buf); n++) {
		memset(buf, 'x', sizeof(buf));
		ck_assert_ptr_eq(addr_str((struct sockaddr *)&sin6, buf, n),
		    buf);
		ck_assert_uint_eq(strlen(buf), strlen(full) < n - 1 ?
		    strlen(full) : n - 1);
		ck_assert_int_eq(strncmp(buf, full, n - 1), 0);
	}
	ck_assert_str_eq(addr_str((struct sockaddr *)&sin6, NULL, 0), "");
	ck_assert_str_eq(addr_str(NULL, buf, sizeof(buf)), "unknown");
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	ck_assert_str_eq(addr_str((struct sockaddr *)&ss, buf, sizeof(buf)),
	    "unknown");
}
END_TEST

START_TEST(test_util_addr_cmp_table)
{
	const struct cmp_test	*t = &cmp_tests[_i];
	struct sockaddr_storage	 a, b;
	int			 r1, r2;

	must_addr(t->a, &a);
	must_addr(t->b, &b);
	r1 = addr_cmp((struct sockaddr *)&a, (struct sockaddr *)&b);
	r2 = addr_cmp((struct sockaddr *)&b, (struct sockaddr *)&a);
	ck_assert_msg((r1 > 0) - (r1 < 0) == t->want, "%s vs %s: %d", t->a,
	    t->b, r1);
	ck_assert_msg((r2 > 0) - (r2 < 0) == -t->want, "%s vs %s: %d", t->b,
	    t->a, r2);
	ck_assert_int_eq(addr_cmp((struct sockaddr *)&a,
	    (struct sockaddr *)&a), 0);
}
END_TEST

START_TEST(test_util_addr_cmp_null)
{
	struct sockaddr_storage	a;

	must_addr("1.2.3.4:5", &a);
	ck_assert_int_eq(addr_cmp(NULL, NULL), 0);
	ck_assert_int_lt(addr_cmp(NULL, (struct sockaddr *)&a), 0);
	ck_assert_int_gt(addr_cmp((struct sockaddr *)&a, NULL), 0);
}
END_TEST

START_TEST(test_util_siphash_vectors)
{
	uint8_t		 key[16], msg[64], unaligned[65];
	uint64_t	 want = 0;
	int		 i;

	ref_key(key);
	for (i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (i = 7; i >= 0; i--)
		want = (want << 8) | siphash_vectors[_i][i];
	ck_assert_uint_eq(siphash24(msg, (size_t)_i, key), want);
	memcpy(unaligned + 1, msg, (size_t)_i);
	ck_assert_uint_eq(siphash24(unaligned + 1, (size_t)_i, key), want);
}
END_TEST

START_TEST(test_util_siphash_reference)
{
	uint8_t	key[16], msg[15];
	int	i;

	ref_key(key);
	for (i = 0; i < 15; i++)
		msg[i] = (uint8_t)i;
	ck_assert_uint_eq(siphash24(msg, sizeof(msg), key),
	    0xa129ca6149be45e5ULL);
	ck_assert_uint_eq(siphash24(NULL, 0, key), 0x726fdb47dd0e0e31ULL);
}
END_TEST

/* addr_hash covers family, port and address, and never the padding. */
START_TEST(test_util_addr_hash)
{
	struct sockaddr_storage	 a, b;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	uint8_t			 key[16], key2[16], raw[20];

	ref_key(key);
	memset(key2, 7, sizeof(key2));
	memset(&a, 0, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	sin = (struct sockaddr_in *)&a;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	inet_pton(AF_INET, "10.0.0.1", &sin->sin_addr);
	sin = (struct sockaddr_in *)&b;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53);
	inet_pton(AF_INET, "10.0.0.1", &sin->sin_addr);
	ck_assert_uint_eq(addr_hash((struct sockaddr *)&a, key),
	    addr_hash((struct sockaddr *)&b, key));

	/* The layout: family (little-endian 16 bits), port, address. */
	raw[0] = AF_INET;
	raw[1] = 0;
	memcpy(raw + 2, &sin->sin_port, 2);
	memcpy(raw + 4, &sin->sin_addr, 4);
	ck_assert_uint_eq(addr_hash((struct sockaddr *)&b, key),
	    siphash24(raw, 8, key));
	ck_assert_uint_ne(addr_hash((struct sockaddr *)&a, key),
	    addr_hash((struct sockaddr *)&a, key2));
	sin->sin_port = htons(54);
	ck_assert_uint_ne(addr_hash((struct sockaddr *)&a, key),
	    addr_hash((struct sockaddr *)&b, key));

	memset(&a, 0, sizeof(a));
	memset(&b, 0xa5, sizeof(b));
	must_addr("[2001:db8::1]:443", &a);
	sin6 = (struct sockaddr_in6 *)&b;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(443);
	sin6->sin6_flowinfo = 0x12345;
	inet_pton(AF_INET6, "2001:db8::1", &sin6->sin6_addr);
	ck_assert_uint_eq(addr_hash((struct sockaddr *)&a, key),
	    addr_hash((struct sockaddr *)&b, key));
	raw[0] = AF_INET6;
	raw[1] = 0;
	memcpy(raw + 2, &sin6->sin6_port, 2);
	memcpy(raw + 4, &sin6->sin6_addr, 16);
	ck_assert_uint_eq(addr_hash((struct sockaddr *)&b, key),
	    siphash24(raw, 20, key));
}
END_TEST

START_TEST(test_util_fmt_duration_table)
{
	const struct fmt_test	*t = &fmt_duration_tests[_i];
	const char		*errstr = NULL;
	char			 buf[64];
	uint64_t		 back;

	ck_assert_str_eq(fmt_duration(t->in, buf, sizeof(buf)), t->want);
	ck_assert_msg(parse_duration(buf, &back, &errstr) == 0, "%s: %s",
	    buf, errstr);
	ck_assert_uint_eq(back, t->in);
}
END_TEST

START_TEST(test_util_fmt_size_table)
{
	const struct fmt_test	*t = &fmt_size_tests[_i];
	const char		*errstr = NULL;
	char			 buf[64];
	uint64_t		 back;

	ck_assert_str_eq(fmt_size(t->in, buf, sizeof(buf)), t->want);
	ck_assert_msg(parse_size(buf, &back, &errstr) == 0, "%s: %s", buf,
	    errstr);
	ck_assert_uint_eq(back, t->in);
}
END_TEST

/* Formatting into short buffers truncates and terminates. */
START_TEST(test_util_fmt_truncate)
{
	char	buf[8];

	memset(buf, 'x', sizeof(buf));
	ck_assert_str_eq(fmt_duration(5400000, buf, 3), "1h");
	ck_assert_str_eq(fmt_duration(93784005, buf, sizeof(buf)), "1d2h3m4");
	ck_assert_str_eq(fmt_size(65536, buf, 3), "64");
	ck_assert_str_eq(fmt_size(1000, buf, 1), "");
	ck_assert_str_eq(fmt_size(1000, NULL, 0), "");
	ck_assert_str_eq(fmt_duration(1, NULL, 0), "");
}
END_TEST

/* Durations round-trip over a spread of values. */
START_TEST(test_util_fmt_roundtrip)
{
	char		 buf[64];
	const char	*errstr;
	uint64_t	 v, back, x = 0x9e3779b97f4a7c15ULL;
	int		 i;

	for (i = 0; i < 2000; i++) {
		/* xorshift; shifted right to cover every magnitude */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		v = x >> (i % 64);
		fmt_duration(v, buf, sizeof(buf));
		ck_assert_int_eq(parse_duration(buf, &back, &errstr), 0);
		ck_assert_uint_eq(back, v);
		fmt_size(v, buf, sizeof(buf));
		ck_assert_int_eq(parse_size(buf, &back, &errstr), 0);
		ck_assert_uint_eq(back, v);
		fmt_size(v << 10, buf, sizeof(buf));
		ck_assert_int_eq(parse_size(buf, &back, &errstr), 0);
		ck_assert_uint_eq(back, v << 10);
	}
}
END_TEST

START_TEST(test_util_now_ms)
{
	struct timespec	ts = { 0, 20 * 1000 * 1000 };
	uint64_t	a, b;

	a = now_ms();
	nanosleep(&ts, NULL);
	b = now_ms();
	ck_assert_uint_ge(b, a + 19);
	ck_assert_uint_lt(b, a + 5000);
}
END_TEST

START_TEST(test_util_xalloc)
{
	unsigned char	*p;
	char		*s;
	size_t		 i;

	p = xcalloc(16, 4);
	for (i = 0; i < 64; i++)
		ck_assert_uint_eq(p[i], 0);
	free(p);
	p = xcalloc(0, 0);
	ck_assert_ptr_nonnull(p);
	free(p);
	s = xstrdup("flowgate");
	ck_assert_str_eq(s, "flowgate");
	free(s);
	ck_assert_int_eq(xasprintf(&s, "%s:%d", "udp", 53), 6);
	ck_assert_str_eq(s, "udp:53");
	free(s);
}
END_TEST

/*
 * An impossible allocation must end the process through fatal().  Under
 * AddressSanitizer calloc overflow aborts inside ASan instead.
 */
#if defined(__SANITIZE_ADDRESS__)
#define UTIL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UTIL_ASAN 1
#endif
#endif
#ifndef UTIL_ASAN
START_TEST(test_util_xcalloc_fatal)
{
	void	*p;

	p = xcalloc(SIZE_MAX, 2);
	free(p);
}
END_TEST
#endif

static Suite *
util_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("util");

	tc = tcase_create("duration");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_duration_table, 0,
	    nitems(duration_tests));
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_size_table, 0, nitems(size_tests));
	suite_add_tcase(s, tc);

	tc = tcase_create("scalar");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_uint_table, 0, nitems(uint_tests));
	tcase_add_loop_test(tc, test_util_bool_table, 0, nitems(bool_tests));
	tcase_add_test(tc, test_util_scalar_long_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("url");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_url_table, 0, nitems(url_tests));
	tcase_add_test(tc, test_util_url_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_addr_table, 0, nitems(addr_tests));
	tcase_add_loop_test(tc, test_util_addr_numeric_table, 0,
	    nitems(numeric_tests));
	tcase_add_test(tc, test_util_addr_scope);
	tcase_add_test(tc, test_util_addr_str_truncate);
	tcase_add_loop_test(tc, test_util_addr_cmp_table, 0,
	    nitems(cmp_tests));
	tcase_add_test(tc, test_util_addr_cmp_null);
	suite_add_tcase(s, tc);

	tc = tcase_create("cidr");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_cidr_table, 0, nitems(cidr_tests));
	tcase_add_test(tc, test_util_cidr_long_input);
	tcase_add_loop_test(tc, test_util_match_table, 0, nitems(match_tests));
	tcase_add_test(tc, test_util_match_odd);
	suite_add_tcase(s, tc);

	tc = tcase_create("hash");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_siphash_vectors, 0,
	    nitems(siphash_vectors));
	tcase_add_test(tc, test_util_siphash_reference);
	tcase_add_test(tc, test_util_addr_hash);
	suite_add_tcase(s, tc);

	tc = tcase_create("fmt");
	tcase_set_timeout(tc, 10);
	tcase_add_loop_test(tc, test_util_fmt_duration_table, 0,
	    nitems(fmt_duration_tests));
	tcase_add_loop_test(tc, test_util_fmt_size_table, 0,
	    nitems(fmt_size_tests));
	tcase_add_test(tc, test_util_fmt_truncate);
	tcase_add_test(tc, test_util_fmt_roundtrip);
	suite_add_tcase(s, tc);

	tc = tcase_create("misc");
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, test_util_now_ms);
	tcase_add_test(tc, test_util_xalloc);
#ifndef UTIL_ASAN
	tcase_add_exit_test(tc, test_util_xcalloc_fatal, 1);
#endif
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(util_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
