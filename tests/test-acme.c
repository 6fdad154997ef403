/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The ACME helper against pebble, the ACME test CA: run directly with
 * certmonger's protocol environment (always-valid and real http-01/dns-01
 * validation through pebble-challtestsrv), through the real certkeeperd with
 * an automatic renewal, and under certmonger itself. pebble keeps rejecting 5 %
 * of nonces, so every run also exercises the badNonce retry.
 */
#include "config.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-http.h"
#include "ck-test-daemon.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	GPid pid;
	guint acme_port;
	guint mgmt_port;
	guint http_port;
	gchar *directory_url;
	gchar *tls_cert; /* pebble's own listener certificate: --trust */
	gchar *root;     /* its issuing root, from the management interface */
	gchar *root_url;
	gchar *log;
	gchar *config_path;
	GStrv envp; /* its environment, for restarts */
	GStrv argv;
} CkPebble;

typedef struct {
	gboolean always_valid;
	const gchar *dns_server; /* "127.0.0.1:PORT" of pebble-challtestsrv, or NULL */
	guint validity;          /* certificateValidityPeriod, seconds */
	gboolean eab_required;   /* newAccount needs a binding to kid-1 or kid-2 */
} CkPebbleSetup;

/* pebble's example MAC keys (base64url, as a CA hands them out) */
#define CK_TEST_EAB_KEY_1 "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
#define CK_TEST_EAB_KEY_2 "b10lLJs8l1GPIzsLP0s6pMt8O0XVGnfTaCeROxQM0BIt2XrJMDHJZBM5NuQmQJQH"

static void
ck_test_child_setup(gpointer data)
{
	/* a pebble outliving an aborted test would hold meson's pipes open */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static gboolean
ck_test_have_peers(void)
{
	if (!ck_test_have_program("pebble")) {
		g_test_skip("pebble is not installed (apt-get install pebble)");
		return FALSE;
	}
	if (!ck_test_have_program("openssl")) {
		g_test_skip("openssl is not installed");
		return FALSE;
	}
	return TRUE;
}

static const gchar *
ck_test_helper_path(void)
{
	static gchar *path;
	if (path == NULL)
		path = g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon", "helpers",
					"certkeeper-acme", NULL);
	return path;
}

static GPid
ck_test_spawn_logged(const gchar *dir, const gchar *const *argv, const gchar *const *envp,
		     const gchar *log)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) sh = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GString) cmd = g_string_new("exec");
	GPid pid = 0;

	for (guint i = 0; argv[i] != NULL; i++) {
		g_autofree gchar *quoted = g_shell_quote(argv[i]);
		g_string_append_printf(cmd, " %s", quoted);
	}
	{
		g_autofree gchar *quoted = g_shell_quote(log);
		/* appended: a restarted peer's log follows its first one */
		g_string_append_printf(cmd, " >>%s 2>&1", quoted);
	}
	g_ptr_array_add(sh, g_strdup("sh"));
	g_ptr_array_add(sh, g_strdup("-c"));
	g_ptr_array_add(sh, g_string_free(g_steal_pointer(&cmd), FALSE));
	g_ptr_array_add(sh, NULL);
	g_assert_true(g_spawn_async(dir, (gchar **)sh->pdata, (gchar **)envp,
				    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
				    ck_test_child_setup, NULL, &pid, &error));
	g_assert_no_error(error);
	return pid;
}

static void
ck_test_stop_pid(GPid *pid)
{
	if (*pid <= 0)
		return;
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	g_spawn_close_pid(*pid);
	*pid = 0;
}

/* GET @url with pebble's listener certificate as the trust anchor; NULL unless 200. */
static gchar *
ck_test_fetch(const gchar *trust, const gchar *url)
{
	CkHttpOptions options = {.trust_file = trust, .timeout_seconds = 5};
	g_autoptr(CkHttpResponse) r = ck_http_request(&options, "GET", url, NULL, NULL, NULL);
	gsize len = 0;
	const gchar *data;

	if (r == NULL || ck_http_response_get_status(r) != 200)
		return NULL;
	data = g_bytes_get_data(ck_http_response_get_body(r), &len);
	return g_strndup(data, len);
}

static void
ck_pebble_stop(CkPebble *p)
{
	ck_test_stop_pid(&p->pid);
}

static void
ck_pebble_free(CkPebble *p)
{
	if (p == NULL)
		return;
	ck_pebble_stop(p);
	ck_test_rm_rf(p->dir);
	g_free(p->dir);
	g_free(p->directory_url);
	g_free(p->tls_cert);
	g_free(p->root);
	g_free(p->root_url);
	g_free(p->log);
	g_free(p->config_path);
	g_strfreev(p->envp);
	g_strfreev(p->argv);
	g_free(p);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkPebble, ck_pebble_free)

/* Starts pebble as configured in @p and waits until it answers; takes its new root. */
static void
ck_pebble_run(CkPebble *p)
{
	g_autofree gchar *dir_url_probe = NULL;

	p->pid = ck_test_spawn_logged(p->dir, (const gchar *const *)p->argv,
				      (const gchar *const *)p->envp, p->log);
	/* each start makes a new root: take it once both listeners answer */
	for (guint i = 0; i < 200 && (p->root == NULL || dir_url_probe == NULL); i++) {
		if (p->root == NULL)
			p->root = ck_test_fetch(p->tls_cert, p->root_url);
		if (dir_url_probe == NULL)
			dir_url_probe = ck_test_fetch(p->tls_cert, p->directory_url);
		if (p->root == NULL || dir_url_probe == NULL)
			g_usleep(50 * 1000);
	}
	if (p->root == NULL || dir_url_probe == NULL) {
		g_autofree gchar *log = NULL;
		g_file_get_contents(p->log, &log, NULL, NULL);
		g_error("pebble did not come up: %s", log != NULL ? log : "(no log)");
	}
}

static CkPebble *
ck_pebble_start(const CkPebbleSetup *setup)
{
	CkPebble *p = g_new0(CkPebble, 1);
	g_autofree gchar *key = NULL;
	g_autofree gchar *config = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_auto(GStrv) envp = g_get_environ();
	const gchar *openssl[] = {"openssl",
				  "req",
				  "-x509",
				  "-newkey",
				  "ec",
				  "-pkeyopt",
				  "ec_paramgen_curve:P-256",
				  "-nodes",
				  "-days",
				  "2",
				  "-subj",
				  "/CN=localhost",
				  "-addext",
				  "subjectAltName=DNS:localhost,IP:127.0.0.1",
				  "-keyout",
				  NULL,
				  "-out",
				  NULL,
				  NULL};

	p->dir = ck_test_make_tmpdir();
	p->tls_cert = g_build_filename(p->dir, "pebble-tls.pem", NULL);
	key = g_build_filename(p->dir, "pebble-tls.key", NULL);
	openssl[15] = key;
	openssl[17] = p->tls_cert;
	g_assert_cmpint(ck_test_run(openssl, NULL, NULL), ==, 0);
	p->acme_port = ck_test_free_port();
	do {
		p->mgmt_port = ck_test_free_port();
	} while (p->mgmt_port == p->acme_port);
	do {
		p->http_port = ck_test_free_port();
	} while (p->http_port == p->acme_port || p->http_port == p->mgmt_port);
	/* blocked.example: the name this CA refuses by policy (rejectedIdentifier) */
	config = g_strdup_printf(
	    "{\"pebble\":{\"listenAddress\":\"127.0.0.1:%u\",\"managementListenAddress\":"
	    "\"127.0.0.1:%u\",\"certificate\":\"%s\",\"privateKey\":\"%s\",\"httpPort\":%u,"
	    "\"tlsPort\":%u,\"ocspResponderURL\":\"\",\"externalAccountBindingRequired\":%s,"
	    "\"externalAccountMACKeys\":{\"kid-1\":\"" CK_TEST_EAB_KEY_1
	    "\",\"kid-2\":\"" CK_TEST_EAB_KEY_2 "\"},"
	    "\"certificateValidityPeriod\":%u,\"domainBlocklist\":[\"blocked.example\"]}}",
	    p->acme_port, p->mgmt_port, p->tls_cert, key, p->http_port, ck_test_free_port(),
	    setup->eab_required ? "true" : "false", setup->validity > 0 ? setup->validity : 3600);
	p->config_path = ck_test_write_file(p->dir, "pebble.json", config);
	g_ptr_array_add(argv, g_strdup("pebble"));
	g_ptr_array_add(argv, g_strdup("-config"));
	g_ptr_array_add(argv, g_strdup(p->config_path));
	if (setup->dns_server != NULL) {
		g_ptr_array_add(argv, g_strdup("-dnsserver"));
		g_ptr_array_add(argv, g_strdup(setup->dns_server));
	}
	g_ptr_array_add(argv, NULL);
	p->argv = (GStrv)g_ptr_array_free(g_steal_pointer(&argv), FALSE);
	envp = g_environ_setenv(envp, "PEBBLE_VA_NOSLEEP", "1", TRUE);
	/* PEBBLE_WFE_NONCEREJECT stays at its default: 5 % badNonce */
	envp = g_environ_unsetenv(envp, "PEBBLE_WFE_NONCEREJECT");
	if (setup->always_valid)
		envp = g_environ_setenv(envp, "PEBBLE_VA_ALWAYS_VALID", "1", TRUE);
	else
		envp = g_environ_unsetenv(envp, "PEBBLE_VA_ALWAYS_VALID");
	p->envp = g_steal_pointer(&envp);
	p->log = g_build_filename(p->dir, "pebble.log", NULL);
	p->directory_url = g_strdup_printf("https://127.0.0.1:%u/dir", p->acme_port);
	p->root_url = g_strdup_printf("https://127.0.0.1:%u/roots/0", p->mgmt_port);
	ck_pebble_run(p);
	return p;
}

/*
 * pebble again, on the same ports with the same listener certificate, after
 * ck_pebble_stop(): a CA that comes back. It keeps nothing: its accounts, orders
 * and its root are new.
 */
static void
ck_pebble_restart(CkPebble *p)
{
	g_assert_cmpint(p->pid, ==, 0);
	g_clear_pointer(&p->root, g_free);
	ck_pebble_run(p);
}

/* An EC key and a CSR made with openssl (another implementation than ours). */
static gchar *
ck_test_make_csr(const gchar *dir, const gchar *name, const gchar *cn, const gchar *san)
{
	g_autofree gchar *key_name = g_strdup_printf("%s.key", name);
	g_autofree gchar *csr_name = g_strdup_printf("%s.csr", name);
	g_autofree gchar *key = g_build_filename(dir, key_name, NULL);
	g_autofree gchar *csr = g_build_filename(dir, csr_name, NULL);
	g_autofree gchar *subject = g_strdup_printf("/CN=%s", cn);
	g_autofree gchar *ext = g_strdup_printf("subjectAltName=%s", san);
	const gchar *argv[] = {
	    "openssl", "req",   "-new",  "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes",  "-subj", subject, "-addext", ext,  "-keyout",  key,
	    "-out",    csr,     NULL};
	gchar *pem = NULL;

	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_assert_true(g_file_get_contents(csr, &pem, NULL, NULL));
	return pem;
}

/*
 * Runs the helper with the protocol environment @env ("K=V", NULL-terminated)
 * and the arguments pointing at @p plus @extra; returns its exit status.
 */
static gint
ck_test_run_helper(CkPebble *p, const gchar *state_dir, const gchar *const *extra,
		   const gchar *const *env, gchar **out, gchar **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GPtrArray) envp = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_auto(GStrv) wrapper = NULL;
	const gchar *wrapper_text = g_getenv("CK_TEST_DAEMON_WRAPPER");
	gint status = 0;

	/* meson test --setup valgrind: the helper runs under valgrind too (exit 99 on errors) */
	if (wrapper_text != NULL && wrapper_text[0] != '\0')
		g_assert_true(g_shell_parse_argv(wrapper_text, NULL, &wrapper, NULL));
	for (guint i = 0; wrapper != NULL && wrapper[i] != NULL; i++)
		g_ptr_array_add(argv, wrapper[i]);
	g_ptr_array_add(argv, (gpointer)ck_test_helper_path());
	if (p != NULL) {
		g_ptr_array_add(argv, "--directory");
		g_ptr_array_add(argv, p->directory_url);
		g_ptr_array_add(argv, "--trust");
		g_ptr_array_add(argv, p->tls_cert);
	}
	g_ptr_array_add(argv, "--state-dir");
	g_ptr_array_add(argv, (gpointer)state_dir);
	g_ptr_array_add(argv, "-v");
	for (guint i = 0; extra != NULL && extra[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)extra[i]);
	g_ptr_array_add(argv, NULL);
	/* the daemon's scrubbed environment */
	g_ptr_array_add(envp, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	g_ptr_array_add(envp, "LANG=C.UTF-8");
	for (guint i = 0; env != NULL && env[i] != NULL; i++)
		g_ptr_array_add(envp, (gpointer)env[i]);
	g_ptr_array_add(envp, NULL);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv->pdata, (gchar **)envp->pdata,
				   G_SPAWN_SEARCH_PATH, NULL, NULL, out, err, &status, &error));
	g_assert_no_error(error);
	if (err != NULL)
		g_test_message("helper stderr: %s", *err);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static gnutls_x509_crt_t *
ck_test_import_chain(const gchar *pem, unsigned int *n)
{
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	gnutls_x509_crt_t *list = NULL;
	g_assert_cmpint(gnutls_x509_crt_list_import2(&list, n, &datum, GNUTLS_X509_FMT_PEM, 0), >=,
			0);
	return list;
}

static void
ck_test_free_chain(gnutls_x509_crt_t *list, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
}

/*
 * @chain (leaf first) carries @csr's key, names every host in @names, and
 * verifies up to @root (and not to anything else).
 */
static void
ck_test_assert_issued(const gchar *chain, const gchar *csr_pem, const gchar *root,
		      const gchar *const *names)
{
	unsigned int n = 0, n_roots = 0;
	gnutls_x509_crt_t *certs = ck_test_import_chain(chain, &n);
	gnutls_x509_crt_t *roots = ck_test_import_chain(root, &n_roots);
	gnutls_x509_trust_list_t trust = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t csr_datum = {(unsigned char *)csr_pem, (unsigned int)strlen(csr_pem)};
	guint8 want[64], have[64];
	size_t want_size = sizeof(want), have_size = sizeof(have);
	unsigned int status = 1;

	/* leaf + pebble's intermediate at least */
	g_assert_cmpuint(n, >=, 2);
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &csr_datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_get_key_id(crq, GNUTLS_KEYID_USE_SHA256, want, &want_size),
			==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_get_key_id(certs[0], GNUTLS_KEYID_USE_SHA256, have, &have_size), ==, 0);
	g_assert_cmpmem(have, have_size, want, want_size);
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		if (!gnutls_x509_crt_check_hostname(certs[0], names[i]))
			g_error("the certificate does not name %s", names[i]);
	}
	g_assert_cmpint(gnutls_x509_trust_list_init(&trust, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_trust_list_add_cas(trust, roots, n_roots, 0), ==, (int)n_roots);
	g_assert_cmpint(gnutls_x509_trust_list_verify_crt(trust, certs, n, 0, &status, NULL), ==,
			0);
	g_assert_cmpuint(status, ==, 0);
	/* the trust list owns the roots now */
	gnutls_free(roots);
	gnutls_x509_trust_list_deinit(trust, 1);
	gnutls_x509_crq_deinit(crq);
	ck_test_free_chain(certs, n);
}

/* The leaf's serial in lower-case hex, as pebble's management interface spells it. */
static gchar *
ck_test_leaf_serial(const gchar *chain)
{
	unsigned int n = 0;
	gnutls_x509_crt_t *certs = ck_test_import_chain(chain, &n);
	guint8 serial[64];
	size_t size = sizeof(serial);
	g_autoptr(GString) hex = g_string_new(NULL);
	gsize start = 0;

	g_assert_cmpint(gnutls_x509_crt_get_serial(certs[0], serial, &size), ==, 0);
	while (start + 1 < size && serial[start] == 0)
		start++;
	for (gsize i = start; i < size; i++)
		g_string_append_printf(hex, "%02x", serial[i]);
	ck_test_free_chain(certs, n);
	return g_string_free(g_steal_pointer(&hex), FALSE);
}

/* A serial as the daemon shows it (lower-case hex), as pebble spells it: no leading zeros. */
static gchar *
ck_test_leaf_serial_hex(const gchar *serial)
{
	while (serial[0] == '0' && serial[1] == '0' && serial[2] != '\0')
		serial += 2;
	return g_ascii_strdown(serial, -1);
}

/* pebble's view of a serial: "Valid" or "Revoked" (and the reason code). */
static JsonObject *
ck_test_cert_status(CkPebble *p, const gchar *serial)
{
	g_autofree gchar *url =
	    g_strdup_printf("https://127.0.0.1:%u/cert-status-by-serial/%s", p->mgmt_port, serial);
	g_autofree gchar *text = ck_test_fetch(p->tls_cert, url);
	g_autoptr(JsonNode) node = NULL;

	g_assert_nonnull(text);
	node = json_from_string(text, NULL);
	g_assert_true(node != NULL && JSON_NODE_HOLDS_OBJECT(node));
	return json_object_ref(json_node_get_object(node));
}

static gchar *
ck_test_env(const gchar *name, const gchar *value)
{
	return g_strdup_printf("%s=%s", name, value);
}

/* (a) always-valid: issue, poll, revoke, refuse, and the helper's own errors */
static void
test_acme_always_valid(void)
{
	CkPebbleSetup setup = {.always_valid = TRUE};
	g_autoptr(CkPebble) p = NULL;
	g_autofree gchar *state = NULL, *webroot = NULL, *csr = NULL, *blocked = NULL;
	g_autofree gchar *csr_env = NULL, *blocked_env = NULL, *out = NULL, *err = NULL;
	g_autofree gchar *account = NULL, *account_again = NULL, *key_path = NULL;
	g_autofree gchar *serial = NULL, *cert_env = NULL, *order_url = NULL, *cookie_env = NULL;
	g_autofree gchar *webroot_arg = NULL, *roots_arg = NULL, *account_path = NULL;
	g_autoptr(JsonObject) status = NULL;
	const gchar *names[] = {"acme-a.example", "www.acme-a.example", "127.0.0.1", NULL};
	const gchar *at;

	if (!ck_test_have_peers())
		return;
	p = ck_pebble_start(&setup);
	state = g_build_filename(p->dir, "state", NULL);
	webroot = g_build_filename(p->dir, "www", NULL);
	webroot_arg = g_strdup_printf("--http01-webroot=%s", webroot);
	csr = ck_test_make_csr(p->dir, "a", "acme-a.example",
			       "DNS:acme-a.example,DNS:www.acme-a.example,IP:127.0.0.1");
	csr_env = ck_test_env("CERTMONGER_CSR", csr);

	/* SUBMIT: account created, order, authorizations, finalize, chain */
	{
		const gchar *extra[] = {webroot_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env,
				      "CERTMONGER_CA_NICKNAME=acme", NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 0);
	}
	ck_test_assert_issued(out, csr, p->root, names);
	/* the account is kept private, and the webroot token files are gone again */
	key_path = g_build_filename(state, "account.key", NULL);
	account_path = g_build_filename(state, "account.json", NULL);
	g_assert_cmpint(ck_test_file_mode(state), ==, 0700);
	g_assert_cmpint(ck_test_file_mode(key_path), ==, 0600);
	g_assert_cmpint(ck_test_file_mode(account_path), ==, 0600);
	g_assert_true(g_file_get_contents(account_path, &account, NULL, NULL));
	g_assert_nonnull(strstr(account, p->directory_url));
	{
		g_autofree gchar *tokens =
		    g_build_filename(webroot, ".well-known", "acme-challenge", NULL);
		g_autoptr(GDir) d = g_dir_open(tokens, 0, NULL);
		g_assert_nonnull(d);
		g_assert_null(g_dir_read_name(d));
	}
	/* the order URL (stderr with -v) is the cookie POLL continues from */
	at = strstr(err, "ACME order ");
	g_assert_nonnull(at);
	order_url =
	    g_strndup(at + strlen("ACME order "), strcspn(at + strlen("ACME order "), " \n"));
	g_assert_true(g_str_has_prefix(order_url, "https://"));
	serial = ck_test_leaf_serial(out);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	cookie_env = ck_test_env("CERTMONGER_CA_COOKIE", order_url);
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=POLL", cookie_env, csr_env, NULL};
		g_autofree gchar *polled = NULL;
		g_assert_cmpint(ck_test_run_helper(p, state, NULL, env, &out, &err), ==, 0);
		ck_test_assert_issued(out, csr, p->root, names);
		polled = ck_test_leaf_serial(out);
		g_assert_cmpstr(polled, ==, serial);
	}
	/* the same account is used again, not a new one */
	g_assert_true(g_file_get_contents(account_path, &account_again, NULL, NULL));
	g_assert_cmpstr(account_again, ==, account);

	/* REVOKE, with a reason; pebble records it */
	status = ck_test_cert_status(p, serial);
	g_assert_cmpstr(json_object_get_string_member(status, "Status"), ==, "Valid");
	g_clear_pointer(&status, json_object_unref);
	cert_env = ck_test_env("CERTMONGER_CERTIFICATE", out);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	{
		const gchar *bad[] = {"CERTMONGER_OPERATION=REVOKE", cert_env,
				      "CERTKEEPER_REVOKE_REASON=7", NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=REVOKE", cert_env,
				      "CERTKEEPER_REVOKE_REASON=superseded", NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, NULL, bad, &out, &err), ==, 2);
		g_assert_nonnull(strstr(out, "CERTKEEPER_REVOKE_REASON"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(ck_test_run_helper(p, state, NULL, env, &out, &err), ==, 0);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	status = ck_test_cert_status(p, serial);
	g_assert_cmpstr(json_object_get_string_member(status, "Status"), ==, "Revoked");
	g_assert_cmpint(json_object_get_int_member(status, "Reason"), ==, 4);

	/* a name the CA refuses: rejected, with the CA's own words */
	blocked = ck_test_make_csr(p->dir, "blocked", "blocked.example", "DNS:blocked.example");
	blocked_env = ck_test_env("CERTMONGER_CSR", blocked);
	{
		const gchar *extra[] = {webroot_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", blocked_env, NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 2);
		g_assert_nonnull(strstr(out, "rejectedIdentifier"));
		g_assert_nonnull(strstr(out, "blocked.example"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* a garbage cookie is a rejected poll */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=POLL", "CERTMONGER_CA_COOKIE=nonsense",
				      NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, NULL, env, &out, &err), ==, 2);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* FETCH-ROOTS: pebble's management interface, when told where; unsupported otherwise */
	roots_arg = g_strdup_printf("--roots-url=%s", p->root_url);
	{
		const gchar *extra[] = {roots_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=FETCH-ROOTS",
				      "CERTMONGER_CA_NICKNAME=acme", NULL};
		unsigned int n = 0, n_root = 0;
		gnutls_x509_crt_t *got, *want;
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 0);
		g_assert_true(g_str_has_prefix(out, "acme\n-----BEGIN CERTIFICATE-----"));
		got = ck_test_import_chain(out, &n);
		want = ck_test_import_chain(p->root, &n_root);
		g_assert_cmpuint(n, ==, 1);
		g_assert_true(gnutls_x509_crt_equals(got[0], want[0]));
		ck_test_free_chain(got, n);
		ck_test_free_chain(want, n_root);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=FETCH-ROOTS", NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, NULL, env, &out, &err), ==, 6);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* the other operations */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=IDENTIFY", NULL};
		const gchar *unsupported[] = {"GET-NEW-REQUEST-REQUIREMENTS",
					      "GET-RENEW-REQUEST-REQUIREMENTS",
					      "GET-SUPPORTED-TEMPLATES",
					      "GET-DEFAULT-TEMPLATE",
					      "SOMETHING-NEW",
					      NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, NULL, env, &out, &err), ==, 0);
		g_assert_nonnull(strstr(out, "ACME"));
		g_assert_nonnull(strstr(out, p->directory_url));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
		for (guint i = 0; unsupported[i] != NULL; i++) {
			g_autofree gchar *op = ck_test_env("CERTMONGER_OPERATION", unsupported[i]);
			const gchar *op_env[] = {op, NULL};
			g_assert_cmpint(ck_test_run_helper(p, state, NULL, op_env, &out, &err), ==,
					6);
			g_clear_pointer(&out, g_free);
			g_clear_pointer(&err, g_free);
		}
	}
	/* no challenge method for a pending authorization: underconfigured, saying what to add */
	{
		g_autofree gchar *fresh_state = g_build_filename(p->dir, "state-none", NULL);
		g_autofree gchar *other =
		    ck_test_make_csr(p->dir, "none", "acme-none.example", "DNS:acme-none.example");
		g_autofree gchar *other_env = ck_test_env("CERTMONGER_CSR", other);
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", other_env, NULL};
		g_assert_cmpint(ck_test_run_helper(p, fresh_state, NULL, env, &out, &err), ==, 4);
		g_assert_nonnull(strstr(out, "--http01-listen"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* missing options: underconfigured */
	{
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(NULL, state, NULL, env, &out, &err), ==, 4);
		g_assert_nonnull(strstr(out, "--directory"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* pebble down: unreachable, naming the URL */
	ck_pebble_stop(p);
	{
		const gchar *extra[] = {webroot_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 3);
		g_assert_nonnull(strstr(out, p->directory_url));
	}
}

/* External account binding: required by the CA, refused when wrong, accepted when right */
static void
test_acme_eab(void)
{
	CkPebbleSetup setup = {.always_valid = TRUE, .eab_required = TRUE};
	g_autoptr(CkPebble) p = NULL;
	g_autofree gchar *csr = NULL, *csr_env = NULL, *webroot_arg = NULL, *out = NULL;
	g_autofree gchar *err = NULL, *key1 = NULL, *key2 = NULL, *key1_arg = NULL;
	g_autofree gchar *key2_arg = NULL, *s1 = NULL, *s2 = NULL, *s3 = NULL;
	const gchar *names[] = {"acme-eab.example", NULL};
	const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", NULL, NULL};

	if (!ck_test_have_peers())
		return;
	p = ck_pebble_start(&setup);
	csr = ck_test_make_csr(p->dir, "eab", "acme-eab.example", "DNS:acme-eab.example");
	csr_env = ck_test_env("CERTMONGER_CSR", csr);
	env[1] = csr_env;
	webroot_arg = g_strdup_printf("--http01-webroot=%s/www", p->dir);
	key1 = ck_test_write_file(p->dir, "kid-1.key", CK_TEST_EAB_KEY_1 "\n");
	key2 = ck_test_write_file(p->dir, "kid-2.key", CK_TEST_EAB_KEY_2 "\n");
	key1_arg = g_strdup_printf("--eab-hmac-key-file=%s", key1);
	key2_arg = g_strdup_printf("--eab-hmac-key-file=%s", key2);
	s1 = g_build_filename(p->dir, "state-none", NULL);
	s2 = g_build_filename(p->dir, "state-wrong", NULL);
	s3 = g_build_filename(p->dir, "state-right", NULL);

	/* the directory says a binding is required: say which options are missing */
	{
		const gchar *extra[] = {webroot_arg, NULL};
		g_assert_cmpint(ck_test_run_helper(p, s1, extra, env, &out, &err), ==, 4);
		g_assert_nonnull(strstr(out, "--eab-kid"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* kid-1 MACed with kid-2's key: the CA refuses the registration */
	{
		const gchar *extra[] = {webroot_arg, "--eab-kid=kid-1", key2_arg, NULL};
		g_assert_cmpint(ck_test_run_helper(p, s2, extra, env, &out, &err), ==, 2);
		g_assert_nonnull(strstr(out, "account registration"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* a kid without its key file is a configuration error before any request */
	{
		const gchar *extra[] = {webroot_arg, "--eab-kid=kid-1", NULL};
		g_assert_cmpint(ck_test_run_helper(p, s2, extra, env, &out, &err), ==, 4);
		g_assert_nonnull(strstr(out, "--eab-hmac-key-file"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	{
		const gchar *extra[] = {webroot_arg, "--eab-kid=kid-1", key1_arg,
					"--contact=mailto:admin@acme-eab.example", NULL};
		g_assert_cmpint(ck_test_run_helper(p, s3, extra, env, &out, &err), ==, 0);
		ck_test_assert_issued(out, csr, p->root, names);
	}
}

/*
 * What the scripted ACME servers below share: base64url, fresh nonces on every
 * answer (recorded in `issued`, so a server can check each is used once) and an
 * HTTP/1.1 handler whose send() can also cut a body off halfway.
 */
#define CK_TEST_ACME_PY_BASE                                                                       \
	"import base64, http.server, itertools, json\n"                                            \
	"issued, counter = set(), itertools.count(1)\n"                                            \
	"def b64d(t):\n"                                                                           \
	"    return base64.urlsafe_b64decode(t + '=' * (-len(t) % 4))\n"                         \
	"class Base(http.server.BaseHTTPRequestHandler):\n"                                       \
	"    protocol_version = 'HTTP/1.1'\n"                                                      \
	"    def log_message(self, *a):\n"                                                         \
	"        pass\n"                                                                           \
	"    def base(self):\n"                                                                    \
	"        return 'http://' + self.headers['Host']\n"                                        \
	"    def send(self, status, body=b'', ctype='application/json', extra=(), cut=False):\n"  \
	"        nonce = 'n%d' % next(counter)\n"                                                  \
	"        issued.add(nonce)\n"                                                              \
	"        self.send_response(status)\n"                                                     \
	"        self.send_header('Replay-Nonce', nonce)\n"                                        \
	"        self.send_header('Content-Type', ctype)\n"                                        \
	"        self.send_header('Content-Length', str(len(body)))\n"                             \
	"        for k, v in extra:\n"                                                             \
	"            self.send_header(k, v)\n"                                                     \
	"        if cut:\n"                                                                        \
	"            self.send_header('Connection', 'close')\n"                                    \
	"            self.close_connection = True\n"                                               \
	"        self.end_headers()\n"                                                             \
	"        try:\n"                                                                           \
	"            self.wfile.write(body[:len(body) // 2] if cut else body)\n"                  \
	"        except (BrokenPipeError, ConnectionResetError):\n"                                \
	"            self.close_connection = True\n"                                               \
	"    def problem(self, status, type_, detail, extra=()):\n"                                \
	"        body = json.dumps({'type': 'urn:ietf:params:acme:error:' + type_,\n"             \
	"                           'detail': detail}).encode()\n"                                 \
	"        self.send(status, body, 'application/problem+json', extra)\n"                     \
	"    def do_HEAD(self):\n"                                                                 \
	"        self.send(200)\n"

/*
 * A scripted ACME server for what pebble cannot be made to do on demand: an
 * order that stays "processing" (with Retry-After), a 503, a 429, and a badNonce
 * on the very first POST. It checks every nonce is one it issued, used once.
 */
static const gchar ck_test_mock_acme_py[] = CK_TEST_ACME_PY_BASE
    "import sys\n"
    "log = open(sys.argv[1], 'a', buffering=1)\n"
    "polls = {}\n"
    "state = {'posts': 0}\n"
    "class H(Base):\n"
    "    def do_GET(self):\n"
    "        b = self.base()\n"
    "        d = {'newNonce': b + '/nonce', 'newAccount': b + '/acct', 'newOrder': b + '/order',\n"
    "             'revokeCert': b + '/revoke', 'renewalInfo': b + '/ari'}\n"
    "        self.send(200, json.dumps(d).encode())\n"
    "    def do_POST(self):\n"
    "        jws = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
    "        prot = json.loads(b64d(jws['protected']))\n"
    "        payload = b64d(jws['payload']).decode()\n"
    "        state['posts'] += 1\n"
    "        if prot.get('nonce') not in issued:\n"
    "            log.write('bad nonce %s\\n' % prot.get('nonce'))\n"
    "            return self.problem(400, 'badNonce', 'unknown or reused nonce')\n"
    "        issued.discard(prot['nonce'])\n"
    "        if state['posts'] == 1:\n"
    "            log.write('badNonce on purpose\\n')\n"
    "            return self.problem(400, 'badNonce', 'the first nonce is always bad')\n"
    "        if prot['url'] != self.base() + self.path:\n"
    "            return self.problem(401, 'unauthorized', 'url mismatch')\n"
    "        b = self.base()\n"
    "        if self.path == '/acct':\n"
    "            return self.send(201, b'{\"status\":\"valid\"}', extra=[('Location', b + "
    "'/acct/1')])\n"
    "        if self.path == '/order':\n"
    "            if 'unavailable.example' in payload:\n"
    "                return self.problem(503, 'serverInternal', 'down for maintenance')\n"
    "            if 'limited.example' in payload:\n"
    "                return self.problem(429, 'rateLimited', 'too many orders',\n"
    "                                    [('Retry-After', '3600')])\n"
    "            o = {'status': 'ready', 'finalize': b + '/order/1/finalize',\n"
    "                 'authorizations': []}\n"
    "            return self.send(201, json.dumps(o).encode(), extra=[('Location', b + "
    "'/order/1')])\n"
    "        if self.path == '/order/1/finalize':\n"
    "            log.write('finalize %s\\n' % ('csr' in json.loads(payload)))\n"
    "            return self.send(200, b'{\"status\":\"processing\"}', extra=[('Retry-After', "
    "'1')])\n"
    "        if self.path == '/order/1':\n"
    "            polls['o'] = polls.get('o', 0) + 1\n"
    "            log.write('poll %d\\n' % polls['o'])\n"
    "            if polls['o'] < 3:\n"
    "                return self.send(200, b'{\"status\":\"processing\"}', extra=[('Retry-After', "
    "'1')])\n"
    "            o = {'status': 'valid', 'certificate': b + '/cert/1'}\n"
    "            return self.send(200, json.dumps(o).encode())\n"
    "        if self.path == '/cert/1':\n"
    "            return self.send(200, open(sys.argv[2], 'rb').read(),\n"
    "                             'application/pem-certificate-chain')\n"
    "        self.problem(404, 'malformed', 'no such resource ' + self.path)\n"
    "srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n";

/* Runs python3 @script (written to @dir/@name) with @a and @b; returns the port it prints. */
static guint
ck_test_start_python(const gchar *dir, const gchar *name, const gchar *text, const gchar *a,
		     const gchar *b, GPid *pid)
{
	g_autofree gchar *script = ck_test_write_file(dir, name, text);
	const gchar *argv[] = {"python3", script, a, b, NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(GIOChannel) channel = NULL;
	g_autofree gchar *line = NULL;
	guint64 port = 0;
	gint out_fd = -1;

	g_assert_true(g_spawn_async_with_pipes(
	    dir, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
	    ck_test_child_setup, NULL, pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	channel = g_io_channel_unix_new(out_fd);
	g_io_channel_set_close_on_unref(channel, TRUE);
	g_io_channel_read_line(channel, &line, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	g_assert_true(g_ascii_string_to_unsigned(g_strstrip(line), 10, 1, 65535, &port, NULL));
	return (guint)port;
}

static guint
ck_test_start_mock(const gchar *dir, const gchar *log, const gchar *chain, GPid *pid)
{
	return ck_test_start_python(dir, "mock-acme.py", ck_test_mock_acme_py, log, chain, pid);
}

/* exit 5 (still processing) with Retry-After and the order URL, then POLL; 503 and 429 */
static void
test_acme_processing_and_errors(void)
{
	g_autofree gchar *dir = NULL, *log = NULL, *chain_path = NULL, *chain = NULL;
	g_autofree gchar *directory = NULL, *dir_arg = NULL, *state = NULL, *csr = NULL;
	g_autofree gchar *csr_env = NULL, *out = NULL, *err = NULL, *cookie_env = NULL;
	g_autofree gchar *order_url = NULL, *expect = NULL, *journal = NULL;
	g_auto(GStrv) lines = NULL;
	GPid pid = 0;
	guint port;

	if (!ck_test_have_program("python3") || !ck_test_have_program("openssl")) {
		g_test_skip("python3 or openssl is not installed");
		return;
	}
	dir = ck_test_make_tmpdir();
	log = g_build_filename(dir, "mock.log", NULL);
	/* what the mock CA hands out: any PEM will do, the helper passes it on */
	{
		g_autofree gchar *key = g_build_filename(dir, "mock.key", NULL);
		const gchar *argv[] = {"openssl",
				       "req",
				       "-x509",
				       "-newkey",
				       "ec",
				       "-pkeyopt",
				       "ec_paramgen_curve:P-256",
				       "-nodes",
				       "-days",
				       "1",
				       "-subj",
				       "/CN=mock.example",
				       "-keyout",
				       key,
				       "-out",
				       NULL,
				       NULL};
		chain_path = g_build_filename(dir, "chain.pem", NULL);
		argv[15] = chain_path;
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
		g_assert_true(g_file_get_contents(chain_path, &chain, NULL, NULL));
	}
	port = ck_test_start_mock(dir, log, chain_path, &pid);
	directory = g_strdup_printf("http://127.0.0.1:%u/dir", port);
	dir_arg = g_strdup_printf("--directory=%s", directory);
	state = g_build_filename(dir, "state", NULL);
	csr = ck_test_make_csr(dir, "slow", "slow.example", "DNS:slow.example");
	csr_env = ck_test_env("CERTMONGER_CSR", csr);

	/* finalize answers "processing": after --challenge-timeout, wait N seconds and POLL */
	{
		const gchar *extra[] = {dir_arg, "--challenge-timeout=1", NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(NULL, state, extra, env, &out, &err), ==, 5);
	}
	expect = g_strdup_printf("5\nhttp://127.0.0.1:%u/order/1\n", port);
	g_assert_cmpstr(out, ==, expect);
	order_url = g_strdup_printf("http://127.0.0.1:%u/order/1", port);
	cookie_env = ck_test_env("CERTMONGER_CA_COOKIE", order_url);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	{
		const gchar *extra[] = {dir_arg, "--challenge-timeout=10", NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=POLL", cookie_env, csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(NULL, state, extra, env, &out, &err), ==, 0);
	}
	/* the chain as the CA sent it */
	g_assert_cmpstr(out, ==, chain);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	/* a CA in trouble: unreachable, with its words */
	{
		g_autofree gchar *down =
		    ck_test_make_csr(dir, "down", "unavailable.example", "DNS:unavailable.example");
		g_autofree gchar *down_env = ck_test_env("CERTMONGER_CSR", down);
		const gchar *extra[] = {dir_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", down_env, NULL};
		g_assert_cmpint(ck_test_run_helper(NULL, state, extra, env, &out, &err), ==, 3);
		g_assert_nonnull(strstr(out, "down for maintenance (serverInternal)"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	{
		g_autofree gchar *limited =
		    ck_test_make_csr(dir, "limited", "limited.example", "DNS:limited.example");
		g_autofree gchar *limited_env = ck_test_env("CERTMONGER_CSR", limited);
		const gchar *extra[] = {dir_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", limited_env, NULL};
		g_assert_cmpint(ck_test_run_helper(NULL, state, extra, env, &out, &err), ==, 3);
		g_assert_nonnull(strstr(out, "rateLimited"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* what the CA saw: one deliberate badNonce and then only fresh nonces, one finalize */
	g_assert_true(g_file_get_contents(log, &journal, NULL, NULL));
	g_test_message("mock CA log:\n%s", journal);
	g_assert_nonnull(strstr(journal, "badNonce on purpose\n"));
	g_assert_null(strstr(journal, "bad nonce"));
	lines = g_strsplit(journal, "\n", -1);
	{
		guint finalizes = 0, polls = 0;
		for (guint i = 0; lines[i] != NULL; i++) {
			if (g_strcmp0(lines[i], "finalize True") == 0)
				finalizes++;
			if (g_str_has_prefix(lines[i], "poll "))
				polls++;
		}
		g_assert_cmpuint(finalizes, ==, 1);
		g_assert_cmpuint(polls, ==, 3);
	}
	ck_test_stop_pid(&pid);
	ck_test_rm_rf(dir);
}

/* pebble-challtestsrv: the DNS pebble asks (everything is 127.0.0.1) and a TXT store. */
typedef struct {
	GPid pid;
	guint dns_port;
	guint mgmt_port;
	gchar *dns_server;
	gchar *log;
} CkChallSrv;

static void
ck_challsrv_free(CkChallSrv *c)
{
	if (c == NULL)
		return;
	ck_test_stop_pid(&c->pid);
	g_free(c->dns_server);
	g_free(c->log);
	g_free(c);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkChallSrv, ck_challsrv_free)

static CkChallSrv *
ck_challsrv_start(const gchar *dir)
{
	CkChallSrv *c = g_new0(CkChallSrv, 1);
	g_autofree gchar *dns = NULL, *mgmt = NULL;
	g_auto(GStrv) envp = g_get_environ();

	c->dns_port = ck_test_free_port();
	do {
		c->mgmt_port = ck_test_free_port();
	} while (c->mgmt_port == c->dns_port);
	dns = g_strdup_printf("127.0.0.1:%u", c->dns_port);
	mgmt = g_strdup_printf("127.0.0.1:%u", c->mgmt_port);
	c->log = g_build_filename(dir, "challtestsrv.log", NULL);
	{
		const gchar *argv[] = {"pebble-challtestsrv",
				       "-defaultIPv6",
				       "",
				       "-dns01",
				       dns,
				       "-http01",
				       "",
				       "-https01",
				       "",
				       "-tlsalpn01",
				       "",
				       "-management",
				       mgmt,
				       NULL};
		c->pid = ck_test_spawn_logged(dir, argv, (const gchar *const *)envp, c->log);
	}
	c->dns_server = g_strdup_printf("127.0.0.1:%u", c->dns_port);
	/* the management port answers once the DNS side is up too */
	for (guint i = 0; i < 200; i++) {
		g_autoptr(GSocketClient) client = g_socket_client_new();
		g_autoptr(GSocketConnection) conn = g_socket_client_connect_to_host(
		    client, "127.0.0.1", (guint16)c->mgmt_port, NULL, NULL);
		if (conn != NULL)
			return c;
		g_usleep(50 * 1000);
	}
	g_error("pebble-challtestsrv did not come up");
}

/* A dns-01 hook for challtestsrv's management API, written in Python (no curl needed). */
static const gchar ck_test_dns_hook_py[] =
    "import json, os, sys, urllib.request\n"
    "name = os.environ['CERTKEEPER_ACME_DNS_NAME'] + '.'\n"
    "action = os.environ['CERTKEEPER_ACME_ACTION']\n"
    "body = {'host': name}\n"
    "if action == 'add':\n"
    "    body['value'] = os.environ['CERTKEEPER_ACME_DNS_VALUE']\n"
    "path = '/set-txt' if action == 'add' else '/clear-txt'\n"
    "req = urllib.request.Request('http://127.0.0.1:%u' + path, json.dumps(body).encode())\n"
    "urllib.request.urlopen(req).read()\n"
    "with open(sys.argv[1], 'a') as log:\n"
    "    log.write(action + ' ' + name + '\\n')\n";

/* (b) real validation: pebble fetches the token from our http-01 responder, or the TXT record */
static void
test_acme_real_validation(void)
{
	CkPebbleSetup setup = {.always_valid = FALSE};
	g_autoptr(CkChallSrv) c = NULL;
	g_autoptr(CkPebble) p = NULL;
	g_autofree gchar *dir = NULL, *state = NULL, *csr = NULL, *csr_env = NULL;
	g_autofree gchar *listen = NULL, *wrong_listen = NULL, *out = NULL, *err = NULL;
	g_autofree gchar *log = NULL, *hook = NULL, *hook_text = NULL, *hook_log = NULL;
	g_autofree gchar *hook_arg = NULL, *hook_done = NULL, *wild = NULL, *wild_env = NULL;
	const gchar *names[] = {"acme-b.example", "www.acme-b.example", NULL};
	const gchar *wild_names[] = {"x.wild-b.example", "wild-b.example", NULL};

	if (!ck_test_have_peers())
		return;
	if (!ck_test_have_program("pebble-challtestsrv")) {
		g_test_skip("pebble-challtestsrv is not installed");
		return;
	}
	dir = ck_test_make_tmpdir();
	c = ck_challsrv_start(dir);
	setup.dns_server = c->dns_server;
	p = ck_pebble_start(&setup);
	state = g_build_filename(p->dir, "state", NULL);
	csr = ck_test_make_csr(p->dir, "b", "acme-b.example",
			       "DNS:acme-b.example,DNS:www.acme-b.example");
	csr_env = ck_test_env("CERTMONGER_CSR", csr);

	/* a responder where pebble does not look: validation fails, the CA says why */
	wrong_listen = g_strdup_printf("--http01-listen=127.0.0.1:%u", ck_test_free_port());
	{
		const gchar *extra[] = {wrong_listen, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 2);
		g_assert_nonnull(strstr(out, "acme-b.example"));
		g_assert_nonnull(strstr(out, "(connection)"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	/* on pebble's httpPort: issued after a real HTTP validation */
	listen = g_strdup_printf("--http01-listen=127.0.0.1:%u", p->http_port);
	{
		const gchar *extra[] = {listen, "--challenge-timeout=60", NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 0);
		ck_test_assert_issued(out, csr, p->root, names);
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}
	g_assert_true(g_file_get_contents(p->log, &log, NULL, NULL));
	g_assert_nonnull(strstr(log, "Attempting to validate w/ HTTP: http://acme-b.example:"));

	/* dns-01 through a hook, for a wildcard (http-01 cannot do those) */
	if (!ck_test_have_program("python3")) {
		g_test_message("python3 is not installed: dns-01 not tested");
		return;
	}
	hook_log = g_build_filename(dir, "hook.log", NULL);
	hook_text = g_strdup_printf(ck_test_dns_hook_py, c->mgmt_port);
	hook = ck_test_write_file(dir, "dns-hook.py", hook_text);
	hook_arg = g_strdup_printf("--dns01-hook=python3 %s %s", hook, hook_log);
	wild = ck_test_make_csr(p->dir, "wild", "wild-b.example",
				"DNS:*.wild-b.example,DNS:wild-b.example");
	wild_env = ck_test_env("CERTMONGER_CSR", wild);
	{
		const gchar *extra[] = {hook_arg, "--challenge-timeout=60", NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", wild_env, NULL};
		g_assert_cmpint(ck_test_run_helper(p, state, extra, env, &out, &err), ==, 0);
		ck_test_assert_issued(out, wild, p->root, wild_names);
	}
	/* every record added was removed again */
	g_assert_true(g_file_get_contents(hook_log, &hook_done, NULL, NULL));
	g_assert_nonnull(strstr(hook_done, "add _acme-challenge.wild-b.example.\n"));
	{
		g_auto(GStrv) lines = g_strsplit(hook_done, "\n", -1);
		guint adds = 0, removes = 0;
		for (guint i = 0; lines[i] != NULL; i++) {
			if (g_str_has_prefix(lines[i], "add "))
				adds++;
			else if (g_str_has_prefix(lines[i], "remove "))
				removes++;
		}
		g_assert_cmpuint(adds, >=, 1);
		g_assert_cmpuint(removes, ==, adds);
	}
	ck_test_rm_rf(dir);
}

/* The SHA-256 key id of the private key in @path (a PEM file the daemon wrote). */
static gchar *
ck_test_key_id_of_file(const gchar *path)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	guint8 id[64];
	size_t size = sizeof(id);
	gchar *hex;

	g_assert_cmpint(gnutls_load_file(path, &data), ==, 0);
	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_privkey_import_x509_raw(key, &data, GNUTLS_X509_FMT_PEM, NULL, 0),
			==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, key, 0, 0), ==, 0);
	g_assert_cmpint(gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, &size), ==, 0);
	hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, id, size);
	gnutls_pubkey_deinit(pub);
	gnutls_privkey_deinit(key);
	gnutls_free(data.data);
	return hex;
}

static gchar *
ck_test_key_id_of_cert(const gchar *pem)
{
	unsigned int n = 0;
	gnutls_x509_crt_t *certs = ck_test_import_chain(pem, &n);
	guint8 id[64];
	size_t size = sizeof(id);
	gchar *hex;

	g_assert_cmpuint(n, >=, 1);
	g_assert_cmpint(gnutls_x509_crt_get_key_id(certs[0], GNUTLS_KEYID_USE_SHA256, id, &size),
			==, 0);
	hex = g_compute_checksum_for_data(G_CHECKSUM_SHA256, id, size);
	ck_test_free_chain(certs, n);
	return hex;
}

/*
 * What was installed: the key file's key, chaining through @chain_file (or, for
 * certmonger, which keeps no chain, the @intermediate given) to @root.
 */
static void
ck_test_assert_installed(const gchar *cert_file, const gchar *key_file, const gchar *chain_file,
			 const gchar *intermediate, const gchar *root, const gchar *name)
{
	g_autofree gchar *cert = NULL, *chain = NULL, *both = NULL;
	g_autofree gchar *want = ck_test_key_id_of_file(key_file);
	g_autofree gchar *have = NULL;
	unsigned int n = 0, n_roots = 0;
	gnutls_x509_crt_t *certs, *roots;
	gnutls_x509_trust_list_t trust = NULL;
	unsigned int status = 1;

	g_assert_true(g_file_get_contents(cert_file, &cert, NULL, NULL));
	have = ck_test_key_id_of_cert(cert);
	g_assert_cmpstr(have, ==, want);
	if (chain_file != NULL)
		g_assert_true(g_file_get_contents(chain_file, &chain, NULL, NULL));
	both = g_strconcat(cert, chain != NULL ? chain : "",
			   intermediate != NULL ? intermediate : "", NULL);
	certs = ck_test_import_chain(both, &n);
	roots = ck_test_import_chain(root, &n_roots);
	g_assert_cmpuint(n, >=, 2);
	g_assert_true(gnutls_x509_crt_check_hostname(certs[0], name));
	g_assert_cmpint(gnutls_x509_trust_list_init(&trust, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_trust_list_add_cas(trust, roots, n_roots, 0), ==, (int)n_roots);
	g_assert_cmpint(gnutls_x509_trust_list_verify_crt(trust, certs, n, 0, &status, NULL), ==,
			0);
	g_assert_cmpuint(status, ==, 0);
	gnutls_free(roots);
	gnutls_x509_trust_list_deinit(trust, 1);
	ck_test_free_chain(certs, n);
}

/* The helper's command line for a CA configuration: every option the tests need. */
static gchar *
ck_test_helper_command(CkPebble *p, const gchar *state, const gchar *webroot)
{
	g_autofree gchar *helper = g_shell_quote(ck_test_helper_path());
	g_autofree gchar *trust = g_shell_quote(p->tls_cert);
	g_autofree gchar *state_q = g_shell_quote(state);
	g_autofree gchar *webroot_q = g_shell_quote(webroot);
	return g_strdup_printf("%s --directory %s --trust %s --state-dir %s --http01-webroot %s "
			       "--roots-url %s --challenge-timeout 30",
			       helper, p->directory_url, trust, state_q, webroot_q, p->root_url);
}

/*
 * The daemon's configuration for pebble @p, the way an administrator writes it
 * (Type=acme: the daemon builds the helper's command), with @retries in [renewal].
 */
static gchar *
ck_test_acme_config(CkTestDaemon *td, CkPebble *p, const gchar *retries)
{
	g_autofree gchar *webroot = ck_test_daemon_path(td, "www");
	return g_strdup_printf("[certkeeperd]\nHelperDirectory=%s/daemon/helpers\n"
			       "[renewal]\nRenewJitterMax=0\n%s\n"
			       "[ca acme]\nType=acme\nDirectory=%s\nTrust=%s\nHTTP01Webroot=%s\n"
			       "RootsURL=%s\nChallengeTimeout=30\nTimeout=60\n",
			       g_getenv("CK_TOP_BUILDDIR"), retries, p->directory_url, p->tls_cert,
			       webroot, p->root_url);
}

/* (c) through certkeeperd: a request reaches MONITORING, then renews itself */
static void
test_acme_daemon(void)
{
	CkPebbleSetup setup = {.always_valid = TRUE, .validity = 60};
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkPebble) p = NULL;
	g_autoptr(JsonObject) first = NULL;
	g_autofree gchar *config = NULL, *account = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *chain = NULL, *serial = NULL;
	g_autofree gchar *err = NULL;
	gint64 deadline;

	if (!ck_test_have_peers())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	p = ck_pebble_start(&setup);
	config = ck_test_acme_config(td, p, "RetryDelay=5s\nRetryDelayMax=10s\n");
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "acme.crt");
	key = ck_test_daemon_path(td, "acme.key");
	chain = ck_test_daemon_path(td, "acme-chain.crt");

	/* 60 s certificates renewed 40 s before they expire: a renewal about 20 s in */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-I", "acme", "-c",
				    "acme", "-f", cert, "-k", key, "-F", chain, "-N",
				    "CN=acme-c.example", "-D", "acme-c.example",
				    "--renew-before=40s", "-w", "--wait-timeout=60", NULL),
			==, 0);
	first = ck_test_request_json(td, "acme");
	g_assert_nonnull(first);
	g_assert_cmpstr(json_object_get_string_member(first, "State"), ==, "MONITORING");
	g_assert_cmpstr(json_object_get_string_member(first, "CA"), ==, "acme");
	serial = g_strdup(json_object_get_string_member(first, "Serial"));
	g_assert_nonnull(serial);
	g_assert_cmpstr(serial, !=, "");
	ck_test_assert_installed(cert, key, chain, NULL, p->root, "acme-c.example");
	/* the account lives in the state directory the daemon gave the CA */
	account = g_build_filename(td->state_dir, "ca-state", "acme", "account.key", NULL);
	g_assert_true(g_file_test(account, G_FILE_TEST_IS_REGULAR));
	g_assert_cmpint(ck_test_file_mode(account), ==, 0600);
	/* the lifetime is pebble's, not the daemon's default */
	g_assert_cmpint(json_object_get_int_member(first, "NotAfter") -
			    json_object_get_int_member(first, "NotBefore"),
			<=, 61);

	/* the renewal: a new serial, installed, from the same CA (bounded: well before expiry) */
	deadline = g_get_monotonic_time() + 50 * G_USEC_PER_SEC;
	for (;;) {
		g_autoptr(JsonObject) now = ck_test_request_json(td, "acme");
		const gchar *state_name;
		g_assert_nonnull(now);
		state_name = json_object_get_string_member(now, "State");
		if (g_strcmp0(state_name, "MONITORING") == 0 &&
		    g_strcmp0(json_object_get_string_member(now, "Serial"), serial) != 0)
			break;
		if (g_get_monotonic_time() > deadline) {
			g_autofree gchar *log = NULL;
			g_file_get_contents(td->daemon_log, &log, NULL, NULL);
			g_error("no renewal within 50 s (state %s); daemon log:\n%s", state_name,
				log != NULL ? log : "");
		}
		g_usleep(500 * 1000);
	}
	ck_test_assert_installed(cert, key, chain, NULL, p->root, "acme-c.example");
	{
		g_autofree gchar *pem = NULL;
		g_autofree gchar *new_serial = NULL;
		g_autoptr(JsonObject) status = NULL;
		g_assert_true(g_file_get_contents(cert, &pem, NULL, NULL));
		new_serial = ck_test_leaf_serial(pem);
		g_assert_cmpstr(new_serial, !=, serial);
		/* pebble issued it: it knows the serial */
		status = ck_test_cert_status(p, new_serial);
		g_assert_cmpstr(json_object_get_string_member(status, "Status"), ==, "Valid");
		g_clear_pointer(&status, json_object_unref);

		/* revoked on demand, through the daemon and the helper's REVOKE: pebble has the
		 * installed certificate revoked with the reason given, the first one not */
		g_clear_pointer(&err, g_free);
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "revoke", "-i", "acme",
					    "--reason", "keyCompromise", NULL),
				==, 0);
		status = ck_test_cert_status(p, new_serial);
		g_assert_cmpstr(json_object_get_string_member(status, "Status"), ==, "Revoked");
		g_assert_cmpint(json_object_get_int_member(status, "Reason"), ==, 1);
		g_clear_pointer(&status, json_object_unref);
		{
			g_autofree gchar *first_serial = ck_test_leaf_serial_hex(serial);
			status = ck_test_cert_status(p, first_serial);
			g_assert_cmpstr(json_object_get_string_member(status, "Status"), ==,
					"Valid");
		}
	}
	{
		/* the request stays, marked, with no renewal planned */
		g_autoptr(JsonObject) now = ck_test_request_json(td, "acme");
		g_assert_cmpstr(json_object_get_string_member(now, "State"), ==, "MONITORING");
		g_assert_cmpint(json_object_get_int_member(now, "Revoked"), >, 0);
		g_assert_cmpstr(json_object_get_string_member(now, "RevocationReason"), ==,
				"keyCompromise");
		g_assert_cmpint(json_object_get_int_member(now, "RenewalTime"), ==, 0);
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* Resilience through certkeeperd, on a compressed clock */

/* Does CA @name's CA1.RootCertificates (from list-cas --json) hold @root? */
static gboolean
ck_test_ca_trusts(CkTestDaemon *td, const gchar *name, const gchar *root)
{
	g_autofree gchar *out = NULL;
	g_autoptr(JsonNode) node = NULL;
	unsigned int n_want = 0;
	gnutls_x509_crt_t *want = ck_test_import_chain(root, &n_want);
	gboolean found = FALSE;
	JsonArray *cas;

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &out, NULL, "list-cas", "--json", NULL), ==,
			0);
	node = json_from_string(out, NULL);
	g_assert_true(node != NULL && JSON_NODE_HOLDS_ARRAY(node));
	cas = json_node_get_array(node);
	for (guint i = 0; i < json_array_get_length(cas); i++) {
		JsonObject *ca = json_array_get_object_element(cas, i);
		JsonArray *roots;
		if (g_strcmp0(ck_test_json_string(ca, "Name"), name) != 0)
			continue;
		roots = json_object_get_array_member(ca, "RootCertificates");
		for (guint j = 0; roots != NULL && j < json_array_get_length(roots); j++) {
			unsigned int n = 0;
			gnutls_x509_crt_t *have =
			    ck_test_import_chain(json_array_get_string_element(roots, j), &n);
			found = found || (n > 0 && gnutls_x509_crt_equals(have[0], want[0]));
			ck_test_free_chain(have, n);
		}
	}
	ck_test_free_chain(want, n_want);
	return found;
}

/*
 * Enroll; a renewal by itself; pebble stopped while the next renewal is due (the
 * request waits as CA_UNREACHABLE, retries and keeps its files); pebble started
 * again on the same ports, as a new CA (new root, no accounts): the request
 * recovers without anyone acting, and the daemon trusts the new root.
 */
static void
test_acme_daemon_outage(void)
{
	CkPebbleSetup setup = {.always_valid = TRUE, .validity = 30};
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkPebble) p = NULL;
	g_autoptr(JsonObject) first = NULL, renewed = NULL, down = NULL, again = NULL;
	g_autoptr(JsonObject) back = NULL;
	g_autofree gchar *config = NULL, *cert = NULL, *key = NULL, *chain = NULL;
	g_autofree gchar *old_root = NULL, *old_serial = NULL, *old_cert = NULL;
	g_autofree gchar *old_key = NULL, *old_chain = NULL;
	CkTestRequestWait wait = {0};

	if (!ck_test_have_peers())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	p = ck_pebble_start(&setup);
	config = ck_test_acme_config(td, p, "RetryDelay=1s\nRetryDelayMax=3s\nMaxAttempts=100\n");
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "out.crt");
	key = ck_test_daemon_path(td, "out.key");
	chain = ck_test_daemon_path(td, "out-chain.crt");
	old_root = g_strdup(p->root);

	/* 30 s certificates renewed 25 s before they expire: 5 s after each issue */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "acmeout", "-c",
				    "acme", "-f", cert, "-k", key, "-F", chain, "-N",
				    "CN=acme-out.example", "-D", "acme-out.example",
				    "--renew-before=25s", "-w", "--wait-timeout=60", NULL),
			==, 0);
	first = ck_test_request_json(td, "acmeout");
	g_assert_nonnull(first);
	g_assert_cmpstr(ck_test_json_string(first, "State"), ==, "MONITORING");
	g_assert_true(ck_test_ca_trusts(td, "acme", old_root));

	/* 1. the renewal comes by itself */
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	renewed = ck_test_wait_request(td, "acmeout", &wait, 30);
	ck_test_assert_installed(cert, key, chain, NULL, p->root, "acme-out.example");

	/* 2. pebble goes away: the next renewal cannot reach it */
	ck_pebble_stop(p);
	wait = (CkTestRequestWait){.state = "CA_UNREACHABLE", .error_part = p->directory_url};
	down = ck_test_wait_request(td, "acmeout", &wait, 30);
	g_test_message("while pebble is away: %s", ck_test_json_string(down, "LastError"));
	g_assert_nonnull(
	    strstr(ck_test_json_string(down, "LastError"), "CA 'acme' is unreachable"));
	g_assert_cmpint(json_object_get_int_member(down, "NextAttempt"), >, 0);
	old_serial = g_strdup(ck_test_json_string(down, "Serial"));
	g_assert_cmpstr(old_serial, !=, ck_test_json_string(first, "Serial"));
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	old_chain = ck_test_read_file(chain);
	wait = (CkTestRequestWait){.state = "CA_UNREACHABLE",
				   .error_part = p->directory_url,
				   .min_failed =
				       json_object_get_int_member(down, "FailedAttempts") + 1};
	again = ck_test_wait_request(td, "acmeout", &wait, 20);
	g_assert_cmpint(json_object_get_int_member(again, "NextAttempt"), >, 0);
	g_assert_cmpstr(ck_test_json_string(again, "Serial"), ==, old_serial);
	{
		g_autofree gchar *c = ck_test_read_file(cert), *k = ck_test_read_file(key);
		g_autofree gchar *ch = ck_test_read_file(chain);
		g_assert_cmpstr(c, ==, old_cert);
		g_assert_cmpstr(k, ==, old_key);
		g_assert_cmpstr(ch, ==, old_chain);
	}
	ck_test_assert_installed(cert, key, chain, NULL, old_root, "acme-out.example");
	g_assert_true(ck_test_daemon_is_running(td));

	/* 3. pebble is back on its ports, with a new root and without our account */
	ck_pebble_restart(p);
	g_assert_cmpstr(p->root, !=, old_root);
	wait = (CkTestRequestWait){.state = "MONITORING", .not_serial = old_serial};
	back = ck_test_wait_request(td, "acmeout", &wait, 40);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	ck_test_assert_installed(cert, key, chain, NULL, p->root, "acme-out.example");
	{
		g_autofree gchar *c = ck_test_read_file(cert);
		g_assert_cmpstr(c, !=, old_cert);
	}
	/* what it validates against from now on is the CA's new root, fetched when the
	 * first chain under it came */
	g_assert_true(ck_test_ca_trusts(td, "acme", p->root));
	g_assert_false(ck_test_ca_trusts(td, "acme", old_root));
	{
		g_autofree gchar *log = ck_test_read_file(td->daemon_log);
		g_assert_nonnull(strstr(log, "request acmeout: The issued certificate does not "
					     "verify to the CA's trust anchors"));
		g_assert_nonnull(strstr(log, "fetching the roots of CA acme again"));
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* A renewal for a name the CA refuses: CA_REJECTED in its words, nothing replaced. */
static void
test_acme_daemon_rejected(void)
{
	CkPebbleSetup setup = {.always_valid = TRUE};
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkPebble) p = NULL;
	g_autoptr(JsonObject) ok = NULL, rejected = NULL, later = NULL;
	g_autofree gchar *config = NULL, *cert = NULL, *key = NULL, *chain = NULL;
	g_autofree gchar *old_cert = NULL, *old_key = NULL, *old_chain = NULL;
	CkTestRequestWait wait = {0};

	if (!ck_test_have_peers())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	p = ck_pebble_start(&setup);
	config = ck_test_acme_config(td, p, "RetryDelay=1s\nRetryDelayMax=3s\n");
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "rej.crt");
	key = ck_test_daemon_path(td, "rej.key");
	chain = ck_test_daemon_path(td, "rej-chain.crt");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "acmerej", "-c",
				    "acme", "-f", cert, "-k", key, "-F", chain, "-N",
				    "CN=acme-rej.example", "-D", "acme-rej.example", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	ok = ck_test_request_json(td, "acmerej");
	g_assert_cmpstr(ck_test_json_string(ok, "State"), ==, "MONITORING");
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	old_chain = ck_test_read_file(chain);

	/* blocked.example is on pebble's block list */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "acmerej", "-N",
				    "CN=blocked.example", "-D", "blocked.example", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "CA_REJECTED", .error_part = "rejectedIdentifier"};
	rejected = ck_test_wait_request(td, "acmerej", &wait, 40);
	g_test_message("blocked name: %s", ck_test_json_string(rejected, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(rejected, "LastError"), "blocked.example"));
	g_assert_nonnull(
	    strstr(ck_test_json_string(rejected, "LastError"), "CA 'acme' rejected the request"));
	g_assert_cmpint(json_object_get_int_member(rejected, "NextAttempt"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(rejected, "Serial"), ==,
			ck_test_json_string(ok, "Serial"));
	{
		g_autofree gchar *c = ck_test_read_file(cert), *k = ck_test_read_file(key);
		g_autofree gchar *ch = ck_test_read_file(chain);
		g_assert_cmpstr(c, ==, old_cert);
		g_assert_cmpstr(k, ==, old_key);
		g_assert_cmpstr(ch, ==, old_chain);
	}
	ck_test_assert_installed(cert, key, chain, NULL, p->root, "acme-rej.example");
	/* a refusal waits for a human: no retries */
	g_usleep(3 * G_USEC_PER_SEC);
	later = ck_test_request_json(td, "acmerej");
	g_assert_cmpstr(ck_test_json_string(later, "State"), ==, "CA_REJECTED");
	g_assert_cmpint(json_object_get_int_member(later, "FailedAttempts"), ==,
			json_object_get_int_member(rejected, "FailedAttempts"));
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/*
 * A scripted ACME CA that issues for real (openssl, from a CA in its directory)
 * and breaks on demand: argv[1] is its directory, argv[2] a control file whose
 * content is re-read at every request and names the breakage:
 *   html          the certificate download answers an HTML error page
 *   huge          ... 8 MiB
 *   truncated     ... half the announced body, then the connection closes
 *   pem-garbage   ... a PEM block that holds no certificate
 *   order-garbage the new order answers a body that is no JSON
 */
static const gchar ck_test_broken_acme_py[] = CK_TEST_ACME_PY_BASE
    "import os, subprocess, sys\n"
    "d, control = sys.argv[1], sys.argv[2]\n"
    "certs = {}\n"
    "def mode():\n"
    "    try:\n"
    "        return open(control).read().strip()\n"
    "    except OSError:\n"
    "        return ''\n"
    "class H(Base):\n"
    "    def do_GET(self):\n"
    "        b = self.base()\n"
    "        self.send(200, json.dumps({'newNonce': b + '/nonce', 'newAccount': b + '/acct',\n"
    "                                   'newOrder': b + '/order',\n"
    "                                   'revokeCert': b + '/revoke'}).encode())\n"
    "    def do_POST(self):\n"
    "        jws = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
    "        payload = b64d(jws['payload']).decode() if jws['payload'] else ''\n"
    "        b, m, n = self.base(), mode(), next(counter)\n"
    "        if self.path == '/acct':\n"
    "            return self.send(201, b'{\"status\":\"valid\"}', extra=[('Location', b + "
    "'/acct/1')])\n"
    "        if self.path == '/order':\n"
    "            if m == 'order-garbage':\n"
    "                return self.send(201, b'{\"status\": \"ready\", \"finalize\": ')\n"
    "            o = {'status': 'ready', 'finalize': b + '/finalize/%d' % n, 'authorizations': "
    "[]}\n"
    "            return self.send(201, json.dumps(o).encode(), extra=[('Location', b + "
    "'/order/%d' % n)])\n"
    "        if self.path.startswith('/finalize/'):\n"
    "            n = self.path.split('/')[-1]\n"
    "            csr = b64d(json.loads(payload)['csr'])\n"
    "            leaf = subprocess.run(['openssl', 'x509', '-req', '-inform', 'DER', '-CA',\n"
    "                                   os.path.join(d, 'ca.pem'), '-CAkey', os.path.join(d, "
    "'ca.key'),\n"
    "                                   '-set_serial', str(int.from_bytes(os.urandom(8), "
    "'big')),\n"
    "                                   '-days', '1', '-copy_extensions', 'copy'],\n"
    "                                  input=csr, capture_output=True, check=True).stdout\n"
    "            certs[n] = leaf + open(os.path.join(d, 'ca.pem'), 'rb').read()\n"
    "            o = {'status': 'valid', 'certificate': b + '/cert/' + n}\n"
    "            return self.send(200, json.dumps(o).encode(), extra=[('Location', b + "
    "'/order/' + n)])\n"
    "        if self.path.startswith('/cert/'):\n"
    "            pem = certs[self.path.split('/')[-1]]\n"
    "            if m == 'html':\n"
    "                return self.send(200, b'<html><body>502 Bad Gateway</body></html>\\n',\n"
    "                                 'text/html')\n"
    "            if m == 'huge':\n"
    "                return self.send(200, b'A' * (8 << 20), 'application/pem-certificate-chain')\n"
    "            if m == 'pem-garbage':\n"
    "                return self.send(200, b'-----BEGIN "
    "CERTIFICATE-----\\nbm90IGEgY2VydGlmaWNhdGU=\\n'\n"
    "                                 b'-----END CERTIFICATE-----\\n', "
    "'application/pem-certificate-chain')\n"
    "            return self.send(200, pem, 'application/pem-certificate-chain',\n"
    "                             cut=(m == 'truncated'))\n"
    "        self.send(404, b'{\"type\":\"urn:ietf:params:acme:error:malformed\"}',\n"
    "                  'application/problem+json')\n"
    "srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n";

/*
 * Broken answers from an ACME CA to a renewal: an HTML page, 8 MiB, a cut-off
 * body, a PEM block without a certificate, an order that is no JSON. Each is
 * retried as CA_UNREACHABLE with a message that says what was wrong, the daemon
 * keeps answering and the installed files stay; once the CA behaves, the request
 * recovers by itself.
 */
static void
test_acme_daemon_malformed(void)
{
	static const struct {
		const gchar *mode;
		const gchar *says;
	} broken[] = {
	    {"html", "is not a PEM chain"},
	    {"huge", "is larger than the limit of"},
	    {"truncated", "the body is shorter than announced"},
	    {"pem-garbage", "reported success, but"},
	    {"order-garbage", "is not a JSON object"},
	};
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(JsonObject) ok = NULL, back = NULL;
	g_autofree gchar *dir = NULL, *control = NULL, *config = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *chain = NULL, *old_cert = NULL, *old_key = NULL, *old_chain = NULL;
	g_autofree gchar *ca_key = NULL, *ca_pem = NULL;
	CkTestRequestWait wait = {0};
	gint64 failed = 0;
	GPid pid = 0;
	guint port;

	if (!ck_test_have_program("python3") || !ck_test_have_program("openssl")) {
		g_test_skip("python3 or openssl is not installed");
		return;
	}
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	dir = ck_test_daemon_path(td, "broken-ca");
	g_assert_cmpint(g_mkdir(dir, 0700), ==, 0);
	ca_key = g_build_filename(dir, "ca.key", NULL);
	ca_pem = g_build_filename(dir, "ca.pem", NULL);
	{
		const gchar *argv[] = {"openssl",
				       "req",
				       "-x509",
				       "-newkey",
				       "ec",
				       "-pkeyopt",
				       "ec_paramgen_curve:P-256",
				       "-nodes",
				       "-days",
				       "2",
				       "-subj",
				       "/CN=broken ACME test CA",
				       "-keyout",
				       ca_key,
				       "-out",
				       ca_pem,
				       NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	}
	control = g_build_filename(dir, "control", NULL);
	port =
	    ck_test_start_python(dir, "broken-acme.py", ck_test_broken_acme_py, dir, control, &pid);
	config = g_strdup_printf("[certkeeperd]\nHelperDirectory=%s/daemon/helpers\n"
				 "[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=3s\n"
				 "MaxAttempts=100\n"
				 "[ca broken]\nType=acme\nDirectory=http://127.0.0.1:%u/dir\n"
				 "Timeout=30\n",
				 g_getenv("CK_TOP_BUILDDIR"), port);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "broken.crt");
	key = ck_test_daemon_path(td, "broken.key");
	chain = ck_test_daemon_path(td, "broken-chain.crt");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "acmebroken",
				    "-c", "broken", "-f", cert, "-k", key, "-F", chain, "-N",
				    "CN=broken.example", "-D", "broken.example", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	ok = ck_test_request_json(td, "acmebroken");
	g_assert_cmpstr(ck_test_json_string(ok, "State"), ==, "MONITORING");
	{
		g_autofree gchar *root = ck_test_read_file(ca_pem);
		ck_test_assert_installed(cert, key, chain, NULL, root, "broken.example");
	}
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	old_chain = ck_test_read_file(chain);

	for (guint i = 0; i < G_N_ELEMENTS(broken); i++) {
		g_autoptr(JsonObject) now = NULL;
		g_autofree gchar *c = NULL, *k = NULL, *ch = NULL;
		g_assert_true(g_file_set_contents(control, broken[i].mode, -1, NULL));
		if (i == 0)
			g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i",
						    "acmebroken", NULL),
					==, 0);
		wait = (CkTestRequestWait){.state = "CA_UNREACHABLE",
					   .error_part = broken[i].says,
					   .min_failed = failed + 1};
		now = ck_test_wait_request(td, "acmebroken", &wait, 30);
		g_test_message("%s: %s", broken[i].mode, ck_test_json_string(now, "LastError"));
		g_assert_nonnull(strstr(ck_test_json_string(now, "LastError"), "CA 'broken'"));
		g_assert_cmpint(json_object_get_int_member(now, "NextAttempt"), >, 0);
		g_assert_cmpstr(ck_test_json_string(now, "Serial"), ==,
				ck_test_json_string(ok, "Serial"));
		failed = json_object_get_int_member(now, "FailedAttempts");
		c = ck_test_read_file(cert);
		k = ck_test_read_file(key);
		ch = ck_test_read_file(chain);
		g_assert_cmpstr(c, ==, old_cert);
		g_assert_cmpstr(k, ==, old_key);
		g_assert_cmpstr(ch, ==, old_chain);
		g_assert_true(ck_test_daemon_is_running(td));
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "list", NULL), ==, 0);
	}

	/* the CA behaves again: the next retry installs a new certificate, nobody acts */
	g_assert_true(g_file_set_contents(control, "", -1, NULL));
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(ok, "Serial")};
	back = ck_test_wait_request(td, "acmebroken", &wait, 30);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	{
		g_autofree gchar *root = ck_test_read_file(ca_pem);
		ck_test_assert_installed(cert, key, chain, NULL, root, "broken.example");
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	ck_test_stop_pid(&pid);
}

/*
 * A scripted ACME server with renewal information (RFC 9773), which pebble 2.4
 * lacks. It issues from its own CA (python3-cryptography) without challenges,
 * one-day certificates whose ARI certID it computes itself, and answers
 * renewalInfo/<certID> from the control file argv[2], read at every request:
 * {"ari": bool, "windows": [[from, to, retry-after or null, "mode"], ...]}, the
 * n-th issued certificate getting the n-th entry (the last one repeats), the
 * window as offsets in seconds from its issuance; mode "garbage" answers
 * nonsense. Unknown certIDs get 404. Every request is logged to argv[1].
 */
static const gchar ck_test_mock_ari_py[] = CK_TEST_ACME_PY_BASE
    "import datetime, sys\n"
    "from cryptography import x509\n"
    "from cryptography.hazmat.primitives import hashes, serialization\n"
    "from cryptography.hazmat.primitives.asymmetric import ec\n"
    "from cryptography.x509.oid import NameOID\n"
    "log = open(sys.argv[1], 'a', buffering=1)\n"
    "certs, orders = {}, {}\n"
    "now = lambda: datetime.datetime.now(datetime.timezone.utc)\n"
    "ca_key = ec.generate_private_key(ec.SECP256R1())\n"
    "ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, 'mock ARI CA')])\n"
    "ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())\n"
    "ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)\n"
    "      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())\n"
    "      .not_valid_before(now() - datetime.timedelta(days=1))\n"
    "      .not_valid_after(now() + datetime.timedelta(days=30))\n"
    "      .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)\n"
    "      .add_extension(ca_ski, critical=False)\n"
    "      .sign(ca_key, hashes.SHA256()))\n"
    "ca_pem = ca.public_bytes(serialization.Encoding.PEM)\n"
    "def b64e(b):\n"
    "    return base64.urlsafe_b64encode(b).decode().rstrip('=')\n"
    "def cert_id(serial):\n"
    "    der = serial.to_bytes((serial.bit_length() + 8) // 8, 'big')\n"
    "    return b64e(ca_ski.digest) + '.' + b64e(der)\n"
    "def rfc3339(t):\n"
    "    return t.strftime('%Y-%m-%dT%H:%M:%SZ')\n"
    "def control():\n"
    "    return json.load(open(sys.argv[2]))\n"
    "def issue(csr_der):\n"
    "    csr = x509.load_der_x509_csr(csr_der)\n"
    "    serial = x509.random_serial_number()\n"
    "    b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca_name)\n"
    "         .public_key(csr.public_key()).serial_number(serial)\n"
    "         .not_valid_before(now() - datetime.timedelta(minutes=1))\n"
    "         .not_valid_after(now() + datetime.timedelta(days=1))\n"
    "         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(\n"
    "             ca_ski), critical=False))\n"
    "    try:\n"
    "        san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)\n"
    "        b = b.add_extension(san.value, critical=False)\n"
    "    except x509.ExtensionNotFound:\n"
    "        pass\n"
    "    leaf = b.sign(ca_key, hashes.SHA256())\n"
    "    certs[cert_id(serial)] = (len(certs), now())\n"
    "    log.write('issued %s\\n' % cert_id(serial))\n"
    "    return leaf.public_bytes(serialization.Encoding.PEM) + ca_pem\n"
    "class H(Base):\n"
    "    def do_GET(self):\n"
    "        b = self.base()\n"
    "        if self.path == '/dir':\n"
    "            d = {'newNonce': b + '/nonce', 'newAccount': b + '/acct',\n"
    "                 'newOrder': b + '/order'}\n"
    "            if control().get('ari', True):\n"
    "                d['renewalInfo'] = b + '/ari/'\n"
    "            return self.send(200, json.dumps(d).encode())\n"
    "        if self.path == '/roots':\n"
    "            return self.send(200, ca_pem, 'application/pem-certificate-chain')\n"
    "        if self.path.startswith('/ari/'):\n"
    "            cid = self.path[len('/ari/'):]\n"
    "            log.write('ari %s\\n' % cid)\n"
    "            if cid not in certs:\n"
    "                return self.problem(404, 'malformed', 'no certificate ' + cid)\n"
    "            n, at = certs[cid]\n"
    "            ws = control()['windows']\n"
    "            w = ws[min(n, len(ws) - 1)]\n"
    "            if len(w) > 3 and w[3] == 'garbage':\n"
    "                return self.send(200, b'{\"suggestedWindow\": {\"start\": \"soon\"}}')\n"
    "            body = {'suggestedWindow': {\n"
    "                'start': rfc3339(at + datetime.timedelta(seconds=w[0])),\n"
    "                'end': rfc3339(at + datetime.timedelta(seconds=w[1]))},\n"
    "                'explanationURL': b + '/why'}\n"
    "            extra = [('Retry-After', str(w[2]))] if w[2] is not None else []\n"
    "            return self.send(200, json.dumps(body).encode(), extra=extra)\n"
    "        self.problem(404, 'malformed', 'no such resource ' + self.path)\n"
    "    def do_POST(self):\n"
    "        jws = json.loads(self.rfile.read(int(self.headers['Content-Length'])))\n"
    "        prot = json.loads(b64d(jws['protected']))\n"
    "        payload = b64d(jws['payload']).decode() if jws['payload'] else ''\n"
    "        if prot.get('nonce') not in issued:\n"
    "            return self.problem(400, 'badNonce', 'unknown or reused nonce')\n"
    "        issued.discard(prot['nonce'])\n"
    "        b = self.base()\n"
    "        if self.path == '/acct':\n"
    "            return self.send(201, b'{\"status\":\"valid\"}', extra=[('Location', b + "
    "'/acct/1')])\n"
    "        if self.path == '/order':\n"
    "            n = len(orders) + 1\n"
    "            orders[n] = {'status': 'ready', 'finalize': b + '/order/%d/finalize' % n,\n"
    "                         'authorizations': []}\n"
    "            return self.send(201, json.dumps(orders[n]).encode(),\n"
    "                             extra=[('Location', b + '/order/%d' % n)])\n"
    "        parts = self.path.split('/')\n"
    "        if len(parts) == 4 and parts[1] == 'order' and parts[3] == 'finalize':\n"
    "            n = int(parts[2])\n"
    "            pem = issue(b64d(json.loads(payload)['csr']))\n"
    "            orders[n] = {'status': 'valid', 'certificate': b + '/cert/%d' % n, 'pem': pem}\n"
    "            o = {k: v for k, v in orders[n].items() if k != 'pem'}\n"
    "            return self.send(200, json.dumps(o).encode())\n"
    "        if len(parts) == 3 and parts[1] == 'order':\n"
    "            o = {k: v for k, v in orders[int(parts[2])].items() if k != 'pem'}\n"
    "            return self.send(200, json.dumps(o).encode())\n"
    "        if len(parts) == 3 and parts[1] == 'cert':\n"
    "            return self.send(200, orders[int(parts[2])]['pem'],\n"
    "                             'application/pem-certificate-chain')\n"
    "        self.problem(404, 'malformed', 'no such resource ' + self.path)\n"
    "srv = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n";

typedef struct {
	gchar *dir;
	gchar *log;
	gchar *control;
	gchar *directory_url;
	gchar *roots_url;
	GPid pid;
	guint port;
} CkMockAri;

static void
ck_mock_ari_free(CkMockAri *m)
{
	ck_test_stop_pid(&m->pid);
	ck_test_rm_rf(m->dir);
	g_free(m->dir);
	g_free(m->log);
	g_free(m->control);
	g_free(m->directory_url);
	g_free(m->roots_url);
	g_free(m);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkMockAri, ck_mock_ari_free)

static gboolean
ck_test_have_mock_ari(void)
{
	const gchar *argv[] = {"python3", "-c", "import cryptography.x509", NULL};
	if (!ck_test_have_program("python3") || ck_test_run(argv, NULL, NULL) != 0) {
		g_test_skip("python3 with the cryptography module is not installed "
			    "(apt-get install python3-cryptography)");
		return FALSE;
	}
	return TRUE;
}

static void
ck_mock_ari_control(CkMockAri *m, const gchar *json)
{
	g_assert_true(g_file_set_contents(m->control, json, -1, NULL));
}

static CkMockAri *
ck_mock_ari_start(const gchar *control)
{
	CkMockAri *m = g_new0(CkMockAri, 1);
	g_autofree gchar *script = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GIOChannel) channel = NULL;
	g_autofree gchar *line = NULL;
	const gchar *argv[] = {"python3", NULL, NULL, NULL, NULL};
	guint64 port = 0;
	gint out_fd = -1;

	m->dir = ck_test_make_tmpdir();
	m->log = g_build_filename(m->dir, "mock-ari.log", NULL);
	m->control = g_build_filename(m->dir, "control.json", NULL);
	ck_mock_ari_control(m, control);
	script = ck_test_write_file(m->dir, "mock-ari.py", ck_test_mock_ari_py);
	argv[1] = script;
	argv[2] = m->log;
	argv[3] = m->control;
	g_assert_true(g_spawn_async_with_pipes(
	    m->dir, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
	    ck_test_child_setup, NULL, &m->pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	channel = g_io_channel_unix_new(out_fd);
	g_io_channel_set_close_on_unref(channel, TRUE);
	g_io_channel_read_line(channel, &line, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	g_assert_true(g_ascii_string_to_unsigned(g_strstrip(line), 10, 1, 65535, &port, NULL));
	m->port = (guint)port;
	m->directory_url = g_strdup_printf("http://127.0.0.1:%u/dir", m->port);
	m->roots_url = g_strdup_printf("http://127.0.0.1:%u/roots", m->port);
	return m;
}

/* How many lines of the mock's log start with @prefix. */
static guint
ck_mock_ari_count(CkMockAri *m, const gchar *prefix)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (!g_file_get_contents(m->log, &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		n += g_str_has_prefix(lines[i], prefix);
	return n;
}

/* The helper's GET-RENEWAL-WINDOW for @cert against @directory: its exit status. */
static gint
ck_test_ask_window(const gchar *directory, const gchar *state, const gchar *cert, gchar **out)
{
	g_autofree gchar *dir_arg = g_strdup_printf("--directory=%s", directory);
	g_autofree gchar *cert_env = ck_test_env("CERTMONGER_CERTIFICATE", cert);
	g_autofree gchar *err = NULL;
	const gchar *extra[] = {dir_arg, "--timeout=5", NULL};
	const gchar *env[] = {"CERTMONGER_OPERATION=GET-RENEWAL-WINDOW", cert_env, NULL};
	return ck_test_run_helper(NULL, state, extra, env, out, &err);
}

/* Two Unix times and a number on two lines, as the protocol extension says. */
static void
ck_test_parse_window_answer(const gchar *out, gint64 *start, gint64 *end, gint64 *retry)
{
	g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
	g_auto(GStrv) fields = NULL;
	g_assert_cmpuint(g_strv_length(lines), ==, 3);
	g_assert_cmpstr(lines[2], ==, "");
	fields = g_strsplit(lines[0], " ", -1);
	g_assert_cmpuint(g_strv_length(fields), ==, 2);
	g_assert_true(g_ascii_string_to_signed(fields[0], 10, 1, G_MAXINT64, start, NULL));
	g_assert_true(g_ascii_string_to_signed(fields[1], 10, 1, G_MAXINT64, end, NULL));
	g_assert_true(g_ascii_string_to_signed(lines[1], 10, 0, G_MAXINT64, retry, NULL));
}

/* GET-RENEWAL-WINDOW run by hand: the window, the Retry-After, and every failure's status */
static void
test_acme_renewal_window(void)
{
	g_autoptr(CkMockAri) m = NULL;
	g_autofree gchar *state = NULL, *csr = NULL, *csr_env = NULL, *dir_arg = NULL;
	g_autofree gchar *chain = NULL, *err = NULL, *out = NULL;
	gint64 start = 0, end = 0, retry = 0, issued;

	if (!ck_test_have_mock_ari() || !ck_test_have_program("openssl"))
		return;
	m = ck_mock_ari_start("{\"windows\": [[3600, 7200, 1234]]}");
	state = g_build_filename(m->dir, "state", NULL);
	dir_arg = g_strdup_printf("--directory=%s", m->directory_url);
	csr = ck_test_make_csr(m->dir, "ari", "ari.example", "DNS:ari.example");
	csr_env = ck_test_env("CERTMONGER_CSR", csr);
	{
		const gchar *extra[] = {dir_arg, NULL};
		const gchar *env[] = {"CERTMONGER_OPERATION=SUBMIT", csr_env, NULL};
		g_assert_cmpint(ck_test_run_helper(NULL, state, extra, env, &chain, &err), ==, 0);
	}
	issued = g_get_real_time() / G_USEC_PER_SEC;
	g_assert_cmpuint(ck_mock_ari_count(m, "issued "), ==, 1);

	/* the window as Unix seconds, then the CA's Retry-After; the mock found the certID */
	g_assert_cmpint(ck_test_ask_window(m->directory_url, state, chain, &out), ==, 0);
	ck_test_parse_window_answer(out, &start, &end, &retry);
	g_assert_cmpint(start, >=, issued - 5 + 3600);
	g_assert_cmpint(start, <=, issued + 3600);
	g_assert_cmpint(end - start, ==, 3600);
	g_assert_cmpint(retry, ==, 1234);
	g_assert_cmpuint(ck_mock_ari_count(m, "ari "), ==, 1);
	g_clear_pointer(&out, g_free);

	/* no Retry-After: RFC 9773's six hours */
	ck_mock_ari_control(m, "{\"windows\": [[-60, -30, null]]}");
	g_assert_cmpint(ck_test_ask_window(m->directory_url, state, chain, &out), ==, 0);
	ck_test_parse_window_answer(out, &start, &end, &retry);
	g_assert_cmpint(retry, ==, 21600);
	g_assert_cmpint(end - start, ==, 30);
	g_clear_pointer(&out, g_free);

	/* nonsense from the CA: unreachable (3), saying what is wrong */
	ck_mock_ari_control(m, "{\"windows\": [[0, 1, null, \"garbage\"]]}");
	g_assert_cmpint(ck_test_ask_window(m->directory_url, state, chain, &out), ==, 3);
	g_assert_nonnull(strstr(out, "RFC 3339"));
	g_clear_pointer(&out, g_free);

	/* a certificate the CA does not know (another issuer): refused (2); so the certID
	 * of the CA's own certificate above was the one the CA computed */
	{
		const gchar *argv[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
				       "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
				       "/CN=elsewhere", "-addext", "authorityKeyIdentifier=keyid:always",
				       "-keyout", NULL, "-out", NULL, NULL};
		g_autofree gchar *k = g_build_filename(m->dir, "elsewhere.key", NULL);
		g_autofree gchar *c = g_build_filename(m->dir, "elsewhere.pem", NULL);
		g_autofree gchar *pem = NULL;
		argv[15] = k;
		argv[17] = c;
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
		g_assert_true(g_file_get_contents(c, &pem, NULL, NULL));
		ck_mock_ari_control(m, "{\"windows\": [[0, 1, null]]}");
		g_assert_cmpint(ck_test_ask_window(m->directory_url, state, pem, &out), ==, 2);
		g_assert_nonnull(strstr(out, "no certificate"));
		g_clear_pointer(&out, g_free);
	}

	/* a directory without renewalInfo: not supported (6) */
	ck_mock_ari_control(m, "{\"ari\": false, \"windows\": [[0, 1, null]]}");
	g_assert_cmpint(ck_test_ask_window(m->directory_url, state, chain, &out), ==, 6);
	g_assert_nonnull(strstr(out, "renewalInfo"));
	g_clear_pointer(&out, g_free);

	/* a server that is gone: unreachable (3) */
	ck_test_stop_pid(&m->pid);
	g_assert_cmpint(ck_test_ask_window(m->directory_url, state, chain, &out), ==, 3);
	g_assert_nonnull(strstr(out, "127.0.0.1"));
	g_clear_pointer(&out, g_free);
}

static gboolean
ck_test_window_known(CkTestDaemon *td, JsonObject **status_out)
{
	g_autoptr(JsonObject) status = ck_test_request_json(td, "ari");
	if (status == NULL || json_object_get_int_member(status, "RenewalWindowEnd") == 0)
		return FALSE;
	*status_out = g_steal_pointer(&status);
	return TRUE;
}

/* Polls `certkeeper status` until the request has a window, at most @seconds. */
static JsonObject *
ck_test_wait_window(CkTestDaemon *td, const gchar *serial_not, guint seconds)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	for (;;) {
		JsonObject *status = NULL;
		if (ck_test_window_known(td, &status) &&
		    (serial_not == NULL ||
		     g_strcmp0(json_object_get_string_member(status, "Serial"), serial_not) != 0) &&
		    g_strcmp0(json_object_get_string_member(status, "State"), "MONITORING") == 0)
			return status;
		if (status != NULL)
			json_object_unref(status);
		if (g_get_monotonic_time() > deadline) {
			g_autofree gchar *log = NULL;
			g_file_get_contents(td->daemon_log, &log, NULL, NULL);
			g_error("no renewal window within %u s; daemon log:\n%s", seconds,
				log != NULL ? log : "");
		}
		g_usleep(200 * 1000);
	}
}

/*
 * Through certkeeperd: a day-long certificate whose window opens seconds after
 * issuance is renewed inside that window, long before its threshold; the next
 * certificate's window is far away and nothing more happens. Then a window that
 * lies in the past: renewed at once.
 */
static void
test_acme_daemon_renewal_window(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(CkMockAri) m = NULL;
	g_autoptr(JsonObject) first = NULL, second = NULL;
	g_autofree gchar *config = NULL, *cert = NULL, *key = NULL, *err = NULL, *text = NULL;
	g_autofree gchar *serial = NULL;
	gint64 start, end, renewal, renewed_at, not_before, not_after;

	if (!ck_test_have_mock_ari() || !ck_test_have_program("openssl"))
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	/* the first certificate's window: 8 to 14 s after issuance; later ones: hours away */
	m = ck_mock_ari_start("{\"windows\": [[8, 14, 60], [7200, 9000, 60]]}");
	config = g_strdup_printf("[certkeeperd]\nHelperDirectory=%s/daemon/helpers\n"
				 "[renewal]\nRenewJitterMax=0\nRetryDelay=5s\nRetryDelayMax=10s\n\n"
				 "[ca acme]\nType=acme\nDirectory=%s\nRootsURL=%s\nTimeout=30\n",
				 g_getenv("CK_TOP_BUILDDIR"), m->directory_url, m->roots_url);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	cert = ck_test_daemon_path(td, "ari.crt");
	key = ck_test_daemon_path(td, "ari.key");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "request", "-I", "ari", "-c",
				    "acme", "-f", cert, "-k", key, "-N", "CN=ari.example", "-D",
				    "ari.example", "-w", "--wait-timeout=30", NULL),
			==, 0);
	first = ck_test_wait_window(td, NULL, 20);
	serial = g_strdup(json_object_get_string_member(first, "Serial"));
	start = json_object_get_int_member(first, "RenewalWindowStart");
	end = json_object_get_int_member(first, "RenewalWindowEnd");
	renewal = json_object_get_int_member(first, "RenewalTime");
	not_before = json_object_get_int_member(first, "NotBefore");
	not_after = json_object_get_int_member(first, "NotAfter");
	g_test_message("window [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "), renewal %" G_GINT64_FORMAT,
		       start, end, renewal);
	/* the CA's window on the bus, and the renewal planned inside it ... */
	g_assert_cmpint(end - start, ==, 6);
	g_assert_cmpint(renewal, >=, start);
	g_assert_cmpint(renewal, <, end);
	/* ... not at the threshold, a third of the day before expiry */
	g_assert_cmpint(not_after - not_before, >, 86000);
	g_assert_cmpint(renewal, <, not_after - (not_after - not_before) / 3 - 3600);
	/* `certkeeper status` shows it */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, &text, NULL, "status", "-i", "ari", NULL), ==,
			0);
	g_assert_nonnull(strstr(text, "CA's renewal window"));

	/* the renewal comes inside the window (bounded: the window is seconds away) */
	second = ck_test_wait_window(td, serial, 30);
	renewed_at = json_object_get_int_member(second, "LastRenewal");
	g_test_message("renewed at %" G_GINT64_FORMAT, renewed_at);
	g_assert_cmpint(renewed_at, >=, renewal);
	g_assert_cmpint(renewed_at, >=, start);
	/* (plus the time a submission takes) */
	g_assert_cmpint(renewed_at, <, end + 10);
	/* and the new certificate's window is hours away: so is its renewal */
	g_assert_cmpint(json_object_get_int_member(second, "RenewalWindowStart"), >,
			renewed_at + 7000);
	g_assert_cmpint(json_object_get_int_member(second, "RenewalTime"), >=,
			json_object_get_int_member(second, "RenewalWindowStart"));
	g_assert_cmpuint(ck_mock_ari_count(m, "issued "), ==, 2);

	/* a window in the past (the CA wants it replaced now): renewed promptly */
	ck_mock_ari_control(m, "{\"windows\": [[8, 14, 60], [-600, -300, 60], [7200, 9000, 60]]}");
	g_clear_pointer(&serial, g_free);
	serial = g_strdup(json_object_get_string_member(second, "Serial"));
	/* a restart asks again at start-up, and the window it hears is in the past */
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	ck_test_daemon_start(td);
	{
		gint64 restarted = g_get_real_time() / G_USEC_PER_SEC;
		g_autoptr(JsonObject) third = NULL;
		gint64 deadline = g_get_monotonic_time() + 30 * G_USEC_PER_SEC;
		for (;;) {
			g_autoptr(JsonObject) now = ck_test_request_json(td, "ari");
			if (now != NULL &&
			    g_strcmp0(json_object_get_string_member(now, "Serial"), serial) != 0 &&
			    g_strcmp0(json_object_get_string_member(now, "State"), "MONITORING") ==
				0) {
				third = g_steal_pointer(&now);
				break;
			}
			g_assert_cmpint(g_get_monotonic_time(), <, deadline);
			g_usleep(200 * 1000);
		}
		g_assert_cmpint(json_object_get_int_member(third, "LastRenewal") - restarted, <, 20);
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* A private session bus for certmonger (its address in @address_out), or 0. */
static GPid
ck_test_session_bus(const gchar *dir, gchar **address_out)
{
	const gchar *argv[] = {"dbus-daemon", "--session", "--nofork", "--print-address=1", NULL};
	g_autoptr(GError) error = NULL;
	g_autoptr(GIOChannel) channel = NULL;
	g_autofree gchar *line = NULL;
	gint out_fd = -1;
	GPid pid = 0;

	g_assert_true(g_spawn_async_with_pipes(
	    dir, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
	    ck_test_child_setup, NULL, &pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	channel = g_io_channel_unix_new(out_fd);
	g_io_channel_set_close_on_unref(channel, TRUE);
	g_io_channel_read_line(channel, &line, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(line);
	*address_out = g_strdup(g_strstrip(line));
	return pid;
}

static gint
ck_test_getcert(const gchar *const *envp, gchar **out, const gchar *first, ...)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *unwanted = NULL;
	const gchar *arg;
	gint status = 0;
	va_list ap;

	g_ptr_array_add(argv, "getcert");
	va_start(ap, first);
	for (arg = first; arg != NULL; arg = va_arg(ap, const gchar *))
		g_ptr_array_add(argv, (gpointer)arg);
	va_end(ap);
	g_ptr_array_add(argv, NULL);
	/* captured even when unwanted: inherited, it would garble the TAP stream */
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv->pdata, (gchar **)envp, G_SPAWN_SEARCH_PATH,
				   NULL, NULL, out != NULL ? out : &unwanted, &err, &status,
				   &error));
	g_assert_no_error(error);
	if (err != NULL && err[0] != '\0')
		g_test_message("getcert %s: %s", first, err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* (d) under certmonger: getcert add-ca with our helper, then a request to MONITORING */
static void
test_acme_certmonger(void)
{
	CkPebbleSetup setup = {.always_valid = TRUE};
	g_autoptr(CkPebble) p = NULL;
	g_autofree gchar *address = NULL, *command = NULL, *state = NULL;
	g_autofree gchar *webroot = NULL, *cert = NULL, *key = NULL, *out = NULL, *log = NULL;
	g_autofree gchar *requests = NULL, *cas = NULL, *tmp = NULL, *local = NULL, *lock = NULL;
	g_autofree gchar *pidfile = NULL;
	g_auto(GStrv) envp = g_get_environ();
	/* unique, so the host's certmonger state can be searched for it */
	g_autofree gchar *id = g_strdup_printf("ckacme%d", (int)getpid());
	GPid bus = 0, certmonger = 0;
	gint64 deadline;

	if (!ck_test_have_peers())
		return;
	if (!ck_test_have_program("certmonger") || !ck_test_have_program("getcert") ||
	    !ck_test_have_program("dbus-daemon")) {
		g_test_skip("certmonger (and dbus-daemon) is not installed (apt-get install "
			    "certmonger)");
		return;
	}
	p = ck_pebble_start(&setup);
	bus = ck_test_session_bus(p->dir, &address);
	/* certmonger's own state stays in the test directory, not in /var/lib/certmonger */
	requests = g_build_filename(p->dir, "cm-requests", NULL);
	cas = g_build_filename(p->dir, "cm-cas", NULL);
	tmp = g_build_filename(p->dir, "cm-tmp", NULL);
	local = g_build_filename(p->dir, "cm-local", NULL);
	lock = g_build_filename(p->dir, "cm-lock", NULL);
	pidfile = g_build_filename(p->dir, "certmonger.pid", NULL);
	for (const gchar *const *d = (const gchar *const[]){requests, cas, tmp, local, NULL};
	     *d != NULL; d++)
		g_assert_cmpint(g_mkdir(*d, 0700), ==, 0);
	envp = g_environ_setenv(envp, "DBUS_SESSION_BUS_ADDRESS", address, TRUE);
	envp = g_environ_setenv(envp, "CERTMONGER_REQUESTS_DIR", requests, TRUE);
	envp = g_environ_setenv(envp, "CERTMONGER_CAS_DIR", cas, TRUE);
	envp = g_environ_setenv(envp, "CERTMONGER_TMPDIR", tmp, TRUE);
	envp = g_environ_setenv(envp, "CERTMONGER_LOCAL_CA_DIR", local, TRUE);
	envp = g_environ_setenv(envp, "CERTMONGER_SYSTEM_LOCK_FILE", lock, TRUE);
	log = g_build_filename(p->dir, "certmonger.log", NULL);
	{
		const gchar *argv[] = {"certmonger", "-s", "-n", "-B", "-p", pidfile, NULL};
		certmonger = ck_test_spawn_logged(p->dir, argv, (const gchar *const *)envp, log);
	}
	/* ready when getcert gets an answer */
	deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	while (ck_test_getcert((const gchar *const *)envp, NULL, "list-cas", "-s", NULL) != 0) {
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100 * 1000);
	}
	state = g_build_filename(p->dir, "acme-state", NULL);
	webroot = g_build_filename(p->dir, "www", NULL);
	command = ck_test_helper_command(p, state, webroot);
	g_assert_cmpint(ck_test_getcert((const gchar *const *)envp, NULL, "add-ca", "-s", "-c",
					"acme", "-e", command, NULL),
			==, 0);
	cert = g_build_filename(p->dir, "cm.crt", NULL);
	key = g_build_filename(p->dir, "cm.key", NULL);
	g_assert_cmpint(ck_test_getcert((const gchar *const *)envp, NULL, "request", "-s", "-c",
					"acme", "-I", id, "-f", cert, "-k", key, "-N",
					"CN=acme-d.example", "-D", "acme-d.example", "-w", "-v",
					NULL),
			==, 0);
	g_assert_cmpint(
	    ck_test_getcert((const gchar *const *)envp, &out, "list", "-s", "-i", id, NULL), ==, 0);
	g_test_message("%s", out);
	g_assert_nonnull(strstr(out, "status: MONITORING"));
	g_assert_nonnull(strstr(out, "CA: acme"));
	{
		g_autofree gchar *url =
		    g_strdup_printf("https://127.0.0.1:%u/intermediates/0", p->mgmt_port);
		g_autofree gchar *intermediate = ck_test_fetch(p->tls_cert, url);
		g_assert_nonnull(intermediate);
		ck_test_assert_installed(cert, key, NULL, intermediate, p->root, "acme-d.example");
	}
	/* the request is tracked where we said (certmonger saves it a moment later) */
	deadline = g_get_monotonic_time() + 10 * G_USEC_PER_SEC;
	for (;;) {
		g_autoptr(GDir) d = g_dir_open(requests, 0, NULL);
		g_assert_nonnull(d);
		if (g_dir_read_name(d) != NULL)
			break;
		g_assert_cmpint(g_get_monotonic_time(), <, deadline);
		g_usleep(100 * 1000);
	}
	/* and not in the host's /var/lib/certmonger */
	{
		g_autoptr(GDir) d = g_dir_open("/var/lib/certmonger/requests", 0, NULL);
		const gchar *name;
		while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
			g_autofree gchar *path =
			    g_build_filename("/var/lib/certmonger/requests", name, NULL);
			g_autofree gchar *text = NULL;
			if (g_file_get_contents(path, &text, NULL, NULL))
				g_assert_null(strstr(text, id));
		}
	}
	ck_test_stop_pid(&certmonger);
	ck_test_stop_pid(&bus);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/acme/always-valid", test_acme_always_valid);
	g_test_add_func("/certkeeper/acme/eab", test_acme_eab);
	g_test_add_func("/certkeeper/acme/processing-and-errors", test_acme_processing_and_errors);
	g_test_add_func("/certkeeper/acme/real-validation", test_acme_real_validation);
	g_test_add_func("/certkeeper/acme/daemon", test_acme_daemon);
	g_test_add_func("/certkeeper/acme/daemon/outage", test_acme_daemon_outage);
	g_test_add_func("/certkeeper/acme/daemon/rejected", test_acme_daemon_rejected);
	g_test_add_func("/certkeeper/acme/daemon/malformed", test_acme_daemon_malformed);
	g_test_add_func("/certkeeper/acme/renewal-window", test_acme_renewal_window);
	g_test_add_func("/certkeeper/acme/daemon-renewal-window", test_acme_daemon_renewal_window);
	g_test_add_func("/certkeeper/acme/certmonger", test_acme_certmonger);
	return g_test_run();
}
