/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib-unix.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "ck-clock.h"
#include "ck-scheduler.h"

/* The kernel reports a set clock only to absolute CLOCK_REALTIME timers with this flag. */
#define CK_SCHEDULER_TIMER_FLAGS (TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET)

/* One allocation per entry, the key inside: a daemon keeps two per tracked request. */
typedef struct {
	gint64 when;
	guint64 seq; /* order of ck_scheduler_set() calls: first come, first served on ties */
	guint pos;   /* where it is in the heap */
	gchar key[];
} CkSchedulerEntry;

struct _CkScheduler {
	GObject parent_instance;
	CkSchedulerFunc func;
	gpointer user_data;
	/* a binary min-heap of CkSchedulerEntry by (when, seq): the earliest at 0,
	 * a pointer a slot where a balanced tree would take a node of five */
	GPtrArray *heap;
	GHashTable *index; /* entry->key (not owned) -> CkSchedulerEntry */
	guint64 next_seq;
	int fd;
	GSource *source;
	/* what the timer is armed to: a plan that leaves the earliest alone costs no syscall */
	gboolean armed;
	struct timespec armed_at;
	guint defer_arm; /* > 0 while dispatching: arm once at the end, not per call */
	gboolean clock_change_pending; /* timerfd_settime() reported a set clock */
};

G_DEFINE_TYPE(CkScheduler, ck_scheduler, G_TYPE_OBJECT)

enum { SIGNAL_CLOCK_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

static gboolean
ck_scheduler_entry_before(const CkSchedulerEntry *a, const CkSchedulerEntry *b)
{
	return a->when != b->when ? a->when < b->when : a->seq < b->seq;
}

static CkSchedulerEntry *
ck_scheduler_at(CkScheduler *self, guint pos)
{
	return g_ptr_array_index(self->heap, pos);
}

static void
ck_scheduler_place(CkScheduler *self, CkSchedulerEntry *entry, guint pos)
{
	self->heap->pdata[pos] = entry;
	entry->pos = pos;
}

/* Moves @entry towards the root while it is earlier than its parent, then down while
 * a child is earlier: after a change of its (when, seq) it is in its place again. */
static void
ck_scheduler_sift(CkScheduler *self, CkSchedulerEntry *entry)
{
	guint pos = entry->pos;

	while (pos > 0 && ck_scheduler_entry_before(entry, ck_scheduler_at(self, (pos - 1) / 2))) {
		ck_scheduler_place(self, ck_scheduler_at(self, (pos - 1) / 2), pos);
		pos = (pos - 1) / 2;
	}
	for (;;) {
		guint child = 2 * pos + 1;
		if (child >= self->heap->len)
			break;
		if (child + 1 < self->heap->len &&
		    ck_scheduler_entry_before(ck_scheduler_at(self, child + 1),
					      ck_scheduler_at(self, child)))
			child++;
		if (!ck_scheduler_entry_before(ck_scheduler_at(self, child), entry))
			break;
		ck_scheduler_place(self, ck_scheduler_at(self, child), pos);
		pos = child;
	}
	ck_scheduler_place(self, entry, pos);
}

/* Takes @entry out of the heap and the index, and frees it. */
static void
ck_scheduler_drop(CkScheduler *self, CkSchedulerEntry *entry)
{
	CkSchedulerEntry *last = g_ptr_array_steal_index_fast(self->heap, self->heap->len - 1);

	/* the index's key is the entry's: drop it before the entry is freed */
	g_hash_table_remove(self->index, entry->key);
	if (last != entry) {
		ck_scheduler_place(self, last, entry->pos);
		ck_scheduler_sift(self, last);
	}
	g_free(entry);
}

static CkSchedulerEntry *
ck_scheduler_first(CkScheduler *self)
{
	return self->heap->len > 0 ? ck_scheduler_at(self, 0) : NULL;
}

/*
 * The CLOCK_REALTIME expiry for a plan at @when (ck_clock_now() seconds). A plan
 * at or before the epoch becomes 1 ns: an all-zero it_value would disarm the
 * timer, and any time in the past makes it fire at once.
 */
static struct timespec
ck_scheduler_expiry(gint64 when)
{
	gint64 offset = ck_clock_get_offset();
	gint64 real;
	struct timespec ts = {0, 0};

	if (offset < 0 && when > G_MAXINT64 + offset)
		real = G_MAXINT64;
	else if (offset > 0 && when < G_MININT64 + offset)
		real = G_MININT64;
	else
		real = when - offset;
	if (real <= 0) {
		ts.tv_nsec = 1;
		return ts;
	}
	/* the kernel saturates far-future expiries by itself; only time_t may be narrower */
	if (sizeof(time_t) < sizeof(gint64) && real > G_MAXINT32)
		real = G_MAXINT32;
	ts.tv_sec = (time_t)real;
	return ts;
}

static void
ck_scheduler_settime(CkScheduler *self, gboolean armed, struct timespec at)
{
	struct itimerspec its = {.it_value = at};

	if (self->armed == armed && self->armed_at.tv_sec == at.tv_sec &&
	    self->armed_at.tv_nsec == at.tv_nsec)
		return;
	/*
	 * Disarming keeps CK_SCHEDULER_TIMER_FLAGS too, so an idle scheduler still
	 * hears of a set clock (the owner may track how far it can trust the clock).
	 */
	if (timerfd_settime(self->fd, CK_SCHEDULER_TIMER_FLAGS, &its, NULL) < 0) {
		if (errno != ECANCELED) {
			g_warning("cannot arm the scheduler's timer: %s", g_strerror(errno));
			/* forget what it was armed to, so the next plan tries again */
			self->armed = FALSE;
			self->armed_at = (struct timespec){-1, -1};
			return;
		}
		/*
		 * The clock was set since the last read(): the kernel armed the timer
		 * anyway but has now consumed the news, so read() will not report it.
		 * Fire at once and say "clock-changed" from the dispatch, not from
		 * here, where the caller is in the middle of ck_scheduler_set().
		 */
		self->clock_change_pending = TRUE;
		its.it_value = (struct timespec){0, 1};
		at = its.it_value;
		if (timerfd_settime(self->fd, CK_SCHEDULER_TIMER_FLAGS, &its, NULL) < 0 &&
		    errno != ECANCELED)
			g_warning("cannot arm the scheduler's timer: %s", g_strerror(errno));
	}
	self->armed = armed;
	self->armed_at = at;
}

static void
ck_scheduler_arm(CkScheduler *self)
{
	CkSchedulerEntry *first;

	if (self->defer_arm > 0)
		return;
	first = ck_scheduler_first(self);
	if (first == NULL && !self->clock_change_pending)
		ck_scheduler_settime(self, FALSE, (struct timespec){0, 0});
	else if (self->clock_change_pending)
		ck_scheduler_settime(self, TRUE, (struct timespec){0, 1});
	else
		ck_scheduler_settime(self, TRUE, ck_scheduler_expiry(first->when));
}

/* After a read() the timer has expired or was cancelled: what it was armed to is gone. */
static void
ck_scheduler_rearm(CkScheduler *self)
{
	self->armed = FALSE;
	self->armed_at = (struct timespec){-1, -1};
	ck_scheduler_arm(self);
}

static void
ck_scheduler_emit_clock_changed(CkScheduler *self)
{
	/* the owner re-plans everything in its handler: arm once, afterwards */
	self->defer_arm++;
	g_signal_emit(self, signals[SIGNAL_CLOCK_CHANGED], 0);
	self->defer_arm--;
}

typedef struct {
	gchar *key;
	gint64 when;
	guint64 seq;
} CkSchedulerDue;

static gint
ck_scheduler_due_compare(gconstpointer a, gconstpointer b)
{
	const CkSchedulerDue *da = a;
	const CkSchedulerDue *db = b;
	if (da->when != db->when)
		return da->when < db->when ? -1 : 1;
	return da->seq < db->seq ? -1 : da->seq > db->seq;
}

/* Every entry due by @now, from the subtree at @pos (a parent is never later than its children). */
static void
ck_scheduler_collect_due(CkScheduler *self, guint pos, gint64 now, GArray *due)
{
	CkSchedulerEntry *entry;
	CkSchedulerDue item;

	if (pos >= self->heap->len)
		return;
	entry = ck_scheduler_at(self, pos);
	if (entry->when > now)
		return;
	item.key = g_strdup(entry->key);
	item.when = entry->when;
	item.seq = entry->seq;
	g_array_append_val(due, item);
	ck_scheduler_collect_due(self, 2 * pos + 1, now, due);
	ck_scheduler_collect_due(self, 2 * pos + 2, now, due);
}

static void
ck_scheduler_due_clear(gpointer data)
{
	CkSchedulerDue *due = data;
	g_free(due->key);
}

static void
ck_scheduler_dispatch_due(CkScheduler *self)
{
	g_autoptr(GArray) due = g_array_new(FALSE, FALSE, sizeof(CkSchedulerDue));
	gint64 now = ck_clock_now();

	/*
	 * Take the list of due entries first: callbacks may add, move and remove
	 * entries (their own key too), which would invalidate a walk over the
	 * heap. An entry a callback plans now (in the past, even) has a later
	 * seq than its snapshot and waits for the next main-loop iteration, so a
	 * callback that always re-plans itself cannot keep this loop spinning.
	 * The snapshot is put in (when, seq) order: first come, first served.
	 */
	g_array_set_clear_func(due, ck_scheduler_due_clear);
	ck_scheduler_collect_due(self, 0, now, due);
	g_array_sort(due, ck_scheduler_due_compare);

	self->defer_arm++;
	for (guint i = 0; i < due->len; i++) {
		CkSchedulerDue *item = &g_array_index(due, CkSchedulerDue, i);
		CkSchedulerEntry *entry = g_hash_table_lookup(self->index, item->key);

		if (entry == NULL)
			continue; /* an earlier callback removed it */
		if (entry->seq != item->seq)
			continue; /* an earlier callback re-planned it */
		ck_scheduler_drop(self, entry);
		self->func(item->key, self->user_data);
	}
	self->defer_arm--;
}

static gboolean
ck_scheduler_fd_cb(gint fd, GIOCondition condition, gpointer user_data)
{
	g_autoptr(CkScheduler) self = g_object_ref(CK_SCHEDULER(user_data));
	guint64 expirations = 0;
	ssize_t n = read(fd, &expirations, sizeof(expirations));

	if (n < 0 && errno == ECANCELED) {
		/* the system clock was set: plans made against the old time may be off */
		ck_scheduler_emit_clock_changed(self);
		ck_scheduler_rearm(self);
		return G_SOURCE_CONTINUE;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return G_SOURCE_CONTINUE; /* spurious wake-up: nothing has expired */
	if (n < 0)
		g_warning("cannot read the scheduler's timer: %s", g_strerror(errno));

	if (self->clock_change_pending) {
		self->clock_change_pending = FALSE;
		ck_scheduler_emit_clock_changed(self);
	}
	ck_scheduler_dispatch_due(self);
	ck_scheduler_rearm(self);
	return G_SOURCE_CONTINUE;
}

CkScheduler *
ck_scheduler_new(CkSchedulerFunc func, gpointer user_data)
{
	CkScheduler *self;

	g_return_val_if_fail(func != NULL, NULL);

	self = g_object_new(CK_TYPE_SCHEDULER, NULL);
	self->func = func;
	self->user_data = user_data;
	return self;
}

void
ck_scheduler_set(CkScheduler *self, const gchar *key, gint64 when)
{
	CkSchedulerEntry *entry;

	g_return_if_fail(CK_IS_SCHEDULER(self));
	g_return_if_fail(key != NULL);

	entry = g_hash_table_lookup(self->index, key);
	if (entry == NULL) {
		gsize len = strlen(key);
		entry = g_malloc(sizeof(CkSchedulerEntry) + len + 1);
		memcpy(entry->key, key, len + 1);
		g_ptr_array_add(self->heap, entry);
		entry->pos = self->heap->len - 1;
		g_hash_table_insert(self->index, entry->key, entry);
	}
	/* a known key keeps its entry but gets a new place in the queue */
	entry->when = when;
	entry->seq = self->next_seq++;
	ck_scheduler_sift(self, entry);
	ck_scheduler_arm(self);
}

void
ck_scheduler_remove(CkScheduler *self, const gchar *key)
{
	CkSchedulerEntry *entry;

	g_return_if_fail(CK_IS_SCHEDULER(self));
	g_return_if_fail(key != NULL);

	entry = g_hash_table_lookup(self->index, key);
	if (entry == NULL)
		return;
	ck_scheduler_drop(self, entry);
	ck_scheduler_arm(self);
}

gint64
ck_scheduler_get(CkScheduler *self, const gchar *key)
{
	CkSchedulerEntry *entry;

	g_return_val_if_fail(CK_IS_SCHEDULER(self), 0);
	g_return_val_if_fail(key != NULL, 0);

	entry = g_hash_table_lookup(self->index, key);
	return entry != NULL ? entry->when : 0;
}

gint64
ck_scheduler_get_next(CkScheduler *self)
{
	CkSchedulerEntry *first;

	g_return_val_if_fail(CK_IS_SCHEDULER(self), 0);

	first = ck_scheduler_first(self);
	return first != NULL ? first->when : 0;
}

guint
ck_scheduler_get_size(CkScheduler *self)
{
	g_return_val_if_fail(CK_IS_SCHEDULER(self), 0);
	return g_hash_table_size(self->index);
}

void
ck_scheduler_clock_changed(CkScheduler *self)
{
	g_autoptr(CkScheduler) keep = NULL;

	g_return_if_fail(CK_IS_SCHEDULER(self));

	/* a handler may drop the owner's last reference */
	keep = g_object_ref(self);
	ck_scheduler_emit_clock_changed(self);
	ck_scheduler_rearm(self);
}

static void
ck_scheduler_finalize(GObject *object)
{
	CkScheduler *self = CK_SCHEDULER(object);

	if (self->source != NULL) {
		g_source_destroy(self->source);
		g_source_unref(self->source);
	}
	if (self->fd >= 0)
		close(self->fd);
	g_hash_table_unref(self->index);
	g_ptr_array_unref(self->heap);
	G_OBJECT_CLASS(ck_scheduler_parent_class)->finalize(object);
}

static void
ck_scheduler_init(CkScheduler *self)
{
	self->heap = g_ptr_array_new_with_free_func(g_free);
	self->index = g_hash_table_new(g_str_hash, g_str_equal);
	self->fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	if (self->fd < 0) {
		/* one descriptor at start-up: without it nothing would ever be renewed */
		g_error("cannot create the scheduler's timer: %s", g_strerror(errno));
	}
	self->source = g_unix_fd_source_new(self->fd, G_IO_IN);
	g_source_set_callback(self->source, G_SOURCE_FUNC(ck_scheduler_fd_cb), self, NULL);
	g_source_set_static_name(self->source, "CkScheduler");
	g_source_attach(self->source, g_main_context_get_thread_default());
	/* register for clock changes at once, before anything is planned */
	ck_scheduler_rearm(self);
}

static void
ck_scheduler_class_init(CkSchedulerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = ck_scheduler_finalize;

	/*
	 * The system clock was set (or ck_scheduler_clock_changed() was called):
	 * plans made against the old time may be wrong, re-plan them.
	 */
	signals[SIGNAL_CLOCK_CHANGED] =
	    g_signal_new("clock-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 0);
}
