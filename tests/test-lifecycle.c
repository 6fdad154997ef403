/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The lifecycle engine on its own, with time compressed: certificates that live
 * seconds, retry delays of a second, helper CAs that fail on purpose. Every
 * rule of the issue is observed on real files and real certificates.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-clock.h"
#include "ck-engine.h"
#include "ck-error.h"
#include "ck-schedule.h"
#include "ck-test-util.h"

/* the test clock exists in fault-injection builds only */
#ifdef CK_FAULT_INJECTION
#define CK_TEST_FAULT_INJECTION 1
#else
#define CK_TEST_FAULT_INJECTION 0
#endif

typedef struct {
	gchar *dir;
	gchar *state_dir;
	gchar *certs;
	CkConfig *config;
	CkEngine *engine;
	gboolean mounted;
} Fixture;

/* Fast everything; each test adds what it needs with ck_test_configure(). */
#define BASE_CONFIG                                                                                \
	"[certkeeperd]\nTimeSyncFile=@DIR@/synchronized\n"                                          \
	"[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=4s\nKeepPrevious=1h\n"

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->state_dir = g_build_filename(f->dir, "state", NULL);
	f->certs = g_build_filename(f->dir, "certs", NULL);
	g_assert_cmpint(g_mkdir(f->certs, 0755), ==, 0);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_clear_object(&f->engine);
	g_clear_object(&f->config);
	if (f->mounted)
		umount2(f->certs, MNT_DETACH);
	g_unsetenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE");
	ck_clock_reload_offset();
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->state_dir);
	g_free(f->certs);
}

/* Loads BASE_CONFIG plus @extra (@DIR@ stands for the fixture directory). */
static void
ck_test_configure(Fixture *f, const gchar *extra)
{
	g_autofree gchar *path = g_build_filename(f->dir, "certkeeper.conf", NULL);
	g_autofree gchar *raw = g_strconcat(BASE_CONFIG, extra != NULL ? extra : "", NULL);
	g_auto(GStrv) parts = g_strsplit(raw, "@DIR@", -1);
	g_autofree gchar *text = g_strjoinv(f->dir, parts);
	g_autoptr(GError) error = NULL;

	g_clear_object(&f->config);
	f->config = ck_config_new();
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_true(ck_config_load(f->config, path, TRUE, &error));
	g_assert_no_error(error);
}

static CkEngine *
ck_test_start(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	if (f->config == NULL)
		ck_test_configure(f, NULL);
	g_clear_object(&f->engine);
	f->engine = ck_engine_new(f->config, f->state_dir);
	g_assert_true(ck_engine_start(f->engine, &error));
	g_assert_no_error(error);
	return f->engine;
}

/* A crash, as far as the engine can tell: no clean stop, just gone. */
static void
ck_test_stop(Fixture *f)
{
	ck_engine_stop(f->engine);
	g_clear_object(&f->engine);
}

static gchar *
ck_test_path(Fixture *f, const gchar *name)
{
	return g_build_filename(f->certs, name, NULL);
}

static CkRequest *
ck_test_template(Fixture *f, const gchar *id)
{
	CkRequest *t = ck_engine_new_request_template(f->engine);
	g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", f->certs, id);
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", f->certs, id);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	const gchar *dns[] = {NULL, NULL};
	g_autofree gchar *name = g_strdup_printf("%s.example", id);

	dns[0] = name;
	ck_request_set_template_id(t, id);
	ck_request_set_cert_file(t, cert);
	ck_request_set_key_file(t, key);
	ck_request_set_subject(t, subject);
	ck_request_set_dns_names(t, dns);
	return t;
}

static CkRequest *
ck_test_add(Fixture *f, CkRequest *template)
{
	g_autoptr(GError) error = NULL;
	CkRequest *request = ck_engine_add_request(f->engine, template, &error);
	g_assert_no_error(error);
	g_assert_nonnull(request);
	return request;
}

static gboolean
ck_test_iterate_until(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	while (!cond(data)) {
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
	return TRUE;
}

typedef struct {
	CkRequest *request;
	CkRequestState state;
	gchar *serial_not; /* also: the serial differs from this */
} WaitState;

static gboolean
ck_test_state_reached(gpointer data)
{
	WaitState *w = data;
	return ck_request_get_state(w->request) == w->state &&
	       (w->serial_not == NULL ||
		g_strcmp0(ck_request_get_serial(w->request), w->serial_not) != 0);
}

static void
ck_test_wait(CkRequest *request, CkRequestState state, const gchar *serial_not, guint timeout_ms)
{
	WaitState w = {request, state, (gchar *)serial_not};
	if (!ck_test_iterate_until(ck_test_state_reached, &w, timeout_ms))
		g_error("request %s stayed %s (serial %s, last error: %s), expected %s%s",
			ck_request_get_id(request),
			ck_request_state_to_string(ck_request_get_state(request)),
			ck_request_get_serial(request), ck_request_get_last_error(request),
			ck_request_state_to_string(state),
			serial_not != NULL ? " with a new serial" : "");
}

/* Runs the main loop for @ms whatever happens. */
static void
ck_test_spin(guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	while (g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
}

static gchar *
ck_test_read(const gchar *path)
{
	gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	return text;
}

/* The SHA-256 key id of a PEM certificate or private key. */
static gchar *
ck_test_key_id(const gchar *pem, gboolean is_key)
{
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	guint8 id[64];
	size_t size = sizeof(id);
	if (is_key) {
		gnutls_privkey_t key = NULL;
		gnutls_pubkey_t pub = NULL;
		g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
		g_assert_cmpint(gnutls_privkey_import_x509_raw(key, &datum, GNUTLS_X509_FMT_PEM, NULL,
							       0),
				==, 0);
		g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
		g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
		g_assert_cmpint(gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, &size), ==,
				0);
		gnutls_pubkey_deinit(pub);
		gnutls_privkey_deinit(key);
	} else {
		gnutls_x509_crt_t crt = NULL;
		g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
		g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
		g_assert_cmpint(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &size),
				==, 0);
		gnutls_x509_crt_deinit(crt);
	}
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, id, size);
}

/* The key in the key file is the certificate's; returns that key's id. */
static gchar *
ck_test_assert_pair(CkRequest *request)
{
	g_autofree gchar *cert = ck_test_read(ck_request_get_cert_file(request));
	g_autofree gchar *key = ck_test_read(ck_request_get_key_file(request));
	g_autofree gchar *cert_id = ck_test_key_id(cert, FALSE);
	gchar *key_id = ck_test_key_id(key, TRUE);
	g_assert_cmpstr(cert_id, ==, key_id);
	return key_id;
}

static void
ck_test_write_script(Fixture *f, const gchar *name, const gchar *body)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	g_auto(GStrv) parts = g_strsplit(body, "@DIR@", -1);
	g_autofree gchar *expanded = g_strjoinv(f->dir, parts);
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", expanded);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
}

/* Renewal */

static void
test_lifecycle_renews_before_expiry(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *first_serial = NULL;
	g_autofree gchar *first_key = NULL, *second_key = NULL;
	g_autofree gchar *backup = NULL, *backup_text = NULL, *first_text = NULL;
	CkRequest *request;
	gint64 lifetime;

	ck_test_configure(f, "KeepPrevious=2s\n");
	ck_test_start(f);
	t = ck_test_template(f, "short");
	/* lives 8 s, renewed when half of that is left */
	ck_request_set_validity(t, 8);
	ck_request_set_renew_before(t, "50%");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	first_serial = g_strdup(ck_request_get_serial(request));
	first_key = ck_test_assert_pair(request);
	first_text = ck_test_read(ck_request_get_cert_file(request));
	lifetime = ck_request_get_not_after(request) - ck_request_get_not_before(request);
	g_assert_cmpint(lifetime, >=, 8);
	g_assert_cmpint(lifetime, <=, 9);
	/* RenewalTime is notAfter minus half the lifetime (no jitter configured) */
	g_assert_cmpint(ck_request_get_renewal_time(request), ==,
			ck_request_get_not_after(request) - lifetime / 2);
	/* nothing is kept while nothing was replaced */
	g_assert_cmpint(ck_request_get_backups_until(request), ==, 0);

	/* the renewal comes by itself, before expiry */
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, first_serial, 15000);
	g_assert_cmpint(ck_clock_now(), <, ck_request_get_not_after(request));
	second_key = ck_test_assert_pair(request);
	/* the default policy: a new key every time */
	g_assert_cmpstr(first_key, !=, second_key);
	g_assert_cmpint(ck_request_get_failed_attempts(request), ==, 0);
	g_assert_cmpint(ck_request_get_last_renewal(request), >, 0);

	/* the replaced files are kept beside the new ones for the grace period ... */
	backup = g_strconcat(ck_request_get_cert_file(request), ".ck-prev", NULL);
	backup_text = ck_test_read(backup);
	g_assert_cmpstr(backup_text, ==, first_text);
	g_assert_cmpint(ck_request_get_backups_until(request), >, 0);
	/* ... and removed when it is over (KeepPrevious=2s) */
	{
		gint64 deadline = g_get_monotonic_time() + 6 * G_USEC_PER_SEC;
		while (g_file_test(backup, G_FILE_TEST_EXISTS) && g_get_monotonic_time() < deadline)
			ck_test_spin(50);
	}
	g_assert_false(g_file_test(backup, G_FILE_TEST_EXISTS));
}

static void
test_lifecycle_key_policy(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t_reuse = NULL;
	g_autoptr(CkRequest) t_long = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *key1 = NULL, *key2 = NULL, *key3 = NULL, *key4 = NULL;
	g_autofree gchar *serial = NULL;
	CkRequest *reuse, *manual;

	ck_test_start(f);
	t_reuse = ck_test_template(f, "reuse");
	ck_request_set_validity(t_reuse, 6);
	ck_request_set_renew_before(t_reuse, "50%");
	ck_request_set_key_policy(t_reuse, CK_KEY_POLICY_REUSE);
	reuse = ck_test_add(f, t_reuse);
	ck_test_wait(reuse, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	serial = g_strdup(ck_request_get_serial(reuse));
	key1 = ck_test_assert_pair(reuse);
	ck_test_wait(reuse, CK_REQUEST_STATE_MONITORING, serial, 15000);
	key2 = ck_test_assert_pair(reuse);
	/* a renewal that keeps the key */
	g_assert_cmpstr(key1, ==, key2);

	/* on demand: resubmit keeps the key, rekey makes a new one */
	t_long = ck_test_template(f, "manual");
	manual = ck_test_add(f, t_long);
	ck_test_wait(manual, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_clear_pointer(&key1, g_free);
	g_clear_pointer(&serial, g_free);
	key1 = ck_test_assert_pair(manual);
	serial = g_strdup(ck_request_get_serial(manual));
	g_assert_true(ck_engine_resubmit(f->engine, "manual", &error));
	g_assert_no_error(error);
	/* a second one while the first runs is refused, not queued twice */
	g_assert_false(ck_engine_resubmit(f->engine, "manual", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_BUSY);
	g_clear_error(&error);
	ck_test_wait(manual, CK_REQUEST_STATE_MONITORING, serial, 20000);
	key3 = ck_test_assert_pair(manual);
	g_assert_cmpstr(key1, ==, key3);
	g_clear_pointer(&serial, g_free);
	serial = g_strdup(ck_request_get_serial(manual));
	g_assert_true(ck_engine_rekey(f->engine, "manual", &error));
	g_assert_no_error(error);
	ck_test_wait(manual, CK_REQUEST_STATE_MONITORING, serial, 20000);
	key4 = ck_test_assert_pair(manual);
	g_assert_cmpstr(key3, !=, key4);
	g_assert_false(ck_engine_resubmit(f->engine, "no-such-request", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
}

/* Retries */

static guint
ck_test_count_lines(const gchar *path)
{
	g_autofree gchar *text = NULL;
	guint n = 0;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	for (const gchar *p = text; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

typedef struct {
	CkRequest *request;
	GArray *delays;	     /* NextAttempt - LastFailureTime after each failure */
	guint last_failures; /* FailedAttempts seen so far */
} BackoffLog;

static void
ck_test_on_backoff_change(CkEngine *engine, CkRequest *request, guint fields, BackoffLog *log)
{
	guint failures = ck_request_get_failed_attempts(request);
	if (request != log->request || failures == log->last_failures ||
	    ck_request_get_next_attempt(request) == 0)
		return;
	log->last_failures = failures;
	{
		gint64 delay =
		    ck_request_get_next_attempt(request) - ck_request_get_last_failure_time(request);
		g_array_append_val(log->delays, delay);
	}
}

static gboolean
ck_test_gave_up(gpointer data)
{
	return ck_request_get_state(data) == CK_REQUEST_STATE_NEED_GUIDANCE;
}

/* The value of sample @series (as certkeeperd writes it) in the engine's metrics. */
static guint64
ck_test_metric(Fixture *f, const gchar *series)
{
	g_autofree gchar *text = ck_engine_get_metrics(f->engine);
	g_autofree gchar *prefix = g_strdup_printf("\n%s ", series);
	const gchar *at = strstr(text, prefix);

	if (at == NULL)
		g_error("no %s in:\n%s", series, text);
	return g_ascii_strtoull(at + strlen(prefix), NULL, 10);
}

#define DOWN_CONFIG "MaxAttempts=4\n[ca down]\nType=helper\nHelper=@DIR@/down.sh\n"

static void
test_lifecycle_backoff(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *calls = g_build_filename(f->dir, "calls", NULL);
	BackoffLog log = {NULL, g_array_new(FALSE, FALSE, sizeof(gint64)), 0};
	const gint64 expected[] = {1, 2, 4}; /* RetryDelay=1s doubling, capped at 4s */
	GLogLevelFlags fatal;
	CkRequest *request;
	gulong id;

	ck_test_write_script(f, "down.sh",
			     "[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n"
			     "echo call >> @DIR@/calls\necho 'connection refused'; exit 3");
	ck_test_configure(f, DOWN_CONFIG);
	ck_test_start(f);
	t = ck_test_template(f, "down");
	ck_request_set_ca(t, "down");
	request = ck_test_add(f, t);
	log.request = request;
	id = g_signal_connect(f->engine, "request-changed", G_CALLBACK(ck_test_on_backoff_change),
			      &log);
	/* giving up needs a human, so it is warned about: no test failure */
	fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	g_assert_true(ck_test_iterate_until(ck_test_gave_up, request, 30000));
	g_log_set_always_fatal(fatal);
	g_signal_handler_disconnect(f->engine, id);

	/* four attempts, three waits between them, each of them 80 % to 100 % of the plan */
	g_assert_cmpuint(ck_test_count_lines(calls), ==, 4);
	g_assert_cmpuint(log.delays->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
		gint64 delay = g_array_index(log.delays, gint64, i);
		g_test_message("delay %u: %lld s", i + 1, (long long)delay);
		g_assert_cmpint(delay, >=, MAX(1, expected[i] * 8 / 10));
		g_assert_cmpint(delay, <=, expected[i]);
	}
	g_assert_true(ck_request_get_stuck(request));
	g_assert_nonnull(strstr(ck_request_get_last_error(request), "Gave up after 4"));
	g_assert_nonnull(strstr(ck_request_get_last_error(request), "connection refused"));
	g_assert_false(g_file_test(ck_request_get_cert_file(request), G_FILE_TEST_EXISTS));
	/* every attempt counted once, also the last one that gave up */
	g_assert_cmpuint(ck_test_metric(f, "certkeeper_renewal_attempts_total{result=\"failure\"}"),
			 ==, 4);
	g_assert_cmpuint(ck_test_metric(f, "certkeeper_renewal_attempts_total{result=\"success\"}"),
			 ==, 0);
	g_assert_cmpuint(
	    ck_test_metric(f, "certkeeper_renewal_failures_total{reason=\"ca_unreachable\"}"), ==, 4);
	g_assert_cmpuint(ck_test_metric(f, "certkeeper_renewal_failures_total{reason=\"ca_config\"}"),
			 ==, 0);
	g_assert_cmpuint(
	    ck_test_metric(f, "certkeeper_ca_requests_total{ca=\"down\",result=\"unreachable\"}"),
	    ==, 4);
	g_assert_cmpuint(
	    ck_test_metric(f, "certkeeper_ca_request_duration_seconds_count{ca=\"down\"}"), ==, 4);
	g_assert_cmpuint(ck_test_metric(f, "certkeeper_requests{state=\"NEED_GUIDANCE\"}"), ==, 1);
	g_array_unref(log.delays);
}

#define POLL_CONFIG "[ca slow]\nType=helper\nHelper=@DIR@/slow.sh\n"
/* what a refresh asks a helper CA, in order */
#define DESCRIBE_OPS                                                                               \
	"FETCH-ROOTS \nIDENTIFY \nGET-NEW-REQUEST-REQUIREMENTS \n"                                  \
	"GET-RENEW-REQUEST-REQUIREMENTS \nGET-SUPPORTED-TEMPLATES \nGET-DEFAULT-TEMPLATE \n"       \
	"CERTKEEPER-GET-CSR-ATTRIBUTES \n"

static void
test_lifecycle_ca_wait_and_restart(Fixture *f, gconstpointer user_data)
{
	/* "come back in 2 s" on SUBMIT; POLL issues with the local openssl CA */
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *ops = g_build_filename(f->dir, "ops", NULL);
	g_autofree gchar *keys = g_build_filename(f->dir, "keys", NULL);
	g_autofree gchar *ops_text = NULL;
	g_autofree gchar *pending_key = NULL;
	CkRequest *request;
	gint64 submitted;
	const gchar *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-days", "3", "-subj",
			       "/CN=poll test CA", "-keyout", NULL, "-out", NULL, NULL};
	g_autofree gchar *ca_key = g_build_filename(f->dir, "ca.key", NULL);
	g_autofree gchar *ca_crt = g_build_filename(f->dir, "ca.pem", NULL);

	argv[13] = ca_key;
	argv[15] = ca_crt;
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	ck_test_write_script(
	    f, "slow.sh",
	    "echo \"$CERTMONGER_OPERATION $CERTMONGER_CA_COOKIE\" >> @DIR@/ops\n"
	    /* CERTKEEPER_KEY_FILE: the key the CSR was made with (SCEP signs with it) */
	    "if [ -n \"$CERTMONGER_CSR\" ]; then\n"
	    "  openssl pkey -in \"$CERTKEEPER_KEY_FILE\" -pubout > @DIR@/key.pub 2>/dev/null\n"
	    "  printf '%s\\n' \"$CERTMONGER_CSR\" | openssl req -pubkey -noout > @DIR@/csr.pub\n"
	    "  cmp -s @DIR@/key.pub @DIR@/csr.pub && r=same || r=different\n"
	    "  echo \"$CERTMONGER_OPERATION $r\" >> @DIR@/keys\n"
	    "fi\n"
	    "case \"$CERTMONGER_OPERATION\" in\n"
	    "SUBMIT) printf '2\\nticket-7\\n'; exit 5;;\n"
	    "POLL) [ \"$CERTMONGER_CA_COOKIE\" = ticket-7 ] || exit 2\n"
	    "  printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/req.csr\n"
	    "  printf 'subjectAltName=DNS:slow.example\\n' > @DIR@/ext\n"
	    "  openssl x509 -req -in @DIR@/req.csr -CA @DIR@/ca.pem -CAkey @DIR@/ca.key "
	    "-CAcreateserial -days 1 -extfile @DIR@/ext 2>/dev/null || exit 3\n"
	    "  exit 0;;\n"
	    "*) exit 6;;\n"
	    "esac");
	ck_test_configure(f, POLL_CONFIG);
	ck_test_start(f);
	t = ck_test_template(f, "slow");
	ck_request_set_ca(t, "slow");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_CA_WORKING, NULL, 20000);
	submitted = ck_clock_now();
	/* the CA's delay is honoured */
	g_assert_cmpint(ck_request_get_next_attempt(request), >=, submitted + 1);
	g_assert_cmpint(ck_request_get_next_attempt(request), <=, submitted + 2);
	g_assert_cmpstr(ck_request_get_ca_cookie(request), ==, "ticket-7");
	/* the key the CA works on survives a restart */
	pending_key = g_build_filename(f->state_dir, "pending", "slow.key", NULL);
	g_assert_true(g_file_test(pending_key, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint(ck_test_file_mode(pending_key), ==, 0600);

	ck_test_stop(f);
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "slow");
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_CA_WORKING);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	/* it polled with the cookie after the delay, never submitted a second time, and the
	 * certificate is for the key made before the restart */
	ops_text = ck_test_read(ops);
	/* (every start asks a helper CA to describe itself, and submissions wait for
	 * the answers) */
	/* (and after the install the CA is asked for a renewal window, which it does
	 * not offer: that question may or may not have been logged yet) */
	{
		const gchar *expected = DESCRIBE_OPS "SUBMIT \n" DESCRIBE_OPS "POLL ticket-7\n";
		g_assert_true(g_str_has_prefix(ops_text, expected));
		g_assert_true(ops_text[strlen(expected)] == '\0' ||
			      g_strcmp0(ops_text + strlen(expected), "GET-RENEWAL-WINDOW \n") == 0);
	}
	g_free(ck_test_assert_pair(request));
	g_assert_false(g_file_test(pending_key, G_FILE_TEST_EXISTS));
	/* both runs could read the CSR's key, the one made before the restart too */
	g_free(ops_text);
	ops_text = ck_test_read(keys);
	g_assert_cmpstr(ops_text, ==, "SUBMIT same\nPOLL same\n");
}

/* A CA back with a new root */

#define REBUILT_CONFIG "[ca rebuilt]\nType=helper\nHelper=@DIR@/rebuilt.sh\n"

static void
ck_test_make_root(Fixture *f, const gchar *name)
{
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", f->dir, name);
	g_autofree gchar *crt = g_strdup_printf("%s/%s.pem", f->dir, name);
	g_autofree gchar *subject = g_strdup_printf("/CN=%s", name);
	const gchar *argv[] = {
	    "openssl", "req",   "-x509", "-newkey", "ec",    "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes",  "-days", "3",     "-subj",   subject, "-keyout",  key,
	    "-out",    crt,     NULL};
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
}

static void
ck_test_set(Fixture *f, const gchar *name, const gchar *value)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	g_assert_true(g_file_set_contents(path, value, -1, NULL));
}

/* How many lines of @path are @line. */
static guint
ck_test_count_line(const gchar *path, const gchar *line)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		n += g_strcmp0(lines[i], line) == 0;
	return n;
}

static gboolean
ck_test_issuer_is(CkCa *ca, const gchar *name)
{
	g_auto(GStrv) names = ck_ca_get_issuer_names(ca);
	return names != NULL && names[0] != NULL && names[1] == NULL &&
	       g_strcmp0(names[0], name) == 0;
}

/*
 * A helper CA rebuilt while certkeeperd runs (a new root: what pebble does at every
 * start): the first certificate under the new root does not verify against the
 * roots fetched before. The engine fetches them once more and installs it; a chain
 * to a root the CA does not publish still needs a human, after exactly one refetch.
 */
static void
test_lifecycle_ca_new_root(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ops = g_build_filename(f->dir, "rebuilt-ops", NULL);
	g_autofree gchar *serial = NULL, *installed = NULL, *now = NULL;
	CkRequest *request;
	CkCa *ca;

	ck_test_make_root(f, "first");
	ck_test_make_root(f, "second");
	ck_test_make_root(f, "third");
	ck_test_set(f, "publishes", "first");
	ck_test_set(f, "issues", "first");
	ck_test_write_script(
	    f, "rebuilt.sh",
	    "echo \"$CERTMONGER_OPERATION\" >> @DIR@/rebuilt-ops\n"
	    "case \"$CERTMONGER_OPERATION\" in\n"
	    "FETCH-ROOTS) r=$(cat @DIR@/publishes); printf '%s\\n' \"$r\"; cat @DIR@/$r.pem;"
	    " exit 0;;\n"
	    "SUBMIT) i=$(cat @DIR@/issues)\n"
	    "  printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/rebuilt.csr\n"
	    "  printf 'subjectAltName=DNS:rebuilt.example\\n' > @DIR@/rebuilt.ext\n"
	    "  openssl x509 -req -in @DIR@/rebuilt.csr -CA @DIR@/$i.pem -CAkey @DIR@/$i.key "
	    "-set_serial 0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n') -days 1 "
	    "-extfile @DIR@/rebuilt.ext 2>/dev/null || exit 3\n"
	    "  exit 0;;\n"
	    "*) exit 6;;\n"
	    "esac");
	ck_test_configure(f, REBUILT_CONFIG);
	ck_test_start(f);
	ca = ck_engine_find_ca(f->engine, "rebuilt");
	g_assert_nonnull(ca);
	t = ck_test_template(f, "rebuilt");
	ck_request_set_ca(t, "rebuilt");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_assert_true(ck_test_issuer_is(ca, "CN=first"));
	g_assert_cmpuint(ck_test_count_line(ops, "FETCH-ROOTS"), ==, 1);
	serial = g_strdup(ck_request_get_serial(request));

	/* rebuilt: it issues under its new root, and publishes that */
	ck_test_set(f, "publishes", "second");
	ck_test_set(f, "issues", "second");
	g_assert_true(ck_engine_resubmit(f->engine, "rebuilt", &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	g_assert_true(ck_test_issuer_is(ca, "CN=second"));
	g_assert_cmpuint(ck_test_count_line(ops, "FETCH-ROOTS"), ==, 2);
	g_assert_cmpstr(ck_request_get_last_error(request), ==, "");
	g_free(ck_test_assert_pair(request));
	g_free(serial);
	serial = g_strdup(ck_request_get_serial(request));
	installed = ck_test_read(ck_request_get_cert_file(request));

	/* a chain to a root the CA does not publish is not installed, even after asking */
	ck_test_set(f, "issues", "third");
	g_assert_true(ck_engine_resubmit(f->engine, "rebuilt", &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_NEED_GUIDANCE, NULL, 20000);
	g_assert_nonnull(strstr(ck_request_get_last_error(request),
				"does not verify to the CA's trust anchors"));
	g_assert_true(ck_test_issuer_is(ca, "CN=second"));
	/* one more look at the roots, and no loop */
	ck_test_spin(1500);
	g_assert_cmpuint(ck_test_count_line(ops, "FETCH-ROOTS"), ==, 3);
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_NEED_GUIDANCE);
	g_assert_cmpstr(ck_request_get_serial(request), ==, serial);
	now = ck_test_read(ck_request_get_cert_file(request));
	g_assert_cmpstr(now, ==, installed);
}

/*
 * A helper CA that was away when the engine started has no roots: before anything
 * it issues is installed, its roots are fetched. A leaf from a CA it does not
 * publish is refused then, instead of being taken without any anchor.
 */
static void
test_lifecycle_ca_roots_later(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *ops = g_build_filename(f->dir, "rebuilt-ops", NULL);
	g_autofree gchar *down = g_build_filename(f->dir, "down", NULL);
	CkRequest *request;
	CkCa *ca;

	ck_test_make_root(f, "second");
	ck_test_make_root(f, "third");
	ck_test_set(f, "down", "");
	ck_test_set(f, "publishes", "second");
	ck_test_set(f, "issues", "third");
	ck_test_write_script(
	    f, "rebuilt.sh",
	    "echo \"$CERTMONGER_OPERATION\" >> @DIR@/rebuilt-ops\n"
	    "case \"$CERTMONGER_OPERATION\" in\n"
	    "FETCH-ROOTS) [ -e @DIR@/down ] && { echo 'connection refused'; exit 3; }\n"
	    "  r=$(cat @DIR@/publishes); printf '%s\\n' \"$r\"; cat @DIR@/$r.pem; exit 0;;\n"
	    "SUBMIT) i=$(cat @DIR@/issues)\n"
	    "  printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/rebuilt.csr\n"
	    "  printf 'subjectAltName=DNS:later.example\\n' > @DIR@/rebuilt.ext\n"
	    "  openssl x509 -req -in @DIR@/rebuilt.csr -CA @DIR@/$i.pem -CAkey @DIR@/$i.key "
	    "-set_serial 0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \\n') -days 1 "
	    "-extfile @DIR@/rebuilt.ext 2>/dev/null || exit 3\n"
	    "  exit 0;;\n"
	    "*) exit 6;;\n"
	    "esac");
	ck_test_configure(f, REBUILT_CONFIG);
	ck_test_start(f);
	ca = ck_engine_find_ca(f->engine, "rebuilt");
	g_assert_nonnull(ca);
	/* the start-up refresh failed: no roots, and the CA says why */
	ck_test_spin(500);
	g_assert_cmpuint(ck_test_count_line(ops, "FETCH-ROOTS"), ==, 1);
	g_assert_nonnull(strstr(ck_ca_get_error(ca), "connection refused"));
	g_assert_cmpint(g_unlink(down), ==, 0);

	t = ck_test_template(f, "later");
	ck_request_set_ca(t, "rebuilt");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_NEED_GUIDANCE, NULL, 20000);
	g_assert_nonnull(strstr(ck_request_get_last_error(request),
				"does not verify to the CA's trust anchors"));
	g_assert_false(g_file_test(ck_request_get_cert_file(request), G_FILE_TEST_EXISTS));
	g_assert_cmpuint(ck_test_count_line(ops, "FETCH-ROOTS"), ==, 2);
	g_assert_cmpstr(ck_ca_get_error(ca), ==, "");
	g_assert_true(ck_test_issuer_is(ca, "CN=second"));

	/* from the CA's own root: installed, and the roots are not fetched again */
	ck_test_set(f, "issues", "second");
	g_assert_true(ck_engine_rekey(f->engine, "later", &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_free(ck_test_assert_pair(request));
	g_assert_cmpuint(ck_test_count_line(ops, "FETCH-ROOTS"), ==, 2);
}

/* The install */

static void
test_lifecycle_check_failure_first_install(Fixture *f, gconstpointer user_data)
{
	/* a first install with nothing to go back to: the new files are removed again */
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *flag = g_build_filename(f->dir, "pass", NULL);
	g_autofree gchar *check = g_strdup_printf("test -e %s", flag);
	CkRequest *request;

	ck_test_start(f);
	t = ck_test_template(f, "checked");
	ck_request_set_check_command(t, check);
	request = ck_test_add(f, t);
	{
		gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
		while (ck_request_get_failed_attempts(request) == 0 &&
		       g_get_monotonic_time() < deadline)
			ck_test_spin(20);
	}
	g_assert_cmpuint(ck_request_get_failed_attempts(request), >=, 1);
	g_assert_nonnull(strstr(ck_request_get_last_error(request), "rolled back"));
	g_assert_false(g_file_test(ck_request_get_cert_file(request), G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(ck_request_get_key_file(request), G_FILE_TEST_EXISTS));
	g_assert_cmpint(ck_request_get_not_after(request), ==, 0);
	/* once the check passes, the retry installs */
	g_assert_true(g_file_set_contents(flag, "", 0, NULL));
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_free(ck_test_assert_pair(request));
	g_assert_cmpstr(ck_request_get_last_error(request), ==, "");
	/* each rolled-back install was a failed attempt of its own, the last one succeeded */
	g_assert_cmpuint(
	    ck_test_metric(f, "certkeeper_renewal_failures_total{reason=\"post_install\"}"), >=, 1);
	g_assert_cmpuint(
	    ck_test_metric(f, "certkeeper_renewal_failures_total{reason=\"post_install\"}"), ==,
	    ck_test_metric(f, "certkeeper_renewal_attempts_total{result=\"failure\"}"));
	g_assert_cmpuint(ck_test_metric(f, "certkeeper_renewal_attempts_total{result=\"success\"}"),
			 ==, 1);
	g_assert_cmpuint(
	    ck_test_metric(f, "certkeeper_ca_requests_total{ca=\"local\",result=\"issued\"}"), ==,
	    ck_test_metric(f, "certkeeper_renewal_attempts_total{result=\"failure\"}") + 1);
}

static void
test_lifecycle_directory_layout(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_build_filename(f->dir, "web", NULL);
	g_autofree gchar *current = g_build_filename(dir, "current", NULL);
	g_autofree gchar *combined_path = g_build_filename(dir, "combined.pem", NULL);
	g_autofree gchar *first = NULL, *second = NULL, *serial = NULL;
	g_autofree gchar *combined = NULL, *cert = NULL, *key = NULL, *chain = NULL;
	CkRequest *request;

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	ck_test_start(f);
	t = ck_test_template(f, "dir");
	ck_request_set_cert_file(t, NULL);
	ck_request_set_key_file(t, NULL);
	ck_request_set_directory(t, dir);
	request = ck_test_add(f, t);
	g_assert_true(g_str_has_suffix(ck_request_get_cert_file(request), "/web/cert.pem"));
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	first = g_file_read_link(current, &error);
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(first, ".versions/"));
	g_assert_true(g_file_test(ck_request_get_cert_file(request), G_FILE_TEST_IS_SYMLINK));
	g_free(ck_test_assert_pair(request));
	/* the combined file: key, certificate and chain of the same version */
	combined = ck_test_read(combined_path);
	key = ck_test_read(ck_request_get_key_file(request));
	cert = ck_test_read(ck_request_get_cert_file(request));
	chain = ck_test_read(ck_request_get_chain_file(request));
	{
		g_autofree gchar *expected = g_strconcat(key, cert, chain, NULL);
		g_assert_cmpstr(combined, ==, expected);
	}
	g_assert_cmpint(ck_test_file_mode(combined_path), ==, 0600);

	serial = g_strdup(ck_request_get_serial(request));
	g_assert_true(ck_engine_rekey(f->engine, "dir", &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	second = g_file_read_link(current, &error);
	g_assert_no_error(error);
	/* one swap of "current" switched every file to the new version */
	g_assert_cmpstr(first, !=, second);
	g_free(ck_test_assert_pair(request));
	/* the previous version stays for the grace period */
	{
		g_autofree gchar *old = g_build_filename(dir, first, NULL);
		g_assert_true(g_file_test(old, G_FILE_TEST_IS_DIR));
	}
}

static void
test_lifecycle_external_change(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *foreign_cert = g_build_filename(f->dir, "foreign.crt", NULL);
	g_autofree gchar *foreign_key = g_build_filename(f->dir, "foreign.key", NULL);
	const gchar *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-days", "400", "-subj",
			       "/CN=ext.example", "-keyout", NULL, "-out", NULL, NULL};
	g_autofree gchar *text = NULL;
	CkRequest *request;
	gint64 renewal_before;

	argv[13] = foreign_key;
	argv[15] = foreign_cert;
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	ck_test_start(f);
	t = ck_test_template(f, "ext");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	serial = g_strdup(ck_request_get_serial(request));
	renewal_before = ck_request_get_renewal_time(request);

	/* another tool puts a certificate there (atomically, as tools do) */
	text = ck_test_read(foreign_cert);
	{
		g_autofree gchar *tmp = g_strconcat(ck_request_get_cert_file(request), ".tmp", NULL);
		g_assert_true(g_file_set_contents(tmp, text, -1, NULL));
		g_assert_cmpint(g_rename(tmp, ck_request_get_cert_file(request)), ==, 0);
	}
	{
		gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
		while (g_strcmp0(ck_request_get_serial(request), serial) == 0 &&
		       g_get_monotonic_time() < deadline)
			ck_test_spin(20);
	}
	/* noticed, taken in, planned from its real notAfter: no renewal of our own */
	g_assert_cmpstr(ck_request_get_serial(request), !=, serial);
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpint(ck_request_get_not_after(request), >, ck_clock_now() + 399 * 86400);
	g_assert_cmpint(ck_request_get_renewal_time(request), >, renewal_before);
	ck_test_spin(300);
	{
		g_autofree gchar *now = ck_test_read(ck_request_get_cert_file(request));
		g_assert_cmpstr(now, ==, text);
	}

	/* and a certificate that disappears is issued again */
	g_clear_pointer(&serial, g_free);
	serial = g_strdup(ck_request_get_serial(request));
	g_assert_cmpint(g_unlink(ck_request_get_cert_file(request)), ==, 0);
	/* the foreign key is not ours: put ours back so the pair stays consistent */
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	g_free(ck_test_assert_pair(request));
}

/* Full disk: the old certificate stays, the error says so, and space coming back heals it. */
static void
test_lifecycle_full_disk(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *filler = NULL;
	g_autofree gchar *before = NULL, *during = NULL, *serial = NULL;
	CkRequest *request;

	if (geteuid() != 0) {
		g_test_skip("needs root to mount a small tmpfs");
		return;
	}
	if (mount("tmpfs", f->certs, "tmpfs", 0, "size=64k,mode=0755") < 0) {
		g_test_skip("cannot mount a tmpfs here");
		return;
	}
	f->mounted = TRUE;
	ck_test_start(f);
	t = ck_test_template(f, "full");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	before = ck_test_read(ck_request_get_cert_file(request));
	serial = g_strdup(ck_request_get_serial(request));

	/* fill the file system to the last byte */
	filler = g_build_filename(f->certs, "filler", NULL);
	{
		const gchar *argv[] = {"dd", "if=/dev/zero", NULL, "bs=1k", "count=1000", NULL};
		g_autofree gchar *of = g_strdup_printf("of=%s", filler);
		argv[2] = of;
		ck_test_run(argv, NULL, NULL);
	}
	g_assert_true(ck_engine_rekey(f->engine, "full", &error));
	g_assert_no_error(error);
	{
		gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
		while (ck_request_get_failed_attempts(request) == 0 &&
		       g_get_monotonic_time() < deadline)
			ck_test_spin(20);
	}
	g_assert_cmpuint(ck_request_get_failed_attempts(request), >=, 1);
	g_test_message("last error: %s", ck_request_get_last_error(request));
	g_assert_nonnull(strstr(ck_request_get_last_error(request), "No space left on device"));
	during = ck_test_read(ck_request_get_cert_file(request));
	g_assert_cmpstr(during, ==, before);
	g_assert_cmpstr(ck_request_get_serial(request), ==, serial);
	g_free(ck_test_assert_pair(request));
	{
		g_autoptr(GDir) d = g_dir_open(f->certs, 0, NULL);
		const gchar *name;
		while ((name = g_dir_read_name(d)) != NULL)
			g_assert_false(g_str_has_suffix(name, ".ck-new"));
	}

	/* space comes back: the retry installs the certificate it kept */
	g_assert_cmpint(g_unlink(filler), ==, 0);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	g_free(ck_test_assert_pair(request));
	g_assert_cmpuint(ck_request_get_failed_attempts(request), ==, 0);
	ck_test_stop(f);
}

/* Clock trust (fault-injection builds move the engine's clock) */

/* A certificate with validity [@from, @until] for @key_path, self-signed, via certtool. */
static void
ck_test_make_cert(Fixture *f, const gchar *name, gint64 from, gint64 until, const gchar *key_path,
		  const gchar *cert_path)
{
	g_autofree gchar *template_path = g_build_filename(f->dir, "template", NULL);
	g_autoptr(GDateTime) a = g_date_time_new_from_unix_utc(from);
	g_autoptr(GDateTime) b = g_date_time_new_from_unix_utc(until);
	g_autofree gchar *sa = g_date_time_format(a, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *sb = g_date_time_format(b, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *text =
	    g_strdup_printf("cn = \"%s\"\ndns_name = \"%s\"\nactivation_date = \"%s\"\n"
			    "expiration_date = \"%s\"\nsigning_key\n",
			    name, name, sa, sb);
	const gchar *argv[] = {"certtool",	 "--generate-self-signed", "--load-privkey",
			       key_path,	 "--template",		   template_path,
			       "--outfile",	 cert_path,		   NULL};
	g_assert_true(g_file_set_contents(template_path, text, -1, NULL));
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
}

static void
ck_test_set_clock_offset(Fixture *f, gint64 offset)
{
	g_autofree gchar *path = g_build_filename(f->dir, "clock-offset", NULL);
	g_autofree gchar *text = g_strdup_printf("%lld\n", (long long)offset);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_setenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE", path, TRUE);
	ck_clock_reload_offset();
}

static void
test_lifecycle_clock_behind(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *sync = g_build_filename(f->dir, "synchronized", NULL);
	gint64 real_now = g_get_real_time() / G_USEC_PER_SEC;
	CkRequest *request;

	if (!CK_TEST_FAULT_INJECTION) {
		g_test_skip("needs a fault-injection build (meson -Dfault_injection=true)");
		return;
	}
	ck_test_start(f);
	t = ck_test_template(f, "rtc");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	serial = g_strdup(ck_request_get_serial(request));
	ck_test_stop(f);

	/* the certificate expired a day ago; the device comes back with a clock that is
	 * behind what the daemon saw before (a dead RTC battery) */
	{
		g_autofree gchar *expired = g_build_filename(f->dir, "expired.crt", NULL);
		g_autofree gchar *key = g_build_filename(f->certs, "rtc.key", NULL);
		ck_test_make_cert(f, "rtc.example", real_now - 3 * 86400, real_now - 86400, key,
				  expired);
		g_autofree gchar *rtc_cert = ck_test_path(f, "rtc.crt");
		g_assert_cmpint(g_rename(expired, rtc_cert), ==, 0);
	}
	ck_test_set_clock_offset(f, -2 * 3600);
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "rtc");
	ck_test_spin(1500);
	/* no decision on that clock: waiting, and saying why */
	g_test_message("waiting: %s", ck_request_get_waiting(request));
	g_assert_nonnull(strstr(ck_request_get_waiting(request), "earlier than"));
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpstr(ck_request_get_serial(request), !=, serial);

	/* the clock is fixed and time synchronisation says so: the renewal goes ahead */
	ck_test_set_clock_offset(f, 0);
	g_assert_true(g_file_set_contents(sync, "", 0, NULL));
	g_clear_pointer(&serial, g_free);
	serial = g_strdup(ck_request_get_serial(request));
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	g_assert_cmpstr(ck_request_get_waiting(request), ==, "");
	g_assert_cmpint(ck_request_get_not_after(request), >, ck_clock_now());
	g_free(ck_test_assert_pair(request));
}

/* CSR attributes (CERTKEEPER-GET-CSR-ATTRIBUTES) */

#define ATTRS_CONFIG "[ca attrs]\nType=helper\nHelper=@DIR@/attrs.sh\n"

/* The helper answers with the file "attrs" and signs with the CA "attrca". */
#define ATTRS_HELPER                                                                               \
	"case \"$CERTMONGER_OPERATION\" in\n"                                                      \
	"CERTKEEPER-GET-CSR-ATTRIBUTES) cat @DIR@/attrs; exit 0;;\n"                                \
	"SUBMIT) printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/req.csr\n"                              \
	"  openssl x509 -req -in @DIR@/req.csr -CA @DIR@/attrca.pem -CAkey @DIR@/attrca.key "       \
	"-CAcreateserial -days 1 -extfile @DIR@/ext 2>/dev/null || exit 3\n"                        \
	"  exit 0;;\n"                                                                              \
	"*) exit 6;;\n"                                                                             \
	"esac"

static gnutls_x509_crq_t
ck_test_read_csr(Fixture *f)
{
	g_autofree gchar *path = g_build_filename(f->dir, "req.csr", NULL);
	g_autofree gchar *pem = ck_test_read(path);
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	gnutls_x509_crq_t crq = NULL;

	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	return crq;
}

/* The rekey of @request ends in NEED_GUIDANCE with @part in LastError. */
static void
ck_test_rekey_needs_guidance(Fixture *f, CkRequest *request, const gchar *part)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(ck_engine_rekey(f->engine, ck_request_get_id(request), &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_NEED_GUIDANCE, NULL, 20000);
	if (strstr(ck_request_get_last_error(request), part) == NULL)
		g_error("'%s' does not say '%s'", ck_request_get_last_error(request), part);
}

/*
 * A CA that asks for RSA keys, a challengePassword and an extension gets them
 * (also from a request added while the CA still describes itself at start-up);
 * one that asks for a key type certkeeper cannot make, or for a challenge its
 * helper does not have, and a request that pins another key type, need guidance;
 * one that asks for the EC family takes a P-384 key.
 */
static void
test_lifecycle_csr_attributes(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(CkRequest) pinned_template = NULL;
	g_autoptr(CkRequest) p384_template = NULL;
	g_autofree gchar *attrs = g_build_filename(f->dir, "attrs", NULL);
	g_autofree gchar *ext = g_build_filename(f->dir, "ext", NULL);
	g_autofree gchar *cert_pem = NULL;
	gnutls_x509_crq_t crq;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum;
	CkRequest *request, *pinned, *p384;
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	char password[64];
	size_t password_size = sizeof(password);
	guint8 value[32];
	size_t value_size = sizeof(value);
	unsigned int critical = 1, bits = 0;
	CkCa *ca;

	ck_test_make_root(f, "attrca");
	g_assert_true(g_file_set_contents(ext, "subjectAltName=DNS:attrs.example\n", -1, NULL));
	g_assert_true(g_file_set_contents(attrs,
					  "key-type rsa-2048\nchallenge-password pw-1\n"
					  "extension 1.3.6.1.4.1.99999.2 noncritical DARmZWV0\n",
					  -1, NULL));
	ck_test_write_script(f, "attrs.sh", ATTRS_HELPER);
	ck_test_configure(f, ATTRS_CONFIG);
	ck_test_start(f);
	t = ck_test_template(f, "attrs");
	ck_request_set_ca(t, "attrs");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 30000);

	/* the certificate is for an RSA key of 2048 bits; the setting stays the request's */
	cert_pem = ck_test_read(ck_request_get_cert_file(request));
	datum.data = (unsigned char *)cert_pem;
	datum.size = (unsigned int)strlen(cert_pem);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_get_pk_algorithm(crt, &bits), ==, GNUTLS_PK_RSA);
	g_assert_cmpuint(bits, ==, 2048);
	gnutls_x509_crt_deinit(crt);
	g_free(ck_test_assert_pair(request));
	g_assert_cmpint(ck_request_get_key_type(request), ==, CK_KEY_TYPE_EC_P256);
	/* the CSR had the challenge and the extension */
	crq = ck_test_read_csr(f);
	g_assert_cmpint(gnutls_x509_crq_get_challenge_password(crq, password, &password_size), ==,
			0);
	g_assert_cmpstr(password, ==, "pw-1");
	g_assert_cmpint(gnutls_x509_crq_get_extension_by_oid(crq, "1.3.6.1.4.1.99999.2", 0, value,
							     &value_size, &critical),
			==, 0);
	g_assert_cmpmem(value, value_size, "\x0c\x04" "feet", 6);
	g_assert_cmpuint(critical, ==, 0);
	gnutls_x509_crq_deinit(crq);

	ca = ck_engine_find_ca(f->engine, "attrs");
	g_assert_nonnull(ca);
	/* a key type certkeeper cannot make */
	g_assert_true(g_file_set_contents(attrs, "key-type ed448\n", -1, NULL));
	ck_engine_refresh_ca(f->engine, ca);
	ck_test_rekey_needs_guidance(f, request, "asks for ed448 keys");
	g_assert_nonnull(strstr(ck_request_get_last_error(request), "cannot make"));
	/* a challenge the helper has none for */
	g_assert_true(g_file_set_contents(attrs, "challenge-password\n", -1, NULL));
	ck_engine_refresh_ca(f->engine, ca);
	ck_test_rekey_needs_guidance(f, request, "challengePassword");
	g_assert_nonnull(strstr(ck_request_get_last_error(request), "ChallengeFile="));
	/* what was installed stays */
	{
		g_autofree gchar *now_pem = ck_test_read(ck_request_get_cert_file(request));
		g_assert_cmpstr(now_pem, ==, cert_pem);
	}

	/* a request that pins its own key type */
	g_assert_true(g_file_set_contents(attrs, "key-type rsa-2048\n", -1, NULL));
	ck_engine_refresh_ca(f->engine, ca);
	pinned_template = ck_test_template(f, "pinned");
	ck_request_set_ca(pinned_template, "attrs");
	ck_request_set_key_type(pinned_template, CK_KEY_TYPE_ED25519);
	pinned = ck_test_add(f, pinned_template);
	ck_test_wait(pinned, CK_REQUEST_STATE_NEED_GUIDANCE, NULL, 20000);
	g_assert_nonnull(strstr(ck_request_get_last_error(pinned), "rsa-2048"));
	g_assert_nonnull(strstr(ck_request_get_last_error(pinned), "ed25519"));
	g_assert_nonnull(strstr(ck_request_get_last_error(pinned),
				"certkeeper modify -i pinned -G rsa-2048"));
	g_assert_cmpint(ck_request_get_not_after(pinned), ==, 0);

	/* the EC family alone: a request pinned to P-384 gives the CA what it asks for */
	g_assert_true(g_file_set_contents(attrs, "key-type ec\n", -1, NULL));
	g_assert_true(g_file_set_contents(ext, "subjectAltName=DNS:p384.example\n", -1, NULL));
	ck_engine_refresh_ca(f->engine, ca);
	p384_template = ck_test_template(f, "p384");
	ck_request_set_ca(p384_template, "attrs");
	ck_request_set_key_type(p384_template, CK_KEY_TYPE_EC_P384);
	p384 = ck_test_add(f, p384_template);
	ck_test_wait(p384, CK_REQUEST_STATE_MONITORING, NULL, 30000);
	g_clear_pointer(&cert_pem, g_free);
	cert_pem = ck_test_read(ck_request_get_cert_file(p384));
	datum.data = (unsigned char *)cert_pem;
	datum.size = (unsigned int)strlen(cert_pem);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_get_pk_algorithm(crt, NULL), ==, GNUTLS_PK_ECDSA);
	g_assert_cmpint(gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, NULL, NULL), ==, 0);
	g_assert_cmpint(curve, ==, GNUTLS_ECC_CURVE_SECP384R1);
	gnutls_x509_crt_deinit(crt);
}

/* Expiry status */

typedef struct {
	const gchar *id;
	GPtrArray *statuses; /* every change of the request's ExpiryStatus, in order */
	GArray *times;	     /* ck_clock_now() at each */
} ExpiryWatch;

static void
on_expiry_changed(CkEngine *engine, CkRequest *request, guint fields, ExpiryWatch *w)
{
	const gchar *name = ck_expiry_status_to_string(ck_request_get_expiry_status(request));
	gint64 now = ck_clock_now();

	if (g_strcmp0(ck_request_get_id(request), w->id) != 0 ||
	    (fields & CK_REQUEST_FIELD_STATUS) == 0)
		return;
	/* the same bit also announces Waiting and Identity */
	if (w->statuses->len > 0 &&
	    g_strcmp0(g_ptr_array_index(w->statuses, w->statuses->len - 1), name) == 0)
		return;
	g_ptr_array_add(w->statuses, (gpointer)name);
	g_array_append_val(w->times, now);
}

static gboolean
ck_test_expired(gpointer data)
{
	return ck_request_get_expiry_status(data) == CK_EXPIRY_EXPIRED;
}

/*
 * A watched certificate turns "expiring" at its renewal threshold and "expired" at
 * notAfter, each change announced when it happens, by the scheduler alone.
 */
static void
test_lifecycle_expiry_status(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GPtrArray) statuses = g_ptr_array_new();
	g_autoptr(GArray) times = g_array_new(FALSE, FALSE, sizeof(gint64));
	ExpiryWatch w = {"watched", statuses, times};
	CkRequest *request;
	gint64 not_after, lifetime;

	ck_test_start(f);
	g_signal_connect(f->engine, "request-changed", G_CALLBACK(on_expiry_changed), &w);
	t = ck_test_template(f, "watched");
	/* lives 10 s, expiring when half of that is left; never renewed by itself */
	ck_request_set_validity(t, 10);
	ck_request_set_renew_before(t, "50%");
	ck_request_set_auto_renew(t, FALSE);
	request = ck_test_add(f, t);
	/* no certificate yet, and it has been working on one since it was added */
	g_assert_cmpint(ck_request_get_expiry_status(request), ==, CK_EXPIRY_NONE);
	g_assert_cmpint(ck_request_get_working_since(request), >, 0);
	g_assert_cmpint(ck_request_get_working_since(request), <=, ck_clock_now());

	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_assert_cmpint(ck_request_get_working_since(request), ==, 0);
	g_assert_true(ck_test_iterate_until(ck_test_expired, request, 30000));
	not_after = ck_request_get_not_after(request);
	lifetime = not_after - ck_request_get_not_before(request);

	g_assert_cmpuint(statuses->len, ==, 3);
	g_assert_cmpstr(g_ptr_array_index(statuses, 0), ==, "valid");
	g_assert_cmpstr(g_ptr_array_index(statuses, 1), ==, "expiring");
	g_assert_cmpstr(g_ptr_array_index(statuses, 2), ==, "expired");
	/* each change came at its moment, not before */
	g_assert_cmpint(g_array_index(times, gint64, 1), >=, not_after - lifetime / 2);
	g_assert_cmpint(g_array_index(times, gint64, 2), >=, not_after);
	/* watched only: it expired without a renewal */
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpint(ck_request_get_not_after(request), ==, not_after);
	g_signal_handlers_disconnect_by_data(f->engine, &w);
}

/* ExpiringBefore makes a certificate "expiring" earlier than its threshold; a restart
 * computes the status afresh from the configuration in force. */
static void
test_lifecycle_expiring_before(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	CkRequest *request;

	ck_test_start(f);
	t = ck_test_template(f, "day");
	ck_request_set_validity(t, 86400);
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	/* a third of a day before expiry is far off */
	g_assert_cmpint(ck_request_get_expiry_status(request), ==, CK_EXPIRY_VALID);

	ck_test_stop(f);
	ck_test_configure(f, "ExpiringBefore=2d\n");
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "day");
	g_assert_nonnull(request);
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpint(ck_request_get_expiry_status(request), ==, CK_EXPIRY_EXPIRING);
}

static void
test_lifecycle_clock_forward(Fixture *f, gconstpointer user_data)
{
	/* moved forward past the renewal time (a suspend, an NTP step): renew then */
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *serial = NULL;
	CkRequest *request;

	if (!CK_TEST_FAULT_INJECTION) {
		g_test_skip("needs a fault-injection build (meson -Dfault_injection=true)");
		return;
	}
	ck_test_set_clock_offset(f, 0);
	ck_test_start(f);
	t = ck_test_template(f, "jump");
	ck_request_set_validity(t, 3600);
	ck_request_set_renew_before(t, "50%");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	serial = g_strdup(ck_request_get_serial(request));
	ck_test_spin(300);
	g_assert_cmpstr(ck_request_get_serial(request), ==, serial);
	ck_test_set_clock_offset(f, 40 * 60);
	ck_engine_clock_changed(f->engine);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	g_assert_cmpint(ck_request_get_not_before(request), >, ck_clock_now() - 600);
}

/* Bootstrap identity */

#define BOOTSTRAP_CONFIG "[ca est]\nType=helper\nHelper=@DIR@/est.sh\n"

static void
test_lifecycle_bootstrap(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(CkRequest) t2 = NULL;
	g_autofree gchar *log_path = g_build_filename(f->dir, "identities", NULL);
	g_autofree gchar *boot_key = g_build_filename(f->dir, "boot.key", NULL);
	g_autofree gchar *boot_cert = g_build_filename(f->dir, "boot.crt", NULL);
	g_autofree gchar *old_key = g_build_filename(f->dir, "old.key", NULL);
	g_autofree gchar *old_cert = g_build_filename(f->dir, "old.crt", NULL);
	g_autofree gchar *dev_cert = NULL, *dev_key = NULL;
	g_autofree gchar *identities = NULL;
	g_autofree gchar *serial = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	GLogLevelFlags fatal;
	CkRequest *request, *stranded;
	const gchar *keygen[] = {"certtool", "--generate-privkey", "--key-type=ecdsa",
				 "--outfile", NULL, NULL};

	/* an EST-like helper: it signs only for an identity whose certificate is valid */
	ck_test_write_script(
	    f, "est.sh",
	    "[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n"
	    "echo \"$CERTKEEPER_AUTH_IDENTITY\" >> @DIR@/identities\n"
	    "if [ -n \"$CERTKEEPER_AUTH_CERTIFICATE\" ]; then\n"
	    "  openssl x509 -checkend 0 -noout -in \"$CERTKEEPER_AUTH_CERTIFICATE\" >/dev/null || "
	    "{ echo \"$CERTKEEPER_AUTH_IDENTITY certificate expired\"; exit 2; }\n"
	    "fi\n"
	    "printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/req.csr\n"
	    "printf 'subjectAltName=DNS:dev.example\\n' > @DIR@/ext\n"
	    "openssl x509 -req -in @DIR@/req.csr -CA @DIR@/boot.crt -CAkey @DIR@/boot.key "
	    "-CAcreateserial -days 30 -extfile @DIR@/ext 2>/dev/null || exit 3\n");
	keygen[4] = boot_key;
	g_assert_cmpint(ck_test_run(keygen, NULL, NULL), ==, 0);
	keygen[4] = old_key;
	g_assert_cmpint(ck_test_run(keygen, NULL, NULL), ==, 0);
	ck_test_make_cert(f, "bootstrap.example", now - 86400, now + 30 * 86400, boot_key,
			  boot_cert);
	ck_test_configure(f, BOOTSTRAP_CONFIG);
	ck_test_start(f);
	t = ck_test_template(f, "dev");
	ck_request_set_ca(t, "est");
	ck_request_set_bootstrap_cert_file(t, boot_cert);
	ck_request_set_bootstrap_key_file(t, boot_key);
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	/* the first enrollment is authenticated by the bootstrap identity */
	g_assert_cmpstr(ck_request_get_identity(request), ==, "bootstrap");
	serial = g_strdup(ck_request_get_serial(request));
	ck_test_stop(f);

	/* the device was offline too long: its certificate expired */
	ck_test_make_cert(f, "dev.example", now - 40 * 86400, now - 86400, old_key, old_cert);
	dev_cert = ck_test_path(f, "dev.crt");
	dev_key = ck_test_path(f, "dev.key");
	g_assert_cmpint(g_rename(old_cert, dev_cert), ==, 0);
	g_assert_cmpint(g_rename(old_key, dev_key), ==, 0);
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "dev");
	{
		gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
		/* first the expired certificate is taken in, then it is renewed */
		while ((g_strcmp0(ck_request_get_serial(request), serial) == 0 ||
			ck_request_get_not_after(request) <= now ||
			ck_request_get_state(request) != CK_REQUEST_STATE_MONITORING) &&
		       g_get_monotonic_time() < deadline)
			ck_test_spin(20);
	}
	/* recovered without anyone acting, through the bootstrap identity */
	g_assert_cmpint(ck_request_get_not_after(request), >, now);
	g_assert_cmpstr(ck_request_get_identity(request), ==, "bootstrap");
	identities = ck_test_read(log_path);
	g_assert_cmpstr(identities, ==, "bootstrap\nbootstrap\n");

	/* both expired: a human must enroll the device again, and is told so */
	{
		g_autofree gchar *dead_boot = g_build_filename(f->dir, "dead-boot.crt", NULL);
		g_autofree gchar *dead_cert = g_build_filename(f->certs, "lost.crt", NULL);
		g_autofree gchar *lost_key = g_build_filename(f->certs, "lost.key", NULL);
		keygen[4] = lost_key;
		g_assert_cmpint(ck_test_run(keygen, NULL, NULL), ==, 0);
		ck_test_make_cert(f, "bootstrap.example", now - 90 * 86400, now - 60 * 86400,
				  boot_key, dead_boot);
		ck_test_make_cert(f, "lost.example", now - 40 * 86400, now - 86400, lost_key,
				  dead_cert);
		t2 = ck_test_template(f, "lost");
		ck_request_set_ca(t2, "est");
		ck_request_set_bootstrap_cert_file(t2, dead_boot);
		ck_request_set_bootstrap_key_file(t2, boot_key);
		fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
		stranded = ck_test_add(f, t2);
		/* the expired certificate there is taken in first, then the ladder runs out */
		ck_test_wait(stranded, CK_REQUEST_STATE_NEED_GUIDANCE, NULL, 20000);
		g_log_set_always_fatal(fatal);
		g_test_message("%s", ck_request_get_last_error(stranded));
		g_assert_nonnull(strstr(ck_request_get_last_error(stranded), "bootstrap"));
		g_assert_nonnull(strstr(ck_request_get_last_error(stranded), "enroll"));
	}
	/* expired without a bootstrap identity: the helper is told so ("expired"), with
	 * the files, and this one refuses */
	{
		g_autoptr(CkRequest) t3 = NULL;
		g_autofree gchar *old = g_build_filename(f->certs, "old.crt", NULL);
		g_autofree gchar *old_key2 = g_build_filename(f->certs, "old.key", NULL);
		g_autofree gchar *seen = NULL;
		g_autoptr(GError) error = NULL;
		const CkCaller root = {.uid = 0};
		CkRequest *orphan;
		keygen[4] = old_key2;
		g_assert_cmpint(ck_test_run(keygen, NULL, NULL), ==, 0);
		ck_test_make_cert(f, "old.example", now - 40 * 86400, now - 86400, old_key2, old);
		t3 = ck_test_template(f, "old");
		ck_request_set_ca(t3, "est");
		fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
		/* adopted as it is (start-tracking), so the daemon knows it has expired */
		orphan = ck_engine_start_tracking(f->engine, &root, t3, &error);
		g_assert_no_error(error);
		ck_test_wait(orphan, CK_REQUEST_STATE_CA_REJECTED, NULL, 20000);
		g_log_set_always_fatal(fatal);
		g_assert_cmpstr(ck_request_get_identity(orphan), ==, "expired");
		g_assert_nonnull(strstr(ck_request_get_last_error(orphan), "expired certificate expired"));
		seen = ck_test_read(log_path);
		g_assert_true(g_str_has_suffix(seen, "expired\n"));
	}
}

/* Concurrency and fairness */

typedef struct {
	guint generating;
	guint max_generating;
	GPtrArray *order; /* ids in the order they started generating */
} KeyLog;

static void
ck_test_on_key_change(CkEngine *engine, CkRequest *request, guint fields, KeyLog *log)
{
	static const gchar *const key = "ck-test-generating";
	gboolean was = GPOINTER_TO_INT(g_object_get_data(G_OBJECT(request), key));
	gboolean is = ck_request_get_state(request) == CK_REQUEST_STATE_GENERATING_KEY_PAIR;

	if (!(fields & CK_REQUEST_FIELD_STATE) || was == is)
		return;
	g_object_set_data(G_OBJECT(request), key, GINT_TO_POINTER(is));
	if (is) {
		log->generating++;
		log->max_generating = MAX(log->max_generating, log->generating);
		g_ptr_array_add(log->order, g_strdup(ck_request_get_id(request)));
	} else {
		log->generating--;
	}
}

static gboolean
ck_test_all_monitoring(gpointer data)
{
	CkEngine *engine = data;
	g_autoptr(GPtrArray) all = ck_engine_get_requests(engine);
	for (guint i = 0; i < all->len; i++) {
		if (ck_request_get_state(g_ptr_array_index(all, i)) != CK_REQUEST_STATE_MONITORING)
			return FALSE;
	}
	return TRUE;
}

static void
test_lifecycle_bounded_and_fair(Fixture *f, gconstpointer user_data)
{
	KeyLog log = {0, 0, g_ptr_array_new_with_free_func(g_free)};
	const guint n = 60;

	ck_test_configure(f, "[certkeeperd]\nMaxParallelKeyGenerations=2\n");
	ck_test_start(f);
	g_signal_connect(f->engine, "request-changed", G_CALLBACK(ck_test_on_key_change), &log);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *id = g_strdup_printf("r%03u", i);
		g_autoptr(CkRequest) t = ck_test_template(f, id);
		/* RSA: generation takes long enough to overlap */
		ck_request_set_key_type(t, CK_KEY_TYPE_RSA_2048);
		ck_test_add(f, t);
	}
	g_assert_true(ck_test_iterate_until(ck_test_all_monitoring, f->engine, 120000));
	/* never more than the configured number at once, and they took their turns in order */
	g_assert_cmpuint(log.max_generating, <=, 2);
	g_assert_cmpuint(log.max_generating, >=, 1);
	g_assert_cmpuint(log.order->len, ==, n);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *id = g_strdup_printf("r%03u", i);
		g_assert_cmpstr(g_ptr_array_index(log.order, i), ==, id);
	}
	g_signal_handlers_disconnect_by_data(f->engine, &log);
	g_ptr_array_unref(log.order);
}


/* Renewal windows (ACME renewal information through GET-RENEWAL-WINDOW) */

/*
 * A helper CA signing with a local openssl CA (1-day certificates), whose
 * GET-RENEWAL-WINDOW answers from @DIR@/window: "6" (not offered), "3" (CA
 * down), or two offsets in seconds from now and a Retry-After; with
 * @DIR@/window.next, the answers after the first come from that file. Every
 * operation is logged to @DIR@/ops.
 */
#define WINDOW_HELPER                                                                              \
	"echo \"$CERTMONGER_OPERATION\" >> @DIR@/ops\n"                                           \
	"case \"$CERTMONGER_OPERATION\" in\n"                                                     \
	"SUBMIT)\n"                                                                                \
	"  printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/req.csr\n"                                   \
	"  printf 'subjectAltName=DNS:win.example\\nauthorityKeyIdentifier=keyid\\n' > @DIR@/ext\n" \
	"  openssl x509 -req -in @DIR@/req.csr -CA @DIR@/ca.pem -CAkey @DIR@/ca.key "             \
	"-CAcreateserial -days 1 -extfile @DIR@/ext 2>/dev/null || exit 3\n"                       \
	"  exit 0;;\n"                                                                             \
	"GET-RENEWAL-WINDOW)\n"                                                                    \
	"  printf '%s\\n' \"$CERTMONGER_CERTIFICATE\" > @DIR@/asked.pem\n"                         \
	"  f=@DIR@/window; [ -e @DIR@/asked ] && [ -e @DIR@/window.next ] && f=@DIR@/window.next\n" \
	"  touch @DIR@/asked\n"                                                                    \
	"  read a b r < $f\n"                                                                      \
	"  [ \"$a\" = 6 ] && exit 6\n"                                                             \
	"  [ \"$a\" = 3 ] && { echo 'the CA is down'; exit 3; }\n"                                 \
	"  now=$(date +%s); echo \"$((now + a)) $((now + b))\"; echo \"$r\"; exit 0;;\n"           \
	"*) exit 6;;\n"                                                                            \
	"esac"
#define WINDOW_CONFIG "[ca win]\nType=helper\nHelper=@DIR@/win.sh\n"

static void
ck_test_window_ca(Fixture *f, const gchar *window)
{
	const gchar *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-days", "3", "-subj",
			       "/CN=window test CA", "-keyout", NULL, "-out", NULL, NULL};
	g_autofree gchar *ca_key = g_build_filename(f->dir, "ca.key", NULL);
	g_autofree gchar *ca_crt = g_build_filename(f->dir, "ca.pem", NULL);
	g_autofree gchar *window_file = g_build_filename(f->dir, "window", NULL);

	argv[13] = ca_key;
	argv[15] = ca_crt;
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_assert_true(g_file_set_contents(window_file, window, -1, NULL));
	ck_test_write_script(f, "win.sh", WINDOW_HELPER);
	ck_test_configure(f, WINDOW_CONFIG);
}

/* How often the CA was asked for a window. */
static guint
ck_test_count_asks(Fixture *f)
{
	g_autofree gchar *ops = g_build_filename(f->dir, "ops", NULL);
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (!g_file_get_contents(ops, &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		n += g_strcmp0(lines[i], "GET-RENEWAL-WINDOW") == 0;
	return n;
}

typedef struct {
	Fixture *f;
	guint asks;
} WaitAsks;

static gboolean
ck_test_asked(gpointer data)
{
	WaitAsks *w = data;
	return ck_test_count_asks(w->f) >= w->asks;
}

/* Waits until the CA was asked @asks times and the engine had time to take the answer. */
static void
ck_test_wait_asks(Fixture *f, guint asks)
{
	WaitAsks w = {f, asks};
	g_assert_true(ck_test_iterate_until(ck_test_asked, &w, 20000));
	/* the answer is taken when the helper has exited: give the loop a moment */
	ck_test_spin(500);
}

static gboolean
ck_test_has_window(gpointer data)
{
	return ck_request_get_window_end(data) > 0;
}

/* What the threshold alone plans: the default, a third of a 1-day lifetime, no jitter. */
static gint64
ck_test_threshold_time(CkRequest *request)
{
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	return ck_schedule_renewal_time(ck_request_get_not_before(request),
					ck_request_get_not_after(request), &def, 0, 0);
}

/* A window an hour away: the renewal is planned inside it, and a restart keeps it. */
static void
test_lifecycle_window_future(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *window = g_build_filename(f->dir, "window", NULL);
	g_autofree gchar *asked = g_build_filename(f->dir, "asked.pem", NULL);
	g_autofree gchar *asked_pem = NULL, *installed = NULL, *state = NULL, *state_text = NULL;
	CkRequest *request;
	gint64 before, start, end, renewal;

	ck_test_window_ca(f, "3600 7200 1\n");
	ck_test_start(f);
	t = ck_test_template(f, "win");
	ck_request_set_ca(t, "win");
	request = ck_test_add(f, t);
	before = ck_clock_now();
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_assert_true(ck_test_iterate_until(ck_test_has_window, request, 20000));
	start = ck_request_get_window_start(request);
	end = ck_request_get_window_end(request);
	renewal = ck_request_get_renewal_time(request);
	g_test_message("window [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "), renewal %" G_GINT64_FORMAT,
		       start, end, renewal);
	/* the window the CA gave, and the renewal inside it rather than at the threshold */
	g_assert_cmpint(start, >=, before + 3600);
	g_assert_cmpint(start, <=, ck_clock_now() + 3600);
	g_assert_cmpint(end - start, ==, 3600);
	g_assert_cmpint(renewal, >=, start);
	g_assert_cmpint(renewal, <, end);
	g_assert_cmpint(ck_request_get_window_pick(request), ==, renewal);
	/* the threshold would have said some 16 hours from now */
	g_assert_cmpint(ck_test_threshold_time(request), >, end);
	/* the CA was asked about the installed certificate */
	asked_pem = ck_test_read(asked);
	installed = ck_test_read(ck_request_get_cert_file(request));
	g_assert_cmpstr(g_strstrip(asked_pem), ==, g_strstrip(installed));
	/* and the window is in the request's state file */
	state = g_build_filename(f->state_dir, "requests", "win.json", NULL);
	state_text = ck_test_read(state);
	g_assert_nonnull(strstr(state_text, "renewal-window-start"));

	/* a restart with the CA down: the window and the moment picked in it stay */
	g_assert_true(g_file_set_contents(window, "3\n", -1, NULL));
	ck_test_stop(f);
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "win");
	g_assert_nonnull(request);
	g_assert_cmpint(ck_request_get_window_start(request), ==, start);
	g_assert_cmpint(ck_request_get_window_end(request), ==, end);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, renewal);
	/* it asked again at start-up, failed, and kept the plan */
	ck_test_wait_asks(f, 2);
	g_assert_cmpint(ck_request_get_window_end(request), ==, end);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, renewal);
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
}

/* A window in the past: renew now; the next certificate's window is in the future. */
static void
test_lifecycle_window_past(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *next = g_build_filename(f->dir, "window.next", NULL);
	g_autofree gchar *first_serial = NULL;
	CkRequest *request;
	gint64 installed_at;

	ck_test_window_ca(f, "-7200 -3600 60\n");
	g_assert_true(g_file_set_contents(next, "7200 9000 60\n", -1, NULL));
	ck_test_start(f);
	t = ck_test_template(f, "win");
	ck_request_set_ca(t, "win");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	first_serial = g_strdup(ck_request_get_serial(request));
	installed_at = ck_clock_now();
	/* a day-long certificate renewed within seconds: only the window can say so */
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, first_serial, 20000);
	g_assert_cmpint(ck_clock_now() - installed_at, <, 20);
	g_assert_true(ck_test_iterate_until(ck_test_has_window, request, 20000));
	g_assert_cmpint(ck_request_get_window_start(request), >=, installed_at + 7200);
	g_assert_cmpint(ck_request_get_renewal_time(request), >=,
			ck_request_get_window_start(request));
	g_assert_cmpint(ck_request_get_renewal_time(request), <,
			ck_request_get_window_end(request));
	/* the window was for the new certificate, and nothing renews again */
	g_assert_cmpstr(ck_request_get_window_serial(request), ==, ck_request_get_serial(request));
	g_assert_cmpuint(ck_test_count_asks(f), ==, 2);
}

/* Exit 6: the threshold decides, and the CA is not asked again until it is refreshed. */
static void
test_lifecycle_window_unsupported(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *serial = NULL;
	CkRequest *request;

	ck_test_window_ca(f, "6\n");
	ck_test_start(f);
	t = ck_test_template(f, "win");
	ck_request_set_ca(t, "win");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	ck_test_wait_asks(f, 1);
	g_assert_cmpint(ck_request_get_window_start(request), ==, 0);
	g_assert_cmpint(ck_request_get_window_end(request), ==, 0);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, ck_test_threshold_time(request));

	/* a renewal: the CA that said "not offered" is not asked about the new certificate */
	serial = g_strdup(ck_request_get_serial(request));
	g_assert_true(ck_engine_resubmit(f->engine, "win", &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	ck_test_spin(1000);
	g_assert_cmpuint(ck_test_count_asks(f), ==, 1);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, ck_test_threshold_time(request));

	/* once the CA is refreshed it may offer it: its certificates are asked about again */
	ck_engine_refresh_ca(f->engine, ck_engine_find_ca(f->engine, "win"));
	ck_test_wait_asks(f, 2);
	g_assert_cmpuint(ck_test_count_asks(f), ==, 2);
	g_assert_cmpint(ck_request_get_window_end(request), ==, 0);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, ck_test_threshold_time(request));
}

/* Exit 3 and nonsense: the threshold decides; a failure never blocks anything. */
static void
test_lifecycle_window_failures(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *window = g_build_filename(f->dir, "window", NULL);
	g_autofree gchar *next = g_build_filename(f->dir, "window.next", NULL);
	g_autofree gchar *serial = NULL;
	g_autoptr(GError) error = NULL;
	CkRequest *request;

	ck_test_window_ca(f, "3\n");
	ck_test_start(f);
	t = ck_test_template(f, "win");
	ck_request_set_ca(t, "win");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	ck_test_wait_asks(f, 1);
	g_assert_cmpint(ck_request_get_window_end(request), ==, 0);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, ck_test_threshold_time(request));
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpuint(ck_request_get_failed_attempts(request), ==, 0);

	/* an end before the start is no window either (the script prints "now+B now+A") */
	g_assert_true(g_file_set_contents(next, "600 300 60\n", -1, NULL));
	serial = g_strdup(ck_request_get_serial(request));
	g_assert_true(ck_engine_resubmit(f->engine, "win", &error));
	g_assert_no_error(error);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, serial, 20000);
	ck_test_wait_asks(f, 2);
	g_assert_cmpint(ck_request_get_window_end(request), ==, 0);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, ck_test_threshold_time(request));
	g_assert_true(g_file_set_contents(window, "3\n", -1, NULL));
}

/* The CA is asked again once its Retry-After has passed (not before), and a new window
 * moves the renewal into it. */
static void
test_lifecycle_window_retry_after(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autofree gchar *next = g_build_filename(f->dir, "window.next", NULL);
	CkRequest *request;
	gint64 first_end;

	if (!CK_TEST_FAULT_INJECTION) {
		g_test_skip("needs a fault-injection build (meson -Dfault_injection=true)");
		return;
	}
	ck_test_window_ca(f, "3600 7200 120\n");
	g_assert_true(g_file_set_contents(next, "20000 21000 120\n", -1, NULL));
	ck_test_set_clock_offset(f, 0);
	ck_test_start(f);
	t = ck_test_template(f, "win");
	ck_request_set_ca(t, "win");
	request = ck_test_add(f, t);
	ck_test_wait(request, CK_REQUEST_STATE_MONITORING, NULL, 20000);
	g_assert_true(ck_test_iterate_until(ck_test_has_window, request, 20000));
	first_end = ck_request_get_window_end(request);
	g_assert_cmpint(ck_request_get_renewal_time(request), <, first_end);
	/* not before the Retry-After */
	ck_test_spin(1500);
	g_assert_cmpuint(ck_test_count_asks(f), ==, 1);
	/* two minutes later (by the daemon's clock) the CA is asked again */
	ck_test_set_clock_offset(f, 130);
	ck_engine_clock_changed(f->engine);
	ck_test_wait_asks(f, 2);
	g_assert_cmpuint(ck_test_count_asks(f), ==, 2);
	/* the new window, and the renewal inside it */
	g_assert_cmpint(ck_request_get_window_start(request), >, first_end);
	g_assert_cmpint(ck_request_get_renewal_time(request), >=,
			ck_request_get_window_start(request));
	g_assert_cmpint(ck_request_get_renewal_time(request), <,
			ck_request_get_window_end(request));
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* the engine warns about what needs a human (rejections, rollbacks, expiry): these
	 * tests provoke exactly that, so only criticals fail them */
	g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/certkeeper/lifecycle/renews-before-expiry", test_lifecycle_renews_before_expiry);
	ADD("/certkeeper/lifecycle/key-policy", test_lifecycle_key_policy);
	ADD("/certkeeper/lifecycle/backoff", test_lifecycle_backoff);
	ADD("/certkeeper/lifecycle/ca-wait-and-restart", test_lifecycle_ca_wait_and_restart);
	ADD("/certkeeper/lifecycle/ca-new-root", test_lifecycle_ca_new_root);
	ADD("/certkeeper/lifecycle/ca-roots-later", test_lifecycle_ca_roots_later);
	ADD("/certkeeper/lifecycle/window-future", test_lifecycle_window_future);
	ADD("/certkeeper/lifecycle/window-past", test_lifecycle_window_past);
	ADD("/certkeeper/lifecycle/window-unsupported", test_lifecycle_window_unsupported);
	ADD("/certkeeper/lifecycle/window-failures", test_lifecycle_window_failures);
	ADD("/certkeeper/lifecycle/window-retry-after", test_lifecycle_window_retry_after);
	ADD("/certkeeper/lifecycle/check-failure-first-install",
	    test_lifecycle_check_failure_first_install);
	ADD("/certkeeper/lifecycle/directory-layout", test_lifecycle_directory_layout);
	ADD("/certkeeper/lifecycle/external-change", test_lifecycle_external_change);
	ADD("/certkeeper/lifecycle/full-disk", test_lifecycle_full_disk);
	ADD("/certkeeper/lifecycle/clock-behind", test_lifecycle_clock_behind);
	ADD("/certkeeper/lifecycle/clock-forward", test_lifecycle_clock_forward);
	ADD("/certkeeper/lifecycle/bootstrap", test_lifecycle_bootstrap);
	ADD("/certkeeper/lifecycle/expiry-status", test_lifecycle_expiry_status);
	ADD("/certkeeper/lifecycle/csr-attributes", test_lifecycle_csr_attributes);
	ADD("/certkeeper/lifecycle/expiring-before", test_lifecycle_expiring_before);
	ADD("/certkeeper/lifecycle/bounded-and-fair", test_lifecycle_bounded_and_fair);
#undef ADD
	return g_test_run();
}
