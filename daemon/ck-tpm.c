/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "ck-error.h"
#include "ck-tpm.h"

struct _CkTpm {
	gchar *tcti_conf;
	TSS2_TCTI_CONTEXT *tcti;
	ESYS_CONTEXT *esys;
};

/* One operation at a time in this process: see ck-tpm.h. Recursive, so a
 * signature made while a caller holds a connection does not deadlock. */
static GRecMutex ck_tpm_lock;

static GPrivate ck_tpm_sign_error = G_PRIVATE_INIT((GDestroyNotify)g_error_free);

/* Turns a tpm2-tss return code into the error ck-tpm.h promises, naming @operation. */
static void
ck_tpm_set_error(GError **error, const gchar *tcti, const gchar *operation, TSS2_RC rc)
{
	TSS2_RC layer = rc & TSS2_RC_LAYER_MASK;
	TSS2_RC code = rc & ~TSS2_RC_LAYER_MASK;
	const gchar *decoded = Tss2_RC_Decode(rc);

	if (layer == TSS2_TCTI_RC_LAYER &&
	    (code == TSS2_BASE_RC_IO_ERROR || code == TSS2_BASE_RC_NO_CONNECTION ||
	     code == TSS2_BASE_RC_TRY_AGAIN)) {
		g_set_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE,
			    /* TRANSLATORS: the operation, the TCTI string, the decoded code */
			    _("TPM %s failed: no TPM answers at %s (%s); certkeeper tries again "
			      "later"),
			    operation, tcti, decoded);
		return;
	}
	if ((layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) &&
	    !(code & TPM2_RC_FMT1)) {
		if (code == TPM2_RC_LOCKOUT) {
			g_set_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE,
				    /* TRANSLATORS: the operation, then the decoded code */
				    _("TPM %s failed: the TPM is in dictionary-attack lockout "
				      "after too many wrong authorization values (%s); it unlocks "
				      "itself after its recovery time, or `tpm2_dictionarylockout "
				      "--clear-lockout` unlocks it now"),
				    operation, decoded);
			return;
		}
		if (code == TPM2_RC_RETRY || code == TPM2_RC_YIELDED || code == TPM2_RC_TESTING ||
		    code == TPM2_RC_NV_RATE) {
			g_set_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE,
				    /* TRANSLATORS: the operation, then the decoded code */
				    _("TPM %s failed: the TPM is busy (%s); certkeeper tries again "
				      "later"),
				    operation, decoded);
			return;
		}
	}
	if ((layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) &&
	    (code & TPM2_RC_FMT1)) {
		/* format-one codes carry the handle, session or parameter number in bits 6..11 */
		TSS2_RC number = code & 0x3f;
		if (number == (TPM2_RC_AUTH_FAIL & 0x3f) || number == (TPM2_RC_BAD_AUTH & 0x3f)) {
			g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
				    /* TRANSLATORS: the operation, then the decoded code */
				    _("TPM %s failed: the key's authorization value is wrong (%s)"),
				    operation, decoded);
			return;
		}
		if (number == (TPM2_RC_INTEGRITY & 0x3f)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: the operation, then the decoded code */
				    _("TPM %s failed: the key was made by another TPM, or this "
				      "TPM's owner hierarchy was cleared since (%s)"),
				    operation, decoded);
			return;
		}
	}
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
		    /* TRANSLATORS: the operation, then the decoded code */
		    _("TPM %s failed: %s"), operation, decoded);
}

/* The TCTI's name: what comes before the first ':' (the whole string without one). */
static gchar *
ck_tpm_tcti_name(const gchar *conf)
{
	const gchar *colon = strchr(conf, ':');
	return colon != NULL ? g_strndup(conf, colon - conf) : g_strdup(conf);
}

static void
ck_tpm_free(CkTpm *tpm)
{
	if (tpm->esys != NULL)
		Esys_Finalize(&tpm->esys);
	if (tpm->tcti != NULL)
		Tss2_TctiLdr_Finalize(&tpm->tcti);
	g_free(tpm->tcti_conf);
	g_free(tpm);
}

CkTpm *
ck_tpm_open(const gchar *tcti, GError **error)
{
	g_autofree gchar *name = NULL;
	TSS2_TCTI_INFO *info = NULL;
	CkTpm *tpm;
	TSS2_RC rc;

	if (tcti == NULL || tcti[0] == '\0')
		tcti = CK_TPM_DEFAULT_TCTI;
	name = ck_tpm_tcti_name(tcti);
	/* a TCTI that does not exist fails differently from a TPM that does not answer */
	if (name[0] == '\0' || Tss2_TctiLdr_GetInfo(name, &info) != TSS2_RC_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the TCTI string, then the TCTI's name in it */
			    _("The TPM TCTI '%s' is unusable: there is no TCTI called '%s'; give "
			      "e.g. device:/dev/tpmrm0 or swtpm:path=SOCKET (TpmTcti= in "
			      "certkeeper.conf)"),
			    tcti, name);
		return NULL;
	}
	Tss2_TctiLdr_FreeInfo(&info);
	tpm = g_new0(CkTpm, 1);
	tpm->tcti_conf = g_strdup(tcti);
	g_rec_mutex_lock(&ck_tpm_lock);
	rc = Tss2_TctiLdr_Initialize(tcti, &tpm->tcti);
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_Initialize(&tpm->esys, tpm->tcti, NULL);
	if (rc != TSS2_RC_SUCCESS) {
		if (rc == TSS2_TCTI_RC_BAD_VALUE)
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: the TCTI string, then the decoded code */
				    _("The TPM TCTI '%s' is unusable: its options are wrong (%s); "
				      "see TpmTcti= in certkeeper.conf"),
				    tcti, Tss2_RC_Decode(rc));
		else if ((rc & TSS2_RC_LAYER_MASK) == TSS2_TCTI_RC_LAYER)
			g_set_error(error, CK_ERROR, CK_ERROR_DEVICE_UNAVAILABLE,
				    /* TRANSLATORS: the TCTI string, then the decoded code */
				    _("No TPM answers at %s (%s); certkeeper tries again later"),
				    tcti, Tss2_RC_Decode(rc));
		else
			ck_tpm_set_error(error, tcti, _("connection"), rc);
		ck_tpm_free(tpm);
		g_rec_mutex_unlock(&ck_tpm_lock);
		return NULL;
	}
	return tpm;
}

void
ck_tpm_close(CkTpm *tpm)
{
	if (tpm == NULL)
		return;
	ck_tpm_free(tpm);
	g_rec_mutex_unlock(&ck_tpm_lock);
}

static void
ck_tpm_flush(CkTpm *tpm, ESYS_TR *handle)
{
	if (*handle != ESYS_TR_NONE) {
		Esys_FlushContext(tpm->esys, *handle);
		*handle = ESYS_TR_NONE;
	}
}

/* The TCG key-file primary: ECC P-256 storage key with AES-128-CFB, the template
 * OpenSSL's tpm2 provider and tpm2-tss-engine recreate for parent 0x40000001. */
static gboolean
ck_tpm_create_primary(CkTpm *tpm, ESYS_TR *primary, GError **error)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC template = {
	    .publicArea =
		{
		    .type = TPM2_ALG_ECC,
		    .nameAlg = TPM2_ALG_SHA256,
		    .objectAttributes = TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED |
					TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA |
					TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					TPMA_OBJECT_SENSITIVEDATAORIGIN,
		    .parameters.eccDetail =
			{
			    .symmetric = {.algorithm = TPM2_ALG_AES,
					  .keyBits.aes = 128,
					  .mode.aes = TPM2_ALG_CFB},
			    .scheme = {.scheme = TPM2_ALG_NULL},
			    .curveID = TPM2_ECC_NIST_P256,
			    .kdf = {.scheme = TPM2_ALG_NULL},
			},
		},
	};
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PUBLIC *out_public = NULL;
	TPM2B_CREATION_DATA *creation_data = NULL;
	TPM2B_DIGEST *creation_hash = NULL;
	TPMT_TK_CREATION *ticket = NULL;
	TSS2_RC rc;

	rc = Esys_CreatePrimary(tpm->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
				ESYS_TR_NONE, &sensitive, &template, &outside, &pcrs, primary,
				&out_public, &creation_data, &creation_hash, &ticket);
	Esys_Free(out_public);
	Esys_Free(creation_data);
	Esys_Free(creation_hash);
	Esys_Free(ticket);
	if (rc != TSS2_RC_SUCCESS) {
		*primary = ESYS_TR_NONE;
		ck_tpm_set_error(error, tpm->tcti_conf, _("storage primary key creation"), rc);
		return FALSE;
	}
	return TRUE;
}

/* The key's parent: the recreated storage primary (flush it), or a persistent key. */
static gboolean
ck_tpm_parent(CkTpm *tpm, guint32 parent, ESYS_TR *handle, gboolean *transient, GError **error)
{
	TSS2_RC rc;

	if (parent == CK_TSS2_KEY_PARENT_OWNER) {
		*transient = TRUE;
		return ck_tpm_create_primary(tpm, handle, error);
	}
	*transient = FALSE;
	if ((parent >> 24) != TPM2_HT_PERSISTENT) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the parent handle in hex */
			    _("The TPM key's parent 0x%08x is neither the owner hierarchy's "
			      "storage primary (0x40000001) nor a persistent key (0x81......)"),
			    parent);
		return FALSE;
	}
	rc = Esys_TR_FromTPMPublic(tpm->esys, parent, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
				   handle);
	if (rc != TSS2_RC_SUCCESS) {
		*handle = ESYS_TR_NONE;
		ck_tpm_set_error(error, tpm->tcti_conf, _("parent lookup"), rc);
		return FALSE;
	}
	return TRUE;
}

static void
ck_tpm_release_parent(CkTpm *tpm, ESYS_TR *handle, gboolean transient)
{
	if (*handle == ESYS_TR_NONE)
		return;
	if (transient)
		Esys_FlushContext(tpm->esys, *handle);
	else
		Esys_TR_Close(tpm->esys, handle);
	*handle = ESYS_TR_NONE;
}

static gboolean
ck_tpm_set_auth_value(TPM2B_AUTH *out, GBytes *auth, GError **error)
{
	gsize len = auth != NULL ? g_bytes_get_size(auth) : 0;

	memset(out, 0, sizeof(*out));
	if (len > sizeof(out->buffer)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the size limit in bytes */
			    _("A TPM authorization value has at most %u bytes"),
			    (guint)sizeof(out->buffer));
		return FALSE;
	}
	if (len > 0)
		memcpy(out->buffer, g_bytes_get_data(auth, NULL), len);
	out->size = (UINT16)len;
	return TRUE;
}

CkTss2Key *
ck_tpm_create_key(CkTpm *tpm, gnutls_pk_algorithm_t algorithm, guint bits, GBytes *auth,
		  GError **error)
{
	TPM2B_SENSITIVE_CREATE sensitive = {0};
	TPM2B_PUBLIC template = {0};
	TPMT_PUBLIC *area = &template.publicArea;
	TPM2B_DATA outside = {0};
	TPML_PCR_SELECTION pcrs = {0};
	TPM2B_PRIVATE *out_private = NULL;
	TPM2B_PUBLIC *out_public = NULL;
	TPM2B_CREATION_DATA *creation_data = NULL;
	TPM2B_DIGEST *creation_hash = NULL;
	TPMT_TK_CREATION *ticket = NULL;
	ESYS_TR primary = ESYS_TR_NONE;
	CkTss2Key *key;
	TSS2_RC rc;

	if (!ck_tpm_set_auth_value(&sensitive.sensitive.userAuth, auth, error))
		return NULL;
	area->nameAlg = TPM2_ALG_SHA256;
	area->objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_USERWITHAUTH |
				 TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				 TPMA_OBJECT_SENSITIVEDATAORIGIN;
	/* a key without a secret cannot be guessed at: keep it out of the DA counter */
	if (sensitive.sensitive.userAuth.size == 0)
		area->objectAttributes |= TPMA_OBJECT_NODA;
	if (algorithm == GNUTLS_PK_ECDSA && bits == 256) {
		area->type = TPM2_ALG_ECC;
		area->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		area->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		area->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		area->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	} else if (algorithm == GNUTLS_PK_RSA && bits == 2048) {
		area->type = TPM2_ALG_RSA;
		area->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		area->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		area->parameters.rsaDetail.keyBits = 2048;
		area->parameters.rsaDetail.exponent = 0;
	} else {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: algorithm name, then bits */
			    _("The TPM provider makes ECC P-256 and RSA 2048 keys, not %s %u"),
			    gnutls_pk_algorithm_get_name(algorithm), bits);
		return NULL;
	}
	if (!ck_tpm_create_primary(tpm, &primary, error))
		return NULL;
	rc = Esys_Create(tpm->esys, primary, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			 &sensitive, &template, &outside, &pcrs, &out_private, &out_public,
			 &creation_data, &creation_hash, &ticket);
	ck_tpm_flush(tpm, &primary);
	explicit_bzero(&sensitive, sizeof(sensitive));
	Esys_Free(creation_data);
	Esys_Free(creation_hash);
	Esys_Free(ticket);
	if (rc != TSS2_RC_SUCCESS) {
		ck_tpm_set_error(error, tpm->tcti_conf, _("key creation"), rc);
		return NULL;
	}
	key = g_new0(CkTss2Key, 1);
	key->empty_auth = auth == NULL || g_bytes_get_size(auth) == 0;
	key->parent = CK_TSS2_KEY_PARENT_OWNER;
	key->public_area = *out_public;
	key->private_blob = *out_private;
	Esys_Free(out_public);
	Esys_Free(out_private);
	return key;
}

static TPMI_ALG_HASH
ck_tpm_hash_alg(gnutls_digest_algorithm_t hash)
{
	switch (hash) {
	case GNUTLS_DIG_SHA1:
		return TPM2_ALG_SHA1;
	case GNUTLS_DIG_SHA256:
		return TPM2_ALG_SHA256;
	case GNUTLS_DIG_SHA384:
		return TPM2_ALG_SHA384;
	case GNUTLS_DIG_SHA512:
		return TPM2_ALG_SHA512;
	default:
		return TPM2_ALG_NULL;
	}
}

GBytes *
ck_tpm_sign(CkTpm *tpm, const CkTss2Key *key, GBytes *auth, gnutls_digest_algorithm_t hash,
	    gboolean pss, const guint8 *digest, gsize digest_len, GError **error)
{
	TPMT_SIG_SCHEME scheme = {0};
	TPMT_TK_HASHCHECK validation = {.tag = TPM2_ST_HASHCHECK, .hierarchy = TPM2_RH_NULL};
	TPM2B_DIGEST in_digest = {0};
	TPM2B_AUTH auth_value;
	TPMT_SIGNATURE *signature = NULL;
	ESYS_TR parent = ESYS_TR_NONE, object = ESYS_TR_NONE;
	gboolean transient = FALSE;
	TPMI_ALG_HASH hash_alg = ck_tpm_hash_alg(hash);
	gboolean ecc = key->public_area.publicArea.type == TPM2_ALG_ECC;
	GBytes *result = NULL;
	TSS2_RC rc;

	if (hash_alg == TPM2_ALG_NULL || digest_len > sizeof(in_digest.buffer) ||
	    digest_len != gnutls_hash_get_len(hash)) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the hash algorithm's name */
			    _("The TPM cannot sign a %s digest"), gnutls_digest_get_name(hash));
		return NULL;
	}
	if (!ck_tpm_set_auth_value(&auth_value, auth, error))
		return NULL;
	memcpy(in_digest.buffer, digest, digest_len);
	in_digest.size = (UINT16)digest_len;
	scheme.scheme = ecc ? TPM2_ALG_ECDSA : pss ? TPM2_ALG_RSAPSS : TPM2_ALG_RSASSA;
	scheme.details.any.hashAlg = hash_alg;

	if (!ck_tpm_parent(tpm, key->parent, &parent, &transient, error))
		return NULL;
	rc = Esys_Load(tpm->esys, parent, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
		       &key->private_blob, &key->public_area, &object);
	/* free the parent's slot before the key works: swtpm has three */
	ck_tpm_release_parent(tpm, &parent, transient);
	if (rc != TSS2_RC_SUCCESS) {
		ck_tpm_set_error(error, tpm->tcti_conf, _("key load"), rc);
		explicit_bzero(&auth_value, sizeof(auth_value));
		return NULL;
	}
	rc = Esys_TR_SetAuth(tpm->esys, object, &auth_value);
	explicit_bzero(&auth_value, sizeof(auth_value));
	if (rc == TSS2_RC_SUCCESS)
		rc = Esys_Sign(tpm->esys, object, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
			       &in_digest, &scheme, &validation, &signature);
	ck_tpm_flush(tpm, &object);
	if (rc != TSS2_RC_SUCCESS) {
		ck_tpm_set_error(error, tpm->tcti_conf, _("signature"), rc);
		return NULL;
	}
	if (ecc) {
		gnutls_datum_t r = {signature->signature.ecdsa.signatureR.buffer,
				    signature->signature.ecdsa.signatureR.size};
		gnutls_datum_t s = {signature->signature.ecdsa.signatureS.buffer,
				    signature->signature.ecdsa.signatureS.size};
		gnutls_datum_t der = {NULL, 0};
		int grc = gnutls_encode_rs_value(&der, &r, &s);
		if (grc < 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
				    /* TRANSLATORS: GnuTLS's reason */
				    _("Cannot encode the TPM's signature: %s"),
				    gnutls_strerror(grc));
		} else {
			result = g_bytes_new(der.data, der.size);
			gnutls_free(der.data);
		}
	} else {
		result = g_bytes_new(signature->signature.rsassa.sig.buffer,
				     signature->signature.rsassa.sig.size);
	}
	Esys_Free(signature);
	return result;
}

/* What a GnuTLS private key made by ck_tpm_privkey_new() signs with. */
typedef struct {
	gchar *tcti;
	CkTss2Key *key;
	GBytes *auth;
	gnutls_pk_algorithm_t algorithm;
	guint bits;
} CkTpmPrivkey;

static void
ck_tpm_privkey_free(CkTpmPrivkey *data)
{
	g_free(data->tcti);
	ck_tss2_key_free(data->key);
	if (data->auth != NULL)
		g_bytes_unref(data->auth);
	g_free(data);
}

static void
ck_tpm_privkey_deinit_cb(gnutls_privkey_t key, void *userdata)
{
	ck_tpm_privkey_free(userdata);
}

static gboolean
ck_tpm_privkey_is_pss(gnutls_sign_algorithm_t algo)
{
	switch (algo) {
	case GNUTLS_SIGN_RSA_PSS_SHA256:
	case GNUTLS_SIGN_RSA_PSS_SHA384:
	case GNUTLS_SIGN_RSA_PSS_SHA512:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA256:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA384:
	case GNUTLS_SIGN_RSA_PSS_RSAE_SHA512:
		return TRUE;
	default:
		return FALSE;
	}
}

static int
ck_tpm_privkey_info_cb(gnutls_privkey_t key, unsigned int flags, void *userdata)
{
	CkTpmPrivkey *data = userdata;

	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO)
		return data->algorithm;
	if (flags & GNUTLS_PRIVKEY_INFO_PK_ALGO_BITS)
		return (int)data->bits;
	if (flags & GNUTLS_PRIVKEY_INFO_HAVE_SIGN_ALGO) {
		gnutls_sign_algorithm_t sign = GNUTLS_FLAGS_TO_SIGN_ALGO(flags);
		gnutls_digest_algorithm_t hash = gnutls_sign_get_hash_algorithm(sign);
		gnutls_pk_algorithm_t pk = gnutls_sign_get_pk_algorithm(sign);
		if (ck_tpm_hash_alg(hash) == TPM2_ALG_NULL || hash == GNUTLS_DIG_SHA1)
			return 0;
		if (data->algorithm == GNUTLS_PK_ECDSA)
			return pk == GNUTLS_PK_ECDSA;
		return pk == GNUTLS_PK_RSA || ck_tpm_privkey_is_pss(sign);
	}
	return -1;
}

static int
ck_tpm_privkey_sign_hash_cb(gnutls_privkey_t key, gnutls_sign_algorithm_t algo, void *userdata,
			    unsigned int flags, const gnutls_datum_t *hash_data,
			    gnutls_datum_t *signature)
{
	CkTpmPrivkey *data = userdata;
	gnutls_digest_algorithm_t hash = gnutls_sign_get_hash_algorithm(algo);
	gboolean pss = ck_tpm_privkey_is_pss(algo) || (flags & GNUTLS_PRIVKEY_SIGN_FLAG_RSA_PSS);
	const guint8 *digest = hash_data->data;
	gsize digest_len = hash_data->size;
	guint8 decoded[64];
	unsigned int decoded_len = sizeof(decoded);
	g_autoptr(CkTpm) tpm = NULL;
	g_autoptr(GBytes) sig = NULL;
	GError *error = NULL;
	gsize sig_len = 0;
	const void *sig_data;

	g_private_replace(&ck_tpm_sign_error, NULL);
	if (data->algorithm == GNUTLS_PK_RSA && !pss) {
		/* PKCS#1 v1.5: GnuTLS hands over the DigestInfo; the TPM wants the digest */
		gnutls_datum_t info = {hash_data->data, hash_data->size};
		if (gnutls_decode_ber_digest_info(&info, &hash, decoded, &decoded_len) == 0) {
			digest = decoded;
			digest_len = decoded_len;
		}
	} else if (data->algorithm == GNUTLS_PK_ECDSA && ck_tpm_hash_alg(hash) == TPM2_ALG_NULL) {
		/* no hash named: go by the digest's size */
		hash = digest_len == 48   ? GNUTLS_DIG_SHA384
		       : digest_len == 64 ? GNUTLS_DIG_SHA512
					  : GNUTLS_DIG_SHA256;
	}
	tpm = ck_tpm_open(data->tcti, &error);
	if (tpm != NULL)
		sig =
		    ck_tpm_sign(tpm, data->key, data->auth, hash, pss, digest, digest_len, &error);
	if (sig == NULL) {
		g_private_replace(&ck_tpm_sign_error, error);
		return GNUTLS_E_PK_SIGN_FAILED;
	}
	sig_data = g_bytes_get_data(sig, &sig_len);
	signature->data = gnutls_malloc(sig_len);
	if (signature->data == NULL)
		return GNUTLS_E_MEMORY_ERROR;
	memcpy(signature->data, sig_data, sig_len);
	signature->size = (unsigned int)sig_len;
	return 0;
}

gnutls_privkey_t
ck_tpm_privkey_new(const gchar *tcti, const CkTss2Key *key, GBytes *auth, GError **error)
{
	CkTpmPrivkey *data = g_new0(CkTpmPrivkey, 1);
	gnutls_privkey_t privkey = NULL;
	int rc;

	data->algorithm = ck_tss2_key_get_algorithm(key, &data->bits);
	if (data->algorithm == GNUTLS_PK_UNKNOWN) {
		g_set_error_literal(
		    error, CK_ERROR, CK_ERROR_UNSUPPORTED,
		    _("The TPM key is neither an ECC P-256 nor an RSA signing key"));
		g_free(data);
		return NULL;
	}
	data->tcti = g_strdup(tcti != NULL && tcti[0] != '\0' ? tcti : CK_TPM_DEFAULT_TCTI);
	data->key = ck_tss2_key_copy(key);
	data->auth = auth != NULL ? g_bytes_ref(auth) : NULL;
	rc = gnutls_privkey_init(&privkey);
	if (rc == 0)
		rc = gnutls_privkey_import_ext4(privkey, data, NULL, ck_tpm_privkey_sign_hash_cb,
						NULL, ck_tpm_privkey_deinit_cb,
						ck_tpm_privkey_info_cb, 0);
	if (rc < 0) {
		if (privkey != NULL)
			gnutls_privkey_deinit(privkey);
		ck_tpm_privkey_free(data);
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: GnuTLS's reason */
			    _("Cannot wrap the TPM key for GnuTLS: %s"), gnutls_strerror(rc));
		return NULL;
	}
	return privkey;
}

GError *
ck_tpm_take_sign_error(void)
{
	GError *error = g_private_get(&ck_tpm_sign_error);
	if (error == NULL)
		return NULL;
	error = g_error_copy(error);
	g_private_replace(&ck_tpm_sign_error, NULL);
	return error;
}

GBytes *
ck_tpm_read_auth_file(const gchar *path, gboolean must_exist, GError **error)
{
	guint8 buffer[CK_TPM_MAX_AUTH + 2];
	gssize len = 0, n;
	struct stat st;
	GBytes *value;
	int fd, errsv;

	/* no symbolic link: a user's key directory must not make the daemon read
	 * another file as the secret */
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		errsv = errno;
		if (errsv == ENOENT && !must_exist)
			return NULL;
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    /* TRANSLATORS: the file, then the system's reason */
			    _("Cannot read the TPM key's authorization value %s: %s"), path,
			    g_strerror(errsv));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0077) != 0) {
		close(fd);
		g_set_error(
		    error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
		    /* TRANSLATORS: the file name */
		    _("The TPM authorization value file %s must be a regular file that only "
		      "its owner can read (chmod 600)"),
		    path);
		return NULL;
	}
	while (len < (gssize)sizeof(buffer) &&
	       (n = read(fd, buffer + len, sizeof(buffer) - (gsize)len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			errsv = errno;
			close(fd);
			explicit_bzero(buffer, sizeof(buffer));
			g_set_error(error, CK_ERROR, CK_ERROR_IO,
				    _("Cannot read the TPM key's authorization value %s: %s"), path,
				    g_strerror(errsv));
			return NULL;
		}
		len += n;
	}
	close(fd);
	if (len > 0 && buffer[len - 1] == '\n')
		len--;
	if (len > CK_TPM_MAX_AUTH) {
		explicit_bzero(buffer, sizeof(buffer));
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: file name, then the size limit */
			    _("The TPM authorization value in %s is longer than %u bytes"), path,
			    (guint)CK_TPM_MAX_AUTH);
		return NULL;
	}
	value = g_bytes_new(buffer, (gsize)len);
	explicit_bzero(buffer, sizeof(buffer));
	return value;
}

gchar *
ck_tpm_auth_path_for(const gchar *key_path)
{
	return g_strconcat(key_path, ".auth", NULL);
}

gboolean
ck_tpm_load_key_file(const gchar *tcti, const gchar *path, gnutls_privkey_t *privkey,
		     gnutls_pubkey_t *pubkey, GError **error)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	g_autoptr(CkTss2Key) key = NULL;
	g_autoptr(GBytes) auth = NULL;
	g_autoptr(GError) local = NULL;

	if (!g_file_get_contents(path, &contents, &len, &local)) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_IO, local->message);
		return FALSE;
	}
	key = ck_tss2_key_parse(contents, len, path, error);
	if (key == NULL)
		return FALSE;
	if (!key->empty_auth) {
		g_autofree gchar *auth_path = ck_tpm_auth_path_for(path);
		auth = ck_tpm_read_auth_file(auth_path, TRUE, error);
		if (auth == NULL)
			return FALSE;
	}
	*pubkey = ck_tss2_key_get_pubkey(key, error);
	if (*pubkey == NULL)
		return FALSE;
	*privkey = ck_tpm_privkey_new(tcti, key, auth, error);
	if (*privkey == NULL) {
		gnutls_pubkey_deinit(*pubkey);
		*pubkey = NULL;
		return FALSE;
	}
	return TRUE;
}
