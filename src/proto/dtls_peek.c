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
 * A look at a DTLS 1.2 record without OpenSSL: RFC 6347 section 4.1 (the
 * 13-byte record header) and 4.2.2 (the 12-byte handshake header).  The
 * daemon uses it to spot a client that restarts its association from the
 * same address, which OpenSSL would otherwise drop silently.
 */

#include <stddef.h>
#include <stdint.h>

#include "dtls_peek.h"

#define REC_HEADER	13	/* type, version(2), epoch(2), seq(6), len(2) */
#define HS_HEADER	12	/* type, len(3), seq(2), frag off(3), len(3) */
#define CT_HANDSHAKE	22
#define HT_CLIENT_HELLO	1

int
dtls_peek_client_hello(const uint8_t *d, size_t len, const uint8_t **random)
{
	size_t	reclen;

	if (d == NULL || len < REC_HEADER + HS_HEADER + 2 + DTLS_RANDOM_SIZE)
		return (0);
	if (d[0] != CT_HANDSHAKE || d[1] != 0xfe)	/* DTLS versions */
		return (0);
	if (d[3] != 0 || d[4] != 0)			/* epoch 0 */
		return (0);
	reclen = ((size_t)d[11] << 8) | d[12];
	if (reclen < HS_HEADER + 2 + DTLS_RANDOM_SIZE ||
	    reclen > len - REC_HEADER)
		return (0);
	if (d[REC_HEADER] != HT_CLIENT_HELLO)
		return (0);
	/* The fragment must start at 0 to hold the random. */
	if (d[REC_HEADER + 6] != 0 || d[REC_HEADER + 7] != 0 ||
	    d[REC_HEADER + 8] != 0)
		return (0);
	*random = d + REC_HEADER + HS_HEADER + 2;	/* after client_version */
	return (1);
}
