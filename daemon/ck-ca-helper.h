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
 */
CkCa *
ck_ca_helper_new(const gchar *name, const gchar *command, guint timeout_seconds,
		 gsize max_output, GError **error);

const gchar *
ck_ca_helper_get_command(CkCaHelper *self);

G_END_DECLS
