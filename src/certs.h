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

#ifndef CERTS_H
#define CERTS_H

/*
 * certs.c: the certificate set for the GoDoxy-compatible mTLS transport.
 * A directory holds one CA and two leaves signed by it:
 *
 *	ca.crt ca.key		self-signed ECDSA P-256 CA, O=GoDoxy,
 *				CA:TRUE pathlen 0, keyCertSign|cRLSign
 *	server.crt server.key	OU=Server, EKU serverAuth (the agent side)
 *	client.crt client.key	OU=Client, EKU clientAuth (the GoDoxy side)
 *
 * Keys are SEC1 PEM ("EC PRIVATE KEY"), mode 0600; certificates are 0644.
 * Nothing is ever overwritten unless force is set.  Every function returns
 * 0 on success and -1 on failure with *errstr set to a malloc'd message
 * that the caller frees; *errstr is left alone on success.
 */

#define CERTS_DEFAULT_NAME	"godoxy.agent"
#define CERTS_DEFAULT_DAYS	365000		/* 1000 years, as GoDoxy */
#define CERTS_MAX_DAYS		365000

/* The environment variables a GoDoxy agent reads its certificates from. */
#define CERTS_ENV_CA		"AGENT_CA_CERT"
#define CERTS_ENV_SSL		"AGENT_SSL_CERT"

/* File names inside the certificate directory. */
#define CERTS_CA_CRT		"ca.crt"
#define CERTS_CA_KEY		"ca.key"
#define CERTS_SERVER_CRT	"server.crt"
#define CERTS_SERVER_KEY	"server.key"
#define CERTS_CLIENT_CRT	"client.crt"
#define CERTS_CLIENT_KEY	"client.key"

/* Files in dir: ca.crt ca.key server.crt server.key client.crt client.key */
int	certs_generate(const char *dir, const char *name, int days, int force,
	    char **errstr);
int	certs_import_godoxy(const char *dir, const char *ca_env,
	    const char *ssl_env, int force, char **errstr);
int	certs_export_godoxy(const char *dir, char **ca_env, char **ssl_env,
	    char **errstr);
int	certs_ensure(const char *dir, char **errstr);
int	certs_main(int argc, char *argv[]);

#endif /* CERTS_H */
