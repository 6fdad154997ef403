/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Revocation on demand through the engine: a helper CA that records what
 * certkeeperd passes to REVOKE and answers each of the protocol's outcomes, the
 * built-in local CA's revoked list, and what the request does afterwards.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ck-ca-local.h"
#include "ck-clock.h"
#include "ck-engine.h"
#include "ck-error.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *state_dir;
	gchar *certs;
	CkConfig *config;
	CkEngine *engine;
} Fixture;

static const CkCaller ck_test_root = {0, 0, NULL};

/*
 * A helper CA signing with an openssl CA. REVOKE writes what it was given to
 * @DIR@/revoked.pem, @DIR@/reason ("unset" without CERTKEEPER_REVOKE_REASON) and
 * @DIR@/revoke-id, then answers from @DIR@/answer: "STATUS MESSAGE" (0 if the
 * file is missing). Every operation is logged to @DIR@/ops.
 */
#define REVOKE_HELPER                                                                              \
	"echo \"$CERTMONGER_OPERATION\" >> @DIR@/ops\n"                                            \
	"case \"$CERTMONGER_OPERATION\" in\n"                                                      \
	"SUBMIT)\n"                                                                                \
	"  printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/req.csr\n"                                   \
	"  printf 'subjectAltName=DNS:%s.example\\n' \"$CERTKEEPER_REQUEST_ID\" > @DIR@/ext\n"     \
	"  openssl x509 -req -in @DIR@/req.csr -CA @DIR@/ca.pem -CAkey @DIR@/ca.key "              \
	"-CAcreateserial -days 1 -extfile @DIR@/ext 2>/dev/null || exit 3\n"                       \
	"  exit 0;;\n"                                                                             \
	"REVOKE)\n"                                                                                \
	"  printf '%s\\n' \"$CERTMONGER_CERTIFICATE\" > @DIR@/revoked.pem\n"                       \
	"  printf '%s\\n' \"${CERTKEEPER_REVOKE_REASON-unset}\" > @DIR@/reason\n"                  \
	"  printf '%s\\n' \"$CERTKEEPER_REQUEST_ID\" > @DIR@/revoke-id\n"                          \
	"  code=0; msg=; [ -e @DIR@/answer ] && read code msg < @DIR@/answer\n"                    \
	"  [ \"$code\" = 0 ] || { echo \"$msg\"; exit \"$code\"; }\n"                              \
	"  exit 0;;\n"                                                                             \
	"*) exit 6;;\n"                                                                            \
	"esac"

#define BASE_CONFIG                                                                                \
	"[certkeeperd]\nTimeSyncFile=@DIR@/synchronized\n"                                         \
	"[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=4s\n"                           \
	"[ca rev]\nType=helper\nHelper=@DIR@/rev.sh\n"                                             \
	"[ca down]\nType=helper\nHelper=@DIR@/down.sh\n"

static gchar *
ck_test_expand(Fixture *f, const gchar *text)
{
	g_auto(GStrv) parts = g_strsplit(text, "@DIR@", -1);
	return g_strjoinv(f->dir, parts);
}

static void
ck_test_write_script(Fixture *f, const gchar *name, const gchar *body)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	g_autofree gchar *expanded = ck_test_expand(f, body);
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", expanded);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
}

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	const gchar *argv[] = {"openssl",
			       "req",
			       "-x509",
			       "-newkey",
			       "ec",
			       "-pkeyopt",
			       "ec_paramgen_curve:P-256",
			       "-nodes",
			       "-days",
			       "3",
			       "-subj",
			       "/CN=revocation test CA",
			       "-keyout",
			       NULL,
			       "-out",
			       NULL,
			       NULL};
	g_autofree gchar *ca_key = NULL, *ca_crt = NULL, *path = NULL, *text = NULL;
	g_autoptr(GError) error = NULL;

	f->dir = ck_test_make_tmpdir();
	f->state_dir = g_build_filename(f->dir, "state", NULL);
	f->certs = g_build_filename(f->dir, "certs", NULL);
	g_assert_cmpint(g_mkdir(f->certs, 0755), ==, 0);
	ca_key = g_build_filename(f->dir, "ca.key", NULL);
	ca_crt = g_build_filename(f->dir, "ca.pem", NULL);
	argv[13] = ca_key;
	argv[15] = ca_crt;
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	ck_test_write_script(f, "rev.sh", REVOKE_HELPER);
	ck_test_write_script(f, "down.sh", "echo 'the CA is down'; exit 3");
	path = g_build_filename(f->dir, "certkeeper.conf", NULL);
	text = ck_test_expand(f, BASE_CONFIG);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	f->config = ck_config_new();
	g_assert_true(ck_config_load(f->config, path, TRUE, &error));
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_clear_object(&f->engine);
	g_clear_object(&f->config);
	g_unsetenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE");
	ck_clock_reload_offset();
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->state_dir);
	g_free(f->certs);
}

static void
ck_test_start(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_clear_object(&f->engine);
	f->engine = ck_engine_new(f->config, f->state_dir);
	g_assert_true(ck_engine_start(f->engine, &error));
	g_assert_no_error(error);
}

static void
ck_test_stop(Fixture *f)
{
	ck_engine_stop(f->engine);
	g_clear_object(&f->engine);
}

static void
ck_test_spin(guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	while (g_get_monotonic_time() < end) {
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
}

static void
ck_test_wait_state(CkRequest *request, CkRequestState state, const gchar *serial_not)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	while (ck_request_get_state(request) != state ||
	       (serial_not != NULL && g_strcmp0(ck_request_get_serial(request), serial_not) == 0)) {
		if (g_get_monotonic_time() > deadline)
			g_error("request %s stayed %s (%s)", ck_request_get_id(request),
				ck_request_state_to_string(ck_request_get_state(request)),
				ck_request_get_last_error(request));
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
}

/* A request for ID.example from @ca, once it is in @state. */
static CkRequest *
ck_test_request(Fixture *f, const gchar *id, const gchar *ca, CkRequestState state)
{
	g_autoptr(CkRequest) t = ck_engine_new_request_template(f->engine);
	g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", f->certs, id);
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", f->certs, id);
	g_autofree gchar *dns = g_strdup_printf("%s.example", id);
	const gchar *names[] = {dns, NULL};
	g_autoptr(GError) error = NULL;
	CkRequest *request;

	ck_request_set_template_id(t, id);
	ck_request_set_cert_file(t, cert);
	ck_request_set_key_file(t, key);
	ck_request_set_dns_names(t, names);
	if (ca != NULL)
		ck_request_set_ca(t, ca);
	request = ck_engine_add_request(f->engine, t, &error);
	g_assert_no_error(error);
	ck_test_wait_state(request, state, NULL);
	return request;
}

typedef struct {
	gboolean done;
	gboolean ok;
	GError *error;
} RevokeWait;

static void
ck_test_revoked_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	RevokeWait *w = user_data;
	w->ok = ck_engine_revoke_finish(CK_ENGINE(source), res, &w->error);
	w->done = TRUE;
}

/* ck_engine_revoke_async() to its end. */
static gboolean
ck_test_revoke(Fixture *f, const CkCaller *caller, const gchar *id, const gchar *reason,
	       GError **error)
{
	RevokeWait w = {0};
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;

	ck_engine_revoke_async(f->engine, caller, id, reason, NULL, ck_test_revoked_cb, &w);
	/* every outcome, also an early refusal, comes through the callback */
	g_assert_false(w.done);
	while (!w.done) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
	g_assert_true(w.ok == (w.error == NULL));
	if (w.error != NULL)
		g_propagate_error(error, w.error);
	return w.ok;
}

static gchar *
ck_test_file(Fixture *f, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	gchar *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	return g_strstrip(text);
}

/* How often the helper ran @operation. */
static guint
ck_test_count_ops(Fixture *f, const gchar *operation)
{
	g_autofree gchar *text = ck_test_file(f, "ops");
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	guint n = 0;
	for (guint i = 0; lines[i] != NULL; i++)
		n += g_strcmp0(lines[i], operation) == 0;
	return n;
}

/* A helper CA revokes with the reason's number; the request is marked and waits for a rekey. */
static void
test_revoke_helper(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *installed = NULL, *revoked_pem = NULL, *reason = NULL, *rid = NULL;
	g_autofree gchar *state_path = NULL, *state_text = NULL, *serial = NULL;
	CkRequest *request;
	gint64 before;

	ck_test_start(f);
	request = ck_test_request(f, "web", "rev", CK_REQUEST_STATE_MONITORING);
	g_assert_cmpint(ck_request_get_revoked(request), ==, 0);
	g_assert_cmpint(ck_request_get_renewal_time(request), >, 0);
	serial = g_strdup(ck_request_get_serial(request));
	before = ck_clock_now();

	g_assert_true(ck_test_revoke(f, &ck_test_root, "web", "keyCompromise", &error));
	g_assert_no_error(error);
	/* the helper got the installed certificate, the request and the number of the reason */
	installed = ck_test_read_file(ck_request_get_cert_file(request));
	revoked_pem = ck_test_file(f, "revoked.pem");
	g_assert_cmpstr(revoked_pem, ==, g_strstrip(installed));
	reason = ck_test_file(f, "reason");
	g_assert_cmpstr(reason, ==, "1");
	rid = ck_test_file(f, "revoke-id");
	g_assert_cmpstr(rid, ==, "web");
	g_assert_cmpuint(ck_test_count_ops(f, "REVOKE"), ==, 1);
	/* the request is marked, still tracked and monitored, no renewal planned */
	g_assert_cmpint(ck_request_get_revoked(request), >=, before);
	g_assert_cmpstr(ck_request_get_revocation_reason(request), ==, "keyCompromise");
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, 0);
	g_assert_cmpstr(ck_request_get_serial(request), ==, serial);
	g_assert_true(g_file_test(ck_request_get_cert_file(request), G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(ck_request_get_key_file(request), G_FILE_TEST_EXISTS));
	state_path = g_build_filename(f->state_dir, "requests", "web.json", NULL);
	state_text = ck_test_read_file(state_path);
	g_assert_nonnull(strstr(state_text, "\"revoked-serial\""));

	/* a revoked certificate is not revoked again: the CA is not asked */
	g_assert_true(ck_test_revoke(f, &ck_test_root, "web", "superseded", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_count_ops(f, "REVOKE"), ==, 1);
	g_assert_cmpstr(ck_request_get_revocation_reason(request), ==, "keyCompromise");

	/* the mark survives a restart */
	ck_test_stop(f);
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "web");
	g_assert_nonnull(request);
	g_assert_cmpint(ck_request_get_revoked(request), >=, before);
	g_assert_cmpstr(ck_request_get_revocation_reason(request), ==, "keyCompromise");
	ck_test_spin(300);
	g_assert_cmpint(ck_request_get_renewal_time(request), ==, 0);
	g_assert_cmpuint(ck_test_count_ops(f, "SUBMIT"), ==, 1);

	/* the compromised key is not certified again; a rekey gets a new certificate */
	g_assert_false(ck_engine_resubmit(f->engine, "web", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "rekey"));
	g_clear_error(&error);
	g_assert_true(ck_engine_rekey(f->engine, "web", &error));
	g_assert_no_error(error);
	ck_test_wait_state(request, CK_REQUEST_STATE_MONITORING, serial);
	g_assert_cmpint(ck_request_get_revoked(request), ==, 0);
	g_assert_null(ck_request_get_revocation_reason(request));
	g_assert_cmpint(ck_request_get_renewal_time(request), >, 0);
}

/* The helper's answers: 2, 3, 6 and 4 become errors and leave the request unmarked. */
static void
test_revoke_helper_refusals(Fixture *f, gconstpointer user_data)
{
	static const struct {
		const gchar *answer;
		gint code;
		const gchar *in_message;
	} cases[] = {
	    {"2 this certificate is not yours", CK_ERROR_CA_REJECTED,
	     "this certificate is not yours"},
	    {"3 connection refused", CK_ERROR_CA_UNREACHABLE, "connection refused"},
	    {"6", CK_ERROR_UNSUPPORTED, "CA 'rev'"},
	    {"4 no account", CK_ERROR_CA_UNDERCONFIGURED, "no account"},
	    {"1 try later", CK_ERROR_CA_UNREACHABLE, "status 1"},
	};
	g_autofree gchar *answer = g_build_filename(f->dir, "answer", NULL);
	g_autofree gchar *reason = NULL;
	CkRequest *request;

	ck_test_start(f);
	request = ck_test_request(f, "web", "rev", CK_REQUEST_STATE_MONITORING);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_true(g_file_set_contents(answer, cases[i].answer, -1, NULL));
		g_assert_false(ck_test_revoke(f, &ck_test_root, "web", NULL, &error));
		g_test_message("%s: %s", cases[i].answer, error->message);
		g_assert_error(error, CK_ERROR, cases[i].code);
		g_assert_nonnull(strstr(error->message, cases[i].in_message));
		g_assert_cmpint(ck_request_get_revoked(request), ==, 0);
		g_assert_cmpint(ck_request_get_renewal_time(request), >, 0);
		g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	}
	g_assert_cmpuint(ck_test_count_ops(f, "REVOKE"), ==, G_N_ELEMENTS(cases));
	/* without a reason, none is passed */
	reason = ck_test_file(f, "reason");
	g_assert_cmpstr(reason, ==, "unset");
}

/* What is refused before the CA is asked. */
static void
test_revoke_refused(Fixture *f, gconstpointer user_data)
{
	const CkCaller stranger = {4242, 0, NULL};
	g_autoptr(GError) error = NULL;
	CkRequest *down;

	ck_test_start(f);
	ck_test_request(f, "web", "rev", CK_REQUEST_STATE_MONITORING);
	/* a reason RFC 5280 has, but a revocation here is final */
	g_assert_false(ck_test_revoke(f, &ck_test_root, "web", "certificateHold", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "keyCompromise"));
	g_clear_error(&error);
	g_assert_false(ck_test_revoke(f, &ck_test_root, "web", "KEYCOMPROMISED", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	/* someone else's request */
	g_assert_false(ck_test_revoke(f, &stranger, "web", "keyCompromise", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_clear_error(&error);
	/* no such request */
	g_assert_false(ck_test_revoke(f, &ck_test_root, "nobody", NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_cmpuint(ck_test_count_ops(f, "REVOKE"), ==, 0);

	/* a request whose CA never issued anything has nothing to revoke */
	down = ck_test_request(f, "new", "down", CK_REQUEST_STATE_CA_UNREACHABLE);
	g_assert_false(ck_test_revoke(f, &ck_test_root, "new", NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_assert_nonnull(strstr(error->message, "no installed certificate"));
	g_clear_error(&error);
	g_assert_cmpint(ck_request_get_revoked(down), ==, 0);

	/* a certificate file replaced behind the daemon's back is not revoked blindly */
	{
		CkRequest *web = ck_engine_find_request(f->engine, "web");
		g_autofree gchar *other = g_build_filename(f->dir, "ca.pem", NULL);
		g_autofree gchar *pem = ck_test_read_file(other);
		g_assert_true(g_file_set_contents(ck_request_get_cert_file(web), pem, -1, NULL));
		g_assert_false(ck_test_revoke(f, &ck_test_root, "web", NULL, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_BUSY);
		g_assert_nonnull(strstr(error->message, "refresh"));
		g_clear_error(&error);
	}
	g_assert_cmpuint(ck_test_count_ops(f, "REVOKE"), ==, 0);
}

/* Main-loop iterations that did something within @ms: a source firing again and again shows. */
static guint
ck_test_count_busy(guint ms)
{
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	guint n = 0;
	while (g_get_monotonic_time() < end) {
		if (g_main_context_iteration(NULL, FALSE))
			n++;
		else
			g_usleep(2000);
	}
	return n;
}

/*
 * A revoked certificate that expires is not renewed, and nothing keeps waking up
 * for it; nor for a watched-only one (auto-renew off, @user_data non-NULL).
 */
static void
test_revoke_expired(Fixture *f, gconstpointer user_data)
{
#ifdef CK_FAULT_INJECTION
	g_autofree gchar *offset = g_build_filename(f->dir, "clock-offset", NULL);
	g_autoptr(GError) error = NULL;
	CkRequest *request;
	guint busy;

	ck_test_start(f);
	request = ck_test_request(f, "web", "rev", CK_REQUEST_STATE_MONITORING);
	if (user_data != NULL) {
		g_autoptr(CkRequest) changed = ck_request_dup(request);
		ck_request_set_auto_renew(changed, FALSE);
		g_assert_true(
		    ck_engine_modify_request(f->engine, &ck_test_root, "web", changed, &error));
	} else {
		g_assert_true(
		    ck_test_revoke(f, &ck_test_root, "web", "cessationOfOperation", &error));
	}
	g_assert_no_error(error);
	ck_test_spin(300);
	/* two days on: the 1-day certificate has expired */
	g_assert_true(g_file_set_contents(offset, "172800\n", -1, NULL));
	g_setenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE", offset, TRUE);
	ck_clock_reload_offset();
	g_assert_cmpint(ck_request_get_not_after(request), <, ck_clock_now());
	/* said once, not again and again */
	g_test_expect_message("certkeeper", G_LOG_LEVEL_WARNING,
			      "request web: certificate * expired");
	ck_engine_clock_changed(f->engine);
	busy = ck_test_count_busy(1500);
	g_test_assert_expected_messages();
	g_test_message("%u busy iterations in 1.5 s", busy);
	g_assert_cmpuint(busy, <, 100);
	g_assert_cmpuint(ck_test_count_ops(f, "SUBMIT"), ==, 1);
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	if (user_data == NULL)
		g_assert_cmpint(ck_request_get_revoked(request), >, 0);
#else
	g_test_skip("the test clock needs -Dfault_injection=true");
#endif
}

/* The built-in local CA keeps a durable revoked list, and knows what it did not issue. */
static void
test_revoke_local(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *list_path = g_build_filename(f->state_dir, "local-ca", "revoked", NULL);
	g_autofree gchar *list = NULL, *pem = NULL, *serial = NULL;
	g_auto(GStrv) fields = NULL;
	gint64 before, when = 0;
	g_autofree gchar *other_dir = g_build_filename(f->dir, "other-ca", NULL);
	g_autoptr(CkCa) other = NULL;
	CkRequest *request;
	CkCa *local;

	ck_test_start(f);
	request = ck_test_request(f, "loc", NULL, CK_REQUEST_STATE_MONITORING);
	g_assert_cmpstr(ck_request_get_ca(request), ==, "local");
	serial = g_strdup(ck_request_get_serial(request));
	local = ck_engine_find_ca(f->engine, "local");
	g_assert_true(CK_IS_CA_LOCAL(local));
	g_assert_false(ck_ca_local_is_revoked(CK_CA_LOCAL(local), serial));
	g_assert_false(g_file_test(list_path, G_FILE_TEST_EXISTS));
	before = ck_clock_now();

	g_assert_true(ck_test_revoke(f, &ck_test_root, "loc", "superseded", &error));
	g_assert_no_error(error);
	g_assert_true(ck_ca_local_is_revoked(CK_CA_LOCAL(local), serial));
	g_assert_cmpint(ck_request_get_revoked(request), >, 0);
	g_assert_cmpstr(ck_request_get_revocation_reason(request), ==, "superseded");
	/* one line: the serial, when, and the reason's number (superseded is 4) */
	list = ck_test_read_file(list_path);
	g_assert_true(g_str_has_suffix(list, "\n"));
	fields = g_strsplit(g_strchomp(list), " ", -1);
	g_assert_cmpuint(g_strv_length(fields), ==, 3);
	g_assert_cmpstr(fields[0], ==, serial);
	g_assert_true(g_ascii_string_to_signed(fields[1], 10, before, ck_clock_now(), &when, NULL));
	g_assert_cmpstr(fields[2], ==, "4");

	/* a new engine reads the list again */
	ck_test_stop(f);
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "loc");
	g_assert_nonnull(request);
	local = ck_engine_find_ca(f->engine, "local");
	g_assert_true(ck_ca_local_ensure(CK_CA_LOCAL(local), &error));
	g_assert_no_error(error);
	g_assert_true(ck_ca_local_is_revoked(CK_CA_LOCAL(local), serial));

	/* another local CA did not issue it, and says so */
	pem = ck_test_read_file(ck_request_get_cert_file(request));
	other = ck_ca_local_new("other", other_dir, 0);
	g_assert_false(ck_ca_local_revoke(CK_CA_LOCAL(other), pem, 1, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_REJECTED);
	g_assert_nonnull(strstr(error->message, serial));
	g_clear_error(&error);
	g_assert_false(ck_ca_local_is_revoked(CK_CA_LOCAL(other), serial));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (!ck_test_have_program("openssl")) {
		g_test_skip("openssl is needed to run the test CA");
		return g_test_run();
	}
	g_test_add("/certkeeper/revoke/helper", Fixture, NULL, fixture_setup, test_revoke_helper,
		   fixture_teardown);
	g_test_add("/certkeeper/revoke/helper-refusals", Fixture, NULL, fixture_setup,
		   test_revoke_helper_refusals, fixture_teardown);
	g_test_add("/certkeeper/revoke/refused", Fixture, NULL, fixture_setup, test_revoke_refused,
		   fixture_teardown);
	g_test_add("/certkeeper/revoke/expired", Fixture, NULL, fixture_setup, test_revoke_expired,
		   fixture_teardown);
	/* the same for a certificate only watched (auto-renew off) */
		g_test_add("/certkeeper/revoke/watched-expired", Fixture, "watch", fixture_setup, test_revoke_expired,
		   fixture_teardown);
	g_test_add("/certkeeper/revoke/local", Fixture, NULL, fixture_setup, test_revoke_local,
		   fixture_teardown);
	return g_test_run();
}
