/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <tss2/tss2_tpm2_types.h>

#include "ck-tss2-key.h"

G_BEGIN_DECLS

/* The kernel's resource manager: what a host with a TPM 2.0 offers. */
#define CK_TPM_DEFAULT_TCTI "device:/dev/tpmrm0"
/* The environment variable that tells CA helpers which TPM holds their keys. */
#define CK_TPM_TCTI_ENV "CERTKEEPER_TPM_TCTI"
/* The largest authorization value a TPM takes (sizeof(TPMU_HA)). */
#define CK_TPM_MAX_AUTH 64

/*
 * One connection to a TPM through tpm2-tss ESYS. Opening one takes a
 * process-wide lock that closing releases: the TPM has a handful of object
 * slots (swtpm three, without a resource manager), so only one operation runs
 * at a time, and every operation flushes what it loaded before it returns.
 *
 * Errors (CK_ERROR domain, each naming the operation and the decoded TPM code):
 *   INVALID_ARGUMENT    the TCTI string names no TCTI, or a key is not this TPM's
 *   DEVICE_UNAVAILABLE  no TPM answers, or it is in dictionary-attack lockout
 *                       (both pass by themselves: try again later)
 *   ACCESS_DENIED       the key's authorization value is wrong
 *   CRYPTO              anything else the TPM refused
 */
typedef struct _CkTpm CkTpm;

/* @tcti is a tpm2-tss TCTI string ("device:/dev/tpmrm0", "swtpm:path=/run/tpm.sock");
 * NULL for CK_TPM_DEFAULT_TCTI. */
CkTpm *
ck_tpm_open(const gchar *tcti, GError **error);
void
ck_tpm_close(CkTpm *tpm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkTpm, ck_tpm_close)

/* Makes a signing key (GNUTLS_PK_ECDSA with 256 bits: P-256; GNUTLS_PK_RSA with 2048)
 * under the storage primary of the owner hierarchy. @auth (may be NULL: no
 * authorization value, and no dictionary-attack protection) is the key's own
 * authorization value. */
CkTss2Key *
ck_tpm_create_key(CkTpm *tpm, gnutls_pk_algorithm_t algorithm, guint bits, GBytes *auth,
		  GError **error);

/* Signs @digest (made with @hash) inside the TPM: ECDSA keys return the DER
 * (r, s) sequence, RSA keys the PKCS#1 v1.5 (or, with @pss, PSS) signature. */
GBytes *
ck_tpm_sign(CkTpm *tpm, const CkTss2Key *key, GBytes *auth, gnutls_digest_algorithm_t hash,
	    gboolean pss, const guint8 *digest, gsize digest_len, GError **error);

/* A GnuTLS private key whose signatures the TPM at @tcti makes (one connection per
 * signature, so a TPM that went away and came back is used again). The key's
 * public key comes from ck_tss2_key_get_pubkey(): GnuTLS cannot derive it. */
gnutls_privkey_t
ck_tpm_privkey_new(const gchar *tcti, const CkTss2Key *key, GBytes *auth, GError **error);

/* Why the last signature of a ck_tpm_privkey_new() key in this thread failed
 * (GnuTLS passes only an error number on), or NULL; the caller owns it. */
GError *
ck_tpm_take_sign_error(void);

/* Reads an authorization value from @path: the file's bytes without one trailing
 * newline, at most CK_TPM_MAX_AUTH of them. The file must be a regular file (not
 * a symbolic link) that only its owner can read. Without @must_exist, a missing
 * file is NULL without an error. */
GBytes *
ck_tpm_read_auth_file(const gchar *path, gboolean must_exist, GError **error);

/* Where a key file's authorization value is kept: "<key path>.auth". */
gchar *
ck_tpm_auth_path_for(const gchar *key_path);

/* Reads the TSS2 key file @path (and its authorization value file, when the key
 * has one) and returns its GnuTLS private key and public key, for TLS client
 * authentication. */
gboolean
ck_tpm_load_key_file(const gchar *tcti, const gchar *path, gnutls_privkey_t *privkey,
		     gnutls_pubkey_t *pubkey, GError **error);

G_END_DECLS
