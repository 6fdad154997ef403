/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * CkWorkers: GTask thread functions run on a few threads of its own, never on
 * the caller's, never more at once than asked, always the same threads, and
 * their results come back in the caller's main context.
 */
#include "config.h"

#include <string.h>

#include "ck-test-util.h"
#include "ck-workers.h"

typedef struct {
	GMutex lock;
	GCond cond;
	guint running;       /* jobs inside the thread function now */
	guint max_running;   /* the most seen at once */
	gboolean open;       /* gated jobs may finish */
	GHashTable *threads; /* GThread * of every job */
	GThread *main_thread;
	guint finished; /* callbacks that arrived */
	gboolean callback_in_main;
} Fixture;

static void
fixture_init(Fixture *f)
{
	memset(f, 0, sizeof(*f));
	g_mutex_init(&f->lock);
	g_cond_init(&f->cond);
	f->threads = g_hash_table_new(NULL, NULL);
	f->main_thread = g_thread_self();
	f->callback_in_main = TRUE;
}

static void
fixture_clear(Fixture *f)
{
	g_hash_table_unref(f->threads);
	g_cond_clear(&f->cond);
	g_mutex_clear(&f->lock);
}

/* The task data is the fixture; the job waits until the fixture's gate opens. */
static void
gated_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	Fixture *f = task_data;

	g_mutex_lock(&f->lock);
	g_hash_table_add(f->threads, g_thread_self());
	f->running++;
	f->max_running = MAX(f->max_running, f->running);
	g_cond_broadcast(&f->cond);
	while (!f->open)
		g_cond_wait(&f->cond, &f->lock);
	f->running--;
	g_mutex_unlock(&f->lock);
	g_task_return_pointer(task, g_thread_self(), NULL);
}

static void
done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	Fixture *f = user_data;
	g_autoptr(GError) error = NULL;
	GThread *ran_on = g_task_propagate_pointer(G_TASK(res), &error);

	g_assert_no_error(error);
	g_assert_true(ran_on != f->main_thread);
	if (g_thread_self() != f->main_thread)
		f->callback_in_main = FALSE;
	f->finished++;
}

static void
run_jobs(Fixture *f, CkWorkers *workers, GObject *source, guint n)
{
	for (guint i = 0; i < n; i++) {
		g_autoptr(GTask) task = g_task_new(source, NULL, done_cb, f);
		g_task_set_task_data(task, f, NULL);
		ck_workers_run(workers, task, gated_thread);
	}
}

/* Waits until @n gated jobs are inside the thread function. */
static void
wait_running(Fixture *f, guint n)
{
	g_mutex_lock(&f->lock);
	while (f->running < n)
		g_cond_wait(&f->cond, &f->lock);
	g_mutex_unlock(&f->lock);
}

static void
open_gate(Fixture *f)
{
	g_mutex_lock(&f->lock);
	f->open = TRUE;
	g_cond_broadcast(&f->cond);
	g_mutex_unlock(&f->lock);
}

static void
wait_finished(Fixture *f, guint n)
{
	while (f->finished < n)
		g_main_context_iteration(NULL, TRUE);
}

static void
test_bounded(void)
{
	Fixture f;
	g_autoptr(GObject) source = g_object_new(G_TYPE_OBJECT, NULL);
	g_autoptr(CkWorkers) workers = ck_workers_new(2);

	fixture_init(&f);
	g_assert_cmpuint(ck_workers_get_threads(workers), ==, 2);
	run_jobs(&f, workers, source, 12);
	/* two are in, and stay in until the gate opens: a third would be seen then */
	wait_running(&f, 2);
	open_gate(&f);
	wait_finished(&f, 12);
	g_assert_cmpuint(f.max_running, ==, 2);
	/* the same two threads did all twelve jobs, none of them on this thread */
	g_assert_cmpuint(g_hash_table_size(f.threads), <=, 2);
	g_assert_false(g_hash_table_contains(f.threads, f.main_thread));
	g_assert_true(f.callback_in_main);
	fixture_clear(&f);
}

static void
test_grow(void)
{
	Fixture f;
	g_autoptr(GObject) source = g_object_new(G_TYPE_OBJECT, NULL);
	g_autoptr(CkWorkers) workers = ck_workers_new(1);

	fixture_init(&f);
	run_jobs(&f, workers, source, 1);
	wait_running(&f, 1);
	/* more threads after a reload: the next jobs run beside the first */
	ck_workers_set_threads(workers, 3);
	g_assert_cmpuint(ck_workers_get_threads(workers), ==, 3);
	run_jobs(&f, workers, source, 5);
	wait_running(&f, 3);
	open_gate(&f);
	wait_finished(&f, 6);
	g_assert_cmpuint(f.max_running, ==, 3);
	fixture_clear(&f);
}

static void
test_zero_is_one(void)
{
	Fixture f;
	g_autoptr(GObject) source = g_object_new(G_TYPE_OBJECT, NULL);
	g_autoptr(CkWorkers) workers = ck_workers_new(0);

	fixture_init(&f);
	g_assert_cmpuint(ck_workers_get_threads(workers), ==, 1);
	f.open = TRUE;
	run_jobs(&f, workers, source, 3);
	wait_finished(&f, 3);
	g_assert_cmpuint(f.max_running, ==, 1);
	fixture_clear(&f);
}

static void
test_free_lets_jobs_finish(void)
{
	Fixture f;
	g_autoptr(GObject) source = g_object_new(G_TYPE_OBJECT, NULL);
	CkWorkers *workers = ck_workers_new(1);

	fixture_init(&f);
	run_jobs(&f, workers, source, 4);
	wait_running(&f, 1);
	/* freed with one job running and three queued: all four still report back */
	ck_workers_free(workers);
	open_gate(&f);
	wait_finished(&f, 4);
	g_assert_cmpuint(f.max_running, ==, 1);
	fixture_clear(&f);
}

/* A source object that frees the workers when it is finalized (as a local CA does). */
static void
free_workers_notify(gpointer data, GObject *where_the_object_was)
{
	ck_workers_free(data);
}

static void
quick_thread(GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
	g_task_return_boolean(task, TRUE);
}

static void
quick_done_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	gboolean *done = user_data;
	g_assert_true(g_task_propagate_boolean(G_TASK(res), NULL));
	*done = TRUE;
}

static void
test_owner_finalized_on_worker(void)
{
	GObject *source = g_object_new(G_TYPE_OBJECT, NULL);
	CkWorkers *workers = ck_workers_new(1);
	gboolean done = FALSE;
	GTask *task = g_task_new(source, NULL, quick_done_cb, &done);
	GWeakRef gone;

	g_object_weak_ref(source, free_workers_notify, workers);
	g_weak_ref_init(&gone, source);
	ck_workers_run(workers, task, quick_thread);
	g_object_unref(task);
	g_object_unref(source);
	/* whichever thread drops the last reference frees the workers: no deadlock */
	while (!done)
		g_main_context_iteration(NULL, TRUE);
	/* the worker may still hold the task for a moment after the callback ran */
	for (GObject *alive; (alive = g_weak_ref_get(&gone)) != NULL;) {
		g_object_unref(alive);
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	g_weak_ref_clear(&gone);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/workers/bounded", test_bounded);
	g_test_add_func("/workers/grow", test_grow);
	g_test_add_func("/workers/zero-is-one", test_zero_is_one);
	g_test_add_func("/workers/free-lets-jobs-finish", test_free_lets_jobs_finish);
	g_test_add_func("/workers/owner-finalized-on-worker", test_owner_finalized_on_worker);
	return g_test_run();
}
