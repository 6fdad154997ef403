/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The bus adapter's insides, shared by ck-bus.c (the connection and
 * Manager1), ck-bus-request.c (Request1 objects) and ck-bus-ca.c (CA1 objects).
 * Bus code: negative errno and sd_bus_error; engine GErrors are converted once,
 * with ck_bus_error_from_gerror().
 */

#include <systemd/sd-bus.h>

#include "ck-bus.h"
#include "ck-policy.h"

G_BEGIN_DECLS

#define CK_BUS_CA_PATH	"/org/certkeeper/Certkeeper1/ca"
#define CK_BUS_CA_IFACE "org.certkeeper.CA1"

struct _CkBus {
	GObject parent_instance;
	CkEngine *engine;
	sd_bus *bus;
	sd_event *event;
	GSource *source;
	/* CA name -> the Error last announced, so a CA's requests hear of a change
	 * of their CAError only when there is one */
	GHashTable *ca_errors;
	/* the request behind the object path resolved last: GetManagedObjects and GetAll
	 * ask one path for every property in a row, and decoding it each time was a
	 * good part of a `certkeeper list` */
	gchar *resolved_path;
	CkRequest *resolved_request;
};

/* sd-bus objects in g_autoptr; the unref functions return NULL, which is ignored */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_creds, sd_bus_creds_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)

/* Who called, from the bus's record of the connection. */
int
ck_bus_get_caller(sd_bus_message *m, CkCaller *caller, sd_bus_error *error);

/* Object paths; free() the results (sd-bus allocates them). */
char *
ck_bus_request_path(CkRequest *request);
char *
ck_bus_ca_path(CkCa *ca);
/* The request behind @path, or NULL. */
CkRequest *
ck_bus_request_lookup(CkBus *self, const char *path);
/* The object behind @path, or NULL with @error set (NotFound). */
CkRequest *
ck_bus_request_from_path(CkBus *self, const char *path, sd_bus_error *error);
CkCa *
ck_bus_ca_from_path(CkBus *self, const char *path, sd_bus_error *error);

/*
 * The child nodes an enumerator returns: @path_of for each of @objects, in a
 * malloc()ed list (sd-bus frees it with free()). 1, or -ENOMEM.
 */
int
ck_bus_node_list(GPtrArray *objects, char *(*path_of)(gpointer), char ***nodes);

/* Appends a list of object paths built by @path_of for each of @objects. */
int
ck_bus_append_paths(sd_bus_message *reply, GPtrArray *objects, char *(*path_of)(gpointer));

/* ck-bus-request.c */
extern const sd_bus_vtable ck_bus_request_vtable[];
int
ck_bus_request_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
		    void **found, sd_bus_error *error);
int
ck_bus_request_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
			 sd_bus_error *error);
/* 0 if each of @names is a Request1 property, else InvalidArgument naming it. */
int
ck_bus_request_check_property_names(const char *const *names, sd_bus_error *error);
/* Appends an a{sv} of @request's properties named in @names (all if empty or NULL). */
int
ck_bus_request_append_properties(CkBus *self, CkRequest *request, const char *const *names,
				 sd_bus_message *reply, sd_bus_error *error);
/* The Request1 properties a change of @fields touches, NULL-terminated, into @names. */
guint
ck_bus_request_changed_properties(guint fields, const char **names, guint max);

/* ck-bus-log-control.c: org.freedesktop.LogControl1 */
#define CK_BUS_LOG_CONTROL_PATH	 "/org/freedesktop/LogControl1"
#define CK_BUS_LOG_CONTROL_IFACE "org.freedesktop.LogControl1"
extern const sd_bus_vtable ck_bus_log_control_vtable[];

/* ck-bus-ca.c */
extern const sd_bus_vtable ck_bus_ca_vtable[];
int
ck_bus_ca_find(sd_bus *bus, const char *path, const char *interface, void *userdata,
	       void **found, sd_bus_error *error);
int
ck_bus_ca_enumerate(sd_bus *bus, const char *path, void *userdata, char ***nodes,
		    sd_bus_error *error);
/* Reads AddCA's and ModifyCA's options into @cfg. */
int
ck_bus_ca_read_options(sd_bus_message *m, CkCaConfig *cfg, sd_bus_error *error);
/* The CA1 properties that may change, NULL-terminated. */
extern const char *const ck_bus_ca_changing_properties[];

G_END_DECLS
