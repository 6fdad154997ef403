/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <string.h>

#include "ck-error.h"
#include "ck-file-util.h"
#include "ck-store.h"

struct _CkStore {
	GObject parent_instance;
	gchar *state_dir;
	gchar *requests_dir;
};

G_DEFINE_TYPE(CkStore, ck_store, G_TYPE_OBJECT)

CkStore *
ck_store_new(const gchar *state_dir)
{
	CkStore *self = g_object_new(CK_TYPE_STORE, NULL);
	self->state_dir = g_strdup(state_dir);
	self->requests_dir = g_build_filename(state_dir, "requests", NULL);
	return self;
}

const gchar *
ck_store_get_state_dir(CkStore *self)
{
	g_return_val_if_fail(CK_IS_STORE(self), NULL);
	return self->state_dir;
}

gboolean
ck_store_open(CkStore *self, GError **error)
{
	g_return_val_if_fail(CK_IS_STORE(self), FALSE);
	return ck_file_ensure_dir(self->state_dir, 0700, error) &&
	       ck_file_ensure_dir(self->requests_dir, 0700, error);
}

gchar *
ck_store_get_request_path(CkStore *self, const gchar *id)
{
	g_autofree gchar *name = g_strdup_printf("%s.json", id);
	return g_build_filename(self->requests_dir, name, NULL);
}

/* Moves a state file that cannot be used out of the way, so it is kept for a human. */
static void
ck_store_quarantine(const gchar *path, const gchar *reason)
{
	g_autofree gchar *aside = g_strdup_printf("%s.corrupt-%" G_GINT64_FORMAT, path,
						  g_get_real_time() / G_USEC_PER_SEC);
	if (g_rename(path, aside) < 0) {
		g_warning("state file %s is unusable (%s) and cannot be moved aside: %s", path,
			  reason, g_strerror(errno));
		return;
	}
	g_warning("state file %s is unusable (%s); moved it to %s, the other requests are served",
		  path, reason, aside);
	ck_file_sync_parent(aside, NULL);
}

static CkRequest *
ck_store_load_one(const gchar *path, const gchar *expected_id, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(CkRequest) request = NULL;

	if (!json_parser_load_from_mapped_file(parser, path, error))
		return NULL;
	request = ck_request_new_from_json(json_parser_get_root(parser), error);
	if (request == NULL)
		return NULL;
	if (g_strcmp0(ck_request_get_id(request), expected_id) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("it holds request '%s', not '%s'"), ck_request_get_id(request),
			    expected_id);
		return NULL;
	}
	return g_steal_pointer(&request);
}

static gint
ck_store_compare(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(ck_request_get_id(*(CkRequest **)a), ck_request_get_id(*(CkRequest **)b));
}

GPtrArray *
ck_store_load_requests(CkStore *self, GError **error)
{
	g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(GDir) dir = NULL;
	const gchar *name;

	g_return_val_if_fail(CK_IS_STORE(self), NULL);
	dir = g_dir_open(self->requests_dir, 0, error);
	if (dir == NULL)
		return NULL;
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = g_build_filename(self->requests_dir, name, NULL);
		g_autofree gchar *id = NULL;
		g_autoptr(GError) local_error = NULL;
		CkRequest *request;

		/* a temp file is what a crash left between write and rename: the old file holds */
		if (strstr(name, ".ck-tmp-") != NULL) {
			g_message("removing %s, left by an interrupted write", path);
			g_unlink(path);
			continue;
		}
		if (!g_str_has_suffix(name, ".json"))
			continue;
		id = g_strndup(name, strlen(name) - strlen(".json"));
		request = ck_store_load_one(path, id, &local_error);
		if (request == NULL) {
			ck_store_quarantine(path, local_error->message);
			continue;
		}
		g_ptr_array_add(requests, request);
	}
	g_ptr_array_sort(requests, ck_store_compare);
	return g_steal_pointer(&requests);
}

gboolean
ck_store_save_request(CkStore *self, CkRequest *request, GError **error)
{
	g_autoptr(JsonNode) node = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *path = NULL;
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);

	g_return_val_if_fail(CK_IS_STORE(self), FALSE);
	node = ck_request_to_json(request);
	text = json_to_string(node, TRUE);
	path = ck_store_get_request_path(self, ck_request_get_id(request));
	return ck_file_replace(path, text, strlen(text), &attrs, error);
}

gboolean
ck_store_remove_request(CkStore *self, const gchar *id, GError **error)
{
	g_autofree gchar *path = NULL;

	g_return_val_if_fail(CK_IS_STORE(self), FALSE);
	path = ck_store_get_request_path(self, id);
	if (g_unlink(path) < 0 && errno != ENOENT) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot remove"), path);
		return FALSE;
	}
	return ck_file_sync_dir(self->requests_dir, error);
}

static void
ck_store_finalize(GObject *object)
{
	CkStore *self = CK_STORE(object);
	g_free(self->state_dir);
	g_free(self->requests_dir);
	G_OBJECT_CLASS(ck_store_parent_class)->finalize(object);
}

static void
ck_store_init(CkStore *self)
{
}

static void
ck_store_class_init(CkStoreClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ck_store_finalize;
}
