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
 * libFuzzer target for the util.c parsers.  Each input, as a NUL-terminated
 * string, goes to url_parse, cidr_parse, addr_parse, parse_duration,
 * parse_size, parse_uint and parse_bool.  Besides crashes and sanitizer
 * reports, it aborts when a round trip breaks:
 *	- a duration or size formats and parses back to the same value;
 *	- a URL rebuilt from its fields parses to the same fields;
 *	- an address prints and parses back to an equal address;
 *	- a CIDR matches its own network address on an allowed port.
 *
 *	clang -fsanitize=fuzzer,address,undefined -Isrc src/util.c src/log.c \
 *	    tests/fuzz/fuzz_url.c $(pkg-config --cflags libevent_core)
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowgate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Inputs past this only repeat what shorter ones reach. */
#define FUZZ_MAX_INPUT	65536

static void
fuzz_numbers(const char *s)
{
	const char	*errstr;
	char		 buf[64];
	uint64_t	 v, back;
	int		 b;

	if (parse_duration(s, &v, &errstr) == 0) {
		fmt_duration(v, buf, sizeof(buf));
		if (parse_duration(buf, &back, &errstr) != 0 || back != v)
			abort();
	}
	if (parse_size(s, &v, &errstr) == 0) {
		fmt_size(v, buf, sizeof(buf));
		if (parse_size(buf, &back, &errstr) != 0 || back != v)
			abort();
	}
	if (parse_uint(s, 1, 65535, &v, &errstr) == 0 &&
	    (v < 1 || v > 65535))
		abort();
	(void)parse_bool(s, &b, &errstr);
}

static void
fuzz_url(const char *s)
{
	struct url	 u, u2;
	const char	*errstr;
	char		 buf[1024], port[8];

	if (url_parse(s, &u, &errstr) != 0)
		return;
	if (u.scheme[0] == '\0' || (u.path[0] != '\0' && u.path[0] != '/') ||
	    (!u.has_port && u.port != 0))
		abort();
	port[0] = '\0';
	if (u.has_port)
		snprintf(port, sizeof(port), ":%u", (unsigned int)u.port);
	if (strchr(u.host, ':') != NULL)
		snprintf(buf, sizeof(buf), "%s://[%s]%s%s", u.scheme, u.host,
		    port, u.path);
	else
		snprintf(buf, sizeof(buf), "%s://%s%s%s", u.scheme, u.host,
		    port, u.path);
	if (url_parse(buf, &u2, &errstr) != 0 ||
	    strcmp(u.scheme, u2.scheme) != 0 ||
	    strcmp(u.host, u2.host) != 0 || u.port != u2.port ||
	    u.has_port != u2.has_port || strcmp(u.path, u2.path) != 0)
		abort();
}

static void
fuzz_addr(const char *s)
{
	struct sockaddr_storage	 ss, ss2;
	socklen_t		 len, len2;
	const char		*errstr;
	char			 buf[ADDRSTRLEN];
	uint8_t			 key[16] = { 0 };

	if (addr_parse(s, &ss, &len, &errstr) != 0)
		return;
	addr_str((struct sockaddr *)&ss, buf, sizeof(buf));
	if (addr_parse(buf, &ss2, &len2, &errstr) != 0 || len != len2 ||
	    addr_cmp((struct sockaddr *)&ss, (struct sockaddr *)&ss2) != 0 ||
	    addr_hash((struct sockaddr *)&ss, key) !=
	    addr_hash((struct sockaddr *)&ss2, key))
		abort();
}

static void
fuzz_cidr(const char *s)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	struct cidr		 c;
	const char		*errstr;
	uint16_t		 port;

	if (cidr_parse(s, &c, &errstr) != 0)
		return;
	if (c.port_lo > c.port_hi || (c.port_lo == 0) != (c.port_hi == 0))
		abort();
	port = c.port_lo != 0 ? c.port_hi : 1;
	memcpy(&ss, &c.addr, sizeof(ss));
	if (ss.ss_family == AF_INET) {
		sin = (struct sockaddr_in *)&ss;
		sin->sin_port = htons(port);
	} else if (ss.ss_family == AF_INET6) {
		sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_port = htons(port);
	} else
		abort();
	if (!cidr_match(&c, (struct sockaddr *)&ss))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s;

	if (size > FUZZ_MAX_INPUT)
		return (0);
	if ((s = malloc(size + 1)) == NULL)
		return (0);
	memcpy(s, data, size);
	s[size] = '\0';

	fuzz_numbers(s);
	fuzz_url(s);
	fuzz_addr(s);
	fuzz_cidr(s);

	free(s);
	return (0);
}
