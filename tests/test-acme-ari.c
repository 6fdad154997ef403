/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ACME Renewal Information (RFC 9773): the certificate identifier and the window's parser. */
#include "config.h"

#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-acme.h"
#include "ck-error.h"
#include "ck-jose.h"

/*
 * A self-signed certificate with the given serial (content octets) and, if
 * @key_id is not NULL, that authority key identifier; PEM.
 */
static gchar *
ck_test_make_cert(const guint8 *serial, gsize serial_len, const guint8 *key_id, gsize key_id_len)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = {NULL, 0};
	gchar *out;
	time_t now = time(NULL);

	g_assert_cmpint(gnutls_x509_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
						     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
						     0),
			==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, serial_len), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now - 60), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, now + 3600), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_dn(crt, "CN=ari.example", NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_issuer_dn(crt, "CN=ari.example", NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_key(crt, key), ==, 0);
	if (key_id != NULL)
		g_assert_cmpint(gnutls_x509_crt_set_authority_key_id(crt, key_id, key_id_len), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
	out = g_strndup((const gchar *)pem.data, pem.size);
	gnutls_free(pem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return out;
}

/* RFC 9773 §4.1's example: keyIdentifier 69:88:5B:6B:87:46:40:41:E1:B3:7B:84:7B:A0:AE:2C:
 * DE:01:C8:D4 and serial 0x87654321 give "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE" */
static void
test_ari_cert_id_rfc_example(void)
{
	g_autoptr(GBytes) key_id = ck_jose_base64url_decode("aYhba4dGQEHhs3uEe6CuLN4ByNQ", NULL);
	/* the serial's DER content octets: the high bit of 0x87 needs a leading zero */
	const guint8 serial[] = {0x00, 0x87, 0x65, 0x43, 0x21};
	const guint8 expected_key_id[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
					  0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
	g_autofree gchar *pem = NULL;
	g_autofree gchar *id = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	const guint8 *data;

	/* the decoded identifier is the RFC's hex, so the cert below is the RFC's case */
	g_assert_nonnull(key_id);
	data = g_bytes_get_data(key_id, &len);
	g_assert_cmpmem(data, len, expected_key_id, sizeof(expected_key_id));
	pem = ck_test_make_cert(serial, sizeof(serial), data, len);
	id = ck_acme_ari_cert_id(pem, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(id, ==, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE");
}

/* A serial without the high bit keeps no leading zero; a certificate without AKI has no ID. */
static void
test_ari_cert_id_other(void)
{
	const guint8 serial[] = {0x01, 0x02, 0x03};
	const guint8 key_id[] = {0xAA, 0xBB};
	g_autofree gchar *pem = ck_test_make_cert(serial, sizeof(serial), key_id, sizeof(key_id));
	g_autofree gchar *no_aki = ck_test_make_cert(serial, sizeof(serial), NULL, 0);
	g_autofree gchar *id = NULL;
	g_autoptr(GError) error = NULL;

	id = ck_acme_ari_cert_id(pem, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(id, ==, "qrs.AQID");

	g_assert_null(ck_acme_ari_cert_id(no_aki, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "authority key identifier"));
	g_clear_error(&error);
	g_assert_null(ck_acme_ari_cert_id("not a certificate", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(ck_acme_ari_cert_id(NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
test_ari_parse_window(void)
{
	/* RFC 9773 §4.2's example, with fractional seconds and an offset besides */
	const gchar *good =
	    "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\","
	    "\"end\":\"2025-01-03T04:00:00Z\"},\"explanationURL\":\"https://acme.example.com/docs/ari\"}";
	const gchar *offset = "{\"suggestedWindow\":{\"start\":\"2025-01-02T06:00:00.5+02:00\","
			      "\"end\":\"2025-01-02T04:00:10Z\"}}";
	CkAcmeRenewalWindow w = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(ck_acme_ari_parse(good, strlen(good), &w, &error));
	g_assert_no_error(error);
	g_assert_cmpint(w.start, ==, 1735790400);
	g_assert_cmpint(w.end, ==, 1735790400 + 86400);
	g_assert_cmpstr(w.explanation_url, ==, "https://acme.example.com/docs/ari");
	g_assert_true(ck_acme_ari_parse(offset, strlen(offset), &w, &error));
	g_assert_no_error(error);
	g_assert_cmpint(w.start, ==, 1735790400);
	g_assert_cmpint(w.end, ==, 1735790410);
	/* the explanation of the previous answer does not survive */
	g_assert_null(w.explanation_url);
	ck_acme_renewal_window_clear(&w);
}

static void
test_ari_parse_malformed(void)
{
	const gchar *bad[] = {
	    "",
	    "[]",
	    "not json",
	    "{}",
	    "{\"suggestedWindow\":\"soon\"}",
	    "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\"}}",
	    "{\"suggestedWindow\":{\"start\":\"2025-01-02\",\"end\":\"2025-01-03\"}}",
	    /* no zone: not RFC 3339 */
	    "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00\",\"end\":\"2025-01-03T04:00:00\"}}",
	    "{\"suggestedWindow\":{\"start\":1735790400,\"end\":1735876800}}",
	    /* the end before the start, and a window of no length */
	    "{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":\"2025-01-02T04:00:00Z\"}}",
	    "{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}",
	    NULL};

	for (guint i = 0; bad[i] != NULL; i++) {
		CkAcmeRenewalWindow w = {.start = 7, .end = 8};
		g_autoptr(GError) error = NULL;
		g_test_message("malformed: %s", bad[i]);
		g_assert_false(ck_acme_ari_parse(bad[i], strlen(bad[i]), &w, &error));
		/* a CA answering nonsense counts as one that does not answer (exit 3) */
		g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
		g_assert_true(strstr(error->message, "renewal") != NULL);
		/* and what was known stays */
		g_assert_cmpint(w.start, ==, 7);
		g_assert_cmpint(w.end, ==, 8);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/acme-ari/cert-id-rfc-example", test_ari_cert_id_rfc_example);
	g_test_add_func("/certkeeper/acme-ari/cert-id-other", test_ari_cert_id_other);
	g_test_add_func("/certkeeper/acme-ari/parse-window", test_ari_parse_window);
	g_test_add_func("/certkeeper/acme-ari/parse-malformed", test_ari_parse_malformed);
	return g_test_run();
}
