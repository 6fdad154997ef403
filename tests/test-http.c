/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The helpers' HTTP client against real servers on loopback: a Python HTTP/1.1
 * server for framing (Content-Length, chunked, read-to-close, multiple headers,
 * sizes, slowness) and openssl s_server for TLS (trust anchors, host names, IP
 * addresses, client certificates).
 */
#include "config.h"

#include <gio/gio.h>
#include <gnutls/abstract.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "ck-error.h"
#include "ck-http.h"
#include "ck-test-util.h"

static const gchar ck_test_http_server_py[] =
    "import socket, sys, time, http.server, socketserver\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    protocol_version = 'HTTP/1.1'\n"
    "    def log_message(self, *args):\n"
    "        pass\n"
    "    def fixed(self, status, body, headers=()):\n"
    "        self.send_response(status)\n"
    "        for k, v in headers:\n"
    "            self.send_header(k, v)\n"
    "        self.send_header('Content-Length', str(len(body)))\n"
    "        self.end_headers()\n"
    "        self.wfile.write(body)\n"
    "    def chunked(self, parts):\n"
    "        self.send_response(201)\n"
    "        self.send_header('Link', '<https://example.org/a>;rel=\"up\"')\n"
    "        self.send_header('link', '<https://example.org/b>;rel=\"alternate\"')\n"
    "        self.send_header('Transfer-Encoding', 'chunked')\n"
    "        self.end_headers()\n"
    "        for p in parts:\n"
    "            self.wfile.write(b'%x;ext=1\\r\\n%s\\r\\n' % (len(p), p))\n"
    "        self.wfile.write(b'0\\r\\nX-Trailer: t\\r\\n\\r\\n')\n"
    "    def do_GET(self):\n"
    "        if self.path == '/hello':\n"
    "            self.fixed(200, b'hello, world\\n', [('X-Mixed-Case', 'yes')])\n"
    "        elif self.path == '/chunked':\n"
    "            self.chunked([b'first,', b'second,', b'third'])\n"
    "        elif self.path == '/bigchunked':\n"
    "            self.chunked([b'y' * 1000] * 200)\n"
    "        elif self.path == '/big':\n"
    "            self.send_response(200)\n"
    "            self.send_header('Content-Length', str(2 * 1024 * 1024))\n"
    "            self.end_headers()\n"
    "            try:\n"
    "                self.wfile.write(b'x' * (2 * 1024 * 1024))\n"
    "            except Exception:\n"
    "                pass\n"
    "        elif self.path == '/eof':\n"
    "            self.send_response(200)\n"
    "            self.end_headers()\n"
    "            self.wfile.write(b'until the end')\n"
    "            self.close_connection = True\n"
    "        elif self.path == '/short':\n"
    "            self.send_response(200)\n"
    "            self.send_header('Content-Length', '100')\n"
    "            self.end_headers()\n"
    "            self.wfile.write(b'only this')\n"
    "            self.close_connection = True\n"
    "        elif self.path == '/slow':\n"
    "            time.sleep(4)\n"
    "            self.fixed(200, b'late')\n"
    "        elif self.path == '/echo-header':\n"
    "            self.fixed(200, self.headers.get('X-Test', '-').encode())\n"
    "        elif self.path.startswith('/q?'):\n"
    "            self.fixed(200, self.path.encode() + b' ' + self.headers['Host'].encode())\n"
    "        else:\n"
    "            self.fixed(404, b'no such page')\n"
    "    def do_POST(self):\n"
    "        data = self.rfile.read(int(self.headers.get('Content-Length', '0')))\n"
    "        self.fixed(200, self.headers.get('Content-Type', '').encode() + b'|' + data)\n"
    "class S(socketserver.ThreadingMixIn, http.server.HTTPServer):\n"
    "    daemon_threads = True\n"
    "    address_family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n"
    "srv = S((sys.argv[1], 0), H)\n"
    "print(srv.server_address[1], flush=True)\n"
    "srv.serve_forever()\n";

/* A CA, a server certificate for localhost/127.0.0.1, one for another name, a client one. */
static const gchar ck_test_http_certs_sh[] =
    "set -e\n"
    "cd \"$1\"\n"
    "ec='-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes'\n"
    "openssl req -x509 $ec -days 2 -subj /CN=http-test-ca -keyout ca.key -out ca.pem 2>/dev/null\n"
    "openssl req -x509 $ec -days 2 -subj /CN=other-ca -keyout other.key -out other.pem "
    "2>/dev/null\n"
    "leaf() {\n"
    "  openssl req -new $ec -subj /CN=$1 -keyout $1.key -out $1.csr 2>/dev/null\n"
    "  printf '%s\\n' \"$2\" > $1.ext\n"
    "  openssl x509 -req -in $1.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
    "-extfile $1.ext -out $1.pem 2>/dev/null\n"
    "}\n"
    "leaf server 'subjectAltName=DNS:localhost,IP:127.0.0.1'\n"
    "leaf wrongname 'subjectAltName=DNS:other.example'\n"
    "leaf client 'extendedKeyUsage=clientAuth'\n"
    "echo 'hello over tls' > hello.txt\n";

typedef struct {
	gchar *dir;
	GPid http_pid;
	GPid http6_pid;
	guint http_port;
	guint http6_port;
	GPid tls_pid;
	GPid wrongname_pid;
	GPid mtls_pid;
	guint tls_port;
	guint wrongname_port;
	guint mtls_port;
	gboolean have_tls;
	gboolean have_ipv6;
} CkTestHttp;

static CkTestHttp fixture;

/* Waits until something accepts on 127.0.0.1:@port (up to 10 s). */
static gboolean
ck_test_wait_listening(guint port)
{
	for (guint i = 0; i < 200; i++) {
		g_autoptr(GSocketClient) client = g_socket_client_new();
		g_autoptr(GSocketConnection) conn =
		    g_socket_client_connect_to_host(client, "127.0.0.1", (guint16)port, NULL, NULL);
		if (conn != NULL)
			return TRUE;
		g_usleep(50 * 1000);
	}
	return FALSE;
}

/* A server must not outlive a test that aborts: it would hold meson's pipes open. */
static void
ck_test_child_setup(gpointer data)
{
	prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts the Python server bound to @address; returns its port. */
static guint
ck_test_start_python(const gchar *script, const gchar *address, GPid *pid)
{
	const gchar *argv[] = {"python3", script, address, NULL};
	g_autoptr(GError) error = NULL;
	gint out_fd = -1;
	FILE *out;
	gchar line[64] = "";
	guint64 port = 0;

	g_assert_true(g_spawn_async_with_pipes(
	    NULL, (gchar **)argv, NULL,
	    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDERR_TO_DEV_NULL,
	    ck_test_child_setup, NULL, pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);
	out = fdopen(out_fd, "r");
	g_assert_nonnull(out);
	if (fgets(line, sizeof(line), out) == NULL)
		line[0] = '\0';
	fclose(out);
	g_strstrip(line);
	if (!g_ascii_string_to_unsigned(line, 10, 1, 65535, &port, NULL))
		return 0;
	return (guint)port;
}

static void
ck_test_stop(GPid pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	g_spawn_close_pid(pid);
}

/* openssl s_server serving files from the fixture directory on a free port. */
static guint
ck_test_start_s_server(const gchar *cert, const gchar *key, gboolean require_client, GPid *pid)
{
	guint port = ck_test_free_port();
	g_autofree gchar *accept = g_strdup_printf("127.0.0.1:%u", port);
	g_autofree gchar *cert_path = g_build_filename(fixture.dir, cert, NULL);
	g_autofree gchar *key_path = g_build_filename(fixture.dir, key, NULL);
	g_autofree gchar *ca_path = g_build_filename(fixture.dir, "ca.pem", NULL);
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;

	g_ptr_array_add(argv, "openssl");
	g_ptr_array_add(argv, "s_server");
	g_ptr_array_add(argv, "-quiet");
	g_ptr_array_add(argv, "-accept");
	g_ptr_array_add(argv, accept);
	g_ptr_array_add(argv, "-cert");
	g_ptr_array_add(argv, cert_path);
	g_ptr_array_add(argv, "-key");
	g_ptr_array_add(argv, key_path);
	g_ptr_array_add(argv, "-WWW");
	if (require_client) {
		g_ptr_array_add(argv, "-CAfile");
		g_ptr_array_add(argv, ca_path);
		g_ptr_array_add(argv, "-Verify");
		g_ptr_array_add(argv, "1");
		g_ptr_array_add(argv, "-verify_return_error");
	}
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_async(fixture.dir, (gchar **)argv->pdata, NULL,
				    G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
					G_SPAWN_STDOUT_TO_DEV_NULL | G_SPAWN_STDERR_TO_DEV_NULL,
				    ck_test_child_setup, NULL, pid, &error));
	g_assert_no_error(error);
	g_assert_true(ck_test_wait_listening(port));
	return port;
}

static gchar *
ck_test_url(const gchar *scheme, const gchar *host, guint port, const gchar *path)
{
	return g_strdup_printf("%s://%s:%u%s", scheme, host, port, path);
}

static gchar *
ck_test_body_text(CkHttpResponse *response)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(ck_http_response_get_body(response), &len);
	return g_strndup(data, len);
}

static void
test_http_content_length(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/hello");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	g_autofree gchar *body = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(r);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "hello, world\n");
	/* names are case-insensitive, values verbatim */
	g_assert_cmpstr(ck_http_response_get_header(r, "x-mixed-case"), ==, "yes");
	g_assert_cmpstr(ck_http_response_get_header(r, "X-MIXED-CASE"), ==, "yes");
	g_assert_cmpstr(ck_http_response_get_header(r, "Content-Length"), ==, "13");
	g_assert_null(ck_http_response_get_header(r, "X-Absent"));
}

static void
test_http_chunked_and_multiple_headers(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/chunked");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	g_autofree gchar *body = NULL;
	g_auto(GStrv) links = NULL;
	g_auto(GStrv) none = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 201);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "first,second,third");
	links = ck_http_response_get_headers(r, "LINK");
	g_assert_cmpuint(g_strv_length(links), ==, 2);
	g_assert_cmpstr(links[0], ==, "<https://example.org/a>;rel=\"up\"");
	g_assert_cmpstr(links[1], ==, "<https://example.org/b>;rel=\"alternate\"");
	none = ck_http_response_get_headers(r, "X-Absent");
	g_assert_nonnull(none);
	g_assert_cmpuint(g_strv_length(none), ==, 0);
}

static void
test_http_read_to_close(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/eof");
	g_autofree gchar *short_url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/short");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	g_autoptr(CkHttpResponse) truncated = NULL;
	g_autofree gchar *body = NULL;

	g_assert_no_error(error);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "until the end");
	/* a body shorter than its Content-Length is an error, not a short answer */
	truncated = ck_http_request(NULL, "GET", short_url, NULL, NULL, &error);
	g_assert_null(truncated);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, short_url));
	g_assert_nonnull(strstr(error->message, "shorter"));
}

static void
test_http_post_and_query(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/post");
	g_autofree gchar *qurl =
	    ck_test_url("http", "127.0.0.1", fixture.http_port, "/q?a=1&b=%2F");
	g_autoptr(GBytes) payload = g_bytes_new_static("{\"x\":1}", 7);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r =
	    ck_http_request(NULL, "POST", url, "application/jose+json", payload, &error);
	g_autoptr(CkHttpResponse) q = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *qbody = NULL;
	g_autofree gchar *expect = NULL;

	g_assert_no_error(error);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "application/jose+json|{\"x\":1}");
	/* the query goes out as written, the Host header names host and port */
	q = ck_http_request(NULL, "GET", qurl, NULL, NULL, &error);
	g_assert_no_error(error);
	qbody = ck_test_body_text(q);
	expect = g_strdup_printf("/q?a=1&b=%%2F 127.0.0.1:%u", fixture.http_port);
	g_assert_cmpstr(qbody, ==, expect);
}

/* Extra request headers go out as given; one that could smuggle a second header does not. */
static void
test_http_extra_headers(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/echo-header");
	const gchar *good[] = {"X-Test: yes, really", NULL};
	const gchar *bad[][2] = {{"X-Test: a\r\nX-Evil: 1", NULL}, {"no colon", NULL},
				 {": no name", NULL}, {"X-Test: a\n", NULL}};
	CkHttpOptions options = {.headers = good};
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(&options, "GET", url, NULL, NULL, &error);
	g_autofree gchar *body = NULL;

	g_assert_no_error(error);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "yes, really");
	/* plain http: no certificates, but never NULL */
	g_assert_cmpuint(ck_http_response_get_peer_certificates(r)->len, ==, 0);
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		CkHttpOptions o = {.headers = bad[i]};
		g_assert_null(ck_http_request(&o, "GET", url, NULL, NULL, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, "Name: value"));
		g_clear_error(&error);
	}
}

static void
test_http_ipv6_literal(void)
{
	g_autofree gchar *url = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *expect = NULL;

	if (!fixture.have_ipv6) {
		g_test_skip("no IPv6 loopback on this machine");
		return;
	}
	url = ck_test_url("http", "[::1]", fixture.http6_port, "/q?v6");
	r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	body = ck_test_body_text(r);
	expect = g_strdup_printf("/q?v6 [::1]:%u", fixture.http6_port);
	g_assert_cmpstr(body, ==, expect);
}

static void
test_http_status_is_not_an_error(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/nothing");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	g_autofree gchar *body = NULL;

	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 404);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "no such page");
}

static void
test_http_too_large(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/big");
	g_autofree gchar *curl = ck_test_url("http", "127.0.0.1", fixture.http_port, "/bigchunked");
	CkHttpOptions small = {.max_response = 100 * 1000};
	CkHttpOptions enough = {.max_response = 200 * 1000};
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	g_autoptr(CkHttpResponse) c = NULL;

	/* 2 MiB against the default cap of 1 MiB */
	g_assert_null(r);
	g_assert_error(error, CK_ERROR, CK_ERROR_FAILED);
	g_assert_nonnull(strstr(error->message, url));
	g_assert_nonnull(strstr(error->message, "1048576"));
	g_clear_error(&error);
	/* chunked: the cap counts the decoded body */
	c = ck_http_request(&small, "GET", curl, NULL, NULL, &error);
	g_assert_null(c);
	g_assert_error(error, CK_ERROR, CK_ERROR_FAILED);
	g_clear_error(&error);
	c = ck_http_request(&enough, "GET", curl, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_bytes_get_size(ck_http_response_get_body(c)), ==, 200 * 1000);
}

static void
test_http_timeout(void)
{
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", fixture.http_port, "/slow");
	CkHttpOptions quick = {.timeout_seconds = 1};
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = NULL;
	g_autoptr(GSocketListener) listener = g_socket_listener_new();
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) any = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) effective = NULL;
	g_autofree gchar *tls_url = NULL;
	guint16 port;
	gint64 start = g_get_monotonic_time();

	r = ck_http_request(&quick, "GET", url, NULL, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CK_ERROR, CK_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(error->message, url));
	g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_USEC_PER_SEC);
	g_clear_error(&error);

	/* a listener that never answers the TLS handshake */
	g_assert_true(g_socket_listener_add_address(
	    listener, any, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error));
	g_assert_no_error(error);
	port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
	tls_url = ck_test_url("https", "127.0.0.1", port, "/");
	start = g_get_monotonic_time();
	r = ck_http_request(&quick, "GET", tls_url, NULL, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CK_ERROR, CK_ERROR_TIMED_OUT);
	g_assert_nonnull(strstr(error->message, "TLS handshake"));
	g_assert_cmpint(g_get_monotonic_time() - start, <, 3 * G_USEC_PER_SEC);
}

static void
test_http_refused_and_bad_urls(void)
{
	guint port = ck_test_free_port();
	g_autofree gchar *url = ck_test_url("http", "127.0.0.1", port, "/");
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = ck_http_request(NULL, "GET", url, NULL, NULL, &error);
	const gchar *bad[] = {"ftp://127.0.0.1/", "not a url", "http:///path", NULL};

	g_assert_null(r);
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, url));
	for (guint i = 0; bad[i] != NULL; i++) {
		g_clear_error(&error);
		g_assert_null(ck_http_request(NULL, "GET", bad[i], NULL, NULL, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, bad[i]));
	}
}

static gchar *
ck_test_fixture_path(const gchar *name)
{
	return g_build_filename(fixture.dir, name, NULL);
}

static void
test_https_verified(void)
{
	g_autofree gchar *trust = ck_test_fixture_path("ca.pem");
	CkHttpOptions options = {.trust_file = trust, .timeout_seconds = 10};
	const gchar *hosts[] = {"127.0.0.1", "localhost", NULL};

	if (!fixture.have_tls) {
		g_test_skip("openssl is not installed");
		return;
	}
	/* an IP address matches the IP SAN, a name the DNS SAN */
	for (guint i = 0; hosts[i] != NULL; i++) {
		g_autofree gchar *url =
		    ck_test_url("https", hosts[i], fixture.tls_port, "/hello.txt");
		g_autoptr(GError) error = NULL;
		g_autoptr(CkHttpResponse) r =
		    ck_http_request(&options, "GET", url, NULL, NULL, &error);
		g_autofree gchar *body = NULL;
		g_assert_no_error(error);
		g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
		body = ck_test_body_text(r);
		g_assert_cmpstr(body, ==, "hello over tls\n");
	}
}

/* accept_any_peer: an unverifiable server is reached, and what it presented is handed back. */
static void
test_https_accept_any_peer(void)
{
	g_autofree gchar *other = ck_test_fixture_path("other.pem");
	g_autofree gchar *server = ck_test_fixture_path("wrongname.pem");
	CkHttpOptions options = {.trust_file = other, .timeout_seconds = 10, .accept_any_peer = TRUE};
	g_autofree gchar *url = NULL;
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum, der = {NULL, 0};
	const GPtrArray *peer;
	gsize len = 0;

	if (!fixture.have_tls) {
		g_test_skip("openssl is not installed");
		return;
	}
	/* the wrong anchor and the wrong name: both would fail without accept_any_peer */
	url = ck_test_url("https", "127.0.0.1", fixture.wrongname_port, "/hello.txt");
	r = ck_http_request(&options, "GET", url, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	peer = ck_http_response_get_peer_certificates(r);
	g_assert_cmpuint(peer->len, >=, 1);
	g_assert_true(g_file_get_contents(server, &pem, &len, NULL));
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)len;
	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_DER, &der), ==, 0);
	g_assert_cmpmem(g_bytes_get_data(g_ptr_array_index(peer, 0), NULL),
			g_bytes_get_size(g_ptr_array_index(peer, 0)), der.data, der.size);
	gnutls_free(der.data);
	gnutls_x509_crt_deinit(crt);
}

static void
test_https_wrong_anchor_and_name(void)
{
	g_autofree gchar *trust = ck_test_fixture_path("ca.pem");
	g_autofree gchar *other = ck_test_fixture_path("other.pem");
	g_autofree gchar *missing = ck_test_fixture_path("missing.pem");
	g_autofree gchar *not_pem = ck_test_fixture_path("hello.txt");
	CkHttpOptions wrong_anchor = {.trust_file = other, .timeout_seconds = 10};
	CkHttpOptions right = {.trust_file = trust, .timeout_seconds = 10};
	CkHttpOptions no_file = {.trust_file = missing};
	CkHttpOptions bad_file = {.trust_file = not_pem};
	g_autofree gchar *url = NULL;
	g_autofree gchar *wrong_url = NULL;
	g_autoptr(GError) error = NULL;

	if (!fixture.have_tls) {
		g_test_skip("openssl is not installed");
		return;
	}
	url = ck_test_url("https", "127.0.0.1", fixture.tls_port, "/hello.txt");
	wrong_url = ck_test_url("https", "127.0.0.1", fixture.wrongname_port, "/hello.txt");

	g_assert_null(ck_http_request(&wrong_anchor, "GET", url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, url));
	g_assert_nonnull(strstr(error->message, "cannot be trusted"));
	g_clear_error(&error);

	/* the system store does not know the test CA either */
	g_assert_null(ck_http_request(NULL, "GET", url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_clear_error(&error);

	/* a valid chain for another name */
	g_assert_null(ck_http_request(&right, "GET", wrong_url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, "name in the certificate does not match"));
	g_clear_error(&error);

	g_assert_null(ck_http_request(&no_file, "GET", url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, missing));
	g_clear_error(&error);
	g_assert_null(ck_http_request(&bad_file, "GET", url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, not_pem));
}

static void
test_https_client_certificate(void)
{
	g_autofree gchar *trust = ck_test_fixture_path("ca.pem");
	g_autofree gchar *cert_path = ck_test_fixture_path("client.pem");
	g_autofree gchar *key_path = ck_test_fixture_path("client.key");
	g_autofree gchar *url = NULL;
	g_autofree gchar *body = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = NULL;
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crt_t *chain = NULL;
	unsigned int n_chain = 0;
	gnutls_privkey_t key = NULL;
	CkHttpOptions anonymous = {.trust_file = trust, .timeout_seconds = 10};
	CkHttpOptions authenticated = anonymous;

	if (!fixture.have_tls) {
		g_test_skip("openssl is not installed");
		return;
	}
	url = ck_test_url("https", "localhost", fixture.mtls_port, "/hello.txt");
	g_assert_cmpint(gnutls_load_file(cert_path, &data), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_list_import2(&chain, &n_chain, &data, GNUTLS_X509_FMT_PEM, 0), >=, 0);
	gnutls_free(data.data);
	g_assert_cmpint(gnutls_load_file(key_path, &data), ==, 0);
	g_assert_cmpint(gnutls_privkey_init(&key), ==, 0);
	g_assert_cmpint(gnutls_privkey_import_x509_raw(key, &data, GNUTLS_X509_FMT_PEM, NULL, 0),
			==, 0);
	gnutls_free(data.data);

	/* without a client certificate the server ends the connection */
	g_assert_null(ck_http_request(&anonymous, "GET", url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, url));
	g_clear_error(&error);

	authenticated.client_chain = chain;
	authenticated.client_chain_len = n_chain;
	authenticated.client_key = key;
	r = ck_http_request(&authenticated, "GET", url, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "hello over tls\n");

	/* the key and chain are still the caller's: usable again, then freed here */
	g_clear_pointer(&r, ck_http_response_free);
	r = ck_http_request(&authenticated, "GET", url, NULL, NULL, &error);
	g_assert_no_error(error);
	for (unsigned int i = 0; i < n_chain; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_privkey_deinit(key);
}

#if CK_HAVE_TPM
/* Runs @argv with OpenSSL's tpm2 provider pointed at @tcti; its exit status. */
static gint
ck_test_run_tpm(const gchar *tcti, const gchar *const *argv)
{
	g_auto(GStrv) env = g_get_environ();
	g_autofree gchar *out = NULL, *err = NULL;
	gint status = -1;

	env = g_environ_setenv(env, "TPM2OPENSSL_TCTI", tcti, TRUE);
	env = g_environ_setenv(env, "TSS2_LOG", "all+none", TRUE);
	if (!g_spawn_sync(fixture.dir, (gchar **)argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL, &out,
			  &err, &status, NULL))
		return -1;
	if (status != 0)
		g_test_message("%s failed: %s", argv[0], err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}
#endif

/* TLS client authentication with a key that lives in the TPM (a TSS2 key file). */
static void
test_https_client_tpm_key(void)
{
#if CK_HAVE_TPM
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autoptr(CkTestSwtpm) tpm = NULL;
	g_autofree gchar *trust = ck_test_fixture_path("ca.pem");
	g_autofree gchar *ca_key = ck_test_fixture_path("ca.key");
	g_autofree gchar *key_path = g_build_filename(dir, "tpm.key", NULL);
	g_autofree gchar *csr_path = g_build_filename(dir, "tpm.csr", NULL);
	g_autofree gchar *cert_path = g_build_filename(dir, "tpm.pem", NULL);
	g_autofree gchar *ext = ck_test_write_file(dir, "tpm.ext", "extendedKeyUsage=clientAuth\n");
	g_autofree gchar *url = NULL, *body = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CkHttpResponse) r = NULL;
	gnutls_datum_t data = {NULL, 0};
	gnutls_x509_crt_t *chain = NULL;
	unsigned int n_chain = 0;
	gnutls_privkey_t key = NULL;
	CkHttpOptions options = {.trust_file = trust, .timeout_seconds = 10};

	if (!fixture.have_tls) {
		g_test_skip("openssl is not installed");
		ck_test_rm_rf(dir);
		return;
	}
	tpm = ck_test_swtpm_new(dir);
	if (tpm == NULL) {
		ck_test_rm_rf(dir);
		return;
	}
	{
		const gchar *genpkey[] = {"openssl",   "genpkey",    "-provider", "tpm2",
					  "-provider", "default",    "-algorithm", "EC",
					  "-pkeyopt",  "group:P-256", "-out",       key_path,
					  NULL};
		const gchar *req[] = {"openssl", "req",	    "-provider", "tpm2", "-provider",
				      "default", "-new",    "-key",	 key_path, "-subj",
				      "/CN=tpm-client", "-out", csr_path, NULL};
		const gchar *sign[] = {"openssl", "x509",   "-req",  "-in",     csr_path, "-CA",
				       trust,	  "-CAkey", ca_key, "-days",   "2",	 "-extfile",
				       ext,	  "-out",   cert_path, NULL};
		if (ck_test_run_tpm(tpm->tcti, genpkey) != 0) {
			g_test_skip("OpenSSL's tpm2 provider is not installed");
			ck_test_rm_rf(dir);
			return;
		}
		g_assert_cmpint(ck_test_run_tpm(tpm->tcti, req), ==, 0);
		g_assert_cmpint(ck_test_run_tpm(tpm->tcti, sign), ==, 0);
	}
	g_setenv("CERTKEEPER_TPM_TCTI", tpm->tcti, TRUE);
	g_assert_true(ck_http_load_client_key(key_path, "the test key", &key, &error));
	g_assert_no_error(error);
	g_assert_cmpint(gnutls_load_file(cert_path, &data), ==, 0);
	g_assert_cmpint(
	    gnutls_x509_crt_list_import2(&chain, &n_chain, &data, GNUTLS_X509_FMT_PEM, 0), >=, 0);
	gnutls_free(data.data);
	options.client_chain = chain;
	options.client_chain_len = n_chain;
	options.client_key = key;
	url = ck_test_url("https", "localhost", fixture.mtls_port, "/hello.txt");
	r = ck_http_request(&options, "GET", url, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);
	body = ck_test_body_text(r);
	g_assert_cmpstr(body, ==, "hello over tls\n");
	g_clear_pointer(&r, ck_http_response_free);

	/* the TPM gone: the handshake cannot be signed, and the request fails cleanly */
	ck_test_swtpm_stop(tpm);
	g_assert_null(ck_http_request(&options, "GET", url, NULL, NULL, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_CA_UNREACHABLE);
	g_assert_nonnull(strstr(error->message, "the client key in the TPM cannot sign"));
	g_assert_nonnull(strstr(error->message, "No TPM answers at"));
	g_clear_error(&error);
	/* and back: it signs again */
	ck_test_swtpm_start(tpm);
	r = ck_http_request(&options, "GET", url, NULL, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(ck_http_response_get_status(r), ==, 200);

	g_unsetenv("CERTKEEPER_TPM_TCTI");
	for (unsigned int i = 0; i < n_chain; i++)
		gnutls_x509_crt_deinit(chain[i]);
	gnutls_free(chain);
	gnutls_privkey_deinit(key);
	g_clear_pointer(&tpm, ck_test_swtpm_free);
	ck_test_rm_rf(dir);
#else
	g_test_skip("built without TPM support");
#endif
}

/* What ck_http_load_client_key() says about files that hold no usable key. */
static void
test_client_key_errors(void)
{
	g_autofree gchar *dir = ck_test_make_tmpdir();
	g_autofree gchar *missing = g_build_filename(dir, "missing.key", NULL);
	g_autofree gchar *text = ck_test_write_file(dir, "text.key", "not a key\n");
	g_autofree gchar *broken = ck_test_write_file(
	    dir, "broken.key", "-----BEGIN TSS2 PRIVATE KEY-----\nAAAA\n-----END TSS2 PRIVATE KEY-----\n");
	g_autoptr(GError) error = NULL;
	gnutls_privkey_t key = NULL;

	g_assert_false(ck_http_load_client_key(missing, "The key", &key, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, "missing.key"));
	g_assert_null(key);
	g_clear_error(&error);
	g_assert_false(ck_http_load_client_key(text, "The key", &key, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, "nor TPM key"));
	g_clear_error(&error);
	g_assert_false(ck_http_load_client_key(broken, "The key", &key, &error));
#if CK_HAVE_TPM
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_assert_nonnull(strstr(error->message, "not a valid TSS2 key file"));
#else
	g_assert_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED);
#endif
	g_assert_nonnull(strstr(error->message, "broken.key"));
	ck_test_rm_rf(dir);
}

int
main(int argc, char **argv)
{
	g_autofree gchar *script = NULL;
	g_autofree gchar *certs = NULL;
	int rc;

	g_test_init(&argc, &argv, NULL);
	if (!ck_test_have_program("python3")) {
		g_test_skip("python3 is not installed");
		return g_test_run();
	}
	fixture.dir = ck_test_make_tmpdir();
	script = ck_test_write_file(fixture.dir, "server.py", ck_test_http_server_py);
	fixture.http_port = ck_test_start_python(script, "127.0.0.1", &fixture.http_pid);
	g_assert_cmpuint(fixture.http_port, >, 0);
	fixture.http6_port = ck_test_start_python(script, "::1", &fixture.http6_pid);
	fixture.have_ipv6 = fixture.http6_port > 0;
	if (ck_test_have_program("openssl")) {
		const gchar *sh[] = {"sh", NULL, fixture.dir, NULL};
		certs = ck_test_write_file(fixture.dir, "certs.sh", ck_test_http_certs_sh);
		sh[1] = certs;
		g_assert_cmpint(ck_test_run(sh, NULL, NULL), ==, 0);
		fixture.tls_port =
		    ck_test_start_s_server("server.pem", "server.key", FALSE, &fixture.tls_pid);
		fixture.wrongname_port = ck_test_start_s_server("wrongname.pem", "wrongname.key",
								FALSE, &fixture.wrongname_pid);
		fixture.mtls_port =
		    ck_test_start_s_server("server.pem", "server.key", TRUE, &fixture.mtls_pid);
		fixture.have_tls = TRUE;
	}

	g_test_add_func("/certkeeper/http/content-length", test_http_content_length);
	g_test_add_func("/certkeeper/http/chunked", test_http_chunked_and_multiple_headers);
	g_test_add_func("/certkeeper/http/read-to-close", test_http_read_to_close);
	g_test_add_func("/certkeeper/http/post-and-query", test_http_post_and_query);
	g_test_add_func("/certkeeper/http/extra-headers", test_http_extra_headers);
	g_test_add_func("/certkeeper/http/ipv6", test_http_ipv6_literal);
	g_test_add_func("/certkeeper/http/status", test_http_status_is_not_an_error);
	g_test_add_func("/certkeeper/http/too-large", test_http_too_large);
	g_test_add_func("/certkeeper/http/timeout", test_http_timeout);
	g_test_add_func("/certkeeper/http/refused", test_http_refused_and_bad_urls);
	g_test_add_func("/certkeeper/https/verified", test_https_verified);
	g_test_add_func("/certkeeper/https/accept-any-peer", test_https_accept_any_peer);
	g_test_add_func("/certkeeper/https/wrong-anchor-and-name",
			test_https_wrong_anchor_and_name);
	g_test_add_func("/certkeeper/https/client-certificate", test_https_client_certificate);
	g_test_add_func("/certkeeper/https/client-tpm-key", test_https_client_tpm_key);
	g_test_add_func("/certkeeper/https/client-key-errors", test_client_key_errors);
	rc = g_test_run();

	ck_test_stop(fixture.http_pid);
	ck_test_stop(fixture.http6_pid);
	ck_test_stop(fixture.tls_pid);
	ck_test_stop(fixture.wrongname_pid);
	ck_test_stop(fixture.mtls_pid);
	ck_test_rm_rf(fixture.dir);
	g_free(fixture.dir);
	return rc;
}
