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
	/* appended, so the values above keep their meaning */
	CK_KEY_TYPE_EC_P384,
	CK_KEY_TYPE_EC_P521,
	CK_KEY_TYPE_LAST
} CkKeyType;

#define CK_KEY_TYPE_DEFAULT CK_KEY_TYPE_EC_P256

/* Canonical names: "ec-p256", "ec-p384", "ec-p521", "rsa-2048", "rsa-3072", "rsa-4096",
 * "ed25519". */
const gchar *
ck_key_type_to_string(CkKeyType type);
/* Accepts the canonical names and common aliases ("ecdsa", "rsa", "RSA:3072", ...);
 * CK_KEY_TYPE_UNKNOWN for anything else. */
CkKeyType
ck_key_type_from_string(const gchar *name);
/* The canonical names, NULL-terminated (for error messages and GetSupportedKeyTypes). */
const gchar *const *
ck_key_type_all_names(void);
/* An EC type (any curve)? */
gboolean
ck_key_type_is_ec(CkKeyType type);
/* The EC type on @curve, or CK_KEY_TYPE_UNKNOWN for a curve certkeeper does not make. */
CkKeyType
ck_key_type_for_curve(gnutls_ecc_curve_t curve);
/* The curve of an EC @type, or GNUTLS_ECC_CURVE_INVALID for any other type. */
gnutls_ecc_curve_t
ck_key_type_get_curve(CkKeyType type);

/*
 * A private key as a provider hands it out: a GnuTLS handle that signs (in
 * software, in a TPM or in a token) plus its stored form: what is written at
 * the key location (PKCS#8 PEM, a TSS2 PEM blob), or for a key in a token the
 * PKCS#11 URI of its object, which the installer never writes anywhere.
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
/* Keys GnuTLS cannot derive the public key of (a TPM's, behind callbacks) carry it
 * along: ck_key_set_pubkey() takes @pubkey. ck_key_get_pubkey() returns it, or
 * NULL when the private key knows its public key itself. */
void
ck_key_set_pubkey(CkKey *key, gnutls_pubkey_t pubkey);
gnutls_pubkey_t
ck_key_get_pubkey(CkKey *key);
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
	/*
	 * The members below are for providers whose keys live in a token, not in a
	 * file at the key location; a provider that leaves them NULL keeps files.
	 *
	 * check_location: is @location one the provider can keep keys at? (A token
	 * provider takes a URI, and the installer never writes a file there.)
	 */
	gboolean (*check_location)(CkKeyProvider *self, const gchar *location, GError **error);
	/* generate_at: generate() for a key kept at @location (a new object there). */
	CkKey *(*generate_at)(CkKeyProvider *self, CkKeyType type, const gchar *location,
			      GError **error);
	/* load_for_certificate: the key at @location that @crt was issued for. */
	CkKey *(*load_for_certificate)(CkKeyProvider *self, const gchar *location,
				       gnutls_x509_crt_t crt, GError **error);
	/* prune: removes every key at @location but @keep (NULL: all of them). */
	gboolean (*prune)(CkKeyProvider *self, const gchar *location, CkKey *keep,
			  GError **error);
	/* Optional: why the last signature with one of this provider's keys failed in
	 * this thread (GnuTLS reports only an error number), or NULL. */
	GError *(*take_sign_error)(CkKeyProvider *self);
	gpointer padding[3];
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
/* See take_sign_error above; NULL for providers whose signatures cannot fail that way.
 * CK_ERROR_DEVICE_UNAVAILABLE says: try again later. */
GError *
ck_key_provider_take_sign_error(CkKeyProvider *self);

/* TRUE when the provider's keys are files the installer writes at the key location. */
gboolean
ck_key_provider_keeps_files(CkKeyProvider *self);
/* For a token provider: checks @location; TRUE for a file provider (the installer checks). */
gboolean
ck_key_provider_check_location(CkKeyProvider *self, const gchar *location, GError **error);
/* generate(), or for a provider whose keys have a place of their own (a token) a new
 * key at @location; a file provider ignores @location. */
CkKey *
ck_key_provider_generate_at(CkKeyProvider *self, CkKeyType type, const gchar *location,
			    GError **error);
/* Like ck_key_provider_generate_async(), for a key kept at @location (a token provider
 * makes a new object there; a file provider ignores @location). */
void
ck_key_provider_generate_at_async(CkKeyProvider *self, CkKeyType type, const gchar *location,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data);
/* A token provider: the key at @location @crt belongs to. CK_ERROR_UNSUPPORTED otherwise. */
CkKey *
ck_key_provider_load_for_certificate(CkKeyProvider *self, const gchar *location,
				     gnutls_x509_crt_t crt, GError **error);
/* A token provider: removes the keys at @location but @keep; TRUE (nothing to do) otherwise. */
gboolean
ck_key_provider_prune(CkKeyProvider *self, const gchar *location, CkKey *keep, GError **error);

G_END_DECLS
