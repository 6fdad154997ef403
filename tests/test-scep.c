/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper-scep against micromdm's scepserver (Debian package scep), and
 * against a Python stub that answers garbage. scepserver listens on every
 * interface, so the whole test binary moves into a network namespace of its
 * own first (unshare(CLONE_NEWNET): root only); every child it starts (the
 * server, the helper, dbus-daemon and certkeeperd) lives there too.
 */
#define _GNU_SOURCE /* unshare */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>

#include "ck-cms.h"
#include "ck-scep.h"
#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define SCEP_PORT   8080
#define STUB_PORT   8081
#define DOWN_PORT   8099
#define SCEP_URL    "http://127.0.0.1:8080/scep"
#define STUB_URL    "http://127.0.0.1:8081/scep"
#define FAKE_PORT   8082
#define FAKE_URL    "http://127.0.0.1:8082/scep"
#define OUTAGE_PORT 8083 /* a scepserver of its own, stopped and started again */

/* A scepserver with a depot (its CA) of its own. */
typedef struct {
	gchar *depot;       /* its CA */
	gchar *ca_pem;      /* depot/ca.pem */
	gchar *fingerprint; /* the CA's SHA-256, as openssl prints it */
	gchar *log;         /* what it says, across restarts */
	gchar *url;
	guint port;
	const gchar *days; /* -crtvalid: the issued certificates' lifetime in days */
	GPid pid;
} ScepServer;

/* Set up once in main(); NULL when the peers are missing (every test skips then). */
static gchar *skip_reason;
static gchar *top_dir;     /* the test's files */
static ScepServer *shared; /* the scepserver on SCEP_PORT most tests use */
static const gchar *depot; /* its depot, ca.pem and fingerprint */
static const gchar *ca_pem;
static const gchar *fingerprint;
static gchar *challenge; /* a file holding the right challenge */
static gchar *helper;    /* the built certkeeper-scep */

static gboolean
skip_if_unavailable(void)
{
	if (skip_reason == NULL)
		return FALSE;
	g_test_skip(skip_reason);
	return TRUE;
}

/* Brings the namespace's loopback up (a new network namespace has it down). */
static gboolean
loopback_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	gboolean ok;

	if (fd < 0)
		return FALSE;
	memset(&ifr, 0, sizeof(ifr));
	g_strlcpy(ifr.ifr_name, "lo", sizeof(ifr.ifr_name));
	ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	close(fd);
	return ok;
}

/* Waits until something accepts connections on 127.0.0.1:@port. */
static gboolean
wait_for_port(guint16 port, guint timeout_ms)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
	g_autoptr(GSocketClient) client = g_socket_client_new();

	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GSocketConnection) conn =
		    g_socket_client_connect_to_host(client, "127.0.0.1", port, NULL, NULL);
		if (conn != NULL)
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

/* A test that aborts must not leave its servers running: they die with it. */
static void
die_with_parent(gpointer user_data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

static GPid
spawn_background(const gchar *const *argv, const gchar *log_path)
{
	g_autoptr(GError) error = NULL;
	GPid pid = 0;
	gint out_fd = -1;

	/* appended to: a server started again keeps its earlier log */
	out_fd = g_open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	g_assert_cmpint(out_fd, >=, 0);
	g_spawn_async_with_fds(top_dir, (gchar **)argv, NULL,
			       G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD, die_with_parent,
			       NULL, &pid, -1, out_fd, out_fd, &error);
	g_assert_no_error(error);
	close(out_fd);
	return pid;
}

static void
stop_background(GPid pid)
{
	int status;
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	g_spawn_close_pid(pid);
}

/* Starts @s's scepserver on its depot and port; waits until it listens. */
static void
scep_server_spawn(ScepServer *s)
{
	g_autofree gchar *port = g_strdup_printf("%u", s->port);
	const gchar *serve[] = {"scepserver", "-depot",     s->depot, "-port",
				port,         "-challenge", "secret", "-allowrenew",
				"0",          "-crtvalid",  s->days,  NULL};

	g_assert_cmpint(s->pid, ==, 0);
	s->pid = spawn_background(serve, s->log);
	g_assert_true(wait_for_port(s->port, 10000));
}

/* A new CA in @dir/depot-PORT and a scepserver for it on @port, issuing for @days days. */
static ScepServer *
scep_server_start(const gchar *dir, guint port, const gchar *days)
{
	ScepServer *s = g_new0(ScepServer, 1);
	g_autofree gchar *name = g_strdup_printf("depot-%u", port);
	g_autofree gchar *log_name = g_strdup_printf("scepserver-%u.log", port);
	g_autofree gchar *init_out = NULL, *fp_out = NULL;
	const gchar *init[] = {"scepserver", "ca",       "-init", "-depot",
			       NULL,         "-keySize", "2048",  NULL};
	const gchar *fp[] = {"openssl", "x509", "-noout", "-fingerprint",
			     "-sha256", "-in",  NULL,     NULL};

	s->depot = g_build_filename(dir, name, NULL);
	s->ca_pem = g_build_filename(s->depot, "ca.pem", NULL);
	s->log = g_build_filename(dir, log_name, NULL);
	s->url = g_strdup_printf("http://127.0.0.1:%u/scep", port);
	s->port = port;
	s->days = days;
	init[4] = s->depot;
	fp[6] = s->ca_pem;
	/* (its chatter must not reach the TAP output) */
	g_assert_cmpint(ck_test_run(init, &init_out, NULL), ==, 0);
	g_assert_cmpint(ck_test_run(fp, &fp_out, NULL), ==, 0);
	g_strstrip(fp_out);
	g_assert_nonnull(strchr(fp_out, '='));
	s->fingerprint = g_strdup(strchr(fp_out, '=') + 1);
	scep_server_spawn(s);
	return s;
}

/* Stops the server (a CA gone away); its depot stays for a restart. */
static void
scep_server_kill(ScepServer *s)
{
	g_assert_cmpint(s->pid, >, 0);
	stop_background(s->pid);
	s->pid = 0;
}

static void
scep_server_free(ScepServer *s)
{
	if (s == NULL)
		return;
	if (s->pid > 0)
		scep_server_kill(s);
	g_free(s->depot);
	g_free(s->ca_pem);
	g_free(s->fingerprint);
	g_free(s->log);
	g_free(s->url);
	g_free(s);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ScepServer, scep_server_free)

/* Runs the helper with a scrubbed environment plus @env ("K=V"); gives its exit status. */
static gint
run_helper(const gchar *const *env, const gchar *const *args, gchar **out, gchar **err)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GPtrArray) envp = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gint status = -1;

	g_auto(GStrv) wrapper = NULL;

	/* meson test --setup valgrind: the helper runs under valgrind too */
	if (g_getenv("CK_TEST_DAEMON_WRAPPER") != NULL)
		wrapper = g_strsplit(g_getenv("CK_TEST_DAEMON_WRAPPER"), " ", -1);
	for (guint i = 0; wrapper != NULL && wrapper[i] != NULL; i++)
		g_ptr_array_add(argv, wrapper[i]);
	g_ptr_array_add(argv, helper);
	for (guint i = 0; args != NULL && args[i] != NULL; i++)
		g_ptr_array_add(argv, (gchar *)args[i]);
	g_ptr_array_add(argv, NULL);
	g_ptr_array_add(envp, "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	g_ptr_array_add(envp, "LANG=C.UTF-8");
	for (guint i = 0; env != NULL && env[i] != NULL; i++)
		g_ptr_array_add(envp, (gchar *)env[i]);
	g_ptr_array_add(envp, NULL);
	g_spawn_sync(top_dir, (gchar **)argv->pdata, (gchar **)envp->pdata,
		     wrapper != NULL ? G_SPAWN_SEARCH_PATH : 0, NULL, NULL, out, err, &status,
		     &error);
	g_assert_no_error(error);
	g_test_message("helper exit %d; stdout: %s; stderr: %s", WEXITSTATUS(status),
		       out != NULL ? *out : "-", err != NULL ? *err : "-");
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A fresh RSA (or @ec) key in @dir/@file.key and a CSR for CN=@name.example, without a
 * challenge password. */
static void
make_request_as(const gchar *dir, const gchar *file, const gchar *name, gboolean ec,
		gchar **key_out, gchar **csr_out)
{
	g_autofree gchar *key_name = g_strconcat(file, ".key", NULL);
	g_autofree gchar *csr_name = g_strconcat(file, ".csr", NULL);
	g_autofree gchar *subject = g_strdup_printf("/CN=%s.example", name);
	g_autofree gchar *key = g_build_filename(dir, key_name, NULL);
	g_autofree gchar *csr_path = g_build_filename(dir, csr_name, NULL);
	const gchar *rsa[] = {"openssl", "genrsa", "-out", key, "2048", NULL};
	const gchar *ecgen[] = {"openssl", "genpkey",  "-algorithm",
				"EC",      "-pkeyopt", "ec_paramgen_curve:P-256",
				"-out",    key,        NULL};
	const gchar *req[] = {"openssl", "req",   "-new", "-key",   key,
			      "-subj",   subject, "-out", csr_path, NULL};

	g_autofree gchar *noise = NULL, *noise2 = NULL;

	/* (openssl's progress dots stay out of the test log) */
	g_assert_cmpint(ck_test_run(ec ? ecgen : rsa, NULL, &noise), ==, 0);
	g_assert_cmpint(ck_test_run(req, NULL, &noise2), ==, 0);
	g_assert_true(g_file_get_contents(csr_path, csr_out, NULL, NULL));
	*key_out = g_steal_pointer(&key);
}

static void
make_request(const gchar *dir, const gchar *name, gboolean ec, gchar **key_out, gchar **csr_out)
{
	make_request_as(dir, name, name, ec, key_out, csr_out);
}

/* The first PEM certificate of @pem, written to @dir/@name; gives the path. */
static gchar *
save_pem(const gchar *dir, const gchar *name, const gchar *pem)
{
	return ck_test_write_file(dir, name, pem);
}

/* Asserts @cert_path carries @key's public key and verifies under the CA in @ca_file. */
static void
assert_issued_under(const gchar *ca_file, const gchar *cert_path, const gchar *key)
{
	const gchar *cert_pub[] = {"openssl", "x509", "-noout", "-pubkey", "-in", cert_path, NULL};
	const gchar *key_pub[] = {"openssl", "pkey", "-pubout", "-in", key, NULL};
	const gchar *verify[] = {"openssl", "verify", "-CAfile", ca_file, cert_path, NULL};
	g_autofree gchar *a = NULL, *b = NULL, *v = NULL;

	g_assert_cmpint(ck_test_run(cert_pub, &a, NULL), ==, 0);
	g_assert_cmpint(ck_test_run(key_pub, &b, NULL), ==, 0);
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpint(ck_test_run(verify, &v, NULL), ==, 0);
	g_assert_nonnull(strstr(v, ": OK"));
}

/* ... under the shared scepserver's CA. */
static void
assert_issued_for(const gchar *cert_path, const gchar *key)
{
	assert_issued_under(ca_pem, cert_path, key);
}

static gchar *
openssl_serial(const gchar *cert_path)
{
	const gchar *argv[] = {"openssl", "x509", "-noout", "-serial", "-in", cert_path, NULL};
	gchar *out = NULL;

	g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	g_strstrip(out);
	g_assert_true(g_str_has_prefix(out, "serial="));
	memmove(out, out + strlen("serial="), strlen(out) - strlen("serial=") + 1);
	return out;
}

/*
 * Asserts scepserver's index in @depot_dir lists @serial (as openssl prints it) as
 * revoked: what it does with the certificate a RenewalReq replaces.
 */
static void
assert_revoked(const gchar *depot_dir, const gchar *serial)
{
	g_autofree gchar *index_path = g_build_filename(depot_dir, "index.txt", NULL);
	g_autofree gchar *index = ck_test_read_file(index_path);
	g_auto(GStrv) lines = g_strsplit(index, "\n", -1);
	g_autofree gchar *needle = g_strdup_printf("\t%s\t", serial);
	g_autofree gchar *lower = g_ascii_strdown(needle, -1);
	gboolean revoked = FALSE;

	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *l = g_ascii_strdown(lines[i], -1);
		/* openssl prints the serial with at least two digits, as the index does */
		if (g_str_has_prefix(l, "r\t") && strstr(l, lower) != NULL)
			revoked = TRUE;
	}
	if (!revoked)
		g_error("serial %s is not revoked in %s:\n%s", serial, index_path, index);
}

/* How often @needle occurs in the file @path (a log). */
static guint
count_in_file(const gchar *path, const gchar *needle)
{
	g_autofree gchar *text = ck_test_read_file(path);
	guint n = 0;

	for (const gchar *p = strstr(text, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

typedef struct {
	gchar *dir;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
}

/* GetCACaps parsing, without a peer. */
static void
test_scep_caps(void)
{
	CkScepCaps caps = ck_scep_parse_caps("Renewal\r\nSHA-1\nSHA-256\nAES\nDES3\n"
					     "SCEPStandard\nPOSTPKIOperation\n");
	g_assert_cmpint(caps & CK_SCEP_CAP_RENEWAL, !=, 0);
	g_assert_cmpint(caps & CK_SCEP_CAP_POST, !=, 0);
	g_assert_cmpint(caps & CK_SCEP_CAP_SHA256, !=, 0);
	g_assert_cmpint(caps & CK_SCEP_CAP_AES, !=, 0);
	g_assert_cmpint(caps & CK_SCEP_CAP_GET_NEXT_CA, ==, 0);
	/* case-insensitive; unknown words ignored */
	caps = ck_scep_parse_caps("postpkioperation\nFrobnicate\n");
	g_assert_cmpint(caps, ==, CK_SCEP_CAP_POST);
	/* SCEPStandard implies AES, SHA-256 and POST (RFC 8894 3.5.2) */
	caps = ck_scep_parse_caps("SCEPStandard");
	g_assert_cmpint(caps & (CK_SCEP_CAP_AES | CK_SCEP_CAP_SHA256 | CK_SCEP_CAP_POST), ==,
			CK_SCEP_CAP_AES | CK_SCEP_CAP_SHA256 | CK_SCEP_CAP_POST);
	g_assert_cmpint(ck_scep_parse_caps(""), ==, 0);
	g_assert_cmpint(ck_scep_parse_caps(NULL), ==, 0);
}

/* IDENTIFY, the requirements, FETCH-ROOTS and the operations the helper does not do. */
static void
test_scep_describe(Fixture *f, gconstpointer user_data)
{
	const gchar *args[] = {"--url", SCEP_URL, "--ca-fingerprint", fingerprint, NULL};
	const gchar *identify[] = {"CERTMONGER_OPERATION=IDENTIFY", NULL};
	const gchar *roots[] = {"CERTMONGER_OPERATION=FETCH-ROOTS", NULL};
	const gchar *reqs[] = {"CERTMONGER_OPERATION=GET-NEW-REQUEST-REQUIREMENTS", NULL};
	const gchar *templates[] = {"CERTMONGER_OPERATION=GET-SUPPORTED-TEMPLATES", NULL};
	const gchar *no_url[] = {NULL};
	g_autofree gchar *out = NULL, *err = NULL, *ca = NULL;

	if (skip_if_unavailable())
		return;
	g_assert_cmpint(run_helper(identify, args, &out, NULL), ==, 0);
	g_assert_true(g_str_has_prefix(out, "certkeeper-scep " PACKAGE_VERSION));
	g_clear_pointer(&out, g_free);

	/* the root first, with a nickname line; then the empty other-roots section */
	g_assert_cmpint(run_helper(roots, args, &out, &err), ==, 0);
	g_assert_true(g_file_get_contents(ca_pem, &ca, NULL, NULL));
	g_assert_true(g_str_has_prefix(out, "OU=SCEP CA,O=scep-ca,C=US\n-----BEGIN CERTIFICATE"));
	g_assert_nonnull(strstr(out, ca));
	g_assert_null(strstr(err, "not verified"));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);
	/* without a pin the roots are shown, with a warning naming the fingerprint */
	g_assert_cmpint(run_helper(roots, (const gchar *[]){"--url", SCEP_URL, NULL}, &out, &err),
			==, 0);
	g_assert_nonnull(strstr(err, "not verified"));
	g_assert_nonnull(strstr(err, fingerprint));
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&err, g_free);

	g_assert_cmpint(run_helper(reqs, args, &out, NULL), ==, 0);
	g_assert_cmpstr(out, ==, "");
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(run_helper(templates, args, NULL, NULL), ==, 6);
	/* no --url: underconfigured, and told what to give */
	g_assert_cmpint(run_helper(identify, no_url, &out, NULL), ==, 4);
	g_assert_nonnull(strstr(out, "--url"));
}

/* A first enrollment with the right challenge; then with a wrong one. */
static void
test_scep_enroll(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *key = NULL, *csr = NULL, *out = NULL, *err = NULL, *cert = NULL;
	g_autofree gchar *env_csr = NULL, *env_key = NULL, *wrong = NULL;
	const gchar *args[] = {"--url",     SCEP_URL,           "--ca-fingerprint",
			       fingerprint, "--challenge-file", challenge,
			       NULL};
	const gchar *env[4] = {"CERTMONGER_OPERATION=SUBMIT", NULL, NULL, NULL};

	if (skip_if_unavailable())
		return;
	make_request(f->dir, "enroll", FALSE, &key, &csr);
	env_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	env_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = env_csr;
	env[2] = env_key;
	g_assert_cmpint(run_helper(env, args, &out, &err), ==, 0);
	g_assert_true(g_str_has_prefix(out, "-----BEGIN CERTIFICATE-----"));
	/* the helper says what it sent, for the daemon's log */
	g_assert_nonnull(strstr(err, "PKCSReq"));
	cert = save_pem(f->dir, "enroll.crt", out);
	assert_issued_for(cert, key);
	g_clear_pointer(&out, g_free);

	/* the wrong challenge: rejected, and the failInfo spelled out */
	wrong = ck_test_write_file(f->dir, "wrong", "not-the-secret\n");
	args[5] = wrong;
	g_assert_cmpint(run_helper(env, args, &out, NULL), ==, 2);
	g_assert_nonnull(strstr(out, "badRequest"));
	g_assert_nonnull(strstr(out, "challenge password"));
	g_clear_pointer(&out, g_free);

	/* no challenge at all: scepserver demands one */
	g_assert_cmpint(
	    run_helper(env,
		       (const gchar *[]){"--url", SCEP_URL, "--ca-fingerprint", fingerprint, NULL},
		       &out, NULL),
	    ==, 2);
	g_assert_nonnull(strstr(out, "badRequest"));
}

/* A renewal signed with the current certificate (RenewalReq). */
static void
test_scep_renewal(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *key = NULL, *csr = NULL, *out = NULL, *err = NULL, *cert = NULL;
	g_autofree gchar *key2 = NULL, *csr2 = NULL, *cert2 = NULL, *serial = NULL;
	g_autofree gchar *serial2 = NULL;
	g_autofree gchar *e_csr = NULL, *e_key = NULL, *e_cert = NULL, *e_auth = NULL;
	const gchar *args[] = {"--url",     SCEP_URL,           "--ca-fingerprint",
			       fingerprint, "--challenge-file", challenge,
			       NULL};
	const gchar *env[7] = {"CERTMONGER_OPERATION=SUBMIT"};

	if (skip_if_unavailable())
		return;
	make_request(f->dir, "renew", FALSE, &key, &csr);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = e_csr;
	env[2] = e_key;
	g_assert_cmpint(run_helper(env, args, &out, NULL), ==, 0);
	cert = save_pem(f->dir, "renew.crt", out);
	serial = openssl_serial(cert);
	g_clear_pointer(&out, g_free);
	g_clear_pointer(&e_csr, g_free);
	g_clear_pointer(&e_key, g_free);

	/* a new key for the same name, authenticated by the current certificate and its key */
	make_request_as(f->dir, "renew2", "renew", FALSE, &key2, &csr2);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr2, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key2, NULL);
	e_cert = g_strconcat("CERTKEEPER_AUTH_CERTIFICATE=", cert, NULL);
	e_auth = g_strconcat("CERTKEEPER_AUTH_KEY=", key, NULL);
	env[1] = e_csr;
	env[2] = e_key;
	env[3] = "CERTKEEPER_AUTH_IDENTITY=current";
	env[4] = e_cert;
	env[5] = e_auth;
	g_assert_cmpint(run_helper(env, args, &out, &err), ==, 0);
	g_assert_nonnull(strstr(err, "RenewalReq"));
	cert2 = save_pem(f->dir, "renew2.crt", out);
	assert_issued_for(cert2, key2);
	serial2 = openssl_serial(cert2);
	g_assert_cmpstr(serial2, !=, serial);
	/* scepserver treats it as a re-issue: the old serial is revoked in its index */
	assert_revoked(depot, serial);
}

/* The CA must be the one pinned; without a pin nothing is sent. */
static void
test_scep_pinning(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *key = NULL, *csr = NULL, *out = NULL, *e_csr = NULL, *e_key = NULL;
	g_autofree gchar *other_key = NULL, *other_ca = NULL;
	const gchar *env[4] = {"CERTMONGER_OPERATION=SUBMIT"};
	const gchar *wrong_fp =
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:"
	    "CC:DD:EE:FF";
	g_autofree gchar *plain_fp = NULL;

	if (skip_if_unavailable())
		return;
	make_request(f->dir, "pin", FALSE, &key, &csr);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = e_csr;
	env[2] = e_key;

	/* a wrong fingerprint: refused, and the real one named for checking */
	g_assert_cmpint(run_helper(env,
				   (const gchar *[]){"--url", SCEP_URL, "--ca-fingerprint",
						     wrong_fp, "--challenge-file", challenge, NULL},
				   &out, NULL),
			==, 4);
	g_assert_nonnull(strstr(out, "--ca-fingerprint"));
	g_assert_nonnull(strstr(out, fingerprint));
	g_clear_pointer(&out, g_free);

	/* no pin at all: refused before anything is sent */
	g_assert_cmpint(
	    run_helper(env,
		       (const gchar *[]){"--url", SCEP_URL, "--challenge-file", challenge, NULL},
		       &out, NULL),
	    ==, 4);
	g_assert_nonnull(strstr(out, "Refusing to enroll with an unverified CA"));
	g_clear_pointer(&out, g_free);

	/* the fingerprint in lower case without colons is the same pin */
	plain_fp = g_ascii_strdown(fingerprint, -1);
	{
		gchar *w = plain_fp;
		for (const gchar *r = plain_fp; *r != '\0'; r++)
			if (*r != ':')
				*w++ = *r;
		*w = '\0';
	}
	g_assert_cmpint(run_helper(env,
				   (const gchar *[]){"--url", SCEP_URL, "--ca-fingerprint",
						     plain_fp, "--challenge-file", challenge, NULL},
				   &out, NULL),
			==, 0);
	g_clear_pointer(&out, g_free);

	/* --trust with the depot's CA works; with an unrelated CA it is refused */
	g_assert_cmpint(run_helper(env,
				   (const gchar *[]){"--url", SCEP_URL, "--trust", ca_pem,
						     "--challenge-file", challenge, NULL},
				   &out, NULL),
			==, 0);
	g_clear_pointer(&out, g_free);
	other_key = g_build_filename(f->dir, "other.key", NULL);
	other_ca = g_build_filename(f->dir, "other.pem", NULL);
	{
		const gchar *argv[] = {
		    "openssl", "req",     "-x509", "-newkey", "rsa:2048",
		    "-nodes",  "-days",   "2",     "-subj",   "/CN=someone else's CA",
		    "-keyout", other_key, "-out",  other_ca,  NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	}
	g_assert_cmpint(run_helper(env,
				   (const gchar *[]){"--url", SCEP_URL, "--trust", other_ca,
						     "--challenge-file", challenge, NULL},
				   &out, NULL),
			==, 4);
	g_assert_nonnull(strstr(out, "does not chain to"));
}

/* What the helper cannot work with: the key is missing or not RSA. */
static void
test_scep_bad_input(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *key = NULL, *csr = NULL, *out = NULL, *e_csr = NULL, *e_key = NULL;
	const gchar *args[] = {"--url",     SCEP_URL,           "--ca-fingerprint",
			       fingerprint, "--challenge-file", challenge,
			       NULL};
	const gchar *env[5] = {"CERTMONGER_OPERATION=SUBMIT"};

	if (skip_if_unavailable())
		return;
	make_request(f->dir, "ec", TRUE, &key, &csr);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = e_csr;
	/* no CERTKEEPER_KEY_FILE (as under certmonger) */
	g_assert_cmpint(run_helper(env, args, &out, NULL), ==, 4);
	g_assert_nonnull(strstr(out, "CERTKEEPER_KEY_FILE"));
	g_clear_pointer(&out, g_free);
	/* an EC key: SCEP's answer needs RSA key transport */
	env[2] = e_key;
	g_assert_cmpint(run_helper(env, args, &out, NULL), ==, 4);
	g_assert_nonnull(strstr(out, "RSA"));
	g_clear_pointer(&out, g_free);
	/* no CSR at all */
	g_assert_cmpint(
	    run_helper((const gchar *[]){"CERTMONGER_OPERATION=SUBMIT", NULL}, args, &out, NULL),
	    ==, 4);
	g_assert_nonnull(strstr(out, "CERTMONGER_CSR"));
	g_clear_pointer(&out, g_free);
	/* a POLL without our cookie */
	g_assert_cmpint(run_helper((const gchar *[]){"CERTMONGER_OPERATION=POLL",
						     "CERTMONGER_CA_COOKIE=ticket-7", NULL},
				   args, &out, NULL),
			==, 4);
	g_assert_nonnull(strstr(out, "cookie"));
	g_clear_pointer(&out, g_free);
	/* a well-formed CertPoll reaches scepserver, which answers that it has no CertPoll */
	env[0] = "CERTMONGER_OPERATION=POLL";
	env[2] = "CERTMONGER_CA_COOKIE=scep-v1:0123456789ABCDEF";
	g_clear_pointer(&e_key, g_free);
	g_clear_pointer(&e_csr, g_free);
	g_clear_pointer(&key, g_free);
	g_clear_pointer(&csr, g_free);
	make_request(f->dir, "poll", FALSE, &key, &csr);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = e_csr;
	env[3] = e_key;
	g_assert_cmpint(run_helper(env, args, &out, NULL), ==, 3);
	g_assert_nonnull(strstr(out, "answered CertPoll"));
	g_assert_nonnull(strstr(out, "HTTP 500 (not implemented)"));
}

/* Nobody listening: unreachable. */
static void
test_scep_server_down(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *key = NULL, *csr = NULL, *out = NULL, *e_csr = NULL, *e_key = NULL;
	g_autofree gchar *url = g_strdup_printf("http://127.0.0.1:%d/scep", DOWN_PORT);
	const gchar *env[4] = {"CERTMONGER_OPERATION=SUBMIT"};

	if (skip_if_unavailable())
		return;
	make_request(f->dir, "down", FALSE, &key, &csr);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = e_csr;
	env[2] = e_key;
	g_assert_cmpint(
	    run_helper(env, (const gchar *[]){"--url", url, "--ca-fingerprint", fingerprint, NULL},
		       &out, NULL),
	    ==, 3);
	g_assert_nonnull(strstr(out, "GetCACaps"));
	g_assert_nonnull(strstr(out, url));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(run_helper((const gchar *[]){"CERTMONGER_OPERATION=FETCH-ROOTS", NULL},
				   (const gchar *[]){"--url", url, NULL}, &out, NULL),
			==, 3);
}

static const gchar stub_py[] =
    "import http.server, sys\n"
    "mode, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def reply(self, status, ctype, body):\n"
    "        self.send_response(status)\n"
    "        self.send_header('Content-Type', ctype)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def do_GET(self):\n"
    "        if 'GetCACaps' in self.path:\n"
    "            self.reply(200, 'text/plain', b'POSTPKIOperation\\nSHA-256\\nAES\\n')\n"
    "        elif mode == 'cacert':\n"
    "            self.reply(200, 'text/html', b'<html>hello, world</html>')\n"
    "        elif mode == 'missing':\n"
    "            self.reply(404, 'text/html', b'no such page')\n"
    "        else:\n"
    "            self.reply(200, 'application/x-x509-ca-cert', open(ca, 'rb').read())\n"
    "    def do_POST(self):\n"
    "        self.rfile.read(int(self.headers.get('Content-Length', 0)))\n"
    "        if mode == 'error':\n"
    "            self.reply(500, 'text/plain', b'internal\\xfftrouble\\x01')\n"
    "        elif mode in ('busy', 'slow', 'forbidden'):\n"
    "            status = {'busy': 429, 'slow': 408, 'forbidden': 403}[mode]\n"
    "            self.reply(status, 'text/plain', b'not now')\n"
    "        else:\n"
    "            self.reply(200, 'application/x-pki-message', b'\\x30\\x03\\x02\\x01\\x00')\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()\n";

/* Runs one SUBMIT against the stub in @mode; gives the exit status and stdout. */
static gint
submit_to_stub(Fixture *f, const gchar *mode, gchar **out)
{
	g_autofree gchar *script = ck_test_write_file(f->dir, "stub.py", stub_py);
	g_autofree gchar *der = g_build_filename(f->dir, "ca.der", NULL);
	g_autofree gchar *log = g_build_filename(f->dir, "stub.log", NULL);
	g_autofree gchar *port = g_strdup_printf("%d", STUB_PORT);
	g_autofree gchar *key = NULL, *csr = NULL, *e_csr = NULL, *e_key = NULL;
	const gchar *to_der[] = {"openssl", "x509", "-in", ca_pem, "-outform",
				 "DER",     "-out", der,   NULL};
	const gchar *argv[] = {"python3", script, mode, port, der, NULL};
	const gchar *env[4] = {"CERTMONGER_OPERATION=SUBMIT"};
	GPid pid;
	gint status;

	g_assert_cmpint(ck_test_run(to_der, NULL, NULL), ==, 0);
	make_request(f->dir, mode, FALSE, &key, &csr);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[1] = e_csr;
	env[2] = e_key;
	pid = spawn_background(argv, log);
	g_assert_true(wait_for_port(STUB_PORT, 10000));
	status = run_helper(env,
			    (const gchar *[]){"--url", STUB_URL, "--ca-fingerprint", fingerprint,
					      "--challenge-file", challenge, NULL},
			    out, NULL);
	stop_background(pid);
	return status;
}

/* Answers that are not SCEP: unreachable (retried), each with a message that says what. */
static void
test_scep_garbage(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *out = NULL;

	if (skip_if_unavailable())
		return;
	if (!ck_test_have_program("python3")) {
		g_test_skip("python3 is not installed");
		return;
	}
	/* GetCACert answers a web page */
	g_assert_cmpint(submit_to_stub(f, "cacert", &out), ==, 3);
	g_assert_nonnull(strstr(out, "holds no certificate"));
	g_assert_nonnull(strstr(out, "text/html"));
	g_clear_pointer(&out, g_free);
	/* the CA is fine, the PKIOperation answer is not a pkiMessage */
	g_assert_cmpint(submit_to_stub(f, "pkiop", &out), ==, 3);
	g_assert_nonnull(strstr(out, "not a PKCS#7 pkiMessage"));
	g_clear_pointer(&out, g_free);
	/* a server error is worth retrying */
	g_assert_cmpint(submit_to_stub(f, "error", &out), ==, 3);
	g_assert_nonnull(strstr(out, "HTTP 500"));
	/* the server's bytes are quoted as printable ASCII: messages go on D-Bus */
	g_assert_nonnull(strstr(out, "(internal?trouble?)"));
	g_assert_true(g_utf8_validate(out, -1, NULL));
	g_clear_pointer(&out, g_free);
	/* too many requests, a request timeout: worth asking again later */
	g_assert_cmpint(submit_to_stub(f, "busy", &out), ==, 3);
	g_assert_nonnull(strstr(out, "HTTP 429 (not now)"));
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(submit_to_stub(f, "slow", &out), ==, 3);
	g_assert_nonnull(strstr(out, "HTTP 408 (not now)"));
	g_clear_pointer(&out, g_free);
	/* other refusals of the HTTP request are the CA's answer */
	g_assert_cmpint(submit_to_stub(f, "forbidden", &out), ==, 2);
	g_assert_nonnull(strstr(out, "HTTP 403 (not now)"));
	g_clear_pointer(&out, g_free);
	/* a wrong path needs a human */
	g_assert_cmpint(submit_to_stub(f, "missing", &out), ==, 4);
	g_assert_nonnull(strstr(out, "HTTP 404"));
	g_assert_nonnull(strstr(out, "--url"));
}

/*
 * A scripted SCEP server in a thread of the test, built on the same CMS code
 * and GnuTLS: it answers what scepserver never does (PENDING, RA
 * certificates, a forged signature, a wrong nonce).
 */
typedef enum {
	FAKE_PENDING,     /* PKCSReq: PENDING; CertPoll: SUCCESS */
	FAKE_RA,          /* CA + RA certificates; the RA decrypts and signs */
	FAKE_FORGED,      /* the answer is signed by a stranger */
	FAKE_WRONG_NONCE, /* the answer carries another recipientNonce */
	FAKE_ISSUE,       /* PKCSReq and RenewalReq: SUCCESS, signed by the CA (for certkeeperd) */
} FakeMode;

/* How the answer to a PKIOperation breaks (FakeServer.broken, changed while it runs). */
typedef enum {
	FAKE_ANSWER_OK,        /* as the mode says */
	FAKE_ANSWER_GARBAGE,   /* random bytes as application/x-pki-message */
	FAKE_ANSWER_TRUNCATED, /* half the real answer, then the connection closes */
	FAKE_ANSWER_HTML,      /* a proxy's error page: text/html */
	FAKE_ANSWER_HUGE,      /* 8 MiB */
	FAKE_ANSWER_EMPTY,     /* 200 with no body */
	FAKE_ANSWER_REFUSED,   /* a proper FAILURE: badRequest, with a failInfoText */
} FakeAnswer;

typedef struct {
	FakeMode mode;
	GSocketListener *listener;
	GCancellable *cancellable;
	GThread *thread;
	gnutls_x509_privkey_t ca_x509, ra_x509, stranger_x509;
	gnutls_privkey_t ca_key, ra_key, stranger_key;
	gnutls_x509_crt_t ca, ra, stranger;
	gnutls_x509_crq_t pending_csr; /* what a PENDING PKCSReq asked for */
	GPtrArray *seen;               /* the message types received, as text */
	GMutex lock;
	gint broken; /* a FakeAnswer, read atomically */
} FakeServer;

static void
fake_identity(const gchar *dn, gnutls_x509_crt_t issuer, gnutls_privkey_t issuer_key, gboolean ca,
	      guint usage, gnutls_x509_privkey_t *x509_out, gnutls_privkey_t *key_out,
	      gnutls_x509_crt_t *crt_out)
{
	gnutls_x509_privkey_t x509;
	gnutls_privkey_t key;
	gnutls_x509_crt_t crt;
	guint8 serial[8];
	time_t now = time(NULL);

	g_assert_cmpint(gnutls_x509_privkey_init(&x509), ==, 0);
	g_assert_cmpint(gnutls_x509_privkey_generate(x509, GNUTLS_PK_RSA, 2048, 0), ==, 0);
	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_privkey_import_x509(key, x509, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f;
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now - 600), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, now + 86400), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_dn(crt, dn, NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_key(crt, x509), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, ca, -1), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_key_usage(crt, usage), ==, 0);
	/* @issuer without @issuer_key: its name, but our own signature (a forgery) */
	g_assert_cmpint(gnutls_x509_crt_privkey_sign(crt, issuer != NULL ? issuer : crt,
						     issuer_key != NULL ? issuer_key : key,
						     GNUTLS_DIG_SHA256, 0),
			==, 0);
	*x509_out = x509;
	*key_out = key;
	*crt_out = crt;
}

static GBytes *
crt_der(gnutls_x509_crt_t crt)
{
	gnutls_datum_t der = {NULL, 0};
	GBytes *bytes;
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
	bytes = g_bytes_new(der.data, der.size);
	gnutls_free(der.data);
	return bytes;
}

/* DER of a PrintableString (@tag 0x13) or UTF8String (0x0c). */
static void
add_tagged_attr(gnutls_pkcs7_attrs_t *attrs, const gchar *oid, guint8 tag, const gchar *value)
{
	g_autoptr(GByteArray) der = g_byte_array_new();
	guint8 tl[2] = {tag, (guint8)strlen(value)};
	gnutls_datum_t datum;

	g_byte_array_append(der, tl, 2);
	g_byte_array_append(der, (const guint8 *)value, strlen(value));
	datum = (gnutls_datum_t){der->data, der->len};
	g_assert_cmpint(gnutls_pkcs7_add_attr(attrs, oid, &datum, 0), ==, 0);
}

static void
add_string_attr(gnutls_pkcs7_attrs_t *attrs, const gchar *oid, const gchar *value)
{
	add_tagged_attr(attrs, oid, 0x13, value);
}

/*
 * A CertRep with @status, signed by @signer, answering @tid and @nonce; @content may
 * be NULL. A FAILURE says badCertId, or badRequest with @fail_text as failInfoText.
 */
static GBytes *
fake_cert_rep(gnutls_x509_crt_t signer, gnutls_privkey_t key, const gchar *status, const gchar *tid,
	      const gnutls_datum_t *nonce, GBytes *content, const gchar *fail_text)
{
	gnutls_pkcs7_attrs_t attrs = NULL;
	gnutls_pkcs7_t p7 = NULL;
	gnutls_datum_t out = {NULL, 0};
	/* GnuTLS cannot sign an empty content (scepserver's empty FAILURE answers are
	 * what /enroll checks): PENDING and FAILURE carry one ignored byte here */
	gnutls_datum_t data = {(guint8 *)"-", 1};
	guint8 own_nonce[16];
	gnutls_datum_t own = {own_nonce, sizeof(own_nonce)};
	GBytes *rep;

	gnutls_rnd(GNUTLS_RND_NONCE, own_nonce, sizeof(own_nonce));
	add_string_attr(&attrs, "2.16.840.1.113733.1.9.7", tid);
	add_string_attr(&attrs, "2.16.840.1.113733.1.9.2", "3");
	add_string_attr(&attrs, "2.16.840.1.113733.1.9.3", status);
	if (g_str_equal(status, "2"))
		add_string_attr(&attrs, "2.16.840.1.113733.1.9.4", fail_text != NULL ? "2" : "4");
	if (fail_text != NULL)
		add_tagged_attr(&attrs, "1.3.6.1.5.5.7.24.1", 0x0c, fail_text);
	g_assert_cmpint(gnutls_pkcs7_add_attr(&attrs, "2.16.840.1.113733.1.9.6",
					      (gnutls_datum_t *)nonce,
					      GNUTLS_PKCS7_ATTR_ENCODE_OCTET_STRING),
			==, 0);
	g_assert_cmpint(gnutls_pkcs7_add_attr(&attrs, "2.16.840.1.113733.1.9.5", &own,
					      GNUTLS_PKCS7_ATTR_ENCODE_OCTET_STRING),
			==, 0);
	if (content != NULL)
		data = (gnutls_datum_t){(guint8 *)g_bytes_get_data(content, NULL),
					g_bytes_get_size(content)};
	g_assert_cmpint(gnutls_pkcs7_init(&p7), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_sign(p7, signer, key, &data, attrs, NULL, GNUTLS_DIG_SHA256,
					  GNUTLS_PKCS7_EMBED_DATA | GNUTLS_PKCS7_INCLUDE_CERT),
			==, 0);
	g_assert_cmpint(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &out), ==, 0);
	rep = g_bytes_new(out.data, out.size);
	gnutls_free(out.data);
	gnutls_pkcs7_deinit(p7);
	gnutls_pkcs7_attrs_deinit(attrs);
	return rep;
}

/* The certificate for @csr, in a certs-only PKCS#7, encrypted to @recipient. */
static GBytes *
fake_issue(FakeServer *fs, gnutls_x509_crq_t csr, gnutls_x509_crt_t recipient)
{
	gnutls_x509_crt_t crt;
	gnutls_pkcs7_t p7;
	gnutls_datum_t out = {NULL, 0};
	guint8 serial[8];
	time_t now = time(NULL);
	g_autoptr(GBytes) degenerate = NULL;
	g_autoptr(GError) error = NULL;
	GBytes *env;

	/* a serial of its own for each certificate: a renewal is seen as a new one */
	gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] = (serial[0] & 0x7f) | 0x10;
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_crq(crt, csr), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, now - 60), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, now + 3600), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_privkey_sign(crt, fs->ca, fs->ca_key, GNUTLS_DIG_SHA256, 0),
			==, 0);
	g_assert_cmpint(gnutls_pkcs7_init(&p7), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_set_crt(p7, crt), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &out), ==, 0);
	degenerate = g_bytes_new(out.data, out.size);
	gnutls_free(out.data);
	gnutls_pkcs7_deinit(p7);
	gnutls_x509_crt_deinit(crt);
	env = ck_cms_envelope(degenerate, recipient, CK_CMS_CIPHER_AES_128_CBC, &error);
	g_assert_no_error(error);
	return env;
}

/* Answers one pkiMessage. */
static GBytes *
fake_pki_operation(FakeServer *fs, GBytes *body)
{
	gnutls_datum_t data = {(guint8 *)g_bytes_get_data(body, NULL), g_bytes_get_size(body)};
	gnutls_pkcs7_t p7 = NULL;
	gnutls_pkcs7_signature_info_st info;
	gnutls_datum_t signer_der = {NULL, 0}, nonce = {NULL, 0};
	gnutls_x509_crt_t signer = NULL;
	gnutls_x509_crt_t decrypter = fs->mode == FAKE_RA ? fs->ra : fs->ca;
	gnutls_privkey_t decrypter_key = fs->mode == FAKE_RA ? fs->ra_key : fs->ca_key;
	g_autofree gchar *type = NULL, *tid = NULL;
	g_autoptr(GBytes) content = NULL;
	g_autoptr(GBytes) inner = NULL;
	g_autoptr(GBytes) issued = NULL;
	g_autoptr(GError) error = NULL;
	GBytes *rep;

	/* the request is signed by the certificate it carries, and encrypted to us */
	g_assert_cmpint(gnutls_pkcs7_init(&p7), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_import(p7, &data, GNUTLS_X509_FMT_DER), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_get_crt_raw2(p7, 0, &signer_der), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&signer), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(signer, &signer_der, GNUTLS_X509_FMT_DER), ==, 0);
	content = ck_cms_verify(body, signer, 0, &error);
	g_assert_no_error(error);
	inner = ck_cms_open(content, decrypter, decrypter_key, &error);
	g_assert_no_error(error);
	memset(&info, 0, sizeof(info));
	g_assert_cmpint(gnutls_pkcs7_get_signature_info(p7, 0, &info), ==, 0);
	for (unsigned int i = 0;; i++) {
		char *oid = NULL;
		gnutls_datum_t value = {NULL, 0};
		if (gnutls_pkcs7_get_attr(info.signed_attrs, i, &oid, &value, 0) < 0)
			break;
		if (g_str_equal(oid, "2.16.840.1.113733.1.9.2"))
			type = g_strndup((const gchar *)value.data + 2, value.size - 2);
		else if (g_str_equal(oid, "2.16.840.1.113733.1.9.7"))
			tid = g_strndup((const gchar *)value.data + 2, value.size - 2);
		else if (g_str_equal(oid, "2.16.840.1.113733.1.9.5")) {
			gnutls_free(value.data);
			g_assert_cmpint(
			    gnutls_pkcs7_get_attr(info.signed_attrs, i, &oid, &nonce,
						  GNUTLS_PKCS7_ATTR_ENCODE_OCTET_STRING),
			    ==, 0);
			continue;
		}
		gnutls_free(value.data);
	}
	g_assert_nonnull(type);
	g_assert_nonnull(tid);
	g_assert_cmpuint(nonce.size, ==, 16);
	g_mutex_lock(&fs->lock);
	g_ptr_array_add(fs->seen, g_strdup(type));
	g_mutex_unlock(&fs->lock);

	if (g_atomic_int_get(&fs->broken) == FAKE_ANSWER_REFUSED) {
		rep = fake_cert_rep(fs->ca, fs->ca_key, "2", tid, &nonce, NULL,
				    "the one-time password was used already");
	} else if (g_str_equal(type, "19") || (fs->mode == FAKE_ISSUE && g_str_equal(type, "17"))) {
		/* (a RenewalReq is issued like a PKCSReq when the mode issues at all) */
		gnutls_x509_crq_t csr;
		gnutls_datum_t csr_der = {(guint8 *)g_bytes_get_data(inner, NULL),
					  g_bytes_get_size(inner)};
		g_assert_cmpint(gnutls_x509_crq_init(&csr), ==, 0);
		g_assert_cmpint(gnutls_x509_crq_import(csr, &csr_der, GNUTLS_X509_FMT_DER), ==, 0);
		if (fs->mode == FAKE_PENDING) {
			if (fs->pending_csr != NULL)
				gnutls_x509_crq_deinit(fs->pending_csr);
			fs->pending_csr = csr;
			rep = fake_cert_rep(fs->ca, fs->ca_key, "3", tid, &nonce, NULL, NULL);
		} else {
			issued = fake_issue(fs, csr, signer);
			gnutls_x509_crq_deinit(csr);
			if (fs->mode == FAKE_FORGED)
				rep = fake_cert_rep(fs->stranger, fs->stranger_key, "0", tid,
						    &nonce, issued, NULL);
			else if (fs->mode == FAKE_WRONG_NONCE) {
				guint8 other[16] = {0};
				gnutls_datum_t wrong = {other, sizeof(other)};
				rep = fake_cert_rep(fs->ca, fs->ca_key, "0", tid, &wrong, issued,
						    NULL);
			} else if (fs->mode == FAKE_ISSUE)
				rep = fake_cert_rep(fs->ca, fs->ca_key, "0", tid, &nonce, issued,
						    NULL);
			else
				rep = fake_cert_rep(fs->ra, fs->ra_key, "0", tid, &nonce, issued,
						    NULL);
		}
	} else if (g_str_equal(type, "20") && fs->pending_csr != NULL) {
		/* CertPoll: IssuerAndSubject, a SEQUENCE of two Names */
		g_assert_cmpint(((const guint8 *)g_bytes_get_data(inner, NULL))[0], ==, 0x30);
		issued = fake_issue(fs, fs->pending_csr, signer);
		rep = fake_cert_rep(fs->ca, fs->ca_key, "0", tid, &nonce, issued, NULL);
	} else {
		rep = fake_cert_rep(fs->ca, fs->ca_key, "2", tid, &nonce, NULL, NULL);
	}
	gnutls_free(nonce.data);
	gnutls_free(signer_der.data);
	gnutls_pkcs7_signature_info_deinit(&info);
	gnutls_pkcs7_deinit(p7);
	gnutls_x509_crt_deinit(signer);
	return rep;
}

/* GetCACert: the CA alone, or (RA mode) a certs-only PKCS#7 with the RA first. */
static GBytes *
fake_ca_certs(FakeServer *fs, const gchar **type)
{
	gnutls_pkcs7_t p7;
	gnutls_datum_t out = {NULL, 0};
	GBytes *bytes;

	if (fs->mode != FAKE_RA) {
		*type = "application/x-x509-ca-cert";
		return crt_der(fs->ca);
	}
	*type = "application/x-x509-ca-ra-cert";
	g_assert_cmpint(gnutls_pkcs7_init(&p7), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_set_crt(p7, fs->ra), ==, 0);
	/* a stranger's certificate claiming the CA's name must be ignored */
	g_assert_cmpint(gnutls_pkcs7_set_crt(p7, fs->stranger), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_set_crt(p7, fs->ca), ==, 0);
	g_assert_cmpint(gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &out), ==, 0);
	bytes = g_bytes_new(out.data, out.size);
	gnutls_free(out.data);
	gnutls_pkcs7_deinit(p7);
	return bytes;
}

/* One HTTP/1.1 exchange on @conn (the helper sends "Connection: close"). */
static void
fake_serve_one(FakeServer *fs, GSocketConnection *conn)
{
	GInputStream *in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	g_autoptr(GByteArray) buf = g_byte_array_new();
	g_autoptr(GBytes) body = NULL;
	g_autoptr(GBytes) answer = NULL;
	g_autofree gchar *head = NULL, *header = NULL;
	const gchar *type = "text/plain";
	gsize header_len = 0, content_length = 0, send_length;
	FakeAnswer broken = FAKE_ANSWER_OK;
	const gchar *cl;
	guint8 chunk[4096];

	/* the head, then as much body as Content-Length says */
	for (;;) {
		gssize n = g_input_stream_read(in, chunk, sizeof(chunk), NULL, NULL);
		const guint8 *end;
		if (n <= 0)
			return;
		g_byte_array_append(buf, chunk, n);
		end = memmem(buf->data, buf->len, "\r\n\r\n", 4);
		if (end != NULL) {
			header_len = end - buf->data + 4;
			break;
		}
	}
	head = g_ascii_strdown((const gchar *)buf->data, header_len);
	cl = strstr(head, "content-length:");
	if (cl != NULL)
		content_length = g_ascii_strtoull(cl + strlen("content-length:"), NULL, 10);
	while (buf->len < header_len + content_length) {
		gssize n = g_input_stream_read(in, chunk, sizeof(chunk), NULL, NULL);
		if (n <= 0)
			return;
		g_byte_array_append(buf, chunk, n);
	}
	body = g_bytes_new(buf->data + header_len, content_length);
	if (strstr(head, "operation=getcacaps") != NULL)
		answer = g_bytes_new_static("POSTPKIOperation\nSHA-256\nAES\nRenewal\n", 37);
	else if (strstr(head, "operation=getcacert") != NULL)
		answer = fake_ca_certs(fs, &type);
	else {
		broken = g_atomic_int_get(&fs->broken);
		type = "application/x-pki-message";
		switch (broken) {
		case FAKE_ANSWER_GARBAGE: {
			guint8 noise[512];
			gnutls_rnd(GNUTLS_RND_NONCE, noise, sizeof(noise));
			noise[0] = 0x04; /* never a SEQUENCE, so never a PKCS#7 by chance */
			answer = g_bytes_new(noise, sizeof(noise));
			break;
		}
		case FAKE_ANSWER_HTML:
			type = "text/html";
			answer =
			    g_bytes_new_static("<html><body>502 Bad Gateway</body></html>\n", 42);
			break;
		case FAKE_ANSWER_HUGE:
			answer = g_bytes_new_take(g_malloc0(8 << 20), 8 << 20);
			break;
		case FAKE_ANSWER_EMPTY:
			answer = g_bytes_new_static("", 0);
			break;
		case FAKE_ANSWER_OK:
		case FAKE_ANSWER_TRUNCATED:
		case FAKE_ANSWER_REFUSED:
		default:
			answer = fake_pki_operation(fs, body);
			break;
		}
	}
	header = g_strdup_printf("HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				 "Connection: close\r\n\r\n",
				 type, g_bytes_get_size(answer));
	send_length = g_bytes_get_size(answer);
	if (broken == FAKE_ANSWER_TRUNCATED)
		send_length /= 2;
	g_output_stream_write_all(out, header, strlen(header), NULL, NULL, NULL);
	/* (a client that gives up early closes its end: the write just fails) */
	g_output_stream_write_all(out, g_bytes_get_data(answer, NULL), send_length, NULL, NULL,
				  NULL);
}

static gpointer
fake_thread(gpointer user_data)
{
	FakeServer *fs = user_data;

	for (;;) {
		g_autoptr(GSocketConnection) conn =
		    g_socket_listener_accept(fs->listener, NULL, fs->cancellable, NULL);
		if (conn == NULL)
			break;
		fake_serve_one(fs, conn);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	}
	return NULL;
}

static FakeServer *
fake_start(FakeMode mode)
{
	FakeServer *fs = g_new0(FakeServer, 1);
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) address = g_inet_socket_address_new(loopback, FAKE_PORT);
	g_autoptr(GError) error = NULL;

	fs->mode = mode;
	fs->seen = g_ptr_array_new_with_free_func(g_free);
	g_mutex_init(&fs->lock);
	fake_identity("CN=Fake SCEP CA", NULL, NULL, TRUE,
		      GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN |
			  GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,
		      &fs->ca_x509, &fs->ca_key, &fs->ca);
	fake_identity("CN=Fake SCEP RA", fs->ca, fs->ca_key, FALSE,
		      GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT, &fs->ra_x509,
		      &fs->ra_key, &fs->ra);
	/* a stranger that names the CA as its issuer, but signed itself */
	fake_identity("CN=Fake SCEP RA (forged)", fs->ca, NULL, FALSE,
		      GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT,
		      &fs->stranger_x509, &fs->stranger_key, &fs->stranger);
	fs->listener = g_socket_listener_new();
	fs->cancellable = g_cancellable_new();
	g_socket_listener_add_address(fs->listener, address, G_SOCKET_TYPE_STREAM,
				      G_SOCKET_PROTOCOL_TCP, NULL, NULL, &error);
	g_assert_no_error(error);
	fs->thread = g_thread_new("fake-scep", fake_thread, fs);
	return fs;
}

static void
fake_stop(FakeServer *fs)
{
	g_cancellable_cancel(fs->cancellable);
	g_thread_join(fs->thread);
	g_socket_listener_close(fs->listener);
	g_object_unref(fs->listener);
	g_object_unref(fs->cancellable);
	if (fs->pending_csr != NULL)
		gnutls_x509_crq_deinit(fs->pending_csr);
	gnutls_x509_crt_deinit(fs->ca);
	gnutls_x509_crt_deinit(fs->ra);
	gnutls_x509_crt_deinit(fs->stranger);
	gnutls_privkey_deinit(fs->ca_key);
	gnutls_privkey_deinit(fs->ra_key);
	gnutls_privkey_deinit(fs->stranger_key);
	gnutls_x509_privkey_deinit(fs->ca_x509);
	gnutls_x509_privkey_deinit(fs->ra_x509);
	gnutls_x509_privkey_deinit(fs->stranger_x509);
	g_ptr_array_unref(fs->seen);
	g_mutex_clear(&fs->lock);
	g_free(fs);
}

/* Runs @operation against the fake server with a fresh request in @f->dir. */
static gint
fake_submit(Fixture *f, FakeServer *fs, const gchar *operation, const gchar *cookie,
	    const gchar *csr_key_name, gchar **out, gchar **err)
{
	g_autofree gchar *key = NULL, *csr = NULL, *e_csr = NULL, *e_key = NULL, *e_op = NULL;
	g_autofree gchar *e_cookie = NULL, *fp = ck_scep_fingerprint(fs->ca);
	g_autofree gchar *csr_path = NULL;
	g_autofree gchar *base = g_build_filename(f->dir, csr_key_name, NULL);
	const gchar *env[5] = {NULL};

	/* a new key and CSR the first time; a POLL reuses them */
	key = g_strconcat(base, ".key", NULL);
	csr_path = g_strconcat(base, ".csr", NULL);
	if (!g_file_test(key, G_FILE_TEST_EXISTS)) {
		g_clear_pointer(&key, g_free);
		make_request(f->dir, csr_key_name, FALSE, &key, &csr);
		g_clear_pointer(&csr, g_free);
	}
	g_assert_true(g_file_get_contents(csr_path, &csr, NULL, NULL));
	e_op = g_strconcat("CERTMONGER_OPERATION=", operation, NULL);
	e_csr = g_strconcat("CERTMONGER_CSR=", csr, NULL);
	e_key = g_strconcat("CERTKEEPER_KEY_FILE=", key, NULL);
	env[0] = e_op;
	env[1] = e_csr;
	env[2] = e_key;
	if (cookie != NULL) {
		e_cookie = g_strconcat("CERTMONGER_CA_COOKIE=", cookie, NULL);
		env[3] = e_cookie;
	}
	return run_helper(env,
			  (const gchar *[]){"--url", FAKE_URL, "--ca-fingerprint", fp,
					    "--poll-interval", "7", NULL},
			  out, err);
}

/* PENDING: exit 5 with a cookie; POLL with it sends CertPoll and gets the certificate. */
static void
test_scep_pending(Fixture *f, gconstpointer user_data)
{
	FakeServer *fs;
	g_autofree gchar *out = NULL, *cookie = NULL, *cert = NULL, *key = NULL;
	gchar *newline;

	if (skip_if_unavailable())
		return;
	fs = fake_start(FAKE_PENDING);
	g_assert_cmpint(fake_submit(f, fs, "SUBMIT", NULL, "pend", &out, NULL), ==, 5);
	/* the delay, then the cookie with the transaction */
	g_assert_true(g_str_has_prefix(out, "7\nscep-v1:"));
	newline = strchr(out, '\n');
	cookie = g_strstrip(g_strdup(newline + 1));
	g_assert_cmpuint(strlen(cookie), ==, strlen("scep-v1:") + 64);
	g_clear_pointer(&out, g_free);
	g_assert_cmpint(fake_submit(f, fs, "POLL", cookie, "pend", &out, NULL), ==, 0);
	cert = save_pem(f->dir, "pend.crt", out);
	key = g_build_filename(f->dir, "pend.key", NULL);
	{
		const gchar *a[] = {"openssl", "x509", "-noout", "-pubkey", "-in", cert, NULL};
		const gchar *b[] = {"openssl", "pkey", "-pubout", "-in", key, NULL};
		g_autofree gchar *pa = NULL, *pb = NULL;
		g_assert_cmpint(ck_test_run(a, &pa, NULL), ==, 0);
		g_assert_cmpint(ck_test_run(b, &pb, NULL), ==, 0);
		g_assert_cmpstr(pa, ==, pb);
	}
	/* what the server saw: PKCSReq (19), then CertPoll (20) */
	g_assert_cmpuint(fs->seen->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(fs->seen, 0), ==, "19");
	g_assert_cmpstr(g_ptr_array_index(fs->seen, 1), ==, "20");
	fake_stop(fs);
}

/* RA certificates: requests go to the RA, its signature on answers is accepted. */
static void
test_scep_ra(Fixture *f, gconstpointer user_data)
{
	FakeServer *fs;
	g_autofree gchar *out = NULL, *err = NULL;

	if (skip_if_unavailable())
		return;
	fs = fake_start(FAKE_RA);
	/* the server can only decrypt with the RA's key: it asserts that itself */
	g_assert_cmpint(fake_submit(f, fs, "SUBMIT", NULL, "ra", &out, &err), ==, 0);
	g_assert_true(g_str_has_prefix(out, "-----BEGIN CERTIFICATE-----"));
	/* the stranger claiming the CA's name was noticed and left out */
	g_assert_nonnull(strstr(err, "the CA did not sign it"));
	fake_stop(fs);
}

/* Answers signed by someone else, or for another nonce, are refused (and retried). */
static void
test_scep_forged(Fixture *f, gconstpointer user_data)
{
	FakeServer *fs;
	g_autofree gchar *out = NULL;

	if (skip_if_unavailable())
		return;
	fs = fake_start(FAKE_FORGED);
	g_assert_cmpint(fake_submit(f, fs, "SUBMIT", NULL, "forged", &out, NULL), ==, 3);
	g_assert_nonnull(strstr(out, "not signed by the CA"));
	fake_stop(fs);
	g_clear_pointer(&out, g_free);

	fs = fake_start(FAKE_WRONG_NONCE);
	g_assert_cmpint(fake_submit(f, fs, "SUBMIT", NULL, "nonce", &out, NULL), ==, 3);
	g_assert_nonnull(strstr(out, "recipientNonce"));
	fake_stop(fs);
}

/* Through the real certkeeperd: a request reaches MONITORING, and renews. */
static void
test_scep_daemon(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autofree gchar *config = NULL, *certs = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *helper_dir = NULL;
	g_autofree gchar *out = NULL, *serial = NULL, *serial2 = NULL, *daemon_log = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	JsonObject *obj;

	if (skip_if_unavailable())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	/* Type=scep: the daemon builds the helper's command from the settings */
	helper_dir = g_path_get_dirname(helper);
	config =
	    g_strdup_printf("[certkeeperd]\nHelperDirectory=%s\n"
			    "[ca scep]\nType=scep\nURL=%s\nCAFingerprint=%s\nChallengeFile=%s\n"
			    "Timeout=60\n",
			    helper_dir, SCEP_URL, fingerprint, challenge);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	certs = ck_test_daemon_path(td, "certs");
	g_assert_cmpint(g_mkdir_with_parents(certs, 0755), ==, 0);
	cert = g_build_filename(certs, "scep.crt", NULL);
	key = g_build_filename(certs, "scep.key", NULL);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", "viascep", "-c",
				    "scep", "-f", cert, "-k", key, "-N", "CN=viascep.example", "-G",
				    "rsa", "-g", "2048", "-w", "--wait-timeout=60", NULL),
			==, 0);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, &out, NULL, "status", "--json", "-i", "viascep", NULL), ==,
	    0);
	g_assert_true(json_parser_load_from_data(parser, out, -1, NULL));
	obj = json_node_get_object(json_parser_get_root(parser));
	g_assert_cmpstr(json_object_get_string_member(obj, "State"), ==, "MONITORING");
	assert_issued_for(cert, key);
	serial = openssl_serial(cert);

	/* a renewal: signed with the installed certificate, as RenewalReq */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "viascep", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	serial2 = openssl_serial(cert);
	g_assert_cmpstr(serial2, !=, serial);
	assert_issued_for(cert, key);
	g_assert_true(g_file_get_contents(td->daemon_log, &daemon_log, NULL, NULL));
	g_assert_nonnull(strstr(daemon_log, "RenewalReq"));
}

/* Resilience, through the real daemon, on a compressed clock */

/*
 * Writes the configuration an administrator would (a Type=scep CA named "scep"
 * for @url, pinned to @fp, with @challenge_file), with retries a second apart
 * and no jitter, and starts certkeeperd.
 */
static void
scep_start_daemon(CkTestDaemon *td, const gchar *url, const gchar *fp, const gchar *challenge_file)
{
	g_autofree gchar *config =
	    g_strdup_printf("[certkeeperd]\nHelperDirectory=%s/daemon/helpers\n"
			    "[renewal]\nRenewJitterMax=0\nRetryDelay=1s\nRetryDelayMax=3s\n"
			    "MaxAttempts=100\n"
			    "[ca scep]\nType=scep\nURL=%s\nCAFingerprint=%s\nChallengeFile=%s\n"
			    "Timeout=60\n",
			    g_getenv("CK_TOP_BUILDDIR"), url, fp, challenge_file);

	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
}

/* Requests CN=@id.example with an RSA key into @cert/@key from CA "scep"; waits for it. */
static JsonObject *
scep_daemon_request(CkTestDaemon *td, const gchar *id, const gchar *cert, const gchar *key,
		    const gchar *renew_before)
{
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	g_autofree gchar *before = g_strdup_printf("--renew-before=%s", renew_before);
	JsonObject *obj;

	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-c", "scep",
				    "-f", cert, "-k", key, "-N", subject, "-G", "rsa", "-g", "2048",
				    before, "-w", "--wait-timeout=60", NULL),
			==, 0);
	obj = ck_test_request_json(td, id);
	g_assert_nonnull(obj);
	g_assert_cmpstr(ck_test_json_string(obj, "State"), ==, "MONITORING");
	return obj;
}

/* The daemon is alive and answers on the bus. */
static void
scep_assert_daemon_answers(CkTestDaemon *td)
{
	g_assert_true(ck_test_daemon_is_running(td));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "list", NULL), ==, 0);
}

/* Asserts @cert and @key hold exactly @old_cert and @old_key. */
static void
scep_assert_files_kept(const gchar *cert, const gchar *key, const gchar *old_cert,
		       const gchar *old_key)
{
	g_autofree gchar *c = ck_test_read_file(cert), *k = ck_test_read_file(key);

	g_assert_cmpstr(c, ==, old_cert);
	g_assert_cmpstr(k, ==, old_key);
}

/*
 * Enroll at a scepserver of its own; the renewal comes by itself, a RenewalReq
 * signed with the current certificate, and scepserver revokes the certificate it
 * replaces. Then the server goes away during the next renewal: CA_UNREACHABLE,
 * retried, the installed files untouched. The same server (depot and port) comes
 * back and the request recovers without anyone acting.
 */
static void
test_scep_daemon_outage(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(ScepServer) s = NULL;
	g_autoptr(JsonObject) first = NULL, renewed = NULL, down = NULL, again = NULL;
	g_autoptr(JsonObject) back = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *where = NULL, *first_serial = NULL;
	g_autofree gchar *renewed_serial = NULL, *back_serial = NULL, *old_cert = NULL;
	g_autofree gchar *old_key = NULL, *now_cert = NULL;
	CkTestRequestWait wait = {0};
	guint renewals;

	if (skip_if_unavailable())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	s = scep_server_start(td->dir, OUTAGE_PORT, "1");
	scep_start_daemon(td, s->url, s->fingerprint, challenge);
	cert = ck_test_daemon_path(td, "auto.crt");
	key = ck_test_daemon_path(td, "auto.key");
	where = g_strdup_printf("127.0.0.1:%u", s->port);

	/* one-day certificates (scepserver counts in days), renewed 5 s after issue */
	first = scep_daemon_request(td, "scepauto", cert, key, "86395s");
	g_assert_cmpint(json_object_get_int_member(first, "NotAfter") -
			    json_object_get_int_member(first, "NotBefore"),
			==, 86400);
	assert_issued_under(s->ca_pem, cert, key);
	first_serial = openssl_serial(cert);
	g_assert_cmpuint(count_in_file(td->daemon_log, "sending PKCSReq"), ==, 1);
	g_assert_cmpuint(count_in_file(td->daemon_log, "sending RenewalReq"), ==, 0);

	/* 1. the renewal by itself: a RenewalReq, and scepserver revoked the old certificate */
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(first, "Serial")};
	renewed = ck_test_wait_request(td, "scepauto", &wait, 30);
	/* 2. at once the server goes away: the next renewal, due 5 s later, cannot reach it */
	scep_server_kill(s);
	renewed_serial = openssl_serial(cert);
	g_assert_cmpstr(renewed_serial, !=, first_serial);
	assert_issued_under(s->ca_pem, cert, key);
	g_assert_cmpuint(count_in_file(td->daemon_log, "sending RenewalReq"), >=, 1);
	assert_revoked(s->depot, first_serial);
	wait = (CkTestRequestWait){.state = "CA_UNREACHABLE", .error_part = where};
	down = ck_test_wait_request(td, "scepauto", &wait, 30);
	g_test_message("while the server is away: %s", ck_test_json_string(down, "LastError"));
	g_assert_nonnull(
	    strstr(ck_test_json_string(down, "LastError"), "CA 'scep' is unreachable"));
	g_assert_nonnull(strstr(ck_test_json_string(down, "LastError"), "GetCACaps"));
	g_assert_cmpint(json_object_get_int_member(down, "NextAttempt"), >, 0);
	g_assert_cmpint(json_object_get_int_member(down, "FailedAttempts"), >=, 1);
	g_assert_cmpstr(ck_test_json_string(down, "Serial"), ==,
			ck_test_json_string(renewed, "Serial"));
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	/* it keeps trying, and keeps what is installed */
	wait = (CkTestRequestWait){.state = "CA_UNREACHABLE",
				   .error_part = where,
				   .min_failed =
				       json_object_get_int_member(down, "FailedAttempts") + 1};
	again = ck_test_wait_request(td, "scepauto", &wait, 20);
	g_assert_cmpint(json_object_get_int_member(again, "NextAttempt"), >, 0);
	g_assert_cmpstr(ck_test_json_string(again, "Serial"), ==,
			ck_test_json_string(renewed, "Serial"));
	scep_assert_files_kept(cert, key, old_cert, old_key);
	assert_issued_under(s->ca_pem, cert, key);
	{
		g_autofree gchar *serial = openssl_serial(cert);
		g_assert_cmpstr(serial, ==, renewed_serial);
	}
	scep_assert_daemon_answers(td);
	renewals = count_in_file(td->daemon_log, "sending RenewalReq");

	/* 3. the same CA is back on the same port: recovery without anyone acting; its
	 * certificates now live 30 days, so renewing stops there */
	s->days = "30";
	scep_server_spawn(s);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(renewed, "Serial")};
	back = ck_test_wait_request(td, "scepauto", &wait, 30);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	g_assert_cmpint(json_object_get_int_member(back, "NotAfter") -
			    json_object_get_int_member(back, "NotBefore"),
			==, 30 * 86400);
	now_cert = ck_test_read_file(cert);
	g_assert_cmpstr(now_cert, !=, old_cert);
	back_serial = openssl_serial(cert);
	g_assert_cmpstr(back_serial, !=, renewed_serial);
	assert_issued_under(s->ca_pem, cert, key);
	assert_revoked(s->depot, renewed_serial);
	g_assert_cmpuint(count_in_file(td->daemon_log, "sending RenewalReq"), ==, renewals + 1);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/*
 * The challenge password changed behind the daemon's back: the renewal is refused
 * (CA_REJECTED with scepserver's failInfo), the installed files stay and nothing
 * is retried. The administrator fixes the file and resubmits: recovered.
 */
static void
test_scep_daemon_rejected(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(JsonObject) ok = NULL, rejected = NULL, later = NULL, fixed = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *secret = NULL, *old_cert = NULL;
	g_autofree gchar *old_key = NULL, *old_serial = NULL, *new_serial = NULL;
	g_autofree gchar *server_log = NULL;
	CkTestRequestWait wait = {0};
	guint refused;

	if (skip_if_unavailable())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	secret = ck_test_write_file(td->dir, "scep-challenge", "secret\n");
	scep_start_daemon(td, SCEP_URL, fingerprint, secret);
	cert = ck_test_daemon_path(td, "rej.crt");
	key = ck_test_daemon_path(td, "rej.key");
	server_log = g_strdup(shared->log);
	ok = scep_daemon_request(td, "sceprej", cert, key, "1h");
	assert_issued_for(cert, key);
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);
	old_serial = openssl_serial(cert);
	refused = count_in_file(server_log, "invalid challenge");

	/* someone changed the challenge file: the RenewalReq is refused, in scepserver's words */
	g_assert_true(g_file_set_contents(secret, "not-the-secret\n", -1, NULL));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "sceprej", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "CA_REJECTED", .error_part = "badRequest"};
	rejected = ck_test_wait_request(td, "sceprej", &wait, 30);
	g_test_message("wrong challenge: %s", ck_test_json_string(rejected, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(rejected, "LastError"),
				"CA 'scep' rejected the request: The SCEP CA refused the request"));
	g_assert_nonnull(strstr(ck_test_json_string(rejected, "LastError"), "challenge password"));
	g_assert_cmpint(json_object_get_int_member(rejected, "NextAttempt"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(rejected, "Serial"), ==,
			ck_test_json_string(ok, "Serial"));
	g_assert_cmpuint(count_in_file(server_log, "invalid challenge"), ==, refused + 1);
	g_assert_cmpuint(count_in_file(td->daemon_log, "sending RenewalReq"), ==, 1);
	scep_assert_files_kept(cert, key, old_cert, old_key);
	assert_issued_for(cert, key);
	/* a refusal waits for a human: no retries */
	g_usleep(3 * G_USEC_PER_SEC);
	later = ck_test_request_json(td, "sceprej");
	g_assert_cmpstr(ck_test_json_string(later, "State"), ==, "CA_REJECTED");
	g_assert_cmpint(json_object_get_int_member(later, "FailedAttempts"), ==,
			json_object_get_int_member(rejected, "FailedAttempts"));
	g_assert_cmpuint(count_in_file(server_log, "invalid challenge"), ==, refused + 1);
	g_assert_cmpuint(count_in_file(td->daemon_log, "sending RenewalReq"), ==, 1);
	scep_assert_files_kept(cert, key, old_cert, old_key);

	/* the administrator puts the right challenge back and resubmits */
	g_assert_true(g_file_set_contents(secret, "secret\n", -1, NULL));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "sceprej", "-w",
				    "--wait-timeout=60", NULL),
			==, 0);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(ok, "Serial")};
	fixed = ck_test_wait_request(td, "sceprej", &wait, 5);
	g_assert_cmpstr(ck_test_json_string(fixed, "LastError"), ==, "");
	new_serial = openssl_serial(cert);
	g_assert_cmpstr(new_serial, !=, old_serial);
	assert_issued_for(cert, key);
	assert_revoked(depot, old_serial);
	g_assert_cmpuint(count_in_file(server_log, "invalid challenge"), ==, refused + 1);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/*
 * Broken answers to a renewal from the scripted SCEP server: garbage, a cut-off
 * body, an HTML page, 8 MiB, nothing. Each is retried as CA_UNREACHABLE with a
 * message that says what was wrong; the daemon keeps answering and the
 * installed files stay. Once the server behaves, the request recovers by itself.
 * A proper refusal with a failInfoText is CA_REJECTED in the server's words.
 */
static void
test_scep_daemon_malformed(void)
{
	static const struct {
		FakeAnswer answer;
		const gchar *says;
	} broken[] = {
	    {FAKE_ANSWER_GARBAGE, "with application/x-pki-message (512 bytes), which is not a "
				  "PKCS#7 pkiMessage"},
	    {FAKE_ANSWER_TRUNCATED, "the body is shorter than announced"},
	    {FAKE_ANSWER_HTML, "with text/html (42 bytes), which is not a PKCS#7 pkiMessage"},
	    {FAKE_ANSWER_HUGE, "is larger than the limit of"},
	    {FAKE_ANSWER_EMPTY, "(0 bytes), which is not a PKCS#7 pkiMessage"},
	};
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(JsonObject) ok = NULL, back = NULL, refused = NULL;
	g_autofree gchar *cert = NULL, *key = NULL, *fp = NULL, *ca_file = NULL;
	g_autofree gchar *old_cert = NULL, *old_key = NULL, *now_cert = NULL;
	CkTestRequestWait wait = {0};
	gint64 failed = 0;
	FakeServer *fs;
	guint seen;

	if (skip_if_unavailable())
		return;
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	fs = fake_start(FAKE_ISSUE);
	fp = ck_scep_fingerprint(fs->ca);
	{
		gnutls_datum_t pem = {NULL, 0};
		g_assert_cmpint(gnutls_x509_crt_export2(fs->ca, GNUTLS_X509_FMT_PEM, &pem), ==, 0);
		ca_file = ck_test_write_file(td->dir, "fake-ca.pem", (const gchar *)pem.data);
		gnutls_free(pem.data);
	}
	scep_start_daemon(td, FAKE_URL, fp, challenge);
	cert = ck_test_daemon_path(td, "broken.crt");
	key = ck_test_daemon_path(td, "broken.key");
	ok = scep_daemon_request(td, "scepbroken", cert, key, "10m");
	assert_issued_under(ca_file, cert, key);
	old_cert = ck_test_read_file(cert);
	old_key = ck_test_read_file(key);

	for (guint i = 0; i < G_N_ELEMENTS(broken); i++) {
		g_autoptr(JsonObject) now = NULL;
		g_atomic_int_set(&fs->broken, broken[i].answer);
		if (i == 0)
			g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i",
						    "scepbroken", NULL),
					==, 0);
		wait = (CkTestRequestWait){.state = "CA_UNREACHABLE",
					   .error_part = broken[i].says,
					   .min_failed = failed + 1};
		now = ck_test_wait_request(td, "scepbroken", &wait, 30);
		g_test_message("answer %d: %s", broken[i].answer,
			       ck_test_json_string(now, "LastError"));
		g_assert_nonnull(
		    strstr(ck_test_json_string(now, "LastError"), "CA 'scep' is unreachable"));
		g_assert_nonnull(strstr(ck_test_json_string(now, "LastError"), FAKE_URL));
		g_assert_true(g_utf8_validate(ck_test_json_string(now, "LastError"), -1, NULL));
		g_assert_cmpint(json_object_get_int_member(now, "NextAttempt"), >, 0);
		g_assert_cmpstr(ck_test_json_string(now, "Serial"), ==,
				ck_test_json_string(ok, "Serial"));
		failed = json_object_get_int_member(now, "FailedAttempts");
		scep_assert_files_kept(cert, key, old_cert, old_key);
		scep_assert_daemon_answers(td);
	}
	assert_issued_under(ca_file, cert, key);
	g_mutex_lock(&fs->lock);
	seen = fs->seen->len;
	g_mutex_unlock(&fs->lock);

	/* the server behaves again: the next retry installs a new certificate, nobody acts */
	g_atomic_int_set(&fs->broken, FAKE_ANSWER_OK);
	wait = (CkTestRequestWait){.state = "MONITORING",
				   .not_serial = ck_test_json_string(ok, "Serial")};
	back = ck_test_wait_request(td, "scepbroken", &wait, 30);
	g_assert_cmpint(json_object_get_int_member(back, "FailedAttempts"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(back, "LastError"), ==, "");
	now_cert = ck_test_read_file(cert);
	g_assert_cmpstr(now_cert, !=, old_cert);
	assert_issued_under(ca_file, cert, key);
	g_mutex_lock(&fs->lock);
	/* what came through: the first enrollment, the truncated one's request, the renewal */
	g_assert_cmpuint(fs->seen->len, ==, seen + 1);
	g_assert_cmpstr(g_ptr_array_index(fs->seen, 0), ==, "19");
	g_assert_cmpstr(g_ptr_array_index(fs->seen, fs->seen->len - 1), ==, "17");
	g_mutex_unlock(&fs->lock);

	/* a proper refusal, by contrast: CA_REJECTED in the server's own words, not retried */
	g_clear_pointer(&old_cert, g_free);
	old_cert = g_steal_pointer(&now_cert);
	g_clear_pointer(&old_key, g_free);
	old_key = ck_test_read_file(key);
	g_atomic_int_set(&fs->broken, FAKE_ANSWER_REFUSED);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "scepbroken", NULL), ==, 0);
	wait = (CkTestRequestWait){.state = "CA_REJECTED",
				   .error_part = "(the one-time password was used already)"};
	refused = ck_test_wait_request(td, "scepbroken", &wait, 30);
	g_test_message("refused: %s", ck_test_json_string(refused, "LastError"));
	g_assert_nonnull(strstr(ck_test_json_string(refused, "LastError"),
				"CA 'scep' rejected the request: The SCEP CA refused the request: "
				"badRequest"));
	g_assert_cmpint(json_object_get_int_member(refused, "NextAttempt"), ==, 0);
	g_assert_cmpstr(ck_test_json_string(refused, "Serial"), ==,
			ck_test_json_string(back, "Serial"));
	scep_assert_files_kept(cert, key, old_cert, old_key);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	fake_stop(fs);
}

int
main(int argc, char **argv)
{
	const gchar *builddir = g_getenv("CK_TOP_BUILDDIR");
	int status;

	g_test_init(&argc, &argv, NULL);
	helper = g_build_filename(builddir != NULL ? builddir : ".", "daemon", "helpers",
				  "certkeeper-scep", NULL);
	if (getuid() != 0)
		skip_reason = g_strdup("needs root (a private network namespace for scepserver)");
	else if (!ck_test_have_program("scepserver"))
		skip_reason = g_strdup("scepserver (Debian package scep) is not installed");
	else if (!ck_test_have_program("openssl"))
		skip_reason = g_strdup("openssl is not installed");
	else if (unshare(CLONE_NEWNET) != 0 || !loopback_up())
		skip_reason =
		    g_strdup_printf("no private network namespace: %s", g_strerror(errno));

	if (skip_reason == NULL) {
		top_dir = ck_test_make_tmpdir();
		shared = scep_server_start(top_dir, SCEP_PORT, "1");
		depot = shared->depot;
		ca_pem = shared->ca_pem;
		fingerprint = shared->fingerprint;
		challenge = ck_test_write_file(top_dir, "challenge", "secret\n");
	}

	g_test_add_func("/certkeeper/scep/caps", test_scep_caps);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/certkeeper/scep/describe", test_scep_describe);
	ADD("/certkeeper/scep/enroll", test_scep_enroll);
	ADD("/certkeeper/scep/renewal", test_scep_renewal);
	ADD("/certkeeper/scep/pinning", test_scep_pinning);
	ADD("/certkeeper/scep/bad-input", test_scep_bad_input);
	ADD("/certkeeper/scep/server-down", test_scep_server_down);
	ADD("/certkeeper/scep/garbage", test_scep_garbage);
	ADD("/certkeeper/scep/pending", test_scep_pending);
	ADD("/certkeeper/scep/ra", test_scep_ra);
	ADD("/certkeeper/scep/forged", test_scep_forged);
#undef ADD
	g_test_add_func("/certkeeper/scep/daemon", test_scep_daemon);
	g_test_add_func("/certkeeper/scep/daemon/outage", test_scep_daemon_outage);
	g_test_add_func("/certkeeper/scep/daemon/rejected", test_scep_daemon_rejected);
	g_test_add_func("/certkeeper/scep/daemon/malformed", test_scep_daemon_malformed);
	status = g_test_run();

	g_clear_pointer(&shared, scep_server_free);
	if (top_dir != NULL)
		ck_test_rm_rf(top_dir);
	g_free(top_dir);
	g_free(challenge);
	g_free(helper);
	g_free(skip_reason);
	return status;
}
