/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Revocation on demand: the installed certificate of a request is revoked
 * through its CA back end. The request stays tracked and its files stay; it is
 * marked (Revoked, RevocationReason) and not renewed by itself any more, because
 * renewing a certificate someone just revoked could undo what they meant (a
 * service taken out of operation); Rekey or Resubmit gets a new certificate.
 */
#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "ck-clock.h"
#include "ck-engine-private.h"
#include "ck-error.h"

/*
 * RFC 5280 5.3.1 reason codes a certificate holder may give. certificateHold (6)
 * and removeFromCRL (8) are left out: a hold is meant to be lifted again, which
 * neither ACME (RFC 8555 revokes for good) nor the local CA can do, and a request
 * marked revoked would then be wrong. 7 is unassigned.
 */
static const struct {
	const gchar *name;
	gint code;
} ck_revocation_reasons[] = {
    {"unspecified", 0},        {"keyCompromise", 1}, {"cACompromise", 2},
    {"affiliationChanged", 3}, {"superseded", 4},    {"cessationOfOperation", 5},
    {"privilegeWithdrawn", 9}, {"aACompromise", 10},
};

gint
ck_engine_revocation_reason_code(const gchar *name, GError **error)
{
	g_autoptr(GString) names = g_string_new(NULL);

	if (name == NULL || name[0] == '\0')
		return -1;
	for (guint i = 0; i < G_N_ELEMENTS(ck_revocation_reasons); i++) {
		if (g_strcmp0(ck_revocation_reasons[i].name, name) == 0)
			return ck_revocation_reasons[i].code;
		g_string_append_printf(names, "%s%s", i > 0 ? ", " : "",
				       ck_revocation_reasons[i].name);
	}
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    /* TRANSLATORS: what was given, then the list of RFC 5280 reason names */
		    _("'%s' is not a revocation reason: use one of %s (RFC 5280 names; "
		      "certificateHold is not offered, a revocation here is final)"),
		    name, names->str);
	return -2;
}

gboolean
ck_engine_renews_by_itself(CkRequest *request)
{
	return ck_request_get_auto_renew(request) && ck_request_get_revoked(request) == 0;
}

/* One revocation in flight; the GTask owns it. */
typedef struct {
	gchar *id;
	gchar *serial; /* the certificate the CA is asked to revoke */
	gchar *reason; /* its RFC 5280 name, NULL if none was given */
	CkCaller caller; /* who asked, for the audit log (its unit owned here) */
} CkRevocation;

static void
ck_revocation_free(CkRevocation *revocation)
{
	g_free(revocation->id);
	g_free(revocation->serial);
	g_free(revocation->reason);
	g_free((gchar *)revocation->caller.unit);
	g_free(revocation);
}

static void
ck_engine_revoked_cb(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	CkEngine *self = g_task_get_source_object(task);
	CkRevocation *revocation = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	CkRequest *request;

	g_hash_table_remove(self->revoking, revocation->id);
	if (!ck_ca_revoke_finish(CK_CA(source), res, &error)) {
		g_message("request %s: certificate %s not revoked: %s", revocation->id,
			  revocation->serial, error->message);
		ck_engine_record(self, CK_AUDIT_REVOKED, &revocation->caller,
				 ck_engine_find_request(self, revocation->id),
				 ck_ca_get_name(CK_CA(source)), "failure", "serial",
				 revocation->serial, "revocation_reason", revocation->reason,
				 "reason", error->message, NULL);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_message("request %s: certificate %s revoked by CA %s (reason %s)", revocation->id,
		  revocation->serial, ck_ca_get_name(CK_CA(source)),
		  revocation->reason != NULL ? revocation->reason : "none given");
	ck_engine_record(self, CK_AUDIT_REVOKED, &revocation->caller,
			 ck_engine_find_request(self, revocation->id),
			 ck_ca_get_name(CK_CA(source)), "success", "serial", revocation->serial,
			 "revocation_reason", revocation->reason, NULL);
	/* the request may be gone, or hold another certificate by now: the CA revoked what it
	 * was asked to, and only a request that still holds that certificate is marked */
	request = ck_engine_find_request(self, revocation->id);
	if (request != NULL && g_strcmp0(ck_request_get_serial(request), revocation->serial) == 0) {
		ck_request_set_revoked(request, revocation->serial, ck_clock_now(),
				       revocation->reason);
		ck_engine_persist(self, request);
		/* no renewal is planned for a revoked certificate any more */
		ck_engine_plan(self, request);
	}
	g_task_return_boolean(task, TRUE);
}

/* The installed certificate, which must be the one the request knows of. */
static gchar *
ck_engine_installed_certificate(CkEngine *self, CkRequest *request, GError **error)
{
	const gchar *id = ck_request_get_id(request);
	g_autoptr(GError) local_error = NULL;
	g_autoptr(CkRequest) probe = NULL;
	g_autofree gchar *pem = NULL;

	if (ck_request_get_serial(request) == NULL || ck_request_get_not_after(request) == 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    _("Request %s has no installed certificate to revoke (it is %s)"), id,
			    ck_request_state_to_string(ck_request_get_state(request)));
		return NULL;
	}
	pem = ck_engine_read_certificate(request, &local_error);
	if (pem == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_IO,
			    _("Cannot read the certificate of request %s to revoke it: %s"), id,
			    local_error->message);
		return NULL;
	}
	/* a file replaced behind the daemon's back is taken in first, so that the one
	 * revoked is the one the request says it holds */
	probe = ck_request_dup(request);
	if (probe == NULL || !ck_request_set_certificate_info_from_pem(probe, pem, NULL) ||
	    g_strcmp0(ck_request_get_serial(probe), ck_request_get_serial(request)) != 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_BUSY,
			    _("The certificate file of request %s no longer holds certificate %s; "
			      "run certkeeper refresh -i %s and look at it before revoking"),
			    id, ck_request_get_serial(request), id);
		return NULL;
	}
	return g_steal_pointer(&pem);
}

void
ck_engine_revoke_async(CkEngine *self, const CkCaller *caller, const gchar *id, const gchar *reason,
		       GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	CkRequest *request = ck_engine_find_request(self, id);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pem = NULL;
	CkRevocation *revocation;
	CkCa *ca;
	gint code;

	g_task_set_source_tag(task, ck_engine_revoke_async);
	if (request == NULL) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_NOT_FOUND,
					_("No request with id '%s'"), id);
		return;
	}
	code = ck_engine_revocation_reason_code(reason, &error);
	if (code < -1) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	/* revoking twice changes nothing: done (a CA cannot change the reason anyway) */
	if (ck_request_get_revoked(request) > 0) {
		g_task_return_boolean(task, TRUE);
		return;
	}
	if (!ck_engine_authorize(self, caller, request, "Revoke", FALSE, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (g_hash_table_contains(self->revoking, id)) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_BUSY,
					_("The certificate of request %s is being revoked already"),
					id);
		return;
	}
	ca = ck_engine_find_ca(self, ck_request_get_ca(request));
	if (ca == NULL) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_NOT_FOUND,
					_("Request %s names CA '%s', which does not exist: add it "
					  "again to revoke through it"),
					id, ck_request_get_ca(request));
		return;
	}
	pem = ck_engine_installed_certificate(self, request, &error);
	if (pem == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	revocation = g_new0(CkRevocation, 1);
	revocation->id = g_strdup(id);
	revocation->serial = g_strdup(ck_request_get_serial(request));
	revocation->reason = code >= 0 ? g_strdup(reason) : NULL;
	revocation->caller = *caller;
	revocation->caller.unit = g_strdup(caller->unit);
	g_task_set_task_data(task, revocation, (GDestroyNotify)ck_revocation_free);
	g_hash_table_add(self->revoking, g_strdup(id));
	g_message("request %s: asking CA %s to revoke certificate %s", id, ck_ca_get_name(ca),
		  revocation->serial);
	ck_ca_revoke_async(ca, id, pem, code, cancellable, ck_engine_revoked_cb,
			   g_steal_pointer(&task));
}

gboolean
ck_engine_revoke_finish(CkEngine *self, GAsyncResult *res, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(res, self), FALSE);
	return g_task_propagate_boolean(G_TASK(res), error);
}
