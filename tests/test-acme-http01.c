/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The http-01 responder, fetched with the helpers' HTTP client over loopback. */
#include "config.h"

#include <string.h>

#include "ck-acme-http01.h"
#include "ck-error.h"
#include "ck-http.h"

static CkHttpResponse *
ck_test_get(guint16 port, const gchar *path, const gchar *method)
{
	g_autofree gchar *url = g_strdup_printf("http://127.0.0.1:%u%s", port, path);
	CkHttpOptions options = {.timeout_seconds = 5};
	g_autoptr(GError) error = NULL;
	CkHttpResponse *r = ck_http_request(&options, method, url, NULL, NULL, &error);
	g_assert_no_error(error);
	return r;
}

static gchar *
ck_test_body(CkHttpResponse *r)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(ck_http_response_get_body(r), &len);
	return g_strndup(data, len);
}

static void
test_http01_parse_listen(void)
{
	const gchar *good[] = {"127.0.0.1:80", "[::1]:8080", ":80", "*:0", "0.0.0.0:5002", NULL};
	const gchar *bad[] = {"127.0.0.1",   "::1:80",        "[::1]80", "host.example:80",
			      "127.0.0.1:x", "1.2.3.4:65536", "",        NULL};
	g_autoptr(GError) error = NULL;

	for (guint i = 0; good[i] != NULL; i++) {
		g_autoptr(GSocketAddress) a = ck_acme_http01_parse_listen(good[i], &error);
		g_assert_no_error(error);
		g_assert_nonnull(a);
	}
	{
		g_autoptr(GSocketAddress) a = ck_acme_http01_parse_listen("[::1]:8080", NULL);
		GInetAddress *ip = g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(a));
		g_autofree gchar *text = g_inet_address_to_string(ip);
		g_assert_cmpstr(text, ==, "::1");
		g_assert_cmpuint(g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(a)), ==,
				 8080);
	}
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GSocketAddress) a = ck_acme_http01_parse_listen(bad[i], &error);
		g_assert_null(a);
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, bad[i]));
		g_clear_error(&error);
	}
}

static void
test_http01_serve(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkAcmeHttp01) responder = ck_acme_http01_new("127.0.0.1:0", &error);
	g_autoptr(CkHttpResponse) r = NULL;
	g_autofree gchar *body = NULL;
	guint16 port;

	g_assert_no_error(error);
	port = ck_acme_http01_get_port(responder);
	g_assert_cmpuint(port, >, 0);
	ck_acme_http01_add(responder, "tok-1", "tok-1.thumb");

	r = ck_test_get(port, "/.well-known/acme-challenge/tok-1", "GET");
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	body = ck_test_body(r);
	g_assert_cmpstr(body, ==, "tok-1.thumb");
	g_assert_cmpuint(ck_acme_http01_get_served(responder), ==, 1);
	g_clear_pointer(&r, ck_http_response_free);
	g_clear_pointer(&body, g_free);

	/* HEAD: the headers, no body */
	r = ck_test_get(port, "/.well-known/acme-challenge/tok-1", "HEAD");
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	g_assert_cmpstr(ck_http_response_get_header(r, "Content-Length"), ==, "11");
	g_clear_pointer(&r, ck_http_response_free);

	/* anything else is not found, and counts for nothing */
	for (const gchar *const *path =
		 (const gchar *const[]){"/.well-known/acme-challenge/other", "/",
					"/.well-known/acme-challenge/", NULL};
	     *path != NULL; path++) {
		r = ck_test_get(port, *path, "GET");
		g_assert_cmpuint(ck_http_response_get_status(r), ==, 404);
		g_clear_pointer(&r, ck_http_response_free);
	}
	g_assert_cmpuint(ck_acme_http01_get_served(responder), ==, 2);

	/* removed: gone */
	ck_acme_http01_remove(responder, "tok-1");
	r = ck_test_get(port, "/.well-known/acme-challenge/tok-1", "GET");
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 404);
}

static void
test_http01_port_in_use(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CkAcmeHttp01) first = ck_acme_http01_new("127.0.0.1:0", &error);
	g_autofree gchar *same = NULL;
	CkAcmeHttp01 *second;

	g_assert_no_error(error);
	same = g_strdup_printf("127.0.0.1:%u", ck_acme_http01_get_port(first));
	second = ck_acme_http01_new(same, &error);
	g_assert_null(second);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED);
	g_assert_nonnull(strstr(error->message, same));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/acme-http01/parse-listen", test_http01_parse_listen);
	g_test_add_func("/certkeeper/acme-http01/serve", test_http01_serve);
	g_test_add_func("/certkeeper/acme-http01/port-in-use", test_http01_port_in_use);
	return g_test_run();
}
