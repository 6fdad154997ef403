/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib-object.h>

#include "ck-file-util.h"
#include "ck-key-provider.h"
#include "ck-request.h"
#include "ck-schedule.h"

G_BEGIN_DECLS

/* How one CA is configured ([ca NAME] groups of certkeeper.conf). */
typedef struct {
	gchar *name;
	gchar *type;	     /* "local", "helper", or a protocol: "acme", "est", "scep" */
	gchar *helper;	     /* helper: the command line */
	guint timeout;	     /* helper and protocols: seconds a run may take */
	guint validity_days; /* local: default lifetime of leaves */
	GHashTable *settings; /* protocols: config key -> value (see ck-ca-protocol.h) */
	gchar *roots_file;    /* where to keep the CA's roots as a PEM bundle, or NULL */
} CkCaConfig;

#define CK_TYPE_CONFIG ck_config_get_type()
G_DECLARE_FINAL_TYPE(CkConfig, ck_config, CK, CONFIG, GObject)

/* Built-in defaults; ck_config_load() overrides them from a file. */
CkConfig *
ck_config_new(void);

/*
 * Reads a certkeeper.conf (GKeyFile). A missing file is an error only when
 * @must_exist. Unknown keys are warned about; malformed values are errors that
 * name the group, the key and the value.
 */
gboolean
ck_config_load(CkConfig *self, const gchar *path, gboolean must_exist, GError **error);

/* [certkeeperd] StateDirectory, or NULL when unset. */
const gchar *
ck_config_get_state_dir(CkConfig *self);
/* [certkeeperd] LogLevel ("error", "warning", "message", "info", "debug", or a syslog
 * level name), or NULL. */
const gchar *
ck_config_get_log_level(CkConfig *self);

/* Where the audit trail goes ([certkeeperd] AuditLog=, AuditLogMaxSize=, AuditLogRotate=). */
typedef struct {
	gchar *path;	  /* NULL: STATE/audit.log; "none": no audit log */
	guint64 max_size; /* bytes a file may reach before it is rotated (10 MiB) */
	guint rotate;	  /* rotated files kept: audit.log.1 .. .N (5) */
} CkAuditConfig;

const CkAuditConfig *
ck_config_get_audit(CkConfig *self);
/* [certkeeperd] TpmTcti: the TPM's tpm2-tss TCTI string (default device:/dev/tpmrm0). */
const gchar *
ck_config_get_tpm_tcti(CkConfig *self);
/* [defaults] */
CkKeyType
ck_config_get_default_key_type(CkConfig *self);
const gchar *
ck_config_get_default_ca(CkConfig *self);
guint
ck_config_get_default_cert_mode(CkConfig *self);
guint
ck_config_get_default_key_mode(CkConfig *self);
guint
ck_config_get_default_validity_days(CkConfig *self);
/* How the lifecycle behaves ([renewal] and the limits in [certkeeperd]). */
typedef struct {
	CkThreshold renew_before; /* RenewBefore: default threshold */
	gint64 jitter_max;	  /* RenewJitterMax: the longest jitter, seconds (1 d) */
	gint64 expiring_before;	  /* ExpiringBefore: "expiring" this long before expiry (0) */
	CkBackoff backoff;	  /* RetryDelay, RetryDelayMax, MaxAttempts */
	CkKeyPolicy key_policy;	  /* KeyPolicy: new (default) or reuse */
	gint64 keep_previous;	  /* KeepPrevious: grace period of the old files (7 d) */
	guint hook_timeout;	  /* HookTimeout: seconds a hook may take (120) */
	guint check_timeout;	  /* CheckTimeout: seconds a post-install check may take (30) */
	guint max_parallel_keys;  /* [certkeeperd] MaxParallelKeyGenerations (0: CPUs) */
	guint max_parallel_submissions; /* [certkeeperd] MaxParallelSubmissions (8) */
	gchar *time_sync_file;	  /* [certkeeperd] TimeSyncFile: appears once the clock is synced */
	gchar *policy_dir;	  /* [certkeeperd] PolicyDirectory: who may request what */
	gchar *requests_dir;	  /* [certkeeperd] RequestsDirectory: declared requests */
	gchar *helper_dir;	  /* [certkeeperd] HelperDirectory: the protocol helpers */
	gchar *pkcs11_module;	  /* [certkeeperd] Pkcs11Module: the PKCS#11 module (none) */
	gboolean pkcs11_store_certificates; /* [certkeeperd] Pkcs11StoreCertificates (false) */
	gchar *metrics_dir; /* [certkeeperd] MetricsDirectory: where certkeeper.prom goes, or NULL */
} CkLifecycleConfig;

const CkLifecycleConfig *
ck_config_get_lifecycle(CkConfig *self);

CkCaConfig *
ck_ca_config_new(const gchar *name, const gchar *type);
CkCaConfig *
ck_ca_config_copy(const CkCaConfig *ca);
void
ck_ca_config_free(CkCaConfig *ca);
gboolean
ck_ca_config_equal(const CkCaConfig *a, const CkCaConfig *b);
/* Checks that @ca is complete and consistent for its type; the error names what is not. */
gboolean
ck_ca_config_check(const CkCaConfig *ca, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CkCaConfig, ck_ca_config_free)

/* Every configured CA, the built-in "local" one always included (array of CkCaConfig*). */
GPtrArray *
ck_config_get_cas(CkConfig *self);

G_END_DECLS
