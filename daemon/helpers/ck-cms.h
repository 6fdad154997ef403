/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <gnutls/abstract.h>
#include <gnutls/x509.h>

G_BEGIN_DECLS

/*
 * The CMS pieces GnuTLS lacks (RFC 5652 EnvelopedData with key transport),
 * built on libtasn1 and GnuTLS's ciphers, for SCEP (RFC 8894): its requests
 * travel encrypted to the CA, its answers encrypted to the requester.
 *
 * Only what SCEP uses is supported: one KeyTransRecipientInfo per envelope
 * when building (RSA, PKCS#1 v1.5 key transport), any number when opening
 * (the one for our certificate is used; the others, and recipient kinds other
 * than key transport, are skipped), content encrypted with AES-CBC or DES3-CBC.
 * Errors are CK_ERROR_CRYPTO, or CK_ERROR_UNSUPPORTED for a well-formed
 * envelope that uses an algorithm this code does not know; messages say which.
 */

/* The content ciphers an envelope can be built with, best first. */
typedef enum {
	CK_CMS_CIPHER_AES_256_CBC,
	CK_CMS_CIPHER_AES_128_CBC,
	CK_CMS_CIPHER_DES3_CBC, /* only for CAs that offer nothing better */
} CkCmsCipher;

/* The cipher's short name as users know it ("AES-256-CBC"). */
const gchar *ck_cms_cipher_to_string(CkCmsCipher cipher);

/*
 * Encrypts @content to @recipient (an RSA certificate) under a fresh key of
 * @cipher: the DER of a ContentInfo holding an EnvelopedData whose content
 * type is id-data, the recipient named by issuer and serial number.
 */
GBytes *ck_cms_envelope(GBytes *content, gnutls_x509_crt_t recipient, CkCmsCipher cipher,
			GError **error);

/*
 * Opens a ContentInfo holding an EnvelopedData (DER, definite or BER
 * indefinite lengths) with @key: the recipient entry that names @cert (by
 * issuer and serial number or by subject key identifier) is tried first; with
 * @cert NULL, or when no entry names it, every key transport entry is tried.
 * Gives the decrypted content.
 */
GBytes *ck_cms_open(GBytes *der, gnutls_x509_crt_t cert, gnutls_privkey_t key, GError **error);

/*
 * Verifies a ContentInfo holding a SignedData (DER) whose first signer is
 * @signer, and gives its encapsulated content (empty when it has none).
 * Unlike gnutls_pkcs7_verify_direct() this accepts an empty content signed
 * through signed attributes, as SCEP's FAILURE and PENDING answers are: the
 * messageDigest attribute must be the hash of the content and the signature
 * must cover the signed attributes. @flags: gnutls_certificate_verify_flags.
 */
GBytes *ck_cms_verify(GBytes *der, gnutls_x509_crt_t signer, unsigned int flags, GError **error);

/*
 * RFC 8894's IssuerAndSubject (what a CertPoll asks about), DER: @issuer and
 * @subject are DER-encoded Names (gnutls_x509_crt_get_raw_issuer_dn() and
 * friends). It lives here because it shares this module's ASN.1 definitions.
 */
GBytes *ck_cms_encode_issuer_and_subject(const gnutls_datum_t *issuer,
					 const gnutls_datum_t *subject, GError **error);

G_END_DECLS
