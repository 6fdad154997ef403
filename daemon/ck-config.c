/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-ca-protocol.h"
#include "ck-config.h"
#include "ck-error.h"

#define CK_CONFIG_GROUP_DAEMON	 "certkeeperd"
#define CK_CONFIG_GROUP_DEFAULTS "defaults"
#define CK_CONFIG_GROUP_RENEWAL	 "renewal"
#define CK_CONFIG_CA_PREFIX	 "ca "

struct _CkConfig {
	GObject parent_instance;
	gchar *state_dir;
	gchar *log_level;
	CkAuditConfig audit;
	gchar *tpm_tcti;
	CkKeyType key_type;
	gchar *ca;
	guint cert_mode;
	guint key_mode;
	guint validity_days;
	GPtrArray *cas; /* CkCaConfig */
	CkLifecycleConfig lifecycle;
};

G_DEFINE_TYPE(CkConfig, ck_config, G_TYPE_OBJECT)

void
ck_ca_config_free(CkCaConfig *ca)
{
	g_free(ca->name);
	g_free(ca->type);
	g_free(ca->helper);
	g_hash_table_unref(ca->settings);
	g_free(ca->roots_file);
	g_free(ca);
}

CkCaConfig *
ck_ca_config_new(const gchar *name, const gchar *type)
{
	CkCaConfig *ca = g_new0(CkCaConfig, 1);
	ca->name = g_strdup(name);
	ca->type = g_strdup(type);
	ca->timeout = 60;
	ca->settings = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	return ca;
}

CkCaConfig *
ck_ca_config_copy(const CkCaConfig *ca)
{
	CkCaConfig *copy = ck_ca_config_new(ca->name, ca->type);
	GHashTableIter iter;
	gpointer key, value;

	copy->helper = g_strdup(ca->helper);
	copy->timeout = ca->timeout;
	copy->validity_days = ca->validity_days;
	copy->roots_file = g_strdup(ca->roots_file);
	g_hash_table_iter_init(&iter, ca->settings);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_hash_table_insert(copy->settings, g_strdup(key), g_strdup(value));
	return copy;
}

static gboolean
ck_ca_config_settings_equal(GHashTable *a, GHashTable *b)
{
	GHashTableIter iter;
	gpointer key, value;

	if (g_hash_table_size(a) != g_hash_table_size(b))
		return FALSE;
	g_hash_table_iter_init(&iter, a);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		if (g_strcmp0(value, g_hash_table_lookup(b, key)) != 0)
			return FALSE;
	}
	return TRUE;
}

gboolean
ck_ca_config_equal(const CkCaConfig *a, const CkCaConfig *b)
{
	return g_strcmp0(a->name, b->name) == 0 && g_strcmp0(a->type, b->type) == 0 &&
	       g_strcmp0(a->helper, b->helper) == 0 && a->timeout == b->timeout &&
	       a->validity_days == b->validity_days && g_strcmp0(a->roots_file, b->roots_file) == 0 &&
	       ck_ca_config_settings_equal(a->settings, b->settings);
}

gboolean
ck_ca_config_check(const CkCaConfig *ca, GError **error)
{
	const CkCaProtocol *protocol = ck_ca_protocol_find(ca->type);

	if (g_strcmp0(ca->type, "local") != 0 && g_strcmp0(ca->type, "helper") != 0 &&
	    protocol == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the CA name, the type, then the known types */
			    _("CA '%s' has an unknown type '%s': use %s"), ca->name,
			    ca->type != NULL ? ca->type : "", ck_ca_protocol_type_names());
		return FALSE;
	}
	if (g_strcmp0(ca->type, "helper") == 0 &&
	    (ca->helper == NULL || g_strstrip(ca->helper)[0] == '\0')) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CA '%s' is a helper CA without Helper=: name the program to run"),
			    ca->name);
		return FALSE;
	}
	if (protocol != NULL && ca->helper != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CA '%s' of type %s runs certkeeper's own helper; give its settings "
			      "instead of a helper command, or use type helper"),
			    ca->name, ca->type);
		return FALSE;
	}
	if (protocol == NULL && g_hash_table_size(ca->settings) > 0) {
		GHashTableIter iter;
		gpointer key;
		g_hash_table_iter_init(&iter, ca->settings);
		g_hash_table_iter_next(&iter, &key, NULL);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s does not apply to a CA of type %s"), (const gchar *)key, ca->type);
		return FALSE;
	}
	if (protocol != NULL && !ck_ca_protocol_check_settings(protocol, ca->settings, error)) {
		g_prefix_error(error, _("CA '%s': "), ca->name);
		return FALSE;
	}
	if (ca->roots_file != NULL && !g_path_is_absolute(ca->roots_file)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CA '%s': RootsFile='%s' must be an absolute path"), ca->name,
			    ca->roots_file);
		return FALSE;
	}
	return TRUE;
}

static CkCaConfig *
ck_ca_config_new_local(const gchar *name, guint validity_days)
{
	CkCaConfig *ca = ck_ca_config_new(name, "local");
	ca->validity_days = validity_days;
	return ca;
}

static const gchar *const ck_config_daemon_keys[] = {"StateDirectory",
						     "LogLevel",
						     "MaxParallelKeyGenerations",
						     "MaxParallelSubmissions",
						     "TimeSyncFile",
						     "PolicyDirectory",
						     "RequestsDirectory",
						     "HelperDirectory",
						     "AuditLog",
						     "AuditLogMaxSize",
						     "AuditLogRotate",
						     "Pkcs11Module",
						     "Pkcs11StoreCertificates",
						     "MetricsDirectory",
						     "TpmTcti",
						     NULL};
static const gchar *const ck_config_renewal_keys[] = {
    "RenewBefore",  "RenewJitterMax", "RetryDelay",  "RetryDelayMax", "MaxAttempts",
    "KeyPolicy",    "KeepPrevious",   "HookTimeout", "CheckTimeout",  "ExpiringBefore",
    NULL};
static const gchar *const ck_config_defaults_keys[] = {
    "KeyType", "CA", "ValidityDays", "CertificateMode", "KeyMode", NULL};
static const gchar *const ck_config_ca_keys[] = {"Type",    "ValidityDays", "Helper",
						 "Timeout", "RootsFile",    NULL};
/* certkeeperd's own names first, then syslog's (those of org.freedesktop.LogControl1) */
static const gchar *const ck_config_log_levels[] = {
    "error", "warning", "message", "info",   "debug", "emerg",
    "alert", "crit",	"err",	   "notice", NULL};

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

/* Reads a size in bytes, with an optional K, M or G (powers of 1024); untouched when absent. */
static gboolean
ck_config_get_size(GKeyFile *kf, const gchar *path, const gchar *group, const gchar *key,
		   guint64 min, guint64 *out, GError **error)
{
	g_autofree gchar *value = g_key_file_get_string(kf, group, key, NULL);
	g_autofree gchar *digits = NULL;
	guint64 factor = 1, parsed;
	gsize len;

	if (value == NULL)
		return TRUE;
	g_strstrip(value);
	len = strlen(value);
	if (len > 0 && strchr("KkMmGg", value[len - 1]) != NULL) {
		gchar unit = g_ascii_toupper(value[len - 1]);
		factor = unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1024 * 1024 * 1024;
		len--;
	}
	digits = g_strndup(value, len);
	if (!g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT64 / factor, &parsed, NULL) ||
	    parsed * factor < min) {
		g_autofree gchar *allowed = g_strdup_printf(
		    /* TRANSLATORS: the placeholder is the smallest size in bytes */
		    _("use a size of at least %llu bytes, e.g. 10M (K, M and G are powers of 1024)"),
		    (unsigned long long)min);
		ck_config_set_bad_value(error, path, group, key, value, allowed);
		return FALSE;
	}
	*out = parsed * factor;
	return TRUE;
}

/* [certkeeperd] AuditLog, AuditLogMaxSize, AuditLogRotate. */
static gboolean
ck_config_load_audit(CkConfig *self, GKeyFile *kf, const gchar *path, GError **error)
{
	g_autofree gchar *log = g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "AuditLog", NULL);

	if (log != NULL) {
		g_strstrip(log);
		if (g_strcmp0(log, "none") != 0 && !g_path_is_absolute(log)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON, "AuditLog",
						log,
						_("use an absolute path, or none to keep no audit "
						  "log"));
			return FALSE;
		}
		g_free(self->audit.path);
		self->audit.path = g_steal_pointer(&log);
	}
	/* a cap below a few lines would rotate at every event */
	return ck_config_get_size(kf, path, CK_CONFIG_GROUP_DAEMON, "AuditLogMaxSize", 4096,
				  &self->audit.max_size, error) &&
	       ck_config_get_uint(kf, path, CK_CONFIG_GROUP_DAEMON, "AuditLogRotate", 10, 0, 100,
				  &self->audit.rotate, error);
}

/* Whether @key is a setting of any protocol. */
static gboolean
ck_config_is_protocol_setting(const gchar *key)
{
	for (const CkCaProtocol *p = ck_ca_protocol_list(); p->type != NULL; p++) {
		if (ck_ca_protocol_find_setting(p, key, FALSE) != NULL)
			return TRUE;
	}
	return FALSE;
}

static gboolean
ck_config_load_ca(CkConfig *self, GKeyFile *kf, const gchar *path, const gchar *group,
		  GError **error)
{
	const gchar *name = group + strlen(CK_CONFIG_CA_PREFIX);
	g_autofree gchar *type = g_key_file_get_string(kf, group, "Type", NULL);
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	const CkCaProtocol *protocol;
	g_autoptr(CkCaConfig) parsed = NULL;
	g_autoptr(GError) local_error = NULL;
	CkCaConfig *ca;

	if (name[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: [%s] needs a CA name, e.g. [ca example]"), path, group);
		return FALSE;
	}
	if (type == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: [%s] has no Type: use Type=%s"), path, group,
			    ck_ca_protocol_type_names());
		return FALSE;
	}
	g_strstrip(type);
	protocol = ck_ca_protocol_find(type);
	if (g_strcmp0(type, "local") != 0 && g_strcmp0(type, "helper") != 0 && protocol == NULL) {
		g_autofree gchar *allowed = g_strdup_printf(_("use %s"), ck_ca_protocol_type_names());
		ck_config_set_bad_value(error, path, group, "Type", type, allowed);
		return FALSE;
	}
	if (g_strcmp0(name, "local") == 0 && g_strcmp0(type, "local") != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: [%s] is the built-in local CA and must keep Type=local; give "
			      "the other CA another name"),
			    path, group);
		return FALSE;
	}
	parsed = ck_ca_config_new(name, type);
	parsed->timeout = 60;
	/* the protocol's own settings; any other key is unknown and warned about */
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		g_autofree gchar *value = NULL;
		if (g_strv_contains(ck_config_ca_keys, keys[i]))
			continue;
		if (!ck_config_is_protocol_setting(keys[i])) {
			g_warning("%s: [%s] has an unknown key %s; it is ignored", path, group,
				  keys[i]);
			continue;
		}
		/* another protocol's setting is kept, for ck_ca_config_check() to refuse:
		 * it is a mistake in the type or the key, not a typo to skip */
		value = g_key_file_get_string(kf, group, keys[i], NULL);
		g_hash_table_insert(parsed->settings, g_strdup(keys[i]),
				    g_strdup(value != NULL ? g_strstrip(value) : ""));
	}
	if (!ck_config_get_uint(kf, path, group, "ValidityDays", 10, 0, 36500,
				&parsed->validity_days, error) ||
	    !ck_config_get_uint(kf, path, group, "Timeout", 10, 1, 3600, &parsed->timeout, error))
		return FALSE;
	parsed->helper = g_key_file_get_string(kf, group, "Helper", NULL);
	if (parsed->helper != NULL && g_strcmp0(type, "helper") != 0 && protocol == NULL) {
		g_warning("%s: [%s] Helper= applies to helper CAs only; it is ignored", path,
			  group);
		g_clear_pointer(&parsed->helper, g_free);
	}
	parsed->roots_file = g_key_file_get_string(kf, group, "RootsFile", NULL);
	if (parsed->roots_file != NULL)
		g_strstrip(parsed->roots_file);
	if (!ck_ca_config_check(parsed, &local_error)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, "%s: [%s] %s", path, group,
			    local_error->message);
		return FALSE;
	}
	/* [ca local] only tunes the built-in CA, which already exists */
	for (guint i = 0; i < self->cas->len; i++) {
		ca = g_ptr_array_index(self->cas, i);
		if (g_strcmp0(ca->name, name) == 0) {
			g_ptr_array_index(self->cas, i) = g_steal_pointer(&parsed);
			ck_ca_config_free(ca);
			return TRUE;
		}
	}
	g_ptr_array_add(self->cas, g_steal_pointer(&parsed));
	return TRUE;
}

/* Reads a duration within [min, max] seconds; TRUE and untouched when absent. */
static gboolean
ck_config_get_duration(GKeyFile *kf, const gchar *path, const gchar *group, const gchar *key,
		       gint64 min, gint64 max, gint64 *out, GError **error)
{
	g_autofree gchar *value = g_key_file_get_string(kf, group, key, NULL);
	g_autoptr(GError) local_error = NULL;
	gint64 seconds = 0;

	if (value == NULL)
		return TRUE;
	g_strstrip(value);
	if (!ck_duration_parse(value, &seconds, &local_error)) {
		ck_config_set_bad_value(error, path, group, key, value, local_error->message);
		return FALSE;
	}
	if (seconds < min || seconds > max) {
		g_autofree gchar *lo = ck_duration_to_string(min);
		g_autofree gchar *hi = ck_duration_to_string(max);
		g_autofree gchar *allowed = g_strdup_printf(_("use a duration from %s to %s"), lo, hi);
		ck_config_set_bad_value(error, path, group, key, value, allowed);
		return FALSE;
	}
	*out = seconds;
	return TRUE;
}

static gboolean
ck_config_load_lifecycle(CkConfig *self, GKeyFile *kf, const gchar *path, GError **error)
{
	CkLifecycleConfig *lc = &self->lifecycle;
	const gchar *group = CK_CONFIG_GROUP_RENEWAL;
	g_autofree gchar *threshold = g_key_file_get_string(kf, group, "RenewBefore", NULL);
	g_autofree gchar *key_policy = g_key_file_get_string(kf, group, "KeyPolicy", NULL);
	g_autofree gchar *sync_file =
	    g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "TimeSyncFile", NULL);
	g_autofree gchar *pkcs11_module =
	    g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "Pkcs11Module", NULL);
	g_autofree gchar *policy_dir =
	    g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "PolicyDirectory", NULL);
	g_autofree gchar *requests_dir =
	    g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "RequestsDirectory", NULL);
	g_autofree gchar *helper_dir =
	    g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "HelperDirectory", NULL);
	g_autofree gchar *metrics_dir =
	    g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "MetricsDirectory", NULL);
	guint hook = lc->hook_timeout, check = lc->check_timeout;

	if (threshold != NULL) {
		g_autoptr(GError) local_error = NULL;
		g_strstrip(threshold);
		if (!ck_threshold_parse(threshold, &lc->renew_before, &local_error)) {
			ck_config_set_bad_value(error, path, group, "RenewBefore", threshold,
						local_error->message);
			return FALSE;
		}
	}
	if (key_policy != NULL) {
		g_strstrip(key_policy);
		lc->key_policy = ck_key_policy_from_string(key_policy);
		if (lc->key_policy == CK_KEY_POLICY_LAST) {
			ck_config_set_bad_value(error, path, group, "KeyPolicy", key_policy,
						_("use new or reuse"));
			return FALSE;
		}
	}
	if (!ck_config_get_duration(kf, path, group, "RenewJitterMax", 0, 30 * 86400,
				    &lc->jitter_max, error) ||
	    !ck_config_get_duration(kf, path, group, "ExpiringBefore", 0, 3650 * 86400,
				    &lc->expiring_before, error) ||
	    !ck_config_get_duration(kf, path, group, "RetryDelay", 1, 86400, &lc->backoff.base,
				    error) ||
	    !ck_config_get_duration(kf, path, group, "RetryDelayMax", 1, 30 * 86400,
				    &lc->backoff.cap, error) ||
	    !ck_config_get_uint(kf, path, group, "MaxAttempts", 10, 0, 1000000,
				&lc->backoff.max_attempts, error) ||
	    !ck_config_get_duration(kf, path, group, "KeepPrevious", 0, 365 * 86400,
				    &lc->keep_previous, error) ||
	    !ck_config_get_uint(kf, path, group, "HookTimeout", 10, 1, 3600, &hook, error) ||
	    !ck_config_get_uint(kf, path, group, "CheckTimeout", 10, 1, 3600, &check, error) ||
	    !ck_config_get_uint(kf, path, CK_CONFIG_GROUP_DAEMON, "MaxParallelKeyGenerations", 10,
				0, 1024, &lc->max_parallel_keys, error) ||
	    !ck_config_get_uint(kf, path, CK_CONFIG_GROUP_DAEMON, "MaxParallelSubmissions", 10, 1,
				1024, &lc->max_parallel_submissions, error))
		return FALSE;
	if (lc->backoff.cap < lc->backoff.base) {
		g_autofree gchar *value = ck_duration_to_string(lc->backoff.cap);
		ck_config_set_bad_value(error, path, group, "RetryDelayMax", value,
					_("it must not be shorter than RetryDelay"));
		return FALSE;
	}
	lc->hook_timeout = hook;
	lc->check_timeout = check;
	if (sync_file != NULL) {
		g_strstrip(sync_file);
		if (sync_file[0] != '\0' && !g_path_is_absolute(sync_file)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"TimeSyncFile", sync_file,
						_("use an absolute path"));
			return FALSE;
		}
		g_free(lc->time_sync_file);
		lc->time_sync_file = g_steal_pointer(&sync_file);
	}
	lc->pkcs11_store_certificates = FALSE;
	if (g_key_file_has_key(kf, CK_CONFIG_GROUP_DAEMON, "Pkcs11StoreCertificates", NULL)) {
		g_autoptr(GError) bool_error = NULL;
		gboolean store = g_key_file_get_boolean(kf, CK_CONFIG_GROUP_DAEMON,
							"Pkcs11StoreCertificates", &bool_error);
		if (bool_error != NULL) {
			g_autofree gchar *value = g_key_file_get_string(
			    kf, CK_CONFIG_GROUP_DAEMON, "Pkcs11StoreCertificates", NULL);
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"Pkcs11StoreCertificates", value,
						_("use true or false"));
			return FALSE;
		}
		lc->pkcs11_store_certificates = store;
	}
	if (pkcs11_module != NULL) {
		g_strstrip(pkcs11_module);
		if (pkcs11_module[0] != '\0' && !g_path_is_absolute(pkcs11_module)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"Pkcs11Module", pkcs11_module,
						_("use an absolute path"));
			return FALSE;
		}
		g_free(lc->pkcs11_module);
		lc->pkcs11_module = pkcs11_module[0] != '\0' ? g_steal_pointer(&pkcs11_module) : NULL;
	}
	if (policy_dir != NULL) {
		g_strstrip(policy_dir);
		if (!g_path_is_absolute(policy_dir)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"PolicyDirectory", policy_dir,
						_("use an absolute path"));
			return FALSE;
		}
		g_free(lc->policy_dir);
		lc->policy_dir = g_steal_pointer(&policy_dir);
	}
	if (requests_dir != NULL) {
		g_strstrip(requests_dir);
		if (!g_path_is_absolute(requests_dir)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"RequestsDirectory", requests_dir,
						_("use an absolute path"));
			return FALSE;
		}
		g_free(lc->requests_dir);
		lc->requests_dir = g_steal_pointer(&requests_dir);
	}
	if (helper_dir != NULL) {
		g_strstrip(helper_dir);
		if (!g_path_is_absolute(helper_dir)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"HelperDirectory", helper_dir,
						_("use an absolute path"));
			return FALSE;
		}
		g_free(lc->helper_dir);
		lc->helper_dir = g_steal_pointer(&helper_dir);
	}
	if (metrics_dir != NULL) {
		g_strstrip(metrics_dir);
		/* empty: no metrics file (the default) */
		if (metrics_dir[0] != '\0' && !g_path_is_absolute(metrics_dir)) {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON,
						"MetricsDirectory", metrics_dir,
						_("use an absolute path, e.g. "
						  "/var/lib/prometheus/node-exporter"));
			return FALSE;
		}
		g_free(lc->metrics_dir);
		lc->metrics_dir = metrics_dir[0] != '\0' ? g_steal_pointer(&metrics_dir) : NULL;
	}
	return TRUE;
}

const CkLifecycleConfig *
ck_config_get_lifecycle(CkConfig *self)
{
	return &self->lifecycle;
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
	g_autofree gchar *tpm_tcti = NULL;
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
		else if (g_strcmp0(groups[i], CK_CONFIG_GROUP_RENEWAL) == 0)
			ck_config_warn_unknown_keys(kf, path, groups[i], ck_config_renewal_keys);
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
						_("use error, warning, message, info or debug, "
						  "or a syslog level: emerg, alert, crit, err, "
						  "notice"));
			return FALSE;
		}
		g_free(self->log_level);
		self->log_level = g_steal_pointer(&log_level);
	}
	tpm_tcti = g_key_file_get_string(kf, CK_CONFIG_GROUP_DAEMON, "TpmTcti", NULL);
	if (tpm_tcti != NULL) {
		g_strstrip(tpm_tcti);
		if (tpm_tcti[0] == '\0' || tpm_tcti[0] == ':') {
			ck_config_set_bad_value(error, path, CK_CONFIG_GROUP_DAEMON, "TpmTcti",
						tpm_tcti,
						_("use a tpm2-tss TCTI string such as "
						  "device:/dev/tpmrm0 or swtpm:path=SOCKET"));
			return FALSE;
		}
		g_free(self->tpm_tcti);
		self->tpm_tcti = g_steal_pointer(&tpm_tcti);
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
	if (!ck_config_load_lifecycle(self, kf, path, error) ||
	    !ck_config_load_audit(self, kf, path, error))
		return FALSE;
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

const CkAuditConfig *
ck_config_get_audit(CkConfig *self)
{
	return &self->audit;
}

const gchar *
ck_config_get_tpm_tcti(CkConfig *self)
{
	return self->tpm_tcti != NULL ? self->tpm_tcti : "device:/dev/tpmrm0";
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
	g_free(self->audit.path);
	g_free(self->tpm_tcti);
	g_free(self->ca);
	g_ptr_array_unref(self->cas);
	g_free(self->lifecycle.time_sync_file);
	g_free(self->lifecycle.policy_dir);
	g_free(self->lifecycle.requests_dir);
	g_free(self->lifecycle.helper_dir);
	g_free(self->lifecycle.pkcs11_module);
	g_free(self->lifecycle.metrics_dir);
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
	self->audit.max_size = 10 * 1024 * 1024;
	self->audit.rotate = 5;
	self->cas = g_ptr_array_new_with_free_func((GDestroyNotify)ck_ca_config_free);
	self->lifecycle.renew_before.kind = CK_THRESHOLD_DEFAULT;
	self->lifecycle.jitter_max = 86400;
	self->lifecycle.backoff.base = CK_BACKOFF_DEFAULT_BASE;
	self->lifecycle.backoff.cap = CK_BACKOFF_DEFAULT_CAP;
	self->lifecycle.backoff.max_attempts = 0;
	self->lifecycle.key_policy = CK_KEY_POLICY_NEW;
	self->lifecycle.keep_previous = 7 * 86400;
	self->lifecycle.hook_timeout = 120;
	self->lifecycle.check_timeout = 30;
	self->lifecycle.max_parallel_keys = 0;
	self->lifecycle.max_parallel_submissions = 8;
	self->lifecycle.time_sync_file = g_strdup("/run/systemd/timesync/synchronized");
	self->lifecycle.policy_dir = g_strdup(CK_SYSCONFDIR "/policy.d");
	self->lifecycle.requests_dir = g_strdup(CK_SYSCONFDIR "/requests.d");
	self->lifecycle.helper_dir = g_strdup(CK_LIBEXECDIR);
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
