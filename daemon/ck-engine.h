/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "ck-ca.h"
#include "ck-config.h"
#include "ck-policy.h"
#include "ck-request.h"
#include "ck-service-manager.h"

G_BEGIN_DECLS

#define CK_TYPE_ENGINE ck_engine_get_type()
G_DECLARE_FINAL_TYPE(CkEngine, ck_engine, CK, ENGINE, GObject)

/*
 * All of certkeeper's logic, with no bus code: the requests, the store, the key
 * providers, the CA back ends and the lifecycle that moves each request from
 * NEED_KEY_PAIR to MONITORING. Signals: "request-added" (CkRequest),
 * "request-removed" (CkRequest), "request-changed" (CkRequest, guint field mask),
 * "certificate-saved" (CkRequest: a new certificate is installed and checked),
 * "ca-added", "ca-removed" and "ca-changed" (CkCa).
 */
CkEngine *
ck_engine_new(CkConfig *config, const gchar *state_dir);

/* Opens the state, loads every request (in-flight ones reset to a stable
 * state), sets up the CAs and resumes the lifecycle. */
gboolean
ck_engine_start(CkEngine *self, GError **error);

/* Every tracked request, ordered by id (caller owns the array, not the requests). */
GPtrArray *
ck_engine_get_requests(CkEngine *self);
CkRequest *
ck_engine_find_request(CkEngine *self, const gchar *id);

/* A request filled with the configured defaults (key type, CA, file modes), no id. */
CkRequest *
ck_engine_new_request_template(CkEngine *self);

/*
 * Validates @request (a template filled in by the caller: names, files, key type,
 * CA, ...), gives it an id if it has none, stores it and starts the lifecycle.
 * Returns the tracked request (owned by the engine), a new object made from the template.
 * Bad input fails with CK_ERROR_INVALID_ARGUMENT (or UNSUPPORTED, NOT_FOUND,
 * ALREADY_EXISTS) naming the offending value; nothing is written then.
 */
CkRequest *
ck_engine_add_request(CkEngine *self, CkRequest *request, GError **error);

/*
 * ck_engine_add_request() on behalf of @caller: a user other than root needs a
 * policy (policy.d) that allows the request, and the request becomes that
 * user's. CK_ERROR_ACCESS_DENIED names what was refused; the refusal is logged.
 */
CkRequest *
ck_engine_add_request_as(CkEngine *self, const CkCaller *caller, CkRequest *request,
			 GError **error);

/* May @caller do @action ("RemoveRequest", "Rekey", ...) to @request? @issues: the
 * action asks the CA for a certificate, so it counts against the rate limit. */
gboolean
ck_engine_authorize(CkEngine *self, const CkCaller *caller, CkRequest *request,
		    const gchar *action, gboolean issues, GError **error);

/* Stops tracking: forgets the request and its state file; certificate and key files stay. */
gboolean
ck_engine_remove_request(CkEngine *self, const gchar *id, GError **error);
/* ck_engine_remove_request() on behalf of @caller, authorised and audited. */
gboolean
ck_engine_remove_request_as(CkEngine *self, const CkCaller *caller, const gchar *id,
			    GError **error);

/*
 * Renews now, whatever the schedule says: resubmit keeps the key, rekey makes a
 * new one (getcert's resubmit and rekey). CK_ERROR_BUSY while an attempt is
 * under way.
 */
gboolean
ck_engine_resubmit(CkEngine *self, const gchar *id, GError **error);
gboolean
ck_engine_rekey(CkEngine *self, const gchar *id, GError **error);
/* ck_engine_rekey() (@rekey) or ck_engine_resubmit() on behalf of @caller:
 * authorised (it counts against the caller's rate limit) and audited. */
gboolean
ck_engine_renew_as(CkEngine *self, const CkCaller *caller, const gchar *id, gboolean rekey,
		   GError **error);

/*
 * Revokes the installed certificate of request @id through its CA, on behalf of
 * @caller (its owner under policy, or root, as for Resubmit). @reason: an RFC
 * 5280 reason name (unspecified, keyCompromise, cACompromise, affiliationChanged,
 * superseded, cessationOfOperation, privilegeWithdrawn, aACompromise), or NULL or
 * "" to give none. Completes when the CA has answered. Afterwards the request is
 * still tracked, its files stay, it is marked revoked and is not renewed by
 * itself (ck_engine_rekey() or ck_engine_resubmit() get a new certificate; a key
 * revoked as keyCompromise is not resubmitted). Revoking a revoked certificate
 * succeeds at once. Errors: NOT_FOUND (no request, no installed certificate, no
 * CA), INVALID_ARGUMENT (the reason), ACCESS_DENIED, BUSY, UNSUPPORTED (the CA
 * cannot revoke), CA_REJECTED, CA_UNREACHABLE, CA_UNDERCONFIGURED.
 */
void
ck_engine_revoke_async(CkEngine *self, const CkCaller *caller, const gchar *id,
		       const gchar *reason, GCancellable *cancellable, GAsyncReadyCallback callback,
		       gpointer user_data);
gboolean
ck_engine_revoke_finish(CkEngine *self, GAsyncResult *res, GError **error);
/* The RFC 5280 code of reason @name; -1 for none (NULL or ""), -2 with @error if unknown. */
gint
ck_engine_revocation_reason_code(const gchar *name, GError **error);

/* The request whose certificate file is @path, or NULL. */
CkRequest *
ck_engine_find_request_by_path(CkEngine *self, const gchar *path);

/*
 * Tracks a certificate and key that exist already (also ones another CA issued):
 * they must be readable and belong together; names not given are taken from the
 * certificate; it is renewed through its CA (the default one unless named) when
 * due, unless auto-renew is off. Authorised like ck_engine_add_request_as().
 */
CkRequest *
ck_engine_start_tracking(CkEngine *self, const CkCaller *caller, CkRequest *request,
			 GError **error);

/*
 * Gives request @id the settings of @changed (a ck_request_dup() of it with
 * options applied), after checking them as for a new request. The changes
 * apply from the next attempt on (Resubmit to use them now).
 */
gboolean
ck_engine_modify_request(CkEngine *self, const CkCaller *caller, const gchar *id,
			 CkRequest *changed, GError **error);

/* Reads the request's certificate file again and plans from what it holds. */
gboolean
ck_engine_refresh_request(CkEngine *self, const gchar *id, GError **error);

/* CAs: those of certkeeper.conf, and those added at run time (STATE/cas). Only
 * root adds, changes or removes them; a configured CA is changed in the file. */
gboolean
ck_engine_ca_is_configured(CkEngine *self, const gchar *name);
const CkCaConfig *
ck_engine_get_ca_config(CkEngine *self, const gchar *name);
CkCa *
ck_engine_add_ca(CkEngine *self, const CkCaller *caller, const CkCaConfig *cfg, GError **error);
gboolean
ck_engine_modify_ca(CkEngine *self, const CkCaller *caller, const CkCaConfig *cfg,
		    GError **error);
gboolean
ck_engine_remove_ca(CkEngine *self, const CkCaller *caller, const gchar *name, GError **error);

/* Asks @ca again what it publishes (its roots); "ca-changed" tells the answer. */
void
ck_engine_refresh_ca(CkEngine *self, CkCa *ca);

/* The configuration file that ck_engine_reload() reads again. */
void
ck_engine_set_config_path(CkEngine *self, const gchar *path);
/*
 * Reads the configuration, policy.d and requests.d again (root only): CAs of the
 * file are added, changed or removed, declared requests are added, changed or
 * no longer tracked (their files stay). A broken configuration changes nothing.
 */
gboolean
ck_engine_reload(CkEngine *self, const CkCaller *caller, GError **error);

/*
 * Sets the daemon's "LogLevel" (a syslog level name) or "LogTarget" (auto,
 * console, journal or null) for @caller, as org.freedesktop.LogControl1 does:
 * root only (CK_ERROR_ACCESS_DENIED), audited either way.
 */
gboolean
ck_engine_set_log_setting(CkEngine *self, const CkCaller *caller, const gchar *setting,
			  const gchar *value, GError **error);

/* Who reloads services after an install (systemd in the daemon); may be NULL. */
void
ck_engine_set_service_manager(CkEngine *self, CkServiceManager *manager);

/* The clock may have moved (a test offset changed): everything is planned again. */
void
ck_engine_clock_changed(CkEngine *self);

/*
 * The metrics in the Prometheus text exposition format (see ck-metrics.h): the
 * same text as the certkeeper.prom file of MetricsDirectory=.
 */
gchar *
ck_engine_get_metrics(CkEngine *self);

/* Saves what must survive the process (the clock floor); call before exiting. */
void
ck_engine_stop(CkEngine *self);

CkCa *
ck_engine_find_ca(CkEngine *self, const gchar *name);
/* The CAs, ordered by name (caller owns the array). */
GPtrArray *
ck_engine_get_cas(CkEngine *self);

G_END_DECLS
