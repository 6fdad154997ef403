/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's metrics: where attempts and submissions are counted, and the
 * certkeeper.prom file for node_exporter's textfile collector. The file is
 * written when something changed, a short while after the first change, so
 * a burst of changes costs one write; nothing is written (and nothing wakes
 * the daemon) while nothing changes. Its gauges are timestamps, which stay
 * right however old the file is; the condition of a request moves with time
 * only where the daemon wakes anyway (its renewal time, its expiry).
 */
#include "config.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#include "ck-clock.h"
#include "ck-engine-private.h"
#include "ck-error.h"

/* How long changes gather before the file and the counters are written. */
#define CK_METRICS_FLUSH_DELAY_MS 2000
/* The file node_exporter reads (it reads only names ending in .prom, so the
 * temporary files of an atomic replace are never scraped). */
#define CK_METRICS_FILE_NAME "certkeeper.prom"
/* The counters, in the state directory. */
#define CK_METRICS_COUNTERS_NAME "metrics.json"

static gchar *
ck_engine_metrics_counters_path(CkEngine *self)
{
	return g_build_filename(self->state_dir, CK_METRICS_COUNTERS_NAME, NULL);
}

gchar *
ck_engine_get_metrics(CkEngine *self)
{
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	g_autoptr(GPtrArray) names = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	requests = ck_engine_get_requests(self);
	cas = ck_engine_get_cas(self);
	names = g_ptr_array_new();
	for (guint i = 0; i < cas->len; i++)
		g_ptr_array_add(names, (gpointer)ck_ca_get_name(g_ptr_array_index(cas, i)));
	g_ptr_array_add(names, NULL);
	return ck_metrics_render(self->metrics, requests, (const gchar *const *)names->pdata,
				 ck_clock_now());
}

/* Writes certkeeper.prom into the configured directory; a failure is said once
 * until a write works again (a missing directory would otherwise be said at
 * every change). */
static void
ck_engine_metrics_write_file(CkEngine *self, const gchar *dir)
{
	g_autofree gchar *path = g_build_filename(dir, CK_METRICS_FILE_NAME, NULL);
	g_autofree gchar *text = ck_engine_get_metrics(self);
	/* node_exporter runs as its own user: the file must be readable by it */
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0644);
	g_autoptr(GError) error = NULL;

	if (!ck_file_replace(path, text, strlen(text), &attrs, &error)) {
		if (!self->metrics_write_failed)
			g_warning("cannot write the metrics to %s (MetricsDirectory=): %s", path,
				  error->message);
		self->metrics_write_failed = TRUE;
		return;
	}
	if (self->metrics_write_failed)
		g_message("metrics are written to %s again", path);
	self->metrics_write_failed = FALSE;
}

static void
ck_engine_metrics_flush(CkEngine *self)
{
	const gchar *dir = ck_engine_lifecycle(self)->metrics_dir;

	if (ck_metrics_is_dirty(self->metrics)) {
		g_autofree gchar *path = ck_engine_metrics_counters_path(self);
		g_autoptr(GError) error = NULL;
		if (!ck_metrics_save(self->metrics, path, &error))
			g_warning("cannot save the metrics counters: %s", error->message);
	}
	if (dir != NULL)
		ck_engine_metrics_write_file(self, dir);
}

static gboolean
ck_engine_metrics_flush_cb(gpointer user_data)
{
	CkEngine *self = CK_ENGINE(user_data);

	self->metrics_flush_id = 0;
	ck_engine_metrics_flush(self);
	return G_SOURCE_REMOVE;
}

void
ck_engine_metrics_changed(CkEngine *self)
{
	if (!self->started || self->metrics_flush_id != 0)
		return;
	if (ck_engine_lifecycle(self)->metrics_dir == NULL && !ck_metrics_is_dirty(self->metrics))
		return;
	self->metrics_flush_id =
	    g_timeout_add(CK_METRICS_FLUSH_DELAY_MS, ck_engine_metrics_flush_cb, self);
}

static void
ck_engine_metrics_request_cb(CkEngine *self, CkRequest *request)
{
	ck_engine_metrics_changed(self);
}

static void
ck_engine_metrics_request_changed_cb(CkEngine *self, CkRequest *request, guint fields)
{
	ck_engine_metrics_changed(self);
}

static void
ck_engine_metrics_ca_cb(CkEngine *self, CkCa *ca)
{
	ck_engine_metrics_changed(self);
}

static void
ck_engine_metrics_ca_removed_cb(CkEngine *self, CkCa *ca)
{
	ck_metrics_forget_ca(self->metrics, ck_ca_get_name(ca));
	ck_engine_metrics_changed(self);
}

/* What a killed daemon left of an atomic replace in the shared collector
 * directory: only our own file's temporaries, nothing of anyone else. */
static void
ck_engine_metrics_remove_stale(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_prefix(name, CK_METRICS_FILE_NAME ".ck-tmp-")) {
			g_autofree gchar *path = g_build_filename(dir, name, NULL);
			if (g_unlink(path) != 0 && errno != ENOENT)
				g_warning("cannot remove %s: %s", path, g_strerror(errno));
		}
	}
}

void
ck_engine_metrics_start(CkEngine *self)
{
	g_autofree gchar *path = ck_engine_metrics_counters_path(self);
	g_autoptr(GError) error = NULL;
	const gchar *dir = ck_engine_lifecycle(self)->metrics_dir;
	g_autoptr(GPtrArray) cas = ck_engine_get_cas(self);
	g_autoptr(GPtrArray) names = g_ptr_array_new();

	/* counters that cannot be read start again from zero: Prometheus takes that as
	 * a reset, and the file is replaced at the next change */
	if (!ck_metrics_load(self->metrics, path, &error))
		g_warning("the metrics counters start from zero: %s", error->message);
	/* a CA taken out of the configuration while the daemon was stopped goes too */
	for (guint i = 0; i < cas->len; i++)
		g_ptr_array_add(names, (gpointer)ck_ca_get_name(g_ptr_array_index(cas, i)));
	g_ptr_array_add(names, NULL);
	ck_metrics_keep_cas(self->metrics, (const gchar *const *)names->pdata);
	g_signal_connect(self, "request-added", G_CALLBACK(ck_engine_metrics_request_cb), NULL);
	g_signal_connect(self, "request-removed", G_CALLBACK(ck_engine_metrics_request_cb), NULL);
	g_signal_connect(self, "request-changed", G_CALLBACK(ck_engine_metrics_request_changed_cb),
			 NULL);
	g_signal_connect(self, "ca-added", G_CALLBACK(ck_engine_metrics_ca_cb), NULL);
	g_signal_connect(self, "ca-changed", G_CALLBACK(ck_engine_metrics_ca_cb), NULL);
	g_signal_connect(self, "ca-removed", G_CALLBACK(ck_engine_metrics_ca_removed_cb), NULL);
	if (dir != NULL) {
		ck_engine_metrics_remove_stale(dir);
		/* the file says what this process tracks from its start on; written soon
		 * after, so that start-up with thousands of requests is not held up */
		ck_engine_metrics_changed(self);
	}
}

void
ck_engine_metrics_config_changed(CkEngine *self, const gchar *old_dir)
{
	const gchar *dir = ck_engine_lifecycle(self)->metrics_dir;
	g_autofree gchar *old_path = NULL;

	if (g_strcmp0(old_dir, dir) == 0)
		return;
	/* a file left in the old directory would be scraped as if it were current */
	if (old_dir != NULL) {
		old_path = g_build_filename(old_dir, CK_METRICS_FILE_NAME, NULL);
		if (g_unlink(old_path) != 0 && errno != ENOENT)
			g_warning("cannot remove %s: %s", old_path, g_strerror(errno));
	}
	self->metrics_write_failed = FALSE;
	if (dir != NULL) {
		ck_engine_metrics_remove_stale(dir);
		ck_engine_metrics_write_file(self, dir);
	}
}

void
ck_engine_metrics_stop(CkEngine *self)
{
	if (self->metrics_flush_id == 0)
		return;
	g_clear_handle_id(&self->metrics_flush_id, g_source_remove);
	ck_engine_metrics_flush(self);
}

/* Counting */

void
ck_engine_metrics_attempt_failed(CkEngine *self, CkRequest *request, CkRequestState to)
{
	ck_metrics_count_attempt(self->metrics, CK_METRICS_ATTEMPT_FAILURE);
	ck_metrics_count_failure(self->metrics,
				 ck_metrics_failure_reason(ck_request_get_state(request), to));
	ck_engine_metrics_changed(self);
}

void
ck_engine_metrics_attempt_succeeded(CkEngine *self, CkRequest *request)
{
	ck_metrics_count_attempt(self->metrics, CK_METRICS_ATTEMPT_SUCCESS);
	ck_engine_metrics_changed(self);
}

void
ck_engine_metrics_submission_started(CkEngine *self, CkJob *job)
{
	job->submit_started = g_get_monotonic_time();
}

void
ck_engine_metrics_ca_answered(CkEngine *self, CkCa *ca, CkJob *job, const CkCaResult *result)
{
	CkMetricsCaResult what = CK_METRICS_CA_UNREACHABLE;
	gdouble seconds =
	    job->submit_started > 0
		? (gdouble)(g_get_monotonic_time() - job->submit_started) / G_USEC_PER_SEC
		: 0;

	job->submit_started = 0;
	if (result != NULL) {
		switch (result->outcome) {
		case CK_CA_OUTCOME_ISSUED:
			what = CK_METRICS_CA_ISSUED;
			break;
		case CK_CA_OUTCOME_WAIT:
			what = CK_METRICS_CA_WAITING;
			break;
		case CK_CA_OUTCOME_UNREACHABLE:
			what = CK_METRICS_CA_UNREACHABLE;
			break;
		case CK_CA_OUTCOME_REJECTED:
		case CK_CA_OUTCOME_NEED_NEW_KEY:
		case CK_CA_OUTCOME_UNDERCONFIGURED:
		case CK_CA_OUTCOME_UNSUPPORTED:
		default:
			/* the CA answered and did not issue this request as it is */
			what = CK_METRICS_CA_REJECTED;
			break;
		}
	}
	ck_metrics_count_ca(self->metrics, ck_ca_get_name(ca), what, seconds);
	ck_engine_metrics_changed(self);
}
