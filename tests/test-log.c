/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Log levels and targets (LogControl1's names), the lifecycle entries' fields and
 * the message catalog that explains their MESSAGE_IDs. */
#include "config.h"

#include <string.h>
#include <syslog.h>

#include "ck-error.h"
#include "ck-log.h"
#include "ck-test-util.h"

static void
test_log_levels(void)
{
	static const struct {
		const gchar *name;
		gint priority;
		const gchar *shown;
	} cases[] = {
	    {"emerg", LOG_EMERG, "emerg"},    {"alert", LOG_ALERT, "alert"},
	    {"crit", LOG_CRIT, "crit"},       {"err", LOG_ERR, "err"},
	    {"error", LOG_ERR, "err"},        {"warning", LOG_WARNING, "warning"},
	    {"notice", LOG_NOTICE, "notice"}, {"message", LOG_NOTICE, "notice"},
	    {"info", LOG_INFO, "info"},       {"debug", LOG_DEBUG, "debug"},
	};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_assert_true(ck_log_set_level_name(cases[i].name, &error));
		g_assert_no_error(error);
		g_assert_cmpint(ck_log_get_max_priority(), ==, cases[i].priority);
		g_assert_cmpstr(ck_log_get_level_name(), ==, cases[i].shown);
	}
	g_assert_false(ck_log_set_level_name("verbose", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "'verbose'"));
	g_assert_nonnull(strstr(error->message, "notice"));
	/* a refused name changes nothing */
	g_assert_cmpstr(ck_log_get_level_name(), ==, "debug");

	g_assert_cmpint(ck_log_priority_of(G_LOG_LEVEL_CRITICAL), ==, LOG_ERR);
	g_assert_cmpint(ck_log_priority_of(G_LOG_LEVEL_WARNING), ==, LOG_WARNING);
	g_assert_cmpint(ck_log_priority_of(G_LOG_LEVEL_MESSAGE), ==, LOG_NOTICE);
	g_assert_cmpint(ck_log_priority_of(G_LOG_LEVEL_INFO), ==, LOG_INFO);
	g_assert_cmpint(ck_log_priority_of(G_LOG_LEVEL_DEBUG), ==, LOG_DEBUG);
}

static void
test_log_targets(void)
{
	const gchar *const good[] = {"console", "journal", "null", "auto"};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_assert_true(ck_log_set_target_name(good[i], &error));
		g_assert_no_error(error);
		g_assert_cmpstr(ck_log_get_target_name(), ==, good[i]);
	}
	g_assert_cmpint(ck_log_get_target(), ==, CK_LOG_TARGET_AUTO);
	/* systemd's, which certkeeperd does not do: unsupported, saying what it does */
	g_assert_false(ck_log_set_target_name("kmsg", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
	g_assert_nonnull(strstr(error->message, "console, journal"));
	g_clear_error(&error);
	g_assert_false(ck_log_set_target_name("elsewhere", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_cmpstr(ck_log_get_target_name(), ==, "auto");
}

/* What the lifecycle entries carry, caught by a writer of our own. */
static GPtrArray *captured;

static GLogWriterOutput
ck_test_capture_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
		       gpointer user_data)
{
	GHashTable *entry = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	for (gsize i = 0; i < n_fields; i++) {
		gssize len = fields[i].length;
		g_hash_table_insert(entry, g_strdup(fields[i].key),
				    len < 0 ? g_strdup(fields[i].value)
					    : g_strndup(fields[i].value, (gsize)len));
	}
	g_hash_table_insert(entry, g_strdup("LEVEL"), g_strdup_printf("%d", level));
	g_ptr_array_add(captured, entry);
	return G_LOG_WRITER_HANDLED;
}

static void
test_log_lifecycle_fields(void)
{
	g_autoptr(CkRequest) request = ck_request_new("web");
	g_autofree gchar *message_level = NULL;
	GHashTable *entry;

	ck_request_set_ca(request, "est");
	g_ptr_array_set_size(captured, 0);
	ck_log_lifecycle(CK_LOG_LIFECYCLE_STARTED, request, "renewal_started",
			 "00112233445566778899aabbccddeeff", NULL);
	ck_log_lifecycle(CK_LOG_LIFECYCLE_FAILED, request, "renewal_failed", NULL,
			 "CA 'est' is unreachable");
	g_assert_cmpuint(captured->len, ==, 2);

	entry = g_ptr_array_index(captured, 0);
	g_assert_cmpstr(g_hash_table_lookup(entry, "MESSAGE_ID"), ==,
			ck_log_lifecycle_message_id(CK_LOG_LIFECYCLE_STARTED));
	g_assert_cmpstr(g_hash_table_lookup(entry, "CERTKEEPER_EVENT"), ==, "started");
	g_assert_cmpstr(g_hash_table_lookup(entry, "CERTKEEPER_STEP"), ==, "renewal_started");
	g_assert_cmpstr(g_hash_table_lookup(entry, "CERTKEEPER_REQUEST_ID"), ==, "web");
	g_assert_cmpstr(g_hash_table_lookup(entry, "CERTKEEPER_CA"), ==, "est");
	g_assert_cmpstr(g_hash_table_lookup(entry, "CERTKEEPER_TRACE_ID"), ==,
			"00112233445566778899aabbccddeeff");
	/* no certificate yet: no serial field rather than an empty one */
	g_assert_false(g_hash_table_contains(entry, "CERTKEEPER_SERIAL"));
	g_assert_nonnull(strstr(g_hash_table_lookup(entry, "MESSAGE"), "web"));

	entry = g_ptr_array_index(captured, 1);
	g_assert_cmpstr(g_hash_table_lookup(entry, "MESSAGE_ID"), ==,
			ck_log_lifecycle_message_id(CK_LOG_LIFECYCLE_FAILED));
	message_level = g_strdup_printf("%d", G_LOG_LEVEL_MESSAGE);
	g_assert_cmpstr(g_hash_table_lookup(entry, "LEVEL"), ==, message_level);
	g_assert_nonnull(strstr(g_hash_table_lookup(entry, "MESSAGE"), "unreachable"));
	g_assert_false(g_hash_table_contains(entry, "CERTKEEPER_TRACE_ID"));
}

/*
 * data/certkeeper.catalog parses as journalctl reads catalogs ("-- ID" then
 * headers, a blank line, the text) and explains every MESSAGE_ID the daemon uses,
 * each once.
 */
static void
test_log_catalog(void)
{
	g_autofree gchar *path =
	    g_build_filename(CK_TEST_SRCDIR, "..", "data", "certkeeper.catalog", NULL);
	g_autofree gchar *text = ck_test_read_file(path);
	g_autoptr(GHashTable) entries =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_auto(GStrv) lines = NULL;
	gchar *id = NULL;
	gboolean in_headers = FALSE, has_subject = FALSE, has_defined_by = FALSE;
	guint body_lines = 0;

	g_assert_nonnull(text);
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0;; i++) {
		const gchar *line = lines[i];
		gboolean ends = line == NULL || g_str_has_prefix(line, "-- ");

		if (ends && id != NULL) {
			g_assert_true(has_subject);
			g_assert_true(has_defined_by);
			g_assert_cmpuint(body_lines, >, 0);
			g_assert_true(g_hash_table_add(entries, id));
			id = NULL;
		}
		if (line == NULL)
			break;
		if (ends) {
			id = g_strdup(line + 3);
			g_assert_cmpuint(strlen(id), ==, 32);
			for (const gchar *p = id; *p != '\0'; p++)
				g_assert_true(g_ascii_isxdigit(*p) && !g_ascii_isupper(*p));
			in_headers = TRUE;
			has_subject = has_defined_by = FALSE;
			body_lines = 0;
			continue;
		}
		if (id == NULL) {
			/* before the first entry: comments and blank lines only */
			g_assert_true(line[0] == '\0' || line[0] == '#');
			continue;
		}
		if (in_headers) {
			if (line[0] == '\0') {
				in_headers = FALSE;
				continue;
			}
			g_assert_nonnull(strstr(line, ": "));
			has_subject |= g_str_has_prefix(line, "Subject: ");
			has_defined_by |= g_str_has_prefix(line, "Defined-By: certkeeper");
			continue;
		}
		body_lines += line[0] != '\0';
	}
	for (guint i = 0; i < CK_LOG_LIFECYCLE_N; i++) {
		const gchar *message_id = ck_log_lifecycle_message_id(i);
		g_assert_true(g_hash_table_contains(entries, message_id));
	}
	g_assert_cmpuint(g_hash_table_size(entries), ==, CK_LOG_LIFECYCLE_N);
}

/* And journalctl itself takes it in: a database under a private --root, then the list. */
static void
test_log_catalog_journalctl(void)
{
	g_autofree gchar *root = NULL, *catalog_dir = NULL, *source = NULL, *text = NULL;
	g_autofree gchar *out = NULL, *root_arg = NULL;

	if (!ck_test_have_program("journalctl")) {
		g_test_skip("journalctl (systemd) is not installed");
		return;
	}
	root = ck_test_make_tmpdir();
	catalog_dir = g_build_filename(root, "usr", "lib", "systemd", "catalog", NULL);
	source = g_build_filename(CK_TEST_SRCDIR, "..", "data", "certkeeper.catalog", NULL);
	text = ck_test_read_file(source);
	g_assert_cmpint(g_mkdir_with_parents(catalog_dir, 0755), ==, 0);
	g_free(ck_test_write_file(catalog_dir, "certkeeper.catalog", text));
	root_arg = g_strdup_printf("--root=%s", root);
	{
		const gchar *argv[] = {"journalctl", root_arg, "--update-catalog", NULL};
		g_assert_cmpint(ck_test_run(argv, NULL, NULL), ==, 0);
	}
	{
		const gchar *argv[] = {"journalctl", root_arg, "--list-catalog", NULL};
		g_assert_cmpint(ck_test_run(argv, &out, NULL), ==, 0);
	}
	for (guint i = 0; i < CK_LOG_LIFECYCLE_N; i++) {
		g_autofree gchar *line =
		    g_strdup_printf("%s certkeeper: ", ck_log_lifecycle_message_id(i));
		g_assert_nonnull(strstr(out, line));
	}
	ck_test_rm_rf(root);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	captured = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
	g_log_set_writer_func(ck_test_capture_writer, NULL, NULL);
	g_test_add_func("/certkeeper/log/levels", test_log_levels);
	g_test_add_func("/certkeeper/log/targets", test_log_targets);
	g_test_add_func("/certkeeper/log/lifecycle-fields", test_log_lifecycle_fields);
	g_test_add_func("/certkeeper/log/catalog", test_log_catalog);
	g_test_add_func("/certkeeper/log/catalog-journalctl", test_log_catalog_journalctl);
	return g_test_run();
}
