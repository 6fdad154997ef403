/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The durable state store: directories, atomic writes, loading, quarantine. */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "ck-error.h"
#include "ck-store.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *state_dir;
	gchar *requests_dir;
	CkStore *store;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	f->dir = ck_test_make_tmpdir();
	/* two levels that do not exist yet: open() creates them */
	f->state_dir = g_build_filename(f->dir, "var", "certkeeper", NULL);
	f->requests_dir = g_build_filename(f->state_dir, "requests", NULL);
	f->store = ck_store_new(f->state_dir);
	g_assert_true(ck_store_open(f->store, &error));
	g_assert_no_error(error);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_object_unref(f->store);
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->state_dir);
	g_free(f->requests_dir);
}

static CkRequest *
ck_test_request(const gchar *id)
{
	CkRequest *r = ck_request_new(id);
	g_autofree gchar *cert = g_strdup_printf("/etc/ssl/%s.crt", id);
	g_autofree gchar *key = g_strdup_printf("/etc/ssl/private/%s.key", id);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	ck_request_set_cert_file(r, cert);
	ck_request_set_key_file(r, key);
	ck_request_set_subject(r, subject);
	return r;
}

static void
ck_test_save(Fixture *f, CkRequest *r)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(ck_store_save_request(f->store, r, &error));
	g_assert_no_error(error);
}

static GPtrArray *
ck_test_load(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	GPtrArray *requests = ck_store_load_requests(f->store, &error);
	g_assert_no_error(error);
	g_assert_nonnull(requests);
	return requests;
}

static gint
ck_test_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar *const *)a, *(const gchar *const *)b);
}

/* The names in the requests directory, sorted, as one string (for exact comparisons). */
static gchar *
ck_test_listing(Fixture *f)
{
	g_autoptr(GDir) dir = g_dir_open(f->requests_dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL)
		g_ptr_array_add(names, g_strdup(name));
	g_ptr_array_sort(names, ck_test_compare_names);
	g_ptr_array_add(names, NULL);
	return g_strjoinv(" ", (gchar **)names->pdata);
}

static void
ck_test_assert_no_temp_files(Fixture *f)
{
	g_autofree gchar *listing = ck_test_listing(f);
	g_assert_null(strstr(listing, ".ck-tmp-"));
}

static void
test_store_open(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;

	g_assert_cmpstr(ck_store_get_state_dir(f->store), ==, f->state_dir);
	g_assert_true(g_file_test(f->requests_dir, G_FILE_TEST_IS_DIR));
	/* the state names every certificate and key on the host: for root only */
	g_assert_cmpint(ck_test_file_mode(f->state_dir), ==, 0700);
	g_assert_cmpint(ck_test_file_mode(f->requests_dir), ==, 0700);
	/* opening again is harmless */
	g_assert_true(ck_store_open(f->store, &error));
	g_assert_no_error(error);
}

static void
test_store_open_fails(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *blocker = ck_test_write_file(f->dir, "blocker", "");
	g_autoptr(CkStore) store = ck_store_new(blocker);
	g_autoptr(GError) error = NULL;

	g_assert_false(ck_store_open(store, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, blocker));
}

static void
test_store_empty(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GPtrArray) requests = ck_test_load(f);
	g_assert_cmpuint(requests->len, ==, 0);
}

static void
test_store_roundtrip(Fixture *f, gconstpointer user_data)
{
	/* saved out of order: loading sorts by id */
	const gchar *ids[] = {"web", "api", "mail-1", "db.internal", "Zeta"};
	const gchar *sorted[] = {"Zeta", "api", "db.internal", "mail-1", "web"};
	g_autoptr(GPtrArray) requests = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(ids); i++) {
		g_autoptr(CkRequest) r = ck_test_request(ids[i]);
		const gchar *dns[] = {ids[i], NULL};
		ck_request_set_dns_names(r, dns);
		ck_request_set_state(r, CK_REQUEST_STATE_MONITORING);
		ck_request_set_failed_attempts(r, i);
		ck_test_save(f, r);
		ck_test_assert_no_temp_files(f);
	}
	requests = ck_test_load(f);
	g_assert_cmpuint(requests->len, ==, G_N_ELEMENTS(ids));
	for (guint i = 0; i < requests->len; i++) {
		CkRequest *r = g_ptr_array_index(requests, i);
		g_autofree gchar *subject = g_strdup_printf("CN=%s.example", sorted[i]);
		guint saved_at = 0;
		g_assert_cmpstr(ck_request_get_id(r), ==, sorted[i]);
		g_assert_cmpstr(ck_request_get_subject(r), ==, subject);
		g_assert_cmpstr(ck_request_get_dns_names(r)[0], ==, sorted[i]);
		g_assert_cmpint(ck_request_get_state(r), ==, CK_REQUEST_STATE_MONITORING);
		while (g_strcmp0(ids[saved_at], sorted[i]) != 0)
			saved_at++;
		g_assert_cmpuint(ck_request_get_failed_attempts(r), ==, saved_at);
	}
}

static void
test_store_file_layout(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request("layout");
	g_autofree gchar *path = ck_store_get_request_path(f->store, "layout");
	g_autofree gchar *expected = g_build_filename(f->requests_dir, "layout.json", NULL);
	g_autofree gchar *listing = NULL;
	g_autofree gchar *text = NULL;
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;

	g_assert_cmpstr(path, ==, expected);
	ck_test_save(f, r);
	listing = ck_test_listing(f);
	g_assert_cmpstr(listing, ==, "layout.json");
	/* it names key locations and owners: not for other users */
	g_assert_cmpint(ck_test_file_mode(path), ==, 0600);
	/* and it is the request's JSON form, readable by anyone debugging */
	g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
	g_assert_true(json_parser_load_from_data(parser, text, -1, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(
	    json_object_get_string_member(json_node_get_object(json_parser_get_root(parser)), "id"),
	    ==, "layout");
}

static void
test_store_save_replaces(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request("again");
	g_autofree gchar *path = ck_store_get_request_path(f->store, "again");
	g_autoptr(GPtrArray) requests = NULL;
	g_autofree gchar *listing = NULL;
	struct stat before, after;

	ck_test_save(f, r);
	g_assert_cmpint(g_stat(path, &before), ==, 0);
	ck_request_set_state(r, CK_REQUEST_STATE_CA_UNREACHABLE);
	ck_request_set_last_error(r, "connection refused");
	ck_test_save(f, r);
	g_assert_cmpint(g_stat(path, &after), ==, 0);
	/* a new file renamed over the old one, never the old one rewritten in place */
	g_assert_cmpuint(before.st_ino, !=, after.st_ino);
	g_assert_cmpint(ck_test_file_mode(path), ==, 0600);
	listing = ck_test_listing(f);
	g_assert_cmpstr(listing, ==, "again.json");

	requests = ck_test_load(f);
	g_assert_cmpuint(requests->len, ==, 1);
	g_assert_cmpint(ck_request_get_state(g_ptr_array_index(requests, 0)), ==,
			CK_REQUEST_STATE_CA_UNREACHABLE);
	g_assert_cmpstr(ck_request_get_last_error(g_ptr_array_index(requests, 0)), ==,
			"connection refused");
}

static void
test_store_quarantine(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) good1 = ck_test_request("good1");
	g_autoptr(CkRequest) good2 = ck_test_request("good2");
	g_autoptr(CkRequest) other = ck_test_request("someone-else");
	g_autoptr(JsonNode) other_json = ck_request_to_json(other);
	g_autofree gchar *other_text = json_to_string(other_json, TRUE);
	g_autofree gchar *corrupt =
	    ck_test_write_file(f->requests_dir, "broken.json", "{\"version\": 1, ");
	g_autofree gchar *mismatch =
	    ck_test_write_file(f->requests_dir, "impostor.json", other_text);
	g_autofree gchar *not_request =
	    ck_test_write_file(f->requests_dir, "array.json", "[1, 2, 3]");
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) again = NULL;
	g_autoptr(GDir) dir = NULL;
	const gchar *name;
	guint n_corrupt = 0;
	gboolean saw_broken = FALSE, saw_impostor = FALSE, saw_array = FALSE;

	ck_test_save(f, good1);
	ck_test_save(f, good2);

	/*
	 * Each unusable file is named in a warning; the daemon serves the rest. GDir
	 * lists in no fixed order, and expected messages must come in order, so the
	 * expectations follow the directory's own order.
	 */
	dir = g_dir_open(f->requests_dir, 0, NULL);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *pattern = NULL;
		if (g_str_equal(name, "impostor.json"))
			pattern = g_strdup("*impostor.json*'someone-else'*moved it to*");
		else if (g_str_equal(name, "broken.json") || g_str_equal(name, "array.json"))
			pattern = g_strdup_printf("*%s*moved it to*", name);
		if (pattern != NULL)
			g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, pattern);
	}
	g_clear_pointer(&dir, g_dir_close);
	requests = ck_test_load(f);
	g_test_assert_expected_messages();

	g_assert_cmpuint(requests->len, ==, 2);
	g_assert_cmpstr(ck_request_get_id(g_ptr_array_index(requests, 0)), ==, "good1");
	g_assert_cmpstr(ck_request_get_id(g_ptr_array_index(requests, 1)), ==, "good2");
	/* the bad files are kept aside for a human, under a name that is not loaded again */
	g_assert_false(g_file_test(corrupt, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(mismatch, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(not_request, G_FILE_TEST_EXISTS));
	dir = g_dir_open(f->requests_dir, 0, NULL);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *path = NULL;
		g_autofree gchar *contents = NULL;
		if (strstr(name, ".corrupt-") == NULL)
			continue;
		n_corrupt++;
		path = g_build_filename(f->requests_dir, name, NULL);
		g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
		if (g_str_has_prefix(name, "broken.json.corrupt-")) {
			saw_broken = TRUE;
			g_assert_cmpstr(contents, ==, "{\"version\": 1, ");
		} else if (g_str_has_prefix(name, "impostor.json.corrupt-")) {
			saw_impostor = TRUE;
			g_assert_cmpstr(contents, ==, other_text);
		} else if (g_str_has_prefix(name, "array.json.corrupt-")) {
			saw_array = TRUE;
		}
		/* the suffix says when it was moved aside */
		g_assert_true(g_ascii_isdigit(strstr(name, ".corrupt-")[strlen(".corrupt-")]));
	}
	g_assert_cmpuint(n_corrupt, ==, 3);
	g_assert_true(saw_broken && saw_impostor && saw_array);

	/* a second load finds only the good ones, and warns no more */
	again = ck_test_load(f);
	g_assert_cmpuint(again->len, ==, 2);
}

static void
test_store_removes_leftover_temp(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request("crashed");
	g_autofree gchar *tmp = NULL;
	g_autofree gchar *other_tmp = NULL;
	g_autofree gchar *listing = NULL;
	g_autoptr(GPtrArray) requests = NULL;

	ck_test_save(f, r);
	/* what a crash between write and rename leaves: half a file beside the intact one */
	tmp = ck_test_write_file(f->requests_dir, "crashed.json.ck-tmp-0123456789abcdef",
				 "{\"version\": 1, \"id\": \"cra");
	other_tmp = ck_test_write_file(f->requests_dir, "gone.json.ck-tmp-00000000deadbeef", "");
	requests = ck_test_load(f);
	g_assert_cmpuint(requests->len, ==, 1);
	g_assert_cmpstr(ck_request_get_id(g_ptr_array_index(requests, 0)), ==, "crashed");
	listing = ck_test_listing(f);
	g_assert_cmpstr(listing, ==, "crashed.json");
}

static void
test_store_ignores_other_files(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *readme = ck_test_write_file(f->requests_dir, "README", "not state");
	g_autofree gchar *aside =
	    ck_test_write_file(f->requests_dir, "old.json.corrupt-1700000000", "garbage");
	g_autoptr(GPtrArray) requests = ck_test_load(f);

	/* neither loaded nor quarantined (no warning) nor removed */
	g_assert_cmpuint(requests->len, ==, 0);
	g_assert_true(g_file_test(readme, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(aside, G_FILE_TEST_EXISTS));
}

static void
test_store_remove(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) keep = ck_test_request("keep");
	g_autoptr(CkRequest) drop = ck_test_request("drop");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autofree gchar *listing = NULL;

	ck_test_save(f, keep);
	ck_test_save(f, drop);
	g_assert_true(ck_store_remove_request(f->store, "drop", &error));
	g_assert_no_error(error);
	listing = ck_test_listing(f);
	g_assert_cmpstr(listing, ==, "keep.json");
	/* removing what is already gone is not an error */
	g_assert_true(ck_store_remove_request(f->store, "drop", &error));
	g_assert_no_error(error);
	g_assert_true(ck_store_remove_request(f->store, "never-existed", &error));
	g_assert_no_error(error);
	requests = ck_test_load(f);
	g_assert_cmpuint(requests->len, ==, 1);
	g_assert_cmpstr(ck_request_get_id(g_ptr_array_index(requests, 0)), ==, "keep");
}

static void
test_store_save_fails(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request("nowhere");
	g_autoptr(GError) error = NULL;

	/* the requests directory vanished under us: an error, not a crash or a stray file */
	ck_test_rm_rf(f->requests_dir);
	g_assert_false(ck_store_save_request(f->store, r, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_false(g_file_test(f->requests_dir, G_FILE_TEST_EXISTS));
}

#define CK_ADD(path, func)                                                                         \
	g_test_add("/certkeeper/store/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	CK_ADD("open", test_store_open);
	CK_ADD("open-fails", test_store_open_fails);
	CK_ADD("empty", test_store_empty);
	CK_ADD("roundtrip", test_store_roundtrip);
	CK_ADD("file-layout", test_store_file_layout);
	CK_ADD("save-replaces", test_store_save_replaces);
	CK_ADD("save-fails", test_store_save_fails);
	CK_ADD("quarantine", test_store_quarantine);
	CK_ADD("removes-leftover-temp", test_store_removes_leftover_temp);
	CK_ADD("ignores-other-files", test_store_ignores_other_files);
	CK_ADD("remove", test_store_remove);
	return g_test_run();
}
