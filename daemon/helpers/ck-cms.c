/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>
#include <libtasn1.h>
#include <string.h>

#include "ck-cms.h"
#include "ck-error.h"

/* ck-cms-asn1-tab.c, generated from ck-cms.asn */
extern const asn1_static_node ck_cms_asn1_tab[];

#define CK_OID_DATA           "1.2.840.113549.1.7.1"
#define CK_OID_ENVELOPED_DATA "1.2.840.113549.1.7.3"
#define CK_OID_SIGNED_DATA    "1.2.840.113549.1.7.2"
#define CK_OID_MESSAGE_DIGEST "1.2.840.113549.1.9.4"
#define CK_OID_RSA_ENCRYPTION "1.2.840.113549.1.1.1"
#define CK_OID_RSAES_OAEP     "1.2.840.113549.1.1.7"

/* The content ciphers we can open; the first three are also those we build with. */
typedef struct {
	const gchar *oid;
	const gchar *name;
	gnutls_cipher_algorithm_t algorithm;
} CkCmsCipherInfo;

static const CkCmsCipherInfo ck_cms_ciphers[] = {
    [CK_CMS_CIPHER_AES_256_CBC] = {"2.16.840.1.101.3.4.1.42", "AES-256-CBC",
				   GNUTLS_CIPHER_AES_256_CBC},
    [CK_CMS_CIPHER_AES_128_CBC] = {"2.16.840.1.101.3.4.1.2", "AES-128-CBC",
				   GNUTLS_CIPHER_AES_128_CBC},
    [CK_CMS_CIPHER_DES3_CBC] = {"1.2.840.113549.3.7", "DES3-CBC", GNUTLS_CIPHER_3DES_CBC},
    /* opened, never built: some CAs still answer with them */
    {"2.16.840.1.101.3.4.1.22", "AES-192-CBC", GNUTLS_CIPHER_AES_192_CBC},
    {"1.3.14.3.2.7", "DES-CBC", GNUTLS_CIPHER_DES_CBC},
};

const gchar *
ck_cms_cipher_to_string(CkCmsCipher cipher)
{
	g_return_val_if_fail(cipher <= CK_CMS_CIPHER_DES3_CBC, NULL);
	return ck_cms_ciphers[cipher].name;
}

/*
 * The parsed definitions, made once per process and kept: every envelope the
 * helper builds or opens needs them, and the process is short-lived.
 */
static asn1_node
ck_cms_definitions(GError **error)
{
	static gsize initialised = 0;
	static asn1_node definitions = NULL;
	static gchar problem[ASN1_MAX_ERROR_DESCRIPTION_SIZE];

	if (g_once_init_enter(&initialised)) {
		if (asn1_array2tree(ck_cms_asn1_tab, &definitions, problem) != ASN1_SUCCESS)
			definitions = NULL;
		g_once_init_leave(&initialised, 1);
	}
	if (definitions == NULL)
		/* a build problem, not the peer's: the generated table is broken */
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    "The built-in CMS ASN.1 definitions do not load: %s", problem);
	return definitions;
}

static asn1_node
ck_cms_new_element(const gchar *type, GError **error)
{
	asn1_node definitions = ck_cms_definitions(error);
	asn1_node element = NULL;
	g_autofree gchar *name = g_strconcat("CK-CMS.", type, NULL);
	int rc;

	if (definitions == NULL)
		return NULL;
	rc = asn1_create_element(definitions, name, &element);
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED, "No ASN.1 type %s: %s", name,
			    asn1_strerror(rc));
		return NULL;
	}
	return element;
}

typedef asn1_node CkAsn1Node;
static void
ck_asn1_node_free(asn1_node node)
{
	asn1_delete_structure(&node);
}
G_DEFINE_AUTO_CLEANUP_FREE_FUNC(CkAsn1Node, ck_asn1_node_free, NULL)

/* Writes one value; a failure here is a bug in this file, reported with the field. */
static gboolean
ck_cms_write(asn1_node node, const gchar *field, const void *value, gsize len, GError **error)
{
	int rc = asn1_write_value(node, field, value, (int)len);
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "Cannot set the CMS field %s: %s",
			    field, asn1_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

static GBytes *
ck_cms_der_encode(asn1_node node, GError **error)
{
	gchar problem[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	int len = 0;
	g_autofree guint8 *buffer = NULL;
	int rc = asn1_der_coding(node, "", NULL, &len, problem);

	if (rc == ASN1_MEM_ERROR) {
		buffer = g_malloc(len);
		rc = asn1_der_coding(node, "", buffer, &len, problem);
	}
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    "Cannot encode the CMS structure: %s (%s)", asn1_strerror(rc), problem);
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&buffer), len);
}

/* A field's value (raw bytes; OIDs and CHOICE names as NUL-terminated text), or NULL. */
static GBytes *
ck_cms_read(asn1_node node, const gchar *field)
{
	int len = 0;
	g_autofree guint8 *buffer = NULL;
	int rc = asn1_read_value(node, field, NULL, &len);

	if (rc == ASN1_SUCCESS)
		return g_bytes_new(NULL, 0);
	if (rc != ASN1_MEM_ERROR)
		return NULL;
	/* one more byte keeps text NUL-terminated even where libtasn1 does not count it */
	buffer = g_malloc0(len + 1);
	if (asn1_read_value(node, field, buffer, &len) != ASN1_SUCCESS)
		return NULL;
	return g_bytes_new_take(g_steal_pointer(&buffer), len);
}

static gchar *
ck_cms_read_text(asn1_node node, const gchar *field)
{
	g_autoptr(GBytes) value = ck_cms_read(node, field);
	if (value == NULL)
		return NULL;
	return g_strndup(g_bytes_get_data(value, NULL), g_bytes_get_size(value));
}

static GBytes *
ck_cms_wrap(const gchar *content_type, GBytes *content, GError **error)
{
	g_auto(CkAsn1Node) info = ck_cms_new_element("ContentInfo", error);

	if (info == NULL || !ck_cms_write(info, "contentType", content_type, 1, error) ||
	    !ck_cms_write(info, "content", g_bytes_get_data(content, NULL),
			  g_bytes_get_size(content), error))
		return NULL;
	return ck_cms_der_encode(info, error);
}

/* DER of an OCTET STRING holding @data: the IV parameter of the CBC ciphers. */
static GBytes *
ck_cms_octet_string(const guint8 *data, gsize len)
{
	guint8 header[ASN1_MAX_TL_SIZE];
	unsigned int header_len = sizeof(header);
	GByteArray *out = g_byte_array_new();

	asn1_encode_simple_der(ASN1_ETYPE_OCTET_STRING, data, len, header, &header_len);
	g_byte_array_append(out, header, header_len);
	g_byte_array_append(out, data, len);
	return g_byte_array_free_to_bytes(out);
}

/* RFC 5652 6.3: PKCS#7 padding, always at least one byte. */
static GByteArray *
ck_cms_pad(GBytes *content, gsize block)
{
	gsize len = g_bytes_get_size(content);
	guint8 pad = (guint8)(block - len % block);
	GByteArray *out = g_byte_array_sized_new(len + pad);

	g_byte_array_append(out, g_bytes_get_data(content, NULL), len);
	for (guint i = 0; i < pad; i++)
		g_byte_array_append(out, &pad, 1);
	return out;
}

static gboolean
ck_cms_gnutls_failed(int rc, const gchar *what, GError **error)
{
	if (rc >= 0)
		return FALSE;
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "%s: %s", what, gnutls_strerror(rc));
	return TRUE;
}

/* Fills in the recipient's entry (version 0: named by issuer and serial number). */
static gboolean
ck_cms_add_recipient(asn1_node env, gnutls_x509_crt_t recipient, const gnutls_datum_t *cek,
		     GError **error)
{
	gnutls_datum_t issuer = {NULL, 0};
	gnutls_datum_t encrypted = {NULL, 0};
	guint8 serial[64];
	size_t serial_len = sizeof(serial);
	gnutls_pubkey_t pubkey = NULL;
	gboolean ok = FALSE;
	int rc;

	if (gnutls_x509_crt_get_pk_algorithm(recipient, NULL) != GNUTLS_PK_RSA) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("The CA's encryption certificate has no RSA key; SCEP key transport "
			      "needs one"));
		return FALSE;
	}
	rc = gnutls_pubkey_init(&pubkey);
	if (rc >= 0)
		rc = gnutls_pubkey_import_x509(pubkey, recipient, 0);
	if (ck_cms_gnutls_failed(rc, _("Cannot read the recipient's public key"), error))
		goto out;
	/* RSA PKCS#1 v1.5 key transport, what every SCEP server understands */
	rc = gnutls_pubkey_encrypt_data(pubkey, 0, cek, &encrypted);
	if (ck_cms_gnutls_failed(rc, _("Cannot encrypt the content key"), error))
		goto out;
	rc = gnutls_x509_crt_get_raw_issuer_dn(recipient, &issuer);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_serial(recipient, serial, &serial_len);
	if (ck_cms_gnutls_failed(rc, _("Cannot read the recipient's issuer and serial"), error))
		goto out;
	ok =
	    ck_cms_write(env, "recipientInfos", "NEW", 1, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST", "ktri", 1, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.version", "0", 0, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.rid", "issuerAndSerialNumber", 1, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.rid.issuerAndSerialNumber.issuer",
			 issuer.data, issuer.size, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.rid.issuerAndSerialNumber.serialNumber",
			 serial, serial_len, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.keyEncryptionAlgorithm.algorithm",
			 CK_OID_RSA_ENCRYPTION, 1, error) &&
	    /* rsaEncryption's parameters are an explicit NULL */
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.keyEncryptionAlgorithm.parameters",
			 "\x05\x00", 2, error) &&
	    ck_cms_write(env, "recipientInfos.?LAST.ktri.encryptedKey", encrypted.data,
			 encrypted.size, error);
out:
	gnutls_free(issuer.data);
	gnutls_free(encrypted.data);
	gnutls_pubkey_deinit(pubkey);
	return ok;
}

GBytes *
ck_cms_envelope(GBytes *content, gnutls_x509_crt_t recipient, CkCmsCipher cipher, GError **error)
{
	const CkCmsCipherInfo *info;
	g_auto(CkAsn1Node) env = NULL;
	g_autoptr(GByteArray) padded = NULL;
	g_autoptr(GBytes) iv_param = NULL;
	g_autoptr(GBytes) env_der = NULL;
	guint8 key[32], iv[16];
	gnutls_datum_t key_datum, iv_datum;
	gnutls_cipher_hd_t handle = NULL;
	gsize key_len, block;
	int rc;

	g_return_val_if_fail(content != NULL && recipient != NULL, NULL);
	g_return_val_if_fail(cipher <= CK_CMS_CIPHER_DES3_CBC, NULL);
	info = &ck_cms_ciphers[cipher];
	key_len = gnutls_cipher_get_key_size(info->algorithm);
	block = gnutls_cipher_get_block_size(info->algorithm);
	/* a fresh content key and IV for every envelope */
	if (ck_cms_gnutls_failed(gnutls_rnd(GNUTLS_RND_KEY, key, key_len),
				 _("Cannot make a content key"), error) ||
	    ck_cms_gnutls_failed(gnutls_rnd(GNUTLS_RND_NONCE, iv, block), _("Cannot make an IV"),
				 error))
		return NULL;
	key_datum = (gnutls_datum_t){key, key_len};
	iv_datum = (gnutls_datum_t){iv, block};
	padded = ck_cms_pad(content, block);
	rc = gnutls_cipher_init(&handle, info->algorithm, &key_datum, &iv_datum);
	if (rc >= 0) {
		rc = gnutls_cipher_encrypt(handle, padded->data, padded->len);
		gnutls_cipher_deinit(handle);
	}
	if (ck_cms_gnutls_failed(rc, _("Cannot encrypt the content"), error))
		goto fail;

	env = ck_cms_new_element("EnvelopedData", error);
	iv_param = ck_cms_octet_string(iv, block);
	/* version 0: only a key transport recipient named by issuer and serial (RFC 5652 6.1) */
	if (env == NULL || !ck_cms_write(env, "version", "0", 0, error) ||
	    !ck_cms_write(env, "originatorInfo", NULL, 0, error) ||
	    !ck_cms_write(env, "unprotectedAttrs", NULL, 0, error) ||
	    !ck_cms_add_recipient(env, recipient, &key_datum, error) ||
	    !ck_cms_write(env, "encryptedContentInfo.contentType", CK_OID_DATA, 1, error) ||
	    !ck_cms_write(env, "encryptedContentInfo.contentEncryptionAlgorithm.algorithm",
			  info->oid, 1, error) ||
	    !ck_cms_write(env, "encryptedContentInfo.contentEncryptionAlgorithm.parameters",
			  g_bytes_get_data(iv_param, NULL), g_bytes_get_size(iv_param), error) ||
	    !ck_cms_write(env, "encryptedContentInfo.encryptedContent", padded->data, padded->len,
			  error))
		goto fail;
	gnutls_memset(key, 0, sizeof(key));
	env_der = ck_cms_der_encode(env, error);
	if (env_der == NULL)
		return NULL;
	return ck_cms_wrap(CK_OID_ENVELOPED_DATA, env_der, error);
fail:
	gnutls_memset(key, 0, sizeof(key));
	return NULL;
}

/* Decoding */

static asn1_node
ck_cms_decode(const gchar *type, const void *der, gsize len, const gchar *what, GError **error)
{
	gchar problem[ASN1_MAX_ERROR_DESCRIPTION_SIZE] = "";
	asn1_node node = ck_cms_new_element(type, error);
	int rc;

	if (node == NULL)
		return NULL;
	rc = asn1_der_decoding(&node, der, (int)len, problem);
	if (rc != ASN1_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: what was read, then libtasn1's reason and detail */
			    _("%s is not valid DER: %s (%s)"), what, asn1_strerror(rc), problem);
		asn1_delete_structure(&node);
		return NULL;
	}
	return node;
}

/* TRUE when the recipient entry @prefix (…ktri) names @cert. */
static gboolean
ck_cms_names_cert(asn1_node env, const gchar *prefix, gnutls_x509_crt_t cert)
{
	g_autofree gchar *rid_field = g_strconcat(prefix, ".rid", NULL);
	g_autofree gchar *rid = ck_cms_read_text(env, rid_field);

	if (rid == NULL)
		return FALSE;
	if (g_strcmp0(rid, "issuerAndSerialNumber") == 0) {
		g_autofree gchar *issuer_field =
		    g_strconcat(rid_field, ".issuerAndSerialNumber.issuer", NULL);
		g_autofree gchar *serial_field =
		    g_strconcat(rid_field, ".issuerAndSerialNumber.serialNumber", NULL);
		g_autoptr(GBytes) issuer = ck_cms_read(env, issuer_field);
		g_autoptr(GBytes) serial = ck_cms_read(env, serial_field);
		gnutls_datum_t own_issuer = {NULL, 0};
		guint8 own_serial[64];
		size_t own_serial_len = sizeof(own_serial);
		gboolean same;

		if (issuer == NULL || serial == NULL ||
		    gnutls_x509_crt_get_raw_issuer_dn(cert, &own_issuer) < 0)
			return FALSE;
		same =
		    gnutls_x509_crt_get_serial(cert, own_serial, &own_serial_len) >= 0 &&
		    g_bytes_get_size(issuer) == own_issuer.size &&
		    memcmp(g_bytes_get_data(issuer, NULL), own_issuer.data, own_issuer.size) == 0 &&
		    g_bytes_get_size(serial) == own_serial_len &&
		    memcmp(g_bytes_get_data(serial, NULL), own_serial, own_serial_len) == 0;
		gnutls_free(own_issuer.data);
		return same;
	}
	if (g_strcmp0(rid, "subjectKeyIdentifier") == 0) {
		g_autofree gchar *ski_field = g_strconcat(rid_field, ".subjectKeyIdentifier", NULL);
		g_autoptr(GBytes) ski = ck_cms_read(env, ski_field);
		guint8 own[64];
		size_t own_len = sizeof(own);

		return ski != NULL &&
		       gnutls_x509_crt_get_subject_key_id(cert, own, &own_len, NULL) >= 0 &&
		       g_bytes_get_size(ski) == own_len &&
		       memcmp(g_bytes_get_data(ski, NULL), own, own_len) == 0;
	}
	return FALSE;
}

/* Decrypts the content key of the recipient entry @prefix; NULL with @error. */
static GBytes *
ck_cms_unwrap_key(asn1_node env, const gchar *prefix, gnutls_privkey_t key, GError **error)
{
	g_autofree gchar *alg_field =
	    g_strconcat(prefix, ".keyEncryptionAlgorithm.algorithm", NULL);
	g_autofree gchar *key_field = g_strconcat(prefix, ".encryptedKey", NULL);
	g_autofree gchar *alg = ck_cms_read_text(env, alg_field);
	g_autoptr(GBytes) encrypted = ck_cms_read(env, key_field);
	gnutls_datum_t in, out = {NULL, 0};
	GBytes *cek;
	int rc;

	if (alg == NULL || encrypted == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope's recipient entry is incomplete"));
		return NULL;
	}
	if (g_strcmp0(alg, CK_OID_RSA_ENCRYPTION) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: an OID; only RSA PKCS#1 v1.5 is supported */
			    _("The envelope's key is wrapped with %s%s; only RSA PKCS#1 v1.5 "
			      "(1.2.840.113549.1.1.1) is supported"),
			    alg, g_strcmp0(alg, CK_OID_RSAES_OAEP) == 0 ? " (RSAES-OAEP)" : "");
		return NULL;
	}
	in.data = (guint8 *)g_bytes_get_data(encrypted, NULL);
	in.size = g_bytes_get_size(encrypted);
	rc = gnutls_privkey_decrypt_data(key, 0, &in, &out);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope's content key does not decrypt with our key (%s): "
			      "it was encrypted for someone else"),
			    gnutls_strerror(rc));
		return NULL;
	}
	cek = g_bytes_new(out.data, out.size);
	gnutls_memset(out.data, 0, out.size);
	gnutls_free(out.data);
	return cek;
}

/* Decrypts encryptedContentInfo with @cek and removes the padding. */
static GBytes *
ck_cms_decrypt_content(asn1_node env, GBytes *cek, GError **error)
{
	g_autofree gchar *alg =
	    ck_cms_read_text(env, "encryptedContentInfo.contentEncryptionAlgorithm.algorithm");
	g_autoptr(GBytes) params =
	    ck_cms_read(env, "encryptedContentInfo.contentEncryptionAlgorithm.parameters");
	g_autoptr(GBytes) content = ck_cms_read(env, "encryptedContentInfo.encryptedContent");
	const CkCmsCipherInfo *info = NULL;
	const guint8 *iv = NULL;
	unsigned int iv_len = 0;
	gnutls_datum_t key_datum, iv_datum;
	gnutls_cipher_hd_t handle = NULL;
	g_autofree guint8 *plain = NULL;
	gsize len, block, pad;
	int rc;

	for (guint i = 0; alg != NULL && i < G_N_ELEMENTS(ck_cms_ciphers); i++) {
		if (g_strcmp0(alg, ck_cms_ciphers[i].oid) == 0)
			info = &ck_cms_ciphers[i];
	}
	if (info == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("The envelope's content is encrypted with %s, which is not supported "
			      "(AES-CBC, DES3-CBC and DES-CBC are)"),
			    alg != NULL ? alg : "?");
		return NULL;
	}
	if (content == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope carries no encrypted content"));
		return NULL;
	}
	block = gnutls_cipher_get_block_size(info->algorithm);
	if (params == NULL ||
	    asn1_decode_simple_der(ASN1_ETYPE_OCTET_STRING, g_bytes_get_data(params, NULL),
				   g_bytes_get_size(params), &iv, &iv_len) != ASN1_SUCCESS ||
	    iv_len != block) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope's %s parameters are not a %u-byte IV"), info->name,
			    (guint)block);
		return NULL;
	}
	if (g_bytes_get_size(cek) != gnutls_cipher_get_key_size(info->algorithm)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope's content key has %u bytes; %s needs %u"),
			    (guint)g_bytes_get_size(cek), info->name,
			    (guint)gnutls_cipher_get_key_size(info->algorithm));
		return NULL;
	}
	len = g_bytes_get_size(content);
	if (len == 0 || len % block != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope's encrypted content (%u bytes) is not whole %s blocks"),
			    (guint)len, info->name);
		return NULL;
	}
	key_datum = (gnutls_datum_t){(guint8 *)g_bytes_get_data(cek, NULL), g_bytes_get_size(cek)};
	iv_datum = (gnutls_datum_t){(guint8 *)iv, iv_len};
	plain = g_memdup2(g_bytes_get_data(content, NULL), len);
	rc = gnutls_cipher_init(&handle, info->algorithm, &key_datum, &iv_datum);
	if (rc >= 0) {
		rc = gnutls_cipher_decrypt(handle, plain, len);
		gnutls_cipher_deinit(handle);
	}
	if (ck_cms_gnutls_failed(rc, _("Cannot decrypt the envelope's content"), error))
		return NULL;
	/* PKCS#7 padding: 1..block bytes, each holding the count */
	pad = plain[len - 1];
	for (gsize i = 0; pad >= 1 && pad <= block && i < pad; i++) {
		if (plain[len - 1 - i] != pad)
			pad = 0;
	}
	if (pad < 1 || pad > block) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The envelope's content does not decrypt to valid padding: wrong key "
			      "or damaged message"));
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&plain), len - pad);
}

GBytes *
ck_cms_open(GBytes *der, gnutls_x509_crt_t cert, gnutls_privkey_t key, GError **error)
{
	g_auto(CkAsn1Node) info = NULL;
	g_auto(CkAsn1Node) env = NULL;
	g_autofree gchar *type = NULL;
	g_autoptr(GBytes) inner = NULL;
	g_autoptr(GError) last_error = NULL;
	g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func(g_free);
	int count = 0;

	g_return_val_if_fail(der != NULL && key != NULL, NULL);
	info = ck_cms_decode("ContentInfo", g_bytes_get_data(der, NULL), g_bytes_get_size(der),
			     _("The CMS envelope"), error);
	if (info == NULL)
		return NULL;
	type = ck_cms_read_text(info, "contentType");
	if (g_strcmp0(type, CK_OID_ENVELOPED_DATA) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The CMS message is of type %s, not EnvelopedData (%s)"),
			    type != NULL ? type : "?", CK_OID_ENVELOPED_DATA);
		return NULL;
	}
	inner = ck_cms_read(info, "content");
	if (inner == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("The CMS envelope is empty"));
		return NULL;
	}
	env = ck_cms_decode("EnvelopedData", g_bytes_get_data(inner, NULL), g_bytes_get_size(inner),
			    _("The EnvelopedData"), error);
	if (env == NULL)
		return NULL;
	if (asn1_number_of_elements(env, "recipientInfos", &count) != ASN1_SUCCESS)
		count = 0;
	/* the entry naming our certificate first, then the other key transport ones */
	for (int i = 1; i <= count; i++) {
		g_autofree gchar *choice_field = g_strdup_printf("recipientInfos.?%d", i);
		g_autofree gchar *choice = ck_cms_read_text(env, choice_field);
		gchar *prefix;

		if (g_strcmp0(choice, "ktri") != 0)
			continue;
		prefix = g_strconcat(choice_field, ".ktri", NULL);
		if (cert != NULL && ck_cms_names_cert(env, prefix, cert))
			g_ptr_array_insert(candidates, 0, prefix);
		else
			g_ptr_array_add(candidates, prefix);
	}
	if (candidates->len == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("The envelope has no key transport recipient (%d recipients of other "
			      "kinds); only RSA key transport is supported"),
			    count);
		return NULL;
	}
	for (guint i = 0; i < candidates->len; i++) {
		g_autoptr(GBytes) cek = NULL;

		g_clear_error(&last_error);
		cek = ck_cms_unwrap_key(env, g_ptr_array_index(candidates, i), key, &last_error);
		if (cek != NULL)
			return ck_cms_decrypt_content(env, cek, error);
	}
	g_propagate_error(error, g_steal_pointer(&last_error));
	return NULL;
}

/* Signatures */

/* The messageDigest attribute's value among @signer's signed attributes, or NULL. */
static GBytes *
ck_cms_message_digest(asn1_node sd, const gchar *signer)
{
	g_autofree gchar *attrs = g_strconcat(signer, ".signedAttrs", NULL);
	int count = 0;

	if (asn1_number_of_elements(sd, attrs, &count) != ASN1_SUCCESS)
		return NULL;
	for (int i = 1; i <= count; i++) {
		g_autofree gchar *type_field = g_strdup_printf("%s.?%d.attrType", attrs, i);
		g_autofree gchar *value_field = g_strdup_printf("%s.?%d.attrValues.?1", attrs, i);
		g_autofree gchar *type = ck_cms_read_text(sd, type_field);
		g_autoptr(GBytes) value = NULL;
		const guint8 *octets = NULL;
		unsigned int len = 0;

		if (g_strcmp0(type, CK_OID_MESSAGE_DIGEST) != 0)
			continue;
		value = ck_cms_read(sd, value_field);
		if (value == NULL ||
		    asn1_decode_simple_der(ASN1_ETYPE_OCTET_STRING, g_bytes_get_data(value, NULL),
					   g_bytes_get_size(value), &octets, &len) != ASN1_SUCCESS)
			return NULL;
		return g_bytes_new(octets, len);
	}
	return NULL;
}

GBytes *
ck_cms_verify(GBytes *der, gnutls_x509_crt_t signer, unsigned int flags, GError **error)
{
	gnutls_datum_t data = {(guint8 *)g_bytes_get_data(der, NULL), g_bytes_get_size(der)};
	gnutls_pkcs7_signature_info_st info;
	gnutls_pkcs7_t p7 = NULL;
	g_auto(CkAsn1Node) ci = NULL;
	g_auto(CkAsn1Node) sd = NULL;
	g_autofree gchar *type = NULL;
	g_autoptr(GBytes) inner = NULL;
	g_autoptr(GBytes) content = NULL;
	g_autoptr(GBytes) digest = NULL;
	g_autofree guint8 *signed_attrs = NULL;
	guint8 hash[64];
	gnutls_digest_algorithm_t dig;
	gnutls_datum_t to_verify;
	int start = 0, end = 0, rc;
	gboolean have_info = FALSE;
	GBytes *result = NULL;

	memset(&info, 0, sizeof(info));
	ci = ck_cms_decode("ContentInfo", data.data, data.size, _("The CMS signed message"), error);
	if (ci == NULL)
		return NULL;
	type = ck_cms_read_text(ci, "contentType");
	inner = ck_cms_read(ci, "content");
	if (g_strcmp0(type, CK_OID_SIGNED_DATA) != 0 || inner == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The CMS message is of type %s, not SignedData (%s)"),
			    type != NULL ? type : "?", CK_OID_SIGNED_DATA);
		return NULL;
	}
	sd = ck_cms_decode("SignedData", g_bytes_get_data(inner, NULL), g_bytes_get_size(inner),
			   _("The SignedData"), error);
	if (sd == NULL)
		return NULL;
	/* absent content (a detached signature) is not what SCEP sends; empty content is */
	content = ck_cms_read(sd, "encapContentInfo.eContent");
	if (content == NULL)
		content = g_bytes_new(NULL, 0);

	/* the algorithm and signature, as GnuTLS reads them (it knows every OID form) */
	rc = gnutls_pkcs7_init(&p7);
	if (rc >= 0)
		rc = gnutls_pkcs7_import(p7, &data, GNUTLS_X509_FMT_DER);
	if (rc >= 0)
		rc = gnutls_pkcs7_get_signature_info(p7, 0, &info);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The SignedData has no readable signer: %s"), gnutls_strerror(rc));
		goto out;
	}
	have_info = TRUE;
	if (asn1_der_decoding_startEnd(sd, g_bytes_get_data(inner, NULL),
				       (int)g_bytes_get_size(inner), "signerInfos.?1.signedAttrs",
				       &start, &end) != ASN1_SUCCESS) {
		/* no signed attributes: the signature covers the content itself */
		if (g_bytes_get_size(content) == 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The SignedData signs nothing: no content and no signed "
				      "attributes"));
			goto out;
		}
		to_verify = (gnutls_datum_t){(guint8 *)g_bytes_get_data(content, NULL),
					     g_bytes_get_size(content)};
	} else {
		dig = gnutls_sign_get_hash_algorithm(info.algo);
		digest = ck_cms_message_digest(sd, "signerInfos.?1");
		if (dig == GNUTLS_DIG_UNKNOWN || digest == NULL ||
		    g_bytes_get_size(digest) != gnutls_hash_get_len(dig) ||
		    gnutls_hash_fast(dig, g_bytes_get_data(content, NULL),
				     g_bytes_get_size(content), hash) < 0 ||
		    memcmp(hash, g_bytes_get_data(digest, NULL), g_bytes_get_size(digest)) != 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The SignedData's messageDigest does not match its content"));
			goto out;
		}
		/* RFC 5652 5.4: the signature covers the attributes with a SET OF tag */
		signed_attrs = g_memdup2((const guint8 *)g_bytes_get_data(inner, NULL) + start,
					 end - start + 1);
		signed_attrs[0] = 0x31;
		to_verify = (gnutls_datum_t){signed_attrs, (unsigned int)(end - start + 1)};
	}
	rc = gnutls_x509_crt_verify_data2(signer, info.algo, flags, &to_verify, &info.sig);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The SignedData's signature does not verify with the expected "
			      "signer's certificate: %s"),
			    gnutls_strerror(rc));
		goto out;
	}
	result = g_steal_pointer(&content);
out:
	if (have_info)
		gnutls_pkcs7_signature_info_deinit(&info);
	if (p7 != NULL)
		gnutls_pkcs7_deinit(p7);
	return result;
}

GBytes *
ck_cms_encode_issuer_and_subject(const gnutls_datum_t *issuer, const gnutls_datum_t *subject,
				 GError **error)
{
	g_auto(CkAsn1Node) node = ck_cms_new_element("IssuerAndSubject", error);

	if (node == NULL || !ck_cms_write(node, "issuer", issuer->data, issuer->size, error) ||
	    !ck_cms_write(node, "subject", subject->data, subject->size, error))
		return NULL;
	return ck_cms_der_encode(node, error);
}
