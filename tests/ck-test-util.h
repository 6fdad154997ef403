/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Is @program in $PATH? (for tests that skip without a peer) */
gboolean
ck_test_have_program(const gchar *program);

/* A fresh directory under $TMPDIR; removed by ck_test_rm_rf(). */
gchar *
ck_test_make_tmpdir(void);

/* Removes @path and everything below it (for test directories only). */
void
ck_test_rm_rf(const gchar *path);

/*
 * Runs @argv synchronously; returns its exit status (-1 if it could not run).
 * @stdout_out / @stderr_out may be NULL.
 */
gint
ck_test_run(const gchar *const *argv, gchar **stdout_out, gchar **stderr_out);

/* Mode bits (07777) of @path, or -1 if it cannot be stat'ed. */
gint
ck_test_file_mode(const gchar *path);

/* Writes @contents to @dir/@name (asserting success); returns the path. */
gchar *
ck_test_write_file(const gchar *dir, const gchar *name, const gchar *contents);

/* The contents of @path (asserting it can be read): compare a file's bytes before and after. */
gchar *
ck_test_read_file(const gchar *path);

/*
 * @pem (a PEM block labelled @label, e.g. "NEW CERTIFICATE REQUEST") with the first
 * occurrence of @from in its DER replaced by @to, which has the same length: the
 * object still parses, but a signature over it no longer matches.
 */
gchar *
ck_test_pem_patch(const gchar *pem, const gchar *label, const gchar *from, const gchar *to);

/*
 * Makes @cert_path a self-signed certificate for CN=@cn (and DNS name @cn) with
 * the key in @key_path, valid from @from until @until (Unix seconds), with
 * certtool: an expired one stands for a device that was offline too long.
 */
void
ck_test_make_self_signed(const gchar *cn, gint64 from, gint64 until, const gchar *key_path,
			 const gchar *cert_path);

/* A new EC P-256 key, PKCS#8 PEM, mode 0600, at @path (openssl genpkey). */
void
ck_test_make_ec_key(const gchar *path);

/* A TCP port on 127.0.0.1 that nothing listens on right now (for servers a test starts). */
guint
ck_test_free_port(void);

/* SoftHSM's module, or NULL when softhsm2 is not installed (the test skips). */
const gchar *
ck_test_softhsm_module(void);

/*
 * A private SoftHSM token store in @dir (its own softhsm2.conf and token
 * directory), made the one of this process and its children (SOFTHSM2_CONF);
 * returns the configuration's path.
 */
gchar *
ck_test_softhsm_setup(const gchar *dir);

/* Initialises a token labelled @label with user PIN @pin in the store of ck_test_softhsm_setup(). */
void
ck_test_softhsm_init_token(const gchar *label, const gchar *pin);

/* How many objects p11tool lists at @uri with --list-@type ("all-privkeys", "all-certs"). */
guint
ck_test_p11tool_count(const gchar *type, const gchar *uri, const gchar *pin);
/*
 * A software TPM (swtpm) of one test: its unix socket and state live in a
 * directory of the test, so tests run in parallel. Stopping saves its state;
 * starting again resumes on it, as a real TPM keeps its keys across reboots.
 */
typedef struct {
	gchar *dir;
	gchar *socket;
	gchar *tcti; /* "swtpm:path=<socket>" */
	GPid pid;    /* 0 while stopped */
} CkTestSwtpm;

/* Starts a fresh swtpm in @dir/swtpm; NULL (and g_test_skip()) without swtpm. */
CkTestSwtpm *
ck_test_swtpm_new(const gchar *dir);
/* Stops it (state saved); the socket is gone afterwards. */
void
ck_test_swtpm_stop(CkTestSwtpm *tpm);
/* Starts it again on its saved state. */
void
ck_test_swtpm_start(CkTestSwtpm *tpm);
/* Stops it if it runs and frees @tpm (the directory stays for the test to remove). */
void
ck_test_swtpm_free(CkTestSwtpm *tpm);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkTestSwtpm, ck_test_swtpm_free)

G_END_DECLS
