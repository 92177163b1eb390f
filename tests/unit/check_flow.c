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
 * Unit tests for the timer wheel and the flow table: expiry order and
 * re-filing, growth of the hash, lookups, limits, and that every counter
 * moves with link and unlink only.
 */

#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flowgate.h"

/* The wheel alone. */

struct fired {
	struct wheel_link link;
	int		 fired;
	uint64_t	 when;
};

static uint64_t	fire_now;

static void
fire_cb(struct wheel_link *l, void *arg)
{
	struct fired	*f = (struct fired *)l;
	int		*count = arg;

	f->fired++;
	f->when = fire_now;
	(*count)++;
}

START_TEST(test_wheel_expires_in_order)
{
	struct wheel	w;
	struct fired	f[5];
	uint64_t	deadlines[5] = { 1000, 250, 5000, 2500, 250 };
	int		i, count = 0;

	memset(f, 0, sizeof(f));
	wheel_init(&w, 250, 0);
	for (i = 0; i < 5; i++)
		wheel_add(&w, &f[i].link, deadlines[i]);
	ck_assert_uint_eq(w.count, 5);
	for (fire_now = 0; fire_now <= 6000; fire_now += 250) {
		wheel_advance(&w, fire_now, fire_cb, &count);
		for (i = 0; i < 5; i++) {
			if (fire_now < deadlines[i])
				ck_assert_int_eq(f[i].fired, 0);
			else
				ck_assert_int_eq(f[i].fired, 1);
		}
	}
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(f[i].when, deadlines[i]);
	ck_assert_int_eq(count, 5);
	ck_assert_uint_eq(w.count, 0);
}
END_TEST

START_TEST(test_wheel_beyond_one_turn)
{
	struct wheel	w;
	struct fired	f;
	uint64_t	span = 250 * WHEEL_SLOTS, deadline = 3 * span + 500;
	int		count = 0;

	memset(&f, 0, sizeof(f));
	wheel_init(&w, 250, 0);
	wheel_add(&w, &f.link, deadline);
	for (fire_now = 250; fire_now < deadline; fire_now += 250)
		wheel_advance(&w, fire_now, fire_cb, &count);
	ck_assert_int_eq(count, 0);
	ck_assert_uint_eq(w.count, 1);
	fire_now = deadline;
	wheel_advance(&w, fire_now, fire_cb, &count);
	ck_assert_int_eq(count, 1);
}
END_TEST

START_TEST(test_wheel_jump_and_delete)
{
	struct wheel	w;
	struct fired	f[3];
	int		count = 0;

	memset(f, 0, sizeof(f));
	wheel_init(&w, 100, 1000);
	wheel_add(&w, &f[0].link, 1500);
	wheel_add(&w, &f[1].link, 2000);
	wheel_add(&w, &f[2].link, 900);	/* past: next tick */
	wheel_del(&w, &f[1].link);
	wheel_del(&w, &f[1].link);	/* twice is harmless */
	ck_assert_uint_eq(w.count, 2);
	/* A jump of many turns still visits every slot once. */
	fire_now = 1000 + 100 * WHEEL_SLOTS * 5;
	wheel_advance(&w, fire_now, fire_cb, &count);
	ck_assert_int_eq(count, 2);
	ck_assert_int_eq(f[1].fired, 0);
	ck_assert_uint_eq(w.count, 0);
}
END_TEST

/* The flow table, on a worker that has no event loop. */

static const struct transport_ops null_ops = { .name = "null" };
static struct worker		 tw;
static struct service		 tsvc;
static struct service_conf	 tsc;
static struct service_stats	*tstats;
static struct config		 tcf;

static void
setup(void)
{
	memset(&tw, 0, sizeof(tw));
	memset(&tsvc, 0, sizeof(tsvc));
	memset(&tsc, 0, sizeof(tsc));
	tstats = service_stats_new();
	memset(&tcf, 0, sizeof(tcf));
	memset(flowgate, 0, sizeof(*flowgate));
	TAILQ_INIT(&tw.services);
	TAILQ_INIT(&tw.allflows);
	TAILQ_INIT(&tw.dead);		/* no loop: the test reaps */
	flow_table_init(&tw.table);
	wheel_init(&tw.wheel, 250, now_ms());
	tcf.max_flows = 1000000;
	tsc.name = "t";
	tsc.stats = tstats;
	tsc.max_flows = 1000000;
	tsc.listen_ops = &null_ops;
	tsc.forward_ops = &null_ops;
	tsvc.worker = &tw;
	tsvc.config = &tcf;
	tsvc.conf = &tsc;
	tsvc.refs = 1;		/* the test's own */
	tsvc.idle_timeout = 60000;
	TAILQ_INIT(&tsvc.flows);
	log_set(LOG_LVL_ERROR, LOG_FMT_TEXT, 0);
}

static void
teardown(void)
{
	flow_reap(&tw);
	ck_assert(TAILQ_EMPTY(&tw.dead));
	flow_table_free(&tw.table);
	service_stats_unref(tstats);
	tstats = NULL;
}

static void
mkaddr(struct sockaddr_in *sin, uint32_t ip, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(ip);
	sin->sin_port = htons(port);
}

static void
assert_counts(uint64_t n)
{
	ck_assert_uint_eq(tsvc.nflows, n);
	ck_assert_uint_eq(tw.nflows, n);
	ck_assert_uint_eq(tstats->nflows, n);
	ck_assert_uint_eq(flowgate->nflows, n);
	ck_assert_uint_eq(tw.table.count, n);
	ck_assert_int_eq(tsvc.refs, (int)n + 1);
}

#define NFLOWS	5000

START_TEST(test_flow_table_insert_lookup_close)
{
	struct sockaddr_in	 sin;
	struct flow		*f;
	int			 i;

	for (i = 0; i < NFLOWS; i++) {
		mkaddr(&sin, 0x7f000001 + (uint32_t)(i / 1000),
		    (uint16_t)(1024 + i));
		f = flow_new(&tsvc, FLOW_DGRAM, (struct sockaddr *)&sin,
		    sizeof(sin), 1);
		ck_assert_ptr_nonnull(f);
	}
	assert_counts(NFLOWS);
	ck_assert_uint_ge(tw.table.nbuckets, NFLOWS);
	ck_assert_uint_eq(tstats->flows_total, NFLOWS);
	/* Every flow is found under its own address, and only there. */
	for (i = 0; i < NFLOWS; i++) {
		mkaddr(&sin, 0x7f000001 + (uint32_t)(i / 1000),
		    (uint16_t)(1024 + i));
		f = flow_lookup(&tw, &tsvc, (struct sockaddr *)&sin);
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(memcmp(&f->peer, &sin, sizeof(sin)), 0);
	}
	mkaddr(&sin, 0x7f000001, 80);
	ck_assert_ptr_null(flow_lookup(&tw, &tsvc, (struct sockaddr *)&sin));
	/* Close the even ones. */
	for (i = 0; i < NFLOWS; i += 2) {
		mkaddr(&sin, 0x7f000001 + (uint32_t)(i / 1000),
		    (uint16_t)(1024 + i));
		f = flow_lookup(&tw, &tsvc, (struct sockaddr *)&sin);
		ck_assert_ptr_nonnull(f);
		f->bytes_in = 10;
		flow_close(f, "test");
		ck_assert_ptr_null(flow_lookup(&tw, &tsvc,
		    (struct sockaddr *)&sin));
	}
	assert_counts(NFLOWS / 2);
	/* Bytes count as they pass (stats_live_bytes), not again at close. */
	ck_assert_uint_eq(tstats->bytes_in, 0);
	while ((f = TAILQ_FIRST(&tw.allflows)) != NULL)
		flow_close(f, "test");
	assert_counts(0);
	ck_assert_uint_eq(tw.wheel.count, 0);
}
END_TEST

/*
 * max_per_source counts one client address over every worker: flows made
 * by two workers' instances of one service share its cap.
 */
START_TEST(test_flow_max_per_source_all_workers)
{
	struct worker		 tw2;
	struct service		 tsvc2;
	struct sockaddr_in	 sin;
	struct flow		*f, *keep[3];
	int			 i;

	memset(&tw2, 0, sizeof(tw2));
	TAILQ_INIT(&tw2.services);
	TAILQ_INIT(&tw2.allflows);
	TAILQ_INIT(&tw2.dead);
	flow_table_init(&tw2.table);
	wheel_init(&tw2.wheel, 250, now_ms());
	tw2.idx = 1;
	tsvc2 = tsvc;
	tsvc2.worker = &tw2;
	TAILQ_INIT(&tsvc2.flows);
	tsc.max_per_source = 3;

	/* Two on worker 0, one on worker 1, from ports of one address. */
	for (i = 0; i < 3; i++) {
		mkaddr(&sin, 0x7f000005, (uint16_t)(3000 + i));
		keep[i] = flow_new(i < 2 ? &tsvc : &tsvc2, FLOW_DGRAM,
		    (struct sockaddr *)&sin, sizeof(sin), 1);
		ck_assert_ptr_nonnull(keep[i]);
	}
	/* The fourth is refused on either worker; another address is not. */
	mkaddr(&sin, 0x7f000005, 3003);
	ck_assert_ptr_null(flow_new(&tsvc2, FLOW_DGRAM,
	    (struct sockaddr *)&sin, sizeof(sin), 1));
	ck_assert_ptr_null(flow_new(&tsvc, FLOW_DGRAM,
	    (struct sockaddr *)&sin, sizeof(sin), 1));
	ck_assert_uint_eq(tstats->flows_refused, 2);
	mkaddr(&sin, 0x7f000006, 3003);
	ck_assert_ptr_nonnull(flow_new(&tsvc2, FLOW_DGRAM,
	    (struct sockaddr *)&sin, sizeof(sin), 1));
	/* One closes on worker 0: worker 1 may take one more. */
	flow_close(keep[0], "test");
	mkaddr(&sin, 0x7f000005, 3004);
	ck_assert_ptr_nonnull(flow_new(&tsvc2, FLOW_DGRAM,
	    (struct sockaddr *)&sin, sizeof(sin), 1));
	mkaddr(&sin, 0x7f000005, 3005);
	ck_assert_ptr_null(flow_new(&tsvc, FLOW_DGRAM,
	    (struct sockaddr *)&sin, sizeof(sin), 1));

	while ((f = TAILQ_FIRST(&tw.allflows)) != NULL)
		flow_close(f, "test");
	while ((f = TAILQ_FIRST(&tw2.allflows)) != NULL)
		flow_close(f, "test");
	flow_reap(&tw2);
	flow_table_free(&tw2.table);
	/* Every count went back: the cap is whole again. */
	for (i = 0; i < 3; i++) {
		mkaddr(&sin, 0x7f000005, (uint16_t)(4000 + i));
		ck_assert_ptr_nonnull(flow_new(&tsvc, FLOW_DGRAM,
		    (struct sockaddr *)&sin, sizeof(sin), 1));
	}
	while ((f = TAILQ_FIRST(&tw.allflows)) != NULL)
		flow_close(f, "test");
}
END_TEST

START_TEST(test_flow_limits_refuse_and_count)
{
	struct sockaddr_in	 sin;
	struct flow		*f;
	int			 i, made = 0;

	tsc.max_flows = 10;
	for (i = 0; i < 15; i++) {
		mkaddr(&sin, 0x7f000001, (uint16_t)(2000 + i));
		f = flow_new(&tsvc, FLOW_DGRAM, (struct sockaddr *)&sin,
		    sizeof(sin), 1);
		if (f != NULL)
			made++;
	}
	ck_assert_int_eq(made, 10);
	ck_assert_uint_eq(tstats->flows_refused, 5);
	ck_assert_uint_eq(tsvc.flows_refused, 5);
	assert_counts(10);
	/* The global limit applies across services too. */
	tsc.max_flows = 1000;
	tcf.max_flows = 12;
	for (i = 0; i < 5; i++) {
		mkaddr(&sin, 0x7f000002, (uint16_t)(2000 + i));
		if (flow_new(&tsvc, FLOW_DGRAM, (struct sockaddr *)&sin,
		    sizeof(sin), 1) != NULL)
			made++;
	}
	ck_assert_int_eq(made, 12);
	ck_assert_uint_eq(tstats->flows_refused, 8);
	while ((f = TAILQ_FIRST(&tw.allflows)) != NULL)
		flow_close(f, "test");
	assert_counts(0);
}
END_TEST

START_TEST(test_flow_idle_sweep)
{
	struct sockaddr_in	 sin;
	struct flow		*kept;
	int			 i;

	tsvc.idle_timeout = 1000;
	for (i = 0; i < 20; i++) {
		mkaddr(&sin, 0x7f000001, (uint16_t)(3000 + i));
		ck_assert_ptr_nonnull(flow_new(&tsvc, FLOW_DGRAM,
		    (struct sockaddr *)&sin, sizeof(sin), 1));
	}
	kept = TAILQ_FIRST(&tw.allflows);
	usleep(500 * 1000);
	flow_touch(kept);		/* now due at 1500 ms */
	flow_sweep(&tw);
	assert_counts(20);
	usleep(700 * 1000);		/* 1200 ms: the others are due */
	flow_sweep(&tw);
	assert_counts(1);
	ck_assert_ptr_eq(TAILQ_FIRST(&tw.allflows), kept);
	usleep(600 * 1000);		/* 1800 ms */
	flow_sweep(&tw);
	assert_counts(0);
}
END_TEST

START_TEST(test_flow_idle_touch_keeps_alive)
{
	struct sockaddr_in	 sin;
	struct flow		*f;
	int			 i;

	tsvc.idle_timeout = 500;
	mkaddr(&sin, 0x7f000001, 4000);
	f = flow_new(&tsvc, FLOW_DGRAM, (struct sockaddr *)&sin, sizeof(sin),
	    1);
	ck_assert_ptr_nonnull(f);
	/* Traffic every 150 ms for 1.2 s keeps a 500 ms flow alive. */
	for (i = 0; i < 8; i++) {
		usleep(150 * 1000);
		flow_touch(f);
		flow_sweep(&tw);
		assert_counts(1);
	}
	usleep(800 * 1000);
	flow_sweep(&tw);
	assert_counts(0);
}
END_TEST

static Suite *
flow_suite(void)
{
	Suite	*s = suite_create("flow");
	TCase	*tc;

	tc = tcase_create("wheel");
	tcase_add_test(tc, test_wheel_expires_in_order);
	tcase_add_test(tc, test_wheel_beyond_one_turn);
	tcase_add_test(tc, test_wheel_jump_and_delete);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_flow_table_insert_lookup_close);
	tcase_add_test(tc, test_flow_limits_refuse_and_count);
	tcase_add_test(tc, test_flow_max_per_source_all_workers);
	suite_add_tcase(s, tc);

	tc = tcase_create("idle");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, test_flow_idle_sweep);
	tcase_add_test(tc, test_flow_idle_touch_keeps_alive);
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(flow_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
