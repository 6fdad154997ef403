/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/*
 * A small synchronous HTTP/1.1 client for the CA helper processes (ACME, EST).
 * It owns its GnuTLS session, so a key that lives elsewhere (a TPM, a token)
 * can authenticate the client through a gnutls_privkey_t. One request per
 * connection ("Connection: close"); no redirects, no cookies, no proxies.
 */
typedef struct {
	/* PEM trust anchors for https; NULL: the system's trust store */
	const gchar *trust_file;
	/* TLS client authentication: the certificate chain (leaf first) and its key;
	 * both stay owned by the caller and must outlive the request */
	gnutls_x509_crt_t *client_chain;
	guint client_chain_len;
	gnutls_privkey_t client_key;
	/* for the connection and for each read or write; 0: 30 s */
	guint timeout_seconds;
	/* cap on the response body (decoded) and on its header; 0: 1 MiB */
	gsize max_response;
	/* extra request header lines ("Name: value"), up to the first NULL; may be NULL */
	const gchar *const *headers;
	/* trust on first use only: the server's certificate is not verified at all, and
	 * the caller decides from ck_http_response_get_peer_certificates() whether to
	 * believe the answer (EST's --pin-sha256) */
	gboolean accept_any_peer;
} CkHttpOptions;

typedef struct _CkHttpResponse CkHttpResponse;

/*
 * Sends @method @url with @body (nullable; sent with @content_type if that is
 * not NULL) and reads the whole answer. Any HTTP status is a response, not an
 * error. Errors (CK_ERROR): INVALID_ARGUMENT (a URL that is not http(s)),
 * IO (an unreadable trust file), CA_UNREACHABLE (no connection, TLS failure, a
 * certificate that does not verify for the URL's host, a malformed answer),
 * TIMED_OUT, FAILED (the answer exceeds max_response). Messages name the URL.
 */
CkHttpResponse *ck_http_request(const CkHttpOptions *options, const gchar *method, const gchar *url,
				const gchar *content_type, GBytes *body, GError **error);

guint ck_http_response_get_status(const CkHttpResponse *response);
/* The first value of header @name (case-insensitive), or NULL. */
const gchar *ck_http_response_get_header(const CkHttpResponse *response, const gchar *name);
/* Every value of header @name in the order received (never NULL; free with g_strfreev). */
GStrv ck_http_response_get_headers(const CkHttpResponse *response, const gchar *name);
/* The decoded body (never NULL; empty when there was none). */
GBytes *ck_http_response_get_body(const CkHttpResponse *response);
/* The certificates the server presented (GBytes of DER, leaf first); empty for http. */
const GPtrArray *ck_http_response_get_peer_certificates(const CkHttpResponse *response);
void ck_http_response_free(CkHttpResponse *response);

/*
 * Reads the private key in @path for TLS client authentication (client_key
 * above): an unencrypted PEM key, or a TCG "TSS2 PRIVATE KEY" whose signatures
 * the TPM makes, reached through the TCTI in $CERTKEEPER_TPM_TCTI (default
 * device:/dev/tpmrm0); a TPM key with an authorization value reads it from
 * "<path>.auth". @what names the key in messages. Errors (CK_ERROR): IO,
 * INVALID_ARGUMENT, UNSUPPORTED (a TPM key in a build without TPM support).
 */
gboolean ck_http_load_client_key(const gchar *path, const gchar *what, gnutls_privkey_t *key_out,
				 GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkHttpResponse, ck_http_response_free)

G_END_DECLS
