/* The shared scheduling layer: where a guest's cgroup is and how its
 * linux.resources map onto it. It takes a pid and the spec's resources and
 * nothing kind-specific, so a container's init and a microVM's VMM (whose
 * vCPU threads follow it) sit under the same knobs: cpu.weight/shares,
 * cpu.max/quota, memory.max/limit, pids.max, io, cpuset.
 *
 * Order of use: cell_policy_cgroup_path → cell_policy_prepare_spec (the cgroup
 * exists with its limits before the guest does) → cell_policy_place(pid)
 * as soon as the first process exists, before it runs guest code →
 * cell_policy_release on delete and on every failed create. An empty path
 * means the guest has no cgroup (--cgroup-manager disabled). */
#ifndef CELL_POLICY_H
#define CELL_POLICY_H

#include <stdbool.h>
#include <sys/types.h>
#include <jansson.h>

#include "err.h"

/* linux.cgroupsPath → the cgroup of guest `id` (out, len >= 512):
 *  - absolute: used as is, from the root of the hierarchy;
 *  - relative: below cell's own cgroup (as runc does on v2);
 *  - absent: /cell/<id>, or /cell/<id>@<8 hex digits> when the state root
 *    is not the default one, so that two roots can use the same id;
 *  - manager "disabled": "" (no cgroup). */
int cell_policy_cgroup_path(const char *manager, const char *spec_path, const char *root, const char *id,
			    char *out, size_t len, struct cell_err *err);

struct cell_spec;

/* Create the cgroup and apply the spec's linux.resources (its device rules
 * with the default devices, less those whose node linux.devices creates).
 * On failure nothing is left behind. `where` names the resources in
 * messages. */
int cell_policy_prepare_spec(const char *cgpath, const struct cell_spec *spec, const char *where,
			     struct cell_err *err);
/* Put pid (and so everything it starts) into the guest's cgroup. */
int cell_policy_place(const char *cgpath, pid_t pid, struct cell_err *err);
/* Change the limits of a live guest (cell_update also merges them into the
 * guest's saved config). */
int cell_policy_update(const char *cgpath, const json_t *resources, const char *where,
		       struct cell_err *err);
/* Kill what is left in the cgroup and remove it. */
int cell_policy_release(const char *cgpath, struct cell_err *err);

/* The guest's processes and signals, with the cgroup as the authority. */
int cell_policy_pids(const char *cgpath, pid_t **pids, size_t *n, struct cell_err *err);
int cell_policy_signal(const char *cgpath, int sig, struct cell_err *err);
int cell_policy_freeze(const char *cgpath, bool frozen, struct cell_err *err);

#endif
