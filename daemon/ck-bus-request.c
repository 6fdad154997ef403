/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* org.certkeeper.Request1: one object per tracked request. */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>

#include "ck-bus-error.h"
#include "ck-bus-options.h"
#include "ck-bus-private.h"
#include "ck-error.h"
#include "ck-hook.h"

/* Adapters for the values that are not plain getters. */
static const gchar *
ck_prop_state(CkRequest *r)
{
	return ck_request_state_to_string(ck_request_get_state(r));
}
static const gchar *
ck_prop_key_type(CkRequest *r)
{
	return ck_key_type_to_string(ck_request_get_key_type(r));
}
static const gchar *
ck_prop_key_policy(CkRequest *r)
{
	return ck_key_policy_to_string(ck_request_get_key_policy(r));
}
static const gchar *
ck_prop_pid_signal(CkRequest *r)
{
	return ck_hook_signal_to_string(ck_request_get_pid_signal(r));
}
static const gchar *
ck_prop_expiry_status(CkRequest *r)
{
	return ck_expiry_status_to_string(ck_request_get_expiry_status(r));
}
static guint32
ck_prop_failed_attempts(CkRequest *r)
{
	return ck_request_get_failed_attempts(r);
}
static guint32
ck_prop_owner(CkRequest *r)
{
	return ck_request_get_owner_uid(r);
}
static guint32
ck_prop_cert_mode(CkRequest *r)
{
	return ck_request_get_cert_attrs(r)->mode;
}
static guint32
ck_prop_key_mode(CkRequest *r)
{
	return ck_request_get_key_attrs(r)->mode;
}

typedef enum { CK_PROP_TEXT, CK_PROP_LIST, CK_PROP_TIME, CK_PROP_FLAG, CK_PROP_NUMBER } CkPropKind;

/*
 * Every Request1 property: its name, how it is read, and which CkRequestField bit
 * announces its changes (0: it never changes). The vtable below lists the same
 * names with their signatures; ck_bus_request_changed_properties() reads this.
 */
static const struct {
	const char *name;
	CkPropKind kind;
	guint field;
	const gchar *(*text)(CkRequest *request);
	const gchar *const *(*list)(CkRequest *request);
	gint64 (*time)(CkRequest *request);
	gboolean (*flag)(CkRequest *request);
	guint32 (*number)(CkRequest *request);
} ck_props[] = {
#define T(n, f, g)  {n, CK_PROP_TEXT, f, g, NULL, NULL, NULL, NULL}
#define L(n, f, g)  {n, CK_PROP_LIST, f, NULL, g, NULL, NULL, NULL}
#define TM(n, f, g) {n, CK_PROP_TIME, f, NULL, NULL, g, NULL, NULL}
#define B(n, f, g)  {n, CK_PROP_FLAG, f, NULL, NULL, NULL, g, NULL}
#define N(n, f, g)  {n, CK_PROP_NUMBER, f, NULL, NULL, NULL, NULL, g}
    T("Id", 0, ck_request_get_id),
    T("State", CK_REQUEST_FIELD_STATE, ck_prop_state),
    B("Stuck", CK_REQUEST_FIELD_STATE, ck_request_get_stuck),
    TM("WorkingSince", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_working_since),
    T("ExpiryStatus", CK_REQUEST_FIELD_STATUS, ck_prop_expiry_status),
    T("Subject", CK_REQUEST_FIELD_SUBJECT, ck_request_get_subject),
    L("DNSNames", CK_REQUEST_FIELD_DNS_NAMES, ck_request_get_dns_names),
    L("IPAddresses", CK_REQUEST_FIELD_IP_ADDRESSES, ck_request_get_ip_addresses),
    L("Emails", CK_REQUEST_FIELD_EMAILS, ck_request_get_emails),
    L("URIs", CK_REQUEST_FIELD_URIS, ck_request_get_uris),
    L("Principals", CK_REQUEST_FIELD_URIS, ck_request_get_principals),
    L("KeyUsage", CK_REQUEST_FIELD_POLICY, ck_request_get_key_usage),
    L("ExtendedKeyUsage", CK_REQUEST_FIELD_POLICY, ck_request_get_extended_key_usage),
    T("KeyType", CK_REQUEST_FIELD_KEY_TYPE, ck_prop_key_type),
    T("KeyProvider", CK_REQUEST_FIELD_POLICY, ck_request_get_key_provider),
    T("KeyPolicy", CK_REQUEST_FIELD_POLICY, ck_prop_key_policy),
    T("CertFile", CK_REQUEST_FIELD_CERT_FILE, ck_request_get_cert_file),
    T("KeyFile", CK_REQUEST_FIELD_KEY_FILE, ck_request_get_key_file),
    T("ChainFile", CK_REQUEST_FIELD_CHAIN_FILE, ck_request_get_chain_file),
    T("CombinedFile", CK_REQUEST_FIELD_POLICY, ck_request_get_combined_file),
    T("Directory", CK_REQUEST_FIELD_POLICY, ck_request_get_directory),
    N("CertMode", CK_REQUEST_FIELD_POLICY, ck_prop_cert_mode),
    N("KeyMode", CK_REQUEST_FIELD_POLICY, ck_prop_key_mode),
    N("Owner", CK_REQUEST_FIELD_POLICY, ck_prop_owner),
    T("CA", CK_REQUEST_FIELD_CA, ck_request_get_ca),
    T("Profile", CK_REQUEST_FIELD_POLICY, ck_request_get_profile),
    TM("Validity", CK_REQUEST_FIELD_POLICY, ck_request_get_validity),
    TM("NotBefore", CK_REQUEST_FIELD_CERTIFICATE, ck_request_get_not_before),
    TM("NotAfter", CK_REQUEST_FIELD_CERTIFICATE, ck_request_get_not_after),
    T("Serial", CK_REQUEST_FIELD_CERTIFICATE, ck_request_get_serial),
    T("Issuer", CK_REQUEST_FIELD_CERTIFICATE, ck_request_get_issuer),
    T("LastError", CK_REQUEST_FIELD_LAST_ERROR, ck_request_get_last_error),
    T("LastFailure", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_last_failure),
    TM("LastFailureTime", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_last_failure_time),
    TM("RenewalTime", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_renewal_time),
    TM("RenewalWindowStart", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_window_start),
    TM("RenewalWindowEnd", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_window_end),
    TM("NextAttempt", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_next_attempt),
    N("FailedAttempts", CK_REQUEST_FIELD_SCHEDULE, ck_prop_failed_attempts),
    TM("LastRenewal", CK_REQUEST_FIELD_SCHEDULE, ck_request_get_last_renewal),
    T("Waiting", CK_REQUEST_FIELD_STATUS, ck_request_get_waiting),
    T("Identity", CK_REQUEST_FIELD_STATUS, ck_request_get_identity),
    T("RecoveryStep", CK_REQUEST_FIELD_STATUS, ck_request_get_recovery_step),
    T("RecoveryReason", CK_REQUEST_FIELD_STATUS, ck_request_get_recovery_reason),
    B("AutoRenew", CK_REQUEST_FIELD_POLICY, ck_request_get_auto_renew),
    T("RenewBefore", CK_REQUEST_FIELD_POLICY, ck_request_get_renew_before),
    T("PreSaveCommand", CK_REQUEST_FIELD_POLICY, ck_request_get_pre_save_command),
    T("PostSaveCommand", CK_REQUEST_FIELD_POLICY, ck_request_get_post_save_command),
    T("HookUser", CK_REQUEST_FIELD_POLICY, ck_request_get_hook_user),
    T("ReloadUnit", CK_REQUEST_FIELD_POLICY, ck_request_get_reload_unit),
    T("ReloadMode", CK_REQUEST_FIELD_POLICY, ck_request_get_reload_mode),
    T("PidFile", CK_REQUEST_FIELD_POLICY, ck_request_get_pid_file),
    T("PidSignal", CK_REQUEST_FIELD_POLICY, ck_prop_pid_signal),
    T("CheckEndpoint", CK_REQUEST_FIELD_POLICY, ck_request_get_check_endpoint),
    T("CheckCommand", CK_REQUEST_FIELD_POLICY, ck_request_get_check_command),
    T("BootstrapCertFile", CK_REQUEST_FIELD_POLICY, ck_request_get_bootstrap_cert_file),
    T("BootstrapKeyFile", CK_REQUEST_FIELD_POLICY, ck_request_get_bootstrap_key_file),
    T("ProofKeyFile", CK_REQUEST_FIELD_POLICY, ck_request_get_proof_key_file),
    T("ProofKeyProvider", CK_REQUEST_FIELD_POLICY, ck_request_get_proof_key_provider),
    T("Declared", CK_REQUEST_FIELD_POLICY, ck_request_get_declared),
    /* tied to the installed certificate: a new one ends the revocation */
    TM("Revoked", CK_REQUEST_FIELD_STATUS | CK_REQUEST_FIELD_CERTIFICATE, ck_request_get_revoked),
    T("RevocationReason", CK_REQUEST_FIELD_STATUS | CK_REQUEST_FIELD_CERTIFICATE,
      ck_request_get_revocation_reason),
#undef T
#undef L
#undef TM
#undef B
#undef N
};

/*
 * Where @property is in ck_props, or -1. GetManagedObjects asks for every
 * property of every request, so a scan of the table per property would make
 * `certkeeper list` grow with the square of the number of properties.
 */
static gint
ck_bus_request_property_index(const char *property)
{
	/* built once, on the bus thread, and kept for the life of the process */
	static GHashTable *index = NULL;

	if (index == NULL) {
		index = g_hash_table_new(g_str_hash, g_str_equal);
		for (guint i = 0; i < G_N_ELEMENTS(ck_props); i++)
			g_hash_table_insert(index, (gpointer)ck_props[i].name,
					    GUINT_TO_POINTER(i + 1));
	}
	return (gint)GPOINTER_TO_UINT(g_hash_table_lookup(index, property)) - 1;
}

/* Appends the value of @request's @property, in its own type (not in a variant). */
static int
ck_bus_request_append_value(CkBus *self, CkRequest *request, const char *property,
			    sd_bus_message *reply, sd_bus_error *error)
{
	gint i;

	/* the one property that is the CA's, not the request's */
	if (strcmp(property, "CAError") == 0) {
		CkCa *ca = ck_engine_find_ca(self->engine, ck_request_get_ca(request));
		return sd_bus_message_append(reply, "s", ca != NULL ? ck_ca_get_error(ca) : "");
	}
	/* append_basic, not append(): a listing of thousands spends its time here, and
	 * the format string would be parsed again for every value */
	i = ck_bus_request_property_index(property);
	if (i >= 0) {
		switch (ck_props[i].kind) {
		case CK_PROP_TEXT: {
			const gchar *text = ck_props[i].text(request);
			return sd_bus_message_append_basic(reply, 's', text != NULL ? text : "");
		}
		case CK_PROP_LIST:
			return sd_bus_message_append_strv(reply, (char **)ck_props[i].list(request));
		case CK_PROP_TIME: {
			guint64 when = (guint64)MAX(ck_props[i].time(request), 0);
			return sd_bus_message_append_basic(reply, 't', &when);
		}
		case CK_PROP_FLAG: {
			int flag = ck_props[i].flag(request) ? 1 : 0;
			return sd_bus_message_append_basic(reply, 'b', &flag);
		}
		case CK_PROP_NUMBER: {
			guint32 number = ck_props[i].number(request);
			return sd_bus_message_append_basic(reply, 'u', &number);
		}
		}
	}
	return ck_bus_error_setf(error, CK_ERROR_NOT_FOUND, _("No property '%s'"), property);
}

static int
ck_bus_request_get_property(sd_bus *bus, const char *path, const char *interface,
			    const char *property, sd_bus_message *reply, void *userdata,
			    sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkRequest *request = ck_bus_request_from_path(self, path, error);

	if (request == NULL)
		return -ENOENT;
	return ck_bus_request_append_value(self, request, property, reply, error);
}

/* The signature of the Request1 property @name, or NULL if there is none. */
static const char *
ck_bus_request_property_signature(const char *name)
{
	for (const sd_bus_vtable *v = ck_bus_request_vtable; v->type != _SD_BUS_VTABLE_END; v++) {
		if (v->type == _SD_BUS_VTABLE_PROPERTY && strcmp(v->x.property.member, name) == 0)
			return v->x.property.signature;
	}
	return NULL;
}

int
ck_bus_request_check_property_names(const char *const *names, sd_bus_error *error)
{
	for (guint i = 0; names != NULL && names[i] != NULL; i++) {
		if (ck_bus_request_property_signature(names[i]) == NULL)
			return ck_bus_error_setf(error, CK_ERROR_INVALID_ARGUMENT,
						 _("Request1 has no property '%s'"), names[i]);
	}
	return 0;
}

int
ck_bus_request_append_properties(CkBus *self, CkRequest *request, const char *const *names,
				 sd_bus_message *reply, sd_bus_error *error)
{
	int r = sd_bus_message_open_container(reply, 'a', "{sv}");

	for (const sd_bus_vtable *v = ck_bus_request_vtable; r >= 0 && v->type != _SD_BUS_VTABLE_END;
	     v++) {
		const char *name;
		if (v->type != _SD_BUS_VTABLE_PROPERTY)
			continue;
		name = v->x.property.member;
		/* in the vtable's order, as GetAll: the caller's list only filters */
		if (names != NULL && names[0] != NULL && !g_strv_contains(names, name))
			continue;
		r = sd_bus_message_open_container(reply, 'e', "sv");
		if (r >= 0)
			r = sd_bus_message_append_basic(reply, 's', name);
		if (r >= 0)
			r = sd_bus_message_open_container(reply, 'v', v->x.property.signature);
		if (r >= 0)
			r = ck_bus_request_append_value(self, request, name, reply, error);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

guint
ck_bus_request_changed_properties(guint fields, const char **names, guint max)
{
	guint n = 0;
	for (guint i = 0; i < G_N_ELEMENTS(ck_props) && n + 1 < max; i++) {
		if ((ck_props[i].field & fields) != 0)
			names[n++] = ck_props[i].name;
	}
	names[n] = NULL;
	return n;
}

/* Methods: each reads its arguments, finds its request, authorises, acts, replies. */

static CkRequest *
ck_bus_request_of(sd_bus_message *m, CkBus *self, sd_bus_error *error)
{
	return ck_bus_request_from_path(self, sd_bus_message_get_path(m), error);
}

static int
ck_bus_request_renew(sd_bus_message *m, CkBus *self, gboolean rekey, sd_bus_error *error)
{
	CkRequest *request = ck_bus_request_of(m, self, error);
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	gboolean ok;
	int r;

	if (request == NULL)
		return -ENOENT;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	ok = ck_engine_renew_as(self->engine, &caller, ck_request_get_id(request), rekey,
				&local_error);
	if (!ok)
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_request_method_resubmit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return ck_bus_request_renew(m, CK_BUS(userdata), FALSE, error);
}

static int
ck_bus_request_method_rekey(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return ck_bus_request_renew(m, CK_BUS(userdata), TRUE, error);
}

/* A Revoke call waiting for the CA's answer. */
typedef struct {
	CkBus *bus;
	sd_bus_message *message;
} CkBusRevoke;

static void
ck_bus_request_revoked_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CkBusRevoke *call = user_data;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	g_autoptr(GError) local_error = NULL;
	int r;

	if (ck_engine_revoke_finish(CK_ENGINE(source), res, &local_error)) {
		r = sd_bus_reply_method_return(call->message, NULL);
	} else {
		ck_bus_error_from_gerror(&error, local_error);
		r = sd_bus_reply_method_error(call->message, &error);
		sd_bus_error_free(&error);
	}
	/* the caller may have gone away meanwhile; nothing else is left to tell */
	if (r < 0)
		g_debug("cannot answer Revoke: %s", g_strerror(-r));
	sd_bus_message_unref(call->message);
	g_object_unref(call->bus);
	g_free(call);
}

/*
 * Revoke answers when the CA has: unlike Resubmit, which starts a lifecycle whose
 * progress State shows, a revocation has nothing to watch, and the caller wants
 * to know whether the CA revoked. Every outcome, also an early refusal, comes
 * through the callback.
 */
static int
ck_bus_request_method_revoke(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkRequest *request = ck_bus_request_of(m, self, error);
	CkCaller caller = {0};
	CkBusRevoke *call;
	const char *reason = NULL;
	int r;

	if (request == NULL)
		return -ENOENT;
	r = sd_bus_message_read(m, "s", &reason);
	if (r < 0)
		return r;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	call = g_new0(CkBusRevoke, 1);
	call->bus = g_object_ref(self);
	call->message = sd_bus_message_ref(m);
	ck_engine_revoke_async(self->engine, &caller, ck_request_get_id(request), reason, NULL,
			       ck_bus_request_revoked_cb, call);
	/* the reply is sent by the callback */
	return 1;
}

static int
ck_bus_request_method_refresh(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkRequest *request = ck_bus_request_of(m, self, error);
	g_autoptr(GError) local_error = NULL;

	if (request == NULL)
		return -ENOENT;
	/* reading a file again changes nothing the caller could not see: anyone may */
	if (!ck_engine_refresh_request(self->engine, ck_request_get_id(request), &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_request_method_modify(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkRequest *request = ck_bus_request_of(m, self, error);
	g_autoptr(CkRequest) changed = NULL;
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	int r;

	if (request == NULL)
		return -ENOENT;
	changed = ck_request_dup(request);
	r = ck_bus_options_read(m, changed, TRUE, error);
	if (r < 0)
		return r;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	if (!ck_engine_modify_request(self->engine, &caller, ck_request_get_id(request), changed,
				      &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

#define CK_PROPERTY(name, sig)                                                                     \
	SD_BUS_PROPERTY(name, sig, ck_bus_request_get_property, 0,                                 \
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

const sd_bus_vtable ck_bus_request_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Id", "s", ck_bus_request_get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    CK_PROPERTY("State", "s"),
    CK_PROPERTY("Stuck", "b"),
    CK_PROPERTY("WorkingSince", "t"),
    CK_PROPERTY("ExpiryStatus", "s"),
    CK_PROPERTY("Subject", "s"),
    CK_PROPERTY("DNSNames", "as"),
    CK_PROPERTY("IPAddresses", "as"),
    CK_PROPERTY("Emails", "as"),
    CK_PROPERTY("URIs", "as"),
    CK_PROPERTY("Principals", "as"),
    CK_PROPERTY("KeyUsage", "as"),
    CK_PROPERTY("ExtendedKeyUsage", "as"),
    CK_PROPERTY("KeyType", "s"),
    CK_PROPERTY("KeyProvider", "s"),
    CK_PROPERTY("KeyPolicy", "s"),
    CK_PROPERTY("CertFile", "s"),
    CK_PROPERTY("KeyFile", "s"),
    CK_PROPERTY("ChainFile", "s"),
    CK_PROPERTY("CombinedFile", "s"),
    CK_PROPERTY("Directory", "s"),
    CK_PROPERTY("CertMode", "u"),
    CK_PROPERTY("KeyMode", "u"),
    CK_PROPERTY("Owner", "u"),
    CK_PROPERTY("CA", "s"),
    CK_PROPERTY("Profile", "s"),
    CK_PROPERTY("Validity", "t"),
    CK_PROPERTY("NotBefore", "t"),
    CK_PROPERTY("NotAfter", "t"),
    CK_PROPERTY("Serial", "s"),
    CK_PROPERTY("Issuer", "s"),
    CK_PROPERTY("LastError", "s"),
    CK_PROPERTY("CAError", "s"),
    CK_PROPERTY("LastFailure", "s"),
    CK_PROPERTY("LastFailureTime", "t"),
    CK_PROPERTY("RenewalTime", "t"),
    CK_PROPERTY("RenewalWindowStart", "t"),
    CK_PROPERTY("RenewalWindowEnd", "t"),
    CK_PROPERTY("NextAttempt", "t"),
    CK_PROPERTY("FailedAttempts", "u"),
    CK_PROPERTY("LastRenewal", "t"),
    CK_PROPERTY("Waiting", "s"),
    CK_PROPERTY("Identity", "s"),
    CK_PROPERTY("RecoveryStep", "s"),
    CK_PROPERTY("RecoveryReason", "s"),
    CK_PROPERTY("AutoRenew", "b"),
    CK_PROPERTY("RenewBefore", "s"),
    CK_PROPERTY("PreSaveCommand", "s"),
    CK_PROPERTY("PostSaveCommand", "s"),
    CK_PROPERTY("HookUser", "s"),
    CK_PROPERTY("ReloadUnit", "s"),
    CK_PROPERTY("ReloadMode", "s"),
    CK_PROPERTY("PidFile", "s"),
    CK_PROPERTY("PidSignal", "s"),
    CK_PROPERTY("CheckEndpoint", "s"),
    CK_PROPERTY("CheckCommand", "s"),
    CK_PROPERTY("BootstrapCertFile", "s"),
    CK_PROPERTY("BootstrapKeyFile", "s"),
    CK_PROPERTY("ProofKeyFile", "s"),
    CK_PROPERTY("ProofKeyProvider", "s"),
    CK_PROPERTY("Declared", "s"),
    CK_PROPERTY("Revoked", "t"),
    CK_PROPERTY("RevocationReason", "s"),
    SD_BUS_METHOD_WITH_ARGS("Resubmit", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
			    ck_bus_request_method_resubmit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Rekey", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
			    ck_bus_request_method_rekey, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Revoke", SD_BUS_ARGS("s", reason), SD_BUS_NO_RESULT,
			    ck_bus_request_method_revoke, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Refresh", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
			    ck_bus_request_method_refresh, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Modify", SD_BUS_ARGS("a{sv}", options), SD_BUS_NO_RESULT,
			    ck_bus_request_method_modify, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_SIGNAL_WITH_ARGS("CertificateSaved", SD_BUS_ARGS("s", serial), 0),
    SD_BUS_VTABLE_END,
};

/* Objects */

int
ck_bus_request_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
		    void **found, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);

	if (ck_bus_request_lookup(self, path) == NULL)
		return 0;
	/* getters and methods find the request from the path; they need the adapter */
	*found = self;
	return 1;
}

int
ck_bus_request_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
			 sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) requests = ck_engine_get_requests(self->engine);

	return ck_bus_node_list(requests, (char *(*)(gpointer))ck_bus_request_path, nodes);
}
