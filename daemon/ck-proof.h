/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gnutls/abstract.h>

#include "ck-key-provider.h"

G_BEGIN_DECLS

/*
 * The attestation proof of the recovery ladder's last step (seed 001, FR-011):
 * once neither the certificate nor a bootstrap identity can authenticate, the
 * device signs a single-use nonce from the CA, bound to the CSR it submits,
 * with a key that never leaves its hardware and whose public key the CA
 * registered at enrollment. The signed bytes are
 *
 *   "certkeeper-proof-v1\n" || NONCE || "\n" || SHA-256(DER of the CSR)
 *
 * (NONCE as the CA sent it, ASCII), so a proof cannot be replayed with another
 * nonce or moved to another CSR. The signature algorithm is named as GnuTLS
 * does ("ECDSA-SHA256", "RSA-SHA256", "EdDSA-Ed25519"); public keys travel as
 * base64 DER SubjectPublicKeyInfo, signatures as base64.
 */

#define CK_PROOF_CONTEXT "certkeeper-proof-v1\n"
/* How long a nonce may be used after the CA made it. */
#define CK_PROOF_NONCE_LIFETIME (5 * 60)

/* The bytes a proof signs, NULL with CK_ERROR_INVALID_ARGUMENT for an unreadable CSR. */
GBytes *
ck_proof_message(const gchar *nonce, const gchar *csr_pem, GError **error);

/* @key's public key as base64 DER SubjectPublicKeyInfo (the one it carries, for
 * keys GnuTLS cannot derive it from, such as a TPM's). */
gchar *
ck_proof_public_key(CkKey *key, GError **error);

/*
 * Signs ck_proof_message() with @key; the algorithm's name and the base64
 * signature. A key behind a device (TPM, token) fails with CK_ERROR_CRYPTO
 * here; its provider's ck_key_provider_take_sign_error() says why.
 */
gboolean
ck_proof_sign(CkKey *key, const gchar *nonce, const gchar *csr_pem,
	      gchar **algorithm_out, gchar **signature_out, GError **error);

/*
 * Verifies a proof against @public_key (base64 SPKI). FALSE with
 * CK_ERROR_INVALID_ARGUMENT naming what is malformed, or CK_ERROR_CA_REJECTED
 * when the signature does not verify.
 */
gboolean
ck_proof_verify(const gchar *public_key, const gchar *nonce, const gchar *csr_pem,
		const gchar *algorithm, const gchar *signature, GError **error);

/* A fresh nonce: 32 random bytes, base64url without padding. */
gchar *
ck_proof_new_nonce(GError **error);

G_END_DECLS
