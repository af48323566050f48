/* isolate/ internals shared between its files. */
#ifndef CELL_ISOLATE_INTERNAL_H
#define CELL_ISOLATE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "../runtime/driver.h"
#include "../runtime/err.h"
#include "../runtime/spec.h"

/* Messages between `cell create` (parent) and the container init, over a
 * SOCK_SEQPACKET pair: one message per record, EOF when a side dies. */
enum sync_type {
	SYNC_PID = 1,            /* stage1 → parent: the init's pid */
	SYNC_GO,                 /* parent → init: ids mapped; payload: states */
	SYNC_RUNTIME_HOOKS,      /* init → parent: run prestart/createRuntime now */
	SYNC_RUNTIME_HOOKS_DONE, /* parent → init */
	SYNC_CREATED,            /* init → parent: waiting for start */
	SYNC_ERROR,              /* either way: payload is the message */
};

#define SYNC_MAX_PAYLOAD (256 * 1024)

int sync_send(int fd, enum sync_type type, int32_t value, const char *payload, size_t len);
/* 0 = message (payload malloc'd, NUL-terminated, may be NULL), 1 = EOF. */
int sync_recv(int fd, enum sync_type *type, int32_t *value, char **payload, size_t *len,
	      struct cell_err *err);

struct seccomp_filter;

/* Fork with a sync channel: *fd is this side's end in parent and child;
 * returns the child's pid (0 in the child) or -1. */
pid_t sync_fork(int *fd, struct cell_err *err);

/* The container init, a child of stage1; never returns. */
_Noreturn void isolate_init_main(const struct cell_create_req *req, int sync_fd, int listen_fd,
				 struct seccomp_filter *seccomp);

/* rootfs.c */
struct rootfs_ctx {
	const struct cell_spec *spec;
	bool in_userns;
	int rootfd;                 /* O_PATH of the rootfs, before pivot */
	int *idmap_fds;             /* per mount: its idmapped tree from the parent, or -1 */
};
int rootfs_prepare(struct rootfs_ctx *rc, struct cell_err *err);
int rootfs_pivot(struct rootfs_ctx *rc, bool no_pivot, struct cell_err *err);
int rootfs_finish(struct rootfs_ctx *rc, struct cell_err *err);

/* mount.c */
int open_in_root(int rootfd, const char *path, int flags);
int mkdir_in_root(int rootfd, const char *path, mode_t mode);
int mount_one(struct rootfs_ctx *rc, size_t idx, struct cell_err *err);

/* idmap.c: write /proc/PID/{uid,gid}_map; and, parent side, the detached
 * idmapped tree of spec mount idx, which the init attaches (init: the
 * container's init, its ids already mapped). */
int idmap_write(pid_t pid, const char *file, const struct cell_idmap *m, size_t n, struct cell_err *err);
int mount_idmap_open(const struct cell_mount *m, size_t idx, pid_t init, int *fd, struct cell_err *err);
int remount_bind(const char *target, unsigned long flags, bool keep_existing, struct cell_err *err);

/* devices.c */
bool devices_needed(const struct cell_spec *s);
int devices_create(struct rootfs_ctx *rc, struct cell_err *err);

/* console.c: make a pty inside the container, send its master over the
 * console socket, return the slave for the process's stdio. */
int console_setup(int console_fd, const struct cell_process *p, bool bind_console, int *slave,
		  struct cell_err *err);

/* enter.c */
int container_exec(const struct cell_exec_req *req, pid_t *pid, struct cell_err *err);

/* exec.c */
int exec_resolve(const struct cell_process *p, char **path, struct cell_err *err);
int exec_prepare_identity(const struct cell_process *p, struct cell_err *err);

/* caps.c: the bounding set before the uid changes, the rest after */
int caps_before_user(const struct cell_process *p, struct cell_err *err);
int caps_after_user(const struct cell_process *p, struct cell_err *err);

/* seccomp.c: linux.seccomp compiled to a BPF program (NULL when absent;
 * cached in cache_dirfd when >= 0), loaded with the seccomp() syscall. With
 * SCMP_ACT_NOTIFY the load yields the listener fd in *notify_fd. */
struct seccomp_filter {
	struct sock_filter *insns;
	size_t n;
	unsigned int flags;          /* SECCOMP_FILTER_FLAG_* */
};
int seccomp_build(const json_t *seccomp, int cache_dirfd, struct seccomp_filter **filter,
		  struct cell_err *err);
int seccomp_apply(struct seccomp_filter *filter, int *notify_fd, struct cell_err *err);
bool seccomp_wants_listener(const struct seccomp_filter *filter);
void seccomp_free(struct seccomp_filter *filter);

/* procattr.c */
int procattr_check(const struct cell_process *p, struct cell_err *err);
int procattr_sysctl(const struct cell_spec *s, struct cell_err *err);
int procattr_apply(const struct cell_spec *s, const struct cell_process *p, struct cell_err *err);

/* procs.c */
int procs_list(pid_t init, uint64_t init_start, pid_t **out, size_t *n, struct cell_err *err);

#endif
