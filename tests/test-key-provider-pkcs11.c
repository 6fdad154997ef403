/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The PKCS#11 key provider against a real SoftHSM token: keys generated in the
 * token, CSRs signed there, loading by URI and by certificate, pruning the old
 * objects, the certificate written into the token, and the errors of a wrong
 * PIN, a missing token, object or module, and bad URIs.
 */
#include "config.h"

#include <gnutls/pkcs11.h>
#include <string.h>

#include "ck-csr.h"
#include "ck-error.h"
#include "ck-key-provider-pkcs11.h"
#include "ck-proof.h"
#include "ck-test-keys.h"
#include "ck-test-util.h"

static gchar *test_dir;
static gchar *pin_file;       /* the right PIN of tokens T and U */
static gchar *wrong_pin_file; /* a wrong one */
static const gchar *module;

static CkKeyProvider *
ck_test_provider(void)
{
	return ck_key_provider_pkcs11_new(module);
}

/* pkcs11:token=@token;object=@label?pin-source=@pin */
static gchar *
ck_test_uri(const gchar *token, const gchar *label, const gchar *pin)
{
	return g_strdup_printf("pkcs11:token=%s;object=%s?pin-source=%s", token, label, pin);
}

static gchar *
ck_test_stored_text(CkKey *key)
{
	GBytes *stored = ck_key_get_stored_form(key);
	g_assert_nonnull(stored);
	return g_strndup(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored));
}

static void
ck_test_assert_same_key(CkKey *a, CkKey *b)
{
	g_autoptr(GBytes) da = ck_test_public_der(a);
	g_autoptr(GBytes) db = ck_test_public_der(b);
	g_assert_true(g_bytes_equal(da, db));
}

/* A CSR signed by @key in the token; verified by GnuTLS and by openssl. */
static void
ck_test_assert_csr_verifies(CkKey *key, const gchar *name)
{
	const gchar *const dns[] = {"web.example", NULL};
	CkCsrParams params = {.subject = "CN=web.example", .dns_names = dns};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = ck_csr_build(&params, ck_key_get_privkey(key), &error);
	g_autofree gchar *file = g_strconcat(name, ".csr", NULL);
	g_autofree gchar *path = NULL;
	g_autofree gchar *out = NULL, *err = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t datum;

	g_assert_no_error(error);
	g_assert_nonnull(pem);
	datum.data = (unsigned char *)pem;
	datum.size = strlen(pem);
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_verify(crq, 0), ==, 0);
	gnutls_x509_crq_deinit(crq);

	path = ck_test_write_file(test_dir, file, pem);
	{
		const gchar *argv[] = {"openssl", "req", "-verify", "-noout", "-in", path, NULL};
		g_assert_cmpint(ck_test_run(argv, &out, &err), ==, 0);
		g_assert_nonnull(strstr(err != NULL && strstr(err, "OK") ? err : out, "OK"));
	}
}

/* A self-signed certificate for @key, signed in the token. */
static gchar *
ck_test_certificate(CkKey *key, const gchar *cn)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t pem = {NULL, 0};
	guint8 serial[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	time_t now = time(NULL);
	gchar *text;

	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, ck_key_get_privkey(key), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_pubkey(crt, pub), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, strlen(cn)), ==,
	    0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now - 60), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, now + 86400), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_privkey_sign(crt, crt, ck_key_get_privkey(key), GNUTLS_DIG_SHA256, 0),
	    ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
	text = g_strndup((const gchar *)pem.data, pem.size);
	gnutls_free(pem.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crt_deinit(crt);
	return text;
}

static gnutls_x509_crt_t
ck_test_parse_certificate(const gchar *pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	return crt;
}

static void
test_pkcs11_generate_ec(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	g_autofree gchar *uri = ck_test_uri("T", "ec", pin_file);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(CkKey) again = NULL;
	g_autoptr(CkKey) by_label = NULL;
	g_autoptr(GBytes) configured = NULL;
	g_autofree gchar *stored = NULL;

	g_assert_cmpstr(ck_key_provider_get_name(provider), ==, "pkcs11");
	g_assert_false(ck_key_provider_keeps_files(provider));
	g_assert_true(ck_key_provider_supports(provider, CK_KEY_TYPE_EC_P256));
	g_assert_false(ck_key_provider_supports(provider, CK_KEY_TYPE_ED25519));
	key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, uri, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	g_assert_cmpint(ck_key_get_key_type(key), ==, CK_KEY_TYPE_EC_P256);

	/* the stored form names the object (with its id) and how to reach it, and is no key */
	stored = ck_test_stored_text(key);
	g_assert_true(g_str_has_prefix(stored, "pkcs11:token=T;object=ec;id=%"));
	g_assert_nonnull(strstr(stored, "?pin-source="));
	g_assert_null(strstr(stored, "PRIVATE KEY"));
	g_assert_null(strstr(stored, "1234"));

	/* exactly one key object was made, in the token */
	g_assert_cmpuint(ck_test_p11tool_count("all-privkeys", "pkcs11:token=T;object=ec", "1234"),
			 ==, 1);
	ck_test_assert_csr_verifies(key, "ec");

	/* loading the stored form gives the same key; so does the label alone */
	{
		g_autoptr(GBytes) bytes = g_bytes_new(stored, strlen(stored));
		again = ck_key_provider_load(provider, bytes, uri, &error);
	}
	g_assert_no_error(error);
	ck_test_assert_same_key(key, again);
	configured = g_bytes_new(uri, strlen(uri));
	by_label = ck_key_provider_load(provider, configured, uri, &error);
	g_assert_no_error(error);
	ck_test_assert_same_key(key, by_label);
	ck_test_assert_csr_verifies(by_label, "ec-loaded");
}

static void
test_pkcs11_generate_rsa(void)
{
	const CkKeyType types[] = {CK_KEY_TYPE_RSA_2048, CK_KEY_TYPE_RSA_3072};

	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		g_autoptr(CkKeyProvider) provider = ck_test_provider();
		g_autofree gchar *label = g_strdup_printf("rsa%u", i);
		g_autofree gchar *uri = ck_test_uri("T", label, pin_file);
		g_autofree gchar *search = g_strdup_printf("pkcs11:token=T;object=%s", label);
		g_autoptr(GError) error = NULL;
		g_autoptr(CkKey) key = ck_key_provider_generate_at(provider, types[i], uri, &error);
		g_autoptr(CkKey) again = NULL;
		g_autofree gchar *stored = NULL;

		g_assert_no_error(error);
		g_assert_cmpint(ck_key_get_key_type(key), ==, types[i]);
		g_assert_cmpuint(ck_test_p11tool_count("all-privkeys", search, "1234"), ==, 1);
		ck_test_assert_csr_verifies(key, label);
		stored = ck_test_stored_text(key);
		{
			g_autoptr(GBytes) bytes = g_bytes_new(stored, strlen(stored));
			again = ck_key_provider_load(provider, bytes, uri, &error);
		}
		g_assert_no_error(error);
		g_assert_cmpint(ck_key_get_key_type(again), ==, types[i]);
		ck_test_assert_same_key(key, again);
	}
}

/*
 * P-384 and P-521 keys in the token (softhsm2 makes both): the curve survives
 * reloading, the CSR is signed with the curve's hash, and a proof signed in the
 * token picks that hash too.
 */
static void
test_pkcs11_generate_ec_curves(void)
{
	const struct {
		CkKeyType type;
		const gchar *label;
		gnutls_sign_algorithm_t csr_sign;
		const gchar *proof_algorithm;
	} cases[] = {
	    {CK_KEY_TYPE_EC_P384, "p384", GNUTLS_SIGN_ECDSA_SHA384, "ECDSA-SHA384"},
	    {CK_KEY_TYPE_EC_P521, "p521", GNUTLS_SIGN_ECDSA_SHA512, "ECDSA-SHA512"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(CkKeyProvider) provider = ck_test_provider();
		g_autofree gchar *uri = ck_test_uri("T", cases[i].label, pin_file);
		g_autofree gchar *search =
		    g_strdup_printf("pkcs11:token=T;object=%s", cases[i].label);
		const gchar *const dns[] = {"web.example", NULL};
		CkCsrParams params = {.subject = "CN=web.example", .dns_names = dns};
		g_autoptr(GError) error = NULL;
		g_autoptr(CkKey) key = NULL;
		g_autoptr(CkKey) again = NULL;
		g_autofree gchar *stored = NULL, *csr = NULL, *public_key = NULL;
		g_autofree gchar *algorithm = NULL, *signature = NULL;
		gnutls_x509_crq_t crq = NULL;
		gnutls_datum_t datum;

		g_test_message("%s", cases[i].label);
		g_assert_true(ck_key_provider_supports(provider, cases[i].type));
		key = ck_key_provider_generate_at(provider, cases[i].type, uri, &error);
		g_assert_no_error(error);
		g_assert_cmpint(ck_key_get_key_type(key), ==, cases[i].type);
		g_assert_cmpuint(ck_test_p11tool_count("all-privkeys", search, "1234"), ==, 1);
		ck_test_assert_csr_verifies(key, cases[i].label);

		csr = ck_csr_build(&params, ck_key_get_privkey(key), &error);
		g_assert_no_error(error);
		datum.data = (unsigned char *)csr;
		datum.size = strlen(csr);
		g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
		g_assert_cmpint(gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
		g_assert_cmpint(gnutls_x509_crq_get_signature_algorithm(crq), ==,
				cases[i].csr_sign);
		gnutls_x509_crq_deinit(crq);

		public_key = ck_proof_public_key(key, &error);
		g_assert_no_error(error);
		g_assert_true(ck_proof_sign(key, "n0nce", csr, &algorithm,
					    &signature, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(algorithm, ==, cases[i].proof_algorithm);
		g_assert_true(
		    ck_proof_verify(public_key, "n0nce", csr, algorithm, signature, &error));
		g_assert_no_error(error);

		stored = ck_test_stored_text(key);
		{
			g_autoptr(GBytes) bytes = g_bytes_new(stored, strlen(stored));
			again = ck_key_provider_load(provider, bytes, uri, &error);
		}
		g_assert_no_error(error);
		g_assert_cmpint(ck_key_get_key_type(again), ==, cases[i].type);
		ck_test_assert_same_key(key, again);
	}
}

/* The async path the engine takes, in a worker thread. */
static void
ck_test_generated_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkKey **out = user_data;
	g_autoptr(GError) error = NULL;
	*out = ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &error);
	g_assert_no_error(error);
}

static void
test_pkcs11_generate_async(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	g_autofree gchar *uri = ck_test_uri("T", "async", pin_file);
	CkKey *keys[2] = {NULL, NULL};

	/* two at once: the provider serialises its token operations */
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
		ck_key_provider_generate_at_async(provider, CK_KEY_TYPE_EC_P256, uri, NULL,
						  ck_test_generated_cb, &keys[i]);
	while (keys[0] == NULL || keys[1] == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(
	    ck_test_p11tool_count("all-privkeys", "pkcs11:token=T;object=async", "1234"), ==, 2);
	ck_test_assert_csr_verifies(keys[0], "async0");
	ck_test_assert_csr_verifies(keys[1], "async1");
	for (guint i = 0; i < G_N_ELEMENTS(keys); i++)
		ck_key_unref(keys[i]);
}

/* Two keys with one label: the label alone is ambiguous, the certificate is not; prune keeps one.
 */
static void
test_pkcs11_renewal_objects(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	g_autofree gchar *uri = ck_test_uri("T", "renew", pin_file);
	const gchar *search = "pkcs11:token=T;object=renew";
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) old_key = NULL;
	g_autoptr(CkKey) new_key = NULL;
	g_autoptr(CkKey) found = NULL;
	g_autoptr(GBytes) configured = g_bytes_new(uri, strlen(uri));
	g_autofree gchar *old_cert = NULL;
	g_autofree gchar *new_cert = NULL;
	gnutls_x509_crt_t crt;

	old_key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, uri, &error);
	g_assert_no_error(error);
	old_cert = ck_test_certificate(old_key, "old");
	new_key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, uri, &error);
	g_assert_no_error(error);
	new_cert = ck_test_certificate(new_key, "new");
	g_assert_cmpuint(ck_test_p11tool_count("all-privkeys", search, "1234"), ==, 2);

	found = ck_key_provider_load(provider, configured, uri, &error);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "Several private keys match"));
	g_assert_null(found);
	g_clear_error(&error);

	/* each certificate finds its own key */
	crt = ck_test_parse_certificate(old_cert);
	found = ck_key_provider_load_for_certificate(provider, uri, crt, &error);
	gnutls_x509_crt_deinit(crt);
	g_assert_no_error(error);
	ck_test_assert_same_key(found, old_key);
	g_clear_pointer(&found, ck_key_unref);
	crt = ck_test_parse_certificate(new_cert);
	found = ck_key_provider_load_for_certificate(provider, uri, crt, &error);
	gnutls_x509_crt_deinit(crt);
	g_assert_no_error(error);
	ck_test_assert_same_key(found, new_key);
	g_clear_pointer(&found, ck_key_unref);

	/* the install succeeded: only the new key stays (private and public objects) */
	g_assert_true(ck_key_provider_prune(provider, uri, new_key, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_p11tool_count("all-privkeys", search, "1234"), ==, 1);
	g_assert_cmpuint(ck_test_p11tool_count("all", search, "1234"), ==, 2);
	found = ck_key_provider_load(provider, configured, uri, &error);
	g_assert_no_error(error);
	ck_test_assert_same_key(found, new_key);
	g_clear_pointer(&found, ck_key_unref);

	/* the old certificate's key is gone */
	crt = ck_test_parse_certificate(old_cert);
	found = ck_key_provider_load_for_certificate(provider, uri, crt, &error);
	gnutls_x509_crt_deinit(crt);
	g_assert_nonnull(error);
	g_assert_null(found);
	g_clear_error(&error);

	/* nothing to keep: nothing left */
	g_assert_true(ck_key_provider_prune(provider, uri, NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_p11tool_count("all", search, "1234"), ==, 0);
}

static void
test_pkcs11_store_certificate(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	g_autofree gchar *uri = ck_test_uri("T", "withcert", pin_file);
	const gchar *search = "pkcs11:token=T;object=withcert";
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) first = NULL;
	g_autoptr(CkKey) second = NULL;
	g_autofree gchar *first_cert = NULL;
	g_autofree gchar *second_cert = NULL;
	g_autofree gchar *listed = NULL;

	first = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, uri, &error);
	g_assert_no_error(error);
	first_cert = ck_test_certificate(first, "first");
	g_assert_true(ck_key_provider_pkcs11_store_certificate(CK_KEY_PROVIDER_PKCS11(provider),
							       uri, first_cert, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_p11tool_count("all-certs", search, "1234"), ==, 1);

	/* a renewal: the new certificate replaces the old one, next to its key */
	second = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, uri, &error);
	g_assert_no_error(error);
	second_cert = ck_test_certificate(second, "second");
	g_assert_true(ck_key_provider_pkcs11_store_certificate(CK_KEY_PROVIDER_PKCS11(provider),
							       uri, second_cert, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_p11tool_count("all-certs", search, "1234"), ==, 1);
	{
		g_autofree gchar *provider_arg = g_strdup_printf("--provider=%s", module);
		const gchar *argv[] = {"p11tool",  provider_arg,
				       "--login",  "--set-pin=1234",
				       "--export", "pkcs11:token=T;object=withcert;type=cert",
				       NULL};
		g_assert_cmpint(ck_test_run(argv, &listed, NULL), ==, 0);
		g_assert_nonnull(strstr(listed, "BEGIN CERTIFICATE"));
	}
	{
		/* the one in the token is the second, and has the id of its key */
		gnutls_x509_crt_t in_token = ck_test_parse_certificate(listed);
		gnutls_x509_crt_t expected = ck_test_parse_certificate(second_cert);
		g_assert_cmpint(gnutls_x509_crt_equals(in_token, expected), !=, 0);
		gnutls_x509_crt_deinit(in_token);
		gnutls_x509_crt_deinit(expected);
	}
	/* the certificate object does not count as a key: pruning keys leaves it */
	g_assert_true(ck_key_provider_prune(provider, uri, second, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_p11tool_count("all-certs", search, "1234"), ==, 1);
	g_assert_cmpuint(ck_test_p11tool_count("all-privkeys", search, "1234"), ==, 1);
}

static void
test_pkcs11_wrong_pin(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	g_autofree gchar *wrong = ck_test_uri("U", "w", wrong_pin_file);
	g_autofree gchar *missing_file = g_build_filename(test_dir, "no-such.pin", NULL);
	g_autofree gchar *unreadable = ck_test_uri("U", "w", missing_file);
	const gchar *no_pin = "pkcs11:token=U;object=w";
	g_autofree gchar *right = ck_test_uri("U", "w", pin_file);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GBytes) stored = NULL;

	key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, wrong, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "pkcs11:token=U;object=w"));
	g_assert_nonnull(strstr(error->message, "refused the PIN"));
	/* neither the PIN nor the PIN file's name */
	g_assert_null(strstr(error->message, "0000"));
	g_assert_null(strstr(error->message, wrong_pin_file));
	g_clear_error(&error);

	key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, no_pin, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "pin-source="));
	g_clear_error(&error);

	key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, unreadable, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "cannot be read"));
	g_clear_error(&error);

	/* nothing was made by the failed attempts; the right PIN works after them */
	g_assert_cmpuint(ck_test_p11tool_count("all", "pkcs11:token=U;object=w", "1234"), ==, 0);
	key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, right, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);

	/* a key loaded with the wrong PIN is refused the same way */
	g_clear_pointer(&key, ck_key_unref);
	stored = g_bytes_new(wrong, strlen(wrong));
	key = ck_key_provider_load(provider, stored, wrong, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, "refused the PIN"));
}

static void
test_pkcs11_missing(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	g_autoptr(CkKeyProvider) no_module = ck_key_provider_pkcs11_new(NULL);
	g_autoptr(CkKeyProvider) bad_module = ck_key_provider_pkcs11_new("/nonexistent/libp11.so");
	g_autofree gchar *no_token = ck_test_uri("NoSuchToken", "x", pin_file);
	g_autofree gchar *no_object = ck_test_uri("T", "absent", pin_file);
	g_autofree gchar *with_module = g_strdup_printf(
	    "pkcs11:token=T;object=viapath?pin-source=%s&module-path=%s", pin_file, module);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GBytes) stored = NULL;

	key = ck_key_provider_generate_at(provider, CK_KEY_TYPE_EC_P256, no_token, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_assert_nonnull(
	    strstr(error->message, "No token matches pkcs11:token=NoSuchToken;object=x"));
	g_clear_error(&error);

	stored = g_bytes_new(no_object, strlen(no_object));
	key = ck_key_provider_load(provider, stored, no_object, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "has no private key pkcs11:token=T;object=absent"));
	g_clear_error(&error);

	key = ck_key_provider_generate_at(bad_module, CK_KEY_TYPE_EC_P256, no_object, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "/nonexistent/libp11.so"));
	g_assert_nonnull(strstr(error->message, "Pkcs11Module="));
	g_clear_error(&error);

	key = ck_key_provider_generate_at(no_module, CK_KEY_TYPE_EC_P256, no_object, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "No PKCS#11 module is configured"));
	g_clear_error(&error);

	/* module-path= in the URI stands in for the configured module */
	key = ck_key_provider_generate_at(no_module, CK_KEY_TYPE_EC_P256, with_module, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	{
		g_autofree gchar *text = ck_test_stored_text(key);
		g_assert_nonnull(strstr(text, "module-path="));
	}

	/* generate() without a location cannot know the token */
	g_clear_pointer(&key, ck_key_unref);
	key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
test_pkcs11_check_location(void)
{
	g_autoptr(CkKeyProvider) provider = ck_test_provider();
	struct {
		const gchar *uri;
		const gchar *message_part;
	} bad[] = {
	    {"/etc/ssl/private/web.key", "does not start with"},
	    {"pkcs11:token=T", "object=LABEL"},
	    {"pkcs11:token=T;object=", "object=LABEL"},
	    {"pkcs11:token=T;object=w;id=%01", "id="},
	    {"pkcs11:token=T;object=w;type=cert", "type=private"},
	    {"pkcs11:token=T;object=w;colour=blue", "'colour'"},
	    {"pkcs11:token=T;object=w?pin-value=secret123", "pin-source="},
	    {"pkcs11:token=T;object=w?pin-source=relative.pin", "absolute"},
	    {"pkcs11:token=T;object=w?module-path=libsofthsm2.so", "absolute"},
	    {"pkcs11:token=T;object=w?module-name=softhsm2", "'module-name'"},
	    {"pkcs11:token=T;object=w%zz", "escaped"},
	};
	const gchar *good[] = {
	    "pkcs11:token=T;object=web",
	    "pkcs11:token=My%20Token;object=web;type=private?pin-source=file:/etc/ck/pin",
	    "pkcs11:model=SoftHSM%20v2;serial=1234;token=T;object=w?pin-source=/p&module-path=/"
	    "m.so",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_test_message("%s", bad[i].uri);
		g_assert_false(ck_key_provider_check_location(provider, bad[i].uri, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, bad[i].message_part));
		/* a PIN never shows */
		g_assert_null(strstr(error->message, "secret123"));
	}
	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) error = NULL;
		g_test_message("%s", good[i]);
		g_assert_true(ck_key_provider_check_location(provider, good[i], &error));
		g_assert_no_error(error);
	}
	g_assert_true(ck_key_provider_pkcs11_is_uri("pkcs11:token=T"));
	g_assert_false(ck_key_provider_pkcs11_is_uri("/etc/pkcs11:x"));
	g_assert_false(ck_key_provider_pkcs11_is_uri(NULL));
}

static void
test_pkcs11_skip(void)
{
	g_test_skip("softhsm2 is not installed");
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	module = ck_test_softhsm_module();
	if (module == NULL || !ck_test_have_program("p11tool")) {
		g_test_add_func("/key-provider-pkcs11/skip", test_pkcs11_skip);
		return g_test_run();
	}
	test_dir = ck_test_make_tmpdir();
	g_free(ck_test_softhsm_setup(test_dir));
	ck_test_softhsm_init_token("T", "1234");
	ck_test_softhsm_init_token("U", "1234");
	pin_file = ck_test_write_file(test_dir, "user.pin", "1234\n");
	wrong_pin_file = ck_test_write_file(test_dir, "wrong.pin", "0000\n");

	g_test_add_func("/key-provider-pkcs11/check-location", test_pkcs11_check_location);
	g_test_add_func("/key-provider-pkcs11/generate-ec", test_pkcs11_generate_ec);
	g_test_add_func("/key-provider-pkcs11/generate-rsa", test_pkcs11_generate_rsa);
	g_test_add_func("/key-provider-pkcs11/generate-ec-curves", test_pkcs11_generate_ec_curves);
	g_test_add_func("/key-provider-pkcs11/generate-async", test_pkcs11_generate_async);
	g_test_add_func("/key-provider-pkcs11/renewal-objects", test_pkcs11_renewal_objects);
	g_test_add_func("/key-provider-pkcs11/store-certificate", test_pkcs11_store_certificate);
	g_test_add_func("/key-provider-pkcs11/wrong-pin", test_pkcs11_wrong_pin);
	g_test_add_func("/key-provider-pkcs11/missing", test_pkcs11_missing);
	rc = g_test_run();
	ck_test_rm_rf(test_dir);
	g_free(test_dir);
	g_free(pin_file);
	g_free(wrong_pin_file);
	return rc;
}
