/* Signal names as users write them for `cell kill`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>

#include "../../runtime/runtime.h"

/* The number `s` parses to; fails the test if it does not parse. */
static int sig_of(const char *s)
{
	int sig = -1;

	assert_int_equal(cell_signal_parse(s, &sig), 0);
	return sig;
}

static void test_names(void **state)
{
	assert_int_equal(sig_of("TERM"), SIGTERM);
	assert_int_equal(sig_of("SIGTERM"), SIGTERM);
	assert_int_equal(sig_of("sigterm"), SIGTERM);
	assert_int_equal(sig_of("Term"), SIGTERM);
	assert_int_equal(sig_of("KILL"), SIGKILL);
	assert_int_equal(sig_of("SIGHUP"), SIGHUP);
	assert_int_equal(sig_of("IOT"), SIGABRT);
	assert_int_equal(sig_of("WINCH"), SIGWINCH);
	assert_int_equal(sig_of("SYS"), SIGSYS);
}

static void test_numbers(void **state)
{
	assert_int_equal(sig_of("15"), SIGTERM);
	assert_int_equal(sig_of("9"), SIGKILL);
	assert_int_equal(sig_of("1"), SIGHUP);
	assert_int_equal(sig_of("64"), 64);
	assert_int_equal(sig_of("015"), SIGTERM);
}

/* SIGRTMIN is a glibc function call, not a constant: compare against it. */
static void test_realtime(void **state)
{
	assert_int_equal(sig_of("RTMIN"), SIGRTMIN);
	assert_int_equal(sig_of("SIGRTMIN"), SIGRTMIN);
	assert_int_equal(sig_of("RTMIN+3"), SIGRTMIN + 3);
	assert_int_equal(sig_of("rtmin+0"), SIGRTMIN);
	assert_int_equal(sig_of("RTMAX"), SIGRTMAX);
	assert_int_equal(sig_of("RTMAX-1"), SIGRTMAX - 1);
	assert_int_equal(sig_of("SIGRTMAX-2"), SIGRTMAX - 2);
	/* the two ends of the range meet */
	assert_int_equal(sig_of("RTMIN+30"), SIGRTMIN + 30);
	assert_int_equal(sig_of("RTMAX-30"), SIGRTMAX - 30);
}

static void test_rejected(void **state)
{
	static const char *const bad[] = {
		"", "0", "65", "-9", "+9", " 15", "15 ", "15x", "99999999999999999999",
		"FOO", "SIG", "SIGSIGTERM", "TERMX", "SIG15",
		"RTMIN+", "RTMIN-1", "RTMIN+31", "RTMIN+99", "RTMIN3",
		"RTMAX+1", "RTMAX-", "RTMAX-31", "RTMAX--1",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int sig = -12345;

		/* the name in the assertion shows which input was accepted */
		if (cell_signal_parse(bad[i], &sig) == 0)
			assert_string_equal(bad[i], "(rejected)");
		assert_int_equal(sig, -12345);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_realtime),
		cmocka_unit_test(test_rejected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
