/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The certkeeper CLI against the real daemon on a private policy-enforcing bus:
 * every verb does what it says (checked on the daemon's state, not only on exit
 * codes), long and short options are the same, --json holds every property,
 * status explains stuck requests with getcert's exit codes, and the bash
 * completion loads and completes.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define MANAGER_PATH "/org/certkeeper/Certkeeper1"

static JsonNode *
ck_test_parse_json(const gchar *text)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_nonnull(text);
	json_parser_load_from_data(parser, text, -1, &error);
	g_assert_no_error(error);
	return json_node_copy(json_parser_get_root(parser));
}

/* `certkeeper list --json` as an array. */
static JsonArray *
ck_test_list(CkTestDaemon *td)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) root = NULL;

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list", "--json", NULL), ==, 0);
	root = ck_test_parse_json(out);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
	return json_array_ref(json_node_get_array(root));
}

/* `certkeeper list-cas --json` as an array. */
static JsonArray *
ck_test_list_cas(CkTestDaemon *td)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) root = NULL;

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list-cas", "--json", NULL), ==,
			0);
	root = ck_test_parse_json(out);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(root));
	return json_array_ref(json_node_get_array(root));
}

/* The member of @array whose @key is @value, or NULL. */
static JsonObject *
ck_test_find(JsonArray *array, const gchar *key, const gchar *value)
{
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonObject *obj = json_array_get_object_element(array, i);
		if (g_strcmp0(json_object_get_string_member_with_default(obj, key, NULL), value) ==
		    0)
			return obj;
	}
	return NULL;
}

/* `certkeeper status --json -i ID` (a reference; NULL if there is no such request). */
static JsonObject *
ck_test_status(CkTestDaemon *td, const gchar *id)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) root = NULL;
	gint rc = ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "--json", "-i", id, NULL);

	if (rc == 1)
		return NULL;
	root = ck_test_parse_json(out);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
	return json_object_ref(json_node_get_object(root));
}

static const gchar *
ck_test_str(JsonObject *obj, const gchar *name)
{
	g_assert_true(json_object_has_member(obj, name));
	return json_object_get_string_member(obj, name);
}

/* Waits up to @timeout_ms for request @id to be in @state. */
static void
ck_test_wait_state(CkTestDaemon *td, const gchar *id, const gchar *state, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	for (;;) {
		g_autoptr(JsonObject) obj = ck_test_status(td, id);
		g_assert_nonnull(obj);
		if (g_strcmp0(ck_test_str(obj, "State"), state) == 0)
			return;
		if (g_get_monotonic_time() > deadline)
			g_error("request %s is %s, not %s, after %u ms", id,
				ck_test_str(obj, "State"), state, timeout_ms);
		g_usleep(100 * 1000);
	}
}

static gchar *
ck_test_write_helper(CkTestDaemon *td, const gchar *name, const gchar *body)
{
	gchar *path = ck_test_daemon_path(td, name);
	/* like real helpers, they say so when asked for an operation they do not know */
	g_autofree gchar *text = g_strdup_printf(
	    "#!/bin/sh\n[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n%s\n", body);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return path;
}

static gchar *
ck_test_certs_path(CkTestDaemon *td, const gchar *name)
{
	g_autofree gchar *dir = ck_test_daemon_path(td, "certs");
	g_mkdir_with_parents(dir, 0755);
	return g_build_filename(dir, name, NULL);
}

/* Requests @id from the local CA with -w; asserts it is issued. */
static void
ck_test_request_local(CkTestDaemon *td, const gchar *id)
{
	g_autofree gchar *name = g_strdup_printf("%s.crt", id);
	g_autofree gchar *key_name = g_strdup_printf("%s.key", id);
	g_autofree gchar *cert = ck_test_certs_path(td, name);
	g_autofree gchar *key = ck_test_certs_path(td, key_name);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert,
				    "-k", key, "-N", subject, "-w", "--wait-timeout=30", NULL),
			==, 0);
}

/* The serial of a PEM certificate as openssl prints it, lowercase, without leading zeros. */
static gchar *
ck_test_openssl_serial(const gchar *path)
{
	g_autofree gchar *out = NULL;
	const gchar *argv[] = {"openssl", "x509", "-in", path, "-noout", "-serial", NULL};
	const gchar *hex;

	g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	g_strstrip(out);
	g_assert_true(g_str_has_prefix(out, "serial="));
	hex = out + strlen("serial=");
	while (hex[0] == '0' && hex[1] != '\0')
		hex++;
	return g_ascii_strdown(hex, -1);
}

static gchar *
ck_test_strip_zeros(const gchar *hex)
{
	while (hex[0] == '0' && hex[1] != '\0')
		hex++;
	return g_ascii_strdown(hex, -1);
}

/* A key and a self-signed certificate made with openssl, as another CA would leave them. */
static void
ck_test_openssl_cert(const gchar *cert, const gchar *key, const gchar *cn, const gchar *days,
		     gboolean new_key)
{
	g_autofree gchar *subject = g_strdup_printf("/CN=%s", cn);
	g_autofree gchar *san = g_strdup_printf("subjectAltName=DNS:%s", cn);
	if (new_key) {
		const gchar *argv[] = {"openssl",
				       "req",
				       "-x509",
				       "-newkey",
				       "ec",
				       "-pkeyopt",
				       "ec_paramgen_curve:P-256",
				       "-nodes",
				       "-keyout",
				       key,
				       "-out",
				       cert,
				       "-subj",
				       subject,
				       "-days",
				       days,
				       "-addext",
				       san,
				       NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	} else {
		const gchar *argv[] = {"openssl", "req",  "-x509",   "-new",  "-key",
				       key,       "-out", cert,      "-subj", subject,
				       "-days",   days,   "-addext", san,     NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	}
}

/* The property names of interface @iface as the contract in dbus/ documents them. */
static GPtrArray *
ck_test_contract_properties(const gchar *file)
{
	g_autofree gchar *path = g_build_filename(g_getenv("CK_TOP_SRCDIR"), "dbus", file, NULL);
	g_autofree gchar *xml = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusNodeInfo) info = NULL;
	GPtrArray *names = g_ptr_array_new_with_free_func(g_free);

	g_assert_true(g_file_get_contents(path, &xml, NULL, &error));
	info = g_dbus_node_info_new_for_xml(xml, &error);
	g_assert_no_error(error);
	for (guint i = 0; info->interfaces[0]->properties[i] != NULL; i++)
		g_ptr_array_add(names, g_strdup(info->interfaces[0]->properties[i]->name));
	return names;
}

static void
ck_test_assert_has_properties(JsonObject *obj, GPtrArray *names)
{
	for (guint i = 0; i < names->len; i++) {
		const gchar *name = g_ptr_array_index(names, i);
		if (!json_object_has_member(obj, name))
			g_error("the JSON has no property %s", name);
	}
}

/*
 * request: short and long options give the same request, and every setting is
 * what was asked for.
 */
static void
test_cli_request_short_and_long(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *c1 = NULL, *k1 = NULL, *ch1 = NULL, *c2 = NULL, *k2 = NULL, *ch2 = NULL;
	g_autofree gchar *out = NULL, *text = NULL;
	g_autoptr(JsonObject) a = NULL;
	g_autoptr(JsonObject) b = NULL;
	g_autoptr(GList) members = NULL;
	const gchar *per_request[] = {"Id",          "CertFile",   "KeyFile",     "ChainFile",
				      "Serial",      "NotBefore",  "NotAfter",    "RenewalTime",
				      "LastRenewal", "ObjectPath", "NextAttempt", "LastFailureTime",
				      NULL};
	JsonArray *dns;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	c1 = ck_test_certs_path(td, "short.crt");
	k1 = ck_test_certs_path(td, "short.key");
	ch1 = ck_test_certs_path(td, "short-chain.crt");
	c2 = ck_test_certs_path(td, "long.crt");
	k2 = ck_test_certs_path(td, "long.key");
	ch2 = ck_test_certs_path(td, "long-chain.crt");

	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, &out, NULL, "request", "-f", c1, "-k", k1, "-F", ch1, "-I",
			"short", "-N", "CN=opts.example,O=certkeeper test", "-D", "opts.example",
			"-D", "www.opts.example", "-A", "192.0.2.7", "-E", "admin@opts.example",
			"-K", "host/opts.example@EXAMPLE.ORG", "-u", "digitalSignature", "-U",
			"serverAuth", "-U", "clientAuth", "-c", "local", "-T", "webserver", "-G",
			"ec", "-g", "256", "-r", "-B", "true pre", "-C", "true post", "-o",
			"root:root", "-m", "0640", "-O", "root", "-M", "0644", "--uri",
			"spiffe://example.org/web", "--validity-days", "30", "--renew-before",
			"10d", "--key-policy", "reuse", "--hook-user", "nobody", "--check-command",
			"true", "--pid-signal", "USR1", "-w", "--wait-timeout=30", NULL),
	    ==, 0);
	g_assert_nonnull(strstr(out, "\"short\""));
	g_assert_cmpint(
	    ck_test_cli(
		td, FALSE, NULL, NULL, NULL, "request", "--cert-file", c2, "--key-file", k2,
		"--chain-file", ch2, "--id=long", "--subject=CN=opts.example,O=certkeeper test",
		"--dns", "opts.example", "--dns=www.opts.example", "--ip", "192.0.2.7", "--email",
		"admin@opts.example", "--principal", "host/opts.example@EXAMPLE.ORG", "--key-usage",
		"digitalSignature", "--extended-key-usage", "serverAuth",
		"--extended-key-usage=clientAuth", "--ca", "local", "--profile", "webserver",
		"--key-type", "ec", "--key-size", "256", "--auto-renew", "--pre-save-command",
		"true pre", "--post-save-command", "true post", "--key-owner", "root:root",
		"--key-mode", "0640", "--cert-owner", "root", "--cert-mode", "0644", "--uri",
		"spiffe://example.org/web", "--validity-days=30", "--renew-before=10d",
		"--key-policy=reuse", "--hook-user=nobody", "--check-command=true",
		"--pid-signal=USR1", "--wait", "--wait-timeout", "30", NULL),
	    ==, 0);

	a = ck_test_status(td, "short");
	b = ck_test_status(td, "long");
	g_assert_nonnull(a);
	g_assert_nonnull(b);
	/* what was asked for */
	g_assert_cmpstr(ck_test_str(a, "State"), ==, "MONITORING");
	g_assert_cmpstr(ck_test_str(a, "Subject"), ==, "CN=opts.example,O=certkeeper test");
	g_assert_cmpstr(ck_test_str(a, "CertFile"), ==, c1);
	g_assert_cmpstr(ck_test_str(a, "KeyFile"), ==, k1);
	g_assert_cmpstr(ck_test_str(a, "ChainFile"), ==, ch1);
	g_assert_cmpstr(ck_test_str(a, "KeyType"), ==, "ec-p256");
	g_assert_cmpstr(ck_test_str(a, "Profile"), ==, "webserver");
	g_assert_cmpstr(ck_test_str(a, "KeyPolicy"), ==, "reuse");
	g_assert_cmpstr(ck_test_str(a, "RenewBefore"), ==, "10d");
	g_assert_cmpstr(ck_test_str(a, "PreSaveCommand"), ==, "true pre");
	g_assert_cmpstr(ck_test_str(a, "PostSaveCommand"), ==, "true post");
	g_assert_cmpstr(ck_test_str(a, "HookUser"), ==, "nobody");
	g_assert_cmpstr(ck_test_str(a, "CheckCommand"), ==, "true");
	g_assert_cmpstr(ck_test_str(a, "PidSignal"), ==, "SIGUSR1");
	g_assert_cmpint(json_object_get_int_member(a, "Validity"), ==, 30 * 86400);
	g_assert_cmpint(json_object_get_int_member(a, "KeyMode"), ==, 0640);
	g_assert_cmpint(json_object_get_int_member(a, "CertMode"), ==, 0644);
	g_assert_true(json_object_get_boolean_member(a, "AutoRenew"));
	dns = json_object_get_array_member(a, "DNSNames");
	g_assert_cmpuint(json_array_get_length(dns), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(dns, 1), ==, "www.opts.example");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(a, "ExtendedKeyUsage")),
			 ==, 2);
	g_assert_cmpstr(
	    json_array_get_string_element(json_object_get_array_member(a, "Principals"), 0), ==,
	    "host/opts.example@EXAMPLE.ORG");
	g_assert_cmpstr(json_array_get_string_element(json_object_get_array_member(a, "URIs"), 0),
			==, "spiffe://example.org/web");
	g_assert_cmpint(ck_test_file_mode(k1), ==, 0640);
	/* the lifetime asked for is the one issued */
	g_assert_cmpint(json_object_get_int_member(a, "NotAfter") -
			    json_object_get_int_member(a, "NotBefore"),
			<=, 30 * 86400 + 600);
	{
		const gchar *argv[] = {"openssl", "x509", "-in", c1, "-noout", "-text", NULL};
		g_assert_cmpint(ck_test_run(argv, &text, NULL), ==, 0);
		g_assert_nonnull(strstr(text, "DNS:www.opts.example"));
		g_assert_nonnull(strstr(text, "email:admin@opts.example"));
		g_assert_nonnull(strstr(text, "URI:spiffe://example.org/web"));
		g_assert_nonnull(strstr(text, "TLS Web Client Authentication"));
	}

	/* and the long options gave exactly the same, apart from what is the request's own */
	members = json_object_get_members(a);
	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		g_autofree gchar *va = NULL, *vb = NULL;
		if (g_strv_contains(per_request, name))
			continue;
		g_assert_true(json_object_has_member(b, name));
		va = json_to_string(json_object_get_member(a, name), FALSE);
		vb = json_to_string(json_object_get_member(b, name), FALSE);
		g_test_message("%s: %s / %s", name, va, vb);
		g_assert_cmpstr(va, ==, vb);
	}
	g_assert_cmpuint(json_object_get_size(a), ==, json_object_get_size(b));
}

/* --json holds every property of the contract; the table is readable and colourless off a tty. */
static void
test_cli_json_and_table(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GPtrArray) request_props = NULL;
	g_autoptr(GPtrArray) ca_props = NULL;
	g_autoptr(JsonArray) list = NULL;
	g_autoptr(JsonArray) cas = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autofree gchar *out = NULL, *ids = NULL, *verbose = NULL;
	g_auto(GStrv) lines = NULL;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	/* nothing yet */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "No certificates are tracked"));
	g_clear_pointer(&out, g_free);

	ck_test_request_local(td, "alpha");
	ck_test_request_local(td, "beta");
	request_props = ck_test_contract_properties("org.certkeeper.Request1.xml");
	ca_props = ck_test_contract_properties("org.certkeeper.CA1.xml");
	g_assert_cmpuint(request_props->len, >, 40);

	list = ck_test_list(td);
	g_assert_cmpuint(json_array_get_length(list), ==, 2);
	for (guint i = 0; i < 2; i++)
		ck_test_assert_has_properties(json_array_get_object_element(list, i),
					      request_props);
	status = ck_test_status(td, "beta");
	ck_test_assert_has_properties(status, request_props);
	g_assert_cmpstr(ck_test_str(status, "Subject"), ==, "CN=beta.example");
	cas = ck_test_list_cas(td);
	g_assert_nonnull(ck_test_find(cas, "Name", "local"));
	ck_test_assert_has_properties(ck_test_find(cas, "Name", "local"), ca_props);

	/* the table: a header, one line per request, no colour off a terminal */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list", NULL), ==, 0);
	g_assert_null(strchr(out, '\033'));
	lines = g_strsplit(out, "\n", -1);
	g_assert_cmpuint(g_strv_length(lines), ==, 4);
	g_assert_true(g_str_has_prefix(lines[0], "ID"));
	g_assert_nonnull(strstr(lines[0], "EXPIRES"));
	g_assert_true(g_str_has_prefix(lines[1], "alpha"));
	g_assert_nonnull(strstr(lines[1], "MONITORING"));
	g_assert_nonnull(strstr(lines[1], "CN=alpha.example"));
	g_assert_nonnull(strstr(lines[1], "in 36"));
	g_assert_nonnull(strstr(lines[1], "local"));
	/* the columns line up */
	g_assert_true(strstr(lines[1], "MONITORING") - lines[1] ==
		      strstr(lines[0], "STATE") - lines[0]);

	/* the hidden helper for completion */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &ids, NULL, "list", "--ids", NULL), ==, 0);
	g_assert_cmpstr(ids, ==, "alpha\nbeta\n");
	/* a filter by CA */
	g_clear_pointer(&ids, g_free);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, &ids, NULL, "list", "--ids", "-c", "other", NULL), ==, 0);
	g_assert_cmpstr(ids, ==, "");

	/* colour on a terminal (script(1) gives it one), and not with NO_COLOR */
	if (ck_test_have_program("script")) {
		g_autofree gchar *binary =
		    g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "client", "certkeeper", NULL);
		g_autofree gchar *cmd =
		    g_strdup_printf("%s --bus=%s list", binary, td->bus_address);
		const gchar *argv[] = {"script", "-qec", cmd, "/dev/null", NULL};
		g_autofree gchar *tty_out = NULL, *plain_out = NULL;
		g_assert_cmpint(ck_test_run(argv, &tty_out, NULL), ==, 0);
		g_assert_nonnull(strstr(tty_out, "\033[32mMONITORING"));
		g_setenv("NO_COLOR", "1", TRUE);
		g_assert_cmpint(ck_test_run(argv, &plain_out, NULL), ==, 0);
		g_unsetenv("NO_COLOR");
		g_assert_nonnull(strstr(plain_out, "MONITORING"));
		g_assert_null(strchr(plain_out, '\033'));
	}

	/* status -v prints every property */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &verbose, NULL, "status", "-v", "alpha", NULL),
			==, 0);
	for (guint i = 0; i < request_props->len; i++) {
		g_autofree gchar *label =
		    g_strdup_printf("  %s: ", (gchar *)g_ptr_array_index(request_props, i));
		g_assert_nonnull(strstr(verbose, label));
	}
	g_assert_nonnull(strstr(verbose, "KeyMode: 0600"));
}

#define STUCK_CONFIG                                                                               \
	"[ca rejecting]\nType=helper\nHelper=%s/reject.sh\n"                                       \
	"[ca down]\nType=helper\nHelper=%s/down.sh\n"                                              \
	"[ca misconfigured]\nType=helper\nHelper=%s/misconfigured.sh\n"                            \
	"[ca slow]\nType=helper\nHelper=%s/slow.sh\nTimeout=30\n"

/* A request to @ca; returns the CLI's exit status. */
static gint
ck_test_request_ca(CkTestDaemon *td, const gchar *id, const gchar *ca, const gchar *wait_timeout)
{
	g_autofree gchar *name = g_strdup_printf("%s.crt", id);
	g_autofree gchar *key_name = g_strdup_printf("%s.key", id);
	g_autofree gchar *cert = ck_test_certs_path(td, name);
	g_autofree gchar *key = ck_test_certs_path(td, key_name);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	g_autofree gchar *timeout = g_strdup_printf("--wait-timeout=%s", wait_timeout);

	return ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert, "-k", key,
			   "-N", subject, "-c", ca, timeout, NULL);
}

/* status says why a request is stuck and what to do, and exits with getcert's codes. */
/*
 * `list --json` is written straight from the bus reply, without JSON objects
 * in between: it must say exactly what `status --json` (built the other way)
 * says, text that needs escaping and all, and so must the --ca form.
 */
static void
test_cli_list_json_as_status(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(JsonArray) list = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *by_ca = NULL;
	g_autofree gchar *cert = NULL;
	g_autofree gchar *key = NULL;
	g_autoptr(JsonNode) by_ca_root = NULL;
	const gchar *odd = "printf '%s\\n' \"quoted\" \\back\tslash\n\x01 caf\xc3\xa9";
	JsonObject *listed;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	/* no request: an empty array */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list", "--json", NULL), ==, 0);
	g_assert_cmpuint(json_array_get_length(ck_test_list(td)), ==, 0);
	g_clear_pointer(&out, g_free);

	ck_test_request_local(td, "plain");
	cert = ck_test_certs_path(td, "odd.crt");
	key = ck_test_certs_path(td, "odd.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "odd", "-f", cert,
				    "-k", key, "-N", "CN=odd.example", "-D", "odd.example", "-D",
				    "www.odd.example", "-C", odd, "-w", "--wait-timeout=30", NULL),
			==, 0);
	list = ck_test_list(td);
	g_assert_cmpuint(json_array_get_length(list), ==, 2);
	for (guint i = 0; i < 2; i++) {
		const gchar *id = i == 0 ? "plain" : "odd";
		g_autoptr(JsonNode) a = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonNode) b = json_node_new(JSON_NODE_OBJECT);
		listed = ck_test_find(list, "Id", id);
		g_assert_nonnull(listed);
		g_clear_pointer(&status, json_object_unref);
		status = ck_test_status(td, id);
		json_node_set_object(a, listed);
		json_node_set_object(b, status);
		g_assert_true(json_node_equal(a, b));
	}
	listed = ck_test_find(list, "Id", "odd");
	g_assert_cmpstr(ck_test_str(listed, "PostSaveCommand"), ==, odd);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(listed, "DNSNames")),
			 ==, 2);

	/* --ca takes the other path through the client; the same objects come out */
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, &by_ca, NULL, "list", "--json", "-c", "local", NULL), ==, 0);
	by_ca_root = ck_test_parse_json(by_ca);
	g_assert_true(JSON_NODE_HOLDS_ARRAY(by_ca_root));
	for (guint i = 0; i < 2; i++) {
		g_autoptr(JsonNode) a = json_node_new(JSON_NODE_OBJECT);
		g_autoptr(JsonNode) b = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(a, json_array_get_object_element(list, i));
		json_node_set_object(b,
				     json_array_get_object_element(json_node_get_array(by_ca_root), i));
		g_assert_true(json_node_equal(a, b));
	}
}

static void
test_cli_status_explains(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL, *out = NULL, *err = NULL;
	g_autofree gchar *h1 = NULL, *h2 = NULL, *h3 = NULL, *h4 = NULL;
	g_autofree gchar *slow_cert = NULL, *slow_key = NULL;
	g_autoptr(JsonObject) obj = NULL;

	if (td == NULL)
		return;
	h1 = ck_test_write_helper(td, "reject.sh", "echo 'policy forbids CN=rej.example'; exit 2");
	h2 = ck_test_write_helper(td, "down.sh", "echo 'connection refused'; exit 3");
	h3 = ck_test_write_helper(td, "misconfigured.sh",
				  "echo 'no enrollment profile is configured'; exit 4");
	h4 = ck_test_write_helper(td, "slow.sh", "sleep 3; echo 'still no route'; exit 3");
	config = g_strdup_printf(STUCK_CONFIG, td->dir, td->dir, td->dir, td->dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);

	/* 0: issued */
	ck_test_request_local(td, "fine");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "fine", NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "The certificate is issued and installed."));
	g_assert_nonnull(strstr(out, "It is renewed from"));
	g_clear_pointer(&out, g_free);

	/* 1: no such request */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "status", "-i", "nosuch", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "nosuch"));
	g_clear_pointer(&err, g_free);

	/* 2: rejected; the CA's message and what to do */
	g_assert_cmpint(ck_test_request_ca(td, "rej", "rejecting", "30"), ==, 2);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "rej", NULL), ==,
			2);
	g_assert_nonnull(strstr(out, "CA_REJECTED"));
	g_assert_nonnull(strstr(out, "Why: CA 'rejecting' rejected the request: policy forbids "
				     "CN=rej.example"));
	g_assert_nonnull(strstr(out, "What to do: fix what the CA objected to"));
	g_assert_nonnull(strstr(out, "certkeeper rekey -i rej"));
	g_clear_pointer(&out, g_free);
	obj = ck_test_status(td, "rej");
	g_assert_true(json_object_get_boolean_member(obj, "Stuck"));
	g_clear_pointer(&obj, json_object_unref);

	/* 3: unreachable; when the next attempt comes, and which it is */
	g_assert_cmpint(ck_test_request_ca(td, "unr", "down", "30"), ==, 3);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "unr", NULL), ==,
			3);
	g_assert_nonnull(strstr(out, "connection refused"));
	g_assert_nonnull(strstr(out, "The CA could not be reached; next attempt at "));
	g_assert_nonnull(strstr(out, "(attempt 2)"));
	g_assert_nonnull(strstr(out, "What to do: check the network"));
	g_clear_pointer(&out, g_free);
	obj = ck_test_status(td, "unr");
	g_assert_false(json_object_get_boolean_member(obj, "Stuck"));
	g_assert_cmpint(json_object_get_int_member(obj, "FailedAttempts"), ==, 1);
	g_assert_cmpint(json_object_get_int_member(obj, "NextAttempt"), >,
			g_get_real_time() / G_USEC_PER_SEC);
	g_clear_pointer(&obj, json_object_unref);

	/* 4: needs guidance; the reason and the command that goes on */
	g_assert_cmpint(ck_test_request_ca(td, "gui", "misconfigured", "30"), ==, 4);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "gui", NULL), ==, 4);
	g_assert_nonnull(strstr(out, "NEED_GUIDANCE"));
	g_assert_nonnull(strstr(out, "no enrollment profile is configured"));
	g_assert_nonnull(strstr(out, "What to do: fix the configuration"));
	g_assert_nonnull(strstr(out, "then run: certkeeper rekey -i gui"));
	g_clear_pointer(&out, g_free);

	/* 5: in progress, --wait gave up on a slow helper; status says so too */
	slow_cert = ck_test_certs_path(td, "slo.crt");
	slow_key = ck_test_certs_path(td, "slo.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-I", "slo", "-f",
				    slow_cert, "-k", slow_key, "-N", "CN=slo.example", "-c", "slow",
				    "-w", "--wait-timeout=1", NULL),
			==, 5);
	g_assert_nonnull(strstr(err, "still SUBMITTING after 1 s"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "slo", NULL), ==,
			5);
	g_assert_nonnull(strstr(out, "certkeeperd is working on this request (SUBMITTING)"));
	g_clear_pointer(&out, g_free);
	/* and once the helper answers, it is an unreachable CA */
	ck_test_wait_state(td, "slo", "CA_UNREACHABLE", 15000);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "slo", NULL), ==,
			3);
	g_assert_nonnull(strstr(out, "still no route"));
	g_clear_pointer(&out, g_free);

	/* --wait on a renewal exits with the code of the state it ends in */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "rekey", "-i", "rej", "-w", NULL),
			==, 2);
	g_assert_nonnull(strstr(err, "policy forbids"));
	g_assert_nonnull(strstr(err, "certkeeper status -i rej"));
}

/* A daemon built with the test clock (-Dfault_injection=true) reads this variable. */
static gboolean
ck_test_daemon_has_test_clock(void)
{
	g_autofree gchar *binary =
	    g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon", "certkeeperd", NULL);
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	const gchar *needle = "CERTKEEPER_TEST_CLOCK_OFFSET_FILE";

	g_assert_true(g_file_get_contents(binary, &contents, &len, NULL));
	for (gsize i = 0; i + strlen(needle) <= len; i++) {
		if (memcmp(contents + i, needle, strlen(needle)) == 0)
			return TRUE;
	}
	return FALSE;
}

/* status says why certkeeperd waits while the clock is behind, and what to do. */
static void
test_cli_status_waiting(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *offset = NULL, *env = NULL, *cert = NULL, *key = NULL, *expired = NULL;
	g_autofree gchar *template_path = NULL, *template = NULL, *out = NULL;
	g_autoptr(GDateTime) from = NULL;
	g_autoptr(GDateTime) until = NULL;
	g_autofree gchar *from_text = NULL, *until_text = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	if (!ck_test_daemon_has_test_clock()) {
		g_test_skip("needs a daemon with the test clock (meson -Dfault_injection=true)");
		return;
	}
	if (!ck_test_have_program("certtool")) {
		g_test_skip("certtool is not installed");
		return;
	}
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	offset = ck_test_daemon_path(td, "clock-offset");
	env = g_strdup_printf("CERTKEEPER_TEST_CLOCK_OFFSET_FILE=%s", offset);
	g_ptr_array_add(td->extra_env, g_strdup(env));
	ck_test_daemon_start(td);
	ck_test_request_local(td, "rtc");
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);

	/* the certificate expired a day ago, and the clock comes back two hours behind
	 * what the daemon saw (a device whose real-time clock battery died) */
	cert = ck_test_certs_path(td, "rtc.crt");
	key = ck_test_certs_path(td, "rtc.key");
	expired = ck_test_certs_path(td, "expired.crt");
	template_path = ck_test_daemon_path(td, "template");
	from = g_date_time_new_from_unix_utc(now - 3 * 86400);
	until = g_date_time_new_from_unix_utc(now - 86400);
	from_text = g_date_time_format(from, "%Y-%m-%d %H:%M:%S");
	until_text = g_date_time_format(until, "%Y-%m-%d %H:%M:%S");
	template = g_strdup_printf("cn = \"rtc.example\"\ndns_name = \"rtc.example\"\n"
				   "activation_date = \"%s\"\nexpiration_date = \"%s\"\n"
				   "signing_key\n",
				   from_text, until_text);
	g_assert_true(g_file_set_contents(template_path, template, -1, NULL));
	{
		const gchar *argv[] = {"certtool",
				       "--generate-self-signed",
				       "--load-privkey",
				       key,
				       "--template",
				       template_path,
				       "--outfile",
				       expired,
				       NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	}
	g_assert_cmpint(g_rename(expired, cert), ==, 0);
	g_assert_true(g_file_set_contents(offset, "-7200\n", -1, NULL));
	ck_test_daemon_start(td);

	for (guint i = 0; i < 100; i++) {
		g_autoptr(JsonObject) obj = ck_test_status(td, "rtc");
		if (ck_test_str(obj, "Waiting")[0] != '\0')
			break;
		g_usleep(100 * 1000);
	}
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "rtc", NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "Waiting: The system clock says"));
	g_assert_nonnull(strstr(out, "What to do: nothing, once the clock is right"));
	g_assert_nonnull(strstr(out, "The certificate is installed, but it expired on"));
}

/* list-cas, add-ca, modify-ca, remove-ca. */
static void
test_cli_cas(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL, *out = NULL, *err = NULL, *helper = NULL, *cert = NULL;
	g_autofree gchar *key = NULL;
	g_autoptr(JsonArray) cas = NULL;
	g_autoptr(JsonObject) obj = NULL;
	JsonObject *ca;

	if (td == NULL)
		return;
	helper = ck_test_write_helper(td, "reject.sh", "echo 'not today'; exit 2");
	config = g_strdup_printf("[ca rejecting]\nType=helper\nHelper=%s\nTimeout=20\n", helper);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);

	/* the local CA and the configured helper */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list-cas", NULL), ==, 0);
	g_assert_true(g_str_has_prefix(out, "NAME"));
	g_assert_nonnull(strstr(out, "HELPER"));
	g_assert_nonnull(strstr(out, "local"));
	g_assert_nonnull(strstr(out, "(built in)"));
	g_assert_nonnull(strstr(out, "rejecting"));
	g_assert_nonnull(strstr(out, helper));
	g_clear_pointer(&out, g_free);
	cas = ck_test_list_cas(td);
	ca = ck_test_find(cas, "Name", "rejecting");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_test_str(ca, "Type"), ==, "helper");
	g_assert_cmpstr(ck_test_str(ca, "Helper"), ==, helper);
	g_assert_cmpint(json_object_get_int_member(ca, "Timeout"), ==, 20);
	g_assert_true(json_object_get_boolean_member(ca, "Configured"));
	g_assert_cmpstr(ck_test_str(ck_test_find(cas, "Name", "local"), "Type"), ==, "local");
	g_clear_pointer(&cas, json_array_unref);

	/* add-ca: a helper with -e (getcert's), a local one with --type */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "add-ca", "extra", "-e", helper,
				    "--timeout", "30", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "extra"));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "add-ca", "-c", "short",
				    "--type=local", "--validity-days", "10", NULL),
			==, 0);
	cas = ck_test_list_cas(td);
	ca = ck_test_find(cas, "Name", "extra");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_test_str(ca, "Type"), ==, "helper");
	g_assert_cmpstr(ck_test_str(ca, "Helper"), ==, helper);
	g_assert_cmpint(json_object_get_int_member(ca, "Timeout"), ==, 30);
	g_assert_false(json_object_get_boolean_member(ca, "Configured"));
	ca = ck_test_find(cas, "Name", "short");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_test_str(ca, "Type"), ==, "local");
	g_assert_cmpint(json_object_get_int_member(ca, "ValidityDays"), ==, 10);
	g_clear_pointer(&cas, json_array_unref);
	/* the new local CA issues, with its own lifetime */
	cert = ck_test_certs_path(td, "brief.crt");
	key = ck_test_certs_path(td, "brief.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "brief", "-f",
				    cert, "-k", key, "-N", "CN=brief.example", "-c", "short", "-w",
				    NULL),
			==, 0);
	obj = ck_test_status(td, "brief");
	g_assert_cmpint(json_object_get_int_member(obj, "NotAfter") -
			    json_object_get_int_member(obj, "NotBefore"),
			<=, 10 * 86400 + 600);
	g_clear_pointer(&obj, json_object_unref);

	/* refusals: no helper command, a duplicate, a CA of certkeeper.conf, a missing CA */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "add-ca", "nohelper", NULL), ==,
			1);
	g_assert_nonnull(strstr(err, "-e COMMAND"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, &err, "add-ca", "extra", "-e", helper, NULL), ==, 1);
	g_assert_nonnull(strstr(err, "extra"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify-ca", "rejecting",
				    "--timeout", "5", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "certkeeper.conf"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "remove-ca", "nosuch", NULL), ==,
			1);
	g_assert_nonnull(strstr(err, "No CA named 'nosuch'"));
	g_clear_pointer(&err, g_free);
	/* only root changes CAs */
	if (ck_test_have_program("setpriv")) {
		g_assert_cmpint(
		    ck_test_cli(td, TRUE, NULL, NULL, &err, "add-ca", "mine", "-e", helper, NULL),
		    ==, 1);
		g_assert_nonnull(strstr(err, "denied"));
		g_clear_pointer(&err, g_free);
	}

	/* modify-ca: what is given changes, the rest stays */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify-ca", "-c", "extra",
				    "--timeout=45", NULL),
			==, 0);
	cas = ck_test_list_cas(td);
	ca = ck_test_find(cas, "Name", "extra");
	g_assert_cmpint(json_object_get_int_member(ca, "Timeout"), ==, 45);
	g_assert_cmpstr(ck_test_str(ca, "Helper"), ==, helper);
	g_clear_pointer(&cas, json_array_unref);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify-ca", "extra", NULL), ==,
			1);
	g_assert_nonnull(strstr(err, "Nothing to change"));
	g_clear_pointer(&err, g_free);

	/* remove-ca: refused while a request uses it, with what to do; then done */
	g_assert_cmpint(ck_test_request_ca(td, "user", "extra", "30"), ==, 2);
	/* the table counts the requests that use a CA */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list-cas", NULL), ==, 0);
	{
		g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
		for (guint i = 0; lines[i] != NULL; i++) {
			if (g_str_has_prefix(lines[i], "extra "))
				g_assert_true(
				    g_regex_match_simple("^extra +helper +1 ", lines[i], 0, 0));
		}
	}
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "remove-ca", "extra", NULL), ==,
			1);
	g_assert_nonnull(strstr(err, "user"));
	g_assert_nonnull(strstr(err, "certkeeper modify -i ID -c OTHER-CA"));
	g_clear_pointer(&err, g_free);
	cas = ck_test_list_cas(td);
	g_assert_nonnull(ck_test_find(cas, "Name", "extra"));
	g_clear_pointer(&cas, json_array_unref);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "stop-tracking", "user", NULL), ==,
			0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "remove-ca", "-c", "extra", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "removed"));
	cas = ck_test_list_cas(td);
	g_assert_null(ck_test_find(cas, "Name", "extra"));
	g_assert_nonnull(ck_test_find(cas, "Name", "short"));
}

/* start-tracking adopts a certificate openssl made; refresh takes in a replaced one. */
static void
test_cli_start_tracking_and_refresh(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *cert = NULL, *key = NULL, *serial = NULL, *out = NULL, *err = NULL;
	g_autofree gchar *other_cert = NULL, *other_key = NULL, *new_serial = NULL;
	g_autofree gchar *fresh_cert = NULL, *fresh_key = NULL, *replacement = NULL;
	g_autoptr(JsonObject) obj = NULL;
	JsonArray *dns;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	cert = ck_test_certs_path(td, "adopt.crt");
	key = ck_test_certs_path(td, "adopt.key");
	ck_test_openssl_cert(cert, key, "adopt.example", "30", TRUE);
	serial = ck_test_openssl_serial(cert);

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "start-tracking", "-f", cert, "-k",
				    key, "-I", "adopted", "-R", "-C", "true", "-w", NULL),
			==, 0);
	/* it says which certificate it tracks */
	{
		g_autofree gchar *upper = g_ascii_strup(serial, -1);
		g_assert_true(strstr(out, serial) != NULL || strstr(out, upper) != NULL);
	}
	g_assert_nonnull(strstr(out, "adopted"));
	g_clear_pointer(&out, g_free);
	obj = ck_test_status(td, "adopted");
	g_assert_nonnull(obj);
	g_assert_cmpstr(ck_test_str(obj, "State"), ==, "MONITORING");
	{
		g_autofree gchar *got = ck_test_strip_zeros(ck_test_str(obj, "Serial"));
		g_assert_cmpstr(got, ==, serial);
	}
	g_assert_false(json_object_get_boolean_member(obj, "AutoRenew"));
	g_assert_cmpstr(ck_test_str(obj, "PostSaveCommand"), ==, "true");
	g_assert_cmpstr(ck_test_str(obj, "CertFile"), ==, cert);
	/* names not given come from the certificate */
	dns = json_object_get_array_member(obj, "DNSNames");
	g_assert_cmpuint(json_array_get_length(dns), ==, 1);
	g_assert_cmpstr(json_array_get_string_element(dns, 0), ==, "adopt.example");
	g_assert_cmpint(json_object_get_int_member(obj, "NotAfter"), >,
			g_get_real_time() / G_USEC_PER_SEC + 29 * 86400);
	g_clear_pointer(&obj, json_object_unref);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-f", cert, NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "auto-renew is off"));
	g_clear_pointer(&out, g_free);

	/* the long options do the same; the same files twice are refused */
	other_cert = ck_test_certs_path(td, "adopt2.crt");
	other_key = ck_test_certs_path(td, "adopt2.key");
	ck_test_openssl_cert(other_cert, other_key, "adopt2.example", "60", TRUE);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "start-tracking", "--cert-file",
				    other_cert, "--key-file", other_key, "--id=adopted2",
				    "--no-auto-renew", "--post-save-command=true", NULL),
			==, 0);
	obj = ck_test_status(td, "adopted2");
	g_assert_false(json_object_get_boolean_member(obj, "AutoRenew"));
	g_assert_cmpstr(ck_test_str(obj, "PostSaveCommand"), ==, "true");
	g_clear_pointer(&obj, json_object_unref);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, &err, "start-tracking", "-f", cert, "-k", key, NULL),
	    ==, 1);
	g_assert_nonnull(strstr(err, "tracked already"));
	g_clear_pointer(&err, g_free);
	/* a key that is not the certificate's */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "start-tracking", "-f", cert, "-k",
				    other_key, "-I", "mismatch", NULL),
			==, 1);
	g_clear_pointer(&err, g_free);
	g_assert_null(ck_test_status(td, "mismatch"));

	/* refresh: a certificate replaced behind the daemon's back is taken in */
	ck_test_request_local(td, "fresh");
	fresh_cert = ck_test_certs_path(td, "fresh.crt");
	fresh_key = ck_test_certs_path(td, "fresh.key");
	replacement = ck_test_certs_path(td, "replacement.crt");
	ck_test_openssl_cert(replacement, fresh_key, "fresh.example", "100", FALSE);
	new_serial = ck_test_openssl_serial(replacement);
	g_assert_cmpint(g_rename(replacement, fresh_cert), ==, 0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "refresh", "-i", "fresh", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "refreshed"));
	g_clear_pointer(&out, g_free);
	obj = ck_test_status(td, "fresh");
	{
		g_autofree gchar *got = ck_test_strip_zeros(ck_test_str(obj, "Serial"));
		g_assert_cmpstr(got, ==, new_serial);
	}
	g_assert_cmpint(json_object_get_int_member(obj, "NotAfter"), >,
			g_get_real_time() / G_USEC_PER_SEC + 99 * 86400);
	g_assert_cmpint(json_object_get_int_member(obj, "NotAfter"), <,
			g_get_real_time() / G_USEC_PER_SEC + 101 * 86400);
	g_clear_pointer(&obj, json_object_unref);
	/* refresh -a: every request, and anyone may */
	if (ck_test_have_program("setpriv")) {
		g_assert_cmpint(ck_test_cli(td, TRUE, NULL, &out, NULL, "refresh", "-a", NULL), ==,
				0);
		g_assert_nonnull(strstr(out, "\"adopted\" refreshed"));
		g_assert_nonnull(strstr(out, "\"fresh\" refreshed"));
		g_clear_pointer(&out, g_free);
	}

	/* stop-tracking by key file (getcert's -k), the files stay */
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, NULL, "stop-tracking", "-k", other_key, NULL), ==,
	    0);
	g_assert_null(ck_test_status(td, "adopted2"));
	g_assert_true(g_file_test(other_cert, G_FILE_TEST_EXISTS));
}

/*
 * The larger EC curves from the command line: "-G EC -g 384" and the alias
 * "secp521r1" name them, the key on disk is on that curve and the local CA
 * issues for it.
 */
/* The request @id made with a key on @curve, which the local CA issued for. */
static void
ck_test_assert_ec_request(CkTestDaemon *td, const gchar *id, const gchar *type_name,
			  const gchar *curve)
{
	g_autofree gchar *cert_name = g_strdup_printf("%s.crt", id);
	g_autofree gchar *key_name = g_strdup_printf("%s.key", id);
	g_autofree gchar *cert = ck_test_certs_path(td, cert_name);
	g_autofree gchar *key = ck_test_certs_path(td, key_name);
	g_autofree gchar *key_text = NULL, *cert_text = NULL;
	g_autoptr(JsonObject) obj = ck_test_status(td, id);
	const gchar *key_argv[] = {"openssl", "pkey", "-in", key, "-noout", "-text", NULL};
	const gchar *cert_argv[] = {"openssl", "x509", "-in", cert, "-noout", "-text", NULL};

	g_assert_cmpstr(ck_test_str(obj, "KeyType"), ==, type_name);
	g_assert_cmpstr(ck_test_str(obj, "State"), ==, "MONITORING");
	g_assert_cmpint(ck_test_run(key_argv, &key_text, NULL), ==, 0);
	g_assert_nonnull(strstr(key_text, curve));
	g_assert_cmpint(ck_test_run(cert_argv, &cert_text, NULL), ==, 0);
	g_assert_nonnull(strstr(cert_text, curve));
}

/*
 * The larger EC curves from the command line: "-G EC -g 384" and the alias
 * "secp521r1" name them, the key on disk is on that curve and the local CA
 * issues for it.
 */
static void
test_cli_ec_curves(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *cert = NULL, *key = NULL, *cert2 = NULL, *key2 = NULL, *err = NULL;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	cert = ck_test_certs_path(td, "p384.crt");
	key = ck_test_certs_path(td, "p384.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "p384", "-f",
				    cert, "-k", key, "-N", "CN=p384.example", "-G", "EC", "-g",
				    "384", "-w", "--wait-timeout=30", NULL),
			==, 0);
	ck_test_assert_ec_request(td, "p384", "ec-p384", "NIST CURVE: P-384");
	cert2 = ck_test_certs_path(td, "p521.crt");
	key2 = ck_test_certs_path(td, "p521.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "p521", "-f",
				    cert2, "-k", key2, "-N", "CN=p521.example", "-G", "secp521r1",
				    "-w", "--wait-timeout=30", NULL),
			==, 0);
	ck_test_assert_ec_request(td, "p521", "ec-p521", "NIST CURVE: P-521");
	/* a curve certkeeper does not make is refused, naming the ones it does */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "p384", "-G",
				    "EC", "-g", "224", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "ec-p224"));
	g_assert_nonnull(strstr(err, "ec-p384"));
}

/* modify changes settings (and refuses the files); resubmit and rekey use them. */
static void
test_cli_modify_and_renew(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(JsonObject) before = NULL;
	g_autoptr(JsonObject) obj = NULL;
	g_autoptr(JsonObject) other = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *text = NULL, *key_before = NULL,
			 *key_after = NULL;
	g_autofree gchar *cert = NULL, *key = NULL;
	g_autoptr(GDBusConnection) connection = NULL;
	JsonArray *dns;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	ck_test_request_local(td, "mod");
	ck_test_request_local(td, "mod2");
	cert = ck_test_certs_path(td, "mod.crt");
	key = ck_test_certs_path(td, "mod.key");
	before = ck_test_status(td, "mod");

	/* short options */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "modify", "-i", "mod", "-N",
				    "CN=changed.example", "-D", "a.example", "-D", "b.example",
				    "-E", "ops@changed.example", "-C", "true post", "-R", "-M",
				    "0640", "--renew-before", "10d", "-G", "rsa", "-g", "3072",
				    NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "\"mod\" modified"));
	g_clear_pointer(&out, g_free);
	/* long options, to the other request */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "--id=mod2",
				    "--subject=CN=changed.example", "--dns", "a.example",
				    "--dns=b.example", "--email", "ops@changed.example",
				    "--post-save-command", "true post", "--no-auto-renew",
				    "--cert-mode=0640", "--renew-before=10d", "--key-type", "rsa",
				    "--key-size=3072", NULL),
			==, 0);
	obj = ck_test_status(td, "mod");
	other = ck_test_status(td, "mod2");
	g_assert_cmpstr(ck_test_str(obj, "Subject"), ==, "CN=changed.example");
	dns = json_object_get_array_member(obj, "DNSNames");
	g_assert_cmpuint(json_array_get_length(dns), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(dns, 0), ==, "a.example");
	g_assert_cmpstr(ck_test_str(obj, "PostSaveCommand"), ==, "true post");
	g_assert_cmpstr(ck_test_str(obj, "RenewBefore"), ==, "10d");
	g_assert_cmpstr(ck_test_str(obj, "KeyType"), ==, "rsa-3072");
	g_assert_cmpint(json_object_get_int_member(obj, "CertMode"), ==, 0640);
	g_assert_false(json_object_get_boolean_member(obj, "AutoRenew"));
	/* the certificate is untouched until the next attempt */
	g_assert_cmpstr(ck_test_str(obj, "Serial"), ==, ck_test_str(before, "Serial"));
	{
		const gchar *same[] = {"Subject",   "DNSNames", "Emails",      "PostSaveCommand",
				       "AutoRenew", "CertMode", "RenewBefore", "KeyType"};
		for (guint i = 0; i < G_N_ELEMENTS(same); i++) {
			g_autofree gchar *va =
			    json_to_string(json_object_get_member(obj, same[i]), FALSE);
			g_autofree gchar *vb =
			    json_to_string(json_object_get_member(other, same[i]), FALSE);
			g_assert_cmpstr(va, ==, vb);
		}
	}
	g_clear_pointer(&obj, json_object_unref);

	/* clearing a list: one empty value sends an empty list */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "mod", "-E", "", NULL),
			==, 0);
	obj = ck_test_status(td, "mod");
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(obj, "Emails")), ==, 0);
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(obj, "DNSNames")), ==,
			 2);
	g_clear_pointer(&obj, json_object_unref);

	/* refusals: a request's files, nothing to change, a setting the daemon refuses */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "mod", "-f",
				    "/tmp/elsewhere.crt", "-N", "CN=x", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "cannot be changed"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "mod",
				    "--directory", "/tmp/d", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "--directory"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "mod", NULL), ==,
			1);
	g_assert_nonnull(strstr(err, "Nothing to change"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "mod", "-G", "dsa-1024", NULL),
	    ==, 1);
	g_assert_nonnull(strstr(err, "dsa-1024"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, &err, "modify", "-i", "nosuch", "-N", "CN=x", NULL),
	    ==, 1);
	g_assert_nonnull(strstr(err, "nosuch"));
	g_clear_pointer(&err, g_free);
	/* and straight over D-Bus: cert-file is not modifiable */
	connection = ck_test_daemon_connect(td);
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) reply = NULL;
		GVariantBuilder options;
		g_variant_builder_init(&options, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&options, "{sv}", "cert-file",
				      g_variant_new_string("/tmp/elsewhere.crt"));
		reply = g_dbus_connection_call_sync(
		    connection, "org.certkeeper.Certkeeper1", MANAGER_PATH "/request/mod",
		    "org.certkeeper.Request1", "Modify", g_variant_new("(a{sv})", &options), NULL,
		    G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
		g_assert_null(reply);
		g_assert_nonnull(strstr(error->message, "cert-file"));
	}
	obj = ck_test_status(td, "mod");
	g_assert_cmpstr(ck_test_str(obj, "CertFile"), ==, cert);
	g_assert_cmpstr(ck_test_str(obj, "Subject"), ==, "CN=changed.example");
	g_clear_pointer(&obj, json_object_unref);

	/* resubmit with a change (getcert's resubmit -N): the new certificate has it */
	g_assert_cmpint(g_file_get_contents(key, &key_before, NULL, NULL), ==, TRUE);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "resubmit", "-i", "mod", "-N",
				    "CN=resubmitted.example", "-w", "--wait-timeout=30", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "modified"));
	g_assert_nonnull(strstr(out, "Renewing request \"mod\""));
	g_clear_pointer(&out, g_free);
	obj = ck_test_status(td, "mod");
	g_assert_cmpstr(ck_test_str(obj, "State"), ==, "MONITORING");
	g_assert_cmpstr(ck_test_str(obj, "Serial"), !=, ck_test_str(before, "Serial"));
	{
		const gchar *argv[] = {"openssl", "x509", "-in", cert, "-noout", "-subject", NULL};
		g_assert_cmpint(ck_test_run(argv, &text, NULL), ==, 0);
		g_assert_nonnull(strstr(text, "resubmitted.example"));
	}
	/* the same key */
	g_assert_cmpint(g_file_get_contents(key, &key_after, NULL, NULL), ==, TRUE);
	g_assert_cmpstr(key_before, ==, key_after);
	g_clear_pointer(&key_after, g_free);
	g_clear_pointer(&before, json_object_unref);
	before = g_steal_pointer(&obj);

	/* rekey: a new key, of the type modify asked for */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "rekey", "mod", "-w", NULL), ==,
			0);
	obj = ck_test_status(td, "mod");
	g_assert_cmpstr(ck_test_str(obj, "Serial"), !=, ck_test_str(before, "Serial"));
	g_assert_cmpint(g_file_get_contents(key, &key_after, NULL, NULL), ==, TRUE);
	g_assert_cmpstr(key_before, !=, key_after);
	{
		g_autofree gchar *pkey = NULL;
		const gchar *argv[] = {"openssl", "pkey", "-in", key, "-noout", "-text", NULL};
		g_assert_cmpint(ck_test_run(argv, &pkey, NULL), ==, 0);
		g_assert_nonnull(strstr(pkey, "3072 bit"));
	}
	/* mode 0640 applies to the certificate installed since */
	g_assert_cmpint(ck_test_file_mode(cert), ==, 0640);
}

/*
 * revoke: through the local CA and through a helper whose REVOKE answers each
 * outcome; the request stays, is marked, is shown so, and rekey replaces it.
 */
static void
test_cli_revoke(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(JsonObject) obj = NULL;
	g_autoptr(JsonArray) list = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *cert = NULL, *serial = NULL;
	g_autofree gchar *revoked_list = NULL, *revoked_path = NULL, *helper = NULL;
	g_autofree gchar *answer = NULL, *adopt_cert = NULL, *adopt_key = NULL;
	g_autofree gchar *given = NULL, *given_path = NULL, *body = NULL;
	static const struct {
		const gchar *answer;
		gint exit_code;
		const gchar *in_message;
	} outcomes[] = {
	    {"2 this account did not order it", 2, "this account did not order it"},
	    {"3 connection refused", 3, "connection refused"},
	    {"4 no account key", 4, "no account key"},
	    {"6", 1, "does not support the REVOKE operation"},
	};

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	ck_test_request_local(td, "rev");
	cert = ck_test_certs_path(td, "rev.crt");
	obj = ck_test_status(td, "rev");
	serial = g_strdup(ck_test_str(obj, "Serial"));
	g_assert_cmpint(json_object_get_int_member(obj, "Revoked"), ==, 0);
	g_assert_cmpint(json_object_get_int_member(obj, "RenewalTime"), >, 0);
	g_clear_pointer(&obj, json_object_unref);

	/* refused before anything is asked */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "revoke", "-i", "rev", "--reason",
				    "certificateHold", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "certificateHold"));
	g_assert_nonnull(strstr(err, "keyCompromise"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, TRUE, NULL, NULL, &err, "revoke", "-i", "rev", NULL), ==,
			1);
	g_assert_nonnull(strstr(err, "Access denied"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "revoke", "-i", "rev", "--reason",
				    "keyCompromise", "--resubmit", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "--rekey"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "revoke", "-i", "nosuch", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "nosuch"));
	g_clear_pointer(&err, g_free);
	obj = ck_test_status(td, "rev");
	g_assert_cmpint(json_object_get_int_member(obj, "Revoked"), ==, 0);
	g_clear_pointer(&obj, json_object_unref);

	/* by certificate file, with a reason: revoked, the local CA's list has it */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "revoke", "-f", cert, "--reason",
				    "superseded", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "is revoked (superseded)"));
	g_assert_nonnull(strstr(out, serial));
	g_assert_nonnull(strstr(out, "certkeeper rekey -i rev"));
	g_clear_pointer(&out, g_free);
	revoked_path = g_build_filename(td->state_dir, "local-ca", "revoked", NULL);
	revoked_list = ck_test_read_file(revoked_path);
	g_assert_true(g_str_has_prefix(revoked_list, serial));
	g_assert_true(g_str_has_suffix(revoked_list, " 4\n"));
	/* status and list --json show it; the request stays, with its certificate */
	obj = ck_test_status(td, "rev");
	g_assert_cmpstr(ck_test_str(obj, "State"), ==, "MONITORING");
	g_assert_cmpstr(ck_test_str(obj, "Serial"), ==, serial);
	g_assert_cmpint(json_object_get_int_member(obj, "Revoked"), >,
			g_get_real_time() / G_USEC_PER_SEC - 120);
	g_assert_cmpstr(ck_test_str(obj, "RevocationReason"), ==, "superseded");
	g_assert_cmpint(json_object_get_int_member(obj, "RenewalTime"), ==, 0);
	g_clear_pointer(&obj, json_object_unref);
	list = ck_test_list(td);
	g_assert_cmpstr(ck_test_str(ck_test_find(list, "Id", "rev"), "RevocationReason"), ==,
			"superseded");
	g_assert_true(g_file_test(cert, G_FILE_TEST_EXISTS));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "-i", "rev", NULL), ==,
			0);
	g_assert_nonnull(strstr(out, "revoked: "));
	g_assert_nonnull(strstr(out, "not renewed by itself"));
	g_assert_nonnull(strstr(out, "certkeeper rekey -i rev"));
	g_clear_pointer(&out, g_free);
	/* again: nothing to do, and it says so */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "revoke", "rev", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "revoked already"));
	g_clear_pointer(&out, g_free);
	/* --rekey: a new certificate, which is not revoked */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "revoke", "-i", "rev", "--rekey",
				    "-w", "--wait-timeout=30", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "Renewing request \"rev\""));
	g_clear_pointer(&out, g_free);
	obj = ck_test_status(td, "rev");
	g_assert_cmpstr(ck_test_str(obj, "Serial"), !=, serial);
	g_assert_cmpint(json_object_get_int_member(obj, "Revoked"), ==, 0);
	g_assert_cmpstr(ck_test_str(obj, "RevocationReason"), ==, "");
	g_assert_cmpint(json_object_get_int_member(obj, "RenewalTime"), >, 0);
	g_clear_pointer(&obj, json_object_unref);

	/* a helper CA: REVOKE gets the certificate and the reason's number; its answers
	 * become getcert's exit codes */
	answer = ck_test_daemon_path(td, "answer");
	given_path = ck_test_daemon_path(td, "given");
	body = g_strdup_printf(
	    "case \"$CERTMONGER_OPERATION\" in\n"
	    "REVOKE)\n"
	    "  printf '%%s %%s\\n' \"$CERTKEEPER_REVOKE_REASON\" \"$CERTKEEPER_REQUEST_ID\" > %s\n"
	    "  printf '%%s\\n' \"$CERTMONGER_CERTIFICATE\" >> %s\n"
	    "  code=0; msg=; [ -e %s ] && read code msg < %s\n"
	    "  echo \"$msg\"; exit \"$code\";;\n"
	    "*) exit 6;;\n"
	    "esac",
	    given_path, given_path, answer, answer);
	helper = ck_test_daemon_path(td, "revoker.sh");
	{
		g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", body);
		g_assert_true(g_file_set_contents(helper, text, -1, NULL));
		g_assert_cmpint(g_chmod(helper, 0755), ==, 0);
	}
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "add-ca", "revoker", "-e", helper,
				    NULL),
			==, 0);
	adopt_cert = ck_test_certs_path(td, "bought.crt");
	adopt_key = ck_test_certs_path(td, "bought.key");
	ck_test_openssl_cert(adopt_cert, adopt_key, "bought.example", "30", TRUE);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "start-tracking", "-f", adopt_cert,
				    "-k", adopt_key, "-I", "bought", "-c", "revoker", NULL),
			==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(outcomes); i++) {
		g_assert_true(g_file_set_contents(answer, outcomes[i].answer, -1, NULL));
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "revoke", "-i", "bought",
					    NULL),
				==, outcomes[i].exit_code);
		g_test_message("%s: %s", outcomes[i].answer, err);
		g_assert_nonnull(strstr(err, outcomes[i].in_message));
		g_clear_pointer(&err, g_free);
		obj = ck_test_status(td, "bought");
		g_assert_cmpint(json_object_get_int_member(obj, "Revoked"), ==, 0);
		g_clear_pointer(&obj, json_object_unref);
	}
	g_assert_true(g_file_set_contents(answer, "0", -1, NULL));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "revoke", "-i", "bought",
				    "--reason", "cessationOfOperation", NULL),
			==, 0);
	g_assert_nonnull(strstr(out, "is revoked (cessationOfOperation)"));
	g_clear_pointer(&out, g_free);
	given = ck_test_read_file(given_path);
	g_assert_true(g_str_has_prefix(given, "5 bought\n-----BEGIN CERTIFICATE-----"));
	{
		g_autofree gchar *pem = ck_test_read_file(adopt_cert);
		g_assert_nonnull(strstr(given, g_strstrip(pem)));
	}
	obj = ck_test_status(td, "bought");
	g_assert_cmpstr(ck_test_str(obj, "RevocationReason"), ==, "cessationOfOperation");
	g_clear_pointer(&obj, json_object_unref);

	/* the mark survives a restart */
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	ck_test_daemon_start(td);
	obj = ck_test_status(td, "bought");
	g_assert_cmpint(json_object_get_int_member(obj, "Revoked"), >, 0);
	g_assert_cmpstr(ck_test_str(obj, "RevocationReason"), ==, "cessationOfOperation");
}

/*
 * certmonger's own local CA helper, unchanged, under certkeeperd: the CA describes
 * itself on CA1, a request reaches MONITORING with its certificate (validated
 * against the root it publishes), and a renewal goes through it again.
 */
static void
test_cli_certmonger_helper(void)
{
	const gchar *program = "/usr/lib/certmonger/local-submit";
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *data = NULL, *config = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *first_serial = NULL, *second_serial = NULL, *issuer = NULL;
	g_autoptr(JsonArray) cas = NULL;
	g_autoptr(JsonObject) status = NULL;
	JsonObject *ca;

	if (!g_file_test(program, G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_skip("certmonger is not installed");
		return;
	}
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	data = ck_test_daemon_path(td, "certmonger-local");
	g_assert_cmpint(g_mkdir(data, 0700), ==, 0);
	config = g_strdup_printf("[ca cmlocal]\nType=helper\nHelper=%s -d %s\n", program, data);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);

	cert = ck_test_certs_path(td, "cm.crt");
	key = ck_test_certs_path(td, "cm.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "cm", "-c",
				    "cmlocal", "-f", cert, "-k", key, "-N", "CN=cm.example", "-D",
				    "cm.example", "-w", "--wait-timeout=60", NULL),
			==, 0);
	status = ck_test_status(td, "cm");
	g_assert_cmpstr(ck_test_str(status, "State"), ==, "MONITORING");
	issuer = g_strdup(ck_test_str(status, "Issuer"));
	g_assert_nonnull(strstr(issuer, "Local Signing Authority"));
	first_serial = ck_test_openssl_serial(cert);
	g_clear_pointer(&status, json_object_unref);

	/* the refresh at start-up asked IDENTIFY and FETCH-ROOTS */
	cas = ck_test_list_cas(td);
	ca = ck_test_find(cas, "Name", "cmlocal");
	g_assert_nonnull(ca);
	g_assert_true(g_str_has_prefix(ck_test_str(ca, "Identity"), "Local Signing Authority"));
	g_assert_cmpuint(json_array_get_length(json_object_get_array_member(ca, "RootCertificates")),
			 ==, 1);
	g_assert_cmpstr(ck_test_str(ca, "Error"), ==, "");
	g_assert_cmpstr(ck_test_str(ck_test_find(cas, "Name", "local"), "Identity"), ==,
			"certkeeper " PACKAGE_VERSION " local CA");

	/* a renewal through the same helper: a new certificate from the same CA */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "cm", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	second_serial = ck_test_openssl_serial(cert);
	g_assert_cmpstr(second_serial, !=, first_serial);
	status = ck_test_status(td, "cm");
	g_assert_cmpstr(ck_test_str(status, "State"), ==, "MONITORING");
	g_assert_cmpstr(ck_test_str(status, "Issuer"), ==, issuer);
}

/*
 * add-ca --type acme|est|scep: settings, not command lines; the daemon checks them,
 * builds the helper's command, keeps them across restarts and shows them on CA1.
 * A CA's roots are kept in its roots file; a CA that cannot be reached says so on
 * its requests too.
 */
static void
test_cli_protocol_cas(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *err = NULL, *roots_file = NULL, *helper = NULL, *config = NULL;
	g_autofree gchar *flag = NULL, *roots = NULL;
	g_autoptr(JsonArray) cas = NULL;
	g_autoptr(JsonObject) status = NULL;
	JsonObject *ca, *settings;

	if (td == NULL)
		return;
	/* a helper CA that publishes the local test CA's root, or is down when told so */
	flag = ck_test_daemon_path(td, "down");
	helper = ck_test_write_helper(td, "roots.sh", "exit 2");
	{
		g_autofree gchar *text = g_strdup_printf(
		    "#!/bin/sh\n[ -e %s ] && { echo 'no route to the CA'; exit 3; }\n"
		    "[ \"$CERTMONGER_OPERATION\" = FETCH-ROOTS ] || exit 6\n"
		    "echo 'Test root'; cat %s/local-ca/root.pem\n",
		    flag, td->state_dir);
		g_assert_true(g_file_set_contents(helper, text, -1, NULL));
		g_assert_cmpint(g_chmod(helper, 0755), ==, 0);
	}
	roots_file = ck_test_daemon_path(td, "published-roots.pem");
	config = g_strdup_printf("[certkeeperd]\nHelperDirectory=%s\n", td->dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	/* the local CA's root exists once it has issued */
	ck_test_request_local(td, "first");

	/* what a protocol needs, and what does not fit it, is refused by name */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "add-ca", "le", "--type", "acme",
				    "--contact", "mailto:ops@example.org", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "Directory="));
	g_assert_nonnull(strstr(err, "--directory"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "add-ca", "est", "--type", "est",
				    "--url", "https://127.0.0.1:1", "--directory", "https://x", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "Directory does not apply to a CA of type est"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "add-ca", "le", "--type", "acme",
				    "--directory", "https://127.0.0.1:1/dir", "--trust",
				    "roots.pem", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "absolute path"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "add-ca", "x", "--type", "ftp",
				    NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "acme, est or scep"));
	g_clear_pointer(&err, g_free);

	/* a good one */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "add-ca", "le", "--type", "acme",
				    "--directory", "https://127.0.0.1:1/dir", "--contact",
				    "mailto:ops@example.org", "--timeout", "90", NULL),
			==, 0);
	cas = ck_test_list_cas(td);
	ca = ck_test_find(cas, "Name", "le");
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_test_str(ca, "Type"), ==, "acme");
	settings = json_object_get_object_member(ca, "Settings");
	g_assert_cmpstr(json_object_get_string_member(settings, "directory"), ==,
			"https://127.0.0.1:1/dir");
	g_assert_cmpstr(json_object_get_string_member(settings, "contact"), ==,
			"mailto:ops@example.org");
	/* the command the daemon built: the helper of HelperDirectory, its own state */
	{
		g_auto(GStrv) argv = NULL;
		g_autofree gchar *program = g_build_filename(td->dir, "certkeeper-acme", NULL);
		g_autofree gchar *state =
		    g_strdup_printf("--state-dir=%s/ca-state/le", td->state_dir);
		g_assert_true(g_shell_parse_argv(ck_test_str(ca, "Helper"), NULL, &argv, NULL));
		g_assert_cmpstr(argv[0], ==, program);
		g_assert_cmpstr(argv[1], ==, state);
		g_assert_true(g_strv_contains((const gchar *const *)argv,
					      "--directory=https://127.0.0.1:1/dir"));
	}
	g_clear_pointer(&cas, json_array_unref);

	/* changed, a setting removed, and all of it kept across a restart */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify-ca", "le", "--contact",
				    "", "--eab-kid", "kid-1", NULL),
			==, 0);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	ck_test_daemon_start(td);
	cas = ck_test_list_cas(td);
	ca = ck_test_find(cas, "Name", "le");
	settings = json_object_get_object_member(ca, "Settings");
	g_assert_false(json_object_has_member(settings, "contact"));
	g_assert_cmpstr(json_object_get_string_member(settings, "eab-kid"), ==, "kid-1");
	g_assert_cmpint(json_object_get_int_member(ca, "Timeout"), ==, 90);
	g_clear_pointer(&cas, json_array_unref);

	/* -F: the roots land in the file once the CA has published them */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "add-ca", "pub", "-e", helper,
				    "-F", roots_file, NULL),
			==, 0);
	for (guint i = 0; i < 100 && !g_file_test(roots_file, G_FILE_TEST_EXISTS); i++)
		g_usleep(100 * 1000);
	g_assert_true(g_file_get_contents(roots_file, &roots, NULL, NULL));
	g_assert_true(g_str_has_prefix(roots, "-----BEGIN CERTIFICATE-----"));
	g_assert_cmpint(ck_test_file_mode(roots_file), ==, 0644);
	cas = ck_test_list_cas(td);
	g_assert_cmpstr(ck_test_str(ck_test_find(cas, "Name", "pub"), "RootsFile"), ==, roots_file);
	g_clear_pointer(&cas, json_array_unref);

	/* a CA that cannot be reached says so on the CA and on its requests */
	/* (the certificate the local CA issued, renewed by this CA from now on) */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "-i", "first", "-c",
				    "pub", NULL),
			==, 0);
	status = ck_test_status(td, "first");
	g_assert_cmpstr(ck_test_str(status, "CAError"), ==, "");
	g_clear_pointer(&status, json_object_unref);
	g_assert_true(g_file_set_contents(flag, "", 0, NULL));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify-ca", "pub", "--timeout",
				    "30", NULL),
			==, 0);
	for (guint i = 0; i < 100; i++) {
		status = ck_test_status(td, "first");
		if (strstr(ck_test_str(status, "CAError"), "no route to the CA") != NULL)
			break;
		g_clear_pointer(&status, json_object_unref);
		g_usleep(100 * 1000);
	}
	g_assert_nonnull(status);
	cas = ck_test_list_cas(td);
	g_assert_nonnull(strstr(ck_test_str(ck_test_find(cas, "Name", "pub"), "Error"),
				"no route to the CA"));
	/* and the roots file keeps what the CA published last */
	g_clear_pointer(&roots, g_free);
	g_assert_true(g_file_get_contents(roots_file, &roots, NULL, NULL));
	g_assert_true(g_str_has_prefix(roots, "-----BEGIN CERTIFICATE-----"));
}

/* reload reads certkeeper.conf again; a broken one changes nothing. */
static void
test_cli_reload(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *helper = NULL, *config = NULL, *out = NULL, *err = NULL;
	g_autoptr(JsonArray) cas = NULL;

	if (td == NULL)
		return;
	ck_test_daemon_start(td);
	cas = ck_test_list_cas(td);
	g_assert_null(ck_test_find(cas, "Name", "later"));
	g_clear_pointer(&cas, json_array_unref);

	helper = ck_test_write_helper(td, "later.sh", "exit 3");
	config = g_strdup_printf("[ca later]\nType=helper\nHelper=%s\n", helper);
	ck_test_daemon_write_config(td, config);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "reload", NULL), ==, 0);
	g_assert_nonnull(strstr(out, "configuration again"));
	g_clear_pointer(&out, g_free);
	cas = ck_test_list_cas(td);
	g_assert_nonnull(ck_test_find(cas, "Name", "later"));
	g_assert_true(
	    json_object_get_boolean_member(ck_test_find(cas, "Name", "later"), "Configured"));
	g_clear_pointer(&cas, json_array_unref);

	/* a broken configuration: refused, said why, nothing changed */
	ck_test_daemon_write_config(td, "[renewal]\nRetryDelay=soon\n");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "reload", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "RetryDelay"));
	g_clear_pointer(&err, g_free);
	cas = ck_test_list_cas(td);
	g_assert_nonnull(ck_test_find(cas, "Name", "later"));
	g_clear_pointer(&cas, json_array_unref);
	/* root's alone */
	if (ck_test_have_program("setpriv")) {
		g_assert_cmpint(ck_test_cli(td, TRUE, NULL, NULL, &err, "reload", NULL), ==, 1);
		g_assert_nonnull(strstr(err, "denied"));
	}
}

/* Usage errors are exit code 1 and name the problem; --help documents the exit codes. */
static void
test_cli_usage(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	const gchar *verbs[] = {"request",   "start-tracking", "stop-tracking", "resubmit",
				"rekey",     "revoke",         "refresh",       "modify",
				"list",      "status",         "list-cas",      "add-ca",
				"modify-ca", "remove-ca",      "reload",        "health"};
	g_autofree gchar *out = NULL, *err = NULL;

	if (td == NULL)
		return;
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "--help", NULL), ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(verbs); i++) {
		g_autofree gchar *verb_help = NULL;
		g_autofree gchar *line = g_strdup_printf("\n  %s ", verbs[i]);
		g_assert_nonnull(strstr(out, line));
		g_assert_cmpint(
		    ck_test_cli(td, FALSE, NULL, &verb_help, NULL, verbs[i], "--help", NULL), ==,
		    0);
		g_assert_nonnull(strstr(verb_help, "Exit codes"));
		g_assert_nonnull(strstr(verb_help, "  4  the request needs guidance"));
	}
	g_assert_nonnull(strstr(out, "  2  the CA rejected the request"));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "frobnicate", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "frobnicate"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "status", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "-i ID"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-f", "a.crt", "-k",
				    "a.key", "-r", "-R", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "contradict"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-f", "a.crt", "-k",
				    "a.key", "-m", "999", NULL),
			==, 1);
	g_assert_nonnull(strstr(err, "999"));
	g_clear_pointer(&err, g_free);
	/* no daemon on the bus: an error that says so */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "list", NULL), ==, 1);
	g_assert_nonnull(strstr(err, "not running"));
}

/* Runs the completion function for @words (the last is the word being completed). */
static gchar *
ck_test_complete(CkTestDaemon *td, const gchar *words)
{
	g_autofree gchar *script =
	    g_build_filename(g_getenv("CK_TOP_SRCDIR"), "data", "completion", "certkeeper", NULL);
	g_autofree gchar *client_dir =
	    g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "client", NULL);
	g_autofree gchar *code = g_strdup_printf(
	    "PATH=%s:$PATH; source %s; COMP_WORDS=(%s); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); "
	    "COMP_LINE=\"${COMP_WORDS[*]}\"; COMP_POINT=${#COMP_LINE}; _certkeeper certkeeper; "
	    "printf '%%s\\n' \"${COMPREPLY[@]}\"",
	    client_dir, script, words);
	const gchar *argv[] = {"bash", "--norc", "--noprofile", "-c", code, NULL};
	gchar *out = NULL;
	g_autofree gchar *err = NULL;

	g_assert_cmpint(ck_test_run(argv, &out, &err), ==, 0);
	g_test_message("complete %s:\n%s%s", words, out, err);
	return out;
}

static void
test_cli_completion(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *script = NULL, *code = NULL, *out = NULL, *words = NULL;
	g_autofree gchar *bus = NULL;

	if (td == NULL)
		return;
	if (!ck_test_have_program("bash")) {
		g_test_skip("bash is not installed");
		return;
	}
	/* it loads, and registers itself */
	script =
	    g_build_filename(g_getenv("CK_TOP_SRCDIR"), "data", "completion", "certkeeper", NULL);
	code = g_strdup_printf("source %s; complete -p certkeeper", script);
	{
		const gchar *argv[] = {"bash", "--norc", "--noprofile", "-c", code, NULL};
		g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
		g_assert_nonnull(strstr(out, "_certkeeper"));
		g_assert_nonnull(strstr(out, "certkeeper"));
		g_clear_pointer(&out, g_free);
	}

	/* verbs */
	out = ck_test_complete(td, "certkeeper st");
	g_assert_cmpstr(out, ==, "start-tracking\nstop-tracking\nstatus\n");
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper ''");
	g_assert_nonnull(strstr(out, "list-cas\n"));
	g_assert_nonnull(strstr(out, "reload\n"));
	g_clear_pointer(&out, g_free);
	/* a verb's options */
	out = ck_test_complete(td, "certkeeper request --key-");
	g_assert_nonnull(strstr(out, "--key-file"));
	g_assert_nonnull(strstr(out, "--key-type"));
	g_assert_nonnull(strstr(out, "--key-policy"));
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper list-cas --");
	g_assert_nonnull(strstr(out, "--json"));
	g_assert_null(strstr(out, "--key-file"));
	g_clear_pointer(&out, g_free);
	/* only the options, not words of the help text (status has no --wait) */
	out = ck_test_complete(td, "certkeeper status --");
	g_assert_nonnull(strstr(out, "--verbose\n"));
	g_assert_null(strstr(out, "--wait"));
	g_clear_pointer(&out, g_free);
	/* key types, and the values of fixed choices */
	out = ck_test_complete(td, "certkeeper request -G ''");
	g_assert_nonnull(strstr(out, "ec-p256\n"));
	g_assert_nonnull(strstr(out, "ec-p384\n"));
	g_assert_nonnull(strstr(out, "ec-p521\n"));
	g_assert_nonnull(strstr(out, "rsa-4096\n"));
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper request -G EC -g 3");
	g_assert_cmpstr(out, ==, "384\n3072\n");
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper modify --key-policy ''");
	g_assert_cmpstr(out, ==, "new\nreuse\n");
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper request --key-provider ''");
	g_assert_cmpstr(out, ==, "file\ntpm\npkcs11\n");
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper revoke --reason c");
	g_assert_cmpstr(out, ==, "cACompromise\ncessationOfOperation\n");
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper rev");
	g_assert_cmpstr(out, ==, "revoke\n");
	g_clear_pointer(&out, g_free);
	/* the CA types, and a protocol's settings among add-ca's options */
	out = ck_test_complete(td, "certkeeper add-ca x --type ''");
	g_assert_cmpstr(out, ==, "helper\nlocal\nacme\nest\nscep\n");
	g_clear_pointer(&out, g_free);
	out = ck_test_complete(td, "certkeeper add-ca x --eab");
	g_assert_cmpstr(out, ==, "--eab-hmac-key-file\n--eab-kid\n");
	g_clear_pointer(&out, g_free);

	/* request ids and CA names, from the daemon (on the bus given before the verb) */
	ck_test_daemon_start(td);
	ck_test_request_local(td, "webserver");
	ck_test_request_local(td, "database");
	bus = g_strdup_printf("--bus=%s", td->bus_address);
	words = g_strdup_printf("certkeeper '%s' status -i ''", bus);
	out = ck_test_complete(td, words);
	g_assert_cmpstr(out, ==, "database\nwebserver\n");
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&words, g_free);
	words = g_strdup_printf("certkeeper '%s' resubmit w", bus);
	out = ck_test_complete(td, words);
	g_assert_cmpstr(out, ==, "webserver\n");
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&words, g_free);
	words = g_strdup_printf("certkeeper '%s' request -c ''", bus);
	out = ck_test_complete(td, words);
	g_assert_cmpstr(out, ==, "local\n");
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&words, g_free);
	words = g_strdup_printf("certkeeper '%s' remove-ca ''", bus);
	out = ck_test_complete(td, words);
	g_assert_cmpstr(out, ==, "local\n");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/cli/request-short-and-long", test_cli_request_short_and_long);
	g_test_add_func("/certkeeper/cli/json-and-table", test_cli_json_and_table);
	g_test_add_func("/certkeeper/cli/list-json-as-status", test_cli_list_json_as_status);
	g_test_add_func("/certkeeper/cli/status-explains", test_cli_status_explains);
	g_test_add_func("/certkeeper/cli/status-waiting", test_cli_status_waiting);
	g_test_add_func("/certkeeper/cli/cas", test_cli_cas);
	g_test_add_func("/certkeeper/cli/start-tracking-and-refresh",
			test_cli_start_tracking_and_refresh);
	g_test_add_func("/certkeeper/cli/modify-and-renew", test_cli_modify_and_renew);
	g_test_add_func("/certkeeper/cli/ec-curves", test_cli_ec_curves);
	g_test_add_func("/certkeeper/cli/revoke", test_cli_revoke);
	g_test_add_func("/certkeeper/cli/reload", test_cli_reload);
	g_test_add_func("/certkeeper/cli/certmonger-helper", test_cli_certmonger_helper);
	g_test_add_func("/certkeeper/cli/protocol-cas", test_cli_protocol_cas);
	g_test_add_func("/certkeeper/cli/usage", test_cli_usage);
	g_test_add_func("/certkeeper/cli/completion", test_cli_completion);
	return g_test_run();
}
