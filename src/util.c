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
 * Helpers shared by the configuration, the allow lists and the transports:
 * durations, sizes, endpoint URLs, numeric socket addresses and CIDRs, and
 * SipHash for the flow table.  The parsers are pure (the only system call
 * is if_nametoindex(3) for an IPv6 scope name in addr_parse), take any
 * NUL-terminated string, and are fuzzed by tests/fuzz/fuzz_url.c.  On
 * failure they leave their output untouched and point *errstr at a static
 * lower-case message.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <inttypes.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "flowgate.h"

/* A suffix and what it multiplies by, for durations and sizes. */
struct util_unit {
	const char	*name;
	uint64_t	 mult;
};

/* Duration units; "ms" comes before "m" only for readability. */
static const struct util_unit duration_units[] = {
	{ "ms", 1ULL },
	{ "s", 1000ULL },
	{ "m", 60ULL * 1000 },
	{ "h", 60ULL * 60 * 1000 },
	{ "d", 24ULL * 60 * 60 * 1000 }
};

/* Largest first: fmt_duration emits each unit at most once. */
static const struct util_unit duration_fmt[] = {
	{ "d", 24ULL * 60 * 60 * 1000 },
	{ "h", 60ULL * 60 * 1000 },
	{ "m", 60ULL * 1000 },
	{ "s", 1000ULL },
	{ "ms", 1ULL }
};

#define KIB	(1ULL << 10)
#define MIB	(1ULL << 20)
#define GIB	(1ULL << 30)
#define TIB	(1ULL << 40)
#define PIB	(1ULL << 50)
#define EIB	(1ULL << 60)

/*
 * Size suffixes: IEC names and the single-letter shorthand are 1024-based,
 * SI names ("KB") are 1000-based.  T, P and E are here so that whatever
 * fmt_size prints parses back.
 */
static const struct util_unit size_units[] = {
	{ "", 1 }, { "B", 1 },
	{ "k", KIB }, { "K", KIB }, { "KiB", KIB }, { "KB", 1000ULL },
	{ "m", MIB }, { "M", MIB }, { "MiB", MIB }, { "MB", 1000000ULL },
	{ "g", GIB }, { "G", GIB }, { "GiB", GIB }, { "GB", 1000000000ULL },
	{ "t", TIB }, { "T", TIB }, { "TiB", TIB },
	{ "TB", 1000000000000ULL },
	{ "p", PIB }, { "P", PIB }, { "PiB", PIB },
	{ "PB", 1000000000000000ULL },
	{ "e", EIB }, { "E", EIB }, { "EiB", EIB },
	{ "EB", 1000000000000000000ULL }
};

/* Largest first, for fmt_size. */
static const struct util_unit size_fmt[] = {
	{ "EiB", EIB }, { "PiB", PIB }, { "TiB", TIB },
	{ "GiB", GIB }, { "MiB", MIB }, { "KiB", KIB }
};

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))

/* Longest IPv6 literal we copy out for inet_pton, scope included. */
#define IP6_LITERAL_MAX	(INET6_ADDRSTRLEN + IF_NAMESIZE)

static int
util_isdigit(int c)
{
	return (c >= '0' && c <= '9');
}

static int
util_isalpha(int c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'));
}

static int
util_isspace(int c)
{
	return (c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f');
}

/*
 * Scan decimal digits at *sp into *v and move *sp past them.  Returns 1 on
 * success, 0 when there is no digit, -1 when the value overflows uint64_t.
 */
static int
util_scan_u64(const char **sp, uint64_t *v)
{
	const char	*s = *sp;
	uint64_t	 n = 0, d;

	if (!util_isdigit((unsigned char)*s))
		return (0);
	for (; util_isdigit((unsigned char)*s); s++) {
		d = (uint64_t)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return (-1);
		n = n * 10 + d;
	}
	*sp = s;
	*v = n;
	return (1);
}

/* Why the character c cannot appear where a number or unit was expected. */
static const char *
util_badchar(int c)
{
	if (util_isspace(c))
		return ("whitespace not allowed");
	if (c == '.' || c == ',')
		return ("fractional values not supported");
	if (c == '-')
		return ("negative values not allowed");
	return ("invalid character");
}

/* Multiply and add with overflow checks: *acc += v * mult. */
static int
util_mul_add(uint64_t *acc, uint64_t v, uint64_t mult)
{
	if (mult != 0 && v > UINT64_MAX / mult)
		return (-1);
	v *= mult;
	if (*acc > UINT64_MAX - v)
		return (-1);
	*acc += v;
	return (0);
}

/*
 * Copy a formatted result into the caller's buffer, truncating; the
 * result is always NUL-terminated.  A zero-sized buffer gets "".
 */
static const char *
util_copy(char *buf, size_t size, const char *s)
{
	size_t	len;

	if (buf == NULL || size == 0)
		return ("");
	len = strlen(s);
	if (len >= size)
		len = size - 1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	return (buf);
}

/*
 * Parse a Go-like duration ("250ms", "1h30m", "2d") or a bare number of
 * seconds into milliseconds.
 */
int
parse_duration(const char *s, uint64_t *ms, const char **errstr)
{
	const char	*p, *u;
	uint64_t	 v, total = 0;
	size_t		 ulen, i;
	int		 r;

	if (s == NULL || *s == '\0') {
		*errstr = "empty duration";
		return (-1);
	}
	if (*s == '-') {
		*errstr = "negative duration";
		return (-1);
	}

	/* A bare number is seconds. */
	p = s;
	r = util_scan_u64(&p, &v);
	if (r == 1 && *p == '\0') {
		if (util_mul_add(&total, v, 1000) == -1) {
			*errstr = "value out of range";
			return (-1);
		}
		*ms = total;
		return (0);
	}

	for (p = s; *p != '\0';) {
		r = util_scan_u64(&p, &v);
		if (r == -1) {
			*errstr = "value out of range";
			return (-1);
		}
		if (r == 0) {
			if (util_isalpha((unsigned char)*p))
				*errstr = "missing number";
			else
				*errstr = util_badchar((unsigned char)*p);
			return (-1);
		}
		for (u = p; util_isalpha((unsigned char)*p); p++)
			;
		ulen = (size_t)(p - u);
		if (ulen == 0) {
			if (*p == '\0')
				*errstr = "missing unit";
			else
				*errstr = util_badchar((unsigned char)*p);
			return (-1);
		}
		for (i = 0; i < nitems(duration_units); i++) {
			if (strlen(duration_units[i].name) == ulen &&
			    strncmp(duration_units[i].name, u, ulen) == 0)
				break;
		}
		if (i == nitems(duration_units)) {
			*errstr = "unknown unit";
			return (-1);
		}
		if (util_mul_add(&total, v, duration_units[i].mult) == -1) {
			*errstr = "value out of range";
			return (-1);
		}
	}
	*ms = total;
	return (0);
}

/* Parse a byte count with an optional unit ("512", "64KiB", "1MB", "1g"). */
int
parse_size(const char *s, uint64_t *bytes, const char **errstr)
{
	const char	*p, *q;
	uint64_t	 v, total = 0;
	size_t		 i;
	int		 r;

	if (s == NULL || *s == '\0') {
		*errstr = "empty size";
		return (-1);
	}
	if (*s == '-') {
		*errstr = "negative size";
		return (-1);
	}
	p = s;
	r = util_scan_u64(&p, &v);
	if (r == -1) {
		*errstr = "value out of range";
		return (-1);
	}
	if (r == 0) {
		if (util_isalpha((unsigned char)*p))
			*errstr = "missing number";
		else
			*errstr = util_badchar((unsigned char)*p);
		return (-1);
	}
	for (i = 0; i < nitems(size_units); i++)
		if (strcmp(p, size_units[i].name) == 0)
			break;
	if (i == nitems(size_units)) {
		/* Say why when the suffix is not even a word. */
		for (q = p; *q != '\0'; q++) {
			if (!util_isalpha((unsigned char)*q)) {
				*errstr = util_badchar((unsigned char)*q);
				return (-1);
			}
		}
		*errstr = "unknown unit";
		return (-1);
	}
	if (util_mul_add(&total, v, size_units[i].mult) == -1) {
		*errstr = "value out of range";
		return (-1);
	}
	*bytes = total;
	return (0);
}

/* Parse an unsigned decimal number within [min, max]. */
int
parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out,
    const char **errstr)
{
	const char	*p = s;
	uint64_t	 v;
	int		 r;

	if (s == NULL || *s == '\0') {
		*errstr = "missing number";
		return (-1);
	}
	r = util_scan_u64(&p, &v);
	if (r == 0 || *p != '\0') {
		if (r == -1)
			*errstr = "value out of range";
		else
			*errstr = "invalid number";
		return (-1);
	}
	if (r == -1 || v < min || v > max) {
		*errstr = "value out of range";
		return (-1);
	}
	*out = v;
	return (0);
}

/* Parse true/false, yes/no, on/off in any case. */
int
parse_bool(const char *s, int *out, const char **errstr)
{
	static const struct {
		const char	*name;
		int		 value;
	} words[] = {
		{ "true", 1 }, { "yes", 1 }, { "on", 1 },
		{ "false", 0 }, { "no", 0 }, { "off", 0 }
	};
	size_t	i;

	if (s != NULL) {
		for (i = 0; i < nitems(words); i++) {
			if (strcasecmp(s, words[i].name) == 0) {
				*out = words[i].value;
				return (0);
			}
		}
	}
	*errstr = "invalid boolean";
	return (-1);
}

/*
 * Parse a port of len bytes at s: decimal, 0..65535, or 1..65535 when
 * zero is not allowed.
 */
static int
util_port(const char *s, size_t len, int allow_zero, uint16_t *port,
    const char **errstr)
{
	uint32_t	v = 0;
	size_t		i;

	if (len == 0) {
		*errstr = "missing port";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		if (!util_isdigit((unsigned char)s[i])) {
			*errstr = "invalid port";
			return (-1);
		}
	}
	for (i = 0; i < len; i++) {
		v = v * 10 + (uint32_t)(s[i] - '0');
		if (v > 65535) {
			*errstr = "port out of range";
			return (-1);
		}
	}
	if (v == 0 && !allow_zero) {
		*errstr = "port out of range";
		return (-1);
	}
	*port = (uint16_t)v;
	return (0);
}

/*
 * Check an IPv6 literal of len bytes without brackets, optionally with a
 * "%scope" whose syntax (not existence) is checked.  On success the
 * address goes to *a and the scope, NUL-terminated, to scope[IF_NAMESIZE].
 */
static int
util_ip6(const char *s, size_t len, struct in6_addr *a,
    char scope[IF_NAMESIZE], const char **errstr)
{
	char		 buf[IP6_LITERAL_MAX];
	char		*pct, *q;
	size_t		 slen;

	if (len == 0 || len >= sizeof(buf)) {
		*errstr = "invalid IPv6 address";
		return (-1);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	scope[0] = '\0';
	if ((pct = strchr(buf, '%')) != NULL) {
		*pct++ = '\0';
		slen = strlen(pct);
		if (slen == 0 || slen >= IF_NAMESIZE) {
			*errstr = "invalid scope";
			return (-1);
		}
		for (q = pct; *q != '\0'; q++) {
			if (!util_isalpha((unsigned char)*q) &&
			    !util_isdigit((unsigned char)*q) &&
			    *q != '-' && *q != '_' && *q != '.') {
				*errstr = "invalid scope";
				return (-1);
			}
		}
		memcpy(scope, pct, slen + 1);
	}
	if (inet_pton(AF_INET6, buf, a) != 1) {
		*errstr = "invalid IPv6 address";
		return (-1);
	}
	return (0);
}

/* Is the span made of digits and dots only (so it must be IPv4)? */
static int
util_dotted(const char *s, size_t len)
{
	size_t	i;
	int	digits = 0;

	for (i = 0; i < len; i++) {
		if (util_isdigit((unsigned char)s[i]))
			digits = 1;
		else if (s[i] != '.')
			return (0);
	}
	return (digits);
}

/* Parse a strict dotted-quad IPv4 literal of len bytes. */
static int
util_ip4(const char *s, size_t len, struct in_addr *a, const char **errstr)
{
	char	buf[INET_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(buf)) {
		*errstr = "invalid IPv4 address";
		return (-1);
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, a) != 1) {
		*errstr = "invalid IPv4 address";
		return (-1);
	}
	return (0);
}

/*
 * Check an unbracketed URL host of len bytes: empty, an IPv4 literal, or
 * a DNS name (letters, digits, '-', '_', labels of 1..63 bytes that do
 * not start or end with '-', at most 253 bytes, one trailing dot allowed).
 */
static int
util_host(const char *s, size_t len, const char **errstr)
{
	struct in_addr	 a;
	size_t		 i, label = 0;
	int		 c;

	if (len == 0)
		return (0);
	if (util_dotted(s, len))
		return (util_ip4(s, len, &a, errstr));
	if (s[len - 1] == '.')
		len--;
	if (len > 253) {
		*errstr = "host name too long";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-') {
				*errstr = "invalid host name";
				return (-1);
			}
			label = 0;
			continue;
		}
		if (!util_isalpha(c) && !util_isdigit(c) && c != '-' &&
		    c != '_') {
			*errstr = "invalid character in host name";
			return (-1);
		}
		if (c == '-' && label == 0) {
			*errstr = "invalid host name";
			return (-1);
		}
		if (++label > 63) {
			*errstr = "host name label too long";
			return (-1);
		}
	}
	if (label == 0 || s[len - 1] == '-') {
		*errstr = "invalid host name";
		return (-1);
	}
	return (0);
}

/*
 * Parse an endpoint URL, scheme://host:port/path.  The host is stored
 * without brackets; the scheme in lower case.
 */
int
url_parse(const char *s, struct url *out, const char **errstr)
{
	struct url	 u;
	struct in6_addr	 a6;
	char		 scope[IF_NAMESIZE];
	const char	*sep, *auth, *end, *hs, *he, *p, *colon;
	size_t		 len, i;
	int		 c;

	if (s == NULL || *s == '\0') {
		*errstr = "empty URL";
		return (-1);
	}
	memset(&u, 0, sizeof(u));
	for (p = s; *p != '\0'; p++) {
		c = (unsigned char)*p;
		if (util_isspace(c)) {
			*errstr = "whitespace not allowed";
			return (-1);
		}
		if (c < 0x20 || c == 0x7f) {
			*errstr = "control character in URL";
			return (-1);
		}
		if (c > 0x7f) {
			*errstr = "non-ascii character in URL";
			return (-1);
		}
		if (c == '#') {
			*errstr = "fragments not allowed";
			return (-1);
		}
	}

	if ((sep = strstr(s, "://")) == NULL) {
		*errstr = "missing \"://\"";
		return (-1);
	}
	len = (size_t)(sep - s);
	if (len == 0) {
		*errstr = "missing scheme";
		return (-1);
	}
	if (len >= sizeof(u.scheme)) {
		*errstr = "scheme too long";
		return (-1);
	}
	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (!util_isalpha(c) && (i == 0 || (!util_isdigit(c) &&
		    c != '+' && c != '.' && c != '-'))) {
			*errstr = "invalid scheme";
			return (-1);
		}
		u.scheme[i] = (char)c;
	}

	/* The authority runs up to the path (or a misplaced query). */
	auth = sep + 3;
	end = auth + strcspn(auth, "/?");
	if (*end == '?') {
		*errstr = "query without path";
		return (-1);
	}
	if (strlen(end) >= sizeof(u.path)) {
		*errstr = "path too long";
		return (-1);
	}
	if (memchr(auth, '@', (size_t)(end - auth)) != NULL) {
		*errstr = "userinfo not allowed";
		return (-1);
	}

	if (*auth == '[') {
		hs = auth + 1;
		he = memchr(hs, ']', (size_t)(end - hs));
		if (he == NULL) {
			*errstr = "unterminated '['";
			return (-1);
		}
		if (util_ip6(hs, (size_t)(he - hs), &a6, scope, errstr) == -1)
			return (-1);
		p = he + 1;
		if (p != end && *p != ':') {
			*errstr = "invalid character after ']'";
			return (-1);
		}
	} else {
		colon = memchr(auth, ':', (size_t)(end - auth));
		if (colon != NULL &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL) {
			*errstr = "IPv6 address must be in brackets";
			return (-1);
		}
		hs = auth;
		he = colon != NULL ? colon : end;
		if (util_host(hs, (size_t)(he - hs), errstr) == -1)
			return (-1);
		p = he;
	}
	if (p != end) {
		p++;
		if (util_port(p, (size_t)(end - p), 1, &u.port, errstr) == -1)
			return (-1);
		u.has_port = 1;
	}

	/* Names are at most 254 bytes with a trailing dot; literals less. */
	len = (size_t)(he - hs);
	if (len >= sizeof(u.host)) {
		*errstr = "host too long";
		return (-1);
	}
	memcpy(u.host, hs, len);
	u.host[len] = '\0';
	memcpy(u.path, end, strlen(end) + 1);

	*out = u;
	return (0);
}

/*
 * Fill ss from a numeric host (no brackets; "" is 0.0.0.0) and a port.
 * IPv6 scopes may be names or numbers.  Sets *errstr on failure.
 */
static int
util_addr(const char *host, size_t hlen, int need6, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *slen, const char **errstr)
{
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	struct in_addr		 a4;
	struct in6_addr		 a6;
	char			 scope[IF_NAMESIZE];
	const char		*p;
	unsigned int		 idx = 0;
	uint64_t		 v;

	if (need6 || memchr(host, ':', hlen) != NULL) {
		if (util_ip6(host, hlen, &a6, scope, errstr) == -1)
			return (-1);
		if (scope[0] != '\0') {
			p = scope;
			if (util_scan_u64(&p, &v) == 1 && *p == '\0') {
				if (v > UINT32_MAX) {
					*errstr = "invalid scope";
					return (-1);
				}
				idx = (unsigned int)v;
			} else if ((idx = if_nametoindex(scope)) == 0) {
				*errstr = "unknown interface";
				return (-1);
			}
		}
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		sin6.sin6_addr = a6;
		sin6.sin6_scope_id = idx;
		memset(ss, 0, sizeof(*ss));
		memcpy(ss, &sin6, sizeof(sin6));
		*slen = sizeof(sin6);
		return (0);
	}
	if (hlen == 0)
		a4.s_addr = htonl(INADDR_ANY);
	else if (util_ip4(host, hlen, &a4, errstr) == -1) {
		if (!util_dotted(host, hlen))
			*errstr = "numeric address required";
		return (-1);
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	sin.sin_addr = a4;
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, &sin, sizeof(sin));
	*slen = sizeof(sin);
	return (0);
}

/*
 * Parse "a.b.c.d:port", "[v6]:port" or "[v6%scope]:port" (numeric only;
 * the port is required, an empty host means 0.0.0.0).
 */
int
addr_parse(const char *s, struct sockaddr_storage *ss, socklen_t *slen,
    const char **errstr)
{
	const char	*hs, *he, *p;
	uint16_t	 port;
	int		 v6 = 0;

	if (s == NULL || *s == '\0') {
		*errstr = "empty address";
		return (-1);
	}
	if (*s == '[') {
		hs = s + 1;
		if ((he = strchr(hs, ']')) == NULL) {
			*errstr = "unterminated '['";
			return (-1);
		}
		p = he + 1;
		if (*p != ':') {
			if (*p == '\0')
				*errstr = "missing port";
			else
				*errstr = "invalid character after ']'";
			return (-1);
		}
		v6 = 1;
	} else {
		hs = s;
		if ((he = strchr(s, ':')) == NULL) {
			*errstr = "missing port";
			return (-1);
		}
		if (strchr(he + 1, ':') != NULL) {
			*errstr = "IPv6 address must be in brackets";
			return (-1);
		}
		p = he;
	}
	p++;
	if (util_port(p, strlen(p), 1, &port, errstr) == -1)
		return (-1);
	return (util_addr(hs, (size_t)(he - hs), v6, port, ss, slen, errstr));
}

/* Like addr_parse with host and port apart; fails for names. */
int
addr_parse_numeric(const char *host, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *slen)
{
	const char	*errstr;

	if (host == NULL)
		host = "";
	return (util_addr(host, strlen(host), 0, port, ss, slen, &errstr));
}

/* Zero the bits of the len-byte address a beyond the first bits. */
static void
util_mask(uint8_t *a, size_t len, int bits)
{
	size_t	i;

	for (i = 0; i < len; i++) {
		if (bits >= 8)
			bits -= 8;
		else if (bits > 0) {
			a[i] &= (uint8_t)(0xff00 >> bits);
			bits = 0;
		} else
			a[i] = 0;
	}
}

/* Do the first bits of a and b agree? */
static int
util_prefix_eq(const uint8_t *a, const uint8_t *b, int bits)
{
	size_t	full = (size_t)bits / 8;
	uint8_t	m;

	if (memcmp(a, b, full) != 0)
		return (0);
	if (bits % 8 == 0)
		return (1);
	m = (uint8_t)(0xff00 >> (bits % 8));
	return ((a[full] & m) == (b[full] & m));
}

/* Is this IPv6 address ::ffff:a.b.c.d? */
static int
util_v4mapped(const uint8_t *a)
{
	static const uint8_t	pfx[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	return (memcmp(a, pfx, sizeof(pfx)) == 0);
}

/*
 * Parse an allow-list entry: an address with an optional /prefix and an
 * optional :port or :lo-hi.  IPv6 needs brackets when a port follows.
 */
int
cidr_parse(const char *s, struct cidr *out, const char **errstr)
{
	struct cidr		 c;
	struct sockaddr_in	 sin;
	struct sockaddr_in6	 sin6;
	const char		*as, *ae, *p, *q, *dash;
	char			 scope[IF_NAMESIZE];
	uint64_t		 v;
	int			 family, bracketed = 0, maxbits;

	if (s == NULL || *s == '\0') {
		*errstr = "empty address";
		return (-1);
	}
	memset(&c, 0, sizeof(c));

	/* Find the address [as, ae) and what follows it (p). */
	if (*s == '[') {
		as = s + 1;
		if ((ae = strchr(as, ']')) == NULL) {
			*errstr = "unterminated '['";
			return (-1);
		}
		p = ae + 1;
		if (*p != '/' && *p != ':' && *p != '\0') {
			*errstr = "invalid character after ']'";
			return (-1);
		}
		family = AF_INET6;
		bracketed = 1;
	} else if ((q = strchr(s, ':')) != NULL && strchr(q + 1, ':') != NULL) {
		/* Two colons: an unbracketed IPv6 address, never a port. */
		as = s;
		ae = s + strcspn(s, "/");
		p = ae;
		family = AF_INET6;
	} else {
		as = s;
		ae = s + strcspn(s, "/:");
		p = ae;
		family = AF_INET;
	}
	if (as == ae && !bracketed) {
		*errstr = "missing address";
		return (-1);
	}
	if (memchr(as, '%', (size_t)(ae - as)) != NULL) {
		*errstr = "scope not allowed";
		return (-1);
	}

	maxbits = family == AF_INET ? 32 : 128;
	if (family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		if (util_ip4(as, (size_t)(ae - as), &sin.sin_addr,
		    errstr) == -1)
			return (-1);
	} else {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		if (util_ip6(as, (size_t)(ae - as), &sin6.sin6_addr, scope,
		    errstr) == -1)
			return (-1);
	}

	c.prefix = maxbits;
	if (*p == '/') {
		q = ++p;
		if (util_scan_u64(&p, &v) != 1) {
			if (*p == '\0' || *p == ':')
				*errstr = "missing prefix length";
			else
				*errstr = "invalid prefix length";
			return (-1);
		}
		if (*p != '\0' && *p != ':') {
			*errstr = "invalid prefix length";
			return (-1);
		}
		if (p - q > 3 || v > (uint64_t)maxbits) {
			*errstr = "prefix length out of range";
			return (-1);
		}
		c.prefix = (int)v;
	}
	if (*p == ':') {
		if (family == AF_INET6 && !bracketed) {
			*errstr = "IPv6 address must be in brackets";
			return (-1);
		}
		p++;
		dash = strchr(p, '-');
		if (util_port(p, dash != NULL ? (size_t)(dash - p) : strlen(p),
		    0, &c.port_lo, errstr) == -1)
			return (-1);
		c.port_hi = c.port_lo;
		if (dash != NULL) {
			p = dash + 1;
			if (util_port(p, strlen(p), 0, &c.port_hi,
			    errstr) == -1)
				return (-1);
			if (c.port_lo > c.port_hi) {
				*errstr = "invalid port range";
				return (-1);
			}
		}
	}

	if (family == AF_INET) {
		util_mask((uint8_t *)&sin.sin_addr, 4, c.prefix);
		memcpy(&c.addr, &sin, sizeof(sin));
	} else {
		util_mask(sin6.sin6_addr.s6_addr, 16, c.prefix);
		memcpy(&c.addr, &sin6, sizeof(sin6));
	}
	*out = c;
	return (0);
}

/*
 * Does sa fall inside c (address and port)?  IPv4-mapped IPv6 addresses
 * are IPv4 addresses here, so a dual-stack socket sees the same policy;
 * likewise a CIDR inside ::ffff:0:0/96 matches as its IPv4 equivalent.
 */
int
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	const uint8_t			*addr, *net;
	int				 afam, cfam, bits;
	uint16_t			 port;

	if (c == NULL || sa == NULL)
		return (0);
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		addr = (const uint8_t *)&sin->sin_addr;
		port = ntohs(sin->sin_port);
		afam = AF_INET;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		addr = sin6->sin6_addr.s6_addr;
		port = ntohs(sin6->sin6_port);
		afam = AF_INET6;
		if (util_v4mapped(addr)) {
			addr += 12;
			afam = AF_INET;
		}
		break;
	default:
		return (0);
	}

	bits = c->prefix;
	switch (c->addr.ss_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)&c->addr;
		net = (const uint8_t *)&sin->sin_addr;
		cfam = AF_INET;
		if (bits < 0 || bits > 32)
			return (0);
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)&c->addr;
		net = sin6->sin6_addr.s6_addr;
		cfam = AF_INET6;
		if (bits < 0 || bits > 128)
			return (0);
		if (bits >= 96 && util_v4mapped(net)) {
			net += 12;
			bits -= 96;
			cfam = AF_INET;
		}
		break;
	default:
		return (0);
	}

	if (afam != cfam || !util_prefix_eq(addr, net, bits))
		return (0);
	if (c->port_lo == 0 && c->port_hi == 0)
		return (1);
	return (port >= c->port_lo && port <= c->port_hi);
}

/*
 * Format sa as "1.2.3.4:53" or "[::1]:53" (with "%scope" when set) into
 * buf; always NUL-terminated, truncated to size.  Returns buf.
 */
const char *
addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	char				 host[INET6_ADDRSTRLEN];
	char				 scope[IF_NAMESIZE + 1];
	char				 tmp[ADDRSTRLEN + 32];

	if (sa == NULL)
		return (util_copy(buf, size, "unknown"));
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		if (inet_ntop(AF_INET, &sin->sin_addr, host,
		    sizeof(host)) == NULL)
			return (util_copy(buf, size, "unknown"));
		snprintf(tmp, sizeof(tmp), "%s:%u", host,
		    (unsigned int)ntohs(sin->sin_port));
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		if (inet_ntop(AF_INET6, &sin6->sin6_addr, host,
		    sizeof(host)) == NULL)
			return (util_copy(buf, size, "unknown"));
		if (sin6->sin6_scope_id == 0) {
			snprintf(tmp, sizeof(tmp), "[%s]:%u", host,
			    (unsigned int)ntohs(sin6->sin6_port));
			break;
		}
		/* A vanished interface still prints, as a number. */
		if (if_indextoname(sin6->sin6_scope_id, scope) == NULL)
			snprintf(scope, sizeof(scope), "%u",
			    (unsigned int)sin6->sin6_scope_id);
		snprintf(tmp, sizeof(tmp), "[%s%%%s]:%u", host, scope,
		    (unsigned int)ntohs(sin6->sin6_port));
		break;
	default:
		return (util_copy(buf, size, "unknown"));
	}
	return (util_copy(buf, size, tmp));
}

/*
 * A total order on socket addresses: family, address bytes, port, then
 * the IPv6 scope.  Returns <0, 0 or >0.
 */
int
addr_cmp(const struct sockaddr *a, const struct sockaddr *b)
{
	const struct sockaddr_in	*a4, *b4;
	const struct sockaddr_in6	*a6, *b6;
	int				 r;

	if (a == b)
		return (0);
	if (a == NULL || b == NULL)
		return (a == NULL ? -1 : 1);
	if (a->sa_family != b->sa_family)
		return (a->sa_family < b->sa_family ? -1 : 1);
	switch (a->sa_family) {
	case AF_INET:
		a4 = (const struct sockaddr_in *)a;
		b4 = (const struct sockaddr_in *)b;
		if ((r = memcmp(&a4->sin_addr, &b4->sin_addr, 4)) != 0)
			return (r < 0 ? -1 : 1);
		if (a4->sin_port != b4->sin_port)
			return (ntohs(a4->sin_port) < ntohs(b4->sin_port) ?
			    -1 : 1);
		return (0);
	case AF_INET6:
		a6 = (const struct sockaddr_in6 *)a;
		b6 = (const struct sockaddr_in6 *)b;
		if ((r = memcmp(&a6->sin6_addr, &b6->sin6_addr, 16)) != 0)
			return (r < 0 ? -1 : 1);
		if (a6->sin6_port != b6->sin6_port)
			return (ntohs(a6->sin6_port) < ntohs(b6->sin6_port) ?
			    -1 : 1);
		if (a6->sin6_scope_id != b6->sin6_scope_id)
			return (a6->sin6_scope_id < b6->sin6_scope_id ?
			    -1 : 1);
		return (0);
	default:
		/* Unknown families only order by family. */
		return (0);
	}
}

/*
 * Hash family, port and address bytes (never the padding, which the
 * kernel may leave dirty), so equal addresses hash equally.
 */
uint64_t
addr_hash(const struct sockaddr *sa, const uint8_t key[16])
{
	const struct sockaddr_in	*sin;
	const struct sockaddr_in6	*sin6;
	uint8_t				 buf[2 + 2 + 16];
	size_t				 len = 2;

	if (sa == NULL)
		return (siphash24("", 0, key));
	buf[0] = (uint8_t)(sa->sa_family & 0xff);
	buf[1] = (uint8_t)((sa->sa_family >> 8) & 0xff);
	switch (sa->sa_family) {
	case AF_INET:
		sin = (const struct sockaddr_in *)sa;
		memcpy(buf + 2, &sin->sin_port, 2);
		memcpy(buf + 4, &sin->sin_addr, 4);
		len = 8;
		break;
	case AF_INET6:
		sin6 = (const struct sockaddr_in6 *)sa;
		memcpy(buf + 2, &sin6->sin6_port, 2);
		memcpy(buf + 4, &sin6->sin6_addr, 16);
		len = 20;
		break;
	}
	return (siphash24(buf, len, key));
}

#define SIP_ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND(v0, v1, v2, v3) do {					\
	(v0) += (v1); (v1) = SIP_ROTL(v1, 13); (v1) ^= (v0);		\
	(v0) = SIP_ROTL(v0, 32);					\
	(v2) += (v3); (v3) = SIP_ROTL(v3, 16); (v3) ^= (v2);		\
	(v0) += (v3); (v3) = SIP_ROTL(v3, 21); (v3) ^= (v0);		\
	(v2) += (v1); (v1) = SIP_ROTL(v1, 17); (v1) ^= (v2);		\
	(v2) = SIP_ROTL(v2, 32);					\
} while (0)

/* Load 8 bytes as a little-endian word, whatever the host order. */
static uint64_t
util_le64(const uint8_t *p)
{
	return ((uint64_t)p[0] | (uint64_t)p[1] << 8 |
	    (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	    (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 |
	    (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56);
}

/* SipHash-2-4 (Aumasson and Bernstein) with a 128-bit key, 64-bit out. */
uint64_t
siphash24(const void *in, size_t len, const uint8_t key[16])
{
	const uint8_t	*p = in;
	uint64_t	 k0, k1, v0, v1, v2, v3, m, b;
	size_t		 i, blocks = len - len % 8;

	k0 = util_le64(key);
	k1 = util_le64(key + 8);
	v0 = 0x736f6d6570736575ULL ^ k0;
	v1 = 0x646f72616e646f6dULL ^ k1;
	v2 = 0x6c7967656e657261ULL ^ k0;
	v3 = 0x7465646279746573ULL ^ k1;

	for (i = 0; i < blocks; i += 8) {
		m = util_le64(p + i);
		v3 ^= m;
		SIP_ROUND(v0, v1, v2, v3);
		SIP_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	b = (uint64_t)len << 56;
	for (i = 0; i < len % 8; i++)
		b |= (uint64_t)p[blocks + i] << (8 * i);
	v3 ^= b;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	SIP_ROUND(v0, v1, v2, v3);
	return (v0 ^ v1 ^ v2 ^ v3);
}

/*
 * Format milliseconds with the largest units and no zero parts
 * ("1h30m", "250ms"); 0 is "0s".  parse_duration reads it back.
 */
const char *
fmt_duration(uint64_t ms, char *buf, size_t size)
{
	char		tmp[64];
	size_t		i, off = 0;
	uint64_t	n;

	if (ms == 0)
		return (util_copy(buf, size, "0s"));
	tmp[0] = '\0';
	for (i = 0; i < nitems(duration_fmt); i++) {
		n = ms / duration_fmt[i].mult;
		if (n == 0)
			continue;
		ms -= n * duration_fmt[i].mult;
		off += (size_t)snprintf(tmp + off, sizeof(tmp) - off,
		    "%" PRIu64 "%s", n, duration_fmt[i].name);
	}
	return (util_copy(buf, size, tmp));
}

/* Format a size in the largest exact binary unit, else in bytes. */
const char *
fmt_size(uint64_t bytes, char *buf, size_t size)
{
	char	tmp[32];
	size_t	i;

	for (i = 0; i < nitems(size_fmt); i++) {
		if (bytes != 0 && bytes % size_fmt[i].mult == 0) {
			snprintf(tmp, sizeof(tmp), "%" PRIu64 "%s",
			    bytes / size_fmt[i].mult, size_fmt[i].name);
			return (util_copy(buf, size, tmp));
		}
	}
	snprintf(tmp, sizeof(tmp), "%" PRIu64, bytes);
	return (util_copy(buf, size, tmp));
}

uint64_t
now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fatal("clock_gettime");
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

/* Zeroed memory or death; a zero size still returns a unique pointer. */
void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if ((p = calloc(nmemb, size)) == NULL)
		fatal("xcalloc: %zu * %zu bytes", nmemb, size);
	return (p);
}

char *
xstrdup(const char *s)
{
	char	*p;

	if ((p = strdup(s)) == NULL)
		fatal("xstrdup");
	return (p);
}

int
xasprintf(char **ret, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vasprintf(ret, fmt, ap);
	va_end(ap);
	if (n == -1)
		fatal("xasprintf");
	return (n);
}
