/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * `certkeeper health` and Request1.ExpiryStatus against the real daemon on a
 * private policy-enforcing bus: healthy is 0 (also for an unprivileged caller),
 * an expired watched certificate, a certificate expiring while its CA fails
 * and a request that needs guidance each give their exit code and a line
 * naming the request; --days changes the verdict; --json parses.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

/* `certkeeper health` exit codes (client/certkeeper.c) */
#define HEALTH_OK       0
#define HEALTH_STUCK    6
#define HEALTH_EXPIRING 7
#define HEALTH_EXPIRED  8

#define HELPER_CONFIG                                                                              \
	"[ca down]\nType=helper\nHelper=%s/down.sh\n"                                              \
	"[ca misconfigured]\nType=helper\nHelper=%s/misconfigured.sh\n"

static void
ck_test_write_helper(CkTestDaemon *td, const gchar *name, const gchar *body)
{
	g_autofree gchar *path = ck_test_daemon_path(td, name);
	/* like real helpers, they say so when asked for an operation they do not know */
	g_autofree gchar *text = g_strdup_printf(
	    "#!/bin/sh\n[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n%s\n", body);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
}

/* A daemon whose helper CAs fail on purpose: "down" (exit 3), "misconfigured" (exit 4). */
static CkTestDaemon *
ck_test_health_daemon(void)
{
	CkTestDaemon *td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL;

	if (td == NULL)
		return NULL;
	ck_test_write_helper(td, "down.sh", "echo 'connection refused'; exit 3");
	ck_test_write_helper(td, "misconfigured.sh",
			     "echo 'no enrollment profile is configured'; exit 4");
	config = g_strdup_printf(HELPER_CONFIG, td->dir, td->dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	return td;
}

/* `certkeeper request` for @id from @ca (and up to five more arguments), waiting for
 * the outcome; its exit status. */
static gint
ck_test_request(CkTestDaemon *td, const gchar *id, const gchar *ca, const gchar *const *more)
{
	g_autofree gchar *dir = ck_test_daemon_path(td, "certs");
	g_autofree gchar *cert_name = g_strdup_printf("%s.crt", id);
	g_autofree gchar *key_name = g_strdup_printf("%s.key", id);
	g_autofree gchar *cert = g_build_filename(dir, cert_name, NULL);
	g_autofree gchar *key = g_build_filename(dir, key_name, NULL);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	g_autofree gchar *out = NULL, *err = NULL;
	const gchar *m[6] = {NULL};
	gint rc;

	for (guint i = 0; more != NULL && more[i] != NULL; i++) {
		g_assert_cmpuint(i, <, G_N_ELEMENTS(m) - 1);
		m[i] = more[i];
	}
	g_mkdir_with_parents(dir, 0755);
	/* the CLI's arguments end at the first NULL among m[] */
	rc = ck_test_cli(td, FALSE, NULL, &out, &err, "request", "-I", id, "-c", ca, "-f", cert,
			 "-k", key, "-N", subject, "-w", "--wait-timeout=30", m[0], m[1], m[2],
			 m[3], m[4], NULL);
	g_test_message("request %s: %d\n%s%s", id, rc, out, err);
	return rc;
}

/* `certkeeper health ARGS` as root or nobody; its exit status, stdout in @out. */
static gint
ck_test_health(CkTestDaemon *td, gboolean as_nobody, gchar **out, const gchar *arg1,
	       const gchar *arg2, const gchar *arg3)
{
	g_autofree gchar *err = NULL;
	gint rc = ck_test_cli(td, as_nobody, NULL, out, &err, "health", arg1, arg2, arg3, NULL);
	g_test_message("health: %d\n%s%s", rc, *out, err);
	g_assert_cmpstr(err, ==, "");
	return rc;
}

static JsonObject *
ck_test_parse_object(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)));
	return json_object_ref(json_node_get_object(json_parser_get_root(parser)));
}

/* The one problem of a --json verdict; asserts there is exactly one. */
static JsonObject *
ck_test_only_problem(JsonObject *verdict)
{
	JsonArray *problems = json_object_get_array_member(verdict, "problems");
	g_assert_cmpuint(json_array_get_length(problems), ==, 1);
	return json_array_get_object_element(problems, 0);
}

static void
test_health_healthy(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_health_daemon();
	g_autofree gchar *out = NULL;
	g_autoptr(JsonObject) verdict = NULL;
	g_autoptr(JsonObject) status = NULL;

	if (td == NULL)
		return;
	/* nothing tracked: nothing wrong */
	g_assert_cmpint(ck_test_health(td, FALSE, &out, NULL, NULL, NULL), ==, HEALTH_OK);
	g_assert_nonnull(strstr(out, "0 certificates checked: all is well."));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(ck_test_request(td, "web", "local", NULL), ==, 0);
	status = ck_test_request_json(td, "web");
	g_assert_cmpstr(ck_test_json_string(status, "ExpiryStatus"), ==, "valid");
	g_assert_cmpint(json_object_get_int_member(status, "WorkingSince"), ==, 0);

	g_assert_cmpint(ck_test_health(td, FALSE, &out, NULL, NULL, NULL), ==, HEALTH_OK);
	g_assert_nonnull(strstr(out, "1 certificate checked: all is well."));
	g_clear_pointer(&out, g_free);
	/* it only reads: an unprivileged caller gets the same verdict */
	g_assert_cmpint(ck_test_health(td, TRUE, &out, NULL, NULL, NULL), ==, HEALTH_OK);
	g_assert_nonnull(strstr(out, "1 certificate checked: all is well."));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(ck_test_health(td, FALSE, &out, "--json", NULL, NULL), ==, HEALTH_OK);
	verdict = ck_test_parse_object(out);
	g_assert_true(json_object_get_boolean_member(verdict, "healthy"));
	g_assert_cmpint(json_object_get_int_member(verdict, "exit-code"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(verdict, "requests"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(verdict, "days"), ==, 14);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(verdict, "problems")),
			 ==, 0);
	g_clear_pointer(&out, g_free);

	/* bad options are errors (1), naming what was wrong */
	{
		g_autofree gchar *err = NULL;
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "health", "--stuck-after",
					    "soon", NULL),
				==, 1);
		g_assert_nonnull(strstr(err, "--stuck-after"));
		g_assert_nonnull(strstr(err, "soon"));
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(
		    ck_test_cli(td, FALSE, NULL, NULL, &err, "health", "--days", "-3", NULL), ==,
		    1);
		g_assert_nonnull(strstr(err, "--days -3"));
	}
}

typedef struct {
	GPtrArray *seen; /* every ExpiryStatus announced by PropertiesChanged, in order */
} ExpirySignals;

static void
on_properties_changed(GDBusConnection *connection, const gchar *sender, const gchar *path,
		      const gchar *iface, const gchar *signal, GVariant *parameters,
		      gpointer user_data)
{
	ExpirySignals *signals = user_data;
	g_autoptr(GVariant) changed = NULL;
	const gchar *status = NULL;

	g_variant_get(parameters, "(&s@a{sv}@as)", NULL, &changed, NULL);
	if (g_variant_lookup(changed, "ExpiryStatus", "&s", &status))
		g_ptr_array_add(signals->seen, g_strdup(status));
}

static gboolean
ck_test_seen_expired(gpointer data)
{
	ExpirySignals *signals = data;
	for (guint i = 0; i < signals->seen->len; i++) {
		if (g_str_equal(g_ptr_array_index(signals->seen, i), "expired"))
			return TRUE;
	}
	return FALSE;
}

/*
 * A certificate that is only watched expires: the daemon announces ExpiryStatus
 * "expiring" then "expired" by itself, and health says so (8), naming it.
 */
static void
test_health_expired_watched(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_health_daemon();
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	ExpirySignals signals = {seen};
	const gchar *more[] = {"--validity", "6s", "--renew-before", "50%", "-R", NULL};
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) verdict = NULL;
	g_autofree gchar *out = NULL;
	JsonObject *problem;
	guint subscription, expiring = G_MAXUINT, expired = G_MAXUINT;

	if (td == NULL)
		return;
	connection = ck_test_daemon_connect(td);
	subscription = g_dbus_connection_signal_subscribe(
	    connection, NULL, "org.freedesktop.DBus.Properties", "PropertiesChanged",
	    "/org/certkeeper/Certkeeper1/request/watched", "org.certkeeper.Request1",
	    G_DBUS_SIGNAL_FLAGS_NONE, on_properties_changed, &signals, NULL);
	g_assert_cmpint(ck_test_request(td, "watched", "local", more), ==, 0);
	g_assert_true(ck_test_wait_for(ck_test_seen_expired, &signals, 30000));
	g_dbus_connection_signal_unsubscribe(connection, subscription);
	for (guint i = 0; i < seen->len; i++) {
		const gchar *name = g_ptr_array_index(seen, i);
		if (g_str_equal(name, "expiring") && expiring == G_MAXUINT)
			expiring = i;
		if (g_str_equal(name, "expired") && expired == G_MAXUINT)
			expired = i;
	}
	/* the status moved on by itself, in its order */
	g_assert_cmpuint(expiring, <, expired);
	status = ck_test_request_json(td, "watched");
	g_assert_cmpstr(ck_test_json_string(status, "ExpiryStatus"), ==, "expired");
	g_assert_cmpstr(ck_test_json_string(status, "State"), ==, "MONITORING");

	g_assert_cmpint(ck_test_health(td, FALSE, &out, NULL, NULL, NULL), ==, HEALTH_EXPIRED);
	g_assert_nonnull(strstr(out, "watched: expired: the certificate expired on "));
	g_assert_nonnull(strstr(out, "auto-renew is off"));
	g_clear_pointer(&out, g_free);
	/* `status` shows it too */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "watched", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "  expiry: expired\n"));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(ck_test_health(td, TRUE, &out, "--json", NULL, NULL), ==, HEALTH_EXPIRED);
	verdict = ck_test_parse_object(out);
	g_assert_false(json_object_get_boolean_member(verdict, "healthy"));
	g_assert_cmpint(json_object_get_int_member(verdict, "exit-code"), ==, HEALTH_EXPIRED);
	problem = ck_test_only_problem(verdict);
	g_assert_cmpstr(json_object_get_string_member(problem, "id"), ==, "watched");
	g_assert_cmpstr(json_object_get_string_member(problem, "problem"), ==, "expired");
	g_assert_cmpstr(json_object_get_string_member(problem, "expiry-status"), ==, "expired");
	g_assert_cmpstr(json_object_get_string_member(problem, "ca"), ==, "local");
	g_assert_cmpint(json_object_get_int_member(problem, "not-after"), ==,
			json_object_get_int_member(status, "NotAfter"));
}

/*
 * A certificate of two days whose CA now fails (its helper exits 3): within
 * --days 14 it is at risk (7), naming the request and the CA's words; with
 * --days 1 the same daemon state is healthy, the renewal is only being retried.
 */
static void
test_health_failing_ca(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_health_daemon();
	const gchar *more[] = {"--validity-days", "2", NULL};
	g_autoptr(JsonObject) status = NULL;
	g_autoptr(JsonObject) verdict = NULL;
	g_autofree gchar *out = NULL;
	JsonObject *problem;

	if (td == NULL)
		return;
	g_assert_cmpint(ck_test_request(td, "soon", "local", more), ==, 0);
	g_assert_cmpint(ck_test_health(td, FALSE, &out, NULL, NULL, NULL), ==, HEALTH_OK);
	g_clear_pointer(&out, g_free);

	/* its CA is now one that cannot be reached, and the renewal starts */
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "-i", "soon", "-c", "down", NULL),
	    ==, 0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "soon", "-w",
				    "--wait-timeout=30", NULL),
			==, 3);
	status = ck_test_request_json(td, "soon");
	g_assert_cmpstr(ck_test_json_string(status, "State"), ==, "CA_UNREACHABLE");
	g_assert_cmpint(json_object_get_int_member(status, "WorkingSince"), >, 0);
	/* its renewal threshold (a third of the lifetime) is still ahead: valid for the
	 * daemon, but a renewal that fails two days before expiry is a risk for health */
	g_assert_cmpstr(ck_test_json_string(status, "ExpiryStatus"), ==, "valid");

	g_assert_cmpint(ck_test_health(td, FALSE, &out, NULL, NULL, NULL), ==, HEALTH_EXPIRING);
	g_assert_nonnull(strstr(out, "soon: expiring: the certificate expires in "));
	g_assert_nonnull(strstr(out, "the renewal is failing (1 attempt)"));
	g_assert_nonnull(strstr(out, "connection refused"));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(ck_test_health(td, FALSE, &out, "--days", "1", NULL), ==, HEALTH_OK);
	g_assert_nonnull(strstr(out, "1 certificate checked: all is well."));
	g_clear_pointer(&out, g_free);
	/* ... unless it has been trying for longer than allowed */
	g_assert_cmpint(ck_test_health(td, FALSE, &out, "--days=1", "--stuck-after", "0s"), ==,
			HEALTH_STUCK);
	g_assert_nonnull(
	    strstr(out, "soon: stuck: CA_UNREACHABLE, working on a certificate since "));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(ck_test_health(td, FALSE, &out, "--json", "-d", "30"), ==, HEALTH_EXPIRING);
	verdict = ck_test_parse_object(out);
	g_assert_cmpint(json_object_get_int_member(verdict, "days"), ==, 30);
	problem = ck_test_only_problem(verdict);
	g_assert_cmpstr(json_object_get_string_member(problem, "id"), ==, "soon");
	g_assert_cmpstr(json_object_get_string_member(problem, "problem"), ==, "expiring");
	g_assert_cmpstr(json_object_get_string_member(problem, "state"), ==, "CA_UNREACHABLE");
	g_assert_cmpstr(json_object_get_string_member(problem, "ca"), ==, "down");
}

/* A request that needs guidance is stuck (6) at once, with the reason. */
static void
test_health_need_guidance(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_health_daemon();
	g_autoptr(JsonObject) verdict = NULL;
	g_autofree gchar *out = NULL;
	JsonObject *problem;

	if (td == NULL)
		return;
	g_assert_cmpint(ck_test_request(td, "fine", "local", NULL), ==, 0);
	g_assert_cmpint(ck_test_request(td, "gui", "misconfigured", NULL), ==, 4);
	g_assert_cmpint(ck_test_health(td, FALSE, &out, NULL, NULL, NULL), ==, HEALTH_STUCK);
	g_assert_nonnull(strstr(out, "gui: stuck: NEED_GUIDANCE: "));
	g_assert_nonnull(strstr(out, "no enrollment profile is configured"));
	/* one line per problem: the healthy request is not named */
	g_assert_null(strstr(out, "fine"));
	g_clear_pointer(&out, g_free);

	g_assert_cmpint(ck_test_health(td, TRUE, &out, "--json", NULL, NULL), ==, HEALTH_STUCK);
	verdict = ck_test_parse_object(out);
	g_assert_cmpint(json_object_get_int_member(verdict, "requests"), ==, 2);
	problem = ck_test_only_problem(verdict);
	g_assert_cmpstr(json_object_get_string_member(problem, "id"), ==, "gui");
	g_assert_cmpstr(json_object_get_string_member(problem, "problem"), ==, "stuck");
	g_assert_cmpstr(json_object_get_string_member(problem, "state"), ==, "NEED_GUIDANCE");
	g_assert_cmpstr(json_object_get_string_member(problem, "expiry-status"), ==, "none");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/health/healthy", test_health_healthy);
	g_test_add_func("/certkeeper/health/expired-watched", test_health_expired_watched);
	g_test_add_func("/certkeeper/health/failing-ca", test_health_failing_ca);
	g_test_add_func("/certkeeper/health/need-guidance", test_health_need_guidance);
	return g_test_run();
}
