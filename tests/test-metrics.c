/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Prometheus exposition: escaping, a stable order, cumulative histogram
 * buckets, the ready condition, failure reasons, and counters that survive a
 * restart. promtool (Debian package prometheus) checks the real output.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "ck-error.h"
#include "ck-metrics.h"
#include "ck-test-util.h"

/* 2026-01-01T00:00:00Z */
#define NOW G_GINT64_CONSTANT(1767225600)
#define DAY 86400

static CkRequest *
ck_test_request(const gchar *id, const gchar *ca, CkRequestState state, gint64 not_before,
		gint64 not_after, gint64 renewal)
{
	CkRequest *request = ck_request_new(id);

	ck_request_set_ca(request, ca);
	ck_request_set_state(request, state);
	if (not_after > 0)
		ck_request_set_certificate_info(request, not_before, not_after, "01", "CN=issuer");
	ck_request_set_renewal_time(request, renewal);
	return request;
}

/* The lines of @text that start with @prefix, joined by newlines. */
static gchar *
ck_test_lines(const gchar *text, const gchar *prefix)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GString) out = g_string_new(NULL);

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			g_string_append_printf(out, "%s\n", lines[i]);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* promtool's verdict on @text: "" when it has nothing to say. */
static void
ck_test_promtool_accepts(const gchar *text)
{
	g_autofree gchar *dir = NULL, *path = NULL, *script = NULL, *out = NULL, *err = NULL;
	gint rc;

	if (!ck_test_have_program("promtool")) {
		g_test_skip("promtool (Debian package prometheus) is not installed");
		return;
	}
	dir = ck_test_make_tmpdir();
	path = ck_test_write_file(dir, "metrics.prom", text);
	script = g_strdup_printf("promtool check metrics < '%s'", path);
	{
		const gchar *argv[] = {"sh", "-c", script, NULL};
		rc = ck_test_run(argv, &out, &err);
	}
	if (rc != 0)
		g_printerr("%s%s\n---\n%s", out, err, text);
	g_assert_cmpint(rc, ==, 0);
	ck_test_rm_rf(dir);
}

static void
test_metrics_escaping(void)
{
	g_autofree gchar *label = ck_metrics_escape_label_value("a\\b\"c\nd");
	g_autofree gchar *help = ck_metrics_escape_help("a\\b\"c\nd");
	g_autofree gchar *plain = ck_metrics_escape_label_value("web-1.example_x");
	g_autoptr(CkMetrics) metrics = ck_metrics_new();
	g_autoptr(CkRequest) odd =
	    ck_test_request("we\"ird\\id\n", "lo\"cal", CK_REQUEST_STATE_MONITORING, NOW - DAY,
			    NOW + 90 * DAY, NOW + 60 * DAY);
	g_autoptr(GPtrArray) requests = g_ptr_array_new();
	g_autofree gchar *text = NULL;
	const gchar *cas[] = {"lo\"cal", NULL};

	g_assert_cmpstr(label, ==, "a\\\\b\\\"c\\nd");
	/* a double quote needs no escape in HELP */
	g_assert_cmpstr(help, ==, "a\\\\b\"c\\nd");
	g_assert_cmpstr(plain, ==, "web-1.example_x");

	g_ptr_array_add(requests, odd);
	text = ck_metrics_render(metrics, requests, cas, NOW);
	g_assert_nonnull(strstr(text, "certkeeper_certificate_expiration_timestamp_seconds{id="
				      "\"we\\\"ird\\\\id\\n\",ca=\"lo\\\"cal\"} 1775001600\n"));
	g_assert_nonnull(
	    strstr(text, "certkeeper_ca_requests_total{ca=\"lo\\\"cal\",result=\"issued\"} 0\n"));
	/* no raw newline inside a sample: every line is a comment or a whole sample */
	{
		g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
		for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
			g_assert_true(g_str_has_prefix(lines[i], "# ") ||
				      g_str_has_prefix(lines[i], "certkeeper_"));
	}
	ck_test_promtool_accepts(text);
}

static void
test_metrics_order_and_values(void)
{
	g_autoptr(CkMetrics) metrics = ck_metrics_new();
	g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GPtrArray) reversed = g_ptr_array_new();
	g_autofree gchar *text = NULL, *again = NULL, *expiry = NULL, *states = NULL;
	g_autofree gchar *ready = NULL, *renewal = NULL;
	const gchar *cas[] = {"zeta", "local", NULL};
	const gchar *cas_reversed[] = {"local", "zeta", NULL};
	const gchar *families[] = {
	    "# TYPE certkeeper_build_info gauge",
	    "# TYPE certkeeper_renewal_attempts_total counter",
	    "# TYPE certkeeper_renewal_failures_total counter",
	    "# TYPE certkeeper_ca_requests_total counter",
	    "# TYPE certkeeper_ca_request_duration_seconds histogram",
	    "# TYPE certkeeper_requests gauge",
	    "# TYPE certkeeper_certificate_expiration_timestamp_seconds gauge",
	    "# TYPE certkeeper_certificate_not_before_timestamp_seconds gauge",
	    "# TYPE certkeeper_certificate_renewal_timestamp_seconds gauge",
	    "# TYPE certkeeper_certificate_ready_status gauge",
	};
	const gchar *previous = NULL;

	g_ptr_array_add(requests,
			ck_test_request("web", "local", CK_REQUEST_STATE_MONITORING, NOW - 10 * DAY,
					NOW + 355 * DAY, NOW + 320 * DAY));
	g_ptr_array_add(requests,
			ck_test_request("api", "zeta", CK_REQUEST_STATE_MONITORING, NOW - 10 * DAY,
					NOW + 355 * DAY, NOW + 320 * DAY));
	/* no certificate yet: no timestamps, but a condition */
	g_ptr_array_add(requests,
			ck_test_request("new", "local", CK_REQUEST_STATE_NEED_KEY_PAIR, 0, 0, 0));
	ck_metrics_count_attempt(metrics, CK_METRICS_ATTEMPT_SUCCESS);
	ck_metrics_count_attempt(metrics, CK_METRICS_ATTEMPT_SUCCESS);
	ck_metrics_count_attempt(metrics, CK_METRICS_ATTEMPT_FAILURE);
	ck_metrics_count_failure(metrics, CK_METRICS_FAILURE_CA_UNREACHABLE);
	text = ck_metrics_render(metrics, requests, cas, NOW);

	/* the families in their fixed order, each with HELP before TYPE */
	for (guint i = 0; i < G_N_ELEMENTS(families); i++) {
		const gchar *at = strstr(text, families[i]);
		g_autofree gchar *name =
		    g_strndup(families[i] + strlen("# TYPE "),
			      strrchr(families[i], ' ') - (families[i] + strlen("# TYPE ")));
		g_autofree gchar *help = g_strdup_printf("# HELP %s ", name);
		g_assert_nonnull(at);
		g_assert_true(previous == NULL || at > previous);
		g_assert_nonnull(strstr(text, help));
		g_assert_true(strstr(text, help) < at);
		previous = at;
	}
	g_assert_nonnull(
	    strstr(text, "certkeeper_build_info{version=\"" PACKAGE_VERSION "\"} 1\n"));
	g_assert_nonnull(strstr(text, "certkeeper_renewal_attempts_total{result=\"success\"} 2\n"
				      "certkeeper_renewal_attempts_total{result=\"failure\"} 1\n"));
	g_assert_nonnull(
	    strstr(text, "certkeeper_renewal_failures_total{reason=\"ca_unreachable\"} 1\n"));
	g_assert_nonnull(strstr(text, "certkeeper_renewal_failures_total{reason=\"key\"} 0\n"));

	/* requests by id, CAs by name, whatever order they came in */
	expiry = ck_test_lines(text, "certkeeper_certificate_expiration_timestamp_seconds{");
	g_assert_cmpstr(
	    expiry, ==,
	    "certkeeper_certificate_expiration_timestamp_seconds{id=\"api\",ca=\"zeta\"} "
	    "1797897600\n"
	    "certkeeper_certificate_expiration_timestamp_seconds{id=\"web\",ca=\"local\"} "
	    "1797897600\n");
	renewal = ck_test_lines(text, "certkeeper_certificate_renewal_timestamp_seconds{");
	g_assert_nonnull(strstr(renewal, "{id=\"web\",ca=\"local\"} 1794873600\n"));
	g_assert_null(strstr(renewal, "\"new\""));
	g_assert_true(strstr(text, "{ca=\"local\",result=\"issued\"}") <
		      strstr(text, "{ca=\"zeta\",result=\"issued\"}"));
	states = ck_test_lines(text, "certkeeper_requests{");
	g_assert_nonnull(strstr(states, "certkeeper_requests{state=\"MONITORING\"} 2\n"));
	g_assert_nonnull(strstr(states, "certkeeper_requests{state=\"NEED_KEY_PAIR\"} 1\n"));
	g_assert_nonnull(strstr(states, "certkeeper_requests{state=\"CA_REJECTED\"} 0\n"));
	{
		g_auto(GStrv) lines = g_strsplit(states, "\n", -1);
		/* every state, also those no request is in, and the empty rest after the last */
		g_assert_cmpuint(g_strv_length(lines), ==, CK_REQUEST_STATE_LAST + 1);
	}
	ready = ck_test_lines(text, "certkeeper_certificate_ready_status{id=\"new\"");
	g_assert_cmpstr(
	    ready, ==,
	    "certkeeper_certificate_ready_status{id=\"new\",ca=\"local\",condition=\"valid\"} 0\n"
	    "certkeeper_certificate_ready_status{id=\"new\",ca=\"local\",condition=\"expiring\"} "
	    "0\n"
	    "certkeeper_certificate_ready_status{id=\"new\",ca=\"local\",condition=\"expired\"} 0\n"
	    "certkeeper_certificate_ready_status{id=\"new\",ca=\"local\",condition=\"renewing\"} "
	    "1\n"
	    "certkeeper_certificate_ready_status{id=\"new\",ca=\"local\",condition=\"failing\"} 0\n"
	    "certkeeper_certificate_ready_status{id=\"new\",ca=\"local\",condition=\"revoked\"} "
	    "0\n");

	/* the same input in another order is the same text */
	for (guint i = requests->len; i > 0; i--)
		g_ptr_array_add(reversed, g_ptr_array_index(requests, i - 1));
	again = ck_metrics_render(metrics, reversed, cas_reversed, NOW);
	g_assert_cmpstr(again, ==, text);
	ck_test_promtool_accepts(text);
}

static void
test_metrics_histogram(void)
{
	g_autoptr(CkMetrics) metrics = ck_metrics_new();
	g_autoptr(GPtrArray) requests = g_ptr_array_new();
	g_autofree gchar *text = NULL, *buckets = NULL;
	const gchar *cas[] = {"local", NULL};
	const gdouble durations[] = {0.001, 0.03, 0.03, 7, 1000};
	guint n = 0;
	const gdouble *bounds = ck_metrics_duration_buckets(&n);
	guint64 previous = 0;

	for (guint i = 0; i < G_N_ELEMENTS(durations); i++)
		ck_metrics_count_ca(metrics, "local", CK_METRICS_CA_ISSUED, durations[i]);
	ck_metrics_count_ca(metrics, "local", CK_METRICS_CA_WAITING, 0.5);
	/* a CA that is not configured (any more) but has counts still shows them */
	ck_metrics_count_ca(metrics, "gone", CK_METRICS_CA_UNREACHABLE, 2);
	text = ck_metrics_render(metrics, requests, cas, NOW);

	g_assert_nonnull(
	    strstr(text, "certkeeper_ca_requests_total{ca=\"local\",result=\"issued\"} 5\n"));
	g_assert_nonnull(
	    strstr(text, "certkeeper_ca_requests_total{ca=\"local\",result=\"waiting\"} 1\n"));
	g_assert_nonnull(
	    strstr(text, "certkeeper_ca_requests_total{ca=\"gone\",result=\"unreachable\"} 1\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"0.005\"} 1\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"0.025\"} 1\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"0.05\"} 3\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"0.5\"} 4\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"5\"} 4\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"10\"} 5\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"300\"} 5\n"));
	g_assert_nonnull(strstr(text, "{ca=\"local\",le=\"+Inf\"} 6\n"));
	g_assert_nonnull(
	    strstr(text, "certkeeper_ca_request_duration_seconds_count{ca=\"local\"} 6\n"));
	g_assert_nonnull(
	    strstr(text, "certkeeper_ca_request_duration_seconds_sum{ca=\"local\"} 1007.561\n"));

	/* cumulative: never decreasing, one line per bound plus +Inf, bounds ascending */
	buckets = ck_test_lines(text, "certkeeper_ca_request_duration_seconds_bucket{ca=\"local\"");
	{
		g_auto(GStrv) lines = g_strsplit(buckets, "\n", -1);
		g_assert_cmpuint(g_strv_length(lines), ==, n + 2);
		for (guint i = 0; i < n + 1; i++) {
			guint64 value = g_ascii_strtoull(strrchr(lines[i], ' ') + 1, NULL, 10);
			g_assert_cmpuint(value, >=, previous);
			previous = value;
			if (i > 0 && i < n)
				g_assert_cmpfloat(bounds[i], >, bounds[i - 1]);
		}
		g_assert_nonnull(strstr(lines[n], "le=\"+Inf\""));
	}
	ck_test_promtool_accepts(text);

	/* a removed CA's counters go with it */
	ck_metrics_forget_ca(metrics, "gone");
	ck_metrics_count_ca(metrics, "other", CK_METRICS_CA_ISSUED, 1);
	{
		const gchar *keep[] = {"local", NULL};
		ck_metrics_keep_cas(metrics, keep);
	}
	g_assert_cmpuint(ck_metrics_get_ca_requests(metrics, "other", CK_METRICS_CA_ISSUED), ==, 0);
	g_assert_cmpuint(ck_metrics_get_ca_requests(metrics, "local", CK_METRICS_CA_ISSUED), ==, 5);
	g_clear_pointer(&text, g_free);
	text = ck_metrics_render(metrics, requests, cas, NOW);
	g_assert_null(strstr(text, "\"gone\""));
}

static void
test_metrics_conditions(void)
{
	const struct {
		CkRequestState state;
		gint64 not_after;
		gint64 renewal;
		guint failed;
		gboolean revoked;
		CkMetricsCondition want;
	} cases[] = {
	    {CK_REQUEST_STATE_MONITORING, NOW + 90 * DAY, NOW + 60 * DAY, 0, FALSE,
	     CK_METRICS_CONDITION_VALID},
	    {CK_REQUEST_STATE_MONITORING, NOW + 20 * DAY, NOW - DAY, 0, FALSE,
	     CK_METRICS_CONDITION_EXPIRING},
	    {CK_REQUEST_STATE_MONITORING, NOW - 1, NOW - 30 * DAY, 0, FALSE,
	     CK_METRICS_CONDITION_EXPIRED},
	    /* expired wins over failing and renewing */
	    {CK_REQUEST_STATE_CA_UNREACHABLE, NOW, NOW - 30 * DAY, 3, FALSE,
	     CK_METRICS_CONDITION_EXPIRED},
	    {CK_REQUEST_STATE_SUBMITTING, NOW + 20 * DAY, NOW - DAY, 0, FALSE,
	     CK_METRICS_CONDITION_RENEWING},
	    {CK_REQUEST_STATE_CA_WORKING, 0, 0, 0, FALSE, CK_METRICS_CONDITION_RENEWING},
	    {CK_REQUEST_STATE_CA_UNREACHABLE, NOW + 20 * DAY, NOW - DAY, 1, FALSE,
	     CK_METRICS_CONDITION_FAILING},
	    /* a retry under way after a failure is still failing */
	    {CK_REQUEST_STATE_SUBMITTING, NOW + 20 * DAY, NOW - DAY, 2, FALSE,
	     CK_METRICS_CONDITION_FAILING},
	    {CK_REQUEST_STATE_CA_REJECTED, 0, 0, 0, FALSE, CK_METRICS_CONDITION_FAILING},
	    {CK_REQUEST_STATE_NEED_GUIDANCE, NOW + 20 * DAY, NOW - DAY, 0, FALSE,
	     CK_METRICS_CONDITION_FAILING},
	    {CK_REQUEST_STATE_MONITORING, NOW + 90 * DAY, 0, 0, TRUE, CK_METRICS_CONDITION_REVOKED},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(CkRequest) request =
		    ck_test_request("r", "local", cases[i].state, NOW - 100 * DAY,
				    cases[i].not_after, cases[i].renewal);
		ck_request_set_failed_attempts(request, cases[i].failed);
		if (cases[i].revoked)
			ck_request_set_revoked(request, "01", NOW - DAY, "superseded");
		g_test_message("case %u", i);
		g_assert_cmpstr(ck_metrics_condition_to_string(ck_metrics_condition(request, NOW)),
				==, ck_metrics_condition_to_string(cases[i].want));
	}
}

static void
test_metrics_failure_reasons(void)
{
	const struct {
		CkRequestState from, to;
		const gchar *want;
	} cases[] = {
	    {CK_REQUEST_STATE_GENERATING_KEY_PAIR, CK_REQUEST_STATE_NEED_GUIDANCE, "key"},
	    {CK_REQUEST_STATE_NEED_KEY_PAIR, CK_REQUEST_STATE_NEED_GUIDANCE, "key"},
	    {CK_REQUEST_STATE_NEED_CSR, CK_REQUEST_STATE_NEED_GUIDANCE, "csr"},
	    {CK_REQUEST_STATE_SUBMITTING, CK_REQUEST_STATE_CA_UNREACHABLE, "ca_unreachable"},
	    {CK_REQUEST_STATE_CA_WORKING, CK_REQUEST_STATE_CA_UNREACHABLE, "ca_unreachable"},
	    {CK_REQUEST_STATE_SUBMITTING, CK_REQUEST_STATE_CA_REJECTED, "ca_rejected"},
	    {CK_REQUEST_STATE_SUBMITTING, CK_REQUEST_STATE_NEED_GUIDANCE, "ca_config"},
	    {CK_REQUEST_STATE_SAVING_CERT, CK_REQUEST_STATE_NEED_GUIDANCE, "validation"},
	    {CK_REQUEST_STATE_SAVING_CERT, CK_REQUEST_STATE_SAVING_CERT, "install"},
	    {CK_REQUEST_STATE_POST_SAVED, CK_REQUEST_STATE_MONITORING, "post_install"},
	    {CK_REQUEST_STATE_MONITORING, CK_REQUEST_STATE_NEED_GUIDANCE, "other"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpstr(ck_metrics_failure_to_string(
				    ck_metrics_failure_reason(cases[i].from, cases[i].to)),
				==, cases[i].want);
}

static void
test_metrics_persistence(void)
{
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autofree gchar *path = g_build_filename(dir, "metrics.json", NULL);
	g_autoptr(CkMetrics) metrics = ck_metrics_new();
	g_autoptr(CkMetrics) loaded = ck_metrics_new();
	g_autoptr(CkMetrics) fresh = ck_metrics_new();
	g_autoptr(GPtrArray) requests = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *before = NULL, *after = NULL, *bad = NULL;
	const gchar *cas[] = {"local", NULL};

	/* nothing saved yet: all zero, no error */
	g_assert_true(ck_metrics_load(fresh, path, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_metrics_get_attempts(fresh, CK_METRICS_ATTEMPT_SUCCESS), ==, 0);

	g_assert_false(ck_metrics_is_dirty(metrics));
	ck_metrics_count_attempt(metrics, CK_METRICS_ATTEMPT_SUCCESS);
	ck_metrics_count_attempt(metrics, CK_METRICS_ATTEMPT_FAILURE);
	ck_metrics_count_failure(metrics, CK_METRICS_FAILURE_VALIDATION);
	ck_metrics_count_ca(metrics, "local", CK_METRICS_CA_ISSUED, 0.02);
	ck_metrics_count_ca(metrics, "acme", CK_METRICS_CA_REJECTED, 3.5);
	g_assert_true(ck_metrics_is_dirty(metrics));
	g_assert_true(ck_metrics_save(metrics, path, &error));
	g_assert_no_error(error);
	g_assert_false(ck_metrics_is_dirty(metrics));
	g_assert_cmpint(ck_test_file_mode(path), ==, 0600);

	g_assert_true(ck_metrics_load(loaded, path, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_metrics_get_attempts(loaded, CK_METRICS_ATTEMPT_FAILURE), ==, 1);
	g_assert_cmpuint(ck_metrics_get_failures(loaded, CK_METRICS_FAILURE_VALIDATION), ==, 1);
	g_assert_cmpuint(ck_metrics_get_ca_requests(loaded, "acme", CK_METRICS_CA_REJECTED), ==, 1);
	before = ck_metrics_render(metrics, requests, cas, NOW);
	after = ck_metrics_render(loaded, requests, cas, NOW);
	g_assert_cmpstr(before, ==, after);

	/* a broken file is an error naming it, and changes nothing */
	bad = ck_test_write_file(dir, "bad.json",
				 "{\"version\": 1, \"renewal_attempts\": {\"success\": -4}}");
	g_assert_false(ck_metrics_load(loaded, bad, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, bad));
	g_clear_error(&error);
	g_assert_cmpuint(ck_metrics_get_attempts(loaded, CK_METRICS_ATTEMPT_SUCCESS), ==, 1);
	g_clear_pointer(&bad, g_free);
	bad = ck_test_write_file(dir, "bad2.json", "not json");
	g_assert_false(ck_metrics_load(loaded, bad, &error));
	g_assert_nonnull(error);
	g_clear_error(&error);
	ck_test_rm_rf(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/metrics/escaping", test_metrics_escaping);
	g_test_add_func("/certkeeper/metrics/order-and-values", test_metrics_order_and_values);
	g_test_add_func("/certkeeper/metrics/histogram", test_metrics_histogram);
	g_test_add_func("/certkeeper/metrics/conditions", test_metrics_conditions);
	g_test_add_func("/certkeeper/metrics/failure-reasons", test_metrics_failure_reasons);
	g_test_add_func("/certkeeper/metrics/persistence", test_metrics_persistence);
	return g_test_run();
}
