/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * `certkeeper health`: the verdict on every request, from the properties
 * certkeeperd publishes (the JSON objects of ck_client_get_objects()). A pure
 * function of those and "now", so every rule is tested without a daemon.
 */
#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* What is wrong with one request, least to most severe. */
typedef enum {
	CK_HEALTH_STUCK,    /* needs a human, or has been trying for too long */
	CK_HEALTH_EXPIRING, /* expires within the horizon and no renewal will succeed in time */
	CK_HEALTH_EXPIRED,  /* the installed certificate has expired */
} CkHealthKind;

/* "stuck", "expiring", "expired" (the JSON names). */
const gchar *ck_health_kind_to_string(CkHealthKind kind);

typedef struct {
	gint64 horizon;     /* seconds: expiring within this counts (--days) */
	gint64 stuck_after; /* seconds a request may be working before it counts as stuck */
} CkHealthOptions;

typedef struct {
	gchar *id;
	CkHealthKind kind;
	gchar *message; /* one translated line, without the id */
} CkHealthProblem;

void ck_health_problem_free(CkHealthProblem *problem);

/*
 * The problems of @requests at @now (at most one per request, its most severe),
 * in the order of @requests: an array of CkHealthProblem, empty when all is well.
 */
GPtrArray *ck_health_check(GPtrArray *requests, gint64 now, const CkHealthOptions *options);

G_END_DECLS
