/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/* The key algorithms certkeeper can ask a provider for. */
typedef enum {
	CK_KEY_TYPE_UNKNOWN,
	CK_KEY_TYPE_EC_P256, /* the default */
	CK_KEY_TYPE_RSA_2048,
	CK_KEY_TYPE_RSA_3072,
	CK_KEY_TYPE_RSA_4096,
	CK_KEY_TYPE_ED25519,
	CK_KEY_TYPE_LAST
} CkKeyType;

#define CK_KEY_TYPE_DEFAULT CK_KEY_TYPE_EC_P256

/* Canonical names: "ec-p256", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519". */
const gchar *
ck_key_type_to_string(CkKeyType type);
/* Accepts the canonical names and common aliases ("ecdsa", "rsa", "RSA:3072", ...);
 * CK_KEY_TYPE_UNKNOWN for anything else. */
CkKeyType
ck_key_type_from_string(const gchar *name);
/* The canonical names, NULL-terminated (for error messages and GetSupportedKeyTypes). */
const gchar *const *
ck_key_type_all_names(void);

/*
 * A private key as a provider hands it out: a GnuTLS handle that signs (in
 * software, in a TPM or in a token) plus the form stored at the key location
 * (PKCS#8 PEM, a TSS2 PEM blob) or NULL when the key lives in a token.
 */
typedef struct _CkKey CkKey;

CkKey *
ck_key_new(CkKeyType type, gnutls_privkey_t privkey, GBytes *stored_form);
CkKey *
ck_key_ref(CkKey *key);
void
ck_key_unref(CkKey *key);
CkKeyType
ck_key_get_key_type(CkKey *key);
gnutls_privkey_t
ck_key_get_privkey(CkKey *key);
GBytes *
ck_key_get_stored_form(CkKey *key);
/* TRUE when @crt carries this key's public key; CK_ERROR_INVALID_ARGUMENT names the mismatch. */
gboolean
ck_key_matches_certificate(CkKey *key, gnutls_x509_crt_t crt, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkKey, ck_key_unref)

#define CK_TYPE_KEY_PROVIDER ck_key_provider_get_type()
G_DECLARE_DERIVABLE_TYPE(CkKeyProvider, ck_key_provider, CK, KEY_PROVIDER, GObject)

/*
 * A place keys are made and kept: "file" (software, PKCS#8 on disk), later
 * "tpm" (ESYS) and "pkcs11". generate() may run in a worker thread, so an
 * implementation must not touch shared state without its own locking.
 */
struct _CkKeyProviderClass {
	GObjectClass parent_class;
	gboolean (*supports)(CkKeyProvider *self, CkKeyType type);
	CkKey *(*generate)(CkKeyProvider *self, CkKeyType type, GError **error);
	/* @stored is what generate() put in ck_key_get_stored_form(); @location is
	 * the configured key location (a path or a URI), for messages and tokens. */
	CkKey *(*load)(CkKeyProvider *self, GBytes *stored, const gchar *location, GError **error);
	gpointer padding[8];
};

/* The provider's name, as used in configuration and on D-Bus ("file", "tpm", ...). */
const gchar *
ck_key_provider_get_name(CkKeyProvider *self);
gboolean
ck_key_provider_supports(CkKeyProvider *self, CkKeyType type);
CkKey *
ck_key_provider_generate(CkKeyProvider *self, CkKeyType type, GError **error);
/* Runs generate() in a worker thread (RSA keys take long) and completes in the caller's context. */
void
ck_key_provider_generate_async(CkKeyProvider *self, CkKeyType type, GCancellable *cancellable,
			       GAsyncReadyCallback callback, gpointer user_data);
CkKey *
ck_key_provider_generate_finish(CkKeyProvider *self, GAsyncResult *res, GError **error);
/*
 * How many of those worker threads there are, for all providers of the process
 * (default: one per CPU). The engine sets it to its number of key generations
 * at once, so the threads are busy and there are no more than that.
 */
void
ck_key_provider_set_threads(guint threads);
CkKey *
ck_key_provider_load(CkKeyProvider *self, GBytes *stored, const gchar *location, GError **error);

G_END_DECLS
