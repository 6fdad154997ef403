/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <time.h>

#include "ck-clock.h"

#ifdef CK_FAULT_INJECTION
/*
 * The offset is read once and cached: the scheduler converts plans to real
 * timer expiries with it, and a value that changed under its feet between two
 * calls would make it arm the timer at the wrong moment. Tests change it on
 * purpose with ck_clock_reload_offset(). The lock is for GTask worker threads
 * that ask the time while the main thread reloads.
 */
G_LOCK_DEFINE_STATIC(ck_clock_offset);
static gint64 ck_clock_offset = 0;
static gboolean ck_clock_offset_loaded = FALSE;

/* The offset the file asks for: 0 when it is not configured, missing, empty or malformed. */
static gint64
ck_clock_read_offset_file(void)
{
	const gchar *path = g_getenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE");
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;
	gint64 value = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	if (!g_file_get_contents(path, &contents, NULL, &error)) {
		/* no file is the normal "no offset" state of a test that has not moved the clock */
		if (!g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			g_warning("test clock offset file %s cannot be read (%s); using no offset",
				  path, error->message);
		return 0;
	}
	g_strstrip(contents);
	if (contents[0] == '\0')
		return 0;
	if (!g_ascii_string_to_signed(contents, 10, G_MININT64, G_MAXINT64, &value, &error)) {
		g_warning("test clock offset file %s does not hold a number of seconds (%s); "
			  "using no offset",
			  path, error->message);
		return 0;
	}
	return value;
}
#endif

gint64
ck_clock_get_offset(void)
{
#ifdef CK_FAULT_INJECTION
	gint64 offset;

	G_LOCK(ck_clock_offset);
	if (!ck_clock_offset_loaded) {
		ck_clock_offset = ck_clock_read_offset_file();
		ck_clock_offset_loaded = TRUE;
	}
	offset = ck_clock_offset;
	G_UNLOCK(ck_clock_offset);
	return offset;
#else
	return 0;
#endif
}

gboolean
ck_clock_reload_offset(void)
{
#ifdef CK_FAULT_INJECTION
	/* read outside the lock: the file system may be slow, the lock must not be */
	gint64 offset = ck_clock_read_offset_file();
	gboolean changed;

	G_LOCK(ck_clock_offset);
	/* the first load counts as a change only if it moves the clock away from 0 */
	changed = ck_clock_offset_loaded ? offset != ck_clock_offset : offset != 0;
	ck_clock_offset = offset;
	ck_clock_offset_loaded = TRUE;
	G_UNLOCK(ck_clock_offset);
	return changed;
#else
	return FALSE;
#endif
}

gint64
ck_clock_now(void)
{
	struct timespec ts;
	gint64 offset = ck_clock_get_offset();

	/*
	 * CLOCK_REALTIME itself, not g_get_real_time(): the scheduler's timerfd runs
	 * on this clock, and a plan must never look due to one and not to the other.
	 */
	clock_gettime(CLOCK_REALTIME, &ts);
	/* a wild test offset must not wrap the time around */
	if (offset > 0 && (gint64)ts.tv_sec > G_MAXINT64 - offset)
		return G_MAXINT64;
	if (offset < 0 && (gint64)ts.tv_sec < G_MININT64 - offset)
		return G_MININT64;
	return (gint64)ts.tv_sec + offset;
}
