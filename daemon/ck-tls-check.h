/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-key-provider.h"

G_BEGIN_DECLS

/*
 * The post-install TLS check: connects to @endpoint ("host:port", "[v6]:port")
 * and completes a TLS handshake presenting the new certificate, @chain and the
 * new key whenever the server asks for a client certificate. It fails when the
 * handshake fails (the server refused the new pair) and when the server presents
 * a certificate for our key that is not the new one (the service still serves
 * the old certificate). Runs in a worker thread; at most @timeout_seconds.
 */
void
ck_tls_check_async(const gchar *endpoint, CkKey *key, const gchar *certificate,
		   const gchar *chain, guint timeout_seconds, GCancellable *cancellable,
		   GAsyncReadyCallback callback, gpointer user_data);
gboolean
ck_tls_check_finish(GAsyncResult *res, GError **error);

/* Splits "host:port" / "[v6]:port"; CK_ERROR_INVALID_ARGUMENT says what is wrong. */
gboolean
ck_tls_check_parse_endpoint(const gchar *endpoint, gchar **host_out, guint16 *port_out,
			    GError **error);

G_END_DECLS
