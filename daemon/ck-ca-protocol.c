/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>

#include "ck-ca-protocol.h"
#include "ck-error.h"

/* settings that several protocols share have one name and one meaning */
#define CK_TRUST_SUMMARY N_("ACME, EST, SCEP: PEM file of the anchors to trust for the server")
#define CK_URL_SUMMARY	 N_("EST, SCEP: URL of the server, e.g. https://est.example:8443")

static const CkCaSetting ck_acme_settings[] = {
    {"Directory", "directory", TRUE, FALSE, N_("ACME: URL of the directory")},
    {"Trust", "trust", FALSE, TRUE, CK_TRUST_SUMMARY},
    {"Contact", "contact", FALSE, FALSE, N_("ACME: account contact, e.g. mailto:ops@example.org")},
    {"EABKeyID", "eab-kid", FALSE, FALSE, N_("ACME: external account binding key id")},
    {"EABHMACKeyFile", "eab-hmac-key-file", FALSE, TRUE,
     N_("ACME: file holding the external account binding MAC key (base64url)")},
    {"HTTP01Listen", "http01-listen", FALSE, FALSE,
     N_("ACME: answer http-01 challenges on ADDRESS:PORT")},
    {"HTTP01Webroot", "http01-webroot", FALSE, TRUE,
     N_("ACME: answer http-01 challenges with files under this web root")},
    {"DNS01Hook", "dns01-hook", FALSE, FALSE, N_("ACME: command that publishes and removes dns-01 records")},
    {"ChallengeTimeout", "challenge-timeout", FALSE, FALSE,
     N_("ACME: seconds to wait for the server to validate a challenge")},
    {"RootsURL", "roots-url", FALSE, FALSE,
     N_("ACME: URL that serves the CA's root certificate (not standard ACME)")},
    {NULL},
};

static const CkCaSetting ck_est_settings[] = {
    {"URL", "url", TRUE, FALSE, CK_URL_SUMMARY},
    {"Label", "label", FALSE, FALSE, N_("EST: label (the optional path segment)")},
    {"Trust", "trust", FALSE, TRUE, CK_TRUST_SUMMARY},
    {"PinSHA256", "pin-sha256", FALSE, FALSE,
     N_("EST: SHA-256 fingerprint that pins the server's CA on first contact")},
    {"Username", "username", FALSE, FALSE, N_("EST: HTTP Basic user name for enrollment")},
    {"PasswordFile", "password-file", FALSE, TRUE, N_("EST: file holding the HTTP Basic password")},
    {"BootstrapCertificate", "bootstrap-cert", FALSE, TRUE,
     N_("EST: certificate that authenticates a first enrollment")},
    {"BootstrapKey", "bootstrap-key", FALSE, TRUE, N_("EST: key of the bootstrap certificate")},
    {"ChallengeFile", "challenge-file", FALSE, TRUE,
     N_("EST: file holding the challengePassword for CSRs, when the server asks for one")},
    {NULL},
};

static const CkCaSetting ck_scep_settings[] = {
    {"URL", "url", TRUE, FALSE, CK_URL_SUMMARY},
    {"ChallengeFile", "challenge-file", FALSE, TRUE, N_("SCEP: file holding the challenge password")},
    {"CAFingerprint", "ca-fingerprint", FALSE, FALSE,
     N_("SCEP: SHA-256 fingerprint the CA certificate must have")},
    {"Trust", "trust", FALSE, TRUE, CK_TRUST_SUMMARY},
    {"CAIdentifier", "ca-identifier", FALSE, FALSE, N_("SCEP: CA identifier sent with GetCACert")},
    {NULL},
};

static const CkCaProtocol ck_ca_protocols[] = {
    /* ACME keeps its account key, EST a pinned trust anchor */
    {"acme", "certkeeper-acme", TRUE, ck_acme_settings},
    {"est", "certkeeper-est", TRUE, ck_est_settings},
    {"scep", "certkeeper-scep", FALSE, ck_scep_settings},
    {NULL},
};

const CkCaProtocol *
ck_ca_protocol_list(void)
{
	return ck_ca_protocols;
}

const CkCaProtocol *
ck_ca_protocol_find(const gchar *type)
{
	for (const CkCaProtocol *p = ck_ca_protocols; p->type != NULL; p++) {
		if (g_strcmp0(p->type, type) == 0)
			return p;
	}
	return NULL;
}

const CkCaSetting *
ck_ca_protocol_find_setting(const CkCaProtocol *protocol, const gchar *name, gboolean by_option)
{
	for (const CkCaSetting *s = protocol->settings; s->key != NULL; s++) {
		if (g_strcmp0(by_option ? s->option : s->key, name) == 0)
			return s;
	}
	return NULL;
}

const gchar *
ck_ca_protocol_type_names(void)
{
	return "local, helper, acme, est or scep";
}

gboolean
ck_ca_protocol_check_settings(const CkCaProtocol *protocol, GHashTable *settings, GError **error)
{
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, settings);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		const CkCaSetting *setting = ck_ca_protocol_find_setting(protocol, key, FALSE);
		if (setting == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: a setting, then a CA type (acme, est, scep) */
				    _("%s does not apply to a CA of type %s"), (const gchar *)key,
				    protocol->type);
			return FALSE;
		}
		if (((const gchar *)value)[0] == '\0') {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: the setting, then what it is */
				    _("%s= must not be empty (%s)"), setting->key, _(setting->summary));
			return FALSE;
		}
		if (setting->is_path && !g_path_is_absolute(value)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: the setting, then its value */
				    _("%s='%s' must be an absolute path"), setting->key,
				    (const gchar *)value);
			return FALSE;
		}
	}
	for (const CkCaSetting *s = protocol->settings; s->key != NULL; s++) {
		if (s->required && !g_hash_table_contains(settings, s->key)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: CA type, setting, what it is, then the option */
				    _("A CA of type %s needs %s= (%s; --%s on the command line)"),
				    protocol->type, s->key, _(s->summary), s->option);
			return FALSE;
		}
	}
	return TRUE;
}

gchar *
ck_ca_protocol_build_command(const CkCaProtocol *protocol, const gchar *helper_dir,
			     const gchar *state_dir, GHashTable *settings)
{
	g_autofree gchar *program = g_build_filename(helper_dir, protocol->program, NULL);
	g_autofree gchar *quoted_program = g_shell_quote(program);
	g_autofree gchar *quoted_state = g_shell_quote(state_dir);
	GString *command = g_string_new(NULL);

	g_string_append(command, quoted_program);
	if (protocol->has_state_dir)
		g_string_append_printf(command, " --state-dir=%s", quoted_state);
	/* in the table's order, so the same settings always give the same command */
	for (const CkCaSetting *s = protocol->settings; s->key != NULL; s++) {
		const gchar *value = g_hash_table_lookup(settings, s->key);
		g_autofree gchar *quoted = NULL;
		if (value == NULL)
			continue;
		quoted = g_shell_quote(value);
		g_string_append_printf(command, " --%s=%s", s->option, quoted);
	}
	return g_string_free(command, FALSE);
}
