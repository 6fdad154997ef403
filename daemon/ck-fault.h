/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/*
 * Fault-injection points, compiled in only with meson -Dfault_injection=true
 * (test builds; the package never has them). With
 * CERTKEEPER_FAULT_POINT=NAME[:N] in the environment, the N-th time (default
 * the first) the daemon passes the point NAME it kills itself with SIGKILL, so
 * a torture test can crash it at every step of an install and check recovery.
 */
#ifdef CK_FAULT_INJECTION
void
ck_fault_point(const gchar *name);
#else
#define ck_fault_point(name) ((void)0)
#endif

G_END_DECLS
