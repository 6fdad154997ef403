/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-error.h"
#include "ck-proof.h"

/* The CSR's DER, which is what both sides hash (PEM line breaks may differ). */
static gboolean
ck_proof_csr_der(const gchar *csr_pem, gnutls_datum_t *der, GError **error)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t pem = {(unsigned char *)csr_pem, csr_pem != NULL ? strlen(csr_pem) : 0};
	int rc = gnutls_x509_crq_init(&crq);

	if (rc >= 0)
		rc = gnutls_x509_crq_import(crq, &pem, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, der);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate request cannot be read: %s"), gnutls_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

GBytes *
ck_proof_message(const gchar *nonce, const gchar *csr_pem, GError **error)
{
	gnutls_datum_t der = {NULL, 0};
	guint8 digest[32];
	GByteArray *message;

	if (nonce == NULL || nonce[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The proof carries no nonce"));
		return NULL;
	}
	if (!ck_proof_csr_der(csr_pem, &der, error))
		return NULL;
	gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, digest);
	gnutls_free(der.data);
	message = g_byte_array_new();
	g_byte_array_append(message, (const guint8 *)CK_PROOF_CONTEXT, strlen(CK_PROOF_CONTEXT));
	g_byte_array_append(message, (const guint8 *)nonce, strlen(nonce));
	g_byte_array_append(message, (const guint8 *)"\n", 1);
	g_byte_array_append(message, digest, sizeof(digest));
	return g_byte_array_free_to_bytes(message);
}

gchar *
ck_proof_public_key(CkKey *key, GError **error)
{
	gnutls_pubkey_t carried = ck_key_get_pubkey(key);
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t der = {NULL, 0};
	gchar *encoded = NULL;
	int rc = 0;

	/* GnuTLS cannot ask a key behind callbacks for its public key */
	if (carried == NULL) {
		rc = gnutls_pubkey_init(&pub);
		if (rc >= 0)
			rc = gnutls_pubkey_import_privkey(pub, ck_key_get_privkey(key), 0, 0);
	}
	if (rc >= 0)
		rc = gnutls_pubkey_export2(carried != NULL ? carried : pub, GNUTLS_X509_FMT_DER,
					   &der);
	if (rc >= 0)
		encoded = g_base64_encode(der.data, der.size);
	else
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The proof key's public key cannot be exported: %s"),
			    gnutls_strerror(rc));
	gnutls_free(der.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return encoded;
}

/*
 * The one signature algorithm a proof with a key of @pk uses; an EC key's hash
 * follows its curve (@curve): SHA-384 for P-384, SHA-512 for P-521.
 */
static gnutls_sign_algorithm_t
ck_proof_sign_algorithm(gnutls_pk_algorithm_t pk, gnutls_ecc_curve_t curve)
{
	switch (pk) {
	case GNUTLS_PK_EC:
		switch (curve) {
		case GNUTLS_ECC_CURVE_SECP256R1:
			return GNUTLS_SIGN_ECDSA_SHA256;
		case GNUTLS_ECC_CURVE_SECP384R1:
			return GNUTLS_SIGN_ECDSA_SHA384;
		case GNUTLS_ECC_CURVE_SECP521R1:
			return GNUTLS_SIGN_ECDSA_SHA512;
		default:
			return GNUTLS_SIGN_UNKNOWN;
		}
	case GNUTLS_PK_RSA:
		return GNUTLS_SIGN_RSA_SHA256;
	case GNUTLS_PK_EDDSA_ED25519:
		return GNUTLS_SIGN_EDDSA_ED25519;
	default:
		return GNUTLS_SIGN_UNKNOWN;
	}
}

/* The curve of an EC @pub, or GNUTLS_ECC_CURVE_INVALID. */
static gnutls_ecc_curve_t
ck_proof_pubkey_curve(gnutls_pubkey_t pub)
{
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;

	if (gnutls_pubkey_get_pk_algorithm(pub, NULL) != GNUTLS_PK_EC ||
	    gnutls_pubkey_export_ecc_raw2(pub, &curve, NULL, NULL, 0) < 0)
		return GNUTLS_ECC_CURVE_INVALID;
	return curve;
}

/*
 * The curve of an EC @key. A key in a token or a TPM may report no size, so the
 * curve is read from its public half; without one, the size tells.
 */
static gnutls_ecc_curve_t
ck_proof_privkey_curve(gnutls_privkey_t key)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
	unsigned int bits = 0;

	if (gnutls_privkey_get_pk_algorithm(key, &bits) != GNUTLS_PK_EC)
		return GNUTLS_ECC_CURVE_INVALID;
	if (gnutls_pubkey_init(&pub) >= 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0)
		curve = ck_proof_pubkey_curve(pub);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (curve != GNUTLS_ECC_CURVE_INVALID)
		return curve;
	switch (bits) {
	case 256:
		return GNUTLS_ECC_CURVE_SECP256R1;
	case 384:
		return GNUTLS_ECC_CURVE_SECP384R1;
	case 521:
	case 528: /* what GnuTLS reports: P-521's coordinates in whole bytes */
		return GNUTLS_ECC_CURVE_SECP521R1;
	default:
		return GNUTLS_ECC_CURVE_INVALID;
	}
}

gboolean
ck_proof_sign(CkKey *proof_key, const gchar *nonce, const gchar *csr_pem, gchar **algorithm_out,
	      gchar **signature_out, GError **error)
{
	gnutls_privkey_t key = ck_key_get_privkey(proof_key);
	g_autoptr(GBytes) message = ck_proof_message(nonce, csr_pem, error);
	gnutls_sign_algorithm_t algorithm;
	gnutls_datum_t data, signature = {NULL, 0};
	gsize size = 0;
	int rc;

	if (message == NULL)
		return FALSE;
	algorithm = ck_proof_sign_algorithm(gnutls_privkey_get_pk_algorithm(key, NULL),
					    ck_proof_privkey_curve(key));
	if (algorithm == GNUTLS_SIGN_UNKNOWN) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
				    _("The proof key is of a kind that cannot sign a proof: use "
				      "an EC P-256, P-384 or P-521, RSA or Ed25519 key"));
		return FALSE;
	}
	data.data = (unsigned char *)g_bytes_get_data(message, &size);
	data.size = (unsigned int)size;
	rc = gnutls_privkey_sign_data2(key, algorithm, 0, &data, &signature);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The proof key cannot sign the proof: %s"), gnutls_strerror(rc));
		return FALSE;
	}
	*algorithm_out = g_strdup(gnutls_sign_get_name(algorithm));
	*signature_out = g_base64_encode(signature.data, signature.size);
	gnutls_free(signature.data);
	return TRUE;
}

/* Decodes base64 strictly: g_base64_decode() skips what is no base64. */
static guchar *
ck_proof_decode(const gchar *text, gsize *len)
{
	if (text == NULL || text[0] == '\0' ||
	    strspn(text, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") !=
		strlen(text))
		return NULL;
	return g_base64_decode(text, len);
}

gboolean
ck_proof_verify(const gchar *public_key, const gchar *nonce, const gchar *csr_pem,
		const gchar *algorithm, const gchar *signature, GError **error)
{
	g_autoptr(GBytes) message = NULL;
	g_autofree guchar *spki = NULL, *sig = NULL;
	gsize spki_len = 0, sig_len = 0, size = 0;
	gnutls_sign_algorithm_t sign = GNUTLS_SIGN_UNKNOWN;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t spki_datum, sig_datum, data;
	int rc;

	spki = ck_proof_decode(public_key, &spki_len);
	if (spki == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The registered proof key is not base64"));
		return FALSE;
	}
	sig = ck_proof_decode(signature, &sig_len);
	if (sig == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The proof's signature is missing or not base64"));
		return FALSE;
	}
	if (algorithm != NULL)
		sign = gnutls_sign_get_id(algorithm);
	message = ck_proof_message(nonce, csr_pem, error);
	if (message == NULL)
		return FALSE;
	spki_datum.data = spki;
	spki_datum.size = (unsigned int)spki_len;
	rc = gnutls_pubkey_init(&pub);
	if (rc >= 0)
		rc = gnutls_pubkey_import(pub, &spki_datum, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		if (pub != NULL)
			gnutls_pubkey_deinit(pub);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The registered proof key cannot be read: %s"), gnutls_strerror(rc));
		return FALSE;
	}
	/* the algorithm must be the one the key's kind calls for: a proof may not
	 * choose a weaker one */
	if (sign == GNUTLS_SIGN_UNKNOWN ||
	    sign != ck_proof_sign_algorithm(gnutls_pubkey_get_pk_algorithm(pub, NULL),
					    ck_proof_pubkey_curve(pub))) {
		gnutls_pubkey_deinit(pub);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The proof's signature algorithm '%s' does not fit the registered "
			      "key"),
			    algorithm != NULL ? algorithm : "");
		return FALSE;
	}
	data.data = (unsigned char *)g_bytes_get_data(message, &size);
	data.size = (unsigned int)size;
	sig_datum.data = sig;
	sig_datum.size = (unsigned int)sig_len;
	rc = gnutls_pubkey_verify_data2(pub, sign, 0, &data, &sig_datum);
	gnutls_pubkey_deinit(pub);
	if (rc < 0) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_REJECTED,
				    _("The proof's signature does not verify against the key "
				      "registered at enrollment"));
		return FALSE;
	}
	return TRUE;
}

gchar *
ck_proof_new_nonce(GError **error)
{
	guint8 random[32];
	gchar *nonce;
	int rc = gnutls_rnd(GNUTLS_RND_NONCE, random, sizeof(random));

	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("No random nonce: %s"),
			    gnutls_strerror(rc));
		return NULL;
	}
	nonce = g_base64_encode(random, sizeof(random));
	/* base64url without padding: safe in headers, URLs and environments */
	g_strdelimit(nonce, "+", '-');
	g_strdelimit(nonce, "/", '_');
	nonce[strcspn(nonce, "=")] = '\0';
	return nonce;
}
