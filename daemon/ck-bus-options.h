/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <systemd/sd-bus.h>

#include "ck-request.h"

G_BEGIN_DECLS

/*
 * Reads an a{sv} of request options (ck-request-options.h; documented with
 * AddRequest in dbus/org.certkeeper.Manager1.xml) from @m into @request. An
 * unknown option, a wrong type, a malformed value or (with @modify) an option
 * only a new request takes fails with org.certkeeper.Error.InvalidArgument (or
 * Unsupported) naming the option and the value. Returns 0 or a negative errno.
 */
int
ck_bus_options_read(sd_bus_message *m, CkRequest *request, gboolean modify,
		    sd_bus_error *error);

G_END_DECLS
