/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-request.h"

G_BEGIN_DECLS

/*
 * The settings of a request by name, as AddRequest, StartTracking and Modify
 * take them over D-Bus and requests.d files declare them: "cert-file" (s),
 * "dns-names" (as), "validity-days" (u), "auto-renew" (b), ... (the list with
 * their meanings is in dbus/org.certkeeper.Manager1.xml). One table for all of
 * them, so they cannot drift apart.
 */

/* The GVariant type string of option @name ("s", "as", "u", "b"), NULL if unknown. */
const gchar *
ck_request_options_type(const gchar *name);

/* FALSE for the options that only a new request takes (its id and its files). */
gboolean
ck_request_options_is_modifiable(const gchar *name);

/*
 * Applies @value (of the option's type) to @request. A malformed value fails
 * with CK_ERROR_INVALID_ARGUMENT (or UNSUPPORTED) naming the option and value.
 */
gboolean
ck_request_options_apply(CkRequest *request, const gchar *name, GVariant *value, GError **error);

/* Every option name, NULL-terminated (for completion and fuzzing). */
const gchar *const *
ck_request_options_names(void);

G_END_DECLS
