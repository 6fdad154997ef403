/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* certkeeper.conf: defaults, every key, and a clear error for every malformed value. */
#include "config.h"

#include <string.h>

#include "ck-ca-protocol.h"
#include "ck-config.h"
#include "ck-error.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *path;
	CkConfig *config;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->path = g_build_filename(f->dir, "certkeeper.conf", NULL);
	f->config = ck_config_new();
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_object_unref(f->config);
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

static gboolean
ck_test_load_text(Fixture *f, const gchar *text, GError **error)
{
	g_assert_true(g_file_set_contents(f->path, text, -1, NULL));
	return ck_config_load(f->config, f->path, TRUE, error);
}

static CkCaConfig *
ck_test_find_ca(CkConfig *config, const gchar *name)
{
	GPtrArray *cas = ck_config_get_cas(config);
	for (guint i = 0; i < cas->len; i++) {
		CkCaConfig *ca = g_ptr_array_index(cas, i);
		if (g_strcmp0(ca->name, name) == 0)
			return ca;
	}
	return NULL;
}

/* What a config says with no file at all: the values data/certkeeper.conf documents. */
static void
ck_test_assert_defaults(CkConfig *config)
{
	CkCaConfig *local;

	g_assert_null(ck_config_get_state_dir(config));
	g_assert_null(ck_config_get_log_level(config));
	g_assert_cmpstr(ck_config_get_tpm_tcti(config), ==, "device:/dev/tpmrm0");
	g_assert_cmpint(ck_config_get_default_key_type(config), ==, CK_KEY_TYPE_EC_P256);
	g_assert_cmpstr(ck_config_get_default_ca(config), ==, "local");
	g_assert_cmpuint(ck_config_get_default_cert_mode(config), ==, 0644);
	g_assert_cmpuint(ck_config_get_default_key_mode(config), ==, 0600);
	g_assert_cmpuint(ck_config_get_default_validity_days(config), ==, 365);
	/* the built-in CA always exists */
	g_assert_cmpuint(ck_config_get_cas(config)->len, ==, 1);
	local = ck_test_find_ca(config, "local");
	g_assert_nonnull(local);
	g_assert_cmpstr(local->type, ==, "local");
	g_assert_null(local->helper);
	g_assert_cmpuint(local->validity_days, ==, 0);
	g_assert_cmpuint(local->timeout, ==, 60);
}

static void
test_config_defaults(Fixture *f, gconstpointer user_data)
{
	ck_test_assert_defaults(f->config);
}

static void
test_config_missing_file(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	/* no /etc/certkeeper/certkeeper.conf is fine: the defaults hold */
	g_assert_true(ck_config_load(f->config, f->path, FALSE, &error));
	g_assert_no_error(error);
	ck_test_assert_defaults(f->config);
	/* unless the file was named explicitly (--config) */
	g_assert_false(ck_config_load(f->config, f->path, TRUE, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, f->path));
}

static void
test_config_empty_file(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(ck_test_load_text(f, "# nothing but a comment\n", &error));
	g_assert_no_error(error);
	ck_test_assert_defaults(f->config);
}

static void
test_config_full(Fixture *f, gconstpointer user_data)
{
	const gchar *text = "[certkeeperd]\n"
			    "StateDirectory = /srv/certkeeper \n"
			    "LogLevel=debug\n"
			    "TpmTcti = swtpm:path=/run/tpm.sock \n"
			    "[defaults]\n"
			    "KeyType=RSA:3072\n"
			    "CA=corp\n"
			    "ValidityDays=90\n"
			    "CertificateMode=0640\n"
			    "KeyMode=0440\n"
			    "[ca local]\n"
			    "Type=local\n"
			    "ValidityDays=30\n"
			    "[ca corp]\n"
			    "Type=helper\n"
			    "Helper=/usr/libexec/certmonger/ipa-submit -k 'host/x@EXAMPLE'\n"
			    "Timeout=120\n"
			    "[ca lab]\n"
			    "Type=local\n"
			    "ValidityDays=7\n";
	g_autoptr(GError) error = NULL;
	CkCaConfig *ca;

	g_assert_true(ck_test_load_text(f, text, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ck_config_get_state_dir(f->config), ==, "/srv/certkeeper");
	g_assert_cmpstr(ck_config_get_log_level(f->config), ==, "debug");
	g_assert_cmpstr(ck_config_get_tpm_tcti(f->config), ==, "swtpm:path=/run/tpm.sock");
	g_assert_cmpint(ck_config_get_default_key_type(f->config), ==, CK_KEY_TYPE_RSA_3072);
	g_assert_cmpstr(ck_config_get_default_ca(f->config), ==, "corp");
	g_assert_cmpuint(ck_config_get_default_validity_days(f->config), ==, 90);
	g_assert_cmpuint(ck_config_get_default_cert_mode(f->config), ==, 0640);
	g_assert_cmpuint(ck_config_get_default_key_mode(f->config), ==, 0440);

	/* [ca local] tuned the built-in CA instead of adding a second one */
	g_assert_cmpuint(ck_config_get_cas(f->config)->len, ==, 3);
	ca = ck_test_find_ca(f->config, "local");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ca->type, ==, "local");
	g_assert_cmpuint(ca->validity_days, ==, 30);
	ca = ck_test_find_ca(f->config, "corp");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ca->type, ==, "helper");
	g_assert_cmpstr(ca->helper, ==, "/usr/libexec/certmonger/ipa-submit -k 'host/x@EXAMPLE'");
	g_assert_cmpuint(ca->timeout, ==, 120);
	ca = ck_test_find_ca(f->config, "lab");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ca->type, ==, "local");
	g_assert_null(ca->helper);
	g_assert_cmpuint(ca->validity_days, ==, 7);
	g_assert_cmpuint(ca->timeout, ==, 60);
}

static void
test_config_every_key_type(Fixture *f, gconstpointer user_data)
{
	const gchar *const *names = ck_key_type_all_names();

	for (guint i = 0; names[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *text = g_strdup_printf("[defaults]\nKeyType=%s\n", names[i]);
		g_assert_true(ck_test_load_text(f, text, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(ck_key_type_to_string(ck_config_get_default_key_type(f->config)),
				==, names[i]);
	}
}

/* The shipped example, with its documented keys uncommented, is valid and says what it means. */
static void
test_config_shipped_example(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *shipped =
	    g_build_filename(CK_TEST_SRCDIR, "..", "data", "certkeeper.conf", NULL);
	g_autofree gchar *text = NULL;
	g_autoptr(GRegex) regex = NULL;
	g_autofree gchar *uncommented = NULL;
	g_autoptr(GError) error = NULL;
	CkCaConfig *ca;

	g_assert_true(g_file_get_contents(shipped, &text, NULL, NULL));
	/* as shipped, everything is a comment: the built-in defaults */
	g_assert_true(ck_config_load(f->config, shipped, TRUE, &error));
	g_assert_no_error(error);
	ck_test_assert_defaults(f->config);

	/* "#Key=value" and "#[group]" lines are the documented settings */
	regex = g_regex_new("^#(?=[A-Za-z\\[])", G_REGEX_MULTILINE, 0, &error);
	g_assert_no_error(error);
	uncommented = g_regex_replace_literal(regex, text, -1, 0, "", 0, &error);
	g_assert_no_error(error);
	g_clear_object(&f->config);
	f->config = ck_config_new();
	g_assert_true(ck_test_load_text(f, uncommented, &error));
	g_assert_no_error(error);
	/* the documented defaults are the real defaults */
	g_assert_cmpstr(ck_config_get_state_dir(f->config), ==, "/var/lib/certkeeper");
	g_assert_cmpstr(ck_config_get_log_level(f->config), ==, "message");
	g_assert_cmpstr(ck_config_get_tpm_tcti(f->config), ==, "device:/dev/tpmrm0");
	g_assert_cmpint(ck_config_get_default_key_type(f->config), ==, CK_KEY_TYPE_EC_P256);
	g_assert_cmpstr(ck_config_get_default_ca(f->config), ==, "local");
	g_assert_cmpuint(ck_config_get_default_validity_days(f->config), ==, 365);
	g_assert_cmpuint(ck_config_get_default_cert_mode(f->config), ==, 0644);
	g_assert_cmpuint(ck_config_get_default_key_mode(f->config), ==, 0600);
	{
		const CkLifecycleConfig *lc = ck_config_get_lifecycle(f->config);
		g_assert_cmpint(lc->renew_before.kind, ==, CK_THRESHOLD_DEFAULT);
		g_assert_cmpint(lc->jitter_max, ==, 86400);
		g_assert_cmpint(lc->expiring_before, ==, 0);
		g_assert_cmpint(lc->backoff.base, ==, 60);
		g_assert_cmpint(lc->backoff.cap, ==, 6 * 3600);
		g_assert_cmpuint(lc->backoff.max_attempts, ==, 0);
		g_assert_cmpint(lc->key_policy, ==, CK_KEY_POLICY_NEW);
		g_assert_cmpint(lc->keep_previous, ==, 7 * 86400);
		g_assert_cmpuint(lc->hook_timeout, ==, 120);
		g_assert_cmpuint(lc->check_timeout, ==, 30);
		g_assert_cmpuint(lc->max_parallel_keys, ==, 0);
		g_assert_cmpuint(lc->max_parallel_submissions, ==, 8);
		g_assert_cmpstr(lc->time_sync_file, ==, "/run/systemd/timesync/synchronized");
		/* the shipped file names the packaged paths (prefix /usr, sysconfdir /etc) */
		g_assert_cmpstr(lc->policy_dir, ==, "/etc/certkeeper/policy.d");
		g_assert_cmpstr(lc->requests_dir, ==, "/etc/certkeeper/requests.d");
		g_assert_null(lc->pkcs11_module);
		g_assert_false(lc->pkcs11_store_certificates);
	}
	ca = ck_test_find_ca(f->config, "local");
	g_assert_nonnull(ca);
	g_assert_cmpuint(ca->validity_days, ==, 90);
	ca = ck_test_find_ca(f->config, "example");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ca->type, ==, "helper");
	g_assert_cmpuint(ca->timeout, ==, 60);
}

typedef struct {
	const gchar *name;
	const gchar *text;
	const gchar *expect[3]; /* fragments the message must contain */
} BadCase;

static const BadCase bad_cases[] = {
    {"renew-before", "[renewal]\nRenewBefore=soon\n", {"[renewal]", "RenewBefore=soon"}},
    {"renew-before-percent", "[renewal]\nRenewBefore=100%\n", {"RenewBefore=100%"}},
    {"retry-delay", "[renewal]\nRetryDelay=0s\n", {"RetryDelay=0s"}},
    {"retry-cap-below-base", "[renewal]\nRetryDelay=2h\nRetryDelayMax=1h\n",
     {"RetryDelayMax", "RetryDelay"}},
    {"key-policy", "[renewal]\nKeyPolicy=sometimes\n", {"KeyPolicy=sometimes", "reuse"}},
    {"keep-previous", "[renewal]\nKeepPrevious=forever\n", {"KeepPrevious=forever"}},
    {"expiring-before", "[renewal]\nExpiringBefore=fortnight\n", {"ExpiringBefore=fortnight"}},
    {"hook-timeout", "[renewal]\nHookTimeout=0\n", {"HookTimeout=0"}},
    {"parallel-submissions", "[certkeeperd]\nMaxParallelSubmissions=0\n",
     {"MaxParallelSubmissions=0"}},
    {"time-sync-file", "[certkeeperd]\nTimeSyncFile=relative/file\n",
     {"TimeSyncFile=relative/file"}},
    {"pkcs11-module-relative", "[certkeeperd]\nPkcs11Module=libsofthsm2.so\n",
     {"Pkcs11Module=libsofthsm2.so", "absolute"}},
    {"pkcs11-store-certificates", "[certkeeperd]\nPkcs11StoreCertificates=sometimes\n",
     {"Pkcs11StoreCertificates=sometimes", "true or false"}},
    {"policy-dir-relative", "[certkeeperd]\nPolicyDirectory=policy.d\n",
     {"PolicyDirectory=policy.d", "absolute"}},
    {"requests-dir-relative", "[certkeeperd]\nRequestsDirectory=./requests.d\n",
     {"RequestsDirectory=./requests.d", "absolute"}},
    {"key-type", "[defaults]\nKeyType=dsa-1024\n", {"[defaults]", "KeyType=dsa-1024", "ec-p256"}},
    {"cert-mode-text", "[defaults]\nCertificateMode=rw-r--r--\n", {"CertificateMode=rw-r--r--"}},
    {"cert-mode-not-octal", "[defaults]\nCertificateMode=0999\n", {"CertificateMode=0999"}},
    {"cert-mode-too-big", "[defaults]\nCertificateMode=04755\n", {"CertificateMode=04755"}},
    {"cert-mode-negative", "[defaults]\nCertificateMode=-1\n", {"CertificateMode=-1"}},
    {"key-mode-world-readable", "[defaults]\nKeyMode=0644\n", {"KeyMode=0644", "every user"}},
    {"key-mode-world-writable", "[defaults]\nKeyMode=0602\n", {"KeyMode=0602"}},
    {"key-mode-world-execute", "[defaults]\nKeyMode=0701\n", {"KeyMode=0701"}},
    {"key-mode-text", "[defaults]\nKeyMode=secret\n", {"KeyMode=secret"}},
    {"validity-zero", "[defaults]\nValidityDays=0\n", {"ValidityDays=0", "1 to 36500"}},
    {"validity-too-long", "[defaults]\nValidityDays=36501\n", {"ValidityDays=36501"}},
    {"validity-text", "[defaults]\nValidityDays=a year\n", {"ValidityDays=a year"}},
    {"state-dir-relative",
     "[certkeeperd]\nStateDirectory=var/lib/certkeeper\n",
     {"[certkeeperd]", "StateDirectory=var/lib/certkeeper", "absolute"}},
    {"log-level", "[certkeeperd]\nLogLevel=verbose\n", {"LogLevel=verbose", "debug"}},
    {"tpm-tcti-empty", "[certkeeperd]\nTpmTcti= \n", {"TpmTcti=", "device:/dev/tpmrm0"}},
    {"tpm-tcti-no-name", "[certkeeperd]\nTpmTcti=:path=/x\n", {"TpmTcti=:path=/x", "swtpm:path"}},
    {"ca-no-type", "[ca corp]\nHelper=/bin/true\n", {"[ca corp]", "Type"}},
    {"ca-bogus-type", "[ca corp]\nType=bogus\n", {"[ca corp]", "Type=bogus"}},
    {"ca-helper-without-helper", "[ca corp]\nType=helper\n", {"[ca corp]", "Helper="}},
    {"ca-helper-empty-helper", "[ca corp]\nType=helper\nHelper=  \n", {"[ca corp]", "Helper="}},
    {"ca-local-as-helper",
     "[ca local]\nType=helper\nHelper=/bin/true\n",
     {"[ca local]", "Type=local"}},
    {"ca-validity-too-long",
     "[ca lab]\nType=local\nValidityDays=36501\n",
     {"[ca lab]", "ValidityDays=36501"}},
    {"ca-validity-negative", "[ca lab]\nType=local\nValidityDays=-1\n", {"ValidityDays=-1"}},
    {"ca-timeout-zero",
     "[ca corp]\nType=helper\nHelper=/bin/true\nTimeout=0\n",
     {"[ca corp]", "Timeout=0"}},
    {"ca-timeout-too-long",
     "[ca corp]\nType=helper\nHelper=/bin/true\nTimeout=3601\n",
     {"Timeout=3601"}},
    {"ca-no-name", "[ca ]\nType=local\n", {"[ca ]", "name"}},
    {"ca-acme-without-directory",
     "[ca le]\nType=acme\nContact=mailto:ops@example.org\n",
     {"[ca le]", "Directory=", "--directory"}},
    {"ca-est-with-acme-setting",
     "[ca est]\nType=est\nURL=https://est.example\nDirectory=https://x\n",
     {"[ca est]", "Directory", "est"}},
    {"ca-acme-relative-trust",
     "[ca le]\nType=acme\nDirectory=https://acme.example/dir\nTrust=roots.pem\n",
     {"[ca le]", "Trust='roots.pem'", "absolute"}},
    {"ca-acme-empty-directory", "[ca le]\nType=acme\nDirectory=\n", {"Directory=", "empty"}},
    {"ca-acme-with-helper",
     "[ca le]\nType=acme\nDirectory=https://acme.example/dir\nHelper=/bin/true\n",
     {"[ca le]", "own helper"}},
    {"ca-relative-roots-file",
     "[ca lab]\nType=local\nRootsFile=roots.pem\n",
     {"[ca lab]", "RootsFile='roots.pem'", "absolute"}},
    {"helper-dir-relative", "[certkeeperd]\nHelperDirectory=libexec\n", {"HelperDirectory"}},
    {"audit-log-relative", "[certkeeperd]\nAuditLog=audit.log\n", {"AuditLog=audit.log", "none"}},
    {"audit-size-unit", "[certkeeperd]\nAuditLogMaxSize=10X\n", {"AuditLogMaxSize=10X", "10M"}},
    {"audit-size-small", "[certkeeperd]\nAuditLogMaxSize=100\n", {"AuditLogMaxSize=100", "4096"}},
    {"audit-size-empty", "[certkeeperd]\nAuditLogMaxSize=M\n", {"AuditLogMaxSize=M"}},
    {"audit-rotate-big", "[certkeeperd]\nAuditLogRotate=101\n", {"AuditLogRotate=101", "0 to 100"}},
    {"metrics-dir-relative",
     "[certkeeperd]\nMetricsDirectory=node-exporter\n",
     {"MetricsDirectory=node-exporter", "absolute", "/var/lib/prometheus/node-exporter"}},
    {"not-a-key-file", "this is not = a key file\n", {NULL}},
    {"key-outside-group", "KeyType=rsa\n[defaults]\n", {NULL}},
};

static void
test_config_bad_value(Fixture *f, gconstpointer user_data)
{
	const BadCase *c = user_data;
	g_autoptr(GError) error = NULL;

	g_assert_false(ck_test_load_text(f, c->text, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_test_message("%s", error->message);
	/* where, what, and what would be right */
	g_assert_nonnull(strstr(error->message, f->path));
	for (guint i = 0; i < G_N_ELEMENTS(c->expect) && c->expect[i] != NULL; i++)
		g_assert_nonnull(strstr(error->message, c->expect[i]));
}

/* The audit log's keys, and the syslog names LogControl1 uses for LogLevel=. */
static void
test_config_audit(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	const CkAuditConfig *audit = ck_config_get_audit(f->config);

	/* defaults: the state directory's audit.log, 10 MiB, 5 kept */
	g_assert_null(audit->path);
	g_assert_cmpuint(audit->max_size, ==, 10 * 1024 * 1024);
	g_assert_cmpuint(audit->rotate, ==, 5);
	g_assert_true(ck_test_load_text(f,
					"[certkeeperd]\nAuditLog=/var/log/certkeeper/audit.log\n"
					"AuditLogMaxSize=64k\nAuditLogRotate=0\nLogLevel=notice\n",
					&error));
	g_assert_no_error(error);
	audit = ck_config_get_audit(f->config);
	g_assert_cmpstr(audit->path, ==, "/var/log/certkeeper/audit.log");
	g_assert_cmpuint(audit->max_size, ==, 64 * 1024);
	g_assert_cmpuint(audit->rotate, ==, 0);
	g_assert_cmpstr(ck_config_get_log_level(f->config), ==, "notice");
	g_assert_true(ck_test_load_text(f, "[certkeeperd]\nAuditLog=none\nAuditLogMaxSize=1G\n",
					&error));
	g_assert_cmpstr(ck_config_get_audit(f->config)->path, ==, "none");
	g_assert_cmpuint(ck_config_get_audit(f->config)->max_size, ==, 1024 * 1024 * 1024);
	g_assert_true(ck_test_load_text(f, "[certkeeperd]\nAuditLogMaxSize=5000\n", &error));
	g_assert_cmpuint(ck_config_get_audit(f->config)->max_size, ==, 5000);
}

/* MetricsDirectory: off unless set; empty is off too. */
static void
test_config_metrics_directory(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ck_test_load_text(f, "[certkeeperd]\nLogLevel=info\n", &error));
	g_assert_no_error(error);
	g_assert_null(ck_config_get_lifecycle(f->config)->metrics_dir);
	g_assert_true(ck_test_load_text(
	    f, "[certkeeperd]\nMetricsDirectory= /var/lib/prometheus/node-exporter \n", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ck_config_get_lifecycle(f->config)->metrics_dir, ==,
			"/var/lib/prometheus/node-exporter");
	g_assert_true(ck_test_load_text(f, "[certkeeperd]\nMetricsDirectory=\n", &error));
	g_assert_no_error(error);
	g_assert_null(ck_config_get_lifecycle(f->config)->metrics_dir);
}

/* ACME, EST and SCEP CAs: settings instead of a command line; the daemon builds it. */
static void
test_config_protocols(Fixture *f, gconstpointer user_data)
{
	const gchar *text = "[certkeeperd]\n"
			    "HelperDirectory=/opt/certkeeper/helpers\n"
			    "[ca le]\n"
			    "Type=acme\n"
			    "Directory=https://acme.example/directory\n"
			    "Contact=mailto:ops@example.org\n"
			    "Trust=/etc/ssl/acme roots.pem\n"
			    "RootsFile=/etc/ssl/le-roots.pem\n"
			    "Timeout=300\n"
			    "[ca est]\n"
			    "Type=est\n"
			    "URL=https://est.example:8443\n"
			    "Label=devices\n"
			    "[ca scep]\n"
			    "Type=scep\n"
			    "URL=http://scep.example/scep\n"
			    "ChallengeFile=/etc/certkeeper/scep-challenge\n";
	g_autoptr(GError) error = NULL;
	g_autofree gchar *command = NULL;
	g_auto(GStrv) argv = NULL;
	CkCaConfig *ca;

	g_assert_true(ck_test_load_text(f, text, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ck_config_get_lifecycle(f->config)->helper_dir, ==,
			"/opt/certkeeper/helpers");
	ca = ck_test_find_ca(f->config, "le");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ca->type, ==, "acme");
	g_assert_null(ca->helper);
	g_assert_cmpuint(ca->timeout, ==, 300);
	g_assert_cmpstr(ca->roots_file, ==, "/etc/ssl/le-roots.pem");
	g_assert_cmpuint(g_hash_table_size(ca->settings), ==, 3);
	g_assert_cmpstr(g_hash_table_lookup(ca->settings, "Directory"), ==,
			"https://acme.example/directory");
	/* the command line: the protocol's program, its state, one option per setting, quoted */
	command = ck_ca_protocol_build_command(ck_ca_protocol_find("acme"), "/opt/certkeeper/helpers",
					       "/var/lib/certkeeper/ca-state/le", ca->settings);
	g_assert_true(g_shell_parse_argv(command, NULL, &argv, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(argv), ==, 5);
	g_assert_cmpstr(argv[0], ==, "/opt/certkeeper/helpers/certkeeper-acme");
	g_assert_cmpstr(argv[1], ==, "--state-dir=/var/lib/certkeeper/ca-state/le");
	g_assert_cmpstr(argv[2], ==, "--directory=https://acme.example/directory");
	g_assert_cmpstr(argv[3], ==, "--trust=/etc/ssl/acme roots.pem");
	g_assert_cmpstr(argv[4], ==, "--contact=mailto:ops@example.org");
	ca = ck_test_find_ca(f->config, "est");
	g_assert_cmpstr(ca->type, ==, "est");
	g_assert_cmpstr(g_hash_table_lookup(ca->settings, "Label"), ==, "devices");
	ca = ck_test_find_ca(f->config, "scep");
	g_assert_cmpstr(ca->type, ==, "scep");
	g_assert_cmpstr(g_hash_table_lookup(ca->settings, "ChallengeFile"), ==,
			"/etc/certkeeper/scep-challenge");
	/* a copy is equal, a changed setting is not */
	{
		g_autoptr(CkCaConfig) copy = ck_ca_config_copy(ca);
		g_assert_true(ck_ca_config_equal(copy, ca));
		g_hash_table_insert(copy->settings, g_strdup("CAIdentifier"), g_strdup("x"));
		g_assert_false(ck_ca_config_equal(copy, ca));
	}
}

static void
test_config_unknown_warns(Fixture *f, gconstpointer user_data)
{
	const gchar *text = "[certkeeperd]\n"
			    "Verbose=yes\n"
			    "[defaults]\n"
			    "KeyType=ed25519\n"
			    "Colour=blue\n"
			    "[bogus]\n"
			    "x=1\n"
			    "[ca lab]\n"
			    "Type=local\n"
			    "Flavour=vanilla\n";
	g_autoptr(GError) error = NULL;
	gboolean ok;

	/* a typo must not stop the daemon, but it must be visible */
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "*[certkeeperd]*unknown key Verbose*");
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*[defaults]*unknown key Colour*");
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*unknown group [bogus]*");
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*[ca lab]*unknown key Flavour*");
	ok = ck_test_load_text(f, text, &error);
	g_test_assert_expected_messages();
	g_assert_no_error(error);
	g_assert_true(ok);
	/* and the known keys around the unknown ones still count */
	g_assert_cmpint(ck_config_get_default_key_type(f->config), ==, CK_KEY_TYPE_ED25519);
	g_assert_nonnull(ck_test_find_ca(f->config, "lab"));
}

/* The PKCS#11 keys: the module and whether certificates go into the token too. */
static void
test_config_pkcs11(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	const CkLifecycleConfig *lc;

	g_assert_true(ck_test_load_text(f,
					"[certkeeperd]\nPkcs11Module= /usr/lib/softhsm/libsofthsm2.so \n"
					"Pkcs11StoreCertificates=true\n",
					&error));
	g_assert_no_error(error);
	lc = ck_config_get_lifecycle(f->config);
	g_assert_cmpstr(lc->pkcs11_module, ==, "/usr/lib/softhsm/libsofthsm2.so");
	g_assert_true(lc->pkcs11_store_certificates);
	/* empty: no module again */
	g_assert_true(ck_test_load_text(f, "[certkeeperd]\nPkcs11Module=\n", &error));
	g_assert_no_error(error);
	g_assert_null(ck_config_get_lifecycle(f->config)->pkcs11_module);
}

#define CK_ADD(path, func)                                                                         \
	g_test_add("/certkeeper/config/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	CK_ADD("defaults", test_config_defaults);
	CK_ADD("missing-file", test_config_missing_file);
	CK_ADD("empty-file", test_config_empty_file);
	CK_ADD("full", test_config_full);
	CK_ADD("every-key-type", test_config_every_key_type);
	CK_ADD("shipped-example", test_config_shipped_example);
	CK_ADD("unknown-warns", test_config_unknown_warns);
	CK_ADD("protocols", test_config_protocols);
	CK_ADD("audit", test_config_audit);
	CK_ADD("pkcs11", test_config_pkcs11);
	CK_ADD("metrics-directory", test_config_metrics_directory);
	for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/certkeeper/config/bad/%s", bad_cases[i].name);
		g_test_add(path, Fixture, &bad_cases[i], fixture_setup, test_config_bad_value,
			   fixture_teardown);
	}
	return g_test_run();
}
