/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ck-fault.h"

#ifdef CK_FAULT_INJECTION
#include <signal.h>
#include <string.h>
#include <unistd.h>

void
ck_fault_point(const gchar *name)
{
	static gchar *armed = NULL;
	static guint64 countdown = 0;
	static gboolean parsed = FALSE;

	if (!parsed) {
		const gchar *spec = g_getenv("CERTKEEPER_FAULT_POINT");
		parsed = TRUE;
		if (spec != NULL && spec[0] != '\0') {
			const gchar *colon = strchr(spec, ':');
			armed = colon != NULL ? g_strndup(spec, (gsize)(colon - spec)) : g_strdup(spec);
			countdown = colon != NULL ? g_ascii_strtoull(colon + 1, NULL, 10) : 1;
			if (countdown == 0)
				countdown = 1;
		}
	}
	if (armed == NULL || g_strcmp0(armed, name) != 0 || --countdown > 0)
		return;
	/* to stderr without buffering: the test reads it to know where we died */
	{
		const gchar *prefix = "certkeeperd: fault injection: killed at ";
		(void)!write(STDERR_FILENO, prefix, strlen(prefix));
		(void)!write(STDERR_FILENO, name, strlen(name));
		(void)!write(STDERR_FILENO, "\n", 1);
	}
	kill(getpid(), SIGKILL);
}
#endif
