/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <string.h>

#include "ck-error.h"
#include "ck-http.h"
#if CK_HAVE_TPM
#include "ck-tpm.h"
#endif

#define CK_HTTP_DEFAULT_TIMEOUT 30
#define CK_HTTP_DEFAULT_MAX     (1024 * 1024)
/* a status line and headers larger than this are not from a CA we want to talk to */
#define CK_HTTP_MAX_HEADER (64 * 1024)
#define CK_HTTP_MAX_LINE   (8 * 1024)

struct _CkHttpResponse {
	guint status;
	GPtrArray *names; /* lower-cased */
	GPtrArray *values;
	GBytes *body;
	GPtrArray *peer_certificates; /* GBytes (DER) */
};

/* One connection: a socket, optionally wrapped in a TLS session, and what it has read. */
typedef struct {
	const gchar *url;
	GSocketConnection *connection;
	GSocket *socket;
	gnutls_session_t session;
	gnutls_certificate_credentials_t credentials;
	gnutls_pcert_st *pcerts;
	guint n_pcerts;
	gnutls_privkey_t client_key;
	/* the socket error under the last failed TLS read or write, for a precise message */
	GError *io_error;
	GByteArray *buffer; /* received and not yet consumed, from @pos */
	gsize pos;
	gboolean eof;
} CkHttpConn;

static void
ck_http_conn_free(CkHttpConn *conn)
{
	if (conn->session != NULL)
		gnutls_deinit(conn->session);
	if (conn->credentials != NULL)
		gnutls_certificate_free_credentials(conn->credentials);
	for (guint i = 0; i < conn->n_pcerts; i++)
		gnutls_pcert_deinit(&conn->pcerts[i]);
	g_free(conn->pcerts);
	g_clear_error(&conn->io_error);
	if (conn->connection != NULL)
		g_io_stream_close(G_IO_STREAM(conn->connection), NULL, NULL);
	g_clear_object(&conn->connection);
	g_byte_array_unref(conn->buffer);
	g_free(conn);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkHttpConn, ck_http_conn_free)

void
ck_http_response_free(CkHttpResponse *response)
{
	if (response == NULL)
		return;
	g_ptr_array_unref(response->names);
	g_ptr_array_unref(response->values);
	g_bytes_unref(response->body);
	if (response->peer_certificates != NULL)
		g_ptr_array_unref(response->peer_certificates);
	g_free(response);
}

const GPtrArray *
ck_http_response_get_peer_certificates(const CkHttpResponse *response)
{
	g_return_val_if_fail(response != NULL, NULL);
	return response->peer_certificates;
}

/* What the server presented, copied out before the session goes away. */
static GPtrArray *
ck_http_conn_peer_certificates(CkHttpConn *conn)
{
	GPtrArray *certs = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	const gnutls_datum_t *list;
	unsigned int n = 0;

	if (conn->session == NULL)
		return certs;
	list = gnutls_certificate_get_peers(conn->session, &n);
	for (unsigned int i = 0; list != NULL && i < n; i++)
		g_ptr_array_add(certs, g_bytes_new(list[i].data, list[i].size));
	return certs;
}

guint
ck_http_response_get_status(const CkHttpResponse *response)
{
	g_return_val_if_fail(response != NULL, 0);
	return response->status;
}

const gchar *
ck_http_response_get_header(const CkHttpResponse *response, const gchar *name)
{
	g_return_val_if_fail(response != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	for (guint i = 0; i < response->names->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(response->names, i), name) == 0)
			return g_ptr_array_index(response->values, i);
	}
	return NULL;
}

GStrv
ck_http_response_get_headers(const CkHttpResponse *response, const gchar *name)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_return_val_if_fail(response != NULL, NULL);
	g_return_val_if_fail(name != NULL, NULL);
	for (guint i = 0; i < response->names->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(response->names, i), name) == 0)
			g_strv_builder_add(builder, g_ptr_array_index(response->values, i));
	}
	return g_strv_builder_end(builder);
}

GBytes *
ck_http_response_get_body(const CkHttpResponse *response)
{
	g_return_val_if_fail(response != NULL, NULL);
	return response->body;
}

/* Transport: GnuTLS reads and writes through the GSocket, which applies the timeout. */

static void
ck_http_conn_set_io_error(CkHttpConn *conn, GError *error)
{
	g_clear_error(&conn->io_error);
	conn->io_error = error;
	if (conn->session != NULL)
		gnutls_transport_set_errno(
		    conn->session,
		    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ? ETIMEDOUT : EIO);
}

static ssize_t
ck_http_push(gnutls_transport_ptr_t ptr, const void *data, size_t len)
{
	CkHttpConn *conn = ptr;
	GError *error = NULL;
	gssize n = g_socket_send(conn->socket, data, len, NULL, &error);
	if (n < 0) {
		ck_http_conn_set_io_error(conn, error);
		return -1;
	}
	return n;
}

static ssize_t
ck_http_pull(gnutls_transport_ptr_t ptr, void *data, size_t len)
{
	CkHttpConn *conn = ptr;
	GError *error = NULL;
	gssize n = g_socket_receive(conn->socket, data, len, NULL, &error);
	if (n < 0) {
		ck_http_conn_set_io_error(conn, error);
		return -1;
	}
	return n;
}

static int
ck_http_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	CkHttpConn *conn = ptr;
	GError *error = NULL;
	gint64 us = ms == GNUTLS_INDEFINITE_TIMEOUT ? -1 : (gint64)ms * 1000;

	if (g_socket_condition_timed_wait(conn->socket, G_IO_IN, us, NULL, &error))
		return 1;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
		g_error_free(error);
		return 0;
	}
	ck_http_conn_set_io_error(conn, error);
	return -1;
}

/* Hands GnuTLS the caller's chain and key; they stay the caller's (no copy, no free). */
static int
ck_http_retrieve_cert(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
		      const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		      gnutls_pcert_st **pcert, unsigned int *pcert_length, gnutls_privkey_t *pkey)
{
	CkHttpConn *conn = gnutls_session_get_ptr(session);
	*pcert = conn->pcerts;
	*pcert_length = conn->n_pcerts;
	*pkey = conn->client_key;
	return 0;
}

/* An error for a failed TLS operation @rc, preferring what the socket said. */
static void
ck_http_conn_tls_error(CkHttpConn *conn, int rc, const gchar *what, GError **error)
{
	/* GNUTLS_E_TIMEDOUT: the handshake's own deadline, with no socket error under it */
	if (rc == GNUTLS_E_TIMEDOUT ||
	    (conn->io_error != NULL &&
	     g_error_matches(conn->io_error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))) {
		g_set_error(error, CK_ERROR, CK_ERROR_TIMED_OUT,
			    /* TRANSLATORS: the URL, then what was going on ("TLS handshake") */
			    _("%s did not answer in time (%s)"), conn->url, what);
	} else if (conn->io_error != NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the URL, what was going on, then the reason */
			    _("The connection to %s failed (%s): %s"), conn->url, what,
			    conn->io_error->message);
	} else if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED || rc == GNUTLS_E_WARNING_ALERT_RECEIVED) {
		const gchar *alert = gnutls_alert_get_name(gnutls_alert_get(conn->session));
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the URL, what was going on, then a TLS alert's name */
			    _("%s refused the TLS connection (%s): %s"), conn->url, what,
			    alert != NULL ? alert : gnutls_strerror(rc));
	} else {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    _("The connection to %s failed (%s): %s"), conn->url, what,
			    gnutls_strerror(rc));
	}
}

static gboolean
ck_http_conn_start_tls(CkHttpConn *conn, const CkHttpOptions *options, const gchar *host,
		       gboolean host_is_ip, guint timeout, GError **error)
{
	int rc;

	rc = gnutls_certificate_allocate_credentials(&conn->credentials);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "gnutls: %s", gnutls_strerror(rc));
		return FALSE;
	}
	if (options->trust_file != NULL) {
		if (!g_file_test(options->trust_file, G_FILE_TEST_IS_REGULAR)) {
			g_set_error(error, CK_ERROR, CK_ERROR_IO,
				    _("The trust file %s does not exist or is not a file"),
				    options->trust_file);
			return FALSE;
		}
		rc = gnutls_certificate_set_x509_trust_file(conn->credentials, options->trust_file,
							    GNUTLS_X509_FMT_PEM);
		if (rc <= 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_IO,
				    _("The trust file %s holds no readable PEM certificate: %s"),
				    options->trust_file,
				    rc < 0 ? gnutls_strerror(rc) : _("none found"));
			return FALSE;
		}
	} else {
		rc = gnutls_certificate_set_x509_system_trust(conn->credentials);
		if (rc < 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_IO,
				    _("The system's trust store cannot be loaded: %s"),
				    gnutls_strerror(rc));
			return FALSE;
		}
	}
	if (options->client_key != NULL && options->client_chain_len > 0) {
		conn->pcerts = g_new0(gnutls_pcert_st, options->client_chain_len);
		for (guint i = 0; i < options->client_chain_len; i++) {
			rc =
			    gnutls_pcert_import_x509(&conn->pcerts[i], options->client_chain[i], 0);
			if (rc < 0) {
				g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
					    _("The client certificate cannot be used: %s"),
					    gnutls_strerror(rc));
				return FALSE;
			}
			conn->n_pcerts++;
		}
		conn->client_key = options->client_key;
		gnutls_certificate_set_retrieve_function2(conn->credentials, ck_http_retrieve_cert);
	}

	rc = gnutls_init(&conn->session, GNUTLS_CLIENT);
	if (rc >= 0)
		rc = gnutls_set_default_priority(conn->session);
	if (rc >= 0)
		rc = gnutls_credentials_set(conn->session, GNUTLS_CRD_CERTIFICATE,
					    conn->credentials);
	/* SNI carries host names only (RFC 6066 forbids literal addresses) */
	if (rc >= 0 && !host_is_ip)
		rc = gnutls_server_name_set(conn->session, GNUTLS_NAME_DNS, host, strlen(host));
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, "gnutls: %s", gnutls_strerror(rc));
		return FALSE;
	}
	/* checks the chain and that it names @host (an IP address against IP SANs) */
	if (!options->accept_any_peer)
		gnutls_session_set_verify_cert(conn->session, host, 0);
	gnutls_session_set_ptr(conn->session, conn);
	gnutls_transport_set_ptr(conn->session, conn);
	gnutls_transport_set_push_function(conn->session, ck_http_push);
	gnutls_transport_set_pull_function(conn->session, ck_http_pull);
	gnutls_transport_set_pull_timeout_function(conn->session, ck_http_pull_timeout);
	gnutls_handshake_set_timeout(conn->session, timeout * 1000);

#if CK_HAVE_TPM
	{
		/* a stale reason from an earlier connection must not explain this one */
		g_autoptr(GError) stale = ck_tpm_take_sign_error();
	}
#endif
	do {
		rc = gnutls_handshake(conn->session);
	} while (rc < 0 && !gnutls_error_is_fatal(rc));
#if CK_HAVE_TPM
	if (rc < 0) {
		/* a client key in a TPM that could not sign: GnuTLS knows only that it failed */
		g_autoptr(GError) sign_error = ck_tpm_take_sign_error();
		if (sign_error != NULL) {
			g_set_error(error, CK_ERROR,
				    g_error_matches(sign_error, CK_ERROR,
						    CK_ERROR_DEVICE_UNAVAILABLE)
					? CK_ERROR_CA_UNREACHABLE
					: CK_ERROR_CA_UNDERCONFIGURED,
				    /* TRANSLATORS: the URL, then why the TPM did not sign */
				    _("TLS handshake with %s failed: the client key in the TPM "
				      "cannot sign: %s"),
				    conn->url, sign_error->message);
			return FALSE;
		}
	}
#endif
	if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
		unsigned int status = gnutls_session_get_verify_cert_status(conn->session);
		gnutls_datum_t out = {NULL, 0};
		gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the URL, then GnuTLS's explanation */
			    _("The TLS certificate of %s cannot be trusted: %s"), conn->url,
			    out.data != NULL ? (const gchar *)out.data : gnutls_strerror(rc));
		gnutls_free(out.data);
		return FALSE;
	}
	if (rc < 0) {
		ck_http_conn_tls_error(conn, rc, _("TLS handshake"), error);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_http_conn_write_all(CkHttpConn *conn, const guint8 *data, gsize len, GError **error)
{
	while (len > 0) {
		gssize n;
		if (conn->session != NULL) {
			n = gnutls_record_send(conn->session, data, len);
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n < 0) {
				ck_http_conn_tls_error(conn, (int)n, _("sending the request"),
						       error);
				return FALSE;
			}
		} else {
			g_autoptr(GError) local = NULL;
			n = g_socket_send(conn->socket, (const gchar *)data, len, NULL, &local);
			if (n < 0) {
				ck_http_conn_set_io_error(conn, g_steal_pointer(&local));
				ck_http_conn_tls_error(conn, 0, _("sending the request"), error);
				return FALSE;
			}
		}
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

/* Reads more into the buffer; FALSE on error. At the end of the stream, sets @eof. */
static gboolean
ck_http_conn_fill(CkHttpConn *conn, GError **error)
{
	guint8 chunk[16384];
	gssize n;

	if (conn->eof)
		return TRUE;
	/* drop what was consumed, so the buffer holds at most one unread chunk more */
	if (conn->pos > 0) {
		g_byte_array_remove_range(conn->buffer, 0, (guint)conn->pos);
		conn->pos = 0;
	}
	for (;;) {
		if (conn->session != NULL) {
			n = gnutls_record_recv(conn->session, chunk, sizeof(chunk));
			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			/* a server that closes without close_notify: the framing tells truncation
			 */
			if (n == GNUTLS_E_PREMATURE_TERMINATION)
				n = 0;
			if (n < 0) {
				ck_http_conn_tls_error(conn, (int)n, _("reading the response"),
						       error);
				return FALSE;
			}
		} else {
			g_autoptr(GError) local = NULL;
			n = g_socket_receive(conn->socket, (gchar *)chunk, sizeof(chunk), NULL,
					     &local);
			if (n < 0) {
				ck_http_conn_set_io_error(conn, g_steal_pointer(&local));
				ck_http_conn_tls_error(conn, 0, _("reading the response"), error);
				return FALSE;
			}
		}
		break;
	}
	if (n == 0)
		conn->eof = TRUE;
	else
		g_byte_array_append(conn->buffer, chunk, (guint)n);
	return TRUE;
}

static gsize
ck_http_conn_available(CkHttpConn *conn)
{
	return conn->buffer->len - conn->pos;
}

static gboolean
ck_http_malformed(CkHttpConn *conn, const gchar *what, GError **error)
{
	g_set_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE,
		    /* TRANSLATORS: the URL, then what is wrong with its answer */
		    _("%s sent a malformed HTTP response: %s"), conn->url, what);
	return FALSE;
}

/* One line ending in CRLF (or LF), without it, at most @max bytes long. */
static gchar *
ck_http_conn_read_line(CkHttpConn *conn, gsize max, GError **error)
{
	gsize scanned = 0;

	for (;;) {
		const guint8 *start = conn->buffer->data + conn->pos;
		const guint8 *nl =
		    memchr(start + scanned, '\n', ck_http_conn_available(conn) - scanned);
		if (nl != NULL) {
			gsize len = (gsize)(nl - start);
			gchar *line = g_strndup((const gchar *)start,
						len > 0 && nl[-1] == '\r' ? len - 1 : len);
			conn->pos += len + 1;
			return line;
		}
		scanned = ck_http_conn_available(conn);
		if (scanned > max) {
			ck_http_malformed(conn, _("a header line is too long"), error);
			return NULL;
		}
		if (conn->eof) {
			ck_http_malformed(conn, _("the connection closed inside the header"),
					  error);
			return NULL;
		}
		if (!ck_http_conn_fill(conn, error))
			return NULL;
	}
}

static gboolean
ck_http_too_large(CkHttpConn *conn, gsize max, GError **error)
{
	g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
		    /* TRANSLATORS: the URL, then the limit in bytes */
		    _("The response from %s is larger than the limit of %lu bytes"), conn->url,
		    (gulong)max);
	return FALSE;
}

/* Appends exactly @len bytes to @out. */
static gboolean
ck_http_conn_read_exact(CkHttpConn *conn, gsize len, GByteArray *out, GError **error)
{
	while (len > 0) {
		gsize take = MIN(len, ck_http_conn_available(conn));
		if (take > 0) {
			g_byte_array_append(out, conn->buffer->data + conn->pos, (guint)take);
			conn->pos += take;
			len -= take;
			continue;
		}
		if (conn->eof)
			return ck_http_malformed(conn, _("the body is shorter than announced"),
						 error);
		if (!ck_http_conn_fill(conn, error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
ck_http_read_chunked(CkHttpConn *conn, gsize max, GByteArray *out, GError **error)
{
	for (;;) {
		g_autofree gchar *line = ck_http_conn_read_line(conn, CK_HTTP_MAX_LINE, error);
		g_autofree gchar *crlf = NULL;
		gchar *end = NULL;
		guint64 size;

		if (line == NULL)
			return FALSE;
		/* chunk extensions after ';' carry nothing we use */
		size = g_ascii_strtoull(line, &end, 16);
		if (end == line || (*end != '\0' && *end != ';' && *end != ' ' && *end != '\t'))
			return ck_http_malformed(conn, _("a chunk size is not hexadecimal"), error);
		if (size == 0)
			break;
		if (size > max || out->len + size > max)
			return ck_http_too_large(conn, max, error);
		if (!ck_http_conn_read_exact(conn, (gsize)size, out, error))
			return FALSE;
		crlf = ck_http_conn_read_line(conn, CK_HTTP_MAX_LINE, error);
		if (crlf == NULL)
			return FALSE;
		if (crlf[0] != '\0')
			return ck_http_malformed(conn, _("a chunk does not end where announced"),
						 error);
	}
	/* trailers: read and ignore up to the blank line */
	for (guint n = 0;; n++) {
		g_autofree gchar *line = NULL;
		if (n > 100)
			return ck_http_malformed(conn, _("too many trailer fields"), error);
		line = ck_http_conn_read_line(conn, CK_HTTP_MAX_LINE, error);
		if (line == NULL)
			return FALSE;
		if (line[0] == '\0')
			return TRUE;
	}
}

static gboolean
ck_http_read_to_eof(CkHttpConn *conn, gsize max, GByteArray *out, GError **error)
{
	for (;;) {
		gsize take = ck_http_conn_available(conn);
		if (out->len + take > max)
			return ck_http_too_large(conn, max, error);
		g_byte_array_append(out, conn->buffer->data + conn->pos, (guint)take);
		conn->pos += take;
		if (conn->eof)
			return TRUE;
		if (!ck_http_conn_fill(conn, error))
			return FALSE;
	}
}

/* Reads a status line and header fields into @response. */
static gboolean
ck_http_read_head(CkHttpConn *conn, CkHttpResponse *response, GError **error)
{
	g_autofree gchar *status_line = ck_http_conn_read_line(conn, CK_HTTP_MAX_LINE, error);
	gsize total = 0;
	guint64 status = 0;

	if (status_line == NULL)
		return FALSE;
	if (!g_str_has_prefix(status_line, "HTTP/1.") || strlen(status_line) < 12 ||
	    status_line[8] != ' ' || !g_ascii_isdigit(status_line[9]) ||
	    !g_ascii_isdigit(status_line[10]) || !g_ascii_isdigit(status_line[11]) ||
	    (status_line[12] != '\0' && status_line[12] != ' '))
		return ck_http_malformed(conn, _("the status line is not HTTP/1.x"), error);
	status = g_ascii_strtoull(status_line + 9, NULL, 10);
	if (status < 100)
		return ck_http_malformed(conn, _("the status code is out of range"), error);
	response->status = (guint)status;
	g_ptr_array_set_size(response->names, 0);
	g_ptr_array_set_size(response->values, 0);
	for (;;) {
		g_autofree gchar *line = ck_http_conn_read_line(conn, CK_HTTP_MAX_LINE, error);
		const gchar *colon;

		if (line == NULL)
			return FALSE;
		if (line[0] == '\0')
			return TRUE;
		total += strlen(line);
		if (total > CK_HTTP_MAX_HEADER)
			return ck_http_too_large(conn, CK_HTTP_MAX_HEADER, error);
		/* obsolete line folding: continues the previous value */
		if ((line[0] == ' ' || line[0] == '\t') && response->values->len > 0) {
			guint last = response->values->len - 1;
			gchar *joined = g_strconcat(g_ptr_array_index(response->values, last), " ",
						    g_strstrip(line), NULL);
			g_free(g_ptr_array_index(response->values, last));
			response->values->pdata[last] = joined;
			continue;
		}
		colon = strchr(line, ':');
		if (colon == NULL || colon == line)
			return ck_http_malformed(conn, _("a header field has no name"), error);
		g_ptr_array_add(response->names, g_ascii_strdown(line, colon - line));
		g_ptr_array_add(response->values, g_strstrip(g_strdup(colon + 1)));
	}
}

static gboolean
ck_http_read_response(CkHttpConn *conn, const gchar *method, gsize max, CkHttpResponse *response,
		      GError **error)
{
	g_autoptr(GByteArray) body = g_byte_array_new();
	const gchar *transfer_encoding;
	const gchar *content_length;

	/* interim answers (100 Continue, 103 Early Hints) precede the real one */
	do {
		if (!ck_http_read_head(conn, response, error))
			return FALSE;
	} while (response->status >= 100 && response->status < 200);

	transfer_encoding = ck_http_response_get_header(response, "Transfer-Encoding");
	content_length = ck_http_response_get_header(response, "Content-Length");
	if (g_strcmp0(method, "HEAD") == 0 || response->status == 204 || response->status == 304) {
		/* no body by definition */
	} else if (transfer_encoding != NULL) {
		if (g_ascii_strcasecmp(transfer_encoding, "chunked") != 0)
			return ck_http_malformed(conn, _("unsupported Transfer-Encoding"), error);
		if (!ck_http_read_chunked(conn, max, body, error))
			return FALSE;
	} else if (content_length != NULL) {
		guint64 length = 0;
		if (!g_ascii_string_to_unsigned(content_length, 10, 0, G_MAXUINT64, &length, NULL))
			return ck_http_malformed(conn, _("Content-Length is not a number"), error);
		if (length > max)
			return ck_http_too_large(conn, max, error);
		if (!ck_http_conn_read_exact(conn, (gsize)length, body, error))
			return FALSE;
	} else if (!ck_http_read_to_eof(conn, max, body, error)) {
		return FALSE;
	}
	response->body = g_byte_array_free_to_bytes(g_steal_pointer(&body));
	return TRUE;
}

static gboolean
ck_http_is_ip(const gchar *host)
{
	return g_hostname_is_ip_address(host);
}

CkHttpResponse *
ck_http_request(const CkHttpOptions *options, const gchar *method, const gchar *url,
		const gchar *content_type, GBytes *body, GError **error)
{
	static const CkHttpOptions defaults = {0};
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) local = NULL;
	g_autoptr(GSocketClient) client = NULL;
	g_autoptr(GSocketConnectable) address = NULL;
	g_autoptr(CkHttpConn) conn = NULL;
	g_autoptr(GString) request = NULL;
	g_autofree gchar *host_header = NULL;
	CkHttpResponse *response;
	const gchar *scheme, *host, *path, *query;
	gboolean https;
	gint port;
	guint timeout;
	gsize max;

	g_return_val_if_fail(method != NULL, NULL);
	g_return_val_if_fail(url != NULL, NULL);
	if (options == NULL)
		options = &defaults;
	timeout = options->timeout_seconds > 0 ? options->timeout_seconds : CK_HTTP_DEFAULT_TIMEOUT;
	max = options->max_response > 0 ? options->max_response : CK_HTTP_DEFAULT_MAX;

	uri = g_uri_parse(url, G_URI_FLAGS_ENCODED, &local);
	if (uri == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, _("'%s' is not a URL: %s"),
			    url, local->message);
		return NULL;
	}
	scheme = g_uri_get_scheme(uri);
	host = g_uri_get_host(uri);
	https = g_ascii_strcasecmp(scheme, "https") == 0;
	if ((!https && g_ascii_strcasecmp(scheme, "http") != 0) || host == NULL ||
	    host[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("'%s' is not an http:// or https:// URL with a host"), url);
		return NULL;
	}
	port = g_uri_get_port(uri);
	if (port <= 0)
		port = https ? 443 : 80;

	conn = g_new0(CkHttpConn, 1);
	conn->url = url;
	conn->buffer = g_byte_array_new();
	client = g_socket_client_new();
	g_socket_client_set_timeout(client, timeout);
	/* the helpers talk to the CA directly: a proxy from the environment would be a surprise */
	g_socket_client_set_enable_proxy(client, FALSE);
	address = g_network_address_new(host, (guint16)port);
	conn->connection = g_socket_client_connect(client, address, NULL, &local);
	if (conn->connection == NULL) {
		g_set_error(error, CK_ERROR,
			    g_error_matches(local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)
				? CK_ERROR_TIMED_OUT
				: CK_ERROR_CA_UNREACHABLE,
			    /* TRANSLATORS: the URL, then the reason */
			    _("Cannot connect to %s: %s"), url, local->message);
		return NULL;
	}
	conn->socket = g_socket_connection_get_socket(conn->connection);
	if (https &&
	    !ck_http_conn_start_tls(conn, options, host, ck_http_is_ip(host), timeout, error))
		return NULL;

	/* the request: "Connection: close" lets the server end a body of unknown length */
	path = g_uri_get_path(uri);
	query = g_uri_get_query(uri);
	if (strchr(host, ':') != NULL)
		host_header = g_strdup_printf("[%s]", host);
	else
		host_header = g_strdup(host);
	if (port != (https ? 443 : 80)) {
		gchar *with_port = g_strdup_printf("%s:%d", host_header, port);
		g_free(host_header);
		host_header = with_port;
	}
	request = g_string_new(NULL);
	g_string_append_printf(request, "%s %s%s%s HTTP/1.1\r\n", method,
			       path[0] != '\0' ? path : "/", query != NULL ? "?" : "",
			       query != NULL ? query : "");
	g_string_append_printf(request,
			       "Host: %s\r\nUser-Agent: certkeeper/%s\r\nAccept: */*\r\n"
			       "Connection: close\r\n",
			       host_header, PACKAGE_VERSION);
	for (guint i = 0; options->headers != NULL && options->headers[i] != NULL; i++) {
		const gchar *line = options->headers[i];
		/* a line break would let a value inject headers or a second request */
		if (strpbrk(line, "\r\n") != NULL || strchr(line, ':') == NULL || line[0] == ':') {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Request header %u for %s is not one \"Name: value\" line"),
				    i + 1, url);
			return NULL;
		}
		g_string_append_printf(request, "%s\r\n", line);
	}
	if (body != NULL) {
		if (content_type != NULL)
			g_string_append_printf(request, "Content-Type: %s\r\n", content_type);
		g_string_append_printf(request, "Content-Length: %" G_GSIZE_FORMAT "\r\n",
				       g_bytes_get_size(body));
	}
	g_string_append(request, "\r\n");
	if (body != NULL)
		g_string_append_len(request, g_bytes_get_data(body, NULL),
				    (gssize)g_bytes_get_size(body));
	if (!ck_http_conn_write_all(conn, (const guint8 *)request->str, request->len, error))
		return NULL;

	response = g_new0(CkHttpResponse, 1);
	response->names = g_ptr_array_new_with_free_func(g_free);
	response->values = g_ptr_array_new_with_free_func(g_free);
	if (!ck_http_read_response(conn, method, max, response, error)) {
		ck_http_response_free(response);
		return NULL;
	}
	response->peer_certificates = ck_http_conn_peer_certificates(conn);
	return response;
}

gboolean
ck_http_load_client_key(const gchar *path, const gchar *what, gnutls_privkey_t *key_out,
			GError **error)
{
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	g_autoptr(GError) local = NULL;
	gnutls_datum_t datum;
	gnutls_privkey_t key = NULL;
	int rc;

	*key_out = NULL;
	if (!g_file_get_contents(path, &pem, &len, &local)) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO, "%s: %s", what, local->message);
		return FALSE;
	}
	if (strstr(pem, "-----BEGIN TSS2 PRIVATE KEY-----") != NULL) {
#if CK_HAVE_TPM
		gnutls_pubkey_t pubkey = NULL;
		if (!ck_tpm_load_key_file(g_getenv(CK_TPM_TCTI_ENV), path, key_out, &pubkey,
					  &local)) {
			g_set_error(error, local->domain, local->code, "%s: %s", what,
				    local->message);
			return FALSE;
		}
		gnutls_pubkey_deinit(pubkey);
		return TRUE;
#else
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: what key, then its path */
			    _("%s: %s is a TPM key, but this build of certkeeper has no TPM "
			      "support"),
			    what, path);
		return FALSE;
#endif
	}
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)len;
	rc = gnutls_privkey_init(&key);
	if (rc >= 0)
		rc = gnutls_privkey_import_x509_raw(key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
	memset(pem, 0, len);
	if (rc < 0) {
		if (key != NULL)
			gnutls_privkey_deinit(key);
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    /* TRANSLATORS: what key, its path, then GnuTLS's reason */
			    _("%s: %s holds no unencrypted PEM private key nor TPM key: %s"), what,
			    path, gnutls_strerror(rc));
		return FALSE;
	}
	*key_out = key;
	return TRUE;
}
