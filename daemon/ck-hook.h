/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/*
 * Runs a hook command (certmonger's -B/-C): @command through /bin/sh -c, as
 * @user (NULL: root), with a scrubbed environment plus @env ("KEY=VALUE"
 * describing the event), at most @timeout_seconds; its output is logged under
 * @label. Succeeds when it exits 0; otherwise CK_ERROR_FAILED (or TIMED_OUT)
 * says how it ended and what it printed last.
 */
void
ck_hook_run_async(const gchar *label, const gchar *command, const gchar *user,
		  const gchar *const *env, guint timeout_seconds, GCancellable *cancellable,
		  GAsyncReadyCallback callback, gpointer user_data);
gboolean
ck_hook_run_finish(GAsyncResult *res, GError **error);

/*
 * Sends @signum to the process whose id @pid_file holds, as user @owner (the
 * request's owner) may: for a user other than root, the PID file must be the
 * user's and the process one of the user's own.
 */
gboolean
ck_hook_signal_pid_file(const gchar *pid_file, gint signum, uid_t owner, GError **error);

/* "HUP", "SIGHUP", "1" -> SIGHUP; -1 for anything else. */
gint
ck_hook_signal_from_string(const gchar *name);
/* "SIGHUP" for SIGHUP. */
const gchar *
ck_hook_signal_to_string(gint signum);

G_END_DECLS
