/* cgroups/: one guest's cgroup — create, limit, attach, list, signal,
 * freeze, stats, remove — on cgroup v2, or on the v1 hierarchies of a
 * hybrid host. It knows nothing of guest kinds: it takes a cgroup path,
 * pids and the runtime-spec's linux.resources object.
 *
 * A path is absolute within the hierarchy ("/cell/c1"); on v1 the same
 * path is used in every mounted controller hierarchy. cell only writes
 * settings of cgroups it created itself: cg_create refuses an existing
 * leaf, and controllers are enabled (v2 subtree_control) or seeded (v1
 * cpuset) only in the ancestors that the same call created. */
#ifndef CELL_CGROUPS_H
#define CELL_CGROUPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "../runtime/err.h"

#define CG_PATH_MAX 512

enum cg_version { CG_NONE = 0, CG_V1 = 1, CG_V2 = 2 };

/* Which cgroup layout this host has (cached after the first call). */
enum cg_version cg_version(struct cell_err *err);

/* The calling process's own cgroup path (v2 entry, or v1's cpu entry),
 * the base of relative linux.cgroupsPath values. */
int cg_self_path(char *buf, size_t len, struct cell_err *err);

/* Make the cgroup (EEXIST: "cgroup /x exists") in every hierarchy. */
int cg_create(const char *path, struct cell_err *err);
bool cg_exists(const char *path);

/* Apply linux.resources (already type-checked). `where` names the object
 * in messages, e.g. "config.json: linux.resources". Raw `unified` keys
 * must name a file the cgroup has. A non-empty `devices` list is enforced
 * (v1 devices.allow/deny, v2 an eBPF device program added to the cgroup's)
 * together with the default devices, less those whose node spec_devices
 * (linux.devices, may be NULL) creates. */
int cg_apply(const char *path, const json_t *res, const json_t *spec_devices, const char *where,
	     struct cell_err *err);

/* Move a process (and its future children) into the cgroup. */
int cg_attach(const char *path, pid_t pid, struct cell_err *err);

/* Every process in the cgroup, sorted; *out is 0-terminated. */
int cg_pids(const char *path, pid_t **out, size_t *n, struct cell_err *err);

/* Send sig to every process in it (v2 SIGKILL: cgroup.kill). */
int cg_signal(const char *path, int sig, struct cell_err *err);

/* Kill whatever is left and remove the cgroup; a missing one is fine. */
int cg_destroy(const char *path, struct cell_err *err);

/* Freeze or thaw every process (v2 cgroup.freeze, v1 freezer.state);
 * returns once the kernel reports the new state. */
int cg_freeze(const char *path, bool frozen, struct cell_err *err);
int cg_frozen(const char *path, bool *frozen, struct cell_err *err);

/* runc's stats data object: cpu, memory, pids, blkio (and hugetlb). */
int cg_stats(const char *path, json_t **out, struct cell_err *err);

/* OOM kills so far, and an fd that becomes readable when an OOM event
 * may have happened (v2 inotify on memory.events, v1 eventfd). */
int cg_oom_count(const char *path, uint64_t *n, struct cell_err *err);
int cg_oom_fd(const char *path, struct cell_err *err);
/* Consume the readiness of a cg_oom_fd. */
void cg_oom_fd_drain(int fd);

#endif
