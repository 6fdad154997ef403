/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The EST helper: its parsers directly, then certkeeper-est run with the helper
 * protocol's environment against tests/est/est-server.py (a real CA made by
 * openssl), then the real certkeeperd enrolling and renewing through it.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "ck-error.h"
#include "ck-est.h"
#include "ck-test-daemon.h"
#include "ck-test-util.h"

/* The RFC 7030 §4.5.2 example: challengePassword, an EC key on secp384r1, a MAC
 * address in extensionRequest, ecdsa-with-SHA384. */
#define RFC7030_CSRATTRS                                                                           \
	"MEEGCSqGSIb3DQEJBzASBgcqhkjOPQIBMQcGBSuBBAAiMBYGCSqGSIb3DQEJDjEJBgcrBgEBAQEWBggqhkjOPQQD" \
	"Aw=="

/* Parsers */

static void
test_est_url(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *a = ck_est_build_url("https://ca.example:8443", NULL, "cacerts", &error);
	g_autofree gchar *b = ck_est_build_url("https://ca.example/", "dev", "simpleenroll", NULL);
	g_autofree gchar *c =
	    ck_est_build_url("https://ca.example/pki/.well-known/est/", NULL, "csrattrs", NULL);
	gchar *bad;

	g_assert_no_error(error);
	g_assert_cmpstr(a, ==, "https://ca.example:8443/.well-known/est/cacerts");
	g_assert_cmpstr(b, ==, "https://ca.example/.well-known/est/dev/simpleenroll");
	g_assert_cmpstr(c, ==, "https://ca.example/pki/.well-known/est/csrattrs");
	/* EST is TLS only, and a label is one plain path segment */
	bad = ck_est_build_url("http://ca.example", NULL, "cacerts", &error);
	g_assert_null(bad);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED);
	g_assert_nonnull(strstr(error->message, "https://"));
	g_clear_error(&error);
	bad = ck_est_build_url("https://ca.example", "a/b", "cacerts", &error);
	g_assert_null(bad);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED);
	g_assert_nonnull(strstr(error->message, "a/b"));
	g_clear_error(&error);
	bad = ck_est_build_url("https://user:pw@ca.example", NULL, "cacerts", &error);
	g_assert_null(bad);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED);
	g_clear_error(&error);
	bad = ck_est_build_url(NULL, NULL, "cacerts", &error);
	g_assert_null(bad);
	g_assert_nonnull(strstr(error->message, "--url"));
}

static void
test_est_base64(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) in = g_bytes_new_static("aGVs\r\nbG8=\n", 11);
	g_autoptr(GBytes) out = ck_est_decode_base64(in, &error);
	const gchar *bad[] = {"", "aGVsbG8", "aGVs*G8=", "aG=sbG8=", "<html>", NULL};

	g_assert_no_error(error);
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), "hello", 5);
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GBytes) b = g_bytes_new_static(bad[i], strlen(bad[i]));
		g_autoptr(GBytes) r = ck_est_decode_base64(b, &error);
		g_assert_null(r);
		g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
		g_clear_error(&error);
	}
}

static void
test_est_certs_only_garbage(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) junk = g_bytes_new_static("\x30\x03\x02\x01\x01", 5);
	g_autoptr(GPtrArray) certs = ck_est_parse_certs_only(junk, &error);

	g_assert_null(certs);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, "PKCS#7"));
}

static void
test_est_csrattrs(void)
{
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	guchar *der = g_base64_decode(RFC7030_CSRATTRS, &len);
	g_autoptr(GBytes) bytes = g_bytes_new_take(der, len);
	g_autoptr(GPtrArray) attrs = ck_est_parse_csrattrs(bytes, &error);
	g_autoptr(GString) notes = g_string_new(NULL);
	g_autofree gchar *names = NULL;
	CkEstCsrAttr *attr;

	g_assert_no_error(error);
	g_assert_cmpuint(attrs->len, ==, 4);
	attr = g_ptr_array_index(attrs, 0);
	g_assert_cmpstr(attr->oid, ==, "1.2.840.113549.1.9.7");
	g_assert_null(attr->values);
	attr = g_ptr_array_index(attrs, 1);
	g_assert_cmpstr(attr->oid, ==, "1.2.840.10045.2.1");
	g_assert_cmpstr(attr->values[0], ==, "1.3.132.0.34");
	attr = g_ptr_array_index(attrs, 2);
	g_assert_cmpstr(attr->oid, ==, "1.2.840.113549.1.9.14");
	g_assert_cmpstr(attr->values[0], ==, "1.3.6.1.1.1.1.22");
	attr = g_ptr_array_index(attrs, 3);
	g_assert_cmpstr(attr->oid, ==, "1.2.840.10045.4.3.3");

	names = ck_est_requirements(attrs, notes);
	g_assert_cmpstr(names, ==, "CERTMONGER_CSR\n");
	g_assert_nonnull(strstr(notes->str, "challengePassword"));
	g_assert_nonnull(strstr(notes->str, "ec-p384"));
	g_assert_nonnull(strstr(notes->str, "1.3.6.1.1.1.1.22"));
	g_assert_nonnull(strstr(notes->str, "1.2.840.10045.4.3.3"));

	/* a subjectAltName asked for in extensionRequest, and a CN: names are required */
	{
		/* SEQUENCE { OID 2.5.4.3, SEQUENCE { OID extensionRequest, SET { OID 2.5.29.17 } }
		 * } */
		static const guint8 sans[] = {0x30, 0x19, 0x06, 0x03, 0x55, 0x04, 0x03,
					      0x30, 0x12, 0x06, 0x09, 0x2a, 0x86, 0x48,
					      0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e, 0x31,
					      0x05, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x00};
		g_autoptr(GBytes) b = g_bytes_new_static(sans, sizeof(sans) - 1);
		g_autoptr(GPtrArray) a = ck_est_parse_csrattrs(b, &error);
		g_autoptr(GString) n = g_string_new(NULL);
		g_autofree gchar *req = NULL;
		g_assert_no_error(error);
		req = ck_est_requirements(a, n);
		g_assert_cmpstr(
		    req, ==, "CERTMONGER_CSR\nCERTMONGER_REQ_SUBJECT\nCERTMONGER_REQ_HOSTNAME\n");
	}
	/* truncated and trailing bytes are refused */
	for (gsize cut = 1; cut < len; cut += 7) {
		g_autoptr(GBytes) b = g_bytes_new(g_bytes_get_data(bytes, NULL), len - cut);
		g_autoptr(GPtrArray) a = ck_est_parse_csrattrs(b, &error);
		g_assert_null(a);
		g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
		g_clear_error(&error);
	}
}

/*
 * certkeeper's CERTKEEPER-GET-CSR-ATTRIBUTES answer: a key type with its size, the
 * challenge, an extension the CA gives whole and what it asks for without a value.
 * The DER is what tests/est/est-server.py serves for
 * --csrattr 1.2.840.113549.1.1.1=int:3072 --csrattr 1.2.840.113549.1.9.7
 * --csrattr 1.2.840.113549.1.9.14=2.5.29.17+ext:1.3.6.1.4.1.99999.1:critical:0c0466656574
 * --csrattr 1.2.840.10045.4.3.3
 */
static void
test_est_csr_attributes(void)
{
	static const guint8 der[] = {
	    0x30, 0x56, 0x30, 0x11, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
	    0x01, 0x31, 0x04, 0x02, 0x02, 0x0c, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
	    0x0d, 0x01, 0x09, 0x07, 0x30, 0x2c, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d,
	    0x01, 0x09, 0x0e, 0x31, 0x1f, 0x06, 0x03, 0x55, 0x1d, 0x11, 0x30, 0x18, 0x30, 0x16,
	    0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x86, 0x8d, 0x1f, 0x01, 0x01, 0x01, 0xff,
	    0x04, 0x06, 0x0c, 0x04, 0x66, 0x65, 0x65, 0x74, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
	    0x3d, 0x04, 0x03, 0x03};
	static const guint8 utf8_fleet[] = {0x0c, 0x04, 'f', 'e', 'e', 't'};
	g_autoptr(GBytes) bytes = g_bytes_new_static(der, sizeof(der));
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) attrs = ck_est_parse_csrattrs(bytes, &error);
	g_autofree gchar *with = NULL, *without = NULL, *ec = NULL, *b64 = NULL, *want = NULL;
	CkEstCsrAttr *attr;
	CkEstCsrExtension *ext;

	g_assert_no_error(error);
	g_assert_cmpuint(attrs->len, ==, 4);
	attr = g_ptr_array_index(attrs, 0);
	g_assert_cmpstr(attr->oid, ==, "1.2.840.113549.1.1.1");
	g_assert_cmpuint(attr->integer, ==, 3072);
	attr = g_ptr_array_index(attrs, 2);
	g_assert_cmpstr(attr->oid, ==, "1.2.840.113549.1.9.14");
	g_assert_cmpstr(attr->values[0], ==, "2.5.29.17");
	g_assert_cmpstr(attr->values[1], ==, "1.3.6.1.4.1.99999.1");
	g_assert_nonnull(attr->extensions);
	g_assert_cmpuint(attr->extensions->len, ==, 1);
	ext = g_ptr_array_index(attr->extensions, 0);
	g_assert_cmpstr(ext->oid, ==, "1.3.6.1.4.1.99999.1");
	g_assert_true(ext->critical);
	g_assert_cmpmem(g_bytes_get_data(ext->value, NULL), g_bytes_get_size(ext->value),
			utf8_fleet, sizeof(utf8_fleet));

	b64 = g_base64_encode(utf8_fleet, sizeof(utf8_fleet));
	want = g_strdup_printf("key-type rsa-3072\n"
			       "challenge-password fleet secret\n"
			       "extension 1.3.6.1.4.1.99999.1 critical %s\n"
			       "attribute 2.5.29.17\n"
			       "attribute 1.2.840.10045.4.3.3\n",
			       b64);
	with = ck_est_csr_attributes(attrs, "fleet secret");
	g_assert_cmpstr(with, ==, want);
	/* no challenge configured: the line says only that the CA wants one */
	without = ck_est_csr_attributes(attrs, NULL);
	g_assert_nonnull(strstr(without, "\nchallenge-password\n"));

	/* the RFC's own example: an EC key on secp384r1 (the first key type counts) */
	{
		gsize len = 0;
		guchar *rfc = g_base64_decode(RFC7030_CSRATTRS, &len);
		g_autoptr(GBytes) b = g_bytes_new_take(rfc, len);
		g_autoptr(GPtrArray) a = ck_est_parse_csrattrs(b, &error);
		g_assert_no_error(error);
		ec = ck_est_csr_attributes(a, NULL);
		g_assert_true(g_str_has_prefix(ec, "challenge-password\nkey-type ec-p384\n"));
		g_assert_nonnull(strstr(ec, "attribute 1.3.6.1.1.1.1.22\n"));
	}
	/* an INTEGER that does not fit, or is negative, is no key size */
	{
		static const guint8 huge[] = {0x30, 0x1a, 0x30, 0x18, 0x06, 0x09, 0x2a, 0x86, 0x48,
					      0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x31, 0x0b, 0x02,
					      0x09, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
					      0x00};
		g_autoptr(GBytes) b = g_bytes_new_static(huge, sizeof(huge));
		g_autoptr(GPtrArray) a = ck_est_parse_csrattrs(b, &error);
		g_autofree gchar *lines = NULL;
		g_assert_no_error(error);
		attr = g_ptr_array_index(a, 0);
		g_assert_cmpuint(attr->integer, ==, 0);
		g_assert_cmpuint(attr->n_other, ==, 1);
		lines = ck_est_csr_attributes(a, NULL);
		g_assert_cmpstr(lines, ==, "key-type rsa\n");
	}
}

static void
test_est_retry_after(void)
{
	guint s = 0;
	/* 1994-11-06 08:49:37 UTC */
	const gint64 when = 784111777;

	g_assert_true(ck_est_parse_retry_after(" 120 ", 0, &s));
	g_assert_cmpuint(s, ==, 120);
	g_assert_true(ck_est_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", when - 30, &s));
	g_assert_cmpuint(s, ==, 30);
	g_assert_true(ck_est_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", when + 5, &s));
	g_assert_cmpuint(s, ==, 0);
	/* a server asking for a year gets a week */
	g_assert_true(ck_est_parse_retry_after("31536000", 0, &s));
	g_assert_cmpuint(s, ==, 7 * 24 * 3600);
	g_assert_false(ck_est_parse_retry_after("soon", 0, &s));
	g_assert_false(ck_est_parse_retry_after("-5", 0, &s));
	g_assert_false(ck_est_parse_retry_after(NULL, 0, &s));
}

static void
test_est_cookie(void)
{
	g_autofree gchar *c1 = ck_est_cookie_new("simplereenroll", "dev");
	g_autofree gchar *c2 = ck_est_cookie_new("simpleenroll", NULL);
	g_autofree gchar *op = NULL, *label = NULL;

	g_assert_true(ck_est_cookie_parse(c1, &op, &label));
	g_assert_cmpstr(op, ==, "simplereenroll");
	g_assert_cmpstr(label, ==, "dev");
	g_clear_pointer(&op, g_free);
	g_clear_pointer(&label, g_free);
	g_assert_true(ck_est_cookie_parse(c2, &op, &label));
	g_assert_cmpstr(op, ==, "simpleenroll");
	g_assert_null(label);
	g_clear_pointer(&op, g_free);
	g_assert_false(ck_est_cookie_parse("est-v1 fullcmc", &op, &label));
	g_assert_false(ck_est_cookie_parse("other 42", &op, &label));
	g_assert_false(ck_est_cookie_parse("est-v1 simpleenroll a/b", &op, &label));
	g_assert_null(op);
}

static void
test_est_pin(void)
{
	g_autoptr(GBytes) data = g_bytes_new_static("abc", 3);
	const gchar *sha =
	    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:"
	    "B4:10:FF:61:F2:00:15:AD";
	g_autofree gchar *norm = ck_est_pin_normalize(sha);

	g_assert_cmpstr(norm, ==,
			"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	g_assert_true(ck_est_pin_matches(sha, data));
	g_assert_true(ck_est_pin_matches(norm, data));
	g_assert_false(ck_est_pin_matches(
	    "ca7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", data));
	g_assert_null(ck_est_pin_normalize("ba7816bf"));
	g_assert_null(ck_est_pin_normalize(
	    "zz7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
}

/* The EST test server */

typedef struct {
	gchar *dir;
	gchar *ca_dir;
	gchar *log_path;
	gchar *control_path;
	gchar *url;
	gchar *root;
	gchar *password_file;
	GStrv extra; /* more arguments, for restarts too */
	guint port;
	GPid pid;
} EstServer;

static gboolean
est_have_tools(void)
{
	if (!ck_test_have_program("openssl") || !ck_test_have_program("python3")) {
		g_test_skip("openssl or python3 is missing");
		return FALSE;
	}
	return TRUE;
}

/* Runs est-server.py on @s's directory and @port (0: a free one), and waits for READY. */
static void
est_server_spawn(EstServer *s, guint port)
{
	g_autofree gchar *script =
	    g_build_filename(g_getenv("CK_TOP_SRCDIR"), "tests", "est", "est-server.py", NULL);
	g_autofree gchar *port_arg = g_strdup_printf("%u", port);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gchar line[256] = "";
	gint out_fd = -1;
	FILE *out;

	g_ptr_array_add(argv, (gpointer) "python3");
	g_ptr_array_add(argv, script);
	g_ptr_array_add(argv, (gpointer) "--dir");
	g_ptr_array_add(argv, s->ca_dir);
	g_ptr_array_add(argv, (gpointer) "--port");
	g_ptr_array_add(argv, port_arg);
	g_ptr_array_add(argv, (gpointer) "--user");
	g_ptr_array_add(argv, (gpointer) "alice:secret");
	g_ptr_array_add(argv, (gpointer) "--log");
	g_ptr_array_add(argv, s->log_path);
	g_ptr_array_add(argv, (gpointer) "--control");
	g_ptr_array_add(argv, s->control_path);
	for (guint i = 0; s->extra != NULL && s->extra[i] != NULL; i++)
		g_ptr_array_add(argv, s->extra[i]);
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_async_with_pipes(NULL, (gchar **)argv->pdata, NULL,
					       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
					       NULL, NULL, &s->pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	out = fdopen(out_fd, "r");
	g_assert_nonnull(out);
	/* the server makes its CA first: a few openssl runs */
	if (fgets(line, sizeof(line), out) == NULL || sscanf(line, "READY port=%u", &s->port) != 1)
		g_error("est-server.py did not get ready (it printed '%s')", line);
	fclose(out);
	g_assert_true(port == 0 || s->port == port);
}

/* Starts est-server.py on a free port, alice:secret for Basic, and waits for READY. */
static EstServer *
est_server_start(const gchar *const *extra)
{
	EstServer *s = g_new0(EstServer, 1);

	s->dir = ck_test_make_tmpdir();
	s->ca_dir = g_build_filename(s->dir, "ca", NULL);
	s->log_path = g_build_filename(s->dir, "est.log", NULL);
	s->control_path = g_build_filename(s->dir, "control.json", NULL);
	s->root = g_build_filename(s->ca_dir, "root.pem", NULL);
	s->password_file = ck_test_write_file(s->dir, "password", "secret\n");
	s->extra = g_strdupv((gchar **)extra);
	est_server_spawn(s, 0);
	s->url = g_strdup_printf("https://localhost:%u", s->port);
	return s;
}

/* Stops the server process (a CA gone away); its directory stays. */
static void
est_server_kill(EstServer *s)
{
	g_assert_cmpint(s->pid, >, 0);
	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	g_spawn_close_pid(s->pid);
	s->pid = 0;
}

/* Starts it again on the same port and CA directory: the same CA is back. */
static void
est_server_restart(EstServer *s)
{
	g_assert_cmpint(s->pid, ==, 0);
	est_server_spawn(s, s->port);
}

static void
est_server_stop(EstServer *s)
{
	if (s == NULL)
		return;
	if (s->pid > 0)
		est_server_kill(s);
	ck_test_rm_rf(s->dir);
	g_free(s->dir);
	g_free(s->ca_dir);
	g_free(s->log_path);
	g_free(s->control_path);
	g_free(s->url);
	g_free(s->root);
	g_free(s->password_file);
	g_strfreev(s->extra);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EstServer, est_server_stop)

/* The server's behaviour from now on (its control file). */
static void
est_server_control(EstServer *s, const gchar *json)
{
	g_assert_true(g_file_set_contents(s->control_path, json, -1, NULL));
}

static gchar *
est_server_ca_file(EstServer *s, const gchar *name)
{
	return g_build_filename(s->ca_dir, name, NULL);
}

/* The last record of the server's log for @op (a reference into @parser). */
static JsonObject *
est_server_last(EstServer *s, const gchar *op, JsonParser **parser_out)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (!g_file_get_contents(s->log_path, &text, NULL, NULL))
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	for (gint i = (gint)g_strv_length(lines) - 1; i >= 0; i--) {
		g_autoptr(JsonParser) parser = json_parser_new();
		JsonObject *obj;
		if (lines[i][0] == '\0')
			continue;
		g_assert_true(json_parser_load_from_data(parser, lines[i], -1, NULL));
		obj = json_node_get_object(json_parser_get_root(parser));
		if (g_strcmp0(json_object_get_string_member_with_default(obj, "op", ""), op) == 0) {
			*parser_out = g_steal_pointer(&parser);
			return obj;
		}
	}
	return NULL;
}

/* How many @op requests the server answered with @status. */
static guint
est_server_count(EstServer *s, const gchar *op, gint status)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (!g_file_get_contents(s->log_path, &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_autoptr(JsonParser) parser = json_parser_new();
		JsonObject *obj;
		if (lines[i][0] == '\0')
			continue;
		g_assert_true(json_parser_load_from_data(parser, lines[i], -1, NULL));
		obj = json_node_get_object(json_parser_get_root(parser));
		if (g_strcmp0(json_object_get_string_member_with_default(obj, "op", ""), op) == 0 &&
		    json_object_get_int_member(obj, "status") == status)
			n++;
	}
	return n;
}

/* Asserts the last @op went through with @status, authorised by @auth. */
static void
est_server_assert_last(EstServer *s, const gchar *op, gint status, const gchar *auth,
		       const gchar *label)
{
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *obj = est_server_last(s, op, &parser);

	g_assert_nonnull(obj);
	g_assert_cmpint(json_object_get_int_member(obj, "status"), ==, status);
	g_assert_cmpstr(json_object_get_string_member_with_default(obj, "auth", NULL), ==, auth);
	g_assert_cmpstr(json_object_get_string_member_with_default(obj, "label", NULL), ==, label);
}

/* Runs certkeeper-est with the protocol's environment; returns its exit status. */
static gint
est_run(const gchar *url, const gchar *const *env, gchar **out, gchar **err, ...)
{
	g_autofree gchar *helper = g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon",
						    "helpers", "certkeeper-est", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GStrvBuilder) envb = g_strv_builder_new();
	g_auto(GStrv) envp = NULL;
	g_autofree gchar *path = g_strdup_printf("PATH=%s", g_getenv("PATH"));
	g_autoptr(GError) error = NULL;
	g_autofree gchar *o = NULL, *e = NULL;
	const gchar *wrapper = g_getenv("CK_TEST_DAEMON_WRAPPER");
	g_auto(GStrv) words = NULL;
	gint status = -1;
	const gchar *arg;
	va_list ap;

	/* `meson test --setup valgrind` checks the helper too (exit 99 on a leak) */
	if (wrapper != NULL && wrapper[0] != '\0') {
		g_shell_parse_argv(wrapper, NULL, &words, &error);
		g_assert_no_error(error);
		for (guint i = 0; words[i] != NULL; i++)
			g_ptr_array_add(argv, words[i]);
	}
	g_ptr_array_add(argv, helper);
	g_ptr_array_add(argv, (gpointer) "--url");
	g_ptr_array_add(argv, (gpointer)url);
	va_start(ap, err);
	while ((arg = va_arg(ap, const gchar *)) != NULL)
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	g_strv_builder_add_many(envb, path, "LANG=C.UTF-8", NULL);
	if (env != NULL)
		g_strv_builder_addv(envb, (const char **)env);
	envp = g_strv_builder_end(envb);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv->pdata, envp, G_SPAWN_SEARCH_PATH, NULL,
				   NULL, &o, &e, &status, &error));
	g_assert_no_error(error);
	g_assert_true(WIFEXITED(status));
	g_test_message("certkeeper-est exit %d\nstdout: %s\nstderr: %s", WEXITSTATUS(status), o, e);
	if (out != NULL)
		*out = g_steal_pointer(&o);
	if (err != NULL)
		*err = g_steal_pointer(&e);
	return WEXITSTATUS(status);
}

/* A new EC key and a CSR for CN=@name with DNS:@name in @s->dir; returns the CSR's PEM. */
static gchar *
est_make_csr(EstServer *s, const gchar *name)
{
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", s->dir, name);
	g_autofree gchar *csr = g_strdup_printf("%s/%s.csr", s->dir, name);
	g_autofree gchar *subj = g_strdup_printf("/CN=%s", name);
	g_autofree gchar *san = g_strdup_printf("subjectAltName=DNS:%s", name);
	const gchar *argv[] = {
	    "openssl", "req",   "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes",  "-subj", subj,   "-addext", san,  "-keyout",  key,
	    "-out",    csr,     NULL};
	gchar *pem = NULL;

	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_assert_true(g_file_get_contents(csr, &pem, NULL, NULL));
	return pem;
}

static gchar *
est_path(EstServer *s, const gchar *name)
{
	return g_build_filename(s->dir, name, NULL);
}

/* openssl's view of a certificate file: -noout -@what. */
static gchar *
est_openssl_x509(const gchar *file, const gchar *what)
{
	g_autofree gchar *flag = g_strdup_printf("-%s", what);
	const gchar *argv[] = {"openssl", "x509", "-in", file, "-noout", flag, NULL};
	gchar *out = NULL;
	g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	return out;
}

/* Asserts @cert_file names @name, carries @key_file's key (NULL: NAME.key) and chains to the CA. */
static void
est_assert_issued(EstServer *s, const gchar *cert_file, const gchar *name, const gchar *key_file)
{
	g_autofree gchar *key =
	    key_file != NULL ? g_strdup(key_file) : g_strdup_printf("%s/%s.key", s->dir, name);
	g_autofree gchar *root = est_server_ca_file(s, "root.pem");
	g_autofree gchar *ca = est_server_ca_file(s, "ca.pem");
	const gchar *pub_cert[] = {"openssl", "x509", "-in", cert_file, "-noout", "-pubkey", NULL};
	const gchar *pub_key[] = {"openssl", "pkey", "-in", key, "-pubout", NULL};
	const gchar *verify[] = {"openssl",    "verify", "-CAfile", root,
				 "-untrusted", ca,       cert_file, NULL};
	g_autofree gchar *a = NULL, *b = NULL, *subject = NULL, *want = NULL, *verified = NULL;

	g_assert_cmpint(ck_test_run(pub_cert, &a, NULL), ==, 0);
	g_assert_cmpint(ck_test_run(pub_key, &b, NULL), ==, 0);
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpint(ck_test_run(verify, &verified, NULL), ==, 0);
	subject = est_openssl_x509(cert_file, "subject");
	want = g_strdup_printf("subject=CN = %s\n", name);
	g_assert_cmpstr(subject, ==, want);
}

/* Enrolls @name with HTTP Basic; writes NAME.crt (what the helper printed). */
static gchar *
est_enroll_basic(EstServer *s, const gchar *name)
{
	g_autofree gchar *csr = est_make_csr(s, name);
	g_autofree gchar *csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	g_autofree gchar *file_name = g_strdup_printf("%s.crt", name);
	const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
	g_autofree gchar *out = NULL;
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username", "alice",
				"--password-file", s->password_file, NULL),
			==, 0);
	return ck_test_write_file(s->dir, file_name, out);
}

/* Through the helper protocol */

static void
test_est_enroll_basic(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *cert = NULL, *text = NULL, *ca = NULL, *ca_pem = NULL;

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	cert = est_enroll_basic(s, "host.example");
	est_assert_issued(s, cert, "host.example", NULL);
	est_server_assert_last(s, "simpleenroll", 200, "basic:alice", NULL);
	/* the leaf first, then the issuing CA from /cacerts (the chain), never the root */
	g_assert_true(g_file_get_contents(cert, &text, NULL, NULL));
	ca = est_server_ca_file(s, "ca.pem");
	g_assert_true(g_file_get_contents(ca, &ca_pem, NULL, NULL));
	g_assert_true(g_str_has_suffix(text, ca_pem));
	{
		g_auto(GStrv) parts = g_strsplit(text, "-----BEGIN CERTIFICATE-----", -1);
		g_assert_cmpuint(g_strv_length(parts), ==, 3);
	}
}

static void
test_est_enroll_refused(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *csr = NULL, *csr_env = NULL, *out = NULL, *wrong = NULL;
	const gchar *env[3] = {"CERTMONGER_OPERATION=SUBMIT", NULL, NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	csr = est_make_csr(s, "anon.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	env[1] = csr_env;
	/* no credentials at all: rejected, and the message says what to configure */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 2);
	g_assert_nonnull(strstr(out, "HTTP 401"));
	g_assert_nonnull(strstr(out, "--username"));
	est_server_assert_last(s, "simpleenroll", 401, "none", NULL);
	g_clear_pointer(&out, g_free);
	/* a wrong password */
	wrong = ck_test_write_file(s->dir, "wrong", "guess\n");
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username", "alice",
				"--password-file", wrong, NULL),
			==, 2);
	g_assert_nonnull(strstr(out, "wrong user name or password"));
	g_clear_pointer(&out, g_free);
	/* --username without a password is a configuration problem, found before connecting */
	g_assert_cmpint(
	    est_run(s->url, env, &out, NULL, "--trust", s->root, "--username", "alice", NULL), ==,
	    4);
	g_assert_nonnull(strstr(out, "--password-file"));
}

/* An expired certificate cannot authenticate TLS: Basic if configured, else guidance. */
static void
test_est_enroll_expired(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *csr = NULL, *csr_env = NULL, *out = NULL, *cert_env = NULL;
	g_autofree gchar *key_env = NULL, *cert = NULL, *key = NULL;
	const gchar *env[6] = {"CERTMONGER_OPERATION=SUBMIT", NULL,
			       "CERTKEEPER_AUTH_IDENTITY=expired", NULL, NULL, NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	csr = est_make_csr(s, "late.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	/* whatever the files hold, they are not used for TLS */
	cert = est_server_ca_file(s, "bootstrap.pem");
	key = est_server_ca_file(s, "bootstrap.key");
	cert_env = g_strdup_printf("CERTKEEPER_AUTH_CERTIFICATE=%s", cert);
	key_env = g_strdup_printf("CERTKEEPER_AUTH_KEY=%s", key);
	env[1] = csr_env;
	env[3] = cert_env;
	env[4] = key_env;
	/* nothing else to authenticate with: a human must act, and is told how */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 4);
	g_assert_nonnull(strstr(out, "expired"));
	g_assert_nonnull(strstr(out, "--username"));
	g_assert_cmpuint(est_server_count(s, "simpleenroll", 401), ==, 0);
	g_clear_pointer(&out, g_free);
	/* with Basic credentials it enrolls afresh */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username", "alice",
				"--password-file", s->password_file, NULL),
			==, 0);
	est_server_assert_last(s, "simpleenroll", 200, "basic:alice", NULL);
}

static void
test_est_enroll_bootstrap(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *csr = NULL, *csr_env = NULL, *out = NULL, *cert = NULL;
	g_autofree gchar *bcert = NULL, *bkey = NULL, *auth_cert = NULL, *auth_key = NULL;
	const gchar *env[3] = {"CERTMONGER_OPERATION=SUBMIT", NULL, NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	csr = est_make_csr(s, "device.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	env[1] = csr_env;
	bcert = est_server_ca_file(s, "bootstrap.pem");
	bkey = est_server_ca_file(s, "bootstrap.key");
	/* --bootstrap-cert: the device's manufacturer identity */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--bootstrap-cert",
				bcert, "--bootstrap-key", bkey, NULL),
			==, 0);
	cert = ck_test_write_file(s->dir, "device.crt", out);
	est_assert_issued(s, cert, "device.example", NULL);
	est_server_assert_last(s, "simpleenroll", 200, "bootstrap", NULL);
	g_clear_pointer(&out, g_free);
	/* the daemon's bootstrap identity (CERTKEEPER_AUTH_IDENTITY=bootstrap) */
	auth_cert = g_strdup_printf("CERTKEEPER_AUTH_CERTIFICATE=%s", bcert);
	auth_key = g_strdup_printf("CERTKEEPER_AUTH_KEY=%s", bkey);
	{
		const gchar *env2[] = {"CERTMONGER_OPERATION=SUBMIT",
				       csr_env,
				       "CERTKEEPER_AUTH_IDENTITY=bootstrap",
				       auth_cert,
				       auth_key,
				       NULL};
		g_assert_cmpint(est_run(s->url, env2, &out, NULL, "--trust", s->root, NULL), ==, 0);
		est_server_assert_last(s, "simpleenroll", 200, "bootstrap", NULL);
	}
	/* half a bootstrap identity is a configuration error */
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(
	    est_run(s->url, env, &out, NULL, "--trust", s->root, "--bootstrap-cert", bcert, NULL),
	    ==, 4);
	g_assert_nonnull(strstr(out, "--bootstrap-key"));
	g_clear_pointer(&out, g_free);
	/* a server that trusts no bootstrap CA refuses the same certificate */
	{
		const gchar *extra[] = {"--dir", s->ca_dir, "--no-bootstrap", NULL};
		g_autoptr(EstServer) strict = est_server_start(extra);
		g_assert_cmpint(est_run(strict->url, env, &out, NULL, "--trust", s->root,
					"--bootstrap-cert", bcert, "--bootstrap-key", bkey, NULL),
				==, 2);
		g_assert_nonnull(strstr(out, "HTTP 403"));
		est_server_assert_last(strict, "simpleenroll", 403, "none", NULL);
	}
}

static void
test_est_reenroll(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *first = NULL, *csr = NULL, *csr_env = NULL, *out = NULL;
	g_autofree gchar *auth_cert = NULL, *auth_key = NULL, *key = NULL, *renewed = NULL;
	g_autofree gchar *serial1 = NULL, *serial2 = NULL;

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	first = est_enroll_basic(s, "renew.example");
	key = est_path(s, "renew.example.key");
	auth_cert = g_strdup_printf("CERTKEEPER_AUTH_CERTIFICATE=%s", first);
	auth_key = g_strdup_printf("CERTKEEPER_AUTH_KEY=%s", key);
	/* same names, a new key (est_make_csr overwrites renew.example.key: keep the old one) */
	{
		g_autofree gchar *old_key = est_path(s, "old.key");
		g_autofree gchar *contents = NULL;
		g_assert_true(g_file_get_contents(key, &contents, NULL, NULL));
		g_assert_true(g_file_set_contents(old_key, contents, -1, NULL));
		g_free(auth_key);
		auth_key = g_strdup_printf("CERTKEEPER_AUTH_KEY=%s", old_key);
	}
	csr = est_make_csr(s, "renew.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT",
				      csr_env,
				      "CERTKEEPER_AUTH_IDENTITY=current",
				      auth_cert,
				      auth_key,
				      NULL};
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username",
					"alice", "--password-file", s->password_file, NULL),
				==, 0);
	}
	renewed = ck_test_write_file(s->dir, "renewed.crt", out);
	est_assert_issued(s, renewed, "renew.example", NULL);
	est_server_assert_last(s, "simplereenroll", 200, "certificate", NULL);
	serial1 = est_openssl_x509(first, "serial");
	serial2 = est_openssl_x509(renewed, "serial");
	g_assert_cmpstr(serial1, !=, serial2);
}

static void
test_est_reenroll_other_subject(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *first = NULL, *csr = NULL, *csr_env = NULL, *out = NULL;
	g_autofree gchar *auth_cert = NULL, *auth_key = NULL, *key = NULL;

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	first = est_enroll_basic(s, "mine.example");
	key = est_path(s, "mine.example.key");
	auth_cert = g_strdup_printf("CERTKEEPER_AUTH_CERTIFICATE=%s", first);
	auth_key = g_strdup_printf("CERTKEEPER_AUTH_KEY=%s", key);
	csr = est_make_csr(s, "theirs.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT",
				      csr_env,
				      "CERTKEEPER_AUTH_IDENTITY=current",
				      auth_cert,
				      auth_key,
				      NULL};
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 2);
	}
	g_assert_nonnull(strstr(out, "HTTP 403"));
	g_assert_nonnull(strstr(out, "simplereenroll"));
	g_assert_nonnull(strstr(out, "CN=theirs.example"));
	est_server_assert_last(s, "simplereenroll", 403, "none", NULL);
	g_clear_pointer(&out, g_free);
	/* renewing without the current certificate cannot work: said before connecting */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env,
				      "CERTKEEPER_AUTH_IDENTITY=current", NULL};
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 4);
		g_assert_nonnull(strstr(out, "CERTKEEPER_AUTH_CERTIFICATE"));
	}
}

static void
test_est_retry_then_poll(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *csr = NULL, *csr_env = NULL, *out = NULL, *cookie_env = NULL;
	g_auto(GStrv) lines = NULL;
	const gchar *env[3] = {"CERTMONGER_OPERATION=SUBMIT", NULL, NULL};
	const gchar *label[] = {"--label", "x", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(label);
	est_server_control(s, "{\"retry_count\": 1, \"retry_after\": 7}");
	csr = est_make_csr(s, "later.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	env[1] = csr_env;
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--label", "x", "--trust", s->root,
				"--username", "alice", "--password-file", s->password_file, NULL),
			==, 5);
	/* "N\ncookie": the server's Retry-After, then what POLL needs */
	lines = g_strsplit(out, "\n", -1);
	g_assert_cmpstr(lines[0], ==, "7");
	g_assert_cmpstr(lines[1], !=, "");
	est_server_assert_last(s, "simpleenroll", 202, "basic:alice", "x");
	cookie_env = g_strdup_printf("CERTMONGER_CA_COOKIE=%s", lines[1]);
	g_clear_pointer(&out, g_free);
	{
		/* POLL without --label: the cookie remembers where the request went */
		const gchar *poll[] = {"CERTMONGER_OPERATION=POLL", csr_env, cookie_env, NULL};
		g_autofree gchar *cert = NULL;
		g_assert_cmpint(est_run(s->url, poll, &out, NULL, "--trust", s->root, "--username",
					"alice", "--password-file", s->password_file, NULL),
				==, 0);
		cert = ck_test_write_file(s->dir, "later.crt", out);
		est_assert_issued(s, cert, "later.example", NULL);
		est_server_assert_last(s, "simpleenroll", 200, "basic:alice", "x");
	}
}

static void
test_est_server_failures(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *csr = NULL, *csr_env = NULL, *out = NULL;
	const gchar *env[3] = {"CERTMONGER_OPERATION=SUBMIT", NULL, NULL};
	const gchar *garbage[] = {"{\"garbage\": \"text\"}", "{\"garbage\": \"base64\"}",
				  "{\"garbage\": \"empty\"}", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	csr = est_make_csr(s, "fail.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	env[1] = csr_env;
	/* 5xx: the CA cannot answer now */
	est_server_control(s, "{\"fail_status\": 503}");
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username", "alice",
				"--password-file", s->password_file, NULL),
			==, 3);
	g_assert_nonnull(strstr(out, "HTTP 503"));
	g_clear_pointer(&out, g_free);
	/* a rate limit or a timeout passes (ask again); another 4xx is a refusal */
	{
		const struct {
			const gchar *control;
			gint exit;
		} answers[] = {{"{\"fail_status\": 429}", 3},
			       {"{\"fail_status\": 408}", 3},
			       {"{\"fail_status\": 403}", 2}};
		for (guint i = 0; i < G_N_ELEMENTS(answers); i++) {
			est_server_control(s, answers[i].control);
			g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root,
						"--username", "alice", "--password-file",
						s->password_file, NULL),
					==, answers[i].exit);
			g_clear_pointer(&out, g_free);
		}
	}
	/* bodies that are not what RFC 7030 says: unreachable, with a clear message */
	for (guint i = 0; garbage[i] != NULL; i++) {
		est_server_control(s, garbage[i]);
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username",
					"alice", "--password-file", s->password_file, NULL),
				==, 3);
		g_assert_nonnull(strstr(out, "cannot be used"));
		g_assert_nonnull(strstr(out, "PKCS#7"));
		g_clear_pointer(&out, g_free);
	}
	/* a server slower than --timeout */
	est_server_control(s, "{\"delay\": 3}");
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username", "alice",
				"--password-file", s->password_file, "--timeout", "1", NULL),
			==, 3);
	g_assert_nonnull(strstr(out, s->url));
	g_clear_pointer(&out, g_free);
	/* a server nobody listens on */
	est_server_control(s, "{}");
	g_assert_cmpint(est_run("https://127.0.0.1:1", env, &out, NULL, "--trust", s->root, NULL),
			==, 3);
	g_assert_nonnull(strstr(out, "127.0.0.1:1"));
}

static void
test_est_cacerts_trust(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *bootstrap_ca = NULL;
	g_auto(GStrv) sections = NULL;
	const gchar *env[] = {"CERTMONGER_OPERATION=FETCH-ROOTS", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 0);
	/* certmonger's format: the root with its nickname, other roots, other certificates */
	sections = g_strsplit(out, "-----END CERTIFICATE-----\n", -1);
	g_assert_cmpuint(g_strv_length(sections), ==, 3);
	g_assert_true(g_str_has_prefix(sections[0], "EST Test Root CA\n-----BEGIN CERTIFICATE"));
	/* a blank line, no other roots, a blank line, the issuing CA */
	g_assert_true(g_str_has_prefix(sections[1], "\n\nEST Test Issuing CA\n-----BEGIN"));
	g_assert_cmpstr(sections[2], ==, "");
	g_clear_pointer(&out, g_free);
	/* the wrong anchor: the server cannot be trusted */
	bootstrap_ca = est_server_ca_file(s, "bootstrap-ca.pem");
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", bootstrap_ca, NULL), ==, 3);
	g_assert_nonnull(strstr(out, "cannot be trusted"));
	g_clear_pointer(&out, g_free);
	/* no anchor at all: the system's store does not know the test CA either */
	g_assert_cmpint(est_run(s->url, env, &out, &err, NULL), ==, 3);
	g_assert_nonnull(strstr(out, "cannot be trusted"));
}

static void
test_est_cacerts_pin(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *fp = NULL, *wrong = NULL, *state = NULL;
	g_autofree gchar *pinned = NULL, *stored = NULL, *server_fp = NULL, *server = NULL;
	g_autofree gchar *ca = NULL, *root_pem = NULL, *ca_pem = NULL;
	const gchar *env[] = {"CERTMONGER_OPERATION=FETCH-ROOTS", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	state = est_path(s, "state");
	pinned = g_build_filename(state, "cacerts.pem", NULL);
	fp = est_openssl_x509(s->root, "fingerprint");
	/* "SHA1 Fingerprint=..." by default: ask for SHA-256 */
	{
		const gchar *argv[] = {"openssl", "x509",         "-in",     s->root,
				       "-noout",  "-fingerprint", "-sha256", NULL};
		g_clear_pointer(&fp, g_free);
		g_assert_cmpint(ck_test_run(argv, &fp, NULL), ==, 0);
		g_strstrip(fp);
		memmove(fp, strchr(fp, '=') + 1, strlen(strchr(fp, '=')));
	}
	/* a wrong pin: refused, nothing stored, and the message shows what the server showed */
	wrong = g_strdup(fp);
	wrong[0] = wrong[0] == 'A' ? 'B' : 'A';
	g_assert_cmpint(
	    est_run(s->url, env, &out, NULL, "--pin-sha256", wrong, "--state-dir", state, NULL), ==,
	    4);
	g_assert_nonnull(strstr(out, "do not match --pin-sha256"));
	g_assert_nonnull(strstr(out, fp));
	g_assert_false(g_file_test(pinned, G_FILE_TEST_EXISTS));
	g_clear_pointer(&out, g_free);
	/* a pin without a place to keep what it pins */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--pin-sha256", fp, NULL), ==, 4);
	g_assert_nonnull(strstr(out, "--state-dir"));
	g_clear_pointer(&out, g_free);
	/* the right pin (the root's): accepted, and the CA certificates are the anchors now */
	g_assert_cmpint(
	    est_run(s->url, env, &out, &err, "--pin-sha256", fp, "--state-dir", state, NULL), ==,
	    0);
	g_assert_true(g_str_has_prefix(out, "EST Test Root CA\n"));
	g_assert_true(g_file_get_contents(pinned, &stored, NULL, NULL));
	ca = est_server_ca_file(s, "ca.pem");
	g_assert_true(g_file_get_contents(ca, &ca_pem, NULL, NULL));
	g_assert_true(g_file_get_contents(s->root, &root_pem, NULL, NULL));
	g_assert_nonnull(strstr(stored, ca_pem));
	g_assert_nonnull(strstr(stored, root_pem));
	g_clear_pointer(&out, g_free);
	/* later runs verify against them, the pin is not needed any more */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--state-dir", state, NULL), ==, 0);
	g_clear_pointer(&out, g_free);
	/* and the stored anchors win over a pin that no longer matches */
	g_assert_cmpint(
	    est_run(s->url, env, &out, NULL, "--pin-sha256", wrong, "--state-dir", state, NULL), ==,
	    0);
	g_clear_pointer(&out, g_free);
	/* the server certificate's own fingerprint pins too */
	g_assert_cmpint(g_unlink(pinned), ==, 0);
	server = est_server_ca_file(s, "server.pem");
	{
		const gchar *argv[] = {"openssl", "x509",         "-in",     server,
				       "-noout",  "-fingerprint", "-sha256", NULL};
		g_assert_cmpint(ck_test_run(argv, &server_fp, NULL), ==, 0);
	}
	g_strstrip(server_fp);
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--pin-sha256", strchr(server_fp, '=') + 1,
				"--state-dir", state, NULL),
			==, 0);
	g_assert_true(g_file_test(pinned, G_FILE_TEST_EXISTS));
}

static void
test_est_label(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *out = NULL;
	const gchar *extra[] = {"--label", "devices", NULL};
	const gchar *fetch[] = {"CERTMONGER_OPERATION=FETCH-ROOTS", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(extra);
	g_assert_cmpint(
	    est_run(s->url, fetch, &out, NULL, "--trust", s->root, "--label", "devices", NULL), ==,
	    0);
	est_server_assert_last(s, "cacerts", 200, "none", "devices");
	g_clear_pointer(&out, g_free);
	/* a label the server does not know */
	g_assert_cmpint(
	    est_run(s->url, fetch, &out, NULL, "--trust", s->root, "--label", "nosuch", NULL), ==,
	    3);
	g_assert_nonnull(strstr(out, "HTTP 404"));
	g_clear_pointer(&out, g_free);
	/* a request's profile (getcert -T) is the label it enrolls under */
	{
		g_autofree gchar *csr = est_make_csr(s, "labelled.example");
		g_autofree gchar *csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env,
				      "CERTMONGER_CA_PROFILE=devices", NULL};
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--label",
					"nosuch", "--username", "alice", "--password-file",
					s->password_file, NULL),
				==, 0);
		est_server_assert_last(s, "simpleenroll", 200, "basic:alice", "devices");
	}
	g_clear_pointer(&out, g_free);
	/* IDENTIFY names the service */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=IDENTIFY", NULL};
		g_autofree gchar *want =
		    g_strdup_printf("EST %s/.well-known/est/devices\n", s->url);
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--label", "devices", NULL), ==,
				0);
		g_assert_cmpstr(out, ==, want);
	}
}

static void
test_est_csrattrs_server(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *out = NULL, *err = NULL;
	const gchar *extra[] = {"--csrattr", "1.2.840.113549.1.9.7",
				"--csrattr", "1.2.840.10045.2.1=1.3.132.0.34",
				"--csrattr", "2.5.4.3",
				"--csrattr", "1.2.840.113549.1.9.14=2.5.29.17",
				NULL};
	const gchar *env[] = {"CERTMONGER_OPERATION=GET-NEW-REQUEST-REQUIREMENTS", NULL};
	const gchar *renew[] = {"CERTMONGER_OPERATION=GET-RENEW-REQUEST-REQUIREMENTS", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(extra);
	g_assert_cmpint(est_run(s->url, env, &out, &err, "--trust", s->root, NULL), ==, 0);
	g_assert_cmpstr(out, ==,
			"CERTMONGER_CSR\nCERTMONGER_REQ_SUBJECT\nCERTMONGER_REQ_HOSTNAME\n");
	g_assert_nonnull(strstr(err, "challengePassword"));
	g_assert_nonnull(strstr(err, "ec-p384"));
	est_server_assert_last(s, "csrattrs", 200, "none", NULL);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(est_run(s->url, renew, &out, &err, "--trust", s->root, NULL), ==, 0);
	g_assert_nonnull(strstr(out, "CERTMONGER_REQ_HOSTNAME\n"));
	g_clear_pointer(&out, g_free);
	/* garbage there is a server that cannot answer */
	est_server_control(s, "{\"garbage\": \"base64\", \"fault_ops\": \"csrattrs\"}");
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 3);
	g_assert_nonnull(strstr(out, "CsrAttrs"));
}

static void
test_est_csrattrs_none(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *out = NULL;
	const gchar *env[] = {"CERTMONGER_OPERATION=GET-NEW-REQUEST-REQUIREMENTS", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	/* 204: nothing asked for but the CSR */
	g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 0);
	g_assert_cmpstr(out, ==, "CERTMONGER_CSR\n");
	est_server_assert_last(s, "csrattrs", 204, "none", NULL);
}

static void
test_est_unsupported(void)
{
	const gchar *ops[] = {"GET-SUPPORTED-TEMPLATES", "GET-DEFAULT-TEMPLATE",
			      "FETCH-SCEP-CA-CAPS", "SOMETHING-NEW", NULL};
	/* no server needed: these never connect */
	const gchar *url = "https://127.0.0.1:1";

	for (guint i = 0; ops[i] != NULL; i++) {
		g_autofree gchar *op = g_strdup_printf("CERTMONGER_OPERATION=%s", ops[i]);
		const gchar *env[] = {op, NULL};
		g_assert_cmpint(est_run(url, env, NULL, NULL, NULL), ==, 6);
	}
	/* a broken command line, or no CSR to submit, is underconfigured */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", NULL};
		g_autofree gchar *out = NULL;
		g_assert_cmpint(est_run(url, env, NULL, NULL, "--timeout", "soon", NULL), ==, 4);
		g_assert_cmpint(est_run(url, env, &out, NULL, "--trust", "/dev/null", NULL), ==, 4);
		g_assert_nonnull(strstr(out, "CERTMONGER_CSR"));
	}
	/* and an http:// URL too: EST is TLS only */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=FETCH-ROOTS", NULL};
		g_autofree gchar *out = NULL;
		g_assert_cmpint(est_run("http://127.0.0.1:1", env, &out, NULL, NULL), ==, 4);
		g_assert_nonnull(strstr(out, "https://"));
	}
}

/* Through the real daemon */

static gchar *
est_cli_status(CkTestDaemon *td, const gchar *id, const gchar *member)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *obj;

	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "--json", "-i", id, NULL), >=, 0);
	g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
	obj = json_node_get_object(json_parser_get_root(parser));
	return g_strdup(json_object_get_string_member_with_default(obj, member, ""));
}

static void
test_est_daemon(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *helper = NULL, *config = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *state = NULL, *issuer = NULL, *serial1 = NULL, *serial2 = NULL;
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *last;

	if (!est_have_tools())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	s = est_server_start(NULL);
	helper = g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon", "helpers",
				  "certkeeper-est", NULL);
	/* "est" has a password and is configured by its settings (Type=est: the daemon
	 * builds the command); "estdevice" is the same helper by its command line, with
	 * only what the daemon hands it (bootstrap identities) */
	config = g_strdup_printf(
	    "[certkeeperd]\nHelperDirectory=%s/daemon/helpers\n"
	    "[ca est]\nType=est\nURL=%s\nTrust=%s\nUsername=alice\nPasswordFile=%s\nTimeout=60\n"
	    "[ca estdevice]\nType=helper\nHelper=%s --url %s --trust %s\n",
	    g_getenv("CK_TOP_BUILDDIR"), s->url, s->root, s->password_file, helper, s->url,
	    s->root);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "est.crt");
	key = ck_test_daemon_path(td, "est.key");

	/* first enrollment: HTTP Basic */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "estreq", "-f",
				    cert, "-k", key, "-N", "CN=estreq.example", "-D",
				    "estreq.example", "-c", "est", "-w", "--wait-timeout=60", NULL),
			==, 0);
	state = est_cli_status(td, "estreq", "State");
	g_assert_cmpstr(state, ==, "MONITORING");
	issuer = est_openssl_x509(cert, "issuer");
	g_assert_cmpstr(issuer, ==, "issuer=O = certkeeper tests, CN = EST Test Issuing CA\n");
	est_server_assert_last(s, "simpleenroll", 200, "basic:alice", NULL);
	serial1 = est_openssl_x509(cert, "serial");

	/* renewal: simplereenroll, authenticated by the current certificate */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "estreq", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	g_clear_pointer(&state, g_free);
	state = est_cli_status(td, "estreq", "State");
	g_assert_cmpstr(state, ==, "MONITORING");
	serial2 = est_openssl_x509(cert, "serial");
	g_assert_cmpstr(serial1, !=, serial2);
	last = est_server_last(s, "simplereenroll", &parser);
	g_assert_nonnull(last);
	g_assert_cmpint(json_object_get_int_member(last, "status"), ==, 200);
	g_assert_cmpstr(json_object_get_string_member(last, "auth"), ==, "certificate");
	g_assert_cmpstr(json_object_get_string_member(last, "client_subject"), ==,
			"CN=estreq.example");
	est_assert_issued(s, cert, "estreq.example", key);

	/* a CA that says 202 first: CA_WORKING, a POLL after Retry-After, then MONITORING */
	est_server_control(s, "{\"retry_count\": 1, \"retry_after\": 1}");
	g_assert_cmpuint(est_server_count(s, "simpleenroll", 202), ==, 0);
	{
		g_autofree gchar *cert2 = ck_test_daemon_path(td, "later.crt");
		g_autofree gchar *key2 = ck_test_daemon_path(td, "later.key");
		g_autofree gchar *state2 = NULL;
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I",
					    "estlater", "-f", cert2, "-k", key2, "-N",
					    "CN=estlater.example", "-c", "est", "-w",
					    "--wait-timeout=60", NULL),
				==, 0);
		state2 = est_cli_status(td, "estlater", "State");
		g_assert_cmpstr(state2, ==, "MONITORING");
		g_assert_cmpuint(est_server_count(s, "simpleenroll", 202), ==, 1);
		est_server_assert_last(s, "simpleenroll", 200, "basic:alice", NULL);
		est_assert_issued(s, cert2, "estlater.example", key2);
	}

	/* a device's first enrollment with its bootstrap identity (CERTKEEPER_AUTH_IDENTITY) */
	est_server_control(s, "{}");
	{
		g_autofree gchar *cert3 = ck_test_daemon_path(td, "device.crt");
		g_autofree gchar *key3 = ck_test_daemon_path(td, "device.key");
		g_autofree gchar *bcert = est_server_ca_file(s, "bootstrap.pem");
		g_autofree gchar *bkey = est_server_ca_file(s, "bootstrap.key");
		g_autofree gchar *state3 = NULL;
		g_autoptr(JsonParser) p3 = NULL;
		JsonObject *rec;
		g_assert_cmpint(g_chmod(bkey, 0600), ==, 0);
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "estdev",
					    "-f", cert3, "-k", key3, "-N", "CN=estdev.example",
					    "-c", "estdevice", "--bootstrap-cert", bcert,
					    "--bootstrap-key", bkey, "-w", "--wait-timeout=60",
					    NULL),
				==, 0);
		state3 = est_cli_status(td, "estdev", "State");
		g_assert_cmpstr(state3, ==, "MONITORING");
		rec = est_server_last(s, "simpleenroll", &p3);
		g_assert_nonnull(rec);
		g_assert_cmpint(json_object_get_int_member(rec, "status"), ==, 200);
		g_assert_cmpstr(json_object_get_string_member(rec, "auth"), ==, "bootstrap");
		g_assert_cmpstr(json_object_get_string_member(rec, "client_subject"), ==,
				"CN=bootstrap device 0001");
		est_assert_issued(s, cert3, "estdev.example", key3);
	}
}

/* CERTKEEPER-GET-PROOF-NONCE, and a SUBMIT whose identity is an attestation proof. */
static void
test_est_proof_helper(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(EstServer) plain = NULL;
	g_autofree gchar *out = NULL, *err = NULL, *csr = NULL, *csr_env = NULL;
	g_autofree gchar *nonce_env = NULL;
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *rec;
	const gchar *nonce_op[] = {"CERTMONGER_OPERATION=CERTKEEPER-GET-PROOF-NONCE", NULL};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	/* a nonce: one line, as the server made it */
	g_assert_cmpint(est_run(s->url, nonce_op, &out, NULL, "--trust", s->root, NULL), ==, 0);
	g_strstrip(out);
	rec = est_server_last(s, "certkeeper-proof-nonce", &parser);
	g_assert_nonnull(rec);
	g_assert_cmpint(json_object_get_int_member(rec, "status"), ==, 200);
	g_assert_cmpstr(json_object_get_string_member(rec, "nonce"), ==, out);
	g_assert_cmpuint(strlen(out), >=, 32);

	/* a proof without its signature is incomplete: nothing is sent */
	csr = est_make_csr(s, "prover.example");
	csr_env = g_strdup_printf("CERTMONGER_CSR=%s", csr);
	nonce_env = g_strdup_printf("CERTKEEPER_PROOF_NONCE=%s", out);
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env,
				      "CERTKEEPER_AUTH_IDENTITY=proof", nonce_env, NULL};
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username",
					"alice", "--password-file", s->password_file, NULL),
				==, 4);
		g_assert_nonnull(strstr(out, "CERTKEEPER_PROOF_SIGNATURE"));
		g_assert_cmpuint(est_server_count(s, "simpleenroll", 200), ==, 0);
	}
	/* a proof for a subject nothing was registered for: refused, and not by Basic
	 * (which the helper does not send along with a proof) */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT",
				      csr_env,
				      "CERTKEEPER_AUTH_IDENTITY=proof",
				      nonce_env,
				      "CERTKEEPER_PROOF_SIGNATURE=c2lnbmF0dXJl",
				      "CERTKEEPER_PROOF_ALGORITHM=ECDSA-SHA256",
				      NULL};
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, "--username",
					"alice", "--password-file", s->password_file, NULL),
				==, 2);
		g_test_message("%s", out);
		g_assert_nonnull(strstr(out, "no proof key is registered for CN=prover.example"));
		/* the nonce was used up by that attempt: the same one again is a replay */
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(est_run(s->url, env, &out, NULL, "--trust", s->root, NULL), ==, 2);
		g_assert_nonnull(strstr(out, "used before"));
	}
	/* a server without the extension: the step is unsupported (exit 6) */
	{
		const gchar *extra[] = {"--no-proof", NULL};
		plain = est_server_start(extra);
		g_clear_pointer(&out, g_free);
		g_assert_cmpint(
		    est_run(plain->url, nonce_op, &out, &err, "--trust", plain->root, NULL), ==, 6);
		g_assert_nonnull(strstr(err, "takes no attestation proofs"));
	}
}
/* A TPM device */

#if CK_HAVE_TPM

static gint
est_run_with_tpm(CkTestSwtpm *tpm, const gchar *const *argv, gchar **out, gchar **err)
{
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GError) error = NULL;
	gint status = -1;

	env = g_environ_setenv(env, "TPM2OPENSSL_TCTI", tpm->tcti, TRUE);
	env = g_environ_setenv(env, "TSS2_LOG", "all+none", TRUE);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, out,
				   err, &status, &error));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The certificate holds the public key of the TPM key @key. */
static void
est_assert_tpm_key(CkTestSwtpm *tpm, const gchar *cert, const gchar *key)
{
	const gchar *pub_key[] = {"openssl", "pkey", "-provider", "tpm2", "-provider", "default",
				  "-in", key, "-pubout", NULL};
	const gchar *pub_cert[] = {"openssl", "x509", "-in", cert, "-noout", "-pubkey", NULL};
	g_autofree gchar *a = NULL, *b = NULL, *err = NULL, *pem = ck_test_read_file(key);

	g_assert_true(g_str_has_prefix(pem, "-----BEGIN TSS2 PRIVATE KEY-----"));
	g_assert_cmpint(est_run_with_tpm(tpm, pub_key, &a, &err), ==, 0);
	g_assert_cmpint(ck_test_run(pub_cert, &b, NULL), ==, 0);
	g_assert_cmpstr(a, ==, b);
}

/*
 * The whole device story, with every key in the TPM: the device's bootstrap
 * identity is a TPM key (made by OpenSSL's tpm2 provider, certified by the
 * bootstrap CA); it enrolls over EST with it, renews with its TPM-held
 * management key (TLS client authentication through the TPM), then its
 * management certificate expires while nobody looks, and it enrolls again with
 * the TPM bootstrap identity without anyone acting.
 */
static void
test_est_daemon_tpm_device(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkTestSwtpm) tpm = NULL;
	g_autoptr(JsonObject) enrolled = NULL, renewed = NULL, recovered = NULL;
	g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL;
	g_autofree gchar *helper = NULL, *config = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *bkey = NULL, *bcsr = NULL, *bcert = NULL, *ext = NULL, *offset = NULL;
	g_autofree gchar *ca_cert = NULL, *ca_key = NULL, *out = NULL, *err = NULL;
	g_autofree gchar *offset_env = NULL;
	CkTestRequestWait wait = {0};
	JsonObject *rec;

	if (!est_have_tools())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	tpm = ck_test_swtpm_new(td->dir);
	if (tpm == NULL)
		return;
	{
		const gchar *argv[] = {"openssl", "list", "-providers", "-provider", "tpm2", NULL};
		if (est_run_with_tpm(tpm, argv, &out, &err) != 0) {
			g_test_skip("OpenSSL's tpm2 provider is not installed");
			return;
		}
	}
	s = est_server_start(NULL);
	/* the bootstrap identity: a TPM key and a certificate from the bootstrap CA */
	bkey = ck_test_daemon_path(td, "bootstrap-tpm.key");
	bcsr = ck_test_daemon_path(td, "bootstrap-tpm.csr");
	bcert = ck_test_daemon_path(td, "bootstrap-tpm.pem");
	ext = ck_test_write_file(td->dir, "bootstrap.ext",
				 "basicConstraints=critical,CA:FALSE\n"
				 "keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n");
	ca_cert = est_server_ca_file(s, "bootstrap-ca.pem");
	ca_key = est_server_ca_file(s, "bootstrap-ca.key");
	{
		const gchar *genpkey[] = {"openssl",   "genpkey",    "-provider", "tpm2",
					  "-provider", "default",    "-algorithm", "EC",
					  "-pkeyopt",  "group:P-256", "-out",       bkey,
					  NULL};
		const gchar *req[] = {"openssl", "req",	    "-provider", "tpm2", "-provider",
				      "default", "-new",    "-key",	 bkey,	 "-subj",
				      "/CN=bootstrap device tpm", "-out", bcsr, NULL};
		const gchar *sign[] = {"openssl", "x509",  "-req",  "-in",	   bcsr,
				       "-CA",	  ca_cert, "-CAkey", ca_key,	   "-days",
				       "30",	  "-extfile", ext,   "-out",	   bcert,
				       NULL};
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(est_run_with_tpm(tpm, genpkey, &out, &err), ==, 0);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(est_run_with_tpm(tpm, req, &out, &err), ==, 0);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(ck_test_run(sign, &out, &err), ==, 0);
	}
	g_assert_cmpint(g_chmod(bkey, 0600), ==, 0);

	helper = g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon", "helpers",
				  "certkeeper-est", NULL);
	config = g_strdup_printf("[certkeeperd]\nTpmTcti=%s\n"
				 "[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=2s\n"
				 "MaxAttempts=100\n"
				 "[ca estdevice]\nType=helper\nHelper=%s --url %s --trust %s\n",
				 tpm->tcti, helper, s->url, s->root);
	ck_test_daemon_write_config(td, config);
	/* the daemon's clock can be moved: management certificates live a day */
	offset = ck_test_daemon_path(td, "clock-offset");
	offset_env = g_strdup_printf("CERTKEEPER_TEST_CLOCK_OFFSET_FILE=%s", offset);
	g_ptr_array_add(td->extra_env, g_strdup(offset_env));
	g_ptr_array_add(td->extra_env, g_strdup("TSS2_LOG=all+none"));
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "device.crt");
	key = ck_test_daemon_path(td, "device.key");
	est_server_control(s, "{\"days\": 1}");

	/* 1. enrollment with the TPM bootstrap identity; the new key is made in the TPM */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "tpmdev", "-f",
				    cert, "-k", key, "-N", "CN=tpmdev.example", "-c", "estdevice",
				    "--key-provider", "tpm", "--bootstrap-cert", bcert,
				    "--bootstrap-key", bkey, "--renew-before=1h", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	enrolled = ck_test_request_json(td, "tpmdev");
	g_assert_cmpstr(ck_test_json_string(enrolled, "State"), ==, "MONITORING");
	rec = est_server_last(s, "simpleenroll", &p1);
	g_assert_nonnull(rec);
	g_assert_cmpint(json_object_get_int_member(rec, "status"), ==, 200);
	g_assert_cmpstr(json_object_get_string_member(rec, "auth"), ==, "bootstrap");
	g_assert_cmpstr(json_object_get_string_member(rec, "client_subject"), ==,
			"CN=bootstrap device tpm");
	est_assert_tpm_key(tpm, cert, key);

	/* 2. a renewal authenticated by the current certificate, whose key is in the TPM */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "tpmdev", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(enrolled, "Serial")};
	renewed = ck_test_wait_request(td, "tpmdev", &wait, 60);
	rec = est_server_last(s, "simplereenroll", &p2);
	g_assert_nonnull(rec);
	g_assert_cmpint(json_object_get_int_member(rec, "status"), ==, 200);
	g_assert_cmpstr(json_object_get_string_member(rec, "auth"), ==, "certificate");
	g_assert_cmpstr(json_object_get_string_member(rec, "client_subject"), ==,
			"CN=tpmdev.example");
	est_assert_tpm_key(tpm, cert, key);

	/* 3. two days pass unseen (the device was off): the management certificate has
	 * expired; the daemon enrolls again with the TPM bootstrap identity by itself */
	est_server_control(s, "{\"days\": 90}");
	g_assert_true(g_file_set_contents(offset, "172800", -1, NULL));
	g_assert_cmpint(kill(td->daemon_pid, SIGUSR2), ==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(renewed, "Serial")};
	recovered = ck_test_wait_request(td, "tpmdev", &wait, 60);
	g_assert_cmpint(json_object_get_int_member(recovered, "FailedAttempts"), ==, 0);
	rec = est_server_last(s, "simpleenroll", &p3);
	g_assert_nonnull(rec);
	g_assert_cmpint(json_object_get_int_member(rec, "status"), ==, 200);
	g_assert_cmpstr(json_object_get_string_member(rec, "auth"), ==, "bootstrap");
	g_assert_cmpstr(json_object_get_string_member(rec, "client_subject"), ==,
			"CN=bootstrap device tpm");
	est_assert_tpm_key(tpm, cert, key);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}
#endif

/* Resilience, through the real daemon, on a compressed clock */

/*
 * The daemon configured as an administrator would (Type=est), with retries a
 * second apart: what takes hours in the field takes seconds here. @extra adds
 * more configuration.
 */
static CkTestDaemon *
est_start_daemon(EstServer *s, const gchar *extra)
{
	CkTestDaemon *td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *config = NULL;

	if (td == NULL)
		return NULL;
	config = g_strdup_printf("[certkeeperd]\nHelperDirectory=%s/daemon/helpers\n"
				 "[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=3s\n"
				 "MaxAttempts=100\n"
				 "[ca est]\nType=est\nURL=%s\nTrust=%s\nUsername=alice\n"
				 "PasswordFile=%s\nTimeout=30\n%s",
				 g_getenv("CK_TOP_BUILDDIR"), s->url, s->root, s->password_file,
				 extra != NULL ? extra : "");
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	return td;
}

/* The daemon is alive and answers on the bus. */
static void
est_assert_daemon_answers(CkTestDaemon *td)
{
	g_assert_true(ck_test_daemon_is_running(td));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "list", NULL), ==, 0);
}

/*
 * Enroll, renew by itself, lose the server in the middle of renewing (the
 * request waits as CA_UNREACHABLE, keeps its certificate and retries), get the
 * server back on the same port and CA: it recovers without anyone acting.
 */
static void
test_est_daemon_outage(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(JsonObject) first = NULL, renewed = NULL, down = NULL, again = NULL;
	g_autoptr(JsonObject) back = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *where = NULL;
	g_autofree gchar *old_cert = NULL, *old_key = NULL, *now_cert = NULL, *now_key = NULL;
	g_autofree gchar *old_serial = NULL;
	CkTestRequestWait wait = {0};

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	td = est_start_daemon(s, NULL);
	if (td == NULL)
		return;
	cert = ck_test_daemon_path(td, "auto.crt");
	key = ck_test_daemon_path(td, "auto.key");
	where = g_strdup_printf("localhost:%u", s->port);

	/* one-day certificates, renewed 5 s after they were issued */
	est_server_control(s, "{\"days\": 1}");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "estauto", "-f",
				    cert, "-k", key, "-N", "CN=estauto.example", "-D",
				    "estauto.example", "-c", "est", "--renew-before=86395s", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	first = ck_test_request_json(td, "estauto");
	g_assert_nonnull(first);
	g_assert_cmpstr(ck_test_json_string(first, "State"), ==, "MONITORING");
	g_assert_cmpint(json_object_get_int_member(first, "NotAfter") -
			    json_object_get_int_member(first, "NotBefore"),
			==, 86400);
	est_server_assert_last(s, "simpleenroll", 200, "basic:alice", NULL);

	/* 1. the renewal comes by itself: simplereenroll with the current certificate */
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	renewed = ck_test_wait_request(td, "estauto", &wait, 30);
	est_server_assert_last(s, "simplereenroll", 200, "certificate", NULL);
	est_assert_issued(s, cert, "estauto.example", key);

	/* 2. the server goes away: the next renewal cannot reach it */
	est_server_kill(s);
	wait = (CkTestRequestWait){.state = "CA_UNREACHABLE", .error_part = where};
	down = ck_test_wait_request(td, "estauto", &wait, 30);
	g_test_message("while the server is away: %s", ck_test_json_string(down, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(down, "LastError"), "CA 'est'"));
	g_assert_cmpint(json_object_get_int_member(down, "NextAttempt"), >, 0);
	g_assert_cmpint(json_object_get_int_member(down, "FailedAttempts"), >=, 1);
	old_serial = g_strdup(ck_test_json_string(down, "Serial"));
	g_assert_cmpstr(old_serial, !=, ck_test_json_string(first, "Serial"));
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	/* it keeps trying, and keeps what is installed */
	wait = (CkTestRequestWait){.state = "CA_UNREACHABLE",
				   .error_part = where,
				   .min_failed =
				       json_object_get_int_member(down, "FailedAttempts") + 1};
	again = ck_test_wait_request(td, "estauto", &wait, 20);
	g_assert_cmpint(json_object_get_int_member(again, "NextAttempt"), >, 0);
	g_assert_cmpstr(ck_test_json_string(again, "Serial"), ==, old_serial);
	now_cert = ck_test_read_file(cert);
	now_key = ck_test_read_file(key);
	g_assert_cmpstr(now_cert, ==, old_cert);
	g_assert_cmpstr(now_key, ==, old_key);
	est_assert_issued(s, cert, "estauto.example", key);
	est_assert_daemon_answers(td);

	/* 3. the same CA is back on the same port: recovery without anyone acting; the
	 * new certificates live 90 days, so renewing stops here */
	est_server_control(s, "{\"days\": 90}");
	est_server_restart(s);
	wait = (CkTestRequestWait){.state = "MONITORING", .not_serial = old_serial};
	back = ck_test_wait_request(td, "estauto", &wait, 30);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	g_clear_pointer(&now_cert, g_free);
	now_cert = ck_test_read_file(cert);
	g_assert_cmpstr(now_cert, !=, old_cert);
	est_assert_issued(s, cert, "estauto.example", key);
	est_server_assert_last(s, "simplereenroll", 200, "certificate", NULL);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/*
 * Refusals (a wrong password, a renewal for another subject) end in CA_REJECTED
 * with the server's words; broken answers (garbage, a 5xx, an HTML page, a body of
 * megabytes, a cut-off body) are retried as CA_UNREACHABLE with a message that
 * says what was wrong. The daemon keeps running and the installed certificate
 * stays, and once the server behaves the request recovers by itself.
 */
static void
test_est_daemon_refusals_and_garbage(void)
{
	static const struct {
		const gchar *control;
		const gchar *says;
	} broken[] = {
	    {"{\"garbage\": \"base64\"}", "the body is not a DER PKCS#7 message"},
	    {"{\"garbage\": \"empty\"}", "the body is empty"},
	    {"{\"fail_status\": 500}", "HTTP 500: simulated failure"},
	    /* a proxy's error page: the wrong type, and no base64 */
	    {"{\"garbage\": \"text\", \"content_type\": \"text/html\"}", "the body is not base64"},
	    {"{\"huge_body\": 8}", "is larger than the limit of 4194304 bytes"},
	    {"{\"truncate\": true}", "the body is shorter than announced"},
	};
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(JsonObject) refused = NULL, rejected = NULL, fixed = NULL, back = NULL;
	g_autoptr(JsonObject) lenient = NULL;
	g_autofree gchar *wrong = NULL, *extra = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *bad_cert = NULL, *bad_key = NULL, *old_cert = NULL, *old_key = NULL;
	g_autofree gchar *old_serial = NULL, *log = NULL;
	CkTestRequestWait wait = {0};
	gint64 failed = 0;

	if (!est_have_tools())
		return;
	s = est_server_start(NULL);
	wrong = ck_test_write_file(s->dir, "wrong-password", "not-the-secret\n");
	extra = g_strdup_printf("[ca estwrong]\nType=est\nURL=%s\nTrust=%s\nUsername=alice\n"
				"PasswordFile=%s\n",
				s->url, s->root, wrong);
	td = est_start_daemon(s, extra);
	if (td == NULL)
		return;
	cert = ck_test_daemon_path(td, "ok.crt");
	key = ck_test_daemon_path(td, "ok.key");
	bad_cert = ck_test_daemon_path(td, "bad.crt");
	bad_key = ck_test_daemon_path(td, "bad.key");

	/* a failing Basic password: rejected, in the server's words */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "estbad", "-f",
				    bad_cert, "-k", bad_key, "-N", "CN=estbad.example", "-c",
				    "estwrong", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "CA_REJECTED",
				   .error_part = "wrong user name or password"};
	refused = ck_test_wait_request(td, "estbad", &wait, 30);
	g_test_message("wrong password: %s", ck_test_json_string(refused, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(refused, "LastError"), "401"));
	g_assert_nonnull(
	    strstr(ck_test_json_string(refused, "LastError"), "CA 'estwrong' rejected"));
	g_assert_false(g_file_test(bad_cert, G_FILE_TEST_EXISTS));
	g_assert_cmpuint(est_server_count(s, "simpleenroll", 401), ==, 1);

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "estok", "-f",
				    cert, "-k", key, "-N", "CN=estok.example", "-D",
				    "estok.example", "-c", "est", "-w", "--wait-timeout=60", NULL),
			==, 0);
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	{
		g_autoptr(JsonObject) ok = ck_test_request_json(td, "estok");
		g_assert_cmpstr(ck_test_json_string(ok, "State"), ==, "MONITORING");
		old_serial = g_strdup(ck_test_json_string(ok, "Serial"));
	}

	/* a renewal for another subject: simplereenroll refuses it (RFC 7030 §4.2.2) */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "estok", "-N",
				    "CN=other.example", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "CA_REJECTED",
				   .error_part = "differ from the certificate being renewed"};
	rejected = ck_test_wait_request(td, "estok", &wait, 30);
	g_test_message("other subject: %s", ck_test_json_string(rejected, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(rejected, "LastError"), "403"));
	g_assert_cmpstr(ck_test_json_string(rejected, "Serial"), ==, old_serial);
	g_assert_cmpuint(est_server_count(s, "simplereenroll", 403), ==, 1);
	{
		g_autofree gchar *c = ck_test_read_file(cert), *k = ck_test_read_file(key);
		g_assert_cmpstr(c, ==, old_cert);
		g_assert_cmpstr(k, ==, old_key);
	}
	est_assert_issued(s, cert, "estok.example", key);
	/* a rejected request stays put: no retries behind the administrator's back */
	g_usleep(3 * G_USEC_PER_SEC);
	g_assert_cmpuint(est_server_count(s, "simplereenroll", 403), ==, 1);

	/* the administrator puts the subject back */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "estok", "-N",
				    "CN=estok.example", "-w", "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING", .not_serial = old_serial};
	fixed = ck_test_wait_request(td, "estok", &wait, 5);
	est_assert_issued(s, cert, "estok.example", key);
	g_clear_pointer(&old_cert, g_free);
	g_clear_pointer(&old_key, g_free);
	g_clear_pointer(&old_serial, g_free);
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	old_serial = g_strdup(ck_test_json_string(fixed, "Serial"));

	/* broken answers, one after the other, to the same renewal's retries */
	est_server_control(s, broken[0].control);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "estok", NULL),
			==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(broken); i++) {
		g_autoptr(JsonObject) now = NULL;
		g_autofree gchar *c = NULL, *k = NULL;
		if (i > 0)
			est_server_control(s, broken[i].control);
		wait = (CkTestRequestWait){.state = "CA_UNREACHABLE",
					   .error_part = broken[i].says,
					   .min_failed = failed + 1};
		now = ck_test_wait_request(td, "estok", &wait, 30);
		g_test_message("%s: %s", broken[i].control, ck_test_json_string(now, "LastError"));
		g_assert_nonnull(
		    strstr(ck_test_json_string(now, "LastError"), "CA 'est' is unreachable"));
		g_assert_cmpint(json_object_get_int_member(now, "NextAttempt"), >, 0);
		g_assert_cmpstr(ck_test_json_string(now, "Serial"), ==, old_serial);
		failed = json_object_get_int_member(now, "FailedAttempts");
		c = ck_test_read_file(cert);
		k = ck_test_read_file(key);
		g_assert_cmpstr(c, ==, old_cert);
		g_assert_cmpstr(k, ==, old_key);
		est_assert_daemon_answers(td);
	}
	est_assert_issued(s, cert, "estok.example", key);
	g_assert_cmpuint(est_server_count(s, "simplereenroll", 500), >=, 1);

	/* the server behaves again: the next retry gets the certificate, nobody acts */
	est_server_control(s, "{}");
	wait = (CkTestRequestWait){.state = "MONITORING", .not_serial = old_serial};
	back = ck_test_wait_request(td, "estok", &wait, 30);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	est_assert_issued(s, cert, "estok.example", key);
	est_server_assert_last(s, "simplereenroll", 200, "certificate", NULL);

	/* a wrong Content-Type on a good answer is noted and the answer used (servers
	 * differ in what they call PKCS#7) */
	est_server_control(s, "{\"content_type\": \"text/plain\"}");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "estok", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(back, "Serial")};
	lenient = ck_test_wait_request(td, "estok", &wait, 5);
	est_assert_issued(s, cert, "estok.example", key);
	log = ck_test_read_file(td->daemon_log);
	g_assert_nonnull(strstr(log, "answered with Content-Type 'text/plain', not "
				     "application/pkcs7-mime; reading it anyway"));
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* Under certmonger itself (its private socket, no bus): add-ca -e, request, resubmit. */
static void
test_est_certmonger(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autofree gchar *helper = NULL, *script = NULL, *script_path = NULL, *out = NULL;
	g_autofree gchar *cm = NULL, *cert = NULL, *key = NULL, *sock = NULL;
	g_autofree gchar *e1 = NULL, *e2 = NULL, *e3 = NULL, *e4 = NULL, *e5 = NULL;
	const gchar *dirs[] = {"requests", "cas", "tmp", "config", "localca", NULL};
	g_autoptr(GError) error = NULL;
	gint status = -1;

	if (!est_have_tools())
		return;
	if (!ck_test_have_program("certmonger") || !ck_test_have_program("getcert")) {
		g_test_skip("certmonger is not installed");
		return;
	}
	s = est_server_start(NULL);
	helper = g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon", "helpers",
				  "certkeeper-est", NULL);
	cm = est_path(s, "cm");
	for (guint i = 0; dirs[i] != NULL; i++) {
		g_autofree gchar *d = g_build_filename(cm, dirs[i], NULL);
		g_assert_cmpint(g_mkdir_with_parents(d, 0700), ==, 0);
	}
	cert = g_build_filename(cm, "cert.pem", NULL);
	key = g_build_filename(cm, "key.pem", NULL);
	sock = g_build_filename(cm, "cm.sock", NULL);
	/* certmonger runs -c's command with its own environment: everything inline */
	script = g_strdup_printf(
	    "set -e\n"
	    "getcert add-ca -c EST -e '%s --url %s --trust %s --username alice --password-file "
	    "%s'\n"
	    "getcert request -c EST -I cmreq -f %s -k %s -N CN=cm.example -D cm.example -w\n"
	    "getcert resubmit -i cmreq -w\n"
	    "getcert list -i cmreq\n",
	    helper, s->url, s->root, s->password_file, cert, key);
	script_path = ck_test_write_file(cm, "run.sh", script);
	e1 = g_strdup_printf("CERTMONGER_REQUESTS_DIR=%s/requests", cm);
	e2 = g_strdup_printf("CERTMONGER_CAS_DIR=%s/cas", cm);
	e3 = g_strdup_printf("CERTMONGER_TMPDIR=%s/tmp", cm);
	e4 = g_strdup_printf("CERTMONGER_CONFIG_DIR=%s/config", cm);
	e5 = g_strdup_printf("CERTMONGER_LOCAL_CA_DIR=%s/localca", cm);
	{
		g_autofree gchar *path = g_strdup_printf("PATH=%s", g_getenv("PATH"));
		g_autofree gchar *command = g_strdup_printf("sh %s", script_path);
		const gchar *envp[] = {path, "LANG=C.UTF-8", e1, e2, e3, e4, e5, NULL};
		const gchar *argv[] = {"timeout", "120", "certmonger", "-n",    "-L",
				       "-P",      sock,  "-c",         command, NULL};
		g_autofree gchar *err = NULL;
		g_assert_true(g_spawn_sync(NULL, (gchar **)argv, (gchar **)envp,
					   G_SPAWN_SEARCH_PATH, NULL, NULL, &out, &err, &status,
					   &error));
		g_assert_no_error(error);
		g_test_message("certmonger: %s\n%s", out, err);
	}
	g_assert_true(WIFEXITED(status));
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_nonnull(strstr(out, "status: MONITORING"));
	g_assert_nonnull(strstr(out, "issuer: CN=EST Test Issuing CA,O=certkeeper tests"));
	est_assert_issued(s, cert, "cm.example", key);
	/* certmonger asked for the requirements and the roots, and enrolled twice with Basic:
	 * it cannot hand a helper the current key, so its renewals are simpleenrolls */
	g_assert_cmpuint(est_server_count(s, "csrattrs", 204), >=, 1);
	g_assert_cmpuint(est_server_count(s, "cacerts", 200), >=, 1);
	g_assert_cmpuint(est_server_count(s, "simpleenroll", 200), ==, 2);
	g_assert_cmpuint(est_server_count(s, "simplereenroll", 200), ==, 0);
	est_server_assert_last(s, "simpleenroll", 200, "basic:alice", NULL);
}

/*
 * The device story over EST (seed 001 user story 2): enrolled with HTTP Basic
 * and a proof key; offline until its certificate expired, with no bootstrap
 * identity: it renews through the attestation proof without anyone acting. A
 * swapped proof key, and one never registered, end in NEED_GUIDANCE saying why.
 */
static void
test_est_daemon_proof(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(JsonObject) enrolled = NULL, recovered = NULL, swapped = NULL, late = NULL;
	g_autoptr(JsonParser) parser = NULL;
	g_autofree gchar *proof_key = NULL, *swap_key = NULL, *late_key = NULL;
	const gchar *names[] = {"estproof", "estswap", "estlate"};
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	CkTestRequestWait wait = {0};
	JsonObject *rec;

	if (!est_have_tools() || !ck_test_have_program("certtool"))
		return;
	s = est_server_start(NULL);
	td = est_start_daemon(s, NULL);
	if (td == NULL)
		return;
	proof_key = ck_test_daemon_path(td, "proof.key");
	swap_key = ck_test_daemon_path(td, "swap.key");
	late_key = ck_test_daemon_path(td, "late.key");
	/* a P-384 proof key: its proof is signed, and verified, with ECDSA-SHA384 */
	{
		const gchar *argv[] = {"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
				       "ec_paramgen_curve:P-384", "-out", proof_key, NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
		g_assert_cmpint(g_chmod(proof_key, 0600), ==, 0);
	}
	ck_test_make_ec_key(swap_key);
	ck_test_make_ec_key(late_key);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", td->dir, names[i]);
		g_autofree gchar *key = g_strdup_printf("%s/%s.key", td->dir, names[i]);
		g_autofree gchar *subject = g_strdup_printf("CN=%s.example", names[i]);
		g_autofree gchar *dns = g_strdup_printf("%s.example", names[i]);
		/* the last one enrolls without a proof key */
		const gchar *with = i == 0 ? proof_key : i == 1 ? swap_key : NULL;
		g_autofree gchar *proof_option =
		    with != NULL ? g_strdup_printf("--proof-key=%s", with) : g_strdup("-w");
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", names[i],
					    "-f", cert, "-k", key, "-N", subject, "-D", dns, "-c",
					    "est", proof_option, "-w", "--wait-timeout=60", NULL),
				==, 0);
		g_clear_pointer(&parser, g_object_unref);
		rec = est_server_last(s, "simpleenroll", &parser);
		g_assert_nonnull(rec);
		g_assert_cmpstr(json_object_get_string_member(rec, "auth"), ==, "basic:alice");
		/* the server registered the proof key with the first enrollment */
		g_assert_cmpint(json_object_get_boolean_member_with_default(
				    rec, "proof_key_registered", FALSE),
				==, with != NULL);
	}
	enrolled = ck_test_request_json(td, "estproof");
	/* a proof key added later was never registered */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "-i", "estlate",
				    "--proof-key", late_key, NULL),
			==, 0);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	/* offline too long: every certificate expired; and estswap's proof key was replaced */
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", td->dir, names[i]);
		g_autofree gchar *key = g_strdup_printf("%s/%s.key", td->dir, names[i]);
		g_autofree gchar *cn = g_strdup_printf("%s.example", names[i]);
		ck_test_make_self_signed(cn, now - 40 * 86400, now - 86400, key, cert);
	}
	g_assert_cmpint(g_unlink(swap_key), ==, 0);
	ck_test_make_ec_key(swap_key);
	ck_test_daemon_start(td);

	wait.state = "MONITORING";
	wait.not_serial = ck_test_json_string(enrolled, "Serial");
	for (gint64 deadline = g_get_monotonic_time() + 60 * G_USEC_PER_SEC;;) {
		g_clear_pointer(&recovered, json_object_unref);
		recovered = ck_test_wait_request(td, "estproof", &wait, 60);
		if (json_object_get_int_member(recovered, "NotAfter") > now ||
		    g_get_monotonic_time() > deadline)
			break;
		g_usleep(200 * 1000);
	}
	g_assert_cmpint(json_object_get_int_member(recovered, "NotAfter"), >, now);
	g_assert_cmpstr(ck_test_json_string(recovered, "Identity"), ==, "proof");
	g_assert_cmpstr(ck_test_json_string(recovered, "RecoveryStep"), ==, "proof");
	g_assert_nonnull(strstr(ck_test_json_string(recovered, "RecoveryReason"),
				"bootstrap: no bootstrap identity is configured"));
	{
		g_autofree gchar *cert = g_strdup_printf("%s/estproof.crt", td->dir);
		g_autofree gchar *key = g_strdup_printf("%s/estproof.key", td->dir);
		est_assert_issued(s, cert, "estproof.example", key);
	}
	/* the server saw a proof, for the subject it registered the key for */
	{
		g_autofree gchar *log = ck_test_read_file(s->log_path);
		g_autoptr(GString) needle = g_string_new("\"auth\": \"proof\"");
		g_assert_nonnull(strstr(log, needle->str));
		g_assert_nonnull(strstr(log, "\"op\": \"certkeeper-proof-nonce\""));
		g_assert_nonnull(strstr(log, "\"proof_algorithm\": \"ECDSA-SHA384\""));
	}

	swapped = ck_test_wait_request(
	    td, "estswap",
	    &(CkTestRequestWait){.state = "NEED_GUIDANCE", .error_part = "does not verify"}, 60);
	g_test_message("estswap: %s", ck_test_json_string(swapped, "LastError"));
	g_assert_cmpstr(ck_test_json_string(swapped, "RecoveryStep"), ==, "exhausted");
	g_assert_nonnull(strstr(ck_test_json_string(swapped, "RecoveryReason"), "current: "));
	late = ck_test_wait_request(
	    td, "estlate",
	    &(CkTestRequestWait){.state = "NEED_GUIDANCE",
				 .error_part = "no proof key is registered for CN=estlate.example"},
	    60);
	g_assert_cmpstr(ck_test_json_string(late, "RecoveryStep"), ==, "exhausted");
	g_assert_nonnull(strstr(ck_test_json_string(late, "LastError"), "enroll the device again"));
}

/* CA1.CSRAttributes of CA @name, as `certkeeper list-cas --json` shows it ("" joined). */
static gchar *
est_ca_csr_attributes(CkTestDaemon *td, const gchar *name)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonArray *cas;
	GString *joined = g_string_new(NULL);

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list-cas", "--json", NULL), ==,
			0);
	g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
	cas = json_node_get_array(json_parser_get_root(parser));
	for (guint i = 0; i < json_array_get_length(cas); i++) {
		JsonObject *ca = json_array_get_object_element(cas, i);
		JsonArray *lines;
		if (g_strcmp0(json_object_get_string_member(ca, "Name"), name) != 0)
			continue;
		lines = json_object_get_array_member(ca, "CSRAttributes");
		for (guint j = 0; j < json_array_get_length(lines); j++)
			g_string_append_printf(joined, "%s\n",
					       json_array_get_string_element(lines, j));
	}
	return g_string_free(joined, FALSE);
}

/*
 * The server's /csrattrs ask for RSA keys of 3072 bits, a challengePassword (which
 * it then insists on) and an extension given whole: certkeeperd's key and CSR
 * follow them, through CERTKEEPER-GET-CSR-ATTRIBUTES; a request that pins another
 * key type waits in NEED_GUIDANCE, naming both.
 */
static void
test_est_daemon_csr_attributes(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	const gchar *extra[] = {
	    "--csrattr",  "1.2.840.113549.1.1.1=int:3072",
	    "--csrattr",  "1.2.840.113549.1.9.7",
	    "--csrattr",  "1.2.840.113549.1.9.14=ext:1.3.6.1.4.1.99999.1:noncritical:0c0466656574",
	    "--challenge", "fleet secret",
	    NULL};
	g_autofree gchar *challenge = NULL, *config = NULL, *attributes = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *text = NULL, *state = NULL, *why = NULL;
	g_autofree gchar *pinned_cert = NULL, *pinned_key = NULL, *key_type = NULL;
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *last;
	const gchar *csr_text;
	gint64 deadline;

	if (!est_have_tools())
		return;
	s = est_server_start(extra);
	challenge = ck_test_write_file(s->dir, "challenge", "fleet secret\n");
	g_assert_cmpint(g_chmod(challenge, 0600), ==, 0);
	config = g_strdup_printf("ChallengeFile=%s\n", challenge);
	td = est_start_daemon(s, config);
	if (td == NULL)
		return;
	/* the CA's refresh at start-up asks for them; the value of the challenge stays home */
	deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	for (;;) {
		g_clear_pointer(&attributes, g_free);
		attributes = est_ca_csr_attributes(td, "est");
		if (attributes[0] != '\0' || g_get_monotonic_time() > deadline)
			break;
		g_usleep(200 * 1000);
	}
	g_assert_cmpstr(attributes, ==,
			"key-type rsa-3072\nchallenge-password\n"
			"extension 1.3.6.1.4.1.99999.1\n");

	cert = ck_test_daemon_path(td, "attrs.crt");
	key = ck_test_daemon_path(td, "attrs.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "attrs", "-f",
				    cert, "-k", key, "-N", "CN=attrs.example", "-D",
				    "attrs.example", "-c", "est", "-w", "--wait-timeout=120", NULL),
			==, 0);
	est_assert_issued(s, cert, "attrs.example", key);
	text = est_openssl_x509(cert, "text");
	g_assert_nonnull(strstr(text, "Public-Key: (3072 bit)"));
	/* the server only enrolls a CSR with its challenge; the extension came along */
	last = est_server_last(s, "simpleenroll", &parser);
	g_assert_nonnull(last);
	g_assert_cmpint(json_object_get_int_member(last, "status"), ==, 200);
	csr_text = json_object_get_string_member(last, "csr_text");
	g_assert_nonnull(strstr(csr_text, "challengePassword"));
	g_assert_nonnull(strstr(csr_text, "fleet secret"));
	g_assert_nonnull(strstr(csr_text, "1.3.6.1.4.1.99999.1"));
	g_assert_nonnull(strstr(csr_text, "attrs.example"));
	/* the request's own setting is what it was: the CA chose for this key only */
	key_type = est_cli_status(td, "attrs", "KeyType");
	g_assert_cmpstr(key_type, ==, "ec-p256");

	/* a request that pins another key type: a human must choose */
	pinned_cert = ck_test_daemon_path(td, "pinned.crt");
	pinned_key = ck_test_daemon_path(td, "pinned.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "pinned", "-f",
				    pinned_cert, "-k", pinned_key, "-N", "CN=pinned.example",
				    "-G", "ed25519", "-c", "est", "-w", "--wait-timeout=60", NULL),
			==, 4);
	state = est_cli_status(td, "pinned", "State");
	g_assert_cmpstr(state, ==, "NEED_GUIDANCE");
	why = est_cli_status(td, "pinned", "LastError");
	g_assert_nonnull(strstr(why, "rsa-3072"));
	g_assert_nonnull(strstr(why, "ed25519"));
	g_assert_nonnull(strstr(why, "certkeeper modify -i pinned -G rsa-3072"));
	g_assert_false(g_file_test(pinned_cert, G_FILE_TEST_EXISTS));
}

/*
 * The RFC 7030 section 4.5.2 example's wish: an EC key on secp384r1, signed
 * with ecdsa-with-SHA384. The daemon makes a P-384 key for a request of the
 * default type, signs its CSR with SHA-384, and the CA issues for that key.
 */
static void
test_est_daemon_csr_attributes_p384(void)
{
	g_autoptr(EstServer) s = NULL;
	g_autoptr(CkTestDaemon) td = NULL;
	const gchar *extra[] = {"--csrattr", "1.2.840.10045.2.1=1.3.132.0.34", "--csrattr",
				"1.2.840.10045.4.3.3", NULL};
	g_autofree gchar *attributes = NULL, *cert = NULL, *key = NULL, *text = NULL;
	g_autofree gchar *key_text = NULL, *key_type = NULL;
	g_autoptr(JsonParser) parser = NULL;
	JsonObject *last;
	const gchar *csr_text;
	gint64 deadline;

	if (!est_have_tools())
		return;
	s = est_server_start(extra);
	td = est_start_daemon(s, "");
	if (td == NULL)
		return;
	deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
	for (;;) {
		g_clear_pointer(&attributes, g_free);
		attributes = est_ca_csr_attributes(td, "est");
		if (attributes[0] != '\0' || g_get_monotonic_time() > deadline)
			break;
		g_usleep(200 * 1000);
	}
	/* the signature algorithm is shown as asked for: the key's curve sets the hash */
	g_assert_cmpstr(attributes, ==, "key-type ec-p384\nattribute 1.2.840.10045.4.3.3\n");

	cert = ck_test_daemon_path(td, "p384.crt");
	key = ck_test_daemon_path(td, "p384.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "p384", "-f",
				    cert, "-k", key, "-N", "CN=p384.example", "-D", "p384.example",
				    "-c", "est", "-w", "--wait-timeout=120", NULL),
			==, 0);
	est_assert_issued(s, cert, "p384.example", key);
	text = est_openssl_x509(cert, "text");
	g_assert_nonnull(strstr(text, "Public-Key: (384 bit)"));
	g_assert_nonnull(strstr(text, "NIST CURVE: P-384"));
	{
		const gchar *argv[] = {"openssl", "pkey", "-in", key, "-noout", "-text", NULL};
		g_assert_cmpint(ck_test_run(argv, &key_text, NULL), ==, 0);
		g_assert_nonnull(strstr(key_text, "NIST CURVE: P-384"));
	}
	/* the CSR the server enrolled was signed with the curve's hash */
	last = est_server_last(s, "simpleenroll", &parser);
	g_assert_nonnull(last);
	g_assert_cmpint(json_object_get_int_member(last, "status"), ==, 200);
	csr_text = json_object_get_string_member(last, "csr_text");
	g_assert_nonnull(strstr(csr_text, "ecdsa-with-SHA384"));
	g_assert_nonnull(strstr(csr_text, "NIST CURVE: P-384"));
	/* the request keeps its own setting: the CA chose for this key only */
	key_type = est_cli_status(td, "p384", "KeyType");
	g_assert_cmpstr(key_type, ==, "ec-p256");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/est/url", test_est_url);
	g_test_add_func("/certkeeper/est/base64", test_est_base64);
	g_test_add_func("/certkeeper/est/certs-only-garbage", test_est_certs_only_garbage);
	g_test_add_func("/certkeeper/est/csrattrs", test_est_csrattrs);
	g_test_add_func("/certkeeper/est/csr-attributes", test_est_csr_attributes);
	g_test_add_func("/certkeeper/est/retry-after", test_est_retry_after);
	g_test_add_func("/certkeeper/est/cookie", test_est_cookie);
	g_test_add_func("/certkeeper/est/pin", test_est_pin);
	g_test_add_func("/certkeeper/est/helper/unsupported", test_est_unsupported);
	g_test_add_func("/certkeeper/est/helper/enroll-basic", test_est_enroll_basic);
	g_test_add_func("/certkeeper/est/helper/enroll-refused", test_est_enroll_refused);
	g_test_add_func("/certkeeper/est/helper/enroll-bootstrap", test_est_enroll_bootstrap);
	g_test_add_func("/certkeeper/est/helper/enroll-expired", test_est_enroll_expired);
	g_test_add_func("/certkeeper/est/helper/reenroll", test_est_reenroll);
	g_test_add_func("/certkeeper/est/helper/reenroll-other-subject",
			test_est_reenroll_other_subject);
	g_test_add_func("/certkeeper/est/helper/retry-then-poll", test_est_retry_then_poll);
	g_test_add_func("/certkeeper/est/helper/server-failures", test_est_server_failures);
	g_test_add_func("/certkeeper/est/helper/cacerts-trust", test_est_cacerts_trust);
	g_test_add_func("/certkeeper/est/helper/cacerts-pin", test_est_cacerts_pin);
	g_test_add_func("/certkeeper/est/helper/label", test_est_label);
	g_test_add_func("/certkeeper/est/helper/csrattrs", test_est_csrattrs_server);
	g_test_add_func("/certkeeper/est/helper/csrattrs-none", test_est_csrattrs_none);
	g_test_add_func("/certkeeper/est/daemon/enroll-and-renew", test_est_daemon);
	g_test_add_func("/certkeeper/est/daemon/csr-attributes", test_est_daemon_csr_attributes);
	g_test_add_func("/certkeeper/est/daemon/csr-attributes-p384",
			test_est_daemon_csr_attributes_p384);
	g_test_add_func("/certkeeper/est/daemon/outage", test_est_daemon_outage);
	g_test_add_func("/certkeeper/est/daemon/proof", test_est_daemon_proof);
	g_test_add_func("/certkeeper/est/helper/proof", test_est_proof_helper);
#if CK_HAVE_TPM
	g_test_add_func("/certkeeper/est/daemon/tpm-device", test_est_daemon_tpm_device);
#endif
	g_test_add_func("/certkeeper/est/daemon/refusals-and-garbage",
			test_est_daemon_refusals_and_garbage);
	g_test_add_func("/certkeeper/est/certmonger/enroll-and-renew", test_est_certmonger);
	return g_test_run();
}
