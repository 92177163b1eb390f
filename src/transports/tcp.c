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
 * tcp: plain TCP.  As a listener, an evconnlistener per worker on its own
 * SO_REUSEPORT socket; each connection is a flow.  As egress, a
 * non-blocking connect with a deadline.  The relay itself is the core's.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "flowgate.h"

#define TCP_BACKLOG	1024
#define TCP_RETRY_MS	1000	/* accept pause after EMFILE */

int
tcp_listen_socket(const struct service_conf *sc, const struct sockaddr *sa,
    socklen_t salen, const char **errstr)
{
	int	fd, on = 1;

	fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		*errstr = "socket";
		return (-1);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		*errstr = "setsockopt";
		goto fail;
	}
	if (bind(fd, sa, salen) == -1) {
		*errstr = "bind";
		goto fail;
	}
	if (listen(fd, TCP_BACKLOG) == -1) {
		*errstr = "listen";
		goto fail;
	}
	return (fd);
fail:
	on = errno;
	close(fd);
	errno = on;
	return (-1);
}

void
tcp_nodelay(int fd)
{
	int	on = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
}

static void
tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct service	*svc = arg;
	struct flow	*f;

	if ((f = flow_new(svc, FLOW_STREAM, sa, (socklen_t)salen, 0)) == NULL) {
		close(fd);
		return;
	}
	tcp_nodelay(fd);
	f->in.fd = fd;
	/* Early bytes wait in the kernel until the egress is ready. */
	half_ready(&f->in);
	flow_open(f);
}

static void
tcp_retry_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct service	*svc = arg;

	if (svc->listener != NULL)
		evconnlistener_enable(svc->listener);
}

/* Out of descriptors: stop accepting for a while (relayd does this). */
void
tcp_accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct service	*svc = arg;
	struct timeval	 tv = { TCP_RETRY_MS / 1000, 0 };
	int		 err = EVUTIL_SOCKET_ERROR();

	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM) {
		log_warnx("service=%s accept: %s", svc->conf->name,
		    evutil_socket_error_to_string(err));
		return;
	}
	log_warnx("service=%s accept: %s; pausing", svc->conf->name,
	    evutil_socket_error_to_string(err));
	evconnlistener_disable(l);
	if (svc->retry_ev == NULL)
		svc->retry_ev = evtimer_new(svc->worker->base, tcp_retry_cb,
		    svc);
	if (svc->retry_ev != NULL)
		evtimer_add(svc->retry_ev, &tv);
}

static int
tcp_listen_start(struct service *svc, int fd)
{
	svc->listen_fd = fd;
	svc->listener = evconnlistener_new(svc->worker->base, tcp_accept_cb,
	    svc, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (svc->listener == NULL)
		return (-1);
	evconnlistener_set_error_cb(svc->listener, tcp_accept_error_cb);
	return (0);
}

/* Established connections live on without the listener. */
void
tcp_listen_close(struct service *svc)
{
	if (svc->retry_ev != NULL) {
		event_free(svc->retry_ev);
		svc->retry_ev = NULL;
	}
	if (svc->listener != NULL) {
		evconnlistener_free(svc->listener);	/* closes the fd */
		svc->listener = NULL;
	} else if (svc->listen_fd != -1)
		close(svc->listen_fd);
	svc->listen_fd = -1;
}

static void
tcp_connect_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;

	event_del(h->wev);
	h->io_cb(h, ETIMEDOUT);
}

static void
tcp_connect_cb(evutil_socket_t fd, short what, void *arg)
{
	struct half	*h = arg;
	socklen_t	 len = sizeof(int);
	int		 err = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	event_del(h->wev);
	if (h->tev != NULL)
		evtimer_del(h->tev);
	h->io_cb(h, err);
}

/*
 * Connect h to sa without blocking, within timeout_ms; done gets 0 or an
 * errno (ETIMEDOUT for the deadline), always from the event loop.
 */
int
tcp_connect(struct half *h, const struct sockaddr *sa, socklen_t len,
    uint64_t timeout_ms, void (*done)(struct half *, int))
{
	struct flow	*f = h->flow;

	h->io_cb = done;
	h->fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (h->fd == -1)
		return (-1);
	tcp_nodelay(h->fd);
	if (sa != (const struct sockaddr *)&f->dst)
		memcpy(&f->dst, sa, len);
	f->dstlen = len;
	h->wev = event_new(f->worker->base, h->fd, EV_WRITE, tcp_connect_cb,
	    h);
	if (h->wev == NULL)
		return (-1);
	half_set_timer(h, timeout_ms, tcp_connect_timeout_cb);
	if (connect(h->fd, sa, len) == 0) {
		event_active(h->wev, EV_WRITE, 0);
		return (0);
	}
	if (errno != EINPROGRESS)
		return (-1);
	return (event_add(h->wev, NULL));
}

/*
 * Connect h to sa or, when that cannot even start, to the name's next
 * addresses, all within the flow's dial deadline.  Returns 0 with a
 * connect under way, or -1 with errno.
 */
int
tcp_connect_any(struct half *h, const struct sockaddr *sa, socklen_t len,
    void (*done)(struct half *, int))
{
	struct flow		*f = h->flow;
	struct sockaddr_storage	 ss;
	socklen_t		 sl;
	uint64_t		 now;

	for (;;) {
		if ((now = now_ms()) >= f->dial_deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
		if (tcp_connect(h, sa, len, f->dial_deadline - now, done) == 0)
			return (0);
		if (half_next_address(h, 0, &ss, &sl) == -1)
			return (-1);
		sa = (struct sockaddr *)&ss;
		len = sl;
	}
}

/*
 * From a connect callback: after a failure, dial the name's next address.
 * Returns 1 with a new connect under way, else 0 and *err to report.
 */
int
tcp_connect_retry(struct half *h, int *err, void (*done)(struct half *, int))
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl;

	errno = *err;
	if (*err == 0 || half_next_address(h, 0, &ss, &sl) == -1)
		return (0);
	if (tcp_connect_any(h, (struct sockaddr *)&ss, sl, done) == 0)
		return (1);
	*err = errno;
	return (0);
}

static void
tcp_connected(struct half *h, int err)
{
	struct flow	*f = h->flow;

	if (tcp_connect_retry(h, &err, tcp_connected))
		return;
	if (err != 0) {
		f->err = err;
		flow_close(f, err == ECONNREFUSED ? "refused" :
		    err == ETIMEDOUT ? "timeout" : "error");
		return;
	}
	half_ready(h);
}

static int
tcp_dial(struct half *h, const struct sockaddr *sa, socklen_t len)
{
	return (tcp_connect_any(h, sa, len, tcp_connected));
}

static int
tcp_open(struct half *h)
{
	return (half_dial(h, SOCK_STREAM, tcp_dial));
}

const struct transport_ops tcp_transport = {
	.name = "tcp",
	.flags = TR_STREAM | TR_LISTEN | TR_FORWARD | TR_NEED_FORWARD |
	    TR_NEED_PORT,
	.idle_default = 60 * 60 * 1000,
	.check = transport_check_hostport,
	.listen_open = tcp_listen_socket,
	.listen_start = tcp_listen_start,
	.listen_stop = tcp_listen_close,
	.open = tcp_open,
};
