/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper-acme: the ACME CA helper for certkeeperd and certmonger. It speaks
 * certmonger's helper protocol (doc/submit.txt): the operation and the request
 * come in the environment, the answer goes to stdout, the exit status says what
 * happened. Diagnostics go to stderr only. See docs/ca-acme.md.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "ck-acme.h"
#include "ck-error.h"
#include "ck-jose.h"

/* certmonger's helper exit statuses */
enum {
	CK_EXIT_ISSUED = 0,
	CK_EXIT_WAIT = 1,
	CK_EXIT_REJECTED = 2,
	CK_EXIT_UNREACHABLE = 3,
	CK_EXIT_UNDERCONFIGURED = 4,
	CK_EXIT_WAIT_WITH_DELAY = 5,
	CK_EXIT_UNSUPPORTED = 6,
};

typedef struct {
	gchar *directory;
	gchar *trust;
	gchar *state_dir;
	gchar **contacts;
	gchar *eab_kid;
	gchar *eab_key_file;
	gchar *http01_listen;
	gchar *http01_webroot;
	gchar *dns01_hook;
	gint challenge_timeout;
	gint timeout;
	gchar **roots_urls;
	gboolean verbose;
} CkAcmeArgs;

static void
ck_acme_args_clear(CkAcmeArgs *args)
{
	g_free(args->directory);
	g_free(args->trust);
	g_free(args->state_dir);
	g_strfreev(args->contacts);
	g_free(args->eab_kid);
	g_free(args->eab_key_file);
	g_free(args->http01_listen);
	g_free(args->http01_webroot);
	g_free(args->dns01_hook);
	g_strfreev(args->roots_urls);
}

/* The exit status for a failure: the helper protocol's whole vocabulary for errors. */
static int
ck_acme_exit_code(const GError *error)
{
	if (error->domain != CK_ERROR)
		return CK_EXIT_UNREACHABLE;
	switch (error->code) {
	case CK_ERROR_CA_REJECTED:
	case CK_ERROR_INVALID_ARGUMENT:
		return CK_EXIT_REJECTED;
	case CK_ERROR_CA_UNDERCONFIGURED:
	case CK_ERROR_IO:
	case CK_ERROR_ACCESS_DENIED:
	case CK_ERROR_NOT_FOUND:
		return CK_EXIT_UNDERCONFIGURED;
	case CK_ERROR_UNSUPPORTED:
		return CK_EXIT_UNSUPPORTED;
	default:
		/* unreachable, timed out, a malformed or oversized answer: try again later */
		return CK_EXIT_UNREACHABLE;
	}
}

/* The protocol wants the reason on stdout; a copy on stderr lands in the logs. */
static int
ck_acme_fail(const GError *error)
{
	int code = ck_acme_exit_code(error);
	g_print("%s\n", error->message);
	g_printerr("certkeeper-acme: %s\n", error->message);
	return code;
}

static gboolean
ck_acme_read_eab_key(const gchar *path, GBytes **key_out, GError **error)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;

	if (!g_file_get_contents(path, &text, NULL, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("Cannot read the EAB MAC key file: %s"), local->message);
		return FALSE;
	}
	*key_out = ck_jose_base64url_decode(g_strstrip(text), &local);
	if (*key_out == NULL || g_bytes_get_size(*key_out) == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("%s does not hold a base64url MAC key, as the CA hands it out"),
			    path);
		return FALSE;
	}
	return TRUE;
}

/* /var/lib/certkeeper/acme/NICKNAME, or NULL if there is no usable nickname. */
static gchar *
ck_acme_default_state_dir(void)
{
	const gchar *nickname = g_getenv("CERTMONGER_CA_NICKNAME");
	if (nickname == NULL || nickname[0] == '\0' || strchr(nickname, '/') != NULL ||
	    g_strcmp0(nickname, ".") == 0 || g_strcmp0(nickname, "..") == 0)
		return NULL;
	return g_build_filename(CK_STATEDIR, "acme", nickname, NULL);
}

static const gchar *
ck_acme_env(const gchar *name)
{
	const gchar *value = g_getenv(name);
	return value != NULL && value[0] != '\0' ? value : NULL;
}

static int
ck_acme_print_outcome(CkAcmeOutcome *outcome)
{
	if (outcome->chain != NULL) {
		fputs(outcome->chain, stdout);
		if (!g_str_has_suffix(outcome->chain, "\n"))
			fputc('\n', stdout);
		return CK_EXIT_ISSUED;
	}
	/* still processing: certmonger's "wait N seconds, then POLL with this cookie" */
	g_print("%u\n%s\n", outcome->retry_after, outcome->order_url);
	return CK_EXIT_WAIT_WITH_DELAY;
}

static int
ck_acme_run(CkAcmeArgs *args, const gchar *operation)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) eab_key = NULL;
	g_autoptr(CkAcme) acme = NULL;
	g_autofree gchar *state_dir = NULL;
	CkAcmeConfig config = {0};
	CkAcmeOutcome outcome = {0};
	int code;

	if (g_strcmp0(operation, "IDENTIFY") == 0) {
		g_print("ACME (certkeeper %s) %s\n", PACKAGE_VERSION,
			args->directory != NULL ? args->directory : "");
		return CK_EXIT_ISSUED;
	}
	if (g_strcmp0(operation, "SUBMIT") != 0 && g_strcmp0(operation, "POLL") != 0 &&
	    g_strcmp0(operation, "REVOKE") != 0 && g_strcmp0(operation, "FETCH-ROOTS") != 0 &&
	    g_strcmp0(operation, "GET-RENEWAL-WINDOW") != 0)
		/* GET-*-REQUEST-REQUIREMENTS: nothing beyond the CSR; templates: not in RFC 8555 */
		return CK_EXIT_UNSUPPORTED;

	state_dir =
	    args->state_dir != NULL ? g_strdup(args->state_dir) : ck_acme_default_state_dir();
	if (args->eab_key_file != NULL &&
	    !ck_acme_read_eab_key(args->eab_key_file, &eab_key, &error))
		return ck_acme_fail(error);
	config.directory_url = args->directory;
	config.trust_file = args->trust;
	config.state_dir = state_dir;
	config.contacts = (const gchar *const *)args->contacts;
	config.eab_kid = args->eab_kid;
	config.eab_mac_key = eab_key;
	config.http01_listen = args->http01_listen;
	config.http01_webroot = args->http01_webroot;
	config.dns01_hook = args->dns01_hook;
	config.challenge_timeout = (guint)MAX(args->challenge_timeout, 0);
	config.http_timeout = (guint)MAX(args->timeout, 0);
	config.roots_urls = (const gchar *const *)args->roots_urls;
	acme = ck_acme_new(&config, &error);
	if (acme == NULL)
		return ck_acme_fail(error);

	if (g_strcmp0(operation, "FETCH-ROOTS") == 0) {
		const gchar *nickname = ck_acme_env("CERTMONGER_CA_NICKNAME");
		g_autofree gchar *roots =
		    ck_acme_fetch_roots(acme, nickname != NULL ? nickname : "ACME", &error);
		if (roots == NULL)
			return ck_acme_fail(error);
		fputs(roots, stdout);
		return CK_EXIT_ISSUED;
	}
	if (g_strcmp0(operation, "REVOKE") == 0) {
		const gchar *reason_text = ck_acme_env("CERTKEEPER_REVOKE_REASON");
		gint reason =
		    reason_text != NULL ? ck_acme_parse_revocation_reason(reason_text) : -1;
		if (reason_text != NULL && reason < 0) {
			g_set_error(&error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("CERTKEEPER_REVOKE_REASON '%s' is not an RFC 5280 reason (a "
				      "number 0-10 but 7, or a name such as keyCompromise)"),
				    reason_text);
			return ck_acme_fail(error);
		}
		if (!ck_acme_revoke(acme, ck_acme_env("CERTMONGER_CERTIFICATE"), reason, &error))
			return ck_acme_fail(error);
		g_printerr("certkeeper-acme: %s\n", _("The certificate is revoked"));
		return CK_EXIT_ISSUED;
	}
	if (g_strcmp0(operation, "GET-RENEWAL-WINDOW") == 0) {
		CkAcmeRenewalWindow window = {0};
		if (!ck_acme_get_renewal_window(acme, ck_acme_env("CERTMONGER_CERTIFICATE"), &window,
						&error))
			return ck_acme_fail(error);
		/* certkeeper's extension: "START END" in Unix seconds, then the Retry-After */
		g_print("%" G_GINT64_FORMAT " %" G_GINT64_FORMAT "\n%u\n", window.start, window.end,
			window.retry_after);
		if (window.explanation_url != NULL)
			/* TRANSLATORS: the URL where the CA explains its suggested window */
			g_printerr("certkeeper-acme: %s %s\n", _("The CA explains its renewal window at"),
				   window.explanation_url);
		ck_acme_renewal_window_clear(&window);
		return CK_EXIT_ISSUED;
	}
	if (g_strcmp0(operation, "POLL") == 0) {
		if (!ck_acme_poll(acme, ck_acme_env("CERTMONGER_CA_COOKIE"),
				  ck_acme_env("CERTMONGER_CSR"), &outcome, &error))
			return ck_acme_fail(error);
	} else {
		const gchar *validity_text = ck_acme_env("CERTKEEPER_VALIDITY");
		guint64 validity = 0;
		if (validity_text != NULL &&
		    !g_ascii_string_to_unsigned(validity_text, 10, 0, G_MAXINT32, &validity, NULL))
			validity = 0;
		if (!ck_acme_submit(acme, ck_acme_env("CERTMONGER_CSR"), (gint64)validity, &outcome,
				    &error))
			return ck_acme_fail(error);
	}
	code = ck_acme_print_outcome(&outcome);
	ck_acme_outcome_clear(&outcome);
	return code;
}

int
main(int argc, char **argv)
{
	CkAcmeArgs args = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *state_dir_help = NULL;
	const gchar *operation;
	int code;
	GOptionEntry entries[] = {
	    {"directory", 0, 0, G_OPTION_ARG_STRING, &args.directory,
	     N_("The ACME server's directory URL (required)"), N_("URL")},
	    {"trust", 0, 0, G_OPTION_ARG_FILENAME, &args.trust,
	     N_("PEM trust anchors for the ACME server's TLS certificate (default: the system's)"),
	     N_("FILE")},
	    /* the description names the configured state directory: filled in below */
	    {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &args.state_dir, NULL, N_("DIR")},
	    {"contact", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args.contacts,
	     N_("A contact for the account, e.g. mailto:admin@example.org (repeatable)"),
	     N_("URI")},
	    {"eab-kid", 0, 0, G_OPTION_ARG_STRING, &args.eab_kid,
	     N_("The key identifier of an external account binding"), N_("KID")},
	    {"eab-hmac-key-file", 0, 0, G_OPTION_ARG_FILENAME, &args.eab_key_file,
	     N_("A file holding the external account binding's base64url MAC key"), N_("FILE")},
	    {"http01-listen", 0, 0, G_OPTION_ARG_STRING, &args.http01_listen,
	     N_("Answer http-01 challenges on this address and port itself"), N_("ADDRESS:PORT")},
	    {"http01-webroot", 0, 0, G_OPTION_ARG_FILENAME, &args.http01_webroot,
	     N_("Answer http-01 challenges with files under DIR/.well-known/acme-challenge/"),
	     N_("DIR")},
	    {"dns01-hook", 0, 0, G_OPTION_ARG_STRING, &args.dns01_hook,
	     N_("Answer dns-01 challenges by running this command to add and remove TXT records"),
	     N_("COMMAND")},
	    {"challenge-timeout", 0, 0, G_OPTION_ARG_INT, &args.challenge_timeout,
	     /* the default stays inside certkeeperd's default helper Timeout= of 60 s */
	     N_("Seconds to wait for validation and issuance before answering 'wait' (default "
		"45)"),
	     N_("SECONDS")},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &args.timeout,
	     N_("Seconds for each exchange with the server (default 30)"), N_("SECONDS")},
	    {"roots-url", 0, 0, G_OPTION_ARG_STRING_ARRAY, &args.roots_urls,
	     N_("Where FETCH-ROOTS downloads the CA's root certificate (not standard ACME; "
		"repeatable)"),
	     N_("URL")},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &args.verbose,
	     N_("Log the protocol's steps on stderr"), NULL},
	    {NULL},
	};

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	/* stdout belongs to the helper protocol: every log line goes to stderr */
	g_log_writer_default_set_use_stderr(TRUE);

	/* TRANSLATORS: %s is the state directory, e.g. /var/lib/certkeeper */
	state_dir_help = g_strdup_printf(_("Where the account key and URL are kept (default: "
					   "%s/acme/CA-NICKNAME)"),
					 CK_STATEDIR);
	for (guint i = 0; entries[i].long_name != NULL; i++) {
		if (g_strcmp0(entries[i].long_name, "state-dir") == 0)
			entries[i].description = state_dir_help;
	}
	context = g_option_context_new(NULL);
	g_option_context_set_translation_domain(context, GETTEXT_PACKAGE);
	g_option_context_set_summary(
	    context,
	    _("The ACME (RFC 8555) CA helper for certkeeperd and certmonger. The operation "
	      "comes in CERTMONGER_OPERATION; see docs/ca-acme.md."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_print("%s\n", error->message);
		g_printerr("certkeeper-acme: %s\n", error->message);
		ck_acme_args_clear(&args);
		return CK_EXIT_UNDERCONFIGURED;
	}
	if (args.verbose)
		g_log_set_debug_enabled(TRUE);
	operation = ck_acme_env("CERTMONGER_OPERATION");
	/* certmonger's oldest helpers ran without an operation: that meant SUBMIT */
	code = ck_acme_run(&args, operation != NULL ? operation : "SUBMIT");
	ck_acme_args_clear(&args);
	return code;
}
