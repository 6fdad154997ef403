/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Prometheus metrics: counters kept across restarts, and the text exposition
 * format rendered from them and from the requests. The names mirror
 * cert-manager's (certmanager_certificate_expiration_timestamp_seconds, ...)
 * with a certkeeper_ prefix, so existing dashboards and habits carry over.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "ck-error.h"
#include "ck-file-util.h"
#include "ck-metrics.h"

/* The version of the saved counters' file. */
#define CK_METRICS_FILE_VERSION 1

/*
 * From an in-process local CA (milliseconds) to a helper that runs into its
 * time limit (60 s by default, up to minutes for ACME orders).
 */
static const gdouble ck_metrics_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
					     2.5,   5,    10,    30,   60,  120,  300};
#define CK_METRICS_N_BUCKETS G_N_ELEMENTS(ck_metrics_buckets)

static const gchar *const ck_metrics_attempt_names[] = {"success", "failure"};
static const gchar *const ck_metrics_failure_names[] = {
    "key",        "csr",     "ca_unreachable", "ca_rejected", "ca_config",
    "validation", "install", "post_install",   "other"};
static const gchar *const ck_metrics_ca_result_names[] = {"issued", "rejected", "unreachable",
							  "waiting"};
static const gchar *const ck_metrics_condition_names[] = {"valid",    "expiring", "expired",
							  "renewing", "failing",  "revoked"};

G_STATIC_ASSERT(G_N_ELEMENTS(ck_metrics_attempt_names) == CK_METRICS_ATTEMPT_LAST);
G_STATIC_ASSERT(G_N_ELEMENTS(ck_metrics_failure_names) == CK_METRICS_FAILURE_LAST);
G_STATIC_ASSERT(G_N_ELEMENTS(ck_metrics_ca_result_names) == CK_METRICS_CA_LAST);
G_STATIC_ASSERT(G_N_ELEMENTS(ck_metrics_condition_names) == CK_METRICS_CONDITION_LAST);

/* One CA's counters. */
typedef struct {
	guint64 requests[CK_METRICS_CA_LAST];
	guint64 buckets[CK_METRICS_N_BUCKETS]; /* per bucket, not cumulative; +Inf is count */
	guint64 count;
	gdouble sum;
} CkMetricsCa;

struct _CkMetrics {
	GObject parent_instance;
	guint64 attempts[CK_METRICS_ATTEMPT_LAST];
	guint64 failures[CK_METRICS_FAILURE_LAST];
	GHashTable *cas; /* name -> CkMetricsCa */
	gboolean dirty;
};

G_DEFINE_TYPE(CkMetrics, ck_metrics, G_TYPE_OBJECT)

const gchar *
ck_metrics_attempt_to_string(CkMetricsAttempt attempt)
{
	g_return_val_if_fail((guint)attempt < CK_METRICS_ATTEMPT_LAST, NULL);
	return ck_metrics_attempt_names[attempt];
}

const gchar *
ck_metrics_failure_to_string(CkMetricsFailure failure)
{
	g_return_val_if_fail((guint)failure < CK_METRICS_FAILURE_LAST, NULL);
	return ck_metrics_failure_names[failure];
}

const gchar *
ck_metrics_ca_result_to_string(CkMetricsCaResult result)
{
	g_return_val_if_fail((guint)result < CK_METRICS_CA_LAST, NULL);
	return ck_metrics_ca_result_names[result];
}

const gchar *
ck_metrics_condition_to_string(CkMetricsCondition condition)
{
	g_return_val_if_fail((guint)condition < CK_METRICS_CONDITION_LAST, NULL);
	return ck_metrics_condition_names[condition];
}

const gdouble *
ck_metrics_duration_buckets(guint *n_buckets)
{
	*n_buckets = CK_METRICS_N_BUCKETS;
	return ck_metrics_buckets;
}

CkMetricsFailure
ck_metrics_failure_reason(CkRequestState from, CkRequestState to)
{
	/* what the CA said is the reason, wherever the request was */
	if (to == CK_REQUEST_STATE_CA_UNREACHABLE)
		return CK_METRICS_FAILURE_CA_UNREACHABLE;
	if (to == CK_REQUEST_STATE_CA_REJECTED)
		return CK_METRICS_FAILURE_CA_REJECTED;
	switch (from) {
	case CK_REQUEST_STATE_NEED_KEY_PAIR:
	case CK_REQUEST_STATE_GENERATING_KEY_PAIR:
		return CK_METRICS_FAILURE_KEY;
	case CK_REQUEST_STATE_NEED_CSR:
		return CK_METRICS_FAILURE_CSR;
	case CK_REQUEST_STATE_SUBMITTING:
	case CK_REQUEST_STATE_CA_WORKING:
	case CK_REQUEST_STATE_CA_UNREACHABLE:
		/* the CA answered, but cannot issue this as configured (or is missing) */
		return CK_METRICS_FAILURE_CA_CONFIG;
	case CK_REQUEST_STATE_SAVING_CERT:
		/* a failed check calls for a human; a failed install is tried again */
		return to == CK_REQUEST_STATE_NEED_GUIDANCE ? CK_METRICS_FAILURE_VALIDATION
							    : CK_METRICS_FAILURE_INSTALL;
	case CK_REQUEST_STATE_POST_SAVED:
		return CK_METRICS_FAILURE_POST_INSTALL;
	case CK_REQUEST_STATE_CA_REJECTED:
	case CK_REQUEST_STATE_NEED_GUIDANCE:
	case CK_REQUEST_STATE_MONITORING:
	case CK_REQUEST_STATE_NEED_TO_RECOVER:
	case CK_REQUEST_STATE_STOPPED:
	case CK_REQUEST_STATE_LAST:
	default:
		return CK_METRICS_FAILURE_OTHER;
	}
}

CkMetricsCondition
ck_metrics_condition(CkRequest *request, gint64 now)
{
	CkRequestState state = ck_request_get_state(request);
	gint64 not_after = ck_request_get_not_after(request);
	gint64 renewal = ck_request_get_renewal_time(request);

	/* the worst first: an expired certificate is that, whatever is being tried */
	if (not_after > 0 && not_after <= now)
		return CK_METRICS_CONDITION_EXPIRED;
	if (ck_request_get_failed_attempts(request) > 0 || ck_request_state_is_stuck(state) ||
	    state == CK_REQUEST_STATE_CA_UNREACHABLE || state == CK_REQUEST_STATE_NEED_TO_RECOVER)
		return CK_METRICS_CONDITION_FAILING;
	if (not_after > 0 && ck_request_get_revoked(request) > 0)
		return CK_METRICS_CONDITION_REVOKED;
	if (not_after == 0 ||
	    (state != CK_REQUEST_STATE_MONITORING && state != CK_REQUEST_STATE_STOPPED))
		return CK_METRICS_CONDITION_RENEWING;
	if (renewal > 0 && now >= renewal)
		return CK_METRICS_CONDITION_EXPIRING;
	return CK_METRICS_CONDITION_VALID;
}

gchar *
ck_metrics_escape_label_value(const gchar *value)
{
	GString *out = g_string_sized_new(strlen(value));

	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '"')
			g_string_append(out, "\\\"");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

gchar *
ck_metrics_escape_help(const gchar *text)
{
	GString *out = g_string_sized_new(strlen(text));

	for (const gchar *p = text; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(out, "\\\\");
		else if (*p == '\n')
			g_string_append(out, "\\n");
		else
			g_string_append_c(out, *p);
	}
	return g_string_free(out, FALSE);
}

/* Counting */

static CkMetricsCa *
ck_metrics_ca(CkMetrics *self, const gchar *ca)
{
	CkMetricsCa *counts = g_hash_table_lookup(self->cas, ca);

	if (counts == NULL) {
		counts = g_new0(CkMetricsCa, 1);
		g_hash_table_insert(self->cas, g_strdup(ca), counts);
	}
	return counts;
}

void
ck_metrics_count_attempt(CkMetrics *self, CkMetricsAttempt attempt)
{
	g_return_if_fail(CK_IS_METRICS(self));
	g_return_if_fail((guint)attempt < CK_METRICS_ATTEMPT_LAST);
	self->attempts[attempt]++;
	self->dirty = TRUE;
}

void
ck_metrics_count_failure(CkMetrics *self, CkMetricsFailure reason)
{
	g_return_if_fail(CK_IS_METRICS(self));
	g_return_if_fail((guint)reason < CK_METRICS_FAILURE_LAST);
	self->failures[reason]++;
	self->dirty = TRUE;
}

void
ck_metrics_count_ca(CkMetrics *self, const gchar *ca, CkMetricsCaResult result, gdouble seconds)
{
	CkMetricsCa *counts;

	g_return_if_fail(CK_IS_METRICS(self));
	g_return_if_fail(ca != NULL);
	g_return_if_fail((guint)result < CK_METRICS_CA_LAST);
	counts = ck_metrics_ca(self, ca);
	counts->requests[result]++;
	if (seconds < 0)
		seconds = 0;
	for (guint i = 0; i < CK_METRICS_N_BUCKETS; i++) {
		if (seconds <= ck_metrics_buckets[i]) {
			counts->buckets[i]++;
			break;
		}
	}
	counts->count++;
	counts->sum += seconds;
	self->dirty = TRUE;
}

void
ck_metrics_forget_ca(CkMetrics *self, const gchar *ca)
{
	g_return_if_fail(CK_IS_METRICS(self));
	if (g_hash_table_remove(self->cas, ca))
		self->dirty = TRUE;
}

void
ck_metrics_keep_cas(CkMetrics *self, const gchar *const *keep)
{
	GHashTableIter iter;
	gpointer key;

	g_return_if_fail(CK_IS_METRICS(self));
	g_hash_table_iter_init(&iter, self->cas);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		if (!g_strv_contains(keep, key)) {
			g_hash_table_iter_remove(&iter);
			self->dirty = TRUE;
		}
	}
}

guint64
ck_metrics_get_attempts(CkMetrics *self, CkMetricsAttempt attempt)
{
	g_return_val_if_fail(CK_IS_METRICS(self), 0);
	g_return_val_if_fail((guint)attempt < CK_METRICS_ATTEMPT_LAST, 0);
	return self->attempts[attempt];
}

guint64
ck_metrics_get_failures(CkMetrics *self, CkMetricsFailure reason)
{
	g_return_val_if_fail(CK_IS_METRICS(self), 0);
	g_return_val_if_fail((guint)reason < CK_METRICS_FAILURE_LAST, 0);
	return self->failures[reason];
}

guint64
ck_metrics_get_ca_requests(CkMetrics *self, const gchar *ca, CkMetricsCaResult result)
{
	CkMetricsCa *counts;

	g_return_val_if_fail(CK_IS_METRICS(self), 0);
	g_return_val_if_fail((guint)result < CK_METRICS_CA_LAST, 0);
	counts = g_hash_table_lookup(self->cas, ca);
	return counts != NULL ? counts->requests[result] : 0;
}

gboolean
ck_metrics_is_dirty(CkMetrics *self)
{
	g_return_val_if_fail(CK_IS_METRICS(self), FALSE);
	return self->dirty;
}

/* Persistence */

static JsonNode *
ck_metrics_counts_node(const guint64 *counts, const gchar *const *names, guint n)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	json_builder_begin_object(builder);
	for (guint i = 0; i < n; i++) {
		json_builder_set_member_name(builder, names[i]);
		json_builder_add_int_value(builder, (gint64)counts[i]);
	}
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

gchar *
ck_metrics_to_json(CkMetrics *self)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autoptr(GList) names = NULL;

	g_return_val_if_fail(CK_IS_METRICS(self), NULL);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "version");
	json_builder_add_int_value(builder, CK_METRICS_FILE_VERSION);
	json_builder_set_member_name(builder, "renewal_attempts");
	json_builder_add_value(builder,
			       ck_metrics_counts_node(self->attempts, ck_metrics_attempt_names,
						      CK_METRICS_ATTEMPT_LAST));
	json_builder_set_member_name(builder, "renewal_failures");
	json_builder_add_value(builder,
			       ck_metrics_counts_node(self->failures, ck_metrics_failure_names,
						      CK_METRICS_FAILURE_LAST));
	json_builder_set_member_name(builder, "cas");
	json_builder_begin_object(builder);
	names = g_list_sort(g_hash_table_get_keys(self->cas), (GCompareFunc)g_strcmp0);
	for (GList *l = names; l != NULL; l = l->next) {
		CkMetricsCa *counts = g_hash_table_lookup(self->cas, l->data);
		json_builder_set_member_name(builder, l->data);
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "requests");
		json_builder_add_value(builder, ck_metrics_counts_node(counts->requests,
								       ck_metrics_ca_result_names,
								       CK_METRICS_CA_LAST));
		json_builder_set_member_name(builder, "buckets");
		json_builder_begin_array(builder);
		for (guint i = 0; i < CK_METRICS_N_BUCKETS; i++)
			json_builder_add_int_value(builder, (gint64)counts->buckets[i]);
		json_builder_end_array(builder);
		json_builder_set_member_name(builder, "count");
		json_builder_add_int_value(builder, (gint64)counts->count);
		json_builder_set_member_name(builder, "sum");
		json_builder_add_double_value(builder, counts->sum);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	return json_to_string(root, TRUE);
}

/* A counter of @obj's object member @member; FALSE when it is there and no count. */
static gboolean
ck_metrics_read_counts(JsonObject *obj, const gchar *member, guint64 *counts,
		       const gchar *const *names, guint n)
{
	JsonNode *node = json_object_get_member(obj, member);
	JsonObject *inner;

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node))
		return FALSE;
	inner = json_node_get_object(node);
	for (guint i = 0; i < n; i++) {
		JsonNode *value = json_object_get_member(inner, names[i]);
		if (value == NULL)
			continue;
		if (json_node_get_value_type(value) != G_TYPE_INT64 || json_node_get_int(value) < 0)
			return FALSE;
		counts[i] = (guint64)json_node_get_int(value);
	}
	return TRUE;
}

static gboolean
ck_metrics_read_ca(JsonNode *node, CkMetricsCa *counts)
{
	JsonObject *obj;
	JsonArray *buckets;
	JsonNode *member;

	if (!JSON_NODE_HOLDS_OBJECT(node))
		return FALSE;
	obj = json_node_get_object(node);
	if (!ck_metrics_read_counts(obj, "requests", counts->requests, ck_metrics_ca_result_names,
				    CK_METRICS_CA_LAST))
		return FALSE;
	member = json_object_get_member(obj, "buckets");
	/* a histogram with other buckets (another version) cannot be carried over: it
	 * starts again, which Prometheus takes as a counter reset */
	if (member == NULL || !JSON_NODE_HOLDS_ARRAY(member) ||
	    json_array_get_length(json_node_get_array(member)) != CK_METRICS_N_BUCKETS)
		return TRUE;
	buckets = json_node_get_array(member);
	for (guint i = 0; i < CK_METRICS_N_BUCKETS; i++) {
		JsonNode *value = json_array_get_element(buckets, i);
		if (json_node_get_value_type(value) != G_TYPE_INT64 || json_node_get_int(value) < 0)
			return FALSE;
		counts->buckets[i] = (guint64)json_node_get_int(value);
	}
	member = json_object_get_member(obj, "count");
	if (member == NULL || json_node_get_value_type(member) != G_TYPE_INT64 ||
	    json_node_get_int(member) < 0)
		return FALSE;
	counts->count = (guint64)json_node_get_int(member);
	member = json_object_get_member(obj, "sum");
	if (member == NULL || !JSON_NODE_HOLDS_VALUE(member))
		return FALSE;
	counts->sum = json_node_get_double(member);
	return TRUE;
}

gboolean
ck_metrics_from_json(CkMetrics *self, const gchar *json, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GHashTable) cas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	guint64 attempts[CK_METRICS_ATTEMPT_LAST] = {0};
	guint64 failures[CK_METRICS_FAILURE_LAST] = {0};
	JsonObject *root;
	JsonNode *member;
	gboolean ok;

	g_return_val_if_fail(CK_IS_METRICS(self), FALSE);
	if (!json_parser_load_from_data(parser, json, -1, error))
		return FALSE;
	ok = JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser));
	if (ok) {
		root = json_node_get_object(json_parser_get_root(parser));
		ok = json_object_get_int_member_with_default(root, "version", 0) ==
			 CK_METRICS_FILE_VERSION &&
		     ck_metrics_read_counts(root, "renewal_attempts", attempts,
					    ck_metrics_attempt_names, CK_METRICS_ATTEMPT_LAST) &&
		     ck_metrics_read_counts(root, "renewal_failures", failures,
					    ck_metrics_failure_names, CK_METRICS_FAILURE_LAST);
		member = ok ? json_object_get_member(root, "cas") : NULL;
		if (member != NULL && JSON_NODE_HOLDS_OBJECT(member)) {
			JsonObject *obj = json_node_get_object(member);
			g_autoptr(GList) names = json_object_get_members(obj);
			for (GList *l = names; ok && l != NULL; l = l->next) {
				CkMetricsCa *counts = g_new0(CkMetricsCa, 1);
				g_hash_table_insert(cas, g_strdup(l->data), counts);
				ok = ck_metrics_read_ca(json_object_get_member(obj, l->data),
							counts);
			}
		} else if (member != NULL) {
			ok = FALSE;
		}
	}
	if (!ok) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The saved metrics counters are not in the expected format "
			      "(version %d)"),
			    CK_METRICS_FILE_VERSION);
		return FALSE;
	}
	memcpy(self->attempts, attempts, sizeof(attempts));
	memcpy(self->failures, failures, sizeof(failures));
	g_hash_table_unref(self->cas);
	self->cas = g_steal_pointer(&cas);
	self->dirty = FALSE;
	return TRUE;
}

gboolean
ck_metrics_load(CkMetrics *self, const gchar *path, GError **error)
{
	g_autofree gchar *json = NULL;
	g_autoptr(GError) local_error = NULL;

	g_return_val_if_fail(CK_IS_METRICS(self), FALSE);
	if (!g_file_get_contents(path, &json, NULL, &local_error)) {
		if (g_error_matches(local_error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			return TRUE;
		g_propagate_error(error, g_steal_pointer(&local_error));
		return FALSE;
	}
	if (!ck_metrics_from_json(self, json, &local_error)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, "%s: %s", path,
			    local_error->message);
		return FALSE;
	}
	return TRUE;
}

gboolean
ck_metrics_save(CkMetrics *self, const gchar *path, GError **error)
{
	g_autofree gchar *json = NULL;
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);

	g_return_val_if_fail(CK_IS_METRICS(self), FALSE);
	json = ck_metrics_to_json(self);
	if (!ck_file_replace(path, json, strlen(json), &attrs, error))
		return FALSE;
	self->dirty = FALSE;
	return TRUE;
}

/* The exposition text. HELP lines stay English, as Prometheus' conventions have
 * them: they are read by tools and dashboards, not in the daemon's locale. */

static void
ck_metrics_family(GString *out, const gchar *name, const gchar *type, const gchar *help)
{
	g_autofree gchar *escaped = ck_metrics_escape_help(help);
	g_string_append_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, escaped, name, type);
}

/* One sample: @labels is NULL-terminated name, value pairs (values escaped here). */
static void
ck_metrics_sample(GString *out, const gchar *name, const gchar *const *labels, const gchar *value)
{
	g_string_append(out, name);
	if (labels != NULL && labels[0] != NULL) {
		g_string_append_c(out, '{');
		for (guint i = 0; labels[i] != NULL && labels[i + 1] != NULL; i += 2) {
			g_autofree gchar *escaped = ck_metrics_escape_label_value(labels[i + 1]);
			g_string_append_printf(out, "%s%s=\"%s\"", i > 0 ? "," : "", labels[i],
					       escaped);
		}
		g_string_append_c(out, '}');
	}
	g_string_append_printf(out, " %s\n", value);
}

static void
ck_metrics_sample_int(GString *out, const gchar *name, const gchar *const *labels, gint64 value)
{
	gchar buf[32];
	g_snprintf(buf, sizeof(buf), "%" G_GINT64_FORMAT, value);
	ck_metrics_sample(out, name, labels, buf);
}

/* The CA label of @request ("" when it names none, which a label value may be). */
static const gchar *
ck_metrics_request_ca(CkRequest *request)
{
	const gchar *ca = ck_request_get_ca(request);
	return ca != NULL ? ca : "";
}

static gint
ck_metrics_compare_requests(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(ck_request_get_id(*(CkRequest **)a), ck_request_get_id(*(CkRequest **)b));
}

/* Every CA name of @ca_names and of the counters, sorted, each once. */
static GPtrArray *
ck_metrics_ca_names(CkMetrics *self, const gchar *const *ca_names)
{
	GPtrArray *names = g_ptr_array_new();
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);
	GHashTableIter iter;
	gpointer key;

	for (guint i = 0; ca_names != NULL && ca_names[i] != NULL; i++) {
		if (g_hash_table_add(seen, (gpointer)ca_names[i]))
			g_ptr_array_add(names, (gpointer)ca_names[i]);
	}
	g_hash_table_iter_init(&iter, self->cas);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		if (g_hash_table_add(seen, key))
			g_ptr_array_add(names, key);
	}
	return names;
}

static gint
ck_metrics_compare_strings(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar **)a, *(const gchar **)b);
}

static void
ck_metrics_render_cas(CkMetrics *self, GString *out, GPtrArray *cas)
{
	static const CkMetricsCa zero = {{0}};
	gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

	ck_metrics_family(out, "certkeeper_ca_requests_total", "counter",
			  "Submissions and polls answered by each CA, by what the CA answered.");
	for (guint i = 0; i < cas->len; i++) {
		const gchar *ca = g_ptr_array_index(cas, i);
		const CkMetricsCa *counts = g_hash_table_lookup(self->cas, ca);
		if (counts == NULL)
			counts = &zero;
		for (guint r = 0; r < CK_METRICS_CA_LAST; r++) {
			const gchar *labels[] = {"ca", ca, "result", ck_metrics_ca_result_names[r],
						 NULL};
			ck_metrics_sample_int(out, "certkeeper_ca_requests_total", labels,
					      (gint64)counts->requests[r]);
		}
	}
	ck_metrics_family(out, "certkeeper_ca_request_duration_seconds", "histogram",
			  "How long each CA took to answer a submission or poll.");
	for (guint i = 0; i < cas->len; i++) {
		const gchar *ca = g_ptr_array_index(cas, i);
		const CkMetricsCa *counts = g_hash_table_lookup(self->cas, ca);
		const gchar *labels[] = {"ca", ca, NULL};
		guint64 cumulative = 0;
		if (counts == NULL)
			counts = &zero;
		for (guint b = 0; b < CK_METRICS_N_BUCKETS; b++) {
			const gchar *bucket_labels[] = {"ca", ca, "le", buf, NULL};
			cumulative += counts->buckets[b];
			g_ascii_formatd(buf, sizeof(buf), "%g", ck_metrics_buckets[b]);
			ck_metrics_sample_int(out, "certkeeper_ca_request_duration_seconds_bucket",
					      bucket_labels, (gint64)cumulative);
		}
		{
			const gchar *bucket_labels[] = {"ca", ca, "le", "+Inf", NULL};
			ck_metrics_sample_int(out, "certkeeper_ca_request_duration_seconds_bucket",
					      bucket_labels, (gint64)counts->count);
		}
		g_ascii_formatd(buf, sizeof(buf), "%.9g", counts->sum);
		ck_metrics_sample(out, "certkeeper_ca_request_duration_seconds_sum", labels, buf);
		ck_metrics_sample_int(out, "certkeeper_ca_request_duration_seconds_count", labels,
				      (gint64)counts->count);
	}
}

/* A per-request timestamp family; requests whose value is 0 (none) have no series. */
static void
ck_metrics_render_times(GString *out, GPtrArray *requests, const gchar *name, const gchar *help,
			gint64 (*get)(CkRequest *))
{
	ck_metrics_family(out, name, "gauge", help);
	for (guint i = 0; i < requests->len; i++) {
		CkRequest *request = g_ptr_array_index(requests, i);
		const gchar *labels[] = {"id", ck_request_get_id(request), "ca",
					 ck_metrics_request_ca(request), NULL};
		gint64 value = get(request);
		if (value > 0)
			ck_metrics_sample_int(out, name, labels, value);
	}
}

static gint64
ck_metrics_renewal_time(CkRequest *request)
{
	/* only a planned renewal of an installed certificate is one */
	return ck_request_get_not_after(request) > 0 ? ck_request_get_renewal_time(request) : 0;
}

gchar *
ck_metrics_render(CkMetrics *self, GPtrArray *requests, const gchar *const *ca_names, gint64 now)
{
	g_autoptr(GString) out = g_string_sized_new(4096 + 1024 * requests->len);
	g_autoptr(GPtrArray) sorted = g_ptr_array_copy(requests, NULL, NULL);
	g_autoptr(GPtrArray) cas = NULL;
	guint states[CK_REQUEST_STATE_LAST] = {0};

	g_return_val_if_fail(CK_IS_METRICS(self), NULL);
	/* the copy borrows the requests: it must not inherit a free function */
	g_ptr_array_set_free_func(sorted, NULL);
	g_ptr_array_sort(sorted, ck_metrics_compare_requests);
	cas = ck_metrics_ca_names(self, ca_names);
	g_ptr_array_sort(cas, ck_metrics_compare_strings);

	ck_metrics_family(out, "certkeeper_build_info", "gauge",
			  "Always 1; the version of certkeeperd in a label.");
	{
		const gchar *labels[] = {"version", PACKAGE_VERSION, NULL};
		ck_metrics_sample(out, "certkeeper_build_info", labels, "1");
	}

	ck_metrics_family(out, "certkeeper_renewal_attempts_total", "counter",
			  "Attempts to get a certificate (first issuance or renewal) that "
			  "ended, by result.");
	for (guint i = 0; i < CK_METRICS_ATTEMPT_LAST; i++) {
		const gchar *labels[] = {"result", ck_metrics_attempt_names[i], NULL};
		ck_metrics_sample_int(out, "certkeeper_renewal_attempts_total", labels,
				      (gint64)self->attempts[i]);
	}
	ck_metrics_family(out, "certkeeper_renewal_failures_total", "counter",
			  "Failed attempts to get a certificate, by the step that failed.");
	for (guint i = 0; i < CK_METRICS_FAILURE_LAST; i++) {
		const gchar *labels[] = {"reason", ck_metrics_failure_names[i], NULL};
		ck_metrics_sample_int(out, "certkeeper_renewal_failures_total", labels,
				      (gint64)self->failures[i]);
	}

	ck_metrics_render_cas(self, out, cas);

	ck_metrics_family(out, "certkeeper_requests", "gauge",
			  "Tracked requests, by lifecycle state.");
	for (guint i = 0; i < sorted->len; i++) {
		CkRequestState state = ck_request_get_state(g_ptr_array_index(sorted, i));
		if ((guint)state < CK_REQUEST_STATE_LAST)
			states[state]++;
	}
	for (guint s = 0; s < CK_REQUEST_STATE_LAST; s++) {
		const gchar *labels[] = {"state", ck_request_state_to_string(s), NULL};
		ck_metrics_sample_int(out, "certkeeper_requests", labels, states[s]);
	}

	ck_metrics_render_times(out, sorted, "certkeeper_certificate_expiration_timestamp_seconds",
				"The notAfter of the installed certificate (Unix time).",
				ck_request_get_not_after);
	ck_metrics_render_times(out, sorted, "certkeeper_certificate_not_before_timestamp_seconds",
				"The notBefore of the installed certificate (Unix time).",
				ck_request_get_not_before);
	ck_metrics_render_times(out, sorted, "certkeeper_certificate_renewal_timestamp_seconds",
				"When the installed certificate is planned to be renewed (Unix "
				"time); in the past while a renewal is due or failing.",
				ck_metrics_renewal_time);

	ck_metrics_family(out, "certkeeper_certificate_ready_status", "gauge",
			  "1 for the request's condition, 0 for the others: valid, expiring "
			  "(renewal due), expired, renewing, failing (the last attempt "
			  "failed), revoked.");
	for (guint i = 0; i < sorted->len; i++) {
		CkRequest *request = g_ptr_array_index(sorted, i);
		CkMetricsCondition condition = ck_metrics_condition(request, now);
		for (guint c = 0; c < CK_METRICS_CONDITION_LAST; c++) {
			const gchar *labels[] = {"id",        ck_request_get_id(request),
						 "ca",        ck_metrics_request_ca(request),
						 "condition", ck_metrics_condition_names[c],
						 NULL};
			ck_metrics_sample(out, "certkeeper_certificate_ready_status", labels,
					  c == condition ? "1" : "0");
		}
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* GObject */

static void
ck_metrics_finalize(GObject *object)
{
	CkMetrics *self = CK_METRICS(object);
	g_hash_table_unref(self->cas);
	G_OBJECT_CLASS(ck_metrics_parent_class)->finalize(object);
}

static void
ck_metrics_init(CkMetrics *self)
{
	self->cas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
ck_metrics_class_init(CkMetricsClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ck_metrics_finalize;
}

CkMetrics *
ck_metrics_new(void)
{
	return g_object_new(CK_TYPE_METRICS, NULL);
}
