/* Usage counters in runc's `events` JSON shape (cpu, memory, pids, blkio)
 * and the OOM-kill counter with a pollable fd for it. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>

static json_t *u64(uint64_t v)
{
	return json_integer((json_int_t)(v == UINT64_MAX ? 0 : v));
}

/* "key value" lines as an object of integers. */
static json_t *kv_object(const char *dir, const char *file)
{
	char buf[16384], *line, *save;
	json_t *o = json_object();

	if (cg_read(dir, file, buf, sizeof(buf), NULL) < 0)
		return o;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = 0;
		json_object_set_new(o, line, json_integer(strtoll(sp + 1, NULL, 10)));
	}
	return o;
}

static json_t *num_array(const char *dir, const char *file)
{
	char buf[8192], *tok, *save;
	json_t *a = json_array();

	if (cg_read(dir, file, buf, sizeof(buf), NULL) < 0)
		return a;
	for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		json_array_append_new(a, json_integer(strtoll(tok, NULL, 10)));
	return a;
}

static json_t *entry(uint64_t limit, uint64_t usage, uint64_t max, uint64_t failcnt)
{
	return json_pack("{s:o,s:o,s:o,s:o}", "limit", u64(limit), "usage", u64(usage), "max", u64(max),
			 "failcnt", u64(failcnt));
}

static json_t *blkio_entry(unsigned maj, unsigned min, const char *op, uint64_t v)
{
	return json_pack("{s:i,s:i,s:s,s:o}", "major", maj, "minor", min, "op", op, "value", u64(v));
}

static void stats_v1(const char *path, json_t *o)
{
	char dir[PATH_MAX], buf[16384], *line, *save;
	uint64_t a = 0, b = 0, c = 0, d = 0;
	json_t *cpu = json_object(), *mem = json_object(), *blk = json_object(), *arr;

	if (cg_dir("cpuacct", path, dir, sizeof(dir)) == 0) {
		cg_read_u64(dir, "cpuacct.usage", &a);
		cg_read_u64(dir, "cpuacct.usage_user", &b);
		cg_read_u64(dir, "cpuacct.usage_sys", &c);
		json_object_set_new(cpu, "usage", json_pack("{s:o,s:o,s:o,s:o}", "total", u64(a), "percpu",
							     num_array(dir, "cpuacct.usage_percpu"), "user", u64(b),
							     "kernel", u64(c)));
	}
	if (cg_dir("cpu", path, dir, sizeof(dir)) == 0) {
		a = b = c = 0;
		cg_read_kv(dir, "cpu.stat", "nr_periods", &a);
		cg_read_kv(dir, "cpu.stat", "nr_throttled", &b);
		cg_read_kv(dir, "cpu.stat", "throttled_time", &c);
		json_object_set_new(cpu, "throttling", json_pack("{s:o,s:o,s:o}", "periods", u64(a),
								 "throttledPeriods", u64(b), "throttledTime", u64(c)));
	}
	if (cg_dir("memory", path, dir, sizeof(dir)) == 0) {
		static const char *const kinds[][2] = { { "usage", "memory" }, { "swap", "memory.memsw" },
							{ "kernel", "memory.kmem" }, { "kernelTCP", "memory.kmem.tcp" } };
		for (size_t i = 0; i < CELL_ARRAY_SIZE(kinds); i++) {
			char f[64];
			a = b = c = d = 0;
			snprintf(f, sizeof(f), "%s.limit_in_bytes", kinds[i][1]);
			if (cg_read_u64(dir, f, &a) < 0)
				continue;
			snprintf(f, sizeof(f), "%s.usage_in_bytes", kinds[i][1]);
			cg_read_u64(dir, f, &b);
			snprintf(f, sizeof(f), "%s.max_usage_in_bytes", kinds[i][1]);
			cg_read_u64(dir, f, &c);
			snprintf(f, sizeof(f), "%s.failcnt", kinds[i][1]);
			cg_read_u64(dir, f, &d);
			json_object_set_new(mem, kinds[i][0], entry(a, b, c, d));
		}
		json_object_set_new(mem, "raw", kv_object(dir, "memory.stat"));
		a = 0;
		cg_read_kv(dir, "memory.stat", "cache", &a);
		json_object_set_new(mem, "cache", u64(a));
	}
	if (cg_dir("blkio", path, dir, sizeof(dir)) == 0) {
		static const char *const files[][2] = {
			{ "ioServiceBytesRecursive", "blkio.throttle.io_service_bytes_recursive" },
			{ "ioServicedRecursive", "blkio.throttle.io_serviced_recursive" } };
		for (size_t i = 0; i < CELL_ARRAY_SIZE(files); i++) {
			arr = json_array();
			if (cg_read(dir, files[i][1], buf, sizeof(buf), NULL) == 0) {
				for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
					unsigned maj, min;
					char op[16];
					unsigned long long v;
					if (sscanf(line, "%u:%u %15s %llu", &maj, &min, op, &v) == 4)
						json_array_append_new(arr, blkio_entry(maj, min, op, v));
				}
			}
			json_object_set_new(blk, files[i][0], arr);
		}
	}
	json_object_set_new(o, "cpu", cpu);
	json_object_set_new(o, "memory", mem);
	json_object_set_new(o, "blkio", blk);
}

static void stats_v2(const char *dir, json_t *o)
{
	char buf[16384], *line, *save;
	uint64_t a = 0, b = 0, c = 0, d = 0;
	json_t *mem = json_object(), *bytes = json_array(), *ios = json_array();

	cg_read_kv(dir, "cpu.stat", "usage_usec", &a);
	cg_read_kv(dir, "cpu.stat", "user_usec", &b);
	cg_read_kv(dir, "cpu.stat", "system_usec", &c);
	json_object_set_new(o, "cpu", json_pack("{s:{s:o,s:o,s:o},s:{s:o,s:o,s:o}}",
		"usage", "total", u64(a * 1000), "user", u64(b * 1000), "kernel", u64(c * 1000),
		"throttling", "periods", u64((cg_read_kv(dir, "cpu.stat", "nr_periods", &a), a)),
		"throttledPeriods", u64((cg_read_kv(dir, "cpu.stat", "nr_throttled", &b), b)),
		"throttledTime", u64((cg_read_kv(dir, "cpu.stat", "throttled_usec", &c), c * 1000))));
	a = b = c = d = 0;
	cg_read_u64(dir, "memory.max", &a);
	cg_read_u64(dir, "memory.current", &b);
	cg_read_u64(dir, "memory.peak", &c);
	cg_read_kv(dir, "memory.events", "max", &d);
	json_object_set_new(mem, "usage", entry(a, b, c, d));
	a = b = c = d = 0;
	if (cg_read_u64(dir, "memory.swap.max", &a) == 0) {
		cg_read_u64(dir, "memory.swap.current", &b);
		cg_read_u64(dir, "memory.swap.peak", &c);
		cg_read_kv(dir, "memory.swap.events", "max", &d);
		json_object_set_new(mem, "swap", entry(a, b, c, d));
	}
	json_object_set_new(mem, "raw", kv_object(dir, "memory.stat"));
	a = 0;
	cg_read_kv(dir, "memory.stat", "file", &a);
	json_object_set_new(mem, "cache", u64(a));
	json_object_set_new(o, "memory", mem);
	/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" */
	if (cg_read(dir, "io.stat", buf, sizeof(buf), NULL) == 0) {
		for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			unsigned maj, min;
			unsigned long long rb = 0, wb = 0, ri = 0, wi = 0;
			if (sscanf(line, "%u:%u rbytes=%llu wbytes=%llu rios=%llu wios=%llu", &maj, &min, &rb, &wb,
				   &ri, &wi) < 2)
				continue;
			json_array_append_new(bytes, blkio_entry(maj, min, "Read", rb));
			json_array_append_new(bytes, blkio_entry(maj, min, "Write", wb));
			json_array_append_new(ios, blkio_entry(maj, min, "Read", ri));
			json_array_append_new(ios, blkio_entry(maj, min, "Write", wi));
		}
	}
	json_object_set_new(o, "blkio", json_pack("{s:o,s:o}", "ioServiceBytesRecursive", bytes,
						  "ioServicedRecursive", ios));
}

int cg_stats(const char *path, json_t **out, struct cell_err *err)
{
	char dir[PATH_MAX];
	uint64_t cur = 0, max = 0;
	json_t *o;

	if (cg_version(err) == CG_NONE)
		return -1;
	if (!cg_exists(path))
		return cell_err_set(err, ENOENT, "cgroup %s", path);
	o = json_object();
	if (cg_version(NULL) == CG_V2) {
		snprintf(dir, sizeof(dir), CG_MNT "%s", path);
		stats_v2(dir, o);
	} else {
		stats_v1(path, o);
	}
	if (cg_dir("pids", path, dir, sizeof(dir)) == 0) {
		cg_read_u64(dir, "pids.current", &cur);
		cg_read_u64(dir, "pids.max", &max);
		json_object_set_new(o, "pids", json_pack("{s:o,s:o}", "current", u64(cur), "limit", u64(max)));
	}
	*out = o;
	return 0;
}

static int oom_file(const char *path, char *dir, size_t len, const char **file, struct cell_err *err)
{
	if (cg_version(err) == CG_NONE)
		return -1;
	if (cg_dir("memory", path, dir, len) < 0)
		return cell_err_set(err, ENOTSUP, "the memory controller is not available on this host");
	*file = cg_version(NULL) == CG_V2 ? "memory.events" : "memory.oom_control";
	return 0;
}

int cg_oom_count(const char *path, uint64_t *n, struct cell_err *err)
{
	char dir[PATH_MAX];
	const char *file;

	*n = 0;
	if (oom_file(path, dir, sizeof(dir), &file, err) < 0)
		return -1;
	if (cg_read_kv(dir, file, "oom_kill", n) < 0)
		return cell_err_set(err, errno ? errno : ENOENT, "read %s/%s", dir, file);
	return 0;
}

int cg_oom_fd(const char *path, struct cell_err *err)
{
	char dir[PATH_MAX], file[PATH_MAX + 32], buf[64];
	const char *name;
	_cleanup_close_ int fd = -1, cfd = -1;

	if (oom_file(path, dir, sizeof(dir), &name, err) < 0)
		return -1;
	snprintf(file, sizeof(file), "%s/%s", dir, name);
	if (cg_version(NULL) == CG_V2) {
		fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (fd < 0 || inotify_add_watch(fd, file, IN_MODIFY) < 0)
			return cell_err_set(err, errno, "watch %s", file);
		return CELL_STEAL_FD(fd);
	}
	/* v1: an eventfd registered for the memcg's OOM notifications */
	fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	cfd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || cfd < 0)
		return cell_err_set(err, errno, "open %s", file);
	snprintf(buf, sizeof(buf), "%d %d", fd, cfd);
	if (cg_write(dir, "cgroup.event_control", buf, err) < 0)
		return -1;
	return CELL_STEAL_FD(fd);
}

void cg_oom_fd_drain(int fd)
{
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}
