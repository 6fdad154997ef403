/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "ck-file-util.h"
#include "ck-key-provider.h"

G_BEGIN_DECLS

/* How one CA is configured ([ca NAME] groups of certkeeper.conf). */
typedef struct {
	gchar *name;
	gchar *type;	     /* "local" or "helper" */
	gchar *helper;	     /* helper: the command line */
	guint timeout;	     /* helper: seconds a run may take */
	guint validity_days; /* local: default lifetime of leaves */
} CkCaConfig;

#define CK_TYPE_CONFIG ck_config_get_type()
G_DECLARE_FINAL_TYPE(CkConfig, ck_config, CK, CONFIG, GObject)

/* Built-in defaults; ck_config_load() overrides them from a file. */
CkConfig *
ck_config_new(void);

/*
 * Reads a certkeeper.conf (GKeyFile). A missing file is an error only when
 * @must_exist. Unknown keys are warned about; malformed values are errors that
 * name the group, the key and the value.
 */
gboolean
ck_config_load(CkConfig *self, const gchar *path, gboolean must_exist, GError **error);

/* [certkeeperd] StateDirectory, or NULL when unset. */
const gchar *
ck_config_get_state_dir(CkConfig *self);
/* [certkeeperd] LogLevel ("error", "warning", "message", "info", "debug"), or NULL. */
const gchar *
ck_config_get_log_level(CkConfig *self);
/* [defaults] */
CkKeyType
ck_config_get_default_key_type(CkConfig *self);
const gchar *
ck_config_get_default_ca(CkConfig *self);
guint
ck_config_get_default_cert_mode(CkConfig *self);
guint
ck_config_get_default_key_mode(CkConfig *self);
guint
ck_config_get_default_validity_days(CkConfig *self);
/* Every configured CA, the built-in "local" one always included (array of CkCaConfig*). */
GPtrArray *
ck_config_get_cas(CkConfig *self);

G_END_DECLS
