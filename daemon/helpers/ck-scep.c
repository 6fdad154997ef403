/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs7.h>
#include <libtasn1.h>
#include <string.h>

#include "ck-cms.h"
#include "ck-error.h"
#include "ck-http.h"
#include "ck-scep.h"

/* RFC 8894 3.2.1: the signed attributes of a pkiMessage */
#define CK_OID_SCEP_MESSAGE_TYPE    "2.16.840.1.113733.1.9.2"
#define CK_OID_SCEP_PKI_STATUS      "2.16.840.1.113733.1.9.3"
#define CK_OID_SCEP_FAIL_INFO       "2.16.840.1.113733.1.9.4"
#define CK_OID_SCEP_SENDER_NONCE    "2.16.840.1.113733.1.9.5"
#define CK_OID_SCEP_RECIPIENT_NONCE "2.16.840.1.113733.1.9.6"
#define CK_OID_SCEP_TRANSACTION_ID  "2.16.840.1.113733.1.9.7"
#define CK_OID_SCEP_FAIL_INFO_TEXT  "1.3.6.1.5.5.7.24.1"

/* RFC 8894 3.2.1.2: messageType values */
#define CK_SCEP_CERT_REP    "3"
#define CK_SCEP_RENEWAL_REQ "17"
#define CK_SCEP_PKCS_REQ    "19"
#define CK_SCEP_CERT_POLL   "20"

#define CK_SCEP_NONCE_SIZE 16
/* chains longer than this in a GetCACert answer are not followed */
#define CK_SCEP_MAX_CHAIN 8

struct _CkScep {
	gchar *url;
	gchar *ca_identifier;
	gchar *ca_fingerprint; /* normalised: lower-case hex, no separators */
	gchar *trust_file;
	guint timeout_seconds;
	CkScepCaps caps;
	GPtrArray *certs;      /* gnutls_x509_crt_t: everything GetCACert answered */
	gnutls_x509_crt_t ca;  /* the issuing CA (borrowed from certs) */
	gnutls_x509_crt_t enc; /* where requests are encrypted to: an RA, or the CA */
	gnutls_x509_crt_t sig; /* who signs answers: an RA, or the CA */
	gboolean pinned;
};

static void
ck_scep_crt_free(gpointer crt)
{
	gnutls_x509_crt_deinit(crt);
}

CkScep *
ck_scep_new(const CkScepOptions *options)
{
	CkScep *self = g_new0(CkScep, 1);

	self->url = g_strdup(options->url);
	self->ca_identifier = g_strdup(options->ca_identifier);
	if (options->ca_fingerprint != NULL) {
		GString *hex = g_string_new(NULL);
		for (const gchar *p = options->ca_fingerprint; *p != '\0'; p++) {
			if (*p != ':' && *p != ' ')
				g_string_append_c(hex, g_ascii_tolower(*p));
		}
		self->ca_fingerprint = g_string_free(hex, FALSE);
	}
	self->trust_file = g_strdup(options->trust_file);
	self->timeout_seconds = options->timeout_seconds;
	self->certs = g_ptr_array_new_with_free_func(ck_scep_crt_free);
	return self;
}

void
ck_scep_free(CkScep *self)
{
	if (self == NULL)
		return;
	g_free(self->url);
	g_free(self->ca_identifier);
	g_free(self->ca_fingerprint);
	g_free(self->trust_file);
	g_ptr_array_unref(self->certs);
	g_free(self);
}

void
ck_scep_reply_free(CkScepReply *reply)
{
	if (reply == NULL)
		return;
	g_free(reply->transaction_id);
	g_free(reply->certificates);
	g_free(reply->failure);
	g_free(reply);
}

CkScepCaps
ck_scep_parse_caps(const gchar *text)
{
	static const struct {
		const gchar *name;
		CkScepCaps cap;
	} names[] = {
	    {"POSTPKIOperation", CK_SCEP_CAP_POST},
	    {"SHA-256", CK_SCEP_CAP_SHA256},
	    {"SHA-1", CK_SCEP_CAP_SHA1},
	    {"AES", CK_SCEP_CAP_AES},
	    {"DES3", CK_SCEP_CAP_DES3},
	    {"Renewal", CK_SCEP_CAP_RENEWAL},
	    {"SCEPStandard", CK_SCEP_CAP_STANDARD},
	    {"GetNextCACert", CK_SCEP_CAP_GET_NEXT_CA},
	};
	g_auto(GStrv) words = g_strsplit_set(text != NULL ? text : "", "\r\n\t ", -1);
	CkScepCaps caps = 0;

	for (guint i = 0; words[i] != NULL; i++) {
		for (guint n = 0; n < G_N_ELEMENTS(names); n++) {
			if (g_ascii_strcasecmp(words[i], names[n].name) == 0)
				caps |= names[n].cap;
		}
	}
	/* RFC 8894 3.5.2: SCEPStandard promises AES, SHA-256 and POSTPKIOperation */
	if (caps & CK_SCEP_CAP_STANDARD)
		caps |= CK_SCEP_CAP_AES | CK_SCEP_CAP_SHA256 | CK_SCEP_CAP_POST;
	return caps;
}

CkScepCaps
ck_scep_get_caps(CkScep *self)
{
	return self->caps;
}

gboolean
ck_scep_is_pinned(CkScep *self)
{
	return self->pinned;
}

gnutls_x509_crt_t
ck_scep_get_ca_certificate(CkScep *self)
{
	return self->ca;
}

/* HTTP */

/*
 * What a server said, made fit for a message: our messages end up in the
 * daemon's log and on D-Bus, which takes valid UTF-8 only, and a server's
 * bytes are neither trusted nor necessarily text. Printable ASCII stays.
 */
static gchar *
ck_scep_printable(const gchar *text, gssize len)
{
	gsize n = len < 0 ? strlen(text) : (gsize)len;
	gchar *out = g_strndup(text, n);

	for (gchar *p = out; *p != '\0'; p++) {
		if ((guchar)*p < 0x20 || (guchar)*p > 0x7e)
			*p = (*p == '\r' || *p == '\n' || *p == '\t') ? ' ' : '?';
	}
	return out;
}

static gchar *
ck_scep_url(CkScep *self, const gchar *operation, const gchar *message)
{
	GString *url = g_string_new(self->url);

	g_string_append_c(url, strchr(self->url, '?') != NULL ? '&' : '?');
	g_string_append_printf(url, "operation=%s", operation);
	if (message != NULL) {
		g_autofree gchar *escaped = g_uri_escape_string(message, NULL, FALSE);
		g_string_append_printf(url, "&message=%s", escaped);
	}
	return g_string_free(url, FALSE);
}

/*
 * One HTTP exchange; the body of a 200 answer, its Content-Type in
 * @content_type_out. Other statuses become errors whose codes say who must act.
 */
static GBytes *
ck_scep_http(CkScep *self, const gchar *operation, const gchar *method, const gchar *url,
	     GBytes *body, gchar **content_type_out, GError **error)
{
	CkHttpOptions options = {.timeout_seconds = self->timeout_seconds};
	g_autoptr(CkHttpResponse) response = NULL;
	g_autoptr(GError) local = NULL;
	const gchar *type;
	guint status;

	response = ck_http_request(&options, method, url,
				   body != NULL ? "application/x-pki-message" : NULL, body, &local);
	if (response == NULL) {
		CkError code = local->code == CK_ERROR_INVALID_ARGUMENT
				   ? CK_ERROR_CA_UNDERCONFIGURED
			       : local->code == CK_ERROR_TIMED_OUT ? CK_ERROR_TIMED_OUT
								   : CK_ERROR_CA_UNREACHABLE;
		g_set_error(error, CK_ERROR, code,
			    /* TRANSLATORS: the SCEP operation, then the HTTP client's message */
			    _("SCEP %s failed: %s"), operation, local->message);
		return NULL;
	}
	status = ck_http_response_get_status(response);
	if (status != 200) {
		GBytes *answer = ck_http_response_get_body(response);
		g_autofree gchar *text = ck_scep_printable(g_bytes_get_data(answer, NULL),
							   MIN(g_bytes_get_size(answer), 200));
		/* 408 and 429 (a proxy's rate limit, say) pass: asked again later they work */
		gboolean transient = status == 408 || status == 429;
		CkError code = status == 404 || status == 405 ? CK_ERROR_CA_UNDERCONFIGURED
			       : status >= 400 && status < 500 && !transient
				   ? CK_ERROR_CA_REJECTED
				   : CK_ERROR_CA_UNREACHABLE;
		g_set_error(
		    error, CK_ERROR, code,
		    /* TRANSLATORS: operation, URL, HTTP status, the server's text, advice */
		    _("The SCEP server answered %s at %s with HTTP %u (%s)%s"), operation, url,
		    status, g_strstrip(text),
		    code == CK_ERROR_CA_UNDERCONFIGURED
			? _(": check the CA's --url, it should end in the SCEP path (often /scep)")
			: "");
		return NULL;
	}
	type = ck_http_response_get_header(response, "content-type");
	if (content_type_out != NULL)
		*content_type_out = ck_scep_printable(type != NULL ? type : "", -1);
	return g_bytes_ref(ck_http_response_get_body(response));
}

gboolean
ck_scep_fetch_caps(CkScep *self, GError **error)
{
	g_autofree gchar *url = ck_scep_url(self, "GetCACaps", NULL);
	g_autoptr(GBytes) body = ck_scep_http(self, "GetCACaps", "GET", url, NULL, NULL, error);
	g_autofree gchar *text = NULL;

	if (body == NULL)
		return FALSE;
	text = g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
	self->caps = ck_scep_parse_caps(text);
	return TRUE;
}

/* GetCACert */

static gchar *
ck_scep_crt_pem(gnutls_x509_crt_t crt)
{
	gnutls_datum_t pem = {NULL, 0};
	gchar *out;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &pem) < 0)
		return g_strdup("");
	out = g_strndup((const gchar *)pem.data, pem.size);
	gnutls_free(pem.data);
	return out;
}

static gchar *
ck_scep_crt_name(gnutls_x509_crt_t crt)
{
	gnutls_datum_t dn = {NULL, 0};
	gchar *out;

	if (gnutls_x509_crt_get_dn3(crt, &dn, 0) < 0)
		return g_strdup("SCEP CA");
	out = g_strndup((const gchar *)dn.data, dn.size);
	gnutls_free(dn.data);
	return out;
}

gchar *
ck_scep_fingerprint(gnutls_x509_crt_t crt)
{
	guint8 digest[32];
	size_t len = sizeof(digest);
	GString *out = g_string_new(NULL);

	if (gnutls_x509_crt_get_fingerprint(crt, GNUTLS_DIG_SHA256, digest, &len) < 0)
		return g_string_free(out, FALSE);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(out, "%s%02X", i > 0 ? ":" : "", digest[i]);
	return g_string_free(out, FALSE);
}

static gboolean
ck_scep_fingerprint_matches(gnutls_x509_crt_t crt, const gchar *wanted)
{
	g_autofree gchar *colons = ck_scep_fingerprint(crt);
	g_autofree gchar *plain = g_ascii_strdown(colons, -1);
	gchar *w = plain;

	/* drop the colons in place */
	for (const gchar *r = plain; *r != '\0'; r++) {
		if (*r != ':')
			*w++ = *r;
	}
	*w = '\0';
	return g_strcmp0(plain, wanted) == 0;
}

static gboolean
ck_scep_is_ca(gnutls_x509_crt_t crt)
{
	unsigned int critical = 0, ca = 0;
	int path_len = 0;
	return gnutls_x509_crt_get_basic_constraints(crt, &critical, &ca, &path_len) >= 0 && ca;
}

static gboolean
ck_scep_self_signed(gnutls_x509_crt_t crt)
{
	return gnutls_x509_crt_check_issuer(crt, crt) != 0;
}

/* The certificate in @certs that issued @crt, or NULL. */
static gnutls_x509_crt_t
ck_scep_find_issuer(GPtrArray *certs, gnutls_x509_crt_t crt)
{
	if (ck_scep_self_signed(crt))
		return NULL;
	for (guint i = 0; i < certs->len; i++) {
		gnutls_x509_crt_t other = g_ptr_array_index(certs, i);
		unsigned int status = 0;
		/* the name, and the signature: a certificate can name anyone as its issuer
		 * (validity is the trust list's business, later) */
		if (other != crt && gnutls_x509_crt_check_issuer(crt, other) &&
		    gnutls_x509_crt_verify(crt, &other, 1, GNUTLS_VERIFY_DISABLE_TIME_CHECKS,
					   &status) >= 0 &&
		    status == 0)
			return other;
	}
	return NULL;
}

/* Reads every certificate of a GetCACert answer: DER or PEM, one certificate or PKCS#7. */
static gboolean
ck_scep_import_certs(CkScep *self, GBytes *body, const gchar *content_type, GError **error)
{
	gnutls_datum_t data = {(guint8 *)g_bytes_get_data(body, NULL), g_bytes_get_size(body)};
	gnutls_pkcs7_t p7 = NULL;
	gnutls_x509_crt_t *list = NULL;
	unsigned int count = 0;

	if (gnutls_pkcs7_init(&p7) >= 0 &&
	    (gnutls_pkcs7_import(p7, &data, GNUTLS_X509_FMT_DER) >= 0 ||
	     gnutls_pkcs7_import(p7, &data, GNUTLS_X509_FMT_PEM) >= 0)) {
		int n = gnutls_pkcs7_get_crt_count(p7);
		for (int i = 0; i < n; i++) {
			gnutls_datum_t raw = {NULL, 0};
			gnutls_x509_crt_t crt = NULL;
			if (gnutls_pkcs7_get_crt_raw2(p7, i, &raw) >= 0 &&
			    gnutls_x509_crt_init(&crt) >= 0) {
				if (gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER) >= 0)
					g_ptr_array_add(self->certs, g_steal_pointer(&crt));
				else
					gnutls_x509_crt_deinit(crt);
			}
			gnutls_free(raw.data);
		}
	} else if (gnutls_x509_crt_list_import2(&list, &count, &data, GNUTLS_X509_FMT_DER, 0) >=
		       0 ||
		   gnutls_x509_crt_list_import2(&list, &count, &data, GNUTLS_X509_FMT_PEM, 0) >=
		       0) {
		for (unsigned int i = 0; i < count; i++)
			g_ptr_array_add(self->certs, list[i]);
		gnutls_free(list);
	}
	if (p7 != NULL)
		gnutls_pkcs7_deinit(p7);
	if (self->certs->len == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: URL, Content-Type, size */
			    _("The SCEP server at %s answered GetCACert with %s (%u bytes), which "
			      "holds no certificate: is this a SCEP server?"),
			    self->url, content_type[0] != '\0' ? content_type : "no Content-Type",
			    (guint)g_bytes_get_size(body));
		return FALSE;
	}
	return TRUE;
}

/* TRUE when @crt chains, through @self->certs, to an anchor of @tl. */
static gboolean
ck_scep_chains_to(CkScep *self, gnutls_x509_crt_t crt, gnutls_x509_trust_list_t tl)
{
	gnutls_x509_crt_t chain[CK_SCEP_MAX_CHAIN];
	unsigned int len = 0, status = 0;

	for (gnutls_x509_crt_t c = crt; c != NULL && len < CK_SCEP_MAX_CHAIN;
	     c = ck_scep_find_issuer(self->certs, c))
		chain[len++] = c;
	return gnutls_x509_trust_list_verify_crt(tl, chain, len, 0, &status, NULL) >= 0 &&
	       status == 0;
}

/* The CA the answer is about: with RA certificates, their issuer; else the lowest CA. */
static gnutls_x509_crt_t
ck_scep_pick_ca(CkScep *self)
{
	gnutls_x509_crt_t fallback = NULL;

	for (guint i = 0; i < self->certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->certs, i);
		gnutls_x509_crt_t issuer;
		if (ck_scep_is_ca(crt) || ck_scep_self_signed(crt))
			continue;
		issuer = ck_scep_find_issuer(self->certs, crt);
		if (issuer != NULL)
			return issuer;
	}
	for (guint i = 0; i < self->certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->certs, i);
		gboolean issues_a_ca = FALSE;
		if (!ck_scep_is_ca(crt) && !ck_scep_self_signed(crt))
			continue;
		for (guint j = 0; j < self->certs->len; j++) {
			gnutls_x509_crt_t other = g_ptr_array_index(self->certs, j);
			if (other != crt && ck_scep_is_ca(other) &&
			    gnutls_x509_crt_check_issuer(other, crt))
				issues_a_ca = TRUE;
		}
		if (!issues_a_ca)
			return crt;
		if (fallback == NULL)
			fallback = crt;
	}
	/* a lone non-CA certificate: some servers publish just that; it is the CA then */
	return fallback != NULL ? fallback : g_ptr_array_index(self->certs, 0);
}

/*
 * RFC 8894 3.5.1 and 4.2: RA certificates are the non-CA certificates the CA
 * issued; the one that may encrypt (keyEncipherment) gets our requests, the one
 * that may sign (digitalSignature) signs the answers. Without RAs the CA does both.
 */
static void
ck_scep_pick_ra(CkScep *self)
{
	self->enc = NULL;
	self->sig = NULL;
	for (guint i = 0; i < self->certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->certs, i);
		unsigned int usage = 0, critical = 0, status = 0;
		gboolean any;
		if (crt == self->ca || ck_scep_is_ca(crt) ||
		    !gnutls_x509_crt_check_issuer(crt, self->ca))
			continue;
		/* the name is not enough: our request (and its challenge) is encrypted to this key
		 */
		if (gnutls_x509_crt_verify(crt, &self->ca, 1, 0, &status) < 0 || status != 0) {
			g_autofree gchar *name = ck_scep_crt_name(crt);
			g_message("ignoring %s: it names the CA as its issuer, but the CA did not "
				  "sign it",
				  name);
			continue;
		}
		/* no keyUsage extension: the key may do anything */
		any = gnutls_x509_crt_get_key_usage(crt, &usage, &critical) < 0;
		if (self->enc == NULL && (any || (usage & GNUTLS_KEY_KEY_ENCIPHERMENT)))
			self->enc = crt;
		if (self->sig == NULL && (any || (usage & GNUTLS_KEY_DIGITAL_SIGNATURE)))
			self->sig = crt;
	}
	if (self->enc == NULL)
		self->enc = self->ca;
	if (self->sig == NULL)
		self->sig = self->ca;
}

/* Checks the answer against --ca-fingerprint and --trust. */
static gboolean
ck_scep_check_pin(CkScep *self, GError **error)
{
	gnutls_x509_trust_list_t tl = NULL;
	gnutls_x509_crt_t pinned = NULL;
	gboolean ok;
	int rc;

	if (self->ca_fingerprint == NULL && self->trust_file == NULL)
		return TRUE;
	if (self->ca_fingerprint != NULL) {
		for (guint i = 0; i < self->certs->len && pinned == NULL; i++) {
			if (ck_scep_fingerprint_matches(g_ptr_array_index(self->certs, i),
							self->ca_fingerprint))
				pinned = g_ptr_array_index(self->certs, i);
		}
		if (pinned == NULL) {
			g_autofree gchar *seen = ck_scep_fingerprint(self->ca);
			g_set_error(
			    error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    /* TRANSLATORS: URL, then the fingerprint the server's CA has */
			    _("No certificate the SCEP server at %s published has the "
			      "fingerprint given with --ca-fingerprint; its CA's SHA-256 "
			      "fingerprint is %s. Check it out of band before you trust it"),
			    self->url, seen);
			return FALSE;
		}
	}
	gnutls_x509_trust_list_init(&tl, 0);
	if (pinned != NULL) {
		gnutls_x509_crt_t copy = NULL;
		gnutls_datum_t der = {NULL, 0};
		/* the list takes ownership: give it its own copy */
		rc = gnutls_x509_crt_export2(pinned, GNUTLS_X509_FMT_DER, &der);
		if (rc >= 0)
			rc = gnutls_x509_crt_init(&copy);
		if (rc >= 0)
			rc = gnutls_x509_crt_import(copy, &der, GNUTLS_X509_FMT_DER);
		gnutls_free(der.data);
		if (rc >= 0)
			rc = gnutls_x509_trust_list_add_cas(tl, &copy, 1, 0);
		else if (copy != NULL)
			gnutls_x509_crt_deinit(copy);
	} else {
		rc = gnutls_x509_trust_list_add_trust_file(tl, self->trust_file, NULL,
							   GNUTLS_X509_FMT_PEM, 0, 0);
		if (rc <= 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
				    _("The --trust file %s holds no PEM certificate (%s)"),
				    self->trust_file,
				    rc < 0 ? gnutls_strerror(rc) : _("none found"));
			gnutls_x509_trust_list_deinit(tl, 1);
			return FALSE;
		}
	}
	/* the pinned certificate itself, or the CA chaining to it or to a trusted anchor */
	ok = pinned == self->ca || ck_scep_chains_to(self, self->ca, tl);
	gnutls_x509_trust_list_deinit(tl, 1);
	if (!ok) {
		g_autofree gchar *seen = ck_scep_fingerprint(self->ca);
		g_set_error(
		    error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
		    /* TRANSLATORS: URL, fingerprint, what it was checked against */
		    _("The CA certificate the SCEP server at %s published (SHA-256 %s) does "
		      "not chain to %s"),
		    self->url, seen,
		    pinned != NULL ? _("the certificate --ca-fingerprint names")
				   : self->trust_file);
		return FALSE;
	}
	self->pinned = TRUE;
	return TRUE;
}

gboolean
ck_scep_fetch_ca(CkScep *self, GError **error)
{
	g_autofree gchar *url = ck_scep_url(self, "GetCACert", self->ca_identifier);
	g_autofree gchar *type = NULL;
	g_autoptr(GBytes) body = ck_scep_http(self, "GetCACert", "GET", url, NULL, &type, error);

	if (body == NULL)
		return FALSE;
	g_ptr_array_set_size(self->certs, 0);
	if (!ck_scep_import_certs(self, body, type, error))
		return FALSE;
	self->ca = ck_scep_pick_ca(self);
	ck_scep_pick_ra(self);
	return ck_scep_check_pin(self, error);
}

gchar *
ck_scep_format_roots(CkScep *self)
{
	GString *out = g_string_new(NULL);
	gnutls_x509_crt_t root = self->ca;
	g_autofree gchar *name = NULL;
	g_autofree gchar *pem = NULL;

	/* the top of the CA's chain is the trust anchor */
	for (guint depth = 0; depth < CK_SCEP_MAX_CHAIN; depth++) {
		gnutls_x509_crt_t up = ck_scep_find_issuer(self->certs, root);
		if (up == NULL)
			break;
		root = up;
	}
	name = ck_scep_crt_name(root);
	pem = ck_scep_crt_pem(root);
	g_string_append_printf(out, "%s\n%s", name, pem);
	/* no other roots: an empty section */
	g_string_append(out, "\n\n");
	for (guint i = 0; i < self->certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->certs, i);
		g_autofree gchar *other_name = NULL;
		g_autofree gchar *other_pem = NULL;
		if (crt == root)
			continue;
		other_name = ck_scep_crt_name(crt);
		other_pem = ck_scep_crt_pem(crt);
		g_string_append_printf(out, "%s\n%s", other_name, other_pem);
	}
	return g_string_free(out, FALSE);
}

/* Messages */

static gchar *
ck_scep_hex(const guint8 *data, gsize len)
{
	GString *out = g_string_sized_new(len * 2);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(out, "%02X", data[i]);
	return g_string_free(out, FALSE);
}

gchar *
ck_scep_transaction_id(gnutls_x509_crq_t csr, GError **error)
{
	guint8 id[32];
	size_t len = sizeof(id);
	int rc = gnutls_x509_crq_get_key_id(csr, GNUTLS_KEYID_USE_SHA256, id, &len);

	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Cannot read the request's public key: %s"), gnutls_strerror(rc));
		return NULL;
	}
	return ck_scep_hex(id, len);
}

/* TRUE when @key is the key @csr was made for. */
static gboolean
ck_scep_key_matches(gnutls_x509_crq_t csr, gnutls_privkey_t key)
{
	gnutls_pubkey_t pub = NULL;
	guint8 a[32], b[32];
	size_t a_len = sizeof(a), b_len = sizeof(b);
	gboolean same = FALSE;

	if (gnutls_pubkey_init(&pub) >= 0 && gnutls_pubkey_import_privkey(pub, key, 0, 0) >= 0 &&
	    gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, a, &a_len) >= 0 &&
	    gnutls_x509_crq_get_key_id(csr, GNUTLS_KEYID_USE_SHA256, b, &b_len) >= 0)
		same = a_len == b_len && memcmp(a, b, a_len) == 0;
	gnutls_pubkey_deinit(pub);
	return same;
}

gboolean
ck_scep_add_challenge(gnutls_x509_crq_t csr, gnutls_privkey_t key, const gchar *challenge,
		      GError **error)
{
	int rc;

	if (!ck_scep_key_matches(csr, key)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The key file is not the key the signing request was made with"));
		return FALSE;
	}
	/* the challenge is part of what the request's signature covers: sign again */
	rc = gnutls_x509_crq_set_challenge_password(csr, challenge);
	if (rc >= 0)
		rc = gnutls_x509_crq_privkey_sign(csr, key, GNUTLS_DIG_SHA256, 0);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot add the challenge password to the signing request: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/*
 * RFC 8894 2.3: without a certificate of its own, a requester signs with a
 * self-signed one for the request's key and subject, made for this transaction.
 */
static gnutls_x509_crt_t
ck_scep_transient_cert(gnutls_x509_crq_t csr, gnutls_privkey_t key, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	guint8 serial[16];
	gnutls_datum_t dn = {NULL, 0};
	time_t now = time(NULL);
	int rc;

	rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_crq(crt, csr);
	/* a request without a subject still needs a name to be signed under */
	if (rc >= 0 && (gnutls_x509_crt_get_dn2(crt, &dn) < 0 || dn.size == 0))
		rc = gnutls_x509_crt_set_dn(crt, "CN=SCEP requester", NULL);
	gnutls_free(dn.data);
	if (rc >= 0)
		rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	serial[0] &= 0x7f; /* a positive serial number */
	if (rc >= 0)
		rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
	if (rc >= 0)
		rc = gnutls_x509_crt_set_version(crt, 3);
	/* a little in the past, for CAs whose clock is behind */
	if (rc >= 0)
		rc = gnutls_x509_crt_set_activation_time(crt, now - 3600);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_expiration_time(crt, now + 7 * 86400);
	if (rc >= 0)
		rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
							    GNUTLS_KEY_KEY_ENCIPHERMENT);
	if (rc >= 0)
		rc = gnutls_x509_crt_privkey_sign(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot make the self-signed certificate SCEP signs with: %s"),
			    gnutls_strerror(rc));
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

static gboolean
ck_scep_add_string_attr(gnutls_pkcs7_attrs_t *attrs, const gchar *oid, const gchar *value,
			GError **error)
{
	guint8 header[ASN1_MAX_TL_SIZE];
	unsigned int header_len = sizeof(header);
	g_autoptr(GByteArray) der = g_byte_array_new();
	gnutls_datum_t datum;
	int rc;

	asn1_encode_simple_der(ASN1_ETYPE_PRINTABLE_STRING, (const guint8 *)value, strlen(value),
			       header, &header_len);
	g_byte_array_append(der, header, header_len);
	g_byte_array_append(der, (const guint8 *)value, strlen(value));
	datum = (gnutls_datum_t){der->data, der->len};
	rc = gnutls_pkcs7_add_attr(attrs, oid, &datum, 0);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "Cannot add the attribute %s: %s",
			    oid, gnutls_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/* The content cipher: AES when offered (RFC 8894 AES means AES-128-CBC), else DES3. */
static CkCmsCipher
ck_scep_cipher(CkScep *self)
{
	return self->caps & CK_SCEP_CAP_AES ? CK_CMS_CIPHER_AES_128_CBC : CK_CMS_CIPHER_DES3_CBC;
}

static gnutls_digest_algorithm_t
ck_scep_digest(CkScep *self)
{
	/* SHA-1 only for a CA that does not offer SHA-256 */
	return self->caps & CK_SCEP_CAP_SHA256 || !(self->caps & CK_SCEP_CAP_SHA1)
		   ? GNUTLS_DIG_SHA256
		   : GNUTLS_DIG_SHA1;
}

/* A pkiMessage: @content encrypted to the CA (or its RA), signed with the signed attributes. */
static GBytes *
ck_scep_pki_message(CkScep *self, const gchar *message_type, const gchar *transaction_id,
		    const guint8 *nonce, GBytes *content, gnutls_x509_crt_t signer,
		    gnutls_privkey_t signer_key, GError **error)
{
	g_autoptr(GBytes) envelope =
	    ck_cms_envelope(content, self->enc, ck_scep_cipher(self), error);
	gnutls_pkcs7_attrs_t attrs = NULL;
	gnutls_pkcs7_t p7 = NULL;
	gnutls_datum_t data, nonce_datum = {(guint8 *)nonce, CK_SCEP_NONCE_SIZE};
	gnutls_datum_t out = {NULL, 0};
	GBytes *message = NULL;
	int rc;

	if (envelope == NULL)
		return NULL;
	if (!ck_scep_add_string_attr(&attrs, CK_OID_SCEP_TRANSACTION_ID, transaction_id, error) ||
	    !ck_scep_add_string_attr(&attrs, CK_OID_SCEP_MESSAGE_TYPE, message_type, error))
		goto out;
	rc = gnutls_pkcs7_add_attr(&attrs, CK_OID_SCEP_SENDER_NONCE, &nonce_datum,
				   GNUTLS_PKCS7_ATTR_ENCODE_OCTET_STRING);
	data = (gnutls_datum_t){(guint8 *)g_bytes_get_data(envelope, NULL),
				g_bytes_get_size(envelope)};
	if (rc >= 0)
		rc = gnutls_pkcs7_init(&p7);
	/* the signer's certificate goes along: the CA encrypts its answer to it */
	if (rc >= 0)
		rc = gnutls_pkcs7_sign(p7, signer, signer_key, &data, attrs, NULL,
				       ck_scep_digest(self),
				       GNUTLS_PKCS7_EMBED_DATA | GNUTLS_PKCS7_INCLUDE_CERT);
	if (rc >= 0)
		rc = gnutls_pkcs7_export2(p7, GNUTLS_X509_FMT_DER, &out);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("Cannot sign the SCEP message: %s"),
			    gnutls_strerror(rc));
		goto out;
	}
	message = g_bytes_new(out.data, out.size);
out:
	gnutls_free(out.data);
	if (p7 != NULL)
		gnutls_pkcs7_deinit(p7);
	gnutls_pkcs7_attrs_deinit(attrs);
	return message;
}

/* Sends a pkiMessage: POST when the CA offers it, else GET with the message in the URL. */
static GBytes *
ck_scep_send(CkScep *self, const gchar *what, GBytes *message, gchar **type_out, GError **error)
{
	g_autofree gchar *url = NULL;

	if (self->caps & CK_SCEP_CAP_POST) {
		url = ck_scep_url(self, "PKIOperation", NULL);
		return ck_scep_http(self, what, "POST", url, message, type_out, error);
	} else {
		g_autofree gchar *b64 =
		    g_base64_encode(g_bytes_get_data(message, NULL), g_bytes_get_size(message));
		url = ck_scep_url(self, "PKIOperation", b64);
		return ck_scep_http(self, what, "GET", url, NULL, type_out, error);
	}
}

/* CertRep */

/* A PrintableString (or, leniently, UTF8String or IA5String) attribute value. */
static gchar *
ck_scep_decode_string(const gnutls_datum_t *der)
{
	const unsigned int types[] = {ASN1_ETYPE_PRINTABLE_STRING, ASN1_ETYPE_UTF8_STRING,
				      ASN1_ETYPE_IA5_STRING};
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		const guint8 *str = NULL;
		unsigned int len = 0;
		/* the values end up in messages: printable ASCII only (see ck_scep_printable) */
		if (asn1_decode_simple_der(types[i], der->data, der->size, &str, &len) ==
		    ASN1_SUCCESS)
			return ck_scep_printable((const gchar *)str, len);
	}
	return NULL;
}

static GBytes *
ck_scep_decode_octets(const gnutls_datum_t *der)
{
	const guint8 *str = NULL;
	unsigned int len = 0;
	if (asn1_decode_simple_der(ASN1_ETYPE_OCTET_STRING, der->data, der->size, &str, &len) !=
	    ASN1_SUCCESS)
		return NULL;
	return g_bytes_new(str, len);
}

typedef struct {
	gchar *message_type;
	gchar *transaction_id;
	gchar *pki_status;
	gchar *fail_info;
	gchar *fail_info_text;
	GBytes *recipient_nonce;
} CkScepAttrs;

static void
ck_scep_attrs_clear(CkScepAttrs *attrs)
{
	g_free(attrs->message_type);
	g_free(attrs->transaction_id);
	g_free(attrs->pki_status);
	g_free(attrs->fail_info);
	g_free(attrs->fail_info_text);
	g_clear_pointer(&attrs->recipient_nonce, g_bytes_unref);
}

static void
ck_scep_read_attrs(gnutls_pkcs7_attrs_t list, CkScepAttrs *attrs)
{
	for (unsigned int i = 0;; i++) {
		char *oid = NULL;
		gnutls_datum_t value = {NULL, 0};
		if (gnutls_pkcs7_get_attr(list, i, &oid, &value, 0) < 0)
			break;
		if (g_strcmp0(oid, CK_OID_SCEP_MESSAGE_TYPE) == 0)
			attrs->message_type = ck_scep_decode_string(&value);
		else if (g_strcmp0(oid, CK_OID_SCEP_TRANSACTION_ID) == 0)
			attrs->transaction_id = ck_scep_decode_string(&value);
		else if (g_strcmp0(oid, CK_OID_SCEP_PKI_STATUS) == 0)
			attrs->pki_status = ck_scep_decode_string(&value);
		else if (g_strcmp0(oid, CK_OID_SCEP_FAIL_INFO) == 0)
			attrs->fail_info = ck_scep_decode_string(&value);
		else if (g_strcmp0(oid, CK_OID_SCEP_FAIL_INFO_TEXT) == 0)
			attrs->fail_info_text = ck_scep_decode_string(&value);
		else if (g_strcmp0(oid, CK_OID_SCEP_RECIPIENT_NONCE) == 0)
			attrs->recipient_nonce = ck_scep_decode_octets(&value);
		gnutls_free(value.data);
	}
}

/* RFC 8894 3.2.1.4.5: failInfo, in words a human can act on. */
static gchar *
ck_scep_describe_failure(const CkScepAttrs *attrs)
{
	const gchar *what;
	GString *out = g_string_new(NULL);

	if (g_strcmp0(attrs->fail_info, "0") == 0)
		what = _("badAlg: the CA does not accept the algorithms used");
	else if (g_strcmp0(attrs->fail_info, "1") == 0)
		what = _("badMessageCheck: the CA could not verify the message's signature");
	else if (g_strcmp0(attrs->fail_info, "2") == 0)
		what = _("badRequest: the CA does not permit or support this request (a wrong or "
			 "missing challenge password is the usual cause)");
	else if (g_strcmp0(attrs->fail_info, "3") == 0)
		what = _("badTime: the message's time is too far from the CA's clock");
	else if (g_strcmp0(attrs->fail_info, "4") == 0)
		what = _("badCertId: the CA does not know the certificate asked about");
	else
		what = NULL;
	if (what != NULL)
		g_string_append(out, what);
	else
		g_string_append_printf(out, _("failInfo %s (unknown)"),
				       attrs->fail_info != NULL ? attrs->fail_info : _("missing"));
	if (attrs->fail_info_text != NULL) {
		g_autofree gchar *text = ck_scep_printable(attrs->fail_info_text, -1);
		g_string_append_printf(out, " (%s)", text);
	}
	return g_string_free(out, FALSE);
}

/* Verifies the CertRep's signature with the RA's (or CA's) certificate; gives its content. */
static GBytes *
ck_scep_verify_reply(CkScep *self, GBytes *body, GError **error)
{
	unsigned int flags =
	    self->caps & CK_SCEP_CAP_SHA256 ? 0 : GNUTLS_VERIFY_ALLOW_SIGN_WITH_SHA1;
	g_autoptr(GError) first = NULL;
	GBytes *content = ck_cms_verify(body, self->sig, flags, &first);

	/* some servers sign with the CA although they publish an RA, or the other way */
	for (guint i = 0; content == NULL && i < self->certs->len; i++) {
		gnutls_x509_crt_t crt = g_ptr_array_index(self->certs, i);
		if (crt != self->sig)
			content = ck_cms_verify(body, crt, flags, NULL);
	}
	if (content == NULL)
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's answer is not signed by the CA it published (%s): "
			      "refusing it"),
			    first->message);
	return content;
}

/* The issued certificate (the one for @csr's key) and the CA chain above it, PEM. */
static gchar *
ck_scep_collect_certs(CkScep *self, GBytes *degenerate, gnutls_x509_crq_t csr, GError **error)
{
	gnutls_datum_t data = {(guint8 *)g_bytes_get_data(degenerate, NULL),
			       g_bytes_get_size(degenerate)};
	g_autoptr(GPtrArray) issued = g_ptr_array_new_with_free_func(ck_scep_crt_free);
	/* borrowed: the answer's certificates and GetCACert's, to find the chain in */
	g_autoptr(GPtrArray) known = g_ptr_array_new();
	gnutls_x509_crt_t leaf = NULL, up;
	gnutls_pkcs7_t p7 = NULL;
	guint8 want[32];
	size_t want_len = sizeof(want);
	GString *out;
	int n = -1;

	if (gnutls_pkcs7_init(&p7) >= 0 && gnutls_pkcs7_import(p7, &data, GNUTLS_X509_FMT_DER) >= 0)
		n = gnutls_pkcs7_get_crt_count(p7);
	for (int i = 0; i < n; i++) {
		gnutls_datum_t raw = {NULL, 0};
		gnutls_x509_crt_t crt = NULL;
		if (gnutls_pkcs7_get_crt_raw2(p7, i, &raw) >= 0 &&
		    gnutls_x509_crt_init(&crt) >= 0) {
			if (gnutls_x509_crt_import(crt, &raw, GNUTLS_X509_FMT_DER) >= 0)
				g_ptr_array_add(issued, g_steal_pointer(&crt));
			else
				gnutls_x509_crt_deinit(crt);
		}
		gnutls_free(raw.data);
	}
	if (p7 != NULL)
		gnutls_pkcs7_deinit(p7);
	if (gnutls_x509_crq_get_key_id(csr, GNUTLS_KEYID_USE_SHA256, want, &want_len) < 0)
		want_len = 0;
	for (guint i = 0; i < issued->len && leaf == NULL; i++) {
		guint8 id[32];
		size_t id_len = sizeof(id);
		gnutls_x509_crt_t crt = g_ptr_array_index(issued, i);
		if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, id, &id_len) >= 0 &&
		    id_len == want_len && memcmp(id, want, id_len) == 0)
			leaf = crt;
	}
	if (leaf == NULL && n < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's decrypted answer is not a certs-only PKCS#7"));
		return NULL;
	}
	if (leaf == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's answer holds %d certificates, none for the "
			      "request's key"),
			    n);
		return NULL;
	}
	out = g_string_new(NULL);
	{
		g_autofree gchar *pem = ck_scep_crt_pem(leaf);
		g_string_append(out, pem);
	}
	/* the chain above it, from the answer or GetCACert; the root is FETCH-ROOTS's */
	g_ptr_array_extend(known, issued, NULL, NULL);
	g_ptr_array_extend(known, self->certs, NULL, NULL);
	up = leaf;
	for (guint depth = 0; depth < CK_SCEP_MAX_CHAIN; depth++) {
		g_autofree gchar *pem = NULL;
		up = ck_scep_find_issuer(known, up);
		if (up == NULL || ck_scep_self_signed(up))
			break;
		pem = ck_scep_crt_pem(up);
		g_string_append(out, pem);
	}
	return g_string_free(out, FALSE);
}

/*
 * Reads a CertRep: its signature, that it answers our transaction and nonce,
 * and its status; on SUCCESS the certificates, decrypted with the signer's key.
 */
static CkScepReply *
ck_scep_read_reply(CkScep *self, const gchar *what, GBytes *body, const gchar *content_type,
		   const gchar *transaction_id, const guint8 *nonce, const CkScepRequest *request,
		   gnutls_x509_crt_t signer, gnutls_privkey_t signer_key, GError **error)
{
	gnutls_datum_t data = {(guint8 *)g_bytes_get_data(body, NULL), g_bytes_get_size(body)};
	gnutls_pkcs7_signature_info_st info;
	gnutls_pkcs7_t p7 = NULL;
	CkScepAttrs attrs = {0};
	g_autoptr(CkScepReply) reply = NULL;
	g_autoptr(GBytes) content = NULL;
	g_autoptr(GBytes) degenerate = NULL;
	gboolean have_info = FALSE;
	int rc;

	memset(&info, 0, sizeof(info));
	rc = gnutls_pkcs7_init(&p7);
	if (rc >= 0)
		rc = gnutls_pkcs7_import(p7, &data, GNUTLS_X509_FMT_DER);
	if (rc < 0) {
		g_set_error(
		    error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
		    /* TRANSLATORS: operation, URL, Content-Type, size, GnuTLS's reason */
		    _("The SCEP server at %s answered %s with %s (%u bytes), which is not a "
		      "PKCS#7 pkiMessage (%s)"),
		    self->url, what, content_type[0] != '\0' ? content_type : "no Content-Type",
		    (guint)data.size, gnutls_strerror(rc));
		goto out;
	}
	content = ck_scep_verify_reply(self, body, error);
	if (content == NULL)
		goto out;
	rc = gnutls_pkcs7_get_signature_info(p7, 0, &info);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's answer has no readable signer: %s"),
			    gnutls_strerror(rc));
		goto out;
	}
	have_info = TRUE;
	ck_scep_read_attrs(info.signed_attrs, &attrs);
	if (g_strcmp0(attrs.message_type, CK_SCEP_CERT_REP) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server answered %s with messageType %s, not CertRep (3)"),
			    what, attrs.message_type != NULL ? attrs.message_type : _("missing"));
		goto out;
	}
	/* an answer to someone else's request, or a replay of an old one */
	if (g_strcmp0(attrs.transaction_id, transaction_id) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's answer is for transaction %s, not ours (%s)"),
			    attrs.transaction_id != NULL ? attrs.transaction_id : _("missing"),
			    transaction_id);
		goto out;
	}
	if (attrs.recipient_nonce == NULL ||
	    g_bytes_get_size(attrs.recipient_nonce) != CK_SCEP_NONCE_SIZE ||
	    memcmp(g_bytes_get_data(attrs.recipient_nonce, NULL), nonce, CK_SCEP_NONCE_SIZE) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's answer does not carry our nonce as its "
			      "recipientNonce: a replayed or misdirected answer"));
		goto out;
	}
	reply = g_new0(CkScepReply, 1);
	reply->transaction_id = g_strdup(transaction_id);
	if (g_strcmp0(attrs.pki_status, "2") == 0) {
		reply->status = CK_SCEP_STATUS_FAILURE;
		reply->failure = ck_scep_describe_failure(&attrs);
		goto out;
	}
	if (g_strcmp0(attrs.pki_status, "3") == 0) {
		reply->status = CK_SCEP_STATUS_PENDING;
		goto out;
	}
	if (g_strcmp0(attrs.pki_status, "0") != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's answer has pkiStatus %s, which is none of SUCCESS "
			      "(0), FAILURE (2) and PENDING (3)"),
			    attrs.pki_status != NULL ? attrs.pki_status : _("missing"));
		g_clear_pointer(&reply, ck_scep_reply_free);
		goto out;
	}
	reply->status = CK_SCEP_STATUS_SUCCESS;
	if (g_bytes_get_size(content) == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The SCEP server's SUCCESS answer carries no content"));
		g_clear_pointer(&reply, ck_scep_reply_free);
		goto out;
	}
	/* the CA encrypted the certificate to the certificate our message was signed with */
	degenerate = ck_cms_open(content, signer, signer_key, error);
	if (degenerate != NULL)
		reply->certificates = ck_scep_collect_certs(self, degenerate, request->csr, error);
	if (reply->certificates == NULL) {
		g_prefix_error(error, _("The SCEP server's SUCCESS answer is unusable: "));
		if (error != NULL && *error != NULL && (*error)->code != CK_ERROR_UNSUPPORTED)
			(*error)->code = CK_ERROR_CA_UNREACHABLE;
		g_clear_pointer(&reply, ck_scep_reply_free);
	}
out:
	if (have_info)
		gnutls_pkcs7_signature_info_deinit(&info);
	if (p7 != NULL)
		gnutls_pkcs7_deinit(p7);
	ck_scep_attrs_clear(&attrs);
	return g_steal_pointer(&reply);
}

/* Sends one message of @message_type with @content and reads the CertRep. */
static CkScepReply *
ck_scep_transact(CkScep *self, const gchar *what, const gchar *message_type,
		 const gchar *transaction_id, GBytes *content, const CkScepRequest *request,
		 GError **error)
{
	gnutls_x509_crt_t transient = NULL;
	gnutls_x509_crt_t signer = request->signer_cert;
	gnutls_privkey_t signer_key = request->signer_key;
	guint8 nonce[CK_SCEP_NONCE_SIZE];
	g_autoptr(GBytes) message = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *type = NULL;
	CkScepReply *reply = NULL;

	if (self->ca == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED, "GetCACert must come first");
		return NULL;
	}
	if (signer == NULL) {
		transient = ck_scep_transient_cert(request->csr, request->key, error);
		if (transient == NULL)
			return NULL;
		signer = transient;
		signer_key = request->key;
	}
	if (gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof(nonce)) < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("Cannot make a nonce"));
		goto out;
	}
	message = ck_scep_pki_message(self, message_type, transaction_id, nonce, content, signer,
				      signer_key, error);
	if (message == NULL)
		goto out;
	/* one line for the daemon's log (our stderr): what went where, signed by whom */
	{
		g_autofree gchar *signer_name = ck_scep_crt_name(signer);
		g_message("sending %s for transaction %s to %s, signed by %s%s, encrypted with %s",
			  what, transaction_id, self->url, signer_name,
			  transient != NULL ? " (self-signed for this transaction)" : "",
			  ck_cms_cipher_to_string(ck_scep_cipher(self)));
	}
	body = ck_scep_send(self, what, message, &type, error);
	if (body == NULL)
		goto out;
	reply = ck_scep_read_reply(self, what, body, type, transaction_id, nonce, request, signer,
				   signer_key, error);
out:
	if (transient != NULL)
		gnutls_x509_crt_deinit(transient);
	return reply;
}

CkScepReply *
ck_scep_enroll(CkScep *self, const CkScepRequest *request, GError **error)
{
	g_autofree gchar *transaction_id = ck_scep_transaction_id(request->csr, error);
	gnutls_datum_t der = {NULL, 0};
	g_autoptr(GBytes) content = NULL;
	int rc;

	if (transaction_id == NULL)
		return NULL;
	rc = gnutls_x509_crq_export2(request->csr, GNUTLS_X509_FMT_DER, &der);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot encode the signing request: %s"), gnutls_strerror(rc));
		return NULL;
	}
	content = g_bytes_new(der.data, der.size);
	gnutls_free(der.data);
	if (request->renewal)
		return ck_scep_transact(self, "RenewalReq", CK_SCEP_RENEWAL_REQ, transaction_id,
					content, request, error);
	return ck_scep_transact(self, "PKCSReq", CK_SCEP_PKCS_REQ, transaction_id, content, request,
				error);
}

CkScepReply *
ck_scep_poll(CkScep *self, const CkScepRequest *request, const gchar *transaction_id,
	     GError **error)
{
	gnutls_x509_crt_t transient = NULL;
	gnutls_datum_t issuer = {NULL, 0}, subject = {NULL, 0};
	g_autoptr(GBytes) content = NULL;
	int rc;

	if (self->ca == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED, "GetCACert must come first");
		return NULL;
	}
	/* RFC 8894 3.3.3: the issuer is the CA's name, the subject the request's */
	transient = ck_scep_transient_cert(request->csr, request->key, error);
	if (transient == NULL)
		return NULL;
	rc = gnutls_x509_crt_get_raw_dn(self->ca, &issuer);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_raw_dn(transient, &subject);
	if (rc < 0)
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot read the names to poll for: %s"), gnutls_strerror(rc));
	else
		content = ck_cms_encode_issuer_and_subject(&issuer, &subject, error);
	gnutls_free(issuer.data);
	gnutls_free(subject.data);
	gnutls_x509_crt_deinit(transient);
	if (content == NULL)
		return NULL;
	return ck_scep_transact(self, "CertPoll", CK_SCEP_CERT_POLL, transaction_id, content,
				request, error);
}
