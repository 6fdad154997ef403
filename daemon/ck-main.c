/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "ck-bus.h"
#include "ck-clock.h"
#include "ck-config.h"
#include "ck-engine.h"
#include "ck-error.h"
#include "ck-file-util.h"
#include "ck-log.h"
#include "ck-systemd.h"

/* a lost bus is a failure, so that systemd's Restart=on-failure brings the daemon back */
static int ck_exit_status = EXIT_SUCCESS;
/* the "auto" target: systemd connected stderr to the journal (JOURNAL_STREAM) */
static gboolean ck_stderr_is_journal = FALSE;

/* One entry in the journal's native protocol, with every field the message has
 * (MESSAGE_ID, CERTKEEPER_*); FALSE if the journal cannot be reached. */
static gboolean
ck_main_send_journal(GLogLevelFlags level, const GLogField *fields, gsize n_fields)
{
	g_autoptr(GPtrArray) entries = g_ptr_array_new_with_free_func(g_free);
	g_autofree struct iovec *iov = NULL;
	gsize n = 0;

	g_ptr_array_add(entries, g_strdup_printf("PRIORITY=%d", ck_log_priority_of(level)));
	g_ptr_array_add(entries, g_strdup("SYSLOG_IDENTIFIER=certkeeperd"));
	for (gsize i = 0; i < n_fields; i++) {
		gsize len = fields[i].length < 0 ? strlen(fields[i].value) : (gsize)fields[i].length;
		GString *entry;
		/* ours above; GLib's own PRIORITY maps criticals to warnings */
		if (g_strcmp0(fields[i].key, "PRIORITY") == 0 ||
		    g_strcmp0(fields[i].key, "SYSLOG_IDENTIFIER") == 0)
			continue;
		entry = g_string_new(fields[i].key);
		g_string_append_c(entry, '=');
		g_string_append_len(entry, fields[i].value, (gssize)len);
		g_ptr_array_add(entries, g_string_free(entry, FALSE));
	}
	iov = g_new0(struct iovec, entries->len);
	for (guint i = 0; i < entries->len; i++) {
		iov[n].iov_base = g_ptr_array_index(entries, i);
		iov[n].iov_len = strlen(g_ptr_array_index(entries, i));
		n++;
	}
	return sd_journal_sendv(iov, (int)n) >= 0;
}

static GLogWriterOutput
ck_main_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields,
		   gpointer user_data)
{
	CkLogTarget target = ck_log_get_target();

	/* lower syslog priorities are more severe: drop what is below the set level */
	if (ck_log_priority_of(level) > ck_log_get_max_priority())
		return G_LOG_WRITER_HANDLED;
	if (target == CK_LOG_TARGET_AUTO)
		target = ck_stderr_is_journal ? CK_LOG_TARGET_JOURNAL : CK_LOG_TARGET_CONSOLE;
	if (target == CK_LOG_TARGET_NULL)
		return G_LOG_WRITER_HANDLED;
	/* a journal that is gone (stopped, or not there at all) falls back to stderr */
	if (target == CK_LOG_TARGET_JOURNAL && ck_main_send_journal(level, fields, n_fields))
		return G_LOG_WRITER_HANDLED;
	return g_log_writer_standard_streams(level, fields, n_fields, user_data);
}

static gboolean
ck_main_quit_cb(gpointer user_data)
{
	GMainLoop *loop = user_data;
	sd_notify(0, "STOPPING=1");
	g_message("stopping");
	g_main_loop_quit(loop);
	return G_SOURCE_CONTINUE;
}

/* SIGHUP: read the configuration, policy.d and requests.d again, like Reload(). */
static gboolean
ck_main_reload_cb(gpointer user_data)
{
	CkEngine *engine = CK_ENGINE(user_data);
	CkCaller daemon = {0};
	g_autoptr(GError) error = NULL;

	if (!ck_engine_reload(engine, &daemon, &error))
		g_warning("%s", error->message);
	return G_SOURCE_CONTINUE;
}

/* SIGUSR2: look at the clock again (tests move a test clock; admins after fixing the time). */
static gboolean
ck_main_clock_cb(gpointer user_data)
{
	CkEngine *engine = CK_ENGINE(user_data);
	ck_clock_reload_offset();
	g_message("re-examining the clock (now %lld)", (long long)ck_clock_now());
	ck_engine_clock_changed(engine);
	return G_SOURCE_CONTINUE;
}

static void
ck_main_disconnected_cb(CkBus *bus, GMainLoop *loop)
{
	g_warning("the D-Bus connection was closed; stopping");
	ck_exit_status = EXIT_FAILURE;
	sd_notify(0, "STOPPING=1");
	g_main_loop_quit(loop);
}

int
main(int argc, char **argv)
{
	g_autofree gchar *bus_spec = NULL;
	g_autofree gchar *state_dir = NULL;
	g_autofree gchar *config_path = NULL;
	g_autofree gchar *log_level = NULL;
	g_autofree gchar *log_target = NULL;
	g_autofree gchar *systemd_bus = NULL;
	g_autoptr(CkSystemd) systemd = NULL;
	g_autofree gchar *lock_path = NULL;
	gboolean version = FALSE;
	g_autoptr(GError) error = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(CkConfig) config = NULL;
	g_autoptr(CkEngine) engine = NULL;
	g_autoptr(CkBus) bus = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	int lock_fd;
	const GOptionEntry entries[] = {
	    {"bus", 0, 0, G_OPTION_ARG_STRING, &bus_spec,
	     /* TRANSLATORS: --bus option */
	     N_("Bus to serve on: system (default), session or a D-Bus address"), "BUS"},
	    {"state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
	     N_("State directory (default " CK_STATEDIR ")"), "DIR"},
	    {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
	     N_("Configuration file (default " CK_SYSCONFDIR "/certkeeper.conf)"), "FILE"},
	    {"systemd-bus", 0, 0, G_OPTION_ARG_STRING, &systemd_bus,
	     N_("Where systemd is, for reloading units: system (default), a D-Bus address or "
		"none"),
	     "BUS"},
	    {"log-level", 0, 0, G_OPTION_ARG_STRING, &log_level,
	     N_("Log level: error, warning, message (default), info or debug, or a syslog "
		"level (emerg .. debug)"),
	     "LEVEL"},
	    {"log-target", 0, 0, G_OPTION_ARG_STRING, &log_target,
	     N_("Where messages go: auto (default: the journal when started by systemd), "
		"console, journal or null"),
	     "TARGET"},
	    {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL},
	    {NULL}};

	/*
	 * Memory after a burst (thousands of requests issued at once) should come
	 * back to what the tracked requests need, as after a restart. Two glibc
	 * defaults stand in the way, so both are set before any thread exists:
	 * - every thread that allocates gets an arena of its own (up to 8 per
	 *   CPU), and malloc_trim() cannot shrink the top of those: the key
	 *   generations' and signings' garbage stayed there for good. The worker
	 *   threads only compute (prime searches, signatures) and allocate
	 *   little, so sharing one arena costs nothing measurable.
	 * - the mmap threshold grows to the largest block freed so far: after one
	 *   big bus reply (a listing of 10,000 requests is some 20 MB) later ones
	 *   came from the heap, and freed heap above the raised trim threshold
	 *   stayed mapped. A fixed threshold keeps such blocks in mmap(), given
	 *   back as soon as they are freed.
	 */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);

	setlocale(LC_ALL, "");
	/* CERTKEEPER_LOCALEDIR: catalogs outside the installed prefix (tests, relocated trees) */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("CERTKEEPER_LOCALEDIR") != NULL
					    ? g_getenv("CERTKEEPER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	/* TRANSLATORS: the one-line summary of certkeeperd --help */
	context = g_option_context_new(_("— keep this host's certificates valid"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	if (version) {
		g_print("certkeeperd %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	ck_stderr_is_journal = g_log_writer_is_journald(STDERR_FILENO);
	if (log_target != NULL && !ck_log_set_target_name(log_target, &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	g_log_set_writer_func(ck_main_log_writer, NULL, NULL);

	config = ck_config_new();
	if (!ck_config_load(config, config_path != NULL ? config_path
							: CK_SYSCONFDIR "/certkeeper.conf",
			    config_path != NULL, &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	if (log_level == NULL && ck_config_get_log_level(config) != NULL)
		log_level = g_strdup(ck_config_get_log_level(config));
	if (log_level != NULL && !ck_log_set_level_name(log_level, &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	if (state_dir == NULL)
		state_dir = g_strdup(ck_config_get_state_dir(config) != NULL
					 ? ck_config_get_state_dir(config)
					 : CK_STATEDIR);

	/* one daemon per state directory: a second one would corrupt the first one's files */
	if (!ck_file_ensure_dir(state_dir, 0700, &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	lock_path = g_build_filename(state_dir, "certkeeperd.lock", NULL);
	lock_fd = ck_file_lock_exclusive(lock_path, &error);
	if (lock_fd < 0) {
		if (g_error_matches(error, CK_ERROR, CK_ERROR_ALREADY_EXISTS))
			g_printerr(_("certkeeperd: another certkeeperd already uses the state "
				     "directory %s; stop it first\n"),
				   state_dir);
		else
			g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}

	engine = ck_engine_new(config, state_dir);
	ck_engine_set_config_path(engine, config_path != NULL ? config_path
							       : CK_SYSCONFDIR "/certkeeper.conf");
	if (g_strcmp0(systemd_bus, "none") != 0) {
		systemd = ck_systemd_new(systemd_bus != NULL ? systemd_bus : "system");
		ck_engine_set_service_manager(engine, CK_SERVICE_MANAGER(systemd));
	}
	if (!ck_engine_start(engine, &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	loop = g_main_loop_new(NULL, FALSE);
	bus = ck_bus_new(engine);
	if (!ck_bus_connect(bus, bus_spec != NULL ? bus_spec : "system", &error)) {
		g_printerr("certkeeperd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	g_signal_connect(bus, "disconnected", G_CALLBACK(ck_main_disconnected_cb), loop);
	g_unix_signal_add(SIGTERM, ck_main_quit_cb, loop);
	g_unix_signal_add(SIGINT, ck_main_quit_cb, loop);
	g_unix_signal_add(SIGUSR2, ck_main_clock_cb, engine);
	g_unix_signal_add(SIGHUP, ck_main_reload_cb, engine);

	g_message("certkeeperd %s ready (state in %s)", PACKAGE_VERSION, state_dir);
	sd_notify(0, "READY=1\nSTATUS=Keeping certificates valid");
	g_main_loop_run(loop);
	ck_engine_stop(engine);
	return ck_exit_status;
}
