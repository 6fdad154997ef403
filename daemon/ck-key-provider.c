/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <string.h>

#include <glib/gi18n.h>

#include "ck-error.h"
#include "ck-key-provider.h"
#include "ck-workers.h"

static const gchar *const ck_key_type_names[] = {
    [CK_KEY_TYPE_UNKNOWN] = NULL,	   [CK_KEY_TYPE_EC_P256] = "ec-p256",
    [CK_KEY_TYPE_RSA_2048] = "rsa-2048", [CK_KEY_TYPE_RSA_3072] = "rsa-3072",
    [CK_KEY_TYPE_RSA_4096] = "rsa-4096", [CK_KEY_TYPE_ED25519] = "ed25519",
    [CK_KEY_TYPE_EC_P384] = "ec-p384",	   [CK_KEY_TYPE_EC_P521] = "ec-p521",
};

/* Other spellings people (and getcert users) type. */
static const struct {
	const gchar *alias;
	CkKeyType type;
} ck_key_type_aliases[] = {
    {"ec", CK_KEY_TYPE_EC_P256},	   {"ecdsa", CK_KEY_TYPE_EC_P256},
    {"ecdsa-p256", CK_KEY_TYPE_EC_P256},   {"p256", CK_KEY_TYPE_EC_P256},
    {"p-256", CK_KEY_TYPE_EC_P256},	   {"prime256v1", CK_KEY_TYPE_EC_P256},
    {"secp256r1", CK_KEY_TYPE_EC_P256},	   {"ec:256", CK_KEY_TYPE_EC_P256},
    {"ecdsa:256", CK_KEY_TYPE_EC_P256},	   {"rsa", CK_KEY_TYPE_RSA_2048},
    {"rsa2048", CK_KEY_TYPE_RSA_2048},	   {"rsa:2048", CK_KEY_TYPE_RSA_2048},
    {"rsa3072", CK_KEY_TYPE_RSA_3072},	   {"rsa:3072", CK_KEY_TYPE_RSA_3072},
    {"rsa4096", CK_KEY_TYPE_RSA_4096},	   {"rsa:4096", CK_KEY_TYPE_RSA_4096},
    {"eddsa", CK_KEY_TYPE_ED25519},	   {"ecdsa-p384", CK_KEY_TYPE_EC_P384},
    {"p384", CK_KEY_TYPE_EC_P384},	   {"p-384", CK_KEY_TYPE_EC_P384},
    {"secp384r1", CK_KEY_TYPE_EC_P384},	   {"ec:384", CK_KEY_TYPE_EC_P384},
    {"ecdsa:384", CK_KEY_TYPE_EC_P384},	   {"ecdsa-p521", CK_KEY_TYPE_EC_P521},
    {"p521", CK_KEY_TYPE_EC_P521},	   {"p-521", CK_KEY_TYPE_EC_P521},
    {"secp521r1", CK_KEY_TYPE_EC_P521},	   {"ec:521", CK_KEY_TYPE_EC_P521},
    {"ecdsa:521", CK_KEY_TYPE_EC_P521},
};

const gchar *
ck_key_type_to_string(CkKeyType type)
{
	if ((guint)type >= CK_KEY_TYPE_LAST || type == CK_KEY_TYPE_UNKNOWN)
		return "unknown";
	return ck_key_type_names[type];
}

CkKeyType
ck_key_type_from_string(const gchar *name)
{
	if (name == NULL)
		return CK_KEY_TYPE_UNKNOWN;
	for (guint i = CK_KEY_TYPE_UNKNOWN + 1; i < CK_KEY_TYPE_LAST; i++) {
		if (g_ascii_strcasecmp(ck_key_type_names[i], name) == 0)
			return (CkKeyType)i;
	}
	for (guint i = 0; i < G_N_ELEMENTS(ck_key_type_aliases); i++) {
		if (g_ascii_strcasecmp(ck_key_type_aliases[i].alias, name) == 0)
			return ck_key_type_aliases[i].type;
	}
	return CK_KEY_TYPE_UNKNOWN;
}

gboolean
ck_key_type_is_ec(CkKeyType type)
{
	return type == CK_KEY_TYPE_EC_P256 || type == CK_KEY_TYPE_EC_P384 ||
	       type == CK_KEY_TYPE_EC_P521;
}

CkKeyType
ck_key_type_for_curve(gnutls_ecc_curve_t curve)
{
	switch (curve) {
	case GNUTLS_ECC_CURVE_SECP256R1:
		return CK_KEY_TYPE_EC_P256;
	case GNUTLS_ECC_CURVE_SECP384R1:
		return CK_KEY_TYPE_EC_P384;
	case GNUTLS_ECC_CURVE_SECP521R1:
		return CK_KEY_TYPE_EC_P521;
	default:
		return CK_KEY_TYPE_UNKNOWN;
	}
}

gnutls_ecc_curve_t
ck_key_type_get_curve(CkKeyType type)
{
	switch (type) {
	case CK_KEY_TYPE_EC_P256:
		return GNUTLS_ECC_CURVE_SECP256R1;
	case CK_KEY_TYPE_EC_P384:
		return GNUTLS_ECC_CURVE_SECP384R1;
	case CK_KEY_TYPE_EC_P521:
		return GNUTLS_ECC_CURVE_SECP521R1;
	default:
		return GNUTLS_ECC_CURVE_INVALID;
	}
}

const gchar *const *
ck_key_type_all_names(void)
{
	/* skip the UNKNOWN slot; the array ends with the terminating NULL below */
	static const gchar *const names[] = {"ec-p256", "ec-p384", "ec-p521", "rsa-2048",
					     "rsa-3072", "rsa-4096", "ed25519", NULL};
	return names;
}

struct _CkKey {
	gint ref_count;
	CkKeyType type;
	gnutls_privkey_t privkey;
	gnutls_pubkey_t pubkey;
	GBytes *stored_form;
};

CkKey *
ck_key_new(CkKeyType type, gnutls_privkey_t privkey, GBytes *stored_form)
{
	CkKey *key = g_new0(CkKey, 1);
	key->ref_count = 1;
	key->type = type;
	key->privkey = privkey;
	key->stored_form = stored_form != NULL ? g_bytes_ref(stored_form) : NULL;
	return key;
}

CkKey *
ck_key_ref(CkKey *key)
{
	g_return_val_if_fail(key != NULL, NULL);
	g_atomic_int_inc(&key->ref_count);
	return key;
}

void
ck_key_unref(CkKey *key)
{
	if (key == NULL || !g_atomic_int_dec_and_test(&key->ref_count))
		return;
	gnutls_privkey_deinit(key->privkey);
	if (key->pubkey != NULL)
		gnutls_pubkey_deinit(key->pubkey);
	if (key->stored_form != NULL)
		g_bytes_unref(key->stored_form);
	g_free(key);
}

CkKeyType
ck_key_get_key_type(CkKey *key)
{
	return key->type;
}

gnutls_privkey_t
ck_key_get_privkey(CkKey *key)
{
	return key->privkey;
}

void
ck_key_set_pubkey(CkKey *key, gnutls_pubkey_t pubkey)
{
	if (key->pubkey != NULL)
		gnutls_pubkey_deinit(key->pubkey);
	key->pubkey = pubkey;
}

gnutls_pubkey_t
ck_key_get_pubkey(CkKey *key)
{
	return key->pubkey;
}

GBytes *
ck_key_get_stored_form(CkKey *key)
{
	return key->stored_form;
}

gboolean
ck_key_matches_certificate(CkKey *key, gnutls_x509_crt_t crt, GError **error)
{
	gnutls_pubkey_t pubkey = NULL;
	guint8 key_id[64], crt_id[64];
	size_t key_id_size = sizeof(key_id), crt_id_size = sizeof(crt_id);
	int rc;

	if (key->pubkey != NULL) {
		rc = gnutls_pubkey_get_key_id(key->pubkey, GNUTLS_KEYID_USE_SHA256, key_id,
					      &key_id_size);
	} else {
		rc = gnutls_pubkey_init(&pubkey);
		if (rc == GNUTLS_E_SUCCESS)
			rc = gnutls_pubkey_import_privkey(pubkey, key->privkey, 0, 0);
		if (rc == GNUTLS_E_SUCCESS)
			rc = gnutls_pubkey_get_key_id(pubkey, GNUTLS_KEYID_USE_SHA256, key_id,
						      &key_id_size);
	}
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, crt_id, &crt_id_size);
	if (pubkey != NULL)
		gnutls_pubkey_deinit(pubkey);
	if (rc != GNUTLS_E_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: the placeholder is GnuTLS's reason */
			    _("Cannot compare the key with the certificate: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	if (key_id_size != crt_id_size || memcmp(key_id, crt_id, key_id_size) != 0) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The certificate does not belong to the key"));
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	gchar *name;
} CkKeyProviderPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(CkKeyProvider, ck_key_provider, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_LAST };
static GParamSpec *properties[PROP_LAST];

const gchar *
ck_key_provider_get_name(CkKeyProvider *self)
{
	CkKeyProviderPrivate *priv = ck_key_provider_get_instance_private(self);
	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), NULL);
	return priv->name;
}

gboolean
ck_key_provider_supports(CkKeyProvider *self, CkKeyType type)
{
	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), FALSE);
	return CK_KEY_PROVIDER_GET_CLASS(self)->supports(self, type);
}

CkKey *
ck_key_provider_generate(CkKeyProvider *self, CkKeyType type, GError **error)
{
	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), NULL);
	if (!ck_key_provider_supports(self, type)) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: provider name, then key type */
			    _("Key provider '%s' cannot make %s keys"),
			    ck_key_provider_get_name(self), ck_key_type_to_string(type));
		return NULL;
	}
	return CK_KEY_PROVIDER_GET_CLASS(self)->generate(self, type, error);
}

typedef struct {
	CkKeyType type;
	gchar *location;
} CkGenerateData;

static void
ck_generate_data_free(CkGenerateData *data)
{
	g_free(data->location);
	g_free(data);
}

CkKey *
ck_key_provider_generate_at(CkKeyProvider *self, CkKeyType type, const gchar *location,
			    GError **error)
{
	CkKeyProviderClass *klass = CK_KEY_PROVIDER_GET_CLASS(self);

	if (klass->generate_at == NULL)
		return ck_key_provider_generate(self, type, error);
	if (!ck_key_provider_supports(self, type)) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: provider name, then key type */
			    _("Key provider '%s' cannot make %s keys"),
			    ck_key_provider_get_name(self), ck_key_type_to_string(type));
		return NULL;
	}
	return klass->generate_at(self, type, location, error);
}

static void
ck_key_provider_generate_thread(GTask *task, gpointer source, gpointer task_data,
				GCancellable *cancellable)
{
	CkGenerateData *data = task_data;
	GError *error = NULL;
	CkKey *key =
	    ck_key_provider_generate_at(CK_KEY_PROVIDER(source), data->type, data->location, &error);

	if (key == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, key, (GDestroyNotify)ck_key_unref);
}

/* Key generation's own threads: see ck-workers.h for why not GLib's shared pool. */
static CkWorkers *
ck_key_provider_workers(void)
{
	static gsize once = 0;
	static CkWorkers *workers = NULL;

	if (g_once_init_enter(&once)) {
		workers = ck_workers_new(g_get_num_processors());
		g_once_init_leave(&once, 1);
	}
	return workers;
}

void
ck_key_provider_set_threads(guint threads)
{
	ck_workers_set_threads(ck_key_provider_workers(), threads);
}

void
ck_key_provider_generate_at_async(CkKeyProvider *self, CkKeyType type, const gchar *location,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	CkGenerateData *data;

	g_return_if_fail(CK_IS_KEY_PROVIDER(self));
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ck_key_provider_generate_async);
	data = g_new0(CkGenerateData, 1);
	data->type = type;
	data->location = g_strdup(location);
	g_task_set_task_data(task, data, (GDestroyNotify)ck_generate_data_free);
	ck_workers_run(ck_key_provider_workers(), task, ck_key_provider_generate_thread);
}

void
ck_key_provider_generate_async(CkKeyProvider *self, CkKeyType type, GCancellable *cancellable,
			       GAsyncReadyCallback callback, gpointer user_data)
{
	ck_key_provider_generate_at_async(self, type, NULL, cancellable, callback, user_data);
}

CkKey *
ck_key_provider_generate_finish(CkKeyProvider *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

CkKey *
ck_key_provider_load(CkKeyProvider *self, GBytes *stored, const gchar *location, GError **error)
{
	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), NULL);
	return CK_KEY_PROVIDER_GET_CLASS(self)->load(self, stored, location, error);
}

gboolean
ck_key_provider_keeps_files(CkKeyProvider *self)
{
	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), TRUE);
	return CK_KEY_PROVIDER_GET_CLASS(self)->check_location == NULL;
}

gboolean
ck_key_provider_check_location(CkKeyProvider *self, const gchar *location, GError **error)
{
	CkKeyProviderClass *klass;

	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), FALSE);
	klass = CK_KEY_PROVIDER_GET_CLASS(self);
	return klass->check_location == NULL || klass->check_location(self, location, error);
}

CkKey *
ck_key_provider_load_for_certificate(CkKeyProvider *self, const gchar *location,
				     gnutls_x509_crt_t crt, GError **error)
{
	CkKeyProviderClass *klass;

	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), NULL);
	klass = CK_KEY_PROVIDER_GET_CLASS(self);
	if (klass->load_for_certificate == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the placeholder is the provider's name */
			    _("Key provider '%s' keeps its keys in files"),
			    ck_key_provider_get_name(self));
		return NULL;
	}
	return klass->load_for_certificate(self, location, crt, error);
}

gboolean
ck_key_provider_prune(CkKeyProvider *self, const gchar *location, CkKey *keep, GError **error)
{
	CkKeyProviderClass *klass;

	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), FALSE);
	klass = CK_KEY_PROVIDER_GET_CLASS(self);
	return klass->prune == NULL || klass->prune(self, location, keep, error);
}

GError *
ck_key_provider_take_sign_error(CkKeyProvider *self)
{
	g_return_val_if_fail(CK_IS_KEY_PROVIDER(self), NULL);
	if (CK_KEY_PROVIDER_GET_CLASS(self)->take_sign_error == NULL)
		return NULL;
	return CK_KEY_PROVIDER_GET_CLASS(self)->take_sign_error(self);
}

static void
ck_key_provider_set_property(GObject *object, guint prop_id, const GValue *value,
			     GParamSpec *pspec)
{
	CkKeyProviderPrivate *priv = ck_key_provider_get_instance_private(CK_KEY_PROVIDER(object));
	switch (prop_id) {
	case PROP_NAME:
		g_free(priv->name);
		priv->name = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
ck_key_provider_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	CkKeyProviderPrivate *priv = ck_key_provider_get_instance_private(CK_KEY_PROVIDER(object));
	switch (prop_id) {
	case PROP_NAME:
		g_value_set_string(value, priv->name);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
ck_key_provider_finalize(GObject *object)
{
	CkKeyProviderPrivate *priv = ck_key_provider_get_instance_private(CK_KEY_PROVIDER(object));
	g_free(priv->name);
	G_OBJECT_CLASS(ck_key_provider_parent_class)->finalize(object);
}

static void
ck_key_provider_init(CkKeyProvider *self)
{
}

static void
ck_key_provider_class_init(CkKeyProviderClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->set_property = ck_key_provider_set_property;
	object_class->get_property = ck_key_provider_get_property;
	object_class->finalize = ck_key_provider_finalize;
	properties[PROP_NAME] =
	    g_param_spec_string("name", NULL, NULL, NULL,
				G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, PROP_LAST, properties);
}
