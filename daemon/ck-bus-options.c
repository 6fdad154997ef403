/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>

#include "ck-bus-error.h"
#include "ck-bus-options.h"
#include "ck-error.h"
#include "ck-request-options.h"

/* The variant's value as a GVariant, for the basic types options use. */
static int
ck_bus_options_read_value(sd_bus_message *m, const char *type, GVariant **out)
{
	int r;

	if (strcmp(type, "s") == 0) {
		const char *s = NULL;
		r = sd_bus_message_read(m, "s", &s);
		if (r >= 0)
			*out = g_variant_ref_sink(g_variant_new_string(s));
	} else if (strcmp(type, "u") == 0) {
		uint32_t u = 0;
		r = sd_bus_message_read(m, "u", &u);
		if (r >= 0)
			*out = g_variant_ref_sink(g_variant_new_uint32(u));
	} else if (strcmp(type, "b") == 0) {
		int b = 0;
		r = sd_bus_message_read(m, "b", &b);
		if (r >= 0)
			*out = g_variant_ref_sink(g_variant_new_boolean(b != 0));
	} else {
		g_auto(GStrv) strv = NULL;
		r = sd_bus_message_read_strv(m, &strv);
		/* sd-bus gives NULL, not an empty list, for an empty array */
		if (r >= 0)
			*out = g_variant_ref_sink(g_variant_new_strv((const gchar *const *)strv,
								     strv != NULL ? -1 : 0));
	}
	return r;
}

/* Reads one {sv} entry into @request; the dict entry is entered already. */
static int
ck_bus_options_read_one(sd_bus_message *m, CkRequest *request, gboolean modify,
			sd_bus_error *error)
{
	const char *name = NULL;
	const char *contents = NULL;
	const gchar *wanted;
	g_autoptr(GVariant) value = NULL;
	g_autoptr(GError) local_error = NULL;
	int r;

	r = sd_bus_message_read(m, "s", &name);
	if (r >= 0)
		r = sd_bus_message_peek_type(m, NULL, &contents);
	if (r < 0)
		return r;
	wanted = ck_request_options_type(name);
	if (wanted == NULL)
		return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
					 _("Unknown option '%s'"), name);
	if (modify && !ck_request_options_is_modifiable(name))
		return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
					 _("Option '%s' cannot be modified: stop tracking the "
					   "request and request it again"),
					 name);
	if (g_strcmp0(contents, wanted) != 0)
		return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
					 _("Option '%s' must be of type '%s', not '%s'"), name,
					 wanted, contents);
	r = sd_bus_message_enter_container(m, 'v', contents);
	if (r >= 0)
		r = ck_bus_options_read_value(m, wanted, &value);
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	if (!ck_request_options_apply(request, name, value, &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return 0;
}

int
ck_bus_options_read(sd_bus_message *m, CkRequest *request, gboolean modify, sd_bus_error *error)
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		r = ck_bus_options_read_one(m, request, modify, error);
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
