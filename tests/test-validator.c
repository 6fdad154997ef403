/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The check an issued certificate passes before it replaces anything live: its key, its
 * validity, every requested name and usage, and its chain up to the anchors. A throw-away CA
 * made here issues each certificate, so that every test can issue exactly the flaw it is
 * about; nothing is read from disk or the network.
 */
#include "config.h"

#include <arpa/inet.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-csr.h"
#include "ck-error.h"
#include "ck-key-provider-file.h"
#include "ck-test-util.h"
#include "ck-validator.h"

#define HOUR (60 * 60)
#define DAY  (24 * HOUR)

/* 2026-01-01 00:00:00 UTC: a fixed clock, so that the validator is seen to judge by the time
 * it is given (CkValidation.now), not by the machine's */
#define CK_TEST_NOW G_GINT64_CONSTANT(1767225600)

/* What the usual leaf carries and the usual request asks for: one of every kind of name. */
static const gchar *const ck_test_dns[] = {"web1.example", "www.web1.example", NULL};
static const gchar *const ck_test_ips[] = {"192.0.2.10", "2001:db8::1", NULL};
static const gchar *const ck_test_emails[] = {"ops@example.org", NULL};
static const gchar *const ck_test_uris[] = {"spiffe://example.org/ns/prod/sa/web", NULL};
static const gchar *const ck_test_principals[] = {"HTTP/web1.example@EXAMPLE.ORG", NULL};
static const gchar *const ck_test_ku[] = {"digitalSignature", "keyEncipherment", NULL};
static const gchar *const ck_test_eku[] = {"serverAuth", "clientAuth", NULL};
static const gchar *const ck_test_ca_ku[] = {"keyCertSign", "cRLSign", NULL};

static const CkCsrParams ck_test_names = {
    .subject = "CN=web1.example,O=Example",
    .dns_names = ck_test_dns,
    .ip_addresses = ck_test_ips,
    .emails = ck_test_emails,
    .uris = ck_test_uris,
    .principals = ck_test_principals,
    .key_usage = ck_test_ku,
    .extended_key_usage = ck_test_eku,
};

/* A CA of the test's own: its key, its certificate as GnuTLS holds it, and as PEM. */
typedef struct {
	CkKey *key;
	gnutls_x509_crt_t crt;
	gchar *pem;
} CkTestCa;

static void
ck_test_ca_free(CkTestCa *ca)
{
	gnutls_x509_crt_deinit(ca->crt);
	ck_key_unref(ca->key);
	g_free(ca->pem);
	g_free(ca);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkTestCa, ck_test_ca_free)

/* EC P-256 from the file provider: quick to make, so every test makes its own. */
static CkKey *
ck_test_key(void)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;
	CkKey *key = ck_key_provider_generate(provider, CK_KEY_TYPE_EC_P256, &error);
	g_assert_no_error(error);
	g_assert_nonnull(key);
	return key;
}

static void
ck_test_add_sans(gnutls_x509_crt_t crt, const gchar *const *values,
		 gnutls_x509_subject_alt_name_t type)
{
	for (guint i = 0; values != NULL && values[i] != NULL; i++) {
		g_assert_cmpint(
		    gnutls_x509_crt_set_subject_alt_name(
			crt, type, values[i], (unsigned int)strlen(values[i]), GNUTLS_FSAN_APPEND),
		    ==, 0);
	}
}

static void
ck_test_add_ips(gnutls_x509_crt_t crt, const gchar *const *values)
{
	for (guint i = 0; values != NULL && values[i] != NULL; i++) {
		guint8 buf[16];
		unsigned int size = 4;
		/* a SAN holds the address's bytes, not its text */
		if (inet_pton(AF_INET, values[i], buf) != 1) {
			g_assert_cmpint(inet_pton(AF_INET6, values[i], buf), ==, 1);
			size = 16;
		}
		g_assert_cmpint(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, buf,
								     size, GNUTLS_FSAN_APPEND),
				==, 0);
	}
}

/*
 * An unsigned certificate for @key carrying what @names asks for: subject (NULL: an empty
 * one, as ACME CAs issue), SANs, key usage (none named: no extension) and extended key
 * usage (likewise), valid from @not_before to @not_after.
 */
static gnutls_x509_crt_t
ck_test_crt_new(CkKey *key, const CkCsrParams *names, gboolean is_ca, gint64 not_before,
		gint64 not_after)
{
	static guint32 next_serial = 1;
	gnutls_x509_crt_t crt = NULL;
	gnutls_pubkey_t pubkey = NULL;
	guint32 serial = GUINT32_TO_BE(next_serial++);
	guint8 key_id[64];
	size_t key_id_size = sizeof(key_id);
	guint usage = 0;
	g_auto(GStrv) oids = NULL;

	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_version(crt, 3), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_serial(crt, &serial, sizeof(serial)), ==, 0);
	g_assert_cmpint(gnutls_pubkey_init(&pubkey), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pubkey, ck_key_get_privkey(key), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_pubkey(crt, pubkey), ==, 0);
	gnutls_pubkey_deinit(pubkey);
	if (names->subject != NULL)
		g_assert_cmpint(gnutls_x509_crt_set_dn(crt, names->subject, NULL), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_activation_time(crt, (time_t)not_before), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_expiration_time(crt, (time_t)not_after), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_basic_constraints(crt, is_ca, -1), ==, 0);
	/* GnuTLS copies an issuer's key id into what it signs (authority key id): paths use it */
	g_assert_cmpint(gnutls_x509_crt_get_key_id(crt, 0, key_id, &key_id_size), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_size), ==, 0);
	ck_test_add_sans(crt, names->dns_names, GNUTLS_SAN_DNSNAME);
	ck_test_add_ips(crt, names->ip_addresses);
	ck_test_add_sans(crt, names->emails, GNUTLS_SAN_RFC822NAME);
	ck_test_add_sans(crt, names->uris, GNUTLS_SAN_URI);
	ck_test_add_sans(crt, names->principals, GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL);
	g_assert_true(ck_csr_parse_key_usage(names->key_usage, &usage, NULL));
	if (usage != 0)
		g_assert_cmpint(gnutls_x509_crt_set_key_usage(crt, usage), ==, 0);
	g_assert_true(ck_csr_parse_extended_key_usage(names->extended_key_usage, &oids, NULL));
	for (guint i = 0; oids[i] != NULL; i++)
		g_assert_cmpint(gnutls_x509_crt_set_key_purpose_oid(crt, oids[i], 0), ==, 0);
	return crt;
}

/* Signs @crt by @issuer (NULL: by its own @key) and returns it as PEM; @crt stays usable. */
static gchar *
ck_test_crt_sign(gnutls_x509_crt_t crt, CkKey *key, const CkTestCa *issuer)
{
	gnutls_datum_t out = {NULL, 0};
	gchar *pem;

	g_assert_cmpint(
	    gnutls_x509_crt_privkey_sign(crt, issuer != NULL ? issuer->crt : crt,
					 ck_key_get_privkey(issuer != NULL ? issuer->key : key),
					 GNUTLS_DIG_SHA256, 0),
	    ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), ==, 0);
	pem = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	return pem;
}

/* A CA named @subject: a root when @parent is NULL, else an intermediate below @parent. */
static CkTestCa *
ck_test_ca_new_full(const gchar *subject, const CkTestCa *parent, gint64 not_before,
		    gint64 not_after)
{
	CkTestCa *ca = g_new0(CkTestCa, 1);
	CkCsrParams names = {.subject = subject, .key_usage = ck_test_ca_ku};

	ca->key = ck_test_key();
	ca->crt = ck_test_crt_new(ca->key, &names, TRUE, not_before, not_after);
	ca->pem = ck_test_crt_sign(ca->crt, ca->key, parent);
	return ca;
}

static CkTestCa *
ck_test_ca_new(const gchar *subject, const CkTestCa *parent)
{
	return ck_test_ca_new_full(subject, parent, CK_TEST_NOW - 365 * DAY,
				   CK_TEST_NOW + 3650 * DAY);
}

/* A leaf for @key with @names, signed by @ca. */
static gchar *
ck_test_issue_full(const CkTestCa *ca, CkKey *key, const CkCsrParams *names, gint64 not_before,
		   gint64 not_after)
{
	gnutls_x509_crt_t crt = ck_test_crt_new(key, names, FALSE, not_before, not_after);
	gchar *pem = ck_test_crt_sign(crt, key, ca);
	gnutls_x509_crt_deinit(crt);
	return pem;
}

/* The usual leaf: issued an hour ago for 90 days. */
static gchar *
ck_test_issue(const CkTestCa *ca, CkKey *key, const CkCsrParams *names)
{
	return ck_test_issue_full(ca, key, names, CK_TEST_NOW - HOUR, CK_TEST_NOW + 90 * DAY);
}

static gboolean
ck_test_check(CkKey *key, const gchar *certificate, const gchar *chain, const gchar *anchors,
	      const CkCsrParams *names, GError **error)
{
	CkValidation validation = {
	    .key = key,
	    .certificate = certificate,
	    .chain = chain,
	    .anchors = anchors,
	    .names = names,
	    .now = CK_TEST_NOW,
	};
	return ck_validator_check(&validation, error);
}

static void
ck_test_assert_passes(CkKey *key, const gchar *certificate, const gchar *chain,
		      const gchar *anchors, const CkCsrParams *names)
{
	g_autoptr(GError) error = NULL;
	gboolean ok = ck_test_check(key, certificate, chain, anchors, names, &error);
	g_assert_no_error(error);
	g_assert_true(ok);
}

/* Refused as a failed check, the message naming @needle (what is missing or wrong). */
static void
ck_test_assert_refused(CkKey *key, const gchar *certificate, const gchar *chain,
		       const gchar *anchors, const CkCsrParams *names, const gchar *needle)
{
	g_autoptr(GError) error = NULL;
	g_assert_false(ck_test_check(key, certificate, chain, anchors, names, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CRYPTO);
	g_test_message("refused: %s", error->message);
	if (strstr(error->message, needle) == NULL)
		g_error("'%s' does not name '%s'", error->message, needle);
}

static void
test_validator_good_anchors(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);

	ck_test_assert_passes(key, cert, NULL, root->pem, &ck_test_names);
	/* CAs often send their root along; it is the anchor already and must not hurt */
	ck_test_assert_passes(key, cert, root->pem, root->pem, &ck_test_names);
	/* nothing asked for: only the key and the chain are checked */
	ck_test_assert_passes(key, cert, NULL, root->pem, NULL);
}

static void
test_validator_good_no_anchors(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);

	/* a CA that publishes no roots: the top of the chain it sent is the anchor */
	ck_test_assert_passes(key, cert, root->pem, NULL, &ck_test_names);
	/* nor a chain: nothing to verify the issuer against, the other checks still hold */
	ck_test_assert_passes(key, cert, NULL, NULL, &ck_test_names);
}

static void
test_validator_wrong_key(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autoptr(CkKey) other = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, other, &ck_test_names);

	/* everything else is right: only the key gives it away */
	ck_test_assert_refused(key, cert, NULL, root->pem, &ck_test_names,
			       "does not belong to the key");
	ck_test_assert_passes(other, cert, NULL, root->pem, &ck_test_names);
}

static void
test_validator_not_yet_valid(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *future = ck_test_issue_full(root, key, &ck_test_names, CK_TEST_NOW + DAY,
						      CK_TEST_NOW + 90 * DAY);
	g_autofree gchar *skewed =
	    ck_test_issue_full(root, key, &ck_test_names, CK_TEST_NOW + 2 * 60, CK_TEST_NOW + DAY);

	/* the message says from when, in UTC */
	ck_test_assert_refused(key, future, NULL, root->pem, &ck_test_names,
			       "not valid before 2026-01-02 00:00:00 UTC");
	/* a CA clock a little ahead of ours is no reason to refuse */
	ck_test_assert_passes(key, skewed, NULL, root->pem, &ck_test_names);
}

static void
test_validator_expired(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *expired = ck_test_issue_full(root, key, &ck_test_names,
						       CK_TEST_NOW - 90 * DAY, CK_TEST_NOW - HOUR);
	g_autofree gchar *inverted =
	    ck_test_issue_full(root, key, &ck_test_names, CK_TEST_NOW + DAY, CK_TEST_NOW - DAY);

	ck_test_assert_refused(key, expired, NULL, root->pem, &ck_test_names,
			       "expired already (2025-12-31 23:00:00 UTC)");
	/* ending before it begins is no validity at all, whatever the clock says */
	ck_test_assert_refused(key, inverted, NULL, root->pem, &ck_test_names, "validity is empty");
}

static void
test_validator_ca_expired(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new_full("CN=certkeeper old root", NULL,
						       CK_TEST_NOW - 3650 * DAY, CK_TEST_NOW - DAY);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);

	/* GnuTLS's time checks are off (our clock decides): the CA's times are checked by us */
	ck_test_assert_refused(key, cert, NULL, root->pem, &ck_test_names,
			       "CN=certkeeper old root expired on 2025-12-31 00:00:00 UTC");
	ck_test_assert_refused(key, cert, root->pem, NULL, &ck_test_names, "expired on");
}

static void
test_validator_san_dns(void)
{
	const gchar *dns[] = {"web1.example", "api.web1.example", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	CkCsrParams names = ck_test_names;

	/* one name of several left out is enough to refuse */
	names.dns_names = dns;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested DNS name 'api.web1.example'");
}

static void
test_validator_san_dns_case(void)
{
	const gchar *dns[] = {"WWW.Web1.Example", "web1.EXAMPLE", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	CkCsrParams names = ck_test_names;

	/* DNS is case-insensitive, and CAs (ACME among them) lowercase what they issue */
	names.dns_names = dns;
	ck_test_assert_passes(key, cert, NULL, root->pem, &names);
}

static void
test_validator_san_ip(void)
{
	const gchar *spelled[] = {"192.0.2.10", "2001:DB8:0::1", NULL};
	const gchar *long_form[] = {"2001:0db8:0000:0000:0000:0000:0000:0001", NULL};
	const gchar *other6[] = {"192.0.2.10", "2001:db8::2", NULL};
	const gchar *other4[] = {"192.0.2.11", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	CkCsrParams names = ck_test_names;

	/* the certificate holds bytes: any spelling of the same address is that address */
	names.ip_addresses = spelled;
	ck_test_assert_passes(key, cert, NULL, root->pem, &names);
	names.ip_addresses = long_form;
	ck_test_assert_passes(key, cert, NULL, root->pem, &names);
	/* the message quotes the address as it was asked for */
	names.ip_addresses = other6;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested IP address '2001:db8::2'");
	names.ip_addresses = other4;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested IP address '192.0.2.11'");
}

static void
test_validator_san_email(void)
{
	const gchar *missing[] = {"ops@example.org", "dev@example.org", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	CkCsrParams names = ck_test_names;

	names.emails = missing;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested email address 'dev@example.org'");
}

static void
test_validator_san_uri(void)
{
	const gchar *missing[] = {"spiffe://example.org/ns/prod/sa/db", NULL};
	const gchar *other_case[] = {"spiffe://example.org/ns/prod/sa/WEB", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	CkCsrParams names = ck_test_names;

	names.uris = missing;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested URI 'spiffe://example.org/ns/prod/sa/db'");
	/* a URI's path is case-sensitive: a SPIFFE ID that differs in case is another one */
	names.uris = other_case;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested URI 'spiffe://example.org/ns/prod/sa/WEB'");
}

/* What GnuTLS makes of each SAN of @pem, for the test log. */
static void
ck_test_log_sans(const gchar *pem)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};

	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	for (unsigned int i = 0;; i++) {
		gchar buf[1024];
		size_t size = sizeof(buf);
		int type = gnutls_x509_crt_get_subject_alt_name(crt, i, buf, &size, NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		g_test_message("SAN %u: type %d, %zu bytes", i, type, size);
	}
	gnutls_x509_crt_deinit(crt);
}

static void
test_validator_san_principal(void)
{
	const gchar *missing[] = {"HTTP/web1.example@EXAMPLE.ORG", "host/web1.example@EXAMPLE.ORG",
				  NULL};
	const gchar *other_case[] = {"http/web1.example@example.org", NULL};
	/* a UTF8String: the DER a Microsoft UPN otherName holds */
	static const gchar upn[] = "\x0c\x1dHTTP/web1.example@EXAMPLE.ORG";
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	g_autofree gchar *upn_cert = NULL;
	CkCsrParams names = ck_test_names;
	gnutls_x509_crt_t crt;

	/* written as a KRB5PrincipalName otherName; GnuTLS may hand it back decoded or not */
	ck_test_log_sans(cert);
	ck_test_assert_passes(key, cert, NULL, root->pem, &names);
	names.principals = missing;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested Kerberos principal "
			       "'host/web1.example@EXAMPLE.ORG'");
	/* principals compare exactly: a realm is not a DNS name */
	names.principals = other_case;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested Kerberos principal "
			       "'http/web1.example@example.org'");

	/* the same text in an otherName of another type is not a principal */
	names = ck_test_names;
	names.principals = NULL;
	crt = ck_test_crt_new(key, &names, FALSE, CK_TEST_NOW - HOUR, CK_TEST_NOW + DAY);
	g_assert_cmpint(gnutls_x509_crt_set_subject_alt_othername(crt, "1.3.6.1.4.1.311.20.2.3",
								  upn, sizeof(upn) - 1,
								  GNUTLS_FSAN_APPEND),
			==, 0);
	/* and one GnuTLS knows no virtual type for, which it hands over undecoded */
	g_assert_cmpint(gnutls_x509_crt_set_subject_alt_othername(
			    crt, "1.3.6.1.4.1.99999.1", upn, sizeof(upn) - 1, GNUTLS_FSAN_APPEND),
			==, 0);
	upn_cert = ck_test_crt_sign(crt, key, root);
	gnutls_x509_crt_deinit(crt);
	ck_test_log_sans(upn_cert);
	ck_test_assert_passes(key, upn_cert, NULL, root->pem, &names);
	ck_test_assert_refused(key, upn_cert, NULL, root->pem, &ck_test_names,
			       "lacks the requested Kerberos principal "
			       "'HTTP/web1.example@EXAMPLE.ORG'");
}

static void
test_validator_san_malformed(void)
{
	/* a SEQUENCE whose dNSName claims more bytes than there are */
	static const guint8 broken[] = {0x30, 0x03, 0x82, 0x05, 'a'};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	CkCsrParams issued = ck_test_names;
	g_autofree gchar *cert = NULL;
	gnutls_x509_crt_t crt;

	/* signed by the CA, yet its SANs never decode: refused, not looped over forever (GnuTLS
	 * 3.7 already turns it away on import) */
	issued.dns_names = NULL;
	issued.ip_addresses = NULL;
	issued.emails = NULL;
	issued.uris = NULL;
	issued.principals = NULL;
	crt = ck_test_crt_new(key, &issued, FALSE, CK_TEST_NOW - HOUR, CK_TEST_NOW + DAY);
	g_assert_cmpint(gnutls_x509_crt_set_extension_by_oid(crt, GNUTLS_X509EXT_OID_SAN, broken,
							     sizeof(broken), 0),
			==, 0);
	cert = ck_test_crt_sign(crt, key, root);
	gnutls_x509_crt_deinit(crt);
	ck_test_assert_refused(key, cert, NULL, root->pem, &ck_test_names, "cannot be read");
}

static void
test_validator_cn_in_dns_san(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	CkCsrParams issued = ck_test_names;
	CkCsrParams names = ck_test_names;
	g_autofree gchar *empty_subject = NULL;
	g_autofree gchar *no_cn = NULL;

	/* ACME CAs drop the subject and keep the names in the SANs only */
	issued.subject = NULL;
	empty_subject = ck_test_issue(root, key, &issued);
	ck_test_assert_passes(key, empty_subject, NULL, root->pem, &names);
	issued.subject = "O=Example";
	no_cn = ck_test_issue(root, key, &issued);
	ck_test_assert_passes(key, no_cn, NULL, root->pem, &names);
	/* as a DNS name it compares without case, like the SANs themselves */
	names.subject = "CN=WWW.Web1.Example";
	ck_test_assert_passes(key, no_cn, NULL, root->pem, &names);
}

static void
test_validator_cn_missing(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	CkCsrParams issued = ck_test_names;
	CkCsrParams names = ck_test_names;
	g_autofree gchar *no_cn = NULL;

	/* a CN of its own, but not the one asked for, and not among the DNS names either */
	names.subject = "CN=other.example,O=Example";
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "requested common name 'other.example'");
	/* no CN at all, and the SANs do not carry it */
	issued.subject = "O=Example";
	no_cn = ck_test_issue(root, key, &issued);
	ck_test_assert_refused(key, no_cn, NULL, root->pem, &names,
			       "requested common name 'other.example'");
}

static void
test_validator_key_usage(void)
{
	const gchar *more[] = {"digitalSignature", "keyAgreement", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	g_autofree gchar *no_ku = NULL;
	CkCsrParams issued = ck_test_names;
	CkCsrParams names = ck_test_names;

	names.key_usage = more;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names, "lacks a requested key usage");
	/* without the extension, nothing requested is granted */
	issued.key_usage = NULL;
	no_ku = ck_test_issue(root, key, &issued);
	ck_test_assert_refused(key, no_ku, NULL, root->pem, &ck_test_names,
			       "lacks a requested key usage");
	/* keyAgreement alone: the granted bits do not make up for the one asked for */
	names.key_usage = more + 1;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names, "lacks a requested key usage");
	/* asking for less than was granted is fine (keyEncipherment alone) */
	names.key_usage = ck_test_ku + 1;
	ck_test_assert_passes(key, cert, NULL, root->pem, &names);
}

static void
test_validator_extended_key_usage(void)
{
	const gchar *more[] = {"serverAuth", "codeSigning", NULL};
	const gchar *any[] = {"2.5.29.37.0", NULL};
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	g_autofree gchar *no_eku = NULL;
	g_autofree gchar *any_eku = NULL;
	CkCsrParams issued = ck_test_names;
	CkCsrParams names = ck_test_names;

	/* the message gives the OID the name stands for */
	names.extended_key_usage = more;
	ck_test_assert_refused(key, cert, NULL, root->pem, &names,
			       "lacks the requested extended key usage " GNUTLS_KP_CODE_SIGNING);
	issued.extended_key_usage = NULL;
	no_eku = ck_test_issue(root, key, &issued);
	ck_test_assert_refused(key, no_eku, NULL, root->pem, &ck_test_names,
			       "extended key usage " GNUTLS_KP_TLS_WWW_SERVER);
	/* anyExtendedKeyUsage grants every purpose */
	issued.extended_key_usage = any;
	any_eku = ck_test_issue(root, key, &issued);
	ck_test_assert_passes(key, any_eku, NULL, root->pem, &names);
}

static void
test_validator_chain_other_ca(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	/* the same name with another key: only the signature tells them apart */
	g_autoptr(CkTestCa) impostor = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkTestCa) stranger = ck_test_ca_new("CN=someone else's root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *by_impostor = ck_test_issue(impostor, key, &ck_test_names);
	g_autofree gchar *by_stranger = ck_test_issue(stranger, key, &ck_test_names);

	ck_test_assert_refused(key, by_impostor, NULL, root->pem, &ck_test_names,
			       "does not verify to the CA's trust anchors");
	ck_test_assert_refused(key, by_stranger, NULL, root->pem, &ck_test_names,
			       "does not verify to the CA's trust anchors");
	/* the issuer sent along does not help when the anchors are another CA's */
	ck_test_assert_refused(key, by_stranger, stranger->pem, root->pem, &ck_test_names,
			       "does not verify to the CA's trust anchors");
	/* without anchors the chain sent must still have signed the leaf */
	ck_test_assert_refused(key, by_stranger, root->pem, NULL, &ck_test_names,
			       "does not verify to the CA's trust anchors");
}

static void
test_validator_chain_intermediate(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkTestCa) intermediate = ck_test_ca_new("CN=certkeeper test issuing CA", root);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(intermediate, key, &ck_test_names);
	g_autofree gchar *full = g_strconcat(intermediate->pem, root->pem, NULL);

	ck_test_assert_passes(key, cert, intermediate->pem, root->pem, &ck_test_names);
	ck_test_assert_passes(key, cert, full, root->pem, &ck_test_names);
	/* without anchors the chain's top, the root, is the anchor */
	ck_test_assert_passes(key, cert, full, NULL, &ck_test_names);
	/* the link between leaf and root is missing */
	ck_test_assert_refused(key, cert, NULL, root->pem, &ck_test_names,
			       "does not verify to the CA's trust anchors");
}

static void
test_validator_unreadable(void)
{
	g_autoptr(CkTestCa) root = ck_test_ca_new("CN=certkeeper test root", NULL);
	g_autoptr(CkKey) key = ck_test_key();
	g_autofree gchar *cert = ck_test_issue(root, key, &ck_test_names);
	g_autofree gchar *tampered = ck_test_pem_patch(cert, "CERTIFICATE", "web1", "web2");

	ck_test_assert_refused(key, "not a certificate", NULL, root->pem, &ck_test_names,
			       "cannot be read");
	ck_test_assert_refused(key, cert, "garbage", root->pem, &ck_test_names,
			       "chain cannot be read");
	ck_test_assert_refused(key, cert, NULL, "garbage", &ck_test_names,
			       "root certificates cannot be read");
	/* still parses, names and all, but the CA never signed it */
	ck_test_assert_refused(key, tampered, NULL, root->pem, NULL,
			       "does not verify to the CA's trust anchors");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/validator/good/anchors", test_validator_good_anchors);
	g_test_add_func("/certkeeper/validator/good/no-anchors", test_validator_good_no_anchors);
	g_test_add_func("/certkeeper/validator/key/wrong", test_validator_wrong_key);
	g_test_add_func("/certkeeper/validator/validity/not-yet-valid",
			test_validator_not_yet_valid);
	g_test_add_func("/certkeeper/validator/validity/expired", test_validator_expired);
	g_test_add_func("/certkeeper/validator/validity/ca-expired", test_validator_ca_expired);
	g_test_add_func("/certkeeper/validator/san/dns", test_validator_san_dns);
	g_test_add_func("/certkeeper/validator/san/dns-case", test_validator_san_dns_case);
	g_test_add_func("/certkeeper/validator/san/ip", test_validator_san_ip);
	g_test_add_func("/certkeeper/validator/san/email", test_validator_san_email);
	g_test_add_func("/certkeeper/validator/san/uri", test_validator_san_uri);
	g_test_add_func("/certkeeper/validator/san/principal", test_validator_san_principal);
	g_test_add_func("/certkeeper/validator/san/malformed", test_validator_san_malformed);
	g_test_add_func("/certkeeper/validator/cn/in-dns-san", test_validator_cn_in_dns_san);
	g_test_add_func("/certkeeper/validator/cn/missing", test_validator_cn_missing);
	g_test_add_func("/certkeeper/validator/usage/key-usage", test_validator_key_usage);
	g_test_add_func("/certkeeper/validator/usage/extended-key-usage",
			test_validator_extended_key_usage);
	g_test_add_func("/certkeeper/validator/chain/other-ca", test_validator_chain_other_ca);
	g_test_add_func("/certkeeper/validator/chain/intermediate",
			test_validator_chain_intermediate);
	g_test_add_func("/certkeeper/validator/unreadable", test_validator_unreadable);
	return g_test_run();
}
