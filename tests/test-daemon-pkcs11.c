/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Keys in a PKCS#11 token through the real daemon and CLI, against SoftHSM:
 * issuance by the local CA, renewal with a new key (the old object removed
 * only after the install), key reuse across a restart, the certificate
 * written into the token, a wrong PIN that loses nothing, and the settings a
 * token key cannot have.
 */
#include "config.h"

#include <gnutls/x509.h>
#include <string.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

typedef struct {
	CkTestDaemon *td;
	gchar *pin_file;
	gchar *cert;
	gchar *chain;
	gchar *uri; /* the request's key location */
} Fixture;

/* A daemon whose SoftHSM store is in its test directory, with token T (PIN 1234). */
static gboolean
ck_test_fixture_setup(Fixture *f, const gchar *extra_config)
{
	const gchar *module = ck_test_softhsm_module();
	g_autofree gchar *conf = NULL;
	g_autofree gchar *config = NULL;
	g_autofree gchar *certs = NULL;

	memset(f, 0, sizeof(*f));
	if (module == NULL || !ck_test_have_program("p11tool")) {
		g_test_skip("softhsm2 or p11tool is not installed");
		return FALSE;
	}
	f->td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (f->td == NULL)
		return FALSE;
	conf = ck_test_softhsm_setup(f->td->dir);
	ck_test_softhsm_init_token("T", "1234");
	g_ptr_array_add(f->td->extra_env, g_strdup_printf("SOFTHSM2_CONF=%s", conf));
	config = g_strdup_printf("[certkeeperd]\nPkcs11Module=%s\n%s", module,
				 extra_config != NULL ? extra_config : "");
	ck_test_daemon_write_config(f->td, config);
	f->pin_file = ck_test_write_file(f->td->dir, "token.pin", "1234\n");
	g_assert_cmpint(g_chmod(f->pin_file, 0600), ==, 0);
	certs = g_build_filename(f->td->dir, "certs", NULL);
	g_assert_cmpint(g_mkdir(certs, 0755), ==, 0);
	f->cert = g_build_filename(certs, "tok.crt", NULL);
	f->chain = g_build_filename(certs, "tok-chain.crt", NULL);
	f->uri = g_strdup_printf("pkcs11:token=T;object=web?pin-source=%s", f->pin_file);
	ck_test_daemon_start(f->td);
	return TRUE;
}

static void
ck_test_fixture_teardown(Fixture *f)
{
	g_clear_pointer(&f->td, ck_test_daemon_free);
	g_free(f->pin_file);
	g_free(f->cert);
	g_free(f->chain);
	g_free(f->uri);
}

static gint
ck_test_request_token(Fixture *f, gboolean wait, gchar **err)
{
	return ck_test_cli(f->td, FALSE, NULL, NULL, err, "request", "-I", "tok", "-f", f->cert,
			   "-k", f->uri, "--key-provider", "pkcs11", "-F", f->chain, "-N",
			   "CN=tok.example", "-D", "tok.example", wait ? "-w" : NULL,
			   "--wait-timeout=30", NULL);
}

static gchar *
ck_test_cert_pubkey(const gchar *path)
{
	const gchar *argv[] = {"openssl", "x509", "-in", path, "-noout", "-pubkey", NULL};
	gchar *out = NULL;
	g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	return g_strstrip(out);
}

/* The public key of the one key object at pkcs11:token=T;object=web, as PEM. */
static gchar *
ck_test_token_pubkey(void)
{
	g_autofree gchar *provider = g_strdup_printf("--provider=%s", ck_test_softhsm_module());
	const gchar *argv[] = {"p11tool", provider, "--export",
			       "pkcs11:token=T;object=web;type=public", NULL};
	g_autofree gchar *out = NULL;
	const gchar *begin;

	g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	begin = strstr(out, "-----BEGIN PUBLIC KEY-----");
	g_assert_nonnull(begin);
	return g_strstrip(g_strdup(begin));
}

/* The token holds one certificate with the label, and it is the live one (the file's). */
static void
ck_test_assert_token_certificate(Fixture *f)
{
	g_autofree gchar *provider = g_strdup_printf("--provider=%s", ck_test_softhsm_module());
	const gchar *argv[] = {"p11tool", provider, "--export",
			       "pkcs11:token=T;object=web;type=cert", NULL};
	g_autofree gchar *exported = NULL;
	g_autofree gchar *file_pem = ck_test_read_file(f->cert);
	gnutls_x509_crt_t in_token = NULL, in_file = NULL;
	gnutls_datum_t a, b;

	g_assert_cmpuint(ck_test_p11tool_count("all-certs", "pkcs11:token=T;object=web", "1234"),
			 ==, 1);
	g_assert_cmpint(ck_test_run(argv, &exported, NULL), ==, 0);
	a.data = (unsigned char *)exported;
	a.size = strlen(exported);
	b.data = (unsigned char *)file_pem;
	b.size = strlen(file_pem);
	g_assert_cmpint(gnutls_x509_crt_init(&in_token), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&in_file), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(in_token, &a, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(in_file, &b, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_equals(in_token, in_file), !=, 0);
	gnutls_x509_crt_deinit(in_token);
	gnutls_x509_crt_deinit(in_file);
}

static guint
ck_test_key_objects(void)
{
	return ck_test_p11tool_count("all-privkeys", "pkcs11:token=T;object=web", "1234");
}

static guint
ck_test_all_objects(void)
{
	return ck_test_p11tool_count("all", "pkcs11:token=T;object=web", "1234");
}

static void
test_pkcs11_issue_and_renew(void)
{
	Fixture f;
	g_autoptr(JsonObject) obj = NULL;
	g_autoptr(JsonObject) renewed = NULL;
	g_autoptr(JsonObject) reused = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *first_pub = NULL, *token_pub = NULL, *second_pub = NULL;
	g_autofree gchar *serial = NULL;
	CkTestRequestWait want = {.state = "MONITORING"};

	if (!ck_test_fixture_setup(&f, NULL))
		return;
	g_assert_cmpint(ck_test_request_token(&f, TRUE, &err), ==, 0);
	obj = ck_test_wait_request(f.td, "tok", &want, 30);
	g_assert_cmpstr(ck_test_json_string(obj, "KeyProvider"), ==, "pkcs11");
	g_assert_cmpstr(ck_test_json_string(obj, "KeyFile"), ==, f.uri);
	g_assert_cmpstr(ck_test_json_string(obj, "LastError"), ==, "");
	/* the certificate is a file, the key is in the token and nowhere else */
	g_assert_true(g_file_test(f.cert, G_FILE_TEST_IS_REGULAR));
	g_assert_false(g_file_test("pkcs11:token=T;object=web", G_FILE_TEST_EXISTS));
	g_assert_cmpuint(ck_test_key_objects(), ==, 1);
	first_pub = ck_test_cert_pubkey(f.cert);
	token_pub = ck_test_token_pubkey();
	g_assert_cmpstr(first_pub, ==, token_pub);
	g_clear_pointer(&token_pub, g_free);

	/* a new key: made beside the old one, which goes once the certificate is in; the
	 * pre-save hook, which runs before the install, counts the key objects */
	serial = g_strdup(ck_test_json_string(obj, "Serial"));
	{
		g_autofree gchar *count_file = ck_test_daemon_path(f.td, "before-install.txt");
		g_autofree gchar *hook = g_strdup_printf(
		    "SOFTHSM2_CONF=%s/softhsm2.conf p11tool --provider=%s --login --set-pin=1234 "
		    "--list-all-privkeys 'pkcs11:token=T;object=web' > %s",
		    f.td->dir, ck_test_softhsm_module(), count_file);
		g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "modify", "-i", "tok",
					    "--pre-save-command", hook, NULL),
				==, 0);
	}
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "rekey", "-i", "tok", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	{
		CkTestRequestWait newer = {.state = "MONITORING", .not_serial = serial};
		renewed = ck_test_wait_request(f.td, "tok", &newer, 30);
	}
	{
		g_autofree gchar *count_file = ck_test_daemon_path(f.td, "before-install.txt");
		g_autofree gchar *listed = ck_test_read_file(count_file);
		guint n = 0;
		for (const gchar *p = listed; (p = strstr(p, "\tURL: ")) != NULL; p++)
			n++;
		g_assert_cmpuint(n, ==, 2);
	}
	g_assert_cmpuint(ck_test_key_objects(), ==, 1);
	g_assert_cmpuint(ck_test_all_objects(), ==, 2); /* its private and public object */
	second_pub = ck_test_cert_pubkey(f.cert);
	g_assert_cmpstr(second_pub, !=, first_pub);
	token_pub = ck_test_token_pubkey();
	g_assert_cmpstr(second_pub, ==, token_pub);
	g_clear_pointer(&token_pub, g_free);
	{
		g_autofree gchar *log = ck_test_read_file(f.td->daemon_log);
		g_assert_nonnull(strstr(log, "generated a ec-p256 key in the token"));
	}

	/* after a restart the certificate still finds its key; resubmit keeps it */
	g_assert_cmpint(ck_test_daemon_stop(f.td), ==, 0);
	ck_test_daemon_start(f.td);
	g_clear_pointer(&serial, g_free);
	serial = g_strdup(ck_test_json_string(renewed, "Serial"));
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "tok", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	{
		CkTestRequestWait newer = {.state = "MONITORING", .not_serial = serial};
		reused = ck_test_wait_request(f.td, "tok", &newer, 30);
	}
	g_assert_cmpstr(ck_test_json_string(reused, "LastError"), ==, "");
	g_assert_cmpuint(ck_test_key_objects(), ==, 1);
	{
		g_autofree gchar *pub = ck_test_cert_pubkey(f.cert);
		g_assert_cmpstr(pub, ==, second_pub);
	}
	ck_test_fixture_teardown(&f);
}

/* Pkcs11StoreCertificates: the certificate goes into the token too, the old one after. */
static void
test_pkcs11_certificate_in_token(void)
{
	Fixture f;
	g_autoptr(JsonObject) obj = NULL;
	g_autofree gchar *serial = NULL;
	CkTestRequestWait want = {.state = "MONITORING"};

	if (!ck_test_fixture_setup(&f, "Pkcs11StoreCertificates=true\n"))
		return;
	g_assert_cmpint(ck_test_request_token(&f, TRUE, NULL), ==, 0);
	obj = ck_test_wait_request(f.td, "tok", &want, 30);
	serial = g_strdup(ck_test_json_string(obj, "Serial"));
	for (guint round = 0; round < 2; round++) {
		/* the token holds the live certificate, not the previous one */
		ck_test_assert_token_certificate(&f);
		if (round == 1)
			break;
		g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "rekey", "-i", "tok",
					    "-w", "--wait-timeout=30", NULL),
				==, 0);
		{
			CkTestRequestWait newer = {.state = "MONITORING", .not_serial = serial};
			g_autoptr(JsonObject) renewed =
			    ck_test_wait_request(f.td, "tok", &newer, 30);
			g_assert_cmpstr(ck_test_json_string(renewed, "LastError"), ==, "");
		}
	}
	g_assert_cmpuint(ck_test_key_objects(), ==, 1);
	ck_test_fixture_teardown(&f);
}

/* A wrong PIN: the request says so, the certificate and the key in the token stay. */
static void
test_pkcs11_wrong_pin(void)
{
	Fixture f;
	g_autoptr(JsonObject) obj = NULL;
	g_autoptr(JsonObject) failed = NULL;
	g_autoptr(JsonObject) fixed = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *pub_before = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *list = NULL;
	CkTestRequestWait want = {.state = "MONITORING"};
	CkTestRequestWait refused = {.error_part = "refused the PIN"};

	if (!ck_test_fixture_setup(&f, NULL))
		return;
	g_assert_cmpint(ck_test_request_token(&f, TRUE, NULL), ==, 0);
	obj = ck_test_wait_request(f.td, "tok", &want, 30);
	serial = g_strdup(ck_test_json_string(obj, "Serial"));
	before = ck_test_read_file(f.cert);
	pub_before = ck_test_token_pubkey();

	/* someone changed the PIN file: the new key cannot be made */
	g_free(ck_test_write_file(f.td->dir, "token.pin", "9999\n"));
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "rekey", "-i", "tok", NULL), ==,
			0);
	failed = ck_test_wait_request(f.td, "tok", &refused, 30);
	g_assert_nonnull(
	    strstr(ck_test_json_string(failed, "LastError"), "pkcs11:token=T;object=web"));
	g_assert_null(strstr(ck_test_json_string(failed, "LastError"), "9999"));
	g_assert_cmpstr(ck_test_json_string(failed, "Serial"), ==, serial);
	g_assert_true(ck_test_daemon_is_running(f.td));
	{
		g_autofree gchar *after = ck_test_read_file(f.cert);
		g_autofree gchar *pub_after = ck_test_token_pubkey();
		g_assert_cmpstr(after, ==, before);
		g_assert_cmpstr(pub_after, ==, pub_before);
	}
	g_assert_cmpuint(ck_test_key_objects(), ==, 1);
	/* the PIN is nowhere in what the daemon logged or shows */
	{
		g_autofree gchar *log = ck_test_read_file(f.td->daemon_log);
		g_assert_null(strstr(log, "9999"));
	}
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, &list, NULL, "list", NULL), ==, 0);
	g_assert_null(strstr(list, "9999"));

	/* the PIN put right, the next renewal works */
	g_free(ck_test_write_file(f.td->dir, "token.pin", "1234\n"));
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "rekey", "-i", "tok", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	{
		CkTestRequestWait newer = {.state = "MONITORING", .not_serial = serial};
		fixed = ck_test_wait_request(f.td, "tok", &newer, 30);
	}
	g_assert_cmpstr(ck_test_json_string(fixed, "LastError"), ==, "");
	g_assert_cmpuint(ck_test_key_objects(), ==, 1);
	ck_test_fixture_teardown(&f);
}

/* A token that is not there: the request says which URI and what to do, and nothing else moves. */
static void
test_pkcs11_missing_token(void)
{
	Fixture f;
	g_autoptr(JsonObject) obj = NULL;
	g_autofree gchar *uri = NULL;
	CkTestRequestWait want = {.error_part = "No token matches"};

	if (!ck_test_fixture_setup(&f, NULL))
		return;
	uri = g_strdup_printf("pkcs11:token=Gone;object=web?pin-source=%s", f.pin_file);
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "request", "-I", "gone", "-f",
				    f.cert, "-k", uri, "--key-provider", "pkcs11", "-N",
				    "CN=gone.example", NULL),
			==, 0);
	obj = ck_test_wait_request(f.td, "gone", &want, 30);
	g_assert_cmpstr(ck_test_json_string(obj, "State"), ==, "NEED_GUIDANCE");
	g_assert_nonnull(
	    strstr(ck_test_json_string(obj, "LastError"), "pkcs11:token=Gone;object=web"));
	g_assert_nonnull(strstr(ck_test_json_string(obj, "LastError"), "p11tool --list-tokens"));
	g_assert_false(g_file_test(f.cert, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(ck_test_all_objects(), ==, 0);
	g_assert_true(ck_test_daemon_is_running(f.td));

	/* a module that is not there: named, with what to fix */
	g_assert_cmpint(ck_test_daemon_stop(f.td), ==, 0);
	ck_test_daemon_write_config(f.td,
				    "[certkeeperd]\nPkcs11Module=/nonexistent/libnothing.so\n");
	ck_test_daemon_start(f.td);
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "rekey", "-i", "gone", NULL), ==,
			0);
	{
		CkTestRequestWait no_module = {.error_part = "/nonexistent/libnothing.so"};
		g_autoptr(JsonObject) failed = ck_test_wait_request(f.td, "gone", &no_module, 30);
		g_assert_nonnull(strstr(ck_test_json_string(failed, "LastError"), "Pkcs11Module="));
	}
	g_assert_true(ck_test_daemon_is_running(f.td));
	ck_test_fixture_teardown(&f);
}

/* A renewal rolled back by its post-install check: the new key object goes, the old one stays. */
static void
test_pkcs11_rollback(void)
{
	Fixture f;
	g_autoptr(JsonObject) obj = NULL;
	g_autoptr(JsonObject) rolled = NULL;
	g_autofree gchar *before = NULL;
	g_autofree gchar *pub_before = NULL;
	CkTestRequestWait want = {.state = "MONITORING"};
	CkTestRequestWait rolled_back = {.error_part = "rolled back"};

	/* no automatic retry while the test looks */
	if (!ck_test_fixture_setup(&f, "Pkcs11StoreCertificates=true\n[renewal]\nRetryDelay=1h\n"))
		return;
	g_assert_cmpint(ck_test_request_token(&f, TRUE, NULL), ==, 0);
	obj = ck_test_wait_request(f.td, "tok", &want, 30);
	before = ck_test_read_file(f.cert);
	pub_before = ck_test_token_pubkey();
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "modify", "-i", "tok",
				    "--check-command", "false", NULL),
			==, 0);
	g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, NULL, "rekey", "-i", "tok", NULL), ==,
			0);
	rolled = ck_test_wait_request(f.td, "tok", &rolled_back, 30);
	g_assert_cmpstr(ck_test_json_string(rolled, "Serial"), ==,
			ck_test_json_string(obj, "Serial"));
	{
		g_autofree gchar *after = ck_test_read_file(f.cert);
		g_autofree gchar *pub_after = ck_test_token_pubkey();
		g_assert_cmpstr(after, ==, before);
		/* exactly one key object: the restored certificate's */
		g_assert_cmpuint(ck_test_key_objects(), ==, 1);
		g_assert_cmpstr(pub_after, ==, pub_before);
	}
	/* the certificate in the token is still the live one: the rolled-back one never got there
	 */
	ck_test_assert_token_certificate(&f);
	ck_test_fixture_teardown(&f);
}

/* What a token key cannot have is refused before anything is made. */
static void
test_pkcs11_refused_settings(void)
{
	Fixture f;
	g_autofree gchar *combined = NULL;
	g_autofree gchar *pin_value = NULL;
	struct {
		const gchar *what;
		const gchar *cert;
		const gchar *key;
		const gchar *extra[3];
		const gchar *expected;
	} cases[] = {
	    {"combined file", NULL, NULL, {"--combined-file", NULL, NULL}, "combined file"},
	    {"certificate in a URI",
	     "pkcs11:token=T;object=web",
	     NULL,
	     {NULL},
	     "Pkcs11StoreCertificates"},
	    {"PIN in the URI", NULL, NULL, {NULL}, "pin-source="},
	    {"no label", NULL, "pkcs11:token=T", {NULL}, "object=LABEL"},
	    {"unknown provider", NULL, NULL, {NULL}, "Unknown key provider"},
	};

	if (!ck_test_fixture_setup(&f, NULL))
		return;
	combined = g_build_filename(f.td->dir, "certs", "tok.pem", NULL);
	cases[0].extra[1] = combined;
	pin_value = g_strdup("pkcs11:token=T;object=web?pin-value=1234");
	cases[2].key = pin_value;
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *err = NULL;
		const gchar *provider = i == 4 ? "no-such-provider" : "pkcs11";
		g_test_message("case: %s", cases[i].what);
		g_assert_cmpint(ck_test_cli(f.td, FALSE, NULL, NULL, &err, "request", "-I", "bad",
					    "-f", cases[i].cert != NULL ? cases[i].cert : f.cert,
					    "-k", cases[i].key != NULL ? cases[i].key : f.uri,
					    "--key-provider", provider, "-N", "CN=bad",
					    cases[i].extra[0], cases[i].extra[1], NULL),
				==, 1);
		g_assert_nonnull(strstr(err, cases[i].expected));
		g_assert_null(strstr(err, "pin-value=1234"));
	}
	g_assert_cmpuint(ck_test_all_objects(), ==, 0);
	g_assert_false(g_file_test(f.cert, G_FILE_TEST_EXISTS));
	g_assert_true(ck_test_daemon_is_running(f.td));
	ck_test_fixture_teardown(&f);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/daemon-pkcs11/issue-and-renew", test_pkcs11_issue_and_renew);
	g_test_add_func("/certkeeper/daemon-pkcs11/certificate-in-token",
			test_pkcs11_certificate_in_token);
	g_test_add_func("/certkeeper/daemon-pkcs11/wrong-pin", test_pkcs11_wrong_pin);
	g_test_add_func("/certkeeper/daemon-pkcs11/rollback", test_pkcs11_rollback);
	g_test_add_func("/certkeeper/daemon-pkcs11/missing-token", test_pkcs11_missing_token);
	g_test_add_func("/certkeeper/daemon-pkcs11/refused-settings", test_pkcs11_refused_settings);
	return g_test_run();
}
