/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * A fixed set of threads of its own for GTask thread functions, instead of
 * GLib's shared task pool. The shared pool grows to a dozen threads and more
 * when tasks block (a CA's fsync behind its lock), and every new thread gets a
 * glibc malloc arena of its own: a storm of thousands of key generations and
 * signings then leaves a dozen arenas, each pinned by a few live chunks among
 * freed ones, which malloc_trim() cannot give back. A few long-lived threads
 * keep that to a few arenas. The threads are created on the first job and
 * then sleep on a queue without any timeout: an idle daemon is not woken.
 */
typedef struct _CkWorkers CkWorkers;

/* Up to @threads jobs at once (at least one); the others wait in order. */
CkWorkers *
ck_workers_new(guint threads);
/* Lets queued and running jobs finish in the background, then the threads end. */
void
ck_workers_free(CkWorkers *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkWorkers, ck_workers_free)

/* Like g_task_run_in_thread(), on one of these threads. */
void
ck_workers_run(CkWorkers *self, GTask *task, GTaskThreadFunc func);

/* A new number of threads (after a reload); running jobs finish. */
void
ck_workers_set_threads(CkWorkers *self, guint threads);
guint
ck_workers_get_threads(CkWorkers *self);

G_END_DECLS
