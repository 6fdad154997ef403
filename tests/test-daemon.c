/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeperd end to end: a private bus with the real policy, the real daemon,
 * the real CLI, and the built-in local CA.
 */
#include "config.h"

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sys/stat.h>
#include <glib/gstdio.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

/* Requests a certificate with --wait; returns the CLI's exit status. */
static gint
ck_test_request(CkTestDaemon *td, const gchar *name, gchar **stdout_out, gchar **stderr_out)
{
	g_autofree gchar *cert = g_strdup_printf("%s/certs/%s.crt", td->dir, name);
	g_autofree gchar *key = g_strdup_printf("%s/certs/%s.key", td->dir, name);
	g_autofree gchar *chain = g_strdup_printf("%s/certs/%s-chain.crt", td->dir, name);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example,O=certkeeper test", name);
	g_autofree gchar *dns = g_strdup_printf("%s.example", name);
	g_autofree gchar *certs = g_build_filename(td->dir, "certs", NULL);

	g_mkdir_with_parents(certs, 0755);
	return ck_test_cli(td, FALSE, NULL, stdout_out, stderr_out, "request", "-f", cert, "-k", key,
			   "-F", chain, "-N", subject, "-D", dns, "-A", "192.0.2.10", "-A",
			   "2001:db8::10", "-I", name, "-w", "--wait-timeout=30", NULL);
}

static JsonArray *
ck_test_list_json(CkTestDaemon *td, gboolean as_nobody)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonNode *root;

	g_assert_cmpint(ck_test_cli(td, as_nobody, NULL, &out, NULL, "list", "--json", NULL), ==, 0);
	json_parser_load_from_data(parser, out, -1, &error);
	g_assert_no_error(error);
	root = json_parser_get_root(parser);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
	return json_array_ref(json_node_get_array(root));
}

static void
ck_test_assert_verifies_with_gnutls(const gchar *root_path, const gchar *chain_path,
				    const gchar *cert_path)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t *chain = NULL;
	unsigned int chain_len = 0;
	unsigned int verify = 0;
	g_autofree gchar *leaf_pem = NULL;
	g_autofree gchar *chain_pem = NULL;
	g_autofree gchar *both = NULL;
	gnutls_datum_t datum;

	g_assert_true(g_file_get_contents(cert_path, &leaf_pem, NULL, NULL));
	g_assert_true(g_file_get_contents(chain_path, &chain_pem, NULL, NULL));
	both = g_strconcat(leaf_pem, chain_pem, NULL);
	datum.data = (unsigned char *)both;
	datum.size = strlen(both);
	g_assert_cmpint(gnutls_x509_crt_list_import2(&chain, &chain_len, &datum, GNUTLS_X509_FMT_PEM, 0),
			==, 0);
	g_assert_cmpuint(chain_len, ==, 2);
	g_assert_cmpint(gnutls_x509_trust_list_init(&tl, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_trust_list_add_trust_file(tl, root_path, NULL,
							      GNUTLS_X509_FMT_PEM, 0, 0),
			==, 1);
	g_assert_cmpint(gnutls_x509_trust_list_verify_crt(tl, chain, chain_len, 0, &verify, NULL),
			==, 0);
	g_assert_cmpuint(verify, ==, 0);
	for (unsigned int i = 0; i < chain_len; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_x509_trust_list_deinit(tl, 1);
}

static gchar *
ck_test_openssl_pubkey(const gchar *subcommand, const gchar *path)
{
	g_autofree gchar *out = NULL;
	const gchar *argv_x509[] = {"openssl", "x509", "-in", path, "-noout", "-pubkey", NULL};
	const gchar *argv_pkey[] = {"openssl", "pkey", "-in", path, "-pubout", NULL};
	gint rc = ck_test_run(g_strcmp0(subcommand, "x509") == 0 ? argv_x509 : argv_pkey, &out,
			      NULL);
	g_assert_cmpint(rc, ==, 0);
	return g_steal_pointer(&out);
}

static void
test_daemon_request_to_monitoring(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *chain = NULL, *root = NULL, *verify_out = NULL;
	g_autofree gchar *cert_pub = NULL, *key_pub = NULL, *text = NULL;
	g_autoptr(JsonArray) list = NULL;
	JsonObject *obj;
	gint64 start;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	start = g_get_monotonic_time();
	g_assert_cmpint(ck_test_request(td, "web", &out, &err), ==, 0);
	/* within seconds, not minutes */
	g_assert_cmpint(g_get_monotonic_time() - start, <, 10 * G_USEC_PER_SEC);
	g_assert_nonnull(strstr(out, "\"web\""));

	cert = g_build_filename(td->dir, "certs", "web.crt", NULL);
	key = g_build_filename(td->dir, "certs", "web.key", NULL);
	chain = g_build_filename(td->dir, "certs", "web-chain.crt", NULL);
	root = g_build_filename(td->state_dir, "local-ca", "root.pem", NULL);
	g_assert_cmpint(ck_test_file_mode(cert), ==, 0644);
	g_assert_cmpint(ck_test_file_mode(key), ==, 0600);
	g_assert_cmpint(ck_test_file_mode(chain), ==, 0644);

	/* the chain verifies to the local CA's root, with openssl and with GnuTLS */
	{
		const gchar *argv[] = {"openssl", "verify", "-CAfile", root, "-untrusted", chain,
				       cert, NULL};
		g_assert_cmpint(ck_test_run(argv, &verify_out, NULL), ==, 0);
		g_assert_nonnull(strstr(verify_out, ": OK"));
	}
	ck_test_assert_verifies_with_gnutls(root, chain, cert);

	/* the key is the certificate's */
	cert_pub = ck_test_openssl_pubkey("x509", cert);
	key_pub = ck_test_openssl_pubkey("pkey", key);
	g_assert_cmpstr(cert_pub, ==, key_pub);

	/* the names asked for are in the certificate */
	{
		const gchar *argv[] = {"openssl", "x509", "-in", cert, "-noout", "-text", NULL};
		g_assert_cmpint(ck_test_run(argv, &text, NULL), ==, 0);
		g_assert_nonnull(strstr(text, "DNS:web.example"));
		g_assert_nonnull(strstr(text, "IP Address:192.0.2.10"));
		g_assert_nonnull(strstr(text, "IP Address:2001:DB8:0:0:0:0:0:10"));
		g_assert_nonnull(strstr(text, "CN = web.example"));
		g_assert_nonnull(strstr(text, "ASN1 OID: prime256v1"));
	}

	/* list and status agree */
	list = ck_test_list_json(td, FALSE);
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
	obj = json_array_get_object_element(list, 0);
	g_assert_cmpstr(json_object_get_string_member(obj, "Id"), ==, "web");
	g_assert_cmpstr(json_object_get_string_member(obj, "State"), ==, "MONITORING");
	g_assert_false(json_object_get_boolean_member(obj, "Stuck"));
	g_assert_cmpstr(json_object_get_string_member(obj, "CertFile"), ==, cert);
	g_assert_cmpint(json_object_get_int_member(obj, "NotAfter"), >,
			g_get_real_time() / G_USEC_PER_SEC + 364 * 86400);
	g_assert_cmpstr(json_object_get_string_member(obj, "LastError"), ==, "");
	g_assert_cmpuint(strlen(json_object_get_string_member(obj, "Serial")), >=, 16);
	g_assert_nonnull(strstr(json_object_get_string_member(obj, "Issuer"), "certkeeper local"));

	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "web", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "MONITORING"));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-f", cert, NULL), ==, 0);
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "web"));
	g_assert_nonnull(strstr(out, "MONITORING"));
	g_assert_nonnull(strstr(out, "local"));

	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	g_assert_nonnull(strstr(td->notify_messages->str, "READY=1"));
	g_assert_nonnull(strstr(td->notify_messages->str, "STOPPING=1"));
}

static void
test_daemon_restart_and_stop_tracking(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(JsonArray) before = NULL;
	g_autoptr(JsonArray) after = NULL;
	g_autoptr(JsonArray) empty = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *state_file = NULL, *out = NULL;
	JsonObject *a, *b;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	g_assert_cmpint(ck_test_request(td, "api", NULL, NULL), ==, 0);
	g_assert_cmpint(ck_test_request(td, "db", NULL, NULL), ==, 0);
	before = ck_test_list_json(td, FALSE);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);

	ck_test_daemon_start(td);
	after = ck_test_list_json(td, FALSE);
	g_assert_cmpuint(json_array_get_length(after), ==, 2);
	for (guint i = 0; i < 2; i++) {
		a = json_array_get_object_element(before, i);
		b = json_array_get_object_element(after, i);
		g_assert_cmpstr(json_object_get_string_member(a, "Id"), ==,
				json_object_get_string_member(b, "Id"));
		g_assert_cmpstr(json_object_get_string_member(b, "State"), ==, "MONITORING");
		g_assert_cmpstr(json_object_get_string_member(a, "Serial"), ==,
				json_object_get_string_member(b, "Serial"));
		g_assert_cmpint(json_object_get_int_member(a, "NotAfter"), ==,
				json_object_get_int_member(b, "NotAfter"));
	}

	/* stop-tracking forgets the request and leaves its files */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "stop-tracking", "-i", "api", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "api"));
	cert = g_build_filename(td->dir, "certs", "api.crt", NULL);
	key = g_build_filename(td->dir, "certs", "api.key", NULL);
	state_file = g_build_filename(td->state_dir, "requests", "api.json", NULL);
	g_assert_true(g_file_test(cert, G_FILE_TEST_IS_REGULAR));
	g_assert_true(g_file_test(key, G_FILE_TEST_IS_REGULAR));
	g_assert_false(g_file_test(state_file, G_FILE_TEST_EXISTS));
	empty = ck_test_list_json(td, FALSE);
	g_assert_cmpuint(json_array_get_length(empty), ==, 1);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "status", "-i", "api", NULL), ==, 1);

	/* and it stays forgotten across a restart */
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	ck_test_daemon_start(td);
	g_clear_pointer(&empty, json_array_unref);
	empty = ck_test_list_json(td, FALSE);
	g_assert_cmpuint(json_array_get_length(empty), ==, 1);
	g_assert_cmpstr(json_object_get_string_member(json_array_get_object_element(empty, 0), "Id"),
			==, "db");
}

/* Counts the entries of @dir (0 if it does not exist). */
static guint
ck_test_count_entries(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	guint n = 0;
	if (d == NULL)
		return 0;
	while (g_dir_read_name(d) != NULL)
		n++;
	return n;
}

static void
test_daemon_bad_input(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *certs = NULL, *cert = NULL, *key = NULL, *requests_dir = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	struct {
		const gchar *what;
		const gchar *args[8];
		const gchar *expected;
	} cases[] = {
	    {"unknown key type", {"-G", "dsa-1024", NULL}, "dsa-1024"},
	    {"malformed subject", {"-N", "this is not a DN", NULL}, "this is not a DN"},
	    {"IP address that is not one", {"-A", "300.1.2.3", NULL}, "300.1.2.3"},
	    {"not an IP at all", {"-A", "not-an-ip", NULL}, "not-an-ip"},
	    {"unknown CA", {"-c", "no-such-ca", NULL}, "no-such-ca"},
	};

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	certs = g_build_filename(td->dir, "certs", NULL);
	g_assert_cmpint(g_mkdir(certs, 0755), ==, 0);
	cert = g_build_filename(certs, "bad.crt", NULL);
	key = g_build_filename(certs, "bad.key", NULL);
	requests_dir = g_build_filename(td->state_dir, "requests", NULL);

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *err = NULL;
		const gchar *a[8] = {NULL};
		for (guint j = 0; j < 8 && cases[i].args[j] != NULL; j++)
			a[j] = cases[i].args[j];
		g_test_message("case: %s", cases[i].what);
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-f", cert, "-k",
					    key, "-N", "CN=bad", a[0], a[1], a[2], a[3], NULL),
				==, 1);
		g_assert_nonnull(strstr(err, cases[i].expected));
		g_assert_cmpuint(ck_test_count_entries(certs), ==, 0);
		g_assert_cmpuint(ck_test_count_entries(requests_dir), ==, 0);
	}

	/* paths: a directory that does not exist, and one that cannot be written */
	{
		g_autofree gchar *err = NULL;
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-f",
					    "/nonexistent-dir/x.crt", "-k", key, "-N", "CN=bad",
					    NULL),
				==, 1);
		g_assert_nonnull(strstr(err, "/nonexistent-dir"));
	}
	{
		g_autofree gchar *err = NULL;
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-f",
					    "/proc/certkeeper-test.crt", "-k", key, "-N", "CN=bad",
					    NULL),
				==, 1);
		g_assert_nonnull(strstr(err, "/proc"));
	}

	/* a relative path straight over D-Bus (the CLI would make it absolute) */
	connection = ck_test_daemon_connect(td);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autofree gchar *remote = NULL;
		GVariantBuilder options;
		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&options, "{sv}", "cert-file", g_variant_new_string("rel.crt"));
		g_variant_builder_add(&options, "{sv}", "key-file", g_variant_new_string(key));
		g_variant_builder_add(&options, "{sv}", "subject", g_variant_new_string("CN=x"));
		reply = g_dbus_connection_call_sync(
		    connection, "org.certkeeper.Certkeeper1", "/org/certkeeper/Certkeeper1",
		    "org.certkeeper.Manager1", "AddRequest", g_variant_new("(a{sv})", &options),
		    NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
		g_assert_null(reply);
		remote = g_dbus_error_get_remote_error(error);
		g_assert_cmpstr(remote, ==, "org.certkeeper.Error.InvalidArgument");
		g_assert_nonnull(strstr(error->message, "rel.crt"));
		g_assert_nonnull(strstr(error->message, "absolute"));
	}
	/* an unknown option and a mistyped one */
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		g_autofree gchar *remote = NULL;
		GVariantBuilder options;
		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&options, "{sv}", "cert-file", g_variant_new_uint32(7));
		reply = g_dbus_connection_call_sync(
		    connection, "org.certkeeper.Certkeeper1", "/org/certkeeper/Certkeeper1",
		    "org.certkeeper.Manager1", "AddRequest", g_variant_new("(a{sv})", &options),
		    NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
		g_assert_null(reply);
		remote = g_dbus_error_get_remote_error(error);
		g_assert_cmpstr(remote, ==, "org.certkeeper.Error.InvalidArgument");
		g_assert_nonnull(strstr(error->message, "cert-file"));
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		GVariantBuilder options;
		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&options, "{sv}", "colour", g_variant_new_string("blue"));
		reply = g_dbus_connection_call_sync(
		    connection, "org.certkeeper.Certkeeper1", "/org/certkeeper/Certkeeper1",
		    "org.certkeeper.Manager1", "AddRequest", g_variant_new("(a{sv})", &options),
		    NULL, G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
		g_assert_null(reply);
		g_assert_nonnull(strstr(error->message, "colour"));
	}
	g_assert_cmpuint(ck_test_count_entries(certs), ==, 0);
	g_assert_cmpuint(ck_test_count_entries(requests_dir), ==, 0);

	/* the daemon is still there and still works */
	g_assert_true(ck_test_daemon_is_running(td));
	g_assert_cmpint(ck_test_request(td, "good", NULL, NULL), ==, 0);
}

static void
test_daemon_unprivileged(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(JsonArray) list = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *log = NULL;

	if (td == NULL)
		return;
	if (!ck_test_have_program("setpriv")) {
		g_test_skip("setpriv is not installed");
		return;
	}
	ck_test_daemon_start(td);
	g_assert_cmpint(ck_test_request(td, "owned", NULL, NULL), ==, 0);

	/* anyone may read */
	list = ck_test_list_json(td, TRUE);
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
	g_assert_cmpint(ck_test_cli(td, TRUE, NULL, NULL, NULL, "status", "-i", "owned", NULL), ==,
			0);

	/* nobody may change anything: the bus policy already refuses */
	g_assert_cmpint(ck_test_cli(td, TRUE, NULL, NULL, &err, "request", "-f", "/tmp/x.crt", "-k",
				    "/tmp/x.key", "-N", "CN=x", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "denied"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(
	    ck_test_cli(td, TRUE, NULL, NULL, &err, "stop-tracking", "-i", "owned", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "denied"));
	g_clear_pointer(&list, json_array_unref);
	list = ck_test_list_json(td, FALSE);
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
}

static void
test_daemon_unprivileged_daemon_check(void)
{
	/* with a bus policy that lets everything through, the daemon itself must refuse */
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PERMISSIVE);
	g_autoptr(JsonArray) list = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *log = NULL;

	if (td == NULL)
		return;
	if (!ck_test_have_program("setpriv")) {
		g_test_skip("setpriv is not installed");
		return;
	}
	ck_test_daemon_start(td);
	g_assert_cmpint(ck_test_request(td, "owned", NULL, NULL), ==, 0);
	g_assert_cmpint(ck_test_cli(td, TRUE, NULL, NULL, &err, "request", "-f", "/tmp/x.crt", "-k",
				    "/tmp/x.key", "-N", "CN=x", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "no policy in policy.d lets user nobody"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(
	    ck_test_cli(td, TRUE, NULL, NULL, &err, "stop-tracking", "-i", "owned", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "RemoveRequest of request owned is for its owner (uid 0)"));
	list = ck_test_list_json(td, FALSE);
	g_assert_cmpuint(json_array_get_length(list), ==, 1);
	g_assert_false(g_file_test("/tmp/x.crt", G_FILE_TEST_EXISTS));
	/* and the refusal is logged with the caller's uid */
	g_assert_true(g_file_get_contents(td->daemon_log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "refused AddRequest for uid 65534"));
}

static void
test_daemon_single_instance(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *err = NULL;
	g_autofree gchar *other_state = NULL;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	/* same state directory */
	g_assert_cmpint(ck_test_daemon_run_second(td, td->state_dir, &err), ==, 1);
	g_assert_nonnull(strstr(err, "already uses the state directory"));
	g_clear_pointer(&err, g_free);
	/* same bus, other state directory */
	other_state = g_build_filename(td->dir, "other-state", NULL);
	g_assert_cmpint(ck_test_daemon_run_second(td, other_state, &err), ==, 1);
	g_assert_nonnull(strstr(err, "already owns org.certkeeper.Certkeeper1"));
	g_assert_true(ck_test_daemon_is_running(td));
}

static JsonObject *
ck_test_find_request(JsonArray *requests, const gchar *id)
{
	for (guint i = 0; i < json_array_get_length(requests); i++) {
		JsonObject *o = json_array_get_object_element(requests, i);
		if (g_strcmp0(json_object_get_string_member(o, "Id"), id) == 0)
			return o;
	}
	return NULL;
}

typedef struct {
	CkTestDaemon *td;
	const gchar *id;
	const gchar *member; /* NULL: the request is gone */
	const gchar *value;
} CkTestDeclared;

static gboolean
ck_test_declared_reached(gpointer data)
{
	CkTestDeclared *d = data;
	g_autoptr(JsonArray) requests = ck_test_list_json(d->td, FALSE);
	JsonObject *o = ck_test_find_request(requests, d->id);
	if (d->member == NULL)
		return o == NULL;
	return o != NULL && json_object_has_member(o, d->member) &&
	       g_strcmp0(json_object_get_string_member(o, d->member), d->value) == 0;
}

static void
ck_test_wait_declared(CkTestDaemon *td, const gchar *id, const gchar *member, const gchar *value)
{
	CkTestDeclared d = {td, id, member, value};
	if (!ck_test_wait_for(ck_test_declared_reached, &d, 30000))
		g_error("request %s: %s never became %s", id, member != NULL ? member : "(gone)",
			value != NULL ? value : "");
}

static void
ck_test_declare(CkTestDaemon *td, const gchar *name, const gchar *text)
{
	g_autofree gchar *path = g_build_filename(td->requests_dir, name, NULL);
	g_auto(GStrv) parts = g_strsplit(text, "@DIR@", -1);
	g_autofree gchar *expanded = g_strjoinv(td->dir, parts);
	g_assert_cmpint(g_mkdir_with_parents(td->requests_dir, 0755), ==, 0);
	g_assert_true(g_file_set_contents(path, expanded, -1, NULL));
}

/*
 * requests.d: what is declared there is tracked from start-up; systemctl reload
 * (SIGHUP) applies changes, additions and removals; a broken declaration is
 * reported with its file and line and leaves the others alone.
 */
static void
test_daemon_declared_requests(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *certs = NULL, *web_cert = NULL, *log = NULL;

	if (td == NULL)
		return;
	certs = g_build_filename(td->dir, "certs", NULL);
	g_assert_cmpint(g_mkdir_with_parents(certs, 0755), ==, 0);
	ck_test_declare(td, "10-web.conf",
			"# the web server's certificate\n"
			"[request web]\ncert-file=@DIR@/certs/web.crt\nkey-file=@DIR@/certs/web.key\n"
			"subject=CN=web.example\ndns-names=web.example;www.web.example\n");
	ck_test_daemon_start(td);
	ck_test_wait_declared(td, "web", "State", "MONITORING");
	web_cert = g_build_filename(certs, "web.crt", NULL);
	g_assert_true(g_file_test(web_cert, G_FILE_TEST_IS_REGULAR));

	/* a change, an addition and a broken one, applied by SIGHUP */
	ck_test_declare(td, "10-web.conf",
			"[request web]\ncert-file=@DIR@/certs/web.crt\nkey-file=@DIR@/certs/web.key\n"
			"subject=CN=web.example\ndns-names=web.example;www.web.example\n"
			"renew-before=10d\n"
			"[request api]\ncert-file=@DIR@/certs/api.crt\nkey-file=@DIR@/certs/api.key\n"
			"dns-names=api.example\n");
	ck_test_declare(td, "20-broken.conf",
			"[request broken]\ncert-file=@DIR@/certs/broken.crt\n"
			"key-file=@DIR@/certs/broken.key\nkey-type=dsa-512\n");
	g_assert_cmpint(kill(td->daemon_pid, SIGHUP), ==, 0);
	ck_test_wait_declared(td, "web", "RenewBefore", "10d");
	ck_test_wait_declared(td, "api", "State", "MONITORING");
	{
		g_autoptr(JsonArray) requests = ck_test_list_json(td, FALSE);
		g_assert_null(ck_test_find_request(requests, "broken"));
		g_assert_nonnull(strstr(json_object_get_string_member(
					    ck_test_find_request(requests, "api"), "Declared"),
					"10-web.conf"));
	}
	g_assert_true(g_file_get_contents(td->daemon_log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "20-broken.conf:4:"));
	g_assert_nonnull(strstr(log, "dsa-512"));
	g_assert_true(ck_test_daemon_is_running(td));

	/* gone from requests.d: no longer tracked, but the files stay */
	{
		g_autofree gchar *path = g_build_filename(td->requests_dir, "10-web.conf", NULL);
		g_assert_cmpint(g_unlink(path), ==, 0);
	}
	g_assert_cmpint(kill(td->daemon_pid, SIGHUP), ==, 0);
	ck_test_wait_declared(td, "web", NULL, NULL);
	ck_test_wait_declared(td, "api", NULL, NULL);
	g_assert_true(g_file_test(web_cert, G_FILE_TEST_IS_REGULAR));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/daemon/request-to-monitoring", test_daemon_request_to_monitoring);
	g_test_add_func("/certkeeper/daemon/restart-and-stop-tracking",
			test_daemon_restart_and_stop_tracking);
	g_test_add_func("/certkeeper/daemon/bad-input", test_daemon_bad_input);
	g_test_add_func("/certkeeper/daemon/unprivileged", test_daemon_unprivileged);
	g_test_add_func("/certkeeper/daemon/unprivileged-daemon-check",
			test_daemon_unprivileged_daemon_check);
	g_test_add_func("/certkeeper/daemon/single-instance", test_daemon_single_instance);
	g_test_add_func("/certkeeper/daemon/declared-requests", test_daemon_declared_requests);
	return g_test_run();
}
