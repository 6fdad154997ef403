/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

static const gchar *
ck_test_builddir(void)
{
	const gchar *dir = g_getenv("CK_TOP_BUILDDIR");
	g_assert_nonnull(dir);
	return dir;
}

static const gchar *
ck_test_srcdir(void)
{
	const gchar *dir = g_getenv("CK_TOP_SRCDIR");
	g_assert_nonnull(dir);
	return dir;
}

/*
 * Debian's system.conf with our socket, without pidfile, user switch and the
 * system-wide policy directories; the project's policy directory instead.
 */
static gchar *
ck_test_bus_config(const gchar *socket_path, const gchar *policy_dir)
{
	g_autofree gchar *system_conf = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GRegex) drop = NULL;
	g_autoptr(GRegex) listen = NULL;
	g_autofree gchar *without = NULL;
	g_autofree gchar *listen_line = NULL;
	g_autofree gchar *with_listen = NULL;
	const gchar *end;

	g_file_get_contents("/usr/share/dbus-1/system.conf", &system_conf, NULL, &error);
	g_assert_no_error(error);
	drop = g_regex_new("^\\s*(<pidfile>.*</pidfile>|<user>.*</user>|<includedir>.*</includedir>|"
			   "<include .*</include>|<servicehelper>.*</servicehelper>|"
			   "<standard_system_servicedirs\\s*/>|<syslog\\s*/>)\\s*$",
			   G_REGEX_MULTILINE, 0, &error);
	g_assert_no_error(error);
	without = g_regex_replace_literal(drop, system_conf, -1, 0, "", 0, &error);
	g_assert_no_error(error);
	listen = g_regex_new("<listen>.*</listen>", 0, 0, &error);
	g_assert_no_error(error);
	listen_line = g_strdup_printf("<listen>unix:path=%s</listen>", socket_path);
	with_listen = g_regex_replace_literal(listen, without, -1, 0, listen_line, 0, &error);
	g_assert_no_error(error);
	end = strstr(with_listen, "</busconfig>");
	g_assert_nonnull(end);
	return g_strdup_printf("%.*s  <includedir>%s</includedir>\n</busconfig>\n",
			       (int)(end - with_listen), with_listen, policy_dir);
}

/*
 * A bus or daemon must not outlive a test that crashed: it would keep the test's
 * output pipes open, and meson would wait for them until its timeout.
 */
static void
ck_test_child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
ck_test_write(const gchar *path, const gchar *contents)
{
	g_autoptr(GError) error = NULL;
	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
}

static void
ck_test_start_bus(CkTestDaemon *td, CkTestBusPolicy policy)
{
	g_autofree gchar *policy_dir = g_build_filename(td->dir, "policy", NULL);
	g_autofree gchar *socket_path = g_build_filename(td->dir, "bus.sock", NULL);
	g_autofree gchar *config_path = g_build_filename(td->dir, "bus.conf", NULL);
	g_autofree gchar *project_policy =
	    g_build_filename(ck_test_srcdir(), "units", "org.certkeeper.Certkeeper1.conf", NULL);
	g_autofree gchar *policy_text = NULL;
	g_autofree gchar *policy_copy = NULL;
	g_autofree gchar *config = NULL;
	g_autofree gchar *config_arg = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GIOChannel) channel = NULL;
	const gchar *argv[] = {"dbus-daemon", NULL, "--nofork", "--print-address=1", NULL};
	gint out_fd = -1;
	gsize len = 0;

	g_assert_cmpint(g_mkdir(policy_dir, 0755), ==, 0);
	g_file_get_contents(project_policy, &policy_text, NULL, &error);
	g_assert_no_error(error);
	policy_copy = g_build_filename(policy_dir, "org.certkeeper.Certkeeper1.conf", NULL);
	ck_test_write(policy_copy, policy_text);
	if (policy == CK_TEST_BUS_POLICY_PERMISSIVE) {
		g_autofree gchar *open_policy =
		    g_build_filename(policy_dir, "zz-test-permissive.conf", NULL);
		ck_test_write(open_policy,
			      "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus "
			      "Configuration 1.0//EN\"\n"
			      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
			      "<busconfig><policy context=\"mandatory\">"
			      "<allow send_destination=\"org.certkeeper.Certkeeper1\"/>"
			      "</policy></busconfig>\n");
	}
	config = ck_test_bus_config(socket_path, policy_dir);
	ck_test_write(config_path, config);
	config_arg = g_strdup_printf("--config-file=%s", config_path);
	argv[1] = config_arg;
	g_spawn_async_with_pipes(NULL, (gchar **)argv, NULL,
				 G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
				     G_SPAWN_STDERR_TO_DEV_NULL,
				 ck_test_child_setup, NULL, &td->bus_pid, NULL, &out_fd, NULL, &error);
	g_assert_no_error(error);
	channel = g_io_channel_unix_new(out_fd);
	g_io_channel_set_close_on_unref(channel, TRUE);
	g_io_channel_read_line(channel, &td->bus_address, &len, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(td->bus_address);
	g_strchomp(td->bus_address);
	g_assert_true(g_str_has_prefix(td->bus_address, "unix:"));
}

CkTestDaemon *
ck_test_daemon_new(CkTestBusPolicy policy)
{
	CkTestDaemon *td;
	struct sockaddr_un addr = {.sun_family = AF_UNIX};

	if (geteuid() != 0) {
		g_test_skip("needs root: the bus policy lets only root own the daemon's name");
		return NULL;
	}
	if (!ck_test_have_program("dbus-daemon")) {
		g_test_skip("dbus-daemon is not installed");
		return NULL;
	}
	td = g_new0(CkTestDaemon, 1);
	td->dir = ck_test_make_tmpdir();
	/* clients running as nobody must reach the bus socket */
	g_assert_cmpint(chmod(td->dir, 0755), ==, 0);
	td->state_dir = g_build_filename(td->dir, "state", NULL);
	td->config_path = g_build_filename(td->dir, "certkeeper.conf", NULL);
	td->policy_dir = g_build_filename(td->dir, "policy.d", NULL);
	td->requests_dir = g_build_filename(td->dir, "requests.d", NULL);
	ck_test_daemon_write_config(td, "# test configuration: built-in defaults\n");
	td->daemon_log = g_build_filename(td->dir, "daemon.log", NULL);
	td->notify_messages = g_string_new(NULL);
	td->extra_env = g_ptr_array_new_with_free_func(g_free);
	td->extra_args = g_ptr_array_new_with_free_func(g_free);
	td->notify_path = g_build_filename(td->dir, "notify.sock", NULL);
	td->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	g_assert_cmpint(td->notify_fd, >=, 0);
	g_strlcpy(addr.sun_path, td->notify_path, sizeof(addr.sun_path));
	g_assert_cmpint(bind(td->notify_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	ck_test_start_bus(td, policy);
	return td;
}

/* Collects what the daemon sent to NOTIFY_SOCKET so far. */
static void
ck_test_read_notify(CkTestDaemon *td)
{
	gchar buf[4096];
	ssize_t n;
	while ((n = recv(td->notify_fd, buf, sizeof(buf) - 1, 0)) > 0) {
		buf[n] = '\0';
		g_string_append(td->notify_messages, buf);
		g_string_append_c(td->notify_messages, '\n');
	}
}

gboolean
ck_test_daemon_is_running(CkTestDaemon *td)
{
	int status;
	if (td->daemon_pid <= 0)
		return FALSE;
	if (waitpid(td->daemon_pid, &status, WNOHANG) == td->daemon_pid) {
		td->daemon_pid = 0;
		return FALSE;
	}
	return TRUE;
}

static gchar *
ck_test_daemon_binary(void)
{
	return g_build_filename(ck_test_builddir(), "daemon", "certkeeperd", NULL);
}

static gboolean
ck_test_has_arg_prefix(CkTestDaemon *td, const gchar *prefix)
{
	for (guint i = 0; i < td->extra_args->len; i++) {
		if (g_str_has_prefix(g_ptr_array_index(td->extra_args, i), prefix))
			return TRUE;
	}
	return FALSE;
}

static GPid
ck_test_spawn_daemon(CkTestDaemon *td, const gchar *state_dir, gint stderr_fd)
{
	g_autofree gchar *binary = ck_test_daemon_binary();
	g_autofree gchar *bus_arg = g_strdup_printf("--bus=%s", td->bus_address);
	g_autofree gchar *state_arg = g_strdup_printf("--state-dir=%s", state_dir);
	g_autofree gchar *config_arg = g_strdup_printf("--config=%s", td->config_path);
	const gchar *wrapper = g_getenv("CK_TEST_DAEMON_WRAPPER");
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) envp = g_get_environ();
	g_autoptr(GError) error = NULL;
	GPid pid = 0;

	/* e.g. CK_TEST_DAEMON_WRAPPER="valgrind --error-exitcode=99 --leak-check=full" */
	if (wrapper != NULL && wrapper[0] != '\0') {
		g_auto(GStrv) words = NULL;
		g_shell_parse_argv(wrapper, NULL, &words, &error);
		g_assert_no_error(error);
		for (guint i = 0; words[i] != NULL; i++)
			g_ptr_array_add(argv, g_strdup(words[i]));
	}
	g_ptr_array_add(argv, g_strdup(binary));
	g_ptr_array_add(argv, g_strdup(bus_arg));
	g_ptr_array_add(argv, g_strdup(state_arg));
	g_ptr_array_add(argv, g_strdup(config_arg));
	g_ptr_array_add(argv, g_strdup("--log-level=debug"));
	/* no systemd here: tests that reload units point the daemon at their own */
	if (!ck_test_has_arg_prefix(td, "--systemd-bus"))
		g_ptr_array_add(argv, g_strdup("--systemd-bus=none"));
	for (guint i = 0; i < td->extra_args->len; i++)
		g_ptr_array_add(argv, g_strdup(g_ptr_array_index(td->extra_args, i)));
	g_ptr_array_add(argv, NULL);
	envp = g_environ_setenv(envp, "NOTIFY_SOCKET", td->notify_path, TRUE);
	for (guint i = 0; i < td->extra_env->len; i++) {
		g_auto(GStrv) kv = g_strsplit(g_ptr_array_index(td->extra_env, i), "=", 2);
		envp = g_environ_setenv(envp, kv[0], kv[1] != NULL ? kv[1] : "", TRUE);
	}
	/* stdout goes to the log too, so no output pipe of the test stays open in the daemon */
	g_spawn_async_with_fds(NULL, (gchar **)argv->pdata, envp,
			       G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_SEARCH_PATH |
				   G_SPAWN_STDIN_FROM_DEV_NULL,
			       ck_test_child_setup, NULL, &pid, -1, stderr_fd, stderr_fd, &error);
	g_assert_no_error(error);
	return pid;
}

void
ck_test_daemon_start(CkTestDaemon *td)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	int log_fd = open(td->daemon_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	gsize seen = td->notify_messages->len;

	g_assert_cmpint(log_fd, >=, 0);
	g_assert_false(ck_test_daemon_is_running(td));
	td->daemon_pid = ck_test_spawn_daemon(td, td->state_dir, log_fd);
	close(log_fd);
	while (g_get_monotonic_time() < deadline) {
		ck_test_read_notify(td);
		if (strstr(td->notify_messages->str + seen, "READY=1") != NULL)
			return;
		if (!ck_test_daemon_is_running(td)) {
			g_autofree gchar *log = NULL;
			g_file_get_contents(td->daemon_log, &log, NULL, NULL);
			g_error("certkeeperd exited before it was ready:\n%s", log);
		}
		g_usleep(10 * 1000);
	}
	g_error("certkeeperd did not send READY=1 within 20 s");
}

gint
ck_test_daemon_stop(CkTestDaemon *td)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	int status = 0;

	g_assert_cmpint(td->daemon_pid, >, 0);
	kill(td->daemon_pid, SIGTERM);
	while (g_get_monotonic_time() < deadline) {
		pid_t r = waitpid(td->daemon_pid, &status, WNOHANG);
		if (r == td->daemon_pid) {
			td->daemon_pid = 0;
			ck_test_read_notify(td);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		g_usleep(10 * 1000);
	}
	g_error("certkeeperd did not stop within 20 s of SIGTERM");
	return -1;
}

gint
ck_test_daemon_run_second(CkTestDaemon *td, const gchar *state_dir, gchar **stderr_out)
{
	g_autofree gchar *log = g_build_filename(td->dir, "second.log", NULL);
	int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	GPid pid;
	int status = 0;

	g_assert_cmpint(fd, >=, 0);
	pid = ck_test_spawn_daemon(td, state_dir, fd);
	close(fd);
	while (g_get_monotonic_time() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			g_file_get_contents(log, stderr_out, NULL, NULL);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		g_usleep(10 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	g_error("a second certkeeperd kept running instead of refusing to start");
	return -1;
}

gint
ck_test_cli(CkTestDaemon *td, gboolean as_nobody, const gchar *const *envp, gchar **stdout_out,
	    gchar **stderr_out, const gchar *first_arg, ...)
{
	g_autofree gchar *binary = g_build_filename(ck_test_builddir(), "client", "certkeeper", NULL);
	g_autofree gchar *bus_arg = g_strdup_printf("--bus=%s", td->bus_address);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;
	va_list args;

	if (as_nobody) {
		g_ptr_array_add(argv, (gpointer) "setpriv");
		g_ptr_array_add(argv, (gpointer) "--reuid=nobody");
		g_ptr_array_add(argv, (gpointer) "--regid=nogroup");
		g_ptr_array_add(argv, (gpointer) "--clear-groups");
	}
	g_ptr_array_add(argv, binary);
	g_ptr_array_add(argv, bus_arg);
	va_start(args, first_arg);
	for (const gchar *arg = first_arg; arg != NULL; arg = va_arg(args, const gchar *))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(args);
	g_ptr_array_add(argv, NULL);
	for (guint i = 0; envp != NULL && envp[i] != NULL; i++) {
		g_auto(GStrv) kv = g_strsplit(envp[i], "=", 2);
		env = g_environ_setenv(env, kv[0], kv[1] != NULL ? kv[1] : "", TRUE);
	}
	g_spawn_sync(td->dir, (gchar **)argv->pdata, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
		     &err, &status, &error);
	g_assert_no_error(error);
	g_test_message("certkeeper %s%s -> %d\nstdout: %s\nstderr: %s", first_arg,
		       as_nobody ? " (as nobody)" : "", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
		       out, err);
	if (stdout_out != NULL)
		*stdout_out = g_steal_pointer(&out);
	if (stderr_out != NULL)
		*stderr_out = g_steal_pointer(&err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

GDBusConnection *
ck_test_daemon_connect(CkTestDaemon *td)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_sync(
	    td->bus_address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL, NULL, &error);
	g_assert_no_error(error);
	return connection;
}

void
ck_test_daemon_write_config(CkTestDaemon *td, const gchar *text)
{
	/*
	 * The host's /etc/certkeeper/policy.d and requests.d are none of a test's
	 * business. GKeyFile merges a group given twice, and the last value of a
	 * key wins, so @text may still name other directories.
	 */
	g_autofree gchar *full = g_strdup_printf("[certkeeperd]\nPolicyDirectory=%s\n"
						 "RequestsDirectory=%s\n\n%s",
						 td->policy_dir, td->requests_dir, text);
	ck_test_write(td->config_path, full);
}

gchar *
ck_test_daemon_path(CkTestDaemon *td, const gchar *name)
{
	return g_build_filename(td->dir, name, NULL);
}

gboolean
ck_test_wait_for(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	while (!cond(data)) {
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		g_main_context_iteration(NULL, FALSE);
		g_usleep(5 * 1000);
	}
	return TRUE;
}

void
ck_test_daemon_free(CkTestDaemon *td)
{
	int status;
	if (td == NULL)
		return;
	if (td->daemon_pid > 0) {
		kill(td->daemon_pid, SIGKILL);
		waitpid(td->daemon_pid, &status, 0);
	}
	if (td->bus_pid > 0) {
		kill(td->bus_pid, SIGTERM);
		waitpid(td->bus_pid, &status, 0);
	}
	if (td->notify_fd >= 0)
		close(td->notify_fd);
	if (g_getenv("CK_TEST_KEEP") == NULL)
		ck_test_rm_rf(td->dir);
	else
		g_test_message("kept %s", td->dir);
	g_string_free(td->notify_messages, TRUE);
	g_ptr_array_unref(td->extra_env);
	g_ptr_array_unref(td->extra_args);
	g_free(td->dir);
	g_free(td->state_dir);
	g_free(td->config_path);
	g_free(td->policy_dir);
	g_free(td->requests_dir);
	g_free(td->bus_address);
	g_free(td->daemon_log);
	g_free(td->notify_path);
	g_free(td);
}

/* Helpers for crash tests (test-torture.c): a daemon that may die on purpose. */

gboolean
ck_test_daemon_start_or_exit(CkTestDaemon *td, gint *status_out)
{
	gint64 deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	int log_fd = open(td->daemon_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	gsize seen = td->notify_messages->len;

	g_assert_cmpint(log_fd, >=, 0);
	g_assert_cmpint(td->daemon_pid, <=, 0);
	td->daemon_pid = ck_test_spawn_daemon(td, td->state_dir, log_fd);
	close(log_fd);
	while (g_get_monotonic_time() < deadline) {
		int status = 0;
		ck_test_read_notify(td);
		if (strstr(td->notify_messages->str + seen, "READY=1") != NULL)
			return TRUE;
		/* reaped here, not by ck_test_daemon_is_running(): the caller wants the status */
		if (waitpid(td->daemon_pid, &status, WNOHANG) == td->daemon_pid) {
			td->daemon_pid = 0;
			if (status_out != NULL)
				*status_out = status;
			return FALSE;
		}
		g_usleep(5 * 1000);
	}
	g_error("certkeeperd neither sent READY=1 nor exited within 20 s");
	return FALSE;
}

gboolean
ck_test_daemon_wait_exit(CkTestDaemon *td, guint timeout_ms, gint *status_out)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

	g_assert_cmpint(td->daemon_pid, >, 0);
	for (;;) {
		int status = 0;
		if (waitpid(td->daemon_pid, &status, WNOHANG) == td->daemon_pid) {
			td->daemon_pid = 0;
			if (status_out != NULL)
				*status_out = status;
			return TRUE;
		}
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		g_usleep(2 * 1000);
	}
}

gint
ck_test_daemon_kill(CkTestDaemon *td)
{
	int status = 0;

	g_assert_cmpint(td->daemon_pid, >, 0);
	kill(td->daemon_pid, SIGKILL);
	g_assert_cmpint(waitpid(td->daemon_pid, &status, 0), ==, td->daemon_pid);
	td->daemon_pid = 0;
	return status;
}

/* Requests as the CLI shows them: what an administrator sees */

JsonObject *
ck_test_request_json(CkTestDaemon *td, const gchar *id)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) node = NULL;
	gint status = ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "--json", "-i", id, NULL);

	/* 1: no such request; the others say how the request is doing (getcert's codes) */
	if (status == 1)
		return NULL;
	g_assert_cmpint(status, >=, 0);
	g_assert_cmpint(status, <=, 5);
	node = json_from_string(out, NULL);
	g_assert_true(node != NULL && JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

const gchar *
ck_test_json_string(JsonObject *obj, const gchar *member)
{
	return json_object_get_string_member_with_default(obj, member, "");
}

static gboolean
ck_test_request_matches(JsonObject *obj, const CkTestRequestWait *want)
{
	const gchar *serial = ck_test_json_string(obj, "Serial");

	if (want->state != NULL && g_strcmp0(ck_test_json_string(obj, "State"), want->state) != 0)
		return FALSE;
	if (want->not_serial != NULL &&
	    (serial[0] == '\0' || g_strcmp0(serial, want->not_serial) == 0))
		return FALSE;
	if (want->error_part != NULL &&
	    strstr(ck_test_json_string(obj, "LastError"), want->error_part) == NULL)
		return FALSE;
	if (json_object_get_int_member_with_default(obj, "FailedAttempts", 0) < want->min_failed)
		return FALSE;
	return TRUE;
}

JsonObject *
ck_test_wait_request(CkTestDaemon *td, const gchar *id, const CkTestRequestWait *want,
		     guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	g_autoptr(JsonObject) last = NULL;

	for (;;) {
		g_clear_pointer(&last, json_object_unref);
		last = ck_test_request_json(td, id);
		g_assert_nonnull(last);
		if (ck_test_request_matches(last, want))
			return g_steal_pointer(&last);
		if (g_get_monotonic_time() > deadline)
			break;
		g_usleep(500 * 1000);
	}
	{
		g_autofree gchar *log = NULL;
		g_autoptr(JsonNode) node = json_node_init_object(json_node_alloc(), last);
		g_autofree gchar *text = json_to_string(node, TRUE);
		g_file_get_contents(td->daemon_log, &log, NULL, NULL);
		g_error("request %s did not get to state %s (serial not %s, error with '%s', "
			"%" G_GINT64_FORMAT " failed attempts) within %u s; it is:\n%s\n"
			"daemon log:\n%s",
			id, want->state != NULL ? want->state : "any",
			want->not_serial != NULL ? want->not_serial : "-",
			want->error_part != NULL ? want->error_part : "", want->min_failed,
			timeout_s, text, log != NULL ? log : "");
	}
	return NULL;
}
