/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Attestation proofs: the signed message, signing, verifying, and what is refused. */
#include "config.h"

#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-csr.h"
#include "ck-error.h"
#include "ck-key-provider-file.h"
#include "ck-proof.h"
#include "ck-test-util.h"

static CkKey *
ck_test_key(CkKeyType type)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;
	CkKey *key = ck_key_provider_generate(provider, type, &error);
	g_assert_no_error(error);
	return key;
}

static gchar *
ck_test_csr(CkKey *key, const gchar *subject)
{
	g_autoptr(GError) error = NULL;
	CkCsrParams params = {.subject = subject};
	gchar *pem = ck_csr_build(&params, ck_key_get_privkey(key), &error);
	g_assert_no_error(error);
	return pem;
}

/* The documented construction, computed here on its own. */
static void
test_proof_message(void)
{
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *csr = ck_test_csr(key, "CN=device.example");
	g_autoptr(GBytes) message = NULL;
	g_autoptr(GError) error = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t pem = {(unsigned char *)csr, (unsigned int)strlen(csr)};
	gnutls_datum_t der = {NULL, 0};
	guint8 digest[32];
	g_autoptr(GByteArray) want = g_byte_array_new();
	gsize size = 0;
	const guint8 *data;

	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &pem, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der), ==, 0);
	gnutls_x509_crq_deinit(crq);
	gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest);
	gnutls_free(der.data);
	g_byte_array_append(want, (const guint8 *)"certkeeper-proof-v1\nNONCE\n", 26);
	g_byte_array_append(want, digest, sizeof(digest));

	message = ck_proof_message("NONCE", csr, &error);
	g_assert_no_error(error);
	data = g_bytes_get_data(message, &size);
	g_assert_cmpmem(data, size, want->data, want->len);

	/* no nonce, or no CSR, is no message */
	g_assert_null(ck_proof_message("", csr, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_null(ck_proof_message("NONCE", "garbage", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
ck_test_roundtrip(CkKeyType type, const gchar *algorithm)
{
	g_autoptr(CkKey) device = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autoptr(CkKey) proof_key = ck_test_key(type);
	g_autoptr(CkKey) other = ck_test_key(type);
	g_autofree gchar *csr = ck_test_csr(device, "CN=device.example");
	g_autofree gchar *csr2 = ck_test_csr(device, "CN=other.example");
	g_autofree gchar *public_key = NULL, *other_public = NULL;
	g_autofree gchar *alg = NULL, *signature = NULL;
	g_autoptr(GError) error = NULL;

	public_key = ck_proof_public_key(proof_key, &error);
	g_assert_no_error(error);
	other_public = ck_proof_public_key(other, &error);
	g_assert_no_error(error);
	g_assert_true(ck_proof_sign(proof_key, "n0nce", csr, &alg, &signature,
				    &error));
	g_assert_no_error(error);
	g_assert_cmpstr(alg, ==, algorithm);
	g_assert_true(ck_proof_verify(public_key, "n0nce", csr, alg, signature, &error));
	g_assert_no_error(error);

	/* another nonce, another CSR, another key: refused */
	g_assert_false(ck_proof_verify(public_key, "n0nce2", csr, alg, signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_REJECTED);
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(public_key, "n0nce", csr2, alg, signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_REJECTED);
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(other_public, "n0nce", csr, alg, signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_REJECTED);
	g_clear_error(&error);
}

static void
test_proof_roundtrip_ec(void)
{
	ck_test_roundtrip(CK_KEY_TYPE_EC_P256, "ECDSA-SHA256");
}

static void
test_proof_roundtrip_ec_p384(void)
{
	ck_test_roundtrip(CK_KEY_TYPE_EC_P384, "ECDSA-SHA384");
}

static void
test_proof_roundtrip_ec_p521(void)
{
	ck_test_roundtrip(CK_KEY_TYPE_EC_P521, "ECDSA-SHA512");
}

/* A P-384 proof key's signature with a weaker hash than its curve calls for is refused. */
static void
test_proof_weaker_hash(void)
{
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P384);
	g_autofree gchar *csr = ck_test_csr(key, "CN=device.example");
	g_autofree gchar *public_key = ck_proof_public_key(key, NULL);
	g_autoptr(GBytes) message = ck_proof_message("nonce", csr, NULL);
	gnutls_datum_t data = {(unsigned char *)g_bytes_get_data(message, NULL),
			       (unsigned int)g_bytes_get_size(message)};
	gnutls_datum_t sig = {NULL, 0};
	g_autofree gchar *signature = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(gnutls_privkey_sign_data2(ck_key_get_privkey(key), GNUTLS_SIGN_ECDSA_SHA256,
						  0, &data, &sig),
			==, 0);
	signature = g_base64_encode(sig.data, sig.size);
	gnutls_free(sig.data);
	g_assert_false(
	    ck_proof_verify(public_key, "nonce", csr, "ECDSA-SHA256", signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "ECDSA-SHA256"));
}

static void
test_proof_roundtrip_rsa(void)
{
	ck_test_roundtrip(CK_KEY_TYPE_RSA_2048, "RSA-SHA256");
}

static void
test_proof_roundtrip_ed25519(void)
{
	ck_test_roundtrip(CK_KEY_TYPE_ED25519, "EdDSA-Ed25519");
}

/* Malformed parts are named; an algorithm the key does not call for is refused. */
static void
test_proof_malformed(void)
{
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *csr = ck_test_csr(key, "CN=device.example");
	g_autofree gchar *public_key = ck_proof_public_key(key, NULL);
	g_autofree gchar *alg = NULL, *signature = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(
	    ck_proof_sign(key, "nonce", csr, &alg, &signature, &error));
	g_assert_false(ck_proof_verify(public_key, "nonce", csr, "RSA-SHA256", signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "RSA-SHA256"));
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(public_key, "nonce", csr, "no-such", signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(public_key, "nonce", csr, NULL, signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(public_key, "nonce", csr, alg, "not base64!", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "signature"));
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(public_key, "nonce", csr, alg, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(ck_proof_verify("bm90IGEga2V5", "nonce", csr, alg, signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "registered proof key"));
	g_clear_error(&error);
	g_assert_false(ck_proof_verify(NULL, "nonce", csr, alg, signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
test_proof_nonce(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < 64; i++) {
		g_autoptr(GError) error = NULL;
		gchar *nonce = ck_proof_new_nonce(&error);
		g_assert_no_error(error);
		/* 32 bytes, base64url without padding: safe in a header and an environment */
		g_assert_cmpuint(strlen(nonce), ==, 43);
		g_assert_cmpuint(strspn(nonce, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
					       "0123456789-_"),
				 ==, 43);
		g_assert_false(g_hash_table_contains(seen, nonce));
		g_hash_table_add(seen, nonce);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/proof/message", test_proof_message);
	g_test_add_func("/certkeeper/proof/roundtrip/ec", test_proof_roundtrip_ec);
	g_test_add_func("/certkeeper/proof/roundtrip/ec-p384", test_proof_roundtrip_ec_p384);
	g_test_add_func("/certkeeper/proof/roundtrip/ec-p521", test_proof_roundtrip_ec_p521);
	g_test_add_func("/certkeeper/proof/weaker-hash", test_proof_weaker_hash);
	g_test_add_func("/certkeeper/proof/roundtrip/rsa", test_proof_roundtrip_rsa);
	g_test_add_func("/certkeeper/proof/roundtrip/ed25519", test_proof_roundtrip_ed25519);
	g_test_add_func("/certkeeper/proof/malformed", test_proof_malformed);
	g_test_add_func("/certkeeper/proof/nonce", test_proof_nonce);
	return g_test_run();
}
