/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-fault.h"
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

/*
 * Directories whose write probe passed lately: a burst of requests into one
 * directory (a fleet's thousand certificates in /etc/ssl) would otherwise make
 * and delete a probe file per file named, and on ext4 without a journal every
 * deleted inode makes the next file's creation slower for a minute. A passed
 * probe is trusted for CK_INSTALLER_PROBE_TRUST_USEC while the path still names
 * the same directory and access(2) still agrees; a directory that stops taking
 * files in that window fails at the install, which reports and retries.
 */
#define CK_INSTALLER_PROBE_TRUST_USEC (60 * G_USEC_PER_SEC)

typedef struct {
	dev_t dev;
	ino_t ino;
	gint64 until;
} CkInstallerProbe;

G_LOCK_DEFINE_STATIC(ck_installer_probes);
static GHashTable *ck_installer_probes = NULL; /* directory path -> CkInstallerProbe */

static gboolean
ck_installer_probe_is_fresh(const gchar *dir, const struct stat *st)
{
	CkInstallerProbe *probe;
	gboolean fresh = FALSE;

	G_LOCK(ck_installer_probes);
	if (ck_installer_probes != NULL &&
	    (probe = g_hash_table_lookup(ck_installer_probes, dir)) != NULL)
		fresh = probe->dev == st->st_dev && probe->ino == st->st_ino &&
			g_get_monotonic_time() < probe->until;
	G_UNLOCK(ck_installer_probes);
	return fresh && faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0;
}

static void
ck_installer_probe_passed(const gchar *dir, const struct stat *st)
{
	CkInstallerProbe *probe = g_new0(CkInstallerProbe, 1);

	probe->dev = st->st_dev;
	probe->ino = st->st_ino;
	probe->until = g_get_monotonic_time() + CK_INSTALLER_PROBE_TRUST_USEC;
	G_LOCK(ck_installer_probes);
	if (ck_installer_probes == NULL)
		ck_installer_probes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	/* directory layouts name one directory per request: drop what expired */
	if (g_hash_table_size(ck_installer_probes) >= 64) {
		GHashTableIter iter;
		gpointer value;
		g_hash_table_iter_init(&iter, ck_installer_probes);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			if (((CkInstallerProbe *)value)->until <= probe->until - CK_INSTALLER_PROBE_TRUST_USEC)
				g_hash_table_iter_remove(&iter);
		}
	}
	g_hash_table_replace(ck_installer_probes, g_strdup(dir), probe);
	G_UNLOCK(ck_installer_probes);
}

void
ck_installer_forget_probes(void)
{
	G_LOCK(ck_installer_probes);
	g_clear_pointer(&ck_installer_probes, g_hash_table_unref);
	G_UNLOCK(ck_installer_probes);
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
	/* access() says yes to root even where nothing can be created (/proc): really try,
	 * unless this directory passed a moment ago (ck_installer_probe_is_fresh()) */
	if (!ck_installer_probe_is_fresh(dir, &st)) {
		probe = g_strdup_printf("%s/.ck-probe-%08x", dir, g_random_int());
		fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Cannot write to the directory '%s' of the %s: %s"), dir,
				    what, g_strerror(errno));
			return FALSE;
		}
		close(fd);
		g_unlink(probe);
		ck_installer_probe_passed(dir, &st);
	}
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The %s '%s' exists and is not a regular file"), what, path);
		return FALSE;
	}
	return TRUE;
}

/* The phased install of the lifecycle (see ck-installer.h). */

#define CK_INSTALL_STAGED_SUFFIX ".ck-new"
#define CK_INSTALL_BACKUP_SUFFIX ".ck-prev"
#define CK_INSTALL_VERSIONS	 ".versions"
#define CK_INSTALL_CURRENT	 "current"

/* The names a directory layout publishes, and what each holds. */
typedef enum { CK_PART_CERT, CK_PART_KEY, CK_PART_CHAIN, CK_PART_COMBINED, CK_PART_LAST } CkPart;
static const gchar *const ck_part_names[CK_PART_LAST] = {"cert.pem", "key.pem", "chain.pem",
							 "combined.pem"};

gchar *
ck_installer_directory_path(const gchar *directory, const gchar *name)
{
	return g_build_filename(directory, name, NULL);
}

/* The bytes of @part, NULL when this install does not write it. */
static GBytes *
ck_install_part_contents(const CkInstallContents *contents, CkPart part, gboolean want_combined)
{
	switch (part) {
	case CK_PART_CERT:
		return g_bytes_ref(contents->certificate);
	case CK_PART_KEY:
		return contents->key != NULL ? g_bytes_ref(contents->key) : NULL;
	case CK_PART_CHAIN:
		return contents->chain != NULL ? g_bytes_ref(contents->chain) : NULL;
	case CK_PART_COMBINED: {
		/* key first, as haproxy and friends read it; then the certificate and chain */
		GByteArray *all;
		if (!want_combined || contents->key == NULL)
			return NULL;
		all = g_byte_array_new();
		g_byte_array_append(all, g_bytes_get_data(contents->key, NULL),
				    (guint)g_bytes_get_size(contents->key));
		g_byte_array_append(all, g_bytes_get_data(contents->certificate, NULL),
				    (guint)g_bytes_get_size(contents->certificate));
		if (contents->chain != NULL)
			g_byte_array_append(all, g_bytes_get_data(contents->chain, NULL),
					    (guint)g_bytes_get_size(contents->chain));
		return g_byte_array_free_to_bytes(all);
	}
	default:
		return NULL;
	}
}

static const CkFileAttrs *
ck_install_part_attrs(const CkInstallTarget *target, CkPart part)
{
	return part == CK_PART_KEY || part == CK_PART_COMBINED ? &target->key_attrs
							       : &target->cert_attrs;
}

/* The live path of @part in the files layout, NULL if the target has none. */
static const gchar *
ck_install_part_path(const CkInstallTarget *target, CkPart part)
{
	switch (part) {
	case CK_PART_CERT:
		return target->cert_file;
	case CK_PART_KEY:
		return target->key_file;
	case CK_PART_CHAIN:
		return target->chain_file;
	case CK_PART_COMBINED:
		return target->combined_file;
	default:
		return NULL;
	}
}

static gboolean
ck_install_exists(const gchar *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static gboolean
ck_install_sync_dirs(GPtrArray *paths, GError **error)
{
	g_autoptr(GHashTable) dirs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter iter;
	gpointer dir;

	for (guint i = 0; i < paths->len; i++)
		g_hash_table_add(dirs, g_path_get_dirname(g_ptr_array_index(paths, i)));
	g_hash_table_iter_init(&iter, dirs);
	while (g_hash_table_iter_next(&iter, &dir, NULL)) {
		if (!ck_file_sync_dir(dir, error))
			return FALSE;
	}
	return TRUE;
}

/* Files layout */

static gboolean
ck_install_stage_files(const CkInstallTarget *target, const CkInstallContents *contents,
		       GStrv *fresh_out, GError **error)
{
	g_autoptr(GStrvBuilder) fresh = g_strv_builder_new();
	g_autoptr(GPtrArray) staged = g_ptr_array_new_with_free_func(g_free);

	for (guint part = 0; part < CK_PART_LAST; part++) {
		const gchar *path = ck_install_part_path(target, part);
		g_autoptr(GBytes) bytes = NULL;
		gchar *tmp;

		if (path == NULL)
			continue;
		bytes = ck_install_part_contents(contents, part, TRUE);
		if (bytes == NULL)
			continue;
		tmp = g_strconcat(path, CK_INSTALL_STAGED_SUFFIX, NULL);
		g_unlink(tmp);
		if (!ck_file_write_new(tmp, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
				       ck_install_part_attrs(target, part), error)) {
			g_free(tmp);
			for (guint j = 0; j < staged->len; j++)
				g_unlink(g_ptr_array_index(staged, j));
			return FALSE;
		}
		ck_fault_point("install-stage-file-written");
		g_ptr_array_add(staged, tmp);
		if (!ck_install_exists(path))
			g_strv_builder_add(fresh, path);
	}
	if (!ck_install_sync_dirs(staged, error)) {
		for (guint j = 0; j < staged->len; j++)
			g_unlink(g_ptr_array_index(staged, j));
		return FALSE;
	}
	*fresh_out = g_strv_builder_end(fresh);
	return TRUE;
}

static gboolean
ck_install_commit_files(const CkInstallTarget *target, GError **error)
{
	g_autoptr(GPtrArray) done = g_ptr_array_new();

	for (guint part = 0; part < CK_PART_LAST; part++) {
		const gchar *path = ck_install_part_path(target, part);
		g_autofree gchar *staged = NULL;
		g_autofree gchar *backup = NULL;

		if (path == NULL)
			continue;
		staged = g_strconcat(path, CK_INSTALL_STAGED_SUFFIX, NULL);
		/* already renamed (a restart running the commit again): nothing to do */
		if (!ck_install_exists(staged))
			continue;
		backup = g_strconcat(path, CK_INSTALL_BACKUP_SUFFIX, NULL);
		/* the backup is of the version being replaced, never an older one */
		if (g_unlink(backup) < 0 && errno != ENOENT) {
			ck_file_set_error_errno(error, errno, _("Cannot remove"), backup);
			return FALSE;
		}
		ck_fault_point("install-commit-unlinked-backup");
		if (ck_install_exists(path) && link(path, backup) < 0) {
			/* TRANSLATORS: followed by a file name and the system's reason */
			ck_file_set_error_errno(error, errno, _("Cannot keep a backup of"), path);
			return FALSE;
		}
		ck_fault_point("install-commit-backup");
		if (g_rename(staged, path) < 0) {
			ck_file_set_error_errno(error, errno, _("Cannot replace"), path);
			return FALSE;
		}
		ck_fault_point("install-commit-rename");
		g_ptr_array_add(done, (gpointer)path);
	}
	return ck_install_sync_dirs(done, error);
}

static gboolean
ck_install_rollback_files(const CkInstallTarget *target, const gchar *const *fresh,
			  GError **error)
{
	g_autoptr(GPtrArray) touched = g_ptr_array_new();

	for (guint part = 0; part < CK_PART_LAST; part++) {
		const gchar *path = ck_install_part_path(target, part);
		g_autofree gchar *staged = NULL;
		g_autofree gchar *backup = NULL;

		if (path == NULL)
			continue;
		staged = g_strconcat(path, CK_INSTALL_STAGED_SUFFIX, NULL);
		backup = g_strconcat(path, CK_INSTALL_BACKUP_SUFFIX, NULL);
		g_unlink(staged);
		if (ck_install_exists(backup)) {
			if (g_rename(backup, path) < 0) {
				/* TRANSLATORS: followed by a file name and the system's reason */
				ck_file_set_error_errno(error, errno, _("Cannot restore"), path);
				return FALSE;
			}
		} else if (fresh != NULL && g_strv_contains(fresh, path)) {
			if (g_unlink(path) < 0 && errno != ENOENT) {
				ck_file_set_error_errno(error, errno, _("Cannot remove"), path);
				return FALSE;
			}
		}
		ck_fault_point("install-rollback-restored");
		g_ptr_array_add(touched, (gpointer)path);
	}
	return ck_install_sync_dirs(touched, error);
}

/* Directory layout */

static gchar *
ck_install_version_dir(const CkInstallTarget *target, const gchar *version)
{
	return g_build_filename(target->directory, CK_INSTALL_VERSIONS, version, NULL);
}

/* The version "current" points to, NULL if none. */
static gchar *
ck_install_current_version(const CkInstallTarget *target)
{
	g_autofree gchar *link = g_build_filename(target->directory, CK_INSTALL_CURRENT, NULL);
	g_autofree gchar *dest = g_file_read_link(link, NULL);
	return dest != NULL ? g_path_get_basename(dest) : NULL;
}

/* Makes @path a symlink to @dest, atomically (a temporary link renamed over it). */
static gboolean
ck_install_swap_symlink(const gchar *dest, const gchar *path, GError **error)
{
	g_autofree gchar *tmp = g_strconcat(path, CK_INSTALL_STAGED_SUFFIX, NULL);

	g_unlink(tmp);
	if (symlink(dest, tmp) < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot create the link"), tmp);
		return FALSE;
	}
	ck_fault_point("install-symlink-created");
	if (g_rename(tmp, path) < 0) {
		int errsv = errno;
		g_unlink(tmp);
		ck_file_set_error_errno(error, errsv, _("Cannot replace"), path);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_install_stage_directory(const CkInstallTarget *target, const CkInstallContents *contents,
			   GStrv *fresh_out, gchar **version_out, gchar **previous_out,
			   GError **error)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree gchar *stamp = g_date_time_format(now, "%Y%m%dT%H%M%S");
	g_autofree gchar *version = g_strdup_printf("%s-%08x", stamp, g_random_int());
	g_autofree gchar *versions = g_build_filename(target->directory, CK_INSTALL_VERSIONS, NULL);
	g_autofree gchar *dir = ck_install_version_dir(target, version);
	g_autoptr(GStrvBuilder) fresh = g_strv_builder_new();

	if (!ck_file_ensure_dir(versions, 0755, error) || !ck_file_ensure_dir(dir, 0755, error))
		return FALSE;
	for (guint part = 0; part < CK_PART_LAST; part++) {
		g_autoptr(GBytes) bytes = ck_install_part_contents(contents, part, TRUE);
		g_autofree gchar *path = NULL;
		g_autofree gchar *link = NULL;

		if (bytes == NULL)
			continue;
		path = g_build_filename(dir, ck_part_names[part], NULL);
		if (!ck_file_write_new(path, g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes),
				       ck_install_part_attrs(target, part), error)) {
			ck_installer_discard(target, version);
			return FALSE;
		}
		ck_fault_point("install-stage-file-written");
		link = ck_installer_directory_path(target->directory, ck_part_names[part]);
		if (!ck_install_exists(link))
			g_strv_builder_add(fresh, link);
	}
	if (!ck_file_sync_dir(dir, error) || !ck_file_sync_dir(versions, error)) {
		ck_installer_discard(target, version);
		return FALSE;
	}
	*fresh_out = g_strv_builder_end(fresh);
	*previous_out = ck_install_current_version(target);
	*version_out = g_steal_pointer(&version);
	return TRUE;
}

static gboolean
ck_install_commit_directory(const CkInstallTarget *target, const gchar *version, GError **error)
{
	g_autofree gchar *dir = ck_install_version_dir(target, version);
	g_autofree gchar *current = g_build_filename(target->directory, CK_INSTALL_CURRENT, NULL);
	g_autofree gchar *dest = g_build_filename(CK_INSTALL_VERSIONS, version, NULL);

	/* the stable names point through "current", so one rename switches them all */
	for (guint part = 0; part < CK_PART_LAST; part++) {
		g_autofree gchar *file = g_build_filename(dir, ck_part_names[part], NULL);
		g_autofree gchar *link = NULL;
		g_autofree gchar *link_dest = NULL;
		if (!ck_install_exists(file))
			continue;
		link = ck_installer_directory_path(target->directory, ck_part_names[part]);
		if (ck_install_exists(link))
			continue;
		link_dest = g_build_filename(CK_INSTALL_CURRENT, ck_part_names[part], NULL);
		if (!ck_install_swap_symlink(link_dest, link, error))
			return FALSE;
	}
	ck_fault_point("install-commit-backup");
	if (!ck_install_swap_symlink(dest, current, error))
		return FALSE;
	ck_fault_point("install-commit-rename");
	return ck_file_sync_dir(target->directory, error);
}

static gboolean
ck_install_rollback_directory(const CkInstallTarget *target, const gchar *const *fresh,
			      const gchar *version, const gchar *previous, GError **error)
{
	g_autofree gchar *current = g_build_filename(target->directory, CK_INSTALL_CURRENT, NULL);

	if (previous != NULL) {
		g_autofree gchar *dest = g_build_filename(CK_INSTALL_VERSIONS, previous, NULL);
		if (!ck_install_swap_symlink(dest, current, error))
			return FALSE;
	} else if (g_unlink(current) < 0 && errno != ENOENT) {
		ck_file_set_error_errno(error, errno, _("Cannot remove"), current);
		return FALSE;
	}
	ck_fault_point("install-rollback-restored");
	for (guint i = 0; fresh != NULL && fresh[i] != NULL; i++)
		g_unlink(fresh[i]);
	if (version != NULL)
		ck_installer_discard(target, version);
	return ck_file_sync_dir(target->directory, error);
}

/* Removes a version directory and what it holds (only our own file names). */
static void
ck_install_remove_version(const CkInstallTarget *target, const gchar *version)
{
	g_autofree gchar *dir = ck_install_version_dir(target, version);
	for (guint part = 0; part < CK_PART_LAST; part++) {
		g_autofree gchar *path = g_build_filename(dir, ck_part_names[part], NULL);
		g_unlink(path);
	}
	if (g_rmdir(dir) < 0 && errno != ENOENT)
		g_warning("cannot remove %s: %s", dir, g_strerror(errno));
}

/* Dispatch on the layout */

gboolean
ck_installer_stage(const CkInstallTarget *target, const CkInstallContents *contents,
		   GStrv *fresh_out, gchar **version_out, gchar **previous_out, GError **error)
{
	gboolean ok;

	g_return_val_if_fail(contents->certificate != NULL, FALSE);
	*version_out = NULL;
	*previous_out = NULL;
	ok = target->directory != NULL
		 ? ck_install_stage_directory(target, contents, fresh_out, version_out,
					      previous_out, error)
		 : ck_install_stage_files(target, contents, fresh_out, error);
	if (ok)
		ck_fault_point("install-staged");
	return ok;
}

gboolean
ck_installer_commit(const CkInstallTarget *target, const gchar *version, GError **error)
{
	if (target->directory != NULL) {
		g_return_val_if_fail(version != NULL, FALSE);
		return ck_install_commit_directory(target, version, error);
	}
	return ck_install_commit_files(target, error);
}

gboolean
ck_installer_rollback(const CkInstallTarget *target, const gchar *const *fresh,
		      const gchar *version, const gchar *previous, GError **error)
{
	if (target->directory != NULL)
		return ck_install_rollback_directory(target, fresh, version, previous, error);
	return ck_install_rollback_files(target, fresh, error);
}

void
ck_installer_discard(const CkInstallTarget *target, const gchar *version)
{
	if (target->directory != NULL) {
		if (version != NULL)
			ck_install_remove_version(target, version);
		return;
	}
	for (guint part = 0; part < CK_PART_LAST; part++) {
		const gchar *path = ck_install_part_path(target, part);
		g_autofree gchar *staged = NULL;
		if (path == NULL)
			continue;
		staged = g_strconcat(path, CK_INSTALL_STAGED_SUFFIX, NULL);
		g_unlink(staged);
	}
}

gboolean
ck_installer_remove_backups(const CkInstallTarget *target, GError **error)
{
	if (target->directory != NULL) {
		g_autofree gchar *versions =
		    g_build_filename(target->directory, CK_INSTALL_VERSIONS, NULL);
		g_autofree gchar *current = ck_install_current_version(target);
		g_autoptr(GDir) dir = g_dir_open(versions, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			if (g_strcmp0(name, current) != 0) {
				ck_install_remove_version(target, name);
				ck_fault_point("install-backup-removed");
			}
		}
		return TRUE;
	}
	for (guint part = 0; part < CK_PART_LAST; part++) {
		const gchar *path = ck_install_part_path(target, part);
		g_autofree gchar *backup = NULL;
		if (path == NULL)
			continue;
		backup = g_strconcat(path, CK_INSTALL_BACKUP_SUFFIX, NULL);
		if (g_unlink(backup) < 0 && errno != ENOENT) {
			ck_file_set_error_errno(error, errno, _("Cannot remove"), backup);
			return FALSE;
		}
		ck_fault_point("install-backup-removed");
	}
	return TRUE;
}
