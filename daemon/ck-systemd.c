/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ck-bus-error.h"
#include "ck-error.h"
#include "ck-event-source.h"
#include "ck-systemd.h"

#define CK_SYSTEMD_NAME	 "org.freedesktop.systemd1"
#define CK_SYSTEMD_PATH	 "/org/freedesktop/systemd1"
#define CK_SYSTEMD_IFACE "org.freedesktop.systemd1.Manager"
/* A reload that has not finished by then is reported as failed. */
#define CK_SYSTEMD_JOB_TIMEOUT_SECONDS 90

struct _CkSystemd {
	GObject parent_instance;
	gchar *bus_spec;
	sd_bus *bus;
	sd_event *event;
	GSource *source;
	GHashTable *jobs;     /* job path -> GTask waiting for JobRemoved */
	GHashTable *finished; /* job path -> result, for JobRemoved before the reply */
	guint replies_pending; /* our calls still waiting for their reply (and job path) */
	/*
	 * The JobRemoved match and systemd's Subscribe() exist only while one of our
	 * jobs is pending: subscribed, certkeeperd would wake for every job of the host.
	 */
	sd_bus_slot *job_match;
	guint unwatch_id;
};

static void ck_systemd_iface_init(CkServiceManagerInterface *iface);
static void ck_systemd_maybe_unwatch(CkSystemd *self);

G_DEFINE_TYPE_WITH_CODE(CkSystemd, ck_systemd, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(CK_TYPE_SERVICE_MANAGER, ck_systemd_iface_init))

/* The job's end: "done", or what went wrong. */
static void
ck_systemd_job_finished(GTask *task, const char *result)
{
	const gchar *unit = g_task_get_task_data(task);
	if (g_strcmp0(result, "done") == 0)
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					/* TRANSLATORS: the unit, then systemd's job result */
					_("systemd could not reload %s: the job ended with '%s'"),
					unit, result);
}

static int
ck_systemd_job_removed_cb(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	CkSystemd *self = CK_SYSTEMD(userdata);
	uint32_t id = 0;
	const char *job = NULL, *unit = NULL, *result = NULL;
	GTask *task;

	if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
		return 0;
	task = g_hash_table_lookup(self->jobs, job);
	if (task == NULL) {
		/* perhaps ours, with the method reply still on its way; subscribers hear of
		 * every job of the host, and those are none of our business */
		if (self->replies_pending > 0)
			g_hash_table_insert(self->finished, g_strdup(job), g_strdup(result));
		return 0;
	}
	g_hash_table_steal(self->jobs, job);
	ck_systemd_job_finished(task, result);
	g_object_unref(task);
	ck_systemd_maybe_unwatch(self);
	return 0;
}

/*
 * Listens for JobRemoved before a job is asked for: the match is in place (a
 * synchronous AddMatch) before the method call goes out, so no result is missed.
 */
static int
ck_systemd_watch_jobs(CkSystemd *self)
{
	int r;

	if (self->unwatch_id != 0) {
		g_source_remove(self->unwatch_id);
		self->unwatch_id = 0;
	}
	if (self->job_match != NULL)
		return 0;
	r = sd_bus_match_signal(self->bus, &self->job_match, CK_SYSTEMD_NAME, CK_SYSTEMD_PATH,
				CK_SYSTEMD_IFACE, "JobRemoved", ck_systemd_job_removed_cb, self);
	/* systemd only sends job signals while some client is subscribed */
	if (r >= 0)
		r = sd_bus_call_method(self->bus, CK_SYSTEMD_NAME, CK_SYSTEMD_PATH,
				       CK_SYSTEMD_IFACE, "Subscribe", NULL, NULL, NULL);
	if (r < 0)
		self->job_match = sd_bus_slot_unref(self->job_match);
	return r;
}

static gboolean
ck_systemd_unwatch_cb(gpointer user_data)
{
	CkSystemd *self = CK_SYSTEMD(user_data);

	self->unwatch_id = 0;
	if (self->replies_pending > 0 || g_hash_table_size(self->jobs) > 0 ||
	    self->job_match == NULL)
		return G_SOURCE_REMOVE;
	self->job_match = sd_bus_slot_unref(self->job_match);
	g_hash_table_remove_all(self->finished);
	/* no answer is needed: a failure only means systemd forgot us already */
	(void)sd_bus_call_method_async(self->bus, NULL, CK_SYSTEMD_NAME, CK_SYSTEMD_PATH,
				       CK_SYSTEMD_IFACE, "Unsubscribe", NULL, NULL, NULL);
	return G_SOURCE_REMOVE;
}

/* Once nothing of ours is pending, stops listening (from an idle: not inside the match's callback).
 */
static void
ck_systemd_maybe_unwatch(CkSystemd *self)
{
	if (self->unwatch_id != 0 || self->replies_pending > 0 ||
	    g_hash_table_size(self->jobs) > 0)
		return;
	self->unwatch_id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, ck_systemd_unwatch_cb,
					   g_object_ref(self), g_object_unref);
}

static int
ck_systemd_open(CkSystemd *self, GError **error)
{
	int r;

	if (self->bus != NULL)
		return 0;
	if (g_strcmp0(self->bus_spec, "system") == 0) {
		r = sd_bus_open_system(&self->bus);
	} else {
		r = sd_bus_new(&self->bus);
		if (r >= 0)
			r = sd_bus_set_address(self->bus, self->bus_spec);
		if (r >= 0)
			r = sd_bus_set_bus_client(self->bus, 1);
		if (r >= 0)
			r = sd_bus_start(self->bus);
	}
	if (r >= 0)
		r = sd_event_new(&self->event);
	if (r >= 0)
		r = sd_bus_attach_event(self->bus, self->event, SD_EVENT_PRIORITY_NORMAL);
	if (r < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_FAILED,
			    /* TRANSLATORS: the bus, then the reason */
			    _("Cannot reach systemd on the bus '%s': %s"), self->bus_spec,
			    g_strerror(-r));
		self->bus = sd_bus_flush_close_unref(self->bus);
		self->event = sd_event_unref(self->event);
		return r;
	}
	self->source = ck_event_source_new(self->event);
	g_source_attach(self->source, g_main_context_get_thread_default());
	return 0;
}

static const char *
ck_systemd_method(const gchar *mode)
{
	static const struct {
		const gchar *mode;
		const char *method;
	} methods[] = {
	    {"reload", "ReloadUnit"},
	    {"restart", "RestartUnit"},
	    {"try-restart", "TryRestartUnit"},
	    {"reload-or-restart", "ReloadOrRestartUnit"},
	    {"reload-or-try-restart", "ReloadOrTryRestartUnit"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		if (g_strcmp0(methods[i].mode, mode) == 0)
			return methods[i].method;
	}
	return NULL;
}

static gboolean
ck_systemd_timeout_cb(gpointer user_data)
{
	GTask *task = user_data;
	CkSystemd *self = g_task_get_source_object(task);
	GHashTableIter iter;
	gpointer value;

	g_hash_table_iter_init(&iter, self->jobs);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		if (value == task) {
			g_hash_table_iter_steal(&iter);
			g_task_return_new_error(task, CK_ERROR, CK_ERROR_TIMED_OUT,
						_("systemd did not finish reloading %s within %u s"),
						(const gchar *)g_task_get_task_data(task),
						CK_SYSTEMD_JOB_TIMEOUT_SECONDS);
			g_object_unref(task);
			break;
		}
	}
	ck_systemd_maybe_unwatch(self);
	return G_SOURCE_REMOVE;
}

static int
ck_systemd_reply_cb(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error)
{
	GTask *task = userdata;
	CkSystemd *self = g_task_get_source_object(task);
	const sd_bus_error *e = sd_bus_message_get_error(reply);
	const char *job = NULL;
	const gchar *result;

	self->replies_pending--;
	if (e != NULL) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					/* TRANSLATORS: the unit, then systemd's answer */
					_("systemd refused to reload %s: %s"),
					(const gchar *)g_task_get_task_data(task), e->message);
		g_object_unref(task);
		ck_systemd_maybe_unwatch(self);
		return 0;
	}
	if (sd_bus_message_read(reply, "o", &job) < 0) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					_("systemd sent an unexpected answer"));
		g_object_unref(task);
		ck_systemd_maybe_unwatch(self);
		return 0;
	}
	result = g_hash_table_lookup(self->finished, job);
	if (result != NULL) {
		ck_systemd_job_finished(task, result);
		g_hash_table_remove(self->finished, job);
		g_object_unref(task);
		ck_systemd_maybe_unwatch(self);
		return 0;
	}
	/* the task stays referenced by the table until JobRemoved or the timeout */
	g_hash_table_insert(self->jobs, g_strdup(job), task);
	g_timeout_add_seconds_full(G_PRIORITY_DEFAULT, CK_SYSTEMD_JOB_TIMEOUT_SECONDS,
				   ck_systemd_timeout_cb, g_object_ref(task), g_object_unref);
	return 0;
}

static void
ck_systemd_reload_unit_async(CkServiceManager *manager, const gchar *unit, const gchar *mode,
			     GCancellable *cancellable, GAsyncReadyCallback callback,
			     gpointer user_data)
{
	CkSystemd *self = CK_SYSTEMD(manager);
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	g_autoptr(GError) error = NULL;
	const char *method = ck_systemd_method(mode);
	int r;

	g_task_set_source_tag(task, ck_systemd_reload_unit_async);
	g_task_set_task_data(task, g_strdup(unit), g_free);
	if (method == NULL) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
					_("'%s' is not a reload mode"), mode);
		return;
	}
	if (ck_systemd_open(self, &error) < 0) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	r = ck_systemd_watch_jobs(self);
	if (r < 0) {
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					_("Cannot follow systemd's jobs: %s"), g_strerror(-r));
		return;
	}
	g_debug("asking systemd to %s %s", mode, unit);
	/* what ended early while no reply was pending belongs to other callers' jobs */
	if (self->replies_pending == 0)
		g_hash_table_remove_all(self->finished);
	r = sd_bus_call_method_async(self->bus, NULL, CK_SYSTEMD_NAME, CK_SYSTEMD_PATH,
				     CK_SYSTEMD_IFACE, method, ck_systemd_reply_cb,
				     g_object_ref(task), "ss", unit, "replace");
	if (r >= 0)
		self->replies_pending++;
	if (r < 0) {
		g_object_unref(task);
		g_task_return_new_error(task, CK_ERROR, CK_ERROR_FAILED,
					_("Cannot ask systemd to reload %s: %s"), unit,
					g_strerror(-r));
		ck_systemd_maybe_unwatch(self);
	}
}

static gboolean
ck_systemd_reload_unit_finish(CkServiceManager *manager, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

static void
ck_systemd_iface_init(CkServiceManagerInterface *iface)
{
	iface->reload_unit_async = ck_systemd_reload_unit_async;
	iface->reload_unit_finish = ck_systemd_reload_unit_finish;
}

static void
ck_systemd_finalize(GObject *object)
{
	CkSystemd *self = CK_SYSTEMD(object);

	/* the idle holds a reference: it cannot be pending here */
	sd_bus_slot_unref(self->job_match);
	if (self->source != NULL) {
		g_source_destroy(self->source);
		g_source_unref(self->source);
	}
	if (self->bus != NULL) {
		sd_bus_detach_event(self->bus);
		sd_bus_flush_close_unref(self->bus);
	}
	if (self->event != NULL)
		sd_event_unref(self->event);
	g_hash_table_unref(self->jobs);
	g_hash_table_unref(self->finished);
	g_free(self->bus_spec);
	G_OBJECT_CLASS(ck_systemd_parent_class)->finalize(object);
}

static void
ck_systemd_init(CkSystemd *self)
{
	self->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->finished = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
ck_systemd_class_init(CkSystemdClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ck_systemd_finalize;
}

CkSystemd *
ck_systemd_new(const gchar *bus_spec)
{
	CkSystemd *self = g_object_new(CK_TYPE_SYSTEMD, NULL);
	self->bus_spec = g_strdup(bus_spec);
	return self;
}
