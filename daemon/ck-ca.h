/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

#include "ck-csr.h"

G_BEGIN_DECLS

/* What a CA said; the names follow certmonger's helper exit codes (doc/submit.txt). */
typedef enum {
	CK_CA_OUTCOME_ISSUED,		/* 0: certificate (and chain) returned */
	CK_CA_OUTCOME_WAIT,		/* 1 and 5: poll later with the cookie, maybe after a delay */
	CK_CA_OUTCOME_REJECTED,		/* 2: the CA refused; a human must look */
	CK_CA_OUTCOME_UNREACHABLE,	/* 3: try again later */
	CK_CA_OUTCOME_UNDERCONFIGURED,	/* 4: the back end lacks configuration */
	CK_CA_OUTCOME_UNSUPPORTED,	/* 6: the operation is not supported */
	CK_CA_OUTCOME_NEED_NEW_KEY,	/* 17: submit again with a new key */
} CkCaOutcome;

const gchar *
ck_ca_outcome_to_string(CkCaOutcome outcome);

typedef struct {
	CkCaOutcome outcome;
	gchar *certificate; /* ISSUED: the leaf, PEM */
	gchar *chain;	    /* ISSUED: intermediates, PEM, leaf's issuer first; may be NULL */
	gchar *cookie;	    /* WAIT: what to hand back when polling */
	guint64 delay;	    /* WAIT: seconds the CA asked us to wait, 0 if it did not say */
	gchar *message;	    /* why, for every outcome but ISSUED */
	gchar *nonce;	    /* ISSUED by ck_ca_proof_nonce_async(): the proof nonce */
} CkCaResult;

CkCaResult *
ck_ca_result_new(CkCaOutcome outcome);
void
ck_ca_result_free(CkCaResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkCaResult, ck_ca_result_free)

/*
 * What a CA suggests about when to renew one certificate (ACME renewal
 * information, RFC 9773, through certkeeper's GET-RENEWAL-WINDOW operation).
 */
typedef struct {
	CkCaOutcome outcome; /* ISSUED: a window; UNSUPPORTED: the CA offers none; else failed */
	gint64 start;	     /* ISSUED: renew at or after this moment (Unix seconds) ... */
	gint64 end;	     /* ... and before this one; start < end */
	gint64 retry_after;  /* ISSUED: seconds until the CA wants to be asked again, 0: unsaid */
	gchar *message;	     /* why, for every outcome but ISSUED */
} CkCaWindow;

CkCaWindow *
ck_ca_window_new(CkCaOutcome outcome);
void
ck_ca_window_free(CkCaWindow *window);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkCaWindow, ck_ca_window_free)

/*
 * What a CA asks certificate requests to contain (certkeeper's
 * CERTKEEPER-GET-CSR-ATTRIBUTES operation, e.g. EST's /csrattrs; see
 * docs/helper-protocol.md).
 */
typedef struct {
	gchar *key_type;	     /* the key type asked for, as the CA said it: a name
				      * of ck_key_type_from_string() or one certkeeper
				      * cannot make ("ec-p384"); "rsa" or "ec" for the
				      * family alone; NULL when it asks for none */
	gboolean challenge_password; /* it wants a challengePassword attribute ... */
	gchar *challenge;	     /* ... with this value; NULL when the helper has none */
	GPtrArray *extensions;	     /* CkCsrExtension: extensions to add as given */
	GStrv unfilled;		     /* OIDs it asks for that certkeeper cannot fill */
} CkCaCsrAttributes;

CkCaCsrAttributes *
ck_ca_csr_attributes_new(void);
void
ck_ca_csr_attributes_free(CkCaCsrAttributes *attributes);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkCaCsrAttributes, ck_ca_csr_attributes_free)
/* One line each, as for CA1.CSRAttributes: never the challenge itself. */
GStrv
ck_ca_csr_attributes_describe(const CkCaCsrAttributes *attributes);

/* One submission (or, with a cookie, one poll) of one request. */
typedef struct {
	const gchar *request_id;
	const gchar *csr;	 /* PEM */
	const gchar *cookie;	 /* non-NULL: poll for an earlier submission */
	const gchar *profile;	 /* CA profile/template, may be NULL */
	const gchar *certificate; /* the certificate issued before (a renewal), PEM, or NULL */
	gint64 validity;	 /* wanted lifetime in seconds, 0 for the CA's default */
	const CkCsrParams *names; /* what was asked for, for helpers' CERTMONGER_REQ_* */
	/* who authenticates the submission: "none" (a first enrollment), "current"
	 * (the certificate being renewed), "expired" (it, expired, and nothing
	 * better), "bootstrap" (a bootstrap identity, once the current certificate
	 * has expired) or "proof" (an attestation proof, the proof_* fields), and
	 * that identity's files */
	const gchar *identity;
	const gchar *auth_cert_file;
	const gchar *auth_key_file;
	/* where the key the CSR was made with can be read (PEM), for protocols whose
	 * messages the requester signs or decrypts with it (SCEP); NULL if nowhere */
	const gchar *key_file;
	/* the request's proof key (base64 SPKI), for the CA to register at enrollment;
	 * NULL if it has none */
	const gchar *proof_public_key;
	/* identity "proof": the nonce the CA gave, and the proof key's signature over
	 * it and the CSR (ck-proof.h) with its algorithm */
	const gchar *proof_nonce;
	const gchar *proof_signature;
	const gchar *proof_algorithm;
	/* the renewal attempt, as in the audit log and the journal (CERTKEEPER_TRACE_ID) */
	const gchar *trace_id;
	/* the TCTI of the TPM that holds TPM keys (TSS2 key files), for helpers that
	 * sign with them (CERTKEEPER_TPM_TCTI); NULL: the helper's default */
	const gchar *tpm_tcti;
} CkCaSubmission;

#define CK_TYPE_CA ck_ca_get_type()
G_DECLARE_DERIVABLE_TYPE(CkCa, ck_ca, CK, CA, GObject)

/*
 * A CA back end. Two kinds exist: in process ("local", the built-in CA) and
 * helper processes speaking certmonger's protocol ("helper"). Protocol outcomes
 * (rejected, unreachable, ...) come back in the CkCaResult; a GError means the
 * back end itself failed and is treated as UNREACHABLE by the lifecycle.
 */
struct _CkCaClass {
	GObjectClass parent_class;
	void (*submit_async)(CkCa *self, const CkCaSubmission *submission,
			     GCancellable *cancellable, GAsyncReadyCallback callback,
			     gpointer user_data);
	CkCaResult *(*submit_finish)(CkCa *self, GAsyncResult *res, GError **error);
	/* PEM bundle of the CA's trust anchors (roots), NULL with @error if unknown. */
	gchar *(*get_root_certificates)(CkCa *self, GError **error);
	/* Optional: asks the CA again for what it publishes about itself (its roots);
	 * the default does nothing and succeeds. */
	void (*refresh_async)(CkCa *self, GCancellable *cancellable, GAsyncReadyCallback callback,
			      gpointer user_data);
	gboolean (*refresh_finish)(CkCa *self, GAsyncResult *res, GError **error);
	/* Optional: the CA's suggested renewal window for @certificate (PEM); a CA
	 * without it leaves both NULL. */
	void (*renewal_window_async)(CkCa *self, const gchar *request_id,
				     const gchar *certificate, GCancellable *cancellable,
				     GAsyncReadyCallback callback, gpointer user_data);
	CkCaWindow *(*renewal_window_finish)(CkCa *self, GAsyncResult *res, GError **error);
	/* Optional: revokes @certificate (PEM) with the RFC 5280 @reason code (-1: none
	 * given); the default fails with CK_ERROR_UNSUPPORTED. */
	void (*revoke_async)(CkCa *self, const gchar *request_id, const gchar *certificate,
			     gint reason, GCancellable *cancellable, GAsyncReadyCallback callback,
			     gpointer user_data);
	gboolean (*revoke_finish)(CkCa *self, GAsyncResult *res, GError **error);
	/* Optional: a single-use nonce for an attestation proof for @submission (whose
	 * proof fields are unset); the default answers UNSUPPORTED. */
	void (*proof_nonce_async)(CkCa *self, const CkCaSubmission *submission,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data);
	CkCaResult *(*proof_nonce_finish)(CkCa *self, GAsyncResult *res, GError **error);
};

/* The CA's name (e.g. "local"), unique per daemon. */
const gchar *
ck_ca_get_name(CkCa *self);
/* The kind: "local" or "helper". */
const gchar *
ck_ca_get_kind(CkCa *self);
void
ck_ca_submit_async(CkCa *self, const CkCaSubmission *submission, GCancellable *cancellable,
		   GAsyncReadyCallback callback, gpointer user_data);
CkCaResult *
ck_ca_submit_finish(CkCa *self, GAsyncResult *res, GError **error);
gchar *
ck_ca_get_root_certificates(CkCa *self, GError **error);
/* Why the last refresh failed, "" if it did not (the CA1.Error property). */
const gchar *
ck_ca_get_error(CkCa *self);
void
ck_ca_set_error(CkCa *self, const gchar *error);
/* The subject DNs of the CA's root certificates, NULL-terminated (g_strfreev). */
GStrv
ck_ca_get_issuer_names(CkCa *self);
/* The root certificates one PEM each, NULL-terminated (g_strfreev). */
GStrv
ck_ca_get_root_list(CkCa *self);
/*
 * What the CA says about itself: certmonger's IDENTIFY, GET-SUPPORTED-TEMPLATES,
 * GET-DEFAULT-TEMPLATE and GET-NEW/RENEW-REQUEST-REQUIREMENTS answers. Strings are
 * "" and lists empty (never NULL) where the CA has not said.
 */
const gchar *
ck_ca_get_identity(CkCa *self);
void
ck_ca_set_identity(CkCa *self, const gchar *identity);
const gchar *const *
ck_ca_get_templates(CkCa *self);
void
ck_ca_set_templates(CkCa *self, const gchar *const *templates);
const gchar *
ck_ca_get_default_template(CkCa *self);
void
ck_ca_set_default_template(CkCa *self, const gchar *name);
/* The helper variables that must not be empty in a first (@renewal FALSE) or a
 * renewing submission. */
const gchar *const *
ck_ca_get_requirements(CkCa *self, gboolean renewal);
void
ck_ca_set_requirements(CkCa *self, gboolean renewal, const gchar *const *names);
/* What the CA asks CSRs to contain; NULL when it has not said (or asks for nothing). */
const CkCaCsrAttributes *
ck_ca_get_csr_attributes(CkCa *self);
/* Takes @attributes (NULL: forget). */
void
ck_ca_set_csr_attributes(CkCa *self, CkCaCsrAttributes *attributes);
void
ck_ca_refresh_async(CkCa *self, GCancellable *cancellable, GAsyncReadyCallback callback,
		    gpointer user_data);
/* TRUE from ck_ca_refresh_async() until its ck_ca_refresh_finish() (which every
 * caller must call): what the CA says about itself may be about to change. */
gboolean
ck_ca_is_refreshing(CkCa *self);
gboolean
ck_ca_refresh_finish(CkCa *self, GAsyncResult *res, GError **error);

/*
 * Whether asking @self for a renewal window may tell anything: the back end can
 * ask (helpers can), and the CA has not answered "unsupported" since it was
 * last refreshed. A CA that said so is not asked again until ck_ca_refresh_async()
 * (start-up, Reload, CA1.Refresh(), a changed configuration).
 */
gboolean
ck_ca_offers_renewal_window(CkCa *self);
void
ck_ca_renewal_window_async(CkCa *self, const gchar *request_id, const gchar *certificate,
			   GCancellable *cancellable, GAsyncReadyCallback callback,
			   gpointer user_data);
/* NULL with @error when the back end itself failed (treat as a failed answer). */
CkCaWindow *
ck_ca_renewal_window_finish(CkCa *self, GAsyncResult *res, GError **error);

/*
 * Revokes @certificate (PEM), which the CA issued, with the RFC 5280 reason code
 * @reason (0-10 but 7; -1 when none was given). FALSE with CK_ERROR_UNSUPPORTED
 * (the CA cannot revoke), CK_ERROR_CA_REJECTED (it refused, in its words),
 * CK_ERROR_CA_UNREACHABLE or CK_ERROR_CA_UNDERCONFIGURED. A certificate that was
 * revoked before is revoked: that is success.
 */
void
ck_ca_revoke_async(CkCa *self, const gchar *request_id, const gchar *certificate, gint reason,
		   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data);
gboolean
ck_ca_revoke_finish(CkCa *self, GAsyncResult *res, GError **error);

/*
 * Asks the CA for a nonce to sign for an attestation proof (the recovery
 * ladder's last step): ISSUED with result->nonce; UNSUPPORTED when the CA takes
 * no proofs; any other outcome with its message. NULL with @error when the
 * back end itself failed.
 */
void
ck_ca_proof_nonce_async(CkCa *self, const CkCaSubmission *submission, GCancellable *cancellable,
			GAsyncReadyCallback callback, gpointer user_data);
CkCaResult *
ck_ca_proof_nonce_finish(CkCa *self, GAsyncResult *res, GError **error);

G_END_DECLS
