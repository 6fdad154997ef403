/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Self-service: an unprivileged service account may request and manage its own
 * certificates, within what its rule in policy.d allows, and nothing more.
 *
 * The real daemon on a private bus with the real D-Bus policy file; the callers
 * are real users (setpriv): "daemon" (uid 1), the service account with a rule,
 * "bin" (uid 2), a second account whose rule is in a broken file, and "nobody"
 * (uid 65534), who has none. Their calls are raw D-Bus calls made by this very
 * binary run as that user ("--call", see ss_helper_main()), by busctl and by the
 * CLI; the daemon's state is checked afterwards as root.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define SS_BUS_NAME      "org.certkeeper.Certkeeper1"
#define SS_MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define SS_MANAGER_IFACE "org.certkeeper.Manager1"
#define SS_REQUEST_IFACE "org.certkeeper.Request1"
#define SS_DENIED        "org.certkeeper.Error.AccessDenied"
#define SS_BUS_DENIED    "org.freedesktop.DBus.Error.AccessDenied"

/* The helper: this binary, run as another user, makes one call and prints the answer */

/*
 * test-selfservice --call ADDRESS PATH INTERFACE METHOD [ARGS]: ARGS is a GVariant
 * tuple in text form. Prints "OK\n<reply>" or "ERROR\n<error name>\n<message>".
 */
static int
ss_helper_main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GVariant) args = NULL;
	g_autoptr(GVariant) reply = NULL;

	if (argc < 6)
		return 2;
	if (argc > 6) {
		args = g_variant_parse(NULL, argv[6], NULL, NULL, &error);
		if (args == NULL) {
			g_printerr("cannot parse %s: %s\n", argv[6], error->message);
			return 2;
		}
	}
	connection = g_dbus_connection_new_for_address_sync(
	    argv[2],
	    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
		G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
	    NULL, NULL, &error);
	if (connection == NULL) {
		g_printerr("cannot connect to %s: %s\n", argv[2], error->message);
		return 3;
	}
	reply = g_dbus_connection_call_sync(connection, SS_BUS_NAME, argv[3], argv[4], argv[5],
					    g_steal_pointer(&args), NULL, G_DBUS_CALL_FLAGS_NONE,
					    30000, NULL, &error);
	if (reply == NULL) {
		g_autofree gchar *name = g_dbus_error_get_remote_error(error);
		g_dbus_error_strip_remote_error(error);
		g_print("ERROR\n%s\n%s\n", name != NULL ? name : "(none)", error->message);
		return 0;
	}
	{
		g_autofree gchar *text = g_variant_print(reply, FALSE);
		g_print("OK\n%s\n", text);
	}
	return 0;
}

/* The fixture */

typedef struct {
	CkTestDaemon *td;
	GDBusConnection *root; /* root's own connection, for checking the state */
	gchar *self_exe;
	gchar *svc_dir;    /* daemon's certificate directory (owned by uid 1) */
	gchar *bin_dir;    /* bin's (owned by uid 2) */
	gchar *bin_layout; /* root's, for bin's directory layout */
	gchar *outside;    /* a root-owned directory no rule names */
	gchar *policy_dir; /* the daemon's policy.d */
} Ss;

static void
ss_free(Ss *ss)
{
	if (ss == NULL)
		return;
	g_clear_object(&ss->root);
	ck_test_daemon_free(ss->td);
	g_free(ss->self_exe);
	g_free(ss->svc_dir);
	g_free(ss->bin_dir);
	g_free(ss->bin_layout);
	g_free(ss->outside);
	g_free(ss->policy_dir);
	g_free(ss);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Ss, ss_free)

static gboolean
ss_user_is(const gchar *name, uid_t uid)
{
	struct passwd *pw = getpwnam(name);
	return pw != NULL && pw->pw_uid == uid;
}

static void
ss_write(const gchar *path, const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_file_set_contents(path, text, -1, &error);
	g_assert_no_error(error);
}

static gchar *
ss_mkdir_owned(Ss *ss, const gchar *name, uid_t uid)
{
	g_autofree gchar *dir = ck_test_daemon_path(ss->td, name);
	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	g_assert_cmpint(chown(dir, uid, uid), ==, 0);
	return g_steal_pointer(&dir);
}

/* daemon's rule; bin's rule has a mistake, so its whole file is skipped */
static void
ss_write_policy(Ss *ss, gboolean bin_fixed)
{
	g_autofree gchar *daemon_rule = g_strdup_printf("[user daemon]\n"
							"DNSNames=*.svc.example\n"
							"Directories=%s\n"
							"MaxRequests=2\n"
							"RateLimit=3/1min\n",
							ss->svc_dir);
	g_autofree gchar *bin_rule =
	    g_strdup_printf("[user bin]\n"
			    "DNSNames=*.bin.example\n"
			    "Directories=%s;%s\n"
			    "IPAddresses=%s\n",
			    ss->bin_dir, ss->bin_layout, bin_fixed ? "192.0.2.0/24" : "not-an-address");
	g_autofree gchar *daemon_file = g_build_filename(ss->policy_dir, "10-daemon.conf", NULL);
	g_autofree gchar *bin_file = g_build_filename(ss->policy_dir, "20-bin.conf", NULL);

	ss_write(daemon_file, daemon_rule);
	ss_write(bin_file, bin_rule);
}

static Ss *
ss_new(CkTestBusPolicy policy)
{
	g_autoptr(Ss) ss = NULL;
	g_autofree gchar *config = NULL;
	g_autofree gchar *requests_dir = NULL;
	g_autofree gchar *setpriv = g_find_program_in_path("setpriv");
	CkTestDaemon *td = ck_test_daemon_new(policy);

	if (td == NULL)
		return NULL;
	ss = g_new0(Ss, 1);
	ss->td = td;
	if (setpriv == NULL) {
		g_test_skip("setpriv is not installed");
		return NULL;
	}
	if (!ss_user_is("daemon", 1) || !ss_user_is("bin", 2) || !ss_user_is("nobody", 65534)) {
		g_test_skip("needs Debian's system users daemon (1), bin (2) and nobody (65534)");
		return NULL;
	}
	ss->self_exe = g_file_read_link("/proc/self/exe", NULL);
	g_assert_nonnull(ss->self_exe);
	ss->svc_dir = ss_mkdir_owned(ss, "svc", 1);
	ss->bin_dir = ss_mkdir_owned(ss, "bin-certs", 2);
	/* root's: a directory layout needs a directory its user cannot change */
	ss->bin_layout = ss_mkdir_owned(ss, "bin-layout", 0);
	ss->outside = ss_mkdir_owned(ss, "outside", 0);
	ss->policy_dir = ss_mkdir_owned(ss, "policy.d", 0);
	requests_dir = ss_mkdir_owned(ss, "requests.d", 0);
	ss_write_policy(ss, FALSE);
	config = g_strdup_printf("[certkeeperd]\n"
				 "PolicyDirectory=%s\n"
				 "RequestsDirectory=%s\n"
				 "[ca other]\n"
				 "Type=local\n",
				 ss->policy_dir, requests_dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	ss->root = ck_test_daemon_connect(td);
	return g_steal_pointer(&ss);
}

static gchar *
ss_path(Ss *ss, const gchar *dir, const gchar *name)
{
	return g_build_filename(dir, name, NULL);
}

/* Calls */

typedef struct {
	gboolean ok;
	gchar *reply;   /* OK: the reply, printed */
	gchar *name;    /* ERROR: the D-Bus error name */
	gchar *message; /* ERROR: its message */
} SsReply;

static void
ss_reply_free(SsReply *reply)
{
	g_free(reply->reply);
	g_free(reply->name);
	g_free(reply->message);
	g_free(reply);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SsReply, ss_reply_free)

/* setpriv's arguments for @user ("root": none) */
static void
ss_add_setpriv(GPtrArray *argv, const gchar *user)
{
	struct passwd *pw;
	if (g_strcmp0(user, "root") == 0)
		return;
	pw = getpwnam(user);
	g_assert_nonnull(pw);
	g_ptr_array_add(argv, g_strdup("setpriv"));
	g_ptr_array_add(argv, g_strdup_printf("--reuid=%u", (guint)pw->pw_uid));
	g_ptr_array_add(argv, g_strdup_printf("--regid=%u", (guint)pw->pw_gid));
	g_ptr_array_add(argv, g_strdup("--clear-groups"));
}

/* Runs @argv (NULL-terminated GPtrArray); returns the exit status. */
static gint
ss_spawn(Ss *ss, GPtrArray *argv, gchar **out, gchar **err)
{
	g_autoptr(GError) error = NULL;
	gint status = 0;

	g_ptr_array_add(argv, NULL);
	g_spawn_sync(ss->td->dir, (gchar **)argv->pdata, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
		     err, &status, &error);
	g_assert_no_error(error);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* One D-Bus call made as @user; @args is a tuple (floating references are sunk). */
static SsReply *
ss_call(Ss *ss, const gchar *user, const gchar *path, const gchar *iface, const gchar *method,
	GVariant *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_auto(GStrv) lines = NULL;
	SsReply *reply = g_new0(SsReply, 1);

	ss_add_setpriv(argv, user);
	g_ptr_array_add(argv, g_strdup(ss->self_exe));
	g_ptr_array_add(argv, g_strdup("--call"));
	g_ptr_array_add(argv, g_strdup(ss->td->bus_address));
	g_ptr_array_add(argv, g_strdup(path));
	g_ptr_array_add(argv, g_strdup(iface));
	g_ptr_array_add(argv, g_strdup(method));
	if (args != NULL) {
		g_variant_ref_sink(args);
		g_ptr_array_add(argv, g_variant_print(args, TRUE));
		g_variant_unref(args);
	}
	g_assert_cmpint(ss_spawn(ss, argv, &out, &err), ==, 0);
	lines = g_strsplit(out, "\n", 3);
	g_assert_nonnull(lines[0]);
	g_assert_nonnull(lines[1]);
	if (g_strcmp0(lines[0], "OK") == 0) {
		reply->ok = TRUE;
		reply->reply = g_strdup(lines[1]);
	} else {
		g_assert_cmpstr(lines[0], ==, "ERROR");
		g_assert_nonnull(lines[2]);
		reply->name = g_strdup(lines[1]);
		reply->message = g_strchomp(g_strdup(lines[2]));
	}
	g_test_message("%s as %s -> %s %s", method, user, reply->ok ? "OK" : reply->name,
		       reply->ok ? reply->reply : reply->message);
	return reply;
}

static void
ss_assert_ok(SsReply *reply)
{
	if (!reply->ok)
		g_error("expected success, got %s: %s", reply->name, reply->message);
}

/* The call failed with @name, and the message says @why. */
static void
ss_assert_error(SsReply *reply, const gchar *name, const gchar *why)
{
	if (reply->ok)
		g_error("expected %s (%s), got success: %s", name, why, reply->reply);
	g_assert_cmpstr(reply->name, ==, name);
	g_assert_cmpstr(reply->message, !=, "");
	if (why != NULL && strstr(reply->message, why) == NULL)
		g_error("the error '%s' does not say '%s'", reply->message, why);
}

/* An a{sv} (floating) from KEY, GVariant*, ..., NULL */
static GVariant *
ss_dict_valist(const gchar *first_key, va_list args)
{
	GVariantBuilder builder;

	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
	for (const gchar *key = first_key; key != NULL; key = va_arg(args, const gchar *))
		g_variant_builder_add(&builder, "{sv}", key, va_arg(args, GVariant *));
	return g_variant_builder_end(&builder);
}

static GVariant *
ss_dict(const gchar *first_key, ...)
{
	GVariant *dict;
	va_list args;

	va_start(args, first_key);
	dict = ss_dict_valist(first_key, args);
	va_end(args);
	return dict;
}

/* The same in a tuple, as AddRequest and Modify take it */
static GVariant *
ss_opts(const gchar *first_key, ...)
{
	GVariant *dict;
	va_list args;

	va_start(args, first_key);
	dict = ss_dict_valist(first_key, args);
	va_end(args);
	return g_variant_new_tuple(&dict, 1);
}

#define S(x)  g_variant_new_string(x)
#define AS(x) g_variant_new_strv((const gchar *const[]){x}, 1)

static SsReply *
ss_manager(Ss *ss, const gchar *user, const gchar *method, GVariant *args)
{
	return ss_call(ss, user, SS_MANAGER_PATH, SS_MANAGER_IFACE, method, args);
}

static SsReply *
ss_request_call(Ss *ss, const gchar *user, const gchar *path, const gchar *method, GVariant *args)
{
	return ss_call(ss, user, path, SS_REQUEST_IFACE, method, args);
}

/* The object path of a successful AddRequest ("objectpath '/...'" printed). */
static gchar *
ss_reply_path(SsReply *reply)
{
	g_autoptr(GVariant) v = NULL;
	g_autoptr(GError) error = NULL;
	gchar *path = NULL;
	ss_assert_ok(reply);
	v = g_variant_parse(G_VARIANT_TYPE("(o)"), reply->reply, NULL, NULL, &error);
	g_assert_no_error(error);
	g_variant_get(v, "(o)", &path);
	return path;
}

/* AddRequest as @user for @name.svc.example-like names, with more options */
static SsReply *
ss_add(Ss *ss, const gchar *user, const gchar *cert, const gchar *key, const gchar *dns,
       const gchar *more_key, GVariant *more_value)
{
	GVariantBuilder builder;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&builder, "{sv}", "cert-file", S(cert));
	g_variant_builder_add(&builder, "{sv}", "key-file", S(key));
	if (dns != NULL)
		g_variant_builder_add(&builder, "{sv}", "dns-names", AS(dns));
	if (more_key != NULL)
		g_variant_builder_add(&builder, "{sv}", more_key, more_value);
	return ss_manager(ss, user, "AddRequest", g_variant_new("(a{sv})", &builder));
}

/* Reading the state as root */

static GVariant *
ss_get(Ss *ss, const gchar *path, const gchar *property)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    ss->root, SS_BUS_NAME, path, "org.freedesktop.DBus.Properties", "Get",
	    g_variant_new("(ss)", SS_REQUEST_IFACE, property), G_VARIANT_TYPE("(v)"),
	    G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	GVariant *value = NULL;
	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &value);
	return value;
}

static gchar *
ss_get_string(Ss *ss, const gchar *path, const gchar *property)
{
	g_autoptr(GVariant) v = ss_get(ss, path, property);
	return g_variant_dup_string(v, NULL);
}

static guint32
ss_get_uint(Ss *ss, const gchar *path, const gchar *property)
{
	g_autoptr(GVariant) v = ss_get(ss, path, property);
	return g_variant_get_uint32(v);
}

/* Waits until @path is MONITORING with a serial other than @old_serial; returns it. */
static gchar *
ss_wait_issued(Ss *ss, const gchar *path, const gchar *old_serial)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		g_autofree gchar *state = ss_get_string(ss, path, "State");
		g_autofree gchar *serial = ss_get_string(ss, path, "Serial");
		if (g_strcmp0(state, "MONITORING") == 0 && serial[0] != '\0' &&
		    g_strcmp0(serial, old_serial) != 0)
			return g_steal_pointer(&serial);
		if (g_strcmp0(state, "CA_REJECTED") == 0 ||
		    g_strcmp0(state, "NEED_GUIDANCE") == 0) {
			g_autofree gchar *why = ss_get_string(ss, path, "LastError");
			g_error("%s is %s: %s", path, state, why);
		}
		g_usleep(20 * 1000);
	}
	g_error("%s did not reach MONITORING with a new certificate within 30 s", path);
	return NULL;
}

/* Waits until @path has left the states of an attempt under way; returns the state. */
static gchar *
ss_wait_settled(Ss *ss, const gchar *path)
{
	gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < deadline) {
		g_autofree gchar *state = ss_get_string(ss, path, "State");
		if (g_strv_contains((const gchar *const[]){"MONITORING", "CA_UNREACHABLE",
							   "CA_REJECTED", "NEED_GUIDANCE",
							   "SAVING_CERT", "STOPPED", NULL},
				    state))
			return g_steal_pointer(&state);
		g_usleep(20 * 1000);
	}
	g_error("%s did not settle within 30 s", path);
	return NULL;
}

static GVariant *
ss_managed_objects(Ss *ss)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    ss->root, SS_BUS_NAME, SS_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
	    "GetManagedObjects", NULL, G_VARIANT_TYPE("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NONE,
	    10000, NULL, &error);
	g_assert_no_error(error);
	return g_variant_get_child_value(reply, 0);
}

static guint
ss_count_requests(Ss *ss)
{
	g_autoptr(GVariant) objects = ss_managed_objects(ss);
	GVariantIter iter;
	const gchar *path;
	GVariant *ifaces;
	guint n = 0;

	g_variant_iter_init(&iter, objects);
	while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
		n += g_str_has_prefix(path, SS_MANAGER_PATH "/request/");
		g_variant_unref(ifaces);
	}
	return n;
}

static void
ss_assert_owner(const gchar *path, uid_t uid)
{
	struct stat st;
	g_assert_cmpint(lstat(path, &st), ==, 0);
	g_assert_true(S_ISREG(st.st_mode));
	g_assert_cmpuint(st.st_uid, ==, uid);
	g_assert_cmpuint(st.st_gid, ==, uid);
}

static void
ss_assert_log_has(Ss *ss, const gchar *what)
{
	g_autofree gchar *log = NULL;
	g_assert_true(g_file_get_contents(ss->td->daemon_log, &log, NULL, NULL));
	if (strstr(log, what) == NULL)
		g_error("the daemon log does not say '%s':\n%s", what, log);
}

static void
ss_assert_absent(const gchar *path)
{
	struct stat st;
	if (lstat(path, &st) == 0)
		g_error("%s exists, but nothing may have been written there", path);
}

/* The tests */

static void
test_selfservice_root_and_nobody(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *path = NULL, *serial = NULL;
	g_autofree gchar *out = NULL, *nobody_cert = NULL, *nobody_key = NULL;
	g_autoptr(GPtrArray) argv = NULL;

	if (ss == NULL)
		return;
	/* root: any directory, any name, any CA, hooks as root, CAs and reloads */
	cert = ss_path(ss, ss->outside, "root.crt");
	key = ss_path(ss, ss->outside, "root.key");
	r = ss_add(ss, "root", cert, key, "root.example", "ca", S("other"));
	path = ss_reply_path(r);
	serial = ss_wait_issued(ss, path, NULL);
	g_assert_cmpuint(ss_get_uint(ss, path, "Owner"), ==, 0);
	ss_assert_owner(cert, 0);
	ss_assert_owner(key, 0);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "root", "AddCA",
		       g_variant_new("(s@a{sv})", "extra", ss_dict("type", S("local"), NULL)));
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "root", "ModifyCA",
		       g_variant_new("(o@a{sv})", SS_MANAGER_PATH "/ca/extra",
				     ss_dict("validity-days", g_variant_new_uint32(30), NULL)));
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "root", "RemoveCA", g_variant_new("(o)", SS_MANAGER_PATH "/ca/extra"));
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "root", "Reload", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);

	/* nobody may read: the CLI, busctl and raw calls */
	g_assert_cmpint(ck_test_cli(ss->td, TRUE, NULL, &out, NULL, "list", "--json", NULL), ==, 0);
	g_assert_nonnull(strstr(out, serial));
	g_clear_pointer(&out, g_free);
	{
		g_autofree gchar *id = ss_get_string(ss, path, "Id");
		g_assert_cmpint(
		    ck_test_cli(ss->td, TRUE, NULL, &out, NULL, "status", "-i", id, NULL), ==, 0);
		g_assert_nonnull(strstr(out, "MONITORING"));
		g_clear_pointer(&out, g_free);
	}
	argv = g_ptr_array_new_with_free_func(g_free);
	ss_add_setpriv(argv, "nobody");
	g_ptr_array_add(argv, g_strdup("busctl"));
	g_ptr_array_add(argv, g_strdup_printf("--address=%s", ss->td->bus_address));
	g_ptr_array_add(argv, g_strdup("introspect"));
	g_ptr_array_add(argv, g_strdup(SS_BUS_NAME));
	g_ptr_array_add(argv, g_strdup(SS_MANAGER_PATH));
	g_assert_cmpint(ss_spawn(ss, argv, &out, NULL), ==, 0);
	g_assert_nonnull(strstr(out, ".AddRequest"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&argv, g_ptr_array_unref);
	argv = g_ptr_array_new_with_free_func(g_free);
	ss_add_setpriv(argv, "nobody");
	g_ptr_array_add(argv, g_strdup("busctl"));
	g_ptr_array_add(argv, g_strdup_printf("--address=%s", ss->td->bus_address));
	g_ptr_array_add(argv, g_strdup("call"));
	g_ptr_array_add(argv, g_strdup(SS_BUS_NAME));
	g_ptr_array_add(argv, g_strdup(SS_MANAGER_PATH));
	g_ptr_array_add(argv, g_strdup("org.freedesktop.DBus.ObjectManager"));
	g_ptr_array_add(argv, g_strdup("GetManagedObjects"));
	g_assert_cmpint(ss_spawn(ss, argv, &out, NULL), ==, 0);
	g_assert_nonnull(strstr(out, serial));
	g_clear_pointer(&out, g_free);
	r = ss_call(ss, "nobody", path, "org.freedesktop.DBus.Properties", "Get",
		    g_variant_new("(ss)", SS_REQUEST_IFACE, "State"));
	ss_assert_ok(r);
	g_assert_nonnull(strstr(r->reply, "MONITORING"));
	g_clear_pointer(&r, ss_reply_free);
	r = ss_call(ss, "nobody", path, "org.freedesktop.DBus.Introspectable", "Introspect", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "nobody", "GetRequests", NULL);
	ss_assert_ok(r);
	g_assert_nonnull(strstr(r->reply, path));
	g_clear_pointer(&r, ss_reply_free);

	/* but nobody may not ask for anything: no rule names it */
	nobody_cert = ss_path(ss, ss->td->dir, "nobody.crt");
	nobody_key = ss_path(ss, ss->td->dir, "nobody.key");
	r = ss_add(ss, "nobody", nobody_cert, nobody_key, "nobody.example", NULL, NULL);
	ss_assert_error(r, SS_DENIED, "no policy in policy.d lets user nobody (uid 65534)");
	g_clear_pointer(&r, ss_reply_free);
	/* adopting files is refused before the daemon reads any of them for the caller */
	r = ss_manager(ss, "nobody", "StartTracking",
		       ss_opts("cert-file", S(cert), "key-file", S(key), NULL));
	ss_assert_error(r, SS_DENIED, "no policy in policy.d lets user nobody (uid 65534)");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "nobody", "StartTracking",
		       ss_opts("cert-file", S("/etc/shadow"), "key-file", S("/etc/gshadow"), NULL));
	ss_assert_error(r, SS_DENIED, "no policy in policy.d lets user nobody (uid 65534)");
	g_clear_pointer(&r, ss_reply_free);
	/* nor touch root's request */
	r = ss_request_call(ss, "nobody", path, "Resubmit", NULL);
	ss_assert_error(r, SS_DENIED, "is for its owner (uid 0) or root");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_request_call(ss, "nobody", path, "Modify", ss_opts("renew-before", S("10d"), NULL));
	ss_assert_error(r, SS_DENIED, "Modify of request");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "nobody", "RemoveRequest", g_variant_new("(o)", path));
	ss_assert_error(r, SS_DENIED, "RemoveRequest of request");
	g_clear_pointer(&r, ss_reply_free);

	ss_assert_absent(nobody_cert);
	ss_assert_absent(nobody_key);
	g_assert_cmpuint(ss_count_requests(ss), ==, 1);
	{
		g_autofree gchar *now = ss_get_string(ss, path, "Serial");
		g_autofree gchar *rb = ss_get_string(ss, path, "RenewBefore");
		g_assert_cmpstr(now, ==, serial);
		g_assert_cmpstr(rb, ==, "");
	}
	ss_assert_log_has(ss, "refused AddRequest for uid 65534: Access denied: no policy");
	ss_assert_log_has(ss, "refused StartTracking for uid 65534: Access denied: no policy");
	ss_assert_log_has(ss, "refused Resubmit of request");
}

/* daemon's AddRequest refused, with @why in the message, nothing written at @cert */
static void
ss_assert_add_denied(Ss *ss, const gchar *cert, const gchar *dns, const gchar *more_key,
		     GVariant *more_value, const gchar *why)
{
	g_autofree gchar *key = g_strconcat(cert, ".key", NULL);
	g_autoptr(SsReply) r = ss_add(ss, "daemon", cert, key, dns, more_key, more_value);
	ss_assert_error(r, SS_DENIED, why);
	ss_assert_absent(cert);
	ss_assert_absent(key);
}

static void
test_selfservice_service_account(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *chain = NULL, *hook_out = NULL;
	g_autofree gchar *command = NULL, *path = NULL, *serial = NULL, *hook_user = NULL;
	g_autofree gchar *escape = NULL, *through_link = NULL, *dotdot = NULL, *ok_cert = NULL;
	g_autofree gchar *file_link = NULL, *victim = NULL, *victim_text = NULL;
	g_autofree gchar *cli_cert = NULL, *cli_key = NULL, *third = NULL, *text = NULL;
	g_autofree gchar *cli_out = NULL, *cli_err = NULL, *cli_path = NULL;
	g_autoptr(GPtrArray) argv = NULL;

	if (ss == NULL)
		return;
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	chain = ss_path(ss, ss->svc_dir, "web-chain.crt");
	hook_out = ss_path(ss, ss->svc_dir, "hook-uid");
	command = g_strdup_printf("id -u > %s", hook_out);
	ok_cert = ss_path(ss, ss->svc_dir, "refused.crt");

	/* refused, each saying what is wrong; none counts as an issue */
	ss_assert_add_denied(ss, ok_cert, "web.other.example", NULL, NULL,
			     "the DNS name 'web.other.example' is not allowed by");
	ss_assert_add_denied(ss, ok_cert, "web.svc.example", "ip-addresses", AS("192.0.2.1"),
			     "the IP address '192.0.2.1' is not allowed by");
	ss_assert_add_denied(ss, ok_cert, "web.svc.example", "subject", S("CN=evil.example"),
			     "the subject 'CN=evil.example' is not allowed by");
	{
		g_autofree gchar *outside_cert = ss_path(ss, ss->outside, "web.crt");
		g_autofree gchar *why =
		    g_strdup_printf("'%s' is outside the directories", outside_cert);
		ss_assert_add_denied(ss, outside_cert, "web.svc.example", NULL, NULL, why);
	}
	/* a link in its directory that leads out: as a directory ... */
	escape = ss_path(ss, ss->svc_dir, "escape");
	g_assert_cmpint(symlink(ss->outside, escape), ==, 0);
	through_link = ss_path(ss, escape, "web.crt");
	ss_assert_add_denied(ss, through_link, "web.svc.example", NULL, NULL,
			     "is outside the directories");
	/* ... and as the file itself (its target must stay as it is) */
	victim = ss_path(ss, ss->outside, "victim.crt");
	ss_write(victim, "not yours\n");
	file_link = ss_path(ss, ss->svc_dir, "link.crt");
	g_assert_cmpint(symlink(victim, file_link), ==, 0);
	{
		g_autofree gchar *link_key = ss_path(ss, ss->svc_dir, "link.key");
		g_autoptr(SsReply) lr =
		    ss_add(ss, "daemon", file_link, link_key, "link.svc.example", NULL, NULL);
		ss_assert_error(lr, SS_DENIED, "is outside the directories");
		ss_assert_absent(link_key);
	}
	g_assert_true(g_file_get_contents(victim, &victim_text, NULL, NULL));
	g_assert_cmpstr(victim_text, ==, "not yours\n");
	/* ".." is resolved too */
	dotdot = g_strdup_printf("%s/../outside/web.crt", ss->svc_dir);
	ss_assert_add_denied(ss, dotdot, "web.svc.example", NULL, NULL,
			     "is outside the directories");
	{
		g_autofree gchar *outside_cert = ss_path(ss, ss->outside, "web.crt");
		ss_assert_absent(outside_cert);
	}
	ss_assert_add_denied(ss, ok_cert, "web.svc.example", "ca", S("other"),
			     "the CA 'other' is not allowed by");
	ss_assert_add_denied(ss, ok_cert, "web.svc.example", "reload-unit", S("nginx.service"),
			     "reloading nginx.service is not allowed by");
	ss_assert_add_denied(ss, ok_cert, "web.svc.example", "hook-user", S("root"),
			     "commands of user daemon cannot run as root");
	ss_assert_add_denied(ss, ok_cert, "web.svc.example", "key-owner", S("root"),
			     "the files of user daemon must belong to it");
	{
		g_autofree gchar *pid_file = ss_path(ss, ss->outside, "web.pid");
		ss_assert_add_denied(ss, ok_cert, "web.svc.example", "pid-file", S(pid_file),
				     "is outside the directories");
	}
	ss_assert_log_has(ss, "refused AddRequest for uid 1: Access denied: the DNS name "
			      "'web.other.example' is not allowed by");

	/* allowed: inside its directory, an allowed name; the request is daemon's */
	{
		GVariantBuilder b;
		g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&b, "{sv}", "cert-file", S(cert));
		g_variant_builder_add(&b, "{sv}", "key-file", S(key));
		g_variant_builder_add(&b, "{sv}", "chain-file", S(chain));
		g_variant_builder_add(&b, "{sv}", "dns-names", AS("web.svc.example"));
		g_variant_builder_add(&b, "{sv}", "post-save-command", S(command));
		r = ss_manager(ss, "daemon", "AddRequest", g_variant_new("(a{sv})", &b));
	}
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	serial = ss_wait_issued(ss, path, NULL);
	g_assert_cmpuint(ss_get_uint(ss, path, "Owner"), ==, 1);
	hook_user = ss_get_string(ss, path, "HookUser");
	g_assert_cmpstr(hook_user, ==, "daemon");
	ss_assert_owner(cert, 1);
	ss_assert_owner(key, 1);
	ss_assert_owner(chain, 1);
	g_assert_cmpint(ck_test_file_mode(key), ==, 0600);
	/* the post-save command ran as uid 1 */
	g_assert_true(g_file_get_contents(hook_out, &text, NULL, NULL));
	g_assert_cmpstr(text, ==, "1\n");
	ss_assert_owner(hook_out, 1);

	/* a second one with the CLI run as daemon */
	cli_cert = ss_path(ss, ss->svc_dir, "cli.crt");
	cli_key = ss_path(ss, ss->svc_dir, "cli.key");
	argv = g_ptr_array_new_with_free_func(g_free);
	ss_add_setpriv(argv, "daemon");
	g_ptr_array_add(
	    argv, g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "client", "certkeeper", NULL));
	g_ptr_array_add(argv, g_strdup_printf("--bus=%s", ss->td->bus_address));
	g_ptr_array_add(argv, g_strdup("request"));
	g_ptr_array_add(argv, g_strdup("-f"));
	g_ptr_array_add(argv, g_strdup(cli_cert));
	g_ptr_array_add(argv, g_strdup("-k"));
	g_ptr_array_add(argv, g_strdup(cli_key));
	g_ptr_array_add(argv, g_strdup("-D"));
	g_ptr_array_add(argv, g_strdup("cli.svc.example"));
	g_ptr_array_add(argv, g_strdup("-I"));
	g_ptr_array_add(argv, g_strdup("cli"));
	g_ptr_array_add(argv, g_strdup("-w"));
	g_ptr_array_add(argv, g_strdup("--wait-timeout=30"));
	g_assert_cmpint(ss_spawn(ss, argv, &cli_out, &cli_err), ==, 0);
	ss_assert_owner(cli_cert, 1);
	ss_assert_owner(cli_key, 1);
	cli_path = g_strdup(SS_MANAGER_PATH "/request/cli");
	g_assert_cmpuint(ss_get_uint(ss, cli_path, "Owner"), ==, 1);

	/* a third is one more than MaxRequests=2 */
	third = ss_path(ss, ss->svc_dir, "third.crt");
	ss_assert_add_denied(ss, third, "third.svc.example", NULL, NULL,
			     "user daemon has 2 requests already, the most");

	/* what the daemon tracks: exactly those two, both daemon's */
	g_assert_cmpuint(ss_count_requests(ss), ==, 2);

	/* root may remove daemon's request */
	r = ss_manager(ss, "root", "RemoveRequest", g_variant_new("(o)", cli_path));
	ss_assert_ok(r);
	g_assert_cmpuint(ss_count_requests(ss), ==, 1);
	g_assert_true(ck_test_daemon_is_running(ss->td));
}

static void
test_selfservice_rate_limit(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *path = NULL, *s1 = NULL, *s2 = NULL;
	g_autofree gchar *s3 = NULL, *s4 = NULL, *second = NULL;

	if (ss == NULL)
		return;
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	/* requests refused for their input issue nothing: they leave the rate alone */
	for (guint i = 0; i < 4; i++) {
		r = ss_add(ss, "daemon", cert, key, "web.svc.example", "key-usage", AS("flying"));
		ss_assert_error(r, "org.certkeeper.Error.InvalidArgument", "'flying'");
		g_clear_pointer(&r, ss_reply_free);
	}
	/* issue 1: the new request */
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	s1 = ss_wait_issued(ss, path, NULL);
	/* issues 2 and 3: a resubmit counts, a rekey too */
	r = ss_request_call(ss, "daemon", path, "Resubmit", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	s2 = ss_wait_issued(ss, path, s1);
	r = ss_request_call(ss, "daemon", path, "Rekey", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	s3 = ss_wait_issued(ss, path, s2);
	/* the fourth within the minute is refused, whichever way it is asked for */
	r = ss_request_call(ss, "daemon", path, "Resubmit", NULL);
	ss_assert_error(r, SS_DENIED, "uid 1 asked for 3 certificates within 1min already");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_request_call(ss, "daemon", path, "Rekey", NULL);
	ss_assert_error(r, SS_DENIED, "asked for 3 certificates within 1min already");
	g_clear_pointer(&r, ss_reply_free);
	second = ss_path(ss, ss->svc_dir, "second.crt");
	ss_assert_add_denied(ss, second, "second.svc.example", NULL, NULL,
			     "asked for 3 certificates within 1min already");
	ss_assert_log_has(ss, "refused Resubmit of request");
	{
		g_autofree gchar *now = ss_get_string(ss, path, "Serial");
		g_assert_cmpstr(now, ==, s3);
	}
	/* root has no rate limit, also not for daemon's request */
	r = ss_request_call(ss, "root", path, "Resubmit", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	s4 = ss_wait_issued(ss, path, s3);
	g_assert_cmpuint(ss_count_requests(ss), ==, 1);

	/* nor is the limit dodged with a threshold longer than the lifetime, which would
	 * make every new certificate due at once */
	r = ss_request_call(ss, "daemon", path, "Modify",
			    ss_opts("renew-before", S("36500d"), NULL));
	ss_assert_ok(r);
	g_usleep(1500 * 1000);
	{
		g_autofree gchar *now = ss_get_string(ss, path, "Serial");
		g_autoptr(GVariant) renewal = ss_get(ss, path, "RenewalTime");
		g_autoptr(GVariant) not_before = ss_get(ss, path, "NotBefore");
		g_assert_cmpstr(now, ==, s4);
		g_assert_cmpuint(g_variant_get_uint64(renewal), >,
				 g_variant_get_uint64(not_before) + 86400);
	}
}

static void
test_selfservice_ownership(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *path = NULL, *s1 = NULL, *s2 = NULL;
	g_autofree gchar *s3 = NULL, *s4 = NULL, *key1 = NULL, *key2 = NULL, *value = NULL;
	g_autofree gchar *bin_cert = NULL, *bin_key = NULL;
	const gchar *bin_refused[] = {"Resubmit", "Rekey", "Modify", "Revoke", NULL};

	if (ss == NULL)
		return;
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	s1 = ss_wait_issued(ss, path, NULL);
	g_assert_true(g_file_get_contents(key, &key1, NULL, NULL));

	/* bin may not touch it */
	for (guint i = 0; bin_refused[i] != NULL; i++) {
		g_autofree gchar *why = g_strdup_printf("%s of request", bin_refused[i]);
		r = ss_request_call(ss, "bin", path, bin_refused[i],
				    g_strcmp0(bin_refused[i], "Modify") == 0
					? ss_opts("renew-before", S("10d"), NULL)
				    : g_strcmp0(bin_refused[i], "Revoke") == 0
					? g_variant_new("(s)", "keyCompromise")
					: NULL);
		ss_assert_error(r, SS_DENIED, why);
		g_assert_nonnull(strstr(r->message, "is for its owner (uid 1) or root"));
		g_clear_pointer(&r, ss_reply_free);
	}
	r = ss_manager(ss, "bin", "RemoveRequest", g_variant_new("(o)", path));
	ss_assert_error(r, SS_DENIED, "is for its owner (uid 1) or root");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "bin", "StopTracking", g_variant_new("(o)", path));
	ss_assert_error(r, SS_DENIED, "is for its owner (uid 1) or root");
	g_clear_pointer(&r, ss_reply_free);
	ss_assert_log_has(ss, "refused Rekey of request");
	ss_assert_log_has(ss, "for uid 2");
	/* bin's own rule is in a broken file: bin has none */
	bin_cert = ss_path(ss, ss->bin_dir, "b.crt");
	bin_key = ss_path(ss, ss->bin_dir, "b.key");
	r = ss_add(ss, "bin", bin_cert, bin_key, "b.bin.example", NULL, NULL);
	ss_assert_error(r, SS_DENIED, "no policy in policy.d lets user bin (uid 2)");
	g_clear_pointer(&r, ss_reply_free);
	ss_assert_absent(bin_cert);
	{
		g_autofree gchar *now = ss_get_string(ss, path, "Serial");
		g_autofree gchar *rb = ss_get_string(ss, path, "RenewBefore");
		g_assert_cmpstr(now, ==, s1);
		g_assert_cmpstr(rb, ==, "");
	}

	/* daemon may: resubmit (the same key), rekey (a new one), modify, remove */
	r = ss_request_call(ss, "daemon", path, "Resubmit", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	s2 = ss_wait_issued(ss, path, s1);
	r = ss_request_call(ss, "daemon", path, "Rekey", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	s3 = ss_wait_issued(ss, path, s2);
	g_assert_true(g_file_get_contents(key, &key2, NULL, NULL));
	g_assert_cmpstr(key1, !=, key2);
	ss_assert_owner(cert, 1);
	ss_assert_owner(key, 1);
	r = ss_request_call(ss, "daemon", path, "Modify", ss_opts("renew-before", S("10d"), NULL));
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	value = ss_get_string(ss, path, "RenewBefore");
	g_assert_cmpstr(value, ==, "10d");
	/* within its rule only */
	r = ss_request_call(ss, "daemon", path, "Modify",
			    ss_opts("dns-names", AS("web.other.example"), "subject",
				    S("CN=web.other.example"), NULL));
	ss_assert_error(r, SS_DENIED, "the DNS name 'web.other.example' is not allowed by");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_request_call(ss, "daemon", path, "Modify",
			    ss_opts("subject", S("CN=root.example"), NULL));
	ss_assert_error(r, SS_DENIED, "the subject 'CN=root.example' is not allowed by");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_request_call(ss, "daemon", path, "Modify",
			    ss_opts("post-save-command", S("true"), "hook-user", S("root"), NULL));
	ss_assert_error(r, SS_DENIED, "cannot run as root");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_request_call(ss, "daemon", path, "Modify", ss_opts("cert-owner", S("root"), NULL));
	ss_assert_error(r, SS_DENIED, "must belong to it");
	g_clear_pointer(&r, ss_reply_free);
	{
		g_autofree gchar *chain = ss_path(ss, ss->outside, "chain.crt");
		r = ss_request_call(ss, "daemon", path, "Modify",
				    ss_opts("chain-file", S(chain), NULL));
		ss_assert_error(r, SS_DENIED, "is outside the directories");
		g_clear_pointer(&r, ss_reply_free);
	}
	r = ss_request_call(ss, "daemon", path, "Modify", ss_opts("cert-file", S(cert), NULL));
	ss_assert_error(r, "org.certkeeper.Error.InvalidArgument", "cannot be modified");
	g_clear_pointer(&r, ss_reply_free);
	{
		g_autofree gchar *dns = NULL, *hook_user = NULL;
		g_autoptr(GVariant) names = ss_get(ss, path, "DNSNames");
		g_assert_cmpuint(g_variant_n_children(names), ==, 1);
		g_variant_get_child(names, 0, "s", &dns);
		g_assert_cmpstr(dns, ==, "web.svc.example");
		hook_user = ss_get_string(ss, path, "HookUser");
		g_assert_cmpstr(hook_user, ==, "");
	}

	/* root may, too, and is not rate limited */
	r = ss_request_call(ss, "root", path, "Modify",
			    ss_opts("auto-renew", g_variant_new_boolean(FALSE), NULL));
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_request_call(ss, "root", path, "Resubmit", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	s4 = ss_wait_issued(ss, path, s3);
	ss_assert_owner(cert, 1);
	g_assert_cmpuint(ss_get_uint(ss, path, "Owner"), ==, 1);
	{
		g_autoptr(GVariant) revoked = ss_get(ss, path, "Revoked");
		g_assert_cmpuint(g_variant_get_uint64(revoked), ==, 0);
	}
	/* the owner may revoke its certificate */
	r = ss_request_call(ss, "daemon", path, "Revoke", g_variant_new("(s)", "superseded"));
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	{
		g_autoptr(GVariant) revoked = ss_get(ss, path, "Revoked");
		g_autofree gchar *reason = ss_get_string(ss, path, "RevocationReason");
		g_assert_cmpuint(g_variant_get_uint64(revoked), >, 0);
		g_assert_cmpstr(reason, ==, "superseded");
	}

	r = ss_manager(ss, "daemon", "RemoveRequest", g_variant_new("(o)", path));
	ss_assert_ok(r);
	g_assert_cmpuint(ss_count_requests(ss), ==, 0);
	/* its files stay */
	ss_assert_owner(cert, 1);
}

/* A key that is not daemon's, made by root where daemon cannot read it. */
static gchar *
ss_make_victim_key(Ss *ss)
{
	g_autofree gchar *victim = ss_path(ss, ss->outside, "victim.key");
	const gchar *argv[] = {"openssl", "genpkey",  "-algorithm",
			       "EC",      "-pkeyopt", "ec_paramgen_curve:P-256",
			       "-out",    victim,     NULL};
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_assert_cmpint(chmod(victim, 0600), ==, 0);
	return g_steal_pointer(&victim);
}

/* As @user: ln -sfn @target @link */
static void
ss_symlink_as(Ss *ss, const gchar *user, const gchar *target, const gchar *link)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	ss_add_setpriv(argv, user);
	g_ptr_array_add(argv, g_strdup("ln"));
	g_ptr_array_add(argv, g_strdup("-sfn"));
	g_ptr_array_add(argv, g_strdup(target));
	g_ptr_array_add(argv, g_strdup(link));
	g_assert_cmpint(ss_spawn(ss, argv, NULL, NULL), ==, 0);
}

static void
test_selfservice_no_foreign_key(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *path = NULL, *s1 = NULL;
	g_autofree gchar *victim = NULL, *victim_pem = NULL, *now = NULL, *state = NULL;
	g_autofree gchar *link_cert = NULL, *link_key = NULL;
	struct stat st;

	if (ss == NULL)
		return;
	victim = ss_make_victim_key(ss);
	g_assert_true(g_file_get_contents(victim, &victim_pem, NULL, NULL));

	/* adopting a key that is someone else's through a link: refused outright */
	link_cert = ss_path(ss, ss->svc_dir, "adopt.crt");
	link_key = ss_path(ss, ss->svc_dir, "adopt.key");
	ss_symlink_as(ss, "daemon", victim, link_key);
	ss_write(link_cert, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");
	g_assert_cmpint(chown(link_cert, 1, 1), ==, 0);
	r = ss_manager(ss, "daemon", "StartTracking",
		       ss_opts("cert-file", S(link_cert), "key-file", S(link_key), NULL));
	ss_assert_error(r, SS_DENIED, "is outside the directories");
	g_clear_pointer(&r, ss_reply_free);

	/* a request of its own, whose key daemon then swaps for a link to the victim's */
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	s1 = ss_wait_issued(ss, path, NULL);
	ss_symlink_as(ss, "daemon", victim, key);
	/* Resubmit renews with "the installed key": it must not be the victim's */
	r = ss_request_call(ss, "daemon", path, "Resubmit", NULL);
	if (r->ok) {
		state = ss_wait_settled(ss, path);
		now = ss_get_string(ss, path, "Serial");
		g_test_message("after the resubmit: %s, serial %s", state, now);
	} else {
		g_test_message("the resubmit was refused: %s", r->message);
	}
	g_clear_pointer(&r, ss_reply_free);
	/* the victim's key was not used, not copied, not given to daemon */
	g_assert_cmpint(lstat(key, &st), ==, 0);
	if (S_ISREG(st.st_mode)) {
		g_autofree gchar *installed = NULL;
		g_assert_true(g_file_get_contents(key, &installed, NULL, NULL));
		g_assert_cmpstr(installed, !=, victim_pem);
	}
	{
		g_autofree gchar *still = NULL;
		g_assert_true(g_file_get_contents(victim, &still, NULL, NULL));
		g_assert_cmpstr(still, ==, victim_pem);
		ss_assert_owner(victim, 0);
	}
	ss_assert_log_has(ss, "is not a file of uid 1, the request's owner: certkeeperd does not "
			      "read it");
	if (now != NULL && g_strcmp0(now, s1) != 0) {
		/* a new certificate was issued: not for the victim's public key */
		const gchar *cert_argv[] = {"openssl", "x509",    "-in", cert,
					    "-noout",  "-pubkey", NULL};
		const gchar *key_argv[] = {"openssl", "pkey", "-in", victim, "-pubout", NULL};
		g_autofree gchar *cert_pub = NULL, *victim_pub = NULL;
		g_assert_cmpint(ck_test_run(cert_argv, &cert_pub, NULL), ==, 0);
		g_assert_cmpint(ck_test_run(key_argv, &victim_pub, NULL), ==, 0);
		g_assert_cmpstr(cert_pub, !=, victim_pub);
		ss_assert_owner(key, 1);
	}

	/* a FIFO in place of its certificate does not stop the daemon when it looks */
	{
		g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
		ss_add_setpriv(argv, "daemon");
		g_ptr_array_add(argv, g_strdup("sh"));
		g_ptr_array_add(argv, g_strdup("-c"));
		g_ptr_array_add(argv, g_strdup_printf("rm -f '%s' && mkfifo '%s'", cert, cert));
		g_assert_cmpint(ss_spawn(ss, argv, NULL, NULL), ==, 0);
	}
	r = ss_request_call(ss, "daemon", path, "Refresh", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "nobody", "GetRequests", NULL);
	ss_assert_ok(r);
	g_assert_true(ck_test_daemon_is_running(ss->td));
}

/* As @user: sh -c @script */
static void
ss_sh_as(Ss *ss, const gchar *user, const gchar *script)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	ss_add_setpriv(argv, user);
	g_ptr_array_add(argv, g_strdup("sh"));
	g_ptr_array_add(argv, g_strdup("-ec"));
	g_ptr_array_add(argv, g_strdup(script));
	g_assert_cmpint(ss_spawn(ss, argv, NULL, NULL), ==, 0);
}

/*
 * A directory the user can rename or replace, on the way to its files: root would
 * write wherever a link swapped in between check and write points. Refused at once
 * (and again at every install), so there is no race to win.
 */
static void
test_selfservice_no_swapped_directory(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *sub = NULL, *cert = NULL, *key = NULL, *script = NULL;
	g_autofree gchar *layout = NULL, *why = NULL;

	if (ss == NULL)
		return;
	/* a directory of daemon's own, inside what its rule allows */
	sub = ss_path(ss, ss->svc_dir, "sub");
	script = g_strdup_printf("mkdir '%s'", sub);
	ss_sh_as(ss, "daemon", script);
	cert = ss_path(ss, sub, "web.crt");
	key = ss_path(ss, sub, "web.key");
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	why = g_strdup_printf("lies below %s, which user daemon can rename or replace", sub);
	ss_assert_error(r, "org.certkeeper.Error.AccessDenied", why);
	ss_assert_absent(cert);
	g_clear_pointer(&r, ss_reply_free);

	/* a directory layout in a directory of the user's: root's versions could be swapped */
	layout = ss_path(ss, ss->svc_dir, "layout");
	g_clear_pointer(&script, g_free);
	script = g_strdup_printf("mkdir '%s'", layout);
	ss_sh_as(ss, "daemon", script);
	{
		GVariantBuilder b;
		g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&b, "{sv}", "directory", S(layout));
		g_variant_builder_add(&b, "{sv}", "dns-names", AS("web.svc.example"));
		r = ss_manager(ss, "daemon", "AddRequest", g_variant_new("(a{sv})", &b));
	}
	ss_assert_error(r, "org.certkeeper.Error.AccessDenied", "can rename or replace");
	g_clear_pointer(&r, ss_reply_free);

	/* files right in the directory the rule names are fine: the user cannot swap it */
	g_clear_pointer(&cert, g_free);
	g_clear_pointer(&key, g_free);
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	ss_assert_ok(r);
	g_assert_true(ck_test_daemon_is_running(ss->td));
}

/* Starts "sleep 300" as @user; returns its pid (setpriv execs, so the pid is sleep's). */
static GPid
ss_start_sleeper(Ss *ss, const gchar *user)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	GPid pid = 0;

	ss_add_setpriv(argv, user);
	g_ptr_array_add(argv, g_strdup("sleep"));
	g_ptr_array_add(argv, g_strdup("300"));
	g_ptr_array_add(argv, NULL);
	g_spawn_async(ss->td->dir, (gchar **)argv->pdata, NULL,
		      G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
			  G_SPAWN_STDERR_TO_DEV_NULL,
		      NULL, NULL, &pid, &error);
	g_assert_no_error(error);
	return pid;
}

/* Waits up to @timeout_ms for @pid to end; its wait status, or -1 while it runs. */
static gint
ss_wait_pid(GPid pid, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	int status = 0;
	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		g_usleep(10 * 1000);
	} while (g_get_monotonic_time() < deadline);
	return -1;
}

static void
test_selfservice_pid_signal(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *pid_file = NULL, *path = NULL;
	g_autofree gchar *serial = NULL, *pid_text = NULL, *last_error = NULL;
	GPid roots, own;
	gint status;

	if (ss == NULL)
		return;
	/* daemon's PID file names a process of root's: daemon may not have root signal it */
	roots = ss_start_sleeper(ss, "root");
	pid_file = ss_path(ss, ss->svc_dir, "web.pid");
	pid_text = g_strdup_printf("%d\n", (int)roots);
	ss_write(pid_file, pid_text);
	g_assert_cmpint(chown(pid_file, 1, 1), ==, 0);
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	{
		GVariantBuilder b;
		g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&b, "{sv}", "cert-file", S(cert));
		g_variant_builder_add(&b, "{sv}", "key-file", S(key));
		g_variant_builder_add(&b, "{sv}", "dns-names", AS("web.svc.example"));
		g_variant_builder_add(&b, "{sv}", "pid-file", S(pid_file));
		g_variant_builder_add(&b, "{sv}", "pid-signal", S("TERM"));
		r = ss_manager(ss, "daemon", "AddRequest", g_variant_new("(a{sv})", &b));
	}
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	serial = ss_wait_issued(ss, path, NULL);
	status = ss_wait_pid(roots, 500);
	if (status != -1)
		g_error("root's process was signalled for daemon's request (status %d)", status);
	last_error = ss_get_string(ss, path, "LastError");
	g_assert_nonnull(strstr(last_error, "Cannot send SIGTERM to process"));
	kill(roots, SIGKILL);
	g_assert_cmpint(ss_wait_pid(roots, 5000), !=, -1);

	/* its own process it may signal */
	own = ss_start_sleeper(ss, "daemon");
	g_clear_pointer(&pid_text, g_free);
	pid_text = g_strdup_printf("%d\n", (int)own);
	ss_write(pid_file, pid_text);
	g_assert_cmpint(chown(pid_file, 1, 1), ==, 0);
	r = ss_request_call(ss, "daemon", path, "Rekey", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&serial, g_free);
	serial = ss_wait_issued(ss, path, NULL);
	status = ss_wait_pid(own, 10000);
	if (status == -1) {
		kill(own, SIGKILL);
		ss_wait_pid(own, 5000);
		g_error("daemon's own process was not signalled");
	}
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGTERM);
}

/* AddCA, ModifyCA, RemoveCA and Reload: root's; @name is the refusal expected */
static void
ss_assert_root_only(Ss *ss, const gchar *user, const gchar *name, const gchar *why_prefix)
{
	static const gchar *const methods[] = {"AddCA", "ModifyCA", "RemoveCA", "Reload", NULL};
	for (guint i = 0; methods[i] != NULL; i++) {
		g_autoptr(SsReply) r = NULL;
		g_autofree gchar *why =
		    why_prefix != NULL ? g_strdup_printf("%s%s", why_prefix, methods[i]) : NULL;
		GVariant *args = NULL;
		if (i == 0)
			args =
			    g_variant_new("(s@a{sv})", "sneaky", ss_dict("type", S("local"), NULL));
		else if (i == 1)
			args =
			    g_variant_new("(o@a{sv})", SS_MANAGER_PATH "/ca/dyn",
					  ss_dict("validity-days", g_variant_new_uint32(7), NULL));
		else if (i == 2)
			args = g_variant_new("(o)", SS_MANAGER_PATH "/ca/dyn");
		r = ss_manager(ss, user, methods[i], args);
		ss_assert_error(r, name, why);
	}
}

static void
ss_assert_cas_unchanged(Ss *ss)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    ss->root, SS_BUS_NAME, SS_MANAGER_PATH "/ca/dyn", "org.freedesktop.DBus.Properties",
	    "Get", g_variant_new("(ss)", "org.certkeeper.CA1", "ValidityDays"),
	    G_VARIANT_TYPE("(v)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	g_autoptr(GVariant) days = NULL;
	g_autoptr(GVariant) cas = NULL;

	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &days);
	g_assert_cmpuint(g_variant_get_uint32(days), ==, 3);
	cas = g_dbus_connection_call_sync(ss->root, SS_BUS_NAME, SS_MANAGER_PATH, SS_MANAGER_IFACE,
					  "GetCAs", NULL, G_VARIANT_TYPE("(ao)"),
					  G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	g_assert_no_error(error);
	{
		g_autofree gchar *text = g_variant_print(cas, FALSE);
		g_assert_null(strstr(text, "sneaky"));
	}
}

static void
ss_add_dynamic_ca(Ss *ss)
{
	g_autoptr(SsReply) r = ss_manager(ss, "root", "AddCA",
					  g_variant_new("(s@a{sv})", "dyn",
							ss_dict("type", S("local"), "validity-days",
								g_variant_new_uint32(3), NULL)));
	ss_assert_ok(r);
}

static void
test_selfservice_root_only_bus(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);

	if (ss == NULL)
		return;
	ss_add_dynamic_ca(ss);
	/* the bus policy refuses already, even daemon with its rule */
	ss_assert_root_only(ss, "daemon", SS_BUS_DENIED, NULL);
	ss_assert_root_only(ss, "nobody", SS_BUS_DENIED, NULL);
	ss_assert_cas_unchanged(ss);
}

static void
test_selfservice_root_only_daemon(void)
{
	/* a bus that lets every call through: the daemon's own check refuses */
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PERMISSIVE);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *path = NULL, *serial = NULL;

	if (ss == NULL)
		return;
	ss_add_dynamic_ca(ss);
	ss_assert_root_only(ss, "daemon", SS_DENIED, "Access denied: only root may call ");
	ss_assert_root_only(ss, "nobody", SS_DENIED, "Access denied: only root may call ");
	ss_assert_cas_unchanged(ss);
	ss_assert_log_has(ss, "refused AddCA for uid 1");
	ss_assert_log_has(ss, "refused Reload for uid 65534");
	/* and what the bus lets through is still only what policy.d allows */
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	serial = ss_wait_issued(ss, path, NULL);
	r = ss_request_call(ss, "nobody", path, "Rekey", NULL);
	ss_assert_error(r, SS_DENIED, "Rekey of request");
	g_clear_pointer(&r, ss_reply_free);
	r = ss_manager(ss, "nobody", "RemoveRequest", g_variant_new("(o)", path));
	ss_assert_error(r, SS_DENIED, "is for its owner (uid 1) or root");
	g_clear_pointer(&r, ss_reply_free);
	/* root still may */
	r = ss_manager(ss, "root", "RemoveCA", g_variant_new("(o)", SS_MANAGER_PATH "/ca/dyn"));
	ss_assert_ok(r);
	g_assert_cmpuint(ss_count_requests(ss), ==, 1);
}

static void
test_selfservice_broken_policy_file(void)
{
	g_autoptr(Ss) ss = ss_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(SsReply) r = NULL;
	g_autofree gchar *bin_file = NULL, *warning = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *path = NULL, *serial = NULL, *bin_cert = NULL, *bin_key = NULL;

	if (ss == NULL)
		return;
	/* the file with the mistake is named, and why */
	bin_file = g_build_filename(ss->policy_dir, "20-bin.conf", NULL);
	warning = g_strdup_printf("%s is skipped: ", bin_file);
	ss_assert_log_has(ss, warning);
	ss_assert_log_has(ss, "IPAddresses=not-an-address is not an address or network");
	/* the other file still applies */
	cert = ss_path(ss, ss->svc_dir, "web.crt");
	key = ss_path(ss, ss->svc_dir, "web.key");
	r = ss_add(ss, "daemon", cert, key, "web.svc.example", NULL, NULL);
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	serial = ss_wait_issued(ss, path, NULL);
	/* bin has no rule then */
	bin_cert = ss_path(ss, ss->bin_dir, "b.crt");
	bin_key = ss_path(ss, ss->bin_dir, "b.key");
	r = ss_add(ss, "bin", bin_cert, bin_key, "b.bin.example", NULL, NULL);
	ss_assert_error(r, SS_DENIED, "no policy in policy.d lets user bin (uid 2)");
	g_clear_pointer(&r, ss_reply_free);
	/* once the file is fixed and root reloads, bin's rule applies */
	ss_write_policy(ss, TRUE);
	r = ss_manager(ss, "root", "Reload", NULL);
	ss_assert_ok(r);
	g_clear_pointer(&r, ss_reply_free);
	r = ss_add(ss, "bin", bin_cert, bin_key, "b.bin.example", "ip-addresses", AS("192.0.2.7"));
	g_clear_pointer(&path, g_free);
	path = ss_reply_path(r);
	g_clear_pointer(&r, ss_reply_free);
	g_clear_pointer(&serial, g_free);
	serial = ss_wait_issued(ss, path, NULL);
	g_assert_cmpuint(ss_get_uint(ss, path, "Owner"), ==, 2);
	ss_assert_owner(bin_cert, 2);
	ss_assert_owner(bin_key, 2);
	/* the directory layout too, and a renewal reads what it installed for bin */
	{
		const gchar *layout = ss->bin_layout;
		g_autofree gchar *layout_path = NULL, *first = NULL, *second = NULL;
		g_autofree gchar *layout_cert = NULL, *layout_key = NULL;
		r = ss_manager(ss, "bin", "AddRequest",
			       ss_opts("directory", S(layout), "dns-names", AS("d.bin.example"),
				       "key-policy", S("reuse"), NULL));
		layout_path = ss_reply_path(r);
		g_clear_pointer(&r, ss_reply_free);
		first = ss_wait_issued(ss, layout_path, NULL);
		r = ss_request_call(ss, "bin", layout_path, "Resubmit", NULL);
		ss_assert_ok(r);
		g_clear_pointer(&r, ss_reply_free);
		second = ss_wait_issued(ss, layout_path, first);
		layout_cert = ss_path(ss, layout, "current/cert.pem");
		layout_key = ss_path(ss, layout, "current/key.pem");
		ss_assert_owner(layout_key, 2);
		{
			g_autofree gchar *last_error = ss_get_string(ss, layout_path, "LastError");
			g_assert_cmpstr(last_error, ==, "");
		}
		g_assert_true(g_file_test(layout_cert, G_FILE_TEST_IS_REGULAR));
	}
	/* and bin's rule is not daemon's: bin cannot write into daemon's directory */
	{
		g_autofree gchar *into = ss_path(ss, ss->svc_dir, "b.crt");
		g_autofree gchar *into_key = ss_path(ss, ss->svc_dir, "b.key");
		r = ss_add(ss, "bin", into, into_key, "c.bin.example", NULL, NULL);
		ss_assert_error(r, SS_DENIED, "is outside the directories");
		ss_assert_absent(into);
	}
}

int
main(int argc, char **argv)
{
	if (argc > 1 && g_strcmp0(argv[1], "--call") == 0)
		return ss_helper_main(argc, argv);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/selfservice/root-and-nobody",
			test_selfservice_root_and_nobody);
	g_test_add_func("/certkeeper/selfservice/service-account",
			test_selfservice_service_account);
	g_test_add_func("/certkeeper/selfservice/rate-limit", test_selfservice_rate_limit);
	g_test_add_func("/certkeeper/selfservice/ownership", test_selfservice_ownership);
	g_test_add_func("/certkeeper/selfservice/no-foreign-key", test_selfservice_no_foreign_key);
	g_test_add_func("/certkeeper/selfservice/no-swapped-directory",
			test_selfservice_no_swapped_directory);
	g_test_add_func("/certkeeper/selfservice/pid-signal", test_selfservice_pid_signal);
	g_test_add_func("/certkeeper/selfservice/root-only-bus", test_selfservice_root_only_bus);
	g_test_add_func("/certkeeper/selfservice/root-only-daemon",
			test_selfservice_root_only_daemon);
	g_test_add_func("/certkeeper/selfservice/broken-policy-file",
			test_selfservice_broken_policy_file);
	return g_test_run();
}
