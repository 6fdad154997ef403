/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-error.h"
#include "ck-request-options.h"
#include "ck-requests-dir.h"

#define CK_REQUESTS_GROUP_PREFIX "request "

void
ck_declared_request_free(CkDeclaredRequest *declared)
{
	g_free(declared->id);
	g_free(declared->file);
	g_clear_object(&declared->request);
	g_free(declared);
}

/* The line of "KEY=" in [GROUP] of @text, 0 if not found (for messages). */
static guint
ck_requests_dir_line_of(const gchar *text, const gchar *group, const gchar *key)
{
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autofree gchar *header = g_strdup_printf("[%s]", group);
	gboolean in_group = FALSE;

	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *line = g_strstrip(g_strdup(lines[i]));
		if (line[0] == '[') {
			in_group = g_strcmp0(line, header) == 0;
			if (in_group && key == NULL)
				return i + 1;
			continue;
		}
		if (in_group && key != NULL && g_str_has_prefix(line, key)) {
			const gchar *rest = line + strlen(key);
			while (*rest == ' ' || *rest == '\t')
				rest++;
			if (*rest == '=')
				return i + 1;
		}
	}
	return 0;
}

/* The value of @key as the option's type wants it. */
static GVariant *
ck_requests_dir_value(GKeyFile *kf, const gchar *group, const gchar *key, const gchar *type,
		      GError **error)
{
	if (g_strcmp0(type, "s") == 0) {
		g_autofree gchar *value = g_key_file_get_string(kf, group, key, error);
		return value != NULL ? g_variant_new_string(g_strstrip(value)) : NULL;
	}
	if (g_strcmp0(type, "as") == 0) {
		g_auto(GStrv) list = g_key_file_get_string_list(kf, group, key, NULL, error);
		g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
		g_auto(GStrv) clean = NULL;
		if (list == NULL)
			return NULL;
		for (guint i = 0; list[i] != NULL; i++) {
			g_strstrip(list[i]);
			if (list[i][0] != '\0')
				g_strv_builder_add(builder, list[i]);
		}
		clean = g_strv_builder_end(builder);
		return g_variant_new_strv((const gchar *const *)clean, -1);
	}
	if (g_strcmp0(type, "u") == 0) {
		g_autofree gchar *value = g_key_file_get_string(kf, group, key, error);
		guint64 number;
		if (value == NULL)
			return NULL;
		/* octal for the modes, as people write them (0644); decimal otherwise */
		if (!g_ascii_string_to_unsigned(g_strstrip(value),
						g_str_has_suffix(key, "-mode") ? 8 : 10, 0,
						G_MAXUINT32, &number, NULL)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not a number"), value);
			return NULL;
		}
		return g_variant_new_uint32((guint32)number);
	}
	{
		GError *local_error = NULL;
		gboolean value = g_key_file_get_boolean(kf, group, key, &local_error);
		if (local_error != NULL) {
			g_propagate_error(error, local_error);
			return NULL;
		}
		return g_variant_new_boolean(value);
	}
}

static CkRequest *
ck_requests_dir_parse_group(GKeyFile *kf, const gchar *text, const gchar *path,
			    const gchar *group, CkRequest *(*new_template)(gpointer),
			    gpointer user_data, GPtrArray *warnings)
{
	const gchar *id = group + strlen(CK_REQUESTS_GROUP_PREFIX);
	g_autoptr(CkRequest) request = new_template(user_data);
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

	if (!ck_request_id_is_valid(id)) {
		g_ptr_array_add(warnings,
				g_strdup_printf(_("%s:%u: [%s]: '%s' is not a valid request id; the "
						  "request is skipped"),
						path, ck_requests_dir_line_of(text, group, NULL), group,
						id));
		return NULL;
	}
	ck_request_set_template_id(request, id);
	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		const gchar *type = ck_request_options_type(keys[i]);
		g_autoptr(GError) error = NULL;
		g_autoptr(GVariant) value = NULL;

		if (type == NULL || g_strcmp0(keys[i], "id") == 0) {
			g_set_error(&error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("unknown key %s"), keys[i]);
		} else {
			value = ck_requests_dir_value(kf, group, keys[i], type, &error);
			if (value != NULL) {
				g_variant_ref_sink(value);
				ck_request_options_apply(request, keys[i], value, &error);
			}
		}
		if (error != NULL) {
			g_ptr_array_add(
			    warnings,
			    g_strdup_printf(_("%s:%u: [%s] %s: %s; the request is skipped"), path,
					    ck_requests_dir_line_of(text, group, keys[i]), group,
					    keys[i], error->message));
			return NULL;
		}
	}
	return g_steal_pointer(&request);
}

static gint
ck_requests_dir_compare(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar **)a, *(const gchar **)b);
}

GPtrArray *
ck_requests_dir_load(const gchar *dir, CkRequest *(*new_template)(gpointer user_data),
		     gpointer user_data, GPtrArray *warnings)
{
	GPtrArray *declared = g_ptr_array_new_with_free_func((GDestroyNotify)ck_declared_request_free);
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	if (d == NULL)
		return declared;
	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(name, ".conf"))
			g_ptr_array_add(names, g_strdup(name));
	}
	g_ptr_array_sort(names, ck_requests_dir_compare);
	for (guint i = 0; i < names->len; i++) {
		g_autofree gchar *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		g_autofree gchar *text = NULL;
		g_autoptr(GKeyFile) kf = g_key_file_new();
		g_autoptr(GError) error = NULL;
		g_auto(GStrv) groups = NULL;

		if (!g_file_get_contents(path, &text, NULL, &error) ||
		    !g_key_file_load_from_data(kf, text, -1, G_KEY_FILE_NONE, &error)) {
			g_ptr_array_add(warnings, g_strdup_printf(_("%s is skipped: %s"), path,
								  error->message));
			continue;
		}
		groups = g_key_file_get_groups(kf, NULL);
		for (guint j = 0; groups[j] != NULL; j++) {
			CkDeclaredRequest *entry;
			CkRequest *request;

			if (!g_str_has_prefix(groups[j], CK_REQUESTS_GROUP_PREFIX)) {
				g_ptr_array_add(warnings,
						g_strdup_printf(_("%s:%u: [%s] is not [request ID]; "
								  "it is skipped"),
								path,
								ck_requests_dir_line_of(text, groups[j],
											NULL),
								groups[j]));
				continue;
			}
			request = ck_requests_dir_parse_group(kf, text, path, groups[j], new_template,
							      user_data, warnings);
			if (request == NULL)
				continue;
			if (g_hash_table_contains(seen, ck_request_get_id(request))) {
				g_ptr_array_add(warnings,
						g_strdup_printf(_("%s:%u: request %s is declared "
								  "twice; the first one counts"),
								path,
								ck_requests_dir_line_of(text, groups[j],
											NULL),
								ck_request_get_id(request)));
				g_object_unref(request);
				continue;
			}
			entry = g_new0(CkDeclaredRequest, 1);
			entry->id = g_strdup(ck_request_get_id(request));
			entry->file = g_strdup(path);
			entry->request = request;
			ck_request_set_declared(request, path);
			g_hash_table_add(seen, entry->id);
			g_ptr_array_add(declared, entry);
		}
	}
	return declared;
}
