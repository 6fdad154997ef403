/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define CK_ERROR ck_error_quark()

/*
 * The project's one error domain. Every value maps 1:1 to a D-Bus error name
 * (org.certkeeper.Error.<Name>) in daemon/ck-bus-error.c; keep the two in step.
 */
typedef enum {
	CK_ERROR_FAILED,	   /* anything without a better code */
	CK_ERROR_INVALID_ARGUMENT, /* a caller-supplied value is malformed */
	CK_ERROR_NOT_FOUND,	   /* no such request, CA or file */
	CK_ERROR_ALREADY_EXISTS,   /* an id or file is already tracked */
	CK_ERROR_ACCESS_DENIED,	   /* the caller may not do this */
	CK_ERROR_UNSUPPORTED,	   /* a known but unsupported option (key type, CA kind) */
	CK_ERROR_IO,		   /* reading or writing a file failed */
	CK_ERROR_CRYPTO,	   /* a GnuTLS operation failed */
	CK_ERROR_CA_REJECTED,	   /* the CA refused the request */
	CK_ERROR_CA_UNREACHABLE,   /* the CA could not be contacted */
	CK_ERROR_CA_UNDERCONFIGURED, /* the CA back end lacks configuration */
	CK_ERROR_BUSY,		   /* the request is in a state that forbids this now */
	CK_ERROR_TIMED_OUT,	   /* a program or peer did not answer in time */
	CK_ERROR_DEVICE_UNAVAILABLE, /* a key's device (TPM, token) does not answer now */
	CK_ERROR_LAST
} CkError;

GQuark
ck_error_quark(void);

/* Short machine name of @code, e.g. "InvalidArgument"; used for D-Bus names and JSON. */
const gchar *
ck_error_to_name(CkError code);

/* Inverse of ck_error_to_name(); CK_ERROR_FAILED for unknown names. */
CkError
ck_error_from_name(const gchar *name);

G_END_DECLS
