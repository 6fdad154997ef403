/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The engine on its own, without any bus: lifecycle, persistence, validation. */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-engine.h"
#include "ck-error.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *state_dir;
	gchar *certs;
	CkConfig *config;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	const gchar *config_text = user_data;
	g_autoptr(GError) error = NULL;

	f->dir = ck_test_make_tmpdir();
	f->state_dir = g_build_filename(f->dir, "state", NULL);
	f->certs = g_build_filename(f->dir, "certs", NULL);
	g_assert_cmpint(g_mkdir(f->certs, 0755), ==, 0);
	f->config = ck_config_new();
	if (config_text != NULL) {
		g_autofree gchar *path = g_build_filename(f->dir, "certkeeper.conf", NULL);
		g_autofree gchar *text = NULL;
		/* @DIR@ stands for the fixture's directory (helper scripts live there) */
		g_auto(GStrv) parts = g_strsplit(config_text, "@DIR@", -1);
		text = g_strjoinv(f->dir, parts);
		g_assert_true(g_file_set_contents(path, text, -1, NULL));
		g_assert_true(ck_config_load(f->config, path, TRUE, &error));
		g_assert_no_error(error);
	}
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->state_dir);
	g_free(f->certs);
	g_object_unref(f->config);
}

static CkEngine *
ck_test_engine_new(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	CkEngine *engine = ck_engine_new(f->config, f->state_dir);
	g_assert_true(ck_engine_start(engine, &error));
	g_assert_no_error(error);
	return engine;
}

static CkRequest *
ck_test_template(CkEngine *engine, Fixture *f, const gchar *name)
{
	CkRequest *template = ck_engine_new_request_template(engine);
	g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", f->certs, name);
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", f->certs, name);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", name);
	const gchar *dns[] = {"a.example", "b.example", NULL};
	ck_request_set_cert_file(template, cert);
	ck_request_set_key_file(template, key);
	ck_request_set_subject(template, subject);
	ck_request_set_dns_names(template, dns);
	return template;
}

typedef struct {
	CkRequest *request;
	CkRequestState state;
} WaitState;

static gboolean
ck_test_state_reached(gpointer data)
{
	WaitState *w = data;
	return ck_request_get_state(w->request) == w->state;
}

static gboolean
ck_test_run_until(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	while (!cond(data)) {
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	return TRUE;
}

static void
ck_test_wait_state(CkRequest *request, CkRequestState state)
{
	WaitState w = {request, state};
	if (!ck_test_run_until(ck_test_state_reached, &w, 20000))
		g_error("request %s stayed %s (last error: %s), expected %s",
			ck_request_get_id(request),
			ck_request_state_to_string(ck_request_get_state(request)),
			ck_request_get_last_error(request), ck_request_state_to_string(state));
}

static void
on_changed(CkEngine *engine, CkRequest *request, guint fields, GPtrArray *states)
{
	if (fields & CK_REQUEST_FIELD_STATE)
		g_ptr_array_add(states, (gpointer)ck_request_state_to_string(ck_request_get_state(request)));
}

static void
test_engine_issue_on_local_ca(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkEngine) engine = ck_test_engine_new(f);
	g_autoptr(CkRequest) template = ck_test_template(engine, f, "web");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) states = g_ptr_array_new();
	g_autofree gchar *state_file = NULL;
	const gchar *expected[] = {"GENERATING_KEY_PAIR", "NEED_CSR", "SUBMITTING", "SAVING_CERT",
				   "POST_SAVED", "MONITORING"};
	CkRequest *request;

	g_signal_connect(engine, "request-changed", G_CALLBACK(on_changed), states);
	ck_request_set_template_id(template, "web");
	request = ck_engine_add_request(engine, template, &error);
	g_assert_no_error(error);
	g_assert_nonnull(request);
	g_assert_true(request != template);
	g_assert_cmpstr(ck_request_get_id(request), ==, "web");
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_NEED_KEY_PAIR);
	state_file = g_build_filename(f->state_dir, "requests", "web.json", NULL);
	g_assert_true(g_file_test(state_file, G_FILE_TEST_IS_REGULAR));

	ck_test_wait_state(request, CK_REQUEST_STATE_MONITORING);
	/* certmonger's sequence of states, each announced */
	g_assert_cmpuint(states->len, ==, G_N_ELEMENTS(expected));
	for (guint i = 0; i < G_N_ELEMENTS(expected); i++)
		g_assert_cmpstr(g_ptr_array_index(states, i), ==, expected[i]);
	g_assert_cmpstr(ck_request_get_last_error(request), ==, "");
	g_assert_cmpint(ck_request_get_not_after(request), >, ck_request_get_not_before(request));
	g_assert_nonnull(ck_request_get_serial(request));
	g_assert_nonnull(strstr(ck_request_get_issuer(request), "certkeeper local"));
	g_assert_cmpint(ck_test_file_mode(ck_request_get_cert_file(request)), ==, 0644);
	g_assert_cmpint(ck_test_file_mode(ck_request_get_key_file(request)), ==, 0600);
	g_assert_true(ck_engine_find_request(engine, "web") == request);
}

/* The principal names of the issued certificate, read back from the installed file. */
static GPtrArray *
ck_test_cert_principals(const gchar *path)
{
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	gnutls_x509_crt_t crt;
	GPtrArray *found = g_ptr_array_new_with_free_func(g_free);

	g_assert_true(g_file_get_contents(path, &pem, &len, NULL));
	datum.data = (guint8 *)pem;
	datum.size = (guint)len;
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	for (guint seq = 0;; seq++) {
		guint8 buf[1024];
		size_t size = sizeof(buf);
		gchar oid[128];
		size_t oid_size = sizeof(oid);
		gnutls_datum_t der, text = {NULL, 0};
		unsigned int virt = 0;
		int rc = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, NULL);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		g_assert_cmpint(rc, >=, 0);
		/* GnuTLS may hand the principal over already decoded */
		if (rc == GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL) {
			g_ptr_array_add(found, g_strndup((const gchar *)buf, size));
			continue;
		}
		if (rc != GNUTLS_SAN_OTHERNAME ||
		    gnutls_x509_crt_get_subject_alt_othername_oid(crt, seq, oid, &oid_size) < 0)
			continue;
		der.data = buf;
		der.size = size;
		if (gnutls_x509_othername_to_virtual(oid, &der, &virt, &text) == 0 &&
		    virt == GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL)
			g_ptr_array_add(found, g_strndup((const gchar *)text.data, text.size));
		gnutls_free(text.data);
	}
	gnutls_x509_crt_deinit(crt);
	return found;
}

/* Kerberos principals and SPIFFE IDs reach the certificate and survive a restart. */
static void
test_engine_issue_with_principals(Fixture *f, gconstpointer user_data)
{
	const gchar *principals[] = {"host/a.example@EXAMPLE.ORG", NULL};
	const gchar *uris[] = {"spiffe://example.org/ns/prod/sa/web", NULL};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cert = NULL;

	{
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		g_autoptr(CkRequest) template = ck_test_template(engine, f, "krb");
		g_autoptr(GPtrArray) found = NULL;
		CkRequest *request;

		ck_request_set_principals(template, principals);
		ck_request_set_uris(template, uris);
		ck_request_set_template_id(template, "krb");
		request = ck_engine_add_request(engine, template, &error);
		g_assert_no_error(error);
		ck_test_wait_state(request, CK_REQUEST_STATE_MONITORING);
		cert = g_strdup(ck_request_get_cert_file(request));
		found = ck_test_cert_principals(cert);
		g_assert_cmpuint(found->len, ==, 1);
		g_assert_cmpstr(g_ptr_array_index(found, 0), ==, principals[0]);
	}
	{
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		CkRequest *request = ck_engine_find_request(engine, "krb");
		g_assert_nonnull(request);
		g_assert_cmpstrv(ck_request_get_principals(request), principals);
		g_assert_cmpstrv(ck_request_get_uris(request), uris);
	}
	/* a SPIFFE ID that breaks the rules is refused with the rule it breaks */
	{
		const gchar *bad_uris[] = {"spiffe://Example.org/web", NULL};
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		g_autoptr(CkRequest) template = ck_test_template(engine, f, "badspiffe");
		ck_request_set_uris(template, bad_uris);
		g_assert_null(ck_engine_add_request(engine, template, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "trust domain"));
		g_assert_null(ck_engine_find_request(engine, "badspiffe"));
	}
}

static void
test_engine_restart_keeps_requests(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *serial = NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autofree gchar *cert = NULL;

	{
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		g_autoptr(CkRequest) template = ck_test_template(engine, f, "keep");
		CkRequest *request = ck_engine_add_request(engine, template, &error);
		g_assert_no_error(error);
		ck_test_wait_state(request, CK_REQUEST_STATE_MONITORING);
		serial = g_strdup(ck_request_get_serial(request));
		cert = g_strdup(ck_request_get_cert_file(request));
		/* an id was generated, certmonger-style, from the time */
		g_assert_true(g_ascii_isdigit(ck_request_get_id(request)[0]));
	}
	{
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		CkRequest *request;
		requests = ck_engine_get_requests(engine);
		g_assert_cmpuint(requests->len, ==, 1);
		request = g_ptr_array_index(requests, 0);
		g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
		g_assert_cmpstr(ck_request_get_serial(request), ==, serial);

		g_assert_true(ck_engine_remove_request(engine, ck_request_get_id(request), &error));
		g_assert_no_error(error);
		g_assert_true(g_file_test(cert, G_FILE_TEST_IS_REGULAR));
		g_assert_false(ck_engine_remove_request(engine, "keep", &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	}
	{
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		g_autoptr(GPtrArray) none = ck_engine_get_requests(engine);
		g_assert_cmpuint(none->len, ==, 0);
	}
}

static void
test_engine_in_flight_restarts_over(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *id = NULL;

	{
		/* a request left SUBMITTING by a crash: its key died with the process */
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		g_autoptr(CkRequest) template = ck_test_template(engine, f, "crash");
		CkRequest *request = ck_engine_add_request(engine, template, &error);
		g_assert_no_error(error);
		id = g_strdup(ck_request_get_id(request));
		ck_request_set_state(request, CK_REQUEST_STATE_SUBMITTING);
		{
			g_autoptr(JsonNode) json = ck_request_to_json(request);
			g_autofree gchar *path =
			    g_strdup_printf("%s/requests/%s.json", f->state_dir, id);
			g_autofree gchar *text = json_to_string(json, TRUE);
			g_assert_true(g_file_set_contents(path, text, -1, NULL));
		}
	}
	{
		g_autoptr(CkEngine) engine = ck_test_engine_new(f);
		CkRequest *request = ck_engine_find_request(engine, id);
		g_assert_nonnull(request);
		g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_test_wait_state(request, CK_REQUEST_STATE_MONITORING);
	}
}

static void
test_engine_rejects_bad_input(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkEngine) engine = ck_test_engine_new(f);
	g_autofree gchar *requests_dir = g_build_filename(f->state_dir, "requests", NULL);
	g_autoptr(GPtrArray) none = NULL;

	/* each case: a fresh template with one thing wrong */
#define CK_BAD_CASE(code_, ...)                                                                    \
	do {                                                                                       \
		g_autoptr(CkRequest) t = ck_test_template(engine, f, "bad");                       \
		g_autoptr(GError) error = NULL;                                                    \
		__VA_ARGS__;                                                                            \
		g_assert_null(ck_engine_add_request(engine, t, &error));                           \
		g_assert_error(error, CK_ERROR, code_);                                            \
		g_test_message("refused: %s", error->message);                                     \
	} while (0)

	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, ck_request_set_cert_file(t, "relative.crt"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, ck_request_set_cert_file(t, NULL));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, ck_request_set_key_file(t, "/nonexistent/dir/k.pem"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, ck_request_set_subject(t, "this is not a DN"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, {
		const gchar *ips[] = {"300.1.2.3", NULL};
		ck_request_set_ip_addresses(t, ips);
	});
	CK_BAD_CASE(CK_ERROR_UNSUPPORTED, ck_request_set_key_type(t, CK_KEY_TYPE_UNKNOWN));
	CK_BAD_CASE(CK_ERROR_NOT_FOUND, ck_request_set_ca(t, "no-such-ca"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, ck_request_set_template_id(t, "../escape"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT,
		    ck_request_set_key_file(t, ck_request_get_cert_file(t)));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, ck_request_set_validity(t, 99999LL * 86400));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, {
		ck_request_set_subject(t, NULL);
		ck_request_set_dns_names(t, NULL);
	});
#undef CK_BAD_CASE

	/* nothing was written anywhere */
	none = ck_engine_get_requests(engine);
	g_assert_cmpuint(none->len, ==, 0);
	{
		g_autoptr(GDir) d = g_dir_open(requests_dir, 0, NULL);
		g_assert_nonnull(d);
		g_assert_null(g_dir_read_name(d));
	}
	{
		g_autoptr(GDir) d = g_dir_open(f->certs, 0, NULL);
		g_assert_null(g_dir_read_name(d));
	}
}

/* A key in a token: its location is a URI, and what would write the key into a file is refused. */
static void
test_engine_rejects_bad_token_keys(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkEngine) engine = ck_test_engine_new(f);
	g_autoptr(GPtrArray) none = NULL;

#define CK_BAD_CASE(code_, part_, ...)                                                             \
	do {                                                                                       \
		g_autoptr(CkRequest) t = ck_test_template(engine, f, "tok");                       \
		g_autoptr(GError) error = NULL;                                                    \
		ck_request_set_key_provider(t, "pkcs11");                                          \
		ck_request_set_key_file(t, "pkcs11:token=T;object=web?pin-source=/etc/t.pin");     \
		__VA_ARGS__;                                                                       \
		g_assert_null(ck_engine_add_request(engine, t, &error));                           \
		g_assert_error(error, CK_ERROR, code_);                                            \
		g_test_message("refused: %s", error->message);                                     \
		g_assert_nonnull(strstr(error->message, part_));                                   \
	} while (0)

	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, "combined file", {
		g_autofree gchar *combined = g_build_filename(f->certs, "tok.pem", NULL);
		ck_request_set_combined_file(t, combined);
	});
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, "versioned directory",
		    ck_request_set_directory(t, f->certs));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, "Pkcs11StoreCertificates",
		    ck_request_set_cert_file(t, "pkcs11:token=T;object=web;type=cert"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, "object=LABEL",
		    ck_request_set_key_file(t, "pkcs11:token=T"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, "does not start with",
		    ck_request_set_key_file(t, "/etc/ssl/private/web.key"));
	CK_BAD_CASE(CK_ERROR_INVALID_ARGUMENT, "pin-source=",
		    ck_request_set_key_file(t, "pkcs11:token=T;object=web?pin-value=1234"));
	CK_BAD_CASE(CK_ERROR_ACCESS_DENIED, "Only root", ck_request_set_owner_uid(t, 65534));
	CK_BAD_CASE(CK_ERROR_UNSUPPORTED, "ed25519", ck_request_set_key_type(t, CK_KEY_TYPE_ED25519));
#undef CK_BAD_CASE

	none = ck_engine_get_requests(engine);
	g_assert_cmpuint(none->len, ==, 0);
	{
		g_autoptr(GDir) d = g_dir_open(f->certs, 0, NULL);
		g_assert_null(g_dir_read_name(d));
	}
}

static void
test_engine_duplicates_refused(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkEngine) engine = ck_test_engine_new(f);
	g_autoptr(CkRequest) first = ck_test_template(engine, f, "dup");
	g_autoptr(CkRequest) second = ck_test_template(engine, f, "dup");
	g_autoptr(CkRequest) third = ck_test_template(engine, f, "other");
	g_autoptr(GError) error = NULL;

	ck_request_set_template_id(first, "dup");
	g_assert_nonnull(ck_engine_add_request(engine, first, &error));
	g_assert_no_error(error);
	/* the same certificate file twice */
	g_assert_null(ck_engine_add_request(engine, second, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS);
	g_clear_error(&error);
	/* the same id twice */
	ck_request_set_template_id(third, "dup");
	g_assert_null(ck_engine_add_request(engine, third, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS);
}

static void
ck_test_write_helper(Fixture *f, const gchar *name, const gchar *body)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", body);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
}

#define HELPER_CONFIG                                                                              \
	"[ca rejecting]\nType=helper\nHelper=@DIR@/reject.sh\n"                                    \
	"[ca down]\nType=helper\nHelper=@DIR@/down.sh\n"

static void
test_engine_helper_outcomes(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkEngine) engine = NULL;
	g_autoptr(CkRequest) t1 = NULL;
	g_autoptr(CkRequest) t2 = NULL;
	g_autoptr(GError) error = NULL;
	CkRequest *rejected, *unreachable;
	GLogLevelFlags fatal;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	/* like real helpers, they say so when asked for an operation they do not know */
	ck_test_write_helper(f, "reject.sh",
			     "[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n"
			     "echo 'policy forbids CN=r.example'; exit 2");
	ck_test_write_helper(f, "down.sh",
			     "[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n"
			     "echo 'connection refused'; exit 3");
	/* a rejection needs a human, so the daemon warns about it: that is no test failure */
	fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	engine = ck_test_engine_new(f);
	t1 = ck_test_template(engine, f, "r");
	ck_request_set_ca(t1, "rejecting");
	rejected = ck_engine_add_request(engine, t1, &error);
	g_assert_no_error(error);
	t2 = ck_test_template(engine, f, "u");
	ck_request_set_ca(t2, "down");
	unreachable = ck_engine_add_request(engine, t2, &error);
	g_assert_no_error(error);

	ck_test_wait_state(rejected, CK_REQUEST_STATE_CA_REJECTED);
	g_assert_true(ck_request_get_stuck(rejected));
	g_assert_nonnull(strstr(ck_request_get_last_error(rejected), "policy forbids"));

	ck_test_wait_state(unreachable, CK_REQUEST_STATE_CA_UNREACHABLE);
	g_assert_false(ck_request_get_stuck(unreachable));
	g_assert_nonnull(strstr(ck_request_get_last_error(unreachable), "connection refused"));
	g_assert_cmpuint(ck_request_get_failed_attempts(unreachable), ==, 1);
	/* the first retry comes about a minute later (60 s less up to 20 % jitter), not days */
	g_assert_cmpint(ck_request_get_next_attempt(unreachable), >=, now + 47);
	g_assert_cmpint(ck_request_get_next_attempt(unreachable), <=, now + 61);
	/* nothing was installed for either */
	g_assert_false(g_file_test(ck_request_get_cert_file(rejected), G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(ck_request_get_cert_file(unreachable), G_FILE_TEST_EXISTS));
	g_log_set_always_fatal(fatal);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/certkeeper/engine/issue-on-local-ca", Fixture, NULL, fixture_setup,
		   test_engine_issue_on_local_ca, fixture_teardown);
	g_test_add("/certkeeper/engine/issue-with-principals", Fixture, NULL, fixture_setup,
		   test_engine_issue_with_principals, fixture_teardown);
	g_test_add("/certkeeper/engine/restart-keeps-requests", Fixture, NULL, fixture_setup,
		   test_engine_restart_keeps_requests, fixture_teardown);
	g_test_add("/certkeeper/engine/in-flight-restarts-over", Fixture, NULL, fixture_setup,
		   test_engine_in_flight_restarts_over, fixture_teardown);
	g_test_add("/certkeeper/engine/rejects-bad-input", Fixture, NULL, fixture_setup,
		   test_engine_rejects_bad_input, fixture_teardown);
	g_test_add("/certkeeper/engine/rejects-bad-token-keys", Fixture, NULL, fixture_setup,
		   test_engine_rejects_bad_token_keys, fixture_teardown);
	g_test_add("/certkeeper/engine/duplicates-refused", Fixture, NULL, fixture_setup,
		   test_engine_duplicates_refused, fixture_teardown);
	g_test_add("/certkeeper/engine/helper-outcomes", Fixture, HELPER_CONFIG, fixture_setup,
		   test_engine_helper_outcomes, fixture_teardown);
	return g_test_run();
}
