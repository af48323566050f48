/* The error convention every folder follows: a fallible function returns 0
 * or a negative value and fills a struct cell_err naming the object. */
#ifndef CELL_ERR_H
#define CELL_ERR_H

#include <stdarg.h>

#define CELL_ERR_MSG_MAX 1024

struct cell_err {
	int errnum;                  /* errno of the first failure, 0 if none */
	char msg[CELL_ERR_MSG_MAX];
};

/* Set the message (appending ": strerror(errnum)" when errnum != 0).
 * Always returns -1 so callers can `return cell_err_set(...)`. */
int cell_err_set(struct cell_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Prepend "context: " to an existing message. Returns -1. */
int cell_err_wrap(struct cell_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

void cell_err_clear(struct cell_err *err);

#endif
