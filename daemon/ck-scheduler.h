/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define CK_TYPE_SCHEDULER ck_scheduler_get_type()
G_DECLARE_FINAL_TYPE(CkScheduler, ck_scheduler, CK, SCHEDULER, GObject)

/*
 * Calls @func(key, user_data) when a key's time has come. One timer for the
 * earliest entry, whatever the number of entries: nothing wakes the process
 * while nothing is due. The timer is a timerfd on CLOCK_REALTIME with an absolute
 * expiry (so it fires at the right wall-clock time after a suspend) and
 * TFD_TIMER_CANCEL_ON_SET, so a change of the system clock emits
 * "clock-changed"; the owner then re-plans (ck_scheduler_set() again).
 * Due entries are dispatched oldest due time first, ties in the order they were
 * set (first come, first served), each removed before its callback runs. A
 * callback may set or remove any key; what it plans, even in the past, is due
 * on the next main-loop iteration, never in the dispatch that is running.
 * Times are ck_clock_now() seconds. The timer is watched in the thread-default
 * main context of the thread that calls ck_scheduler_new().
 *
 * Signal "clock-changed" (no arguments, G_SIGNAL_RUN_LAST).
 */
typedef void (*CkSchedulerFunc)(const gchar *key, gpointer user_data);

CkScheduler *
ck_scheduler_new(CkSchedulerFunc func, gpointer user_data);

/* Plans @key at @when (replacing an earlier plan of the same key); a past time is due now. */
void
ck_scheduler_set(CkScheduler *self, const gchar *key, gint64 when);
/* Forgets @key; not an error if it has no plan. */
void
ck_scheduler_remove(CkScheduler *self, const gchar *key);
/* The planned time of @key, 0 if it has none. */
gint64
ck_scheduler_get(CkScheduler *self, const gchar *key);
/* The earliest planned time, 0 if nothing is planned. */
gint64
ck_scheduler_get_next(CkScheduler *self);
guint
ck_scheduler_get_size(CkScheduler *self);

/*
 * Tells the scheduler the clock may have moved without the kernel saying so
 * (e.g. a test clock offset changed): re-arms the timer and emits "clock-changed".
 */
void
ck_scheduler_clock_changed(CkScheduler *self);

G_END_DECLS
