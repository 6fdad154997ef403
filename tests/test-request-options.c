/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The request options table: the one boundary AddRequest, StartTracking, Modify
 * and requests.d share. Every refusal names the option and what was wrong.
 */
#include "config.h"

#include <signal.h>
#include <string.h>

#include "ck-error.h"
#include "ck-request-options.h"
#include "ck-test-util.h"

/* Applies @value (floating or not) and returns the result; the error stays with the caller. */
static gboolean
ck_test_apply(CkRequest *request, const gchar *name, GVariant *value, GError **error)
{
	g_autoptr(GVariant) owned = g_variant_ref_sink(value);
	return ck_request_options_apply(request, name, owned, error);
}

/* A refusal with @code whose message contains every fragment. */
static void
ck_test_refused(const gchar *name, GVariant *value, gint code, const gchar *first_fragment, ...)
{
	g_autoptr(CkRequest) request = ck_request_new(NULL);
	g_autoptr(GError) error = NULL;
	const gchar *fragment;
	va_list args;

	g_test_message("refused: %s", name);
	g_assert_false(ck_test_apply(request, name, value, &error));
	g_assert_error(error, CK_ERROR, code);
	g_test_message("  %s", error->message);
	va_start(args, first_fragment);
	for (fragment = first_fragment; fragment != NULL; fragment = va_arg(args, const gchar *))
		g_assert_nonnull(strstr(error->message, fragment));
	va_end(args);
}

/* Every option has a type, and a value of another type is refused naming both. */
static void
test_request_options_types(void)
{
	const gchar *const *names = ck_request_options_names();
	guint n = 0;

	for (guint i = 0; names[i] != NULL; i++, n++) {
		const gchar *type = ck_request_options_type(names[i]);
		GVariant *wrong;
		g_assert_nonnull(type);
		g_assert_true(g_variant_type_string_is_valid(type));
		/* a value of a type no option takes */
		wrong = g_variant_new_int16(7);
		ck_test_refused(names[i], wrong, CK_ERROR_INVALID_ARGUMENT, names[i], type, "n",
				NULL);
	}
	/* the whole getcert-class set, not a handful */
	g_assert_cmpuint(n, >=, 35);
	g_assert_null(ck_request_options_type("colour"));
	ck_test_refused("colour", g_variant_new_string("blue"), CK_ERROR_INVALID_ARGUMENT,
			"Unknown option 'colour'", NULL);
	/* a list where a string belongs, and the other way round */
	ck_test_refused("subject", g_variant_new_strv(NULL, 0), CK_ERROR_INVALID_ARGUMENT,
			"subject", "'s'", "'as'", NULL);
	ck_test_refused("dns-names", g_variant_new_string("a.example"), CK_ERROR_INVALID_ARGUMENT,
			"dns-names", "'as'", NULL);
}

/* A request's identity (its id and files) is fixed once it exists; the rest may change. */
static void
test_request_options_modifiable(void)
{
	const gchar *fixed[] = {"id", "cert-file", "key-file", "directory"};
	const gchar *changing[] = {"subject", "dns-names", "ca", "renew-before", "key-type",
				   "chain-file", "post-save-command", "auto-renew"};

	for (guint i = 0; i < G_N_ELEMENTS(fixed); i++)
		g_assert_false(ck_request_options_is_modifiable(fixed[i]));
	for (guint i = 0; i < G_N_ELEMENTS(changing); i++)
		g_assert_true(ck_request_options_is_modifiable(changing[i]));
	g_assert_false(ck_request_options_is_modifiable("colour"));
}

static void
test_request_options_values(void)
{
	g_autoptr(CkRequest) request = ck_request_new(NULL);
	g_autoptr(GError) error = NULL;
	const gchar *dns[] = {"a.example", "b.example", NULL};

	g_assert_true(ck_test_apply(request, "subject", g_variant_new_string("CN=a.example"),
				    &error));
	g_assert_cmpstr(ck_request_get_subject(request), ==, "CN=a.example");
	g_assert_true(ck_test_apply(request, "dns-names", g_variant_new_strv(dns, -1), &error));
	g_assert_cmpstrv(ck_request_get_dns_names(request), dns);
	/* the aliases getcert users type */
	g_assert_true(ck_test_apply(request, "key-type", g_variant_new_string("rsa:3072"), &error));
	g_assert_cmpint(ck_request_get_key_type(request), ==, CK_KEY_TYPE_RSA_3072);
	g_assert_true(ck_test_apply(request, "key-type", g_variant_new_string("ED25519"), &error));
	g_assert_cmpint(ck_request_get_key_type(request), ==, CK_KEY_TYPE_ED25519);
	g_assert_true(ck_test_apply(request, "key-policy", g_variant_new_string("reuse"), &error));
	g_assert_cmpint(ck_request_get_key_policy(request), ==, CK_KEY_POLICY_REUSE);
	g_assert_true(ck_test_apply(request, "renew-before", g_variant_new_string("33%"), &error));
	g_assert_cmpstr(ck_request_get_renew_before(request), ==, "33%");
	g_assert_true(ck_test_apply(request, "validity", g_variant_new_string("90d"), &error));
	g_assert_cmpint(ck_request_get_validity(request), ==, 90 * 86400);
	g_assert_true(ck_test_apply(request, "validity-days", g_variant_new_uint32(30), &error));
	g_assert_cmpint(ck_request_get_validity(request), ==, 30 * 86400);
	g_assert_true(ck_test_apply(request, "key-mode", g_variant_new_uint32(0640), &error));
	g_assert_cmpuint(ck_request_get_key_attrs(request)->mode, ==, 0640);
	g_assert_true(ck_test_apply(request, "pid-signal", g_variant_new_string("USR1"), &error));
	g_assert_cmpint(ck_request_get_pid_signal(request), ==, SIGUSR1);
	g_assert_true(ck_test_apply(request, "auto-renew", g_variant_new_boolean(FALSE), &error));
	g_assert_false(ck_request_get_auto_renew(request));
	/* an empty string clears what may be absent */
	g_assert_true(ck_test_apply(request, "chain-file", g_variant_new_string("/x/chain.pem"),
				    &error));
	g_assert_cmpstr(ck_request_get_chain_file(request), ==, "/x/chain.pem");
	g_assert_true(ck_test_apply(request, "chain-file", g_variant_new_string(""), &error));
	g_assert_null(ck_request_get_chain_file(request));
	g_assert_no_error(error);
}

static void
test_request_options_refusals(void)
{
	ck_test_refused("key-type", g_variant_new_string("dsa-1024"), CK_ERROR_UNSUPPORTED,
			"key-type", "dsa-1024", "ec-p256", NULL);
	/* a size out of range says what the sizes are */
	ck_test_refused("key-type", g_variant_new_string("rsa-1024"), CK_ERROR_UNSUPPORTED,
			"key-type", "1024 bits", "2048, 3072 or 4096", NULL);
	ck_test_refused("key-type", g_variant_new_string("rsa:16384"), CK_ERROR_UNSUPPORTED,
			"16384 bits", NULL);
	ck_test_refused("key-policy", g_variant_new_string("sometimes"), CK_ERROR_INVALID_ARGUMENT,
			"key-policy", "sometimes", "reuse", NULL);
	ck_test_refused("renew-before", g_variant_new_string("soon"), CK_ERROR_INVALID_ARGUMENT,
			"renew-before", "soon", NULL);
	ck_test_refused("renew-before", g_variant_new_string("100%"), CK_ERROR_INVALID_ARGUMENT,
			"renew-before", NULL);
	ck_test_refused("validity", g_variant_new_string("a year"), CK_ERROR_INVALID_ARGUMENT,
			"validity", "a year", NULL);
	ck_test_refused("cert-mode", g_variant_new_uint32(01777), CK_ERROR_INVALID_ARGUMENT,
			"cert-mode", "1777", NULL);
	ck_test_refused("key-mode", g_variant_new_uint32(G_MAXUINT32), CK_ERROR_INVALID_ARGUMENT,
			"key-mode", NULL);
	ck_test_refused("key-owner", g_variant_new_string("no-such-user-ck"),
			CK_ERROR_INVALID_ARGUMENT, "key-owner", "no-such-user-ck", NULL);
	ck_test_refused("pid-signal", g_variant_new_string("SIGNOPE"), CK_ERROR_INVALID_ARGUMENT,
			"pid-signal", "SIGNOPE", NULL);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/certkeeper/request-options/types", test_request_options_types);
	g_test_add_func("/certkeeper/request-options/modifiable", test_request_options_modifiable);
	g_test_add_func("/certkeeper/request-options/values", test_request_options_values);
	g_test_add_func("/certkeeper/request-options/refusals", test_request_options_refusals);
	return g_test_run();
}
