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


#ifndef DTLS_PEEK_H
#define DTLS_PEEK_H

#include <stddef.h>
#include <stdint.h>

#define DTLS_RANDOM_SIZE	32

/*
 * Look at the first record of a DTLS datagram: if it is an epoch-0
 * handshake record carrying a ClientHello, return 1 and point *random at
 * the hello's 32-byte client random (inside d); else return 0.  Reads
 * nothing past len.
 */
int	dtls_peek_client_hello(const uint8_t *d, size_t len,
	    const uint8_t **random);

#endif /* DTLS_PEEK_H */
