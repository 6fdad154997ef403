/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "ck-policy.h"
#include "ck-request.h"

G_BEGIN_DECLS

/*
 * The audit trail (seed 004's "complete logging of all certificate operations"):
 * one JSON object per line in a file only root reads (0600), rotated when it
 * would grow past a size (audit.log, audit.log.1 .. audit.log.N, the oldest
 * dropped). Each line has timestamp, event_type, actor, subject, result,
 * trace_id and metadata; see "Audit trail" in README.md for their meaning.
 * Writing never stops the daemon's work: a failure is logged once, and the next
 * event tries again.
 */
#define CK_TYPE_AUDIT ck_audit_get_type()
G_DECLARE_FINAL_TYPE(CkAudit, ck_audit, CK, AUDIT, GObject)

/* What happened. The names (ck_audit_event_to_string()) are the event_type values. */
typedef enum {
	CK_AUDIT_REQUEST_ADDED,         /* tracked (AddRequest, StartTracking, requests.d) */
	CK_AUDIT_REQUEST_MODIFIED,      /* its settings changed (Modify, requests.d) */
	CK_AUDIT_REQUEST_REMOVED,       /* no longer tracked (RemoveRequest, StopTracking) */
	CK_AUDIT_RENEWAL_REQUESTED,     /* someone asked for a renewal now (Resubmit, Rekey) */
	CK_AUDIT_RENEWAL_STARTED,       /* an attempt to get a certificate begins */
	CK_AUDIT_KEY_GENERATED,         /* the attempt made a new key */
	CK_AUDIT_CSR_CREATED,           /* and signed its certificate request */
	CK_AUDIT_CERTIFICATE_ISSUED,    /* the CA issued the certificate */
	CK_AUDIT_CERTIFICATE_INSTALLED, /* it replaced the files atomically */
	CK_AUDIT_RENEWAL_COMPLETED,     /* hooks and post-install check are done: in service */
	CK_AUDIT_RENEWAL_FAILED,        /* the attempt failed (result: retry or failure) */
	CK_AUDIT_ROLLED_BACK,           /* the post-install check failed: the old files are back */
	CK_AUDIT_REVOKED,               /* the CA revoked the certificate (Revoke) */
	CK_AUDIT_CA_ADDED,              /* AddCA, or a CA of the configuration at a reload */
	CK_AUDIT_CA_MODIFIED,           /* ModifyCA, or at a reload */
	CK_AUDIT_CA_REMOVED,            /* RemoveCA, or at a reload */
	CK_AUDIT_CONFIG_RELOADED,       /* Reload or SIGHUP */
	CK_AUDIT_ACCESS_DENIED,         /* a caller was refused (result: denied) */
	CK_AUDIT_LOGGING_CHANGED,       /* LogLevel or LogTarget set (LogControl1) */
	CK_AUDIT_N_EVENTS
} CkAuditEvent;

const gchar *ck_audit_event_to_string(CkAuditEvent event);

/*
 * An audit log at @path (NULL: none, every record is dropped) that rotates
 * when a line would take it past @max_size bytes, keeping @rotate old files
 * (0: the full file is started afresh). Nothing is opened before the first record.
 */
CkAudit *ck_audit_new(const gchar *path, guint64 max_size, guint rotate);

/*
 * Writes one event. @actor: who asked (its uid, pid and unit), NULL for the
 * daemon's own work ("scheduler"). @request: the subject (its id, subject DN,
 * serial, names and CA), or NULL; @ca: the CA name of a CA event, or NULL.
 * @trace_id: the renewal attempt, or NULL. @result: "success", "failure",
 * "retry", "denied", ... Then pairs of metadata keys and string values, NULL
 * ended (a NULL value leaves the key out).
 */
void ck_audit_record(CkAudit *self, CkAuditEvent event, const CkCaller *actor, CkRequest *request,
		     const gchar *ca, const gchar *trace_id, const gchar *result,
		     ...) G_GNUC_NULL_TERMINATED;
/* @args: the metadata pairs, NULL ended */
void ck_audit_recordv(CkAudit *self, CkAuditEvent event, const CkCaller *actor, CkRequest *request,
		      const gchar *ca, const gchar *trace_id, const gchar *result, va_list args);

/* Makes everything written so far durable now (the daemon calls it before exiting). */
void ck_audit_sync(CkAudit *self);

/* A new trace id: 32 lowercase hex digits, as W3C trace context's trace-id. */
gchar *ck_audit_new_trace_id(void);

G_END_DECLS
