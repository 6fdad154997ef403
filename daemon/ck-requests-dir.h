/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "ck-request.h"

G_BEGIN_DECLS

/*
 * Declarative requests for fleets: the *.conf files of /etc/certkeeper/requests.d (any
 * directory) holds groups [request ID] whose keys are the request options of
 * the API (ck-request-options.h), lists separated by ';':
 *
 *   [request web]
 *   cert-file=/etc/ssl/certs/web.pem
 *   key-file=/etc/ssl/private/web.key
 *   dns-names=web.example.org;www.example.org
 *   reload-unit=nginx.service
 */
typedef struct {
	gchar *id;
	gchar *file;	     /* the file that declares it */
	CkRequest *request;  /* a template with the declared settings and id */
} CkDeclaredRequest;

void
ck_declared_request_free(CkDeclaredRequest *declared);

/*
 * Reads every *.conf of @dir in name order. Each request starts from
 * @new_template(@user_data) (the configured defaults). A file that cannot be
 * parsed, a bad group, an unknown key or a malformed value is reported in
 * @warnings with the file, the line and the problem, and that request (or the
 * whole unparsable file) is skipped; the rest still count. An id declared twice
 * is a warning too; the first one counts. Returns CkDeclaredRequest* (never NULL;
 * a missing directory declares nothing).
 */
GPtrArray *
ck_requests_dir_load(const gchar *dir, CkRequest *(*new_template)(gpointer user_data),
		     gpointer user_data, GPtrArray *warnings);

G_END_DECLS
