/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * From an issued certificate to a live one (ARCHITECTURE.md "Atomic install"):
 * validation, the pre-save hook, staging, the intent record, the commit, the
 * post-save hooks, the post-install check with its rollback, the grace period of
 * the previous files, and the recovery of an install a crash interrupted.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-clock.h"
#include "ck-engine-private.h"
#include "ck-error.h"
#include "ck-fault.h"
#include "ck-hook.h"
#include "ck-key-provider-pkcs11.h"
#include "ck-tls-check.h"
#include "ck-validator.h"

/* The post-install steps, in order; hooks are reported, checks roll back. */
typedef enum {
	CK_POST_SAVE_COMMAND,
	CK_POST_RELOAD_UNIT,
	CK_POST_SIGNAL_PID,
	CK_POST_CHECK_TLS,
	CK_POST_CHECK_COMMAND,
	CK_POST_DONE,
} CkPostStep;

void
ck_engine_install_target(CkRequest *request, CkInstallTarget *target)
{
	memset(target, 0, sizeof(*target));
	target->directory = ck_request_get_directory(request);
	target->cert_file = ck_request_get_cert_file(request);
	target->key_file = ck_request_get_key_file(request);
	/* a key in a token is named by a URI: there is no file to write */
	if (ck_key_provider_pkcs11_is_uri(target->key_file))
		target->key_file = NULL;
	target->chain_file = ck_request_get_chain_file(request);
	target->combined_file = ck_request_get_combined_file(request);
	target->cert_attrs = *ck_request_get_cert_attrs(request);
	target->key_attrs = *ck_request_get_key_attrs(request);
}

/* What a hook learns about the event, in its environment. */
static GStrv
ck_engine_hook_env(CkEngine *self, CkRequest *request, const gchar *event)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	struct {
		const gchar *name;
		const gchar *value;
	} vars[] = {
	    {"CERTKEEPER_EVENT", event},
	    {"CERTKEEPER_REQUEST_ID", ck_request_get_id(request)},
	    {"CERTKEEPER_CA", ck_request_get_ca(request)},
	    {"CERTKEEPER_SUBJECT", ck_request_get_subject(request)},
	    {"CERTKEEPER_CERT_FILE", ck_request_get_cert_file(request)},
	    {"CERTKEEPER_KEY_FILE", ck_request_get_key_file(request)},
	    {"CERTKEEPER_CHAIN_FILE", ck_request_get_chain_file(request)},
	    {"CERTKEEPER_COMBINED_FILE", ck_request_get_combined_file(request)},
	    {"CERTKEEPER_DIRECTORY", ck_request_get_directory(request)},
	    {"CERTKEEPER_SERIAL", ck_request_get_serial(request)},
	    {"CERTKEEPER_TRACE_ID", ck_engine_trace_id(self, request)},
	};

	for (guint i = 0; i < G_N_ELEMENTS(vars); i++) {
		g_autofree gchar *entry = NULL;
		if (vars[i].value == NULL)
			continue;
		entry = g_strdup_printf("%s=%s", vars[i].name, vars[i].value);
		g_strv_builder_add(builder, entry);
	}
	if (ck_request_get_not_after(request) > 0) {
		g_autofree gchar *entry = g_strdup_printf(
		    "CERTKEEPER_NOT_AFTER=%lld", (long long)ck_request_get_not_after(request));
		g_strv_builder_add(builder, entry);
	}
	return g_strv_builder_end(builder);
}

/* The label a hook's log lines and errors carry. */
static gchar *
ck_engine_hook_label(CkRequest *request, const gchar *what)
{
	/* TRANSLATORS: which hook (e.g. "post-save command"), then the request id */
	return g_strdup_printf(_("%s of request %s"), what, ck_request_get_id(request));
}

/* Staging, intent, commit */

/*
 * Puts the previous files back. The intent is recorded first, with @why: a
 * crash half-way through must be finished by the next start, which would
 * otherwise roll the install forward and pair restored files with new ones.
 */
static gboolean
ck_engine_undo_install(CkEngine *self, CkRequest *request, const gchar *why, GError **error)
{
	CkInstallTarget target;

	ck_engine_install_target(request, &target);
	ck_request_set_install(
	    request, CK_INSTALL_PHASE_ROLLBACK, ck_request_get_install_fresh(request),
	    ck_request_get_install_version(request), ck_request_get_install_previous(request));
	ck_request_set_last_error(request, why);
	ck_engine_persist(self, request);
	ck_fault_point("install-rollback-recorded");
	return ck_installer_rollback(&target, ck_request_get_install_fresh(request),
				     ck_request_get_install_version(request),
				     ck_request_get_install_previous(request), error);
}

static gboolean
ck_engine_install_commit(CkEngine *self, CkRequest *request, CkJob *job, GError **error)
{
	CkInstallTarget target;
	g_autoptr(GBytes) cert = g_bytes_new(job->certificate, strlen(job->certificate));
	g_autoptr(GBytes) chain =
	    job->chain != NULL ? g_bytes_new(job->chain, strlen(job->chain)) : NULL;
	CkInstallContents contents = {cert, ck_key_get_stored_form(job->key), chain};
	g_auto(GStrv) fresh = NULL;
	g_autofree gchar *version = NULL;
	g_autofree gchar *previous = NULL;

	/* a user's files are written by root: only where the user's policy still says */
	if (!ck_policy_authorize_paths(self->policy, request, error))
		return FALSE;
	ck_engine_install_target(request, &target);
	if (target.key_file == NULL)
		contents.key = NULL;
	/* recorded first, so a crash while staging is cleaned up at the next start */
	ck_request_set_install(request, CK_INSTALL_PHASE_STAGE, NULL, NULL, NULL);
	ck_engine_persist(self, request);
	if (!ck_installer_stage(&target, &contents, &fresh, &version, &previous, error)) {
		ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
		return FALSE;
	}
	/* the intent: from here on a restart rolls the install forward */
	ck_request_set_install(request, CK_INSTALL_PHASE_COMMIT, (const gchar *const *)fresh,
			       version, previous);
	ck_engine_persist(self, request);
	ck_fault_point("install-intent-recorded");
	if (!ck_installer_commit(&target, version, error)) {
		g_autoptr(GError) undo_error = NULL;
		if (!ck_engine_undo_install(self, request, (*error)->message, &undo_error))
			g_warning("request %s: cannot undo the failed install: %s",
				  ck_request_get_id(request), undo_error->message);
		ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
		return FALSE;
	}
	ck_fault_point("install-committed");
	ck_request_set_install(request, CK_INSTALL_PHASE_CHECK, (const gchar *const *)fresh,
			       version, previous);
	return TRUE;
}

static void
ck_engine_post_record(CkJob *job, gboolean is_check, GError *error);

/*
 * Pkcs11StoreCertificates: the certificate also goes into the token, next to
 * its key, once the post-install checks passed (a rollback has nothing to undo
 * there). The file stays the live copy (the watch, the checks and a rollback
 * work on it), so a token that refuses is reported like a failed hook.
 */
static void
ck_engine_store_token_certificate(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	g_autoptr(GError) error = NULL;

	if (!ck_engine_lifecycle(self)->pkcs11_store_certificates ||
	    !CK_IS_KEY_PROVIDER_PKCS11(provider))
		return;
	if (!ck_key_provider_pkcs11_store_certificate(CK_KEY_PROVIDER_PKCS11(provider),
						      ck_request_get_key_file(request),
						      job->certificate, &error)) {
		g_warning("request %s: %s", ck_request_get_id(request), error->message);
		ck_engine_post_record(job, FALSE, error);
		return;
	}
	g_message("request %s: certificate %s written into the token of %s",
		  ck_request_get_id(request), ck_request_get_serial(request),
		  ck_request_get_key_file(request));
}

/*
 * Keys in a token are objects, not files the installer swaps with backups: a
 * renewal makes its key as a new object (an id of its own) beside the live
 * one, and only the outcome of the install decides which goes. Installed:
 * every other key of the request is removed (the old one, and any a failed
 * attempt left). Rolled back: the restored certificate's key stays and the
 * others go; a first certificate rolled back leaves no key worth keeping.
 */
static void
ck_engine_prune_token_keys(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkKeyProvider *provider =
	    g_hash_table_lookup(self->key_providers, ck_request_get_key_provider(request));
	g_autoptr(CkKey) restored = NULL;
	g_autoptr(GError) error = NULL;
	CkKey *keep = job->key;

	if (provider == NULL || ck_key_provider_keeps_files(provider))
		return;
	if (job->rolled_back) {
		restored = ck_engine_load_installed_key(self, request, &error);
		if (restored == NULL && ck_request_get_not_after(request) > 0) {
			/* the live certificate's key must not go because it could not be read */
			g_warning("request %s: keeping the keys in the token: %s",
				  ck_request_get_id(request), error->message);
			return;
		}
		g_clear_error(&error);
		keep = restored;
	}
	if (!ck_key_provider_prune(provider, ck_request_get_key_file(request), keep, &error))
		g_warning("request %s: %s", ck_request_get_id(request), error->message);
}

static void
ck_engine_install(CkEngine *self, CkRequest *request, CkJob *job)
{
	g_autoptr(GError) error = NULL;

	if (!ck_engine_install_commit(self, request, job, &error)) {
		g_autofree gchar *why =
		    /* TRANSLATORS: the placeholder is the reason */
		    g_strdup_printf(_("Cannot install the certificate: %s"), error->message);
		/* nothing live changed: keep the new certificate and try again later */
		ck_engine_retry_later(self, request, CK_REQUEST_STATE_SAVING_CERT, why);
		return;
	}
	if (!ck_request_set_certificate_info_from_pem(request, job->certificate, &error))
		g_warning("request %s: %s", ck_request_get_id(request), error->message);
	g_message("request %s: certificate %s installed in %s", ck_request_get_id(request),
		  ck_request_get_serial(request), ck_request_get_cert_file(request));
	ck_engine_record(self, CK_AUDIT_CERTIFICATE_INSTALLED, NULL, request, NULL, "success",
			 "cert_file", ck_request_get_cert_file(request), NULL);
	job->post_step = CK_POST_SAVE_COMMAND;
	job->rolled_back = FALSE;
	g_clear_pointer(&job->hook_errors, g_ptr_array_unref);
	g_clear_pointer(&job->check_error, g_free);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_POST_SAVED);
	ck_engine_schedule_step(self, request);
}

static void
ck_engine_pre_save_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok = ck_hook_run_finish(res, &error);
	CkRequest *request = NULL;
	CkJob *job = NULL;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_step_data_free(data);
		return;
	}
	job->busy = FALSE;
	if (!ok) {
		/* the hook prepares the service; without it nothing is replaced */
		ck_engine_retry_later(data->engine, request, CK_REQUEST_STATE_SAVING_CERT,
				      error->message);
	} else {
		ck_engine_install(data->engine, request, job);
	}
	ck_step_data_free(data);
}

/* The CA's roots were fetched again (see ck_engine_step_save()): validate once more. */
static void
ck_engine_roots_refetched_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkStepData *data = user_data;
	/* the engine was kept alive for this: the CA's new roots are everyone's */
	g_autoptr(CkEngine) engine = data->engine;
	CkRequest *request = NULL;
	CkJob *job = NULL;

	ck_engine_ca_refresh_complete(engine, CK_CA(source), res);
	if (ck_step_data_resolve(data, &request, &job)) {
		job->busy = FALSE;
		ck_engine_step_save(engine, request, job);
	}
	ck_step_data_free(data);
}

/* Fetches @ca's roots again (once per issued certificate), then validates anew. */
static void
ck_engine_refetch_roots(CkEngine *self, CkRequest *request, CkJob *job, CkCa *ca)
{
	job->roots_refetched = TRUE;
	job->busy = TRUE;
	g_object_ref(self);
	ck_ca_refresh_async(ca, NULL, ck_engine_roots_refetched_cb,
			    ck_step_data_new(self, request, job));
}

/*
 * Does @validation fail only for its trust anchors? Then the chain the CA sent
 * holds together, up to a root we do not know (yet).
 */
static gboolean
ck_engine_only_anchors_fail(const CkValidation *validation)
{
	CkValidation without = *validation;

	if (validation->anchors == NULL)
		return FALSE;
	without.anchors = NULL;
	return ck_validator_check(&without, NULL);
}

void
ck_engine_step_save(CkEngine *self, CkRequest *request, CkJob *job)
{
	CkCa *ca = ck_engine_find_ca(self, ck_request_get_ca(request));
	g_autofree gchar *anchors = NULL;
	g_autoptr(GError) error = NULL;
	CkCsrParams names = {0};
	CkValidation validation = {0};
	const gchar *pre_save = ck_request_get_pre_save_command(request);

	if (job->certificate == NULL || job->key == NULL) {
		/* what was issued is gone (a restart): start the attempt over */
		ck_engine_set_state(self, request, CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_schedule_step(self, request);
		return;
	}
	/* never put a certificate in place that is not what was asked for */
	if (ca != NULL)
		anchors = ck_ca_get_root_certificates(ca, NULL);
	ck_request_get_csr_params(request, &names);
	validation.key = job->key;
	validation.certificate = job->certificate;
	validation.chain = job->chain;
	validation.anchors = anchors;
	validation.names = &names;
	validation.now = ck_clock_now();
	/*
	 * A CA whose roots could not be fetched (it was away when the daemon started)
	 * is asked for them before its chain is taken at its word.
	 */
	if (!job->roots_refetched && ca != NULL && anchors == NULL &&
	    ck_ca_get_error(ca)[0] != '\0') {
		g_message("request %s: CA %s has no roots yet (%s); fetching them",
			  ck_request_get_id(request), ck_ca_get_name(ca), ck_ca_get_error(ca));
		ck_engine_refetch_roots(self, request, job, ca);
		return;
	}
	if (!ck_validator_check(&validation, &error)) {
		/*
		 * A CA that was rebuilt, or rolled its root over, issues under a root we
		 * have not seen: what it publishes now decides, so ask it once more
		 * before calling for a human (a CA that comes back from an outage must
		 * not leave its requests stuck).
		 */
		if (!job->roots_refetched && ca != NULL &&
		    ck_engine_only_anchors_fail(&validation)) {
			g_message("request %s: %s; fetching the roots of CA %s again",
				  ck_request_get_id(request), error->message, ck_ca_get_name(ca));
			ck_engine_refetch_roots(self, request, job, ca);
			return;
		}
		ck_engine_fail(self, request, CK_REQUEST_STATE_NEED_GUIDANCE, error->message);
		return;
	}
	if (pre_save == NULL) {
		ck_engine_install(self, request, job);
		return;
	}
	{
		g_autofree gchar *label = ck_engine_hook_label(request, _("pre-save command"));
		g_auto(GStrv) env = ck_engine_hook_env(self, request, "pre-save");
		job->busy = TRUE;
		ck_hook_run_async(label, pre_save, ck_request_get_hook_user(request),
				  (const gchar *const *)env, ck_engine_lifecycle(self)->hook_timeout,
				  job->cancellable, ck_engine_pre_save_done_cb,
				  ck_step_data_new(self, request, job));
	}
}

/* After the install */

static void
ck_engine_post_next(CkEngine *self, CkRequest *request, CkJob *job);

static void
ck_engine_post_record(CkJob *job, gboolean is_check, GError *error)
{
	if (error == NULL)
		return;
	if (is_check) {
		g_free(job->check_error);
		job->check_error = g_strdup(error->message);
		return;
	}
	if (job->hook_errors == NULL)
		job->hook_errors = g_ptr_array_new_with_free_func(g_free);
	g_ptr_array_add(job->hook_errors, g_strdup(error->message));
}

static void
ck_engine_post_done(CkStepData *data, gboolean is_check, GError *error)
{
	CkRequest *request = NULL;
	CkJob *job = NULL;

	if (!ck_step_data_resolve(data, &request, &job)) {
		ck_step_data_free(data);
		return;
	}
	job->busy = FALSE;
	if (error != NULL)
		g_warning("request %s: %s", ck_request_get_id(request), error->message);
	ck_engine_post_record(job, is_check, error);
	job->post_step++;
	ck_engine_post_next(data->engine, request, job);
	ck_step_data_free(data);
}

static void
ck_engine_post_hook_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	ck_hook_run_finish(res, &error);
	ck_engine_post_done(user_data, FALSE, error);
}

static void
ck_engine_post_reload_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	ck_service_manager_reload_unit_finish(CK_SERVICE_MANAGER(source), res, &error);
	ck_engine_post_done(user_data, FALSE, error);
}

static void
ck_engine_post_check_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	/* the check command is a hook run, the TLS check a task of its own */
	if (g_task_get_source_tag(G_TASK(res)) == ck_tls_check_async)
		ck_tls_check_finish(res, &error);
	else
		ck_hook_run_finish(res, &error);
	ck_engine_post_done(user_data, TRUE, error);
}

static void
ck_engine_post_finish(CkEngine *self, CkRequest *request, CkJob *job);

/* Runs the next post-install step that applies; each completes into ck_engine_post_done(). */
static void
ck_engine_post_next(CkEngine *self, CkRequest *request, CkJob *job)
{
	const CkLifecycleConfig *lc = ck_engine_lifecycle(self);
	const gchar *event = job->rolled_back ? "rollback" : "post-save";

	for (; job->post_step < CK_POST_DONE; job->post_step++) {
		/* after a rollback only the hooks run, so the service takes the old files */
		if (job->check_error != NULL && !job->rolled_back)
			break;
		switch (job->post_step) {
		case CK_POST_SAVE_COMMAND: {
			const gchar *command = ck_request_get_post_save_command(request);
			g_autofree gchar *label = NULL;
			g_auto(GStrv) env = NULL;
			if (command == NULL)
				continue;
			label = ck_engine_hook_label(request, _("post-save command"));
			env = ck_engine_hook_env(self, request, event);
			job->busy = TRUE;
			ck_hook_run_async(label, command, ck_request_get_hook_user(request),
					  (const gchar *const *)env, lc->hook_timeout,
					  job->cancellable, ck_engine_post_hook_cb,
					  ck_step_data_new(self, request, job));
			return;
		}
		case CK_POST_RELOAD_UNIT: {
			const gchar *unit = ck_request_get_reload_unit(request);
			if (unit == NULL)
				continue;
			if (self->service_manager == NULL) {
				g_autoptr(GError) error = g_error_new(
				    CK_ERROR, CK_ERROR_UNSUPPORTED,
				    _("Cannot reload %s: no service manager is reachable"), unit);
				g_warning("request %s: %s", ck_request_get_id(request),
					  error->message);
				ck_engine_post_record(job, FALSE, error);
				continue;
			}
			job->busy = TRUE;
			ck_service_manager_reload_unit_async(
			    self->service_manager, unit, ck_request_get_reload_mode(request),
			    job->cancellable, ck_engine_post_reload_cb,
			    ck_step_data_new(self, request, job));
			return;
		}
		case CK_POST_SIGNAL_PID: {
			g_autoptr(GError) error = NULL;
			const gchar *pid_file = ck_request_get_pid_file(request);
			if (pid_file == NULL)
				continue;
			if (!ck_hook_signal_pid_file(pid_file, ck_request_get_pid_signal(request),
						     ck_request_get_owner_uid(request), &error)) {
				g_warning("request %s: %s", ck_request_get_id(request),
					  error->message);
				ck_engine_post_record(job, FALSE, error);
			}
			continue;
		}
		case CK_POST_CHECK_TLS: {
			const gchar *endpoint = ck_request_get_check_endpoint(request);
			if (endpoint == NULL || job->rolled_back)
				continue;
			job->busy = TRUE;
			ck_tls_check_async(endpoint, job->key, job->certificate, job->chain,
					   lc->check_timeout, job->cancellable,
					   ck_engine_post_check_cb,
					   ck_step_data_new(self, request, job));
			return;
		}
		case CK_POST_CHECK_COMMAND: {
			const gchar *command = ck_request_get_check_command(request);
			g_autofree gchar *label = NULL;
			g_auto(GStrv) env = NULL;
			if (command == NULL || job->rolled_back)
				continue;
			label = ck_engine_hook_label(request, _("post-install check"));
			env = ck_engine_hook_env(self, request, "check");
			job->busy = TRUE;
			ck_hook_run_async(label, command, ck_request_get_hook_user(request),
					  (const gchar *const *)env, lc->check_timeout,
					  job->cancellable, ck_engine_post_check_cb,
					  ck_step_data_new(self, request, job));
			return;
		}
		default:
			break;
		}
	}
	ck_engine_post_finish(self, request, job);
}

/* Reads the certificate now live back into the request (after a rollback). */
static void
ck_engine_reload_certificate_info(CkRequest *request)
{
	g_autofree gchar *pem = ck_engine_read_certificate(request, NULL);
	if (pem == NULL || !ck_request_set_certificate_info_from_pem(request, pem, NULL))
		ck_request_set_certificate_info(request, 0, 0, NULL, NULL);
}

static gchar *
ck_engine_join_errors(GPtrArray *errors)
{
	g_autoptr(GString) text = g_string_new(NULL);
	for (guint i = 0; errors != NULL && i < errors->len; i++) {
		if (text->len > 0)
			g_string_append(text, "; ");
		g_string_append(text, g_ptr_array_index(errors, i));
	}
	return text->len > 0 ? g_string_free(g_steal_pointer(&text), FALSE) : NULL;
}

static void
ck_engine_rollback(CkEngine *self, CkRequest *request, CkJob *job)
{
	g_autofree gchar *why = NULL;
	g_autoptr(GError) error = NULL;

	why = g_strdup_printf(
	    /* TRANSLATORS: the placeholder is why the check failed */
	    _("The new certificate failed the post-install check and was rolled back: %s"),
	    job->check_error);
	if (!ck_engine_undo_install(self, request, why, &error))
		g_warning("request %s: the rollback failed too: %s", ck_request_get_id(request),
			  error->message);
	ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
	ck_engine_reload_certificate_info(request);
	g_warning("request %s: the post-install check failed (%s); the previous certificate is "
		  "back in place",
		  ck_request_get_id(request), job->check_error);
	ck_engine_record(self, CK_AUDIT_ROLLED_BACK, NULL, request, NULL, "failure", "reason",
			 job->check_error, NULL);
	/* the hooks run again, so the service goes back to the restored files */
	job->rolled_back = TRUE;
	job->post_step = CK_POST_SAVE_COMMAND;
	g_clear_pointer(&job->hook_errors, g_ptr_array_unref);
	ck_engine_post_next(self, request, job);
}

/* TRUE when the install in flight replaced live files (so backups of them exist). */
static gboolean
ck_engine_install_replaced(CkRequest *request)
{
	if (ck_request_get_directory(request) != NULL)
		return ck_request_get_install_previous(request) != NULL;
	return !g_strv_contains(ck_request_get_install_fresh(request),
				ck_request_get_cert_file(request));
}

static void
ck_engine_post_finish(CkEngine *self, CkRequest *request, CkJob *job)
{
	g_autofree gchar *hook_errors = NULL;
	gint64 now = ck_clock_now();

	if (job->check_error != NULL && !job->rolled_back) {
		ck_engine_rollback(self, request, job);
		return;
	}
	/* the token copy only of a certificate that stays: after the checks passed */
	if (!job->rolled_back)
		ck_engine_store_token_certificate(self, request, job);
	ck_engine_prune_token_keys(self, request, job);
	hook_errors = ck_engine_join_errors(job->hook_errors);
	if (job->rolled_back) {
		/* recorded with the intent (ck_engine_undo_install()), so a restart knows it too */
		g_autofree gchar *why = g_strdup(ck_request_get_last_error(request));
		/* the job goes after the retry is planned, so its failure carries the trace */
		ck_engine_retry_later(self, request,
				      ck_request_get_not_after(request) > 0
					  ? CK_REQUEST_STATE_MONITORING
					  : CK_REQUEST_STATE_NEED_KEY_PAIR,
				      why);
		ck_engine_drop_job(self, request);
		return;
	}
	/* the replaced files stay for the grace period, then ck_engine_cleanup_backups() */
	ck_request_set_backups_until(request, ck_engine_install_replaced(request)
						  ? now + ck_engine_lifecycle(self)->keep_previous
						  : 0);
	ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
	ck_request_set_last_renewal(request, now);
	ck_request_set_failed_attempts(request, 0);
	ck_request_set_next_attempt(request, 0);
	ck_request_set_waiting(request, NULL);
	ck_request_set_last_error(request, hook_errors);
	ck_engine_record(self, CK_AUDIT_RENEWAL_COMPLETED, NULL, request, NULL, "success",
			 "hook_errors", hook_errors, NULL);
	ck_engine_drop_job(self, request);
	ck_engine_set_state(self, request, CK_REQUEST_STATE_MONITORING);
	ck_engine_persist(self, request);
	ck_fault_point("install-finished");
	g_signal_emit_by_name(self, "certificate-saved", request);
	ck_engine_metrics_attempt_succeeded(self, request);
	ck_engine_plan(self, request);
	/* RFC 9773: ask for the new certificate's renewal window right after issuance */
	ck_engine_ask_renewal_window(self, request);
}

void
ck_engine_step_post_install(CkEngine *self, CkRequest *request, CkJob *job)
{
	ck_engine_post_next(self, request, job);
}

/* Recovery and clean-up */

void
ck_engine_recover_install(CkEngine *self, CkRequest *request)
{
	CkInstallTarget target;
	CkInstallPhase phase = ck_request_get_install_phase(request);
	g_autoptr(GError) error = NULL;
	CkJob *job;

	ck_engine_install_target(request, &target);
	if (phase == CK_INSTALL_PHASE_STAGE) {
		/* staged, never committed: nothing live was touched; undo and start over */
		g_message("request %s: removing the files of an install that was interrupted "
			  "before its commit",
			  ck_request_get_id(request));
		ck_installer_discard(&target, ck_request_get_install_version(request));
		/*
		 * A directory layout names its new version while staging it, after the record
		 * was written, so the record does not know it. Outside a grace period every
		 * version but the live one is such a leftover; within one, the clean-up at its
		 * end removes it with the previous version.
		 */
		if (target.directory != NULL && ck_request_get_backups_until(request) == 0 &&
		    !ck_installer_remove_backups(&target, &error))
			g_warning("request %s: %s", ck_request_get_id(request), error->message);
		ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
		ck_engine_set_state(self, request,
				    ck_request_get_not_after(request) > 0
					? CK_REQUEST_STATE_MONITORING
					: CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_persist(self, request);
		ck_engine_resume(self, request);
		return;
	}
	if (phase == CK_INSTALL_PHASE_ROLLBACK) {
		g_message("request %s: finishing a rollback that was interrupted",
			  ck_request_get_id(request));
		if (!ck_installer_rollback(&target, ck_request_get_install_fresh(request),
					   ck_request_get_install_version(request),
					   ck_request_get_install_previous(request), &error))
			g_warning("request %s: the rollback failed too: %s",
				  ck_request_get_id(request), error->message);
		ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
		ck_engine_reload_certificate_info(request);
		/* the service may have taken the new files before the crash: the hooks run
		 * again, then the request retries (ck_engine_post_finish()) */
		job = ck_engine_get_job(self, request);
		job->rolled_back = TRUE;
		job->post_step = CK_POST_SAVE_COMMAND;
		ck_engine_set_state(self, request, CK_REQUEST_STATE_POST_SAVED);
		ck_engine_schedule_step(self, request);
		return;
	}
	/* the intent was recorded: finish the commit, then the hooks and checks run */
	g_message("request %s: finishing an install that was interrupted after its commit began",
		  ck_request_get_id(request));
	job = ck_engine_get_job(self, request);
	if (!ck_installer_commit(&target, ck_request_get_install_version(request), &error) ||
	    (job->key = ck_engine_load_installed_key(self, request, &error)) == NULL ||
	    (job->certificate = ck_engine_read_certificate(request, &error)) == NULL) {
		g_autoptr(GError) undo_error = NULL;
		g_warning("request %s: cannot finish the interrupted install (%s); rolling back",
			  ck_request_get_id(request), error->message);
		if (!ck_engine_undo_install(self, request, error->message, &undo_error))
			g_warning("request %s: the rollback failed too: %s",
				  ck_request_get_id(request), undo_error->message);
		ck_request_set_install(request, CK_INSTALL_PHASE_NONE, NULL, NULL, NULL);
		ck_engine_reload_certificate_info(request);
		ck_engine_drop_job(self, request);
		ck_engine_set_state(self, request,
				    ck_request_get_not_after(request) > 0
					? CK_REQUEST_STATE_MONITORING
					: CK_REQUEST_STATE_NEED_KEY_PAIR);
		ck_engine_persist(self, request);
		ck_engine_resume(self, request);
		return;
	}
	if (ck_request_get_chain_file(request) != NULL)
		ck_file_get_owned_contents(ck_request_get_chain_file(request),
					   ck_request_get_owner_uid(request), &job->chain, NULL, NULL);
	ck_engine_reload_certificate_info(request);
	ck_request_set_install(request, CK_INSTALL_PHASE_CHECK, ck_request_get_install_fresh(request),
			       ck_request_get_install_version(request),
			       ck_request_get_install_previous(request));
	job->post_step = CK_POST_SAVE_COMMAND;
	ck_engine_set_state(self, request, CK_REQUEST_STATE_POST_SAVED);
	ck_engine_schedule_step(self, request);
}

void
ck_engine_cleanup_backups(CkEngine *self, CkRequest *request)
{
	CkInstallTarget target;
	g_autoptr(GError) error = NULL;

	/* an install in flight owns the backups now; the next one plans its own clean-up */
	if (ck_request_get_install_phase(request) != CK_INSTALL_PHASE_NONE)
		return;
	ck_engine_install_target(request, &target);
	if (!ck_installer_remove_backups(&target, &error)) {
		g_warning("request %s: %s", ck_request_get_id(request), error->message);
		return;
	}
	g_message("request %s: the grace period is over; removed the previous certificate and "
		  "key",
		  ck_request_get_id(request));
	ck_request_set_backups_until(request, 0);
	ck_engine_persist(self, request);
}
