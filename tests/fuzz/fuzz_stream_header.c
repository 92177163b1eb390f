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
 * libFuzzer target for the GoDoxy stream header codec.  sh_parse gets the
 * first SH_SIZE bytes; the incremental reader gets the whole input in two
 * pieces, split where the first byte says.  Besides crashes and sanitizer
 * reports, it aborts when:
 *	- a parsed header breaks its invariants (lengths, port range);
 *	- the reader disagrees with sh_parse, or takes a byte past the header;
 *	- a parsed header, rebuilt with sh_build or sh_build_health, does not
 *	  parse back to the same fields.
 * The CRC keeps random bytes from reaching the host and port checks, so
 * the first SH_SIZE bytes are also parsed with a correct CRC stored in.
 *
 *	clang -fsanitize=fuzzer,address,undefined -Isrc \
 *	    src/proto/stream_header.c tests/fuzz/fuzz_stream_header.c -lz
 *	./a.out -max_total_time=60 corpus tests/data/vectors
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proto/stream_header.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The reader stops at SH_SIZE; longer inputs only add ignored payload. */
#define FUZZ_MAX_INPUT	4096

static int
fuzz_same(const struct stream_header *a, const struct stream_header *b)
{
	return (a->hostlen == b->hostlen && a->portlen == b->portlen &&
	    a->portnum == b->portnum && a->flag == b->flag &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->port, b->port) == 0);
}

/* Check what a successful parse promises, then rebuild and compare. */
static void
fuzz_roundtrip(const struct stream_header *h)
{
	struct stream_header	 h2;
	uint8_t			 out[SH_SIZE];
	const char		*errstr;

	if (h->hostlen > SH_HOST_MAX || strlen(h->host) != h->hostlen ||
	    h->portlen > SH_PORT_MAX || strlen(h->port) != h->portlen)
		abort();
	if (sh_is_health(h)) {
		if (h->hostlen != 0 || h->portlen != 0 || h->portnum != 0)
			abort();
	} else if (h->hostlen == 0 || h->portnum == 0 ||
	    (uint16_t)strtoul(h->port, NULL, 10) != h->portnum)
		abort();

	if (h->flag == SH_FLAG_CLOSE_IMMEDIATELY) {
		if (sh_build_health(out) != 0)
			abort();
	} else if (sh_build(h->host, h->port, h->flag, out, &errstr) != 0)
		abort();
	if (sh_parse(out, &h2, &errstr) != 0 || !fuzz_same(h, &h2))
		abort();
}

/* The same bytes with a good CRC: any verdict but a checksum mismatch. */
static void
fuzz_fixed_crc(const uint8_t *data)
{
	struct stream_header	 h;
	uint8_t			 in[SH_SIZE];
	const char		*errstr = NULL;
	uLong			 crc;

	memcpy(in, data, SH_SIZE);
	crc = crc32(crc32(0L, Z_NULL, 0), in, SH_SIZE - 4);
	in[SH_SIZE - 4] = (uint8_t)(crc >> 24);
	in[SH_SIZE - 3] = (uint8_t)(crc >> 16);
	in[SH_SIZE - 2] = (uint8_t)(crc >> 8);
	in[SH_SIZE - 1] = (uint8_t)crc;
	if (sh_parse(in, &h, &errstr) == 0)
		fuzz_roundtrip(&h);
	else if (errstr == NULL || strcmp(errstr, "checksum mismatch") == 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sh_reader	 r;
	struct stream_header	 h, hr;
	const char		*errstr, *rerr;
	size_t			 split, used, used2;
	enum sh_status		 st;
	int			 ok;

	if (size > FUZZ_MAX_INPUT)
		return (0);

	ok = 0;
	errstr = NULL;
	if (size >= SH_SIZE) {
		ok = sh_parse(data, &h, &errstr) == 0;
		if (ok)
			fuzz_roundtrip(&h);
		else if (errstr == NULL)
			abort();
		fuzz_fixed_crc(data);
	}

	/* The first byte picks a split anywhere in 0..SH_SIZE. */
	split = size == 0 ? 0 : (size_t)data[0] * (SH_SIZE + 1) / 255;
	if (split > size)
		split = size;
	rerr = NULL;
	sh_reader_init(&r);
	st = sh_reader_feed(&r, data, split, &used, &hr, &rerr);
	if (used != (split < SH_SIZE ? split : SH_SIZE))
		abort();
	if (st == SH_MORE) {
		st = sh_reader_feed(&r, data + used, size - used, &used2, &hr,
		    &rerr);
		used += used2;
	}
	if (used != (size < SH_SIZE ? size : SH_SIZE))
		abort();
	if (size < SH_SIZE) {
		if (st != SH_MORE)
			abort();
		return (0);
	}

	/* Same bytes, same verdict, same fields or the same error. */
	if (st == SH_DONE) {
		if (!ok || !fuzz_same(&h, &hr))
			abort();
	} else if (st != SH_ERROR || ok || rerr == NULL ||
	    strcmp(rerr, errstr) != 0)
		abort();
	return (0);
}
