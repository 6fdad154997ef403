/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>
#include <string.h>

#include "ck-error.h"
#include "ck-est.h"
#include "ck-http.h"

#define CK_EST_PATH "/.well-known/est"
/* what the server may send back: a certificate bundle is small, but a CA list can grow */
#define CK_EST_MAX_RESPONSE (4 * 1024 * 1024)
/* RFC 7030 says a 202 carries Retry-After; when a server forgets, ask again in a minute */
#define CK_EST_DEFAULT_RETRY 60
/* and a server asking for more than a week is more likely broken than busy */
#define CK_EST_MAX_RETRY    (7 * 24 * 3600)
#define CK_EST_COOKIE_MAGIC "est-v1"
#define CK_EST_PINNED_FILE  "cacerts.pem"

#define OID_CHALLENGE_PASSWORD "1.2.840.113549.1.9.7"
#define OID_EXTENSION_REQUEST  "1.2.840.113549.1.9.14"
#define OID_EMAIL_ADDRESS      "1.2.840.113549.1.9.1"
#define OID_SUBJECT_ALT_NAME   "2.5.29.17"
#define OID_RSA                "1.2.840.113549.1.1.1"
#define OID_EC_PUBLIC_KEY      "1.2.840.10045.2.1"
#define OID_ED25519            "1.3.101.112"
#define OID_ED448              "1.3.101.113"

void
ck_est_config_clear(CkEstConfig *config)
{
	g_clear_pointer(&config->url, g_free);
	g_clear_pointer(&config->label, g_free);
	g_clear_pointer(&config->trust_file, g_free);
	g_clear_pointer(&config->pin_sha256, g_free);
	g_clear_pointer(&config->state_dir, g_free);
	g_clear_pointer(&config->username, g_free);
	g_clear_pointer(&config->password_file, g_free);
	g_clear_pointer(&config->bootstrap_cert, g_free);
	g_clear_pointer(&config->bootstrap_key, g_free);
	g_clear_pointer(&config->challenge_file, g_free);
}

/* An empty variable is an absent one: that is how the daemon leaves them out. */
static const gchar *
ck_est_getenv(const gchar *name)
{
	const gchar *value = g_getenv(name);
	return value != NULL && value[0] != '\0' ? value : NULL;
}

void
ck_est_env_from_environment(CkEstEnv *env)
{
	env->operation = ck_est_getenv("CERTMONGER_OPERATION");
	env->csr = ck_est_getenv("CERTMONGER_CSR");
	env->cookie = ck_est_getenv("CERTMONGER_CA_COOKIE");
	env->certificate = ck_est_getenv("CERTMONGER_CERTIFICATE");
	env->profile = ck_est_getenv("CERTMONGER_CA_PROFILE");
	env->nickname = ck_est_getenv("CERTMONGER_CA_NICKNAME");
	env->auth_identity = ck_est_getenv("CERTKEEPER_AUTH_IDENTITY");
	env->auth_cert = ck_est_getenv("CERTKEEPER_AUTH_CERTIFICATE");
	env->auth_key = ck_est_getenv("CERTKEEPER_AUTH_KEY");
	env->request_id = ck_est_getenv("CERTKEEPER_REQUEST_ID");
	env->proof_public_key = ck_est_getenv("CERTKEEPER_PROOF_PUBLIC_KEY");
	env->proof_nonce = ck_est_getenv("CERTKEEPER_PROOF_NONCE");
	env->proof_signature = ck_est_getenv("CERTKEEPER_PROOF_SIGNATURE");
	env->proof_algorithm = ck_est_getenv("CERTKEEPER_PROOF_ALGORITHM");
}

/* URLs */

/* RFC 7030 §3.2.2 puts the label in a path segment: keep to characters that need no escaping. */
static gboolean
ck_est_label_is_valid(const gchar *label)
{
	if (label == NULL || label[0] == '\0')
		return FALSE;
	for (const gchar *p = label; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && strchr("-._~", *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

gchar *
ck_est_build_url(const gchar *base, const gchar *label, const gchar *operation, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) local = NULL;
	g_autofree gchar *trimmed = NULL;
	gsize len;

	if (base == NULL || base[0] == '\0') {
		g_set_error_literal(
		    error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
		    _("No EST server is configured: give --url https://HOST[:PORT]"));
		return NULL;
	}
	uri = g_uri_parse(base, G_URI_FLAGS_ENCODED, &local);
	if (uri == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The EST server URL '%s' is not a URL: %s"), base, local->message);
		return NULL;
	}
	/* RFC 7030 §3.3: EST runs over TLS only */
	if (g_ascii_strcasecmp(g_uri_get_scheme(uri), "https") != 0 ||
	    g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0' ||
	    g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL ||
	    g_uri_get_userinfo(uri) != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The EST server URL '%s' must look like https://HOST[:PORT][/PATH] "
			      "(EST needs TLS; credentials go in --username and --password-file)"),
			    base);
		return NULL;
	}
	if (label != NULL && !ck_est_label_is_valid(label)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The EST label '%s' may only hold letters, digits and -._~"), label);
		return NULL;
	}
	/* a base that already ends in /.well-known/est is taken as meant */
	trimmed = g_strdup(base);
	len = strlen(trimmed);
	while (len > 0 && trimmed[len - 1] == '/')
		trimmed[--len] = '\0';
	if (g_str_has_suffix(trimmed, CK_EST_PATH))
		trimmed[len - strlen(CK_EST_PATH)] = '\0';
	if (label != NULL)
		return g_strdup_printf("%s" CK_EST_PATH "/%s/%s", trimmed, label, operation);
	return g_strdup_printf("%s" CK_EST_PATH "/%s", trimmed, operation);
}

/* Bodies */

GBytes *
ck_est_decode_base64(GBytes *body, GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(body, &len);
	g_autoptr(GString) clean = g_string_sized_new(len);
	guchar *decoded;
	gsize out_len = 0;
	guint padding = 0;

	for (gsize i = 0; i < len; i++) {
		guint8 c = data[i];
		if (g_ascii_isspace(c))
			continue;
		if (c == '=') {
			padding++;
		} else if (padding > 0 || !(g_ascii_isalnum(c) || c == '+' || c == '/')) {
			/* g_base64_decode() skips what it does not know: check first */
			g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
					    _("the body is not base64"));
			return NULL;
		}
		g_string_append_c(clean, (gchar)c);
	}
	if (clean->len == 0 || clean->len % 4 != 0 || padding > 2) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    clean->len == 0 ? _("the body is empty")
						    : _("the body is not complete base64"));
		return NULL;
	}
	decoded = g_base64_decode(clean->str, &out_len);
	return g_bytes_new_take(decoded, out_len);
}

GPtrArray *
ck_est_parse_certs_only(GBytes *der, GError **error)
{
	g_autoptr(GPtrArray) certs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)gnutls_x509_crt_deinit);
	gnutls_pkcs7_t pkcs7 = NULL;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);
	gnutls_datum_t datum = {(unsigned char *)data, (unsigned int)len};
	int rc, count;

	rc = gnutls_pkcs7_init(&pkcs7);
	if (rc >= 0)
		rc = gnutls_pkcs7_import(pkcs7, &datum, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("the body is not a DER PKCS#7 message: %s"), gnutls_strerror(rc));
		gnutls_pkcs7_deinit(pkcs7);
		return NULL;
	}
	count = gnutls_pkcs7_get_crt_count(pkcs7);
	for (int i = 0; i < count; i++) {
		gnutls_datum_t raw = {NULL, 0};
		gnutls_x509_crt_t crt = NULL;
		rc = gnutls_pkcs7_get_crt_raw2(pkcs7, (unsigned)i, &raw);
		if (rc >= 0)
			rc = gnutls_x509_crt_init(&crt);
		if (rc >= 0)
			rc = gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER);
		gnutls_free(raw.data);
		if (rc < 0) {
			if (crt != NULL)
				gnutls_x509_crt_deinit(crt);
			gnutls_pkcs7_deinit(pkcs7);
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    _("certificate %d of the PKCS#7 message cannot be read: %s"),
				    i + 1, gnutls_strerror(rc));
			return NULL;
		}
		g_ptr_array_add(certs, crt);
	}
	gnutls_pkcs7_deinit(pkcs7);
	if (certs->len == 0) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
				    _("the PKCS#7 message holds no certificate"));
		return NULL;
	}
	return g_steal_pointer(&certs);
}

static gchar *
ck_est_crt_to_pem(gnutls_x509_crt_t crt)
{
	gnutls_datum_t out = {NULL, 0};
	gchar *pem;
	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out) < 0)
		return NULL;
	pem = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	return pem;
}

gchar *
ck_est_certs_to_pem(GPtrArray *certs)
{
	GString *pem = g_string_new(NULL);
	for (guint i = 0; i < certs->len; i++) {
		g_autofree gchar *one = ck_est_crt_to_pem(g_ptr_array_index(certs, i));
		if (one != NULL)
			g_string_append(pem, one);
	}
	return g_string_free(pem, FALSE);
}

static gboolean
ck_est_is_self_signed(gnutls_x509_crt_t crt)
{
	unsigned int status = 0;
	if (!gnutls_x509_crt_check_issuer(crt, crt))
		return FALSE;
	/* subject == issuer is not enough: root rollover certificates (RFC 7030 §4.1.3) have it */
	return gnutls_x509_crt_verify(crt, &crt, 1, GNUTLS_VERIFY_DISABLE_TIME_CHECKS, &status) >=
		   0 &&
	       status == 0;
}

/* A name for a certificate in an NSS database: its CN, or its whole subject. */
static gchar *
ck_est_nickname(gnutls_x509_crt_t crt)
{
	gchar buf[512];
	size_t size = sizeof(buf);
	gnutls_datum_t dn = {NULL, 0};
	gchar *name;

	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) >=
		0 &&
	    size > 0)
		return g_strndup(buf, size);
	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
		return g_strdup("EST CA");
	name = g_strndup((const gchar *)dn.data, dn.size);
	gnutls_free(dn.data);
	return name;
}

static void
ck_est_append_named(GString *out, gnutls_x509_crt_t crt)
{
	g_autofree gchar *nickname = ck_est_nickname(crt);
	g_autofree gchar *pem = ck_est_crt_to_pem(crt);
	if (pem == NULL)
		return;
	/* one line: a newline in a name would end the section early */
	g_strdelimit(nickname, "\r\n", ' ');
	g_string_append_printf(out, "%s\n%s", nickname, pem);
}

gchar *
ck_est_format_roots(GPtrArray *certs)
{
	GString *out = g_string_new(NULL);
	g_autoptr(GString) roots = g_string_new(NULL);
	g_autoptr(GString) others = g_string_new(NULL);
	gint first_root = -1;

	for (guint i = 0; i < certs->len; i++) {
		if (ck_est_is_self_signed(g_ptr_array_index(certs, i))) {
			first_root = (gint)i;
			break;
		}
	}
	/* no self-signed certificate: the top of what was sent is the anchor */
	if (first_root < 0 && certs->len > 0)
		first_root = (gint)certs->len - 1;
	for (guint i = 0; i < certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(certs, i);
		if ((gint)i == first_root)
			ck_est_append_named(out, crt);
		else if (ck_est_is_self_signed(crt))
			ck_est_append_named(roots, crt);
		else
			ck_est_append_named(others, crt);
	}
	g_string_append_printf(out, "\n%s\n%s", roots->str, others->str);
	return g_string_free(out, FALSE);
}

/* CSR attributes: just enough DER for CsrAttrs */

typedef struct {
	guint8 tag;
	const guint8 *content;
	gsize len;
} CkDer;

/* Reads one TLV from [*p, end); FALSE for anything malformed or beyond what we need. */
static gboolean
ck_der_read(const guint8 **p, const guint8 *end, CkDer *out)
{
	const guint8 *q = *p;
	gsize len;

	if (end - q < 2)
		return FALSE;
	out->tag = *q++;
	/* high tag numbers do not occur in CsrAttrs */
	if ((out->tag & 0x1f) == 0x1f)
		return FALSE;
	len = *q++;
	if (len & 0x80) {
		guint n = len & 0x7f;
		/* indefinite lengths are BER, not DER; four bytes are plenty */
		if (n == 0 || n > 4 || (gsize)(end - q) < n)
			return FALSE;
		len = 0;
		for (guint i = 0; i < n; i++)
			len = (len << 8) | *q++;
	}
	if ((gsize)(end - q) < len)
		return FALSE;
	out->content = q;
	out->len = len;
	*p = q + len;
	return TRUE;
}

static gchar *
ck_der_oid_to_string(const CkDer *der)
{
	g_autoptr(GString) out = g_string_new(NULL);
	guint64 arc = 0;
	gboolean first = TRUE;

	if (der->tag != 0x06 || der->len == 0 || (der->content[der->len - 1] & 0x80))
		return NULL;
	for (gsize i = 0; i < der->len; i++) {
		if (arc > (G_MAXUINT64 >> 7))
			return NULL;
		arc = (arc << 7) | (der->content[i] & 0x7f);
		if (der->content[i] & 0x80)
			continue;
		if (first) {
			guint64 top = arc < 80 ? arc / 40 : 2;
			g_string_append_printf(out, "%" G_GUINT64_FORMAT ".%" G_GUINT64_FORMAT, top,
					       arc - top * 40);
			first = FALSE;
		} else {
			g_string_append_printf(out, ".%" G_GUINT64_FORMAT, arc);
		}
		arc = 0;
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static void
ck_est_csr_extension_free(CkEstCsrExtension *ext)
{
	g_free(ext->oid);
	g_bytes_unref(ext->value);
	g_free(ext);
}

void
ck_est_csr_attr_free(CkEstCsrAttr *attr)
{
	if (attr == NULL)
		return;
	g_free(attr->oid);
	g_strfreev(attr->values);
	if (attr->extensions != NULL)
		g_ptr_array_unref(attr->extensions);
	g_free(attr);
}

/* A non-negative DER INTEGER that fits 64 bits; FALSE for anything else. */
static gboolean
ck_der_integer(const CkDer *der, guint64 *out)
{
	guint64 value = 0;
	gsize i = 0;

	if (der->tag != 0x02 || der->len == 0 || (der->content[0] & 0x80))
		return FALSE;
	/* one leading zero keeps a high bit positive */
	if (der->content[0] == 0 && der->len > 1)
		i = 1;
	if (der->len - i > 8)
		return FALSE;
	for (; i < der->len; i++)
		value = (value << 8) | der->content[i];
	*out = value;
	return TRUE;
}

/*
 * extensionRequest's value is an Extensions SEQUENCE: the extnIDs are what it
 * asks for, and an Extension that carries its extnValue is kept whole (a CA
 * template: certkeeper adds it as given).
 */
static void
ck_est_add_extension_ids(const CkDer *value, GStrvBuilder *values, CkEstCsrAttr *attr)
{
	const guint8 *p = value->content, *end = value->content + value->len;
	while (p < end) {
		CkDer ext, id, field = {0};
		const guint8 *q, *qend;
		gboolean critical = FALSE, have;
		g_autofree gchar *oid = NULL;
		if (!ck_der_read(&p, end, &ext) || ext.tag != 0x30) {
			attr->n_other++;
			return;
		}
		q = ext.content;
		qend = ext.content + ext.len;
		if (!ck_der_read(&q, qend, &id) || (oid = ck_der_oid_to_string(&id)) == NULL) {
			attr->n_other++;
			continue;
		}
		g_strv_builder_add(values, oid);
		/* Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue } */
		have = q < qend && ck_der_read(&q, qend, &field);
		if (have && field.tag == 0x01 && field.len == 1) {
			critical = field.content[0] != 0;
			have = q < qend && ck_der_read(&q, qend, &field);
		}
		if (have && field.tag == 0x04 && field.len > 0 && q == qend) {
			CkEstCsrExtension *kept = g_new0(CkEstCsrExtension, 1);
			kept->oid = g_strdup(oid);
			kept->critical = critical;
			kept->value = g_bytes_new(field.content, field.len);
			if (attr->extensions == NULL)
				attr->extensions = g_ptr_array_new_with_free_func(
				    (GDestroyNotify)ck_est_csr_extension_free);
			g_ptr_array_add(attr->extensions, kept);
		}
	}
}

GPtrArray *
ck_est_parse_csrattrs(GBytes *der, GError **error)
{
	g_autoptr(GPtrArray) attrs =
	    g_ptr_array_new_with_free_func((GDestroyNotify)ck_est_csr_attr_free);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);
	const guint8 *p = data, *end = data + len;
	CkDer top;

	if (len == 0)
		return g_steal_pointer(&attrs);
	if (!ck_der_read(&p, end, &top) || top.tag != 0x30 || p != end)
		goto bad;
	p = top.content;
	end = top.content + top.len;
	while (p < end) {
		CkDer item;
		g_autoptr(CkEstCsrAttr) attr = NULL;
		if (!ck_der_read(&p, end, &item))
			goto bad;
		attr = g_new0(CkEstCsrAttr, 1);
		if (item.tag == 0x06) {
			attr->oid = ck_der_oid_to_string(&item);
			if (attr->oid == NULL)
				goto bad;
		} else if (item.tag == 0x30) {
			/* Attribute ::= SEQUENCE { type OBJECT IDENTIFIER, values SET OF ANY } */
			const guint8 *q = item.content, *qend = item.content + item.len;
			g_autoptr(GStrvBuilder) values = g_strv_builder_new();
			CkDer type, set;
			if (!ck_der_read(&q, qend, &type) ||
			    (attr->oid = ck_der_oid_to_string(&type)) == NULL ||
			    !ck_der_read(&q, qend, &set) || set.tag != 0x31 || q != qend)
				goto bad;
			q = set.content;
			qend = set.content + set.len;
			while (q < qend) {
				CkDer value;
				g_autofree gchar *oid = NULL;
				if (!ck_der_read(&q, qend, &value))
					goto bad;
				guint64 integer = 0;
				if ((oid = ck_der_oid_to_string(&value)) != NULL)
					g_strv_builder_add(values, oid);
				else if (value.tag == 0x30 &&
					 g_strcmp0(attr->oid, OID_EXTENSION_REQUEST) == 0)
					ck_est_add_extension_ids(&value, values, attr);
				else if (attr->integer == 0 && ck_der_integer(&value, &integer))
					attr->integer = integer;
				else
					attr->n_other++;
			}
			attr->values = g_strv_builder_end(values);
		} else {
			goto bad;
		}
		g_ptr_array_add(attrs, g_steal_pointer(&attr));
	}
	return g_steal_pointer(&attrs);
bad:
	g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("the body is not a DER CsrAttrs sequence (RFC 7030 §4.5.2)"));
	return NULL;
}

/* certkeeper's name for a key type the CA asks for, or NULL. */
static const gchar *
ck_est_key_type_for(const CkEstCsrAttr *attr)
{
	static const struct {
		const gchar *curve;
		const gchar *name;
	} curves[] = {
	    {"1.2.840.10045.3.1.7", "ec-p256"},
	    {"1.3.132.0.34", "ec-p384"},
	    {"1.3.132.0.35", "ec-p521"},
	};
	if (g_strcmp0(attr->oid, OID_RSA) == 0)
		return "rsa-2048, rsa-3072 or rsa-4096";
	if (g_strcmp0(attr->oid, OID_ED25519) == 0)
		return "ed25519";
	if (g_strcmp0(attr->oid, OID_ED448) == 0)
		return "ed448";
	if (g_strcmp0(attr->oid, OID_EC_PUBLIC_KEY) != 0)
		return NULL;
	for (guint i = 0;
	     attr->values != NULL && attr->values[0] != NULL && i < G_N_ELEMENTS(curves); i++) {
		if (g_strcmp0(attr->values[0], curves[i].curve) == 0)
			return curves[i].name;
	}
	return "ec-p256, ec-p384 or ec-p521";
}

static void
ck_est_require(GPtrArray *names, const gchar *name)
{
	if (!g_ptr_array_find_with_equal_func(names, name, g_str_equal, NULL))
		g_ptr_array_add(names, (gpointer)name);
}

/* An OID the CA asks for, as a requirement or a note. */
static void
ck_est_require_oid(GPtrArray *names, const gchar *oid, GString *notes)
{
	if (g_str_has_prefix(oid, "2.5.4.")) {
		/* X.520 name attributes go into the subject */
		ck_est_require(names, "CERTMONGER_REQ_SUBJECT");
	} else if (g_strcmp0(oid, OID_EMAIL_ADDRESS) == 0) {
		ck_est_require(names, "CERTMONGER_REQ_EMAIL");
	} else if (g_strcmp0(oid, OID_SUBJECT_ALT_NAME) == 0) {
		ck_est_require(names, "CERTMONGER_REQ_HOSTNAME");
	} else if (g_strcmp0(oid, OID_CHALLENGE_PASSWORD) == 0) {
		g_string_append(notes, _("The CA wants a challengePassword in the CSR; certkeeper "
					 "does not add one (certmonger: getcert request -L or -l). "
					 "tls-unique channel binding is not implemented.\n"));
	} else {
		g_string_append_printf(notes,
				       _("Ignored: the CA asks for %s, which certkeeper-est "
					 "does not map.\n"),
				       oid);
	}
}

gchar *
ck_est_requirements(GPtrArray *attrs, GString *notes)
{
	g_autoptr(GPtrArray) names = g_ptr_array_new();
	GString *out = g_string_new(NULL);

	/* every submission needs the CSR itself */
	ck_est_require(names, "CERTMONGER_CSR");
	for (guint i = 0; i < attrs->len; i++) {
		CkEstCsrAttr *attr = g_ptr_array_index(attrs, i);
		const gchar *key_type = ck_est_key_type_for(attr);
		if (key_type != NULL) {
			g_string_append_printf(notes, _("The CA asks for keys of type %s.\n"),
					       key_type);
		} else if (g_strcmp0(attr->oid, OID_EXTENSION_REQUEST) == 0) {
			for (guint j = 0; attr->values != NULL && attr->values[j] != NULL; j++)
				ck_est_require_oid(names, attr->values[j], notes);
		} else if (attr->values != NULL && attr->values[0] != NULL &&
			   !g_str_has_prefix(attr->oid, "2.5.4.")) {
			/* an attribute with OID values names what it wants in those values */
			ck_est_require_oid(names, attr->oid, notes);
			for (guint j = 0; attr->values[j] != NULL; j++)
				ck_est_require_oid(names, attr->values[j], notes);
		} else {
			ck_est_require_oid(names, attr->oid, notes);
		}
	}
	for (guint i = 0; i < names->len; i++)
		g_string_append_printf(out, "%s\n", (const gchar *)g_ptr_array_index(names, i));
	return g_string_free(out, FALSE);
}

/* CERTKEEPER-GET-CSR-ATTRIBUTES: what certkeeperd puts into its keys and CSRs */

/* certkeeper's key type name for a key attribute, or NULL when @attr is none. */
static gchar *
ck_est_key_type_name(const CkEstCsrAttr *attr)
{
	static const struct {
		const gchar *curve;
		const gchar *name;
	} curves[] = {
	    {"1.2.840.10045.3.1.7", "ec-p256"},
	    {"1.3.132.0.34", "ec-p384"},
	    {"1.3.132.0.35", "ec-p521"},
	};
	if (g_strcmp0(attr->oid, OID_RSA) == 0)
		return attr->integer > 0 ? g_strdup_printf("rsa-%" G_GUINT64_FORMAT, attr->integer)
					 : g_strdup("rsa");
	if (g_strcmp0(attr->oid, OID_ED25519) == 0)
		return g_strdup("ed25519");
	if (g_strcmp0(attr->oid, OID_ED448) == 0)
		return g_strdup("ed448");
	if (g_strcmp0(attr->oid, OID_EC_PUBLIC_KEY) != 0)
		return NULL;
	for (guint i = 0;
	     attr->values != NULL && attr->values[0] != NULL && i < G_N_ELEMENTS(curves); i++) {
		if (g_strcmp0(attr->values[0], curves[i].curve) == 0)
			return g_strdup(curves[i].name);
	}
	/* a curve we do not know by name is still a curve the CA insists on */
	if (attr->values != NULL && attr->values[0] != NULL)
		return g_strdup_printf("ec-%s", attr->values[0]);
	return g_strdup("ec");
}

static void
ck_est_add_line(GString *out, GPtrArray *seen, gchar *line)
{
	if (g_ptr_array_find_with_equal_func(seen, line, g_str_equal, NULL)) {
		g_free(line);
		return;
	}
	g_string_append_printf(out, "%s\n", line);
	g_ptr_array_add(seen, line);
}

gchar *
ck_est_csr_attributes(GPtrArray *attrs, const gchar *challenge)
{
	g_autoptr(GPtrArray) seen = g_ptr_array_new_with_free_func(g_free);
	GString *out = g_string_new(NULL);
	gboolean key_said = FALSE;

	for (guint i = 0; i < attrs->len; i++) {
		CkEstCsrAttr *attr = g_ptr_array_index(attrs, i);
		gchar *key_type = ck_est_key_type_name(attr);

		if (key_type != NULL) {
			/* the first key type counts: a CA that lists several prefers the first */
			if (!key_said)
				ck_est_add_line(out, seen,
						g_strdup_printf("key-type %s", key_type));
			key_said = TRUE;
			g_free(key_type);
		} else if (g_strcmp0(attr->oid, OID_CHALLENGE_PASSWORD) == 0) {
			ck_est_add_line(out, seen,
					challenge != NULL
					    ? g_strdup_printf("challenge-password %s", challenge)
					    : g_strdup("challenge-password"));
		} else if (g_strcmp0(attr->oid, OID_EXTENSION_REQUEST) == 0) {
			for (guint j = 0; attr->extensions != NULL && j < attr->extensions->len;
			     j++) {
				CkEstCsrExtension *ext = g_ptr_array_index(attr->extensions, j);
				gsize len = 0;
				const guint8 *data = g_bytes_get_data(ext->value, &len);
				g_autofree gchar *b64 = g_base64_encode(data, len);
				ck_est_add_line(
				    out, seen,
				    g_strdup_printf("extension %s %s %s", ext->oid,
						    ext->critical ? "critical" : "noncritical",
						    b64));
			}
			/* the ones without a value: the request's own settings may fill them */
			for (guint j = 0; attr->values != NULL && attr->values[j] != NULL; j++) {
				gboolean has_value = FALSE;
				for (guint k = 0;
				     attr->extensions != NULL && k < attr->extensions->len; k++) {
					CkEstCsrExtension *ext =
					    g_ptr_array_index(attr->extensions, k);
					has_value |= g_str_equal(ext->oid, attr->values[j]);
				}
				if (!has_value)
					ck_est_add_line(
					    out, seen,
					    g_strdup_printf("attribute %s", attr->values[j]));
			}
		} else {
			/* a name attribute, a signature algorithm, macAddress, ...: asked for,
			 * but nothing a CSR attribute of ours can carry a value for */
			ck_est_add_line(out, seen, g_strdup_printf("attribute %s", attr->oid));
		}
	}
	return g_string_free(out, FALSE);
}

/* Retry-After and cookies */

static gint
ck_est_month(const gchar *name)
{
	static const gchar *months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	for (guint i = 0; i < G_N_ELEMENTS(months); i++) {
		if (g_ascii_strcasecmp(name, months[i]) == 0)
			return (gint)i + 1;
	}
	return 0;
}

gboolean
ck_est_parse_retry_after(const gchar *value, gint64 now, guint *seconds)
{
	guint64 delta = 0;
	gchar weekday[4], month[4], zone[4];
	gint day = 0, year = 0, hour = 0, minute = 0, second = 0, m;
	g_autoptr(GDateTime) when = NULL;
	g_autofree gchar *v = NULL;
	gint64 t;

	if (value == NULL)
		return FALSE;
	v = g_strstrip(g_strdup(value));
	if (g_ascii_string_to_unsigned(v, 10, 0, G_MAXUINT64, &delta, NULL)) {
		*seconds = (guint)MIN(delta, CK_EST_MAX_RETRY);
		return TRUE;
	}
	/* an HTTP-date (IMF-fixdate, RFC 9110 §5.6.7): "Sun, 06 Nov 1994 08:49:37 GMT" */
	if (sscanf(v, "%3s, %d %3s %d %d:%d:%d %3s", weekday, &day, month, &year, &hour, &minute,
		   &second, zone) != 8 ||
	    g_strcmp0(zone, "GMT") != 0 || (m = ck_est_month(month)) == 0)
		return FALSE;
	when = g_date_time_new_utc(year, m, day, hour, minute, second);
	if (when == NULL)
		return FALSE;
	t = g_date_time_to_unix(when);
	*seconds = t <= now ? 0 : (guint)MIN(t - now, CK_EST_MAX_RETRY);
	return TRUE;
}

gchar *
ck_est_cookie_new(const gchar *operation, const gchar *label)
{
	if (label != NULL)
		return g_strdup_printf(CK_EST_COOKIE_MAGIC " %s %s", operation, label);
	return g_strdup_printf(CK_EST_COOKIE_MAGIC " %s", operation);
}

gboolean
ck_est_cookie_parse(const gchar *cookie, gchar **operation, gchar **label)
{
	g_auto(GStrv) parts = NULL;
	guint n;

	if (cookie == NULL)
		return FALSE;
	parts = g_strsplit(cookie, " ", -1);
	n = g_strv_length(parts);
	if (n < 2 || n > 3 || g_strcmp0(parts[0], CK_EST_COOKIE_MAGIC) != 0 ||
	    (g_strcmp0(parts[1], "simpleenroll") != 0 &&
	     g_strcmp0(parts[1], "simplereenroll") != 0) ||
	    (n == 3 && !ck_est_label_is_valid(parts[2])))
		return FALSE;
	*operation = g_strdup(parts[1]);
	*label = n == 3 ? g_strdup(parts[2]) : NULL;
	return TRUE;
}

/* Pinning */

gchar *
ck_est_pin_normalize(const gchar *pin)
{
	GString *out;
	if (pin == NULL)
		return NULL;
	out = g_string_new(NULL);
	for (const gchar *p = pin; *p != '\0'; p++) {
		if (*p == ':' || g_ascii_isspace(*p))
			continue;
		if (!g_ascii_isxdigit(*p)) {
			g_string_free(out, TRUE);
			return NULL;
		}
		g_string_append_c(out, g_ascii_tolower(*p));
	}
	if (out->len != 64) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

static gchar *
ck_est_fingerprint(const guint8 *der, gsize len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, der, len);
}

/* Adds @der's fingerprint to @seen as openssl prints it (AB:CD:...), once. */
static void
ck_est_add_seen(GString *seen, const guint8 *der, gsize len)
{
	g_autofree gchar *hex = ck_est_fingerprint(der, len);
	g_autoptr(GString) fp = g_string_new(NULL);
	for (guint i = 0; hex[i] != '\0'; i += 2)
		g_string_append_printf(fp, "%s%c%c", i > 0 ? ":" : "", g_ascii_toupper(hex[i]),
				       g_ascii_toupper(hex[i + 1]));
	if (strstr(seen->str, fp->str) == NULL)
		g_string_append_printf(seen, "%s%s", seen->len > 0 ? ", " : "", fp->str);
}

gboolean
ck_est_pin_matches(const gchar *pin, GBytes *der)
{
	g_autofree gchar *want = ck_est_pin_normalize(pin);
	g_autofree gchar *have = NULL;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);

	if (want == NULL || len == 0)
		return FALSE;
	have = ck_est_fingerprint(data, len);
	return g_strcmp0(want, have) == 0;
}

/* The client: one run of the helper */

typedef struct {
	const CkEstConfig *config;
	const CkEstEnv *env;
	const gchar *label;       /* the request's profile, else --label */
	gchar *trust_file;        /* what verifies the server, NULL: the system's store */
	gchar *authorization;     /* "Authorization: Basic ..." or NULL */
	gnutls_x509_crt_t *chain; /* TLS client identity */
	guint chain_len;
	gnutls_privkey_t key;
	gchar *identity_file; /* for messages */
	GPtrArray *proof_headers; /* the proof's "Name: value" lines, or NULL */
	GString *out;
} CkEst;

static void
ck_est_clear(CkEst *est)
{
	g_free(est->trust_file);
	if (est->authorization != NULL)
		memset(est->authorization, 0, strlen(est->authorization));
	g_free(est->authorization);
	for (guint i = 0; i < est->chain_len; i++)
		gnutls_x509_crt_deinit(est->chain[i]);
	gnutls_free(est->chain);
	if (est->key != NULL)
		gnutls_privkey_deinit(est->key);
	g_free(est->identity_file);
	g_clear_pointer(&est->proof_headers, g_ptr_array_unref);
}

/* Sets @out to @message and returns @code: failures print their message on stdout. */
static CkEstExit
ck_est_fail(CkEst *est, CkEstExit code, const gchar *message)
{
	g_string_assign(est->out, message);
	g_string_append_c(est->out, '\n');
	return code;
}

/* certmonger's outcome for an error of ck_http_request() or of our own checks. */
static CkEstExit
ck_est_fail_error(CkEst *est, const GError *error)
{
	if (error->domain == CK_ERROR &&
	    (error->code == CK_ERROR_CA_UNDERCONFIGURED ||
	     error->code == CK_ERROR_INVALID_ARGUMENT || error->code == CK_ERROR_IO ||
	     error->code == CK_ERROR_NOT_FOUND))
		return ck_est_fail(est, CK_EST_EXIT_UNDERCONFIGURED, error->message);
	if (error->domain == CK_ERROR && error->code == CK_ERROR_CA_REJECTED)
		return ck_est_fail(est, CK_EST_EXIT_REJECTED, error->message);
	return ck_est_fail(est, CK_EST_EXIT_UNREACHABLE, error->message);
}

static gboolean
ck_est_load_identity(CkEst *est, const gchar *cert_file, const gchar *key_file, GError **error)
{
	g_autofree gchar *cert_pem = NULL;
	gsize cert_len = 0;
	g_autoptr(GError) local = NULL;
	gnutls_datum_t datum;
	int rc;

	if (!g_file_get_contents(cert_file, &cert_pem, &cert_len, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    _("Cannot read the TLS client identity: %s"), local->message);
		return FALSE;
	}
	datum.data = (unsigned char *)cert_pem;
	datum.size = (unsigned int)cert_len;
	rc = gnutls_x509_crt_list_import2(&est->chain, &est->chain_len, &datum, GNUTLS_X509_FMT_PEM,
					  0);
	if (rc < 0 || est->chain_len == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    _("%s holds no PEM certificate for TLS client authentication: %s"),
			    cert_file, rc < 0 ? gnutls_strerror(rc) : _("it is empty"));
		return FALSE;
	}
	/* a PEM key or a TPM key (TSS2): the TPM signs the handshake */
	if (!ck_http_load_client_key(key_file, _("The TLS client key"), &est->key, error))
		return FALSE;
	est->identity_file = g_strdup(cert_file);
	return TRUE;
}

static gboolean
ck_est_load_basic(CkEst *est, GError **error)
{
	g_autofree gchar *password = NULL;
	g_autofree gchar *pair = NULL;
	g_autofree gchar *encoded = NULL;
	g_autoptr(GError) local = NULL;
	gsize len = 0;
	gchar *newline;

	if (est->config->username == NULL)
		return TRUE;
	if (est->config->password_file == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--username %s needs --password-file"), est->config->username);
		return FALSE;
	}
	if (!g_file_get_contents(est->config->password_file, &password, &len, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO, _("Cannot read the EST password: %s"),
			    local->message);
		return FALSE;
	}
	/* the first line: editors add a newline, and that is not part of the password */
	newline = strpbrk(password, "\r\n");
	if (newline != NULL)
		*newline = '\0';
	/* RFC 7617: user-id may not hold a colon */
	if (strchr(est->config->username, ':') != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The EST user name '%s' may not contain ':'"), est->config->username);
		return FALSE;
	}
	pair = g_strdup_printf("%s:%s", est->config->username, password);
	encoded = g_base64_encode((const guchar *)pair, strlen(pair));
	est->authorization = g_strdup_printf("Authorization: Basic %s", encoded);
	memset(password, 0, len);
	memset(pair, 0, strlen(pair));
	return TRUE;
}

/* A summary of the server's answer for a message: status, reason, first line of the body. */
static gchar *
ck_est_describe(CkHttpResponse *response)
{
	GBytes *body = ck_http_response_get_body(response);
	gsize len = 0;
	const gchar *data = g_bytes_get_data(body, &len);
	g_autofree gchar *text = NULL;
	gchar *end;

	if (len == 0 || !g_utf8_validate(data, (gssize)MIN(len, 300), NULL))
		return g_strdup_printf("HTTP %u", ck_http_response_get_status(response));
	text = g_strndup(data, MIN(len, 300));
	end = strpbrk(text, "\r\n");
	if (end != NULL)
		*end = '\0';
	g_strstrip(text);
	if (text[0] == '\0' || !g_utf8_validate(text, -1, NULL))
		return g_strdup_printf("HTTP %u", ck_http_response_get_status(response));
	return g_strdup_printf("HTTP %u: %s", ck_http_response_get_status(response), text);
}

static CkHttpResponse *
ck_est_request(CkEst *est, const gchar *method, const gchar *operation, const gchar *label,
	       GBytes *body, gboolean authenticate, const gchar *trust_file,
	       gboolean accept_any_peer, GError **error)
{
	g_autofree gchar *url = ck_est_build_url(est->config->url, label, operation, error);
	g_autoptr(GPtrArray) headers = g_ptr_array_new();
	CkHttpOptions options = {0};

	if (url == NULL)
		return NULL;
	options.trust_file = trust_file;
	options.timeout_seconds = est->config->timeout_seconds;
	options.max_response = CK_EST_MAX_RESPONSE;
	options.accept_any_peer = accept_any_peer;
	if (authenticate) {
		options.client_chain = est->chain;
		options.client_chain_len = est->chain_len;
		options.client_key = est->key;
		if (est->authorization != NULL)
			g_ptr_array_add(headers, est->authorization);
		for (guint i = 0; est->proof_headers != NULL && i < est->proof_headers->len; i++)
			g_ptr_array_add(headers, g_ptr_array_index(est->proof_headers, i));
		g_ptr_array_add(headers, NULL);
		options.headers = (const gchar *const *)headers->pdata;
	}
	return ck_http_request(&options, method, url, body != NULL ? "application/pkcs10" : NULL,
			       body, error);
}

/* The certificates of a 200 answer that should hold a certs-only PKCS#7. */
static GPtrArray *
ck_est_response_certs(CkHttpResponse *response, const gchar *operation, GError **error)
{
	g_autoptr(GError) local = NULL;
	g_autoptr(GBytes) der = ck_est_decode_base64(ck_http_response_get_body(response), &local);
	const gchar *type = ck_http_response_get_header(response, "Content-Type");
	GPtrArray *certs = NULL;

	if (type == NULL || g_ascii_strncasecmp(type, "application/pkcs7-mime", 22) != 0)
		g_printerr(_("certkeeper-est: %s answered with Content-Type '%s', not "
			     "application/pkcs7-mime; reading it anyway\n"),
			   operation, type != NULL ? type : "");
	if (der != NULL)
		certs = ck_est_parse_certs_only(der, &local);
	if (certs == NULL) {
		g_set_error(
		    error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
		    /* TRANSLATORS: the EST operation, then what is wrong with its answer */
		    _("The EST server's answer to %s cannot be used: %s (expected base64 of "
		      "a DER PKCS#7 certs-only message, RFC 7030 §4.1.3 and §4.2.3)"),
		    operation, local->message);
		return NULL;
	}
	return certs;
}

static gchar *
ck_est_pinned_path(CkEst *est)
{
	if (est->config->state_dir == NULL)
		return NULL;
	return g_build_filename(est->config->state_dir, CK_EST_PINNED_FILE, NULL);
}

/* Does the server's TLS chain (DER, leaf first) verify against @anchors? */
static gboolean
ck_est_chain_verifies(const GPtrArray *peer, GPtrArray *anchors)
{
	gnutls_x509_trust_list_t list = NULL;
	g_autoptr(GPtrArray) chain =
	    g_ptr_array_new_with_free_func((GDestroyNotify)gnutls_x509_crt_deinit);
	unsigned int status = 1;
	gboolean ok = FALSE;

	if (peer == NULL || peer->len == 0)
		return FALSE;
	for (guint i = 0; i < peer->len; i++) {
		GBytes *der = g_ptr_array_index(peer, i);
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(der, &len);
		gnutls_datum_t datum = {(unsigned char *)data, (unsigned int)len};
		gnutls_x509_crt_t crt = NULL;
		if (gnutls_x509_crt_init(&crt) < 0)
			return FALSE;
		if (gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crt);
			return FALSE;
		}
		g_ptr_array_add(chain, crt);
	}
	if (gnutls_x509_trust_list_init(&list, 0) < 0)
		return FALSE;
	for (guint i = 0; i < anchors->len; i++) {
		gnutls_x509_crt_t copy = NULL;
		gnutls_datum_t raw = {NULL, 0};
		/* the list takes the certificates it is given: hand it copies */
		if (gnutls_x509_crt_export2(g_ptr_array_index(anchors, i), GNUTLS_X509_FMT_DER,
					    &raw) < 0)
			continue;
		if (gnutls_x509_crt_init(&copy) >= 0 &&
		    gnutls_x509_crt_import(copy, &raw, GNUTLS_X509_FMT_DER) >= 0 &&
		    gnutls_x509_trust_list_add_cas(list, &copy, 1, 0) == 1)
			copy = NULL;
		if (copy != NULL)
			gnutls_x509_crt_deinit(copy);
		gnutls_free(raw.data);
	}
	ok = gnutls_x509_trust_list_verify_crt(list, (gnutls_x509_crt_t *)chain->pdata, chain->len,
					       0, &status, NULL) >= 0 &&
	     status == 0;
	gnutls_x509_trust_list_deinit(list, 1);
	return ok;
}

/* The fingerprints of what the server showed, for a message about a wrong pin. */
static gchar *
ck_est_seen_fingerprints(const GPtrArray *peer, GPtrArray *certs)
{
	g_autoptr(GString) seen = g_string_new(NULL);
	for (guint i = 0; peer != NULL && i < peer->len; i++) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(g_ptr_array_index(peer, i), &len);
		ck_est_add_seen(seen, data, len);
	}
	for (guint i = 0; i < certs->len; i++) {
		gnutls_datum_t raw = {NULL, 0};
		if (gnutls_x509_crt_export2(g_ptr_array_index(certs, i), GNUTLS_X509_FMT_DER,
					    &raw) < 0)
			continue;
		ck_est_add_seen(seen, raw.data, raw.size);
		gnutls_free(raw.data);
	}
	return g_string_free(g_steal_pointer(&seen), FALSE);
}

/*
 * RFC 7030 §4.1.1 bootstrapping: fetch /cacerts over a TLS connection that is
 * not verified, accept the answer only if the pinned fingerprint is the
 * server's certificate, one in its chain or one of the CA certificates, and
 * the server's chain verifies against those CA certificates (a pinned CA
 * certificate proves nothing about a server it did not issue). The CA
 * certificates become the trust anchors in the state directory.
 */
static gboolean
ck_est_pin(CkEst *est, const gchar *path, GError **error)
{
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) local = NULL;
	g_autofree gchar *pin = ck_est_pin_normalize(est->config->pin_sha256);
	const GPtrArray *peer;
	gboolean matched = FALSE;

	if (pin == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--pin-sha256 '%s' is not a SHA-256 fingerprint (64 hex digits, "
			      "colons allowed)"),
			    est->config->pin_sha256);
		return FALSE;
	}
	response =
	    ck_est_request(est, "GET", "cacerts", est->label, NULL, FALSE, NULL, TRUE, error);
	if (response == NULL)
		return FALSE;
	if (ck_http_response_get_status(response) != 200) {
		g_autofree gchar *what = ck_est_describe(response);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The EST server did not hand out its CA certificates (%s)"), what);
		return FALSE;
	}
	certs = ck_est_response_certs(response, "cacerts", error);
	if (certs == NULL)
		return FALSE;
	peer = ck_http_response_get_peer_certificates(response);
	for (guint i = 0; peer != NULL && i < peer->len && !matched; i++)
		matched = ck_est_pin_matches(est->config->pin_sha256, g_ptr_array_index(peer, i));
	for (guint i = 0; i < certs->len && !matched; i++) {
		gnutls_datum_t raw = {NULL, 0};
		if (gnutls_x509_crt_export2(g_ptr_array_index(certs, i), GNUTLS_X509_FMT_DER,
					    &raw) < 0)
			continue;
		{
			g_autoptr(GBytes) der = g_bytes_new(raw.data, raw.size);
			matched = ck_est_pin_matches(est->config->pin_sha256, der);
		}
		gnutls_free(raw.data);
	}
	if (!matched) {
		g_autofree gchar *seen = ck_est_seen_fingerprints(peer, certs);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("The EST server's certificates do not match --pin-sha256 %s (it "
			      "showed %s): check the fingerprint, or someone is in the way"),
			    est->config->pin_sha256, seen);
		return FALSE;
	}
	if (!ck_est_chain_verifies(peer, certs)) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
				    _("The EST server's TLS certificate is not issued by the CA "
				      "certificates it hands out, so they cannot be pinned"));
		return FALSE;
	}
	pem = ck_est_certs_to_pem(certs);
	if (g_mkdir_with_parents(est->config->state_dir, 0700) < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    _("Cannot create the state directory %s: %s"), est->config->state_dir,
			    g_strerror(errno));
		return FALSE;
	}
	/* a crash must leave the old file or the new one, never half of it */
	if (!g_file_set_contents_full(path, pem, -1,
				      G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
				      0644, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    _("Cannot store the pinned CA certificates: %s"), local->message);
		return FALSE;
	}
	g_printerr(_("certkeeper-est: pinned the EST CA certificates into %s\n"), path);
	return TRUE;
}

/*
 * What verifies the server: --trust; else anchors pinned earlier into the
 * state directory; else, with --pin-sha256, pin now; else the system's store
 * (RFC 7030 §3.6.1's implicit trust anchors).
 */
static gboolean
ck_est_resolve_trust(CkEst *est, GError **error)
{
	g_autofree gchar *pinned = ck_est_pinned_path(est);

	if (est->config->trust_file != NULL) {
		est->trust_file = g_strdup(est->config->trust_file);
		return TRUE;
	}
	if (pinned != NULL && g_file_test(pinned, G_FILE_TEST_EXISTS)) {
		est->trust_file = g_steal_pointer(&pinned);
		return TRUE;
	}
	if (est->config->pin_sha256 != NULL) {
		if (pinned == NULL) {
			g_set_error_literal(
			    error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("--pin-sha256 needs --state-dir to keep what it pins"));
			return FALSE;
		}
		if (!ck_est_pin(est, pinned, error))
			return FALSE;
		est->trust_file = g_steal_pointer(&pinned);
	}
	return TRUE;
}

/* Operations */

static CkEstExit
ck_est_fetch_roots(CkEst *est)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autofree gchar *roots = NULL;

	response = ck_est_request(est, "GET", "cacerts", est->label, NULL, FALSE, est->trust_file,
				  FALSE, &error);
	if (response == NULL)
		return ck_est_fail_error(est, error);
	if (ck_http_response_get_status(response) != 200) {
		g_autofree gchar *what = ck_est_describe(response);
		g_autofree gchar *message = g_strdup_printf(
		    _("The EST server did not hand out its CA certificates (%s)"), what);
		return ck_est_fail(est, CK_EST_EXIT_UNREACHABLE, message);
	}
	certs = ck_est_response_certs(response, "cacerts", &error);
	if (certs == NULL)
		return ck_est_fail_error(est, error);
	roots = ck_est_format_roots(certs);
	g_string_assign(est->out, roots);
	return CK_EST_EXIT_ISSUED;
}

/* --challenge-file's first line, or NULL with @error. */
static gchar *
ck_est_load_challenge(CkEst *est, GError **error)
{
	g_autofree gchar *text = NULL;
	g_autoptr(GError) local = NULL;
	gsize len = 0;
	gchar *newline;

	if (!g_file_get_contents(est->config->challenge_file, &text, &len, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("Cannot read the challenge password: %s"), local->message);
		return NULL;
	}
	newline = strpbrk(text, "\r\n");
	if (newline != NULL)
		*newline = '\0';
	if (text[0] == '\0' || !g_utf8_validate(text, -1, NULL)) {
		memset(text, 0, len);
		g_set_error(
		    error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
		    _("The first line of %s is no challenge password (empty, or not UTF-8)"),
		    est->config->challenge_file);
		return NULL;
	}
	return g_steal_pointer(&text);
}

/* GET /csrattrs: the CA's CsrAttrs (an empty list for 204 and 404), or NULL and the exit. */
static GPtrArray *
ck_est_fetch_csrattrs(CkEst *est, CkEstExit *exit_out)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GBytes) der = NULL;
	GPtrArray *attrs = NULL;
	guint status;

	response = ck_est_request(est, "GET", "csrattrs", est->label, NULL, FALSE, est->trust_file,
				  FALSE, &error);
	if (response == NULL) {
		*exit_out = ck_est_fail_error(est, error);
		return NULL;
	}
	status = ck_http_response_get_status(response);
	if (status == 204 || status == 404)
		/* §4.5.2: nothing in particular is asked for */
		return g_ptr_array_new_with_free_func((GDestroyNotify)ck_est_csr_attr_free);
	if (status != 200) {
		g_autofree gchar *what = ck_est_describe(response);
		g_autofree gchar *message = g_strdup_printf(
		    _("The EST server did not hand out its CSR attributes (%s)"), what);
		*exit_out = ck_est_fail(est, CK_EST_EXIT_UNREACHABLE, message);
		return NULL;
	}
	der = ck_est_decode_base64(ck_http_response_get_body(response), &error);
	if (der != NULL)
		attrs = ck_est_parse_csrattrs(der, &error);
	if (attrs == NULL) {
		g_prefix_error(&error, _("The EST server's answer to csrattrs cannot be used: "));
		*exit_out = ck_est_fail_error(est, error);
	}
	return attrs;
}

static CkEstExit
ck_est_csr_attributes_op(CkEst *est)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) attrs = NULL;
	g_autofree gchar *challenge = NULL;
	g_autofree gchar *lines = NULL;
	CkEstExit code = CK_EST_EXIT_UNREACHABLE;

	attrs = ck_est_fetch_csrattrs(est, &code);
	if (attrs == NULL)
		return code;
	if (est->config->challenge_file != NULL) {
		challenge = ck_est_load_challenge(est, &error);
		if (challenge == NULL)
			return ck_est_fail_error(est, error);
	}
	lines = ck_est_csr_attributes(attrs, challenge);
	g_string_assign(est->out, lines);
	if (challenge != NULL)
		memset(challenge, 0, strlen(challenge));
	memset(lines, 0, strlen(lines));
	return CK_EST_EXIT_ISSUED;
}

static CkEstExit
ck_est_requirements_op(CkEst *est)
{
	g_autoptr(GPtrArray) attrs = NULL;
	g_autoptr(GString) notes = g_string_new(NULL);
	g_autofree gchar *names = NULL;
	CkEstExit code = CK_EST_EXIT_UNREACHABLE;

	attrs = ck_est_fetch_csrattrs(est, &code);
	if (attrs == NULL)
		return code;
	names = ck_est_requirements(attrs, notes);
	if (notes->len > 0)
		g_printerr("%s", notes->str);
	g_string_assign(est->out, names);
	return CK_EST_EXIT_ISSUED;
}

/* The CSR as RFC 7030 §4.2.1 wants it: base64 of the DER. */
static GBytes *
ck_est_csr_body(const gchar *csr_pem, GError **error)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t datum = {(unsigned char *)csr_pem, (unsigned int)strlen(csr_pem)};
	gnutls_datum_t der = {NULL, 0};
	gchar *encoded;
	int rc;

	rc = gnutls_x509_crq_init(&crq);
	if (rc >= 0)
		rc = gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crq_export2(crq, GNUTLS_X509_FMT_DER, &der);
	gnutls_x509_crq_deinit(crq);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("CERTMONGER_CSR is not a PEM certificate signing request: %s"),
			    gnutls_strerror(rc));
		return NULL;
	}
	encoded = g_base64_encode(der.data, der.size);
	gnutls_free(der.data);
	return g_bytes_new_take(encoded, strlen(encoded));
}

static gboolean
ck_est_crt_in(GPtrArray *certs, gnutls_x509_crt_t crt)
{
	for (guint i = 0; i < certs->len; i++) {
		if (gnutls_x509_crt_equals(g_ptr_array_index(certs, i), crt))
			return TRUE;
	}
	return FALSE;
}

/*
 * RFC 7030 §4.2.3 answers with the issued certificate alone, and §4.1.3 points
 * at /cacerts for the rest: add the intermediates from there, so a validator
 * holding only the roots (FETCH-ROOTS) can build the chain. Best effort: the
 * certificate is issued either way, and is not lost over a failing second request.
 */
static void
ck_est_append_chain(CkEst *est, GPtrArray *issued)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GPtrArray) certs = NULL;

	response = ck_est_request(est, "GET", "cacerts", est->label, NULL, FALSE, est->trust_file,
				  FALSE, &error);
	if (response != NULL && ck_http_response_get_status(response) == 200)
		certs = ck_est_response_certs(response, "cacerts", &error);
	if (certs == NULL) {
		g_printerr(_("certkeeper-est: the certificate is issued, but its chain could not "
			     "be fetched from /cacerts: %s\n"),
			   error != NULL ? error->message : _("the server refused"));
		return;
	}
	for (guint i = 0; i < certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(certs, i);
		g_autofree gchar *pem = NULL;
		/* roots are trust anchors, not part of a chain file */
		if (ck_est_is_self_signed(crt) || ck_est_crt_in(issued, crt))
			continue;
		pem = ck_est_crt_to_pem(crt);
		if (pem != NULL)
			g_string_append(est->out, pem);
	}
}

/* A header value must be one printable line: what the daemon passes is base64. */
static gboolean
ck_est_header_value_ok(const gchar *value)
{
	for (const gchar *c = value; *c != '\0'; c++) {
		if (!g_ascii_isgraph(*c))
			return FALSE;
	}
	return value[0] != '\0';
}

/*
 * The proof's header fields for this submission: the proof key to register
 * (any submission may bring it), and for identity "proof" the nonce, signature
 * and algorithm. FALSE with the exit code's message when they are incomplete.
 */
static gboolean
ck_est_add_proof_headers(CkEst *est, gboolean by_proof, gchar **message)
{
	const CkEstEnv *env = est->env;
	const struct {
		const gchar *name;
		const gchar *value;
		const gchar *variable;
		gboolean needed;
	} fields[] = {
	    {CK_EST_HEADER_PROOF_PUBLIC_KEY, env->proof_public_key, "CERTKEEPER_PROOF_PUBLIC_KEY",
	     FALSE},
	    {CK_EST_HEADER_PROOF_NONCE, env->proof_nonce, "CERTKEEPER_PROOF_NONCE", TRUE},
	    {CK_EST_HEADER_PROOF_SIGNATURE, env->proof_signature, "CERTKEEPER_PROOF_SIGNATURE",
	     TRUE},
	    {CK_EST_HEADER_PROOF_ALGORITHM, env->proof_algorithm, "CERTKEEPER_PROOF_ALGORITHM",
	     TRUE},
	};

	est->proof_headers = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		/* only a proof submission sends the proof itself */
		if (i > 0 && !by_proof)
			break;
		if (fields[i].value == NULL) {
			if (!fields[i].needed)
				continue;
			*message = g_strdup_printf(
			    _("CERTKEEPER_AUTH_IDENTITY is proof, but %s is not set"),
			    fields[i].variable);
			return FALSE;
		}
		if (!ck_est_header_value_ok(fields[i].value)) {
			*message = g_strdup_printf(_("%s is not one printable line"),
						   fields[i].variable);
			return FALSE;
		}
		g_ptr_array_add(est->proof_headers,
				g_strdup_printf("%s: %s", fields[i].name, fields[i].value));
	}
	return TRUE;
}

static CkEstExit
ck_est_submit(CkEst *est)
{
	const CkEstEnv *env = est->env;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GPtrArray) certs = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *operation = NULL;
	g_autofree gchar *cookie_label = NULL;
	g_autofree gchar *pem = NULL;
	const gchar *label = est->label;
	const gchar *cert_file = NULL, *key_file = NULL;
	gboolean by_proof = g_strcmp0(env->auth_identity, "proof") == 0;
	g_autofree gchar *proof_problem = NULL;
	guint status;

	if (env->csr == NULL)
		return ck_est_fail(est, CK_EST_EXIT_UNDERCONFIGURED,
				   _("CERTMONGER_CSR is not set: there is nothing to submit"));
	/* a poll repeats the request that was answered 202 (RFC 7030 §4.2.3) */
	if (env->cookie != NULL && ck_est_cookie_parse(env->cookie, &operation, &cookie_label)) {
		label = cookie_label;
	} else {
		if (env->cookie != NULL)
			g_printerr(_("certkeeper-est: the cookie '%s' is not one of ours; "
				     "submitting afresh\n"),
				   env->cookie);
		operation =
		    g_strdup(g_strcmp0(env->auth_identity, "current") == 0 ? "simplereenroll"
									   : "simpleenroll");
	}
	/* who authenticates: the daemon's choice of identity, else our bootstrap pair; an
	 * expired certificate cannot authenticate TLS, so it counts as none */
	if (by_proof) {
		/* the proof alone authenticates: no TLS client identity, no password, which
		 * the daemon would not have come to the proof without trying */
	} else if (env->auth_identity != NULL && g_strcmp0(env->auth_identity, "none") != 0 &&
		   g_strcmp0(env->auth_identity, "expired") != 0) {
		cert_file = env->auth_cert;
		key_file = env->auth_key;
		if (cert_file == NULL || key_file == NULL) {
			g_autofree gchar *message = g_strdup_printf(
			    _("CERTKEEPER_AUTH_IDENTITY is %s, but CERTKEEPER_AUTH_CERTIFICATE "
			      "or CERTKEEPER_AUTH_KEY is not set"),
			    env->auth_identity);
			return ck_est_fail(est, CK_EST_EXIT_UNDERCONFIGURED, message);
		}
	} else if (est->config->bootstrap_cert != NULL) {
		cert_file = est->config->bootstrap_cert;
		key_file = est->config->bootstrap_key;
	}
	if (g_strcmp0(operation, "simplereenroll") == 0 && cert_file == NULL)
		return ck_est_fail(est, CK_EST_EXIT_UNDERCONFIGURED,
				   _("simplereenroll needs the current certificate and key for TLS "
				     "client authentication (CERTKEEPER_AUTH_CERTIFICATE and "
				     "CERTKEEPER_AUTH_KEY)"));
	if (g_strcmp0(env->auth_identity, "expired") == 0 && cert_file == NULL &&
	    est->config->username == NULL)
		return ck_est_fail(est, CK_EST_EXIT_UNDERCONFIGURED,
				   _("The certificate has expired, so it cannot authenticate a "
				     "renewal, and neither a bootstrap identity nor HTTP Basic "
				     "credentials are configured: give the request a bootstrap "
				     "certificate, or the CA --username and --password-file"));
	if (cert_file != NULL && !ck_est_load_identity(est, cert_file, key_file, &error))
		return ck_est_fail_error(est, error);
	/* a password only goes with a first enrollment: §4.2.2 renews on the certificate */
	if (!by_proof && g_strcmp0(operation, "simpleenroll") == 0 &&
	    !ck_est_load_basic(est, &error))
		return ck_est_fail_error(est, error);
	if (!ck_est_add_proof_headers(est, by_proof, &proof_problem))
		return ck_est_fail(est, CK_EST_EXIT_UNDERCONFIGURED, proof_problem);
	body = ck_est_csr_body(env->csr, &error);
	if (body == NULL)
		return ck_est_fail_error(est, error);

	response = ck_est_request(est, "POST", operation, label, body, TRUE, est->trust_file, FALSE,
				  &error);
	if (response == NULL)
		return ck_est_fail_error(est, error);
	status = ck_http_response_get_status(response);
	if (status == 202) {
		guint delay = CK_EST_DEFAULT_RETRY;
		g_autofree gchar *cookie = ck_est_cookie_new(operation, label);
		const gchar *retry = ck_http_response_get_header(response, "Retry-After");
		if (!ck_est_parse_retry_after(retry, g_get_real_time() / G_USEC_PER_SEC, &delay))
			g_printerr(_("certkeeper-est: the EST server answered 202 with Retry-After "
				     "'%s'; asking again in %d seconds\n"),
				   retry != NULL ? retry : "", CK_EST_DEFAULT_RETRY);
		g_string_printf(est->out, "%u\n%s\n", delay, cookie);
		return CK_EST_EXIT_WAIT_WITH_DELAY;
	}
	if (status != 200) {
		g_autofree gchar *what = ck_est_describe(response);
		g_autofree gchar *message = NULL;
		/* a timeout or a rate limit (a proxy in front of the CA) passes: ask again */
		gboolean refused = status >= 400 && status < 500 && status != 408 && status != 429;
		if (status == 401 && est->authorization == NULL && est->chain == NULL)
			/* TRANSLATORS: the EST operation, then the server's answer */
			message = g_strdup_printf(_("The EST server refused %s (%s): configure "
						    "--username and --password-file or a bootstrap "
						    "certificate"),
						  operation, what);
		else if (refused)
			message =
			    g_strdup_printf(_("The EST server refused %s (%s)"), operation, what);
		else
			message = g_strdup_printf(_("The EST server could not answer %s (%s)"),
						  operation, what);
		return ck_est_fail(est, refused ? CK_EST_EXIT_REJECTED : CK_EST_EXIT_UNREACHABLE,
				   message);
	}
	certs = ck_est_response_certs(response, operation, &error);
	if (certs == NULL)
		return ck_est_fail_error(est, error);
	pem = ck_est_certs_to_pem(certs);
	g_string_assign(est->out, pem);
	ck_est_append_chain(est, certs);
	return CK_EST_EXIT_ISSUED;
}

/* CERTKEEPER-GET-PROOF-NONCE: GET .../certkeeper-proof-nonce, the nonce as text. */
static CkEstExit
ck_est_proof_nonce(CkEst *est)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) response = NULL;
	g_autofree gchar *nonce = NULL;
	GBytes *body;
	guint status;

	response = ck_est_request(est, "GET", CK_EST_PROOF_NONCE_OPERATION, est->label, NULL,
				  FALSE, est->trust_file, FALSE, &error);
	if (response == NULL)
		return ck_est_fail_error(est, error);
	status = ck_http_response_get_status(response);
	/* a server without the extension does not know the path */
	if (status == 404 || status == 405 || status == 501) {
		g_autofree gchar *what = ck_est_describe(response);
		g_printerr(_("certkeeper-est: the EST server takes no attestation proofs (%s)\n"),
			   what);
		return CK_EST_EXIT_UNSUPPORTED;
	}
	if (status != 200) {
		g_autofree gchar *what = ck_est_describe(response);
		g_autofree gchar *message =
		    g_strdup_printf(_("The EST server gave no proof nonce (%s)"), what);
		return ck_est_fail(est,
				   status >= 400 && status < 500 && status != 408 && status != 429
				       ? CK_EST_EXIT_REJECTED
				       : CK_EST_EXIT_UNREACHABLE,
				   message);
	}
	body = ck_http_response_get_body(response);
	nonce = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	g_strstrip(nonce);
	if (strlen(nonce) > 512 || !ck_est_header_value_ok(nonce))
		return ck_est_fail(est, CK_EST_EXIT_UNREACHABLE,
				   _("The EST server's proof nonce is not one printable line"));
	g_string_printf(est->out, "%s\n", nonce);
	return CK_EST_EXIT_ISSUED;
}

static CkEstExit
ck_est_identify(CkEst *est)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *url = ck_est_build_url(est->config->url, est->label, "", &error);
	if (url == NULL)
		return ck_est_fail_error(est, error);
	/* the operation's URL without the operation: the EST service this helper talks to */
	url[strlen(url) - 1] = '\0';
	g_string_printf(est->out, "EST %s\n", url);
	return CK_EST_EXIT_ISSUED;
}

CkEstExit
ck_est_run(const CkEstConfig *config, const CkEstEnv *env, GString *out)
{
	CkEst est = {0};
	g_autoptr(GError) error = NULL;
	/* certmonger's helpers treat a missing operation as SUBMIT */
	const gchar *operation = env->operation != NULL ? env->operation : "SUBMIT";
	gboolean submit = g_strcmp0(operation, "SUBMIT") == 0 || g_strcmp0(operation, "POLL") == 0;
	CkEstExit code;

	est.config = config;
	est.env = env;
	est.out = out;
	est.label = env->profile != NULL ? env->profile : config->label;
	g_string_truncate(out, 0);

	if (g_strcmp0(operation, "IDENTIFY") == 0)
		return ck_est_identify(&est);
	if (!submit && g_strcmp0(operation, "FETCH-ROOTS") != 0 &&
	    g_strcmp0(operation, "CERTKEEPER-GET-PROOF-NONCE") != 0 &&
	    g_strcmp0(operation, "GET-NEW-REQUEST-REQUIREMENTS") != 0 &&
	    g_strcmp0(operation, "GET-RENEW-REQUEST-REQUIREMENTS") != 0 &&
	    g_strcmp0(operation, "CERTKEEPER-GET-CSR-ATTRIBUTES") != 0)
		return CK_EST_EXIT_UNSUPPORTED;
	if ((config->bootstrap_cert == NULL) != (config->bootstrap_key == NULL))
		return ck_est_fail(&est, CK_EST_EXIT_UNDERCONFIGURED,
				   _("--bootstrap-cert and --bootstrap-key go together"));
	/* a bad URL is a configuration problem whatever the operation */
	{
		g_autofree gchar *url = ck_est_build_url(config->url, est.label, "cacerts", &error);
		if (url == NULL)
			return ck_est_fail_error(&est, error);
	}
	if (!ck_est_resolve_trust(&est, &error)) {
		code = ck_est_fail_error(&est, error);
		ck_est_clear(&est);
		return code;
	}
	if (submit)
		code = ck_est_submit(&est);
	else if (g_strcmp0(operation, "FETCH-ROOTS") == 0)
		code = ck_est_fetch_roots(&est);
	else if (g_strcmp0(operation, "CERTKEEPER-GET-PROOF-NONCE") == 0)
		code = ck_est_proof_nonce(&est);
	else if (g_strcmp0(operation, "CERTKEEPER-GET-CSR-ATTRIBUTES") == 0)
		code = ck_est_csr_attributes_op(&est);
	else
		code = ck_est_requirements_op(&est);
	ck_est_clear(&est);
	return code;
}
