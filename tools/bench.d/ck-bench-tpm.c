/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/bench --tpm-only: how long the TPM key provider takes on a TPM (swtpm in
 * the benchmark) to make a key and to sign a CSR, per key type. Prints one JSON
 * object: {"ec-p256": {"generate": [ms...], "csr": [ms...]}, "rsa-2048": ...}.
 * Not installed; a measuring tool, not a test.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "ck-csr.h"
#include "ck-key-provider-tpm.h"

static void
print_list(const gchar *name, GArray *ms, gboolean last)
{
	printf("\"%s\": [", name);
	for (guint i = 0; i < ms->len; i++)
		printf("%s%.3f", i > 0 ? ", " : "", g_array_index(ms, gdouble, i));
	printf("]%s", last ? "" : ", ");
}

static gboolean
measure(CkKeyProvider *provider, CkKeyType type, guint rounds, gboolean last)
{
	const gchar *names[] = {"bench.example", NULL};
	CkCsrParams params = {.subject = "CN=bench.example", .dns_names = names};
	g_autoptr(GArray) generate = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(GArray) csr = g_array_new(FALSE, FALSE, sizeof(gdouble));
	g_autoptr(CkKey) key = NULL;

	for (guint i = 0; i < rounds; i++) {
		g_autoptr(GError) error = NULL;
		gint64 start = g_get_monotonic_time();
		gdouble ms;

		g_clear_pointer(&key, ck_key_unref);
		key = ck_key_provider_generate(provider, type, &error);
		if (key == NULL) {
			fprintf(stderr, "ck-bench-tpm: %s\n", error->message);
			return FALSE;
		}
		ms = (gdouble)(g_get_monotonic_time() - start) / 1000.0;
		g_array_append_val(generate, ms);
	}
	for (guint i = 0; i < rounds; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *pem = NULL;
		gint64 start = g_get_monotonic_time();
		gdouble ms;

		/* the whole CSR: the TPM recreates the primary, loads the key, signs, flushes */
		pem = ck_csr_build_with_pubkey(&params, ck_key_get_privkey(key),
					       ck_key_get_pubkey(key), &error);
		if (pem == NULL) {
			g_autoptr(GError) why = ck_key_provider_take_sign_error(provider);
			fprintf(stderr, "ck-bench-tpm: %s\n",
				why != NULL ? why->message : error->message);
			return FALSE;
		}
		ms = (gdouble)(g_get_monotonic_time() - start) / 1000.0;
		g_array_append_val(csr, ms);
	}
	printf("\"%s\": {", ck_key_type_to_string(type));
	print_list("generate", generate, FALSE);
	print_list("csr", csr, TRUE);
	printf("}%s", last ? "" : ", ");
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *tcti = NULL;
	gint rounds = 10;
	GOptionEntry entries[] = {
	    {"tcti", 0, 0, G_OPTION_ARG_STRING, &tcti, "TCTI of the TPM", "TCTI"},
	    {"rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "operations per figure", "N"},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CkKeyProvider) provider = NULL;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || rounds < 1) {
		fprintf(stderr, "ck-bench-tpm: %s\n",
			error != NULL ? error->message : "--rounds must be at least 1");
		return 2;
	}
	provider = ck_key_provider_tpm_new(tcti);
	printf("{");
	if (!measure(provider, CK_KEY_TYPE_EC_P256, (guint)rounds, FALSE) ||
	    !measure(provider, CK_KEY_TYPE_RSA_2048, (guint)rounds, TRUE))
		return 1;
	printf("}\n");
	return 0;
}
