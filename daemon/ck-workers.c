/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ck-workers.h"

struct _CkWorkers {
	GMutex lock;
	GThreadPool *pool; /* created on the first job */
	guint threads;
};

typedef struct {
	GTask *task;
	GTaskThreadFunc func;
} CkWorkersJob;

static void
ck_workers_job_run(gpointer data, gpointer user_data)
{
	CkWorkersJob *job = data;

	job->func(job->task, g_task_get_source_object(job->task), g_task_get_task_data(job->task),
		  g_task_get_cancellable(job->task));
	/* the result goes to the task's own main context; this is only our reference */
	g_object_unref(job->task);
	g_free(job);
}

CkWorkers *
ck_workers_new(guint threads)
{
	CkWorkers *self = g_new0(CkWorkers, 1);
	g_mutex_init(&self->lock);
	self->threads = MAX(threads, 1);
	return self;
}

void
ck_workers_free(CkWorkers *self)
{
	if (self == NULL)
		return;
	/* not waiting: a job's last reference may be dropped on a worker, and a
	 * source object freed there must not wait for its own thread */
	if (self->pool != NULL)
		g_thread_pool_free(self->pool, FALSE, FALSE);
	g_mutex_clear(&self->lock);
	g_free(self);
}

/* The pool, created on first use; NULL (with a warning) if no thread could be started. */
static GThreadPool *
ck_workers_pool(CkWorkers *self)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	g_autoptr(GError) error = NULL;

	if (self->pool != NULL)
		return self->pool;
	/* exclusive: threads of our own, waiting on the queue without a timeout */
	self->pool = g_thread_pool_new(ck_workers_job_run, NULL, (gint)self->threads, TRUE, &error);
	if (self->pool == NULL)
		g_warning("cannot start worker threads: %s", error->message);
	return self->pool;
}

void
ck_workers_run(CkWorkers *self, GTask *task, GTaskThreadFunc func)
{
	GThreadPool *pool = ck_workers_pool(self);
	CkWorkersJob *job;

	if (pool == NULL) {
		/* no thread of our own to be had: GLib's shared pool still does the job */
		g_task_run_in_thread(task, func);
		return;
	}
	job = g_new0(CkWorkersJob, 1);
	job->task = g_object_ref(task);
	job->func = func;
	g_thread_pool_push(pool, job, NULL);
}

void
ck_workers_set_threads(CkWorkers *self, guint threads)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);

	self->threads = MAX(threads, 1);
	if (self->pool != NULL)
		g_thread_pool_set_max_threads(self->pool, (gint)self->threads, NULL);
}

guint
ck_workers_get_threads(CkWorkers *self)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	return self->threads;
}
