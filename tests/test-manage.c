/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Managing what the engine tracks: adopting existing certificates, changing
 * requests, CAs added at run time, reloading, and the declared requests of
 * requests.d with their reconciliation.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ck-ca-helper.h"
#include "ck-engine.h"
#include "ck-error.h"
#include "ck-request-options.h"
#include "ck-requests-dir.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *state_dir;
	gchar *certs;
	gchar *requests_dir;
	gchar *config_path;
	CkConfig *config;
	CkEngine *engine;
	CkCaller root;
} Fixture;

static void
ck_test_write(const gchar *path, const gchar *text)
{
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
}

/* @DIR@ in @text stands for the fixture directory. */
static gchar *
ck_test_expand(Fixture *f, const gchar *text)
{
	g_auto(GStrv) parts = g_strsplit(text, "@DIR@", -1);
	return g_strjoinv(f->dir, parts);
}

static void
ck_test_configure(Fixture *f, const gchar *extra)
{
	g_autofree gchar *raw = g_strconcat(
	    "[certkeeperd]\nRequestsDirectory=@DIR@/requests.d\nPolicyDirectory=@DIR@/policy.d\n"
	    "[renewal]\nRenewJitterMax=0\n",
	    extra != NULL ? extra : "", NULL);
	g_autofree gchar *text = ck_test_expand(f, raw);
	ck_test_write(f->config_path, text);
}

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->state_dir = g_build_filename(f->dir, "state", NULL);
	f->certs = g_build_filename(f->dir, "certs", NULL);
	f->requests_dir = g_build_filename(f->dir, "requests.d", NULL);
	f->config_path = g_build_filename(f->dir, "certkeeper.conf", NULL);
	g_assert_cmpint(g_mkdir(f->certs, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(f->requests_dir, 0755), ==, 0);
	ck_test_configure(f, NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_clear_object(&f->engine);
	g_clear_object(&f->config);
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->state_dir);
	g_free(f->certs);
	g_free(f->requests_dir);
	g_free(f->config_path);
}

static void
ck_test_start(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	g_clear_object(&f->engine);
	g_clear_object(&f->config);
	f->config = ck_config_new();
	g_assert_true(ck_config_load(f->config, f->config_path, TRUE, &error));
	g_assert_no_error(error);
	f->engine = ck_engine_new(f->config, f->state_dir);
	ck_engine_set_config_path(f->engine, f->config_path);
	g_assert_true(ck_engine_start(f->engine, &error));
	g_assert_no_error(error);
}

static void
ck_test_spin_until_state(CkRequest *request, CkRequestState state)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	while (ck_request_get_state(request) != state) {
		if (g_get_monotonic_time() > deadline)
			g_error("request %s stayed %s (%s)", ck_request_get_id(request),
				ck_request_state_to_string(ck_request_get_state(request)),
				ck_request_get_last_error(request));
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
}

static CkRequest *
ck_test_template(Fixture *f, const gchar *id)
{
	CkRequest *t = ck_engine_new_request_template(f->engine);
	g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", f->certs, id);
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", f->certs, id);
	g_autofree gchar *dns = g_strdup_printf("%s.example", id);
	const gchar *names[] = {dns, NULL};
	ck_request_set_template_id(t, id);
	ck_request_set_cert_file(t, cert);
	ck_request_set_key_file(t, key);
	ck_request_set_dns_names(t, names);
	return t;
}

/* Start tracking */

static void
test_manage_start_tracking(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *cert = g_build_filename(f->certs, "bought.crt", NULL);
	g_autofree gchar *key = g_build_filename(f->certs, "bought.key", NULL);
	g_autofree gchar *other_key = g_build_filename(f->certs, "other.key", NULL);
	const gchar *make[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-days", "90", "-subj",
			       "/CN=bought.example/O=Vendor", "-addext",
			       "subjectAltName=DNS:bought.example,DNS:www.bought.example,IP:192.0.2.4",
			       "-keyout", key, "-out", cert, NULL};
	const gchar *genkey[] = {"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
				 "ec_paramgen_curve:P-256", "-out", other_key, NULL};
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(CkRequest) mismatched = NULL;
	g_autoptr(CkRequest) again = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *before = NULL, *after = NULL;
	CkRequest *request;

	g_assert_cmpint(ck_test_run(make, NULL, NULL), ==, 0);
	g_assert_cmpint(ck_test_run(genkey, NULL, NULL), ==, 0);
	g_assert_true(g_file_get_contents(cert, &before, NULL, NULL));
	ck_test_start(f);

	/* a certificate and a key that do not belong together are refused */
	mismatched = ck_engine_new_request_template(f->engine);
	ck_request_set_cert_file(mismatched, cert);
	ck_request_set_key_file(mismatched, other_key);
	g_assert_null(ck_engine_start_tracking(f->engine, &f->root, mismatched, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "does not belong"));
	g_clear_error(&error);

	t = ck_engine_new_request_template(f->engine);
	ck_request_set_template_id(t, "bought");
	ck_request_set_cert_file(t, cert);
	ck_request_set_key_file(t, key);
	request = ck_engine_start_tracking(f->engine, &f->root, t, &error);
	g_assert_no_error(error);
	g_assert_nonnull(request);
	/* tracked as it is: monitoring, names and dates from the certificate, nothing rewritten */
	g_assert_cmpint(ck_request_get_state(request), ==, CK_REQUEST_STATE_MONITORING);
	g_assert_nonnull(strstr(ck_request_get_subject(request), "CN=bought.example"));
	g_assert_cmpstr(ck_request_get_dns_names(request)[0], ==, "bought.example");
	g_assert_cmpstr(ck_request_get_dns_names(request)[1], ==, "www.bought.example");
	g_assert_cmpstr(ck_request_get_ip_addresses(request)[0], ==, "192.0.2.4");
	g_assert_nonnull(strstr(ck_request_get_issuer(request), "bought.example"));
	g_assert_cmpint(ck_request_get_renewal_time(request), >, 0);
	g_assert_cmpint(ck_request_get_renewal_time(request), <, ck_request_get_not_after(request));
	g_assert_true(ck_engine_find_request_by_path(f->engine, cert) == request);
	{
		gint64 end = g_get_monotonic_time() + 300 * 1000;
		while (g_get_monotonic_time() < end)
			g_main_context_iteration(NULL, FALSE);
	}
	g_assert_true(g_file_get_contents(cert, &after, NULL, NULL));
	g_assert_cmpstr(before, ==, after);
	/* and only once */
	again = ck_engine_new_request_template(f->engine);
	ck_request_set_cert_file(again, cert);
	ck_request_set_key_file(again, key);
	g_assert_null(ck_engine_start_tracking(f->engine, &f->root, again, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS);
}

/* Modify and refresh */

static void
test_manage_modify(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(CkRequest) changed = NULL;
	g_autoptr(CkRequest) bad = NULL;
	g_autoptr(GError) error = NULL;
	CkRequest *request;
	const gchar *dns[] = {"mod.example", "alias.example", NULL};
	gint64 renewal;

	ck_test_start(f);
	t = ck_test_template(f, "mod");
	request = ck_engine_add_request(f->engine, t, &error);
	g_assert_no_error(error);
	ck_test_spin_until_state(request, CK_REQUEST_STATE_MONITORING);
	renewal = ck_request_get_renewal_time(request);

	changed = ck_request_dup(request);
	ck_request_set_dns_names(changed, dns);
	ck_request_set_renew_before(changed, "90%");
	ck_request_set_post_save_command(changed, "true");
	g_assert_true(ck_engine_modify_request(f->engine, &f->root, "mod", changed, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ck_request_get_dns_names(request)[1], ==, "alias.example");
	g_assert_cmpstr(ck_request_get_post_save_command(request), ==, "true");
	/* the plan follows the new threshold */
	g_assert_cmpint(ck_request_get_renewal_time(request), <, renewal);
	/* it is on disk: a restart keeps it */
	ck_test_start(f);
	request = ck_engine_find_request(f->engine, "mod");
	g_assert_cmpstr(ck_request_get_renew_before(request), ==, "90%");

	/* bad settings change nothing */
	bad = ck_request_dup(request);
	ck_request_set_renew_before(bad, "100%");
	g_assert_false(ck_engine_modify_request(f->engine, &f->root, "mod", bad, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	g_assert_cmpstr(ck_request_get_renew_before(request), ==, "90%");
	ck_request_set_renew_before(bad, "30d");
	ck_request_set_ca(bad, "no-such-ca");
	g_assert_false(ck_engine_modify_request(f->engine, &f->root, "mod", bad, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_false(ck_engine_modify_request(f->engine, &f->root, "nope", bad, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	/* which options can change at all */
	g_assert_false(ck_request_options_is_modifiable("cert-file"));
	g_assert_false(ck_request_options_is_modifiable("id"));
	g_assert_true(ck_request_options_is_modifiable("dns-names"));
}

static void
test_manage_refresh(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) t = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *other = g_build_filename(f->dir, "other.crt", NULL);
	g_autofree gchar *other_key = g_build_filename(f->dir, "other.key", NULL);
	const gchar *make[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-days", "10", "-subj",
			       "/CN=ref.example", "-keyout", other_key, "-out", other, NULL};
	g_autofree gchar *text = NULL;
	CkRequest *request;

	g_assert_cmpint(ck_test_run(make, NULL, NULL), ==, 0);
	ck_test_start(f);
	t = ck_test_template(f, "ref");
	request = ck_engine_add_request(f->engine, t, &error);
	g_assert_no_error(error);
	ck_test_spin_until_state(request, CK_REQUEST_STATE_MONITORING);
	serial = g_strdup(ck_request_get_serial(request));
	/* written in place, which a directory watch may miss: Refresh reads it */
	g_assert_true(g_file_get_contents(other, &text, NULL, NULL));
	{
		FILE *fp = fopen(ck_request_get_cert_file(request), "w");
		fputs(text, fp);
		fclose(fp);
	}
	g_assert_true(ck_engine_refresh_request(f->engine, "ref", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ck_request_get_serial(request), !=, serial);
	g_assert_cmpint(ck_request_get_not_after(request), <, g_get_real_time() / G_USEC_PER_SEC +
								   11 * 86400);
}

/* CAs */

static void
test_manage_cas(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *helper = g_build_filename(f->dir, "ca.sh", NULL);
	g_autoptr(CkCaConfig) cfg = ck_ca_config_new("dyn", "helper");
	g_autoptr(CkCaConfig) bad = ck_ca_config_new("../x", "helper");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkRequest) t = NULL;
	CkCaller user = {.uid = 65534};
	CkCa *ca;

	ck_test_write(helper, "#!/bin/sh\n[ \"$CERTMONGER_OPERATION\" = FETCH-ROOTS ] && exit 6\n"
			      "echo not today; exit 2\n");
	g_assert_cmpint(g_chmod(helper, 0755), ==, 0);
	cfg->helper = g_strdup(helper);
	ck_test_start(f);

	/* only root */
	g_assert_null(ck_engine_add_ca(f->engine, &user, cfg, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_clear_error(&error);
	g_assert_null(ck_engine_add_ca(f->engine, &f->root, bad, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	ca = ck_engine_add_ca(f->engine, &f->root, cfg, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_ca_get_kind(ca), ==, "helper");
	g_assert_false(ck_engine_ca_is_configured(f->engine, "dyn"));
	g_assert_true(ck_engine_ca_is_configured(f->engine, "local"));
	g_assert_null(ck_engine_add_ca(f->engine, &f->root, cfg, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS);
	g_clear_error(&error);

	/* kept across a restart */
	ck_test_start(f);
	ca = ck_engine_find_ca(f->engine, "dyn");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_ca_helper_get_command(CK_CA_HELPER(ca)), ==, helper);

	/* a configured CA is changed in the file, not here */
	{
		g_autoptr(CkCaConfig) local = ck_ca_config_new("local", "local");
		g_assert_false(ck_engine_modify_ca(f->engine, &f->root, local, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "certkeeper.conf"));
		g_clear_error(&error);
	}
	cfg->timeout = 7;
	g_assert_true(ck_engine_modify_ca(f->engine, &f->root, cfg, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_engine_get_ca_config(f->engine, "dyn")->timeout, ==, 7);

	/* removing a CA that still issues is refused, naming who uses it */
	t = ck_test_template(f, "user-of-dyn");
	ck_request_set_ca(t, "dyn");
	g_assert_nonnull(ck_engine_add_request(f->engine, t, &error));
	g_assert_no_error(error);
	g_assert_false(ck_engine_remove_ca(f->engine, &f->root, "dyn", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_BUSY);
	g_assert_nonnull(strstr(error->message, "user-of-dyn"));
	g_clear_error(&error);
	g_assert_true(ck_engine_remove_request(f->engine, "user-of-dyn", &error));
	g_assert_true(ck_engine_remove_ca(f->engine, &f->root, "dyn", &error));
	g_assert_no_error(error);
	g_assert_null(ck_engine_find_ca(f->engine, "dyn"));
	ck_test_start(f);
	g_assert_null(ck_engine_find_ca(f->engine, "dyn"));
}

/* Reload and requests.d */

static void
ck_test_declare(Fixture *f, const gchar *name, const gchar *text)
{
	g_autofree gchar *path = g_build_filename(f->requests_dir, name, NULL);
	g_autofree gchar *expanded = ck_test_expand(f, text);
	ck_test_write(path, expanded);
}

static void
ck_test_undeclare(Fixture *f, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(f->requests_dir, name, NULL);
	g_assert_cmpint(g_unlink(path), ==, 0);
}

#define DECLARED                                                                                   \
	"[request web]\ncert-file=@DIR@/certs/web.crt\nkey-file=@DIR@/certs/web.key\n"            \
	"dns-names=web.example;www.web.example\nkey-mode=0640\nauto-renew=true\n"                 \
	"[request api]\ncert-file=@DIR@/certs/api.crt\nkey-file=@DIR@/certs/api.key\n"            \
	"dns-names=api.example\n"

/* counts the broken file's warning instead of letting it abort the test */
static void
ck_test_count_broken_declaration(const gchar *log_domain, GLogLevelFlags log_level,
				 const gchar *message, gpointer user_data)
{
	guint *count = user_data;

	if (strstr(message, "20-broken.conf: request bad is skipped: '999.1.1.1'") != NULL)
		(*count)++;
	else
		g_log_default_handler(log_domain, log_level, message, NULL);
}

static void
test_manage_declared(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	CkRequest *web, *api;
	guint broken_warnings;
	GLogLevelFlags fatal;
	guint handler;

	ck_test_declare(f, "10-fleet.conf", DECLARED);
	ck_test_start(f);
	web = ck_engine_find_request(f->engine, "web");
	api = ck_engine_find_request(f->engine, "api");
	g_assert_nonnull(web);
	g_assert_nonnull(api);
	g_assert_cmpstr(ck_request_get_dns_names(web)[1], ==, "www.web.example");
	g_assert_cmpuint(ck_request_get_key_attrs(web)->mode, ==, 0640);
	g_assert_nonnull(strstr(ck_request_get_declared(web), "10-fleet.conf"));
	ck_test_spin_until_state(web, CK_REQUEST_STATE_MONITORING);
	ck_test_spin_until_state(api, CK_REQUEST_STATE_MONITORING);

	/* a change, a removal, a new one, and a broken one beside them */
	ck_test_declare(f, "10-fleet.conf",
			"[request web]\ncert-file=@DIR@/certs/web.crt\nkey-file=@DIR@/certs/web.key\n"
			"dns-names=web.example\nrenew-before=10d\n"
			"[request db]\ncert-file=@DIR@/certs/db.crt\nkey-file=@DIR@/certs/db.key\n"
			"dns-names=db.example\n");
	ck_test_declare(f, "20-broken.conf",
			"[request bad]\ncert-file=@DIR@/certs/bad.crt\nkey-file=@DIR@/certs/bad.key\n"
			"ip-addresses=999.1.1.1\n");
	broken_warnings = 0;
	fatal = g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
	handler = g_log_set_handler(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
				    ck_test_count_broken_declaration, &broken_warnings);
	g_assert_true(ck_engine_reload(f->engine, &f->root, &error));
	g_log_remove_handler(G_LOG_DOMAIN, handler);
	g_log_set_always_fatal(fatal);
	g_assert_no_error(error);
	g_assert_cmpuint(broken_warnings, ==, 1);
	/* later reloads in this test are about other things */
	ck_test_undeclare(f, "20-broken.conf");
	web = ck_engine_find_request(f->engine, "web");
	g_assert_cmpstr(ck_request_get_renew_before(web), ==, "10d");
	g_assert_null(ck_request_get_dns_names(web)[1]);
	/* no longer declared: no longer tracked, but its files stay */
	g_assert_null(ck_engine_find_request(f->engine, "api"));
	{
		g_autofree gchar *api_cert = g_build_filename(f->certs, "api.crt", NULL);
		g_assert_true(g_file_test(api_cert, G_FILE_TEST_IS_REGULAR));
	}
	g_assert_nonnull(ck_engine_find_request(f->engine, "db"));
	g_assert_null(ck_engine_find_request(f->engine, "bad"));

	/* a request added over the bus is never touched by requests.d */
	{
		g_autoptr(CkRequest) t = ck_test_template(f, "manual");
		g_assert_nonnull(ck_engine_add_request(f->engine, t, &error));
		g_assert_no_error(error);
		g_assert_true(ck_engine_reload(f->engine, &f->root, &error));
		g_assert_nonnull(ck_engine_find_request(f->engine, "manual"));
	}
	/* a broken configuration changes nothing */
	ck_test_write(f->config_path, "[renewal]\nRenewBefore=never\n");
	g_assert_false(ck_engine_reload(f->engine, &f->root, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "RenewBefore=never"));
	g_assert_nonnull(ck_engine_find_request(f->engine, "db"));
	g_clear_error(&error);
	/* and only root reloads */
	{
		CkCaller user = {.uid = 65534};
		g_assert_false(ck_engine_reload(f->engine, &user, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	}
}

static CkRequest *
ck_test_plain_template(gpointer user_data)
{
	return ck_request_new(NULL);
}

static void
test_manage_requests_dir_errors(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) declared = NULL;

	ck_test_declare(f, "10-a.conf",
			"# comment\n[request one]\ncert-file=/x/one.crt\nkey-file=/x/one.key\n"
			"\n[request two]\ncert-file=/x/two.crt\ncolour=blue\n"
			"[something]\nx=1\n"
			"[request three]\nvalidity-days=many\n");
	ck_test_declare(f, "20-b.conf", "[request one]\ncert-file=/y/one.crt\n");
	ck_test_declare(f, "30-c.conf", "not a key file [\n");
	ck_test_declare(f, "40-d.conf", "[request bad/id]\ncert-file=/x\n");
	ck_test_declare(f, "README", "[request ignored]\n");
	declared = ck_requests_dir_load(f->requests_dir, ck_test_plain_template, NULL, warnings);
	for (guint i = 0; i < warnings->len; i++)
		g_test_message("%s", (const gchar *)g_ptr_array_index(warnings, i));
	/* only "one" from the first file counts */
	g_assert_cmpuint(declared->len, ==, 1);
	g_assert_cmpstr(((CkDeclaredRequest *)g_ptr_array_index(declared, 0))->id, ==, "one");
	g_assert_cmpuint(warnings->len, ==, 6);
	/* file and line of each problem */
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 0), "10-a.conf:8: [request two] colour"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 1), "10-a.conf:9: [something]"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 2), "10-a.conf:12:"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 2), "validity-days"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 3), "20-b.conf:1: request one is "
								    "declared twice"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 4), "30-c.conf"));
	g_assert_nonnull(strstr(g_ptr_array_index(warnings, 5), "bad/id"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/certkeeper/manage/start-tracking", test_manage_start_tracking);
	ADD("/certkeeper/manage/modify", test_manage_modify);
	ADD("/certkeeper/manage/refresh", test_manage_refresh);
	ADD("/certkeeper/manage/cas", test_manage_cas);
	ADD("/certkeeper/manage/declared", test_manage_declared);
	ADD("/certkeeper/manage/requests-dir-errors", test_manage_requests_dir_errors);
#undef ADD
	return g_test_run();
}
