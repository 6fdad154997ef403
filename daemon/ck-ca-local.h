/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-ca.h"

G_BEGIN_DECLS

#define CK_TYPE_CA_LOCAL ck_ca_local_get_type()
G_DECLARE_FINAL_TYPE(CkCaLocal, ck_ca_local, CK, CA_LOCAL, CkCa)

/*
 * The built-in CA, in process. It lives in @directory (created 0700 on first
 * use): root.pem + root.key (self-signed root), ca.pem + ca.key (issuing
 * intermediate, ECDSA P-256), serials (every serial it issued), revoked (the
 * serials it revoked: "SERIAL TIME REASON" a line, REASON -1 when none was
 * given, appended and fsynced; no CRL
 * or OCSP is published from it yet). Keys are 0600.
 * @default_validity_days applies when a submission asks for none (0: 365).
 */
CkCa *
ck_ca_local_new(const gchar *name, const gchar *directory, guint default_validity_days);

/* Creates the root and intermediate if they do not exist yet, or loads them. Idempotent. */
gboolean
ck_ca_local_ensure(CkCaLocal *self, GError **error);

/*
 * Signs @csr_pem synchronously: the leaf carries the CSR's subject and its SAN,
 * key usage and extended key usage extensions, basicConstraints CA:FALSE, a fresh
 * random serial that was never issued before (persisted before returning), and a
 * lifetime of @validity seconds (0: the default), cut to the intermediate's notAfter.
 * Returns the leaf PEM; @chain_out gets the intermediate PEM.
 */
gchar *
ck_ca_local_sign(CkCaLocal *self, const gchar *csr_pem, gint64 validity, gchar **chain_out,
		 GError **error);

/*
 * Records the certificate @cert_pem (PEM) as revoked with RFC 5280 @reason (-1:
 * none given), durably, before returning. CK_ERROR_CA_REJECTED for a
 * certificate this CA did not issue; revoking twice succeeds.
 */
gboolean
ck_ca_local_revoke(CkCaLocal *self, const gchar *cert_pem, gint reason, GError **error);
/* Whether the serial (lowercase hex, as the serials file has it) is revoked. */
gboolean
ck_ca_local_is_revoked(CkCaLocal *self, const gchar *serial_hex);

/* Records @public_key (base64 SPKI) as @subject's proof key, durably. */
gboolean
ck_ca_local_register_proof_key(CkCaLocal *self, const gchar *subject, const gchar *public_key,
			       GError **error);
/* The proof key registered for @subject, NULL if none. */
gchar *
ck_ca_local_get_proof_key(CkCaLocal *self, const gchar *subject);
/* A fresh nonce, usable once within CK_PROOF_NONCE_LIFETIME seconds (in memory only). */
gchar *
ck_ca_local_new_proof_nonce(CkCaLocal *self, GError **error);
/*
 * Checks a proof for @csr_pem: @nonce is one this CA made, unused and not
 * expired (it is used up now, whatever the outcome), and @signature verifies
 * against the key registered for the CSR's subject. FALSE with
 * CK_ERROR_CA_REJECTED (a bad, replayed or stale proof) or
 * CK_ERROR_CA_UNDERCONFIGURED (no key is registered for the subject).
 */
gboolean
ck_ca_local_check_proof(CkCaLocal *self, const gchar *csr_pem, const gchar *nonce,
			const gchar *algorithm, const gchar *signature, GError **error);

/* PEM of the root and of the issuing intermediate (after ck_ca_local_ensure()). */
const gchar *
ck_ca_local_get_root_pem(CkCaLocal *self);
const gchar *
ck_ca_local_get_intermediate_pem(CkCaLocal *self);

G_END_DECLS
