/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The built-in CA: its files on disk, what it signs, serials, validity and refusals. */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/stat.h>

#include "ck-ca-local.h"
#include "ck-clock.h"
#include "ck-error.h"
#include "ck-key-provider-file.h"
#include "ck-proof.h"
#include "ck-test-util.h"

#define DAY (24 * 60 * 60)

typedef struct {
	gchar *dir;
	gchar *ca_dir;
	CkKey *key; /* the key the test CSRs are made with */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;

	f->dir = ck_test_make_tmpdir();
	/* not created here: the CA makes its own directory */
	f->ca_dir = g_build_filename(f->dir, "local-ca", NULL);
	f->key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->ca_dir);
	ck_key_unref(f->key);
}

static CkCaLocal *
ck_test_ca_new(const gchar *dir, guint default_days)
{
	g_autoptr(GError) error = NULL;
	CkCaLocal *ca = CK_CA_LOCAL(ck_ca_local_new("local", dir, default_days));
	g_assert_true(ck_ca_local_ensure(ca, &error));
	g_assert_no_error(error);
	return ca;
}

static gchar *
ck_test_ca_file(Fixture *f, const gchar *name)
{
	return g_build_filename(f->ca_dir, name, NULL);
}

static gchar *
ck_test_read(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *contents = NULL;
	g_file_get_contents(path, &contents, NULL, &error);
	g_assert_no_error(error);
	return contents;
}

static gnutls_x509_crt_t
ck_test_crt(const gchar *pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	return crt;
}

static gchar *
ck_test_crt_dn(gnutls_x509_crt_t crt, gboolean issuer)
{
	gnutls_datum_t dn = {NULL, 0};
	gchar *result;
	if (issuer)
		g_assert_cmpint(gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0), ==, 0);
	else
		g_assert_cmpint(gnutls_x509_crt_get_dn3(crt, &dn, 0), ==, 0);
	result = g_strndup((const gchar *)dn.data, dn.size);
	gnutls_free(dn.data);
	return result;
}

static gchar *
ck_test_crt_serial(gnutls_x509_crt_t crt)
{
	guint8 serial[64];
	size_t size = sizeof(serial);
	GString *hex = g_string_new(NULL);
	g_assert_cmpint(gnutls_x509_crt_get_serial(crt, serial, &size), ==, 0);
	for (gsize i = 0; i < size; i++)
		g_string_append_printf(hex, "%02x", serial[i]);
	return g_string_free(hex, FALSE);
}

static gchar *
ck_test_csr(CkKey *key, const CkCsrParams *params)
{
	g_autoptr(GError) error = NULL;
	gchar *pem = ck_csr_build(params, ck_key_get_privkey(key), &error);
	g_assert_no_error(error);
	g_assert_nonnull(pem);
	return pem;
}

static gchar *
ck_test_simple_csr(CkKey *key, const gchar *cn)
{
	g_autofree gchar *subject = g_strdup_printf("CN=%s", cn);
	CkCsrParams params = {.subject = subject};
	return ck_test_csr(key, &params);
}

/* A correctly signed request that asks for basicConstraints CA:TRUE. */
static gchar *
ck_test_ca_csr(CkKey *key)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t out = {NULL, 0};
	gchar *pem;

	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_version(crq, 1), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_dn(crq, "CN=wants to be a CA", NULL), ==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, ck_key_get_privkey(key), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_pubkey(crq, pub), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_basic_constraints(crq, 1, -1), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crq_privkey_sign(crq, ck_key_get_privkey(key), GNUTLS_DIG_SHA256, 0), ==,
	    0);
	g_assert_cmpint(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &out), ==, 0);
	pem = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);
	return pem;
}

static gchar *
ck_test_sign(CkCaLocal *ca, const gchar *csr, guint days, gchar **chain_out)
{
	g_autoptr(GError) error = NULL;
	gchar *pem = ck_ca_local_sign(ca, csr, (gint64)days * DAY, chain_out, &error);
	g_assert_no_error(error);
	g_assert_nonnull(pem);
	return pem;
}

/* GnuTLS's own path validation: @leaf via @intermediate up to @root_pem, now. */
static guint
ck_test_verify_chain(const gchar *root_pem, const gchar *intermediate_pem, const gchar *leaf_pem)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t root = ck_test_crt(root_pem);
	gnutls_x509_crt_t chain[2] = {ck_test_crt(leaf_pem), ck_test_crt(intermediate_pem)};
	unsigned int status = 0;

	g_assert_cmpint(gnutls_x509_trust_list_init(&tl, 0), ==, 0);
	/* the trust list takes the root */
	g_assert_cmpint(gnutls_x509_trust_list_add_cas(tl, &root, 1, 0), ==, 1);
	g_assert_cmpint(gnutls_x509_trust_list_verify_crt(tl, chain, 2, 0, &status, NULL), ==, 0);
	gnutls_x509_trust_list_deinit(tl, 1);
	gnutls_x509_crt_deinit(chain[0]);
	gnutls_x509_crt_deinit(chain[1]);
	return status;
}

/* Every serial listed in the serials file, in order. */
static GPtrArray *
ck_test_recorded_serials(Fixture *f)
{
	g_autofree gchar *path = ck_test_ca_file(f, "serials");
	g_autofree gchar *text = ck_test_read(path);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	GPtrArray *serials = g_ptr_array_new_with_free_func(g_free);

	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = NULL;
		if (lines[i][0] == '\0')
			continue;
		fields = g_strsplit(lines[i], " ", 3);
		g_ptr_array_add(serials, g_strdup(fields[0]));
	}
	return serials;
}

static gboolean
ck_test_ptr_array_has(GPtrArray *array, const gchar *value)
{
	return g_ptr_array_find_with_equal_func(array, value, g_str_equal, NULL);
}

static void
ck_test_assert_no_temp_files(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;
	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL)
		g_assert_null(strstr(name, ".ck-tmp-"));
}

static void
test_ca_local_ensure_creates(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	const gchar *files[] = {"root.pem", "root.key", "ca.pem", "ca.key", "serials"};
	g_autofree gchar *root_path = ck_test_ca_file(f, "root.pem");
	g_autofree gchar *ca_path = ck_test_ca_file(f, "ca.pem");
	g_autofree gchar *root_key_path = ck_test_ca_file(f, "root.key");
	g_autofree gchar *ca_key_path = ck_test_ca_file(f, "ca.key");
	g_autofree gchar *root_text = ck_test_read(root_path);
	g_autofree gchar *ca_text = ck_test_read(ca_path);
	gnutls_x509_crt_t root, inter;
	unsigned int critical = 0, ca_flag = 0, usage = 0, verify = 0;
	int path_len = -2;
	g_autofree gchar *root_dn = NULL;
	g_autofree gchar *root_issuer = NULL;
	g_autofree gchar *inter_issuer = NULL;

	g_assert_cmpstr(ck_ca_get_name(CK_CA(ca)), ==, "local");
	g_assert_cmpstr(ck_ca_get_kind(CK_CA(ca)), ==, "local");
	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_autofree gchar *path = ck_test_ca_file(f, files[i]);
		g_test_message("%s", files[i]);
		g_assert_true(g_file_test(path, G_FILE_TEST_IS_REGULAR));
	}
	/* private keys and the directory are for root's eyes only */
	g_assert_cmpint(ck_test_file_mode(f->ca_dir), ==, 0700);
	g_assert_cmpint(ck_test_file_mode(root_key_path), ==, 0600);
	g_assert_cmpint(ck_test_file_mode(ca_key_path), ==, 0600);
	ck_test_assert_no_temp_files(f->ca_dir);

	g_assert_cmpstr(ck_ca_local_get_root_pem(ca), ==, root_text);
	g_assert_cmpstr(ck_ca_local_get_intermediate_pem(ca), ==, ca_text);

	root = ck_test_crt(root_text);
	inter = ck_test_crt(ca_text);
	/* the root is self-signed and a CA; the intermediate is a CA under it, path length 0 */
	root_dn = ck_test_crt_dn(root, FALSE);
	root_issuer = ck_test_crt_dn(root, TRUE);
	inter_issuer = ck_test_crt_dn(inter, TRUE);
	g_assert_cmpstr(root_dn, ==, root_issuer);
	g_assert_cmpstr(inter_issuer, ==, root_dn);
	g_assert_cmpint(gnutls_x509_crt_get_basic_constraints(root, &critical, &ca_flag, &path_len),
			>, 0);
	g_assert_cmpuint(ca_flag, ==, 1);
	g_assert_cmpint(
	    gnutls_x509_crt_get_basic_constraints(inter, &critical, &ca_flag, &path_len), >, 0);
	g_assert_cmpuint(ca_flag, ==, 1);
	g_assert_cmpint(path_len, ==, 0);
	g_assert_cmpint(gnutls_x509_crt_get_key_usage(inter, &usage, &critical), >=, 0);
	g_assert_true(usage & GNUTLS_KEY_KEY_CERT_SIGN);
	g_assert_cmpint(gnutls_x509_crt_verify(inter, &root, 1, 0, &verify), ==, 0);
	g_assert_cmpuint(verify, ==, 0);
	/* the issuing CA must outlive what it issues by years */
	g_assert_cmpint(gnutls_x509_crt_get_expiration_time(inter), >,
			(time_t)ck_clock_now() + 5 * 365 * DAY);
	gnutls_x509_crt_deinit(root);
	gnutls_x509_crt_deinit(inter);
}

static void
test_ca_local_ensure_idempotent(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) first = ck_test_ca_new(f->ca_dir, 0);
	g_autoptr(CkCaLocal) second = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *root_key_path = ck_test_ca_file(f, "root.key");
	g_autofree gchar *ca_key_path = ck_test_ca_file(f, "ca.key");
	g_autofree gchar *root_path = ck_test_ca_file(f, "root.pem");
	g_autofree gchar *root_key = ck_test_read(root_key_path);
	g_autofree gchar *ca_key = ck_test_read(ca_key_path);
	g_autofree gchar *root_key_after = NULL;
	g_autofree gchar *ca_key_after = NULL;
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "idem.example");
	g_autofree gchar *leaf = NULL;
	g_autofree gchar *chain = NULL;
	struct stat before, after;

	g_assert_cmpint(g_stat(root_path, &before), ==, 0);
	g_assert_true(ck_ca_local_ensure(first, &error));
	g_assert_no_error(error);

	/* a daemon restart: the same CA, not a new one */
	second = ck_test_ca_new(f->ca_dir, 0);
	g_assert_cmpstr(ck_ca_local_get_root_pem(second), ==, ck_ca_local_get_root_pem(first));
	g_assert_cmpstr(ck_ca_local_get_intermediate_pem(second), ==,
			ck_ca_local_get_intermediate_pem(first));
	g_assert_cmpint(g_stat(root_path, &after), ==, 0);
	g_assert_cmpuint(before.st_ino, ==, after.st_ino);
	root_key_after = ck_test_read(root_key_path);
	ca_key_after = ck_test_read(ca_key_path);
	g_assert_cmpstr(root_key_after, ==, root_key);
	g_assert_cmpstr(ca_key_after, ==, ca_key);

	/* and what the second one signs chains to the first one's root */
	leaf = ck_test_sign(second, csr, 0, &chain);
	g_assert_cmpuint(ck_test_verify_chain(ck_ca_local_get_root_pem(first), chain, leaf), ==, 0);
}

static void
test_ca_local_ensure_fails(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *blocker = ck_test_write_file(f->dir, "blocker", "a file, not a dir");
	g_autofree gchar *dir = g_build_filename(blocker, "local-ca", NULL);
	g_autoptr(CkCa) ca = ck_ca_local_new("local", dir, 0);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *roots = NULL;

	g_assert_false(ck_ca_local_ensure(CK_CA_LOCAL(ca), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_clear_error(&error);
	roots = ck_ca_get_root_certificates(ca, &error);
	g_assert_null(roots);
	g_assert_nonnull(error);
}

static void
test_ca_local_ensure_broken(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *ca_key_path = ck_test_ca_file(f, "ca.key");
	g_autofree gchar *ca_path = ck_test_ca_file(f, "ca.pem");
	g_autofree gchar *root_before = NULL;
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "broken.example");
	g_autoptr(CkCaLocal) ca = NULL;
	g_autoptr(GError) error = NULL;

	{
		g_autoptr(CkCaLocal) first = ck_test_ca_new(f->ca_dir, 0);
		root_before = g_strdup(ck_ca_local_get_root_pem(first));
	}
	/* the issuing key is damaged: the CA must say so, every time, and not start over */
	g_assert_true(g_file_set_contents(ca_key_path, "not a key", -1, NULL));
	ca = CK_CA_LOCAL(ck_ca_local_new("local", f->ca_dir, 0));
	g_assert_false(ck_ca_local_ensure(ca, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, ca_key_path));
	g_clear_error(&error);
	/* a second try (each submission retries) fails the same way */
	g_assert_null(ck_ca_local_sign(ca, csr, 0, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_clear_error(&error);
	{
		g_autofree gchar *root_now = NULL;
		g_autofree gchar *root_path = ck_test_ca_file(f, "root.pem");
		root_now = ck_test_read(root_path);
		g_assert_cmpstr(root_now, ==, root_before);
	}
	/* and a damaged certificate names its file too */
	g_assert_true(g_file_set_contents(ca_path, "not a certificate", -1, NULL));
	g_clear_object(&ca);
	ca = CK_CA_LOCAL(ck_ca_local_new("local", f->ca_dir, 0));
	g_assert_false(ck_ca_local_ensure(ca, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_assert_nonnull(strstr(error->message, ca_path));
}

static void
test_ca_local_sign_leaf(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	const gchar *dns[] = {"leaf.example", "*.leaf.example", NULL};
	const gchar *ips[] = {"192.0.2.7", "2001:db8::7", NULL};
	const gchar *emails[] = {"leaf@example.org", NULL};
	const gchar *uris[] = {"spiffe://example.org/leaf", NULL};
	const gchar *eku[] = {"serverAuth", "clientAuth", NULL};
	CkCsrParams params = {.subject = "CN=leaf.example,O=Example,C=DE",
			      .dns_names = dns,
			      .ip_addresses = ips,
			      .emails = emails,
			      .uris = uris,
			      .extended_key_usage = eku};
	g_autofree gchar *csr = ck_test_csr(f->key, &params);
	g_autofree gchar *chain = NULL;
	g_autofree gchar *leaf_pem = ck_test_sign(ca, csr, 0, &chain);
	gnutls_x509_crt_t leaf = ck_test_crt(leaf_pem);
	gnutls_x509_crt_t inter = ck_test_crt(ck_ca_local_get_intermediate_pem(ca));
	g_autofree gchar *dn = ck_test_crt_dn(leaf, FALSE);
	g_autofree gchar *issuer = ck_test_crt_dn(leaf, TRUE);
	g_autofree gchar *inter_dn = ck_test_crt_dn(inter, FALSE);
	g_autofree gchar *leaf_serial = ck_test_crt_serial(leaf);
	g_autofree gchar *inter_serial = ck_test_crt_serial(inter);
	g_autoptr(GError) error = NULL;
	unsigned int critical = 0, ca_flag = 7, usage = 0;
	int path_len = 0;
	g_autoptr(GPtrArray) san_text = g_ptr_array_new_with_free_func(g_free);
	guint n_ip = 0;

	g_assert_cmpstr(chain, ==, ck_ca_local_get_intermediate_pem(ca));
	g_assert_cmpstr(dn, ==, params.subject);
	g_assert_cmpstr(issuer, ==, inter_dn);
	g_assert_cmpstr(leaf_serial, !=, inter_serial);
	g_assert_cmpint(gnutls_x509_crt_get_version(leaf), ==, 3);
	/* the certificate is for the CSR's key, nobody else's */
	g_assert_true(ck_key_matches_certificate(f->key, leaf, &error));
	g_assert_no_error(error);

	/* an end entity, said explicitly */
	g_assert_cmpint(gnutls_x509_crt_get_basic_constraints(leaf, &critical, &ca_flag, &path_len),
			==, 0);
	g_assert_cmpuint(ca_flag, ==, 0);
	/* no key usage asked for: the EC default is digitalSignature alone */
	g_assert_cmpint(gnutls_x509_crt_get_key_usage(leaf, &usage, &critical), >=, 0);
	g_assert_cmphex(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE);

	for (guint seq = 0;; seq++) {
		guint8 buf[512];
		size_t size = sizeof(buf);
		int type = gnutls_x509_crt_get_subject_alt_name(leaf, seq, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		g_assert_cmpint(type, >=, 0);
		if (type == GNUTLS_SAN_IPADDRESS) {
			g_assert_cmpuint(size, ==, n_ip == 0 ? 4 : 16);
			n_ip++;
			continue;
		}
		g_ptr_array_add(san_text, g_strdup_printf("%d:%.*s", type, (int)size, buf));
	}
	g_assert_cmpuint(n_ip, ==, 2);
	g_assert_cmpuint(san_text->len, ==, 4);
	{
		g_autofree gchar *d0 = g_strdup_printf("%d:%s", GNUTLS_SAN_DNSNAME, dns[0]);
		g_autofree gchar *d1 = g_strdup_printf("%d:%s", GNUTLS_SAN_DNSNAME, dns[1]);
		g_autofree gchar *e0 = g_strdup_printf("%d:%s", GNUTLS_SAN_RFC822NAME, emails[0]);
		g_autofree gchar *u0 = g_strdup_printf("%d:%s", GNUTLS_SAN_URI, uris[0]);
		g_assert_true(ck_test_ptr_array_has(san_text, d0));
		g_assert_true(ck_test_ptr_array_has(san_text, d1));
		g_assert_true(ck_test_ptr_array_has(san_text, e0));
		g_assert_true(ck_test_ptr_array_has(san_text, u0));
	}
	for (guint i = 0; i < 2; i++) {
		gchar oid[128];
		size_t size = sizeof(oid);
		g_assert_cmpint(gnutls_x509_crt_get_key_purpose_oid(leaf, i, oid, &size, NULL), ==,
				0);
		g_assert_cmpstr(oid, ==, i == 0 ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2");
	}

	g_assert_cmpuint(ck_test_verify_chain(ck_ca_local_get_root_pem(ca), chain, leaf_pem), ==,
			 0);
	gnutls_x509_crt_deinit(leaf);
	gnutls_x509_crt_deinit(inter);
}

static void
test_ca_local_sign_openssl_verifies(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "openssl.example");
	g_autofree gchar *chain = NULL;
	g_autofree gchar *leaf = ck_test_sign(ca, csr, 0, &chain);
	g_autofree gchar *root_path = ck_test_ca_file(f, "root.pem");
	g_autofree gchar *ca_path = ck_test_ca_file(f, "ca.pem");
	g_autofree gchar *leaf_path = ck_test_write_file(f->dir, "leaf.pem", leaf);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *text = NULL;
	const gchar *verify[] = {"openssl",    "verify", "-CAfile", root_path,
				 "-untrusted", ca_path,  leaf_path, NULL};
	const gchar *show[] = {"openssl", "x509", "-noout", "-text", "-in", leaf_path, NULL};

	g_assert_cmpint(ck_test_run(verify, &out, &err), ==, 0);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, ": OK"));
	g_assert_cmpint(ck_test_run(show, &text, NULL), ==, 0);
	g_assert_nonnull(strstr(text, "CA:FALSE"));
	g_assert_nonnull(strstr(text, "Subject: CN = openssl.example"));
}

static void
test_ca_local_sign_sans_only(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	const gchar *dns[] = {"nameless.example", NULL};
	CkCsrParams params = {.dns_names = dns};
	g_autofree gchar *csr = ck_test_csr(f->key, &params);
	g_autofree gchar *chain = NULL;
	g_autofree gchar *leaf_pem = ck_test_sign(ca, csr, 0, &chain);
	g_autofree gchar *root_path = ck_test_ca_file(f, "root.pem");
	g_autofree gchar *ca_path = ck_test_ca_file(f, "ca.pem");
	g_autofree gchar *leaf_path = ck_test_write_file(f->dir, "leaf.pem", leaf_pem);
	const gchar *verify[] = {"openssl",    "verify", "-x509_strict", "-CAfile", root_path,
				 "-untrusted", ca_path,  leaf_path,      NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gnutls_x509_crt_t leaf = ck_test_crt(leaf_pem);
	guint8 buf[256];
	size_t size = sizeof(buf);
	unsigned int critical = 0;
	gnutls_datum_t ext = {NULL, 0};

	/* RFC 5280 4.2.1.6: with an empty subject the SAN carries the names and is critical */
	g_assert_cmpint(gnutls_x509_crt_get_subject_alt_name(leaf, 0, buf, &size, NULL), ==,
			GNUTLS_SAN_DNSNAME);
	g_assert_cmpmem(buf, size, dns[0], strlen(dns[0]));
	/* (get_subject_alt_name() does not report criticality in GnuTLS 3.7: ask directly) */
	g_assert_cmpint(
	    gnutls_x509_crt_get_extension_by_oid2(leaf, GNUTLS_X509EXT_OID_SAN, 0, &ext, &critical),
	    ==, 0);
	gnutls_free(ext.data);
	g_assert_cmpuint(critical, !=, 0);
	/* one SAN extension, replaced rather than added twice */
	g_assert_cmpint(
	    gnutls_x509_crt_get_extension_by_oid2(leaf, GNUTLS_X509EXT_OID_SAN, 1, &ext, &critical),
	    ==, GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	size = sizeof(buf);
	g_assert_cmpint(gnutls_x509_crt_get_subject_alt_name(leaf, 1, buf, &size, NULL), ==,
			GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	gnutls_x509_crt_deinit(leaf);
	/* a strict verifier checks exactly that */
	ck_test_run(verify, &out, &err);
	g_test_message("%s%s", out, err);
	g_assert_nonnull(strstr(out, ": OK"));
}

static void
test_ca_local_refuses_nameless(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t out = {NULL, 0};
	g_autofree gchar *csr = NULL;
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) error = NULL;

	/* neither subject nor SAN: a certificate for no one (ck_csr_build() refuses to make it) */
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_version(crq, 1), ==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, ck_key_get_privkey(f->key), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_set_pubkey(crq, pub), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crq_privkey_sign(crq, ck_key_get_privkey(f->key), GNUTLS_DIG_SHA256, 0), ==,
	    0);
	g_assert_cmpint(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &out), ==, 0);
	csr = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	gnutls_pubkey_deinit(pub);
	gnutls_x509_crq_deinit(crq);

	pem = ck_ca_local_sign(ca, csr, 0, NULL, &error);
	g_assert_null(pem);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
test_ca_local_sign_other_root_fails(Fixture *f, gconstpointer user_data)
{
	/* a control for the chain checks: another CA's root must not accept our leaves */
	g_autofree gchar *other_dir = g_build_filename(f->dir, "other-ca", NULL);
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autoptr(CkCaLocal) other = ck_test_ca_new(other_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "stranger.example");
	g_autofree gchar *chain = NULL;
	g_autofree gchar *leaf = ck_test_sign(ca, csr, 0, &chain);

	g_assert_cmpstr(ck_ca_local_get_root_pem(ca), !=, ck_ca_local_get_root_pem(other));
	g_assert_cmpuint(ck_test_verify_chain(ck_ca_local_get_root_pem(other), chain, leaf), !=, 0);
}

static void
test_ca_local_sign_rsa_key_usage(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(CkKey) rsa = ck_key_provider_generate(provider, CK_KEY_TYPE_RSA_2048, NULL);
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	const gchar *ku[] = {"digitalSignature", "keyAgreement", NULL};
	CkCsrParams with_ku = {.subject = "CN=ku.example", .key_usage = ku};
	g_autofree gchar *rsa_csr = ck_test_simple_csr(rsa, "rsa.example");
	g_autofree gchar *ku_csr = ck_test_csr(f->key, &with_ku);
	g_autofree gchar *rsa_leaf = ck_test_sign(ca, rsa_csr, 0, NULL);
	g_autofree gchar *ku_leaf = ck_test_sign(ca, ku_csr, 0, NULL);
	gnutls_x509_crt_t crt;
	unsigned int usage = 0, critical = 0;

	/* RSA keys also encipher keys (TLS 1.2 RSA key exchange) by default */
	crt = ck_test_crt(rsa_leaf);
	g_assert_cmpint(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), >=, 0);
	g_assert_cmphex(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);
	gnutls_x509_crt_deinit(crt);
	/* what the CSR asked for is what it gets */
	crt = ck_test_crt(ku_leaf);
	g_assert_cmpint(gnutls_x509_crt_get_key_usage(crt, &usage, &critical), >=, 0);
	g_assert_cmphex(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_AGREEMENT);
	gnutls_x509_crt_deinit(crt);
}

/* Asserts @leaf_pem lives from a little before now to now + @days (within a minute). */
static void
ck_test_assert_lifetime(const gchar *leaf_pem, time_t start, guint days)
{
	gnutls_x509_crt_t crt = ck_test_crt(leaf_pem);
	time_t not_before = gnutls_x509_crt_get_activation_time(crt);
	time_t not_after = gnutls_x509_crt_get_expiration_time(crt);
	/* the CA's own clock: time() reads the coarse clock, which can still show the
	 * previous second after the CA has stamped the next one */
	time_t end = (time_t)ck_clock_now();

	g_test_message("lifetime %" G_GINT64_FORMAT " s", (gint64)(not_after - not_before));
	/* back-dated a little for clock skew elsewhere, but never into the future */
	g_assert_cmpint(not_before, <=, start);
	g_assert_cmpint(not_before, >=, start - 3600);
	g_assert_cmpint(not_after, >=, start + (time_t)days * DAY - 60);
	g_assert_cmpint(not_after, <=, end + (time_t)days * DAY + 60);
	gnutls_x509_crt_deinit(crt);
}

static void
test_ca_local_validity(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *other_dir = g_build_filename(f->dir, "thirty", NULL);
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autoptr(CkCaLocal) thirty = ck_test_ca_new(other_dir, 30);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "validity.example");
	time_t start = (time_t)ck_clock_now();
	g_autofree gchar *default_leaf = ck_test_sign(ca, csr, 0, NULL);
	g_autofree gchar *ninety = ck_test_sign(ca, csr, 90, NULL);
	g_autofree gchar *one = ck_test_sign(ca, csr, 1, NULL);
	g_autofree gchar *thirty_default = ck_test_sign(thirty, csr, 0, NULL);
	g_autofree gchar *thirty_asked = ck_test_sign(thirty, csr, 7, NULL);

	ck_test_assert_lifetime(default_leaf, start, 365);
	ck_test_assert_lifetime(ninety, start, 90);
	ck_test_assert_lifetime(one, start, 1);
	/* the CA's configured default, and a request's own wish over it */
	ck_test_assert_lifetime(thirty_default, start, 30);
	ck_test_assert_lifetime(thirty_asked, start, 7);
	/* lifetimes below a day, for short-lived certificates */
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *minutes = ck_ca_local_sign(ca, csr, 600, NULL, &error);
		gnutls_x509_crt_t crt = NULL;
		g_assert_no_error(error);
		crt = ck_test_crt(minutes);
		g_assert_cmpint(gnutls_x509_crt_get_expiration_time(crt), >=, start + 600);
		g_assert_cmpint(gnutls_x509_crt_get_expiration_time(crt), <=,
				(time_t)ck_clock_now() + 600);
		gnutls_x509_crt_deinit(crt);
	}
}

static void
test_ca_local_validity_capped(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "forever.example");
	g_autofree gchar *chain = NULL;
	g_autofree gchar *leaf_pem = ck_test_sign(ca, csr, 36500, &chain);
	gnutls_x509_crt_t leaf = ck_test_crt(leaf_pem);
	gnutls_x509_crt_t inter = ck_test_crt(chain);

	/* a hundred years asked, the issuing CA's end given: a longer leaf would not verify */
	g_assert_cmpint(gnutls_x509_crt_get_expiration_time(inter), <,
			(time_t)ck_clock_now() + 36500LL * DAY);
	g_assert_cmpint(gnutls_x509_crt_get_expiration_time(leaf), ==,
			gnutls_x509_crt_get_expiration_time(inter));
	g_assert_cmpuint(ck_test_verify_chain(ck_ca_local_get_root_pem(ca), chain, leaf_pem), ==,
			 0);
	gnutls_x509_crt_deinit(leaf);
	gnutls_x509_crt_deinit(inter);
}

static void
test_ca_local_serials(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "serial.example");
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GPtrArray) issued = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) recorded = NULL;
	g_autofree gchar *serials_path = ck_test_ca_file(f, "serials");

	g_assert_cmpint(ck_test_file_mode(serials_path), ==, 0600);
	for (guint i = 0; i < 50; i++) {
		g_autofree gchar *leaf = ck_test_sign(ca, csr, 0, NULL);
		gnutls_x509_crt_t crt = ck_test_crt(leaf);
		gchar *serial = ck_test_crt_serial(crt);
		g_autoptr(GPtrArray) so_far = NULL;

		gnutls_x509_crt_deinit(crt);
		/* positive, no leading zero byte, and long enough to be unguessable */
		g_assert_cmpuint(strlen(serial), ==, 32);
		g_assert_cmpint(g_ascii_xdigit_value(serial[0]), <, 8);
		g_assert_false(serial[0] == '0' && serial[1] == '0');
		g_assert_false(g_hash_table_contains(seen, serial));
		g_hash_table_add(seen, g_strdup(serial));
		/* on disk before the certificate is handed out */
		so_far = ck_test_recorded_serials(f);
		g_assert_cmpuint(so_far->len, ==, i + 1);
		g_assert_cmpstr(g_ptr_array_index(so_far, i), ==, serial);
		g_ptr_array_add(issued, serial);
	}
	recorded = ck_test_recorded_serials(f);
	g_assert_cmpuint(recorded->len, ==, 50);
	for (guint i = 0; i < issued->len; i++)
		g_assert_true(ck_test_ptr_array_has(recorded, g_ptr_array_index(issued, i)));
}

static void
test_ca_local_serials_persist(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "persist.example");
	g_autoptr(GPtrArray) first_serials = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) recorded = NULL;
	g_autofree gchar *serials_path = ck_test_ca_file(f, "serials");
	g_autofree gchar *line = NULL;

	{
		g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
		for (guint i = 0; i < 3; i++) {
			g_autofree gchar *leaf = ck_test_sign(ca, csr, 0, NULL);
			gnutls_x509_crt_t crt = ck_test_crt(leaf);
			g_ptr_array_add(first_serials, ck_test_crt_serial(crt));
			gnutls_x509_crt_deinit(crt);
		}
	}
	{
		/* a restarted CA appends to the record instead of starting it over */
		g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
		g_autofree gchar *leaf = ck_test_sign(ca, csr, 0, NULL);
		gnutls_x509_crt_t crt = ck_test_crt(leaf);
		g_autofree gchar *serial = ck_test_crt_serial(crt);
		gnutls_x509_crt_deinit(crt);
		recorded = ck_test_recorded_serials(f);
		g_assert_cmpuint(recorded->len, ==, 4);
		for (guint i = 0; i < 3; i++)
			g_assert_cmpstr(g_ptr_array_index(recorded, i), ==,
					g_ptr_array_index(first_serials, i));
		g_assert_cmpstr(g_ptr_array_index(recorded, 3), ==, serial);
	}
	/* each record names the subject too, for a human reading it */
	line = ck_test_read(serials_path);
	g_assert_nonnull(strstr(line, "CN=persist.example"));
}

static void
test_ca_local_refuses_ca_request(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_ca_csr(f->key);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *pem = ck_ca_local_sign(ca, csr, 0, &chain, &error);
	g_autoptr(GPtrArray) recorded = ck_test_recorded_serials(f);

	g_assert_null(pem);
	g_assert_null(chain);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_test_message("%s", error->message);
	/* nothing was issued */
	g_assert_cmpuint(recorded->len, ==, 0);
}

static void
test_ca_local_refuses_bad_csr(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCaLocal) ca = ck_test_ca_new(f->ca_dir, 0);
	g_autofree gchar *good = ck_test_simple_csr(f->key, "tamper-me.example");
	g_autofree gchar *tampered =
	    ck_test_pem_patch(good, "NEW CERTIFICATE REQUEST", "tamper-me", "tamper-us");
	const gchar *bad[] = {tampered, "not a certificate request", "",
			      "-----BEGIN NEW CERTIFICATE REQUEST-----\nAAAA\n"
			      "-----END NEW CERTIFICATE REQUEST-----\n"};
	g_autoptr(GPtrArray) recorded = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *pem = ck_ca_local_sign(ca, bad[i], 0, NULL, &error);
		g_assert_null(pem);
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_test_message("%s", error->message);
	}
	recorded = ck_test_recorded_serials(f);
	g_assert_cmpuint(recorded->len, ==, 0);
}

typedef struct {
	GMainLoop *loop;
	guint pending;
	GPtrArray *results; /* CkCaResult */
	GThread *main_thread;
} SubmitData;

static void
on_submitted(GObject *source, GAsyncResult *res, gpointer user_data)
{
	SubmitData *data = user_data;
	g_autoptr(GError) error = NULL;
	CkCaResult *result = ck_ca_submit_finish(CK_CA(source), res, &error);

	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_true(g_thread_self() == data->main_thread);
	g_ptr_array_add(data->results, result);
	if (--data->pending == 0)
		g_main_loop_quit(data->loop);
}

static GPtrArray *
ck_test_submit(CkCa *ca, const gchar *const *csrs, guint n, guint days)
{
	SubmitData data = {.loop = g_main_loop_new(NULL, FALSE),
			   .pending = n,
			   .results =
			       g_ptr_array_new_with_free_func((GDestroyNotify)ck_ca_result_free),
			   .main_thread = g_thread_self()};

	for (guint i = 0; i < n; i++) {
		CkCaSubmission submission = {
		    .request_id = "r", .csr = csrs[i], .validity = (gint64)days * DAY};
		ck_ca_submit_async(ca, &submission, NULL, on_submitted, &data);
	}
	/* results arrive through the main loop, not from inside submit_async() */
	g_assert_cmpuint(data.results->len, ==, 0);
	g_main_loop_run(data.loop);
	g_main_loop_unref(data.loop);
	return data.results;
}

static void
test_ca_local_submit_async(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "async.example");
	const gchar *csrs[] = {csr};
	g_autoptr(GPtrArray) results = NULL;
	CkCaResult *result;
	gnutls_x509_crt_t crt;
	g_autofree gchar *dn = NULL;

	/* no ensure() first: submitting creates the CA on first use */
	results = ck_test_submit(ca, csrs, 1, 10);
	result = g_ptr_array_index(results, 0);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	g_assert_nonnull(result->certificate);
	g_assert_cmpstr(result->chain, ==, ck_ca_local_get_intermediate_pem(CK_CA_LOCAL(ca)));
	g_assert_null(result->cookie);
	crt = ck_test_crt(result->certificate);
	dn = ck_test_crt_dn(crt, FALSE);
	g_assert_cmpstr(dn, ==, "CN=async.example");
	gnutls_x509_crt_deinit(crt);
	ck_test_assert_lifetime(result->certificate, (time_t)ck_clock_now() - 60, 10);
}

static void
test_ca_local_submit_async_rejected(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autofree gchar *ca_csr = ck_test_ca_csr(f->key);
	const gchar *csrs[] = {"garbage", ca_csr};
	g_autoptr(GPtrArray) results = ck_test_submit(ca, csrs, G_N_ELEMENTS(csrs), 0);

	/* a bad request is the CA saying no, with a reason for the human who must look */
	g_assert_cmpuint(results->len, ==, 2);
	for (guint i = 0; i < results->len; i++) {
		CkCaResult *result = g_ptr_array_index(results, i);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_REJECTED);
		g_assert_null(result->certificate);
		g_assert_nonnull(result->message);
		g_assert_cmpstr(result->message, !=, "");
	}
}

static void
test_ca_local_submit_concurrent(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "many.example");
	const gchar *csrs[10];
	g_autoptr(GPtrArray) results = NULL;
	g_autoptr(GPtrArray) recorded = NULL;
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	for (guint i = 0; i < G_N_ELEMENTS(csrs); i++)
		csrs[i] = csr;
	/* worker threads race for the CA: it must create itself once and serialise serials */
	results = ck_test_submit(ca, csrs, G_N_ELEMENTS(csrs), 0);
	for (guint i = 0; i < results->len; i++) {
		CkCaResult *result = g_ptr_array_index(results, i);
		gnutls_x509_crt_t crt;
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
		g_assert_cmpuint(ck_test_verify_chain(ck_ca_local_get_root_pem(CK_CA_LOCAL(ca)),
						      result->chain, result->certificate),
				 ==, 0);
		crt = ck_test_crt(result->certificate);
		g_hash_table_add(seen, ck_test_crt_serial(crt));
		gnutls_x509_crt_deinit(crt);
	}
	g_assert_cmpuint(g_hash_table_size(seen), ==, G_N_ELEMENTS(csrs));
	recorded = ck_test_recorded_serials(f);
	g_assert_cmpuint(recorded->len, ==, G_N_ELEMENTS(csrs));
}

static void
test_ca_local_root_certificates(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("corp-local", f->ca_dir, 0);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *roots = ck_ca_get_root_certificates(ca, &error);
	g_autofree gchar *root_path = ck_test_ca_file(f, "root.pem");
	g_autofree gchar *root_file = NULL;
	gnutls_x509_crt_t crt;
	g_autofree gchar *dn = NULL;
	g_autofree gchar *issuer = NULL;

	/* asking for the anchors also brings the CA into being */
	g_assert_no_error(error);
	g_assert_nonnull(roots);
	g_assert_cmpstr(ck_ca_get_name(ca), ==, "corp-local");
	root_file = ck_test_read(root_path);
	g_assert_cmpstr(roots, ==, root_file);
	/* the anchor is the self-signed root, not the issuing intermediate */
	g_assert_cmpstr(roots, !=, ck_ca_local_get_intermediate_pem(CK_CA_LOCAL(ca)));
	crt = ck_test_crt(roots);
	dn = ck_test_crt_dn(crt, FALSE);
	issuer = ck_test_crt_dn(crt, TRUE);
	g_assert_cmpstr(dn, ==, issuer);
	gnutls_x509_crt_deinit(crt);
}

/* Attestation proofs (the recovery ladder's last step) */

/* One submission through the CkCa interface, as the engine makes it. */
static CkCaResult *
ck_test_submit_one(CkCa *ca, const CkCaSubmission *submission)
{
	SubmitData data = {.loop = g_main_loop_new(NULL, FALSE),
			   .pending = 1,
			   .results = g_ptr_array_new(),
			   .main_thread = g_thread_self()};
	CkCaResult *result;

	ck_ca_submit_async(ca, submission, NULL, on_submitted, &data);
	g_main_loop_run(data.loop);
	g_main_loop_unref(data.loop);
	result = g_ptr_array_index(data.results, 0);
	g_ptr_array_unref(data.results);
	return result;
}

static void
on_nonce(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkCaResult **out = user_data;
	g_autoptr(GError) error = NULL;
	*out = ck_ca_proof_nonce_finish(CK_CA(source), res, &error);
	g_assert_no_error(error);
}

/* A nonce through the CkCa interface. */
static gchar *
ck_test_nonce(CkCa *ca)
{
	CkCaSubmission submission = {.request_id = "r", .identity = "proof"};
	g_autoptr(CkCaResult) result = NULL;
	ck_ca_proof_nonce_async(ca, &submission, NULL, on_nonce, &result);
	while (result == NULL)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	g_assert_nonnull(result->nonce);
	return g_steal_pointer(&result->nonce);
}

/* Submits @csr authenticated by a proof @proof_key makes over @nonce. */
static CkCaResult *
ck_test_submit_proof(CkCa *ca, const gchar *csr, CkKey *proof_key, const gchar *nonce)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *algorithm = NULL, *signature = NULL, *public_key = NULL;
	CkCaSubmission submission = {.request_id = "r", .csr = csr, .identity = "proof"};

	g_assert_true(ck_proof_sign(proof_key, nonce, csr, &algorithm,
				    &signature, &error));
	g_assert_no_error(error);
	/* what the engine sends along, and what the CA must not take as a registration */
	public_key = ck_proof_public_key(proof_key, &error);
	g_assert_no_error(error);
	submission.proof_public_key = public_key;
	submission.proof_nonce = nonce;
	submission.proof_signature = signature;
	submission.proof_algorithm = algorithm;
	return ck_test_submit_one(ca, &submission);
}

/* Enrolls CN=@cn with @proof_key's public key, which registers it. */
static void
ck_test_enroll_with_proof_key(CkCa *ca, CkKey *key, const gchar *cn, CkKey *proof_key)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *csr = ck_test_simple_csr(key, cn);
	g_autofree gchar *public_key = ck_proof_public_key(proof_key, &error);
	CkCaSubmission submission = {
	    .request_id = "r", .csr = csr, .identity = "none", .proof_public_key = public_key};
	g_autoptr(CkCaResult) result = ck_test_submit_one(ca, &submission);

	g_assert_no_error(error);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
}

static CkKey *
ck_test_new_key(CkKeyType type)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;
	CkKey *key = ck_key_provider_generate(provider, type, &error);
	g_assert_no_error(error);
	return key;
}

static void
test_ca_local_proof_accepted(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autoptr(CkKey) proof_key = ck_test_new_key(CK_KEY_TYPE_EC_P256);
	g_autoptr(CkKey) rsa_proof_key = ck_test_new_key(CK_KEY_TYPE_RSA_2048);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "device.example");
	g_autofree gchar *nonce = NULL, *registered = NULL, *expected = NULL, *dn = NULL;
	g_autofree gchar *proof_keys = ck_test_ca_file(f, "proof-keys");
	g_autoptr(CkCaResult) result = NULL;
	g_autoptr(GError) error = NULL;
	gnutls_x509_crt_t crt;

	ck_test_enroll_with_proof_key(ca, f->key, "device.example", proof_key);
	/* registered durably, for the subject, in the CA's directory */
	registered = ck_ca_local_get_proof_key(CK_CA_LOCAL(ca), "CN=device.example");
	expected = ck_proof_public_key(proof_key, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(registered, ==, expected);
	g_assert_true(g_file_test(proof_keys, G_FILE_TEST_EXISTS));
	g_assert_cmpint(ck_test_file_mode(proof_keys), ==, 0600);

	nonce = ck_test_nonce(ca);
	result = ck_test_submit_proof(ca, csr, proof_key, nonce);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	crt = ck_test_crt(result->certificate);
	dn = ck_test_crt_dn(crt, FALSE);
	g_assert_cmpstr(dn, ==, "CN=device.example");
	gnutls_x509_crt_deinit(crt);

	/* an RSA proof key works the same */
	{
		g_autofree gchar *csr2 = ck_test_simple_csr(f->key, "rsa.example");
		g_autofree gchar *nonce2 = NULL;
		g_autoptr(CkCaResult) result2 = NULL;
		ck_test_enroll_with_proof_key(ca, f->key, "rsa.example", rsa_proof_key);
		nonce2 = ck_test_nonce(ca);
		result2 = ck_test_submit_proof(ca, csr2, rsa_proof_key, nonce2);
		g_assert_cmpint(result2->outcome, ==, CK_CA_OUTCOME_ISSUED);
	}
	/* a CA started again still knows the registration */
	{
		g_autoptr(CkCa) again = ck_ca_local_new("local", f->ca_dir, 0);
		g_autofree gchar *nonce3 = ck_test_nonce(again);
		g_autoptr(CkCaResult) result3 = ck_test_submit_proof(again, csr, proof_key, nonce3);
		g_assert_cmpint(result3->outcome, ==, CK_CA_OUTCOME_ISSUED);
	}
}

static void
test_ca_local_proof_nonce_single_use(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autoptr(CkKey) proof_key = ck_test_new_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "device.example");
	g_autofree gchar *nonce = NULL, *other = NULL;
	g_autoptr(CkCaResult) first = NULL, replay = NULL, made_up = NULL;

	ck_test_enroll_with_proof_key(ca, f->key, "device.example", proof_key);
	nonce = ck_test_nonce(ca);
	other = ck_test_nonce(ca);
	g_assert_cmpstr(nonce, !=, other);
	first = ck_test_submit_proof(ca, csr, proof_key, nonce);
	g_assert_cmpint(first->outcome, ==, CK_CA_OUTCOME_ISSUED);
	/* the very same proof again: a replay */
	replay = ck_test_submit_proof(ca, csr, proof_key, nonce);
	g_assert_cmpint(replay->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_assert_nonnull(strstr(replay->message, "used before"));
	/* a nonce this CA never made */
	made_up = ck_test_submit_proof(ca, csr, proof_key, "not-a-nonce-of-this-ca");
	g_assert_cmpint(made_up->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_assert_nonnull(strstr(made_up->message, "nonce"));
}

static void
test_ca_local_proof_nonce_expires(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = NULL;
	g_autoptr(CkKey) proof_key = ck_test_new_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "device.example");
	g_autofree gchar *offset = g_build_filename(f->dir, "clock-offset", NULL);
	g_autofree gchar *nonce = NULL, *text = NULL;
	g_autoptr(CkCaResult) stale = NULL;

#ifndef CK_FAULT_INJECTION
	g_test_skip("needs a fault-injection build (meson -Dfault_injection=true)");
	return;
#endif
	ca = ck_ca_local_new("local", f->ca_dir, 0);
	ck_test_enroll_with_proof_key(ca, f->key, "device.example", proof_key);
	nonce = ck_test_nonce(ca);
	/* the CA's clock moves past the nonce's lifetime */
	text = g_strdup_printf("%d\n", CK_PROOF_NONCE_LIFETIME + 1);
	g_assert_true(g_file_set_contents(offset, text, -1, NULL));
	g_setenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE", offset, TRUE);
	ck_clock_reload_offset();
	stale = ck_test_submit_proof(ca, csr, proof_key, nonce);
	g_unsetenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE");
	ck_clock_reload_offset();
	g_assert_cmpint(stale->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_assert_nonnull(strstr(stale->message, "expired"));
}

static void
test_ca_local_proof_wrong_key(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autoptr(CkKey) proof_key = ck_test_new_key(CK_KEY_TYPE_EC_P256);
	g_autoptr(CkKey) impostor = ck_test_new_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "device.example");
	g_autofree gchar *other_csr = ck_test_simple_csr(f->key, "other.example");
	g_autofree gchar *nonce = NULL, *registered = NULL, *expected = NULL;
	g_autoptr(CkCaResult) wrong = NULL, moved = NULL, right = NULL;
	g_autoptr(GError) error = NULL;

	ck_test_enroll_with_proof_key(ca, f->key, "device.example", proof_key);
	nonce = ck_test_nonce(ca);
	wrong = ck_test_submit_proof(ca, csr, impostor, nonce);
	g_assert_cmpint(wrong->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_test_message("%s", wrong->message);
	g_assert_nonnull(strstr(wrong->message, "CN=device.example"));
	g_assert_nonnull(strstr(wrong->message, "does not verify"));
	/* the impostor's public key, sent along, did not replace the registered one */
	registered = ck_ca_local_get_proof_key(CK_CA_LOCAL(ca), "CN=device.example");
	expected = ck_proof_public_key(proof_key, &error);
	g_assert_cmpstr(registered, ==, expected);

	/* a valid signature, but over another CSR than the one submitted */
	g_clear_pointer(&nonce, g_free);
	nonce = ck_test_nonce(ca);
	{
		g_autofree gchar *algorithm = NULL, *signature = NULL;
		CkCaSubmission submission = {.request_id = "r", .csr = csr, .identity = "proof"};
		g_assert_true(ck_proof_sign(proof_key, nonce, other_csr,
					    &algorithm, &signature, &error));
		submission.proof_nonce = nonce;
		submission.proof_signature = signature;
		submission.proof_algorithm = algorithm;
		moved = ck_test_submit_one(ca, &submission);
		g_assert_cmpint(moved->outcome, ==, CK_CA_OUTCOME_REJECTED);
	}
	/* no proof at all, although the identity says so */
	{
		CkCaSubmission submission = {.request_id = "r", .csr = csr, .identity = "proof"};
		g_autoptr(CkCaResult) bare = ck_test_submit_one(ca, &submission);
		g_assert_cmpint(bare->outcome, ==, CK_CA_OUTCOME_REJECTED);
	}
	/* the right key still works with a fresh nonce */
	g_clear_pointer(&nonce, g_free);
	nonce = ck_test_nonce(ca);
	right = ck_test_submit_proof(ca, csr, proof_key, nonce);
	g_assert_cmpint(right->outcome, ==, CK_CA_OUTCOME_ISSUED);
}

static void
test_ca_local_proof_unregistered(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autoptr(CkKey) proof_key = ck_test_new_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "stranger.example");
	g_autofree gchar *nonce = ck_test_nonce(ca);
	g_autoptr(CkCaResult) result = ck_test_submit_proof(ca, csr, proof_key, nonce);

	/* nothing was registered for the subject: a human must enroll it again */
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_UNDERCONFIGURED);
	g_test_message("%s", result->message);
	g_assert_nonnull(strstr(result->message, "No proof key is registered for "
						 "CN=stranger.example"));
	g_assert_null(ck_ca_local_get_proof_key(CK_CA_LOCAL(ca), "CN=stranger.example"));
}

static void
test_ca_local_proof_register_refuses_garbage(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkCa) ca = ck_ca_local_new("local", f->ca_dir, 0);
	g_autofree gchar *csr = ck_test_simple_csr(f->key, "device.example");
	CkCaSubmission submission = {.request_id = "r",
				     .csr = csr,
				     .identity = "none",
				     .proof_public_key = "bm90IGEga2V5"};
	g_autoptr(CkCaResult) result = ck_test_submit_one(ca, &submission);

	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_assert_nonnull(strstr(result->message, "SubjectPublicKeyInfo"));
	g_assert_null(ck_ca_local_get_proof_key(CK_CA_LOCAL(ca), "CN=device.example"));
}

#define CK_ADD(path, func)                                                                         \
	g_test_add("/certkeeper/ca-local/" path, Fixture, NULL, fixture_setup, func,               \
		   fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	CK_ADD("ensure/creates", test_ca_local_ensure_creates);
	CK_ADD("ensure/idempotent", test_ca_local_ensure_idempotent);
	CK_ADD("ensure/fails", test_ca_local_ensure_fails);
	CK_ADD("ensure/broken", test_ca_local_ensure_broken);
	CK_ADD("sign/leaf", test_ca_local_sign_leaf);
	CK_ADD("sign/sans-only", test_ca_local_sign_sans_only);
	CK_ADD("sign/refuses-nameless", test_ca_local_refuses_nameless);
	CK_ADD("sign/openssl-verifies", test_ca_local_sign_openssl_verifies);
	CK_ADD("sign/other-root-fails", test_ca_local_sign_other_root_fails);
	CK_ADD("sign/key-usage", test_ca_local_sign_rsa_key_usage);
	CK_ADD("sign/validity", test_ca_local_validity);
	CK_ADD("sign/validity-capped", test_ca_local_validity_capped);
	CK_ADD("sign/serials", test_ca_local_serials);
	CK_ADD("sign/serials-persist", test_ca_local_serials_persist);
	CK_ADD("sign/refuses-ca-request", test_ca_local_refuses_ca_request);
	CK_ADD("sign/refuses-bad-csr", test_ca_local_refuses_bad_csr);
	CK_ADD("submit/issued", test_ca_local_submit_async);
	CK_ADD("submit/rejected", test_ca_local_submit_async_rejected);
	CK_ADD("submit/concurrent", test_ca_local_submit_concurrent);
	CK_ADD("root-certificates", test_ca_local_root_certificates);
	CK_ADD("proof/accepted", test_ca_local_proof_accepted);
	CK_ADD("proof/nonce-single-use", test_ca_local_proof_nonce_single_use);
	CK_ADD("proof/nonce-expires", test_ca_local_proof_nonce_expires);
	CK_ADD("proof/wrong-key", test_ca_local_proof_wrong_key);
	CK_ADD("proof/unregistered", test_ca_local_proof_unregistered);
	CK_ADD("proof/register-refuses-garbage", test_ca_local_proof_register_refuses_garbage);
	return g_test_run();
}
