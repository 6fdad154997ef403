/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>
#include <json-glib/json-glib.h>

#include "ck-csr.h"
#include "ck-file-util.h"
#include "ck-key-provider.h"

G_BEGIN_DECLS

/* certmonger's state names, which its users know. */
typedef enum {
	CK_REQUEST_STATE_NEED_KEY_PAIR,
	CK_REQUEST_STATE_GENERATING_KEY_PAIR,
	CK_REQUEST_STATE_NEED_CSR,
	CK_REQUEST_STATE_SUBMITTING,
	CK_REQUEST_STATE_CA_WORKING,
	CK_REQUEST_STATE_CA_UNREACHABLE,
	CK_REQUEST_STATE_CA_REJECTED,
	CK_REQUEST_STATE_NEED_GUIDANCE,
	CK_REQUEST_STATE_SAVING_CERT,
	CK_REQUEST_STATE_POST_SAVED,
	CK_REQUEST_STATE_MONITORING,
	CK_REQUEST_STATE_NEED_TO_RECOVER,
	CK_REQUEST_STATE_STOPPED,
	CK_REQUEST_STATE_LAST
} CkRequestState;

const gchar *
ck_request_state_to_string(CkRequestState state);
/* CK_REQUEST_STATE_LAST for an unknown name. */
CkRequestState
ck_request_state_from_string(const gchar *name);
/* States that need a human (the request is "stuck"). */
gboolean
ck_request_state_is_stuck(CkRequestState state);
/* States that only exist while work is under way and must not survive a restart. */
gboolean
ck_request_state_is_transient(CkRequestState state);

/* Bits of the "changed" signal: which fields a setter really changed. */
typedef enum {
	CK_REQUEST_FIELD_STATE = 1u << 0, /* also Stuck */
	CK_REQUEST_FIELD_SUBJECT = 1u << 1,
	CK_REQUEST_FIELD_DNS_NAMES = 1u << 2,
	CK_REQUEST_FIELD_IP_ADDRESSES = 1u << 3,
	CK_REQUEST_FIELD_EMAILS = 1u << 4,
	CK_REQUEST_FIELD_URIS = 1u << 5,
	CK_REQUEST_FIELD_CERT_FILE = 1u << 6,
	CK_REQUEST_FIELD_KEY_FILE = 1u << 7,
	CK_REQUEST_FIELD_CHAIN_FILE = 1u << 8,
	CK_REQUEST_FIELD_CA = 1u << 9,
	CK_REQUEST_FIELD_CERTIFICATE = 1u << 10, /* NotBefore, NotAfter, Serial, Issuer */
	CK_REQUEST_FIELD_LAST_ERROR = 1u << 11,
	CK_REQUEST_FIELD_KEY_TYPE = 1u << 12,
	CK_REQUEST_FIELD_OTHER = 1u << 13, /* fields not on the bus */
} CkRequestField;

#define CK_TYPE_REQUEST ck_request_get_type()
G_DECLARE_FINAL_TYPE(CkRequest, ck_request, CK, REQUEST, GObject)

/*
 * One tracked certificate: what was asked for, where it lives, and where it
 * stands. Setters emit "changed" (guint mask of CkRequestField) only when a
 * value really changes.
 */
CkRequest *
ck_request_new(const gchar *id);

/* An id is 1-64 characters of [A-Za-z0-9._-], not starting with '.' (it names a file). */
gboolean
ck_request_id_is_valid(const gchar *id);

const gchar *
ck_request_get_id(CkRequest *self);
/* Only for a template not yet handed to the engine: a tracked request's id never changes. */
void
ck_request_set_template_id(CkRequest *self, const gchar *id);

CkRequestState
ck_request_get_state(CkRequest *self);
void
ck_request_set_state(CkRequest *self, CkRequestState state);
gboolean
ck_request_get_stuck(CkRequest *self);

const gchar *
ck_request_get_subject(CkRequest *self);
void
ck_request_set_subject(CkRequest *self, const gchar *subject);
const gchar *const *
ck_request_get_dns_names(CkRequest *self);
void
ck_request_set_dns_names(CkRequest *self, const gchar *const *names);
const gchar *const *
ck_request_get_ip_addresses(CkRequest *self);
void
ck_request_set_ip_addresses(CkRequest *self, const gchar *const *addresses);
const gchar *const *
ck_request_get_emails(CkRequest *self);
void
ck_request_set_emails(CkRequest *self, const gchar *const *emails);
const gchar *const *
ck_request_get_uris(CkRequest *self);
void
ck_request_set_uris(CkRequest *self, const gchar *const *uris);
const gchar *const *
ck_request_get_key_usage(CkRequest *self);
void
ck_request_set_key_usage(CkRequest *self, const gchar *const *usage);
const gchar *const *
ck_request_get_extended_key_usage(CkRequest *self);
void
ck_request_set_extended_key_usage(CkRequest *self, const gchar *const *usage);
/* The CSR parameters view of the names above (valid while @self is unchanged). */
void
ck_request_get_csr_params(CkRequest *self, CkCsrParams *params);

CkKeyType
ck_request_get_key_type(CkRequest *self);
void
ck_request_set_key_type(CkRequest *self, CkKeyType type);
const gchar *
ck_request_get_key_provider(CkRequest *self);
void
ck_request_set_key_provider(CkRequest *self, const gchar *provider);

const gchar *
ck_request_get_cert_file(CkRequest *self);
void
ck_request_set_cert_file(CkRequest *self, const gchar *path);
const gchar *
ck_request_get_key_file(CkRequest *self);
void
ck_request_set_key_file(CkRequest *self, const gchar *path);
const gchar *
ck_request_get_chain_file(CkRequest *self);
void
ck_request_set_chain_file(CkRequest *self, const gchar *path);
/* Owner and mode of the certificate and chain files (default root, 0644). */
const CkFileAttrs *
ck_request_get_cert_attrs(CkRequest *self);
void
ck_request_set_cert_attrs(CkRequest *self, const CkFileAttrs *attrs);
/* Owner and mode of the key file (default root, 0600). */
const CkFileAttrs *
ck_request_get_key_attrs(CkRequest *self);
void
ck_request_set_key_attrs(CkRequest *self, const CkFileAttrs *attrs);

const gchar *
ck_request_get_ca(CkRequest *self);
void
ck_request_set_ca(CkRequest *self, const gchar *ca);
const gchar *
ck_request_get_profile(CkRequest *self);
void
ck_request_set_profile(CkRequest *self, const gchar *profile);
/* Wanted lifetime in days, 0 for the CA's default. */
guint
ck_request_get_validity_days(CkRequest *self);
void
ck_request_set_validity_days(CkRequest *self, guint days);

/* The uid that asked for this request (the D-Bus caller). */
guint32
ck_request_get_owner_uid(CkRequest *self);
void
ck_request_set_owner_uid(CkRequest *self, guint32 uid);

/* What the installed certificate says; 0 / NULL until one is issued. */
gint64
ck_request_get_not_before(CkRequest *self);
gint64
ck_request_get_not_after(CkRequest *self);
const gchar *
ck_request_get_serial(CkRequest *self);
const gchar *
ck_request_get_issuer(CkRequest *self);
void
ck_request_set_certificate_info(CkRequest *self, gint64 not_before, gint64 not_after,
				const gchar *serial, const gchar *issuer);
/* Reads notBefore, notAfter, serial (hex) and issuer DN from a PEM certificate. */
gboolean
ck_request_set_certificate_info_from_pem(CkRequest *self, const gchar *pem, GError **error);

/* The last failure, "" when the last attempt succeeded. */
const gchar *
ck_request_get_last_error(CkRequest *self);
void
ck_request_set_last_error(CkRequest *self, const gchar *message);

/* A CA's cookie to poll with (CA_WORKING), NULL otherwise. */
const gchar *
ck_request_get_ca_cookie(CkRequest *self);
void
ck_request_set_ca_cookie(CkRequest *self, const gchar *cookie);
/* When the lifecycle wants to look at this request again (unix seconds, 0: not planned). */
gint64
ck_request_get_next_attempt(CkRequest *self);
void
ck_request_set_next_attempt(CkRequest *self, gint64 when);
guint
ck_request_get_failed_attempts(CkRequest *self);
void
ck_request_set_failed_attempts(CkRequest *self, guint count);

gint64
ck_request_get_created(CkRequest *self);

/* Serialisation for the state store (a versioned JSON object). */
JsonNode *
ck_request_to_json(CkRequest *self);
CkRequest *
ck_request_new_from_json(JsonNode *node, GError **error);

G_END_DECLS
