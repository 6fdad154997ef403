/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * The http-01 responder (RFC 8555 §8.3): a tiny HTTP server on its own thread
 * that answers GET /.well-known/acme-challenge/TOKEN with the key
 * authorization while the helper waits for the CA to validate. Anything else
 * gets a 404. It only lives as long as one helper run.
 */
typedef struct _CkAcmeHttp01 CkAcmeHttp01;

/* Listens on @listen ("ADDR:PORT", "[V6ADDR]:PORT", ":PORT" for every address). */
CkAcmeHttp01 *ck_acme_http01_new(const gchar *listen, GError **error);
/* The port actually bound (useful with port 0). */
guint16 ck_acme_http01_get_port(CkAcmeHttp01 *self);
void ck_acme_http01_add(CkAcmeHttp01 *self, const gchar *token, const gchar *key_authorization);
void ck_acme_http01_remove(CkAcmeHttp01 *self, const gchar *token);
/* How many challenge requests it has answered with a key authorization. */
guint ck_acme_http01_get_served(CkAcmeHttp01 *self);
/* Stops the thread and closes the socket. */
void ck_acme_http01_free(CkAcmeHttp01 *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkAcmeHttp01, ck_acme_http01_free)

/* Splits "ADDR:PORT" / "[V6]:PORT" / ":PORT"; CK_ERROR_INVALID_ARGUMENT says what is wrong. */
GSocketAddress *ck_acme_http01_parse_listen(const gchar *listen, GError **error);

G_END_DECLS
