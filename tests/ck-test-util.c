/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gio/gio.h>
#include <sys/stat.h>

#include "ck-test-util.h"

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
