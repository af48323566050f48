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
	const char *cgroup_manager;  /* "cgroupfs" (NULL = default) or "disabled" */
};

struct cell_create_opts {
	const char *bundle;          /* default "." */
	const char *pid_file;
	const char *console_socket;
	int preserve_fds;
	bool no_pivot;
	bool no_new_keyring;
	bool detach;                 /* run only */
	/* microVMs: a bzImage → the ELF vmlinux it carries, cached (cli/ sets
	 * images/' cell_image_kernel; same contract).  NULL: kernels boot as
	 * they are given. */
	int (*vm_kernel)(void *arg, int kernel_fd, const char *name, int *elf_fd, char **path,
			 struct cell_err *err);
	void *vm_kernel_arg;
};

int cell_create(const struct cell_ctx *ctx, const char *id, const struct cell_create_opts *o,
		struct cell_err *err);
int cell_start(const struct cell_ctx *ctx, const char *id, struct cell_err *err);
/* create + start + wait; *exit_code is the process's status (128+N if
 * killed by signal N), or 0 with detach. */
int cell_run(const struct cell_ctx *ctx, const char *id, const struct cell_create_opts *o,
	     int *exit_code, struct cell_err *err);
struct cell_exec_opts {
	const char *process_file;    /* a runtime-spec process object (JSON) */
	char **args;                 /* else: the program and its arguments */
	const char *cwd;
	char **env;                  /* K=V, added to (or replacing in) the guest's env */
	const char *user;            /* UID[:GID] */
	char **caps;                 /* added to every capability set */
	bool no_new_privs;
	bool tty;
	bool detach;
	const char *console_socket;
	const char *pid_file;
	int preserve_fds;
};

/* A new process in a running guest, with the guest's policy unless
 * overridden; *exit_code as for cell_run (0 with detach). */
int cell_exec(const struct cell_ctx *ctx, const char *id, const struct cell_exec_opts *o,
	      int *exit_code, struct cell_err *err);

int cell_kill(const struct cell_ctx *ctx, const char *id, int sig, bool all, struct cell_err *err);
int cell_delete(const struct cell_ctx *ctx, const char *id, bool force, struct cell_err *err);
/* The runtime-spec state of one guest. */
int cell_state(const struct cell_ctx *ctx, const char *id, json_t **out, struct cell_err *err);
/* Every guest's state, as an array. */
int cell_list(const struct cell_ctx *ctx, json_t **out, struct cell_err *err);
int cell_ps(const struct cell_ctx *ctx, const char *id, pid_t **pids, size_t *n, struct cell_err *err);

/* Freeze / thaw every process of a running guest (status "paused"). */
int cell_pause(const struct cell_ctx *ctx, const char *id, struct cell_err *err);
int cell_resume(const struct cell_ctx *ctx, const char *id, struct cell_err *err);
/* Apply a linux.resources object to a live guest's cgroup; `where` names
 * its source in messages ("--resources /x.json"). */
int cell_update(const struct cell_ctx *ctx, const char *id, const json_t *resources, const char *where,
		struct cell_err *err);

/* "TERM", "SIGTERM", "sigterm", "15", "RTMIN+3" → signal number. */
int cell_signal_parse(const char *s, int *sig);

/* Re-execute the running binary from a sealed memfd copy unless already
 * running from one (CVE-2019-5736); returns only on error or when sealed. */
int cell_reexec_sealed(char **argv, struct cell_err *err);

/* features.json of the runtime-spec: what this build really supports. */
json_t *cell_features(void);

#endif
