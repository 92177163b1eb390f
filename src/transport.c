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
 * The transport registry: the only place that names every transport.  The
 * core looks a transport up by URL scheme and never names one itself.
 */

#include <string.h>

#include "flowgate.h"

extern const struct transport_ops dtls_transport;
extern const struct transport_ops echo_transport;
extern const struct transport_ops tcp_transport;
extern const struct transport_ops tls_stream_transport;
extern const struct transport_ops udp_transport;

const struct transport_ops *const transports[] = {
	&dtls_transport,
	&echo_transport,
	&tcp_transport,
	&tls_stream_transport,
	&udp_transport,
	NULL
};

const struct transport_ops *
transport_find(const char *scheme)
{
	size_t	i;

	for (i = 0; transports[i] != NULL; i++)
		if (strcmp(transports[i]->name, scheme) == 0)
			return (transports[i]);
	return (NULL);
}

/*
 * The check hook of transports whose URLs are a bare host and port: no
 * path, and a destination port other than 0.
 */
int
transport_check_hostport(const struct service_conf *sc, int as_listen,
    const char **errstr)
{
	const struct url	*u = as_listen ? &sc->listen : &sc->forward;

	if (u->path[0] != '\0') {
		*errstr = "this URL takes no path";
		return (-1);
	}
	if (!as_listen && u->port == 0) {
		*errstr = "cannot forward to port 0";
		return (-1);
	}
	return (0);
}
