/* linux.resources → cgroup v1 files, as runc writes them. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ADD(ctrl, file, field, ...) \
	do { if (cg_sets_add(out, ctrl, file, field, __VA_ARGS__) < 0) goto nomem; } while (0)

/* The rules in order (defaults last, see devices_bpf.c), one
 * devices.allow or devices.deny line each. */
static int devices(const json_t *arr, const json_t *spec_devices, struct cg_sets *out, struct cell_err *err)
{
	_cleanup_free_ struct cg_dev_rule *rules = NULL;
	size_t n;
	char rule[96], field[64];

	if (!json_array_size(arr))
		return 0;
	if (cg_dev_rules(arr, spec_devices, &rules, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (i < json_array_size(arr))
			snprintf(field, sizeof(field), "devices[%zu]", i);
		else
			snprintf(field, sizeof(field), "devices");
		if (cg_dev_rule_format(&rules[i], rule, sizeof(rule)) < 0)
			goto nomem;
		ADD("devices", rules[i].allow ? "devices.allow" : "devices.deny", field, "%s", rule);
	}
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "devices");
}

static int blkio_devices(const json_t *b, const char *key, const char *file, const char *val_key,
			 struct cg_sets *out, struct cell_err *err)
{
	json_t *arr = json_object_get(b, key), *d;
	size_t i;
	char field[96];

	json_array_foreach(arr, i, d) {
		int64_t maj = 0, min = 0, v;
		snprintf(field, sizeof(field), "blockIO.%s[%zu]", key, i);
		cg_json_int(d, "major", &maj);
		cg_json_int(d, "minor", &min);
		if (!cg_json_int(d, val_key, &v))
			continue;
		ADD("blkio", file, field, "%lld:%lld %lld", (long long)maj, (long long)min, (long long)v);
	}
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "blockIO");
}

/* Integer fields written as they are, in this order. */
static const struct v1_int {
	const char *obj, *key, *ctrl, *file;
	bool quota;                  /* <= 0 means unlimited (-1) */
} v1_ints[] = {
	{ "memory", "limit", "memory", "memory.limit_in_bytes", false },
	{ "memory", "swap", "memory", "memory.memsw.limit_in_bytes", false },
	{ "memory", "reservation", "memory", "memory.soft_limit_in_bytes", false },
	{ "memory", "kernel", "memory", "memory.kmem.limit_in_bytes", false },
	{ "memory", "kernelTCP", "memory", "memory.kmem.tcp.limit_in_bytes", false },
	{ "memory", "swappiness", "memory", "memory.swappiness", false },
	{ "cpu", "shares", "cpu", "cpu.shares", false },
	{ "cpu", "period", "cpu", "cpu.cfs_period_us", false },
	{ "cpu", "quota", "cpu", "cpu.cfs_quota_us", true },
	{ "cpu", "burst", "cpu", "cpu.cfs_burst_us", false },
	{ "cpu", "realtimePeriod", "cpu", "cpu.rt_period_us", false },
	{ "cpu", "realtimeRuntime", "cpu", "cpu.rt_runtime_us", false },
	{ "cpu", "idle", "cpu", "cpu.idle", false },
	{ "blockIO", "weight", "blkio", "blkio.weight", false },
	{ "blockIO", "leafWeight", "blkio", "blkio.leaf_weight", false },
	{ "network", "classID", "net_cls", "net_cls.classid", false },
};

int cg_v1_settings(const json_t *res, const json_t *spec_devices, struct cg_sets *out, struct cell_err *err)
{
	const json_t *m = json_object_get(res, "memory"), *c = json_object_get(res, "cpu");
	const json_t *b = json_object_get(res, "blockIO"), *n = json_object_get(res, "network");
	json_t *h;
	size_t i;
	int64_t v;

	if (devices(json_object_get(res, "devices"), spec_devices, out, err) < 0)
		return -1;
	/* the table's order keeps memsw >= the limit on create */
	for (size_t k = 0; k < CELL_ARRAY_SIZE(v1_ints); k++) {
		const struct v1_int *t = &v1_ints[k];
		char field[64];
		if (!cg_json_int(json_object_get(res, t->obj), t->key, &v))
			continue;
		snprintf(field, sizeof(field), "%s.%s", t->obj, t->key);
		if (t->quota && v <= 0)
			v = -1;
		ADD(t->ctrl, t->file, field, "%lld", (long long)v);
	}
	if (json_is_true(json_object_get(m, "disableOOMKiller")))
		ADD("memory", "memory.oom_control", "memory.disableOOMKiller", "1");
	if (json_is_boolean(json_object_get(m, "useHierarchy")))
		ADD("memory", "memory.use_hierarchy", "memory.useHierarchy", "%d",
		    json_is_true(json_object_get(m, "useHierarchy")));
	if (cg_cpuset_settings(c, out) < 0)
		goto nomem;

	if (cg_json_int(json_object_get(res, "pids"), "limit", &v)) {
		if (v > 0)
			ADD("pids", "pids.max", "pids.limit", "%lld", (long long)v);
		else
			ADD("pids", "pids.max", "pids.limit", "max");
	}

	if (blkio_devices(b, "weightDevice", "blkio.weight_device", "weight", out, err) < 0 ||
	    blkio_devices(b, "weightDevice", "blkio.leaf_weight_device", "leafWeight", out, err) < 0 ||
	    blkio_devices(b, "throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rate", out, err) < 0 ||
	    blkio_devices(b, "throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "rate", out, err) < 0 ||
	    blkio_devices(b, "throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "rate", out, err) < 0 ||
	    blkio_devices(b, "throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "rate", out, err) < 0)
		return -1;

	if (cg_hugetlb_settings(json_object_get(res, "hugepageLimits"), "limit_in_bytes", out) < 0)
		goto nomem;

	json_array_foreach(json_object_get(n, "priorities"), i, h) {
		char field[48];
		snprintf(field, sizeof(field), "network.priorities[%zu]", i);
		cg_json_int(h, "priority", &v);
		ADD("net_prio", "net_prio.ifpriomap", field, "%s %lld",
		    json_string_value(json_object_get(h, "name")) ?: "", (long long)v);
	}
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "linux.resources");
}
