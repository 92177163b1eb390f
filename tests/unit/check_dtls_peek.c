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
 * dtls_peek_client_hello against a real OpenSSL DTLS 1.2 ClientHello,
 * every prefix of it, and mutations of each header field it checks.
 */

#include <sys/types.h>

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include "proto/dtls_peek.h"

static uint8_t	hello[2048];
static size_t	hello_len;
static uint8_t	hello_random[DTLS_RANDOM_SIZE];

/*
 * Let OpenSSL write its first flight into a memory BIO: a ClientHello is
 * one record well under the MTU, so the bytes are exactly one datagram.
 */
static void
capture_hello(void)
{
	SSL_CTX	*ctx;
	SSL	*ssl;
	BIO	*rb, *wb;
	int	 n;

	ctx = SSL_CTX_new(DTLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	SSL_CTX_set_min_proto_version(ctx, DTLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(ctx, DTLS1_2_VERSION);
	/* A memory BIO has no path MTU to ask for. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_QUERY_MTU);
	ssl = SSL_new(ctx);
	ck_assert_ptr_nonnull(ssl);
	SSL_set_mtu(ssl, 1200);
	rb = BIO_new(BIO_s_mem());
	wb = BIO_new(BIO_s_mem());
	ck_assert(rb != NULL && wb != NULL);
	SSL_set_bio(ssl, rb, wb);
	SSL_set_connect_state(ssl);
	(void)SSL_do_handshake(ssl);	/* sends the hello, then waits */
	n = BIO_read(wb, hello, sizeof(hello));
	ck_assert_int_gt(n, 60);
	hello_len = (size_t)n;
	ck_assert_uint_eq(SSL_get_client_random(ssl, hello_random,
	    sizeof(hello_random)), sizeof(hello_random));
	SSL_free(ssl);
	SSL_CTX_free(ctx);
}

START_TEST(test_dtls_peek_real_hello)
{
	const uint8_t	*r = NULL;

	capture_hello();
	ck_assert_int_eq(dtls_peek_client_hello(hello, hello_len, &r), 1);
	ck_assert_ptr_eq(r, hello + 27);
	ck_assert_int_eq(memcmp(r, hello_random, DTLS_RANDOM_SIZE), 0);
}
END_TEST

/* Every prefix that cuts into the record is not a hello. */
START_TEST(test_dtls_peek_prefixes)
{
	const uint8_t	*r;
	size_t		 reclen;

	capture_hello();
	reclen = ((size_t)hello[11] << 8) | hello[12];
	ck_assert_uint_eq(13 + reclen, hello_len);
	r = NULL;
	ck_assert_int_eq(dtls_peek_client_hello(hello, (size_t)_i, &r),
	    (size_t)_i >= hello_len);
	ck_assert_int_eq(dtls_peek_client_hello(NULL, (size_t)_i, &r), 0);
}
END_TEST

/* Each field it checks, broken one at a time. */
static const struct {
	size_t		 off;
	uint8_t		 value;
	const char	*what;
} mutations[] = {
	{ 0, 23, "application data record" },
	{ 0, 21, "alert record" },
	{ 1, 0x03, "TLS, not DTLS, version" },
	{ 3, 0, "(control: epoch high byte already 0)" },
	{ 4, 1, "epoch 1" },
	{ 3, 1, "epoch 256" },
	{ 13, 2, "ServerHello" },
	{ 13, 3, "HelloVerifyRequest" },
	{ 19, 1, "fragment offset 65536" },
	{ 21, 1, "fragment offset 1" },
	{ 11, 0xff, "record length past the datagram" },
	{ 12, 0x10, "record length too short" }
};

START_TEST(test_dtls_peek_mutations)
{
	uint8_t		 d[2048];
	const uint8_t	*r = NULL;
	int		 want;

	capture_hello();
	memcpy(d, hello, hello_len);
	d[mutations[_i].off] = mutations[_i].value;
	if (mutations[_i].off == 12)
		d[11] = 0;
	want = mutations[_i].off == 3 && mutations[_i].value == 0;
	ck_assert_msg(dtls_peek_client_hello(d, hello_len, &r) == want,
	    "%s", mutations[_i].what);
}
END_TEST

static Suite *
peek_suite(void)
{
	Suite	*s = suite_create("dtls_peek");
	TCase	*tc = tcase_create("client_hello");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_dtls_peek_real_hello);
	tcase_add_loop_test(tc, test_dtls_peek_prefixes, 0, 400);
	tcase_add_loop_test(tc, test_dtls_peek_mutations, 0,
	    (int)(sizeof(mutations) / sizeof(mutations[0])));
	suite_add_tcase(s, tc);
	return (s);
}

int
main(void)
{
	SRunner	*sr = srunner_create(peek_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
