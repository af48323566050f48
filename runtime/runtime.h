/* runtime/: the lifecycle of a guest (container or microVM), the same for
 * both kinds. cli/ calls only this. */
#ifndef CELL_RUNTIME_H
#define CELL_RUNTIME_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

#include "err.h"
#include "state.h"

struct cell_ctx {
	const char *root;            /* state root, default /run/cell */
};

struct cell_create_opts {
	const char *bundle;          /* default "." */
	const char *pid_file;
	const char *console_socket;
	int preserve_fds;
	bool no_pivot;
	bool no_new_keyring;
	bool detach;                 /* run only */
};

int cell_create(const struct cell_ctx *ctx, const char *id, const struct cell_create_opts *o,
		struct cell_err *err);
int cell_start(const struct cell_ctx *ctx, const char *id, struct cell_err *err);
/* create + start + wait; *exit_code is the process's status (128+N if
 * killed by signal N), or 0 with detach. */
int cell_run(const struct cell_ctx *ctx, const char *id, const struct cell_create_opts *o,
	     int *exit_code, struct cell_err *err);
int cell_kill(const struct cell_ctx *ctx, const char *id, int sig, bool all, struct cell_err *err);
int cell_delete(const struct cell_ctx *ctx, const char *id, bool force, struct cell_err *err);
/* The runtime-spec state of one guest. */
int cell_state(const struct cell_ctx *ctx, const char *id, json_t **out, struct cell_err *err);
/* Every guest's state, as an array. */
int cell_list(const struct cell_ctx *ctx, json_t **out, struct cell_err *err);
int cell_ps(const struct cell_ctx *ctx, const char *id, pid_t **pids, size_t *n, struct cell_err *err);

/* "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3" → signal number. */
int cell_signal_parse(const char *s, int *sig);

/* features.json of the runtime-spec: what this build really supports. */
json_t *cell_features(void);

#endif
