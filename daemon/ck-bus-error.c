/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>

#include "ck-bus-error.h"
#include "ck-error.h"

/* CkError -> D-Bus name and the errno sd-bus reports locally; index is the CkError value. */
const sd_bus_error_map ck_bus_error_map[] = {
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "Failed", EIO),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "InvalidArgument", EINVAL),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "NotFound", ENOENT),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "AlreadyExists", EEXIST),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "AccessDenied", EACCES),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "Unsupported", EOPNOTSUPP),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "IO", EIO),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "Crypto", EBADMSG),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "CARejected", EPERM),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "CAUnreachable", EHOSTUNREACH),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "CAUnderconfigured", ENOPKG),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "Busy", EBUSY),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "TimedOut", ETIMEDOUT),
    SD_BUS_ERROR_MAP(CK_BUS_ERROR_PREFIX "DeviceUnavailable", ENODEV),
    SD_BUS_ERROR_MAP_END,
};

G_STATIC_ASSERT(G_N_ELEMENTS(ck_bus_error_map) == CK_ERROR_LAST + 1);

/* sd-bus derives the errno it returns from the error name through registered maps. */
static void
ck_bus_error_register_map(void)
{
	static gsize registered = 0;
	if (g_once_init_enter(&registered)) {
		int r = sd_bus_error_add_map(ck_bus_error_map);
		if (r < 0)
			g_warning("cannot register the D-Bus error map: %s", g_strerror(-r));
		g_once_init_leave(&registered, 1);
	}
}

int
ck_bus_error_from_gerror(sd_bus_error *ret_error, const GError *error)
{
	guint code = CK_ERROR_FAILED;

	ck_bus_error_register_map();
	if (error->domain == CK_ERROR && (guint)error->code < CK_ERROR_LAST)
		code = (guint)error->code;
	return sd_bus_error_set(ret_error, ck_bus_error_map[code].name, error->message);
}

int
ck_bus_error_setf(sd_bus_error *ret_error, guint code, const gchar *format, ...)
{
	g_autofree gchar *message = NULL;
	va_list args;

	ck_bus_error_register_map();
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	if (code >= CK_ERROR_LAST)
		code = CK_ERROR_FAILED;
	return sd_bus_error_set(ret_error, ck_bus_error_map[code].name, message);
}
