/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <sys/types.h>

G_BEGIN_DECLS

/* Who owns a file certkeeper writes, and with which mode. */
typedef struct {
	uid_t uid; /* (uid_t)-1: leave as created (the daemon's uid) */
	gid_t gid; /* (gid_t)-1: leave as created */
	guint mode;
} CkFileAttrs;

#define CK_FILE_ATTRS_INIT(m) ((CkFileAttrs){.uid = (uid_t)-1, .gid = (gid_t)-1, .mode = (m)})

/*
 * Creates @path (which must not exist yet) with @attrs, writes @data and fsyncs it.
 * On failure nothing is left behind.
 */
gboolean
ck_file_write_new(const gchar *path, const void *data, gsize len, const CkFileAttrs *attrs,
		  GError **error);

/*
 * Durably replaces @path with @data: temp file in the same directory, fsync,
 * rename, fsync of the directory. Readers see either the old or the new content.
 */
gboolean
ck_file_replace(const gchar *path, const void *data, gsize len, const CkFileAttrs *attrs,
		GError **error);

/*
 * Removes the temporary files ck_file_replace() leaves in @dir when the process
 * dies between writing and renaming (the live file is still the old one). Only
 * for directories no one else writes to: the daemon's own, under its lock.
 */
void
ck_file_remove_stale_temps(const gchar *dir);

/* fsync() the directory that holds @path, so a rename or unlink in it is durable. */
gboolean
ck_file_sync_parent(const gchar *path, GError **error);

/* fsync() the directory @dir itself. */
gboolean
ck_file_sync_dir(const gchar *dir, GError **error);

/* Creates @dir (and parents) with @mode if missing; checks it is a directory. */
gboolean
ck_file_ensure_dir(const gchar *dir, guint mode, GError **error);

/*
 * g_file_get_contents() for a file of a request that user @owner asked for: unless
 * @owner is root (0), what opens must be a regular file that belongs to @owner
 * (CK_ERROR_ACCESS_DENIED otherwise), so a link or FIFO the user puts in its
 * place cannot make the daemon read, for the user, what only root may.
 */
gboolean
ck_file_get_owned_contents(const gchar *path, uid_t owner, gchar **contents, gsize *length,
			   GError **error);

/* A GError (CK_ERROR_IO) from errno @errsv, naming @path and what was being done. */
void
ck_file_set_error_errno(GError **error, int errsv, const gchar *action, const gchar *path);

G_END_DECLS

G_BEGIN_DECLS

/*
 * Parses "user", "user:group", "uid" or "uid:gid" into @attrs' uid and gid (a
 * user alone also takes the user's primary group). CK_ERROR_INVALID_ARGUMENT
 * names an unknown user or group.
 */
gboolean
ck_file_attrs_set_owner(CkFileAttrs *attrs, const gchar *owner, GError **error);

G_END_DECLS

G_BEGIN_DECLS

/*
 * Takes an exclusive, non-blocking lock on @path (created 0600 if missing) and
 * returns its fd, held until the process exits; -1 with CK_ERROR_ALREADY_EXISTS
 * when another process holds it. Used so two daemons never share a state directory.
 */
int
ck_file_lock_exclusive(const gchar *path, GError **error);

G_END_DECLS
