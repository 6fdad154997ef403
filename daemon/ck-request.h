/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "ck-csr.h"
#include "ck-file-util.h"
#include "ck-key-provider.h"
#include "ck-schedule.h"

G_BEGIN_DECLS

/* certmonger's state names, which its users know. */
typedef enum {
	CK_REQUEST_STATE_NEED_KEY_PAIR,
	CK_REQUEST_STATE_GENERATING_KEY_PAIR,
	CK_REQUEST_STATE_NEED_CSR,
	CK_REQUEST_STATE_SUBMITTING,
	CK_REQUEST_STATE_CA_WORKING,
	CK_REQUEST_STATE_CA_UNREACHABLE,
	CK_REQUEST_STATE_CA_REJECTED,
	CK_REQUEST_STATE_NEED_GUIDANCE,
	CK_REQUEST_STATE_SAVING_CERT,
	CK_REQUEST_STATE_POST_SAVED,
	CK_REQUEST_STATE_MONITORING,
	CK_REQUEST_STATE_NEED_TO_RECOVER,
	CK_REQUEST_STATE_STOPPED,
	CK_REQUEST_STATE_LAST
} CkRequestState;

const gchar *
ck_request_state_to_string(CkRequestState state);
/* CK_REQUEST_STATE_LAST for an unknown name. */
CkRequestState
ck_request_state_from_string(const gchar *name);
/* States that need a human (the request is "stuck"). */
gboolean
ck_request_state_is_stuck(CkRequestState state);
/* States that only exist while work is under way and must not survive a restart. */
gboolean
ck_request_state_is_transient(CkRequestState state);

/* Bits of the "changed" signal: which fields a setter really changed. */
typedef enum {
	CK_REQUEST_FIELD_STATE = 1u << 0, /* also Stuck */
	CK_REQUEST_FIELD_SUBJECT = 1u << 1,
	CK_REQUEST_FIELD_DNS_NAMES = 1u << 2,
	CK_REQUEST_FIELD_IP_ADDRESSES = 1u << 3,
	CK_REQUEST_FIELD_EMAILS = 1u << 4,
	CK_REQUEST_FIELD_URIS = 1u << 5,
	CK_REQUEST_FIELD_CERT_FILE = 1u << 6,
	CK_REQUEST_FIELD_KEY_FILE = 1u << 7,
	CK_REQUEST_FIELD_CHAIN_FILE = 1u << 8,
	CK_REQUEST_FIELD_CA = 1u << 9,
	CK_REQUEST_FIELD_CERTIFICATE = 1u << 10, /* NotBefore, NotAfter, Serial, Issuer */
	CK_REQUEST_FIELD_LAST_ERROR = 1u << 11,
	CK_REQUEST_FIELD_KEY_TYPE = 1u << 12,
	CK_REQUEST_FIELD_OTHER = 1u << 13, /* fields not on the bus */
	/* RenewalTime, NextAttempt, FailedAttempts, LastFailureTime, LastRenewal, WorkingSince */
	CK_REQUEST_FIELD_SCHEDULE = 1u << 14,
	CK_REQUEST_FIELD_STATUS = 1u << 15, /* Waiting (why decisions wait), Identity, ExpiryStatus */
	CK_REQUEST_FIELD_POLICY = 1u << 16, /* renewal, key, hook, check and layout settings */
} CkRequestField;

/* What a renewal does with the key. */
typedef enum {
	CK_KEY_POLICY_NEW,   /* a new key at every renewal (the default) */
	CK_KEY_POLICY_REUSE, /* keep the key, renew only the certificate */
	CK_KEY_POLICY_LAST
} CkKeyPolicy;

const gchar *
ck_key_policy_to_string(CkKeyPolicy policy);
/* CK_KEY_POLICY_LAST for an unknown name ("new", "reuse"). */
CkKeyPolicy
ck_key_policy_from_string(const gchar *name);

/* Where an install is (the intent record of ARCHITECTURE.md "Atomic install"). */
typedef enum {
	CK_INSTALL_PHASE_NONE,     /* nothing in flight */
	CK_INSTALL_PHASE_STAGE,    /* new files are being staged beside the live ones */
	CK_INSTALL_PHASE_COMMIT,   /* staged and validated: being renamed into place */
	CK_INSTALL_PHASE_CHECK,    /* in place: hooks and the post-install check run */
	CK_INSTALL_PHASE_ROLLBACK, /* the previous files are being put back */
	CK_INSTALL_PHASE_LAST
} CkInstallPhase;

const gchar *
ck_install_phase_to_string(CkInstallPhase phase);
CkInstallPhase
ck_install_phase_from_string(const gchar *name);

#define CK_TYPE_REQUEST ck_request_get_type()
G_DECLARE_FINAL_TYPE(CkRequest, ck_request, CK, REQUEST, GObject)

/*
 * One tracked certificate: what was asked for, where it lives, and where it
 * stands. Setters emit "changed" (guint mask of CkRequestField) only when a
 * value really changes.
 */
CkRequest *
ck_request_new(const gchar *id);

/*
 * The one observer a tracking engine installs: told of every change before the
 * "changed" signal is emitted. A plain pointer pair instead of a signal
 * connection, which costs a closure, a handler and a notifier per request.
 */
typedef void (*CkRequestWatchFunc)(CkRequest *request, guint fields, gpointer user_data);
void
ck_request_set_watch(CkRequest *self, CkRequestWatchFunc func, gpointer user_data);

/* An id is 1-64 characters of [A-Za-z0-9._-], not starting with '.' (it names a file). */
gboolean
ck_request_id_is_valid(const gchar *id);

const gchar *
ck_request_get_id(CkRequest *self);
/* Only for a template not yet handed to the engine: a tracked request's id never changes. */
void
ck_request_set_template_id(CkRequest *self, const gchar *id);

CkRequestState
ck_request_get_state(CkRequest *self);
void
ck_request_set_state(CkRequest *self, CkRequestState state);
gboolean
ck_request_get_stuck(CkRequest *self);

const gchar *
ck_request_get_subject(CkRequest *self);
void
ck_request_set_subject(CkRequest *self, const gchar *subject);
const gchar *const *
ck_request_get_dns_names(CkRequest *self);
void
ck_request_set_dns_names(CkRequest *self, const gchar *const *names);
const gchar *const *
ck_request_get_ip_addresses(CkRequest *self);
void
ck_request_set_ip_addresses(CkRequest *self, const gchar *const *addresses);
const gchar *const *
ck_request_get_emails(CkRequest *self);
void
ck_request_set_emails(CkRequest *self, const gchar *const *emails);
const gchar *const *
ck_request_get_uris(CkRequest *self);
void
ck_request_set_uris(CkRequest *self, const gchar *const *uris);
/* Kerberos principal name SANs (getcert -K), e.g. "HTTP/web.example.org@EXAMPLE.ORG". */
const gchar *const *
ck_request_get_principals(CkRequest *self);
void
ck_request_set_principals(CkRequest *self, const gchar *const *principals);
const gchar *const *
ck_request_get_key_usage(CkRequest *self);
void
ck_request_set_key_usage(CkRequest *self, const gchar *const *usage);
const gchar *const *
ck_request_get_extended_key_usage(CkRequest *self);
void
ck_request_set_extended_key_usage(CkRequest *self, const gchar *const *usage);
/* The CSR parameters view of the names above (valid while @self is unchanged). */
void
ck_request_get_csr_params(CkRequest *self, CkCsrParams *params);

CkKeyType
ck_request_get_key_type(CkRequest *self);
void
ck_request_set_key_type(CkRequest *self, CkKeyType type);
const gchar *
ck_request_get_key_provider(CkRequest *self);
void
ck_request_set_key_provider(CkRequest *self, const gchar *provider);

const gchar *
ck_request_get_cert_file(CkRequest *self);
void
ck_request_set_cert_file(CkRequest *self, const gchar *path);
const gchar *
ck_request_get_key_file(CkRequest *self);
void
ck_request_set_key_file(CkRequest *self, const gchar *path);
const gchar *
ck_request_get_chain_file(CkRequest *self);
void
ck_request_set_chain_file(CkRequest *self, const gchar *path);
/* Owner and mode of the certificate and chain files (default root, 0644). */
const CkFileAttrs *
ck_request_get_cert_attrs(CkRequest *self);
void
ck_request_set_cert_attrs(CkRequest *self, const CkFileAttrs *attrs);
/* Owner and mode of the key file (default root, 0600). */
const CkFileAttrs *
ck_request_get_key_attrs(CkRequest *self);
void
ck_request_set_key_attrs(CkRequest *self, const CkFileAttrs *attrs);

const gchar *
ck_request_get_ca(CkRequest *self);
void
ck_request_set_ca(CkRequest *self, const gchar *ca);
const gchar *
ck_request_get_profile(CkRequest *self);
void
ck_request_set_profile(CkRequest *self, const gchar *profile);
/* Wanted lifetime in seconds, 0 for the CA's default. */
gint64
ck_request_get_validity(CkRequest *self);
void
ck_request_set_validity(CkRequest *self, gint64 seconds);

/* The uid that asked for this request (the D-Bus caller). */
guint32
ck_request_get_owner_uid(CkRequest *self);
void
ck_request_set_owner_uid(CkRequest *self, guint32 uid);

/* What the installed certificate says; 0 / NULL until one is issued. */
gint64
ck_request_get_not_before(CkRequest *self);
gint64
ck_request_get_not_after(CkRequest *self);
const gchar *
ck_request_get_serial(CkRequest *self);
const gchar *
ck_request_get_issuer(CkRequest *self);
void
ck_request_set_certificate_info(CkRequest *self, gint64 not_before, gint64 not_after,
				const gchar *serial, const gchar *issuer);
/* Reads notBefore, notAfter, serial (hex) and issuer DN from a PEM certificate. */
gboolean
ck_request_set_certificate_info_from_pem(CkRequest *self, const gchar *pem, GError **error);

/* The last failure, "" when the last attempt succeeded. */
const gchar *
ck_request_get_last_error(CkRequest *self);
void
ck_request_set_last_error(CkRequest *self, const gchar *message);

/* A CA's cookie to poll with (CA_WORKING), NULL otherwise. */
const gchar *
ck_request_get_ca_cookie(CkRequest *self);
void
ck_request_set_ca_cookie(CkRequest *self, const gchar *cookie);
/* When the lifecycle wants to look at this request again (unix seconds, 0: not planned). */
gint64
ck_request_get_next_attempt(CkRequest *self);
void
ck_request_set_next_attempt(CkRequest *self, gint64 when);
guint
ck_request_get_failed_attempts(CkRequest *self);
void
ck_request_set_failed_attempts(CkRequest *self, guint count);

gint64
ck_request_get_created(CkRequest *self);

/* Renewal policy */

/* The renewal threshold ("30d", "33%"; "" for the configured default). */
const gchar *
ck_request_get_renew_before(CkRequest *self);
void
ck_request_set_renew_before(CkRequest *self, const gchar *threshold);
CkKeyPolicy
ck_request_get_key_policy(CkRequest *self);
void
ck_request_set_key_policy(CkRequest *self, CkKeyPolicy policy);
/* FALSE: the certificate is watched, never renewed by itself. */
gboolean
ck_request_get_auto_renew(CkRequest *self);
void
ck_request_set_auto_renew(CkRequest *self, gboolean auto_renew);

/* Install layout: files (the default), or a versioned directory with a "current"
 * symlink swapped atomically; and an optional combined PEM (key, certificate, chain). */
const gchar *
ck_request_get_directory(CkRequest *self);
void
ck_request_set_directory(CkRequest *self, const gchar *directory);
const gchar *
ck_request_get_combined_file(CkRequest *self);
void
ck_request_set_combined_file(CkRequest *self, const gchar *path);

/* Hooks (certmonger's -B and -C), run by /bin/sh as @hook_user (NULL: root). */
const gchar *
ck_request_get_pre_save_command(CkRequest *self);
void
ck_request_set_pre_save_command(CkRequest *self, const gchar *command);
const gchar *
ck_request_get_post_save_command(CkRequest *self);
void
ck_request_set_post_save_command(CkRequest *self, const gchar *command);
const gchar *
ck_request_get_hook_user(CkRequest *self);
void
ck_request_set_hook_user(CkRequest *self, const gchar *user);
/* A systemd unit to reload or restart after an install; @mode is "reload",
 * "restart", "try-restart", "reload-or-restart" (the default) or "reload-or-try-restart". */
const gchar *
ck_request_get_reload_unit(CkRequest *self);
void
ck_request_set_reload_unit(CkRequest *self, const gchar *unit);
const gchar *
ck_request_get_reload_mode(CkRequest *self);
void
ck_request_set_reload_mode(CkRequest *self, const gchar *mode);
/* A process to signal after an install (its PID file), and the signal (default SIGHUP). */
const gchar *
ck_request_get_pid_file(CkRequest *self);
void
ck_request_set_pid_file(CkRequest *self, const gchar *path);
gint
ck_request_get_pid_signal(CkRequest *self);
void
ck_request_set_pid_signal(CkRequest *self, gint signum);
/* The post-install check: a TLS handshake with "host:port", and/or a command;
 * a failure rolls the install back. */
const gchar *
ck_request_get_check_endpoint(CkRequest *self);
void
ck_request_set_check_endpoint(CkRequest *self, const gchar *endpoint);
const gchar *
ck_request_get_check_command(CkRequest *self);
void
ck_request_set_check_command(CkRequest *self, const gchar *command);

/* The bootstrap identity that authenticates a renewal once the certificate expired. */
const gchar *
ck_request_get_bootstrap_cert_file(CkRequest *self);
void
ck_request_set_bootstrap_cert_file(CkRequest *self, const gchar *path);
const gchar *
ck_request_get_bootstrap_key_file(CkRequest *self);
void
ck_request_set_bootstrap_key_file(CkRequest *self, const gchar *path);
/*
 * The attestation proof key, the recovery ladder's last step: a key (file or
 * TPM key file) whose public key the CA registers at enrollment, and that signs
 * a CA nonce once neither the certificate nor the bootstrap identity can
 * authenticate. @provider names the key provider that loads it; NULL: chosen
 * from the file ("tpm" for a TSS2 PEM key file when that provider exists, else
 * "file").
 */
const gchar *
ck_request_get_proof_key_file(CkRequest *self);
void
ck_request_set_proof_key_file(CkRequest *self, const gchar *path);
const gchar *
ck_request_get_proof_key_provider(CkRequest *self);
void
ck_request_set_proof_key_provider(CkRequest *self, const gchar *provider);

/* Lifecycle status */

/* When the installed certificate is due for renewal (unix seconds, 0: none planned). */
gint64
ck_request_get_renewal_time(CkRequest *self);
void
ck_request_set_renewal_time(CkRequest *self, gint64 when);
/*
 * The CA's suggested renewal window [start, end) (RFC 9773 renewal information),
 * Unix seconds, 0 and 0 when none is known; @pick is the moment inside it this
 * request chose (kept, so restarts and re-plans do not re-roll it), @serial the
 * certificate the window is for. Changes emit CK_REQUEST_FIELD_SCHEDULE.
 */
gint64
ck_request_get_window_start(CkRequest *self);
gint64
ck_request_get_window_end(CkRequest *self);
gint64
ck_request_get_window_pick(CkRequest *self);
const gchar *
ck_request_get_window_serial(CkRequest *self);
void
ck_request_set_renewal_window(CkRequest *self, gint64 start, gint64 end, gint64 pick,
			      const gchar *serial);
/*
 * Revocation of the installed certificate: when it was revoked (Unix seconds, 0
 * if it was not) and the RFC 5280 reason name given (NULL if none). Both count
 * only while the certificate with @serial is the installed one, so installing a
 * new certificate ends them. ck_request_set_revoked(self, NULL, 0, NULL) forgets.
 * Changes emit CK_REQUEST_FIELD_STATUS.
 */
gint64
ck_request_get_revoked(CkRequest *self);
const gchar *
ck_request_get_revocation_reason(CkRequest *self);
void
ck_request_set_revoked(CkRequest *self, const gchar *serial, gint64 when, const gchar *reason);
/* When a certificate was last installed, and when the last attempt failed (0: never). */
gint64
ck_request_get_last_renewal(CkRequest *self);
void
ck_request_set_last_renewal(CkRequest *self, gint64 when);
gint64
ck_request_get_last_failure_time(CkRequest *self);
void
ck_request_set_last_failure_time(CkRequest *self, gint64 when);
/*
 * When the request last left MONITORING: the start of the enrollment or renewal
 * under way, its retries included (0 while MONITORING). Persisted, so a request
 * that has been trying for days still says so after a restart. Changes emit
 * CK_REQUEST_FIELD_SCHEDULE.
 */
gint64
ck_request_get_working_since(CkRequest *self);
void
ck_request_set_working_since(CkRequest *self, gint64 when);
/* Where the installed certificate stands against its expiry; kept current by the
 * engine, never persisted (it follows from the certificate and the clock). Changes
 * emit CK_REQUEST_FIELD_STATUS. */
CkExpiryStatus
ck_request_get_expiry_status(CkRequest *self);
void
ck_request_set_expiry_status(CkRequest *self, CkExpiryStatus status);
/* Why the lifecycle waits although it would act (an untrusted clock, a missing
 * TPM, ...); "" when it does not. */
const gchar *
ck_request_get_waiting(CkRequest *self);
void
ck_request_set_waiting(CkRequest *self, const gchar *reason);
/* Which identity authenticated the last submission: "none" (first enrollment),
 * "current" (the certificate being renewed), "expired", "bootstrap" or "proof". */
const gchar *
ck_request_get_identity(CkRequest *self);
void
ck_request_set_identity(CkRequest *self, const gchar *identity);
/*
 * The recovery ladder (seed 001, FR-009..FR-014, FR-031): the step in progress
 * or last taken, "none" (no recovery: the certificate is valid, or a first
 * enrollment), "bootstrap", "proof" or "exhausted" (every step failed: a human
 * must act), and why the earlier steps could not be taken ("" when there were
 * none), e.g. "current: expired ...; bootstrap: not configured".
 */
const gchar *
ck_request_get_recovery_step(CkRequest *self);
void
ck_request_set_recovery_step(CkRequest *self, const gchar *step);
const gchar *
ck_request_get_recovery_reason(CkRequest *self);
void
ck_request_set_recovery_reason(CkRequest *self, const gchar *reason);
/* Until when the previous certificate and key are kept beside the new ones (0: none kept). */
gint64
ck_request_get_backups_until(CkRequest *self);
void
ck_request_set_backups_until(CkRequest *self, gint64 when);

/* The message of the most recent failure, kept after later successes ("" if none). */
const gchar *
ck_request_get_last_failure(CkRequest *self);
void
ck_request_set_last_failure(CkRequest *self, const gchar *message);

/* The requests.d file that declares this request, NULL when it was asked for otherwise. */
const gchar *
ck_request_get_declared(CkRequest *self);
void
ck_request_set_declared(CkRequest *self, const gchar *path);

/*
 * Gives @self every setting of @from (names, CA, profile, key type and policy,
 * renewal, hooks, checks, bootstrap, file owners and modes, chain and combined
 * files), each through its setter so "changed" says what changed. Identity,
 * owner, files, state and history stay.
 */
void
ck_request_assign_settings(CkRequest *self, CkRequest *from);

/* A copy (through the JSON form) that can be changed without touching @self. */
CkRequest *
ck_request_dup(CkRequest *self);

/* The install in flight (persisted, so a restart finishes or undoes it). */
CkInstallPhase
ck_request_get_install_phase(CkRequest *self);
/* @fresh: the live paths that did not exist before (a rollback removes them);
 * @version and @previous: the new and the replaced version's names in the
 * directory layout, else NULL. */
void
ck_request_set_install(CkRequest *self, CkInstallPhase phase, const gchar *const *fresh,
		       const gchar *version, const gchar *previous);
const gchar *const *
ck_request_get_install_fresh(CkRequest *self);
const gchar *
ck_request_get_install_version(CkRequest *self);
const gchar *
ck_request_get_install_previous(CkRequest *self);

/* Serialisation for the state store (a versioned JSON object). */
JsonNode *
ck_request_to_json(CkRequest *self);
CkRequest *
ck_request_new_from_json(JsonNode *node, GError **error);

G_END_DECLS
