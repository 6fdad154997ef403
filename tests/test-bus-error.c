/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <gio/gio.h>

#include "ck-bus-error.h"
#include "ck-error.h"

/* The table and the enum must never drift apart: one D-Bus name per CkError, in order. */
static void
test_bus_error_map_matches_enum(void)
{
	for (guint code = 0; code < CK_ERROR_LAST; code++) {
		g_autofree gchar *expected =
		    g_strconcat(CK_BUS_ERROR_PREFIX, ck_error_to_name((CkError)code), NULL);
		g_assert_cmpstr(ck_bus_error_map[code].name, ==, expected);
	}
	g_assert_null(ck_bus_error_map[CK_ERROR_LAST].name);
}

static void
test_bus_error_from_gerror(void)
{
	sd_bus_error bus_error = SD_BUS_ERROR_NULL;
	g_autoptr(GError) error =
	    g_error_new(CK_ERROR, CK_ERROR_INVALID_ARGUMENT, "'%s' is %d%% wrong", "x", 100);
	g_autoptr(GError) foreign = g_error_new_literal(G_IO_ERROR, G_IO_ERROR_FAILED, "boom");

	g_assert_cmpint(ck_bus_error_from_gerror(&bus_error, error), ==, -EINVAL);
	g_assert_cmpstr(bus_error.name, ==, "org.certkeeper.Error.InvalidArgument");
	/* the message is taken literally, never as a format */
	g_assert_cmpstr(bus_error.message, ==, "'x' is 100% wrong");
	sd_bus_error_free(&bus_error);

	g_assert_cmpint(ck_bus_error_from_gerror(&bus_error, foreign), <, 0);
	g_assert_cmpstr(bus_error.name, ==, "org.certkeeper.Error.Failed");
	sd_bus_error_free(&bus_error);

	g_assert_cmpint(ck_bus_error_setf(&bus_error, CK_ERROR_ACCESS_DENIED, "no %s", "way"), ==,
			-EACCES);
	g_assert_cmpstr(bus_error.name, ==, "org.certkeeper.Error.AccessDenied");
	g_assert_cmpstr(bus_error.message, ==, "no way");
	sd_bus_error_free(&bus_error);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/bus-error/map-matches-enum", test_bus_error_map_matches_enum);
	g_test_add_func("/certkeeper/bus-error/from-gerror", test_bus_error_from_gerror);
	return g_test_run();
}
