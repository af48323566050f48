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
	bool enters_guest;           /* runs cell code inside the guest: re-exec sealed */
};

int cmd_create(struct cli *g, int argc, char **argv);
int cmd_start(struct cli *g, int argc, char **argv);
int cmd_run(struct cli *g, int argc, char **argv);
int cmd_state(struct cli *g, int argc, char **argv);
int cmd_exec(struct cli *g, int argc, char **argv);
int cmd_kill(struct cli *g, int argc, char **argv);
int cmd_delete(struct cli *g, int argc, char **argv);
int cmd_list(struct cli *g, int argc, char **argv);
int cmd_ps(struct cli *g, int argc, char **argv);
int cmd_spec(struct cli *g, int argc, char **argv);
int cmd_features(struct cli *g, int argc, char **argv);
int cmd_update(struct cli *g, int argc, char **argv);
int cmd_pause(struct cli *g, int argc, char **argv);
int cmd_resume(struct cli *g, int argc, char **argv);
int cmd_events(struct cli *g, int argc, char **argv);
int cmd_image(struct cli *g, int argc, char **argv);
int cmd_bundle(struct cli *g, int argc, char **argv);
int cmd_pull(struct cli *g, int argc, char **argv);
/* run/create --image: a fresh bundle of REF under the store (image.c). */
int cli_image_bundle(struct cli *g, const char *store, const char *ref, const char *id, char **dir);
/* Undo cli_image_bundle once the container is gone; other bundles stay. */
void cli_image_release(const char *bundle);

/* Print "cell: COMMAND: message" (and log it); returns 1. */
int cli_fail(struct cli *g, const struct cell_err *err);
/* Usage error for a command: message and a pointer to --help; returns 2. */
int cli_usage_error(struct cli *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Pretty JSON on stdout. */
void cli_print_json(json_t *v);

#endif
