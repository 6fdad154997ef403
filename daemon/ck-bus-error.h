/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-bus.h>

G_BEGIN_DECLS

/* "org.certkeeper.Error." */
#define CK_BUS_ERROR_PREFIX "org.certkeeper.Error."

/* The one table of D-Bus error names; registered with sd_bus_error_add_map(). */
extern const sd_bus_error_map ck_bus_error_map[];

/* Converts @error (any domain) into @ret_error once, at the bus boundary; returns a
 * negative errno for the sd-bus handler to return. */
int
ck_bus_error_from_gerror(sd_bus_error *ret_error, const GError *error);

G_END_DECLS

G_BEGIN_DECLS

/* Sets @ret_error to the D-Bus name of @code with a printf-style message; returns -errno. */
int
ck_bus_error_setf(sd_bus_error *ret_error, guint code, const gchar *format, ...)
    G_GNUC_PRINTF(3, 4);

G_END_DECLS
