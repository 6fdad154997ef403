/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Observability through the real daemon: the audit log's entries of every event
 * type (who, what, the trace of each attempt, mode, rotation), the structured
 * journal entries as the daemon sends them over the journal's native protocol,
 * and org.freedesktop.LogControl1.
 */
#define _GNU_SOURCE /* unshare */
#include "config.h"

#include <errno.h>
#include <json-glib/json-glib.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ck-audit.h"
#include "ck-log.h"
#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define CK_TEST_JOURNAL_DIR    "/run/systemd/journal"
#define CK_TEST_JOURNAL_SOCKET CK_TEST_JOURNAL_DIR "/socket"

/* The audit log's lines, each parsed (asserting each is one JSON object). */
static GPtrArray *
ck_test_audit_events(const gchar *path)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	GPtrArray *events = g_ptr_array_new_with_free_func((GDestroyNotify)json_object_unref);

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return events;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++) {
		g_autoptr(JsonNode) node = json_from_string(lines[i], NULL);
		g_assert_nonnull(node);
		g_assert_true(JSON_NODE_HOLDS_OBJECT(node));
		g_ptr_array_add(events, json_object_ref(json_node_get_object(node)));
	}
	return events;
}

static const gchar *
ck_test_member(JsonObject *event, const gchar *object, const gchar *member)
{
	JsonObject *inner = json_object_get_object_member(event, object);
	return inner != NULL && json_object_has_member(inner, member)
		   ? json_object_get_string_member(inner, member)
		   : NULL;
}

/* The events of @type (and of request @id, unless NULL), oldest first. */
static GPtrArray *
ck_test_find_events(GPtrArray *events, const gchar *type, const gchar *id)
{
	GPtrArray *found = g_ptr_array_new();
	for (guint i = 0; i < events->len; i++) {
		JsonObject *event = g_ptr_array_index(events, i);
		if (g_strcmp0(json_object_get_string_member(event, "event_type"), type) != 0)
			continue;
		if (id != NULL &&
		    g_strcmp0(ck_test_member(event, "subject", "request_id"), id) != 0)
			continue;
		g_ptr_array_add(found, event);
	}
	return found;
}

/* The last event of @type for @id; asserts there is one. */
static JsonObject *
ck_test_last_event(GPtrArray *events, const gchar *type, const gchar *id)
{
	g_autoptr(GPtrArray) found = ck_test_find_events(events, type, id);
	if (found->len == 0)
		g_error("no %s event for %s in the audit log", type, id != NULL ? id : "anything");
	return g_ptr_array_index(found, found->len - 1);
}

static void
ck_test_assert_actor(JsonObject *event, const gchar *type, gint64 uid)
{
	JsonObject *actor = json_object_get_object_member(event, "actor");
	g_assert_cmpstr(json_object_get_string_member(actor, "type"), ==, type);
	if (g_strcmp0(type, "dbus") == 0) {
		g_assert_cmpint(json_object_get_int_member(actor, "uid"), ==, uid);
		/* the CLI process that called: a real pid, never the daemon's own */
		g_assert_cmpint(json_object_get_int_member(actor, "pid"), >, 1);
	}
}

static const gchar *
ck_test_trace(JsonObject *event)
{
	return json_object_has_member(event, "trace_id")
		   ? json_object_get_string_member(event, "trace_id")
		   : NULL;
}

static gchar *
ck_test_write_script(CkTestDaemon *td, const gchar *name, const gchar *body)
{
	g_autofree gchar *text = g_strdup_printf("#!/bin/sh\n%s\n", body);
	gchar *path = ck_test_daemon_path(td, name);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(chmod(path, 0755), ==, 0);
	return path;
}

static gint
ck_test_add(CkTestDaemon *td, const gchar *id, const gchar *ca, gboolean wait, const gchar *check)
{
	g_autofree gchar *certs = g_build_filename(td->dir, "certs", NULL);
	g_autofree gchar *cert = g_strdup_printf("%s/%s.crt", certs, id);
	g_autofree gchar *key = g_strdup_printf("%s/%s.key", certs, id);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);
	g_autofree gchar *dns = g_strdup_printf("%s.example", id);

	g_mkdir_with_parents(certs, 0755);
	if (check != NULL)
		return ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert,
				   "-k", key, "-N", subject, "-D", dns, "-c", ca, "--check-command",
				   check, "-w", "--wait-timeout=30", NULL);
	if (wait)
		return ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert,
				   "-k", key, "-N", subject, "-D", dns, "-c", ca, "-w",
				   "--wait-timeout=30", NULL);
	return ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert, "-k", key,
			   "-N", subject, "-D", dns, "-c", ca, NULL);
}

/* For a failure: what the log holds, one line an event. */
static void
ck_test_dump_events(GPtrArray *events)
{
	for (guint i = 0; i < events->len; i++) {
		JsonObject *event = g_ptr_array_index(events, i);
		g_printerr("# %s %s %s %s\n", json_object_get_string_member(event, "event_type"),
			   ck_test_member(event, "subject", "request_id"), ck_test_trace(event),
			   json_object_get_string_member(event, "result"));
	}
}

/* Every event of one attempt, from renewal_started to its end, shares one trace id. */
static const gchar *
ck_test_assert_attempt(GPtrArray *events, const gchar *id, const gchar *const *chain)
{
	const gchar *trace = ck_test_trace(ck_test_last_event(events, chain[0], id));

	g_assert_nonnull(trace);
	g_assert_cmpuint(strlen(trace), ==, 32);
	for (guint i = 1; chain[i] != NULL; i++) {
		JsonObject *event = ck_test_last_event(events, chain[i], id);
		if (g_strcmp0(ck_test_trace(event), trace) != 0)
			ck_test_dump_events(events);
		g_assert_cmpstr(ck_test_trace(event), ==, trace);
		ck_test_assert_actor(event, "scheduler", 0);
		g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "success");
	}
	return trace;
}

/* The permissive bus: root-only calls of another user reach the daemon, whose
 * refusal is what the audit log records (the bus's own refusals never come near it). */
static void
test_audit_trail_events(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PERMISSIVE);
	const gchar *const chain[] = {
	    "renewal_started",       "key_generated",     "csr_created", "certificate_issued",
	    "certificate_installed", "renewal_completed", NULL};
	/* a resubmit keeps the key */
	const gchar *const resubmit_chain[] = {"renewal_started",    "csr_created",
					       "certificate_issued", "certificate_installed",
					       "renewal_completed",  NULL};
	g_autofree gchar *audit_path = NULL, *down = NULL, *reject = NULL, *check = NULL;
	g_autofree gchar *config = NULL, *first_serial = NULL, *env = NULL, *fail_flag = NULL;
	g_autofree gchar *extra_helper = NULL, *err = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(JsonObject) status = NULL;
	g_autofree gchar *first_trace = NULL;
	const gchar *second_trace;
	JsonObject *event;

	if (td == NULL)
		return;
	audit_path = ck_test_daemon_path(td, "audit/audit.log");
	env = ck_test_daemon_path(td, "down.env");
	fail_flag = ck_test_daemon_path(td, "check.fail");
	{
		g_autofree gchar *body = g_strdup_printf(
		    "echo \"$CERTKEEPER_TRACE_ID\" > %s\necho 'the CA is down'\nexit 3", env);
		down = ck_test_write_script(td, "down.sh", body);
	}
	reject = ck_test_write_script(td, "reject.sh", "echo 'not for you'\nexit 2");
	{
		g_autofree gchar *body = g_strdup_printf("test ! -e %s", fail_flag);
		check = ck_test_write_script(td, "check.sh", body);
	}
	extra_helper = ck_test_write_script(td, "extra.sh", "exit 3");
	config = g_strdup_printf("[certkeeperd]\nAuditLog=%s\n\n"
				 "[ca down]\nType=helper\nHelper=%s\n\n"
				 "[ca rejecting]\nType=helper\nHelper=%s\n",
				 audit_path, down, reject);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);

	/* a new request: added by its caller, then one attempt by the scheduler */
	g_assert_cmpint(ck_test_add(td, "web", "local", TRUE, NULL), ==, 0);
	events = ck_test_audit_events(audit_path);
	event = ck_test_last_event(events, "request_added", "web");
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "success");
	g_assert_cmpstr(ck_test_member(event, "subject", "subject_dn"), ==, "CN=web.example");
	g_assert_cmpstr(ck_test_member(event, "subject", "ca"), ==, "local");
	g_assert_cmpstr(ck_test_member(event, "metadata", "action"), ==, "AddRequest");
	/* kept: the events are read again below */
	first_trace = g_strdup(ck_test_assert_attempt(events, "web", chain));
	event = ck_test_last_event(events, "renewal_completed", "web");
	status = ck_test_request_json(td, "web");
	first_serial = g_strdup(ck_test_json_string(status, "Serial"));
	g_assert_cmpstr(ck_test_member(event, "subject", "serial"), ==, first_serial);
	g_assert_cmpstr(ck_test_member(event, "metadata", "ca"), ==, NULL);
	g_assert_cmpstr(ck_test_member(ck_test_last_event(events, "certificate_issued", "web"),
				       "metadata", "ca"),
			==, "local");
	g_assert_cmpuint(ck_test_file_mode(audit_path), ==, 0600);

	/* a renewal someone asked for: its own trace, from the demand to the end */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "web", NULL), ==,
			0);
	{
		CkTestRequestWait want = {.state = "MONITORING", .not_serial = first_serial};
		g_autoptr(JsonObject) renewed = ck_test_wait_request(td, "web", &want, 30);
	}
	g_ptr_array_unref(events);
	events = ck_test_audit_events(audit_path);
	event = ck_test_last_event(events, "renewal_requested", "web");
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(ck_test_member(event, "metadata", "action"), ==, "Resubmit");
	second_trace = ck_test_assert_attempt(events, "web", resubmit_chain);
	g_assert_cmpstr(ck_test_trace(ck_test_last_event(events, "key_generated", "web")), ==,
			first_trace);
	g_assert_cmpstr(ck_test_trace(event), ==, second_trace);
	g_assert_cmpstr(second_trace, !=, first_trace);

	/* refused: a user who does not own the request, and one who is not root */
	g_assert_cmpint(ck_test_cli(td, TRUE, NULL, NULL, NULL, "resubmit", "-i", "web", NULL), !=,
			0);
	g_assert_cmpint(
	    ck_test_cli(td, TRUE, NULL, NULL, NULL, "add-ca", "sneaky", "-e", extra_helper, NULL),
	    !=, 0);
	g_ptr_array_unref(events);
	events = ck_test_audit_events(audit_path);
	{
		g_autoptr(GPtrArray) denied = ck_test_find_events(events, "access_denied", NULL);
		JsonObject *resubmit = NULL, *add_ca = NULL;
		for (guint i = 0; i < denied->len; i++) {
			JsonObject *d = g_ptr_array_index(denied, i);
			if (g_strcmp0(ck_test_member(d, "metadata", "action"), "Resubmit") == 0)
				resubmit = d;
			if (g_strcmp0(ck_test_member(d, "metadata", "action"), "AddCA") == 0)
				add_ca = d;
		}
		g_assert_nonnull(resubmit);
		g_assert_nonnull(add_ca);
		ck_test_assert_actor(resubmit, "dbus", 65534);
		ck_test_assert_actor(add_ca, "dbus", 65534);
		g_assert_cmpstr(json_object_get_string_member(resubmit, "result"), ==, "denied");
		g_assert_cmpstr(ck_test_member(resubmit, "subject", "request_id"), ==, "web");
		g_assert_nonnull(ck_test_member(resubmit, "metadata", "reason"));
		g_assert_cmpstr(ck_test_member(add_ca, "subject", "ca"), ==, "sneaky");
	}

	/* changes through D-Bus: modify, revoke, CAs, reload, removal */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify", "-i", "web", "-N",
				    "CN=web.example,O=changed", NULL),
			==, 0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, &err, "revoke", "-i", "web", "--reason",
				    "superseded", NULL),
			==, 0);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, NULL, "add-ca", "extra", "-e", extra_helper, NULL),
	    ==, 0);
	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, NULL, "modify-ca", "extra", "-e", reject, NULL), ==,
	    0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "remove-ca", "extra", NULL), ==,
			0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "reload", NULL), ==, 0);

	/* failures: an unreachable CA is retried, a rejection waits for a person */
	g_assert_cmpint(ck_test_add(td, "down", "down", FALSE, NULL), ==, 0);
	{
		CkTestRequestWait want = {.min_failed = 1};
		g_autoptr(JsonObject) failed = ck_test_wait_request(td, "down", &want, 30);
	}
	g_assert_cmpint(ck_test_add(td, "rej", "rejecting", FALSE, NULL), ==, 0);
	{
		CkTestRequestWait want = {.state = "CA_REJECTED"};
		g_autoptr(JsonObject) rejected = ck_test_wait_request(td, "rej", &want, 30);
	}

	/* a rollback: the post-install check fails for the renewed certificate */
	g_assert_cmpint(ck_test_add(td, "chk", "local", TRUE, check), ==, 0);
	g_assert_true(g_file_set_contents(fail_flag, "", -1, NULL));
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "chk", NULL), ==,
			0);
	{
		CkTestRequestWait want = {.error_part = "rolled back"};
		g_autoptr(JsonObject) rolled = ck_test_wait_request(td, "chk", &want, 30);
	}

	g_assert_cmpint(
	    ck_test_cli(td, FALSE, NULL, NULL, NULL, "stop-tracking", "-i", "web", NULL), ==, 0);

	g_ptr_array_unref(events);
	events = ck_test_audit_events(audit_path);
	event = ck_test_last_event(events, "request_modified", "web");
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(ck_test_member(event, "subject", "subject_dn"), ==,
			"CN=web.example,O=changed");
	event = ck_test_last_event(events, "revoked", "web");
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "success");
	g_assert_cmpstr(ck_test_member(event, "metadata", "revocation_reason"), ==, "superseded");
	g_assert_nonnull(ck_test_member(event, "metadata", "serial"));
	event = ck_test_last_event(events, "ca_added", NULL);
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(ck_test_member(event, "subject", "ca"), ==, "extra");
	g_assert_cmpstr(ck_test_member(event, "metadata", "type"), ==, "helper");
	event = ck_test_last_event(events, "ca_modified", NULL);
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(ck_test_member(event, "subject", "ca"), ==, "extra");
	event = ck_test_last_event(events, "ca_removed", NULL);
	g_assert_cmpstr(ck_test_member(event, "subject", "ca"), ==, "extra");
	event = ck_test_last_event(events, "config_reloaded", NULL);
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "success");
	event = ck_test_last_event(events, "request_removed", "web");
	ck_test_assert_actor(event, "dbus", 0);
	g_assert_cmpstr(ck_test_member(event, "metadata", "action"), ==, "RemoveRequest");

	/* the unreachable CA: retried, the helper saw the attempt's trace id */
	event = ck_test_last_event(events, "renewal_failed", "down");
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "retry");
	g_assert_nonnull(strstr(ck_test_member(event, "metadata", "reason"), "the CA is down"));
	{
		g_autofree gchar *seen = ck_test_read_file(env);
		g_strstrip(seen);
		g_assert_cmpuint(strlen(seen), ==, 32);
		g_assert_cmpstr(ck_test_trace(event), ==, seen);
		g_assert_cmpstr(
		    ck_test_trace(ck_test_last_event(events, "renewal_started", "down")), ==, seen);
	}
	event = ck_test_last_event(events, "renewal_failed", "rej");
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "failure");
	g_assert_cmpstr(ck_test_member(event, "metadata", "state"), ==, "CA_REJECTED");

	/* the rollback and the failure it is belong to the attempt that installed */
	event = ck_test_last_event(events, "rolled_back", "chk");
	g_assert_cmpstr(json_object_get_string_member(event, "result"), ==, "failure");
	g_assert_cmpstr(ck_test_trace(event), ==,
			ck_test_trace(ck_test_last_event(events, "certificate_installed", "chk")));
	g_assert_cmpstr(ck_test_trace(event), ==,
			ck_test_trace(ck_test_last_event(events, "renewal_failed", "chk")));
	g_assert_cmpstr(ck_test_trace(event), ==,
			ck_test_trace(ck_test_last_event(events, "renewal_requested", "chk")));

	/* every event type there is, except the log settings (see log-control below) */
	for (guint i = 0; i < CK_AUDIT_N_EVENTS; i++) {
		const gchar *type = ck_audit_event_to_string(i);
		g_autoptr(GPtrArray) found = NULL;
		if (i == CK_AUDIT_LOGGING_CHANGED)
			continue;
		found = ck_test_find_events(events, type, NULL);
		if (found->len == 0)
			g_error("no %s event in the audit log", type);
		/* each line has all the fields */
		for (guint j = 0; j < found->len; j++) {
			JsonObject *e = g_ptr_array_index(found, j);
			g_assert_true(json_object_has_member(e, "timestamp"));
			g_assert_true(json_object_has_member(e, "actor"));
			g_assert_true(json_object_has_member(e, "subject"));
			g_assert_true(json_object_has_member(e, "result"));
			g_assert_true(json_object_has_member(e, "metadata"));
		}
	}
	g_assert_cmpuint(ck_test_file_mode(audit_path), ==, 0600);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* A small cap: the log rotates, keeps AuditLogRotate= files, and loses no line. */
static void
test_audit_trail_rotation(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *audit_path = NULL, *first = NULL, *second = NULL, *config = NULL;
	guint reloads = 0;

	if (td == NULL)
		return;
	audit_path = ck_test_daemon_path(td, "audit.log");
	first = g_strdup_printf("%s.1", audit_path);
	second = g_strdup_printf("%s.2", audit_path);
	config = g_strdup_printf("[certkeeperd]\nAuditLog=%s\nAuditLogMaxSize=4K\n"
				 "AuditLogRotate=1\n",
				 audit_path);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	/* each reload is a line of some 250 bytes: 40 fill more than two files */
	for (guint i = 0; i < 40; i++) {
		g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "reload", NULL), ==, 0);
		reloads++;
	}
	g_assert_true(g_file_test(first, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(second, G_FILE_TEST_EXISTS));
	{
		g_autoptr(GPtrArray) older = ck_test_audit_events(first);
		g_autoptr(GPtrArray) newer = ck_test_audit_events(audit_path);
		struct stat st;

		g_assert_cmpint(stat(audit_path, &st), ==, 0);
		g_assert_cmpint(st.st_size, <=, 4096);
		g_assert_cmpint(stat(first, &st), ==, 0);
		g_assert_cmpint(st.st_size, <=, 4096);
		g_assert_cmpuint(ck_test_file_mode(first), ==, 0600);
		g_assert_cmpuint(ck_test_file_mode(audit_path), ==, 0600);
		g_assert_cmpuint(older->len, >, 0);
		g_assert_cmpuint(newer->len, >, 0);
		/* the oldest are gone with the file before .1 */
		g_assert_cmpuint(older->len + newer->len, <, reloads);
		g_assert_cmpstr(json_object_get_string_member(
				    g_ptr_array_index(newer, newer->len - 1), "event_type"),
				==, "config_reloaded");
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* The journal's native protocol, received on our own socket. */

static gint journal_fd = -1;

/* One datagram's fields: KEY=VALUE lines, or KEY, a 64-bit little-endian length and
 * the value for values with a newline. */
static GHashTable *
ck_test_parse_journal_entry(const guint8 *data, gsize len)
{
	GHashTable *fields = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	gsize pos = 0;

	while (pos < len) {
		const guint8 *nl = memchr(data + pos, '\n', len - pos);
		const guint8 *eq;
		gsize line_len;

		g_assert_nonnull(nl);
		line_len = (gsize)(nl - (data + pos));
		eq = memchr(data + pos, '=', line_len);
		if (eq != NULL) {
			g_hash_table_insert(
			    fields,
			    g_strndup((const gchar *)data + pos, (gsize)(eq - (data + pos))),
			    g_strndup((const gchar *)eq + 1,
				      line_len - (gsize)(eq - (data + pos)) - 1));
			pos += line_len + 1;
		} else {
			gchar *key = g_strndup((const gchar *)data + pos, line_len);
			guint64 size;
			pos += line_len + 1;
			g_assert_cmpuint(len - pos, >=, 8);
			memcpy(&size, data + pos, 8);
			size = GUINT64_FROM_LE(size);
			pos += 8;
			g_assert_cmpuint(len - pos, >=, size + 1);
			g_hash_table_insert(fields, key,
					    g_strndup((const gchar *)data + pos, size));
			pos += size + 1;
		}
	}
	return fields;
}

/*
 * A thread receives all the time: the kernel queues only a few datagrams on a
 * socket (net.unix.max_dgram_qlen), and a daemon whose journal is full blocks.
 */
static GMutex journal_lock;
static GPtrArray *journal_received;

static gpointer
ck_test_journal_thread(gpointer user_data)
{
	static guint8 buffer[256 * 1024];

	for (;;) {
		gssize n = recv(journal_fd, buffer, sizeof(buffer), 0);
		GHashTable *entry;
		if (n < 0) {
			g_assert_cmpint(errno, ==, EINTR);
			continue;
		}
		entry = ck_test_parse_journal_entry(buffer, (gsize)n);
		g_mutex_lock(&journal_lock);
		g_ptr_array_add(journal_received, entry);
		g_mutex_unlock(&journal_lock);
	}
	return NULL;
}

/* Everything the daemon has sent so far, moved into @entries. */
static void
ck_test_drain_journal(GPtrArray *entries)
{
	g_mutex_lock(&journal_lock);
	g_ptr_array_extend_and_steal(entries, journal_received);
	journal_received = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
	g_mutex_unlock(&journal_lock);
}

/* The lifecycle entries with @message_id of request @id. */
static GPtrArray *
ck_test_journal_find(GPtrArray *entries, const gchar *message_id, const gchar *id)
{
	GPtrArray *found = g_ptr_array_new();
	for (guint i = 0; i < entries->len; i++) {
		GHashTable *e = g_ptr_array_index(entries, i);
		if (g_strcmp0(g_hash_table_lookup(e, "MESSAGE_ID"), message_id) == 0 &&
		    g_strcmp0(g_hash_table_lookup(e, "CERTKEEPER_REQUEST_ID"), id) == 0)
			g_ptr_array_add(found, e);
	}
	return found;
}

/*
 * A private mount namespace with our own socket where the journal's is: the
 * daemon, started with --log-target=journal, talks to us as it would to journald.
 * Done once, before any thread exists; FALSE (and why) where it cannot be.
 */
static gboolean
ck_test_setup_journal(gchar **why)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int size = 8 * 1024 * 1024;

	if (geteuid() != 0) {
		*why = g_strdup("needs root: a private mount namespace for the journal socket");
		return FALSE;
	}
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		*why = g_strdup_printf("no private mount namespace: %s", g_strerror(errno));
		return FALSE;
	}
	/* a tmpfs over /run/systemd where it exists (hiding the real journal), else
	 * over /run itself, which only this namespace sees */
	if (mount("tmpfs",
		  g_file_test("/run/systemd", G_FILE_TEST_IS_DIR) ? "/run/systemd" : "/run",
		  "tmpfs", 0, "mode=0755") < 0 ||
	    g_mkdir_with_parents(CK_TEST_JOURNAL_DIR, 0755) < 0) {
		*why = g_strdup_printf("cannot mount a tmpfs for the journal socket: %s",
				       g_strerror(errno));
		return FALSE;
	}
	journal_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	g_assert_cmpint(journal_fd, >=, 0);
	g_strlcpy(addr.sun_path, CK_TEST_JOURNAL_SOCKET, sizeof(addr.sun_path));
	g_assert_cmpint(bind(journal_fd, (struct sockaddr *)&addr, sizeof(addr)), ==, 0);
	setsockopt(journal_fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size));
	journal_received = g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
	g_thread_unref(g_thread_new("journal", ck_test_journal_thread, NULL));
	return TRUE;
}

static gchar *journal_skip_reason;

static void
test_audit_trail_journal(void)
{
	g_autoptr(CkTestDaemon) td = NULL;
	g_autoptr(GPtrArray) entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)g_hash_table_unref);
	g_autofree gchar *audit_path = NULL, *down = NULL, *config = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(JsonObject) status = NULL;
	const gchar *trace;

	if (journal_skip_reason != NULL) {
		g_test_skip(journal_skip_reason);
		return;
	}
	td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	if (td == NULL)
		return;
	audit_path = ck_test_daemon_path(td, "audit.log");
	down = ck_test_write_script(td, "down.sh", "echo 'the CA is down'\nexit 3");
	config = g_strdup_printf(
	    "[certkeeperd]\nAuditLog=%s\n\n[ca down]\nType=helper\nHelper=%s\n", audit_path, down);
	ck_test_daemon_write_config(td, config);
	g_ptr_array_add(td->extra_args, g_strdup("--log-target=journal"));
	g_ptr_array_add(td->extra_args, g_strdup("--log-level=notice"));
	/* what came before this daemon is none of this test's business */
	ck_test_drain_journal(entries);
	g_ptr_array_set_size(entries, 0);
	ck_test_daemon_start(td);

	g_assert_cmpint(ck_test_add(td, "web", "local", TRUE, NULL), ==, 0);
	g_assert_cmpint(ck_test_add(td, "down", "down", FALSE, NULL), ==, 0);
	{
		CkTestRequestWait want = {.min_failed = 1};
		g_autoptr(JsonObject) failed = ck_test_wait_request(td, "down", &want, 30);
	}
	ck_test_drain_journal(entries);
	status = ck_test_request_json(td, "web");
	events = ck_test_audit_events(audit_path);
	trace = ck_test_trace(ck_test_last_event(events, "renewal_completed", "web"));
	g_assert_nonnull(trace);

	{
		g_autoptr(GPtrArray) started = ck_test_journal_find(
		    entries, ck_log_lifecycle_message_id(CK_LOG_LIFECYCLE_STARTED), "web");
		g_autoptr(GPtrArray) progress = ck_test_journal_find(
		    entries, ck_log_lifecycle_message_id(CK_LOG_LIFECYCLE_PROGRESS), "web");
		g_autoptr(GPtrArray) completed = ck_test_journal_find(
		    entries, ck_log_lifecycle_message_id(CK_LOG_LIFECYCLE_COMPLETED), "web");
		g_autoptr(GPtrArray) failed = ck_test_journal_find(
		    entries, ck_log_lifecycle_message_id(CK_LOG_LIFECYCLE_FAILED), "down");
		const gchar *steps[] = {"key_generated", "csr_created", "certificate_issued",
					"certificate_installed"};
		GHashTable *e;

		g_assert_cmpuint(started->len, ==, 1);
		e = g_ptr_array_index(started, 0);
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_EVENT"), ==, "started");
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_CA"), ==, "local");
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_TRACE_ID"), ==, trace);
		g_assert_cmpstr(g_hash_table_lookup(e, "SYSLOG_IDENTIFIER"), ==, "certkeeperd");
		g_assert_cmpstr(g_hash_table_lookup(e, "PRIORITY"), ==, "5");
		g_assert_nonnull(strstr(g_hash_table_lookup(e, "MESSAGE"), "web"));

		g_assert_cmpuint(progress->len, ==, G_N_ELEMENTS(steps));
		for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
			e = g_ptr_array_index(progress, i);
			g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_STEP"), ==, steps[i]);
			g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_EVENT"), ==, "progress");
			g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_TRACE_ID"), ==, trace);
		}
		/* from the issued certificate on, its serial */
		e = g_ptr_array_index(progress, 3);
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_SERIAL"), ==,
				ck_test_json_string(status, "Serial"));

		g_assert_cmpuint(completed->len, ==, 1);
		e = g_ptr_array_index(completed, 0);
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_EVENT"), ==, "completed");
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_SERIAL"), ==,
				ck_test_json_string(status, "Serial"));
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_TRACE_ID"), ==, trace);

		g_assert_cmpuint(failed->len, >=, 1);
		e = g_ptr_array_index(failed, 0);
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_EVENT"), ==, "failed");
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_STEP"), ==, "renewal_failed");
		g_assert_cmpstr(g_hash_table_lookup(e, "CERTKEEPER_CA"), ==, "down");
		g_assert_nonnull(strstr(g_hash_table_lookup(e, "MESSAGE"), "the CA is down"));
		g_assert_nonnull(g_hash_table_lookup(e, "CERTKEEPER_TRACE_ID"));
	}
	/* the plain messages go there too, nothing to stderr */
	{
		gboolean ready = FALSE;
		for (guint i = 0; i < entries->len; i++) {
			const gchar *m =
			    g_hash_table_lookup(g_ptr_array_index(entries, i), "MESSAGE");
			ready |= m != NULL && strstr(m, " ready (state in ") != NULL;
		}
		g_assert_true(ready);
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* LogControl1, as `systemctl service-log-level` uses it: busctl set-property. */
static gint
ck_test_busctl(CkTestDaemon *td, gboolean as_nobody, gchar **stderr_out, const gchar *verb,
	       const gchar *property, const gchar *value)
{
	g_autofree gchar *address = g_strdup_printf("--address=%s", td->bus_address);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();

	if (as_nobody) {
		g_ptr_array_add(argv, (gpointer) "setpriv");
		g_ptr_array_add(argv, (gpointer) "--reuid=nobody");
		g_ptr_array_add(argv, (gpointer) "--regid=nogroup");
		g_ptr_array_add(argv, (gpointer) "--clear-groups");
	}
	g_ptr_array_add(argv, (gpointer) "busctl");
	g_ptr_array_add(argv, address);
	g_ptr_array_add(argv, (gpointer)verb);
	g_ptr_array_add(argv, (gpointer) "org.certkeeper.Certkeeper1");
	g_ptr_array_add(argv, (gpointer) "/org/freedesktop/LogControl1");
	g_ptr_array_add(argv, (gpointer) "org.freedesktop.LogControl1");
	g_ptr_array_add(argv, (gpointer)property);
	if (value != NULL) {
		g_ptr_array_add(argv, (gpointer) "s");
		g_ptr_array_add(argv, (gpointer)value);
	}
	g_ptr_array_add(argv, NULL);
	return ck_test_run((const gchar *const *)argv->pdata, NULL, stderr_out);
}

static gchar *
ck_test_get_property(CkTestDaemon *td, const gchar *property)
{
	g_autoptr(GDBusConnection) bus = ck_test_daemon_connect(td);
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    bus, "org.certkeeper.Certkeeper1", "/org/freedesktop/LogControl1",
	    "org.freedesktop.DBus.Properties", "Get",
	    g_variant_new("(ss)", "org.freedesktop.LogControl1", property), G_VARIANT_TYPE("(v)"),
	    G_DBUS_CALL_FLAGS_NONE, 10000, NULL, &error);
	g_autoptr(GVariant) value = NULL;

	g_assert_no_error(error);
	g_variant_get(reply, "(v)", &value);
	return g_variant_dup_string(value, NULL);
}

static void
ck_test_on_log_changed(GDBusConnection *connection, const gchar *sender, const gchar *path,
		       const gchar *iface, const gchar *signal, GVariant *params,
		       gpointer user_data)
{
	GPtrArray *levels = user_data;
	g_autoptr(GVariant) changed = g_variant_get_child_value(params, 1);
	const gchar *level = NULL;

	if (g_variant_lookup(changed, "LogLevel", "&s", &level))
		g_ptr_array_add(levels, g_strdup(level));
}

static gboolean
ck_test_has_one(gpointer user_data)
{
	return ((GPtrArray *)user_data)->len > 0;
}

/* How many debug lines the daemon wrote (its audit records at debug level). */
static guint
ck_test_count_debug(CkTestDaemon *td)
{
	g_autofree gchar *log = NULL;
	guint n = 0;

	if (!g_file_get_contents(td->daemon_log, &log, NULL, NULL))
		return 0;
	for (const gchar *p = log; (p = strstr(p, "audit: {")) != NULL; p++)
		n++;
	return n;
}

static void
test_audit_trail_log_control(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *audit_path = NULL, *config = NULL, *level = NULL, *err = NULL;
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GPtrArray) levels = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDBusConnection) connection = NULL;
	JsonObject *event;
	guint before, subscription;

	if (td == NULL)
		return;
	if (!ck_test_have_program("busctl")) {
		g_test_skip("busctl (systemd) is not installed");
		return;
	}
	audit_path = ck_test_daemon_path(td, "audit.log");
	config = g_strdup_printf("[certkeeperd]\nAuditLog=%s\n", audit_path);
	ck_test_daemon_write_config(td, config);
	/* LogLevel= and --log-level are the same level: notice, shown as such */
	g_ptr_array_add(td->extra_args, g_strdup("--log-level=message"));
	ck_test_daemon_start(td);
	level = ck_test_get_property(td, "LogLevel");
	g_assert_cmpstr(level, ==, "notice");
	g_free(level);
	level = ck_test_get_property(td, "SyslogIdentifier");
	g_assert_cmpstr(level, ==, "certkeeperd");
	g_free(level);
	level = ck_test_get_property(td, "LogTarget");
	g_assert_cmpstr(level, ==, "auto");

	/* at notice, no debug lines */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "reload", NULL), ==, 0);
	g_assert_cmpuint(ck_test_count_debug(td), ==, 0);

	/* root turns debug on: watchers hear of it, and the next change logs its audit
	 * record at debug level */
	connection = ck_test_daemon_connect(td);
	subscription = g_dbus_connection_signal_subscribe(
	    connection, "org.certkeeper.Certkeeper1", "org.freedesktop.DBus.Properties",
	    "PropertiesChanged", "/org/freedesktop/LogControl1", "org.freedesktop.LogControl1",
	    G_DBUS_SIGNAL_FLAGS_NONE, ck_test_on_log_changed, levels, NULL);
	g_assert_cmpint(ck_test_busctl(td, FALSE, NULL, "set-property", "LogLevel", "debug"), ==,
			0);
	g_assert_true(ck_test_wait_for(ck_test_has_one, levels, 10000));
	g_assert_cmpstr(g_ptr_array_index(levels, 0), ==, "debug");
	g_dbus_connection_signal_unsubscribe(connection, subscription);
	g_free(level);
	level = ck_test_get_property(td, "LogLevel");
	g_assert_cmpstr(level, ==, "debug");
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "reload", NULL), ==, 0);
	before = ck_test_count_debug(td);
	g_assert_cmpuint(before, >, 0);

	/* another user may not; the level stays, the refusal is audited */
	g_assert_cmpint(ck_test_busctl(td, TRUE, &err, "set-property", "LogLevel", "emerg"), !=, 0);
	g_assert_nonnull(strstr(err, "only root"));
	g_free(level);
	level = ck_test_get_property(td, "LogLevel");
	g_assert_cmpstr(level, ==, "debug");

	/* nonsense and targets certkeeperd has not: refused, saying what there is */
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_busctl(td, FALSE, &err, "set-property", "LogLevel", "loud"), !=, 0);
	g_assert_nonnull(strstr(err, "loud"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_busctl(td, FALSE, &err, "set-property", "LogTarget", "kmsg"), !=,
			0);
	g_assert_nonnull(strstr(err, "console, journal"));
	g_clear_pointer(&err, g_free);
	g_assert_cmpint(ck_test_busctl(td, FALSE, NULL, "set-property", "LogTarget", "console"), ==,
			0);

	/* back to notice: debug lines stop */
	g_assert_cmpint(ck_test_busctl(td, FALSE, NULL, "set-property", "LogLevel", "notice"), ==,
			0);
	before = ck_test_count_debug(td);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "reload", NULL), ==, 0);
	g_assert_cmpuint(ck_test_count_debug(td), ==, before);

	events = ck_test_audit_events(audit_path);
	event = ck_test_last_event(events, "access_denied", NULL);
	ck_test_assert_actor(event, "dbus", 65534);
	g_assert_cmpstr(ck_test_member(event, "metadata", "action"), ==, "SetLogLevel");
	{
		g_autoptr(GPtrArray) changes = ck_test_find_events(events, "logging_changed", NULL);
		JsonObject *first;
		/* debug, console, notice: the refused ones changed nothing */
		g_assert_cmpuint(changes->len, ==, 3);
		first = g_ptr_array_index(changes, 0);
		ck_test_assert_actor(first, "dbus", 0);
		g_assert_cmpstr(ck_test_member(first, "metadata", "setting"), ==, "LogLevel");
		g_assert_cmpstr(ck_test_member(first, "metadata", "value"), ==, "debug");
		g_assert_cmpstr(ck_test_member(first, "metadata", "previous"), ==, "notice");
	}
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

int
main(int argc, char **argv)
{
	/* before g_test_init() and any other thread, so that the whole process and the
	 * daemons it starts live in the namespace */
	if (!ck_test_setup_journal(&journal_skip_reason))
		g_assert_nonnull(journal_skip_reason);
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/audit-trail/events", test_audit_trail_events);
	g_test_add_func("/certkeeper/audit-trail/rotation", test_audit_trail_rotation);
	g_test_add_func("/certkeeper/audit-trail/journal", test_audit_trail_journal);
	g_test_add_func("/certkeeper/audit-trail/log-control", test_audit_trail_log_control);
	return g_test_run();
}
