/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <libtasn1.h>
#include <string.h>
#include <tss2/tss2_mu.h>

#include "ck-error.h"
#include "ck-tss2-key.h"

/* ck-tss2-key-asn1-tab.c, generated from ck-tss2-key.asn */
extern const asn1_static_node ck_tss2_key_asn1_tab[];

typedef asn1_node CkTss2Asn1Node;
static void
ck_tss2_asn1_node_free(asn1_node node)
{
	asn1_delete_structure(&node);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(CkTss2Asn1Node, ck_tss2_asn1_node_free, NULL)

/* The parsed definitions, made once per process and kept. */
static asn1_node
ck_tss2_key_definitions(GError **error)
{
	static gsize initialised = 0;
	static asn1_node definitions = NULL;
	static gchar problem[ASN1_MAX_ERROR_DESCRIPTION_SIZE];

	if (g_once_init_enter(&initialised)) {
		if (asn1_array2tree(ck_tss2_key_asn1_tab, &definitions, problem) != ASN1_SUCCESS)
			definitions = NULL;
		g_once_init_leave(&initialised, 1);
	}
	if (definitions == NULL)
		/* a build problem: the generated table is broken */
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    "The built-in TSS2 key ASN.1 definitions do not load: %s", problem);
	return definitions;
}

static asn1_node
ck_tss2_key_new_element(GError **error)
{
	asn1_node definitions = ck_tss2_key_definitions(error);
	asn1_node element = NULL;
	int rc;

	if (definitions == NULL)
		return NULL;
	rc = asn1_create_element(definitions, "CK-TSS2.TPMKey", &element);
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED, "No ASN.1 type TPMKey: %s",
			    asn1_strerror(rc));
		return NULL;
	}
	return element;
}

gboolean
ck_tss2_key_is_pem(const void *data, gsize len)
{
	static const gchar marker[] = "-----BEGIN " CK_TSS2_KEY_PEM_LABEL "-----";
	const gchar *text = data;

	if (data == NULL)
		return FALSE;
	/* the marker may follow comments or other blocks, as in any PEM file */
	for (gsize i = 0; i + sizeof(marker) - 1 <= len; i++) {
		if (text[i] == '-' && memcmp(text + i, marker, sizeof(marker) - 1) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
ck_tss2_key_invalid(GError **error, const gchar *location, const gchar *reason)
{
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    /* TRANSLATORS: the key's location, then what is wrong with it */
		    _("The TPM key in %s is not a valid TSS2 key file: %s"),
		    location != NULL ? location : "memory", reason);
	return FALSE;
}

/* An OCTET STRING field's contents; NULL if absent. */
static GBytes *
ck_tss2_key_read(asn1_node node, const gchar *field)
{
	int len = 0;
	guint8 *buffer;
	int rc = asn1_read_value(node, field, NULL, &len);

	if (rc == ASN1_SUCCESS)
		return g_bytes_new(NULL, 0);
	if (rc != ASN1_MEM_ERROR)
		return NULL;
	buffer = g_malloc(len + 1);
	if (asn1_read_value(node, field, buffer, &len) != ASN1_SUCCESS) {
		g_free(buffer);
		return NULL;
	}
	buffer[len] = '\0';
	return g_bytes_new_take(buffer, len);
}

static gboolean
ck_tss2_key_present(asn1_node node, const gchar *field)
{
	int len = 0;
	int rc = asn1_read_value(node, field, NULL, &len);
	return rc == ASN1_SUCCESS || rc == ASN1_MEM_ERROR;
}

CkTss2Key *
ck_tss2_key_parse(const void *data, gsize len, const gchar *location, GError **error)
{
	gnutls_datum_t pem = {(unsigned char *)data, (unsigned int)len};
	gnutls_datum_t der = {NULL, 0};
	g_auto(CkTss2Asn1Node) node = NULL;
	g_autoptr(CkTss2Key) key = g_new0(CkTss2Key, 1);
	g_autoptr(GBytes) oid = NULL, parent = NULL, pub = NULL, priv = NULL, empty = NULL;
	gchar problem[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	const guint8 *bytes;
	gsize size = 0, offset = 0;
	int n = 0;
	int rc;

	if (!ck_tss2_key_is_pem(data, len)) {
		ck_tss2_key_invalid(error, location,
				    _("it has no \"-----BEGIN TSS2 PRIVATE KEY-----\" block"));
		return NULL;
	}
	rc = gnutls_pem_base64_decode2(CK_TSS2_KEY_PEM_LABEL, &pem, &der);
	if (rc < 0) {
		ck_tss2_key_invalid(error, location, gnutls_strerror(rc));
		return NULL;
	}
	node = ck_tss2_key_new_element(error);
	if (node == NULL) {
		gnutls_free(der.data);
		return NULL;
	}
	rc = asn1_der_decoding(&node, der.data, (int)der.size, problem);
	gnutls_free(der.data);
	if (rc != ASN1_SUCCESS) {
		g_autofree gchar *why = g_strdup_printf("%s (%s)", asn1_strerror(rc), problem);
		ck_tss2_key_invalid(error, location, why);
		return NULL;
	}
	oid = ck_tss2_key_read(node, "type");
	if (oid == NULL || strcmp(g_bytes_get_data(oid, NULL), CK_TSS2_KEY_OID) != 0) {
		g_autofree gchar *why = g_strdup_printf(
		    /* TRANSLATORS: the OID found, then the one expected */
		    _("its type is %s, not a loadable key (%s)"),
		    oid != NULL ? (const gchar *)g_bytes_get_data(oid, NULL) : "?",
		    CK_TSS2_KEY_OID);
		ck_tss2_key_invalid(error, location, why);
		return NULL;
	}
	if ((asn1_number_of_elements(node, "policy", &n) == ASN1_SUCCESS && n > 0) ||
	    (asn1_number_of_elements(node, "authPolicy", &n) == ASN1_SUCCESS && n > 0) ||
	    ck_tss2_key_present(node, "secret")) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the key's location */
			    _("The TPM key in %s needs a policy session or an imported secret, "
			      "which certkeeper does not support; make a key without a policy"),
			    location != NULL ? location : "memory");
		return NULL;
	}
	empty = ck_tss2_key_read(node, "emptyAuth");
	key->empty_auth = empty != NULL && g_bytes_get_size(empty) > 0 &&
			  ((const gchar *)g_bytes_get_data(empty, NULL))[0] == 'T';
	parent = ck_tss2_key_read(node, "parent");
	bytes = parent != NULL ? g_bytes_get_data(parent, &size) : NULL;
	/* a handle is 32 bits; DER may put a zero byte before a set top bit */
	if (bytes == NULL || size == 0 || size > 5 || (size == 5 && bytes[0] != 0)) {
		ck_tss2_key_invalid(error, location, _("the parent handle is not a TPM handle"));
		return NULL;
	}
	for (gsize i = 0; i < size; i++)
		key->parent = (key->parent << 8) | bytes[i];
	pub = ck_tss2_key_read(node, "pubkey");
	priv = ck_tss2_key_read(node, "privkey");
	if (pub == NULL || priv == NULL) {
		ck_tss2_key_invalid(error, location, _("the public or private part is missing"));
		return NULL;
	}
	bytes = g_bytes_get_data(pub, &size);
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(bytes, size, &offset, &key->public_area) !=
		TSS2_RC_SUCCESS ||
	    offset != size) {
		ck_tss2_key_invalid(error, location, _("the public part does not decode"));
		return NULL;
	}
	offset = 0;
	bytes = g_bytes_get_data(priv, &size);
	if (Tss2_MU_TPM2B_PRIVATE_Unmarshal(bytes, size, &offset, &key->private_blob) !=
		TSS2_RC_SUCCESS ||
	    offset != size) {
		ck_tss2_key_invalid(error, location, _("the private part does not decode"));
		return NULL;
	}
	if (ck_tss2_key_get_algorithm(key, NULL) == GNUTLS_PK_UNKNOWN) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the key's location */
			    _("The TPM key in %s is neither an ECC P-256 nor an RSA signing key"),
			    location != NULL ? location : "memory");
		return NULL;
	}
	return g_steal_pointer(&key);
}

static gboolean
ck_tss2_key_write(asn1_node node, const gchar *field, const void *value, int len, GError **error)
{
	int rc = asn1_write_value(node, field, value, len);
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    "Cannot set the TSS2 key field %s: %s", field, asn1_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

gchar *
ck_tss2_key_to_pem(const CkTss2Key *key, GError **error)
{
	g_auto(CkTss2Asn1Node) node = ck_tss2_key_new_element(error);
	guint8 pub[sizeof(TPM2B_PUBLIC)], priv[sizeof(TPM2B_PRIVATE)];
	gsize pub_len = 0, priv_len = 0;
	g_autofree gchar *parent = g_strdup_printf("%u", key->parent);
	gchar problem[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	g_autofree guint8 *der = NULL;
	gnutls_datum_t raw, pem = {NULL, 0};
	int der_len = 0;
	gchar *text;
	int rc;

	if (node == NULL)
		return NULL;
	if (Tss2_MU_TPM2B_PUBLIC_Marshal(&key->public_area, pub, sizeof(pub), &pub_len) !=
		TSS2_RC_SUCCESS ||
	    Tss2_MU_TPM2B_PRIVATE_Marshal(&key->private_blob, priv, sizeof(priv), &priv_len) !=
		TSS2_RC_SUCCESS) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_FAILED,
				    _("Cannot encode the TPM key's public or private part"));
		return NULL;
	}
	/* a decimal string: libtasn1 then writes the shortest DER INTEGER */
	if (!ck_tss2_key_write(node, "type", CK_TSS2_KEY_OID, 1, error) ||
	    !ck_tss2_key_write(node, "emptyAuth", key->empty_auth ? "TRUE" : NULL,
			       key->empty_auth ? 1 : 0, error) ||
	    !ck_tss2_key_write(node, "policy", NULL, 0, error) ||
	    !ck_tss2_key_write(node, "secret", NULL, 0, error) ||
	    !ck_tss2_key_write(node, "authPolicy", NULL, 0, error) ||
	    !ck_tss2_key_write(node, "parent", parent, 0, error) ||
	    !ck_tss2_key_write(node, "pubkey", pub, (int)pub_len, error) ||
	    !ck_tss2_key_write(node, "privkey", priv, (int)priv_len, error))
		return NULL;
	rc = asn1_der_coding(node, "", NULL, &der_len, problem);
	if (rc == ASN1_MEM_ERROR) {
		der = g_malloc(der_len);
		rc = asn1_der_coding(node, "", der, &der_len, problem);
	}
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED, "Cannot encode the TSS2 key: %s (%s)",
			    asn1_strerror(rc), problem);
		return NULL;
	}
	raw.data = der;
	raw.size = (unsigned int)der_len;
	rc = gnutls_pem_base64_encode2(CK_TSS2_KEY_PEM_LABEL, &raw, &pem);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "Cannot encode the TSS2 key: %s",
			    gnutls_strerror(rc));
		return NULL;
	}
	text = g_strndup((const gchar *)pem.data, pem.size);
	gnutls_free(pem.data);
	return text;
}

gnutls_pk_algorithm_t
ck_tss2_key_get_algorithm(const CkTss2Key *key, guint *bits)
{
	const TPMT_PUBLIC *area = &key->public_area.publicArea;

	if (!(area->objectAttributes & TPMA_OBJECT_SIGN_ENCRYPT) ||
	    (area->objectAttributes & TPMA_OBJECT_RESTRICTED))
		return GNUTLS_PK_UNKNOWN;
	if (area->type == TPM2_ALG_ECC &&
	    area->parameters.eccDetail.curveID == TPM2_ECC_NIST_P256) {
		if (bits != NULL)
			*bits = 256;
		return GNUTLS_PK_ECDSA;
	}
	if (area->type == TPM2_ALG_RSA && area->parameters.rsaDetail.keyBits >= 2048) {
		if (bits != NULL)
			*bits = area->parameters.rsaDetail.keyBits;
		return GNUTLS_PK_RSA;
	}
	return GNUTLS_PK_UNKNOWN;
}

gnutls_pubkey_t
ck_tss2_key_get_pubkey(const CkTss2Key *key, GError **error)
{
	const TPMT_PUBLIC *area = &key->public_area.publicArea;
	gnutls_pubkey_t pubkey = NULL;
	int rc = gnutls_pubkey_init(&pubkey);

	if (rc >= 0 && area->type == TPM2_ALG_ECC) {
		gnutls_datum_t x = {(unsigned char *)area->unique.ecc.x.buffer,
				    area->unique.ecc.x.size};
		gnutls_datum_t y = {(unsigned char *)area->unique.ecc.y.buffer,
				    area->unique.ecc.y.size};
		rc = gnutls_pubkey_import_ecc_raw(pubkey, GNUTLS_ECC_CURVE_SECP256R1, &x, &y);
	} else if (rc >= 0 && area->type == TPM2_ALG_RSA) {
		/* 0 stands for the default exponent 65537 */
		guint32 exponent = area->parameters.rsaDetail.exponent != 0
				       ? area->parameters.rsaDetail.exponent
				       : 65537;
		guint8 e_bytes[4] = {exponent >> 24, exponent >> 16, exponent >> 8, exponent};
		gnutls_datum_t m = {(unsigned char *)area->unique.rsa.buffer,
				    area->unique.rsa.size};
		gnutls_datum_t e = {e_bytes, sizeof(e_bytes)};
		rc = gnutls_pubkey_import_rsa_raw(pubkey, &m, &e);
	} else if (rc >= 0) {
		rc = GNUTLS_E_UNKNOWN_PK_ALGORITHM;
	}
	if (rc < 0) {
		if (pubkey != NULL)
			gnutls_pubkey_deinit(pubkey);
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: GnuTLS's reason */
			    _("Cannot read the TPM key's public key: %s"), gnutls_strerror(rc));
		return NULL;
	}
	return pubkey;
}

CkTss2Key *
ck_tss2_key_copy(const CkTss2Key *key)
{
	return g_memdup2(key, sizeof(*key));
}

void
ck_tss2_key_free(CkTss2Key *key)
{
	if (key == NULL)
		return;
	explicit_bzero(key, sizeof(*key));
	g_free(key);
}
