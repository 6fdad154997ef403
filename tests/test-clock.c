/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The engine's clock: CLOCK_REALTIME, plus the test offset in fault-injection
 * builds only. This binary is compiled with the engine's own c_args, so
 * CK_FAULT_INJECTION here says what the linked engine must do.
 */
#include "config.h"

#include <glib/gstdio.h>
#include <time.h>

#include "ck-clock.h"
#include "ck-test-util.h"

#define OFFSET_ENV "CERTKEEPER_TEST_CLOCK_OFFSET_FILE"

typedef struct {
	gchar *dir;
	gchar *path;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	f->dir = ck_test_make_tmpdir();
	f->path = g_build_filename(f->dir, "clock-offset", NULL);
	g_setenv(OFFSET_ENV, f->path, TRUE);
	/* every test starts from "no offset", whatever the one before left behind */
	ck_clock_reload_offset();
	g_assert_cmpint(ck_clock_get_offset(), ==, 0);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_unsetenv(OFFSET_ENV);
	ck_clock_reload_offset();
	ck_test_rm_rf(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

static void
ck_test_write_offset(Fixture *f, const gchar *contents)
{
	g_autoptr(GError) error = NULL;
	g_file_set_contents(f->path, contents, -1, &error);
	g_assert_no_error(error);
}

static gint64
ck_test_real_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (gint64)ts.tv_sec;
}

/* ck_clock_now() is the real time plus @offset (a second apart at most: they are read apart). */
static void
ck_test_assert_now(gint64 offset)
{
	gint64 before = ck_test_real_now();
	gint64 now = ck_clock_now();
	gint64 after = ck_test_real_now();
	g_assert_cmpint(now, >=, before + offset);
	g_assert_cmpint(now, <=, after + offset);
}

static void
test_clock_now(Fixture *f, gconstpointer user_data)
{
	ck_test_assert_now(0);
	/* and it is unix time, not some other epoch */
	g_assert_cmpint(ck_clock_now(), >, G_GINT64_CONSTANT(1700000000));
}

#ifdef CK_FAULT_INJECTION

static void
test_clock_offset(Fixture *f, gconstpointer user_data)
{
	ck_test_write_offset(f, "3600\n");
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 3600);
	ck_test_assert_now(3600);
	/* no change, no news */
	g_assert_false(ck_clock_reload_offset());
	/* backwards, past the epoch even */
	ck_test_write_offset(f, "  -86400  ");
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, -86400);
	ck_test_assert_now(-86400);
	ck_test_write_offset(f, "-100000000000");
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_now(), <, 0);
}

static void
test_clock_offset_cached(Fixture *f, gconstpointer user_data)
{
	ck_test_write_offset(f, "100");
	g_assert_true(ck_clock_reload_offset());
	/* the file is read when asked to, not on every call */
	ck_test_write_offset(f, "200");
	g_assert_cmpint(ck_clock_get_offset(), ==, 100);
	ck_test_assert_now(100);
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 200);
}

static void
test_clock_offset_missing(Fixture *f, gconstpointer user_data)
{
	ck_test_write_offset(f, "100");
	g_assert_true(ck_clock_reload_offset());
	/* a missing file is "no offset", quietly: tests remove it to go back */
	g_assert_cmpint(g_unlink(f->path), ==, 0);
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 0);
	/* so are an empty file and no variable at all */
	ck_test_write_offset(f, "100");
	g_assert_true(ck_clock_reload_offset());
	ck_test_write_offset(f, " \n");
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 0);
	ck_test_write_offset(f, "100");
	g_assert_true(ck_clock_reload_offset());
	g_unsetenv(OFFSET_ENV);
	g_assert_true(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 0);
	ck_test_assert_now(0);
}

static void
test_clock_offset_malformed(Fixture *f, gconstpointer user_data)
{
	const gchar *bad[] = {"abc", "12abc", "1.5", "3600s", "99999999999999999999", "1 2"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		ck_test_write_offset(f, "100");
		g_assert_true(ck_clock_reload_offset());
		ck_test_write_offset(f, bad[i]);
		g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*clock offset*");
		g_assert_true(ck_clock_reload_offset());
		g_test_assert_expected_messages();
		g_assert_cmpint(ck_clock_get_offset(), ==, 0);
	}
}

/* Run in a fresh process: the first question reads the file by itself. */
static void
test_clock_offset_lazy(void)
{
	if (g_test_subprocess()) {
		g_assert_cmpint(ck_clock_get_offset(), ==, 4242);
		ck_test_assert_now(4242);
		return;
	}
	{
		g_autofree gchar *dir = ck_test_make_tmpdir();
		g_autofree gchar *path = ck_test_write_file(dir, "clock-offset", "4242");
		g_setenv(OFFSET_ENV, path, TRUE);
		g_test_trap_subprocess(NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
		g_unsetenv(OFFSET_ENV);
		ck_test_rm_rf(dir);
		g_test_trap_assert_passed();
	}
}

#else /* !CK_FAULT_INJECTION */

static void
test_clock_no_offset(Fixture *f, gconstpointer user_data)
{
	/* a normal build ignores the test file altogether */
	ck_test_write_offset(f, "3600");
	g_assert_false(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 0);
	ck_test_assert_now(0);
	ck_test_write_offset(f, "garbage");
	g_assert_false(ck_clock_reload_offset());
	g_assert_cmpint(ck_clock_get_offset(), ==, 0);
}

#endif

#define CK_ADD(path, func)                                                                         \
	g_test_add("/certkeeper/clock/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	CK_ADD("now", test_clock_now);
#ifdef CK_FAULT_INJECTION
	CK_ADD("offset", test_clock_offset);
	CK_ADD("offset/cached", test_clock_offset_cached);
	CK_ADD("offset/missing", test_clock_offset_missing);
	CK_ADD("offset/malformed", test_clock_offset_malformed);
	g_test_add_func("/certkeeper/clock/offset/lazy", test_clock_offset_lazy);
#else
	CK_ADD("no-offset", test_clock_no_offset);
#endif
	return g_test_run();
}
