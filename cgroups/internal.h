/* cgroups/ internals: the hierarchies, file access, the settings list. */
#ifndef CELL_CGROUPS_INTERNAL_H
#define CELL_CGROUPS_INTERNAL_H

#include "cgroups.h"

#include <limits.h>
#include <stddef.h>
#include <linux/bpf.h>

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

/* linux.resources → settings, per layout. spec_devices is linux.devices
 * (may be NULL), which drops the defaults for the nodes it creates. */
int cg_v1_settings(const json_t *res, const json_t *spec_devices, struct cg_sets *out, struct cell_err *err);
int cg_v2_settings(const json_t *res, const char *dir, struct cg_sets *out, struct cell_err *err);

/* devices_bpf.c: one linux.resources.devices rule. */
struct cg_dev_rule {
	char type;                   /* 'a', 'b' or 'c' */
	int64_t major, minor;        /* -1: any */
	unsigned access;             /* BPF_DEVCG_ACC_* bits */
	bool allow;
};

int cg_dev_rule_parse(const json_t *d, struct cg_dev_rule *r, struct cell_err *err);
/* "c 1:3 rwm", "a *:* r": a v1 devices.allow/deny line. */
int cg_dev_rule_format(const struct cg_dev_rule *r, char *buf, size_t len);
/* The spec's rules in order, then the default devices (only "m" for those
 * whose path spec_devices creates), then "m" for every node spec_devices
 * creates. *out is malloc'ed. */
int cg_dev_rules(const json_t *rules, const json_t *spec_devices, struct cg_dev_rule **out, size_t *n,
		 struct cell_err *err);
/* What the rules allow: every bit of access (BPF_DEVCG_ACC_*) is decided by
 * the last rule naming the device (type BPF_DEVCG_DEV_*) with that bit;
 * none denies. */
bool cg_dev_allowed(const struct cg_dev_rule *rules, size_t n, int type, uint32_t major, uint32_t minor,
		    unsigned access);
/* The BPF_PROG_TYPE_CGROUP_DEVICE program deciding as cg_dev_allowed. */
int cg_dev_program(const struct cg_dev_rule *rules, size_t n, struct bpf_insn **out, size_t *count);
/* Load it and attach it to the cgroup directory (BPF_F_ALLOW_MULTI).
 * Without the privilege, rootless: nothing, as runc does. */
int cg_dev_attach(const char *dir, const struct cg_dev_rule *rules, size_t n, struct cell_err *err);

/* cpu.cpus and cpu.mems: the same cpuset files on v1 and v2. */
int cg_cpuset_settings(const json_t *cpu, struct cg_sets *out);

/* hugepageLimits → hugetlb.<size>.<suffix> (limit_in_bytes on v1, max on v2). */
int cg_hugetlb_settings(const json_t *limits, const char *suffix, struct cg_sets *out);

/* Read a JSON number field if present. */
bool cg_json_int(const json_t *o, const char *key, int64_t *v);

#endif
