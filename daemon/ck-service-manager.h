/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/*
 * Whoever can reload or restart a service after its certificate changed. The
 * engine knows only this interface; the daemon plugs in systemd (over D-Bus,
 * in daemon/ck-systemd.c), tests plug in what they need.
 */
#define CK_TYPE_SERVICE_MANAGER ck_service_manager_get_type()
G_DECLARE_INTERFACE(CkServiceManager, ck_service_manager, CK, SERVICE_MANAGER, GObject)

struct _CkServiceManagerInterface {
	GTypeInterface parent_iface;
	/* @mode: "reload", "restart", "try-restart", "reload-or-restart" or
	 * "reload-or-try-restart"; completes when the job has finished */
	void (*reload_unit_async)(CkServiceManager *self, const gchar *unit, const gchar *mode,
				  GCancellable *cancellable, GAsyncReadyCallback callback,
				  gpointer user_data);
	gboolean (*reload_unit_finish)(CkServiceManager *self, GAsyncResult *res, GError **error);
};

/* The modes ck_service_manager_reload_unit_async() understands, NULL-terminated. */
const gchar *const *
ck_service_manager_modes(void);

void
ck_service_manager_reload_unit_async(CkServiceManager *self, const gchar *unit,
				     const gchar *mode, GCancellable *cancellable,
				     GAsyncReadyCallback callback, gpointer user_data);
gboolean
ck_service_manager_reload_unit_finish(CkServiceManager *self, GAsyncResult *res,
				      GError **error);

G_END_DECLS
