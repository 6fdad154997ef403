/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-error.h"
#include "ck-key-provider-tpm.h"
#include "ck-tpm.h"

/*
 * No state but the TCTI, which never changes after construction: generate() runs
 * in worker threads, and ck_tpm_open() serializes every TPM operation of the
 * process (the TPM's few object slots allow no two at a time).
 */
struct _CkKeyProviderTpm {
	CkKeyProvider parent_instance;
	gchar *tcti;
};

G_DEFINE_TYPE(CkKeyProviderTpm, ck_key_provider_tpm, CK_TYPE_KEY_PROVIDER)

static gboolean
ck_key_provider_tpm_supports(CkKeyProvider *self, CkKeyType type)
{
	return type == CK_KEY_TYPE_EC_P256 || type == CK_KEY_TYPE_RSA_2048;
}

/* Wraps @tss2 into a CkKey that signs in the TPM; the stored form is the TSS2 PEM. */
static CkKey *
ck_key_provider_tpm_wrap(CkKeyProviderTpm *self, const CkTss2Key *tss2, GBytes *stored,
			 GBytes *auth, GError **error)
{
	gnutls_pk_algorithm_t algorithm;
	guint bits = 0;
	gnutls_pubkey_t pubkey;
	gnutls_privkey_t privkey;
	CkKeyType type;
	CkKey *key;

	algorithm = ck_tss2_key_get_algorithm(tss2, &bits);
	if (algorithm == GNUTLS_PK_ECDSA)
		type = CK_KEY_TYPE_EC_P256;
	else if (algorithm == GNUTLS_PK_RSA && bits == 2048)
		type = CK_KEY_TYPE_RSA_2048;
	else if (algorithm == GNUTLS_PK_RSA && bits == 3072)
		type = CK_KEY_TYPE_RSA_3072;
	else if (algorithm == GNUTLS_PK_RSA && bits == 4096)
		type = CK_KEY_TYPE_RSA_4096;
	else {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the number of bits */
			    _("The TPM key is RSA with %u bits, which certkeeper does not support"),
			    bits);
		return NULL;
	}
	pubkey = ck_tss2_key_get_pubkey(tss2, error);
	if (pubkey == NULL)
		return NULL;
	privkey = ck_tpm_privkey_new(self->tcti, tss2, auth, error);
	if (privkey == NULL) {
		gnutls_pubkey_deinit(pubkey);
		return NULL;
	}
	key = ck_key_new(type, privkey, stored);
	ck_key_set_pubkey(key, pubkey);
	return key;
}

CkKey *
ck_key_provider_tpm_generate_with_auth(CkKeyProviderTpm *self, CkKeyType type, GBytes *auth,
				       GError **error)
{
	g_autoptr(CkTpm) tpm = NULL;
	g_autoptr(CkTss2Key) tss2 = NULL;
	g_autoptr(GBytes) stored = NULL;
	gchar *pem;

	g_return_val_if_fail(CK_IS_KEY_PROVIDER_TPM(self), NULL);
	if (!ck_key_provider_tpm_supports(CK_KEY_PROVIDER(self), type)) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the key type */
			    _("Key provider 'tpm' cannot make %s keys; it makes ec-p256 and "
			      "rsa-2048 keys"),
			    ck_key_type_to_string(type));
		return NULL;
	}
	tpm = ck_tpm_open(self->tcti, error);
	if (tpm == NULL)
		return NULL;
	tss2 = ck_tpm_create_key(tpm, type == CK_KEY_TYPE_EC_P256 ? GNUTLS_PK_ECDSA : GNUTLS_PK_RSA,
				 type == CK_KEY_TYPE_EC_P256 ? 256 : 2048, auth, error);
	g_clear_pointer(&tpm, ck_tpm_close);
	if (tss2 == NULL)
		return NULL;
	pem = ck_tss2_key_to_pem(tss2, error);
	if (pem == NULL)
		return NULL;
	stored = g_bytes_new_take(pem, strlen(pem));
	return ck_key_provider_tpm_wrap(self, tss2, stored, auth, error);
}

static CkKey *
ck_key_provider_tpm_generate(CkKeyProvider *self, CkKeyType type, GError **error)
{
	return ck_key_provider_tpm_generate_with_auth(CK_KEY_PROVIDER_TPM(self), type, NULL, error);
}

/* A key for @location gets the authorization value in "<location>.auth", if there is one. */
static CkKey *
ck_key_provider_tpm_generate_at(CkKeyProvider *self, CkKeyType type, const gchar *location,
				 GError **error)
{
	g_autofree gchar *auth_path = NULL;
	g_autoptr(GError) local = NULL;
	g_autoptr(GBytes) auth = NULL;

	if (location == NULL)
		return ck_key_provider_tpm_generate(self, type, error);
	auth_path = ck_tpm_auth_path_for(location);
	auth = ck_tpm_read_auth_file(auth_path, FALSE, &local);
	if (local != NULL) {
		g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
	return ck_key_provider_tpm_generate_with_auth(CK_KEY_PROVIDER_TPM(self), type, auth, error);
}

CkKey *
ck_key_provider_tpm_load_with_auth(CkKeyProviderTpm *self, GBytes *stored, const gchar *location,
				   GBytes *auth, GError **error)
{
	gsize size = 0;
	const void *data = g_bytes_get_data(stored, &size);
	g_autoptr(CkTss2Key) tss2 = NULL;
	g_autoptr(GBytes) file_auth = NULL;

	g_return_val_if_fail(CK_IS_KEY_PROVIDER_TPM(self), NULL);
	if (!ck_tss2_key_is_pem(data, size)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the key's location */
			    _("The key in %s is no TPM key (no \"TSS2 PRIVATE KEY\"): use key "
			      "provider 'file' for it, or let certkeeper make a TPM key"),
			    location != NULL ? location : "memory");
		return NULL;
	}
	tss2 = ck_tss2_key_parse(data, size, location, error);
	if (tss2 == NULL)
		return NULL;
	if (!tss2->empty_auth && auth == NULL) {
		g_autofree gchar *auth_path = NULL;
		if (location == NULL) {
			g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					    _("The TPM key needs an authorization value"));
			return NULL;
		}
		auth_path = ck_tpm_auth_path_for(location);
		file_auth = ck_tpm_read_auth_file(auth_path, TRUE, error);
		if (file_auth == NULL)
			return NULL;
		auth = file_auth;
	}
	return ck_key_provider_tpm_wrap(self, tss2, stored, auth, error);
}

static CkKey *
ck_key_provider_tpm_load(CkKeyProvider *self, GBytes *stored, const gchar *location, GError **error)
{
	return ck_key_provider_tpm_load_with_auth(CK_KEY_PROVIDER_TPM(self), stored, location, NULL,
						  error);
}

static GError *
ck_key_provider_tpm_take_sign_error(CkKeyProvider *self)
{
	return ck_tpm_take_sign_error();
}

const gchar *
ck_key_provider_tpm_get_tcti(CkKeyProviderTpm *self)
{
	g_return_val_if_fail(CK_IS_KEY_PROVIDER_TPM(self), NULL);
	return self->tcti;
}

static void
ck_key_provider_tpm_finalize(GObject *object)
{
	CkKeyProviderTpm *self = CK_KEY_PROVIDER_TPM(object);
	g_free(self->tcti);
	G_OBJECT_CLASS(ck_key_provider_tpm_parent_class)->finalize(object);
}

static void
ck_key_provider_tpm_init(CkKeyProviderTpm *self)
{
}

static void
ck_key_provider_tpm_class_init(CkKeyProviderTpmClass *klass)
{
	CkKeyProviderClass *provider_class = CK_KEY_PROVIDER_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = ck_key_provider_tpm_finalize;
	provider_class->supports = ck_key_provider_tpm_supports;
	provider_class->generate = ck_key_provider_tpm_generate;
	provider_class->load = ck_key_provider_tpm_load;
	provider_class->take_sign_error = ck_key_provider_tpm_take_sign_error;
	provider_class->generate_at = ck_key_provider_tpm_generate_at;
}

CkKeyProvider *
ck_key_provider_tpm_new(const gchar *tcti)
{
	CkKeyProviderTpm *self = g_object_new(CK_TYPE_KEY_PROVIDER_TPM, "name", "tpm", NULL);
	self->tcti = g_strdup(tcti != NULL && tcti[0] != '\0' ? tcti : CK_TPM_DEFAULT_TCTI);
	return CK_KEY_PROVIDER(self);
}
