/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include "ck-event-source.h"

typedef struct {
	GSource source;
	sd_event *event;
	gpointer fd_tag;
} CkEventSource;

static gboolean
ck_event_source_prepare(GSource *source, gint *timeout)
{
	CkEventSource *self = (CkEventSource *)source;

	/* sd_event's own timers live behind its epoll fd, which we poll */
	*timeout = -1;
	switch (sd_event_get_state(self->event)) {
	case SD_EVENT_ARMED:
		/* GLib may skip check() when another source was ready first; preparing
		 * again would fail with -EBUSY, so leave the armed state to check() */
		return FALSE;
	case SD_EVENT_PENDING:
		return TRUE;
	default:
		return sd_event_prepare(self->event) > 0;
	}
}

static gboolean
ck_event_source_check(GSource *source)
{
	CkEventSource *self = (CkEventSource *)source;

	switch (sd_event_get_state(self->event)) {
	case SD_EVENT_ARMED:
		return sd_event_wait(self->event, 0) > 0;
	case SD_EVENT_PENDING:
		return TRUE;
	default:
		return FALSE;
	}
}

static gboolean
ck_event_source_dispatch(GSource *source, GSourceFunc callback, gpointer user_data)
{
	CkEventSource *self = (CkEventSource *)source;
	int r;

	if (sd_event_get_state(self->event) != SD_EVENT_PENDING)
		return G_SOURCE_CONTINUE;
	r = sd_event_dispatch(self->event);
	if (r < 0)
		g_warning("sd-event dispatch failed: %s", g_strerror(-r));
	return G_SOURCE_CONTINUE;
}

static void
ck_event_source_finalize(GSource *source)
{
	CkEventSource *self = (CkEventSource *)source;
	sd_event_unref(self->event);
}

static GSourceFuncs ck_event_source_funcs = {
    .prepare = ck_event_source_prepare,
    .check = ck_event_source_check,
    .dispatch = ck_event_source_dispatch,
    .finalize = ck_event_source_finalize,
};

GSource *
ck_event_source_new(sd_event *event)
{
	GSource *source = g_source_new(&ck_event_source_funcs, sizeof(CkEventSource));
	CkEventSource *self = (CkEventSource *)source;

	self->event = sd_event_ref(event);
	self->fd_tag = g_source_add_unix_fd(source, sd_event_get_fd(event), G_IO_IN);
	g_source_set_name(source, "sd-event");
	return source;
}
