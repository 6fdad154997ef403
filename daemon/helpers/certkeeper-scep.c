/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper-scep: a SCEP (RFC 8894) CA helper speaking certmonger's helper
 * protocol (docs/helper-protocol.md; options and outcomes in docs/ca-scep.md).
 * The protocol is in ck-scep.c; this file reads the environment and options,
 * runs one operation and turns the outcome into an exit status.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/gnutls.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "ck-error.h"
#include "ck-scep.h"

/* certmonger's helper exit statuses (doc/submit.txt) */
enum {
	CK_EXIT_ISSUED = 0,
	CK_EXIT_WAIT = 1,
	CK_EXIT_REJECTED = 2,
	CK_EXIT_UNREACHABLE = 3,
	CK_EXIT_UNDERCONFIGURED = 4,
	CK_EXIT_WAIT_WITH_DELAY = 5,
	CK_EXIT_UNSUPPORTED = 6,
};

/* what a PENDING answer's cookie starts with, so a foreign cookie is recognised */
#define CK_SCEP_COOKIE_PREFIX "scep-v1:"

static gchar *opt_url;
static gchar *opt_challenge_file;
static gchar *opt_ca_fingerprint;
static gchar *opt_trust;
static gchar *opt_ca_identifier;
static gint opt_timeout = 30;
static gint opt_poll_interval = 300;

static const GOptionEntry ck_scep_entries[] = {
    {"url", 'u', 0, G_OPTION_ARG_STRING, &opt_url,
     N_("The SCEP server's URL, e.g. http://ca.example:8080/scep (required)"), "URL"},
    {"challenge-file", 'c', 0, G_OPTION_ARG_FILENAME, &opt_challenge_file,
     N_("A file whose first line is the challenge password the CA expects"), "FILE"},
    {"ca-fingerprint", 'f', 0, G_OPTION_ARG_STRING, &opt_ca_fingerprint,
     N_("The SHA-256 fingerprint (hex, colons allowed) of the CA certificate to trust"), "HEX"},
    {"trust", 't', 0, G_OPTION_ARG_FILENAME, &opt_trust,
     N_("PEM file of anchors the CA certificate must chain to (instead of a fingerprint)"), "FILE"},
    {"ca-identifier", 'i', 0, G_OPTION_ARG_STRING, &opt_ca_identifier,
     N_("The CA identifier some servers want in GetCACert's message parameter"), "NAME"},
    {"timeout", 0, 0, G_OPTION_ARG_INT, &opt_timeout,
     N_("Seconds to wait for each connection step (default 30)"), "SECONDS"},
    {"poll-interval", 0, 0, G_OPTION_ARG_INT, &opt_poll_interval,
     N_("Seconds to wait before polling when the CA keeps a request pending (default 300)"),
     "SECONDS"},
    {NULL},
};

/* The helper's answer, on standard output, where the daemon reads it. */
static int
ck_scep_answer(int status, const gchar *text)
{
	if (text != NULL && text[0] != '\0') {
		fputs(text, stdout);
		if (!g_str_has_suffix(text, "\n"))
			fputc('\n', stdout);
	}
	fflush(stdout);
	return status;
}

/* The exit status an error's code calls for (see ck-scep.h). */
static int
ck_scep_fail(const GError *error)
{
	int status;

	switch (error->domain == CK_ERROR ? error->code : CK_ERROR_FAILED) {
	case CK_ERROR_CA_REJECTED:
		status = CK_EXIT_REJECTED;
		break;
	case CK_ERROR_CA_UNDERCONFIGURED:
	case CK_ERROR_INVALID_ARGUMENT:
	case CK_ERROR_UNSUPPORTED:
	case CK_ERROR_NOT_FOUND:
	case CK_ERROR_IO:
		status = CK_EXIT_UNDERCONFIGURED;
		break;
	default:
		status = CK_EXIT_UNREACHABLE;
		break;
	}
	return ck_scep_answer(status, error->message);
}

static gboolean
ck_scep_load_key(const gchar *path, const gchar *what, gnutls_privkey_t *key_out, GError **error)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	gnutls_x509_privkey_t x509 = NULL;
	gnutls_privkey_t key = NULL;
	gnutls_datum_t data;
	int rc;

	if (!g_file_get_contents(path, &contents, &len, error)) {
		g_prefix_error(error, _("Cannot read %s: "), what);
		return FALSE;
	}
	data = (gnutls_datum_t){(guint8 *)contents, len};
	rc = gnutls_x509_privkey_init(&x509);
	if (rc >= 0)
		rc = gnutls_x509_privkey_import2(x509, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc >= 0)
		rc = gnutls_privkey_init(&key);
	if (rc >= 0)
		rc = gnutls_privkey_import_x509(key, x509, GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE);
	memset(contents, 0, len);
	if (rc < 0) {
		/* TRANSLATORS: what the file is, its path, GnuTLS's reason */
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s %s is not an unencrypted PEM private key: %s"), what, path,
			    gnutls_strerror(rc));
		if (key != NULL)
			gnutls_privkey_deinit(key);
		else if (x509 != NULL)
			gnutls_x509_privkey_deinit(x509);
		return FALSE;
	}
	*key_out = key;
	return TRUE;
}

static gboolean
ck_scep_load_cert(const gchar *path, gnutls_x509_crt_t *crt_out, GError **error)
{
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crt_t crt = NULL;
	int rc = gnutls_load_file(path, &data);

	if (rc >= 0)
		rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &data, GNUTLS_X509_FMT_PEM);
	gnutls_free(data.data);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate %s cannot be read: %s"), path, gnutls_strerror(rc));
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		return FALSE;
	}
	*crt_out = crt;
	return TRUE;
}

static gchar *
ck_scep_read_challenge(GError **error)
{
	g_autofree gchar *contents = NULL;
	gchar *end;

	if (!g_file_get_contents(opt_challenge_file, &contents, NULL, error)) {
		g_prefix_error(error, _("Cannot read the --challenge-file: "));
		return NULL;
	}
	/* the first line; a trailing newline is not part of the password */
	end = strpbrk(contents, "\r\n");
	if (end != NULL)
		*end = '\0';
	if (contents[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The --challenge-file %s is empty"), opt_challenge_file);
		return NULL;
	}
	return g_steal_pointer(&contents);
}

typedef struct {
	gnutls_x509_crq_t csr;
	gnutls_privkey_t key;
	gnutls_x509_crt_t auth_cert;
	gnutls_privkey_t auth_key;
} CkScepInputs;

static void
ck_scep_inputs_clear(CkScepInputs *in)
{
	if (in->csr != NULL)
		gnutls_x509_crq_deinit(in->csr);
	if (in->key != NULL)
		gnutls_privkey_deinit(in->key);
	if (in->auth_cert != NULL)
		gnutls_x509_crt_deinit(in->auth_cert);
	if (in->auth_key != NULL)
		gnutls_privkey_deinit(in->auth_key);
}

/* The CSR, its key and (for renewals) the identity that authenticates, from the environment. */
static gboolean
ck_scep_read_inputs(CkScepInputs *in, gboolean want_auth, GError **error)
{
	const gchar *csr_pem = g_getenv("CERTMONGER_CSR");
	const gchar *key_file = g_getenv("CERTKEEPER_KEY_FILE");
	gnutls_datum_t data;
	int rc;

	if (csr_pem == NULL || csr_pem[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CERTMONGER_CSR is not set: there is no signing request to submit"));
		return FALSE;
	}
	if (key_file == NULL || key_file[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("SCEP signs and decrypts with the request's own key, and "
			      "CERTKEEPER_KEY_FILE does not say where it is: run this helper under "
			      "certkeeperd with a file key (or set CERTKEEPER_KEY_FILE yourself)"));
		return FALSE;
	}
	data = (gnutls_datum_t){(guint8 *)csr_pem, strlen(csr_pem)};
	rc = gnutls_x509_crq_init(&in->csr);
	if (rc >= 0)
		rc = gnutls_x509_crq_import(in->csr, &data, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CERTMONGER_CSR is not a PEM signing request: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	if (!ck_scep_load_key(key_file, _("The request's key (CERTKEEPER_KEY_FILE)"), &in->key,
			      error))
		return FALSE;
	/* SCEP's answer comes back encrypted to the requester with RSA key transport */
	if (gnutls_privkey_get_pk_algorithm(in->key, NULL) != GNUTLS_PK_RSA) {
		g_set_error(
		    error, CK_ERROR, CK_ERROR_UNSUPPORTED,
		    _("SCEP needs an RSA key (the CA encrypts its answer to it); this "
		      "request's key is %s: request an RSA key (key type rsa-2048 or larger)"),
		    gnutls_pk_get_name(gnutls_privkey_get_pk_algorithm(in->key, NULL)));
		return FALSE;
	}
	if (want_auth) {
		const gchar *cert_file = g_getenv("CERTKEEPER_AUTH_CERTIFICATE");
		const gchar *auth_key_file = g_getenv("CERTKEEPER_AUTH_KEY");
		if (cert_file == NULL || auth_key_file == NULL) {
			g_set_error(
			    error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("CERTKEEPER_AUTH_IDENTITY asks to authenticate, but "
			      "CERTKEEPER_AUTH_CERTIFICATE or CERTKEEPER_AUTH_KEY is not set"));
			return FALSE;
		}
		if (!ck_scep_load_cert(cert_file, &in->auth_cert, error) ||
		    !ck_scep_load_key(auth_key_file,
				      _("The authenticating key (CERTKEEPER_AUTH_KEY)"),
				      &in->auth_key, error))
			return FALSE;
	}
	return TRUE;
}

static int
ck_scep_run_submit(CkScep *scep, gboolean poll)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkScepReply) reply = NULL;
	const gchar *identity = g_getenv("CERTKEEPER_AUTH_IDENTITY");
	const gchar *cookie = g_getenv("CERTMONGER_CA_COOKIE");
	gboolean current = g_strcmp0(identity, "current") == 0;
	gboolean bootstrap = g_strcmp0(identity, "bootstrap") == 0;
	CkScepInputs in = {0};
	CkScepRequest request = {0};
	int status;

	if (poll && (cookie == NULL || !g_str_has_prefix(cookie, CK_SCEP_COOKIE_PREFIX) ||
		     cookie[strlen(CK_SCEP_COOKIE_PREFIX)] == '\0')) {
		return ck_scep_answer(CK_EXIT_UNDERCONFIGURED,
				      _("POLL needs the cookie of an earlier SCEP PENDING answer "
					"(CERTMONGER_CA_COOKIE)"));
	}
	if (!ck_scep_read_inputs(&in, current || bootstrap, &error) ||
	    !ck_scep_fetch_caps(scep, &error) || !ck_scep_fetch_ca(scep, &error))
		goto fail;
	/* over plain HTTP anyone on the path could hand us their CA: insist on a pin */
	if (!ck_scep_is_pinned(scep)) {
		g_autofree gchar *seen = ck_scep_fingerprint(ck_scep_get_ca_certificate(scep));
		g_set_error(
		    &error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
		    /* TRANSLATORS: the fingerprint of the CA the server sent */
		    _("Refusing to enroll with an unverified CA: give --ca-fingerprint or "
		      "--trust. The server's CA certificate has the SHA-256 fingerprint %s; "
		      "compare it with what the CA's operator publishes"),
		    seen);
		goto fail;
	}
	if (opt_challenge_file != NULL) {
		g_autofree gchar *challenge = ck_scep_read_challenge(&error);
		if (challenge == NULL || !ck_scep_add_challenge(in.csr, in.key, challenge, &error))
			goto fail;
	}
	request.csr = in.csr;
	request.key = in.key;
	request.signer_cert = in.auth_cert;
	request.signer_key = in.auth_key;
	/* a renewal is signed with the certificate being renewed, when the CA takes that */
	request.renewal = current && (ck_scep_get_caps(scep) & CK_SCEP_CAP_RENEWAL);
	if (current && !request.renewal)
		g_printerr("%s\n", _("The SCEP server does not offer Renewal: sending PKCSReq"));
	if (poll)
		reply =
		    ck_scep_poll(scep, &request, cookie + strlen(CK_SCEP_COOKIE_PREFIX), &error);
	else
		reply = ck_scep_enroll(scep, &request, &error);
	if (reply == NULL)
		goto fail;
	switch (reply->status) {
	case CK_SCEP_STATUS_SUCCESS:
		status = ck_scep_answer(CK_EXIT_ISSUED, reply->certificates);
		break;
	case CK_SCEP_STATUS_PENDING: {
		g_autofree gchar *answer =
		    g_strdup_printf("%d\n" CK_SCEP_COOKIE_PREFIX "%s", MAX(opt_poll_interval, 1),
				    reply->transaction_id);
		status = ck_scep_answer(CK_EXIT_WAIT_WITH_DELAY, answer);
		break;
	}
	case CK_SCEP_STATUS_FAILURE:
	default: {
		g_autofree gchar *why =
		    /* TRANSLATORS: the CA's failInfo, spelled out */
		    g_strdup_printf(_("The SCEP CA refused the request: %s"), reply->failure);
		status = ck_scep_answer(CK_EXIT_REJECTED, why);
		break;
	}
	}
	ck_scep_inputs_clear(&in);
	return status;
fail:
	ck_scep_inputs_clear(&in);
	return ck_scep_fail(error);
}

static int
ck_scep_run_fetch_roots(CkScep *scep)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *roots = NULL;

	if (!ck_scep_fetch_ca(scep, &error))
		return ck_scep_fail(error);
	if (!ck_scep_is_pinned(scep)) {
		g_autofree gchar *seen = ck_scep_fingerprint(ck_scep_get_ca_certificate(scep));
		/* the roots are shown, but SUBMIT will insist on a pin */
		g_printerr(
		    _("The SCEP server's CA is not verified (no --ca-fingerprint or --trust); "
		      "its SHA-256 fingerprint is %s\n"),
		    seen);
	}
	roots = ck_scep_format_roots(scep);
	return ck_scep_answer(CK_EXIT_ISSUED, roots);
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkScep) scep = NULL;
	const gchar *operation;
	CkScepOptions options = {0};
	int status;

	setlocale(LC_ALL, "");
	/* CERTKEEPER_LOCALEDIR: catalogs outside the installed prefix (tests, relocated trees) */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("CERTKEEPER_LOCALEDIR") != NULL
					    ? g_getenv("CERTKEEPER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	/* TRANSLATORS: the one-line summary of certkeeper-scep --help */
	context = g_option_context_new(_("— a SCEP (RFC 8894) CA helper for certkeeperd"));
	g_option_context_set_summary(
	    context, _("Run by certkeeperd (or certmonger) with CERTMONGER_OPERATION set: SUBMIT, "
		       "POLL, FETCH-ROOTS, IDENTIFY and the request requirements."));
	g_option_context_add_main_entries(context, ck_scep_entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error))
		return ck_scep_answer(CK_EXIT_UNDERCONFIGURED, error->message);
	if (opt_url == NULL ||
	    !(g_str_has_prefix(opt_url, "http://") || g_str_has_prefix(opt_url, "https://")))
		return ck_scep_answer(
		    CK_EXIT_UNDERCONFIGURED,
		    _("certkeeper-scep needs --url http://HOST[:PORT]/PATH, the SCEP "
		      "server's address"));
	if (opt_timeout <= 0 || opt_poll_interval <= 0)
		return ck_scep_answer(CK_EXIT_UNDERCONFIGURED,
				      _("--timeout and --poll-interval must be positive numbers of "
					"seconds"));
	/* certmonger's helpers take a missing operation as SUBMIT */
	operation = g_getenv("CERTMONGER_OPERATION");
	if (operation == NULL || operation[0] == '\0')
		operation = "SUBMIT";

	if (g_str_equal(operation, "IDENTIFY")) {
		g_autofree gchar *identity = g_strdup_printf(
		    "certkeeper-scep %s (SCEP, RFC 8894) %s", PACKAGE_VERSION, opt_url);
		return ck_scep_answer(CK_EXIT_ISSUED, identity);
	}
	/* SCEP needs no variables beyond what every submission has */
	if (g_str_equal(operation, "GET-NEW-REQUEST-REQUIREMENTS") ||
	    g_str_equal(operation, "GET-RENEW-REQUEST-REQUIREMENTS"))
		return ck_scep_answer(CK_EXIT_ISSUED, NULL);

	gnutls_global_init();
	options.url = opt_url;
	options.ca_identifier = opt_ca_identifier;
	options.ca_fingerprint = opt_ca_fingerprint;
	options.trust_file = opt_trust;
	options.timeout_seconds = (guint)opt_timeout;
	scep = ck_scep_new(&options);
	if (g_str_equal(operation, "SUBMIT"))
		status = ck_scep_run_submit(scep, FALSE);
	else if (g_str_equal(operation, "POLL"))
		status = ck_scep_run_submit(scep, TRUE);
	else if (g_str_equal(operation, "FETCH-ROOTS"))
		status = ck_scep_run_fetch_roots(scep);
	else
		status = ck_scep_answer(CK_EXIT_UNSUPPORTED, NULL);
	g_clear_pointer(&scep, ck_scep_free);
	gnutls_global_deinit();
	g_free(opt_url);
	g_free(opt_challenge_file);
	g_free(opt_ca_fingerprint);
	g_free(opt_trust);
	g_free(opt_ca_identifier);
	return status;
}
