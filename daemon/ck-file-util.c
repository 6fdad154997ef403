/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-fault.h"
#include "ck-file-util.h"

void
ck_file_set_error_errno(GError **error, int errsv, const gchar *action, const gchar *path)
{
	g_set_error(error, CK_ERROR, CK_ERROR_IO, "%s %s: %s", action, path, g_strerror(errsv));
}

static gboolean
ck_file_write_all(int fd, const guint8 *data, gsize len, const gchar *path, GError **error)
{
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* TRANSLATORS: followed by a file name and the system's reason */
			ck_file_set_error_errno(error, errno, _("Cannot write"), path);
			return FALSE;
		}
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

gboolean
ck_file_write_new(const gchar *path, const void *data, gsize len, const CkFileAttrs *attrs,
		  GError **error)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, attrs->mode & 07777);
	if (fd < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot create"), path);
		return FALSE;
	}
	/* umask may have narrowed the mode; the requested one is what counts */
	if (fchmod(fd, attrs->mode & 07777) < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot set the mode of"), path);
		goto fail;
	}
	if ((attrs->uid != (uid_t)-1 || attrs->gid != (gid_t)-1) &&
	    fchown(fd, attrs->uid, attrs->gid) < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot set the owner of"), path);
		goto fail;
	}
	if (!ck_file_write_all(fd, data, len, path, error))
		goto fail;
	if (fsync(fd) < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot flush"), path);
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		ck_file_set_error_errno(error, errno, _("Cannot write"), path);
		goto fail;
	}
	return TRUE;
fail:
	if (fd >= 0)
		close(fd);
	unlink(path);
	return FALSE;
}

gboolean
ck_file_sync_dir(const gchar *dir, GError **error)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		/* TRANSLATORS: followed by a directory name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot open directory"), dir);
		return FALSE;
	}
	if (fsync(fd) < 0 && errno != EINVAL) {
		int errsv = errno;
		close(fd);
		ck_file_set_error_errno(error, errsv, _("Cannot flush"), dir);
		return FALSE;
	}
	close(fd);
	return TRUE;
}

gboolean
ck_file_sync_parent(const gchar *path, GError **error)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	return ck_file_sync_dir(dir, error);
}

gboolean
ck_file_replace(const gchar *path, const void *data, gsize len, const CkFileAttrs *attrs,
		GError **error)
{
	/* a unique temp name beside the target, so rename() stays within one file system */
	g_autofree gchar *tmp =
	    g_strdup_printf("%s.ck-tmp-%08x%08x", path, g_random_int(), g_random_int());
	if (!ck_file_write_new(tmp, data, len, attrs, error))
		return FALSE;
	ck_fault_point("file-replace-written");
	if (rename(tmp, path) < 0) {
		int errsv = errno;
		unlink(tmp);
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errsv, _("Cannot replace"), path);
		return FALSE;
	}
	ck_fault_point("file-replace-renamed");
	return ck_file_sync_parent(path, error);
}

void
ck_file_remove_stale_temps(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;
	gboolean removed = FALSE;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = NULL;
		if (strstr(name, ".ck-tmp-") == NULL)
			continue;
		path = g_build_filename(dir, name, NULL);
		g_message("removing %s, left by an interrupted write", path);
		if (g_unlink(path) < 0 && errno != ENOENT)
			g_warning("cannot remove %s: %s", path, g_strerror(errno));
		removed = TRUE;
	}
	if (removed)
		ck_file_sync_dir(dir, NULL);
}

gboolean
ck_file_ensure_dir(const gchar *dir, guint mode, GError **error)
{
	if (g_mkdir_with_parents(dir, (int)mode) < 0) {
		/* TRANSLATORS: followed by a directory name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot create directory"), dir);
		return FALSE;
	}
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		ck_file_set_error_errno(error, ENOTDIR, _("Cannot create directory"), dir);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_file_parse_id(const gchar *text, guint32 *id)
{
	guint64 value;
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32 - 1, &value, NULL))
		return FALSE;
	*id = (guint32)value;
	return TRUE;
}

gboolean
ck_file_attrs_set_owner(CkFileAttrs *attrs, const gchar *owner, GError **error)
{
	g_auto(GStrv) parts = g_strsplit(owner, ":", 2);
	const gchar *user = parts[0];
	const gchar *group = parts[0] != NULL ? parts[1] : NULL;
	guint32 uid, gid;
	struct passwd *pw = NULL;

	if (user == NULL || user[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not an owner: use USER or USER:GROUP"), owner);
		return FALSE;
	}
	if (ck_file_parse_id(user, &uid)) {
		pw = getpwuid(uid);
	} else {
		pw = getpwnam(user);
		if (pw == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Unknown user '%s'"), user);
			return FALSE;
		}
		uid = pw->pw_uid;
	}
	if (group == NULL || group[0] == '\0') {
		if (pw == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("User id %u has no account, so its group is unknown: use "
				      "UID:GID"),
				    uid);
			return FALSE;
		}
		gid = pw->pw_gid;
	} else if (!ck_file_parse_id(group, &gid)) {
		struct group *gr = getgrnam(group);
		if (gr == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Unknown group '%s'"), group);
			return FALSE;
		}
		gid = gr->gr_gid;
	}
	attrs->uid = uid;
	attrs->gid = gid;
	return TRUE;
}

int
ck_file_lock_exclusive(const gchar *path, GError **error)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot open"), path);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int errsv = errno;
		close(fd);
		if (errsv == EWOULDBLOCK) {
			g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
				    _("Another process holds the lock %s"), path);
		} else {
			ck_file_set_error_errno(error, errsv, _("Cannot lock"), path);
		}
		return -1;
	}
	return fd;
}

gboolean
ck_file_get_owned_contents(const gchar *path, uid_t owner, gchar **contents, gsize *length,
			   GError **error)
{
	g_autoptr(GByteArray) data = NULL;
	struct stat st;
	int fd;

	if (owner == 0)
		return g_file_get_contents(path, contents, length, error);
	/* O_NONBLOCK: a FIFO put in the file's place must not block the daemon */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		ck_file_set_error_errno(error, errno, _("Cannot open"), path);
		return FALSE;
	}
	if (fstat(fd, &st) < 0) {
		ck_file_set_error_errno(error, errno, _("Cannot open"), path);
		close(fd);
		return FALSE;
	}
	/* checked on what was opened: a link to someone else's file is someone else's */
	if (!S_ISREG(st.st_mode) || st.st_uid != owner) {
		close(fd);
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    /* TRANSLATORS: a file name, then the uid of the request's owner */
			    _("%s is not a file of uid %u, the request's owner: certkeeperd does "
			      "not read it"),
			    path, (guint)owner);
		return FALSE;
	}
	data = g_byte_array_sized_new((guint)MIN(st.st_size + 1, 1 << 20));
	for (;;) {
		guint8 buf[8192];
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ck_file_set_error_errno(error, errno, _("Cannot read"), path);
			close(fd);
			return FALSE;
		}
		if (n == 0)
			break;
		g_byte_array_append(data, buf, (guint)n);
	}
	close(fd);
	if (length != NULL)
		*length = data->len;
	g_byte_array_append(data, (const guint8 *)"", 1);
	*contents = (gchar *)g_byte_array_free(g_steal_pointer(&data), FALSE);
	return TRUE;
}
