/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The audit log: one JSON object a line, root's only, rotated at its cap, never fatal. */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <glib/gstdio.h>
#include <sys/stat.h>

#include "ck-audit.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *path;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->path = g_build_filename(f->dir, "log", "audit.log", NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

/* The lines of @path, each parsed (asserting it is one JSON object). */
static GPtrArray *
ck_test_read_events(const gchar *path)
{
	g_autofree gchar *text = ck_test_read_file(path);
	g_auto(GStrv) lines = NULL;
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);

	g_assert_nonnull(text);
	g_assert_true(g_str_has_suffix(text, "\n"));
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
		g_autoptr(JsonNode) node = json_from_string(lines[i], NULL);
		g_assert_nonnull(node);
		g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
		g_ptr_array_add(events, json_object_ref(json_node_get_object(node)));
	}
	return events;
}

static void
test_audit_fields(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkAudit) audit = ck_audit_new(f->path, 1024 * 1024, 3);
	g_autoptr(CkRequest) request = ck_request_new("web");
	const gchar *names[] = {"www.example.org", "example.org", NULL};
	CkCaller caller = {.uid = 1000, .pid = 4242, .unit = "nginx.service"};
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GDateTime) when = NULL;
	JsonObject *event, *actor, *subject, *metadata;
	JsonArray *dns;

	ck_request_set_subject(request, "CN=www.example.org");
	ck_request_set_dns_names(request, names);
	ck_request_set_ca(request, "local");
	ck_audit_record(audit, CK_AUDIT_ACCESS_DENIED, &caller, request, NULL, NULL, "denied",
			"action", "Rekey", "reason", "not yours", "absent", NULL, NULL);
	ck_audit_record(audit, CK_AUDIT_KEY_GENERATED, NULL, request, NULL,
			"0123456789abcdef0123456789abcdef", "success", "key_type", "ec-p256", NULL);
	ck_audit_record(audit, CK_AUDIT_CA_ADDED, &caller, NULL, "est", NULL, "success", NULL);

	g_assert_cmpuint(ck_test_file_mode(f->path), ==, 0600);
	events = ck_test_read_events(f->path);
	g_assert_cmpuint(events->len, ==, 3);

	event = g_ptr_array_index(events, 0);
	when =
	    g_date_time_new_from_iso8601(json_object_get_string_member(event, "timestamp"), NULL);
	g_assert_nonnull(when);
	/* UTC, with a fraction */
	g_assert_true(g_str_has_suffix(json_object_get_string_member(event, "timestamp"), "Z"));
	g_assert_nonnull(strchr(json_object_get_string_member(event, "timestamp"), '.'));
	g_assert_cmpstr(json_object_get_string_member(event, "event_type"), ==, "access_denied");
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "denied");
	g_assert_false(json_object_has_member(event, "trace_id"));
	actor = json_object_get_object_member(event, "actor");
	g_assert_cmpstr(json_object_get_string_member(actor, "type"), ==, "dbus");
	g_assert_cmpint(json_object_get_int_member(actor, "uid"), ==, 1000);
	g_assert_cmpint(json_object_get_int_member(actor, "pid"), ==, 4242);
	g_assert_cmpstr(json_object_get_string_member(actor, "unit"), ==, "nginx.service");
	subject = json_object_get_object_member(event, "subject");
	g_assert_cmpstr(json_object_get_string_member(subject, "request_id"), ==, "web");
	g_assert_cmpstr(json_object_get_string_member(subject, "subject_dn"), ==,
			"CN=www.example.org");
	g_assert_cmpstr(json_object_get_string_member(subject, "ca"), ==, "local");
	dns = json_object_get_array_member(subject, "dns_names");
	g_assert_cmpuint(json_array_get_length(dns), ==, 2);
	g_assert_cmpstr(json_array_get_string_element(dns, 1), ==, "example.org");
	metadata = json_object_get_object_member(event, "metadata");
	g_assert_cmpstr(json_object_get_string_member(metadata, "action"), ==, "Rekey");
	g_assert_cmpstr(json_object_get_string_member(metadata, "reason"), ==, "not yours");
	g_assert_false(json_object_has_member(metadata, "absent"));

	event = g_ptr_array_index(events, 1);
	g_assert_cmpstr(json_object_get_string_member(event, "event_type"), ==, "key_generated");
	g_assert_cmpstr(json_object_get_string_member(event, "trace_id"), ==,
			"0123456789abcdef0123456789abcdef");
	actor = json_object_get_object_member(event, "actor");
	g_assert_cmpstr(json_object_get_string_member(actor, "type"), ==, "scheduler");
	g_assert_false(json_object_has_member(actor, "uid"));

	event = g_ptr_array_index(events, 2);
	subject = json_object_get_object_member(event, "subject");
	g_assert_cmpstr(json_object_get_string_member(subject, "ca"), ==, "est");
	g_assert_false(json_object_has_member(subject, "request_id"));
}

/* A file someone made with another mode is made root's only at the first write. */
static void
test_audit_mode(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *dir = g_path_get_dirname(f->path);
	g_autoptr(CkAudit) audit = ck_audit_new(f->path, 1024 * 1024, 3);
	g_autoptr(GPtrArray) events = NULL;

	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(f->path, "{\"event_type\":\"earlier\"}\n", -1, NULL));
	g_assert_cmpint(chmod(f->path, 0644), ==, 0);
	ck_audit_record(audit, CK_AUDIT_CONFIG_RELOADED, NULL, NULL, NULL, NULL, "success", NULL);
	g_assert_cmpuint(ck_test_file_mode(f->path), ==, 0600);
	/* appended, not replaced */
	events = ck_test_read_events(f->path);
	g_assert_cmpuint(events->len, ==, 2);
}

static void
test_audit_rotation(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkAudit) audit = ck_audit_new(f->path, 4096, 2);
	g_autofree gchar *first = g_strdup_printf("%s.1", f->path);
	g_autofree gchar *second = g_strdup_printf("%s.2", f->path);
	g_autofree gchar *third = g_strdup_printf("%s.3", f->path);
	g_autofree gchar *padding = g_strnfill(500, 'x');
	guint total = 0;

	/* ~600 bytes a line: the cap of 4096 holds six, so 40 lines rotate several times */
	for (guint i = 0; i < 40; i++) {
		g_autofree gchar *n = g_strdup_printf("%u", i);
		ck_audit_record(audit, CK_AUDIT_RENEWAL_STARTED, NULL, NULL, NULL, NULL, "success",
				"n", n, "padding", padding, NULL);
	}
	ck_audit_sync(audit);
	g_assert_true(g_file_test(first, G_FILE_TEST_EXISTS));
	g_assert_true(g_file_test(second, G_FILE_TEST_EXISTS));
	/* two rotated files kept, no more */
	g_assert_false(g_file_test(third, G_FILE_TEST_EXISTS));
	{
		const gchar *paths[] = {second, first, f->path};
		gint64 last = -1;
		for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
			g_autoptr(GPtrArray) events = ck_test_read_events(paths[i]);
			struct stat st;
			g_assert_cmpint(stat(paths[i], &st), ==, 0);
			g_assert_cmpint(st.st_size, <=, 4096);
			g_assert_cmpuint(ck_test_file_mode(paths[i]), ==, 0600);
			/* oldest to newest, without a gap or a line cut in two */
			for (guint j = 0; j < events->len; j++) {
				JsonObject *metadata = json_object_get_object_member(
				    g_ptr_array_index(events, j), "metadata");
				gint64 n = g_ascii_strtoll(
				    json_object_get_string_member(metadata, "n"), NULL, 10);
				if (last >= 0)
					g_assert_cmpint(n, ==, last + 1);
				last = n;
			}
			total += events->len;
		}
		g_assert_cmpint(last, ==, 39);
	}
	g_assert_cmpuint(total, <, 40);
}

/* Rotate=0: the full file starts afresh. */
static void
test_audit_rotation_none(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkAudit) audit = ck_audit_new(f->path, 4096, 0);
	g_autofree gchar *first = g_strdup_printf("%s.1", f->path);
	g_autofree gchar *padding = g_strnfill(1000, 'y');
	g_autoptr(GPtrArray) events = NULL;

	for (guint i = 0; i < 10; i++)
		ck_audit_record(audit, CK_AUDIT_RENEWAL_STARTED, NULL, NULL, NULL, NULL, "success",
				"padding", padding, NULL);
	g_assert_false(g_file_test(first, G_FILE_TEST_EXISTS));
	events = ck_test_read_events(f->path);
	g_assert_cmpuint(events->len, >=, 1);
	g_assert_cmpuint(events->len, <=, 4);
}

/* An unwritable log is said once, and the events after it are recorded when it works again. */
static void
test_audit_unwritable(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *blocker = g_build_filename(f->dir, "log", NULL);
	g_autoptr(CkAudit) audit = ck_audit_new(f->path, 1024 * 1024, 3);
	g_autoptr(GPtrArray) events = NULL;

	/* a plain file where the directory should be */
	g_assert_true(g_file_set_contents(blocker, "", -1, NULL));
	/* one whole sentence, in the locale (not an English verb put into one) */
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "Cannot create the directory of the audit log */log/audit.log: *; "
			      "events are not recorded until it works again");
	ck_audit_record(audit, CK_AUDIT_CONFIG_RELOADED, NULL, NULL, NULL, NULL, "success", NULL);
	/* said once only: a second warning would fail the test as unexpected */
	ck_audit_record(audit, CK_AUDIT_CONFIG_RELOADED, NULL, NULL, NULL, NULL, "success", NULL);
	g_test_assert_expected_messages();

	g_assert_cmpint(g_unlink(blocker), ==, 0);
	ck_audit_record(audit, CK_AUDIT_CA_REMOVED, NULL, NULL, "gone", NULL, "success", NULL);
	events = ck_test_read_events(f->path);
	g_assert_cmpuint(events->len, ==, 1);
	g_assert_cmpstr(json_object_get_string_member(g_ptr_array_index(events, 0), "event_type"),
			==, "ca_removed");
}

static void
test_audit_disabled(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkAudit) audit = ck_audit_new(NULL, 4096, 1);
	g_autofree gchar *dir = g_path_get_dirname(f->path);

	ck_audit_record(audit, CK_AUDIT_CONFIG_RELOADED, NULL, NULL, NULL, NULL, "success", NULL);
	ck_audit_sync(audit);
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
}

static void
test_audit_names(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	g_autofree gchar *trace = ck_audit_new_trace_id();
	g_autofree gchar *other = ck_audit_new_trace_id();

	for (guint i = 0; i < CK_AUDIT_N_EVENTS; i++) {
		const gchar *name = ck_audit_event_to_string(i);
		g_assert_nonnull(name);
		g_assert_cmpstr(name, !=, "unknown");
		/* snake case, unique */
		for (const gchar *p = name; *p != '\0'; p++)
			g_assert_true(g_ascii_islower(*p) || *p == '_');
		g_assert_true(g_hash_table_add(seen, (gpointer)name));
	}
	g_assert_cmpuint(strlen(trace), ==, 32);
	for (const gchar *p = trace; *p != '\0'; p++)
		g_assert_true(g_ascii_isxdigit(*p) && !g_ascii_isupper(*p));
	g_assert_cmpstr(trace, !=, other);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add("/certkeeper/audit/fields", Fixture, NULL, fixture_setup, test_audit_fields,
		   fixture_teardown);
	g_test_add("/certkeeper/audit/mode", Fixture, NULL, fixture_setup, test_audit_mode,
		   fixture_teardown);
	g_test_add("/certkeeper/audit/rotation", Fixture, NULL, fixture_setup, test_audit_rotation,
		   fixture_teardown);
	g_test_add("/certkeeper/audit/rotation-none", Fixture, NULL, fixture_setup,
		   test_audit_rotation_none, fixture_teardown);
	g_test_add("/certkeeper/audit/unwritable", Fixture, NULL, fixture_setup,
		   test_audit_unwritable, fixture_teardown);
	g_test_add("/certkeeper/audit/disabled", Fixture, NULL, fixture_setup, test_audit_disabled,
		   fixture_teardown);
	g_test_add_func("/certkeeper/audit/names", test_audit_names);
	return g_test_run();
}
