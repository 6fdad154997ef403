/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <sys/types.h>

#include "ck-request.h"

G_BEGIN_DECLS

/*
 * Who may do what: root everything, every other user only what a rule of
 * /etc/certkeeper/policy.d/ (files *.conf) allows it (seed 003's self-service for service
 * accounts). A rule is a group [user NAME] or [group NAME] with:
 *   Subjects=     glob patterns a subject DN must match ("CN=*.example.org")
 *   DNSNames=     glob patterns every DNS name must match ("*.example.org")
 *   IPAddresses=  networks every IP address must be in ("192.0.2.0/24")
 *   Emails=, URIs=, Principals= glob patterns (a SPIFFE ID is a URI: "spiffe://example.org/web/" and a "*")
 *   Directories=  where its certificate, key, chain and other files may be
 *   CAs=          the CAs it may use (default: the configured default CA)
 *   Units=        the systemd units it may have reloaded (default: none)
 *   MaxRequests=  how many requests it may own (default 10)
 *   RateLimit=    issues per time, e.g. 10/1min (the default)
 * Lists are separated by ';'. A request is allowed when one rule that applies
 * to the caller (its user, or one of its groups) allows all of it.
 */
#define CK_TYPE_POLICY ck_policy_get_type()
G_DECLARE_FINAL_TYPE(CkPolicy, ck_policy, CK, POLICY, GObject)

/* Who asks: from the D-Bus caller's credentials, or the daemon itself. */
typedef struct {
	uid_t uid;
	pid_t pid;	   /* 0 if unknown */
	const gchar *unit; /* the caller's systemd unit, NULL if unknown */
} CkCaller;

CkPolicy *
ck_policy_new(const gchar *default_ca);

/*
 * Reads every *.conf in @dir (a missing directory is no rule at all). A file
 * that cannot be parsed, or a malformed value, is reported with the file (and
 * the line GKeyFile names) in @warnings and skipped; the other files apply.
 */
void
ck_policy_load_dir(CkPolicy *self, const gchar *dir, GPtrArray *warnings);

/* The number of rules loaded (for messages and tests). */
guint
ck_policy_get_n_rules(CkPolicy *self);

/*
 * May @caller create @request (a template, its paths absolute)? For a user
 * other than root the request is then made that user's: owner uid, file
 * owners, the hooks' user. @owned is how many requests the caller owns already.
 * CK_ERROR_ACCESS_DENIED names what was refused.
 */
gboolean
ck_policy_authorize_new(CkPolicy *self, const CkCaller *caller, CkRequest *request, guint owned,
			GError **error);

/* May @caller change, renew or remove @request (root, or the request's owner)? */
gboolean
ck_policy_authorize_change(CkPolicy *self, const CkCaller *caller, CkRequest *request,
			   const gchar *action, GError **error);

/*
 * Are the files of @request, a user's, still where the owner's rules let them be?
 * Checked again at every install: a directory the user swapped for a link since
 * it was allowed is refused (CK_ERROR_ACCESS_DENIED). TRUE for root's requests.
 */
gboolean
ck_policy_authorize_paths(CkPolicy *self, CkRequest *request, GError **error);

/*
 * Counts one issue (a new request, a resubmit, a rekey) of @caller at @now and
 * refuses it when the caller's rate limit is used up. Root has none.
 */
gboolean
ck_policy_take_issue(CkPolicy *self, const CkCaller *caller, gint64 now, GError **error);

G_END_DECLS
