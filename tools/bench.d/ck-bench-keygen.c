/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/bench: how fast this machine makes keys with certkeeperd's own code
 * (the file key provider), on every CPU at once. Issuing N RSA certificates can
 * never be faster than making N RSA keys, so this is the floor under the N=1,000
 * figure, measured in the same run. Prints one JSON object:
 * {"key_type": "rsa-2048", "keys": K, "threads": T, "wall_s": W, "cpu_s": C}.
 * Not installed; a measuring tool, not a test.
 *
 *   ck-bench-keygen [KEYS [THREADS]]   (default 200 keys on all CPUs)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ck-key-provider-file.h"

typedef struct {
	CkKeyProvider *provider;
	gint remaining; /* keys still to make, taken atomically */
	gint failed;
} CkBenchKeygen;

static gpointer
ck_bench_keygen_thread(gpointer data)
{
	CkBenchKeygen *bench = data;

	while (g_atomic_int_add(&bench->remaining, -1) > 0) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CkKey) key =
		    ck_key_provider_generate(bench->provider, CK_KEY_TYPE_RSA_2048, &error);
		if (key == NULL) {
			fprintf(stderr, "ck-bench-keygen: %s\n", error->message);
			g_atomic_int_set(&bench->failed, 1);
			return NULL;
		}
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	guint keys = argc > 1 ? (guint)atoi(argv[1]) : 200;
	guint threads = argc > 2 ? (guint)atoi(argv[2]) : g_get_num_processors();
	g_autoptr(CkKeyProvider) provider = ck_key_provider_file_new();
	g_autoptr(GPtrArray) workers = g_ptr_array_new();
	CkBenchKeygen bench = {provider, (gint)keys, 0};
	struct timespec cpu0, cpu1;
	gint64 start;

	if (keys == 0 || threads == 0) {
		fprintf(stderr, "usage: ck-bench-keygen [KEYS [THREADS]]\n");
		return 2;
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu0);
	start = g_get_monotonic_time();
	for (guint i = 0; i < threads; i++)
		g_ptr_array_add(workers,
				g_thread_new("ck-bench-keygen", ck_bench_keygen_thread, &bench));
	for (guint i = 0; i < workers->len; i++)
		g_thread_join(g_ptr_array_index(workers, i));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu1);
	if (bench.failed)
		return 1;
	printf("{\"key_type\": \"rsa-2048\", \"keys\": %u, \"threads\": %u, \"wall_s\": %.3f, "
	       "\"cpu_s\": %.3f}\n",
	       keys, threads, (g_get_monotonic_time() - start) / 1e6,
	       (cpu1.tv_sec - cpu0.tv_sec) + (cpu1.tv_nsec - cpu0.tv_nsec) / 1e9);
	return 0;
}
