/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <glib/gi18n.h>
#include <gnutls/crypto.h>
#include <gnutls/pkcs11.h>
#include <string.h>

#include "ck-error.h"
#include "ck-key-provider-pkcs11.h"

#define CK_PKCS11_SCHEME      "pkcs11:"
#define CK_PKCS11_KEY_ID_SIZE 20 /* SHA-1 */

struct _CkKeyProviderPkcs11 {
	CkKeyProvider parent_instance;
	/* one token operation at a time: generate() runs in worker threads */
	GMutex lock;
	gchar *default_module;
};

G_DEFINE_TYPE(CkKeyProviderPkcs11, ck_key_provider_pkcs11, CK_TYPE_KEY_PROVIDER)

/* GnuTLS's PKCS#11 state is the process's: initialised once, each module added once. */
static GMutex ck_pkcs11_global_lock;
static gboolean ck_pkcs11_initialised;
static GHashTable *ck_pkcs11_modules;

/* The PIN file of the operation this thread runs (an interned string, or NULL). */
static GPrivate ck_pkcs11_pin_source;

/* Why the PIN callback of this thread last refused, for the error message. */
typedef enum {
	CK_PIN_OK,
	CK_PIN_NO_SOURCE,
	CK_PIN_UNREADABLE,
	CK_PIN_WRONG,
} CkPinProblem;
static GPrivate ck_pkcs11_pin_problem;

/* A parsed PKCS#11 URI, split in what GnuTLS sees and what certkeeper handles itself. */
typedef struct {
	gchar *path;        /* "pkcs11:" and the path attributes but id= and type= */
	gchar *label;       /* object= */
	GBytes *id;         /* id=, NULL when absent */
	gchar *pin_source;  /* the PIN file, NULL when absent */
	gchar *module_path; /* NULL: the configured module */
} CkPkcs11Uri;

static void
ck_pkcs11_uri_free(CkPkcs11Uri *uri)
{
	if (uri == NULL)
		return;
	g_free(uri->path);
	g_free(uri->label);
	if (uri->id != NULL)
		g_bytes_unref(uri->id);
	g_free(uri->pin_source);
	g_free(uri->module_path);
	g_free(uri);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkPkcs11Uri, ck_pkcs11_uri_free)

gboolean
ck_key_provider_pkcs11_is_uri(const gchar *location)
{
	return location != NULL && g_str_has_prefix(location, CK_PKCS11_SCHEME);
}

/* The URI as messages show it: without its query (where the PIN file and module are). */
static gchar *
ck_pkcs11_display(const gchar *location)
{
	const gchar *query = location != NULL ? strchr(location, '?') : NULL;
	if (location == NULL)
		return g_strdup("pkcs11:");
	return query != NULL ? g_strndup(location, query - location) : g_strdup(location);
}

static gboolean
ck_pkcs11_invalid(GError **error, const gchar *location, const gchar *reason)
{
	g_autofree gchar *shown = ck_pkcs11_display(location);
	g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
		    /* TRANSLATORS: the URI, then what is wrong with it */
		    _("The PKCS#11 URI %s cannot be used: %s"), shown, reason);
	return FALSE;
}

/* The token and slot attributes RFC 7512 defines, which GnuTLS matches itself. */
static const gchar *const ck_pkcs11_path_attributes[] = {
    "token",
    "manufacturer",
    "serial",
    "model",
    "library-manufacturer",
    "library-description",
    "library-version",
    "slot-description",
    "slot-manufacturer",
    "slot-id",
    NULL,
};

/*
 * Parses @text. @type is the object class this location is for ("private" or
 * "cert"); a type= attribute must agree. id= only where @allow_id (a stored
 * form; a configured location leaves the id to certkeeper).
 */
static CkPkcs11Uri *
ck_pkcs11_uri_parse(const gchar *text, const gchar *type, gboolean allow_id, GError **error)
{
	g_autoptr(CkPkcs11Uri) uri = g_new0(CkPkcs11Uri, 1);
	g_autoptr(GString) path = g_string_new(CK_PKCS11_SCHEME);
	g_auto(GStrv) halves = NULL;
	g_auto(GStrv) attributes = NULL;

	if (!ck_key_provider_pkcs11_is_uri(text)) {
		ck_pkcs11_invalid(error, text, _("it does not start with \"pkcs11:\""));
		return NULL;
	}
	halves = g_strsplit(text + strlen(CK_PKCS11_SCHEME), "?", 2);
	attributes = g_strsplit(halves[0] != NULL ? halves[0] : "", ";", -1);
	for (guint i = 0; attributes[i] != NULL; i++) {
		const gchar *eq = strchr(attributes[i], '=');
		g_autofree gchar *name = NULL;
		g_autofree gchar *value = NULL;

		if (attributes[i][0] == '\0')
			continue;
		if (eq == NULL) {
			ck_pkcs11_invalid(error, text,
					  _("every attribute needs a value (name=value)"));
			return NULL;
		}
		name = g_strndup(attributes[i], eq - attributes[i]);
		if (strcmp(name, "id") == 0) {
			g_autoptr(GBytes) bytes = NULL;
			if (!allow_id) {
				ck_pkcs11_invalid(error, text,
						  _("certkeeper gives every key an id= of its own; "
						    "name the key with object= only"));
				return NULL;
			}
			/* binary: g_uri_unescape_string() would stop at a NUL byte */
			bytes = g_uri_unescape_bytes(eq + 1, -1, NULL, NULL);
			if (bytes == NULL || g_bytes_get_size(bytes) == 0) {
				ck_pkcs11_invalid(error, text,
						  _("the id= is empty or badly escaped"));
				return NULL;
			}
			if (uri->id != NULL)
				g_bytes_unref(uri->id);
			uri->id = g_steal_pointer(&bytes);
			continue;
		}
		value = g_uri_unescape_string(eq + 1, NULL);
		if (value == NULL) {
			ck_pkcs11_invalid(error, text, _("an attribute value is badly escaped"));
			return NULL;
		}
		if (strcmp(name, "type") == 0) {
			if (strcmp(value, type) != 0) {
				g_autofree gchar *why = g_strdup_printf(
				    /* TRANSLATORS: the type= given, then the one needed */
				    _("it names objects of type %s, but this needs type=%s"), value,
				    type);
				ck_pkcs11_invalid(error, text, why);
				return NULL;
			}
			continue;
		}
		if (strcmp(name, "object") == 0) {
			g_free(uri->label);
			uri->label = g_strdup(value);
		} else if (!g_strv_contains(ck_pkcs11_path_attributes, name)) {
			g_autofree gchar *why =
			    /* TRANSLATORS: the placeholder is an attribute name */
			    g_strdup_printf(_("'%s' is not a PKCS#11 URI attribute"), name);
			ck_pkcs11_invalid(error, text, why);
			return NULL;
		}
		g_string_append_printf(
		    path, "%s%s", path->len > strlen(CK_PKCS11_SCHEME) ? ";" : "", attributes[i]);
	}
	if (uri->label == NULL || uri->label[0] == '\0') {
		ck_pkcs11_invalid(error, text, _("name the object with object=LABEL"));
		return NULL;
	}
	if (halves[0] != NULL && halves[1] != NULL) {
		g_auto(GStrv) queries = g_strsplit(halves[1], "&", -1);
		for (guint i = 0; queries[i] != NULL; i++) {
			const gchar *eq = strchr(queries[i], '=');
			g_autofree gchar *name = NULL;
			g_autofree gchar *value = NULL;

			if (queries[i][0] == '\0')
				continue;
			name = eq != NULL ? g_strndup(queries[i], eq - queries[i])
					  : g_strdup(queries[i]);
			value = eq != NULL ? g_uri_unescape_string(eq + 1, NULL) : NULL;
			if (strcmp(name, "pin-value") == 0) {
				/* the location is shown on D-Bus and in logs: a PIN has no place
				 * there */
				ck_pkcs11_invalid(
				    error, text,
				    _("a PIN in the URI (pin-value=) would be shown to "
				      "everyone: put it in a file readable by root only "
				      "and name that with pin-source="));
				return NULL;
			}
			if (value == NULL || value[0] == '\0') {
				g_autofree gchar *why =
				    /* TRANSLATORS: the placeholder is a query attribute name */
				    g_strdup_printf(_("%s= needs a value"), name);
				ck_pkcs11_invalid(error, text, why);
				return NULL;
			}
			if (strcmp(name, "pin-source") == 0) {
				const gchar *file =
				    g_str_has_prefix(value, "file:") ? value + 5 : value;
				if (!g_path_is_absolute(file)) {
					ck_pkcs11_invalid(error, text,
							  _("pin-source= must be an absolute file "
							    "name"));
					return NULL;
				}
				g_free(uri->pin_source);
				uri->pin_source = g_strdup(file);
			} else if (strcmp(name, "module-path") == 0) {
				if (!g_path_is_absolute(value)) {
					ck_pkcs11_invalid(error, text,
							  _("module-path= must be an absolute file "
							    "name"));
					return NULL;
				}
				g_free(uri->module_path);
				uri->module_path = g_strdup(value);
			} else {
				g_autofree gchar *why = g_strdup_printf(
				    /* TRANSLATORS: the placeholder is a query attribute name */
				    _("'%s' is not a query attribute certkeeper knows (pin-source, "
				      "module-path)"),
				    name);
				ck_pkcs11_invalid(error, text, why);
				return NULL;
			}
		}
	}
	uri->path = g_string_free(g_steal_pointer(&path), FALSE);
	return g_steal_pointer(&uri);
}

static void
ck_pkcs11_append_escaped_id(GString *out, GBytes *id)
{
	gsize size = 0;
	const guint8 *data = g_bytes_get_data(id, &size);
	g_string_append(out, ";id=");
	for (gsize i = 0; i < size; i++)
		g_string_append_printf(out, "%%%02X", data[i]);
}

/* What GnuTLS is given: the path, with @id (if any) and the object class. */
static gchar *
ck_pkcs11_uri_for_gnutls(const CkPkcs11Uri *uri, GBytes *id, const gchar *type)
{
	GString *out = g_string_new(uri->path);
	if (id != NULL)
		ck_pkcs11_append_escaped_id(out, id);
	if (type != NULL)
		g_string_append_printf(out, ";type=%s", type);
	return g_string_free(out, FALSE);
}

/* The stored form: the object with @id, and the query certkeeper needs to reach it again. */
static gchar *
ck_pkcs11_uri_stored(const CkPkcs11Uri *uri, GBytes *id)
{
	GString *out = g_string_new(uri->path);
	const gchar *sep = "?";

	ck_pkcs11_append_escaped_id(out, id);
	if (uri->pin_source != NULL) {
		g_autofree gchar *escaped = g_uri_escape_string(uri->pin_source, "/", FALSE);
		g_string_append_printf(out, "%spin-source=%s", sep, escaped);
		sep = "&";
	}
	if (uri->module_path != NULL) {
		g_autofree gchar *escaped = g_uri_escape_string(uri->module_path, "/", FALSE);
		g_string_append_printf(out, "%smodule-path=%s", sep, escaped);
	}
	return g_string_free(out, FALSE);
}

/* PIN */

static int
ck_pkcs11_answer_pin(const gchar *source, int attempt, char *pin, size_t pin_max)
{
	g_autofree gchar *text = NULL;
	gsize len = 0;

	if (source == NULL) {
		g_private_set(&ck_pkcs11_pin_problem, GINT_TO_POINTER(CK_PIN_NO_SOURCE));
		return -1;
	}
	/* the file does not change between attempts: a second ask means it is wrong */
	if (attempt > 0) {
		g_private_set(&ck_pkcs11_pin_problem, GINT_TO_POINTER(CK_PIN_WRONG));
		return -1;
	}
	if (!g_file_get_contents(source, &text, &len, NULL)) {
		g_private_set(&ck_pkcs11_pin_problem, GINT_TO_POINTER(CK_PIN_UNREADABLE));
		return -1;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (len == 0 || len + 1 > pin_max) {
		gnutls_memset(text, 0, len);
		g_private_set(&ck_pkcs11_pin_problem, GINT_TO_POINTER(CK_PIN_UNREADABLE));
		return -1;
	}
	memcpy(pin, text, len);
	pin[len] = '\0';
	gnutls_memset(text, 0, len);
	return 0;
}

/* For token operations: the PIN file of the operation this thread runs. */
static int
ck_pkcs11_global_pin_cb(void *userdata, int attempt, const char *token_url, const char *token_label,
			unsigned int flags, char *pin, size_t pin_max)
{
	return ck_pkcs11_answer_pin(g_private_get(&ck_pkcs11_pin_source), attempt, pin, pin_max);
}

/* For a key's later signatures (the CSR, the TLS check): its own PIN file, interned. */
static int
ck_pkcs11_key_pin_cb(void *userdata, int attempt, const char *token_url, const char *token_label,
		     unsigned int flags, char *pin, size_t pin_max)
{
	return ck_pkcs11_answer_pin(userdata, attempt, pin, pin_max);
}

/* Errors */

/* A GError for GnuTLS's @rc on @location, saying what to do. */
static void
ck_pkcs11_set_error(GError **error, int rc, const gchar *location, const gchar *what)
{
	g_autofree gchar *shown = ck_pkcs11_display(location);
	CkPinProblem pin = GPOINTER_TO_INT(g_private_get(&ck_pkcs11_pin_problem));
	const gchar *advice;

	switch (rc) {
	case GNUTLS_E_PKCS11_PIN_ERROR:
	case GNUTLS_E_PKCS11_USER_ERROR:
		if (pin == CK_PIN_NO_SOURCE)
			advice = _("the token asks for a PIN: put it in a file and name that with "
				   "pin-source= in the URI");
		else if (pin == CK_PIN_UNREADABLE)
			advice = _("the PIN file named by pin-source= cannot be read or is empty");
		else
			advice = _("the token refused the PIN: check the file named by "
				   "pin-source=");
		break;
	case GNUTLS_E_PKCS11_PIN_LOCKED:
		advice = _("the PIN is locked: unlock it with the security officer PIN");
		break;
	case GNUTLS_E_PKCS11_PIN_EXPIRED:
		advice = _("the PIN has expired: set a new one on the token");
		break;
	case GNUTLS_E_PKCS11_REQUESTED_OBJECT_NOT_AVAILBLE:
		advice = _("no such object: check the URI (p11tool --list-all shows what the "
			   "token holds)");
		break;
	default:
		advice = gnutls_strerror(rc);
		break;
	}
	g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
		    /* TRANSLATORS: what failed, the URI, then what to do */
		    _("%s %s: %s"), what, shown, advice);
}

/* Modules */

/*
 * GnuTLS in manual mode: only the modules we add, never all the ones p11-kit
 * knows. Done before anything else could make GnuTLS initialise PKCS#11 on its
 * own (it would load every module then). The caller holds the global lock.
 */
static gboolean
ck_pkcs11_init_locked(GError **error)
{
	int rc;

	if (ck_pkcs11_initialised)
		return TRUE;
	rc = gnutls_pkcs11_init(GNUTLS_PKCS11_FLAG_MANUAL, NULL);
	if (rc != GNUTLS_E_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot initialise PKCS#11 support: %s"), gnutls_strerror(rc));
		return FALSE;
	}
	gnutls_pkcs11_set_pin_function(ck_pkcs11_global_pin_cb, NULL);
	ck_pkcs11_modules = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	ck_pkcs11_initialised = TRUE;
	return TRUE;
}

static gboolean
ck_pkcs11_load_module(const gchar *module, const gchar *location, GError **error)
{
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&ck_pkcs11_global_lock);
	int rc;

	if (!ck_pkcs11_init_locked(error))
		return FALSE;
	if (module == NULL) {
		g_autofree gchar *shown = ck_pkcs11_display(location);
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
			    /* TRANSLATORS: the placeholder is the URI */
			    _("No PKCS#11 module is configured for %s: set Pkcs11Module= in "
			      "[certkeeperd] of certkeeper.conf, or module-path= in the URI"),
			    shown);
		return FALSE;
	}
	if (g_hash_table_contains(ck_pkcs11_modules, module))
		return TRUE;
	if (!g_file_test(module, G_FILE_TEST_IS_REGULAR)) {
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    /* TRANSLATORS: the placeholder is a file name */
			    _("The PKCS#11 module %s does not exist: install it, or fix "
			      "Pkcs11Module= in certkeeper.conf or module-path= in the URI"),
			    module);
		return FALSE;
	}
	rc = gnutls_pkcs11_add_provider(module, NULL);
	if (rc != GNUTLS_E_SUCCESS) {
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: the module's file name, then GnuTLS's reason */
			    _("Cannot load the PKCS#11 module %s: %s"), module,
			    gnutls_strerror(rc));
		return FALSE;
	}
	g_hash_table_add(ck_pkcs11_modules, g_strdup(module));
	return TRUE;
}

/*
 * Everything a token operation needs before it starts: the URI parsed, the
 * module loaded, the token present, this thread's PIN file set. The caller
 * holds self->lock.
 */
static CkPkcs11Uri *
ck_pkcs11_begin(CkKeyProviderPkcs11 *self, const gchar *text, const gchar *type, gboolean allow_id,
		GError **error)
{
	g_autoptr(CkPkcs11Uri) uri = ck_pkcs11_uri_parse(text, type, allow_id, error);
	unsigned int flags = 0;
	int rc;

	if (uri == NULL)
		return NULL;
	if (!ck_pkcs11_load_module(
		uri->module_path != NULL ? uri->module_path : self->default_module, text, error))
		return NULL;
	g_private_set(&ck_pkcs11_pin_source,
		      uri->pin_source != NULL ? (gpointer)g_intern_string(uri->pin_source) : NULL);
	g_private_set(&ck_pkcs11_pin_problem, GINT_TO_POINTER(CK_PIN_OK));
	rc = gnutls_pkcs11_token_get_flags(uri->path, &flags);
	if (rc != GNUTLS_E_SUCCESS) {
		g_autofree gchar *shown = ck_pkcs11_display(text);
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    /* TRANSLATORS: the placeholder is the URI */
			    _("No token matches %s: is the token present, initialised and served "
			      "by the configured module (p11tool --list-tokens shows the tokens)?"),
			    shown);
		return NULL;
	}
	return g_steal_pointer(&uri);
}

static void
ck_pkcs11_end(void)
{
	g_private_set(&ck_pkcs11_pin_source, NULL);
}

/* Keys */

static gboolean
ck_key_provider_pkcs11_supports(CkKeyProvider *self, CkKeyType type)
{
	/* what PKCS#11 tokens commonly generate; EdDSA is too new for most */
	return ck_key_type_is_ec(type) || type == CK_KEY_TYPE_RSA_2048 ||
	       type == CK_KEY_TYPE_RSA_3072 || type == CK_KEY_TYPE_RSA_4096;
}

static gboolean
ck_key_provider_pkcs11_check_location(CkKeyProvider *provider, const gchar *location,
				      GError **error)
{
	g_autoptr(CkPkcs11Uri) uri = ck_pkcs11_uri_parse(location, "private", FALSE, error);
	return uri != NULL;
}

/* The key type of @pubkey, or UNKNOWN with @error. */
static CkKeyType
ck_pkcs11_detect(gnutls_pubkey_t pubkey, const gchar *location, GError **error)
{
	unsigned int bits = 0;
	int algo = gnutls_pubkey_get_pk_algorithm(pubkey, &bits);
	g_autofree gchar *shown = NULL;

	if (algo == GNUTLS_PK_ECDSA) {
		/* a token's EC key reports no size: its curve tells */
		gnutls_ecc_curve_t curve = GNUTLS_ECC_CURVE_INVALID;
		gnutls_datum_t x = {NULL, 0}, y = {NULL, 0};
		if (gnutls_pubkey_export_ecc_raw(pubkey, &curve, &x, &y) == GNUTLS_E_SUCCESS) {
			gnutls_free(x.data);
			gnutls_free(y.data);
		}
		if (ck_key_type_for_curve(curve) != CK_KEY_TYPE_UNKNOWN)
			return ck_key_type_for_curve(curve);
		bits = gnutls_ecc_curve_get_size(curve) * 8;
	}
	if (algo == GNUTLS_PK_RSA && bits == 2048)
		return CK_KEY_TYPE_RSA_2048;
	if (algo == GNUTLS_PK_RSA && bits == 3072)
		return CK_KEY_TYPE_RSA_3072;
	if (algo == GNUTLS_PK_RSA && bits == 4096)
		return CK_KEY_TYPE_RSA_4096;
	shown = ck_pkcs11_display(location);
	g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED,
		    /* TRANSLATORS: key location, algorithm name, size in bits */
		    _("The key in %s is %s with %u bits, which certkeeper does not support"), shown,
		    gnutls_pk_algorithm_get_name((gnutls_pk_algorithm_t)algo), bits);
	return CK_KEY_TYPE_UNKNOWN;
}

/* The private key object with @id (NULL: the only one) at @uri, as a CkKey. Locked. */
static CkKey *
ck_pkcs11_open_key(const CkPkcs11Uri *uri, GBytes *id, const gchar *location, GError **error)
{
	g_autofree gchar *search = ck_pkcs11_uri_for_gnutls(uri, id, "private");
	gnutls_pkcs11_obj_t *objects = NULL;
	unsigned int n_objects = 0;
	guint8 found_id[128];
	size_t found_size = sizeof(found_id);
	g_autoptr(GBytes) object_id = NULL;
	g_autofree gchar *exact = NULL;
	g_autofree gchar *stored = NULL;
	gnutls_privkey_t privkey = NULL;
	gnutls_pubkey_t pubkey = NULL;
	CkKeyType type = CK_KEY_TYPE_UNKNOWN;
	int rc;

	rc = gnutls_pkcs11_obj_list_import_url4(&objects, &n_objects, search,
						GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_set_error(error, rc, location, _("Cannot search the token of"));
		return NULL;
	}
	if (n_objects == 1)
		rc = gnutls_pkcs11_obj_get_info(objects[0], GNUTLS_PKCS11_OBJ_ID, found_id,
						&found_size);
	for (unsigned int i = 0; i < n_objects; i++)
		gnutls_pkcs11_obj_deinit(objects[i]);
	gnutls_free(objects);
	if (n_objects == 0) {
		g_autofree gchar *shown = ck_pkcs11_display(location);
		g_set_error(error, CK_ERROR, CK_ERROR_NOT_FOUND,
			    /* TRANSLATORS: the placeholder is the URI */
			    _("The token has no private key %s: was it removed? Ask for a new key "
			      "(certkeeper rekey) to make one"),
			    shown);
		return NULL;
	}
	if (n_objects > 1) {
		g_autofree gchar *shown = ck_pkcs11_display(location);
		g_set_error(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
			    /* TRANSLATORS: the placeholder is the URI */
			    _("Several private keys match %s: give each key a label of its own"),
			    shown);
		return NULL;
	}
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_set_error(error, rc, location, _("Cannot read the id of"));
		return NULL;
	}
	object_id = g_bytes_new(found_id, found_size);
	exact = ck_pkcs11_uri_for_gnutls(uri, object_id, "private");
	rc = gnutls_privkey_init(&privkey);
	if (rc == GNUTLS_E_SUCCESS) {
		/* later signatures (the CSR, the TLS check) may log in again: same PIN file */
		gnutls_privkey_set_pin_function(
		    privkey, ck_pkcs11_key_pin_cb,
		    uri->pin_source != NULL ? (gpointer)g_intern_string(uri->pin_source) : NULL);
		rc = gnutls_privkey_import_url(privkey, exact, 0);
	}
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_pubkey_init(&pubkey);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_pubkey_import_privkey(pubkey, privkey, 0, 0);
	if (rc != GNUTLS_E_SUCCESS) {
		if (pubkey != NULL)
			gnutls_pubkey_deinit(pubkey);
		if (privkey != NULL)
			gnutls_privkey_deinit(privkey);
		ck_pkcs11_set_error(error, rc, location, _("Cannot use the private key"));
		return NULL;
	}
	type = ck_pkcs11_detect(pubkey, location, error);
	gnutls_pubkey_deinit(pubkey);
	if (type == CK_KEY_TYPE_UNKNOWN) {
		gnutls_privkey_deinit(privkey);
		return NULL;
	}
	stored = ck_pkcs11_uri_stored(uri, object_id);
	{
		g_autoptr(GBytes) stored_bytes = g_bytes_new(stored, strlen(stored));
		return ck_key_new(type, privkey, stored_bytes);
	}
}

/* Every object at @search: NULL with @error if the token could not be searched. */
static gboolean
ck_pkcs11_list(const gchar *search, const gchar *location, gnutls_pkcs11_obj_t **objects,
	       unsigned int *n_objects, GError **error)
{
	int rc = gnutls_pkcs11_obj_list_import_url4(objects, n_objects, search,
						    GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_set_error(error, rc, location, _("Cannot search the token of"));
		return FALSE;
	}
	return TRUE;
}

static void
ck_pkcs11_free_list(gnutls_pkcs11_obj_t *objects, unsigned int n_objects)
{
	for (unsigned int i = 0; i < n_objects; i++)
		gnutls_pkcs11_obj_deinit(objects[i]);
	gnutls_free(objects);
}

/*
 * Deletes the objects at @uri (only those with id @only when given) whose class
 * is one of @types and whose id is not @keep (NULL: all of them). Locked.
 */
static gboolean
ck_pkcs11_delete_others(const CkPkcs11Uri *uri, GBytes *only, const gnutls_pkcs11_obj_type_t *types,
			guint n_types, GBytes *keep, const gchar *location, GError **error)
{
	g_autofree gchar *search = ck_pkcs11_uri_for_gnutls(uri, only, NULL);
	gnutls_pkcs11_obj_t *objects = NULL;
	unsigned int n_objects = 0;
	gboolean ok = TRUE;

	if (!ck_pkcs11_list(search, location, &objects, &n_objects, error))
		return FALSE;
	for (unsigned int i = 0; ok && i < n_objects; i++) {
		gnutls_pkcs11_obj_type_t type = gnutls_pkcs11_obj_get_type(objects[i]);
		guint8 id[128];
		size_t id_size = sizeof(id);
		gboolean wanted = FALSE;
		char *url = NULL;
		int rc;

		for (guint t = 0; t < n_types; t++)
			wanted = wanted || types[t] == type;
		if (!wanted)
			continue;
		rc = gnutls_pkcs11_obj_get_info(objects[i], GNUTLS_PKCS11_OBJ_ID, id, &id_size);
		if (rc == GNUTLS_E_SUCCESS && keep != NULL && id_size == g_bytes_get_size(keep) &&
		    memcmp(id, g_bytes_get_data(keep, NULL), id_size) == 0)
			continue;
		rc = gnutls_pkcs11_obj_export_url(objects[i], GNUTLS_PKCS11_URL_GENERIC, &url);
		if (rc == GNUTLS_E_SUCCESS)
			rc = gnutls_pkcs11_delete_url(url, GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
		if (rc < 0) {
			ck_pkcs11_set_error(error, rc, location,
					    _("Cannot remove an old object of"));
			ok = FALSE;
		}
		gnutls_free(url);
	}
	ck_pkcs11_free_list(objects, n_objects);
	return ok;
}

static const gnutls_pkcs11_obj_type_t ck_pkcs11_key_types[] = {GNUTLS_PKCS11_OBJ_PRIVKEY,
							       GNUTLS_PKCS11_OBJ_PUBKEY};

/* Gives the objects generate3() made (found by @temporary) the key id of @pubkey. Locked. */
static gboolean
ck_pkcs11_set_key_id(const CkPkcs11Uri *uri, GBytes *temporary, GBytes *key_id,
		     const gchar *location, GError **error)
{
	g_autofree gchar *search = ck_pkcs11_uri_for_gnutls(uri, temporary, NULL);
	gnutls_pkcs11_obj_t *objects = NULL;
	unsigned int n_objects = 0;
	int rc = GNUTLS_E_SUCCESS;

	if (!ck_pkcs11_list(search, location, &objects, &n_objects, error))
		return FALSE;
	for (unsigned int i = 0; rc == GNUTLS_E_SUCCESS && i < n_objects; i++)
		rc = gnutls_pkcs11_obj_set_info(
		    objects[i], GNUTLS_PKCS11_OBJ_ID, g_bytes_get_data(key_id, NULL),
		    g_bytes_get_size(key_id), GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
	ck_pkcs11_free_list(objects, n_objects);
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_set_error(error, rc, location, _("Cannot set the id of the new key in"));
		return FALSE;
	}
	if (n_objects == 0) {
		g_autofree gchar *shown = ck_pkcs11_display(location);
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    /* TRANSLATORS: the placeholder is the URI */
			    _("The key just generated in %s cannot be found in the token"), shown);
		return FALSE;
	}
	return TRUE;
}

static CkKey *
ck_key_provider_pkcs11_generate_locked(CkKeyProviderPkcs11 *self, const CkPkcs11Uri *uri,
				       CkKeyType type, const gchar *location, GError **error)
{
	gnutls_pk_algorithm_t algo;
	unsigned int bits;
	guint8 temporary[CK_PKCS11_KEY_ID_SIZE];
	gnutls_datum_t temporary_datum = {temporary, sizeof(temporary)};
	gnutls_datum_t spki = {NULL, 0};
	gnutls_pubkey_t pubkey = NULL;
	guint8 key_id[CK_PKCS11_KEY_ID_SIZE];
	size_t key_id_size = sizeof(key_id);
	g_autoptr(GBytes) temporary_bytes = NULL;
	g_autoptr(GBytes) key_id_bytes = NULL;
	CkKey *key;
	int rc;

	switch (type) {
	case CK_KEY_TYPE_EC_P256:
	case CK_KEY_TYPE_EC_P384:
	case CK_KEY_TYPE_EC_P521:
		algo = GNUTLS_PK_ECDSA;
		bits = GNUTLS_CURVE_TO_BITS(ck_key_type_get_curve(type));
		break;
	case CK_KEY_TYPE_RSA_2048:
	case CK_KEY_TYPE_RSA_3072:
	case CK_KEY_TYPE_RSA_4096:
		algo = GNUTLS_PK_RSA;
		bits = type == CK_KEY_TYPE_RSA_2048   ? 2048
		       : type == CK_KEY_TYPE_RSA_3072 ? 3072
						      : 4096;
		break;
	default:
		g_set_error(error, CK_ERROR, CK_ERROR_UNSUPPORTED, _("Unsupported key type %s"),
			    ck_key_type_to_string(type));
		return NULL;
	}
	/*
	 * The key id is only known once the key exists: the objects are made under a
	 * random id no other object has, then given the key's own.
	 */
	rc = gnutls_rnd(GNUTLS_RND_NONCE, temporary, sizeof(temporary));
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_pkcs11_privkey_generate3(
		    uri->path, algo, bits, uri->label, &temporary_datum, GNUTLS_X509_FMT_DER, &spki,
		    0,
		    GNUTLS_PKCS11_OBJ_FLAG_LOGIN | GNUTLS_PKCS11_OBJ_FLAG_MARK_PRIVATE |
			GNUTLS_PKCS11_OBJ_FLAG_MARK_SENSITIVE);
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_set_error(error, rc, location, _("Cannot generate a key in"));
		return NULL;
	}
	temporary_bytes = g_bytes_new(temporary, sizeof(temporary));
	rc = gnutls_pubkey_init(&pubkey);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_pubkey_import(pubkey, &spki, GNUTLS_X509_FMT_DER);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_pubkey_get_key_id(pubkey, GNUTLS_KEYID_USE_SHA1, key_id, &key_id_size);
	if (pubkey != NULL)
		gnutls_pubkey_deinit(pubkey);
	gnutls_free(spki.data);
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_set_error(error, rc, location, _("Cannot read the new public key in"));
		/* only what this attempt made: the live key has another id */
		ck_pkcs11_delete_others(uri, temporary_bytes, ck_pkcs11_key_types,
					G_N_ELEMENTS(ck_pkcs11_key_types), NULL, location, NULL);
		return NULL;
	}
	key_id_bytes = g_bytes_new(key_id, key_id_size);
	if (!ck_pkcs11_set_key_id(uri, temporary_bytes, key_id_bytes, location, error)) {
		ck_pkcs11_delete_others(uri, temporary_bytes, ck_pkcs11_key_types,
					G_N_ELEMENTS(ck_pkcs11_key_types), NULL, location, NULL);
		return NULL;
	}
	key = ck_pkcs11_open_key(uri, key_id_bytes, location, error);
	if (key != NULL) {
		GBytes *stored = ck_key_get_stored_form(key);
		g_autofree gchar *text =
		    g_strndup(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored));
		g_autofree gchar *shown = ck_pkcs11_display(text);
		g_message("generated a %s key in the token: %s", ck_key_type_to_string(type),
			  shown);
	}
	return key;
}

static CkKey *
ck_key_provider_pkcs11_generate_at(CkKeyProvider *provider, CkKeyType type, const gchar *location,
				   GError **error)
{
	CkKeyProviderPkcs11 *self = CK_KEY_PROVIDER_PKCS11(provider);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	g_autoptr(CkPkcs11Uri) uri = NULL;
	CkKey *key;

	if (location == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("A key in a PKCS#11 token needs a PKCS#11 URI as its key "
				      "location, e.g. pkcs11:token=NAME;object=LABEL"));
		return NULL;
	}
	uri = ck_pkcs11_begin(self, location, "private", FALSE, error);
	if (uri == NULL) {
		ck_pkcs11_end();
		return NULL;
	}
	key = ck_key_provider_pkcs11_generate_locked(self, uri, type, location, error);
	ck_pkcs11_end();
	return key;
}

static CkKey *
ck_key_provider_pkcs11_generate(CkKeyProvider *provider, CkKeyType type, GError **error)
{
	return ck_key_provider_pkcs11_generate_at(provider, type, NULL, error);
}

static CkKey *
ck_key_provider_pkcs11_load(CkKeyProvider *provider, GBytes *stored, const gchar *location,
			    GError **error)
{
	CkKeyProviderPkcs11 *self = CK_KEY_PROVIDER_PKCS11(provider);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	g_autofree gchar *text =
	    g_strndup(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored));
	g_autoptr(CkPkcs11Uri) uri = NULL;
	CkKey *key = NULL;

	g_strstrip(text);
	uri = ck_pkcs11_begin(self, text, "private", TRUE, error);
	if (uri != NULL)
		key = ck_pkcs11_open_key(uri, uri->id, text, error);
	ck_pkcs11_end();
	return key;
}

static CkKey *
ck_key_provider_pkcs11_load_for_certificate(CkKeyProvider *provider, const gchar *location,
					    gnutls_x509_crt_t crt, GError **error)
{
	CkKeyProviderPkcs11 *self = CK_KEY_PROVIDER_PKCS11(provider);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	g_autoptr(CkPkcs11Uri) uri = NULL;
	g_autoptr(GError) by_id_error = NULL;
	g_autoptr(GBytes) key_id = NULL;
	guint8 id[CK_PKCS11_KEY_ID_SIZE];
	size_t id_size = sizeof(id);
	CkKey *key = NULL;
	int rc;

	uri = ck_pkcs11_begin(self, location, "private", FALSE, error);
	if (uri == NULL) {
		ck_pkcs11_end();
		return NULL;
	}
	rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &id_size);
	if (rc != GNUTLS_E_SUCCESS) {
		ck_pkcs11_end();
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO,
			    _("Cannot compare the key with the certificate: %s"),
			    gnutls_strerror(rc));
		return NULL;
	}
	key_id = g_bytes_new(id, id_size);
	key = ck_pkcs11_open_key(uri, key_id, location, &by_id_error);
	if (key == NULL && g_error_matches(by_id_error, CK_ERROR, CK_ERROR_NOT_FOUND)) {
		/* a key another tool made has another id: the only key with the label will do,
		 * if it is the certificate's */
		key = ck_pkcs11_open_key(uri, NULL, location, error);
		if (key != NULL && !ck_key_matches_certificate(key, crt, error))
			g_clear_pointer(&key, ck_key_unref);
	} else if (key == NULL) {
		g_propagate_error(error, g_steal_pointer(&by_id_error));
	}
	ck_pkcs11_end();
	return key;
}

/* The id= of @key's stored form. */
static GBytes *
ck_pkcs11_key_id(CkKey *key, GError **error)
{
	GBytes *stored = ck_key_get_stored_form(key);
	g_autofree gchar *text = NULL;
	g_autoptr(CkPkcs11Uri) uri = NULL;

	if (stored == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The key is not one in a PKCS#11 token"));
		return NULL;
	}
	text = g_strndup(g_bytes_get_data(stored, NULL), g_bytes_get_size(stored));
	uri = ck_pkcs11_uri_parse(text, "private", TRUE, error);
	if (uri == NULL)
		return NULL;
	if (uri->id == NULL) {
		g_set_error_literal(error, CK_ERROR, CK_ERROR_INVALID_ARGUMENT,
				    _("The key is not one in a PKCS#11 token"));
		return NULL;
	}
	return g_bytes_ref(uri->id);
}

static gboolean
ck_key_provider_pkcs11_prune(CkKeyProvider *provider, const gchar *location, CkKey *keep,
			     GError **error)
{
	CkKeyProviderPkcs11 *self = CK_KEY_PROVIDER_PKCS11(provider);
	g_autoptr(GMutexLocker) locker = NULL;
	g_autoptr(CkPkcs11Uri) uri = NULL;
	g_autoptr(GBytes) keep_id = NULL;
	gboolean ok;

	if (keep != NULL && (keep_id = ck_pkcs11_key_id(keep, error)) == NULL)
		return FALSE;
	locker = g_mutex_locker_new(&self->lock);
	uri = ck_pkcs11_begin(self, location, "private", FALSE, error);
	ok = uri != NULL &&
	     ck_pkcs11_delete_others(uri, NULL, ck_pkcs11_key_types,
				     G_N_ELEMENTS(ck_pkcs11_key_types), keep_id, location, error);
	ck_pkcs11_end();
	return ok;
}

/* Certificates */

gboolean
ck_key_provider_pkcs11_store_certificate(CkKeyProviderPkcs11 *self, const gchar *location,
					 const gchar *certificate, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autoptr(CkPkcs11Uri) uri = NULL;
	g_autoptr(GBytes) id_bytes = NULL;
	static const gnutls_pkcs11_obj_type_t cert_types[] = {GNUTLS_PKCS11_OBJ_X509_CRT};
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t pem = {(unsigned char *)certificate, (unsigned int)strlen(certificate)};
	guint8 id[CK_PKCS11_KEY_ID_SIZE];
	gnutls_datum_t id_datum = {id, sizeof(id)};
	size_t id_size = sizeof(id);
	gboolean ok = FALSE;
	int rc;

	g_return_val_if_fail(CK_IS_KEY_PROVIDER_PKCS11(self), FALSE);
	rc = gnutls_x509_crt_init(&crt);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_import(crt, &pem, GNUTLS_X509_FMT_PEM);
	if (rc == GNUTLS_E_SUCCESS)
		rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, id, &id_size);
	if (rc != GNUTLS_E_SUCCESS) {
		if (crt != NULL)
			gnutls_x509_crt_deinit(crt);
		g_set_error(error, CK_ERROR, CK_ERROR_CRYPTO, _("Cannot read the certificate: %s"),
			    gnutls_strerror(rc));
		return FALSE;
	}
	id_datum.size = (unsigned int)id_size;
	id_bytes = g_bytes_new(id, id_size);
	locker = g_mutex_locker_new(&self->lock);
	uri = ck_pkcs11_begin(self, location, "private", FALSE, error);
	if (uri != NULL) {
		/* the new one first: until it is written the old one stays */
		rc = gnutls_pkcs11_copy_x509_crt2(uri->path, crt, uri->label, &id_datum,
						  GNUTLS_PKCS11_OBJ_FLAG_LOGIN);
		if (rc != GNUTLS_E_SUCCESS)
			ck_pkcs11_set_error(error, rc, location,
					    _("Cannot write the certificate into the token of"));
		else
			ok =
			    ck_pkcs11_delete_others(uri, NULL, cert_types, G_N_ELEMENTS(cert_types),
						    id_bytes, location, error);
	}
	ck_pkcs11_end();
	gnutls_x509_crt_deinit(crt);
	return ok;
}

/* GObject */

static void
ck_key_provider_pkcs11_finalize(GObject *object)
{
	CkKeyProviderPkcs11 *self = CK_KEY_PROVIDER_PKCS11(object);
	g_mutex_clear(&self->lock);
	g_free(self->default_module);
	G_OBJECT_CLASS(ck_key_provider_pkcs11_parent_class)->finalize(object);
}

static void
ck_key_provider_pkcs11_init(CkKeyProviderPkcs11 *self)
{
	g_mutex_init(&self->lock);
}

static void
ck_key_provider_pkcs11_class_init(CkKeyProviderPkcs11Class *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	CkKeyProviderClass *provider_class = CK_KEY_PROVIDER_CLASS(klass);

	object_class->finalize = ck_key_provider_pkcs11_finalize;
	provider_class->supports = ck_key_provider_pkcs11_supports;
	provider_class->generate = ck_key_provider_pkcs11_generate;
	provider_class->load = ck_key_provider_pkcs11_load;
	provider_class->check_location = ck_key_provider_pkcs11_check_location;
	provider_class->generate_at = ck_key_provider_pkcs11_generate_at;
	provider_class->load_for_certificate = ck_key_provider_pkcs11_load_for_certificate;
	provider_class->prune = ck_key_provider_pkcs11_prune;
}

CkKeyProvider *
ck_key_provider_pkcs11_new(const gchar *default_module)
{
	CkKeyProviderPkcs11 *self =
	    g_object_new(CK_TYPE_KEY_PROVIDER_PKCS11, "name", "pkcs11", NULL);
	self->default_module =
	    default_module != NULL && default_module[0] != '\0' ? g_strdup(default_module) : NULL;
	{
		g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&ck_pkcs11_global_lock);
		g_autoptr(GError) error = NULL;
		/* a failure here is told again, to the request, at its first token operation */
		if (!ck_pkcs11_init_locked(&error))
			g_warning("%s", error->message);
	}
	return CK_KEY_PROVIDER(self);
}
