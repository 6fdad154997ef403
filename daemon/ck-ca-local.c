/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/x509.h>
#include <string.h>
#include <unistd.h>

#include "ck-ca-local.h"
#include "ck-clock.h"
#include "ck-error.h"
#include "ck-file-util.h"
#include "ck-proof.h"
#include "ck-workers.h"

#define CK_CA_LOCAL_DEFAULT_DAYS 365
#define CK_CA_LOCAL_ROOT_YEARS	 20
#define CK_CA_LOCAL_ISSUER_YEARS 10
/* issued certificates start a little in the past so a slow clock elsewhere accepts them;
 * short-lived ones by a tenth of their life (or the backdate would eat it), but by a
 * second at least: time() may still be in the previous second (a coarse clock) */
#define CK_CA_LOCAL_BACKDATE (5 * 60)

struct _CkCaLocal {
	CkCa parent_instance;
	gchar *dir;
	guint default_validity_days;
	GMutex lock; /* signing runs in worker threads */
	/* One thread of its own for signing and revoking: the lock (and the serials
	 * file's fsync) makes them one at a time anyway, and threads from GLib's
	 * shared pool waiting on it would each leave a malloc arena (ck-workers.h). */
	CkWorkers *workers;
	gboolean ready;
	gnutls_x509_crt_t issuer_crt;
	gnutls_privkey_t issuer_key;
	gchar *root_pem;
	gchar *issuer_pem;
	GHashTable *serials; /* hex -> NULL: every serial ever issued */
	GHashTable *revoked; /* hex -> NULL: the serials revoked (the file "revoked") */
	GHashTable *nonces;  /* proof nonce -> gint64 *: when it stops being usable */
};

G_DEFINE_TYPE(CkCaLocal, ck_ca_local, CK_TYPE_CA)

static gboolean
ck_ca_local_check(int rc, const gchar *what, GError **error)
{
	if (rc >= 0)
		return TRUE;
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
		    /* TRANSLATORS: what failed, then GnuTLS's reason */
		    _("Local CA: %s: %s"), what, gnutls_strerror(rc));
	return FALSE;
}

static gchar *
ck_ca_local_path(CkCaLocal *self, const gchar *name)
{
	return g_build_filename(self->dir, name, NULL);
}

static gchar *
ck_ca_local_hex(const guint8 *data, gsize len)
{
	GString *s = g_string_sized_new(len * 2);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", data[i]);
	return g_string_free(s, FALSE);
}

/* A positive, non-zero, never-issued 128-bit serial (caller holds the lock). */
static gboolean
ck_ca_local_new_serial(CkCaLocal *self, guint8 serial[16], gchar **hex_out, GError **error)
{
	for (guint attempt = 0; attempt < 16; attempt++) {
		g_autofree gchar *hex = NULL;
		if (!ck_ca_local_check(gnutls_rnd(GNUTLS_RND_NONCE, serial, 16), "random", error))
			return FALSE;
		serial[0] &= 0x7f; /* DER INTEGER stays positive */
		if (serial[0] == 0)
			serial[0] = 0x01; /* and has no leading zero byte */
		hex = ck_ca_local_hex(serial, 16);
		if (!g_hash_table_contains(self->serials, hex)) {
			*hex_out = g_steal_pointer(&hex);
			return TRUE;
		}
	}
	g_set_error_literal(error, CK_ERROR, CK_ERROR_FAILED,
			    _("Local CA: cannot find an unused serial number"));
	return FALSE;
}

/* Appends @line to the file @name and fsyncs it: the record is durable before it counts. */
static gboolean
ck_ca_local_append(CkCaLocal *self, const gchar *name, const gchar *line, GError **error)
{
	g_autofree gchar *path = ck_ca_local_path(self, name);
	gsize len = strlen(line);
	const gchar *p = line;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		/* TRANSLATORS: followed by a file name and the system's reason */
		ck_file_set_error_errno(error, errno, _("Cannot open"), path);
		return FALSE;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int errsv = errno;
			close(fd);
			ck_file_set_error_errno(error, errsv, _("Cannot write"), path);
			return FALSE;
		}
		p += n;
		len -= (gsize)n;
	}
	if (fsync(fd) < 0) {
		int errsv = errno;
		close(fd);
		ck_file_set_error_errno(error, errsv, _("Cannot flush"), path);
		return FALSE;
	}
	close(fd);
	return TRUE;
}

/* Appends one issued serial to the serials file and fsyncs it before anything is handed out. */
static gboolean
ck_ca_local_record_serial(CkCaLocal *self, const gchar *hex, gint64 not_after,
			  const gchar *subject, GError **error)
{
	g_autofree gchar *line = g_strdup_printf("%s %" G_GINT64_FORMAT " %s\n", hex, not_after,
						 subject != NULL ? subject : "");

	if (!ck_ca_local_append(self, "serials", line, error))
		return FALSE;
	g_hash_table_add(self->serials, g_strdup(hex));
	return TRUE;
}

static gboolean
ck_ca_local_set_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer, GError **error)
{
	guint8 id[64];
	size_t size = sizeof(id);

	if (!ck_ca_local_check(gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &size),
			       "key id", error) ||
	    !ck_ca_local_check(gnutls_x509_crt_set_subject_key_id(crt, id, size),
			       "subject key id", error))
		return FALSE;
	if (issuer != NULL) {
		size = sizeof(id);
		unsigned int critical = 0;
		if (!ck_ca_local_check(
			gnutls_x509_crt_get_subject_key_id(issuer, id, &size, &critical),
			"issuer key id", error) ||
		    !ck_ca_local_check(gnutls_x509_crt_set_authority_key_id(crt, id, size),
				       "authority key id", error))
			return FALSE;
	}
	return TRUE;
}

static gboolean
ck_ca_local_set_validity(gnutls_x509_crt_t crt, time_t not_before, time_t not_after,
			 GError **error)
{
	return ck_ca_local_check(gnutls_x509_crt_set_activation_time(crt, not_before), "notBefore",
				 error) &&
	       ck_ca_local_check(gnutls_x509_crt_set_expiration_time(crt, not_after), "notAfter",
				 error);
}

/* A CA certificate for @key, signed by @issuer (NULL: self-signed). */
static gnutls_x509_crt_t
ck_ca_local_make_ca_cert(CkCaLocal *self, const gchar *dn, gnutls_x509_privkey_t key,
			 gnutls_x509_crt_t issuer, gnutls_x509_privkey_t issuer_key, guint years,
			 int path_len, GError **error)
{
	gnutls_x509_crt_t crt = NULL;
	gnutls_privkey_t signer = NULL;
	guint8 serial[16];
	g_autofree gchar *hex = NULL;
	time_t now = (time_t)ck_clock_now();
	gboolean ok;

	ok = ck_ca_local_check(gnutls_x509_crt_init(&crt), "init", error) &&
	     ck_ca_local_check(gnutls_x509_crt_set_version(crt, 3), "version", error) &&
	     ck_ca_local_check(gnutls_x509_crt_set_dn(crt, dn, NULL), "subject", error) &&
	     ck_ca_local_check(gnutls_x509_crt_set_key(crt, key), "key", error) &&
	     ck_ca_local_new_serial(self, serial, &hex, error) &&
	     ck_ca_local_check(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), "serial",
			       error) &&
	     ck_ca_local_set_validity(crt, now - CK_CA_LOCAL_BACKDATE,
				      now + (time_t)years * 365 * 86400, error) &&
	     ck_ca_local_check(gnutls_x509_crt_set_basic_constraints(crt, 1, path_len),
			       "basic constraints", error) &&
	     ck_ca_local_check(gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
								      GNUTLS_KEY_CRL_SIGN |
								      GNUTLS_KEY_DIGITAL_SIGNATURE),
			       "key usage", error) &&
	     ck_ca_local_set_key_ids(crt, issuer, error) &&
	     ck_ca_local_check(gnutls_privkey_init(&signer), "signer", error) &&
	     ck_ca_local_check(
		 gnutls_privkey_import_x509(signer, issuer_key != NULL ? issuer_key : key, 0),
		 "signer", error) &&
	     ck_ca_local_check(gnutls_x509_crt_privkey_sign(crt, issuer != NULL ? issuer : crt,
							    signer, GNUTLS_DIG_SHA256, 0),
			       "sign", error);
	if (signer != NULL)
		gnutls_privkey_deinit(signer);
	if (!ok) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	return crt;
}

static gchar *
ck_ca_local_crt_pem(gnutls_x509_crt_t crt, GError **error)
{
	gnutls_datum_t out = {NULL, 0};
	gchar *pem;
	if (!ck_ca_local_check(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out), "export",
			       error))
		return NULL;
	pem = g_strndup((const gchar *)out.data, out.size);
	gnutls_free(out.data);
	return pem;
}

static gboolean
ck_ca_local_write_key(CkCaLocal *self, const gchar *name, gnutls_x509_privkey_t key,
		      GError **error)
{
	g_autofree gchar *path = ck_ca_local_path(self, name);
	gnutls_datum_t out = {NULL, 0};
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(0600);
	gboolean ok;

	if (!ck_ca_local_check(gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
								 GNUTLS_PKCS_PLAIN, &out),
			       "export key", error))
		return FALSE;
	ok = ck_file_replace(path, out.data, out.size, &attrs, error);
	gnutls_memset(out.data, 0, out.size);
	gnutls_free(out.data);
	return ok;
}

static gboolean
ck_ca_local_write_text(CkCaLocal *self, const gchar *name, const gchar *text, guint mode,
		       GError **error)
{
	g_autofree gchar *path = ck_ca_local_path(self, name);
	CkFileAttrs attrs = CK_FILE_ATTRS_INIT(mode);
	return ck_file_replace(path, text, strlen(text), &attrs, error);
}

static gnutls_x509_privkey_t
ck_ca_local_generate_key(GError **error)
{
	gnutls_x509_privkey_t key = NULL;
	if (!ck_ca_local_check(gnutls_x509_privkey_init(&key), "key", error))
		return NULL;
	if (!ck_ca_local_check(gnutls_x509_privkey_generate2(
				   key, GNUTLS_PK_ECDSA,
				   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0),
			       "generate key", error)) {
		gnutls_x509_privkey_deinit(key);
		return NULL;
	}
	return key;
}

/*
 * Creates root and issuing CA. ca.pem is written last: it marks a complete CA,
 * so a crash half-way leaves no CA that would later be used.
 */
static gboolean
ck_ca_local_create(CkCaLocal *self, GError **error)
{
	gnutls_x509_privkey_t root_key = NULL, issuer_key = NULL;
	gnutls_x509_crt_t root = NULL, issuer = NULL;
	g_autofree gchar *root_pem = NULL, *issuer_pem = NULL;
	g_autofree gchar *root_dn = NULL, *issuer_dn = NULL;
	guint32 id = g_random_int();
	gboolean ok = FALSE;

	root_dn = g_strdup_printf("CN=certkeeper local root CA %08x", id);
	issuer_dn = g_strdup_printf("CN=certkeeper local issuing CA %08x", id);
	root_key = ck_ca_local_generate_key(error);
	if (root_key == NULL)
		goto out;
	issuer_key = ck_ca_local_generate_key(error);
	if (issuer_key == NULL)
		goto out;
	root = ck_ca_local_make_ca_cert(self, root_dn, root_key, NULL, NULL, CK_CA_LOCAL_ROOT_YEARS,
					1, error);
	if (root == NULL)
		goto out;
	issuer = ck_ca_local_make_ca_cert(self, issuer_dn, issuer_key, root, root_key,
					  CK_CA_LOCAL_ISSUER_YEARS, 0, error);
	if (issuer == NULL)
		goto out;
	root_pem = ck_ca_local_crt_pem(root, error);
	issuer_pem = root_pem != NULL ? ck_ca_local_crt_pem(issuer, error) : NULL;
	if (issuer_pem == NULL)
		goto out;
	if (!ck_ca_local_write_key(self, "root.key", root_key, error) ||
	    !ck_ca_local_write_key(self, "ca.key", issuer_key, error) ||
	    !ck_ca_local_write_text(self, "root.pem", root_pem, 0644, error) ||
	    !ck_ca_local_write_text(self, "serials", "", 0600, error) ||
	    !ck_ca_local_write_text(self, "ca.pem", issuer_pem, 0644, error))
		goto out;
	g_message("created the local CA '%s' in %s", ck_ca_get_name(CK_CA(self)), self->dir);
	ok = TRUE;
out:
	if (root != NULL)
		gnutls_x509_crt_deinit(root);
	if (issuer != NULL)
		gnutls_x509_crt_deinit(issuer);
	if (root_key != NULL)
		gnutls_x509_privkey_deinit(root_key);
	if (issuer_key != NULL)
		gnutls_x509_privkey_deinit(issuer_key);
	return ok;
}

/* Drops what an earlier, failed ck_ca_local_load() left half set, so a retry does not leak it. */
static void
ck_ca_local_unload(CkCaLocal *self)
{
	g_clear_pointer(&self->root_pem, g_free);
	g_clear_pointer(&self->issuer_pem, g_free);
	g_clear_pointer(&self->issuer_crt, gnutls_x509_crt_deinit);
	g_clear_pointer(&self->issuer_key, gnutls_privkey_deinit);
	g_hash_table_remove_all(self->serials);
	g_hash_table_remove_all(self->revoked);
}

static gboolean
ck_ca_local_load(CkCaLocal *self, GError **error)
{
	g_autofree gchar *root_path = ck_ca_local_path(self, "root.pem");
	g_autofree gchar *ca_path = ck_ca_local_path(self, "ca.pem");
	g_autofree gchar *key_path = ck_ca_local_path(self, "ca.key");
	g_autofree gchar *serials_path = ck_ca_local_path(self, "serials");
	g_autofree gchar *key_pem = NULL;
	g_autofree gchar *serials = NULL;
	g_autofree gchar *revoked_path = ck_ca_local_path(self, "revoked");
	g_autofree gchar *revoked = NULL;
	gnutls_datum_t datum;
	g_auto(GStrv) lines = NULL;
	gboolean ok;

	ck_ca_local_unload(self);
	if (!g_file_get_contents(root_path, &self->root_pem, NULL, error) ||
	    !g_file_get_contents(ca_path, &self->issuer_pem, NULL, error))
		return FALSE;
	if (!g_file_get_contents(serials_path, &serials, NULL, NULL))
		serials = g_strdup("");
	datum.data = (unsigned char *)self->issuer_pem;
	datum.size = strlen(self->issuer_pem);
	if (!ck_ca_local_check(gnutls_x509_crt_init(&self->issuer_crt), "load", error) ||
	    !ck_ca_local_check(gnutls_x509_crt_import(self->issuer_crt, &datum, GNUTLS_X509_FMT_PEM),
			       ca_path, error))
		return FALSE;
	if (!g_file_get_contents(key_path, &key_pem, NULL, error))
		return FALSE;
	datum.data = (unsigned char *)key_pem;
	datum.size = strlen(key_pem);
	ok = ck_ca_local_check(gnutls_privkey_init(&self->issuer_key), "load", error) &&
	     ck_ca_local_check(gnutls_privkey_import_x509_raw(self->issuer_key, &datum,
							      GNUTLS_X509_FMT_PEM, NULL, 0),
			       key_path, error);
	/* the CA key must not linger in freed memory, whether it parsed or not */
	gnutls_memset(key_pem, 0, strlen(key_pem));
	if (!ok)
		return FALSE;
	lines = g_strsplit(serials, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_auto(GStrv) fields = g_strsplit(lines[i], " ", 2);
		if (fields[0] != NULL && fields[0][0] != '\0')
			g_hash_table_add(self->serials, g_strdup(fields[0]));
	}
	/* "SERIAL TIME REASON" a line; no file: nothing was revoked */
	if (g_file_get_contents(revoked_path, &revoked, NULL, NULL)) {
		g_auto(GStrv) entries = g_strsplit(revoked, "\n", -1);
		for (guint i = 0; entries[i] != NULL; i++) {
			g_auto(GStrv) fields = g_strsplit(entries[i], " ", 2);
			if (fields[0] != NULL && fields[0][0] != '\0')
				g_hash_table_add(self->revoked, g_strdup(fields[0]));
		}
	}
	return TRUE;
}

/* Caller holds the lock. */
static gboolean
ck_ca_local_ensure_locked(CkCaLocal *self, GError **error)
{
	g_autofree gchar *marker = NULL;

	if (self->ready)
		return TRUE;
	if (!ck_file_ensure_dir(self->dir, 0700, error))
		return FALSE;
	marker = ck_ca_local_path(self, "ca.pem");
	if (!g_file_test(marker, G_FILE_TEST_EXISTS) && !ck_ca_local_create(self, error))
		return FALSE;
	if (!ck_ca_local_load(self, error))
		return FALSE;
	self->ready = TRUE;
	return TRUE;
}

gboolean
ck_ca_local_ensure(CkCaLocal *self, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_return_val_if_fail(CK_IS_CA_LOCAL(self), FALSE);
	locker = g_mutex_locker_new(&self->lock);
	return ck_ca_local_ensure_locked(self, error);
}

/*
 * RFC 5280 4.2.1.6: with an empty subject the holder is named only in the
 * subjectAltName, which must then be critical (GnuTLS requests carry it
 * non-critical, and strict verifiers reject the leaf). A request that names
 * no one at all is refused.
 */
static gboolean
ck_ca_local_set_names(gnutls_x509_crq_t crq, gnutls_x509_crt_t crt, GError **error)
{
	gnutls_datum_t dn = {NULL, 0};
	gnutls_datum_t san = {NULL, 0};
	unsigned int critical = 0;
	gboolean empty_subject;
	int rc;

	rc = gnutls_x509_crq_get_dn3(crq, &dn, 0);
	empty_subject = rc < 0 || dn.size == 0;
	gnutls_free(dn.data);
	if (!empty_subject)
		return TRUE;
	if (gnutls_x509_crq_get_extension_by_oid2(crq, GNUTLS_X509EXT_OID_SAN, 0, &san,
						  &critical) < 0) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The certificate request names no one: it has neither a "
				      "subject nor a subject alternative name"));
		return FALSE;
	}
	rc = gnutls_x509_crt_set_extension_by_oid(crt, GNUTLS_X509EXT_OID_SAN, san.data, san.size,
						  1);
	gnutls_free(san.data);
	return ck_ca_local_check(rc, "subject alternative name", error);
}

static gboolean
ck_ca_local_sign_crt(CkCaLocal *self, gnutls_x509_crq_t crq, gint64 validity,
		     gnutls_x509_crt_t crt, gchar **serial_out, GError **error)
{
	guint8 serial[16];
	unsigned int usage = 0, critical = 0, is_ca = 0;
	int path_len = 0;
	time_t now = (time_t)ck_clock_now();
	time_t issuer_end = gnutls_x509_crt_get_expiration_time(self->issuer_crt);
	time_t not_after;
	unsigned int pk_bits = 0;

	if (gnutls_x509_crq_get_basic_constraints(crq, &critical, &is_ca, &path_len) >= 0 && is_ca) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The request asks for a CA certificate; the local CA only "
				      "issues end-entity certificates"));
		return FALSE;
	}
	if (validity <= 0)
		validity = (gint64)self->default_validity_days * 86400;
	/* never outlive the issuer (a leaf past its CA's end would not verify); this also
	 * keeps the sum below from overflowing */
	validity = MIN(validity, (gint64)(issuer_end - now));
	not_after = now + (time_t)validity;
	if (!ck_ca_local_check(gnutls_x509_crt_set_crq(crt, crq), "subject", error) ||
	    !ck_ca_local_check(gnutls_x509_crt_set_version(crt, 3), "version", error) ||
	    !ck_ca_local_check(gnutls_x509_crt_set_crq_extensions(crt, crq), "extensions", error) ||
	    !ck_ca_local_set_names(crq, crt, error) ||
	    !ck_ca_local_check(gnutls_x509_crt_set_basic_constraints(crt, 0, -1),
			       "basic constraints", error) ||
	    !ck_ca_local_new_serial(self, serial, serial_out, error) ||
	    !ck_ca_local_check(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), "serial",
			       error) ||
	    !ck_ca_local_set_validity(crt, now - CLAMP(validity / 10, 1, CK_CA_LOCAL_BACKDATE),
				      not_after, error) ||
	    !ck_ca_local_set_key_ids(crt, self->issuer_crt, error))
		return FALSE;
	if (gnutls_x509_crq_get_key_usage(crq, &usage, &critical) < 0) {
		usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
		if (gnutls_x509_crq_get_pk_algorithm(crq, &pk_bits) == GNUTLS_PK_RSA)
			usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;
		if (!ck_ca_local_check(gnutls_x509_crt_set_key_usage(crt, usage), "key usage",
				       error))
			return FALSE;
	}
	return ck_ca_local_check(gnutls_x509_crt_privkey_sign(crt, self->issuer_crt,
							      self->issuer_key, GNUTLS_DIG_SHA256,
							      0),
				 "sign", error);
}

gchar *
ck_ca_local_sign(CkCaLocal *self, const gchar *csr_pem, gint64 validity, gchar **chain_out,
		 GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	gnutls_x509_crq_t crq = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)csr_pem, (unsigned int)strlen(csr_pem)};
	gnutls_datum_t dn = {NULL, 0};
	g_autofree gchar *serial = NULL;
	gchar *pem = NULL;
	int rc;

	g_return_val_if_fail(CK_IS_CA_LOCAL(self), NULL);
	locker = g_mutex_locker_new(&self->lock);
	if (!ck_ca_local_ensure_locked(self, error))
		return NULL;
	rc = gnutls_x509_crq_init(&crq);
	if (rc >= 0)
		rc = gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate request cannot be read: %s"), gnutls_strerror(rc));
		goto out;
	}
	rc = gnutls_x509_crq_verify(crq, 0);
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate request's signature is not valid: %s"),
			    gnutls_strerror(rc));
		goto out;
	}
	if (!ck_ca_local_check(gnutls_x509_crt_init(&crt), "init", error) ||
	    !ck_ca_local_sign_crt(self, crq, validity, crt, &serial, error))
		goto out;
	gnutls_x509_crt_get_dn3(crt, &dn, 0);
	/* the serial is on disk before the certificate exists anywhere else */
	if (!ck_ca_local_record_serial(self, serial, gnutls_x509_crt_get_expiration_time(crt),
				       (const gchar *)dn.data, error))
		goto out;
	pem = ck_ca_local_crt_pem(crt, error);
	if (pem != NULL && chain_out != NULL)
		*chain_out = g_strdup(self->issuer_pem);
out:
	gnutls_free(dn.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	return pem;
}

const gchar *
ck_ca_local_get_root_pem(CkCaLocal *self)
{
	g_return_val_if_fail(CK_IS_CA_LOCAL(self), NULL);
	return self->root_pem;
}

const gchar *
ck_ca_local_get_intermediate_pem(CkCaLocal *self)
{
	g_return_val_if_fail(CK_IS_CA_LOCAL(self), NULL);
	return self->issuer_pem;
}

/* Attestation proofs */

/* The subject DN of @csr_pem, as the issued certificate will carry it. */
static gchar *
ck_ca_local_csr_subject(const gchar *csr_pem, GError **error)
{
	gnutls_x509_crq_t crq = NULL;
	gnutls_datum_t datum = {(unsigned char *)csr_pem, csr_pem != NULL ? strlen(csr_pem) : 0};
	gnutls_datum_t dn = {NULL, 0};
	gchar *subject = NULL;
	int rc = gnutls_x509_crq_init(&crq);

	if (rc >= 0)
		rc = gnutls_x509_crq_import(crq, &datum, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crq_get_dn3(crq, &dn, 0);
	if (rc >= 0)
		subject = g_strndup((const gchar *)dn.data, dn.size);
	else
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The certificate request cannot be read: %s"), gnutls_strerror(rc));
	gnutls_free(dn.data);
	if (crq != NULL)
		gnutls_x509_crq_deinit(crq);
	return subject;
}

/* The proof key registered last for @subject (the file "proof-keys"), NULL if none. */
static gchar *
ck_ca_local_lookup_proof_key_locked(CkCaLocal *self, const gchar *subject)
{
	g_autofree gchar *path = ck_ca_local_path(self, "proof-keys");
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	gchar *found = NULL;

	if (!g_file_get_contents(path, &text, NULL, NULL))
		return NULL;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		const gchar *tab = strchr(lines[i], '\t');
		if (tab != NULL && g_str_equal(tab + 1, subject)) {
			g_free(found);
			found = g_strndup(lines[i], (gsize)(tab - lines[i]));
		}
	}
	return found;
}

gboolean
ck_ca_local_register_proof_key(CkCaLocal *self, const gchar *subject, const gchar *public_key,
			       GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree gchar *known = NULL;
	g_autofree gchar *line = NULL;
	g_autofree guchar *der = NULL;
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t datum;
	gsize len = 0;
	int rc = GNUTLS_E_BASE64_DECODING_ERROR;

	g_return_val_if_fail(CK_IS_CA_LOCAL(self), FALSE);
	g_return_val_if_fail(subject != NULL && public_key != NULL, FALSE);
	/* only a key that parses is kept: a proof could never verify against another */
	if (strpbrk(public_key, "\t\n") == NULL && strchr(subject, '\n') == NULL)
		der = g_base64_decode(public_key, &len);
	if (der != NULL && len > 0 && gnutls_pubkey_init(&pub) >= 0) {
		datum.data = der;
		datum.size = (unsigned int)len;
		rc = gnutls_pubkey_import(pub, &datum, GNUTLS_X509_FMT_DER);
		gnutls_pubkey_deinit(pub);
	}
	if (rc < 0) {
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    _("The proof public key to register for %s is no base64 "
			      "SubjectPublicKeyInfo"),
			    subject);
		return FALSE;
	}
	locker = g_mutex_locker_new(&self->lock);
	if (!ck_ca_local_ensure_locked(self, error))
		return FALSE;
	known = ck_ca_local_lookup_proof_key_locked(self, subject);
	if (g_strcmp0(known, public_key) == 0)
		return TRUE;
	line = g_strdup_printf("%s\t%s\n", public_key, subject);
	return ck_ca_local_append(self, "proof-keys", line, error);
}

gchar *
ck_ca_local_get_proof_key(CkCaLocal *self, const gchar *subject)
{
	g_autoptr(GMutexLocker) locker = NULL;

	g_return_val_if_fail(CK_IS_CA_LOCAL(self), NULL);
	locker = g_mutex_locker_new(&self->lock);
	return ck_ca_local_lookup_proof_key_locked(self, subject);
}

gchar *
ck_ca_local_new_proof_nonce(CkCaLocal *self, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	gint64 now = ck_clock_now();
	gchar *nonce;
	GHashTableIter iter;
	gpointer value;

	g_return_val_if_fail(CK_IS_CA_LOCAL(self), NULL);
	nonce = ck_proof_new_nonce(error);
	if (nonce == NULL)
		return NULL;
	locker = g_mutex_locker_new(&self->lock);
	/* nonces nobody used are dropped once stale, so asking often grows nothing */
	g_hash_table_iter_init(&iter, self->nonces);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		if (*(gint64 *)value <= now)
			g_hash_table_iter_remove(&iter);
	}
	g_hash_table_insert(self->nonces, g_strdup(nonce),
			    g_memdup2(&(gint64){now + CK_PROOF_NONCE_LIFETIME}, sizeof(gint64)));
	return nonce;
}

gboolean
ck_ca_local_check_proof(CkCaLocal *self, const gchar *csr_pem, const gchar *nonce,
			const gchar *algorithm, const gchar *signature, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *public_key = NULL;
	g_autoptr(GError) local_error = NULL;
	gint64 *expires;
	gboolean fresh;

	g_return_val_if_fail(CK_IS_CA_LOCAL(self), FALSE);
	subject = ck_ca_local_csr_subject(csr_pem, error);
	if (subject == NULL)
		return FALSE;
	locker = g_mutex_locker_new(&self->lock);
	/* whatever the outcome, a nonce counts once: a failed guess burns it too */
	expires = nonce != NULL ? g_hash_table_lookup(self->nonces, nonce) : NULL;
	fresh = expires != NULL && *expires > ck_clock_now();
	if (nonce != NULL)
		g_hash_table_remove(self->nonces, nonce);
	if (!fresh) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_CA_REJECTED,
				    _("The proof's nonce is unknown, expired or was used before: "
				      "a proof needs a fresh nonce from this CA"));
		return FALSE;
	}
	public_key = ck_ca_local_lookup_proof_key_locked(self, subject);
	g_clear_pointer(&locker, g_mutex_locker_free);
	if (public_key == NULL) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED,
			    _("No proof key is registered for %s: the key must be given "
			      "(--proof-key) when the certificate is enrolled"),
			    subject);
		return FALSE;
	}
	if (!ck_proof_verify(public_key, nonce, csr_pem, algorithm, signature, &local_error)) {
		/* a malformed proof is refused like a wrong one: both are the client's */
		g_set_error(error, CK_ERROR, CK_ERROR_CA_REJECTED,
			    /* TRANSLATORS: the subject, then why */
			    _("Proof for %s refused: %s"), subject, local_error->message);
		return FALSE;
	}
	return TRUE;
}

typedef struct {
	gchar *csr;
	gint64 validity;
	gboolean by_proof; /* the submission is authenticated by an attestation proof */
	gchar *proof_public_key;
	gchar *proof_nonce;
	gchar *proof_signature;
	gchar *proof_algorithm;
} CkCaLocalJob;

static void
ck_ca_local_job_free(CkCaLocalJob *job)
{
	g_free(job->csr);
	g_free(job->proof_public_key);
	g_free(job->proof_nonce);
	g_free(job->proof_signature);
	g_free(job->proof_algorithm);
	g_free(job);
}

/*
 * What the proof rules say about @job: a proof must verify (single-use nonce,
 * the key registered for the subject); any other submission registers the proof
 * key it brings. FALSE with the outcome to answer.
 */
static gboolean
ck_ca_local_admit(CkCaLocal *self, CkCaLocalJob *job, CkCaResult **refusal, GError **error)
{
	g_autoptr(GError) local_error = NULL;
	g_autofree gchar *subject = NULL;

	if (job->by_proof) {
		if (ck_ca_local_check_proof(self, job->csr, job->proof_nonce, job->proof_algorithm,
					    job->proof_signature, &local_error))
			return TRUE;
	} else if (job->proof_public_key != NULL) {
		subject = ck_ca_local_csr_subject(job->csr, &local_error);
		if (subject != NULL &&
		    ck_ca_local_register_proof_key(self, subject, job->proof_public_key,
						   &local_error))
			return TRUE;
	} else {
		return TRUE;
	}
	if (g_error_matches(local_error, CK_ERROR, CK_ERROR_CA_UNDERCONFIGURED)) {
		*refusal = ck_ca_result_new(CK_CA_OUTCOME_UNDERCONFIGURED);
	} else if (g_error_matches(local_error, CK_ERROR, CK_ERROR_CA_REJECTED) ||
		   g_error_matches(local_error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT)) {
		*refusal = ck_ca_result_new(CK_CA_OUTCOME_REJECTED);
	} else {
		g_propagate_error(error, g_steal_pointer(&local_error));
		return FALSE;
	}
	(*refusal)->message = g_strdup(local_error->message);
	return FALSE;
}

static void
ck_ca_local_submit_thread(GTask *task, gpointer source, gpointer task_data,
			  GCancellable *cancellable)
{
	CkCaLocal *self = CK_CA_LOCAL(source);
	CkCaLocalJob *job = task_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *chain = NULL;
	g_autofree gchar *pem = NULL;
	CkCaResult *result = NULL;

	if (!ck_ca_local_admit(self, job, &result, &error)) {
		if (result == NULL)
			g_task_return_error(task, g_steal_pointer(&error));
		else
			g_task_return_pointer(task, result, (GDestroyNotify)ck_ca_result_free);
		return;
	}
	pem = ck_ca_local_sign(self, job->csr, job->validity, &chain, &error);
	if (pem != NULL) {
		result = ck_ca_result_new(CK_CA_OUTCOME_ISSUED);
		result->certificate = g_steal_pointer(&pem);
		result->chain = g_steal_pointer(&chain);
	} else if (g_error_matches(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT)) {
		/* the request itself is bad: that is the CA saying no */
		result = ck_ca_result_new(CK_CA_OUTCOME_REJECTED);
		result->message = g_strdup(error->message);
	} else {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	g_task_return_pointer(task, result, (GDestroyNotify)ck_ca_result_free);
}

static void
ck_ca_local_submit_async(CkCa *ca, const CkCaSubmission *submission, GCancellable *cancellable,
			 GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(ca, cancellable, callback, user_data);
	CkCaLocalJob *job = g_new0(CkCaLocalJob, 1);

	job->csr = g_strdup(submission->csr);
	job->validity = submission->validity;
	job->by_proof = g_strcmp0(submission->identity, "proof") == 0;
	job->proof_public_key = g_strdup(submission->proof_public_key);
	job->proof_nonce = g_strdup(submission->proof_nonce);
	job->proof_signature = g_strdup(submission->proof_signature);
	job->proof_algorithm = g_strdup(submission->proof_algorithm);
	g_task_set_source_tag(task, ck_ca_local_submit_async);
	g_task_set_task_data(task, job, (GDestroyNotify)ck_ca_local_job_free);
	ck_workers_run(CK_CA_LOCAL(ca)->workers, task, ck_ca_local_submit_thread);
}

static CkCaResult *
ck_ca_local_submit_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer(G_TASK(res), error);
}

static void
ck_ca_local_proof_nonce_async(CkCa *ca, const CkCaSubmission *submission,
			      GCancellable *cancellable, GAsyncReadyCallback callback,
			      gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(ca, cancellable, callback, user_data);
	g_autoptr(GError) error = NULL;
	CkCaResult *result;
	gchar *nonce = ck_ca_local_new_proof_nonce(CK_CA_LOCAL(ca), &error);

	g_task_set_source_tag(task, ck_ca_local_proof_nonce_async);
	if (nonce == NULL) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	result = ck_ca_result_new(CK_CA_OUTCOME_ISSUED);
	result->nonce = nonce;
	g_task_return_pointer(task, result, (GDestroyNotify)ck_ca_result_free);
}

static CkCaResult *
ck_ca_local_proof_nonce_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	return g_task_propagate_pointer(G_TASK(res), error);
}

/* Revocation */

gboolean
ck_ca_local_revoke(CkCaLocal *self, const gchar *cert_pem, gint reason, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t datum = {(unsigned char *)cert_pem, (unsigned int)strlen(cert_pem)};
	guint8 serial[64];
	size_t size = sizeof(serial);
	g_autofree gchar *hex = NULL;
	g_autofree gchar *line = NULL;
	gboolean ours;
	int rc;

	g_return_val_if_fail(CK_IS_CA_LOCAL(self), FALSE);
	locker = g_mutex_locker_new(&self->lock);
	if (!ck_ca_local_ensure_locked(self, error))
		return FALSE;
	rc = gnutls_x509_crt_init(&crt);
	if (rc >= 0)
		rc = gnutls_x509_crt_import(crt, &datum, GNUTLS_X509_FMT_PEM);
	if (rc >= 0)
		rc = gnutls_x509_crt_get_serial(crt, serial, &size);
	if (rc < 0) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		g_set_error(error, CK_ERROR, CK_ERROR_CA_REJECTED,
			    _("Local CA: the certificate to revoke cannot be read: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	hex = ck_ca_local_hex(serial, size);
	/* only what this CA issued: its issuer, and a serial it handed out */
	ours = gnutls_x509_crt_check_issuer(crt, self->issuer_crt) &&
	       g_hash_table_contains(self->serials, hex);
	gnutls_x509_crt_deinit(crt);
	if (!ours) {
		g_set_error(error, CK_ERROR, CK_ERROR_CA_REJECTED,
			    _("Local CA '%s' did not issue the certificate with serial %s: "
			      "revoke it at the CA that did"),
			    ck_ca_get_name(CK_CA(self)), hex);
		return FALSE;
	}
	if (g_hash_table_contains(self->revoked, hex))
		return TRUE;
	line = g_strdup_printf("%s %" G_GINT64_FORMAT " %d\n", hex, ck_clock_now(), reason);
	if (!ck_ca_local_append(self, "revoked", line, error))
		return FALSE;
	g_hash_table_add(self->revoked, g_steal_pointer(&hex));
	return TRUE;
}

gboolean
ck_ca_local_is_revoked(CkCaLocal *self, const gchar *serial_hex)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_return_val_if_fail(CK_IS_CA_LOCAL(self), FALSE);
	locker = g_mutex_locker_new(&self->lock);
	return g_hash_table_contains(self->revoked, serial_hex);
}

typedef struct {
	gchar *certificate;
	gint reason;
} CkCaLocalRevocation;

static void
ck_ca_local_revocation_free(CkCaLocalRevocation *job)
{
	g_free(job->certificate);
	g_free(job);
}

static void
ck_ca_local_revoke_thread(GTask *task, gpointer source, gpointer task_data,
			  GCancellable *cancellable)
{
	CkCaLocalRevocation *job = task_data;
	GError *error = NULL;

	/* the fsync may take a while: not on the main loop */
	if (ck_ca_local_revoke(CK_CA_LOCAL(source), job->certificate, job->reason, &error))
		g_task_return_boolean(task, TRUE);
	else
		g_task_return_error(task, error);
}

static void
ck_ca_local_revoke_async(CkCa *ca, const gchar *request_id, const gchar *certificate,
			 gint reason, GCancellable *cancellable, GAsyncReadyCallback callback,
			 gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(ca, cancellable, callback, user_data);
	CkCaLocalRevocation *job = g_new0(CkCaLocalRevocation, 1);

	job->certificate = g_strdup(certificate);
	job->reason = reason;
	g_task_set_source_tag(task, ck_ca_local_revoke_async);
	g_task_set_task_data(task, job, (GDestroyNotify)ck_ca_local_revocation_free);
	ck_workers_run(CK_CA_LOCAL(ca)->workers, task, ck_ca_local_revoke_thread);
}

static gboolean
ck_ca_local_revoke_finish(CkCa *ca, GAsyncResult *res, GError **error)
{
	return g_task_propagate_boolean(G_TASK(res), error);
}

static gchar *
ck_ca_local_get_root_certificates(CkCa *ca, GError **error)
{
	CkCaLocal *self = CK_CA_LOCAL(ca);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	if (!ck_ca_local_ensure_locked(self, error))
		return NULL;
	return g_strdup(self->root_pem);
}

static void
ck_ca_local_finalize(GObject *object)
{
	CkCaLocal *self = CK_CA_LOCAL(object);
	ck_ca_local_unload(self);
	g_free(self->dir);
	g_hash_table_unref(self->serials);
	g_hash_table_unref(self->revoked);
	g_hash_table_unref(self->nonces);
	ck_workers_free(self->workers);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(ck_ca_local_parent_class)->finalize(object);
}

static void
ck_ca_local_init(CkCaLocal *self)
{
	g_mutex_init(&self->lock);
	self->workers = ck_workers_new(1);
	self->serials = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->revoked = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->nonces = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
ck_ca_local_class_init(CkCaLocalClass *klass)
{
	CkCaClass *ca_class = CK_CA_CLASS(klass);
	G_OBJECT_CLASS(klass)->finalize = ck_ca_local_finalize;
	ca_class->submit_async = ck_ca_local_submit_async;
	ca_class->submit_finish = ck_ca_local_submit_finish;
	ca_class->get_root_certificates = ck_ca_local_get_root_certificates;
	ca_class->revoke_async = ck_ca_local_revoke_async;
	ca_class->revoke_finish = ck_ca_local_revoke_finish;
	ca_class->proof_nonce_async = ck_ca_local_proof_nonce_async;
	ca_class->proof_nonce_finish = ck_ca_local_proof_nonce_finish;
}

CkCa *
ck_ca_local_new(const gchar *name, const gchar *directory, guint default_validity_days)
{
	CkCaLocal *self = g_object_new(CK_TYPE_CA_LOCAL, "name", name, "kind", "local", NULL);
	self->dir = g_strdup(directory);
	self->default_validity_days =
	    default_validity_days != 0 ? default_validity_days : CK_CA_LOCAL_DEFAULT_DAYS;
	/* what certmonger's IDENTIFY answers for its own local signer, in our words */
	ck_ca_set_identity(CK_CA(self), "certkeeper " PACKAGE_VERSION " local CA");
	return CK_CA(self);
}
