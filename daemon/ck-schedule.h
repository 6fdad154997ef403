/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * The arithmetic of "when": durations, renewal thresholds, the renewal time
 * with jitter, and the retry backoff. Pure functions of their arguments (the
 * caller passes "now" and the random numbers), so every rule is tested exactly.
 */

/*
 * Parses a duration: a number and a unit, several allowed ("1h30min"):
 * s, sec, m, min, h, d, w (also "second(s)", "minute(s)", "hour(s)", "day(s)",
 * "week(s)"; units are lower case). A bare number is seconds, but only on its
 * own: "1h30" is refused (30 what?). Parts add up in any order. White space
 * around and between parts is fine. Whole, non-negative numbers only (no sign,
 * no fraction); a total beyond G_MAXINT64 seconds is refused.
 * CK_ERROR_INVALID_ARGUMENT names the text and says what is allowed.
 * @seconds_out is only written on success and may be NULL.
 */
gboolean
ck_duration_parse(const gchar *text, gint64 *seconds_out, GError **error);
/*
 * The exact spelling that ck_duration_parse() reads back, largest units first
 * up to days; weeks only for a whole number of weeks: 2592000 -> "30d",
 * 1209600 -> "2w", 5400 -> "1h30min", 0 -> "0s". @seconds >= 0.
 */
gchar *
ck_duration_to_string(gint64 seconds);

typedef enum {
	CK_THRESHOLD_DEFAULT,  /* 30 days before expiry; 1/3 of the lifetime below 90 days */
	CK_THRESHOLD_DURATION, /* renew when less than @seconds remain */
	CK_THRESHOLD_PERCENT,  /* renew when less than @percent of the lifetime remains */
} CkThresholdKind;

typedef struct {
	CkThresholdKind kind;
	gint64 seconds;
	guint percent; /* 1..99 */
} CkThreshold;

/*
 * "30d", "90min", "33%", or "" / "default" for CK_THRESHOLD_DEFAULT (white space
 * around is fine). A duration must be longer than 0s; a percentage 1..99.
 * @threshold is only written on success.
 */
gboolean
ck_threshold_parse(const gchar *text, CkThreshold *threshold, GError **error);
/* "" for the default, else what ck_threshold_parse() reads back. */
gchar *
ck_threshold_to_string(const CkThreshold *threshold);

/*
 * Seconds before notAfter at which a certificate of this lifetime is renewed
 * (0 for a lifetime <= 0, unless the threshold is a duration).
 */
gint64
ck_threshold_remaining(const CkThreshold *threshold, gint64 lifetime);

/*
 * When to renew a certificate valid from @not_before to @not_after: notAfter
 * minus the threshold's remaining time, made earlier by a jitter of up to
 * min(lifetime / 20, @jitter_cap) that depends only on @jitter_seed (the same
 * seed, the same time: a restart does not re-roll it), so a fleet spreads out.
 * Never before @not_before. A threshold longer than the lifetime gives
 * @not_before (renew as soon as possible), so does @not_after <= @not_before.
 * @jitter_cap <= 0: no jitter.
 */
gint64
ck_schedule_renewal_time(gint64 not_before, gint64 not_after, const CkThreshold *threshold,
			 guint64 jitter_seed, gint64 jitter_cap);

/*
 * ACME renewal information (RFC 9773): a moment in the CA's window [@start, @end)
 * drawn uniformly from @random (any 64-bit value; §4.2), or @start for a window
 * of no length.
 */
gint64
ck_schedule_window_pick(gint64 start, gint64 end, guint64 random);
/*
 * The renewal time for a certificate valid from @not_before to @not_after when the
 * CA's window gave @pick. The window wins over the renewal threshold, earlier or
 * later, because the CA knows why (an incident, its load) and RFC 9773 asks
 * clients to follow it. The one limit: never later than @not_after minus a tenth of
 * the lifetime, so that retries (whose delay shrinks to a tenth of what is left)
 * still have room before expiry: a window that late is a CA's mistake, not a
 * reason for an outage. A @pick in the past means "renew now".
 */
gint64
ck_schedule_window_renewal_time(gint64 pick, gint64 not_before, gint64 not_after);
/* Seconds until the CA is asked again: its Retry-After kept within 1 min .. 1 day (§4.3
 * and the working group's advice), 6 h when it said nothing (@retry_after 0). */
gint64
ck_schedule_window_recheck(gint64 retry_after);

/* A zeroed CkBackoff is the default one: base and cap <= 0 mean their defaults. */
typedef struct {
	gint64 base;	   /* first retry delay, seconds (default 60) */
	gint64 cap;	   /* longest delay, seconds (default 6 h) */
	guint max_attempts; /* give up after this many failures; 0: never */
} CkBackoff;

#define CK_BACKOFF_DEFAULT_BASE 60
#define CK_BACKOFF_DEFAULT_CAP	(6 * 3600)

/*
 * The delay before the retry that follows failure number @failures (1 = the
 * first failure): base * 2^(failures-1), at most cap, at most a tenth of the
 * time left until @not_after (when that is known and still ahead; 0: unknown),
 * never under one second; then spread by @random (any 32-bit value) into
 * [80 %, 100 %] of that (0 gives 80 %, G_MAXUINT32 exactly 100 %), so retries
 * of many requests do not line up. @failures 0 counts as 1. Never overflows.
 */
gint64
ck_schedule_retry_delay(const CkBackoff *backoff, guint failures, gint64 now, gint64 not_after,
			guint32 random);

/* TRUE when @failures reached the backoff's max_attempts (never when it is 0). */
gboolean
ck_schedule_gave_up(const CkBackoff *backoff, guint failures);

/* Where a certificate stands against its expiry (Request1.ExpiryStatus). */
typedef enum {
	CK_EXPIRY_NONE,	    /* no certificate is installed */
	CK_EXPIRY_VALID,    /* more time is left than the warning allows */
	CK_EXPIRY_EXPIRING, /* inside its renewal threshold or the expiry warning */
	CK_EXPIRY_EXPIRED,  /* notAfter has passed */
	CK_EXPIRY_LAST
} CkExpiryStatus;

/* "none", "valid", "expiring", "expired". */
const gchar *
ck_expiry_status_to_string(CkExpiryStatus status);

/*
 * The moment a certificate valid from @not_before to @not_after starts to count
 * as expiring: notAfter minus the longer of the threshold's remaining time and
 * @warn_before seconds (the configured expiry warning, 0 for none), never
 * before @not_before. Unlike the renewal time it has no jitter: every
 * certificate of one lifetime turns "expiring" equally far before its end.
 */
gint64
ck_schedule_expiring_time(gint64 not_before, gint64 not_after, const CkThreshold *threshold,
			  gint64 warn_before);
/*
 * The status at @now of a certificate that expires at @not_after (0: none) and
 * counts as expiring from @expiring_at on; when it changes next, in
 * @next_change (0 when it never will by time alone: none, or expired).
 */
CkExpiryStatus
ck_schedule_expiry_status(gint64 now, gint64 not_after, gint64 expiring_at,
			  gint64 *next_change);

G_END_DECLS
