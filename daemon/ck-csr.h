/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gnutls/abstract.h>
#include <glib.h>

G_BEGIN_DECLS

/* An extension a CA asked for verbatim (its CSR attributes): added as given. */
typedef struct {
	gchar *oid;	  /* extnID, dotted */
	gboolean critical;
	GBytes *value;	  /* extnValue: the DER inside the OCTET STRING */
} CkCsrExtension;

CkCsrExtension *
ck_csr_extension_new(const gchar *oid, gboolean critical, GBytes *value);
void
ck_csr_extension_free(CkCsrExtension *extension);

/* What a certificate signing request asks for. NULL or empty lists are allowed. */
typedef struct {
	const gchar *subject;		      /* RFC 4514 DN, e.g. "CN=web1,O=Example" */
	const gchar *const *dns_names;	      /* DNS SANs */
	const gchar *const *ip_addresses;     /* IPv4/IPv6 SANs, textual */
	const gchar *const *emails;	      /* rfc822Name SANs */
	const gchar *const *uris;	      /* URI SANs, e.g. a SPIFFE ID */
	const gchar *const *principals;	      /* Kerberos principal name SANs */
	const gchar *const *key_usage;	      /* names, see ck_csr_parse_key_usage() */
	const gchar *const *extended_key_usage; /* names or dotted OIDs */
	/* what the CA's CSR attributes add: a challengePassword attribute (NULL: none)
	 * and extensions (CkCsrExtension; one the fields above make already, e.g.
	 * subjectAltName, is left out: the request's own settings win) */
	const gchar *challenge_password;
	GPtrArray *extensions;
} CkCsrParams;

/* Checks a DN string parses (GnuTLS syntax); CK_ERROR_INVALID_ARGUMENT names the problem. */
gboolean
ck_csr_validate_subject(const gchar *subject, GError **error);
/* Checks a textual IPv4 or IPv6 address. */
gboolean
ck_csr_validate_ip_address(const gchar *address, GError **error);
/* A DNS name: labels of [A-Za-z0-9-] (a leading "*." wildcard allowed), at most 253 chars. */
gboolean
ck_csr_validate_dns_name(const gchar *name, GError **error);
/* An email address with one '@' and no spaces. */
gboolean
ck_csr_validate_email(const gchar *email, GError **error);
/* An absolute URI with a scheme (spiffe://trust.domain/path, https://...); a
 * spiffe:// URI must also follow the SPIFFE ID rules (lowercase trust domain,
 * no port, user info, query or fragment, no empty or dot path segments). */
gboolean
ck_csr_validate_uri(const gchar *uri, GError **error);
gboolean
ck_csr_validate_spiffe_id(const gchar *uri, GError **error);
/* A Kerberos principal name: NAME[/INSTANCE...]@REALM. */
gboolean
ck_csr_validate_principal(const gchar *principal, GError **error);

/*
 * Key usage names (RFC 5280 spelling, case-insensitive): digitalSignature,
 * nonRepudiation (contentCommitment), keyEncipherment, dataEncipherment,
 * keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly. Gives the
 * GnuTLS GNUTLS_KEY_* bit mask.
 */
gboolean
ck_csr_parse_key_usage(const gchar *const *names, guint *usage_out, GError **error);

/*
 * Extended key usage names: serverAuth, clientAuth, codeSigning, emailProtection,
 * timeStamping, OCSPSigning, or a dotted OID. Gives the OIDs, NULL-terminated.
 */
gboolean
ck_csr_parse_extended_key_usage(const gchar *const *names, gchar ***oids_out, GError **error);

/* Checks every field of @params without building anything. */
gboolean
ck_csr_validate(const CkCsrParams *params, GError **error);

/* Builds and signs a PKCS#10 request with @key; returns it PEM-encoded. */
gchar *
ck_csr_build(const CkCsrParams *params, gnutls_privkey_t key, GError **error);
/* The same for keys GnuTLS cannot derive the public key of (TPM keys): @pubkey is
 * @key's public key, or NULL to derive it. */
gchar *
ck_csr_build_with_pubkey(const CkCsrParams *params, gnutls_privkey_t key, gnutls_pubkey_t pubkey,
			 GError **error);

G_END_DECLS
