/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * org.freedesktop.LogControl1 on /org/freedesktop/LogControl1, the interface
 * systemd's own daemons offer, so that `systemctl service-log-level
 * certkeeperd debug` and `systemctl service-log-target` work. Everyone may read;
 * only root may set (the engine decides and audits, like every change).
 */
#include "config.h"

#include <systemd/sd-bus.h>

#include "ck-bus-error.h"
#include "ck-bus-private.h"
#include "ck-log.h"

static int
ck_bus_log_get_level(sd_bus *bus, const char *path, const char *interface, const char *property,
		     sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", ck_log_get_level_name());
}

static int
ck_bus_log_get_target(sd_bus *bus, const char *path, const char *interface, const char *property,
		      sd_bus_message *reply, void *userdata, sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s", ck_log_get_target_name());
}

static int
ck_bus_log_get_identifier(sd_bus *bus, const char *path, const char *interface,
			  const char *property, sd_bus_message *reply, void *userdata,
			  sd_bus_error *error)
{
	return sd_bus_message_append(reply, "s",
				     g_get_prgname() != NULL ? g_get_prgname() : "certkeeperd");
}

/* LogLevel and LogTarget: read the value, let the engine authorise and apply it. */
static int
ck_bus_log_set(sd_bus *bus, const char *path, const char *interface, const char *property,
	       sd_bus_message *value, void *userdata, sd_bus_error *error)
{
	CkBus *self = CK_BUS(userdata);
	g_autoptr(GError) local_error = NULL;
	CkCaller caller = {0};
	const char *text = NULL;
	int r;

	r = sd_bus_message_read(value, "s", &text);
	if (r < 0)
		return r;
	r = ck_bus_get_caller(sd_bus_get_current_message(bus), &caller, error);
	if (r < 0)
		return r;
	if (!ck_engine_set_log_setting(self->engine, &caller, property, text, &local_error))
		return ck_bus_error_from_gerror(error, local_error);
	/* sd-bus emits nothing for a set by itself: watchers learn of it here */
	r = sd_bus_emit_properties_changed(bus, path, interface, property, NULL);
	if (r < 0)
		g_warning("cannot announce the new %s: %s", property, g_strerror(-r));
	return 1;
}

/* UNPRIVILEGED: the engine does the check, so that a refusal is audited and says why */
const sd_bus_vtable ck_bus_log_control_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_WRITABLE_PROPERTY("LogLevel", "s", ck_bus_log_get_level, ck_bus_log_set, 0,
			     SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_WRITABLE_PROPERTY("LogTarget", "s", ck_bus_log_get_target, ck_bus_log_set, 0,
			     SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
    SD_BUS_PROPERTY("SyslogIdentifier", "s", ck_bus_log_get_identifier, 0,
		    SD_BUS_VTABLE_PROPERTY_CONST),
    SD_BUS_VTABLE_END,
};
