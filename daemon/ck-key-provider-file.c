/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-error.h"
#include "ck-key-provider-file.h"

struct _CkKeyProviderFile {
	CkKeyProvider parent_instance;
};

G_DEFINE_TYPE(CkKeyProviderFile, ck_key_provider_file, CK_TYPE_KEY_PROVIDER)

static gboolean
ck_key_provider_file_supports(CkKeyProvider *self, CkKeyType type)
{
	return type > CK_KEY_TYPE_UNKNOWN && type < CK_KEY_TYPE_LAST;
}

static void
ck_key_provider_file_set_gnutls_error(GError **error, const gchar *what, int rc)
{
	/* TRANSLATORS: what failed, then GnuTLS's reason */
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("%s: %s"), what, gnutls_strerror(rc));
}

/* Wraps @x509 (consumed) into a CkKey whose stored form is unencrypted PKCS#8 PEM. */
static CkKey *
ck_key_provider_file_wrap(CkKeyType type, gnutls_x509_privkey_t x509, GError **error)
{
	gnutls_datum_t pem = {NULL, 0};
	gnutls_privkey_t privkey = NULL;
	g_autoptr(GBytes) stored = NULL;
	int rc;

	rc = gnutls_x509_privkey_export2_pkcs8(x509, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
					       &pem);
	if (rc != GNUTLS_E_SUCCESS) {
		gnutls_x509_privkey_deinit(x509);
		ck_key_provider_file_set_gnutls_error(error, _("Cannot encode the key"), rc);
		return NULL;
	}
	stored = g_bytes_new(pem.data, pem.size);
	gnutls_memset(pem.data, 0, pem.size);
	gnutls_free(pem.data);
	rc = gnutls_privkey_init(&privkey);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_privkey_import_x509(privkey, x509, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	if (rc != GNUTLS_E_SUCCESS) {
		if (privkey != NULL)
			gnutls_privkey_deinit(privkey);
		gnutls_x509_privkey_deinit(x509);
		ck_key_provider_file_set_gnutls_error(error, _("Cannot use the key"), rc);
		return NULL;
	}
	return ck_key_new(type, privkey, stored);
}

static CkKey *
ck_key_provider_file_generate(CkKeyProvider *self, CkKeyType type, GError **error)
{
	gnutls_x509_privkey_t x509 = NULL;
	gnutls_pk_algorithm_t algo;
	unsigned int bits;
	int rc;

	switch (type) {
	case CK_KEY_TYPE_EC_P256:
	case CK_KEY_TYPE_EC_P384:
	case CK_KEY_TYPE_EC_P521:
		algo = GNUTLS_PK_ECDSA;
		bits = GNUTLS_CURVE_TO_BITS(ck_key_type_get_curve(type));
		break;
	case CK_KEY_TYPE_RSA_2048:
		algo = GNUTLS_PK_RSA;
		bits = 2048;
		break;
	case CK_KEY_TYPE_RSA_3072:
		algo = GNUTLS_PK_RSA;
		bits = 3072;
		break;
	case CK_KEY_TYPE_RSA_4096:
		algo = GNUTLS_PK_RSA;
		bits = 4096;
		break;
	case CK_KEY_TYPE_ED25519:
		algo = GNUTLS_PK_EDDSA_ED25519;
		bits = GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_ED25519);
		break;
	default:
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED, _("Unsupported key type %s"),
			    ck_key_type_to_string(type));
		return NULL;
	}
	rc = gnutls_x509_privkey_init(&x509);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_privkey_generate2(x509, algo, bits, 0, NULL, 0);
	if (rc != GNUTLS_E_SUCCESS) {
		if (x509 != NULL)
			gnutls_x509_privkey_deinit(x509);
		ck_key_provider_file_set_gnutls_error(error, _("Cannot generate a key"), rc);
		return NULL;
	}
	return ck_key_provider_file_wrap(type, x509, error);
}

/* Which CkKeyType a parsed key is, or UNKNOWN with @error naming what it is. */
static CkKeyType
ck_key_provider_file_detect(gnutls_x509_privkey_t x509, const gchar *location, GError **error)
{
	unsigned int bits = 0;
	int algo = gnutls_x509_privkey_get_pk_algorithm2(x509, &bits);

	if (algo == GNUTLS_PK_RSA) {
		switch (bits) {
		case 2048:
			return CK_KEY_TYPE_RSA_2048;
		case 3072:
			return CK_KEY_TYPE_RSA_3072;
		case 4096:
			return CK_KEY_TYPE_RSA_4096;
		default:
			break;
		}
	} else if (algo == GNUTLS_PK_ECDSA) {
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		if (gnutls_x509_privkey_export_ecc_raw(x509, &curve, NULL, NULL, NULL) ==
			GNUTLS_E_SUCCESS &&
		    ck_key_type_for_curve(curve) != CK_KEY_TYPE_UNKNOWN)
			return ck_key_type_for_curve(curve);
	} else if (algo == GNUTLS_PK_EDDSA_ED25519) {
		return CK_KEY_TYPE_ED25519;
	}
	g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
		    /* TRANSLATORS: key location, algorithm name, size in bits */
		    _("The key in %s is %s with %u bits, which certkeeper does not support"),
		    location != NULL ? location : "memory",
		    gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)algo), bits);
	return CK_KEY_TYPE_UNKNOWN;
}

static CkKey *
ck_key_provider_file_load(CkKeyProvider *self, GBytes *stored, const gchar *location,
			  GError **error)
{
	gnutls_x509_privkey_t x509 = NULL;
	gsize size = 0;
	gnutls_datum_t datum;
	CkKeyType type;
	int rc;

	datum.data = (unsigned char *)g_bytes_get_data(stored, &size);
	datum.size = (unsigned int)size;
	rc = gnutls_x509_privkey_init(&x509);
	/* PKCS#8 first, then the traditional RSA/EC PEM forms */
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_privkey_import_pkcs8(x509, &datum, GNUTLS_X509_FMT_PEM, NULL,
						      GNUTLS_PKCS_PLAIN);
	if (rc != GNUTLS_E_SUCCESS && x509 != NULL)
		rc = gnutls_x509_privkey_import(x509, &datum, GNUTLS_X509_FMT_PEM);
	if (rc != GNUTLS_E_SUCCESS) {
		g_autofree gchar *what =
		    /* TRANSLATORS: the placeholder is the key's location */
		    g_strdup_printf(_("Cannot read the private key in %s"),
				    location != NULL ? location : "memory");
		if (x509 != NULL)
			gnutls_x509_privkey_deinit(x509);
		ck_key_provider_file_set_gnutls_error(error, what, rc);
		return NULL;
	}
	type = ck_key_provider_file_detect(x509, location, error);
	if (type == CK_KEY_TYPE_UNKNOWN) {
		gnutls_x509_privkey_deinit(x509);
		return NULL;
	}
	return ck_key_provider_file_wrap(type, x509, error);
}

static void
ck_key_provider_file_init(CkKeyProviderFile *self)
{
}

static void
ck_key_provider_file_class_init(CkKeyProviderFileClass *klass)
{
	CkKeyProviderClass *provider_class = CK_KEY_PROVIDER_CLASS(klass);
	provider_class->supports = ck_key_provider_file_supports;
	provider_class->generate = ck_key_provider_file_generate;
	provider_class->load = ck_key_provider_file_load;
}

CkKeyProvider *
ck_key_provider_file_new(void)
{
	return g_object_new(CK_TYPE_KEY_PROVIDER_FILE, "name", "file", NULL);
}
