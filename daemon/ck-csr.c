/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <glib/gi18n.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-csr.h"
#include "ck-error.h"

/* Attribute types GnuTLS understands in a DN string; anything else must be a dotted OID. */
static const gchar *const ck_csr_dn_types[] = {
    "CN", "C", "O", "OU", "L", "ST", "STREET", "DC", "UID", "EMAIL", "E", "EMAILADDRESS",
    "SERIALNUMBER", "SN", "GN", "GIVENNAME", "SURNAME", "TITLE", "INITIALS", "PSEUDONYM",
    "DNQUALIFIER", "GENERATIONQUALIFIER", "NAME", "POSTALCODE", "POSTALADDRESS",
    "BUSINESSCATEGORY", "JURISDICTIONOFINCORPORATIONLOCALITYNAME",
    "JURISDICTIONOFINCORPORATIONSTATEORPROVINCENAME", "JURISDICTIONOFINCORPORATIONCOUNTRYNAME",
    NULL};

static gboolean
ck_csr_is_oid(const gchar *text)
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

/*
 * GnuTLS accepts some strings that are not DNs at all, so every RDN is checked
 * to be TYPE=VALUE with a known type first; then GnuTLS parses it for real.
 */
gboolean
ck_csr_validate_subject(const gchar *subject, GError **error)
{
	gnutls_x509_crq_t crq = NULL;
	const gchar *p = subject;
	const char *err_pos = NULL;
	int rc;

	if (subject == NULL || subject[0] == '\0') {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The subject is empty"));
		return FALSE;
	}
	while (*p != '\0') {
		const gchar *eq = NULL;
		const gchar *end = p;
		g_autofree gchar *type = NULL;
		g_autofree gchar *type_upper = NULL;
		gboolean escaped = FALSE;
		/* one RDN runs to the next unescaped ',' or '+' */
		for (; *end != '\0'; end++) {
			if (escaped) {
				escaped = FALSE;
				continue;
			}
			if (*end == '\\')
				escaped = TRUE;
			else if (*end == '=' && eq == NULL)
				eq = end;
			else if (*end == ',' || *end == '+')
				break;
		}
		if (eq == NULL || eq == p) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not a valid subject: use TYPE=value pairs separated "
				      "by commas, e.g. CN=host.example,O=Example"),
				    subject);
			return FALSE;
		}
		type = g_strstrip(g_strndup(p, (gsize)(eq - p)));
		type_upper = g_ascii_strup(type, -1);
		if (!g_strv_contains(ck_csr_dn_types, type_upper) &&
		    !ck_csr_is_oid(type)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not a valid subject: unknown attribute type '%s'"),
				    subject, type);
			return FALSE;
		}
		p = *end != '\0' ? end + 1 : end;
	}
	rc = gnutls_x509_crq_init(&crq);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crq_set_dn(crq, subject, &err_pos);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	if (rc != GNUTLS_E_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the subject, then GnuTLS's reason */
			    _("'%s' is not a valid subject: %s"), subject, gnutls_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/* Parses @address into @buf; returns its length (4 or 16), 0 if it is no address. */
static gsize
ck_csr_parse_ip(const gchar *address, guint8 buf[16])
{
	if (address == NULL)
		return 0;
	if (inet_pton(AF_INET, address, buf) == 1)
		return 4;
	if (inet_pton(AF_INET6, address, buf) == 1)
		return 16;
	return 0;
}

gboolean
ck_csr_validate_ip_address(const gchar *address, GError **error)
{
	guint8 buf[16];
	if (ck_csr_parse_ip(address, buf) == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not an IPv4 or IPv6 address"), address != NULL ? address : "");
		return FALSE;
	}
	return TRUE;
}

gboolean
ck_csr_validate_dns_name(const gchar *name, GError **error)
{
	const gchar *p = name;
	gsize label = 0;

	if (name == NULL || name[0] == '\0' || strlen(name) > 253)
		goto bad;
	/* a wildcard stands for one label of a name: "*." alone names nothing */
	if (g_str_has_prefix(p, "*.")) {
		p += 2;
		if (*p == '\0')
			goto bad;
	}
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				goto bad;
			label = 0;
		} else if (g_ascii_isalnum(*p) || *p == '-' || *p == '_') {
			if (++label > 63)
				goto bad;
		} else {
			goto bad;
		}
	}
	if (label == 0 && !g_str_has_suffix(name, "."))
		goto bad;
	return TRUE;
bad:
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    _("'%s' is not a valid DNS name"), name != NULL ? name : "");
	return FALSE;
}

gboolean
ck_csr_validate_email(const gchar *email, GError **error)
{
	const gchar *at = email != NULL ? strchr(email, '@') : NULL;
	if (at == NULL || at == email || at[1] == '\0' || strchr(at + 1, '@') != NULL ||
	    strpbrk(email, " \t\r\n<>") != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not a valid email address"), email != NULL ? email : "");
		return FALSE;
	}
	return TRUE;
}

gboolean
ck_csr_validate_uri(const gchar *uri, GError **error)
{
	g_autoptr(GUri) parsed = NULL;
	gboolean printable = uri != NULL;
	/*
	 * g_uri_parse() lets spaces and raw non-ASCII through, but RFC 3986 has
	 * neither and the SAN is an IA5String: such a value must be percent-encoded.
	 */
	for (const gchar *p = uri; printable && *p != '\0'; p++)
		printable = (guchar)*p > 0x20 && (guchar)*p < 0x7f;
	if (printable)
		parsed = g_uri_parse(uri, G_URI_FLAGS_NONE, NULL);
	if (parsed == NULL || g_uri_get_scheme(parsed) == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not an absolute URI (e.g. spiffe://example.org/service)"),
			    uri != NULL ? uri : "");
		return FALSE;
	}
	if (g_ascii_strncasecmp(uri, "spiffe:", 7) == 0)
		return ck_csr_validate_spiffe_id(uri, error);
	return TRUE;
}

/* The SPIFFE ID rules (SPIFFE-ID specification, section 2). */
gboolean
ck_csr_validate_spiffe_id(const gchar *uri, GError **error)
{
	const gchar *why = NULL;
	const gchar *domain, *path;

	if (uri == NULL || uri[0] == '\0')
		why = _("it is empty");
	else if (strlen(uri) > 2048)
		why = _("it is longer than 2048 bytes");
	else if (!g_str_has_prefix(uri, "spiffe://"))
		why = _("the scheme must be spiffe, lowercase, followed by //");
	if (why == NULL) {
		domain = uri + strlen("spiffe://");
		path = strchr(domain, '/');
		if (path == domain)
			why = _("the trust domain is empty");
		for (const gchar *p = domain; why == NULL && *p != '\0' && p != path; p++) {
			if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '.' || *p == '-' ||
			      *p == '_'))
				why = _("the trust domain may only hold a-z, 0-9, '.', '-' and "
					"'_' (no port, user or upper case)");
		}
		/* the path: segments of [A-Za-z0-9._-], none empty, "." or "..", no slash at the end */
		while (why == NULL && path != NULL) {
			const gchar *start = path + 1;
			const gchar *end = strchr(start, '/');
			gsize len = end != NULL ? (gsize)(end - start) : strlen(start);
			if (len == 0)
				why = _("a path segment is empty (a double or a trailing slash)");
			else if ((len == 1 && start[0] == '.') ||
				 (len == 2 && start[0] == '.' && start[1] == '.'))
				why = _("a path segment is '.' or '..'");
			for (gsize i = 0; why == NULL && i < len; i++) {
				gchar c = start[i];
				if (!(g_ascii_isalnum(c) || c == '.' || c == '-' || c == '_'))
					why = _("the path may only hold letters, digits, '.', '-' "
						"and '_' (no query, fragment or percent-encoding)");
			}
			path = end;
		}
	}
	if (why != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the URI, then what breaks the rules */
			    _("'%s' is not a valid SPIFFE ID: %s"), uri != NULL ? uri : "", why);
		return FALSE;
	}
	return TRUE;
}

gboolean
ck_csr_validate_principal(const gchar *principal, GError **error)
{
	const gchar *at = principal != NULL ? strrchr(principal, '@') : NULL;
	if (at == NULL || at == principal || at[1] == '\0' ||
	    strpbrk(principal, " \t\r\n") != NULL || principal[0] == '/') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not a Kerberos principal name (NAME[/INSTANCE]@REALM)"),
			    principal != NULL ? principal : "");
		return FALSE;
	}
	return TRUE;
}

static const struct {
	const gchar *name;
	guint bit;
} ck_csr_key_usages[] = {
    {"digitalSignature", GNUTLS_KEY_DIGITAL_SIGNATURE},
    {"nonRepudiation", GNUTLS_KEY_NON_REPUDIATION},
    {"contentCommitment", GNUTLS_KEY_NON_REPUDIATION},
    {"keyEncipherment", GNUTLS_KEY_KEY_ENCIPHERMENT},
    {"dataEncipherment", GNUTLS_KEY_DATA_ENCIPHERMENT},
    {"keyAgreement", GNUTLS_KEY_KEY_AGREEMENT},
    {"keyCertSign", GNUTLS_KEY_KEY_CERT_SIGN},
    {"cRLSign", GNUTLS_KEY_CRL_SIGN},
    {"encipherOnly", GNUTLS_KEY_ENCIPHER_ONLY},
    {"decipherOnly", GNUTLS_KEY_DECIPHER_ONLY},
};

gboolean
ck_csr_parse_key_usage(const gchar *const *names, guint *usage_out, GError **error)
{
	guint usage = 0;
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		guint j;
		for (j = 0; j < G_N_ELEMENTS(ck_csr_key_usages); j++) {
			if (g_ascii_strcasecmp(ck_csr_key_usages[j].name, names[i]) == 0)
				break;
		}
		if (j == G_N_ELEMENTS(ck_csr_key_usages)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not a key usage; use digitalSignature, "
				      "nonRepudiation, keyEncipherment, dataEncipherment, "
				      "keyAgreement, keyCertSign, cRLSign, encipherOnly or "
				      "decipherOnly"),
				    names[i]);
			return FALSE;
		}
		usage |= ck_csr_key_usages[j].bit;
	}
	*usage_out = usage;
	return TRUE;
}

static const struct {
	const gchar *name;
	const gchar *oid;
} ck_csr_ekus[] = {
    {"serverAuth", GNUTLS_KP_TLS_WWW_SERVER},   {"clientAuth", GNUTLS_KP_TLS_WWW_CLIENT},
    {"codeSigning", GNUTLS_KP_CODE_SIGNING},    {"emailProtection", GNUTLS_KP_EMAIL_PROTECTION},
    {"timeStamping", GNUTLS_KP_TIME_STAMPING}, {"OCSPSigning", GNUTLS_KP_OCSP_SIGNING},
};

gboolean
ck_csr_parse_extended_key_usage(const gchar *const *names, gchar ***oids_out, GError **error)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		const gchar *oid = NULL;
		for (guint j = 0; j < G_N_ELEMENTS(ck_csr_ekus); j++) {
			if (g_ascii_strcasecmp(ck_csr_ekus[j].name, names[i]) == 0)
				oid = ck_csr_ekus[j].oid;
		}
		if (oid == NULL && ck_csr_is_oid(names[i]))
			oid = names[i];
		if (oid == NULL) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("'%s' is not an extended key usage; use serverAuth, "
				      "clientAuth, codeSigning, emailProtection, timeStamping, "
				      "OCSPSigning or a dotted OID"),
				    names[i]);
			return FALSE;
		}
		g_strv_builder_add(builder, oid);
	}
	*oids_out = g_strv_builder_end(builder);
	return TRUE;
}

static gboolean
ck_csr_has_sans(const CkCsrParams *params)
{
	return (params->dns_names != NULL && params->dns_names[0] != NULL) ||
	       (params->ip_addresses != NULL && params->ip_addresses[0] != NULL) ||
	       (params->emails != NULL && params->emails[0] != NULL) ||
	       (params->uris != NULL && params->uris[0] != NULL) ||
	       (params->principals != NULL && params->principals[0] != NULL);
}

gboolean
ck_csr_validate(const CkCsrParams *params, GError **error)
{
	guint usage = 0;
	g_auto(GStrv) oids = NULL;

	if (params->subject == NULL || params->subject[0] == '\0') {
		if (!ck_csr_has_sans(params)) {
			g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					    _("Neither a subject nor any subject alternative name "
					      "was given: name at least one (-N or -D)"));
			return FALSE;
		}
	} else if (!ck_csr_validate_subject(params->subject, error)) {
		return FALSE;
	}
	for (guint i = 0; params->dns_names != NULL && params->dns_names[i] != NULL; i++) {
		if (!ck_csr_validate_dns_name(params->dns_names[i], error))
			return FALSE;
	}
	for (guint i = 0; params->ip_addresses != NULL && params->ip_addresses[i] != NULL; i++) {
		if (!ck_csr_validate_ip_address(params->ip_addresses[i], error))
			return FALSE;
	}
	for (guint i = 0; params->emails != NULL && params->emails[i] != NULL; i++) {
		if (!ck_csr_validate_email(params->emails[i], error))
			return FALSE;
	}
	for (guint i = 0; params->uris != NULL && params->uris[i] != NULL; i++) {
		if (!ck_csr_validate_uri(params->uris[i], error))
			return FALSE;
	}
	for (guint i = 0; params->principals != NULL && params->principals[i] != NULL; i++) {
		if (!ck_csr_validate_principal(params->principals[i], error))
			return FALSE;
	}
	if (!ck_csr_parse_key_usage(params->key_usage, &usage, error))
		return FALSE;
	return ck_csr_parse_extended_key_usage(params->extended_key_usage, &oids, error);
}

static gboolean
ck_csr_check(int rc, const gchar *what, GError **error)
{
	if (rc == GNUTLS_E_SUCCESS)
		return TRUE;
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
		    /* TRANSLATORS: what failed, then GnuTLS's reason */
		    _("Cannot build the certificate request (%s): %s"), what, gnutls_strerror(rc));
	return FALSE;
}

static gboolean
ck_csr_add_sans(gnutls_x509_crq_t crq, const gchar *const *values,
		gnutls_x509_subject_alt_name_t type, GError **error)
{
	for (guint i = 0; values != NULL && values[i] != NULL; i++) {
		if (!ck_csr_check(gnutls_x509_crq_set_subject_alt_name(crq, type, values[i],
									 (unsigned int)strlen(values[i]),
									 GNUTLS_FSAN_APPEND),
				  values[i], error))
			return FALSE;
	}
	return TRUE;
}

CkCsrExtension *
ck_csr_extension_new(const gchar *oid, gboolean critical, GBytes *value)
{
	CkCsrExtension *extension = g_new0(CkCsrExtension, 1);
	extension->oid = g_strdup(oid);
	extension->critical = critical;
	extension->value = g_bytes_ref(value);
	return extension;
}

void
ck_csr_extension_free(CkCsrExtension *extension)
{
	if (extension == NULL)
		return;
	g_free(extension->oid);
	g_bytes_unref(extension->value);
	g_free(extension);
}

/*
 * An EC key signs with the hash that matches its curve (SHA-384 for P-384,
 * SHA-512 for P-521: RFC 5480 section 4), as GnuTLS recommends it; a smaller
 * hash would weaken the signature to SHA-256's strength. Other keys keep
 * @digest (SHA-256 for RSA, which every CA takes).
 */
static gboolean
ck_csr_ec_digest(gnutls_pubkey_t pubkey, gnutls_digest_algorithm_t *digest, GError **error)
{
	gnutls_digest_algorithm_t preferred = GNUTLS_DIG_UNKNOWN;
	int rc;

	if (gnutls_pubkey_get_pk_algorithm(pubkey, NULL) != GNUTLS_PK_ECDSA)
		return TRUE;
	/* zero or positive is success here */
	rc = gnutls_pubkey_get_preferred_hash_algorithm(pubkey, &preferred, NULL);
	if (rc < 0 && !ck_csr_check(rc, "digest", error))
		return FALSE;
	if (preferred != GNUTLS_DIG_UNKNOWN)
		*digest = preferred;
	return TRUE;
}

gchar *
ck_csr_build(const CkCsrParams *params, gnutls_privkey_t key, GError **error)
{
	return ck_csr_build_with_pubkey(params, key, NULL, error);
}

gchar *
ck_csr_build_with_pubkey(const CkCsrParams *params, gnutls_privkey_t key,
			 gnutls_pubkey_t known_pubkey, GError **error)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_pubkey_t pubkey = NULL;
	gnutls_datum_t pem = {NULL, 0};
	g_auto(GStrv) oids = NULL;
	guint usage = 0;
	gchar *result = NULL;
	gnutls_digest_algorithm_t digest = GNUTLS_DIG_SHA256;

	if (!ck_csr_validate(params, error))
		return NULL;
	if (!ck_csr_check(gnutls_x509_crq_init(&crq), "init", error))
		return NULL;
	if (!ck_csr_check(gnutls_x509_crq_set_version(crq, 1), "version", error))
		goto out;
	/* signing does not fill in the public key: the request must carry it first */
	if (known_pubkey != NULL) {
		if (!ck_csr_check(gnutls_x509_crq_set_pubkey(crq, known_pubkey), "public key",
				  error))
			goto out;
	} else if (!ck_csr_check(gnutls_pubkey_init(&pubkey), "public key", error) ||
		   !ck_csr_check(gnutls_pubkey_import_privkey(pubkey, key, 0, 0), "public key",
				 error) ||
		   !ck_csr_check(gnutls_x509_crq_set_pubkey(crq, pubkey), "public key", error)) {
		goto out;
	}
	if (params->subject != NULL && params->subject[0] != '\0' &&
	    !ck_csr_check(gnutls_x509_crq_set_dn(crq, params->subject, NULL), params->subject,
			  error))
		goto out;
	if (!ck_csr_add_sans(crq, params->dns_names, GNUTLS_SAN_DNSNAME, error) ||
	    !ck_csr_add_sans(crq, params->emails, GNUTLS_SAN_RFC822NAME, error) ||
	    !ck_csr_add_sans(crq, params->uris, GNUTLS_SAN_URI, error) ||
	    !ck_csr_add_sans(crq, params->principals, GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL, error))
		goto out;
	for (guint i = 0; params->ip_addresses != NULL && params->ip_addresses[i] != NULL; i++) {
		guint8 buf[16];
		gsize len = ck_csr_parse_ip(params->ip_addresses[i], buf);
		if (!ck_csr_check(gnutls_x509_crq_set_subject_alt_name(crq, GNUTLS_SAN_IPADDRESS,
									 buf, (unsigned int)len,
									 GNUTLS_FSAN_APPEND),
				  params->ip_addresses[i], error))
			goto out;
	}
	if (!ck_csr_parse_key_usage(params->key_usage, &usage, error))
		goto out;
	if (usage != 0 &&
	    !ck_csr_check(gnutls_x509_crq_set_key_usage(crq, usage), "key usage", error))
		goto out;
	if (!ck_csr_parse_extended_key_usage(params->extended_key_usage, &oids, error))
		goto out;
	for (guint i = 0; oids[i] != NULL; i++) {
		if (!ck_csr_check(gnutls_x509_crq_set_key_purpose_oid(crq, oids[i], 0), oids[i],
				  error))
			goto out;
	}
	if (params->challenge_password != NULL &&
	    !ck_csr_check(gnutls_x509_crq_set_challenge_password(crq, params->challenge_password),
			  "challengePassword", error))
		goto out;
	for (guint i = 0; params->extensions != NULL && i < params->extensions->len; i++) {
		CkCsrExtension *ext = g_ptr_array_index(params->extensions, i);
		gsize size = 0;
		const guint8 *data = g_bytes_get_data(ext->value, &size);
		guint8 probe[1];
		size_t probe_size = sizeof(probe);
		unsigned int critical = 0;
		int rc = gnutls_x509_crq_get_extension_by_oid(crq, ext->oid, 0, probe, &probe_size,
							      &critical);
		/* present (or too big for the probe): made from the request's settings */
		if (rc == 0 || rc == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (!ck_csr_check(gnutls_x509_crq_set_extension_by_oid(crq, ext->oid, data, size,
									 ext->critical ? 1 : 0),
				  ext->oid, error))
			goto out;
	}
	/* Ed25519 signs the message itself: GnuTLS wants no separate digest */
	if (gnutls_privkey_get_pk_algorithm(key, NULL) == GNUTLS_PK_EDDSA_ED25519)
		digest = GNUTLS_DIG_UNKNOWN;
	else if (!ck_csr_ec_digest(known_pubkey != NULL ? known_pubkey : pubkey, &digest, error))
		goto out;
	if (!ck_csr_check(gnutls_x509_crq_privkey_sign(crq, key, digest, 0), "sign", error))
		goto out;
	if (!ck_csr_check(gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_PEM, &pem), "export", error))
		goto out;
	result = g_strndup((const gchar *)pem.data, pem.size);
	gnutls_free(pem.data);
out:
	if (pubkey != NULL)
		gnutls_pubkey_deinit(pubkey);
	gnutls_x509_crq_deinit(crq);
	return result;
}
