/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The torture test of the crash-safe install (ARCHITECTURE.md "Atomic install"):
 * the real certkeeperd on a private bus is killed with SIGKILL at every
 * fault-injection point of the install path and at random moments during
 * renewals, restarted, and after every recovery the invariants must hold:
 * every request still tracked and MONITORING, every key the certificate's,
 * every chain verifying to the local CA, no staged or temporary file left.
 *
 * Needs a build with meson -Dfault_injection=true. CK_TORTURE_KILLS (default
 * 500) is how many kills a run makes at least, CK_TORTURE_DEPTH (default 6) up
 * to which N each fault point fires (CERTKEEPER_FAULT_POINT=NAME:N);
 * tools/torture runs the long version. g_test_rand_*() makes the random part,
 * so --seed reproduces the choices (the timing of a machine never repeats).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define CK_TORTURE_BUS_NAME      "org.certkeeper.Certkeeper1"
#define CK_TORTURE_MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define CK_TORTURE_REQUEST_IFACE "org.certkeeper.Request1"
#define CK_TORTURE_FAULT_ENV     "CERTKEEPER_FAULT_POINT"

/* How long recovery may take before the test calls a request stuck. */
#define CK_TORTURE_RECOVERY_MS (30 * 1000)
/* How long a round asks for renewals for its point to fire: this, plus per passage ... */
#define CK_TORTURE_REACH_MS (10 * 1000)
/* ... this (a point passed once per round of renewals fires late at a large N). */
#define CK_TORTURE_REACH_PER_N_MS 600
/* The random kills come this many milliseconds after the first trigger, at most. */
#define CK_TORTURE_RANDOM_MS 300

/*
 * Every fault point of the install and store path (daemon/ck-fault.h): the
 * deterministic part fires each one at its 1st, 2nd, ... passage.
 */
static const struct {
	const gchar *name;
	guint retrigger_ms; /* how often the round asks for renewals until the point fires */
} ck_torture_points[] = {
    {"file-replace-written", 500},
    {"file-replace-renamed", 500},
    {"install-stage-file-written", 500},
    {"install-staged", 500},
    {"install-intent-recorded", 500},
    {"install-commit-unlinked-backup", 500},
    {"install-commit-backup", 500},
    {"install-symlink-created", 500},
    {"install-commit-rename", 500},
    {"install-committed", 500},
    {"install-rollback-recorded", 500},
    {"install-rollback-restored", 500},
    {"install-finished", 500},
    /* the clean-up comes KeepPrevious after an install: a new install would postpone it */
    {"install-backup-removed", 3000},
};

/* The tracked certificates: one of every kind of install. */
typedef struct {
	const gchar *id;
	gboolean directory;      /* the directory layout: .versions/ and "current" */
	gboolean chain;          /* -F FILE */
	gboolean combined;       /* --combined-file FILE */
	const gchar *key_type;   /* -G, NULL for the default */
	const gchar *key_policy; /* --key-policy, NULL for the default (new) */
	const gchar *validity;
	const gchar *renew_before; /* NULL: the default, so it never renews by itself */
	gboolean flaky_check;      /* a post-install check failing every other time: rollbacks */
} CkTortureSpec;

/*
 * 30 s certificates renewed 20 s before they end keep renewals coming by
 * themselves (the local CA backdates notBefore by five minutes, so a
 * percentage would make them due at once).
 */
static const CkTortureSpec ck_torture_specs[] = {
    {"chain", FALSE, TRUE, FALSE, NULL, NULL, "30s", "20s", FALSE},
    {"combined", FALSE, TRUE, TRUE, NULL, NULL, "30s", "20s", FALSE},
    {"reuse", FALSE, TRUE, FALSE, NULL, "reuse", "30s", "20s", FALSE},
    {"dir", TRUE, FALSE, FALSE, NULL, NULL, "30s", "20s", FALSE},
    {"rsa", FALSE, TRUE, FALSE, "rsa-2048", NULL, "30s", "20s", FALSE},
    {"long", FALSE, TRUE, FALSE, NULL, NULL, "1d", NULL, FALSE},
    {"rollback", FALSE, TRUE, FALSE, NULL, NULL, "30s", "20s", TRUE},
};
#define CK_TORTURE_N_REQUESTS G_N_ELEMENTS(ck_torture_specs)

static const gchar ck_torture_config[] = "# the torture test: nothing waits long\n"
					 "[renewal]\n"
					 "RenewJitterMax=0\n"
					 "RetryDelay=1s\n"
					 "RetryDelayMax=2s\n"
					 "MaxAttempts=0\n"
					 "KeepPrevious=2s\n";

typedef struct {
	CkTestDaemon *td;
	GDBusConnection *bus;
	gchar *certs_dir;
	gchar *dir_layout;
	gchar *root_pem;
	gchar *flag_file;
	gchar *paths[CK_TORTURE_N_REQUESTS]; /* object paths */
	goffset round_mark;                  /* size of daemon.log when the round began */
	goffset log_mark;                    /* ... and when the daemon last started */
	guint fault_kills;                   /* the daemon killed itself at the armed point */
	guint recovery_kills;                /* ... and again while it recovered or stopped */
	guint outside_kills;                 /* the test killed it */
	guint unreached;                     /* rounds whose point did not fire in time */
	guint checks;
	gint64 created_us; /* when the set-up began */
	gint64 start_us;   /* time spent starting daemons, and checking invariants */
	gint64 check_us;
	guint check_retries; /* checks repeated because something moved meanwhile */
} CkTorture;

/* Every kill of the run, across the test cases: CK_TORTURE_KILLS counts them all. */
static guint ck_torture_total_kills;

static guint
ck_torture_env_uint(const gchar *name, guint fallback)
{
	const gchar *text = g_getenv(name);
	guint64 value = 0;
	if (text == NULL || text[0] == '\0')
		return fallback;
	if (!g_ascii_string_to_unsigned(text, 10, 0, G_MAXUINT, &value, NULL))
		g_error("%s=%s is not a number", name, text);
	return (guint)value;
}

static gchar *
ck_torture_file(CkTorture *t, const CkTortureSpec *spec, const gchar *suffix)
{
	g_autofree gchar *name = g_strconcat(spec->id, suffix, NULL);
	return g_build_filename(t->certs_dir, name, NULL);
}

static void
ck_torture_free(CkTorture *t)
{
	if (t == NULL)
		return;
	g_clear_object(&t->bus);
	ck_test_daemon_free(t->td);
	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++)
		g_free(t->paths[i]);
	g_free(t->certs_dir);
	g_free(t->dir_layout);
	g_free(t->root_pem);
	g_free(t->flag_file);
	g_free(t);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkTorture, ck_torture_free)

/* The daemon's log */

static goffset
ck_torture_log_size(CkTorture *t)
{
	struct stat st;
	return stat(t->td->daemon_log, &st) == 0 ? st.st_size : 0;
}

static void
ck_torture_mark_log(CkTorture *t)
{
	t->log_mark = ck_torture_log_size(t);
}

static void
ck_torture_begin_round(CkTorture *t)
{
	t->round_mark = ck_torture_log_size(t);
}

/* What the daemon logged since @mark. */
static gchar *
ck_torture_log_since(CkTorture *t, goffset mark)
{
	g_autofree gchar *log = NULL;
	gsize len = 0;
	if (!g_file_get_contents(t->td->daemon_log, &log, &len, NULL))
		return g_strdup("");
	if ((gsize)mark >= len)
		return g_strdup("");
	return g_strdup(log + mark);
}

/* The last @lines lines of what the daemon logged since the round began. */
static gchar *
ck_torture_log_tail(CkTorture *t, guint lines)
{
	g_autofree gchar *log = ck_torture_log_since(t, t->round_mark);
	const gchar *start = log + strlen(log);
	for (guint n = 0; start > log && n <= lines; start--) {
		if (start[-1] == '\n')
			n++;
	}
	return g_strdup(start);
}

static guint
ck_torture_count(const gchar *haystack, const gchar *needle)
{
	guint n = 0;
	for (const gchar *p = strstr(haystack, needle); p != NULL; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* The bus */

/* Every request the daemon publishes: id -> its Request1 properties (a{sv}). */
static GHashTable *
ck_torture_get_requests(CkTorture *t, GError **error)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariantIter) objects = NULL;
	g_autoptr(GHashTable) requests = NULL;
	const gchar *path = NULL;
	GVariant *interfaces = NULL;

	reply = g_dbus_connection_call_sync(
	    t->bus, CK_TORTURE_BUS_NAME, CK_TORTURE_MANAGER_PATH,
	    "org.freedesktop.DBus.ObjectManager", "GetManagedObjects", NULL,
	    G_VARIANT_TYPE("(a{oa{sa{sv}}})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 5000, NULL, error);
	if (reply == NULL)
		return NULL;
	requests =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
	g_variant_get(reply, "(a{oa{sa{sv}}})", &objects);
	while (g_variant_iter_next(objects, "{&o@a{sa{sv}}}", &path, &interfaces)) {
		g_autoptr(GVariant) props = g_variant_lookup_value(
		    interfaces, CK_TORTURE_REQUEST_IFACE, G_VARIANT_TYPE("a{sv}"));
		const gchar *id = NULL;
		if (props != NULL && g_variant_lookup(props, "Id", "&s", &id)) {
			g_autoptr(GVariantBuilder) builder =
			    g_variant_builder_new(G_VARIANT_TYPE("a{sv}"));
			GVariantIter iter;
			const gchar *key;
			GVariant *value;
			/* the object path goes with the properties, for the triggers */
			g_variant_iter_init(&iter, props);
			while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
				g_variant_builder_add(builder, "{sv}", key, value);
				g_variant_unref(value);
			}
			g_variant_builder_add(builder, "{sv}", "ObjectPath",
					      g_variant_new_object_path(path));
			g_hash_table_insert(requests, g_strdup(id),
					    g_variant_ref_sink(g_variant_builder_end(builder)));
		}
		g_variant_unref(interfaces);
	}
	return g_steal_pointer(&requests);
}

static const gchar *
ck_torture_prop_string(GVariant *props, const gchar *name)
{
	const gchar *value = NULL;
	if (props == NULL || !g_variant_lookup(props, name, "&s", &value))
		return "";
	return value;
}

static guint64
ck_torture_prop_u64(GVariant *props, const gchar *name)
{
	guint64 value = 0;
	if (props != NULL && !g_variant_lookup(props, name, "t", &value)) {
		guint32 small = 0;
		if (g_variant_lookup(props, name, "u", &small))
			value = small;
	}
	return value;
}

static gboolean
ck_torture_prop_bool(GVariant *props, const gchar *name)
{
	gboolean value = FALSE;
	if (props != NULL)
		g_variant_lookup(props, name, "b", &value);
	return value;
}

/* Asks for a renewal now; a request that is renewing already answers Busy, which is fine. */
static void
ck_torture_trigger(CkTorture *t, guint i, gboolean rekey)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = g_dbus_connection_call_sync(
	    t->bus, CK_TORTURE_BUS_NAME, t->paths[i], CK_TORTURE_REQUEST_IFACE,
	    rekey ? "Rekey" : "Resubmit", NULL, NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START, 2000, NULL,
	    &error);
	/* Busy, or the daemon died under the call: both are what a torture test expects */
}

static void
ck_torture_trigger_all(CkTorture *t, gboolean rekey)
{
	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++)
		ck_torture_trigger(t, i, rekey);
}

/* The daemon */

/*
 * Waits until no process holds the state directory's lock. A daemon killed
 * while it spawned a hook leaves the child holding the lock's open file until
 * the child's exec (milliseconds), and a new daemon would refuse to start;
 * systemd stops such leftovers of a unit before it restarts it, we wait.
 */
static void
ck_torture_wait_unlocked(CkTorture *t)
{
	g_autofree gchar *path = g_build_filename(t->td->state_dir, "certkeeperd.lock", NULL);
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (g_get_monotonic_time() >= deadline) {
			g_test_message("%s is still locked after 5 s", path);
			break;
		}
		g_usleep(1000);
	}
	close(fd);
}

/* The next start has exactly these extra variables (NULL: none). */
static void
ck_torture_set_fault(CkTorture *t, const gchar *point, guint n)
{
	g_ptr_array_set_size(t->td->extra_env, 0);
	if (point != NULL)
		g_ptr_array_add(t->td->extra_env,
				g_strdup_printf("%s=%s:%u", CK_TORTURE_FAULT_ENV, point, n));
}

/* Asserts that the daemon died by its own fault point @point (by SIGKILL, saying so). */
static gboolean
ck_torture_died_at(CkTorture *t, gint status, const gchar *point, const gchar *when)
{
	g_autofree gchar *log = ck_torture_log_since(t, t->log_mark);
	g_autofree gchar *expected = g_strdup_printf("fault injection: killed at %s\n", point);

	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && strstr(log, expected) != NULL)
		return TRUE;
	{
		g_autofree gchar *tail = ck_torture_log_tail(t, 60);
		g_test_message(
		    "%s: certkeeperd ended with wait status 0x%x, not by its fault point "
		    "%s; its log:\n%s",
		    when, (guint)status, point, tail);
	}
	g_test_fail_printf("%s: certkeeperd did not die at its fault point %s", when, point);
	return FALSE;
}

/* The invariants */

typedef struct {
	gnutls_x509_crt_t *certs;
	guint n;
} CkTortureCerts;

static void
ck_torture_certs_clear(CkTortureCerts *certs)
{
	for (guint i = 0; i < certs->n; i++)
		gnutls_x509_crt_deinit(certs->certs[i]);
	gnutls_free(certs->certs);
	certs->certs = NULL;
	certs->n = 0;
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CkTortureCerts, ck_torture_certs_clear)

/* The certificates in the PEM file @path, in order; FALSE (and why) if none can be read. */
static gboolean
ck_torture_read_certs(const gchar *path, CkTortureCerts *certs, GString *why)
{
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	int rc;

	if (!g_file_get_contents(path, &pem, &len, &error)) {
		g_string_append_printf(why, "  cannot read %s: %s\n", path, error->message);
		return FALSE;
	}
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)len;
	rc = gnutls_x509_crt_list_import2(&certs->certs, &certs->n, &datum, GNUTLS_X509_FMT_PEM, 0);
	if (rc < 0 || certs->n == 0) {
		g_string_append_printf(why, "  %s holds no certificate: %s\n", path,
				       rc < 0 ? gnutls_strerror(rc) : "empty");
		return FALSE;
	}
	return TRUE;
}

/* The key id (SHA-256 of the public key) of the private key in the PEM file @path. */
static gboolean
ck_torture_key_id_of_key(const gchar *path, guint8 *id, size_t *id_len, GString *why)
{
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) error = NULL;
	gnutls_privkey_t key = NULL;
	gnutls_pubkey_t pub = NULL;
	gsize len = 0;
	gnutls_datum_t datum;
	int rc;

	if (!g_file_get_contents(path, &pem, &len, &error)) {
		g_string_append_printf(why, "  cannot read %s: %s\n", path, error->message);
		return FALSE;
	}
	datum.data = (unsigned char *)pem;
	datum.size = (unsigned int)len;
	rc = gnutls_privkey_init(&key);
	if (rc >= 0)
		rc = gnutls_privkey_import_x509_raw(key, &datum, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (rc >= 0)
		rc = gnutls_pubkey_init(&pub);
	if (rc >= 0)
		rc = gnutls_pubkey_import_privkey(pub, key, 0, 0);
	if (rc >= 0)
		rc = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id, id_len);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	if (key != NULL)
		gnutls_privkey_deinit(key);
	gnutls_memset(pem, 0, len);
	if (rc < 0) {
		g_string_append_printf(why, "  %s holds no usable private key: %s\n", path,
				       gnutls_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/* Does the private key in @key_path belong to @crt? */
static gboolean
ck_torture_key_matches(gnutls_x509_crt_t crt, const gchar *key_path, const gchar *cert_path,
		       GString *why)
{
	guint8 key_id[64], cert_id[64];
	size_t key_len = sizeof(key_id), cert_len = sizeof(cert_id);

	if (!ck_torture_key_id_of_key(key_path, key_id, &key_len, why))
		return FALSE;
	if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, cert_id, &cert_len) < 0) {
		g_string_append_printf(why, "  no key id in the certificate %s\n", cert_path);
		return FALSE;
	}
	if (key_len != cert_len || memcmp(key_id, cert_id, key_len) != 0) {
		g_string_append_printf(why, "  the key %s does not belong to the certificate %s\n",
				       key_path, cert_path);
		return FALSE;
	}
	return TRUE;
}

static gchar *
ck_torture_serial(gnutls_x509_crt_t crt)
{
	guint8 serial[64];
	size_t len = sizeof(serial);
	GString *hex = g_string_new(NULL);
	if (gnutls_x509_crt_get_serial(crt, serial, &len) >= 0) {
		for (size_t i = 0; i < len; i++)
			g_string_append_printf(hex, "%02x", serial[i]);
	}
	return g_string_free(hex, FALSE);
}

static gboolean
ck_torture_same_cert(gnutls_x509_crt_t a, gnutls_x509_crt_t b)
{
	gnutls_datum_t da = {NULL, 0}, db = {NULL, 0};
	gboolean same = gnutls_x509_crt_export2(a, GNUTLS_X509_FMT_DER, &da) >= 0 &&
			gnutls_x509_crt_export2(b, GNUTLS_X509_FMT_DER, &db) >= 0 &&
			da.size == db.size && memcmp(da.data, db.data, da.size) == 0;
	gnutls_free(da.data);
	gnutls_free(db.data);
	return same;
}

/* Does @leaf with the intermediates in @chain_path verify to the local CA's root? */
static gboolean
ck_torture_chain_verifies(CkTorture *t, gnutls_x509_crt_t leaf, const gchar *chain_path,
			  GString *why)
{
	g_auto(CkTortureCerts) chain = {NULL, 0};
	gnutls_x509_trust_list_t trust = NULL;
	g_autofree gnutls_x509_crt_t *list = NULL;
	unsigned int verify = 0;
	int rc;

	if (!ck_torture_read_certs(chain_path, &chain, why))
		return FALSE;
	list = g_new0(gnutls_x509_crt_t, chain.n + 1);
	list[0] = leaf;
	for (guint i = 0; i < chain.n; i++)
		list[i + 1] = chain.certs[i];
	rc = gnutls_x509_trust_list_init(&trust, 0);
	if (rc >= 0)
		rc = gnutls_x509_trust_list_add_trust_file(trust, t->root_pem, NULL,
							   GNUTLS_X509_FMT_PEM, 0, 0);
	if (rc >= 0)
		rc = gnutls_x509_trust_list_verify_crt(trust, list, chain.n + 1, 0, &verify, NULL);
	if (trust != NULL)
		gnutls_x509_trust_list_deinit(trust, 1);
	if (rc < 0 || verify != 0) {
		g_string_append_printf(why,
				       "  the chain %s does not verify the certificate to %s "
				       "(%s, status 0x%x)\n",
				       chain_path, t->root_pem, rc < 0 ? gnutls_strerror(rc) : "ok",
				       verify);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ck_torture_is_leftover(const gchar *name)
{
	return g_str_has_suffix(name, ".ck-new") || strstr(name, ".ck-tmp-") != NULL ||
	       g_str_has_prefix(name, ".ck-probe-") || strstr(name, ".corrupt-") != NULL;
}

/* Staged, temporary and quarantined files, and dangling links, anywhere below @dir. */
static void
ck_torture_scan(const gchar *dir, GString *why)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) d = g_dir_open(dir, 0, &error);
	const gchar *name;

	if (d == NULL) {
		g_string_append_printf(why, "  cannot read the directory %s: %s\n", dir,
				       error->message);
		return;
	}
	while ((name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		struct stat st;

		if (ck_torture_is_leftover(name))
			g_string_append_printf(why, "  left behind: %s\n", path);
		if (lstat(path, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			struct stat target;
			if (stat(path, &target) < 0)
				g_string_append_printf(why, "  dangling link: %s\n", path);
		} else if (S_ISDIR(st.st_mode)) {
			ck_torture_scan(path, why);
		}
	}
}

static gint64
ck_torture_json_int(JsonObject *obj, const gchar *name)
{
	return json_object_get_int_member_with_default(obj, name, 0);
}

/*
 * The state file of @spec: it parses, is the request's, is MONITORING with
 * nothing in flight, and names the certificate the daemon publishes. Its
 * backups-until in @backups_until.
 */
static void
ck_torture_check_state_file(CkTorture *t, const CkTortureSpec *spec, GVariant *props,
			    gint64 *backups_until, GString *why)
{
	g_autofree gchar *name = g_strconcat(spec->id, ".json", NULL);
	g_autofree gchar *path = g_build_filename(t->td->state_dir, "requests", name, NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonObject *obj;
	const gchar *state, *serial;

	*backups_until = 0;
	if (!json_parser_load_from_file(parser, path, &error)) {
		g_string_append_printf(why, "  the state file %s does not parse: %s\n", path,
				       error->message);
		return;
	}
	if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
		g_string_append_printf(why, "  the state file %s holds no object\n", path);
		return;
	}
	obj = json_node_get_object(json_parser_get_root(parser));
	if (g_strcmp0(json_object_get_string_member_with_default(obj, "id", ""), spec->id) != 0)
		g_string_append_printf(why, "  the state file %s is not request %s's\n", path,
				       spec->id);
	state = json_object_get_string_member_with_default(obj, "state", "");
	if (g_strcmp0(state, "MONITORING") != 0)
		g_string_append_printf(why, "  the state file %s says %s, the daemon MONITORING\n",
				       path, state);
	if (json_object_has_member(obj, "install"))
		g_string_append_printf(why, "  the state file %s still records an install\n", path);
	serial = json_object_get_string_member_with_default(obj, "serial", "");
	if (g_strcmp0(serial, ck_torture_prop_string(props, "Serial")) != 0)
		g_string_append_printf(why, "  the state file %s names serial %s, the daemon %s\n",
				       path, serial, ck_torture_prop_string(props, "Serial"));
	*backups_until = ck_torture_json_int(obj, "backups-until");
}

/* The directory layout: "current" names an existing version, the stable names go through it. */
static void
ck_torture_check_directory(CkTorture *t, gint64 backups_until, GString *why)
{
	const gchar *names[] = {"cert.pem", "key.pem", "chain.pem", "combined.pem"};
	g_autofree gchar *current = g_build_filename(t->dir_layout, "current", NULL);
	g_autofree gchar *versions = g_build_filename(t->dir_layout, ".versions", NULL);
	g_autofree gchar *dest = g_file_read_link(current, NULL);
	g_autofree gchar *version = NULL;
	g_autoptr(GDir) d = NULL;
	const gchar *name;

	if (dest == NULL || !g_str_has_prefix(dest, ".versions/")) {
		g_string_append_printf(why, "  %s is not a link into .versions/ (%s)\n", current,
				       dest != NULL ? dest : "no link");
		return;
	}
	version = g_path_get_basename(dest);
	if (!g_file_test(current, G_FILE_TEST_IS_DIR))
		g_string_append_printf(why, "  %s points to %s, which is no directory\n", current,
				       dest);
	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *link = g_build_filename(t->dir_layout, names[i], NULL);
		g_autofree gchar *expected = g_build_filename("current", names[i], NULL);
		g_autofree gchar *link_dest = g_file_read_link(link, NULL);
		if (g_strcmp0(link_dest, expected) != 0)
			g_string_append_printf(why, "  %s links to %s, not %s\n", link,
					       link_dest != NULL ? link_dest : "nothing", expected);
	}
	/* versions other than the live one are the grace period's, and end with it */
	d = g_dir_open(versions, 0, NULL);
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		if (g_strcmp0(name, version) != 0 && backups_until == 0)
			g_string_append_printf(
			    why, "  %s/%s outlived the grace period (current is %s)\n", versions,
			    name, version);
	}
}

/* The files of one request: readable, modes kept, key and chain the certificate's. */
static void
ck_torture_check_files(CkTorture *t, const CkTortureSpec *spec, GVariant *props,
		       gint64 backups_until, GString *why)
{
	g_auto(CkTortureCerts) cert = {NULL, 0};
	g_autofree gchar *cert_file = NULL, *key_file = NULL, *chain_file = NULL;
	g_autofree gchar *combined_file = NULL, *serial = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 not_after;

	if (spec->directory) {
		cert_file = g_build_filename(t->dir_layout, "cert.pem", NULL);
		key_file = g_build_filename(t->dir_layout, "key.pem", NULL);
		chain_file = g_build_filename(t->dir_layout, "chain.pem", NULL);
		combined_file = g_build_filename(t->dir_layout, "combined.pem", NULL);
	} else {
		cert_file = ck_torture_file(t, spec, ".crt");
		key_file = ck_torture_file(t, spec, ".key");
		chain_file = spec->chain ? ck_torture_file(t, spec, "-chain.crt") : NULL;
		combined_file = spec->combined ? ck_torture_file(t, spec, "-combined.pem") : NULL;
	}
	if (g_strcmp0(ck_torture_prop_string(props, "CertFile"), cert_file) != 0 ||
	    g_strcmp0(ck_torture_prop_string(props, "KeyFile"), key_file) != 0)
		g_string_append_printf(why, "  request %s names %s and %s, not %s and %s\n",
				       spec->id, ck_torture_prop_string(props, "CertFile"),
				       ck_torture_prop_string(props, "KeyFile"), cert_file,
				       key_file);
	if (!ck_torture_read_certs(cert_file, &cert, why))
		return;
	serial = ck_torture_serial(cert.certs[0]);
	if (g_strcmp0(serial, ck_torture_prop_string(props, "Serial")) != 0)
		g_string_append_printf(why, "  %s holds serial %s, the daemon says %s\n", cert_file,
				       serial, ck_torture_prop_string(props, "Serial"));
	not_after = (gint64)gnutls_x509_crt_get_expiration_time(cert.certs[0]);
	if (not_after <= now)
		g_string_append_printf(why, "  %s expired %lld s ago\n", cert_file,
				       (long long)(now - not_after));
	ck_torture_key_matches(cert.certs[0], key_file, cert_file, why);
	if (ck_test_file_mode(key_file) != 0600 || ck_test_file_mode(cert_file) != 0644)
		g_string_append_printf(why, "  %s has mode %o and %s %o, not 0600 and 0644\n",
				       key_file, ck_test_file_mode(key_file), cert_file,
				       ck_test_file_mode(cert_file));
	if (chain_file != NULL)
		ck_torture_chain_verifies(t, cert.certs[0], chain_file, why);
	if (combined_file != NULL) {
		g_auto(CkTortureCerts) combined = {NULL, 0};
		if (ck_torture_read_certs(combined_file, &combined, why)) {
			if (!ck_torture_same_cert(combined.certs[0], cert.certs[0]))
				g_string_append_printf(why,
						       "  %s holds another certificate than %s\n",
						       combined_file, cert_file);
			ck_torture_key_matches(cert.certs[0], combined_file, cert_file, why);
		}
	}
	if (spec->directory) {
		ck_torture_check_directory(t, backups_until, why);
	} else if (backups_until == 0) {
		/* the previous files are kept for the grace period only */
		const gchar *files[] = {cert_file, key_file, chain_file, combined_file};
		for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
			g_autofree gchar *backup = NULL;
			if (files[i] == NULL)
				continue;
			backup = g_strconcat(files[i], ".ck-prev", NULL);
			if (g_file_test(backup, G_FILE_TEST_EXISTS))
				g_string_append_printf(why, "  %s outlived the grace period\n",
						       backup);
		}
	}
}

/* Every invariant, once, against the published state @requests; appends what is wrong to @why. */
static void
ck_torture_check_now(CkTorture *t, GHashTable *requests, GString *why)
{
	g_autofree gchar *pending = g_build_filename(t->td->state_dir, "pending", NULL);
	g_autofree gchar *requests_dir = g_build_filename(t->td->state_dir, "requests", NULL);
	g_autoptr(GDir) d = NULL;
	const gchar *name;

	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++) {
		const CkTortureSpec *spec = &ck_torture_specs[i];
		GVariant *props = g_hash_table_lookup(requests, spec->id);
		gint64 backups_until = 0;
		if (props == NULL)
			continue; /* reported by ck_torture_check_published() */
		ck_torture_check_state_file(t, spec, props, &backups_until, why);
		ck_torture_check_files(t, spec, props, backups_until, why);
	}
	/* nothing but the requests' own state files, nothing pending, nothing left over */
	d = g_dir_open(requests_dir, 0, NULL);
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *id = g_str_has_suffix(name, ".json")
					   ? g_strndup(name, strlen(name) - strlen(".json"))
					   : NULL;
		if (id == NULL || !g_hash_table_contains(requests, id))
			g_string_append_printf(why, "  unexpected state file %s/%s\n", requests_dir,
					       name);
	}
	g_clear_pointer(&d, g_dir_close);
	d = g_dir_open(pending, 0, NULL);
	while (d != NULL && (name = g_dir_read_name(d)) != NULL)
		g_string_append_printf(why, "  left behind: %s/%s\n", pending, name);
	ck_torture_scan(t->certs_dir, why);
	ck_torture_scan(t->td->state_dir, why);
}

/*
 * What the published state says that no wait will change: a request gone or
 * added, or one that needs a human. Appends it to @why; FALSE if there is any.
 */
static gboolean
ck_torture_check_published(GHashTable *requests, GString *why)
{
	gsize before = why->len;

	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++) {
		GVariant *props = g_hash_table_lookup(requests, ck_torture_specs[i].id);
		if (props == NULL) {
			g_string_append_printf(why, "  request %s is no longer tracked\n",
					       ck_torture_specs[i].id);
		} else if (ck_torture_prop_bool(props, "Stuck")) {
			g_string_append_printf(why, "  request %s is stuck in %s: %s\n",
					       ck_torture_specs[i].id,
					       ck_torture_prop_string(props, "State"),
					       ck_torture_prop_string(props, "LastError"));
		}
	}
	if (g_hash_table_size(requests) != CK_TORTURE_N_REQUESTS)
		g_string_append_printf(why, "  %u requests are tracked, not %u\n",
				       g_hash_table_size(requests), (guint)CK_TORTURE_N_REQUESTS);
	return why->len == before;
}

/* The requests that are not MONITORING, as "id=STATE ...", NULL if all are. */
static gchar *
ck_torture_busy(GHashTable *requests)
{
	g_autoptr(GString) busy = g_string_new(NULL);
	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++) {
		GVariant *props = g_hash_table_lookup(requests, ck_torture_specs[i].id);
		const gchar *state = ck_torture_prop_string(props, "State");
		if (g_strcmp0(state, "MONITORING") != 0)
			g_string_append_printf(busy, " %s=%s", ck_torture_specs[i].id, state);
	}
	return busy->len > 0 ? g_string_free(g_steal_pointer(&busy), FALSE) : NULL;
}

/*
 * Everything a check depends on that the daemon changes when it works: the
 * published schedule and certificate of each request, and the identity of
 * each state file (every write replaces it). Equal before and after a check
 * means the daemon did nothing in between, so what the check saw is real.
 */
static gchar *
ck_torture_snapshot(CkTorture *t, GHashTable *requests)
{
	GString *snapshot = g_string_new(NULL);
	const gchar *strings[] = {"State", "Serial", "LastError", "Waiting"};
	const gchar *numbers[] = {"NotAfter", "RenewalTime", "NextAttempt", "FailedAttempts",
				  "LastRenewal"};

	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++) {
		const gchar *id = ck_torture_specs[i].id;
		GVariant *props = g_hash_table_lookup(requests, id);
		g_autofree gchar *name = g_strconcat(id, ".json", NULL);
		g_autofree gchar *path = g_build_filename(t->td->state_dir, "requests", name, NULL);
		struct stat st = {0};

		g_string_append_printf(snapshot, "%s:", id);
		for (guint j = 0; j < G_N_ELEMENTS(strings); j++)
			g_string_append_printf(snapshot, " %s",
					       ck_torture_prop_string(props, strings[j]));
		for (guint j = 0; j < G_N_ELEMENTS(numbers); j++)
			g_string_append_printf(snapshot, " %" G_GUINT64_FORMAT,
					       ck_torture_prop_u64(props, numbers[j]));
		stat(path, &st);
		g_string_append_printf(snapshot, " ino %llu %lld.%09ld\n",
				       (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec,
				       st.st_mtim.tv_nsec);
	}
	return g_string_free(snapshot, FALSE);
}

/*
 * The invariants after a recovery. Waits (bounded) until every request is
 * MONITORING again, then checks everything; when the daemon moved on during
 * the check (a renewal came by itself), it looks again. FALSE, with the
 * violations and the daemon's log in the test's messages, if they do not hold.
 */
static gboolean
ck_torture_check_invariants(CkTorture *t, const gchar *when)
{
	gint64 deadline = g_get_monotonic_time() + CK_TORTURE_RECOVERY_MS * 1000;
	g_autoptr(GString) why = g_string_new(NULL);
	gboolean settled = FALSE;

	t->checks++;
	for (guint attempt = 0;; attempt++) {
		g_autoptr(GHashTable) before = NULL;
		g_autoptr(GHashTable) after = NULL;
		g_autoptr(GError) error = NULL;
		g_autofree gchar *busy = NULL;

		g_string_truncate(why, 0);
		if (attempt > 0)
			g_usleep(10 * 1000);
		before = ck_torture_get_requests(t, &error);
		if (before == NULL) {
			g_string_append_printf(why, "  cannot list the requests: %s\n",
					       error->message);
			break;
		}
		if (!ck_torture_check_published(before, why))
			break;
		busy = ck_torture_busy(before);
		if (busy == NULL) {
			g_autofree gchar *snap_before = ck_torture_snapshot(t, before);
			g_autofree gchar *snap_after = NULL;
			ck_torture_check_now(t, before, why);
			after = ck_torture_get_requests(t, &error);
			if (after == NULL) {
				g_string_append_printf(why, "  cannot list the requests: %s\n",
						       error->message);
				break;
			}
			snap_after = ck_torture_snapshot(t, after);
			if (g_strcmp0(snap_before, snap_after) == 0) {
				settled = TRUE;
				break;
			}
			/* a renewal or a clean-up ran while we looked: what we saw may be torn */
			t->check_retries++;
		} else {
			g_string_append_printf(why, "  not MONITORING after %d s:%s\n",
					       CK_TORTURE_RECOVERY_MS / 1000, busy);
		}
		if (g_get_monotonic_time() >= deadline)
			break;
	}
	if (settled && why->len == 0)
		return TRUE;
	{
		g_autofree gchar *tail = ck_torture_log_tail(t, 80);
		g_test_message("%s: the invariants do not hold%s:\n%s\ncertkeeperd's log of the "
			       "round (end):\n%s",
			       when, settled ? "" : " (the daemon never settled)", why->str, tail);
	}
	g_test_fail_printf("%s: the invariants do not hold: %s", when, why->str);
	return FALSE;
}

/* Set-up */

/* Adds the request @spec with the real CLI; with @wait, until it is issued. */
static void
ck_torture_add_request(CkTorture *t, const CkTortureSpec *spec, gboolean wait)
{
	g_autofree gchar *cert = ck_torture_file(t, spec, ".crt");
	g_autofree gchar *key = ck_torture_file(t, spec, ".key");
	g_autofree gchar *chain = ck_torture_file(t, spec, "-chain.crt");
	g_autofree gchar *combined = ck_torture_file(t, spec, "-combined.pem");
	g_autofree gchar *subject = g_strdup_printf("CN=%s.torture.example", spec->id);
	g_autofree gchar *dns = g_strdup_printf("%s.torture.example", spec->id);
	/* the check passes, then fails, then passes ...: every other install is rolled back */
	g_autofree gchar *check =
	    g_strdup_printf("if [ -e '%s' ]; then rm -f '%s'; exit 1; fi; touch '%s'", t->flag_file,
			    t->flag_file, t->flag_file);
	const gchar *a[32] = {NULL};
	guint n = 0;

	if (wait) {
		a[n++] = "-w";
		a[n++] = "--wait-timeout=60";
	}
	a[n++] = "-I";
	a[n++] = spec->id;
	a[n++] = "-N";
	a[n++] = subject;
	a[n++] = "-D";
	a[n++] = dns;
	a[n++] = "--validity";
	a[n++] = spec->validity;
	if (spec->directory) {
		a[n++] = "--directory";
		a[n++] = t->dir_layout;
	} else {
		a[n++] = "-f";
		a[n++] = cert;
		a[n++] = "-k";
		a[n++] = key;
	}
	if (spec->chain) {
		a[n++] = "-F";
		a[n++] = chain;
	}
	if (spec->combined) {
		a[n++] = "--combined-file";
		a[n++] = combined;
	}
	if (spec->key_type != NULL) {
		a[n++] = "-G";
		a[n++] = spec->key_type;
	}
	if (spec->key_policy != NULL) {
		a[n++] = "--key-policy";
		a[n++] = spec->key_policy;
	}
	if (spec->renew_before != NULL) {
		a[n++] = "--renew-before";
		a[n++] = spec->renew_before;
	}
	if (spec->flaky_check) {
		a[n++] = "--check-command";
		a[n++] = check;
	}
	g_assert_cmpuint(n, <=, 26);
	g_assert_cmpint(ck_test_cli(t->td, FALSE, NULL, NULL, NULL, "request", a[0], a[1], a[2],
				    a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12],
				    a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20], a[21],
				    a[22], a[23], a[24], a[25], NULL),
			==, 0);
}

/* A private bus, certkeeperd and every kind of request, issued; NULL when skipped. */
static CkTorture *
ck_torture_new(void)
{
	g_autoptr(CkTorture) t = NULL;
	CkTestDaemon *td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GHashTable) requests = NULL;
	g_autoptr(GError) error = NULL;

	if (td == NULL)
		return NULL;
	t = g_new0(CkTorture, 1);
	t->created_us = g_get_monotonic_time();
	t->td = td;
	t->certs_dir = g_build_filename(td->dir, "certs", NULL);
	t->dir_layout = g_build_filename(t->certs_dir, "layout", NULL);
	t->root_pem = g_build_filename(td->state_dir, "local-ca", "root.pem", NULL);
	t->flag_file = g_build_filename(td->dir, "check-flag", NULL);
	g_assert_cmpint(g_mkdir_with_parents(t->dir_layout, 0755), ==, 0);
	ck_test_daemon_write_config(td, ck_torture_config);
	ck_test_daemon_start(td);
	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++)
		ck_torture_add_request(t, &ck_torture_specs[i], TRUE);
	t->bus = ck_test_daemon_connect(td);
	requests = ck_torture_get_requests(t, &error);
	g_assert_no_error(error);
	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++) {
		GVariant *props = g_hash_table_lookup(requests, ck_torture_specs[i].id);
		const gchar *path = NULL;
		g_assert_nonnull(props);
		g_assert_true(g_variant_lookup(props, "ObjectPath", "&o", &path));
		t->paths[i] = g_strdup(path);
	}
	if (!ck_torture_check_invariants(t, "after the set-up"))
		return NULL;
	return g_steal_pointer(&t);
}

static void
ck_torture_report(CkTorture *t, const gchar *what)
{
	g_autofree gchar *log = NULL;

	log = ck_torture_log_since(t, 0);
	g_test_message(
	    "%s: %u kills (%u at the armed fault point, %u more at it while the daemon "
	    "recovered or stopped, %u from outside); %u rounds whose point never fired; "
	    "%u invariant checks "
	    "(%u looked again because the daemon moved meanwhile). The daemon rolled "
	    "%u interrupted installs forward, discarded %u staged ones and finished %u "
	    "interrupted rollbacks; %u post-install checks failed and were rolled back. "
	    "%.1f s in all; clean restarts took %.1f s, waiting for the recovery and "
	    "checking %.1f s.",
	    what, t->fault_kills + t->recovery_kills + t->outside_kills, t->fault_kills,
	    t->recovery_kills, t->outside_kills, t->unreached, t->checks, t->check_retries,
	    ck_torture_count(log, "finishing an install that was interrupted"),
	    ck_torture_count(log, "removing the files of an install that was "
				  "interrupted"),
	    ck_torture_count(log, "finishing a rollback that was interrupted"),
	    ck_torture_count(log, "the previous certificate is back in place"),
	    (g_get_monotonic_time() - t->created_us) / 1e6, t->start_us / 1e6, t->check_us / 1e6);
}

/* The test cases */

/* Starts the daemon without a fault point; the invariants must hold once it recovered. */
static gboolean
ck_torture_restart_and_check(CkTorture *t, const gchar *when)
{
	gint64 start = g_get_monotonic_time();
	gint64 checked;
	gboolean ok;

	ck_torture_set_fault(t, NULL, 0);
	ck_torture_mark_log(t);
	ck_torture_wait_unlocked(t);
	ck_test_daemon_start(t->td);
	checked = g_get_monotonic_time();
	t->start_us += checked - start;
	ok = ck_torture_check_invariants(t, when);
	t->check_us += g_get_monotonic_time() - checked;
	return ok;
}

/* Stops the daemon of the previous round cleanly; FALSE (and fails) if it did not stop so. */
static gboolean
ck_torture_stop(CkTorture *t, const gchar *point, const gchar *when)
{
	gint status = ck_test_daemon_stop(t->td);

	if (status == 0)
		return TRUE;
	/* a SIGTERM'd daemon still saves its state: an armed point may fire there */
	if (point != NULL && status == 128 + SIGKILL) {
		if (!ck_torture_died_at(t, W_EXITCODE(0, SIGKILL), point, when))
			return FALSE;
		t->recovery_kills++;
		ck_torture_total_kills++;
		return TRUE;
	}
	g_test_fail_printf("%s: certkeeperd exited with %d on SIGTERM", when, status);
	return FALSE;
}

/*
 * The daemon that recovers from a fault kill is armed again with the same
 * point: a crash during the recovery must be recovered from too. It runs
 * until it died or every request is MONITORING again.
 */
static gboolean
ck_torture_recover_armed(CkTorture *t, const gchar *point, const gchar *when)
{
	gint64 deadline = g_get_monotonic_time() + CK_TORTURE_RECOVERY_MS * 1000;
	gint status = 0;

	ck_torture_set_fault(t, point, 1);
	ck_torture_mark_log(t);
	ck_torture_wait_unlocked(t);
	if (!ck_test_daemon_start_or_exit(t->td, &status))
		goto died;
	while (g_get_monotonic_time() < deadline) {
		g_autoptr(GHashTable) requests = ck_torture_get_requests(t, NULL);
		g_autofree gchar *busy = requests != NULL ? ck_torture_busy(requests) : NULL;
		if (ck_test_daemon_wait_exit(t->td, 0, &status))
			goto died;
		if (requests != NULL && busy == NULL)
			return ck_torture_stop(t, point, when);
		if (ck_test_daemon_wait_exit(t->td, 20, &status))
			goto died;
	}
	/* the check after the clean restart reports what stays busy */
	return ck_torture_stop(t, point, when);
died:
	if (!ck_torture_died_at(t, status, point, when))
		return FALSE;
	t->recovery_kills++;
	ck_torture_total_kills++;
	return TRUE;
}

/* One deterministic round: the daemon kills itself the @n-th time it passes @point. */
static gboolean
ck_torture_fault_round(CkTorture *t, const gchar *point, guint retrigger_ms, guint n, guint round)
{
	g_autofree gchar *when = g_strdup_printf("round %u (%s:%u)", round, point, n);
	gint64 deadline;
	gint status = 0;
	gboolean died = FALSE;

	ck_torture_begin_round(t);
	if (!ck_torture_stop(t, NULL, when))
		return FALSE;
	ck_torture_set_fault(t, point, n);
	ck_torture_mark_log(t);
	ck_torture_wait_unlocked(t);
	if (!ck_test_daemon_start_or_exit(t->td, &status)) {
		/* what the SIGTERM left in flight was recovered at start-up, past the point */
		died = TRUE;
	} else {
		deadline = g_get_monotonic_time() +
			   (gint64)(CK_TORTURE_REACH_MS + n * CK_TORTURE_REACH_PER_N_MS) * 1000;
		for (guint i = 0; !died && g_get_monotonic_time() < deadline; i++) {
			/* a new key or the same one: both paths stage the same files */
			ck_torture_trigger_all(t, (i + n) % 2 == 1);
			died = ck_test_daemon_wait_exit(t->td, retrigger_ms, &status);
		}
	}
	if (died) {
		if (!ck_torture_died_at(t, status, point, when))
			return FALSE;
		t->fault_kills++;
		ck_torture_total_kills++;
		if (!ck_torture_recover_armed(t, point, when))
			return FALSE;
	} else {
		g_test_message("%s: the point was not reached in %u s", when,
			       (CK_TORTURE_REACH_MS + n * CK_TORTURE_REACH_PER_N_MS) / 1000);
		t->unreached++;
		if (!ck_torture_stop(t, point, when))
			return FALSE;
	}
	return ck_torture_restart_and_check(t, when);
}

static void
test_torture_fault_points(void)
{
	g_autoptr(CkTorture) t = ck_torture_new();
	guint depth = ck_torture_env_uint("CK_TORTURE_DEPTH", 6);
	guint round = 0;

	if (t == NULL)
		return;
	for (guint p = 0; p < G_N_ELEMENTS(ck_torture_points); p++) {
		guint fired = t->fault_kills;
		for (guint n = 1; n <= depth; n++) {
			if (!ck_torture_fault_round(t, ck_torture_points[p].name,
						    ck_torture_points[p].retrigger_ms, n, ++round))
				return;
		}
		/* every point is on the install path: one that never fires is a dead name */
		if (t->fault_kills == fired) {
			g_test_fail_printf("the fault point %s never fired",
					   ck_torture_points[p].name);
			return;
		}
	}
	ck_torture_report(t, "fault points");
}

/*
 * Tracks request @i anew, from nothing: stop-tracking, its files removed, the
 * request added again without waiting, so the kill that follows may find its
 * first install, whose files are all new (the "fresh" files of a rollback).
 */
static void
ck_torture_reenroll(CkTorture *t, guint i)
{
	const CkTortureSpec *spec = &ck_torture_specs[i];

	g_assert_cmpint(
	    ck_test_cli(t->td, FALSE, NULL, NULL, NULL, "stop-tracking", "-i", spec->id, NULL), ==,
	    0);
	if (spec->directory) {
		ck_test_rm_rf(t->dir_layout);
		g_assert_cmpint(g_mkdir(t->dir_layout, 0755), ==, 0);
	} else {
		const gchar *suffixes[] = {".crt", ".key", "-chain.crt", "-combined.pem"};
		for (guint j = 0; j < G_N_ELEMENTS(suffixes); j++) {
			g_autofree gchar *path = ck_torture_file(t, spec, suffixes[j]);
			g_autofree gchar *backup = g_strconcat(path, ".ck-prev", NULL);
			g_unlink(path);
			g_unlink(backup);
		}
	}
	ck_torture_add_request(t, spec, FALSE);
}

/* One random round: renewals are asked for, and the daemon is killed from outside. */
static gboolean
ck_torture_random_round(CkTorture *t, guint round)
{
	g_autofree gchar *when = NULL;
	gint64 start = g_get_monotonic_time();
	gint64 kill_at = start + (gint64)g_test_rand_int_range(0, CK_TORTURE_RANDOM_MS + 1) * 1000;
	guint order[CK_TORTURE_N_REQUESTS];
	gint status = 0;

	ck_torture_begin_round(t);
	/* now and then a first install: every kind of layout's, in turn */
	if (round % 8 == 0) {
		const gchar *const fresh[] = {"long", "dir", "combined"};
		const gchar *id = fresh[(round / 8) % G_N_ELEMENTS(fresh)];
		for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++) {
			if (g_strcmp0(ck_torture_specs[i].id, id) == 0)
				ck_torture_reenroll(t, i);
		}
		start = g_get_monotonic_time();
		kill_at = start + (gint64)g_test_rand_int_range(0, CK_TORTURE_RANDOM_MS + 1) * 1000;
	}
	for (guint i = 0; i < CK_TORTURE_N_REQUESTS; i++)
		order[i] = i;
	for (guint i = CK_TORTURE_N_REQUESTS - 1; i > 0; i--) {
		guint j = (guint)g_test_rand_int_range(0, (gint32)i + 1);
		guint tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	/* renewals asked for one after another, so the kill finds them at every step */
	for (guint i = 0; g_get_monotonic_time() < kill_at; i++) {
		gint64 pause;
		ck_torture_trigger(t, order[i % CK_TORTURE_N_REQUESTS], g_test_rand_bit());
		pause = MIN((gint64)g_test_rand_int_range(0, 40) * 1000,
			    kill_at - g_get_monotonic_time());
		if (pause > 0)
			g_usleep((gulong)pause);
	}
	when = g_strdup_printf("random round %u (killed %lld ms after the first renewal)", round,
			       (long long)((g_get_monotonic_time() - start) / 1000));
	if (ck_test_daemon_wait_exit(t->td, 0, &status)) {
		g_autofree gchar *tail = ck_torture_log_tail(t, 60);
		g_test_message("%s: certkeeperd died by itself (wait status 0x%x):\n%s", when,
			       (guint)status, tail);
		g_test_fail_printf("%s: certkeeperd died by itself", when);
		return FALSE;
	}
	ck_test_daemon_kill(t->td);
	t->outside_kills++;
	ck_torture_total_kills++;
	return ck_torture_restart_and_check(t, when);
}

static void
test_torture_random_kills(void)
{
	g_autoptr(CkTorture) t = ck_torture_new();
	guint target = ck_torture_env_uint("CK_TORTURE_KILLS", 500);
	/* the fault points made their kills already; these make up the rest, and at least 50 */
	guint rounds =
	    MAX(target > ck_torture_total_kills ? target - ck_torture_total_kills : 0, 50);

	if (t == NULL)
		return;
	for (guint round = 1; round <= rounds; round++) {
		if (!ck_torture_random_round(t, round))
			return;
	}
	ck_torture_report(t, "random kills");
	g_test_message("%u kills in all", ck_torture_total_kills);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/torture/fault-points", test_torture_fault_points);
	g_test_add_func("/certkeeper/torture/random-kills", test_torture_random_kills);
	return g_test_run();
}
