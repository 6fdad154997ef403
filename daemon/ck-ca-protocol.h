/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The standard enrollment protocols certkeeper ships a helper for (ACME, EST,
 * SCEP). A CA of such a type is a helper CA whose command line certkeeperd
 * builds from the CA's settings, so administrators configure URLs and files,
 * not command lines. One setting has three spellings: the key in certkeeper.conf
 * (Directory=), the option name on D-Bus and on the CLI (directory), which is
 * also the helper's long option (--directory).
 */
typedef struct {
	const gchar *key;      /* certkeeper.conf key, e.g. "Directory" */
	const gchar *option;   /* AddCA option, `certkeeper add-ca --OPTION`, helper --OPTION */
	gboolean required;     /* the CA cannot work without it */
	gboolean is_path;      /* an absolute path is required */
	const gchar *summary;  /* N_() one-line description, for --help and errors */
} CkCaSetting;

typedef struct {
	const gchar *type;	     /* "acme", "est", "scep" */
	const gchar *program;	     /* the helper's file name in the helper directory */
	gboolean has_state_dir;	     /* the helper keeps state: it gets --state-dir */
	const CkCaSetting *settings; /* terminated by an entry with key == NULL */
} CkCaProtocol;

/* The protocol named @type, or NULL ("local" and "helper" are not protocols). */
const CkCaProtocol *
ck_ca_protocol_find(const gchar *type);
/* Every protocol, terminated by an entry with type == NULL. */
const CkCaProtocol *
ck_ca_protocol_list(void);
/* The setting of @protocol whose key (or, with @by_option, option name) is @name. */
const CkCaSetting *
ck_ca_protocol_find_setting(const CkCaProtocol *protocol, const gchar *name, gboolean by_option);
/* "local, helper, acme, est or scep", for messages. */
const gchar *
ck_ca_protocol_type_names(void);

/*
 * Checks @settings (config key -> value) against @protocol: every key known,
 * every required one present, paths absolute. FALSE with an error naming the
 * setting and what to do.
 */
gboolean
ck_ca_protocol_check_settings(const CkCaProtocol *protocol, GHashTable *settings,
			      GError **error);

/*
 * The helper's command line: HELPER_DIR/PROGRAM [--state-dir=STATE_DIR] and one
 * --OPTION=VALUE per setting, each quoted for g_shell_parse_argv().
 */
gchar *
ck_ca_protocol_build_command(const CkCaProtocol *protocol, const gchar *helper_dir,
			     const gchar *state_dir, GHashTable *settings);

G_END_DECLS
