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

static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

/* After the peer's EOF: once everything went back, send the FIN back. */
static void
echo_write_cb(struct bufferevent *bev, void *arg)
{
	if (!(bufferevent_get_enabled(bev) & EV_READ) &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		(void)shutdown(bufferevent_getfd(bev), SHUT_WR);
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_EOF) {
		echo_read_cb(bev, arg);
		bufferevent_disable(bev, EV_READ);
		echo_write_cb(bev, arg);
	}
}

static int
echo_open(struct half *h)
{
	struct bufferevent	*bev;
	int			 sp[2];

	if (h->flow->kind == FLOW_DGRAM) {
		half_ready(h);
		return (0);
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sp) == -1)
		return (-1);
	bev = bufferevent_socket_new(h->flow->worker->base, sp[1],
	    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		close(sp[0]);
		close(sp[1]);
		return (-1);
	}
	h->fd = sp[0];
	h->tr_priv = bev;
	bufferevent_setcb(bev, echo_read_cb, echo_write_cb, echo_event_cb, h);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
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
	if (h->tr_priv != NULL) {
		bufferevent_free(h->tr_priv);
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
