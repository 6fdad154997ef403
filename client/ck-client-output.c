/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include "ck-client-bus.h"
#include "ck-client-output.h"

gchar *
ck_client_format_time(gint64 when)
{
	g_autoptr(GDateTime) dt = NULL;
	if (when <= 0)
		return g_strdup("-");
	dt = g_date_time_new_from_unix_local(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S %Z") : g_strdup("-");
}

void
ck_client_print_json(JsonNode *node)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autofree gchar *text = NULL;
	json_generator_set_pretty(generator, TRUE);
	json_generator_set_root(generator, node);
	text = json_generator_to_data(generator, NULL);
	g_print("%s\n", text);
}

void
ck_client_print_json_array(GPtrArray *objects)
{
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_ARRAY);
	JsonArray *array = json_array_new();
	for (guint i = 0; i < objects->len; i++)
		json_array_add_object_element(array,
					      json_object_ref(g_ptr_array_index(objects, i)));
	json_node_take_array(root, array);
	ck_client_print_json(root);
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

void
ck_client_print_table(const gchar *const *headers, guint n_columns, GPtrArray *rows,
		      gint color_column, const gchar *(*color_of)(const gchar *cell, gpointer data),
		      gpointer data)
{
	g_autofree guint *widths = g_new0(guint, n_columns);

	for (guint c = 0; c < n_columns; c++)
		widths[c] = (guint)g_utf8_strlen(headers[c], -1);
	for (guint i = 0; i < rows->len; i++) {
		gchar **cells = g_ptr_array_index(rows, i);
		for (guint c = 0; c < n_columns; c++)
			widths[c] = MAX(widths[c], (guint)g_utf8_strlen(cells[c], -1));
	}
	for (guint c = 0; c < n_columns; c++)
		ck_client_print_cell(headers[c], c + 1 < n_columns ? widths[c] + 2 : 0);
	g_print("\n");
	for (guint i = 0; i < rows->len; i++) {
		gchar **cells = g_ptr_array_index(rows, i);
		for (guint c = 0; c < n_columns; c++) {
			gboolean colored = (gint)c == color_column && color_of != NULL;
			if (colored)
				g_print("%s", color_of(cells[c], data));
			ck_client_print_cell(cells[c], c + 1 < n_columns ? widths[c] : 0);
			if (colored)
				g_print("%s", CK_COLOR_END);
			if (c + 1 < n_columns)
				g_print("  ");
		}
		g_print("\n");
	}
}

/* The properties that hold times or file modes, for status -v. */
static gboolean
ck_client_is_time_property(const gchar *name)
{
	const gchar *const times[] = {"NotBefore",	    "NotAfter",		"RenewalTime",
				      "RenewalWindowStart", "RenewalWindowEnd", "NextAttempt",
				      "LastFailureTime",    "LastRenewal",	NULL};
	return g_strv_contains(times, name);
}

/* status -v: every property as the daemon publishes it. */
void
ck_client_print_all_properties(JsonObject *obj)
{
	g_autoptr(GList) members = json_object_get_members(obj);

	for (GList *l = members; l != NULL; l = l->next) {
		const gchar *name = l->data;
		JsonNode *node = json_object_get_member(obj, name);
		g_autofree gchar *text = NULL;

		if (JSON_NODE_HOLDS_ARRAY(node)) {
			JsonArray *array = json_node_get_array(node);
			gboolean multiline = FALSE;
			for (guint i = 0; i < json_array_get_length(array); i++)
				multiline |=
				    strchr(json_array_get_string_element(array, i), '\n') != NULL;
			/* PEM blocks one below the other, the others on one line */
			if (multiline) {
				g_autoptr(GString) all = g_string_new(NULL);
				for (guint i = 0; i < json_array_get_length(array); i++)
					g_string_append(all,
							json_array_get_string_element(array, i));
				text = g_string_free(g_steal_pointer(&all), FALSE);
			} else {
				text = ck_json_join(obj, name);
			}
		} else if (json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
			text = g_strdup(json_node_get_boolean(node) ? "true" : "false");
		} else if (json_node_get_value_type(node) == G_TYPE_INT64) {
			gint64 value = json_node_get_int(node);
			if (ck_client_is_time_property(name) && value > 0) {
				g_autofree gchar *when = ck_client_format_time(value);
				text = g_strdup_printf("%" G_GINT64_FORMAT " (%s)", value, when);
			} else if (g_str_has_suffix(name, "Mode")) {
				text = g_strdup_printf("%04" G_GINT64_MODIFIER "o", value);
			} else {
				text = g_strdup_printf("%" G_GINT64_FORMAT, value);
			}
		} else {
			text = g_strdup(json_node_get_string(node));
		}
		/* multi-line values (PEM) indented under their name */
		if (text != NULL && strchr(g_strchomp(text), '\n') != NULL) {
			g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
			g_print("  %s:\n", name);
			for (guint i = 0; lines[i] != NULL; i++)
				g_print("    %s\n", lines[i]);
			continue;
		}
		g_print("  %s: %s\n", name, text != NULL ? text : "");
	}
}
