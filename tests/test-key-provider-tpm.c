/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The TPM key provider against a fresh swtpm per test: generation of both key
 * types, the TSS2 stored form, loading, signatures and CSRs made in the TPM,
 * every transient object flushed, OpenSSL's tpm2 provider interop both ways,
 * authorization values, restarts, and the errors (no TPM, wrong TCTI, lockout).
 */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <string.h>

#include "ck-csr.h"
#include "ck-error.h"
#include "ck-key-provider-tpm.h"
#include "ck-proof.h"
#include "ck-test-util.h"
#include "ck-tpm.h"

typedef struct {
	gchar *dir;
	CkTestSwtpm *swtpm;
	CkKeyProvider *provider;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	f->dir = ck_test_make_tmpdir();
	f->swtpm = ck_test_swtpm_new(f->dir);
	if (f->swtpm != NULL)
		f->provider = ck_key_provider_tpm_new(f->swtpm->tcti);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	g_clear_object(&f->provider);
	g_clear_pointer(&f->swtpm, ck_test_swtpm_free);
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
}

/* Runs a TPM tool (tpm2-tools or openssl with the tpm2 provider) against the test's swtpm. */
static gint
run_with_tpm(Fixture *f, const gchar *const *argv, gchar **out, gchar **err)
{
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GError) error = NULL;
	gint status = -1;

	env = g_environ_setenv(env, "TPM2OPENSSL_TCTI", f->swtpm->tcti, TRUE);
	env = g_environ_setenv(env, "TPM2TOOLS_TCTI", f->swtpm->tcti, TRUE);
	env = g_environ_setenv(env, "TSS2_LOG", "all+none", TRUE);
	if (!g_spawn_sync(NULL, (gchar **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, out, err,
			  &status, &error)) {
		g_test_message("cannot run %s: %s", argv[0], error->message);
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* How many transient objects the TPM holds right now. */
static guint
transient_objects(Fixture *f)
{
	const gchar *argv[] = {"tpm2_getcap", "handles-transient", NULL};
	g_autofree gchar *out = NULL, *err = NULL;
	guint count = 0;

	g_assert_cmpint(run_with_tpm(f, argv, &out, &err), ==, 0);
	for (const gchar *p = out; (p = strstr(p, "0x80")) != NULL; p++)
		count++;
	return count;
}

static gboolean
have_tpm_tools(void)
{
	if (!ck_test_have_program("tpm2_getcap")) {
		g_test_skip("tpm2-tools is not installed");
		return FALSE;
	}
	return TRUE;
}

static gboolean
have_openssl_tpm2(Fixture *f)
{
	const gchar *argv[] = {"openssl", "list", "-providers", "-provider", "tpm2", NULL};
	g_autofree gchar *out = NULL, *err = NULL;

	if (run_with_tpm(f, argv, &out, &err) != 0) {
		g_test_skip(
		    "OpenSSL's tpm2 provider is not installed (apt-get install tpm2-openssl)");
		return FALSE;
	}
	return TRUE;
}

/* Signs @text with @key through GnuTLS (so through the TPM) and checks the signature
 * with the key's public key. */
static void
assert_signs(CkKey *key, gnutls_sign_algorithm_t algo)
{
	const gchar *text = "certkeeper signs in the TPM";
	gnutls_datum_t data = {(unsigned char *)text, (unsigned int)strlen(text)};
	gnutls_datum_t sig = {NULL, 0};

	g_assert_cmpint(gnutls_privkey_sign_data2(ck_key_get_privkey(key), algo, 0, &data, &sig),
			==, 0);
	g_assert_cmpint(gnutls_pubkey_verify_data2(ck_key_get_pubkey(key), algo, 0, &data, &sig),
			==, 0);
	gnutls_free(sig.data);
}

/* A CSR made with @key; asserts that `openssl req -verify` accepts it. */
static gchar *
assert_csr_verifies(Fixture *f, CkKey *key)
{
	const gchar *names[] = {"device.example.test", NULL};
	CkCsrParams params = {.subject = "CN=device.example.test", .dns_names = names};
	g_autoptr(GError) error = NULL;
	gchar *csr = ck_csr_build_with_pubkey(&params, ck_key_get_privkey(key),
					      ck_key_get_pubkey(key), &error);
	g_autofree gchar *path = NULL;
	g_autofree gchar *out = NULL, *err = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(csr);
	path = ck_test_write_file(f->dir, "req.csr", csr);
	{
		const gchar *argv[] = {"openssl", "req", "-verify", "-noout", "-in", path, NULL};
		g_assert_cmpint(ck_test_run(argv, &out, &err), ==, 0);
		g_assert_nonnull(strstr(err, "verify OK"));
	}
	return csr;
}

static GBytes *
public_der(gnutls_pubkey_t pub)
{
	gnutls_datum_t der = {NULL, 0};
	GBytes *bytes;
	g_assert_cmpint(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), ==, 0);
	bytes = g_bytes_new(der.data, der.size);
	gnutls_free(der.data);
	return bytes;
}

static void
check_generate(Fixture *f, CkKeyType type, gnutls_sign_algorithm_t algo)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(CkKey) again = NULL;
	g_autoptr(GBytes) pub1 = NULL, pub2 = NULL;
	g_autofree gchar *csr = NULL;
	GBytes *stored;

	if (f->swtpm == NULL)
		return;
	g_assert_true(ck_key_provider_supports(f->provider, type));
	key = ck_key_provider_generate(f->provider, type, &error);
	g_assert_no_error(error);
	g_assert_cmpint(ck_key_get_key_type(key), ==, type);
	stored = ck_key_get_stored_form(key);
	g_assert_nonnull(stored);
	g_assert_true(
	    g_str_has_prefix(g_bytes_get_data(stored, NULL), "-----BEGIN TSS2 PRIVATE KEY-----"));
	assert_signs(key, algo);
	csr = assert_csr_verifies(f, key);

	/* the stored form is all it takes to use the key again */
	again = ck_key_provider_load(f->provider, stored, "memory", &error);
	g_assert_no_error(error);
	g_assert_cmpint(ck_key_get_key_type(again), ==, type);
	pub1 = public_der(ck_key_get_pubkey(key));
	pub2 = public_der(ck_key_get_pubkey(again));
	g_assert_true(g_bytes_equal(pub1, pub2));
	assert_signs(again, algo);
	if (have_tpm_tools())
		g_assert_cmpuint(transient_objects(f), ==, 0);
}

static void
test_generate_ec(Fixture *f, gconstpointer data)
{
	check_generate(f, CK_KEY_TYPE_EC_P256, GNUTLS_SIGN_ECDSA_SHA256);
}

static void
test_generate_rsa(Fixture *f, gconstpointer data)
{
	check_generate(f, CK_KEY_TYPE_RSA_2048, GNUTLS_SIGN_RSA_SHA256);
	if (f->swtpm != NULL) {
		/* TLS 1.3 signs with RSA-PSS */
		g_autoptr(CkKey) key =
		    ck_key_provider_generate(f->provider, CK_KEY_TYPE_RSA_2048, NULL);
		g_assert_nonnull(key);
		assert_signs(key, GNUTLS_SIGN_RSA_PSS_RSAE_SHA256);
	}
}

static void
test_unsupported_types(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;

	if (f->swtpm == NULL)
		return;
	g_assert_false(ck_key_provider_supports(f->provider, CK_KEY_TYPE_ED25519));
	g_assert_false(ck_key_provider_supports(f->provider, CK_KEY_TYPE_RSA_4096));
	key = ck_key_provider_generate(f->provider, CK_KEY_TYPE_ED25519, &error);
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_assert_null(key);
	/* the TPM makes P-256 only: the larger curves are refused by name */
	g_assert_false(ck_key_provider_supports(f->provider, CK_KEY_TYPE_EC_P384));
	g_assert_false(ck_key_provider_supports(f->provider, CK_KEY_TYPE_EC_P521));
	for (CkKeyType type = CK_KEY_TYPE_EC_P384; type <= CK_KEY_TYPE_EC_P521; type++) {
		g_clear_error(&error);
		key = ck_key_provider_generate(f->provider, type, &error);
		g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
		g_assert_nonnull(strstr(error->message, ck_key_type_to_string(type)));
		g_assert_nonnull(strstr(error->message, "'tpm'"));
		g_assert_null(key);
	}
}

/* swtpm has three transient slots: every operation must give back what it used. */
static void
test_everything_flushed(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func((GDestroyNotify)ck_key_unref);

	if (f->swtpm == NULL || !have_tpm_tools())
		return;
	for (guint i = 0; i < 6; i++) {
		g_autoptr(GError) error = NULL;
		CkKey *key = ck_key_provider_generate(f->provider, CK_KEY_TYPE_EC_P256, &error);
		g_assert_no_error(error);
		g_ptr_array_add(keys, key);
	}
	for (guint round = 0; round < 4; round++) {
		for (guint i = 0; i < keys->len; i++)
			assert_signs(g_ptr_array_index(keys, i), GNUTLS_SIGN_ECDSA_SHA256);
	}
	g_assert_cmpuint(transient_objects(f), ==, 0);
}

/* A key the daemon made is an ordinary TSS2 key file for OpenSSL. */
static void
test_openssl_signs_with_our_key(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autofree gchar *key_path = NULL, *pub_path = NULL, *in_path = NULL, *sig_path = NULL;
	g_autofree gchar *out = NULL, *err = NULL;
	gnutls_datum_t pem = {NULL, 0};

	if (f->swtpm == NULL || !have_openssl_tpm2(f))
		return;
	key = ck_key_provider_generate(f->provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_no_error(error);
	key_path = ck_test_write_file(f->dir, "ours.pem",
				      g_bytes_get_data(ck_key_get_stored_form(key), NULL));
	g_assert_cmpint(gnutls_pubkey_export2(ck_key_get_pubkey(key), GNUTLS_X509_FMT_PEM, &pem),
			==, 0);
	pub_path = ck_test_write_file(f->dir, "ours.pub", (const gchar *)pem.data);
	gnutls_free(pem.data);
	in_path = ck_test_write_file(f->dir, "digest.bin", "0123456789abcdef0123456789abcdef");
	sig_path = g_build_filename(f->dir, "sig.bin", NULL);
	{
		const gchar *argv[] = {"openssl", "pkeyutl", "-provider", "tpm2",   "-provider",
				       "default", "-sign",   "-inkey",    key_path, "-in",
				       in_path,   "-out",    sig_path,    NULL};
		g_assert_cmpint(run_with_tpm(f, argv, &out, &err), ==, 0);
	}
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	{
		/* verified in software, with the public key GnuTLS read from the file */
		const gchar *argv[] = {"openssl",  "pkeyutl", "-verify", "-pubin",
				       "-inkey",   pub_path,  "-in",     in_path,
				       "-sigfile", sig_path,  NULL};
		g_assert_cmpint(ck_test_run(argv, &out, &err), ==, 0);
		g_assert_nonnull(strstr(out, "Signature Verified Successfully"));
	}
}

/* Makes a key with OpenSSL's tpm2 provider in @name; @extra are more -pkeyopt values. */
static gchar *
openssl_genpkey(Fixture *f, const gchar *name, const gchar *algorithm, const gchar *opt,
		const gchar *extra)
{
	gchar *path = g_build_filename(f->dir, name, NULL);
	g_autofree gchar *out = NULL, *err = NULL;
	const gchar *argv[] = {"openssl",
			       "genpkey",
			       "-provider",
			       "tpm2",
			       "-provider",
			       "default",
			       "-algorithm",
			       algorithm,
			       "-pkeyopt",
			       opt,
			       "-out",
			       path,
			       extra != NULL ? "-pkeyopt" : NULL,
			       extra,
			       NULL};
	if (run_with_tpm(f, argv, &out, &err) != 0)
		g_error("openssl genpkey failed: %s", err);
	return path;
}

static GBytes *
file_bytes(const gchar *path)
{
	gchar *contents = NULL;
	gsize len = 0;
	g_assert_true(g_file_get_contents(path, &contents, &len, NULL));
	return g_bytes_new_take(contents, len);
}

/* A key OpenSSL's tpm2 provider made is one certkeeper can use. */
static void
test_openssl_key_loads(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) ec = NULL, rsa = NULL;
	g_autofree gchar *ec_path = NULL, *rsa_path = NULL, *pub_path = NULL, *csr = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *ours = NULL;
	g_autoptr(GBytes) stored = NULL;
	gnutls_datum_t pem = {NULL, 0};

	if (f->swtpm == NULL || !have_openssl_tpm2(f))
		return;
	ec_path = openssl_genpkey(f, "openssl-ec.pem", "EC", "group:P-256", NULL);
	stored = file_bytes(ec_path);
	ec = ck_key_provider_load(f->provider, stored, ec_path, &error);
	g_assert_no_error(error);
	{
		/* our encoder writes OpenSSL's key again (the same fields; OpenSSL writes
		 * TRUE as 1, DER wants 0xff) */
		g_autoptr(CkTss2Key) parsed = ck_tss2_key_parse(
		    g_bytes_get_data(stored, NULL), g_bytes_get_size(stored), ec_path, &error);
		g_autoptr(CkTss2Key) reparsed = NULL;
		g_autofree gchar *written = NULL;
		g_assert_no_error(error);
		g_assert_true(parsed->empty_auth);
		g_assert_cmpuint(parsed->parent, ==, CK_TSS2_KEY_PARENT_OWNER);
		written = ck_tss2_key_to_pem(parsed, &error);
		g_assert_no_error(error);
		reparsed = ck_tss2_key_parse(written, strlen(written), NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(
		    &reparsed->public_area.publicArea, sizeof(reparsed->public_area.publicArea),
		    &parsed->public_area.publicArea, sizeof(parsed->public_area.publicArea));
		g_assert_cmpmem(reparsed->private_blob.buffer, reparsed->private_blob.size,
				parsed->private_blob.buffer, parsed->private_blob.size);
	}
	g_assert_cmpint(ck_key_get_key_type(ec), ==, CK_KEY_TYPE_EC_P256);
	assert_signs(ec, GNUTLS_SIGN_ECDSA_SHA256);
	g_free(assert_csr_verifies(f, ec));
	/* the public key we read is the one OpenSSL sees */
	pub_path = g_build_filename(f->dir, "openssl-ec.pub", NULL);
	{
		const gchar *argv[] = {"openssl",   "pkey",    "-provider", "tpm2",
				       "-provider", "default", "-in",       ec_path,
				       "-pubout",   "-out",    pub_path,    NULL};
		g_assert_cmpint(run_with_tpm(f, argv, &out, &err), ==, 0);
	}
	g_assert_cmpint(gnutls_pubkey_export2(ck_key_get_pubkey(ec), GNUTLS_X509_FMT_PEM, &pem), ==,
			0);
	ours = g_strndup((const gchar *)pem.data, pem.size);
	gnutls_free(pem.data);
	g_clear_pointer(&out, g_free);
	out = ck_test_read_file(pub_path);
	g_assert_cmpstr(ours, ==, out);

	rsa_path = openssl_genpkey(f, "openssl-rsa.pem", "RSA", "bits:2048", NULL);
	g_clear_pointer(&stored, g_bytes_unref);
	stored = file_bytes(rsa_path);
	rsa = ck_key_provider_load(f->provider, stored, rsa_path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(ck_key_get_key_type(rsa), ==, CK_KEY_TYPE_RSA_2048);
	assert_signs(rsa, GNUTLS_SIGN_RSA_SHA256);
	csr = assert_csr_verifies(f, rsa);
}

/* A key with an authorization value: certkeeper reads it from "<key file>.auth". */
static void
test_auth_value_file(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GBytes) stored = NULL;
	g_autofree gchar *path = NULL, *auth_path = NULL;
	const gchar *text = "x";
	gnutls_datum_t in = {(unsigned char *)text, 1}, sig = {NULL, 0};

	if (f->swtpm == NULL || !have_openssl_tpm2(f))
		return;
	path = openssl_genpkey(f, "auth.pem", "EC", "group:P-256", "user-auth:s3cret");
	stored = file_bytes(path);
	/* no .auth file: the message says where it is looked for */
	key = ck_key_provider_load(f->provider, stored, path, &error);
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, "auth.pem.auth"));
	g_assert_null(key);
	g_clear_error(&error);

	auth_path = ck_tpm_auth_path_for(path);
	g_assert_true(g_file_set_contents(auth_path, "s3cret\n", -1, NULL));
	g_assert_cmpint(g_chmod(auth_path, 0600), ==, 0);
	key = ck_key_provider_load(f->provider, stored, path, &error);
	g_assert_no_error(error);
	assert_signs(key, GNUTLS_SIGN_ECDSA_SHA256);
	g_clear_pointer(&key, ck_key_unref);

	g_assert_true(g_file_set_contents(auth_path, "wrong", -1, NULL));
	g_assert_cmpint(g_chmod(auth_path, 0600), ==, 0);
	key = ck_key_provider_load(f->provider, stored, path, &error);
	g_assert_no_error(error);
	g_assert_cmpint(
	    gnutls_privkey_sign_data(ck_key_get_privkey(key), GNUTLS_DIG_SHA256, 0, &in, &sig), <,
	    0);
	error = ck_key_provider_take_sign_error(f->provider);
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "authorization value is wrong"));
}

static void
generated_cb_refused(GObject *source, GAsyncResult *res, gpointer user_data)
{
	gboolean *done = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key =
	    ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "chmod 600"));
	*done = TRUE;
}

static void
generated_for_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkKey **out = user_data;
	g_autoptr(GError) error = NULL;
	*out = ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &error);
	g_assert_no_error(error);
}

static CkKey *
generate_for(Fixture *f, const gchar *location)
{
	CkKey *key = NULL;
	ck_key_provider_generate_at_async(f->provider, CK_KEY_TYPE_EC_P256, location, NULL,
					   generated_for_cb, &key);
	while (key == NULL)
		g_main_context_iteration(NULL, TRUE);
	return key;
}

/* A key made for a location with "<location>.auth" gets that authorization value. */
static void
test_auth_value_generated(Fixture *f, gconstpointer data)
{
	g_autofree gchar *location = NULL, *auth_path = NULL, *plain = NULL;
	g_autoptr(CkKey) key = NULL, loaded = NULL, open_key = NULL;
	gboolean refused = FALSE;
	g_autoptr(CkTss2Key) parsed = NULL;
	g_autoptr(GError) error = NULL;
	GBytes *stored;

	if (f->swtpm == NULL)
		return;
	location = g_build_filename(f->dir, "pin.pem", NULL);
	auth_path = ck_tpm_auth_path_for(location);
	g_assert_true(g_file_set_contents(auth_path, "1234\n", -1, NULL));
	g_assert_cmpint(g_chmod(auth_path, 0600), ==, 0);
	key = generate_for(f, location);
	stored = ck_key_get_stored_form(key);
	parsed = ck_tss2_key_parse(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored), NULL,
				   &error);
	g_assert_no_error(error);
	g_assert_false(parsed->empty_auth);
	assert_signs(key, GNUTLS_SIGN_ECDSA_SHA256);
	/* loaded from its location: the value comes from the file again */
	loaded = ck_key_provider_load(f->provider, stored, location, &error);
	g_assert_no_error(error);
	assert_signs(loaded, GNUTLS_SIGN_ECDSA_SHA256);
	/* no file next to the location: a key without one */
	plain = g_build_filename(f->dir, "plain.pem", NULL);
	open_key = generate_for(f, plain);
	g_clear_pointer(&parsed, ck_tss2_key_free);
	stored = ck_key_get_stored_form(open_key);
	parsed = ck_tss2_key_parse(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored), NULL,
				   &error);
	g_assert_no_error(error);
	g_assert_true(parsed->empty_auth);
	/* a value file others can read is refused, rather than used */
	g_assert_cmpint(g_chmod(auth_path, 0644), ==, 0);
	ck_key_provider_generate_at_async(f->provider, CK_KEY_TYPE_EC_P256, location, NULL,
					   generated_cb_refused, &refused);
	while (!refused)
		g_main_context_iteration(NULL, TRUE);
}

static void
test_no_tpm(Fixture *f, gconstpointer data)
{
	g_autofree gchar *socket = g_build_filename(f->dir, "nothing.sock", NULL);
	g_autofree gchar *tcti = g_strdup_printf("swtpm:path=%s", socket);
	g_autoptr(CkKeyProvider) provider = ck_key_provider_tpm_new(tcti);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error);

	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "No TPM answers at"));
	g_assert_nonnull(strstr(error->message, socket));
}

static void
test_wrong_tcti(Fixture *f, gconstpointer data)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_tpm_new("nosuchtcti:/dev/null");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error);

	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "no TCTI called 'nosuchtcti'"));
	g_assert_nonnull(strstr(error->message, "TpmTcti="));
	g_clear_error(&error);
	g_clear_object(&provider);
	/* a TCTI that exists, with options it does not know */
	provider = ck_key_provider_tpm_new("swtpm:bogus=1");
	g_assert_null(ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "options are wrong"));
	g_assert_nonnull(strstr(error->message, "swtpm:bogus=1"));
}

static void
test_not_a_tpm_key(Fixture *f, gconstpointer data)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_tpm_new(NULL);
	g_autoptr(GBytes) pkcs8 = g_bytes_new_static(
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = ck_key_provider_load(provider, pkcs8, "/etc/k.pem", &error);

	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "/etc/k.pem"));
	g_assert_nonnull(strstr(error->message, "key provider 'file'"));
	g_assert_cmpstr(ck_key_provider_tpm_get_tcti(CK_KEY_PROVIDER_TPM(provider)), ==,
			CK_TPM_DEFAULT_TCTI);
}

/* A DA-protected key with a wrong authorization value, until the TPM locks out. */
static void
test_lockout(Fixture *f, gconstpointer data)
{
	g_autoptr(GBytes) right = g_bytes_new_static("right", 5);
	g_autoptr(GBytes) wrong = g_bytes_new_static("wrong", 5);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL, bad = NULL, good = NULL;
	g_autofree gchar *out = NULL, *err = NULL;
	const gchar *text = "x";
	gnutls_datum_t in = {(unsigned char *)text, 1}, sig = {NULL, 0};
	guint denied = 0;

	if (f->swtpm == NULL || !have_tpm_tools())
		return;
	{
		const gchar *argv[] = {
		    "tpm2_dictionarylockout", "--setup-parameters",           "--max-tries=3",
		    "--recovery-time=3600",   "--lockout-recovery-time=3600", NULL};
		g_assert_cmpint(run_with_tpm(f, argv, &out, &err), ==, 0);
	}
	key = ck_key_provider_tpm_generate_with_auth(CK_KEY_PROVIDER_TPM(f->provider),
						     CK_KEY_TYPE_EC_P256, right, &error);
	g_assert_no_error(error);
	bad = ck_key_provider_tpm_load_with_auth(CK_KEY_PROVIDER_TPM(f->provider),
						 ck_key_get_stored_form(key), NULL, wrong, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < 10; i++) {
		g_assert_cmpint(gnutls_privkey_sign_data(ck_key_get_privkey(bad), GNUTLS_DIG_SHA256,
							 0, &in, &sig),
				<, 0);
		error = ck_key_provider_take_sign_error(f->provider);
		g_assert_nonnull(error);
		if (g_error_matches(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE))
			break;
		g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
		denied++;
		g_clear_error(&error);
	}
	g_assert_cmpuint(denied, >=, 1);
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
	g_assert_nonnull(strstr(error->message, "lockout"));
	g_clear_error(&error);
	/* even the right value is refused now: the lockout is the TPM's, not the key's */
	good = ck_key_provider_tpm_load_with_auth(CK_KEY_PROVIDER_TPM(f->provider),
						  ck_key_get_stored_form(key), NULL, right, &error);
	g_assert_no_error(error);
	g_assert_cmpint(
	    gnutls_privkey_sign_data(ck_key_get_privkey(good), GNUTLS_DIG_SHA256, 0, &in, &sig), <,
	    0);
	error = ck_key_provider_take_sign_error(f->provider);
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
	g_clear_error(&error);
	/* keys without an authorization value are outside the DA logic and still sign */
	g_clear_pointer(&key, ck_key_unref);
	key = ck_key_provider_generate(f->provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_no_error(error);
	assert_signs(key, GNUTLS_SIGN_ECDSA_SHA256);
	/* cleared lockout: the right value works again */
	{
		const gchar *argv[] = {"tpm2_dictionarylockout", "--clear-lockout", NULL};
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(run_with_tpm(f, argv, &out, &err), ==, 0);
	}
	assert_signs(good, GNUTLS_SIGN_ECDSA_SHA256);
}

/* The TPM goes away and comes back on its state: the same key signs again. */
static void
test_restart(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL, loaded = NULL;
	const gchar *text = "x";
	gnutls_datum_t in = {(unsigned char *)text, 1}, sig = {NULL, 0};

	if (f->swtpm == NULL)
		return;
	key = ck_key_provider_generate(f->provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_no_error(error);
	ck_test_swtpm_stop(f->swtpm);
	g_assert_cmpint(
	    gnutls_privkey_sign_data(ck_key_get_privkey(key), GNUTLS_DIG_SHA256, 0, &in, &sig), <,
	    0);
	error = ck_key_provider_take_sign_error(f->provider);
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
	g_clear_error(&error);
	/* a generation in the meantime fails the same retryable way */
	g_assert_null(ck_key_provider_generate(f->provider, CK_KEY_TYPE_EC_P256, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
	g_clear_error(&error);
	ck_test_swtpm_start(f->swtpm);
	assert_signs(key, GNUTLS_SIGN_ECDSA_SHA256);
	loaded = ck_key_provider_load(f->provider, ck_key_get_stored_form(key), NULL, &error);
	g_assert_no_error(error);
	assert_signs(loaded, GNUTLS_SIGN_ECDSA_SHA256);
}

/* generate_async from worker threads, several at once: the TPM sees one at a time. */
static void
generated_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	guint *pending = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key =
	    ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &error);
	g_assert_no_error(error);
	assert_signs(key, GNUTLS_SIGN_ECDSA_SHA256);
	(*pending)--;
}

static void
test_parallel(Fixture *f, gconstpointer data)
{
	guint pending = 5;

	if (f->swtpm == NULL)
		return;
	for (guint i = 0; i < 5; i++)
		ck_key_provider_generate_async(f->provider, CK_KEY_TYPE_EC_P256, NULL, generated_cb,
					       &pending);
	while (pending > 0)
		g_main_context_iteration(NULL, TRUE);
	if (have_tpm_tools())
		g_assert_cmpuint(transient_objects(f), ==, 0);
}

/*
 * A TPM key as the recovery ladder's proof key: its public key is the one the
 * key carries (GnuTLS cannot ask the TPM), its proof signature verifies, and
 * a TPM that is away says so through the provider (so the ladder waits).
 */
static void
check_proof(Fixture *f, CkKeyType type, const gchar *algorithm)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GBytes) der = NULL;
	g_autofree gchar *csr = NULL, *public_key = NULL, *expected = NULL;
	g_autofree gchar *alg = NULL, *signature = NULL;

	if (f->swtpm == NULL)
		return;
	key = ck_key_provider_generate(f->provider, type, &error);
	g_assert_no_error(error);
	csr = assert_csr_verifies(f, key);
	public_key = ck_proof_public_key(key, &error);
	g_assert_no_error(error);
	der = public_der(ck_key_get_pubkey(key));
	expected = g_base64_encode(g_bytes_get_data(der, NULL), g_bytes_get_size(der));
	g_assert_cmpstr(public_key, ==, expected);
	g_assert_true(ck_proof_sign(key, "tpm-nonce", csr, &alg, &signature, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(alg, ==, algorithm);
	g_assert_true(ck_proof_verify(public_key, "tpm-nonce", csr, alg, signature, &error));
	g_assert_no_error(error);
	g_clear_pointer(&alg, g_free);
	g_clear_pointer(&signature, g_free);

	ck_test_swtpm_stop(f->swtpm);
	g_assert_false(ck_proof_sign(key, "tpm-nonce", csr, &alg, &signature, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_clear_error(&error);
	{
		g_autoptr(GError) why = ck_key_provider_take_sign_error(f->provider);
		g_assert_error(why, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE);
		g_assert_nonnull(strstr(why->message, f->swtpm->socket));
	}
	ck_test_swtpm_start(f->swtpm);
	g_assert_true(ck_proof_sign(key, "tpm-nonce-2", csr, &alg, &signature, &error));
	g_assert_no_error(error);
	g_assert_true(ck_proof_verify(public_key, "tpm-nonce-2", csr, alg, signature, &error));
	g_assert_no_error(error);
	if (have_tpm_tools())
		g_assert_cmpuint(transient_objects(f), ==, 0);
}

static void
test_proof_ec(Fixture *f, gconstpointer data)
{
	check_proof(f, CK_KEY_TYPE_EC_P256, "ECDSA-SHA256");
}

static void
test_proof_rsa(Fixture *f, gconstpointer data)
{
	check_proof(f, CK_KEY_TYPE_RSA_2048, "RSA-SHA256");
}

#define ADD(path, fn)                                                                              \
	g_test_add("/certkeeper/key-provider-tpm/" path, Fixture, NULL, fixture_setup, fn,         \
		   fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("generate/ec-p256", test_generate_ec);
	ADD("generate/rsa-2048", test_generate_rsa);
	ADD("generate/unsupported", test_unsupported_types);
	ADD("generate/parallel", test_parallel);
	ADD("flush/everything", test_everything_flushed);
	ADD("openssl/signs-with-our-key", test_openssl_signs_with_our_key);
	ADD("openssl/key-loads", test_openssl_key_loads);
	ADD("auth/value-file", test_auth_value_file);
	ADD("auth/generated", test_auth_value_generated);
	ADD("error/no-tpm", test_no_tpm);
	ADD("error/wrong-tcti", test_wrong_tcti);
	ADD("error/not-a-tpm-key", test_not_a_tpm_key);
	ADD("error/lockout", test_lockout);
	ADD("restart", test_restart);
	ADD("proof/ec-p256", test_proof_ec);
	ADD("proof/rsa-2048", test_proof_rsa);
	return g_test_run();
}
