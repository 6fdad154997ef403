/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Test helpers on the engine's keys. Apart from ck-test-util.c because the
 * helpers' tests link that file without the engine.
 */
#include <glib.h>

#include "ck-key-provider.h"

G_BEGIN_DECLS

/* The DER SubjectPublicKeyInfo of @key: two keys are the same key iff these are equal. */
GBytes *
ck_test_public_der(CkKey *key);

G_END_DECLS
