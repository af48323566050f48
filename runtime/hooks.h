/* OCI lifecycle hooks. */
#ifndef CELL_HOOKS_H
#define CELL_HOOKS_H

#include <sys/types.h>

#include "spec.h"

/* Run hooks in order; stops at the first failure (the caller decides
 * whether that fails the operation or is only logged, per the spec). */
int cell_hooks_run(const struct cell_hook *hooks, size_t n, const char *kind, const char *state,
		   struct cell_err *err);

int cell_pidfd_open(pid_t pid);

#endif
