/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The project error domain: names are what the bus and the state files carry. */
#include "config.h"

#include <gio/gio.h>
#include <string.h>

#include "ck-error.h"

static void
test_error_names_round_trip(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (guint code = 0; code < CK_ERROR_LAST; code++) {
		const gchar *name = ck_error_to_name((CkError)code);
		g_assert_nonnull(name);
		g_assert_cmpstr(name, !=, "");
		/* a D-Bus error name component: no dots, no spaces */
		g_assert_null(strpbrk(name, ". "));
		g_assert_cmpint(ck_error_from_name(name), ==, code);
		/* two codes sharing a name would collapse into one on the bus */
		g_assert_false(g_hash_table_contains(seen, name));
		g_hash_table_add(seen, (gpointer)name);
	}
	g_assert_cmpuint(g_hash_table_size(seen), ==, CK_ERROR_LAST);
}

static void
test_error_known_names(void)
{
	/* the names are API (org.certkeeper.Error.<Name>): pin a few */
	g_assert_cmpstr(ck_error_to_name(CK_ERROR_FAILED), ==, "Failed");
	g_assert_cmpstr(ck_error_to_name(CK_ERROR_INVALID_ARGUMENT), ==, "InvalidArgument");
	g_assert_cmpstr(ck_error_to_name(CK_ERROR_NOT_FOUND), ==, "NotFound");
	g_assert_cmpstr(ck_error_to_name(CK_ERROR_CA_REJECTED), ==, "CARejected");
	g_assert_cmpstr(ck_error_to_name(CK_ERROR_BUSY), ==, "Busy");
}

static void
test_error_unknown(void)
{
	g_assert_cmpint(ck_error_from_name("NoSuchError"), ==, CK_ERROR_FAILED);
	g_assert_cmpint(ck_error_from_name(""), ==, CK_ERROR_FAILED);
	g_assert_cmpint(ck_error_from_name(NULL), ==, CK_ERROR_FAILED);
	/* names are case-sensitive, as D-Bus names are */
	g_assert_cmpint(ck_error_from_name("invalidargument"), ==, CK_ERROR_FAILED);
	g_assert_cmpint(ck_error_from_name("org.certkeeper.Error.NotFound"), ==, CK_ERROR_FAILED);
	/* out-of-range codes get a name rather than a crash */
	g_assert_cmpstr(ck_error_to_name(CK_ERROR_LAST), ==, "Failed");
	g_assert_cmpstr(ck_error_to_name((CkError)-1), ==, "Failed");
}

static void
test_error_quark(void)
{
	g_autoptr(GError) error = g_error_new_literal(CK_ERROR, CK_ERROR_IO, "x");
	g_assert_cmpstr(g_quark_to_string(CK_ERROR), ==, "certkeeper-error-quark");
	g_assert_true(g_error_matches(error, CK_ERROR, CK_ERROR_IO));
	g_assert_false(g_error_matches(error, G_IO_ERROR, CK_ERROR_IO));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/error/names-round-trip", test_error_names_round_trip);
	g_test_add_func("/certkeeper/error/known-names", test_error_known_names);
	g_test_add_func("/certkeeper/error/unknown", test_error_unknown);
	g_test_add_func("/certkeeper/error/quark", test_error_quark);
	return g_test_run();
}
