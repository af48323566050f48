/* Applying linux.resources to a cgroup: the settings of the host's layout
 * (v1.c, v2.c) plus the raw `unified` keys, each written with an error
 * that names the spec field it came from. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cg_cpuset_settings(const json_t *cpu, struct cg_sets *out)
{
	static const char *const keys[][2] = { { "cpus", "cpuset.cpus" }, { "mems", "cpuset.mems" } };

	for (size_t i = 0; i < 2; i++) {
		const char *s = json_string_value(json_object_get(cpu, keys[i][0]));
		char field[16];
		snprintf(field, sizeof(field), "cpu.%s", keys[i][0]);
		if (s && *s && cg_sets_add(out, "cpuset", keys[i][1], field, "%s", s) < 0)
			return -1;
	}
	return 0;
}

int cg_hugetlb_settings(const json_t *limits, const char *suffix, struct cg_sets *out)
{
	json_t *h;
	size_t i;
	int64_t v;

	json_array_foreach(limits, i, h) {
		const char *size = json_string_value(json_object_get(h, "pageSize"));
		char file[64], field[48];
		snprintf(file, sizeof(file), "hugetlb.%s.%s", size ? size : "", suffix);
		snprintf(field, sizeof(field), "hugepageLimits[%zu]", i);
		if (cg_json_int(h, "limit", &v) && cg_sets_add(out, "hugetlb", file, field, "%lld", (long long)v) < 0)
			return -1;
	}
	return 0;
}

static int unified_set(const char *path, const char *key, const char *val, struct cg_sets *out,
		       const char *where, struct cell_err *err)
{
	char dir[PATH_MAX], ctrl[16];
	const char *dot = strchr(key, '.');
	size_t cl = dot ? (size_t)(dot - key) : 0;

	if (!dot || cl == 0 || cl >= sizeof(ctrl) || strchr(key, '/') || !strcmp(key, ".."))
		return cell_err_set(err, EINVAL, "%s.unified.%s: unknown cgroup file", where, key);
	snprintf(ctrl, sizeof(ctrl), "%.*s", (int)cl, key);
	/* on v1 the controller prefix picks the hierarchy: cpu.shares → cpu */
	if (cg_dir(ctrl, path, dir, sizeof(dir)) < 0 || !cg_file_exists(dir, key))
		return cell_err_set(err, ENOENT, "%s.unified.%s: unknown cgroup file", where, key);
	if (!strncmp(key, "cgroup.", 7) && strcmp(key, "cgroup.max.depth") && strcmp(key, "cgroup.max.descendants"))
		return cell_err_set(err, EPERM, "%s.unified.%s: not a resource setting", where, key);
	if (cg_sets_add(out, ctrl, key, "", "%s", val) < 0)
		return cell_err_set(err, ENOMEM, "unified");
	snprintf(out->v[out->n - 1].field, sizeof(out->v[0].field), "unified.%s", key);
	return 0;
}

/* One pass over the settings; *left keeps those that failed. A value that
 * depends on another (memsw on the memory limit, a cpuset on its parent's)
 * succeeds on the second pass. */
static int write_pass(const char *path, struct cg_sets *s, bool *failed, bool last, const char *where,
		      struct cell_err *err)
{
	int nfail = 0;

	for (size_t i = 0; i < s->n; i++) {
		struct cg_set *e = &s->v[i];
		char dir[PATH_MAX];
		if (!failed[i])
			continue;
		cg_dir(e->ctrl, path, dir, sizeof(dir));
		if (cg_write(dir, e->file, e->value, err) == 0) {
			failed[i] = false;
			continue;
		}
		nfail++;
		if (last)
			return cell_err_wrap(err, "%s.%s", where, e->field);
	}
	return nfail;
}

int cg_apply(const char *path, const json_t *res, const json_t *spec_devices, const char *where,
	     struct cell_err *err)
{
	struct cg_sets s = { 0 };
	struct cg_dev_rule *rules = NULL;
	size_t nrules = 0;
	const json_t *devs = json_object_get(res, "devices");
	char leaf[PATH_MAX];
	enum cg_version v = cg_version(err);
	const char *key;
	json_t *val;
	bool *failed = NULL;
	int ret = -1, r;

	if (v == CG_NONE)
		return -1;
	if (!res || !json_object_size(res))
		return 0;
	if (json_object_get(res, "rdma"))
		return cell_err_set(err, ENOTSUP, "%s.rdma: not supported by cell", where);
	snprintf(leaf, sizeof(leaf), CG_MNT "%s", path);
	r = v == CG_V2 ? cg_v2_settings(res, leaf, &s, err) : cg_v1_settings(res, spec_devices, &s, err);
	if (r == 0 && v == CG_V2 && json_array_size(devs))
		r = cg_dev_rules(devs, spec_devices, &rules, &nrules, err);
	if (r < 0) {
		cell_err_wrap(err, "%s", where);
		goto out;
	}
	json_object_foreach((json_t *)json_object_get(res, "unified"), key, val)
		if (unified_set(path, key, json_string_value(val), &s, where, err) < 0)
			goto out;
	for (size_t i = 0; i < s.n; i++) {
		char dir[PATH_MAX];
		if (cg_dir(s.v[i].ctrl, path, dir, sizeof(dir)) < 0 || !cg_file_exists(dir, s.v[i].file)) {
			cell_err_set(err, ENOTSUP, "%s.%s: the %s controller is not available here (no %s)", where,
				     s.v[i].field, s.v[i].ctrl, s.v[i].file);
			goto out;
		}
	}
	failed = calloc(s.n + 1, sizeof(bool));
	if (!failed) {
		cell_err_set(err, ENOMEM, "%s", where);
		goto out;
	}
	for (size_t i = 0; i < s.n; i++)
		failed[i] = true;
	if (write_pass(path, &s, failed, false, where, err) > 0 &&
	    write_pass(path, &s, failed, true, where, err) != 0)
		goto out;
	if (rules && cg_dev_attach(leaf, rules, nrules, err) < 0) {
		cell_err_wrap(err, "%s.devices", where);
		goto out;
	}
	ret = 0;
out:
	free(rules);
	free(failed);
	cg_sets_free(&s);
	return ret;
}
