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
 */

#include <sys/types.h>

#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "flowgate.h"

/* The far end of the pair: what the core writes to out.bev arrives here. */
static void
echo_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bufferevent_write_buffer(bev, bufferevent_get_input(bev));
}

static void
echo_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & BEV_EVENT_EOF) {
		/* Echo what is left, then pass the FIN back. */
		echo_read_cb(bev, arg);
		(void)bufferevent_flush(bev, EV_WRITE, BEV_FINISHED);
	}
}

static int
echo_open(struct half *h)
{
	struct bufferevent	*pair[2];

	if (h->flow->kind == FLOW_DGRAM) {
		half_ready(h);
		return (0);
	}
	if (bufferevent_pair_new(h->flow->worker->base,
	    BEV_OPT_DEFER_CALLBACKS, pair) == -1)
		return (-1);
	h->bev = pair[0];
	h->tr_priv = pair[1];
	bufferevent_setcb(pair[1], echo_read_cb, NULL, echo_event_cb, h);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	half_ready(h);
	return (0);
}

static int
echo_dgram_send(struct half *h, struct dgram *d, int n)
{
	return (flow_dgram_out(h->flow, d, n));
}

static void
echo_shutdown_write(struct half *h)
{
	(void)bufferevent_flush(h->bev, EV_WRITE, BEV_FINISHED);
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
	.shutdown_write = echo_shutdown_write,
	.close = echo_close,
};
