/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CkRequest: states, ids, change notification and the JSON state format. */
#include "config.h"

#include <string.h>

#include "ck-error.h"
#include "ck-request.h"

static void
test_request_state_names(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint s = 0; s < CK_REQUEST_STATE_LAST; s++) {
		const gchar *name = ck_request_state_to_string((CkRequestState)s);
		g_assert_nonnull(name);
		g_assert_cmpstr(name, !=, "UNKNOWN");
		g_assert_cmpint(ck_request_state_from_string(name), ==, s);
		g_assert_false(g_hash_table_contains(seen, name));
		g_hash_table_add(seen, (gpointer)name);
	}
	/* certmonger's spelling, which users and scripts know */
	g_assert_cmpstr(ck_request_state_to_string(CK_REQUEST_STATE_MONITORING), ==, "MONITORING");
	g_assert_cmpstr(ck_request_state_to_string(CK_REQUEST_STATE_CA_UNREACHABLE), ==,
			"CA_UNREACHABLE");
	g_assert_cmpstr(ck_request_state_to_string(CK_REQUEST_STATE_LAST), ==, "UNKNOWN");
	g_assert_cmpint(ck_request_state_from_string("monitoring"), ==, CK_REQUEST_STATE_LAST);
	g_assert_cmpint(ck_request_state_from_string("UNKNOWN"), ==, CK_REQUEST_STATE_LAST);
	g_assert_cmpint(ck_request_state_from_string(""), ==, CK_REQUEST_STATE_LAST);
	g_assert_cmpint(ck_request_state_from_string(NULL), ==, CK_REQUEST_STATE_LAST);
}

static void
test_request_state_sets(void)
{
	for (guint s = 0; s < CK_REQUEST_STATE_LAST; s++) {
		gboolean stuck =
		    s == CK_REQUEST_STATE_CA_REJECTED || s == CK_REQUEST_STATE_NEED_GUIDANCE;
		gboolean transient =
		    s == CK_REQUEST_STATE_GENERATING_KEY_PAIR || s == CK_REQUEST_STATE_SUBMITTING ||
		    s == CK_REQUEST_STATE_SAVING_CERT || s == CK_REQUEST_STATE_POST_SAVED;
		g_test_message("%s", ck_request_state_to_string((CkRequestState)s));
		g_assert_cmpint(ck_request_state_is_stuck((CkRequestState)s), ==, stuck);
		g_assert_cmpint(ck_request_state_is_transient((CkRequestState)s), ==, transient);
		/* a request that needs a human must survive a restart as it is */
		g_assert_false(stuck && transient);
	}
}

static void
test_request_id_validation(void)
{
	g_autofree gchar *max = g_strnfill(64, 'a');
	g_autofree gchar *too_long = g_strnfill(65, 'a');
	const gchar *good[] = {"a", "web", "20240101120000", "web-1.example_com", "A.b-C_9", max};
	const gchar *bad[] = {"",     "../x", "..",          ".hidden", "-rf", "a/b",   "a b",
			      "a\\b", "a:b",  "caf\xc3\xa9", "a\nb",    "a*",  too_long};

	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_test_message("good: %s", good[i]);
		g_assert_true(ck_request_id_is_valid(good[i]));
	}
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_test_message("bad: %s", bad[i]);
		g_assert_false(ck_request_id_is_valid(bad[i]));
	}
	g_assert_false(ck_request_id_is_valid(NULL));
}

static void
test_request_defaults(void)
{
	g_autoptr(CkRequest) r = ck_request_new("d");
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	g_assert_cmpstr(ck_request_get_id(r), ==, "d");
	g_assert_cmpint(ck_request_get_state(r), ==, CK_REQUEST_STATE_NEED_KEY_PAIR);
	g_assert_false(ck_request_get_stuck(r));
	g_assert_cmpint(ck_request_get_key_type(r), ==, CK_KEY_TYPE_DEFAULT);
	g_assert_cmpstr(ck_request_get_key_provider(r), ==, "file");
	/* lists are empty, never NULL, so callers can iterate them directly */
	g_assert_nonnull(ck_request_get_dns_names(r));
	g_assert_null(ck_request_get_dns_names(r)[0]);
	g_assert_nonnull(ck_request_get_uris(r));
	g_assert_null(ck_request_get_uris(r)[0]);
	g_assert_cmpuint(ck_request_get_cert_attrs(r)->mode, ==, 0644);
	g_assert_cmpuint(ck_request_get_key_attrs(r)->mode, ==, 0600);
	g_assert_cmpuint(ck_request_get_key_attrs(r)->uid, ==, (uid_t)-1);
	g_assert_cmpstr(ck_request_get_last_error(r), ==, "");
	g_assert_cmpint(ck_request_get_created(r), >=, now - 1);
	g_assert_cmpint(ck_request_get_created(r), <=, now + 1);
}

/* Records every "changed" emission. */
static void
on_changed(CkRequest *request, guint fields, GArray *log)
{
	g_array_append_val(log, fields);
}

/* Asserts that exactly one "changed" with exactly @bit was emitted since the last call. */
static void
ck_test_expect_one(GArray *log, guint bit, const gchar *what)
{
	g_test_message("%s", what);
	g_assert_cmpuint(log->len, ==, 1);
	g_assert_cmphex(g_array_index(log, guint, 0), ==, bit);
	g_array_set_size(log, 0);
}

static void
ck_test_expect_none(GArray *log, const gchar *what)
{
	g_test_message("%s (no change)", what);
	g_assert_cmpuint(log->len, ==, 0);
}

/* Sets a value twice: the first set must announce @bit, the identical second one nothing. */
#define CK_CHANGE(bit, call)                                                                       \
	do {                                                                                       \
		call;                                                                              \
		ck_test_expect_one(log, bit, #call);                                               \
		call;                                                                              \
		ck_test_expect_none(log, #call);                                                   \
	} while (0)

/* The watch records into the same log, marked, so the order with the signal shows. */
#define CK_TEST_WATCH_MARK 0x80000000u

static void
on_watch(CkRequest *request, guint fields, gpointer user_data)
{
	GArray *log = user_data;
	guint marked = fields | CK_TEST_WATCH_MARK;
	g_array_append_val(log, marked);
}

/*
 * The engine's watch: told of each change once, before the "changed" handlers,
 * and no more once cleared. Values that many requests share (interned) and
 * empty lists (shared) still announce every real change and nothing else.
 */
static void
test_request_watch(void)
{
	g_autoptr(CkRequest) r = ck_request_new("watched");
	g_autoptr(CkRequest) other = ck_request_new("other");
	g_autoptr(GArray) log = g_array_new(FALSE, FALSE, sizeof(guint));
	g_autofree gchar *ca = g_strdup("local");
	const gchar *dns[] = {"a.example", NULL};
	const gchar *none[] = {NULL};

	ck_request_set_watch(r, on_watch, log);
	g_signal_connect(r, "changed", G_CALLBACK(on_changed), log);
	ck_request_set_ca(r, ca);
	g_assert_cmpuint(log->len, ==, 2);
	g_assert_cmphex(g_array_index(log, guint, 0), ==, CK_REQUEST_FIELD_CA | CK_TEST_WATCH_MARK);
	g_assert_cmphex(g_array_index(log, guint, 1), ==, CK_REQUEST_FIELD_CA);
	g_array_set_size(log, 0);
	/* the same text from another buffer is no change; both requests share it */
	ck_request_set_ca(r, "local");
	g_assert_cmpuint(log->len, ==, 0);
	ck_request_set_ca(other, ca);
	g_free(g_steal_pointer(&ca));
	g_assert_true(ck_request_get_ca(r) == ck_request_get_ca(other));
	g_assert_cmpstr(ck_request_get_ca(r), ==, "local");
	ck_request_set_certificate_info(r, 1, 2, "01", "CN=issuer");
	ck_request_set_certificate_info(other, 1, 2, "02", "CN=issuer");
	g_assert_true(ck_request_get_issuer(r) == ck_request_get_issuer(other));
	g_array_set_size(log, 0);
	/* lists: empty, filled, emptied again */
	g_assert_nonnull(ck_request_get_dns_names(r));
	g_assert_null(ck_request_get_dns_names(r)[0]);
	ck_request_set_dns_names(r, none);
	ck_request_set_dns_names(r, NULL);
	g_assert_cmpuint(log->len, ==, 0);
	ck_request_set_dns_names(r, dns);
	g_assert_cmpuint(log->len, ==, 2);
	g_assert_cmpstr(ck_request_get_dns_names(r)[0], ==, "a.example");
	ck_request_set_dns_names(r, none);
	g_assert_cmpuint(log->len, ==, 4);
	g_assert_null(ck_request_get_dns_names(r)[0]);
	g_array_set_size(log, 0);

	ck_request_set_watch(r, NULL, NULL);
	ck_request_set_ca(r, "elsewhere");
	g_assert_cmpuint(log->len, ==, 1);
	g_assert_cmphex(g_array_index(log, guint, 0), ==, CK_REQUEST_FIELD_CA);
}

static void
test_request_changed_signal(void)
{
	g_autoptr(CkRequest) r = ck_request_new("sig");
	g_autoptr(GArray) log = g_array_new(FALSE, FALSE, sizeof(guint));
	const gchar *dns[] = {"a.example", "b.example", NULL};
	const gchar *dns_reordered[] = {"b.example", "a.example", NULL};
	const gchar *ips[] = {"192.0.2.1", NULL};
	const gchar *emails[] = {"a@example.org", NULL};
	const gchar *uris[] = {"spiffe://example.org/x", NULL};
	const gchar *ku[] = {"digitalSignature", NULL};
	const gchar *eku[] = {"serverAuth", NULL};
	CkFileAttrs cert_attrs = CK_FILE_ATTRS_INIT(0640);
	CkFileAttrs key_attrs = CK_FILE_ATTRS_INIT(0400);

	g_signal_connect(r, "changed", G_CALLBACK(on_changed), log);

	CK_CHANGE(CK_REQUEST_FIELD_STATE, ck_request_set_state(r, CK_REQUEST_STATE_CA_REJECTED));
	g_assert_true(ck_request_get_stuck(r));
	CK_CHANGE(CK_REQUEST_FIELD_STATE, ck_request_set_state(r, CK_REQUEST_STATE_MONITORING));
	g_assert_false(ck_request_get_stuck(r));
	CK_CHANGE(CK_REQUEST_FIELD_SUBJECT, ck_request_set_subject(r, "CN=a"));
	CK_CHANGE(CK_REQUEST_FIELD_SUBJECT, ck_request_set_subject(r, "CN=b"));
	CK_CHANGE(CK_REQUEST_FIELD_SUBJECT, ck_request_set_subject(r, NULL));
	CK_CHANGE(CK_REQUEST_FIELD_DNS_NAMES, ck_request_set_dns_names(r, dns));
	/* order is part of the value (the first name is the primary one) */
	CK_CHANGE(CK_REQUEST_FIELD_DNS_NAMES, ck_request_set_dns_names(r, dns_reordered));
	CK_CHANGE(CK_REQUEST_FIELD_IP_ADDRESSES, ck_request_set_ip_addresses(r, ips));
	CK_CHANGE(CK_REQUEST_FIELD_EMAILS, ck_request_set_emails(r, emails));
	CK_CHANGE(CK_REQUEST_FIELD_URIS, ck_request_set_uris(r, uris));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_key_usage(r, ku));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_extended_key_usage(r, eku));
	CK_CHANGE(CK_REQUEST_FIELD_KEY_TYPE, ck_request_set_key_type(r, CK_KEY_TYPE_RSA_3072));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_key_provider(r, "tpm"));
	CK_CHANGE(CK_REQUEST_FIELD_CERT_FILE, ck_request_set_cert_file(r, "/etc/x.crt"));
	CK_CHANGE(CK_REQUEST_FIELD_KEY_FILE, ck_request_set_key_file(r, "/etc/x.key"));
	CK_CHANGE(CK_REQUEST_FIELD_CHAIN_FILE, ck_request_set_chain_file(r, "/etc/x.chain"));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_cert_attrs(r, &cert_attrs));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_key_attrs(r, &key_attrs));
	key_attrs.uid = 0;
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_key_attrs(r, &key_attrs));
	key_attrs.gid = 0;
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_key_attrs(r, &key_attrs));
	CK_CHANGE(CK_REQUEST_FIELD_CA, ck_request_set_ca(r, "other"));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_profile(r, "server"));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_validity(r, 90 * 86400));
	CK_CHANGE(CK_REQUEST_FIELD_POLICY, ck_request_set_owner_uid(r, 1000));
	CK_CHANGE(CK_REQUEST_FIELD_CERTIFICATE,
		  ck_request_set_certificate_info(r, 100, 200, "01ab", "CN=issuer"));
	CK_CHANGE(CK_REQUEST_FIELD_CERTIFICATE,
		  ck_request_set_certificate_info(r, 100, 201, "01ab", "CN=issuer"));
	CK_CHANGE(CK_REQUEST_FIELD_CERTIFICATE,
		  ck_request_set_certificate_info(r, 100, 201, "01ac", "CN=issuer"));
	CK_CHANGE(CK_REQUEST_FIELD_CERTIFICATE,
		  ck_request_set_certificate_info(r, 100, 201, "01ac", "CN=other"));
	CK_CHANGE(CK_REQUEST_FIELD_LAST_ERROR, ck_request_set_last_error(r, "boom"));
	CK_CHANGE(CK_REQUEST_FIELD_OTHER, ck_request_set_ca_cookie(r, "cookie"));
	CK_CHANGE(CK_REQUEST_FIELD_SCHEDULE, ck_request_set_next_attempt(r, 12345));
	CK_CHANGE(CK_REQUEST_FIELD_SCHEDULE, ck_request_set_failed_attempts(r, 3));

	/* "" and NULL both mean "no error": going from one to the other is no change */
	ck_request_set_last_error(r, "");
	ck_test_expect_one(log, CK_REQUEST_FIELD_LAST_ERROR, "clear last error");
	g_assert_cmpstr(ck_request_get_last_error(r), ==, "");
	ck_request_set_last_error(r, NULL);
	ck_test_expect_none(log, "NULL after \"\"");

	/* an empty list and NULL are the same value */
	ck_request_set_dns_names(r, NULL);
	ck_test_expect_one(log, CK_REQUEST_FIELD_DNS_NAMES, "clear dns names");
	g_assert_nonnull(ck_request_get_dns_names(r));
	g_assert_null(ck_request_get_dns_names(r)[0]);
	{
		const gchar *empty[] = {NULL};
		ck_request_set_dns_names(r, empty);
		ck_test_expect_none(log, "empty list after NULL");
	}

	/* the setter copies: changing the caller's array afterwards changes nothing */
	{
		gchar *mutable_dns[] = {g_strdup("c.example"), NULL};
		ck_request_set_dns_names(r, (const gchar *const *)mutable_dns);
		ck_test_expect_one(log, CK_REQUEST_FIELD_DNS_NAMES, "mutable dns");
		g_free(mutable_dns[0]);
		mutable_dns[0] = g_strdup("d.example");
		g_assert_cmpstr(ck_request_get_dns_names(r)[0], ==, "c.example");
		g_free(mutable_dns[0]);
	}
}

#undef CK_CHANGE

/* A request with every field set to something other than its default. */
static CkRequest *
ck_test_full_request(void)
{
	CkRequest *r = ck_request_new("full-1.example");
	const gchar *dns[] = {"a.example", "*.b.example", NULL};
	const gchar *ips[] = {"192.0.2.1", "2001:db8::1", NULL};
	const gchar *emails[] = {"ops@example.org", NULL};
	const gchar *uris[] = {"spiffe://example.org/web", "https://example.org/", NULL};
	const gchar *ku[] = {"digitalSignature", "keyEncipherment", NULL};
	const gchar *eku[] = {"serverAuth", "1.3.6.1.5.5.7.3.2", NULL};
	/* uid -1 ("leave as created") beside a real gid, and the reverse */
	CkFileAttrs cert_attrs = {.uid = (uid_t)-1, .gid = 33, .mode = 0640};
	CkFileAttrs key_attrs = {.uid = 33, .gid = (gid_t)-1, .mode = 0400};

	ck_request_set_state(r, CK_REQUEST_STATE_CA_WORKING);
	ck_request_set_subject(r, "CN=full.example,O=Example\\, Inc.");
	ck_request_set_dns_names(r, dns);
	ck_request_set_ip_addresses(r, ips);
	ck_request_set_emails(r, emails);
	ck_request_set_uris(r, uris);
	ck_request_set_key_usage(r, ku);
	ck_request_set_extended_key_usage(r, eku);
	ck_request_set_key_type(r, CK_KEY_TYPE_ED25519);
	ck_request_set_key_provider(r, "tpm");
	ck_request_set_cert_file(r, "/etc/ssl/full.crt");
	ck_request_set_key_file(r, "/etc/ssl/private/full.key");
	ck_request_set_chain_file(r, "/etc/ssl/full.chain");
	ck_request_set_cert_attrs(r, &cert_attrs);
	ck_request_set_key_attrs(r, &key_attrs);
	ck_request_set_ca(r, "corp");
	ck_request_set_profile(r, "webserver");
	ck_request_set_validity(r, 90 * 86400);
	ck_request_set_owner_uid(r, 1000);
	ck_request_set_certificate_info(r, 1700000000, 1800000000, "7f01", "CN=corp issuing");
	ck_request_set_last_error(r, "CA said \"later\"\nline two");
	ck_request_set_ca_cookie(r, "cookie-42");
	ck_request_set_next_attempt(r, 1750000000);
	ck_request_set_failed_attempts(r, 4);
	ck_request_set_working_since(r, 1740000000);
	/* follows from the certificate and the clock: never stored */
	ck_request_set_expiry_status(r, CK_EXPIRY_EXPIRING);
	return r;
}

static void
ck_test_assert_strv(const gchar *const *a, const gchar *const *b)
{
	g_assert_nonnull(a);
	g_assert_nonnull(b);
	g_assert_cmpuint(g_strv_length((gchar **)a), ==, g_strv_length((gchar **)b));
	for (guint i = 0; a[i] != NULL; i++)
		g_assert_cmpstr(a[i], ==, b[i]);
}

static void
ck_test_assert_attrs(const CkFileAttrs *a, const CkFileAttrs *b)
{
	g_assert_cmpuint(a->uid, ==, b->uid);
	g_assert_cmpuint(a->gid, ==, b->gid);
	g_assert_cmpuint(a->mode, ==, b->mode);
}

static void
test_request_json_round_trip(void)
{
	g_autoptr(CkRequest) a = ck_test_full_request();
	g_autoptr(CkRequest) b = NULL;
	g_autoptr(JsonNode) node = ck_request_to_json(a);
	g_autoptr(JsonNode) node2 = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *text2 = NULL;
	JsonObject *obj;

	/* "created" has no setter: give it a value "now" cannot produce */
	obj = json_node_get_object(node);
	json_object_set_int_member(obj, "created", 1234567);
	text = json_to_string(node, TRUE);
	g_test_message("%s", text);

	b = ck_request_new_from_json(node, &error);
	g_assert_no_error(error);
	g_assert_nonnull(b);
	g_assert_cmpstr(ck_request_get_id(b), ==, "full-1.example");
	g_assert_cmpint(ck_request_get_state(b), ==, CK_REQUEST_STATE_CA_WORKING);
	g_assert_cmpstr(ck_request_get_subject(b), ==, ck_request_get_subject(a));
	ck_test_assert_strv(ck_request_get_dns_names(b), ck_request_get_dns_names(a));
	ck_test_assert_strv(ck_request_get_ip_addresses(b), ck_request_get_ip_addresses(a));
	ck_test_assert_strv(ck_request_get_emails(b), ck_request_get_emails(a));
	ck_test_assert_strv(ck_request_get_uris(b), ck_request_get_uris(a));
	ck_test_assert_strv(ck_request_get_key_usage(b), ck_request_get_key_usage(a));
	ck_test_assert_strv(ck_request_get_extended_key_usage(b),
			    ck_request_get_extended_key_usage(a));
	g_assert_cmpint(ck_request_get_key_type(b), ==, CK_KEY_TYPE_ED25519);
	g_assert_cmpstr(ck_request_get_key_provider(b), ==, "tpm");
	g_assert_cmpstr(ck_request_get_cert_file(b), ==, "/etc/ssl/full.crt");
	g_assert_cmpstr(ck_request_get_key_file(b), ==, "/etc/ssl/private/full.key");
	g_assert_cmpstr(ck_request_get_chain_file(b), ==, "/etc/ssl/full.chain");
	ck_test_assert_attrs(ck_request_get_cert_attrs(b), ck_request_get_cert_attrs(a));
	ck_test_assert_attrs(ck_request_get_key_attrs(b), ck_request_get_key_attrs(a));
	g_assert_cmpuint(ck_request_get_cert_attrs(b)->uid, ==, (uid_t)-1);
	g_assert_cmpuint(ck_request_get_key_attrs(b)->gid, ==, (gid_t)-1);
	g_assert_cmpstr(ck_request_get_ca(b), ==, "corp");
	g_assert_cmpstr(ck_request_get_profile(b), ==, "webserver");
	g_assert_cmpint(ck_request_get_validity(b), ==, 90 * 86400);
	g_assert_cmpuint(ck_request_get_owner_uid(b), ==, 1000);
	g_assert_cmpint(ck_request_get_not_before(b), ==, 1700000000);
	g_assert_cmpint(ck_request_get_not_after(b), ==, 1800000000);
	g_assert_cmpstr(ck_request_get_serial(b), ==, "7f01");
	g_assert_cmpstr(ck_request_get_issuer(b), ==, "CN=corp issuing");
	g_assert_cmpstr(ck_request_get_last_error(b), ==, "CA said \"later\"\nline two");
	g_assert_cmpstr(ck_request_get_ca_cookie(b), ==, "cookie-42");
	g_assert_cmpint(ck_request_get_next_attempt(b), ==, 1750000000);
	g_assert_cmpuint(ck_request_get_failed_attempts(b), ==, 4);
	g_assert_cmpint(ck_request_get_created(b), ==, 1234567);
	g_assert_cmpint(ck_request_get_working_since(b), ==, 1740000000);
	g_assert_cmpint(ck_request_get_expiry_status(b), ==, CK_EXPIRY_NONE);

	/* and back again: nothing is lost or added on a second trip */
	node2 = ck_request_to_json(b);
	text2 = json_to_string(node2, TRUE);
	g_assert_cmpstr(text2, ==, text);
}

static void
test_request_json_minimal(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(JsonNode) node =
	    json_from_string("{\"version\":1,\"id\":\"m\",\"state\":\"MONITORING\","
			     "\"key-type\":\"rsa-2048\",\"cert-file\":\"/c\",\"key-file\":\"/k\"}",
			     &error);
	g_autoptr(CkRequest) r = NULL;

	g_assert_no_error(error);
	r = ck_request_new_from_json(node, &error);
	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_assert_cmpint(ck_request_get_key_type(r), ==, CK_KEY_TYPE_RSA_2048);
	/* what the file does not say keeps its default */
	g_assert_cmpstr(ck_request_get_key_provider(r), ==, "file");
	g_assert_null(ck_request_get_subject(r));
	g_assert_nonnull(ck_request_get_dns_names(r));
	g_assert_null(ck_request_get_dns_names(r)[0]);
	g_assert_nonnull(ck_request_get_extended_key_usage(r));
	g_assert_cmpuint(ck_request_get_cert_attrs(r)->mode, ==, 0644);
	g_assert_cmpuint(ck_request_get_key_attrs(r)->mode, ==, 0600);
	g_assert_cmpuint(ck_request_get_key_attrs(r)->uid, ==, (uid_t)-1);
	g_assert_cmpstr(ck_request_get_last_error(r), ==, "");
	g_assert_null(ck_request_get_chain_file(r));
}

/* A valid state object, as text, for the negative cases to spoil one thing at a time. */
static JsonNode *
ck_test_valid_json(void)
{
	g_autoptr(CkRequest) r = ck_test_full_request();
	return ck_request_to_json(r);
}

typedef void (*CkJsonSpoiler)(JsonObject *obj);

static void
spoil_version_missing(JsonObject *obj)
{
	json_object_remove_member(obj, "version");
}

static void
spoil_version_zero(JsonObject *obj)
{
	json_object_set_int_member(obj, "version", 0);
}

static void
spoil_version_future(JsonObject *obj)
{
	json_object_set_int_member(obj, "version", 2);
}

static void
spoil_version_string(JsonObject *obj)
{
	json_object_set_string_member(obj, "version", "1");
}

static void
spoil_id_missing(JsonObject *obj)
{
	json_object_remove_member(obj, "id");
}

static void
spoil_id_traversal(JsonObject *obj)
{
	json_object_set_string_member(obj, "id", "../x");
}

static void
spoil_id_number(JsonObject *obj)
{
	json_object_set_int_member(obj, "id", 7);
}

static void
spoil_state_unknown(JsonObject *obj)
{
	json_object_set_string_member(obj, "state", "SLEEPING");
}

static void
spoil_state_missing(JsonObject *obj)
{
	json_object_remove_member(obj, "state");
}

static void
spoil_key_type_unknown(JsonObject *obj)
{
	json_object_set_string_member(obj, "key-type", "dsa-1024");
}

static void
spoil_key_type_missing(JsonObject *obj)
{
	json_object_remove_member(obj, "key-type");
}

static void
spoil_cert_file_missing(JsonObject *obj)
{
	json_object_remove_member(obj, "cert-file");
}

static void
spoil_key_file_missing(JsonObject *obj)
{
	json_object_remove_member(obj, "key-file");
}

static void
spoil_key_file_number(JsonObject *obj)
{
	json_object_set_int_member(obj, "key-file", 3);
}

static void
spoil_list_non_string(JsonObject *obj)
{
	JsonArray *array = json_object_get_array_member(obj, "dns-names");
	json_array_add_int_element(array, 5);
}

static void
spoil_list_nested(JsonObject *obj)
{
	JsonArray *array = json_object_get_array_member(obj, "extended-key-usage");
	json_array_add_array_element(array, json_array_new());
}

static void
spoil_list_null(JsonObject *obj)
{
	JsonArray *array = json_object_get_array_member(obj, "uris");
	json_array_add_null_element(array);
}

static void
spoil_list_not_a_list(JsonObject *obj)
{
	json_object_set_string_member(obj, "emails", "ops@example.org");
}

static void
spoil_attrs_not_an_object(JsonObject *obj)
{
	json_object_set_int_member(obj, "key-attrs", 384);
}

static const struct {
	const gchar *name;
	CkJsonSpoiler spoil;
	gint code;
} json_cases[] = {
    {"version-missing", spoil_version_missing, CK_ERROR_UNSUPPORTED},
    {"version-zero", spoil_version_zero, CK_ERROR_UNSUPPORTED},
    {"version-future", spoil_version_future, CK_ERROR_UNSUPPORTED},
    {"version-string", spoil_version_string, CK_ERROR_UNSUPPORTED},
    {"id-missing", spoil_id_missing, CK_ERROR_INVALID_ARGUMENT},
    {"id-traversal", spoil_id_traversal, CK_ERROR_INVALID_ARGUMENT},
    {"id-number", spoil_id_number, CK_ERROR_INVALID_ARGUMENT},
    {"state-unknown", spoil_state_unknown, CK_ERROR_INVALID_ARGUMENT},
    {"state-missing", spoil_state_missing, CK_ERROR_INVALID_ARGUMENT},
    {"key-type-unknown", spoil_key_type_unknown, CK_ERROR_INVALID_ARGUMENT},
    {"key-type-missing", spoil_key_type_missing, CK_ERROR_INVALID_ARGUMENT},
    {"cert-file-missing", spoil_cert_file_missing, CK_ERROR_INVALID_ARGUMENT},
    {"key-file-missing", spoil_key_file_missing, CK_ERROR_INVALID_ARGUMENT},
    {"key-file-number", spoil_key_file_number, CK_ERROR_INVALID_ARGUMENT},
    {"list-non-string", spoil_list_non_string, CK_ERROR_INVALID_ARGUMENT},
    {"list-nested", spoil_list_nested, CK_ERROR_INVALID_ARGUMENT},
    {"list-null", spoil_list_null, CK_ERROR_INVALID_ARGUMENT},
    {"list-not-a-list", spoil_list_not_a_list, CK_ERROR_INVALID_ARGUMENT},
    {"attrs-not-an-object", spoil_attrs_not_an_object, CK_ERROR_INVALID_ARGUMENT},
};

static void
test_request_json_rejects(gconstpointer data)
{
	guint i = GPOINTER_TO_UINT(data);
	g_autoptr(JsonNode) node = ck_test_valid_json();
	g_autoptr(GError) error = NULL;
	g_autoptr(CkRequest) r = NULL;

	/* the unspoilt object loads, so the failure below is the spoiler's doing */
	r = ck_request_new_from_json(node, &error);
	g_assert_no_error(error);
	g_clear_object(&r);

	json_cases[i].spoil(json_node_get_object(node));
	r = ck_request_new_from_json(node, &error);
	g_assert_null(r);
	g_assert_error(error, CK_ERROR, json_cases[i].code);
	g_test_message("%s: %s", json_cases[i].name, error->message);
}

static void
test_request_json_not_an_object(void)
{
	const gchar *texts[] = {"[]", "\"a\"", "42", "null", "[{\"version\":1}]"};

	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(JsonNode) node = json_from_string(texts[i], &error);
		g_autoptr(CkRequest) r = NULL;
		g_assert_no_error(error);
		r = ck_request_new_from_json(node, &error);
		g_assert_null(r);
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_null(ck_request_new_from_json(NULL, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	}
}

static void
test_request_json_errors_name_value(void)
{
	g_autoptr(JsonNode) node = ck_test_valid_json();
	g_autoptr(GError) error = NULL;

	/* a human reading the quarantine log line needs to see what was wrong */
	spoil_state_unknown(json_node_get_object(node));
	g_assert_null(ck_request_new_from_json(node, &error));
	g_assert_nonnull(strstr(error->message, "SLEEPING"));
	g_clear_error(&error);
	json_object_set_string_member(json_node_get_object(node), "state", "MONITORING");
	spoil_key_type_unknown(json_node_get_object(node));
	g_assert_null(ck_request_new_from_json(node, &error));
	g_assert_nonnull(strstr(error->message, "dsa-1024"));
}

/* A self-signed certificate made here, so the expected values are known independently. */
static gchar *
ck_test_make_cert(time_t not_before, time_t not_after, const guint8 *serial, gsize serial_len)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t out = {NULL, 0};
	gchar *pem;

	g_assert_cmpint(gnutls_x509_privkey_init(&key), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_privkey_generate2(
		key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0),
	    ==, 0);
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_dn(crt, "CN=info test,O=Example", NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_key(crt, key), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, serial, serial_len), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, not_before), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, not_after), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), ==, 0);
	pem = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return pem;
}

static void
on_changed_count(CkRequest *request, guint fields, guint *mask)
{
	*mask |= fields;
}

static void
test_request_certificate_info_from_pem(void)
{
	const guint8 serial[] = {0x0a, 0xbc, 0x00, 0xff};
	g_autofree gchar *pem = ck_test_make_cert(1700000000, 1900000000, serial, sizeof(serial));
	g_autoptr(CkRequest) r = ck_request_new("pem");
	g_autoptr(GError) error = NULL;
	guint mask = 0;

	g_signal_connect(r, "changed", G_CALLBACK(on_changed_count), &mask);
	g_assert_true(ck_request_set_certificate_info_from_pem(r, pem, &error));
	g_assert_no_error(error);
	g_assert_cmphex(mask, ==, CK_REQUEST_FIELD_CERTIFICATE);
	g_assert_cmpint(ck_request_get_not_before(r), ==, 1700000000);
	g_assert_cmpint(ck_request_get_not_after(r), ==, 1900000000);
	g_assert_cmpstr(ck_request_get_serial(r), ==, "0abc00ff");
	g_assert_cmpstr(ck_request_get_issuer(r), ==, "CN=info test,O=Example");

	mask = 0;
	g_assert_false(ck_request_set_certificate_info_from_pem(r, "not a certificate", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	/* a failed read leaves what was known */
	g_assert_cmphex(mask, ==, 0);
	g_assert_cmpstr(ck_request_get_serial(r), ==, "0abc00ff");
}

static void
test_request_csr_params(void)
{
	g_autoptr(CkRequest) r = ck_test_full_request();
	CkCsrParams params = {NULL};

	ck_request_get_csr_params(r, &params);
	g_assert_true(params.subject == ck_request_get_subject(r));
	g_assert_true(params.dns_names == ck_request_get_dns_names(r));
	g_assert_true(params.ip_addresses == ck_request_get_ip_addresses(r));
	g_assert_true(params.emails == ck_request_get_emails(r));
	g_assert_true(params.uris == ck_request_get_uris(r));
	g_assert_true(params.key_usage == ck_request_get_key_usage(r));
	g_assert_true(params.extended_key_usage == ck_request_get_extended_key_usage(r));
	/* and the request's own values are valid CSR parameters */
	g_assert_true(ck_csr_validate(&params, NULL));
}

static void
test_request_template_id(void)
{
	g_autoptr(CkRequest) r = ck_request_new(NULL);
	g_assert_null(ck_request_get_id(r));
	ck_request_set_template_id(r, "chosen");
	g_assert_cmpstr(ck_request_get_id(r), ==, "chosen");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/request/state-names", test_request_state_names);
	g_test_add_func("/certkeeper/request/state-sets", test_request_state_sets);
	g_test_add_func("/certkeeper/request/id-validation", test_request_id_validation);
	g_test_add_func("/certkeeper/request/defaults", test_request_defaults);
	g_test_add_func("/certkeeper/request/changed-signal", test_request_changed_signal);
	g_test_add_func("/certkeeper/request/watch", test_request_watch);
	g_test_add_func("/certkeeper/request/template-id", test_request_template_id);
	g_test_add_func("/certkeeper/request/csr-params", test_request_csr_params);
	g_test_add_func("/certkeeper/request/certificate-info-from-pem",
			test_request_certificate_info_from_pem);
	g_test_add_func("/certkeeper/request/json/round-trip", test_request_json_round_trip);
	g_test_add_func("/certkeeper/request/json/minimal", test_request_json_minimal);
	g_test_add_func("/certkeeper/request/json/not-an-object", test_request_json_not_an_object);
	g_test_add_func("/certkeeper/request/json/errors-name-value",
			test_request_json_errors_name_value);
	for (guint i = 0; i < G_N_ELEMENTS(json_cases); i++) {
		g_autofree gchar *path =
		    g_strdup_printf("/certkeeper/request/json/rejects/%s", json_cases[i].name);
		g_test_add_data_func(path, GUINT_TO_POINTER(i), test_request_json_rejects);
	}
	return g_test_run();
}
