/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "ck-request.h"

G_BEGIN_DECLS

/*
 * certkeeper's metrics in the Prometheus text exposition format (version
 * 0.0.4): the per-request gauges are computed from the requests when the text
 * is rendered; the counters and the histogram are kept here, counted by the
 * engine where an attempt or a submission to a CA ends, and saved in the state
 * directory so they survive a restart. Every label value is a request id, a CA
 * name or one of the fixed enums below: never a subject or a message.
 */

/* How one attempt to get a certificate (first issuance or renewal) ended. */
typedef enum {
	CK_METRICS_ATTEMPT_SUCCESS,
	CK_METRICS_ATTEMPT_FAILURE,
	CK_METRICS_ATTEMPT_LAST
} CkMetricsAttempt;

/* Why an attempt failed: the step it failed in, and what the CA said. */
typedef enum {
	CK_METRICS_FAILURE_KEY,		   /* making or loading the key */
	CK_METRICS_FAILURE_CSR,		   /* building the CSR */
	CK_METRICS_FAILURE_CA_UNREACHABLE, /* the CA did not answer (or the helper broke) */
	CK_METRICS_FAILURE_CA_REJECTED,	   /* the CA refused */
	CK_METRICS_FAILURE_CA_CONFIG,	   /* no such CA, or it cannot issue as configured */
	CK_METRICS_FAILURE_VALIDATION,	   /* the issued certificate did not pass the checks */
	CK_METRICS_FAILURE_INSTALL,	   /* staging, the pre-save hook or the install */
	CK_METRICS_FAILURE_POST_INSTALL,   /* the post-install check failed: rolled back */
	CK_METRICS_FAILURE_OTHER,
	CK_METRICS_FAILURE_LAST
} CkMetricsFailure;

/* What a CA answered one submission or poll. */
typedef enum {
	CK_METRICS_CA_ISSUED,
	CK_METRICS_CA_REJECTED,	   /* refused, wants a new key, or cannot issue as configured */
	CK_METRICS_CA_UNREACHABLE, /* no answer, or no usable one */
	CK_METRICS_CA_WAITING,	   /* working on it: poll later */
	CK_METRICS_CA_LAST
} CkMetricsCaResult;

/* certkeeper_certificate_ready_status{condition}: exactly one is 1 per request. */
typedef enum {
	CK_METRICS_CONDITION_VALID,    /* installed, its renewal is not due yet */
	CK_METRICS_CONDITION_EXPIRING, /* installed, its renewal time has passed */
	CK_METRICS_CONDITION_EXPIRED,  /* past notAfter */
	CK_METRICS_CONDITION_RENEWING, /* an attempt is under way (or the first one) */
	CK_METRICS_CONDITION_FAILING,  /* the last attempt failed: retrying or waiting for a human */
	CK_METRICS_CONDITION_REVOKED,  /* revoked on request, waiting for rekey or resubmit */
	CK_METRICS_CONDITION_LAST
} CkMetricsCondition;

const gchar *
ck_metrics_attempt_to_string(CkMetricsAttempt attempt);
const gchar *
ck_metrics_failure_to_string(CkMetricsFailure failure);
const gchar *
ck_metrics_ca_result_to_string(CkMetricsCaResult result);
const gchar *
ck_metrics_condition_to_string(CkMetricsCondition condition);

/* The reason of a failure that moves a request from state @from to state @to. */
CkMetricsFailure
ck_metrics_failure_reason(CkRequestState from, CkRequestState to);

/* The condition of @request at @now. */
CkMetricsCondition
ck_metrics_condition(CkRequest *request, gint64 now);

/* The bucket bounds of certkeeper_ca_request_duration_seconds (seconds, ascending). */
const gdouble *
ck_metrics_duration_buckets(guint *n_buckets);

/* @value escaped for a label value: backslash, double quote and newline. */
gchar *
ck_metrics_escape_label_value(const gchar *value);
/* @text escaped for a HELP line: backslash and newline. */
gchar *
ck_metrics_escape_help(const gchar *text);

#define CK_TYPE_METRICS ck_metrics_get_type()
G_DECLARE_FINAL_TYPE(CkMetrics, ck_metrics, CK, METRICS, GObject)

CkMetrics *
ck_metrics_new(void);

void
ck_metrics_count_attempt(CkMetrics *self, CkMetricsAttempt attempt);
void
ck_metrics_count_failure(CkMetrics *self, CkMetricsFailure reason);
void
ck_metrics_count_ca(CkMetrics *self, const gchar *ca, CkMetricsCaResult result,
		    gdouble seconds);
/* A removed CA's counters go with it (a CA added again under its name starts at zero). */
void
ck_metrics_forget_ca(CkMetrics *self, const gchar *ca);
/* Forgets the counters of every CA not in @keep (NULL-terminated). */
void
ck_metrics_keep_cas(CkMetrics *self, const gchar *const *keep);

guint64
ck_metrics_get_attempts(CkMetrics *self, CkMetricsAttempt attempt);
guint64
ck_metrics_get_failures(CkMetrics *self, CkMetricsFailure reason);
guint64
ck_metrics_get_ca_requests(CkMetrics *self, const gchar *ca, CkMetricsCaResult result);

/* TRUE when a counter changed since the last ck_metrics_save() or ck_metrics_load(). */
gboolean
ck_metrics_is_dirty(CkMetrics *self);

/* The counters as JSON, and back; a file of another shape is an error that names it. */
gchar *
ck_metrics_to_json(CkMetrics *self);
gboolean
ck_metrics_from_json(CkMetrics *self, const gchar *json, GError **error);

/* Reads the counters saved at @path; a missing file is no error (all start at zero). */
gboolean
ck_metrics_load(CkMetrics *self, const gchar *path, GError **error);
/* Saves the counters durably to @path (0600). */
gboolean
ck_metrics_save(CkMetrics *self, const gchar *path, GError **error);

/*
 * The exposition text: build info, the counters of every CA in @ca_names (and
 * of any other CA that has counts), the per-request series of @requests (array
 * of CkRequest, any order: the output is ordered by id) and the request counts
 * by state, at @now. Families and series come in a stable order.
 */
gchar *
ck_metrics_render(CkMetrics *self, GPtrArray *requests, const gchar *const *ca_names, gint64 now);

G_END_DECLS
