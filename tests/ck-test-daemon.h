/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/*
 * A private, system-like dbus-daemon that enforces the project's real policy
 * file (units/org.certkeeper.Certkeeper1.conf), and the real certkeeperd on it.
 */
typedef struct {
	gchar *dir;	    /* test directory, world-searchable so setpriv'd clients reach the socket */
	gchar *state_dir;   /* certkeeperd's state */
	gchar *config_path; /* certkeeperd's configuration */
	gchar *policy_dir;  /* its PolicyDirectory (created by no one: tests that need it do) */
	gchar *requests_dir; /* its RequestsDirectory (likewise) */
	gchar *bus_address;
	GPid bus_pid;
	GPid daemon_pid;
	gchar *daemon_log; /* daemon's stderr */
	gchar *notify_path;
	gint notify_fd;
	GString *notify_messages; /* everything sent to NOTIFY_SOCKET */
	GPtrArray *extra_env;	  /* "K=V" added to the daemon's environment at its next start */
	GPtrArray *extra_args;	  /* arguments added to its command line at its next start */
} CkTestDaemon;

typedef enum {
	CK_TEST_BUS_POLICY_PROJECT,    /* only the project's policy */
	CK_TEST_BUS_POLICY_PERMISSIVE, /* plus a file allowing every call: the daemon must refuse */
} CkTestBusPolicy;

/* Skips the test (returns NULL) unless run as root with dbus-daemon available. */
CkTestDaemon *
ck_test_daemon_new(CkTestBusPolicy policy);
void
ck_test_daemon_free(CkTestDaemon *td);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkTestDaemon, ck_test_daemon_free)

/* Starts certkeeperd and waits for READY=1 (asserts it comes within 20 s). */
void
ck_test_daemon_start(CkTestDaemon *td);
/* Sends SIGTERM and waits; returns the exit status (asserts it exits within 20 s). */
gint
ck_test_daemon_stop(CkTestDaemon *td);
/* TRUE while the daemon process is alive. */
gboolean
ck_test_daemon_is_running(CkTestDaemon *td);

/*
 * Starts another certkeeperd with @extra_args and waits for it to exit;
 * returns its exit status, its stderr in @stderr_out.
 */
gint
ck_test_daemon_run_second(CkTestDaemon *td, const gchar *state_dir, gchar **stderr_out);

/*
 * Runs the real CLI: certkeeper --bus=ADDRESS ARGS...; as user nobody when
 * @as_nobody. Environment extra: @envp (NULL-terminated "K=V", may be NULL).
 */
gint
ck_test_cli(CkTestDaemon *td, gboolean as_nobody, const gchar *const *envp, gchar **stdout_out,
	    gchar **stderr_out, const gchar *first_arg, ...) G_GNUC_NULL_TERMINATED;

/* A GDBus connection to the private bus, for raw calls and signal checks. */
GDBusConnection *
ck_test_daemon_connect(CkTestDaemon *td);

/*
 * Replaces the daemon's configuration file (read at its next start or reload),
 * with PolicyDirectory and RequestsDirectory pointing into the test directory.
 */
void
ck_test_daemon_write_config(CkTestDaemon *td, const gchar *text);

/* Path of a file inside the test directory. */
gchar *
ck_test_daemon_path(CkTestDaemon *td, const gchar *name);

/* Runs the main context until @cond returns TRUE or @timeout_ms passes; returns cond's value. */
gboolean
ck_test_wait_for(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms);

/*
 * For crash tests. Starts certkeeperd like ck_test_daemon_start(), but a daemon
 * that dies before READY=1 (a fault point during its recovery) is no error:
 * FALSE then, with its wait status in @status_out.
 */
gboolean
ck_test_daemon_start_or_exit(CkTestDaemon *td, gint *status_out);
/* Waits up to @timeout_ms for the daemon to exit; TRUE with its wait status, FALSE if it runs. */
gboolean
ck_test_daemon_wait_exit(CkTestDaemon *td, guint timeout_ms, gint *status_out);
/* Kills the daemon with SIGKILL, as a crash would, and reaps it; returns the wait status. */
gint
ck_test_daemon_kill(CkTestDaemon *td);

/* Request @id as `certkeeper status --json -i ID` shows it; NULL if there is none. */
JsonObject *
ck_test_request_json(CkTestDaemon *td, const gchar *id);

/* A string member of such a status, "" when it has none. */
const gchar *
ck_test_json_string(JsonObject *obj, const gchar *member);

/* What ck_test_wait_request() waits for; NULL/0 members do not matter. */
typedef struct {
	const gchar *state;      /* State is this */
	const gchar *not_serial; /* Serial is set and differs from this (a new certificate) */
	const gchar *error_part; /* LastError contains this */
	gint64 min_failed;       /* FailedAttempts at least this */
} CkTestRequestWait;

/*
 * Polls request @id (through the CLI, twice a second) until it is as @want says;
 * returns its status then. After @timeout_s it fails the test, showing the last
 * status and the daemon's log.
 */
JsonObject *
ck_test_wait_request(CkTestDaemon *td, const gchar *id, const CkTestRequestWait *want,
		     guint timeout_s);

G_END_DECLS
