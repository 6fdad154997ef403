/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <string.h>

#include "ck-error.h"
#include "ck-tls-check.h"

typedef struct {
	gchar *endpoint;
	CkKey *key;
	gchar *certificate;
	gchar *chain;
	guint timeout;
	gnutls_pcert_st *pcerts;
	unsigned int n_pcerts;
} CkTlsCheck;

static void
ck_tls_check_free(CkTlsCheck *check)
{
	for (unsigned int i = 0; i < check->n_pcerts; i++)
		gnutls_pcert_deinit(&check->pcerts[i]);
	g_free(check->pcerts);
	ck_key_unref(check->key);
	g_free(check->endpoint);
	g_free(check->certificate);
	g_free(check->chain);
	g_free(check);
}

gboolean
ck_tls_check_parse_endpoint(const gchar *endpoint, gchar **host_out, guint16 *port_out,
			    GError **error)
{
	const gchar *colon;
	g_autofree gchar *host = NULL;
	guint64 port = 0;

	if (endpoint == NULL)
		goto bad;
	if (endpoint[0] == '[') {
		const gchar *end = strchr(endpoint, ']');
		if (end == NULL || end[1] != ':')
			goto bad;
		host = g_strndup(endpoint + 1, (gsize)(end - endpoint - 1));
		colon = end + 1;
	} else {
		colon = strrchr(endpoint, ':');
		if (colon == NULL || strchr(endpoint, ':') != colon)
			goto bad;
		host = g_strndup(endpoint, (gsize)(colon - endpoint));
	}
	if (host[0] == '\0' || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
		goto bad;
	*host_out = g_steal_pointer(&host);
	*port_out = (guint16)port;
	return TRUE;
bad:
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    _("'%s' is not an endpoint: use HOST:PORT or [IPv6]:PORT"),
		    endpoint != NULL ? endpoint : "");
	return FALSE;
}

/* Hands GnuTLS the new pair whenever the server asks for a client certificate. */
static int
ck_tls_check_retrieve_cb(gnutls_session_t session, const gnutls_datum_t *req_ca_rdn, int nreqs,
			 const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
			 gnutls_pcert_st **pcert, unsigned int *pcert_length,
			 gnutls_privkey_t *pkey)
{
	CkTlsCheck *check = gnutls_session_get_ptr(session);
	*pcert = check->pcerts;
	*pcert_length = check->n_pcerts;
	*pkey = ck_key_get_privkey(check->key);
	return 0;
}

static gboolean
ck_tls_check_load_pcerts(CkTlsCheck *check, GError **error)
{
	g_autofree gchar *all = g_strconcat(check->certificate, check->chain != NULL ? check->chain : "",
					    NULL);
	gnutls_datum_t datum = {(unsigned char *)all, (unsigned int)strlen(all)};
	unsigned int n = 16;
	int rc;

	check->pcerts = g_new0(gnutls_pcert_st, n);
	rc = gnutls_pcert_list_import_x509_raw(check->pcerts, &n, &datum, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot use the new certificate for the TLS check: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	check->n_pcerts = n;
	return TRUE;
}

/* When the server presents a certificate for our key, it must be the new one. */
static gboolean
ck_tls_check_peer(CkTlsCheck *check, gnutls_session_t session, GError **error)
{
	unsigned int n = 0;
	const gnutls_datum_t *peers = gnutls_certificate_get_peers(session, &n);
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t ours = {(unsigned char *)check->certificate,
			       (unsigned int)strlen(check->certificate)};
	gnutls_x509_crt_t new_crt = NULL;
	guint8 a[64], b[64];
	size_t a_size = sizeof(a), b_size = sizeof(b);
	gboolean ok = TRUE;

	if (peers == NULL || n == 0 || gnutls_x509_crt_init(&crt) < 0)
		return TRUE;
	if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) >= 0 &&
	    ck_key_matches_certificate(check->key, crt, NULL) &&
	    gnutls_x509_crt_init(&new_crt) >= 0 &&
	    gnutls_x509_crt_import(new_crt, &ours, GNUTLS_X509_FMT_PEM) >= 0 &&
	    gnutls_x509_crt_get_serial(crt, a, &a_size) >= 0 &&
	    gnutls_x509_crt_get_serial(new_crt, b, &b_size) >= 0 &&
	    (a_size != b_size || memcmp(a, b, a_size) != 0)) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    _("%s still presents an older certificate for this key"),
			    check->endpoint);
		ok = FALSE;
	}
	if (new_crt != NULL)
		gnutls_x509_crt_deinit(new_crt);
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/*
 * Under TLS 1.3 the client's handshake is over before the server has judged the
 * client certificate: a refusal is an alert that comes afterwards. So close with
 * close_notify and wait for the server's: an alert then means it refused the new
 * pair; a server that only hangs up (or says nothing until the timeout) did not.
 */
static gboolean
ck_tls_check_verdict(CkTlsCheck *check, gnutls_session_t session, GError **error)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)check->timeout * G_USEC_PER_SEC;
	int rc;

	gnutls_record_set_timeout(session, check->timeout * 1000);
	do {
		rc = gnutls_bye(session, GNUTLS_SHUT_RDWR);
	} while ((rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) &&
		 g_get_monotonic_time() < deadline);
	if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    /* TRANSLATORS: the endpoint, then the TLS alert (e.g. "CA is unknown") */
			    _("TLS check: %s refused the new certificate: %s"), check->endpoint,
			    gnutls_alert_get_name(gnutls_alert_get(session)));
		return FALSE;
	}
	return TRUE;
}

static void
ck_tls_check_set_blocking(int fd, const struct timeval *limit)
{
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		(void)fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, limit, sizeof(*limit));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, limit, sizeof(*limit));
}

static gboolean
ck_tls_check_run(CkTlsCheck *check, GCancellable *cancellable, GError **error)
{
	g_autofree gchar *host = NULL;
	guint16 port = 0;
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) connection = NULL;
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_session_t session = NULL;
	guint8 addr[16];
	gboolean ok = FALSE;
	int rc;

	if (!ck_tls_check_parse_endpoint(check->endpoint, &host, &port, error) ||
	    !ck_tls_check_load_pcerts(check, error))
		return FALSE;
	g_socket_client_set_timeout(client, check->timeout);
	connection = g_socket_client_connect_to_host(client, host, port, cancellable, error);
	if (connection == NULL) {
		g_prefix_error(error, _("TLS check: cannot connect to %s: "), check->endpoint);
		return FALSE;
	}
	rc = gnutls_certificate_allocate_credentials(&cred);
	if (rc >= 0)
		gnutls_certificate_set_retrieve_function2(cred, ck_tls_check_retrieve_cb);
	if (rc >= 0)
		rc = gnutls_init(&session, GNUTLS_CLIENT);
	if (rc >= 0)
		rc = gnutls_set_default_priority(session);
	if (rc >= 0)
		rc = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred);
	if (rc >= 0 && inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
		rc = gnutls_server_name_set(session, GNUTLS_NAME_DNS, host, strlen(host));
	if (rc >= 0) {
		GSocket *socket = g_socket_connection_get_socket(connection);
		struct timeval limit = {.tv_sec = check->timeout};
		/*
		 * GSocket descriptors are non-blocking: GnuTLS would spin on
		 * GNUTLS_E_AGAIN. This runs in a worker thread, so block, with the
		 * kernel bounding every read and write by the check's time limit.
		 */
		g_socket_set_blocking(socket, TRUE);
		ck_tls_check_set_blocking(g_socket_get_fd(socket), &limit);
		gnutls_session_set_ptr(session, check);
		gnutls_transport_set_int(session, g_socket_get_fd(socket));
		gnutls_handshake_set_timeout(session, check->timeout * 1000);
		do {
			rc = gnutls_handshake(session);
		} while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
	}
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    /* TRANSLATORS: the endpoint, then GnuTLS's reason */
			    _("TLS check: the handshake with %s failed: %s"), check->endpoint,
			    gnutls_strerror(rc));
	} else {
		ok = ck_tls_check_peer(check, session, error) &&
		     ck_tls_check_verdict(check, session, error);
	}
	if (session != NULL)
		gnutls_deinit(session);
	if (cred != NULL)
		gnutls_certificate_free_credentials(cred);
	return ok;
}

static void
ck_tls_check_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	GError *error = NULL;
	if (ck_tls_check_run(task_data, cancellable, &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, error);
}

void
ck_tls_check_async(const gchar *endpoint, CkKey *key, const gchar *certificate,
		   const gchar *chain, guint timeout_seconds, GCancellable *cancellable,
		   GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	CkTlsCheck *check = g_new0(CkTlsCheck, 1);

	check->endpoint = g_strdup(endpoint);
	check->key = ck_key_ref(key);
	check->certificate = g_strdup(certificate);
	check->chain = g_strdup(chain);
	check->timeout = MAX(timeout_seconds, 1);
	g_task_set_source_tag(task, ck_tls_check_async);
	g_task_set_task_data(task, check, (GDestroyNotify)ck_tls_check_free);
	g_task_run_in_thread(task, ck_tls_check_thread);
}

gboolean
ck_tls_check_finish(GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, NULL), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}
