/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ESYS layer under the TPM key provider, against a fresh swtpm per test:
 * connections and their errors, keys made and used directly, raw signatures
 * checked in software, authorization value files.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <unistd.h>
#include <string.h>

#include "ck-error.h"
#include "ck-test-util.h"
#include "ck-tpm.h"

typedef struct {
	gchar *dir;
	CkTestSwtpm *swtpm;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	f->dir = ck_test_make_tmpdir();
	if (data != NULL)
		f->swtpm = ck_test_swtpm_new(f->dir);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_clear_pointer(&f->swtpm, ck_test_swtpm_free);
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
}

/* A digest signed in the TPM verifies in software with the key's public key. */
static void
check_sign(CkTpm *tpm, const CkTss2Key *key, gboolean pss)
{
	const gchar *text = "signed inside the TPM";
	gnutls_datum_t data = {(unsigned char *)text, (unsigned int)strlen(text)};
	guint8 digest[32];
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) sig = NULL;
	gnutls_pubkey_t pub = ck_tss2_key_get_pubkey(key, &error);
	gnutls_datum_t sig_datum;
	gnutls_sign_algorithm_t algo;

	g_assert_no_error(error);
	g_assert_cmpint(gnutls_hash_fast(GNUTLS_DIG_SHA256, text, strlen(text), digest), ==, 0);
	sig = ck_tpm_sign(tpm, key, NULL, GNUTLS_DIG_SHA256, pss, digest, sizeof(digest), &error);
	g_assert_no_error(error);
	sig_datum.data = (unsigned char *)g_bytes_get_data(sig, NULL);
	sig_datum.size = (unsigned int)g_bytes_get_size(sig);
	algo = key->public_area.publicArea.type == TPM2_ALG_ECC ? GNUTLS_SIGN_ECDSA_SHA256
	       : pss                                            ? GNUTLS_SIGN_RSA_PSS_RSAE_SHA256
								: GNUTLS_SIGN_RSA_SHA256;
	g_assert_cmpint(gnutls_pubkey_verify_data2(pub, algo, 0, &data, &sig_datum), ==, 0);
	gnutls_pubkey_deinit(pub);
}

static void
test_create_and_sign(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkTpm) tpm = NULL;
	g_autoptr(CkTss2Key) ec = NULL, rsa = NULL;
	guint bits = 0;
	guint8 digest[20] = {0};

	if (f->swtpm == NULL)
		return;
	tpm = ck_tpm_open(f->swtpm->tcti, &error);
	g_assert_no_error(error);
	ec = ck_tpm_create_key(tpm, GNUTLS_PK_ECDSA, 256, NULL, &error);
	g_assert_no_error(error);
	g_assert_true(ec->empty_auth);
	g_assert_cmpuint(ec->parent, ==, CK_TSS2_KEY_PARENT_OWNER);
	g_assert_cmpint(ck_tss2_key_get_algorithm(ec, &bits), ==, GNUTLS_PK_ECDSA);
	g_assert_cmpuint(bits, ==, 256);
	/* no secret, so outside the dictionary-attack counter */
	g_assert_true(ec->public_area.publicArea.objectAttributes & TPMA_OBJECT_NODA);
	check_sign(tpm, ec, FALSE);
	rsa = ck_tpm_create_key(tpm, GNUTLS_PK_RSA, 2048, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(ck_tss2_key_get_algorithm(rsa, &bits), ==, GNUTLS_PK_RSA);
	g_assert_cmpuint(bits, ==, 2048);
	check_sign(tpm, rsa, FALSE);
	check_sign(tpm, rsa, TRUE);

	/* a digest that does not fit the hash, and key types the TPM provider does not make */
	g_assert_null(
	    ck_tpm_sign(tpm, ec, NULL, GNUTLS_DIG_SHA256, FALSE, digest, sizeof(digest), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_clear_error(&error);
	g_assert_null(ck_tpm_create_key(tpm, GNUTLS_PK_RSA, 4096, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "ECC P-256 and RSA 2048"));
}

/* A key with an authorization value is DA-protected and signs only with the value. */
static void
test_auth_value(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) auth = g_bytes_new_static("pin", 3);
	g_autoptr(GBytes) wrong = g_bytes_new_static("nip", 3);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkTpm) tpm = NULL;
	g_autoptr(CkTss2Key) key = NULL;
	g_autoptr(GBytes) sig = NULL;
	guint8 digest[32] = {1};

	if (f->swtpm == NULL)
		return;
	tpm = ck_tpm_open(f->swtpm->tcti, &error);
	g_assert_no_error(error);
	key = ck_tpm_create_key(tpm, GNUTLS_PK_ECDSA, 256, auth, &error);
	g_assert_no_error(error);
	g_assert_false(key->empty_auth);
	g_assert_false(key->public_area.publicArea.objectAttributes & TPMA_OBJECT_NODA);
	sig = ck_tpm_sign(tpm, key, auth, GNUTLS_DIG_SHA256, FALSE, digest, sizeof(digest), &error);
	g_assert_no_error(error);
	g_assert_nonnull(sig);
	g_assert_null(
	    ck_tpm_sign(tpm, key, wrong, GNUTLS_DIG_SHA256, FALSE, digest, sizeof(digest), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "TPM signature failed"));
}

/* A key blob from one TPM means nothing to another. */
static void
test_other_tpm(Fixture *f, gconstpointer data)
{
	g_autofree gchar *other_dir = NULL;
	g_autoptr(CkTestSwtpm) other = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkTss2Key) key = NULL;
	guint8 digest[32] = {2};

	if (f->swtpm == NULL)
		return;
	{
		g_autoptr(CkTpm) tpm = ck_tpm_open(f->swtpm->tcti, &error);
		g_assert_no_error(error);
		key = ck_tpm_create_key(tpm, GNUTLS_PK_ECDSA, 256, NULL, &error);
		g_assert_no_error(error);
	}
	other_dir = g_build_filename(f->dir, "other", NULL);
	other = ck_test_swtpm_new(other_dir);
	{
		g_autoptr(CkTpm) tpm = ck_tpm_open(other->tcti, &error);
		g_assert_no_error(error);
		g_assert_null(ck_tpm_sign(tpm, key, NULL, GNUTLS_DIG_SHA256, FALSE, digest,
					  sizeof(digest), &error));
	}
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "another TPM"));
	g_assert_nonnull(strstr(error->message, "TPM key load failed"));
}

static void
test_open_errors(Fixture *f, gconstpointer data)
{
	g_autofree gchar *socket = g_build_filename(f->dir, "none.sock", NULL);
	g_autofree gchar *tcti = g_strdup_printf("swtpm:path=%s", socket);
	g_autoptr(GError) error = NULL;

	g_assert_null(ck_tpm_open(tcti, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, tcti));
	g_clear_error(&error);
	g_assert_null(ck_tpm_open("nonsense", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "no TCTI called 'nonsense'"));
	g_clear_error(&error);
	g_assert_null(ck_tpm_open(":path=/x", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	/* a connection that failed holds no lock: the next one is not blocked */
	g_assert_null(ck_tpm_open(tcti, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
}

static void
test_auth_file(Fixture *f, gconstpointer data)
{
	g_autofree gchar *path = ck_test_write_file(f->dir, "k.pem.auth", "secret\n");
	g_autofree gchar *no_newline = ck_test_write_file(f->dir, "b.auth", "two\nlines");
	g_autofree gchar *long_text = g_strnfill(CK_TPM_MAX_AUTH + 1, 'x');
	g_autofree gchar *too_long = ck_test_write_file(f->dir, "long.auth", long_text);
	g_autofree gchar *missing = g_build_filename(f->dir, "missing.auth", NULL);
	g_autofree gchar *derived = ck_tpm_auth_path_for("/etc/k.pem");
	g_autofree gchar *link_path = g_build_filename(f->dir, "link.auth", NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) value = NULL;
	g_autoptr(GBytes) value2 = NULL;

	/* as a secret should be: only its owner reads it */
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
	g_assert_cmpint(g_chmod(no_newline, 0600), ==, 0);
	g_assert_cmpint(g_chmod(too_long, 0600), ==, 0);
	value = ck_tpm_read_auth_file(path, TRUE, &error);

	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value), "secret", 6);
	value2 = ck_tpm_read_auth_file(no_newline, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(value2, NULL), g_bytes_get_size(value2), "two\nlines", 9);
	g_assert_null(ck_tpm_read_auth_file(too_long, TRUE, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "long.auth"));
	g_clear_error(&error);
	g_assert_null(ck_tpm_read_auth_file(missing, TRUE, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, "missing.auth"));
	g_clear_error(&error);
	/* an optional file that is not there is no error */
	g_assert_null(ck_tpm_read_auth_file(missing, FALSE, &error));
	g_assert_no_error(error);
	/* open to others, or a symbolic link: refused */
	g_assert_cmpint(g_chmod(path, 0640), ==, 0);
	g_assert_null(ck_tpm_read_auth_file(path, TRUE, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "chmod 600"));
	g_clear_error(&error);
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
	g_assert_cmpint(symlink(path, link_path), ==, 0);
	g_assert_null(ck_tpm_read_auth_file(link_path, FALSE, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_cmpstr(derived, ==, "/etc/k.pem.auth");
}

#define ADD(path, fn, tpm)                                                                         \
	g_test_add("/certkeeper/tpm/" path, Fixture, tpm, fixture_setup, fn, fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("create-and-sign", test_create_and_sign, "swtpm");
	ADD("auth-value", test_auth_value, "swtpm");
	ADD("other-tpm", test_other_tpm, "swtpm");
	ADD("open-errors", test_open_errors, NULL);
	ADD("auth-file", test_auth_file, NULL);
	return g_test_run();
}
