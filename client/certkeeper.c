/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * certkeeper: the command-line client of certkeeperd, modelled on certmonger's
 * getcert (same verbs, short options and exit codes), talking sd-bus. The bus
 * plumbing is in ck-client-bus.c; every user-visible text is here.
 *
 * Exit codes (as `getcert status`):
 *   0  done / the certificate is issued and monitored
 *   1  error, or no such request
 *   2  the CA rejected the request
 *   3  the CA is unreachable (certkeeperd retries by itself)
 *   4  the request needs guidance (misconfiguration; see `certkeeper status`)
 *   5  still in progress (e.g. --wait timed out)
 *
 * `certkeeper health` has its own, the most severe problem found winning:
 *   0  every certificate is healthy
 *   1  error (certkeeperd cannot be asked, bad options)
 *   6  a request is stuck: it needs a human, or has been working for too long
 *   7  a certificate expires within --days and no renewal will succeed in time
 *   8  a certificate has expired
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <json-glib/json-glib.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "ck-ca-protocol.h"
#include "ck-client-bus.h"
#include "ck-client-health.h"
#include "ck-client-output.h"
#include "ck-schedule.h"

typedef enum {
	CK_EXIT_OK = 0,
	CK_EXIT_ERROR = 1,
	CK_EXIT_REJECTED = 2,
	CK_EXIT_UNREACHABLE = 3,
	CK_EXIT_MISCONFIGURED = 4,
	CK_EXIT_IN_PROGRESS = 5,
	CK_EXIT_HEALTH_STUCK = 6,
	CK_EXIT_HEALTH_EXPIRING = 7,
	CK_EXIT_HEALTH_EXPIRED = 8,
} CkExit;

typedef struct {
	sd_bus *bus;
	const gchar *bus_spec;
	gboolean color;
} CkClient;

static CkExit ck_client_fail(const gchar *format, ...) G_GNUC_PRINTF(1, 2);

static CkExit
ck_client_fail(const gchar *format, ...)
{
	g_autofree gchar *message = NULL;
	va_list args;
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_printerr("certkeeper: %s\n", message);
	return CK_EXIT_ERROR;
}

static CkExit
ck_client_fail_bus(const sd_bus_error *error, int r)
{
	if (sd_bus_error_is_set(error)) {
		if (sd_bus_error_has_name(error, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
		    sd_bus_error_has_name(error, SD_BUS_ERROR_NAME_HAS_NO_OWNER))
			return ck_client_fail(_("certkeeperd is not running on this bus (%s)"),
					      error->message);
		/* the bus's own refusal is long and technical; say what it means first */
		if (sd_bus_error_has_name(error, SD_BUS_ERROR_ACCESS_DENIED))
			return ck_client_fail(_("Access denied: the D-Bus policy lets only root "
						"do this (%s)"),
					      error->message);
		return ck_client_fail("%s", error->message);
	}
	return ck_client_fail("%s", g_strerror(-r));
}

static int
ck_client_connect(CkClient *client)
{
	int r = ck_client_bus_open(client->bus_spec, &client->bus);
	if (r < 0)
		g_printerr(_("certkeeper: cannot connect to the D-Bus bus '%s': %s\n"),
			   client->bus_spec, g_strerror(-r));
	return r;
}

static CkExit
ck_client_exit_for_state(const gchar *state)
{
	if (g_strcmp0(state, "MONITORING") == 0)
		return CK_EXIT_OK;
	if (g_strcmp0(state, "CA_REJECTED") == 0)
		return CK_EXIT_REJECTED;
	if (g_strcmp0(state, "CA_UNREACHABLE") == 0)
		return CK_EXIT_UNREACHABLE;
	if (g_strcmp0(state, "NEED_GUIDANCE") == 0 || g_strcmp0(state, "STOPPED") == 0)
		return CK_EXIT_MISCONFIGURED;
	return CK_EXIT_IN_PROGRESS;
}

/* Formatting */

static gchar *
ck_client_format_expiry(gint64 not_after)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 days;
	if (not_after <= 0)
		return g_strdup("-");
	if (not_after <= now)
		/* TRANSLATORS: in the EXPIRES column of `certkeeper list` */
		return g_strdup(_("expired"));
	days = (not_after - now) / 86400;
	/* TRANSLATORS: in the EXPIRES column: the certificate expires in %d days */
	return g_strdup_printf(
	    g_dngettext(GETTEXT_PACKAGE, "in %d day", "in %d days", (gulong)days), (int)days);
}

static const gchar *
ck_client_state_color(CkClient *client, const gchar *state)
{
	if (!client->color)
		return "";
	switch (ck_client_exit_for_state(state)) {
	case CK_EXIT_OK:
		return CK_COLOR_GREEN;
	case CK_EXIT_IN_PROGRESS:
		return CK_COLOR_YELLOW;
	default:
		return CK_COLOR_RED;
	}
}

/* For ck_client_print_table(): the colour of a state cell (only called with colour on). */
static const gchar *
ck_client_state_cell_color(const gchar *state, gpointer user_data)
{
	return ck_client_state_color(user_data, state);
}

static const gchar *
ck_client_color_end(CkClient *client)
{
	return client->color ? CK_COLOR_END : "";
}

/* Verb contexts */

static const gchar *
ck_client_exit_codes_text(void)
{
	/* TRANSLATORS: the end of `certkeeper --help` and of every verb's --help */
	return _("Exit codes (as getcert's):\n"
		 "  0  done; the certificate is issued and monitored\n"
		 "  1  error, or no such request\n"
		 "  2  the CA rejected the request\n"
		 "  3  the CA could not be reached (certkeeperd retries by itself)\n"
		 "  4  the request needs guidance (see certkeeper status)\n"
		 "  5  still in progress (e.g. --wait timed out)\n"
		 "certkeeper health:\n"
		 "  0  every certificate is healthy\n"
		 "  6  a request is stuck (it needs a human, or has been working too long)\n"
		 "  7  a certificate expires within --days and no renewal will succeed in time\n"
		 "  8  a certificate has expired");
}

static GOptionContext *
ck_client_verb_context(const gchar *verb, const gchar *parameter, const gchar *summary,
		       const GOptionEntry *entries)
{
	g_autofree gchar *prgname = g_strdup_printf("certkeeper %s", verb);
	GOptionContext *context = g_option_context_new(parameter);

	/* --help then says "certkeeper request [OPTION…]" (GLib names the program so) */
	g_set_prgname(prgname);
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	g_option_context_set_summary(context, summary);
	g_option_context_set_description(context, ck_client_exit_codes_text());
	return context;
}

static gboolean
ck_client_parse(GOptionContext *context, int *argc, char ***argv, gint max_args)
{
	g_autoptr(GError) error = NULL;
	if (!g_option_context_parse(context, argc, argv, &error)) {
		ck_client_fail("%s", error->message);
		return FALSE;
	}
	if (*argc > max_args + 1) {
		ck_client_fail(_("Unexpected argument '%s'"), (*argv)[max_args + 1]);
		return FALSE;
	}
	return TRUE;
}

static GArray *
ck_entries_new(void)
{
	return g_array_new(TRUE, TRUE, sizeof(GOptionEntry));
}

static void
ck_entries_add(GArray *entries, const GOptionEntry *more)
{
	for (guint i = 0; more[i].long_name != NULL; i++)
		g_array_append_val(entries, more[i]);
}

/*
 * The request options: one table for request, start-tracking, modify and the
 * renewals (resubmit and rekey may change settings first, as getcert's do).
 * Each names its AddRequest option and the verbs that take it.
 */

typedef enum {
	CK_ARG_TEXT,     /* s */
	CK_ARG_PATH,     /* s, made absolute */
	CK_ARG_LIST,     /* as, repeatable */
	CK_ARG_MODE,     /* u, from octal text */
	CK_ARG_NUMBER,   /* u */
	CK_ARG_ON,       /* b, TRUE when given */
	CK_ARG_OFF,      /* b, FALSE when given */
	CK_ARG_KEY_TYPE, /* s, getcert's -G with -g */
	CK_ARG_KEY_BITS, /* folded into key-type */
} CkArgKind;

enum {
	CK_FOR_REQUEST = 1 << 0,
	CK_FOR_TRACK = 1 << 1,
	CK_FOR_MODIFY = 1 << 2, /* modify, resubmit, rekey */
};
#define CK_FOR_NEW (CK_FOR_REQUEST | CK_FOR_TRACK)
#define CK_FOR_ALL (CK_FOR_REQUEST | CK_FOR_TRACK | CK_FOR_MODIFY)

typedef struct {
	const gchar *long_name;
	gchar short_name;
	CkArgKind kind;
	const gchar *key; /* the AddRequest option */
	guint verbs;
	const gchar *description;
	const gchar *arg_description;
	const gchar *track_description; /* start-tracking's own, if it differs */
} CkRequestOption;

static const CkRequestOption ck_request_options[] = {
    {"cert-file", 'f', CK_ARG_PATH, "cert-file", CK_FOR_NEW,
     N_("Where to store the certificate (required)"), "FILE",
     N_("The certificate to track (required)")},
    {"key-file", 'k', CK_ARG_PATH, "key-file", CK_FOR_NEW,
     N_("Where to store the private key (required): a file, or with --key-provider=pkcs11 "
	"a PKCS#11 URI"),
     "FILE", N_("The certificate's private key (required)")},
    {"chain-file", 'F', CK_ARG_PATH, "chain-file", CK_FOR_ALL, N_("Where to store the CA chain"),
     "FILE", NULL},
    {"directory", 0, CK_ARG_PATH, "directory", CK_FOR_REQUEST,
     N_("Keep the files in a versioned directory, switched atomically (instead of -f, -k, -F)"),
     "DIR", NULL},
    {"combined-file", 0, CK_ARG_PATH, "combined-file", CK_FOR_ALL,
     N_("Also write key, certificate and chain into one PEM file"), "FILE", NULL},
    {"id", 'I', CK_ARG_TEXT, "id", CK_FOR_NEW,
     N_("The new request's id (nickname); generated if not given"), "ID", NULL},
    {"subject", 'N', CK_ARG_TEXT, "subject", CK_FOR_ALL, N_("Subject name, e.g. CN=host.example"),
     "DN", NULL},
    {"dns", 'D', CK_ARG_LIST, "dns-names", CK_FOR_ALL, N_("DNS name (repeatable)"), "NAME", NULL},
    {"ip", 'A', CK_ARG_LIST, "ip-addresses", CK_FOR_ALL, N_("IP address (repeatable)"), "ADDRESS",
     NULL},
    {"email", 'E', CK_ARG_LIST, "emails", CK_FOR_ALL, N_("Email address (repeatable)"), "EMAIL",
     NULL},
    {"uri", 0, CK_ARG_LIST, "uris", CK_FOR_ALL, N_("URI, e.g. a SPIFFE ID (repeatable)"), "URI",
     NULL},
    {"principal", 'K', CK_ARG_LIST, "principals", CK_FOR_ALL,
     N_("Kerberos principal name, e.g. host/web.example@EXAMPLE.ORG (repeatable)"), "PRINCIPAL",
     NULL},
    {"key-usage", 'u', CK_ARG_LIST, "key-usage", CK_FOR_ALL,
     N_("Key usage, e.g. digitalSignature (repeatable)"), "USAGE", NULL},
    {"extended-key-usage", 'U', CK_ARG_LIST, "extended-key-usage", CK_FOR_ALL,
     N_("Extended key usage, e.g. serverAuth or an OID (repeatable)"), "USAGE", NULL},
    {"ca", 'c', CK_ARG_TEXT, "ca", CK_FOR_ALL,
     N_("CA to use (default: the configured default CA, local)"), "NAME", NULL},
    {"profile", 'T', CK_ARG_TEXT, "profile", CK_FOR_ALL, N_("CA profile or template"), "NAME",
     NULL},
    {"key-type", 'G', CK_ARG_KEY_TYPE, "key-type", CK_FOR_REQUEST | CK_FOR_MODIFY,
     N_("Key type: ec-p256 (default), ec-p384, ec-p521, rsa-2048, rsa-3072, rsa-4096 or "
	"ed25519; or RSA or EC with -g"),
     "TYPE", NULL},
    {"key-provider", 0, CK_ARG_TEXT, "key-provider", CK_FOR_NEW,
     N_("Where the key is made and kept: file (default), tpm (a TSS2 key file) or pkcs11 (in "
	"a token)"),
     "PROVIDER", NULL},
    {"key-size", 'g', CK_ARG_KEY_BITS, NULL, CK_FOR_REQUEST | CK_FOR_MODIFY,
     N_("Key size in bits (with -G RSA or EC)"), "BITS", NULL},
    {"validity-days", 0, CK_ARG_NUMBER, "validity-days", CK_FOR_ALL, N_("Wanted lifetime in days"),
     "DAYS", NULL},
    {"validity", 0, CK_ARG_TEXT, "validity", CK_FOR_ALL,
     N_("Wanted lifetime as a duration, e.g. 90d or 12h"), "DURATION", NULL},
    {"renew-before", 0, CK_ARG_TEXT, "renew-before", CK_FOR_ALL,
     N_("Renew when this much lifetime is left, e.g. 30d or 33%"), "WHEN", NULL},
    {"key-policy", 0, CK_ARG_TEXT, "key-policy", CK_FOR_ALL,
     N_("new: a new key at every renewal (default); reuse: keep the key"), "POLICY", NULL},
    {"auto-renew", 'r', CK_ARG_ON, "auto-renew", CK_FOR_ALL,
     N_("Renew the certificate before it expires (default)"), NULL, NULL},
    {"no-auto-renew", 'R', CK_ARG_OFF, "auto-renew", CK_FOR_ALL,
     N_("Only watch the certificate, never renew it by itself"), NULL, NULL},
    {"pre-save-command", 'B', CK_ARG_TEXT, "pre-save-command", CK_FOR_ALL,
     N_("Command to run before a new certificate is installed"), "COMMAND", NULL},
    {"post-save-command", 'C', CK_ARG_TEXT, "post-save-command", CK_FOR_ALL,
     N_("Command to run after a new certificate is installed"), "COMMAND", NULL},
    {"hook-user", 0, CK_ARG_TEXT, "hook-user", CK_FOR_ALL,
     N_("User the commands run as (default root)"), "USER", NULL},
    {"reload-unit", 0, CK_ARG_TEXT, "reload-unit", CK_FOR_ALL,
     N_("systemd unit to reload after an install, e.g. nginx.service"), "UNIT", NULL},
    {"reload-mode", 0, CK_ARG_TEXT, "reload-mode", CK_FOR_ALL,
     N_("reload, restart, try-restart, reload-or-restart (default) or reload-or-try-restart"),
     "MODE", NULL},
    {"pid-file", 0, CK_ARG_PATH, "pid-file", CK_FOR_ALL,
     N_("PID file of a process to signal after an install"), "FILE", NULL},
    {"pid-signal", 0, CK_ARG_TEXT, "pid-signal", CK_FOR_ALL,
     N_("Signal for that process (default HUP)"), "SIGNAL", NULL},
    {"check-endpoint", 0, CK_ARG_TEXT, "check-endpoint", CK_FOR_ALL,
     N_("After an install, a TLS handshake with HOST:PORT must succeed, else rollback"),
     "HOST:PORT", NULL},
    {"check-command", 0, CK_ARG_TEXT, "check-command", CK_FOR_ALL,
     N_("After an install, this command must succeed, else rollback"), "COMMAND", NULL},
    {"bootstrap-cert", 0, CK_ARG_PATH, "bootstrap-cert-file", CK_FOR_ALL,
     N_("Bootstrap certificate that authenticates a renewal once this one expired"), "FILE", NULL},
    {"bootstrap-key", 0, CK_ARG_PATH, "bootstrap-key-file", CK_FOR_ALL,
     N_("The bootstrap certificate's key"), "FILE", NULL},
    {"proof-key", 0, CK_ARG_PATH, "proof-key-file", CK_FOR_ALL,
     N_("Hardware-resident key registered at enrollment whose signature over a CA nonce "
	"recovers the request once the certificate and bootstrap identity expired"),
     "FILE", NULL},
    {"proof-key-provider", 0, CK_ARG_TEXT, "proof-key-provider", CK_FOR_ALL,
     N_("Key provider of the proof key (default: tpm for a TSS2 key file, else file)"),
     "PROVIDER", NULL},
    {"key-owner", 'o', CK_ARG_TEXT, "key-owner", CK_FOR_ALL, N_("Key file owner"), "USER[:GROUP]",
     NULL},
    {"key-mode", 'm', CK_ARG_MODE, "key-mode", CK_FOR_ALL, N_("Key file mode (octal)"), "MODE",
     NULL},
    {"cert-owner", 'O', CK_ARG_TEXT, "cert-owner", CK_FOR_ALL,
     N_("Certificate and chain file owner"), "USER[:GROUP]", NULL},
    {"cert-mode", 'M', CK_ARG_MODE, "cert-mode", CK_FOR_ALL,
     N_("Certificate and chain file mode (octal)"), "MODE", NULL},
};

#define CK_N_REQUEST_OPTIONS G_N_ELEMENTS(ck_request_options)

/* What was given on the command line, per option of the table. */
typedef struct {
	gchar *text[CK_N_REQUEST_OPTIONS];
	gchar **list[CK_N_REQUEST_OPTIONS];
	gboolean flag[CK_N_REQUEST_OPTIONS];
} CkRequestValues;

static void
ck_request_values_clear(CkRequestValues *values)
{
	for (guint i = 0; i < CK_N_REQUEST_OPTIONS; i++) {
		g_clear_pointer(&values->text[i], g_free);
		g_clear_pointer(&values->list[i], g_strfreev);
	}
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CkRequestValues, ck_request_values_clear)

static guint
ck_request_option_index(const gchar *long_name)
{
	for (guint i = 0; i < CK_N_REQUEST_OPTIONS; i++) {
		if (g_strcmp0(ck_request_options[i].long_name, long_name) == 0)
			return i;
	}
	g_assert_not_reached();
	return 0;
}

static const gchar *
ck_request_values_text(const CkRequestValues *values, const gchar *long_name)
{
	return values->text[ck_request_option_index(long_name)];
}

/* Adds the entries of the options @verb takes, storing into @values. */
static void
ck_request_option_entries(GArray *entries, CkRequestValues *values, guint verb)
{
	for (guint i = 0; i < CK_N_REQUEST_OPTIONS; i++) {
		const CkRequestOption *opt = &ck_request_options[i];
		GOptionEntry entry = {opt->long_name,      opt->short_name,  0,
				      G_OPTION_ARG_STRING, &values->text[i], opt->description,
				      opt->arg_description};

		if ((opt->verbs & verb) == 0)
			continue;
		if (verb == CK_FOR_TRACK && opt->track_description != NULL)
			entry.description = opt->track_description;
		switch (opt->kind) {
		case CK_ARG_PATH:
			entry.arg = G_OPTION_ARG_FILENAME;
			break;
		case CK_ARG_LIST:
			entry.arg = G_OPTION_ARG_STRING_ARRAY;
			entry.arg_data = &values->list[i];
			break;
		case CK_ARG_ON:
		case CK_ARG_OFF:
			entry.arg = G_OPTION_ARG_NONE;
			entry.arg_data = &values->flag[i];
			break;
		default:
			break;
		}
		g_array_append_val(entries, entry);
	}
}

static gboolean
ck_client_parse_mode(const gchar *text, guint32 *mode)
{
	guint64 value;
	if (!g_ascii_string_to_unsigned(text, 8, 0, 0777, &value, NULL))
		return FALSE;
	*mode = (guint32)value;
	return TRUE;
}

static gboolean
ck_client_parse_number(const gchar *text, guint32 *number)
{
	guint64 value;
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT32, &value, NULL))
		return FALSE;
	*number = (guint32)value;
	return TRUE;
}

/* getcert's -G TYPE [-g BITS] becomes certkeeper's key type name. */
static gchar *
ck_client_key_type(const gchar *type, const gchar *bits_text)
{
	guint32 bits = 0;
	if (bits_text != NULL)
		ck_client_parse_number(bits_text, &bits);
	if (type == NULL && bits == 0)
		return NULL;
	if (type == NULL)
		type = "rsa";
	if (bits > 0 && g_ascii_strcasecmp(type, "rsa") == 0)
		return g_strdup_printf("rsa-%u", bits);
	if (bits > 0 &&
	    (g_ascii_strcasecmp(type, "ec") == 0 || g_ascii_strcasecmp(type, "ecdsa") == 0))
		return g_strdup_printf("ec-p%u", bits);
	return g_strdup(type);
}

/*
 * Checks what was given before anything is sent, makes paths absolute (like
 * getcert, relative paths are taken from the current directory) and returns how
 * many settings were given.
 */
static gboolean
ck_request_values_check(CkRequestValues *values, guint verb, guint *n_given)
{
	guint n = 0;

	for (guint i = 0; i < CK_N_REQUEST_OPTIONS; i++) {
		const CkRequestOption *opt = &ck_request_options[i];
		const gchar *text = values->text[i];
		guint32 number;

		if ((opt->verbs & verb) == 0)
			continue;
		if (text != NULL || values->list[i] != NULL || values->flag[i])
			n++;
		switch (opt->kind) {
		case CK_ARG_PATH:
			/* a key in a token is named by a PKCS#11 URI, not a path */
			if (text != NULL && !g_str_has_prefix(text, "pkcs11:")) {
				gchar *abs = ck_client_absolute(text);
				g_free(values->text[i]);
				values->text[i] = abs;
			}
			break;
		case CK_ARG_MODE:
			if (text != NULL && !ck_client_parse_mode(text, &number)) {
				ck_client_fail(_("'%s' is not an octal file mode (0 to 777)"),
					       text);
				return FALSE;
			}
			break;
		case CK_ARG_NUMBER:
		case CK_ARG_KEY_BITS:
			if (text != NULL && !ck_client_parse_number(text, &number)) {
				/* TRANSLATORS: the option, then what was given */
				ck_client_fail(_("--%s: '%s' is not a number"), opt->long_name,
					       text);
				return FALSE;
			}
			break;
		default:
			break;
		}
	}
	if (values->flag[ck_request_option_index("auto-renew")] &&
	    values->flag[ck_request_option_index("no-auto-renew")]) {
		ck_client_fail(_("-r and -R contradict each other"));
		return FALSE;
	}
	if (n_given != NULL)
		*n_given = n;
	return TRUE;
}

/* Appends the given options of @verb to an open a{sv}. */
static int
ck_request_values_append(const CkRequestValues *values, guint verb, sd_bus_message *m)
{
	int r = 0;

	for (guint i = 0; r >= 0 && i < CK_N_REQUEST_OPTIONS; i++) {
		const CkRequestOption *opt = &ck_request_options[i];
		const gchar *text = values->text[i];
		guint32 number = 0;

		if ((opt->verbs & verb) == 0)
			continue;
		switch (opt->kind) {
		case CK_ARG_TEXT:
		case CK_ARG_PATH:
			r = ck_client_append_string(m, opt->key, text);
			break;
		case CK_ARG_LIST:
			r = ck_client_append_strv(m, opt->key, values->list[i]);
			break;
		case CK_ARG_MODE:
			if (text != NULL && ck_client_parse_mode(text, &number))
				r = sd_bus_message_append(m, "{sv}", opt->key, "u", number);
			break;
		case CK_ARG_NUMBER:
			if (text != NULL && ck_client_parse_number(text, &number))
				r = sd_bus_message_append(m, "{sv}", opt->key, "u", number);
			break;
		case CK_ARG_ON:
		case CK_ARG_OFF:
			if (values->flag[i])
				r = sd_bus_message_append(m, "{sv}", opt->key, "b",
							  (int)(opt->kind == CK_ARG_ON));
			break;
		case CK_ARG_KEY_TYPE: {
			g_autofree gchar *key_type =
			    ck_client_key_type(text, ck_request_values_text(values, "key-size"));
			r = ck_client_append_string(m, opt->key, key_type);
			break;
		}
		case CK_ARG_KEY_BITS:
		default:
			break;
		}
	}
	return r;
}

/* Calls @method with one a{sv} of the given options (AddRequest, StartTracking, Modify). */
static int
ck_client_call_with_options(CkClient *client, const gchar *path, const gchar *iface,
			    const gchar *method, const CkRequestValues *values, guint verb,
			    sd_bus_message **reply, sd_bus_error *error)
{
	g_autoptr(sd_bus_message) m = NULL;
	int r = sd_bus_message_new_method_call(client->bus, &m, CK_BUS_NAME, path, iface, method);
	if (r >= 0)
		r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0)
		r = ck_request_values_append(values, verb, m);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	if (r >= 0)
		r = sd_bus_call(client->bus, m, 0, error, reply);
	return r;
}

/* --wait and --wait-timeout */

typedef struct {
	gboolean wait;
	gint timeout; /* -1: not given */
} CkWait;

static void
ck_wait_entries(GArray *entries, CkWait *wait)
{
	const GOptionEntry more[] = {
	    {"wait", 'w', 0, G_OPTION_ARG_NONE, &wait->wait,
	     N_("Wait until the certificate is issued or the request fails"), NULL},
	    {"wait-timeout", 0, 0, G_OPTION_ARG_INT, &wait->timeout,
	     N_("Seconds to wait with --wait (default 300; implies --wait)"), "SECONDS"},
	    {NULL}};
	ck_entries_add(entries, more);
}

static gboolean
ck_wait_check(CkWait *wait)
{
	if (wait->timeout < -1) {
		ck_client_fail(_("Numbers must not be negative"));
		return FALSE;
	}
	if (wait->timeout >= 0)
		wait->wait = TRUE;
	else
		wait->timeout = 300;
	return TRUE;
}

/* Says on stderr why a request that ended badly did so, and where to look. */
static void
ck_client_report_end(CkClient *client, const gchar *path, const gchar *state)
{
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autofree gchar *id = NULL, *last_error = NULL;

	sd_bus_get_property_string(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE, "Id",
				   &error, &id);
	sd_bus_get_property_string(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE,
				   "LastError", &error, &last_error);
	if (last_error != NULL && last_error[0] != '\0')
		/* TRANSLATORS: request id, its state, then why */
		g_printerr(_("certkeeper: request \"%s\" is %s: %s\n"), id != NULL ? id : "?",
			   state, last_error);
	else
		g_printerr(_("certkeeper: request \"%s\" is %s\n"), id != NULL ? id : "?", state);
	g_printerr(_("Run `certkeeper status -i %s` to see what to do.\n"), id != NULL ? id : "ID");
}

/* Waits until the request at @path settles; returns the exit code its state calls for. */
static CkExit
ck_client_wait(CkClient *client, const gchar *path, guint timeout_seconds)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_seconds * G_USEC_PER_SEC;
	g_autofree gchar *state = NULL;
	int r;

	/* a match makes sd_bus_wait() return as soon as the state changes */
	r = sd_bus_match_signal(client->bus, NULL, CK_BUS_NAME, path,
				"org.freedesktop.DBus.Properties", "PropertiesChanged", NULL, NULL);
	if (r < 0)
		return ck_client_fail(_("Cannot watch the request: %s"), g_strerror(-r));
	for (;;) {
		g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
		gint64 now;
		CkExit code;

		g_clear_pointer(&state, g_free);
		r = sd_bus_get_property_string(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE,
					       "State", &error, &state);
		if (r < 0)
			return ck_client_fail_bus(&error, r);
		code = ck_client_exit_for_state(state);
		if (code != CK_EXIT_IN_PROGRESS) {
			if (code != CK_EXIT_OK)
				ck_client_report_end(client, path, state);
			return code;
		}
		now = g_get_monotonic_time();
		if (now >= deadline) {
			g_printerr(_("certkeeper: still %s after %u s; certkeeperd goes on in the "
				     "background\n"),
				   state, timeout_seconds);
			return CK_EXIT_IN_PROGRESS;
		}
		while ((r = sd_bus_process(client->bus, NULL)) > 0)
			;
		if (r < 0)
			return ck_client_fail(_("Lost the connection to the bus: %s"),
					      g_strerror(-r));
		r = sd_bus_wait(client->bus, (uint64_t)MIN(deadline - now, G_USEC_PER_SEC));
		if (r < 0 && r != -EINTR)
			return ck_client_fail(_("Lost the connection to the bus: %s"),
					      g_strerror(-r));
	}
}

/* Naming an existing request: -i ID (or -I), -f CERTFILE, -k KEYFILE, or one argument. */

typedef struct {
	gchar *id;
	gchar *cert_file;
	gchar *key_file;
} CkSelector;

static void
ck_selector_clear(CkSelector *selector)
{
	g_clear_pointer(&selector->id, g_free);
	g_clear_pointer(&selector->cert_file, g_free);
	g_clear_pointer(&selector->key_file, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CkSelector, ck_selector_clear)

static void
ck_selector_entries(GArray *entries, CkSelector *selector)
{
	const GOptionEntry more[] = {
	    {"id", 'i', 0, G_OPTION_ARG_STRING, &selector->id, N_("The request's id"), "ID"},
	    /* getcert takes -I in some verbs; the same here */
	    {"request-id", 'I', G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_STRING, &selector->id,
	     N_("The request's id"), "ID"},
	    {"cert-file", 'f', 0, G_OPTION_ARG_FILENAME, &selector->cert_file,
	     N_("The request's certificate file"), "FILE"},
	    {"key-file", 'k', 0, G_OPTION_ARG_FILENAME, &selector->key_file,
	     N_("The request's key file"), "FILE"},
	    {NULL}};
	ck_entries_add(entries, more);
}

/* Takes an argument left after the options as the id (or, with a '/', the certificate file). */
static gboolean
ck_selector_check(CkSelector *selector, int argc, char **argv)
{
	gchar *abs;

	if (argc > 2) {
		ck_client_fail(_("Unexpected argument '%s'"), argv[2]);
		return FALSE;
	}
	if (argc == 2) {
		if (selector->id != NULL || selector->cert_file != NULL ||
		    selector->key_file != NULL) {
			ck_client_fail(_("Unexpected argument '%s'"), argv[1]);
			return FALSE;
		}
		if (strchr(argv[1], '/') != NULL)
			selector->cert_file = g_strdup(argv[1]);
		else
			selector->id = g_strdup(argv[1]);
	}
	if (selector->id == NULL && selector->cert_file == NULL && selector->key_file == NULL) {
		ck_client_fail(_("Name the request with -i ID or -f CERTFILE"));
		return FALSE;
	}
	abs = ck_client_absolute(selector->cert_file);
	g_free(selector->cert_file);
	selector->cert_file = abs;
	abs = ck_client_absolute(selector->key_file);
	g_free(selector->key_file);
	selector->key_file = abs;
	return TRUE;
}

/* The request the selector names; NULL (and said why) if none, or if its parts disagree. */
static JsonObject *
ck_selector_find(const CkSelector *selector, GPtrArray *requests)
{
	const gchar *given[] = {selector->id, selector->cert_file, selector->key_file};
	JsonObject *found = NULL;
	const gchar *found_by = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(given); i++) {
		JsonObject *obj;
		if (given[i] == NULL)
			continue;
		obj = ck_client_find_request(requests, i == 0 ? given[i] : NULL,
					     i == 1 ? given[i] : NULL, i == 2 ? given[i] : NULL);
		if (obj == NULL && found != NULL) {
			/* TRANSLATORS: a file, the request id, then the file's kind */
			ck_client_fail(
			    _("%s is not the %s of request \"%s\": here it only names "
			      "the request, and a request's files cannot be changed (stop "
			      "tracking it and request it again)"),
			    given[i], i == 1 ? _("certificate file") : _("key file"),
			    ck_json_string(found, "Id"));
			return NULL;
		}
		if (obj == NULL) {
			ck_client_fail(_("No request matches %s"), given[i]);
			return NULL;
		}
		if (found != NULL && obj != found) {
			ck_client_fail(_("%s and %s name different requests"), found_by, given[i]);
			return NULL;
		}
		found = obj;
		found_by = given[i];
	}
	return found;
}

/* Connects, reads every object and finds the selected request. */
static CkExit
ck_client_select(CkClient *client, const CkSelector *selector, GPtrArray **requests,
		 GPtrArray **cas, JsonObject **obj)
{
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	int r;

	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_objects(client->bus, requests, cas, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	*obj = ck_selector_find(selector, *requests);
	return *obj != NULL ? CK_EXIT_OK : CK_EXIT_ERROR;
}

/* verbs */

typedef struct {
	const gchar *name;
	const gchar *summary;
	CkExit (*run)(CkClient *client, int argc, char **argv);
} CkVerb;

static CkExit
ck_verb_request(CkClient *client, int argc, char **argv)
{
	g_auto(CkRequestValues) values = {0};
	CkWait wait = {FALSE, -1};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	g_autofree gchar *request_id = NULL;
	const gchar *directory;
	const char *path = NULL;
	int r;

	ck_request_option_entries(entries, &values, CK_FOR_REQUEST);
	ck_wait_entries(entries, &wait);
	context = ck_client_verb_context("request", NULL,
					 _("Ask for a certificate and keep it valid from now on."),
					 (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	directory = ck_request_values_text(&values, "directory");
	if ((ck_request_values_text(&values, "cert-file") == NULL ||
	     ck_request_values_text(&values, "key-file") == NULL) &&
	    directory == NULL)
		return ck_client_fail(_("Both -f CERTFILE and -k KEYFILE are required"));
	if (directory != NULL && (ck_request_values_text(&values, "cert-file") != NULL ||
				  ck_request_values_text(&values, "key-file") != NULL ||
				  ck_request_values_text(&values, "chain-file") != NULL))
		return ck_client_fail(_("--directory names the files itself: leave out -f, -k "
					"and -F"));
	if (!ck_request_values_check(&values, CK_FOR_REQUEST, NULL) || !ck_wait_check(&wait))
		return CK_EXIT_ERROR;

	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_call_with_options(client, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
					"AddRequest", &values, CK_FOR_REQUEST, &reply, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return ck_client_fail(_("Unexpected answer from certkeeperd: %s"), g_strerror(-r));
	r = sd_bus_get_property_string(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE, "Id",
				       &error, &request_id);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the new request's id */
	g_print(_("New request \"%s\" added.\n"), request_id);
	if (!wait.wait)
		return CK_EXIT_OK;
	return ck_client_wait(client, path, (guint)wait.timeout);
}

static CkExit
ck_verb_start_tracking(CkClient *client, int argc, char **argv)
{
	g_auto(CkRequestValues) values = {0};
	CkWait wait = {FALSE, -1};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	g_autoptr(JsonObject) obj = NULL;
	g_autofree gchar *expiry = NULL;
	const char *path = NULL;
	int r;

	ck_request_option_entries(entries, &values, CK_FOR_TRACK);
	ck_wait_entries(entries, &wait);
	context = ck_client_verb_context(
	    "start-tracking", NULL,
	    _("Track a certificate and key that exist already (also ones another CA issued) and "
	      "keep them valid. Names not given are taken from the certificate."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	if (ck_request_values_text(&values, "cert-file") == NULL ||
	    ck_request_values_text(&values, "key-file") == NULL)
		return ck_client_fail(_("Both -f CERTFILE and -k KEYFILE are required"));
	if (!ck_request_values_check(&values, CK_FOR_TRACK, NULL) || !ck_wait_check(&wait))
		return CK_EXIT_ERROR;

	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_call_with_options(client, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
					"StartTracking", &values, CK_FOR_TRACK, &reply, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	r = sd_bus_message_read(reply, "o", &path);
	if (r < 0)
		return ck_client_fail(_("Unexpected answer from certkeeperd: %s"), g_strerror(-r));
	r = ck_client_get_all(client->bus, path, CK_BUS_REQUEST_IFACE, &obj, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	expiry = ck_client_format_time(ck_json_int(obj, "NotAfter"));
	/* TRANSLATORS: request id, certificate serial, then when it expires */
	g_print(_("Tracking \"%s\": certificate %s, valid until %s.\n"), ck_json_string(obj, "Id"),
		ck_json_string(obj, "Serial"), expiry);
	if (!wait.wait)
		return CK_EXIT_OK;
	return ck_client_wait(client, path, (guint)wait.timeout);
}

/* Modify: calls Request1.Modify with the given settings. */
static CkExit
ck_client_modify(CkClient *client, JsonObject *obj, const CkRequestValues *values)
{
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	int r = ck_client_call_with_options(client, ck_json_string(obj, "ObjectPath"),
					    CK_BUS_REQUEST_IFACE, "Modify", values, CK_FOR_MODIFY,
					    NULL, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the request id */
	g_print(_("Request \"%s\" modified.\n"), ck_json_string(obj, "Id"));
	return CK_EXIT_OK;
}

static CkExit
ck_verb_modify(CkClient *client, int argc, char **argv)
{
	g_auto(CkSelector) selector = {0};
	g_auto(CkRequestValues) values = {0};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	JsonObject *obj = NULL;
	guint n_given = 0;
	CkExit code;

	ck_selector_entries(entries, &selector);
	ck_request_option_entries(entries, &values, CK_FOR_MODIFY);
	context = ck_client_verb_context(
	    "modify", "[ID]",
	    _("Change a request's settings. They apply from the next attempt on; resubmit or "
	      "rekey uses them now. A request's id and files cannot be changed."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) ||
	    !ck_selector_check(&selector, argc, argv) ||
	    !ck_request_values_check(&values, CK_FOR_MODIFY, &n_given))
		return CK_EXIT_ERROR;
	if (n_given == 0)
		return ck_client_fail(_("Nothing to change: give the settings to change (see "
					"certkeeper modify --help)"));
	code = ck_client_select(client, &selector, &requests, &cas, &obj);
	if (code != CK_EXIT_OK)
		return code;
	return ck_client_modify(client, obj, &values);
}

static CkExit
ck_verb_stop_tracking(CkClient *client, int argc, char **argv)
{
	g_auto(CkSelector) selector = {0};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	JsonObject *obj = NULL;
	CkExit code;
	int r;

	ck_selector_entries(entries, &selector);
	context = ck_client_verb_context("stop-tracking", "[ID]",
					 _("Stop tracking a certificate; its files stay."),
					 (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) || !ck_selector_check(&selector, argc, argv))
		return CK_EXIT_ERROR;
	code = ck_client_select(client, &selector, &requests, &cas, &obj);
	if (code != CK_EXIT_OK)
		return code;
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
			       "StopTracking", &error, NULL, "o",
			       ck_json_string(obj, "ObjectPath"));
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the request id */
	g_print(_("Request \"%s\" removed.\n"), ck_json_string(obj, "Id"));
	return CK_EXIT_OK;
}

/* resubmit and rekey: renew now, with the same key or a new one, after changing settings. */
static CkExit
ck_client_renew(CkClient *client, int argc, char **argv, const gchar *verb, const gchar *method)
{
	g_auto(CkSelector) selector = {0};
	g_auto(CkRequestValues) values = {0};
	CkWait wait = {FALSE, -1};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	g_autofree gchar *path = NULL;
	JsonObject *obj = NULL;
	guint n_given = 0;
	CkExit code;
	int r;

	ck_selector_entries(entries, &selector);
	ck_wait_entries(entries, &wait);
	ck_request_option_entries(entries, &values, CK_FOR_MODIFY);
	context = ck_client_verb_context(
	    verb, "[ID]",
	    g_strcmp0(method, "Rekey") == 0
		? _("Renew a certificate now, with a new key. Settings given change the request "
		    "first, as with modify.")
		: _("Renew a certificate now, with the same key. Settings given change the request "
		    "first, as with modify."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) ||
	    !ck_selector_check(&selector, argc, argv) ||
	    !ck_request_values_check(&values, CK_FOR_MODIFY, &n_given) || !ck_wait_check(&wait))
		return CK_EXIT_ERROR;
	code = ck_client_select(client, &selector, &requests, &cas, &obj);
	if (code != CK_EXIT_OK)
		return code;
	if (n_given > 0) {
		code = ck_client_modify(client, obj, &values);
		if (code != CK_EXIT_OK)
			return code;
	}
	path = g_strdup(ck_json_string(obj, "ObjectPath"));
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE, method, &error,
			       NULL, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the request id */
	g_print(_("Renewing request \"%s\".\n"), ck_json_string(obj, "Id"));
	if (!wait.wait)
		return CK_EXIT_OK;
	return ck_client_wait(client, path, (guint)wait.timeout);
}

static CkExit
ck_verb_resubmit(CkClient *client, int argc, char **argv)
{
	return ck_client_renew(client, argc, argv, "resubmit", "Resubmit");
}

static CkExit
ck_verb_rekey(CkClient *client, int argc, char **argv)
{
	return ck_client_renew(client, argc, argv, "rekey", "Rekey");
}

/* revoke */

/* A CA's answer can take as long as its helper may run; the bus's 25 s default is too short. */
#define CK_CLIENT_REVOKE_TIMEOUT (10 * 60 * G_USEC_PER_SEC)

/* The exit code for a refused Revoke: the CA's own answers as getcert's codes. */
static CkExit
ck_client_exit_for_error(const sd_bus_error *error)
{
	if (sd_bus_error_has_name(error, "org.certkeeper.Error.CARejected"))
		return CK_EXIT_REJECTED;
	if (sd_bus_error_has_name(error, "org.certkeeper.Error.CAUnreachable"))
		return CK_EXIT_UNREACHABLE;
	if (sd_bus_error_has_name(error, "org.certkeeper.Error.CAUnderconfigured"))
		return CK_EXIT_MISCONFIGURED;
	return CK_EXIT_ERROR;
}

/* "keyCompromise", or a word for none */
static const gchar *
ck_client_reason_text(const gchar *reason)
{
	/* TRANSLATORS: shown where a revocation reason would be */
	return reason != NULL && reason[0] != '\0' ? reason : _("no reason given");
}

static CkExit
ck_verb_revoke(CkClient *client, int argc, char **argv)
{
	g_auto(CkSelector) selector = {0};
	g_autofree gchar *reason = NULL;
	gboolean rekey = FALSE, resubmit = FALSE;
	CkWait wait = {FALSE, -1};
	const GOptionEntry more[] = {
	    {"reason", 0, 0, G_OPTION_ARG_STRING, &reason,
	     N_("RFC 5280 reason: unspecified, keyCompromise, cACompromise, affiliationChanged, "
		"superseded, cessationOfOperation, privilegeWithdrawn or aACompromise"),
	     "REASON"},
	    {"rekey", 0, 0, G_OPTION_ARG_NONE, &rekey,
	     N_("Then get a new certificate with a new key (as rekey)"), NULL},
	    {"resubmit", 0, 0, G_OPTION_ARG_NONE, &resubmit,
	     N_("Then get a new certificate with the same key (as resubmit)"), NULL},
	    {NULL}};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) m = NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	g_autoptr(JsonObject) now = NULL;
	g_autofree gchar *path = NULL;
	g_autofree gchar *when = NULL;
	const gchar *id;
	JsonObject *obj = NULL;
	CkExit code;
	int r;

	ck_selector_entries(entries, &selector);
	ck_entries_add(entries, more);
	ck_wait_entries(entries, &wait);
	context = ck_client_verb_context(
	    "revoke", "[ID]",
	    _("Ask the request's CA to revoke its installed certificate. The request stays "
	      "tracked and its files stay, but it is not renewed by itself any more: --rekey "
	      "(or certkeeper rekey) gets a new certificate."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) ||
	    !ck_selector_check(&selector, argc, argv) || !ck_wait_check(&wait))
		return CK_EXIT_ERROR;
	if (rekey && resubmit)
		return ck_client_fail(_("--rekey and --resubmit contradict each other"));
	if (resubmit && g_strcmp0(reason, "keyCompromise") == 0)
		return ck_client_fail(_("--resubmit would certify the compromised key again: use "
					"--rekey"));
	if (wait.wait && !rekey && !resubmit)
		return ck_client_fail(_("--wait waits for the new certificate of --rekey or "
					"--resubmit; the revocation itself is done when revoke "
					"returns"));
	code = ck_client_select(client, &selector, &requests, &cas, &obj);
	if (code != CK_EXIT_OK)
		return code;
	id = ck_json_string(obj, "Id");
	path = g_strdup(ck_json_string(obj, "ObjectPath"));
	if (ck_json_int(obj, "Revoked") > 0) {
		when = ck_client_format_time(ck_json_int(obj, "Revoked"));
		/* TRANSLATORS: serial, request id, date and time, then the reason */
		g_print(_("Certificate %s of request \"%s\" was revoked already on %s (%s).\n"),
			ck_json_string(obj, "Serial"), id, when,
			ck_client_reason_text(ck_json_string(obj, "RevocationReason")));
	} else {
		r = sd_bus_message_new_method_call(client->bus, &m, CK_BUS_NAME, path,
						   CK_BUS_REQUEST_IFACE, "Revoke");
		if (r >= 0)
			r = sd_bus_message_append(m, "s", reason != NULL ? reason : "");
		if (r >= 0)
			r = sd_bus_call(client->bus, m, CK_CLIENT_REVOKE_TIMEOUT, &error, NULL);
		if (r < 0) {
			code = ck_client_exit_for_error(&error);
			ck_client_fail_bus(&error, r);
			return code;
		}
		r = ck_client_get_all(client->bus, path, CK_BUS_REQUEST_IFACE, &now, &error);
		if (r < 0)
			return ck_client_fail_bus(&error, r);
		/* TRANSLATORS: serial, request id, then the reason */
		g_print(_("Certificate %s of request \"%s\" is revoked (%s).\n"),
			ck_json_string(now, "Serial"), id,
			ck_client_reason_text(ck_json_string(now, "RevocationReason")));
	}
	if (!rekey && !resubmit) {
		/* TRANSLATORS: the placeholder is the request id */
		g_print(_("It stays tracked, but is not renewed by itself; for a new certificate "
			  "run: certkeeper rekey -i %s\n"),
			id);
		return CK_EXIT_OK;
	}
	sd_bus_error_free(&error);
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE,
			       rekey ? "Rekey" : "Resubmit", &error, NULL, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the request id */
	g_print(_("Renewing request \"%s\".\n"), id);
	if (!wait.wait)
		return CK_EXIT_OK;
	return ck_client_wait(client, path, (guint)wait.timeout);
}

static CkExit
ck_client_refresh_one(CkClient *client, JsonObject *obj)
{
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(JsonObject) now = NULL;
	g_autofree gchar *expiry = NULL;
	const gchar *path = ck_json_string(obj, "ObjectPath");
	int r;

	r = sd_bus_call_method(client->bus, CK_BUS_NAME, path, CK_BUS_REQUEST_IFACE, "Refresh",
			       &error, NULL, NULL);
	if (r >= 0)
		r = ck_client_get_all(client->bus, path, CK_BUS_REQUEST_IFACE, &now, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	if (ck_json_string(now, "Serial")[0] == '\0') {
		/* TRANSLATORS: request id, then its state */
		g_print(_("Request \"%s\" refreshed: no certificate yet (%s).\n"),
			ck_json_string(now, "Id"), ck_json_string(now, "State"));
		return CK_EXIT_OK;
	}
	expiry = ck_client_format_time(ck_json_int(now, "NotAfter"));
	/* TRANSLATORS: request id, certificate serial, then when it expires */
	g_print(_("Request \"%s\" refreshed: certificate %s, valid until %s.\n"),
		ck_json_string(now, "Id"), ck_json_string(now, "Serial"), expiry);
	return CK_EXIT_OK;
}

static CkExit
ck_verb_refresh(CkClient *client, int argc, char **argv)
{
	g_auto(CkSelector) selector = {0};
	gboolean all = FALSE;
	const GOptionEntry more[] = {
	    {"all", 'a', 0, G_OPTION_ARG_NONE, &all, N_("Refresh every request"), NULL}, {NULL}};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	JsonObject *obj = NULL;
	CkExit code;
	int r;

	ck_selector_entries(entries, &selector);
	ck_entries_add(entries, more);
	context = ck_client_verb_context(
	    "refresh", "[ID]",
	    _("Read a request's certificate file again and plan from what it holds (a "
	      "certificate put there by something else is taken in)."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, all ? 0 : 1))
		return CK_EXIT_ERROR;
	if (all) {
		if (selector.id != NULL || selector.cert_file != NULL || selector.key_file != NULL)
			return ck_client_fail(_("-a refreshes every request: leave out -i, -f "
						"and -k"));
		if (ck_client_connect(client) < 0)
			return CK_EXIT_ERROR;
		r = ck_client_get_objects(client->bus, &requests, NULL, &error);
		if (r < 0)
			return ck_client_fail_bus(&error, r);
		for (guint i = 0; i < requests->len; i++) {
			code = ck_client_refresh_one(client, g_ptr_array_index(requests, i));
			if (code != CK_EXIT_OK)
				return code;
		}
		return CK_EXIT_OK;
	}
	if (!ck_selector_check(&selector, argc, argv))
		return CK_EXIT_ERROR;
	code = ck_client_select(client, &selector, &requests, &cas, &obj);
	if (code != CK_EXIT_OK)
		return code;
	return ck_client_refresh_one(client, obj);
}

static CkExit
ck_verb_list(CkClient *client, int argc, char **argv)
{
	gboolean json = FALSE, ids = FALSE;
	g_autofree gchar *ca = NULL;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json,
	     N_("Print JSON: every request with all its properties"), NULL},
	    {"ca", 'c', 0, G_OPTION_ARG_STRING, &ca, N_("Only the requests of this CA"), "NAME"},
	    /* for shell completion: the ids, one a line */
	    {"ids", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &ids, N_("Print only the ids"),
	     NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context =
	    ck_client_verb_context("list", NULL, _("List every tracked certificate."), entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) shown = g_ptr_array_new();
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	const gchar *headers[] = {/* TRANSLATORS: column headers of `certkeeper list` */
				  N_("ID"), N_("STATE"), N_("SUBJECT"), N_("EXPIRES"), N_("CA")};
	const gchar *const table_names[] = {"Id", "State", "Subject", "NotAfter", "CA", NULL};
	const gchar *const all_names[] = {NULL};
	int r;

	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	/* all of everything: printed as it is read, which matters with thousands */
	if (json && ca == NULL && !ids) {
		r = ck_client_print_request_properties_json(client->bus, &error);
		return r < 0 ? ck_client_fail_bus(&error, r) : CK_EXIT_OK;
	}
	/* the table shows five properties: only those cross the bus */
	r = ck_client_get_request_properties(client->bus, json ? all_names : table_names,
					     &requests, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	for (guint i = 0; i < requests->len; i++) {
		JsonObject *obj = g_ptr_array_index(requests, i);
		if (ca == NULL || g_strcmp0(ck_json_string(obj, "CA"), ca) == 0)
			g_ptr_array_add(shown, obj);
	}
	if (ids) {
		for (guint i = 0; i < shown->len; i++)
			g_print("%s\n", ck_json_string(g_ptr_array_index(shown, i), "Id"));
		return CK_EXIT_OK;
	}
	if (json) {
		ck_client_print_json_array(shown);
		return CK_EXIT_OK;
	}
	if (shown->len == 0) {
		g_print("%s\n", _("No certificates are tracked."));
		return CK_EXIT_OK;
	}
	for (guint i = 0; i < shown->len; i++) {
		JsonObject *obj = g_ptr_array_index(shown, i);
		gchar **cells = g_new0(gchar *, G_N_ELEMENTS(headers) + 1);
		cells[0] = g_strdup(ck_json_string(obj, "Id"));
		cells[1] = g_strdup(ck_json_string(obj, "State"));
		cells[2] = g_strdup(ck_json_string(obj, "Subject"));
		cells[3] = ck_client_format_expiry(ck_json_int(obj, "NotAfter"));
		cells[4] = g_strdup(ck_json_string(obj, "CA"));
		g_ptr_array_add(rows, cells);
	}
	for (guint c = 0; c < G_N_ELEMENTS(headers); c++)
		headers[c] = _(headers[c]);
	ck_client_print_table(headers, G_N_ELEMENTS(headers), rows, 1,
			      client->color ? ck_client_state_cell_color : NULL, client);
	return CK_EXIT_OK;
}

/* status */

static void
ck_client_print_field(const gchar *label, const gchar *value)
{
	g_print("  %s: %s\n", label, value != NULL && value[0] != '\0' ? value : "-");
}

static void
ck_client_print_list_field(JsonObject *obj, const gchar *label, const gchar *name)
{
	g_autofree gchar *text = ck_json_join(obj, name);
	ck_client_print_field(label, text);
}

static void
ck_client_print_time_field(JsonObject *obj, const gchar *label, const gchar *name)
{
	g_autofree gchar *text = ck_client_format_time(ck_json_int(obj, name));
	ck_client_print_field(label, text);
}

/* Says why a request is where it is, and what to do about it. */
static void
ck_client_explain(JsonObject *obj, GPtrArray *cas)
{
	const gchar *id = ck_json_string(obj, "Id");
	const gchar *state = ck_json_string(obj, "State");
	const gchar *last_error = ck_json_string(obj, "LastError");
	const gchar *waiting = ck_json_string(obj, "Waiting");
	const gchar *ca = ck_json_string(obj, "CA");
	gint64 not_after = ck_json_int(obj, "NotAfter");
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	guint failed = (guint)ck_json_int(obj, "FailedAttempts");
	g_autofree gchar *next = ck_client_format_time(ck_json_int(obj, "NextAttempt"));
	/* resubmit needs an installed key; a first enrollment starts over with rekey */
	g_autofree gchar *again =
	    g_strdup_printf("certkeeper %s -i %s", not_after > 0 ? "resubmit" : "rekey", id);
	const gchar *why = _("Why:");
	const gchar *todo = _("What to do:");

	if (waiting[0] != '\0') {
		g_print("%s %s\n", _("Waiting:"), waiting);
		g_print(
		    "%s %s\n", todo,
		    _("nothing, once the clock is right: certkeeperd looks again when time "
		      "synchronisation says so, when the clock is set, and every five minutes."));
	}
	if (g_strcmp0(state, "MONITORING") == 0) {
		gint64 renewal = ck_json_int(obj, "RenewalTime");
		if (not_after > 0 && not_after <= now) {
			g_autofree gchar *when = ck_client_format_time(not_after);
			/* TRANSLATORS: the placeholder is a date and time */
			g_print(_("The certificate is installed, but it expired on %s.\n"), when);
		} else {
			g_print("%s\n", _("The certificate is issued and installed."));
		}
		if (ck_json_int(obj, "Revoked") > 0) {
			g_autofree gchar *when = ck_client_format_time(ck_json_int(obj, "Revoked"));
			/* TRANSLATORS: a date and time, then the revocation reason */
			g_print(_("It was revoked on %s (%s) and is not renewed by itself.\n"), when,
				ck_client_reason_text(ck_json_string(obj, "RevocationReason")));
			g_print("%s ", todo);
			/* TRANSLATORS: the request id, twice */
			g_print(_("get a new certificate: certkeeper rekey -i %s (resubmit keeps the "
				  "key); or stop tracking it: certkeeper stop-tracking -i %s\n"),
				id, id);
		} else if (!ck_json_bool(obj, "AutoRenew")) {
			g_print("%s\n", _("It is only watched, never renewed by itself "
					  "(auto-renew is off)."));
		} else if (renewal > now) {
			g_autofree gchar *when = ck_client_format_time(renewal);
			/* TRANSLATORS: the placeholder is a date and time */
			g_print(_("It is renewed from %s on.\n"), when);
		} else if (renewal > 0 && waiting[0] == '\0') {
			g_print("%s\n", _("Its renewal is due; certkeeperd starts it."));
		}
		if (last_error[0] != '\0') {
			g_print("%s %s\n", _("But the last install reported:"), last_error);
			g_print("%s %s\n", todo,
				_("fix what it names; the certificate itself is in place."));
		}
	} else if (g_strcmp0(state, "CA_UNREACHABLE") == 0) {
		g_print("%s %s\n", why, last_error);
		if (ck_json_int(obj, "NextAttempt") > 0)
			/* TRANSLATORS: a date and time, then the number of that attempt */
			g_print(
			    _("The CA could not be reached; next attempt at %s (attempt %u).\n"),
			    next, failed + 1);
		else
			g_print("%s\n", _("The CA could not be reached."));
		g_print("%s ", todo);
		/* TRANSLATORS: the placeholder is a command */
		g_print(_("check the network and the CA; certkeeperd retries by itself with "
			  "growing intervals. To try at once: %s\n"),
			again);
	} else if (g_strcmp0(state, "CA_REJECTED") == 0) {
		g_print("%s %s\n", why, last_error);
		g_print("%s ", todo);
		/* TRANSLATORS: the request id, then a command */
		g_print(_("fix what the CA objected to (change the request with `certkeeper modify "
			  "-i %s ...`, or pick another CA with -c), then submit it again: %s\n"),
			id, again);
	} else if (g_strcmp0(state, "NEED_GUIDANCE") == 0 || g_strcmp0(state, "STOPPED") == 0) {
		const gchar *bootstrap = ck_json_string(obj, "BootstrapCertFile");

		g_print("%s %s\n", why,
			last_error[0] != '\0' ? last_error
					      : _("certkeeperd cannot go on without a change."));
		if (ca[0] != '\0' && cas != NULL && ck_client_find_ca(cas, ca) == NULL) {
			g_print("%s ", todo);
			/* TRANSLATORS: CA name (twice), then the request id */
			g_print(
			    _("there is no CA '%s': add it (`certkeeper add-ca %s -e COMMAND`) or "
			      "move the request to another CA (`certkeeper modify -i %s -c "
			      "CA`), then run: %s\n"),
			    ca, ca, id, again);
		} else if (bootstrap[0] != '\0' && not_after > 0 && not_after <= now) {
			g_print("%s ", todo);
			/* TRANSLATORS: the request id, then a command */
			g_print(
			    _("the certificate has expired and so has its bootstrap certificate: "
			      "give a valid one (`certkeeper modify -i %s --bootstrap-cert FILE "
			      "--bootstrap-key FILE`), then run: %s\n"),
			    id, again);
		} else {
			if (failed > 0)
				g_print(
				    g_dngettext(GETTEXT_PACKAGE,
						"certkeeperd gave up after %u failed attempt.\n",
						"certkeeperd gave up after %u failed attempts.\n",
						failed),
				    failed);
			g_print("%s ", todo);
			/* TRANSLATORS: the CA name, then a command */
			g_print(_("fix the configuration or the files it names (the request: "
				  "certkeeper modify; the CA '%s': certkeeper modify-ca or "
				  "certkeeper.conf and certkeeper reload), then run: %s\n"),
				ca, again);
		}
	} else if (g_strcmp0(state, "CA_WORKING") == 0) {
		if (ck_json_int(obj, "NextAttempt") > 0)
			/* TRANSLATORS: the placeholder is a date and time */
			g_print(
			    _("The CA is working on the request; certkeeperd asks again at %s.\n"),
			    next);
		else
			g_print("%s\n", _("The CA is working on the request."));
		if (last_error[0] != '\0')
			g_print("%s %s\n", _("The previous attempt failed:"), last_error);
	} else {
		/* TRANSLATORS: the placeholder is the state */
		g_print(_("certkeeperd is working on this request (%s).\n"), state);
		if (last_error[0] != '\0')
			g_print("%s %s\n", _("The previous attempt failed:"), last_error);
	}
}

static CkExit
ck_verb_status(CkClient *client, int argc, char **argv)
{
	g_auto(CkSelector) selector = {0};
	gboolean json = FALSE, verbose = FALSE;
	const GOptionEntry more[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print JSON: every property"), NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Print every property"), NULL},
	    {NULL}};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	g_autofree gchar *failed = NULL;
	JsonObject *obj = NULL;
	const gchar *state;
	CkExit code;

	ck_selector_entries(entries, &selector);
	ck_entries_add(entries, more);
	context = ck_client_verb_context(
	    "status", "[ID]", _("Show one request and say what, if anything, to do about it."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) || !ck_selector_check(&selector, argc, argv))
		return CK_EXIT_ERROR;
	code = ck_client_select(client, &selector, &requests, &cas, &obj);
	if (code != CK_EXIT_OK)
		return code;
	state = ck_json_string(obj, "State");
	if (json) {
		g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
		json_node_set_object(root, obj);
		ck_client_print_json(root);
		return ck_client_exit_for_state(state);
	}
	/* TRANSLATORS: `certkeeper status` heading; the placeholder is the request id */
	g_print(_("Request \"%s\":\n"), ck_json_string(obj, "Id"));
	if (verbose) {
		ck_client_print_all_properties(obj);
	} else {
		g_print("  %s: %s%s%s\n", _("status"), ck_client_state_color(client, state), state,
			ck_client_color_end(client));
		ck_client_print_field(_("stuck"), ck_json_bool(obj, "Stuck") ? _("yes") : _("no"));
		ck_client_print_field(_("CA"), ck_json_string(obj, "CA"));
		ck_client_print_field(_("profile"), ck_json_string(obj, "Profile"));
		ck_client_print_field(_("key type"), ck_json_string(obj, "KeyType"));
		ck_client_print_field(_("key file"), ck_json_string(obj, "KeyFile"));
		ck_client_print_field(_("certificate file"), ck_json_string(obj, "CertFile"));
		ck_client_print_field(_("chain file"), ck_json_string(obj, "ChainFile"));
		if (ck_json_string(obj, "Directory")[0] != '\0')
			ck_client_print_field(_("directory"), ck_json_string(obj, "Directory"));
		ck_client_print_field(_("subject"), ck_json_string(obj, "Subject"));
		ck_client_print_list_field(obj, _("DNS names"), "DNSNames");
		ck_client_print_list_field(obj, _("IP addresses"), "IPAddresses");
		ck_client_print_list_field(obj, _("emails"), "Emails");
		ck_client_print_list_field(obj, _("URIs"), "URIs");
		ck_client_print_list_field(obj, _("principals"), "Principals");
		ck_client_print_field(_("issuer"), ck_json_string(obj, "Issuer"));
		ck_client_print_field(_("serial"), ck_json_string(obj, "Serial"));
		ck_client_print_time_field(obj, _("not before"), "NotBefore");
		ck_client_print_time_field(obj, _("not after"), "NotAfter");
		/* TRANSLATORS: a label in `certkeeper status`; the value is valid, expiring,
		 * expired or none, as on the bus */
		ck_client_print_field(_("expiry"), ck_json_string(obj, "ExpiryStatus"));
		if (ck_json_int(obj, "Revoked") > 0) {
			g_autofree gchar *when = ck_client_format_time(ck_json_int(obj, "Revoked"));
			/* TRANSLATORS: when it was revoked, then the reason */
			g_autofree gchar *text = g_strdup_printf(
			    _("%s (%s)"), when,
			    ck_client_reason_text(ck_json_string(obj, "RevocationReason")));
			/* TRANSLATORS: a label in `certkeeper status`, like "not after" */
			ck_client_print_field(_("revoked"), text);
		}
		ck_client_print_field(_("auto-renew"),
				      ck_json_bool(obj, "AutoRenew") ? _("yes") : _("no"));
		ck_client_print_time_field(obj, _("renewal due"), "RenewalTime");
		if (ck_json_int(obj, "RenewalWindowEnd") > 0) {
			g_autofree gchar *from =
			    ck_client_format_time(ck_json_int(obj, "RenewalWindowStart"));
			g_autofree gchar *to =
			    ck_client_format_time(ck_json_int(obj, "RenewalWindowEnd"));
			/* TRANSLATORS: the CA's suggested renewal window: from, then until */
			g_autofree gchar *window = g_strdup_printf(_("%s to %s"), from, to);
			/* TRANSLATORS: a label in `certkeeper status`, like "renewal due" */
			ck_client_print_field(_("CA's renewal window"), window);
		}
		ck_client_print_time_field(obj, _("next attempt"), "NextAttempt");
		/* TRANSLATORS: a label in `certkeeper status`: which identity authenticated
		 * the last attempt (current, bootstrap, proof, ...) */
		ck_client_print_field(_("authenticated by"), ck_json_string(obj, "Identity"));
		if (g_strcmp0(ck_json_string(obj, "RecoveryStep"), "none") != 0 &&
		    ck_json_string(obj, "RecoveryStep")[0] != '\0') {
			g_autofree gchar *text = g_strdup_printf(
			    "%s (%s)", ck_json_string(obj, "RecoveryStep"),
			    ck_json_string(obj, "RecoveryReason"));
			/* TRANSLATORS: a label in `certkeeper status`: the recovery ladder's step */
			ck_client_print_field(_("recovery"), text);
		}
		failed = g_strdup_printf("%" G_GINT64_FORMAT, ck_json_int(obj, "FailedAttempts"));
		ck_client_print_field(_("failed attempts"), failed);
		/* TRANSLATORS: a label in `certkeeper status`: the most recent failure, kept
		 * after later successes */
		ck_client_print_field(_("last failure"), ck_json_string(obj, "LastFailure"));
		if (ck_json_int(obj, "WorkingSince") > 0)
			/* TRANSLATORS: a label in `certkeeper status`: since when certkeeperd has
			 * been trying to get a certificate */
			ck_client_print_time_field(obj, _("working since"), "WorkingSince");
	}
	/* why, and what to do: the last error is part of it */
	g_print("\n");
	ck_client_explain(obj, cas);
	return ck_client_exit_for_state(state);
}

/* CAs */

static CkExit
ck_verb_list_cas(CkClient *client, int argc, char **argv)
{
	gboolean json = FALSE, verbose = FALSE, names = FALSE;
	g_autofree gchar *only = NULL;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json,
	     N_("Print JSON: every CA with all its properties"), NULL},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, N_("Print every property"), NULL},
	    {"ca", 'c', 0, G_OPTION_ARG_STRING, &only, N_("Only this CA"), "NAME"},
	    /* for shell completion: the names, one a line */
	    {"names", 0, G_OPTION_FLAG_HIDDEN, G_OPTION_ARG_NONE, &names,
	     N_("Print only the names"), NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context(
	    "list-cas", NULL, _("List the CA back ends certkeeperd can use."), entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	g_autoptr(GPtrArray) shown = g_ptr_array_new();
	g_autoptr(GPtrArray) rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
	const gchar *headers[] = {/* TRANSLATORS: column headers of `certkeeper list-cas` */
				  N_("NAME"), N_("TYPE"), N_("REQUESTS"), N_("HELPER"),
				  N_("ERROR")};
	int r;

	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_objects(client->bus, &requests, &cas, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	for (guint i = 0; i < cas->len; i++) {
		JsonObject *obj = g_ptr_array_index(cas, i);
		if (only == NULL || g_strcmp0(ck_json_string(obj, "Name"), only) == 0)
			g_ptr_array_add(shown, obj);
	}
	if (only != NULL && shown->len == 0)
		return ck_client_fail(_("No CA named '%s'"), only);
	if (names) {
		for (guint i = 0; i < shown->len; i++)
			g_print("%s\n", ck_json_string(g_ptr_array_index(shown, i), "Name"));
		return CK_EXIT_OK;
	}
	if (json) {
		ck_client_print_json_array(shown);
		return CK_EXIT_OK;
	}
	if (verbose) {
		for (guint i = 0; i < shown->len; i++) {
			JsonObject *obj = g_ptr_array_index(shown, i);
			/* TRANSLATORS: `certkeeper list-cas -v` heading; the placeholder is the CA
			 */
			g_print(_("CA \"%s\":\n"), ck_json_string(obj, "Name"));
			ck_client_print_all_properties(obj);
		}
		return CK_EXIT_OK;
	}
	for (guint i = 0; i < shown->len; i++) {
		JsonObject *obj = g_ptr_array_index(shown, i);
		const gchar *name = ck_json_string(obj, "Name");
		const gchar *helper = ck_json_string(obj, "Helper");
		const gchar *ca_error = ck_json_string(obj, "Error");
		gchar **cells = g_new0(gchar *, G_N_ELEMENTS(headers) + 1);
		guint used = 0;

		for (guint j = 0; j < requests->len; j++) {
			if (g_strcmp0(ck_json_string(g_ptr_array_index(requests, j), "CA"), name) ==
			    0)
				used++;
		}
		cells[0] = g_strdup(name);
		cells[1] = g_strdup(ck_json_string(obj, "Type"));
		cells[2] = g_strdup_printf("%u", used);
		/* TRANSLATORS: the HELPER column of a CA that runs inside certkeeperd */
		cells[3] = g_strdup(helper[0] != '\0' ? helper : _("(built in)"));
		cells[4] = g_strdup(ca_error[0] != '\0' ? ca_error : "-");
		g_ptr_array_add(rows, cells);
	}
	for (guint c = 0; c < G_N_ELEMENTS(headers); c++)
		headers[c] = _(headers[c]);
	ck_client_print_table(headers, G_N_ELEMENTS(headers), rows, -1, NULL, NULL);
	return CK_EXIT_OK;
}

/* add-ca and modify-ca share their options. */
#define CK_CLI_MAX_CA_SETTINGS 32

typedef struct {
	gchar *name;
	gchar *helper;
	gchar *type;
	gint timeout;
	gint validity_days;
	gchar *roots_file;
	/* the protocols' settings (ck-ca-protocol.h), one slot per option name */
	const gchar *setting_names[CK_CLI_MAX_CA_SETTINGS];
	gchar *settings[CK_CLI_MAX_CA_SETTINGS];
} CkCaValues;

static void
ck_ca_values_clear(CkCaValues *values)
{
	g_clear_pointer(&values->name, g_free);
	g_clear_pointer(&values->helper, g_free);
	g_clear_pointer(&values->type, g_free);
	g_clear_pointer(&values->roots_file, g_free);
	for (guint i = 0; i < CK_CLI_MAX_CA_SETTINGS; i++)
		g_clear_pointer(&values->settings[i], g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CkCaValues, ck_ca_values_clear)

static void
ck_ca_entries(GArray *entries, CkCaValues *values, gboolean with_settings)
{
	const GOptionEntry name[] = {
	    {"ca", 'c', 0, G_OPTION_ARG_STRING, &values->name, N_("The CA's name"), "NAME"},
	    {NULL}};
	const GOptionEntry settings[] = {
	    {"helper", 'e', 0, G_OPTION_ARG_STRING, &values->helper,
	     N_("Command line of a helper speaking certmonger's CA helper protocol"), "COMMAND"},
	    {"type", 0, 0, G_OPTION_ARG_STRING, &values->type,
	     N_("helper (the default), local (a CA inside certkeeperd), or acme, est, scep (the "
		"protocol, through certkeeper's own helper)"),
	     "TYPE"},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &values->timeout,
	     N_("Seconds one helper run may take (default 60)"), "SECONDS"},
	    {"validity-days", 0, 0, G_OPTION_ARG_INT, &values->validity_days,
	     N_("Local CAs: lifetime in days of the certificates they issue"), "DAYS"},
	    {"roots-file", 'F', 0, G_OPTION_ARG_FILENAME, &values->roots_file,
	     N_("Keep the CA's root certificates in FILE (a PEM bundle; \"\" for nowhere)"),
	     "FILE"},
	    {NULL}};
	guint n = 0;

	ck_entries_add(entries, name);
	if (!with_settings)
		return;
	ck_entries_add(entries, settings);
	/* every protocol setting once: a name shared by protocols means the same there */
	for (const CkCaProtocol *p = ck_ca_protocol_list(); p->type != NULL; p++) {
		for (const CkCaSetting *setting = p->settings; setting->key != NULL; setting++) {
			GOptionEntry entry = {setting->option, 0, 0, G_OPTION_ARG_STRING, NULL,
					      setting->summary, "VALUE"};
			gboolean seen = FALSE;
			for (guint i = 0; i < n; i++)
				seen = seen || g_str_equal(values->setting_names[i], setting->option);
			if (seen)
				continue;
			g_assert(n < CK_CLI_MAX_CA_SETTINGS);
			values->setting_names[n] = setting->option;
			entry.arg_data = &values->settings[n++];
			g_array_append_val(entries, entry);
		}
	}
}

/* The CA's name from -c or the one argument. */
static gboolean
ck_ca_values_check(CkCaValues *values, int argc, char **argv)
{
	if (argc == 2 && values->name == NULL)
		values->name = g_strdup(argv[1]);
	else if (argc >= 2) {
		ck_client_fail(_("Unexpected argument '%s'"), argv[1]);
		return FALSE;
	}
	if (values->name == NULL) {
		ck_client_fail(_("Name the CA: certkeeper VERB NAME, or -c NAME"));
		return FALSE;
	}
	if (values->timeout < -1 || values->validity_days < -1) {
		ck_client_fail(_("Numbers must not be negative"));
		return FALSE;
	}
	if (values->type != NULL && g_strcmp0(values->type, "local") != 0 &&
	    g_strcmp0(values->type, "helper") != 0 && ck_ca_protocol_find(values->type) == NULL) {
		ck_client_fail(_("Unknown CA type '%s': use %s"), values->type,
			       ck_ca_protocol_type_names());
		return FALSE;
	}
	if (g_strcmp0(values->type, "local") == 0 && values->helper != NULL) {
		ck_client_fail(_("A local CA runs no helper: leave out -e"));
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_ca_values_any(const CkCaValues *values)
{
	for (guint i = 0; i < CK_CLI_MAX_CA_SETTINGS; i++) {
		if (values->settings[i] != NULL)
			return TRUE;
	}
	return values->helper != NULL || values->type != NULL || values->timeout >= 0 ||
	       values->validity_days >= 0 || values->roots_file != NULL;
}

static int
ck_ca_values_append(const CkCaValues *values, sd_bus_message *m)
{
	int r = sd_bus_message_open_container(m, 'a', "{sv}");
	if (r >= 0)
		r = ck_client_append_string(m, "type", values->type);
	if (r >= 0)
		r = ck_client_append_string(m, "helper", values->helper);
	if (r >= 0 && values->timeout >= 0)
		r = sd_bus_message_append(m, "{sv}", "timeout", "u", (guint32)values->timeout);
	if (r >= 0 && values->validity_days >= 0)
		r = sd_bus_message_append(m, "{sv}", "validity-days", "u",
					  (guint32)values->validity_days);
	if (r >= 0)
		r = ck_client_append_string(m, "roots-file", values->roots_file);
	/* the daemon checks which settings the type takes, and names any that do not fit */
	for (guint i = 0; r >= 0 && i < CK_CLI_MAX_CA_SETTINGS; i++)
		r = ck_client_append_string(m, values->setting_names[i], values->settings[i]);
	if (r >= 0)
		r = sd_bus_message_close_container(m);
	return r;
}

static CkExit
ck_verb_add_ca(CkClient *client, int argc, char **argv)
{
	g_auto(CkCaValues) values = {.timeout = -1, .validity_days = -1};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) m = NULL;
	int r;

	ck_ca_entries(entries, &values, TRUE);
	context = ck_client_verb_context(
	    "add-ca", "NAME",
	    _("Add a CA back end (kept across restarts), e.g. a helper: certkeeper add-ca NAME -e "
	      "COMMAND, or an ACME CA: certkeeper add-ca NAME --type acme --directory URL."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) || !ck_ca_values_check(&values, argc, argv))
		return CK_EXIT_ERROR;
	if (values.helper == NULL && (values.type == NULL || g_str_equal(values.type, "helper")))
		return ck_client_fail(_("A helper CA needs its command: -e COMMAND (or --type "
					"local for a CA inside certkeeperd, or --type acme, est or "
					"scep with that protocol's settings)"));
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = sd_bus_message_new_method_call(client->bus, &m, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
					   CK_BUS_MANAGER_IFACE, "AddCA");
	if (r >= 0)
		r = sd_bus_message_append(m, "s", values.name);
	if (r >= 0)
		r = ck_ca_values_append(&values, m);
	if (r >= 0)
		r = sd_bus_call(client->bus, m, 0, &error, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the CA's name */
	g_print(_("CA \"%s\" added.\n"), values.name);
	return CK_EXIT_OK;
}

/* Connects and finds the CA named @name; NULL (and said so) if there is none. */
static JsonObject *
ck_client_select_ca(CkClient *client, const gchar *name, GPtrArray **requests, GPtrArray **cas)
{
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	JsonObject *obj;
	int r;

	if (ck_client_connect(client) < 0)
		return NULL;
	r = ck_client_get_objects(client->bus, requests, cas, &error);
	if (r < 0) {
		ck_client_fail_bus(&error, r);
		return NULL;
	}
	obj = ck_client_find_ca(*cas, name);
	if (obj == NULL)
		ck_client_fail(_("No CA named '%s'"), name);
	return obj;
}

static CkExit
ck_verb_modify_ca(CkClient *client, int argc, char **argv)
{
	g_auto(CkCaValues) values = {.timeout = -1, .validity_days = -1};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) m = NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	JsonObject *obj;
	int r;

	ck_ca_entries(entries, &values, TRUE);
	context = ck_client_verb_context(
	    "modify-ca", "NAME",
	    _("Change a CA added with add-ca; settings not given stay. (A CA of certkeeper.conf "
	      "is changed there, then certkeeper reload.)"),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) || !ck_ca_values_check(&values, argc, argv))
		return CK_EXIT_ERROR;
	if (!ck_ca_values_any(&values))
		return ck_client_fail(_("Nothing to change: give the settings to change (see "
					"certkeeper modify-ca --help)"));
	obj = ck_client_select_ca(client, values.name, &requests, &cas);
	if (obj == NULL)
		return CK_EXIT_ERROR;
	r = sd_bus_message_new_method_call(client->bus, &m, CK_BUS_NAME, CK_BUS_MANAGER_PATH,
					   CK_BUS_MANAGER_IFACE, "ModifyCA");
	if (r >= 0)
		r = sd_bus_message_append(m, "o", ck_json_string(obj, "ObjectPath"));
	if (r >= 0)
		r = ck_ca_values_append(&values, m);
	if (r >= 0)
		r = sd_bus_call(client->bus, m, 0, &error, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	/* TRANSLATORS: the placeholder is the CA's name */
	g_print(_("CA \"%s\" modified.\n"), values.name);
	return CK_EXIT_OK;
}

static CkExit
ck_verb_remove_ca(CkClient *client, int argc, char **argv)
{
	g_auto(CkCaValues) values = {.timeout = -1, .validity_days = -1};
	g_autoptr(GArray) entries = ck_entries_new();
	g_autoptr(GOptionContext) context = NULL;
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) cas = NULL;
	JsonObject *obj;
	int r;

	ck_ca_entries(entries, &values, FALSE);
	context = ck_client_verb_context(
	    "remove-ca", "NAME", _("Remove a CA added with add-ca; refused while requests use it."),
	    (GOptionEntry *)(void *)entries->data);
	if (!ck_client_parse(context, &argc, &argv, 1) || !ck_ca_values_check(&values, argc, argv))
		return CK_EXIT_ERROR;
	obj = ck_client_select_ca(client, values.name, &requests, &cas);
	if (obj == NULL)
		return CK_EXIT_ERROR;
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
			       "RemoveCA", &error, NULL, "o", ck_json_string(obj, "ObjectPath"));
	if (r < 0) {
		gboolean busy = sd_bus_error_has_name(&error, "org.certkeeper.Error.Busy");
		ck_client_fail_bus(&error, r);
		if (busy)
			/* TRANSLATORS: the placeholder is the CA's name */
			g_printerr(
			    _("Move those requests to another CA (certkeeper modify -i ID -c "
			      "OTHER-CA) or stop tracking them (certkeeper stop-tracking -i "
			      "ID), then remove CA \"%s\".\n"),
			    values.name);
		return CK_EXIT_ERROR;
	}
	/* TRANSLATORS: the placeholder is the CA's name */
	g_print(_("CA \"%s\" removed.\n"), values.name);
	return CK_EXIT_OK;
}

static CkExit
ck_verb_reload(CkClient *client, int argc, char **argv)
{
	const GOptionEntry entries[] = {{NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context(
	    "reload", NULL,
	    _("Make certkeeperd read certkeeper.conf, policy.d and requests.d again (as SIGHUP "
	      "does). A broken configuration changes nothing and is reported."),
	    entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	int r;

	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
			       "Reload", &error, NULL, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	g_print("%s\n", _("certkeeperd read its configuration again."));
	return CK_EXIT_OK;
}

/* health */

static CkExit
ck_client_exit_for_health(CkHealthKind kind)
{
	switch (kind) {
	case CK_HEALTH_STUCK:
		return CK_EXIT_HEALTH_STUCK;
	case CK_HEALTH_EXPIRING:
		return CK_EXIT_HEALTH_EXPIRING;
	case CK_HEALTH_EXPIRED:
		return CK_EXIT_HEALTH_EXPIRED;
	}
	return CK_EXIT_ERROR;
}

static void
ck_client_print_health_json(GPtrArray *requests, GPtrArray *problems, CkExit code, gint days)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "healthy");
	json_builder_add_boolean_value(builder, problems->len == 0);
	json_builder_set_member_name(builder, "exit-code");
	json_builder_add_int_value(builder, code);
	json_builder_set_member_name(builder, "days");
	json_builder_add_int_value(builder, days);
	json_builder_set_member_name(builder, "requests");
	json_builder_add_int_value(builder, requests->len);
	json_builder_set_member_name(builder, "problems");
	json_builder_begin_array(builder);
	for (guint i = 0; i < problems->len; i++) {
		CkHealthProblem *problem = g_ptr_array_index(problems, i);
		JsonObject *obj = NULL;

		for (guint j = 0; j < requests->len && obj == NULL; j++) {
			if (g_strcmp0(ck_json_string(g_ptr_array_index(requests, j), "Id"),
				      problem->id) == 0)
				obj = g_ptr_array_index(requests, j);
		}
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "id");
		json_builder_add_string_value(builder, problem->id);
		json_builder_set_member_name(builder, "problem");
		json_builder_add_string_value(builder, ck_health_kind_to_string(problem->kind));
		json_builder_set_member_name(builder, "message");
		json_builder_add_string_value(builder, problem->message);
		if (obj != NULL) {
			json_builder_set_member_name(builder, "state");
			json_builder_add_string_value(builder, ck_json_string(obj, "State"));
			json_builder_set_member_name(builder, "expiry-status");
			json_builder_add_string_value(builder, ck_json_string(obj, "ExpiryStatus"));
			json_builder_set_member_name(builder, "not-after");
			json_builder_add_int_value(builder, ck_json_int(obj, "NotAfter"));
			json_builder_set_member_name(builder, "ca");
			json_builder_add_string_value(builder, ck_json_string(obj, "CA"));
		}
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	ck_client_print_json(root);
}

static CkExit
ck_verb_health(CkClient *client, int argc, char **argv)
{
	gboolean json = FALSE;
	gint days = 14;
	g_autofree gchar *stuck_after = NULL;
	const GOptionEntry entries[] = {
	    {"days", 'd', 0, G_OPTION_ARG_INT, &days,
	     N_("A certificate expiring within this many days must have a renewal on its way "
		"(default 14)"),
	     "N"},
	    {"stuck-after", 0, 0, G_OPTION_ARG_STRING, &stuck_after,
	     N_("A request working on a certificate for longer than this is stuck (default 1d)"),
	     "DURATION"},
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, N_("Print the verdict as JSON"), NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context(
	    "health", NULL,
	    _("Check every certificate: exits 0 when all is well, else with the code of the "
	      "worst problem, printing one line per request that has one. Only reads: anyone "
	      "may run it, from cron, a systemd timer or a monitoring agent."),
	    entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(GPtrArray) requests = NULL;
	g_autoptr(GPtrArray) problems = NULL;
	g_autoptr(GError) local_error = NULL;
	CkHealthOptions options = {.stuck_after = 86400};
	CkExit code = CK_EXIT_OK;
	int r;

	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	if (days < 0 || days > 3650)
		/* TRANSLATORS: the placeholder is the number given */
		return ck_client_fail(_("--days %d: give a number of days from 0 to 3650"), days);
	if (stuck_after != NULL && !ck_duration_parse(stuck_after, &options.stuck_after,
						      &local_error))
		/* TRANSLATORS: the placeholder says what is wrong with the duration */
		return ck_client_fail(_("--stuck-after: %s"), local_error->message);
	options.horizon = (gint64)days * 86400;
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = ck_client_get_objects(client->bus, &requests, NULL, &error);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	problems = ck_health_check(requests, g_get_real_time() / G_USEC_PER_SEC, &options);
	for (guint i = 0; i < problems->len; i++) {
		CkHealthProblem *problem = g_ptr_array_index(problems, i);
		code = MAX(code, ck_client_exit_for_health(problem->kind));
	}
	if (json) {
		ck_client_print_health_json(requests, problems, code, days);
		return code;
	}
	/* stdout only: under a systemd unit it is the journal, under cron the mail */
	for (guint i = 0; i < problems->len; i++) {
		CkHealthProblem *problem = g_ptr_array_index(problems, i);
		/* TRANSLATORS: the request id, the kind of problem (expired, expiring, stuck),
		 * then what it is */
		g_print(_("%s: %s: %s\n"), problem->id, ck_health_kind_to_string(problem->kind),
			problem->message);
	}
	if (problems->len == 0)
		g_print(g_dngettext(GETTEXT_PACKAGE, "%u certificate checked: all is well.\n",
				    "%u certificates checked: all is well.\n", requests->len),
			requests->len);
	return code;
}

/* metrics */

static CkExit
ck_verb_metrics(CkClient *client, int argc, char **argv)
{
	const GOptionEntry entries[] = {{NULL}};
	g_autoptr(GOptionContext) context = ck_client_verb_context(
	    "metrics", NULL,
	    _("Print certkeeperd's metrics in the Prometheus text exposition format: the same "
	      "text it writes to certkeeper.prom in MetricsDirectory= for node_exporter's "
	      "textfile collector."),
	    entries);
	g_auto(sd_bus_error) error = SD_BUS_ERROR_NULL;
	g_autoptr(sd_bus_message) reply = NULL;
	const char *text = NULL;
	int r;

	if (!ck_client_parse(context, &argc, &argv, 0))
		return CK_EXIT_ERROR;
	if (ck_client_connect(client) < 0)
		return CK_EXIT_ERROR;
	r = sd_bus_call_method(client->bus, CK_BUS_NAME, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
			       "GetMetrics", &error, &reply, NULL);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	r = sd_bus_message_read(reply, "s", &text);
	if (r < 0)
		return ck_client_fail_bus(&error, r);
	fputs(text, stdout);
	return CK_EXIT_OK;
}

static const CkVerb ck_verbs[] = {
    /* TRANSLATORS: one-line summaries of the verbs in `certkeeper --help` */
    {"request", N_("Request a certificate and keep it valid"), ck_verb_request},
    {"start-tracking", N_("Keep an existing certificate and key valid"), ck_verb_start_tracking},
    {"stop-tracking", N_("Stop tracking a certificate (its files stay)"), ck_verb_stop_tracking},
    {"resubmit", N_("Renew a certificate now, with the same key"), ck_verb_resubmit},
    {"rekey", N_("Renew a certificate now, with a new key"), ck_verb_rekey},
    {"revoke", N_("Revoke a certificate at its CA"), ck_verb_revoke},
    {"refresh", N_("Read a certificate file again"), ck_verb_refresh},
    {"modify", N_("Change a request's settings"), ck_verb_modify},
    {"list", N_("List tracked certificates"), ck_verb_list},
    {"status", N_("Show one request and what to do about it"), ck_verb_status},
    {"health", N_("Check that every certificate is and stays valid"), ck_verb_health},
    {"list-cas", N_("List the CA back ends"), ck_verb_list_cas},
    {"add-ca", N_("Add a CA back end"), ck_verb_add_ca},
    {"modify-ca", N_("Change a CA back end"), ck_verb_modify_ca},
    {"remove-ca", N_("Remove a CA back end"), ck_verb_remove_ca},
    {"reload", N_("Make certkeeperd read its configuration again"), ck_verb_reload},
    {"metrics", N_("Print the metrics for Prometheus"), ck_verb_metrics},
};

static void
ck_client_usage(FILE *out)
{
	fprintf(out, "%s\n\n",
		_("Usage: certkeeper [--bus=system|session|ADDRESS] VERB [OPTIONS]"));
	fprintf(out, "%s\n", _("Verbs:"));
	for (guint i = 0; i < G_N_ELEMENTS(ck_verbs); i++)
		fprintf(out, "  %-15s %s\n", ck_verbs[i].name, _(ck_verbs[i].summary));
	fprintf(out, "\n%s\n\n", _("Run `certkeeper VERB --help` for a verb's options."));
	fprintf(out, "%s\n", ck_client_exit_codes_text());
}

int
main(int argc, char **argv)
{
	CkClient client = {.bus_spec = "system"};
	const gchar *no_color = g_getenv("NO_COLOR");
	int verb_index = 1;
	int exit_code;

	setlocale(LC_ALL, "");
	/* CERTKEEPER_LOCALEDIR: catalogs outside the installed prefix (tests, relocated trees) */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("CERTKEEPER_LOCALEDIR") != NULL
					    ? g_getenv("CERTKEEPER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	/* colour on a terminal only, and never when NO_COLOR is set (no-color.org) */
	client.color = isatty(STDOUT_FILENO) && (no_color == NULL || no_color[0] == '\0') &&
		       g_strcmp0(g_getenv("TERM"), "dumb") != 0;

	/* global options come before the verb */
	for (; verb_index < argc && argv[verb_index][0] == '-'; verb_index++) {
		const gchar *arg = argv[verb_index];
		if (g_str_has_prefix(arg, "--bus=")) {
			client.bus_spec = arg + strlen("--bus=");
		} else if (g_strcmp0(arg, "--bus") == 0 && verb_index + 1 < argc) {
			client.bus_spec = argv[++verb_index];
		} else if (g_strcmp0(arg, "--help") == 0 || g_strcmp0(arg, "-h") == 0) {
			ck_client_usage(stdout);
			return CK_EXIT_OK;
		} else if (g_strcmp0(arg, "--version") == 0) {
			g_print("certkeeper %s\n", PACKAGE_VERSION);
			return CK_EXIT_OK;
		} else {
			g_printerr(_("certkeeper: unknown option '%s'\n"), arg);
			ck_client_usage(stderr);
			return CK_EXIT_ERROR;
		}
	}
	if (verb_index >= argc) {
		ck_client_usage(stderr);
		return CK_EXIT_ERROR;
	}
	if (g_strcmp0(argv[verb_index], "help") == 0) {
		ck_client_usage(stdout);
		return CK_EXIT_OK;
	}
	for (guint i = 0; i < G_N_ELEMENTS(ck_verbs); i++) {
		if (g_strcmp0(ck_verbs[i].name, argv[verb_index]) == 0) {
			exit_code = ck_verbs[i].run(&client, argc - verb_index, argv + verb_index);
			if (client.bus != NULL)
				sd_bus_flush_close_unref(client.bus);
			return exit_code;
		}
	}
	g_printerr(_("certkeeper: unknown verb '%s'\n"), argv[verb_index]);
	ck_client_usage(stderr);
	return CK_EXIT_ERROR;
}
