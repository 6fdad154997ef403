/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>

#include "ck-bus-error.h"
#include "ck-bus-options.h"
#include "ck-error.h"
#include "ck-hook.h"
#include "ck-schedule.h"

/* Options that are text stored as it is; "" clears them. */
static const struct {
	const char *name;
	void (*set)(CkRequest *request, const gchar *value);
	gboolean empty_is_null;
} ck_bus_text_options[] = {
    {"cert-file", ck_request_set_cert_file, FALSE},
    {"key-file", ck_request_set_key_file, FALSE},
    {"chain-file", ck_request_set_chain_file, TRUE},
    {"id", ck_request_set_template_id, FALSE},
    {"subject", ck_request_set_subject, FALSE},
    {"ca", ck_request_set_ca, FALSE},
    {"profile", ck_request_set_profile, TRUE},
    {"renew-before", ck_request_set_renew_before, TRUE},
    {"directory", ck_request_set_directory, TRUE},
    {"combined-file", ck_request_set_combined_file, TRUE},
    {"pre-save-command", ck_request_set_pre_save_command, TRUE},
    {"post-save-command", ck_request_set_post_save_command, TRUE},
    {"hook-user", ck_request_set_hook_user, TRUE},
    {"reload-unit", ck_request_set_reload_unit, TRUE},
    {"reload-mode", ck_request_set_reload_mode, TRUE},
    {"pid-file", ck_request_set_pid_file, TRUE},
    {"check-endpoint", ck_request_set_check_endpoint, TRUE},
    {"check-command", ck_request_set_check_command, TRUE},
    {"bootstrap-cert-file", ck_request_set_bootstrap_cert_file, TRUE},
    {"bootstrap-key-file", ck_request_set_bootstrap_key_file, TRUE},
};

/* Options that are lists of text. */
static const struct {
	const char *name;
	void (*set)(CkRequest *request, const gchar *const *value);
} ck_bus_list_options[] = {
    {"dns-names", ck_request_set_dns_names},
    {"ip-addresses", ck_request_set_ip_addresses},
    {"emails", ck_request_set_emails},
    {"uris", ck_request_set_uris},
    {"key-usage", ck_request_set_key_usage},
    {"extended-key-usage", ck_request_set_extended_key_usage},
};

/* Options whose value is parsed. */
typedef enum {
	CK_OPT_KEY_TYPE,
	CK_OPT_KEY_POLICY,
	CK_OPT_VALIDITY,
	CK_OPT_VALIDITY_DAYS,
	CK_OPT_CERT_MODE,
	CK_OPT_KEY_MODE,
	CK_OPT_CERT_OWNER,
	CK_OPT_KEY_OWNER,
	CK_OPT_PID_SIGNAL,
	CK_OPT_AUTO_RENEW,
} CkBusOption;

static const struct {
	const char *name;
	const char *signature;
	CkBusOption option;
} ck_bus_parsed_options[] = {
    {"key-type", "s", CK_OPT_KEY_TYPE},	    {"key-policy", "s", CK_OPT_KEY_POLICY},
    {"validity", "s", CK_OPT_VALIDITY},	    {"validity-days", "u", CK_OPT_VALIDITY_DAYS},
    {"cert-mode", "u", CK_OPT_CERT_MODE},   {"key-mode", "u", CK_OPT_KEY_MODE},
    {"cert-owner", "s", CK_OPT_CERT_OWNER}, {"key-owner", "s", CK_OPT_KEY_OWNER},
    {"pid-signal", "s", CK_OPT_PID_SIGNAL}, {"auto-renew", "b", CK_OPT_AUTO_RENEW},
};

static int
ck_bus_options_invalid(sd_bus_error *error, const char *name, const gchar *reason)
{
	return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT, "%s: %s", name, reason);
}

static int
ck_bus_options_set_owner(CkRequest *request, gboolean cert, const char *name, const char *value,
			 sd_bus_error *error)
{
	CkFileAttrs attrs = cert ? *ck_request_get_cert_attrs(request)
				 : *ck_request_get_key_attrs(request);
	g_autoptr(GError) local_error = NULL;

	if (!ck_file_attrs_set_owner(&attrs, value, &local_error))
		return ck_bus_options_invalid(error, name, local_error->message);
	if (cert)
		ck_request_set_cert_attrs(request, &attrs);
	else
		ck_request_set_key_attrs(request, &attrs);
	return 0;
}

static int
ck_bus_options_set_mode(CkRequest *request, gboolean cert, const char *name, guint32 value,
			sd_bus_error *error)
{
	CkFileAttrs attrs = cert ? *ck_request_get_cert_attrs(request)
				 : *ck_request_get_key_attrs(request);

	if (value > 0777)
		return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
					 _("Option '%s': %o is not a file mode (0 to 0777)"), name,
					 value);
	attrs.mode = value;
	if (cert)
		ck_request_set_cert_attrs(request, &attrs);
	else
		ck_request_set_key_attrs(request, &attrs);
	return 0;
}

/* Reads and applies the value of a parsed option; the variant is entered already. */
static int
ck_bus_options_apply_parsed(sd_bus_message *m, CkRequest *request, CkBusOption option,
			    const char *name, sd_bus_error *error)
{
	g_autoptr(GError) local_error = NULL;
	const char *text = NULL;
	guint32 number = 0;
	int flag = 0;
	int r;

	switch (option) {
	case CK_OPT_VALIDITY_DAYS:
	case CK_OPT_CERT_MODE:
	case CK_OPT_KEY_MODE:
		r = sd_bus_message_read(m, "u", &number);
		break;
	case CK_OPT_AUTO_RENEW:
		r = sd_bus_message_read(m, "b", &flag);
		break;
	default:
		r = sd_bus_message_read(m, "s", &text);
		break;
	}
	if (r < 0)
		return r;

	switch (option) {
	case CK_OPT_KEY_TYPE:
		if (ck_key_type_from_string(text) == CK_KEY_TYPE_UNKNOWN) {
			g_autofree gchar *known =
			    g_strjoinv(", ", (gchar **)ck_key_type_all_names());
			return ck_bus_error_setf(error, CK_ERROR_UNSUPPORTED,
						 _("Unknown key type '%s'; supported key types "
						   "are: %s"),
						 text, known);
		}
		ck_request_set_key_type(request, ck_key_type_from_string(text));
		return 0;
	case CK_OPT_KEY_POLICY:
		if (ck_key_policy_from_string(text) == CK_KEY_POLICY_LAST)
			return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
						 _("Unknown key policy '%s': use new or reuse"),
						 text);
		ck_request_set_key_policy(request, ck_key_policy_from_string(text));
		return 0;
	case CK_OPT_VALIDITY: {
		gint64 seconds = 0;
		if (!ck_duration_parse(text, &seconds, &local_error))
			return ck_bus_options_invalid(error, name, local_error->message);
		ck_request_set_validity(request, seconds);
		return 0;
	}
	case CK_OPT_VALIDITY_DAYS:
		ck_request_set_validity(request, (gint64)number * 86400);
		return 0;
	case CK_OPT_CERT_MODE:
	case CK_OPT_KEY_MODE:
		return ck_bus_options_set_mode(request, option == CK_OPT_CERT_MODE, name, number,
					       error);
	case CK_OPT_CERT_OWNER:
	case CK_OPT_KEY_OWNER:
		return ck_bus_options_set_owner(request, option == CK_OPT_CERT_OWNER, name, text,
						error);
	case CK_OPT_PID_SIGNAL: {
		gint signum = ck_hook_signal_from_string(text);
		if (signum <= 0)
			return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
						 _("'%s' is not a signal (e.g. HUP or USR1)"), text);
		ck_request_set_pid_signal(request, signum);
		return 0;
	}
	case CK_OPT_AUTO_RENEW:
		ck_request_set_auto_renew(request, flag != 0);
		return 0;
	default:
		g_assert_not_reached();
	}
	return 0;
}

/* Reads one {sv} entry into @request; the dict entry is entered already. */
static int
ck_bus_options_read_one(sd_bus_message *m, CkRequest *request, sd_bus_error *error)
{
	const char *name = NULL;
	const char *contents = NULL;
	const char *wanted = NULL;
	int r;

	r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = sd_bus_message_peek_type(m, NULL, &contents);
	if (r < 0)
		return r;
	for (guint i = 0; wanted == NULL && i < G_N_ELEMENTS(ck_bus_text_options); i++) {
		if (strcmp(ck_bus_text_options[i].name, name) == 0)
			wanted = "s";
	}
	for (guint i = 0; wanted == NULL && i < G_N_ELEMENTS(ck_bus_list_options); i++) {
		if (strcmp(ck_bus_list_options[i].name, name) == 0)
			wanted = "as";
	}
	for (guint i = 0; wanted == NULL && i < G_N_ELEMENTS(ck_bus_parsed_options); i++) {
		if (strcmp(ck_bus_parsed_options[i].name, name) == 0)
			wanted = ck_bus_parsed_options[i].signature;
	}
	if (wanted == NULL)
		return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
					 _("Unknown option '%s'"), name);
	if (g_strcmp0(contents, wanted) != 0)
		return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
					 _("Option '%s' must be of type '%s', not '%s'"), name,
					 wanted, contents);
	r = sd_bus_message_enter_container(m, 'v', contents);
	if (r < 0)
		return r;
	for (guint i = 0; i < G_N_ELEMENTS(ck_bus_text_options); i++) {
		const char *value = NULL;
		if (strcmp(ck_bus_text_options[i].name, name) != 0)
			continue;
		r = sd_bus_message_read(m, "s", &value);
		if (r < 0)
			return r;
		if (ck_bus_text_options[i].empty_is_null && value[0] == '\0')
			value = NULL;
		ck_bus_text_options[i].set(request, value);
		return sd_bus_message_exit_container(m);
	}
	for (guint i = 0; i < G_N_ELEMENTS(ck_bus_list_options); i++) {
		g_auto(GStrv) value = NULL;
		if (strcmp(ck_bus_list_options[i].name, name) != 0)
			continue;
		r = sd_bus_message_read_strv(m, &value);
		if (r < 0)
			return r;
		ck_bus_list_options[i].set(request, (const gchar *const *)value);
		return sd_bus_message_exit_container(m);
	}
	for (guint i = 0; i < G_N_ELEMENTS(ck_bus_parsed_options); i++) {
		if (strcmp(ck_bus_parsed_options[i].name, name) != 0)
			continue;
		r = ck_bus_options_apply_parsed(m, request, ck_bus_parsed_options[i].option, name,
						error);
		if (r < 0)
			return r;
		return sd_bus_message_exit_container(m);
	}
	g_assert_not_reached();
	return -EINVAL;
}

int
ck_bus_options_read(sd_bus_message *m, CkRequest *request, sd_bus_error *error)
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = ck_bus_options_read_one(m, request, error);
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}
