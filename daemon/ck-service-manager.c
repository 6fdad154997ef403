/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ck-service-manager.h"

G_DEFINE_INTERFACE(CkServiceManager, ck_service_manager, G_TYPE_OBJECT)

static void
ck_service_manager_default_init(CkServiceManagerInterface *iface)
{
}

const gchar *const *
ck_service_manager_modes(void)
{
	static const gchar *const modes[] = {"reload", "restart", "try-restart",
					     "reload-or-restart", "reload-or-try-restart", NULL};
	return modes;
}

void
ck_service_manager_reload_unit_async(CkServiceManager *self, const gchar *unit,
				     const gchar *mode, GCancellable *cancellable,
				     GAsyncReadyCallback callback, gpointer user_data)
{
	g_return_if_fail(CK_IS_SERVICE_MANAGER(self));
	CK_SERVICE_MANAGER_GET_IFACE(self)->reload_unit_async(self, unit, mode, cancellable,
							      callback, user_data);
}

gboolean
ck_service_manager_reload_unit_finish(CkServiceManager *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(CK_IS_SERVICE_MANAGER(self), FALSE);
	return CK_SERVICE_MANAGER_GET_IFACE(self)->reload_unit_finish(self, res, error);
}
