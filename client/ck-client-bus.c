/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "ck-client-bus.h"

void
ck_client_bus_error_free(sd_bus_error *error)
{
	sd_bus_error_free(error);
}

int
ck_client_bus_open(const gchar *spec, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	if (g_strcmp0(spec, "system") == 0)
		return sd_bus_open_system(ret);
	if (g_strcmp0(spec, "session") == 0)
		return sd_bus_open_user(ret);
	r = sd_bus_new(&bus);
	if (r >= 0)
		r = sd_bus_set_address(bus, spec);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		if (bus != NULL)
			sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

/*
 * One property value as the bus types map to JSON (s and o: a string; b; t and u:
 * a number; as: a list; a{ss}: an object). Both ways of turning a reply into JSON
 * read through ck_client_read_value(), so they cannot disagree on a type.
 */
typedef enum {
	CK_CLIENT_VALUE_UNKNOWN, /* a type this client does not know: skipped */
	CK_CLIENT_VALUE_STRING,
	CK_CLIENT_VALUE_FLAG,
	CK_CLIENT_VALUE_NUMBER,
	CK_CLIENT_VALUE_LIST,
	CK_CLIENT_VALUE_MAP,
} CkClientValueKind;

typedef struct {
	CkClientValueKind kind;
	const char *text; /* STRING: the message's own */
	gboolean flag;
	gint64 number;
	GStrv strings; /* LIST; MAP: keys and values alternating */
} CkClientValue;

static void
ck_client_value_clear(CkClientValue *value)
{
	g_clear_pointer(&value->strings, g_strfreev);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CkClientValue, ck_client_value_clear)

/* Reads the variant at the message's position into @value. */
static int
ck_client_read_value(sd_bus_message *m, CkClientValue *value)
{
	const char *contents = NULL;
	char type = 0;
	int r = sd_bus_message_peek_type(m, &type, &contents);

	if (r < 0)
		return r;
	if (g_strcmp0(contents, "s") == 0 || g_strcmp0(contents, "o") == 0) {
		value->kind = CK_CLIENT_VALUE_STRING;
		return sd_bus_message_read(m, "v", contents, &value->text);
	}
	if (g_strcmp0(contents, "b") == 0) {
		int b = 0;
		value->kind = CK_CLIENT_VALUE_FLAG;
		r = sd_bus_message_read(m, "v", "b", &b);
		value->flag = b != 0;
		return r;
	}
	if (g_strcmp0(contents, "t") == 0) {
		uint64_t t = 0;
		value->kind = CK_CLIENT_VALUE_NUMBER;
		r = sd_bus_message_read(m, "v", "t", &t);
		value->number = (gint64)t;
		return r;
	}
	if (g_strcmp0(contents, "u") == 0) {
		uint32_t u = 0;
		value->kind = CK_CLIENT_VALUE_NUMBER;
		r = sd_bus_message_read(m, "v", "u", &u);
		value->number = u;
		return r;
	}
	if (g_strcmp0(contents, "as") == 0) {
		value->kind = CK_CLIENT_VALUE_LIST;
		r = sd_bus_message_enter_container(m, 'v', "as");
		if (r >= 0)
			r = sd_bus_message_read_strv(m, &value->strings);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		/* sd-bus gives NULL for an empty list */
		if (value->strings == NULL)
			value->strings = g_new0(gchar *, 1);
		return r;
	}
	if (g_strcmp0(contents, "a{ss}") == 0) {
		g_autoptr(GStrvBuilder) pairs = g_strv_builder_new();
		value->kind = CK_CLIENT_VALUE_MAP;
		r = sd_bus_message_enter_container(m, 'v', "a{ss}");
		if (r >= 0)
			r = sd_bus_message_enter_container(m, 'a', "{ss}");
		while (r >= 0) {
			const char *key = NULL, *text = NULL;
			r = sd_bus_message_read(m, "{ss}", &key, &text);
			if (r <= 0)
				break;
			g_strv_builder_add_many(pairs, key, text, NULL);
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		if (r >= 0)
			r = sd_bus_message_exit_container(m);
		value->strings = g_strv_builder_end(pairs);
		return r;
	}
	/* a newer daemon may publish types this client does not know */
	value->kind = CK_CLIENT_VALUE_UNKNOWN;
	return sd_bus_message_skip(m, "v");
}

/* Properties -> JSON objects. */
static int
ck_client_read_variant(sd_bus_message *m, JsonObject *obj, const char *name)
{
	g_auto(CkClientValue) value = {0};
	int r = ck_client_read_value(m, &value);

	if (r < 0)
		return r;
	switch (value.kind) {
	case CK_CLIENT_VALUE_STRING:
		json_object_set_string_member(obj, name, value.text);
		break;
	case CK_CLIENT_VALUE_FLAG:
		json_object_set_boolean_member(obj, name, value.flag);
		break;
	case CK_CLIENT_VALUE_NUMBER:
		json_object_set_int_member(obj, name, value.number);
		break;
	case CK_CLIENT_VALUE_LIST: {
		JsonArray *array = json_array_new();
		for (guint i = 0; value.strings[i] != NULL; i++)
			json_array_add_string_element(array, value.strings[i]);
		json_object_set_array_member(obj, name, array);
		break;
	}
	case CK_CLIENT_VALUE_MAP: {
		JsonObject *map = json_object_new();
		for (guint i = 0; value.strings[i] != NULL; i += 2)
			json_object_set_string_member(map, value.strings[i], value.strings[i + 1]);
		json_object_set_object_member(obj, name, map);
		break;
	}
	case CK_CLIENT_VALUE_UNKNOWN:
		break;
	}
	return r;
}

int
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

/* One object's interfaces: the ones we know go into @requests or @cas. */
static int
ck_client_read_object(sd_bus_message *reply, const char *path, GPtrArray *requests, GPtrArray *cas)
{
	int r = sd_bus_message_enter_container(reply, 'a', "{sa{sv}}");

	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sa{sv}")) > 0) {
		const char *iface = NULL;
		GPtrArray *into = NULL;

		r = sd_bus_message_read(reply, "s", &iface);
		if (r < 0)
			return r;
		if (g_strcmp0(iface, CK_BUS_REQUEST_IFACE) == 0)
			into = requests;
		else if (g_strcmp0(iface, CK_BUS_CA_IFACE) == 0)
			into = cas;
		if (into != NULL) {
			JsonObject *obj = NULL;
			r = ck_client_read_properties(reply, &obj);
			if (r >= 0) {
				json_object_set_string_member(obj, "ObjectPath", path);
				g_ptr_array_add(into, obj);
			}
		} else {
			r = sd_bus_message_skip(reply, "a{sv}");
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(reply);
	return r;
}

int
ck_client_get_objects(sd_bus *bus, GPtrArray **requests_out, GPtrArray **cas_out,
		      sd_bus_error *error)
{
	g_autoptr(sd_bus_message) reply = NULL;
	g_autoptr(GPtrArray) requests =
	    g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	g_autoptr(GPtrArray) cas =
	    g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	int r;

	r = sd_bus_call_method(bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
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
			r = ck_client_read_object(reply, path, requests, cas);
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (requests_out != NULL)
		*requests_out = g_steal_pointer(&requests);
	if (cas_out != NULL)
		*cas_out = g_steal_pointer(&cas);
	return 0;
}

int
ck_client_get_request_properties(sd_bus *bus, const gchar *const *names, GPtrArray **requests_out,
				 sd_bus_error *error)
{
	g_autoptr(sd_bus_message) call = NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	g_autoptr(GPtrArray) requests =
	    g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);
	int r;

	r = sd_bus_message_new_method_call(bus, &call, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
					   CK_BUS_MANAGER_IFACE, "GetRequestProperties");
	if (r >= 0)
		r = sd_bus_message_append_strv(call, (char **)names);
	if (r >= 0)
		r = sd_bus_call(bus, call, 0, error, &reply);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "{oa{sv}}");
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sv}")) > 0) {
		const char *path = NULL;
		JsonObject *obj = NULL;
		r = sd_bus_message_read_basic(reply, 'o', &path);
		if (r >= 0)
			r = ck_client_read_properties(reply, &obj);
		if (r >= 0) {
			json_object_set_string_member(obj, "ObjectPath", path);
			g_ptr_array_add(requests, obj);
			r = sd_bus_message_exit_container(reply);
		}
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(reply);
	if (r < 0)
		return r;
	*requests_out = g_steal_pointer(&requests);
	return 0;
}

/* JSON text straight from the message, for `list --json` of thousands of requests */

static void
ck_client_json_string(GString *out, const char *text)
{
	g_string_append_c(out, '"');
	for (const char *p = text; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		default:
			if ((guchar)*p < 0x20)
				g_string_append_printf(out, "\\u%04x", (guint)(guchar)*p);
			else
				g_string_append_c(out, *p);
		}
	}
	g_string_append_c(out, '"');
}

static void
ck_client_json_indent(GString *out, guint depth)
{
	for (guint i = 0; i < depth; i++)
		g_string_append(out, "  ");
}

/* The value of one {sv} entry as JSON text, as ck_client_read_variant() would make it;
 * *@written is FALSE for a type this client does not know (nothing is written). */
static int
ck_client_json_variant(sd_bus_message *m, GString *out, guint depth, gboolean *written)
{
	g_auto(CkClientValue) value = {0};
	int r = ck_client_read_value(m, &value);

	*written = value.kind != CK_CLIENT_VALUE_UNKNOWN;
	if (r < 0)
		return r;
	switch (value.kind) {
	case CK_CLIENT_VALUE_STRING:
		ck_client_json_string(out, value.text);
		break;
	case CK_CLIENT_VALUE_FLAG:
		g_string_append(out, value.flag ? "true" : "false");
		break;
	case CK_CLIENT_VALUE_NUMBER:
		g_string_append_printf(out, "%" G_GINT64_FORMAT, value.number);
		break;
	case CK_CLIENT_VALUE_LIST:
	case CK_CLIENT_VALUE_MAP: {
		gboolean map = value.kind == CK_CLIENT_VALUE_MAP;
		guint step = map ? 2 : 1;
		g_string_append_c(out, map ? '{' : '[');
		for (guint i = 0; value.strings[i] != NULL; i += step) {
			g_string_append(out, i > 0 ? ",\n" : "\n");
			ck_client_json_indent(out, depth + 1);
			ck_client_json_string(out, value.strings[i]);
			if (map) {
				g_string_append(out, " : ");
				ck_client_json_string(out, value.strings[i + 1]);
			}
		}
		if (value.strings[0] != NULL) {
			g_string_append_c(out, '\n');
			ck_client_json_indent(out, depth);
		}
		g_string_append_c(out, map ? '}' : ']');
		break;
	}
	case CK_CLIENT_VALUE_UNKNOWN:
		break;
	}
	return r;
}

int
ck_client_print_request_properties_json(sd_bus *bus, sd_bus_error *error)
{
	g_autoptr(sd_bus_message) call = NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	g_autoptr(GString) out = g_string_sized_new(64 * 1024);
	guint n_objects = 0;
	int r;

	r = sd_bus_message_new_method_call(bus, &call, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
					   CK_BUS_MANAGER_IFACE, "GetRequestProperties");
	if (r >= 0)
		r = sd_bus_message_append_strv(call, NULL);
	if (r >= 0)
		r = sd_bus_call(bus, call, 0, error, &reply);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "{oa{sv}}");
	g_string_append_c(out, '[');
	while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "oa{sv}")) > 0) {
		const char *path = NULL;
		r = sd_bus_message_read_basic(reply, 'o', &path);
		if (r >= 0)
			r = sd_bus_message_enter_container(reply, 'a', "{sv}");
		g_string_append(out, n_objects++ > 0 ? ",\n  {" : "\n  {");
		while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
			const char *name = NULL;
			gsize mark = out->len;
			gboolean written = FALSE;
			r = sd_bus_message_read_basic(reply, 's', &name);
			g_string_append(out, "\n    ");
			if (r >= 0) {
				ck_client_json_string(out, name);
				g_string_append(out, " : ");
				r = ck_client_json_variant(reply, out, 2, &written);
			}
			if (written)
				g_string_append_c(out, ',');
			else
				g_string_truncate(out, mark);
			if (r >= 0)
				r = sd_bus_message_exit_container(reply);
		}
		/* as ck_client_read_properties() does, the path comes last */
		if (r >= 0) {
			g_string_append(out, "\n    \"ObjectPath\" : ");
			ck_client_json_string(out, path);
			g_string_append(out, "\n  }");
			r = sd_bus_message_exit_container(reply);
		}
		if (r >= 0)
			r = sd_bus_message_exit_container(reply);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(reply);
	if (r < 0)
		return r;
	g_string_append(out, n_objects > 0 ? "\n]\n" : "]\n");
	fwrite(out->str, 1, out->len, stdout);
	return 0;
}

int
ck_client_get_all(sd_bus *bus, const gchar *path, const gchar *iface, JsonObject **ret,
		  sd_bus_error *error)
{
	g_autoptr(sd_bus_message) reply = NULL;
	JsonObject *obj = NULL;
	int r = sd_bus_call_method(bus, CK_BUS_NAME, path, "org.freedesktop.DBus.Properties",
				   "GetAll", error, &reply, "s", iface);
	if (r < 0)
		return r;
	r = ck_client_read_properties(reply, &obj);
	if (r < 0)
		return r;
	json_object_set_string_member(obj, "ObjectPath", path);
	*ret = obj;
	return 0;
}

int
ck_client_append_string(sd_bus_message *m, const gchar *key, const gchar *value)
{
	if (value == NULL)
		return 0;
	return sd_bus_message_append(m, "{sv}", key, "s", value);
}

int
ck_client_append_strv(sd_bus_message *m, const gchar *key, gchar **value)
{
	char *none[] = {NULL};
	int r;

	if (value == NULL || value[0] == NULL)
		return 0;
	/* a single empty value: the list is cleared (modify -D "") */
	if (value[0][0] == '\0' && value[1] == NULL)
		value = none;
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

const gchar *
ck_json_string(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING)
		return "";
	return json_node_get_string(node);
}

gint64
ck_json_int(JsonObject *obj, const gchar *name)
{
	return json_object_get_int_member_with_default(obj, name, 0);
}

gboolean
ck_json_bool(JsonObject *obj, const gchar *name)
{
	return json_object_get_boolean_member_with_default(obj, name, FALSE);
}

gchar *
ck_json_join(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	JsonArray *array =
	    node != NULL && JSON_NODE_HOLDS_ARRAY(node) ? json_node_get_array(node) : NULL;
	GString *text = g_string_new(NULL);

	for (guint i = 0; array != NULL && i < json_array_get_length(array); i++) {
		if (i > 0)
			g_string_append(text, ", ");
		g_string_append(text, json_array_get_string_element(array, i));
	}
	return g_string_free(text, FALSE);
}

JsonObject *
ck_client_find_request(GPtrArray *requests, const gchar *id, const gchar *cert_file,
		       const gchar *key_file)
{
	for (guint i = 0; i < requests->len; i++) {
		JsonObject *obj = g_ptr_array_index(requests, i);
		if (id != NULL && g_strcmp0(ck_json_string(obj, "Id"), id) == 0)
			return obj;
		if (cert_file != NULL && g_strcmp0(ck_json_string(obj, "CertFile"), cert_file) == 0)
			return obj;
		if (key_file != NULL && g_strcmp0(ck_json_string(obj, "KeyFile"), key_file) == 0)
			return obj;
	}
	return NULL;
}

JsonObject *
ck_client_find_ca(GPtrArray *cas, const gchar *name)
{
	for (guint i = 0; cas != NULL && i < cas->len; i++) {
		JsonObject *obj = g_ptr_array_index(cas, i);
		if (g_strcmp0(ck_json_string(obj, "Name"), name) == 0)
			return obj;
	}
	return NULL;
}

gchar *
ck_client_absolute(const gchar *path)
{
	g_autofree gchar *cwd = NULL;
	if (path == NULL || path[0] == '\0' || g_path_is_absolute(path))
		return g_strdup(path);
	cwd = g_get_current_dir();
	return g_build_filename(cwd, path, NULL);
}
