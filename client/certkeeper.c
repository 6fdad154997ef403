/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper: the command-line client of certkeeperd, modelled on certmonger's
 * getcert (same verbs, short options and exit codes), talking sd-bus.
 *
 * Exit codes (as `getcert status`):
 *   0  done / the certificate is issued and monitored
 *   1  error, or no such request
 *   2  the CA rejected the request
 *   3  the CA is unreachable (certkeeperd retries by itself)
 *   4  the request needs guidance (misconfiguration; see `certkeeper status`)
 *   5  still in progress (e.g. --wait timed out)
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define CK_BUS_NAME	     "org.certkeeper.Certkeeper1"
#define CK_BUS_MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define CK_BUS_MANAGER_IFACE "org.certkeeper.Manager1"
#define CK_BUS_REQUEST_IFACE "org.certkeeper.Request1"

typedef enum {
	CK_EXIT_OK = 0,
	CK_EXIT_ERROR = 1,
	CK_EXIT_REJECTED = 2,
	CK_EXIT_UNREACHABLE = 3,
	CK_EXIT_MISCONFIGURED = 4,
	CK_EXIT_IN_PROGRESS = 5,
} CkExit;

typedef struct {
	sd_bus *bus;
	const gchar *bus_spec;
	gboolean color;
} CkClient;

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)

static void
ck_client_bus_error_free(sd_bus_error *error)
{
	sd_bus_error_free(error);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, ck_client_bus_error_free)

static CkExit
ck_client_fail(const gchar *format, ...) G_GNUC_PRINTF(1, 2);

static CkExit
ck_client_fail(const gchar *format, ...)
{
	g_autofree gchar *message = NULL;
	va_list args;
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("certkeeper: %s\n", message);
	return CK_EXIT_ERROR;
}

static CkExit
ck_client_fail_bus(const sd_bus_error *error, int r)
{
	if (sd_bus_error_is_set(error)) {
		if (sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
		    sd_bus_error_has_name(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
			return ck_client_fail(_("certkeeperd is not running on this bus (%s)"),
					      error->message);
		/* the bus's own refusal is long and technical; say what it means first */
		if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
			return ck_client_fail(_("Access denied: the D-Bus policy lets only root "
						"change requests (%s)"),
					      error->message);
		return ck_client_fail("%s", error->message);
	}
	return ck_client_fail("%s", g_strerror(-r));
}

static int
ck_client_connect(CkClient *client)
{
	sd_bus *bus = NULL;
	int r;

	if (g_strcmp0(client->bus_spec, "system") == 0)
		r = sd_bus_open_system(&client->bus);
	else if (g_strcmp0(client->bus_spec, "session") == 0)
		r = sd_bus_open_user(&client->bus);
	else {
		r = sd_bus_new(&bus);
		if (r >= 0)
			r = sd_bus_set_address(bus, client->bus_spec);
		if (r >= 0)
			r = sd_bus_set_bus_client(bus, 1);
		if (r >= 0)
			r = sd_bus_start(bus);
		if (r >= 0)
			client->bus = bus;
		else if (bus != NULL)
			sd_bus_unref(bus);
	}
	if (r < 0)
		g_printerr(_("certkeeper: cannot connect to the D-Bus bus '%s': %s\n"),
			   client->bus_spec, g_strerror(-r));
	return r;
}

/* Request properties -> JSON (the bus types map 1:1: s, b, t, as). */

static int
ck_client_read_variant(sd_bus_message *m, JsonObject *obj, const char *name)
{
	const char *contents = NULL;
	char type = 0;
	int r = sd_bus_message_peek_type(m, &type, &contents);
	if (r < 0)
		return r;
	if (g_strcmp0(contents, "s") == 0) {
		const char *s = NULL;
		r = sd_bus_message_read(m, "v", "s", &s);
		if (r >= 0)
			json_object_set_string_member(obj, name, s);
	} else if (g_strcmp0(contents, "b") == 0) {
		int b = 0;
		r = sd_bus_message_read(m, "v", "b", &b);
		if (r >= 0)
			json_object_set_boolean_member(obj, name, b);
	} else if (g_strcmp0(contents, "t") == 0) {
		uint64_t t = 0;
		r = sd_bus_message_read(m, "v", "t", &t);
		if (r >= 0)
			json_object_set_int_member(obj, name, (gint64)t);
	} else if (g_strcmp0(contents, "u") == 0) {
		uint32_t u = 0;
		r = sd_bus_message_read(m, "v", "u", &u);
		if (r >= 0)
			json_object_set_int_member(obj, name, u);
	} else if (g_strcmp0(contents, "as") == 0) {
		g_auto(GStrv) strv = NULL;
		JsonArray *array = json_array_new();
		r = sd_bus_message_enter_container(m, 'v', "as");
		if (r >= 0)
			r = sd_bus_message_read_strv(m, &strv);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		for (guint i = 0; r >= 0 && strv != NULL && strv[i] != NULL; i++)
			json_array_add_string_element(array, strv[i]);
		json_object_set_array_member(obj, name, array);
	} else {
		/* a newer daemon may publish types this client does not know: skip them */
		r = sd_bus_message_skip(m, "v");
	}
	return r;
}

/* Reads an a{sv} of properties into a new JsonObject. */
static int
ck_client_read_properties(sd_bus_message *m, JsonObject **ret)
{
	g_autoptr(JsonObject) obj = json_object_new();
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *name = NULL;
		r = sd_bus_message_read(m, "s", &name);
		if (r >= 0)
			r = ck_client_read_variant(m, obj, name);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	*ret = g_steal_pointer(&obj);
	return 0;
}

/* Every request with all its properties, in one GetManagedObjects round trip. */
static int
ck_client_get_requests(CkClient *client, GPtrArray **ret, sd_bus_error *error)
{
	g_autoptr(sd_bus_message) reply = NULL;
	g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	int r;

	r = sd_bus_call_method(client->bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
			       "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", error,
			       &reply, NULL);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(reply, 'a', "{oa{sa{sv}}}");
	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(reply, 'e', "oa{sa{sv}}")) > 0) {
		const char *path = NULL;
		r = sd_bus_message_read(reply, "o", &path);
		if (r >= 0)
			r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");
		while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
			const char *iface = NULL;
			r = sd_bus_message_read(reply, "s", &iface);
			if (r >= 0 && g_strcmp0(iface, CK_BUS_REQUEST_IFACE) == 0) {
				JsonObject *obj = NULL;
				r = ck_client_read_properties(reply, &obj);
				if (r >= 0) {
					json_object_set_string_member(obj, "ObjectPath", path);
					g_ptr_array_add(requests, obj);
				}
			} else if (r >= 0) {
				r = sd_bus_message_skip(reply, "a{sv}");
			}
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	*ret = g_steal_pointer(&requests);
	return 0;
}

static const gchar *
ck_json_string(JsonObject *obj, const gchar *name)
{
	return json_object_get_string_member_with_default(obj, name, "");
}

/* Finds a request by id or certificate file; NULL if there is none. */
static JsonObject *
ck_client_find(GPtrArray *requests, const gchar *id, const gchar *cert_file)
{
	for (guint i = 0; i < requests->len; i++) {
		JsonObject *obj = g_ptr_array_index(requests, i);
		if (id != NULL && g_strcmp0(ck_json_string(obj, "Id"), id) == 0)
			return obj;
		if (cert_file != NULL && g_strcmp0(ck_json_string(obj, "CertFile"), cert_file) == 0)
			return obj;
	}
	return NULL;
}

static CkExit
ck_client_exit_for_state(const gchar *state)
{
	if (g_strcmp0(state, "MONITORING") == 0)
		return CK_EXIT_OK;
	if (g_strcmp0(state, "CA_REJECTED") == 0)
		return CK_EXIT_REJECTED;
	if (g_strcmp0(state, "CA_UNREACHABLE") == 0)
		return CK_EXIT_UNREACHABLE;
	if (g_strcmp0(state, "NEED_GUIDANCE") == 0 || g_strcmp0(state, "STOPPED") == 0)
		return CK_EXIT_MISCONFIGURED;
	return CK_EXIT_IN_PROGRESS;
}

static gchar *
ck_client_format_time(gint64 when)
{
	g_autoptr(GDateTime) dt = NULL;
	if (when <= 0)
		return g_strdup("-");
	dt = g_date_time_new_from_unix_local(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z") : g_strdup("-");
}

static gchar *
ck_client_format_expiry(gint64 not_after)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 days;
	if (not_after <= 0)
		return g_strdup("-");
	if (not_after <= now)
		/* TRANSLATORS: in the EXPIRES column of `certkeeper list` */
		return g_strdup(_("expired"));
	days = (not_after - now) / 86400;
	/* TRANSLATORS: in the EXPIRES column: the certificate expires in %d days */
	return g_strdup_printf(g_dngettext(GETTEXT_PACKAGE, "in %d day", "in %d days", (gulong)days),
			       (int)days);
}

static const gchar *
ck_client_state_color(CkClient *client, const gchar *state)
{
	if (!client->color)
		return "";
	switch (ck_client_exit_for_state(state)) {
	case CK_EXIT_OK:
		return "\033[32m";
	case CK_EXIT_IN_PROGRESS:
		return "\033[33m";
	default:
		return "\033[31m";
	}
}

static void
ck_client_print_json(JsonNode *node)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;
	json_generator_set_pretty(generator, TRUE);
	json_generator_set_root(generator, node);
	text = json_generator_to_data(generator, NULL);
	g_print("%s\n", text);
}

/* Pads @text (UTF-8) to @width columns. */
static void
ck_client_print_cell(const gchar *text, guint width)
{
	glong len = g_utf8_strlen(text, -1);
	g_print("%s", text);
	for (glong i = len; i < (glong)width; i++)
		g_print(" ");
}

/* verbs */

typedef struct {
	const gchar *name;
	const gchar *summary;
	CkExit (*run)(CkClient *client, int argc, char **argv);
} CkVerb;

static GOptionContext *
ck_client_verb_context(const gchar *verb, const gchar *parameter, const GOptionEntry *entries)
{
	g_autofree gchar *prgname = g_strdup_printf("certkeeper %s", verb);
	GOptionContext *context = g_option_context_new(parameter);

	/* --help then says "certkeeper request [OPTION…]" (GLib names the program so) */
	g_set_prgname(prgname);
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	return context;
}

static CkExit
ck_verb_list(CkClient *client, int argc, char **argv)
{
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL}, {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context("list", NULL, entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GError) local_error = NULL;
	guint widths[5];
	const gchar *headers[5] = {
	    /* TRANSLATORS: column headers of `certkeeper list` */
	    N_("ID"), N_("STATE"), N_("SUBJECT"), N_("EXPIRES"), N_("CA")};
	int r;

	g_option_context_set_summary(context, _("List every tracked certificate."));
	if (!g_option_context_parse(context, &argc, &argv, &local_error))
		return ck_client_fail("%s", local_error->message);
	if (argc > 1)
		return ck_client_fail(_("Unexpected argument '%s'"), argv[1]);
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_requests(client, &requests, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	if (json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
		JsonArray *array = json_array_new();
		for (guint i = 0; i < requests->len; i++)
			json_array_add_object_element(array,
						      json_object_ref(g_ptr_array_index(requests, i)));
		json_node_take_array(root, array);
		ck_client_print_json(root);
		return CK_EXIT_OK;
	}
	if (requests->len == 0) {
		g_print("%s\n", _("No certificates are tracked."));
		return CK_EXIT_OK;
	}
	for (guint c = 0; c < G_N_ELEMENTS(headers); c++)
		widths[c] = (guint)g_utf8_strlen(_(headers[c]), -1);
	for (guint i = 0; i < requests->len; i++) {
		JsonObject *obj = g_ptr_array_index(requests, i);
		g_autofree gchar *expiry =
		    ck_client_format_expiry(json_object_get_int_member_with_default(obj, "NotAfter", 0));
		const gchar *cells[5] = {ck_json_string(obj, "Id"), ck_json_string(obj, "State"),
					 ck_json_string(obj, "Subject"), expiry,
					 ck_json_string(obj, "CA")};
		for (guint c = 0; c < G_N_ELEMENTS(cells); c++)
			widths[c] = MAX(widths[c], (guint)g_utf8_strlen(cells[c], -1));
	}
	for (guint c = 0; c < G_N_ELEMENTS(headers); c++) {
		ck_client_print_cell(_(headers[c]), c + 1 < G_N_ELEMENTS(headers) ? widths[c] + 2 : 0);
	}
	g_print("\n");
	for (guint i = 0; i < requests->len; i++) {
		JsonObject *obj = g_ptr_array_index(requests, i);
		const gchar *state = ck_json_string(obj, "State");
		g_autofree gchar *expiry =
		    ck_client_format_expiry(json_object_get_int_member_with_default(obj, "NotAfter", 0));
		ck_client_print_cell(ck_json_string(obj, "Id"), widths[0] + 2);
		g_print("%s", ck_client_state_color(client, state));
		ck_client_print_cell(state, widths[1]);
		g_print("%s  ", client->color ? "\033[0m" : "");
		ck_client_print_cell(ck_json_string(obj, "Subject"), widths[2] + 2);
		ck_client_print_cell(expiry, widths[3] + 2);
		g_print("%s\n", ck_json_string(obj, "CA"));
	}
	return CK_EXIT_OK;
}

/* What a human should do about a request in @state. */
static const gchar *
ck_client_state_advice(const gchar *state)
{
	if (g_strcmp0(state, "CA_REJECTED") == 0)
		return _("The CA refused this request. Fix what it objected to (see the last "
			 "error), then stop tracking it and request it again.");
	if (g_strcmp0(state, "NEED_GUIDANCE") == 0)
		return _("certkeeperd cannot go on without a change: read the last error, fix the "
			 "configuration or files it names, then request again.");
	if (g_strcmp0(state, "CA_UNREACHABLE") == 0)
		return _("The CA could not be reached; certkeeperd retries by itself with growing "
			 "intervals. Check the network and the CA.");
	if (g_strcmp0(state, "MONITORING") == 0)
		return _("The certificate is issued and installed.");
	return _("certkeeperd is working on this request.");
}

static void
ck_client_print_field(const gchar *label, const gchar *value)
{
	g_print("  %s: %s\n", label, value != NULL && value[0] != '\0' ? value : "-");
}

static void
ck_client_print_list_field(JsonObject *obj, const gchar *label, const gchar *name)
{
	JsonArray *array = json_object_has_member(obj, name) ? json_object_get_array_member(obj, name)
							      : NULL;
	g_autoptr(GString) text = g_string_new(NULL);
	for (guint i = 0; array != NULL && i < json_array_get_length(array); i++) {
		if (i > 0)
			g_string_append(text, ", ");
		g_string_append(text, json_array_get_string_element(array, i));
	}
	ck_client_print_field(label, text->str);
}

static CkExit
ck_verb_status(CkClient *client, int argc, char **argv)
{
	g_autofree gchar *id = NULL;
	g_autofree gchar *cert_file = NULL;
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"id", 'i', 0, G_OPTION_ARG_STRING, &id, N_("Request id"), "ID"},
	    {"cert-file", 'f', 0, G_OPTION_ARG_FILENAME, &cert_file, N_("Certificate file"),
	     "FILE"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON"), NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context("status", NULL, entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *not_before = NULL;
	g_autofree gchar *not_after = NULL;
	JsonObject *obj;
	const gchar *state;
	int r;

	g_option_context_set_summary(context,
				     _("Show one request and say what, if anything, to do about it."));
	if (!g_option_context_parse(context, &argc, &argv, &local_error))
		return ck_client_fail("%s", local_error->message);
	if (id == NULL && cert_file == NULL)
		return ck_client_fail(_("Name the request with -i ID or -f CERTFILE"));
	if (cert_file != NULL && !g_path_is_absolute(cert_file)) {
		g_autofree gchar *cwd = g_get_current_dir();
		g_autofree gchar *abs = g_build_filename(cwd, cert_file, NULL);
		g_free(cert_file);
		cert_file = g_steal_pointer(&abs);
	}
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_requests(client, &requests, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	obj = ck_client_find(requests, id, cert_file);
	if (obj == NULL)
		return ck_client_fail(_("No request matches %s"), id != NULL ? id : cert_file);
	state = ck_json_string(obj, "State");
	if (json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(root, obj);
		ck_client_print_json(root);
		return ck_client_exit_for_state(state);
	}
	not_before = ck_client_format_time(json_object_get_int_member_with_default(obj, "NotBefore", 0));
	not_after = ck_client_format_time(json_object_get_int_member_with_default(obj, "NotAfter", 0));
	/* TRANSLATORS: `certkeeper status` heading; the placeholder is the request id */
	g_print(_("Request \"%s\":\n"), ck_json_string(obj, "Id"));
	g_print("  %s: %s%s%s\n", _("status"), ck_client_state_color(client, state), state,
		client->color ? "\033[0m" : "");
	ck_client_print_field(_("stuck"), json_object_get_boolean_member_with_default(obj, "Stuck", FALSE)
					      ? _("yes")
					      : _("no"));
	ck_client_print_field(_("CA"), ck_json_string(obj, "CA"));
	ck_client_print_field(_("key type"), ck_json_string(obj, "KeyType"));
	ck_client_print_field(_("key file"), ck_json_string(obj, "KeyFile"));
	ck_client_print_field(_("certificate file"), ck_json_string(obj, "CertFile"));
	ck_client_print_field(_("chain file"), ck_json_string(obj, "ChainFile"));
	ck_client_print_field(_("subject"), ck_json_string(obj, "Subject"));
	ck_client_print_list_field(obj, _("DNS names"), "DNSNames");
	ck_client_print_list_field(obj, _("IP addresses"), "IPAddresses");
	ck_client_print_list_field(obj, _("emails"), "Emails");
	ck_client_print_list_field(obj, _("URIs"), "URIs");
	ck_client_print_field(_("issuer"), ck_json_string(obj, "Issuer"));
	ck_client_print_field(_("serial"), ck_json_string(obj, "Serial"));
	ck_client_print_field(_("not before"), not_before);
	ck_client_print_field(_("not after"), not_after);
	ck_client_print_field(_("last error"), ck_json_string(obj, "LastError"));
	g_print("%s\n", ck_client_state_advice(state));
	return ck_client_exit_for_state(state);
}

/* Waits until the request at @path settles; returns the exit code its state calls for. */
static CkExit
ck_client_wait(CkClient *client, const gchar *path, guint timeout_seconds)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_seconds * G_USEC_PER_SEC;
	g_autofree gchar *state = NULL;
	int r;

	/* a match makes sd_bus_wait() return as soon as the state changes */
	r = sd_bus_match_signal(client->bus, NULL, CK_BUS_NAME, path,
				"org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, NULL);
	if (r < 0)
		return ck_client_fail(_("Cannot watch the request: %s"), g_strerror(-r));
	for (;;) {
		g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
		gint64 now;
		CkExit code;

		g_clear_pointer(&state, g_free);
		r = sd_bus_get_property_string(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE,
					       "State", &error, &state);
		if (r < 0)
			return ck_client_fail_bus(&error, r);
		code = ck_client_exit_for_state(state);
		if (code != CK_EXIT_IN_PROGRESS)
			return code;
		now = g_get_monotonic_time();
		if (now >= deadline) {
			g_printerr(_("certkeeper: still %s after %u s; certkeeperd goes on in the "
				     "background\n"),
				   state, timeout_seconds);
			return CK_EXIT_IN_PROGRESS;
		}
		while ((r = sd_bus_process(client->bus, NULL)) > 0)
			;
		if (r < 0)
			return ck_client_fail(_("Lost the connection to the bus: %s"), g_strerror(-r));
		r = sd_bus_wait(client->bus, (uint64_t)MIN(deadline - now, G_USEC_PER_SEC));
		if (r < 0 && r != -EINTR)
			return ck_client_fail(_("Lost the connection to the bus: %s"), g_strerror(-r));
	}
}

static gchar *
ck_client_absolute(const gchar *path)
{
	g_autofree gchar *cwd = NULL;
	if (path == NULL || g_path_is_absolute(path))
		return g_strdup(path);
	cwd = g_get_current_dir();
	return g_build_filename(cwd, path, NULL);
}

static int
ck_client_append_string(sd_bus_message *m, const gchar *key, const gchar *value)
{
	if (value == NULL)
		return 0;
	return sd_bus_message_append(m, "{sv}", key, "s", value);
}

static int
ck_client_append_strv(sd_bus_message *m, const gchar *key, gchar **value)
{
	int r;
	if (value == NULL || value[0] == NULL)
		return 0;
	r = sd_bus_message_open_container(m, 'e', "sv");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", key);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'v', "as");
	if (r >= 0)
		r = sd_bus_message_append_strv(m, value);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

static gboolean
ck_client_parse_mode(const gchar *text, guint32 *mode)
{
	guint64 value;
	if (!g_ascii_string_to_unsigned(text, 8, 0, 0777, &value, NULL))
		return FALSE;
	*mode = (guint32)value;
	return TRUE;
}

/* getcert's -G TYPE [-g BITS] becomes certkeeper's key type name. */
static gchar *
ck_client_key_type(const gchar *type, gint bits)
{
	if (type == NULL && bits <= 0)
		return NULL;
	if (type == NULL)
		type = "rsa";
	if (bits > 0 && g_ascii_strcasecmp(type, "rsa") == 0)
		return g_strdup_printf("rsa-%d", bits);
	if (bits > 0 && (g_ascii_strcasecmp(type, "ec") == 0 || g_ascii_strcasecmp(type, "ecdsa") == 0))
		return g_strdup_printf("ec-p%d", bits);
	return g_strdup(type);
}

static CkExit
ck_verb_request(CkClient *client, int argc, char **argv)
{
	g_autofree gchar *cert_file = NULL, *key_file = NULL, *chain_file = NULL;
	g_autofree gchar *subject = NULL, *ca = NULL, *id = NULL, *key_type = NULL;
	g_autofree gchar *profile = NULL, *key_mode = NULL, *cert_mode = NULL;
	g_autofree gchar *key_owner = NULL, *cert_owner = NULL;
	g_autofree gchar *validity = NULL, *renew_before = NULL, *key_policy = NULL;
	g_autofree gchar *pre_save = NULL, *post_save = NULL, *hook_user = NULL;
	g_autofree gchar *reload_unit = NULL, *reload_mode = NULL, *pid_file = NULL;
	g_autofree gchar *pid_signal = NULL, *check_endpoint = NULL, *check_command = NULL;
	g_autofree gchar *bootstrap_cert = NULL, *bootstrap_key = NULL;
	g_autofree gchar *directory = NULL, *combined = NULL;
	gboolean auto_renew = FALSE, no_auto_renew = FALSE;
	g_auto(GStrv) dns = NULL, ips = NULL, emails = NULL, uris = NULL;
	g_auto(GStrv) key_usage = NULL, eku = NULL;
	gint key_bits = 0, validity_days = 0, wait_timeout = 300;
	gboolean wait = FALSE;
	const GOptionEntry entries[] = {
	    {"cert-file", 'f', 0, G_OPTION_ARG_FILENAME, &cert_file,
	     N_("Where to store the certificate (required)"), "FILE"},
	    {"key-file", 'k', 0, G_OPTION_ARG_FILENAME, &key_file,
	     N_("Where to store the private key (required)"), "FILE"},
	    {"chain-file", 'F', 0, G_OPTION_ARG_FILENAME, &chain_file,
	     N_("Where to store the CA chain"), "FILE"},
	    {"subject", 'N', 0, G_OPTION_ARG_STRING, &subject,
	     N_("Subject name, e.g. CN=host.example"), "DN"},
	    {"dns", 'D', 0, G_OPTION_ARG_STRING_ARRAY, &dns, N_("DNS name (repeatable)"), "NAME"},
	    {"ip", 'A', 0, G_OPTION_ARG_STRING_ARRAY, &ips, N_("IP address (repeatable)"),
	     "ADDRESS"},
	    {"email", 'E', 0, G_OPTION_ARG_STRING_ARRAY, &emails, N_("Email address (repeatable)"),
	     "EMAIL"},
	    {"uri", 0, 0, G_OPTION_ARG_STRING_ARRAY, &uris,
	     N_("URI, e.g. a SPIFFE ID (repeatable)"), "URI"},
	    {"key-usage", 'u', 0, G_OPTION_ARG_STRING_ARRAY, &key_usage,
	     N_("Key usage, e.g. digitalSignature (repeatable)"), "USAGE"},
	    {"extended-key-usage", 'U', 0, G_OPTION_ARG_STRING_ARRAY, &eku,
	     N_("Extended key usage, e.g. serverAuth or an OID (repeatable)"), "USAGE"},
	    {"ca", 'c', 0, G_OPTION_ARG_STRING, &ca, N_("CA to use (default: local)"), "NAME"},
	    {"id", 'I', 0, G_OPTION_ARG_STRING, &id, N_("Request id (nickname)"), "ID"},
	    {"key-type", 'G', 0, G_OPTION_ARG_STRING, &key_type,
	     N_("Key type: ec-p256, rsa-2048, rsa-3072, rsa-4096 or ed25519"), "TYPE"},
	    {"key-size", 'g', 0, G_OPTION_ARG_INT, &key_bits, N_("Key size in bits (with -G RSA)"),
	     "BITS"},
	    {"profile", 'T', 0, G_OPTION_ARG_STRING, &profile, N_("CA profile or template"),
	     "NAME"},
	    {"validity-days", 0, 0, G_OPTION_ARG_INT, &validity_days,
	     N_("Wanted lifetime in days"), "DAYS"},
	    {"validity", 0, 0, G_OPTION_ARG_STRING, &validity,
	     N_("Wanted lifetime as a duration, e.g. 90d or 12h"), "DURATION"},
	    {"renew-before", 0, 0, G_OPTION_ARG_STRING, &renew_before,
	     N_("Renew when this much lifetime is left, e.g. 30d or 33%"), "WHEN"},
	    {"key-policy", 0, 0, G_OPTION_ARG_STRING, &key_policy,
	     N_("new: a new key at every renewal (default); reuse: keep the key"), "POLICY"},
	    {"auto-renew", 'r', 0, G_OPTION_ARG_NONE, &auto_renew,
	     N_("Renew the certificate before it expires (default)"), NULL},
	    {"no-auto-renew", 'R', 0, G_OPTION_ARG_NONE, &no_auto_renew,
	     N_("Only watch the certificate, never renew it by itself"), NULL},
	    {"pre-save-command", 'B', 0, G_OPTION_ARG_STRING, &pre_save,
	     N_("Command to run before a new certificate is installed"), "COMMAND"},
	    {"post-save-command", 'C', 0, G_OPTION_ARG_STRING, &post_save,
	     N_("Command to run after a new certificate is installed"), "COMMAND"},
	    {"hook-user", 0, 0, G_OPTION_ARG_STRING, &hook_user,
	     N_("User the commands run as (default root)"), "USER"},
	    {"reload-unit", 0, 0, G_OPTION_ARG_STRING, &reload_unit,
	     N_("systemd unit to reload after an install, e.g. nginx.service"), "UNIT"},
	    {"reload-mode", 0, 0, G_OPTION_ARG_STRING, &reload_mode,
	     N_("reload, restart, try-restart, reload-or-restart (default) or "
		"reload-or-try-restart"),
	     "MODE"},
	    {"pid-file", 0, 0, G_OPTION_ARG_FILENAME, &pid_file,
	     N_("PID file of a process to signal after an install"), "FILE"},
	    {"pid-signal", 0, 0, G_OPTION_ARG_STRING, &pid_signal,
	     N_("Signal for that process (default HUP)"), "SIGNAL"},
	    {"check-endpoint", 0, 0, G_OPTION_ARG_STRING, &check_endpoint,
	     N_("After an install, a TLS handshake with HOST:PORT must succeed, else rollback"),
	     "HOST:PORT"},
	    {"check-command", 0, 0, G_OPTION_ARG_STRING, &check_command,
	     N_("After an install, this command must succeed, else rollback"), "COMMAND"},
	    {"bootstrap-cert", 0, 0, G_OPTION_ARG_FILENAME, &bootstrap_cert,
	     N_("Bootstrap certificate that authenticates a renewal once this one expired"),
	     "FILE"},
	    {"bootstrap-key", 0, 0, G_OPTION_ARG_FILENAME, &bootstrap_key,
	     N_("The bootstrap certificate's key"), "FILE"},
	    {"directory", 0, 0, G_OPTION_ARG_FILENAME, &directory,
	     N_("Keep the files in a versioned directory, switched atomically"), "DIR"},
	    {"combined-file", 0, 0, G_OPTION_ARG_FILENAME, &combined,
	     N_("Also write key, certificate and chain into one PEM file"), "FILE"},
	    {"key-mode", 'm', 0, G_OPTION_ARG_STRING, &key_mode, N_("Key file mode (octal)"),
	     "MODE"},
	    {"cert-mode", 'M', 0, G_OPTION_ARG_STRING, &cert_mode,
	     N_("Certificate file mode (octal)"), "MODE"},
	    {"key-owner", 'o', 0, G_OPTION_ARG_STRING, &key_owner, N_("Key file owner"),
	     "USER[:GROUP]"},
	    {"cert-owner", 'O', 0, G_OPTION_ARG_STRING, &cert_owner,
	     N_("Certificate file owner"), "USER[:GROUP]"},
	    {"wait", 'w', 0, G_OPTION_ARG_NONE, &wait,
	     N_("Wait until the certificate is issued or the request fails"), NULL},
	    {"wait-timeout", 0, 0, G_OPTION_ARG_INT, &wait_timeout,
	     N_("Seconds to wait with --wait (default 300)"), "SECONDS"},
	    {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context("request", NULL, entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) m = NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *full_key_type = NULL;
	g_autofree gchar *request_id = NULL;
	g_autofree gchar *abs_cert = NULL, *abs_key = NULL, *abs_chain = NULL;
	g_autofree gchar *abs_directory = NULL, *abs_combined = NULL, *abs_pid_file = NULL;
	g_autofree gchar *abs_bootstrap_cert = NULL, *abs_bootstrap_key = NULL;
	const struct {
		const gchar *key;
		gchar *const *value; /* read when the message is built, after the parsing */
	} texts[] = {
	    {"validity", &validity},
	    {"renew-before", &renew_before},
	    {"key-policy", &key_policy},
	    {"pre-save-command", &pre_save},
	    {"post-save-command", &post_save},
	    {"hook-user", &hook_user},
	    {"reload-unit", &reload_unit},
	    {"reload-mode", &reload_mode},
	    {"pid-file", &abs_pid_file},
	    {"pid-signal", &pid_signal},
	    {"check-endpoint", &check_endpoint},
	    {"check-command", &check_command},
	    {"bootstrap-cert-file", &abs_bootstrap_cert},
	    {"bootstrap-key-file", &abs_bootstrap_key},
	    {"directory", &abs_directory},
	    {"combined-file", &abs_combined},
	};
	const char *path = NULL;
	guint32 mode;
	int r;

	g_option_context_set_summary(context,
				     _("Ask for a certificate and keep it valid from now on."));
	if (!g_option_context_parse(context, &argc, &argv, &local_error))
		return ck_client_fail("%s", local_error->message);
	if (argc > 1)
		return ck_client_fail(_("Unexpected argument '%s'"), argv[1]);
	if ((cert_file == NULL || key_file == NULL) && directory == NULL)
		return ck_client_fail(_("Both -f CERTFILE and -k KEYFILE are required"));
	if (directory != NULL && (cert_file != NULL || key_file != NULL || chain_file != NULL))
		return ck_client_fail(_("--directory names the files itself: leave out -f, -k "
					"and -F"));
	if (auto_renew && no_auto_renew)
		return ck_client_fail(_("-r and -R contradict each other"));
	if (validity_days < 0 || wait_timeout < 0 || key_bits < 0)
		return ck_client_fail(_("Numbers must not be negative"));
	/* like getcert, relative paths are taken from the current directory */
	abs_cert = ck_client_absolute(cert_file);
	abs_key = ck_client_absolute(key_file);
	abs_chain = ck_client_absolute(chain_file);
	abs_directory = ck_client_absolute(directory);
	abs_combined = ck_client_absolute(combined);
	abs_pid_file = ck_client_absolute(pid_file);
	abs_bootstrap_cert = ck_client_absolute(bootstrap_cert);
	abs_bootstrap_key = ck_client_absolute(bootstrap_key);
	full_key_type = ck_client_key_type(key_type, key_bits);

	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = sd_bus_message_new_method_call(client->bus, &m, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
					   CK_BUS_MANAGER_IFACE, "AddRequest");
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0)
		r = ck_client_append_string(m, "cert-file", abs_cert);
	if (r >= 0)
		r = ck_client_append_string(m, "key-file", abs_key);
	if (r >= 0)
		r = ck_client_append_string(m, "chain-file", abs_chain);
	if (r >= 0)
		r = ck_client_append_string(m, "subject", subject);
	if (r >= 0)
		r = ck_client_append_string(m, "ca", ca);
	if (r >= 0)
		r = ck_client_append_string(m, "id", id);
	if (r >= 0)
		r = ck_client_append_string(m, "key-type", full_key_type);
	if (r >= 0)
		r = ck_client_append_string(m, "profile", profile);
	if (r >= 0)
		r = ck_client_append_string(m, "key-owner", key_owner);
	if (r >= 0)
		r = ck_client_append_string(m, "cert-owner", cert_owner);
	if (r >= 0)
		r = ck_client_append_strv(m, "dns-names", dns);
	if (r >= 0)
		r = ck_client_append_strv(m, "ip-addresses", ips);
	if (r >= 0)
		r = ck_client_append_strv(m, "emails", emails);
	if (r >= 0)
		r = ck_client_append_strv(m, "uris", uris);
	if (r >= 0)
		r = ck_client_append_strv(m, "key-usage", key_usage);
	if (r >= 0)
		r = ck_client_append_strv(m, "extended-key-usage", eku);
	if (r >= 0 && validity_days > 0)
		r = sd_bus_message_append(m, "{sv}", "validity-days", "u", (guint32)validity_days);
	for (guint i = 0; r >= 0 && i < G_N_ELEMENTS(texts); i++)
		r = ck_client_append_string(m, texts[i].key, *texts[i].value);
	if (r >= 0 && (auto_renew || no_auto_renew))
		r = sd_bus_message_append(m, "{sv}", "auto-renew", "b", (int)auto_renew);
	if (r >= 0 && key_mode != NULL) {
		if (!ck_client_parse_mode(key_mode, &mode))
			return ck_client_fail(_("'%s' is not an octal file mode (0 to 777)"),
					      key_mode);
		r = sd_bus_message_append(m, "{sv}", "key-mode", "u", mode);
	}
	if (r >= 0 && cert_mode != NULL) {
		if (!ck_client_parse_mode(cert_mode, &mode))
			return ck_client_fail(_("'%s' is not an octal file mode (0 to 777)"),
					      cert_mode);
		r = sd_bus_message_append(m, "{sv}", "cert-mode", "u", mode);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r < 0)
		return ck_client_fail(_("Cannot build the request: %s"), g_strerror(-r));
	r = sd_bus_call(client->bus, m, 0, &error, &reply);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return ck_client_fail(_("Unexpected answer from certkeeperd: %s"), g_strerror(-r));
	r = sd_bus_get_property_string(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE, "Id",
				       &error, &request_id);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the new request's id */
	g_print(_("New request \"%s\" added.\n"), request_id);
	if (!wait)
		return CK_EXIT_OK;
	return ck_client_wait(client, path, (guint)wait_timeout);
}

static CkExit
ck_verb_stop_tracking(CkClient *client, int argc, char **argv)
{
	g_autofree gchar *id = NULL;
	g_autofree gchar *cert_file = NULL;
	const GOptionEntry entries[] = {
	    {"id", 'i', 0, G_OPTION_ARG_STRING, &id, N_("Request id"), "ID"},
	    {"cert-file", 'f', 0, G_OPTION_ARG_FILENAME, &cert_file, N_("Certificate file"),
	     "FILE"},
	    {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context("stop-tracking", NULL, entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *abs_cert = NULL;
	JsonObject *obj;
	int r;

	g_option_context_set_summary(context, _("Stop tracking a certificate; its files stay."));
	if (!g_option_context_parse(context, &argc, &argv, &local_error))
		return ck_client_fail("%s", local_error->message);
	if (id == NULL && cert_file == NULL)
		return ck_client_fail(_("Name the request with -i ID or -f CERTFILE"));
	abs_cert = ck_client_absolute(cert_file);
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_requests(client, &requests, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	obj = ck_client_find(requests, id, abs_cert);
	if (obj == NULL)
		return ck_client_fail(_("No request matches %s"), id != NULL ? id : abs_cert);
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
			       "RemoveRequest", &error, NULL, "o",
			       ck_json_string(obj, "ObjectPath"));
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the request id */
	g_print(_("Request \"%s\" removed.\n"), ck_json_string(obj, "Id"));
	return CK_EXIT_OK;
}

/* resubmit and rekey: renew now, with the same key or a new one. */
static CkExit
ck_client_renew(CkClient *client, int argc, char **argv, const gchar *verb, const gchar *method)
{
	g_autofree gchar *id = NULL;
	g_autofree gchar *cert_file = NULL;
	gboolean wait = FALSE;
	gint wait_timeout = 300;
	const GOptionEntry entries[] = {
	    {"id", 'i', 0, G_OPTION_ARG_STRING, &id, N_("Request id"), "ID"},
	    {"cert-file", 'f', 0, G_OPTION_ARG_FILENAME, &cert_file, N_("Certificate file"),
	     "FILE"},
	    {"wait", 'w', 0, G_OPTION_ARG_NONE, &wait,
	     N_("Wait until the certificate is issued or the request fails"), NULL},
	    {"wait-timeout", 0, 0, G_OPTION_ARG_INT, &wait_timeout,
	     N_("Seconds to wait with --wait (default 300)"), "SECONDS"},
	    {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context(verb, NULL, entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *abs_cert = NULL;
	g_autofree gchar *path = NULL;
	JsonObject *obj;
	int r;

	g_option_context_set_summary(context, g_strcmp0(method, "Rekey") == 0
						  ? _("Renew a certificate now, with a new key.")
						  : _("Renew a certificate now, with the same key."));
	if (!g_option_context_parse(context, &argc, &argv, &local_error))
		return ck_client_fail("%s", local_error->message);
	if (id == NULL && cert_file == NULL)
		return ck_client_fail(_("Name the request with -i ID or -f CERTFILE"));
	if (wait_timeout < 0)
		return ck_client_fail(_("Numbers must not be negative"));
	abs_cert = ck_client_absolute(cert_file);
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_requests(client, &requests, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	obj = ck_client_find(requests, id, abs_cert);
	if (obj == NULL)
		return ck_client_fail(_("No request matches %s"), id != NULL ? id : abs_cert);
	path = g_strdup(ck_json_string(obj, "ObjectPath"));
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE, method,
			       &error, NULL, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the request id */
	g_print(_("Renewing request \"%s\".\n"), ck_json_string(obj, "Id"));
	if (!wait)
		return CK_EXIT_OK;
	return ck_client_wait(client, path, (guint)wait_timeout);
}

static CkExit
ck_verb_resubmit(CkClient *client, int argc, char **argv)
{
	return ck_client_renew(client, argc, argv, "resubmit", "Resubmit");
}

static CkExit
ck_verb_rekey(CkClient *client, int argc, char **argv)
{
	return ck_client_renew(client, argc, argv, "rekey", "Rekey");
}

static const CkVerb ck_verbs[] = {
    /* TRANSLATORS: one-line summaries of the verbs in `certkeeper --help` */
    {"request", N_("Request a certificate and keep it valid"), ck_verb_request},
    {"list", N_("List tracked certificates"), ck_verb_list},
    {"status", N_("Show one request and what to do about it"), ck_verb_status},
    {"stop-tracking", N_("Stop tracking a certificate (its files stay)"), ck_verb_stop_tracking},
    {"resubmit", N_("Renew a certificate now, with the same key"), ck_verb_resubmit},
    {"rekey", N_("Renew a certificate now, with a new key"), ck_verb_rekey},
};

static void
ck_client_usage(FILE *out)
{
	fprintf(out, "%s\n\n", _("Usage: certkeeper [--bus=system|session|ADDRESS] VERB [OPTIONS]"));
	fprintf(out, "%s\n", _("Verbs:"));
	for (guint i = 0; i < G_N_ELEMENTS(ck_verbs); i++)
		fprintf(out, "  %-15s %s\n", ck_verbs[i].name, _(ck_verbs[i].summary));
	fprintf(out, "\n%s\n", _("Run `certkeeper VERB --help` for a verb's options."));
	fprintf(out, "%s\n",
		_("Exit codes: 0 issued, 1 error or not found, 2 rejected, 3 CA unreachable, "
		  "4 needs guidance, 5 in progress."));
}

int
main(int argc, char **argv)
{
	CkClient client = {.bus_spec = "system"};
	const gchar *no_color = g_getenv("NO_COLOR");
	int verb_index = 1;
	int exit_code;

	setlocale(LC_ALL, "");
	/* CERTKEEPER_LOCALEDIR: catalogs outside the installed prefix (tests, relocated trees) */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("CERTKEEPER_LOCALEDIR") != NULL
					    ? g_getenv("CERTKEEPER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	client.color = isatty(STDOUT_FILENO) && (no_color == NULL || no_color[0] == '\0');

	/* global options come before the verb */
	for (; verb_index < argc && argv[verb_index][0] == '-'; verb_index++) {
		const gchar *arg = argv[verb_index];
		if (g_str_has_prefix(arg, "--bus=")) {
			client.bus_spec = arg + strlen("--bus=");
		} else if (g_strcmp0(arg, "--bus") == 0 && verb_index + 1 < argc) {
			client.bus_spec = argv[++verb_index];
		} else if (g_strcmp0(arg, "--help") == 0 || g_strcmp0(arg, "-h") == 0) {
			ck_client_usage(stdout);
			return CK_EXIT_OK;
		} else if (g_strcmp0(arg, "--version") == 0) {
			g_print("certkeeper %s\n", PACKAGE_VERSION);
			return CK_EXIT_OK;
		} else {
			g_printerr(_("certkeeper: unknown option '%s'\n"), arg);
			ck_client_usage(stderr);
			return CK_EXIT_ERROR;
		}
	}
	if (verb_index >= argc) {
		ck_client_usage(stderr);
		return CK_EXIT_ERROR;
	}
	for (guint i = 0; i < G_N_ELEMENTS(ck_verbs); i++) {
		if (g_strcmp0(ck_verbs[i].name, argv[verb_index]) == 0) {
			exit_code = ck_verbs[i].run(&client, argc - verb_index, argv + verb_index);
			if (client.bus != NULL)
				sd_bus_flush_close_unref(client.bus);
			return exit_code;
		}
	}
	g_printerr(_("certkeeper: unknown verb '%s'\n"), argv[verb_index]);
	ck_client_usage(stderr);
	return CK_EXIT_ERROR;
}
