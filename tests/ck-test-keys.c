/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <gnutls/abstract.h>

#include "ck-test-keys.h"

GBytes *
ck_test_public_der(CkKey *key)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t der = {NULL, 0};
	GBytes *bytes;

	g_assert_cmpint(gnutls_pubkey_init(&pub), ==, 0);
	g_assert_cmpint(gnutls_pubkey_import_privkey(pub, ck_key_get_privkey(key), 0, 0), ==, 0);
	g_assert_cmpint(gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &der), ==, 0);
	bytes = g_bytes_new(der.data, der.size);
	gnutls_free(der.data);
	gnutls_pubkey_deinit(pub);
	return bytes;
}
