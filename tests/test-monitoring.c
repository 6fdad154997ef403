/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Monitoring end to end: the real certkeeperd issues, renews and fails (a
 * helper CA that is down, one that refuses), and its metrics say so with the
 * right values: in `certkeeper metrics`, in certkeeper.prom of
 * MetricsDirectory=, through a real node_exporter scraped over HTTP, checked
 * by promtool; the shipped alert rules are tested by `promtool test rules` on
 * the series this daemon produced, and the dashboard uses only metrics that
 * exist.
 */
#include "config.h"

#include <gio/gio.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define DAY 86400

static gint
ck_test_compare_strings_cb(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar **)a, *(const gchar **)b);
}

/* Metric samples by series: "name{label="value",...}" with the labels sorted by
 * name (node_exporter sorts them; certkeeperd need not), to the value. */
static GHashTable *
ck_test_parse_metrics(const gchar *text)
{
	GHashTable *samples = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

	for (guint i = 0; lines[i] != NULL; i++) {
		const gchar *line = lines[i];
		const gchar *brace = strchr(line, '{');
		const gchar *space;
		g_autoptr(GPtrArray) labels = g_ptr_array_new_with_free_func(g_free);
		g_autoptr(GString) key = g_string_new(NULL);

		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (brace == NULL) {
			space = strchr(line, ' ');
			g_assert_nonnull(space);
			g_hash_table_insert(samples, g_strndup(line, space - line),
					    g_strdup(space + 1));
			continue;
		}
		g_string_append_len(key, line, brace - line);
		/* label="value" pairs; values may hold escaped quotes */
		for (const gchar *p = brace + 1; *p != '}';) {
			const gchar *start = p;
			g_assert_nonnull(strchr(p, '='));
			p = strchr(p, '=') + 1;
			g_assert_cmpint(*p, ==, '"');
			for (p++; *p != '"'; p++) {
				if (*p == '\\')
					p++;
			}
			p++;
			g_ptr_array_add(labels, g_strndup(start, p - start));
			if (*p == ',')
				p++;
			brace = p;
		}
		g_ptr_array_sort(labels, (GCompareFunc)ck_test_compare_strings_cb);
		g_string_append_c(key, '{');
		for (guint l = 0; l < labels->len; l++)
			g_string_append_printf(key, "%s%s", l > 0 ? "," : "",
					       (gchar *)g_ptr_array_index(labels, l));
		g_string_append_c(key, '}');
		space = strchr(brace, ' ');
		g_assert_nonnull(space);
		g_hash_table_insert(samples, g_string_free(g_steal_pointer(&key), FALSE),
				    g_strdup(space + 1));
	}
	return samples;
}

/* The value of series @key (labels sorted by name), asserting it is there. */
static gdouble
ck_test_value(GHashTable *samples, const gchar *key)
{
	const gchar *value = g_hash_table_lookup(samples, key);

	if (value == NULL)
		g_error("no series %s", key);
	return g_ascii_strtod(value, NULL);
}

static gchar *
ck_test_metrics(CkTestDaemon *td, gboolean as_nobody)
{
	gchar *out = NULL;
	g_autofree gchar *err = NULL;

	g_assert_cmpint(ck_test_cli(td, as_nobody, NULL, &out, &err, "metrics", NULL), ==, 0);
	g_assert_cmpstr(err, ==, "");
	return out;
}

static void
ck_test_cert_times(const gchar *path, gint64 *not_before, gint64 *not_after)
{
	g_autofree gchar *pem = ck_test_read_file(path);
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};

	g_assert_cmpint(gnutls_x509_crt_init(&crt), ==, 0);
	g_assert_cmpint(gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM), ==, 0);
	*not_before = (gint64)gnutls_x509_crt_get_activation_time(crt);
	*not_after = (gint64)gnutls_x509_crt_get_expiration_time(crt);
	gnutls_x509_crt_deinit(crt);
}

static gchar *
ck_test_write_helper(CkTestDaemon *td, const gchar *name, const gchar *body)
{
	gchar *path = ck_test_daemon_path(td, name);
	/* like real helpers, they say so when asked for an operation they do not know */
	g_autofree gchar *text = g_strdup_printf(
	    "#!/bin/sh\n[ \"$CERTMONGER_OPERATION\" = SUBMIT ] || exit 6\n%s\n", body);
	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	g_assert_cmpint(g_chmod(path, 0755), ==, 0);
	return path;
}

static gchar *
ck_test_certs_path(CkTestDaemon *td, const gchar *name)
{
	g_autofree gchar *dir = ck_test_daemon_path(td, "certs");
	g_mkdir_with_parents(dir, 0755);
	return g_build_filename(dir, name, NULL);
}

/* Requests @id from CA @ca and waits for the first answer; returns the CLI's status. */
static gint
ck_test_request(CkTestDaemon *td, const gchar *id, const gchar *ca)
{
	g_autofree gchar *name = g_strdup_printf("%s.crt", id);
	g_autofree gchar *key_name = g_strdup_printf("%s.key", id);
	g_autofree gchar *cert = ck_test_certs_path(td, name);
	g_autofree gchar *key = ck_test_certs_path(td, key_name);
	g_autofree gchar *subject = g_strdup_printf("CN=%s.example", id);

	return ck_test_cli(td, FALSE, NULL, NULL, NULL, "request", "-I", id, "-f", cert, "-k", key,
			   "-N", subject, "-c", ca, "-w", "--wait-timeout=30", NULL);
}

/* The contents of @path once it holds @part (within 15 s), else the test fails. */
static gchar *
ck_test_wait_file(const gchar *path, const gchar *part)
{
	gint64 deadline = g_get_monotonic_time() + 15 * G_USEC_PER_SEC;

	for (;;) {
		gchar *text = NULL;
		if (g_file_get_contents(path, &text, NULL, NULL) && strstr(text, part) != NULL)
			return text;
		if (g_get_monotonic_time() > deadline)
			g_error("%s does not hold \"%s\" after 15 s; it holds:\n%s", path, part,
				text != NULL ? text : "(nothing)");
		g_free(text);
		g_usleep(100 * 1000);
	}
}

/* A node_exporter with only its textfile collector, on a free loopback port. */
typedef struct {
	GPid pid;
	guint port;
	gchar *log;
} CkTestExporter;

static void
ck_test_exporter_stop(CkTestExporter *exporter)
{
	int status = 0;

	if (exporter->pid <= 0)
		return;
	kill(exporter->pid, SIGTERM);
	g_assert_cmpint(waitpid(exporter->pid, &status, 0), ==, exporter->pid);
	g_spawn_close_pid(exporter->pid);
	exporter->pid = 0;
}

/* A GET of /metrics; NULL while nothing answers on the port. */
static gchar *
ck_test_scrape(guint port)
{
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketConnection) connection = NULL;
	g_autoptr(GString) response = g_string_new(NULL);
	const gchar *request = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	gchar buf[16384];
	gssize n;
	const gchar *body;
	GInputStream *in;

	g_socket_client_set_timeout(client, 10);
	connection =
	    g_socket_client_connect_to_host(client, "127.0.0.1", (guint16)port, NULL, NULL);
	if (connection == NULL)
		return NULL;
	g_assert_true(
	    g_output_stream_write_all(g_io_stream_get_output_stream(G_IO_STREAM(connection)),
				      request, strlen(request), NULL, NULL, NULL));
	in = g_io_stream_get_input_stream(G_IO_STREAM(connection));
	while ((n = g_input_stream_read(in, buf, sizeof(buf), NULL, NULL)) > 0)
		g_string_append_len(response, buf, n);
	g_assert_true(g_str_has_prefix(response->str, "HTTP/1.0 200") ||
		      g_str_has_prefix(response->str, "HTTP/1.1 200"));
	body = strstr(response->str, "\r\n\r\n");
	g_assert_nonnull(body);
	return g_strdup(body + 4);
}

static gchar *
ck_test_exporter_start(CkTestExporter *exporter, CkTestDaemon *td, const gchar *dir)
{
	g_autofree gchar *listen = NULL, *textfile = NULL;
	g_autoptr(GError) error = NULL;
	gint64 deadline;
	int log_fd;

	exporter->port = ck_test_free_port();
	exporter->log = ck_test_daemon_path(td, "node-exporter.log");
	listen = g_strdup_printf("--web.listen-address=127.0.0.1:%u", exporter->port);
	textfile = g_strdup_printf("--collector.textfile.directory=%s", dir);
	{
		const gchar *argv[] = {
		    "prometheus-node-exporter", listen,   "--collector.disable-defaults",
		    "--collector.textfile",     textfile, NULL};
		log_fd = open(exporter->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		g_assert_cmpint(log_fd, >=, 0);
		g_assert_true(g_spawn_async_with_fds(
		    NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD,
		    NULL, NULL, &exporter->pid, -1, log_fd, log_fd, &error));
		g_assert_no_error(error);
		close(log_fd);
	}
	/* it listens once it is ready: the first answer is the first scrape */
	deadline = g_get_monotonic_time() + 20 * G_USEC_PER_SEC;
	for (;;) {
		gchar *body = ck_test_scrape(exporter->port);
		if (body != NULL)
			return body;
		if (g_get_monotonic_time() > deadline) {
			g_autofree gchar *log = NULL;
			g_file_get_contents(exporter->log, &log, NULL, NULL);
			g_error("node_exporter does not answer on 127.0.0.1:%u:\n%s",
				exporter->port, log != NULL ? log : "");
		}
		g_usleep(100 * 1000);
	}
}

static void
ck_test_promtool_check_metrics(CkTestDaemon *td, const gchar *text)
{
	g_autofree gchar *path = ck_test_daemon_path(td, "check.prom");
	g_autofree gchar *script = g_strdup_printf("promtool check metrics < '%s'", path);
	g_autofree gchar *out = NULL, *err = NULL;
	const gchar *argv[] = {"sh", "-c", script, NULL};
	gint rc;

	g_assert_true(g_file_set_contents(path, text, -1, NULL));
	rc = ck_test_run(argv, &out, &err);
	if (rc != 0)
		g_printerr("promtool check metrics:\n%s%s\n", out, err);
	g_assert_cmpint(rc, ==, 0);
}

/* Every certkeeper_* name in the string values of members called "expr" under @node. */
static void
ck_test_collect_exprs(JsonNode *node, GPtrArray *exprs)
{
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObject *obj = json_node_get_object(node);
		g_autoptr(GList) members = json_object_get_members(obj);
		for (GList *l = members; l != NULL; l = l->next) {
			JsonNode *child = json_object_get_member(obj, l->data);
			if (g_strcmp0(l->data, "expr") == 0 && JSON_NODE_HOLDS_VALUE(child))
				g_ptr_array_add(exprs, g_strdup(json_node_get_string(child)));
			else
				ck_test_collect_exprs(child, exprs);
		}
	} else if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *array = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(array); i++)
			ck_test_collect_exprs(json_array_get_element(array, i), exprs);
	}
}

/* The dashboard queries only metric families certkeeperd's @text has. */
static void
ck_test_dashboard_uses_real_metrics(const gchar *text)
{
	g_autofree gchar *path = g_build_filename(g_getenv("CK_TOP_SRCDIR"), "data", "grafana",
						  "certkeeper-dashboard.json", NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) exprs = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) used = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GRegex) names = g_regex_new("certkeeper_[a-z0-9_]+", 0, 0, NULL);
	GHashTableIter iter;
	gpointer key;

	g_assert_true(json_parser_load_from_file(parser, path, &error));
	g_assert_no_error(error);
	ck_test_collect_exprs(json_parser_get_root(parser), exprs);
	g_assert_cmpuint(exprs->len, >=, 8);
	for (guint i = 0; i < exprs->len; i++) {
		g_autoptr(GMatchInfo) match = NULL;
		g_regex_match(names, g_ptr_array_index(exprs, i), 0, &match);
		while (g_match_info_matches(match)) {
			g_hash_table_add(used, g_match_info_fetch(match, 0));
			g_match_info_next(match, NULL);
		}
	}
	g_assert_cmpuint(g_hash_table_size(used), >=, 10);
	g_hash_table_iter_init(&iter, used);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		/* a sample name (histograms: _bucket, _sum, _count) at the start of a line */
		g_autofree gchar *sample = g_strdup_printf("\n%s{", (gchar *)key);
		g_autofree gchar *bare = g_strdup_printf("\n%s ", (gchar *)key);
		if (strstr(text, sample) == NULL && strstr(text, bare) == NULL)
			g_error("the dashboard queries %s, which certkeeperd does not export",
				(gchar *)key);
	}
}

/* The alert's labels and annotations as the rules file renders them for request @id. */
static void
ck_test_append_alert(GString *yaml, const gchar *alert, const gchar *id, const gchar *ca,
		     const gchar *extra_labels)
{
	g_autofree gchar *status = g_strdup_printf("See `certkeeper status -i %s`.", id);
	const gchar *severity = "warning";
	g_autofree gchar *summary = NULL, *description = NULL;

	if (g_strcmp0(alert, "CertkeeperCertificateExpiresIn30Days") == 0) {
		summary = g_strdup_printf("Certificate %s expires in under 30 days", id);
		description = g_strdup_printf("The certificate of request %s (CA %s) expires in "
					      "under 30 days and its renewal is overdue. %s",
					      id, ca, status);
	} else if (g_strcmp0(alert, "CertkeeperCertificateExpiresIn7Days") == 0) {
		severity = "critical";
		summary = g_strdup_printf("Certificate %s expires in under 7 days", id);
		description = g_strdup_printf("The certificate of request %s (CA %s) expires in "
					      "under 7 days and its renewal is overdue. %s",
					      id, ca, status);
	} else if (g_strcmp0(alert, "CertkeeperCertificateExpired") == 0) {
		severity = "critical";
		summary = g_strdup_printf("Certificate %s has expired", id);
		description = g_strdup_printf(
		    "The certificate of request %s (CA %s) has expired. %s", id, ca, status);
	} else if (g_strcmp0(alert, "CertkeeperRenewalFailing") == 0) {
		summary = g_strdup_printf("Renewals of certificate %s are failing", id);
		description = g_strdup_printf(
		    "The last attempt to get a certificate for request %s from CA %s failed and "
		    "has not succeeded since, for an hour. %s",
		    id, ca, status);
	} else if (g_strcmp0(alert, "CertkeeperRenewalOverdue") == 0) {
		summary = g_strdup_printf("Certificate %s is overdue for renewal", id);
		description = g_strdup_printf(
		    "The planned renewal of request %s (CA %s) was due more than a day ago and its "
		    "certificate is not replaced yet. %s",
		    id, ca, status);
	} else {
		g_assert_not_reached();
	}
	g_string_append_printf(yaml,
			       "          - exp_labels: {severity: %s, id: \"%s\", ca: \"%s\"%s}\n"
			       "            exp_annotations:\n"
			       "              summary: \"%s\"\n"
			       "              description: \"%s\"\n",
			       severity, id, ca, extra_labels, summary, description);
}

static void
ck_test_append_eval(GString *yaml, gint64 day, const gchar *alert)
{
	g_string_append_printf(yaml,
			       "      - eval_time: %" G_GINT64_FORMAT "d\n"
			       "        alertname: %s\n"
			       "        exp_alerts:\n",
			       day, alert);
}

static void
ck_test_append_none(GString *yaml, gint64 day, const gchar *alert)
{
	g_string_append_printf(yaml,
			       "      - eval_time: %" G_GINT64_FORMAT "d\n"
			       "        alertname: %s\n"
			       "        exp_alerts: []\n",
			       day, alert);
}

/*
 * `promtool test rules` on the shipped rules, with the series of @text (what the
 * daemon exported) held constant, evaluated once a day: now (the failing
 * requests alert, the valid certificate does not), and at the times the
 * certificate @web_not_after would be 20 days, 3 days and -1 day from expiry if
 * it were never renewed.
 *
 * promtool's series start at Unix time 0 and it evaluates every step from
 * there, which takes minutes up to today. So the clock of the test starts ten
 * days before now: the timestamp series are shifted by the same amount as
 * time(), which leaves every difference the rules compute (expiry - time(),
 * time() - renewal) exactly as the daemon's values make it.
 */
static void
ck_test_promtool_rules(CkTestDaemon *td, const gchar *text, gint64 now, gint64 web_not_after)
{
	g_autofree gchar *rules = g_build_filename(g_getenv("CK_TOP_SRCDIR"), "data", "prometheus",
						   "certkeeper-alerts.yml", NULL);
	g_autofree gchar *test_path = ck_test_daemon_path(td, "alerts-test.yml");
	g_autofree gchar *out = NULL, *err = NULL;
	g_autoptr(GString) yaml = g_string_new(NULL);
	g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
	const gchar *families[] = {"certkeeper_certificate_expiration_timestamp_seconds{",
				   "certkeeper_certificate_not_before_timestamp_seconds{",
				   "certkeeper_certificate_renewal_timestamp_seconds{",
				   "certkeeper_certificate_ready_status{",
				   "certkeeper_requests{",
				   NULL};
	const gchar *timestamps[] = {"certkeeper_certificate_expiration_timestamp_seconds{",
				     "certkeeper_certificate_not_before_timestamp_seconds{",
				     "certkeeper_certificate_renewal_timestamp_seconds{", NULL};
	gint64 base = (now / DAY - 10) * DAY;
	gint64 d_now = (now - base) / DAY + 1;
	gint64 d_warn = (web_not_after - 20 * DAY - base) / DAY;
	gint64 d_crit = (web_not_after - 3 * DAY - base) / DAY;
	gint64 d_expired = (web_not_after - base) / DAY + 1;
	guint n_series = 0;
	gint rc;

	{
		const gchar *argv[] = {"promtool", "check", "rules", rules, NULL};
		g_assert_cmpint(ck_test_run(argv, &out, &err), ==, 0);
		g_assert_nonnull(strstr(out, "SUCCESS: 6 rules found"));
		g_clear_pointer(&out, g_free);
		g_clear_pointer(&err, g_free);
	}

	g_string_append_printf(yaml,
			       "# generated by test-monitoring from what certkeeperd exported\n"
			       "rule_files:\n  - %s\n"
			       "evaluation_interval: 1d\n"
			       "tests:\n  - interval: 1d\n    input_series:\n",
			       rules);
	for (guint i = 0; lines[i] != NULL; i++) {
		gboolean wanted = FALSE, timestamp = FALSE;
		const gchar *space = strrchr(lines[i], ' ');
		g_autofree gchar *value = NULL;
		for (guint f = 0; families[f] != NULL; f++)
			wanted = wanted || g_str_has_prefix(lines[i], families[f]);
		for (guint f = 0; timestamps[f] != NULL; f++)
			timestamp = timestamp || g_str_has_prefix(lines[i], timestamps[f]);
		if (!wanted)
			continue;
		g_assert_nonnull(space);
		value = timestamp ? g_strdup_printf("%" G_GINT64_FORMAT,
						    g_ascii_strtoll(space + 1, NULL, 10) - base)
				  : g_strdup(space + 1);
		g_string_append_printf(yaml,
				       "      - series: '%.*s'\n"
				       "        values: '%s+0x%" G_GINT64_FORMAT "'\n",
				       (int)(space - lines[i]), lines[i], value, d_expired + 1);
		n_series++;
	}
	g_assert_cmpuint(n_series, >=, 20);
	g_string_append(yaml, "    alert_rule_test:\n");
	/* now: the two failing requests, the refused one stuck; the valid one is fine */
	ck_test_append_eval(yaml, d_now, "CertkeeperRenewalFailing");
	ck_test_append_alert(yaml, "CertkeeperRenewalFailing", "rej", "rejecting",
			     ", condition: failing");
	ck_test_append_alert(yaml, "CertkeeperRenewalFailing", "unr", "down",
			     ", condition: failing");
	g_string_append_printf(
	    yaml,
	    "      - eval_time: %" G_GINT64_FORMAT "d\n"
	    "        alertname: CertkeeperRequestsStuck\n"
	    "        exp_alerts:\n"
	    "          - exp_labels: {severity: warning, state: CA_REJECTED}\n"
	    "            exp_annotations:\n"
	    "              summary: \"certkeeper requests wait for a human "
	    "(CA_REJECTED)\"\n"
	    "              description: \"Some of certkeeper's requests are in state "
	    "CA_REJECTED and will not move on by themselves. `certkeeper list` "
	    "shows which, `certkeeper status -i ID` says what to do.\"\n",
	    d_now);
	ck_test_append_none(yaml, d_now, "CertkeeperCertificateExpiresIn30Days");
	ck_test_append_none(yaml, d_now, "CertkeeperCertificateExpiresIn7Days");
	ck_test_append_none(yaml, d_now, "CertkeeperCertificateExpired");
	ck_test_append_none(yaml, d_now, "CertkeeperRenewalOverdue");
	/* 20 days before expiry, its renewal long overdue */
	ck_test_append_eval(yaml, d_warn, "CertkeeperCertificateExpiresIn30Days");
	ck_test_append_alert(yaml, "CertkeeperCertificateExpiresIn30Days", "web", "local", "");
	ck_test_append_eval(yaml, d_warn, "CertkeeperRenewalOverdue");
	ck_test_append_alert(yaml, "CertkeeperRenewalOverdue", "web", "local", "");
	ck_test_append_none(yaml, d_warn, "CertkeeperCertificateExpiresIn7Days");
	/* 3 days before */
	ck_test_append_eval(yaml, d_crit, "CertkeeperCertificateExpiresIn7Days");
	ck_test_append_alert(yaml, "CertkeeperCertificateExpiresIn7Days", "web", "local", "");
	ck_test_append_none(yaml, d_crit, "CertkeeperCertificateExpiresIn30Days");
	ck_test_append_none(yaml, d_crit, "CertkeeperCertificateExpired");
	/* a day after */
	ck_test_append_eval(yaml, d_expired, "CertkeeperCertificateExpired");
	ck_test_append_alert(yaml, "CertkeeperCertificateExpired", "web", "local", "");
	ck_test_append_none(yaml, d_expired, "CertkeeperCertificateExpiresIn7Days");
	g_assert_true(g_file_set_contents(test_path, yaml->str, -1, NULL));
	{
		const gchar *argv[] = {"promtool", "test", "rules", test_path, NULL};
		rc = ck_test_run(argv, &out, &err);
	}
	if (rc != 0)
		g_printerr("promtool test rules:\n%s%s\n--- %s:\n%s", out, err, test_path,
			   yaml->str);
	g_assert_cmpint(rc, ==, 0);
	g_assert_nonnull(strstr(out, "SUCCESS"));
}

#define MONITORING_CONFIG                                                                          \
	"[certkeeperd]\nMetricsDirectory=%s\n"                                                     \
	"[renewal]\nRetryDelay=1h\n"                                                               \
	"[ca rejecting]\nType=helper\nHelper=%s/reject.sh\n"                                       \
	"[ca down]\nType=helper\nHelper=%s/down.sh\n"

static void
test_monitoring_metrics(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *textfile_dir = NULL, *prom = NULL, *config = NULL;
	g_autofree gchar *h1 = NULL, *h2 = NULL, *cert = NULL;
	g_autofree gchar *text = NULL, *file_text = NULL, *nobody_text = NULL;
	g_autofree gchar *restarted = NULL, *scraped = NULL, *first_scrape = NULL;
	g_autoptr(GHashTable) m = NULL;
	g_autoptr(GHashTable) s = NULL;
	g_autoptr(JsonObject) status = NULL;
	CkTestExporter exporter = {0};
	gint64 nb1 = 0, na1 = 0, nb2 = 0, na2 = 0;
	gint64 now;

	if (td == NULL)
		return;
	if (!ck_test_have_program("promtool") ||
	    !ck_test_have_program("prometheus-node-exporter")) {
		g_test_skip("needs promtool and prometheus-node-exporter (Debian packages "
			    "prometheus, prometheus-node-exporter)");
		return;
	}
	textfile_dir = ck_test_daemon_path(td, "textfile");
	g_assert_cmpint(g_mkdir(textfile_dir, 0755), ==, 0);
	prom = g_build_filename(textfile_dir, "certkeeper.prom", NULL);
	h1 = ck_test_write_helper(td, "reject.sh", "echo 'policy forbids it'; exit 2");
	h2 = ck_test_write_helper(td, "down.sh", "echo 'connection refused'; exit 3");
	config = g_strdup_printf(MONITORING_CONFIG, textfile_dir, td->dir, td->dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);

	/* from the start: nothing counted yet, every state and result there with 0 */
	file_text =
	    ck_test_wait_file(prom, "certkeeper_build_info{version=\"" PACKAGE_VERSION "\"} 1\n");
	g_assert_nonnull(
	    strstr(file_text, "certkeeper_renewal_attempts_total{result=\"success\"} 0\n"));
	g_assert_nonnull(strstr(file_text, "certkeeper_requests{state=\"MONITORING\"} 0\n"));
	g_assert_cmpint(ck_test_file_mode(prom), ==, 0644);
	g_clear_pointer(&file_text, g_free);

	/* issued, renewed (resubmit), and two failures: unreachable and refused */
	g_assert_cmpint(ck_test_request(td, "web", "local"), ==, 0);
	cert = ck_test_certs_path(td, "web.crt");
	ck_test_cert_times(cert, &nb1, &na1);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "web", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	ck_test_cert_times(cert, &nb2, &na2);
	ck_test_request(td, "unr", "down");
	g_clear_pointer(&status, json_object_unref);
	status =
	    ck_test_wait_request(td, "unr", &(CkTestRequestWait){.state = "CA_UNREACHABLE"}, 30);
	ck_test_request(td, "rej", "rejecting");
	g_clear_pointer(&status, json_object_unref);
	status = ck_test_wait_request(td, "rej", &(CkTestRequestWait){.state = "CA_REJECTED"}, 30);
	g_clear_pointer(&status, json_object_unref);
	status = ck_test_request_json(td, "web");

	text = ck_test_metrics(td, FALSE);
	m = ck_test_parse_metrics(text);
	/* the times are the installed certificate's, to the second */
	g_assert_cmpint(
	    (gint64)ck_test_value(
		m, "certkeeper_certificate_expiration_timestamp_seconds{ca=\"local\",id=\"web\"}"),
	    ==, na2);
	g_assert_cmpint(
	    (gint64)ck_test_value(
		m, "certkeeper_certificate_not_before_timestamp_seconds{ca=\"local\",id=\"web\"}"),
	    ==, nb2);
	g_assert_cmpint(
	    (gint64)ck_test_value(
		m, "certkeeper_certificate_renewal_timestamp_seconds{ca=\"local\",id=\"web\"}"),
	    ==, json_object_get_int_member(status, "RenewalTime"));
	g_assert_cmpint(json_object_get_int_member(status, "RenewalTime"), <, na2 - 30 * DAY + 1);
	g_assert_cmpint(json_object_get_int_member(status, "RenewalTime"), >, nb2);
	/* without a certificate, no times */
	g_assert_null(g_hash_table_lookup(
	    m, "certkeeper_certificate_expiration_timestamp_seconds{ca=\"down\",id=\"unr\"}"));
	g_assert_null(g_hash_table_lookup(
	    m, "certkeeper_certificate_renewal_timestamp_seconds{ca=\"down\",id=\"unr\"}"));
	/* two attempts succeeded, two failed, each for its reason */
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_renewal_attempts_total{result=\"success\"}"),
			  ==, 2);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_renewal_attempts_total{result=\"failure\"}"),
			  ==, 2);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_renewal_failures_total{reason=\"ca_unreachable\"}"), ==,
	    1);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_renewal_failures_total{reason=\"ca_rejected\"}"), ==, 1);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_renewal_failures_total{reason=\"validation\"}"), ==, 0);
	/* per CA: what each answered, and one duration per answer */
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_requests_total{ca=\"local\",result=\"issued\"}"), ==,
	    2);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_requests_total{ca=\"local\",result=\"rejected\"}"), ==,
	    0);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_requests_total{ca=\"down\",result=\"unreachable\"}"),
	    ==, 1);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_requests_total{ca=\"rejecting\",result=\"rejected\"}"),
	    ==, 1);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_requests_total{ca=\"rejecting\",result=\"issued\"}"),
	    ==, 0);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_request_duration_seconds_count{ca=\"local\"}"), ==, 2);
	g_assert_cmpfloat(
	    ck_test_value(
		m, "certkeeper_ca_request_duration_seconds_bucket{ca=\"local\",le=\"+Inf\"}"),
	    ==, 2);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_request_duration_seconds_count{ca=\"down\"}"), ==, 1);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_request_duration_seconds_count{ca=\"rejecting\"}"), ==,
	    1);
	/* a helper run takes some time, a local signature less than a helper's time limit */
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_request_duration_seconds_sum{ca=\"down\"}"), >, 0);
	g_assert_cmpfloat(
	    ck_test_value(m,
			  "certkeeper_ca_request_duration_seconds_bucket{ca=\"local\",le=\"60\"}"),
	    ==, 2);
	/* states and conditions */
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_requests{state=\"MONITORING\"}"), ==, 1);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_requests{state=\"CA_UNREACHABLE\"}"), ==, 1);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_requests{state=\"CA_REJECTED\"}"), ==, 1);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_requests{state=\"NEED_GUIDANCE\"}"), ==, 0);
	g_assert_cmpfloat(
	    ck_test_value(
		m,
		"certkeeper_certificate_ready_status{ca=\"local\",condition=\"valid\",id=\"web\"}"),
	    ==, 1);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_certificate_ready_status{ca=\"local\","
					   "condition=\"expiring\",id=\"web\"}"),
			  ==, 0);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_certificate_ready_status{ca=\"down\","
					   "condition=\"failing\",id=\"unr\"}"),
			  ==, 1);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_certificate_ready_status{ca=\"down\","
					   "condition=\"renewing\",id=\"unr\"}"),
			  ==, 0);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_certificate_ready_status{ca=\"rejecting\","
					   "condition=\"failing\",id=\"rej\"}"),
			  ==, 1);
	/* no subjects and no messages in any label */
	g_assert_null(strstr(text, "example"));
	g_assert_null(strstr(text, "refused"));
	g_assert_null(strstr(text, "forbids"));
	ck_test_promtool_check_metrics(td, text);

	/* a local user reads the same */
	nobody_text = ck_test_metrics(td, TRUE);
	g_assert_cmpstr(nobody_text, ==, text);

	/* the textfile is the same text, written in one piece */
	file_text =
	    ck_test_wait_file(prom, "certkeeper_renewal_attempts_total{result=\"failure\"} 2\n");
	g_assert_cmpstr(file_text, ==, text);
	{
		g_autoptr(GDir) dir = g_dir_open(textfile_dir, 0, NULL);
		const gchar *name;
		while ((name = g_dir_read_name(dir)) != NULL)
			g_assert_cmpstr(name, ==, "certkeeper.prom");
	}

	/* node_exporter serves those series over HTTP */
	first_scrape = ck_test_exporter_start(&exporter, td, textfile_dir);
	s = ck_test_parse_metrics(first_scrape);
	g_assert_cmpfloat(ck_test_value(s, "node_textfile_scrape_error"), ==, 0);
	g_assert_cmpint(
	    (gint64)ck_test_value(
		s, "certkeeper_certificate_expiration_timestamp_seconds{ca=\"local\",id=\"web\"}"),
	    ==, na2);
	g_assert_cmpfloat(ck_test_value(s, "certkeeper_renewal_attempts_total{result=\"success\"}"),
			  ==, 2);
	g_assert_cmpfloat(
	    ck_test_value(s, "certkeeper_ca_request_duration_seconds_count{ca=\"local\"}"), ==, 2);
	g_assert_cmpfloat(ck_test_value(s, "certkeeper_certificate_ready_status{ca=\"down\","
					   "condition=\"failing\",id=\"unr\"}"),
			  ==, 1);
	g_assert_nonnull(
	    g_hash_table_lookup(s, "certkeeper_build_info{version=\"" PACKAGE_VERSION "\"}"));

	/* the shipped rules on these series, and the dashboard on these names */
	now = g_get_real_time() / G_USEC_PER_SEC;
	ck_test_promtool_rules(td, text, now, na2);
	ck_test_dashboard_uses_real_metrics(text);

	/* the counters survive a restart; the file is written again at start-up */
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	g_assert_cmpint(g_unlink(prom), ==, 0);
	ck_test_daemon_start(td);
	g_clear_pointer(&file_text, g_free);
	file_text =
	    ck_test_wait_file(prom, "certkeeper_renewal_attempts_total{result=\"success\"} 2\n");
	restarted = ck_test_metrics(td, FALSE);
	g_clear_pointer(&m, g_hash_table_unref);
	m = ck_test_parse_metrics(restarted);
	g_assert_cmpfloat(ck_test_value(m, "certkeeper_renewal_attempts_total{result=\"failure\"}"),
			  ==, 2);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_requests_total{ca=\"local\",result=\"issued\"}"), ==,
	    2);
	g_assert_cmpfloat(
	    ck_test_value(m, "certkeeper_ca_request_duration_seconds_count{ca=\"local\"}"), ==, 2);
	/* and count on: one more renewal */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "web", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	g_clear_pointer(&file_text, g_free);
	file_text =
	    ck_test_wait_file(prom, "certkeeper_renewal_attempts_total{result=\"success\"} 3\n");
	g_assert_nonnull(
	    strstr(file_text, "certkeeper_ca_requests_total{ca=\"local\",result=\"issued\"} 3\n"));
	/* nothing changes now, so nothing is written: the file stays the same file
	 * (every write replaces it by another inode) for longer than a write takes
	 * to come after a change */
	{
		struct stat before, after;
		g_assert_cmpint(g_stat(prom, &before), ==, 0);
		g_usleep(4 * G_USEC_PER_SEC);
		g_assert_cmpint(g_stat(prom, &after), ==, 0);
		g_assert_cmpuint(before.st_ino, ==, after.st_ino);
	}
	/* node_exporter reads the new file at its next scrape */
	scraped = ck_test_scrape(exporter.port);
	g_assert_nonnull(scraped);
	g_clear_pointer(&s, g_hash_table_unref);
	s = ck_test_parse_metrics(scraped);
	g_assert_cmpfloat(ck_test_value(s, "certkeeper_renewal_attempts_total{result=\"success\"}"),
			  ==, 3);

	ck_test_exporter_stop(&exporter);
	g_free(exporter.log);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
}

/* A MetricsDirectory that is not there: said once, the daemon works on, and the
 * file comes once the directory does. A reload moves it; a stop writes what is due. */
static void
test_monitoring_missing_directory(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autofree gchar *dir = NULL, *config = NULL, *prom = NULL, *log = NULL, *text = NULL;
	g_autofree gchar *moved = NULL, *moved_prom = NULL, *moved_config = NULL;
	g_autofree gchar *counters = NULL;
	const gchar *first;

	if (td == NULL)
		return;
	dir = ck_test_daemon_path(td, "not-yet");
	prom = g_build_filename(dir, "certkeeper.prom", NULL);
	config = g_strdup_printf("[certkeeperd]\nMetricsDirectory=%s\n", dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	counters = g_build_filename(td->state_dir, "metrics.json", NULL);
	g_assert_cmpint(ck_test_request(td, "one", "local"), ==, 0);
	g_assert_cmpint(ck_test_request(td, "two", "local"), ==, 0);
	log = ck_test_wait_file(td->daemon_log, "cannot write the metrics to");
	g_clear_pointer(&log, g_free);
	/* another change: its write (which saves the counters first) fails silently */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "two", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	g_free(ck_test_wait_file(counters, "\"success\" : 3"));
	g_assert_true(g_file_get_contents(td->daemon_log, &log, NULL, NULL));
	first = strstr(log, "cannot write the metrics to");
	g_assert_nonnull(first);
	g_assert_nonnull(strstr(first, "MetricsDirectory="));
	g_assert_null(strstr(first + 1, "cannot write the metrics to"));
	g_assert_false(g_file_test(dir, G_FILE_TEST_EXISTS));
	g_assert_cmpint(ck_test_file_mode(counters), ==, 0600);

	g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "one", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	text = ck_test_wait_file(prom, "certkeeper_renewal_attempts_total{result=\"success\"} 4\n");
	/* said right after the file is in place */
	g_clear_pointer(&log, g_free);
	log = ck_test_wait_file(td->daemon_log, "metrics are written to");

	/* a reload that moves it: the file moves at once, none is left behind */
	moved = ck_test_daemon_path(td, "moved");
	moved_prom = g_build_filename(moved, "certkeeper.prom", NULL);
	g_assert_cmpint(g_mkdir(moved, 0755), ==, 0);
	moved_config = g_strdup_printf("[certkeeperd]\nMetricsDirectory=%s\n", moved);
	ck_test_daemon_write_config(td, moved_config);
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "reload", NULL), ==, 0);
	g_assert_false(g_file_test(prom, G_FILE_TEST_EXISTS));
	g_clear_pointer(&text, g_free);
	text = ck_test_read_file(moved_prom);
	g_assert_nonnull(strstr(text, "certkeeper_renewal_attempts_total{result=\"success\"} 4\n"));

	/* what changed just before a stop is written by the stop */
	g_assert_cmpint(ck_test_cli(td, FALSE, NULL, NULL, NULL, "resubmit", "-i", "two", "-w",
				    "--wait-timeout=30", NULL),
			==, 0);
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	g_clear_pointer(&text, g_free);
	text = ck_test_read_file(moved_prom);
	g_assert_nonnull(strstr(text, "certkeeper_renewal_attempts_total{result=\"success\"} 5\n"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	gnutls_global_init();
	g_test_add_func("/certkeeper/monitoring/metrics", test_monitoring_metrics);
	g_test_add_func("/certkeeper/monitoring/missing-directory",
			test_monitoring_missing_directory);
	return g_test_run();
}
