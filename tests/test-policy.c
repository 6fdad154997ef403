/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* CkPolicy: who may request what, checked rule by rule, and the rate limit. */
#include "config.h"

#include <glib/gstdio.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-policy.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *policy_dir;
	gchar *allowed;	 /* a directory the rule allows */
	gchar *outside;	 /* one it does not */
	CkPolicy *policy;
	GPtrArray *warnings;
	CkCaller daemon; /* uid 1, Debian's "daemon" user */
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->policy_dir = g_build_filename(f->dir, "policy.d", NULL);
	f->allowed = g_build_filename(f->dir, "svc", NULL);
	f->outside = g_build_filename(f->dir, "elsewhere", NULL);
	g_assert_cmpint(g_mkdir(f->policy_dir, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(f->allowed, 0755), ==, 0);
	g_assert_cmpint(g_mkdir(f->outside, 0755), ==, 0);
	f->policy = ck_policy_new("local");
	f->warnings = g_ptr_array_new_with_free_func(g_free);
	f->daemon.uid = 1;
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->policy_dir);
	g_free(f->allowed);
	g_free(f->outside);
	g_object_unref(f->policy);
	g_ptr_array_unref(f->warnings);
}

/* Writes @name into policy.d (@DIR@ is the allowed directory) and loads the directory. */
static void
ck_test_policy(Fixture *f, const gchar *name, const gchar *text)
{
	g_autofree gchar *path = g_build_filename(f->policy_dir, name, NULL);
	g_auto(GStrv) parts = g_strsplit(text, "@DIR@", -1);
	g_autofree gchar *expanded = g_strjoinv(f->allowed, parts);
	g_assert_true(g_file_set_contents(path, expanded, -1, NULL));
	g_ptr_array_set_size(f->warnings, 0);
	ck_policy_load_dir(f->policy, f->policy_dir, f->warnings);
}

/* A request of the daemon user's service inside the allowed directory. */
static CkRequest *
ck_test_request(Fixture *f, const gchar *dns)
{
	CkRequest *r = ck_request_new(NULL);
	g_autofree gchar *cert = g_build_filename(f->allowed, "svc.crt", NULL);
	g_autofree gchar *key = g_build_filename(f->allowed, "svc.key", NULL);
	g_autofree gchar *subject = g_strdup_printf("CN=%s", dns);
	const gchar *names[] = {dns, NULL};
	ck_request_set_cert_file(r, cert);
	ck_request_set_key_file(r, key);
	ck_request_set_subject(r, subject);
	ck_request_set_dns_names(r, names);
	ck_request_set_ca(r, "local");
	return r;
}

#define RULE                                                                                       \
	"[user daemon]\nDNSNames=*.svc.example\nIPAddresses=192.0.2.0/24;2001:db8::/32\n"         \
	"URIs=spiffe://example.org/svc/*\nDirectories=@DIR@\nUnits=svc.service\nMaxRequests=2\n"  \
	"RateLimit=3/1min\n"

static void
ck_test_assert_denied(Fixture *f, CkRequest *r, guint owned, const gchar *fragment)
{
	g_autoptr(GError) error = NULL;
	g_assert_false(ck_policy_authorize_new(f->policy, &f->daemon, r, owned, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_test_message("refused: %s", error->message);
	g_assert_nonnull(strstr(error->message, fragment));
}

static void
test_policy_root_may_everything(Fixture *f, gconstpointer user_data)
{
	CkCaller root = {0};
	g_autoptr(CkRequest) r = ck_test_request(f, "anything.example");
	g_autoptr(GError) error = NULL;

	/* no rule at all, yet root is never refused, and is never rate-limited */
	g_assert_true(ck_policy_authorize_new(f->policy, &root, r, 1000, &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_request_get_owner_uid(r), ==, 0);
	for (guint i = 0; i < 100; i++)
		g_assert_true(ck_policy_take_issue(f->policy, &root, 1000, NULL));
}

static void
test_policy_no_rule(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request(f, "a.svc.example");
	CkCaller nobody = {.uid = 65534};
	g_autoptr(GError) error = NULL;

	g_assert_false(ck_policy_authorize_new(f->policy, &nobody, r, 0, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "nobody"));
	g_assert_nonnull(strstr(error->message, "65534"));
}

static void
test_policy_allows_and_owns(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request(f, "web.svc.example");
	g_autoptr(GError) error = NULL;
	const gchar *ips[] = {"192.0.2.9", "2001:db8::1", NULL};
	const gchar *uris[] = {"spiffe://example.org/svc/web", NULL};
	struct passwd *pw = getpwuid(1);

	ck_test_policy(f, "10-svc.conf", RULE);
	g_assert_cmpuint(f->warnings->len, ==, 0);
	g_assert_cmpuint(ck_policy_get_n_rules(f->policy), ==, 1);
	ck_request_set_ip_addresses(r, ips);
	ck_request_set_uris(r, uris);
	ck_request_set_reload_unit(r, "svc.service");
	ck_request_set_post_save_command(r, "true");
	g_assert_true(ck_policy_authorize_new(f->policy, &f->daemon, r, 1, &error));
	g_assert_no_error(error);
	/* the request is the user's: its owner, its files, its commands */
	g_assert_cmpuint(ck_request_get_owner_uid(r), ==, 1);
	g_assert_cmpuint(ck_request_get_cert_attrs(r)->uid, ==, 1);
	g_assert_cmpuint(ck_request_get_key_attrs(r)->uid, ==, 1);
	g_assert_cmpuint(ck_request_get_key_attrs(r)->gid, ==, pw->pw_gid);
	g_assert_cmpstr(ck_request_get_hook_user(r), ==, pw->pw_name);
}

static void
test_policy_refusals(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *escape_link = g_build_filename(f->allowed, "escape", NULL);

	ck_test_policy(f, "10-svc.conf", RULE);
	g_assert_cmpint(symlink(f->outside, escape_link), ==, 0);
#define DENY(fragment, owned, ...)                                                                 \
	do {                                                                                       \
		g_autoptr(CkRequest) r = ck_test_request(f, "ok.svc.example");                   \
		__VA_ARGS__;                                                                       \
		ck_test_assert_denied(f, r, owned, fragment);                                      \
	} while (0)
	DENY("evil.example", 0, {
		const gchar *dns[] = {"ok.svc.example", "evil.example", NULL};
		ck_request_set_dns_names(r, dns);
	});
	DENY("CN=root", 0, ck_request_set_subject(r, "CN=root"));
	DENY("198.51.100.1", 0, {
		const gchar *ips[] = {"198.51.100.1", NULL};
		ck_request_set_ip_addresses(r, ips);
	});
	DENY("spiffe://example.org/admin", 0, {
		const gchar *uris[] = {"spiffe://example.org/admin", NULL};
		ck_request_set_uris(r, uris);
	});
	DENY("ops@example.org", 0, {
		const gchar *emails[] = {"ops@example.org", NULL};
		ck_request_set_emails(r, emails);
	});
	DENY("HTTP/x@EXAMPLE", 0, {
		const gchar *principals[] = {"HTTP/x@EXAMPLE", NULL};
		ck_request_set_principals(r, principals);
	});
	DENY("outside the directories", 0, {
		g_autofree gchar *p = g_build_filename(f->outside, "x.crt", NULL);
		ck_request_set_cert_file(r, p);
	});
	/* a link in the allowed directory that leads out, and "..", lead nowhere */
	DENY("outside the directories", 0, {
		g_autofree gchar *p = g_build_filename(escape_link, "x.key", NULL);
		ck_request_set_key_file(r, p);
	});
	DENY("outside the directories", 0, {
		g_autofree gchar *p = g_build_filename(f->allowed, "..", "elsewhere", "x.crt", NULL);
		ck_request_set_chain_file(r, p);
	});
	DENY("outside the directories", 0, ck_request_set_pid_file(r, "/run/other.pid"));
	DENY("the CA 'acme'", 0, ck_request_set_ca(r, "acme"));
	DENY("reloading sshd.service", 0, ck_request_set_reload_unit(r, "sshd.service"));
	DENY("cannot run as root", 0, {
		ck_request_set_post_save_command(r, "id");
		ck_request_set_hook_user(r, "root");
	});
	DENY("must belong to it", 0, {
		CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);
		attrs.uid = 0;
		ck_request_set_key_attrs(r, &attrs);
	});
	DENY("has 2 requests already", 2, (void)0);
#undef DENY
}

static void
test_policy_groups(Fixture *f, gconstpointer user_data)
{
	struct passwd *pw = getpwuid(1);
	struct group *gr = getgrgid(pw->pw_gid);
	g_autofree gchar *text =
	    g_strdup_printf("[group %s]\nDNSNames=*.grp.example\nDirectories=@DIR@\n", gr->gr_name);
	g_autoptr(CkRequest) ok = ck_test_request(f, "a.grp.example");
	g_autoptr(CkRequest) bad = ck_test_request(f, "a.svc.example");
	CkCaller bin = {.uid = 2};
	g_autoptr(GError) error = NULL;

	/* the user's primary group carries the rule */
	ck_test_policy(f, "20-group.conf", text);
	g_assert_true(ck_policy_authorize_new(f->policy, &f->daemon, ok, 0, &error));
	g_assert_no_error(error);
	ck_test_assert_denied(f, bad, 0, "a.svc.example");
	/* another user outside the group has no rule */
	if (getpwuid(2) != NULL && getpwuid(2)->pw_gid != pw->pw_gid) {
		g_autoptr(CkRequest) other = ck_test_request(f, "b.grp.example");
		g_assert_false(ck_policy_authorize_new(f->policy, &bin, other, 0, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	}
}

static void
test_policy_change_by_owner(Fixture *f, gconstpointer user_data)
{
	g_autoptr(CkRequest) r = ck_test_request(f, "x.svc.example");
	CkCaller root = {0}, bin = {.uid = 2};
	g_autoptr(GError) error = NULL;

	ck_request_set_template_id(r, "mine");
	ck_request_set_owner_uid(r, 1);
	g_assert_true(ck_policy_authorize_change(f->policy, &f->daemon, r, "Rekey", NULL));
	g_assert_true(ck_policy_authorize_change(f->policy, &root, r, "Rekey", NULL));
	g_assert_false(ck_policy_authorize_change(f->policy, &bin, r, "Rekey", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "Rekey of request mine"));
	g_assert_nonnull(strstr(error->message, "uid 1"));
}

static void
test_policy_rate_limit(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	CkCaller nobody = {.uid = 65534};

	ck_test_policy(f, "10-svc.conf", RULE);
	/* 3 per minute, in a sliding window */
	for (guint i = 0; i < 3; i++)
		g_assert_true(ck_policy_take_issue(f->policy, &f->daemon, 1000 + i, NULL));
	g_assert_false(ck_policy_take_issue(f->policy, &f->daemon, 1010, &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED);
	g_assert_nonnull(strstr(error->message, "3 certificates within 1min"));
	g_clear_error(&error);
	/* the first one left the window after 60 s: room for one more, then full again */
	g_assert_true(ck_policy_take_issue(f->policy, &f->daemon, 1060, NULL));
	g_assert_false(ck_policy_take_issue(f->policy, &f->daemon, 1060, NULL));
	/* a user without a rule gets the default limit, 10 a minute */
	for (guint i = 0; i < 10; i++)
		g_assert_true(ck_policy_take_issue(f->policy, &nobody, 5000, NULL));
	g_assert_false(ck_policy_take_issue(f->policy, &nobody, 5001, NULL));
}

static void
test_policy_bad_files(Fixture *f, gconstpointer user_data)
{
	/* a broken file is skipped whole, with its name; the good one still applies */
	ck_test_policy(f, "10-svc.conf", RULE);
	ck_test_policy(f, "20-bad.conf", "[user daemon]\nIPAddresses=not-a-network\n");
	g_assert_cmpuint(f->warnings->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "20-bad.conf"));
	g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "not-a-network"));
	g_assert_cmpuint(ck_policy_get_n_rules(f->policy), ==, 1);
	ck_test_policy(f, "20-bad.conf", "[user daemon]\nColour=blue\n");
	g_assert_cmpuint(f->warnings->len, ==, 1);
	g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "Colour"));
	ck_test_policy(f, "20-bad.conf", "[daemon]\nDNSNames=x\n");
	g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "[daemon]"));
	ck_test_policy(f, "20-bad.conf", "this is [not a key file\n");
	g_assert_cmpuint(f->warnings->len, ==, 1);
	ck_test_policy(f, "20-bad.conf", "[user daemon]\nRateLimit=often\n");
	g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "RateLimit=often"));
	ck_test_policy(f, "20-bad.conf", "[user daemon]\nDirectories=relative/dir\n");
	g_assert_nonnull(strstr(g_ptr_array_index(f->warnings, 0), "relative/dir"));
	g_assert_cmpuint(ck_policy_get_n_rules(f->policy), ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	if (getpwuid(1) == NULL) {
		g_test_skip("needs the system user with uid 1 (daemon)");
		return g_test_run();
	}
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/certkeeper/policy/root-may-everything", test_policy_root_may_everything);
	ADD("/certkeeper/policy/no-rule", test_policy_no_rule);
	ADD("/certkeeper/policy/allows-and-owns", test_policy_allows_and_owns);
	ADD("/certkeeper/policy/refusals", test_policy_refusals);
	ADD("/certkeeper/policy/groups", test_policy_groups);
	ADD("/certkeeper/policy/change-by-owner", test_policy_change_by_owner);
	ADD("/certkeeper/policy/rate-limit", test_policy_rate_limit);
	ADD("/certkeeper/policy/bad-files", test_policy_bad_files);
#undef ADD
	return g_test_run();
}
