/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TCG TSS2 key file: our encoder and parser agree with each other and with
 * OpenSSL, and bad files fail with a clear error (OpenSSL tpm2 interop: test-key-provider-tpm).
 */
#include "config.h"

#include <gnutls/crypto.h>
#include <string.h>

#include "ck-error.h"
#include "ck-test-util.h"
#include "ck-tss2-key.h"

/* A key as a TPM would hand it out, without a TPM: random public point and blob. */
static CkTss2Key *
fake_ec_key(guint32 parent, gboolean empty_auth)
{
	CkTss2Key *key = g_new0(CkTss2Key, 1);
	TPMT_PUBLIC *area = &key->public_area.publicArea;
	gnutls_pubkey_t pub = NULL;
	gnutls_privkey_t priv = NULL;
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
	gnutls_ecc_curve_t curve;

	/* a real point: the public key must import */
	g_assert_cmpint(gnutls_privkey_init(&priv), ==, 0);
	g_assert_cmpint(gnutls_privkey_generate(priv, GNUTLS_PK_ECDSA,
						GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
						0),
			==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, priv, 0, 0), ==, 0);
	g_assert_cmpint(
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ), ==, 0);
	key->parent = parent;
	key->empty_auth = empty_auth;
	area->type = TPM2_ALG_ECC;
	area->nameAlg = TPM2_ALG_SHA256;
	area->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
				 TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				 TPMA_OBJECT_SENSITIVEDATAORIGIN;
	area->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	area->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	area->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
	area->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	g_assert_cmpuint(x.size, <=, sizeof(area->unique.ecc.x.buffer));
	memcpy(area->unique.ecc.x.buffer, x.data, x.size);
	area->unique.ecc.x.size = x.size;
	memcpy(area->unique.ecc.y.buffer, y.data, y.size);
	area->unique.ecc.y.size = y.size;
	key->private_blob.size = 126;
	g_assert_cmpint(gnutls_rnd(GNUTLS_RND_NONCE, key->private_blob.buffer, 126), ==, 0);
	gnutls_free(x.data);
	gnutls_free(y.data);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(priv);
	return key;
}

static void
check_round_trip(guint32 parent, gboolean empty_auth)
{
	g_autoptr(CkTss2Key) key = fake_ec_key(parent, empty_auth);
	g_autoptr(CkTss2Key) back = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = ck_tss2_key_to_pem(key, &error);
	g_autofree gchar *again = NULL;
	guint bits = 0;

	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN TSS2 PRIVATE KEY-----\n"));
	g_assert_true(ck_tss2_key_is_pem(pem, strlen(pem)));
	back = ck_tss2_key_parse(pem, strlen(pem), "round-trip.pem", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(back->parent, ==, parent);
	g_assert_cmpint(back->empty_auth, ==, empty_auth);
	g_assert_cmpmem(&back->public_area.publicArea, sizeof(back->public_area.publicArea),
			&key->public_area.publicArea, sizeof(key->public_area.publicArea));
	g_assert_cmpmem(back->private_blob.buffer, back->private_blob.size,
			key->private_blob.buffer, key->private_blob.size);
	g_assert_cmpint(ck_tss2_key_get_algorithm(back, &bits), ==, GNUTLS_PK_ECDSA);
	g_assert_cmpuint(bits, ==, 256);
	again = ck_tss2_key_to_pem(back, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(again, ==, pem);
}

static void
test_round_trip(void)
{
	check_round_trip(CK_TSS2_KEY_PARENT_OWNER, TRUE);
	check_round_trip(CK_TSS2_KEY_PARENT_OWNER, FALSE);
	/* a persistent parent has the top bit set: DER needs a leading zero byte */
	check_round_trip(0x81000001, TRUE);
}

/* OpenSSL's asn1parse reads what we write as the TCG structure. */
static void
test_openssl_reads_structure(void)
{
	g_autoptr(CkTss2Key) key = fake_ec_key(CK_TSS2_KEY_PARENT_OWNER, TRUE);
	g_autofree gchar *pem = ck_tss2_key_to_pem(key, NULL);
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autofree gchar *path = ck_test_write_file(dir, "k.pem", pem);
	g_autofree gchar *out = NULL, *err = NULL;
	const gchar *argv[] = {"openssl", "asn1parse", "-in", path, NULL};

	g_assert_cmpint(ck_test_run(argv, &out, &err), ==, 0);
	g_assert_nonnull(strstr(out, ":2.23.133.10.1.3"));
	g_assert_nonnull(strstr(out, "BOOLEAN           :255"));
	g_assert_nonnull(strstr(out, "INTEGER           :40000001"));
	ck_test_rm_rf(dir);
}

/* The public key comes from the public area alone. */
static void
test_pubkey(void)
{
	g_autoptr(CkTss2Key) key = fake_ec_key(CK_TSS2_KEY_PARENT_OWNER, TRUE);
	g_autoptr(GError) error = NULL;
	gnutls_pubkey_t pub = ck_tss2_key_get_pubkey(key, &error);
	gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
	gnutls_ecc_curve_t curve;

	g_assert_no_error(error);
	g_assert_cmpint(
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, &x, &y, GNUTLS_EXPORT_FLAG_NO_LZ), ==, 0);
	g_assert_cmpint(curve, ==, GNUTLS_ECC_CURVE_SECP256R1);
	g_assert_cmpmem(x.data, x.size, key->public_area.publicArea.unique.ecc.x.buffer,
			key->public_area.publicArea.unique.ecc.x.size);
	gnutls_free(x.data);
	gnutls_free(y.data);
	gnutls_pubkey_deinit(pub);
}

static void
assert_bad(const gchar *pem, gint code, const gchar *fragment)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkTss2Key) key = ck_tss2_key_parse(pem, strlen(pem), "/etc/bad.pem", &error);

	g_assert_null(key);
	g_assert_error(error, CK_ERROR, code);
	g_assert_nonnull(strstr(error->message, "/etc/bad.pem"));
	if (fragment != NULL && strstr(error->message, fragment) == NULL)
		g_error("'%s' does not say '%s'", error->message, fragment);
}

static void
test_bad_files(void)
{
	g_autoptr(CkTss2Key) key = fake_ec_key(CK_TSS2_KEY_PARENT_OWNER, TRUE);
	g_autofree gchar *pem = ck_tss2_key_to_pem(key, NULL);
	g_autofree gchar *importable = NULL, *truncated = NULL, *signing_off = NULL;
	gsize len = strlen(pem);

	assert_bad("hello", CK_ERROR_INVALID_ARGUMENT, "BEGIN TSS2 PRIVATE KEY");
	assert_bad("-----BEGIN TSS2 PRIVATE KEY-----\n!!!!\n-----END TSS2 PRIVATE KEY-----\n",
		   CK_ERROR_INVALID_ARGUMENT, "not a valid TSS2 key file");
	/* 2.23.133.10.1.4 is an importable key: not one we can load */
	importable = ck_test_pem_patch(pem, "TSS2 PRIVATE KEY", "\x67\x81\x05\x0a\x01\x03",
				       "\x67\x81\x05\x0a\x01\x04");
	assert_bad(importable, CK_ERROR_INVALID_ARGUMENT, "2.23.133.10.1.4");
	/* the base64 cut short in the middle */
	truncated = g_strconcat("-----BEGIN TSS2 PRIVATE KEY-----\n",
				pem + strlen("-----BEGIN TSS2 PRIVATE KEY-----\n") + 8, NULL);
	truncated[len / 2] = '\0';
	{
		g_autofree gchar *cut =
		    g_strconcat(truncated, "\n-----END TSS2 PRIVATE KEY-----\n", NULL);
		assert_bad(cut, CK_ERROR_INVALID_ARGUMENT, NULL);
	}
	/* a restricted key (a storage parent) signs nothing of ours */
	key->public_area.publicArea.objectAttributes |= TPMA_OBJECT_RESTRICTED;
	signing_off = ck_tss2_key_to_pem(key, NULL);
	assert_bad(signing_off, CK_ERROR_UNSUPPORTED, "signing key");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/tss2-key/round-trip", test_round_trip);
	g_test_add_func("/certkeeper/tss2-key/openssl-reads-structure",
			test_openssl_reads_structure);
	g_test_add_func("/certkeeper/tss2-key/pubkey", test_pubkey);
	g_test_add_func("/certkeeper/tss2-key/bad-files", test_bad_files);
	return g_test_run();
}
