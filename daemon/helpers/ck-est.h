/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/*
 * The EST (RFC 7030) CA helper's logic: certmonger's helper protocol on one
 * side (an operation and its environment in, an exit code and stdout out),
 * /.well-known/est/ on the other. certkeeper-est.c only parses the options.
 */

/* certmonger's helper exit codes (certmonger's doc/submit.txt) */
typedef enum {
	CK_EST_EXIT_ISSUED = 0,
	CK_EST_EXIT_WAIT = 1,
	CK_EST_EXIT_REJECTED = 2,
	CK_EST_EXIT_UNREACHABLE = 3,
	CK_EST_EXIT_UNDERCONFIGURED = 4,
	CK_EST_EXIT_WAIT_WITH_DELAY = 5,
	CK_EST_EXIT_UNSUPPORTED = 6,
	CK_EST_EXIT_NEED_NEW_KEY = 17,
} CkEstExit;

/* The helper's configuration: its command-line options. */
typedef struct {
	gchar *url;           /* https://host[:port][/path]: the server, without /.well-known/est */
	gchar *label;         /* CA label (RFC 7030 §3.2.2), or NULL */
	gchar *trust_file;    /* PEM anchors for the server's TLS certificate */
	gchar *pin_sha256;    /* SHA-256 fingerprint (hex) accepted on first contact */
	gchar *state_dir;     /* where pinned anchors are kept */
	gchar *username;      /* HTTP Basic */
	gchar *password_file; /* its password, first line of the file */
	/* TLS client identity for simpleenroll when the daemon passes none */
	gchar *bootstrap_cert;
	gchar *bootstrap_key;
	gchar *challenge_file; /* the challengePassword for CSRs, first line (CSR attributes) */
	guint timeout_seconds; /* per connection and per read or write; 0: 30 */
} CkEstConfig;

void ck_est_config_clear(CkEstConfig *config);

/* What the daemon passed in the environment (strings owned by the environment). */
typedef struct {
	const gchar *operation;     /* CERTMONGER_OPERATION */
	const gchar *csr;           /* CERTMONGER_CSR (PEM) */
	const gchar *cookie;        /* CERTMONGER_CA_COOKIE */
	const gchar *certificate;   /* CERTMONGER_CERTIFICATE: the one being renewed */
	const gchar *profile;       /* CERTMONGER_CA_PROFILE: used as the EST label */
	const gchar *nickname;      /* CERTMONGER_CA_NICKNAME */
	const gchar *auth_identity; /* CERTKEEPER_AUTH_IDENTITY: none, current, expired,
				     * bootstrap or proof */
	const gchar *auth_cert;     /* CERTKEEPER_AUTH_CERTIFICATE */
	const gchar *auth_key;      /* CERTKEEPER_AUTH_KEY */
	const gchar *request_id;    /* CERTKEEPER_REQUEST_ID */
	/* the attestation proof (docs/ca-est.md): the key to register, and for
	 * identity "proof" the daemon's proof */
	const gchar *proof_public_key; /* CERTKEEPER_PROOF_PUBLIC_KEY */
	const gchar *proof_nonce;      /* CERTKEEPER_PROOF_NONCE */
	const gchar *proof_signature;  /* CERTKEEPER_PROOF_SIGNATURE */
	const gchar *proof_algorithm;  /* CERTKEEPER_PROOF_ALGORITHM */
} CkEstEnv;

/* The HTTP header fields that carry the proof (certkeeper's extension of EST). */
#define CK_EST_PROOF_NONCE_OPERATION "certkeeper-proof-nonce"
#define CK_EST_HEADER_PROOF_PUBLIC_KEY "Certkeeper-Proof-Public-Key"
#define CK_EST_HEADER_PROOF_NONCE "Certkeeper-Proof-Nonce"
#define CK_EST_HEADER_PROOF_SIGNATURE "Certkeeper-Proof-Signature"
#define CK_EST_HEADER_PROOF_ALGORITHM "Certkeeper-Proof-Algorithm"

/* Fills @env from the process environment. */
void ck_est_env_from_environment(CkEstEnv *env);

/*
 * Runs @env->operation. Returns the exit code; @out receives what goes to stdout
 * (the certificate, a cookie, or the message of a failure). Details that help a
 * human but are not part of the protocol go to stderr.
 */
CkEstExit ck_est_run(const CkEstConfig *config, const CkEstEnv *env, GString *out);

/* The pieces, exposed for the unit test. */

/* BASE/.well-known/est[/LABEL]/OPERATION; NULL and an error for a bad base or label. */
gchar *ck_est_build_url(const gchar *base, const gchar *label, const gchar *operation,
			GError **error);

/* An EST body (base64, line breaks allowed) as bytes; an error for anything else. */
GBytes *ck_est_decode_base64(GBytes *body, GError **error);

/* The certificates of a DER PKCS#7 certs-only message, in order (gnutls_x509_crt_t). */
GPtrArray *ck_est_parse_certs_only(GBytes *der, GError **error);

/* The PEM of every certificate in @certs, in order. */
gchar *ck_est_certs_to_pem(GPtrArray *certs);

/*
 * certmonger's FETCH-ROOTS answer for a /cacerts bundle: the first self-signed
 * certificate (nickname line, PEM), a blank line, the other self-signed ones, a
 * blank line, the rest (intermediates, root rollover certificates).
 */
gchar *ck_est_format_roots(GPtrArray *certs);

/* An Extension inside an extensionRequest attribute that comes with its value. */
typedef struct {
	gchar *oid;
	gboolean critical;
	GBytes *value; /* extnValue's content: the extension's DER */
} CkEstCsrExtension;

/* One AttrOrOID of a CsrAttrs (RFC 7030 §4.5.2). */
typedef struct {
	gchar *oid;            /* the OID, or the attribute's type */
	GStrv values;          /* an attribute's values that are OIDs (NULL for a bare OID) */
	guint n_other;         /* an attribute's values that are something else */
	guint64 integer;       /* the first INTEGER value (rsaEncryption's key size), 0: none */
	GPtrArray *extensions; /* extensionRequest: CkEstCsrExtension with values, or NULL */
} CkEstCsrAttr;

void ck_est_csr_attr_free(CkEstCsrAttr *attr);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkEstCsrAttr, ck_est_csr_attr_free)

/* Parses DER CsrAttrs into CkEstCsrAttr; an empty body is an empty list. */
GPtrArray *ck_est_parse_csrattrs(GBytes *der, GError **error);

/*
 * What GET-NEW/RENEW-REQUEST-REQUIREMENTS prints for @attrs: names of the
 * environment variables that must be set (see docs/ca-est.md for the mapping),
 * one per line; @notes gets a line for everything understood only by a human.
 */
gchar *ck_est_requirements(GPtrArray *attrs, GString *notes);

/*
 * The answer to certkeeper's CERTKEEPER-GET-CSR-ATTRIBUTES for @attrs
 * (docs/helper-protocol.md): "key-type NAME", "challenge-password [VALUE]" (the
 * value is @challenge, left out when NULL), "extension OID critical|noncritical
 * BASE64" and "attribute OID", one a line.
 */
gchar *ck_est_csr_attributes(GPtrArray *attrs, const gchar *challenge);

/* Retry-After (delta-seconds or an HTTP-date) as seconds from @now; FALSE if neither. */
gboolean ck_est_parse_retry_after(const gchar *value, gint64 now, guint *seconds);

/* The cookie that lets POLL repeat the request that was answered 202. */
gchar *ck_est_cookie_new(const gchar *operation, const gchar *label);
gboolean ck_est_cookie_parse(const gchar *cookie, gchar **operation, gchar **label);

/* Does @pin (hex, colons and case ignored) name the SHA-256 of @der? */
gboolean ck_est_pin_matches(const gchar *pin, GBytes *der);

/* A pin in canonical form (64 lowercase hex digits), or NULL if it is none. */
gchar *ck_est_pin_normalize(const gchar *pin);

G_END_DECLS
