/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * An ACME (RFC 8555) client for one helper run: directory, account (created
 * or found with the key kept in the state directory), orders with DNS and IP
 * identifiers, http-01 and dns-01 challenges, finalize, download, revoke.
 * Synchronous; errors are CK_ERROR codes the helper maps to certmonger's exit
 * statuses (CA_REJECTED, CA_UNREACHABLE, TIMED_OUT, CA_UNDERCONFIGURED, ...).
 */
typedef struct {
	const gchar *directory_url;
	const gchar *trust_file;      /* TLS anchors for the ACME server; NULL: system store */
	const gchar *state_dir;       /* account key and URL */
	const gchar *const *contacts; /* "mailto:..." (nullable) */
	const gchar *eab_kid;         /* external account binding, with eab_mac_key */
	GBytes *eab_mac_key;
	const gchar *http01_listen;     /* serve http-01 here ("ADDR:PORT") */
	const gchar *http01_webroot;    /* or write the token files below this directory */
	const gchar *dns01_hook;        /* command line publishing/removing dns-01 TXT records */
	guint challenge_timeout;        /* seconds for validation and issuance; 0: 45 */
	guint http_timeout;             /* seconds per HTTP exchange; 0: 30 */
	const gchar *const *roots_urls; /* where FETCH-ROOTS finds root certificates */
} CkAcmeConfig;

typedef struct _CkAcme CkAcme;

/* @config and everything it points to must outlive the client. */
CkAcme *ck_acme_new(const CkAcmeConfig *config, GError **error);
void ck_acme_free(CkAcme *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkAcme, ck_acme_free)

/* What an order came to: a PEM chain (leaf first), or an order still being processed. */
typedef struct {
	gchar *chain;      /* set when issued */
	gchar *order_url;  /* set when the CA is still working: the cookie for POLL */
	guint retry_after; /* seconds to wait before polling, with order_url */
} CkAcmeOutcome;

void ck_acme_outcome_clear(CkAcmeOutcome *outcome);

/*
 * Orders a certificate for @csr_pem (identifiers from its SANs, or its CN if it
 * has none); @validity (seconds, 0: the CA's default) asks for a notAfter.
 */
gboolean ck_acme_submit(CkAcme *self, const gchar *csr_pem, gint64 validity, CkAcmeOutcome *outcome,
			GError **error);
/* Continues the order at @order_url (a cookie from ck_acme_submit()). */
gboolean ck_acme_poll(CkAcme *self, const gchar *order_url, const gchar *csr_pem,
		      CkAcmeOutcome *outcome, GError **error);
/* revokeCert for @cert_pem, signed by the account key; @reason is an RFC 5280 code or -1. */
gboolean ck_acme_revoke(CkAcme *self, const gchar *cert_pem, gint reason, GError **error);
/* FETCH-ROOTS output (certmonger's format) from config->roots_urls; UNSUPPORTED without. */
gchar *ck_acme_fetch_roots(CkAcme *self, const gchar *nickname, GError **error);
/*
 * ACME Renewal Information (RFC 9773). The certificate's ARI identifier
 * (§4.1): base64url(the keyIdentifier of its authorityKeyIdentifier) "."
 * base64url(the DER content octets of its serial number, leading zero kept).
 * CK_ERROR_INVALID_ARGUMENT for a certificate that cannot be read or has no
 * keyIdentifier.
 */
gchar *ck_acme_ari_cert_id(const gchar *cert_pem, GError **error);

/* A suggested renewal window: [start, end) in Unix seconds. */
typedef struct {
	gint64 start;
	gint64 end;
	gchar *explanation_url; /* NULL when the CA gave none */
	guint retry_after;      /* seconds until the CA wants to be asked again */
} CkAcmeRenewalWindow;

void ck_acme_renewal_window_clear(CkAcmeRenewalWindow *window);
/*
 * Parses a renewalInfo answer (§4.2): suggestedWindow with RFC 3339 start and
 * end (end after start), optional explanationURL. CK_ERROR_CA_UNREACHABLE with
 * what is wrong for anything else: a CA that answers nonsense is treated like
 * one that does not answer. retry_after is left alone.
 */
gboolean ck_acme_ari_parse(const gchar *json, gsize len, CkAcmeRenewalWindow *window,
			   GError **error);
/*
 * GETs renewalInfo/CERTID for @cert_pem. CK_ERROR_UNSUPPORTED when the
 * directory has no renewalInfo; window->retry_after is the CA's Retry-After,
 * or 6 h when it sent none (§4.3).
 */
gboolean ck_acme_get_renewal_window(CkAcme *self, const gchar *cert_pem,
				    CkAcmeRenewalWindow *window, GError **error);

/* Parses a revocation reason: an RFC 5280 number or name ("keyCompromise"). -1 if invalid. */
gint ck_acme_parse_revocation_reason(const gchar *text);

G_END_DECLS
