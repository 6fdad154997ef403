/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <glib/gi18n.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-error.h"
#include "ck-validator.h"

/* How far ahead of our clock a CA's clock may be. */
#define CK_VALIDATOR_CLOCK_SKEW (5 * 60)

static gboolean
ck_validator_fail(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
ck_validator_fail(GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, CK_ERROR, CK_ERROR_CRYPTO, message);
	return FALSE;
}

static gchar *
ck_validator_time(gint64 when)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S UTC") : g_strdup("?");
}

/* Every SAN of one type, as text (IP addresses in canonical form). */
static GPtrArray *
ck_validator_sans(gnutls_x509_crt_t crt, gnutls_x509_subject_alt_name_t want)
{
	GPtrArray *values = g_ptr_array_new_with_free_func(g_free);
	for (unsigned int i = 0;; i++) {
		guint8 buf[1024];
		size_t size = sizeof(buf) - 1;
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_OTHERNAME && want == GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL) {
			/* an otherName: its virtual form says whether it is a principal */
			guint8 oid[128];
			size_t oid_size = sizeof(oid);
			gnutls_datum_t der = {buf, (unsigned int)size};
			gnutls_datum_t text = {NULL, 0};
			unsigned int virt = 0;
			if (gnutls_x509_crt_get_subject_alt_othername_oid(crt, i, oid, &oid_size) >= 0 &&
			    gnutls_x509_othername_to_virtual((const char *)oid, &der, &virt, &text) >=
				0 &&
			    virt == GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL)
				g_ptr_array_add(values, g_strndup((const gchar *)text.data, text.size));
			gnutls_free(text.data);
			continue;
		}
		if (type < 0 || (gnutls_x509_subject_alt_name_t)type != want)
			continue;
		if (want == GNUTLS_SAN_IPADDRESS) {
			gchar text[INET6_ADDRSTRLEN];
			int family = size == 4 ? AF_INET : size == 16 ? AF_INET6 : 0;
			if (family != 0 && inet_ntop(family, buf, text, sizeof(text)) != NULL)
				g_ptr_array_add(values, g_strdup(text));
		} else {
			buf[size] = '\0';
			g_ptr_array_add(values, g_strdup((const gchar *)buf));
		}
	}
	return values;
}

static gchar *
ck_validator_canonical_ip(const gchar *address)
{
	guint8 buf[16];
	gchar text[INET6_ADDRSTRLEN];
	if (inet_pton(AF_INET, address, buf) == 1 && inet_ntop(AF_INET, buf, text, sizeof(text)))
		return g_strdup(text);
	if (inet_pton(AF_INET6, address, buf) == 1 && inet_ntop(AF_INET6, buf, text, sizeof(text)))
		return g_strdup(text);
	return g_strdup(address);
}

static gboolean
ck_validator_has(GPtrArray *values, const gchar *value, gboolean ignore_case)
{
	for (guint i = 0; i < values->len; i++) {
		const gchar *v = g_ptr_array_index(values, i);
		if (ignore_case ? g_ascii_strcasecmp(v, value) == 0 : g_strcmp0(v, value) == 0)
			return TRUE;
	}
	return FALSE;
}

static gboolean
ck_validator_check_sans(gnutls_x509_crt_t crt, const gchar *const *wanted,
			gnutls_x509_subject_alt_name_t type, const gchar *what, GError **error)
{
	g_autoptr(GPtrArray) have = NULL;
	if (wanted == NULL || wanted[0] == NULL)
		return TRUE;
	have = ck_validator_sans(crt, type);
	for (guint i = 0; wanted[i] != NULL; i++) {
		g_autofree gchar *value = type == GNUTLS_SAN_IPADDRESS
					      ? ck_validator_canonical_ip(wanted[i])
					      : g_strdup(wanted[i]);
		/* DNS names and email domains compare without case; URIs and principals exactly */
		if (!ck_validator_has(have, value,
				      type != GNUTLS_SAN_URI &&
					  type != GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL))
			return ck_validator_fail(
			    error,
			    /* TRANSLATORS: the kind of name (e.g. "DNS name"), then the name */
			    _("The issued certificate lacks the requested %s '%s'"), what,
			    wanted[i]);
	}
	return TRUE;
}

/* The CN of a DN string, NULL if it has none. */
static gchar *
ck_validator_requested_cn(const gchar *subject)
{
	gnutls_x509_crq_t crq = NULL;
	gchar buf[1024];
	size_t size = sizeof(buf);
	gchar *cn = NULL;

	if (subject == NULL || subject[0] == '\0' || gnutls_x509_crq_init(&crq) < 0)
		return NULL;
	if (gnutls_x509_crq_set_dn(crq, subject, NULL) >= 0 &&
	    gnutls_x509_crq_get_dn_by_oid(crq, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) >= 0)
		cn = g_strndup(buf, size);
	gnutls_x509_crq_deinit(crq);
	return cn;
}

static gboolean
ck_validator_check_names(gnutls_x509_crt_t crt, const CkCsrParams *names, GError **error)
{
	g_autofree gchar *cn = NULL;

	if (names == NULL)
		return TRUE;
	if (!ck_validator_check_sans(crt, names->dns_names, GNUTLS_SAN_DNSNAME, _("DNS name"),
				     error) ||
	    !ck_validator_check_sans(crt, names->ip_addresses, GNUTLS_SAN_IPADDRESS,
				     _("IP address"), error) ||
	    !ck_validator_check_sans(crt, names->emails, GNUTLS_SAN_RFC822NAME,
				     _("email address"), error) ||
	    !ck_validator_check_sans(crt, names->uris, GNUTLS_SAN_URI, _("URI"), error) ||
	    !ck_validator_check_sans(crt, names->principals, GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL,
				     _("Kerberos principal"), error))
		return FALSE;
	cn = ck_validator_requested_cn(names->subject);
	if (cn != NULL) {
		gchar have[1024];
		size_t size = sizeof(have);
		g_autoptr(GPtrArray) dns = ck_validator_sans(crt, GNUTLS_SAN_DNSNAME);
		gboolean found = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
							       0, have, &size) >= 0 &&
				 g_strcmp0(have, cn) == 0;
		/* some CAs (ACME among them) move the name into the SANs */
		if (!found && !ck_validator_has(dns, cn, TRUE))
			return ck_validator_fail(error,
						 _("The issued certificate names neither the "
						   "requested common name '%s' nor a DNS name of it"),
						 cn);
	}
	return TRUE;
}

static gboolean
ck_validator_check_usage(gnutls_x509_crt_t crt, const CkCsrParams *names, GError **error)
{
	guint wanted = 0;
	g_auto(GStrv) oids = NULL;

	if (names == NULL)
		return TRUE;
	if (ck_csr_parse_key_usage(names->key_usage, &wanted, NULL) && wanted != 0) {
		unsigned int have = 0, critical = 0;
		if (gnutls_x509_crt_get_key_usage(crt, &have, &critical) < 0 ||
		    (have & wanted) != wanted)
			return ck_validator_fail(
			    error, _("The issued certificate lacks a requested key usage"));
	}
	if (ck_csr_parse_extended_key_usage(names->extended_key_usage, &oids, NULL)) {
		for (guint i = 0; oids[i] != NULL; i++) {
			gboolean found = FALSE;
			for (unsigned int j = 0; !found; j++) {
				gchar oid[128];
				size_t size = sizeof(oid);
				if (gnutls_x509_crt_get_key_purpose_oid(crt, j, oid, &size, NULL) < 0)
					break;
				found = g_strcmp0(oid, oids[i]) == 0 ||
					g_strcmp0(oid, GNUTLS_KP_ANY) == 0;
			}
			if (!found)
				return ck_validator_fail(error,
							 _("The issued certificate lacks the "
							   "requested extended key usage %s"),
							 oids[i]);
		}
	}
	return TRUE;
}

static gboolean
ck_validator_import_list(const gchar *pem, gnutls_x509_crt_t **list, unsigned int *n)
{
	gnutls_datum_t datum = {(unsigned char *)pem, pem != NULL ? (unsigned int)strlen(pem) : 0};
	*list = NULL;
	*n = 0;
	if (pem == NULL || pem[0] == '\0')
		return TRUE;
	return gnutls_x509_crt_list_import2(list, n, &datum, GNUTLS_X509_FMT_PEM, 0) >= 0;
}

static void
ck_validator_free_list(gnutls_x509_crt_t *list, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
}

/* Every CA certificate on the way must be valid now (by ck_clock_now(), like the leaf). */
static gboolean
ck_validator_check_times(gnutls_x509_crt_t *certs, unsigned int n, gint64 now, GError **error)
{
	for (unsigned int i = 0; i < n; i++) {
		gint64 from = (gint64)gnutls_x509_crt_get_activation_time(certs[i]);
		gint64 until = (gint64)gnutls_x509_crt_get_expiration_time(certs[i]);
		if (now < from - CK_VALIDATOR_CLOCK_SKEW || now >= until) {
			gnutls_datum_t dn = {NULL, 0};
			g_autofree gchar *when = ck_validator_time(now < from ? from : until);
			gboolean early = now < from;
			gnutls_x509_crt_get_dn3(certs[i], &dn, 0);
			ck_validator_fail(error,
					  early ? _("The CA certificate %s is not valid before %s")
						: _("The CA certificate %s expired on %s"),
					  dn.data != NULL ? (const gchar *)dn.data : "?", when);
			gnutls_free(dn.data);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
ck_validator_check_chain(gnutls_x509_crt_t crt, const CkValidation *v, GError **error)
{
	gnutls_x509_crt_t *chain = NULL, *anchors = NULL;
	unsigned int n_chain = 0, n_anchors = 0;
	gnutls_x509_trust_list_t trust = NULL;
	gnutls_x509_crt_t *path = NULL;
	unsigned int status = 0;
	gboolean ok = FALSE;
	int rc;

	if (!ck_validator_import_list(v->chain, &chain, &n_chain))
		return ck_validator_fail(error, _("The CA's chain cannot be read"));
	if (!ck_validator_import_list(v->anchors, &anchors, &n_anchors)) {
		ck_validator_free_list(chain, n_chain);
		return ck_validator_fail(error, _("The CA's root certificates cannot be read"));
	}
	if (n_anchors == 0 && n_chain == 0) {
		/* nothing to verify against: the key and name checks are all there is */
		g_debug("no chain and no trust anchors: the issuer is not verified");
		return TRUE;
	}
	path = g_new0(gnutls_x509_crt_t, n_chain + 1);
	path[0] = crt;
	for (unsigned int i = 0; i < n_chain; i++)
		path[i + 1] = chain[i];
	rc = gnutls_x509_trust_list_init(&trust, 0);
	if (rc >= 0) {
		/* without published roots, the top of what the CA sent is the anchor */
		if (n_anchors > 0)
			rc = gnutls_x509_trust_list_add_cas(trust, anchors, n_anchors, 0);
		else
			rc = gnutls_x509_trust_list_add_cas(trust, &chain[n_chain - 1], 1, 0);
	}
	/* the times are checked against our clock below, not GnuTLS's, so that both agree */
	if (rc >= 0)
		rc = gnutls_x509_trust_list_verify_crt(trust, path, n_chain + 1,
						       GNUTLS_VERIFY_DISABLE_TIME_CHECKS |
							   GNUTLS_VERIFY_DISABLE_TRUSTED_TIME_CHECKS,
						       &status, NULL);
	if (rc < 0) {
		ck_validator_fail(error, _("The issued certificate's chain cannot be verified: %s"),
				  gnutls_strerror(rc));
	} else if (status != 0) {
		gnutls_datum_t out = {NULL, 0};
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
		ck_validator_fail(error,
				  _("The issued certificate does not verify to the CA's trust "
				    "anchors: %s"),
				  out.data != NULL ? (const gchar *)out.data : "?");
		gnutls_free(out.data);
	} else {
		ok = ck_validator_check_times(chain, n_chain, v->now, error) &&
		     ck_validator_check_times(anchors, n_anchors, v->now, error);
	}
	/* deinit(0) leaves the certificates it was given to us: they are freed below */
	if (trust != NULL)
		gnutls_x509_trust_list_deinit(trust, 0);
	g_free(path);
	ck_validator_free_list(anchors, n_anchors);
	ck_validator_free_list(chain, n_chain);
	return ok;
}

gboolean
ck_validator_check(const CkValidation *v, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)v->certificate,
				(unsigned int)strlen(v->certificate)};
	g_autoptr(GError) key_error = NULL;
	gint64 not_before, not_after;
	gboolean ok = FALSE;
	int rc;

	rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		return ck_validator_fail(error, _("The issued certificate cannot be read: %s"),
					 gnutls_strerror(rc));
	}
	not_before = (gint64)gnutls_x509_crt_get_activation_time(crt);
	not_after = (gint64)gnutls_x509_crt_get_expiration_time(crt);
	if (v->key != NULL && !ck_key_matches_certificate(v->key, crt, &key_error)) {
		/* the key's check says INVALID_ARGUMENT; a refusal here is CK_ERROR_CRYPTO */
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "%s%s",
			    _("The issued certificate was not installed: "), key_error->message);
	} else if (not_after <= not_before) {
		ck_validator_fail(error, _("The issued certificate's validity is empty"));
	} else if (not_after <= v->now) {
		g_autofree gchar *when = ck_validator_time(not_after);
		ck_validator_fail(error, _("The issued certificate expired already (%s)"), when);
	} else if (not_before > v->now + CK_VALIDATOR_CLOCK_SKEW) {
		g_autofree gchar *when = ck_validator_time(not_before);
		ck_validator_fail(error, _("The issued certificate is not valid before %s"), when);
	} else if (ck_validator_check_names(crt, v->names, error) &&
		   ck_validator_check_usage(crt, v->names, error) &&
		   ck_validator_check_chain(crt, v, error)) {
		ok = TRUE;
	}
	gnutls_x509_crt_deinit(crt);
	return ok;
}
