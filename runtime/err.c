/* struct cell_err: formatting and wrapping of error messages. */
#include "err.h"

#include <stdio.h>
#include <string.h>

static void err_vformat(struct cell_err *err, int errnum, const char *fmt, va_list ap)
{
	int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (errnum && n >= 0 && (size_t)n < sizeof(err->msg))
		snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
	err->errnum = errnum;
}

int cell_err_set(struct cell_err *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	err_vformat(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int cell_err_wrap(struct cell_err *err, const char *fmt, ...)
{
	char prefix[CELL_ERR_MSG_MAX], old[CELL_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	size_t pl = strnlen(prefix, sizeof(err->msg) - 3);
	size_t ol = strnlen(old, sizeof(err->msg) - pl - 3);

	memcpy(err->msg, prefix, pl);
	memcpy(err->msg + pl, ": ", 2);
	memcpy(err->msg + pl + 2, old, ol);
	err->msg[pl + 2 + ol] = '\0';
	return -1;
}

void cell_err_clear(struct cell_err *err)
{
	err->errnum = 0;
	err->msg[0] = '\0';
}
