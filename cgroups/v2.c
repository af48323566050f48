/* linux.resources → cgroup v2 files, with runc's conversions of the
 * v1-shaped spec values (shares → weight, memory+swap → swap, ...). */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define ADD(ctrl, file, field, ...) \
	do { if (cg_sets_add(out, ctrl, file, field, __VA_ARGS__) < 0) goto nomem; } while (0)

/* runc's conversions (libcontainer/cgroups/utils.go) */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static uint64_t blkio_to_io_weight(uint64_t w)
{
	if (w == 0)
		return 0;
	if (w < 10)
		w = 10;
	return 1 + (w - 10) * 9999 / 990;
}

static int memory(const json_t *m, struct cg_sets *out, struct cell_err *err)
{
	int64_t limit = 0, swap, v;
	bool has_limit = cg_json_int(m, "limit", &limit);

	if (has_limit)
		ADD("memory", "memory.max", "memory.limit", limit < 0 ? "max" : "%lld", (long long)limit);
	if (cg_json_int(m, "swap", &swap)) {
		/* the spec's swap is memory+swap, v2's swap.max is swap alone */
		if (swap == -1)
			ADD("memory", "memory.swap.max", "memory.swap", "max");
		else if (!has_limit || limit < 0)
			return cell_err_set(err, EINVAL, "memory.swap: needs memory.limit on cgroup v2");
		else if (swap < limit)
			return cell_err_set(err, EINVAL, "memory.swap: %lld is less than memory.limit %lld",
					    (long long)swap, (long long)limit);
		else
			ADD("memory", "memory.swap.max", "memory.swap", "%lld", (long long)(swap - limit));
	}
	if (cg_json_int(m, "reservation", &v))
		ADD("memory", "memory.low", "memory.reservation", v < 0 ? "max" : "%lld", (long long)v);
	if (json_object_get(m, "kernel") || json_object_get(m, "kernelTCP") ||
	    json_object_get(m, "swappiness") || json_object_get(m, "disableOOMKiller"))
		cell_debug("linux.resources.memory: kernel, kernelTCP, swappiness and disableOOMKiller "
			   "have no cgroup v2 file; ignored as runc does");
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "memory");
}

static int cpu(const json_t *c, struct cg_sets *out, struct cell_err *err)
{
	int64_t v, quota = 0, period = 0;
	bool hq = cg_json_int(c, "quota", &quota), hp = cg_json_int(c, "period", &period);

	if (json_object_get(c, "realtimeRuntime") || json_object_get(c, "realtimePeriod"))
		return cell_err_set(err, ENOTSUP, "cpu.realtimeRuntime: realtime scheduling has no cgroup v2 setting");
	if (cg_json_int(c, "shares", &v) && v > 0)
		ADD("cpu", "cpu.weight", "cpu.shares", "%llu", (unsigned long long)shares_to_weight(v));
	if ((hq && quota != 0) || (hp && period != 0)) {
		if (period <= 0)
			period = 100000;
		if (quota > 0)
			ADD("cpu", "cpu.max", "cpu.quota", "%lld %lld", (long long)quota, (long long)period);
		else
			ADD("cpu", "cpu.max", "cpu.quota", "max %lld", (long long)period);
	}
	if (cg_json_int(c, "burst", &v))
		ADD("cpu", "cpu.max.burst", "cpu.burst", "%lld", (long long)v);
	if (cg_json_int(c, "idle", &v))
		ADD("cpu", "cpu.idle", "cpu.idle", "%lld", (long long)v);
	if (cg_cpuset_settings(c, out) < 0)
		goto nomem;
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "cpu");
}

static const struct { const char *key, *io_key; } throttles[] = {
	{ "throttleReadBpsDevice", "rbps" }, { "throttleWriteBpsDevice", "wbps" },
	{ "throttleReadIOPSDevice", "riops" }, { "throttleWriteIOPSDevice", "wiops" },
};

static int blkio(const json_t *b, const char *dir, struct cg_sets *out, struct cell_err *err)
{
	bool bfq = cg_file_exists(dir, "io.bfq.weight");
	const char *wfile = bfq ? "io.bfq.weight" : "io.weight";
	json_t *d;
	size_t i;
	int64_t v, maj, min;
	char field[96];

	if (cg_json_int(b, "weight", &v) && v > 0)
		ADD("io", wfile, "blockIO.weight", "default %llu",
		    (unsigned long long)(bfq ? (uint64_t)v : blkio_to_io_weight(v)));
	json_array_foreach(json_object_get(b, "weightDevice"), i, d) {
		snprintf(field, sizeof(field), "blockIO.weightDevice[%zu]", i);
		if (!cg_json_int(d, "weight", &v) || !cg_json_int(d, "major", &maj) || !cg_json_int(d, "minor", &min))
			continue;
		ADD("io", wfile, field, "%lld:%lld %llu", (long long)maj, (long long)min,
		    (unsigned long long)(bfq ? (uint64_t)v : blkio_to_io_weight(v)));
	}
	for (size_t t = 0; t < CELL_ARRAY_SIZE(throttles); t++) {
		json_array_foreach(json_object_get(b, throttles[t].key), i, d) {
			snprintf(field, sizeof(field), "blockIO.%s[%zu]", throttles[t].key, i);
			if (!cg_json_int(d, "rate", &v) || !cg_json_int(d, "major", &maj) ||
			    !cg_json_int(d, "minor", &min))
				continue;
			ADD("io", "io.max", field, "%lld:%lld %s=%lld", (long long)maj, (long long)min,
			    throttles[t].io_key, (long long)v);
		}
	}
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "blockIO");
}

int cg_v2_settings(const json_t *res, const char *dir, struct cg_sets *out, struct cell_err *err)
{
	int64_t v;

	if (memory(json_object_get(res, "memory"), out, err) < 0 || cpu(json_object_get(res, "cpu"), out, err) < 0 ||
	    blkio(json_object_get(res, "blockIO"), dir, out, err) < 0)
		return -1;
	if (cg_json_int(json_object_get(res, "pids"), "limit", &v)) {
		if (v > 0)
			ADD("pids", "pids.max", "pids.limit", "%lld", (long long)v);
		else
			ADD("pids", "pids.max", "pids.limit", "max");
	}
	if (cg_hugetlb_settings(json_object_get(res, "hugepageLimits"), "max", out) < 0)
		goto nomem;
	if (json_object_get(res, "network"))
		return cell_err_set(err, ENOTSUP, "network: net_cls and net_prio do not exist on cgroup v2");
	/* devices: a BPF program, not a file (cg_apply, devices_bpf.c) */
	return 0;
nomem:
	return cell_err_set(err, ENOMEM, "linux.resources");
}
