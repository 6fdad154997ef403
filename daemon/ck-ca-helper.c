/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/pkcs7.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-ca-helper.h"
#include "ck-error.h"
#include "ck-subprocess.h"

/* The only inherited setting: a helper must not see the daemon's environment. */
#define CK_CA_HELPER_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* certmonger's helper exit codes (doc/submit.txt) */
enum {
	CK_HELPER_EXIT_ISSUED = 0,
	CK_HELPER_EXIT_WAIT = 1,
	CK_HELPER_EXIT_REJECTED = 2,
	CK_HELPER_EXIT_UNREACHABLE = 3,
	CK_HELPER_EXIT_UNDERCONFIGURED = 4,
	CK_HELPER_EXIT_WAIT_WITH_DELAY = 5,
	CK_HELPER_EXIT_UNSUPPORTED = 6,
	CK_HELPER_EXIT_NEED_SCEP_DATA = 16,
	CK_HELPER_EXIT_NEED_NEW_KEY = 17,
};

struct _CkCaHelper {
	CkCa parent_instance;
	gchar *command; /* as configured; messages name only the program (argv[0]): a
			 * command certkeeperd built from settings is long */
	GStrv argv;
	guint timeout_seconds;
	gsize max_output;
	gchar *roots; /* PEM from the last successful FETCH-ROOTS; NULL before */
	guint refreshing; /* refreshes in flight */
	/* submissions that came while a refresh ran: they wait for its requirements
	 * and default template, which may not be known yet (start-up) */
	GQueue deferred;
	GQueue deferred_windows; /* likewise GET-RENEWAL-WINDOW runs (a refresh may enable it) */
};

G_DEFINE_TYPE(CkCaHelper, ck_ca_helper, CK_TYPE_CA)

/* What a run of the helper left: the CA helper's view of a CkSubprocessResult. */
typedef struct {
	gchar *operation;
	CkSubprocessResult *result;
} CkHelperRun;

static void
ck_helper_run_free(CkHelperRun *run)
{
	ck_subprocess_result_free(run->result);
	g_free(run->operation);
	g_free(run);
}

static void
ck_helper_run_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkHelperRun *run = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;

	run->result = ck_subprocess_run_finish(res, &error);
	if (run->result != NULL) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	/* a helper that does not answer in time is a CA that cannot be reached */
	if (g_error_matches(error, CK_ERROR, CK_ERROR_TIMED_OUT))
		error->code = CK_ERROR_CA_UNREACHABLE;
	/* and one that cannot even be started is a configuration problem */
	else if (g_error_matches(error, CK_ERROR, CK_ERROR_NOT_FOUND))
		error->code = CK_ERROR_CA_UNDERCONFIGURED;
	g_task_return_error(task, g_steal_pointer(&error));
}

/*
 * Runs the helper for @operation with @env added to the scrubbed environment;
 * completes when it has exited, then the task data holds what it printed.
 */
static void
ck_helper_run_async(CkCaHelper *self, const gchar *operation, GStrv env,
		    GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) environment = NULL;
	g_autofree gchar *op = g_strdup_printf("CERTMONGER_OPERATION=%s", operation);
	g_autofree gchar *nickname =
	    g_strdup_printf("CERTMONGER_CA_NICKNAME=%s", ck_ca_get_name(CK_CA(self)));
	g_autofree gchar *label =
	    /* TRANSLATORS: names a run in the log: CA name, then the operation */
	    g_strdup_printf(_("CA %s helper (%s)"), ck_ca_get_name(CK_CA(self)), operation);
	CkSubprocessSpec spec = CK_SUBPROCESS_SPEC_INIT;
	CkHelperRun *run = g_new0(CkHelperRun, 1);

	run->operation = g_strdup(operation);
	g_task_set_source_tag(task, ck_helper_run_async);
	g_task_set_task_data(task, run, (GDestroyNotify)ck_helper_run_free);
	g_strv_builder_add_many(builder, CK_CA_HELPER_PATH, "LANG=C.UTF-8", op, nickname, NULL);
	g_strv_builder_addv(builder, (const char **)env);
	environment = g_strv_builder_end(builder);
	spec.argv = (const gchar *const *)self->argv;
	spec.envp = (const gchar *const *)environment;
	spec.label = label;
	spec.timeout_seconds = self->timeout_seconds;
	spec.max_stdout = self->max_output;
	ck_subprocess_run_async(&spec, cancellable, ck_helper_run_cb, g_steal_pointer(&task));
}

static CkHelperRun *
ck_helper_run_finish(CkCaHelper *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), NULL);
	if (!g_task_propagate_boolean(G_TASK(res), error))
		return NULL;
	return g_task_get_task_data(G_TASK(res));
}

/* stdout as text (messages, cookies). */
static gchar *
ck_helper_run_text(CkHelperRun *run)
{
	return ck_subprocess_result_get_text(run->result);
}

/* Certificates */

static gchar *
ck_helper_crt_to_pem(gnutls_x509_crt_t crt)
{
	gnutls_datum_t out = {NULL, 0};
	gchar *pem;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out) < 0)
		return NULL;
	pem = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	return pem;
}

static void
ck_helper_crt_array_free(GPtrArray *certs)
{
	for (guint i = 0; i < certs->len; i++)
		gnutls_x509_crt_deinit(g_ptr_array_index(certs, i));
	g_ptr_array_free(certs, TRUE);
}

/* Adds every certificate of a PKCS#7 bundle to @certs. */
static int
ck_helper_import_pkcs7(const gnutls_datum_t *datum, gnutls_x509_crt_fmt_t format,
		       GPtrArray *certs)
{
	gnutls_pkcs7_t pkcs7 = NULL;
	int count, rc;

	rc = gnutls_pkcs7_init(&pkcs7);
	if (rc < 0)
		return rc;
	rc = gnutls_pkcs7_import(pkcs7, datum, format);
	count = rc < 0 ? 0 : gnutls_pkcs7_get_crt_count(pkcs7);
	for (int i = 0; rc >= 0 && i < count; i++) {
		gnutls_datum_t raw = {NULL, 0};
		gnutls_x509_crt_t crt = NULL;
		rc = gnutls_pkcs7_get_crt_raw2(pkcs7, (unsigned)i, &raw);
		if (rc >= 0)
			rc = gnutls_x509_crt_init(&crt);
		if (rc >= 0)
			rc = gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER);
		gnutls_free(raw.data);
		if (rc >= 0)
			g_ptr_array_add(certs, crt);
		else if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
	}
	gnutls_pkcs7_deinit(pkcs7);
	return rc;
}

static void
ck_helper_import_pem_certificates(const gnutls_datum_t *datum, GPtrArray *certs)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned int n = 0;

	if (gnutls_x509_crt_list_import2(&list, &n, datum, GNUTLS_X509_FMT_PEM, 0) < 0)
		return;
	for (unsigned int i = 0; i < n; i++)
		g_ptr_array_add(certs, list[i]);
	gnutls_free(list);
}

/* Every certificate in @data, in the order given (PEM or DER, X.509 or PKCS#7). */
static GPtrArray *
ck_helper_import_certificates(GBytes *data)
{
	GPtrArray *certs = g_ptr_array_new();
	gsize len = 0;
	const gchar *bytes = g_bytes_get_data(data, &len);
	gnutls_datum_t datum = {(unsigned char *)bytes, (unsigned int)len};

	if (len > 0 && g_strstr_len(bytes, (gssize)len, "-----BEGIN ") != NULL) {
		ck_helper_import_pem_certificates(&datum, certs);
		if (g_strstr_len(bytes, (gssize)len, "-----BEGIN PKCS7") != NULL)
			ck_helper_import_pkcs7(&datum, GNUTLS_X509_FMT_PEM, certs);
	} else if (len > 0) {
		gnutls_x509_crt_t crt = NULL;
		if (gnutls_x509_crt_init(&crt) >= 0 &&
		    gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) >= 0) {
			g_ptr_array_add(certs, crt);
		} else {
			if (crt != NULL)
				gnutls_x509_crt_deinit(crt);
			ck_helper_import_pkcs7(&datum, GNUTLS_X509_FMT_DER, certs);
		}
	}
	return certs;
}

/* The index of the certificate that carries @csr_pem's public key, or 0 if none does. */
static guint
ck_helper_find_leaf(GPtrArray *certs, const gchar *csr_pem)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t datum = {(unsigned char *)csr_pem, csr_pem != NULL ? strlen(csr_pem) : 0};
	guint8 want[64];
	size_t want_size = sizeof(want);
	guint found = 0;

	if (csr_pem == NULL || gnutls_x509_crq_init(&crq) < 0)
		return 0;
	if (gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crq_get_key_id(crq, GNUTLS_KEYID_USE_SHA256, want, &want_size) >= 0) {
		for (guint i = 0; i < certs->len; i++) {
			guint8 have[64];
			size_t have_size = sizeof(have);
			if (gnutls_x509_crt_get_key_id(g_ptr_array_index(certs, i),
						       GNUTLS_KEYID_USE_SHA256, have,
						       &have_size) >= 0 &&
			    have_size == want_size && memcmp(have, want, want_size) == 0) {
				found = i;
				break;
			}
		}
	}
	gnutls_x509_crq_deinit(crq);
	return found;
}

gboolean
ck_ca_helper_split_certificates(GBytes *data, const gchar *csr_pem, gchar **leaf_out,
				gchar **chain_out, GError **error)
{
	GPtrArray *certs = ck_helper_import_certificates(data);
	g_autoptr(GString) chain = g_string_new(NULL);
	gnutls_x509_crt_t current;
	g_autofree gchar *leaf = NULL;

	if (certs->len == 0) {
		ck_helper_crt_array_free(certs);
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The CA's answer holds no certificate that can be read (PEM or "
				      "DER, X.509 or PKCS#7 expected)"));
		return FALSE;
	}
	current = g_ptr_array_steal_index(certs, ck_helper_find_leaf(certs, csr_pem));
	leaf = ck_helper_crt_to_pem(current);
	/* walk up from the leaf so the chain file starts with the leaf's issuer */
	for (;;) {
		gnutls_x509_crt_t issuer = NULL;
		guint i;
		for (i = 0; i < certs->len; i++) {
			if (gnutls_x509_crt_check_issuer(current, g_ptr_array_index(certs, i))) {
				issuer = g_ptr_array_index(certs, i);
				break;
			}
		}
		gnutls_x509_crt_deinit(current);
		if (issuer == NULL)
			break;
		current = g_ptr_array_steal_index(certs, i);
		{
			g_autofree gchar *pem = ck_helper_crt_to_pem(current);
			if (pem != NULL)
				g_string_append(chain, pem);
		}
	}
	/* whatever is left is not above the leaf, but the CA sent it: keep it after */
	for (guint i = 0; i < certs->len; i++) {
		g_autofree gchar *pem = ck_helper_crt_to_pem(g_ptr_array_index(certs, i));
		if (pem != NULL)
			g_string_append(chain, pem);
	}
	ck_helper_crt_array_free(certs);
	if (leaf == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CRYPTO,
				    _("The CA's certificate cannot be encoded"));
		return FALSE;
	}
	*leaf_out = g_steal_pointer(&leaf);
	*chain_out = chain->len > 0 ? g_string_free(g_steal_pointer(&chain), FALSE) : NULL;
	return TRUE;
}

/* SUBMIT and POLL */

static void
ck_helper_add_env(GStrvBuilder *builder, const gchar *name, const gchar *value)
{
	g_autofree gchar *entry = NULL;
	if (value == NULL || value[0] == '\0')
		return;
	entry = g_strdup_printf("%s=%s", name, value);
	g_strv_builder_add(builder, entry);
}

/* certmonger passes several names in one variable, separated by commas. */
static void
ck_helper_add_env_list(GStrvBuilder *builder, const gchar *name, const gchar *const *values)
{
	g_autofree gchar *joined = NULL;
	if (values == NULL || values[0] == NULL)
		return;
	joined = g_strjoinv(",", (gchar **)values);
	ck_helper_add_env(builder, name, joined);
}

static GStrv
ck_helper_submission_env(const CkCaSubmission *submission, const gchar *profile)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	const CkCsrParams *names = submission->names;

	ck_helper_add_env(builder, "CERTMONGER_CSR", submission->csr);
	ck_helper_add_env(builder, "CERTMONGER_CA_COOKIE", submission->cookie);
	ck_helper_add_env(builder, "CERTMONGER_CA_PROFILE", profile);
	ck_helper_add_env(builder, "CERTMONGER_CERTIFICATE", submission->certificate);
	ck_helper_add_env(builder, "CERTKEEPER_REQUEST_ID", submission->request_id);
	/* certkeeper's additions: which identity authenticates this submission, and where */
	ck_helper_add_env(builder, "CERTKEEPER_AUTH_IDENTITY", submission->identity);
	ck_helper_add_env(builder, "CERTKEEPER_AUTH_CERTIFICATE", submission->auth_cert_file);
	ck_helper_add_env(builder, "CERTKEEPER_AUTH_KEY", submission->auth_key_file);
	ck_helper_add_env(builder, "CERTKEEPER_KEY_FILE", submission->key_file);
	/* the attestation proof: the key to register, and for identity "proof" the proof */
	ck_helper_add_env(builder, "CERTKEEPER_PROOF_PUBLIC_KEY", submission->proof_public_key);
	ck_helper_add_env(builder, "CERTKEEPER_PROOF_NONCE", submission->proof_nonce);
	ck_helper_add_env(builder, "CERTKEEPER_PROOF_SIGNATURE", submission->proof_signature);
	ck_helper_add_env(builder, "CERTKEEPER_PROOF_ALGORITHM", submission->proof_algorithm);
	ck_helper_add_env(builder, "CERTKEEPER_TRACE_ID", submission->trace_id);
	ck_helper_add_env(builder, "CERTKEEPER_TPM_TCTI", submission->tpm_tcti);
	if (submission->validity > 0) {
		g_autofree gchar *validity = g_strdup_printf("%lld", (long long)submission->validity);
		ck_helper_add_env(builder, "CERTKEEPER_VALIDITY", validity);
	}
	if (names != NULL) {
		ck_helper_add_env(builder, "CERTMONGER_REQ_SUBJECT", names->subject);
		ck_helper_add_env_list(builder, "CERTMONGER_REQ_HOSTNAME", names->dns_names);
		ck_helper_add_env_list(builder, "CERTMONGER_REQ_EMAIL", names->emails);
		ck_helper_add_env_list(builder, "CERTMONGER_REQ_IP_ADDRESS", names->ip_addresses);
		ck_helper_add_env_list(builder, "CERTMONGER_REQ_PRINCIPAL", names->principals);
	}
	return g_strv_builder_end(builder);
}

/* Which request option fills a helper variable, for telling users what to add. */
static const gchar *
ck_helper_option_for(const gchar *variable)
{
	static const struct {
		const gchar *variable;
		const gchar *option;
	} options[] = {
	    {"CERTMONGER_CA_PROFILE", "--profile (-T)"},
	    {"CERTMONGER_REQ_SUBJECT", "--subject (-N)"},
	    {"CERTMONGER_REQ_HOSTNAME", "--dns (-D)"},
	    {"CERTMONGER_REQ_EMAIL", "--email (-E)"},
	    {"CERTMONGER_REQ_IP_ADDRESS", "--ip (-A)"},
	    {"CERTMONGER_REQ_PRINCIPAL", "--principal (-K)"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(options); i++) {
		if (g_strcmp0(options[i].variable, variable) == 0)
			return options[i].option;
	}
	return NULL;
}

/*
 * The first variable the CA requires (GET-NEW/RENEW-REQUEST-REQUIREMENTS) that
 * @env leaves empty, or NULL. certmonger checks this before it submits, so a
 * helper may rely on it instead of failing obscurely.
 */
static const gchar *
ck_helper_missing_requirement(CkCaHelper *self, gboolean renewal, GStrv env)
{
	const gchar *const *required = ck_ca_get_requirements(CK_CA(self), renewal);

	for (guint i = 0; required[i] != NULL; i++) {
		gboolean present = FALSE;
		gsize len = strlen(required[i]);
		/* the session's own variables are always set */
		if (g_str_equal(required[i], "CERTMONGER_OPERATION") ||
		    g_str_equal(required[i], "CERTMONGER_CA_NICKNAME"))
			continue;
		for (guint j = 0; env[j] != NULL && !present; j++)
			present = strncmp(env[j], required[i], len) == 0 && env[j][len] == '=' &&
				  env[j][len + 1] != '\0';
		if (!present)
			return required[i];
	}
	return NULL;
}

typedef struct {
	gchar *csr;
	const gchar *operation; /* SUBMIT or POLL */
	GStrv env;
	gboolean renewal;     /* a certificate was issued before */
	gboolean has_profile; /* the request names its own profile */
} CkHelperSubmit;

static void
ck_helper_submit_free(CkHelperSubmit *data)
{
	g_free(data->csr);
	g_strfreev(data->env);
	g_free(data);
}

/* A message for a failure outcome: stdout by the protocol, stderr if stdout was empty. */
static gchar *
ck_helper_outcome_message(CkHelperRun *run)
{
	g_autofree gchar *text = ck_helper_run_text(run);
	if (text[0] != '\0')
		return g_steal_pointer(&text);
	return g_strdup(run->result->err);
}

/*
 * What a question other than SUBMIT and POLL (a nonce, a renewal window) comes
 * to when the helper did not answer it with 0: 6 unsupported, 2 rejected,
 * 4 underconfigured, and 3, a crash or any other code "ask again later".
 */
static CkCaOutcome
ck_helper_question_failed(CkCaHelper *self, CkHelperRun *run, gchar **message_out)
{
	switch (run->result->exit_status) {
	case CK_HELPER_EXIT_UNSUPPORTED:
		*message_out = g_strdup_printf(_("The CA helper %s does not support %s"),
					       self->argv[0], run->operation);
		return CK_CA_OUTCOME_UNSUPPORTED;
	case CK_HELPER_EXIT_REJECTED:
		*message_out = ck_helper_outcome_message(run);
		return CK_CA_OUTCOME_REJECTED;
	case CK_HELPER_EXIT_UNDERCONFIGURED:
		*message_out = ck_helper_outcome_message(run);
		return CK_CA_OUTCOME_UNDERCONFIGURED;
	default:
		*message_out = ck_helper_outcome_message(run);
		return CK_CA_OUTCOME_UNREACHABLE;
	}
}

static void
ck_helper_submit_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkCaHelper *self = CK_CA_HELPER(source);
	CkHelperSubmit *data = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	CkHelperRun *run = ck_helper_run_finish(self, res, &error);
	g_autoptr(CkCaResult) result = NULL;

	if (run == NULL) {
		/* a helper that cannot even be started needs its configuration fixed */
		if (g_error_matches(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED)) {
			result = ck_ca_result_new(CK_CA_OUTCOME_UNDERCONFIGURED);
			result->message = g_strdup(error->message);
			g_task_return_pointer(task, g_steal_pointer(&result),
					      (GDestroyNotify)ck_ca_result_free);
			return;
		}
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	switch (run->result->exit_status) {
	case CK_HELPER_EXIT_ISSUED:
		result = ck_ca_result_new(CK_CA_OUTCOME_ISSUED);
		if (!ck_ca_helper_split_certificates(run->result->out, data->csr, &result->certificate,
						     &result->chain, &error)) {
			g_prefix_error(&error, _("The CA helper %s reported success, but: "),
				       self->argv[0]);
			g_task_return_error(task, g_steal_pointer(&error));
			return;
		}
		break;
	case CK_HELPER_EXIT_WAIT:
		result = ck_ca_result_new(CK_CA_OUTCOME_WAIT);
		result->cookie = ck_helper_run_text(run);
		break;
	case CK_HELPER_EXIT_WAIT_WITH_DELAY: {
		g_autofree gchar *text = ck_helper_run_text(run);
		const gchar *newline = strchr(text, '\n');
		g_autofree gchar *delay = g_strndup(text, newline != NULL ? (gsize)(newline - text)
									  : strlen(text));
		guint64 seconds = 0;
		if (!g_ascii_string_to_unsigned(g_strstrip(delay), 10, 0, G_MAXUINT32, &seconds,
						NULL)) {
			g_task_return_new_error(task, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
						_("The CA helper %s asked to wait, but '%s' is not "
						  "a number of seconds"),
						self->argv[0], delay);
			return;
		}
		result = ck_ca_result_new(CK_CA_OUTCOME_WAIT);
		result->delay = seconds;
		result->cookie = g_strdup(newline != NULL ? g_strstrip((gchar *)newline + 1) : "");
		break;
	}
	case CK_HELPER_EXIT_REJECTED:
		result = ck_ca_result_new(CK_CA_OUTCOME_REJECTED);
		result->message = ck_helper_outcome_message(run);
		break;
	case CK_HELPER_EXIT_UNREACHABLE:
		result = ck_ca_result_new(CK_CA_OUTCOME_UNREACHABLE);
		result->message = ck_helper_outcome_message(run);
		break;
	case CK_HELPER_EXIT_UNDERCONFIGURED:
		result = ck_ca_result_new(CK_CA_OUTCOME_UNDERCONFIGURED);
		result->message = ck_helper_outcome_message(run);
		break;
	case CK_HELPER_EXIT_UNSUPPORTED:
		result = ck_ca_result_new(CK_CA_OUTCOME_UNSUPPORTED);
		result->message = g_strdup_printf(_("The CA helper %s does not support %s"),
						  self->argv[0], run->operation);
		break;
	case CK_HELPER_EXIT_NEED_SCEP_DATA:
		result = ck_ca_result_new(CK_CA_OUTCOME_UNDERCONFIGURED);
		result->message = g_strdup_printf(
		    _("The CA helper %s wants certmonger's pre-built SCEP messages; use "
		      "certkeeper's own SCEP helper instead"),
		    self->argv[0]);
		break;
	case CK_HELPER_EXIT_NEED_NEW_KEY:
		result = ck_ca_result_new(CK_CA_OUTCOME_NEED_NEW_KEY);
		result->message = ck_helper_outcome_message(run);
		break;
	default: {
		g_autofree gchar *message = ck_helper_outcome_message(run);
		/* a crash or an unknown code: the CA could not answer, so try again later */
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
					run->result->exit_status < 0
					    ? _("The CA helper %s was killed by a signal: %s")
					    : _("The CA helper %s exited with unknown status: %s"),
					self->argv[0], message);
		return;
	}
	}
	g_task_return_pointer(task, g_steal_pointer(&result), (GDestroyNotify)ck_ca_result_free);
}

/* Runs a submission, against what the CA last said it requires. Takes @task. */
static void
ck_helper_submit_start(CkCaHelper *self, GTask *task)
{
	CkCa *ca = CK_CA(self);
	CkHelperSubmit *data = g_task_get_task_data(task);
	const gchar *default_template = ck_ca_get_default_template(ca);
	const gchar *missing;

	/* as certmonger does: a request without a profile gets the CA's default */
	if (!data->has_profile && default_template[0] != '\0') {
		g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
		g_autofree gchar *entry =
		    g_strdup_printf("CERTMONGER_CA_PROFILE=%s", default_template);
		g_strv_builder_addv(builder, (const char **)data->env);
		g_strv_builder_add(builder, entry);
		g_strfreev(data->env);
		data->env = g_strv_builder_end(builder);
	}
	missing = ck_helper_missing_requirement(self, data->renewal, data->env);
	if (missing != NULL) {
		g_autoptr(CkCaResult) result = ck_ca_result_new(CK_CA_OUTCOME_UNDERCONFIGURED);
		const gchar *option = ck_helper_option_for(missing);
		result->message =
		    option != NULL
			/* TRANSLATORS: CA name, helper variable, then a request option */
			? g_strdup_printf(_("CA '%s' requires %s, which this request leaves "
					    "empty; set it with %s"),
					  ck_ca_get_name(ca), missing, option)
			: g_strdup_printf(_("CA '%s' requires %s, which certkeeper does not "
					    "provide; this CA cannot be used through certkeeper"),
					  ck_ca_get_name(ca), missing);
		g_task_return_pointer(task, g_steal_pointer(&result),
				      (GDestroyNotify)ck_ca_result_free);
		g_object_unref(task);
		return;
	}
	ck_helper_run_async(self, data->operation, data->env, g_task_get_cancellable(task),
			    ck_helper_submit_cb, task);
}

static void
ck_ca_helper_submit_async(CkCa *ca, const CkCaSubmission *submission, GCancellable *cancellable,
			  GAsyncReadyCallback callback, gpointer user_data)
{
	CkCaHelper *self = CK_CA_HELPER(ca);
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	CkHelperSubmit *data = g_new0(CkHelperSubmit, 1);

	data->csr = g_strdup(submission->csr);
	data->operation = submission->cookie != NULL ? "POLL" : "SUBMIT";
	data->env = ck_helper_submission_env(submission, submission->profile);
	data->renewal = submission->certificate != NULL;
	data->has_profile = submission->profile != NULL && submission->profile[0] != '\0';
	g_task_set_source_tag(task, ck_ca_helper_submit_async);
	g_task_set_task_data(task, data, (GDestroyNotify)ck_helper_submit_free);
	if (self->refreshing > 0) {
		g_queue_push_tail(&self->deferred, task);
		return;
	}
	ck_helper_submit_start(self, task);
}

static CkCaResult *
ck_ca_helper_submit_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, ca), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* CERTKEEPER-GET-PROOF-NONCE (certkeeper's extension) */

static void
ck_helper_nonce_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkCaHelper *self = CK_CA_HELPER(source);
	g_autoptr(GError) error = NULL;
	CkHelperRun *run = ck_helper_run_finish(self, res, &error);
	g_autoptr(CkCaResult) result = NULL;

	if (run == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	switch (run->result->exit_status) {
	case CK_HELPER_EXIT_ISSUED: {
		g_autofree gchar *text = ck_helper_run_text(run);
		g_auto(GStrv) lines = g_strsplit(text, "\n", 2);
		const gchar *nonce = lines[0] != NULL ? g_strstrip(lines[0]) : "";
		/* the nonce goes into a signed message and an environment: printable only */
		gboolean printable = nonce[0] != '\0';
		for (const gchar *c = nonce; *c != '\0' && printable; c++)
			printable = g_ascii_isgraph(*c);
		if (!printable) {
			result = ck_ca_result_new(CK_CA_OUTCOME_UNREACHABLE);
			result->message = g_strdup_printf(
			    _("The CA helper %s answered %s without a usable nonce"), self->argv[0],
			    run->operation);
			break;
		}
		result = ck_ca_result_new(CK_CA_OUTCOME_ISSUED);
		result->nonce = g_strdup(nonce);
		break;
	}
	default: {
		/* on 3, a crash or any other code: no nonce this time, ask again later */
		gchar *message = NULL;
		result = ck_ca_result_new(ck_helper_question_failed(self, run, &message));
		result->message = message;
		break;
	}
	}
	g_task_return_pointer(task, g_steal_pointer(&result), (GDestroyNotify)ck_ca_result_free);
}

static void
ck_ca_helper_proof_nonce_async(CkCa *ca, const CkCaSubmission *submission,
			       GCancellable *cancellable, GAsyncReadyCallback callback,
			       gpointer user_data)
{
	CkCaHelper *self = CK_CA_HELPER(ca);
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_auto(GStrv) env = ck_helper_submission_env(submission, submission->profile);

	g_task_set_source_tag(task, ck_ca_helper_proof_nonce_async);
	ck_helper_run_async(self, "CERTKEEPER-GET-PROOF-NONCE", env, cancellable,
			    ck_helper_nonce_cb, task);
}

static CkCaResult *
ck_ca_helper_proof_nonce_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, ca), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* FETCH-ROOTS */

/*
 * The answer is sections separated by blank lines: the CA's root (a nickname line,
 * then PEM), other trusted roots, then other known certificates. The first two are
 * trust anchors; the third is not. An empty section is just one more blank line.
 */
static gchar *
ck_helper_parse_roots(const gchar *text)
{
	g_autoptr(GString) anchors = g_string_new(NULL);
	g_autoptr(GString) roots = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GBytes) bytes = NULL;
	GPtrArray *certs;
	guint section = 0;

	for (guint i = 0; lines[i] != NULL && section < 2; i++) {
		if (g_strstrip(lines[i])[0] == '\0') {
			section++;
			continue;
		}
		g_string_append_printf(anchors, "%s\n", lines[i]);
	}
	bytes = g_bytes_new(anchors->str, anchors->len);
	certs = ck_helper_import_certificates(bytes);
	for (guint i = 0; i < certs->len; i++) {
		g_autofree gchar *pem = ck_helper_crt_to_pem(g_ptr_array_index(certs, i));
		if (pem != NULL)
			g_string_append(roots, pem);
	}
	ck_helper_crt_array_free(certs);
	return roots->len > 0 ? g_string_free(g_steal_pointer(&roots), FALSE) : NULL;
}

/* Keeps what FETCH-ROOTS answered; FALSE with @error if it failed. */
static gboolean
ck_helper_take_roots(CkCaHelper *self, CkHelperRun *run, GError **error)
{
	g_autofree gchar *text = NULL;
	g_autofree gchar *roots = NULL;

	/* a CA that does not publish roots is fine: chains verify against what it sent */
	if (run->result->exit_status == CK_HELPER_EXIT_UNSUPPORTED)
		return TRUE;
	text = ck_helper_run_text(run);
	if (run->result->exit_status != CK_HELPER_EXIT_ISSUED) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: command, exit status, then its message */
			    _("The CA helper %s could not fetch the CA's roots (status %d): %s"),
			    self->argv[0], run->result->exit_status, text);
		return FALSE;
	}
	roots = ck_helper_parse_roots(text);
	if (roots == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("The CA helper %s answered FETCH-ROOTS without a certificate"),
			    self->argv[0]);
		return FALSE;
	}
	g_free(self->roots);
	self->roots = g_steal_pointer(&roots);
	return TRUE;
}

/* The answer's non-empty lines: certmonger's lists are one item per line. */
static GStrv
ck_helper_run_lines(CkHelperRun *run)
{
	g_autofree gchar *text = ck_helper_run_text(run);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	for (guint i = 0; lines[i] != NULL; i++) {
		if (g_strstrip(lines[i])[0] != '\0')
			g_strv_builder_add(builder, lines[i]);
	}
	return g_strv_builder_end(builder);
}

/*
 * What a refresh asks the helper, in order. After the roots, the answers only
 * describe the CA: a helper that does not know an operation (6, or any other
 * failure but "unreachable") simply says nothing about it.
 */
static const gchar *const ck_helper_refresh_operations[] = {
    "FETCH-ROOTS",
    "IDENTIFY",
    "GET-NEW-REQUEST-REQUIREMENTS",
    "GET-RENEW-REQUEST-REQUIREMENTS",
    "GET-SUPPORTED-TEMPLATES",
    "GET-DEFAULT-TEMPLATE",
    "CERTKEEPER-GET-CSR-ATTRIBUTES",
};

static gboolean
ck_helper_is_oid(const gchar *text)
{
	gboolean digit = FALSE;
	guint dots = 0;

	for (const gchar *p = text; *p != '\0'; p++) {
		if (g_ascii_isdigit(*p)) {
			digit = TRUE;
		} else if (*p == '.' && digit) {
			digit = FALSE;
			dots++;
		} else {
			return FALSE;
		}
	}
	return digit && dots >= 1;
}

CkCaCsrAttributes *
ck_ca_helper_parse_csr_attributes(const gchar *text, gchar **message_out)
{
	g_autoptr(CkCaCsrAttributes) attributes = ck_ca_csr_attributes_new();
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", -1);
	g_autoptr(GStrvBuilder) unfilled = g_strv_builder_new();

	for (guint i = 0; lines[i] != NULL; i++) {
		gchar *line = g_strstrip(lines[i]);
		g_auto(GStrv) words = g_strsplit(line, " ", 4);
		guint n = g_strv_length(words);

		if (line[0] == '\0')
			continue;
		if (g_str_equal(words[0], "key-type") && n == 2 && words[1][0] != '\0') {
			g_free(attributes->key_type);
			attributes->key_type = g_ascii_strdown(words[1], -1);
		} else if (g_str_equal(words[0], "challenge-password")) {
			const gchar *value = line + strlen("challenge-password");
			attributes->challenge_password = TRUE;
			g_free(attributes->challenge);
			attributes->challenge = value[0] == ' ' && value[1] != '\0'
						    ? g_strdup(value + 1)
						    : NULL;
		} else if (g_str_equal(words[0], "extension") && n == 4 &&
			   ck_helper_is_oid(words[1]) &&
			   (g_str_equal(words[2], "critical") ||
			    g_str_equal(words[2], "noncritical"))) {
			gsize len = 0;
			guchar *der = g_base64_decode(words[3], &len);
			g_autoptr(GBytes) value = g_bytes_new_take(der, len);
			if (len == 0) {
				*message_out = g_strdup_printf(
				    /* TRANSLATORS: the line of the helper's answer */
				    _("the extension “%s” has no value (base64 of its DER)"), line);
				return NULL;
			}
			g_ptr_array_add(attributes->extensions,
					ck_csr_extension_new(words[1], g_str_equal(words[2], "critical"),
							     value));
		} else if (g_str_equal(words[0], "attribute") && n == 2 &&
			   ck_helper_is_oid(words[1])) {
			g_strv_builder_add(unfilled, words[1]);
		} else if (g_str_equal(words[0], "key-type") || g_str_equal(words[0], "extension") ||
			   g_str_equal(words[0], "attribute")) {
			*message_out = g_strdup_printf(
			    /* TRANSLATORS: the line of the helper's answer */
			    _("the line “%s” is not in the form docs/helper-protocol.md gives"), line);
			return NULL;
		} else {
			g_debug("CERTKEEPER-GET-CSR-ATTRIBUTES: skipping the unknown item '%s'", line);
		}
	}
	g_strfreev(attributes->unfilled);
	attributes->unfilled = g_strv_builder_end(unfilled);
	return g_steal_pointer(&attributes);
}

/* Keeps one descriptive answer; FALSE with @error if the CA could not be reached. */
static gboolean
ck_helper_take_description(CkCaHelper *self, CkHelperRun *run, GError **error)
{
	CkCa *ca = CK_CA(self);
	gboolean answered = run->result->exit_status == CK_HELPER_EXIT_ISSUED;
	g_auto(GStrv) lines = NULL;

	if (run->result->exit_status == CK_HELPER_EXIT_UNREACHABLE) {
		g_autofree gchar *text = ck_helper_outcome_message(run);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: command, operation, then the helper's message */
			    _("The CA helper %s could not reach the CA for %s: %s"), self->argv[0],
			    run->operation, text);
		return FALSE;
	}
	if (g_strcmp0(run->operation, "CERTKEEPER-GET-CSR-ATTRIBUTES") == 0) {
		g_autofree gchar *text = answered ? ck_helper_run_text(run) : NULL;
		g_autofree gchar *why = NULL;
		CkCaCsrAttributes *attributes = NULL;
		/* a helper that does not know the operation asks for nothing */
		if (answered) {
			attributes = ck_ca_helper_parse_csr_attributes(text, &why);
			if (attributes == NULL)
				g_warning("CA %s: the helper %s answered %s, but %s; its CSR "
					  "attributes are ignored",
					  ck_ca_get_name(ca), self->argv[0], run->operation, why);
		}
		ck_ca_set_csr_attributes(ca, attributes);
		return TRUE;
	}
	lines = answered ? ck_helper_run_lines(run) : g_new0(gchar *, 1);
	if (g_strcmp0(run->operation, "IDENTIFY") == 0)
		ck_ca_set_identity(ca, lines[0]);
	else if (g_strcmp0(run->operation, "GET-NEW-REQUEST-REQUIREMENTS") == 0)
		ck_ca_set_requirements(ca, FALSE, (const gchar *const *)lines);
	else if (g_strcmp0(run->operation, "GET-RENEW-REQUEST-REQUIREMENTS") == 0)
		ck_ca_set_requirements(ca, TRUE, (const gchar *const *)lines);
	else if (g_strcmp0(run->operation, "GET-SUPPORTED-TEMPLATES") == 0)
		ck_ca_set_templates(ca, (const gchar *const *)lines);
	else
		ck_ca_set_default_template(ca, lines[0]);
	return TRUE;
}

static void
ck_helper_refresh_next(CkCaHelper *self, GTask *task);
static void
ck_helper_window_start(CkCaHelper *self, GTask *task);

/* A refresh ended: once none runs, the submissions that waited for it go. */
static void
ck_helper_refresh_done(CkCaHelper *self)
{
	g_return_if_fail(self->refreshing > 0);
	if (--self->refreshing > 0)
		return;
	while (!g_queue_is_empty(&self->deferred))
		ck_helper_submit_start(self, g_queue_pop_head(&self->deferred));
	while (!g_queue_is_empty(&self->deferred_windows))
		ck_helper_window_start(self, g_queue_pop_head(&self->deferred_windows));
}

static void
ck_helper_refresh_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkCaHelper *self = CK_CA_HELPER(source);
	g_autoptr(GError) error = NULL;
	CkHelperRun *run = ck_helper_run_finish(self, res, &error);

	if (run == NULL ||
	    !(g_strcmp0(run->operation, "FETCH-ROOTS") == 0
		  ? ck_helper_take_roots(self, run, &error)
		  : ck_helper_take_description(self, run, &error))) {
		/* one unreachable answer is enough: the rest would only time out too */
		g_task_return_error(task, g_steal_pointer(&error));
		ck_helper_refresh_done(self);
		return;
	}
	ck_helper_refresh_next(self, g_steal_pointer(&task));
}

/* Runs the next operation of the refresh, or completes it after the last. */
static void
ck_helper_refresh_next(CkCaHelper *self, GTask *task)
{
	guint *next = g_task_get_task_data(task);
	gchar *empty[] = {NULL};

	if (*next == G_N_ELEMENTS(ck_helper_refresh_operations)) {
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		ck_helper_refresh_done(self);
		return;
	}
	ck_helper_run_async(self, ck_helper_refresh_operations[(*next)++], empty,
			    g_task_get_cancellable(task), ck_helper_refresh_cb, task);
}

static void
ck_ca_helper_refresh_async(CkCa *ca, GCancellable *cancellable, GAsyncReadyCallback callback,
			   gpointer user_data)
{
	CkCaHelper *self = CK_CA_HELPER(ca);
	GTask *task = g_task_new(self, cancellable, callback, user_data);

	g_task_set_source_tag(task, ck_ca_helper_refresh_async);
	g_task_set_task_data(task, g_new0(guint, 1), g_free);
	self->refreshing++;
	ck_helper_refresh_next(self, task);
}

static gboolean
ck_ca_helper_refresh_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, ca), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

/* GET-RENEWAL-WINDOW (certkeeper's extension) */

/*
 * The answer: "START END" (Unix seconds, START < END) on the first line and,
 * optionally, the seconds until the CA wants to be asked again on the second.
 * FALSE with @message_out for anything else.
 */
gboolean
ck_ca_helper_parse_window(const gchar *text, gint64 *start_out, gint64 *end_out,
			  gint64 *retry_out, gchar **message_out)
{
	g_auto(GStrv) lines = g_strsplit(text != NULL ? text : "", "\n", 3);
	g_auto(GStrv) fields = NULL;
	gint64 start = 0, end = 0;
	guint64 retry = 0;

	if (lines[0] != NULL)
		fields = g_strsplit(g_strstrip(lines[0]), " ", -1);
	if (fields == NULL || g_strv_length(fields) != 2 ||
	    !g_ascii_string_to_signed(fields[0], 10, 1, G_MAXINT64, &start, NULL) ||
	    !g_ascii_string_to_signed(fields[1], 10, 1, G_MAXINT64, &end, NULL) || end <= start) {
		*message_out = g_strdup_printf(
		    /* TRANSLATORS: the helper's first line of output */
		    _("the renewal window “%s” is not two Unix times START END with START < END"),
		    lines[0] != NULL ? lines[0] : "");
		return FALSE;
	}
	if (lines[1] != NULL && g_strstrip(lines[1])[0] != '\0' &&
	    !g_ascii_string_to_unsigned(lines[1], 10, 0, G_MAXINT32, &retry, NULL)) {
		*message_out = g_strdup_printf(
		    _("the time to ask again “%s” is not a number of seconds"), lines[1]);
		return FALSE;
	}
	*start_out = start;
	*end_out = end;
	*retry_out = (gint64)retry;
	return TRUE;
}

static void
ck_helper_window_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkCaHelper *self = CK_CA_HELPER(source);
	g_autoptr(GError) error = NULL;
	CkHelperRun *run = ck_helper_run_finish(self, res, &error);
	g_autoptr(CkCaWindow) window = NULL;

	if (run == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	switch (run->result->exit_status) {
	case CK_HELPER_EXIT_ISSUED: {
		g_autofree gchar *text = ck_helper_run_text(run);
		g_autofree gchar *why = NULL;
		window = ck_ca_window_new(CK_CA_OUTCOME_ISSUED);
		if (!ck_ca_helper_parse_window(text, &window->start, &window->end,
					       &window->retry_after, &why)) {
			/* a helper that answers nonsense has not answered */
			window->outcome = CK_CA_OUTCOME_UNREACHABLE;
			window->message =
			    /* TRANSLATORS: the command, then what is wrong with its answer */
			    g_strdup_printf(_("The CA helper %s answered GET-RENEWAL-WINDOW, but %s"),
					    self->argv[0], why);
		}
		break;
	}
	default: {
		gchar *message = NULL;
		window = ck_ca_window_new(ck_helper_question_failed(self, run, &message));
		window->message = message;
		break;
	}
	}
	g_task_return_pointer(task, g_steal_pointer(&window), (GDestroyNotify)ck_ca_window_free);
}

/* Takes @task, whose data is the environment for the run. */
static void
ck_helper_window_start(CkCaHelper *self, GTask *task)
{
	/* a refresh that ran meanwhile may have learnt the CA offers none */
	if (!ck_ca_offers_renewal_window(CK_CA(self))) {
		g_autoptr(CkCaWindow) window = ck_ca_window_new(CK_CA_OUTCOME_UNSUPPORTED);
		window->message = g_strdup(_("The CA offers no renewal window"));
		g_task_return_pointer(task, g_steal_pointer(&window),
				      (GDestroyNotify)ck_ca_window_free);
		g_object_unref(task);
		return;
	}
	ck_helper_run_async(self, "GET-RENEWAL-WINDOW", g_task_get_task_data(task),
			    g_task_get_cancellable(task), ck_helper_window_cb, task);
}

static void
ck_ca_helper_renewal_window_async(CkCa *ca, const gchar *request_id, const gchar *certificate,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data)
{
	CkCaHelper *self = CK_CA_HELPER(ca);
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	g_task_set_source_tag(task, ck_ca_helper_renewal_window_async);
	g_autofree gchar *cert_entry = g_strdup_printf("CERTMONGER_CERTIFICATE=%s", certificate);
	g_autofree gchar *id_entry =
	    request_id != NULL ? g_strdup_printf("CERTKEEPER_REQUEST_ID=%s", request_id) : NULL;

	g_strv_builder_add(builder, cert_entry);
	if (id_entry != NULL)
		g_strv_builder_add(builder, id_entry);
	g_task_set_task_data(task, g_strv_builder_end(builder), (GDestroyNotify)g_strfreev);
	if (self->refreshing > 0) {
		g_queue_push_tail(&self->deferred_windows, task);
		return;
	}
	ck_helper_window_start(self, task);
}

static CkCaWindow *
ck_ca_helper_renewal_window_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, ca), NULL);
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* REVOKE (certkeeper's extension) */

static void
ck_helper_revoke_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkCaHelper *self = CK_CA_HELPER(source);
	const gchar *name = ck_ca_get_name(CK_CA(self));
	g_autoptr(GError) error = NULL;
	CkHelperRun *run = ck_helper_run_finish(self, res, &error);
	g_autofree gchar *message = NULL;

	if (run == NULL) {
		/* timed out (unreachable) or not startable (underconfigured): said already */
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (run->result->exit_status == CK_HELPER_EXIT_ISSUED) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	message = ck_helper_outcome_message(run);
	g_strstrip(message);
	switch (run->result->exit_status) {
	case CK_HELPER_EXIT_UNSUPPORTED:
		/* certmonger's helpers know no REVOKE: they all end up here */
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_UNSUPPORTED,
					/* TRANSLATORS: the CA's name, then the helper's command */
					_("CA '%s' cannot revoke certificates: its helper %s does "
					  "not support the REVOKE operation; revoke it at the CA "
					  "itself"),
					name, self->argv[0]);
		break;
	case CK_HELPER_EXIT_REJECTED:
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_CA_REJECTED,
					/* TRANSLATORS: the CA's name, then the CA's words */
					_("CA '%s' refused the revocation: %s"), name, message);
		break;
	case CK_HELPER_EXIT_UNDERCONFIGURED:
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
					/* TRANSLATORS: the CA's name, then the helper's message */
					_("CA '%s' is not configured to revoke: %s"), name, message);
		break;
	default:
		/* 3, a crash, or a status that means nothing here (1 and 5: a revocation
		 * cannot be polled for): the CA did not revoke; try again later */
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
					/* TRANSLATORS: the CA's name, exit status, then the message */
					_("CA '%s' could not be asked to revoke (status %d): %s"),
					name, run->result->exit_status, message);
		break;
	}
}

static void
ck_ca_helper_revoke_async(CkCa *ca, const gchar *request_id, const gchar *certificate,
			  gint reason, GCancellable *cancellable, GAsyncReadyCallback callback,
			  gpointer user_data)
{
	CkCaHelper *self = CK_CA_HELPER(ca);
	GTask *task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_auto(GStrv) env = NULL;
	g_autofree gchar *code = reason >= 0 ? g_strdup_printf("%d", reason) : NULL;

	g_task_set_source_tag(task, ck_ca_helper_revoke_async);
	ck_helper_add_env(builder, "CERTMONGER_CERTIFICATE", certificate);
	ck_helper_add_env(builder, "CERTKEEPER_REQUEST_ID", request_id);
	/* the number: certkeeper-acme takes names too, other helpers need not */
	ck_helper_add_env(builder, "CERTKEEPER_REVOKE_REASON", code);
	env = g_strv_builder_end(builder);
	ck_helper_run_async(self, "REVOKE", env, cancellable, ck_helper_revoke_cb, task);
}

static gboolean
ck_ca_helper_revoke_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, ca), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}

static gchar *
ck_ca_helper_get_root_certificates(CkCa *ca, GError **error)
{
	CkCaHelper *self = CK_CA_HELPER(ca);
	if (self->roots == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    _("CA '%s' has not published its root certificates"),
			    ck_ca_get_name(ca));
		return NULL;
	}
	return g_strdup(self->roots);
}

const gchar *
ck_ca_helper_get_command(CkCaHelper *self)
{
	g_return_val_if_fail(CK_IS_CA_HELPER(self), NULL);
	return self->command;
}

static void
ck_ca_helper_finalize(GObject *object)
{
	CkCaHelper *self = CK_CA_HELPER(object);
	g_free(self->command);
	g_strfreev(self->argv);
	g_free(self->roots);
	G_OBJECT_CLASS(ck_ca_helper_parent_class)->finalize(object);
}

static void
ck_ca_helper_init(CkCaHelper *self)
{
}

static void
ck_ca_helper_class_init(CkCaHelperClass *klass)
{
	CkCaClass *ca_class = CK_CA_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = ck_ca_helper_finalize;
	ca_class->submit_async = ck_ca_helper_submit_async;
	ca_class->submit_finish = ck_ca_helper_submit_finish;
	ca_class->get_root_certificates = ck_ca_helper_get_root_certificates;
	ca_class->refresh_async = ck_ca_helper_refresh_async;
	ca_class->refresh_finish = ck_ca_helper_refresh_finish;
	ca_class->renewal_window_async = ck_ca_helper_renewal_window_async;
	ca_class->renewal_window_finish = ck_ca_helper_renewal_window_finish;
	ca_class->proof_nonce_async = ck_ca_helper_proof_nonce_async;
	ca_class->proof_nonce_finish = ck_ca_helper_proof_nonce_finish;
	ca_class->revoke_async = ck_ca_helper_revoke_async;
	ca_class->revoke_finish = ck_ca_helper_revoke_finish;
}

CkCa *
ck_ca_helper_new(const gchar *name, const gchar *kind, const gchar *command,
		 guint timeout_seconds, gsize max_output, GError **error)
{
	g_autoptr(CkCaHelper) self = NULL;
	g_auto(GStrv) argv = NULL;
	g_autoptr(GError) local_error = NULL;

	if (command == NULL || !g_shell_parse_argv(command, NULL, &argv, &local_error)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the command line, then the reason */
			    _("Helper '%s' is not a valid command line: %s"),
			    command != NULL ? command : "",
			    local_error != NULL ? local_error->message : _("it is empty"));
		return NULL;
	}
	if (!g_path_is_absolute(argv[0])) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Helper '%s' must start with the program's absolute path"), command);
		return NULL;
	}
	self = g_object_new(CK_TYPE_CA_HELPER, "name", name, "kind", kind, NULL);
	self->command = g_strdup(command);
	self->argv = g_steal_pointer(&argv);
	self->timeout_seconds = MAX(timeout_seconds, 1);
	self->max_output = max_output;
	if (!g_file_test(self->argv[0], G_FILE_TEST_IS_EXECUTABLE))
		g_warning("CA %s: the helper %s is not an executable file (yet); requests for it "
			  "will wait for guidance",
			  name, self->argv[0]);
	return CK_CA(g_steal_pointer(&self));
}
