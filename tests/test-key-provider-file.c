/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The software key provider: key types, generation, the stored PKCS#8 form, loading. */
#include "config.h"

#include <string.h>

#include "ck-error.h"
#include "ck-key-provider-file.h"
#include "ck-test-keys.h"
#include "ck-test-util.h"

/* Where the openssl-made keys of this run live (removed at the end). */
static gchar *keys_dir;

/* RSA 4096 generation takes seconds (a minute or more under valgrind): only on request. */
static gboolean
ck_test_slow(void)
{
	return g_test_slow() || g_getenv("CK_TEST_SLOW") != NULL;
}

static gchar *
ck_test_openssl_key(const gchar *name, const gchar *const *argv)
{
	g_autofree gchar *path = g_build_filename(keys_dir, name, NULL);
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autofree gchar *err = NULL;
	gchar *pem = NULL;

	/* "-out" right after the subcommand: genrsa takes no option after its size */
	for (guint i = 0; argv[i] != NULL; i++) {
		g_ptr_array_add(args, (gpointer)argv[i]);
		if (i == 1) {
			g_ptr_array_add(args, (gpointer) "-out");
			g_ptr_array_add(args, path);
		}
	}
	g_ptr_array_add(args, NULL);
	if (ck_test_run((const gchar *const *)args->pdata, NULL, &err) != 0)
		g_error("openssl failed to make %s: %s", name, err);
	g_assert_true(g_file_get_contents(path, &pem, NULL, NULL));
	return pem;
}

static GBytes *
ck_test_bytes(const gchar *text)
{
	return g_bytes_new(text, strlen(text));
}

static void
ck_test_assert_algorithm(CkKey *key, gnutls_pk_algorithm_t algo, guint bits)
{
	guint got_bits = 0;
	g_assert_cmpint(gnutls_privkey_get_pk_algorithm(ck_key_get_privkey(key), &got_bits), ==,
			algo);
	if (bits != 0)
		g_assert_cmpuint(got_bits, ==, bits);
}

static void
test_key_type_names(void)
{
	const gchar *const *names = ck_key_type_all_names();
	guint n = 0;

	/* every type has a canonical name that parses back, and all_names() lists exactly those */
	for (guint t = CK_KEY_TYPE_UNKNOWN + 1; t < CK_KEY_TYPE_LAST; t++) {
		const gchar *name = ck_key_type_to_string((CkKeyType)t);
		g_assert_cmpstr(name, !=, "unknown");
		g_assert_cmpint(ck_key_type_from_string(name), ==, t);
		g_assert_true(g_strv_contains(names, name));
	}
	for (; names[n] != NULL; n++)
		g_assert_cmpint(ck_key_type_from_string(names[n]), !=, CK_KEY_TYPE_UNKNOWN);
	g_assert_cmpuint(n, ==, CK_KEY_TYPE_LAST - 1);
	g_assert_cmpstr(ck_key_type_to_string(CK_KEY_TYPE_EC_P256), ==, "ec-p256");
	g_assert_cmpstr(ck_key_type_to_string(CK_KEY_TYPE_RSA_4096), ==, "rsa-4096");
	g_assert_cmpstr(ck_key_type_to_string(CK_KEY_TYPE_EC_P384), ==, "ec-p384");
	g_assert_cmpstr(ck_key_type_to_string(CK_KEY_TYPE_EC_P521), ==, "ec-p521");
	/* the values of the older types stay what they were */
	g_assert_cmpint(CK_KEY_TYPE_EC_P256, ==, 1);
	g_assert_cmpint(CK_KEY_TYPE_ED25519, ==, 5);
	g_assert_true(ck_key_type_is_ec(CK_KEY_TYPE_EC_P384));
	g_assert_true(ck_key_type_is_ec(CK_KEY_TYPE_EC_P521));
	g_assert_true(ck_key_type_is_ec(CK_KEY_TYPE_EC_P256));
	g_assert_false(ck_key_type_is_ec(CK_KEY_TYPE_ED25519));
	g_assert_false(ck_key_type_is_ec(CK_KEY_TYPE_RSA_2048));
	g_assert_cmpint(ck_key_type_get_curve(CK_KEY_TYPE_EC_P384), ==, GNUTLS_ECC_CURVE_SECP384R1);
	g_assert_cmpint(ck_key_type_get_curve(CK_KEY_TYPE_RSA_2048), ==, GNUTLS_ECC_CURVE_INVALID);
	g_assert_cmpint(ck_key_type_for_curve(GNUTLS_ECC_CURVE_SECP521R1), ==, CK_KEY_TYPE_EC_P521);
	g_assert_cmpint(ck_key_type_for_curve(GNUTLS_ECC_CURVE_SECP224R1), ==, CK_KEY_TYPE_UNKNOWN);
	g_assert_cmpstr(ck_key_type_to_string(CK_KEY_TYPE_UNKNOWN), ==, "unknown");
	g_assert_cmpstr(ck_key_type_to_string(CK_KEY_TYPE_LAST), ==, "unknown");
	g_assert_cmpint(CK_KEY_TYPE_DEFAULT, ==, CK_KEY_TYPE_EC_P256);
}

static void
test_key_type_aliases(void)
{
	const struct {
		const gchar *name;
		CkKeyType type;
	} cases[] = {
	    {"EC-P256", CK_KEY_TYPE_EC_P256},    {"ec", CK_KEY_TYPE_EC_P256},
	    {"ECDSA", CK_KEY_TYPE_EC_P256},      {"prime256v1", CK_KEY_TYPE_EC_P256},
	    {"secp256r1", CK_KEY_TYPE_EC_P256},  {"P-256", CK_KEY_TYPE_EC_P256},
	    {"rsa", CK_KEY_TYPE_RSA_2048},       {"RSA", CK_KEY_TYPE_RSA_2048},
	    {"RSA:2048", CK_KEY_TYPE_RSA_2048},  {"rsa3072", CK_KEY_TYPE_RSA_3072},
	    {"RSA:3072", CK_KEY_TYPE_RSA_3072},  {"rsa:4096", CK_KEY_TYPE_RSA_4096},
	    {"Ed25519", CK_KEY_TYPE_ED25519},    {"eddsa", CK_KEY_TYPE_ED25519},
	    {"dsa", CK_KEY_TYPE_UNKNOWN},        {"rsa-1024", CK_KEY_TYPE_UNKNOWN},
	    {"rsa:1024", CK_KEY_TYPE_UNKNOWN},   {"ec-p384", CK_KEY_TYPE_EC_P384},
	    {"EC-P384", CK_KEY_TYPE_EC_P384},    {"p384", CK_KEY_TYPE_EC_P384},
	    {"P-384", CK_KEY_TYPE_EC_P384},      {"secp384r1", CK_KEY_TYPE_EC_P384},
	    {"ecdsa-p384", CK_KEY_TYPE_EC_P384}, {"ec:384", CK_KEY_TYPE_EC_P384},
	    {"ECDSA:384", CK_KEY_TYPE_EC_P384},  {"ec-p521", CK_KEY_TYPE_EC_P521},
	    {"p521", CK_KEY_TYPE_EC_P521},       {"P-521", CK_KEY_TYPE_EC_P521},
	    {"secp521r1", CK_KEY_TYPE_EC_P521},  {"ecdsa-p521", CK_KEY_TYPE_EC_P521},
	    {"ec:521", CK_KEY_TYPE_EC_P521},     {"ec-p512", CK_KEY_TYPE_UNKNOWN},
	    {"ec:224", CK_KEY_TYPE_UNKNOWN},     {"secp256k1", CK_KEY_TYPE_UNKNOWN},
	    {"ed448", CK_KEY_TYPE_UNKNOWN},      {"", CK_KEY_TYPE_UNKNOWN},
	    {"unknown", CK_KEY_TYPE_UNKNOWN},    {" rsa", CK_KEY_TYPE_UNKNOWN},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("%s", cases[i].name);
		g_assert_cmpint(ck_key_type_from_string(cases[i].name), ==, cases[i].type);
	}
	g_assert_cmpint(ck_key_type_from_string(NULL), ==, CK_KEY_TYPE_UNKNOWN);
}

static void
test_key_provider_supports(void)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;

	g_assert_cmpstr(ck_key_provider_get_name(provider), ==, "file");
	for (guint t = CK_KEY_TYPE_UNKNOWN + 1; t < CK_KEY_TYPE_LAST; t++)
		g_assert_true(ck_key_provider_supports(provider, (CkKeyType)t));
	g_assert_false(ck_key_provider_supports(provider, CK_KEY_TYPE_UNKNOWN));
	g_assert_false(ck_key_provider_supports(provider, CK_KEY_TYPE_LAST));
	g_assert_null(ck_key_provider_generate(provider, CK_KEY_TYPE_UNKNOWN, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
}

/* Generates @type, checks the stored form is PKCS#8 and that loading it gives the same key. */
static void
ck_test_generate_and_reload(CkKeyType type, gnutls_pk_algorithm_t algo, guint bits)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(CkKey) loaded = NULL;
	g_autoptr(GBytes) pub = NULL;
	g_autoptr(GBytes) loaded_pub = NULL;
	g_autofree gchar *text = NULL;
	GBytes *stored;

	key = ck_key_provider_generate(provider, type, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	g_assert_cmpint(ck_key_get_key_type(key), ==, type);
	ck_test_assert_algorithm(key, algo, bits);

	stored = ck_key_get_stored_form(key);
	g_assert_nonnull(stored);
	text = g_strndup(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored));
	/* unencrypted PKCS#8, whatever the algorithm: what every TLS server reads */
	g_assert_true(g_str_has_prefix(text, "-----BEGIN PRIVATE KEY-----\n"));
	g_assert_nonnull(strstr(text, "-----END PRIVATE KEY-----"));
	g_assert_null(strstr(text, "ENCRYPTED"));

	loaded = ck_key_provider_load(provider, stored, "/test/generated.key", &error);
	g_assert_no_error(error);
	g_assert_nonnull(loaded);
	g_assert_cmpint(ck_key_get_key_type(loaded), ==, type);
	ck_test_assert_algorithm(loaded, algo, bits);
	pub = ck_test_public_der(key);
	loaded_pub = ck_test_public_der(loaded);
	g_assert_true(g_bytes_equal(pub, loaded_pub));
	/* and reloading reproduces the stored form itself */
	g_assert_true(g_bytes_equal(ck_key_get_stored_form(loaded), stored));
}

static void
test_key_generate_ec_p256(void)
{
	ck_test_generate_and_reload(CK_KEY_TYPE_EC_P256, GNUTLS_PK_ECDSA, 256);
}

static void
test_key_generate_ec_p384(void)
{
	ck_test_generate_and_reload(CK_KEY_TYPE_EC_P384, GNUTLS_PK_ECDSA, 384);
}

static void
test_key_generate_ec_p521(void)
{
	/* GnuTLS reports the size of P-521's coordinates in whole bytes: 66 * 8 */
	ck_test_generate_and_reload(CK_KEY_TYPE_EC_P521, GNUTLS_PK_ECDSA,
				    gnutls_ecc_curve_get_size(GNUTLS_ECC_CURVE_SECP521R1) * 8);
}

static void
test_key_generate_ed25519(void)
{
	ck_test_generate_and_reload(CK_KEY_TYPE_ED25519, GNUTLS_PK_EDDSA_ED25519, 0);
}

static void
test_key_generate_rsa_2048(void)
{
	ck_test_generate_and_reload(CK_KEY_TYPE_RSA_2048, GNUTLS_PK_RSA, 2048);
}

static void
test_key_generate_rsa_3072(void)
{
	/* a fraction of a second natively, some seconds under valgrind: worth it once */
	ck_test_generate_and_reload(CK_KEY_TYPE_RSA_3072, GNUTLS_PK_RSA, 3072);
}

static void
test_key_generate_rsa_4096(void)
{
	if (!ck_test_slow()) {
		g_test_skip("slow: set CK_TEST_SLOW=1 or run with -m slow");
		return;
	}
	ck_test_generate_and_reload(CK_KEY_TYPE_RSA_4096, GNUTLS_PK_RSA, 4096);
}

static void
test_key_generate_unique(void)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(CkKey) a = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, NULL);
	g_autoptr(CkKey) b = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, NULL);
	g_autoptr(GBytes) pa = ck_test_public_der(a);
	g_autoptr(GBytes) pb = ck_test_public_der(b);
	g_assert_false(g_bytes_equal(pa, pb));
}

/* An openssl-made key in @pem loads as @type with the same public key openssl reports. */
static void
ck_test_load_foreign(const gchar *pem, const gchar *header, CkKeyType type)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GBytes) stored = ck_test_bytes(pem);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(CkKey) again = NULL;
	g_autoptr(GBytes) pub = NULL;
	g_autoptr(GBytes) again_pub = NULL;
	g_autofree gchar *text = NULL;
	GBytes *form;

	g_assert_true(g_str_has_prefix(pem, header));
	key = ck_key_provider_load(provider, stored, "/test/foreign.key", &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	g_assert_cmpint(ck_key_get_key_type(key), ==, type);
	/* the stored form is normalised to PKCS#8, and that loads to the same key */
	form = ck_key_get_stored_form(key);
	text = g_strndup(g_bytes_get_data(form, NULL), g_bytes_get_size(form));
	g_assert_true(g_str_has_prefix(text, "-----BEGIN PRIVATE KEY-----"));
	again = ck_key_provider_load(provider, form, "/test/foreign.key", &error);
	g_assert_no_error(error);
	pub = ck_test_public_der(key);
	again_pub = ck_test_public_der(again);
	g_assert_true(g_bytes_equal(pub, again_pub));
}

/* The public key openssl derives from @pem, DER, to compare with ours. */
static GBytes *
ck_test_openssl_public_der(const gchar *name)
{
	g_autofree gchar *in = g_build_filename(keys_dir, name, NULL);
	g_autofree gchar *out = g_strdup_printf("%s.pub.der", in);
	const gchar *argv[] = {"openssl",  "pkey", "-in",  in,  "-pubout",
			       "-outform", "DER",  "-out", out, NULL};
	gchar *data = NULL;
	gsize len = 0;

	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_assert_true(g_file_get_contents(out, &data, &len, NULL));
	return g_bytes_new_take(data, len);
}

static void
test_key_load_traditional_ec(void)
{
	const gchar *argv[] = {"openssl", "ecparam", "-name", "prime256v1",
			       "-genkey", "-noout",  NULL};
	g_autofree gchar *pem = ck_test_openssl_key("ec-trad.pem", argv);
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GBytes) stored = ck_test_bytes(pem);
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GBytes) ours = NULL;
	g_autoptr(GBytes) theirs = NULL;

	ck_test_load_foreign(pem, "-----BEGIN EC PRIVATE KEY-----", CK_KEY_TYPE_EC_P256);
	key = ck_key_provider_load(provider, stored, NULL, NULL);
	ours = ck_test_public_der(key);
	theirs = ck_test_openssl_public_der("ec-trad.pem");
	g_assert_true(g_bytes_equal(ours, theirs));
}

/* openssl's P-384 and P-521 keys (traditional and PKCS#8) are recognised by their curve. */
static void
test_key_load_openssl_ec_curves(void)
{
	const struct {
		const gchar *curve, *file;
		CkKeyType type;
	} cases[] = {
	    {"secp384r1", "p384-trad.pem", CK_KEY_TYPE_EC_P384},
	    {"secp521r1", "p521-trad.pem", CK_KEY_TYPE_EC_P521},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		const gchar *trad[] = {"openssl", "ecparam", "-name", cases[i].curve,
				       "-genkey", "-noout",  NULL};
		g_autofree gchar *pkcs8_name = g_strconcat("pkcs8-", cases[i].file, NULL);
		g_autofree gchar *curve_opt =
		    g_strconcat("ec_paramgen_curve:", cases[i].curve, NULL);
		const gchar *pkcs8[] = {"openssl",  "genpkey", "-algorithm", "EC",
					"-pkeyopt", curve_opt, NULL};
		g_autofree gchar *pem = ck_test_openssl_key(cases[i].file, trad);
		g_autofree gchar *pem8 = ck_test_openssl_key(pkcs8_name, pkcs8);
		g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
		g_autoptr(GBytes) stored = ck_test_bytes(pem);
		g_autoptr(CkKey) key = NULL;
		g_autoptr(GBytes) ours = NULL;
		g_autoptr(GBytes) theirs = NULL;

		g_test_message("%s", cases[i].curve);
		ck_test_load_foreign(pem, "-----BEGIN EC PRIVATE KEY-----", cases[i].type);
		ck_test_load_foreign(pem8, "-----BEGIN PRIVATE KEY-----", cases[i].type);
		key = ck_key_provider_load(provider, stored, NULL, NULL);
		ours = ck_test_public_der(key);
		theirs = ck_test_openssl_public_der(cases[i].file);
		g_assert_true(g_bytes_equal(ours, theirs));
	}
}

static void
test_key_load_traditional_rsa(void)
{
	const gchar *argv[] = {"openssl", "genrsa", "-traditional", "2048", NULL};
	g_autofree gchar *pem = ck_test_openssl_key("rsa-trad.pem", argv);
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GBytes) stored = ck_test_bytes(pem);
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GBytes) ours = NULL;
	g_autoptr(GBytes) theirs = NULL;

	ck_test_load_foreign(pem, "-----BEGIN RSA PRIVATE KEY-----", CK_KEY_TYPE_RSA_2048);
	key = ck_key_provider_load(provider, stored, NULL, NULL);
	ours = ck_test_public_der(key);
	theirs = ck_test_openssl_public_der("rsa-trad.pem");
	g_assert_true(g_bytes_equal(ours, theirs));
}

static void
test_key_load_openssl_pkcs8(void)
{
	const gchar *rsa3072[] = {
	    "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:3072", NULL};
	const gchar *ed25519[] = {"openssl", "genpkey", "-algorithm", "ED25519", NULL};
	const gchar *ec[] = {
	    "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", NULL};
	g_autofree gchar *rsa_pem = ck_test_openssl_key("rsa3072.pem", rsa3072);
	g_autofree gchar *ed_pem = ck_test_openssl_key("ed25519.pem", ed25519);
	g_autofree gchar *ec_pem = ck_test_openssl_key("ec-pkcs8.pem", ec);

	/* the size decides the type: a 3072-bit key is not "rsa-2048" */
	ck_test_load_foreign(rsa_pem, "-----BEGIN PRIVATE KEY-----", CK_KEY_TYPE_RSA_3072);
	ck_test_load_foreign(ed_pem, "-----BEGIN PRIVATE KEY-----", CK_KEY_TYPE_ED25519);
	ck_test_load_foreign(ec_pem, "-----BEGIN PRIVATE KEY-----", CK_KEY_TYPE_EC_P256);
}

static void
ck_test_load_unsupported(const gchar *name, const gchar *const *argv, const gchar *what)
{
	g_autofree gchar *pem = ck_test_openssl_key(name, argv);
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GBytes) stored = ck_test_bytes(pem);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;

	key = ck_key_provider_load(provider, stored, "/etc/ssl/private/odd.key", &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "/etc/ssl/private/odd.key"));
	g_assert_nonnull(strstr(error->message, what));
}

static void
test_key_load_unsupported(void)
{
	const gchar *rsa1024[] = {
	    "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", NULL};
	/* a curve GnuTLS knows but certkeeper does not make */
	const gchar *p224[] = {"openssl", "ecparam", "-name", "secp224r1",
			       "-genkey", "-noout",  NULL};
	const gchar *ed448[] = {"openssl", "genpkey", "-algorithm", "ED448", NULL};

	ck_test_load_unsupported("rsa1024.pem", rsa1024, "1024");
	ck_test_load_unsupported("p224.pem", p224, "224");
	ck_test_load_unsupported("ed448.pem", ed448, "448");
}

static void
test_key_load_garbage(void)
{
	const gchar *garbage[] = {
	    "",
	    "not a key at all",
	    "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
	};
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();

	for (guint i = 0; i < G_N_ELEMENTS(garbage); i++) {
		g_autoptr(GBytes) stored = ck_test_bytes(garbage[i]);
		g_autoptr(GError) error = NULL;
		g_autoptr(CkKey) key =
		    ck_key_provider_load(provider, stored, "/srv/keys/broken.key", &error);
		g_assert_null(key);
		g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
		g_test_message("%s", error->message);
		/* the user must learn which file is broken */
		g_assert_nonnull(strstr(error->message, "/srv/keys/broken.key"));
	}
	{
		g_autoptr(GBytes) stored = ck_test_bytes("junk");
		g_autoptr(GError) error = NULL;
		g_assert_null(ck_key_provider_load(provider, stored, NULL, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	}
}

static void
test_key_load_encrypted(void)
{
	const gchar *argv[] = {
	    "openssl", "genpkey", "-algorithm",  "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-aes256", "-pass",   "pass:secret", NULL};
	g_autofree gchar *pem = ck_test_openssl_key("encrypted.pem", argv);
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GBytes) stored = ck_test_bytes(pem);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = NULL;

	/* no passphrase to give: refused, not mistaken for a plain key */
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
	key = ck_key_provider_load(provider, stored, "/k.pem", &error);
	g_assert_null(key);
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
}

/* A self-signed certificate carrying @key's public key. */
static gnutls_x509_crt_t
ck_test_self_signed(CkKey *key)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pub = NULL;
	const guint8 serial[] = {0x01};
	time_t now = time(NULL);
	gnutls_digest_algorithm_t digest = GNUTLS_DIG_SHA256;

	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, ck_key_get_privkey(key), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_dn(crt, "CN=match test", NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_pubkey(crt, pub), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, now + 86400), ==, 0);
	/* Ed25519 hashes internally: it takes no separate digest */
	if (ck_key_get_key_type(key) == CK_KEY_TYPE_ED25519)
		digest = GNUTLS_DIG_UNKNOWN;
	g_assert_cmpint(gnutls_x509_crt_privkey_sign(crt, crt, ck_key_get_privkey(key), digest, 0),
			==, 0);
	gnutls_pubkey_deinit(pub);
	return crt;
}

static void
test_key_matches_certificate(void)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(CkKey) key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, NULL);
	g_autoptr(CkKey) other = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, NULL);
	g_autoptr(CkKey) ed = ck_key_provider_generate(provider, CK_KEY_TYPE_ED25519, NULL);
	g_autoptr(CkKey) reloaded = NULL;
	g_autoptr(GError) error = NULL;
	gnutls_x509_crt_t crt = ck_test_self_signed(key);
	gnutls_x509_crt_t ed_crt = ck_test_self_signed(ed);

	g_assert_true(ck_key_matches_certificate(key, crt, &error));
	g_assert_no_error(error);
	/* the same key read back from its stored form still matches */
	reloaded = ck_key_provider_load(provider, ck_key_get_stored_form(key), NULL, &error);
	g_assert_no_error(error);
	g_assert_true(ck_key_matches_certificate(reloaded, crt, &error));
	g_assert_no_error(error);
	g_assert_true(ck_key_matches_certificate(ed, ed_crt, &error));
	g_assert_no_error(error);

	g_assert_false(ck_key_matches_certificate(other, crt, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	/* another algorithm altogether */
	g_assert_false(ck_key_matches_certificate(ed, crt, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_false(ck_key_matches_certificate(key, ed_crt, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_crt_deinit(ed_crt);
}

static void
test_key_ref_counting(void)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	CkKey *key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, NULL);
	g_autoptr(GBytes) stored = g_bytes_ref(ck_key_get_stored_form(key));

	/* a second owner keeps the key usable after the first lets go */
	g_assert_true(ck_key_ref(key) == key);
	ck_key_unref(key);
	g_assert_true(g_bytes_equal(ck_key_get_stored_form(key), stored));
	g_assert_nonnull(ck_key_get_privkey(key));
	ck_key_unref(key);
	ck_key_unref(NULL);
}

typedef struct {
	GMainLoop *loop;
	GThread *main_thread;
	GThread *callback_thread;
	CkKey *key;
	GError *error;
	gboolean done;
} AsyncData;

static void
on_generated(GObject *source, GAsyncResult *res, gpointer user_data)
{
	AsyncData *data = user_data;
	data->callback_thread = g_thread_self();
	data->key = ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &data->error);
	data->done = TRUE;
	g_main_loop_quit(data->loop);
}

static void
ck_test_generate_async(CkKeyType type, AsyncData *data)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();

	data->loop = g_main_loop_new(NULL, FALSE);
	data->main_thread = g_thread_self();
	ck_key_provider_generate_async(provider, type, NULL, on_generated, data);
	/* the result is delivered through the main context, never from inside the call */
	g_assert_false(data->done);
	g_main_loop_run(data->loop);
	g_main_loop_unref(data->loop);
	g_assert_true(data->done);
	/* completion runs on the thread that owns the main context, not in the worker */
	g_assert_true(data->callback_thread == data->main_thread);
}

static void
test_key_generate_async(void)
{
	AsyncData data = {NULL};
	g_autoptr(GBytes) pub = NULL;

	ck_test_generate_async(CK_KEY_TYPE_EC_P256, &data);
	g_assert_no_error(data.error);
	g_assert_nonnull(data.key);
	g_assert_cmpint(ck_key_get_key_type(data.key), ==, CK_KEY_TYPE_EC_P256);
	ck_test_assert_algorithm(data.key, GNUTLS_PK_ECDSA, 256);
	pub = ck_test_public_der(data.key);
	g_assert_cmpuint(g_bytes_get_size(pub), >, 0);
	ck_key_unref(data.key);
}

static void
test_key_generate_async_error(void)
{
	AsyncData data = {NULL};

	ck_test_generate_async(CK_KEY_TYPE_UNKNOWN, &data);
	g_assert_null(data.key);
	g_assert_error(data.error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_clear_error(&data.error);
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	keys_dir = ck_test_make_tmpdir();
	g_test_add_func("/certkeeper/key-provider-file/type-names", test_key_type_names);
	g_test_add_func("/certkeeper/key-provider-file/type-aliases", test_key_type_aliases);
	g_test_add_func("/certkeeper/key-provider-file/supports", test_key_provider_supports);
	g_test_add_func("/certkeeper/key-provider-file/generate/ec-p256",
			test_key_generate_ec_p256);
	g_test_add_func("/certkeeper/key-provider-file/generate/ec-p384",
			test_key_generate_ec_p384);
	g_test_add_func("/certkeeper/key-provider-file/generate/ec-p521",
			test_key_generate_ec_p521);
	g_test_add_func("/certkeeper/key-provider-file/generate/ed25519",
			test_key_generate_ed25519);
	g_test_add_func("/certkeeper/key-provider-file/generate/rsa-2048",
			test_key_generate_rsa_2048);
	g_test_add_func("/certkeeper/key-provider-file/generate/rsa-3072",
			test_key_generate_rsa_3072);
	g_test_add_func("/certkeeper/key-provider-file/generate/rsa-4096",
			test_key_generate_rsa_4096);
	g_test_add_func("/certkeeper/key-provider-file/generate/unique", test_key_generate_unique);
	g_test_add_func("/certkeeper/key-provider-file/generate/async", test_key_generate_async);
	g_test_add_func("/certkeeper/key-provider-file/generate/async-error",
			test_key_generate_async_error);
	g_test_add_func("/certkeeper/key-provider-file/load/traditional-ec",
			test_key_load_traditional_ec);
	g_test_add_func("/certkeeper/key-provider-file/load/openssl-ec-curves",
			test_key_load_openssl_ec_curves);
	g_test_add_func("/certkeeper/key-provider-file/load/traditional-rsa",
			test_key_load_traditional_rsa);
	g_test_add_func("/certkeeper/key-provider-file/load/openssl-pkcs8",
			test_key_load_openssl_pkcs8);
	g_test_add_func("/certkeeper/key-provider-file/load/unsupported",
			test_key_load_unsupported);
	g_test_add_func("/certkeeper/key-provider-file/load/garbage", test_key_load_garbage);
	g_test_add_func("/certkeeper/key-provider-file/load/encrypted", test_key_load_encrypted);
	g_test_add_func("/certkeeper/key-provider-file/matches-certificate",
			test_key_matches_certificate);
	g_test_add_func("/certkeeper/key-provider-file/ref-counting", test_key_ref_counting);
	rc = g_test_run();
	ck_test_rm_rf(keys_dir);
	g_free(keys_dir);
	return rc;
}
