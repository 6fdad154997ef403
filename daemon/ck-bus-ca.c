/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.certkeeper.CA1: one object per CA back end. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>

#include "ck-bus-error.h"
#include "ck-bus-private.h"
#include "ck-ca-helper.h"
#include "ck-ca-protocol.h"
#include "ck-error.h"

const char *const ck_bus_ca_changing_properties[] = {
    "Type",
    "Helper",
    "Timeout",
    "ValidityDays",
    "IssuerNames",
    "RootCertificates",
    "Error",
    "Identity",
    "SupportedTemplates",
    "DefaultTemplate",
    "NewRequestRequirements",
    "RenewRequestRequirements",
    "CSRAttributes",
    "Settings",
    "RootsFile",
    NULL};

/* Settings: option name -> value, in the protocol's order. */
static int
ck_bus_ca_append_settings(sd_bus_message *reply, const CkCaConfig *cfg)
{
	const CkCaProtocol *protocol = cfg != NULL ? ck_ca_protocol_find(cfg->type) : NULL;
	int r = sd_bus_message_open_container(reply, 'a', "{ss}");

	for (const CkCaSetting *s = protocol != NULL ? protocol->settings : NULL;
	     r >= 0 && s != NULL && s->key != NULL; s++) {
		const gchar *value = g_hash_table_lookup(cfg->settings, s->key);
		if (value != NULL)
			r = sd_bus_message_append(reply, "{ss}", s->option, value);
	}
	return r < 0 ? r : sd_bus_message_close_container(reply);
}

static int
ck_bus_ca_get_property(sd_bus *bus, const char *path, const char *interface,
		       const char *property, sd_bus_message *reply, void *userdata,
		       sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkCa *ca = ck_bus_ca_from_path(self, path, error);
	const CkCaConfig *cfg;

	if (ca == NULL)
		return -ENOENT;
	cfg = ck_engine_get_ca_config(self->engine, ck_ca_get_name(ca));
	if (strcmp(property, "Name") == 0)
		return sd_bus_message_append(reply, "s", ck_ca_get_name(ca));
	if (strcmp(property, "Type") == 0)
		return sd_bus_message_append(reply, "s", ck_ca_get_kind(ca));
	if (strcmp(property, "Helper") == 0)
		return sd_bus_message_append(reply, "s",
					     CK_IS_CA_HELPER(ca)
						 ? ck_ca_helper_get_command(CK_CA_HELPER(ca))
						 : "");
	if (strcmp(property, "Timeout") == 0)
		return sd_bus_message_append(reply, "u", cfg != NULL ? cfg->timeout : 0);
	if (strcmp(property, "ValidityDays") == 0)
		return sd_bus_message_append(reply, "u", cfg != NULL ? cfg->validity_days : 0);
	if (strcmp(property, "Configured") == 0)
		return sd_bus_message_append(
		    reply, "b", (int)ck_engine_ca_is_configured(self->engine, ck_ca_get_name(ca)));
	if (strcmp(property, "IssuerNames") == 0) {
		g_auto(GStrv) names = ck_ca_get_issuer_names(ca);
		return sd_bus_message_append_strv(reply, names);
	}
	if (strcmp(property, "RootCertificates") == 0) {
		g_auto(GStrv) roots = ck_ca_get_root_list(ca);
		return sd_bus_message_append_strv(reply, roots);
	}
	if (strcmp(property, "Error") == 0)
		return sd_bus_message_append(reply, "s", ck_ca_get_error(ca));
	if (strcmp(property, "Identity") == 0)
		return sd_bus_message_append(reply, "s", ck_ca_get_identity(ca));
	if (strcmp(property, "SupportedTemplates") == 0)
		return sd_bus_message_append_strv(reply, (char **)ck_ca_get_templates(ca));
	if (strcmp(property, "DefaultTemplate") == 0)
		return sd_bus_message_append(reply, "s", ck_ca_get_default_template(ca));
	if (strcmp(property, "NewRequestRequirements") == 0)
		return sd_bus_message_append_strv(reply, (char **)ck_ca_get_requirements(ca, FALSE));
	if (strcmp(property, "RenewRequestRequirements") == 0)
		return sd_bus_message_append_strv(reply, (char **)ck_ca_get_requirements(ca, TRUE));
	if (strcmp(property, "CSRAttributes") == 0) {
		g_auto(GStrv) lines = ck_ca_csr_attributes_describe(ck_ca_get_csr_attributes(ca));
		return sd_bus_message_append_strv(reply, lines);
	}
	if (strcmp(property, "RootsFile") == 0)
		return sd_bus_message_append(reply, "s",
					     cfg != NULL && cfg->roots_file != NULL ? cfg->roots_file
										    : "");
	if (strcmp(property, "Settings") == 0)
		return ck_bus_ca_append_settings(reply, cfg);
	return ck_bus_error_setf(error, CK_ERROR_NOT_FOUND, _("No property '%s'"), property);
}

static int
ck_bus_ca_method_refresh(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkCa *ca = ck_bus_ca_from_path(self, sd_bus_message_get_path(m), error);

	if (ca == NULL)
		return -ENOENT;
	/* asks the CA what it publishes; the answer comes as PropertiesChanged */
	ck_engine_refresh_ca(self->engine, ca);
	return sd_bus_reply_method_return(m, NULL);
}

#define CK_PROPERTY(name, sig)                                                                     \
	SD_BUS_PROPERTY(name, sig, ck_bus_ca_get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

const sd_bus_vtable ck_bus_ca_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Name", "s", ck_bus_ca_get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_PROPERTY("Configured", "b", ck_bus_ca_get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    CK_PROPERTY("Type", "s"),
    CK_PROPERTY("Helper", "s"),
    CK_PROPERTY("Timeout", "u"),
    CK_PROPERTY("ValidityDays", "u"),
    CK_PROPERTY("IssuerNames", "as"),
    CK_PROPERTY("RootCertificates", "as"),
    CK_PROPERTY("Error", "s"),
    CK_PROPERTY("Identity", "s"),
    CK_PROPERTY("SupportedTemplates", "as"),
    CK_PROPERTY("DefaultTemplate", "s"),
    CK_PROPERTY("NewRequestRequirements", "as"),
    CK_PROPERTY("RenewRequestRequirements", "as"),
    CK_PROPERTY("CSRAttributes", "as"),
    CK_PROPERTY("Settings", "a{ss}"),
    CK_PROPERTY("RootsFile", "s"),
    SD_BUS_METHOD_WITH_ARGS("Refresh", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, ck_bus_ca_method_refresh,
			    SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* A protocol setting by its option name; the same name means the same key in every protocol. */
static const CkCaSetting *
ck_bus_ca_find_setting(const char *option)
{
	for (const CkCaProtocol *p = ck_ca_protocol_list(); p->type != NULL; p++) {
		const CkCaSetting *setting = ck_ca_protocol_find_setting(p, option, TRUE);
		if (setting != NULL)
			return setting;
	}
	return NULL;
}

int
ck_bus_ca_read_options(sd_bus_message *m, CkCaConfig *cfg, sd_bus_error *error)
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *name = NULL;
		const char *contents = NULL;
		const char *wanted;
		const CkCaSetting *setting;

		r = sd_bus_message_read(m, "s", &name);
		if (r >= 0)
			r = sd_bus_message_peek_type(m, NULL, &contents);
		if (r < 0)
			return r;
		setting = ck_bus_ca_find_setting(name);
		if (strcmp(name, "type") == 0 || strcmp(name, "helper") == 0 ||
		    strcmp(name, "roots-file") == 0 || setting != NULL)
			wanted = "s";
		else if (strcmp(name, "timeout") == 0 || strcmp(name, "validity-days") == 0)
			wanted = "u";
		else
			return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
						 _("Unknown CA option '%s'; use type, helper, "
						   "timeout, validity-days, roots-file or a "
						   "setting of the CA's protocol (certkeeper "
						   "add-ca --help)"),
						 name);
		if (g_strcmp0(contents, wanted) != 0)
			return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
						 _("Option '%s' must be of type '%s', not '%s'"),
						 name, wanted, contents);
		if (wanted[0] == 's') {
			const char *text = NULL;
			r = sd_bus_message_read(m, "v", "s", &text);
			if (r < 0)
				return r;
			/* an empty value removes what it names (ModifyCA) */
			if (strcmp(name, "type") == 0) {
				g_free(cfg->type);
				cfg->type = g_strdup(text);
			} else if (strcmp(name, "helper") == 0) {
				g_free(cfg->helper);
				cfg->helper = text[0] != '\0' ? g_strdup(text) : NULL;
			} else if (strcmp(name, "roots-file") == 0) {
				g_free(cfg->roots_file);
				cfg->roots_file = text[0] != '\0' ? g_strdup(text) : NULL;
			} else if (text[0] != '\0') {
				g_hash_table_insert(cfg->settings, g_strdup(setting->key),
						    g_strdup(text));
			} else {
				g_hash_table_remove(cfg->settings, setting->key);
			}
		} else {
			guint32 number = 0;
			r = sd_bus_message_read(m, "v", "u", &number);
			if (r < 0)
				return r;
			if (strcmp(name, "timeout") == 0) {
				if (number < 1 || number > 3600)
					return ck_bus_error_setf(
					    error, CK_ERROR_INVALID_ARGUMENT,
					    _("timeout: %u is not from 1 to 3600 seconds"), number);
				cfg->timeout = number;
			} else {
				if (number > 36500)
					return ck_bus_error_setf(
					    error, CK_ERROR_INVALID_ARGUMENT,
					    _("validity-days: %u is not from 0 to 36500"), number);
				cfg->validity_days = number;
			}
		}
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/* Objects */

int
ck_bus_ca_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
	       void **found, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	char *name = NULL;
	CkCa *ca;
	int r = sd_bus_path_decode(path, CK_BUS_CA_PATH, &name);

	if (r <= 0)
		return r;
	ca = ck_engine_find_ca(self->engine, name);
	free(name);
	if (ca == NULL)
		return 0;
	*found = self;
	return 1;
}

int
ck_bus_ca_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
		    sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) cas = ck_engine_get_cas(self->engine);

	return ck_bus_node_list(cas, (char *(*)(gpointer))ck_bus_ca_path, nodes);
}
