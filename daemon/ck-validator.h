/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-csr.h"
#include "ck-key-provider.h"

G_BEGIN_DECLS

/* What an issued certificate is checked against before it replaces anything live. */
typedef struct {
	CkKey *key;		  /* the key it must carry */
	const gchar *certificate; /* PEM */
	const gchar *chain;	  /* PEM intermediates, may be NULL */
	const gchar *anchors;	  /* PEM trust anchors; NULL: the CA published none */
	const CkCsrParams *names; /* what was asked for */
	gint64 now;		  /* ck_clock_now() */
} CkValidation;

/*
 * Checks that the certificate belongs to the key, that its validity is sane
 * (notBefore no later than a few minutes from now, notAfter ahead), that it
 * carries every requested SAN, the requested common name (as CN or as a DNS
 * name) and key usages, and that its chain verifies to the anchors (without
 * anchors: to the top of the chain the CA sent). CK_ERROR_CRYPTO says which
 * check failed and what was found.
 */
gboolean
ck_validator_check(const CkValidation *validation, GError **error);

G_END_DECLS
