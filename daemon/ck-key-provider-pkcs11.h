/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-key-provider.h"

G_BEGIN_DECLS

#define CK_TYPE_KEY_PROVIDER_PKCS11 ck_key_provider_pkcs11_get_type()
G_DECLARE_FINAL_TYPE(CkKeyProviderPkcs11, ck_key_provider_pkcs11, CK, KEY_PROVIDER_PKCS11,
		     CkKeyProvider)

/*
 * The token key provider ("pkcs11"): keys are generated inside a PKCS#11 token
 * through GnuTLS and never leave it. The key location is a PKCS#11 URI (RFC
 * 7512) such as "pkcs11:token=edge;object=web?pin-source=/etc/certkeeper/edge.pin":
 * object= is the label every key of the request carries, pin-source= the file
 * holding the user PIN, module-path= the module to load instead of
 * @default_module (NULL: none, the URI must name one). Only those modules are
 * loaded, never every module p11-kit knows.
 *
 * Each generated key gets the label and, as CKA_ID, the SHA-1 key identifier
 * of its public key (what gnutls_x509_crt_get_key_id() gives for its
 * certificate), so the certificate finds its key again and two keys of one
 * request (the live one and the one a renewal made) never share an id. The
 * stored form of a key is the URI naming its object (with id=), never the key.
 */
CkKeyProvider *ck_key_provider_pkcs11_new(const gchar *default_module);

/* TRUE when @location looks like a PKCS#11 URI (starts with "pkcs11:"). */
gboolean ck_key_provider_pkcs11_is_uri(const gchar *location);

/*
 * Writes @certificate (PEM) into the token of @location, with the label of
 * @location and the id of the key it was issued for, then removes every other
 * certificate object with that label: the old certificate goes only after the
 * new one is written.
 */
gboolean ck_key_provider_pkcs11_store_certificate(CkKeyProviderPkcs11 *self, const gchar *location,
						  const gchar *certificate, GError **error);

G_END_DECLS
