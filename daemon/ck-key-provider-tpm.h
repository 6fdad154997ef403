/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-key-provider.h"

G_BEGIN_DECLS

#define CK_TYPE_KEY_PROVIDER_TPM ck_key_provider_tpm_get_type()
G_DECLARE_FINAL_TYPE(CkKeyProviderTpm, ck_key_provider_tpm, CK, KEY_PROVIDER_TPM, CkKeyProvider)

/*
 * The TPM key provider ("tpm"): ECC P-256 and RSA 2048 keys made inside the TPM
 * under the owner hierarchy's standard storage primary, stored as TCG "TSS2
 * PRIVATE KEY" PEM files (which OpenSSL's tpm2 provider reads too), and used
 * through the TPM for every signature. @tcti is the tpm2-tss TCTI string (NULL
 * for device:/dev/tpmrm0).
 *
 * The optional authorization value of a key is kept in "<key file>.auth" next
 * to it (mode 0600): a key made for a location with such a file gets that value
 * (generate_at), and a key with an authorization value (also one made elsewhere,
 * e.g. `openssl genpkey -provider tpm2 -pkeyopt user-auth:...`) is loaded with it.
 *
 * A TPM that does not answer, or is in lockout, fails with
 * CK_ERROR_DEVICE_UNAVAILABLE: nothing is lost, the caller tries again later.
 */
CkKeyProvider *
ck_key_provider_tpm_new(const gchar *tcti);

const gchar *
ck_key_provider_tpm_get_tcti(CkKeyProviderTpm *self);

/* generate() with an authorization value for the new key (NULL: none). */
CkKey *
ck_key_provider_tpm_generate_with_auth(CkKeyProviderTpm *self, CkKeyType type, GBytes *auth,
				       GError **error);

/* load() with the authorization value given rather than read from "<location>.auth". */
CkKey *
ck_key_provider_tpm_load_with_auth(CkKeyProviderTpm *self, GBytes *stored, const gchar *location,
				   GBytes *auth, GError **error);

G_END_DECLS
