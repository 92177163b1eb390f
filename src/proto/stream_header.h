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
 * The GoDoxy agent stream request header: a fixed 275-byte preamble that
 * names the destination a tunnel connects to (spec/godoxy-stream.md §1).
 * A pure codec on bytes: libc and zlib only, no daemon state.
 */

#ifndef STREAM_HEADER_H
#define STREAM_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define SH_SIZE			275	/* bytes on the wire, always */
#define SH_HOST_MAX		255	/* longest host text */
#define SH_PORT_MAX		5	/* longest port text */

/*
 * A decoded header.  After a successful sh_parse of a request, host is a
 * non-empty string with no NUL, control or space byte and port is decimal
 * text for portnum (1..65535).  For a health probe host and port are empty
 * and portnum is 0, whatever the sender put there: a probe is never dialed.
 */
struct stream_header {
	char		 host[SH_HOST_MAX + 1];	/* NUL-terminated, hostlen */
	size_t		 hostlen;
	char		 port[SH_PORT_MAX + 1];	/* NUL-terminated decimal */
	size_t		 portlen;
	uint16_t	 portnum;	/* parsed port, 0 for a health check */
	uint8_t		 flag;		/* as received, unknown bits kept */
#define SH_FLAG_CLOSE_IMMEDIATELY	0x01	/* health probe, no dial */
};

/*
 * Build and parse.  All return 0 on success and -1 with *errstr set to a
 * static description on failure, leaving the output untouched.
 */
int	sh_build(const char *, const char *, uint8_t, uint8_t[SH_SIZE],
	    const char **);
int	sh_build_health(uint8_t[SH_SIZE]);
int	sh_parse(const uint8_t[SH_SIZE], struct stream_header *,
	    const char **);
int	sh_is_health(const struct stream_header *);

/*
 * Incremental reader: feed any split of the byte stream.  It takes only
 * the bytes that complete the header; whatever follows is payload and is
 * left to the caller.
 */
struct sh_reader {
	uint8_t		 buf[SH_SIZE];
	size_t		 have;		/* bytes of buf filled so far */
};

enum sh_status {
	SH_MORE,	/* header incomplete, feed more */
	SH_DONE,	/* header complete and valid */
	SH_ERROR	/* header complete and invalid, *errstr says why */
};

void		sh_reader_init(struct sh_reader *);
enum sh_status	sh_reader_feed(struct sh_reader *, const uint8_t *, size_t,
		    size_t *, struct stream_header *, const char **);

#endif /* STREAM_HEADER_H */
