/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The CLI speaks German when asked to (catalogs from the build tree). */
#include "config.h"

#include <string.h>
#include <sys/wait.h>

#include "ck-test-util.h"

static gint
ck_test_cli_de(const gchar *const *args, gchar **out, gchar **err)
{
	g_autofree gchar *binary =
	    g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "client", "certkeeper", NULL);
	g_autofree gchar *localedir = g_build_filename(g_getenv("CK_TOP_BUILDDIR"), "po", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_auto(GStrv) env = g_get_environ();
	g_autoptr(GError) error = NULL;
	gint status = 0;

	env = g_environ_setenv(env, "LANGUAGE", "de", TRUE);
	env = g_environ_setenv(env, "LANG", "C.UTF-8", TRUE);
	env = g_environ_unsetenv(env, "LC_ALL");
	env = g_environ_setenv(env, "CERTKEEPER_LOCALEDIR", localedir, TRUE);
	g_ptr_array_add(argv, binary);
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_spawn_sync(NULL, (gchar **)argv->pdata, env, 0, NULL, NULL, out, err, &status, &error);
	g_assert_no_error(error);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
test_i18n_cli_help_in_german(void)
{
	const gchar *args[] = {"--help", NULL};
	g_autofree gchar *out = NULL;
	g_assert_cmpint(ck_test_cli_de(args, &out, NULL), ==, 0);
	g_test_message("%s", out);
	g_assert_nonnull(strstr(out, "Verben:"));
	g_assert_nonnull(strstr(out, "Ein Zertifikat anfordern und gültig halten"));
	g_assert_null(strstr(out, "Request a certificate and keep it valid"));
}

static void
test_i18n_cli_error_in_german(void)
{
	const gchar *args[] = {"request", "-f", "/tmp/x.crt", NULL};
	g_autofree gchar *err = NULL;
	g_assert_cmpint(ck_test_cli_de(args, NULL, &err), ==, 1);
	g_test_message("%s", err);
	g_assert_nonnull(strstr(err, "sind beide erforderlich"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/i18n/cli-help-in-german", test_i18n_cli_help_in_german);
	g_test_add_func("/certkeeper/i18n/cli-error-in-german", test_i18n_cli_error_in_german);
	return g_test_run();
}
