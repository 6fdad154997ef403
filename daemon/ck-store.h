/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-request.h"

G_BEGIN_DECLS

#define CK_TYPE_STORE ck_store_get_type()
G_DECLARE_FINAL_TYPE(CkStore, ck_store, CK, STORE, GObject)

/*
 * The durable state: STATE/requests/<id>.json, one file per request, each
 * written atomically (temp file, fsync, rename, fsync of the directory).
 */
CkStore *
ck_store_new(const gchar *state_dir);

const gchar *
ck_store_get_state_dir(CkStore *self);

/* Creates STATE (0700) and STATE/requests if needed. */
gboolean
ck_store_open(CkStore *self, GError **error);

/*
 * Loads every request. A file that cannot be read or parsed is renamed to
 * <name>.corrupt-<unix time> with a warning naming it, and skipped: the
 * others still load. Returns an array of CkRequest (never NULL on success).
 */
GPtrArray *
ck_store_load_requests(CkStore *self, GError **error);

gboolean
ck_store_save_request(CkStore *self, CkRequest *request, GError **error);

/* Removes the request's state file; not an error if it is already gone. */
gboolean
ck_store_remove_request(CkStore *self, const gchar *id, GError **error);

/* Path of a request's state file (for messages and tests). */
gchar *
ck_store_get_request_path(CkStore *self, const gchar *id);

G_END_DECLS
