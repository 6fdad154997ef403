/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/*
 * A SCEP (RFC 8894) client: GetCACaps, GetCACert (with the CA pinned by
 * fingerprint or a trust file, and the RA certificates told apart), PKCSReq,
 * RenewalReq and CertPoll, each a CMS SignedData around an EnvelopedData
 * (ck-cms), and the CertRep that answers them. Synchronous: it runs in a
 * short-lived helper process (certkeeper-scep).
 *
 * Errors use CK_ERROR, and their codes say what the helper should answer:
 * CA_UNREACHABLE and TIMED_OUT (try again later: no connection, an answer that
 * is not SCEP, a reply whose signature does not verify), CA_REJECTED (the CA
 * refused: its failInfo spelled out), CA_UNDERCONFIGURED and
 * INVALID_ARGUMENT (a human must change the configuration: wrong URL, a
 * fingerprint that does not match, a missing key), UNSUPPORTED (the CA or the
 * request needs what is not implemented).
 */

typedef struct {
	const gchar *url;            /* http://host:port/path; required */
	const gchar *ca_identifier;  /* GetCACert's message=, or NULL */
	const gchar *ca_fingerprint; /* SHA-256 of the CA certificate, hex (colons allowed) */
	const gchar *trust_file;     /* PEM anchors the CA certificate must chain to */
	guint timeout_seconds;       /* per connection step; 0: 30 s */
} CkScepOptions;

/* GetCACaps keywords this client acts on (RFC 8894 3.5.2). */
typedef enum {
	CK_SCEP_CAP_POST = 1 << 0,        /* POSTPKIOperation */
	CK_SCEP_CAP_SHA256 = 1 << 1,      /* SHA-256 */
	CK_SCEP_CAP_SHA1 = 1 << 2,        /* SHA-1 */
	CK_SCEP_CAP_AES = 1 << 3,         /* AES (AES-128-CBC) */
	CK_SCEP_CAP_DES3 = 1 << 4,        /* DES3 */
	CK_SCEP_CAP_RENEWAL = 1 << 5,     /* Renewal */
	CK_SCEP_CAP_STANDARD = 1 << 6,    /* SCEPStandard: AES, SHA-256 and POST */
	CK_SCEP_CAP_GET_NEXT_CA = 1 << 7, /* GetNextCACert */
} CkScepCaps;

/* Parses a GetCACaps answer (one keyword a line, case-insensitive; unknown ones ignored). */
CkScepCaps ck_scep_parse_caps(const gchar *text);

typedef struct _CkScep CkScep;

CkScep *ck_scep_new(const CkScepOptions *options);
void ck_scep_free(CkScep *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkScep, ck_scep_free)

/* GetCACaps; a server that answers it with nothing is taken to offer nothing. */
gboolean ck_scep_fetch_caps(CkScep *self, GError **error);
CkScepCaps ck_scep_get_caps(CkScep *self);

/*
 * GetCACert: the CA certificate alone, or a certs-only PKCS#7 with the CA,
 * its chain and RA certificates. With a fingerprint, one CA certificate of the
 * answer must have it; with a trust file, the CA certificate must chain to one
 * of its anchors; RA certificates must be issued by the CA. Without either the
 * answer is taken as it is (ck_scep_is_pinned() says so).
 */
gboolean ck_scep_fetch_ca(CkScep *self, GError **error);
gboolean ck_scep_is_pinned(CkScep *self);
/* The issuing CA's certificate (after ck_scep_fetch_ca()). */
gnutls_x509_crt_t ck_scep_get_ca_certificate(CkScep *self);
/* SHA-256 of @crt, colon-separated upper-case hex, for messages. */
gchar *ck_scep_fingerprint(gnutls_x509_crt_t crt);
/* certmonger's FETCH-ROOTS answer: the root, no other roots, then the other
 * certificates the CA published (intermediates, RA certificates). */
gchar *ck_scep_format_roots(CkScep *self);

typedef enum {
	CK_SCEP_STATUS_SUCCESS = 0,
	CK_SCEP_STATUS_FAILURE = 2,
	CK_SCEP_STATUS_PENDING = 3,
} CkScepStatus;

/* What a CertRep said. */
typedef struct {
	CkScepStatus status;
	gchar *transaction_id;
	/* SUCCESS: the certificate for the request's key, PEM, then the CA
	 * certificates above it from GetCACert (not the self-signed root) */
	gchar *certificates;
	/* FAILURE: failInfo spelled out, and the CA's failInfoText if it sent one */
	gchar *failure;
} CkScepReply;

void ck_scep_reply_free(CkScepReply *reply);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkScepReply, ck_scep_reply_free)

/*
 * One enrollment message. @csr is the PKCS#10 request (it must carry any
 * challenge password already; see ck_scep_add_challenge()); @key its key.
 * @signer_cert/@signer_key: an existing certificate to sign with (RenewalReq
 * when @renewal, else a PKCSReq under an existing identity); NULL: a
 * self-signed certificate for @key is made for the transaction, as RFC 8894
 * 2.3 has first enrollments do. The answer is decrypted with the signer's key.
 */
typedef struct {
	gnutls_x509_crq_t csr;
	gnutls_privkey_t key;
	gnutls_x509_crt_t signer_cert;
	gnutls_privkey_t signer_key;
	gboolean renewal;
} CkScepRequest;

/* PKCSReq or RenewalReq; then the CertRep. */
CkScepReply *ck_scep_enroll(CkScep *self, const CkScepRequest *request, GError **error);
/* CertPoll (GetCertInitial) for @transaction_id, signed as ck_scep_enroll() signed. */
CkScepReply *ck_scep_poll(CkScep *self, const CkScepRequest *request, const gchar *transaction_id,
			  GError **error);

/* RFC 8894 3.2.1.4.1: SHA-256 of the request's public key, upper-case hex. */
gchar *ck_scep_transaction_id(gnutls_x509_crq_t csr, GError **error);

/*
 * Puts @challenge into @csr as its challengePassword and signs it again with
 * @key, which must be the key the request was made with (checked).
 */
gboolean ck_scep_add_challenge(gnutls_x509_crq_t csr, gnutls_privkey_t key, const gchar *challenge,
			       GError **error);

G_END_DECLS
