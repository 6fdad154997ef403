/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <sys/types.h>

G_BEGIN_DECLS

/*
 * One run of an external program (a CA helper, a hook, a check) with the limits
 * every such run gets: an environment given in full by the caller (nothing of the
 * daemon's leaks), stdin from /dev/null, a process group of its own so a timeout
 * kills its children too, a time limit, a cap on stdout, and stderr sent to the
 * log line by line under @label.
 */
typedef struct {
	const gchar *const *argv; /* argv[0] is an absolute path */
	const gchar *const *envp; /* the whole environment */
	const gchar *label;	  /* names the run in the log, e.g. "CA acme helper (SUBMIT)" */
	guint timeout_seconds;	  /* at least 1 */
	gsize max_stdout;	  /* more than this fails the run */
	gboolean log_stdout;	  /* log stdout too (hooks); otherwise it is only returned */
	/* run as this user, with these groups; (uid_t)-1: as the daemon */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	gsize n_groups;
} CkSubprocessSpec;

#define CK_SUBPROCESS_SPEC_INIT {.uid = (uid_t)-1, .gid = (gid_t)-1}

typedef struct {
	gint exit_status; /* the exit code; -1 when a signal ended it */
	gint term_signal; /* that signal, else 0 */
	GBytes *out;	  /* stdout */
	gchar *err;	  /* stderr as text, at most 64 KiB, surrounding white space removed */
} CkSubprocessResult;

void
ck_subprocess_result_free(CkSubprocessResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkSubprocessResult, ck_subprocess_result_free)

/* stdout as valid UTF-8 text without surrounding white space. */
gchar *
ck_subprocess_result_get_text(CkSubprocessResult *result);

/*
 * Runs @spec. Completes once the program has exited and its pipes are drained.
 * Errors: CK_ERROR_NOT_FOUND (cannot be started), CK_ERROR_TIMED_OUT (killed at
 * the time limit), CK_ERROR_FAILED (printed more than max_stdout), and
 * G_IO_ERROR_CANCELLED (@cancellable fired; the program is killed).
 */
void
ck_subprocess_run_async(const CkSubprocessSpec *spec, GCancellable *cancellable,
			GAsyncReadyCallback callback, gpointer user_data);
CkSubprocessResult *
ck_subprocess_run_finish(GAsyncResult *res, GError **error);

/*
 * Looks up @user (a name or a number) for running a program as it: its uid, its
 * primary group and its supplementary groups (g_free() *groups_out).
 * CK_ERROR_INVALID_ARGUMENT names an unknown user.
 */
gboolean
ck_subprocess_lookup_user(const gchar *user, uid_t *uid_out, gid_t *gid_out, gid_t **groups_out,
			  gsize *n_groups_out, GError **error);

G_END_DECLS
