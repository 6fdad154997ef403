/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What happens around an install, against the real daemon and real peers: the
 * pre- and post-save commands, PID-file signals, systemd unit reloads (through a
 * stand-in for systemd1 on a bus of its own: systemd cannot run as PID 1 here),
 * the post-install TLS check against openssl s_server and the check command,
 * with their rollbacks, the directory layout, and the daemon's idle wake-ups.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <netinet/in.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define REQUEST_IFACE "org.certkeeper.Request1"

/*
 * The one hook script of these tests: $1 labels the hook (pre, post, check). It
 * records what it saw in OUT, then obeys flag files there: $1.restart asks the
 * test to restart the TLS peer (and waits until it did), $1.fail holds an exit
 * status to fail with.
 */
static const gchar ck_hooks_script[] =
    "out='%s'\n"
    "n=$(($(cat \"$out/$1.count\" 2>/dev/null || echo 0) + 1))\n"
    "echo $n > \"$out/$1.count\"\n"
    "env > \"$out/$1-$n.env\"\n"
    "id -u > \"$out/$1-$n.uid\"\n"
    "openssl x509 -in \"$CERTKEEPER_CERT_FILE\" -noout -serial > \"$out/$1-$n.serial\" "
    "2>/dev/null || echo none > \"$out/$1-$n.serial\"\n"
    "echo \"$1 $CERTKEEPER_EVENT $CERTKEEPER_SERIAL\" >> \"$out/events\"\n"
    "if [ -e \"$out/$1.restart\" ]; then\n"
    "  : > \"$out/restart.request\"\n"
    "  i=0\n"
    "  while [ ! -e \"$out/restart.done\" ]; do\n"
    "    i=$((i + 1))\n"
    "    [ $i -le 300 ] || { echo 'nobody restarted the server' >&2; exit 1; }\n"
    "    sleep 0.05\n"
    "  done\n"
    "  rm -f \"$out/restart.done\"\n"
    "fi\n"
    "if [ -e \"$out/$1.fail\" ]; then\n"
    "  echo \"$1 hook failed on purpose\" >&2\n"
    "  exit \"$(cat \"$out/$1.fail\")\"\n"
    "fi\n";

/* Children of the test die with it, even when an assertion aborts it. */
static void
ck_hooks_child_setup(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static void
ck_hooks_kill(GPid *pid)
{
	int status;
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, &status, 0);
	*pid = 0;
}

/* Spawns @argv with stdin from /dev/null and its output appended to @log. */
static GPid
ck_hooks_spawn(const gchar *const *argv, const gchar *log)
{
	g_autoptr(GError) error = NULL;
	int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	GPid pid = 0;

	g_assert_cmpint(fd, >=, 0);
	g_spawn_async_with_fds(NULL, (gchar **)argv, NULL,
			       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
				   G_SPAWN_STDIN_FROM_DEV_NULL,
			       ck_hooks_child_setup, NULL, &pid, -1, fd, fd, &error);
	close(fd);
	g_assert_no_error(error);
	return pid;
}

static gboolean
ck_hooks_alive(GPid *pid)
{
	int status;
	if (*pid <= 0)
		return FALSE;
	if (waitpid(*pid, &status, WNOHANG) == *pid) {
		*pid = 0;
		return FALSE;
	}
	return TRUE;
}

/* A TLS peer: openssl s_server on 127.0.0.1 (gnutls-serv would bind every address) */

typedef struct {
	guint16 port;
	GPid pid;
	gchar *log;
	gchar *cert;
	gchar *key;
	gchar *client_ca; /* NULL: no client certificate asked for */
	guint starts;
} CkTlsPeer;

static guint16
ck_hooks_free_port(void)
{
	struct sockaddr_in addr = {.sin_family = AF_INET,
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(addr);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	g_assert_cmpint(getsockname(fd, (struct sockaddr *)&addr, &len), ==, 0);
	close(fd);
	return ntohs(addr.sin_port);
}

/* TRUE when something listens on 127.0.0.1:@port (without connecting to it). */
static gboolean
ck_hooks_listening(guint16 port)
{
	g_autofree gchar *tcp = NULL;
	g_autofree gchar *local = g_strdup_printf("0100007F:%04X", port);
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents("/proc/net/tcp", &tcp, NULL, NULL))
		return FALSE;
	lines = g_strsplit(tcp, "\n", -1);
	for (guint i = 1; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = g_strsplit_set(g_strstrip(lines[i]), " ", -1);
		const gchar *cols[4] = {NULL};
		guint n = 0;
		for (guint j = 0; fields[j] != NULL && n < 4; j++) {
			if (fields[j][0] != '\0')
				cols[n++] = fields[j];
		}
		/* sl, local_address, rem_address, st (0A: LISTEN) */
		if (n == 4 && g_strcmp0(cols[1], local) == 0 && g_strcmp0(cols[3], "0A") == 0)
			return TRUE;
	}
	return FALSE;
}

static CkTlsPeer *
ck_tls_peer_new(const gchar *dir, const gchar *cert, const gchar *key, const gchar *client_ca)
{
	CkTlsPeer *peer = g_new0(CkTlsPeer, 1);
	peer->log = g_build_filename(dir, "s_server.log", NULL);
	peer->cert = g_strdup(cert);
	peer->key = g_strdup(key);
	peer->client_ca = g_strdup(client_ca);
	peer->port = ck_hooks_free_port();
	return peer;
}

static gboolean
ck_tls_peer_try_start(CkTlsPeer *peer)
{
	g_autofree gchar *accept = g_strdup_printf("127.0.0.1:%u", peer->port);
	const gchar *argv[16] = {"openssl",  "s_server", "-accept", accept, "-cert",
				 peer->cert, "-key",     peer->key, "-www", NULL};
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	if (peer->client_ca != NULL) {
		/* a client certificate is required, and must verify to this CA */
		guint n = 9;
		argv[n++] = "-CAfile";
		argv[n++] = peer->client_ca;
		argv[n++] = "-Verify";
		argv[n++] = "5";
		argv[n++] = "-verify_return_error";
		argv[n] = NULL;
	}
	peer->pid = ck_hooks_spawn(argv, peer->log);
	while (g_get_monotonic_time() < deadline) {
		if (ck_hooks_listening(peer->port))
			return TRUE;
		if (!ck_hooks_alive(&peer->pid))
			return FALSE;
		g_usleep(5 * 1000);
	}
	g_error("openssl s_server did not listen on port %u within 5 s", peer->port);
	return FALSE;
}

/* Starts the server from what @cert and @key hold now; the port stays once it worked. */
static void
ck_tls_peer_start(CkTlsPeer *peer)
{
	for (guint attempt = 0; attempt < 10; attempt++) {
		if (ck_tls_peer_try_start(peer)) {
			peer->starts++;
			return;
		}
		/* somebody took the port: before the first start another one will do */
		if (peer->starts == 0)
			peer->port = ck_hooks_free_port();
		else
			g_usleep(50 * 1000);
	}
	g_error("openssl s_server could not listen on 127.0.0.1 (see %s)", peer->log);
}

static void
ck_tls_peer_stop(CkTlsPeer *peer)
{
	ck_hooks_kill(&peer->pid);
}

static gchar *
ck_tls_peer_endpoint(CkTlsPeer *peer)
{
	return g_strdup_printf("127.0.0.1:%u", peer->port);
}

static void
ck_tls_peer_free(CkTlsPeer *peer)
{
	if (peer == NULL)
		return;
	ck_tls_peer_stop(peer);
	g_free(peer->log);
	g_free(peer->cert);
	g_free(peer->key);
	g_free(peer->client_ca);
	g_free(peer);
}

/* A stand-in for systemd1's Manager, on a private bus, served from a thread of its own */

static const gchar ck_fake_systemd_xml[] =
    "<node>"
    " <interface name='org.freedesktop.systemd1.Manager'>"
    "  <method name='Subscribe'/>"
    "  <method name='Unsubscribe'/>"
    "  <method name='ReloadUnit'><arg name='name' type='s' direction='in'/>"
    "   <arg name='mode' type='s' direction='in'/><arg name='job' type='o' direction='out'/>"
    "  </method>"
    "  <method name='RestartUnit'><arg name='name' type='s' direction='in'/>"
    "   <arg name='mode' type='s' direction='in'/><arg name='job' type='o' direction='out'/>"
    "  </method>"
    "  <method name='TryRestartUnit'><arg name='name' type='s' direction='in'/>"
    "   <arg name='mode' type='s' direction='in'/><arg name='job' type='o' direction='out'/>"
    "  </method>"
    "  <method name='ReloadOrRestartUnit'><arg name='name' type='s' direction='in'/>"
    "   <arg name='mode' type='s' direction='in'/><arg name='job' type='o' direction='out'/>"
    "  </method>"
    "  <method name='ReloadOrTryRestartUnit'><arg name='name' type='s' direction='in'/>"
    "   <arg name='mode' type='s' direction='in'/><arg name='job' type='o' direction='out'/>"
    "  </method>"
    "  <signal name='JobRemoved'><arg name='id' type='u'/><arg name='job' type='o'/>"
    "   <arg name='unit' type='s'/><arg name='result' type='s'/></signal>"
    " </interface>"
    "</node>";

typedef struct {
	gchar *method;
	gchar *unit;
	gchar *mode;
} CkFakeCall;

typedef struct {
	GPid bus_pid;
	gchar *address;
	GThread *thread;
	GMainContext *context;
	GMainLoop *loop;
	GDBusConnection *connection; /* the thread's */
	GMutex lock;
	GCond cond;
	gboolean ready;
	GPtrArray *calls; /* CkFakeCall, under the lock */
	guint subscribes;   /* under the lock */
	guint unsubscribes; /* under the lock */
	guint next_job;   /* the thread's */
	GPtrArray *held;  /* GVariant JobRemoved arguments held back (the thread's) */
} CkFakeSystemd;

typedef struct {
	CkFakeSystemd *fake;
	GVariant *args; /* (uoss) */
} CkFakeJob;

static void
ck_fake_call_free(CkFakeCall *call)
{
	g_free(call->method);
	g_free(call->unit);
	g_free(call->mode);
	g_free(call);
}

static void
ck_fake_systemd_emit(CkFakeSystemd *fake, GVariant *args)
{
	g_autoptr(GError) error = NULL;
	g_dbus_connection_emit_signal(fake->connection, NULL, "/org/freedesktop/systemd1",
				      "org.freedesktop.systemd1.Manager", "JobRemoved", args,
				      &error);
	g_assert_no_error(error);
}

static gboolean
ck_fake_systemd_job_done_cb(gpointer user_data)
{
	CkFakeJob *job = user_data;
	ck_fake_systemd_emit(job->fake, g_steal_pointer(&job->args));
	g_free(job);
	return G_SOURCE_REMOVE;
}

static void
ck_fake_systemd_method_cb(GDBusConnection *connection, const gchar *sender, const gchar *path,
			  const gchar *iface, const gchar *method, GVariant *params,
			  GDBusMethodInvocation *invocation, gpointer user_data)
{
	CkFakeSystemd *fake = user_data;
	CkFakeCall *call;
	const gchar *unit = NULL, *mode = NULL;
	g_autofree gchar *job_path = NULL;
	GVariant *args;
	guint id;

	if (g_strcmp0(method, "Subscribe") == 0 || g_strcmp0(method, "Unsubscribe") == 0) {
		g_mutex_lock(&fake->lock);
		if (method[0] == 'S')
			fake->subscribes++;
		else
			fake->unsubscribes++;
		g_mutex_unlock(&fake->lock);
		g_dbus_method_invocation_return_value(invocation, NULL);
		return;
	}
	g_variant_get(params, "(&s&s)", &unit, &mode);
	call = g_new0(CkFakeCall, 1);
	call->method = g_strdup(method);
	call->unit = g_strdup(unit);
	call->mode = g_strdup(mode);
	g_mutex_lock(&fake->lock);
	g_ptr_array_add(fake->calls, call);
	g_mutex_unlock(&fake->lock);

	id = ++fake->next_job;
	job_path = g_strdup_printf("/org/freedesktop/systemd1/job/%u", id);
	args = g_variant_ref_sink(
	    g_variant_new("(uoss)", id, job_path, unit,
			  g_strcmp0(unit, "failing.service") == 0 ? "failed" : "done"));
	if (g_strcmp0(unit, "early.service") == 0) {
		/* the job is over before its caller even has the reply */
		ck_fake_systemd_emit(fake, args);
		g_variant_unref(args);
		g_dbus_method_invocation_return_value(invocation, g_variant_new("(o)", job_path));
		return;
	}
	g_dbus_method_invocation_return_value(invocation, g_variant_new("(o)", job_path));
	if (g_strcmp0(unit, "held.service") == 0) {
		/* until the test releases it */
		g_ptr_array_add(fake->held, args);
	} else {
		CkFakeJob *job = g_new0(CkFakeJob, 1);
		GSource *source = g_timeout_source_new(50);
		job->fake = fake;
		job->args = args;
		g_source_set_callback(source, ck_fake_systemd_job_done_cb, job, NULL);
		g_source_attach(source, fake->context);
		g_source_unref(source);
	}
}

static gpointer
ck_fake_systemd_thread(gpointer user_data)
{
	CkFakeSystemd *fake = user_data;
	static const GDBusInterfaceVTable vtable = {ck_fake_systemd_method_cb, NULL, NULL};
	g_autoptr(GDBusNodeInfo) info = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	guint registration;
	guint32 owner = 0;

	g_main_context_push_thread_default(fake->context);
	fake->connection = g_dbus_connection_new_for_address_sync(
	    fake->address,
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL, NULL, &error);
	g_assert_no_error(error);
	info = g_dbus_node_info_new_for_xml(ck_fake_systemd_xml, &error);
	g_assert_no_error(error);
	registration =
	    g_dbus_connection_register_object(fake->connection, "/org/freedesktop/systemd1",
					      info->interfaces[0], &vtable, fake, NULL, &error);
	g_assert_no_error(error);
	/* DBUS_NAME_FLAG_DO_NOT_QUEUE; 1: now the primary owner */
	reply = g_dbus_connection_call_sync(
	    fake->connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
	    "org.freedesktop.DBus", "RequestName",
	    g_variant_new("(su)", "org.freedesktop.systemd1", 4), G_VARIANT_TYPE("(u)"),
	    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(u)", &owner);
	g_assert_cmpuint(owner, ==, 1);

	g_mutex_lock(&fake->lock);
	fake->ready = TRUE;
	g_cond_signal(&fake->cond);
	g_mutex_unlock(&fake->lock);
	g_main_loop_run(fake->loop);

	g_dbus_connection_unregister_object(fake->connection, registration);
	g_dbus_connection_close_sync(fake->connection, NULL, NULL);
	g_clear_object(&fake->connection);
	g_main_context_pop_thread_default(fake->context);
	return NULL;
}

/* A permissive, session-like dbus-daemon with its socket in @dir. */
static void
ck_fake_systemd_start_bus(CkFakeSystemd *fake, const gchar *dir)
{
	g_autofree gchar *socket_path = g_build_filename(dir, "systemd-bus.sock", NULL);
	g_autofree gchar *config_path = g_build_filename(dir, "systemd-bus.conf", NULL);
	g_autofree gchar *config_arg = g_strdup_printf("--config-file=%s", config_path);
	g_autofree gchar *config = g_strdup_printf(
	    "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN\"\n"
	    " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	    "<busconfig>\n"
	    "  <type>session</type>\n"
	    "  <listen>unix:path=%s</listen>\n"
	    "  <auth>EXTERNAL</auth>\n"
	    "  <policy context=\"default\">\n"
	    "    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	    "    <allow eavesdrop=\"true\"/>\n"
	    "    <allow own=\"*\"/>\n"
	    "  </policy>\n"
	    "</busconfig>\n",
	    socket_path);
	const gchar *argv[] = {"dbus-daemon", config_arg, "--nofork", "--print-address=1", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(GIOChannel) channel = NULL;
	gint out_fd = -1;
	gsize len = 0;

	g_file_set_contents(config_path, config, -1, &error);
	g_assert_no_error(error);
	g_spawn_async_with_pipes(
	    NULL, (gchar **)argv, NULL,
	    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
	    ck_hooks_child_setup, NULL, &fake->bus_pid, NULL, &out_fd, NULL, &error);
	g_assert_no_error(error);
	channel = g_io_channel_unix_new(out_fd);
	g_io_channel_set_close_on_unref(channel, TRUE);
	g_io_channel_read_line(channel, &fake->address, &len, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(fake->address);
	g_strchomp(fake->address);
}

static CkFakeSystemd *
ck_fake_systemd_new(const gchar *dir)
{
	CkFakeSystemd *fake = g_new0(CkFakeSystemd, 1);
	gint64 deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;

	g_mutex_init(&fake->lock);
	g_cond_init(&fake->cond);
	fake->calls = g_ptr_array_new_with_free_func((GDestroyNotify)ck_fake_call_free);
	fake->held = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	fake->context = g_main_context_new();
	fake->loop = g_main_loop_new(fake->context, FALSE);
	ck_fake_systemd_start_bus(fake, dir);
	fake->thread = g_thread_new("fake-systemd", ck_fake_systemd_thread, fake);
	g_mutex_lock(&fake->lock);
	while (!fake->ready) {
		if (!g_cond_wait_until(&fake->cond, &fake->lock, deadline))
			g_error("the systemd stand-in did not come up within 10 s");
	}
	g_mutex_unlock(&fake->lock);
	return fake;
}

static gboolean
ck_fake_systemd_release_cb(gpointer user_data)
{
	CkFakeSystemd *fake = user_data;
	for (guint i = 0; i < fake->held->len; i++)
		ck_fake_systemd_emit(fake, g_ptr_array_index(fake->held, i));
	g_ptr_array_set_size(fake->held, 0);
	return G_SOURCE_REMOVE;
}

/* Ends the jobs of held.service (JobRemoved with "done"). */
static void
ck_fake_systemd_release(CkFakeSystemd *fake)
{
	g_main_context_invoke(fake->context, ck_fake_systemd_release_cb, fake);
}

/* The calls for @unit so far, as "Method mode" strings. */
static GStrv
ck_fake_systemd_calls_for(CkFakeSystemd *fake, const gchar *unit)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_mutex_lock(&fake->lock);
	for (guint i = 0; i < fake->calls->len; i++) {
		CkFakeCall *call = g_ptr_array_index(fake->calls, i);
		if (g_strcmp0(call->unit, unit) == 0) {
			g_autofree gchar *text = g_strdup_printf("%s %s", call->method, call->mode);
			g_strv_builder_add(builder, text);
		}
	}
	g_mutex_unlock(&fake->lock);
	return g_strv_builder_end(builder);
}

static guint
ck_fake_systemd_subscribes(CkFakeSystemd *fake)
{
	guint n;
	g_mutex_lock(&fake->lock);
	n = fake->subscribes;
	g_mutex_unlock(&fake->lock);
	return n;
}

/* Subscribed now: more Subscribe() than Unsubscribe() calls. */
static gboolean
ck_fake_systemd_is_subscribed(CkFakeSystemd *fake)
{
	gboolean subscribed;
	g_mutex_lock(&fake->lock);
	subscribed = fake->subscribes > fake->unsubscribes;
	g_mutex_unlock(&fake->lock);
	return subscribed;
}

static void
ck_fake_systemd_free(CkFakeSystemd *fake)
{
	if (fake == NULL)
		return;
	g_main_loop_quit(fake->loop);
	g_thread_join(fake->thread);
	ck_hooks_kill(&fake->bus_pid);
	g_main_loop_unref(fake->loop);
	g_main_context_unref(fake->context);
	g_ptr_array_unref(fake->calls);
	g_ptr_array_unref(fake->held);
	g_mutex_clear(&fake->lock);
	g_cond_clear(&fake->cond);
	g_free(fake->address);
	g_free(fake);
}

/* The fixture: a daemon, its connection, the hook script and what the hooks wrote */

typedef struct {
	CkTestDaemon *td;
	GDBusConnection *connection;
	gchar *certs;           /* where the files layouts live (0755) */
	gchar *out;             /* what the hooks write (0777: hooks may run as nobody) */
	gchar *hook;            /* the script */
	CkTlsPeer *peer;        /* restarted when a hook asks for it */
	CkFakeSystemd *systemd; /* when the test reloads units */
} CkHooks;

static void
ck_hooks_free(CkHooks *h)
{
	if (h == NULL)
		return;
	ck_tls_peer_free(h->peer);
	g_clear_object(&h->connection);
	ck_test_daemon_free(h->td);
	ck_fake_systemd_free(h->systemd);
	g_free(h->certs);
	g_free(h->out);
	g_free(h->hook);
	g_free(h);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkHooks, ck_hooks_free)

/*
 * A daemon set up for speed: no jitter, HookTimeout 20 s, CheckTimeout 10 s, and
 * retries after @retry_delay (tests that look at a rollback want none during
 * the test); @extra goes into [renewal] too. NULL (skipped) unless root.
 */
static CkHooks *
ck_hooks_new(const gchar *retry_delay, const gchar *retry_delay_max, const gchar *extra)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL;
	g_autofree gchar *script = NULL;
	CkHooks *h;

	if (td == NULL)
		return NULL;
	if (!ck_test_have_program("openssl")) {
		g_test_skip("openssl is not installed");
		return NULL;
	}
	config = g_strdup_printf("[renewal]\nRenewJitterMax=0\nRetryDelay=%s\nRetryDelayMax=%s\n"
				 "HookTimeout=20\nCheckTimeout=10\n%s",
				 retry_delay, retry_delay_max, extra != NULL ? extra : "");
	ck_test_daemon_write_config(td, config);
	h = g_new0(CkHooks, 1);
	h->td = g_steal_pointer(&td);
	h->certs = ck_test_daemon_path(h->td, "certs");
	h->out = ck_test_daemon_path(h->td, "out");
	g_assert_cmpint(g_mkdir(h->certs, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(h->out, 0777), ==, 0);
	g_assert_cmpint(chmod(h->out, 0777), ==, 0);
	script = g_strdup_printf(ck_hooks_script, h->out);
	h->hook = ck_test_write_file(h->td->dir, "hook.sh", script);
	g_assert_cmpint(chmod(h->hook, 0644), ==, 0);
	return h;
}

static void
ck_hooks_start(CkHooks *h)
{
	ck_test_daemon_start(h->td);
	h->connection = ck_test_daemon_connect(h->td);
}

/* "sh HOOK LABEL": the command line of one hook. */
static gchar *
ck_hooks_command(CkHooks *h, const gchar *label)
{
	return g_strdup_printf("sh %s %s", h->hook, label);
}

static gchar *
ck_hooks_file(CkHooks *h, const gchar *id, const gchar *suffix)
{
	return g_strdup_printf("%s/%s%s", h->certs, id, suffix);
}

static gchar *
ck_hooks_out(CkHooks *h, const gchar *name)
{
	return g_build_filename(h->out, name, NULL);
}

/* Creates (with @contents) or, for NULL, removes one of the hooks' flag files. */
static void
ck_hooks_flag(CkHooks *h, const gchar *name, const gchar *contents)
{
	g_autofree gchar *path = ck_hooks_out(h, name);
	if (contents == NULL) {
		g_unlink(path);
		return;
	}
	g_free(ck_test_write_file(h->out, name, contents));
}

/*
 * certkeeper request -I ID -f certs/ID.crt -k certs/ID.key -F certs/ID-chain.crt
 * -N CN=ID.example, then @extra (NULL-terminated, at most 15), -w when @wait.
 */
static gint
ck_hooks_request(CkHooks *h, const gchar *id, gboolean wait, const gchar *const *extra)
{
	g_autofree gchar *cert = ck_hooks_file(h, id, ".crt");
	g_autofree gchar *key = ck_hooks_file(h, id, ".key");
	g_autofree gchar *chain = ck_hooks_file(h, id, "-chain.crt");
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	const gchar *a[17] = {NULL};
	guint n = 0;

	for (; extra != NULL && extra[n] != NULL; n++) {
		g_assert_cmpuint(n, <, 15);
		a[n] = extra[n];
	}
	if (wait) {
		a[n++] = "-w";
		a[n++] = "--wait-timeout=30";
	}
	return ck_test_cli(h->td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert, "-k",
			   key, "-F", chain, "-N", subject, a[0], a[1], a[2], a[3], a[4], a[5],
			   a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16],
			   NULL);
}

/* resubmit -i ID, with -w when @wait; asserts it worked. */
static void
ck_hooks_resubmit(CkHooks *h, const gchar *id, gboolean wait)
{
	if (wait)
		g_assert_cmpint(ck_test_cli(h->td, FALSE, NULL, NULL, NULL, "resubmit", "-i", id,
					    "-w", "--wait-timeout=30", NULL),
				==, 0);
	else
		g_assert_cmpint(
		    ck_test_cli(h->td, FALSE, NULL, NULL, NULL, "resubmit", "-i", id, NULL), ==, 0);
}

/* Request properties (ids here are letters and digits: their path needs no escaping). */
static GVariant *
ck_hooks_property(CkHooks *h, const gchar *id, const gchar *name)
{
	g_autofree gchar *path = g_strconcat(MANAGER_PATH "/request/", id, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    h->connection, "org.certkeeper.Certkeeper1", path, "org.freedesktop.DBus.Properties",
	    "Get", g_variant_new("(ss)", REQUEST_IFACE, name), G_VARIANT_TYPE("(v)"),
	    G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	GVariant *value = NULL;

	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &value);
	return value;
}

static gchar *
ck_hooks_string(CkHooks *h, const gchar *id, const gchar *name)
{
	g_autoptr(GVariant) value = ck_hooks_property(h, id, name);
	return g_variant_dup_string(value, NULL);
}

static guint64
ck_hooks_number(CkHooks *h, const gchar *id, const gchar *name)
{
	g_autoptr(GVariant) value = ck_hooks_property(h, id, name);
	if (g_variant_is_of_type(value, G_VARIANT_TYPE_UINT32))
		return g_variant_get_uint32(value);
	return g_variant_get_uint64(value);
}

static void
ck_hooks_assert_string(CkHooks *h, const gchar *id, const gchar *name, const gchar *expected)
{
	g_autofree gchar *value = ck_hooks_string(h, id, name);
	g_assert_cmpstr(value, ==, expected);
}

static gboolean
ck_hooks_state_is(CkHooks *h, const gchar *id, const gchar *state)
{
	g_autofree gchar *now = ck_hooks_string(h, id, "State");
	return g_strcmp0(now, state) == 0;
}

/* Restarts the TLS peer when a hook asks for it (restart.request -> restart.done). */
static void
ck_hooks_serve_restarts(CkHooks *h)
{
	g_autofree gchar *request = NULL;

	if (h->peer == NULL)
		return;
	request = ck_hooks_out(h, "restart.request");
	if (!g_file_test(request, G_FILE_TEST_EXISTS))
		return;
	g_unlink(request);
	ck_tls_peer_stop(h->peer);
	ck_tls_peer_start(h->peer);
	ck_hooks_flag(h, "restart.done", "");
}

typedef gboolean (*CkHooksCondition)(CkHooks *h, gconstpointer data);

/* Polls @cond every 10 ms for at most @timeout_ms, restarting the peer on demand. */
static gboolean
ck_hooks_wait(CkHooks *h, CkHooksCondition cond, gconstpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	while (!cond(h, data)) {
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		ck_hooks_serve_restarts(h);
		g_usleep(10 * 1000);
	}
	return TRUE;
}

typedef struct {
	const gchar *id;
	const gchar *serial; /* the one it must no longer be, NULL: any */
} CkHooksRenewed;

/* MONITORING with a certificate other than @serial. */
static gboolean
ck_hooks_cond_installed(CkHooks *h, gconstpointer data)
{
	const CkHooksRenewed *r = data;
	g_autofree gchar *serial = ck_hooks_string(h, r->id, "Serial");
	return ck_hooks_state_is(h, r->id, "MONITORING") && serial[0] != '\0' &&
	       g_strcmp0(serial, r->serial) != 0;
}

static void
ck_hooks_wait_installed(CkHooks *h, const gchar *id, const gchar *old_serial)
{
	CkHooksRenewed r = {id, old_serial};
	g_assert_true(ck_hooks_wait(h, ck_hooks_cond_installed, &r, 30000));
}

/* What the hooks recorded */

static gchar *
ck_hooks_read(const gchar *path)
{
	gchar *text = NULL;
	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	return text;
}

static gchar *
ck_hooks_read_out(CkHooks *h, const gchar *name)
{
	g_autofree gchar *path = ck_hooks_out(h, name);
	gchar *text = ck_hooks_read(path);
	g_assert_nonnull(text);
	return g_strstrip(text);
}

/* How many lines of OUT/events begin with @prefix ("post rollback"). */
static guint
ck_hooks_count_events(CkHooks *h, const gchar *prefix)
{
	g_autofree gchar *path = ck_hooks_out(h, "events");
	g_autofree gchar *text = ck_hooks_read(path);
	g_auto(GStrv) lines = text != NULL ? g_strsplit(text, "\n", -1) : NULL;
	g_autofree gchar *with_space = g_strconcat(prefix, " ", NULL);
	guint n = 0;

	for (guint i = 0; lines != NULL && lines[i] != NULL; i++) {
		if (g_strcmp0(lines[i], prefix) == 0 || g_str_has_prefix(lines[i], with_space))
			n++;
	}
	return n;
}

/* The value of @name in an `env` dump, NULL when it is not set. */
static gchar *
ck_hooks_env_value(const gchar *env, const gchar *name)
{
	g_auto(GStrv) lines = g_strsplit(env, "\n", -1);
	g_autofree gchar *prefix = g_strconcat(name, "=", NULL);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_str_has_prefix(lines[i], prefix))
			return g_strdup(lines[i] + strlen(prefix));
	}
	return NULL;
}

static void
ck_hooks_assert_env(const gchar *env, const gchar *name, const gchar *expected)
{
	g_autofree gchar *value = ck_hooks_env_value(env, name);
	g_test_message("%s=%s", name, value != NULL ? value : "(unset)");
	g_assert_cmpstr(value, ==, expected);
}

/* The serial of the certificate in @path as openssl reads it (lowercase hex), NULL if none. */
static gchar *
ck_hooks_file_serial(const gchar *path)
{
	const gchar *argv[] = {"openssl", "x509", "-in", path, "-noout", "-serial", NULL};
	g_autofree gchar *out = NULL;

	if (ck_test_run(argv, &out, NULL) != 0 || !g_str_has_prefix(out, "serial="))
		return NULL;
	return g_ascii_strdown(g_strstrip(out + strlen("serial=")), -1);
}

/* What a hook's `openssl x509 -serial` recorded, in the same form. */
static gchar *
ck_hooks_recorded_serial(CkHooks *h, const gchar *name)
{
	g_autofree gchar *text = ck_hooks_read_out(h, name);
	if (!g_str_has_prefix(text, "serial="))
		return g_strdup(text);
	return g_ascii_strdown(text + strlen("serial="), -1);
}

static gchar *
ck_hooks_public_key(const gchar *subcommand, const gchar *path)
{
	const gchar *argv_x509[] = {"openssl", "x509", "-in", path, "-noout", "-pubkey", NULL};
	const gchar *argv_pkey[] = {"openssl", "pkey", "-in", path, "-pubout", NULL};
	g_autofree gchar *out = NULL;

	g_assert_cmpint(
	    ck_test_run(g_strcmp0(subcommand, "x509") == 0 ? argv_x509 : argv_pkey, &out, NULL), ==,
	    0);
	return g_steal_pointer(&out);
}

static void
ck_hooks_assert_key_matches(const gchar *cert, const gchar *key)
{
	g_autofree gchar *cert_pub = ck_hooks_public_key("x509", cert);
	g_autofree gchar *key_pub = ck_hooks_public_key("pkey", key);
	g_assert_cmpstr(cert_pub, ==, key_pub);
}

/* The Serial property, the certificate file and the key agree. */
static void
ck_hooks_assert_installed(CkHooks *h, const gchar *id, const gchar *serial)
{
	g_autofree gchar *cert = ck_hooks_file(h, id, ".crt");
	g_autofree gchar *key = ck_hooks_file(h, id, ".key");
	g_autofree gchar *property = ck_hooks_string(h, id, "Serial");
	g_autofree gchar *in_file = ck_hooks_file_serial(cert);

	g_assert_cmpstr(property, ==, serial);
	g_assert_cmpstr(in_file, ==, serial);
	ck_hooks_assert_key_matches(cert, key);
}

/* Only the live files of @id are in the certificate directory, unless @backups. */
static void
ck_hooks_assert_no_leftovers(CkHooks *h, const gchar *id, gboolean backups)
{
	g_autoptr(GDir) dir = g_dir_open(h->certs, 0, NULL);
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		if (!g_str_has_prefix(name, id))
			continue;
		g_test_message("%s: %s", h->certs, name);
		g_assert_false(g_str_has_suffix(name, ".ck-new"));
		if (!backups)
			g_assert_false(g_str_has_suffix(name, ".ck-prev"));
	}
}

static gchar *
ck_hooks_file_bytes(CkHooks *h, const gchar *id, const gchar *suffix)
{
	g_autofree gchar *path = ck_hooks_file(h, id, suffix);
	gchar *bytes = ck_hooks_read(path);
	g_assert_nonnull(bytes);
	return bytes;
}

/* 1: pre-save and post-save commands, their environment, order and user */

static void
test_hooks_pre_and_post_save(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", NULL);
	g_autofree gchar *pre = NULL, *post = NULL, *combined = NULL;
	g_autofree gchar *first = NULL, *second = NULL, *subject = NULL;
	g_autofree gchar *events = NULL, *expected_events = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *chain = NULL;
	g_autofree gchar *not_after = NULL;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	pre = ck_hooks_command(h, "pre");
	post = ck_hooks_command(h, "post");
	combined = ck_hooks_file(h, "envtest", ".pem");
	{
		const gchar *extra[] = {
		    "-B",     pre, "-C", post, "--hook-user", "nobody", "--combined-file",
		    combined, NULL};
		g_assert_cmpint(ck_hooks_request(h, "envtest", TRUE, extra), ==, 0);
	}
	first = ck_hooks_string(h, "envtest", "Serial");
	g_assert_cmpuint(strlen(first), ==, 32);
	cert = ck_hooks_file(h, "envtest", ".crt");
	key = ck_hooks_file(h, "envtest", ".key");
	chain = ck_hooks_file(h, "envtest", "-chain.crt");
	subject = ck_hooks_string(h, "envtest", "Subject");

	/* the first issuance: before it there is no certificate at all */
	{
		g_autofree gchar *env = ck_hooks_read_out(h, "pre-1.env");
		g_autofree gchar *seen = ck_hooks_recorded_serial(h, "pre-1.serial");
		g_autofree gchar *serial = ck_hooks_env_value(env, "CERTKEEPER_SERIAL");
		ck_hooks_assert_env(env, "CERTKEEPER_EVENT", "pre-save");
		ck_hooks_assert_env(env, "CERTKEEPER_REQUEST_ID", "envtest");
		g_assert_cmpstr(seen, ==, "none");
		g_assert_true(serial == NULL || serial[0] == '\0');
	}
	{
		g_autofree gchar *env = ck_hooks_read_out(h, "post-1.env");
		g_autofree gchar *seen = ck_hooks_recorded_serial(h, "post-1.serial");
		ck_hooks_assert_env(env, "CERTKEEPER_EVENT", "post-save");
		ck_hooks_assert_env(env, "CERTKEEPER_SERIAL", first);
		g_assert_cmpstr(seen, ==, first);
	}

	/* a renewal: pre-save sees the old certificate in place, post-save the new one */
	ck_hooks_resubmit(h, "envtest", TRUE);
	second = ck_hooks_string(h, "envtest", "Serial");
	g_assert_cmpstr(second, !=, first);
	ck_hooks_assert_installed(h, "envtest", second);
	not_after =
	    g_strdup_printf("%" G_GUINT64_FORMAT, ck_hooks_number(h, "envtest", "NotAfter"));
	{
		g_autofree gchar *env = ck_hooks_read_out(h, "pre-2.env");
		g_autofree gchar *seen = ck_hooks_recorded_serial(h, "pre-2.serial");
		g_autofree gchar *uid = ck_hooks_read_out(h, "pre-2.uid");
		g_assert_cmpstr(seen, ==, first);
		g_assert_cmpstr(uid, ==, "65534");
		ck_hooks_assert_env(env, "CERTKEEPER_EVENT", "pre-save");
		ck_hooks_assert_env(env, "CERTKEEPER_REQUEST_ID", "envtest");
		ck_hooks_assert_env(env, "CERTKEEPER_CA", "local");
		ck_hooks_assert_env(env, "CERTKEEPER_SUBJECT", subject);
		ck_hooks_assert_env(env, "CERTKEEPER_CERT_FILE", cert);
		ck_hooks_assert_env(env, "CERTKEEPER_KEY_FILE", key);
		ck_hooks_assert_env(env, "CERTKEEPER_CHAIN_FILE", chain);
		ck_hooks_assert_env(env, "CERTKEEPER_COMBINED_FILE", combined);
		/* the variables describe the files as they are: still the old certificate */
		ck_hooks_assert_env(env, "CERTKEEPER_SERIAL", first);
	}
	{
		g_autofree gchar *env = ck_hooks_read_out(h, "post-2.env");
		g_autofree gchar *seen = ck_hooks_recorded_serial(h, "post-2.serial");
		g_autofree gchar *uid = ck_hooks_read_out(h, "post-2.uid");
		g_assert_cmpstr(seen, ==, second);
		g_assert_cmpstr(uid, ==, "65534");
		ck_hooks_assert_env(env, "CERTKEEPER_EVENT", "post-save");
		ck_hooks_assert_env(env, "CERTKEEPER_REQUEST_ID", "envtest");
		ck_hooks_assert_env(env, "CERTKEEPER_CA", "local");
		ck_hooks_assert_env(env, "CERTKEEPER_SUBJECT", subject);
		ck_hooks_assert_env(env, "CERTKEEPER_CERT_FILE", cert);
		ck_hooks_assert_env(env, "CERTKEEPER_KEY_FILE", key);
		ck_hooks_assert_env(env, "CERTKEEPER_CHAIN_FILE", chain);
		ck_hooks_assert_env(env, "CERTKEEPER_COMBINED_FILE", combined);
		ck_hooks_assert_env(env, "CERTKEEPER_SERIAL", second);
		ck_hooks_assert_env(env, "CERTKEEPER_NOT_AFTER", not_after);
		ck_hooks_assert_env(env, "CERTKEEPER_DIRECTORY", NULL);
		/* a scrubbed environment: nothing of the daemon's own leaks in */
		ck_hooks_assert_env(env, "NOTIFY_SOCKET", NULL);
		ck_hooks_assert_env(env, "G_DEBUG", NULL);
	}
	/* each hook once per install, pre before post */
	events = ck_hooks_read_out(h, "events");
	expected_events = g_strdup_printf("pre pre-save \npost post-save %s\n"
					  "pre pre-save %s\npost post-save %s",
					  first, first, second);
	g_assert_cmpstr(events, ==, expected_events);
	ck_hooks_assert_string(h, "envtest", "LastError", "");
}

/* 2: a failing pre-save command postpones the install */

static void
test_hooks_pre_save_fails(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", NULL);
	g_autofree gchar *pre = NULL, *first = NULL, *second = NULL, *error = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *chain = NULL;
	const gchar *suffixes[] = {".crt", ".key", "-chain.crt"};
	gchar **before[] = {&cert, &key, &chain};
	guint64 next_attempt;
	gint64 start;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	pre = ck_hooks_command(h, "pre");
	{
		const gchar *extra[] = {"-B", pre, NULL};
		g_assert_cmpint(ck_hooks_request(h, "presave", TRUE, extra), ==, 0);
	}
	first = ck_hooks_string(h, "presave", "Serial");
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++)
		*before[i] = ck_hooks_file_bytes(h, "presave", suffixes[i]);

	/* the service is not ready for new files: exit 3 */
	ck_hooks_flag(h, "pre.fail", "3");
	ck_hooks_resubmit(h, "presave", FALSE);
	start = g_get_monotonic_time();
	while (ck_hooks_number(h, "presave", "FailedAttempts") < 1) {
		g_assert_cmpint(g_get_monotonic_time() - start, <, 20 * G_USEC_PER_SEC);
		g_usleep(10 * 1000);
	}
	/* read at once: the retry comes within a second (RetryDelay=1s) and clears it */
	next_attempt = ck_hooks_number(h, "presave", "NextAttempt");
	error = ck_hooks_string(h, "presave", "LastError");
	g_test_message("LastError: %s", error);
	g_assert_nonnull(strstr(error, "pre-save command"));
	g_assert_nonnull(strstr(error, "status 3"));
	g_assert_nonnull(strstr(error, "pre hook failed on purpose"));
	ck_hooks_assert_string(h, "presave", "State", "SAVING_CERT");
	g_assert_cmpuint(next_attempt, >, 0);

	/* with RetryDelay=1s it tries again soon, and fails again */
	while (ck_hooks_number(h, "presave", "FailedAttempts") < 2) {
		g_assert_cmpint(g_get_monotonic_time() - start, <, 20 * G_USEC_PER_SEC);
		g_usleep(10 * 1000);
	}
	g_assert_cmpuint(ck_hooks_count_events(h, "pre pre-save"), >=, 3);
	/* nothing live was touched */
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree gchar *now = ck_hooks_file_bytes(h, "presave", suffixes[i]);
		g_assert_cmpstr(now, ==, *before[i]);
	}
	ck_hooks_assert_string(h, "presave", "Serial", first);
	ck_hooks_assert_no_leftovers(h, "presave", FALSE);

	/* the service is ready: the next retry installs the new certificate */
	ck_hooks_flag(h, "pre.fail", NULL);
	ck_hooks_wait_installed(h, "presave", first);
	second = ck_hooks_string(h, "presave", "Serial");
	ck_hooks_assert_installed(h, "presave", second);
	g_assert_cmpuint(ck_hooks_number(h, "presave", "FailedAttempts"), ==, 0);
	ck_hooks_assert_string(h, "presave", "LastError", "");
	{
		g_autofree gchar *now = ck_hooks_file_bytes(h, "presave", ".crt");
		g_assert_cmpstr(now, !=, cert);
	}
}

/* 3: a failing post-save command is reported; the certificate stays */

static void
test_hooks_post_save_fails(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", NULL);
	g_autofree gchar *post = NULL, *first = NULL, *second = NULL;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	post = ck_hooks_command(h, "post");
	ck_hooks_flag(h, "post.fail", "5");
	{
		const gchar *extra[] = {"-C", post, NULL};
		g_assert_cmpint(ck_hooks_request(h, "postsave", TRUE, extra), ==, 0);
	}
	first = ck_hooks_string(h, "postsave", "Serial");
	ck_hooks_assert_installed(h, "postsave", first);

	ck_hooks_resubmit(h, "postsave", TRUE);
	second = ck_hooks_string(h, "postsave", "Serial");
	g_assert_cmpstr(second, !=, first);
	ck_hooks_assert_string(h, "postsave", "State", "MONITORING");
	{
		g_autofree gchar *error = ck_hooks_string(h, "postsave", "LastError");
		g_test_message("LastError: %s", error);
		g_assert_nonnull(strstr(error, "post-save command"));
		g_assert_nonnull(strstr(error, "status 5"));
		g_assert_nonnull(strstr(error, "post hook failed on purpose"));
	}
	/* the new certificate is what is installed, and no rollback happened */
	ck_hooks_assert_installed(h, "postsave", second);
	g_assert_cmpuint(ck_hooks_count_events(h, "post post-save"), ==, 2);
	g_assert_cmpuint(ck_hooks_count_events(h, "post rollback"), ==, 0);
	g_assert_cmpuint(ck_hooks_number(h, "postsave", "FailedAttempts"), ==, 0);
	g_assert_cmpuint(ck_hooks_number(h, "postsave", "NextAttempt"), ==, 0);
	ck_hooks_assert_no_leftovers(h, "postsave", TRUE);
}

/* 4: signals to the process a PID file names */

/* A shell that appends the name of every HUP or USR1 it gets to @log. */
static GPid
ck_hooks_spawn_signal_logger(CkHooks *h, const gchar *log, const gchar *pid_file)
{
	g_autofree gchar *script = g_strdup_printf("trap 'echo HUP >> %s' HUP\n"
						   "trap 'echo USR1 >> %s' USR1\n"
						   "while :; do sleep 0.05; done\n",
						   log, log);
	g_autofree gchar *shell_log = ck_test_daemon_path(h->td, "signal-logger.log");
	g_autofree gchar *pid_text = NULL;
	const gchar *argv[] = {"sh", "-c", script, NULL};
	GPid pid = ck_hooks_spawn(argv, shell_log);

	pid_text = g_strdup_printf("%d\n", (int)pid);
	g_free(ck_test_write_file(h->td->dir, pid_file, pid_text));
	return pid;
}

static guint
ck_hooks_count_lines(const gchar *path)
{
	g_autofree gchar *text = ck_hooks_read(path);
	guint n = 0;
	for (const gchar *p = text; p != NULL && *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

/* What @path holds once it has @lines lines (at most 5 s), and a little later. */
static gchar *
ck_hooks_wait_lines(const gchar *path, guint lines)
{
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	gchar *text;

	while (ck_hooks_count_lines(path) < lines && g_get_monotonic_time() < deadline)
		g_usleep(10 * 1000);
	/* a trap runs when the shell's sleep is over: give one more signal time to show */
	g_usleep(200 * 1000);
	text = ck_hooks_read(path);
	return text != NULL ? text : g_strdup("");
}

static void
test_hooks_pid_file(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", NULL);
	g_autofree gchar *hup_log = NULL, *usr1_log = NULL;
	g_autofree gchar *hup_pid = NULL, *usr1_pid = NULL, *dead_pid = NULL;
	g_autofree gchar *text = NULL, *error = NULL, *dead_text = NULL;
	GPid hup = 0, usr1 = 0, dead = 0;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	hup_log = ck_test_daemon_path(h->td, "hup.log");
	usr1_log = ck_test_daemon_path(h->td, "usr1.log");
	hup_pid = ck_test_daemon_path(h->td, "hup.pid");
	usr1_pid = ck_test_daemon_path(h->td, "usr1.pid");
	dead_pid = ck_test_daemon_path(h->td, "dead.pid");
	hup = ck_hooks_spawn_signal_logger(h, hup_log, "hup.pid");
	usr1 = ck_hooks_spawn_signal_logger(h, usr1_log, "usr1.pid");

	{
		const gchar *extra[] = {"--pid-file", hup_pid, NULL};
		g_assert_cmpint(ck_hooks_request(h, "pidhup", TRUE, extra), ==, 0);
	}
	{
		const gchar *extra[] = {"--pid-file", usr1_pid, "--pid-signal", "USR1", NULL};
		g_assert_cmpint(ck_hooks_request(h, "pidusr", TRUE, extra), ==, 0);
	}
	text = ck_hooks_wait_lines(hup_log, 1);
	g_assert_cmpstr(text, ==, "HUP\n");
	g_clear_pointer(&text, g_free);
	text = ck_hooks_wait_lines(usr1_log, 1);
	g_assert_cmpstr(text, ==, "USR1\n");
	g_clear_pointer(&text, g_free);

	/* once per install */
	ck_hooks_resubmit(h, "pidhup", TRUE);
	ck_hooks_resubmit(h, "pidusr", TRUE);
	text = ck_hooks_wait_lines(hup_log, 2);
	g_assert_cmpstr(text, ==, "HUP\nHUP\n");
	g_clear_pointer(&text, g_free);
	text = ck_hooks_wait_lines(usr1_log, 2);
	g_assert_cmpstr(text, ==, "USR1\nUSR1\n");
	g_assert_true(ck_hooks_alive(&hup));
	g_assert_true(ck_hooks_alive(&usr1));
	ck_hooks_assert_string(h, "pidhup", "LastError", "");
	ck_hooks_assert_string(h, "pidusr", "LastError", "");

	/* a PID file naming a process that is gone */
	{
		const gchar *argv[] = {"true", NULL};
		g_autofree gchar *log = ck_test_daemon_path(h->td, "dead.log");
		int status;
		dead = ck_hooks_spawn(argv, log);
		waitpid(dead, &status, 0);
		dead_text = g_strdup_printf("%d\n", (int)dead);
		g_free(ck_test_write_file(h->td->dir, "dead.pid", dead_text));
	}
	{
		const gchar *extra[] = {"--pid-file", dead_pid, NULL};
		g_assert_cmpint(ck_hooks_request(h, "piddead", TRUE, extra), ==, 0);
	}
	error = ck_hooks_string(h, "piddead", "LastError");
	g_test_message("LastError: %s", error);
	g_assert_nonnull(strstr(error, "SIGHUP"));
	g_assert_nonnull(strstr(error, dead_pid));
	g_assert_nonnull(strstr(error, "No such process"));
	/* the certificate is installed all the same */
	{
		g_autofree gchar *serial = ck_hooks_string(h, "piddead", "Serial");
		ck_hooks_assert_installed(h, "piddead", serial);
	}
	ck_hooks_kill(&hup);
	ck_hooks_kill(&usr1);
}

/* 5: systemd unit reloads */

static void
ck_hooks_assert_calls(CkFakeSystemd *fake, const gchar *unit, const gchar *expected)
{
	g_auto(GStrv) calls = ck_fake_systemd_calls_for(fake, unit);
	g_autofree gchar *joined = g_strjoinv(", ", calls);
	g_test_message("%s: %s", unit, joined);
	g_assert_cmpstr(joined, ==, expected);
}

static gboolean
ck_hooks_cond_called(CkHooks *h, gconstpointer unit)
{
	g_auto(GStrv) calls = ck_fake_systemd_calls_for(h->systemd, unit);
	return calls[0] != NULL;
}

static gboolean
ck_hooks_cond_unsubscribed(CkHooks *h, gconstpointer data)
{
	return !ck_fake_systemd_is_subscribed(h->systemd);
}

static void
test_hooks_systemd_reload(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", NULL);
	const struct {
		const gchar *mode; /* NULL: the default */
		const gchar *method;
	} modes[] = {
	    {"reload", "ReloadUnit"},
	    {"restart", "RestartUnit"},
	    {"try-restart", "TryRestartUnit"},
	    {"reload-or-restart", "ReloadOrRestartUnit"},
	    {"reload-or-try-restart", "ReloadOrTryRestartUnit"},
	    {NULL, "ReloadOrRestartUnit"},
	};

	if (h == NULL)
		return;
	h->systemd = ck_fake_systemd_new(h->td->dir);
	g_ptr_array_add(h->td->extra_args,
			g_strdup_printf("--systemd-bus=%s", h->systemd->address));
	ck_hooks_start(h);

	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autofree gchar *id = g_strdup_printf("unit%u", i);
		g_autofree gchar *unit = g_strdup_printf("svc%u.service", i);
		g_autofree gchar *expected = g_strdup_printf("%s replace", modes[i].method);
		const gchar *extra[] = {"--reload-unit", unit,
					modes[i].mode != NULL ? "--reload-mode" : NULL,
					modes[i].mode, NULL};
		g_test_message("reload mode %s",
			       modes[i].mode != NULL ? modes[i].mode : "(default)");
		g_assert_cmpint(ck_hooks_request(h, id, TRUE, extra), ==, 0);
		ck_hooks_assert_calls(h->systemd, unit, expected);
		ck_hooks_assert_string(h, id, "LastError", "");
	}
	/*
	 * Job signals only come to subscribers, but a subscriber hears of every job
	 * of the host: certkeeperd subscribes for its own jobs only, and unsubscribes
	 * once none is pending (one subscription per reload here, as they never overlap).
	 */
	g_assert_cmpuint(ck_fake_systemd_subscribes(h->systemd), ==, G_N_ELEMENTS(modes));
	g_assert_true(ck_hooks_wait(h, ck_hooks_cond_unsubscribed, NULL, 5000));

	/* a renewal reloads again */
	ck_hooks_resubmit(h, "unit0", TRUE);
	ck_hooks_assert_calls(h->systemd, "svc0.service", "ReloadUnit replace, ReloadUnit replace");

	/* a job that is over before its reply comes */
	{
		const gchar *extra[] = {"--reload-unit", "early.service", NULL};
		g_assert_cmpint(ck_hooks_request(h, "early", TRUE, extra), ==, 0);
		ck_hooks_assert_calls(h->systemd, "early.service", "ReloadOrRestartUnit replace");
		ck_hooks_assert_string(h, "early", "LastError", "");
	}

	/* the request is done only when the job is */
	{
		const gchar *extra[] = {"--reload-unit", "held.service", "--reload-mode", "restart",
					NULL};
		gint64 until;
		g_assert_cmpint(ck_hooks_request(h, "held", FALSE, extra), ==, 0);
		g_assert_true(ck_hooks_wait(h, ck_hooks_cond_called, "held.service", 20000));
		until = g_get_monotonic_time() + 300 * 1000;
		while (g_get_monotonic_time() < until) {
			ck_hooks_assert_string(h, "held", "State", "POST_SAVED");
			g_usleep(20 * 1000);
		}
		g_assert_true(ck_fake_systemd_is_subscribed(h->systemd));
		ck_fake_systemd_release(h->systemd);
		ck_hooks_wait_installed(h, "held", NULL);
		ck_hooks_assert_string(h, "held", "LastError", "");
		ck_hooks_assert_calls(h->systemd, "held.service", "RestartUnit replace");
	}
	/* subscribed while the held job was pending, and no longer now */
	g_assert_true(ck_hooks_wait(h, ck_hooks_cond_unsubscribed, NULL, 5000));

	/* a job that failed is reported; the certificate stays */
	{
		const gchar *extra[] = {"--reload-unit", "failing.service", NULL};
		g_autofree gchar *error = NULL;
		g_autofree gchar *serial = NULL;
		g_assert_cmpint(ck_hooks_request(h, "failing", TRUE, extra), ==, 0);
		error = ck_hooks_string(h, "failing", "LastError");
		g_test_message("LastError: %s", error);
		g_assert_nonnull(strstr(error, "failing.service"));
		g_assert_nonnull(strstr(error, "'failed'"));
		ck_hooks_assert_string(h, "failing", "State", "MONITORING");
		serial = ck_hooks_string(h, "failing", "Serial");
		ck_hooks_assert_installed(h, "failing", serial);
		g_assert_cmpuint(ck_hooks_number(h, "failing", "FailedAttempts"), ==, 0);
	}
}

/* 6: the post-install TLS check with real peers */

typedef struct {
	const gchar *id;
	guint rollbacks; /* how many the post-save hook must have seen */
} CkHooksRolledBack;

static gboolean
ck_hooks_cond_rolled_back(CkHooks *h, gconstpointer data)
{
	const CkHooksRolledBack *r = data;
	return ck_hooks_count_events(h, "post rollback") >= r->rollbacks &&
	       ck_hooks_state_is(h, r->id, "MONITORING");
}

/*
 * Renews @id and waits for its rollback (the @nth): the old certificate is back,
 * in the files and on the bus, the post-save hook ran again for it, no staged
 * file or backup is left, and LastError says why (it contains @why).
 */
static void
ck_hooks_assert_rollback(CkHooks *h, const gchar *id, guint nth, const gchar *why)
{
	CkHooksRolledBack r = {id, nth};
	g_autofree gchar *old = ck_hooks_string(h, id, "Serial");
	g_autofree gchar *cert = ck_hooks_file_bytes(h, id, ".crt");
	g_autofree gchar *key = ck_hooks_file_bytes(h, id, ".key");
	g_autofree gchar *error = NULL;
	g_autofree gchar *events = NULL;
	g_autofree gchar *rollback_line = NULL;
	g_auto(GStrv) lines = NULL;
	guint n, i;

	ck_hooks_resubmit(h, id, FALSE);
	g_assert_true(ck_hooks_wait(h, ck_hooks_cond_rolled_back, &r, 30000));
	ck_hooks_assert_installed(h, id, old);
	{
		g_autofree gchar *cert_now = ck_hooks_file_bytes(h, id, ".crt");
		g_autofree gchar *key_now = ck_hooks_file_bytes(h, id, ".key");
		g_assert_cmpstr(cert_now, ==, cert);
		g_assert_cmpstr(key_now, ==, key);
	}
	error = ck_hooks_string(h, id, "LastError");
	g_test_message("LastError: %s", error);
	g_assert_nonnull(strstr(error, "post-install check"));
	g_assert_nonnull(strstr(error, "rolled back"));
	g_assert_nonnull(strstr(error, why));
	g_assert_cmpuint(ck_hooks_number(h, id, "FailedAttempts"), ==, 1);
	/* no retry during the test: RetryDelay is long here */
	g_assert_cmpuint(ck_hooks_number(h, id, "NextAttempt"), >,
			 (guint64)(g_get_real_time() / G_USEC_PER_SEC + 10));
	/* the hook saw the new certificate, then the old one back with EVENT=rollback */
	events = ck_hooks_read_out(h, "events");
	lines = g_strsplit(events, "\n", -1);
	n = g_strv_length(lines);
	g_assert_cmpuint(n, >=, 2);
	rollback_line = g_strdup_printf("post rollback %s", old);
	g_assert_cmpstr(lines[n - 1], ==, rollback_line);
	/* before it, after the post-save hook, only a check command may have run */
	for (i = n - 2; i > 0 && g_str_has_prefix(lines[i], "check "); i--)
		;
	g_assert_true(g_str_has_prefix(lines[i], "post post-save "));
	g_assert_cmpstr(lines[i] + strlen("post post-save "), !=, old);
	/* the backup went back into place: nothing staged, no backup left */
	ck_hooks_assert_no_leftovers(h, id, FALSE);
}

static void
test_hooks_tls_check_server(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("30s", "60s", NULL);
	g_autofree gchar *post = NULL, *endpoint = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *first = NULL, *second = NULL, *key_before = NULL;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	cert = ck_hooks_file(h, "tlsserver", ".crt");
	key = ck_hooks_file(h, "tlsserver", ".key");
	/* the server serves the request's own files; its post-save hook restarts it */
	h->peer = ck_tls_peer_new(h->td->dir, cert, key, NULL);
	endpoint = ck_tls_peer_endpoint(h->peer);
	post = ck_hooks_command(h, "post");
	ck_hooks_flag(h, "post.restart", "");
	{
		const gchar *extra[] = {"-C",    post, "--check-endpoint", endpoint, "--key-policy",
					"reuse", NULL};
		g_assert_cmpint(ck_hooks_request(h, "tlsserver", FALSE, extra), ==, 0);
	}
	ck_hooks_wait_installed(h, "tlsserver", NULL);
	g_assert_cmpuint(h->peer->starts, ==, 1);
	first = ck_hooks_string(h, "tlsserver", "Serial");
	ck_hooks_assert_installed(h, "tlsserver", first);
	ck_hooks_assert_string(h, "tlsserver", "LastError", "");
	key_before = ck_hooks_file_bytes(h, "tlsserver", ".key");

	/* a renewal: the restarted server presents the new certificate, the check passes */
	ck_hooks_resubmit(h, "tlsserver", FALSE);
	ck_hooks_wait_installed(h, "tlsserver", first);
	g_assert_cmpuint(h->peer->starts, ==, 2);
	second = ck_hooks_string(h, "tlsserver", "Serial");
	ck_hooks_assert_installed(h, "tlsserver", second);
	ck_hooks_assert_string(h, "tlsserver", "LastError", "");
	{
		g_autofree gchar *key_now = ck_hooks_file_bytes(h, "tlsserver", ".key");
		g_assert_cmpstr(key_now, ==, key_before);
	}
	g_assert_cmpuint(ck_hooks_count_events(h, "post rollback"), ==, 0);

	/* the server is not restarted: it still presents the old certificate for this key */
	ck_hooks_flag(h, "post.restart", NULL);
	ck_hooks_assert_rollback(h, "tlsserver", 1, "older certificate");
	g_assert_cmpuint(h->peer->starts, ==, 2);
}

/* A self-signed certificate made with openssl: @name.crt and @name.key in @dir. */
static void
ck_hooks_self_signed(const gchar *dir, const gchar *name, const gchar *cn)
{
	g_autofree gchar *crt = g_strdup_printf("%s/%s.crt", dir, name);
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", dir, name);
	g_autofree gchar *subj = g_strdup_printf("/CN=%s", cn);
	const gchar *argv[] = {
	    "openssl", "req",   "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes",  "-days", "2",     "-subj",   subj, "-keyout",  key,
	    "-out",    crt,     NULL};
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
}

static guint
ck_hooks_count_in(const gchar *path, const gchar *needle)
{
	g_autofree gchar *text = ck_hooks_read(path);
	guint n = 0;
	for (const gchar *p = text; p != NULL && (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void
test_hooks_tls_check_client_cert(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("30s", "60s", NULL);
	g_autofree gchar *post = NULL, *endpoint = NULL, *root = NULL;
	g_autofree gchar *peer_crt = NULL, *peer_key = NULL, *other_ca = NULL;
	g_autofree gchar *first = NULL, *second = NULL;
	guint verified;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	/* the server's own certificate comes from the local CA too (which that creates) */
	g_assert_cmpint(ck_hooks_request(h, "tlspeer", TRUE, NULL), ==, 0);
	peer_crt = ck_hooks_file(h, "tlspeer", ".crt");
	peer_key = ck_hooks_file(h, "tlspeer", ".key");
	root = g_build_filename(h->td->state_dir, "local-ca", "root.pem", NULL);
	g_assert_true(g_file_test(root, G_FILE_TEST_IS_REGULAR));
	ck_hooks_self_signed(h->td->dir, "other-ca", "Some other CA");
	other_ca = ck_test_daemon_path(h->td, "other-ca.crt");

	/* mutual TLS: the server demands a client certificate from our local CA */
	h->peer = ck_tls_peer_new(h->td->dir, peer_crt, peer_key, root);
	ck_tls_peer_start(h->peer);
	endpoint = ck_tls_peer_endpoint(h->peer);
	post = ck_hooks_command(h, "post");
	{
		const gchar *extra[] = {"-U",     "clientAuth", "-C", post, "--check-endpoint",
					endpoint, NULL};
		g_assert_cmpint(ck_hooks_request(h, "tlsclient", TRUE, extra), ==, 0);
	}
	first = ck_hooks_string(h, "tlsclient", "Serial");
	ck_hooks_assert_installed(h, "tlsclient", first);
	ck_hooks_assert_string(h, "tlsclient", "LastError", "");
	/* the server did see and verify our certificate */
	verified = ck_hooks_count_in(h->peer->log, "CN = tlsclient.example");
	g_assert_cmpuint(verified, >=, 1);

	/* a renewal: the check presents the new pair, and passes */
	ck_hooks_resubmit(h, "tlsclient", TRUE);
	second = ck_hooks_string(h, "tlsclient", "Serial");
	g_assert_cmpstr(second, !=, first);
	ck_hooks_assert_installed(h, "tlsclient", second);
	ck_hooks_assert_string(h, "tlsclient", "LastError", "");
	g_assert_cmpuint(ck_hooks_count_in(h->peer->log, "CN = tlsclient.example"), >, verified);

	/* nothing listens there any more: rolled back */
	ck_tls_peer_stop(h->peer);
	ck_hooks_assert_rollback(h, "tlsclient", 1, "cannot connect");

	/* a server that does not trust our CA refuses the new pair: rolled back */
	g_free(h->peer->client_ca);
	h->peer->client_ca = g_strdup(other_ca);
	ck_tls_peer_start(h->peer);
	ck_hooks_assert_rollback(h, "tlsclient", 2, "refused the new certificate: CA is unknown");
}

/* 7: the check command */

static void
test_hooks_check_command(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("30s", "60s", NULL);
	g_autofree gchar *post = NULL, *check = NULL, *first = NULL, *third = NULL;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	post = ck_hooks_command(h, "post");
	check = ck_hooks_command(h, "check");
	{
		const gchar *extra[] = {"-C", post, "--check-command", check, NULL};
		g_assert_cmpint(ck_hooks_request(h, "checked", TRUE, extra), ==, 0);
	}
	first = ck_hooks_string(h, "checked", "Serial");
	ck_hooks_assert_installed(h, "checked", first);
	ck_hooks_assert_string(h, "checked", "LastError", "");
	/* the check runs after the install, with the new certificate in place */
	{
		g_autofree gchar *env = ck_hooks_read_out(h, "check-1.env");
		g_autofree gchar *seen = ck_hooks_recorded_serial(h, "check-1.serial");
		g_autofree gchar *events = ck_hooks_read_out(h, "events");
		g_autofree gchar *expected =
		    g_strdup_printf("post post-save %s\ncheck check %s", first, first);
		ck_hooks_assert_env(env, "CERTKEEPER_EVENT", "check");
		ck_hooks_assert_env(env, "CERTKEEPER_SERIAL", first);
		g_assert_cmpstr(seen, ==, first);
		g_assert_cmpstr(events, ==, expected);
	}

	/* a failing check: rolled back, and the check does not run for the old files */
	ck_hooks_flag(h, "check.fail", "4");
	ck_hooks_assert_rollback(h, "checked", 1, "status 4");
	g_assert_cmpuint(ck_hooks_count_events(h, "check"), ==, 2);

	/* a passing check keeps the new certificate */
	ck_hooks_flag(h, "check.fail", NULL);
	ck_hooks_resubmit(h, "checked", TRUE);
	third = ck_hooks_string(h, "checked", "Serial");
	g_assert_cmpstr(third, !=, first);
	ck_hooks_assert_installed(h, "checked", third);
	ck_hooks_assert_string(h, "checked", "LastError", "");
	g_assert_cmpuint(ck_hooks_number(h, "checked", "FailedAttempts"), ==, 0);
	g_assert_cmpuint(ck_hooks_count_events(h, "post rollback"), ==, 1);
	ck_hooks_assert_no_leftovers(h, "checked", TRUE);
}

/* 8: the directory layout */

static gchar *
ck_hooks_readlink(const gchar *dir, const gchar *name)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autoptr(GError) error = NULL;
	gchar *dest = g_file_read_link(path, &error);
	g_assert_no_error(error);
	return dest;
}

static void
test_hooks_directory_layout(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", "KeepPrevious=2s\n");
	g_autofree gchar *site = NULL, *post = NULL, *first = NULL, *second = NULL;
	g_autofree gchar *v1 = NULL, *v2 = NULL, *v1_dir = NULL, *v2_dir = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *serial = NULL, *in_file = NULL;
	const gchar *names[] = {"cert.pem", "key.pem", "chain.pem", "combined.pem"};
	gint64 installed, last_renewal;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	site = ck_test_daemon_path(h->td, "site");
	g_assert_cmpint(g_mkdir(site, 0755), ==, 0);
	post = ck_hooks_command(h, "post");
	g_assert_cmpint(ck_test_cli(h->td, FALSE, NULL, NULL, NULL, "request", "-I", "dirlayout",
				    "--directory", site, "-N", "CN=dirlayout.example", "-C", post,
				    "-w", "--wait-timeout=30", NULL),
			==, 0);
	cert = g_build_filename(site, "cert.pem", NULL);
	key = g_build_filename(site, "key.pem", NULL);
	first = ck_hooks_string(h, "dirlayout", "Serial");
	in_file = ck_hooks_file_serial(cert);
	g_assert_cmpstr(in_file, ==, first);
	ck_hooks_assert_key_matches(cert, key);

	/* current -> .versions/V; the stable names are links through current */
	v1 = ck_hooks_readlink(site, "current");
	g_assert_true(g_str_has_prefix(v1, ".versions/"));
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *dest = ck_hooks_readlink(site, names[i]);
		g_autofree gchar *expected = g_build_filename("current", names[i], NULL);
		g_assert_cmpstr(dest, ==, expected);
	}
	v1_dir = g_build_filename(site, v1, NULL);
	g_assert_true(g_file_test(v1_dir, G_FILE_TEST_IS_DIR));
	{
		g_autofree gchar *env = ck_hooks_read_out(h, "post-1.env");
		ck_hooks_assert_env(env, "CERTKEEPER_DIRECTORY", site);
		ck_hooks_assert_env(env, "CERTKEEPER_CERT_FILE", cert);
		ck_hooks_assert_env(env, "CERTKEEPER_KEY_FILE", key);
		ck_hooks_assert_env(env, "CERTKEEPER_SERIAL", first);
	}

	/* a renewal: a new version, current switched, the old one kept for now */
	ck_hooks_resubmit(h, "dirlayout", TRUE);
	installed = g_get_monotonic_time();
	second = ck_hooks_string(h, "dirlayout", "Serial");
	g_assert_cmpstr(second, !=, first);
	v2 = ck_hooks_readlink(site, "current");
	g_assert_true(g_str_has_prefix(v2, ".versions/"));
	g_assert_cmpstr(v2, !=, v1);
	g_clear_pointer(&in_file, g_free);
	in_file = ck_hooks_file_serial(cert);
	g_assert_cmpstr(in_file, ==, second);
	ck_hooks_assert_key_matches(cert, key);
	g_assert_true(g_file_test(v1_dir, G_FILE_TEST_IS_DIR));

	/* KeepPrevious=2s: the old version goes about two seconds after the install */
	last_renewal = (gint64)ck_hooks_number(h, "dirlayout", "LastRenewal");
	while (g_file_test(v1_dir, G_FILE_TEST_EXISTS)) {
		g_assert_cmpint(g_get_monotonic_time() - installed, <, 6 * G_USEC_PER_SEC);
		g_usleep(20 * 1000);
	}
	g_test_message("the old version went %" G_GINT64_FORMAT " ms after the install",
		       g_get_real_time() / 1000 - last_renewal * 1000);
	/* the daemon counts whole seconds: not before a second after its LastRenewal */
	g_assert_cmpint(g_get_real_time(), >=, (last_renewal + 1) * G_USEC_PER_SEC);
	v2_dir = g_build_filename(site, v2, NULL);
	g_assert_true(g_file_test(v2_dir, G_FILE_TEST_IS_DIR));
	g_clear_pointer(&in_file, g_free);
	in_file = ck_hooks_file_serial(cert);
	g_assert_cmpstr(in_file, ==, second);
	serial = ck_hooks_string(h, "dirlayout", "Serial");
	g_assert_cmpstr(serial, ==, second);
	ck_hooks_assert_string(h, "dirlayout", "State", "MONITORING");
}

/* 9: no wake-ups while nothing is due */

/* "NAME COUNT" per thread id: the sum of its voluntary and involuntary context switches. */
static GHashTable *
ck_hooks_context_switches(GPid pid)
{
	g_autofree gchar *tasks = g_strdup_printf("/proc/%d/task", (int)pid);
	g_autoptr(GDir) dir = g_dir_open(tasks, 0, NULL);
	GHashTable *threads = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(tasks, name, "status", NULL);
		g_autofree gchar *status = ck_hooks_read(path);
		g_auto(GStrv) lines = status != NULL ? g_strsplit(status, "\n", -1) : NULL;
		const gchar *comm = "?";
		guint64 total = 0;

		if (lines == NULL)
			continue; /* it just ended: the next snapshot misses it */
		for (guint i = 0; lines[i] != NULL; i++) {
			const gchar *colon = strchr(lines[i], ':');
			if (g_str_has_prefix(lines[i], "Name:"))
				comm = g_strstrip(lines[i] + strlen("Name:"));
			else if (g_str_has_prefix(lines[i], "voluntary_ctxt_switches:") ||
				 g_str_has_prefix(lines[i], "nonvoluntary_ctxt_switches:"))
				total += g_ascii_strtoull(colon + 1, NULL, 10);
		}
		g_hash_table_insert(threads, g_strdup(name),
				    g_strdup_printf("%s %" G_GUINT64_FORMAT, comm, total));
	}
	return threads;
}

/* What changed between two snapshots, one line per thread; "" when nothing did. */
static gchar *
ck_hooks_context_switch_changes(GHashTable *before, GHashTable *after)
{
	g_autoptr(GString) changes = g_string_new(NULL);
	GHashTableIter iter;
	gpointer tid, value;

	g_hash_table_iter_init(&iter, before);
	while (g_hash_table_iter_next(&iter, &tid, &value)) {
		const gchar *now = g_hash_table_lookup(after, tid);
		if (g_strcmp0(now, value) != 0)
			g_string_append_printf(changes, "thread %s: %s -> %s\n", (gchar *)tid,
					       (gchar *)value, now != NULL ? now : "(ended)");
	}
	g_hash_table_iter_init(&iter, after);
	while (g_hash_table_iter_next(&iter, &tid, &value)) {
		if (!g_hash_table_contains(before, tid))
			g_string_append_printf(changes, "thread %s: new, %s\n", (gchar *)tid,
					       (gchar *)value);
	}
	return g_string_free(g_steal_pointer(&changes), FALSE);
}

static guint
ck_hooks_count_monitoring(CkHooks *h)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    h->connection, "org.certkeeper.Certkeeper1", MANAGER_PATH,
	    "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
	    G_VARIANT_TYPE("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
	g_autoptr(GVariant) objects = NULL;
	GVariantIter iter;
	GVariant *interfaces;
	guint n = 0;

	g_assert_no_error(error);
	objects = g_variant_get_child_value(reply, 0);
	g_variant_iter_init(&iter, objects);
	while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", NULL, &interfaces)) {
		g_autoptr(GVariant) props = g_variant_lookup_value(interfaces, REQUEST_IFACE, NULL);
		const gchar *state = NULL;
		guint64 not_after = 0;
		if (props != NULL && g_variant_lookup(props, "State", "&s", &state) &&
		    g_variant_lookup(props, "NotAfter", "t", &not_after) &&
		    g_strcmp0(state, "MONITORING") == 0 &&
		    not_after > (guint64)(g_get_real_time() / G_USEC_PER_SEC + 300 * 86400))
			n++;
		g_variant_unref(interfaces);
	}
	return n;
}

static void
test_hooks_idle_wakeups(void)
{
	g_autoptr(CkHooks) h = ck_hooks_new("1s", "2s", NULL);
	const guint n_requests = 300;
	g_autoptr(GHashTable) before = NULL;
	g_autoptr(GHashTable) after = NULL;
	g_autofree gchar *changes = NULL;
	gint64 deadline, start;

	if (h == NULL)
		return;
	ck_hooks_start(h);
	for (guint i = 0; i < n_requests; i++) {
		g_autofree gchar *id = g_strdup_printf("idle%u", i);
		g_autofree gchar *cert = ck_hooks_file(h, id, ".crt");
		g_autofree gchar *key = ck_hooks_file(h, id, ".key");
		g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
		g_autoptr(GVariant) reply = NULL;
		g_autoptr(GError) error = NULL;
		GVariantBuilder options;

		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&options, "{sv}", "id", g_variant_new_string(id));
		g_variant_builder_add(&options, "{sv}", "cert-file", g_variant_new_string(cert));
		g_variant_builder_add(&options, "{sv}", "key-file", g_variant_new_string(key));
		g_variant_builder_add(&options, "{sv}", "subject", g_variant_new_string(subject));
		reply = g_dbus_connection_call_sync(
		    h->connection, "org.certkeeper.Certkeeper1", MANAGER_PATH,
		    "org.certkeeper.Manager1", "AddRequest", g_variant_new("(a{sv})", &options),
		    G_VARIANT_TYPE("(o)"), G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
		g_assert_no_error(error);
	}
	start = g_get_monotonic_time();
	deadline = start + 60 * G_USEC_PER_SEC;
	while (ck_hooks_count_monitoring(h) < n_requests) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100 * 1000);
	}
	g_test_message("%u certificates issued in %" G_GINT64_FORMAT " ms", n_requests,
		       (g_get_monotonic_time() - start) / 1000);
	/*
	 * What the last installs set off ends first (file-watch re-reads, and the heap
	 * trim a second after the last job): a quiet second and a half.
	 */
	before = ck_hooks_context_switches(h->td->daemon_pid);
	deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	for (;;) {
		g_usleep(1500 * 1000);
		after = ck_hooks_context_switches(h->td->daemon_pid);
		changes = ck_hooks_context_switch_changes(before, after);
		g_hash_table_unref(before);
		before = g_steal_pointer(&after);
		if (changes[0] == '\0')
			break;
		g_test_message("still settling:\n%s", changes);
		g_clear_pointer(&changes, g_free);
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
	}
	g_clear_pointer(&changes, g_free);

	g_usleep(5 * G_USEC_PER_SEC);
	after = ck_hooks_context_switches(h->td->daemon_pid);
	changes = ck_hooks_context_switch_changes(before, after);
	g_test_message("%u threads; changes over 5 s:\n%s", g_hash_table_size(before), changes);
	g_assert_cmpstr(changes, ==, "");
	g_assert_true(ck_test_daemon_is_running(h->td));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/hooks/pre-and-post-save", test_hooks_pre_and_post_save);
	g_test_add_func("/certkeeper/hooks/pre-save-fails", test_hooks_pre_save_fails);
	g_test_add_func("/certkeeper/hooks/post-save-fails", test_hooks_post_save_fails);
	g_test_add_func("/certkeeper/hooks/pid-file", test_hooks_pid_file);
	g_test_add_func("/certkeeper/hooks/systemd-reload", test_hooks_systemd_reload);
	g_test_add_func("/certkeeper/hooks/tls-check-server", test_hooks_tls_check_server);
	g_test_add_func("/certkeeper/hooks/tls-check-client-cert",
			test_hooks_tls_check_client_cert);
	g_test_add_func("/certkeeper/hooks/check-command", test_hooks_check_command);
	g_test_add_func("/certkeeper/hooks/directory-layout", test_hooks_directory_layout);
	g_test_add_func("/certkeeper/hooks/idle-wakeups", test_hooks_idle_wakeups);
	return g_test_run();
}
