/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ck-audit.h"

/*
 * Durability: every line is written with one write() on an O_APPEND descriptor,
 * so it is in the kernel the moment the event happened and survives a crash of
 * the daemon. Surviving a power cut takes fdatasync(), which costs a disk
 * round trip: a renewal storm of 10,000 certificates records some 70,000
 * scheduler events, and syncing each would make the audit log, not the CA, the
 * bottleneck. So what a person did (a D-Bus change, a refusal) is synced at once
 * (they are few, and an intruder's trail must not vanish with the power), and
 * the daemon's own events at most once per CK_AUDIT_SYNC_DELAY_MS, in one sync
 * for all lines written meanwhile.
 */
#define CK_AUDIT_SYNC_DELAY_MS 1000

struct _CkAudit {
	GObject parent_instance;
	gchar *path;
	guint64 max_size;
	guint rotate;
	gint fd;
	guint64 size;     /* bytes in the current file */
	gboolean dirty;   /* written since the last fdatasync() */
	guint sync_id;    /* the coalesced fdatasync() to come */
	gboolean failing; /* the last write failed, and that was said once */
};

G_DEFINE_TYPE(CkAudit, ck_audit, G_TYPE_OBJECT)

static const gchar *const ck_audit_event_names[CK_AUDIT_N_EVENTS] = {
    [CK_AUDIT_REQUEST_ADDED] = "request_added",
    [CK_AUDIT_REQUEST_MODIFIED] = "request_modified",
    [CK_AUDIT_REQUEST_REMOVED] = "request_removed",
    [CK_AUDIT_RENEWAL_REQUESTED] = "renewal_requested",
    [CK_AUDIT_RENEWAL_STARTED] = "renewal_started",
    [CK_AUDIT_KEY_GENERATED] = "key_generated",
    [CK_AUDIT_CSR_CREATED] = "csr_created",
    [CK_AUDIT_CERTIFICATE_ISSUED] = "certificate_issued",
    [CK_AUDIT_CERTIFICATE_INSTALLED] = "certificate_installed",
    [CK_AUDIT_RENEWAL_COMPLETED] = "renewal_completed",
    [CK_AUDIT_RENEWAL_FAILED] = "renewal_failed",
    [CK_AUDIT_ROLLED_BACK] = "rolled_back",
    [CK_AUDIT_REVOKED] = "revoked",
    [CK_AUDIT_CA_ADDED] = "ca_added",
    [CK_AUDIT_CA_MODIFIED] = "ca_modified",
    [CK_AUDIT_CA_REMOVED] = "ca_removed",
    [CK_AUDIT_CONFIG_RELOADED] = "config_reloaded",
    [CK_AUDIT_ACCESS_DENIED] = "access_denied",
    [CK_AUDIT_LOGGING_CHANGED] = "logging_changed",
};

const gchar *
ck_audit_event_to_string(CkAuditEvent event)
{
	return event < CK_AUDIT_N_EVENTS ? ck_audit_event_names[event] : "unknown";
}

gchar *
ck_audit_new_trace_id(void)
{
	g_autofree gchar *uuid = g_uuid_string_random();
	GString *id = g_string_sized_new(32);

	for (const gchar *p = uuid; *p != '\0'; p++) {
		if (*p != '-')
			g_string_append_c(id, *p);
	}
	return g_string_free(id, FALSE);
}

CkAudit *
ck_audit_new(const gchar *path, guint64 max_size, guint rotate)
{
	CkAudit *self = g_object_new(CK_TYPE_AUDIT, NULL);
	self->path = g_strdup(path);
	self->max_size = max_size;
	self->rotate = rotate;
	return self;
}

/* What could not be done to the audit log (a whole sentence each, for translators). */
typedef enum {
	CK_AUDIT_FAILED_MKDIR,
	CK_AUDIT_FAILED_OPEN,
	CK_AUDIT_FAILED_SECURE,
	CK_AUDIT_FAILED_SYNC,
	CK_AUDIT_FAILED_ROTATE,
	CK_AUDIT_FAILED_WRITE,
} CkAuditFailure;

/* Says once that the audit log cannot be written; the work goes on regardless. */
static void
ck_audit_failed(CkAudit *self, CkAuditFailure what, int errsv)
{
	const gchar *reason = g_strerror(errsv);

	if (self->failing)
		return;
	self->failing = TRUE;
	switch (what) {
	case CK_AUDIT_FAILED_MKDIR:
		g_warning(_("Cannot create the directory of the audit log %s: %s; events are not "
			    "recorded until it works again"),
			  self->path, reason);
		break;
	case CK_AUDIT_FAILED_OPEN:
		g_warning(_("Cannot open the audit log %s: %s; events are not recorded until it "
			    "works again"),
			  self->path, reason);
		break;
	case CK_AUDIT_FAILED_SECURE:
		g_warning(_("Cannot make the audit log %s root's only: %s; events are not recorded "
			    "until it works again"),
			  self->path, reason);
		break;
	case CK_AUDIT_FAILED_SYNC:
		g_warning(_("Cannot sync the audit log %s: %s; events are not recorded until it "
			    "works again"),
			  self->path, reason);
		break;
	case CK_AUDIT_FAILED_ROTATE:
		g_warning(_("Cannot rotate the audit log %s: %s; events are not recorded until it "
			    "works again"),
			  self->path, reason);
		break;
	case CK_AUDIT_FAILED_WRITE:
		g_warning(_("Cannot write the audit log %s: %s; events are not recorded until it "
			    "works again"),
			  self->path, reason);
		break;
	}
}

static gboolean
ck_audit_open(CkAudit *self)
{
	g_autofree gchar *dir = g_path_get_dirname(self->path);
	struct stat st;

	if (self->fd >= 0)
		return TRUE;
	if (g_mkdir_with_parents(dir, 0750) < 0) {
		ck_audit_failed(self, CK_AUDIT_FAILED_MKDIR, errno);
		return FALSE;
	}
	/* O_NOFOLLOW: a link planted at the path must not redirect root's writes */
	self->fd = open(self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (self->fd < 0) {
		ck_audit_failed(self, CK_AUDIT_FAILED_OPEN, errno);
		return FALSE;
	}
	/* a file made earlier by hand or with another mode is still root's only */
	if (fchmod(self->fd, 0600) < 0 || fstat(self->fd, &st) < 0) {
		ck_audit_failed(self, CK_AUDIT_FAILED_SECURE, errno);
		close(self->fd);
		self->fd = -1;
		return FALSE;
	}
	self->size = (guint64)st.st_size;
	return TRUE;
}

static void
ck_audit_close(CkAudit *self)
{
	if (self->fd < 0)
		return;
	if (self->dirty && fdatasync(self->fd) < 0)
		ck_audit_failed(self, CK_AUDIT_FAILED_SYNC, errno);
	self->dirty = FALSE;
	close(self->fd);
	self->fd = -1;
}

/* audit.log -> audit.log.1 -> ... -> audit.log.N; what was .N is gone. */
static void
ck_audit_rotate(CkAudit *self)
{
	ck_audit_close(self);
	for (guint i = self->rotate; i > 1; i--) {
		g_autofree gchar *from = g_strdup_printf("%s.%u", self->path, i - 1);
		g_autofree gchar *to = g_strdup_printf("%s.%u", self->path, i);
		if (g_rename(from, to) < 0 && errno != ENOENT)
			ck_audit_failed(self, CK_AUDIT_FAILED_ROTATE, errno);
	}
	if (self->rotate > 0) {
		g_autofree gchar *first = g_strdup_printf("%s.1", self->path);
		if (g_rename(self->path, first) < 0 && errno != ENOENT)
			ck_audit_failed(self, CK_AUDIT_FAILED_ROTATE, errno);
	} else if (g_unlink(self->path) < 0 && errno != ENOENT) {
		ck_audit_failed(self, CK_AUDIT_FAILED_ROTATE, errno);
	}
}

static gboolean
ck_audit_sync_cb(gpointer user_data)
{
	CkAudit *self = CK_AUDIT(user_data);

	self->sync_id = 0;
	ck_audit_sync(self);
	return G_SOURCE_REMOVE;
}

void
ck_audit_sync(CkAudit *self)
{
	g_return_if_fail(CK_IS_AUDIT(self));
	g_clear_handle_id(&self->sync_id, g_source_remove);
	if (self->fd >= 0 && self->dirty && fdatasync(self->fd) < 0)
		ck_audit_failed(self, CK_AUDIT_FAILED_SYNC, errno);
	self->dirty = FALSE;
}

static void
ck_audit_write(CkAudit *self, const gchar *line, gsize len, gboolean sync_now)
{
	gsize done = 0;

	if (self->size > 0 && self->size + len > self->max_size)
		ck_audit_rotate(self);
	if (!ck_audit_open(self))
		return;
	while (done < len) {
		gssize n = write(self->fd, line + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ck_audit_failed(self, CK_AUDIT_FAILED_WRITE, errno);
			/* reopened at the next event: the disk may have room again, or the
			 * file may have been moved away */
			close(self->fd);
			self->fd = -1;
			return;
		}
		done += (gsize)n;
	}
	self->size += len;
	self->dirty = TRUE;
	if (self->failing) {
		self->failing = FALSE;
		g_message("the audit log %s is written again", self->path);
	}
	if (sync_now)
		ck_audit_sync(self);
	else if (self->sync_id == 0)
		self->sync_id = g_timeout_add(CK_AUDIT_SYNC_DELAY_MS, ck_audit_sync_cb, self);
}

static void
ck_audit_add_strv(JsonBuilder *builder, const gchar *member, const gchar *const *values)
{
	if (values == NULL || values[0] == NULL)
		return;
	json_builder_set_member_name(builder, member);
	json_builder_begin_array(builder);
	for (guint i = 0; values[i] != NULL; i++)
		json_builder_add_string_value(builder, values[i]);
	json_builder_end_array(builder);
}

static void
ck_audit_add_string(JsonBuilder *builder, const gchar *member, const gchar *value)
{
	if (value == NULL || value[0] == '\0')
		return;
	json_builder_set_member_name(builder, member);
	json_builder_add_string_value(builder, value);
}

static void
ck_audit_add_actor(JsonBuilder *builder, const CkCaller *actor)
{
	json_builder_set_member_name(builder, "actor");
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "type");
	if (actor == NULL) {
		json_builder_add_string_value(builder, "scheduler");
	} else {
		/* no pid: the daemon on behalf of root, for a signal or requests.d */
		json_builder_add_string_value(builder, actor->pid > 0 ? "dbus" : "local");
		json_builder_set_member_name(builder, "uid");
		json_builder_add_int_value(builder, actor->uid);
		if (actor->pid > 0) {
			json_builder_set_member_name(builder, "pid");
			json_builder_add_int_value(builder, actor->pid);
		}
		ck_audit_add_string(builder, "unit", actor->unit);
	}
	json_builder_end_object(builder);
}

static void
ck_audit_add_subject(JsonBuilder *builder, CkRequest *request, const gchar *ca)
{
	json_builder_set_member_name(builder, "subject");
	json_builder_begin_object(builder);
	if (request != NULL) {
		ck_audit_add_string(builder, "request_id", ck_request_get_id(request));
		ck_audit_add_string(builder, "subject_dn", ck_request_get_subject(request));
		ck_audit_add_string(builder, "serial", ck_request_get_serial(request));
		ck_audit_add_strv(builder, "dns_names", ck_request_get_dns_names(request));
		ck_audit_add_strv(builder, "ip_addresses", ck_request_get_ip_addresses(request));
		ck_audit_add_strv(builder, "emails", ck_request_get_emails(request));
		ck_audit_add_strv(builder, "uris", ck_request_get_uris(request));
		if (ca == NULL)
			ca = ck_request_get_ca(request);
	}
	ck_audit_add_string(builder, "ca", ca);
	json_builder_end_object(builder);
}

/* RFC 3339 in UTC with microseconds: lines of one second still sort. */
static gchar *
ck_audit_timestamp(void)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	return g_date_time_format(now, "%Y-%m-%dT%H:%M:%S.%fZ");
}

void
ck_audit_recordv(CkAudit *self, CkAuditEvent event, const CkCaller *actor, CkRequest *request,
		 const gchar *ca, const gchar *trace_id, const gchar *result, va_list args)
{
	g_autoptr(JsonBuilder) builder = NULL;
	g_autoptr(JsonGenerator) generator = NULL;
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *timestamp = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *line = NULL;

	g_return_if_fail(CK_IS_AUDIT(self));
	if (self->path == NULL)
		return;
	builder = json_builder_new();
	timestamp = ck_audit_timestamp();
	json_builder_begin_object(builder);
	ck_audit_add_string(builder, "timestamp", timestamp);
	ck_audit_add_string(builder, "event_type", ck_audit_event_to_string(event));
	ck_audit_add_actor(builder, actor);
	ck_audit_add_subject(builder, request, ca);
	ck_audit_add_string(builder, "result", result);
	ck_audit_add_string(builder, "trace_id", trace_id);
	json_builder_set_member_name(builder, "metadata");
	json_builder_begin_object(builder);
	for (const gchar *key = va_arg(args, const gchar *); key != NULL;
	     key = va_arg(args, const gchar *))
		ck_audit_add_string(builder, key, va_arg(args, const gchar *));
	json_builder_end_object(builder);
	json_builder_end_object(builder);

	root = json_builder_get_root(builder);
	generator = json_generator_new();
	json_generator_set_root(generator, root);
	text = json_generator_to_data(generator, NULL);
	g_debug("audit: %s", text);
	line = g_strconcat(text, "\n", NULL);
	/* the scheduler's events wait for the coalesced sync; what people do does not */
	ck_audit_write(self, line, strlen(line), actor != NULL);
}

void
ck_audit_record(CkAudit *self, CkAuditEvent event, const CkCaller *actor, CkRequest *request,
		const gchar *ca, const gchar *trace_id, const gchar *result, ...)
{
	va_list args;

	va_start(args, result);
	ck_audit_recordv(self, event, actor, request, ca, trace_id, result, args);
	va_end(args);
}

static void
ck_audit_finalize(GObject *object)
{
	CkAudit *self = CK_AUDIT(object);

	g_clear_handle_id(&self->sync_id, g_source_remove);
	ck_audit_close(self);
	g_free(self->path);
	G_OBJECT_CLASS(ck_audit_parent_class)->finalize(object);
}

static void
ck_audit_class_init(CkAuditClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ck_audit_finalize;
}

static void
ck_audit_init(CkAudit *self)
{
	self->fd = -1;
}
