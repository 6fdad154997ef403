/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-ca.h"

G_BEGIN_DECLS

#define CK_TYPE_CA_HELPER ck_ca_helper_get_type()
G_DECLARE_FINAL_TYPE(CkCaHelper, ck_ca_helper, CK, CA_HELPER, CkCa)

/*
 * A CA reached through a helper program that speaks certmonger's protocol
 * (CERTMONGER_OPERATION=SUBMIT or POLL, CERTMONGER_CSR, CERTMONGER_CA_COOKIE,
 * CERTMONGER_REQ_*; exit code = outcome; certificate on stdout). @command is a
 * command line (shell quoting allowed, no shell is run). The helper runs with a
 * scrubbed environment, @timeout_seconds to finish and @max_output bytes of stdout;
 * its stderr goes to the log.
 *
 * Besides certmonger's variables the helper finds certkeeper's own:
 * CERTKEEPER_REQUEST_ID (the request's id), CERTKEEPER_AUTH_IDENTITY ("none",
 * "current", "expired", "bootstrap" or "proof": who authenticates), CERTKEEPER_AUTH_CERTIFICATE and
 * CERTKEEPER_AUTH_KEY (that identity's files, for TLS client authentication),
 * CERTKEEPER_KEY_FILE (the key the CSR was made with, when it is a file) and
 * CERTKEEPER_VALIDITY (the wanted lifetime in seconds, when one was asked for),
 * CERTKEEPER_PROOF_PUBLIC_KEY (the request's proof key, to register) and, for
 * identity "proof", CERTKEEPER_PROOF_NONCE, _SIGNATURE and _ALGORITHM. The
 * operation CERTKEEPER-GET-PROOF-NONCE asks the CA for a nonce (first line of
 * stdout, exit 0; 6 when the CA takes no proofs).
 *
 * @kind is what CA1.Type shows: "helper", or the protocol ("acme", ...) of one of
 * certkeeper's own helpers.
 */
CkCa *
ck_ca_helper_new(const gchar *name, const gchar *kind, const gchar *command,
		 guint timeout_seconds, gsize max_output, GError **error);

const gchar *
ck_ca_helper_get_command(CkCaHelper *self);

/*
 * Splits what a CA handed back (PEM or DER; X.509 certificates or a PKCS#7
 * certs-only bundle, several PEM blocks allowed) into the leaf, the one whose
 * public key is @csr_pem's, and the chain above it as PEM, the leaf's issuer first.
 * CK_ERROR_CRYPTO when no certificate can be read.
 */
gboolean
ck_ca_helper_split_certificates(GBytes *data, const gchar *csr_pem, gchar **leaf_out,
				gchar **chain_out, GError **error);

/*
 * Reads a GET-RENEWAL-WINDOW answer: "START END" (Unix seconds, START < END),
 * then optionally the seconds until the CA wants to be asked again (0 when
 * absent). FALSE with a translated @message_out for anything else.
 */
gboolean
ck_ca_helper_parse_window(const gchar *text, gint64 *start_out, gint64 *end_out,
			  gint64 *retry_out, gchar **message_out);

/*
 * The answer to CERTKEEPER-GET-CSR-ATTRIBUTES (docs/helper-protocol.md): one item a
 * line, "key-type NAME", "challenge-password [VALUE]", "extension OID critical|
 * noncritical BASE64-DER" or "attribute OID"; blank lines and unknown keywords are
 * skipped (a later helper may say more). NULL with @message_out for a malformed
 * line.
 */
CkCaCsrAttributes *
ck_ca_helper_parse_csr_attributes(const gchar *text, gchar **message_out);

G_END_DECLS
