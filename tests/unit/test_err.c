/* struct cell_err: message formatting, errno text, wrapping, truncation. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "../../runtime/err.h"

static void test_set(void **state)
{
	struct cell_err err;

	assert_int_equal(cell_err_set(&err, 0, "mounts[%d]: bad", 3), -1);
	assert_string_equal(err.msg, "mounts[3]: bad");
	assert_int_equal(err.errnum, 0);
	assert_int_equal(cell_err_set(&err, ENOENT, "open %s", "/x"), -1);
	assert_string_equal(err.msg, "open /x: No such file or directory");
	assert_int_equal(err.errnum, ENOENT);
	cell_err_clear(&err);
	assert_string_equal(err.msg, "");
	assert_int_equal(err.errnum, 0);
	/* a NULL error is allowed: the caller does not want the text */
	assert_int_equal(cell_err_set(NULL, EIO, "x"), -1);
	assert_int_equal(cell_err_wrap(NULL, "x"), -1);
}

static void test_wrap(void **state)
{
	struct cell_err err;

	cell_err_set(&err, EACCES, "write %s", "state.json");
	assert_int_equal(cell_err_wrap(&err, "state of %s", "c1"), -1);
	assert_int_equal(cell_err_wrap(&err, "create"), -1);
	assert_string_equal(err.msg, "create: state of c1: write state.json: Permission denied");
	/* wrapping keeps the errno of the first failure */
	assert_int_equal(err.errnum, EACCES);
	/* the old text may be the prefix's argument */
	cell_err_set(&err, 0, "x");
	cell_err_wrap(&err, "%s", err.msg);
	assert_string_equal(err.msg, "x: x");
}

static void test_truncation(void **state)
{
	char big[3 * CELL_ERR_MSG_MAX];
	struct cell_err err;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';

	/* too long: cut at the buffer, still terminated, strerror dropped */
	cell_err_set(&err, ENOENT, "%s", big);
	assert_int_equal(strlen(err.msg), CELL_ERR_MSG_MAX - 1);
	assert_int_equal(err.errnum, ENOENT);

	/* the message fits but ": strerror" does not: it is cut, not overflowed */
	cell_err_set(&err, ENOENT, "%.*s", CELL_ERR_MSG_MAX - 5, big);
	assert_int_equal(strlen(err.msg), CELL_ERR_MSG_MAX - 1);
	assert_memory_equal(err.msg + CELL_ERR_MSG_MAX - 5, ": No", 4);

	/* a prefix longer than the buffer keeps ": " and the terminator */
	cell_err_set(&err, 0, "inner");
	cell_err_wrap(&err, "%s", big);
	assert_int_equal(strlen(err.msg), CELL_ERR_MSG_MAX - 1);
	assert_memory_equal(err.msg + CELL_ERR_MSG_MAX - 3, ": ", 2);

	/* a long old message is cut at its end, the prefix kept whole */
	cell_err_set(&err, 0, "%s", big);
	cell_err_wrap(&err, "config.json");
	assert_int_equal(strlen(err.msg), CELL_ERR_MSG_MAX - 1);
	assert_memory_equal(err.msg, "config.json: aaa", 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
