/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-installer.h"

gboolean
ck_installer_install(const CkInstallFile *files, guint n_files, GError **error)
{
	g_autoptr(GPtrArray) staged = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter iter;
	gpointer dir;

	/* 1: every file staged beside its target, owned and moded, on disk */
	for (guint i = 0; i < n_files; i++) {
		gsize len = 0;
		gconstpointer data = g_bytes_get_data(files[i].contents, &len);
		gchar *tmp = g_strdup_printf("%s.ck-new", files[i].path);
		g_unlink(tmp);
		if (!ck_file_write_new(tmp, data, len, &files[i].attrs, error)) {
			g_free(tmp);
			for (guint j = 0; j < staged->len; j++)
				g_unlink(g_ptr_array_index(staged, j));
			return FALSE;
		}
		g_ptr_array_add(staged, tmp);
	}
	/* 2: only then the renames, back to back */
	for (guint i = 0; i < n_files; i++) {
		if (g_rename(g_ptr_array_index(staged, i), files[i].path) < 0) {
			int errsv = errno;
			for (guint j = i; j < staged->len; j++)
				g_unlink(g_ptr_array_index(staged, j));
			/* TRANSLATORS: followed by a file name and the system's reason */
			ck_file_set_error_errno(error, errsv, _("Cannot replace"), files[i].path);
			return FALSE;
		}
		g_hash_table_add(dirs, g_path_get_dirname(files[i].path));
	}
	/* 3: the renames themselves made durable */
	g_hash_table_iter_init(&iter, dirs);
	while (g_hash_table_iter_next(&iter, &dir, NULL)) {
		if (!ck_file_sync_dir(dir, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
ck_installer_check_target(const gchar *path, const gchar *what, GError **error)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *probe = NULL;
	struct stat st;
	int fd;

	if (path == NULL || !g_path_is_absolute(path)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: which file (e.g. "key file"), then the path */
			    _("The %s '%s' is not an absolute path"), what, path != NULL ? path : "");
		return FALSE;
	}
	if (g_str_has_suffix(path, "/")) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The %s '%s' names a directory, not a file"), what, path);
		return FALSE;
	}
	dir = g_path_get_dirname(path);
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The directory '%s' of the %s does not exist: create it first"), dir,
			    what);
		return FALSE;
	}
	/* access() says yes to root even where nothing can be created: really try */
	probe = g_strdup_printf("%s/.ck-probe-%08x", dir, g_random_int());
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Cannot write to the directory '%s' of the %s: %s"), dir, what,
			    g_strerror(errno));
		return FALSE;
	}
	close(fd);
	g_unlink(probe);
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The %s '%s' exists and is not a regular file"), what, path);
		return FALSE;
	}
	return TRUE;
}
