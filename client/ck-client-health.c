/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ck-client-bus.h"
#include "ck-client-health.h"
#include "ck-client-output.h"

const gchar *
ck_health_kind_to_string(CkHealthKind kind)
{
	switch (kind) {
	case CK_HEALTH_STUCK:
		return "stuck";
	case CK_HEALTH_EXPIRING:
		return "expiring";
	case CK_HEALTH_EXPIRED:
		return "expired";
	}
	g_return_val_if_reached("stuck");
}

void
ck_health_problem_free(CkHealthProblem *problem)
{
	if (problem == NULL)
		return;
	g_free(problem->id);
	g_free(problem->message);
	g_free(problem);
}

static void
ck_health_add(GPtrArray *problems, JsonObject *obj, CkHealthKind kind, gchar *message)
{
	CkHealthProblem *problem = g_new0(CkHealthProblem, 1);
	problem->id = g_strdup(ck_json_string(obj, "Id"));
	problem->kind = kind;
	problem->message = message;
	g_ptr_array_add(problems, problem);
}

/* States in which certkeeperd waits for a human and does nothing by itself. */
static gboolean
ck_health_needs_human(JsonObject *obj)
{
	return ck_json_bool(obj, "Stuck") ||
	       g_strcmp0(ck_json_string(obj, "State"), "STOPPED") == 0;
}

/*
 * Why no renewal will succeed before @not_after, or NULL when one is planned
 * and nothing says it fails: a renewal that certkeeperd will not start, one that
 * waits for a human, one that is failing, or one planned too late.
 */
static gchar *
ck_health_renewal_blocker(JsonObject *obj, gint64 not_after)
{
	const gchar *state = ck_json_string(obj, "State");
	const gchar *last_error = ck_json_string(obj, "LastError");
	const gchar *waiting = ck_json_string(obj, "Waiting");
	gint64 renewal = ck_json_int(obj, "RenewalTime");
	guint failed = (guint)ck_json_int(obj, "FailedAttempts");

	if (ck_json_int(obj, "Revoked") > 0)
		return g_strdup(_("it was revoked and is not renewed by itself"));
	if (!ck_json_bool(obj, "AutoRenew"))
		return g_strdup(_("auto-renew is off"));
	if (ck_health_needs_human(obj))
		/* TRANSLATORS: a request state such as NEED_GUIDANCE, then why */
		return g_strdup_printf(_("%s: %s"), state,
				       last_error[0] != '\0' ? last_error
							     : _("it needs a change by hand"));
	if (waiting[0] != '\0')
		/* TRANSLATORS: why certkeeperd holds back, e.g. an untrusted clock */
		return g_strdup_printf(_("the renewal waits: %s"), waiting);
	if (failed > 0)
		/* TRANSLATORS: the number of failed attempts, then the last failure */
		return g_strdup_printf(
		    g_dngettext(GETTEXT_PACKAGE, "the renewal is failing (%u attempt): %s",
				"the renewal is failing (%u attempts): %s", failed),
		    failed, last_error[0] != '\0' ? last_error : state);
	if (g_strcmp0(state, "MONITORING") == 0 && (renewal <= 0 || renewal >= not_after))
		return g_strdup(_("no renewal is planned before it expires"));
	return NULL;
}

/* Needs a human, or has been working on a certificate for longer than allowed. */
static gchar *
ck_health_stuck(JsonObject *obj, gint64 now, const CkHealthOptions *options)
{
	const gchar *state = ck_json_string(obj, "State");
	const gchar *last_error = ck_json_string(obj, "LastError");
	gint64 since = ck_json_int(obj, "WorkingSince");

	if (ck_health_needs_human(obj))
		/* TRANSLATORS: a request state such as NEED_GUIDANCE, then why */
		return g_strdup_printf(_("%s: %s"), state,
				       last_error[0] != '\0' ? last_error
							     : _("it needs a change by hand"));
	if (g_strcmp0(state, "MONITORING") != 0 && since > 0 &&
	    now - since >= options->stuck_after) {
		g_autofree gchar *when = ck_client_format_time(since);
		if (last_error[0] != '\0')
			/* TRANSLATORS: a request state, a date and time, then the last failure */
			return g_strdup_printf(_("%s, working on a certificate since %s: %s"),
					       state, when, last_error);
		/* TRANSLATORS: a request state, then a date and time */
		return g_strdup_printf(_("%s, working on a certificate since %s"), state, when);
	}
	return NULL;
}

GPtrArray *
ck_health_check(GPtrArray *requests, gint64 now, const CkHealthOptions *options)
{
	GPtrArray *problems =
	    g_ptr_array_new_with_free_func((GDestroyNotify)ck_health_problem_free);

	g_return_val_if_fail(requests != NULL && options != NULL, problems);
	for (guint i = 0; i < requests->len; i++) {
		JsonObject *obj = g_ptr_array_index(requests, i);
		gint64 not_after = ck_json_int(obj, "NotAfter");
		g_autofree gchar *blocker = NULL;
		g_autofree gchar *when = NULL;
		gchar *stuck;

		/* the daemon's verdict on expiry counts; its clock is the one that renews */
		if (not_after > 0 &&
		    (g_strcmp0(ck_json_string(obj, "ExpiryStatus"), "expired") == 0 ||
		     not_after <= now)) {
			when = ck_client_format_time(not_after);
			blocker = ck_health_renewal_blocker(obj, not_after);
			ck_health_add(
			    problems, obj, CK_HEALTH_EXPIRED,
			    blocker != NULL
				/* TRANSLATORS: a date and time, then why it is not renewed */
				? g_strdup_printf(_("the certificate expired on %s; %s"), when,
						  blocker)
				/* TRANSLATORS: a date and time */
				: g_strdup_printf(_("the certificate expired on %s"), when));
			continue;
		}
		if (not_after > 0 && not_after - now <= options->horizon) {
			blocker = ck_health_renewal_blocker(obj, not_after);
			if (blocker != NULL) {
				gint days = (gint)((not_after - now) / 86400);
				when = ck_client_format_time(not_after);
				ck_health_add(
				    problems, obj, CK_HEALTH_EXPIRING,
				    g_strdup_printf(
					/* TRANSLATORS: the days left, a date and time, then why no
					 * renewal comes in time */
					g_dngettext(GETTEXT_PACKAGE,
						    "the certificate expires in %d day (%s); %s",
						    "the certificate expires in %d days (%s); %s",
						    (gulong)days),
					days, when, blocker));
				continue;
			}
		}
		stuck = ck_health_stuck(obj, now, options);
		if (stuck != NULL)
			ck_health_add(problems, obj, CK_HEALTH_STUCK, stuck);
	}
	return problems;
}
