/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "ck-request.h"

G_BEGIN_DECLS

/*
 * certkeeperd's logging: the level and target that org.freedesktop.LogControl1,
 * --log-level, --log-target and LogLevel= set, and the structured journal
 * entries of the lifecycle (seed 001 FR-030), each with a MESSAGE_ID of
 * data/certkeeper.catalog and the fields CERTKEEPER_EVENT,
 * CERTKEEPER_REQUEST_ID, CERTKEEPER_CA, CERTKEEPER_SERIAL and CERTKEEPER_TRACE_ID.
 */

/* Where messages go (LogControl1's LogTarget). */
typedef enum {
	CK_LOG_TARGET_AUTO,    /* the journal when stderr is connected to it, else the console */
	CK_LOG_TARGET_CONSOLE, /* stderr, plain text */
	CK_LOG_TARGET_JOURNAL, /* the journal's native protocol, with every field */
	CK_LOG_TARGET_NULL,    /* nowhere */
} CkLogTarget;

/* The lifecycle events of the journal, one MESSAGE_ID each. */
typedef enum {
	CK_LOG_LIFECYCLE_STARTED,
	CK_LOG_LIFECYCLE_PROGRESS,
	CK_LOG_LIFECYCLE_COMPLETED,
	CK_LOG_LIFECYCLE_FAILED,
	CK_LOG_LIFECYCLE_N
} CkLogLifecycle;

/* The syslog priority (0 emerg .. 7 debug) up to which messages are shown. */
gint ck_log_get_max_priority(void);
/* The syslog name of the level: "emerg", ..., "notice", "info", "debug". */
const gchar *ck_log_get_level_name(void);
/*
 * Sets the level from a syslog name (emerg, alert, crit, err, warning, notice,
 * info, debug) or one of certkeeperd's own (error, message: err and notice).
 * CK_ERROR_INVALID_ARGUMENT names the levels there are.
 */
gboolean ck_log_set_level_name(const gchar *name, GError **error);

CkLogTarget ck_log_get_target(void);
/* "auto", "console", "journal" or "null". */
const gchar *ck_log_get_target_name(void);
/* CK_ERROR_UNSUPPORTED for the targets of systemd that certkeeperd has not (kmsg,
 * syslog, ...), CK_ERROR_INVALID_ARGUMENT for names that are no target at all. */
gboolean ck_log_set_target_name(const gchar *name, GError **error);

/* The syslog priority of a GLib level (G_LOG_LEVEL_MESSAGE is notice). */
gint ck_log_priority_of(GLogLevelFlags level);

/* The MESSAGE_ID of @event: 32 hex digits. */
const gchar *ck_log_lifecycle_message_id(CkLogLifecycle event);
/* "started", "progress", "completed", "failed". */
const gchar *ck_log_lifecycle_to_string(CkLogLifecycle event);

/*
 * Logs a lifecycle event of @request as a structured entry: @step names what
 * happened (CERTKEEPER_STEP: an audit event type such as "key_generated"),
 * @trace_id the renewal attempt (may be NULL), @detail a reason or NULL.
 * All are notices (G_LOG_LEVEL_MESSAGE): the default level shows them.
 */
void ck_log_lifecycle(CkLogLifecycle event, CkRequest *request, const gchar *step,
		      const gchar *trace_id, const gchar *detail);

G_END_DECLS
