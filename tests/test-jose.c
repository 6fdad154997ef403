/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * JOSE for ACME: base64url vectors (RFC 4648 §10), the RFC 7638 §3.1 thumbprint,
 * and JWS signatures checked from the outside: the JWK in the header is turned
 * back into a GnuTLS public key, r||s back into DER, and GnuTLS verifies.
 */
#include "config.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "ck-error.h"
#include "ck-jose.h"

static gchar *
ck_test_b64(const gchar *text)
{
	return ck_jose_base64url_encode((const guint8 *)text, strlen(text));
}

static void
test_jose_base64url(void)
{
	const gchar *vectors[][2] = {
	    {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
	    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
	const guint8 high[] = {0xfb, 0xff, 0xfe};
	g_autofree gchar *high_text = ck_jose_base64url_encode(high, sizeof(high));
	const gchar *bad[] = {"a+b", "a/b", "ab c", "abcde", NULL};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(vectors); i++) {
		g_autofree gchar *enc = ck_test_b64(vectors[i][0]);
		g_autoptr(GBytes) dec = ck_jose_base64url_decode(vectors[i][1], &error);
		g_assert_cmpstr(enc, ==, vectors[i][1]);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(dec, NULL), g_bytes_get_size(dec), vectors[i][0],
				strlen(vectors[i][0]));
	}
	/* the URL-safe alphabet, not + and / */
	g_assert_cmpstr(high_text, ==, "-__-");
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GBytes) dec = ck_jose_base64url_decode(bad[i], &error);
		g_assert_null(dec);
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_clear_error(&error);
	}
	/* padded input is accepted too; every length round-trips */
	{
		g_autoptr(GBytes) dec = ck_jose_base64url_decode("Zm8=", &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(dec, NULL), g_bytes_get_size(dec), "fo", 2);
	}
	for (guint len = 0; len < 40; len++) {
		guint8 data[40];
		g_autofree gchar *enc = NULL;
		g_autoptr(GBytes) dec = NULL;
		for (guint i = 0; i < len; i++)
			data[i] = (guint8)g_random_int();
		enc = ck_jose_base64url_encode(data, len);
		g_assert_null(strchr(enc, '='));
		dec = ck_jose_base64url_decode(enc, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(dec, NULL), g_bytes_get_size(dec), data, len);
	}
}

/* RFC 7638 §3.1 */
static const gchar rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY36"
    "8QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4"
    "lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

static void
test_jose_rfc7638_thumbprint(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) n = ck_jose_base64url_decode(rfc7638_n, &error);
	g_autoptr(GBytes) e = ck_jose_base64url_decode("AQAB", &error);
	gnutls_datum_t nd, ed;
	gnutls_pubkey_t pub = NULL;
	g_autofree gchar *jwk = NULL;
	g_autofree gchar *expect = NULL;
	g_autofree gchar *thumb = NULL;

	g_assert_no_error(error);
	nd.data = (unsigned char *)g_bytes_get_data(n, NULL);
	nd.size = (unsigned int)g_bytes_get_size(n);
	ed.data = (unsigned char *)g_bytes_get_data(e, NULL);
	ed.size = (unsigned int)g_bytes_get_size(e);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_rsa_raw(pub, &nd, &ed), ==, 0);
	jwk = ck_jose_jwk_json(pub, &error);
	g_assert_no_error(error);
	expect = g_strdup_printf("{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n);
	g_assert_cmpstr(jwk, ==, expect);
	thumb = ck_jose_jwk_thumbprint(pub, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(thumb, ==, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
	gnutls_pubkey_deinit(pub);
}

static gnutls_privkey_t
ck_test_generate(gnutls_pk_algorithm_t pk, unsigned int bits)
{
	gnutls_privkey_t key = NULL;
	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_privkey_generate(key, pk, bits, 0), ==, 0);
	return key;
}

static JsonObject *
ck_test_parse_object(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node = json_from_string(text, &error);
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

/* The decoded protected header of a flattened JWS. */
static JsonObject *
ck_test_protected(JsonObject *jws)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) raw =
	    ck_jose_base64url_decode(json_object_get_string_member(jws, "protected"), &error);
	g_autofree gchar *text = NULL;
	g_assert_no_error(error);
	text = g_strndup(g_bytes_get_data(raw, NULL), g_bytes_get_size(raw));
	return ck_test_parse_object(text);
}

static gchar *
ck_test_payload(JsonObject *jws)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) raw =
	    ck_jose_base64url_decode(json_object_get_string_member(jws, "payload"), &error);
	g_assert_no_error(error);
	return g_strndup(g_bytes_get_data(raw, NULL), g_bytes_get_size(raw));
}

/* A GnuTLS public key from the JWK members (not from the private key). */
static gnutls_pubkey_t
ck_test_pubkey_from_jwk(JsonObject *jwk)
{
	g_autoptr(GError) error = NULL;
	gnutls_pubkey_t pub = NULL;
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	if (g_strcmp0(json_object_get_string_member(jwk, "kty"), "EC") == 0) {
		g_autoptr(GBytes) x =
		    ck_jose_base64url_decode(json_object_get_string_member(jwk, "x"), &error);
		g_autoptr(GBytes) y =
		    ck_jose_base64url_decode(json_object_get_string_member(jwk, "y"), &error);
		gnutls_datum_t xd = {(unsigned char *)g_bytes_get_data(x, NULL),
				     (unsigned int)g_bytes_get_size(x)};
		gnutls_datum_t yd = {(unsigned char *)g_bytes_get_data(y, NULL),
				     (unsigned int)g_bytes_get_size(y)};
		g_assert_no_error(error);
		g_assert_cmpstr(json_object_get_string_member(jwk, "crv"), ==, "P-256");
		g_assert_cmpuint(xd.size, ==, 32);
		g_assert_cmpuint(yd.size, ==, 32);
		g_assert_cmpint(
		    gnutls_pubkey_import_ecc_raw(pub, GNUTLS_ECC_CURVE_SECP256R1, &xd, &yd), ==, 0);
	} else {
		g_autoptr(GBytes) n =
		    ck_jose_base64url_decode(json_object_get_string_member(jwk, "n"), &error);
		g_autoptr(GBytes) e =
		    ck_jose_base64url_decode(json_object_get_string_member(jwk, "e"), &error);
		gnutls_datum_t nd = {(unsigned char *)g_bytes_get_data(n, NULL),
				     (unsigned int)g_bytes_get_size(n)};
		gnutls_datum_t ed = {(unsigned char *)g_bytes_get_data(e, NULL),
				     (unsigned int)g_bytes_get_size(e)};
		g_assert_no_error(error);
		g_assert_cmpstr(json_object_get_string_member(jwk, "kty"), ==, "RSA");
		g_assert_cmpint(gnutls_pubkey_import_rsa_raw(pub, &nd, &ed), ==, 0);
	}
	return pub;
}

/* Verifies @jws with @pub; @tamper flips a bit of the signing input first. */
static int
ck_test_verify(JsonObject *jws, gnutls_pubkey_t pub, gboolean tamper)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *input = g_strconcat(json_object_get_string_member(jws, "protected"), ".",
					      json_object_get_string_member(jws, "payload"), NULL);
	g_autoptr(GBytes) sig =
	    ck_jose_base64url_decode(json_object_get_string_member(jws, "signature"), &error);
	gnutls_datum_t data = {(unsigned char *)input, (unsigned int)strlen(input)};
	gnutls_datum_t der = {NULL, 0};
	gnutls_datum_t sigd = {(unsigned char *)g_bytes_get_data(sig, NULL),
			       (unsigned int)g_bytes_get_size(sig)};
	gnutls_sign_algorithm_t algo;
	int rc;

	g_assert_no_error(error);
	if (tamper)
		input[strlen(input) - 1] ^= 1;
	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) == GNUTLS_PK_EC) {
		gnutls_datum_t r = {sigd.data, 32};
		gnutls_datum_t s = {sigd.data + 32, 32};
		/* JWS ES256 is exactly 64 bytes: r and s, 32 each */
		g_assert_cmpuint(sigd.size, ==, 64);
		g_assert_cmpint(gnutls_encode_rs_value(&der, &r, &s), ==, 0);
		algo = GNUTLS_SIGN_ECDSA_SHA256;
		rc = gnutls_pubkey_verify_data2(pub, algo, 0, &data, &der);
		gnutls_free(der.data);
	} else {
		algo = GNUTLS_SIGN_RSA_SHA256;
		rc = gnutls_pubkey_verify_data2(pub, algo, 0, &data, &sigd);
	}
	return rc;
}

static void
test_jose_es256_jwk(void)
{
	gnutls_privkey_t key =
	    ck_test_generate(GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(JsonObject) jws = NULL;
	g_autoptr(JsonObject) header = NULL;
	g_autofree gchar *payload = NULL;
	gnutls_pubkey_t pub = NULL;

	/* many signatures: some r or s values have leading zero bytes, which must stay */
	for (guint i = 0; i < 64; i++) {
		g_autofree gchar *t = ck_jose_jws_sign(key, NULL, "nonce-1", "https://ca/new-acct",
						       "{\"termsOfServiceAgreed\":true}", &error);
		g_autoptr(JsonObject) o = NULL;
		g_autoptr(JsonObject) h = NULL;
		gnutls_pubkey_t p;
		g_assert_no_error(error);
		o = ck_test_parse_object(t);
		h = ck_test_protected(o);
		p = ck_test_pubkey_from_jwk(json_object_get_object_member(h, "jwk"));
		g_assert_cmpint(ck_test_verify(o, p, FALSE), >=, 0);
		gnutls_pubkey_deinit(p);
	}
	text = ck_jose_jws_sign(key, NULL, "nonce-1", "https://ca/new-acct",
				"{\"termsOfServiceAgreed\":true}", &error);
	g_assert_no_error(error);
	jws = ck_test_parse_object(text);
	header = ck_test_protected(jws);
	g_assert_cmpstr(json_object_get_string_member(header, "alg"), ==, "ES256");
	g_assert_cmpstr(json_object_get_string_member(header, "nonce"), ==, "nonce-1");
	g_assert_cmpstr(json_object_get_string_member(header, "url"), ==, "https://ca/new-acct");
	g_assert_false(json_object_has_member(header, "kid"));
	g_assert_true(json_object_has_member(header, "jwk"));
	payload = ck_test_payload(jws);
	g_assert_cmpstr(payload, ==, "{\"termsOfServiceAgreed\":true}");
	pub = ck_test_pubkey_from_jwk(json_object_get_object_member(header, "jwk"));
	g_assert_cmpint(ck_test_verify(jws, pub, FALSE), >=, 0);
	g_assert_cmpint(ck_test_verify(jws, pub, TRUE), ==, GNUTLS_E_PK_SIG_VERIFY_FAILED);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
}

static void
test_jose_kid_and_post_as_get(void)
{
	gnutls_privkey_t key =
	    ck_test_generate(GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	gnutls_privkey_t other =
	    ck_test_generate(GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text =
	    ck_jose_jws_sign(key, "https://ca/acct/1", "n2", "https://ca/order/7", NULL, &error);
	g_autoptr(JsonObject) jws = NULL;
	g_autoptr(JsonObject) header = NULL;
	gnutls_pubkey_t pub = NULL, wrong = NULL;

	g_assert_no_error(error);
	jws = ck_test_parse_object(text);
	header = ck_test_protected(jws);
	g_assert_cmpstr(json_object_get_string_member(header, "kid"), ==, "https://ca/acct/1");
	g_assert_false(json_object_has_member(header, "jwk"));
	/* POST-as-GET: the payload is the empty string, not "{}" */
	g_assert_cmpstr(json_object_get_string_member(jws, "payload"), ==, "");
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&wrong), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(wrong, other, 0, 0), ==, 0);
	g_assert_cmpint(ck_test_verify(jws, pub, FALSE), >=, 0);
	g_assert_cmpint(ck_test_verify(jws, wrong, FALSE), ==, GNUTLS_E_PK_SIG_VERIFY_FAILED);
	gnutls_pubkey_deinit(pub);
	gnutls_pubkey_deinit(wrong);
	gnutls_privkey_deinit(key);
	gnutls_privkey_deinit(other);
}

static void
test_jose_rs256(void)
{
	gnutls_privkey_t key = ck_test_generate(GNUTLS_PK_RSA, 2048);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = ck_jose_jws_sign(key, NULL, "n3", "https://ca/revoke",
						  "{\"certificate\":\"AA\"}", &error);
	g_autoptr(JsonObject) jws = NULL;
	g_autoptr(JsonObject) header = NULL;
	gnutls_pubkey_t pub;

	g_assert_no_error(error);
	jws = ck_test_parse_object(text);
	header = ck_test_protected(jws);
	g_assert_cmpstr(json_object_get_string_member(header, "alg"), ==, "RS256");
	pub = ck_test_pubkey_from_jwk(json_object_get_object_member(header, "jwk"));
	g_assert_cmpint(ck_test_verify(jws, pub, FALSE), >=, 0);
	g_assert_cmpint(ck_test_verify(jws, pub, TRUE), ==, GNUTLS_E_PK_SIG_VERIFY_FAILED);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
}

static void
test_jose_ec_thumbprint(void)
{
	gnutls_privkey_t key =
	    ck_test_generate(GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *thumb = NULL;
	g_autofree gchar *jwk = NULL;
	g_autofree gchar *xs = NULL, *ys = NULL, *expect_jwk = NULL, *expect = NULL;
	guint8 digest[32];

	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	/* the expected JWK, built here from GnuTLS's raw export (with its fixed-size padding) */
	g_assert_cmpint(gnutls_pubkey_export_ecc_raw2(pub, NULL, &x, &y, 0), ==, 0);
	g_assert_cmpuint(x.size, >=, 32);
	xs = ck_jose_base64url_encode(x.data + x.size - 32, 32);
	ys = ck_jose_base64url_encode(y.data + y.size - 32, 32);
	expect_jwk =
	    g_strdup_printf("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}", xs, ys);
	jwk = ck_jose_jwk_json(pub, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(jwk, ==, expect_jwk);
	g_assert_cmpint(gnutls_hash_fast(GNUTLS_DIG_SHA256, expect_jwk, strlen(expect_jwk), digest),
			==, 0);
	expect = ck_jose_base64url_encode(digest, sizeof(digest));
	thumb = ck_jose_jwk_thumbprint(pub, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(thumb, ==, expect);
	gnutls_free(x.data);
	gnutls_free(y.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
}

static void
test_jose_unsupported_curve(void)
{
	gnutls_privkey_t key =
	    ck_test_generate(GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP384R1));
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = ck_jose_jws_sign(key, NULL, "n", "https://ca/x", NULL, &error);

	g_assert_null(text);
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "P-256"));
	gnutls_privkey_deinit(key);
}

static void
test_jose_eab(void)
{
	gnutls_privkey_t key =
	    ck_test_generate(GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1));
	gnutls_pubkey_t pub = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) mac_key = ck_jose_base64url_decode(
	    "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W", &error);
	g_autoptr(JsonNode) eab = NULL;
	g_autoptr(JsonObject) header = NULL;
	g_autofree gchar *payload = NULL;
	g_autofree gchar *jwk = NULL;
	g_autofree gchar *input = NULL;
	g_autofree gchar *expect = NULL;
	g_autoptr(GBytes) empty = g_bytes_new(NULL, 0);
	JsonObject *obj;
	guint8 mac[32];

	g_assert_no_error(error);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	eab = ck_jose_eab_new("kid-1", mac_key, pub, "https://ca/new-acct", &error);
	g_assert_no_error(error);
	obj = json_node_get_object(eab);
	header = ck_test_protected(obj);
	g_assert_cmpstr(json_object_get_string_member(header, "alg"), ==, "HS256");
	g_assert_cmpstr(json_object_get_string_member(header, "kid"), ==, "kid-1");
	g_assert_cmpstr(json_object_get_string_member(header, "url"), ==, "https://ca/new-acct");
	/* RFC 8555 §7.3.4: no nonce inside the binding */
	g_assert_false(json_object_has_member(header, "nonce"));
	payload = ck_test_payload(obj);
	jwk = ck_jose_jwk_json(pub, &error);
	g_assert_cmpstr(payload, ==, jwk);
	/* the MAC, computed here */
	input = g_strconcat(json_object_get_string_member(obj, "protected"), ".",
			    json_object_get_string_member(obj, "payload"), NULL);
	g_assert_cmpint(gnutls_hmac_fast(GNUTLS_MAC_SHA256, g_bytes_get_data(mac_key, NULL),
					 g_bytes_get_size(mac_key), input, strlen(input), mac),
			==, 0);
	expect = ck_jose_base64url_encode(mac, sizeof(mac));
	g_assert_cmpstr(json_object_get_string_member(obj, "signature"), ==, expect);
	/* an empty MAC key is refused */
	g_assert_null(ck_jose_eab_new("kid-1", empty, pub, "https://ca/new-acct", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/jose/base64url", test_jose_base64url);
	g_test_add_func("/certkeeper/jose/rfc7638-thumbprint", test_jose_rfc7638_thumbprint);
	g_test_add_func("/certkeeper/jose/ec-thumbprint", test_jose_ec_thumbprint);
	g_test_add_func("/certkeeper/jose/es256-jwk", test_jose_es256_jwk);
	g_test_add_func("/certkeeper/jose/kid-post-as-get", test_jose_kid_and_post_as_get);
	g_test_add_func("/certkeeper/jose/rs256", test_jose_rs256);
	g_test_add_func("/certkeeper/jose/unsupported-curve", test_jose_unsupported_curve);
	g_test_add_func("/certkeeper/jose/eab", test_jose_eab);
	return g_test_run();
}
