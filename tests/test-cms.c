/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CMS EnvelopedData (ck-cms): round trips, and interop with OpenSSL both ways. */
#define _GNU_SOURCE /* memmem */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "ck-cms.h"
#include "ck-error.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gnutls_x509_privkey_t x509_key;
	gnutls_privkey_t key;
	gnutls_x509_crt_t cert;
	gchar *key_path;
	gchar *cert_path;
} Fixture;

/* An RSA key and a self-signed certificate for it, with a subject key identifier. */
static void
make_identity(const gchar *cn, gnutls_x509_privkey_t *x509_key_out, gnutls_privkey_t *key_out,
	      gnutls_x509_crt_t *cert_out)
{
	gnutls_x509_privkey_t x509_key;
	gnutls_privkey_t key;
	gnutls_x509_crt_t cert;
	g_autofree gchar *dn = g_strdup_printf("CN=%s", cn);
	guint8 serial[9] = {0x00, 0x81, 2, 3, 4, 5, 6, 7, 8}; /* top bit set: a leading zero */
	guint8 key_id[64];
	size_t key_id_len = sizeof(key_id);
	time_t now = time(NULL);

	g_assert_cmpint(gnutls_x509_privkey_init(&x509_key), ==, 0);
	g_assert_cmpint(gnutls_x509_privkey_generate(x509_key, GNUTLS_PK_RSA, 2048, 0), ==, 0);
	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_privkey_import_x509(key, x509_key, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&cert), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(cert, 3), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(cert, serial, sizeof(serial)), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(cert, now - 60), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(cert, now + 3600), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_dn(cert, dn, NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_issuer_dn(cert, dn, NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_key(cert, x509_key), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_get_key_id(cert, 0, key_id, &key_id_len), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_subject_key_id(cert, key_id, key_id_len), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_key_usage(cert, GNUTLS_KEY_KEY_ENCIPHERMENT |
								GNUTLS_KEY_DIGITAL_SIGNATURE),
			==, 0);
	g_assert_cmpint(gnutls_x509_crt_privkey_sign(cert, cert, key, GNUTLS_DIG_SHA256, 0), ==, 0);
	*x509_key_out = x509_key;
	*key_out = key;
	*cert_out = cert;
}

static gchar *
write_datum(const gchar *dir, const gchar *name, const gnutls_datum_t *datum)
{
	gchar *path = g_build_filename(dir, name, NULL);
	g_assert_true(g_file_set_contents(path, (const gchar *)datum->data, datum->size, NULL));
	return path;
}

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	gnutls_datum_t pem = {NULL, 0};

	f->dir = ck_test_make_tmpdir();
	make_identity("cms test", &f->x509_key, &f->key, &f->cert);
	g_assert_cmpint(gnutls_x509_privkey_export2(f->x509_key, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
	f->key_path = write_datum(f->dir, "key.pem", &pem);
	gnutls_free(pem.data);
	g_assert_cmpint(gnutls_x509_crt_export2(f->cert, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
	f->cert_path = write_datum(f->dir, "cert.pem", &pem);
	gnutls_free(pem.data);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	gnutls_x509_crt_deinit(f->cert);
	gnutls_privkey_deinit(f->key);
	gnutls_x509_privkey_deinit(f->x509_key);
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->key_path);
	g_free(f->cert_path);
}

/* Content of every awkward length: empty, one byte, a whole block, more. */
static GBytes *
make_content(gsize len)
{
	guint8 *data = g_malloc(len + 1);
	for (gsize i = 0; i < len; i++)
		data[i] = (guint8)(i * 7 + 3);
	return g_bytes_new_take(data, len);
}

static void
test_cms_round_trip(Fixture *f, gconstpointer user_data)
{
	const gsize lengths[] = {0, 1, 15, 16, 17, 1000};
	const CkCmsCipher ciphers[] = {CK_CMS_CIPHER_AES_256_CBC, CK_CMS_CIPHER_AES_128_CBC,
				       CK_CMS_CIPHER_DES3_CBC};

	for (guint c = 0; c < G_N_ELEMENTS(ciphers); c++) {
		for (guint l = 0; l < G_N_ELEMENTS(lengths); l++) {
			g_autoptr(GBytes) content = make_content(lengths[l]);
			g_autoptr(GError) error = NULL;
			g_autoptr(GBytes) env =
			    ck_cms_envelope(content, f->cert, ciphers[c], &error);
			g_autoptr(GBytes) opened = NULL;
			g_autoptr(GBytes) opened_any = NULL;

			g_assert_no_error(error);
			g_assert_nonnull(env);
			/* the plain text does not appear in the envelope */
			if (lengths[l] >= 16)
				g_assert_null(memmem(g_bytes_get_data(env, NULL),
						     g_bytes_get_size(env),
						     g_bytes_get_data(content, NULL), 16));
			opened = ck_cms_open(env, f->cert, f->key, &error);
			g_assert_no_error(error);
			g_assert_true(g_bytes_equal(opened, content));
			/* without a certificate, every recipient entry is tried */
			opened_any = ck_cms_open(env, NULL, f->key, &error);
			g_assert_no_error(error);
			g_assert_true(g_bytes_equal(opened_any, content));
		}
	}
	g_assert_cmpstr(ck_cms_cipher_to_string(CK_CMS_CIPHER_AES_128_CBC), ==, "AES-128-CBC");
}

static void
test_cms_wrong_key(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GBytes) content = make_content(100);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) env =
	    ck_cms_envelope(content, f->cert, CK_CMS_CIPHER_AES_128_CBC, &error);
	g_autoptr(GBytes) opened = NULL;
	gnutls_x509_privkey_t other_x509;
	gnutls_privkey_t other_key;
	gnutls_x509_crt_t other_cert;

	g_assert_no_error(error);
	make_identity("someone else", &other_x509, &other_key, &other_cert);
	opened = ck_cms_open(env, other_cert, other_key, &error);
	g_assert_null(opened);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "encrypted for someone else"));
	gnutls_x509_crt_deinit(other_cert);
	gnutls_privkey_deinit(other_key);
	gnutls_x509_privkey_deinit(other_x509);
}

static void
test_cms_malformed(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GBytes) content = make_content(40);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) env =
	    ck_cms_envelope(content, f->cert, CK_CMS_CIPHER_AES_256_CBC, &error);
	g_autoptr(GBytes) truncated = NULL;
	g_autoptr(GBytes) garbage = g_bytes_new_static("hello, world", 12);
	g_autoptr(GBytes) opened = NULL;
	/* a ContentInfo of type id-data: valid DER, but no envelope */
	static const guint8 data_info[] = {0x30, 0x13, 0x06, 0x09, 0x2a, 0x86, 0x48,
					   0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0,
					   0x06, 0x04, 0x04, 'a',  'b',  'c',  'd'};
	g_autoptr(GBytes) data_bytes = g_bytes_new_static(data_info, sizeof(data_info));

	g_assert_no_error(error);
	truncated = g_bytes_new_from_bytes(env, 0, g_bytes_get_size(env) - 10);
	opened = ck_cms_open(truncated, f->cert, f->key, &error);
	g_assert_null(opened);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "not valid DER"));
	g_clear_error(&error);

	opened = ck_cms_open(garbage, f->cert, f->key, &error);
	g_assert_null(opened);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_clear_error(&error);

	opened = ck_cms_open(data_bytes, f->cert, f->key, &error);
	g_assert_null(opened);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "not EnvelopedData"));
}

/* openssl cms -encrypt output opens with our code, for each cipher and recipient form. */
static void
test_cms_from_openssl(Fixture *f, gconstpointer user_data)
{
	struct {
		const gchar *cipher;
		const gchar *extra; /* NULL or one more option */
	} cases[] = {
	    {"-aes256", NULL},
	    {"-aes128", NULL},
	    {"-aes192", NULL},
	    {"-des3", NULL},
	    /* the recipient named by subject key identifier */
	    {"-aes256", "-keyid"},
	    /* BER, indefinite lengths, the content in chunks */
	    {"-aes128", "-stream"},
	};
	g_autoptr(GBytes) content = make_content(3000);
	g_autofree gchar *plain_path = g_build_filename(f->dir, "plain.bin", NULL);
	g_autofree gchar *env_path = g_build_filename(f->dir, "env.der", NULL);

	if (!ck_test_have_program("openssl")) {
		g_test_skip("openssl is not installed");
		return;
	}
	g_assert_true(g_file_set_contents(plain_path, g_bytes_get_data(content, NULL),
					  g_bytes_get_size(content), NULL));
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *argv[] = {"openssl",       "cms",          "-encrypt", "-binary",
				       cases[i].cipher, "-in",          plain_path, "-outform",
				       "DER",           "-out",         env_path,   "-recip",
				       f->cert_path,    cases[i].extra, NULL};
		g_autofree gchar *err = NULL;
		g_autofree gchar *der = NULL;
		gsize len = 0;
		g_autoptr(GBytes) env = NULL;
		g_autoptr(GBytes) opened = NULL;
		g_autoptr(GError) error = NULL;

		g_test_message("openssl cms -encrypt %s %s", cases[i].cipher,
			       cases[i].extra != NULL ? cases[i].extra : "");
		g_assert_cmpint(ck_test_run(argv, NULL, &err), ==, 0);
		g_assert_true(g_file_get_contents(env_path, &der, &len, NULL));
		env = g_bytes_new_take(g_steal_pointer(&der), len);
		opened = ck_cms_open(env, f->cert, f->key, &error);
		g_assert_no_error(error);
		g_assert_true(g_bytes_equal(opened, content));
	}
}

/* Our envelopes open with openssl cms -decrypt. */
static void
test_cms_to_openssl(Fixture *f, gconstpointer user_data)
{
	const CkCmsCipher ciphers[] = {CK_CMS_CIPHER_AES_256_CBC, CK_CMS_CIPHER_AES_128_CBC,
				       CK_CMS_CIPHER_DES3_CBC};
	g_autoptr(GBytes) content = make_content(777);
	g_autofree gchar *env_path = g_build_filename(f->dir, "ours.der", NULL);
	g_autofree gchar *out_path = g_build_filename(f->dir, "out.bin", NULL);

	if (!ck_test_have_program("openssl")) {
		g_test_skip("openssl is not installed");
		return;
	}
	for (guint i = 0; i < G_N_ELEMENTS(ciphers); i++) {
		const gchar *argv[] = {"openssl", "cms",        "-decrypt", "-binary", "-inform",
				       "DER",     "-in",        env_path,   "-inkey",  f->key_path,
				       "-recip",  f->cert_path, "-out",     out_path,  NULL};
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) env = ck_cms_envelope(content, f->cert, ciphers[i], &error);
		g_autofree gchar *err = NULL;
		g_autofree gchar *out = NULL;
		gsize len = 0;

		g_assert_no_error(error);
		g_assert_true(g_file_set_contents(env_path, g_bytes_get_data(env, NULL),
						  g_bytes_get_size(env), NULL));
		g_unlink(out_path);
		if (ck_test_run(argv, NULL, &err) != 0)
			g_error("openssl cannot open our %s envelope: %s",
				ck_cms_cipher_to_string(ciphers[i]), err);
		g_assert_true(g_file_get_contents(out_path, &out, &len, NULL));
		g_assert_cmpuint(len, ==, g_bytes_get_size(content));
		g_assert_cmpmem(out, len, g_bytes_get_data(content, NULL), len);
	}
}

/* Reads a DER file written by openssl. */
static GBytes *
read_bytes(const gchar *path)
{
	gchar *data = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &data, &len, NULL));
	return g_bytes_new_take(data, len);
}

/* SignedData verification, empty content (SCEP's FAILURE and PENDING) included. */
static void
test_cms_verify(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *empty = g_build_filename(f->dir, "empty", NULL);
	g_autofree gchar *full = g_build_filename(f->dir, "full", NULL);
	g_autofree gchar *signed_path = g_build_filename(f->dir, "signed.der", NULL);
	gnutls_x509_privkey_t other_x509;
	gnutls_privkey_t other_key;
	gnutls_x509_crt_t other_cert;
	const gchar *inputs[] = {empty, full};

	if (!ck_test_have_program("openssl")) {
		g_test_skip("openssl is not installed");
		return;
	}
	g_assert_true(g_file_set_contents(empty, "", 0, NULL));
	g_assert_true(g_file_set_contents(full, "signed content", -1, NULL));
	make_identity("not the signer", &other_x509, &other_key, &other_cert);
	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
		const gchar *argv[] = {
		    "openssl",   "cms",      "-sign",   "-nodetach", "-binary",    "-md",
		    "sha256",    "-in",      inputs[i], "-signer",   f->cert_path, "-inkey",
		    f->key_path, "-outform", "DER",     "-out",      signed_path,  NULL};
		g_autoptr(GBytes) der = NULL;
		g_autoptr(GBytes) content = NULL;
		g_autoptr(GBytes) tampered = NULL;
		g_autoptr(GError) error = NULL;
		g_autofree gchar *expected = NULL;
		gsize expected_len = 0;
		guint8 *bytes;
		gsize len;
		const guint8 *hit;

		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
		der = read_bytes(signed_path);
		content = ck_cms_verify(der, f->cert, 0, &error);
		g_assert_no_error(error);
		g_assert_true(g_file_get_contents(inputs[i], &expected, &expected_len, NULL));
		g_assert_cmpmem(g_bytes_get_data(content, NULL), g_bytes_get_size(content),
				expected, expected_len);
		g_clear_pointer(&content, g_bytes_unref);

		/* another certificate did not sign it */
		content = ck_cms_verify(der, other_cert, 0, &error);
		g_assert_null(content);
		g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
		g_assert_nonnull(strstr(error->message, "does not verify"));
		g_clear_error(&error);

		/* a changed content no longer matches its messageDigest */
		if (expected_len == 0)
			continue;
		bytes = g_bytes_unref_to_data(g_bytes_ref(der), &len);
		hit = memmem(bytes, len, "signed content", 14);
		g_assert_nonnull(hit);
		bytes[hit - bytes] = 'S';
		tampered = g_bytes_new_take(bytes, len);
		content = ck_cms_verify(tampered, f->cert, 0, &error);
		g_assert_null(content);
		g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
		g_assert_nonnull(strstr(error->message, "messageDigest"));
	}
	/* not a SignedData */
	{
		g_autoptr(GBytes) content_bytes = make_content(20);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) env =
		    ck_cms_envelope(content_bytes, f->cert, CK_CMS_CIPHER_AES_128_CBC, &error);
		g_autoptr(GBytes) none = ck_cms_verify(env, f->cert, 0, &error);
		g_assert_null(none);
		g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
		g_assert_nonnull(strstr(error->message, "not SignedData"));
	}
	gnutls_x509_crt_deinit(other_cert);
	gnutls_privkey_deinit(other_key);
	gnutls_x509_privkey_deinit(other_x509);
}

static void
test_cms_issuer_and_subject(void)
{
	/* two tiny Names (SEQUENCE { SET { SEQUENCE { cn, "a" } } }) */
	static guint8 issuer[] = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06,
				  0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, 'a'};
	static guint8 subject[] = {0x30, 0x0c, 0x31, 0x0a, 0x30, 0x08, 0x06,
				   0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, 'b'};
	gnutls_datum_t i = {issuer, sizeof(issuer)}, s = {subject, sizeof(subject)};
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = ck_cms_encode_issuer_and_subject(&i, &s, &error);
	const guint8 *data;

	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(der), ==, 2 + sizeof(issuer) + sizeof(subject));
	data = g_bytes_get_data(der, NULL);
	g_assert_cmpint(data[0], ==, 0x30);
	g_assert_cmpint(data[1], ==, sizeof(issuer) + sizeof(subject));
	g_assert_cmpmem(data + 2, sizeof(issuer), issuer, sizeof(issuer));
	g_assert_cmpmem(data + 2 + sizeof(issuer), sizeof(subject), subject, sizeof(subject));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/certkeeper/cms/round-trip", test_cms_round_trip);
	ADD("/certkeeper/cms/wrong-key", test_cms_wrong_key);
	ADD("/certkeeper/cms/malformed", test_cms_malformed);
	ADD("/certkeeper/cms/from-openssl", test_cms_from_openssl);
	ADD("/certkeeper/cms/to-openssl", test_cms_to_openssl);
	ADD("/certkeeper/cms/verify", test_cms_verify);
#undef ADD
	g_test_add_func("/certkeeper/cms/issuer-and-subject", test_cms_issuer_and_subject);
	return g_test_run();
}
