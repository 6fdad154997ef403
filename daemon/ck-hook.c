/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-file-util.h"
#include "ck-hook.h"
#include "ck-subprocess.h"

/* A hook may print a little; more is a runaway. */
#define CK_HOOK_MAX_OUTPUT (256 * 1024)

typedef struct {
	gchar *label;
} CkHookRun;

static void
ck_hook_run_free(CkHookRun *run)
{
	g_free(run->label);
	g_free(run);
}

/* The last line a failed hook printed, which usually says why. */
static gchar *
ck_hook_last_line(CkSubprocessResult *result)
{
	g_autofree gchar *out = ck_subprocess_result_get_text(result);
	const gchar *text = result->err[0] != '\0' ? result->err : out;
	const gchar *nl = strrchr(text, '\n');
	return g_strdup(nl != NULL ? nl + 1 : text);
}

static void
ck_hook_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkHookRun *run = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkSubprocessResult) result = ck_subprocess_run_finish(res, &error);
	g_autofree gchar *last = NULL;

	if (result == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (result->exit_status == 0) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	last = ck_hook_last_line(result);
	if (result->exit_status < 0)
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					/* TRANSLATORS: the hook, the signal's name, its last words */
					_("%s was killed by %s: %s"), run->label,
					ck_hook_signal_to_string(result->term_signal), last);
	else
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					/* TRANSLATORS: the hook, its exit status, its last words */
					_("%s exited with status %d: %s"), run->label,
					result->exit_status, last);
}

void
ck_hook_run_async(const gchar *label, const gchar *command, const gchar *user,
		  const gchar *const *env, guint timeout_seconds, GCancellable *cancellable,
		  GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) envp = NULL;
	g_autofree gid_t *groups = NULL;
	g_autoptr(GError) error = NULL;
	CkSubprocessSpec spec = CK_SUBPROCESS_SPEC_INIT;
	const gchar *argv[] = {"/bin/sh", "-c", command, NULL};
	CkHookRun *run = g_new0(CkHookRun, 1);

	run->label = g_strdup(label);
	g_task_set_source_tag(task, ck_hook_run_async);
	g_task_set_task_data(task, run, (GDestroyNotify)ck_hook_run_free);
	if (user != NULL && !ck_subprocess_lookup_user(user, &spec.uid, &spec.gid, &groups,
						       &spec.n_groups, &error)) {
		g_prefix_error(&error, "%s: ", label);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	spec.groups = groups;
	g_strv_builder_add_many(builder,
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"LANG=C.UTF-8", NULL);
	g_strv_builder_addv(builder, (const char **)env);
	envp = g_strv_builder_end(builder);
	spec.argv = argv;
	spec.envp = (const gchar *const *)envp;
	spec.label = label;
	spec.timeout_seconds = timeout_seconds;
	spec.max_stdout = CK_HOOK_MAX_OUTPUT;
	spec.log_stdout = TRUE;
	ck_subprocess_run_async(&spec, cancellable, ck_hook_done_cb, g_steal_pointer(&task));
}

gboolean
ck_hook_run_finish(GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

/* Could user @owner signal process @pid itself? (the kernel's rule: its real or saved uid) */
static gboolean
ck_hook_process_is_of(pid_t pid, uid_t owner)
{
	g_autofree gchar *path = g_strdup_printf("/proc/%d/status", (int)pid);
	g_autofree gchar *status = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(path, &status, NULL, NULL))
		return FALSE;
	lines = g_strsplit(status, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		guint real, effective, saved;
		if (sscanf(lines[i], "Uid: %u %u %u", &real, &effective, &saved) == 3)
			return real == owner || saved == owner;
	}
	return FALSE;
}

/* Sends @signum to @pid as user @owner may: only to the owner's own processes. */
static int
ck_hook_kill_as(pid_t pid, gint signum, uid_t owner)
{
	int pidfd;
	int r;

	if (owner == 0)
		return kill(pid, signum);
	/* through a pidfd, so the process checked is the process signalled */
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return -1;
	if (!ck_hook_process_is_of(pid, owner)) {
		close(pidfd);
		errno = EPERM;
		return -1;
	}
	r = pidfd_send_signal(pidfd, signum, NULL, 0);
	close(pidfd);
	return r;
}

gboolean
ck_hook_signal_pid_file(const gchar *pid_file, gint signum, uid_t owner, GError **error)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local_error = NULL;
	guint64 pid = 0;

	if (!ck_file_get_owned_contents(pid_file, owner, &text, NULL, &local_error)) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    /* TRANSLATORS: the PID file, then the reason */
			    _("Cannot read the PID file %s: %s"), pid_file, local_error->message);
		return FALSE;
	}
	/* pid 1 and below are never the service we mean */
	if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, 2, G_MAXINT32, &pid, NULL)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The PID file %s holds no process id"), pid_file);
		return FALSE;
	}
	if (ck_hook_kill_as((pid_t)pid, signum, owner) < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    /* TRANSLATORS: signal, process id, PID file, then the reason */
			    _("Cannot send %s to process %u (from %s): %s"),
			    ck_hook_signal_to_string(signum), (guint)pid, pid_file, g_strerror(errno));
		return FALSE;
	}
	return TRUE;
}

static const struct {
	const gchar *name;
	gint signum;
} ck_hook_signals[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},	  {"QUIT", SIGQUIT}, {"USR1", SIGUSR1},
    {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"WINCH", SIGWINCH},
};

gint
ck_hook_signal_from_string(const gchar *name)
{
	guint64 number;
	if (name == NULL)
		return -1;
	if (g_ascii_strncasecmp(name, "SIG", 3) == 0)
		name += 3;
	for (guint i = 0; i < G_N_ELEMENTS(ck_hook_signals); i++) {
		if (g_ascii_strcasecmp(ck_hook_signals[i].name, name) == 0)
			return ck_hook_signals[i].signum;
	}
	if (g_ascii_string_to_unsigned(name, 10, 1, 64, &number, NULL))
		return (gint)number;
	return -1;
}

const gchar *
ck_hook_signal_to_string(gint signum)
{
	static const gchar *const names[] = {[SIGHUP] = "SIGHUP",   [SIGINT] = "SIGINT",
					     [SIGQUIT] = "SIGQUIT", [SIGKILL] = "SIGKILL",
					     [SIGUSR1] = "SIGUSR1", [SIGUSR2] = "SIGUSR2",
					     [SIGTERM] = "SIGTERM", [SIGCONT] = "SIGCONT",
					     [SIGSEGV] = "SIGSEGV", [SIGABRT] = "SIGABRT",
					     [SIGWINCH] = "SIGWINCH"};
	if (signum > 0 && (gsize)signum < G_N_ELEMENTS(names) && names[signum] != NULL)
		return names[signum];
	return "a signal";
}
