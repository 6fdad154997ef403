/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The scheduler on real time: when entries fire, in which order, what a
 * callback may do, that one timer serves any number of entries, clock changes.
 * Plans are whole seconds, so the waits here stay under about a second.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "ck-clock.h"
#include "ck-scheduler.h"
#include "ck-test-util.h"

/* How late a timer may fire on a loaded test machine (never early). */
#define LATE_NS (G_GINT64_CONSTANT(500) * 1000 * 1000)

typedef struct Fixture Fixture;
typedef void (*FixtureHook)(Fixture *f, const gchar *key);

struct Fixture {
	GMainContext *context;
	CkScheduler *scheduler;
	GPtrArray *fired; /* keys, in the order they fired */
	GArray *fired_ns; /* CLOCK_REALTIME of each firing, ns, offset included */
	GArray *fired_in; /* the main-loop iteration each fired in */
	guint iteration;  /* bumped by ck_test_iterate() */
	FixtureHook hook; /* runs inside the callback */
	guint clock_changed;
	gint hook_count;
};

static gint64
ck_test_real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (gint64)ts.tv_sec * G_GINT64_CONSTANT(1000000000) + ts.tv_nsec;
}

static void
ck_test_fired_cb(const gchar *key, gpointer user_data)
{
	Fixture *f = user_data;
	gint64 ns = ck_test_real_ns() + ck_clock_get_offset() * G_GINT64_CONSTANT(1000000000);

	g_assert_nonnull(key);
	g_ptr_array_add(f->fired, g_strdup(key));
	g_array_append_val(f->fired_ns, ns);
	g_array_append_val(f->fired_in, f->iteration);
	if (f->hook != NULL)
		f->hook(f, key);
}

static void
ck_test_clock_changed_cb(CkScheduler *scheduler, gpointer user_data)
{
	Fixture *f = user_data;
	f->clock_changed++;
}

static void
fixture_setup(Fixture *f, gconstpointer user_data)
{
	/* a private thread-default context: the scheduler must attach to it, not the global one */
	f->context = g_main_context_new();
	g_main_context_push_thread_default(f->context);
	f->scheduler = ck_scheduler_new(ck_test_fired_cb, f);
	f->fired = g_ptr_array_new_with_free_func(g_free);
	f->fired_ns = g_array_new(FALSE, FALSE, sizeof(gint64));
	f->fired_in = g_array_new(FALSE, FALSE, sizeof(guint));
	g_signal_connect(f->scheduler, "clock-changed", G_CALLBACK(ck_test_clock_changed_cb), f);
}

static void
fixture_teardown(Fixture *f, gconstpointer user_data)
{
	g_clear_object(&f->scheduler);
	g_main_context_pop_thread_default(f->context);
	g_main_context_unref(f->context);
	g_ptr_array_unref(f->fired);
	g_array_unref(f->fired_ns);
	g_array_unref(f->fired_in);
}

/* One main-loop iteration, blocking. */
static void
ck_test_iterate(Fixture *f)
{
	f->iteration++;
	g_main_context_iteration(f->context, TRUE);
}

static gboolean
ck_test_timeout_cb(gpointer user_data)
{
	*(gboolean *)user_data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Iterates until @n entries fired in all (or @clock_changed signals came), at most @ms. */
static void
ck_test_run_until(Fixture *f, guint n, guint clock_changed, guint ms)
{
	gboolean timed_out = FALSE;
	GSource *timeout = g_timeout_source_new(ms);

	g_source_set_callback(timeout, ck_test_timeout_cb, &timed_out, NULL);
	g_source_attach(timeout, f->context);
	while (!timed_out && (f->fired->len < n || f->clock_changed < clock_changed))
		ck_test_iterate(f);
	g_source_destroy(timeout);
	g_source_unref(timeout);
}

static void
ck_test_run_for(Fixture *f, guint ms)
{
	ck_test_run_until(f, G_MAXUINT, G_MAXUINT, ms);
}

static const gchar *
ck_test_fired(Fixture *f, guint i)
{
	g_assert_cmpuint(i, <, f->fired->len);
	return g_ptr_array_index(f->fired, i);
}

/* The file descriptors of this process that are timerfds. */
static GPtrArray *
ck_test_timerfds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	GPtrArray *fds = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	g_assert_nonnull(dir);
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *link = g_build_filename("/proc/self/fd", name, NULL);
		g_autofree gchar *target = g_file_read_link(link, NULL);
		if (target != NULL && strstr(target, "timerfd") != NULL)
			g_ptr_array_add(fds, g_strdup(name));
	}
	return fds;
}

static guint
ck_test_count_fds(void)
{
	g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
	guint n = 0;
	g_assert_nonnull(dir);
	while (g_dir_read_name(dir) != NULL)
		n++;
	return n;
}

/* The one timerfd of the process (there must be exactly one): its remaining time and flags. */
static void
ck_test_timer_state(gint64 *remaining_s, guint *flags)
{
	g_autoptr(GPtrArray) fds = ck_test_timerfds();
	g_autofree gchar *path = NULL;
	g_autofree gchar *info = NULL;
	g_auto(GStrv) lines = NULL;
	gboolean seen_value = FALSE;

	g_assert_cmpuint(fds->len, ==, 1);
	path = g_strdup_printf("/proc/self/fdinfo/%s", (const gchar *)g_ptr_array_index(fds, 0));
	g_assert_true(g_file_get_contents(path, &info, NULL, NULL));
	lines = g_strsplit(info, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		gint64 sec = 0;
		gint64 nsec = 0;
		guint fl = 0;
		if (sscanf(lines[i], "settime flags: %o", &fl) == 1)
			*flags = fl;
		if (sscanf(lines[i], "it_value: (%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT ")", &sec,
			   &nsec) == 2) {
			/* remaining time; 0 s while disarmed (and for an expiry under 1 s) */
			*remaining_s = sec;
			seen_value = sec != 0 || nsec != 0;
		}
	}
	if (!seen_value)
		*remaining_s = -1; /* disarmed */
}

static void
test_scheduler_fires_on_time(Fixture *f, gconstpointer user_data)
{
	gint64 when = ck_clock_now() + 1;
	gint64 late;

	ck_scheduler_set(f->scheduler, "a", when);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "a"), ==, when);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, when);
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 1);
	ck_test_run_until(f, 1, 0, 3000);
	g_assert_cmpuint(f->fired->len, ==, 1);
	g_assert_cmpstr(ck_test_fired(f, 0), ==, "a");
	/* not early, not much late */
	late = g_array_index(f->fired_ns, gint64, 0) - when * G_GINT64_CONSTANT(1000000000);
	g_test_message("fired %" G_GINT64_FORMAT " µs late", late / 1000);
	g_assert_cmpint(late, >=, 0);
	g_assert_cmpint(late, <, LATE_NS);
	/* gone once fired */
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "a"), ==, 0);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, 0);
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 0);
}

static void
test_scheduler_order(Fixture *f, gconstpointer user_data)
{
	gint64 now = ck_clock_now();
	gint64 first = now + 1;

	/* two in the future, a second apart, set in reverse order */
	ck_scheduler_set(f->scheduler, "late", first + 1);
	ck_scheduler_set(f->scheduler, "soon", first);
	/* and some already due, out of order */
	ck_scheduler_set(f->scheduler, "c", now - 10);
	ck_scheduler_set(f->scheduler, "a", now - 20);
	ck_scheduler_set(f->scheduler, "d", now - 10);
	ck_scheduler_set(f->scheduler, "b", now - 15);
	ck_scheduler_set(f->scheduler, "never", now + 3600);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, now - 20);

	ck_test_run_until(f, 4, 0, 1000);
	g_assert_cmpuint(f->fired->len, ==, 4);
	g_assert_cmpstr(ck_test_fired(f, 0), ==, "a");
	g_assert_cmpstr(ck_test_fired(f, 1), ==, "b");
	g_assert_cmpstr(ck_test_fired(f, 2), ==, "c"); /* c and d tie: first set, first fired */
	g_assert_cmpstr(ck_test_fired(f, 3), ==, "d");
	/* all four in the same dispatch */
	g_assert_cmpuint(g_array_index(f->fired_in, guint, 3), ==,
			 g_array_index(f->fired_in, guint, 0));
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, first);

	ck_test_run_until(f, 6, 0, 3000);
	g_assert_cmpuint(f->fired->len, ==, 6);
	g_assert_cmpstr(ck_test_fired(f, 4), ==, "soon");
	g_assert_cmpstr(ck_test_fired(f, 5), ==, "late");
	g_assert_cmpint(g_array_index(f->fired_ns, gint64, 4), >=,
			first * G_GINT64_CONSTANT(1000000000));
	g_assert_cmpint(g_array_index(f->fired_ns, gint64, 5), >=,
			(first + 1) * G_GINT64_CONSTANT(1000000000));
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 1);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "never"), ==, now + 3600);
}

static void
test_scheduler_fifo(Fixture *f, gconstpointer user_data)
{
	gint64 when = ck_clock_now() - 5;

	for (guint i = 0; i < 100; i++) {
		g_autofree gchar *key = g_strdup_printf("k%03u", (i * 37) % 100);
		ck_scheduler_set(f->scheduler, key, when);
	}
	/* planning a key again, even at the same time, puts it at the back of the queue */
	ck_scheduler_set(f->scheduler, "k000", when);
	ck_test_run_until(f, 100, 0, 1000);
	g_assert_cmpuint(f->fired->len, ==, 100);
	for (guint i = 0; i < 99; i++) {
		g_autofree gchar *key = g_strdup_printf("k%03u", ((i + 1) * 37) % 100);
		g_assert_cmpstr(ck_test_fired(f, i), ==, key);
	}
	g_assert_cmpstr(ck_test_fired(f, 99), ==, "k000");
}

typedef struct {
	gchar *key;
	gint64 when;
	guint64 seq;
} CkTestPlan;

static gint
ck_test_model_compare(gconstpointer a, gconstpointer b)
{
	const CkTestPlan *pa = *(CkTestPlan *const *)a;
	const CkTestPlan *pb = *(CkTestPlan *const *)b;
	if (pa->when != pb->when)
		return pa->when < pb->when ? -1 : 1;
	return pa->seq < pb->seq ? -1 : pa->seq > pb->seq;
}

static void
ck_test_model_free(gpointer data)
{
	CkTestPlan *plan = data;
	g_free(plan->key);
	g_free(plan);
}

/*
 * Thousands of random plans, re-plans and removals against a plain model: the
 * earliest is always known, every key reads back its time, and all that is
 * due fires in (time, order of planning), whatever the queue's shape.
 */
static void
test_scheduler_random_against_model(Fixture *f, gconstpointer user_data)
{
	g_autoptr(GHashTable) model =
	    g_hash_table_new_full(g_str_hash, g_str_equal, NULL, ck_test_model_free);
	g_autoptr(GPtrArray) expected = g_ptr_array_new();
	g_autoptr(GRand) rand = g_rand_new_with_seed(20261201);
	gint64 now = ck_clock_now();
	guint64 seq = 0;
	GHashTableIter iter;
	gpointer value;
	gint64 earliest;

	for (guint i = 0; i < 5000; i++) {
		g_autofree gchar *key = g_strdup_printf("r%u", g_rand_int_range(rand, 0, 700));
		CkTestPlan *plan;
		if (g_rand_int_range(rand, 0, 5) == 0) {
			ck_scheduler_remove(f->scheduler, key);
			g_hash_table_remove(model, key);
			continue;
		}
		plan = g_new0(CkTestPlan, 1);
		plan->key = g_strdup(key);
		/* half due now (a few distinct times, so ties are many), half far away */
		plan->when = g_rand_boolean(rand) ? now - g_rand_int_range(rand, 1, 4)
						  : now + 3600 + g_rand_int_range(rand, 0, 100);
		plan->seq = seq++;
		ck_scheduler_set(f->scheduler, key, plan->when);
		g_hash_table_replace(model, plan->key, plan);
	}
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, g_hash_table_size(model));
	earliest = G_MAXINT64;
	g_hash_table_iter_init(&iter, model);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		CkTestPlan *plan = value;
		g_assert_cmpint(ck_scheduler_get(f->scheduler, plan->key), ==, plan->when);
		earliest = MIN(earliest, plan->when);
		if (plan->when <= now)
			g_ptr_array_add(expected, plan);
	}
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, earliest);
	g_ptr_array_sort(expected, ck_test_model_compare);
	ck_test_run_until(f, expected->len, 0, 2000);
	g_assert_cmpuint(f->fired->len, ==, expected->len);
	for (guint i = 0; i < expected->len; i++)
		g_assert_cmpstr(ck_test_fired(f, i), ==,
				((CkTestPlan *)g_ptr_array_index(expected, i))->key);
	/* what is left is what was far away */
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==,
			 g_hash_table_size(model) - expected->len);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), >, now + 3599);
}

static void
test_scheduler_replan(Fixture *f, gconstpointer user_data)
{
	gint64 now = ck_clock_now();

	/* from far away to due */
	ck_scheduler_set(f->scheduler, "x", now + 3600);
	ck_scheduler_set(f->scheduler, "x", now - 1);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "x"), ==, now - 1);
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 1);
	/* from due to far away */
	ck_scheduler_set(f->scheduler, "y", now - 1);
	ck_scheduler_set(f->scheduler, "y", now + 3600);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, now - 1);
	ck_test_run_for(f, 200);
	g_assert_cmpuint(f->fired->len, ==, 1);
	g_assert_cmpstr(ck_test_fired(f, 0), ==, "x");
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "x"), ==, 0);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "y"), ==, now + 3600);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, now + 3600);
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 1);
}

static void
test_scheduler_remove(Fixture *f, gconstpointer user_data)
{
	gint64 now = ck_clock_now();

	ck_scheduler_set(f->scheduler, "x", now - 1);
	ck_scheduler_set(f->scheduler, "y", now + 1);
	ck_scheduler_remove(f->scheduler, "x");
	ck_scheduler_remove(f->scheduler, "y");
	/* not an error */
	ck_scheduler_remove(f->scheduler, "x");
	ck_scheduler_remove(f->scheduler, "never-planned");
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 0);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, 0);
	ck_test_run_for(f, 1200);
	g_assert_cmpuint(f->fired->len, ==, 0);
}

static void
ck_test_hook_replans(Fixture *f, const gchar *key)
{
	gint64 now = ck_clock_now();

	if (g_strcmp0(key, "a") != 0)
		return;
	/* the key being dispatched, again, later */
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "a"), ==, 0);
	ck_scheduler_set(f->scheduler, "a", now + 3600);
	/* a new one, due already: the next iteration, not this dispatch */
	ck_scheduler_set(f->scheduler, "new", now - 100);
	/* one that is due in this dispatch, after us: cancelled */
	ck_scheduler_remove(f->scheduler, "c");
	/* one that is due in this dispatch, moved out of it */
	ck_scheduler_set(f->scheduler, "d", now + 3600);
}

static void
test_scheduler_set_in_callback(Fixture *f, gconstpointer user_data)
{
	gint64 now = ck_clock_now();

	f->hook = ck_test_hook_replans;
	ck_scheduler_set(f->scheduler, "a", now - 10);
	ck_scheduler_set(f->scheduler, "b", now - 9);
	ck_scheduler_set(f->scheduler, "c", now - 8);
	ck_scheduler_set(f->scheduler, "d", now - 7);
	ck_scheduler_set(f->scheduler, "e", now - 6);
	ck_test_run_for(f, 300);
	g_assert_cmpuint(f->fired->len, ==, 4);
	g_assert_cmpstr(ck_test_fired(f, 0), ==, "a");
	g_assert_cmpstr(ck_test_fired(f, 1), ==, "b");
	g_assert_cmpstr(ck_test_fired(f, 2), ==, "e");
	g_assert_cmpstr(ck_test_fired(f, 3), ==, "new");
	g_assert_cmpuint(g_array_index(f->fired_in, guint, 3), >,
			 g_array_index(f->fired_in, guint, 2));
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 2);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "a"), ==, now + 3600);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "d"), ==, now + 3600);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "c"), ==, 0);
}

static void
ck_test_hook_again(Fixture *f, const gchar *key)
{
	/* a callback that always wants another go, at once */
	if (++f->hook_count < 5)
		ck_scheduler_set(f->scheduler, key, ck_clock_now() - 1);
}

static void
test_scheduler_no_spin(Fixture *f, gconstpointer user_data)
{
	f->hook = ck_test_hook_again;
	ck_scheduler_set(f->scheduler, "again", ck_clock_now() - 1);
	ck_test_run_until(f, 5, 0, 1000);
	g_assert_cmpuint(f->fired->len, ==, 5);
	/* once per iteration: re-planning into the past does not loop inside a dispatch */
	for (guint i = 1; i < f->fired->len; i++)
		g_assert_cmpuint(g_array_index(f->fired_in, guint, i), >,
				 g_array_index(f->fired_in, guint, i - 1));
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 0);
	ck_test_run_for(f, 100);
	g_assert_cmpuint(f->fired->len, ==, 5);
}

static void
test_scheduler_past_next_iteration(Fixture *f, gconstpointer user_data)
{
	/* one blocking iteration is enough, however far in the past */
	const gint64 times[] = {ck_clock_now(), ck_clock_now() - 1000, 1, 0, -1, G_MININT64};
	gboolean timed_out = FALSE;
	GSource *guard = g_timeout_source_new(5000);

	/* in case it does not fire: fail instead of blocking forever */
	g_source_set_callback(guard, ck_test_timeout_cb, &timed_out, NULL);
	g_source_attach(guard, f->context);
	for (gsize i = 0; i < G_N_ELEMENTS(times); i++) {
		g_autofree gchar *key = g_strdup_printf("past-%" G_GSIZE_FORMAT, i);
		ck_scheduler_set(f->scheduler, key, times[i]);
		ck_test_iterate(f);
		g_assert_false(timed_out);
		g_assert_cmpuint(f->fired->len, ==, i + 1);
		g_assert_cmpstr(ck_test_fired(f, (guint)i), ==, key);
	}
	g_source_destroy(guard);
	g_source_unref(guard);
}

static void
test_scheduler_thread_default_context(Fixture *f, gconstpointer user_data)
{
	ck_scheduler_set(f->scheduler, "x", ck_clock_now() - 1);
	/* the global default context knows nothing of it */
	for (guint i = 0; i < 10; i++)
		g_main_context_iteration(NULL, FALSE);
	g_usleep(10 * 1000);
	g_main_context_iteration(NULL, FALSE);
	g_assert_cmpuint(f->fired->len, ==, 0);
	ck_test_run_until(f, 1, 0, 1000);
	g_assert_cmpuint(f->fired->len, ==, 1);
}

static void
test_scheduler_empty(Fixture *f, gconstpointer user_data)
{
	gint64 remaining = 0;
	guint flags = 0;

	/* constructed: disarmed, but already listening for clock changes */
	ck_test_timer_state(&remaining, &flags);
	g_assert_cmpint(remaining, ==, -1);
	g_assert_cmpuint(flags, ==, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	ck_test_run_for(f, 300);
	g_assert_cmpuint(f->fired->len, ==, 0);
	g_assert_cmpuint(f->clock_changed, ==, 0);

	/* armed to the earliest entry */
	ck_scheduler_set(f->scheduler, "later", ck_clock_now() + 7200);
	ck_scheduler_set(f->scheduler, "sooner", ck_clock_now() + 3600);
	ck_test_timer_state(&remaining, &flags);
	g_assert_cmpint(remaining, >=, 3598);
	g_assert_cmpint(remaining, <=, 3600);
	g_assert_cmpuint(flags, ==, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET);
	ck_scheduler_remove(f->scheduler, "sooner");
	ck_test_timer_state(&remaining, &flags);
	g_assert_cmpint(remaining, >=, 7198);
	g_assert_cmpint(remaining, <=, 7200);
	/* and disarmed again when the last one goes */
	ck_scheduler_remove(f->scheduler, "later");
	ck_test_timer_state(&remaining, &flags);
	g_assert_cmpint(remaining, ==, -1);

	/* after a dispatch empties it, too */
	ck_scheduler_set(f->scheduler, "x", ck_clock_now() - 1);
	ck_test_run_until(f, 1, 0, 1000);
	ck_test_timer_state(&remaining, &flags);
	g_assert_cmpint(remaining, ==, -1);
	ck_test_run_for(f, 200);
	g_assert_cmpuint(f->fired->len, ==, 1);
}

typedef struct {
	gint64 when;
	guint index;
} Plan;

static gint
ck_test_plan_compare(gconstpointer a, gconstpointer b)
{
	const Plan *pa = a;
	const Plan *pb = b;
	if (pa->when != pb->when)
		return pa->when < pb->when ? -1 : 1;
	return pa->index < pb->index ? -1 : pa->index > pb->index;
}

static void
test_scheduler_many(Fixture *f, gconstpointer user_data)
{
	const guint n = 10000;
	gint64 now = ck_clock_now();
	g_autofree Plan *plans = g_new(Plan, n);
	guint fds_before = ck_test_count_fds();
	gint64 remaining = 0;
	guint flags = 0;
	gint64 started;

	/* 10,000 plans in the future: still one timer, armed to the earliest */
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *key = g_strdup_printf("req-%05u", i);
		ck_scheduler_set(f->scheduler, key, now + 3600 + g_test_rand_int_range(0, 86400));
	}
	ck_scheduler_set(f->scheduler, "req-00000", now + 1800);
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, n);
	g_assert_cmpint(ck_scheduler_get_next(f->scheduler), ==, now + 1800);
	g_assert_cmpuint(ck_test_count_fds(), ==, fds_before);
	ck_test_timer_state(&remaining, &flags);
	g_assert_cmpint(remaining, >=, 1798);
	g_assert_cmpint(remaining, <=, 1800);
	ck_test_run_for(f, 100);
	g_assert_cmpuint(f->fired->len, ==, 0);

	/* all of them due, in random order with many ties: dispatched sorted, ties FIFO */
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *key = g_strdup_printf("req-%05u", i);
		plans[i].when = now - g_test_rand_int_range(1, 500);
		plans[i].index = i;
		ck_scheduler_set(f->scheduler, key, plans[i].when);
	}
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, n);
	g_assert_cmpuint(ck_test_count_fds(), ==, fds_before);
	qsort(plans, n, sizeof(Plan), ck_test_plan_compare);
	started = g_get_monotonic_time();
	ck_test_run_until(f, n, 0, 5000);
	g_test_message("10000 entries dispatched in %" G_GINT64_FORMAT " ms",
		       (g_get_monotonic_time() - started) / 1000);
	g_assert_cmpuint(f->fired->len, ==, n);
	for (guint i = 0; i < n; i++) {
		g_autofree gchar *key = g_strdup_printf("req-%05u", plans[i].index);
		g_assert_cmpstr(ck_test_fired(f, i), ==, key);
	}
	g_assert_cmpuint(ck_scheduler_get_size(f->scheduler), ==, 0);
}

static void
test_scheduler_finalize(Fixture *f, gconstpointer user_data)
{
	guint fds_before;
	g_autoptr(GPtrArray) timers = NULL;

	g_clear_object(&f->scheduler);
	fds_before = ck_test_count_fds();
	timers = ck_test_timerfds();
	g_assert_cmpuint(timers->len, ==, 0);
	f->scheduler = ck_scheduler_new(ck_test_fired_cb, f);
	g_assert_cmpuint(ck_test_count_fds(), ==, fds_before + 1);
	ck_scheduler_set(f->scheduler, "x", ck_clock_now() - 1);
	ck_scheduler_set(f->scheduler, "y", ck_clock_now() + 1);
	/* the fd closed, the source gone: nothing fires after the unref */
	g_clear_object(&f->scheduler);
	g_assert_cmpuint(ck_test_count_fds(), ==, fds_before);
	ck_test_run_for(f, 1200);
	g_assert_cmpuint(f->fired->len, ==, 0);
}

static void
ck_test_hook_unref(Fixture *f, const gchar *key)
{
	/* the owner drops the scheduler from inside a callback */
	g_clear_object(&f->scheduler);
}

static void
test_scheduler_unref_in_callback(Fixture *f, gconstpointer user_data)
{
	f->hook = ck_test_hook_unref;
	ck_scheduler_set(f->scheduler, "a", ck_clock_now() - 2);
	ck_scheduler_set(f->scheduler, "b", ck_clock_now() - 1);
	ck_test_run_for(f, 200);
	g_assert_null(f->scheduler);
	/* the dispatch in progress may finish, but nothing after it */
	g_assert_cmpuint(f->fired->len, >=, 1);
	g_assert_cmpstr(ck_test_fired(f, 0), ==, "a");
	ck_test_run_for(f, 100);
	g_assert_cmpuint(f->fired->len, <=, 2);
}

static void
ck_test_replan_on_clock_change_cb(CkScheduler *scheduler, gpointer user_data)
{
	/* what an owner does: plan again against the new time */
	ck_scheduler_set(scheduler, "moved", ck_clock_now() - 1);
}

static void
test_scheduler_clock_changed_call(Fixture *f, gconstpointer user_data)
{
	ck_scheduler_set(f->scheduler, "moved", ck_clock_now() + 3600);
	g_signal_connect(f->scheduler, "clock-changed",
			 G_CALLBACK(ck_test_replan_on_clock_change_cb), NULL);
	ck_scheduler_clock_changed(f->scheduler);
	g_assert_cmpuint(f->clock_changed, ==, 1);
	/* the re-plan from the handler arms the timer */
	ck_test_run_until(f, 1, 0, 1000);
	g_assert_cmpuint(f->fired->len, ==, 1);
	g_assert_cmpstr(ck_test_fired(f, 0), ==, "moved");
	g_assert_cmpuint(f->clock_changed, ==, 1);
}

/*
 * Sets CLOCK_REALTIME to the value it has: the clock does not move (but for the
 * few nanoseconds between the two calls), yet the kernel reports a set to every
 * TFD_TIMER_CANCEL_ON_SET timer. FALSE if we may not (no CAP_SYS_TIME).
 */
static gboolean
ck_test_set_clock_to_itself(void)
{
	struct timespec ts;

	g_assert_cmpint(clock_gettime(CLOCK_REALTIME, &ts), ==, 0);
	if (clock_settime(CLOCK_REALTIME, &ts) < 0) {
		int errsv = errno;
		if (errsv == EPERM)
			return FALSE;
		g_error("clock_settime: %s", g_strerror(errsv));
	}
	return TRUE;
}

static void
test_scheduler_clock_changed_kernel(Fixture *f, gconstpointer user_data)
{
	gint64 when = ck_clock_now() + 3600;

	ck_scheduler_set(f->scheduler, "far", when);
	if (!ck_test_set_clock_to_itself()) {
		g_test_skip("setting the clock needs CAP_SYS_TIME");
		return;
	}
	ck_test_run_until(f, 0, 1, 2000);
	g_assert_cmpuint(f->clock_changed, ==, 1);
	/* nothing fired, the plan is still there, the timer re-armed to it */
	g_assert_cmpuint(f->fired->len, ==, 0);
	g_assert_cmpint(ck_scheduler_get(f->scheduler, "far"), ==, when);
	{
		gint64 remaining = 0;
		guint flags = 0;
		ck_test_timer_state(&remaining, &flags);
		g_assert_cmpint(remaining, >=, 3597);
		g_assert_cmpint(remaining, <=, 3600);
	}
	ck_test_run_for(f, 100);
	g_assert_cmpuint(f->clock_changed, ==, 1);

	/* again, this time planning before the loop gets to read the news */
	g_assert_true(ck_test_set_clock_to_itself());
	ck_scheduler_set(f->scheduler, "soon", ck_clock_now() + 1800);
	ck_test_run_until(f, 0, 2, 2000);
	g_assert_cmpuint(f->clock_changed, ==, 2);
	g_assert_cmpuint(f->fired->len, ==, 0);

	/* an idle scheduler hears of it too */
	ck_scheduler_remove(f->scheduler, "far");
	ck_scheduler_remove(f->scheduler, "soon");
	g_assert_true(ck_test_set_clock_to_itself());
	ck_test_run_until(f, 0, 3, 2000);
	g_assert_cmpuint(f->clock_changed, ==, 3);
	ck_test_run_for(f, 100);
	g_assert_cmpuint(f->clock_changed, ==, 3);
	g_assert_cmpuint(f->fired->len, ==, 0);
}

#ifdef CK_FAULT_INJECTION

typedef struct {
	gchar *dir;
	gchar *path;
} OffsetFile;

static void
ck_test_set_offset(OffsetFile *o, gint64 offset)
{
	g_autofree gchar *text = g_strdup_printf("%" G_GINT64_FORMAT, offset);
	g_autoptr(GError) error = NULL;
	g_file_set_contents(o->path, text, -1, &error);
	g_assert_no_error(error);
	ck_clock_reload_offset();
	g_assert_cmpint(ck_clock_get_offset(), ==, offset);
}

static void
test_scheduler_clock_offset(Fixture *f, gconstpointer user_data)
{
	OffsetFile o;
	gint64 when;
	gint64 late;

	o.dir = ck_test_make_tmpdir();
	o.path = g_build_filename(o.dir, "clock-offset", NULL);
	g_setenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE", o.path, TRUE);

	/* a year ahead: plans are in the engine's time, the timer in the host's */
	ck_test_set_offset(&o, 365 * 86400);
	when = ck_clock_now() + 1;
	ck_scheduler_set(f->scheduler, "shifted", when);
	ck_test_run_until(f, 1, 0, 3000);
	g_assert_cmpuint(f->fired->len, ==, 1);
	late = g_array_index(f->fired_ns, gint64, 0) - when * G_GINT64_CONSTANT(1000000000);
	g_assert_cmpint(late, >=, 0);
	g_assert_cmpint(late, <, LATE_NS);

	/* the test moves the clock an hour on: the owner tells the scheduler, due plans fire */
	ck_scheduler_set(f->scheduler, "in-an-hour", ck_clock_now() + 3600);
	ck_test_run_for(f, 100);
	g_assert_cmpuint(f->fired->len, ==, 1);
	ck_test_set_offset(&o, 365 * 86400 + 3600);
	ck_scheduler_clock_changed(f->scheduler);
	g_assert_cmpuint(f->clock_changed, ==, 1);
	ck_test_run_until(f, 2, 0, 3000);
	g_assert_cmpuint(f->fired->len, ==, 2);
	g_assert_cmpstr(ck_test_fired(f, 1), ==, "in-an-hour");

	g_unsetenv("CERTKEEPER_TEST_CLOCK_OFFSET_FILE");
	ck_clock_reload_offset();
	ck_test_rm_rf(o.dir);
	g_free(o.dir);
	g_free(o.path);
}

#endif

#define CK_ADD(path, func)                                                                         \
	g_test_add("/certkeeper/scheduler/" path, Fixture, NULL, fixture_setup, func,              \
		   fixture_teardown)

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	CK_ADD("fires-on-time", test_scheduler_fires_on_time);
	CK_ADD("order", test_scheduler_order);
	CK_ADD("fifo", test_scheduler_fifo);
	CK_ADD("replan", test_scheduler_replan);
	CK_ADD("remove", test_scheduler_remove);
	CK_ADD("set-in-callback", test_scheduler_set_in_callback);
	CK_ADD("no-spin", test_scheduler_no_spin);
	CK_ADD("past-next-iteration", test_scheduler_past_next_iteration);
	CK_ADD("thread-default-context", test_scheduler_thread_default_context);
	CK_ADD("empty", test_scheduler_empty);
	CK_ADD("many", test_scheduler_many);
	CK_ADD("random-against-model", test_scheduler_random_against_model);
	CK_ADD("finalize", test_scheduler_finalize);
	CK_ADD("unref-in-callback", test_scheduler_unref_in_callback);
	CK_ADD("clock-changed/call", test_scheduler_clock_changed_call);
	CK_ADD("clock-changed/kernel", test_scheduler_clock_changed_kernel);
#ifdef CK_FAULT_INJECTION
	CK_ADD("clock-offset", test_scheduler_clock_offset);
#endif
	return g_test_run();
}
