/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>
#include <systemd/sd-event.h>

G_BEGIN_DECLS

/*
 * One GSource that runs an sd_event loop inside the GLib main loop, so sd-bus
 * (attached to @event) is served by GLib's loop, which stays the master.
 * The source holds a reference on @event.
 */
GSource *
ck_event_source_new(sd_event *event);

G_END_DECLS
