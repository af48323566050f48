/* The interface every guest kind implements (isolate/ for containers,
 * vmshim/ for microVMs). runtime/ calls it and decides all policy. */
#ifndef CELL_DRIVER_H
#define CELL_DRIVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"
#include "spec.h"

/* Runs a list of hooks with the state JSON on stdin; the runtime owns the
 * semantics, drivers call it for the hooks that run inside the guest. */
typedef int (*cell_hook_runner)(const struct cell_hook *hooks, size_t n, const char *kind,
				const char *state_json, struct cell_err *err);

struct cell_create_req {
	const char *id;
	const struct cell_spec *spec;
	int state_dirfd;             /* the guest's state directory */
	int console_fd;              /* connected console socket, or -1 */
	int preserve_fds;            /* fds 3 .. 3+N-1 pass to the guest process */
	bool no_pivot;
	bool no_new_keyring;

	/* The init's pid is known (host pid namespace): record it at once
	 * so `delete --force` can find it after a crash. */
	int (*on_pid)(void *arg, pid_t pid, struct cell_err *err);
	/* State JSON with the given status, for hooks. Caller frees. */
	char *(*state_json)(void *arg, const char *status);
	/* The guest's namespaces exist, its root is not pivoted yet: the
	 * runtime runs the prestart and createRuntime hooks. */
	int (*on_namespaces)(void *arg, struct cell_err *err);
	cell_hook_runner run_hooks;
	void *arg;

	/* microVMs: cell_create_opts.vm_kernel, and the state's "vm" object
	 * (borrowed; the driver may add what it chose) */
	int (*vm_kernel)(void *arg, int kernel_fd, const char *name, int *elf_fd, char **path,
			 struct cell_err *err);
	void *vm_kernel_arg;
	json_t *machine;

	/* Instead of exec'ing process.args, the guest's init runs this code in
	 * the confinement it set up (a microVM's VMM).  NULL for containers. */
	const struct cell_payload *payload;
	void *payload_arg;
	/* fds the payload needs, kept open in the guest's init (max 8) */
	const int *payload_fds;
	size_t n_payload_fds;
};

struct cell_payload {
	/* In the new root, before the guest is "created"; an error fails create. */
	int (*prepare)(void *arg, struct cell_err *err);
	/* After start, with the process's identity, capabilities, rlimits and
	 * seccomp filter applied; returns the init's exit status. */
	int (*run)(void *arg);
};

/* A new process inside a running guest (cell exec). */
struct cell_exec_req {
	pid_t guest_pid;             /* the guest's init: its namespaces are joined */
	uint64_t guest_start;
	const struct cell_process *process;
	const json_t *seccomp;       /* the guest's linux.seccomp, or NULL */
	int console_fd;              /* process->terminal: connected console socket */
	int preserve_fds;
	/* the process's pid is known; it waits until this returns */
	int (*on_pid)(void *arg, pid_t pid, struct cell_err *err);
	void *arg;
	/* SCMP_ACT_NOTIFY: the process's seccomp listener fd, as soon as it
	 * exists (the process may already wait on it); the driver closes it.
	 * NULL: the caller takes none, and such a profile is an error. */
	int (*on_listener)(void *arg, pid_t pid, int fd, struct cell_err *err);
};

struct cell_driver {
	const char *kind;
	/* Bring the guest to "created": its process exists and waits. */
	int (*create)(const struct cell_create_req *req, pid_t *pid, struct cell_err *err);
	/* Let the created guest run its process; returns when it has started,
	 * with the seccomp listener fd in *notify_fd (-1 without one). */
	int (*start)(int state_dirfd, pid_t pid, int *notify_fd, struct cell_err *err);
	/* Signal the guest (all = every process of it). */
	int (*kill)(pid_t pid, uint64_t pid_start, int sig, bool all, struct cell_err *err);
	/* Start a process inside the running guest; returns once it has
	 * exec'd (or failed to), with its pid in the host namespace. */
	int (*exec)(const struct cell_exec_req *req, pid_t *pid, struct cell_err *err);
	/* The pids of the guest's processes (host namespace), NULL-ended. */
	int (*pids)(pid_t pid, uint64_t pid_start, pid_t **out, size_t *n, struct cell_err *err);
	/* Optional: the machine a spec describes, for the state's "vm" object
	 * (new reference; NULL for none). */
	json_t *(*machine)(const struct cell_spec *spec);
};

/* runtime/vmguest.c: a microVM, its VMM confined by the container driver */
extern const struct cell_driver cell_vm_driver;

/* The driver of a guest kind as recorded in its state ("container"). */
const struct cell_driver *cell_driver_for_kind(const char *kind, struct cell_err *err);

#endif
