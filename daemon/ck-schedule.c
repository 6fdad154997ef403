/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-error.h"
#include "ck-schedule.h"

#define CK_MINUTE 60
#define CK_HOUR   (60 * CK_MINUTE)
#define CK_DAY    (24 * CK_HOUR)
#define CK_WEEK   (7 * CK_DAY)

/* Below this lifetime the default threshold is a third of it, not 30 days. */
#define CK_THRESHOLD_SHORT_LIFETIME (90 * CK_DAY)
#define CK_THRESHOLD_DEFAULT_BEFORE (30 * CK_DAY)

typedef struct {
	const gchar *name;
	gint64 seconds;
} CkDurationUnit;

/* Every spelling ck_duration_parse() accepts; matched whole, so "m" never eats "min". */
static const CkDurationUnit ck_duration_units[] = {
    {"s", 1},           {"sec", 1},         {"second", 1},         {"seconds", 1},
    {"m", CK_MINUTE},   {"min", CK_MINUTE}, {"minute", CK_MINUTE}, {"minutes", CK_MINUTE},
    {"h", CK_HOUR},     {"hour", CK_HOUR},  {"hours", CK_HOUR},    {"d", CK_DAY},
    {"day", CK_DAY},    {"days", CK_DAY},   {"w", CK_WEEK},        {"week", CK_WEEK},
    {"weeks", CK_WEEK},
};

static gboolean
ck_duration_set_error(GError **error, const gchar *text)
{
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    /* TRANSLATORS: %s is what the user wrote; keep the unit names untranslated */
		    _("Invalid duration “%s”: use whole numbers with a unit (s, min, h, d, w), "
		      "e.g. “30d” or “1h30min”"),
		    text);
	return FALSE;
}

static gboolean
ck_duration_set_error_too_long(GError **error, const gchar *text)
{
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    /* TRANSLATORS: %s is what the user wrote */
		    _("Invalid duration “%s”: too long"), text);
	return FALSE;
}

static const CkDurationUnit *
ck_duration_lookup_unit(const gchar *name, gsize len)
{
	for (gsize i = 0; i < G_N_ELEMENTS(ck_duration_units); i++) {
		if (strlen(ck_duration_units[i].name) == len &&
		    memcmp(ck_duration_units[i].name, name, len) == 0)
			return &ck_duration_units[i];
	}
	return NULL;
}

gboolean
ck_duration_parse(const gchar *text, gint64 *seconds_out, GError **error)
{
	const gchar *p = text;
	gint64 total = 0;
	guint parts = 0;

	g_return_val_if_fail(text != NULL, FALSE);

	while (TRUE) {
		guint64 number = 0;
		const gchar *unit_start;
		const CkDurationUnit *unit;
		gboolean too_long = FALSE;

		while (g_ascii_isspace(*p))
			p++;
		if (*p == '\0')
			break;
		/* digits only: no sign, no fraction, no exponent */
		if (!g_ascii_isdigit(*p))
			return ck_duration_set_error(error, text);
		for (; g_ascii_isdigit(*p); p++) {
			guint digit = (guint)(*p - '0');
			/* keep scanning after an overflow so "1.5h" still reads as malformed */
			if (number > ((guint64)G_MAXINT64 - digit) / 10)
				too_long = TRUE;
			else
				number = number * 10 + digit;
		}
		while (g_ascii_isspace(*p))
			p++;
		unit_start = p;
		while (g_ascii_isalpha(*p))
			p++;
		if (p == unit_start) {
			/*
			 * A bare number means seconds only when it is all there is: in
			 * "1h30" the 30 could just as well mean minutes, so say so.
			 */
			if (*p != '\0' || parts > 0)
				return ck_duration_set_error(error, text);
			unit = &ck_duration_units[0];
		} else {
			unit = ck_duration_lookup_unit(unit_start, (gsize)(p - unit_start));
			if (unit == NULL)
				return ck_duration_set_error(error, text);
		}
		if (too_long || number > (guint64)(G_MAXINT64 / unit->seconds) ||
		    (gint64)number * unit->seconds > G_MAXINT64 - total)
			return ck_duration_set_error_too_long(error, text);
		total += (gint64)number * unit->seconds;
		parts++;
	}
	if (parts == 0)
		return ck_duration_set_error(error, text);
	if (seconds_out != NULL)
		*seconds_out = total;
	return TRUE;
}

gchar *
ck_duration_to_string(gint64 seconds)
{
	static const CkDurationUnit units[] = {
	    {"d", CK_DAY},
	    {"h", CK_HOUR},
	    {"min", CK_MINUTE},
	    {"s", 1},
	};
	GString *s;

	g_return_val_if_fail(seconds >= 0, g_strdup("0s"));

	if (seconds == 0)
		return g_strdup("0s");
	/* weeks only when they are exact: "30d" reads better than "4w2d" */
	if (seconds % CK_WEEK == 0)
		return g_strdup_printf("%" G_GINT64_FORMAT "w", seconds / CK_WEEK);
	s = g_string_new(NULL);
	for (gsize i = 0; i < G_N_ELEMENTS(units); i++) {
		gint64 n = seconds / units[i].seconds;
		if (n == 0)
			continue;
		g_string_append_printf(s, "%" G_GINT64_FORMAT "%s", n, units[i].name);
		seconds -= n * units[i].seconds;
	}
	return g_string_free(s, FALSE);
}

gboolean
ck_threshold_parse(const gchar *text, CkThreshold *threshold, GError **error)
{
	g_autofree gchar *stripped = NULL;
	gsize len;

	g_return_val_if_fail(text != NULL, FALSE);
	g_return_val_if_fail(threshold != NULL, FALSE);

	stripped = g_strstrip(g_strdup(text));
	len = strlen(stripped);
	if (len == 0 || g_strcmp0(stripped, "default") == 0) {
		*threshold = (CkThreshold){.kind = CK_THRESHOLD_DEFAULT};
		return TRUE;
	}
	if (stripped[len - 1] == '%') {
		guint64 percent = 0;
		stripped[len - 1] = '\0';
		g_strchomp(stripped);
		/* g_ascii_string_to_unsigned() would take a leading sign or space; we do not */
		if (!g_ascii_isdigit(stripped[0]) ||
		    !g_ascii_string_to_unsigned(stripped, 10, 1, 99, &percent, NULL)) {
			g_set_error(
			    error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: %s is what the user wrote */
			    _("Invalid renewal threshold “%s”: a percentage must be a whole "
			      "number from 1%% to 99%%"),
			    text);
			return FALSE;
		}
		*threshold = (CkThreshold){.kind = CK_THRESHOLD_PERCENT, .percent = (guint)percent};
		return TRUE;
	}
	{
		gint64 seconds = 0;
		if (!ck_duration_parse(stripped, &seconds, NULL)) {
			g_set_error(
			    error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: %s is what the user wrote; keep “default” and
			       the unit names untranslated */
			    _("Invalid renewal threshold “%s”: use a duration (“30d”, "
			      "“90min”), a percentage of the lifetime (“33%%”) or “default”"),
			    text);
			return FALSE;
		}
		/* renewing when nothing remains means renewing an expired certificate */
		if (seconds == 0) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    /* TRANSLATORS: %s is what the user wrote */
				    _("Invalid renewal threshold “%s”: it must be longer than 0s"),
				    text);
			return FALSE;
		}
		*threshold = (CkThreshold){.kind = CK_THRESHOLD_DURATION, .seconds = seconds};
	}
	return TRUE;
}

gchar *
ck_threshold_to_string(const CkThreshold *threshold)
{
	g_return_val_if_fail(threshold != NULL, g_strdup(""));

	switch (threshold->kind) {
	case CK_THRESHOLD_DURATION:
		return ck_duration_to_string(MAX(threshold->seconds, 0));
	case CK_THRESHOLD_PERCENT:
		return g_strdup_printf("%u%%", CLAMP(threshold->percent, 1, 99));
	case CK_THRESHOLD_DEFAULT:
	default:
		return g_strdup("");
	}
}

/* @value * @percent / 100 without the product overflowing (0 <= @value, @percent <= 100). */
static gint64
ck_schedule_percent_of(gint64 value, guint percent)
{
	return value / 100 * percent + value % 100 * percent / 100;
}

gint64
ck_threshold_remaining(const CkThreshold *threshold, gint64 lifetime)
{
	g_return_val_if_fail(threshold != NULL, 0);

	if (threshold->kind == CK_THRESHOLD_DURATION)
		return MAX(threshold->seconds, 0);
	if (lifetime <= 0)
		return 0;
	if (threshold->kind == CK_THRESHOLD_PERCENT)
		/* a hand-made struct may hold anything; parsed ones hold 1..99 */
		return ck_schedule_percent_of(lifetime, CLAMP(threshold->percent, 1, 99));
	if (lifetime < CK_THRESHOLD_SHORT_LIFETIME)
		return lifetime / 3;
	return CK_THRESHOLD_DEFAULT_BEFORE;
}

/*
 * splitmix64's output function: neighbouring seeds (request ids hashed to
 * consecutive numbers, say) give unrelated values, so jitter does not cluster.
 */
static guint64
ck_schedule_mix(guint64 x)
{
	x += G_GUINT64_CONSTANT(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * G_GUINT64_CONSTANT(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * G_GUINT64_CONSTANT(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

gint64
ck_schedule_renewal_time(gint64 not_before, gint64 not_after, const CkThreshold *threshold,
			 guint64 jitter_seed, gint64 jitter_cap)
{
	gint64 lifetime;
	gint64 remaining;
	gint64 window;
	gint64 jitter = 0;
	gint64 when;

	g_return_val_if_fail(threshold != NULL, not_before);

	if (not_after <= not_before)
		return not_before;
	/* not_after - not_before can exceed G_MAXINT64 when not_before is far negative */
	if (not_before < 0 && not_after > G_MAXINT64 + not_before)
		lifetime = G_MAXINT64;
	else
		lifetime = not_after - not_before;
	remaining = ck_threshold_remaining(threshold, lifetime);
	if (remaining >= lifetime)
		return not_before;
	when = not_after - remaining;
	window = MIN(lifetime / 20, MAX(jitter_cap, 0));
	if (window > 0)
		jitter = (gint64)(ck_schedule_mix(jitter_seed) % ((guint64)window + 1));
	/*
	 * jitter <= lifetime / 20, so not_before + jitter stays below not_after;
	 * when - not_before could wrap for a lifetime wider than gint64
	 */
	if (when < not_before + jitter)
		return not_before;
	return when - jitter;
}

gint64
ck_schedule_window_pick(gint64 start, gint64 end, guint64 random)
{
	guint64 width;

	if (end <= start)
		return start;
	width = (guint64)end - (guint64)start;
	/* the modulo bias is below 2^-32 for any window shorter than 136 years */
	return (gint64)((guint64)start + random % width);
}

gint64
ck_schedule_window_renewal_time(gint64 pick, gint64 not_before, gint64 not_after)
{
	gint64 latest;

	if (not_after <= not_before)
		return MIN(pick, not_after);
	latest = not_after - (not_after - not_before) / 10;
	return MIN(pick, latest);
}

gint64
ck_schedule_window_recheck(gint64 retry_after)
{
	if (retry_after <= 0)
		return 6 * CK_HOUR;
	return CLAMP(retry_after, CK_MINUTE, CK_DAY);
}

/*
 * @value * @random / G_MAXUINT32, rounded down, for 0 <= @value, without the
 * 96-bit product: 0 maps to 0 and G_MAXUINT32 to @value exactly.
 */
static gint64
ck_schedule_scale32(gint64 value, guint32 random)
{
	guint64 q = (guint64)value / G_MAXUINT32;
	guint64 r = (guint64)value % G_MAXUINT32;
	return (gint64)(q * random + r * random / G_MAXUINT32);
}

gint64
ck_schedule_retry_delay(const CkBackoff *backoff, guint failures, gint64 now, gint64 not_after,
			guint32 random)
{
	gint64 base;
	gint64 cap;
	gint64 delay;
	gint64 floor80;
	guint doublings;

	g_return_val_if_fail(backoff != NULL, CK_BACKOFF_DEFAULT_BASE);

	/* a zeroed CkBackoff means the defaults */
	base = backoff->base > 0 ? backoff->base : CK_BACKOFF_DEFAULT_BASE;
	cap = backoff->cap > 0 ? backoff->cap : CK_BACKOFF_DEFAULT_CAP;
	doublings = failures > 0 ? failures - 1 : 0;
	/* base << doublings without shifting past 63 bits or overflowing */
	if (doublings >= 63 || base > (cap >> doublings))
		delay = cap;
	else
		delay = MIN(base << doublings, cap);
	/* a tenth of what is left: near expiry, retry often enough to make it in time */
	if (not_after != 0 && not_after > now) {
		gint64 left;
		if (now < 0 && not_after > G_MAXINT64 + now)
			left = G_MAXINT64;
		else
			left = not_after - now;
		delay = MIN(delay, left / 10);
	}
	delay = MAX(delay, 1);
	/* spread into [80 %, 100 %] so the retries of many requests do not line up */
	floor80 = delay - delay / 5;
	return MAX(floor80 + ck_schedule_scale32(delay - floor80, random), 1);
}

gboolean
ck_schedule_gave_up(const CkBackoff *backoff, guint failures)
{
	g_return_val_if_fail(backoff != NULL, FALSE);
	return backoff->max_attempts != 0 && failures >= backoff->max_attempts;
}

const gchar *
ck_expiry_status_to_string(CkExpiryStatus status)
{
	static const gchar *const names[] = {"none", "valid", "expiring", "expired"};
	g_return_val_if_fail((guint)status < CK_EXPIRY_LAST, "none");
	return names[status];
}

gint64
ck_schedule_expiring_time(gint64 not_before, gint64 not_after, const CkThreshold *threshold,
			  gint64 warn_before)
{
	gint64 lifetime, before;

	g_return_val_if_fail(threshold != NULL, not_after);
	lifetime = not_after > not_before ? not_after - not_before : 0;
	before = MAX(ck_threshold_remaining(threshold, lifetime), MAX(warn_before, 0));
	/* not_after > 0 and before >= 0 (callers pass a certificate's times): no overflow */
	return MAX(not_after - before, MIN(not_before, not_after));
}

CkExpiryStatus
ck_schedule_expiry_status(gint64 now, gint64 not_after, gint64 expiring_at, gint64 *next_change)
{
	gint64 next = 0;
	CkExpiryStatus status;

	if (not_after <= 0) {
		status = CK_EXPIRY_NONE;
	} else if (now >= not_after) {
		status = CK_EXPIRY_EXPIRED;
	} else if (now >= expiring_at) {
		status = CK_EXPIRY_EXPIRING;
		next = not_after;
	} else {
		status = CK_EXPIRY_VALID;
		next = expiring_at;
	}
	if (next_change != NULL)
		*next_change = next;
	return status;
}
