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
 * udp: plain UDP.  As a listener, one socket per worker (SO_REUSEPORT, so
 * the kernel keeps each client address on one worker) read with recvmmsg;
 * each client address is a flow.  As egress, each flow has its own
 * connected socket, so the kernel demultiplexes replies and reports ICMP
 * errors (ECONNREFUSED) on it.  Replies leave from the listening socket, so
 * the client sees them come from the address it sent to.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/udp.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/util.h>

#include "flowgate.h"

#define UDP_SOCKBUF	(4 * 1024 * 1024)

static int	udp_out_next(struct half *);

/* Large buffers, and runs of datagrams handed over whole (udp_gro). */
static void
udp_sockopts(int fd)
{
	int	sz = UDP_SOCKBUF;

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	udp_gro(fd);
}

/*
 * UDP generic receive offload, the mirror of udp_sendv's segmentation: the
 * kernel may hand over a run of datagrams of one size (the last may be
 * shorter) from one source as one buffer, with the size in a UDP_GRO
 * control message, instead of queueing and copying each on its own.  Such
 * runs come from a peer that sent them segmented (another flowgate, a
 * QUIC stack) or from a NIC that coalesced them.  Each segment is still one
 * datagram: the readers walk them with udp_rx_next().  Without UDP_GRO, or
 * on a kernel that refuses it, every datagram arrives on its own as before.
 */
void
udp_gro(int fd)
{
#ifdef UDP_GRO
	int	on = 1;

	(void)setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
#else
	(void)fd;
#endif
}

int
udp_listen_socket(const struct service_conf *sc, const struct sockaddr *sa,
    socklen_t salen, const char **errstr)
{
	int	fd, on = 1;

	fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		*errstr = "socket";
		return (-1);
	}
	/*
	 * SO_REUSEPORT only: the workers share the port, and SO_REUSEADDR
	 * would let any other UDP socket with it bind the port too.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1 ||
	    (sa->sa_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &on, sizeof(on)) == -1)) {
		*errstr = "setsockopt";
		goto fail;
	}
	udp_sockopts(fd);
	if (bind(fd, sa, salen) == -1) {
		*errstr = "bind";
		goto fail;
	}
	return (fd);
fail:
	on = errno;
	close(fd);
	errno = on;
	return (-1);
}

/*
 * The size of each datagram in message i: its whole length, or for a run
 * the kernel handed over as one (udp_gro) the segment size; the last
 * segment may be shorter.  0 only for an empty datagram.
 */
static size_t
udp_rx_seg(struct udp_rx *rx, int i)
{
#ifdef UDP_GRO
	struct msghdr	*m = &rx->msgs[i].msg_hdr;
	struct cmsghdr	*c;
	int		 seg;

	for (c = CMSG_FIRSTHDR(m); c != NULL; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_UDP || c->cmsg_type != UDP_GRO ||
		    c->cmsg_len < CMSG_LEN(sizeof(seg)))
			continue;
		memcpy(&seg, CMSG_DATA(c), sizeof(seg));
		if (seg > 0 && (unsigned int)seg < rx->msgs[i].msg_len)
			return ((size_t)seg);
	}
#endif
	return (rx->msgs[i].msg_len);
}

/*
 * Read up to FG_BATCH messages from fd into the worker's receive slots,
 * each FG_MAX_DGRAM + 1 bytes (the largest run udp_gro hands over fits),
 * with their sources in rx->from[] when with_from; note each message's
 * datagram size, and count the datagrams that came in runs for the
 * service.  recvmmsg's result.
 */
int
udp_recvv(struct service *svc, int fd, struct udp_rx *rx, int with_from)
{
	struct msghdr	*m;
	uint64_t	 runs = 0;
	size_t		 len, k;
	int		 i, n;

	for (i = 0; i < FG_BATCH; i++) {
		rx->iov[i].iov_base = svc->worker->rbuf +
		    (size_t)i * (FG_MAX_DGRAM + 1);
		rx->iov[i].iov_len = FG_MAX_DGRAM + 1;
		m = &rx->msgs[i].msg_hdr;
		memset(m, 0, sizeof(*m));
		m->msg_iov = &rx->iov[i];
		m->msg_iovlen = 1;
		m->msg_control = rx->cm[i].buf;
		m->msg_controllen = sizeof(rx->cm[i].buf);
		if (with_from) {
			m->msg_name = &rx->from[i];
			m->msg_namelen = sizeof(rx->from[i]);
		}
	}
	rx->ndgrams = 0;
	if ((n = recvmmsg(fd, rx->msgs, FG_BATCH, MSG_DONTWAIT, NULL)) <= 0)
		return (n);
	for (i = 0; i < n; i++) {
		len = rx->msgs[i].msg_len;
		rx->seg[i] = udp_rx_seg(rx, i);
		k = rx->seg[i] < len ? (len + rx->seg[i] - 1) / rx->seg[i] : 1;
		rx->ndgrams += (int)k;
		if (k > 1)
			runs += k;
	}
	if (runs > 0)
		atomic_fetch_add_explicit(&svc->conf->stats->coalesced, runs,
		    memory_order_relaxed);
	return (n);
}

/* The room in message i's slot from datagram d on (decrypting in place). */
size_t
udp_rx_room(const struct udp_rx *rx, int i, const struct dgram *d)
{
	return (FG_MAX_DGRAM + 1 -
	    (size_t)(d->buf - (u_char *)rx->iov[i].iov_base));
}

/*
 * The datagrams of message i one at a time: *off starts at 0, and each
 * call fills d with the next and returns 1, or returns 0 after the last.
 * An empty datagram is one datagram.  A message whose control data did
 * not fit (MSG_CTRUNC: never with the one option asked for) may be a run
 * whose size was lost, so it is dropped rather than passed on as one.
 */
int
udp_rx_next(const struct udp_rx *rx, int i, size_t *off, struct dgram *d)
{
	size_t	len = rx->msgs[i].msg_len, seg = rx->seg[i];

	if (*off > len || (*off == len && len > 0) ||
	    (rx->msgs[i].msg_hdr.msg_flags & MSG_CTRUNC))
		return (0);
	d->buf = (u_char *)rx->iov[i].iov_base + *off;
	d->len = len - *off < seg ? len - *off : seg;
	*off += d->len > 0 ? d->len : 1;
	return (1);
}

/* The flow of client sa, opened on its first datagram; NULL: refused. */
static struct flow *
udp_listen_flow(struct service *svc, struct sockaddr *sa, socklen_t salen)
{
	struct flow	*f;

	if ((f = flow_lookup(svc->worker, svc, sa)) != NULL)
		return (f);
	if ((f = flow_new(svc, FLOW_DGRAM, sa, salen, FLOW_NEW_HASHED)) == NULL)
		return (NULL);
	f->in.flags |= HALF_READY;
	flow_open(f);
	/* flow_open may have closed it. */
	return (flow_lookup(svc->worker, svc, sa));
}

/*
 * Datagrams from clients.  Up to FG_BATCH messages at a time land in the
 * worker's scratch buffer; runs of datagrams from one client go to its
 * flow as one batch.
 */
static void
udp_listen_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct service		*svc = arg;
	struct udp_rx		 rx;
	struct dgram		 d[FG_BATCH];
	struct sockaddr		*sa, *cur;
	struct flow		*f;
	size_t			 off;
	int			 got, i, n, nd;

	/* Up to a budget of datagrams per wakeup, for fairness. */
	for (got = 0; got < FG_RX_BUDGET; got += rx.ndgrams) {
		n = udp_recvv(svc, fd, &rx, 1);
		if (n <= 0) {
			if (n == -1 && errno != EAGAIN && errno != EINTR)
				log_warn("service=%s recvmmsg", svc->conf->name);
			return;
		}
		f = NULL;
		cur = NULL;
		nd = 0;
		for (i = 0; i < n; i++) {
			sa = (struct sockaddr *)&rx.from[i];
			if (cur == NULL || addr_cmp(sa, cur) != 0) {
				/* A new run: the previous one goes first. */
				if (f != NULL && nd > 0)
					(void)flow_dgram_in(f, d, nd);
				nd = 0;
				cur = sa;
				f = udp_listen_flow(svc, sa,
				    rx.msgs[i].msg_hdr.msg_namelen);
			}
			if (f == NULL)
				continue;	/* refused, logged */
			for (off = 0; udp_rx_next(&rx, i, &off, &d[nd]);) {
				if (++nd < FG_BATCH)
					continue;
				nd = 0;
				if (flow_dgram_in(f, d, FG_BATCH) == -1) {
					/* Closed: the rest of the run goes. */
					f = NULL;
					break;
				}
			}
		}
		if (f != NULL && nd > 0)
			(void)flow_dgram_in(f, d, nd);
		if (n < FG_BATCH)
			return;
	}
}

static int
udp_listen_start(struct service *svc, int fd)
{
	svc->listen_fd = fd;
	svc->listen_ev = event_new(svc->worker->base, fd, EV_READ | EV_PERSIST,
	    udp_listen_cb, svc);
	if (svc->listen_ev == NULL || event_add(svc->listen_ev, NULL) == -1)
		return (-1);
	return (0);
}

/* Without the listening socket no reply can reach a client: end all. */
static void
udp_listen_stop(struct service *svc)
{
	struct flow	*f;

	if (svc->listen_ev != NULL) {
		event_free(svc->listen_ev);
		svc->listen_ev = NULL;
	}
	while ((f = TAILQ_FIRST(&svc->flows)) != NULL)
		flow_close(f, "shutdown");
	if (svc->listen_fd != -1) {
		close(svc->listen_fd);
		svc->listen_fd = -1;
	}
}

/*
 * UDP generic segmentation offload: a run of datagrams of one size (the
 * last may be shorter) to one address leaves as one super-datagram that
 * the stack splits again, at the device or at the receiving socket.  The
 * boundaries and the order stay; what is saved is one trip through the
 * IP stack per datagram.  A path that refuses it (EMSGSIZE or EINVAL: an
 * MTU below the segment, which plain sends would fragment; EIO: no
 * checksum offload) turns it off for that half, which then sends singly
 * (tests/netns_gso.sh).
 */
#ifdef UDP_SEGMENT
#define UDP_GSO_SEGS	64	/* UDP_MAX_SEGMENTS on older kernels */
#define UDP_GSO_BYTES	65507	/* the largest IPv4 UDP payload: all of them */
#endif

/*
 * Send d[0..n) to one address (to NULL: the socket's peer), as few
 * syscalls as the kernel allows.  Returns how many left; fewer than n
 * with errno set when the socket refused the next one.  *nogso turns
 * segmentation off, and is set when the path refuses it.
 */
int
udp_sendv(int fd, struct sockaddr *to, socklen_t tolen,
    const struct dgram *d, int n, int *nogso)
{
	struct mmsghdr	msgs[FG_BATCH];
	struct iovec	iov[FG_BATCH];
	int		grp[FG_BATCH];
	int		i, k, m, nm, ni, sent, off = 0;
#ifdef UDP_SEGMENT
	union {
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	align;
	}		cm[FG_BATCH];
	struct cmsghdr	*c;
	size_t		total;
#endif

	while (off < n) {
		for (nm = 0, ni = 0, i = off; i < n && ni < FG_BATCH; nm++) {
			k = 1;
#ifdef UDP_SEGMENT
			total = d[i].len;
			while (!*nogso && d[i].len > 0 && i + k < n &&
			    ni + k < FG_BATCH && k < UDP_GSO_SEGS &&
			    d[i + k].len > 0 && d[i + k].len <= d[i].len &&
			    total + d[i + k].len <= UDP_GSO_BYTES) {
				total += d[i + k].len;
				/* A shorter datagram ends the run. */
				if (d[i + k++].len < d[i].len)
					break;
			}
#endif
			for (m = 0; m < k; m++) {
				iov[ni + m].iov_base = d[i + m].buf;
				iov[ni + m].iov_len = d[i + m].len;
			}
			memset(&msgs[nm].msg_hdr, 0, sizeof(msgs[nm].msg_hdr));
			msgs[nm].msg_hdr.msg_iov = &iov[ni];
			msgs[nm].msg_hdr.msg_iovlen = (size_t)k;
			msgs[nm].msg_hdr.msg_name = to;
			msgs[nm].msg_hdr.msg_namelen = tolen;
#ifdef UDP_SEGMENT
			if (k > 1) {
				memset(&cm[nm], 0, sizeof(cm[nm]));
				msgs[nm].msg_hdr.msg_control = cm[nm].buf;
				msgs[nm].msg_hdr.msg_controllen =
				    sizeof(cm[nm].buf);
				c = CMSG_FIRSTHDR(&msgs[nm].msg_hdr);
				c->cmsg_level = SOL_UDP;
				c->cmsg_type = UDP_SEGMENT;
				c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				*(uint16_t *)(void *)CMSG_DATA(c) =
				    (uint16_t)d[i].len;
			}
#endif
			grp[nm] = k;
			ni += k;
			i += k;
		}
		do
			sent = sendmmsg(fd, msgs, (unsigned int)nm,
			    MSG_DONTWAIT);
		while (sent == -1 && errno == EINTR);
		if (sent == -1) {
			/* msgs[0] failed: a segmented run, or one datagram. */
			if (grp[0] > 1 && (errno == EINVAL ||
			    errno == EMSGSIZE || errno == EIO ||
			    errno == ENOPROTOOPT || errno == EOPNOTSUPP)) {
				/* This path cannot segment: send singly. */
				*nogso = 1;
				continue;
			}
			return (off);
		}
		for (m = 0; m < sent; m++)
			off += grp[m];
	}
	return (off);
}

/* Send a batch; both halves use this with their own socket and address. */
static int
udp_sendmmsg(struct half *h, int fd, struct sockaddr *to, socklen_t tolen,
    struct dgram *d, int n, int is_egress)
{
	struct flow	*f = h->flow;
	int		 sent, nogso = (h->flags & HALF_NOGSO) != 0;

	sent = udp_sendv(fd, to, tolen, d, n, &nogso);
	if (nogso && !(h->flags & HALF_NOGSO)) {
		h->flags |= HALF_NOGSO;
		flow_log(f, LOG_LVL_DEBUG, "udp segmentation offload "
		    "refused, sending singly");
	}
	if (sent == n)
		return (0);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ||
	    !is_egress || (errno == ECONNREFUSED && udp_out_next(h) == 0)) {
		/* Dropped; a client we cannot answer keeps its flow. */
		f->drops += (uint64_t)(n - sent);
		return (0);
	}
	f->err = errno;
	flow_close(f, errno == ECONNREFUSED ? "refused" : "error");
	return (-1);
}

/* Replies to the client, from the listening socket. */
static int
udp_in_send(struct half *h, struct dgram *d, int n)
{
	struct flow	*f = h->flow;

	if (f->service->listen_fd == -1)
		return (0);
	return (udp_sendmmsg(h, f->service->listen_fd,
	    (struct sockaddr *)&f->peer, f->peerlen, d, n, 0));
}

static int
udp_out_send(struct half *h, struct dgram *d, int n)
{
	return (udp_sendmmsg(h, h->fd, NULL, 0, d, n, 1));
}

/* Replies from the destination on the flow's connected socket. */
static void
udp_out_cb(evutil_socket_t fd, short ev, void *arg)
{
	struct half	*h = arg;
	struct flow	*f = h->flow;
	struct udp_rx	 rx;
	struct dgram	 d[FG_BATCH];
	size_t		 off;
	int		 got, i, n, nd;

	for (got = 0; got < FG_RX_BUDGET; got += rx.ndgrams) {
		n = udp_recvv(f->service, fd, &rx, 0);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (errno == ECONNREFUSED && udp_out_next(h) == 0)
				return;
			/* An ICMP error from the destination ends the flow. */
			f->err = errno;
			flow_close(f, errno == ECONNREFUSED ? "refused" :
			    "error");
			return;
		}
		for (i = 0, nd = 0; i < n; i++) {
			for (off = 0; udp_rx_next(&rx, i, &off, &d[nd]);) {
				if (++nd < FG_BATCH)
					continue;
				nd = 0;
				if (flow_dgram_out(f, d, FG_BATCH) == -1)
					return;
			}
		}
		if (nd > 0 && flow_dgram_out(f, d, nd) == -1)
			return;
		if (n < FG_BATCH)
			return;
	}
}

/* The flow's own socket, connected to dst, read by udp_out_cb. */
static int
udp_out_socket(struct half *h, const struct sockaddr *dst, socklen_t len)
{
	struct flow	*f = h->flow;

	h->fd = socket(dst->sa_family, SOCK_DGRAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (h->fd == -1)
		return (-1);
	udp_sockopts(h->fd);
	if (connect(h->fd, dst, len) == -1)
		return (-1);
	if (dst != (const struct sockaddr *)&f->dst)
		memcpy(&f->dst, dst, len);
	f->dstlen = len;
	h->ev = event_new(f->worker->base, h->fd, EV_READ | EV_PERSIST,
	    udp_out_cb, h);
	if (h->ev == NULL || event_add(h->ev, NULL) == -1)
		return (-1);
	return (0);
}

static int
udp_out_connect(struct half *h, const struct sockaddr *dst, socklen_t len)
{
	if (udp_out_socket(h, dst, len) == -1)
		return (-1);
	half_ready(h);
	return (0);
}

/*
 * The destination said port unreachable before it ever answered: when its
 * name had further addresses (AAAA and A, a service on only one of them),
 * the flow moves on to the next one instead of ending.  -1: none left.
 */
static int
udp_out_next(struct half *h)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;

	if (h->flow->pkts_out != 0 || half_next_address(h, 1, &ss, &sl) == -1)
		return (-1);
	h->flags &= ~HALF_NOGSO;
	if (udp_out_socket(h, (struct sockaddr *)&ss, sl) == -1)
		return (-1);
	return (0);
}

static int
udp_open(struct half *h)
{
	return (half_dial(h, SOCK_DGRAM, udp_out_connect));
}

static int
udp_dgram_send(struct half *h, struct dgram *d, int n)
{
	if (h == &h->flow->in)
		return (udp_in_send(h, d, n));
	return (udp_out_send(h, d, n));
}

const struct transport_ops udp_transport = {
	.name = "udp",
	.flags = TR_DGRAM | TR_LISTEN | TR_FORWARD | TR_NEED_FORWARD |
	    TR_NEED_PORT,
	.idle_default = 5 * 60 * 1000,
	.check = transport_check_hostport,
	.listen_open = udp_listen_socket,
	.listen_start = udp_listen_start,
	.listen_stop = udp_listen_stop,
	.open = udp_open,
	.dgram_send = udp_dgram_send,
};
