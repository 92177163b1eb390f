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
 * The certificate set for the GoDoxy-compatible mTLS transport: generate a
 * CA with a server and a client certificate, import the CA and server pair
 * a GoDoxy server hands its agents (env AGENT_CA_CERT, AGENT_SSL_CERT),
 * export ours in that form, and the "flowgate certs" subcommand.
 *
 * The certificates follow GoDoxy's NewAgent(): ECDSA P-256 keys, SHA-256
 * signatures, O=GoDoxy, a CA with pathlen 0, leaves with OU=Server or
 * OU=Client and the name in both CN and subjectAltName.  Only OpenSSL 3.0
 * APIs that are not deprecated are used.
 */

#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "flowgate.h"
#include "certs.h"

#define CERTS_ORG		"GoDoxy"	/* O= of every certificate */
#define CERTS_CN_MAX		64	/* ub-common-name (RFC 5280) */
#define CERTS_DNS_MAX		253
#define CERTS_LABEL_MAX		63
#define CERTS_SERIAL_BYTES	16	/* 128-bit random serials */
#define CERTS_SKEW		3600	/* notBefore is this far back, s */
#define CERTS_B64_MAX		(16 * 1024 * 1024)	/* env value sanity */
#define CERTS_NFILES		6

#define CERTS_KEY_MODE		0600
#define CERTS_CRT_MODE		0644

enum certs_role {
	CERTS_ROLE_CA = 0,	/* self-signed, signs the other two */
	CERTS_ROLE_SERVER,	/* the agent's TLS server certificate */
	CERTS_ROLE_CLIENT	/* what the connecting side presents */
};

/* What distinguishes the three certificates; the rest is shared. */
struct certs_profile {
	const char	*ou;	/* OU=, NULL for none */
	const char	*bc;	/* basicConstraints */
	const char	*ku;	/* keyUsage */
	const char	*eku;	/* extendedKeyUsage, NULL for none */
	int		 san;	/* subjectAltName carries the name */
};

/*
 * Go marks keyUsage and basicConstraints critical, and so do we.  GoDoxy's
 * leaves carry no basicConstraints at all; CA:FALSE is added so that no
 * verifier can mistake a leaf for a CA.
 */
static const struct certs_profile certs_profiles[] = {
	[CERTS_ROLE_CA] = {
		.ou = NULL,
		.bc = "critical,CA:TRUE,pathlen:0",
		.ku = "critical,keyCertSign,cRLSign",
		.eku = NULL,
		.san = 0
	},
	[CERTS_ROLE_SERVER] = {
		.ou = "Server",
		.bc = "critical,CA:FALSE",
		.ku = "critical,digitalSignature",
		.eku = "serverAuth",
		.san = 1
	},
	[CERTS_ROLE_CLIENT] = {
		.ou = "Client",
		.bc = "critical,CA:FALSE",
		.ku = "critical,digitalSignature",
		.eku = "clientAuth",
		.san = 1
	}
};

/* A certificate and its private key; the key may be NULL. */
struct certs_pair {
	X509		*cert;
	EVP_PKEY	*key;
};

/* One file about to be written into the directory. */
struct certs_file {
	const char	*name;	/* CERTS_* file name, static */
	char		*data;	/* PEM text, malloc'd, cleansed on free */
	size_t		 len;
	mode_t		 mode;
};

static int	certs_fail(char **, int, const char *, ...) FG_PRINTF(3, 4);

/*
 * Drain the whole OpenSSL error queue into one malloc'd line, "; "
 * between entries.  Returns NULL when the queue was empty.  The queue is
 * empty afterwards.
 */
static char *
certs_ssl_errors(void)
{
	const char	*data;
	char		 buf[256], *s = NULL, *t;
	unsigned long	 e;
	int		 flags;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		if ((flags & ERR_TXT_STRING) == 0 || data == NULL)
			data = "";
		xasprintf(&t, "%s%s%s%s%s%s", s == NULL ? "" : s,
		    s == NULL ? "" : "; ", buf, *data != '\0' ? " (" : "",
		    data, *data != '\0' ? ")" : "");
		free(s);
		s = t;
	}
	ERR_clear_error();
	return (s);
}

/*
 * Set *errstr to the formatted message and, when ssl is set and OpenSSL
 * queued any errors, append all of them.  The error queue is always left
 * empty, so a stale entry never shows up under a later failure.
 * Returns -1 for "return (certs_fail(...))".
 */
static int
certs_fail(char **errstr, int ssl, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg, *ssl_text = NULL;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	if (ssl)
		ssl_text = certs_ssl_errors();
	ERR_clear_error();
	if (errstr == NULL) {
		free(msg);
		free(ssl_text);
		return (-1);
	}
	if (ssl_text != NULL) {
		xasprintf(errstr, "%s: %s", msg, ssl_text);
		free(msg);
		free(ssl_text);
	} else
		*errstr = msg;
	return (-1);
}

static void
certs_pair_free(struct certs_pair *p)
{
	X509_free(p->cert);
	EVP_PKEY_free(p->key);
	p->cert = NULL;
	p->key = NULL;
}

static void
certs_files_free(struct certs_file *files, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		if (files[i].data != NULL) {
			OPENSSL_cleanse(files[i].data, files[i].len);
			free(files[i].data);
		}
		files[i].data = NULL;
	}
}

/* Refuse PEM passphrase prompts: keys here are never encrypted. */
static int
certs_nopass_cb(char *buf, int size, int rwflag, void *u)
{
	return (0);
}

/*
 * Is name an IP literal (1), a DNS name (0) or neither (-1)?  A DNS name
 * is LDH labels of 1..63 characters, at most 253 in all, no trailing dot,
 * and a last label that is not all digits (so "10.1.1" is not a name).
 */
static int
certs_name_kind(const char *name)
{
	struct in_addr	 a4;
	struct in6_addr	 a6;
	const char	*p, *label;
	size_t		 len;
	int		 alldigit;

	if (inet_pton(AF_INET, name, &a4) == 1 ||
	    inet_pton(AF_INET6, name, &a6) == 1)
		return (1);
	len = strlen(name);
	if (len == 0 || len > CERTS_DNS_MAX)
		return (-1);
	label = name;
	alldigit = 1;
	for (p = name;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label ||
			    (size_t)(p - label) > CERTS_LABEL_MAX ||
			    *label == '-' || p[-1] == '-')
				return (-1);
			if (*p == '\0')
				break;
			label = p + 1;
			alldigit = 1;
			continue;
		}
		if (*p >= '0' && *p <= '9')
			continue;
		alldigit = 0;
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    *p == '-')
			continue;
		return (-1);
	}
	if (alldigit)
		return (-1);
	return (0);
}

/* As certs_name_kind, also bounded by the CN limit, with a message. */
static int
certs_check_name(const char *name, char **errstr)
{
	int	kind;

	if ((kind = certs_name_kind(name)) == -1)
		return (certs_fail(errstr, 0,
		    "invalid name \"%s\": not a DNS name or IP address", name));
	if (strlen(name) > CERTS_CN_MAX)
		return (certs_fail(errstr, 0,
		    "name \"%s\" too long: a certificate CN holds at most %d "
		    "characters", name, CERTS_CN_MAX));
	return (kind);
}

/* Fill in a positive, non-zero 128-bit random serial number. */
static int
certs_serial(X509 *x)
{
	unsigned char	 buf[CERTS_SERIAL_BYTES];
	BIGNUM		*bn = NULL;
	int		 rv = -1;

	do {
		if (RAND_bytes(buf, sizeof(buf)) != 1)
			goto done;
		BN_free(bn);
		if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) == NULL)
			goto done;
	} while (BN_is_zero(bn));
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto done;
	rv = 0;
done:
	BN_free(bn);
	return (rv);
}

/* Add one extension given in openssl.cnf syntax, e.g. "critical,CA:TRUE". */
static int
certs_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION	*ext;
	int		 ok;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		return (-1);
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return (ok == 1 ? 0 : -1);
}

/* The subject: O=GoDoxy, OU= when the profile has one, CN=name (Go order). */
static int
certs_set_subject(X509 *x, const struct certs_profile *prof,
    const char *name)
{
	X509_NAME	*nm;

	nm = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	    (const unsigned char *)CERTS_ORG, -1, -1, 0) != 1)
		return (-1);
	if (prof->ou != NULL && X509_NAME_add_entry_by_txt(nm, "OU",
	    MBSTRING_ASC, (const unsigned char *)prof->ou, -1, -1, 0) != 1)
		return (-1);
	if (X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	    (const unsigned char *)name, -1, -1, 0) != 1)
		return (-1);
	return (0);
}

/*
 * Make a new P-256 key and a certificate for it in out.  The issuer pair
 * signs it; with issuer NULL the certificate is self-signed (the CA).
 * notAfter is not_after when given, else now + days.  name was checked
 * by certs_check_name, so it is safe inside a config string.  On failure
 * out is left empty.
 */
static int
certs_issue(enum certs_role role, const char *name, int is_ip, int days,
    const ASN1_TIME *not_after, const struct certs_pair *issuer,
    struct certs_pair *out, char **errstr)
{
	static const char *what[] = { "CA", "server", "client" };
	const struct certs_profile *prof = &certs_profiles[role];
	X509V3_CTX	 ctx;
	X509		*x = NULL;
	EVP_PKEY	*key = NULL, *signer;
	const EVP_MD	*md;
	char		*san = NULL;

	if ((key = EVP_EC_gen("P-256")) == NULL) {
		certs_fail(errstr, 1, "%s key: P-256 key generation failed",
		    what[role]);
		goto fail;
	}
	if ((x = X509_new()) == NULL ||
	    X509_set_version(x, X509_VERSION_3) != 1 ||
	    certs_serial(x) == -1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -CERTS_SKEW) == NULL)
		goto ssl_fail;
	if (not_after != NULL) {
		if (X509_set1_notAfter(x, not_after) != 1)
			goto ssl_fail;
	} else if (X509_time_adj_ex(X509_getm_notAfter(x), days, 0,
	    NULL) == NULL)
		goto ssl_fail;
	if (certs_set_subject(x, prof, name) == -1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(issuer != NULL ?
	    issuer->cert : x)) != 1 ||
	    X509_set_pubkey(x, key) != 1)
		goto ssl_fail;

	/* The context must see the public key before "hash" can work. */
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer->cert : x, x, NULL,
	    NULL, 0);
	if (certs_add_ext(x, &ctx, NID_basic_constraints, prof->bc) == -1 ||
	    certs_add_ext(x, &ctx, NID_key_usage, prof->ku) == -1 ||
	    (prof->eku != NULL && certs_add_ext(x, &ctx, NID_ext_key_usage,
	    prof->eku) == -1) ||
	    certs_add_ext(x, &ctx, NID_subject_key_identifier, "hash") == -1)
		goto ssl_fail;
	/* "keyid:always" fails outright on an issuer without an SKI. */
	if (issuer != NULL && X509_get0_subject_key_id(issuer->cert) != NULL &&
	    certs_add_ext(x, &ctx, NID_authority_key_identifier,
	    "keyid:always") == -1)
		goto ssl_fail;
	if (prof->san) {
		xasprintf(&san, "%s:%s", is_ip ? "IP" : "DNS", name);
		if (certs_add_ext(x, &ctx, NID_subject_alt_name, san) == -1)
			goto ssl_fail;
	}

	/* Ed25519/Ed448 CAs (not GoDoxy's, but importable) take no digest. */
	signer = issuer != NULL ? issuer->key : key;
	md = EVP_sha256();
	if (EVP_PKEY_get_id(signer) == EVP_PKEY_ED25519 ||
	    EVP_PKEY_get_id(signer) == EVP_PKEY_ED448)
		md = NULL;
	if (X509_sign(x, signer, md) <= 0)
		goto ssl_fail;

	free(san);
	out->cert = x;
	out->key = key;
	return (0);

ssl_fail:
	certs_fail(errstr, 1, "%s certificate for \"%s\"", what[role], name);
fail:
	free(san);
	X509_free(x);
	EVP_PKEY_free(key);
	return (-1);
}

/* Copy a memory BIO's contents into f, with the given mode. */
static int
certs_bio_to_file(BIO *b, const char *name, mode_t mode,
    struct certs_file *f)
{
	char	*p;
	long	 len;

	if ((len = BIO_get_mem_data(b, &p)) <= 0)
		return (-1);
	if ((f->data = malloc((size_t)len)) == NULL)
		fatal("%s", __func__);
	memcpy(f->data, p, (size_t)len);
	f->len = (size_t)len;
	f->name = name;
	f->mode = mode;
	return (0);
}

/*
 * PEM-encode a certificate (key NULL) or a key (x NULL) into f.  Keys go
 * out in their traditional form: SEC1 "EC PRIVATE KEY" for EC, which is
 * what GoDoxy writes and Go's tls.X509KeyPair reads.  Key text passes
 * through a secure-memory BIO, which is cleansed when freed.
 */
static int
certs_pem(X509 *x, EVP_PKEY *key, const char *name, struct certs_file *f,
    char **errstr)
{
	BIO	*b;
	int	 ok;

	if ((b = BIO_new(key != NULL ? BIO_s_secmem() : BIO_s_mem())) == NULL)
		return (certs_fail(errstr, 1, "%s: PEM encoding", name));
	if (key != NULL)
		ok = PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0,
		    NULL, NULL);
	else
		ok = PEM_write_bio_X509(b, x);
	if (ok != 1 || certs_bio_to_file(b, name, key != NULL ?
	    CERTS_KEY_MODE : CERTS_CRT_MODE, f) == -1) {
		BIO_free(b);
		return (certs_fail(errstr, 1, "%s: PEM encoding", name));
	}
	BIO_free(b);
	return (0);
}

/* Add a pair's certificate and (when present) key to the file list. */
static int
certs_pem_pair(const struct certs_pair *p, const char *crt, const char *key,
    struct certs_file *files, size_t *n, char **errstr)
{
	if (certs_pem(p->cert, NULL, crt, &files[*n], errstr) == -1)
		return (-1);
	(*n)++;
	if (p->key == NULL)
		return (0);
	if (certs_pem(NULL, p->key, key, &files[*n], errstr) == -1)
		return (-1);
	(*n)++;
	return (0);
}

/* mkdir -p with mode 0700 for what it creates; dir must end up a dir. */
static int
certs_mkdirs(const char *dir, char **errstr)
{
	struct stat	 sb;
	char		*s, *p, c;

	if (dir == NULL || *dir == '\0')
		return (certs_fail(errstr, 0, "empty directory name"));
	s = xstrdup(dir);
	for (p = s + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(s, 0700) == -1 && errno != EEXIST) {
			certs_fail(errstr, 0, "%s: %s", s, strerror(errno));
			free(s);
			return (-1);
		}
		*p = c;
		if (c == '\0')
			break;
	}
	free(s);
	if (stat(dir, &sb) == -1)
		return (certs_fail(errstr, 0, "%s: %s", dir, strerror(errno)));
	if (!S_ISDIR(sb.st_mode))
		return (certs_fail(errstr, 0, "%s: not a directory", dir));
	return (0);
}

static int
certs_write_all(int fd, const char *p, size_t len)
{
	ssize_t	n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Write one file into dir.  Without force it is created with O_EXCL, so
 * an existing file (or symlink) is never touched.  With force the data
 * goes to a temporary file that mkstemp creates 0600 in the same
 * directory, and rename(2) replaces the old file in one step.  The final
 * mode is set with fchmod before any byte is written: a key file is
 * never more than 0600 at any moment, whatever the umask, and a
 * certificate ends up exactly 0644.
 */
static int
certs_write_file(const char *dir, const struct certs_file *f, int force,
    char **errstr)
{
	char	*path, *tmp = NULL;
	int	 fd, save;

	xasprintf(&path, "%s/%s", dir, f->name);
	if (force) {
		xasprintf(&tmp, "%s/.%s.XXXXXX", dir, f->name);
		fd = mkostemp(tmp, O_CLOEXEC);
	} else {
		/* Created no wider than 0600; fchmod widens a cert below. */
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		    f->mode & CERTS_KEY_MODE);
	}
	if (fd == -1) {
		if (!force && errno == EEXIST)
			certs_fail(errstr, 0, "%s exists; use -f to replace",
			    path);
		else
			certs_fail(errstr, 0, "%s: %s", force ? tmp : path,
			    strerror(errno));
		free(tmp);
		free(path);
		return (-1);
	}
	if (fchmod(fd, f->mode) == -1 ||
	    certs_write_all(fd, f->data, f->len) == -1 ||
	    fsync(fd) == -1) {
		save = errno;
		close(fd);
		goto fail;
	}
	if (close(fd) == -1) {
		save = errno;
		goto fail;
	}
	if (force && rename(tmp, path) == -1) {
		save = errno;
		goto fail;
	}
	free(tmp);
	free(path);
	return (0);

fail:
	unlink(force ? tmp : path);
	certs_fail(errstr, 0, "%s: %s", path, strerror(save));
	free(tmp);
	free(path);
	return (-1);
}

/*
 * Write the n files into dir.  Without force, first make sure none of
 * them exists, so that a refused run writes nothing, and if a write
 * fails midway remove the files this call made.  With force, files
 * already replaced stay replaced.  Each path written goes to out (if
 * not NULL), one per line.
 */
static int
certs_write_set(const char *dir, const struct certs_file *files, size_t n,
    int force, FILE *out, char **errstr)
{
	struct stat	 sb;
	char		*path;
	size_t		 i, j;

	for (i = 0; !force && i < n; i++) {
		xasprintf(&path, "%s/%s", dir, files[i].name);
		if (lstat(path, &sb) == 0)
			certs_fail(errstr, 0, "%s exists; use -f to replace",
			    path);
		else if (errno != ENOENT)
			certs_fail(errstr, 0, "%s: %s", path, strerror(errno));
		else {
			free(path);
			continue;
		}
		free(path);
		return (-1);
	}
	for (i = 0; i < n; i++) {
		if (certs_write_file(dir, &files[i], force, errstr) == -1)
			break;
	}
	if (i < n) {
		for (j = 0; !force && j < i; j++) {
			xasprintf(&path, "%s/%s", dir, files[j].name);
			unlink(path);
			free(path);
		}
		return (-1);
	}
	for (i = 0; out != NULL && i < n; i++)
		fprintf(out, "%s/%s\n", dir, files[i].name);
	return (0);
}

/*
 * Check a CA pair and a server pair against each other: each key (when
 * present) matches its certificate, and the server certificate verifies
 * against the CA as a TLS server certificate.  The labels name the two
 * pairs in messages.
 */
static int
certs_check_set(const char *calabel, const struct certs_pair *ca,
    const char *srvlabel, const struct certs_pair *srv, char **errstr)
{
	X509_STORE	*store = NULL;
	X509_STORE_CTX	*vctx = NULL;
	int		 err, rv = -1;

	if (ca->key != NULL && X509_check_private_key(ca->cert, ca->key) != 1)
		return (certs_fail(errstr, 0,
		    "%s: key does not match certificate", calabel));
	if (srv->key != NULL &&
	    X509_check_private_key(srv->cert, srv->key) != 1)
		return (certs_fail(errstr, 0,
		    "%s: key does not match certificate", srvlabel));

	if ((store = X509_STORE_new()) == NULL ||
	    X509_STORE_add_cert(store, ca->cert) != 1 ||
	    (vctx = X509_STORE_CTX_new()) == NULL ||
	    X509_STORE_CTX_init(vctx, store, srv->cert, NULL) != 1 ||
	    X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_SERVER) != 1) {
		certs_fail(errstr, 1, "%s: cannot set up verification",
		    srvlabel);
		goto done;
	}
	if (X509_verify_cert(vctx) != 1) {
		err = X509_STORE_CTX_get_error(vctx);
		switch (err) {
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			certs_fail(errstr, 0,
			    "%s: server certificate not signed by the CA (%s)",
			    srvlabel, X509_verify_cert_error_string(err));
			break;
		default:
			certs_fail(errstr, 0,
			    "%s: server certificate does not verify against "
			    "the CA (%s)", srvlabel,
			    X509_verify_cert_error_string(err));
			break;
		}
		goto done;
	}
	rv = 0;
done:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return (rv);
}

/* Generate, as certs_generate, printing each file written to out. */
static int
certs_generate_out(const char *dir, const char *name, int days, int force,
    FILE *out, char **errstr)
{
	struct certs_pair	 ca = { NULL, NULL }, srv = { NULL, NULL };
	struct certs_pair	 cli = { NULL, NULL };
	struct certs_file	 files[CERTS_NFILES];
	size_t			 n = 0;
	int			 is_ip, rv = -1;

	memset(files, 0, sizeof(files));
	if (name == NULL)
		name = CERTS_DEFAULT_NAME;
	if ((is_ip = certs_check_name(name, errstr)) == -1)
		return (-1);
	if (days < 1 || days > CERTS_MAX_DAYS)
		return (certs_fail(errstr, 0, "days must be 1..%d, not %d",
		    CERTS_MAX_DAYS, days));
	if (certs_mkdirs(dir, errstr) == -1)
		return (-1);

	if (certs_issue(CERTS_ROLE_CA, name, is_ip, days, NULL, NULL, &ca,
	    errstr) == -1 ||
	    certs_issue(CERTS_ROLE_SERVER, name, is_ip, days, NULL, &ca, &srv,
	    errstr) == -1 ||
	    certs_issue(CERTS_ROLE_CLIENT, name, is_ip, days, NULL, &ca, &cli,
	    errstr) == -1)
		goto done;
	if (certs_pem_pair(&ca, CERTS_CA_CRT, CERTS_CA_KEY, files, &n,
	    errstr) == -1 ||
	    certs_pem_pair(&srv, CERTS_SERVER_CRT, CERTS_SERVER_KEY, files, &n,
	    errstr) == -1 ||
	    certs_pem_pair(&cli, CERTS_CLIENT_CRT, CERTS_CLIENT_KEY, files, &n,
	    errstr) == -1)
		goto done;
	rv = certs_write_set(dir, files, n, force, out, errstr);
done:
	certs_files_free(files, n);
	certs_pair_free(&ca);
	certs_pair_free(&srv);
	certs_pair_free(&cli);
	return (rv);
}

/*
 * Generate a fresh CA, server and client set for name (DNS name or IP
 * literal; NULL for CERTS_DEFAULT_NAME), valid for days, into dir, which
 * is created (0700) if missing.  Nothing exists on disk until all six are
 * made; without force no file is replaced.
 */
int
certs_generate(const char *dir, const char *name, int days, int force,
    char **errstr)
{
	return (certs_generate_out(dir, name, days, force, NULL, errstr));
}

/* The base64 alphabet of Go's base64.StdEncoding. */
static int
certs_isb64(int c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/');
}

/*
 * Decode padded standard base64 as Go's StdEncoding does: CR and LF are
 * skipped, anything else outside the alphabet is an error, and padding
 * may only end the input.  *out is malloc'd; the caller cleanses and
 * frees it.
 */
static int
certs_b64decode(const char *in, size_t inlen, unsigned char **out,
    size_t *outlen)
{
	unsigned char	*clean, *buf;
	size_t		 i, n = 0, pad = 0;
	int		 len;

	if (inlen == 0 || inlen > CERTS_B64_MAX)
		return (-1);
	if ((clean = malloc(inlen)) == NULL)
		fatal("%s", __func__);
	for (i = 0; i < inlen; i++) {
		if (in[i] == '\r' || in[i] == '\n')
			continue;
		if (in[i] == '=')
			pad++;
		else if (pad > 0 || !certs_isb64((unsigned char)in[i]))
			goto bad;
		clean[n++] = (unsigned char)in[i];
	}
	if (n == 0 || n % 4 != 0 || pad > 2)
		goto bad;
	if ((buf = malloc(n / 4 * 3 + 1)) == NULL)
		fatal("%s", __func__);
	/* EVP_DecodeBlock counts padding as output bytes; take them off. */
	if ((len = EVP_DecodeBlock(buf, clean, (int)n)) < 0 ||
	    (size_t)len < pad) {
		free(buf);
		goto bad;
	}
	OPENSSL_cleanse(clean, inlen);
	free(clean);
	*out = buf;
	*outlen = (size_t)len - pad;
	return (0);
bad:
	OPENSSL_cleanse(clean, inlen);
	free(clean);
	ERR_clear_error();
	return (-1);
}

/*
 * Parse one GoDoxy env value, base64(certPEM) ";" base64(keyPEM), into p.
 * With key_optional an empty key half is accepted and p->key stays NULL.
 * label (the variable's name) starts every message.
 */
static int
certs_parse_env(const char *label, const char *value, int key_optional,
    struct certs_pair *p, char **errstr)
{
	const char	*semi;
	unsigned char	*der = NULL;
	size_t		 len;
	BIO		*b;

	if (value == NULL || *value == '\0')
		return (certs_fail(errstr, 0, "%s: not set", label));
	if ((semi = strchr(value, ';')) == NULL)
		return (certs_fail(errstr, 0, "%s: missing ';'", label));

	if (certs_b64decode(value, (size_t)(semi - value), &der, &len) == -1)
		return (certs_fail(errstr, 0, "%s: bad base64 (certificate)",
		    label));
	if ((b = BIO_new_mem_buf(der, (int)len)) == NULL ||
	    (p->cert = PEM_read_bio_X509(b, NULL, certs_nopass_cb,
	    NULL)) == NULL) {
		BIO_free(b);
		free(der);
		return (certs_fail(errstr, 1, "%s: bad certificate PEM",
		    label));
	}
	BIO_free(b);
	free(der);
	der = NULL;

	if (semi[1] == '\0' && key_optional)
		return (0);
	if (certs_b64decode(semi + 1, strlen(semi + 1), &der, &len) == -1) {
		certs_pair_free(p);
		return (certs_fail(errstr, 0, "%s: bad base64 (key)", label));
	}
	if ((b = BIO_new_mem_buf(der, (int)len)) == NULL ||
	    (p->key = PEM_read_bio_PrivateKey(b, NULL, certs_nopass_cb,
	    NULL)) == NULL) {
		BIO_free(b);
		OPENSSL_cleanse(der, len);
		free(der);
		certs_pair_free(p);
		return (certs_fail(errstr, 1, "%s: bad private key PEM",
		    label));
	}
	BIO_free(b);
	OPENSSL_cleanse(der, len);
	free(der);
	return (0);
}

/*
 * The name for a client certificate minted on import: the server
 * certificate's CN when it is a usable name, else CERTS_DEFAULT_NAME.
 * Returns a malloc'd string; *is_ip tells how the SAN is typed.
 */
static char *
certs_server_name(X509 *x, int *is_ip)
{
	X509_NAME_ENTRY	*ent;
	unsigned char	*utf8;
	char		*name;
	int		 i, len;

	i = X509_NAME_get_index_by_NID(X509_get_subject_name(x),
	    NID_commonName, -1);
	if (i >= 0 &&
	    (ent = X509_NAME_get_entry(X509_get_subject_name(x), i)) != NULL &&
	    (len = ASN1_STRING_to_UTF8(&utf8,
	    X509_NAME_ENTRY_get_data(ent))) >= 0) {
		name = xstrdup((char *)utf8);
		OPENSSL_free(utf8);
		if ((size_t)len == strlen(name) &&
		    (*is_ip = certs_check_name(name, NULL)) != -1)
			return (name);
		free(name);
	}
	ERR_clear_error();
	*is_ip = 0;
	return (xstrdup(CERTS_DEFAULT_NAME));
}

/* As certs_import_godoxy, printing each file written to out. */
static int
certs_import_out(const char *dir, const char *ca_env, const char *ssl_env,
    int force, FILE *out, char **errstr)
{
	struct certs_pair	 ca = { NULL, NULL }, srv = { NULL, NULL };
	struct certs_pair	 cli = { NULL, NULL };
	struct certs_file	 files[CERTS_NFILES];
	size_t			 n = 0;
	char			*name = NULL;
	int			 is_ip, rv = -1;

	memset(files, 0, sizeof(files));
	if (certs_parse_env(CERTS_ENV_CA, ca_env, 1, &ca, errstr) == -1 ||
	    certs_parse_env(CERTS_ENV_SSL, ssl_env, 0, &srv, errstr) == -1 ||
	    certs_check_set(CERTS_ENV_CA, &ca, CERTS_ENV_SSL, &srv,
	    errstr) == -1)
		goto done;

	/*
	 * With the CA key we can sign a client certificate for our own
	 * connecting side; it lives until the CA expires.
	 */
	if (ca.key != NULL) {
		name = certs_server_name(srv.cert, &is_ip);
		if (certs_issue(CERTS_ROLE_CLIENT, name, is_ip, 0,
		    X509_get0_notAfter(ca.cert), &ca, &cli, errstr) == -1)
			goto done;
	}

	if (certs_pem_pair(&ca, CERTS_CA_CRT, CERTS_CA_KEY, files, &n,
	    errstr) == -1 ||
	    certs_pem_pair(&srv, CERTS_SERVER_CRT, CERTS_SERVER_KEY, files, &n,
	    errstr) == -1 ||
	    (cli.cert != NULL && certs_pem_pair(&cli, CERTS_CLIENT_CRT,
	    CERTS_CLIENT_KEY, files, &n, errstr) == -1))
		goto done;
	if (certs_mkdirs(dir, errstr) == -1)
		goto done;
	rv = certs_write_set(dir, files, n, force, out, errstr);
done:
	free(name);
	certs_files_free(files, n);
	certs_pair_free(&ca);
	certs_pair_free(&srv);
	certs_pair_free(&cli);
	return (rv);
}

/*
 * Import the certificates a GoDoxy server gives an agent: ca_env and
 * ssl_env are the values of AGENT_CA_CERT and AGENT_SSL_CERT.  Both pairs
 * must parse, each key must match its certificate, and the server
 * certificate must verify against the CA.  Writes ca.crt, server.crt and
 * server.key; when the CA half carries a key (GoDoxy's always does; an
 * empty key half after the ';' is accepted), also ca.key and a fresh
 * client.crt/client.key signed by that CA (OU=Client, CN and SAN from the
 * server certificate's CN), so a flowgate client can connect.
 * Certificates and keys are re-encoded from the parsed objects, so the
 * certificate DER is unchanged.
 */
int
certs_import_godoxy(const char *dir, const char *ca_env, const char *ssl_env,
    int force, char **errstr)
{
	return (certs_import_out(dir, ca_env, ssl_env, force, NULL, errstr));
}

/* Read a PEM certificate (key NULL) or private key (x NULL) from dir. */
static int
certs_load(const char *dir, const char *name, X509 **x, EVP_PKEY **key,
    char **errstr)
{
	FILE	*fp;
	BIO	*b;
	char	*path;
	int	 rv = 0;

	xasprintf(&path, "%s/%s", dir, name);
	if ((fp = fopen(path, "re")) == NULL) {
		certs_fail(errstr, 0, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	if ((b = BIO_new_fp(fp, BIO_CLOSE)) == NULL) {
		fclose(fp);
		certs_fail(errstr, 1, "%s", path);
		free(path);
		return (-1);
	}
	if (x != NULL &&
	    (*x = PEM_read_bio_X509(b, NULL, certs_nopass_cb, NULL)) == NULL)
		rv = certs_fail(errstr, 1, "%s: cannot read certificate", path);
	if (key != NULL && (*key = PEM_read_bio_PrivateKey(b, NULL,
	    certs_nopass_cb, NULL)) == NULL)
		rv = certs_fail(errstr, 1, "%s: cannot read private key", path);
	BIO_free(b);
	free(path);
	return (rv);
}

/* base64 of a whole PEM file, no newlines; malloc'd. */
static char *
certs_b64encode(const struct certs_file *f)
{
	char	*s;
	size_t	 size;

	size = (f->len + 2) / 3 * 4 + 1;
	if ((s = malloc(size)) == NULL)
		fatal("%s", __func__);
	EVP_EncodeBlock((unsigned char *)s, (const unsigned char *)f->data,
	    (int)f->len);
	return (s);
}

/*
 * The inverse of certs_import_godoxy: read ca.crt, ca.key, server.crt and
 * server.key from dir, check them as import does, and return the values
 * for AGENT_CA_CERT and AGENT_SSL_CERT (malloc'd, the caller frees; they
 * hold private keys).
 */
int
certs_export_godoxy(const char *dir, char **ca_env, char **ssl_env,
    char **errstr)
{
	struct certs_pair	 ca = { NULL, NULL }, srv = { NULL, NULL };
	struct certs_file	 files[4];
	size_t			 n = 0, i;
	char			*b64[4] = { NULL, NULL, NULL, NULL };
	char			*calabel = NULL, *srvlabel = NULL;
	int			 rv = -1;

	memset(files, 0, sizeof(files));
	if (certs_load(dir, CERTS_CA_CRT, &ca.cert, NULL, errstr) == -1 ||
	    certs_load(dir, CERTS_CA_KEY, NULL, &ca.key, errstr) == -1 ||
	    certs_load(dir, CERTS_SERVER_CRT, &srv.cert, NULL, errstr) == -1 ||
	    certs_load(dir, CERTS_SERVER_KEY, NULL, &srv.key, errstr) == -1)
		goto done;
	xasprintf(&calabel, "%s/%s", dir, CERTS_CA_KEY);
	xasprintf(&srvlabel, "%s/%s", dir, CERTS_SERVER_CRT);
	if (certs_check_set(calabel, &ca, srvlabel, &srv, errstr) == -1)
		goto done;
	if (certs_pem_pair(&ca, CERTS_CA_CRT, CERTS_CA_KEY, files, &n,
	    errstr) == -1 ||
	    certs_pem_pair(&srv, CERTS_SERVER_CRT, CERTS_SERVER_KEY, files, &n,
	    errstr) == -1)
		goto done;
	/* Both pairs have keys here, so files[] is crt, key, crt, key. */
	for (i = 0; i < 4; i++)
		b64[i] = certs_b64encode(&files[i]);
	xasprintf(ca_env, "%s;%s", b64[0], b64[1]);
	xasprintf(ssl_env, "%s;%s", b64[2], b64[3]);
	for (i = 0; i < 4; i++) {
		OPENSSL_cleanse(b64[i], strlen(b64[i]));
		free(b64[i]);
	}
	rv = 0;
done:
	free(calabel);
	free(srvlabel);
	certs_files_free(files, n);
	certs_pair_free(&ca);
	certs_pair_free(&srv);
	return (rv);
}

/*
 * Make sure dir (created 0700 if missing) holds a certificate set:
 * unless ca.crt exists, generate one with the defaults.  An existing set
 * is not checked here; loading it reports any problem.
 */
int
certs_ensure(const char *dir, char **errstr)
{
	struct stat	 sb;
	char		*path;

	if (certs_mkdirs(dir, errstr) == -1)
		return (-1);
	xasprintf(&path, "%s/%s", dir, CERTS_CA_CRT);
	if (stat(path, &sb) == 0) {
		free(path);
		return (0);
	}
	if (errno != ENOENT) {
		certs_fail(errstr, 0, "%s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	free(path);
	if (certs_generate(dir, NULL, CERTS_DEFAULT_DAYS, 0, errstr) == -1)
		return (-1);
	log_info("generated a CA and server and client certificates for "
	    "\"%s\" in %s", CERTS_DEFAULT_NAME, dir);
	return (0);
}

static int
certs_usage(void)
{
	fprintf(stderr,
	    "usage: flowgate certs [-f] [-d dir] [-n name] [-D days]\n"
	    "       flowgate certs import [-f] [-d dir]\n"
	    "       flowgate certs export [-d dir]\n");
	return (2);
}

/*
 * "flowgate certs": generate (the default), import or export.  argv[0]
 * is "certs".  Returns the exit status: 0, 1 on failure, 2 on bad usage.
 */
int
certs_main(int argc, char *argv[])
{
	enum { CERTS_CMD_GENERATE, CERTS_CMD_IMPORT, CERTS_CMD_EXPORT } cmd;
	const char	*dir = ".", *name = CERTS_DEFAULT_NAME, *opts, *errp;
	char		*errstr = NULL, *ca_env = NULL, *ssl_env = NULL;
	uint64_t	 days = CERTS_DEFAULT_DAYS;
	int		 ch, force = 0, rv, save_opterr;

	cmd = CERTS_CMD_GENERATE;
	opts = ":fd:n:D:";
	if (argc >= 2 && strcmp(argv[1], "import") == 0) {
		cmd = CERTS_CMD_IMPORT;
		opts = ":fd:";
	} else if (argc >= 2 && strcmp(argv[1], "export") == 0) {
		cmd = CERTS_CMD_EXPORT;
		opts = ":d:";
	}
	if (cmd != CERTS_CMD_GENERATE) {
		argc--;
		argv++;
	}

	/* Our own messages: getopt's would name "import", not flowgate. */
	save_opterr = opterr;
	opterr = 0;
	optind = 1;
	rv = -1;
	while (rv == -1 && (ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'f':
			force = 1;
			break;
		case 'd':
			dir = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'D':
			if (parse_uint(optarg, 1, CERTS_MAX_DAYS, &days,
			    &errp) == -1) {
				fprintf(stderr, "flowgate certs: -D %s: %s "
				    "(1..%d)\n", optarg, errp, CERTS_MAX_DAYS);
				rv = certs_usage();
			}
			break;
		case ':':
			fprintf(stderr, "flowgate certs: option -%c needs an "
			    "argument\n", optopt);
			rv = certs_usage();
			break;
		default:
			fprintf(stderr, "flowgate certs: unknown option -%c\n",
			    optopt);
			rv = certs_usage();
			break;
		}
	}
	opterr = save_opterr;
	if (rv != -1)
		return (rv);
	if (optind != argc) {
		fprintf(stderr, "flowgate certs: unexpected argument \"%s\"\n",
		    argv[optind]);
		return (certs_usage());
	}
	if (cmd == CERTS_CMD_GENERATE &&
	    certs_check_name(name, &errstr) == -1) {
		fprintf(stderr, "flowgate certs: -n: %s\n", errstr);
		free(errstr);
		return (certs_usage());
	}

	switch (cmd) {
	case CERTS_CMD_GENERATE:
		rv = certs_generate_out(dir, name, (int)days, force, stdout,
		    &errstr);
		break;
	case CERTS_CMD_IMPORT:
		rv = certs_import_out(dir, getenv(CERTS_ENV_CA),
		    getenv(CERTS_ENV_SSL), force, stdout, &errstr);
		break;
	case CERTS_CMD_EXPORT:
		rv = certs_export_godoxy(dir, &ca_env, &ssl_env, &errstr);
		if (rv == 0) {
			printf("%s=%s\n%s=%s\n", CERTS_ENV_CA, ca_env,
			    CERTS_ENV_SSL, ssl_env);
			OPENSSL_cleanse(ca_env, strlen(ca_env));
			OPENSSL_cleanse(ssl_env, strlen(ssl_env));
			free(ca_env);
			free(ssl_env);
		}
		break;
	}
	if (rv == -1) {
		fprintf(stderr, "flowgate certs: %s\n", errstr);
		free(errstr);
		return (1);
	}
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "flowgate certs: stdout: %s\n",
		    strerror(errno));
		return (1);
	}
	return (0);
}
