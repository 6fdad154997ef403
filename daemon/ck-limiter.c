/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ck-limiter.h"

typedef struct {
	CkLimiterFunc func;
	gpointer user_data;
	GDestroyNotify destroy;
} CkLimiterJob;

struct _CkLimiter {
	guint max_running;
	guint running;
	GQueue waiting; /* CkLimiterJob, oldest first */
	guint idle_id;
};

CkLimiter *
ck_limiter_new(guint max_running)
{
	CkLimiter *self = g_new0(CkLimiter, 1);
	self->max_running = MAX(max_running, 1);
	g_queue_init(&self->waiting);
	return self;
}

static void
ck_limiter_job_free(CkLimiterJob *job)
{
	if (job->destroy != NULL)
		job->destroy(job->user_data);
	g_free(job);
}

void
ck_limiter_free(CkLimiter *self)
{
	if (self == NULL)
		return;
	g_clear_handle_id(&self->idle_id, g_source_remove);
	g_queue_clear_full(&self->waiting, (GDestroyNotify)ck_limiter_job_free);
	g_free(self);
}

/* Starts waiting jobs while slots are free; runs from the main loop, not from done(). */
static gboolean
ck_limiter_dispatch_cb(gpointer user_data)
{
	CkLimiter *self = user_data;
	self->idle_id = 0;
	while (self->running < self->max_running && !g_queue_is_empty(&self->waiting)) {
		CkLimiterJob *job = g_queue_pop_head(&self->waiting);
		self->running++;
		job->func(job->user_data);
		g_free(job);
	}
	return G_SOURCE_REMOVE;
}

static void
ck_limiter_schedule(CkLimiter *self)
{
	if (self->idle_id == 0 && !g_queue_is_empty(&self->waiting) &&
	    self->running < self->max_running)
		self->idle_id = g_idle_add(ck_limiter_dispatch_cb, self);
}

void
ck_limiter_run(CkLimiter *self, CkLimiterFunc func, gpointer user_data, GDestroyNotify destroy)
{
	CkLimiterJob *job = g_new0(CkLimiterJob, 1);
	job->func = func;
	job->user_data = user_data;
	job->destroy = destroy;
	/* even with a free slot, queue behind those already waiting: first come, first served */
	g_queue_push_tail(&self->waiting, job);
	ck_limiter_schedule(self);
}

void
ck_limiter_done(CkLimiter *self)
{
	g_return_if_fail(self->running > 0);
	self->running--;
	ck_limiter_schedule(self);
}

gboolean
ck_limiter_cancel(CkLimiter *self, gpointer user_data)
{
	for (GList *l = self->waiting.head; l != NULL; l = l->next) {
		CkLimiterJob *job = l->data;
		if (job->user_data == user_data) {
			g_queue_delete_link(&self->waiting, l);
			ck_limiter_job_free(job);
			return TRUE;
		}
	}
	return FALSE;
}

void
ck_limiter_set_max(CkLimiter *self, guint max_running)
{
	self->max_running = MAX(max_running, 1);
	ck_limiter_schedule(self);
}

guint
ck_limiter_get_running(CkLimiter *self)
{
	return self->running;
}

guint
ck_limiter_get_waiting(CkLimiter *self)
{
	return g_queue_get_length(&self->waiting);
}
