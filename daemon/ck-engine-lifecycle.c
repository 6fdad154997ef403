/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One request's way from NEED_KEY_PAIR to MONITORING and back again at every
 * renewal: the schedule, the key, the CSR, the submission with its retries,
 * and what a restart resumes.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-ca-helper.h"
#include "ck-clock.h"
#include "ck-engine-private.h"
#include "ck-error.h"
#include "ck-proof.h"

static void
ck_engine_step(CkEngine *self, CkRequest *request);

static gboolean
ck_engine_step_cb(gpointer user_data)
{
	CkStepData *data = user_data;
	CkRequest *request = NULL;
	CkJob *job = NULL;

	if (!ck_step_data_resolve(data, &request, &job))
		return G_SOURCE_REMOVE;
	job->step_id = 0;
	ck_engine_step(data->engine, request);
	return G_SOURCE_REMOVE;
}

/* Steps run from an idle callback so that no state change recurses into the next one. */
void
ck_engine_schedule_step(CkEngine *self, CkRequest *request)
{
	CkJob *job = ck_engine_get_job(self, request);

	if (job->step_id != 0)
		return;
	job->step_id = g_idle_add_full(G_PRIORITY_DEFAULT, ck_engine_step_cb,
				       ck_step_data_new(self, request, job),
				       (GDestroyNotify)ck_step_data_free);
}

/* The renewal threshold in force for @request (its own, else the configured one). */
static CkThreshold
ck_engine_threshold(CkEngine *self, CkRequest *request)
{
	CkThreshold threshold = ck_engine_lifecycle(self)->renew_before;
	const gchar *own = ck_request_get_renew_before(request);
	if (own[0] != '\0' && !ck_threshold_parse(own, &threshold, NULL))
		threshold = ck_engine_lifecycle(self)->renew_before;
	return threshold;
}

/*
 * The threshold the installed certificate renews by: the one in force, unless it
 * is a duration as long as the whole lifetime (@overlong then), which would make
 * every new certificate due at once and the renewals never end: such a
 * certificate renews by the default rule.
 */
static CkThreshold
ck_engine_renewal_threshold(CkEngine *self, CkRequest *request, gboolean *overlong)
{
	CkThreshold threshold = ck_engine_threshold(self, request);
	gint64 not_before = ck_request_get_not_before(request);
	gint64 not_after = ck_request_get_not_after(request);

	*overlong = threshold.kind == CK_THRESHOLD_DURATION && not_after > not_before &&
		    not_before >= 0 && threshold.seconds >= not_after - not_before;
	if (*overlong)
		threshold = (CkThreshold){.kind = CK_THRESHOLD_DEFAULT};
	return threshold;
}

/*
 * ExpiryStatus follows from the certificate, the threshold and the clock; its two
 * changes by time alone (valid -> expiring -> expired) are planned in the
 * scheduler like any renewal, so keeping it current costs no wake-up but those.
 */
void
ck_engine_update_expiry(CkEngine *self, CkRequest *request)
{
	g_autofree gchar *key = g_strconcat(CK_EXPIRY_PREFIX, ck_request_get_id(request), NULL);
	gboolean overlong;
	CkThreshold threshold = ck_engine_renewal_threshold(self, request, &overlong);
	gint64 expiring_at = ck_schedule_expiring_time(
	    ck_request_get_not_before(request), ck_request_get_not_after(request), &threshold,
	    ck_engine_lifecycle(self)->expiring_before);
	gint64 next_change = 0;
	CkExpiryStatus status = ck_schedule_expiry_status(
	    ck_clock_now(), ck_request_get_not_after(request), expiring_at, &next_change);

	ck_request_set_expiry_status(request, status);
	if (next_change > 0)
		ck_scheduler_set(self->scheduler, key, next_change);
	else
		ck_scheduler_remove(self->scheduler, key);
}

/* The jitter depends on the request and its certificate only, so restarts keep it. */
static guint64
ck_engine_jitter_seed(CkRequest *request)
{
	guint64 seed = g_str_hash(ck_request_get_id(request));
	const gchar *serial = ck_request_get_serial(request);
	return (seed << 32) ^ (serial != NULL ? g_str_hash(serial) : 0);
}

/*
 * Plans the next look at a MONITORING request: its renewal time, or a retry
 * that is due earlier. Nothing else wakes the daemon for it.
 */
void
ck_engine_plan(CkEngine *self, CkRequest *request)
{
	const gchar *id = ck_request_get_id(request);
	CkThreshold threshold;
	gboolean overlong;
	gint64 renewal, when;

	if (ck_request_get_backups_until(request) > 0) {
		g_autofree gchar *cleanup = g_strconcat(CK_CLEANUP_PREFIX, id, NULL);
		ck_scheduler_set(self->scheduler, cleanup, ck_request_get_backups_until(request));
	}
	if (ck_request_get_state(request) != CK_REQUEST_STATE_MONITORING)
		return;
	if (ck_request_get_not_after(request) == 0) {
		/* tracked, but no certificate yet: get one */
		ck_scheduler_set(self->scheduler, id, 0);
		return;
	}
	threshold = ck_engine_renewal_threshold(self, request, &overlong);
	if (overlong)
		g_message("request %s: the renewal threshold is not shorter than the certificate's "
			  "lifetime; it renews by the default threshold instead",
			  id);
	renewal = ck_schedule_renewal_time(ck_request_get_not_before(request),
					   ck_request_get_not_after(request), &threshold,
					   ck_engine_jitter_seed(request),
					   ck_engine_lifecycle(self)->jitter_max);
	/* a window the CA suggested for an older certificate says nothing about this one */
	if (ck_request_get_window_end(request) > 0 &&
	    g_strcmp0(ck_request_get_window_serial(request), ck_request_get_serial(request)) != 0) {
		ck_request_set_renewal_window(request, 0, 0, 0, NULL);
		ck_engine_persist(self, request);
	}
	/* the CA's window wins over the threshold (see ck_schedule_window_renewal_time()) */
	if (ck_request_get_window_end(request) > 0)
		renewal = ck_schedule_window_renewal_time(ck_request_get_window_pick(request),
							  ck_request_get_not_before(request),
							  ck_request_get_not_after(request));
	/* a revoked certificate has no renewal planned: it waits for rekey or resubmit */
	ck_request_set_renewal_time(request, ck_request_get_revoked(request) > 0 ? 0 : renewal);
	when = renewal;
	if (ck_request_get_next_attempt(request) > 0)
		when = MIN(when, ck_request_get_next_attempt(request));
	/* a watched-only (or revoked) certificate is still looked at when it expires, to
	 * say so */
	if (!ck_engine_renews_by_itself(request))
		when = ck_request_get_not_after(request);
	/* a watched-only or revoked certificate waits for a human; once it has expired
	 * (and that was said), there is nothing left to look at: waking for it again
	 * would only spin */
	if (!ck_engine_renews_by_itself(request) && when <= ck_clock_now()) {
		ck_scheduler_remove(self->scheduler, id);
		return;
	}
	ck_scheduler_set(self->scheduler, id, when);
}

void
ck_engine_start_renewal(CkEngine *self, CkRequest *request, gboolean reuse_key,
			gboolean force_new_key)
{
	CkJob *job = ck_engine_get_job(self, request);

	job->reuse_key = reuse_key;
	job->force_new_key = force_new_key;
	g_clear_pointer(&job->key, ck_key_unref);
	g_clear_pointer(&job->csr, g_free);
	ck_request_set_waiting(request, NULL);
	ck_scheduler_remove(self->scheduler, ck_request_get_id(request));
	ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
	ck_engine_schedule_step(self, request);
	ck_engine_record(self, CK_AUDIT_RENEWAL_STARTED, NULL, request, NULL, "success", "reason",
			 reuse_key       ? "resubmit"
			 : force_new_key ? "rekey"
					 : "renewal due",
			 NULL);
}

/* A request that needs a human: say why, keep what is installed, stop working on it. */
static void
ck_engine_give_up(CkEngine *self, CkRequest *request, CkRequestState state, const gchar *why)
{
	ck_engine_record(self, CK_AUDIT_RENEWAL_FAILED, NULL, request, NULL, "failure", "state",
			 ck_request_state_to_string(state), "reason", why, NULL);
	g_warning("request %s: %s: %s", ck_request_get_id(request),
		  ck_request_state_to_string(state), why);
	ck_request_set_last_error(request, why);
	ck_request_set_last_failure(request, why);
	ck_request_set_last_failure_time(request, ck_clock_now());
	ck_request_set_next_attempt(request, 0);
	ck_engine_drop_job(self, request);
	ck_engine_remove_pending(self, request);
	ck_scheduler_remove(self->scheduler, ck_request_get_id(request));
	ck_engine_set_state(self, request, state);
	ck_engine_persist(self, request);
}

/* An attempt failed and needs a human: counted, then given up. */
void
ck_engine_fail(CkEngine *self, CkRequest *request, CkRequestState state, const gchar *why)
{
	ck_engine_metrics_attempt_failed(self, request, state);
	ck_engine_give_up(self, request, state, why);
}

/*
 * A transient failure: keep what is installed and what the job holds, count it,
 * and look again after the backoff delay (which shrinks as expiry nears).
 */
void
ck_engine_retry_later(CkEngine *self, CkRequest *request, CkRequestState state,
		      const gchar *why)
{
	const CkLifecycleConfig *lc = ck_engine_lifecycle(self);
	guint failures = ck_request_get_failed_attempts(request) + 1;
	gint64 now = ck_clock_now();
	gint64 delay;

	ck_request_set_failed_attempts(request, failures);
	ck_engine_metrics_attempt_failed(self, request, state);
	if (ck_schedule_gave_up(&lc->backoff, failures)) {
		g_autofree gchar *final =
		    /* TRANSLATORS: the number of attempts, then the last reason */
		    g_strdup_printf(_("Gave up after %u failed attempts: %s"), failures, why);
		ck_engine_give_up(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, final);
		return;
	}
	delay = ck_schedule_retry_delay(&lc->backoff, failures, now,
					ck_request_get_not_after(request), g_random_int());
	g_message("request %s: %s (attempt %u); retrying in %lld s", ck_request_get_id(request),
		  why, failures, (long long)delay);
	ck_engine_record(self, CK_AUDIT_RENEWAL_FAILED, NULL, request, NULL, "retry", "state",
			 ck_request_state_to_string(state), "reason", why, NULL);
	ck_request_set_last_error(request, why);
	ck_request_set_last_failure(request, why);
	ck_request_set_last_failure_time(request, now);
	ck_request_set_next_attempt(request, now + delay);
	ck_engine_set_state(self, request, state);
	ck_engine_persist(self, request);
	ck_scheduler_set(self->scheduler, ck_request_get_id(request), now + delay);
}

/* Key */

static void
ck_engine_key_generated_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKey) key = ck_key_provider_generate_finish(CK_KEY_PROVIDER(source), res, &error);
	CkRequest *request = NULL;
	CkJob *job = NULL;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_step_data_free(data);
		return;
	}
	ck_limiter_done(job->holding);
	job->holding = NULL;
	if (key == NULL) {
		g_autofree gchar *why =
		    /* TRANSLATORS: the placeholder is the reason */
		    g_strdup_printf(_("Cannot generate a key: %s"), error->message);
		/* a TPM or token that is away comes back: nothing is lost by waiting */
		if (g_error_matches(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE))
			ck_engine_retry_later(data->engine, request,
					      CK_REQUEST_STATE_NEED_KEY_PAIR, why);
		else
			ck_engine_fail(data->engine, request, CK_REQUEST_STATE_NEED_GUIDANCE,
				       why);
		ck_step_data_free(data);
		return;
	}
	job->key = g_steal_pointer(&key);
	ck_engine_record(data->engine, CK_AUDIT_KEY_GENERATED, NULL, request, NULL, "success",
			 "key_type", ck_key_type_to_string(ck_request_get_key_type(request)),
			 "key_provider", ck_request_get_key_provider(request), NULL);
	ck_engine_set_state(data->engine, request, CK_REQUEST_STATE_NEED_CSR);
	ck_engine_schedule_step(data->engine, request);
	ck_step_data_free(data);
}

/* CSR attributes: what the request's CA asks its CSRs to contain */

static const CkCaCsrAttributes *
ck_engine_csr_attributes(CkEngine *self, CkRequest *request)
{
	CkCa *ca = ck_engine_find_ca(self, ck_request_get_ca(request));
	return ca != NULL ? ck_ca_get_csr_attributes(ca) : NULL;
}

static gboolean
ck_key_type_is_rsa(CkKeyType type)
{
	return type == CK_KEY_TYPE_RSA_2048 || type == CK_KEY_TYPE_RSA_3072 ||
	       type == CK_KEY_TYPE_RSA_4096;
}

/* Does a key of @type give the CA what it asked for (@asked: a type, or a family)? */
static gboolean
ck_engine_key_type_satisfies(const gchar *asked, CkKeyType type)
{
	if (g_str_equal(asked, "rsa"))
		return ck_key_type_is_rsa(type);
	if (g_str_equal(asked, "ec"))
		return ck_key_type_is_ec(type);
	return ck_key_type_from_string(asked) == type;
}

/*
 * The type of the request's next key: its own, unless its CA asks for another
 * one and the request does not pin its type (it has the configured default).
 * FALSE with @why when the request pins a type the CA does not want, or the CA
 * wants one certkeeper cannot make: a human must choose.
 */
static gboolean
ck_engine_key_type_for(CkEngine *self, CkRequest *request, CkKeyType *type_out, gchar **why)
{
	const CkCaCsrAttributes *attributes = ck_engine_csr_attributes(self, request);
	CkKeyType own = ck_request_get_key_type(request);
	gboolean pinned = own != ck_config_get_default_key_type(self->config);
	const gchar *asked;
	CkKeyType wanted;

	*type_out = own;
	if (attributes == NULL || attributes->key_type == NULL)
		return TRUE;
	asked = attributes->key_type;
	/* the family alone: any size or curve of it will do */
	if (ck_engine_key_type_satisfies(asked, own))
		return TRUE;
	wanted = ck_key_type_from_string(asked);
	if (pinned) {
		*why = g_strdup_printf(
		    /* TRANSLATORS: CA name, the key type it asks for, the request's key type,
		     * the request id, then that key type again */
		    _("CA '%s' asks for %s keys (its CSR attributes), but the request's key type "
		      "is %s: change it (certkeeper modify -i %s -G %s) or use another CA"),
		    ck_request_get_ca(request), asked, ck_key_type_to_string(own),
		    ck_request_get_id(request), asked);
		return FALSE;
	}
	if (wanted == CK_KEY_TYPE_UNKNOWN) {
		g_autofree gchar *known = g_strjoinv(", ", (gchar **)ck_key_type_all_names());
		*why = g_strdup_printf(
		    /* TRANSLATORS: CA name, the key type it asks for, then the types certkeeper
		     * knows */
		    _("CA '%s' asks for %s keys (its CSR attributes), which certkeeper cannot "
		      "make (it makes %s)"),
		    ck_request_get_ca(request), asked, known);
		return FALSE;
	}
	*type_out = wanted;
	return TRUE;
}

/* Runs when the key limiter gives this job its turn. */
static void
ck_engine_generate_key_now(gpointer user_data)
{
	CkStepData *data = user_data;
	CkEngine *self = data->engine;
	CkRequest *request = NULL;
	CkJob *job = NULL;
	CkKeyProvider *provider;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_limiter_done(self->key_limiter);
		ck_step_data_free(data);
		return;
	}
	job->waiting = FALSE;
	job->queued = NULL;
	job->holding = self->key_limiter;
	provider = g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	ck_engine_set_state(self, request, CK_REQUEST_STATE_GENERATING_KEY_PAIR);
	/* where the key will live: a token key is made there, a TPM key takes its
	 * authorization value from there */
	ck_key_provider_generate_at_async(provider,
					  job->key_type != CK_KEY_TYPE_UNKNOWN
					      ? job->key_type
					      : ck_request_get_key_type(request),
					  ck_request_get_key_file(request), job->cancellable,
					  ck_engine_key_generated_cb, data);
}

static void
ck_engine_step_key(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	gboolean renewal = ck_request_get_not_after(request) > 0;
	gboolean reuse = job->reuse_key ||
			 ck_request_get_key_policy(request) == CK_KEY_POLICY_REUSE;
	g_autofree gchar *why = NULL;
	CkCa *ca;

	if (job->key != NULL) {
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_CSR);
		ck_engine_schedule_step(self, request);
		return;
	}
	if (provider == NULL) {
		why = g_strdup_printf(_("Unknown key provider '%s'"),
				      ck_request_get_key_provider(request));
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	/* what the CA asks keys and CSRs to be is being asked for (start-up, Reload,
	 * CA1.Refresh()): the refresh's end steps this request again */
	ca = ck_engine_find_ca(self, ck_request_get_ca(request));
	if (ca != NULL && ck_ca_is_refreshing(ca)) {
		g_debug("request %s: waiting for CA %s to describe itself", ck_request_get_id(request),
			ck_ca_get_name(ca));
		return;
	}
	if (!ck_engine_key_type_for(self, request, &job->key_type, &why)) {
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	if (!ck_key_provider_supports(provider, job->key_type)) {
		why = g_strdup_printf(
		    /* TRANSLATORS: the key provider, then a key type */
		    _("The key provider '%s' cannot make %s keys, which the CA asks for"),
		    ck_request_get_key_provider(request), ck_key_type_to_string(job->key_type));
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	if (renewal && reuse && !job->force_new_key) {
		g_autoptr(GError) error = NULL;
		const CkCaCsrAttributes *attributes = ck_engine_csr_attributes(self, request);
		/* only the CA's wish replaces a key that is kept: a changed KeyType of the
		 * request applies from its next new key on (rekey), as before */
		gboolean ca_asks = attributes != NULL && attributes->key_type != NULL;
		job->key = ck_engine_load_installed_key(self, request, &error);
		if (job->key != NULL && ca_asks &&
		    !ck_engine_key_type_satisfies(attributes->key_type,
						  ck_key_get_key_type(job->key))) {
			g_message("request %s: the installed key is %s, but the CA asks for %s; "
				  "making a new one",
				  ck_request_get_id(request),
				  ck_key_type_to_string(ck_key_get_key_type(job->key)),
				  ck_key_type_to_string(job->key_type));
			g_clear_pointer(&job->key, ck_key_unref);
		} else if (job->key != NULL) {
			ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_CSR);
			ck_engine_schedule_step(self, request);
			return;
		} else {
			g_message("request %s: the installed key cannot be reused (%s); making a "
				  "new one",
				  ck_request_get_id(request), error->message);
		}
	}
	/* RSA keys take long: generation waits its turn so a storm cannot swamp the CPUs */
	job->waiting = TRUE;
	job->queued = ck_step_data_new(self, request, job);
	ck_limiter_run(self->key_limiter, ck_engine_generate_key_now, job->queued,
		       (GDestroyNotify)ck_step_data_free);
}

/* CSR */

/*
 * What a CSR built in a worker thread needs, copied: the request may change while
 * a TPM signs (a TPM signature can wait for another operation's key generation,
 * seconds on a real TPM, which must not stall the main loop).
 */
typedef struct {
	gchar *subject;
	GStrv dns_names, ip_addresses, emails, uris, principals, key_usage, extended_key_usage;
	gchar *challenge_password; /* what the CA asked to find in the CSR, or NULL */
	GPtrArray *extensions;
	CkKey *key;
	CkKeyProvider *provider;
	gchar *csr;    /* the result ... */
	GError *error; /* ... or why not: the key's device's reason when it has one */
} CkCsrWork;

static void
ck_csr_work_free(CkCsrWork *work)
{
	g_free(work->subject);
	g_strfreev(work->dns_names);
	g_strfreev(work->ip_addresses);
	g_strfreev(work->emails);
	g_strfreev(work->uris);
	g_strfreev(work->principals);
	g_strfreev(work->key_usage);
	g_strfreev(work->extended_key_usage);
	g_free(work->challenge_password);
	g_clear_pointer(&work->extensions, g_ptr_array_unref);
	ck_key_unref(work->key);
	g_clear_object(&work->provider);
	g_free(work->csr);
	g_clear_error(&work->error);
	g_free(work);
}

static void
ck_engine_csr_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	CkCsrWork *work = task_data;
	CkCsrParams params = {
	    .subject = work->subject,
	    .dns_names = (const gchar *const *)work->dns_names,
	    .ip_addresses = (const gchar *const *)work->ip_addresses,
	    .emails = (const gchar *const *)work->emails,
	    .uris = (const gchar *const *)work->uris,
	    .principals = (const gchar *const *)work->principals,
	    .key_usage = (const gchar *const *)work->key_usage,
	    .extended_key_usage = (const gchar *const *)work->extended_key_usage,
	    .challenge_password = work->challenge_password,
	    .extensions = work->extensions,
	};
	g_autoptr(GError) error = NULL;

	work->csr = ck_csr_build_with_pubkey(&params, ck_key_get_privkey(work->key),
					     ck_key_get_pubkey(work->key), &error);
	if (work->csr == NULL) {
		/* the provider keeps its reason per thread: ask in this one */
		work->error = work->provider != NULL
				  ? ck_key_provider_take_sign_error(work->provider)
				  : NULL;
		if (work->error == NULL)
			work->error = g_steal_pointer(&error);
	}
	g_task_return_boolean(task, TRUE);
}

static void
ck_engine_csr_built_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	CkCsrWork *work = g_task_get_task_data(G_TASK(res));
	CkRequest *request = NULL;
	CkJob *job = NULL;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_step_data_free(data);
		return;
	}
	job->busy = FALSE;
	if (work->csr == NULL) {
		g_autofree gchar *why =
		    /* TRANSLATORS: the placeholder is the reason */
		    g_strdup_printf(_("Cannot create the certificate request: %s"),
				    work->error->message);
		/* the key is kept: once its TPM answers again, it signs */
		if (g_error_matches(work->error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE))
			ck_engine_retry_later(data->engine, request, CK_REQUEST_STATE_NEED_CSR,
					      why);
		else
			ck_engine_fail(data->engine, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		ck_step_data_free(data);
		return;
	}
	g_free(job->csr);
	job->csr = g_steal_pointer(&work->csr);
	ck_request_set_ca_cookie(request, NULL);
	ck_engine_record(data->engine, CK_AUDIT_CSR_CREATED, NULL, request, NULL, "success",
			 "profile", ck_request_get_profile(request), NULL);
	ck_engine_set_state(data->engine, request, CK_REQUEST_STATE_SUBMITTING);
	ck_engine_schedule_step(data->engine, request);
	ck_step_data_free(data);
}

static void
ck_engine_step_csr(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkCsrParams params = {0};
	const CkCaCsrAttributes *attributes;
	CkKeyProvider *provider;
	CkCsrWork *work;
	g_autoptr(GTask) task = NULL;

	if (job->key == NULL) {
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		return;
	}
	ck_request_get_csr_params(request, &params);
	attributes = ck_engine_csr_attributes(self, request);
	if (attributes != NULL) {
		if (attributes->challenge_password && attributes->challenge == NULL) {
			g_autofree gchar *why = g_strdup_printf(
			    /* TRANSLATORS: the placeholder is the CA's name */
			    _("CA '%s' asks for a challengePassword in the CSR, but its helper has "
			      "none to give (for EST: the CA setting ChallengeFile=)"),
			    ck_request_get_ca(request));
			ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
			return;
		}
		params.challenge_password = attributes->challenge;
		params.extensions = attributes->extensions;
		for (guint i = 0; attributes->unfilled[i] != NULL; i++)
			g_debug("request %s: CA %s asks for %s, which certkeeper cannot fill",
				ck_request_get_id(request), ck_request_get_ca(request),
				attributes->unfilled[i]);
	}
	provider = g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	work = g_new0(CkCsrWork, 1);
	work->subject = g_strdup(params.subject);
	work->dns_names = g_strdupv((gchar **)params.dns_names);
	work->ip_addresses = g_strdupv((gchar **)params.ip_addresses);
	work->emails = g_strdupv((gchar **)params.emails);
	work->uris = g_strdupv((gchar **)params.uris);
	work->principals = g_strdupv((gchar **)params.principals);
	work->key_usage = g_strdupv((gchar **)params.key_usage);
	work->extended_key_usage = g_strdupv((gchar **)params.extended_key_usage);
	work->challenge_password = g_strdup(params.challenge_password);
	/* a CA refresh replaces the array rather than changing it: a reference is enough */
	work->extensions = params.extensions != NULL ? g_ptr_array_ref(params.extensions) : NULL;
	work->key = ck_key_ref(job->key);
	work->provider = provider != NULL ? g_object_ref(provider) : NULL;
	g_clear_pointer(&job->csr, g_free);
	job->busy = TRUE;
	task = g_task_new(NULL, NULL, ck_engine_csr_built_cb, ck_step_data_new(self, request, job));
	g_task_set_source_tag(task, ck_engine_step_csr);
	g_task_set_task_data(task, work, (GDestroyNotify)ck_csr_work_free);
	g_task_run_in_thread(task, ck_engine_csr_thread);
}

/* Submission */

/* The validity of the certificate in @path, FALSE if it cannot be read. */
static gboolean
ck_engine_certificate_times(const gchar *path, gint64 *not_before, gint64 *not_after)
{
	g_autofree gchar *pem = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum;
	gboolean ok;

	if (!g_file_get_contents(path, &pem, NULL, NULL) || gnutls_x509_crt_init(&crt) < 0)
		return FALSE;
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)strlen(pem);
	ok = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM) >= 0;
	if (ok) {
		*not_before = (gint64)gnutls_x509_crt_get_activation_time(crt);
		*not_after = (gint64)gnutls_x509_crt_get_expiration_time(crt);
	}
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/* A moment for messages, in UTC. */
static gchar *
ck_engine_format_time(gint64 when)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC")
			  : g_strdup_printf("%" G_GINT64_FORMAT, when);
}

/* Adds one step's "name: why it could not be taken" to the ladder's @trail. */
static void
ck_engine_trail_add(GString *trail, const gchar *step, const gchar *why)
{
	if (trail->len > 0)
		g_string_append(trail, "; ");
	g_string_append_printf(trail, "%s: %s", step, why);
}

/*
 * Who authenticates this submission (seed 001's recovery ladder, FR-009..FR-014):
 * the current certificate while it is valid; once it expired, the bootstrap
 * identity if one is configured and valid; else an attestation proof if a proof
 * key is configured ("proof": the caller gets a nonce and signs it); else, with
 * no bootstrap identity either, the expired certificate ("expired": the CA
 * decides). NULL with @why when no step is left: a human must enroll the device
 * again. @trail collects why each earlier step could not be taken.
 */
static const gchar *
ck_engine_choose_identity(CkEngine *self, CkRequest *request, gint64 now,
			  const gchar **cert_out, const gchar **key_out, GString *trail,
			  gchar **why)
{
	const gchar *bootstrap_cert = ck_request_get_bootstrap_cert_file(request);
	gboolean has_proof = ck_request_get_proof_key_file(request) != NULL;
	gint64 nb = 0, na = 0;

	*cert_out = NULL;
	*key_out = NULL;
	if (ck_request_get_not_after(request) == 0 && bootstrap_cert == NULL)
		return "none";
	if (ck_request_get_not_after(request) > now) {
		*cert_out = ck_request_get_cert_file(request);
		*key_out = ck_request_get_key_file(request);
		return "current";
	}
	if (ck_request_get_not_after(request) > 0) {
		g_autofree gchar *when = ck_engine_format_time(ck_request_get_not_after(request));
		g_autofree gchar *text =
		    /* TRANSLATORS: a step of the recovery ladder; the placeholder is a time */
		    g_strdup_printf(_("the certificate expired at %s"), when);
		ck_engine_trail_add(trail, "current", text);
	}
	if (bootstrap_cert == NULL) {
		if (has_proof) {
			ck_engine_trail_add(trail, "bootstrap", _("no bootstrap identity is configured"));
			return "proof";
		}
		/* expired and nothing else to show: the CA decides whether that will do
		 * (a local CA does; a TLS-authenticated one needs other credentials), so
		 * the helper is told, and still gets the files */
		*cert_out = ck_request_get_cert_file(request);
		*key_out = ck_request_get_key_file(request);
		return ck_request_get_not_after(request) > 0 ? "expired" : "none";
	}
	if (!ck_engine_certificate_times(bootstrap_cert, &nb, &na)) {
		g_autofree gchar *text =
		    g_strdup_printf(_("the bootstrap certificate %s cannot be read"), bootstrap_cert);
		ck_engine_trail_add(trail, "bootstrap", text);
		if (has_proof)
			return "proof";
		*why = g_strdup_printf(_("The certificate has expired and the bootstrap "
					 "certificate %s cannot be read: enroll the device again"),
				       bootstrap_cert);
		return NULL;
	}
	if (now < nb || now >= na) {
		g_autofree gchar *when = ck_engine_format_time(na);
		g_autofree gchar *text = g_strdup_printf(
		    _("the bootstrap certificate %s is not valid now (valid until %s)"),
		    bootstrap_cert, when);
		ck_engine_trail_add(trail, "bootstrap", text);
		if (has_proof)
			return "proof";
		*why = g_strdup_printf(_("Both the certificate and the bootstrap certificate %s "
					 "(valid until %s) are expired: enroll the device again"),
				       bootstrap_cert, when);
		return NULL;
	}
	*cert_out = bootstrap_cert;
	*key_out = ck_request_get_bootstrap_key_file(request);
	return "bootstrap";
}

/* Shows (and logs, when it changes) the ladder step in progress and why (FR-031). */
static void
ck_engine_set_recovery(CkEngine *self, CkRequest *request, const gchar *step,
		       const gchar *reason)
{
	if (g_strcmp0(ck_request_get_recovery_step(request), step) != 0 ||
	    g_strcmp0(ck_request_get_recovery_reason(request), reason) != 0) {
		if (g_strcmp0(step, "none") == 0)
			g_message("request %s: recovery ladder: not needed",
				  ck_request_get_id(request));
		else
			g_message("request %s: recovery ladder: step %s (%s)",
				  ck_request_get_id(request), step, reason);
	}
	ck_request_set_recovery_step(request, step);
	ck_request_set_recovery_reason(request, reason);
}

/*
 * The last step failed too: nothing is left to try without a human. @why says
 * why the proof step failed; the reason shown names every step.
 */
static void
ck_engine_ladder_exhausted(CkEngine *self, CkRequest *request, const gchar *why)
{
	g_autoptr(GString) trail = g_string_new(ck_request_get_recovery_reason(request));
	g_autofree gchar *message = NULL;

	ck_engine_trail_add(trail, "proof", why);
	ck_engine_set_recovery(self, request, "exhausted", trail->str);
	message = g_strdup_printf(
	    /* TRANSLATORS: the placeholder lists each recovery step and why it failed */
	    _("Every way to renew has failed (%s): enroll the device again"), trail->str);
	ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, message);
}

/*
 * Loads the request's proof key through the provider its configuration names,
 * or the one its file calls for: a TSS2 PEM key file is the TPM provider's.
 * @provider_out (may be NULL) gets that provider, which knows why a signature
 * with the key failed.
 */
static CkKey *
ck_engine_load_proof_key(CkEngine *self, CkRequest *request, CkKeyProvider **provider_out,
			 GError **error)
{
	const gchar *path = ck_request_get_proof_key_file(request);
	const gchar *name = ck_request_get_proof_key_provider(request);
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *contents = NULL;
	g_autoptr(GBytes) stored = NULL;
	CkKeyProvider *provider;
	gboolean tpm_file;
	gsize len = 0;
	CkKey *key;

	if (!g_file_get_contents(path, &contents, &len, &local_error)) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("the proof key %s cannot be read: %s"),
			    path, local_error->message);
		return NULL;
	}
	tpm_file = strstr(contents, "-----BEGIN TSS2 PRIVATE KEY-----") != NULL;
	if (name == NULL)
		name = tpm_file && g_hash_table_contains(self->key_providers, "tpm") ? "tpm" : "file";
	provider = g_hash_table_lookup(self->key_providers, name);
	if (provider == NULL || (tpm_file && g_str_equal(name, "file"))) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    tpm_file ? _("the proof key %s is a TPM key file, and this certkeeperd "
					 "has no TPM key provider")
				     : _("the proof key %s needs a key provider this certkeeperd "
					 "does not have"),
			    path);
		return NULL;
	}
	stored = g_bytes_new_take(g_steal_pointer(&contents), len);
	key = ck_key_provider_load(provider, stored, path, &local_error);
	if (key == NULL) {
		g_set_error(error, CK_ERROR, local_error->code,
			    /* TRANSLATORS: a file, the provider's name, then why */
			    _("the proof key %s cannot be loaded by the %s key provider: %s"), path,
			    name, local_error->message);
		return NULL;
	}
	if (provider_out != NULL)
		*provider_out = g_object_ref(provider);
	return key;
}

/* Keeps the key and CSR a CA is working on, so a restart can still poll for them;
 * FALSE (and a warning) if they could not be written. */
static gboolean
ck_engine_save_pending(CkEngine *self, CkRequest *request, CkJob *job)
{
	g_autofree gchar *key_path = ck_engine_pending_path(self, request, ".key");
	g_autofree gchar *csr_path = ck_engine_pending_path(self, request, ".csr");
	GBytes *stored = ck_key_get_stored_form(job->key);
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);
	g_autoptr(GError) error = NULL;

	if (stored == NULL)
		return FALSE;
	if (!ck_file_replace(key_path, g_bytes_get_data(stored, NULL), g_bytes_get_size(stored),
			     &attrs, &error) ||
	    !ck_file_replace(csr_path, job->csr, strlen(job->csr), &attrs, &error)) {
		g_warning("request %s: cannot keep the pending key (%s); a restart will start "
			  "over",
			  ck_request_get_id(request), error->message);
		return FALSE;
	}
	return TRUE;
}

/* Loads what ck_engine_save_pending() kept; FALSE if it is not there. */
static gboolean
ck_engine_load_pending(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	g_autofree gchar *key_path = ck_engine_pending_path(self, request, ".key");
	g_autofree gchar *csr_path = ck_engine_pending_path(self, request, ".csr");
	g_autofree gchar *key_pem = NULL;
	g_autofree gchar *csr = NULL;
	gsize len = 0;
	g_autoptr(GBytes) stored = NULL;
	g_autoptr(GError) error = NULL;

	if (provider == NULL || !g_file_get_contents(key_path, &key_pem, &len, NULL) ||
	    !g_file_get_contents(csr_path, &csr, NULL, NULL))
		return FALSE;
	stored = g_bytes_new_take(g_steal_pointer(&key_pem), len);
	job->key = ck_key_provider_load(provider, stored, key_path, &error);
	if (job->key == NULL) {
		g_warning("request %s: the pending key is unusable (%s)", ck_request_get_id(request),
			  error->message);
		return FALSE;
	}
	job->csr = g_steal_pointer(&csr);
	return TRUE;
}

static void
ck_engine_submitted_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	CkEngine *self = data->engine;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = ck_ca_submit_finish(CK_CA(source), res, &error);
	const gchar *ca_name = ck_ca_get_name(CK_CA(source));
	CkRequest *request = NULL;
	CkJob *job = NULL;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_step_data_free(data);
		return;
	}
	ck_step_data_free(data);
	ck_limiter_done(job->holding);
	job->holding = NULL;
	ck_engine_metrics_ca_answered(self, CK_CA(source), job, result);
	if (result == NULL) {
		g_autofree gchar *why =
		    /* TRANSLATORS: CA name, then the reason */
		    g_strdup_printf(_("CA '%s' failed: %s"), ca_name, error->message);
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_CA_UNREACHABLE, why);
		return;
	}
	switch (result->outcome) {
	case CK_CA_OUTCOME_ISSUED:
		g_free(job->certificate);
		g_free(job->chain);
		job->certificate = g_steal_pointer(&result->certificate);
		job->chain = g_steal_pointer(&result->chain);
		job->roots_refetched = FALSE;
		ck_request_set_ca_cookie(request, NULL);
		ck_request_set_next_attempt(request, 0);
		ck_engine_remove_pending(self, request);
		ck_engine_record(self, CK_AUDIT_CERTIFICATE_ISSUED, NULL, request, NULL, "success",
				 "ca", ca_name, NULL);
		ck_engine_set_state(self, request, CK_REQUEST_STATE_SAVING_CERT);
		ck_engine_schedule_step(self, request);
		break;
	case CK_CA_OUTCOME_WAIT: {
		gint64 delay = result->delay > 0 ? (gint64)result->delay : CK_CA_POLL_DEFAULT_SECONDS;
		gint64 when = ck_clock_now() + delay;
		g_message("request %s: CA %s is working on it; polling in %lld s",
			  ck_request_get_id(request), ca_name, (long long)delay);
		ck_request_set_ca_cookie(request, result->cookie);
		ck_request_set_next_attempt(request, when);
		ck_engine_save_pending(self, request, job);
		ck_engine_set_state(self, request, CK_REQUEST_STATE_CA_WORKING);
		ck_engine_persist(self, request);
		ck_scheduler_set(self->scheduler, ck_request_get_id(request), when);
		break;
	}
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
		/* a refused proof is the end of the ladder: say what every step met */
		if (g_str_equal(ck_request_get_identity(request), "proof"))
			ck_engine_ladder_exhausted(self, request, why);
		else
			ck_engine_fail(self, request, CK_REQUEST_STATE_CA_REJECTED, why);
		break;
	}
	case CK_CA_OUTCOME_NEED_NEW_KEY:
		g_message("request %s: CA %s wants a new key", ck_request_get_id(request), ca_name);
		g_clear_pointer(&job->key, ck_key_unref);
		g_clear_pointer(&job->csr, g_free);
		job->force_new_key = TRUE;
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
		if (g_str_equal(ck_request_get_identity(request), "proof"))
			ck_engine_ladder_exhausted(self, request, why);
		else
			ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		break;
	}
	}
}

/* A CA's proof nonce and the proof key's signature over it (see ck-proof.h). */
typedef struct {
	const gchar *nonce;
	const gchar *algorithm;
	const gchar *signature;
} CkProofAnswer;

/*
 * Hands the job's CSR to @ca, authenticated by @identity (its files @auth_cert,
 * @auth_key); for "proof", @proof is the CA's nonce signed by @proof_key. Any
 * submission carries the proof key's public key, so the CA can register it.
 * The caller holds the submission limiter for the job; @data goes to the callback.
 */
static void
ck_engine_submit_with(CkEngine *self, CkRequest *request, CkJob *job, CkCa *ca,
		      CkStepData *data, const gchar *identity, const gchar *auth_cert,
		      const gchar *auth_key, CkKey *proof_key, const CkProofAnswer *proof)
{
	CkCsrParams params = {0};
	CkCaSubmission submission = {0};
	g_autofree gchar *previous = NULL;
	g_autofree gchar *key_file = NULL;
	g_autofree gchar *public_key = NULL;
	g_autoptr(CkKey) registered = NULL;
	g_autoptr(GError) error = NULL;

	if (g_strcmp0(ck_request_get_identity(request), identity) != 0)
		g_message("request %s: authenticating with the %s identity",
			  ck_request_get_id(request), identity);
	ck_request_set_identity(request, identity);
	if (proof_key == NULL && ck_request_get_proof_key_file(request) != NULL) {
		/* only for registering it: a key that cannot be read now is the proof
		 * step's problem, should it ever come to that */
		registered = ck_engine_load_proof_key(self, request, NULL, &error);
		if (registered == NULL)
			g_warning("request %s: the proof key is not registered with this "
				  "submission: %s",
				  ck_request_get_id(request), error->message);
		g_clear_error(&error);
		proof_key = registered;
	}
	if (proof_key != NULL) {
		public_key = ck_proof_public_key(proof_key, &error);
		if (public_key == NULL)
			g_warning("request %s: %s", ck_request_get_id(request), error->message);
		g_clear_error(&error);
	}
	ck_request_get_csr_params(request, &params);
	if (ck_request_get_not_after(request) > 0)
		previous = ck_engine_read_certificate(request, NULL);
	submission.request_id = ck_request_get_id(request);
	submission.csr = job->csr;
	submission.cookie = ck_request_get_ca_cookie(request);
	submission.profile = ck_request_get_profile(request);
	submission.certificate = previous;
	submission.validity = ck_request_get_validity(request);
	submission.names = &params;
	submission.identity = identity;
	submission.auth_cert_file = auth_cert;
	submission.auth_key_file = auth_key;
	submission.proof_public_key = public_key;
	if (proof != NULL) {
		submission.proof_nonce = proof->nonce;
		submission.proof_signature = proof->signature;
		submission.proof_algorithm = proof->algorithm;
	}
	submission.tpm_tcti = ck_config_get_tpm_tcti(self->config);
	/* SCEP signs and decrypts with the CSR's own key: a helper may read it from the
	 * pending file (a PEM only for file keys), which the outcome removes again */
	if (CK_IS_CA_HELPER(ca) &&
	    g_strcmp0(ck_request_get_key_provider(request), "file") == 0 &&
	    ck_engine_save_pending(self, request, job))
		key_file = ck_engine_pending_path(self, request, ".key");
	submission.key_file = key_file;
	submission.trace_id = job->trace_id;
	ck_engine_set_state(self, request, CK_REQUEST_STATE_SUBMITTING);
	ck_engine_metrics_submission_started(self, job);
	ck_ca_submit_async(ca, &submission, job->cancellable, ck_engine_submitted_cb, data);
}

/* The proof step, between asking the CA for a nonce and submitting. */
typedef struct {
	CkStepData *data;
	CkKey *key;
	CkKeyProvider *provider;
} CkProofStep;

/*
 * Signs the CA's @nonce with the proof key and submits; a proof key whose TPM
 * or token does not answer now may later, so that waits with the retry backoff
 * (the ladder stays on this step), and anything else ends the ladder.
 */
static void
ck_engine_submit_proof(CkEngine *self, CkRequest *request, CkJob *job, CkCa *ca,
		       CkStepData *data, CkKey *key, CkKeyProvider *provider, const gchar *nonce)
{
	g_autofree gchar *algorithm = NULL, *signature = NULL, *why = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) device_error = NULL;
	CkProofAnswer proof = {.nonce = nonce};

	if (ck_proof_sign(key, nonce, job->csr, &algorithm, &signature, &error)) {
		proof.algorithm = algorithm;
		proof.signature = signature;
		ck_engine_submit_with(self, request, job, ca, data, "proof", NULL, NULL, key,
				      &proof);
		return;
	}
	/* GnuTLS only says the signature failed: the provider knows why */
	if (g_error_matches(error, CK_ERROR, CK_ERROR_CRYPTO))
		device_error = ck_key_provider_take_sign_error(provider);
	ck_limiter_done(job->holding);
	job->holding = NULL;
	ck_step_data_free(data);
	if (device_error != NULL)
		why = g_strdup_printf(
		    /* TRANSLATORS: the placeholder is the reason */
		    _("The proof key cannot sign the proof: %s"), device_error->message);
	else
		why = g_strdup(error->message);
	if (g_error_matches(device_error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE))
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_SUBMITTING, why);
	else
		ck_engine_ladder_exhausted(self, request, why);
}

static void
ck_engine_proof_nonce_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkProofStep *step = user_data;
	CkStepData *data = step->data;
	g_autoptr(CkKey) key = step->key;
	g_autoptr(CkKeyProvider) provider = step->provider;
	CkEngine *self = data->engine;
	CkCa *ca = CK_CA(source);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaResult) result = ck_ca_proof_nonce_finish(ca, res, &error);
	CkRequest *request = NULL;
	CkJob *job = NULL;
	g_autofree gchar *why = NULL;

	g_free(step);
	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_step_data_free(data);
		return;
	}
	if (result != NULL && result->outcome == CK_CA_OUTCOME_ISSUED) {
		g_message("request %s: CA %s gave a proof nonce; signing it with the proof key",
			  ck_request_get_id(request), ck_ca_get_name(ca));
		ck_engine_submit_proof(self, request, job, ca, data, key, provider,
				       result->nonce);
		return;
	}
	ck_limiter_done(job->holding);
	job->holding = NULL;
	ck_step_data_free(data);
	if (result == NULL || result->outcome == CK_CA_OUTCOME_UNREACHABLE) {
		/* a CA that cannot answer now may later: the ladder stays on this step */
		why = g_strdup_printf(_("CA '%s' gave no proof nonce: %s"), ck_ca_get_name(ca),
				      result == NULL	       ? error->message
				      : result->message != NULL ? result->message
								: "");
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_CA_UNREACHABLE, why);
		return;
	}
	/* TRANSLATORS: CA name, what it answered, then its message */
	why = g_strdup_printf(_("CA '%s' gave no proof nonce (%s): %s"), ck_ca_get_name(ca),
			      ck_ca_outcome_to_string(result->outcome),
			      result->message != NULL ? result->message : "");
	ck_engine_ladder_exhausted(self, request, why);
}

/* Runs when the submission limiter gives this job its turn. */
static void
ck_engine_submit_now(gpointer user_data)
{
	CkStepData *data = user_data;
	CkEngine *self = data->engine;
	CkRequest *request = NULL;
	CkJob *job = NULL;
	CkCa *ca;
	g_autofree gchar *why = NULL;
	g_autoptr(GString) trail = g_string_new(NULL);
	g_autoptr(GError) error = NULL;
	const gchar *auth_cert = NULL, *auth_key = NULL;
	const gchar *identity;
	CkProofStep *step;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_limiter_done(self->submit_limiter);
		ck_step_data_free(data);
		return;
	}
	job->waiting = FALSE;
	job->queued = NULL;
	ca = g_hash_table_lookup(self->cas, ck_request_get_ca(request));
	identity = ck_engine_choose_identity(self, request, ck_clock_now(), &auth_cert, &auth_key,
					     trail, &why);
	if (identity == NULL) {
		ck_engine_trail_add(trail, "proof", _("no proof key is configured"));
		ck_engine_set_recovery(self, request, "exhausted", trail->str);
	} else if (g_str_equal(identity, "bootstrap") || g_str_equal(identity, "proof") ||
		   g_str_equal(identity, "expired")) {
		ck_engine_set_recovery(self, request, identity, trail->str);
	} else {
		ck_engine_set_recovery(self, request, "none", "");
	}
	if (ca == NULL || identity == NULL) {
		if (why == NULL)
			why = g_strdup_printf(_("No CA named '%s' is configured"),
					      ck_request_get_ca(request));
		ck_limiter_done(self->submit_limiter);
		ck_step_data_free(data);
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, why);
		return;
	}
	job->holding = self->submit_limiter;
	if (!g_str_equal(identity, "proof")) {
		ck_engine_submit_with(self, request, job, ca, data, identity, auth_cert, auth_key,
				      NULL, NULL);
		return;
	}
	/* the last step: a nonce from the CA, signed by the proof key, which is loaded
	 * first so a missing key fails before the CA is asked */
	step = g_new0(CkProofStep, 1);
	step->key = ck_engine_load_proof_key(self, request, &step->provider, &error);
	if (step->key == NULL) {
		g_free(step);
		ck_limiter_done(job->holding);
		job->holding = NULL;
		ck_step_data_free(data);
		ck_engine_ladder_exhausted(self, request, error->message);
		return;
	}
	step->data = data;
	{
		CkCaSubmission submission = {0};
		CkCsrParams params = {0};
		ck_request_get_csr_params(request, &params);
		submission.request_id = ck_request_get_id(request);
		submission.csr = job->csr;
		submission.profile = ck_request_get_profile(request);
		submission.names = &params;
		submission.identity = identity;
		ck_engine_set_state(self, request, CK_REQUEST_STATE_SUBMITTING);
		ck_ca_proof_nonce_async(ca, &submission, job->cancellable,
					ck_engine_proof_nonce_cb, step);
	}
}

static void
ck_engine_step_submit(CkEngine *self, CkRequest *request, CkJob *job)
{
	if (job->csr == NULL &&
	    !(ck_request_get_state(request) == CK_REQUEST_STATE_CA_WORKING &&
	      ck_engine_load_pending(self, request, job))) {
		/* the key and CSR died with an earlier process: start this attempt over */
		ck_request_set_ca_cookie(request, NULL);
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		return;
	}
	job->waiting = TRUE;
	job->queued = ck_step_data_new(self, request, job);
	ck_limiter_run(self->submit_limiter, ck_engine_submit_now, job->queued,
		       (GDestroyNotify)ck_step_data_free);
}

/* Runs whatever the request's state calls for next. */
static void
ck_engine_step(CkEngine *self, CkRequest *request)
{
	CkJob *job = ck_engine_get_job(self, request);

	/* queued in a limiter or running an operation: its callback steps on */
	if (job->waiting || job->holding != NULL || job->busy)
		return;
	switch (ck_request_get_state(request)) {
	case CK_REQUEST_STATE_NEED_KEY_PAIR:
		ck_engine_step_key(self, request, job);
		break;
	case CK_REQUEST_STATE_NEED_CSR:
		ck_engine_step_csr(self, request, job);
		break;
	case CK_REQUEST_STATE_SUBMITTING:
	case CK_REQUEST_STATE_CA_WORKING:
	case CK_REQUEST_STATE_CA_UNREACHABLE:
		ck_engine_step_submit(self, request, job);
		break;
	case CK_REQUEST_STATE_SAVING_CERT:
		ck_engine_step_save(self, request, job);
		break;
	case CK_REQUEST_STATE_POST_SAVED:
		ck_engine_step_post_install(self, request, job);
		break;
	case CK_REQUEST_STATE_GENERATING_KEY_PAIR:
	case CK_REQUEST_STATE_MONITORING:
	case CK_REQUEST_STATE_CA_REJECTED:
	case CK_REQUEST_STATE_NEED_GUIDANCE:
	case CK_REQUEST_STATE_NEED_TO_RECOVER:
	case CK_REQUEST_STATE_STOPPED:
	default:
		/* nothing to do until something (a human, the schedule) moves it on */
		break;
	}
}

/* The schedule */

/*
 * Takes in a certificate that appeared in the request's file without us: some
 * other tool, or a human, renewed it. Planning from its real notAfter keeps us
 * from renewing twice.
 */
static gboolean
ck_engine_adopt(CkEngine *self, CkRequest *request, const gchar *pem)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *old_serial = g_strdup(ck_request_get_serial(request));

	if (!ck_request_set_certificate_info_from_pem(request, pem, &error)) {
		g_message("request %s: %s changed, but is no certificate (%s)",
			  ck_request_get_id(request), ck_request_get_cert_file(request),
			  error->message);
		return FALSE;
	}
	if (g_strcmp0(old_serial, ck_request_get_serial(request)) == 0)
		return FALSE;
	g_message("request %s: %s now holds certificate %s (was %s); planning from it",
		  ck_request_get_id(request), ck_request_get_cert_file(request),
		  ck_request_get_serial(request), old_serial != NULL ? old_serial : "none");
	/* a renewal of the old certificate is moot now */
	ck_engine_drop_job(self, request);
	ck_engine_remove_pending(self, request);
	ck_request_set_failed_attempts(request, 0);
	ck_request_set_next_attempt(request, 0);
	ck_request_set_ca_cookie(request, NULL);
	ck_request_set_last_error(request, NULL);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_MONITORING);
	ck_engine_persist(self, request);
	ck_engine_plan(self, request);
	ck_engine_ask_renewal_window(self, request);
	return TRUE;
}

void
ck_engine_check_external_change(CkEngine *self, CkRequest *request)
{
	CkRequestState state = ck_request_get_state(request);
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) error = NULL;

	/* our own install in flight, or nothing installed yet to compare with */
	if (ck_request_get_install_phase(request) != CK_INSTALL_PHASE_NONE ||
	    state == CK_REQUEST_STATE_SAVING_CERT || state == CK_REQUEST_STATE_POST_SAVED ||
	    ck_request_get_not_after(request) == 0)
		return;
	pem = ck_engine_read_certificate(request, &error);
	if (pem == NULL) {
		if (state == CK_REQUEST_STATE_MONITORING &&
		    g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
			g_warning("request %s: %s is gone; issuing a new certificate",
				  ck_request_get_id(request), ck_request_get_cert_file(request));
			ck_engine_start_renewal(self, request, FALSE, FALSE);
		}
		return;
	}
	ck_engine_adopt(self, request, pem);
}

/* A MONITORING request's time came: renew it, unless the facts say otherwise. */
static void
ck_engine_consider_renewal(CkEngine *self, CkRequest *request)
{
	gint64 now = ck_clock_now();
	g_autofree gchar *untrusted = NULL;
	g_autofree gchar *pem = NULL;
	gboolean due;

	/* a re-read at every decision catches what no file watch reported */
	if (ck_request_get_not_after(request) > 0) {
		pem = ck_engine_read_certificate(request, NULL);
		if (pem != NULL && ck_engine_adopt(self, request, pem))
			return;
	}
	untrusted = ck_engine_clock_untrusted(self, request, now);
	if (untrusted != NULL) {
		if (ck_request_get_waiting(request)[0] == '\0')
			g_warning("request %s: %s", ck_request_get_id(request), untrusted);
		ck_request_set_waiting(request, untrusted);
		ck_engine_start_clock_recheck(self);
		return;
	}
	if (ck_request_get_waiting(request)[0] != '\0') {
		g_message("request %s: the clock is trustworthy again", ck_request_get_id(request));
		ck_request_set_waiting(request, NULL);
	}
	if (ck_request_get_not_after(request) > 0 && ck_request_get_not_after(request) <= now)
		g_warning("request %s: certificate %s expired", ck_request_get_id(request),
			  ck_request_get_serial(request));
	if (!ck_engine_renews_by_itself(request)) {
		ck_engine_plan(self, request);
		return;
	}
	due = ck_request_get_not_after(request) == 0 || now >= ck_request_get_renewal_time(request) ||
	      (ck_request_get_next_attempt(request) > 0 &&
	       now >= ck_request_get_next_attempt(request));
	if (!due) {
		/* woken early (the plan moved): plan again */
		ck_engine_plan(self, request);
		return;
	}
	g_message("request %s: renewing certificate %s", ck_request_get_id(request),
		  ck_request_get_serial(request) != NULL ? ck_request_get_serial(request) : "-");
	ck_engine_start_renewal(self, request, FALSE, FALSE);
}

/* Renewal windows (RFC 9773 renewal information, through GET-RENEWAL-WINDOW) */

/* One question to a CA about one certificate; engine->window_asks owns it. */
typedef struct {
	CkEngine *engine;
	gchar *id;
	gchar *serial; /* the certificate asked about (read when the question runs, so a
			* refresh that queues thousands holds no PEM for each) */
	GCancellable *cancellable;
	gboolean queued;  /* waiting in the submission limiter */
	gboolean holding; /* running, with a slot of the submission limiter */
} CkWindowAsk;

void
ck_window_ask_free(gpointer data)
{
	CkWindowAsk *ask = data;

	g_cancellable_cancel(ask->cancellable);
	if (ask->queued)
		ck_limiter_cancel(ask->engine->submit_limiter, ask);
	/* an abandoned question gives its slot back at once, as jobs do */
	if (ask->holding)
		ck_limiter_done(ask->engine->submit_limiter);
	g_object_unref(ask->cancellable);
	g_free(ask->id);
	g_free(ask->serial);
	g_free(ask);
}

static gchar *
ck_engine_window_key(CkRequest *request)
{
	return g_strconcat(CK_WINDOW_PREFIX, ck_request_get_id(request), NULL);
}

/* What the CA answered about the installed certificate; a failure keeps the plan. */
static void
ck_engine_take_window(CkEngine *self, CkRequest *request, CkCa *ca, const gchar *serial,
		      CkCaWindow *window, const GError *error)
{
	const gchar *id = ck_request_get_id(request);
	g_autofree gchar *key = ck_engine_window_key(request);
	gint64 now = ck_clock_now();
	gint64 pick;

	if (window != NULL && window->outcome == CK_CA_OUTCOME_UNSUPPORTED) {
		/* the CA remembers this until it is refreshed; nothing to ask again */
		g_message("request %s: CA %s suggests no renewal window; the renewal threshold "
			  "decides",
			  id, ck_ca_get_name(ca));
		return;
	}
	if (window == NULL || window->outcome != CK_CA_OUTCOME_ISSUED) {
		/* never a reason not to renew: the plan stays as it is, and we ask again later */
		g_message("request %s: no renewal window from CA %s (%s); asking again in %d s",
			  id, ck_ca_get_name(ca),
			  error != NULL		    ? error->message
			  : window->message != NULL ? window->message
						    : ck_ca_outcome_to_string(window->outcome),
			  CK_WINDOW_RETRY_FAILED);
		ck_scheduler_set(self->scheduler, key, now + CK_WINDOW_RETRY_FAILED);
		return;
	}
	/* §4.2: one random moment per window, kept while the CA says the same */
	if (ck_request_get_window_start(request) == window->start &&
	    ck_request_get_window_end(request) == window->end &&
	    g_strcmp0(ck_request_get_window_serial(request), serial) == 0)
		pick = ck_request_get_window_pick(request);
	else
		pick = ck_schedule_window_pick(window->start, window->end,
					       ((guint64)g_random_int() << 32) | g_random_int());
	ck_request_set_renewal_window(request, window->start, window->end, pick, serial);
	ck_engine_persist(self, request);
	ck_engine_plan(self, request);
	{
		g_autofree gchar *from = ck_engine_format_time(window->start);
		g_autofree gchar *to = ck_engine_format_time(window->end);
		g_autofree gchar *when = ck_engine_format_time(ck_request_get_renewal_time(request));
		g_message("request %s: CA %s suggests renewing between %s and %s; renewal planned "
			  "for %s",
			  id, ck_ca_get_name(ca), from, to, when);
	}
	ck_scheduler_set(self->scheduler, key,
			 now + ck_schedule_window_recheck(window->retry_after));
}

static void
ck_engine_window_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkCaWindow) window = ck_ca_renewal_window_finish(CK_CA(source), res, &error);
	g_autofree gchar *serial = NULL;
	CkEngine *self;
	CkWindowAsk *ask;
	CkRequest *request;

	/* first the cancellable: when it fired, the engine may be finalized already */
	if (g_cancellable_is_cancelled(data->cancellable)) {
		ck_step_data_free(data);
		return;
	}
	self = data->engine;
	ask = g_hash_table_lookup(self->window_asks, data->id);
	if (ask == NULL || ask->cancellable != data->cancellable) {
		ck_step_data_free(data);
		return;
	}
	serial = g_steal_pointer(&ask->serial);
	/* done: the slot goes back */
	g_hash_table_remove(self->window_asks, data->id);
	request = g_hash_table_lookup(self->requests, data->id);
	ck_step_data_free(data);
	/* a renewal, a new certificate or a removal since: the answer is moot */
	if (request == NULL || ck_request_get_state(request) != CK_REQUEST_STATE_MONITORING ||
	    g_strcmp0(ck_request_get_serial(request), serial) != 0)
		return;
	ck_engine_take_window(self, request, CK_CA(source), serial, window, error);
}

/* Runs when the submission limiter gives the question its turn. */
static void
ck_engine_window_now(gpointer user_data)
{
	CkWindowAsk *ask = user_data;
	CkEngine *self = ask->engine;
	CkRequest *request = g_hash_table_lookup(self->requests, ask->id);
	CkCa *ca = request != NULL ? g_hash_table_lookup(self->cas, ck_request_get_ca(request))
				   : NULL;
	g_autofree gchar *certificate = NULL;
	CkStepData *data;

	ask->queued = FALSE;
	ask->holding = TRUE;
	/* what changed while it waited: a renewal began, or the CA said it offers none */
	if (ca == NULL || ck_request_get_state(request) != CK_REQUEST_STATE_MONITORING ||
	    g_strcmp0(ck_request_get_serial(request), ask->serial) != 0 ||
	    !ck_ca_offers_renewal_window(ca) ||
	    (certificate = ck_engine_read_certificate(request, NULL)) == NULL) {
		g_hash_table_remove(self->window_asks, ask->id);
		return;
	}
	data = g_new0(CkStepData, 1);
	data->engine = self;
	data->id = g_strdup(ask->id);
	data->cancellable = g_object_ref(ask->cancellable);
	ck_ca_renewal_window_async(ca, ask->id, certificate, ask->cancellable,
				   ck_engine_window_cb, data);
}

void
ck_engine_ask_renewal_window(CkEngine *self, CkRequest *request)
{
	CkCa *ca = g_hash_table_lookup(self->cas, ck_request_get_ca(request));
	const gchar *id = ck_request_get_id(request);
	CkWindowAsk *ask;

	/* only for a certificate that is installed, renewed by us and not yet expired
	 * (the working group: stop asking once a certificate expired) */
	if (ca == NULL || !ck_ca_offers_renewal_window(ca) ||
	    ck_request_get_state(request) != CK_REQUEST_STATE_MONITORING ||
	    !ck_engine_renews_by_itself(request) || ck_request_get_serial(request) == NULL ||
	    ck_request_get_not_after(request) <= ck_clock_now() ||
	    g_hash_table_contains(self->window_asks, id))
		return;
	ask = g_new0(CkWindowAsk, 1);
	ask->engine = self;
	ask->id = g_strdup(id);
	ask->serial = g_strdup(ck_request_get_serial(request));
	ask->cancellable = g_cancellable_new();
	ask->queued = TRUE;
	g_hash_table_insert(self->window_asks, g_strdup(id), ask);
	/* the submissions' limiter: questions to a CA are bounded like submissions */
	ck_limiter_run(self->submit_limiter, ck_engine_window_now, ask, NULL);
}

void
ck_engine_scheduler_cb(const gchar *key, gpointer user_data)
{
	CkEngine *self = CK_ENGINE(user_data);
	CkRequest *request;

	if (g_str_has_prefix(key, CK_WINDOW_PREFIX)) {
		request = g_hash_table_lookup(self->requests, key + strlen(CK_WINDOW_PREFIX));
		if (request != NULL)
			ck_engine_ask_renewal_window(self, request);
		return;
	}

	if (g_str_has_prefix(key, CK_EXPIRY_PREFIX)) {
		request = g_hash_table_lookup(self->requests, key + strlen(CK_EXPIRY_PREFIX));
		if (request != NULL)
			ck_engine_update_expiry(self, request);
		return;
	}

	if (g_str_has_prefix(key, CK_CLEANUP_PREFIX)) {
		request = g_hash_table_lookup(self->requests, key + strlen(CK_CLEANUP_PREFIX));
		if (request != NULL)
			ck_engine_cleanup_backups(self, request);
		return;
	}
	request = g_hash_table_lookup(self->requests, key);
	if (request == NULL)
		return;
	/* its condition may have moved with time (renewal due, expired) */
	ck_engine_metrics_changed(self);
	switch (ck_request_get_state(request)) {
	case CK_REQUEST_STATE_MONITORING:
		ck_engine_consider_renewal(self, request);
		break;
	case CK_REQUEST_STATE_CA_REJECTED:
	case CK_REQUEST_STATE_NEED_GUIDANCE:
	case CK_REQUEST_STATE_STOPPED:
		break;
	default:
		/* a retry or a poll is due */
		ck_request_set_next_attempt(request, 0);
		ck_engine_schedule_step(self, request);
		break;
	}
}

/*
 * At start-up: what the previous process left in flight resumes from a stable
 * state. Keys and CSRs lived in memory, except those a CA is working on.
 */
void
ck_engine_resume(CkEngine *self, CkRequest *request)
{
	CkRequestState state = ck_request_get_state(request);
	gboolean has_cert = ck_request_get_not_after(request) > 0;

	if (ck_request_get_install_phase(request) != CK_INSTALL_PHASE_NONE) {
		ck_engine_recover_install(self, request);
		return;
	}
	switch (state) {
	case CK_REQUEST_STATE_CA_WORKING:
	case CK_REQUEST_STATE_CA_UNREACHABLE:
		/* the retry or poll keeps its time */
		ck_scheduler_set(self->scheduler, ck_request_get_id(request),
				 ck_request_get_next_attempt(request));
		break;
	case CK_REQUEST_STATE_GENERATING_KEY_PAIR:
	case CK_REQUEST_STATE_NEED_CSR:
	case CK_REQUEST_STATE_SUBMITTING:
	case CK_REQUEST_STATE_SAVING_CERT:
	case CK_REQUEST_STATE_POST_SAVED:
	case CK_REQUEST_STATE_NEED_TO_RECOVER:
		g_message("request %s was %s when the daemon stopped; %s",
			  ck_request_get_id(request), ck_request_state_to_string(state),
			  has_cert ? "the renewal starts over" : "it starts over");
		ck_engine_remove_pending(self, request);
		ck_request_set_ca_cookie(request, NULL);
		ck_engine_set_state(self, request,
				    has_cert ? CK_REQUEST_STATE_MONITORING
					     : CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_persist(self, request);
		if (has_cert)
			ck_engine_plan(self, request);
		else
			ck_engine_schedule_step(self, request);
		break;
	case CK_REQUEST_STATE_NEED_KEY_PAIR:
		ck_engine_schedule_step(self, request);
		break;
	case CK_REQUEST_STATE_MONITORING:
		ck_engine_plan(self, request);
		break;
	default:
		/* stuck: it waits for a human, as it did before */
		ck_engine_plan(self, request);
		break;
	}
}
