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

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/recovery/local/proof", test_recovery_local_proof);
	g_test_add_func("/certkeeper/recovery/local/wrong-key", test_recovery_local_wrong_key);
	g_test_add_func("/certkeeper/recovery/local/unusable-key", test_recovery_local_unusable_key);
	g_test_add_func("/certkeeper/recovery/helper/without-proofs",
			test_recovery_helper_without_proofs);
	return g_test_run();
}
