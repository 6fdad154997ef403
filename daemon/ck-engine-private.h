/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The engine's insides, shared by its three files: ck-engine.c (requests, CAs,
 * start-up, clock trust, file watches), ck-engine-lifecycle.c (key, CSR,
 * submission, retries, scheduling) and ck-engine-install.c (validation, the
 * atomic install, hooks, the post-install check and recovery).
 */

#include "ck-audit.h"
#include "ck-engine.h"
#include "ck-installer.h"
#include "ck-limiter.h"
#include "ck-metrics.h"
#include "ck-policy.h"
#include "ck-scheduler.h"
#include "ck-service-manager.h"
#include "ck-store.h"

G_BEGIN_DECLS

/* Helpers may print a chain of certificates; a megabyte is far beyond any real answer. */
#define CK_HELPER_MAX_OUTPUT (1024 * 1024)
/* How long to wait before polling a CA that said "wait" without saying how long. */
#define CK_CA_POLL_DEFAULT_SECONDS 30
/* A clock this much behind what we saw before is wrong, not merely drifting. */
#define CK_CLOCK_TOLERANCE (5 * 60)
/* While some request waits for a trustworthy clock, look again this often. */
#define CK_CLOCK_RECHECK_SECONDS 300
/* A certificate file that changed behind our back is read again after this delay. */
#define CK_EXTERNAL_CHANGE_DELAY_MS 500
/* Scheduler keys of backup clean-ups are this prefix and the request id. */
#define CK_CLEANUP_PREFIX "cleanup:"
/* Scheduler keys of the next question for a CA's renewal window: this and the id. */
#define CK_WINDOW_PREFIX "window:"
/* Scheduler keys of the next change of a certificate's ExpiryStatus: this and the id. */
#define CK_EXPIRY_PREFIX "expiry:"
/* A failed question for the renewal window is asked again after this long. */
#define CK_WINDOW_RETRY_FAILED 3600

/* What one request's lifecycle holds in memory between steps. */
typedef struct {
	CkKey *key;		   /* the key the next certificate is for */
	gboolean force_new_key;	   /* the CA asked for a new key */
	gboolean reuse_key;	   /* this attempt keeps the installed key */
	CkKeyType key_type;	   /* the type a new key is made with (the CA may ask for one) */
	gchar *csr;
	gchar *certificate; /* issued, not yet installed */
	gchar *chain;
	gboolean roots_refetched; /* the CA's roots were fetched again for this certificate */
	GCancellable *cancellable;
	guint step_id;	     /* idle source running the next step */
	CkLimiter *holding;  /* the limiter whose slot this job holds, or NULL */
	gboolean busy;	     /* a hook or check of this job runs */
	gboolean waiting;    /* queued in a limiter ... */
	gpointer queued;     /* ... with this user_data, to take it out again */
	guint post_step;     /* how far the post-install steps are */
	gboolean rolled_back; /* the post-install steps run again for the restored files */
	GPtrArray *hook_errors; /* what failed among the post-save hooks (reported, kept) */
	gchar *check_error;	/* why the post-install check failed, NULL if it did not */
	gchar *trace_id;	/* this attempt in the audit log, the journal and helpers */
	gint64 submit_started;	/* monotonic time the CA was asked, 0 when it is not */
} CkJob;

/* Directory watches for external changes of certificate files. */
typedef struct {
	GFileMonitor *monitor;
	guint users;
} CkDirWatch;

struct _CkEngine {
	GObject parent_instance;
	CkConfig *config;
	gchar *state_dir;
	gchar *pending_dir;
	CkStore *store;
	GHashTable *requests;	   /* id -> CkRequest */
	GHashTable *jobs;	   /* id -> CkJob */
	GHashTable *cas;	   /* name -> CkCa */
	GHashTable *key_providers; /* name -> CkKeyProvider */
	CkScheduler *scheduler;
	CkLimiter *key_limiter;
	CkLimiter *submit_limiter;
	CkServiceManager *service_manager;
	CkPolicy *policy;
	CkAudit *audit;
	GHashTable *dynamic_cas; /* name -> CkCaConfig of the CAs added at run time */
	gchar *config_path;
	GHashTable *dir_watches;   /* directory -> CkDirWatch */
	GHashTable *watched_paths; /* certificate file or directory "current" link -> id */
	GHashTable *rechecks;	   /* id -> timeout source id of an external-change re-read */
	GHashTable *window_asks;   /* id -> CkWindowAsk: a renewal window being asked for */
	GHashTable *revoking;	   /* ids whose revocation the CA is asked for now */
	GFileMonitor *time_sync_monitor;
	guint clock_recheck_id;
	GPtrArray *reread_queue; /* requests whose files are read again after start-up */
	guint reread_id;
	guint trim_id; /* returns freed heap to the system once a burst of work is over */
	gint64 clock_floor;	   /* the latest time this daemon saw its state saved */
	gint64 clock_file_written; /* when STATE/clock was last written */
	gboolean started;
	CkMetrics *metrics;
	guint metrics_flush_id;	      /* a write of the metrics is due */
	gboolean metrics_write_failed; /* the last write of certkeeper.prom failed (said once) */
};

/* Steps carry the engine, the request's id and the job's cancellable: a callback
 * checks the cancellable before it touches the engine, which may be gone. */
typedef struct {
	CkEngine *engine;
	gchar *id;
	GCancellable *cancellable;
} CkStepData;

CkStepData *
ck_step_data_new(CkEngine *self, CkRequest *request, CkJob *job);
void
ck_step_data_free(CkStepData *data);
/* The request and job of @data, or FALSE when the step is stale (cancelled or gone). */
gboolean
ck_step_data_resolve(CkStepData *data, CkRequest **request_out, CkJob **job_out);

/* ck-engine.c */
CkJob *
ck_engine_get_job(CkEngine *self, CkRequest *request);
CkJob *
ck_engine_lookup_job(CkEngine *self, CkRequest *request);
void
ck_engine_drop_job(CkEngine *self, CkRequest *request);
void
ck_engine_persist(CkEngine *self, CkRequest *request);
void
ck_engine_set_state(CkEngine *self, CkRequest *request, CkRequestState state);
gchar *
ck_engine_clock_untrusted(CkEngine *self, CkRequest *request, gint64 now);
void
ck_engine_start_clock_recheck(CkEngine *self);
void
ck_engine_watch_request(CkEngine *self, CkRequest *request);
void
ck_engine_unwatch_request(CkEngine *self, CkRequest *request);
const CkLifecycleConfig *
ck_engine_lifecycle(CkEngine *self);
gchar *
ck_engine_pending_path(CkEngine *self, CkRequest *request, const gchar *suffix);
void
ck_engine_remove_pending(CkEngine *self, CkRequest *request);
/* The installed key, loaded through the request's provider; NULL with @error. */
CkKey *
ck_engine_load_installed_key(CkEngine *self, CkRequest *request, GError **error);
/* What the request's certificate file holds now (PEM), NULL if it cannot be read. */
gchar *
ck_engine_read_certificate(CkRequest *request, GError **error);

gboolean
ck_engine_validate_key_and_ca(CkEngine *self, CkRequest *request, GError **error);
gboolean
ck_engine_validate_policy(CkEngine *self, CkRequest *request, GError **error);
const gchar *
ck_engine_find_tracked_path(CkEngine *self, const gchar *path);
void
ck_engine_track(CkEngine *self, CkRequest *request);
void
ck_engine_emit_added(CkEngine *self, CkRequest *request);
guint
ck_engine_count_owned(CkEngine *self, uid_t uid);

void
ck_engine_load_policy(CkEngine *self);

/*
 * Records @event in the audit log (ck_audit_record(): @caller NULL for the
 * daemon's own work, @ca for CA events, metadata pairs NULL ended) with the
 * trace id of the request's attempt; lifecycle events also go to the journal
 * as structured entries, a "reason" in the metadata as their detail.
 */
void
ck_engine_record(CkEngine *self, CkAuditEvent event, const CkCaller *caller, CkRequest *request,
		 const gchar *ca, const gchar *result, ...) G_GNUC_NULL_TERMINATED;
/* The trace id of the attempt under way for @request, NULL if none is. */
const gchar *
ck_engine_trace_id(CkEngine *self, CkRequest *request);

/* ck-engine-manage.c */
CkCa *
ck_engine_make_ca(CkEngine *self, const CkCaConfig *cfg, GError **error);
/* Completes ck_ca_refresh_async() for @ca: its Error, its RootsFile, "ca-changed". */
void
ck_engine_ca_refresh_complete(CkEngine *self, CkCa *ca, GAsyncResult *res);
void
ck_engine_load_dynamic_cas(CkEngine *self);
void
ck_engine_reconcile_declared(CkEngine *self);

/* ck-engine-revoke.c */
/* Whether the request renews by itself: auto-renew is on and its certificate is not
 * revoked (a revoked certificate is replaced when someone asks, see Revoke). */
gboolean
ck_engine_renews_by_itself(CkRequest *request);

/* ck-engine-lifecycle.c */
void
ck_engine_schedule_step(CkEngine *self, CkRequest *request);
void
ck_engine_scheduler_cb(const gchar *key, gpointer user_data);
void
ck_engine_plan(CkEngine *self, CkRequest *request);
/* Sets @request's expiry status for now and plans its next change (nothing if none). */
void
ck_engine_update_expiry(CkEngine *self, CkRequest *request);
void
ck_engine_start_renewal(CkEngine *self, CkRequest *request, gboolean reuse_key,
			gboolean force_new_key);
void
ck_engine_fail(CkEngine *self, CkRequest *request, CkRequestState state, const gchar *why);
void
ck_engine_retry_later(CkEngine *self, CkRequest *request, CkRequestState state,
		      const gchar *why);
void
ck_engine_resume(CkEngine *self, CkRequest *request);
void
ck_engine_check_external_change(CkEngine *self, CkRequest *request);
/* Asks the request's CA for its suggested renewal window, if it may have one. */
void
ck_engine_ask_renewal_window(CkEngine *self, CkRequest *request);
void
ck_window_ask_free(gpointer ask);

/* ck-engine-metrics.c */
void
ck_engine_metrics_start(CkEngine *self);
/* Writes what is due now; call before exiting. */
void
ck_engine_metrics_stop(CkEngine *self);
/* After a reload: MetricsDirectory may have moved (@old_dir: the one before). */
void
ck_engine_metrics_config_changed(CkEngine *self, const gchar *old_dir);
/* Something the metrics show changed: they are written again shortly. */
void
ck_engine_metrics_changed(CkEngine *self);
/* An attempt ends: it failed on its way from @request's state to @to, or it succeeded. */
void
ck_engine_metrics_attempt_failed(CkEngine *self, CkRequest *request, CkRequestState to);
void
ck_engine_metrics_attempt_succeeded(CkEngine *self, CkRequest *request);
/* A submission to (or poll of) a CA begins; and how the CA answered (@result NULL: it did
 * not, the helper failed). */
void
ck_engine_metrics_submission_started(CkEngine *self, CkJob *job);
void
ck_engine_metrics_ca_answered(CkEngine *self, CkCa *ca, CkJob *job, const CkCaResult *result);

/* ck-engine-install.c */
void
ck_engine_step_save(CkEngine *self, CkRequest *request, CkJob *job);
void
ck_engine_step_post_install(CkEngine *self, CkRequest *request, CkJob *job);
void
ck_engine_install_target(CkRequest *request, CkInstallTarget *target);
/* At start-up: finishes or undoes an install a crash interrupted. */
void
ck_engine_recover_install(CkEngine *self, CkRequest *request);
void
ck_engine_cleanup_backups(CkEngine *self, CkRequest *request);

G_END_DECLS
