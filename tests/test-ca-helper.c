/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The helper CA back end against real helper programs: shell scripts that sign
 * with an openssl mini-CA and answer with every exit code of certmonger's protocol.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <signal.h>
#include <string.h>

#include "ck-ca-helper.h"
#include "ck-csr.h"
#include "ck-error.h"
#include "ck-key-provider-file.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	CkKey *key;
	gchar *csr;
} Fixture;

/* A throw-away CA made with openssl, so the helper's answers are real certificates. */
static void
ck_test_make_openssl_ca(const gchar *dir)
{
	g_autofree gchar *key = g_build_filename(dir, "ca.key", NULL);
	g_autofree gchar *crt = g_build_filename(dir, "ca.pem", NULL);
	g_autofree gchar *ikey = g_build_filename(dir, "int.key", NULL);
	g_autofree gchar *icsr = g_build_filename(dir, "int.csr", NULL);
	g_autofree gchar *icrt = g_build_filename(dir, "int.pem", NULL);
	g_autofree gchar *ext = g_build_filename(dir, "int.ext", NULL);
	const gchar *root[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
			       "/CN=helper test root", "-keyout", key, "-out", crt, NULL};
	const gchar *inter_req[] = {"openssl", "req", "-newkey", "ec", "-pkeyopt",
				    "ec_paramgen_curve:P-256", "-nodes", "-subj",
				    "/CN=helper test issuing CA", "-keyout", ikey, "-out", icsr,
				    NULL};
	const gchar *inter_sign[] = {"openssl", "x509", "-req", "-in", icsr, "-CA", crt, "-CAkey",
				     key, "-CAcreateserial", "-days", "30", "-extfile", ext,
				     "-out", icrt, NULL};

	g_assert_true(g_file_set_contents(
	    ext, "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=keyCertSign,cRLSign\n", -1,
	    NULL));
	g_assert_cmpint(ck_test_run(root, NULL, NULL), ==, 0);
	g_assert_cmpint(ck_test_run(inter_req, NULL, NULL), ==, 0);
	g_assert_cmpint(ck_test_run(inter_sign, NULL, NULL), ==, 0);
}

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;
	const gchar *dns[] = {"a.example", "b.example", NULL};
	const gchar *ips[] = {"192.0.2.7", NULL};
	const gchar *emails[] = {"ops@example.org", NULL};
	CkCsrParams params = {
	    .subject = "CN=a.example", .dns_names = dns, .ip_addresses = ips, .emails = emails};

	f->dir = ck_test_make_tmpdir();
	ck_test_make_openssl_ca(f->dir);
	f->key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_no_error(error);
	f->csr = ck_csr_build(&params, ck_key_get_privkey(f->key), &error);
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->csr);
	ck_key_unref(f->key);
}

/* Writes an executable helper script; @DIR@ in @body stands for the fixture directory. */
static gchar *
ck_test_write_helper(Fixture *f, const gchar *name, const gchar *body)
{
	g_autofree gchar *path = g_build_filename(f->dir, name, NULL);
	g_auto(GStrv) parts = g_strsplit(body, "@DIR@", -1);
	g_autofree gchar *expanded = g_strjoinv(f->dir, parts);
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", expanded);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return g_steal_pointer(&path);
}

/* Signs $CERTMONGER_CSR with the openssl mini-CA; the leaf lands in @DIR@/leaf.pem. */
#define SIGN_CSR                                                                                   \
	"printf '%s\\n' \"$CERTMONGER_CSR\" > @DIR@/req.csr\n"                                    \
	"openssl x509 -req -in @DIR@/req.csr -CA @DIR@/int.pem -CAkey @DIR@/int.key "             \
	"-CAcreateserial -days 1 -out @DIR@/leaf.pem 2>/dev/null || exit 3\n"

static CkCa *
ck_test_helper_new(const gchar *command, guint timeout)
{
	g_autoptr(GError) error = NULL;
	CkCa *ca = ck_ca_helper_new("test", "helper", command, timeout, 1024 * 1024, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ca);
	g_assert_cmpstr(ck_ca_get_kind(ca), ==, "helper");
	return ca;
}

typedef struct {
	GAsyncResult *res;
} Wait;

static void
ck_test_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Wait *w = user_data;
	w->res = g_object_ref(res);
}

static gboolean
ck_test_done(gpointer data)
{
	return ((Wait *)data)->res != NULL;
}

static gboolean
ck_test_iterate_until(gboolean (*cond)(gpointer), gpointer data, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	while (!cond(data)) {
		if (g_get_monotonic_time() >= deadline)
			return FALSE;
		/* not blocking: some conditions (a process gone) are no main-loop event */
		if (!g_main_context_iteration(NULL, FALSE))
			g_usleep(2000);
	}
	return TRUE;
}

/* One submission (a poll when @cookie is set); returns the result or NULL with @error. */
static CkCaResult *
ck_test_submit(CkCa *ca, Fixture *f, const gchar *cookie, GCancellable *cancellable,
	       GError **error)
{
	const gchar *dns[] = {"a.example", "b.example", NULL};
	const gchar *ips[] = {"192.0.2.7", NULL};
	const gchar *emails[] = {"ops@example.org", NULL};
	CkCsrParams names = {
	    .subject = "CN=a.example", .dns_names = dns, .ip_addresses = ips, .emails = emails};
	CkCaSubmission submission = {.request_id = "req-1",
				     .csr = f->csr,
				     .cookie = cookie,
				     .profile = "server",
				     .names = &names};
	Wait w = {NULL};
	CkCaResult *result;

	ck_ca_submit_async(ca, &submission, cancellable, ck_test_done_cb, &w);
	g_assert_true(ck_test_iterate_until(ck_test_done, &w, 30000));
	result = ck_ca_submit_finish(ca, w.res, error);
	g_object_unref(w.res);
	return result;
}

static gnutls_x509_crt_t
ck_test_crt(const gchar *pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	return crt;
}

static gchar *
ck_test_subject(const gchar *pem)
{
	gnutls_x509_crt_t crt = ck_test_crt(pem);
	gnutls_datum_t dn = {NULL, 0};
	gchar *text;
	g_assert_cmpint(gnutls_x509_crt_get_dn3(crt, &dn, 0), ==, 0);
	text = g_strndup((const gchar *)dn.data, dn.size);
	gnutls_free(dn.data);
	gnutls_x509_crt_deinit(crt);
	return text;
}

/* The leaf is the certificate for our key; the chain holds exactly the issuing CA. */
static void
ck_test_assert_issued(Fixture *f, CkCaResult *result, gboolean expect_chain)
{
	g_autoptr(GError) error = NULL;
	gnutls_x509_crt_t leaf;
	g_autofree gchar *subject = NULL;

	g_assert_nonnull(result);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	g_assert_nonnull(result->certificate);
	leaf = ck_test_crt(result->certificate);
	g_assert_true(ck_key_matches_certificate(f->key, leaf, &error));
	g_assert_no_error(error);
	gnutls_x509_crt_deinit(leaf);
	if (!expect_chain) {
		g_assert_null(result->chain);
		return;
	}
	g_assert_nonnull(result->chain);
	subject = ck_test_subject(result->chain);
	g_assert_cmpstr(subject, ==, "CN=helper test issuing CA");
}

static void
test_ca_helper_issues_pem(Fixture *f, gconstpointer user_data)
{
	/* chain first, leaf last: the back end must find the leaf by its key */
	g_autofree gchar *helper = ck_test_write_helper(
	    f, "pem.sh", SIGN_CSR "cat @DIR@/int.pem @DIR@/leaf.pem; exit 0");
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = ck_test_submit(ca, f, NULL, NULL, &error);

	g_assert_no_error(error);
	ck_test_assert_issued(f, result, TRUE);
}

static void
test_ca_helper_issues_der_and_pkcs7(Fixture *f, gconstpointer user_data)
{
	const gchar *bodies[] = {
	    /* a bare DER certificate */
	    SIGN_CSR "openssl x509 -in @DIR@/leaf.pem -outform DER",
	    /* a PEM PKCS#7 certs-only bundle with the chain */
	    SIGN_CSR "openssl crl2pkcs7 -nocrl -certfile @DIR@/leaf.pem -certfile @DIR@/int.pem",
	    /* the same bundle in DER */
	    SIGN_CSR "openssl crl2pkcs7 -nocrl -certfile @DIR@/int.pem -certfile @DIR@/leaf.pem "
		     "-outform DER",
	};
	gboolean with_chain[] = {FALSE, TRUE, TRUE};

	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autofree gchar *name = g_strdup_printf("form-%u.sh", i);
		g_autofree gchar *helper = ck_test_write_helper(f, name, bodies[i]);
		g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
		g_autoptr(GError) error = NULL;
		g_autoptr(CkCaResult) result = ck_test_submit(ca, f, NULL, NULL, &error);
		g_test_message("form %u", i);
		g_assert_no_error(error);
		ck_test_assert_issued(f, result, with_chain[i]);
	}
}

static void
test_ca_helper_environment(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *helper =
	    ck_test_write_helper(f, "env.sh",
				 "env > @DIR@/env.txt; echo \"STDIN=$(readlink /proc/self/fd/0)\" "
				 ">> @DIR@/env.txt; echo 'no thanks'; exit 2");
	g_autoptr(CkCa) ca = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = NULL;
	g_autofree gchar *env_path = g_build_filename(f->dir, "env.txt", NULL);
	g_autofree gchar *env = NULL;
	g_autofree gchar *csr_line = NULL;

	/* something of the daemon's own environment that a helper must never see */
	g_setenv("CK_TEST_DAEMON_SECRET", "hunter2", TRUE);
	ca = ck_test_helper_new(helper, 30);
	result = ck_test_submit(ca, f, NULL, NULL, &error);
	g_unsetenv("CK_TEST_DAEMON_SECRET");
	g_assert_no_error(error);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_assert_cmpstr(result->message, ==, "no thanks");

	g_assert_true(g_file_get_contents(env_path, &env, NULL, NULL));
	g_test_message("%s", env);
	g_assert_nonnull(strstr(env, "CERTMONGER_OPERATION=SUBMIT\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_REQ_SUBJECT=CN=a.example\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_REQ_HOSTNAME=a.example,b.example\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_REQ_IP_ADDRESS=192.0.2.7\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_REQ_EMAIL=ops@example.org\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_CA_PROFILE=server\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_CA_NICKNAME=test\n"));
	g_assert_nonnull(strstr(env, "CERTKEEPER_REQUEST_ID=req-1\n"));
	g_assert_nonnull(strstr(env, "CERTMONGER_CSR=-----BEGIN NEW CERTIFICATE REQUEST-----"));
	g_assert_null(strstr(env, "CERTMONGER_CA_COOKIE="));
	g_assert_null(strstr(env, "CERTMONGER_CERTIFICATE="));
	/* scrubbed: nothing of the daemon's environment leaks through */
	g_assert_null(strstr(env, "CK_TEST_DAEMON_SECRET"));
	g_assert_null(strstr(env, "G_DEBUG"));
	g_assert_nonnull(strstr(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"));
	/* and never the daemon's standard input */
	g_assert_nonnull(strstr(env, "STDIN=/dev/null\n"));
}

static void
test_ca_helper_wait_and_poll(Fixture *f, gconstpointer user_data)
{
	/* SUBMIT says "come back" (1, then 5 with a delay); POLL with the cookie issues */
	g_autofree gchar *helper = ck_test_write_helper(
	    f, "poll.sh",
	    "case \"$CERTMONGER_OPERATION\" in\n"
	    "SUBMIT) if [ -e @DIR@/second ]; then printf '120\\ncookie-2\\n'; exit 5; fi\n"
	    "        touch @DIR@/second; echo cookie-1; exit 1;;\n"
	    "POLL) [ \"$CERTMONGER_CA_COOKIE\" = cookie-2 ] || { echo \"bad cookie "
	    "$CERTMONGER_CA_COOKIE\"; exit 2; }\n" SIGN_CSR "cat @DIR@/leaf.pem; exit 0;;\n"
	    "*) exit 6;;\n"
	    "esac");
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) first = NULL, second = NULL, issued = NULL, wrong = NULL;

	first = ck_test_submit(ca, f, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(first->outcome, ==, CK_CA_OUTCOME_WAIT);
	g_assert_cmpstr(first->cookie, ==, "cookie-1");
	g_assert_cmpuint(first->delay, ==, 0);

	second = ck_test_submit(ca, f, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(second->outcome, ==, CK_CA_OUTCOME_WAIT);
	g_assert_cmpstr(second->cookie, ==, "cookie-2");
	g_assert_cmpuint(second->delay, ==, 120);

	issued = ck_test_submit(ca, f, second->cookie, NULL, &error);
	g_assert_no_error(error);
	ck_test_assert_issued(f, issued, FALSE);

	wrong = ck_test_submit(ca, f, "stale", NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(wrong->outcome, ==, CK_CA_OUTCOME_REJECTED);
	g_assert_cmpstr(wrong->message, ==, "bad cookie stale");
}

static void
test_ca_helper_outcomes(Fixture *f, gconstpointer user_data)
{
	struct {
		const gchar *body;
		CkCaOutcome outcome;
		const gchar *message; /* a part of the message, or NULL */
	} cases[] = {
	    {"echo 'no such profile'; exit 2", CK_CA_OUTCOME_REJECTED, "no such profile"},
	    {"echo 'connection refused'; exit 3", CK_CA_OUTCOME_UNREACHABLE, "connection refused"},
	    {"echo 'no CA URL set' >&2; exit 3", CK_CA_OUTCOME_UNREACHABLE, "no CA URL set"},
	    {"echo 'no credentials'; exit 4", CK_CA_OUTCOME_UNDERCONFIGURED, "no credentials"},
	    {"exit 6", CK_CA_OUTCOME_UNSUPPORTED, "does not support SUBMIT"},
	    {"exit 16", CK_CA_OUTCOME_UNDERCONFIGURED, "SCEP"},
	    {"echo 'key too weak'; exit 17", CK_CA_OUTCOME_NEED_NEW_KEY, "key too weak"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *name = g_strdup_printf("outcome-%u.sh", i);
		g_autofree gchar *helper = ck_test_write_helper(f, name, cases[i].body);
		g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
		g_autoptr(GError) error = NULL;
		g_autoptr(CkCaResult) result = ck_test_submit(ca, f, NULL, NULL, &error);
		g_test_message("case %s", cases[i].body);
		g_assert_no_error(error);
		g_assert_cmpint(result->outcome, ==, cases[i].outcome);
		g_assert_null(result->certificate);
		g_assert_nonnull(strstr(result->message, cases[i].message));
	}
}

static void
test_ca_helper_failures(Fixture *f, gconstpointer user_data)
{
	struct {
		const gchar *body;
		gint code;
		const gchar *message;
	} cases[] = {
	    /* an exit code the protocol does not know */
	    {"echo 'segfaulted somewhere'; exit 42", CK_ERROR_CA_UNREACHABLE, "unknown status"},
	    /* killed by a signal */
	    {"kill -9 $$", CK_ERROR_CA_UNREACHABLE, "signal"},
	    /* "issued", but nothing readable */
	    {"echo 'here you go'; exit 0", CK_ERROR_CRYPTO, "no certificate"},
	    /* "wait", with a delay that is no number */
	    {"printf 'soon\\ncookie\\n'; exit 5", CK_ERROR_CA_UNREACHABLE, "'soon'"},
	    /* more than max_output on stdout */
	    {"head -c 2000000 /dev/zero; exit 0", CK_ERROR_FAILED, "more than 1048576 bytes"},
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *name = g_strdup_printf("failure-%u.sh", i);
		g_autofree gchar *helper = ck_test_write_helper(f, name, cases[i].body);
		g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
		g_autoptr(GError) error = NULL;
		g_autoptr(CkCaResult) result = ck_test_submit(ca, f, NULL, NULL, &error);
		g_test_message("case %s: %s", cases[i].body, error != NULL ? error->message : "-");
		g_assert_null(result);
		g_assert_error(error, CK_ERROR, cases[i].code);
		g_assert_nonnull(strstr(error->message, cases[i].message));
	}
}

static gboolean
ck_test_pid_gone(gpointer data)
{
	const gchar *pid_file = data;
	g_autofree gchar *text = NULL;
	g_autofree gchar *stat_path = NULL;
	g_autofree gchar *stat = NULL;
	const gchar *state;

	if (!g_file_get_contents(pid_file, &text, NULL, NULL))
		return FALSE;
	stat_path = g_strdup_printf("/proc/%d/stat", (int)g_ascii_strtoll(text, NULL, 10));
	if (!g_file_get_contents(stat_path, &stat, NULL, NULL))
		return TRUE;
	/* an orphan nobody reaped yet is dead all the same */
	state = strrchr(stat, ')');
	return state != NULL && state[1] == ' ' && state[2] == 'Z';
}

static void
test_ca_helper_timeout_kills_the_group(Fixture *f, gconstpointer user_data)
{
	/* the helper's child keeps stdout open; the timeout must end both */
	g_autofree gchar *helper = ck_test_write_helper(
	    f, "slow.sh", "sleep 60 & echo $! > @DIR@/child.pid; wait; exit 0");
	g_autofree gchar *pid_file = g_build_filename(f->dir, "child.pid", NULL);
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = NULL;
	gint64 start = g_get_monotonic_time();

	result = ck_test_submit(ca, f, NULL, NULL, &error);
	g_assert_null(result);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, "within 1 s"));
	g_assert_cmpint(g_get_monotonic_time() - start, <, 20 * G_USEC_PER_SEC);
	g_assert_true(ck_test_iterate_until(ck_test_pid_gone, pid_file, 5000));
}

static gboolean
ck_test_cancel_cb(gpointer data)
{
	g_cancellable_cancel(G_CANCELLABLE(data));
	return G_SOURCE_REMOVE;
}

static void
test_ca_helper_cancel(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *helper = ck_test_write_helper(
	    f, "hang.sh", "echo $$ > @DIR@/helper.pid; sleep 60; exit 0");
	g_autofree gchar *pid_file = g_build_filename(f->dir, "helper.pid", NULL);
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 60);
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = NULL;

	/* cancel once the helper is running */
	g_timeout_add(300, ck_test_cancel_cb, cancellable);
	result = ck_test_submit(ca, f, NULL, cancellable, &error);
	g_assert_null(result);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
	g_assert_true(ck_test_iterate_until(ck_test_pid_gone, pid_file, 5000));
}

static void
test_ca_helper_missing_program(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *missing = g_build_filename(f->dir, "not-there", NULL);
	g_autoptr(CkCa) ca = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = NULL;

	/* configured before it is installed: a warning, not a failure */
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*not an executable file*");
	ca = ck_test_helper_new(missing, 30);
	g_test_assert_expected_messages();
	result = ck_test_submit(ca, f, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_UNDERCONFIGURED);
	g_assert_nonnull(strstr(result->message, "not-there"));
}

static void
test_ca_helper_bad_command(Fixture *f, gconstpointer user_data)
{
	const gchar *commands[] = {"", "   ", "relative/helper --flag", "/bin/echo 'unbalanced"};
	for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CkCa) ca = ck_ca_helper_new("bad", "helper", commands[i], 30, 1024, &error);
		g_test_message("command '%s': %s", commands[i], error != NULL ? error->message : "-");
		g_assert_null(ca);
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	}
	/* arguments and quoting are passed through, without a shell */
	{
		g_autofree gchar *helper = ck_test_write_helper(
		    f, "args.sh", "[ \"$1\" = 'two words' ] && [ \"$2\" = '$HOME' ] || exit 4\n"
				  "echo accepted; exit 2");
		g_autofree gchar *command = g_strdup_printf("%s 'two words' '$HOME'", helper);
		g_autoptr(CkCa) ca = ck_test_helper_new(command, 30);
		g_autoptr(GError) error = NULL;
		g_autoptr(CkCaResult) result = ck_test_submit(ca, f, NULL, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_REJECTED);
		g_assert_cmpstr(result->message, ==, "accepted");
		g_assert_cmpstr(ck_ca_helper_get_command(CK_CA_HELPER(ca)), ==, command);
	}
}

static gboolean
ck_test_refresh(CkCa *ca, GError **error)
{
	Wait w = {NULL};
	gboolean ok;
	ck_ca_refresh_async(ca, NULL, ck_test_done_cb, &w);
	g_assert_true(ck_test_iterate_until(ck_test_done, &w, 30000));
	ok = ck_ca_refresh_finish(ca, w.res, error);
	g_object_unref(w.res);
	return ok;
}

static void
test_ca_helper_fetch_roots(Fixture *f, gconstpointer user_data)
{
	/* certmonger's layout: nickname + root, blank line, other roots, blank line, chain */
	g_autofree gchar *helper = ck_test_write_helper(
	    f, "roots.sh",
	    "[ \"$CERTMONGER_OPERATION\" = FETCH-ROOTS ] || exit 6\n"
	    "echo 'Test Root'; cat @DIR@/ca.pem; echo; echo; echo 'Issuing'; cat @DIR@/int.pem");
	g_autofree gchar *unsupported = ck_test_write_helper(f, "noroots.sh", "exit 6");
	g_autofree gchar *broken = ck_test_write_helper(f, "down.sh", "echo unreachable; exit 3");
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
	g_autoptr(CkCa) plain = ck_test_helper_new(unsupported, 30);
	g_autoptr(CkCa) down = ck_test_helper_new(broken, 30);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *roots = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *none = NULL;

	/* nothing is known before the first refresh */
	g_assert_null(ck_ca_get_root_certificates(ca, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_clear_error(&error);

	g_assert_true(ck_test_refresh(ca, &error));
	g_assert_no_error(error);
	roots = ck_ca_get_root_certificates(ca, &error);
	g_assert_no_error(error);
	/* exactly the root: the third section (the chain) is no trust anchor */
	g_assert_nonnull(roots);
	g_assert_true(g_str_has_prefix(roots, "-----BEGIN CERTIFICATE-----"));
	g_assert_null(strstr(roots + strlen("-----BEGIN"), "BEGIN CERTIFICATE"));
	subject = ck_test_subject(roots);
	g_assert_cmpstr(subject, ==, "CN=helper test root");

	/* a helper without FETCH-ROOTS is no error, it just publishes no roots */
	g_assert_true(ck_test_refresh(plain, &error));
	g_assert_no_error(error);
	none = ck_ca_get_root_certificates(plain, &error);
	g_assert_null(none);
	g_assert_error(error, CK_ERROR, CK_ERROR_NOT_FOUND);
	g_clear_error(&error);

	g_assert_false(ck_test_refresh(down, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, "unreachable"));
}

/* A helper that describes itself: every descriptive operation of certmonger's protocol. */
#define DESCRIBING_HELPER                                                                          \
	"case \"$CERTMONGER_OPERATION\" in\n"                                                     \
	"FETCH-ROOTS) echo 'Test Root'; cat @DIR@/ca.pem ;;\n"                                     \
	"IDENTIFY) echo 'Test CA (helper 1.0)' ;;\n"                                               \
	"GET-NEW-REQUEST-REQUIREMENTS) printf 'CERTMONGER_CA_PROFILE\\n\\n"                       \
	"CERTMONGER_REQ_EMAIL\\n' ;;\n"                                                          \
	"GET-RENEW-REQUEST-REQUIREMENTS) echo CERTMONGER_REQ_PRINCIPAL ;;\n"                       \
	"GET-SUPPORTED-TEMPLATES) printf 'server\\nclient\\n  \\nvpn\\n' ;;\n"                   \
	"GET-DEFAULT-TEMPLATE) sleep 0.3; echo client ;;\n"                                        \
	"SUBMIT) echo \"$CERTMONGER_CA_PROFILE\" > @DIR@/profile.txt; " SIGN_CSR                 \
	"cat @DIR@/leaf.pem ;;\n"                                                                  \
	"*) exit 6 ;;\n"                                                                           \
	"esac"

static CkCaResult *
ck_test_submit_with(CkCa *ca, CkCaSubmission *submission)
{
	g_autoptr(GError) error = NULL;
	Wait w = {NULL};
	CkCaResult *result;

	ck_ca_submit_async(ca, submission, NULL, ck_test_done_cb, &w);
	g_assert_true(ck_test_iterate_until(ck_test_done, &w, 30000));
	result = ck_ca_submit_finish(ca, w.res, &error);
	g_assert_no_error(error);
	g_object_unref(w.res);
	return result;
}

/* IDENTIFY, templates and requirements: kept, shown, and applied to submissions. */
static void
test_ca_helper_describes_itself(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *helper = ck_test_write_helper(f, "describe.sh", DESCRIBING_HELPER);
	g_autofree gchar *profile_file = g_build_filename(f->dir, "profile.txt", NULL);
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
	g_autoptr(GError) error = NULL;
	const gchar *emails[] = {"ops@example.org", NULL};
	const gchar *principals[] = {"host/a.example@EXAMPLE.ORG", NULL};
	CkCsrParams names = {.subject = "CN=a.example", .emails = emails};
	CkCaSubmission submission = {.request_id = "req-1", .csr = f->csr, .names = &names};
	const gchar *const *templates;
	g_autofree gchar *used = NULL;

	/* nothing is known before the first refresh */
	g_assert_cmpstr(ck_ca_get_identity(ca), ==, "");
	g_assert_cmpuint(g_strv_length((gchar **)ck_ca_get_templates(ca)), ==, 0);
	g_assert_true(ck_test_refresh(ca, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ck_ca_get_identity(ca), ==, "Test CA (helper 1.0)");
	templates = ck_ca_get_templates(ca);
	/* one a line, blank lines dropped */
	g_assert_cmpuint(g_strv_length((gchar **)templates), ==, 3);
	g_assert_cmpstr(templates[0], ==, "server");
	g_assert_cmpstr(templates[2], ==, "vpn");
	g_assert_cmpstr(ck_ca_get_default_template(ca), ==, "client");
	g_assert_cmpuint(g_strv_length((gchar **)ck_ca_get_requirements(ca, FALSE)), ==, 2);
	g_assert_cmpstr(ck_ca_get_requirements(ca, FALSE)[1], ==, "CERTMONGER_REQ_EMAIL");
	g_assert_cmpstr(ck_ca_get_requirements(ca, TRUE)[0], ==, "CERTMONGER_REQ_PRINCIPAL");

	/* a first request without a profile gets the default one */
	{
		g_autoptr(CkCaResult) result = ck_test_submit_with(ca, &submission);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
		g_assert_true(g_file_get_contents(profile_file, &used, NULL, NULL));
		g_assert_cmpstr(g_strstrip(used), ==, "client");
		g_clear_pointer(&used, g_free);
	}
	/* a request's own profile wins */
	submission.profile = "vpn";
	{
		g_autoptr(CkCaResult) result = ck_test_submit_with(ca, &submission);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
		g_assert_true(g_file_get_contents(profile_file, &used, NULL, NULL));
		g_assert_cmpstr(g_strstrip(used), ==, "vpn");
		g_clear_pointer(&used, g_free);
	}
	/* a renewal must carry a principal: refused before the helper runs, naming the
	 * variable and the option that fills it */
	g_assert_cmpint(g_unlink(profile_file), ==, 0);
	submission.certificate = "-----BEGIN CERTIFICATE-----\n";
	{
		g_autoptr(CkCaResult) result = ck_test_submit_with(ca, &submission);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_UNDERCONFIGURED);
		g_assert_nonnull(strstr(result->message, "CERTMONGER_REQ_PRINCIPAL"));
		g_assert_nonnull(strstr(result->message, "--principal"));
		g_assert_false(g_file_test(profile_file, G_FILE_TEST_EXISTS));
	}
	names.principals = principals;
	{
		g_autoptr(CkCaResult) result = ck_test_submit_with(ca, &submission);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	}
	/* and a first request without the email the CA requires */
	names.emails = NULL;
	submission.certificate = NULL;
	{
		g_autoptr(CkCaResult) result = ck_test_submit_with(ca, &submission);
		g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_UNDERCONFIGURED);
		g_assert_nonnull(strstr(result->message, "CERTMONGER_REQ_EMAIL"));
		g_assert_nonnull(strstr(result->message, "--email"));
	}
}

/* A submission that comes while the CA describes itself (start-up) waits for the answers. */
static void
test_ca_helper_submit_waits_for_refresh(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *helper = ck_test_write_helper(f, "describe.sh", DESCRIBING_HELPER);
	g_autofree gchar *profile_file = g_build_filename(f->dir, "profile.txt", NULL);
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
	const gchar *emails[] = {"ops@example.org", NULL};
	CkCsrParams names = {.subject = "CN=a.example", .emails = emails};
	CkCaSubmission submission = {.request_id = "req-1", .csr = f->csr, .names = &names};
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = NULL;
	g_autofree gchar *used = NULL;
	Wait refreshed = {NULL};

	ck_ca_refresh_async(ca, NULL, ck_test_done_cb, &refreshed);
	result = ck_test_submit_with(ca, &submission);
	/* the refresh ended first: the submission had the default template */
	g_assert_nonnull(refreshed.res);
	g_assert_true(ck_ca_refresh_finish(ca, refreshed.res, &error));
	g_assert_no_error(error);
	g_object_unref(refreshed.res);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	g_assert_true(g_file_get_contents(profile_file, &used, NULL, NULL));
	g_assert_cmpstr(g_strstrip(used), ==, "client");
}

/* An unreachable CA during the description ends the refresh; what it said before stays. */
static void
test_ca_helper_describe_unreachable(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *flag = g_build_filename(f->dir, "down", NULL);
	g_autofree gchar *helper = ck_test_write_helper(
	    f, "flaky.sh",
	    "[ -e @DIR@/down ] && [ \"$CERTMONGER_OPERATION\" != FETCH-ROOTS ] && "
	    "{ echo 'no route to CA'; exit 3; }\n" DESCRIBING_HELPER);
	g_autoptr(CkCa) ca = ck_test_helper_new(helper, 30);
	g_autoptr(GError) error = NULL;

	g_assert_true(ck_test_refresh(ca, &error));
	g_assert_no_error(error);
	g_assert_true(g_file_set_contents(flag, "", 0, NULL));
	g_assert_false(ck_test_refresh(ca, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, "IDENTIFY"));
	g_assert_nonnull(strstr(error->message, "no route to CA"));
	g_assert_cmpstr(ck_ca_get_identity(ca), ==, "Test CA (helper 1.0)");
	g_assert_cmpstr(ck_ca_get_default_template(ca), ==, "client");
}

/* certmonger's own local CA helper, unchanged, issues through this back end. */
static void
test_ca_helper_certmonger_local_submit(Fixture *f, gconstpointer user_data)
{
	const gchar *program = "/usr/lib/certmonger/local-submit";
	g_autofree gchar *data = g_build_filename(f->dir, "certmonger-local", NULL);
	g_autofree gchar *command = NULL;
	g_autofree gchar *roots = NULL;
	g_autoptr(CkCa) ca = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = NULL;

	if (!g_file_test(program, G_FILE_TEST_IS_EXECUTABLE)) {
		g_test_skip("certmonger is not installed");
		return;
	}
	g_assert_cmpint(g_mkdir(data, 0700), ==, 0);
	command = g_strdup_printf("%s -d %s", program, data);
	ca = ck_test_helper_new(command, 30);
	g_assert_true(ck_test_refresh(ca, &error));
	g_assert_no_error(error);
	g_assert_true(g_str_has_prefix(ck_ca_get_identity(ca), "Local Signing Authority"));
	roots = ck_ca_get_root_certificates(ca, &error);
	g_assert_no_error(error);
	result = ck_test_submit(ca, f, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(result->outcome, ==, CK_CA_OUTCOME_ISSUED);
	/* the leaf carries the CSR's key and verifies against the root FETCH-ROOTS gave */
	{
		g_autofree gchar *roots_file = g_build_filename(f->dir, "cm-roots.pem", NULL);
		g_autofree gchar *leaf_file = g_build_filename(f->dir, "cm-leaf.pem", NULL);
		g_autofree gchar *out = NULL;
		const gchar *argv[] = {"openssl", "verify", "-CAfile", roots_file, leaf_file, NULL};
		g_assert_true(g_file_set_contents(roots_file, roots, -1, NULL));
		g_assert_true(g_file_set_contents(leaf_file, result->certificate, -1, NULL));
		g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
		g_assert_nonnull(strstr(out, ": OK"));
	}
	ck_test_assert_issued(f, result, FALSE);
}


/* GET-RENEWAL-WINDOW answers: "START END", then the seconds to ask again */
static void
test_ca_helper_parse_window(void)
{
	const gchar *bad[] = {"", "1700000000", "1700000000 1700000000\n", "1700003600 1700000000",
			      "a b", "1700000000 1700003600 5", "-1 1700000000",
			      "1700000000 1700003600\nsoon\n", NULL};
	gint64 start = 0, end = 0, retry = -1;
	gchar *message = NULL;

	g_assert_true(ck_ca_helper_parse_window("1700000000 1700003600\n21600\n", &start, &end,
						&retry, &message));
	g_assert_null(message);
	g_assert_cmpint(start, ==, 1700000000);
	g_assert_cmpint(end, ==, 1700003600);
	g_assert_cmpint(retry, ==, 21600);
	/* without a second line: 0, "not said" */
	g_assert_true(
	    ck_ca_helper_parse_window(" 1700000000 1700003600 \n", &start, &end, &retry, &message));
	g_assert_cmpint(retry, ==, 0);
	for (guint i = 0; bad[i] != NULL; i++) {
		start = end = retry = 7;
		g_test_message("bad: %s", bad[i]);
		g_assert_false(ck_ca_helper_parse_window(bad[i], &start, &end, &retry, &message));
		g_assert_nonnull(message);
		g_clear_pointer(&message, g_free);
		g_assert_cmpint(start, ==, 7);
		g_assert_cmpint(end, ==, 7);
		g_assert_cmpint(retry, ==, 7);
	}
}

/* CERTKEEPER-GET-CSR-ATTRIBUTES answers: one item a line; secrets never described */
static void
test_ca_helper_parse_csr_attributes(void)
{
	const gchar *bad[] = {"key-type\n", "key-type rsa 3072\n", "extension 2.5.29.17\n",
			      "extension 2.5.29.17 maybe AAAA\n", "extension x.y critical AAAA\n",
			      "extension 1.2.3 critical !!!!\n", "attribute\n", "attribute CN\n",
			      NULL};
	g_autoptr(CkCaCsrAttributes) attributes = NULL;
	g_auto(GStrv) described = NULL;
	gchar *message = NULL;
	CkCsrExtension *ext;

	attributes = ck_ca_helper_parse_csr_attributes(
	    "key-type RSA-3072\n\n  challenge-password two words \n"
	    "extension 1.3.6.1.4.1.99999.1 critical DARmZWV0\n"
	    "attribute 1.2.840.10045.4.3.3\nsomething-new the helper knows more\n",
	    &message);
	g_assert_null(message);
	g_assert_nonnull(attributes);
	g_assert_cmpstr(attributes->key_type, ==, "rsa-3072");
	g_assert_true(attributes->challenge_password);
	g_assert_cmpstr(attributes->challenge, ==, "two words");
	g_assert_cmpuint(attributes->extensions->len, ==, 1);
	ext = g_ptr_array_index(attributes->extensions, 0);
	g_assert_cmpstr(ext->oid, ==, "1.3.6.1.4.1.99999.1");
	g_assert_true(ext->critical);
	g_assert_cmpmem(g_bytes_get_data(ext->value, NULL), g_bytes_get_size(ext->value),
			"\x0c\x04" "feet", 6);
	g_assert_cmpstr(attributes->unfilled[0], ==, "1.2.840.10045.4.3.3");
	g_assert_null(attributes->unfilled[1]);

	/* what CA1.CSRAttributes shows: not the challenge */
	described = ck_ca_csr_attributes_describe(attributes);
	g_assert_cmpuint(g_strv_length(described), ==, 4);
	g_assert_cmpstr(described[0], ==, "key-type rsa-3072");
	g_assert_cmpstr(described[1], ==, "challenge-password");
	g_assert_cmpstr(described[2], ==, "extension 1.3.6.1.4.1.99999.1 critical");
	g_assert_cmpstr(described[3], ==, "attribute 1.2.840.10045.4.3.3");
	g_clear_pointer(&attributes, ck_ca_csr_attributes_free);
	g_clear_pointer(&described, g_strfreev);

	/* a challenge asked for that the helper does not have */
	attributes = ck_ca_helper_parse_csr_attributes("challenge-password\n", &message);
	g_assert_nonnull(attributes);
	g_assert_true(attributes->challenge_password);
	g_assert_null(attributes->challenge);
	described = ck_ca_csr_attributes_describe(attributes);
	g_assert_cmpstr(described[0], ==, "challenge-password (none configured)");
	g_clear_pointer(&attributes, ck_ca_csr_attributes_free);

	/* nothing asked for */
	attributes = ck_ca_helper_parse_csr_attributes("", &message);
	g_assert_nonnull(attributes);
	g_assert_null(attributes->key_type);
	g_assert_false(attributes->challenge_password);
	g_assert_cmpuint(attributes->extensions->len, ==, 0);
	g_clear_pointer(&attributes, ck_ca_csr_attributes_free);

	for (guint i = 0; bad[i] != NULL; i++) {
		g_test_message("bad: %s", bad[i]);
		attributes = ck_ca_helper_parse_csr_attributes(bad[i], &message);
		g_assert_null(attributes);
		g_assert_nonnull(message);
		g_clear_pointer(&message, g_free);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/certkeeper/ca-helper/issues-pem", test_ca_helper_issues_pem);
	ADD("/certkeeper/ca-helper/issues-der-and-pkcs7", test_ca_helper_issues_der_and_pkcs7);
	ADD("/certkeeper/ca-helper/environment", test_ca_helper_environment);
	ADD("/certkeeper/ca-helper/wait-and-poll", test_ca_helper_wait_and_poll);
	ADD("/certkeeper/ca-helper/outcomes", test_ca_helper_outcomes);
	ADD("/certkeeper/ca-helper/failures", test_ca_helper_failures);
	ADD("/certkeeper/ca-helper/timeout-kills-the-group", test_ca_helper_timeout_kills_the_group);
	ADD("/certkeeper/ca-helper/cancel", test_ca_helper_cancel);
	ADD("/certkeeper/ca-helper/missing-program", test_ca_helper_missing_program);
	ADD("/certkeeper/ca-helper/bad-command", test_ca_helper_bad_command);
	ADD("/certkeeper/ca-helper/fetch-roots", test_ca_helper_fetch_roots);
	ADD("/certkeeper/ca-helper/describes-itself", test_ca_helper_describes_itself);
	ADD("/certkeeper/ca-helper/describe-unreachable", test_ca_helper_describe_unreachable);
	ADD("/certkeeper/ca-helper/submit-waits-for-refresh",
	    test_ca_helper_submit_waits_for_refresh);
	ADD("/certkeeper/ca-helper/certmonger-local-submit",
	    test_ca_helper_certmonger_local_submit);
#undef ADD
	g_test_add_func("/certkeeper/ca-helper/parse-window", test_ca_helper_parse_window);
	g_test_add_func("/certkeeper/ca-helper/parse-csr-attributes",
			test_ca_helper_parse_csr_attributes);
	return g_test_run();
}
