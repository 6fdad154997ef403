/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The D-Bus contract: the live introspection matches the XML in dbus/, objects and
 * property changes are announced, and errors carry the project's names.
 */
#include "config.h"

#include <string.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define MANAGER_PATH "/org/certkeeper/Certkeeper1"

static GDBusNodeInfo *
ck_test_load_contract(const gchar *name)
{
	g_autofree gchar *path =
	    g_build_filename(g_getenv("CK_TOP_SRCDIR"), "dbus", name, NULL);
	g_autofree gchar *xml = NULL;
	g_autoptr(GError) error = NULL;
	GDBusNodeInfo *info;

	g_assert_true(g_file_get_contents(path, &xml, NULL, &error));
	info = g_dbus_node_info_new_for_xml(xml, &error);
	g_assert_no_error(error);
	return info;
}

static GDBusNodeInfo *
ck_test_introspect(GDBusConnection *connection, const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    connection, "org.certkeeper.Certkeeper1", path, "org.freedesktop.DBus.Introspectable",
	    "Introspect", NULL, G_VARIANT_TYPE("(s)"), G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	const gchar *xml;
	GDBusNodeInfo *info;

	g_assert_no_error(error);
	g_variant_get(reply, "(&s)", &xml);
	info = g_dbus_node_info_new_for_xml(xml, &error);
	g_assert_no_error(error);
	return info;
}

/* The EmitsChangedSignal annotation, defaulting to "true" as the spec says. */
static const gchar *
ck_test_emits(GDBusAnnotationInfo **annotations)
{
	const gchar *v = g_dbus_annotation_info_lookup(annotations,
						       "org.freedesktop.DBus.Property.EmitsChangedSignal");
	return v != NULL ? v : "true";
}

static void
ck_test_compare_args(GDBusArgInfo **live, GDBusArgInfo **doc, const gchar *where)
{
	guint i;
	for (i = 0; doc != NULL && doc[i] != NULL; i++) {
		g_test_message("%s arg %s", where, doc[i]->name);
		g_assert_nonnull(live);
		g_assert_nonnull(live[i]);
		g_assert_cmpstr(live[i]->name, ==, doc[i]->name);
		g_assert_cmpstr(live[i]->signature, ==, doc[i]->signature);
	}
	g_assert_true(live == NULL || live[i] == NULL);
}

/* Every method, argument, property and signal in the contract, and nothing else. */
static void
ck_test_compare_interface(GDBusInterfaceInfo *live, GDBusInterfaceInfo *doc)
{
	guint n;

	g_assert_nonnull(live);
	for (n = 0; doc->methods[n] != NULL; n++) {
		GDBusMethodInfo *m = g_dbus_interface_info_lookup_method(live, doc->methods[n]->name);
		g_test_message("method %s.%s", doc->name, doc->methods[n]->name);
		g_assert_nonnull(m);
		ck_test_compare_args(m->in_args, doc->methods[n]->in_args, m->name);
		ck_test_compare_args(m->out_args, doc->methods[n]->out_args, m->name);
	}
	g_assert_null(live->methods[n]);
	for (n = 0; doc->signals[n] != NULL; n++) {
		GDBusSignalInfo *s = g_dbus_interface_info_lookup_signal(live, doc->signals[n]->name);
		g_assert_nonnull(s);
		ck_test_compare_args(s->args, doc->signals[n]->args, s->name);
	}
	g_assert_null(live->signals[n]);
	for (n = 0; doc->properties[n] != NULL; n++) {
		GDBusPropertyInfo *p =
		    g_dbus_interface_info_lookup_property(live, doc->properties[n]->name);
		g_test_message("property %s.%s", doc->name, doc->properties[n]->name);
		g_assert_nonnull(p);
		g_assert_cmpstr(p->signature, ==, doc->properties[n]->signature);
		g_assert_cmpint(p->flags, ==, doc->properties[n]->flags);
		g_assert_cmpstr(ck_test_emits(p->annotations), ==,
				ck_test_emits(doc->properties[n]->annotations));
	}
	g_assert_null(live->properties[n]);
}

static gboolean
ck_test_has_interface(GDBusNodeInfo *node, const gchar *name)
{
	return g_dbus_node_info_lookup_interface(node, name) != NULL;
}

static void
test_bus_introspection_matches_contract(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GDBusNodeInfo) manager_doc = NULL, request_doc = NULL, ca_doc = NULL;
	g_autoptr(GDBusNodeInfo) manager_live = NULL, request_live = NULL, ca_live = NULL;
	g_autofree gchar *key = NULL, *cert = NULL;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "i.crt");
	key = ck_test_daemon_path(td, "i.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "intro", "-f", cert,
				    "-k", key, "-N", "CN=intro", NULL),
			==, 0);
	connection = ck_test_daemon_connect(td);
	manager_doc = ck_test_load_contract("org.certkeeper.Manager1.xml");
	request_doc = ck_test_load_contract("org.certkeeper.Request1.xml");
	manager_live = ck_test_introspect(connection, MANAGER_PATH);
	request_live = ck_test_introspect(connection, MANAGER_PATH "/request/intro");
	ca_doc = ck_test_load_contract("org.certkeeper.CA1.xml");
	ca_live = ck_test_introspect(connection, MANAGER_PATH "/ca/local");

	ck_test_compare_interface(
	    g_dbus_node_info_lookup_interface(manager_live, "org.certkeeper.Manager1"),
	    manager_doc->interfaces[0]);
	g_assert_true(ck_test_has_interface(manager_live, "org.freedesktop.DBus.ObjectManager"));
	ck_test_compare_interface(
	    g_dbus_node_info_lookup_interface(request_live, "org.certkeeper.Request1"),
	    request_doc->interfaces[0]);
	ck_test_compare_interface(g_dbus_node_info_lookup_interface(ca_live, "org.certkeeper.CA1"),
				  ca_doc->interfaces[0]);
	{
		g_autoptr(GDBusNodeInfo) log_doc =
		    ck_test_load_contract("org.freedesktop.LogControl1.xml");
		g_autoptr(GDBusNodeInfo) log_live =
		    ck_test_introspect(connection, "/org/freedesktop/LogControl1");
		ck_test_compare_interface(
		    g_dbus_node_info_lookup_interface(log_live, "org.freedesktop.LogControl1"),
		    log_doc->interfaces[0]);
	}
}

typedef struct {
	GPtrArray *added;	 /* object paths */
	GPtrArray *removed;	 /* object paths */
	GPtrArray *states;	 /* State values seen in PropertiesChanged */
	gboolean saw_not_after;	 /* a PropertiesChanged carried NotAfter */
} CkSignalLog;

static void
ck_test_on_signal(GDBusConnection *connection, const gchar *sender, const gchar *path,
		  const gchar *iface, const gchar *signal, GVariant *params, gpointer user_data)
{
	CkSignalLog *log = user_data;

	if (g_strcmp0(signal, "InterfacesAdded") == 0) {
		const gchar *object = NULL;
		g_variant_get_child(params, 0, "&o", &object);
		g_ptr_array_add(log->added, g_strdup(object));
	} else if (g_strcmp0(signal, "InterfacesRemoved") == 0) {
		const gchar *object = NULL;
		g_variant_get_child(params, 0, "&o", &object);
		g_ptr_array_add(log->removed, g_strdup(object));
	} else if (g_strcmp0(signal, "PropertiesChanged") == 0) {
		g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
		const gchar *state = NULL;
		guint64 not_after = 0;
		if (g_variant_lookup(changed, "State", "&s", &state))
			g_ptr_array_add(log->states, g_strdup(state));
		if (g_variant_lookup(changed, "NotAfter", "t", &not_after) && not_after > 0)
			log->saw_not_after = TRUE;
	}
}

static gboolean
ck_test_saw_monitoring(gpointer data)
{
	CkSignalLog *log = data;
	return log->states->len > 0 &&
	       g_strcmp0(g_ptr_array_index(log->states, log->states->len - 1), "MONITORING") == 0;
}

static gboolean
ck_test_saw_removed(gpointer data)
{
	CkSignalLog *log = data;
	return log->removed->len > 0;
}

static void
test_bus_signals(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GDBusConnection) connection = NULL;
	g_autofree gchar *key = NULL, *cert = NULL;
	CkSignalLog log = {g_ptr_array_new_with_free_func(g_free),
			   g_ptr_array_new_with_free_func(g_free),
			   g_ptr_array_new_with_free_func(g_free), FALSE};
	guint sub;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	connection = ck_test_daemon_connect(td);
	sub = g_dbus_connection_signal_subscribe(connection, "org.certkeeper.Certkeeper1", NULL, NULL,
						 NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
						 ck_test_on_signal, &log, NULL);
	/* make sure the match is in place before anything happens */
	g_dbus_connection_call_sync(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				    "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
				    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	cert = ck_test_daemon_path(td, "s.crt");
	key = ck_test_daemon_path(td, "s.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "sig", "-f", cert,
				    "-k", key, "-N", "CN=sig", NULL),
			==, 0);
	g_assert_true(ck_test_wait_for(ck_test_saw_monitoring, &log, 20000));
	g_assert_cmpuint(log.added->len, ==, 1);
	g_assert_cmpstr(g_ptr_array_index(log.added, 0), ==, MANAGER_PATH "/request/sig");
	/* the state went through the lifecycle, each step announced */
	g_assert_cmpuint(log.states->len, >=, 4);
	g_assert_cmpstr(g_ptr_array_index(log.states, 0), ==, "GENERATING_KEY_PAIR");
	g_assert_true(log.saw_not_after);

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "stop-tracking", "-i", "sig", NULL),
			==, 0);
	g_assert_true(ck_test_wait_for(ck_test_saw_removed, &log, 10000));
	g_assert_cmpstr(g_ptr_array_index(log.removed, 0), ==, MANAGER_PATH "/request/sig");
	g_dbus_connection_signal_unsubscribe(connection, sub);
	g_ptr_array_unref(log.added);
	g_ptr_array_unref(log.removed);
	g_ptr_array_unref(log.states);
}

static void
test_bus_get_requests_and_errors(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *remote = NULL;
	g_autofree gchar *key = NULL, *cert = NULL;
	g_autofree const gchar **paths = NULL;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "g.crt");
	key = ck_test_daemon_path(td, "g.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "g-1", "-f", cert,
				    "-k", key, "-N", "CN=g", NULL),
			==, 0);
	connection = ck_test_daemon_connect(td);
	reply = g_dbus_connection_call_sync(connection, "org.certkeeper.Certkeeper1", MANAGER_PATH,
					    "org.certkeeper.Manager1", "GetRequests", NULL,
					    G_VARIANT_TYPE("(ao)"), G_DBUS_CALL_FLAGS_NONE, 10000,
					    NULL, &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(^a&o)", &paths);
	g_assert_cmpuint(g_strv_length((gchar **)paths), ==, 1);
	/* '-' is escaped in object paths */
	g_assert_cmpstr(paths[0], ==, MANAGER_PATH "/request/g_2d1");

	g_clear_pointer(&reply, g_variant_unref);
	reply = g_dbus_connection_call_sync(connection, "org.certkeeper.Certkeeper1", MANAGER_PATH,
					    "org.certkeeper.Manager1", "RemoveRequest",
					    g_variant_new("(o)", MANAGER_PATH "/request/nope"), NULL,
					    G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	g_assert_null(reply);
	remote = g_dbus_error_get_remote_error(error);
	g_assert_cmpstr(remote, ==, "org.certkeeper.Error.NotFound");
}

static GVariant *
ck_test_call(GDBusConnection *connection, const gchar *path, const gchar *iface,
	     const gchar *method, GVariant *params, const gchar *reply_type, GError **error)
{
	return g_dbus_connection_call_sync(connection, "org.certkeeper.Certkeeper1", path, iface,
					   method, params,
					   reply_type != NULL ? G_VARIANT_TYPE(reply_type) : NULL,
					   G_DBUS_CALL_FLAGS_NONE, 20000, NULL, error);
}

static GVariant *
ck_test_get_property(GDBusConnection *connection, const gchar *path, const gchar *iface,
		     const gchar *name)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	    ck_test_call(connection, path, "org.freedesktop.DBus.Properties", "Get",
			 g_variant_new("(ss)", iface, name), "(v)", &error);
	GVariant *value = NULL;
	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &value);
	return value;
}

static gchar *
ck_test_get_string(GDBusConnection *connection, const gchar *path, const gchar *iface,
		   const gchar *name)
{
	g_autoptr(GVariant) value = ck_test_get_property(connection, path, iface, name);
	return g_variant_dup_string(value, NULL);
}

static void
ck_test_assert_remote_error(GError *error, const gchar *name)
{
	g_autofree gchar *remote = NULL;
	g_assert_nonnull(error);
	remote = g_dbus_error_get_remote_error(error);
	g_assert_cmpstr(remote, ==, name);
}

/*
 * GetRequestProperties: only the properties named, all of them (as GetAll has
 * them) for none, and a clear error for a name Request1 does not have.
 */
static void
test_bus_get_request_properties(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GVariant) some = NULL;
	g_autoptr(GVariant) all = NULL;
	g_autoptr(GVariant) bad = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *const wanted[] = {"State", "Id", NULL};
	const gchar *const unknown[] = {"Id", "Nope", NULL};
	const gchar *const none[] = {NULL};
	g_autoptr(GVariant) some_list = NULL;
	g_autoptr(GVariant) all_list = NULL;
	GVariantIter iter;
	const gchar *path;
	GVariant *props;
	guint n = 0;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	for (guint i = 0; i < 2; i++) {
		g_autofree gchar *id = g_strdup_printf("p-%u", i);
		g_autofree gchar *name = g_strdup_printf("p%u.crt", i);
		g_autofree gchar *key_name = g_strdup_printf("p%u.key", i);
		g_autofree gchar *cert = ck_test_daemon_path(td, name);
		g_autofree gchar *key = ck_test_daemon_path(td, key_name);
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f",
					    cert, "-k", key, "-N", "CN=p", "-w", "--wait-timeout=30",
					    NULL),
				==, 0);
	}
	connection = ck_test_daemon_connect(td);

	some = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1",
			    "GetRequestProperties", g_variant_new("(^as)", wanted), "(a{oa{sv}})",
			    &error);
	g_assert_no_error(error);
	some_list = g_variant_get_child_value(some, 0);
	g_variant_iter_init(&iter, some_list);
	while (g_variant_iter_next(&iter, "{&o@a{sv}}", &path, &props)) {
		g_autofree gchar *id = g_strdup_printf("p-%u", n);
		const gchar *value = NULL;
		g_assert_cmpuint(g_variant_n_children(props), ==, 2);
		g_assert_true(g_variant_lookup(props, "Id", "&s", &value));
		/* ordered by id */
		g_assert_cmpstr(value, ==, id);
		g_assert_true(g_variant_lookup(props, "State", "&s", &value));
		g_variant_unref(props);
		n++;
	}
	g_assert_cmpuint(n, ==, 2);

	/* none named: everything, the same as Properties.GetAll of each (they are
	 * MONITORING: nothing changes between the two calls) */
	all = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1",
			   "GetRequestProperties", g_variant_new("(^as)", none), "(a{oa{sv}})",
			   &error);
	g_assert_no_error(error);
	all_list = g_variant_get_child_value(all, 0);
	g_variant_iter_init(&iter, all_list);
	n = 0;
	while (g_variant_iter_next(&iter, "{&o@a{sv}}", &path, &props)) {
		g_autoptr(GVariant) get_all =
		    ck_test_call(connection, path, "org.freedesktop.DBus.Properties", "GetAll",
				 g_variant_new("(s)", "org.certkeeper.Request1"), "(a{sv})", &error);
		g_autoptr(GVariant) expected = NULL;
		g_assert_no_error(error);
		expected = g_variant_get_child_value(get_all, 0);
		g_assert_cmpuint(g_variant_n_children(props), >, 40);
		g_assert_true(g_variant_equal(props, expected));
		g_variant_unref(props);
		n++;
	}
	g_assert_cmpuint(n, ==, 2);

	bad = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1",
			   "GetRequestProperties", g_variant_new("(^as)", unknown), "(a{oa{sv}})",
			   &error);
	g_assert_null(bad);
	ck_test_assert_remote_error(error, "org.certkeeper.Error.InvalidArgument");
	g_assert_nonnull(strstr(error->message, "Nope"));
}

typedef struct {
	gchar *saved_serial; /* from CertificateSaved */
	gchar *saved_path;
} CkSavedLog;

static void
ck_test_on_saved(GDBusConnection *connection, const gchar *sender, const gchar *path,
		 const gchar *iface, const gchar *signal, GVariant *params, gpointer user_data)
{
	CkSavedLog *log = user_data;
	g_free(log->saved_serial);
	g_free(log->saved_path);
	g_variant_get(params, "(s)", &log->saved_serial);
	log->saved_path = g_strdup(path);
}

static gboolean
ck_test_saw_saved(gpointer data)
{
	CkSavedLog *log = data;
	return log->saved_serial != NULL;
}

/*
 * The rest of Manager1 (Version, GetSupportedKeyTypes, FindRequest, GetCAs),
 * CA1's properties and Refresh, Request1's Modify, Refresh and CertificateSaved,
 * and GetManagedObjects as the one round trip that lists everything.
 */
static void
test_bus_manager_and_objects(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *key = NULL, *cert = NULL, *text = NULL, *serial = NULL;
	g_autofree const gchar **strv = NULL;
	const gchar *found = NULL;
	const gchar *request_path = MANAGER_PATH "/request/objs";
	CkSavedLog saved = {NULL, NULL};
	guint sub;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	connection = ck_test_daemon_connect(td);

	value = ck_test_get_property(connection, MANAGER_PATH, "org.certkeeper.Manager1", "Version");
	g_assert_cmpstr(g_variant_get_string(value, NULL), ==, PACKAGE_VERSION);
	g_clear_pointer(&value, g_variant_unref);

	reply = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1",
			     "GetSupportedKeyTypes", NULL, "(as)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(^a&s)", &strv);
	g_assert_true(g_strv_contains(strv, "ec-p256"));
	g_assert_true(g_strv_contains(strv, "ec-p384"));
	g_assert_true(g_strv_contains(strv, "ec-p521"));
	g_assert_true(g_strv_contains(strv, "rsa-2048"));
	g_assert_true(g_strv_contains(strv, "rsa-4096"));
	g_assert_true(g_strv_contains(strv, "ed25519"));
	g_clear_pointer(&strv, g_free);
	g_clear_pointer(&reply, g_variant_unref);

	cert = ck_test_daemon_path(td, "objs.crt");
	key = ck_test_daemon_path(td, "objs.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "objs", "-f", cert,
				    "-k", key, "-N", "CN=objs.example", "-D", "objs.example", "-w",
				    NULL),
			==, 0);

	/* FindRequest by id and by certificate path; an unknown one is NotFound */
	for (guint i = 0; i < 2; i++) {
		reply = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1",
				     "FindRequest", g_variant_new("(s)", i == 0 ? "objs" : cert),
				     "(o)", &error);
		g_assert_no_error(error);
		g_variant_get(reply, "(&o)", &found);
		g_assert_cmpstr(found, ==, request_path);
		g_clear_pointer(&reply, g_variant_unref);
	}
	reply = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1", "FindRequest",
			     g_variant_new("(s)", "/nowhere.crt"), "(o)", &error);
	g_assert_null(reply);
	ck_test_assert_remote_error(error, "org.certkeeper.Error.NotFound");
	g_clear_error(&error);

	/* the local CA as an object: what it is, whom it issues as, its roots */
	reply = ck_test_call(connection, MANAGER_PATH, "org.certkeeper.Manager1", "GetCAs", NULL,
			     "(ao)", &error);
	g_assert_no_error(error);
	g_variant_get(reply, "(^a&o)", &strv);
	g_assert_true(g_strv_contains(strv, MANAGER_PATH "/ca/local"));
	g_clear_pointer(&strv, g_free);
	g_clear_pointer(&reply, g_variant_unref);
	text = ck_test_get_string(connection, MANAGER_PATH "/ca/local", "org.certkeeper.CA1", "Name");
	g_assert_cmpstr(text, ==, "local");
	g_clear_pointer(&text, g_free);
	text = ck_test_get_string(connection, MANAGER_PATH "/ca/local", "org.certkeeper.CA1", "Type");
	g_assert_cmpstr(text, ==, "local");
	g_clear_pointer(&text, g_free);
	reply = ck_test_call(connection, MANAGER_PATH "/ca/local", "org.certkeeper.CA1", "Refresh",
			     NULL, NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	value = ck_test_get_property(connection, MANAGER_PATH "/ca/local", "org.certkeeper.CA1",
				     "RootCertificates");
	g_assert_true(g_variant_is_of_type(value, G_VARIANT_TYPE("as")));
	g_assert_cmpuint(g_variant_n_children(value), >=, 1);
	{
		const gchar *pem = NULL;
		g_variant_get_child(value, 0, "&s", &pem);
		g_assert_nonnull(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	}
	g_clear_pointer(&value, g_variant_unref);
	value = ck_test_get_property(connection, MANAGER_PATH "/ca/local", "org.certkeeper.CA1",
				     "IssuerNames");
	g_assert_cmpuint(g_variant_n_children(value), >=, 1);
	g_clear_pointer(&value, g_variant_unref);
	text = ck_test_get_string(connection, MANAGER_PATH "/ca/local", "org.certkeeper.CA1", "Error");
	g_assert_cmpstr(text, ==, "");
	g_clear_pointer(&text, g_free);

	/* Modify changes a setting; a field that may not change is named */
	reply = ck_test_call(connection, request_path, "org.certkeeper.Request1", "Modify",
			     g_variant_new_parsed("({'renew-before': <'45d'>},)"), NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	text = ck_test_get_string(connection, request_path, "org.certkeeper.Request1", "RenewBefore");
	g_assert_cmpstr(text, ==, "45d");
	g_clear_pointer(&text, g_free);
	reply = ck_test_call(connection, request_path, "org.certkeeper.Request1", "Modify",
			     g_variant_new_parsed("({'cert-file': <'/elsewhere.crt'>},)"), NULL,
			     &error);
	g_assert_null(reply);
	ck_test_assert_remote_error(error, "org.certkeeper.Error.InvalidArgument");
	g_assert_nonnull(strstr(error->message, "cert-file"));
	g_clear_error(&error);

	/* Refresh is allowed and keeps what is installed */
	reply = ck_test_call(connection, request_path, "org.certkeeper.Request1", "Refresh", NULL,
			     NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);

	/* CertificateSaved carries the new serial, the one Serial then shows */
	sub = g_dbus_connection_signal_subscribe(connection, "org.certkeeper.Certkeeper1",
						 "org.certkeeper.Request1", "CertificateSaved",
						 NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
						 ck_test_on_saved, &saved, NULL);
	g_dbus_connection_call_sync(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				    "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
				    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	reply = ck_test_call(connection, request_path, "org.certkeeper.Request1", "Resubmit", NULL,
			     NULL, &error);
	g_assert_no_error(error);
	g_clear_pointer(&reply, g_variant_unref);
	g_assert_true(ck_test_wait_for(ck_test_saw_saved, &saved, 20000));
	g_assert_cmpstr(saved.saved_path, ==, request_path);
	serial = ck_test_get_string(connection, request_path, "org.certkeeper.Request1", "Serial");
	g_assert_cmpstr(saved.saved_serial, ==, serial);
	g_dbus_connection_signal_unsubscribe(connection, sub);
	g_free(saved.saved_serial);
	g_free(saved.saved_path);

	/* one GetManagedObjects: every request with all of its properties, no key material */
	reply = ck_test_call(connection, MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
			     "GetManagedObjects", NULL, "(a{oa{sa{sv}}})", &error);
	g_assert_no_error(error);
	{
		g_autoptr(GVariant) objects = g_variant_get_child_value(reply, 0);
		g_autoptr(GVariant) props = NULL;
		g_autofree gchar *all = g_variant_print(reply, FALSE);
		g_autoptr(GVariant) object = NULL;
		g_assert_true(g_variant_lookup(objects, request_path, "@a{sa{sv}}", &object));
		g_assert_true(
		    g_variant_lookup(object, "org.certkeeper.Request1", "@a{sv}", &props));
		g_assert_cmpuint(g_variant_n_children(props), >=, 50);
		g_assert_null(strstr(all, "PRIVATE KEY"));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/bus/introspection-matches-contract",
			test_bus_introspection_matches_contract);
	g_test_add_func("/certkeeper/bus/signals", test_bus_signals);
	g_test_add_func("/certkeeper/bus/get-requests-and-errors", test_bus_get_requests_and_errors);
	g_test_add_func("/certkeeper/bus/manager-and-objects", test_bus_manager_and_objects);
	g_test_add_func("/certkeeper/bus/get-request-properties", test_bus_get_request_properties);
	return g_test_run();
}
