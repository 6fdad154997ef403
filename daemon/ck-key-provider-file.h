/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-key-provider.h"

G_BEGIN_DECLS

#define CK_TYPE_KEY_PROVIDER_FILE ck_key_provider_file_get_type()
G_DECLARE_FINAL_TYPE(CkKeyProviderFile, ck_key_provider_file, CK, KEY_PROVIDER_FILE, CkKeyProvider)

/* The software key provider ("file"): keys made by GnuTLS, stored as unencrypted PKCS#8 PEM. */
CkKeyProvider *
ck_key_provider_file_new(void);

G_END_DECLS
