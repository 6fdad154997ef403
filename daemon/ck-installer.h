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
 */
gboolean
ck_installer_install(const CkInstallFile *files, guint n_files, GError **error);

/*
 * Checks that @path could be written by the installer: absolute, its directory
 * exists and is writable by the daemon, and @path itself is not a directory.
 * CK_ERROR_INVALID_ARGUMENT names the problem; @what ("certificate file", ...)
 * says which option it was.
 */
gboolean
ck_installer_check_target(const gchar *path, const gchar *what, GError **error);

G_END_DECLS
