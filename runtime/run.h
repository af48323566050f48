/* The foreground half shared by `run` and `exec`. */
#ifndef CELL_RUN_H
#define CELL_RUN_H

#include <sys/types.h>

#include "err.h"

/* Block the signals the foreground loop forwards (call before the guest
 * process exists, so none is lost). */
void cell_run_block_signals(void);
/* Forward signals to pid, copy its terminal (master, or -1), reap it, and
 * return its exit status (128+N if killed by signal N). */
int cell_run_foreground(pid_t pid, int master, int *exit_code, struct cell_err *err);

#endif
