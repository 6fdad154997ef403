/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * At most N jobs of a kind at once (key generations, CA submissions), the
 * others waiting their turn first come, first served: a storm of renewals
 * neither starves one request nor floods the CPU or the CA.
 */
typedef struct _CkLimiter CkLimiter;
typedef void (*CkLimiterFunc)(gpointer user_data);

CkLimiter *
ck_limiter_new(guint max_running);
void
ck_limiter_free(CkLimiter *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkLimiter, ck_limiter_free)

/*
 * Runs @func(@user_data) as soon as a slot is free and every job queued before
 * it has started, always from an idle callback (never re-entrantly). The job
 * must call ck_limiter_done() exactly once when it finishes. @destroy frees
 * @user_data if the job is still waiting when it is cancelled with
 * ck_limiter_cancel() or the limiter is freed.
 */
void
ck_limiter_run(CkLimiter *self, CkLimiterFunc func, gpointer user_data, GDestroyNotify destroy);
void
ck_limiter_done(CkLimiter *self);
/* Drops waiting jobs whose user_data is @user_data; TRUE if one was dropped. */
gboolean
ck_limiter_cancel(CkLimiter *self, gpointer user_data);

/* A new limit (after a reload): running jobs finish, more start if it grew. */
void
ck_limiter_set_max(CkLimiter *self, guint max_running);

guint
ck_limiter_get_running(CkLimiter *self);
guint
ck_limiter_get_waiting(CkLimiter *self);

G_END_DECLS
