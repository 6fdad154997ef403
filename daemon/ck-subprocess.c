/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-subprocess.h"

/* Enough stderr to explain a failure; the rest of a chatty program is dropped. */
#define CK_SUBPROCESS_MAX_STDERR (64 * 1024)
#define CK_SUBPROCESS_READ_CHUNK 8192

typedef struct {
	gchar *label;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	gsize n_groups;
	gboolean log_stdout;
	guint timeout_seconds;
	GSubprocess *process;
	pid_t pid;
	GByteArray *out;
	GByteArray *err;
	gsize max_stdout;
	GCancellable *io_cancellable; /* stops the reads on timeout, overflow or cancel */
	GCancellable *caller_cancellable;
	gulong cancel_id;
	guint timeout_id;
	guint pending; /* stdout, stderr and the exit still to come */
	gboolean timed_out;
	gboolean overflowed;
	gint exit_status;
	gint term_signal;
} CkSubprocessRun;

static void
ck_subprocess_run_free(CkSubprocessRun *run)
{
	g_clear_handle_id(&run->timeout_id, g_source_remove);
	if (run->caller_cancellable != NULL)
		g_cancellable_disconnect(run->caller_cancellable, run->cancel_id);
	g_clear_object(&run->caller_cancellable);
	g_clear_object(&run->io_cancellable);
	g_clear_object(&run->process);
	g_byte_array_unref(run->out);
	g_byte_array_unref(run->err);
	g_free(run->groups);
	g_free(run->label);
	g_free(run);
}

void
ck_subprocess_result_free(CkSubprocessResult *result)
{
	if (result == NULL)
		return;
	g_bytes_unref(result->out);
	g_free(result->err);
	g_free(result);
}

static gchar *
ck_subprocess_text(const guint8 *data, gsize len)
{
	gchar *text;
	if (len == 0)
		return g_strdup("");
	text = g_utf8_make_valid((const gchar *)data, (gssize)len);
	return g_strstrip(text);
}

gchar *
ck_subprocess_result_get_text(CkSubprocessResult *result)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(result->out, &len);
	return ck_subprocess_text(data, len);
}

/*
 * Runs in the child between fork and exec, so only async-signal-safe calls: a
 * process group of its own (a timeout kills the whole group), then the user.
 */
static void
ck_subprocess_child_setup(gpointer user_data)
{
	CkSubprocessRun *run = user_data;

	setpgid(0, 0);
	if (run->uid == (uid_t)-1)
		return;
	/* groups before the gid and the gid before the uid: afterwards we may not */
	if (setgroups(run->n_groups, run->groups) < 0 || setgid(run->gid) < 0 ||
	    setuid(run->uid) < 0)
		_exit(126);
}

static void
ck_subprocess_kill(CkSubprocessRun *run)
{
	if (run->pid > 0)
		kill(-run->pid, SIGKILL);
	g_cancellable_cancel(run->io_cancellable);
}

static void
ck_subprocess_log_lines(const gchar *label, const gchar *text)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (lines[i][0] != '\0')
			g_message("%s: %s", label, lines[i]);
	}
}

static void
ck_subprocess_complete(GTask *task)
{
	CkSubprocessRun *run = g_task_get_task_data(task);
	CkSubprocessResult *result;

	if (--run->pending > 0)
		return;
	g_clear_handle_id(&run->timeout_id, g_source_remove);
	result = g_new0(CkSubprocessResult, 1);
	result->exit_status = run->exit_status;
	result->term_signal = run->term_signal;
	result->out = g_bytes_new(run->out->data, run->out->len);
	result->err = ck_subprocess_text(run->err->data, run->err->len);
	ck_subprocess_log_lines(run->label, result->err);
	if (run->log_stdout) {
		g_autofree gchar *text = ck_subprocess_result_get_text(result);
		ck_subprocess_log_lines(run->label, text);
	}
	if (g_task_return_error_if_cancelled(task)) {
		ck_subprocess_result_free(result);
		return;
	}
	if (run->timed_out) {
		ck_subprocess_result_free(result);
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_TIMED_OUT,
					/* TRANSLATORS: what ran, then seconds */
					_("%s did not finish within %u s"), run->label,
					run->timeout_seconds);
		return;
	}
	if (run->overflowed) {
		ck_subprocess_result_free(result);
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					_("%s printed more than %lu bytes; its answer was "
					  "discarded"),
					run->label, (unsigned long)run->max_stdout);
		return;
	}
	g_task_return_pointer(task, result, (GDestroyNotify)ck_subprocess_result_free);
}

static void ck_subprocess_read(GTask *task, GInputStream *stream);

static void
ck_subprocess_read_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkSubprocessRun *run = g_task_get_task_data(task);
	GInputStream *stream = G_INPUT_STREAM(source);
	gboolean is_stdout = stream == g_subprocess_get_stdout_pipe(run->process);
	GByteArray *buf = is_stdout ? run->out : run->err;
	gsize limit = is_stdout ? run->max_stdout : CK_SUBPROCESS_MAX_STDERR;
	g_autoptr(GBytes) chunk = g_input_stream_read_bytes_finish(stream, res, NULL);
	gsize len = 0;
	const guint8 *data;

	if (chunk == NULL || g_bytes_get_size(chunk) == 0) {
		/* EOF, or the reads were stopped: either way this stream is done */
		ck_subprocess_complete(task);
		return;
	}
	data = g_bytes_get_data(chunk, &len);
	if (buf->len + len > limit) {
		if (is_stdout) {
			run->overflowed = TRUE;
			ck_subprocess_kill(run);
			ck_subprocess_complete(task);
			return;
		}
		/* stderr: keep the beginning, drain the rest */
		len = limit > buf->len ? limit - buf->len : 0;
	}
	g_byte_array_append(buf, data, (guint)len);
	ck_subprocess_read(task, stream);
}

static void
ck_subprocess_read(GTask *task, GInputStream *stream)
{
	CkSubprocessRun *run = g_task_get_task_data(task);
	g_input_stream_read_bytes_async(stream, CK_SUBPROCESS_READ_CHUNK, G_PRIORITY_DEFAULT,
					run->io_cancellable, ck_subprocess_read_cb,
					g_object_ref(task));
}

static void
ck_subprocess_wait_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkSubprocessRun *run = g_task_get_task_data(task);
	GSubprocess *process = G_SUBPROCESS(source);

	/* never cancelled: the child is always reaped */
	g_subprocess_wait_finish(process, res, NULL);
	if (g_subprocess_get_if_exited(process)) {
		run->exit_status = g_subprocess_get_exit_status(process);
	} else {
		run->exit_status = -1;
		run->term_signal = g_subprocess_get_if_signaled(process)
				       ? g_subprocess_get_term_sig(process)
				       : 0;
	}
	ck_subprocess_complete(task);
}

static gboolean
ck_subprocess_timeout_cb(gpointer user_data)
{
	CkSubprocessRun *run = user_data;
	run->timeout_id = 0;
	run->timed_out = TRUE;
	ck_subprocess_kill(run);
	return G_SOURCE_REMOVE;
}

static void
ck_subprocess_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	ck_subprocess_kill(user_data);
}

void
ck_subprocess_run_async(const CkSubprocessSpec *spec, GCancellable *cancellable,
			GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	g_autoptr(GSubprocessLauncher) launcher =
	    g_subprocess_launcher_new(G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GError) error = NULL;
	CkSubprocessRun *run = g_new0(CkSubprocessRun, 1);
	const gchar *identifier;

	g_return_if_fail(spec->argv != NULL && spec->argv[0] != NULL);
	run->label = g_strdup(spec->label != NULL ? spec->label : spec->argv[0]);
	run->uid = spec->uid;
	run->gid = spec->gid;
	run->groups = g_memdup2(spec->groups, spec->n_groups * sizeof(gid_t));
	run->n_groups = spec->n_groups;
	run->log_stdout = spec->log_stdout;
	run->timeout_seconds = MAX(spec->timeout_seconds, 1);
	run->out = g_byte_array_new();
	run->err = g_byte_array_new();
	run->max_stdout = spec->max_stdout;
	run->io_cancellable = g_cancellable_new();
	run->pending = 3;
	g_task_set_source_tag(task, ck_subprocess_run_async);
	g_task_set_task_data(task, run, (GDestroyNotify)ck_subprocess_run_free);

	/* never the daemon's own stdin: a helper that reads it must see EOF, not a terminal */
	g_subprocess_launcher_set_stdin_file_path(launcher, "/dev/null");
	g_subprocess_launcher_set_environ(launcher, (gchar **)spec->envp);
	g_subprocess_launcher_set_cwd(launcher, "/");
	g_subprocess_launcher_set_child_setup(launcher, ck_subprocess_child_setup, run, NULL);
	run->process = g_subprocess_launcher_spawnv(launcher, spec->argv, &error);
	if (run->process == NULL) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_NOT_FOUND,
					/* TRANSLATORS: what should have run, then the reason */
					_("Cannot run %s: %s"), run->label, error->message);
		return;
	}
	identifier = g_subprocess_get_identifier(run->process);
	run->pid = identifier != NULL ? (pid_t)g_ascii_strtoll(identifier, NULL, 10) : 0;
	g_debug("%s: started %s (pid %d)", run->label, spec->argv[0], (int)run->pid);

	run->timeout_id = g_timeout_add_seconds(run->timeout_seconds, ck_subprocess_timeout_cb, run);
	if (cancellable != NULL) {
		run->caller_cancellable = g_object_ref(cancellable);
		run->cancel_id = g_cancellable_connect(cancellable,
						       G_CALLBACK(ck_subprocess_cancelled_cb), run, NULL);
	}
	ck_subprocess_read(task, g_subprocess_get_stdout_pipe(run->process));
	ck_subprocess_read(task, g_subprocess_get_stderr_pipe(run->process));
	g_subprocess_wait_async(run->process, NULL, ck_subprocess_wait_cb, g_object_ref(task));
}

CkSubprocessResult *
ck_subprocess_run_finish(GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, NULL), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

gboolean
ck_subprocess_lookup_user(const gchar *user, uid_t *uid_out, gid_t *gid_out, gid_t **groups_out,
			  gsize *n_groups_out, GError **error)
{
	struct passwd *pw = NULL;
	guint64 number;
	int n = 16;
	g_autofree gid_t *groups = NULL;

	if (user == NULL || user[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("No user given to run the command as"));
		return FALSE;
	}
	if (g_ascii_string_to_unsigned(user, 10, 0, G_MAXUINT32 - 1, &number, NULL))
		pw = getpwuid((uid_t)number);
	else
		pw = getpwnam(user);
	if (pw == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Unknown user '%s' to run the command as"), user);
		return FALSE;
	}
	groups = g_new(gid_t, n);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) {
		/* too small: n now holds the size needed */
		g_free(groups);
		groups = g_new(gid_t, n);
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
			n = 0;
	}
	*uid_out = pw->pw_uid;
	*gid_out = pw->pw_gid;
	*n_groups_out = (gsize)MAX(n, 0);
	*groups_out = g_steal_pointer(&groups);
	return TRUE;
}
