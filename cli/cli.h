/* cli/ internals: the command table and output helpers. */
#ifndef CELL_CLI_H
#define CELL_CLI_H

#include <stdbool.h>
#include <jansson.h>

#include "../runtime/runtime.h"

struct cli {
	struct cell_ctx ctx;
	const char *name;            /* the command, for messages */
};

struct cell_command {
	const char *name;
	const char *summary;
	int (*fn)(struct cli *g, int argc, char **argv);
};

int cmd_create(struct cli *g, int argc, char **argv);
int cmd_start(struct cli *g, int argc, char **argv);
int cmd_run(struct cli *g, int argc, char **argv);
int cmd_state(struct cli *g, int argc, char **argv);
int cmd_kill(struct cli *g, int argc, char **argv);
int cmd_delete(struct cli *g, int argc, char **argv);
int cmd_list(struct cli *g, int argc, char **argv);
int cmd_ps(struct cli *g, int argc, char **argv);
int cmd_spec(struct cli *g, int argc, char **argv);
int cmd_features(struct cli *g, int argc, char **argv);

/* Print "cell: COMMAND: message" (and log it); returns 1. */
int cli_fail(struct cli *g, const struct cell_err *err);
/* Usage error for a command: message and a pointer to --help; returns 2. */
int cli_usage_error(struct cli *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pretty JSON on stdout. */
void cli_print_json(json_t *v);

#endif
