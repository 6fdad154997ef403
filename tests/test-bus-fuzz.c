/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Random a{sv} dictionaries for AddRequest and Modify, through the bus, to the
 * real daemon: it never crashes, every answer is a success or a named
 * org.certkeeper.Error.* with a message, and afterwards its state is consistent
 * (the requests on the bus are exactly those added, their state files say the
 * same, Modify never moved a request's files or id, nothing was written outside
 * the test directory).
 *
 * CK_FUZZ_ITERATIONS: how many AddRequest and how many Modify calls (10000 each
 * by default). The dictionaries come from the test's seed: run again with
 * --seed=... (printed at the start) to get the same ones.
 *
 * The daemon runs as root without a policy, so every path the generator makes is
 * one that must fail (relative, /proc, /sys, missing directories) or lies inside
 * the test directory; commands are chosen from a fixed, harmless list.
 */
#include "config.h"

#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-request-options.h"
#include "ck-test-daemon.h"
#include "ck-test-util.h"

#define FZ_BUS_NAME      "org.certkeeper.Certkeeper1"
#define FZ_MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define FZ_MANAGER_IFACE "org.certkeeper.Manager1"
#define FZ_REQUEST_IFACE "org.certkeeper.Request1"
#define FZ_IN_FLIGHT     64
#define FZ_VICTIMS       4
/* outside the test directory: must never appear */
#define FZ_OUTSIDE_DIR "/nonexistent-certkeeper-fuzz"

typedef struct {
	CkTestDaemon *td;
	GDBusConnection *connection;
	GMainLoop *loop;
	gchar *certs;   /* where the valid requests go */
	gchar *layouts; /* directories for the directory layout */
	gchar *hooks;   /* where the hook commands may touch files */
	gchar *missing; /* a directory that never exists */
	guint n_add;    /* AddRequest calls still to send */
	guint n_modify; /* Modify calls still to send */
	guint in_flight;
	guint serial;             /* for unique names */
	GPtrArray *victims;       /* object paths of the requests Modify works on */
	GHashTable *victim_files; /* path -> "cert\nkey\nid" as added */
	GHashTable *added;        /* object path -> cert-file asked for */
	GHashTable *named;        /* every path named in a call that succeeded, canonical */
	GHashTable *outcomes;     /* "Method error-name" -> count */
	GPtrArray *failures;      /* replies that break the contract */
	guint n_valid_sent;
	gint64 started;
} Fz;

/* Values */

static gboolean
fz_chance(gdouble p)
{
	return g_test_rand_double() < p;
}

static const gchar *
fz_pick(const gchar *const *pool)
{
	guint n = g_strv_length((gchar **)pool);
	return pool[g_test_rand_int_range(0, (gint32)n)];
}

/* odd but valid UTF-8, control characters, format directives, long runs */
static const gchar *const fz_odd[] = {"",
				      " ",
				      "a",
				      "\t\n\r",
				      "\x01\x02\x7f\x1b[31m",
				      "%s%s%n%x%p",
				      "${HOME}$(id)`id`",
				      "é",
				      "\xe2\x80\xae"
				      "gnp.exe", /* right-to-left override */
				      "\xef\xbb\xbf"
				      "bom",
				      "a\xcc\x81\xcc\x81\xcc\x81",
				      "\xf0\x9f\x94\x90",
				      "\xf0\x9d\x94\x98\xf0\x9d\x94\xab",
				      "\xef\xbd\x86\xef\xbd\x95\xef\xbd\x8c\xef\xbd\x8c",
				      "\xe2\x80\x8b",
				      "\\",
				      "'\"",
				      "=,+;<>#",
				      "-1",
				      "0",
				      "4294967296",
				      NULL};

static gchar *
fz_huge(gsize len, gchar c)
{
	gchar *s = g_malloc(len + 1);
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

/* a string of the odd pool, or a long one, or random printable ASCII */
static gchar *
fz_odd_string(void)
{
	gint32 k = g_test_rand_int_range(0, 10);
	if (k == 0)
		return fz_huge((gsize)g_test_rand_int_range(256, 70000), 'A');
	if (k == 1) {
		gsize len = (gsize)g_test_rand_int_range(1, 40);
		gchar *s = g_malloc(len + 1);
		for (gsize i = 0; i < len; i++)
			s[i] = (gchar)g_test_rand_int_range(0x20, 0x7f);
		s[len] = '\0';
		return s;
	}
	return g_strdup(fz_pick(fz_odd));
}

/* paths that fail, or stay inside the test directory */
static gchar *
fz_path(Fz *fz)
{
	const gchar *base = fz->td->dir;
	g_autofree gchar *leaf = g_strdup_printf("r-%u.pem", fz->serial++);
	switch (g_test_rand_int_range(0, 22)) {
	case 0:
	case 1:
	case 2:
		return g_build_filename(fz->certs, leaf, NULL);
	case 3:
		return g_strdup_printf("%s/../certs/%s", fz->certs, leaf);
	case 4:
		return g_strdup_printf("%s/../certs/../certs/./%s", fz->certs, leaf);
	case 5:
		return g_strdup(leaf); /* relative */
	case 6:
		return g_strdup_printf("certs/%s", leaf);
	case 7:
		return g_strdup_printf("../%s", leaf);
	case 8:
		return g_strdup_printf("/proc/%s", leaf);
	case 9:
		return g_strdup_printf("/proc/self/%s", leaf);
	case 10:
		return g_strdup("/proc/self/status");
	case 11:
		return g_strdup_printf("/sys/%s", leaf);
	case 12:
		return g_build_filename(fz->missing, leaf, NULL);
	case 13:
		return g_strdup_printf("%s/../certs/%s", fz->missing, leaf);
	case 14:
		return g_strdup_printf("%s/%s", FZ_OUTSIDE_DIR, leaf);
	case 15:
		return g_strdup_printf("%s/", fz->certs);
	case 16:
		return g_strdup(fz->certs); /* a directory */
	case 17:
		return g_strdup("");
	case 18:
		return g_strdup_printf("%s/certs/no-such-dir/%s", base, leaf);
	case 19: {
		g_autofree gchar *odd = fz_odd_string();
		/* control characters and long names inside the certificates directory */
		if (strchr(odd, '/') != NULL || strcmp(odd, "..") == 0 || strcmp(odd, ".") == 0 ||
		    odd[0] == '\0')
			return g_build_filename(fz->certs, leaf, NULL);
		return g_strdup_printf("%s/%s%s", fz->certs, odd, leaf);
	}
	case 20:
		return g_strdup_printf("%s//%s", fz->certs, leaf);
	default:
		return g_strdup("/");
	}
}

static const gchar *const fz_dns[] = {"a.example",  "fuzz.example",
				      "*.example",  "-bad.example",
				      "a..example", "exa mple",
				      "é.example",  "xn--nxasmq6b.example",
				      "192.0.2.1",  "localhost",
				      "a.",         ".",
				      "",           NULL};
static const gchar *const fz_ips[] = {
    "192.0.2.1",      "256.1.1.1", "::1", "fe80::1%eth0", "1.2.3", "", "::ffff:192.0.2.7",
    "2001:db8::1/64", "0.0.0.0",   NULL};
static const gchar *const fz_emails[] = {
    "a@example.org", "@example.org", "a@", "a b@c", "a@b@c", "", NULL};
static const gchar *const fz_uris[] = {"spiffe://example.org/a",
				       "spiffe://Example.org/a//b",
				       "spiffe://example.org:8443/x",
				       "spiffe://",
				       "spiffe://example.org/a/../b",
				       "spiffe://example.org/%41",
				       "spiffe://example.org/a/",
				       "SPIFFE://example.org/a",
				       "https://example.org/x?y#z",
				       "urn:x",
				       "not a uri",
				       "",
				       NULL};
static const gchar *const fz_principals[] = {
    "HTTP/web.example.org@EXAMPLE.ORG", "@EX", "a@", "a b@C", "/x@Y", "", NULL};
static const gchar *const fz_key_usage[] = {
    "digitalSignature", "keyEncipherment", "keyCertSign", "bogus", "", NULL};
static const gchar *const fz_eku[] = {"serverAuth", "clientAuth", "1.2.3.4", "1..2",
				      "bogus",      "",           NULL};
static const gchar *const fz_subjects[] = {
    "CN=x",     "CN=",     "=x",     "CN=a,O=b", "CN=a+OU=b",
    "garbage",  "CN=\\",   "CN=x,,", "C=USA",    "CN=é,O=Ünïcödé",
    "CN=a\\,b", "O=no cn", "",       NULL};
static const gchar *const fz_durations[] = {
    "90d", "-1d",  "99999999999999d",      "0",  "1s", "33%",  "101%", "-5%",  "abc",
    "",    "1e9d", "9223372036854775807s", "0d", "2h", "1min", "30d",  "100%", "0%",
    NULL};
static const gchar *const fz_key_types[] = {"ec-p256", "ed25519", "rsa-2048", "rsa-1024",
					    "ec-p521", "",        "RSA",      NULL};
static const gchar *const fz_key_policies[] = {"new", "reuse", "bogus", "", NULL};
static const gchar *const fz_owners[] = {
    "root",       "nobody", "daemon:bin", "0:0", "no-such-user", ":", "root:no-such-group",
    "4294967295", "",       NULL};
static const gchar *const fz_signals[] = {"HUP", "USR1", "SIGTERM", "0", "65", "-1", "", NULL};
static const gchar *const fz_reload_modes[] = {"reload", "restart", "try-restart",
					       "bogus",  "",        NULL};
static const gchar *const fz_units[] = {
    "nginx.service", "bad", "a.b.c.service", "../x.service", "x@y.service", "", NULL};
static const gchar *const fz_users[] = {"root", "nobody", "no-such-user", "", "0", NULL};
static const gchar *const fz_endpoints[] = {"127.0.0.1:1", "localhost",       "[::1]:1", ":443",
					    "a:b",         "127.0.0.1:99999", "",        NULL};
static const gchar *const fz_cas[] = {"local", "nope", "", "../local", NULL};

/* harmless commands only: the daemon runs them as root (or as hook-user) */
static gchar *
fz_command(Fz *fz)
{
	switch (g_test_rand_int_range(0, 8)) {
	case 0:
		return g_strdup("true");
	case 1:
		return g_strdup("false");
	case 2:
		return g_strdup("exit 3");
	case 3:
		return g_strdup("echo out; echo err >&2");
	case 4:
		return g_strdup_printf("touch %s/ran-%u", fz->hooks, fz->serial++);
	case 5: {
		g_autofree gchar *pad = fz_huge(5000, 'x');
		return g_strdup_printf("true # %s", pad);
	}
	case 6:
		return g_strdup("true \x01\x02");
	default:
		return g_strdup("");
	}
}

static GVariant *
fz_strv(const gchar *const *pool)
{
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	guint n = (guint)g_test_rand_int_range(0, 4);
	for (guint i = 0; i < n; i++)
		g_ptr_array_add(items, fz_chance(0.85) ? g_strdup(fz_pick(pool)) : fz_odd_string());
	return g_variant_new_strv((const gchar *const *)items->pdata, (gssize)items->len);
}

static guint32
fz_uint(void)
{
	static const guint32 pool[] = {0,     1,     7,          0600,       0640, 0644,
				       0777,  01000, 04755,      07777,      365,  36500,
				       36501, 86400, G_MAXINT32, G_MAXUINT32};
	if (fz_chance(0.2))
		return g_test_rand_int();
	return pool[g_test_rand_int_range(0, G_N_ELEMENTS(pool))];
}

static GVariant *fz_any_value(Fz *fz, guint depth);

/* A value of the option's own type, from what that option means. */
static GVariant *
fz_right_value(Fz *fz, const gchar *name)
{
	const gchar *type = ck_request_options_type(name);
	g_autofree gchar *text = NULL;

	if (g_strcmp0(type, "u") == 0)
		return g_variant_new_uint32(fz_uint());
	if (g_strcmp0(type, "b") == 0)
		return g_variant_new_boolean(fz_chance(0.5));
	if (g_strcmp0(type, "as") == 0) {
		if (g_strcmp0(name, "dns-names") == 0)
			return fz_strv(fz_dns);
		if (g_strcmp0(name, "ip-addresses") == 0)
			return fz_strv(fz_ips);
		if (g_strcmp0(name, "emails") == 0)
			return fz_strv(fz_emails);
		if (g_strcmp0(name, "uris") == 0)
			return fz_strv(fz_uris);
		if (g_strcmp0(name, "principals") == 0)
			return fz_strv(fz_principals);
		if (g_strcmp0(name, "key-usage") == 0)
			return fz_strv(fz_key_usage);
		return fz_strv(fz_eku);
	}
	g_assert_cmpstr(type, ==, "s");
	if (g_str_has_suffix(name, "-command"))
		return g_variant_new_take_string(fz_command(fz));
	if (g_str_has_suffix(name, "-file") || g_strcmp0(name, "directory") == 0) {
		if (g_strcmp0(name, "directory") == 0 && fz_chance(0.3))
			text = g_strdup_printf("%s/L-%u", fz->layouts,
					       (guint)g_test_rand_int_range(0, 8));
		else
			text = fz_path(fz);
		return g_variant_new_take_string(g_steal_pointer(&text));
	}
	if (fz_chance(0.1))
		return g_variant_new_take_string(fz_odd_string());
	if (g_strcmp0(name, "subject") == 0)
		return g_variant_new_string(fz_pick(fz_subjects));
	if (g_strcmp0(name, "validity") == 0 || g_strcmp0(name, "renew-before") == 0)
		return g_variant_new_string(fz_pick(fz_durations));
	if (g_strcmp0(name, "key-type") == 0)
		return g_variant_new_string(fz_pick(fz_key_types));
	if (g_strcmp0(name, "key-policy") == 0)
		return g_variant_new_string(fz_pick(fz_key_policies));
	if (g_str_has_suffix(name, "-owner"))
		return g_variant_new_string(fz_pick(fz_owners));
	if (g_strcmp0(name, "pid-signal") == 0)
		return g_variant_new_string(fz_pick(fz_signals));
	if (g_strcmp0(name, "reload-mode") == 0)
		return g_variant_new_string(fz_pick(fz_reload_modes));
	if (g_strcmp0(name, "reload-unit") == 0)
		return g_variant_new_string(fz_pick(fz_units));
	if (g_strcmp0(name, "hook-user") == 0)
		return g_variant_new_string(fz_pick(fz_users));
	if (g_strcmp0(name, "check-endpoint") == 0)
		return g_variant_new_string(fz_pick(fz_endpoints));
	if (g_strcmp0(name, "ca") == 0)
		return g_variant_new_string(fz_pick(fz_cas));
	if (g_strcmp0(name, "id") == 0) {
		if (fz_chance(0.5))
			return g_variant_new_take_string(g_strdup_printf("fz-id-%u", fz->serial++));
		return g_variant_new_take_string(fz_odd_string());
	}
	return g_variant_new_take_string(fz_odd_string()); /* profile */
}

/* A value of any type, nested ones too (the daemon must say which type it wanted). */
static GVariant *
fz_any_value(Fz *fz, guint depth)
{
	switch (g_test_rand_int_range(0, depth < 2 ? 13 : 10)) {
	case 0:
		return g_variant_new_take_string(fz_odd_string());
	case 1:
		return g_variant_new_uint32(fz_uint());
	case 2:
		return g_variant_new_boolean(fz_chance(0.5));
	case 3:
		return fz_strv(fz_dns);
	case 4:
		return g_variant_new_int32((gint32)g_test_rand_int());
	case 5:
		return g_variant_new_int64(fz_chance(0.5) ? G_MININT64 : G_MAXINT64);
	case 6:
		return g_variant_new_double(fz_chance(0.5) ? -1.5 : 1e308);
	case 7: {
		guint8 bytes[16];
		for (guint i = 0; i < sizeof(bytes); i++)
			bytes[i] = (guint8)g_test_rand_int();
		return g_variant_new_fixed_array(G_VARIANT_TYPE_BYTE, bytes,
						 (gsize)g_test_rand_int_range(0, 17), 1);
	}
	case 8:
		return g_variant_new_object_path("/org/certkeeper/Certkeeper1");
	case 9:
		return g_variant_new_uint64(G_MAXUINT64);
	case 10: {
		GVariantBuilder b;
		g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
		g_variant_builder_add(&b, "{sv}", "cert-file", fz_any_value(fz, depth + 1));
		return g_variant_builder_end(&b);
	}
	case 11:
		return g_variant_new_variant(fz_any_value(fz, depth + 1));
	default:
		return g_variant_new("(ss)", "cert-file", "key-file");
	}
}

static const gchar *const fz_unknown_names[] = {
    "", "CERT-FILE", "cert_file", "cert-file\xe2\x80\x8b", "x", "\x01", "dns-name", "é", NULL};

/* A random dictionary: real names mostly, of their type mostly. */
static GVariant *
fz_random_dict(Fz *fz, gboolean modify)
{
	const gchar *const *names = ck_request_options_names();
	guint n_names = g_strv_length((gchar **)names);
	guint n = (guint)g_test_rand_int_range(0, 11);
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	/* an AddRequest that names both files often enough to get past them */
	if (!modify && fz_chance(0.5)) {
		g_variant_builder_add(&b, "{sv}", "cert-file", fz_right_value(fz, "cert-file"));
		g_variant_builder_add(&b, "{sv}", "key-file", fz_right_value(fz, "key-file"));
	}
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *name = NULL;
		if (fz_chance(0.9))
			name = g_strdup(names[g_test_rand_int_range(0, (gint32)n_names)]);
		else if (fz_chance(0.8))
			name = g_strdup(fz_pick(fz_unknown_names));
		else
			name = fz_odd_string();
		if (ck_request_options_type(name) != NULL && fz_chance(0.8))
			g_variant_builder_add(&b, "{sv}", name, fz_right_value(fz, name));
		else
			g_variant_builder_add(&b, "{sv}", name, fz_any_value(fz, 0));
	}
	return g_variant_builder_end(&b);
}

/* A dictionary that is right, for a request that really gets added. */
static GVariant *
fz_valid_dict(Fz *fz)
{
	guint n = fz->serial++;
	g_autofree gchar *cert = g_strdup_printf("%s/v-%u.crt", fz->certs, n);
	g_autofree gchar *key = g_strdup_printf("%s/v-%u.key", fz->certs, n);
	g_autofree gchar *dns = g_strdup_printf("v-%u.fuzz.example", n);
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&b, "{sv}", "cert-file", g_variant_new_string(cert));
	g_variant_builder_add(&b, "{sv}", "key-file", g_variant_new_string(key));
	g_variant_builder_add(&b, "{sv}", "dns-names",
			      g_variant_new_strv((const gchar *const[]){dns}, 1));
	switch (g_test_rand_int_range(0, 6)) {
	case 0:
		g_variant_builder_add(&b, "{sv}", "validity-days",
				      g_variant_new_uint32((guint32)g_test_rand_int_range(1, 400)));
		break;
	case 1:
		g_variant_builder_add(&b, "{sv}", "key-type", g_variant_new_string("ed25519"));
		break;
	case 2:
		g_variant_builder_add(&b, "{sv}", "renew-before", g_variant_new_string("33%"));
		break;
	case 3:
		g_variant_builder_add(&b, "{sv}", "ip-addresses",
				      g_variant_new_strv((const gchar *const[]){"192.0.2.9"}, 1));
		break;
	case 4:
		g_variant_builder_add(
		    &b, "{sv}", "uris",
		    g_variant_new_strv((const gchar *const[]){"spiffe://example.org/fuzz/v"}, 1));
		break;
	default:
		g_variant_builder_add(&b, "{sv}", "key-mode", g_variant_new_uint32(0640));
		break;
	}
	return g_variant_builder_end(&b);
}

/* Sending and checking the answers */

static void fz_send_next(Fz *fz);

typedef struct {
	Fz *fz;
	gboolean add;
	gchar *cert_file; /* AddRequest: what it asked for, if anything */
	GPtrArray *paths; /* the file and directory names in the dictionary */
	gchar *text;      /* the dictionary, for the report of a failure */
} FzCall;

static void
fz_call_free(FzCall *call)
{
	g_free(call->cert_file);
	g_ptr_array_unref(call->paths);
	g_free(call->text);
	g_free(call);
}

static void
fz_count(Fz *fz, const gchar *method, const gchar *outcome)
{
	g_autofree gchar *key = g_strdup_printf("%s %s", method, outcome);
	gpointer n = g_hash_table_lookup(fz->outcomes, key);
	g_hash_table_replace(fz->outcomes, g_steal_pointer(&key),
			     GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
}

static void
fz_reply_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	FzCall *call = user_data;
	Fz *fz = call->fz;
	const gchar *method = call->add ? "AddRequest" : "Modify";
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	    g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);

	fz->in_flight--;
	if (reply != NULL) {
		fz_count(fz, method, "ok");
		/* its files may be written; a file a Modify replaced stays where it is */
		for (guint i = 0; i < call->paths->len; i++)
			g_hash_table_add(fz->named, g_canonicalize_filename(
							g_ptr_array_index(call->paths, i), "/"));
		if (call->add) {
			gchar *path = NULL;
			g_variant_get(reply, "(o)", &path);
			g_assert_false(g_hash_table_contains(fz->added, path));
			g_hash_table_insert(fz->added, path, g_strdup(call->cert_file));
		}
	} else {
		g_autofree gchar *name = g_dbus_error_get_remote_error(error);
		g_dbus_error_strip_remote_error(error);
		fz_count(fz, method, name != NULL ? name : "(no name)");
		/* a named error of ours with a message; anything else breaks the contract
		 * (a timeout, NoReply or ServiceUnknown: the daemon died or hangs) */
		if (name == NULL || !g_str_has_prefix(name, "org.certkeeper.Error.") ||
		    error->message[0] == '\0')
			g_ptr_array_add(
			    fz->failures,
			    g_strdup_printf("%s(%.600s) -> %s: %.300s", method, call->text,
					    name != NULL ? name : "(no name)", error->message));
	}
	fz_call_free(call);
	fz_send_next(fz);
	if (fz->in_flight == 0 && fz->n_add == 0 && fz->n_modify == 0)
		g_main_loop_quit(fz->loop);
}

static void
fz_send(Fz *fz, gboolean add)
{
	FzCall *call = g_new0(FzCall, 1);
	GVariant *dict;
	const gchar *path = FZ_MANAGER_PATH;

	call->fz = fz;
	call->add = add;
	if (add) {
		/* a few valid ones, so some requests really get added */
		if (fz_chance(0.02)) {
			dict = fz_valid_dict(fz);
			fz->n_valid_sent++;
		} else {
			dict = fz_random_dict(fz, FALSE);
		}
	} else {
		dict = fz_random_dict(fz, TRUE);
		path = g_ptr_array_index(fz->victims, g_test_rand_int_range(0, FZ_VICTIMS));
	}
	g_variant_ref_sink(dict);
	call->paths = g_ptr_array_new_with_free_func(g_free);
	{
		const gchar *cert = NULL;
		GVariantIter iter;
		const gchar *key;
		GVariant *value;
		g_variant_iter_init(&iter, dict);
		while (g_variant_iter_next(&iter, "{&sv}", &key, &value)) {
			if (g_variant_is_of_type(value, G_VARIANT_TYPE_STRING) &&
			    (g_str_has_suffix(key, "-file") || g_strcmp0(key, "directory") == 0))
				g_ptr_array_add(call->paths,
						g_strdup(g_variant_get_string(value, NULL)));
			/* the daemon reads the entries in order: the last cert-file is the one */
			if (g_strcmp0(key, "cert-file") == 0 &&
			    g_variant_is_of_type(value, G_VARIANT_TYPE_STRING))
				cert = g_variant_get_string(value, NULL);
			g_variant_unref(value);
		}
		call->cert_file = g_strdup(cert);
	}
	call->text = g_variant_print(dict, FALSE);
	fz->in_flight++;
	g_dbus_connection_call(fz->connection, FZ_BUS_NAME, path,
			       add ? FZ_MANAGER_IFACE : FZ_REQUEST_IFACE,
			       add ? "AddRequest" : "Modify", g_variant_new_tuple(&dict, 1),
			       add ? G_VARIANT_TYPE("(o)") : G_VARIANT_TYPE_UNIT,
			       G_DBUS_CALL_FLAGS_NONE, 30000, NULL, fz_reply_cb, call);
	g_variant_unref(dict);
}

static void
fz_send_next(Fz *fz)
{
	gboolean add;

	if (fz->n_add == 0 && fz->n_modify == 0)
		return;
	if (fz->n_add == 0)
		add = FALSE;
	else if (fz->n_modify == 0)
		add = TRUE;
	else
		add = fz_chance(0.5);
	if (add)
		fz->n_add--;
	else
		fz->n_modify--;
	fz_send(fz, add);
}

/* Reading the state afterwards */

static GVariant *
fz_call_sync(Fz *fz, const gchar *path, const gchar *iface, const gchar *method, GVariant *args,
	     const gchar *reply_type)
{
	g_autoptr(GError) error = NULL;
	GVariant *reply = g_dbus_connection_call_sync(fz->connection, FZ_BUS_NAME, path, iface,
						      method, args, G_VARIANT_TYPE(reply_type),
						      G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
	g_assert_no_error(error);
	return reply;
}

static GVariant *
fz_managed_objects(Fz *fz)
{
	g_autoptr(GVariant) reply =
	    fz_call_sync(fz, FZ_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
			 "GetManagedObjects", NULL, "(a{oa{sa{sv}}})");
	return g_variant_get_child_value(reply, 0);
}

static gchar *
fz_prop_string(GVariant *props, const gchar *name)
{
	g_autoptr(GVariant) v = g_variant_lookup_value(props, name, G_VARIANT_TYPE_STRING);
	g_assert_nonnull(v);
	return g_variant_dup_string(v, NULL);
}

/* The Request1 properties of every request, by object path. */
static GHashTable *
fz_requests(Fz *fz)
{
	g_autoptr(GVariant) objects = fz_managed_objects(fz);
	GHashTable *requests =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_variant_unref);
	GVariantIter iter;
	const gchar *path;
	GVariant *ifaces;

	g_variant_iter_init(&iter, objects);
	while (g_variant_iter_next(&iter, "{&o@a{sa{sv}}}", &path, &ifaces)) {
		GVariant *props =
		    g_variant_lookup_value(ifaces, FZ_REQUEST_IFACE, G_VARIANT_TYPE("a{sv}"));
		if (props != NULL)
			g_hash_table_insert(requests, g_strdup(path), props);
		g_variant_unref(ifaces);
	}
	return requests;
}

static gboolean
fz_state_is_in_flight(const gchar *state)
{
	static const gchar *const busy[] = {
	    "NEED_KEY_PAIR", "GENERATING_KEY_PAIR", "NEED_CSR", "SUBMITTING",
	    "SAVING_CERT",   "POST_SAVED",          NULL};
	return g_strv_contains(busy, state);
}

static gboolean
fz_state_is_documented(const gchar *state)
{
	static const gchar *const states[] = {
	    "NEED_KEY_PAIR",  "GENERATING_KEY_PAIR", "NEED_CSR",      "SUBMITTING",  "CA_WORKING",
	    "CA_UNREACHABLE", "CA_REJECTED",         "NEED_GUIDANCE", "SAVING_CERT", "POST_SAVED",
	    "MONITORING",     "NEED_TO_RECOVER",     "STOPPED",       NULL};
	return g_strv_contains(states, state);
}

/* Waits until no request is in the middle of an attempt; returns the requests then. */
static GHashTable *
fz_wait_settled(Fz *fz, guint timeout_s)
{
	gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
	for (;;) {
		GHashTable *requests = fz_requests(fz);
		GHashTableIter iter;
		gpointer path, props;
		guint busy = 0;
		g_autofree gchar *example = NULL;

		g_hash_table_iter_init(&iter, requests);
		while (g_hash_table_iter_next(&iter, &path, &props)) {
			g_autofree gchar *state = fz_prop_string(props, "State");
			g_autoptr(GVariant) next =
			    g_variant_lookup_value(props, "NextAttempt", G_VARIANT_TYPE_UINT64);
			/* a failed attempt (a hook, a check) waits for its retry: settled too */
			if (fz_state_is_in_flight(state) && g_variant_get_uint64(next) == 0) {
				busy++;
				if (example == NULL)
					example = g_strdup_printf("%s is %s", (gchar *)path, state);
			}
		}
		if (busy == 0)
			return requests;
		if (g_get_monotonic_time() >= deadline)
			g_error("%u requests are still busy after %u s, e.g. %s", busy, timeout_s,
				example);
		g_hash_table_unref(requests);
		g_usleep(100 * 1000);
	}
}

/* Every regular file under @dir, recursively, into @files. */
static void
fz_list_files(const gchar *dir, GPtrArray *files)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		struct stat st;
		g_assert_cmpint(lstat(path, &st), ==, 0);
		if (S_ISDIR(st.st_mode))
			fz_list_files(path, files);
		else
			g_ptr_array_add(files, g_steal_pointer(&path));
	}
}

/* Is @path (canonical) below the directory @dir? */
static gboolean
fz_path_under(const gchar *path, const gchar *dir)
{
	g_autofree gchar *canonical = NULL;
	if (dir == NULL || dir[0] == '\0')
		return FALSE;
	canonical = g_canonicalize_filename(dir, NULL);
	return g_str_has_prefix(path, canonical) && path[strlen(canonical)] == '/';
}

/* Does the state file of a request say what the bus says? NULL if so, else how not. */
static gchar *
fz_state_file_differs(Fz *fz, GVariant *props)
{
	static const struct {
		const gchar *property;
		const gchar *member;
	} fields[] = {{"Id", "id"},
		      {"State", "state"},
		      {"CertFile", "cert-file"},
		      {"KeyFile", "key-file"},
		      {"Serial", "serial"},
		      {"CA", "ca"}};
	g_autofree gchar *id = fz_prop_string(props, "Id");
	g_autofree gchar *name = g_strdup_printf("%s.json", id);
	g_autofree gchar *file = g_build_filename(fz->td->state_dir, "requests", name, NULL);
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(GError) error = NULL;
	JsonObject *obj;

	if (!json_parser_load_from_file(parser, file, &error))
		return g_strdup_printf("%s: %s", file, error->message);
	if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser)))
		return g_strdup_printf("%s holds no object", file);
	obj = json_node_get_object(json_parser_get_root(parser));
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		g_autofree gchar *on_bus = fz_prop_string(props, fields[i].property);
		const gchar *saved =
		    json_object_get_string_member_with_default(obj, fields[i].member, "");
		if (g_strcmp0(on_bus, saved) != 0)
			return g_strdup_printf("%s: %s is '%s' on the bus, '%s' in the file", file,
					       fields[i].property, on_bus, saved);
	}
	return NULL;
}

/* The state file says what the bus says (given a moment, for a request at work). */
static void
fz_check_state_file(Fz *fz, const gchar *path, GVariant *props)
{
	g_autofree gchar *why = fz_state_file_differs(fz, props);
	for (guint i = 0; why != NULL && i < 50; i++) {
		g_autoptr(GVariant) reply = NULL;
		g_autoptr(GVariant) now = NULL;
		g_usleep(100 * 1000);
		reply = fz_call_sync(fz, path, "org.freedesktop.DBus.Properties", "GetAll",
				     g_variant_new("(s)", FZ_REQUEST_IFACE), "(a{sv})");
		now = g_variant_get_child_value(reply, 0);
		g_free(why);
		why = fz_state_file_differs(fz, now);
	}
	if (why != NULL)
		g_error("%s: %s", path, why);
}

static void
fz_check_state(Fz *fz, GHashTable *requests)
{
	g_autofree gchar *requests_dir = g_build_filename(fz->td->state_dir, "requests", NULL);
	g_autoptr(GPtrArray) state_files = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GHashTable) owned = g_hash_table_new(g_str_hash, g_str_equal);
	g_autoptr(GPtrArray) dirs = g_ptr_array_new();
	g_autoptr(GPtrArray) named_dirs = g_ptr_array_new();
	g_autoptr(GHashTable) states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	GHashTableIter iter;
	gpointer path, props;
	guint n_json = 0;

	/* exactly the requests whose AddRequest succeeded */
	g_hash_table_iter_init(&iter, fz->added);
	while (g_hash_table_iter_next(&iter, &path, NULL)) {
		if (!g_hash_table_contains(requests, path))
			g_error("%s was added but is not on the bus", (gchar *)path);
	}
	g_hash_table_iter_init(&iter, requests);
	while (g_hash_table_iter_next(&iter, &path, &props)) {
		g_autofree gchar *state = fz_prop_string(props, "State");
		g_autofree gchar *cert = fz_prop_string(props, "CertFile");
		gpointer n = g_hash_table_lookup(states, state);
		g_hash_table_replace(states, g_strdup(state),
				     GUINT_TO_POINTER(GPOINTER_TO_UINT(n) + 1));
		const gchar *asked = g_hash_table_lookup(fz->added, path);
		if (!g_hash_table_contains(fz->added, path))
			g_error("%s is on the bus, but no AddRequest made it", (gchar *)path);
		if (!fz_state_is_documented(state))
			g_error("%s is in an undocumented state %s", (gchar *)path, state);
		/* the certificate file is the one asked for (a directory layout names its own) */
		if (asked != NULL) {
			g_autofree gchar *dir = fz_prop_string(props, "Directory");
			if (dir[0] == '\0')
				g_assert_cmpstr(cert, ==, asked);
		}
		fz_check_state_file(fz, path, props);
	}
	/* one state file per request, nothing else */
	{
		g_autoptr(GDir) d = g_dir_open(requests_dir, 0, NULL);
		const gchar *name;
		g_assert_nonnull(d);
		while ((name = g_dir_read_name(d)) != NULL) {
			if (!g_str_has_suffix(name, ".json"))
				g_error("an unexpected file %s/%s", requests_dir, name);
			n_json++;
		}
	}
	g_assert_cmpuint(n_json, ==, g_hash_table_size(requests));

	/* Modify never moved the files or changed the id of the requests it worked on */
	for (guint i = 0; i < fz->victims->len; i++) {
		const gchar *victim = g_ptr_array_index(fz->victims, i);
		GVariant *vprops = g_hash_table_lookup(requests, victim);
		g_autofree gchar *cert = NULL, *key = NULL, *id = NULL, *now = NULL;
		g_assert_nonnull(vprops);
		cert = fz_prop_string(vprops, "CertFile");
		key = fz_prop_string(vprops, "KeyFile");
		id = fz_prop_string(vprops, "Id");
		now = g_strdup_printf("%s\n%s\n%s", cert, key, id);
		g_assert_cmpstr(now, ==, g_hash_table_lookup(fz->victim_files, victim));
	}

	/* nothing was written but the files of the requests (and their previous versions) */
	g_hash_table_iter_init(&iter, requests);
	while (g_hash_table_iter_next(&iter, &path, &props)) {
		static const gchar *const names[] = {"CertFile", "KeyFile", "ChainFile",
						     "CombinedFile", NULL};
		for (guint i = 0; names[i] != NULL; i++) {
			gchar *file = fz_prop_string(props, names[i]);
			g_ptr_array_add(state_files, file);
			g_hash_table_add(owned, file);
		}
		g_ptr_array_add(state_files, fz_prop_string(props, "Directory"));
		g_ptr_array_add(dirs, g_ptr_array_index(state_files, state_files->len - 1));
	}
	fz_list_files(fz->certs, files);
	fz_list_files(fz->layouts, files);
	g_hash_table_iter_init(&iter, fz->named);
	while (g_hash_table_iter_next(&iter, &path, NULL)) {
		if (g_file_test(path, G_FILE_TEST_IS_DIR))
			g_ptr_array_add(named_dirs, path);
	}
	for (guint i = 0; i < files->len; i++) {
		const gchar *file = g_ptr_array_index(files, i);
		g_autofree gchar *canonical = g_canonicalize_filename(file, NULL);
		g_autofree gchar *current =
		    g_str_has_suffix(canonical, ".ck-prev")
			? g_strndup(canonical, strlen(canonical) - strlen(".ck-prev"))
			: g_strdup(canonical);
		gboolean ok =
		    g_hash_table_contains(owned, file) || g_hash_table_contains(fz->named, current);
		for (guint j = 0; !ok && j < state_files->len; j++) {
			g_autofree gchar *c =
			    g_canonicalize_filename(g_ptr_array_index(state_files, j), NULL);
			ok = g_strcmp0(c, canonical) == 0;
		}
		for (guint j = 0; !ok && j < dirs->len; j++)
			ok = fz_path_under(canonical, g_ptr_array_index(dirs, j));
		/* a directory layout's files, also of a layout no longer tracked */
		for (guint j = 0; !ok && j < named_dirs->len; j++)
			ok = fz_path_under(canonical, g_ptr_array_index(named_dirs, j));
		if (!ok)
			g_error("%s belongs to no request", file);
	}
	g_assert_false(g_file_test(fz->missing, G_FILE_TEST_EXISTS));
	g_assert_false(g_file_test(FZ_OUTSIDE_DIR, G_FILE_TEST_EXISTS));
	g_test_message("%u files of %u requests", files->len, g_hash_table_size(requests));
	g_hash_table_iter_init(&iter, states);
	while (g_hash_table_iter_next(&iter, &path, &props))
		g_test_message("%6u  in %s", GPOINTER_TO_UINT(props), (const gchar *)path);
}

/* A few valid requests for Modify to work on, issued before the storm. */
static void
fz_add_victims(Fz *fz)
{
	for (guint i = 0; i < FZ_VICTIMS; i++) {
		g_autoptr(GVariant) dict = g_variant_ref_sink(fz_valid_dict(fz));
		g_autoptr(GVariant) reply = NULL;
		g_autofree gchar *cert = NULL, *key = NULL, *id = NULL;
		gchar *path = NULL;
		GVariant *props;
		g_autoptr(GHashTable) requests = NULL;

		g_variant_lookup(dict, "cert-file", "s", &cert);
		reply = fz_call_sync(fz, FZ_MANAGER_PATH, FZ_MANAGER_IFACE, "AddRequest",
				     g_variant_new_tuple(&dict, 1), "(o)");
		g_variant_get(reply, "(o)", &path);
		g_ptr_array_add(fz->victims, path);
		g_hash_table_insert(fz->added, g_strdup(path), g_strdup(cert));
		requests = fz_wait_settled(fz, 30);
		props = g_hash_table_lookup(requests, path);
		g_assert_nonnull(props);
		g_free(cert);
		cert = fz_prop_string(props, "CertFile");
		key = fz_prop_string(props, "KeyFile");
		id = fz_prop_string(props, "Id");
		g_hash_table_insert(fz->victim_files, g_strdup(path),
				    g_strdup_printf("%s\n%s\n%s", cert, key, id));
	}
}

static void
fz_print_outcomes(Fz *fz)
{
	g_autoptr(GList) keys = g_hash_table_get_keys(fz->outcomes);
	keys = g_list_sort(keys, (GCompareFunc)g_strcmp0);
	for (GList *l = keys; l != NULL; l = l->next)
		g_test_message("%6u  %s",
			       GPOINTER_TO_UINT(g_hash_table_lookup(fz->outcomes, l->data)),
			       (const gchar *)l->data);
}

static void
test_bus_fuzz_add_and_modify(void)
{
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	const gchar *env = g_getenv("CK_FUZZ_ITERATIONS");
	guint64 iterations = 10000;
	g_autofree gchar *config = NULL;
	g_autofree gchar *policy_dir = NULL, *requests_dir = NULL;
	g_autoptr(GHashTable) requests = NULL;
	Fz fz = {0};
	gint64 elapsed;

	if (td == NULL)
		return;
	if (env != NULL)
		g_assert_true(g_ascii_string_to_unsigned(env, 10, 1, 10000000, &iterations, NULL));
	/* it must not be there to begin with, or the check at the end means nothing */
	g_assert_false(g_file_test(FZ_OUTSIDE_DIR, G_FILE_TEST_EXISTS));

	fz.td = td;
	g_test_message("test directory %s (CK_TEST_KEEP=1 keeps it)", td->dir);
	fz.certs = ck_test_daemon_path(td, "certs");
	fz.layouts = ck_test_daemon_path(td, "layouts");
	fz.hooks = ck_test_daemon_path(td, "hooks");
	fz.missing = ck_test_daemon_path(td, "nonexistent");
	policy_dir = ck_test_daemon_path(td, "policy.d");
	requests_dir = ck_test_daemon_path(td, "requests.d");
	g_assert_cmpint(g_mkdir(fz.certs, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(fz.layouts, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(fz.hooks, 0777), ==, 0);
	g_assert_cmpint(g_mkdir(policy_dir, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(requests_dir, 0755), ==, 0);
	for (guint i = 0; i < 8; i++) {
		g_autofree gchar *name = g_strdup_printf("L-%u", i);
		g_autofree gchar *dir = g_build_filename(fz.layouts, name, NULL);
		g_assert_cmpint(g_mkdir(dir, 0755), ==, 0);
	}
	config = g_strdup_printf("[certkeeperd]\nPolicyDirectory=%s\nRequestsDirectory=%s\n",
				 policy_dir, requests_dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);

	fz.connection = ck_test_daemon_connect(td);
	fz.loop = g_main_loop_new(NULL, FALSE);
	fz.victims = g_ptr_array_new_with_free_func(g_free);
	fz.victim_files = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	fz.added = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	fz.named = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	fz.outcomes = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	fz.failures = g_ptr_array_new_with_free_func(g_free);
	fz_add_victims(&fz);

	fz.n_add = (guint)iterations;
	fz.n_modify = (guint)iterations;
	fz.started = g_get_monotonic_time();
	for (guint i = 0; i < FZ_IN_FLIGHT; i++)
		fz_send_next(&fz);
	g_main_loop_run(fz.loop);
	elapsed = g_get_monotonic_time() - fz.started;
	g_test_message("%u AddRequest and %u Modify calls (%u valid) in %.1f s", (guint)iterations,
		       (guint)iterations, fz.n_valid_sent, (gdouble)elapsed / G_USEC_PER_SEC);
	fz_print_outcomes(&fz);

	for (guint i = 0; i < MIN(fz.failures->len, 20u); i++)
		g_test_message("broken reply: %s", (gchar *)g_ptr_array_index(fz.failures, i));
	if (fz.failures->len > 0) {
		g_autofree gchar *log = NULL;
		g_file_get_contents(td->daemon_log, &log, NULL, NULL);
		g_test_message("daemon log (tail): %s",
			       log != NULL && strlen(log) > 4000 ? log + strlen(log) - 4000 : log);
	}
	g_assert_cmpuint(fz.failures->len, ==, 0);
	g_assert_true(ck_test_daemon_is_running(td));
	/* some really got added */
	g_assert_cmpuint(g_hash_table_size(fz.added), >, FZ_VICTIMS);

	requests = fz_wait_settled(&fz, 120);
	g_test_message("settled after %.1f s",
		       (gdouble)(g_get_monotonic_time() - fz.started) / G_USEC_PER_SEC);
	fz_check_state(&fz, requests);
	g_test_message("checked after %.1f s",
		       (gdouble)(g_get_monotonic_time() - fz.started) / G_USEC_PER_SEC);

	/* and it still stops cleanly */
	g_assert_cmpint(ck_test_daemon_stop(td), ==, 0);
	g_test_message("stopped after %.1f s",
		       (gdouble)(g_get_monotonic_time() - fz.started) / G_USEC_PER_SEC);

	g_object_unref(fz.connection);
	g_main_loop_unref(fz.loop);
	g_ptr_array_unref(fz.victims);
	g_hash_table_unref(fz.victim_files);
	g_hash_table_unref(fz.added);
	g_hash_table_unref(fz.named);
	g_hash_table_unref(fz.outcomes);
	g_ptr_array_unref(fz.failures);
	g_free(fz.certs);
	g_free(fz.layouts);
	g_free(fz.hooks);
	g_free(fz.missing);
}

/* AddRequest as root with @cert, @key and optionally a directory layout in @dir. */
static gchar *
fz_try_add(GDBusConnection *connection, const gchar *cert, const gchar *key, const gchar *dir)
{
	GVariantBuilder b;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply = NULL;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	if (dir != NULL) {
		g_variant_builder_add(&b, "{sv}", "directory", g_variant_new_string(dir));
	} else {
		g_variant_builder_add(&b, "{sv}", "cert-file", g_variant_new_string(cert));
		g_variant_builder_add(&b, "{sv}", "key-file", g_variant_new_string(key));
	}
	g_variant_builder_add(&b, "{sv}", "dns-names",
			      g_variant_new_strv((const gchar *const[]){"same.example"}, 1));
	reply = g_dbus_connection_call_sync(connection, FZ_BUS_NAME, FZ_MANAGER_PATH,
					    FZ_MANAGER_IFACE, "AddRequest",
					    g_variant_new("(a{sv})", &b), G_VARIANT_TYPE("(o)"),
					    G_DBUS_CALL_FLAGS_NONE, 30000, NULL, &error);
	if (reply == NULL) {
		g_autofree gchar *name = g_dbus_error_get_remote_error(error);
		g_test_message("AddRequest(%s, %s, %s) -> %s: %s", cert, key, dir, name,
			       error->message);
		return g_steal_pointer(&name);
	}
	return NULL;
}

static void
test_bus_fuzz_one_file_one_request(void)
{
	/* found by the fuzzer: "d/x", "d//x", "d/./x" and "d/../d/x" are one file */
	g_autoptr(CkTestDaemon) td = ck_test_daemon_new(CK_TEST_BUS_POLICY_PROJECT);
	g_autoptr(GDBusConnection) connection = NULL;
	g_autofree gchar *certs = NULL, *layout = NULL, *cert = NULL, *key = NULL;
	g_autofree gchar *config = NULL, *policy_dir = NULL;
	const gchar *const spellings[] = {"//a.crt", "/./a.crt", "/../certs/a.crt", NULL};
	gchar *error_name;

	if (td == NULL)
		return;
	certs = ck_test_daemon_path(td, "certs");
	layout = ck_test_daemon_path(td, "layout");
	policy_dir = ck_test_daemon_path(td, "policy.d");
	g_assert_cmpint(g_mkdir(certs, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(layout, 0755), ==, 0);
	config = g_strdup_printf("[certkeeperd]\nPolicyDirectory=%s\nRequestsDirectory=%s\n",
				 policy_dir, policy_dir);
	ck_test_daemon_write_config(td, config);
	ck_test_daemon_start(td);
	connection = ck_test_daemon_connect(td);

	cert = g_strdup_printf("%s/a.crt", certs);
	key = g_strdup_printf("%s/a.key", certs);
	g_assert_null(fz_try_add(connection, cert, key, NULL));
	for (guint i = 0; spellings[i] != NULL; i++) {
		g_autofree gchar *other = g_strconcat(certs, spellings[i], NULL);
		g_autofree gchar *other_key = g_strdup_printf("%s/other-%u.key", certs, i);
		error_name = fz_try_add(connection, other, other_key, NULL);
		g_assert_cmpstr(error_name, ==, "org.certkeeper.Error.AlreadyExists");
		g_free(error_name);
	}
	/* the certificate and the key in one file, spelt two ways */
	{
		g_autofree gchar *b_cert = g_strdup_printf("%s/b.pem", certs);
		g_autofree gchar *b_key = g_strdup_printf("%s//b.pem", certs);
		error_name = fz_try_add(connection, b_cert, b_key, NULL);
		g_assert_cmpstr(error_name, ==, "org.certkeeper.Error.InvalidArgument");
		g_free(error_name);
	}
	/* one directory layout per directory, with or without a trailing slash */
	g_assert_null(fz_try_add(connection, NULL, NULL, layout));
	{
		g_autofree gchar *slash = g_strdup_printf("%s/", layout);
		error_name = fz_try_add(connection, NULL, NULL, slash);
		g_assert_cmpstr(error_name, ==, "org.certkeeper.Error.AlreadyExists");
		g_free(error_name);
	}
	g_assert_true(ck_test_daemon_is_running(td));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/bus-fuzz/add-and-modify", test_bus_fuzz_add_and_modify);
	g_test_add_func("/certkeeper/bus-fuzz/one-file-one-request",
			test_bus_fuzz_one_file_one_request);
	return g_test_run();
}
