/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The bus adapter: the connection, org.certkeeper.Manager1 on the manager object
 * with the ObjectManager, and the relay of engine signals into InterfacesAdded,
 * InterfacesRemoved, PropertiesChanged and CertificateSaved. Request1 objects are
 * in ck-bus-request.c, CA1 objects in ck-bus-ca.c.
 */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-login.h>

#include "ck-bus-error.h"
#include "ck-bus-options.h"
#include "ck-bus-private.h"
#include "ck-error.h"
#include "ck-event-source.h"

G_DEFINE_TYPE(CkBus, ck_bus, G_TYPE_OBJECT)

enum { SIGNAL_DISCONNECTED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

/* Shared helpers */

char *
ck_bus_request_path(CkRequest *request)
{
	char *path = NULL;
	if (sd_bus_path_encode(CK_BUS_REQUEST_PATH, ck_request_get_id(request), &path) < 0)
		return NULL;
	return path;
}

char *
ck_bus_ca_path(CkCa *ca)
{
	char *path = NULL;
	if (sd_bus_path_encode(CK_BUS_CA_PATH, ck_ca_get_name(ca), &path) < 0)
		return NULL;
	return path;
}

int
ck_bus_get_caller(sd_bus_message *m, CkCaller *caller, sd_bus_error *error)
{
	/* the unit of the last caller asked about: a CkCaller lives only while its
	 * method call is handled, and calls are handled one at a time */
	static char *unit = NULL;
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
	free(unit);
	unit = NULL;
	/* the audit log names the service that asked; a process outside any unit has none */
	if (caller->pid > 0 && sd_pid_get_unit(caller->pid, &unit) < 0)
		unit = NULL;
	caller->unit = unit;
	return 0;
}

int
ck_bus_node_list(GPtrArray *objects, char *(*path_of)(gpointer), char ***nodes)
{
	char **list = calloc(objects->len + 1, sizeof(char *));

	if (list == NULL)
		return -ENOMEM;
	for (guint i = 0; i < objects->len; i++) {
		list[i] = path_of(g_ptr_array_index(objects, i));
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

CkRequest *
ck_bus_request_lookup(CkBus *self, const char *path)
{
	char *id = NULL;
	CkRequest *request = NULL;
	int r;

	/* still tracked, and still the same object: a removed request is never found */
	if (path != NULL && self->resolved_request != NULL &&
	    g_strcmp0(path, self->resolved_path) == 0 &&
	    ck_engine_find_request(self->engine, ck_request_get_id(self->resolved_request)) ==
		self->resolved_request)
		return self->resolved_request;
	r = path != NULL ? sd_bus_path_decode(path, CK_BUS_REQUEST_PATH, &id) : 0;
	if (r > 0)
		request = ck_engine_find_request(self->engine, id);
	free(id);
	if (request == NULL)
		return NULL;
	g_free(self->resolved_path);
	self->resolved_path = g_strdup(path);
	g_set_object(&self->resolved_request, request);
	return request;
}

CkRequest *
ck_bus_request_from_path(CkBus *self, const char *path, sd_bus_error *error)
{
	CkRequest *request = ck_bus_request_lookup(self, path);

	if (request == NULL)
		ck_bus_error_setf(error, CK_ERROR_NOT_FOUND, _("No request at '%s'"),
				  path != NULL ? path : "");
	return request;
}

CkCa *
ck_bus_ca_from_path(CkBus *self, const char *path, sd_bus_error *error)
{
	char *name = NULL;
	CkCa *ca = NULL;
	int r = path != NULL ? sd_bus_path_decode(path, CK_BUS_CA_PATH, &name) : 0;

	if (r > 0)
		ca = ck_engine_find_ca(self->engine, name);
	free(name);
	if (ca == NULL)
		ck_bus_error_setf(error, CK_ERROR_NOT_FOUND, _("No CA at '%s'"),
				  path != NULL ? path : "");
	return ca;
}

int
ck_bus_append_paths(sd_bus_message *reply, GPtrArray *objects, char *(*path_of)(gpointer))
{
	int r = sd_bus_message_open_container(reply, 'a', "o");
	for (guint i = 0; r >= 0 && i < objects->len; i++) {
		char *path = path_of(g_ptr_array_index(objects, i));
		r = path != NULL ? sd_bus_message_append(reply, "o", path) : -ENOMEM;
		free(path);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

/* Replies with the object path of @object, or the engine's error. */
static int
ck_bus_reply_path(sd_bus_message *m, char *path, sd_bus_error *error)
{
	int r = path != NULL ? sd_bus_reply_method_return(m, "o", path) : -ENOMEM;
	free(path);
	return r;
}

/* Manager1: requests */

/* AddRequest and StartTracking read the same options; they differ in what follows. */
static int
ck_bus_new_request(sd_bus_message *m, CkBus *self, gboolean adopt, sd_bus_error *error)
{
	g_autoptr(CkRequest) template = ck_engine_new_request_template(self->engine);
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	CkRequest *request;
	int r;

	r = ck_bus_options_read(m, template, FALSE, error);
	if (r < 0)
		return r;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	request = adopt ? ck_engine_start_tracking(self->engine, &caller, template, &local_error)
			: ck_engine_add_request_as(self->engine, &caller, template, &local_error);
	if (request == NULL) {
		g_message("%s from uid %u refused: %s", adopt ? "StartTracking" : "AddRequest",
			  (guint)caller.uid, local_error->message);
		return ck_bus_error_from_gerror(error, local_error);
	}
	return ck_bus_reply_path(m, ck_bus_request_path(request), error);
}

static int
ck_bus_method_add_request(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return ck_bus_new_request(m, CK_BUS(userdata), FALSE, error);
}

static int
ck_bus_method_start_tracking(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	return ck_bus_new_request(m, CK_BUS(userdata), TRUE, error);
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
	if (!ck_engine_remove_request_as(self->engine, &caller, ck_request_get_id(request),
					 &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_method_find_request(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	const char *what = NULL;
	CkRequest *request;
	int r;

	r = sd_bus_message_read(m, "s", &what);
	if (r < 0)
		return r;
	/* an id or the path of a certificate file: paths are absolute, ids never are */
	request = g_path_is_absolute(what) ? ck_engine_find_request_by_path(self->engine, what)
					   : ck_engine_find_request(self->engine, what);
	if (request == NULL)
		return ck_bus_error_setf(error, CK_ERROR_NOT_FOUND,
					 _("No request has the id or certificate file '%s'"), what);
	return ck_bus_reply_path(m, ck_bus_request_path(request), error);
}

static int
ck_bus_reply_objects(sd_bus_message *m, GPtrArray *objects, char *(*path_of)(gpointer))
{
	g_autoptr(sd_bus_message) reply = NULL;
	int r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = ck_bus_append_paths(reply, objects, path_of);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

static int
ck_bus_method_get_requests(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) requests = ck_engine_get_requests(self->engine);
	return ck_bus_reply_objects(m, requests, (char *(*)(gpointer))ck_bus_request_path);
}

/*
 * The properties named of every request, in one message: `certkeeper list`
 * needs five of them, and GetManagedObjects would build all of them, with the
 * other interfaces of every object, only for the client to drop them.
 */
static int
ck_bus_method_get_request_properties(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) requests = ck_engine_get_requests(self->engine);
	g_autoptr(sd_bus_message) reply = NULL;
	g_auto(GStrv) names = NULL;
	int r = sd_bus_message_read_strv(m, &names);

	if (r < 0)
		return r;
	r = ck_bus_request_check_property_names((const char *const *)names, error);
	if (r < 0)
		return r;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "{oa{sv}}");
	for (guint i = 0; r >= 0 && i < requests->len; i++) {
		CkRequest *request = g_ptr_array_index(requests, i);
		char *path = ck_bus_request_path(request);
		if (path == NULL)
			return -ENOMEM;
		r = sd_bus_message_open_container(reply, 'e', "oa{sv}");
		if (r >= 0)
			r = sd_bus_message_append_basic(reply, 'o', path);
		free(path);
		if (r >= 0)
			r = ck_bus_request_append_properties(
			    self, request, (const char *const *)names, reply, error);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

/* Manager1: CAs */

static int
ck_bus_method_get_cas(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GPtrArray) cas = ck_engine_get_cas(self->engine);
	return ck_bus_reply_objects(m, cas, (char *(*)(gpointer))ck_bus_ca_path);
}

static int
ck_bus_method_add_ca(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(CkCaConfig) cfg = NULL;
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	const char *name = NULL;
	CkCa *ca;
	int r;

	r = sd_bus_message_read(m, "s", &name);
	if (r < 0)
		return r;
	cfg = ck_ca_config_new(name, "helper");
	r = ck_bus_ca_read_options(m, cfg, error);
	if (r < 0)
		return r;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	ca = ck_engine_add_ca(self->engine, &caller, cfg, &local_error);
	if (ca == NULL)
		return ck_bus_error_from_gerror(error, local_error);
	return ck_bus_reply_path(m, ck_bus_ca_path(ca), error);
}

static int
ck_bus_method_modify_ca(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(CkCaConfig) cfg = NULL;
	g_autoptr(GError) local_error = NULL;
	const CkCaConfig *current;
	CkCaller caller = {0};
	const char *path = NULL;
	CkCa *ca;
	int r;

	r = sd_bus_message_read(m, "o", &path);
	if (r < 0)
		return r;
	ca = ck_bus_ca_from_path(self, path, error);
	if (ca == NULL)
		return -ENOENT;
	/* what is not given stays as it is */
	current = ck_engine_get_ca_config(self->engine, ck_ca_get_name(ca));
	cfg = current != NULL ? ck_ca_config_copy(current)
			      : ck_ca_config_new(ck_ca_get_name(ca), ck_ca_get_kind(ca));
	r = ck_bus_ca_read_options(m, cfg, error);
	if (r < 0)
		return r;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	if (!ck_engine_modify_ca(self->engine, &caller, cfg, &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_method_remove_ca(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	const char *path = NULL;
	CkCa *ca;
	int r;

	r = sd_bus_message_read(m, "o", &path);
	if (r < 0)
		return r;
	ca = ck_bus_ca_from_path(self, path, error);
	if (ca == NULL)
		return -ENOENT;
	r = ck_bus_get_caller(m, &caller, error);
	if (r < 0)
		return r;
	if (!ck_engine_remove_ca(self->engine, &caller, ck_ca_get_name(ca), &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

/* Manager1: the daemon */

static int
ck_bus_method_get_supported_key_types(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	g_autoptr(sd_bus_message) reply = NULL;
	int r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_append_strv(reply, (char **)ck_key_type_all_names());
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	return r;
}

/* Read access, like the properties: the text holds ids, CA names and times that every
 * local user can read on the request objects already, and no key material. */
static int
ck_bus_method_get_metrics(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autofree gchar *text = ck_engine_get_metrics(self->engine);

	return sd_bus_reply_method_return(m, "s", text);
}

static int
ck_bus_method_reload(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	int r = ck_bus_get_caller(m, &caller, error);

	if (r < 0)
		return r;
	if (!ck_engine_reload(self->engine, &caller, &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	return sd_bus_reply_method_return(m, NULL);
}

static int
ck_bus_get_version(sd_bus *bus, const char *path, const char *interface, const char *property,
		   sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable ck_bus_manager_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_PROPERTY("Version", "s", ck_bus_get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_METHOD_WITH_ARGS("AddRequest", SD_BUS_ARGS("a{sv}", options), SD_BUS_RESULT("o", request),
			    ck_bus_method_add_request, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("StartTracking", SD_BUS_ARGS("a{sv}", options),
			    SD_BUS_RESULT("o", request), ck_bus_method_start_tracking,
			    SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("RemoveRequest", SD_BUS_ARGS("o", request), SD_BUS_NO_RESULT,
			    ck_bus_method_remove_request, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("StopTracking", SD_BUS_ARGS("o", request), SD_BUS_NO_RESULT,
			    ck_bus_method_remove_request, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("FindRequest", SD_BUS_ARGS("s", id_or_cert_file),
			    SD_BUS_RESULT("o", request), ck_bus_method_find_request,
			    SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetRequests", SD_BUS_NO_ARGS, SD_BUS_RESULT("ao", requests),
			    ck_bus_method_get_requests, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetRequestProperties", SD_BUS_ARGS("as", names),
			    SD_BUS_RESULT("a{oa{sv}}", requests),
			    ck_bus_method_get_request_properties, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("AddCA", SD_BUS_ARGS("s", name, "a{sv}", options),
			    SD_BUS_RESULT("o", ca), ck_bus_method_add_ca,
			    SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("ModifyCA", SD_BUS_ARGS("o", ca, "a{sv}", options), SD_BUS_NO_RESULT,
			    ck_bus_method_modify_ca, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("RemoveCA", SD_BUS_ARGS("o", ca), SD_BUS_NO_RESULT,
			    ck_bus_method_remove_ca, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetCAs", SD_BUS_NO_ARGS, SD_BUS_RESULT("ao", cas),
			    ck_bus_method_get_cas, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetSupportedKeyTypes", SD_BUS_NO_ARGS,
			    SD_BUS_RESULT("as", key_types), ck_bus_method_get_supported_key_types,
			    SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("Reload", SD_BUS_NO_ARGS, SD_BUS_NO_RESULT, ck_bus_method_reload,
			    SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_METHOD_WITH_ARGS("GetMetrics", SD_BUS_NO_ARGS, SD_BUS_RESULT("s", metrics),
			    ck_bus_method_get_metrics, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

/* Engine signals -> bus signals */

static void
ck_bus_announce(CkBus *self, char *path, const char *iface, gboolean added, const gchar *what)
{
	int r = path == NULL ? -ENOMEM
		: added	     ? sd_bus_emit_interfaces_added(self->bus, path, iface, NULL)
			     : sd_bus_emit_interfaces_removed(self->bus, path, iface, NULL);
	if (r < 0)
		g_warning("cannot announce %s: %s", what, g_strerror(-r));
	free(path);
}

static void
ck_bus_request_added_cb(CkEngine *engine, CkRequest *request, CkBus *self)
{
	ck_bus_announce(self, ck_bus_request_path(request), CK_BUS_REQUEST_IFACE, TRUE,
			ck_request_get_id(request));
}

static void
ck_bus_request_removed_cb(CkEngine *engine, CkRequest *request, CkBus *self)
{
	ck_bus_announce(self, ck_bus_request_path(request), CK_BUS_REQUEST_IFACE, FALSE,
			ck_request_get_id(request));
}

static void
ck_bus_request_changed_cb(CkEngine *engine, CkRequest *request, guint fields, CkBus *self)
{
	const char *names[64];
	char *path;
	int r;

	if (ck_bus_request_changed_properties(fields, names, G_N_ELEMENTS(names)) == 0)
		return;
	path = ck_bus_request_path(request);
	r = path != NULL ? sd_bus_emit_properties_changed_strv(self->bus, path,
							       CK_BUS_REQUEST_IFACE, (char **)names)
			 : -ENOMEM;
	if (r < 0)
		g_warning("cannot announce a change of request %s: %s",
			  ck_request_get_id(request), g_strerror(-r));
	free(path);
}

static void
ck_bus_certificate_saved_cb(CkEngine *engine, CkRequest *request, CkBus *self)
{
	char *path = ck_bus_request_path(request);
	int r = path != NULL ? sd_bus_emit_signal(self->bus, path, CK_BUS_REQUEST_IFACE,
						  "CertificateSaved", "s",
						  ck_request_get_serial(request))
			     : -ENOMEM;
	if (r < 0)
		g_warning("cannot announce the new certificate of request %s: %s",
			  ck_request_get_id(request), g_strerror(-r));
	free(path);
}

static void
ck_bus_ca_added_cb(CkEngine *engine, CkCa *ca, CkBus *self)
{
	ck_bus_announce(self, ck_bus_ca_path(ca), CK_BUS_CA_IFACE, TRUE, ck_ca_get_name(ca));
}

static void
ck_bus_ca_removed_cb(CkEngine *engine, CkCa *ca, CkBus *self)
{
	ck_bus_announce(self, ck_bus_ca_path(ca), CK_BUS_CA_IFACE, FALSE, ck_ca_get_name(ca));
}

/* Tells the requests of @ca that their CAError changed, if it did. */
static void
ck_bus_announce_ca_error(CkBus *self, CkCa *ca)
{
	const gchar *error = ck_ca_get_error(ca);
	g_autoptr(GPtrArray) requests = NULL;
	const char *names[] = {"CAError", NULL};

	if (g_strcmp0(g_hash_table_lookup(self->ca_errors, ck_ca_get_name(ca)), error) == 0)
		return;
	g_hash_table_insert(self->ca_errors, g_strdup(ck_ca_get_name(ca)), g_strdup(error));
	requests = ck_engine_get_requests(self->engine);
	for (guint i = 0; i < requests->len; i++) {
		CkRequest *request = g_ptr_array_index(requests, i);
		char *path;
		if (g_strcmp0(ck_request_get_ca(request), ck_ca_get_name(ca)) != 0)
			continue;
		path = ck_bus_request_path(request);
		if (path != NULL)
			(void)sd_bus_emit_properties_changed_strv(self->bus, path,
								  CK_BUS_REQUEST_IFACE,
								  (char **)names);
		free(path);
	}
}

static void
ck_bus_ca_changed_cb(CkEngine *engine, CkCa *ca, CkBus *self)
{
	char *path = ck_bus_ca_path(ca);
	int r = path != NULL ? sd_bus_emit_properties_changed_strv(
				   self->bus, path, CK_BUS_CA_IFACE,
				   (char **)ck_bus_ca_changing_properties)
			     : -ENOMEM;
	if (r < 0)
		g_warning("cannot announce a change of CA %s: %s", ck_ca_get_name(ca),
			  g_strerror(-r));
	free(path);
	ck_bus_announce_ca_error(self, ca);
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
		r = sd_bus_add_fallback_vtable(self->bus, NULL, CK_BUS_CA_PATH, CK_BUS_CA_IFACE,
					       ck_bus_ca_vtable, ck_bus_ca_find, self);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(self->bus, NULL, CK_BUS_CA_PATH,
					       ck_bus_ca_enumerate, self);
	if (r >= 0)
		r = sd_bus_add_object_vtable(self->bus, NULL, CK_BUS_LOG_CONTROL_PATH,
					     CK_BUS_LOG_CONTROL_IFACE, ck_bus_log_control_vtable,
					     self);
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
	g_signal_connect_object(self->engine, "certificate-saved",
				G_CALLBACK(ck_bus_certificate_saved_cb), self, 0);
	g_signal_connect_object(self->engine, "ca-added", G_CALLBACK(ck_bus_ca_added_cb), self, 0);
	g_signal_connect_object(self->engine, "ca-removed", G_CALLBACK(ck_bus_ca_removed_cb), self,
				0);
	g_signal_connect_object(self->engine, "ca-changed", G_CALLBACK(ck_bus_ca_changed_cb), self,
				0);
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
	g_hash_table_unref(self->ca_errors);
	g_free(self->resolved_path);
	g_clear_object(&self->resolved_request);
	G_OBJECT_CLASS(ck_bus_parent_class)->finalize(object);
}

static void
ck_bus_init(CkBus *self)
{
	self->ca_errors = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
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
