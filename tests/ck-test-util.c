/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ck-test-util.h"

gboolean
ck_test_have_program(const gchar *program)
{
	g_autofree gchar *path = g_find_program_in_path(program);
	return path != NULL;
}

gchar *
ck_test_make_tmpdir(void)
{
	g_autoptr(GError) error = NULL;
	gchar *dir = g_dir_make_tmp("certkeeper-test-XXXXXX", &error);
	g_assert_no_error(error);
	return dir;
}

void
ck_test_rm_rf(const gchar *path)
{
	const gchar *argv[] = {"rm", "-rf", "--", path, NULL};
	if (path == NULL || !g_path_is_absolute(path))
		return;
	ck_test_run(argv, NULL, NULL);
}

gint
ck_test_run(const gchar *const *argv, gchar **stdout_out, gchar **stderr_out)
{
	g_autoptr(GError) error = NULL;
	gint status = 0;
	if (!g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, stdout_out,
			  stderr_out, &status, &error)) {
		g_test_message("cannot run %s: %s", argv[0], error->message);
		return -1;
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

gint
ck_test_file_mode(const gchar *path)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return -1;
	return (gint)(st.st_mode & 07777);
}

gchar *
ck_test_write_file(const gchar *dir, const gchar *name, const gchar *contents)
{
	g_autoptr(GError) error = NULL;
	gchar *path = g_build_filename(dir, name, NULL);
	g_file_set_contents(path, contents, -1, &error);
	g_assert_no_error(error);
	return path;
}

gchar *
ck_test_pem_patch(const gchar *pem, const gchar *label, const gchar *from, const gchar *to)
{
	gnutls_datum_t in = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	gnutls_datum_t der = {NULL, 0};
	gnutls_datum_t out = {NULL, 0};
	gsize len = strlen(from);
	guint8 *hit = NULL;
	gchar *result;

	g_assert_cmpuint(strlen(to), ==, len);
	g_assert_cmpint(gnutls_pem_base64_decode2(label, &in, &der), ==, GNUTLS_E_SUCCESS);
	for (gsize i = 0; hit == NULL && i + len <= der.size; i++) {
		if (memcmp(der.data + i, from, len) == 0)
			hit = der.data + i;
	}
	g_assert_nonnull(hit);
	memcpy(hit, to, len);
	g_assert_cmpint(gnutls_pem_base64_encode2(label, &der, &out), ==, GNUTLS_E_SUCCESS);
	result = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(der.data);
	gnutls_free(out.data);
	return result;
}

guint
ck_test_free_port(void)
{
	g_autoptr(GSocket) sock =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL);
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) bound = NULL;

	g_assert_nonnull(sock);
	g_assert_true(g_socket_bind(sock, any, FALSE, NULL));
	bound = g_socket_get_local_address(sock, NULL);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
}

gchar *
ck_test_read_file(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	gchar *text = NULL;

	g_file_get_contents(path, &text, NULL, &error);
	g_assert_no_error(error);
	return text;
}

void
ck_test_make_self_signed(const gchar *cn, gint64 from, gint64 until, const gchar *key_path,
			 const gchar *cert_path)
{
	g_autofree gchar *template_path = g_strdup_printf("%s.template", cert_path);
	g_autoptr(GDateTime) a = g_date_time_new_from_unix_utc(from);
	g_autoptr(GDateTime) b = g_date_time_new_from_unix_utc(until);
	g_autofree gchar *sa = g_date_time_format(a, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *sb = g_date_time_format(b, "%Y-%m-%d %H:%M:%S");
	g_autofree gchar *text = g_strdup_printf(
	    "cn = \"%s\"\ndns_name = \"%s\"\nactivation_date = \"%s\"\n"
	    "expiration_date = \"%s\"\nsigning_key\ntls_www_client\n",
	    cn, cn, sa, sb);
	const gchar *argv[] = {"certtool",	"--generate-self-signed", "--load-privkey",
			       key_path,	"--template",		  template_path,
			       "--outfile",	cert_path,		  NULL};

	g_assert_true(g_file_set_contents(template_path, text, -1, NULL));
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_unlink(template_path);
}

void
ck_test_make_ec_key(const gchar *path)
{
	const gchar *argv[] = {"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
			       "ec_paramgen_curve:P-256", "-out", path, NULL};
	g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	g_assert_cmpint(g_chmod(path, 0600), ==, 0);
}

const gchar *
ck_test_softhsm_module(void)
{
	static const gchar *const candidates[] = {
	    "/usr/lib/softhsm/libsofthsm2.so",
	    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	};
	if (!ck_test_have_program("softhsm2-util"))
		return NULL;
	for (guint i = 0; i < G_N_ELEMENTS(candidates); i++) {
		if (g_file_test(candidates[i], G_FILE_TEST_IS_REGULAR))
			return candidates[i];
	}
	return NULL;
}

gchar *
ck_test_softhsm_setup(const gchar *dir)
{
	g_autofree gchar *tokens = g_build_filename(dir, "tokens", NULL);
	g_autofree gchar *text = NULL;
	gchar *conf;

	g_assert_cmpint(g_mkdir_with_parents(tokens, 0700), ==, 0);
	text = g_strdup_printf("directories.tokendir = %s\nobjectstore.backend = file\n"
			       "log.level = ERROR\nslots.removable = false\n",
			       tokens);
	conf = ck_test_write_file(dir, "softhsm2.conf", text);
	g_setenv("SOFTHSM2_CONF", conf, TRUE);
	return conf;
}

void
ck_test_softhsm_init_token(const gchar *label, const gchar *pin)
{
	const gchar *argv[] = {"softhsm2-util", "--init-token", "--free", "--label", label,
			       "--pin", pin, "--so-pin", "5678", NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;

	/* captured: its chatter on stdout would break the TAP stream */
	if (ck_test_run(argv, &out, &err) != 0)
		g_error("softhsm2-util cannot make token %s: %s", label, err);
}

guint
ck_test_p11tool_count(const gchar *type, const gchar *uri, const gchar *pin)
{
	g_autofree gchar *list = g_strdup_printf("--list-%s", type);
	g_autofree gchar *provider = g_strdup_printf("--provider=%s", ck_test_softhsm_module());
	g_autofree gchar *set_pin = g_strdup_printf("--set-pin=%s", pin);
	const gchar *argv[] = {"p11tool", provider, "--login", set_pin, list, uri, NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	guint n = 0;

	/* "nothing there" is an answer too (exit status 2) */
	if (ck_test_run(argv, &out, &err) != 0 && strstr(err, "No matching objects") == NULL)
		g_error("p11tool cannot list %s: %s", uri, err);
	for (const gchar *p = out; (p = strstr(p, "\tURL: ")) != NULL; p++)
		n++;
	return n;
}

/* In the child: die with the test, so a failed assertion leaves no swtpm behind. */
static void
ck_test_swtpm_child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

/* TRUE once the unix socket @path takes a connection (within 10 s). */
static gboolean
ck_test_socket_accepts(const gchar *path)
{
	for (guint i = 0; i < 200; i++) {
		g_autoptr(GSocket) sock =
		    g_socket_new(G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, 0, NULL);
		g_autoptr(GSocketAddress) address = g_unix_socket_address_new(path);

		if (sock != NULL && g_socket_connect(sock, address, NULL, NULL))
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

void
ck_test_swtpm_start(CkTestSwtpm *tpm)
{
	g_autofree gchar *state = g_build_filename(tpm->dir, "state", NULL);
	g_autofree gchar *server = g_strdup_printf("type=unixio,path=%s", tpm->socket);
	g_autofree gchar *ctrl = g_strdup_printf("type=unixio,path=%s.ctrl", tpm->socket);
	g_autofree gchar *state_arg = g_strdup_printf("dir=%s", state);
	g_autofree gchar *log_arg = g_strdup_printf("file=%s/swtpm.log", tpm->dir);
	g_autoptr(GError) error = NULL;
	const gchar *argv[] = {"swtpm",
			       "socket",
			       "--tpm2",
			       "--server",
			       server,
			       "--ctrl",
			       ctrl,
			       "--tpmstate",
			       state_arg,
			       "--flags",
			       "not-need-init,startup-clear",
			       "--log",
			       log_arg,
			       NULL};

	g_assert_cmpint(tpm->pid, ==, 0);
	g_assert_cmpint(g_mkdir_with_parents(state, 0700), ==, 0);
	g_unlink(tpm->socket);
	/* a child of the test, not a daemon: it must not hold the TAP output open */
	g_assert_true(g_spawn_async(NULL, (gchar **)argv, NULL,
				    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
					G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
				    ck_test_swtpm_child_setup, NULL, &tpm->pid, &error));
	g_assert_no_error(error);
	/* the TCTI opens both sockets, and a socket file exists a moment before it
	 * listens: wait until each one takes a connection */
	g_assert_true(ck_test_socket_accepts(tpm->socket));
	g_assert_true(ck_test_socket_accepts(ctrl + strlen("type=unixio,path=")));
}

CkTestSwtpm *
ck_test_swtpm_new(const gchar *dir)
{
	CkTestSwtpm *tpm;

	if (!ck_test_have_program("swtpm") || !ck_test_have_program("swtpm_ioctl")) {
		g_test_skip("swtpm is not installed (apt-get install swtpm swtpm-tools)");
		return NULL;
	}
	tpm = g_new0(CkTestSwtpm, 1);
	tpm->dir = g_build_filename(dir, "swtpm", NULL);
	g_assert_cmpint(g_mkdir_with_parents(tpm->dir, 0700), ==, 0);
	tpm->socket = g_build_filename(tpm->dir, "tpm.sock", NULL);
	tpm->tcti = g_strdup_printf("swtpm:path=%s", tpm->socket);
	ck_test_swtpm_start(tpm);
	return tpm;
}

void
ck_test_swtpm_stop(CkTestSwtpm *tpm)
{
	g_autofree gchar *ctrl = g_strdup_printf("%s.ctrl", tpm->socket);
	const gchar *argv[] = {"swtpm_ioctl", "--unix", ctrl, "-s", NULL};
	g_autofree gchar *out = NULL, *err = NULL;
	gint status = 0;
	guint i;

	if (tpm->pid == 0)
		return;
	if (ck_test_run(argv, &out, &err) != 0)
		kill(tpm->pid, SIGTERM);
	/* shutting down saves its state: wait for it, then reap it */
	for (i = 0; i < 200 && waitpid(tpm->pid, &status, WNOHANG) == 0; i++)
		g_usleep(50 * 1000);
	if (i == 200) {
		kill(tpm->pid, SIGKILL);
		waitpid(tpm->pid, &status, 0);
	}
	tpm->pid = 0;
	/* swtpm leaves its socket files behind: a client must find nothing */
	g_unlink(tpm->socket);
	g_unlink(ctrl);
}

void
ck_test_swtpm_free(CkTestSwtpm *tpm)
{
	if (tpm == NULL)
		return;
	ck_test_swtpm_stop(tpm);
	g_free(tpm->dir);
	g_free(tpm->socket);
	g_free(tpm->tcti);
	g_free(tpm);
}
