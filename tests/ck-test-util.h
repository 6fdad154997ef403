/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A fresh directory under $TMPDIR; removed by ck_test_rm_rf(). */
gchar *
ck_test_make_tmpdir(void);

/* Removes @path and everything below it (for test directories only). */
void
ck_test_rm_rf(const gchar *path);

/*
 * Runs @argv synchronously; returns its exit status (-1 if it could not run).
 * @stdout_out / @stderr_out may be NULL.
 */
gint
ck_test_run(const gchar *const *argv, gchar **stdout_out, gchar **stderr_out);

/* Mode bits (07777) of @path, or -1 if it cannot be stat'ed. */
gint
ck_test_file_mode(const gchar *path);

G_END_DECLS
