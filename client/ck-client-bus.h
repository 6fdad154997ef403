/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The certkeeper CLI's bus plumbing: connecting, reading objects and their
 * properties into JSON, building option dictionaries. No user-visible text
 * lives here (that is certkeeper.c's, and in po/POTFILES.in).
 */
#include <glib.h>
#include <json-glib/json-glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

#define CK_BUS_NAME          "org.certkeeper.Certkeeper1"
#define CK_BUS_MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define CK_BUS_MANAGER_IFACE "org.certkeeper.Manager1"
#define CK_BUS_REQUEST_IFACE "org.certkeeper.Request1"
#define CK_BUS_CA_IFACE      "org.certkeeper.CA1"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus, sd_bus_flush_close_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(sd_bus_message, sd_bus_message_unref)

void ck_client_bus_error_free(sd_bus_error *error);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(sd_bus_error, ck_client_bus_error_free)

/* @spec: "system", "session" or a D-Bus address. Negative errno on failure. */
int ck_client_bus_open(const gchar *spec, sd_bus **ret);

/* Reads an a{sv} of properties into a new JsonObject (s, b, t, u, as; others skipped). */
int ck_client_read_properties(sd_bus_message *m, JsonObject **ret);

/*
 * One GetManagedObjects round trip: every request and every CA with all their
 * properties (plus "ObjectPath"), in the daemon's order (by id, by name).
 * Either out pointer may be NULL.
 */
int ck_client_get_objects(sd_bus *bus, GPtrArray **requests, GPtrArray **cas, sd_bus_error *error);

/*
 * Manager1.GetRequestProperties: every request with the properties in @names
 * (all of them if @names is empty), plus "ObjectPath", in the daemon's order.
 */
int ck_client_get_request_properties(sd_bus *bus, const gchar *const *names,
				     GPtrArray **requests, sd_bus_error *error);

/*
 * `list --json`: every request with all its properties as the JSON array
 * ck_client_print_json_array() prints, written as the reply is read, without
 * building JSON objects first.
 */
int ck_client_print_request_properties_json(sd_bus *bus, sd_bus_error *error);

/* Properties.GetAll of one object (plus "ObjectPath"). */
int ck_client_get_all(sd_bus *bus, const gchar *path, const gchar *iface, JsonObject **ret,
		      sd_bus_error *error);

/* Appends {"key": <s>} to an open a{sv}; nothing when @value is NULL. */
int ck_client_append_string(sd_bus_message *m, const gchar *key, const gchar *value);
/* Appends {"key": <as>}; nothing when @value is NULL; [""] sends an empty list. */
int ck_client_append_strv(sd_bus_message *m, const gchar *key, gchar **value);

/* Member accessors with defaults. */
const gchar *ck_json_string(JsonObject *obj, const gchar *name);
gint64 ck_json_int(JsonObject *obj, const gchar *name);
gboolean ck_json_bool(JsonObject *obj, const gchar *name);
/* A list member joined with ", " ("" when empty or absent). */
gchar *ck_json_join(JsonObject *obj, const gchar *name);

/* The request whose Id is @id, whose CertFile is @cert_file or whose KeyFile is @key_file. */
JsonObject *ck_client_find_request(GPtrArray *requests, const gchar *id, const gchar *cert_file,
				   const gchar *key_file);
/* The CA named @name. */
JsonObject *ck_client_find_ca(GPtrArray *cas, const gchar *name);

/* @path made absolute against the current directory ("" and NULL stay as they are). */
gchar *ck_client_absolute(const gchar *path);

G_END_DECLS
