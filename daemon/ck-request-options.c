/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-error.h"
#include "ck-hook.h"
#include "ck-request-options.h"
#include "ck-schedule.h"

typedef enum {
	CK_OPT_TEXT,	 /* stored as it is */
	CK_OPT_LIST,	 /* a list of text */
	CK_OPT_KEY_TYPE, /* parsed values ... */
	CK_OPT_KEY_POLICY,
	CK_OPT_VALIDITY,
	CK_OPT_VALIDITY_DAYS,
	CK_OPT_CERT_MODE,
	CK_OPT_KEY_MODE,
	CK_OPT_CERT_OWNER,
	CK_OPT_KEY_OWNER,
	CK_OPT_PID_SIGNAL,
	CK_OPT_AUTO_RENEW,
	CK_OPT_RENEW_BEFORE,
} CkOptionKind;

typedef struct {
	const gchar *name;
	const gchar *type;
	CkOptionKind kind;
	gboolean modifiable;
	/* CK_OPT_TEXT: the setter, and whether "" means "none" */
	void (*set_text)(CkRequest *request, const gchar *value);
	gboolean empty_is_null;
	/* CK_OPT_LIST */
	void (*set_list)(CkRequest *request, const gchar *const *value);
} CkOption;

#define TEXT(n, setter, empty, mod) {n, "s", CK_OPT_TEXT, mod, setter, empty, NULL}
#define LIST(n, setter)		    {n, "as", CK_OPT_LIST, TRUE, NULL, FALSE, setter}
#define PARSED(n, t, kind)	    {n, t, kind, TRUE, NULL, FALSE, NULL}

static const CkOption ck_options[] = {
    TEXT("id", ck_request_set_template_id, FALSE, FALSE),
    TEXT("cert-file", ck_request_set_cert_file, FALSE, FALSE),
    TEXT("key-file", ck_request_set_key_file, FALSE, FALSE),
    TEXT("key-provider", ck_request_set_key_provider, FALSE, FALSE),
    TEXT("directory", ck_request_set_directory, TRUE, FALSE),
    TEXT("chain-file", ck_request_set_chain_file, TRUE, TRUE),
    TEXT("combined-file", ck_request_set_combined_file, TRUE, TRUE),
    TEXT("subject", ck_request_set_subject, FALSE, TRUE),
    TEXT("ca", ck_request_set_ca, FALSE, TRUE),
    TEXT("profile", ck_request_set_profile, TRUE, TRUE),
    TEXT("pre-save-command", ck_request_set_pre_save_command, TRUE, TRUE),
    TEXT("post-save-command", ck_request_set_post_save_command, TRUE, TRUE),
    TEXT("hook-user", ck_request_set_hook_user, TRUE, TRUE),
    TEXT("reload-unit", ck_request_set_reload_unit, TRUE, TRUE),
    TEXT("reload-mode", ck_request_set_reload_mode, TRUE, TRUE),
    TEXT("pid-file", ck_request_set_pid_file, TRUE, TRUE),
    TEXT("check-endpoint", ck_request_set_check_endpoint, TRUE, TRUE),
    TEXT("check-command", ck_request_set_check_command, TRUE, TRUE),
    TEXT("bootstrap-cert-file", ck_request_set_bootstrap_cert_file, TRUE, TRUE),
    TEXT("bootstrap-key-file", ck_request_set_bootstrap_key_file, TRUE, TRUE),
    LIST("dns-names", ck_request_set_dns_names),
    LIST("ip-addresses", ck_request_set_ip_addresses),
    LIST("emails", ck_request_set_emails),
    LIST("uris", ck_request_set_uris),
    LIST("principals", ck_request_set_principals),
    LIST("key-usage", ck_request_set_key_usage),
    LIST("extended-key-usage", ck_request_set_extended_key_usage),
    PARSED("key-type", "s", CK_OPT_KEY_TYPE),
    PARSED("key-policy", "s", CK_OPT_KEY_POLICY),
    PARSED("renew-before", "s", CK_OPT_RENEW_BEFORE),
    PARSED("validity", "s", CK_OPT_VALIDITY),
    PARSED("validity-days", "u", CK_OPT_VALIDITY_DAYS),
    PARSED("cert-mode", "u", CK_OPT_CERT_MODE),
    PARSED("key-mode", "u", CK_OPT_KEY_MODE),
    PARSED("cert-owner", "s", CK_OPT_CERT_OWNER),
    PARSED("key-owner", "s", CK_OPT_KEY_OWNER),
    PARSED("pid-signal", "s", CK_OPT_PID_SIGNAL),
    PARSED("auto-renew", "b", CK_OPT_AUTO_RENEW),
};

static const CkOption *
ck_request_options_find(const gchar *name)
{
	for (guint i = 0; name != NULL && i < G_N_ELEMENTS(ck_options); i++) {
		if (strcmp(ck_options[i].name, name) == 0)
			return &ck_options[i];
	}
	return NULL;
}

const gchar *
ck_request_options_type(const gchar *name)
{
	const CkOption *option = ck_request_options_find(name);
	return option != NULL ? option->type : NULL;
}

gboolean
ck_request_options_is_modifiable(const gchar *name)
{
	const CkOption *option = ck_request_options_find(name);
	return option != NULL && option->modifiable;
}

const gchar *const *
ck_request_options_names(void)
{
	static const gchar *names[G_N_ELEMENTS(ck_options) + 1];
	if (names[0] == NULL) {
		for (guint i = 0; i < G_N_ELEMENTS(ck_options); i++)
			names[i] = ck_options[i].name;
	}
	return names;
}

static gboolean
ck_request_options_invalid(GError **error, const gchar *name, const gchar *reason)
{
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, "%s: %s", name, reason);
	return FALSE;
}

static gboolean
ck_request_options_set_attrs(CkRequest *request, gboolean cert, const gchar *owner, gint mode,
			     const gchar *name, GError **error)
{
	CkFileAttrs attrs = cert ? *ck_request_get_cert_attrs(request)
				 : *ck_request_get_key_attrs(request);
	g_autoptr(GError) local_error = NULL;

	if (owner != NULL && !ck_file_attrs_set_owner(&attrs, owner, &local_error))
		return ck_request_options_invalid(error, name, local_error->message);
	if (mode >= 0) {
		if (mode > 0777) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Option '%s': %o is not a file mode (0 to 0777)"), name,
				    (guint)mode);
			return FALSE;
		}
		attrs.mode = (guint)mode;
	}
	if (cert)
		ck_request_set_cert_attrs(request, &attrs);
	else
		ck_request_set_key_attrs(request, &attrs);
	return TRUE;
}

gboolean
ck_request_options_apply(CkRequest *request, const gchar *name, GVariant *value, GError **error)
{
	const CkOption *option = ck_request_options_find(name);
	const gchar *text = NULL;
	g_autoptr(GError) local_error = NULL;

	if (option == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, _("Unknown option '%s'"),
			    name);
		return FALSE;
	}
	if (!g_variant_is_of_type(value, G_VARIANT_TYPE(option->type))) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Option '%s' must be of type '%s', not '%s'"), name, option->type,
			    g_variant_get_type_string(value));
		return FALSE;
	}
	if (g_strcmp0(option->type, "s") == 0)
		text = g_variant_get_string(value, NULL);

	switch (option->kind) {
	case CK_OPT_TEXT:
		option->set_text(request,
				 option->empty_is_null && text[0] == '\0' ? NULL : text);
		return TRUE;
	case CK_OPT_LIST: {
		g_autofree const gchar **strv = g_variant_get_strv(value, NULL);
		option->set_list(request, strv);
		return TRUE;
	}
	case CK_OPT_KEY_TYPE:
		if (ck_key_type_from_string(text) == CK_KEY_TYPE_UNKNOWN) {
			g_autofree gchar *known =
			    g_strjoinv(", ", (gchar **)ck_key_type_all_names());
			guint64 bits = 0;
			/* "rsa-1024", "rsa:8192", "rsa1024": a size, not a name, is wrong */
			if (g_ascii_strncasecmp(text, "rsa", 3) == 0 &&
			    g_ascii_string_to_unsigned(text + 3 + (text[3] == '-' || text[3] == ':'),
						       10, 0, G_MAXUINT32, &bits, NULL)) {
				g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
					    _("Option 'key-type': an RSA key of %u bits is out of "
					      "range; use 2048, 3072 or 4096"),
					    (guint)bits);
				return FALSE;
			}
			g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
				    _("Option 'key-type': unknown key type '%s'; supported key "
				      "types are: %s"),
				    text, known);
			return FALSE;
		}
		ck_request_set_key_type(request, ck_key_type_from_string(text));
		return TRUE;
	case CK_OPT_KEY_POLICY:
		if (ck_key_policy_from_string(text) == CK_KEY_POLICY_LAST) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Option 'key-policy': unknown key policy '%s'; use new or reuse"),
				    text);
			return FALSE;
		}
		ck_request_set_key_policy(request, ck_key_policy_from_string(text));
		return TRUE;
	case CK_OPT_RENEW_BEFORE: {
		CkThreshold threshold;
		if (!ck_threshold_parse(text, &threshold, &local_error))
			return ck_request_options_invalid(error, name, local_error->message);
		ck_request_set_renew_before(request, text);
		return TRUE;
	}
	case CK_OPT_VALIDITY: {
		gint64 seconds = 0;
		if (!ck_duration_parse(text, &seconds, &local_error))
			return ck_request_options_invalid(error, name, local_error->message);
		ck_request_set_validity(request, seconds);
		return TRUE;
	}
	case CK_OPT_VALIDITY_DAYS:
		ck_request_set_validity(request, (gint64)g_variant_get_uint32(value) * 86400);
		return TRUE;
	case CK_OPT_CERT_MODE:
	case CK_OPT_KEY_MODE: {
		/* clamped into a gint, still out of range: the check says so */
		gint mode = (gint)MIN(g_variant_get_uint32(value), 07777 + 1);
		return ck_request_options_set_attrs(request, option->kind == CK_OPT_CERT_MODE,
						    NULL, mode, name, error);
	}
	case CK_OPT_CERT_OWNER:
	case CK_OPT_KEY_OWNER:
		return ck_request_options_set_attrs(request, option->kind == CK_OPT_CERT_OWNER,
						    text, -1, name, error);
	case CK_OPT_PID_SIGNAL: {
		gint signum = ck_hook_signal_from_string(text);
		if (signum <= 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Option 'pid-signal': '%s' is not a signal (e.g. HUP or USR1)"),
				    text);
			return FALSE;
		}
		ck_request_set_pid_signal(request, signum);
		return TRUE;
	}
	case CK_OPT_AUTO_RENEW:
		ck_request_set_auto_renew(request, g_variant_get_boolean(value));
		return TRUE;
	default:
		break;
	}
	g_assert_not_reached();
	return FALSE;
}
