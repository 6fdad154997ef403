/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The rules of `certkeeper health` on requests as certkeeperd publishes them:
 * each rule, the horizon of --days, --stuck-after, and the most severe problem
 * of a request winning.
 */
#include "config.h"

#include <string.h>

#include "ck-client-health.h"

#define DAY 86400
#define NOW ((gint64)1800000000)

/* A healthy request: issued, monitored, renewed well before it expires. */
static JsonObject *
ck_test_request(const gchar *id, gint64 not_after)
{
	JsonObject *obj = json_object_new();
	json_object_set_string_member(obj, "Id", id);
	json_object_set_string_member(obj, "State", "MONITORING");
	json_object_set_boolean_member(obj, "Stuck", FALSE);
	json_object_set_boolean_member(obj, "AutoRenew", TRUE);
	json_object_set_int_member(obj, "NotAfter", not_after);
	json_object_set_int_member(obj, "RenewalTime", not_after - 30 * DAY);
	json_object_set_string_member(obj, "ExpiryStatus",
				      not_after == 0                ? "none"
				      : not_after <= NOW            ? "expired"
				      : not_after - 30 * DAY <= NOW ? "expiring"
								    : "valid");
	json_object_set_string_member(obj, "LastError", "");
	json_object_set_string_member(obj, "Waiting", "");
	json_object_set_int_member(obj, "FailedAttempts", 0);
	json_object_set_int_member(obj, "WorkingSince", 0);
	json_object_set_int_member(obj, "Revoked", 0);
	return obj;
}

/* The problems of @obj alone. */
static GPtrArray *
ck_test_check(JsonObject *obj, gint64 days, gint64 stuck_after)
{
	g_autoptr(GPtrArray) requests = g_ptr_array_new();
	CkHealthOptions options = {.horizon = days * DAY, .stuck_after = stuck_after};

	g_ptr_array_add(requests, obj);
	return ck_health_check(requests, NOW, &options);
}

static CkHealthProblem *
ck_test_one(GPtrArray *problems, CkHealthKind kind, const gchar *part)
{
	CkHealthProblem *problem;

	g_assert_cmpuint(problems->len, ==, 1);
	problem = g_ptr_array_index(problems, 0);
	g_assert_cmpint(problem->kind, ==, kind);
	if (part != NULL && strstr(problem->message, part) == NULL)
		g_error("'%s' does not say '%s'", problem->message, part);
	return problem;
}

static void
test_health_healthy(void)
{
	g_autoptr(JsonObject) far = ck_test_request("far", NOW + 200 * DAY);
	/* inside the horizon, but its renewal is planned and nothing fails */
	g_autoptr(JsonObject) near = ck_test_request("near", NOW + 5 * DAY);
	/* no certificate yet, working on one for an hour */
	g_autoptr(JsonObject) fresh = ck_test_request("fresh", 0);
	g_autoptr(GPtrArray) requests = g_ptr_array_new();
	g_autoptr(GPtrArray) problems = NULL;
	CkHealthOptions options = {.horizon = 14 * DAY, .stuck_after = DAY};

	json_object_set_int_member(near, "RenewalTime", NOW - 60);
	json_object_set_string_member(fresh, "State", "SUBMITTING");
	json_object_set_int_member(fresh, "WorkingSince", NOW - 3600);
	g_ptr_array_add(requests, far);
	g_ptr_array_add(requests, near);
	g_ptr_array_add(requests, fresh);
	problems = ck_health_check(requests, NOW, &options);
	g_assert_cmpuint(problems->len, ==, 0);
	g_assert_cmpstr(ck_health_kind_to_string(CK_HEALTH_STUCK), ==, "stuck");
	g_assert_cmpstr(ck_health_kind_to_string(CK_HEALTH_EXPIRING), ==, "expiring");
	g_assert_cmpstr(ck_health_kind_to_string(CK_HEALTH_EXPIRED), ==, "expired");
}

static void
test_health_expired(void)
{
	g_autoptr(JsonObject) obj = ck_test_request("old", NOW - DAY);
	g_autoptr(GPtrArray) problems = NULL;
	CkHealthProblem *problem;

	json_object_set_boolean_member(obj, "AutoRenew", FALSE);
	problems = ck_test_check(obj, 14, DAY);
	problem = ck_test_one(problems, CK_HEALTH_EXPIRED, "the certificate expired on ");
	g_assert_cmpstr(problem->id, ==, "old");
	g_assert_nonnull(strstr(problem->message, "auto-renew is off"));
	g_clear_pointer(&problems, g_ptr_array_unref);

	/* the daemon's clock says so even if ours lags behind */
	json_object_set_int_member(obj, "NotAfter", NOW + 60);
	json_object_set_string_member(obj, "ExpiryStatus", "expired");
	problems = ck_test_check(obj, 0, DAY);
	ck_test_one(problems, CK_HEALTH_EXPIRED, NULL);
}

/* Each reason why no renewal will come in time. */
static void
test_health_expiring(void)
{
	struct {
		const gchar *member;
		const gchar *text; /* a string member set to this, or NULL */
		gint64 number;     /* else this number (or boolean) */
		const gchar *says;
	} cases[] = {
	    {"AutoRenew", NULL, FALSE, "auto-renew is off"},
	    {"Revoked", NULL, NOW - DAY, "revoked"},
	    {"FailedAttempts", NULL, 3, "the renewal is failing (3 attempts)"},
	    {"Waiting", "the clock is behind", 0, "the renewal waits: the clock is behind"},
	    {"RenewalTime", NULL, NOW + 6 * DAY, "no renewal is planned before it expires"},
	    {"RenewalTime", NULL, 0, "no renewal is planned before it expires"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(JsonObject) obj = ck_test_request("soon", NOW + 5 * DAY);
		g_autoptr(GPtrArray) problems = NULL;

		if (cases[i].text != NULL)
			json_object_set_string_member(obj, cases[i].member, cases[i].text);
		else if (g_str_equal(cases[i].member, "AutoRenew"))
			json_object_set_boolean_member(obj, cases[i].member, cases[i].number != 0);
		else
			json_object_set_int_member(obj, cases[i].member, cases[i].number);
		problems = ck_test_check(obj, 14, DAY);
		ck_test_one(problems, CK_HEALTH_EXPIRING, cases[i].says);
		g_assert_nonnull(
		    strstr(((CkHealthProblem *)g_ptr_array_index(problems, 0))->message,
			   "expires in 5 days"));
		g_clear_pointer(&problems, g_ptr_array_unref);

		/* --days decides: beyond the horizon the same request is fine */
		problems = ck_test_check(obj, 4, DAY);
		g_assert_cmpuint(problems->len, ==, 0);
	}
}

/* A failing CA: at risk near expiry; far from it, only once it has failed for long. */
static void
test_health_failing_ca(void)
{
	g_autoptr(JsonObject) obj = ck_test_request("down", NOW + 3 * DAY);
	g_autoptr(GPtrArray) problems = NULL;

	json_object_set_string_member(obj, "State", "CA_UNREACHABLE");
	json_object_set_string_member(obj, "LastError", "connection refused");
	json_object_set_int_member(obj, "FailedAttempts", 2);
	json_object_set_int_member(obj, "WorkingSince", NOW - 2 * 3600);
	problems = ck_test_check(obj, 14, DAY);
	ck_test_one(problems, CK_HEALTH_EXPIRING, "connection refused");
	g_clear_pointer(&problems, g_ptr_array_unref);

	problems = ck_test_check(obj, 1, DAY);
	g_assert_cmpuint(problems->len, ==, 0);
	g_clear_pointer(&problems, g_ptr_array_unref);

	/* --stuck-after 1h: two hours of trying is stuck */
	problems = ck_test_check(obj, 1, 3600);
	ck_test_one(problems, CK_HEALTH_STUCK, "CA_UNREACHABLE, working on a certificate since ");
	g_assert_nonnull(strstr(((CkHealthProblem *)g_ptr_array_index(problems, 0))->message,
				"connection refused"));
}

static void
test_health_stuck(void)
{
	g_autoptr(JsonObject) guidance = ck_test_request("gui", 0);
	g_autoptr(JsonObject) stopped = ck_test_request("stop", NOW + 100 * DAY);
	g_autoptr(GPtrArray) problems = NULL;

	/* needs a human: at once, whatever --stuck-after says */
	json_object_set_string_member(guidance, "State", "NEED_GUIDANCE");
	json_object_set_boolean_member(guidance, "Stuck", TRUE);
	json_object_set_string_member(guidance, "LastError", "no enrollment profile");
	json_object_set_int_member(guidance, "WorkingSince", NOW - 10);
	problems = ck_test_check(guidance, 14, 365 * DAY);
	ck_test_one(problems, CK_HEALTH_STUCK, "NEED_GUIDANCE: no enrollment profile");
	g_clear_pointer(&problems, g_ptr_array_unref);

	json_object_set_string_member(stopped, "State", "STOPPED");
	problems = ck_test_check(stopped, 14, DAY);
	ck_test_one(problems, CK_HEALTH_STUCK, "STOPPED: ");
	g_clear_pointer(&problems, g_ptr_array_unref);

	/* a CA that never answers a polled request */
	json_object_set_string_member(stopped, "State", "CA_WORKING");
	json_object_set_int_member(stopped, "WorkingSince", NOW - 3 * DAY);
	problems = ck_test_check(stopped, 14, DAY);
	ck_test_one(problems, CK_HEALTH_STUCK, "CA_WORKING, working on a certificate since ");
	g_clear_pointer(&problems, g_ptr_array_unref);
	problems = ck_test_check(stopped, 14, 4 * DAY);
	g_assert_cmpuint(problems->len, ==, 0);
}

/* One line per request: its worst problem, in the order given. */
static void
test_health_worst_per_request(void)
{
	g_autoptr(JsonObject) a = ck_test_request("a", NOW - DAY);
	g_autoptr(JsonObject) b = ck_test_request("b", NOW + 2 * DAY);
	g_autoptr(GPtrArray) requests = g_ptr_array_new();
	g_autoptr(GPtrArray) problems = NULL;
	CkHealthOptions options = {.horizon = 14 * DAY, .stuck_after = DAY};

	/* expired and stuck: expired says it all, with the reason */
	json_object_set_string_member(a, "State", "CA_REJECTED");
	json_object_set_boolean_member(a, "Stuck", TRUE);
	json_object_set_string_member(a, "LastError", "policy forbids it");
	/* expiring and stuck: expiring */
	json_object_set_string_member(b, "State", "NEED_GUIDANCE");
	json_object_set_boolean_member(b, "Stuck", TRUE);
	g_ptr_array_add(requests, a);
	g_ptr_array_add(requests, b);
	problems = ck_health_check(requests, NOW, &options);
	g_assert_cmpuint(problems->len, ==, 2);
	g_assert_cmpstr(((CkHealthProblem *)g_ptr_array_index(problems, 0))->id, ==, "a");
	g_assert_cmpint(((CkHealthProblem *)g_ptr_array_index(problems, 0))->kind, ==,
			CK_HEALTH_EXPIRED);
	g_assert_nonnull(strstr(((CkHealthProblem *)g_ptr_array_index(problems, 0))->message,
				"CA_REJECTED: policy forbids it"));
	g_assert_cmpstr(((CkHealthProblem *)g_ptr_array_index(problems, 1))->id, ==, "b");
	g_assert_cmpint(((CkHealthProblem *)g_ptr_array_index(problems, 1))->kind, ==,
			CK_HEALTH_EXPIRING);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/client-health/healthy", test_health_healthy);
	g_test_add_func("/certkeeper/client-health/expired", test_health_expired);
	g_test_add_func("/certkeeper/client-health/expiring", test_health_expiring);
	g_test_add_func("/certkeeper/client-health/failing-ca", test_health_failing_ca);
	g_test_add_func("/certkeeper/client-health/stuck", test_health_stuck);
	g_test_add_func("/certkeeper/client-health/worst-per-request",
			test_health_worst_per_request);
	return g_test_run();
}
