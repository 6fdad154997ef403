/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-acme-http01.h"
#include "ck-acme.h"
#include "ck-error.h"
#include "ck-http.h"
#include "ck-jose.h"

#define CK_ACME_ERROR_PREFIX "urn:ietf:params:acme:error:"
#define CK_ACME_JOSE         "application/jose+json"
/* pebble rejects 5 % of nonces by default; real CAs sometimes expire them in a burst */
#define CK_ACME_MAX_BAD_NONCE 10
/* a Retry-After beyond this is capped while we wait in process: POLL covers longer waits */
#define CK_ACME_MAX_POLL_INTERVAL 10

struct _CkAcme {
	const CkAcmeConfig *config;
	CkHttpOptions http;
	guint challenge_timeout;
	JsonObject *directory;
	gchar *nonce;
	gnutls_privkey_t key;
	gnutls_pubkey_t pub;
	gchar *kid;
	gchar *thumbprint;
	gboolean reregistered;
	CkAcmeHttp01 *http01;
	/* what the challenges left behind: webroot files, and dns-01 records as "domain\nvalue" */
	GPtrArray *webroot_files;
	GPtrArray *dns_records;
	/* Retry-After of the last response, seconds (0: none) */
	guint retry_after;
	/* the problem type of the last refusal ("alreadyRevoked"), for callers that accept some */
	gchar *last_problem;
};

void
ck_acme_outcome_clear(CkAcmeOutcome *outcome)
{
	g_clear_pointer(&outcome->chain, g_free);
	g_clear_pointer(&outcome->order_url, g_free);
	outcome->retry_after = 0;
}

/* Response handling */

static JsonNode *
ck_acme_parse_json(CkHttpResponse *response, const gchar *url, GError **error)
{
	GBytes *body = ck_http_response_get_body(response);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) local = NULL;
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);

	if (len == 0 || !json_parser_load_from_data(parser, data, (gssize)len, &local) ||
	    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the URL, then the JSON parser's complaint */
			    _("The ACME server's answer from %s is not a JSON object: %s"), url,
			    local != NULL ? local->message : _("empty or not an object"));
		return NULL;
	}
	return json_node_copy(json_parser_get_root(parser));
}

static const gchar *
ck_acme_get_string(JsonObject *obj, const gchar *member)
{
	JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;
	if (node == NULL || json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return json_node_get_string(node);
}

static JsonArray *
ck_acme_get_array(JsonObject *obj, const gchar *member)
{
	JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;
	if (node == NULL || !JSON_NODE_HOLDS_ARRAY(node))
		return NULL;
	return json_node_get_array(node);
}

static JsonObject *
ck_acme_get_object(JsonObject *obj, const gchar *member)
{
	JsonNode *node = obj != NULL ? json_object_get_member(obj, member) : NULL;
	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node))
		return NULL;
	return json_node_get_object(node);
}

/* "detail; identifier: detail; ..." from a problem document (RFC 8555 §6.7.1). */
static gchar *
ck_acme_problem_text(JsonObject *problem)
{
	g_autoptr(GString) text = g_string_new(ck_acme_get_string(problem, "detail"));
	JsonArray *subs = ck_acme_get_array(problem, "subproblems");

	if (text->len == 0)
		g_string_append(text, _("no detail given"));
	for (guint i = 0; subs != NULL && i < json_array_get_length(subs); i++) {
		JsonNode *node = json_array_get_element(subs, i);
		JsonObject *sub = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		JsonObject *id = ck_acme_get_object(sub, "identifier");
		const gchar *detail = ck_acme_get_string(sub, "detail");
		if (detail == NULL)
			continue;
		g_string_append_printf(text, "; %s: %s",
				       id != NULL && ck_acme_get_string(id, "value") != NULL
					   ? ck_acme_get_string(id, "value")
					   : "?",
				       detail);
	}
	return g_string_free(g_steal_pointer(&text), FALSE);
}

/* The short problem type ("badNonce"), or "" for none. */
static const gchar *
ck_acme_problem_type(JsonObject *problem)
{
	const gchar *type = ck_acme_get_string(problem, "type");
	if (type == NULL)
		return "";
	if (g_str_has_prefix(type, CK_ACME_ERROR_PREFIX))
		return type + strlen(CK_ACME_ERROR_PREFIX);
	return type;
}

/* Which of our codes a problem type means: that decides certmonger's exit status. */
static CkError
ck_acme_problem_code(guint status, const gchar *type)
{
	if (status >= 500 || g_strcmp0(type, "serverInternal") == 0 ||
	    g_strcmp0(type, "rateLimited") == 0)
		return CK_ERROR_CA_UNREACHABLE;
	if (g_strcmp0(type, "externalAccountRequired") == 0)
		return CK_ERROR_CA_UNDERCONFIGURED;
	if (g_strcmp0(type, "accountDoesNotExist") == 0)
		return CK_ERROR_NOT_FOUND;
	return CK_ERROR_CA_REJECTED;
}

static void
ck_acme_set_problem_error(JsonObject *problem, guint status, const gchar *what, GError **error)
{
	g_autofree gchar *text = ck_acme_problem_text(problem);
	const gchar *type = ck_acme_problem_type(problem);
	g_set_error(error, CK_ERROR, ck_acme_problem_code(status, type),
		    /* TRANSLATORS: what was asked ("the new order"), the CA's explanation, its
		       error type */
		    _("The ACME server refused %s: %s (%s)"), what, text,
		    type[0] != '\0' ? type : _("no error type"));
}

/* An error for a non-2xx answer; fills @problem_type_out for the badNonce retry. */
static void
ck_acme_http_error(CkHttpResponse *response, const gchar *url, const gchar *what,
		   gchar **problem_type_out, GError **error)
{
	guint status = ck_http_response_get_status(response);
	g_autoptr(JsonNode) node = ck_acme_parse_json(response, url, NULL);

	if (node != NULL) {
		JsonObject *problem = json_node_get_object(node);
		if (problem_type_out != NULL)
			*problem_type_out = g_strdup(ck_acme_problem_type(problem));
		ck_acme_set_problem_error(problem, status, what, error);
		return;
	}
	g_set_error(error, CK_ERROR,
		    status >= 500 || status == 429 ? CK_ERROR_CA_UNREACHABLE : CK_ERROR_CA_REJECTED,
		    /* TRANSLATORS: what was asked, the URL, then the HTTP status code */
		    _("The ACME server refused %s: %s answered HTTP %u"), what, url, status);
}

static guint
ck_acme_parse_retry_after(CkHttpResponse *response)
{
	const gchar *value = ck_http_response_get_header(response, "Retry-After");
	guint64 seconds = 0;

	if (value == NULL)
		return 0;
	if (g_ascii_string_to_unsigned(value, 10, 0, 86400 * 7, &seconds, NULL))
		return (guint)seconds;
	/* an HTTP-date (RFC 9110 §10.2.3): "Sun, 06 Nov 1994 08:49:37 GMT" */
	{
		static const gchar months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
		gchar month[4] = "";
		gint day = 0, year = 0, hour = 0, minute = 0, second = 0;
		if (sscanf(value, "%*3s, %d %3s %d %d:%d:%d GMT", &day, month, &year, &hour,
			   &minute, &second) == 6) {
			const gchar *m = strstr(months, month);
			g_autoptr(GDateTime) when = NULL;
			g_autoptr(GDateTime) now = g_date_time_new_now_utc();
			if (m != NULL && (m - months) % 3 == 0)
				when = g_date_time_new_utc(year, (gint)((m - months) / 3) + 1, day,
							   hour, minute, second);
			if (when != NULL && g_date_time_compare(when, now) > 0)
				return (guint)MIN(
				    g_date_time_difference(when, now) / G_USEC_PER_SEC, 86400 * 7);
		}
	}
	return 0;
}

static void
ck_acme_take_nonce(CkAcme *self, CkHttpResponse *response)
{
	const gchar *nonce = ck_http_response_get_header(response, "Replay-Nonce");
	if (nonce != NULL && nonce[0] != '\0') {
		g_free(self->nonce);
		self->nonce = g_strdup(nonce);
	}
}

/* Requests */

static CkHttpResponse *
ck_acme_get(CkAcme *self, const gchar *url, GError **error)
{
	return ck_http_request(&self->http, "GET", url, NULL, NULL, error);
}

static gboolean
ck_acme_load_directory(CkAcme *self, GError **error)
{
	const gchar *url = self->config->directory_url;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(JsonNode) node = NULL;
	const gchar *required[] = {"newNonce", "newAccount", "newOrder", NULL};

	response = ck_acme_get(self, url, error);
	if (response == NULL)
		return FALSE;
	if (ck_http_response_get_status(response) != 200) {
		ck_acme_http_error(response, url, _("the directory request"), NULL, error);
		/* a directory URL that is wrong is a configuration problem, not a refusal */
		if (*error != NULL && (*error)->code == CK_ERROR_CA_REJECTED)
			(*error)->code = CK_ERROR_CA_UNDERCONFIGURED;
		return FALSE;
	}
	node = ck_acme_parse_json(response, url, error);
	if (node == NULL)
		return FALSE;
	for (guint i = 0; required[i] != NULL; i++) {
		if (ck_acme_get_string(json_node_get_object(node), required[i]) == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
				    _("%s is not an ACME directory: it has no \"%s\""), url,
				    required[i]);
			return FALSE;
		}
	}
	self->directory = json_object_ref(json_node_get_object(node));
	return TRUE;
}

static gboolean
ck_acme_fetch_nonce(CkAcme *self, GError **error)
{
	const gchar *url = ck_acme_get_string(self->directory, "newNonce");
	g_autoptr(CkHttpResponse) response =
	    ck_http_request(&self->http, "HEAD", url, NULL, NULL, error);

	if (response == NULL)
		return FALSE;
	ck_acme_take_nonce(self, response);
	if (self->nonce == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The ACME server gave no nonce at %s (HTTP %u)"), url,
			    ck_http_response_get_status(response));
		return FALSE;
	}
	return TRUE;
}

static gboolean ck_acme_register(CkAcme *self, GError **error);

/*
 * A signed POST (@payload JSON text, NULL for POST-as-GET), signed with the
 * account URL as "kid", or with the JWK when @use_jwk. Retries a badNonce with
 * the fresh nonce the refusal carried, and re-registers once if the server no
 * longer knows the account. Returns the 2xx response.
 */
static CkHttpResponse *
ck_acme_post(CkAcme *self, const gchar *url, const gchar *payload, gboolean use_jwk,
	     const gchar *what, GError **error)
{
	for (guint attempt = 0;; attempt++) {
		g_autoptr(CkHttpResponse) response = NULL;
		g_autoptr(GBytes) body = NULL;
		g_autoptr(GError) local = NULL;
		g_autofree gchar *problem = NULL;
		g_autofree gchar *jws = NULL;
		guint status;

		if (self->nonce == NULL && !ck_acme_fetch_nonce(self, error))
			return NULL;
		jws = ck_jose_jws_sign(self->key, use_jwk ? NULL : self->kid, self->nonce, url,
				       payload, error);
		/* a nonce is good for one request, whatever its fate */
		g_clear_pointer(&self->nonce, g_free);
		if (jws == NULL)
			return NULL;
		body = g_bytes_new_take(jws, strlen(jws));
		jws = NULL;
		response = ck_http_request(&self->http, "POST", url, CK_ACME_JOSE, body, error);
		if (response == NULL)
			return NULL;
		ck_acme_take_nonce(self, response);
		self->retry_after = ck_acme_parse_retry_after(response);
		status = ck_http_response_get_status(response);
		if (status >= 200 && status < 300)
			return g_steal_pointer(&response);
		ck_acme_http_error(response, url, what, &problem, &local);
		if (g_strcmp0(problem, "badNonce") == 0 && attempt < CK_ACME_MAX_BAD_NONCE) {
			g_debug("%s: badNonce, retrying with the fresh nonce", url);
			continue;
		}
		if (g_strcmp0(problem, "accountDoesNotExist") == 0 && !use_jwk &&
		    !self->reregistered) {
			/* the CA forgot us (a reset, a purge): the same key makes a new one */
			g_message(_("The ACME server does not know account %s; registering again"),
				  self->kid);
			self->reregistered = TRUE;
			g_clear_pointer(&self->kid, g_free);
			if (!ck_acme_register(self, error))
				return NULL;
			continue;
		}
		if (local->code == CK_ERROR_NOT_FOUND)
			local->code = CK_ERROR_CA_REJECTED;
		g_free(self->last_problem);
		self->last_problem = g_steal_pointer(&problem);
		g_propagate_error(error, g_steal_pointer(&local));
		return NULL;
	}
}

/* POSTs and parses the JSON answer. */
static JsonNode *
ck_acme_post_json(CkAcme *self, const gchar *url, const gchar *payload, const gchar *what,
		  gchar **location_out, GError **error)
{
	g_autoptr(CkHttpResponse) response = ck_acme_post(self, url, payload, FALSE, what, error);
	JsonNode *node;

	if (response == NULL)
		return NULL;
	node = ck_acme_parse_json(response, url, error);
	if (node != NULL && location_out != NULL)
		*location_out = g_strdup(ck_http_response_get_header(response, "Location"));
	return node;
}

static gchar *
ck_acme_node_to_string(JsonNode *node)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_root(gen, node);
	return json_generator_to_data(gen, NULL);
}

/* The account */

static gboolean
ck_acme_prepare_state_dir(const gchar *dir, GError **error)
{
	struct stat st;

	if (g_mkdir_with_parents(dir, 0700) < 0) {
		int saved = errno;
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("Cannot create the ACME state directory %s: %s"), dir,
			    g_strerror(saved));
		return FALSE;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The ACME state directory %s is not a directory of ours (a symbolic "
			      "link, or owned by another user)"),
			    dir);
		return FALSE;
	}
	/* it holds the account key: nobody else may even list it */
	if ((st.st_mode & 077) != 0 && chmod(dir, 0700) < 0) {
		int saved = errno;
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("Cannot make the ACME state directory %s private: %s"), dir,
			    g_strerror(saved));
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_acme_write_private(const gchar *path, const gchar *contents, gsize len, GError **error)
{
	g_autoptr(GError) local = NULL;
	/* a temporary file, fsync, rename: a crash leaves the old file or the new one */
	if (!g_file_set_contents_full(path, contents, (gssize)len,
				      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				      0600, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED, _("Cannot write %s: %s"),
			    path, local->message);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_acme_load_or_create_key(CkAcme *self, const gchar *path, GError **error)
{
	gnutls_datum_t data = {NULL, 0};
	int rc;

	rc = gnutls_privkey_init(&self->key);
	if (rc < 0)
		goto crypto;
	if (g_file_test(path, G_FILE_TEST_EXISTS)) {
		rc = gnutls_load_file(path, &data);
		if (rc >= 0)
			rc = gnutls_privkey_import_x509_raw(self->key, &data, GNUTLS_X509_FMT_PEM,
							    NULL, 0);
		gnutls_free(data.data);
		if (rc < 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
				    _("The ACME account key %s cannot be loaded: %s (remove it to "
				      "register a new account)"),
				    path, gnutls_strerror(rc));
			return FALSE;
		}
	} else {
		gnutls_x509_privkey_t x509 = NULL;
		rc = gnutls_x509_privkey_init(&x509);
		if (rc >= 0)
			rc = gnutls_x509_privkey_generate(
			    x509, GNUTLS_PK_EC, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			    0);
		if (rc >= 0)
			rc = gnutls_x509_privkey_export2(x509, GNUTLS_X509_FMT_PEM, &data);
		if (x509 != NULL)
			gnutls_x509_privkey_deinit(x509);
		if (rc < 0)
			goto crypto;
		if (!ck_acme_write_private(path, (const gchar *)data.data, data.size, error)) {
			gnutls_free(data.data);
			return FALSE;
		}
		rc = gnutls_privkey_import_x509_raw(self->key, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
		gnutls_free(data.data);
		if (rc < 0)
			goto crypto;
	}
	rc = gnutls_pubkey_init(&self->pub);
	if (rc >= 0)
		rc = gnutls_pubkey_import_privkey(self->pub, self->key, 0, 0);
	if (rc < 0)
		goto crypto;
	self->thumbprint = ck_jose_jwk_thumbprint(self->pub, error);
	return self->thumbprint != NULL;
crypto:
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("The ACME account key: %s"),
		    gnutls_strerror(rc));
	return FALSE;
}

static gchar *
ck_acme_account_file(CkAcme *self)
{
	return g_build_filename(self->config->state_dir, "account.json", NULL);
}

static gboolean
ck_acme_save_account(CkAcme *self, GError **error)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *path = ck_acme_account_file(self);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "directory");
	json_builder_add_string_value(b, self->config->directory_url);
	json_builder_set_member_name(b, "url");
	json_builder_add_string_value(b, self->kid);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	text = ck_acme_node_to_string(root);
	return ck_acme_write_private(path, text, strlen(text), error);
}

/* newAccount: creates the account, or finds the one this key already has. */
static gboolean
ck_acme_register(CkAcme *self, GError **error)
{
	const gchar *url = ck_acme_get_string(self->directory, "newAccount");
	JsonObject *meta = ck_acme_get_object(self->directory, "meta");
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) payload = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autofree gchar *text = NULL;
	const gchar *location;

	if (meta != NULL && json_object_has_member(meta, "externalAccountRequired") &&
	    json_object_get_boolean_member(meta, "externalAccountRequired") &&
	    self->config->eab_kid == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The ACME server %s requires an external account binding: give "
			      "--eab-kid and --eab-hmac-key-file"),
			    self->config->directory_url);
		return FALSE;
	}
	json_builder_begin_object(b);
	/* the operator who configured this CA accepted its terms */
	json_builder_set_member_name(b, "termsOfServiceAgreed");
	json_builder_add_boolean_value(b, TRUE);
	if (self->config->contacts != NULL && self->config->contacts[0] != NULL) {
		json_builder_set_member_name(b, "contact");
		json_builder_begin_array(b);
		for (guint i = 0; self->config->contacts[i] != NULL; i++)
			json_builder_add_string_value(b, self->config->contacts[i]);
		json_builder_end_array(b);
	}
	if (self->config->eab_kid != NULL) {
		JsonNode *eab = ck_jose_eab_new(self->config->eab_kid, self->config->eab_mac_key,
						self->pub, url, error);
		if (eab == NULL)
			return FALSE;
		json_builder_set_member_name(b, "externalAccountBinding");
		json_builder_add_value(b, eab);
	}
	json_builder_end_object(b);
	payload = json_builder_get_root(b);
	text = ck_acme_node_to_string(payload);
	response = ck_acme_post(self, url, text, TRUE, _("the account registration"), error);
	if (response == NULL)
		return FALSE;
	location = ck_http_response_get_header(response, "Location");
	if (location == NULL || location[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The ACME server registered the account but sent no account URL"));
		return FALSE;
	}
	g_free(self->kid);
	self->kid = g_strdup(location);
	g_debug("ACME account %s (%s)", self->kid,
		ck_http_response_get_status(response) == 201 ? "new" : "existing");
	return ck_acme_save_account(self, error);
}

/* The account key and URL, created on first use; one helper at a time per state directory. */
static gboolean
ck_acme_ensure_account(CkAcme *self, GError **error)
{
	const gchar *dir = self->config->state_dir;
	g_autofree gchar *lock_path = g_build_filename(dir, "lock", NULL);
	g_autofree gchar *key_path = g_build_filename(dir, "account.key", NULL);
	g_autofree gchar *account_path = ck_acme_account_file(self);
	g_autofree gchar *text = NULL;
	gboolean ok;
	int fd;

	if (self->kid != NULL)
		return TRUE;
	if (self->directory == NULL && !ck_acme_load_directory(self, error))
		return FALSE;
	if (!ck_acme_prepare_state_dir(dir, error))
		return FALSE;
	/* requests renewed together run helpers together: they must share one account */
	fd = g_open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		int saved = errno;
		if (fd >= 0)
			close(fd);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED, _("Cannot lock %s: %s"),
			    lock_path, g_strerror(saved));
		return FALSE;
	}
	ok = ck_acme_load_or_create_key(self, key_path, error);
	if (ok && g_file_get_contents(account_path, &text, NULL, NULL)) {
		g_autoptr(JsonNode) node = json_from_string(text, NULL);
		JsonObject *obj = node != NULL && JSON_NODE_HOLDS_OBJECT(node)
				      ? json_node_get_object(node)
				      : NULL;
		/* an account belongs to one CA: another directory URL means another account */
		if (g_strcmp0(ck_acme_get_string(obj, "directory"), self->config->directory_url) ==
			0 &&
		    ck_acme_get_string(obj, "url") != NULL)
			self->kid = g_strdup(ck_acme_get_string(obj, "url"));
	}
	if (ok && self->kid == NULL)
		ok = ck_acme_register(self, error);
	close(fd);
	return ok;
}

/* The CSR */

typedef struct {
	GPtrArray *types;
	GPtrArray *values;
	guint8 *der;
	gsize der_len;
} CkAcmeCsr;

static void
ck_acme_csr_clear(CkAcmeCsr *csr)
{
	g_clear_pointer(&csr->types, g_ptr_array_unref);
	g_clear_pointer(&csr->values, g_ptr_array_unref);
	g_clear_pointer(&csr->der, g_free);
}

static void
ck_acme_csr_add(CkAcmeCsr *csr, const gchar *type, const gchar *value)
{
	for (guint i = 0; i < csr->values->len; i++) {
		if (g_strcmp0(g_ptr_array_index(csr->types, i), type) == 0 &&
		    g_ascii_strcasecmp(g_ptr_array_index(csr->values, i), value) == 0)
			return;
	}
	g_ptr_array_add(csr->types, g_strdup(type));
	g_ptr_array_add(csr->values, g_ascii_strdown(value, -1));
}

static gboolean
ck_acme_csr_parse(const gchar *pem, CkAcmeCsr *csr, GError **error)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t in = {(unsigned char *)pem, pem != NULL ? (unsigned int)strlen(pem) : 0};
	gnutls_datum_t der = {NULL, 0};
	int rc;

	csr->types = g_ptr_array_new_with_free_func(g_free);
	csr->values = g_ptr_array_new_with_free_func(g_free);
	if (pem == NULL || pem[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("No CSR to submit: CERTMONGER_CSR is not set"));
		return FALSE;
	}
	rc = gnutls_x509_crq_init(&crq);
	if (rc >= 0)
		rc = gnutls_x509_crq_import(crq, &in, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der);
	if (rc < 0) {
		if (crq != NULL)
			gnutls_x509_crq_deinit(crq);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CERTMONGER_CSR is not a PEM certificate request: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	csr->der = g_memdup2(der.data, der.size);
	csr->der_len = der.size;
	gnutls_free(der.data);
	for (unsigned int i = 0;; i++) {
		gchar buf[1024];
		size_t size = sizeof(buf) - 1;
		unsigned int type = 0, critical = 0;
		rc = gnutls_x509_crq_get_subject_alt_name(crq, i, buf, &size, &type, &critical);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (rc < 0)
			continue;
		if (type == GNUTLS_SAN_DNSNAME) {
			buf[size] = '\0';
			ck_acme_csr_add(csr, "dns", buf);
		} else if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16)) {
			gchar text[INET6_ADDRSTRLEN];
			if (inet_ntop(size == 4 ? AF_INET : AF_INET6, buf, text, sizeof(text)) !=
			    NULL)
				ck_acme_csr_add(csr, "ip", text);
		}
	}
	/* without SANs a CA may still take the CN as the one name (RFC 8555 §7.4) */
	if (csr->values->len == 0) {
		gchar cn[256];
		size_t size = sizeof(cn) - 1;
		if (gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn,
						  &size) >= 0) {
			cn[size] = '\0';
			ck_acme_csr_add(csr, g_hostname_is_ip_address(cn) ? "ip" : "dns", cn);
		}
	}
	gnutls_x509_crq_deinit(crq);
	if (csr->values->len == 0) {
		g_set_error_literal(
		    error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    _("The CSR names no DNS name or IP address, so there is nothing "
		      "an ACME CA could validate: add one (certkeeper request -D or "
		      "-A)"));
		return FALSE;
	}
	return TRUE;
}

/* Challenges */

static gboolean
ck_acme_token_is_safe(const gchar *token)
{
	/* the token becomes a file name and a URL path: base64url only (RFC 8555 §8.1) */
	if (token == NULL || token[0] == '\0' || strlen(token) > 256)
		return FALSE;
	for (const gchar *p = token; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
			return FALSE;
	}
	return TRUE;
}

static gboolean
ck_acme_run_dns_hook(CkAcme *self, const gchar *action, const gchar *domain, const gchar *value,
		     GError **error)
{
	g_auto(GStrv) argv = NULL;
	g_auto(GStrv) envp = g_get_environ();
	g_autofree gchar *name = g_strdup_printf("_acme-challenge.%s", domain);
	g_autofree gchar *err = NULL;
	g_autoptr(GError) local = NULL;
	gint status = 0;

	if (!g_shell_parse_argv(self->config->dns01_hook, NULL, &argv, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--dns01-hook '%s' is not a valid command line: %s"),
			    self->config->dns01_hook, local->message);
		return FALSE;
	}
	envp = g_environ_setenv(envp, "CERTKEEPER_ACME_ACTION", action, TRUE);
	envp = g_environ_setenv(envp, "CERTKEEPER_ACME_DOMAIN", domain, TRUE);
	envp = g_environ_setenv(envp, "CERTKEEPER_ACME_DNS_NAME", name, TRUE);
	envp = g_environ_setenv(envp, "CERTKEEPER_ACME_DNS_VALUE", value, TRUE);
	/* the hook's output is its own business; ours (stdout) is the helper protocol's */
	if (!g_spawn_sync(NULL, argv, envp, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
			  NULL, NULL, &err, &status, &local) ||
	    !g_spawn_check_wait_status(status, &local)) {
		g_set_error(
		    error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
		    /* TRANSLATORS: "add" or "remove", the record name, the reason, its stderr */
		    _("The dns-01 hook failed to %s %s: %s %s"), action, name, local->message,
		    err != NULL ? g_strstrip(err) : "");
		return FALSE;
	}
	return TRUE;
}

/* Removes whatever the challenges published: best effort, after success or failure. */
static void
ck_acme_cleanup_challenges(CkAcme *self)
{
	for (guint i = 0; i < self->webroot_files->len; i++) {
		const gchar *path = g_ptr_array_index(self->webroot_files, i);
		if (g_unlink(path) < 0 && errno != ENOENT)
			g_warning("cannot remove %s: %s", path, g_strerror(errno));
	}
	g_ptr_array_set_size(self->webroot_files, 0);
	for (guint i = 0; i < self->dns_records->len; i++) {
		g_auto(GStrv) parts = g_strsplit(g_ptr_array_index(self->dns_records, i), "\n", 2);
		g_autoptr(GError) error = NULL;
		if (!ck_acme_run_dns_hook(self, "remove", parts[0], parts[1], &error))
			g_warning("%s", error->message);
	}
	g_ptr_array_set_size(self->dns_records, 0);
	g_clear_pointer(&self->http01, ck_acme_http01_free);
}

static gboolean
ck_acme_publish_http01(CkAcme *self, const gchar *token, const gchar *key_auth, GError **error)
{
	if (self->config->http01_listen != NULL) {
		if (self->http01 == NULL) {
			self->http01 = ck_acme_http01_new(self->config->http01_listen, error);
			if (self->http01 == NULL)
				return FALSE;
		}
		ck_acme_http01_add(self->http01, token, key_auth);
		return TRUE;
	} else {
		g_autofree gchar *dir = g_build_filename(self->config->http01_webroot,
							 ".well-known", "acme-challenge", NULL);
		g_autofree gchar *path = g_build_filename(dir, token, NULL);
		g_autoptr(GError) local = NULL;
		/* the web server reads these: world-readable, like any static file */
		if (g_mkdir_with_parents(dir, 0755) < 0 ||
		    !g_file_set_contents_full(path, key_auth, -1, G_FILE_SET_CONTENTS_CONSISTENT,
					      0644, &local)) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
				    _("Cannot write the http-01 token %s: %s"), path,
				    local != NULL ? local->message : g_strerror(errno));
			return FALSE;
		}
		g_ptr_array_add(self->webroot_files, g_steal_pointer(&path));
		return TRUE;
	}
}

static gboolean
ck_acme_publish_dns01(CkAcme *self, const gchar *domain, const gchar *key_auth, GError **error)
{
	guint8 digest[32];
	g_autofree gchar *value = NULL;

	gnutls_hash_fast(GNUTLS_DIG_SHA256, key_auth, strlen(key_auth), digest);
	value = ck_jose_base64url_encode(digest, sizeof(digest));
	if (!ck_acme_run_dns_hook(self, "add", domain, value, error))
		return FALSE;
	g_ptr_array_add(self->dns_records, g_strdup_printf("%s\n%s", domain, value));
	return TRUE;
}

static void
ck_acme_sleep(CkAcme *self, gint64 deadline)
{
	guint seconds =
	    self->retry_after > 0 ? MIN(self->retry_after, CK_ACME_MAX_POLL_INTERVAL) : 1;
	gint64 left = deadline - g_get_monotonic_time();
	if (left <= 0)
		return;
	g_usleep((gulong)MIN((gint64)seconds * G_USEC_PER_SEC, left));
}

/* Picks the challenge we can answer: http-01 if configured (not for wildcards), else dns-01. */
static JsonObject *
ck_acme_pick_challenge(CkAcme *self, JsonObject *authz)
{
	JsonArray *challenges = ck_acme_get_array(authz, "challenges");
	gboolean wildcard = json_object_has_member(authz, "wildcard") &&
			    json_object_get_boolean_member(authz, "wildcard");
	const gchar *wanted[2] = {NULL, NULL};
	guint n = 0;

	if ((self->config->http01_listen != NULL || self->config->http01_webroot != NULL) &&
	    !wildcard)
		wanted[n++] = "http-01";
	if (self->config->dns01_hook != NULL)
		wanted[n++] = "dns-01";
	for (guint w = 0; w < n; w++) {
		for (guint i = 0; challenges != NULL && i < json_array_get_length(challenges);
		     i++) {
			JsonNode *node = json_array_get_element(challenges, i);
			JsonObject *ch =
			    JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
			if (g_strcmp0(ck_acme_get_string(ch, "type"), wanted[w]) == 0)
				return ch;
		}
	}
	return NULL;
}

static gchar *
ck_acme_offered_challenges(JsonObject *authz)
{
	JsonArray *challenges = ck_acme_get_array(authz, "challenges");
	g_autoptr(GPtrArray) types = g_ptr_array_new();
	for (guint i = 0; challenges != NULL && i < json_array_get_length(challenges); i++) {
		JsonNode *node = json_array_get_element(challenges, i);
		JsonObject *ch = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		if (ck_acme_get_string(ch, "type") != NULL)
			g_ptr_array_add(types, (gpointer)ck_acme_get_string(ch, "type"));
	}
	g_ptr_array_add(types, NULL);
	return g_strjoinv(", ", (gchar **)types->pdata);
}

/* Why an invalid authorization failed: its challenges carry the CA's problem. */
static void
ck_acme_authz_error(JsonObject *authz, const gchar *name, GError **error)
{
	JsonArray *challenges = ck_acme_get_array(authz, "challenges");
	g_autofree gchar *what = g_strdup_printf(_("the authorization for %s"), name);

	for (guint i = 0; challenges != NULL && i < json_array_get_length(challenges); i++) {
		JsonNode *node = json_array_get_element(challenges, i);
		JsonObject *ch = JSON_NODE_HOLDS_OBJECT(node) ? json_node_get_object(node) : NULL;
		JsonObject *problem = ck_acme_get_object(ch, "error");
		if (problem != NULL) {
			ck_acme_set_problem_error(problem, 400, what, error);
			return;
		}
	}
	g_set_error(error, CK_ERROR, CK_ERROR_CA_REJECTED, _("The ACME server refused %s: %s (%s)"),
		    what, _("no detail given"), ck_acme_get_string(authz, "status"));
}

static gboolean
ck_acme_authorize(CkAcme *self, const gchar *authz_url, gint64 deadline, GError **error)
{
	g_autoptr(JsonNode) node = NULL;
	JsonObject *authz, *challenge, *identifier;
	const gchar *status, *name, *token, *challenge_url;
	g_autofree gchar *key_auth = NULL;
	gboolean responded = FALSE;

	for (;;) {
		g_clear_pointer(&node, json_node_unref);
		node = ck_acme_post_json(self, authz_url, NULL, _("the authorization request"),
					 NULL, error);
		if (node == NULL)
			return FALSE;
		authz = json_node_get_object(node);
		status = ck_acme_get_string(authz, "status");
		identifier = ck_acme_get_object(authz, "identifier");
		name = ck_acme_get_string(identifier, "value");
		if (name == NULL)
			name = "?";
		if (g_strcmp0(status, "valid") == 0)
			return TRUE;
		if (g_strcmp0(status, "pending") != 0) {
			ck_acme_authz_error(authz, name, error);
			return FALSE;
		}
		if (responded) {
			if (g_get_monotonic_time() >= deadline) {
				g_set_error(error, CK_ERROR, CK_ERROR_TIMED_OUT,
					    _("The ACME server did not validate %s within %u "
					      "seconds"),
					    name, self->challenge_timeout);
				return FALSE;
			}
			ck_acme_sleep(self, deadline);
			continue;
		}
		challenge = ck_acme_pick_challenge(self, authz);
		if (challenge == NULL) {
			g_autofree gchar *offered = ck_acme_offered_challenges(authz);
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
				    _("The ACME server offers %s for %s, and none is configured: "
				      "give --http01-listen, --http01-webroot or --dns01-hook"),
				    offered, name);
			return FALSE;
		}
		token = ck_acme_get_string(challenge, "token");
		challenge_url = ck_acme_get_string(challenge, "url");
		if (!ck_acme_token_is_safe(token) || challenge_url == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    _("The ACME server sent a malformed challenge for %s"), name);
			return FALSE;
		}
		key_auth = g_strdup_printf("%s.%s", token, self->thumbprint);
		if (g_strcmp0(ck_acme_get_string(challenge, "type"), "http-01") == 0) {
			if (!ck_acme_publish_http01(self, token, key_auth, error))
				return FALSE;
		} else if (!ck_acme_publish_dns01(self, name, key_auth, error)) {
			return FALSE;
		}
		/* "{}": we are ready, validate now (RFC 8555 §7.5.1) */
		{
			g_autoptr(JsonNode) answer = ck_acme_post_json(
			    self, challenge_url, "{}", _("the challenge response"), NULL, error);
			if (answer == NULL)
				return FALSE;
		}
		responded = TRUE;
	}
}

/* Orders */

static gchar *
ck_acme_rfc3339(gint64 unix_time)
{
	g_autoptr(GDateTime) t = g_date_time_new_from_unix_utc(unix_time);
	return g_date_time_format(t, "%Y-%m-%dT%H:%M:%SZ");
}

static gboolean
ck_acme_download(CkAcme *self, JsonObject *order, CkAcmeOutcome *outcome, GError **error)
{
	const gchar *url = ck_acme_get_string(order, "certificate");
	g_autoptr(CkHttpResponse) response = NULL;
	GBytes *body;
	gsize len = 0;
	const gchar *data;

	if (url == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The ACME order is valid but names no certificate URL"));
		return FALSE;
	}
	response = ck_acme_post(self, url, NULL, FALSE, _("the certificate download"), error);
	if (response == NULL)
		return FALSE;
	body = ck_http_response_get_body(response);
	data = g_bytes_get_data(body, &len);
	if (len == 0 || g_strstr_len(data, (gssize)len, "-----BEGIN CERTIFICATE-----") == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The ACME server's certificate at %s is not a PEM chain"), url);
		return FALSE;
	}
	outcome->chain = g_strndup(data, len);
	return TRUE;
}

/* Drives the order at @order_url (whose last state is @order) to issuance or a wait. */
static gboolean
ck_acme_drive_order(CkAcme *self, const gchar *order_url, JsonNode *order_node,
		    const CkAcmeCsr *csr, CkAcmeOutcome *outcome, GError **error)
{
	g_autoptr(JsonNode) node = json_node_ref(order_node);
	gint64 deadline = g_get_monotonic_time() + (gint64)self->challenge_timeout * G_USEC_PER_SEC;
	gboolean finalized = FALSE;
	guint pending_rounds = 0;

	for (;;) {
		JsonObject *order = json_node_get_object(node);
		const gchar *status = ck_acme_get_string(order, "status");

		if (g_strcmp0(status, "valid") == 0)
			return ck_acme_download(self, order, outcome, error);
		if (g_strcmp0(status, "invalid") == 0) {
			JsonObject *problem = ck_acme_get_object(order, "error");
			if (problem != NULL) {
				ck_acme_set_problem_error(problem, 400, _("the order"), error);
			} else {
				g_set_error(error, CK_ERROR, CK_ERROR_CA_REJECTED,
					    _("The ACME server marked the order %s invalid"),
					    order_url);
			}
			return FALSE;
		}
		if (g_strcmp0(status, "pending") == 0) {
			JsonArray *authzs = ck_acme_get_array(order, "authorizations");
			/* every authorization valid, the order not yet ready: give the CA a moment
			 */
			if (pending_rounds++ > 0) {
				if (g_get_monotonic_time() >= deadline) {
					g_set_error(error, CK_ERROR, CK_ERROR_TIMED_OUT,
						    _("The ACME order %s stayed pending for %u "
						      "seconds"),
						    order_url, self->challenge_timeout);
					return FALSE;
				}
				ck_acme_sleep(self, deadline);
			}
			for (guint i = 0; authzs != NULL && i < json_array_get_length(authzs);
			     i++) {
				const gchar *url = json_array_get_string_element(authzs, i);
				if (url != NULL && !ck_acme_authorize(self, url, deadline, error))
					return FALSE;
			}
		} else if (g_strcmp0(status, "ready") == 0 && !finalized) {
			g_autofree gchar *b64 = NULL;
			g_autofree gchar *payload = NULL;
			g_autoptr(JsonNode) answer = NULL;
			const gchar *finalize = ck_acme_get_string(order, "finalize");
			if (csr == NULL || csr->der == NULL) {
				g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
						    _("The ACME order is ready for its CSR, but "
						      "CERTMONGER_CSR is not set"));
				return FALSE;
			}
			if (finalize == NULL) {
				g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
					    _("The ACME order %s has no finalize URL"), order_url);
				return FALSE;
			}
			b64 = ck_jose_base64url_encode(csr->der, csr->der_len);
			payload = g_strdup_printf("{\"csr\":\"%s\"}", b64);
			answer =
			    ck_acme_post_json(self, finalize, payload,
					      _("the certificate request (finalize)"), NULL, error);
			if (answer == NULL)
				return FALSE;
			finalized = TRUE;
			g_clear_pointer(&node, json_node_unref);
			node = g_steal_pointer(&answer);
			continue;
		} else if (g_strcmp0(status, "processing") != 0 &&
			   g_strcmp0(status, "ready") != 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    _("The ACME order %s is in an unknown state '%s'"), order_url,
				    status != NULL ? status : "");
			return FALSE;
		}
		if (g_strcmp0(status, "processing") == 0 || g_strcmp0(status, "ready") == 0) {
			/* the CA is working: wait here a while, then hand the wait to the caller */
			if (g_get_monotonic_time() >= deadline) {
				outcome->order_url = g_strdup(order_url);
				outcome->retry_after = MAX(self->retry_after, 5);
				return TRUE;
			}
			ck_acme_sleep(self, deadline);
		}
		g_clear_pointer(&node, json_node_unref);
		node = ck_acme_post_json(self, order_url, NULL, _("the order status"), NULL, error);
		if (node == NULL)
			return FALSE;
	}
}

static gboolean
ck_acme_run_order(CkAcme *self, const gchar *order_url, JsonNode *order, const CkAcmeCsr *csr,
		  CkAcmeOutcome *outcome, GError **error)
{
	gboolean ok = ck_acme_drive_order(self, order_url, order, csr, outcome, error);
	ck_acme_cleanup_challenges(self);
	return ok;
}

gboolean
ck_acme_submit(CkAcme *self, const gchar *csr_pem, gint64 validity, CkAcmeOutcome *outcome,
	       GError **error)
{
	CkAcmeCsr csr = {0};
	g_autoptr(JsonBuilder) b = json_builder_new();
	g_autoptr(JsonNode) payload = NULL;
	g_autoptr(JsonNode) order = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *order_url = NULL;
	gboolean ok;

	if (!ck_acme_csr_parse(csr_pem, &csr, error)) {
		ck_acme_csr_clear(&csr);
		return FALSE;
	}
	if (!ck_acme_ensure_account(self, error)) {
		ck_acme_csr_clear(&csr);
		return FALSE;
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "identifiers");
	json_builder_begin_array(b);
	for (guint i = 0; i < csr.values->len; i++) {
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "type");
		json_builder_add_string_value(b, g_ptr_array_index(csr.types, i));
		json_builder_set_member_name(b, "value");
		json_builder_add_string_value(b, g_ptr_array_index(csr.values, i));
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	if (validity > 0) {
		g_autofree gchar *not_after =
		    ck_acme_rfc3339(g_get_real_time() / G_USEC_PER_SEC + validity);
		json_builder_set_member_name(b, "notAfter");
		json_builder_add_string_value(b, not_after);
	}
	json_builder_end_object(b);
	payload = json_builder_get_root(b);
	text = ck_acme_node_to_string(payload);
	order = ck_acme_post_json(self, ck_acme_get_string(self->directory, "newOrder"), text,
				  _("the new order"), &order_url, error);
	if (order == NULL) {
		ck_acme_csr_clear(&csr);
		return FALSE;
	}
	if (order_url == NULL) {
		ck_acme_csr_clear(&csr);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The ACME server created the order but sent no order URL"));
		return FALSE;
	}
	/* the cookie a later POLL would continue from; tests read it here too */
	g_debug("ACME order %s", order_url);
	ok = ck_acme_run_order(self, order_url, order, &csr, outcome, error);
	ck_acme_csr_clear(&csr);
	return ok;
}

gboolean
ck_acme_poll(CkAcme *self, const gchar *order_url, const gchar *csr_pem, CkAcmeOutcome *outcome,
	     GError **error)
{
	CkAcmeCsr csr = {0};
	g_autoptr(JsonNode) order = NULL;
	gboolean have_csr = csr_pem != NULL && csr_pem[0] != '\0';
	gboolean ok;

	if (order_url == NULL || !g_str_has_prefix(order_url, "http")) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The cookie '%s' is not an ACME order URL"),
			    order_url != NULL ? order_url : "");
		return FALSE;
	}
	if (have_csr && !ck_acme_csr_parse(csr_pem, &csr, error)) {
		ck_acme_csr_clear(&csr);
		return FALSE;
	}
	if (!ck_acme_ensure_account(self, error)) {
		ck_acme_csr_clear(&csr);
		return FALSE;
	}
	order = ck_acme_post_json(self, order_url, NULL, _("the order status"), NULL, error);
	ok = order != NULL &&
	     ck_acme_run_order(self, order_url, order, have_csr ? &csr : NULL, outcome, error);
	ck_acme_csr_clear(&csr);
	return ok;
}

/* Revocation */

static const gchar *const ck_acme_reasons[] = {
    "unspecified",   "keyCompromise",        "cACompromise",    "affiliationChanged",
    "superseded",    "cessationOfOperation", "certificateHold", NULL /* 7 is unused */,
    "removeFromCRL", "privilegeWithdrawn",   "aACompromise",
};

gint
ck_acme_parse_revocation_reason(const gchar *text)
{
	guint64 n = 0;
	if (text == NULL)
		return -1;
	if (g_ascii_string_to_unsigned(text, 10, 0, G_N_ELEMENTS(ck_acme_reasons) - 1, &n, NULL))
		return ck_acme_reasons[n] != NULL ? (gint)n : -1;
	for (guint i = 0; i < G_N_ELEMENTS(ck_acme_reasons); i++) {
		if (ck_acme_reasons[i] != NULL && g_ascii_strcasecmp(text, ck_acme_reasons[i]) == 0)
			return (gint)i;
	}
	return -1;
}

gboolean
ck_acme_revoke(CkAcme *self, const gchar *cert_pem, gint reason, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = {(unsigned char *)cert_pem,
			     cert_pem != NULL ? (unsigned int)strlen(cert_pem) : 0};
	gnutls_datum_t der = {NULL, 0};
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *payload = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GError) local = NULL;
	const gchar *url;
	int rc;

	if (cert_pem == NULL || cert_pem[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Nothing to revoke: CERTMONGER_CERTIFICATE is not set"));
		return FALSE;
	}
	rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CERTMONGER_CERTIFICATE is not a PEM certificate: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	b64 = ck_jose_base64url_encode(der.data, der.size);
	gnutls_free(der.data);
	if (!ck_acme_ensure_account(self, error))
		return FALSE;
	url = ck_acme_get_string(self->directory, "revokeCert");
	if (url == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("The ACME server %s does not offer revocation"),
			    self->config->directory_url);
		return FALSE;
	}
	if (reason >= 0)
		payload = g_strdup_printf("{\"certificate\":\"%s\",\"reason\":%d}", b64, reason);
	else
		payload = g_strdup_printf("{\"certificate\":\"%s\"}", b64);
	response = ck_acme_post(self, url, payload, FALSE, _("the revocation"), &local);
	if (response != NULL)
		return TRUE;
	/* revoking twice is what was wanted: done */
	if (g_strcmp0(self->last_problem, "alreadyRevoked") == 0)
		return TRUE;
	g_propagate_error(error, g_steal_pointer(&local));
	return FALSE;
}

/* Roots */

gchar *
ck_acme_fetch_roots(CkAcme *self, const gchar *nickname, GError **error)
{
	const gchar *const *urls = self->config->roots_urls;
	g_autoptr(GString) out = g_string_new(NULL);

	if (urls == NULL || urls[0] == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
				    _("ACME has no standard way to publish roots: give --roots-url "
				      "if the CA offers one"));
		return NULL;
	}
	for (guint i = 0; urls[i] != NULL; i++) {
		g_autoptr(CkHttpResponse) response = ck_acme_get(self, urls[i], error);
		gnutls_x509_crt_t *list = NULL;
		unsigned int n = 0;
		gnutls_datum_t datum;
		gsize len = 0;

		if (response == NULL)
			return NULL;
		if (ck_http_response_get_status(response) != 200) {
			ck_acme_http_error(response, urls[i], _("the root certificate request"),
					   NULL, error);
			return NULL;
		}
		datum.data =
		    (unsigned char *)g_bytes_get_data(ck_http_response_get_body(response), &len);
		datum.size = (unsigned int)len;
		if (gnutls_x509_crt_list_import2(&list, &n, &datum, GNUTLS_X509_FMT_PEM, 0) < 0 ||
		    n == 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    _("%s holds no PEM certificate"), urls[i]);
			return NULL;
		}
		/* certmonger's format: the CA's root, a blank line, other roots (a nickname each)
		 */
		for (unsigned int j = 0; j < n; j++) {
			gnutls_datum_t pem = {NULL, 0};
			if (gnutls_x509_crt_export2(list[j], GNUTLS_X509_FMT_PEM, &pem) >= 0) {
				if (out->len > 0 && i == 1 && j == 0)
					g_string_append_c(out, '\n');
				if (out->len == 0)
					g_string_append_printf(out, "%s\n", nickname);
				else
					g_string_append_printf(out, "%s %u.%u\n", nickname, i, j);
				g_string_append_len(out, (const gchar *)pem.data, pem.size);
				gnutls_free(pem.data);
			}
			gnutls_x509_crt_deinit(list[j]);
		}
		gnutls_free(list);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

/* Renewal information (RFC 9773) */

/* What RFC 9773 §4.3 tells a client to assume when the CA gives no Retry-After. */
#define CK_ACME_ARI_DEFAULT_RETRY (6 * 3600)

void
ck_acme_renewal_window_clear(CkAcmeRenewalWindow *window)
{
	g_clear_pointer(&window->explanation_url, g_free);
	window->start = window->end = 0;
	window->retry_after = 0;
}

gchar *
ck_acme_ari_cert_id(const gchar *cert_pem, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t in = {(unsigned char *)cert_pem,
			     cert_pem != NULL ? (unsigned int)strlen(cert_pem) : 0};
	guint8 key_id[128], serial[64];
	size_t key_id_len = sizeof(key_id), serial_len = sizeof(serial);
	unsigned int critical = 0;
	g_autofree gchar *key_b64 = NULL;
	g_autofree gchar *serial_b64 = NULL;
	int rc;

	if (cert_pem == NULL || cert_pem[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("No certificate to ask about: CERTMONGER_CERTIFICATE is not set"));
		return NULL;
	}
	rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CERTMONGER_CERTIFICATE is not a PEM certificate: %s"),
			    gnutls_strerror(rc));
		return NULL;
	}
	rc = gnutls_x509_crt_get_authority_key_id(crt, key_id, &key_id_len, &critical);
	if (rc < 0 || key_id_len == 0) {
		gnutls_x509_crt_deinit(crt);
		/* RFC 9773 §4.1 identifies a certificate by its issuer's key identifier only */
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The certificate has no authority key identifier, so renewal "
				      "information cannot be asked for it"));
		return NULL;
	}
	/* gnutls hands out the INTEGER's content octets as encoded, so a serial with its
	 * high bit set keeps the leading zero byte that RFC 9773 §4.1 wants */
	rc = gnutls_x509_crt_get_serial(crt, serial, &serial_len);
	gnutls_x509_crt_deinit(crt);
	if (rc < 0 || serial_len == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Cannot read the certificate's serial number: %s"),
			    gnutls_strerror(rc));
		return NULL;
	}
	key_b64 = ck_jose_base64url_encode(key_id, key_id_len);
	serial_b64 = ck_jose_base64url_encode(serial, serial_len);
	return g_strdup_printf("%s.%s", key_b64, serial_b64);
}

/* An RFC 3339 time as Unix seconds; FALSE unless it is one, with its offset. */
static gboolean
ck_acme_parse_rfc3339(const gchar *text, gint64 *out)
{
	g_autoptr(GDateTime) t = NULL;

	/* g_date_time_new_from_iso8601() also takes ISO 8601 forms RFC 3339 does not have;
	 * every RFC 3339 time has a 'T' (or 't') and a zone, which a NULL default enforces */
	if (text == NULL || strlen(text) < 20 || (text[10] != 'T' && text[10] != 't'))
		return FALSE;
	t = g_date_time_new_from_iso8601(text, NULL);
	if (t == NULL)
		return FALSE;
	*out = g_date_time_to_unix(t);
	return TRUE;
}

gboolean
ck_acme_ari_parse(const gchar *json, gsize len, CkAcmeRenewalWindow *window, GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) local = NULL;
	JsonObject *root, *suggested;
	const gchar *start_text, *end_text, *explanation;
	gint64 start = 0, end = 0;

	if (json == NULL || len == 0 || !json_parser_load_from_data(parser, json, (gssize)len, &local) ||
	    !JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the JSON parser's complaint */
			    _("The renewal information is not a JSON object: %s"),
			    local != NULL ? local->message : _("empty or not an object"));
		return FALSE;
	}
	root = json_node_get_object(json_parser_get_root(parser));
	suggested = ck_acme_get_object(root, "suggestedWindow");
	if (suggested == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    _("The renewal information has no \"suggestedWindow\" object"));
		return FALSE;
	}
	start_text = ck_acme_get_string(suggested, "start");
	end_text = ck_acme_get_string(suggested, "end");
	if (!ck_acme_parse_rfc3339(start_text, &start) || !ck_acme_parse_rfc3339(end_text, &end)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the two times as the CA wrote them */
			    _("The suggested renewal window (start \"%s\", end \"%s\") does not "
			      "hold two RFC 3339 times"),
			    start_text != NULL ? start_text : "", end_text != NULL ? end_text : "");
		return FALSE;
	}
	/* §4.2: "end" MUST be after "start"; a window of no length is no window */
	if (end <= start) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The suggested renewal window ends (%s) before it starts (%s)"),
			    end_text, start_text);
		return FALSE;
	}
	explanation = ck_acme_get_string(root, "explanationURL");
	g_free(window->explanation_url);
	window->explanation_url = g_strdup(explanation);
	window->start = start;
	window->end = end;
	return TRUE;
}

gboolean
ck_acme_get_renewal_window(CkAcme *self, const gchar *cert_pem, CkAcmeRenewalWindow *window,
			   GError **error)
{
	g_autofree gchar *cert_id = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	const gchar *base;
	GBytes *body;
	gsize len = 0;
	const gchar *data;

	cert_id = ck_acme_ari_cert_id(cert_pem, error);
	if (cert_id == NULL)
		return FALSE;
	if (self->directory == NULL && !ck_acme_load_directory(self, error))
		return FALSE;
	base = ck_acme_get_string(self->directory, "renewalInfo");
	if (base == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("The ACME server %s offers no renewal information (no "
			      "\"renewalInfo\" in its directory)"),
			    self->config->directory_url);
		return FALSE;
	}
	url = g_str_has_suffix(base, "/") ? g_strconcat(base, cert_id, NULL)
					  : g_strconcat(base, "/", cert_id, NULL);
	g_debug("renewal information for %s: GET %s", cert_id, url);
	/* §4.1: a plain GET, unauthenticated, so no account is needed */
	response = ck_acme_get(self, url, error);
	if (response == NULL)
		return FALSE;
	if (ck_http_response_get_status(response) != 200) {
		ck_acme_http_error(response, url, _("the renewal information request"), NULL,
				   error);
		return FALSE;
	}
	body = ck_http_response_get_body(response);
	data = g_bytes_get_data(body, &len);
	if (!ck_acme_ari_parse(data, len, window, error)) {
		g_prefix_error(error, "%s: ", url);
		return FALSE;
	}
	window->retry_after = ck_acme_parse_retry_after(response);
	if (window->retry_after == 0)
		window->retry_after = CK_ACME_ARI_DEFAULT_RETRY;
	return TRUE;
}

/* Life cycle */

CkAcme *
ck_acme_new(const CkAcmeConfig *config, GError **error)
{
	CkAcme *self;

	if (config->directory_url == NULL ||
	    (!g_str_has_prefix(config->directory_url, "https://") &&
	     !g_str_has_prefix(config->directory_url, "http://"))) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--directory must be the ACME server's directory URL (https://...)"));
		return NULL;
	}
	if (config->state_dir == NULL || !g_path_is_absolute(config->state_dir)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--state-dir must be an absolute directory (no CA nickname to derive "
			      "the default from)"));
		return NULL;
	}
	if ((config->eab_kid == NULL) != (config->eab_mac_key == NULL)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--eab-kid and --eab-hmac-key-file go together"));
		return NULL;
	}
	if (config->http01_listen != NULL && config->http01_webroot != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("Give --http01-listen or --http01-webroot, not both"));
		return NULL;
	}
	if (config->http01_listen != NULL) {
		g_autoptr(GSocketAddress) address =
		    ck_acme_http01_parse_listen(config->http01_listen, error);
		if (address == NULL) {
			(*error)->code = CK_ERROR_CA_UNDERCONFIGURED;
			return NULL;
		}
	}
	self = g_new0(CkAcme, 1);
	self->config = config;
	self->http.trust_file = config->trust_file;
	self->http.timeout_seconds = config->http_timeout > 0 ? config->http_timeout : 30;
	self->challenge_timeout = config->challenge_timeout > 0 ? config->challenge_timeout : 45;
	self->webroot_files = g_ptr_array_new_with_free_func(g_free);
	self->dns_records = g_ptr_array_new_with_free_func(g_free);
	return self;
}

void
ck_acme_free(CkAcme *self)
{
	if (self == NULL)
		return;
	ck_acme_cleanup_challenges(self);
	g_ptr_array_unref(self->webroot_files);
	g_ptr_array_unref(self->dns_records);
	if (self->directory != NULL)
		json_object_unref(self->directory);
	if (self->key != NULL)
		gnutls_privkey_deinit(self->key);
	if (self->pub != NULL)
		gnutls_pubkey_deinit(self->pub);
	g_free(self->nonce);
	g_free(self->kid);
	g_free(self->thumbprint);
	g_free(self->last_problem);
	g_free(self);
}
