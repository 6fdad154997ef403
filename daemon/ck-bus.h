/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "ck-engine.h"

G_BEGIN_DECLS

#define CK_BUS_NAME	     "org.certkeeper.Certkeeper1"
#define CK_BUS_MANAGER_PATH  "/org/certkeeper/Certkeeper1"
#define CK_BUS_MANAGER_IFACE "org.certkeeper.Manager1"
#define CK_BUS_REQUEST_PATH  "/org/certkeeper/Certkeeper1/request"
#define CK_BUS_REQUEST_IFACE "org.certkeeper.Request1"

#define CK_TYPE_BUS ck_bus_get_type()
G_DECLARE_FINAL_TYPE(CkBus, ck_bus, CK, BUS, GObject)

/*
 * The D-Bus adapter: publishes @engine's requests and methods with sd-bus and
 * turns engine signals into InterfacesAdded/Removed and PropertiesChanged.
 * Signal "disconnected": the bus went away.
 */
CkBus *
ck_bus_new(CkEngine *engine);

/*
 * Connects to @bus_spec ("system", "session" or a D-Bus address), publishes the
 * objects, takes the bus name (failing with a clear message if another daemon
 * has it) and attaches to the thread-default GLib main context.
 */
gboolean
ck_bus_connect(CkBus *self, const gchar *bus_spec, GError **error);

G_END_DECLS
