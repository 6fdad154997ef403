/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * The JOSE pieces ACME (RFC 8555) needs: base64url (RFC 4648 §5, unpadded),
 * JWKs of public keys (RFC 7517/7518: EC P-256 and RSA), their thumbprints
 * (RFC 7638), flattened JWS (RFC 7515 §7.2.2) signed ES256 or RS256 with a
 * gnutls_privkey_t (so the key may live in a TPM), and the HS256 external
 * account binding of newAccount (RFC 8555 §7.3.4).
 */

gchar *ck_jose_base64url_encode(const guint8 *data, gsize len);
/* Accepts unpadded (and padded) base64url; CK_ERROR_INVALID_ARGUMENT otherwise. */
GBytes *ck_jose_base64url_decode(const gchar *text, GError **error);

/* The JWK of @key's public half, members in RFC 7638's lexicographic order. */
gchar *ck_jose_jwk_json(gnutls_pubkey_t key, GError **error);
/* base64url(SHA-256(JWK)) per RFC 7638; used in key authorizations. */
gchar *ck_jose_jwk_thumbprint(gnutls_pubkey_t key, GError **error);

/*
 * A flattened JWS of @payload (JSON text; NULL for the empty payload of
 * POST-as-GET) with the protected header {"alg","nonce","url"} and either
 * "kid": @kid or, when @kid is NULL, "jwk": the key's JWK. ES256 for EC
 * P-256 keys, RS256 for RSA keys. Returns the JWS as JSON text.
 */
gchar *ck_jose_jws_sign(gnutls_privkey_t key, const gchar *kid, const gchar *nonce,
			const gchar *url, const gchar *payload, GError **error);

/*
 * The externalAccountBinding member of a newAccount payload: a flattened JWS
 * over the account key's JWK, protected {"alg":"HS256","kid":@eab_kid,"url":@url},
 * MACed with @mac_key (the CA hands it out base64url-encoded).
 */
JsonNode *ck_jose_eab_new(const gchar *eab_kid, GBytes *mac_key, gnutls_pubkey_t account_key,
			  const gchar *url, GError **error);

G_END_DECLS
