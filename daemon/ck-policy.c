/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glib/gi18n.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ck-error.h"
#include "ck-policy.h"
#include "ck-schedule.h"

#define CK_POLICY_DEFAULT_MAX_REQUESTS 10
#define CK_POLICY_DEFAULT_RATE_COUNT   10
#define CK_POLICY_DEFAULT_RATE_WINDOW  60

typedef struct {
	int family;
	guint8 bytes[16];
	guint prefix;
} CkNetwork;

typedef struct {
	gchar *source; /* "FILE [user NAME]", for messages */
	gboolean is_group;
	gchar *name;
	GStrv subjects;
	GStrv dns_names;
	GStrv emails;
	GStrv uris;
	GStrv principals;
	GStrv directories;
	GStrv cas;
	GStrv units;
	GArray *networks; /* CkNetwork */
	guint max_requests;
	guint rate_count;
	gint64 rate_window;
} CkPolicyRule;

struct _CkPolicy {
	GObject parent_instance;
	gchar *default_ca;
	GPtrArray *rules;     /* CkPolicyRule */
	GHashTable *issues;   /* uid -> GArray of gint64: recent issue times */
};

G_DEFINE_TYPE(CkPolicy, ck_policy, G_TYPE_OBJECT)

static void
ck_policy_rule_free(CkPolicyRule *rule)
{
	g_free(rule->source);
	g_free(rule->name);
	g_strfreev(rule->subjects);
	g_strfreev(rule->dns_names);
	g_strfreev(rule->emails);
	g_strfreev(rule->uris);
	g_strfreev(rule->principals);
	g_strfreev(rule->directories);
	g_strfreev(rule->cas);
	g_strfreev(rule->units);
	g_array_unref(rule->networks);
	g_free(rule);
}

CkPolicy *
ck_policy_new(const gchar *default_ca)
{
	CkPolicy *self = g_object_new(CK_TYPE_POLICY, NULL);
	self->default_ca = g_strdup(default_ca);
	return self;
}

guint
ck_policy_get_n_rules(CkPolicy *self)
{
	return self->rules->len;
}

/* Parsing */

static gboolean
ck_policy_parse_network(const gchar *text, CkNetwork *net)
{
	g_autofree gchar *addr = g_strdup(text);
	gchar *slash = strchr(addr, '/');
	guint max;
	guint64 prefix;

	if (slash != NULL)
		*slash = '\0';
	memset(net, 0, sizeof(*net));
	if (inet_pton(AF_INET, addr, net->bytes) == 1) {
		net->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, net->bytes) == 1) {
		net->family = AF_INET6;
		max = 128;
	} else {
		return FALSE;
	}
	net->prefix = max;
	if (slash != NULL) {
		if (!g_ascii_string_to_unsigned(slash + 1, 10, 0, max, &prefix, NULL))
			return FALSE;
		net->prefix = (guint)prefix;
	}
	return TRUE;
}

static GStrv
ck_policy_get_list(GKeyFile *kf, const gchar *group, const gchar *key)
{
	g_auto(GStrv) raw = g_key_file_get_string_list(kf, group, key, NULL, NULL);
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	for (guint i = 0; raw != NULL && raw[i] != NULL; i++) {
		g_strstrip(raw[i]);
		if (raw[i][0] != '\0')
			g_strv_builder_add(builder, raw[i]);
	}
	return g_strv_builder_end(builder);
}

static const gchar *const ck_policy_keys[] = {
    "Subjects", "DNSNames", "IPAddresses", "Emails",	   "URIs",	"Principals",
    "Directories", "CAs",   "Units",	   "MaxRequests", "RateLimit", NULL};

/* "10/1min": a count and a window. */
static gboolean
ck_policy_parse_rate(const gchar *text, guint *count, gint64 *window)
{
	g_auto(GStrv) parts = g_strsplit(text, "/", 2);
	guint64 n;
	if (parts[0] == NULL || parts[1] == NULL ||
	    !g_ascii_string_to_unsigned(g_strstrip(parts[0]), 10, 1, 1000000, &n, NULL) ||
	    !ck_duration_parse(g_strstrip(parts[1]), window, NULL) || *window <= 0)
		return FALSE;
	*count = (guint)n;
	return TRUE;
}

static CkPolicyRule *
ck_policy_parse_rule(GKeyFile *kf, const gchar *path, const gchar *group, GError **error)
{
	CkPolicyRule *rule = g_new0(CkPolicyRule, 1);
	g_auto(GStrv) networks = NULL;
	g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);
	g_autofree gchar *max = g_key_file_get_string(kf, group, "MaxRequests", NULL);
	g_autofree gchar *rate = g_key_file_get_string(kf, group, "RateLimit", NULL);

	rule->source = g_strdup_printf("%s [%s]", path, group);
	rule->is_group = g_str_has_prefix(group, "group ");
	rule->name = g_strdup(group + (rule->is_group ? strlen("group ") : strlen("user ")));
	rule->subjects = ck_policy_get_list(kf, group, "Subjects");
	rule->dns_names = ck_policy_get_list(kf, group, "DNSNames");
	rule->emails = ck_policy_get_list(kf, group, "Emails");
	rule->uris = ck_policy_get_list(kf, group, "URIs");
	rule->principals = ck_policy_get_list(kf, group, "Principals");
	rule->directories = ck_policy_get_list(kf, group, "Directories");
	rule->cas = ck_policy_get_list(kf, group, "CAs");
	rule->units = ck_policy_get_list(kf, group, "Units");
	rule->networks = g_array_new(FALSE, FALSE, sizeof(CkNetwork));
	rule->max_requests = CK_POLICY_DEFAULT_MAX_REQUESTS;
	rule->rate_count = CK_POLICY_DEFAULT_RATE_COUNT;
	rule->rate_window = CK_POLICY_DEFAULT_RATE_WINDOW;

	for (guint i = 0; keys != NULL && keys[i] != NULL; i++) {
		if (!g_strv_contains(ck_policy_keys, keys[i])) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("%s: unknown key %s"), rule->source, keys[i]);
			goto fail;
		}
	}
	if (rule->name[0] == '\0') {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: name the user or group, e.g. [user www-data]"), rule->source);
		goto fail;
	}
	networks = ck_policy_get_list(kf, group, "IPAddresses");
	for (guint i = 0; networks[i] != NULL; i++) {
		CkNetwork net;
		if (!ck_policy_parse_network(networks[i], &net)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("%s: IPAddresses=%s is not an address or network (e.g. "
				      "192.0.2.0/24)"),
				    rule->source, networks[i]);
			goto fail;
		}
		g_array_append_val(rule->networks, net);
	}
	for (guint i = 0; rule->directories[i] != NULL; i++) {
		if (!g_path_is_absolute(rule->directories[i])) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("%s: Directories=%s is not an absolute path"), rule->source,
				    rule->directories[i]);
			goto fail;
		}
	}
	if (max != NULL) {
		guint64 n;
		if (!g_ascii_string_to_unsigned(g_strstrip(max), 10, 0, 1000000, &n, NULL)) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("%s: MaxRequests=%s is not a number"), rule->source, max);
			goto fail;
		}
		rule->max_requests = (guint)n;
	}
	if (rate != NULL &&
	    !ck_policy_parse_rate(g_strstrip(rate), &rule->rate_count, &rule->rate_window)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("%s: RateLimit=%s is not valid: use COUNT/DURATION, e.g. 10/1min"),
			    rule->source, rate);
		goto fail;
	}
	return rule;
fail:
	ck_policy_rule_free(rule);
	return NULL;
}

static gint
ck_policy_compare_names(gconstpointer a, gconstpointer b)
{
	return g_strcmp0(*(const gchar **)a, *(const gchar **)b);
}

void
ck_policy_load_dir(CkPolicy *self, const gchar *dir, GPtrArray *warnings)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
	const gchar *name;

	g_ptr_array_set_size(self->rules, 0);
	if (d == NULL)
		return;
	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_suffix(name, ".conf"))
			g_ptr_array_add(names, g_strdup(name));
	}
	/* files in name order, as drop-ins are: 10-web.conf before 20-db.conf */
	g_ptr_array_sort(names, ck_policy_compare_names);
	for (guint i = 0; i < names->len; i++) {
		g_autofree gchar *path = g_build_filename(dir, g_ptr_array_index(names, i), NULL);
		g_autoptr(GKeyFile) kf = g_key_file_new();
		g_autoptr(GError) error = NULL;
		g_autoptr(GPtrArray) rules =
		    g_ptr_array_new_with_free_func((GDestroyNotify)ck_policy_rule_free);
		g_auto(GStrv) groups = NULL;

		if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &error)) {
			g_ptr_array_add(warnings, g_strdup_printf(_("%s is skipped: %s"), path,
								  error->message));
			continue;
		}
		groups = g_key_file_get_groups(kf, NULL);
		for (guint j = 0; groups[j] != NULL; j++) {
			CkPolicyRule *rule;
			if (!g_str_has_prefix(groups[j], "user ") &&
			    !g_str_has_prefix(groups[j], "group ")) {
				g_set_error(&error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					    _("[%s] is neither [user NAME] nor [group NAME]"),
					    groups[j]);
				break;
			}
			rule = ck_policy_parse_rule(kf, path, groups[j], &error);
			if (rule == NULL)
				break;
			g_ptr_array_add(rules, rule);
		}
		/* a file with a mistake is skipped whole: half a policy is no policy */
		if (error != NULL) {
			g_ptr_array_add(warnings, g_strdup_printf(_("%s is skipped: %s"), path,
								  error->message));
			continue;
		}
		for (guint j = 0; j < rules->len; j++)
			g_ptr_array_add(self->rules, g_ptr_array_index(rules, j));
		g_ptr_array_set_free_func(rules, NULL);
	}
}

/* Who the caller is */

typedef struct {
	gchar *user;
	gid_t gid;
	GArray *groups; /* gid_t */
} CkCallerInfo;

static void
ck_caller_info_clear(CkCallerInfo *info)
{
	g_free(info->user);
	if (info->groups != NULL)
		g_array_unref(info->groups);
}

static gboolean
ck_policy_lookup_caller(const CkCaller *caller, CkCallerInfo *info, GError **error)
{
	struct passwd *pw = getpwuid(caller->uid);
	int n = 32;
	g_autofree gid_t *groups = NULL;

	memset(info, 0, sizeof(*info));
	if (pw == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    _("Access denied: uid %u has no user account, and policies name users "
			      "and groups"),
			    (guint)caller->uid);
		return FALSE;
	}
	info->user = g_strdup(pw->pw_name);
	info->gid = pw->pw_gid;
	groups = g_new(gid_t, n);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0) {
		g_free(groups);
		groups = g_new(gid_t, n);
		if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
			n = 0;
	}
	info->groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
	g_array_append_vals(info->groups, groups, (guint)MAX(n, 0));
	return TRUE;
}

static gboolean
ck_policy_rule_applies(CkPolicyRule *rule, const CkCaller *caller, const CkCallerInfo *info)
{
	if (!rule->is_group) {
		g_autofree gchar *uid = g_strdup_printf("%u", (guint)caller->uid);
		return g_strcmp0(rule->name, info->user) == 0 || g_strcmp0(rule->name, uid) == 0;
	}
	{
		struct group *gr = getgrnam(rule->name);
		if (gr == NULL)
			return FALSE;
		for (guint i = 0; i < info->groups->len; i++) {
			if (g_array_index(info->groups, gid_t, i) == gr->gr_gid)
				return TRUE;
		}
	}
	return FALSE;
}

/* Checks */

static gboolean
ck_policy_match_any(const gchar *const *patterns, const gchar *value)
{
	for (guint i = 0; patterns != NULL && patterns[i] != NULL; i++) {
		if (g_pattern_match_simple(patterns[i], value))
			return TRUE;
	}
	return FALSE;
}

static gboolean
ck_policy_network_contains(const CkNetwork *net, const gchar *address)
{
	guint8 buf[16];
	guint full, rest;
	if (inet_pton(net->family, address, buf) != 1)
		return FALSE;
	full = net->prefix / 8;
	rest = net->prefix % 8;
	if (memcmp(buf, net->bytes, full) != 0)
		return FALSE;
	if (rest == 0)
		return TRUE;
	return (buf[full] & (guint8)(0xff << (8 - rest))) ==
	       (net->bytes[full] & (guint8)(0xff << (8 - rest)));
}

/*
 * @path in one of the rule's directories? The directory part is resolved
 * (symbolic links, "..") so a link cannot lead out; the file itself may not exist yet,
 * and when it is a link, where it leads counts (a dangling one is refused).
 */
static gboolean
ck_policy_path_allowed(CkPolicyRule *rule, const gchar *path, gchar **real_out)
{
	g_autofree gchar *dir = g_path_get_dirname(path);
	g_autofree gchar *base = g_path_get_basename(path);
	g_autofree gchar *real_dir = realpath(dir, NULL);
	g_autofree gchar *real = NULL;
	struct stat st;

	if (real_dir == NULL || g_strcmp0(base, "..") == 0 || g_strcmp0(base, ".") == 0)
		return FALSE;
	if (lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
		real = realpath(path, NULL);
		if (real == NULL)
			return FALSE;
	} else {
		real = g_build_filename(real_dir, base, NULL);
	}
	for (guint i = 0; rule->directories[i] != NULL; i++) {
		g_autofree gchar *allowed = realpath(rule->directories[i], NULL);
		if (allowed == NULL)
			continue;
		if (g_strcmp0(real, allowed) == 0 ||
		    (g_str_has_prefix(real, allowed) &&
		     (real[strlen(allowed)] == '/' || g_strcmp0(allowed, "/") == 0))) {
			*real_out = g_steal_pointer(&real);
			return TRUE;
		}
	}
	return FALSE;
}

/* May user @uid (of groups @groups) add, remove or rename entries of the directory @st? */
static gboolean
ck_policy_dir_writable_by(const struct stat *st, uid_t uid, GArray *groups)
{
	if (st->st_uid == uid || (st->st_mode & S_IWOTH) != 0)
		return TRUE;
	if ((st->st_mode & S_IWGRP) != 0) {
		for (guint i = 0; groups != NULL && i < groups->len; i++) {
			if (g_array_index(groups, gid_t, i) == st->st_gid)
				return TRUE;
		}
	}
	return FALSE;
}

/*
 * certkeeperd writes a user's files as root. Were the user able to rename or
 * replace a directory on the way to them (a directory of its own inside one of
 * its own), it could swap in a link between the daemon's check and its write
 * and have root write, as the user, where the user may not. So every directory
 * above the file's own must be one the user cannot change (the sticky bit
 * protects what the user does not own, as in /tmp). @real has no links (realpath).
 * The directory that holds the file may be the user's: renaming a file over the
 * user's link replaces the link, and staged files are created exclusively.
 * Returns the directory the user could change, NULL if there is none.
 */
static gchar *
ck_policy_replaceable_dir(const gchar *real, uid_t uid, GArray *groups)
{
	g_autofree gchar *holder = g_path_get_dirname(real);
	g_autofree gchar *child = g_strdup(holder);

	while (strcmp(child, "/") != 0) {
		g_autofree gchar *parent = g_path_get_dirname(child);
		struct stat parent_st, child_st;
		if (lstat(parent, &parent_st) < 0 || lstat(child, &child_st) < 0 ||
		    !S_ISDIR(child_st.st_mode))
			return g_steal_pointer(&child);
		if (ck_policy_dir_writable_by(&parent_st, uid, groups) &&
		    ((parent_st.st_mode & S_ISVTX) == 0 || child_st.st_uid == uid ||
		     parent_st.st_uid == uid))
			return g_steal_pointer(&child);
		g_free(child);
		child = g_steal_pointer(&parent);
	}
	return NULL;
}

static gboolean
ck_policy_deny(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

static gboolean
ck_policy_deny(GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *what = NULL;
	va_start(args, format);
	what = g_strdup_vprintf(format, args);
	va_end(args);
	/* TRANSLATORS: the placeholder says what was refused */
	g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED, _("Access denied: %s"), what);
	return FALSE;
}

static gboolean
ck_policy_check_names(CkPolicyRule *rule, CkRequest *request, GError **error)
{
	const gchar *subject = ck_request_get_subject(request);
	const gchar *const *dns = ck_request_get_dns_names(request);
	const gchar *const *ips = ck_request_get_ip_addresses(request);
	const gchar *const *emails = ck_request_get_emails(request);
	const gchar *const *uris = ck_request_get_uris(request);
	const gchar *const *principals = ck_request_get_principals(request);

	if (subject != NULL && subject[0] != '\0' &&
	    !ck_policy_match_any((const gchar *const *)rule->subjects, subject)) {
		/* without Subjects=, "CN=<an allowed DNS name>" is what a service needs */
		gboolean cn_of_dns = FALSE;
		for (guint i = 0; dns[i] != NULL && !cn_of_dns; i++) {
			g_autofree gchar *cn = g_strdup_printf("CN=%s", dns[i]);
			cn_of_dns = g_strcmp0(cn, subject) == 0;
		}
		if (!cn_of_dns || rule->subjects[0] != NULL)
			return ck_policy_deny(error, _("the subject '%s' is not allowed by %s"),
					      subject, rule->source);
	}
	for (guint i = 0; dns[i] != NULL; i++) {
		if (!ck_policy_match_any((const gchar *const *)rule->dns_names, dns[i]))
			return ck_policy_deny(error, _("the DNS name '%s' is not allowed by %s"),
					      dns[i], rule->source);
	}
	for (guint i = 0; ips[i] != NULL; i++) {
		gboolean ok = FALSE;
		for (guint j = 0; j < rule->networks->len && !ok; j++)
			ok = ck_policy_network_contains(
			    &g_array_index(rule->networks, CkNetwork, j), ips[i]);
		if (!ok)
			return ck_policy_deny(error, _("the IP address '%s' is not allowed by %s"),
					      ips[i], rule->source);
	}
	for (guint i = 0; emails[i] != NULL; i++) {
		if (!ck_policy_match_any((const gchar *const *)rule->emails, emails[i]))
			return ck_policy_deny(error,
					      _("the email address '%s' is not allowed by %s"),
					      emails[i], rule->source);
	}
	for (guint i = 0; uris[i] != NULL; i++) {
		if (!ck_policy_match_any((const gchar *const *)rule->uris, uris[i]))
			return ck_policy_deny(error, _("the URI '%s' is not allowed by %s"),
					      uris[i], rule->source);
	}
	for (guint i = 0; principals[i] != NULL; i++) {
		if (!ck_policy_match_any((const gchar *const *)rule->principals, principals[i]))
			return ck_policy_deny(error,
					      _("the Kerberos principal '%s' is not allowed by %s"),
					      principals[i], rule->source);
	}
	return TRUE;
}

static gboolean
ck_policy_check_paths(CkPolicyRule *rule, CkRequest *request, uid_t uid,
		      const CkCallerInfo *info, GError **error)
{
	const gchar *paths[] = {
	    ck_request_get_cert_file(request),		 ck_request_get_key_file(request),
	    ck_request_get_chain_file(request),		 ck_request_get_combined_file(request),
	    ck_request_get_directory(request),		 ck_request_get_pid_file(request),
	    ck_request_get_bootstrap_cert_file(request), ck_request_get_bootstrap_key_file(request),
	    ck_request_get_proof_key_file(request),
	};
	for (guint i = 0; i < G_N_ELEMENTS(paths); i++) {
		g_autofree gchar *real = NULL;
		g_autofree gchar *replaceable = NULL;
		if (paths[i] == NULL)
			continue;
		if (!ck_policy_path_allowed(rule, paths[i], &real))
			return ck_policy_deny(error, _("'%s' is outside the directories %s allows"),
					      paths[i], rule->source);
		if (paths[i] == ck_request_get_directory(request)) {
			/* the layout's directory holds root's versions and the current link:
			 * the user must not be able to change it either */
			g_autofree gchar *inside = g_build_filename(real, "current", NULL);
			struct stat st;
			if (stat(real, &st) == 0 && ck_policy_dir_writable_by(&st, uid, info->groups))
				replaceable = g_strdup(real);
			else
				replaceable = ck_policy_replaceable_dir(inside, uid, info->groups);
		} else {
			replaceable = ck_policy_replaceable_dir(real, uid, info->groups);
		}
		if (replaceable != NULL)
			return ck_policy_deny(
			    error,
			    /* TRANSLATORS: a path, a directory, then a user name */
			    _("'%s' lies below %s, which user %s can rename or replace; use a "
			      "directory whose parents the user cannot change"),
			    paths[i], replaceable, info->user);
	}
	return TRUE;
}

static gboolean
ck_policy_check_rule(CkPolicy *self, CkPolicyRule *rule, const CkCaller *caller,
		     const CkCallerInfo *info, CkRequest *request, guint owned, GError **error)
{
	const gchar *ca = ck_request_get_ca(request) != NULL ? ck_request_get_ca(request)
							     : self->default_ca;
	const gchar *unit = ck_request_get_reload_unit(request);
	const gchar *hook_user = ck_request_get_hook_user(request);
	const CkFileAttrs *cert_attrs = ck_request_get_cert_attrs(request);
	const CkFileAttrs *key_attrs = ck_request_get_key_attrs(request);
	gboolean ca_ok = rule->cas[0] != NULL ? g_strv_contains((const gchar *const *)rule->cas, ca)
					      : g_strcmp0(ca, self->default_ca) == 0;

	if (!ca_ok)
		return ck_policy_deny(error, _("the CA '%s' is not allowed by %s"), ca,
				      rule->source);
	if (!ck_policy_check_names(rule, request, error) ||
	    !ck_policy_check_paths(rule, request, caller->uid, info, error))
		return FALSE;
	if (unit != NULL && !g_strv_contains((const gchar *const *)rule->units, unit))
		return ck_policy_deny(error, _("reloading %s is not allowed by %s"), unit,
				      rule->source);
	/* commands run as the caller, files belong to the caller: nothing else */
	if (hook_user != NULL && g_strcmp0(hook_user, info->user) != 0)
		return ck_policy_deny(error, _("commands of user %s cannot run as %s"),
				      info->user, hook_user);
	if ((cert_attrs->uid != (uid_t)-1 && cert_attrs->uid != caller->uid) ||
	    (key_attrs->uid != (uid_t)-1 && key_attrs->uid != caller->uid))
		return ck_policy_deny(error, _("the files of user %s must belong to it"),
				      info->user);
	if (owned >= rule->max_requests)
		return ck_policy_deny(error, _("user %s has %u requests already, the most %s allows"),
				      info->user, owned, rule->source);
	return TRUE;
}

/* The request becomes the caller's: its owner, its files, its commands. */
static void
ck_policy_make_owned(CkRequest *request, const CkCaller *caller, const CkCallerInfo *info)
{
	CkFileAttrs cert_attrs = *ck_request_get_cert_attrs(request);
	CkFileAttrs key_attrs = *ck_request_get_key_attrs(request);

	cert_attrs.uid = key_attrs.uid = caller->uid;
	cert_attrs.gid = key_attrs.gid = info->gid;
	ck_request_set_cert_attrs(request, &cert_attrs);
	ck_request_set_key_attrs(request, &key_attrs);
	ck_request_set_owner_uid(request, caller->uid);
	if (ck_request_get_pre_save_command(request) != NULL ||
	    ck_request_get_post_save_command(request) != NULL ||
	    ck_request_get_check_command(request) != NULL)
		ck_request_set_hook_user(request, info->user);
}

gboolean
ck_policy_authorize_new(CkPolicy *self, const CkCaller *caller, CkRequest *request, guint owned,
			GError **error)
{
	CkCallerInfo info;
	g_autoptr(GError) first = NULL;
	gboolean any = FALSE;

	g_return_val_if_fail(CK_IS_POLICY(self), FALSE);
	if (caller->uid == 0) {
		ck_request_set_owner_uid(request, 0);
		return TRUE;
	}
	if (!ck_policy_lookup_caller(caller, &info, error))
		return FALSE;
	/* user rules come first in the list as written; the first refusal is the one told */
	for (guint i = 0; i < self->rules->len; i++) {
		CkPolicyRule *rule = g_ptr_array_index(self->rules, i);
		g_autoptr(GError) local_error = NULL;
		if (!ck_policy_rule_applies(rule, caller, &info))
			continue;
		any = TRUE;
		if (ck_policy_check_rule(self, rule, caller, &info, request, owned, &local_error)) {
			ck_policy_make_owned(request, caller, &info);
			ck_caller_info_clear(&info);
			return TRUE;
		}
		if (first == NULL)
			first = g_steal_pointer(&local_error);
	}
	if (!any)
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    _("Access denied: no policy in policy.d lets user %s (uid %u) request "
			      "certificates"),
			    info.user, (guint)caller->uid);
	else
		g_propagate_error(error, g_steal_pointer(&first));
	ck_caller_info_clear(&info);
	return FALSE;
}

gboolean
ck_policy_authorize_change(CkPolicy *self, const CkCaller *caller, CkRequest *request,
			   const gchar *action, GError **error)
{
	g_return_val_if_fail(CK_IS_POLICY(self), FALSE);
	if (caller->uid == 0 || ck_request_get_owner_uid(request) == caller->uid)
		return TRUE;
	g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
		    /* TRANSLATORS: the action (e.g. Rekey), the request id, the owner's uid */
		    _("Access denied: %s of request %s is for its owner (uid %u) or root"), action,
		    ck_request_get_id(request), (guint)ck_request_get_owner_uid(request));
	return FALSE;
}

gboolean
ck_policy_authorize_paths(CkPolicy *self, CkRequest *request, GError **error)
{
	CkCaller owner = {.uid = ck_request_get_owner_uid(request)};
	CkCallerInfo info;
	g_autoptr(GError) first = NULL;
	gboolean ok = FALSE;

	g_return_val_if_fail(CK_IS_POLICY(self), FALSE);
	if (owner.uid == 0)
		return TRUE;
	if (!ck_policy_lookup_caller(&owner, &info, error))
		return FALSE;
	for (guint i = 0; i < self->rules->len && !ok; i++) {
		CkPolicyRule *rule = g_ptr_array_index(self->rules, i);
		g_autoptr(GError) local_error = NULL;
		if (!ck_policy_rule_applies(rule, &owner, &info))
			continue;
		ok = ck_policy_check_paths(rule, request, owner.uid, &info, &local_error);
		if (!ok && first == NULL)
			first = g_steal_pointer(&local_error);
	}
	if (!ok && first != NULL)
		g_propagate_error(error, g_steal_pointer(&first));
	else if (!ok)
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    _("Access denied: no policy in policy.d lets user %s (uid %u) request "
			      "certificates"),
			    info.user, (guint)owner.uid);
	ck_caller_info_clear(&info);
	return ok;
}

/* The most generous rate limit among the caller's rules; the default without any. */
static void
ck_policy_rate_of(CkPolicy *self, const CkCaller *caller, guint *count, gint64 *window)
{
	CkCallerInfo info;
	gboolean found = FALSE;

	*count = CK_POLICY_DEFAULT_RATE_COUNT;
	*window = CK_POLICY_DEFAULT_RATE_WINDOW;
	if (!ck_policy_lookup_caller(caller, &info, NULL))
		return;
	for (guint i = 0; i < self->rules->len; i++) {
		CkPolicyRule *rule = g_ptr_array_index(self->rules, i);
		if (!ck_policy_rule_applies(rule, caller, &info))
			continue;
		/* compare as issues per second, without floating point */
		if (!found || (gint64)rule->rate_count * *window > (gint64)*count * rule->rate_window) {
			*count = rule->rate_count;
			*window = rule->rate_window;
		}
		found = TRUE;
	}
	ck_caller_info_clear(&info);
}

gboolean
ck_policy_take_issue(CkPolicy *self, const CkCaller *caller, gint64 now, GError **error)
{
	GArray *times;
	guint count;
	gint64 window;
	guint kept = 0;

	g_return_val_if_fail(CK_IS_POLICY(self), FALSE);
	if (caller->uid == 0)
		return TRUE;
	ck_policy_rate_of(self, caller, &count, &window);
	times = g_hash_table_lookup(self->issues, GUINT_TO_POINTER(caller->uid));
	if (times == NULL) {
		times = g_array_new(FALSE, FALSE, sizeof(gint64));
		g_hash_table_insert(self->issues, GUINT_TO_POINTER(caller->uid), times);
	}
	/* a sliding window: only the issues of the last @window seconds count */
	for (guint i = 0; i < times->len; i++) {
		gint64 t = g_array_index(times, gint64, i);
		if (t > now - window)
			g_array_index(times, gint64, kept++) = t;
	}
	g_array_set_size(times, kept);
	if (times->len >= count) {
		g_autofree gchar *span = ck_duration_to_string(window);
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    /* TRANSLATORS: uid, the count, then the window (e.g. "1min") */
			    _("Access denied: uid %u asked for %u certificates within %s already; "
			      "try again later"),
			    (guint)caller->uid, count, span);
		return FALSE;
	}
	g_array_append_val(times, now);
	return TRUE;
}

static void
ck_policy_finalize(GObject *object)
{
	CkPolicy *self = CK_POLICY(object);
	g_ptr_array_unref(self->rules);
	g_hash_table_unref(self->issues);
	g_free(self->default_ca);
	G_OBJECT_CLASS(ck_policy_parent_class)->finalize(object);
}

static void
ck_policy_init(CkPolicy *self)
{
	self->rules = g_ptr_array_new_with_free_func((GDestroyNotify)ck_policy_rule_free);
	self->issues =
	    g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, (GDestroyNotify)g_array_unref);
}

static void
ck_policy_class_init(CkPolicyClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ck_policy_finalize;
}
