/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>

#include "ck-bus-error.h"
#include "ck-bus-options.h"
#include "ck-bus.h"
#include "ck-error.h"
#include "ck-event-source.h"

/* sd-bus objects in g_autoptr; the unref functions return NULL, which is ignored */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_creds, sd_bus_creds_unref)

struct _CkBus {
	GObject parent_instance;
	CkEngine *engine;
	sd_bus *bus;
	sd_event *event;
	GSource *source;
};

G_DEFINE_TYPE(CkBus, ck_bus, G_TYPE_OBJECT)

enum { SIGNAL_DISCONNECTED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

/* The request's object path; free() the result (sd-bus allocates it). */
static char *
ck_bus_request_path(CkRequest *request)
{
	char *path = NULL;
	if (sd_bus_path_encode(CK_BUS_REQUEST_PATH, ck_request_get_id(request), &path) < 0)
		return NULL;
	return path;
}

/* Who called: the caller's effective uid (and pid, unit) from the bus's record. */
static int
ck_bus_get_caller(sd_bus_message *m, CkCaller *caller, sd_bus_error *error)
{
	g_autoptr(sd_bus_creds) creds = NULL;
	int r = sd_bus_query_sender_creds(m, SD_BUS_CREDS_EUID | SD_BUS_CREDS_PID | SD_BUS_CREDS_AUGMENT,
					  &creds);
	pid_t pid = 0;

	if (r >= 0)
		r = sd_bus_creds_get_euid(creds, &caller->uid);
	if (r < 0)
		return ck_bus_error_setf(error, CK_ERROR_ACCESS_DENIED,
					 _("Cannot identify the caller: %s"), g_strerror(-r));
	caller->pid = sd_bus_creds_get_pid(creds, &pid) >= 0 ? pid : 0;
	caller->unit = NULL;
	return 0;
}

/* The request behind @path, or NULL with @error set. */
static CkRequest *
ck_bus_request_from_path(CkBus *self, const char *path, sd_bus_error *error)
{
	char *id = NULL;
	CkRequest *request = NULL;
	int r = sd_bus_path_decode(path, CK_BUS_REQUEST_PATH, &id);

	if (r > 0)
		request = ck_engine_find_request(self->engine, id);
	free(id);
	if (request == NULL)
		ck_bus_error_setf(error, CK_ERROR_NOT_FOUND, _("No request at '%s'"), path);
	return request;
}

static int
ck_bus_method_add_request(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(CkRequest) template = ck_engine_new_request_template(self->engine);
	g_autoptr(GError) local_error = NULL;
	char *path = NULL;
	CkRequest *request;
	CkCaller caller = {0};
	int r;

	r = ck_bus_options_read(m, template, FALSE, error);
	if (r < 0)
		goto out;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		goto out;
	request = ck_engine_add_request_as(self->engine, &caller, template, &local_error);
	if (request == NULL) {
		g_message("AddRequest from uid %u refused: %s", (guint)caller.uid,
			  local_error->message);
		r = ck_bus_error_from_gerror(error, local_error);
		goto out;
	}
	path = ck_bus_request_path(request);
	if (path == NULL) {
		r = -ENOMEM;
		goto out;
	}
	r = sd_bus_reply_method_return(m, "o", path);
out:
	free(path);
	return r;
}

static int
ck_bus_method_remove_request(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GError) local_error = NULL;
	const char *path = NULL;
	CkCaller caller = {0};
	CkRequest *request;
	int r;

	r = sd_bus_message_read(m, "o", &path);
	if (r < 0)
		return r;
	request = ck_bus_request_from_path(self, path, error);
	if (request == NULL)
		return -ENOENT;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	if (!ck_engine_authorize(self->engine, &caller, request, "RemoveRequest", FALSE,
				 &local_error) ||
	    !ck_engine_remove_request(self->engine, ck_request_get_id(request), &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_method_get_requests(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) requests = ck_engine_get_requests(self->engine);
	sd_bus_message *reply = NULL;
	int r;

	r = sd_bus_message_new_method_return(m, &reply);
	if (r < 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', "o");
	for (guint i = 0; r >= 0 && i < requests->len; i++) {
		char *path = ck_bus_request_path(g_ptr_array_index(requests, i));
		r = path != NULL ? sd_bus_message_append(reply, "o", path) : -ENOMEM;
		free(path);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r;
}

static const sd_bus_vtable ck_bus_manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD_WITH_ARGS("AddRequest", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", request),
			    ck_bus_method_add_request, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("RemoveRequest", SD_BUS_ARGS("o", request), SD_BUS_NO_RESULT,
			    ck_bus_method_remove_request, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetRequests", SD_BUS_NO_ARGS, SD_BUS_RESULT("ao", requests),
			    ck_bus_method_get_requests, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* Request1 properties */

static int
ck_bus_append_strv(sd_bus_message *reply, const gchar *const *strv)
{
	return sd_bus_message_append_strv(reply, (char **)strv);
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
#define STR(v) ((v) != NULL ? (v) : "")
	if (strcmp(property, "Id") == 0)
		return sd_bus_message_append(reply, "s", ck_request_get_id(request));
	if (strcmp(property, "State") == 0)
		return sd_bus_message_append(
		    reply, "s", ck_request_state_to_string(ck_request_get_state(request)));
	if (strcmp(property, "Stuck") == 0)
		return sd_bus_message_append(reply, "b", (int)ck_request_get_stuck(request));
	if (strcmp(property, "Subject") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_subject(request)));
	if (strcmp(property, "DNSNames") == 0)
		return ck_bus_append_strv(reply, ck_request_get_dns_names(request));
	if (strcmp(property, "IPAddresses") == 0)
		return ck_bus_append_strv(reply, ck_request_get_ip_addresses(request));
	if (strcmp(property, "Emails") == 0)
		return ck_bus_append_strv(reply, ck_request_get_emails(request));
	if (strcmp(property, "URIs") == 0)
		return ck_bus_append_strv(reply, ck_request_get_uris(request));
	if (strcmp(property, "KeyType") == 0)
		return sd_bus_message_append(
		    reply, "s", ck_key_type_to_string(ck_request_get_key_type(request)));
	if (strcmp(property, "CertFile") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_cert_file(request)));
	if (strcmp(property, "KeyFile") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_key_file(request)));
	if (strcmp(property, "ChainFile") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_chain_file(request)));
	if (strcmp(property, "CA") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_ca(request)));
	if (strcmp(property, "NotBefore") == 0)
		return sd_bus_message_append(reply, "t",
					     (guint64)MAX(ck_request_get_not_before(request), 0));
	if (strcmp(property, "NotAfter") == 0)
		return sd_bus_message_append(reply, "t",
					     (guint64)MAX(ck_request_get_not_after(request), 0));
	if (strcmp(property, "Serial") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_serial(request)));
	if (strcmp(property, "Issuer") == 0)
		return sd_bus_message_append(reply, "s", STR(ck_request_get_issuer(request)));
	if (strcmp(property, "LastError") == 0)
		return sd_bus_message_append(reply, "s", ck_request_get_last_error(request));
	if (strcmp(property, "RenewalTime") == 0)
		return sd_bus_message_append(reply, "t",
					     (guint64)MAX(ck_request_get_renewal_time(request), 0));
	if (strcmp(property, "NextAttempt") == 0)
		return sd_bus_message_append(reply, "t",
					     (guint64)MAX(ck_request_get_next_attempt(request), 0));
	if (strcmp(property, "FailedAttempts") == 0)
		return sd_bus_message_append(reply, "u",
					     (guint32)ck_request_get_failed_attempts(request));
	if (strcmp(property, "LastFailureTime") == 0)
		return sd_bus_message_append(
		    reply, "t", (guint64)MAX(ck_request_get_last_failure_time(request), 0));
	if (strcmp(property, "LastRenewal") == 0)
		return sd_bus_message_append(reply, "t",
					     (guint64)MAX(ck_request_get_last_renewal(request), 0));
	if (strcmp(property, "Waiting") == 0)
		return sd_bus_message_append(reply, "s", ck_request_get_waiting(request));
	if (strcmp(property, "Identity") == 0)
		return sd_bus_message_append(reply, "s", ck_request_get_identity(request));
	if (strcmp(property, "KeyPolicy") == 0)
		return sd_bus_message_append(
		    reply, "s", ck_key_policy_to_string(ck_request_get_key_policy(request)));
	if (strcmp(property, "AutoRenew") == 0)
		return sd_bus_message_append(reply, "b", (int)ck_request_get_auto_renew(request));
	if (strcmp(property, "RenewBefore") == 0)
		return sd_bus_message_append(reply, "s", ck_request_get_renew_before(request));
#undef STR
	return ck_bus_error_setf(error, CK_ERROR_NOT_FOUND, _("No property '%s'"), property);
}

/* Resubmit and Rekey: renew now, keeping the key or making a new one. */
static int
ck_bus_request_renew(sd_bus_message *m, void *userdata, gboolean rekey, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	CkRequest *request = ck_bus_request_from_path(self, sd_bus_message_get_path(m), error);
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	gboolean ok;
	int r;

	if (request == NULL)
		return -ENOENT;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	ok = ck_engine_authorize(self->engine, &caller, request, rekey ? "Rekey" : "Resubmit",
				 TRUE, &local_error) &&
	     (rekey ? ck_engine_rekey(self->engine, ck_request_get_id(request), &local_error)
		    : ck_engine_resubmit(self->engine, ck_request_get_id(request), &local_error));
	if (!ok)
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_request_method_resubmit(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return ck_bus_request_renew(m, userdata, FALSE, error);
}

static int
ck_bus_request_method_rekey(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return ck_bus_request_renew(m, userdata, TRUE, error);
}

#define CK_BUS_REQUEST_PROPERTY(name, sig)                                                         \
	SD_BUS_PROPERTY(name, sig, ck_bus_request_get_property, 0,                                 \
			SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE)

static const sd_bus_vtable ck_bus_request_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Id", "s", ck_bus_request_get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    CK_BUS_REQUEST_PROPERTY("State", "s"),
    CK_BUS_REQUEST_PROPERTY("Stuck", "b"),
    CK_BUS_REQUEST_PROPERTY("Subject", "s"),
    CK_BUS_REQUEST_PROPERTY("DNSNames", "as"),
    CK_BUS_REQUEST_PROPERTY("IPAddresses", "as"),
    CK_BUS_REQUEST_PROPERTY("Emails", "as"),
    CK_BUS_REQUEST_PROPERTY("URIs", "as"),
    CK_BUS_REQUEST_PROPERTY("KeyType", "s"),
    CK_BUS_REQUEST_PROPERTY("CertFile", "s"),
    CK_BUS_REQUEST_PROPERTY("KeyFile", "s"),
    CK_BUS_REQUEST_PROPERTY("ChainFile", "s"),
    CK_BUS_REQUEST_PROPERTY("CA", "s"),
    CK_BUS_REQUEST_PROPERTY("NotBefore", "t"),
    CK_BUS_REQUEST_PROPERTY("NotAfter", "t"),
    CK_BUS_REQUEST_PROPERTY("Serial", "s"),
    CK_BUS_REQUEST_PROPERTY("Issuer", "s"),
    CK_BUS_REQUEST_PROPERTY("LastError", "s"),
    CK_BUS_REQUEST_PROPERTY("RenewalTime", "t"),
    CK_BUS_REQUEST_PROPERTY("NextAttempt", "t"),
    CK_BUS_REQUEST_PROPERTY("FailedAttempts", "u"),
    CK_BUS_REQUEST_PROPERTY("LastFailureTime", "t"),
    CK_BUS_REQUEST_PROPERTY("LastRenewal", "t"),
    CK_BUS_REQUEST_PROPERTY("Waiting", "s"),
    CK_BUS_REQUEST_PROPERTY("Identity", "s"),
    CK_BUS_REQUEST_PROPERTY("KeyPolicy", "s"),
    CK_BUS_REQUEST_PROPERTY("AutoRenew", "b"),
    CK_BUS_REQUEST_PROPERTY("RenewBefore", "s"),
    SD_BUS_METHOD_WITH_ARGS("Resubmit", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
			    ck_bus_request_method_resubmit, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Rekey", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT,
			    ck_bus_request_method_rekey, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* Which properties each CkRequestField bit stands for. */
static const struct {
	guint field;
	const char *properties[6];
} ck_bus_field_properties[] = {
    {CK_REQUEST_FIELD_STATE, {"State", "Stuck", NULL}},
    {CK_REQUEST_FIELD_SUBJECT, {"Subject", NULL}},
    {CK_REQUEST_FIELD_DNS_NAMES, {"DNSNames", NULL}},
    {CK_REQUEST_FIELD_IP_ADDRESSES, {"IPAddresses", NULL}},
    {CK_REQUEST_FIELD_EMAILS, {"Emails", NULL}},
    {CK_REQUEST_FIELD_URIS, {"URIs", NULL}},
    {CK_REQUEST_FIELD_CERT_FILE, {"CertFile", NULL}},
    {CK_REQUEST_FIELD_KEY_FILE, {"KeyFile", NULL}},
    {CK_REQUEST_FIELD_CHAIN_FILE, {"ChainFile", NULL}},
    {CK_REQUEST_FIELD_CA, {"CA", NULL}},
    {CK_REQUEST_FIELD_CERTIFICATE, {"NotBefore", "NotAfter", "Serial", "Issuer", NULL}},
    {CK_REQUEST_FIELD_LAST_ERROR, {"LastError", NULL}},
    {CK_REQUEST_FIELD_KEY_TYPE, {"KeyType", NULL}},
    {CK_REQUEST_FIELD_SCHEDULE,
     {"RenewalTime", "NextAttempt", "FailedAttempts", "LastFailureTime", "LastRenewal", NULL}},
    {CK_REQUEST_FIELD_STATUS, {"Waiting", "Identity", NULL}},
    {CK_REQUEST_FIELD_POLICY, {"KeyPolicy", "AutoRenew", "RenewBefore", NULL}},
};

static int
ck_bus_request_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
		    void **found, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	char *id = NULL;
	CkRequest *request = NULL;
	int r = sd_bus_path_decode(path, CK_BUS_REQUEST_PATH, &id);

	if (r <= 0)
		return r;
	request = ck_engine_find_request(self->engine, id);
	free(id);
	if (request == NULL)
		return 0;
	/* getters and methods find the request from the path; they need the adapter */
	*found = self;
	return 1;
}

static int
ck_bus_request_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
			 sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) requests = ck_engine_get_requests(self->engine);
	/* sd-bus frees the list with free(): allocate it with malloc() */
	char **list = calloc(requests->len + 1, sizeof(char *));

	if (list == NULL)
		return -ENOMEM;
	for (guint i = 0; i < requests->len; i++) {
		list[i] = ck_bus_request_path(g_ptr_array_index(requests, i));
		if (list[i] == NULL) {
			for (guint j = 0; j < i; j++)
				free(list[j]);
			free(list);
			return -ENOMEM;
		}
	}
	*nodes = list;
	return 1;
}

/* Engine signals -> bus signals */

static void
ck_bus_request_added_cb(CkEngine *engine, CkRequest *request, CkBus *self)
{
	char *path = ck_bus_request_path(request);
	int r = path != NULL ? sd_bus_emit_interfaces_added(self->bus, path, CK_BUS_REQUEST_IFACE,
							    NULL)
			     : -ENOMEM;
	if (r < 0)
		g_warning("cannot announce request %s: %s", ck_request_get_id(request),
			  g_strerror(-r));
	free(path);
}

static void
ck_bus_request_removed_cb(CkEngine *engine, CkRequest *request, CkBus *self)
{
	char *path = ck_bus_request_path(request);
	int r = path != NULL ? sd_bus_emit_interfaces_removed(self->bus, path,
							      CK_BUS_REQUEST_IFACE, NULL)
			     : -ENOMEM;
	if (r < 0)
		g_warning("cannot announce the removal of request %s: %s",
			  ck_request_get_id(request), g_strerror(-r));
	free(path);
}

static void
ck_bus_request_changed_cb(CkEngine *engine, CkRequest *request, guint fields, CkBus *self)
{
	const char *names[32];
	guint n = 0;
	char *path;
	int r;

	for (guint i = 0; i < G_N_ELEMENTS(ck_bus_field_properties); i++) {
		if ((fields & ck_bus_field_properties[i].field) == 0)
			continue;
		for (guint j = 0; ck_bus_field_properties[i].properties[j] != NULL; j++)
			names[n++] = ck_bus_field_properties[i].properties[j];
	}
	if (n == 0)
		return;
	names[n] = NULL;
	path = ck_bus_request_path(request);
	r = path != NULL ? sd_bus_emit_properties_changed_strv(self->bus, path,
							       CK_BUS_REQUEST_IFACE, (char **)names)
			 : -ENOMEM;
	if (r < 0)
		g_warning("cannot announce a change of request %s: %s",
			  ck_request_get_id(request), g_strerror(-r));
	free(path);
}

static int
ck_bus_disconnected_cb(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_signal_emit(self, signals[SIGNAL_DISCONNECTED], 0);
	return 0;
}

static int
ck_bus_open(const gchar *bus_spec, sd_bus **ret)
{
	sd_bus *bus = NULL;
	int r;

	if (g_strcmp0(bus_spec, "system") == 0)
		return sd_bus_open_system(ret);
	if (g_strcmp0(bus_spec, "session") == 0)
		return sd_bus_open_user(ret);
	r = sd_bus_new(&bus);
	if (r < 0)
		return r;
	r = sd_bus_set_address(bus, bus_spec);
	if (r >= 0)
		r = sd_bus_set_bus_client(bus, 1);
	if (r >= 0)
		r = sd_bus_start(bus);
	if (r < 0) {
		sd_bus_unref(bus);
		return r;
	}
	*ret = bus;
	return 0;
}

gboolean
ck_bus_connect(CkBus *self, const gchar *bus_spec, GError **error)
{
	int r;

	g_return_val_if_fail(CK_IS_BUS(self), FALSE);
	g_return_val_if_fail(self->bus == NULL, FALSE);

	r = ck_bus_open(bus_spec, &self->bus);
	if (r < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    /* TRANSLATORS: bus name or address, then the reason */
			    _("Cannot connect to the D-Bus bus '%s': %s"), bus_spec,
			    g_strerror(-r));
		return FALSE;
	}
	/* vtables first, then the name, then the event loop (no call is seen half-set-up) */
	r = sd_bus_add_object_vtable(self->bus, NULL, CK_BUS_MANAGER_PATH, CK_BUS_MANAGER_IFACE,
				     ck_bus_manager_vtable, self);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(self->bus, NULL, CK_BUS_REQUEST_PATH,
					       CK_BUS_REQUEST_IFACE, ck_bus_request_vtable,
					       ck_bus_request_find, self);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(self->bus, NULL, CK_BUS_REQUEST_PATH,
					       ck_bus_request_enumerate, self);
	if (r >= 0)
		r = sd_bus_add_object_manager(self->bus, NULL, CK_BUS_MANAGER_PATH);
	if (r >= 0)
		r = sd_bus_match_signal(self->bus, NULL, "org.freedesktop.DBus.Local", NULL,
					"org.freedesktop.DBus.Local", "Disconnected",
					ck_bus_disconnected_cb, self);
	if (r < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    _("Cannot publish the D-Bus objects: %s"), g_strerror(-r));
		return FALSE;
	}
	r = sd_bus_request_name(self->bus, CK_BUS_NAME, 0);
	if (r == -EEXIST || r == -EALREADY) {
		g_set_error(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS,
			    _("Another certkeeperd already owns %s on this bus; stop it first"),
			    CK_BUS_NAME);
		return FALSE;
	}
	if (r < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_ACCESS_DENIED,
			    _("Cannot own the bus name %s: %s (is the D-Bus policy file "
			      "installed, and is certkeeperd running as root?)"),
			    CK_BUS_NAME, g_strerror(-r));
		return FALSE;
	}
	r = sd_event_new(&self->event);
	if (r >= 0)
		r = sd_bus_attach_event(self->bus, self->event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    _("Cannot attach to the event loop: %s"), g_strerror(-r));
		return FALSE;
	}
	self->source = ck_event_source_new(self->event);
	g_source_attach(self->source, g_main_context_get_thread_default());

	g_signal_connect_object(self->engine, "request-added", G_CALLBACK(ck_bus_request_added_cb),
				self, 0);
	g_signal_connect_object(self->engine, "request-removed",
				G_CALLBACK(ck_bus_request_removed_cb), self, 0);
	g_signal_connect_object(self->engine, "request-changed",
				G_CALLBACK(ck_bus_request_changed_cb), self, 0);
	return TRUE;
}

static void
ck_bus_finalize(GObject *object)
{
	CkBus *self = CK_BUS(object);

	if (self->source != NULL) {
		g_source_destroy(self->source);
		g_source_unref(self->source);
	}
	if (self->bus != NULL) {
		sd_bus_flush(self->bus);
		sd_bus_detach_event(self->bus);
		sd_bus_close_unref(self->bus);
	}
	if (self->event != NULL)
		sd_event_unref(self->event);
	g_object_unref(self->engine);
	G_OBJECT_CLASS(ck_bus_parent_class)->finalize(object);
}

static void
ck_bus_init(CkBus *self)
{
}

static void
ck_bus_class_init(CkBusClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = ck_bus_finalize;
	signals[SIGNAL_DISCONNECTED] =
	    g_signal_new("disconnected", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 0);
}

CkBus *
ck_bus_new(CkEngine *engine)
{
	CkBus *self = g_object_new(CK_TYPE_BUS, NULL);
	self->engine = g_object_ref(engine);
	return self;
}
