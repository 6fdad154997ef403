/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TPM keys through the real certkeeperd on a private bus and a swtpm of the
 * test's own: a TPM key issued by the local CA and renewed; a key made by
 * OpenSSL's tpm2 provider tracked and renewed (key reuse and rekey); the TPM
 * restarted on its state; the TPM gone (the request says so and recovers once
 * it is back).
 */
#include "config.h"

#include <string.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"
#include "ck-tss2-key.h"

typedef struct {
	CkTestDaemon *td;
	CkTestSwtpm *swtpm;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	g_autofree gchar *config = NULL;

	f->td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (f->td == NULL)
		return;
	f->swtpm = ck_test_swtpm_new(f->td->dir);
	if (f->swtpm == NULL)
		return;
	/* retries a second apart: what takes hours in the field takes seconds here */
	config = g_strdup_printf("[certkeeperd]\nTpmTcti=%s\n"
				 "[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=2s\n"
				 "MaxAttempts=1000\n",
				 f->swtpm->tcti);
	ck_test_daemon_write_config(f->td, config);
	g_ptr_array_add(f->td->extra_env, g_strdup("TSS2_LOG=all+none"));
	ck_test_daemon_start(f->td);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	if (f->td != NULL && ck_test_daemon_is_running(f->td))
		g_assert_cmpint(ck_test_daemon_stop(f->td), ==, 0);
	g_clear_pointer(&f->swtpm, ck_test_swtpm_free);
	g_clear_pointer(&f->td, ck_test_daemon_free);
}

static gint
run_with_tpm(Fixture *f, const gchar *const *argv, gchar **out, gchar **err)
{
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GError) error = NULL;
	gint status = -1;

	env = g_environ_setenv(env, "TPM2OPENSSL_TCTI", f->swtpm->tcti, TRUE);
	env = g_environ_setenv(env, "TSS2_LOG", "all+none", TRUE);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
				   err, &status, &error));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static gboolean
ready(Fixture *f)
{
	const gchar *argv[] = {"openssl", "list", "-providers", "-provider", "tpm2", NULL};
	g_autofree gchar *out = NULL, *err = NULL;

	if (f->td == NULL || f->swtpm == NULL)
		return FALSE;
	if (run_with_tpm(f, argv, &out, &err) != 0) {
		g_test_skip(
		    "OpenSSL's tpm2 provider is not installed (apt-get install tpm2-openssl)");
		return FALSE;
	}
	return TRUE;
}

/* The public key of a TSS2 key file, as OpenSSL's tpm2 provider reads it. */
static gchar *
key_public(Fixture *f, const gchar *key)
{
	const gchar *argv[] = {"openssl", "pkey", "-provider", "tpm2",    "-provider",
			       "default", "-in",  key,         "-pubout", NULL};
	gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_assert_cmpint(run_with_tpm(f, argv, &out, &err), ==, 0);
	return out;
}

static gchar *
cert_public(const gchar *cert)
{
	const gchar *argv[] = {"openssl", "x509", "-in", cert, "-noout", "-pubkey", NULL};
	gchar *out = NULL;
	g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	return out;
}

/* The certificate holds the TPM key's public key, and the key is a TSS2 key file. */
static void
assert_cert_for_tpm_key(Fixture *f, const gchar *cert, const gchar *key)
{
	g_autofree gchar *pem = ck_test_read_file(key);
	g_autofree gchar *a = key_public(f, key);
	g_autofree gchar *b = cert_public(cert);

	g_assert_true(g_str_has_prefix(pem, "-----BEGIN TSS2 PRIVATE KEY-----"));
	g_assert_cmpstr(a, ==, b);
}

static gchar *
certs_path(Fixture *f, const gchar *name)
{
	g_autofree gchar *dir = ck_test_daemon_path(f->td, "certs");
	g_mkdir_with_parents(dir, 0755);
	return g_build_filename(dir, name, NULL);
}

/* Issued by the built-in local CA with a TPM key, then renewed (a new TPM key each time). */
static void
test_issue_and_renew(Fixture *f, gconstpointer data)
{
	g_autofree gchar *cert = NULL, *key = NULL, *key1 = NULL, *key2 = NULL;
	g_autoptr(JsonObject) first = NULL, renewed = NULL, rsa = NULL;
	CkTestRequestWait wait = {0};

	if (!ready(f))
		return;
	cert = certs_path(f, "tpm.crt");
	key = certs_path(f, "tpm.key");
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "request", "-I", "tpm", "-f",
				    cert, "-k", key, "-N", "CN=tpm.example", "-D", "tpm.example",
				    "--key-provider", "tpm", "-w", "--wait-timeout=60", NULL),
			==, 0);
	first = ck_test_request_json(f->td, "tpm");
	g_assert_cmpstr(ck_test_json_string(first, "State"), ==, "MONITORING");
	g_assert_cmpstr(ck_test_json_string(first, "KeyProvider"), ==, "tpm");
	assert_cert_for_tpm_key(f, cert, key);
	key1 = ck_test_read_file(key);

	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "rekey", "-i", "tpm", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	renewed = ck_test_wait_request(f->td, "tpm", &wait, 60);
	assert_cert_for_tpm_key(f, cert, key);
	key2 = ck_test_read_file(key);
	g_assert_cmpstr(key1, !=, key2);

	/* RSA 2048 works the same; Ed25519 is refused at once, with the choices */
	{
		g_autofree gchar *rcert = certs_path(f, "rsa.crt");
		g_autofree gchar *rkey = certs_path(f, "rsa.key");
		g_autofree gchar *ecert = certs_path(f, "ed.crt");
		g_autofree gchar *ekey = certs_path(f, "ed.key");
		g_autofree gchar *err = NULL;
		g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "request", "-I", "rsa",
					    "-f", rcert, "-k", rkey, "-N", "CN=rsa.example", "-G",
					    "rsa-2048", "--key-provider", "tpm", "-w",
					    "--wait-timeout=120", NULL),
				==, 0);
		rsa = ck_test_request_json(f->td, "rsa");
		g_assert_cmpstr(ck_test_json_string(rsa, "State"), ==, "MONITORING");
		assert_cert_for_tpm_key(f, rcert, rkey);
		g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, &err, "request", "-I", "ed",
					    "-f", ecert, "-k", ekey, "-N", "CN=ed.example", "-G",
					    "ed25519", "--key-provider", "tpm", NULL),
				!=, 0);
		g_assert_nonnull(strstr(err, "cannot make ed25519 keys"));
	}
}

/* The public key of a TSS2 key file as certkeeper reads it (no TPM needed), PEM. */
static gchar *
tss2_public(const gchar *key, gboolean *empty_auth)
{
	g_autofree gchar *pem = ck_test_read_file(key);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkTss2Key) tss2 = ck_tss2_key_parse(pem, strlen(pem), key, &error);
	gnutls_pubkey_t pub;
	gnutls_datum_t out = {NULL, 0};
	gchar *text;

	g_assert_no_error(error);
	*empty_auth = tss2->empty_auth;
	pub = ck_tss2_key_get_pubkey(tss2, &error);
	g_assert_no_error(error);
	g_assert_cmpint(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_PEM, &out), ==, 0);
	text = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	gnutls_pubkey_deinit(pub);
	return text;
}

/* A request whose key file has "<key file>.auth" next to it: its TPM keys get that
 * authorization value, at the first key and at every new one. */
static void
test_auth_value(Fixture *f, gconstpointer data)
{
	g_autofree gchar *cert = NULL, *key = NULL, *auth = NULL;
	g_autofree gchar *pub1 = NULL, *pub2 = NULL, *cert_pub = NULL;
	g_autoptr(JsonObject) first = NULL, rekeyed = NULL;
	CkTestRequestWait wait = {0};
	gboolean empty_auth = TRUE;

	if (!ready(f))
		return;
	cert = certs_path(f, "pin.crt");
	key = certs_path(f, "pin.key");
	auth = certs_path(f, "pin.key.auth");
	g_assert_true(g_file_set_contents(auth, "4711\n", -1, NULL));
	g_assert_cmpint(g_chmod(auth, 0600), ==, 0);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "request", "-I", "pin", "-f",
				    cert, "-k", key, "-N", "CN=pin.example", "--key-provider",
				    "tpm", "-w", "--wait-timeout=60", NULL),
			==, 0);
	first = ck_test_request_json(f->td, "pin");
	g_assert_cmpstr(ck_test_json_string(first, "State"), ==, "MONITORING");
	pub1 = tss2_public(key, &empty_auth);
	g_assert_false(empty_auth);
	cert_pub = cert_public(cert);
	g_assert_cmpstr(pub1, ==, cert_pub);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "rekey", "-i", "pin", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	rekeyed = ck_test_wait_request(f->td, "pin", &wait, 60);
	empty_auth = TRUE;
	pub2 = tss2_public(key, &empty_auth);
	g_assert_false(empty_auth);
	g_assert_cmpstr(pub1, !=, pub2);
	g_clear_pointer(&cert_pub, g_free);
	cert_pub = cert_public(cert);
	g_assert_cmpstr(pub2, ==, cert_pub);
}

/* A key OpenSSL's tpm2 provider made, with a certificate for it: tracked and renewed. */
static void
test_openssl_key_tracked(Fixture *f, gconstpointer data)
{
	g_autofree gchar *cert = NULL, *key = NULL, *before = NULL, *after = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *pub_before = NULL, *pub_after = NULL;
	g_autoptr(JsonObject) tracked = NULL, reused = NULL, rekeyed = NULL;
	CkTestRequestWait wait = {0};

	if (!ready(f))
		return;
	cert = certs_path(f, "made.crt");
	key = certs_path(f, "made.key");
	{
		const gchar *genpkey[] = {"openssl",   "genpkey",     "-provider",  "tpm2",
					  "-provider", "default",     "-algorithm", "EC",
					  "-pkeyopt",  "group:P-256", "-out",       key,
					  NULL};
		const gchar *selfsign[] = {
		    "openssl", "req",   "-provider", "tpm2", "-provider", "default",
		    "-new",    "-x509", "-key",      key,    "-subj",     "/CN=made.example",
		    "-days",   "1",     "-out",      cert,   NULL};
		g_assert_cmpint(run_with_tpm(f, genpkey, &out, &err), ==, 0);
		g_clear_pointer(&err, g_free);
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(run_with_tpm(f, selfsign, &out, &err), ==, 0);
	}
	g_assert_cmpint(g_chmod(key, 0600), ==, 0);
	before = ck_test_read_file(key);
	pub_before = key_public(f, key);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, &err, "start-tracking", "-I", "made",
				    "-f", cert, "-k", key, "--key-provider", "tpm", "--key-policy",
				    "reuse", NULL),
			==, 0);
	tracked = ck_test_request_json(f->td, "made");
	g_assert_nonnull(tracked);
	g_assert_cmpstr(ck_test_json_string(tracked, "KeyProvider"), ==, "tpm");

	/* renewal with the same key: the TPM signs the CSR with OpenSSL's key */
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "made", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(tracked, "Serial")};
	reused = ck_test_wait_request(f->td, "made", &wait, 60);
	after = ck_test_read_file(key);
	g_assert_cmpstr(before, ==, after);
	assert_cert_for_tpm_key(f, cert, key);

	/* and a new key in the TPM on request, which OpenSSL reads as well */
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "rekey", "-i", "made", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(reused, "Serial")};
	rekeyed = ck_test_wait_request(f->td, "made", &wait, 60);
	pub_after = key_public(f, key);
	g_assert_cmpstr(pub_before, !=, pub_after);
	assert_cert_for_tpm_key(f, cert, key);
}

/* The TPM restarts on its persistent state (a reboot): the key still signs. */
static void
test_tpm_restart(Fixture *f, gconstpointer data)
{
	g_autofree gchar *cert = NULL, *key = NULL, *before = NULL, *after = NULL;
	g_autoptr(JsonObject) first = NULL, renewed = NULL;
	CkTestRequestWait wait = {0};

	if (!ready(f))
		return;
	cert = certs_path(f, "boot.crt");
	key = certs_path(f, "boot.key");
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "request", "-I", "boot", "-f",
				    cert, "-k", key, "-N", "CN=boot.example", "--key-provider",
				    "tpm", "--key-policy", "reuse", "-w", "--wait-timeout=60",
				    NULL),
			==, 0);
	first = ck_test_request_json(f->td, "boot");
	before = ck_test_read_file(key);
	ck_test_swtpm_stop(f->swtpm);
	ck_test_swtpm_start(f->swtpm);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "boot", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	renewed = ck_test_wait_request(f->td, "boot", &wait, 60);
	after = ck_test_read_file(key);
	g_assert_cmpstr(before, ==, after);
	assert_cert_for_tpm_key(f, cert, key);
}

/*
 * The TPM goes away: a renewal that needs a new key, and one that signs with the
 * installed key, both say so and wait with the retry backoff, keeping what is
 * installed; once the TPM is back they finish by themselves.
 */
static void
test_tpm_away(Fixture *f, gconstpointer data)
{
	g_autofree gchar *cert = NULL, *key = NULL, *cert2 = NULL, *key2 = NULL;
	g_autofree gchar *old_cert = NULL, *now_cert = NULL;
	g_autoptr(JsonObject) first = NULL, second = NULL, down = NULL, down2 = NULL;
	g_autoptr(JsonObject) back = NULL, back2 = NULL;
	CkTestRequestWait wait = {0};

	if (!ready(f))
		return;
	cert = certs_path(f, "away.crt");
	key = certs_path(f, "away.key");
	cert2 = certs_path(f, "same.crt");
	key2 = certs_path(f, "same.key");
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "request", "-I", "away", "-f",
				    cert, "-k", key, "-N", "CN=away.example", "--key-provider",
				    "tpm", "-w", "--wait-timeout=60", NULL),
			==, 0);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "request", "-I", "same", "-f",
				    cert2, "-k", key2, "-N", "CN=same.example", "--key-provider",
				    "tpm", "--key-policy", "reuse", "-w", "--wait-timeout=60",
				    NULL),
			==, 0);
	first = ck_test_request_json(f->td, "away");
	second = ck_test_request_json(f->td, "same");
	old_cert = ck_test_read_file(cert);

	ck_test_swtpm_stop(f->swtpm);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "rekey", "-i", "away", NULL),
			==, 0);
	g_assert_cmpint(ck_test_cli(f->td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "same", NULL),
			==, 0);
	wait = (CkTestRequestWait){
	    .state = "NEED_KEY_PAIR", .error_part = "No TPM answers at", .min_failed = 2};
	down = ck_test_wait_request(f->td, "away", &wait, 30);
	g_test_message("while the TPM is away: %s", ck_test_json_string(down, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(down, "LastError"), f->swtpm->socket));
	g_assert_cmpint(json_object_get_int_member(down, "NextAttempt"), >, 0);
	wait = (CkTestRequestWait){
	    .state = "NEED_CSR", .error_part = "No TPM answers at", .min_failed = 2};
	down2 = ck_test_wait_request(f->td, "same", &wait, 30);
	g_assert_nonnull(strstr(ck_test_json_string(down2, "LastError"),
				"Cannot create the certificate request"));
	now_cert = ck_test_read_file(cert);
	g_assert_cmpstr(now_cert, ==, old_cert);
	g_assert_true(ck_test_daemon_is_running(f->td));

	ck_test_swtpm_start(f->swtpm);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	back = ck_test_wait_request(f->td, "away", &wait, 30);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	assert_cert_for_tpm_key(f, cert, key);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(second, "Serial")};
	back2 = ck_test_wait_request(f->td, "same", &wait, 30);
	assert_cert_for_tpm_key(f, cert2, key2);
}

#define ADD(path, fn)                                                                              \
	g_test_add("/certkeeper/daemon-tpm/" path, Fixture, NULL, fixture_setup, fn,               \
		   fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	ADD("issue-and-renew", test_issue_and_renew);
	ADD("auth-value", test_auth_value);
	ADD("openssl-key-tracked", test_openssl_key_tracked);
	ADD("tpm-restart", test_tpm_restart);
	ADD("tpm-away", test_tpm_away);
	return g_test_run();
}
