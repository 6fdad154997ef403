/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The certkeeper CLI's output helpers: times, JSON, tables, property dumps. No
 * user-visible text lives here; callers pass what they translated.
 */
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

#define CK_COLOR_GREEN  "\033[32m"
#define CK_COLOR_YELLOW "\033[33m"
#define CK_COLOR_RED    "\033[31m"
#define CK_COLOR_END    "\033[0m"

/* Seconds since the epoch as local "YYYY-MM-DD HH:MM:SS ZONE"; "-" for 0. */
gchar *ck_client_format_time(gint64 when);

/* Pretty JSON on stdout. */
void ck_client_print_json(JsonNode *node);
void ck_client_print_json_array(GPtrArray *objects);

/*
 * A table: @headers (translated already), then @rows (a GStrv of n_columns cells
 * each), columns two blanks apart. When @color_of is given, the cells of column
 * @color_column are wrapped in the colour it returns for them.
 */
void ck_client_print_table(const gchar *const *headers, guint n_columns, GPtrArray *rows,
			   gint color_column,
			   const gchar *(*color_of)(const gchar *cell, gpointer data),
			   gpointer data);

/* Every member of @obj as "  Name: value" (times also readable, modes octal). */
void ck_client_print_all_properties(JsonObject *obj);

G_END_DECLS
