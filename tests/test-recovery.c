/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The recovery ladder through the real daemon and the built-in local CA (seed
 * 001 user story 2, FR-009..FR-014, FR-031): a device whose certificate and
 * bootstrap identity both expired renews through an attestation proof without
 * anyone acting, and every way that can fail ends in NEED_GUIDANCE naming why.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define DAY (24 * 60 * 60)

static gboolean
recovery_have_tools(void)
{
	if (!ck_test_have_program("openssl") || !ck_test_have_program("certtool")) {
		g_test_skip("openssl or certtool is missing");
		return FALSE;
	}
	return TRUE;
}

/*
 * The device was offline too long: with the daemon stopped, its certificate is
 * replaced by one of the same name and key that expired a day ago.
 */
static void
recovery_expire(CkTestDaemon *td, const gchar *name)
{
	g_autofree gchar *cert = g_strdup_printf("%s/certs/%s.crt", td->dir, name);
	g_autofree gchar *key = g_strdup_printf("%s/certs/%s.key", td->dir, name);
	g_autofree gchar *cn = g_strdup_printf("%s.example", name);
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	ck_test_make_self_signed(cn, now - 40 * DAY, now - DAY, key, cert);
}

static void
recovery_enroll(CkTestDaemon *td, const gchar *name, const gchar *proof_key)
{
	g_autofree gchar *cert = g_strdup_printf("%s/certs/%s.crt", td->dir, name);
	g_autofree gchar *key = g_strdup_printf("%s/certs/%s.key", td->dir, name);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", name);
	g_autofree gchar *certs = g_build_filename(td->dir, "certs", NULL);
	g_autoptr(JsonObject) status = NULL;

	g_mkdir_with_parents(certs, 0755);
	if (proof_key != NULL)
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", name, "-f",
					    cert, "-k", key, "-N", subject, "--proof-key",
					    proof_key, "-w", "--wait-timeout=30", NULL),
				==, 0);
	else
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", name, "-f",
					    cert, "-k", key, "-N", subject, "-w",
					    "--wait-timeout=30", NULL),
				==, 0);
	status = ck_test_request_json(td, name);
	g_assert_cmpstr(ck_test_json_string(status, "State"), ==, "MONITORING");
	g_assert_cmpstr(ck_test_json_string(status, "Identity"), ==, "none");
	g_assert_cmpstr(ck_test_json_string(status, "RecoveryStep"), ==, "none");
	g_assert_cmpstr(ck_test_json_string(status, "RecoveryReason"), ==, "");
}

/* The daemon with the local CA, and @extra configuration (may be NULL). */
static CkTestDaemon *
recovery_start_daemon_with(const gchar *extra)
{
	CkTestDaemon *td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL;

	if (td == NULL)
		return NULL;
	/* retries a second apart, so a failed step shows at once */
	config = g_strdup_printf("[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=2s\n%s",
				 extra != NULL ? extra : "");
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	return td;
}

static CkTestDaemon *
recovery_start_daemon(void)
{
	return recovery_start_daemon_with(NULL);
}

/* Certificate and bootstrap identity expired: the proof renews, without anyone acting. */
static void
test_recovery_local_proof(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *proof_key = NULL, *boot_key = NULL, *boot_cert = NULL;
	g_autofree gchar *out = NULL, *proof_keys = NULL, *registered = NULL;
	g_autoptr(JsonObject) expired = NULL, recovered = NULL, restarted = NULL;
	CkTestRequestWait wait = {0};
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (!recovery_have_tools())
		return;
	td = recovery_start_daemon();
	if (td == NULL)
		return;
	proof_key = ck_test_daemon_path(td, "proof.key");
	ck_test_make_ec_key(proof_key);
	/* enrolled with the proof key: the local CA registers its public key */
	recovery_enroll(td, "device", proof_key);
	proof_keys = g_build_filename(td->state_dir, "local-ca", "proof-keys", NULL);
	registered = ck_test_read_file(proof_keys);
	g_assert_nonnull(strstr(registered, "\tCN=device.example\n"));

	/* its bootstrap identity has expired too */
	boot_key = ck_test_daemon_path(td, "boot.key");
	boot_cert = ck_test_daemon_path(td, "boot.crt");
	ck_test_make_ec_key(boot_key);
	ck_test_make_self_signed("bootstrap.example", now - 90 * DAY, now - 60 * DAY, boot_key,
				 boot_cert);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "-i", "device",
				    "--bootstrap-cert", boot_cert, "--bootstrap-key", boot_key, NULL),
			==, 0);
	expired = ck_test_request_json(td, "device");
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	recovery_expire(td, "device");
	ck_test_daemon_start(td);

	/* the expired certificate is taken in, then renewed through the proof */
	wait.state = "MONITORING";
	wait.not_serial = ck_test_json_string(expired, "Serial");
	for (gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;;) {
		g_clear_pointer(&recovered, json_object_unref);
		recovered = ck_test_wait_request(td, "device", &wait, 30);
		if (json_object_get_int_member(recovered, "NotAfter") > now ||
		    g_get_monotonic_time() > deadline)
			break;
		g_usleep(200 * 1000);
	}
	g_assert_cmpint(json_object_get_int_member(recovered, "NotAfter"), >, now);
	g_assert_cmpstr(ck_test_json_string(recovered, "Identity"), ==, "proof");
	g_assert_cmpstr(ck_test_json_string(recovered, "RecoveryStep"), ==, "proof");
	g_test_message("recovery reason: %s", ck_test_json_string(recovered, "RecoveryReason"));
	g_assert_nonnull(
	    strstr(ck_test_json_string(recovered, "RecoveryReason"), "current: the certificate expired"));
	g_assert_nonnull(strstr(ck_test_json_string(recovered, "RecoveryReason"),
				"bootstrap: the bootstrap certificate"));
	g_assert_cmpstr(ck_test_json_string(recovered, "ProofKeyFile"), ==, proof_key);
	/* every step is in the log */
	{
		g_autofree gchar *log = ck_test_read_file(td->daemon_log);
		g_assert_nonnull(strstr(log, "recovery ladder: step proof"));
		g_assert_nonnull(strstr(log, "authenticating with the proof identity"));
	}
	/* `certkeeper status` says so */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "device", NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "authenticated by: proof"));
	g_assert_nonnull(strstr(out, "recovery: proof ("));

	/* what the ladder did survives a restart */
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	ck_test_daemon_start(td);
	restarted = ck_test_request_json(td, "device");
	g_assert_cmpstr(ck_test_json_string(restarted, "Identity"), ==, "proof");
	g_assert_cmpstr(ck_test_json_string(restarted, "RecoveryStep"), ==, "proof");
	g_assert_cmpstr(ck_test_json_string(restarted, "RecoveryReason"), ==,
			ck_test_json_string(recovered, "RecoveryReason"));
	g_assert_cmpstr(ck_test_json_string(restarted, "Serial"), ==,
			ck_test_json_string(recovered, "Serial"));

	/* the next renewal is the current certificate's again: the ladder is done */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "device", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	{
		g_autoptr(JsonObject) renewed = ck_test_request_json(td, "device");
		g_assert_cmpstr(ck_test_json_string(renewed, "Identity"), ==, "current");
		g_assert_cmpstr(ck_test_json_string(renewed, "RecoveryStep"), ==, "none");
		g_assert_cmpstr(ck_test_json_string(renewed, "RecoveryReason"), ==, "");
	}
}

/* Waits for NEED_GUIDANCE after the expiry, and checks the ladder's account of it. */
static JsonObject *
recovery_wait_exhausted(CkTestDaemon *td, const gchar *name, const gchar *error_part)
{
	CkTestRequestWait wait = {.state = "NEED_GUIDANCE", .error_part = error_part};
	JsonObject *status = ck_test_wait_request(td, name, &wait, 30);

	g_test_message("%s: %s", name, ck_test_json_string(status, "LastError"));
	g_assert_cmpstr(ck_test_json_string(status, "RecoveryStep"), ==, "exhausted");
	/* which steps were tried, and why each failed */
	g_assert_nonnull(strstr(ck_test_json_string(status, "RecoveryReason"), "current: "));
	g_assert_nonnull(strstr(ck_test_json_string(status, "RecoveryReason"), "bootstrap: "));
	g_assert_nonnull(strstr(ck_test_json_string(status, "RecoveryReason"), "proof: "));
	g_assert_nonnull(strstr(ck_test_json_string(status, "LastError"), "enroll the device again"));
	return status;
}

/* A proof key other than the registered one is refused, and the request says why. */
static void
test_recovery_local_wrong_key(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *proof_key = NULL;
	g_autoptr(JsonObject) status = NULL;

	if (!recovery_have_tools())
		return;
	td = recovery_start_daemon();
	if (td == NULL)
		return;
	proof_key = ck_test_daemon_path(td, "proof.key");
	ck_test_make_ec_key(proof_key);
	recovery_enroll(td, "swapped", proof_key);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	/* someone replaced the device's proof key */
	g_assert_cmpint(g_unlink(proof_key), ==, 0);
	ck_test_make_ec_key(proof_key);
	recovery_expire(td, "swapped");
	ck_test_daemon_start(td);
	status = recovery_wait_exhausted(td, "swapped", "does not verify");
	g_assert_nonnull(strstr(ck_test_json_string(status, "RecoveryReason"), "rejected"));
	g_assert_cmpstr(ck_test_json_string(status, "Identity"), ==, "proof");
}

/* A proof key that was never registered, or is gone: NEED_GUIDANCE naming that. */
static void
test_recovery_local_unusable_key(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *proof_key = NULL, *missing = NULL, *garbage = NULL, *tpm_key = NULL;
	g_autoptr(JsonObject) before = NULL, after = NULL, unregistered = NULL, gone = NULL;
	g_autoptr(JsonObject) bad = NULL, tpm = NULL;

	if (!recovery_have_tools())
		return;
	td = recovery_start_daemon();
	if (td == NULL)
		return;
	proof_key = ck_test_daemon_path(td, "late.key");
	ck_test_make_ec_key(proof_key);
	missing = ck_test_daemon_path(td, "missing.key");
	garbage = ck_test_write_file(td->dir, "garbage.key", "not a key\n");
	tpm_key = ck_test_write_file(td->dir, "tpm.key",
				     "-----BEGIN TSS2 PRIVATE KEY-----\nMAA=\n"
				     "-----END TSS2 PRIVATE KEY-----\n");

	/* enrolled without a proof key; one is added later, and never registered */
	recovery_enroll(td, "late", NULL);
	before = ck_test_request_json(td, "late");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "-i", "late",
				    "--proof-key", proof_key, NULL),
			==, 0);
	after = ck_test_request_json(td, "late");
	g_assert_cmpstr(ck_test_json_string(after, "Serial"), ==,
			ck_test_json_string(before, "Serial"));
	/* enrolled with a proof key that does not exist: enrollment still works */
	recovery_enroll(td, "gone", missing);
	/* and one with a file that is no key, and a broken TPM key file */
	recovery_enroll(td, "bad", garbage);
	recovery_enroll(td, "tpm", tpm_key);
	/* a provider this daemon does not have is refused at once, naming those it has */
	{
		g_autofree gchar *err = NULL;
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "late",
					    "--proof-key-provider=nonesuch", NULL),
				!=, 0);
		g_assert_nonnull(strstr(err, "nonesuch"));
		g_assert_nonnull(strstr(err, "file"));
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	recovery_expire(td, "late");
	recovery_expire(td, "gone");
	recovery_expire(td, "bad");
	recovery_expire(td, "tpm");
	ck_test_daemon_start(td);

	unregistered = recovery_wait_exhausted(td, "late", "No proof key is registered");
	g_assert_nonnull(strstr(ck_test_json_string(unregistered, "LastError"), "CN=late.example"));
	gone = recovery_wait_exhausted(td, "gone", "cannot be read");
	g_assert_nonnull(strstr(ck_test_json_string(gone, "LastError"), missing));
	bad = recovery_wait_exhausted(td, "bad", "cannot be loaded by the file key provider");
	/* the provider is chosen by the file: a TSS2 key file is the TPM provider's,
	 * which refuses this broken one; without TPM support, the daemon says so */
#if CK_HAVE_TPM
	tpm = recovery_wait_exhausted(td, "tpm", "cannot be loaded by the tpm key provider");
#else
	tpm = recovery_wait_exhausted(td, "tpm", "is a TPM key file");
#endif
}

/*
 * A helper CA that knows SUBMIT only: it gets the proof key to register with the
 * enrollment, and the proof step is skipped because it answers
 * CERTKEEPER-GET-PROOF-NONCE with 6, which NEED_GUIDANCE names.
 */
static void
test_recovery_helper_without_proofs(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *dir = NULL, *script = NULL, *config = NULL, *proof_key = NULL;
	g_autofree gchar *seen = NULL, *ops = NULL, *want = NULL, *der = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(GError) error = NULL;
	gsize der_len = 0;

	if (!recovery_have_tools())
		return;
	dir = ck_test_make_tmpdir();
	g_assert_cmpint(g_chmod(dir, 0755), ==, 0);
	{
		g_autofree gchar *ca_key = g_build_filename(dir, "ca.key", NULL);
		g_autofree gchar *ca_crt = g_build_filename(dir, "ca.crt", NULL);
		const gchar *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
				       "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=Script CA",
				       "-days", "30", "-keyout", ca_key, "-out", ca_crt, NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	}
	script = g_strdup_printf(
	    "#!/bin/sh\n"
	    "echo \"$CERTMONGER_OPERATION\" >> %s/ops\n"
	    "[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n"
	    "printf '%%s' \"$CERTKEEPER_PROOF_PUBLIC_KEY\" > %s/public-key\n"
	    "printf '%%s\\n' \"$CERTMONGER_CSR\" > %s/req.csr\n"
	    "openssl x509 -req -in %s/req.csr -CA %s/ca.crt -CAkey %s/ca.key -CAcreateserial "
	    "-days 30 2>/dev/null || exit 3\n",
	    dir, dir, dir, dir, dir, dir);
	g_free(ck_test_write_file(dir, "ca.sh", script));
	config = g_strdup_printf("[ca plain]\nType=helper\nHelper=%s/ca.sh\n", dir);
	{
		g_autofree gchar *path = g_build_filename(dir, "ca.sh", NULL);
		g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	}
	td = recovery_start_daemon_with(config);
	if (td == NULL) {
		ck_test_rm_rf(dir);
		return;
	}
	proof_key = ck_test_daemon_path(td, "proof.key");
	ck_test_make_ec_key(proof_key);
	{
		g_autofree gchar *cert = g_strdup_printf("%s/certs/plain.crt", td->dir);
		g_autofree gchar *key = g_strdup_printf("%s/certs/plain.key", td->dir);
		g_autofree gchar *certs = g_build_filename(td->dir, "certs", NULL);
		g_mkdir_with_parents(certs, 0755);
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "plain",
					    "-c", "plain", "-f", cert, "-k", key, "-N",
					    "CN=plain.example", "--proof-key", proof_key, "-w",
					    "--wait-timeout=30", NULL),
				==, 0);
	}
	/* the helper got the proof key's public key (base64 DER SPKI) with SUBMIT */
	{
		g_autofree gchar *path = g_build_filename(dir, "public-key", NULL);
		const gchar *argv[] = {"openssl", "pkey", "-in", proof_key, "-pubout", "-outform",
				       "DER", "-out", NULL, NULL};
		g_autofree gchar *der_path = g_build_filename(dir, "public-key.der", NULL);
		argv[8] = der_path;
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
		g_assert_true(g_file_get_contents(der_path, &der, &der_len, &error));
		g_assert_no_error(error);
		want = g_base64_encode((const guchar *)der, der_len);
		seen = ck_test_read_file(path);
		g_assert_cmpstr(seen, ==, want);
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	recovery_expire(td, "plain");
	ck_test_daemon_start(td);
	status = recovery_wait_exhausted(td, "plain", "does not support CERTKEEPER-GET-PROOF-NONCE");
	/* the step was skipped: the helper was asked for a nonce, and nothing was submitted */
	{
		g_autofree gchar *path = g_build_filename(dir, "ops", NULL);
		ops = ck_test_read_file(path);
		const gchar *asked = NULL;
		g_assert_nonnull(strstr(ops, "SUBMIT\n"));
		asked = g_strrstr(ops, "CERTKEEPER-GET-PROOF-NONCE\n");
		g_assert_nonnull(asked);
		g_assert_null(strstr(asked, "SUBMIT"));
	}
	ck_test_rm_rf(dir);
}

#if CK_HAVE_TPM
/* A daemon with the local CA whose TPM is @swtpm, a fresh one in the daemon's directory. */
static CkTestDaemon *
recovery_start_daemon_with_tpm(CkTestSwtpm **swtpm)
{
	CkTestDaemon *td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL;

	*swtpm = NULL;
	if (td == NULL)
		return NULL;
	*swtpm = ck_test_swtpm_new(td->dir);
	if (*swtpm == NULL) {
		ck_test_daemon_free(td);
		return NULL;
	}
	config = g_strdup_printf("[certkeeperd]\nTpmTcti=%s\n"
				 "[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=2s\n"
				 "MaxAttempts=1000\n",
				 (*swtpm)->tcti);
	ck_test_daemon_write_config(td, config);
	g_ptr_array_add(td->extra_env, g_strdup("TSS2_LOG=all+none"));
	ck_test_daemon_start(td);
	return td;
}

/*
 * Makes a proof key in @swtpm with OpenSSL's tpm2 provider (as a device's
 * provisioning would): @algorithm and @option as `openssl genpkey` takes them,
 * and the authorization value @auth (NULL: none). FALSE (and the test skipped)
 * without the provider.
 */
static gboolean
recovery_make_tpm_key(CkTestSwtpm *swtpm, const gchar *algorithm, const gchar *option,
		      const gchar *auth, const gchar *path)
{
	const gchar *list[] = {"openssl", "list", "-providers", "-provider", "tpm2", NULL};
	const gchar *genpkey_base[] = {"openssl",   "genpkey", "-provider",  "tpm2",
				       "-provider", "default", "-algorithm", algorithm,
				       "-pkeyopt",  option,    "-out",       path};
	g_autoptr(GPtrArray) genpkey = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) env = g_get_environ();
	g_autofree gchar *out = NULL, *err = NULL;
	g_autoptr(GError) error = NULL;
	gint status = -1;

	env = g_environ_setenv(env, "TPM2OPENSSL_TCTI", swtpm->tcti, TRUE);
	env = g_environ_setenv(env, "TSS2_LOG", "all+none", TRUE);
	g_assert_true(g_spawn_sync(NULL, (gchar **)list, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
				   &err, &status, &error));
	if (!g_spawn_check_wait_status(status, NULL)) {
		g_test_skip("OpenSSL's tpm2 provider is not installed (apt-get install "
			    "tpm2-openssl)");
		return FALSE;
	}
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	for (guint i = 0; i < G_N_ELEMENTS(genpkey_base); i++)
		g_ptr_array_add(genpkey, g_strdup(genpkey_base[i]));
	if (auth != NULL) {
		g_ptr_array_add(genpkey, g_strdup("-pkeyopt"));
		g_ptr_array_add(genpkey, g_strdup_printf("user-auth:%s", auth));
	}
	g_ptr_array_add(genpkey, NULL);
	g_assert_true(g_spawn_sync(NULL, (gchar **)genpkey->pdata, env, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &out, &err, &status, &error));
	g_test_message("openssl genpkey %s: %s", algorithm, err);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
	return TRUE;
}

/* The base64 DER public key of TSS2 key file @path, as the CA registers it. */
static gchar *
recovery_tpm_public_key(CkTestSwtpm *swtpm, const gchar *path)
{
	g_autofree gchar *der_path = g_strconcat(path, ".pub.der", NULL);
	const gchar *argv[] = {"openssl", "pkey", "-provider", "tpm2",    "-provider",
			       "default", "-in",  path,        "-pubout", "-outform",
			       "DER",     "-out", der_path,    NULL};
	g_auto(GStrv) env = g_get_environ();
	g_autofree gchar *der = NULL;
	g_autoptr(GError) error = NULL;
	gint status = -1;
	gsize len = 0;

	env = g_environ_setenv(env, "TPM2OPENSSL_TCTI", swtpm->tcti, TRUE);
	env = g_environ_setenv(env, "TSS2_LOG", "all+none", TRUE);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
				   NULL, &status, &error));
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_true(g_file_get_contents(der_path, &der, &len, &error));
	g_assert_no_error(error);
	return g_base64_encode((const guchar *)der, len);
}

/* Waits until @name has a certificate valid now again, and returns its status. */
static JsonObject *
recovery_wait_renewed(CkTestDaemon *td, const gchar *name, const gchar *old_serial, gint64 now)
{
	CkTestRequestWait wait = {.state = "MONITORING", .not_serial = old_serial};
	JsonObject *status = NULL;

	for (gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;;) {
		g_clear_pointer(&status, json_object_unref);
		status = ck_test_wait_request(td, name, &wait, 60);
		if (json_object_get_int_member(status, "NotAfter") > now ||
		    g_get_monotonic_time() > deadline)
			break;
		g_usleep(200 * 1000);
	}
	g_assert_cmpint(json_object_get_int_member(status, "NotAfter"), >, now);
	return status;
}

/*
 * The proof key lives in the TPM (EC P-256 and RSA 2048, made by OpenSSL's tpm2
 * provider): the local CA registers its public key at enrollment and, once
 * certificate and bootstrap identity are gone, verifies the TPM's signature.
 */
static void
test_recovery_tpm_proof(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkTestSwtpm) swtpm = NULL;
	const gchar *names[] = {"tpmec", "tpmrsa"};
	g_autofree gchar *ec_key = NULL, *rsa_key = NULL, *registered = NULL, *proof_keys = NULL;
	g_autoptr(JsonObject) ec_before = NULL, rsa_before = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (!recovery_have_tools())
		return;
	td = recovery_start_daemon_with_tpm(&swtpm);
	if (td == NULL)
		return;
	ec_key = ck_test_daemon_path(td, "proof-ec.key");
	rsa_key = ck_test_daemon_path(td, "proof-rsa.key");
	if (!recovery_make_tpm_key(swtpm, "EC", "group:P-256", NULL, ec_key) ||
	    !recovery_make_tpm_key(swtpm, "RSA", "bits:2048", NULL, rsa_key)) {
		g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
		return;
	}
	recovery_enroll(td, "tpmec", ec_key);
	recovery_enroll(td, "tpmrsa", rsa_key);
	/* the CA registered the TPM keys' public keys */
	proof_keys = g_build_filename(td->state_dir, "local-ca", "proof-keys", NULL);
	registered = ck_test_read_file(proof_keys);
	{
		g_autofree gchar *ec_pub = recovery_tpm_public_key(swtpm, ec_key);
		g_autofree gchar *rsa_pub = recovery_tpm_public_key(swtpm, rsa_key);
		g_assert_nonnull(strstr(registered, ec_pub));
		g_assert_nonnull(strstr(registered, rsa_pub));
	}
	ec_before = ck_test_request_json(td, "tpmec");
	rsa_before = ck_test_request_json(td, "tpmrsa");
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	recovery_expire(td, "tpmec");
	recovery_expire(td, "tpmrsa");
	ck_test_daemon_start(td);

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		JsonObject *before = i == 0 ? ec_before : rsa_before;
		g_autoptr(JsonObject) recovered =
		    recovery_wait_renewed(td, names[i], ck_test_json_string(before, "Serial"), now);
		g_assert_cmpstr(ck_test_json_string(recovered, "Identity"), ==, "proof");
		g_assert_cmpstr(ck_test_json_string(recovered, "RecoveryStep"), ==, "proof");
		g_assert_nonnull(strstr(ck_test_json_string(recovered, "RecoveryReason"),
					"current: the certificate expired"));
		g_assert_nonnull(
		    strstr(ck_test_json_string(recovered, "RecoveryReason"), "bootstrap: "));
		g_assert_cmpstr(ck_test_json_string(recovered, "ProofKeyFile"), ==,
				i == 0 ? ec_key : rsa_key);
	}
	{
		g_autofree gchar *log = ck_test_read_file(td->daemon_log);
		g_assert_nonnull(strstr(log, "signing it with the proof key"));
	}
}

/*
 * The TPM is away when the proof is to be signed: the request says so, keeps
 * the expired certificate and waits with the retry backoff; once the TPM is
 * back the proof renews it without anyone acting.
 */
static void
test_recovery_tpm_away(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkTestSwtpm) swtpm = NULL;
	g_autofree gchar *proof_key = NULL, *cert = NULL, *expired_cert = NULL, *now_cert = NULL;
	g_autoptr(JsonObject) before = NULL, down = NULL, back = NULL;
	CkTestRequestWait wait = {0};
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (!recovery_have_tools())
		return;
	td = recovery_start_daemon_with_tpm(&swtpm);
	if (td == NULL)
		return;
	proof_key = ck_test_daemon_path(td, "proof.key");
	if (!recovery_make_tpm_key(swtpm, "EC", "group:P-256", NULL, proof_key)) {
		g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
		return;
	}
	recovery_enroll(td, "away", proof_key);
	before = ck_test_request_json(td, "away");
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	recovery_expire(td, "away");
	cert = g_strdup_printf("%s/certs/away.crt", td->dir);
	expired_cert = ck_test_read_file(cert);
	ck_test_swtpm_stop(swtpm);
	ck_test_daemon_start(td);

	wait = (CkTestRequestWait){
	    .state = "SUBMITTING", .error_part = "No TPM answers at", .min_failed = 2};
	down = ck_test_wait_request(td, "away", &wait, 60);
	g_test_message("while the TPM is away: %s", ck_test_json_string(down, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(down, "LastError"), swtpm->socket));
	g_assert_nonnull(strstr(ck_test_json_string(down, "LastError"), "proof"));
	g_assert_cmpstr(ck_test_json_string(down, "RecoveryStep"), ==, "proof");
	g_assert_cmpint(json_object_get_int_member(down, "NextAttempt"), >, 0);
	now_cert = ck_test_read_file(cert);
	g_assert_cmpstr(now_cert, ==, expired_cert);
	g_assert_true(ck_test_daemon_is_running(td));

	ck_test_swtpm_start(swtpm);
	back = recovery_wait_renewed(td, "away", ck_test_json_string(before, "Serial"), now);
	g_assert_cmpstr(ck_test_json_string(back, "Identity"), ==, "proof");
	g_assert_cmpstr(ck_test_json_string(back, "RecoveryStep"), ==, "proof");
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
}

/*
 * A TPM proof key whose authorization value next to it ("<key>.auth") is wrong:
 * waiting would not help (and would count towards the TPM's lockout), so the
 * ladder ends at once, with the TPM's reason.
 */
static void
test_recovery_tpm_wrong_auth(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkTestSwtpm) swtpm = NULL;
	g_autofree gchar *proof_key = NULL, *auth = NULL;
	g_autoptr(JsonObject) status = NULL;

	if (!recovery_have_tools())
		return;
	td = recovery_start_daemon_with_tpm(&swtpm);
	if (td == NULL)
		return;
	proof_key = ck_test_daemon_path(td, "pin.key");
	if (!recovery_make_tpm_key(swtpm, "EC", "group:P-256", "4711", proof_key)) {
		g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
		return;
	}
	auth = g_strconcat(proof_key, ".auth", NULL);
	g_assert_true(g_file_set_contents(auth, "0000\n", -1, NULL));
	g_assert_cmpint(g_chmod(auth, 0600), ==, 0);
	recovery_enroll(td, "pin", proof_key);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	recovery_expire(td, "pin");
	ck_test_daemon_start(td);
	status = recovery_wait_exhausted(td, "pin", "authorization value is wrong");
	g_assert_nonnull(strstr(ck_test_json_string(status, "LastError"),
				"proof: The proof key cannot sign the proof: TPM"));
	g_assert_cmpint(json_object_get_int_member(status, "FailedAttempts"), <=, 1);
}
#endif

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/recovery/local/proof", test_recovery_local_proof);
	g_test_add_func("/certkeeper/recovery/local/wrong-key", test_recovery_local_wrong_key);
	g_test_add_func("/certkeeper/recovery/local/unusable-key", test_recovery_local_unusable_key);
	g_test_add_func("/certkeeper/recovery/helper/without-proofs",
			test_recovery_helper_without_proofs);
#if CK_HAVE_TPM
	g_test_add_func("/certkeeper/recovery/tpm/proof", test_recovery_tpm_proof);
	g_test_add_func("/certkeeper/recovery/tpm/away", test_recovery_tpm_away);
	g_test_add_func("/certkeeper/recovery/tpm/wrong-auth", test_recovery_tpm_wrong_auth);
#endif
	return g_test_run();
}
