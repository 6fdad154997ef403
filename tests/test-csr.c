/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CSR parameters: validators, usage names, and the PKCS#10 request ck_csr_build() signs. */
#include "config.h"

#include <arpa/inet.h>
#include <gnutls/x509-ext.h>
#include <gnutls/x509.h>
#include <string.h>

#include "ck-csr.h"
#include "ck-error.h"
#include "ck-key-provider-file.h"
#include "ck-test-util.h"

typedef gboolean (*CkValidator)(const gchar *value, GError **error);

static void
ck_test_validator(CkValidator validate, const gchar *const *good, const gchar *const *bad)
{
	for (guint i = 0; good[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		gboolean ok;
		g_test_message("good: %s", good[i]);
		ok = validate(good[i], &error);
		g_assert_no_error(error);
		g_assert_true(ok);
	}
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		g_test_message("bad: '%s'", bad[i]);
		g_assert_false(validate(bad[i], &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		/* the message quotes the offending value */
		g_assert_nonnull(strstr(error->message, bad[i]));
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_false(validate(NULL, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	}
}

static void
test_csr_validate_subject(void)
{
	const gchar *good[] = {"CN=web1.example",
			       "CN=web1.example,OU=Ops,O=Example,L=Berlin,ST=Berlin,C=DE",
			       "cn=lower.example",
			       "CN=Example\\, Inc.",
			       "DC=example,DC=org",
			       "2.5.4.3=by oid",
			       "CN=x,1.2.840.113549.1.9.1=ops@example.org",
			       "serialNumber=12345,CN=device",
			       "EMAIL=ops@example.org",
			       NULL};
	const gchar *bad[] = {
	    "this is not a DN", "CN",          "=value",    "CN=a,,O=b",  "FOO=bar",
	    "CN=a,BOGUS=b",     "CN=a,1..2=x", "CN=a,.1=x", "X-CUSTOM=v", NULL};
	g_autoptr(GError) error = NULL;

	ck_test_validator(ck_csr_validate_subject, good, bad);
	g_assert_false(ck_csr_validate_subject("", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	/* the unknown type is named, so the user sees which part is wrong */
	g_assert_false(ck_csr_validate_subject("CN=a,BOGUS=b", &error));
	g_assert_nonnull(strstr(error->message, "'BOGUS'"));
}

static void
test_csr_validate_dns_name(void)
{
	g_autofree gchar *label63 = g_strnfill(63, 'a');
	g_autofree gchar *label64 = g_strnfill(64, 'a');
	g_autofree gchar *name63 = g_strdup_printf("%s.example", label63);
	g_autofree gchar *name64 = g_strdup_printf("%s.example", label64);
	g_autofree gchar *label61 = g_strnfill(61, 'b');
	g_autofree gchar *label62 = g_strnfill(62, 'b');
	/* three 63-character labels, dots and a last label: 253 is the most RFC 1035 allows */
	g_autofree gchar *name253 =
	    g_strdup_printf("%s.%s.%s.%s", label63, label63, label63, label61);
	g_autofree gchar *name254 =
	    g_strdup_printf("%s.%s.%s.%s", label63, label63, label63, label62);
	const gchar *good[] = {"example.org",
			       "localhost",
			       "a.b.c.example",
			       "*.example.org",
			       "a-b.example",
			       "xn--bcher-kva.example",
			       "_acme-challenge.example.org",
			       "example.org.",
			       "123.example",
			       name63,
			       name253,
			       NULL};
	const gchar *bad[] = {"a..b", ".example", "example..", "*.", "*", "a.*.example",
			      "foo*.example", "*.*.example", "exa mple.org", "exam/ple",
			      "ex@mple.org",
			      /* (split so the hex escape ends where it should) */
			      "b\xc3\xbc"
			      "cher.example",
			      name64, name254, NULL};

	g_assert_cmpuint(strlen(name253), ==, 253);
	g_assert_cmpuint(strlen(name254), ==, 254);
	ck_test_validator(ck_csr_validate_dns_name, good, bad);
	g_assert_false(ck_csr_validate_dns_name("", NULL));
}

static void
test_csr_validate_ip_address(void)
{
	const gchar *good[] = {"192.0.2.1",
			       "0.0.0.0",
			       "255.255.255.255",
			       "::1",
			       "::",
			       "2001:db8::1",
			       "::ffff:192.0.2.1",
			       "fe80::1",
			       "2001:0db8:0000:0000:0000:0000:0000:0001",
			       NULL};
	const gchar *bad[] = {"256.1.1.1",         "1.2.3",       "1.2.3.4.5",
			      "192.0.2.1/24",      "2001:db8::g", "fe80::1%eth0",
			      "example.org",       " 192.0.2.1",  "2001:db8:::1",
			      "1:2:3:4:5:6:7:8:9", NULL};

	ck_test_validator(ck_csr_validate_ip_address, good, bad);
	g_assert_false(ck_csr_validate_ip_address("", NULL));
}

static void
test_csr_validate_email(void)
{
	const gchar *good[] = {"ops@example.org", "first.last+tag@sub.example.org", "a@b", NULL};
	const gchar *bad[] = {"ops",
			      "@example.org",
			      "ops@",
			      "a@b@c",
			      "a b@example.org",
			      "<a@example.org>",
			      "ops@exa\tmple.org",
			      NULL};

	ck_test_validator(ck_csr_validate_email, good, bad);
	g_assert_false(ck_csr_validate_email("", NULL));
}

static void
test_csr_validate_uri(void)
{
	const gchar *good[] = {"spiffe://example.org/ns/default/sa/web",
			       "spiffe://example.org",
			       "https://example.org/path?x=1",
			       "urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66",
			       "mailto:ops@example.org",
			       "https://example.org/%C3%BC%20x",
			       NULL};
	const gchar *bad[] = {"not a uri",
			      "/relative/path",
			      "example.org",
			      "://no-scheme",
			      "spiffe://exa mple.org/x",
			      "https://example.org/\xc3\xbc",
			      "https://example.org/a\tb",
			      NULL};

	ck_test_validator(ck_csr_validate_uri, good, bad);
	g_assert_false(ck_csr_validate_uri("", NULL));
}

static void
test_csr_validate_spiffe_id(void)
{
	const gchar *good[] = {"spiffe://example.org",
			       "spiffe://prod.example-1_x.org/ns/default/sa/web",
			       "spiffe://example.org/A.b-c_D/..x", NULL};
	const gchar *bad[] = {"spiffe://Example.org/x",	   /* upper case trust domain */
			      "spiffe://example.org:8443/x", /* a port */
			      "spiffe://user@example.org/x", /* a user */
			      "spiffe:///path",		     /* no trust domain */
			      "spiffe://example.org/",	     /* trailing slash */
			      "spiffe://example.org/a//b",   /* empty segment */
			      "spiffe://example.org/a/../b", /* dot segment */
			      "spiffe://example.org/a/./b",
			      "spiffe://example.org/a%20b", /* percent-encoding */
			      "spiffe://example.org/a?x=1", /* a query */
			      "spiffe://example.org/a#frag",
			      "SPIFFE://example.org/a", NULL};
	g_autofree gchar *long_path = g_strnfill(2100, 'a');
	g_autofree gchar *long_id = NULL;
	g_autoptr(GError) error = NULL;

	ck_test_validator(ck_csr_validate_spiffe_id, good, bad);
	/* the limit is on the whole ID */
	long_id = g_strdup_printf("spiffe://example.org/%s", long_path);
	g_assert_false(ck_csr_validate_spiffe_id(long_id, &error));
	g_assert_nonnull(strstr(error->message, "2048"));
	g_clear_error(&error);
	/* a URI SAN that names the spiffe scheme obeys the SPIFFE rules */
	g_assert_false(ck_csr_validate_uri("spiffe://example.org/a/", &error));
	g_assert_nonnull(strstr(error->message, "SPIFFE"));
}

static void
test_csr_validate_principal(void)
{
	const gchar *good[] = {"host/web1.example@EXAMPLE.ORG", "alice@EXAMPLE.ORG",
			       "HTTP/web1.example/extra@REALM", "a@b@REALM", NULL};
	const gchar *bad[] = {"host/web1.example",   /* no realm */
			      "@EXAMPLE.ORG",	     /* no name */
			      "host/web1.example@", /* empty realm */
			      "/web1@EXAMPLE.ORG",   /* empty first component */
			      "alice @EXAMPLE.ORG", NULL};

	ck_test_validator(ck_csr_validate_principal, good, bad);
}

static void
test_csr_parse_key_usage(void)
{
	const struct {
		const gchar *name;
		guint bit;
	} names[] = {
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
	const gchar *mixed[] = {"DIGITALSIGNATURE", "keyencipherment", NULL};
	const gchar *bad[] = {"digitalSignature", "digital-signature", NULL};
	const gchar *eku_name[] = {"serverAuth", NULL};
	const gchar *empty[] = {NULL};
	guint usage = 0xdead;
	g_autoptr(GError) error = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		const gchar *one[] = {names[i].name, NULL};
		g_assert_true(ck_csr_parse_key_usage(one, &usage, &error));
		g_assert_no_error(error);
		g_assert_cmphex(usage, ==, names[i].bit);
	}
	g_assert_true(ck_csr_parse_key_usage(mixed, &usage, &error));
	g_assert_cmphex(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);
	g_assert_true(ck_csr_parse_key_usage(NULL, &usage, &error));
	g_assert_cmphex(usage, ==, 0);
	usage = 0xdead;
	g_assert_true(ck_csr_parse_key_usage(empty, &usage, &error));
	g_assert_cmphex(usage, ==, 0);

	g_assert_false(ck_csr_parse_key_usage(bad, &usage, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "'digital-signature'"));
	g_clear_error(&error);
	/* an extended key usage is not a key usage */
	g_assert_false(ck_csr_parse_key_usage(eku_name, &usage, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
test_csr_parse_extended_key_usage(void)
{
	/* RFC 5280 4.2.1.12 id-kp-*, spelled out independently of GnuTLS's macros */
	const gchar *names[] = {"serverAuth",      "CLIENTAUTH",   "codesigning",
				"emailProtection", "timeStamping", "ocspSigning",
				"1.2.3.4.5",       "2.999.1",      NULL};
	const gchar *expected[] = {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.3",
				   "1.3.6.1.5.5.7.3.4", "1.3.6.1.5.5.7.3.8", "1.3.6.1.5.5.7.3.9",
				   "1.2.3.4.5",         "2.999.1",           NULL};
	const gchar *bad[] = {"webServer", "1..2", "1.", ".1", "1", "1.2.x", "", NULL};
	g_auto(GStrv) oids = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(ck_csr_parse_extended_key_usage(names, &oids, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(g_strv_length(oids), ==, g_strv_length((gchar **)expected));
	for (guint i = 0; expected[i] != NULL; i++)
		g_assert_cmpstr(oids[i], ==, expected[i]);
	g_clear_pointer(&oids, g_strfreev);

	g_assert_true(ck_csr_parse_extended_key_usage(NULL, &oids, &error));
	g_assert_nonnull(oids);
	g_assert_null(oids[0]);
	g_clear_pointer(&oids, g_strfreev);

	for (guint i = 0; bad[i] != NULL; i++) {
		const gchar *one[] = {"serverAuth", bad[i], NULL};
		g_test_message("bad EKU '%s'", bad[i]);
		g_assert_false(ck_csr_parse_extended_key_usage(one, &oids, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_null(oids);
		g_clear_error(&error);
	}
}

static void
test_csr_validate_params(void)
{
	const gchar *dns[] = {"web.example", NULL};
	const gchar *bad_dns[] = {"web.example", "bad..name", NULL};
	const gchar *bad_ip[] = {"10.0.0.256", NULL};
	const gchar *bad_email[] = {"nobody", NULL};
	const gchar *bad_uri[] = {"relative/uri", NULL};
	const gchar *bad_ku[] = {"signEverything", NULL};
	const gchar *bad_eku[] = {"webServer", NULL};
	g_autoptr(GError) error = NULL;
	CkCsrParams p;

	/* a subject alone, or names alone, are enough */
	p = (CkCsrParams){.subject = "CN=web.example"};
	g_assert_true(ck_csr_validate(&p, &error));
	g_assert_no_error(error);
	p = (CkCsrParams){.dns_names = dns};
	g_assert_true(ck_csr_validate(&p, &error));
	g_assert_no_error(error);
	p = (CkCsrParams){.subject = ""};
	g_assert_false(ck_csr_validate(&p, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	p = (CkCsrParams){NULL};
	g_assert_false(ck_csr_validate(&p, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);

	/* each field is checked: one bad value anywhere spoils the whole request */
#define CK_BAD_PARAMS(...)                                                                         \
	do {                                                                                       \
		p = (CkCsrParams){.subject = "CN=web.example", __VA_ARGS__};                       \
		g_assert_false(ck_csr_validate(&p, &error));                                       \
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);                        \
		g_test_message("%s", error->message);                                              \
		g_clear_error(&error);                                                             \
	} while (0)
	p = (CkCsrParams){.subject = "not a DN"};
	g_assert_false(ck_csr_validate(&p, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	CK_BAD_PARAMS(.dns_names = bad_dns);
	CK_BAD_PARAMS(.ip_addresses = bad_ip);
	CK_BAD_PARAMS(.emails = bad_email);
	CK_BAD_PARAMS(.uris = bad_uri);
	CK_BAD_PARAMS(.key_usage = bad_ku);
	CK_BAD_PARAMS(.extended_key_usage = bad_eku);
#undef CK_BAD_PARAMS
}

/* Builds, then parses the result back with GnuTLS and checks its self-signature. */
static gnutls_x509_crq_t
ck_test_build_and_import(const CkCsrParams *params, CkKey *key, gchar **pem_out)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = ck_csr_build(params, ck_key_get_privkey(key), &error);
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t datum;

	g_assert_no_error(error);
	g_assert_nonnull(pem);
	g_assert_true(g_str_has_prefix(pem, "-----BEGIN NEW CERTIFICATE REQUEST-----") ||
		      g_str_has_prefix(pem, "-----BEGIN CERTIFICATE REQUEST-----"));
	datum.data = (unsigned char *)pem;
	datum.size = strlen(pem);
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_verify(crq, 0), >=, 0);
	if (pem_out != NULL)
		*pem_out = g_steal_pointer(&pem);
	return crq;
}

/* openssl, as an independent parser, checks the self-signature too. */
static void
ck_test_openssl_verify_csr(const gchar *pem, gchar **text_out)
{
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autofree gchar *path = ck_test_write_file(dir, "req.pem", pem);
	const gchar *argv[] = {"openssl", "req", "-verify", "-noout", "-in", path, NULL};
	const gchar *argv_text[] = {"openssl", "req", "-noout", "-text", "-in", path, NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint status = ck_test_run(argv, &out, &err);

	g_test_message("openssl: %s%s", out, err);
	g_assert_cmpint(status, ==, 0);
	g_assert_true(strstr(out, "verify OK") != NULL || strstr(err, "verify OK") != NULL);
	if (text_out != NULL)
		g_assert_cmpint(ck_test_run(argv_text, text_out, NULL), ==, 0);
	ck_test_rm_rf(dir);
}

typedef struct {
	guint type;
	gchar *value; /* text for names, raw bytes for IPs; not NUL-terminated */
	gsize len;
} CkSan;

static void
ck_san_clear(CkSan *san)
{
	g_free(san->value);
}

static GArray *
ck_test_crq_sans(gnutls_x509_crq_t crq)
{
	GArray *sans = g_array_new(FALSE, TRUE, sizeof(CkSan));
	g_array_set_clear_func(sans, (GDestroyNotify)ck_san_clear);
	for (guint seq = 0;; seq++) {
		guint8 buf[1024];
		size_t size = sizeof(buf);
		unsigned int type = 0, critical = 0;
		CkSan san;
		int rc =
		    gnutls_x509_crq_get_subject_alt_name(crq, seq, buf, &size, &type, &critical);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		g_assert_cmpint(rc, >=, 0);
		san.type = type;
		san.value = g_memdup2(buf, size);
		san.len = size;
		g_array_append_val(sans, san);
	}
	return sans;
}

static void
ck_test_assert_san(GArray *sans, guint index, guint type, gconstpointer value, gsize len)
{
	CkSan *san;
	g_assert_cmpuint(index, <, sans->len);
	san = &g_array_index(sans, CkSan, index);
	g_assert_cmpuint(san->type, ==, type);
	g_assert_cmpmem(san->value, san->len, value, len);
}

static CkKey *
ck_test_key(CkKeyType type)
{
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GError) error = NULL;
	CkKey *key = ck_key_provider_generate(provider, type, &error);
	g_assert_no_error(error);
	return key;
}

static void
test_csr_build_full(void)
{
	const gchar *dns[] = {"web1.example", "*.web1.example", NULL};
	const gchar *ips[] = {"192.0.2.10", "2001:db8::1", NULL};
	const gchar *emails[] = {"ops@example.org", NULL};
	const gchar *uris[] = {"spiffe://example.org/ns/prod/sa/web", NULL};
	const gchar *ku[] = {"digitalSignature", "KeyAgreement", NULL};
	const gchar *eku[] = {"serverAuth", "clientAuth", "1.3.6.1.4.1.99999.1", NULL};
	const gchar *eku_oids[] = {"1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.4.1.99999.1"};
	CkCsrParams params = {
	    .subject = "CN=web1.example,OU=Ops,O=Example\\, Inc.,C=DE",
	    .dns_names = dns,
	    .ip_addresses = ips,
	    .emails = emails,
	    .uris = uris,
	    .key_usage = ku,
	    .extended_key_usage = eku,
	};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *pem = NULL;
	g_autofree gchar *text = NULL;
	gnutls_x509_crq_t crq = ck_test_build_and_import(&params, key, &pem);
	gnutls_datum_t dn = {NULL, 0};
	g_autoptr(GArray) sans = ck_test_crq_sans(crq);
	g_autoptr(GPtrArray) found_dns = g_ptr_array_new();
	guint8 ip4[4], ip6[16];
	guint usage = 0, critical = 0;
	guint n_dns = 0, n_ip = 0, n_email = 0, n_uri = 0;

	/* the exact subject, in RFC 4514 order */
	g_assert_cmpint(gnutls_x509_crq_get_dn3(crq, &dn, 0), ==, 0);
	g_assert_cmpstr((const gchar *)dn.data, ==, params.subject);
	gnutls_free(dn.data);

	/* every SAN with its type; IPs as 4 or 16 raw bytes, not text */
	g_assert_cmpint(inet_pton(AF_INET, "192.0.2.10", ip4), ==, 1);
	g_assert_cmpint(inet_pton(AF_INET6, "2001:db8::1", ip6), ==, 1);
	g_assert_cmpuint(sans->len, ==, 6);
	for (guint i = 0; i < sans->len; i++) {
		CkSan *san = &g_array_index(sans, CkSan, i);
		switch (san->type) {
		case GNUTLS_SAN_DNSNAME:
			ck_test_assert_san(sans, i, GNUTLS_SAN_DNSNAME, dns[n_dns],
					   strlen(dns[n_dns]));
			n_dns++;
			break;
		case GNUTLS_SAN_IPADDRESS:
			if (n_ip == 0)
				ck_test_assert_san(sans, i, GNUTLS_SAN_IPADDRESS, ip4, 4);
			else
				ck_test_assert_san(sans, i, GNUTLS_SAN_IPADDRESS, ip6, 16);
			n_ip++;
			break;
		case GNUTLS_SAN_RFC822NAME:
			ck_test_assert_san(sans, i, GNUTLS_SAN_RFC822NAME, emails[0],
					   strlen(emails[0]));
			n_email++;
			break;
		case GNUTLS_SAN_URI:
			ck_test_assert_san(sans, i, GNUTLS_SAN_URI, uris[0], strlen(uris[0]));
			n_uri++;
			break;
		default:
			g_assert_not_reached();
		}
	}
	g_assert_cmpuint(n_dns, ==, 2);
	g_assert_cmpuint(n_ip, ==, 2);
	g_assert_cmpuint(n_email, ==, 1);
	g_assert_cmpuint(n_uri, ==, 1);

	g_assert_cmpint(gnutls_x509_crq_get_key_usage(crq, &usage, &critical), >=, 0);
	g_assert_cmphex(usage, ==, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_AGREEMENT);

	for (guint i = 0;; i++) {
		gchar oid[128];
		size_t size = sizeof(oid);
		int rc = gnutls_x509_crq_get_key_purpose_oid(crq, i, oid, &size, &critical);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
			g_assert_cmpuint(i, ==, 3);
			break;
		}
		g_assert_cmpint(rc, ==, 0);
		g_assert_cmpuint(i, <, 3);
		g_assert_cmpstr(oid, ==, eku_oids[i]);
	}
	gnutls_x509_crq_deinit(crq);

	/* and openssl reads the same request the same way */
	ck_test_openssl_verify_csr(pem, &text);
	g_test_message("%s", text);
	g_assert_nonnull(strstr(text, "DNS:web1.example"));
	g_assert_nonnull(strstr(text, "DNS:*.web1.example"));
	g_assert_nonnull(strstr(text, "IP Address:192.0.2.10"));
	g_assert_nonnull(strstr(text, "IP Address:2001:DB8:0:0:0:0:0:1"));
	g_assert_nonnull(strstr(text, "email:ops@example.org"));
	g_assert_nonnull(strstr(text, "URI:spiffe://example.org/ns/prod/sa/web"));
	g_assert_nonnull(strstr(text, "TLS Web Server Authentication"));
	g_assert_nonnull(strstr(text, "TLS Web Client Authentication"));
	g_assert_nonnull(strstr(text, "Digital Signature, Key Agreement"));
}

static void
test_csr_build_minimal(void)
{
	CkCsrParams params = {.subject = "CN=only.example"};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	gnutls_x509_crq_t crq = ck_test_build_and_import(&params, key, NULL);
	guint8 buf[256];
	size_t size = sizeof(buf);
	unsigned int type = 0, usage = 0, critical = 0;

	/* nothing asked for, nothing added */
	g_assert_cmpint(gnutls_x509_crq_get_subject_alt_name(crq, 0, buf, &size, &type, NULL), ==,
			GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	g_assert_cmpint(gnutls_x509_crq_get_key_usage(crq, &usage, &critical), ==,
			GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	size = sizeof(buf);
	g_assert_cmpint(gnutls_x509_crq_get_key_purpose_oid(crq, 0, buf, &size, NULL), ==,
			GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE);
	gnutls_x509_crq_deinit(crq);
}

/* A CA's CSR attributes: a challengePassword and extensions added verbatim, except
 * one the request's own settings already make. */
static void
test_csr_build_ca_attributes(void)
{
	const gchar *dns[] = {"own.example", NULL};
	/* extnValue of a made-up extension: UTF8String "fleet-7" */
	static const guint8 custom[] = {0x0c, 0x07, 'f', 'l', 'e', 'e', 't', '-', '7'};
	/* a subjectAltName the CA suggests: dNSName "ca.example" */
	static const guint8 ca_san[] = {0x30, 0x0c, 0x82, 0x0a, 'c', 'a', '.', 'e',
					'x',  'a',  'm',  'p',  'l', 'e'};
	g_autoptr(GBytes) custom_value = g_bytes_new_static(custom, sizeof(custom));
	g_autoptr(GBytes) san_value = g_bytes_new_static(ca_san, sizeof(ca_san));
	g_autoptr(GPtrArray) extensions =
	    g_ptr_array_new_with_free_func((GDestroyNotify)ck_csr_extension_free);
	CkCsrParams params = {.subject = "CN=own.example",
			      .dns_names = dns,
			      .challenge_password = "s3cret-challenge",
			      .extensions = extensions};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *pem = NULL;
	g_autofree gchar *text = NULL;
	gnutls_x509_crq_t crq;
	g_autoptr(GArray) sans = NULL;
	guint8 buf[64];
	size_t size = sizeof(buf);
	unsigned int critical = 0;
	char password[64];
	size_t password_size = sizeof(password);

	g_ptr_array_add(extensions, ck_csr_extension_new("1.3.6.1.4.1.99999.1", TRUE, custom_value));
	g_ptr_array_add(extensions, ck_csr_extension_new("2.5.29.17", FALSE, san_value));
	crq = ck_test_build_and_import(&params, key, &pem);
	g_assert_cmpint(gnutls_x509_crq_get_challenge_password(crq, password, &password_size), ==,
			0);
	g_assert_cmpstr(password, ==, "s3cret-challenge");
	g_assert_cmpint(gnutls_x509_crq_get_extension_by_oid(crq, "1.3.6.1.4.1.99999.1", 0, buf,
							     &size, &critical),
			==, 0);
	g_assert_cmpmem(buf, size, custom, sizeof(custom));
	g_assert_cmpuint(critical, ==, 1);
	/* the request's names, not the CA's suggestion */
	sans = ck_test_crq_sans(crq);
	g_assert_cmpuint(sans->len, ==, 1);
	ck_test_assert_san(sans, 0, GNUTLS_SAN_DNSNAME, dns[0], strlen(dns[0]));
	gnutls_x509_crq_deinit(crq);
	/* and openssl agrees the request is well formed and signed */
	ck_test_openssl_verify_csr(pem, &text);
	g_assert_nonnull(strstr(text, "challengePassword"));
	g_assert_nonnull(strstr(text, "1.3.6.1.4.1.99999.1: critical"));
}

static void
test_csr_build_sans_only(void)
{
	const gchar *dns[] = {"nameless.example", NULL};
	CkCsrParams params = {.dns_names = dns};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *pem = NULL;
	gnutls_x509_crq_t crq = ck_test_build_and_import(&params, key, &pem);
	g_autoptr(GArray) sans = ck_test_crq_sans(crq);
	gnutls_datum_t dn = {NULL, 0};
	int rc;

	/* an empty subject is legal when the names are in the SAN (RFC 5280 4.1.2.6) */
	rc = gnutls_x509_crq_get_dn3(crq, &dn, 0);
	g_assert_true(rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE || (rc == 0 && dn.size == 0));
	gnutls_free(dn.data);
	g_assert_cmpuint(sans->len, ==, 1);
	ck_test_assert_san(sans, 0, GNUTLS_SAN_DNSNAME, dns[0], strlen(dns[0]));
	gnutls_x509_crq_deinit(crq);
	ck_test_openssl_verify_csr(pem, NULL);
}

/*
 * The request carries the signing key's public key, whatever its algorithm, and
 * is signed with @sign; openssl's reading of it shows @openssl_sign and
 * @openssl_key (NULL: not checked).
 */
static void
ck_test_build_with(CkKeyType type, gnutls_pk_algorithm_t algo, gnutls_sign_algorithm_t sign,
		   const gchar *openssl_sign, const gchar *openssl_key)
{
	const gchar *dns[] = {"algo.example", NULL};
	CkCsrParams params = {.subject = "CN=algo.example", .dns_names = dns};
	g_autoptr(CkKey) key = ck_test_key(type);
	g_autofree gchar *pem = NULL;
	gnutls_x509_crq_t crq = ck_test_build_and_import(&params, key, &pem);
	gnutls_pubkey_t from_key = NULL, from_crq = NULL;
	gnutls_datum_t a = {NULL, 0}, b = {NULL, 0};
	g_autofree gchar *text = NULL;

	g_assert_cmpint(gnutls_x509_crq_get_pk_algorithm(crq, NULL), ==, algo);
	g_assert_cmpint(gnutls_x509_crq_get_signature_algorithm(crq), ==, sign);
	g_assert_cmpint(gnutls_pubkey_init(&from_key), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(from_key, ck_key_get_privkey(key), 0, 0), ==,
			0);
	g_assert_cmpint(gnutls_pubkey_init(&from_crq), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_x509_crq(from_crq, crq, 0), ==, 0);
	g_assert_cmpint(gnutls_pubkey_export2(from_key, GNUTLS_X509_FMT_DER, &a), ==, 0);
	g_assert_cmpint(gnutls_pubkey_export2(from_crq, GNUTLS_X509_FMT_DER, &b), ==, 0);
	g_assert_cmpmem(a.data, a.size, b.data, b.size);
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(from_key);
	gnutls_pubkey_deinit(from_crq);
	gnutls_x509_crq_deinit(crq);
	ck_test_openssl_verify_csr(pem, &text);
	if (openssl_sign != NULL)
		g_assert_nonnull(strstr(text, openssl_sign));
	if (openssl_key != NULL)
		g_assert_nonnull(strstr(text, openssl_key));
}

/* A Kerberos principal travels as an otherName SAN (RFC 4556 KRB5PrincipalName). */
static void
test_csr_build_principals(void)
{
	const gchar *dns[] = {"web1.example", NULL};
	const gchar *principals[] = {"host/web1.example@EXAMPLE.ORG", "HTTP/web1.example@EXAMPLE.ORG",
				     NULL};
	CkCsrParams params = {.subject = "CN=web1.example",
			      .dns_names = dns,
			      .principals = principals};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *pem = NULL;
	gnutls_x509_crq_t crq = ck_test_build_and_import(&params, key, &pem);
	guint n_principals = 0;

	for (guint seq = 0;; seq++) {
		guint8 buf[1024];
		size_t size = sizeof(buf);
		gchar oid[128];
		size_t oid_size = sizeof(oid);
		unsigned int type = 0, critical = 0;
		gnutls_datum_t der, text = {NULL, 0};
		unsigned int virt = 0;
		int rc =
		    gnutls_x509_crq_get_subject_alt_name(crq, seq, buf, &size, &type, &critical);
		if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		g_assert_cmpint(rc, >=, 0);
		if (type == GNUTLS_SAN_DNSNAME)
			continue;
		g_assert_cmpuint(type, ==, GNUTLS_SAN_OTHERNAME);
		g_assert_cmpint(gnutls_x509_crq_get_subject_alt_othername_oid(crq, seq, oid,
									     &oid_size),
				>=, 0);
		g_assert_cmpstr(oid, ==, "1.3.6.1.5.2.2");
		der.data = buf;
		der.size = size;
		g_assert_cmpint(gnutls_x509_othername_to_virtual(oid, &der, &virt, &text), ==, 0);
		g_assert_cmpuint(virt, ==, GNUTLS_SAN_OTHERNAME_KRB5PRINCIPAL);
		g_assert_cmpuint(n_principals, <, 2);
		g_assert_cmpstr((const gchar *)text.data, ==, principals[n_principals]);
		gnutls_free(text.data);
		n_principals++;
	}
	g_assert_cmpuint(n_principals, ==, 2);
	gnutls_x509_crq_deinit(crq);
	ck_test_openssl_verify_csr(pem, NULL);

	/* and a bad one is refused before anything is signed */
	{
		const gchar *bad[] = {"no-realm", NULL};
		CkCsrParams bad_params = {.subject = "CN=x", .principals = bad};
		g_autoptr(GError) error = NULL;
		g_assert_false(ck_csr_validate(&bad_params, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "no-realm"));
	}
}

static void
test_csr_build_ed25519(void)
{
	ck_test_build_with(CK_KEY_TYPE_ED25519, GNUTLS_PK_EDDSA_ED25519, GNUTLS_SIGN_EDDSA_ED25519,
			   "ED25519", NULL);
}

static void
test_csr_build_rsa(void)
{
	/* RSA keeps SHA-256 at every size: what every CA takes */
	ck_test_build_with(CK_KEY_TYPE_RSA_2048, GNUTLS_PK_RSA, GNUTLS_SIGN_RSA_SHA256,
			   "sha256WithRSAEncryption", NULL);
	ck_test_build_with(CK_KEY_TYPE_RSA_3072, GNUTLS_PK_RSA, GNUTLS_SIGN_RSA_SHA256,
			   "sha256WithRSAEncryption", NULL);
}

/* An EC key signs its request with the hash of its curve's strength. */
static void
test_csr_build_ec_p256(void)
{
	ck_test_build_with(CK_KEY_TYPE_EC_P256, GNUTLS_PK_ECDSA, GNUTLS_SIGN_ECDSA_SHA256,
			   "ecdsa-with-SHA256", "NIST CURVE: P-256");
}

static void
test_csr_build_ec_p384(void)
{
	ck_test_build_with(CK_KEY_TYPE_EC_P384, GNUTLS_PK_ECDSA, GNUTLS_SIGN_ECDSA_SHA384,
			   "ecdsa-with-SHA384", "NIST CURVE: P-384");
}

static void
test_csr_build_ec_p521(void)
{
	ck_test_build_with(CK_KEY_TYPE_EC_P521, GNUTLS_PK_ECDSA, GNUTLS_SIGN_ECDSA_SHA512,
			   "ecdsa-with-SHA512", "NIST CURVE: P-521");
}

static void
test_csr_build_rejects(void)
{
	const gchar *bad_ip[] = {"999.1.1.1", NULL};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autoptr(GError) error = NULL;
	CkCsrParams params = {.subject = "this is not a DN"};
	g_autofree gchar *pem = ck_csr_build(&params, ck_key_get_privkey(key), &error);

	g_assert_null(pem);
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_clear_error(&error);
	params = (CkCsrParams){.subject = "CN=x", .ip_addresses = bad_ip};
	g_assert_null(ck_csr_build(&params, ck_key_get_privkey(key), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
}

static void
test_csr_tampered_is_detected(void)
{
	/* the checks above would be worthless if a broken signature passed them */
	CkCsrParams params = {.subject = "CN=tamper-me.example"};
	g_autoptr(CkKey) key = ck_test_key(CK_KEY_TYPE_EC_P256);
	g_autofree gchar *pem = ck_csr_build(&params, ck_key_get_privkey(key), NULL);
	g_autofree gchar *bad = NULL;
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autofree gchar *path = NULL;
	const gchar *argv[] = {"openssl", "req", "-verify", "-noout", "-in", NULL, NULL};
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t datum;

	g_assert_nonnull(pem);
	bad = ck_test_pem_patch(pem, "NEW CERTIFICATE REQUEST", "tamper-me", "tamper-us");
	datum.data = (unsigned char *)bad;
	datum.size = strlen(bad);
	g_assert_cmpint(gnutls_x509_crq_init(&crq), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crq_verify(crq, 0), <, 0);
	gnutls_x509_crq_deinit(crq);
	path = ck_test_write_file(dir, "bad.pem", bad);
	argv[5] = path;
	/* openssl 3.0 exits 0 even then: only its message tells (hence the check above) */
	ck_test_run(argv, &out, &err);
	g_assert_null(strstr(out, "verify OK"));
	g_assert_null(strstr(err, "verify OK"));
	g_assert_true(strstr(out, "verify fail") != NULL || strstr(err, "verify fail") != NULL);
	ck_test_rm_rf(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/csr/validate/subject", test_csr_validate_subject);
	g_test_add_func("/certkeeper/csr/validate/dns-name", test_csr_validate_dns_name);
	g_test_add_func("/certkeeper/csr/validate/ip-address", test_csr_validate_ip_address);
	g_test_add_func("/certkeeper/csr/validate/email", test_csr_validate_email);
	g_test_add_func("/certkeeper/csr/validate/uri", test_csr_validate_uri);
	g_test_add_func("/certkeeper/csr/validate/spiffe-id", test_csr_validate_spiffe_id);
	g_test_add_func("/certkeeper/csr/validate/principal", test_csr_validate_principal);
	g_test_add_func("/certkeeper/csr/build/principals", test_csr_build_principals);
	g_test_add_func("/certkeeper/csr/validate/params", test_csr_validate_params);
	g_test_add_func("/certkeeper/csr/parse/key-usage", test_csr_parse_key_usage);
	g_test_add_func("/certkeeper/csr/parse/extended-key-usage",
			test_csr_parse_extended_key_usage);
	g_test_add_func("/certkeeper/csr/build/full", test_csr_build_full);
	g_test_add_func("/certkeeper/csr/build/minimal", test_csr_build_minimal);
	g_test_add_func("/certkeeper/csr/build/sans-only", test_csr_build_sans_only);
	g_test_add_func("/certkeeper/csr/build/ca-attributes", test_csr_build_ca_attributes);
	g_test_add_func("/certkeeper/csr/build/ed25519", test_csr_build_ed25519);
	g_test_add_func("/certkeeper/csr/build/rsa", test_csr_build_rsa);
	g_test_add_func("/certkeeper/csr/build/ec-p256", test_csr_build_ec_p256);
	g_test_add_func("/certkeeper/csr/build/ec-p384", test_csr_build_ec_p384);
	g_test_add_func("/certkeeper/csr/build/ec-p521", test_csr_build_ec_p521);
	g_test_add_func("/certkeeper/csr/build/rejects", test_csr_build_rejects);
	g_test_add_func("/certkeeper/csr/build/tampered-is-detected",
			test_csr_tampered_is_detected);
	return g_test_run();
}
