/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-config.h"
#include "ck-error.h"

#define CK_CONFIG_GROUP_DAEMON	 "certkeeperd"
#define CK_CONFIG_GROUP_DEFAULTS "defaults"
#define CK_CONFIG_CA_PREFIX	 "ca "

struct _CkConfig {
	GObject parent_instance;
	gchar *state_dir;
	gchar *log_level;
	CkKeyType key_type;
	gchar *ca;
	guint cert_mode;
	guint key_mode;
	guint validity_days;
	GPtrArray *cas; /* CkCaConfig */
};

G_DEFINE_TYPE(CkConfig, ck_config, G_TYPE_OBJECT)

static void
ck_ca_config_free(CkCaConfig *ca)
{
	g_free(ca->name);
	g_free(ca->type);
	g_free(ca->helper);
	g_free(ca);
}

static CkCaConfig *
ck_ca_config_new_local(const gchar *name, guint validity_days)
{
	CkCaConfig *ca = g_new0(CkCaConfig, 1);
	ca->name = g_strdup(name);
	ca->type = g_strdup("local");
	ca->validity_days = validity_days;
	ca->timeout = 60;
	return ca;
}

static const gchar *const ck_config_daemon_keys[] = {"StateDirectory", "LogLevel", NULL};
static const gchar *const ck_config_defaults_keys[] = {
    "KeyType", "CA", "ValidityDays", "CertificateMode", "KeyMode", NULL};
static const gchar *const ck_config_ca_keys[] = {"Type", "ValidityDays", "Helper", "Timeout", NULL};
static const gchar *const ck_config_log_levels[] = {"error", "warning", "message", "info",
						    "debug", NULL};

static void
ck_config_warn_unknown_keys(GKeyFile *kf, const gchar *path, const gchar *group,
			    const gchar *const *known)
{
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!g_strv_contains(known, keys[i]))
			g_warning("%s: [%s] has an unknown key %s; it is ignored", path, group,
				  keys[i]);
	}
}

/* A malformed value: say where, what, and what is allowed. */
static void
ck_config_set_bad_value(GError **error, const gchar *path, const gchar *group, const gchar *key,
			const gchar *value, const gchar *allowed)
{
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    /* TRANSLATORS: file, group, key, value, then what is allowed */
		    _("%s: [%s] %s=%s is not valid: %s"), path, group, key, value, allowed);
}

/* Reads an unsigned number in @base within [min, max]; TRUE and untouched when absent. */
static gboolean
ck_config_get_uint(GKeyFile *kf, const gchar *path, const gchar *group, const gchar *key,
		   guint base, guint min, guint max, guint *out, GError **error)
{
	g_autofree gchar *value = g_key_file_get_string(kf, group, key, NULL);
	guint64 parsed;

	if (value == NULL)
		return TRUE;
	g_strstrip(value);
	if (!g_ascii_string_to_unsigned(value, base, min, max, &parsed, NULL)) {
		g_autofree gchar *allowed =
		    base == 8 ? g_strdup_printf(_("use an octal mode from %o to %o"), min, max)
			      : g_strdup_printf(_("use a number from %u to %u"), min, max);
		ck_config_set_bad_value(error, path, group, key, value, allowed);
		return FALSE;
	}
	*out = (guint)parsed;
	return TRUE;
}

static gboolean
ck_config_load_ca(CkConfig *self, GKeyFile *kf, const gchar *path, const gchar *group,
		  GError **error)
{
	const gchar *name = group + strlen(CK_CONFIG_CA_PREFIX);
	g_autofree gchar *type = g_key_file_get_string(kf, group, "Type", NULL);
	CkCaConfig *ca;

	ck_config_warn_unknown_keys(kf, path, group, ck_config_ca_keys);
	if (name[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: [%s] needs a CA name, e.g. [ca example]"), path, group);
		return FALSE;
	}
	if (type == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: [%s] has no Type: use Type=local or Type=helper"), path, group);
		return FALSE;
	}
	g_strstrip(type);
	if (g_strcmp0(type, "local") != 0 && g_strcmp0(type, "helper") != 0) {
		ck_config_set_bad_value(error, path, group, "Type", type,
					_("use local or helper"));
		return FALSE;
	}
	if (g_strcmp0(name, "local") == 0 && g_strcmp0(type, "local") != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: [%s] is the built-in local CA and must keep Type=local; give "
			      "the other CA another name"),
			    path, group);
		return FALSE;
	}
	/* [ca local] only tunes the built-in CA, which already exists */
	ca = NULL;
	for (guint i = 0; i < self->cas->len; i++) {
		CkCaConfig *existing = g_ptr_array_index(self->cas, i);
		if (g_strcmp0(existing->name, name) == 0)
			ca = existing;
	}
	if (ca == NULL) {
		ca = ck_ca_config_new_local(name, 0);
		g_free(ca->type);
		ca->type = g_strdup(type);
		g_ptr_array_add(self->cas, ca);
	}
	if (!ck_config_get_uint(kf, path, group, "ValidityDays", 10, 0, 36500, &ca->validity_days,
				error) ||
	    !ck_config_get_uint(kf, path, group, "Timeout", 10, 1, 3600, &ca->timeout, error))
		return FALSE;
	if (g_strcmp0(type, "helper") == 0) {
		g_free(ca->helper);
		ca->helper = g_key_file_get_string(kf, group, "Helper", NULL);
		if (ca->helper == NULL || g_strstrip(ca->helper)[0] == '\0') {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("%s: [%s] is a helper CA without Helper=: name the program "
				      "to run"),
				    path, group);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
ck_config_load(CkConfig *self, const gchar *path, gboolean must_exist, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) local_error = NULL;
	g_auto(GStrv) groups = NULL;
	g_autofree gchar *key_type = NULL;
	g_autofree gchar *ca = NULL;
	g_autofree gchar *log_level = NULL;
	g_autofree gchar *state_dir = NULL;

	g_return_val_if_fail(CK_IS_CONFIG(self), FALSE);
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local_error)) {
		if (!must_exist && g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE;
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: file name, then the reason */
			    _("Cannot read the configuration %s: %s"), path, local_error->message);
		return FALSE;
	}
	groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		if (g_strcmp0(groups[i], CK_CONFIG_GROUP_DAEMON) == 0)
			ck_config_warn_unknown_keys(kf, path, groups[i], ck_config_daemon_keys);
		else if (g_strcmp0(groups[i], CK_CONFIG_GROUP_DEFAULTS) == 0)
			ck_config_warn_unknown_keys(kf, path, groups[i], ck_config_defaults_keys);
		else if (!g_str_has_prefix(groups[i], CK_CONFIG_CA_PREFIX))
			g_warning("%s: unknown group [%s]; it is ignored", path, groups[i]);
	}

	state_dir = g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "StateDirectory", NULL);
	if (state_dir != NULL) {
		g_strstrip(state_dir);
		if (!g_path_is_absolute(state_dir)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"StateDirectory", state_dir,
						_("use an absolute path"));
			return FALSE;
		}
		g_free(self->state_dir);
		self->state_dir = g_steal_pointer(&state_dir);
	}
	log_level = g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "LogLevel", NULL);
	if (log_level != NULL) {
		g_strstrip(log_level);
		if (!g_strv_contains(ck_config_log_levels, log_level)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON, "LogLevel",
						log_level,
						_("use error, warning, message, info or debug"));
			return FALSE;
		}
		g_free(self->log_level);
		self->log_level = g_steal_pointer(&log_level);
	}
	key_type = g_key_file_get_string(kf, CK_CONFIG_GROUP_DEFAULTS, "KeyType", NULL);
	if (key_type != NULL) {
		g_autofree gchar *known = g_strjoinv(", ", (gchar **)ck_key_type_all_names());
		g_autofree gchar *allowed = g_strdup_printf(_("use one of %s"), known);
		g_strstrip(key_type);
		if (ck_key_type_from_string(key_type) == CK_KEY_TYPE_UNKNOWN) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DEFAULTS, "KeyType",
						key_type, allowed);
			return FALSE;
		}
		self->key_type = ck_key_type_from_string(key_type);
	}
	ca = g_key_file_get_string(kf, CK_CONFIG_GROUP_DEFAULTS, "CA", NULL);
	if (ca != NULL) {
		g_free(self->ca);
		self->ca = g_strdup(g_strstrip(ca));
	}
	if (!ck_config_get_uint(kf, path, CK_CONFIG_GROUP_DEFAULTS, "ValidityDays", 10, 1, 36500,
				&self->validity_days, error) ||
	    !ck_config_get_uint(kf, path, CK_CONFIG_GROUP_DEFAULTS, "CertificateMode", 8, 0, 0777,
				&self->cert_mode, error) ||
	    !ck_config_get_uint(kf, path, CK_CONFIG_GROUP_DEFAULTS, "KeyMode", 8, 0, 0777,
				&self->key_mode, error))
		return FALSE;
	if ((self->key_mode & 0007) != 0) {
		g_autofree gchar *value = g_strdup_printf("%04o", self->key_mode);
		ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DEFAULTS, "KeyMode", value,
					_("a private key must not be open to every user; use e.g. "
					  "0600 or 0640"));
		return FALSE;
	}
	for (guint i = 0; groups[i] != NULL; i++) {
		if (g_str_has_prefix(groups[i], CK_CONFIG_CA_PREFIX) &&
		    !ck_config_load_ca(self, kf, path, groups[i], error))
			return FALSE;
	}
	return TRUE;
}

const gchar *
ck_config_get_state_dir(CkConfig *self)
{
	return self->state_dir;
}

const gchar *
ck_config_get_log_level(CkConfig *self)
{
	return self->log_level;
}

CkKeyType
ck_config_get_default_key_type(CkConfig *self)
{
	return self->key_type;
}

const gchar *
ck_config_get_default_ca(CkConfig *self)
{
	return self->ca;
}

guint
ck_config_get_default_cert_mode(CkConfig *self)
{
	return self->cert_mode;
}

guint
ck_config_get_default_key_mode(CkConfig *self)
{
	return self->key_mode;
}

guint
ck_config_get_default_validity_days(CkConfig *self)
{
	return self->validity_days;
}

GPtrArray *
ck_config_get_cas(CkConfig *self)
{
	return self->cas;
}

static void
ck_config_finalize(GObject *object)
{
	CkConfig *self = CK_CONFIG(object);
	g_free(self->state_dir);
	g_free(self->log_level);
	g_free(self->ca);
	g_ptr_array_unref(self->cas);
	G_OBJECT_CLASS(ck_config_parent_class)->finalize(object);
}

static void
ck_config_init(CkConfig *self)
{
	self->key_type = CK_KEY_TYPE_DEFAULT;
	self->ca = g_strdup("local");
	self->cert_mode = 0644;
	self->key_mode = 0600;
	self->validity_days = 365;
	self->cas = g_ptr_array_new_with_free_func((GDestroyNotify)ck_ca_config_free);
	/* the built-in CA always exists; [ca local] may tune it */
	g_ptr_array_add(self->cas, ck_ca_config_new_local("local", 0));
}

static void
ck_config_class_init(CkConfigClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ck_config_finalize;
}

CkConfig *
ck_config_new(void)
{
	return g_object_new(CK_TYPE_CONFIG, NULL);
}
