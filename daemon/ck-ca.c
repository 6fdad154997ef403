/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-ca.h"
#include "ck-error.h"

const gchar *
ck_ca_outcome_to_string(CkCaOutcome outcome)
{
	switch (outcome) {
	case CK_CA_OUTCOME_ISSUED:
		return "issued";
	case CK_CA_OUTCOME_WAIT:
		return "wait";
	case CK_CA_OUTCOME_REJECTED:
		return "rejected";
	case CK_CA_OUTCOME_UNREACHABLE:
		return "unreachable";
	case CK_CA_OUTCOME_UNDERCONFIGURED:
		return "underconfigured";
	case CK_CA_OUTCOME_UNSUPPORTED:
		return "unsupported";
	case CK_CA_OUTCOME_NEED_NEW_KEY:
		return "need-new-key";
	default:
		return "unknown";
	}
}

CkCaResult *
ck_ca_result_new(CkCaOutcome outcome)
{
	CkCaResult *result = g_new0(CkCaResult, 1);
	result->outcome = outcome;
	return result;
}

void
ck_ca_result_free(CkCaResult *result)
{
	if (result == NULL)
		return;
	g_free(result->certificate);
	g_free(result->chain);
	g_free(result->cookie);
	g_free(result->message);
	g_free(result->nonce);
	g_free(result);
}

CkCaWindow *
ck_ca_window_new(CkCaOutcome outcome)
{
	CkCaWindow *window = g_new0(CkCaWindow, 1);
	window->outcome = outcome;
	return window;
}

void
ck_ca_window_free(CkCaWindow *window)
{
	if (window == NULL)
		return;
	g_free(window->message);
	g_free(window);
}

CkCaCsrAttributes *
ck_ca_csr_attributes_new(void)
{
	CkCaCsrAttributes *attributes = g_new0(CkCaCsrAttributes, 1);
	attributes->extensions = g_ptr_array_new_with_free_func((GDestroyNotify)ck_csr_extension_free);
	attributes->unfilled = g_new0(gchar *, 1);
	return attributes;
}

void
ck_ca_csr_attributes_free(CkCaCsrAttributes *attributes)
{
	if (attributes == NULL)
		return;
	g_free(attributes->key_type);
	if (attributes->challenge != NULL)
		memset(attributes->challenge, 0, strlen(attributes->challenge));
	g_free(attributes->challenge);
	g_ptr_array_unref(attributes->extensions);
	g_strfreev(attributes->unfilled);
	g_free(attributes);
}

GStrv
ck_ca_csr_attributes_describe(const CkCaCsrAttributes *attributes)
{
	GPtrArray *lines = g_ptr_array_new();

	if (attributes != NULL) {
		if (attributes->key_type != NULL)
			g_ptr_array_add(lines, g_strdup_printf("key-type %s", attributes->key_type));
		if (attributes->challenge_password)
			g_ptr_array_add(lines, g_strdup(attributes->challenge != NULL
							    ? "challenge-password"
							    : "challenge-password (none configured)"));
		for (guint i = 0; i < attributes->extensions->len; i++) {
			CkCsrExtension *ext = g_ptr_array_index(attributes->extensions, i);
			g_ptr_array_add(lines, g_strdup_printf("extension %s%s", ext->oid,
							       ext->critical ? " critical" : ""));
		}
		for (guint i = 0; attributes->unfilled[i] != NULL; i++)
			g_ptr_array_add(lines,
					g_strdup_printf("attribute %s", attributes->unfilled[i]));
	}
	g_ptr_array_add(lines, NULL);
	return (GStrv)g_ptr_array_free(lines, FALSE);
}

typedef struct {
	gboolean no_renewal_window; /* the CA said it offers none; cleared by a refresh */
	gchar *name;
	gchar *kind;
	gchar *error;
	gchar *identity;
	GStrv templates;
	gchar *default_template;
	GStrv new_requirements;
	GStrv renew_requirements;
	CkCaCsrAttributes *csr_attributes;
	guint refreshing; /* refreshes started and not yet finished */
} CkCaPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(CkCa, ck_ca, G_TYPE_OBJECT)

enum { PROP_0, PROP_NAME, PROP_KIND, PROP_LAST };
static GParamSpec *properties[PROP_LAST];

const gchar *
ck_ca_get_name(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return priv->name;
}

const gchar *
ck_ca_get_kind(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return priv->kind;
}

void
ck_ca_submit_async(CkCa *self, const CkCaSubmission *submission, GCancellable *cancellable,
		   GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(CK_IS_CA(self));
	g_return_if_fail(submission != NULL && submission->csr != NULL);
	CK_CA_GET_CLASS(self)->submit_async(self, submission, cancellable, callback, user_data);
}

CkCaResult *
ck_ca_submit_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return CK_CA_GET_CLASS(self)->submit_finish(self, res, error);
}

gchar *
ck_ca_get_root_certificates(CkCa *self, GError **error)
{
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return CK_CA_GET_CLASS(self)->get_root_certificates(self, error);
}

const gchar *
ck_ca_get_error(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return priv->error != NULL ? priv->error : "";
}

void
ck_ca_set_error(CkCa *self, const gchar *error)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_if_fail(CK_IS_CA(self));
	g_free(priv->error);
	priv->error = error != NULL && error[0] != '\0' ? g_strdup(error) : NULL;
}

const gchar *
ck_ca_get_identity(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return priv->identity != NULL ? priv->identity : "";
}

void
ck_ca_set_identity(CkCa *self, const gchar *identity)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_if_fail(CK_IS_CA(self));
	g_free(priv->identity);
	priv->identity = g_strdup(identity);
}

/* Replaces *@list by a copy of @values, never leaving NULL behind. */
static void
ck_ca_replace_list(GStrv *list, const gchar *const *values)
{
	g_strfreev(*list);
	*list = values != NULL ? g_strdupv((gchar **)values) : g_new0(gchar *, 1);
}

const gchar *const *
ck_ca_get_templates(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return (const gchar *const *)priv->templates;
}

void
ck_ca_set_templates(CkCa *self, const gchar *const *templates)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_if_fail(CK_IS_CA(self));
	ck_ca_replace_list(&priv->templates, templates);
}

const gchar *
ck_ca_get_default_template(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return priv->default_template != NULL ? priv->default_template : "";
}

void
ck_ca_set_default_template(CkCa *self, const gchar *name)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_if_fail(CK_IS_CA(self));
	g_free(priv->default_template);
	priv->default_template = g_strdup(name);
}

const gchar *const *
ck_ca_get_requirements(CkCa *self, gboolean renewal)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return (const gchar *const *)(renewal ? priv->renew_requirements : priv->new_requirements);
}

void
ck_ca_set_requirements(CkCa *self, gboolean renewal, const gchar *const *names)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_if_fail(CK_IS_CA(self));
	ck_ca_replace_list(renewal ? &priv->renew_requirements : &priv->new_requirements, names);
}

const CkCaCsrAttributes *
ck_ca_get_csr_attributes(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return priv->csr_attributes;
}

void
ck_ca_set_csr_attributes(CkCa *self, CkCaCsrAttributes *attributes)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_if_fail(CK_IS_CA(self));
	ck_ca_csr_attributes_free(priv->csr_attributes);
	priv->csr_attributes = attributes;
}

GStrv
ck_ca_get_root_list(CkCa *self)
{
	g_autofree gchar *pem = ck_ca_get_root_certificates(self, NULL);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	gnutls_x509_crt_t *list = NULL;
	unsigned int n = 0;
	gnutls_datum_t datum = {(unsigned char *)pem, pem != NULL ? (unsigned int)strlen(pem) : 0};

	if (pem != NULL &&
	    gnutls_x509_crt_list_import2(&list, &n, &datum, GNUTLS_X509_FMT_PEM, 0) >= 0) {
		for (unsigned int i = 0; i < n; i++) {
			gnutls_datum_t out = {NULL, 0};
			if (gnutls_x509_crt_export2(list[i], GNUTLS_X509_FMT_PEM, &out) >= 0) {
				g_autofree gchar *one = g_strndup((const gchar *)out.data, out.size);
				g_strv_builder_add(builder, one);
				gnutls_free(out.data);
			}
			gnutls_x509_crt_deinit(list[i]);
		}
		gnutls_free(list);
	}
	return g_strv_builder_end(builder);
}

GStrv
ck_ca_get_issuer_names(CkCa *self)
{
	g_auto(GStrv) roots = ck_ca_get_root_list(self);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	for (guint i = 0; roots[i] != NULL; i++) {
		gnutls_x509_crt_t crt = NULL;
		gnutls_datum_t datum = {(unsigned char *)roots[i], (unsigned int)strlen(roots[i])};
		gnutls_datum_t dn = {NULL, 0};
		if (gnutls_x509_crt_init(&crt) >= 0 &&
		    gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM) >= 0 &&
		    gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0) {
			g_autofree gchar *text = g_strndup((const gchar *)dn.data, dn.size);
			g_strv_builder_add(builder, text);
		}
		gnutls_free(dn.data);
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
	}
	return g_strv_builder_end(builder);
}

void
ck_ca_refresh_async(CkCa *self, GCancellable *cancellable, GAsyncReadyCallback callback,
		    gpointer user_data)
{
	g_return_if_fail(CK_IS_CA(self));
	/* what the CA offers may have changed with its configuration: ask again */
	((CkCaPrivate *)ck_ca_get_instance_private(self))->no_renewal_window = FALSE;
	((CkCaPrivate *)ck_ca_get_instance_private(self))->refreshing++;
	CK_CA_GET_CLASS(self)->refresh_async(self, cancellable, callback, user_data);
}

gboolean
ck_ca_refresh_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), FALSE);
	if (priv->refreshing > 0)
		priv->refreshing--;
	return CK_CA_GET_CLASS(self)->refresh_finish(self, res, error);
}

gboolean
ck_ca_is_refreshing(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), FALSE);
	return priv->refreshing > 0;
}

gboolean
ck_ca_offers_renewal_window(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	g_return_val_if_fail(CK_IS_CA(self), FALSE);
	return CK_CA_GET_CLASS(self)->renewal_window_async != NULL && !priv->no_renewal_window;
}

void
ck_ca_renewal_window_async(CkCa *self, const gchar *request_id, const gchar *certificate,
			   GCancellable *cancellable, GAsyncReadyCallback callback,
			   gpointer user_data)
{
	g_return_if_fail(CK_IS_CA(self));
	g_return_if_fail(CK_CA_GET_CLASS(self)->renewal_window_async != NULL);
	g_return_if_fail(certificate != NULL);
	CK_CA_GET_CLASS(self)->renewal_window_async(self, request_id, certificate, cancellable,
						    callback, user_data);
}

CkCaWindow *
ck_ca_renewal_window_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	CkCaWindow *window;

	g_return_val_if_fail(CK_IS_CA(self), NULL);
	window = CK_CA_GET_CLASS(self)->renewal_window_finish(self, res, error);
	/* "not offered" is a fact about the CA, not about this certificate */
	if (window != NULL && window->outcome == CK_CA_OUTCOME_UNSUPPORTED)
		priv->no_renewal_window = TRUE;
	return window;
}

void
ck_ca_revoke_async(CkCa *self, const gchar *request_id, const gchar *certificate, gint reason,
		   GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(CK_IS_CA(self));
	g_return_if_fail(certificate != NULL);
	g_return_if_fail(reason >= -1 && reason <= 10);
	CK_CA_GET_CLASS(self)->revoke_async(self, request_id, certificate, reason, cancellable,
					    callback, user_data);
}

gboolean
ck_ca_revoke_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(CK_IS_CA(self), FALSE);
	return CK_CA_GET_CLASS(self)->revoke_finish(self, res, error);
}

/* A back end that cannot revoke says so, naming the CA, so the user knows whom to ask. */
static void
ck_ca_real_revoke_async(CkCa *self, const gchar *request_id, const gchar *certificate,
			gint reason, GCancellable *cancellable, GAsyncReadyCallback callback,
			gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ck_ca_real_revoke_async);
	g_task_return_new_error(task, CK_ERROR, CK_ERROR_UNSUPPORTED,
				/* TRANSLATORS: the CA's name, then its kind */
				_("CA '%s' (%s) cannot revoke certificates: revoke it at the CA "
				  "itself"),
				ck_ca_get_name(self), ck_ca_get_kind(self));
}

static gboolean
ck_ca_real_revoke_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

void
ck_ca_proof_nonce_async(CkCa *self, const CkCaSubmission *submission, GCancellable *cancellable,
			GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(CK_IS_CA(self));
	g_return_if_fail(submission != NULL);
	CK_CA_GET_CLASS(self)->proof_nonce_async(self, submission, cancellable, callback,
						 user_data);
}

CkCaResult *
ck_ca_proof_nonce_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(CK_IS_CA(self), NULL);
	return CK_CA_GET_CLASS(self)->proof_nonce_finish(self, res, error);
}

/* A back end that takes no proofs says so: the ladder step is skipped with that reason. */
static void
ck_ca_real_proof_nonce_async(CkCa *self, const CkCaSubmission *submission,
			     GCancellable *cancellable, GAsyncReadyCallback callback,
			     gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	CkCaResult *result = ck_ca_result_new(CK_CA_OUTCOME_UNSUPPORTED);

	g_task_set_source_tag(task, ck_ca_real_proof_nonce_async);
	/* TRANSLATORS: the CA's name, then its kind */
	result->message = g_strdup_printf(_("CA '%s' (%s) takes no attestation proofs"),
					  ck_ca_get_name(self), ck_ca_get_kind(self));
	g_task_return_pointer(task, result, (GDestroyNotify)ck_ca_result_free);
}

static CkCaResult *
ck_ca_real_proof_nonce_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* A CA with nothing to refresh: done at once. */
static void
ck_ca_real_refresh_async(CkCa *self, GCancellable *cancellable, GAsyncReadyCallback callback,
			 gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ck_ca_real_refresh_async);
	g_task_return_boolean(task, TRUE);
}

static gboolean
ck_ca_real_refresh_finish(CkCa *self, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
ck_ca_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(CK_CA(object));
	switch (prop_id) {
	case PROP_NAME:
		g_free(priv->name);
		priv->name = g_value_dup_string(value);
		break;
	case PROP_KIND:
		g_free(priv->kind);
		priv->kind = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
ck_ca_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(CK_CA(object));
	switch (prop_id) {
	case PROP_NAME:
		g_value_set_string(value, priv->name);
		break;
	case PROP_KIND:
		g_value_set_string(value, priv->kind);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
ck_ca_finalize(GObject *object)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(CK_CA(object));
	g_free(priv->name);
	g_free(priv->kind);
	g_free(priv->error);
	g_free(priv->identity);
	g_strfreev(priv->templates);
	g_free(priv->default_template);
	g_strfreev(priv->new_requirements);
	g_strfreev(priv->renew_requirements);
	ck_ca_csr_attributes_free(priv->csr_attributes);
	G_OBJECT_CLASS(ck_ca_parent_class)->finalize(object);
}

static void
ck_ca_init(CkCa *self)
{
	CkCaPrivate *priv = ck_ca_get_instance_private(self);
	priv->templates = g_new0(gchar *, 1);
	priv->new_requirements = g_new0(gchar *, 1);
	priv->renew_requirements = g_new0(gchar *, 1);
}

static void
ck_ca_class_init(CkCaClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->set_property = ck_ca_set_property;
	object_class->get_property = ck_ca_get_property;
	object_class->finalize = ck_ca_finalize;
	klass->refresh_async = ck_ca_real_refresh_async;
	klass->refresh_finish = ck_ca_real_refresh_finish;
	klass->revoke_async = ck_ca_real_revoke_async;
	klass->revoke_finish = ck_ca_real_revoke_finish;
	klass->proof_nonce_async = ck_ca_real_proof_nonce_async;
	klass->proof_nonce_finish = ck_ca_real_proof_nonce_finish;
	properties[PROP_NAME] =
	    g_param_spec_string("name", NULL, NULL, NULL,
				G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	properties[PROP_KIND] =
	    g_param_spec_string("kind", NULL, NULL, NULL,
				G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, PROP_LAST, properties);
}
