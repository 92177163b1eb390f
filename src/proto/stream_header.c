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
 * GoDoxy agent stream request header codec.  The layout is GoDoxy's Go
 * struct laid over the wire, with no alignment padding:
 *
 *	  0  8	version, "0.1.0" and three NULs
 *	  8  1	host length, 0..255
 *	  9 255	host text, left-aligned, zero-filled
 *	264  1	port length, 0..5
 *	265  5	port as decimal text, left-aligned, zero-filled
 *	270  1	flag; bit 0 is a health probe
 *	271  4	CRC-32 (zlib) of bytes 0..270, big-endian
 *
 * The builder matches GoDoxy's sender byte for byte.  The parser makes
 * GoDoxy's receiver checks in GoDoxy's order, then the checks GoDoxy
 * leaves to its dialer, since we dial whatever the header names.
 */

#include <stdint.h>
#include <string.h>

#include <zlib.h>

#include "stream_header.h"

#define SH_OFF_VERSION	0
#define SH_OFF_HOSTLEN	8
#define SH_OFF_HOST	9
#define SH_OFF_PORTLEN	264
#define SH_OFF_PORT	265
#define SH_OFF_FLAG	270
#define SH_OFF_CRC	271	/* also the number of bytes the CRC covers */

static const uint8_t	sh_version[8] = { '0', '.', '1', '.', '0', 0, 0, 0 };

static int	sh_fail(const char **, const char *);
static uint32_t	sh_crc(const uint8_t *);
static int	sh_check_host(const char *, size_t, const char **);
static int	sh_check_port(const char *, size_t, uint16_t *, const char **);

static int
sh_fail(const char **errstr, const char *why)
{
	if (errstr != NULL)
		*errstr = why;
	return (-1);
}

/* CRC-32/IEEE of the 271 bytes before the checksum field. */
static uint32_t
sh_crc(const uint8_t *hdr)
{
	uLong	crc;

	crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, hdr, SH_OFF_CRC);
	return ((uint32_t)crc);
}

/*
 * Build a request header for host and port as GoDoxy's sender does: only
 * lengths are checked, plus brackets, since GoDoxy's SplitHostPort strips
 * them and its agent would dial "[::1]" literally.  out is written only
 * on success.
 */
int
sh_build(const char *host, const char *port, uint8_t flag,
    uint8_t out[SH_SIZE], const char **errstr)
{
	uint8_t		 hdr[SH_SIZE];
	size_t		 hostlen, portlen;
	uint32_t	 crc;

	hostlen = strlen(host);
	portlen = strlen(port);
	if (hostlen > SH_HOST_MAX)
		return (sh_fail(errstr, "host is too long"));
	if (host[0] == '[')
		return (sh_fail(errstr, "IPv6 host must not be bracketed"));
	if (portlen > SH_PORT_MAX)
		return (sh_fail(errstr, "port is too long"));

	/* The padding is zero, as GoDoxy sends it, so the CRC matches. */
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr + SH_OFF_VERSION, sh_version, sizeof(sh_version));
	hdr[SH_OFF_HOSTLEN] = (uint8_t)hostlen;
	memcpy(hdr + SH_OFF_HOST, host, hostlen);
	hdr[SH_OFF_PORTLEN] = (uint8_t)portlen;
	memcpy(hdr + SH_OFF_PORT, port, portlen);
	hdr[SH_OFF_FLAG] = flag;
	crc = sh_crc(hdr);
	hdr[SH_OFF_CRC] = (uint8_t)(crc >> 24);
	hdr[SH_OFF_CRC + 1] = (uint8_t)(crc >> 16);
	hdr[SH_OFF_CRC + 2] = (uint8_t)(crc >> 8);
	hdr[SH_OFF_CRC + 3] = (uint8_t)crc;

	memcpy(out, hdr, SH_SIZE);
	return (0);
}

/* GoDoxy's health probe: no host, no port, flag 0x01. */
int
sh_build_health(uint8_t out[SH_SIZE])
{
	return (sh_build("", "", SH_FLAG_CLOSE_IMMEDIATELY, out, NULL));
}

/*
 * The host goes to getaddrinfo.  GoDoxy would keep NULs (a length that
 * runs into the zero fill) and dial a name that cannot resolve; refuse
 * those, and any control or space byte, here instead.
 */
static int
sh_check_host(const char *host, size_t len, const char **errstr)
{
	size_t		 i;
	unsigned char	 c;

	if (len == 0)
		return (sh_fail(errstr, "host is empty"));
	for (i = 0; i < len; i++) {
		c = (unsigned char)host[i];
		if (c == '\0')
			return (sh_fail(errstr, "host contains NUL"));
		if (c <= ' ' || c == 0x7f)
			return (sh_fail(errstr,
			    "host contains control or space"));
	}
	if (host[0] == '[')
		return (sh_fail(errstr, "IPv6 host must not be bracketed"));
	return (0);
}

/*
 * The port must be decimal digits for 1..65535.  GoDoxy's dialer would
 * also take service names ("echo" dials port 7); we do not look names up.
 * Leading zeros are allowed, as Go's dialer allows them.
 */
static int
sh_check_port(const char *port, size_t len, uint16_t *num,
    const char **errstr)
{
	size_t		 i;
	unsigned long	 v;

	if (len == 0)
		return (sh_fail(errstr, "port is empty"));
	v = 0;
	for (i = 0; i < len; i++) {
		if (port[i] < '0' || port[i] > '9')
			return (sh_fail(errstr,
			    "port is not a decimal number"));
		/* At most 5 digits, so this cannot overflow. */
		v = v * 10 + (unsigned long)(port[i] - '0');
	}
	if (v == 0 || v > 65535)
		return (sh_fail(errstr, "port out of range"));
	*num = (uint16_t)v;
	return (0);
}

/*
 * Decode and validate one complete header.  The first three checks are
 * GoDoxy's, in its order; the rest apply to requests only, because a
 * health probe is answered by closing and names nothing we would dial.
 * Non-zero padding is accepted, as GoDoxy accepts it: the CRC covers it.
 * sh is written only on success.
 */
int
sh_parse(const uint8_t in[SH_SIZE], struct stream_header *sh,
    const char **errstr)
{
	struct stream_header	 h;
	uint32_t		 crc;

	if (memcmp(in + SH_OFF_VERSION, sh_version, sizeof(sh_version)) != 0)
		return (sh_fail(errstr, "bad version"));
	/* GoDoxy also checks hostlen <= 255, which a byte always is. */
	if (in[SH_OFF_PORTLEN] > SH_PORT_MAX)
		return (sh_fail(errstr, "port length over 5"));
	crc = (uint32_t)in[SH_OFF_CRC] << 24 |
	    (uint32_t)in[SH_OFF_CRC + 1] << 16 |
	    (uint32_t)in[SH_OFF_CRC + 2] << 8 |
	    (uint32_t)in[SH_OFF_CRC + 3];
	if (crc != sh_crc(in))
		return (sh_fail(errstr, "checksum mismatch"));

	memset(&h, 0, sizeof(h));
	h.flag = in[SH_OFF_FLAG];
	if (h.flag & SH_FLAG_CLOSE_IMMEDIATELY) {
		*sh = h;
		return (0);
	}

	h.hostlen = in[SH_OFF_HOSTLEN];
	memcpy(h.host, in + SH_OFF_HOST, h.hostlen);
	if (sh_check_host(h.host, h.hostlen, errstr) == -1)
		return (-1);
	h.portlen = in[SH_OFF_PORTLEN];
	memcpy(h.port, in + SH_OFF_PORT, h.portlen);
	if (sh_check_port(h.port, h.portlen, &h.portnum, errstr) == -1)
		return (-1);

	*sh = h;
	return (0);
}

int
sh_is_health(const struct stream_header *sh)
{
	return ((sh->flag & SH_FLAG_CLOSE_IMMEDIATELY) != 0);
}

void
sh_reader_init(struct sh_reader *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Take bytes from data until the header is complete; *used says how many
 * were taken, and data + *used onwards is payload that belongs to the
 * caller.  Once complete the reader takes nothing more, and a further
 * call returns the same verdict again with *used 0.
 */
enum sh_status
sh_reader_feed(struct sh_reader *r, const uint8_t *data, size_t len,
    size_t *used, struct stream_header *sh, const char **errstr)
{
	size_t	 n;

	n = SH_SIZE - r->have;
	if (n > len)
		n = len;
	/* memcpy with a NULL source is undefined even for 0 bytes. */
	if (n > 0) {
		memcpy(r->buf + r->have, data, n);
		r->have += n;
	}
	*used = n;
	if (r->have < SH_SIZE)
		return (SH_MORE);
	if (sh_parse(r->buf, sh, errstr) == -1)
		return (SH_ERROR);
	return (SH_DONE);
}
