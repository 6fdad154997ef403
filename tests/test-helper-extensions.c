/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper's own helper operations (docs/helper-protocol.md) asked of the
 * helpers whose protocols have nothing for them: certkeeper-acme and
 * certkeeper-scep answer CERTKEEPER-GET-PROOF-NONCE and
 * CERTKEEPER-GET-CSR-ATTRIBUTES with 6 (unsupported) and nothing on standard
 * output, so certkeeperd skips the proof step and applies no CSR attributes,
 * and they do not even contact their CA for it.
 */
#include "config.h"

#include <gio/gio.h>
#include <string.h>
#include <sys/wait.h>

#include "ck-test-util.h"

static const gchar *const extension_operations[] = {
    "CERTKEEPER-GET-PROOF-NONCE",
    "CERTKEEPER-GET-CSR-ATTRIBUTES",
    NULL,
};

/* A listening socket on 127.0.0.1 standing in for the CA: nobody may connect. */
static GSocket *
listen_local(guint16 *port)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(loopback, 0);
	g_autoptr(GSocketAddress) bound = NULL;
	GSocket *socket =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);

	g_assert_no_error(error);
	g_assert_true(g_socket_bind(socket, any, TRUE, &error));
	g_assert_true(g_socket_listen(socket, &error));
	g_socket_set_blocking(socket, FALSE);
	bound = g_socket_get_local_address(socket, &error);
	g_assert_no_error(error);
	*port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	return socket;
}

static void
assert_not_contacted(GSocket *socket)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) client = g_socket_accept(socket, NULL, &error);

	g_assert_null(client);
	g_assert_error(error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK);
}

/*
 * Runs helper @name (built in daemon/helpers) with @args and the variables a
 * proof-step submission has, for @operation; its exit status, stdout in @out.
 */
static gint
run_helper(const gchar *name, const gchar *const *args, const gchar *operation, gchar **out)
{
	g_autofree gchar *path =
	    g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "daemon", "helpers", name, NULL);
	g_autofree gchar *op = g_strdup_printf("CERTMONGER_OPERATION=%s", operation);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) wrapper = NULL;
	const gchar *wrapper_text = g_getenv("CK_TEST_DAEMON_WRAPPER");
	const gchar *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			       "LANG=C.UTF-8",
			       op,
			       "CERTKEEPER_AUTH_IDENTITY=proof",
			       "CERTMONGER_REQ_SUBJECT=CN=device.example",
			       "CERTMONGER_CSR=-----BEGIN CERTIFICATE REQUEST-----\n"
			       "-----END CERTIFICATE REQUEST-----\n",
			       NULL};
	g_autofree gchar *err = NULL;
	g_autoptr(GError) error = NULL;
	gint status = -1;

	/* meson test --setup valgrind: the helper runs under valgrind too */
	if (wrapper_text != NULL && wrapper_text[0] != '\0')
		g_assert_true(g_shell_parse_argv(wrapper_text, NULL, &wrapper, NULL));
	for (guint i = 0; wrapper != NULL && wrapper[i] != NULL; i++)
		g_ptr_array_add(argv, wrapper[i]);
	g_ptr_array_add(argv, path);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv->pdata, (gchar **)envp, G_SPAWN_SEARCH_PATH,
				   NULL, NULL, out, &err, &status, &error));
	g_assert_no_error(error);
	g_test_message("%s %s: exit %d; stdout: %s; stderr: %s", name, operation,
		       WIFEXITED(status) ? WEXITSTATUS(status) : -1, *out, err);
	g_assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
assert_unsupported(const gchar *name, const gchar *const *args, GSocket *ca)
{
	for (guint i = 0; extension_operations[i] != NULL; i++) {
		g_autofree gchar *out = NULL;
		g_assert_cmpint(run_helper(name, args, extension_operations[i], &out), ==, 6);
		g_assert_cmpstr(out, ==, "");
	}
	assert_not_contacted(ca);
}

static void
test_acme(void)
{
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autofree gchar *state = g_build_filename(dir, "state", NULL);
	g_autofree gchar *directory = NULL;
	g_autoptr(GSocket) ca = NULL;
	guint16 port = 0;

	ca = listen_local(&port);
	directory = g_strdup_printf("https://127.0.0.1:%u/dir", port);
	{
		const gchar *args[] = {"--directory", directory, "--state-dir", state, NULL};
		assert_unsupported("certkeeper-acme", args, ca);
	}
	/* nothing was set up for it: no account, no state */
	g_assert_false(g_file_test(state, G_FILE_TEST_EXISTS));
	ck_test_rm_rf(dir);
}

static void
test_scep(void)
{
	g_autofree gchar *url = NULL;
	g_autoptr(GSocket) ca = NULL;
	guint16 port = 0;

	ca = listen_local(&port);
	url = g_strdup_printf("http://127.0.0.1:%u/scep", port);
	{
		const gchar *args[] = {"--url", url, NULL};
		assert_unsupported("certkeeper-scep", args, ca);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/helper-extensions/acme", test_acme);
	g_test_add_func("/certkeeper/helper-extensions/scep", test_scep);
	return g_test_run();
}
