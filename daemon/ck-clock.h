/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Wall-clock time as the engine sees it, in unix seconds: CLOCK_REALTIME, plus,
 * in fault-injection builds only (meson -Dfault_injection=true), an offset in
 * seconds read from the file named by $CERTKEEPER_TEST_CLOCK_OFFSET_FILE. Tests
 * move the daemon's clock back and forward that way without touching the host's.
 * The file holds a whole number of seconds (may be negative); it is read on
 * first use and cached until ck_clock_reload_offset(). No variable, no file or
 * an empty file: offset 0; anything else unreadable: a warning and offset 0.
 * Everything in the engine that asks "what time is it" asks this.
 */
gint64
ck_clock_now(void);

/* The offset in effect (always 0 in normal builds). */
gint64
ck_clock_get_offset(void);

/* Re-reads the offset file (fault-injection builds; a no-op otherwise). TRUE if it changed. */
gboolean
ck_clock_reload_offset(void);

G_END_DECLS
