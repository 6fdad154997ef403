/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <string.h>

#include "ck-error.h"
#include "ck-jose.h"

/* P-256 coordinates and ES256's r and s are exactly this long in JOSE (RFC 7518 §3.4, §6.2.1) */
#define CK_JOSE_P256_SIZE 32

gchar *
ck_jose_base64url_encode(const guint8 *data, gsize len)
{
	gchar *text = g_base64_encode(data, len);
	gsize n = strlen(text);

	while (n > 0 && text[n - 1] == '=')
		text[--n] = '\0';
	for (gchar *p = text; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
	return text;
}

GBytes *
ck_jose_base64url_decode(const gchar *text, GError **error)
{
	g_autoptr(GString) std = NULL;
	gsize len, out_len = 0;
	guchar *out;

	g_return_val_if_fail(text != NULL, NULL);
	len = strlen(text);
	while (len > 0 && text[len - 1] == '=')
		len--;
	/* g_base64_decode() skips what it does not know: check first, so garbage is an error */
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(text[i]) && text[i] != '-' && text[i] != '_') {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not base64url (unexpected '%c')"), text, text[i]);
			return NULL;
		}
	}
	if (len % 4 == 1) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not base64url (its length is impossible)"), text);
		return NULL;
	}
	std = g_string_new_len(text, (gssize)len);
	for (gsize i = 0; i < std->len; i++) {
		if (std->str[i] == '-')
			std->str[i] = '+';
		else if (std->str[i] == '_')
			std->str[i] = '/';
	}
	while (std->len % 4 != 0)
		g_string_append_c(std, '=');
	out = g_base64_decode(std->str, &out_len);
	return g_bytes_new_take(out, out_len);
}

static gchar *
ck_jose_datum_b64(const gnutls_datum_t *datum)
{
	return ck_jose_base64url_encode(datum->data, datum->size);
}

/* @datum as exactly @size bytes: drops sign padding, adds leading zeros. */
static gboolean
ck_jose_fixed_size(const gnutls_datum_t *datum, guint8 *out, gsize size)
{
	const guint8 *p = datum->data;
	gsize n = datum->size;

	while (n > size && *p == 0) {
		p++;
		n--;
	}
	if (n > size)
		return FALSE;
	memset(out, 0, size - n);
	memcpy(out + (size - n), p, n);
	return TRUE;
}

static gboolean
ck_jose_unsupported_key(int pk, GError **error)
{
	g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
		    /* TRANSLATORS: a public-key algorithm name, e.g. "EdDSA (Ed25519)" */
		    _("A %s key cannot sign ACME requests: use an EC P-256 or RSA key"),
		    gnutls_pk_get_name((gnutls_pk_algorithm_t)pk) != NULL
			? gnutls_pk_get_name((gnutls_pk_algorithm_t)pk)
			: "?");
	return FALSE;
}

gchar *
ck_jose_jwk_json(gnutls_pubkey_t key, GError **error)
{
	int pk = gnutls_pubkey_get_pk_algorithm(key, NULL);
	int rc;

	if (pk == GNUTLS_PK_EC) {
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
		guint8 xb[CK_JOSE_P256_SIZE], yb[CK_JOSE_P256_SIZE];
		gchar *json = NULL;

		rc = gnutls_pubkey_export_ecc_raw2(key, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ);
		if (rc < 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The EC public key cannot be exported: %s"),
				    gnutls_strerror(rc));
			return NULL;
		}
		if (curve == GNUTLS_ECC_CURVE_SECP256R1 && ck_jose_fixed_size(&x, xb, sizeof(xb)) &&
		    ck_jose_fixed_size(&y, yb, sizeof(yb))) {
			g_autofree gchar *xs = ck_jose_base64url_encode(xb, sizeof(xb));
			g_autofree gchar *ys = ck_jose_base64url_encode(yb, sizeof(yb));
			/* RFC 7638 §3.2: exactly these members, sorted, no whitespace */
			json = g_strdup_printf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\","
					       "\"y\":\"%s\"}",
					       xs, ys);
		} else {
			g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
				    _("The EC curve %s cannot sign ACME requests here: use P-256"),
				    gnutls_ecc_curve_get_name(curve) != NULL
					? gnutls_ecc_curve_get_name(curve)
					: "?");
		}
		gnutls_free(x.data);
		gnutls_free(y.data);
		return json;
	}
	if (pk == GNUTLS_PK_RSA) {
		gnutls_datum_t n = {NULL, 0}, e = {NULL, 0};
		g_autofree gchar *ns = NULL, *es = NULL;

		rc = gnutls_pubkey_export_rsa_raw2(key, &n, &e, GNUTLS_EXPORT_FLAG_NO_LZ);
		if (rc < 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The RSA public key cannot be exported: %s"),
				    gnutls_strerror(rc));
			return NULL;
		}
		ns = ck_jose_datum_b64(&n);
		es = ck_jose_datum_b64(&e);
		gnutls_free(n.data);
		gnutls_free(e.data);
		return g_strdup_printf("{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}", es, ns);
	}
	ck_jose_unsupported_key(pk, error);
	return NULL;
}

gchar *
ck_jose_jwk_thumbprint(gnutls_pubkey_t key, GError **error)
{
	g_autofree gchar *jwk = ck_jose_jwk_json(key, error);
	guint8 digest[32];
	int rc;

	if (jwk == NULL)
		return NULL;
	rc = gnutls_hash_fast(GNUTLS_DIG_SHA256, jwk, strlen(jwk), digest);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "SHA-256: %s", gnutls_strerror(rc));
		return NULL;
	}
	return ck_jose_base64url_encode(digest, sizeof(digest));
}

static gchar *
ck_jose_node_to_string(JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, node);
	return json_generator_to_data(gen, NULL);
}

/* The flattened JWS object for the given parts. */
static gchar *
ck_jose_flattened(const gchar *protected_b64, const gchar *payload_b64, const gchar *sig_b64)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "protected");
	json_builder_add_string_value(b, protected_b64);
	json_builder_set_member_name(b, "payload");
	json_builder_add_string_value(b, payload_b64);
	json_builder_set_member_name(b, "signature");
	json_builder_add_string_value(b, sig_b64);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	return ck_jose_node_to_string(root);
}

/* The JWS signature value over @input: raw r||s for ES256, PKCS#1 v1.5 for RS256. */
static gchar *
ck_jose_signature(gnutls_privkey_t key, int pk, const gchar *input, GError **error)
{
	gnutls_datum_t data = {(unsigned char *)input, (unsigned int)strlen(input)};
	gnutls_datum_t sig = {NULL, 0};
	gchar *result = NULL;
	int rc;

	rc = gnutls_privkey_sign_data2(
	    key, pk == GNUTLS_PK_EC ? GNUTLS_SIGN_ECDSA_SHA256 : GNUTLS_SIGN_RSA_SHA256, 0, &data,
	    &sig);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("The account key cannot sign: %s"),
			    gnutls_strerror(rc));
		return NULL;
	}
	if (pk == GNUTLS_PK_EC) {
		/* GnuTLS gives DER (SEQUENCE of two INTEGERs); JWS wants fixed-size r||s */
		gnutls_datum_t r = {NULL, 0}, s = {NULL, 0};
		guint8 raw[2 * CK_JOSE_P256_SIZE];
		rc = gnutls_decode_rs_value(&sig, &r, &s);
		if (rc >= 0 && ck_jose_fixed_size(&r, raw, CK_JOSE_P256_SIZE) &&
		    ck_jose_fixed_size(&s, raw + CK_JOSE_P256_SIZE, CK_JOSE_P256_SIZE))
			result = ck_jose_base64url_encode(raw, sizeof(raw));
		else
			g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The account key's signature is not a P-256 ECDSA value"));
		gnutls_free(r.data);
		gnutls_free(s.data);
	} else {
		result = ck_jose_datum_b64(&sig);
	}
	gnutls_free(sig.data);
	return result;
}

/* The JWK of a private key's public half (which may live in a TPM: no export of secrets). */
static gchar *
ck_jose_privkey_jwk_json(gnutls_privkey_t key, GError **error)
{
	gnutls_pubkey_t pub = NULL;
	gchar *jwk = NULL;
	int rc = gnutls_pubkey_init(&pub);

	if (rc >= 0)
		rc = gnutls_pubkey_import_privkey(pub, key, 0, 0);
	if (rc < 0)
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The account key's public half cannot be read: %s"),
			    gnutls_strerror(rc));
	else
		jwk = ck_jose_jwk_json(pub, error);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return jwk;
}

gchar *
ck_jose_jws_sign(gnutls_privkey_t key, const gchar *kid, const gchar *nonce, const gchar *url,
		 const gchar *payload, GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) header = NULL;
	g_autofree gchar *header_text = NULL;
	g_autofree gchar *protected_b64 = NULL;
	g_autofree gchar *payload_b64 = NULL;
	g_autofree gchar *input = NULL;
	g_autofree gchar *sig = NULL;
	int pk = gnutls_privkey_get_pk_algorithm(key, NULL);

	g_return_val_if_fail(url != NULL, NULL);
	if (pk != GNUTLS_PK_EC && pk != GNUTLS_PK_RSA) {
		ck_jose_unsupported_key(pk, error);
		return NULL;
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "alg");
	json_builder_add_string_value(b, pk == GNUTLS_PK_EC ? "ES256" : "RS256");
	if (kid != NULL) {
		json_builder_set_member_name(b, "kid");
		json_builder_add_string_value(b, kid);
	} else {
		g_autofree gchar *jwk = ck_jose_privkey_jwk_json(key, error);
		g_autoptr(JsonNode) jwk_node = NULL;
		if (jwk == NULL)
			return NULL;
		jwk_node = json_from_string(jwk, NULL);
		json_builder_set_member_name(b, "jwk");
		json_builder_add_value(b, g_steal_pointer(&jwk_node));
	}
	if (nonce != NULL) {
		json_builder_set_member_name(b, "nonce");
		json_builder_add_string_value(b, nonce);
	}
	json_builder_set_member_name(b, "url");
	json_builder_add_string_value(b, url);
	json_builder_end_object(b);
	header = json_builder_get_root(b);
	header_text = ck_jose_node_to_string(header);
	protected_b64 = ck_jose_base64url_encode((const guint8 *)header_text, strlen(header_text));
	payload_b64 = payload != NULL
			  ? ck_jose_base64url_encode((const guint8 *)payload, strlen(payload))
			  : g_strdup("");
	input = g_strconcat(protected_b64, ".", payload_b64, NULL);
	sig = ck_jose_signature(key, pk, input, error);
	if (sig == NULL)
		return NULL;
	return ck_jose_flattened(protected_b64, payload_b64, sig);
}

JsonNode *
ck_jose_eab_new(const gchar *eab_kid, GBytes *mac_key, gnutls_pubkey_t account_key,
		const gchar *url, GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) header = NULL;
	g_autofree gchar *header_text = NULL;
	g_autofree gchar *protected_b64 = NULL;
	g_autofree gchar *payload_b64 = NULL;
	g_autofree gchar *input = NULL;
	g_autofree gchar *sig_b64 = NULL;
	g_autofree gchar *jws = NULL;
	g_autofree gchar *jwk = NULL;
	guint8 mac[32];
	gsize key_len = 0;
	const guint8 *key_data;
	int rc;

	g_return_val_if_fail(eab_kid != NULL && mac_key != NULL && url != NULL, NULL);
	key_data = g_bytes_get_data(mac_key, &key_len);
	if (key_len == 0) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The external account binding's MAC key is empty"));
		return NULL;
	}
	jwk = ck_jose_jwk_json(account_key, error);
	if (jwk == NULL)
		return NULL;
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "alg");
	json_builder_add_string_value(b, "HS256");
	json_builder_set_member_name(b, "kid");
	json_builder_add_string_value(b, eab_kid);
	json_builder_set_member_name(b, "url");
	json_builder_add_string_value(b, url);
	json_builder_end_object(b);
	header = json_builder_get_root(b);
	header_text = ck_jose_node_to_string(header);
	protected_b64 = ck_jose_base64url_encode((const guint8 *)header_text, strlen(header_text));
	payload_b64 = ck_jose_base64url_encode((const guint8 *)jwk, strlen(jwk));
	input = g_strconcat(protected_b64, ".", payload_b64, NULL);
	rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, key_data, key_len, input, strlen(input), mac);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "HMAC-SHA256: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	sig_b64 = ck_jose_base64url_encode(mac, sizeof(mac));
	jws = ck_jose_flattened(protected_b64, payload_b64, sig_b64);
	return json_from_string(jws, error);
}
