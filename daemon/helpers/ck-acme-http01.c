/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-acme-http01.h"
#include "ck-error.h"

#define CK_HTTP01_PREFIX "/.well-known/acme-challenge/"
/* a validation request is one short GET: anything longer is not one */
#define CK_HTTP01_MAX_REQUEST 8192
/* a peer that stalls must not keep the single-threaded responder from the CA's next try */
#define CK_HTTP01_IO_TIMEOUT 5

struct _CkAcmeHttp01 {
	GSocket *socket;
	GCancellable *cancellable;
	GThread *thread;
	GMutex lock;
	GHashTable *tokens; /* token -> key authorization, under @lock */
	guint served;       /* under @lock */
	guint16 port;
};

GSocketAddress *
ck_acme_http01_parse_listen(const gchar *listen, GError **error)
{
	g_autofree gchar *host = NULL;
	g_autoptr(GInetAddress) address = NULL;
	const gchar *port_text;
	guint64 port = 0;

	if (listen == NULL)
		goto bad;
	if (listen[0] == '[') {
		const gchar *end = strchr(listen, ']');
		if (end == NULL || end[1] != ':')
			goto bad;
		host = g_strndup(listen + 1, (gsize)(end - listen - 1));
		port_text = end + 2;
	} else {
		const gchar *colon = strrchr(listen, ':');
		if (colon == NULL || strchr(listen, ':') != colon)
			goto bad;
		host = g_strndup(listen, (gsize)(colon - listen));
		port_text = colon + 1;
	}
	if (!g_ascii_string_to_unsigned(port_text, 10, 0, 65535, &port, NULL))
		goto bad;
	if (host[0] == '\0' || g_strcmp0(host, "*") == 0)
		address = g_inet_address_new_any(G_SOCKET_FAMILY_IPV4);
	else
		address = g_inet_address_new_from_string(host);
	if (address == NULL)
		goto bad;
	return g_inet_socket_address_new(address, (guint16)port);
bad:
	g_set_error(
	    error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
	    _("'%s' is not an address to listen on: use ADDRESS:PORT, [IPv6]:PORT or :PORT"),
	    listen != NULL ? listen : "");
	return NULL;
}

static void
ck_acme_http01_answer(CkAcmeHttp01 *self, GSocket *peer)
{
	g_autoptr(GString) request = g_string_new(NULL);
	g_autoptr(GString) reply = g_string_new(NULL);
	g_autofree gchar *body = NULL;
	g_auto(GStrv) words = NULL;
	const gchar *end;
	guint status = 404;

	g_socket_set_timeout(peer, CK_HTTP01_IO_TIMEOUT);
	while ((end = strstr(request->str, "\r\n\r\n")) == NULL &&
	       request->len < CK_HTTP01_MAX_REQUEST) {
		gchar chunk[1024];
		gssize n = g_socket_receive(peer, chunk, sizeof(chunk), NULL, NULL);
		if (n <= 0)
			return;
		g_string_append_len(request, chunk, n);
	}
	if (end == NULL)
		return;
	/* "GET /.well-known/acme-challenge/TOKEN HTTP/1.1" */
	g_string_truncate(request, (gsize)(strchr(request->str, '\r') - request->str));
	words = g_strsplit(request->str, " ", 4);
	if (g_strv_length(words) == 3 &&
	    (g_strcmp0(words[0], "GET") == 0 || g_strcmp0(words[0], "HEAD") == 0) &&
	    g_str_has_prefix(words[1], CK_HTTP01_PREFIX)) {
		g_mutex_lock(&self->lock);
		body = g_strdup(
		    g_hash_table_lookup(self->tokens, words[1] + strlen(CK_HTTP01_PREFIX)));
		if (body != NULL)
			self->served++;
		g_mutex_unlock(&self->lock);
		if (body != NULL)
			status = 200;
	}
	if (body == NULL)
		body = g_strdup("not found\n");
	g_string_append_printf(reply,
			       "HTTP/1.1 %u %s\r\nContent-Type: application/octet-stream\r\n"
			       "Content-Length: %zu\r\nConnection: close\r\n\r\n",
			       status, status == 200 ? "OK" : "Not Found", strlen(body));
	if (g_strcmp0(words != NULL ? words[0] : NULL, "HEAD") != 0)
		g_string_append(reply, body);
	g_socket_send(peer, reply->str, reply->len, NULL, NULL);
	g_socket_shutdown(peer, FALSE, TRUE, NULL);
}

static gpointer
ck_acme_http01_thread(gpointer data)
{
	CkAcmeHttp01 *self = data;

	while (!g_cancellable_is_cancelled(self->cancellable)) {
		g_autoptr(GSocket) peer = g_socket_accept(self->socket, self->cancellable, NULL);
		if (peer == NULL)
			continue;
		ck_acme_http01_answer(self, peer);
		g_socket_close(peer, NULL);
	}
	return NULL;
}

CkAcmeHttp01 *
ck_acme_http01_new(const gchar *listen, GError **error)
{
	g_autoptr(GSocketAddress) address = ck_acme_http01_parse_listen(listen, error);
	g_autoptr(GSocketAddress) bound = NULL;
	g_autoptr(GError) local = NULL;
	CkAcmeHttp01 *self;

	if (address == NULL)
		return NULL;
	self = g_new0(CkAcmeHttp01, 1);
	g_mutex_init(&self->lock);
	self->tokens = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->cancellable = g_cancellable_new();
	self->socket = g_socket_new(g_socket_address_get_family(address), G_SOCKET_TYPE_STREAM,
				    G_SOCKET_PROTOCOL_TCP, &local);
	if (self->socket == NULL || !g_socket_bind(self->socket, address, TRUE, &local) ||
	    !g_socket_listen(self->socket, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    /* TRANSLATORS: ADDRESS:PORT, then the reason */
			    _("Cannot listen on %s for http-01 challenges: %s"), listen,
			    local->message);
		ck_acme_http01_free(self);
		return NULL;
	}
	bound = g_socket_get_local_address(self->socket, NULL);
	if (bound != NULL)
		self->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	self->thread = g_thread_new("acme-http01", ck_acme_http01_thread, self);
	return self;
}

guint16
ck_acme_http01_get_port(CkAcmeHttp01 *self)
{
	return self->port;
}

void
ck_acme_http01_add(CkAcmeHttp01 *self, const gchar *token, const gchar *key_authorization)
{
	g_mutex_lock(&self->lock);
	g_hash_table_replace(self->tokens, g_strdup(token), g_strdup(key_authorization));
	g_mutex_unlock(&self->lock);
}

void
ck_acme_http01_remove(CkAcmeHttp01 *self, const gchar *token)
{
	g_mutex_lock(&self->lock);
	g_hash_table_remove(self->tokens, token);
	g_mutex_unlock(&self->lock);
}

guint
ck_acme_http01_get_served(CkAcmeHttp01 *self)
{
	guint served;
	g_mutex_lock(&self->lock);
	served = self->served;
	g_mutex_unlock(&self->lock);
	return served;
}

void
ck_acme_http01_free(CkAcmeHttp01 *self)
{
	if (self == NULL)
		return;
	g_cancellable_cancel(self->cancellable);
	if (self->thread != NULL)
		g_thread_join(self->thread);
	if (self->socket != NULL)
		g_socket_close(self->socket, NULL);
	g_clear_object(&self->socket);
	g_clear_object(&self->cancellable);
	g_hash_table_unref(self->tokens);
	g_mutex_clear(&self->lock);
	g_free(self);
}
