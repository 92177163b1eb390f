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
 * echo: a forward endpoint inside flowgate that sends every datagram and
 * every byte back where it came from.  The built-in default config uses it
 * so that a fresh install has something to talk to; it is also a handy
 * target for health checks and benchmarks of the ingress side alone.
 * A stream flow's egress is one end of a socketpair; the echo serves the
 * other end with a bufferevent, so the core relays to it like any socket.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "flowgate.h"

/* The echo's end of a stream flow's socketpair. */
struct echo {
	struct bufferevent	*bev;
	size_t			 limit;	/* the service's buffer */
	int			 eof;	/* the core shut its write side */
};

/*
 * Echo what came in.  A client that sends and never reads must not make
 * the echo queue grow: past the service's buffer, reading stops until
 * the core has taken half of it back.
 */
static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	struct echo	*e = arg;

	(void)bufferevent_write_buffer(bev, bufferevent_get_input(bev));
	if (evbuffer_get_length(bufferevent_get_output(bev)) >= e->limit) {
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, e->limit / 2, 0);
	}
}

static void
echo_write_cb(struct bufferevent *bev, void *arg)
{
	struct echo	*e = arg;

	if (!e->eof) {
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(bev, EV_READ);
		return;
	}
	/* After the core's EOF: once everything went back, pass it back. */
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct echo	*e = arg;

	if (what & BEV_EVENT_EOF) {
		echo_read_cb(bev, arg);
		e->eof = 1;
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		echo_write_cb(bev, arg);
	}
}

static int
echo_open(struct half *h)
{
	struct echo	*e;
	int		 sp[2];

	if (h->flow->kind == FLOW_DGRAM) {
		half_ready(h);
		return (0);
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return (-1);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1) {
		free(e);
		return (-1);
	}
	e->bev = bufferevent_socket_new(h->flow->worker->base, sp[1],
	    BEV_OPT_CLOSE_ON_FREE);
	if (e->bev == NULL) {
		close(sp[0]);
		close(sp[1]);
		free(e);
		return (-1);
	}
	e->limit = h->flow->service->conf->buffer;
	h->fd = sp[0];
	h->tr_priv = e;
	bufferevent_setcb(e->bev, echo_read_cb, echo_write_cb, echo_event_cb,
	    e);
	bufferevent_enable(e->bev, EV_READ | EV_WRITE);
	half_ready(h);
	return (0);
}

static int
echo_dgram_send(struct half *h, struct dgram *d, int n)
{
	return (flow_dgram_out(h->flow, d, n));
}

static void
echo_close(struct half *h)
{
	struct echo	*e = h->tr_priv;

	if (e != NULL) {
		bufferevent_free(e->bev);
		free(e);
		h->tr_priv = NULL;
	}
}

const struct transport_ops echo_transport = {
	.name = "echo",
	.flags = TR_DGRAM | TR_STREAM | TR_FORWARD,
	.open = echo_open,
	.dgram_send = echo_dgram_send,
	.close = echo_close,
};
