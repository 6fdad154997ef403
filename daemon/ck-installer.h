/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

#include "ck-file-util.h"

G_BEGIN_DECLS

/* One file of an installation. */
typedef struct {
	const gchar *path; /* absolute */
	GBytes *contents;
	CkFileAttrs attrs;
} CkInstallFile;

/*
 * Installs @files (certificate, key, chain) together: every file is first
 * staged as <path>.ck-new with its owner and mode and fsynced; only when all
 * are staged are they renamed into place, then their directories are fsynced.
 * If staging fails nothing live was touched and no staged file is left.
 * (The one-shot form; the lifecycle uses the phases below.)
 */
gboolean
ck_installer_install(const CkInstallFile *files, guint n_files, GError **error);

/*
 * Checks that @path could be written by the installer: absolute, its directory
 * exists and is writable by the daemon, and @path itself is not a directory.
 * CK_ERROR_INVALID_ARGUMENT names the problem; @what ("certificate file", ...)
 * says which option it was. A directory that passed lately is not probed again
 * for a while (see ck-installer.c).
 */
gboolean
ck_installer_check_target(const gchar *path, const gchar *what, GError **error);

/* Forgets which directories passed, so the next check probes again. */
void
ck_installer_forget_probes(void);

/*
 * Where a request's files live. Two layouts:
 *  - files: @cert_file, @key_file, optional @chain_file and @combined_file (key,
 *    certificate and chain in one PEM) are replaced in place, with hard-link
 *    backups <path>.ck-prev;
 *  - directory (@directory set): every version in @directory/.versions/<version>/
 *    (cert.pem, key.pem, chain.pem, combined.pem), @directory/current a symlink to
 *    the live version swapped with one rename, and @directory/cert.pem etc.
 *    symlinks through "current". A reader that resolves "current" once (or reads
 *    combined.pem) sees a matching key and certificate at every instant.
 */
typedef struct {
	const gchar *cert_file;
	const gchar *key_file; /* NULL: the key is not a file (it lives in a token) */
	const gchar *chain_file;
	const gchar *combined_file;
	const gchar *directory;
	CkFileAttrs cert_attrs; /* certificate and chain */
	CkFileAttrs key_attrs;	/* key and combined file */
} CkInstallTarget;

/* The paths a directory layout publishes (caller frees with g_free()). */
gchar *
ck_installer_directory_path(const gchar *directory, const gchar *name);

typedef struct {
	GBytes *certificate; /* PEM */
	GBytes *key;	     /* the key's stored form, NULL when the key is not a file */
	GBytes *chain;	     /* PEM, may be NULL */
} CkInstallContents;

/*
 * Phase 1: writes everything beside the live files (owner and mode set, fsynced)
 * and touches nothing live. @fresh_out gets the live paths that do not exist yet
 * (a rollback removes them); in the directory layout @version_out gets the new
 * version's name and @previous_out the live one's (NULL if none).
 * On failure nothing staged is left behind.
 */
gboolean
ck_installer_stage(const CkInstallTarget *target, const CkInstallContents *contents,
		   GStrv *fresh_out, gchar **version_out, gchar **previous_out, GError **error);

/*
 * Phase 2: puts the staged files in place: each live file is hard-linked to
 * <path>.ck-prev, then the staged one renamed over it (directory layout: the
 * "current" link swapped to @version); the directories are fsynced. Idempotent,
 * so a restart that finds the intent recorded simply runs it again.
 */
gboolean
ck_installer_commit(const CkInstallTarget *target, const gchar *version, GError **error);

/*
 * Undoes a commit: the backups renamed back (directory layout: "current" swapped
 * back to @previous), the @fresh paths removed, anything staged removed.
 */
gboolean
ck_installer_rollback(const CkInstallTarget *target, const gchar *const *fresh,
		      const gchar *version, const gchar *previous, GError **error);

/* Removes what ck_installer_stage() wrote, for an install abandoned before its commit. */
void
ck_installer_discard(const CkInstallTarget *target, const gchar *version);

/* Removes the previous version kept since the last commit (its grace period is over). */
gboolean
ck_installer_remove_backups(const CkInstallTarget *target, GError **error);

G_END_DECLS
