/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-service-manager.h"

G_BEGIN_DECLS

#define CK_TYPE_SYSTEMD ck_systemd_get_type()
G_DECLARE_FINAL_TYPE(CkSystemd, ck_systemd, CK, SYSTEMD, GObject)

/*
 * The service manager the daemon plugs into the engine: systemd's
 * org.freedesktop.systemd1.Manager over D-Bus (sd-bus). @bus_spec is "system"
 * or a D-Bus address; the connection is made at the first reload, so a host
 * without systemd loses only the reloads. A reload completes when systemd's job
 * has finished (JobRemoved), and fails unless its result is "done".
 */
CkSystemd *
ck_systemd_new(const gchar *bus_spec);

G_END_DECLS
