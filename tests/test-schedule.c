/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The arithmetic of "when": durations, thresholds, renewal time with jitter, retry backoff. */
#include "config.h"

#include <string.h>

#include "ck-error.h"
#include "ck-schedule.h"

#define MINUTE 60
#define HOUR   (60 * MINUTE)
#define DAY    (24 * HOUR)
#define WEEK   (7 * DAY)

/* A fixed, plausible "now" (2026-01-01T00:00:00Z): the functions are pure, no clock needed. */
#define NOW G_GINT64_CONSTANT(1767225600)

static gint64
ck_test_duration(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	gint64 seconds = -1;
	g_assert_true(ck_duration_parse(text, &seconds, &error));
	g_assert_no_error(error);
	return seconds;
}

static void
test_duration_spellings(void)
{
	const struct {
		const gchar *text;
		gint64 seconds;
	} cases[] = {
	    {"0", 0},
	    {"90", 90},
	    {"0s", 0},
	    {"45s", 45},
	    {"45sec", 45},
	    {"1second", 1},
	    {"45seconds", 45},
	    {"5m", 5 * MINUTE},
	    {"90min", 90 * MINUTE},
	    {"1minute", MINUTE},
	    {"5minutes", 5 * MINUTE},
	    {"2h", 2 * HOUR},
	    {"1hour", HOUR},
	    {"3hours", 3 * HOUR},
	    {"30d", 30 * DAY},
	    {"1day", DAY},
	    {"2days", 2 * DAY},
	    {"1w", WEEK},
	    {"1week", WEEK},
	    {"2weeks", 2 * WEEK},
	    /* white space around and between the number and its unit */
	    {"  30d  ", 30 * DAY},
	    {"30 d", 30 * DAY},
	    {"\t2 hours\n", 2 * HOUR},
	    {"007s", 7},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_test_message("%s", cases[i].text);
		g_assert_cmpint(ck_test_duration(cases[i].text), ==, cases[i].seconds);
	}
}

static void
test_duration_combinations(void)
{
	g_assert_cmpint(ck_test_duration("1h30min"), ==, 5400);
	g_assert_cmpint(ck_test_duration("1h 30min"), ==, 5400);
	g_assert_cmpint(ck_test_duration("1d2h3min4s"), ==, DAY + 2 * HOUR + 3 * MINUTE + 4);
	g_assert_cmpint(ck_test_duration("1 day 2 hours 3 minutes 4 seconds"), ==,
			DAY + 2 * HOUR + 3 * MINUTE + 4);
	g_assert_cmpint(ck_test_duration("1w2d"), ==, 9 * DAY);
	g_assert_cmpint(ck_test_duration("2h30m"), ==, 2 * HOUR + 30 * MINUTE);
	/* any order, and a unit twice simply adds up */
	g_assert_cmpint(ck_test_duration("30min 1h"), ==, 5400);
	g_assert_cmpint(ck_test_duration("1h1h"), ==, 2 * HOUR);
	/* the largest value still fits */
	g_assert_cmpint(ck_test_duration("9223372036854775807"), ==, G_MAXINT64);
	g_assert_cmpint(ck_test_duration("106751991167300d15h30min7s"), ==, G_MAXINT64);
}

static void
test_duration_bad(void)
{
	const gchar *bad[] = {
	    "",
	    "   ",
	    "5 parsecs",
	    "-3d",
	    "+3d",
	    "1.5h",
	    "1,5h",
	    "99999999999999999999d",
	    "99999999999999999999",
	    "9223372036854775808",
	    "106751991167300d15h30min8s", /* one second more than fits */
	    "9223372036854775807d",       /* the number fits, the product does not */
	    "d",
	    "min",
	    "1h30", /* 30 what? */
	    "30d x",
	    "1D",
	    "1 h m",
	    "5µs",
	    "1e3s",
	    "0x10s",
	};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		gint64 seconds = 12345;
		g_test_message("'%s'", bad[i]);
		g_assert_false(ck_duration_parse(bad[i], &seconds, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		/* the message names the text, and the output is left alone */
		g_assert_nonnull(strstr(error->message, bad[i]));
		g_assert_cmpint(seconds, ==, 12345);
	}
}

static void
test_duration_message(void)
{
	g_autoptr(GError) error = NULL;
	g_assert_false(ck_duration_parse("5 parsecs", NULL, &error));
	/* says what is allowed */
	g_assert_nonnull(strstr(error->message, "min"));
	g_assert_nonnull(strstr(error->message, "1h30min"));
	/* NULL for "just validate" */
	g_assert_true(ck_duration_parse("5min", NULL, NULL));
}

static void
test_duration_to_string(void)
{
	const struct {
		gint64 seconds;
		const gchar *text;
	} cases[] = {
	    {0, "0s"},           {1, "1s"},
	    {59, "59s"},         {60, "1min"},
	    {61, "1min1s"},      {5400, "1h30min"},
	    {HOUR, "1h"},        {DAY, "1d"},
	    {DAY + 1, "1d1s"},   {WEEK, "1w"},
	    {2 * WEEK, "2w"},    {9 * DAY, "9d"},
	    {2592000, "30d"},    {WEEK + HOUR, "7d1h"},
	    {365 * DAY, "365d"}, {G_MAXINT64, "106751991167300d15h30min7s"},
	};

	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *text = ck_duration_to_string(cases[i].seconds);
		g_assert_cmpstr(text, ==, cases[i].text);
	}
}

static void
test_duration_round_trip(void)
{
	gint64 fixed[] = {0,     1,      59,     60,      3599,     3600,           86399,
			  86400, 604800, 604801, 2592000, 31536000, G_MAXINT64 - 1, G_MAXINT64};

	for (gsize i = 0; i < G_N_ELEMENTS(fixed); i++) {
		g_autofree gchar *text = ck_duration_to_string(fixed[i]);
		g_assert_cmpint(ck_test_duration(text), ==, fixed[i]);
	}
	for (guint i = 0; i < 10000; i++) {
		/* small, medium and huge values alike */
		guint64 r = (guint64)(guint32)g_test_rand_int() << 32 | (guint32)g_test_rand_int();
		gint64 seconds = (gint64)(r >> 1) >> g_test_rand_int_range(0, 63);
		g_autofree gchar *text = ck_duration_to_string(seconds);
		g_assert_cmpint(ck_test_duration(text), ==, seconds);
	}
}

static CkThreshold
ck_test_threshold(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	CkThreshold threshold = {.kind = 42};
	g_assert_true(ck_threshold_parse(text, &threshold, &error));
	g_assert_no_error(error);
	return threshold;
}

static void
test_threshold_parse(void)
{
	CkThreshold t;

	t = ck_test_threshold("");
	g_assert_cmpint(t.kind, ==, CK_THRESHOLD_DEFAULT);
	t = ck_test_threshold("default");
	g_assert_cmpint(t.kind, ==, CK_THRESHOLD_DEFAULT);
	t = ck_test_threshold(" default ");
	g_assert_cmpint(t.kind, ==, CK_THRESHOLD_DEFAULT);
	t = ck_test_threshold("30d");
	g_assert_cmpint(t.kind, ==, CK_THRESHOLD_DURATION);
	g_assert_cmpint(t.seconds, ==, 30 * DAY);
	t = ck_test_threshold("90min");
	g_assert_cmpint(t.kind, ==, CK_THRESHOLD_DURATION);
	g_assert_cmpint(t.seconds, ==, 90 * MINUTE);
	t = ck_test_threshold("1h30min");
	g_assert_cmpint(t.seconds, ==, 5400);
	t = ck_test_threshold("33%");
	g_assert_cmpint(t.kind, ==, CK_THRESHOLD_PERCENT);
	g_assert_cmpuint(t.percent, ==, 33);
	t = ck_test_threshold(" 33 % ");
	g_assert_cmpuint(t.percent, ==, 33);
	t = ck_test_threshold("1%");
	g_assert_cmpuint(t.percent, ==, 1);
	t = ck_test_threshold("99%");
	g_assert_cmpuint(t.percent, ==, 99);
}

static void
test_threshold_bad(void)
{
	const gchar *bad[] = {
	    "0%",        "100%", "101%", "-5%", "+5%",     "%",    "33.3%",
	    "5 parsecs", "-3d",  "0s",   "0",   "Default", "33%%", "99999999999999999999d"};

	for (gsize i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		CkThreshold threshold = {.kind = CK_THRESHOLD_DURATION, .seconds = 7};
		g_test_message("'%s'", bad[i]);
		g_assert_false(ck_threshold_parse(bad[i], &threshold, &error));
		g_assert_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT);
		g_assert_nonnull(strstr(error->message, bad[i]));
		/* untouched on failure */
		g_assert_cmpint(threshold.kind, ==, CK_THRESHOLD_DURATION);
		g_assert_cmpint(threshold.seconds, ==, 7);
	}
}

static void
test_threshold_round_trip(void)
{
	const gchar *texts[] = {"", "30d", "1h30min", "2w", "33%", "1%", "99%", "45s"};

	for (gsize i = 0; i < G_N_ELEMENTS(texts); i++) {
		CkThreshold t = ck_test_threshold(texts[i]);
		g_autofree gchar *text = ck_threshold_to_string(&t);
		CkThreshold back;
		g_assert_cmpstr(text, ==, texts[i]);
		back = ck_test_threshold(text);
		g_assert_cmpint(back.kind, ==, t.kind);
		g_assert_cmpint(back.seconds, ==, t.seconds);
		g_assert_cmpuint(back.percent, ==, t.percent);
	}
	/* other spellings come back in the canonical one */
	{
		CkThreshold t = ck_test_threshold("default");
		g_autofree gchar *text = ck_threshold_to_string(&t);
		g_assert_cmpstr(text, ==, "");
	}
	{
		CkThreshold t = ck_test_threshold("90 minutes");
		g_autofree gchar *text = ck_threshold_to_string(&t);
		g_assert_cmpstr(text, ==, "1h30min");
	}
}

static void
test_threshold_remaining(void)
{
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	CkThreshold pct = {.kind = CK_THRESHOLD_PERCENT, .percent = 33};
	CkThreshold dur = {.kind = CK_THRESHOLD_DURATION, .seconds = 90 * MINUTE};

	/* long-lived: 30 days before expiry */
	g_assert_cmpint(ck_threshold_remaining(&def, 365 * DAY), ==, 30 * DAY);
	g_assert_cmpint(ck_threshold_remaining(&def, 90 * DAY), ==, 30 * DAY);
	/* below 90 days: a third of the lifetime (renew at 2/3 of its life) */
	g_assert_cmpint(ck_threshold_remaining(&def, 60 * DAY), ==, 20 * DAY);
	g_assert_cmpint(ck_threshold_remaining(&def, 89 * DAY), ==, 89 * DAY / 3);
	g_assert_cmpint(ck_threshold_remaining(&def, 90 * DAY - 1), ==, (90 * DAY - 1) / 3);
	g_assert_cmpint(ck_threshold_remaining(&def, HOUR), ==, 20 * MINUTE);
	g_assert_cmpint(ck_threshold_remaining(&def, 0), ==, 0);
	g_assert_cmpint(ck_threshold_remaining(&def, -DAY), ==, 0);
	/* a percentage of the lifetime */
	g_assert_cmpint(ck_threshold_remaining(&pct, 100 * DAY), ==, 33 * DAY);
	g_assert_cmpint(ck_threshold_remaining(&pct, 300), ==, 99);
	g_assert_cmpint(ck_threshold_remaining(&pct, G_MAXINT64), ==,
			G_MAXINT64 / 100 * 33 + G_MAXINT64 % 100 * 33 / 100);
	g_assert_cmpint(ck_threshold_remaining(&pct, 0), ==, 0);
	/* a duration is a duration, whatever the lifetime */
	g_assert_cmpint(ck_threshold_remaining(&dur, 365 * DAY), ==, 90 * MINUTE);
	g_assert_cmpint(ck_threshold_remaining(&dur, HOUR), ==, 90 * MINUTE);
	/* hand-made structs out of range are clamped, not trusted */
	pct.percent = 0;
	g_assert_cmpint(ck_threshold_remaining(&pct, 100 * DAY), ==, DAY);
	pct.percent = 250;
	g_assert_cmpint(ck_threshold_remaining(&pct, 100 * DAY), ==, 99 * DAY);
	dur.seconds = -5;
	g_assert_cmpint(ck_threshold_remaining(&dur, 100 * DAY), ==, 0);
}

static void
test_renewal_time_no_jitter(void)
{
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	CkThreshold pct = ck_test_threshold("33%");
	CkThreshold month = ck_test_threshold("30d");
	gint64 nb = NOW;

	/* cap 0: no jitter at all */
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb + 365 * DAY, &def, 1, 0), ==,
			nb + 335 * DAY);
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb + 60 * DAY, &def, 1, 0), ==, nb + 40 * DAY);
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb + 100 * DAY, &pct, 1, 0), ==,
			nb + 67 * DAY);
	/* a negative cap is no jitter, not a negative one */
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb + 365 * DAY, &def, 1, -DAY), ==,
			nb + 335 * DAY);
	/* a threshold longer than the lifetime: as soon as possible */
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb + HOUR, &month, 1, DAY), ==, nb);
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb + 30 * DAY, &month, 1, DAY), ==, nb);
	/* zero or negative lifetimes */
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb, &def, 1, DAY), ==, nb);
	g_assert_cmpint(ck_schedule_renewal_time(nb, nb - DAY, &def, 1, DAY), ==, nb);
	g_assert_cmpint(ck_schedule_renewal_time(nb, G_MININT64, &def, 1, DAY), ==, nb);
}

static void
test_renewal_time_extremes(void)
{
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	CkThreshold pct = {.kind = CK_THRESHOLD_PERCENT, .percent = 50};
	CkThreshold huge = {.kind = CK_THRESHOLD_DURATION, .seconds = G_MAXINT64};

	/* a lifetime wider than gint64: no overflow, sane answers */
	g_assert_cmpint(ck_schedule_renewal_time(G_MININT64, G_MAXINT64, &def, 7, 0), ==,
			G_MAXINT64 - 30 * DAY);
	{
		gint64 when = ck_schedule_renewal_time(G_MININT64, G_MAXINT64, &pct, 7, G_MAXINT64);
		g_assert_cmpint(when, >, G_MININT64);
		g_assert_cmpint(when, <, G_MAXINT64);
	}
	g_assert_cmpint(ck_schedule_renewal_time(0, G_MAXINT64, &huge, 7, G_MAXINT64), ==, 0);
	g_assert_cmpint(ck_schedule_renewal_time(G_MAXINT64 - 1, G_MAXINT64, &def, 7, G_MAXINT64),
			>=, G_MAXINT64 - 1);
}

static void
test_renewal_time_jitter(void)
{
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	gint64 nb = NOW;
	gint64 na = NOW + 365 * DAY;
	gint64 base = na - 30 * DAY;
	gint64 cap = 7 * DAY; /* below lifetime / 20 (18.25 days): the cap rules */
	gint64 lo = G_MAXINT64;
	gint64 hi = G_MININT64;
	g_autoptr(GHashTable) seen = g_hash_table_new(g_int64_hash, g_int64_equal);
	g_autofree gint64 *values = g_new(gint64, 1000);
	guint buckets[10] = {0};

	for (guint64 seed = 0; seed < 1000; seed++) {
		gint64 when = ck_schedule_renewal_time(nb, na, &def, seed, cap);
		gint64 jitter = base - when;
		g_assert_cmpint(jitter, >=, 0);
		g_assert_cmpint(jitter, <=, cap);
		/* deterministic: the same seed, the same time */
		g_assert_cmpint(ck_schedule_renewal_time(nb, na, &def, seed, cap), ==, when);
		lo = MIN(lo, jitter);
		hi = MAX(hi, jitter);
		buckets[MIN(jitter * 10 / cap, 9)]++;
		values[seed] = when;
		g_hash_table_add(seen, &values[seed]);
	}
	/* different seeds spread out over (nearly) the whole window, evenly */
	g_assert_cmpuint(g_hash_table_size(seen), >=, 990);
	g_assert_cmpint(lo, <, cap / 20);
	g_assert_cmpint(hi, >, cap - cap / 20);
	for (guint i = 0; i < G_N_ELEMENTS(buckets); i++) {
		g_test_message("bucket %u: %u", i, buckets[i]);
		g_assert_cmpuint(buckets[i], >, 50);
		g_assert_cmpuint(buckets[i], <, 150);
	}
	/* neighbouring seeds are not neighbours in time */
	g_assert_cmpint(ABS(values[1] - values[0]) + ABS(values[2] - values[1]), >, HOUR);
}

static void
test_renewal_time_jitter_window(void)
{
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	gint64 nb = NOW;
	gint64 na = NOW + 60 * DAY;
	gint64 base = na - 20 * DAY;
	gint64 window = 60 * DAY / 20; /* a generous cap: lifetime / 20 rules */
	gint64 hi = 0;

	for (guint64 seed = 0; seed < 1000; seed++) {
		gint64 jitter =
		    base - ck_schedule_renewal_time(nb, na, &def, seed * 7919, 365 * DAY);
		g_assert_cmpint(jitter, >=, 0);
		g_assert_cmpint(jitter, <=, window);
		hi = MAX(hi, jitter);
	}
	g_assert_cmpint(hi, >, window - window / 20);
	/* a lifetime under 20 s has no room for jitter */
	for (guint64 seed = 0; seed < 100; seed++)
		g_assert_cmpint(ck_schedule_renewal_time(nb, nb + 19, &def, seed, DAY), ==,
				nb + 19 - 19 / 3);
}

static void
test_renewal_time_not_before(void)
{
	/* renew when less than 99 % remain: 1 % into the life, jitter up to 5 % */
	CkThreshold pct = ck_test_threshold("99%");
	gint64 nb = NOW;
	gint64 na = NOW + 100 * DAY;
	guint clamped = 0;

	for (guint64 seed = 0; seed < 1000; seed++) {
		gint64 when = ck_schedule_renewal_time(nb, na, &pct, seed, DAY * 100);
		g_assert_cmpint(when, >=, nb);
		g_assert_cmpint(when, <=, nb + DAY);
		if (when == nb)
			clamped++;
	}
	/* most seeds want more than the 1 % there is */
	g_assert_cmpuint(clamped, >, 700);
	g_assert_cmpuint(clamped, <, 1000);
}

static void
test_backoff_doubling(void)
{
	CkBackoff backoff = {.base = CK_BACKOFF_DEFAULT_BASE, .cap = CK_BACKOFF_DEFAULT_CAP};
	gint64 expected = 60;

	/* G_MAXUINT32 is the top of the spread: the undispersed delay itself */
	for (guint failures = 1; failures <= 20; failures++) {
		gint64 delay = ck_schedule_retry_delay(&backoff, failures, NOW, 0, G_MAXUINT32);
		g_assert_cmpint(delay, ==, MIN(expected, 6 * HOUR));
		expected *= 2;
	}
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 9, NOW, 0, G_MAXUINT32), ==, 15360);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 10, NOW, 0, G_MAXUINT32), ==, 6 * HOUR);
	/* failure 0 (nothing failed yet) is treated as the first */
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 0, NOW, 0, G_MAXUINT32), ==, 60);
}

static void
test_backoff_defaults(void)
{
	/* a zeroed struct means the defaults */
	CkBackoff zero = {0};
	CkBackoff custom = {.base = 10, .cap = 100};

	g_assert_cmpint(ck_schedule_retry_delay(&zero, 1, NOW, 0, G_MAXUINT32), ==,
			CK_BACKOFF_DEFAULT_BASE);
	g_assert_cmpint(ck_schedule_retry_delay(&zero, 50, NOW, 0, G_MAXUINT32), ==,
			CK_BACKOFF_DEFAULT_CAP);
	g_assert_cmpint(ck_schedule_retry_delay(&custom, 1, NOW, 0, G_MAXUINT32), ==, 10);
	g_assert_cmpint(ck_schedule_retry_delay(&custom, 4, NOW, 0, G_MAXUINT32), ==, 80);
	g_assert_cmpint(ck_schedule_retry_delay(&custom, 5, NOW, 0, G_MAXUINT32), ==, 100);
	/* a cap below the base wins */
	custom.cap = 5;
	g_assert_cmpint(ck_schedule_retry_delay(&custom, 1, NOW, 0, G_MAXUINT32), ==, 5);
}

static void
test_backoff_tenth_of_remaining(void)
{
	CkBackoff backoff = {0};
	gint64 previous = G_MAXINT64;

	/* an hour left: never more than 6 minutes */
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, NOW + HOUR, G_MAXUINT32), ==, 60);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 3, NOW, NOW + HOUR, G_MAXUINT32), ==,
			240);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 4, NOW, NOW + HOUR, G_MAXUINT32), ==,
			360);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 30, NOW, NOW + HOUR, G_MAXUINT32), ==,
			360);
	/* far from expiry the rule does not bite */
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 30, NOW, NOW + 365 * DAY, G_MAXUINT32),
			==, 6 * HOUR);
	/* the delay shrinks as expiry nears, down to one second */
	for (gint64 left = 30 * DAY; left > 0; left = left * 2 / 3) {
		gint64 delay = ck_schedule_retry_delay(&backoff, 30, NOW, NOW + left, G_MAXUINT32);
		g_assert_cmpint(delay, <=, previous);
		g_assert_cmpint(delay, <=, MAX(left / 10, 1));
		g_assert_cmpint(delay, >=, 1);
		previous = delay;
	}
	g_assert_cmpint(previous, ==, 1);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, NOW + 5, G_MAXUINT32), ==, 1);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, NOW + 5, 0), ==, 1);
}

static void
test_backoff_expired(void)
{
	CkBackoff backoff = {0};

	/* already expired: the rule has nothing to scale to; plain backoff, never 0 */
	for (guint failures = 1; failures < 40; failures++) {
		for (guint32 r = 0; r < 4; r++) {
			guint32 random = r * (G_MAXUINT32 / 3);
			g_assert_cmpint(
			    ck_schedule_retry_delay(&backoff, failures, NOW, NOW - DAY, random), >=,
			    1);
			g_assert_cmpint(
			    ck_schedule_retry_delay(&backoff, failures, NOW, NOW, random), >=, 1);
		}
	}
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, NOW - DAY, G_MAXUINT32), ==, 60);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, NOW, G_MAXUINT32), ==, 60);
	/* even a base of 1 s and the lowest random value */
	backoff.base = 1;
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, NOW - 1, 0), ==, 1);
}

static void
test_backoff_random(void)
{
	CkBackoff backoff = {0};
	gint64 lo = G_MAXINT64;
	gint64 hi = 0;

	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, 0, 0), ==, 48);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 1, NOW, 0, G_MAXUINT32 / 2 + 1), ==, 54);
	g_assert_cmpint(ck_schedule_retry_delay(&backoff, 10, NOW, 0, 0), ==, 6 * HOUR * 4 / 5);
	for (guint i = 0; i < 10000; i++) {
		guint32 random = (guint32)g_test_rand_int();
		gint64 delay = ck_schedule_retry_delay(&backoff, 10, NOW, 0, random);
		g_assert_cmpint(delay, >=, 6 * HOUR * 4 / 5);
		g_assert_cmpint(delay, <=, 6 * HOUR);
		lo = MIN(lo, delay);
		hi = MAX(hi, delay);
	}
	/* and it does spread */
	g_assert_cmpint(hi - lo, >, HOUR);
}

static void
test_backoff_huge(void)
{
	CkBackoff backoff = {0};
	CkBackoff wide = {.base = 1, .cap = G_MAXINT64};
	guint counts[] = {31, 32, 33, 62, 63, 64, 65, 127, 128, 1000, G_MAXUINT - 1, G_MAXUINT};

	for (gsize i = 0; i < G_N_ELEMENTS(counts); i++) {
		g_assert_cmpint(ck_schedule_retry_delay(&backoff, counts[i], NOW, 0, G_MAXUINT32),
				==, 6 * HOUR);
		g_assert_cmpint(ck_schedule_retry_delay(&backoff, counts[i], NOW, 0, 0), ==,
				6 * HOUR * 4 / 5);
	}
	/* doubling right up to the top bit, and an uncapped delay spread without overflow */
	g_assert_cmpint(ck_schedule_retry_delay(&wide, 63, NOW, 0, G_MAXUINT32), ==,
			G_GINT64_CONSTANT(1) << 62);
	g_assert_cmpint(ck_schedule_retry_delay(&wide, 64, NOW, 0, G_MAXUINT32), ==, G_MAXINT64);
	g_assert_cmpint(ck_schedule_retry_delay(&wide, G_MAXUINT, NOW, 0, G_MAXUINT32), ==,
			G_MAXINT64);
	g_assert_cmpint(ck_schedule_retry_delay(&wide, G_MAXUINT, NOW, 0, 0), ==,
			G_MAXINT64 - G_MAXINT64 / 5);
	{
		gint64 delay = ck_schedule_retry_delay(&wide, G_MAXUINT, NOW, 0, G_MAXUINT32 / 3);
		g_assert_cmpint(delay, >=, G_MAXINT64 - G_MAXINT64 / 5);
		g_assert_cmpint(delay, <=, G_MAXINT64);
	}
	/* time left wider than gint64 */
	g_assert_cmpint(ck_schedule_retry_delay(&wide, 64, G_MININT64, G_MAXINT64, G_MAXUINT32), ==,
			G_MAXINT64 / 10);
}

static void
test_backoff_gave_up(void)
{
	CkBackoff never = {0};
	CkBackoff three = {.max_attempts = 3};

	g_assert_false(ck_schedule_gave_up(&never, 0));
	g_assert_false(ck_schedule_gave_up(&never, 1000));
	g_assert_false(ck_schedule_gave_up(&never, G_MAXUINT));
	g_assert_false(ck_schedule_gave_up(&three, 0));
	g_assert_false(ck_schedule_gave_up(&three, 2));
	g_assert_true(ck_schedule_gave_up(&three, 3));
	g_assert_true(ck_schedule_gave_up(&three, 4));
	g_assert_true(ck_schedule_gave_up(&three, G_MAXUINT));
}


/* RFC 9773 windows: a uniform pick inside [start, end), the window over the threshold */
static void
test_window_pick(void)
{
	const gint64 start = 1700000000, end = start + 3600;
	gboolean low = FALSE, high = FALSE;

	g_assert_cmpint(ck_schedule_window_pick(start, end, 0), ==, start);
	g_assert_cmpint(ck_schedule_window_pick(start, end, 3599), ==, end - 1);
	g_assert_cmpint(ck_schedule_window_pick(start, end, 3600), ==, start);
	g_assert_cmpint(ck_schedule_window_pick(start, end, G_MAXUINT64), ==,
			start + (gint64)(G_MAXUINT64 % 3600));
	/* a window of no length (or upside down) is its start */
	g_assert_cmpint(ck_schedule_window_pick(start, start, 12345), ==, start);
	g_assert_cmpint(ck_schedule_window_pick(end, start, 12345), ==, end);
	/* never the end itself, and both halves are reached */
	for (guint i = 0; i < 1000; i++) {
		guint64 r = ((guint64)g_random_int() << 32) | g_random_int();
		gint64 pick = ck_schedule_window_pick(start, end, r);
		g_assert_cmpint(pick, >=, start);
		g_assert_cmpint(pick, <, end);
		low |= pick < start + 1800;
		high |= pick >= start + 1800;
	}
	g_assert_true(low && high);
}

static void
test_window_renewal_time(void)
{
	const gint64 nb = 1700000000, na = nb + 90 * DAY;

	/* earlier than the threshold (day 60) and later than it: the window wins */
	g_assert_cmpint(ck_schedule_window_renewal_time(nb + 10 * DAY, nb, na), ==, nb + 10 * DAY);
	g_assert_cmpint(ck_schedule_window_renewal_time(nb + 75 * DAY, nb, na), ==, nb + 75 * DAY);
	/* in the past: renew now */
	g_assert_cmpint(ck_schedule_window_renewal_time(nb - DAY, nb, na), ==, nb - DAY);
	/* but never in the last tenth of the lifetime, and never after expiry */
	g_assert_cmpint(ck_schedule_window_renewal_time(nb + 85 * DAY, nb, na), ==, nb + 81 * DAY);
	g_assert_cmpint(ck_schedule_window_renewal_time(na + DAY, nb, na), ==, nb + 81 * DAY);
	g_assert_cmpint(ck_schedule_window_renewal_time(na + DAY, na, na), ==, na);
}

static void
test_expiring_time(void)
{
	const gint64 nb = 1700000000, na = nb + 90 * DAY;
	CkThreshold def = {.kind = CK_THRESHOLD_DEFAULT};
	CkThreshold ten = {.kind = CK_THRESHOLD_DURATION, .seconds = 10 * DAY};
	CkThreshold half = {.kind = CK_THRESHOLD_PERCENT, .percent = 50};

	/* the threshold alone, without jitter */
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &def, 0), ==, na - 30 * DAY);
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &ten, 0), ==, na - 10 * DAY);
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &half, 0), ==, nb + 45 * DAY);
	/* the warning wins when it is longer, not when it is shorter */
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &ten, 14 * DAY), ==, na - 14 * DAY);
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &def, 14 * DAY), ==, na - 30 * DAY);
	/* longer than the lifetime: expiring from the start */
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &ten, 365 * DAY), ==, nb);
	g_assert_cmpint(ck_schedule_expiring_time(nb, na, &def, G_MAXINT64), ==, nb);
	/* a short lifetime: a third of it */
	g_assert_cmpint(ck_schedule_expiring_time(nb, nb + 3 * DAY, &def, 0), ==, nb + 2 * DAY);
}

static void
test_expiry_status(void)
{
	const gint64 at = 1700000000, na = at + 10 * DAY;
	gint64 next = -1;

	g_assert_cmpint(ck_schedule_expiry_status(at, 0, 0, &next), ==, CK_EXPIRY_NONE);
	g_assert_cmpint(next, ==, 0);
	/* valid until the expiring moment, which is the next change */
	g_assert_cmpint(ck_schedule_expiry_status(at - 1, na, at, &next), ==, CK_EXPIRY_VALID);
	g_assert_cmpint(next, ==, at);
	/* expiring from that moment on, until notAfter */
	g_assert_cmpint(ck_schedule_expiry_status(at, na, at, &next), ==, CK_EXPIRY_EXPIRING);
	g_assert_cmpint(next, ==, na);
	g_assert_cmpint(ck_schedule_expiry_status(na - 1, na, at, &next), ==,
			CK_EXPIRY_EXPIRING);
	/* expired at notAfter: nothing changes after that by itself */
	g_assert_cmpint(ck_schedule_expiry_status(na, na, at, &next), ==, CK_EXPIRY_EXPIRED);
	g_assert_cmpint(next, ==, 0);
	g_assert_cmpint(ck_schedule_expiry_status(na + DAY, na, at, NULL), ==, CK_EXPIRY_EXPIRED);

	g_assert_cmpstr(ck_expiry_status_to_string(CK_EXPIRY_NONE), ==, "none");
	g_assert_cmpstr(ck_expiry_status_to_string(CK_EXPIRY_VALID), ==, "valid");
	g_assert_cmpstr(ck_expiry_status_to_string(CK_EXPIRY_EXPIRING), ==, "expiring");
	g_assert_cmpstr(ck_expiry_status_to_string(CK_EXPIRY_EXPIRED), ==, "expired");
}

static void
test_window_recheck(void)
{
	/* §4.3: 6 h without a Retry-After; the working group's 1 min .. 1 day limits */
	g_assert_cmpint(ck_schedule_window_recheck(0), ==, 6 * 3600);
	g_assert_cmpint(ck_schedule_window_recheck(-5), ==, 6 * 3600);
	g_assert_cmpint(ck_schedule_window_recheck(1), ==, 60);
	g_assert_cmpint(ck_schedule_window_recheck(3600), ==, 3600);
	g_assert_cmpint(ck_schedule_window_recheck(7 * DAY), ==, DAY);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/schedule/duration/spellings", test_duration_spellings);
	g_test_add_func("/certkeeper/schedule/duration/combinations", test_duration_combinations);
	g_test_add_func("/certkeeper/schedule/duration/bad", test_duration_bad);
	g_test_add_func("/certkeeper/schedule/duration/message", test_duration_message);
	g_test_add_func("/certkeeper/schedule/duration/to-string", test_duration_to_string);
	g_test_add_func("/certkeeper/schedule/duration/round-trip", test_duration_round_trip);
	g_test_add_func("/certkeeper/schedule/threshold/parse", test_threshold_parse);
	g_test_add_func("/certkeeper/schedule/threshold/bad", test_threshold_bad);
	g_test_add_func("/certkeeper/schedule/threshold/round-trip", test_threshold_round_trip);
	g_test_add_func("/certkeeper/schedule/threshold/remaining", test_threshold_remaining);
	g_test_add_func("/certkeeper/schedule/renewal/no-jitter", test_renewal_time_no_jitter);
	g_test_add_func("/certkeeper/schedule/renewal/extremes", test_renewal_time_extremes);
	g_test_add_func("/certkeeper/schedule/renewal/jitter", test_renewal_time_jitter);
	g_test_add_func("/certkeeper/schedule/renewal/jitter-window",
			test_renewal_time_jitter_window);
	g_test_add_func("/certkeeper/schedule/renewal/not-before", test_renewal_time_not_before);
	g_test_add_func("/certkeeper/schedule/backoff/doubling", test_backoff_doubling);
	g_test_add_func("/certkeeper/schedule/backoff/defaults", test_backoff_defaults);
	g_test_add_func("/certkeeper/schedule/backoff/tenth-of-remaining",
			test_backoff_tenth_of_remaining);
	g_test_add_func("/certkeeper/schedule/backoff/expired", test_backoff_expired);
	g_test_add_func("/certkeeper/schedule/backoff/random", test_backoff_random);
	g_test_add_func("/certkeeper/schedule/backoff/huge", test_backoff_huge);
	g_test_add_func("/certkeeper/schedule/backoff/gave-up", test_backoff_gave_up);
	g_test_add_func("/certkeeper/schedule/window/pick", test_window_pick);
	g_test_add_func("/certkeeper/schedule/window/renewal-time", test_window_renewal_time);
	g_test_add_func("/certkeeper/schedule/window/recheck", test_window_recheck);
	g_test_add_func("/certkeeper/schedule/expiry/expiring-time", test_expiring_time);
	g_test_add_func("/certkeeper/schedule/expiry/status", test_expiry_status);
	return g_test_run();
}
