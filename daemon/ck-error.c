/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ck-error.h"

G_DEFINE_QUARK(certkeeper-error-quark, ck_error)

static const gchar *const ck_error_names[CK_ERROR_LAST] = {
    [CK_ERROR_FAILED] = "Failed",
    [CK_ERROR_INVALID_ARGUMENT] = "InvalidArgument",
    [CK_ERROR_NOT_FOUND] = "NotFound",
    [CK_ERROR_ALREADY_EXISTS] = "AlreadyExists",
    [CK_ERROR_ACCESS_DENIED] = "AccessDenied",
    [CK_ERROR_UNSUPPORTED] = "Unsupported",
    [CK_ERROR_IO] = "IO",
    [CK_ERROR_CRYPTO] = "Crypto",
    [CK_ERROR_CA_REJECTED] = "CARejected",
    [CK_ERROR_CA_UNREACHABLE] = "CAUnreachable",
    [CK_ERROR_CA_UNDERCONFIGURED] = "CAUnderconfigured",
    [CK_ERROR_BUSY] = "Busy",
    [CK_ERROR_TIMED_OUT] = "TimedOut",
    [CK_ERROR_DEVICE_UNAVAILABLE] = "DeviceUnavailable",
};

const gchar *
ck_error_to_name(CkError code)
{
	if ((guint)code >= CK_ERROR_LAST)
		return ck_error_names[CK_ERROR_FAILED];
	return ck_error_names[code];
}

CkError
ck_error_from_name(const gchar *name)
{
	if (name == NULL)
		return CK_ERROR_FAILED;
	for (guint i = 0; i < CK_ERROR_LAST; i++) {
		if (g_strcmp0(ck_error_names[i], name) == 0)
			return (CkError)i;
	}
	return CK_ERROR_FAILED;
}
