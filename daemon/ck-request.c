/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <signal.h>
#include <string.h>

#include <glib/gi18n.h>
#include <gnutls/x509.h>

#include "ck-error.h"
#include "ck-request.h"

/* Bump when the JSON layout changes incompatibly; older files are migrated on load. */
#define CK_REQUEST_JSON_VERSION 1

struct _CkRequest {
	GObject parent_instance;
	gchar *id;
	CkRequestState state;
	gchar *subject;
	GStrv dns_names;
	GStrv ip_addresses;
	GStrv emails;
	GStrv uris;
	GStrv principals;
	GStrv key_usage;
	GStrv extended_key_usage;
	CkKeyType key_type;
	const gchar *key_provider; /* interned */
	gchar *cert_file;
	gchar *key_file;
	gchar *chain_file;
	CkFileAttrs cert_attrs;
	CkFileAttrs key_attrs;
	const gchar *ca; /* interned */
	const gchar *profile; /* interned */
	gint64 validity;
	guint32 owner_uid;
	gint64 not_before;
	gint64 not_after;
	gchar *serial;
	const gchar *issuer; /* interned */
	gchar *last_error;
	gchar *ca_cookie;
	gint64 next_attempt;
	guint failed_attempts;
	gint64 created;
	/* renewal policy */
	gchar *renew_before;
	CkKeyPolicy key_policy;
	gboolean auto_renew;
	gchar *directory;
	gchar *combined_file;
	gchar *pre_save_command;
	gchar *post_save_command;
	const gchar *hook_user; /* interned */
	gchar *reload_unit;
	const gchar *reload_mode; /* interned */
	gchar *pid_file;
	gint pid_signal;
	gchar *check_endpoint;
	gchar *check_command;
	gchar *bootstrap_cert_file;
	gchar *bootstrap_key_file;
	gchar *proof_key_file;
	const gchar *proof_key_provider; /* interned */
	/* lifecycle status */
	gint64 renewal_time;
	/* the CA's suggested renewal window (RFC 9773) for the certificate whose serial
	 * is window_serial, and the moment inside it this request picked */
	gint64 window_start;
	gint64 window_end;
	gint64 window_pick;
	gchar *window_serial;
	/* the certificate whose serial is revoked_serial was revoked at revoked_time
	 * (with revoked_reason, NULL if none was given); tied to the serial, so a new
	 * certificate is not revoked */
	gchar *revoked_serial;
	gint64 revoked_time;
	gchar *revoked_reason;
	gint64 last_renewal;
	gint64 last_failure_time;
	gint64 working_since;
	CkExpiryStatus expiry_status;
	gchar *waiting;
	const gchar *identity; /* interned */
	const gchar *recovery_step; /* interned */
	gchar *recovery_reason;
	gint64 backups_until;
	CkInstallPhase install_phase;
	GStrv install_fresh;
	gchar *install_version;
	gchar *install_previous;
	gchar *last_failure;
	gchar *declared;
	CkRequestWatchFunc watch_func;
	gpointer watch_data;
};

G_DEFINE_TYPE(CkRequest, ck_request, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

static const gchar *const state_names[CK_REQUEST_STATE_LAST] = {
    [CK_REQUEST_STATE_NEED_KEY_PAIR] = "NEED_KEY_PAIR",
    [CK_REQUEST_STATE_GENERATING_KEY_PAIR] = "GENERATING_KEY_PAIR",
    [CK_REQUEST_STATE_NEED_CSR] = "NEED_CSR",
    [CK_REQUEST_STATE_SUBMITTING] = "SUBMITTING",
    [CK_REQUEST_STATE_CA_WORKING] = "CA_WORKING",
    [CK_REQUEST_STATE_CA_UNREACHABLE] = "CA_UNREACHABLE",
    [CK_REQUEST_STATE_CA_REJECTED] = "CA_REJECTED",
    [CK_REQUEST_STATE_NEED_GUIDANCE] = "NEED_GUIDANCE",
    [CK_REQUEST_STATE_SAVING_CERT] = "SAVING_CERT",
    [CK_REQUEST_STATE_POST_SAVED] = "POST_SAVED",
    [CK_REQUEST_STATE_MONITORING] = "MONITORING",
    [CK_REQUEST_STATE_NEED_TO_RECOVER] = "NEED_TO_RECOVER",
    [CK_REQUEST_STATE_STOPPED] = "STOPPED",
};

const gchar *
ck_request_state_to_string(CkRequestState state)
{
	if ((guint)state >= CK_REQUEST_STATE_LAST)
		return "UNKNOWN";
	return state_names[state];
}

CkRequestState
ck_request_state_from_string(const gchar *name)
{
	for (guint i = 0; i < CK_REQUEST_STATE_LAST; i++) {
		if (g_strcmp0(state_names[i], name) == 0)
			return (CkRequestState)i;
	}
	return CK_REQUEST_STATE_LAST;
}

gboolean
ck_request_state_is_stuck(CkRequestState state)
{
	return state == CK_REQUEST_STATE_CA_REJECTED || state == CK_REQUEST_STATE_NEED_GUIDANCE;
}

gboolean
ck_request_state_is_transient(CkRequestState state)
{
	switch (state) {
	case CK_REQUEST_STATE_GENERATING_KEY_PAIR:
	case CK_REQUEST_STATE_SUBMITTING:
	case CK_REQUEST_STATE_SAVING_CERT:
	case CK_REQUEST_STATE_POST_SAVED:
		return TRUE;
	default:
		return FALSE;
	}
}

gboolean
ck_request_id_is_valid(const gchar *id)
{
	gsize len;
	if (id == NULL)
		return FALSE;
	len = strlen(id);
	if (len == 0 || len > 64 || id[0] == '.' || id[0] == '-')
		return FALSE;
	for (const gchar *p = id; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '_' && *p != '-')
			return FALSE;
	}
	return TRUE;
}

static void
ck_request_emit(CkRequest *self, guint fields)
{
	if (self->watch_func != NULL)
		self->watch_func(self, fields, self->watch_data);
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0, fields);
}

void
ck_request_set_watch(CkRequest *self, CkRequestWatchFunc func, gpointer user_data)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	self->watch_func = func;
	self->watch_data = user_data;
}

/* Replaces *@field with a copy of @value; TRUE (and a "changed" signal) if it differed. */
static void
ck_request_replace_string(CkRequest *self, gchar **field, const gchar *value, guint bit)
{
	if (g_strcmp0(*field, value) == 0)
		return;
	g_free(*field);
	*field = g_strdup(value);
	ck_request_emit(self, bit);
}

/*
 * Most lists of most requests are empty (no IP addresses, no e-mails, ...): they
 * all point at this one empty list instead of an allocation each, which is
 * several hundred bytes a request at ten thousand requests.
 */
static gchar *ck_request_no_strings[] = {NULL};

/* Frees *@field unless it is the shared empty list. */
static void
ck_request_strv_clear(GStrv *field)
{
	if (*field != ck_request_no_strings)
		g_strfreev(*field);
	*field = ck_request_no_strings;
}

/* Makes @value (owned, may be NULL or empty) the list in *@field. */
static void
ck_request_strv_take(GStrv *field, GStrv value)
{
	ck_request_strv_clear(field);
	if (value != NULL && value[0] != NULL)
		*field = value;
	else if (value != ck_request_no_strings)
		g_strfreev(value);
}

static gboolean
ck_request_strv_equal(const gchar *const *a, const gchar *const *b)
{
	guint la = a != NULL ? g_strv_length((gchar **)a) : 0;
	guint lb = b != NULL ? g_strv_length((gchar **)b) : 0;
	if (la != lb)
		return FALSE;
	for (guint i = 0; i < la; i++) {
		if (g_strcmp0(a[i], b[i]) != 0)
			return FALSE;
	}
	return TRUE;
}

static void
ck_request_replace_strv(CkRequest *self, GStrv *field, const gchar *const *value, guint bit)
{
	if (ck_request_strv_equal((const gchar *const *)*field, value))
		return;
	ck_request_strv_take(field, g_strdupv((gchar **)value));
	ck_request_emit(self, bit);
}

/*
 * Fields with few distinct values among many requests (CA names, issuers, key
 * providers, recovery steps) keep one interned copy of each value for the life
 * of the process instead of a copy per request; compared by pointer.
 */
static const gchar *
ck_request_intern(const gchar *value)
{
	return value != NULL ? g_intern_string(value) : NULL;
}

static const gchar *
ck_request_intern_take(gchar *value)
{
	const gchar *interned = ck_request_intern(value);
	g_free(value);
	return interned;
}

static void
ck_request_replace_interned(CkRequest *self, const gchar **field, const gchar *value, guint bit)
{
	value = ck_request_intern(value);
	if (*field == value)
		return;
	*field = value;
	ck_request_emit(self, bit);
}

CkRequest *
ck_request_new(const gchar *id)
{
	CkRequest *self = g_object_new(CK_TYPE_REQUEST, NULL);
	self->id = g_strdup(id);
	return self;
}

const gchar *
ck_request_get_id(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->id;
}

void
ck_request_set_template_id(CkRequest *self, const gchar *id)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	g_free(self->id);
	self->id = g_strdup(id);
}

CkRequestState
ck_request_get_state(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), CK_REQUEST_STATE_LAST);
	return self->state;
}

void
ck_request_set_state(CkRequest *self, CkRequestState state)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	g_return_if_fail((guint)state < CK_REQUEST_STATE_LAST);
	if (self->state == state)
		return;
	self->state = state;
	ck_request_emit(self, CK_REQUEST_FIELD_STATE);
}

gboolean
ck_request_get_stuck(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), FALSE);
	return ck_request_state_is_stuck(self->state);
}

#define CK_REQUEST_STRING_ACCESSORS_WITH(field, bit, replace)                                     \
	const gchar *ck_request_get_##field(CkRequest *self)                                       \
	{                                                                                          \
		g_return_val_if_fail(CK_IS_REQUEST(self), NULL);                                   \
		return self->field;                                                                \
	}                                                                                          \
	void ck_request_set_##field(CkRequest *self, const gchar *value)                           \
	{                                                                                          \
		g_return_if_fail(CK_IS_REQUEST(self));                                             \
		replace(self, &self->field, value, bit);                                           \
	}
#define CK_REQUEST_STRING_ACCESSORS(field, bit)                                                    \
	CK_REQUEST_STRING_ACCESSORS_WITH(field, bit, ck_request_replace_string)

#define CK_REQUEST_STRV_ACCESSORS(field, bit)                                                      \
	const gchar *const *ck_request_get_##field(CkRequest *self)                                \
	{                                                                                          \
		g_return_val_if_fail(CK_IS_REQUEST(self), NULL);                                   \
		return (const gchar *const *)self->field;                                          \
	}                                                                                          \
	void ck_request_set_##field(CkRequest *self, const gchar *const *value)                    \
	{                                                                                          \
		g_return_if_fail(CK_IS_REQUEST(self));                                             \
		ck_request_replace_strv(self, &self->field, value, bit);                           \
	}

#define CK_REQUEST_INTERNED_ACCESSORS(field, bit)                                                  \
	CK_REQUEST_STRING_ACCESSORS_WITH(field, bit, ck_request_replace_interned)

CK_REQUEST_STRING_ACCESSORS(subject, CK_REQUEST_FIELD_SUBJECT)
CK_REQUEST_INTERNED_ACCESSORS(key_provider, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(cert_file, CK_REQUEST_FIELD_CERT_FILE)
CK_REQUEST_STRING_ACCESSORS(key_file, CK_REQUEST_FIELD_KEY_FILE)
CK_REQUEST_STRING_ACCESSORS(chain_file, CK_REQUEST_FIELD_CHAIN_FILE)
CK_REQUEST_INTERNED_ACCESSORS(ca, CK_REQUEST_FIELD_CA)
CK_REQUEST_INTERNED_ACCESSORS(profile, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(ca_cookie, CK_REQUEST_FIELD_OTHER)
CK_REQUEST_STRING_ACCESSORS(directory, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(combined_file, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(pre_save_command, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(post_save_command, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_INTERNED_ACCESSORS(hook_user, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(reload_unit, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(pid_file, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(check_endpoint, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(check_command, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(bootstrap_cert_file, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(bootstrap_key_file, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRING_ACCESSORS(proof_key_file, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_INTERNED_ACCESSORS(proof_key_provider, CK_REQUEST_FIELD_POLICY)

/* Setters of fields that read back as "" rather than NULL; @replace copies or interns. */
#define CK_REQUEST_TEXT_ACCESSORS_WITH(field, bit, fallback, replace)                             \
	const gchar *ck_request_get_##field(CkRequest *self)                                       \
	{                                                                                          \
		g_return_val_if_fail(CK_IS_REQUEST(self), NULL);                                   \
		return self->field != NULL ? self->field : (fallback);                             \
	}                                                                                          \
	void ck_request_set_##field(CkRequest *self, const gchar *value)                           \
	{                                                                                          \
		g_return_if_fail(CK_IS_REQUEST(self));                                             \
		if (value != NULL && (value[0] == '\0' || g_strcmp0(value, (fallback)) == 0))      \
			value = NULL;                                                              \
		replace(self, &self->field, value, bit);                                           \
	}
#define CK_REQUEST_TEXT_ACCESSORS(field, bit, fallback)                                           \
	CK_REQUEST_TEXT_ACCESSORS_WITH(field, bit, fallback, ck_request_replace_string)
/* The same, interned (see ck_request_intern()). */
#define CK_REQUEST_INTERNED_TEXT_ACCESSORS(field, bit, fallback)                                  \
	CK_REQUEST_TEXT_ACCESSORS_WITH(field, bit, fallback, ck_request_replace_interned)

CK_REQUEST_TEXT_ACCESSORS(renew_before, CK_REQUEST_FIELD_POLICY, "")
CK_REQUEST_INTERNED_TEXT_ACCESSORS(reload_mode, CK_REQUEST_FIELD_POLICY, "reload-or-restart")
CK_REQUEST_TEXT_ACCESSORS(waiting, CK_REQUEST_FIELD_STATUS, "")
CK_REQUEST_INTERNED_TEXT_ACCESSORS(identity, CK_REQUEST_FIELD_STATUS, "none")
CK_REQUEST_INTERNED_TEXT_ACCESSORS(recovery_step, CK_REQUEST_FIELD_STATUS, "none")
CK_REQUEST_TEXT_ACCESSORS(recovery_reason, CK_REQUEST_FIELD_STATUS, "")
CK_REQUEST_TEXT_ACCESSORS(last_failure, CK_REQUEST_FIELD_SCHEDULE, "")
CK_REQUEST_STRING_ACCESSORS(declared, CK_REQUEST_FIELD_POLICY)

void
ck_request_assign_settings(CkRequest *self, CkRequest *from)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	g_return_if_fail(CK_IS_REQUEST(from));
	ck_request_set_subject(self, from->subject);
	ck_request_set_dns_names(self, (const gchar *const *)from->dns_names);
	ck_request_set_ip_addresses(self, (const gchar *const *)from->ip_addresses);
	ck_request_set_emails(self, (const gchar *const *)from->emails);
	ck_request_set_uris(self, (const gchar *const *)from->uris);
	ck_request_set_principals(self, (const gchar *const *)from->principals);
	ck_request_set_key_usage(self, (const gchar *const *)from->key_usage);
	ck_request_set_extended_key_usage(self, (const gchar *const *)from->extended_key_usage);
	ck_request_set_key_type(self, from->key_type);
	ck_request_set_key_policy(self, from->key_policy);
	ck_request_set_ca(self, from->ca);
	ck_request_set_profile(self, from->profile);
	ck_request_set_validity(self, from->validity);
	ck_request_set_renew_before(self, from->renew_before);
	ck_request_set_auto_renew(self, from->auto_renew);
	ck_request_set_chain_file(self, from->chain_file);
	ck_request_set_combined_file(self, from->combined_file);
	ck_request_set_cert_attrs(self, &from->cert_attrs);
	ck_request_set_key_attrs(self, &from->key_attrs);
	ck_request_set_pre_save_command(self, from->pre_save_command);
	ck_request_set_post_save_command(self, from->post_save_command);
	ck_request_set_hook_user(self, from->hook_user);
	ck_request_set_reload_unit(self, from->reload_unit);
	ck_request_set_reload_mode(self, from->reload_mode);
	ck_request_set_pid_file(self, from->pid_file);
	ck_request_set_pid_signal(self, from->pid_signal);
	ck_request_set_check_endpoint(self, from->check_endpoint);
	ck_request_set_check_command(self, from->check_command);
	ck_request_set_bootstrap_cert_file(self, from->bootstrap_cert_file);
	ck_request_set_bootstrap_key_file(self, from->bootstrap_key_file);
	ck_request_set_proof_key_file(self, from->proof_key_file);
	ck_request_set_proof_key_provider(self, from->proof_key_provider);
}

CkRequest *
ck_request_dup(CkRequest *self)
{
	g_autoptr(JsonNode) node = NULL;
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	node = ck_request_to_json(self);
	/* a template may have no id yet: the JSON form wants one */
	if (self->id == NULL)
		json_object_set_string_member(json_node_get_object(node), "id", "template");
	{
		CkRequest *copy = ck_request_new_from_json(node, NULL);
		if (copy != NULL && self->id == NULL)
			ck_request_set_template_id(copy, NULL);
		return copy;
	}
}

/* Setters of plain numbers and flags. */
#define CK_REQUEST_VALUE_ACCESSORS(type, field, bit)                                               \
	type ck_request_get_##field(CkRequest *self)                                               \
	{                                                                                          \
		g_return_val_if_fail(CK_IS_REQUEST(self), (type)0);                                \
		return self->field;                                                                \
	}                                                                                          \
	void ck_request_set_##field(CkRequest *self, type value)                                   \
	{                                                                                          \
		g_return_if_fail(CK_IS_REQUEST(self));                                             \
		if (self->field == value)                                                          \
			return;                                                                    \
		self->field = value;                                                               \
		ck_request_emit(self, bit);                                                        \
	}

CK_REQUEST_VALUE_ACCESSORS(CkKeyPolicy, key_policy, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_VALUE_ACCESSORS(gboolean, auto_renew, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_VALUE_ACCESSORS(gint, pid_signal, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_VALUE_ACCESSORS(gint64, validity, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_VALUE_ACCESSORS(gint64, renewal_time, CK_REQUEST_FIELD_SCHEDULE)
CK_REQUEST_VALUE_ACCESSORS(gint64, last_renewal, CK_REQUEST_FIELD_SCHEDULE)
CK_REQUEST_VALUE_ACCESSORS(gint64, last_failure_time, CK_REQUEST_FIELD_SCHEDULE)
CK_REQUEST_VALUE_ACCESSORS(gint64, working_since, CK_REQUEST_FIELD_SCHEDULE)
CK_REQUEST_VALUE_ACCESSORS(CkExpiryStatus, expiry_status, CK_REQUEST_FIELD_STATUS)
CK_REQUEST_VALUE_ACCESSORS(gint64, backups_until, CK_REQUEST_FIELD_OTHER)

gint64
ck_request_get_window_start(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->window_start;
}

gint64
ck_request_get_window_end(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->window_end;
}

gint64
ck_request_get_window_pick(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->window_pick;
}

const gchar *
ck_request_get_window_serial(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->window_serial;
}

void
ck_request_set_renewal_window(CkRequest *self, gint64 start, gint64 end, gint64 pick,
			      const gchar *serial)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (self->window_start == start && self->window_end == end && self->window_pick == pick &&
	    g_strcmp0(self->window_serial, serial) == 0)
		return;
	self->window_start = start;
	self->window_end = end;
	self->window_pick = pick;
	g_free(self->window_serial);
	self->window_serial = g_strdup(serial);
	ck_request_emit(self, CK_REQUEST_FIELD_SCHEDULE);
}

/* The revocation counts only while the revoked certificate is the installed one. */
static gboolean
ck_request_revocation_current(CkRequest *self)
{
	return self->revoked_time > 0 && self->serial != NULL &&
	       g_strcmp0(self->revoked_serial, self->serial) == 0;
}

gint64
ck_request_get_revoked(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return ck_request_revocation_current(self) ? self->revoked_time : 0;
}

const gchar *
ck_request_get_revocation_reason(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return ck_request_revocation_current(self) ? self->revoked_reason : NULL;
}

void
ck_request_set_revoked(CkRequest *self, const gchar *serial, gint64 when, const gchar *reason)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	g_free(self->revoked_serial);
	self->revoked_serial = g_strdup(serial);
	self->revoked_time = serial != NULL ? when : 0;
	g_free(self->revoked_reason);
	self->revoked_reason = serial != NULL && reason != NULL && reason[0] != '\0'
				   ? g_strdup(reason)
				   : NULL;
	ck_request_emit(self, CK_REQUEST_FIELD_STATUS);
}

static const gchar *const key_policy_names[CK_KEY_POLICY_LAST] = {
    [CK_KEY_POLICY_NEW] = "new",
    [CK_KEY_POLICY_REUSE] = "reuse",
};

const gchar *
ck_key_policy_to_string(CkKeyPolicy policy)
{
	if ((guint)policy >= CK_KEY_POLICY_LAST)
		return "unknown";
	return key_policy_names[policy];
}

CkKeyPolicy
ck_key_policy_from_string(const gchar *name)
{
	for (guint i = 0; i < CK_KEY_POLICY_LAST; i++) {
		if (g_strcmp0(key_policy_names[i], name) == 0)
			return (CkKeyPolicy)i;
	}
	return CK_KEY_POLICY_LAST;
}

static const gchar *const install_phase_names[CK_INSTALL_PHASE_LAST] = {
    [CK_INSTALL_PHASE_NONE] = "none",
    [CK_INSTALL_PHASE_STAGE] = "stage",
    [CK_INSTALL_PHASE_COMMIT] = "commit",
    [CK_INSTALL_PHASE_CHECK] = "check",
    [CK_INSTALL_PHASE_ROLLBACK] = "rollback",
};

const gchar *
ck_install_phase_to_string(CkInstallPhase phase)
{
	if ((guint)phase >= CK_INSTALL_PHASE_LAST)
		return "unknown";
	return install_phase_names[phase];
}

CkInstallPhase
ck_install_phase_from_string(const gchar *name)
{
	for (guint i = 0; i < CK_INSTALL_PHASE_LAST; i++) {
		if (g_strcmp0(install_phase_names[i], name) == 0)
			return (CkInstallPhase)i;
	}
	return CK_INSTALL_PHASE_LAST;
}

CkInstallPhase
ck_request_get_install_phase(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), CK_INSTALL_PHASE_NONE);
	return self->install_phase;
}

void
ck_request_set_install(CkRequest *self, CkInstallPhase phase, const gchar *const *fresh,
		       const gchar *version, const gchar *previous)
{
	gchar **new_fresh;
	gchar *new_version, *new_previous;

	g_return_if_fail(CK_IS_REQUEST(self));
	g_return_if_fail((guint)phase < CK_INSTALL_PHASE_LAST);
	if (self->install_phase == phase &&
	    ck_request_strv_equal((const gchar *const *)self->install_fresh, fresh) &&
	    g_strcmp0(self->install_version, version) == 0 &&
	    g_strcmp0(self->install_previous, previous) == 0)
		return;
	/* copies first: the arguments may be this request's own (recovery re-records them) */
	new_fresh = g_strdupv((gchar **)fresh);
	new_version = g_strdup(version);
	new_previous = g_strdup(previous);
	self->install_phase = phase;
	ck_request_strv_take(&self->install_fresh, new_fresh);
	g_free(self->install_version);
	self->install_version = new_version;
	g_free(self->install_previous);
	self->install_previous = new_previous;
	ck_request_emit(self, CK_REQUEST_FIELD_OTHER);
}

const gchar *const *
ck_request_get_install_fresh(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return (const gchar *const *)self->install_fresh;
}

const gchar *
ck_request_get_install_version(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->install_version;
}

const gchar *
ck_request_get_install_previous(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->install_previous;
}
CK_REQUEST_STRV_ACCESSORS(dns_names, CK_REQUEST_FIELD_DNS_NAMES)
CK_REQUEST_STRV_ACCESSORS(ip_addresses, CK_REQUEST_FIELD_IP_ADDRESSES)
CK_REQUEST_STRV_ACCESSORS(emails, CK_REQUEST_FIELD_EMAILS)
CK_REQUEST_STRV_ACCESSORS(uris, CK_REQUEST_FIELD_URIS)
CK_REQUEST_STRV_ACCESSORS(principals, CK_REQUEST_FIELD_URIS)
CK_REQUEST_STRV_ACCESSORS(key_usage, CK_REQUEST_FIELD_POLICY)
CK_REQUEST_STRV_ACCESSORS(extended_key_usage, CK_REQUEST_FIELD_POLICY)

const gchar *
ck_request_get_last_error(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->last_error != NULL ? self->last_error : "";
}

void
ck_request_set_last_error(CkRequest *self, const gchar *message)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	/* "" and NULL both mean "no error": store one spelling so no spurious change is sent */
	if (message != NULL && message[0] == '\0')
		message = NULL;
	ck_request_replace_string(self, &self->last_error, message, CK_REQUEST_FIELD_LAST_ERROR);
}

void
ck_request_get_csr_params(CkRequest *self, CkCsrParams *params)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	params->subject = self->subject;
	params->dns_names = (const gchar *const *)self->dns_names;
	params->ip_addresses = (const gchar *const *)self->ip_addresses;
	params->emails = (const gchar *const *)self->emails;
	params->uris = (const gchar *const *)self->uris;
	params->principals = (const gchar *const *)self->principals;
	params->key_usage = (const gchar *const *)self->key_usage;
	params->extended_key_usage = (const gchar *const *)self->extended_key_usage;
}

CkKeyType
ck_request_get_key_type(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), CK_KEY_TYPE_UNKNOWN);
	return self->key_type;
}

void
ck_request_set_key_type(CkRequest *self, CkKeyType type)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (self->key_type == type)
		return;
	self->key_type = type;
	ck_request_emit(self, CK_REQUEST_FIELD_KEY_TYPE);
}

static gboolean
ck_file_attrs_equal(const CkFileAttrs *a, const CkFileAttrs *b)
{
	return a->uid == b->uid && a->gid == b->gid && a->mode == b->mode;
}

const CkFileAttrs *
ck_request_get_cert_attrs(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return &self->cert_attrs;
}

void
ck_request_set_cert_attrs(CkRequest *self, const CkFileAttrs *attrs)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (ck_file_attrs_equal(&self->cert_attrs, attrs))
		return;
	self->cert_attrs = *attrs;
	ck_request_emit(self, CK_REQUEST_FIELD_POLICY);
}

const CkFileAttrs *
ck_request_get_key_attrs(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return &self->key_attrs;
}

void
ck_request_set_key_attrs(CkRequest *self, const CkFileAttrs *attrs)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (ck_file_attrs_equal(&self->key_attrs, attrs))
		return;
	self->key_attrs = *attrs;
	ck_request_emit(self, CK_REQUEST_FIELD_POLICY);
}

guint32
ck_request_get_owner_uid(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->owner_uid;
}

void
ck_request_set_owner_uid(CkRequest *self, guint32 uid)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (self->owner_uid == uid)
		return;
	self->owner_uid = uid;
	ck_request_emit(self, CK_REQUEST_FIELD_POLICY);
}

gint64
ck_request_get_not_before(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->not_before;
}

gint64
ck_request_get_not_after(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->not_after;
}

const gchar *
ck_request_get_serial(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->serial;
}

const gchar *
ck_request_get_issuer(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	return self->issuer;
}

void
ck_request_set_certificate_info(CkRequest *self, gint64 not_before, gint64 not_after,
				const gchar *serial, const gchar *issuer)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (self->not_before == not_before && self->not_after == not_after &&
	    g_strcmp0(self->serial, serial) == 0 && g_strcmp0(self->issuer, issuer) == 0)
		return;
	self->not_before = not_before;
	self->not_after = not_after;
	g_free(self->serial);
	self->serial = g_strdup(serial);
	self->issuer = ck_request_intern(issuer);
	ck_request_emit(self, CK_REQUEST_FIELD_CERTIFICATE);
}

gboolean
ck_request_set_certificate_info_from_pem(CkRequest *self, const gchar *pem, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)pem, (unsigned int)strlen(pem)};
	gnutls_datum_t issuer = {NULL, 0};
	guint8 serial[64];
	size_t serial_size = sizeof(serial);
	g_autoptr(GString) serial_hex = g_string_new(NULL);
	int rc;

	g_return_val_if_fail(CK_IS_REQUEST(self), FALSE);
	rc = gnutls_x509_crt_init(&crt);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_get_serial(crt, serial, &serial_size);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_get_issuer_dn3(crt, &issuer, 0);
	if (rc != GNUTLS_E_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: the placeholder is GnuTLS's reason */
			    _("Cannot read the certificate: %s"), gnutls_strerror(rc));
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		return FALSE;
	}
	for (gsize i = 0; i < serial_size; i++)
		g_string_append_printf(serial_hex, "%02x", serial[i]);
	ck_request_set_certificate_info(self, (gint64)gnutls_x509_crt_get_activation_time(crt),
					(gint64)gnutls_x509_crt_get_expiration_time(crt),
					serial_hex->str, (const gchar *)issuer.data);
	gnutls_free(issuer.data);
	gnutls_x509_crt_deinit(crt);
	return TRUE;
}

gint64
ck_request_get_next_attempt(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->next_attempt;
}

void
ck_request_set_next_attempt(CkRequest *self, gint64 when)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (self->next_attempt == when)
		return;
	self->next_attempt = when;
	ck_request_emit(self, CK_REQUEST_FIELD_SCHEDULE);
}

guint
ck_request_get_failed_attempts(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->failed_attempts;
}

void
ck_request_set_failed_attempts(CkRequest *self, guint count)
{
	g_return_if_fail(CK_IS_REQUEST(self));
	if (self->failed_attempts == count)
		return;
	self->failed_attempts = count;
	ck_request_emit(self, CK_REQUEST_FIELD_SCHEDULE);
}

gint64
ck_request_get_created(CkRequest *self)
{
	g_return_val_if_fail(CK_IS_REQUEST(self), 0);
	return self->created;
}

/* JSON */

static void
ck_json_add_strv(JsonBuilder *builder, const gchar *name, GStrv strv)
{
	json_builder_set_member_name(builder, name);
	json_builder_begin_array(builder);
	for (guint i = 0; strv != NULL && strv[i] != NULL; i++)
		json_builder_add_string_value(builder, strv[i]);
	json_builder_end_array(builder);
}

static void
ck_json_add_string(JsonBuilder *builder, const gchar *name, const gchar *value)
{
	if (value == NULL)
		return;
	json_builder_set_member_name(builder, name);
	json_builder_add_string_value(builder, value);
}

static void
ck_json_add_int(JsonBuilder *builder, const gchar *name, gint64 value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_int_value(builder, value);
}

static void
ck_json_add_attrs(JsonBuilder *builder, const gchar *name, const CkFileAttrs *attrs)
{
	json_builder_set_member_name(builder, name);
	json_builder_begin_object(builder);
	/* -1 (unchanged) is kept as such, so a restored request behaves the same */
	ck_json_add_int(builder, "uid", attrs->uid == (uid_t)-1 ? -1 : (gint64)attrs->uid);
	ck_json_add_int(builder, "gid", attrs->gid == (gid_t)-1 ? -1 : (gint64)attrs->gid);
	ck_json_add_int(builder, "mode", attrs->mode);
	json_builder_end_object(builder);
}

JsonNode *
ck_request_to_json(CkRequest *self)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();

	g_return_val_if_fail(CK_IS_REQUEST(self), NULL);
	json_builder_begin_object(builder);
	ck_json_add_int(builder, "version", CK_REQUEST_JSON_VERSION);
	ck_json_add_string(builder, "id", self->id);
	ck_json_add_string(builder, "state", ck_request_state_to_string(self->state));
	ck_json_add_string(builder, "subject", self->subject);
	ck_json_add_strv(builder, "dns-names", self->dns_names);
	ck_json_add_strv(builder, "ip-addresses", self->ip_addresses);
	ck_json_add_strv(builder, "emails", self->emails);
	ck_json_add_strv(builder, "uris", self->uris);
	ck_json_add_strv(builder, "principals", self->principals);
	ck_json_add_strv(builder, "key-usage", self->key_usage);
	ck_json_add_strv(builder, "extended-key-usage", self->extended_key_usage);
	ck_json_add_string(builder, "key-type", ck_key_type_to_string(self->key_type));
	ck_json_add_string(builder, "key-provider", self->key_provider);
	ck_json_add_string(builder, "cert-file", self->cert_file);
	ck_json_add_string(builder, "key-file", self->key_file);
	ck_json_add_string(builder, "chain-file", self->chain_file);
	ck_json_add_attrs(builder, "cert-attrs", &self->cert_attrs);
	ck_json_add_attrs(builder, "key-attrs", &self->key_attrs);
	ck_json_add_string(builder, "ca", self->ca);
	ck_json_add_string(builder, "profile", self->profile);
	ck_json_add_int(builder, "validity", self->validity);
	ck_json_add_int(builder, "owner-uid", self->owner_uid);
	ck_json_add_int(builder, "not-before", self->not_before);
	ck_json_add_int(builder, "not-after", self->not_after);
	ck_json_add_string(builder, "serial", self->serial);
	ck_json_add_string(builder, "issuer", self->issuer);
	ck_json_add_string(builder, "last-error", self->last_error);
	ck_json_add_string(builder, "ca-cookie", self->ca_cookie);
	ck_json_add_int(builder, "next-attempt", self->next_attempt);
	ck_json_add_int(builder, "failed-attempts", self->failed_attempts);
	ck_json_add_int(builder, "created", self->created);
	ck_json_add_string(builder, "renew-before", self->renew_before);
	ck_json_add_string(builder, "key-policy", ck_key_policy_to_string(self->key_policy));
	json_builder_set_member_name(builder, "auto-renew");
	json_builder_add_boolean_value(builder, self->auto_renew);
	ck_json_add_string(builder, "directory", self->directory);
	ck_json_add_string(builder, "combined-file", self->combined_file);
	ck_json_add_string(builder, "pre-save-command", self->pre_save_command);
	ck_json_add_string(builder, "post-save-command", self->post_save_command);
	ck_json_add_string(builder, "hook-user", self->hook_user);
	ck_json_add_string(builder, "reload-unit", self->reload_unit);
	ck_json_add_string(builder, "reload-mode", self->reload_mode);
	ck_json_add_string(builder, "pid-file", self->pid_file);
	ck_json_add_int(builder, "pid-signal", self->pid_signal);
	ck_json_add_string(builder, "check-endpoint", self->check_endpoint);
	ck_json_add_string(builder, "check-command", self->check_command);
	ck_json_add_string(builder, "bootstrap-cert-file", self->bootstrap_cert_file);
	ck_json_add_string(builder, "bootstrap-key-file", self->bootstrap_key_file);
	ck_json_add_string(builder, "proof-key-file", self->proof_key_file);
	ck_json_add_string(builder, "proof-key-provider", self->proof_key_provider);
	ck_json_add_int(builder, "renewal-time", self->renewal_time);
	if (self->window_end > 0) {
		ck_json_add_int(builder, "renewal-window-start", self->window_start);
		ck_json_add_int(builder, "renewal-window-end", self->window_end);
		ck_json_add_int(builder, "renewal-window-pick", self->window_pick);
		ck_json_add_string(builder, "renewal-window-serial", self->window_serial);
	}
	if (self->revoked_time > 0) {
		ck_json_add_string(builder, "revoked-serial", self->revoked_serial);
		ck_json_add_int(builder, "revoked-time", self->revoked_time);
		ck_json_add_string(builder, "revoked-reason", self->revoked_reason);
	}
	ck_json_add_int(builder, "last-renewal", self->last_renewal);
	ck_json_add_int(builder, "last-failure-time", self->last_failure_time);
	ck_json_add_int(builder, "working-since", self->working_since);
	ck_json_add_string(builder, "waiting", self->waiting);
	ck_json_add_string(builder, "identity", self->identity);
	ck_json_add_string(builder, "recovery-step", self->recovery_step);
	ck_json_add_string(builder, "recovery-reason", self->recovery_reason);
	ck_json_add_int(builder, "backups-until", self->backups_until);
	ck_json_add_string(builder, "last-failure", self->last_failure);
	ck_json_add_string(builder, "declared", self->declared);
	if (self->install_phase != CK_INSTALL_PHASE_NONE) {
		json_builder_set_member_name(builder, "install");
		json_builder_begin_object(builder);
		ck_json_add_string(builder, "phase", ck_install_phase_to_string(self->install_phase));
		ck_json_add_strv(builder, "fresh", self->install_fresh);
		ck_json_add_string(builder, "version", self->install_version);
		ck_json_add_string(builder, "previous", self->install_previous);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

static GStrv
ck_json_get_strv(JsonObject *obj, const gchar *name, GError **error)
{
	JsonNode *member = json_object_get_member(obj, name);
	JsonArray *array;
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();

	if (member == NULL)
		return g_new0(gchar *, 1);
	/* json_object_get_array_member() is critical about a non-array: check first */
	array = JSON_NODE_HOLDS_ARRAY(member) ? json_node_get_array(member) : NULL;
	if (array == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Member '%s' is not a list"), name);
		return NULL;
	}
	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonNode *node = json_array_get_element(array, i);
		if (!JSON_NODE_HOLDS_VALUE(node) ||
		    json_node_get_value_type(node) != G_TYPE_STRING) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Member '%s' holds something that is not a string"), name);
			return NULL;
		}
		g_strv_builder_add(builder, json_node_get_string(node));
	}
	return g_strv_builder_end(builder);
}

/* Replaces *@field with the list @name; on failure *@field stays valid (finalize frees it). */
static gboolean
ck_json_replace_strv(JsonObject *obj, const gchar *name, GStrv *field, GError **error)
{
	GStrv strv = ck_json_get_strv(obj, name, error);
	if (strv == NULL)
		return FALSE;
	ck_request_strv_take(field, strv);
	return TRUE;
}

static gboolean
ck_json_get_attrs(JsonObject *obj, const gchar *name, CkFileAttrs *attrs, GError **error)
{
	JsonNode *member = json_object_get_member(obj, name);
	JsonObject *sub;
	gint64 uid, gid;

	if (member == NULL)
		return TRUE;
	sub = JSON_NODE_HOLDS_OBJECT(member) ? json_node_get_object(member) : NULL;
	if (sub == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Member '%s' is not an object"), name);
		return FALSE;
	}
	uid = json_object_get_int_member_with_default(sub, "uid", -1);
	gid = json_object_get_int_member_with_default(sub, "gid", -1);
	attrs->uid = uid < 0 ? (uid_t)-1 : (uid_t)uid;
	attrs->gid = gid < 0 ? (gid_t)-1 : (gid_t)gid;
	attrs->mode = (guint)json_object_get_int_member_with_default(sub, "mode", attrs->mode) &
		      07777;
	return TRUE;
}

static gchar *
ck_json_dup_string(JsonObject *obj, const gchar *name)
{
	JsonNode *node = json_object_get_member(obj, name);
	if (node == NULL || !JSON_NODE_HOLDS_VALUE(node) ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return NULL;
	return g_strdup(json_node_get_string(node));
}

static gboolean
ck_request_policy_from_json(CkRequest *self, JsonObject *obj, GError **error)
{
	g_autofree gchar *key_policy = ck_json_dup_string(obj, "key-policy");

	self->renew_before = ck_json_dup_string(obj, "renew-before");
	if (key_policy != NULL) {
		self->key_policy = ck_key_policy_from_string(key_policy);
		if (self->key_policy == CK_KEY_POLICY_LAST) {
			g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Unknown key policy '%s'"), key_policy);
			return FALSE;
		}
	}
	self->auto_renew = json_object_get_boolean_member_with_default(obj, "auto-renew", TRUE);
	self->directory = ck_json_dup_string(obj, "directory");
	self->combined_file = ck_json_dup_string(obj, "combined-file");
	self->pre_save_command = ck_json_dup_string(obj, "pre-save-command");
	self->post_save_command = ck_json_dup_string(obj, "post-save-command");
	self->hook_user = ck_request_intern_take(ck_json_dup_string(obj, "hook-user"));
	self->reload_unit = ck_json_dup_string(obj, "reload-unit");
	self->reload_mode = ck_request_intern_take(ck_json_dup_string(obj, "reload-mode"));
	self->pid_file = ck_json_dup_string(obj, "pid-file");
	self->pid_signal =
	    (gint)json_object_get_int_member_with_default(obj, "pid-signal", self->pid_signal);
	self->check_endpoint = ck_json_dup_string(obj, "check-endpoint");
	self->check_command = ck_json_dup_string(obj, "check-command");
	self->bootstrap_cert_file = ck_json_dup_string(obj, "bootstrap-cert-file");
	self->bootstrap_key_file = ck_json_dup_string(obj, "bootstrap-key-file");
	self->proof_key_file = ck_json_dup_string(obj, "proof-key-file");
	self->proof_key_provider = ck_request_intern_take(ck_json_dup_string(obj, "proof-key-provider"));
	self->renewal_time = json_object_get_int_member_with_default(obj, "renewal-time", 0);
	self->window_start = json_object_get_int_member_with_default(obj, "renewal-window-start", 0);
	self->window_end = json_object_get_int_member_with_default(obj, "renewal-window-end", 0);
	self->window_pick = json_object_get_int_member_with_default(obj, "renewal-window-pick", 0);
	self->window_serial = ck_json_dup_string(obj, "renewal-window-serial");
	self->revoked_serial = ck_json_dup_string(obj, "revoked-serial");
	self->revoked_time = json_object_get_int_member_with_default(obj, "revoked-time", 0);
	self->revoked_reason = ck_json_dup_string(obj, "revoked-reason");
	self->last_renewal = json_object_get_int_member_with_default(obj, "last-renewal", 0);
	self->last_failure_time =
	    json_object_get_int_member_with_default(obj, "last-failure-time", 0);
	self->working_since = json_object_get_int_member_with_default(obj, "working-since", 0);
	self->waiting = ck_json_dup_string(obj, "waiting");
	self->identity = ck_request_intern_take(ck_json_dup_string(obj, "identity"));
	self->recovery_step = ck_request_intern_take(ck_json_dup_string(obj, "recovery-step"));
	self->recovery_reason = ck_json_dup_string(obj, "recovery-reason");
	self->backups_until = json_object_get_int_member_with_default(obj, "backups-until", 0);
	self->last_failure = ck_json_dup_string(obj, "last-failure");
	self->declared = ck_json_dup_string(obj, "declared");
	return TRUE;
}

static gboolean
ck_request_install_from_json(CkRequest *self, JsonObject *obj, GError **error)
{
	JsonNode *node = json_object_get_member(obj, "install");
	JsonObject *install;
	g_autofree gchar *phase = NULL;

	if (node == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("Member 'install' is not an object"));
		return FALSE;
	}
	install = json_node_get_object(node);
	phase = ck_json_dup_string(install, "phase");
	self->install_phase = ck_install_phase_from_string(phase);
	if (self->install_phase == CK_INSTALL_PHASE_LAST) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Unknown install phase '%s'"), phase != NULL ? phase : "");
		return FALSE;
	}
	if (!ck_json_replace_strv(install, "fresh", &self->install_fresh, error))
		return FALSE;
	self->install_version = ck_json_dup_string(install, "version");
	self->install_previous = ck_json_dup_string(install, "previous");
	return TRUE;
}

CkRequest *
ck_request_new_from_json(JsonNode *node, GError **error)
{
	JsonObject *obj;
	g_autoptr(CkRequest) self = NULL;
	g_autofree gchar *id = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *key_type = NULL;
	g_autofree gchar *key_provider = NULL;
	gint64 version;

	if (node == NULL || !JSON_NODE_HOLDS_OBJECT(node)) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The request state is not a JSON object"));
		return NULL;
	}
	obj = json_node_get_object(node);
	version = json_object_get_int_member_with_default(obj, "version", 0);
	if (version < 1 || version > CK_REQUEST_JSON_VERSION) {
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    _("Unsupported request state version %lld"), (long long)version);
		return NULL;
	}
	id = ck_json_dup_string(obj, "id");
	if (!ck_request_id_is_valid(id)) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The request state has no valid id"));
		return NULL;
	}
	self = ck_request_new(id);
	state = ck_json_dup_string(obj, "state");
	self->state = ck_request_state_from_string(state);
	if (self->state == CK_REQUEST_STATE_LAST) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("Unknown request state '%s'"), state != NULL ? state : "");
		return NULL;
	}
	key_type = ck_json_dup_string(obj, "key-type");
	self->key_type = ck_key_type_from_string(key_type);
	if (self->key_type == CK_KEY_TYPE_UNKNOWN) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT, _("Unknown key type '%s'"),
			    key_type != NULL ? key_type : "");
		return NULL;
	}
	self->subject = ck_json_dup_string(obj, "subject");
	if (!ck_json_replace_strv(obj, "dns-names", &self->dns_names, error) ||
	    !ck_json_replace_strv(obj, "ip-addresses", &self->ip_addresses, error) ||
	    !ck_json_replace_strv(obj, "emails", &self->emails, error) ||
	    !ck_json_replace_strv(obj, "uris", &self->uris, error) ||
	    !ck_json_replace_strv(obj, "principals", &self->principals, error) ||
	    !ck_json_replace_strv(obj, "key-usage", &self->key_usage, error) ||
	    !ck_json_replace_strv(obj, "extended-key-usage", &self->extended_key_usage, error))
		return NULL;
	/* the default ("file") stands when the state predates the member */
	key_provider = ck_json_dup_string(obj, "key-provider");
	if (key_provider != NULL) {
		self->key_provider = ck_request_intern(key_provider);
	}
	self->cert_file = ck_json_dup_string(obj, "cert-file");
	self->key_file = ck_json_dup_string(obj, "key-file");
	self->chain_file = ck_json_dup_string(obj, "chain-file");
	if (self->cert_file == NULL || self->key_file == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The request state names no certificate or key file"));
		return NULL;
	}
	if (!ck_json_get_attrs(obj, "cert-attrs", &self->cert_attrs, error) ||
	    !ck_json_get_attrs(obj, "key-attrs", &self->key_attrs, error))
		return NULL;
	self->ca = ck_request_intern_take(ck_json_dup_string(obj, "ca"));
	self->profile = ck_request_intern_take(ck_json_dup_string(obj, "profile"));
	self->validity = json_object_get_int_member_with_default(obj, "validity", 0);
	self->owner_uid = (guint32)json_object_get_int_member_with_default(obj, "owner-uid", 0);
	self->not_before = json_object_get_int_member_with_default(obj, "not-before", 0);
	self->not_after = json_object_get_int_member_with_default(obj, "not-after", 0);
	self->serial = ck_json_dup_string(obj, "serial");
	self->issuer = ck_request_intern_take(ck_json_dup_string(obj, "issuer"));
	self->last_error = ck_json_dup_string(obj, "last-error");
	self->ca_cookie = ck_json_dup_string(obj, "ca-cookie");
	self->next_attempt = json_object_get_int_member_with_default(obj, "next-attempt", 0);
	self->failed_attempts =
	    (guint)json_object_get_int_member_with_default(obj, "failed-attempts", 0);
	self->created = json_object_get_int_member_with_default(obj, "created", 0);
	if (!ck_request_policy_from_json(self, obj, error) ||
	    !ck_request_install_from_json(self, obj, error))
		return NULL;
	return g_steal_pointer(&self);
}

static void
ck_request_finalize(GObject *object)
{
	CkRequest *self = CK_REQUEST(object);
	g_free(self->id);
	g_free(self->subject);
	ck_request_strv_clear(&self->dns_names);
	ck_request_strv_clear(&self->ip_addresses);
	ck_request_strv_clear(&self->emails);
	ck_request_strv_clear(&self->uris);
	ck_request_strv_clear(&self->principals);
	ck_request_strv_clear(&self->key_usage);
	ck_request_strv_clear(&self->extended_key_usage);
	g_free(self->cert_file);
	g_free(self->key_file);
	g_free(self->chain_file);
	g_free(self->serial);
	g_free(self->last_error);
	g_free(self->ca_cookie);
	g_free(self->renew_before);
	g_free(self->directory);
	g_free(self->combined_file);
	g_free(self->pre_save_command);
	g_free(self->post_save_command);
	g_free(self->reload_unit);
	g_free(self->pid_file);
	g_free(self->check_endpoint);
	g_free(self->check_command);
	g_free(self->bootstrap_cert_file);
	g_free(self->bootstrap_key_file);
	g_free(self->proof_key_file);
	g_free(self->waiting);
	g_free(self->recovery_reason);
	ck_request_strv_clear(&self->install_fresh);
	g_free(self->install_version);
	g_free(self->install_previous);
	g_free(self->last_failure);
	g_free(self->declared);
	g_free(self->window_serial);
	g_free(self->revoked_serial);
	g_free(self->revoked_reason);
	G_OBJECT_CLASS(ck_request_parent_class)->finalize(object);
}

static void
ck_request_init(CkRequest *self)
{
	self->state = CK_REQUEST_STATE_NEED_KEY_PAIR;
	self->key_type = CK_KEY_TYPE_DEFAULT;
	self->key_provider = g_intern_static_string("file");
	self->dns_names = ck_request_no_strings;
	self->ip_addresses = ck_request_no_strings;
	self->emails = ck_request_no_strings;
	self->uris = ck_request_no_strings;
	self->principals = ck_request_no_strings;
	self->key_usage = ck_request_no_strings;
	self->extended_key_usage = ck_request_no_strings;
	self->cert_attrs = CK_FILE_ATTRS_INIT(0644);
	self->key_attrs = CK_FILE_ATTRS_INIT(0600);
	self->created = g_get_real_time() / G_USEC_PER_SEC;
	self->auto_renew = TRUE;
	self->key_policy = CK_KEY_POLICY_NEW;
	self->pid_signal = SIGHUP;
	self->install_fresh = ck_request_no_strings;
}

static void
ck_request_class_init(CkRequestClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = ck_request_finalize;
	/**
	 * CkRequest::changed:
	 * @fields: CkRequestField bits of what changed
	 */
	signals[SIGNAL_CHANGED] = g_signal_new("changed", G_TYPE_FROM_CLASS(klass),
					       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
					       G_TYPE_NONE, 1, G_TYPE_UINT);
}
