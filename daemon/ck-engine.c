/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>
#include <gnutls/x509.h>

#include "ck-ca-helper.h"
#include "ck-ca-local.h"
#include "ck-engine.h"
#include "ck-error.h"
#include "ck-installer.h"
#include "ck-key-provider-file.h"
#include "ck-store.h"

/* Helpers may print a chain of certificates; a megabyte is far beyond any real answer. */
#define CK_HELPER_MAX_OUTPUT (1024 * 1024)
/* How long to wait before polling a CA that said "wait" without saying how long. */
#define CK_CA_POLL_DEFAULT_SECONDS 30
/* Retry an unreachable CA (or a failed install) after 60 s, doubling up to 6 h. */
#define CK_RETRY_BASE_SECONDS 60
#define CK_RETRY_CAP_SECONDS (6 * 3600)

/* What one request's lifecycle holds in memory between steps; never persisted. */
typedef struct {
	CkKey *key;
	gchar *csr;
	gchar *certificate;
	gchar *chain;
	GCancellable *cancellable;
	guint step_id;	/* idle source running the next step */
	guint retry_id; /* timeout source for a retry or a poll */
} CkJob;

struct _CkEngine {
	GObject parent_instance;
	CkConfig *config;
	gchar *state_dir;
	CkStore *store;
	GHashTable *requests;	   /* id -> CkRequest */
	GHashTable *jobs;	   /* id -> CkJob */
	GHashTable *cas;	   /* name -> CkCa */
	GHashTable *key_providers; /* name -> CkKeyProvider */
	gboolean started;
};

G_DEFINE_TYPE(CkEngine, ck_engine, G_TYPE_OBJECT)

enum { SIGNAL_REQUEST_ADDED, SIGNAL_REQUEST_REMOVED, SIGNAL_REQUEST_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

static void
ck_engine_schedule_step(CkEngine *self, CkRequest *request);

static void
ck_job_free(CkJob *job)
{
	g_cancellable_cancel(job->cancellable);
	g_clear_object(&job->cancellable);
	g_clear_handle_id(&job->step_id, g_source_remove);
	g_clear_handle_id(&job->retry_id, g_source_remove);
	g_clear_pointer(&job->key, ck_key_unref);
	g_free(job->csr);
	g_free(job->certificate);
	g_free(job->chain);
	g_free(job);
}

static CkJob *
ck_engine_get_job(CkEngine *self, CkRequest *request)
{
	const gchar *id = ck_request_get_id(request);
	CkJob *job = g_hash_table_lookup(self->jobs, id);
	if (job == NULL) {
		job = g_new0(CkJob, 1);
		job->cancellable = g_cancellable_new();
		g_hash_table_insert(self->jobs, g_strdup(id), job);
	}
	return job;
}

static void
ck_engine_drop_job(CkEngine *self, CkRequest *request)
{
	g_hash_table_remove(self->jobs, ck_request_get_id(request));
}

/* Writes the request's state; a failure is logged and kept as the request's last error. */
static void
ck_engine_persist(CkEngine *self, CkRequest *request)
{
	g_autoptr(GError) error = NULL;
	if (!ck_store_save_request(self->store, request, &error)) {
		g_warning("cannot save the state of request %s: %s", ck_request_get_id(request),
			  error->message);
	}
}

static void
ck_engine_set_state(CkEngine *self, CkRequest *request, CkRequestState state)
{
	g_debug("request %s: %s -> %s", ck_request_get_id(request),
		ck_request_state_to_string(ck_request_get_state(request)),
		ck_request_state_to_string(state));
	ck_request_set_state(request, state);
	ck_engine_persist(self, request);
}

/* A request that needs a human: say why, and stop working on it. */
static void
ck_engine_fail(CkEngine *self, CkRequest *request, CkRequestState state, const gchar *why)
{
	g_warning("request %s: %s: %s", ck_request_get_id(request),
		  ck_request_state_to_string(state), why);
	ck_request_set_last_error(request, why);
	ck_request_set_next_attempt(request, 0);
	ck_engine_drop_job(self, request);
	ck_engine_set_state(self, request, state);
}

static guint64
ck_engine_retry_delay(guint failed_attempts)
{
	guint64 delay = CK_RETRY_BASE_SECONDS;
	for (guint i = 1; i < failed_attempts && delay < CK_RETRY_CAP_SECONDS; i++)
		delay *= 2;
	return MIN(delay, CK_RETRY_CAP_SECONDS);
}

typedef struct {
	CkEngine *engine;
	gchar *id;
} CkStepData;

static void
ck_step_data_free(CkStepData *data)
{
	g_free(data->id);
	g_free(data);
}

static gboolean
ck_engine_retry_cb(gpointer user_data)
{
	CkStepData *data = user_data;
	CkRequest *request = g_hash_table_lookup(data->engine->requests, data->id);
	CkJob *job = g_hash_table_lookup(data->engine->jobs, data->id);

	if (job != NULL)
		job->retry_id = 0;
	if (request == NULL)
		return G_SOURCE_REMOVE;
	ck_request_set_next_attempt(request, 0);
	ck_engine_schedule_step(data->engine, request);
	return G_SOURCE_REMOVE;
}

/* Looks at @request again after @delay seconds (a retry or a poll). */
static void
ck_engine_schedule_retry(CkEngine *self, CkRequest *request, guint64 delay)
{
	CkJob *job = ck_engine_get_job(self, request);
	CkStepData *data = g_new0(CkStepData, 1);

	data->engine = self;
	data->id = g_strdup(ck_request_get_id(request));
	g_clear_handle_id(&job->retry_id, g_source_remove);
	job->retry_id = g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, (guint)MIN(delay, G_MAXUINT),
						   ck_engine_retry_cb, data,
						   (GDestroyNotify)ck_step_data_free);
	ck_request_set_next_attempt(request, g_get_real_time() / G_USEC_PER_SEC + (gint64)delay);
}

/* A transient failure: keep what is installed, count it, and try again later. */
static void
ck_engine_retry_later(CkEngine *self, CkRequest *request, CkRequestState state, const gchar *why)
{
	guint attempts = ck_request_get_failed_attempts(request) + 1;
	guint64 delay = ck_engine_retry_delay(attempts);

	g_message("request %s: %s (attempt %u), retrying in %" G_GUINT64_FORMAT " s",
		  ck_request_get_id(request), why, attempts, delay);
	ck_request_set_failed_attempts(request, attempts);
	ck_request_set_last_error(request, why);
	ck_engine_schedule_retry(self, request, delay);
	ck_engine_set_state(self, request, state);
}

static void
ck_engine_key_generated_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &error);
	CkRequest *request;
	CkJob *job;

	if (key == NULL && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
		ck_step_data_free(data);
		return;
	}
	request = g_hash_table_lookup(data->engine->requests, data->id);
	job = g_hash_table_lookup(data->engine->jobs, data->id);
	if (request == NULL || job == NULL) {
		ck_step_data_free(data);
		return;
	}
	if (key == NULL) {
		g_autofree gchar *why =
		    /* TRANSLATORS: the placeholder is the reason */
		    g_strdup_printf(_("Cannot generate a key: %s"), error->message);
		ck_engine_fail(data->engine, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		ck_step_data_free(data);
		return;
	}
	job->key = g_steal_pointer(&key);
	ck_engine_set_state(data->engine, request, CK_REQUEST_STATE_NEED_CSR);
	ck_engine_schedule_step(data->engine, request);
	ck_step_data_free(data);
}

static void
ck_engine_step_generate_key(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	CkStepData *data;

	if (provider == NULL) {
		g_autofree gchar *why = g_strdup_printf(_("Unknown key provider '%s'"),
							ck_request_get_key_provider(request));
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	g_clear_pointer(&job->key, ck_key_unref);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_GENERATING_KEY_PAIR);
	data = g_new0(CkStepData, 1);
	data->engine = self;
	data->id = g_strdup(ck_request_get_id(request));
	ck_key_provider_generate_async(provider, ck_request_get_key_type(request), job->cancellable,
				       ck_engine_key_generated_cb, data);
}

static void
ck_engine_step_make_csr(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkCsrParams params = {0};
	g_autoptr(GError) error = NULL;

	if (job->key == NULL) {
		/* the key only lives in memory until it is installed: after a restart, start over */
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		return;
	}
	ck_request_get_csr_params(request, &params);
	g_free(job->csr);
	job->csr = ck_csr_build(&params, ck_key_get_privkey(job->key), &error);
	if (job->csr == NULL) {
		g_autofree gchar *why =
		    /* TRANSLATORS: the placeholder is the reason */
		    g_strdup_printf(_("Cannot create the certificate request: %s"), error->message);
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	ck_request_set_ca_cookie(request, NULL);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_SUBMITTING);
	ck_engine_schedule_step(self, request);
}

static void
ck_engine_submitted_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	CkEngine *self = data->engine;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = ck_ca_submit_finish(CK_CA(source), res, &error);
	CkRequest *request = g_hash_table_lookup(self->requests, data->id);
	CkJob *job = g_hash_table_lookup(self->jobs, data->id);
	const gchar *ca_name = ck_ca_get_name(CK_CA(source));

	if (request == NULL || job == NULL || g_cancellable_is_cancelled(job->cancellable)) {
		ck_step_data_free(data);
		return;
	}
	if (result == NULL) {
		g_autofree gchar *why =
		    /* TRANSLATORS: CA name, then the reason */
		    g_strdup_printf(_("CA '%s' failed: %s"), ca_name, error->message);
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_CA_UNREACHABLE, why);
		ck_step_data_free(data);
		return;
	}
	switch (result->outcome) {
	case CK_CA_OUTCOME_ISSUED:
		g_free(job->certificate);
		g_free(job->chain);
		job->certificate = g_steal_pointer(&result->certificate);
		job->chain = g_steal_pointer(&result->chain);
		ck_request_set_ca_cookie(request, NULL);
		ck_engine_set_state(self, request, CK_REQUEST_STATE_SAVING_CERT);
		ck_engine_schedule_step(self, request);
		break;
	case CK_CA_OUTCOME_WAIT:
		ck_request_set_ca_cookie(request, result->cookie);
		ck_engine_schedule_retry(self, request,
					 result->delay > 0 ? result->delay
							   : CK_CA_POLL_DEFAULT_SECONDS);
		ck_engine_set_state(self, request, CK_REQUEST_STATE_CA_WORKING);
		break;
	case CK_CA_OUTCOME_UNREACHABLE: {
		g_autofree gchar *why =
		    /* TRANSLATORS: CA name, then the CA's message */
		    g_strdup_printf(_("CA '%s' is unreachable: %s"), ca_name,
				    result->message != NULL ? result->message : "");
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_CA_UNREACHABLE, why);
		break;
	}
	case CK_CA_OUTCOME_REJECTED: {
		g_autofree gchar *why =
		    /* TRANSLATORS: CA name, then the CA's message */
		    g_strdup_printf(_("CA '%s' rejected the request: %s"), ca_name,
				    result->message != NULL ? result->message : "");
		ck_engine_fail(self, request, CK_REQUEST_STATE_CA_REJECTED, why);
		break;
	}
	case CK_CA_OUTCOME_NEED_NEW_KEY:
		g_clear_pointer(&job->key, ck_key_unref);
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		break;
	case CK_CA_OUTCOME_UNDERCONFIGURED:
	case CK_CA_OUTCOME_UNSUPPORTED:
	default: {
		g_autofree gchar *why =
		    /* TRANSLATORS: CA name, what the CA answered, then its message */
		    g_strdup_printf(_("CA '%s' cannot issue (%s): %s"), ca_name,
				    ck_ca_outcome_to_string(result->outcome),
				    result->message != NULL ? result->message : "");
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		break;
	}
	}
	ck_step_data_free(data);
}

static void
ck_engine_step_submit(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkCa *ca = g_hash_table_lookup(self->cas, ck_request_get_ca(request));
	CkCsrParams params = {0};
	CkCaSubmission submission = {0};
	CkStepData *data;

	if (ca == NULL) {
		g_autofree gchar *why =
		    g_strdup_printf(_("No CA named '%s' is configured"), ck_request_get_ca(request));
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	if (job->csr == NULL) {
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		return;
	}
	ck_request_get_csr_params(request, &params);
	submission.request_id = ck_request_get_id(request);
	submission.csr = job->csr;
	submission.cookie = ck_request_get_ca_cookie(request);
	submission.profile = ck_request_get_profile(request);
	submission.validity_days = ck_request_get_validity_days(request);
	submission.names = &params;
	ck_engine_set_state(self, request, CK_REQUEST_STATE_SUBMITTING);
	data = g_new0(CkStepData, 1);
	data->engine = self;
	data->id = g_strdup(ck_request_get_id(request));
	ck_ca_submit_async(ca, &submission, job->cancellable, ck_engine_submitted_cb, data);
}

static gboolean
ck_engine_check_issued(CkRequest *request, CkJob *job, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)job->certificate,
				(unsigned int)strlen(job->certificate)};
	gboolean ok;
	int rc;

	rc = gnutls_x509_crt_init(&crt);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM);
	if (rc != GNUTLS_E_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The CA returned an unreadable certificate: %s"),
			    gnutls_strerror(rc));
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		return FALSE;
	}
	ok = ck_key_matches_certificate(job->key, crt, error);
	gnutls_x509_crt_deinit(crt);
	return ok;
}

static void
ck_engine_step_save(CkEngine *self, CkRequest *request, CkJob *job)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) cert = NULL;
	g_autoptr(GBytes) chain = NULL;
	CkInstallFile files[3];
	guint n_files = 0;
	GBytes *key_bytes;

	if (job->key == NULL || job->certificate == NULL) {
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		return;
	}
	/* never put a certificate in place that does not belong to the key beside it */
	if (!ck_engine_check_issued(request, job, &error)) {
		g_autofree gchar *why = g_strdup_printf(_("The issued certificate was not installed: %s"),
							error->message);
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	key_bytes = ck_key_get_stored_form(job->key);
	cert = g_bytes_new(job->certificate, strlen(job->certificate));
	files[n_files++] = (CkInstallFile){ck_request_get_cert_file(request), cert,
					   *ck_request_get_cert_attrs(request)};
	if (key_bytes != NULL) {
		files[n_files++] = (CkInstallFile){ck_request_get_key_file(request), key_bytes,
						   *ck_request_get_key_attrs(request)};
	}
	if (ck_request_get_chain_file(request) != NULL && job->chain != NULL) {
		chain = g_bytes_new(job->chain, strlen(job->chain));
		files[n_files++] = (CkInstallFile){ck_request_get_chain_file(request), chain,
						   *ck_request_get_cert_attrs(request)};
	}
	if (!ck_installer_install(files, n_files, &error)) {
		g_autofree gchar *why =
		    /* TRANSLATORS: the placeholder is the reason */
		    g_strdup_printf(_("Cannot install the certificate: %s"), error->message);
		/* the old files are untouched; keep the new pair in memory and try again */
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_SAVING_CERT, why);
		return;
	}
	if (!ck_request_set_certificate_info_from_pem(request, job->certificate, &error))
		g_warning("request %s: %s", ck_request_get_id(request), error->message);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_POST_SAVED);
	g_message("request %s: certificate %s installed in %s", ck_request_get_id(request),
		  ck_request_get_serial(request), ck_request_get_cert_file(request));
	ck_request_set_last_error(request, NULL);
	ck_request_set_failed_attempts(request, 0);
	ck_request_set_next_attempt(request, 0);
	ck_engine_drop_job(self, request);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_MONITORING);
}

/* Runs whatever the request's state calls for next. */
static void
ck_engine_step(CkEngine *self, CkRequest *request)
{
	CkJob *job = ck_engine_get_job(self, request);

	switch (ck_request_get_state(request)) {
	case CK_REQUEST_STATE_NEED_KEY_PAIR:
		ck_engine_step_generate_key(self, request, job);
		break;
	case CK_REQUEST_STATE_NEED_CSR:
		ck_engine_step_make_csr(self, request, job);
		break;
	case CK_REQUEST_STATE_SUBMITTING:
	case CK_REQUEST_STATE_CA_WORKING:
	case CK_REQUEST_STATE_CA_UNREACHABLE:
		/* a retry or a poll: the job still holds the key and CSR */
		ck_engine_step_submit(self, request, job);
		break;
	case CK_REQUEST_STATE_SAVING_CERT:
		ck_engine_step_save(self, request, job);
		break;
	case CK_REQUEST_STATE_GENERATING_KEY_PAIR:
	case CK_REQUEST_STATE_POST_SAVED:
	case CK_REQUEST_STATE_MONITORING:
	case CK_REQUEST_STATE_CA_REJECTED:
	case CK_REQUEST_STATE_NEED_GUIDANCE:
	case CK_REQUEST_STATE_NEED_TO_RECOVER:
	case CK_REQUEST_STATE_STOPPED:
	default:
		/* nothing to do until something (a human, a renewal) moves it on */
		if (job->step_id == 0 && job->retry_id == 0 && job->key == NULL)
			ck_engine_drop_job(self, request);
		break;
	}
}

static gboolean
ck_engine_step_cb(gpointer user_data)
{
	CkStepData *data = user_data;
	CkRequest *request = g_hash_table_lookup(data->engine->requests, data->id);
	CkJob *job = g_hash_table_lookup(data->engine->jobs, data->id);

	if (job != NULL)
		job->step_id = 0;
	if (request != NULL)
		ck_engine_step(data->engine, request);
	return G_SOURCE_REMOVE;
}

/* Steps run from an idle callback so that no state change recurses into the next one. */
static void
ck_engine_schedule_step(CkEngine *self, CkRequest *request)
{
	CkJob *job = ck_engine_get_job(self, request);
	CkStepData *data;

	if (job->step_id != 0)
		return;
	data = g_new0(CkStepData, 1);
	data->engine = self;
	data->id = g_strdup(ck_request_get_id(request));
	job->step_id = g_idle_add_full(G_PRIORITY_DEFAULT, ck_engine_step_cb, data,
				       (GDestroyNotify)ck_step_data_free);
}

static void
ck_engine_request_changed_cb(CkRequest *request, guint fields, CkEngine *self)
{
	g_signal_emit(self, signals[SIGNAL_REQUEST_CHANGED], 0, request, fields);
}

static void
ck_engine_track(CkEngine *self, CkRequest *request)
{
	g_hash_table_insert(self->requests, g_strdup(ck_request_get_id(request)),
			    g_object_ref(request));
	g_signal_connect_object(request, "changed", G_CALLBACK(ck_engine_request_changed_cb), self,
				0);
}

static void
ck_engine_ca_refreshed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	if (!ck_ca_refresh_finish(CK_CA(source), res, &error))
		g_message("CA %s: %s", ck_ca_get_name(CK_CA(source)), error->message);
}

static gboolean
ck_engine_setup_cas(CkEngine *self, GError **error)
{
	GPtrArray *cas = ck_config_get_cas(self->config);

	for (guint i = 0; i < cas->len; i++) {
		CkCaConfig *cfg = g_ptr_array_index(cas, i);
		g_autoptr(CkCa) ca = NULL;

		if (g_strcmp0(cfg->type, "local") == 0) {
			/* the default CA keeps the documented path; others get their own */
			g_autofree gchar *dirname = g_strcmp0(cfg->name, "local") == 0
							? g_strdup("local-ca")
							: g_strdup_printf("local-ca-%s", cfg->name);
			g_autofree gchar *dir = g_build_filename(self->state_dir, dirname, NULL);
			ca = ck_ca_local_new(cfg->name, dir,
					     cfg->validity_days != 0
						 ? cfg->validity_days
						 : ck_config_get_default_validity_days(self->config));
		} else if (g_strcmp0(cfg->type, "helper") == 0) {
			ca = ck_ca_helper_new(cfg->name, cfg->helper, cfg->timeout,
					      CK_HELPER_MAX_OUTPUT, error);
			if (ca == NULL) {
				g_prefix_error(error, _("CA '%s': "), cfg->name);
				return FALSE;
			}
		} else {
			g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
				    _("CA '%s' has an unknown type '%s'"), cfg->name, cfg->type);
			return FALSE;
		}
		/* like certmonger, learn what each CA publishes (its roots) at start-up */
		ck_ca_refresh_async(ca, NULL, ck_engine_ca_refreshed_cb, NULL);
		g_hash_table_insert(self->cas, g_strdup(cfg->name), g_steal_pointer(&ca));
	}
	return TRUE;
}

gboolean
ck_engine_start(CkEngine *self, GError **error)
{
	g_autoptr(GPtrArray) loaded = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	g_return_val_if_fail(!self->started, FALSE);

	if (!ck_store_open(self->store, error))
		return FALSE;
	if (!ck_engine_setup_cas(self, error))
		return FALSE;
	loaded = ck_store_load_requests(self->store, error);
	if (loaded == NULL)
		return FALSE;
	for (guint i = 0; i < loaded->len; i++) {
		CkRequest *request = g_ptr_array_index(loaded, i);
		CkRequestState state = ck_request_get_state(request);

		/* keys and CSRs in flight died with the previous process: start those over */
		if (ck_request_state_is_transient(state) || state == CK_REQUEST_STATE_NEED_CSR ||
		    state == CK_REQUEST_STATE_CA_WORKING || state == CK_REQUEST_STATE_CA_UNREACHABLE) {
			g_message("request %s was %s when the daemon stopped; starting it over",
				  ck_request_get_id(request), ck_request_state_to_string(state));
			ck_request_set_state(request, CK_REQUEST_STATE_NEED_KEY_PAIR);
			ck_request_set_ca_cookie(request, NULL);
			ck_request_set_next_attempt(request, 0);
			ck_engine_persist(self, request);
		}
		ck_engine_track(self, request);
		ck_engine_schedule_step(self, request);
	}
	self->started = TRUE;
	g_info("tracking %u requests", g_hash_table_size(self->requests));
	return TRUE;
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

static const gchar *
ck_engine_find_tracked_path(CkEngine *self, const gchar *path)
{
	GHashTableIter iter;
	gpointer value;

	if (path == NULL)
		return NULL;
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		CkRequest *other = value;
		if (g_strcmp0(ck_request_get_cert_file(other), path) == 0 ||
		    g_strcmp0(ck_request_get_key_file(other), path) == 0 ||
		    g_strcmp0(ck_request_get_chain_file(other), path) == 0)
			return ck_request_get_id(other);
	}
	return NULL;
}

static gboolean
ck_engine_validate_files(CkEngine *self, CkRequest *request, GError **error)
{
	const gchar *cert_file = ck_request_get_cert_file(request);
	const gchar *key_file = ck_request_get_key_file(request);
	const gchar *chain_file = ck_request_get_chain_file(request);
	const gchar *paths[] = {cert_file, key_file, chain_file};

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
	if (chain_file != NULL && !ck_installer_check_target(chain_file, _("chain file"), error))
		return FALSE;
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		const gchar *owner = ck_engine_find_tracked_path(self, paths[i]);
		for (guint j = i + 1; j < G_N_ELEMENTS(paths); j++) {
			if (paths[i] != NULL && g_strcmp0(paths[i], paths[j]) == 0) {
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

CkRequest *
ck_engine_new_request_template(CkEngine *self)
{
	CkRequest *request = ck_request_new(NULL);
	CkFileAttrs cert_attrs = CK_FILE_ATTRS_INIT(ck_config_get_default_cert_mode(self->config));
	CkFileAttrs key_attrs = CK_FILE_ATTRS_INIT(ck_config_get_default_key_mode(self->config));

	ck_request_set_key_type(request, ck_config_get_default_key_type(self->config));
	ck_request_set_ca(request, ck_config_get_default_ca(self->config));
	ck_request_set_cert_attrs(request, &cert_attrs);
	ck_request_set_key_attrs(request, &key_attrs);
	ck_request_set_validity_days(request, 0);
	return request;
}

CkRequest *
ck_engine_add_request(CkEngine *self, CkRequest *request, GError **error)
{
	CkKeyProvider *provider;
	CkCsrParams params = {0};
	g_autoptr(CkRequest) owned = NULL;
	CkRequest *tracked;
	g_autoptr(JsonNode) json = NULL;
	g_autofree gchar *id = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	g_return_val_if_fail(CK_IS_REQUEST(request), NULL);

	/* validate everything before anything is written */
	if (ck_request_get_id(request) != NULL) {
		if (!ck_request_id_is_valid(ck_request_get_id(request))) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not a valid request id: use 1 to 64 letters, "
				      "digits, '.', '_' or '-'"),
				    ck_request_get_id(request));
			return NULL;
		}
		if (g_hash_table_contains(self->requests, ck_request_get_id(request))) {
			g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
				    _("A request with id '%s' already exists"),
				    ck_request_get_id(request));
			return NULL;
		}
	}
	if (ck_request_get_key_type(request) == CK_KEY_TYPE_UNKNOWN) {
		g_autofree gchar *known = g_strjoinv(", ", (gchar **)ck_key_type_all_names());
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("Unknown key type; supported key types are: %s"), known);
		return NULL;
	}
	provider = g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	if (provider == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED, _("Unknown key provider '%s'"),
			    ck_request_get_key_provider(request));
		return NULL;
	}
	if (!ck_key_provider_supports(provider, ck_request_get_key_type(request))) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("Key provider '%s' cannot make %s keys"),
			    ck_request_get_key_provider(request),
			    ck_key_type_to_string(ck_request_get_key_type(request)));
		return NULL;
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
		return NULL;
	}
	/* like getcert: without a subject, the first DNS name becomes the common name */
	if ((ck_request_get_subject(request) == NULL || ck_request_get_subject(request)[0] == '\0') &&
	    ck_request_get_dns_names(request)[0] != NULL) {
		g_autofree gchar *cn =
		    g_strdup_printf("CN=%s", ck_request_get_dns_names(request)[0]);
		ck_request_set_subject(request, cn);
	}
	ck_request_get_csr_params(request, &params);
	if (!ck_csr_validate(&params, error))
		return NULL;
	if (ck_request_get_validity_days(request) > 36500) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("A validity of %u days is too long: at most 36500"),
			    ck_request_get_validity_days(request));
		return NULL;
	}
	if (!ck_engine_validate_files(self, request, error))
		return NULL;

	/* a fresh object from the template, so the caller's object never aliases ours */
	id = ck_request_get_id(request) != NULL ? g_strdup(ck_request_get_id(request))
						: ck_engine_new_request_id(self);
	json = ck_request_to_json(request);
	json_object_set_string_member(json_node_get_object(json), "id", id);
	json_object_set_string_member(json_node_get_object(json), "state",
				      ck_request_state_to_string(CK_REQUEST_STATE_NEED_KEY_PAIR));
	owned = ck_request_new_from_json(json, error);
	if (owned == NULL)
		return NULL;
	tracked = owned;
	if (!ck_store_save_request(self->store, tracked, error))
		return NULL;
	ck_engine_track(self, tracked);
	g_message("request %s added: %s for CA %s", id, ck_request_get_cert_file(tracked),
		  ck_request_get_ca(tracked));
	g_signal_emit(self, signals[SIGNAL_REQUEST_ADDED], 0, tracked);
	ck_engine_schedule_step(self, tracked);
	/* the engine's table holds the reference the caller borrows */
	return tracked;
}

gboolean
ck_engine_remove_request(CkEngine *self, const gchar *id, GError **error)
{
	g_autoptr(CkRequest) request = NULL;

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
	g_signal_handlers_disconnect_by_data(request, self);
	g_hash_table_remove(self->requests, id);
	g_message("request %s removed; its files stay in place", id);
	g_signal_emit(self, signals[SIGNAL_REQUEST_REMOVED], 0, request);
	return TRUE;
}

static void
ck_engine_finalize(GObject *object)
{
	CkEngine *self = CK_ENGINE(object);
	g_hash_table_unref(self->jobs);
	g_hash_table_unref(self->requests);
	g_hash_table_unref(self->cas);
	g_hash_table_unref(self->key_providers);
	g_object_unref(self->store);
	g_object_unref(self->config);
	g_free(self->state_dir);
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
}

static void
ck_engine_class_init(CkEngineClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
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
}

CkEngine *
ck_engine_new(CkConfig *config, const gchar *state_dir)
{
	CkEngine *self = g_object_new(CK_TYPE_ENGINE, NULL);
	CkKeyProvider *file_provider = ck_key_provider_file_new();

	self->config = g_object_ref(config);
	self->state_dir = g_strdup(state_dir);
	self->store = ck_store_new(state_dir);
	g_hash_table_insert(self->key_providers, g_strdup(ck_key_provider_get_name(file_provider)),
			    file_provider);
	return self;
}
