/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <syslog.h>

#include "ck-error.h"
#include "ck-log.h"

/* notice: GLib's "message", certkeeperd's default since before LogControl1 */
static gint ck_log_max_priority = LOG_NOTICE;
static CkLogTarget ck_log_target = CK_LOG_TARGET_AUTO;

static const gchar *const ck_log_priority_names[] = {
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
};

/* Fixed ids (systemd-id128 new): data/certkeeper.catalog explains each; never change them. */
static const struct {
	const gchar *name;
	const gchar *message_id;
} ck_log_lifecycle_events[CK_LOG_LIFECYCLE_N] = {
    [CK_LOG_LIFECYCLE_STARTED] = {"started", "f92c0453af2d454a8e998cc654574d4f"},
    [CK_LOG_LIFECYCLE_PROGRESS] = {"progress", "c0173ff6e9284d0e899ecafe7bd57d74"},
    [CK_LOG_LIFECYCLE_COMPLETED] = {"completed", "3bed3f57e8c643489d1b9cd52f430411"},
    [CK_LOG_LIFECYCLE_FAILED] = {"failed", "bc0c90b52b364ad8b8e4a6295d3253ec"},
};

gint
ck_log_get_max_priority(void)
{
	return ck_log_max_priority;
}

const gchar *
ck_log_get_level_name(void)
{
	return ck_log_priority_names[ck_log_max_priority];
}

gboolean
ck_log_set_level_name(const gchar *name, GError **error)
{
	gint priority = -1;

	if (g_strcmp0(name, "error") == 0)
		priority = LOG_ERR;
	else if (g_strcmp0(name, "message") == 0)
		priority = LOG_NOTICE;
	for (guint i = 0; priority < 0 && i < G_N_ELEMENTS(ck_log_priority_names); i++) {
		if (g_strcmp0(ck_log_priority_names[i], name) == 0)
			priority = (gint)i;
	}
	if (priority < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Unknown log level '%s': use error, warning, message, info or debug, "
			      "or a syslog level (emerg, alert, crit, err, warning, notice, info, "
			      "debug)"),
			    name != NULL ? name : "");
		return FALSE;
	}
	ck_log_max_priority = priority;
	return TRUE;
}

CkLogTarget
ck_log_get_target(void)
{
	return ck_log_target;
}

const gchar *
ck_log_get_target_name(void)
{
	static const gchar *const names[] = {"auto", "console", "journal", "null"};
	return names[ck_log_target];
}

gboolean
ck_log_set_target_name(const gchar *name, GError **error)
{
	static const gchar *const systemd_only[] = {
	    "console-prefixed", "kmsg", "journal-or-kmsg", "syslog", "syslog-or-kmsg", NULL};
	static const struct {
		const gchar *name;
		CkLogTarget target;
	} targets[] = {
	    {"auto", CK_LOG_TARGET_AUTO},
	    {"console", CK_LOG_TARGET_CONSOLE},
	    {"journal", CK_LOG_TARGET_JOURNAL},
	    {"null", CK_LOG_TARGET_NULL},
	};

	for (guint i = 0; i < G_N_ELEMENTS(targets); i++) {
		if (g_strcmp0(targets[i].name, name) == 0) {
			ck_log_target = targets[i].target;
			return TRUE;
		}
	}
	if (name != NULL && g_strv_contains(systemd_only, name)) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("certkeeperd cannot log to %s: use auto, console, journal or null"),
			    name);
		return FALSE;
	}
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    _("Unknown log target '%s': use auto, console, journal or null"),
		    name != NULL ? name : "");
	return FALSE;
}

gint
ck_log_priority_of(GLogLevelFlags level)
{
	if (level & G_LOG_LEVEL_ERROR)
		return LOG_CRIT;
	if (level & G_LOG_LEVEL_CRITICAL)
		return LOG_ERR;
	if (level & G_LOG_LEVEL_WARNING)
		return LOG_WARNING;
	if (level & G_LOG_LEVEL_MESSAGE)
		return LOG_NOTICE;
	if (level & G_LOG_LEVEL_INFO)
		return LOG_INFO;
	return LOG_DEBUG;
}

const gchar *
ck_log_lifecycle_message_id(CkLogLifecycle event)
{
	g_return_val_if_fail(event < CK_LOG_LIFECYCLE_N, NULL);
	return ck_log_lifecycle_events[event].message_id;
}

const gchar *
ck_log_lifecycle_to_string(CkLogLifecycle event)
{
	g_return_val_if_fail(event < CK_LOG_LIFECYCLE_N, NULL);
	return ck_log_lifecycle_events[event].name;
}

void
ck_log_lifecycle(CkLogLifecycle event, CkRequest *request, const gchar *step, const gchar *trace_id,
		 const gchar *detail)
{
	const gchar *serial = ck_request_get_serial(request);
	g_autofree gchar *message = NULL;
	GLogField fields[9];
	gsize n = 0;

	g_return_if_fail(event < CK_LOG_LIFECYCLE_N);
	/* the kind is in MESSAGE_ID; the text says which step, and why it failed */
	message = g_strdup_printf("request %s: %s%s%s", ck_request_get_id(request), step,
				  detail != NULL ? ": " : "", detail != NULL ? detail : "");
	fields[n++] = (GLogField){"MESSAGE", message, -1};
	fields[n++] = (GLogField){"MESSAGE_ID", ck_log_lifecycle_events[event].message_id, -1};
	fields[n++] = (GLogField){"GLIB_DOMAIN", G_LOG_DOMAIN, -1};
	fields[n++] = (GLogField){"CERTKEEPER_EVENT", ck_log_lifecycle_events[event].name, -1};
	fields[n++] = (GLogField){"CERTKEEPER_STEP", step, -1};
	fields[n++] = (GLogField){"CERTKEEPER_REQUEST_ID", ck_request_get_id(request), -1};
	fields[n++] = (GLogField){"CERTKEEPER_CA", ck_request_get_ca(request), -1};
	if (serial != NULL && serial[0] != '\0')
		fields[n++] = (GLogField){"CERTKEEPER_SERIAL", serial, -1};
	if (trace_id != NULL)
		fields[n++] = (GLogField){"CERTKEEPER_TRACE_ID", trace_id, -1};
	/* notice, also for failures: a retry is no warning, and a failure that needs a
	 * person has its warning already (ck_engine_fail()) */
	g_log_structured_array(G_LOG_LEVEL_MESSAGE, fields, n);
}
