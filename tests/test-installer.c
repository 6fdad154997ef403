/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The installer: staged, all-or-nothing installs with owner and mode; target checks. */
#include "config.h"

#include <glib/gstdio.h>
#include <pwd.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-error.h"
#include "ck-installer.h"
#include "ck-test-util.h"

typedef struct {
	gchar *dir;
	gchar *cert;
	gchar *key;
	gchar *chain;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->cert = g_build_filename(f->dir, "host.crt", NULL);
	f->key = g_build_filename(f->dir, "host.key", NULL);
	f->chain = g_build_filename(f->dir, "chain.pem", NULL);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->cert);
	g_free(f->key);
	g_free(f->chain);
}

static CkInstallFile
ck_test_file(const gchar *path, const gchar *contents, guint mode)
{
	return (CkInstallFile){.path = path,
			       .contents = g_bytes_new(contents, strlen(contents)),
			       .attrs = CK_FILE_ATTRS_INIT(mode)};
}

static void
ck_test_files_clear(CkInstallFile *files, guint n)
{
	for (guint i = 0; i < n; i++)
		g_bytes_unref(files[i].contents);
}

static void
ck_test_assert_contents(const gchar *path, const gchar *expected)
{
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;
	g_file_get_contents(path, &contents, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(contents, ==, expected);
}

/* No "*.ck-new" (staged) file is left in @dir. */
static void
ck_test_assert_nothing_staged(const gchar *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const gchar *name;
	g_assert_nonnull(d);
	while ((name = g_dir_read_name(d)) != NULL) {
		g_test_message("found %s", name);
		g_assert_false(g_str_has_suffix(name, ".ck-new"));
	}
}

static ino_t
ck_test_inode(const gchar *path)
{
	struct stat st;
	g_assert_cmpint(g_stat(path, &st), ==, 0);
	return st.st_ino;
}

static void
test_installer_install(Fixture *f, gconstpointer user_data)
{
	CkInstallFile files[] = {
	    ck_test_file(f->cert, "CERT\n", 0644),
	    ck_test_file(f->key, "KEY\n", 0640),
	    ck_test_file(f->chain, "CHAIN\n", 0444),
	};
	g_autoptr(GError) error = NULL;
	mode_t old_umask;
	gboolean ok;

	/* a strict umask must not narrow what was asked for */
	old_umask = umask(0077);
	ok = ck_installer_install(files, G_N_ELEMENTS(files), &error);
	umask(old_umask);
	g_assert_no_error(error);
	g_assert_true(ok);
	ck_test_assert_contents(f->cert, "CERT\n");
	ck_test_assert_contents(f->key, "KEY\n");
	ck_test_assert_contents(f->chain, "CHAIN\n");
	g_assert_cmpint(ck_test_file_mode(f->cert), ==, 0644);
	g_assert_cmpint(ck_test_file_mode(f->key), ==, 0640);
	g_assert_cmpint(ck_test_file_mode(f->chain), ==, 0444);
	ck_test_assert_nothing_staged(f->dir);
	ck_test_files_clear(files, G_N_ELEMENTS(files));
}

static void
test_installer_owner(Fixture *f, gconstpointer user_data)
{
	struct passwd *nobody = getpwnam("nobody");
	CkInstallFile files[] = {
	    ck_test_file(f->cert, "CERT\n", 0644),
	    ck_test_file(f->key, "KEY\n", 0600),
	};
	g_autoptr(GError) error = NULL;
	struct stat st;

	if (getuid() != 0) {
		g_test_skip("only root can give files away");
		ck_test_files_clear(files, G_N_ELEMENTS(files));
		return;
	}
	g_assert_nonnull(nobody);
	/* the key for a service user; the certificate group-owned only */
	files[1].attrs.uid = nobody->pw_uid;
	files[1].attrs.gid = nobody->pw_gid;
	files[0].attrs.gid = nobody->pw_gid;
	g_assert_true(ck_installer_install(files, G_N_ELEMENTS(files), &error));
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(f->key, &st), ==, 0);
	g_assert_cmpuint(st.st_uid, ==, nobody->pw_uid);
	g_assert_cmpuint(st.st_gid, ==, nobody->pw_gid);
	g_assert_cmpint(ck_test_file_mode(f->key), ==, 0600);
	g_assert_cmpint(g_stat(f->cert, &st), ==, 0);
	/* uid -1 leaves the owner as created */
	g_assert_cmpuint(st.st_uid, ==, 0);
	g_assert_cmpuint(st.st_gid, ==, nobody->pw_gid);
	ck_test_files_clear(files, G_N_ELEMENTS(files));
}

static void
test_installer_replaces(Fixture *f, gconstpointer user_data)
{
	CkInstallFile files[] = {
	    ck_test_file(f->cert, "NEW CERT\n", 0644),
	    ck_test_file(f->key, "NEW KEY\n", 0600),
	};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *stale = g_strdup_printf("%s.ck-new", f->key);
	ino_t cert_ino, key_ino;

	g_assert_true(g_file_set_contents(f->cert, "OLD CERT\n", -1, NULL));
	g_assert_true(g_file_set_contents(f->key, "OLD KEY\n", -1, NULL));
	g_assert_cmpint(g_chmod(f->key, 0644), ==, 0);
	/* left by an earlier, interrupted install */
	g_assert_true(g_file_set_contents(stale, "HALF A KEY", -1, NULL));
	cert_ino = ck_test_inode(f->cert);
	key_ino = ck_test_inode(f->key);

	g_assert_true(ck_installer_install(files, G_N_ELEMENTS(files), &error));
	g_assert_no_error(error);
	/* renamed over, not rewritten: a reader holding the old file still sees it whole */
	g_assert_cmpuint(ck_test_inode(f->cert), !=, cert_ino);
	g_assert_cmpuint(ck_test_inode(f->key), !=, key_ino);
	ck_test_assert_contents(f->cert, "NEW CERT\n");
	ck_test_assert_contents(f->key, "NEW KEY\n");
	/* the new file's mode, not the old one's */
	g_assert_cmpint(ck_test_file_mode(f->key), ==, 0600);
	ck_test_assert_nothing_staged(f->dir);
	ck_test_files_clear(files, G_N_ELEMENTS(files));
}

static void
test_installer_staging_fails(Fixture *f, gconstpointer user_data)
{
	/* the last file cannot even be staged: its directory does not exist */
	g_autofree gchar *missing = g_build_filename(f->dir, "no-such-dir", "host.chain", NULL);
	CkInstallFile files[] = {
	    ck_test_file(f->cert, "NEW CERT\n", 0644),
	    ck_test_file(f->key, "NEW KEY\n", 0600),
	    ck_test_file(missing, "NEW CHAIN\n", 0644),
	};
	g_autoptr(GError) error = NULL;
	ino_t cert_ino, key_ino;

	g_assert_true(g_file_set_contents(f->cert, "OLD CERT\n", -1, NULL));
	g_assert_true(g_file_set_contents(f->key, "OLD KEY\n", -1, NULL));
	cert_ino = ck_test_inode(f->cert);
	key_ino = ck_test_inode(f->key);

	g_assert_false(ck_installer_install(files, G_N_ELEMENTS(files), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "no-such-dir"));
	/* nothing live was touched: same files, same contents */
	g_assert_cmpuint(ck_test_inode(f->cert), ==, cert_ino);
	g_assert_cmpuint(ck_test_inode(f->key), ==, key_ino);
	ck_test_assert_contents(f->cert, "OLD CERT\n");
	ck_test_assert_contents(f->key, "OLD KEY\n");
	/* and the two files staged before the failure are gone again */
	ck_test_assert_nothing_staged(f->dir);
	ck_test_files_clear(files, G_N_ELEMENTS(files));
}

static void
test_installer_staging_fails_first(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *missing = g_build_filename(f->dir, "gone", "host.crt", NULL);
	CkInstallFile files[] = {
	    ck_test_file(missing, "NEW CERT\n", 0644),
	    ck_test_file(f->key, "NEW KEY\n", 0600),
	};
	g_autoptr(GError) error = NULL;

	g_assert_true(g_file_set_contents(f->key, "OLD KEY\n", -1, NULL));
	g_assert_false(ck_installer_install(files, G_N_ELEMENTS(files), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	ck_test_assert_contents(f->key, "OLD KEY\n");
	ck_test_assert_nothing_staged(f->dir);
	ck_test_files_clear(files, G_N_ELEMENTS(files));
}

static void
test_installer_rename_fails(Fixture *f, gconstpointer user_data)
{
	/* staging works, but the target is a directory: the rename is refused */
	g_autofree gchar *blocked = g_build_filename(f->dir, "is-a-dir", NULL);
	CkInstallFile files[] = {
	    ck_test_file(f->cert, "NEW CERT\n", 0644),
	    ck_test_file(blocked, "NEW KEY\n", 0600),
	};
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(g_mkdir(blocked, 0755), ==, 0);
	g_assert_false(ck_installer_install(files, G_N_ELEMENTS(files), &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_IO);
	g_assert_nonnull(strstr(error->message, "is-a-dir"));
	g_assert_true(g_file_test(blocked, G_FILE_TEST_IS_DIR));
	/* no staged file is left behind for a later run to trip over */
	ck_test_assert_nothing_staged(f->dir);
	ck_test_files_clear(files, G_N_ELEMENTS(files));
}

static void
test_installer_nothing(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GError) error = NULL;
	g_assert_true(ck_installer_install(NULL, 0, &error));
	g_assert_no_error(error);
}

static void
ck_test_check_bad(const gchar *path, const gchar *fragment)
{
	g_autoptr(GError) error = NULL;
	g_test_message("bad target %s", path != NULL ? path : "(null)");
	g_assert_false(ck_installer_check_target(path, "certificate file", &error));
	g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
	g_test_message("%s", error->message);
	/* the user must learn which option was wrong */
	g_assert_nonnull(strstr(error->message, "certificate file"));
	if (fragment != NULL)
		g_assert_nonnull(strstr(error->message, fragment));
}

static void
test_installer_check_target(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *subdir = g_build_filename(f->dir, "subdir", NULL);
	g_autofree gchar *missing = g_build_filename(f->dir, "missing", "cert.pem", NULL);
	g_autofree gchar *trailing = g_strdup_printf("%s/", f->cert);
	g_autoptr(GError) error = NULL;
	g_autoptr(GDir) dir = NULL;
	const gchar *name;

	ck_test_check_bad("relative/cert.pem", "relative/cert.pem");
	ck_test_check_bad("cert.pem", "cert.pem");
	ck_test_check_bad("", NULL);
	ck_test_check_bad(NULL, NULL);
	ck_test_check_bad(trailing, trailing);
	ck_test_check_bad(missing, "missing");
	/* /proc takes no new files, not even from root */
	ck_test_check_bad("/proc/certkeeper-test.pem", "/proc");
	g_assert_cmpint(g_mkdir(subdir, 0755), ==, 0);
	ck_test_check_bad(subdir, subdir);

	g_assert_true(ck_installer_check_target(f->cert, "certificate file", &error));
	g_assert_no_error(error);
	/* an existing regular file is a fine target: it gets replaced */
	g_assert_true(g_file_set_contents(f->key, "OLD", -1, NULL));
	g_assert_true(ck_installer_check_target(f->key, "key file", &error));
	g_assert_no_error(error);
	/* checking leaves nothing behind (the write probe is removed) */
	dir = g_dir_open(f->dir, 0, NULL);
	while ((name = g_dir_read_name(dir)) != NULL)
		g_assert_true(g_str_equal(name, "subdir") || g_str_equal(name, "host.key"));
}

/* How many files were created in the directory @watch watches since the last call. */
static guint
ck_test_count_created(int watch)
{
	gchar buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	guint created = 0;
	ssize_t len;

	while ((len = read(watch, buf, sizeof(buf))) > 0) {
		for (gchar *p = buf; p < buf + len;) {
			const struct inotify_event *event = (const struct inotify_event *)p;
			created += (event->mask & IN_CREATE) != 0;
			p += sizeof(*event) + event->len;
		}
	}
	return created;
}

static void
test_installer_check_target_probes_once(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *other_dir = g_build_filename(f->dir, "other", NULL);
	g_autofree gchar *other = g_build_filename(other_dir, "cert.pem", NULL);
	g_autoptr(GError) error = NULL;
	int watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	g_assert_cmpint(watch, >=, 0);
	g_assert_cmpint(g_mkdir(other_dir, 0755), ==, 0);
	g_assert_cmpint(inotify_add_watch(watch, f->dir, IN_CREATE), >=, 0);
	g_assert_cmpint(inotify_add_watch(watch, other_dir, IN_CREATE), >=, 0);
	ck_installer_forget_probes();

	/* the first check of a directory really creates a file there */
	g_assert_true(ck_installer_check_target(f->cert, "certificate file", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_count_created(watch), ==, 1);
	/* the next files in that directory (a burst of requests) are not probed again */
	g_assert_true(ck_installer_check_target(f->key, "key file", &error));
	g_assert_true(ck_installer_check_target(f->chain, "chain file", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_count_created(watch), ==, 0);
	/* another directory is probed on its own */
	g_assert_true(ck_installer_check_target(other, "certificate file", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_count_created(watch), ==, 1);
	/* a directory that went away is noticed at once, passed probe or not */
	ck_test_rm_rf(other_dir);
	ck_test_check_bad(other, "other");
	/* and once forgotten, the probe runs again */
	ck_installer_forget_probes();
	g_assert_true(ck_installer_check_target(f->cert, "certificate file", &error));
	g_assert_no_error(error);
	g_assert_cmpuint(ck_test_count_created(watch), ==, 1);
	close(watch);
}

static void
test_installer_check_target_unwritable(Fixture *f, gconstpointer user_data)
{
	g_autofree gchar *ro = g_build_filename(f->dir, "ro", NULL);
	g_autofree gchar *target = g_build_filename(ro, "cert.pem", NULL);

	if (getuid() == 0) {
		g_test_skip("root writes into read-only directories (see /proc above)");
		return;
	}
	g_assert_cmpint(g_mkdir(ro, 0555), ==, 0);
	ck_test_check_bad(target, ro);
	g_chmod(ro, 0755);
}

#define CK_ADD(path, func)                                                                         \
	g_test_add("/certkeeper/installer/" path, Fixture, NULL, fixture_setup, func,              \
		   fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	CK_ADD("install", test_installer_install);
	CK_ADD("owner", test_installer_owner);
	CK_ADD("replaces", test_installer_replaces);
	CK_ADD("staging-fails", test_installer_staging_fails);
	CK_ADD("staging-fails-first", test_installer_staging_fails_first);
	CK_ADD("rename-fails", test_installer_rename_fails);
	CK_ADD("nothing", test_installer_nothing);
	CK_ADD("check-target", test_installer_check_target);
	CK_ADD("check-target-unwritable", test_installer_check_target_unwritable);
	CK_ADD("check-target-probes-once", test_installer_check_target_probes_once);
	return g_test_run();
}
