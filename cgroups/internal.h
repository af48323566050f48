/* cgroups/ internals: the hierarchies, file access, the settings list. */
#ifndef CELL_CGROUPS_INTERNAL_H
#define CELL_CGROUPS_INTERNAL_H

#include "cgroups.h"

#include <limits.h>
#include <stddef.h>

#define CG_MNT "/sys/fs/cgroup"

/* v1 controllers cell uses, each in its own (or a shared) hierarchy. */
extern const char *const cg_v1_ctrls[];

/* The directory of path for controller ctrl (v2: ctrl is ignored).
 * -1 if that controller is not mounted. */
int cg_dir(const char *ctrl, const char *path, char *buf, size_t len);
/* The distinct v1 hierarchy mount points, NULL-ended (v2: CG_MNT). */
const char *const *cg_mounts(void);
bool cg_has_ctrl(const char *ctrl);

int cg_write(const char *dir, const char *file, const char *val, struct cell_err *err);
int cg_read(const char *dir, const char *file, char *buf, size_t len, struct cell_err *err);
bool cg_file_exists(const char *dir, const char *file);
/* "key value" lines: the value of key, or -1. */
int cg_read_kv(const char *dir, const char *file, const char *key, uint64_t *v);
int cg_read_u64(const char *dir, const char *file, uint64_t *v);

/* One setting: controller, file, value, and the spec field it comes from. */
struct cg_set {
	char ctrl[16];
	char file[96];
	char value[256];
	char field[128];
};

struct cg_sets {
	struct cg_set *v;
	size_t n, cap;
};

int cg_sets_add(struct cg_sets *s, const char *ctrl, const char *file, const char *field,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void cg_sets_free(struct cg_sets *s);

/* linux.resources → settings, per layout. */
int cg_v1_settings(const json_t *res, struct cg_sets *out, struct cell_err *err);
int cg_v2_settings(const json_t *res, const char *dir, struct cg_sets *out, struct cell_err *err);
int cg_device_rule(const json_t *d, char *buf, size_t len);

/* cpu.cpus and cpu.mems: the same cpuset files on v1 and v2. */
int cg_cpuset_settings(const json_t *cpu, struct cg_sets *out);

/* hugepageLimits → hugetlb.<size>.<suffix> (limit_in_bytes on v1, max on v2). */
int cg_hugetlb_settings(const json_t *limits, const char *suffix, struct cg_sets *out);

/* Read a JSON number field if present. */
bool cg_json_int(const json_t *o, const char *key, int64_t *v);

#endif
