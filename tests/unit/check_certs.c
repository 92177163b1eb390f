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
 * Unit tests for certs.c.  Each test gets its own mkdtemp directory,
 * generates or imports into it, and checks the result with the OpenSSL
 * API: key type and encoding, the extensions GoDoxy's agent relies on,
 * chain verification with the TLS purposes, file modes, the refusal to
 * overwrite, the AGENT_CA_CERT/AGENT_SSL_CERT round trip and its errors,
 * an in-process mTLS handshake with the generated files, and the
 * "flowgate certs" command line.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "flowgate.h"
#include "certs.h"

#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#define DAY		86400L
#define SLACK		300L	/* seconds of leeway on validity checks */

static char	 tmp[256];	/* this test's mkdtemp directory */

static const char *const all_files[] = {
	CERTS_CA_CRT, CERTS_CA_KEY, CERTS_SERVER_CRT, CERTS_SERVER_KEY,
	CERTS_CLIENT_CRT, CERTS_CLIENT_KEY
};

static int
rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return (remove(path));
}

static void
setup(void)
{
	const char	*t;

	if ((t = getenv("TMPDIR")) == NULL || *t == '\0')
		t = "/tmp";
	ck_assert_int_lt(snprintf(tmp, sizeof(tmp), "%s/certs.XXXXXX", t),
	    (int)sizeof(tmp));
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	umask(022);
}

static void
teardown(void)
{
	nftw(tmp, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* "tmp/name" in one of four rotating static buffers. */
static const char *
sub(const char *name)
{
	static char	 bufs[4][512];
	static int	 n;
	char		*b = bufs[n++ % 4];

	snprintf(b, sizeof(bufs[0]), "%s/%s", tmp, name);
	return (b);
}

static char *
path_of(const char *dir, const char *name)
{
	char	*p;

	ck_assert_int_gt(asprintf(&p, "%s/%s", dir, name), 0);
	return (p);
}

static char *
slurp(const char *dir, const char *name, size_t *lenp)
{
	char	*p, *buf;
	FILE	*fp;
	long	 len;

	p = path_of(dir, name);
	fp = fopen(p, "r");
	ck_assert_msg(fp != NULL, "%s: %s", p, strerror(errno));
	ck_assert_int_eq(fseek(fp, 0, SEEK_END), 0);
	len = ftell(fp);
	rewind(fp);
	buf = malloc((size_t)len + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, fp), (size_t)len);
	buf[len] = '\0';
	fclose(fp);
	free(p);
	if (lenp != NULL)
		*lenp = (size_t)len;
	return (buf);
}

static int
exists(const char *dir, const char *name)
{
	struct stat	 sb;
	char		*p;
	int		 r;

	p = path_of(dir, name);
	r = lstat(p, &sb) == 0;
	free(p);
	return (r);
}

static mode_t
mode_of(const char *dir, const char *name)
{
	struct stat	 sb;
	char		*p;

	p = path_of(dir, name);
	ck_assert_int_eq(stat(p, &sb), 0);
	free(p);
	return (sb.st_mode & 07777);
}

static int
count_entries(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	ck_assert_ptr_nonnull(d = opendir(dir));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return (n);
}

static X509 *
load_cert(const char *dir, const char *name)
{
	X509	*x;
	char	*p;
	FILE	*fp;

	p = path_of(dir, name);
	ck_assert_ptr_nonnull(fp = fopen(p, "r"));
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	ck_assert_msg(x != NULL, "%s: not a PEM certificate", p);
	fclose(fp);
	free(p);
	return (x);
}

static EVP_PKEY *
load_key(const char *dir, const char *name)
{
	EVP_PKEY	*k;
	char		*p;
	FILE		*fp;

	p = path_of(dir, name);
	ck_assert_ptr_nonnull(fp = fopen(p, "r"));
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	ck_assert_msg(k != NULL, "%s: not a PEM private key", p);
	fclose(fp);
	free(p);
	return (k);
}

/* The single entry for nid in nm as a malloc'd string, or NULL. */
static char *
name_entry(X509_NAME *nm, int nid)
{
	unsigned char	*u;
	char		*s;
	int		 i;

	if ((i = X509_NAME_get_index_by_NID(nm, nid, -1)) < 0)
		return (NULL);
	ck_assert_int_lt(X509_NAME_get_index_by_NID(nm, nid, i), 0);
	ck_assert_int_ge(ASN1_STRING_to_UTF8(&u,
	    X509_NAME_ENTRY_get_data(X509_NAME_get_entry(nm, i))), 0);
	s = strdup((char *)u);
	OPENSSL_free(u);
	return (s);
}

static void
check_entry(X509 *x, int nid, const char *want)
{
	char	*got;

	got = name_entry(X509_get_subject_name(x), nid);
	if (want == NULL)
		ck_assert_ptr_null(got);
	else {
		ck_assert_ptr_nonnull(got);
		ck_assert_str_eq(got, want);
	}
	free(got);
}

static int
ext_critical(X509 *x, int nid)
{
	int	i;

	i = X509_get_ext_by_NID(x, nid, -1);
	ck_assert_int_ge(i, 0);
	return (X509_EXTENSION_get_critical(X509_get_ext(x, i)));
}

/* The SAN holds exactly one name: DNS:name or IP:name. */
static void
check_san(X509 *x, const char *name)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*gen;
	unsigned char	 ip[16];
	int		 iplen = 0;

	if (inet_pton(AF_INET, name, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, name, ip) == 1)
		iplen = 16;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	ck_assert_ptr_nonnull(gens);
	ck_assert_int_eq(sk_GENERAL_NAME_num(gens), 1);
	gen = sk_GENERAL_NAME_value(gens, 0);
	if (iplen != 0) {
		ck_assert_int_eq(gen->type, GEN_IPADD);
		ck_assert_int_eq(ASN1_STRING_length(gen->d.iPAddress), iplen);
		ck_assert_mem_eq(ASN1_STRING_get0_data(gen->d.iPAddress), ip,
		    (size_t)iplen);
		ck_assert_int_eq(X509_check_ip_asc(x, name, 0), 1);
	} else {
		ck_assert_int_eq(gen->type, GEN_DNS);
		ck_assert_str_eq((const char *)
		    ASN1_STRING_get0_data(gen->d.dNSName), name);
		ck_assert_int_eq(X509_check_host(x, name, 0, 0, NULL), 1);
	}
	GENERAL_NAMES_free(gens);
}

/* Seconds from now to t. */
static long
secs_from_now(const ASN1_TIME *t)
{
	int	day, sec;

	ck_assert_int_eq(ASN1_TIME_diff(&day, &sec, NULL, t), 1);
	return ((long)day * DAY + sec);
}

/* Verify leaf against ca for a purpose; returns the X509_V_ code. */
static int
verify(X509 *ca, X509 *leaf, int purpose)
{
	X509_STORE	*st;
	X509_STORE_CTX	*ctx;
	int		 r;

	ck_assert_ptr_nonnull(st = X509_STORE_new());
	ck_assert_int_eq(X509_STORE_add_cert(st, ca), 1);
	ck_assert_ptr_nonnull(ctx = X509_STORE_CTX_new());
	ck_assert_int_eq(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	ck_assert_int_eq(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	r = X509_verify_cert(ctx) == 1 ? X509_V_OK :
	    X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return (r);
}

static void
generate_ok(const char *dir, const char *name, int days, int force)
{
	char	*err = NULL;
	int	 r;

	r = certs_generate(dir, name, days, force, &err);
	ck_assert_msg(r == 0, "certs_generate: %s", err);
	ck_assert_ptr_null(err);
}

static void
check_generated_set(const char *dir, const char *name)
{
	X509	*ca, *srv, *cli;

	ca = load_cert(dir, CERTS_CA_CRT);
	srv = load_cert(dir, CERTS_SERVER_CRT);
	cli = load_cert(dir, CERTS_CLIENT_CRT);
	check_entry(ca, NID_commonName, name);
	check_entry(srv, NID_commonName, name);
	check_entry(cli, NID_commonName, name);
	check_san(srv, name);
	check_san(cli, name);
	ck_assert_int_eq(verify(ca, srv, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	ck_assert_int_eq(verify(ca, cli, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	X509_free(ca);
	X509_free(srv);
	X509_free(cli);
}

START_TEST(test_certs_generate_files)
{
	size_t	i;

	/* umask 0 must not loosen a key; 077 must not hide a cert. */
	umask(0);
	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	ck_assert_int_eq(count_entries(tmp), 6);
	for (i = 0; i < nitems(all_files); i++)
		ck_assert_int_eq(mode_of(tmp, all_files[i]),
		    strstr(all_files[i], ".key") != NULL ? 0600 : 0644);

	umask(077);
	generate_ok(sub("u077"), NULL, CERTS_DEFAULT_DAYS, 0);
	for (i = 0; i < nitems(all_files); i++)
		ck_assert_int_eq(mode_of(sub("u077"), all_files[i]),
		    strstr(all_files[i], ".key") != NULL ? 0600 : 0644);
	/* The directory it made is private. */
	ck_assert_int_eq(mode_of(tmp, "u077"), 0700);
}
END_TEST

START_TEST(test_certs_generate_keys)
{
	static const char *const pairs[][2] = {
		{ CERTS_CA_CRT, CERTS_CA_KEY },
		{ CERTS_SERVER_CRT, CERTS_SERVER_KEY },
		{ CERTS_CLIENT_CRT, CERTS_CLIENT_KEY }
	};
	EVP_PKEY	*k;
	X509		*x;
	char		 group[64], *text;
	size_t		 i, glen;

	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	for (i = 0; i < nitems(pairs); i++) {
		text = slurp(tmp, pairs[i][1], NULL);
		ck_assert_msg(strncmp(text, "-----BEGIN EC PRIVATE KEY-----\n",
		    31) == 0, "%s is not SEC1 PEM", pairs[i][1]);
		ck_assert_ptr_null(strstr(text, "ENCRYPTED"));
		free(text);

		k = load_key(tmp, pairs[i][1]);
		ck_assert(EVP_PKEY_is_a(k, "EC"));
		ck_assert_int_eq(EVP_PKEY_get_utf8_string_param(k,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen),
		    1);
		ck_assert_str_eq(group, "prime256v1");
		ck_assert_int_eq(EVP_PKEY_get_bits(k), 256);

		x = load_cert(tmp, pairs[i][0]);
		ck_assert_int_eq(X509_check_private_key(x, k), 1);
		ck_assert_int_eq(X509_get_signature_nid(x),
		    NID_ecdsa_with_SHA256);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}
END_TEST

START_TEST(test_certs_generate_ca)
{
	X509		*ca;
	const ASN1_INTEGER *sn;
	BIGNUM		*bn;
	long		 s;

	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	ca = load_cert(tmp, CERTS_CA_CRT);

	ck_assert_int_eq(X509_get_version(ca), X509_VERSION_3);
	ck_assert_int_eq(X509_check_issued(ca, ca), X509_V_OK);
	ck_assert_int_eq(X509_NAME_cmp(X509_get_subject_name(ca),
	    X509_get_issuer_name(ca)), 0);
	check_entry(ca, NID_organizationName, "GoDoxy");
	check_entry(ca, NID_organizationalUnitName, NULL);
	check_entry(ca, NID_commonName, CERTS_DEFAULT_NAME);

	/* basicConstraints: critical, CA:TRUE, pathlen 0. */
	ck_assert_int_eq(X509_check_ca(ca), 1);
	ck_assert(X509_get_extension_flags(ca) & EXFLAG_CA);
	ck_assert_int_eq(X509_get_pathlen(ca), 0);
	ck_assert_int_eq(ext_critical(ca, NID_basic_constraints), 1);

	/* keyUsage: exactly keyCertSign and cRLSign; no EKU. */
	ck_assert_uint_eq(X509_get_key_usage(ca),
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	ck_assert_int_eq(ext_critical(ca, NID_key_usage), 1);
	ck_assert_int_lt(X509_get_ext_by_NID(ca, NID_ext_key_usage, -1), 0);
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(ca));
	ck_assert_int_eq(verify(ca, ca, X509_PURPOSE_ANY), X509_V_OK);

	/* Valid from an hour ago for 365000 days. */
	s = secs_from_now(X509_get0_notBefore(ca));
	ck_assert_int_ge(s, -3600 - SLACK);
	ck_assert_int_le(s, -3600 + SLACK);
	s = secs_from_now(X509_get0_notAfter(ca));
	ck_assert_int_ge(s, 365000L * DAY - SLACK);
	ck_assert_int_le(s, 365000L * DAY + SLACK);

	/* A positive, non-zero serial of at most 128 bits. */
	sn = X509_get0_serialNumber(ca);
	ck_assert_ptr_nonnull(bn = ASN1_INTEGER_to_BN(sn, NULL));
	ck_assert(!BN_is_negative(bn));
	ck_assert(!BN_is_zero(bn));
	ck_assert_int_le(BN_num_bits(bn), 128);
	ck_assert_int_gt(BN_num_bits(bn), 64);	/* 2^-64 odds of a flake */
	BN_free(bn);
	X509_free(ca);
}
END_TEST

START_TEST(test_certs_generate_leaves)
{
	static const struct {
		const char	*file;
		const char	*ou;
		uint32_t	 xku;
		int		 purpose;
		int		 wrong;
	} leaves[] = {
		{ CERTS_SERVER_CRT, "Server", XKU_SSL_SERVER,
		    X509_PURPOSE_SSL_SERVER, X509_PURPOSE_SSL_CLIENT },
		{ CERTS_CLIENT_CRT, "Client", XKU_SSL_CLIENT,
		    X509_PURPOSE_SSL_CLIENT, X509_PURPOSE_SSL_SERVER }
	};
	X509		*ca, *x, *other;
	size_t		 i;

	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	ca = load_cert(tmp, CERTS_CA_CRT);
	for (i = 0; i < nitems(leaves); i++) {
		x = load_cert(tmp, leaves[i].file);
		check_entry(x, NID_organizationName, "GoDoxy");
		check_entry(x, NID_organizationalUnitName, leaves[i].ou);
		check_entry(x, NID_commonName, CERTS_DEFAULT_NAME);
		check_san(x, CERTS_DEFAULT_NAME);
		ck_assert_int_eq(X509_NAME_cmp(X509_get_issuer_name(x),
		    X509_get_subject_name(ca)), 0);

		ck_assert_uint_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
		ck_assert_int_eq(ext_critical(x, NID_key_usage), 1);
		ck_assert_uint_eq(X509_get_extended_key_usage(x),
		    leaves[i].xku);
		ck_assert_int_eq(X509_check_ca(x), 0);

		/* AKI names the CA's SKI. */
		ck_assert_ptr_nonnull(X509_get0_authority_key_id(x));
		ck_assert_int_eq(ASN1_OCTET_STRING_cmp(
		    X509_get0_authority_key_id(x),
		    X509_get0_subject_key_id(ca)), 0);

		ck_assert_int_eq(verify(ca, x, leaves[i].purpose), X509_V_OK);
		ck_assert_int_eq(verify(ca, x, leaves[i].wrong),
		    X509_V_ERR_INVALID_PURPOSE);
		ck_assert_int_eq(X509_check_purpose(x, leaves[i].purpose, 0),
		    1);
		ck_assert_int_ne(X509_check_purpose(x, leaves[i].wrong, 0), 1);
		/* Same lifetime as the CA; made a moment later, under load. */
		{
			int	dday, dsec;

			ck_assert_int_eq(ASN1_TIME_diff(&dday, &dsec,
			    X509_get0_notAfter(ca), X509_get0_notAfter(x)), 1);
			ck_assert_int_eq(dday, 0);
			ck_assert_int_le(labs((long)dsec), SLACK);
		}

		/* Serials are random: no two alike. */
		ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
		    X509_get0_serialNumber(ca)), 0);
		X509_free(x);
	}
	x = load_cert(tmp, CERTS_SERVER_CRT);
	other = load_cert(tmp, CERTS_CLIENT_CRT);
	ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(x),
	    X509_get0_serialNumber(other)), 0);
	/* A leaf cannot sign: pathlen 0 and CA:FALSE. */
	ck_assert_int_ne(X509_check_issued(x, other), X509_V_OK);
	X509_free(x);
	X509_free(other);
	X509_free(ca);
}
END_TEST

/* The openssl(1) command agrees; skipped when it is not installed. */
START_TEST(test_certs_openssl_verify)
{
	static const struct {
		const char	*purpose;
		const char	*file;
		int		 ok;
	} runs[] = {
		{ "sslserver", CERTS_SERVER_CRT, 1 },
		{ "sslclient", CERTS_CLIENT_CRT, 1 },
		{ "sslclient", CERTS_SERVER_CRT, 0 },
		{ "sslserver", CERTS_CLIENT_CRT, 0 }
	};
	char	*cmd;
	size_t	 i;
	int	 st;

	if (system("command -v openssl >/dev/null 2>&1") != 0)
		return;
	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	for (i = 0; i < nitems(runs); i++) {
		ck_assert_int_gt(asprintf(&cmd, "cd '%s' && openssl verify "
		    "-CAfile ca.crt -purpose %s %s >/dev/null 2>&1", tmp,
		    runs[i].purpose, runs[i].file), 0);
		st = system(cmd);
		ck_assert_msg((st == 0) == runs[i].ok, "%s: status %d", cmd,
		    st);
		free(cmd);
	}
}
END_TEST

static SSL_CTX *
tls_ctx(const char *dir, int server, const char *crt, const char *key,
    int maxver)
{
	SSL_CTX	*ctx;
	char	*p;

	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION),
	    1);
	ck_assert_int_eq(SSL_CTX_set_max_proto_version(ctx, maxver), 1);
	if (crt != NULL) {
		p = path_of(dir, crt);
		ck_assert_int_eq(SSL_CTX_use_certificate_file(ctx, p,
		    SSL_FILETYPE_PEM), 1);
		free(p);
		p = path_of(dir, key);
		ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(ctx, p,
		    SSL_FILETYPE_PEM), 1);
		free(p);
		ck_assert_int_eq(SSL_CTX_check_private_key(ctx), 1);
	}
	p = path_of(dir, CERTS_CA_CRT);
	ck_assert_int_eq(SSL_CTX_load_verify_locations(ctx, p, NULL), 1);
	free(p);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER |
	    (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), NULL);
	return (ctx);
}

static int
tls_step(SSL *ssl, int *done)
{
	int	r;

	if (*done)
		return (0);
	if ((r = SSL_do_handshake(ssl)) == 1) {
		*done = 1;
		return (0);
	}
	r = SSL_get_error(ssl, r);
	return (r == SSL_ERROR_WANT_READ || r == SSL_ERROR_WANT_WRITE ?
	    0 : -1);
}

/*
 * Handshake a client and a server SSL through a BIO pair, as GoDoxy
 * dials an agent: verify name godoxy.agent, client certificate required.
 * Then one byte each way, which under TLS 1.3 makes the client see the
 * server's verdict on its certificate.  Returns 0 when all went well.
 */
static int
tls_pair(SSL_CTX *sctx, SSL_CTX *cctx, const char *host)
{
	SSL	*s, *c;
	BIO	*bs, *bc;
	char	 ch = 'x';
	int	 i, sdone = 0, cdone = 0, rv = -1;

	ck_assert_int_eq(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	ck_assert_ptr_nonnull(s = SSL_new(sctx));
	ck_assert_ptr_nonnull(c = SSL_new(cctx));
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	ck_assert_int_eq(SSL_set_tlsext_host_name(c, host), 1);
	ck_assert_int_eq(SSL_set1_host(c, host), 1);
	for (i = 0; i < 50 && !(sdone && cdone); i++)
		if (tls_step(c, &cdone) == -1 || tls_step(s, &sdone) == -1)
			goto done;
	if (!sdone || !cdone)
		goto done;
	if (SSL_get_verify_result(s) != X509_V_OK ||
	    SSL_get_verify_result(c) != X509_V_OK ||
	    SSL_get0_peer_certificate(s) == NULL)
		goto done;
	if (SSL_write(c, &ch, 1) != 1 || SSL_read(s, &ch, 1) != 1 ||
	    SSL_write(s, &ch, 1) != 1 || SSL_read(c, &ch, 1) != 1)
		goto done;
	rv = 0;
done:
	ERR_clear_error();
	SSL_free(s);
	SSL_free(c);
	return (rv);
}

START_TEST(test_certs_tls_handshake)
{
	static const int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };
	SSL_CTX	*sctx, *cctx, *nocert, *wrong;
	size_t	 i;

	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	generate_ok(sub("other"), NULL, CERTS_DEFAULT_DAYS, 0);
	for (i = 0; i < nitems(versions); i++) {
		sctx = tls_ctx(tmp, 1, CERTS_SERVER_CRT, CERTS_SERVER_KEY,
		    versions[i]);
		cctx = tls_ctx(tmp, 0, CERTS_CLIENT_CRT, CERTS_CLIENT_KEY,
		    versions[i]);
		nocert = tls_ctx(tmp, 0, NULL, NULL, versions[i]);
		wrong = tls_ctx(sub("other"), 0, CERTS_CLIENT_CRT,
		    CERTS_CLIENT_KEY, versions[i]);
		ck_assert_int_eq(tls_pair(sctx, cctx, CERTS_DEFAULT_NAME), 0);
		/* Refused: no client cert, another CA's, wrong name. */
		ck_assert_int_eq(tls_pair(sctx, nocert, CERTS_DEFAULT_NAME),
		    -1);
		ck_assert_int_eq(tls_pair(sctx, wrong, CERTS_DEFAULT_NAME),
		    -1);
		ck_assert_int_eq(tls_pair(sctx, cctx, "other.agent"), -1);
		SSL_CTX_free(sctx);
		SSL_CTX_free(cctx);
		SSL_CTX_free(nocert);
		SSL_CTX_free(wrong);
	}
}
END_TEST

START_TEST(test_certs_refuse_overwrite)
{
	char	*before, *after, *err = NULL, *p;
	size_t	 i;

	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	before = slurp(tmp, CERTS_CA_CRT, NULL);
	ck_assert_int_eq(certs_generate(tmp, NULL, CERTS_DEFAULT_DAYS, 0,
	    &err), -1);
	ck_assert_ptr_nonnull(err);
	p = path_of(tmp, CERTS_CA_CRT);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_nonnull(strstr(err, "exists; use -f to replace"));
	free(p);
	free(err);
	err = NULL;
	after = slurp(tmp, CERTS_CA_CRT, NULL);
	ck_assert_str_eq(before, after);
	free(after);

	/* One file left is enough to refuse, and nothing else appears. */
	for (i = 0; i < nitems(all_files); i++) {
		if (strcmp(all_files[i], CERTS_CLIENT_KEY) == 0)
			continue;
		p = path_of(tmp, all_files[i]);
		ck_assert_int_eq(unlink(p), 0);
		free(p);
	}
	ck_assert_int_eq(certs_generate(tmp, NULL, CERTS_DEFAULT_DAYS, 0,
	    &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "client.key exists"));
	free(err);
	ck_assert_int_eq(count_entries(tmp), 1);

	/* A symlink counts as existing and is not followed. */
	p = path_of(tmp, CERTS_CLIENT_KEY);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(symlink("/nonexistent/x", p), 0);
	free(p);
	err = NULL;
	ck_assert_int_eq(certs_generate(tmp, NULL, CERTS_DEFAULT_DAYS, 0,
	    &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "client.key exists"));
	free(err);
	free(before);
}
END_TEST

START_TEST(test_certs_force)
{
	char	*before[nitems(all_files)], *after;
	size_t	 i;

	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 0);
	for (i = 0; i < nitems(all_files); i++)
		before[i] = slurp(tmp, all_files[i], NULL);
	/* Loosen one file: force must put the right mode back. */
	ck_assert_int_eq(chmod(sub(CERTS_SERVER_KEY), 0644), 0);
	generate_ok(tmp, NULL, CERTS_DEFAULT_DAYS, 1);
	for (i = 0; i < nitems(all_files); i++) {
		after = slurp(tmp, all_files[i], NULL);
		ck_assert_str_ne(before[i], after);
		free(after);
		free(before[i]);
		ck_assert_int_eq(mode_of(tmp, all_files[i]),
		    strstr(all_files[i], ".key") != NULL ? 0600 : 0644);
	}
	/* No temporary file is left behind. */
	ck_assert_int_eq(count_entries(tmp), 6);
	check_generated_set(tmp, CERTS_DEFAULT_NAME);

	/* Force into an empty directory works too. */
	generate_ok(sub("fresh"), NULL, 1, 1);
	ck_assert_int_eq(count_entries(sub("fresh")), 6);
}
END_TEST

START_TEST(test_certs_name_dns)
{
	generate_ok(tmp, "agent-1.example.net", CERTS_DEFAULT_DAYS, 0);
	check_generated_set(tmp, "agent-1.example.net");
	generate_ok(sub("single"), "localhost", CERTS_DEFAULT_DAYS, 0);
	check_generated_set(sub("single"), "localhost");
}
END_TEST

START_TEST(test_certs_name_ip)
{
	generate_ok(tmp, "192.0.2.7", CERTS_DEFAULT_DAYS, 0);
	check_generated_set(tmp, "192.0.2.7");
	generate_ok(sub("v6"), "2001:db8::1", CERTS_DEFAULT_DAYS, 0);
	check_generated_set(sub("v6"), "2001:db8::1");
}
END_TEST

static const char *const bad_names[] = {
	"", "-agent", "agent-", "a..b", ".a", "a.", "a_b", "a b", "a/b",
	"a,DNS:evil", "1.2.3", "256.1.1.1", "example.123", "fe80::1%lo",
	"[::1]", "*.example.com",
	/* a 64-character label */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.b",
	/* valid DNS, but 65 characters do not fit a CN */
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
};

START_TEST(test_certs_name_invalid)
{
	char	*err = NULL;

	ck_assert_int_eq(certs_generate(tmp, bad_names[_i],
	    CERTS_DEFAULT_DAYS, 0, &err), -1);
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "name") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(count_entries(tmp), 0);
}
END_TEST

START_TEST(test_certs_days_bounds)
{
	static const int bad[] = { 0, -1, CERTS_MAX_DAYS + 1, INT32_MIN };
	X509	*x;
	char	*err;
	long	 s;
	size_t	 i;

	for (i = 0; i < nitems(bad); i++) {
		err = NULL;
		ck_assert_int_eq(certs_generate(tmp, NULL, bad[i], 0, &err),
		    -1);
		ck_assert_ptr_nonnull(strstr(err, "days must be 1..365000"));
		free(err);
	}
	ck_assert_int_eq(count_entries(tmp), 0);

	generate_ok(tmp, NULL, 1, 0);
	x = load_cert(tmp, CERTS_SERVER_CRT);
	s = secs_from_now(X509_get0_notAfter(x));
	ck_assert_int_ge(s, DAY - SLACK);
	ck_assert_int_le(s, DAY + SLACK);
	X509_free(x);

	generate_ok(sub("max"), NULL, CERTS_MAX_DAYS, 0);
	x = load_cert(sub("max"), CERTS_CLIENT_CRT);
	s = secs_from_now(X509_get0_notAfter(x));
	ck_assert_int_ge(s, CERTS_MAX_DAYS * DAY - SLACK);
	X509_free(x);
}
END_TEST

/* base64 of a file's bytes, no newlines. */
static char *
b64_file(const char *dir, const char *name)
{
	char	*data, *out;
	size_t	 len;

	data = slurp(dir, name, &len);
	out = malloc((len + 2) / 3 * 4 + 1);
	ck_assert_ptr_nonnull(out);
	EVP_EncodeBlock((unsigned char *)out, (unsigned char *)data,
	    (int)len);
	free(data);
	return (out);
}

static char *
env_pair(const char *cdir, const char *crt, const char *kdir,
    const char *key)
{
	char	*c, *k, *v;

	c = b64_file(cdir, crt);
	k = b64_file(kdir, key);
	ck_assert_int_gt(asprintf(&v, "%s;%s", c, k), 0);
	free(c);
	free(k);
	return (v);
}

START_TEST(test_certs_roundtrip)
{
	static const char *const same[] = {
		CERTS_CA_CRT, CERTS_CA_KEY, CERTS_SERVER_CRT, CERTS_SERVER_KEY
	};
	const char	*a = sub("a"), *b = sub("b");
	char		*ca_env, *ssl_env, *ca2, *ssl2, *err = NULL, *x, *y;
	char		*want;
	X509		*ca, *srv, *cli;
	size_t		 i, xl, yl;

	generate_ok(a, "agent.example", 30, 0);
	ck_assert_msg(certs_export_godoxy(a, &ca_env, &ssl_env, &err) == 0,
	    "export: %s", err);
	/* One ';', no newline, base64 of the files themselves. */
	ck_assert_ptr_null(strchr(ca_env, '\n'));
	ck_assert_ptr_null(strchr(strchr(ca_env, ';') + 1, ';'));
	ck_assert_ptr_null(strchr(strchr(ssl_env, ';') + 1, ';'));
	want = env_pair(a, CERTS_CA_CRT, a, CERTS_CA_KEY);
	ck_assert_str_eq(ca_env, want);
	free(want);
	want = env_pair(a, CERTS_SERVER_CRT, a, CERTS_SERVER_KEY);
	ck_assert_str_eq(ssl_env, want);
	free(want);

	ck_assert_msg(certs_import_godoxy(b, ca_env, ssl_env, 0, &err) == 0,
	    "import: %s", err);
	for (i = 0; i < nitems(same); i++) {
		x = slurp(a, same[i], &xl);
		y = slurp(b, same[i], &yl);
		ck_assert_uint_eq(xl, yl);
		ck_assert_mem_eq(x, y, xl);
		free(x);
		free(y);
		ck_assert_int_eq(mode_of(b, same[i]),
		    strstr(same[i], ".key") != NULL ? 0600 : 0644);
	}
	ck_assert_int_eq(mode_of(tmp, "b"), 0700);

	/* A new client pair, signed by the imported CA, named as the server. */
	ck_assert_int_eq(count_entries(b), 6);
	ck_assert_int_eq(mode_of(b, CERTS_CLIENT_KEY), 0600);
	x = slurp(a, CERTS_CLIENT_CRT, NULL);
	y = slurp(b, CERTS_CLIENT_CRT, NULL);
	ck_assert_str_ne(x, y);
	free(x);
	free(y);
	ca = load_cert(b, CERTS_CA_CRT);
	srv = load_cert(b, CERTS_SERVER_CRT);
	cli = load_cert(b, CERTS_CLIENT_CRT);
	ck_assert_int_eq(verify(ca, cli, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	check_entry(cli, NID_commonName, "agent.example");
	check_entry(cli, NID_organizationalUnitName, "Client");
	check_san(cli, "agent.example");
	ck_assert_int_eq(ASN1_TIME_compare(X509_get0_notAfter(cli),
	    X509_get0_notAfter(ca)), 0);
	X509_free(ca);
	X509_free(srv);
	X509_free(cli);

	/* And out again: the same strings. */
	ck_assert_int_eq(certs_export_godoxy(b, &ca2, &ssl2, &err), 0);
	ck_assert_str_eq(ca_env, ca2);
	ck_assert_str_eq(ssl_env, ssl2);
	free(ca2);
	free(ssl2);
	free(ca_env);
	free(ssl_env);
}
END_TEST

/* Where each half of an import test's env values comes from. */
enum src {
	SRC_GOOD,	/* the matching pair from directory a */
	SRC_WRAPPED,	/* good, base64 wrapped at 76 with CRLF (Go skips) */
	SRC_NOSEMI,	/* certificate half only */
	SRC_NOKEY,	/* "cert;" */
	SRC_BADB64_CRT,	/* junk before the ';' */
	SRC_BADB64_KEY,	/* length not a multiple of 4 after it */
	SRC_BADB64_PAD,	/* '=' in the middle */
	SRC_NOTPEM,	/* good base64 of text that is not PEM */
	SRC_SWAPPED,	/* certificate with another pair's key */
	SRC_OTHER,	/* a pair from directory b, another CA */
	SRC_CLIENT,	/* a's client pair in the server's place */
	SRC_UNSET	/* NULL */
};

struct import_test {
	enum src	 ca;
	enum src	 ssl;
	const char	*err;	/* NULL: success */
};

static const struct import_test import_tests[] = {
	{ SRC_GOOD, SRC_GOOD, NULL },
	{ SRC_WRAPPED, SRC_WRAPPED, NULL },
	{ SRC_NOSEMI, SRC_GOOD, "AGENT_CA_CERT: missing ';'" },
	{ SRC_GOOD, SRC_NOSEMI, "AGENT_SSL_CERT: missing ';'" },
	{ SRC_BADB64_CRT, SRC_GOOD, "AGENT_CA_CERT: bad base64" },
	{ SRC_GOOD, SRC_BADB64_CRT, "AGENT_SSL_CERT: bad base64" },
	{ SRC_GOOD, SRC_BADB64_KEY, "AGENT_SSL_CERT: bad base64" },
	{ SRC_GOOD, SRC_BADB64_PAD, "AGENT_SSL_CERT: bad base64" },
	{ SRC_GOOD, SRC_NOKEY, "AGENT_SSL_CERT: bad base64" },
	{ SRC_NOTPEM, SRC_GOOD, "AGENT_CA_CERT: bad certificate PEM" },
	{ SRC_GOOD, SRC_SWAPPED,
	    "AGENT_SSL_CERT: key does not match certificate" },
	{ SRC_SWAPPED, SRC_GOOD,
	    "AGENT_CA_CERT: key does not match certificate" },
	{ SRC_GOOD, SRC_OTHER,
	    "AGENT_SSL_CERT: server certificate not signed by the CA" },
	{ SRC_OTHER, SRC_GOOD, "server certificate not signed by the CA" },
	{ SRC_GOOD, SRC_CLIENT, "server certificate does not verify" },
	{ SRC_UNSET, SRC_GOOD, "AGENT_CA_CERT: not set" },
	{ SRC_GOOD, SRC_UNSET, "AGENT_SSL_CERT: not set" }
};

/* Wrap s at 76 columns with CRLF, as some tools do. */
static char *
wrap76(const char *s)
{
	char	*out, *o;
	size_t	 i, len = strlen(s);

	o = out = malloc(len + len / 76 * 2 + 1);
	ck_assert_ptr_nonnull(out);
	for (i = 0; i < len; i++) {
		if (i > 0 && i % 76 == 0) {
			*o++ = '\r';
			*o++ = '\n';
		}
		*o++ = s[i];
	}
	*o = '\0';
	return (out);
}

static char *
make_env(int is_ca, enum src src, const char *a, const char *b)
{
	const char	*crt = is_ca ? CERTS_CA_CRT : CERTS_SERVER_CRT;
	const char	*key = is_ca ? CERTS_CA_KEY : CERTS_SERVER_KEY;
	char		*v = NULL, *c, *k;

	switch (src) {
	case SRC_GOOD:
		return (env_pair(a, crt, a, key));
	case SRC_WRAPPED:
		c = b64_file(a, crt);
		k = b64_file(a, key);
		v = wrap76(c);
		free(c);
		c = wrap76(k);
		free(k);
		k = v;
		ck_assert_int_gt(asprintf(&v, "%s;%s", k, c), 0);
		free(c);
		free(k);
		return (v);
	case SRC_NOSEMI:
		return (b64_file(a, crt));
	case SRC_NOKEY:
		c = b64_file(a, crt);
		ck_assert_int_gt(asprintf(&v, "%s;", c), 0);
		free(c);
		return (v);
	case SRC_BADB64_CRT:
		k = b64_file(a, key);
		ck_assert_int_gt(asprintf(&v, "!!!!%s;%s", "AAAA", k), 0);
		free(k);
		return (v);
	case SRC_BADB64_KEY:
		c = b64_file(a, crt);
		ck_assert_int_gt(asprintf(&v, "%s;QUJD%s", c, "RA"), 0);
		free(c);
		return (v);
	case SRC_BADB64_PAD:
		c = b64_file(a, crt);
		ck_assert_int_gt(asprintf(&v, "%s;QQ==QUJD", c), 0);
		free(c);
		return (v);
	case SRC_NOTPEM:
		k = b64_file(a, key);
		/* "hello, world" */
		ck_assert_int_gt(asprintf(&v, "aGVsbG8sIHdvcmxk;%s", k), 0);
		free(k);
		return (v);
	case SRC_SWAPPED:
		return (env_pair(a, crt, a, is_ca ? CERTS_SERVER_KEY :
		    CERTS_CLIENT_KEY));
	case SRC_OTHER:
		return (env_pair(b, crt, b, key));
	case SRC_CLIENT:
		return (env_pair(a, CERTS_CLIENT_CRT, a, CERTS_CLIENT_KEY));
	case SRC_UNSET:
		return (NULL);
	}
	return (NULL);
}

START_TEST(test_certs_import_table)
{
	const struct import_test *t = &import_tests[_i];
	const char	*a = sub("a"), *b = sub("b"), *out = sub("out");
	char		*ca_env, *ssl_env, *err = NULL;
	int		 r;

	generate_ok(a, NULL, 10, 0);
	generate_ok(b, NULL, 10, 0);
	ca_env = make_env(1, t->ca, a, b);
	ssl_env = make_env(0, t->ssl, a, b);
	r = certs_import_godoxy(out, ca_env, ssl_env, 0, &err);
	if (t->err == NULL) {
		ck_assert_msg(r == 0, "row %d: %s", _i, err);
		check_generated_set(out, CERTS_DEFAULT_NAME);
	} else {
		ck_assert_int_eq(r, -1);
		ck_assert_ptr_nonnull(err);
		ck_assert_msg(strstr(err, t->err) != NULL,
		    "row %d: want \"%s\" in \"%s\"", _i, t->err, err);
		/* Checked before anything touches the disk. */
		ck_assert(!exists(tmp, "out"));
	}
	ck_assert_int_eq(ERR_peek_error(), 0);
	free(err);
	free(ca_env);
	free(ssl_env);
}
END_TEST

START_TEST(test_certs_import_no_ca_key)
{
	const char	*a = sub("a"), *out = sub("out");
	char		*c, *ca_env, *ssl_env, *err = NULL;

	generate_ok(a, NULL, 10, 0);
	c = b64_file(a, CERTS_CA_CRT);
	ck_assert_int_gt(asprintf(&ca_env, "%s;", c), 0);
	ssl_env = env_pair(a, CERTS_SERVER_CRT, a, CERTS_SERVER_KEY);
	ck_assert_msg(certs_import_godoxy(out, ca_env, ssl_env, 0, &err) == 0,
	    "%s", err);
	ck_assert_int_eq(count_entries(out), 3);
	ck_assert(exists(out, CERTS_CA_CRT));
	ck_assert(exists(out, CERTS_SERVER_CRT));
	ck_assert(exists(out, CERTS_SERVER_KEY));
	ck_assert(!exists(out, CERTS_CA_KEY));
	ck_assert(!exists(out, CERTS_CLIENT_CRT));
	free(c);
	free(ca_env);
	free(ssl_env);
}
END_TEST

START_TEST(test_certs_import_refuse_overwrite)
{
	const char	*a = sub("a"), *out = sub("out");
	char		*ca_env, *ssl_env, *err = NULL, *before, *after;

	generate_ok(a, NULL, 10, 0);
	generate_ok(out, NULL, 10, 0);
	ck_assert_int_eq(certs_export_godoxy(a, &ca_env, &ssl_env, &err), 0);
	before = slurp(out, CERTS_CA_CRT, NULL);
	ck_assert_int_eq(certs_import_godoxy(out, ca_env, ssl_env, 0, &err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "exists; use -f to replace"));
	free(err);
	err = NULL;
	after = slurp(out, CERTS_CA_CRT, NULL);
	ck_assert_str_eq(before, after);
	free(after);

	ck_assert_msg(certs_import_godoxy(out, ca_env, ssl_env, 1, &err) == 0,
	    "%s", err);
	after = slurp(out, CERTS_CA_CRT, NULL);
	ck_assert_str_ne(before, after);
	free(after);
	free(before);
	before = slurp(a, CERTS_SERVER_KEY, NULL);
	after = slurp(out, CERTS_SERVER_KEY, NULL);
	ck_assert_str_eq(before, after);
	ck_assert_int_eq(mode_of(out, CERTS_SERVER_KEY), 0600);
	ck_assert_int_eq(count_entries(out), 6);
	check_generated_set(out, CERTS_DEFAULT_NAME);
	free(after);
	free(before);
	free(ca_env);
	free(ssl_env);
}
END_TEST

START_TEST(test_certs_export_errors)
{
	char	*ca_env = NULL, *ssl_env = NULL, *err = NULL, *p;

	/* Missing file: named in the message. */
	ck_assert_int_eq(certs_export_godoxy(tmp, &ca_env, &ssl_env, &err),
	    -1);
	p = path_of(tmp, CERTS_CA_CRT);
	ck_assert_ptr_nonnull(strstr(err, p));
	ck_assert_ptr_nonnull(strstr(err, "No such file"));
	free(p);
	free(err);
	err = NULL;

	/* A server pair from another CA. */
	generate_ok(tmp, NULL, 10, 0);
	generate_ok(sub("b"), NULL, 10, 0);
	ck_assert_int_eq(rename(sub("b/server.crt"), sub(CERTS_SERVER_CRT)),
	    0);
	ck_assert_int_eq(rename(sub("b/server.key"), sub(CERTS_SERVER_KEY)),
	    0);
	ck_assert_int_eq(certs_export_godoxy(tmp, &ca_env, &ssl_env, &err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err,
	    "server certificate not signed by the CA"));
	free(err);
	err = NULL;

	/* A key that is not PEM: OpenSSL's reason is in the message. */
	ck_assert_int_eq(rename(sub("b/client.crt"), sub(CERTS_CA_KEY)), 0);
	ck_assert_int_eq(certs_export_godoxy(tmp, &ca_env, &ssl_env, &err),
	    -1);
	ck_assert_ptr_nonnull(strstr(err, "ca.key: cannot read private key"));
	ck_assert_ptr_nonnull(strstr(err, "error:"));
	ck_assert_ptr_null(ca_env);
	ck_assert_ptr_null(ssl_env);
	ck_assert_int_eq(ERR_peek_error(), 0);
	free(err);
}
END_TEST

START_TEST(test_certs_ensure)
{
	const char	*d = sub("x/y/z");
	char		*err = NULL, *before, *after, *p;

	ck_assert_msg(certs_ensure(d, &err) == 0, "%s", err);
	ck_assert_int_eq(mode_of(tmp, "x"), 0700);
	ck_assert_int_eq(mode_of(tmp, "x/y/z"), 0700);
	ck_assert_int_eq(count_entries(d), 6);
	check_generated_set(d, CERTS_DEFAULT_NAME);

	before = slurp(d, CERTS_CA_CRT, NULL);
	ck_assert_int_eq(certs_ensure(d, &err), 0);
	after = slurp(d, CERTS_CA_CRT, NULL);
	ck_assert_str_eq(before, after);
	free(before);
	free(after);

	/* ca.crt alone is enough to leave the directory alone. */
	p = path_of(d, CERTS_SERVER_KEY);
	ck_assert_int_eq(unlink(p), 0);
	free(p);
	ck_assert_int_eq(certs_ensure(d, &err), 0);
	ck_assert_int_eq(count_entries(d), 5);

	/* A file in the way of the directory. */
	ck_assert_int_eq(certs_ensure(sub("x/y/z/ca.crt/sub"), &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "ca.crt"));
	free(err);
}
END_TEST

/* Run certs_main with stdout and stderr captured into files in tmp. */
static int
run_main(const char *const *args, char **out, char **errout)
{
	char	*argv[16];
	int	 argc, r, o, e, fd1, fd2;

	for (argc = 0; args[argc] != NULL; argc++)
		argv[argc] = (char *)args[argc];
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	o = dup(1);
	e = dup(2);
	fd1 = open(sub("stdout"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	fd2 = open(sub("stderr"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert(o != -1 && e != -1 && fd1 != -1 && fd2 != -1);
	dup2(fd1, 1);
	dup2(fd2, 2);
	r = certs_main(argc, argv);
	fflush(stdout);
	fflush(stderr);
	dup2(o, 1);
	dup2(e, 2);
	close(o);
	close(e);
	close(fd1);
	close(fd2);
	*out = slurp(tmp, "stdout", NULL);
	*errout = slurp(tmp, "stderr", NULL);
	unlink(sub("stdout"));
	unlink(sub("stderr"));
	return (r);
}

static const char *const usage_tests[][8] = {
	{ "certs", "-x", NULL },
	{ "certs", "-d", NULL },
	{ "certs", "-D", "0", NULL },
	{ "certs", "-D", "365001", NULL },
	{ "certs", "-D", "ten", NULL },
	{ "certs", "-D", "", NULL },
	{ "certs", "-n", "bad_name", NULL },
	{ "certs", "-n", "", NULL },
	{ "certs", "extra", NULL },
	{ "certs", "-f", "generate", NULL },
	{ "certs", "import", "-n", "x", NULL },
	{ "certs", "import", "-D", "5", NULL },
	{ "certs", "import", "extra", NULL },
	{ "certs", "export", "-f", NULL },
	{ "certs", "export", "-d", NULL },
	{ "certs", "export", "a", "b", NULL }
};

START_TEST(test_certs_main_usage)
{
	char	*out, *err;

	ck_assert_int_eq(chdir(tmp), 0);
	ck_assert_int_eq(run_main(usage_tests[_i], &out, &err), 2);
	ck_assert_ptr_nonnull(strstr(err, "usage: flowgate certs"));
	ck_assert_str_eq(out, "");
	free(out);
	free(err);
	/* Nothing was generated in the working directory. */
	ck_assert_int_eq(count_entries(tmp), 0);
}
END_TEST

START_TEST(test_certs_main_commands)
{
	char		 a[512], b[512];
	const char	*gen[] = { "certs", "-d", a, "-n", "10.0.0.1", "-D",
			    "90", NULL };
	const char	*exp[] = { "certs", "export", "-d", a, NULL };
	const char	*imp[] = { "certs", "import", "-d", b, NULL };
	const char	*impf[] = { "certs", "import", "-f", "-d", b, NULL };
	const char	*dflt[] = { "certs", NULL };
	char		*out, *err, *line, *p, *want, *ca_env, *ssl_env;
	X509		*x;
	size_t		 i;

	/* run_main uses sub() too: keep our own copies of the paths. */
	snprintf(a, sizeof(a), "%s", sub("a"));
	snprintf(b, sizeof(b), "%s", sub("b"));
	ck_assert_int_eq(run_main(gen, &out, &err), 0);
	ck_assert_str_eq(err, "");
	for (i = 0; i < nitems(all_files); i++) {
		ck_assert_int_gt(asprintf(&line, "%s/%s\n", a, all_files[i]),
		    0);
		ck_assert_msg(strstr(out, line) != NULL, "%s not in %s", line,
		    out);
		free(line);
	}
	free(out);
	free(err);
	check_generated_set(a, "10.0.0.1");
	x = load_cert(a, CERTS_SERVER_CRT);
	ck_assert_int_le(secs_from_now(X509_get0_notAfter(x)),
	    90 * DAY + SLACK);
	X509_free(x);

	/* Again: refused, status 1, the reason on stderr. */
	ck_assert_int_eq(run_main(gen, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "exists; use -f to replace"));
	free(out);
	free(err);

	/* export prints the two lines an agent's environment needs. */
	ck_assert_int_eq(run_main(exp, &out, &err), 0);
	ck_assert_int_eq(certs_export_godoxy(a, &ca_env, &ssl_env, &err), 0);
	free(err);
	ck_assert_int_gt(asprintf(&want,
	    "AGENT_CA_CERT=%s\nAGENT_SSL_CERT=%s\n", ca_env, ssl_env), 0);
	ck_assert_str_eq(out, want);
	free(want);
	free(out);

	/* import reads the environment. */
	ck_assert_int_eq(setenv("AGENT_CA_CERT", ca_env, 1), 0);
	ck_assert_int_eq(setenv("AGENT_SSL_CERT", ssl_env, 1), 0);
	ck_assert_int_eq(run_main(imp, &out, &err), 0);
	ck_assert_ptr_nonnull(p = strstr(out, "server.key\n"));
	free(out);
	free(err);
	check_generated_set(b, "10.0.0.1");
	ck_assert_int_eq(run_main(imp, &out, &err), 1);
	free(out);
	free(err);
	ck_assert_int_eq(run_main(impf, &out, &err), 0);
	free(out);
	free(err);
	unsetenv("AGENT_SSL_CERT");
	ck_assert_int_eq(run_main(impf, &out, &err), 1);
	ck_assert_ptr_nonnull(strstr(err, "AGENT_SSL_CERT: not set"));
	free(out);
	free(err);

	/* Defaults: the working directory and godoxy.agent. */
	ck_assert_int_eq(chdir(b), 0);
	ck_assert_int_eq(run_main(dflt, &out, &err), 1);
	free(out);
	free(err);
	ck_assert_int_eq(chdir(tmp), 0);
	ck_assert_int_eq(run_main(dflt, &out, &err), 0);
	ck_assert_ptr_nonnull(strstr(out, "./ca.crt\n"));
	free(out);
	free(err);
	check_generated_set(tmp, CERTS_DEFAULT_NAME);
	free(ca_env);
	free(ssl_env);
}
END_TEST

static Suite *
certs_suite(void)
{
	Suite	*s;
	TCase	*tc;

	s = suite_create("certs");

	tc = tcase_create("generate");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_certs_generate_files);
	tcase_add_test(tc, test_certs_generate_keys);
	tcase_add_test(tc, test_certs_generate_ca);
	tcase_add_test(tc, test_certs_generate_leaves);
	tcase_add_test(tc, test_certs_refuse_overwrite);
	tcase_add_test(tc, test_certs_force);
	tcase_add_test(tc, test_certs_ensure);
	suite_add_tcase(s, tc);

	tc = tcase_create("names");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_certs_name_dns);
	tcase_add_test(tc, test_certs_name_ip);
	tcase_add_loop_test(tc, test_certs_name_invalid, 0,
	    nitems(bad_names));
	tcase_add_test(tc, test_certs_days_bounds);
	suite_add_tcase(s, tc);

	tc = tcase_create("interop");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_certs_openssl_verify);
	tcase_add_test(tc, test_certs_tls_handshake);
	suite_add_tcase(s, tc);

	tc = tcase_create("godoxy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_certs_roundtrip);
	tcase_add_loop_test(tc, test_certs_import_table, 0,
	    nitems(import_tests));
	tcase_add_test(tc, test_certs_import_no_ca_key);
	tcase_add_test(tc, test_certs_import_refuse_overwrite);
	tcase_add_test(tc, test_certs_export_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("main");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, test_certs_main_usage, 0,
	    nitems(usage_tests));
	tcase_add_test(tc, test_certs_main_commands);
	suite_add_tcase(s, tc);

	return (s);
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	sr = srunner_create(certs_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}
