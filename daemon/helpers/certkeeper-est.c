/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper-est: an EST (RFC 7030) CA helper speaking certmonger's helper
 * protocol, for certkeeperd ([ca NAME] Type=helper) and for certmonger
 * (getcert add-ca -e). All the logic is in ck-est.c; this is options and exit.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/gnutls.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>

#include "ck-est.h"

int
main(int argc, char **argv)
{
	CkEstConfig config = {0};
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GString) out = g_string_new(NULL);
	CkEstEnv env = {0};
	gint timeout = 0;
	gboolean version = FALSE;
	CkEstExit code;
	const GOptionEntry entries[] = {
	    {"url", 0, 0, G_OPTION_ARG_STRING, &config.url,
	     N_("The EST server: https://HOST[:PORT][/PATH] (without /.well-known/est)"), "URL"},
	    {"label", 0, 0, G_OPTION_ARG_STRING, &config.label,
	     N_("CA label, the path segment after /.well-known/est (a request's profile wins)"),
	     "LABEL"},
	    {"trust", 0, 0, G_OPTION_ARG_FILENAME, &config.trust_file,
	     N_("PEM file of the anchors that verify the server's TLS certificate"), "FILE"},
	    {"pin-sha256", 0, 0, G_OPTION_ARG_STRING, &config.pin_sha256,
	     N_("Without --trust: accept the server on first contact if it or its CA has this "
		"SHA-256 fingerprint, then keep its CA certificates in --state-dir"),
	     "FINGERPRINT"},
	    {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &config.state_dir,
	     N_("Directory for the pinned CA certificates (one per CA)"), "DIR"},
	    {"username", 0, 0, G_OPTION_ARG_STRING, &config.username,
	     N_("HTTP Basic user name for the first enrollment"), "NAME"},
	    {"password-file", 0, 0, G_OPTION_ARG_FILENAME, &config.password_file,
	     N_("File whose first line is the HTTP Basic password"), "FILE"},
	    {"bootstrap-cert", 0, 0, G_OPTION_ARG_FILENAME, &config.bootstrap_cert,
	     N_("TLS client certificate for the first enrollment when the daemon gives none"),
	     "FILE"},
	    {"bootstrap-key", 0, 0, G_OPTION_ARG_FILENAME, &config.bootstrap_key,
	     N_("Its private key (PEM, unencrypted)"), "FILE"},
	    {"challenge-file", 0, 0, G_OPTION_ARG_FILENAME, &config.challenge_file,
	     N_("File whose first line is the challengePassword certkeeperd puts into CSRs "
		"when the server's CSR attributes ask for one"),
	     "FILE"},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout,
	     N_("Seconds to wait for a connection and for each read or write (default 30)"),
	     "SECONDS"},
	    {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL},
	    {NULL}};

	setlocale(LC_ALL, "");
	/* CERTKEEPER_LOCALEDIR: catalogs outside the installed prefix (tests, relocated trees) */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("CERTKEEPER_LOCALEDIR") != NULL
					    ? g_getenv("CERTKEEPER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	/* TRANSLATORS: the one-line summary of certkeeper-est --help */
	context =
	    g_option_context_new(_("— EST (RFC 7030) CA helper for certkeeperd and certmonger"));
	g_option_context_set_description(
	    context, _("The operation comes in CERTMONGER_OPERATION (SUBMIT, POLL, FETCH-ROOTS, "
		       "IDENTIFY, GET-NEW-REQUEST-REQUIREMENTS, GET-RENEW-REQUEST-REQUIREMENTS, "
		       "CERTKEEPER-GET-CSR-ATTRIBUTES); "
		       "the exit status is certmonger's: 0 issued, 2 rejected, 3 unreachable, "
		       "4 underconfigured, 5 wait, 6 unsupported."));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		/* a broken command line is the CA's configuration: certmonger's status 4 */
		g_print("certkeeper-est: %s\n", error->message);
		ck_est_config_clear(&config);
		return CK_EST_EXIT_UNDERCONFIGURED;
	}
	if (version) {
		g_print("certkeeper-est %s\n", PACKAGE_VERSION);
		ck_est_config_clear(&config);
		return EXIT_SUCCESS;
	}
	if (timeout < 0 || timeout > 3600) {
		g_print(_("certkeeper-est: --timeout %d is not between 1 and 3600 seconds\n"),
			timeout);
		ck_est_config_clear(&config);
		return CK_EST_EXIT_UNDERCONFIGURED;
	}
	config.timeout_seconds = (guint)timeout;

	if (gnutls_global_init() < 0) {
		g_print("certkeeper-est: GnuTLS cannot be initialised\n");
		ck_est_config_clear(&config);
		return CK_EST_EXIT_UNREACHABLE;
	}
	ck_est_env_from_environment(&env);
	code = ck_est_run(&config, &env, out);
	fwrite(out->str, 1, out->len, stdout);
	fflush(stdout);
	gnutls_global_deinit();
	ck_est_config_clear(&config);
	return (int)code;
}
