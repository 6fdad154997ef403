/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine: the tracked requests, their state files, the CA back ends and
 * key providers, start-up and recovery, the trust in the clock and the watch
 * on certificate files. The lifecycle itself is in ck-engine-lifecycle.c and
 * the install in ck-engine-install.c.
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <malloc.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-ca-helper.h"
#include "ck-ca-local.h"
#include "ck-clock.h"
#include "ck-engine-private.h"
#include "ck-error.h"
#include "ck-hook.h"
#include "ck-key-provider-file.h"
#include "ck-log.h"
#include "ck-key-provider-pkcs11.h"
#if CK_HAVE_TPM
#include "ck-key-provider-tpm.h"
#endif
#include "ck-subprocess.h"
#include "ck-tls-check.h"

G_DEFINE_TYPE(CkEngine, ck_engine, G_TYPE_OBJECT)

enum {
	SIGNAL_REQUEST_ADDED,
	SIGNAL_REQUEST_REMOVED,
	SIGNAL_REQUEST_CHANGED,
	SIGNAL_CERTIFICATE_SAVED,
	SIGNAL_CA_ADDED,
	SIGNAL_CA_REMOVED,
	SIGNAL_CA_CHANGED,
	SIGNAL_LAST
};
static guint signals[SIGNAL_LAST];

/* Jobs and steps */

static void
ck_job_free(CkJob *job)
{
	g_cancellable_cancel(job->cancellable);
	g_clear_object(&job->cancellable);
	g_clear_handle_id(&job->step_id, g_source_remove);
	/* an abandoned job gives its slot back at once; its operation ends on its own */
	if (job->holding != NULL)
		ck_limiter_done(job->holding);
	g_clear_pointer(&job->key, ck_key_unref);
	g_clear_pointer(&job->hook_errors, g_ptr_array_unref);
	g_free(job->check_error);
	g_free(job->trace_id);
	g_free(job->csr);
	g_free(job->certificate);
	g_free(job->chain);
	g_free(job);
}

CkJob *
ck_engine_lookup_job(CkEngine *self, CkRequest *request)
{
	return g_hash_table_lookup(self->jobs, ck_request_get_id(request));
}

CkJob *
ck_engine_get_job(CkEngine *self, CkRequest *request)
{
	const gchar *id = ck_request_get_id(request);
	CkJob *job = g_hash_table_lookup(self->jobs, id);
	if (job == NULL) {
		job = g_new0(CkJob, 1);
		job->cancellable = g_cancellable_new();
		job->trace_id = ck_audit_new_trace_id();
		g_hash_table_insert(self->jobs, g_strdup(id), job);
	}
	return job;
}

/* Audit and journal */

const gchar *
ck_engine_trace_id(CkEngine *self, CkRequest *request)
{
	CkJob *job = request != NULL ? ck_engine_lookup_job(self, request) : NULL;
	return job != NULL ? job->trace_id : NULL;
}

/* The journal's lifecycle event of @event; FALSE for events outside an attempt. */
static gboolean
ck_engine_lifecycle_of(CkAuditEvent event, CkLogLifecycle *kind)
{
	switch (event) {
	case CK_AUDIT_RENEWAL_STARTED:
		*kind = CK_LOG_LIFECYCLE_STARTED;
		return TRUE;
	case CK_AUDIT_KEY_GENERATED:
	case CK_AUDIT_CSR_CREATED:
	case CK_AUDIT_CERTIFICATE_ISSUED:
	case CK_AUDIT_CERTIFICATE_INSTALLED:
		*kind = CK_LOG_LIFECYCLE_PROGRESS;
		return TRUE;
	case CK_AUDIT_RENEWAL_COMPLETED:
		*kind = CK_LOG_LIFECYCLE_COMPLETED;
		return TRUE;
	case CK_AUDIT_RENEWAL_FAILED:
	case CK_AUDIT_ROLLED_BACK:
		*kind = CK_LOG_LIFECYCLE_FAILED;
		return TRUE;
	default:
		return FALSE;
	}
}

void
ck_engine_record(CkEngine *self, CkAuditEvent event, const CkCaller *caller, CkRequest *request,
		 const gchar *ca, const gchar *result, ...)
{
	CkLogLifecycle kind = CK_LOG_LIFECYCLE_STARTED;
	gboolean lifecycle = ck_engine_lifecycle_of(event, &kind);
	/* the trace ties the events of one attempt together, from the demand on */
	const gchar *trace_id = lifecycle || event == CK_AUDIT_RENEWAL_REQUESTED
				    ? ck_engine_trace_id(self, request)
				    : NULL;
	const gchar *reason = NULL;
	va_list args;

	va_start(args, result);
	ck_audit_recordv(self->audit, event, caller, request, ca, trace_id, result, args);
	va_end(args);
	if (!lifecycle || request == NULL)
		return;
	va_start(args, result);
	for (const gchar *key = va_arg(args, const gchar *); key != NULL;
	     key = va_arg(args, const gchar *)) {
		const gchar *value = va_arg(args, const gchar *);
		if (g_strcmp0(key, "reason") == 0)
			reason = value;
	}
	va_end(args);
	ck_log_lifecycle(kind, request, ck_audit_event_to_string(event), trace_id, reason);
}

static gboolean
ck_engine_trim_cb(gpointer user_data)
{
	CkEngine *self = CK_ENGINE(user_data);

	self->trim_id = 0;
	/*
	 * A burst of issuing (thousands of requests at once) leaves the heap much
	 * bigger than what the tracked requests need; glibc keeps freed memory
	 * mapped. A daemon that then idles for months should not hold on to it.
	 */
	malloc_trim(0);
	return G_SOURCE_REMOVE;
}

void
ck_engine_drop_job(CkEngine *self, CkRequest *request)
{
	CkJob *job = ck_engine_lookup_job(self, request);
	/* a job still queued in a limiter is taken out, so it never starts */
	if (job != NULL && job->waiting) {
		if (!ck_limiter_cancel(self->key_limiter, job->queued))
			ck_limiter_cancel(self->submit_limiter, job->queued);
	}
	g_hash_table_remove(self->jobs, ck_request_get_id(request));
	/* once the last job is over, and no new one came for a second */
	if (g_hash_table_size(self->jobs) == 0) {
		g_clear_handle_id(&self->trim_id, g_source_remove);
		self->trim_id = g_timeout_add_seconds(1, ck_engine_trim_cb, self);
	}
}

CkStepData *
ck_step_data_new(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkStepData *data = g_new0(CkStepData, 1);
	data->engine = self;
	data->id = g_strdup(ck_request_get_id(request));
	data->cancellable = g_object_ref(job->cancellable);
	return data;
}

void
ck_step_data_free(CkStepData *data)
{
	g_object_unref(data->cancellable);
	g_free(data->id);
	g_free(data);
}

gboolean
ck_step_data_resolve(CkStepData *data, CkRequest **request_out, CkJob **job_out)
{
	/* first the cancellable: when it fired, the engine may be finalized already */
	if (g_cancellable_is_cancelled(data->cancellable))
		return FALSE;
	*request_out = g_hash_table_lookup(data->engine->requests, data->id);
	*job_out = g_hash_table_lookup(data->engine->jobs, data->id);
	return *request_out != NULL && *job_out != NULL;
}

/* State */

const CkLifecycleConfig *
ck_engine_lifecycle(CkEngine *self)
{
	return ck_config_get_lifecycle(self->config);
}

/* Saves the clock floor now and then, so a restart knows how late it was at least. */
static void
ck_engine_save_clock(CkEngine *self, gboolean force)
{
	g_autofree gchar *path = g_build_filename(self->state_dir, "clock", NULL);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error = NULL;
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);
	gint64 now = ck_clock_now();

	if (now > self->clock_floor)
		self->clock_floor = now;
	if (!force && self->clock_floor - self->clock_file_written < 3600)
		return;
	text = g_strdup_printf("%lld\n", (long long)self->clock_floor);
	if (!ck_file_replace(path, text, strlen(text), &attrs, &error)) {
		g_warning("cannot save %s: %s", path, error->message);
		return;
	}
	self->clock_file_written = self->clock_floor;
}

static void
ck_engine_load_clock(CkEngine *self)
{
	g_autofree gchar *path = g_build_filename(self->state_dir, "clock", NULL);
	g_autofree gchar *text = NULL;
	gint64 value = 0;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return;
	if (g_ascii_string_to_signed(g_strstrip(text), 10, 0, G_MAXINT64, &value, NULL)) {
		self->clock_floor = value;
		self->clock_file_written = value;
	}
}

void
ck_engine_persist(CkEngine *self, CkRequest *request)
{
	g_autoptr(GError) error = NULL;
	if (!ck_store_save_request(self->store, request, &error)) {
		g_warning("cannot save the state of request %s: %s", ck_request_get_id(request),
			  error->message);
		return;
	}
	ck_engine_save_clock(self, FALSE);
}

void
ck_engine_set_state(CkEngine *self, CkRequest *request, CkRequestState state)
{
	if (ck_request_get_state(request) == state)
		return;
	g_debug("request %s: %s -> %s", ck_request_get_id(request),
		ck_request_state_to_string(ck_request_get_state(request)),
		ck_request_state_to_string(state));
	ck_request_set_state(request, state);
	/* how long the request has been trying: since it last left MONITORING */
	if (state == CK_REQUEST_STATE_MONITORING)
		ck_request_set_working_since(request, 0);
	else if (ck_request_get_working_since(request) == 0)
		ck_request_set_working_since(request, ck_clock_now());
}

/* Clock trust */

static gchar *
ck_engine_format_time(gint64 when)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
}

/*
 * Why the clock cannot be trusted for @request's decisions now, NULL when it can:
 * it is behind the time this daemon last saved its state (a device without a
 * real-time clock after a cold boot), or before the certificate's own notBefore.
 */
gchar *
ck_engine_clock_untrusted(CkEngine *self, CkRequest *request, gint64 now)
{
	g_autofree gchar *now_text = NULL;
	g_autofree gchar *then_text = NULL;

	if (self->clock_floor > 0 && now + CK_CLOCK_TOLERANCE < self->clock_floor) {
		now_text = ck_engine_format_time(now);
		then_text = ck_engine_format_time(self->clock_floor);
		return g_strdup_printf(
		    /* TRANSLATORS: the current time, then the time last seen */
		    _("The system clock says %s, earlier than %s when certkeeperd last saved its "
		      "state: no renewal decision until the time is synchronised"),
		    now_text, then_text);
	}
	if (ck_request_get_not_before(request) > 0 &&
	    now + CK_CLOCK_TOLERANCE < ck_request_get_not_before(request)) {
		now_text = ck_engine_format_time(now);
		then_text = ck_engine_format_time(ck_request_get_not_before(request));
		return g_strdup_printf(
		    /* TRANSLATORS: the current time, then the certificate's notBefore */
		    _("The system clock says %s, before the certificate's start %s: no renewal "
		      "decision until the time is synchronised"),
		    now_text, then_text);
	}
	return NULL;
}

static void
ck_engine_replan_waiting(CkEngine *self);

static gboolean
ck_engine_clock_recheck_cb(gpointer user_data)
{
	CkEngine *self = CK_ENGINE(user_data);
	self->clock_recheck_id = 0;
	ck_engine_replan_waiting(self);
	return G_SOURCE_REMOVE;
}

/* Looks at every waiting request again, and keeps looking while one still waits. */
static void
ck_engine_replan_waiting(CkEngine *self)
{
	GHashTableIter iter;
	gpointer value;
	gboolean any_waiting = FALSE;

	g_debug("the clock may have changed: looking at the waiting requests again");
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		CkRequest *request = value;
		if (ck_request_get_waiting(request)[0] != '\0') {
			any_waiting = TRUE;
			ck_scheduler_set(self->scheduler, ck_request_get_id(request), 0);
		}
	}
	g_clear_handle_id(&self->clock_recheck_id, g_source_remove);
	if (any_waiting)
		self->clock_recheck_id = g_timeout_add_seconds(CK_CLOCK_RECHECK_SECONDS,
							       ck_engine_clock_recheck_cb, self);
}

/* While a request waits for a trustworthy clock, look again now and then. */
void
ck_engine_start_clock_recheck(CkEngine *self)
{
	if (self->clock_recheck_id == 0)
		self->clock_recheck_id = g_timeout_add_seconds(CK_CLOCK_RECHECK_SECONDS,
							       ck_engine_clock_recheck_cb, self);
}

/* The scheduler re-arms its timer for the new clock and tells us ("clock-changed"). */
void
ck_engine_clock_changed(CkEngine *self)
{
	g_return_if_fail(CK_IS_ENGINE(self));
	ck_scheduler_clock_changed(self->scheduler);
}

static void
ck_engine_scheduler_clock_changed_cb(CkScheduler *scheduler, CkEngine *self)
{
	GHashTableIter iter;
	gpointer value;

	/* the clock jumped: an expiry status may have changed, or its next change moved */
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		ck_engine_update_expiry(self, value);
	ck_engine_replan_waiting(self);
}

static void
ck_engine_time_sync_changed_cb(GFileMonitor *monitor, GFile *file, GFile *other,
			       GFileMonitorEvent event, CkEngine *self)
{
	const gchar *sync_file = ck_engine_lifecycle(self)->time_sync_file;
	g_autofree gchar *path = g_file_get_path(file);
	if (g_strcmp0(path, sync_file) != 0 ||
	    (event != G_FILE_MONITOR_EVENT_CREATED && event != G_FILE_MONITOR_EVENT_CHANGED &&
	     event != G_FILE_MONITOR_EVENT_ATTRIBUTE_CHANGED))
		return;
	g_message("the system clock is synchronised (%s)", path);
	ck_engine_clock_changed(self);
}

/* systemd-timesyncd touches its flag file on synchronisation: wake up then. */
static void
ck_engine_watch_time_sync(CkEngine *self)
{
	const gchar *sync_file = ck_engine_lifecycle(self)->time_sync_file;
	g_autofree gchar *dir = NULL;
	g_autoptr(GFile) file = NULL;

	if (sync_file == NULL || sync_file[0] == '\0')
		return;
	dir = g_path_get_dirname(sync_file);
	if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
		return;
	file = g_file_new_for_path(dir);
	self->time_sync_monitor = g_file_monitor_directory(file, G_FILE_MONITOR_NONE, NULL, NULL);
	if (self->time_sync_monitor != NULL)
		g_signal_connect(self->time_sync_monitor, "changed",
				 G_CALLBACK(ck_engine_time_sync_changed_cb), self);
}

/* Watches on certificate files */

static gboolean
ck_engine_recheck_cb(gpointer user_data)
{
	CkStepData *data = user_data;
	CkEngine *self = data->engine;
	CkRequest *request = g_hash_table_lookup(self->requests, data->id);
	gpointer key = NULL;

	/* stolen, not removed: removing would destroy this very source and its data */
	if (g_hash_table_steal_extended(self->rechecks, data->id, &key, NULL))
		g_free(key);
	if (request != NULL)
		ck_engine_check_external_change(self, request);
	return G_SOURCE_REMOVE;
}

static void
ck_engine_dir_changed_cb(GFileMonitor *monitor, GFile *file, GFile *other,
			 GFileMonitorEvent event, CkEngine *self)
{
	GFile *target = event == G_FILE_MONITOR_EVENT_RENAMED && other != NULL ? other : file;
	g_autofree gchar *path = g_file_get_path(target);
	const gchar *id = path != NULL ? g_hash_table_lookup(self->watched_paths, path) : NULL;
	CkRequest *request = id != NULL ? g_hash_table_lookup(self->requests, id) : NULL;
	CkStepData *data;
	guint source_id;

	if (request == NULL || g_hash_table_contains(self->rechecks, id))
		return;
	/* several events come with one replacement: read the file once they settled */
	data = g_new0(CkStepData, 1);
	data->engine = self;
	data->id = g_strdup(id);
	data->cancellable = g_cancellable_new();
	source_id = g_timeout_add_full(G_PRIORITY_DEFAULT, CK_EXTERNAL_CHANGE_DELAY_MS,
				       ck_engine_recheck_cb, data, (GDestroyNotify)ck_step_data_free);
	g_hash_table_insert(self->rechecks, g_strdup(id), GUINT_TO_POINTER(source_id));
}

/* The path whose change means the request's certificate changed. */
static gchar *
ck_engine_watched_path(CkRequest *request)
{
	if (ck_request_get_directory(request) != NULL)
		return g_build_filename(ck_request_get_directory(request), "current", NULL);
	return g_strdup(ck_request_get_cert_file(request));
}

void
ck_engine_watch_request(CkEngine *self, CkRequest *request)
{
	g_autofree gchar *path = ck_engine_watched_path(request);
	g_autofree gchar *dir = g_path_get_dirname(path);
	CkDirWatch *watch = g_hash_table_lookup(self->dir_watches, dir);

	g_hash_table_insert(self->watched_paths, g_strdup(path),
			    g_strdup(ck_request_get_id(request)));
	if (watch == NULL) {
		g_autoptr(GFile) file = g_file_new_for_path(dir);
		g_autoptr(GError) error = NULL;
		watch = g_new0(CkDirWatch, 1);
		watch->monitor =
		    g_file_monitor_directory(file, G_FILE_MONITOR_WATCH_MOVES, NULL, &error);
		if (watch->monitor == NULL)
			g_message("cannot watch %s (%s): changes there are noticed only when a "
				  "renewal is due",
				  dir, error->message);
		else
			g_signal_connect(watch->monitor, "changed",
					 G_CALLBACK(ck_engine_dir_changed_cb), self);
		g_hash_table_insert(self->dir_watches, g_strdup(dir), watch);
	}
	watch->users++;
}

void
ck_engine_unwatch_request(CkEngine *self, CkRequest *request)
{
	g_autofree gchar *path = ck_engine_watched_path(request);
	g_autofree gchar *dir = g_path_get_dirname(path);
	CkDirWatch *watch = g_hash_table_lookup(self->dir_watches, dir);

	g_hash_table_remove(self->watched_paths, path);
	g_hash_table_remove(self->rechecks, ck_request_get_id(request));
	if (watch != NULL && --watch->users == 0)
		g_hash_table_remove(self->dir_watches, dir);
}

static void
ck_dir_watch_free(CkDirWatch *watch)
{
	if (watch->monitor != NULL) {
		g_file_monitor_cancel(watch->monitor);
		g_signal_handlers_disconnect_matched(watch->monitor, G_SIGNAL_MATCH_FUNC, 0, 0,
						     NULL, ck_engine_dir_changed_cb, NULL);
		g_object_unref(watch->monitor);
	}
	g_free(watch);
}

static void
ck_engine_remove_recheck(gpointer value)
{
	g_source_remove(GPOINTER_TO_UINT(value));
}

/* Files of a request */

gchar *
ck_engine_pending_path(CkEngine *self, CkRequest *request, const gchar *suffix)
{
	g_autofree gchar *name = g_strconcat(ck_request_get_id(request), suffix, NULL);
	return g_build_filename(self->pending_dir, name, NULL);
}

void
ck_engine_remove_pending(CkEngine *self, CkRequest *request)
{
	const gchar *suffixes[] = {".key", ".csr"};
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree gchar *path = ck_engine_pending_path(self, request, suffixes[i]);
		g_unlink(path);
	}
}

/* A key in a token: the one the installed certificate was issued for. */
static CkKey *
ck_engine_load_token_key(CkEngine *self, CkRequest *request, CkKeyProvider *provider,
			 GError **error)
{
	g_autofree gchar *pem = ck_engine_read_certificate(request, error);
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum;
	CkKey *key;
	int rc;

	if (pem == NULL)
		return NULL;
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)strlen(pem);
	rc = gnutls_x509_crt_init(&crt);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM);
	if (rc != GNUTLS_E_SUCCESS) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: the file, then GnuTLS's reason */
			    _("Cannot read the certificate in %s: %s"),
			    ck_request_get_cert_file(request), gnutls_strerror(rc));
		return NULL;
	}
	key = ck_key_provider_load_for_certificate(provider, ck_request_get_key_file(request), crt,
						   error);
	gnutls_x509_crt_deinit(crt);
	return key;
}

CkKey *
ck_engine_load_installed_key(CkEngine *self, CkRequest *request, GError **error)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	g_autoptr(GBytes) stored = NULL;

	if (provider == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED, _("Unknown key provider '%s'"),
			    ck_request_get_key_provider(request));
		return NULL;
	}
	if (!ck_key_provider_keeps_files(provider))
		return ck_engine_load_token_key(self, request, provider, error);
	/* a user's key is read only when it is still the user's file */
	if (!ck_file_get_owned_contents(ck_request_get_key_file(request),
					ck_request_get_owner_uid(request), &contents, &len, error))
		return NULL;
	stored = g_bytes_new_take(g_steal_pointer(&contents), len);
	return ck_key_provider_load(provider, stored, ck_request_get_key_file(request), error);
}

gchar *
ck_engine_read_certificate(CkRequest *request, GError **error)
{
	gchar *pem = NULL;
	if (!ck_file_get_owned_contents(ck_request_get_cert_file(request),
					ck_request_get_owner_uid(request), &pem, NULL, error))
		return NULL;
	return pem;
}

/* Requests */

static void
ck_engine_request_changed_cb(CkRequest *request, guint fields, gpointer user_data)
{
	CkEngine *self = CK_ENGINE(user_data);

	/* a new certificate or threshold moves the expiry status (which emits again) */
	if ((fields & (CK_REQUEST_FIELD_CERTIFICATE | CK_REQUEST_FIELD_POLICY)) != 0)
		ck_engine_update_expiry(self, request);
	g_signal_emit(self, signals[SIGNAL_REQUEST_CHANGED], 0, request, fields);
}

void
ck_engine_track(CkEngine *self, CkRequest *request)
{
	g_hash_table_insert(self->requests, g_strdup(ck_request_get_id(request)),
			    g_object_ref(request));
	ck_request_set_watch(request, ck_engine_request_changed_cb, self);
	/* a request loaded from an older state, or new: it has been working from now on */
	if (ck_request_get_state(request) != CK_REQUEST_STATE_MONITORING &&
	    ck_request_get_working_since(request) == 0)
		ck_request_set_working_since(request, ck_clock_now());
	ck_engine_update_expiry(self, request);
	ck_engine_watch_request(self, request);
}

static gboolean
ck_engine_setup_cas(CkEngine *self, GError **error)
{
	GPtrArray *cas = ck_config_get_cas(self->config);

	for (guint i = 0; i < cas->len; i++) {
		CkCaConfig *cfg = g_ptr_array_index(cas, i);
		CkCa *ca = ck_engine_make_ca(self, cfg, error);
		if (ca == NULL)
			return FALSE;
		g_hash_table_insert(self->cas, g_strdup(cfg->name), ca);
		/* like certmonger, learn what each CA publishes (its roots) at start-up */
		ck_engine_refresh_ca(self, ca);
	}
	ck_engine_load_dynamic_cas(self);
	return TRUE;
}

/* Re-reads a batch of certificate files per idle round, so D-Bus stays served meanwhile. */
static gboolean
ck_engine_reread_cb(gpointer user_data)
{
	CkEngine *self = CK_ENGINE(user_data);
	guint batch = MIN(self->reread_queue->len, 64u);

	for (guint i = 0; i < batch; i++) {
		CkRequest *request = g_ptr_array_index(self->reread_queue, i);
		/* still tracked, and not changed by ourselves since start-up */
		if (g_hash_table_lookup(self->requests, ck_request_get_id(request)) == request &&
		    ck_engine_lookup_job(self, request) == NULL)
			ck_engine_check_external_change(self, request);
	}
	g_ptr_array_remove_range(self->reread_queue, 0, batch);
	if (self->reread_queue->len > 0)
		return G_SOURCE_CONTINUE;
	self->reread_id = 0;
	g_clear_pointer(&self->reread_queue, g_ptr_array_unref);
	return G_SOURCE_REMOVE;
}

void
ck_engine_load_policy(CkEngine *self)
{
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	const gchar *dir = ck_engine_lifecycle(self)->policy_dir;

	ck_policy_load_dir(self->policy, dir, warnings);
	for (guint i = 0; i < warnings->len; i++)
		g_warning("%s", (const gchar *)g_ptr_array_index(warnings, i));
	g_info("%u policy rules from %s", ck_policy_get_n_rules(self->policy), dir);
}

gboolean
ck_engine_start(CkEngine *self, GError **error)
{
	g_autoptr(GPtrArray) loaded = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	g_return_val_if_fail(!self->started, FALSE);

	if (!ck_store_open(self->store, error) ||
	    !ck_file_ensure_dir(self->pending_dir, 0700, error))
		return FALSE;
	/* the state directory is ours alone (certkeeperd holds its lock): a temporary file
	 * in it is what a killed daemon left between a write and its rename */
	ck_file_remove_stale_temps(self->state_dir);
	ck_file_remove_stale_temps(self->pending_dir);
	if (!ck_engine_setup_cas(self, error))
		return FALSE;
	ck_engine_load_clock(self);
	ck_engine_load_policy(self);
	loaded = ck_store_load_requests(self->store, error);
	if (loaded == NULL)
		return FALSE;
	for (guint i = 0; i < loaded->len; i++) {
		CkRequest *request = g_ptr_array_index(loaded, i);
		ck_engine_track(self, request);
		ck_engine_resume(self, request);
	}
	ck_engine_reconcile_declared(self);
	ck_engine_watch_time_sync(self);
	/* what changed while we were not running is read in the background, not before ready */
	self->reread_queue = ck_engine_get_requests(self);
	for (guint i = 0; i < self->reread_queue->len; i++)
		g_object_ref(g_ptr_array_index(self->reread_queue, i));
	g_ptr_array_set_free_func(self->reread_queue, g_object_unref);
	self->reread_id = g_idle_add_full(G_PRIORITY_LOW, ck_engine_reread_cb, self, NULL);
	self->started = TRUE;
	ck_engine_metrics_start(self);
	g_info("tracking %u requests", g_hash_table_size(self->requests));
	return TRUE;
}

void
ck_engine_stop(CkEngine *self)
{
	g_return_if_fail(CK_IS_ENGINE(self));
	if (self->started) {
		ck_engine_save_clock(self, TRUE);
		ck_engine_metrics_stop(self);
	}
	ck_audit_sync(self->audit);
}

static gint
ck_engine_compare_requests(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(ck_request_get_id(*(CkRequest **)a), ck_request_get_id(*(CkRequest **)b));
}

GPtrArray *
ck_engine_get_requests(CkEngine *self)
{
	GPtrArray *array = g_ptr_array_sized_new(g_hash_table_size(self->requests));
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(array, value);
	g_ptr_array_sort(array, ck_engine_compare_requests);
	return array;
}

CkRequest *
ck_engine_find_request(CkEngine *self, const gchar *id)
{
	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	if (id == NULL)
		return NULL;
	return g_hash_table_lookup(self->requests, id);
}

CkCa *
ck_engine_find_ca(CkEngine *self, const gchar *name)
{
	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	if (name == NULL)
		return NULL;
	return g_hash_table_lookup(self->cas, name);
}

static gint
ck_engine_compare_cas(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(ck_ca_get_name(*(CkCa **)a), ck_ca_get_name(*(CkCa **)b));
}

GPtrArray *
ck_engine_get_cas(CkEngine *self)
{
	GPtrArray *array = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, self->cas);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(array, value);
	g_ptr_array_sort(array, ck_engine_compare_cas);
	return array;
}

void
ck_engine_set_service_manager(CkEngine *self, CkServiceManager *manager)
{
	g_return_if_fail(CK_IS_ENGINE(self));
	g_set_object(&self->service_manager, manager);
}

/* Adding a request: every value is checked before anything is written */

/* certmonger-like ids: the creation time, made unique with a counter. */
static gchar *
ck_engine_new_request_id(CkEngine *self)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree gchar *base = g_date_time_format(now, "%Y%m%d%H%M%S");

	if (!g_hash_table_contains(self->requests, base))
		return g_steal_pointer(&base);
	for (guint i = 1;; i++) {
		gchar *id = g_strdup_printf("%s-%u", base, i);
		if (!g_hash_table_contains(self->requests, id))
			return id;
		g_free(id);
	}
}

/* Could g_canonicalize_filename() change @path? ("//", "/./", "/../", a trailing "/") */
static gboolean
ck_engine_path_is_canonical(const gchar *path)
{
	gsize len = strlen(path);

	if (len > 1 && path[len - 1] == '/')
		return FALSE;
	for (const gchar *p = strchr(path, '/'); p != NULL; p = strchr(p + 1, '/')) {
		if (p[1] == '/' || (p[1] == '.' && (p[2] == '/' || p[2] == '\0')) ||
		    (p[1] == '.' && p[2] == '.' && (p[3] == '/' || p[3] == '\0')))
			return FALSE;
	}
	return TRUE;
}

/* Do @a and @b name the same file? "x//y", "x/./y", "x/z/../y" and "x/y/" are all x/y. */
static gboolean
ck_engine_same_path(const gchar *a, const gchar *b)
{
	g_autofree gchar *ca = NULL;
	g_autofree gchar *cb = NULL;

	if (a == NULL || b == NULL)
		return FALSE;
	if (strcmp(a, b) == 0)
		return TRUE;
	if (!g_path_is_absolute(a) || !g_path_is_absolute(b))
		return FALSE;
	/* every AddRequest compares with every tracked path: skip the allocations when
	 * both are canonical already, as they nearly always are */
	if (ck_engine_path_is_canonical(a) && ck_engine_path_is_canonical(b))
		return FALSE;
	ca = g_canonicalize_filename(a, NULL);
	cb = g_canonicalize_filename(b, NULL);
	return strcmp(ca, cb) == 0;
}

/* The id of the request that already uses @path for one of its files, or NULL. */
const gchar *
ck_engine_find_tracked_path(CkEngine *self, const gchar *path)
{
	GHashTableIter iter;
	gpointer value;

	if (path == NULL)
		return NULL;
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		CkRequest *other = value;
		if (ck_engine_same_path(ck_request_get_cert_file(other), path) ||
		    ck_engine_same_path(ck_request_get_key_file(other), path) ||
		    ck_engine_same_path(ck_request_get_chain_file(other), path) ||
		    ck_engine_same_path(ck_request_get_combined_file(other), path) ||
		    ck_engine_same_path(ck_request_get_directory(other), path))
			return ck_request_get_id(other);
	}
	return NULL;
}

/* The directory layout names its files itself; checks the directory. */
static gboolean
ck_engine_validate_directory(CkEngine *self, CkRequest *request, GError **error)
{
	const gchar *dir = ck_request_get_directory(request);
	g_autofree gchar *probe = NULL;
	const gchar *names[] = {"cert.pem", "key.pem", "chain.pem", "combined.pem"};

	if (!g_path_is_absolute(dir) || !g_file_test(dir, G_FILE_TEST_IS_DIR)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The directory '%s' does not exist or is not an absolute path: create "
			      "it first"),
			    dir);
		return FALSE;
	}
	/* the directory layout owns its names: a regular file there is someone else's */
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *path = g_build_filename(dir, names[i], NULL);
		if (g_file_test(path, G_FILE_TEST_EXISTS) &&
		    !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' exists and is not a link certkeeper made: the "
				      "directory layout needs a directory of its own"),
				    path);
			return FALSE;
		}
	}
	probe = g_build_filename(dir, "cert.pem", NULL);
	if (!ck_installer_check_target(probe, _("directory"), error))
		return FALSE;
	{
		g_autofree gchar *cert = g_build_filename(dir, "cert.pem", NULL);
		g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
		g_autofree gchar *chain = g_build_filename(dir, "chain.pem", NULL);
		ck_request_set_cert_file(request, cert);
		ck_request_set_key_file(request, key);
		ck_request_set_chain_file(request, chain);
	}
	return TRUE;
}

/* FALSE when the request's key lives in a token: its key location is no file. */
static gboolean
ck_engine_request_keeps_key_file(CkEngine *self, CkRequest *request)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	return provider == NULL || ck_key_provider_keeps_files(provider);
}

/*
 * A key in a token: its location is the provider's (a PKCS#11 URI), and the
 * layouts that would write the key into a file cannot have it. The certificate
 * stays a file, so the watch, the checks and the rollback work as for any key.
 */
static gboolean
ck_engine_validate_token_key(CkEngine *self, CkRequest *request, GError **error)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	const gchar *cert_file = ck_request_get_cert_file(request);
	const gchar *key_file = ck_request_get_key_file(request);
	const gchar *chain_file = ck_request_get_chain_file(request);

	if (provider == NULL || ck_key_provider_keeps_files(provider))
		return TRUE;
	/* the token, its PIN file and its module are root's, whatever a user's policy allows */
	if (ck_request_get_owner_uid(request) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    _("Only root may keep a request's key in a token (key provider '%s')"),
			    ck_key_provider_get_name(provider));
		return FALSE;
	}
	if (ck_request_get_combined_file(request) != NULL ||
	    ck_request_get_directory(request) != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("A key in a token (key provider '%s') is no file: it cannot go into "
			      "a combined file or a versioned directory; use -f and -k"),
			    ck_key_provider_get_name(provider));
		return FALSE;
	}
	if (cert_file == NULL || cert_file[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("No certificate file given: name one with -f"));
		return FALSE;
	}
	if (!g_path_is_absolute(cert_file)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate location '%s' must be a file (an absolute path); "
			      "to have certkeeper also write the certificate into the token, set "
			      "Pkcs11StoreCertificates=true in certkeeper.conf"),
			    cert_file);
		return FALSE;
	}
	if (key_file == NULL || key_file[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("No key location given: name the key in the token with -k, e.g. "
			      "-k 'pkcs11:token=NAME;object=LABEL'"));
		return FALSE;
	}
	return ck_key_provider_check_location(provider, key_file, error) &&
	       ck_installer_check_target(cert_file, _("certificate file"), error) &&
	       (chain_file == NULL ||
		ck_installer_check_target(chain_file, _("chain file"), error));
}

static gboolean
ck_engine_validate_files(CkEngine *self, CkRequest *request, GError **error)
{
	const gchar *paths[5];

	if (!ck_engine_validate_token_key(self, request, error))
		return FALSE;
	if (ck_request_get_directory(request) != NULL) {
		if (!ck_engine_validate_directory(self, request, error))
			return FALSE;
	} else if (ck_engine_request_keeps_key_file(self, request)) {
		const gchar *cert_file = ck_request_get_cert_file(request);
		const gchar *key_file = ck_request_get_key_file(request);
		const gchar *chain_file = ck_request_get_chain_file(request);
		const gchar *combined = ck_request_get_combined_file(request);
		if (cert_file == NULL || cert_file[0] == '\0') {
			g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					    _("No certificate file given: name one with -f"));
			return FALSE;
		}
		if (key_file == NULL || key_file[0] == '\0') {
			g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					    _("No key file given: name one with -k"));
			return FALSE;
		}
		if (!ck_installer_check_target(cert_file, _("certificate file"), error) ||
		    !ck_installer_check_target(key_file, _("key file"), error))
			return FALSE;
		if (chain_file != NULL &&
		    !ck_installer_check_target(chain_file, _("chain file"), error))
			return FALSE;
		if (combined != NULL &&
		    !ck_installer_check_target(combined, _("combined file"), error))
			return FALSE;
	}
	paths[0] = ck_request_get_cert_file(request);
	paths[1] = ck_request_get_key_file(request);
	paths[2] = ck_request_get_chain_file(request);
	paths[3] = ck_request_get_combined_file(request);
	paths[4] = ck_request_get_directory(request);
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		const gchar *owner = ck_engine_find_tracked_path(self, paths[i]);
		for (guint j = i + 1; j < G_N_ELEMENTS(paths); j++) {
			if (ck_engine_same_path(paths[i], paths[j])) {
				g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					    _("'%s' is named for two different files; the "
					      "certificate, key and chain need a file each"),
					    paths[i]);
				return FALSE;
			}
		}
		if (owner != NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
				    _("'%s' is already used by request %s"), paths[i], owner);
			return FALSE;
		}
	}
	return TRUE;
}

/* systemd unit names: letters, digits and ":-_.\@", with a type suffix. */
static gboolean
ck_engine_unit_name_is_valid(const gchar *unit)
{
	const gchar *dot = strrchr(unit, '.');
	if (strlen(unit) > 255 || dot == NULL || dot == unit || dot[1] == '\0')
		return FALSE;
	for (const gchar *p = unit; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr(":-_.\\@", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

/* Checks the renewal, hook, check, bootstrap and proof settings of a request. */
gboolean
ck_engine_validate_policy(CkEngine *self, CkRequest *request, GError **error)
{
	CkThreshold threshold;
	const gchar *user = ck_request_get_hook_user(request);
	const gchar *unit = ck_request_get_reload_unit(request);
	const gchar *endpoint = ck_request_get_check_endpoint(request);
	const gchar *pid_file = ck_request_get_pid_file(request);
	const gchar *bootstrap_cert = ck_request_get_bootstrap_cert_file(request);
	const gchar *bootstrap_key = ck_request_get_bootstrap_key_file(request);
	const gchar *proof_key = ck_request_get_proof_key_file(request);
	const gchar *proof_provider = ck_request_get_proof_key_provider(request);

	if (!ck_threshold_parse(ck_request_get_renew_before(request), &threshold, error))
		return FALSE;
	if (user != NULL) {
		uid_t uid;
		gid_t gid;
		g_autofree gid_t *groups = NULL;
		gsize n_groups;
		if (!ck_subprocess_lookup_user(user, &uid, &gid, &groups, &n_groups, error))
			return FALSE;
	}
	if (unit != NULL && !ck_engine_unit_name_is_valid(unit)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not a systemd unit name (e.g. nginx.service)"), unit);
		return FALSE;
	}
	if (!g_strv_contains(ck_service_manager_modes(), ck_request_get_reload_mode(request))) {
		g_autofree gchar *known = g_strjoinv(", ", (gchar **)ck_service_manager_modes());
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not a reload mode; use one of %s"),
			    ck_request_get_reload_mode(request), known);
		return FALSE;
	}
	if (pid_file != NULL && !g_path_is_absolute(pid_file)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The PID file '%s' is not an absolute path"), pid_file);
		return FALSE;
	}
	if (ck_request_get_pid_signal(request) <= 0 || ck_request_get_pid_signal(request) > 64) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%d is not a signal number"), ck_request_get_pid_signal(request));
		return FALSE;
	}
	if (endpoint != NULL) {
		g_autofree gchar *host = NULL;
		guint16 port;
		if (!ck_tls_check_parse_endpoint(endpoint, &host, &port, error))
			return FALSE;
	}
	if ((bootstrap_cert == NULL) != (bootstrap_key == NULL)) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("A bootstrap identity needs both its certificate and its key"));
		return FALSE;
	}
	if (bootstrap_cert != NULL &&
	    (!g_path_is_absolute(bootstrap_cert) || !g_path_is_absolute(bootstrap_key))) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The bootstrap certificate and key need absolute paths"));
		return FALSE;
	}
	if (proof_key != NULL && !g_path_is_absolute(proof_key)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The proof key '%s' is not an absolute path"), proof_key);
		return FALSE;
	}
	if (proof_provider != NULL && proof_key == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("A proof key provider needs a proof key (--proof-key FILE)"));
		return FALSE;
	}
	if (proof_provider != NULL &&
	    g_hash_table_lookup(self->key_providers, proof_provider) == NULL) {
		g_autoptr(GList) names = g_hash_table_get_keys(self->key_providers);
		g_autoptr(GString) known = g_string_new(NULL);
		for (GList *l = names; l != NULL; l = l->next)
			g_string_append_printf(known, "%s%s", known->len > 0 ? ", " : "",
					       (const gchar *)l->data);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("There is no key provider '%s' for the proof key; use one of %s"),
			    proof_provider, known->str);
		return FALSE;
	}
	if (ck_request_get_validity(request) < 0 ||
	    ck_request_get_validity(request) > 36500LL * 86400) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("A validity of %lld days is too long: at most 36500"),
			    (long long)(ck_request_get_validity(request) / 86400));
		return FALSE;
	}
	return TRUE;
}

CkRequest *
ck_engine_new_request_template(CkEngine *self)
{
	CkRequest *request = ck_request_new(NULL);
	CkFileAttrs cert_attrs = CK_FILE_ATTRS_INIT(ck_config_get_default_cert_mode(self->config));
	CkFileAttrs key_attrs = CK_FILE_ATTRS_INIT(ck_config_get_default_key_mode(self->config));

	ck_request_set_key_type(request, ck_config_get_default_key_type(self->config));
	ck_request_set_key_policy(request, ck_engine_lifecycle(self)->key_policy);
	ck_request_set_ca(request, ck_config_get_default_ca(self->config));
	ck_request_set_cert_attrs(request, &cert_attrs);
	ck_request_set_key_attrs(request, &key_attrs);
	ck_request_set_validity(request, 0);
	return request;
}

/* The key type and provider go together, and the CA exists. */
gboolean
ck_engine_validate_key_and_ca(CkEngine *self, CkRequest *request, GError **error)
{
	CkKeyProvider *provider;

	if (ck_request_get_key_type(request) == CK_KEY_TYPE_UNKNOWN) {
		g_autofree gchar *known = g_strjoinv(", ", (gchar **)ck_key_type_all_names());
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("Unknown key type; supported key types are: %s"), known);
		return FALSE;
	}
	provider = g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	if (provider == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED, _("Unknown key provider '%s'"),
			    ck_request_get_key_provider(request));
		return FALSE;
	}
	if (!ck_key_provider_supports(provider, ck_request_get_key_type(request))) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("Key provider '%s' cannot make %s keys"),
			    ck_request_get_key_provider(request),
			    ck_key_type_to_string(ck_request_get_key_type(request)));
		return FALSE;
	}
	if (ck_request_get_ca(request) == NULL)
		ck_request_set_ca(request, ck_config_get_default_ca(self->config));
	if (!g_hash_table_contains(self->cas, ck_request_get_ca(request))) {
		g_autoptr(GPtrArray) cas = ck_engine_get_cas(self);
		g_autoptr(GString) known = g_string_new(NULL);
		for (guint i = 0; i < cas->len; i++) {
			if (known->len > 0)
				g_string_append(known, ", ");
			g_string_append(known, ck_ca_get_name(g_ptr_array_index(cas, i)));
		}
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    _("No CA named '%s'; configured CAs are: %s"),
			    ck_request_get_ca(request), known->str);
		return FALSE;
	}
	return TRUE;
}

/* Everything a new request must be, checked before anything is made or counted. */
static gboolean
ck_engine_check_new_request(CkEngine *self, CkRequest *request, GError **error)
{
	CkCsrParams params = {0};

	if (ck_request_get_id(request) != NULL) {
		if (!ck_request_id_is_valid(ck_request_get_id(request))) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not a valid request id: use 1 to 64 letters, "
				      "digits, '.', '_' or '-'"),
				    ck_request_get_id(request));
			return FALSE;
		}
		if (g_hash_table_contains(self->requests, ck_request_get_id(request))) {
			g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
				    _("A request with id '%s' already exists"),
				    ck_request_get_id(request));
			return FALSE;
		}
	}
	if (!ck_engine_validate_key_and_ca(self, request, error))
		return FALSE;
	/* like getcert: without a subject, the first DNS name becomes the common name */
	if ((ck_request_get_subject(request) == NULL || ck_request_get_subject(request)[0] == '\0') &&
	    ck_request_get_dns_names(request)[0] != NULL) {
		g_autofree gchar *cn =
		    g_strdup_printf("CN=%s", ck_request_get_dns_names(request)[0]);
		ck_request_set_subject(request, cn);
	}
	ck_request_get_csr_params(request, &params);
	return ck_csr_validate(&params, error) && ck_engine_validate_policy(self, request, error) &&
	       ck_engine_validate_files(self, request, error);
}

/* Tracks @request, which ck_engine_check_new_request() has accepted. */
static CkRequest *
ck_engine_add_checked_request(CkEngine *self, CkRequest *request, GError **error)
{
	g_autoptr(CkRequest) tracked = NULL;
	g_autoptr(JsonNode) json = NULL;
	g_autofree gchar *id = NULL;

	/* a fresh object from the template, so the caller's object never aliases ours */
	id = ck_request_get_id(request) != NULL ? g_strdup(ck_request_get_id(request))
						: ck_engine_new_request_id(self);
	json = ck_request_to_json(request);
	json_object_set_string_member(json_node_get_object(json), "id", id);
	json_object_set_string_member(json_node_get_object(json), "state",
				      ck_request_state_to_string(CK_REQUEST_STATE_NEED_KEY_PAIR));
	tracked = ck_request_new_from_json(json, error);
	if (tracked == NULL)
		return NULL;
	if (!ck_store_save_request(self->store, tracked, error))
		return NULL;
	ck_engine_track(self, tracked);
	g_message("request %s added: %s for CA %s", id, ck_request_get_cert_file(tracked),
		  ck_request_get_ca(tracked));
	ck_engine_emit_added(self, tracked);
	ck_engine_schedule_step(self, tracked);
	ck_engine_record(self, CK_AUDIT_RENEWAL_STARTED, NULL, tracked, NULL, "success", "reason",
			 "new request", NULL);
	/* the engine's table holds the reference the caller borrows */
	return tracked;
}

CkRequest *
ck_engine_add_request(CkEngine *self, CkRequest *request, GError **error)
{
	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	g_return_val_if_fail(CK_IS_REQUEST(request), NULL);

	if (!ck_engine_check_new_request(self, request, error))
		return NULL;
	return ck_engine_add_checked_request(self, request, error);
}

guint
ck_engine_count_owned(CkEngine *self, uid_t uid)
{
	GHashTableIter iter;
	gpointer value;
	guint n = 0;

	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		n += ck_request_get_owner_uid(value) == uid;
	return n;
}

CkRequest *
ck_engine_add_request_as(CkEngine *self, const CkCaller *caller, CkRequest *request,
			 GError **error)
{
	CkRequest *added;

	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	if (!ck_policy_authorize_new(self->policy, caller, request,
				     ck_engine_count_owned(self, caller->uid), error)) {
		g_message("refused AddRequest for uid %u: %s", (guint)caller->uid,
			  (*error)->message);
		ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, request, NULL, "denied",
				 "action", "AddRequest", "reason", (*error)->message, NULL);
		return NULL;
	}
	/* a request refused for bad input is no issue: it does not use up the rate */
	if (!ck_engine_check_new_request(self, request, error))
		return NULL;
	if (!ck_policy_take_issue(self->policy, caller, ck_clock_now(), error)) {
		g_message("refused AddRequest for uid %u: %s", (guint)caller->uid,
			  (*error)->message);
		ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, request, NULL, "denied",
				 "action", "AddRequest", "reason", (*error)->message, NULL);
		return NULL;
	}
	added = ck_engine_add_checked_request(self, request, error);
	if (added != NULL)
		ck_engine_record(self, CK_AUDIT_REQUEST_ADDED, caller, added, NULL, "success",
				 "action", "AddRequest", NULL);
	return added;
}

gboolean
ck_engine_authorize(CkEngine *self, const CkCaller *caller, CkRequest *request,
		    const gchar *action, gboolean issues, GError **error)
{
	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (!ck_policy_authorize_change(self->policy, caller, request, action, error) ||
	    (issues && !ck_policy_take_issue(self->policy, caller, ck_clock_now(), error))) {
		g_message("refused %s of request %s for uid %u: %s", action,
			  ck_request_get_id(request), (guint)caller->uid, (*error)->message);
		ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, request, NULL, "denied",
				 "action", action, "reason", (*error)->message, NULL);
		return FALSE;
	}
	return TRUE;
}

gboolean
ck_engine_remove_request(CkEngine *self, const gchar *id, GError **error)
{
	g_autoptr(CkRequest) request = NULL;
	g_autofree gchar *cleanup = NULL;
	g_autofree gchar *expiry = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	request = g_hash_table_lookup(self->requests, id);
	if (request == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No request with id '%s'"), id);
		return FALSE;
	}
	g_object_ref(request);
	if (!ck_store_remove_request(self->store, id, error))
		return FALSE;
	ck_engine_drop_job(self, request);
	ck_engine_remove_pending(self, request);
	ck_engine_unwatch_request(self, request);
	ck_scheduler_remove(self->scheduler, id);
	cleanup = g_strconcat(CK_CLEANUP_PREFIX, id, NULL);
	ck_scheduler_remove(self->scheduler, cleanup);
	expiry = g_strconcat(CK_EXPIRY_PREFIX, id, NULL);
	ck_scheduler_remove(self->scheduler, expiry);
	ck_request_set_watch(request, NULL, NULL);
	g_hash_table_remove(self->requests, id);
	g_message("request %s removed; its files stay in place", id);
	g_signal_emit(self, signals[SIGNAL_REQUEST_REMOVED], 0, request);
	return TRUE;
}

gboolean
ck_engine_remove_request_as(CkEngine *self, const CkCaller *caller, const gchar *id,
			    GError **error)
{
	g_autoptr(CkRequest) request = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	request = ck_engine_find_request(self, id);
	if (request == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No request with id '%s'"), id);
		return FALSE;
	}
	/* kept for the record: removing drops the engine's reference */
	g_object_ref(request);
	if (!ck_engine_authorize(self, caller, request, "RemoveRequest", FALSE, error) ||
	    !ck_engine_remove_request(self, id, error))
		return FALSE;
	ck_engine_record(self, CK_AUDIT_REQUEST_REMOVED, caller, request, NULL, "success", "action",
			 "RemoveRequest", NULL);
	return TRUE;
}

void
ck_engine_emit_added(CkEngine *self, CkRequest *request)
{
	g_signal_emit(self, signals[SIGNAL_REQUEST_ADDED], 0, request);
}

/* Renewal on demand */

static gboolean
ck_engine_renew_now(CkEngine *self, const gchar *id, gboolean reuse_key, GError **error)
{
	CkRequest *request = ck_engine_find_request(self, id);
	CkRequestState state;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (request == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No request with id '%s'"), id);
		return FALSE;
	}
	state = ck_request_get_state(request);
	/* an attempt that is under way finishes first; waiting ones start over now */
	if (state == CK_REQUEST_STATE_NEED_KEY_PAIR || state == CK_REQUEST_STATE_GENERATING_KEY_PAIR ||
	    state == CK_REQUEST_STATE_SUBMITTING || state == CK_REQUEST_STATE_SAVING_CERT ||
	    state == CK_REQUEST_STATE_POST_SAVED || state == CK_REQUEST_STATE_NEED_CSR) {
		g_set_error(error, CK_ERROR, CK_ERROR_BUSY,
			    _("Request %s is %s already; try again when it is done"), id,
			    ck_request_state_to_string(state));
		return FALSE;
	}
	/* a key revoked as compromised must not be certified again */
	if (reuse_key && ck_request_get_revoked(request) > 0 &&
	    g_strcmp0(ck_request_get_revocation_reason(request), "keyCompromise") == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate of request %s was revoked because its key is "
			      "compromised; get a certificate for a new key: certkeeper rekey -i %s"),
			    id, id);
		return FALSE;
	}
	if (reuse_key && ck_request_get_not_after(request) == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_BUSY,
			    _("Request %s has no certificate and key yet to resubmit"), id);
		return FALSE;
	}
	g_message("request %s: %s on demand", id, reuse_key ? "resubmitting" : "re-keying");
	ck_engine_drop_job(self, request);
	ck_engine_remove_pending(self, request);
	ck_request_set_failed_attempts(request, 0);
	ck_request_set_ca_cookie(request, NULL);
	ck_engine_start_renewal(self, request, reuse_key, !reuse_key);
	return TRUE;
}

gboolean
ck_engine_renew_as(CkEngine *self, const CkCaller *caller, const gchar *id, gboolean rekey,
		   GError **error)
{
	CkRequest *request = ck_engine_find_request(self, id);
	const gchar *action = rekey ? "Rekey" : "Resubmit";

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (request == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No request with id '%s'"), id);
		return FALSE;
	}
	if (!ck_engine_authorize(self, caller, request, action, TRUE, error) ||
	    !ck_engine_renew_now(self, id, !rekey, error))
		return FALSE;
	ck_engine_record(self, CK_AUDIT_RENEWAL_REQUESTED, caller, request, NULL, "success",
			 "action", action, NULL);
	return TRUE;
}

gboolean
ck_engine_resubmit(CkEngine *self, const gchar *id, GError **error)
{
	return ck_engine_renew_now(self, id, TRUE, error);
}

gboolean
ck_engine_rekey(CkEngine *self, const gchar *id, GError **error)
{
	return ck_engine_renew_now(self, id, FALSE, error);
}

static void
ck_engine_dispose(GObject *object)
{
	CkEngine *self = CK_ENGINE(object);
	GHashTableIter iter;
	gpointer value;

	/* jobs first: they give their limiter slots back */
	g_hash_table_remove_all(self->jobs);
	g_hash_table_remove_all(self->rechecks);
	/* like jobs: a question in flight gives its limiter slot back */
	g_hash_table_remove_all(self->window_asks);
	g_hash_table_remove_all(self->dir_watches);
	g_clear_handle_id(&self->clock_recheck_id, g_source_remove);
	g_clear_handle_id(&self->reread_id, g_source_remove);
	g_clear_handle_id(&self->trim_id, g_source_remove);
	g_clear_handle_id(&self->metrics_flush_id, g_source_remove);
	g_clear_pointer(&self->reread_queue, g_ptr_array_unref);
	if (self->time_sync_monitor != NULL) {
		g_file_monitor_cancel(self->time_sync_monitor);
		g_signal_handlers_disconnect_by_data(self->time_sync_monitor, self);
		g_clear_object(&self->time_sync_monitor);
	}
	if (self->scheduler != NULL)
		g_signal_handlers_disconnect_by_data(self->scheduler, self);
	g_clear_object(&self->scheduler);
	g_clear_object(&self->service_manager);
	/* a request someone else still holds must not call a finalized engine */
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		ck_request_set_watch(value, NULL, NULL);
	G_OBJECT_CLASS(ck_engine_parent_class)->dispose(object);
}

static void
ck_engine_finalize(GObject *object)
{
	CkEngine *self = CK_ENGINE(object);
	g_hash_table_unref(self->jobs);
	g_hash_table_unref(self->rechecks);
	g_hash_table_unref(self->window_asks);
	g_hash_table_unref(self->revoking);
	g_hash_table_unref(self->dir_watches);
	g_hash_table_unref(self->watched_paths);
	g_hash_table_unref(self->requests);
	g_hash_table_unref(self->cas);
	g_hash_table_unref(self->key_providers);
	g_hash_table_unref(self->dynamic_cas);
	g_clear_object(&self->audit);
	g_free(self->config_path);
	ck_limiter_free(self->key_limiter);
	ck_limiter_free(self->submit_limiter);
	g_object_unref(self->store);
	g_object_unref(self->policy);
	g_object_unref(self->metrics);
	g_object_unref(self->config);
	g_free(self->state_dir);
	g_free(self->pending_dir);
	G_OBJECT_CLASS(ck_engine_parent_class)->finalize(object);
}

static void
ck_engine_init(CkEngine *self)
{
	self->requests = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify)ck_job_free);
	self->cas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->key_providers =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->dir_watches = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						  (GDestroyNotify)ck_dir_watch_free);
	self->watched_paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->rechecks =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ck_engine_remove_recheck);
	self->window_asks =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, ck_window_ask_free);
	self->revoking = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->dynamic_cas = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						  (GDestroyNotify)ck_ca_config_free);
}

static void
ck_engine_class_init(CkEngineClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = ck_engine_dispose;
	object_class->finalize = ck_engine_finalize;
	signals[SIGNAL_REQUEST_ADDED] =
	    g_signal_new("request-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 1, CK_TYPE_REQUEST);
	signals[SIGNAL_REQUEST_REMOVED] =
	    g_signal_new("request-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 1, CK_TYPE_REQUEST);
	signals[SIGNAL_REQUEST_CHANGED] =
	    g_signal_new("request-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 2, CK_TYPE_REQUEST, G_TYPE_UINT);
	signals[SIGNAL_CERTIFICATE_SAVED] =
	    g_signal_new("certificate-saved", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 1, CK_TYPE_REQUEST);
	signals[SIGNAL_CA_ADDED] = g_signal_new("ca-added", G_TYPE_FROM_CLASS(klass),
						G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
						G_TYPE_NONE, 1, CK_TYPE_CA);
	signals[SIGNAL_CA_REMOVED] = g_signal_new("ca-removed", G_TYPE_FROM_CLASS(klass),
						  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
						  G_TYPE_NONE, 1, CK_TYPE_CA);
	signals[SIGNAL_CA_CHANGED] = g_signal_new("ca-changed", G_TYPE_FROM_CLASS(klass),
						  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
						  G_TYPE_NONE, 1, CK_TYPE_CA);
}

/* AuditLog= (STATE/audit.log when unset, none for no audit log). */
static CkAudit *
ck_engine_new_audit(CkConfig *config, const gchar *state_dir)
{
	const CkAuditConfig *cfg = ck_config_get_audit(config);
	g_autofree gchar *path = NULL;

	if (g_strcmp0(cfg->path, "none") != 0)
		path = cfg->path != NULL ? g_strdup(cfg->path)
					 : g_build_filename(state_dir, "audit.log", NULL);
	return ck_audit_new(path, cfg->max_size, cfg->rotate);
}

CkEngine *
ck_engine_new(CkConfig *config, const gchar *state_dir)
{
	CkEngine *self = g_object_new(CK_TYPE_ENGINE, NULL);
	CkKeyProvider *file_provider = ck_key_provider_file_new();
	const CkLifecycleConfig *lc = ck_config_get_lifecycle(config);
	guint keys = lc->max_parallel_keys != 0 ? lc->max_parallel_keys : g_get_num_processors();

	self->config = g_object_ref(config);
	self->state_dir = g_strdup(state_dir);
	self->pending_dir = g_build_filename(state_dir, "pending", NULL);
	self->audit = ck_engine_new_audit(config, state_dir);
	self->store = ck_store_new(state_dir);
	self->policy = ck_policy_new(ck_config_get_default_ca(config));
	self->metrics = ck_metrics_new();
	self->scheduler = ck_scheduler_new(ck_engine_scheduler_cb, self);
	g_signal_connect(self->scheduler, "clock-changed",
			 G_CALLBACK(ck_engine_scheduler_clock_changed_cb), self);
	self->key_limiter = ck_limiter_new(keys);
	ck_key_provider_set_threads(keys);
	self->submit_limiter = ck_limiter_new(lc->max_parallel_submissions);
	g_hash_table_insert(self->key_providers, g_strdup(ck_key_provider_get_name(file_provider)),
			    file_provider);
	/* keys in a PKCS#11 token; the module is loaded only when a request uses it */
	{
		CkKeyProvider *pkcs11_provider = ck_key_provider_pkcs11_new(lc->pkcs11_module);
		g_hash_table_insert(self->key_providers,
				    g_strdup(ck_key_provider_get_name(pkcs11_provider)),
				    pkcs11_provider);
	}
#if CK_HAVE_TPM
	{
		CkKeyProvider *tpm_provider = ck_key_provider_tpm_new(ck_config_get_tpm_tcti(config));
		g_hash_table_insert(self->key_providers,
				    g_strdup(ck_key_provider_get_name(tpm_provider)), tpm_provider);
	}
#endif
	return self;
}
