/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <tss2/tss2_tpm2_types.h>

G_BEGIN_DECLS

#define CK_TSS2_KEY_OID		"2.23.133.10.1.3"
#define CK_TSS2_KEY_PEM_LABEL	"TSS2 PRIVATE KEY"
/* The parent the TCG key-file format means by "the storage primary of the owner
 * hierarchy, made from the standard template" */
#define CK_TSS2_KEY_PARENT_OWNER 0x40000001u

/*
 * A TPM-wrapped key as the TCG TSS 2.0 key-file format keeps it: the public
 * area and the private blob (only the TPM that made it can open it), the
 * parent it was made under, and whether the key has an authorization value.
 * The same file works with OpenSSL's tpm2 provider.
 */
typedef struct {
	gboolean empty_auth;
	guint32 parent;
	TPM2B_PUBLIC public_area;
	TPM2B_PRIVATE private_blob;
} CkTss2Key;

/* TRUE when @data is a PEM "TSS2 PRIVATE KEY" (whether or not it parses). */
gboolean
ck_tss2_key_is_pem(const void *data, gsize len);

/* Parses a PEM "TSS2 PRIVATE KEY"; CK_ERROR_INVALID_ARGUMENT names what is wrong,
 * CK_ERROR_UNSUPPORTED for keys that need a policy or an imported secret. @location
 * (a path, or NULL) is for the messages. */
CkTss2Key *
ck_tss2_key_parse(const void *data, gsize len, const gchar *location, GError **error);

/* The PEM form (NUL-terminated). */
gchar *
ck_tss2_key_to_pem(const CkTss2Key *key, GError **error);

/* The key's public key, from the public area (no TPM needed). */
gnutls_pubkey_t
ck_tss2_key_get_pubkey(const CkTss2Key *key, GError **error);

/* GNUTLS_PK_ECDSA or GNUTLS_PK_RSA, with the size in bits; GNUTLS_PK_UNKNOWN otherwise. */
gnutls_pk_algorithm_t
ck_tss2_key_get_algorithm(const CkTss2Key *key, guint *bits);

CkTss2Key *
ck_tss2_key_copy(const CkTss2Key *key);

void
ck_tss2_key_free(CkTss2Key *key);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkTss2Key, ck_tss2_key_free)

G_END_DECLS
