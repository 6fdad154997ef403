/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Managing what the engine tracks, beyond adding and removing requests: adopting
 * existing certificates (start-tracking), changing requests, CAs added at run
 * time, reloading the configuration, and the declared requests of requests.d.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-ca-helper.h"
#include "ck-ca-local.h"
#include "ck-ca-protocol.h"
#include "ck-clock.h"
#include "ck-engine-private.h"
#include "ck-error.h"
#include "ck-installer.h"
#include "ck-log.h"
#include "ck-requests-dir.h"

#define CK_CA_JSON_VERSION 1

CkRequest *
ck_engine_find_request_by_path(CkEngine *self, const gchar *path)
{
	GHashTableIter iter;
	gpointer value;

	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	if (path == NULL)
		return NULL;
	g_hash_table_iter_init(&iter, self->requests);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		if (g_strcmp0(ck_request_get_cert_file(value), path) == 0)
			return value;
	}
	return NULL;
}

/* Start tracking */

/* The SANs of one type in @crt, as text. */
static GStrv
ck_engine_crt_sans(gnutls_x509_crt_t crt, gnutls_x509_subject_alt_name_t want)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	for (unsigned int i = 0;; i++) {
		guint8 buf[1024];
		size_t size = sizeof(buf) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type < 0 || (gnutls_x509_subject_alt_name_t)type != want)
			continue;
		if (want == GNUTLS_SAN_IPADDRESS) {
			gchar text[INET6_ADDRSTRLEN];
			int family = size == 4 ? AF_INET : size == 16 ? AF_INET6 : 0;
			if (family != 0 && inet_ntop(family, buf, text, sizeof(text)) != NULL)
				g_strv_builder_add(builder, text);
		} else {
			buf[size] = '\0';
			g_strv_builder_add(builder, (const gchar *)buf);
		}
	}
	return g_strv_builder_end(builder);
}

/* A request that names nothing takes the names of the certificate it adopts. */
static void
ck_engine_take_names(CkRequest *request, gnutls_x509_crt_t crt)
{
	g_auto(GStrv) dns = NULL, ips = NULL, emails = NULL, uris = NULL;
	gnutls_datum_t dn = {NULL, 0};

	if (ck_request_get_subject(request) != NULL || ck_request_get_dns_names(request)[0] != NULL ||
	    ck_request_get_ip_addresses(request)[0] != NULL)
		return;
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) >= 0 && dn.size > 0) {
		g_autofree gchar *subject = g_strndup((const gchar *)dn.data, dn.size);
		ck_request_set_subject(request, subject);
	}
	gnutls_free(dn.data);
	dns = ck_engine_crt_sans(crt, GNUTLS_SAN_DNSNAME);
	ips = ck_engine_crt_sans(crt, GNUTLS_SAN_IPADDRESS);
	emails = ck_engine_crt_sans(crt, GNUTLS_SAN_RFC822NAME);
	uris = ck_engine_crt_sans(crt, GNUTLS_SAN_URI);
	ck_request_set_dns_names(request, (const gchar *const *)dns);
	ck_request_set_ip_addresses(request, (const gchar *const *)ips);
	ck_request_set_emails(request, (const gchar *const *)emails);
	ck_request_set_uris(request, (const gchar *const *)uris);
}

CkRequest *
ck_engine_start_tracking(CkEngine *self, const CkCaller *caller, CkRequest *request,
			 GError **error)
{
	const gchar *cert_file = ck_request_get_cert_file(request);
	const gchar *key_file = ck_request_get_key_file(request);
	g_autofree gchar *pem = NULL;
	g_autoptr(CkKey) key = NULL;
	g_autoptr(GError) local_error = NULL;
	g_autoptr(CkRequest) tracked = NULL;
	g_autoptr(JsonNode) json = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum;
	CkCsrParams params = {0};
	gboolean ok;

	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	if (ck_request_get_directory(request) != NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("start-tracking adopts a certificate file and a key file; the "
				      "directory layout is for new requests"));
		return NULL;
	}
	if (cert_file == NULL || key_file == NULL || !g_path_is_absolute(cert_file) ||
	    !g_path_is_absolute(key_file)) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Name the certificate and the key to track with absolute paths "
				      "(-f and -k)"));
		return NULL;
	}
	/* a user is authorised before the daemon reads any file for it (its paths, its
	 * CA), and again below with the names the certificate brings */
	if (caller->uid != 0 &&
	    !ck_policy_authorize_new(self->policy, caller, request,
				     ck_engine_count_owned(self, caller->uid), error)) {
		g_message("refused StartTracking for uid %u: %s", (guint)caller->uid,
			  (*error)->message);
		ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, request, NULL, "denied",
				 "action", "StartTracking", "reason", (*error)->message, NULL);
		return NULL;
	}
	if (!ck_file_get_owned_contents(cert_file, ck_request_get_owner_uid(request), &pem, NULL,
					&local_error)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Cannot track %s: %s"), cert_file, local_error->message);
		return NULL;
	}
	key = ck_engine_load_installed_key(self, request, &local_error);
	if (key == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, _("Cannot track %s: %s"),
			    key_file, local_error->message);
		return NULL;
	}
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)strlen(pem);
	if (gnutls_x509_crt_init(&crt) < 0 ||
	    gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM) < 0) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s holds no PEM certificate"), cert_file);
		return NULL;
	}
	ok = ck_key_matches_certificate(key, crt, &local_error);
	if (ok) {
		ck_engine_take_names(request, crt);
		ck_request_set_key_type(request, ck_key_get_key_type(key));
	}
	gnutls_x509_crt_deinit(crt);
	if (!ok) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, _("%s and %s: %s"),
			    cert_file, key_file, local_error->message);
		return NULL;
	}
	if (ck_request_get_id(request) != NULL &&
	    (!ck_request_id_is_valid(ck_request_get_id(request)) ||
	     ck_engine_find_request(self, ck_request_get_id(request)) != NULL)) {
		g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
			    _("'%s' is not a free request id"), ck_request_get_id(request));
		return NULL;
	}
	ck_request_get_csr_params(request, &params);
	if (!ck_engine_validate_key_and_ca(self, request, error) ||
	    !ck_csr_validate(&params, error) || !ck_engine_validate_policy(self, request, error))
		return NULL;
	if (ck_engine_find_tracked_path(self, cert_file) != NULL ||
	    ck_engine_find_tracked_path(self, key_file) != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
			    _("%s is tracked already"), cert_file);
		return NULL;
	}
	if (!ck_policy_authorize_new(self->policy, caller, request,
				     ck_engine_count_owned(self, caller->uid), error)) {
		g_message("refused StartTracking for uid %u: %s", (guint)caller->uid,
			  (*error)->message);
		ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, request, NULL, "denied",
				 "action", "StartTracking", "reason", (*error)->message, NULL);
		return NULL;
	}
	json = ck_request_to_json(request);
	if (ck_request_get_id(request) == NULL) {
		g_autoptr(GDateTime) now = g_date_time_new_now_utc();
		g_autofree gchar *base = g_date_time_format(now, "%Y%m%d%H%M%S");
		g_autofree gchar *id = g_strdup(base);
		for (guint i = 1; ck_engine_find_request(self, id) != NULL; i++) {
			g_free(id);
			id = g_strdup_printf("%s-%u", base, i);
		}
		json_object_set_string_member(json_node_get_object(json), "id", id);
	}
	json_object_set_string_member(json_node_get_object(json), "state", "MONITORING");
	tracked = ck_request_new_from_json(json, error);
	if (tracked == NULL ||
	    !ck_request_set_certificate_info_from_pem(tracked, pem, error) ||
	    !ck_store_save_request(self->store, tracked, error))
		return NULL;
	ck_engine_track(self, tracked);
	g_message("request %s: tracking %s (certificate %s)", ck_request_get_id(tracked),
		  cert_file, ck_request_get_serial(tracked));
	ck_engine_emit_added(self, tracked);
	ck_engine_plan(self, tracked);
	ck_engine_record(self, CK_AUDIT_REQUEST_ADDED, caller, tracked, NULL, "success", "action",
			 "StartTracking", NULL);
	return tracked;
}

/* Modify and refresh */

gboolean
ck_engine_modify_request(CkEngine *self, const CkCaller *caller, const gchar *id,
			 CkRequest *changed, GError **error)
{
	CkRequest *request = ck_engine_find_request(self, id);
	CkCsrParams params = {0};
	const gchar *paths[2];

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (request == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No request with id '%s'"), id);
		return FALSE;
	}
	if (!ck_engine_authorize(self, caller, request, "Modify", FALSE, error))
		return FALSE;
	ck_request_get_csr_params(changed, &params);
	if (!ck_engine_validate_key_and_ca(self, changed, error) ||
	    !ck_csr_validate(&params, error) || !ck_engine_validate_policy(self, changed, error))
		return FALSE;
	/* the files a change may add: writable, and nobody else's */
	paths[0] = ck_request_get_chain_file(changed);
	paths[1] = ck_request_get_combined_file(changed);
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		const gchar *owner = ck_engine_find_tracked_path(self, paths[i]);
		if (paths[i] == NULL)
			continue;
		if (!ck_installer_check_target(paths[i], i == 0 ? _("chain file") : _("combined file"),
					       error))
			return FALSE;
		if (owner != NULL && g_strcmp0(owner, id) != 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
				    _("'%s' is already used by request %s"), paths[i], owner);
			return FALSE;
		}
	}
	/* a user's request stays within what its policy allows */
	if (caller->uid != 0 &&
	    !ck_policy_authorize_new(self->policy, caller, changed,
				     ck_engine_count_owned(self, caller->uid) - 1, error)) {
		g_message("refused Modify of request %s for uid %u: %s", id, (guint)caller->uid,
			  (*error)->message);
		ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, request, NULL, "denied",
				 "action", "Modify", "reason", (*error)->message, NULL);
		return FALSE;
	}
	ck_request_assign_settings(request, changed);
	ck_engine_persist(self, request);
	g_message("request %s modified", id);
	ck_engine_record(self, CK_AUDIT_REQUEST_MODIFIED, caller, request, NULL, "success",
			 "action", "Modify", NULL);
	/* a new threshold or auto-renew setting moves the plan */
	ck_engine_plan(self, request);
	return TRUE;
}

gboolean
ck_engine_refresh_request(CkEngine *self, const gchar *id, GError **error)
{
	CkRequest *request = ck_engine_find_request(self, id);

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (request == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No request with id '%s'"), id);
		return FALSE;
	}
	ck_engine_check_external_change(self, request);
	ck_engine_plan(self, request);
	return TRUE;
}

/* CAs */

gboolean
ck_engine_ca_is_configured(CkEngine *self, const gchar *name)
{
	GPtrArray *cas = ck_config_get_cas(self->config);
	for (guint i = 0; i < cas->len; i++) {
		CkCaConfig *cfg = g_ptr_array_index(cas, i);
		if (g_strcmp0(cfg->name, name) == 0)
			return TRUE;
	}
	return FALSE;
}

/*
 * Keeps the CA's roots in its RootsFile (certmonger's -F), for services that
 * need the bundle: replaced atomically, and only when the roots changed.
 */
static gboolean
ck_engine_write_ca_roots(CkEngine *self, CkCa *ca, GError **error)
{
	const CkCaConfig *cfg = ck_engine_get_ca_config(self, ck_ca_get_name(ca));
	g_autofree gchar *roots = NULL;
	g_autofree gchar *current = NULL;
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0644);

	if (cfg == NULL || cfg->roots_file == NULL)
		return TRUE;
	roots = ck_ca_get_root_certificates(ca, NULL);
	/* a CA that publishes no roots leaves the file alone */
	if (roots == NULL)
		return TRUE;
	if (g_file_get_contents(cfg->roots_file, &current, NULL, NULL) &&
	    g_strcmp0(current, roots) == 0)
		return TRUE;
	if (!ck_file_replace(cfg->roots_file, roots, strlen(roots), &attrs, error)) {
		g_prefix_error(error, _("Cannot keep the roots in %s: "), cfg->roots_file);
		return FALSE;
	}
	g_message("CA %s: roots written to %s", ck_ca_get_name(ca), cfg->roots_file);
	return TRUE;
}

void
ck_engine_ca_refresh_complete(CkEngine *self, CkCa *ca, GAsyncResult *res)
{
	g_autoptr(GError) error = NULL;

	if (!ck_ca_refresh_finish(ca, res, &error) ||
	    (self != NULL && !ck_engine_write_ca_roots(self, ca, &error))) {
		g_message("CA %s: %s", ck_ca_get_name(ca), error->message);
		ck_ca_set_error(ca, error->message);
	} else {
		ck_ca_set_error(ca, NULL);
	}
	if (self != NULL)
		g_signal_emit_by_name(self, "ca-changed", ca);
	/* requests that waited for the CA's CSR attributes before making a key go on */
	if (self != NULL && !ck_ca_is_refreshing(ca)) {
		GHashTableIter iter;
		gpointer value;
		g_hash_table_iter_init(&iter, self->requests);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			CkJob *job = ck_engine_lookup_job(self, value);
			if (g_strcmp0(ck_request_get_ca(value), ck_ca_get_name(ca)) == 0 &&
			    ck_request_get_state(value) == CK_REQUEST_STATE_NEED_KEY_PAIR &&
			    job != NULL && job->key == NULL && !job->waiting)
				ck_engine_schedule_step(self, value);
		}
	}
	/* a refreshed CA may offer renewal windows (again): at start-up, on Reload, on
	 * CA1.Refresh() and for a changed CA, its certificates are asked about */
	if (self != NULL && g_hash_table_lookup(self->cas, ck_ca_get_name(ca)) == ca) {
		GHashTableIter iter;
		gpointer value;
		g_hash_table_iter_init(&iter, self->requests);
		while (g_hash_table_iter_next(&iter, NULL, &value)) {
			if (g_strcmp0(ck_request_get_ca(value), ck_ca_get_name(ca)) == 0)
				ck_engine_ask_renewal_window(self, value);
		}
	}
}

static void
ck_engine_ca_refreshed_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkEngine *self = user_data != NULL ? CK_ENGINE(user_data) : NULL;

	ck_engine_ca_refresh_complete(self, CK_CA(source), res);
	if (self != NULL)
		g_object_unref(self);
}

void
ck_engine_refresh_ca(CkEngine *self, CkCa *ca)
{
	ck_ca_refresh_async(ca, NULL, ck_engine_ca_refreshed_cb, g_object_ref(self));
}

CkCa *
ck_engine_make_ca(CkEngine *self, const CkCaConfig *cfg, GError **error)
{
	if (!ck_ca_config_check(cfg, error))
		return NULL;
	if (g_strcmp0(cfg->type, "local") == 0) {
		/* the default CA keeps the documented path; others get their own */
		g_autofree gchar *dirname = g_strcmp0(cfg->name, "local") == 0
						? g_strdup("local-ca")
						: g_strdup_printf("local-ca-%s", cfg->name);
		g_autofree gchar *dir = g_build_filename(self->state_dir, dirname, NULL);
		return ck_ca_local_new(cfg->name, dir,
				       cfg->validity_days != 0
					   ? cfg->validity_days
					   : ck_config_get_default_validity_days(self->config));
	}
	if (g_strcmp0(cfg->type, "helper") == 0 || ck_ca_protocol_find(cfg->type) != NULL) {
		const CkCaProtocol *protocol = ck_ca_protocol_find(cfg->type);
		g_autofree gchar *command = NULL;
		CkCa *ca;

		if (protocol != NULL) {
			/* the helper's own state (an ACME account key, a pinned anchor), which
			 * only root may read */
			g_autofree gchar *states = g_build_filename(self->state_dir, "ca-state", NULL);
			g_autofree gchar *state = g_build_filename(states, cfg->name, NULL);
			const CkLifecycleConfig *lc = ck_config_get_lifecycle(self->config);
			if (protocol->has_state_dir && (!ck_file_ensure_dir(states, 0700, error) ||
							!ck_file_ensure_dir(state, 0700, error)))
				return NULL;
			command = ck_ca_protocol_build_command(protocol, lc->helper_dir, state,
							       cfg->settings);
		}
		ca = ck_ca_helper_new(cfg->name, cfg->type, command != NULL ? command : cfg->helper,
				      cfg->timeout, CK_HELPER_MAX_OUTPUT, error);
		if (ca == NULL)
			g_prefix_error(error, _("CA '%s': "), cfg->name);
		return ca;
	}
	g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
		    _("CA '%s' has an unknown type '%s': use %s"), cfg->name,
		    cfg->type != NULL ? cfg->type : "", ck_ca_protocol_type_names());
	return NULL;
}

static gchar *
ck_engine_ca_path(CkEngine *self, const gchar *name)
{
	g_autofree gchar *file = g_strconcat(name, ".json", NULL);
	return g_build_filename(self->state_dir, "cas", file, NULL);
}

static gboolean
ck_engine_save_ca(CkEngine *self, const CkCaConfig *cfg, GError **error)
{
	g_autofree gchar *dir = g_build_filename(self->state_dir, "cas", NULL);
	g_autofree gchar *path = ck_engine_ca_path(self, cfg->name);
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "version");
	json_builder_add_int_value(builder, CK_CA_JSON_VERSION);
	json_builder_set_member_name(builder, "name");
	json_builder_add_string_value(builder, cfg->name);
	json_builder_set_member_name(builder, "type");
	json_builder_add_string_value(builder, cfg->type);
	if (cfg->helper != NULL) {
		json_builder_set_member_name(builder, "helper");
		json_builder_add_string_value(builder, cfg->helper);
	}
	json_builder_set_member_name(builder, "timeout");
	json_builder_add_int_value(builder, cfg->timeout);
	json_builder_set_member_name(builder, "validity-days");
	json_builder_add_int_value(builder, cfg->validity_days);
	if (cfg->roots_file != NULL) {
		json_builder_set_member_name(builder, "roots-file");
		json_builder_add_string_value(builder, cfg->roots_file);
	}
	if (g_hash_table_size(cfg->settings) > 0) {
		g_autoptr(GList) keys = g_hash_table_get_keys(cfg->settings);
		json_builder_set_member_name(builder, "settings");
		json_builder_begin_object(builder);
		/* sorted, so the file does not change when nothing did */
		keys = g_list_sort(keys, (GCompareFunc)g_strcmp0);
		for (GList *l = keys; l != NULL; l = l->next) {
			json_builder_set_member_name(builder, l->data);
			json_builder_add_string_value(builder,
						      g_hash_table_lookup(cfg->settings, l->data));
		}
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	text = json_to_string(root, TRUE);
	return ck_file_ensure_dir(dir, 0700, error) &&
	       ck_file_replace(path, text, strlen(text), &attrs, error);
}

/* The CAs added at run time, from STATE/cas; a bad file is warned about and skipped. */
void
ck_engine_load_dynamic_cas(CkEngine *self)
{
	g_autofree gchar *dir = g_build_filename(self->state_dir, "cas", NULL);
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		g_autoptr(JsonParser) parser = json_parser_new();
		g_autoptr(GError) error = NULL;
		g_autoptr(CkCaConfig) cfg = NULL;
		JsonObject *obj;
		gchar *ca_name;
		CkCa *ca;

		if (!g_str_has_suffix(name, ".json"))
			continue;
		if (!json_parser_load_from_file(parser, path, &error) ||
		    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
			g_warning("CA state %s is unusable (%s); it is skipped", path,
				  error != NULL ? error->message : _("not an object"));
			continue;
		}
		obj = json_node_get_object(json_parser_get_root(parser));
		cfg = ck_ca_config_new(json_object_get_string_member_with_default(obj, "name", ""),
				       json_object_get_string_member_with_default(obj, "type", ""));
		cfg->helper = g_strdup(json_object_get_string_member_with_default(obj, "helper", NULL));
		cfg->timeout = (guint)json_object_get_int_member_with_default(obj, "timeout", 60);
		cfg->validity_days =
		    (guint)json_object_get_int_member_with_default(obj, "validity-days", 0);
		cfg->roots_file =
		    g_strdup(json_object_get_string_member_with_default(obj, "roots-file", NULL));
		if (json_object_has_member(obj, "settings") &&
		    JSON_NODE_HOLDS_OBJECT(json_object_get_member(obj, "settings"))) {
			JsonObject *settings = json_object_get_object_member(obj, "settings");
			g_autoptr(GList) members = json_object_get_members(settings);
			for (GList *l = members; l != NULL; l = l->next) {
				const gchar *value = json_object_get_string_member_with_default(
				    settings, l->data, NULL);
				if (value != NULL)
					g_hash_table_insert(cfg->settings, g_strdup(l->data),
							    g_strdup(value));
			}
		}
		if (ck_engine_find_ca(self, cfg->name) != NULL) {
			g_warning("CA state %s names %s, which certkeeper.conf defines too; the "
				  "configuration wins",
				  path, cfg->name);
			continue;
		}
		ca = ck_engine_make_ca(self, cfg, &error);
		if (ca == NULL) {
			g_warning("CA state %s: %s; it is skipped", path, error->message);
			continue;
		}
		/* the key is copied first: argument evaluation order is unspecified */
		ca_name = g_strdup(cfg->name);
		g_hash_table_insert(self->cas, g_strdup(ca_name), ca);
		g_hash_table_insert(self->dynamic_cas, ca_name, g_steal_pointer(&cfg));
		ck_engine_refresh_ca(self, ca);
	}
}

static gboolean
ck_engine_ca_name_is_valid(const gchar *name)
{
	/* it names a file and an object path, like a request id */
	return ck_request_id_is_valid(name);
}

const CkCaConfig *
ck_engine_get_ca_config(CkEngine *self, const gchar *name)
{
	GPtrArray *cas = ck_config_get_cas(self->config);
	const CkCaConfig *dynamic = g_hash_table_lookup(self->dynamic_cas, name);
	if (dynamic != NULL)
		return dynamic;
	for (guint i = 0; i < cas->len; i++) {
		CkCaConfig *cfg = g_ptr_array_index(cas, i);
		if (g_strcmp0(cfg->name, name) == 0)
			return cfg;
	}
	return NULL;
}

static gboolean
ck_engine_require_root(CkEngine *self, const CkCaller *caller, const gchar *ca,
		       const gchar *action, GError **error)
{
	if (caller->uid == 0)
		return TRUE;
	g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
		    /* TRANSLATORS: the placeholder is an action, e.g. AddCA */
		    _("Access denied: only root may call %s"), action);
	g_message("refused %s for uid %u", action, (guint)caller->uid);
	ck_engine_record(self, CK_AUDIT_ACCESS_DENIED, caller, NULL, ca, "denied", "action", action,
			 "reason", (*error)->message, NULL);
	return FALSE;
}

gboolean
ck_engine_set_log_setting(CkEngine *self, const CkCaller *caller, const gchar *setting,
			  const gchar *value, GError **error)
{
	g_autofree gchar *action = g_strconcat("Set", setting, NULL);
	g_autofree gchar *before = NULL;
	gboolean ok;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (!ck_engine_require_root(self, caller, NULL, action, error))
		return FALSE;
	if (g_strcmp0(setting, "LogLevel") == 0) {
		before = g_strdup(ck_log_get_level_name());
		ok = ck_log_set_level_name(value, error);
	} else if (g_strcmp0(setting, "LogTarget") == 0) {
		before = g_strdup(ck_log_get_target_name());
		ok = ck_log_set_target_name(value, error);
	} else {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is no log setting: use LogLevel or LogTarget"), setting);
		return FALSE;
	}
	if (!ok)
		return FALSE;
	g_message("%s changed from %s to %s", setting, before, value);
	ck_engine_record(self, CK_AUDIT_LOGGING_CHANGED, caller, NULL, NULL, "success", "setting",
			 setting, "value", value, "previous", before, NULL);
	return TRUE;
}

CkCa *
ck_engine_add_ca(CkEngine *self, const CkCaller *caller, const CkCaConfig *cfg, GError **error)
{
	CkCa *ca;

	g_return_val_if_fail(CK_IS_ENGINE(self), NULL);
	if (!ck_engine_require_root(self, caller, cfg->name, "AddCA", error))
		return NULL;
	if (!ck_engine_ca_name_is_valid(cfg->name)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not a valid CA name: use 1 to 64 letters, digits, '.', '_' "
			      "or '-'"),
			    cfg->name != NULL ? cfg->name : "");
		return NULL;
	}
	if (ck_engine_find_ca(self, cfg->name) != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
			    _("A CA named '%s' exists already"), cfg->name);
		return NULL;
	}
	ca = ck_engine_make_ca(self, cfg, error);
	if (ca == NULL)
		return NULL;
	if (!ck_engine_save_ca(self, cfg, error)) {
		g_object_unref(ca);
		return NULL;
	}
	g_hash_table_insert(self->cas, g_strdup(cfg->name), ca);
	g_hash_table_insert(self->dynamic_cas, g_strdup(cfg->name), ck_ca_config_copy(cfg));
	g_message("CA %s added (%s)", cfg->name, cfg->type);
	ck_engine_record(self, CK_AUDIT_CA_ADDED, caller, NULL, cfg->name, "success", "type",
			 cfg->type, NULL);
	g_signal_emit_by_name(self, "ca-added", ca);
	ck_engine_refresh_ca(self, ca);
	return ca;
}

/* The requests that use CA @name, for a refusal. */
static gchar *
ck_engine_ca_users(CkEngine *self, const gchar *name)
{
	g_autoptr(GPtrArray) requests = ck_engine_get_requests(self);
	g_autoptr(GString) users = g_string_new(NULL);
	for (guint i = 0; i < requests->len; i++) {
		CkRequest *request = g_ptr_array_index(requests, i);
		if (g_strcmp0(ck_request_get_ca(request), name) != 0)
			continue;
		if (users->len > 0)
			g_string_append(users, ", ");
		g_string_append(users, ck_request_get_id(request));
	}
	return users->len > 0 ? g_string_free(g_steal_pointer(&users), FALSE) : NULL;
}

static gboolean
ck_engine_check_dynamic_ca(CkEngine *self, const gchar *name, GError **error)
{
	if (ck_engine_find_ca(self, name) == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND, _("No CA named '%s'"), name);
		return FALSE;
	}
	if (!g_hash_table_contains(self->dynamic_cas, name)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CA '%s' is defined in certkeeper.conf: change it there and reload"),
			    name);
		return FALSE;
	}
	return TRUE;
}

gboolean
ck_engine_modify_ca(CkEngine *self, const CkCaller *caller, const CkCaConfig *cfg,
		    GError **error)
{
	CkCa *ca;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (!ck_engine_require_root(self, caller, cfg->name, "ModifyCA", error) ||
	    !ck_engine_check_dynamic_ca(self, cfg->name, error))
		return FALSE;
	ca = ck_engine_make_ca(self, cfg, error);
	if (ca == NULL)
		return FALSE;
	if (!ck_engine_save_ca(self, cfg, error)) {
		g_object_unref(ca);
		return FALSE;
	}
	/* requests look their CA up by name at every submission: the new one serves them */
	g_hash_table_insert(self->cas, g_strdup(cfg->name), ca);
	g_hash_table_insert(self->dynamic_cas, g_strdup(cfg->name), ck_ca_config_copy(cfg));
	g_message("CA %s modified", cfg->name);
	ck_engine_record(self, CK_AUDIT_CA_MODIFIED, caller, NULL, cfg->name, "success", "type",
			 cfg->type, NULL);
	g_signal_emit_by_name(self, "ca-changed", ca);
	ck_engine_refresh_ca(self, ca);
	return TRUE;
}

gboolean
ck_engine_remove_ca(CkEngine *self, const CkCaller *caller, const gchar *name, GError **error)
{
	g_autofree gchar *users = NULL;
	g_autofree gchar *path = NULL;
	g_autoptr(CkCa) ca = NULL;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (!ck_engine_require_root(self, caller, name, "RemoveCA", error) ||
	    !ck_engine_check_dynamic_ca(self, name, error))
		return FALSE;
	users = ck_engine_ca_users(self, name);
	if (users != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_BUSY,
			    _("CA '%s' still issues for requests %s: change or stop them first"),
			    name, users);
		return FALSE;
	}
	path = ck_engine_ca_path(self, name);
	if (g_unlink(path) < 0 && errno != ENOENT) {
		ck_file_set_error_errno(error, errno, _("Cannot remove"), path);
		return FALSE;
	}
	ca = g_object_ref(ck_engine_find_ca(self, name));
	g_hash_table_remove(self->cas, name);
	g_hash_table_remove(self->dynamic_cas, name);
	g_message("CA %s removed", name);
	ck_engine_record(self, CK_AUDIT_CA_REMOVED, caller, NULL, name, "success", "action",
			 "RemoveCA", NULL);
	g_signal_emit_by_name(self, "ca-removed", ca);
	return TRUE;
}

/* Reload and requests.d */

/* A template from the configured defaults, for the declared requests. */
static CkRequest *
ck_engine_declared_template(gpointer user_data)
{
	return ck_engine_new_request_template(CK_ENGINE(user_data));
}

/* Are the declared settings already what the request has? (no needless writes) */
static gboolean
ck_engine_settings_equal(CkRequest *request, CkRequest *declared)
{
	g_autoptr(CkRequest) merged = ck_request_dup(request);
	g_autoptr(JsonNode) a = NULL, b = NULL;
	g_autofree gchar *ta = NULL, *tb = NULL;

	ck_request_assign_settings(merged, declared);
	a = ck_request_to_json(request);
	b = ck_request_to_json(merged);
	ta = json_to_string(a, FALSE);
	tb = json_to_string(b, FALSE);
	return g_strcmp0(ta, tb) == 0;
}

void
ck_engine_reconcile_declared(CkEngine *self)
{
	const gchar *dir = ck_engine_lifecycle(self)->requests_dir;
	g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) declared =
	    ck_requests_dir_load(dir, ck_engine_declared_template, self, warnings);
	g_autoptr(GHashTable) wanted = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) all = NULL;
	CkCaller root = {0};

	for (guint i = 0; i < warnings->len; i++)
		g_warning("%s", (const gchar *)g_ptr_array_index(warnings, i));
	for (guint i = 0; i < declared->len; i++) {
		CkDeclaredRequest *d = g_ptr_array_index(declared, i);
		CkRequest *existing = ck_engine_find_request(self, d->id);
		g_autoptr(GError) error = NULL;

		g_hash_table_add(wanted, d->id);
		if (existing == NULL) {
			CkRequest *added = ck_engine_add_request(self, d->request, &error);
			if (added == NULL)
				g_warning("%s: request %s is skipped: %s", d->file, d->id,
					  error->message);
			else
				ck_engine_record(self, CK_AUDIT_REQUEST_ADDED, &root, added, NULL,
						 "success", "declared_in", d->file, NULL);
			continue;
		}
		if (ck_request_get_declared(existing) == NULL) {
			g_warning("%s: request %s exists already and was not declared; it is left "
				  "as it is",
				  d->file, d->id);
			continue;
		}
		if (ck_engine_settings_equal(existing, d->request))
			continue;
		if (!ck_engine_modify_request(self, &root, d->id, d->request, &error))
			g_warning("%s: the changes to request %s are skipped: %s", d->file, d->id,
				  error->message);
		else
			ck_request_set_declared(existing, d->file);
	}
	/* declared once, declared no more: stop tracking (the files stay) */
	all = ck_engine_get_requests(self);
	for (guint i = 0; i < all->len; i++) {
		/* held for the record: removing drops the engine's reference */
		g_autoptr(CkRequest) request = g_object_ref(g_ptr_array_index(all, i));
		g_autoptr(GError) error = NULL;
		if (ck_request_get_declared(request) == NULL ||
		    g_hash_table_contains(wanted, ck_request_get_id(request)))
			continue;
		g_message("request %s is no longer declared in %s; it is no longer tracked", 
			  ck_request_get_id(request), dir);
		if (!ck_engine_remove_request(self, ck_request_get_id(request), &error))
			g_warning("%s", error->message);
		else
			ck_engine_record(self, CK_AUDIT_REQUEST_REMOVED, &root, request, NULL,
					 "success", "declared_in", dir, NULL);
	}
}

void
ck_engine_set_config_path(CkEngine *self, const gchar *path)
{
	g_return_if_fail(CK_IS_ENGINE(self));
	g_free(self->config_path);
	self->config_path = g_strdup(path);
}

/* Brings the CAs of certkeeper.conf in line with a new configuration. */
static void
ck_engine_reload_cas(CkEngine *self, const CkCaller *caller, CkConfig *old_config)
{
	GPtrArray *cas = ck_config_get_cas(self->config);
	GPtrArray *old = ck_config_get_cas(old_config);

	for (guint i = 0; i < cas->len; i++) {
		CkCaConfig *cfg = g_ptr_array_index(cas, i);
		const CkCaConfig *before = NULL;
		g_autoptr(GError) error = NULL;
		CkCa *ca;

		for (guint j = 0; j < old->len; j++) {
			if (g_strcmp0(((CkCaConfig *)g_ptr_array_index(old, j))->name, cfg->name) == 0)
				before = g_ptr_array_index(old, j);
		}
		if (before != NULL && ck_ca_config_equal(before, cfg))
			continue;
		ca = ck_engine_make_ca(self, cfg, &error);
		if (ca == NULL) {
			g_warning("%s", error->message);
			continue;
		}
		/* a name that was added at run time is the configuration's now */
		g_hash_table_remove(self->dynamic_cas, cfg->name);
		g_hash_table_insert(self->cas, g_strdup(cfg->name), ca);
		g_signal_emit_by_name(self, before != NULL ? "ca-changed" : "ca-added", ca);
		ck_engine_record(self, before != NULL ? CK_AUDIT_CA_MODIFIED : CK_AUDIT_CA_ADDED,
				 caller, NULL, cfg->name, "success", "type", cfg->type, NULL);
		ck_engine_refresh_ca(self, ca);
	}
	for (guint j = 0; j < old->len; j++) {
		CkCaConfig *before = g_ptr_array_index(old, j);
		g_autofree gchar *users = NULL;
		g_autoptr(CkCa) gone = NULL;
		if (ck_engine_ca_is_configured(self, before->name))
			continue;
		users = ck_engine_ca_users(self, before->name);
		if (users != NULL) {
			g_warning("CA %s is gone from the configuration but still issues for %s; it "
				  "stays until they change",
				  before->name, users);
			continue;
		}
		gone = g_object_ref(ck_engine_find_ca(self, before->name));
		g_hash_table_remove(self->cas, before->name);
		g_signal_emit_by_name(self, "ca-removed", gone);
		ck_engine_record(self, CK_AUDIT_CA_REMOVED, caller, NULL, before->name, "success",
				 "action", "Reload", NULL);
	}
}

gboolean
ck_engine_reload(CkEngine *self, const CkCaller *caller, GError **error)
{
	g_autoptr(CkConfig) config = ck_config_new();
	g_autoptr(CkConfig) old = NULL;
	const CkLifecycleConfig *lc;
	guint keys;

	g_return_val_if_fail(CK_IS_ENGINE(self), FALSE);
	if (!ck_engine_require_root(self, caller, NULL, "Reload", error))
		return FALSE;
	if (self->config_path != NULL &&
	    !ck_config_load(config, self->config_path, FALSE, error)) {
		g_prefix_error(error, _("The configuration was not reloaded: "));
		ck_engine_record(self, CK_AUDIT_CONFIG_RELOADED, caller, NULL, NULL, "failure",
				 "reason", (*error)->message, NULL);
		return FALSE;
	}
	old = g_steal_pointer(&self->config);
	self->config = g_steal_pointer(&config);
	lc = ck_engine_lifecycle(self);
	ck_engine_metrics_config_changed(self, ck_config_get_lifecycle(old)->metrics_dir);
	keys = lc->max_parallel_keys != 0 ? lc->max_parallel_keys : g_get_num_processors();
	ck_limiter_set_max(self->key_limiter, keys);
	ck_key_provider_set_threads(keys);
	ck_limiter_set_max(self->submit_limiter, lc->max_parallel_submissions);
	ck_engine_reload_cas(self, caller, old);
	ck_engine_load_policy(self);
	ck_engine_reconcile_declared(self);
	/* thresholds and jitter may have changed */
	{
		g_autoptr(GPtrArray) all = ck_engine_get_requests(self);
		for (guint i = 0; i < all->len; i++) {
			ck_engine_plan(self, g_ptr_array_index(all, i));
			ck_engine_update_expiry(self, g_ptr_array_index(all, i));
		}
	}
	g_message("configuration reloaded%s%s", self->config_path != NULL ? " from " : "",
		  self->config_path != NULL ? self->config_path : "");
	ck_engine_record(self, CK_AUDIT_CONFIG_RELOADED, caller, NULL, NULL, "success", "config",
			 self->config_path, NULL);
	return TRUE;
}
