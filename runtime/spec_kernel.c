/* The parts of config.json that are kernel knobs rather than structure:
 * linux.devices, linux.sysctl (allowed only where the container has its
 * own namespace), linux.personality, process.ioPriority and scheduler. */
#define _GNU_SOURCE
#include "spec.h"
#include "cleanup.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <linux/ioprio.h>
#include <linux/sched.h>

static const struct {
	const char *name;
	uint32_t policy;
} sched_policies[] = {
	{ "SCHED_OTHER", SCHED_NORMAL }, { "SCHED_FIFO", SCHED_FIFO }, { "SCHED_RR", SCHED_RR },
	{ "SCHED_BATCH", SCHED_BATCH }, { "SCHED_ISO", 4 }, { "SCHED_IDLE", SCHED_IDLE },
	{ "SCHED_DEADLINE", SCHED_DEADLINE },
};

static const struct {
	const char *name;
	uint64_t flag;
} sched_flags[] = {
	{ "SCHED_FLAG_RESET_ON_FORK", SCHED_FLAG_RESET_ON_FORK },
	{ "SCHED_FLAG_RECLAIM", SCHED_FLAG_RECLAIM },
	{ "SCHED_FLAG_DL_OVERRUN", SCHED_FLAG_DL_OVERRUN },
	{ "SCHED_FLAG_KEEP_POLICY", SCHED_FLAG_KEEP_POLICY },
	{ "SCHED_FLAG_KEEP_PARAMS", SCHED_FLAG_KEEP_PARAMS },
	{ "SCHED_FLAG_UTIL_CLAMP_MIN", SCHED_FLAG_UTIL_CLAMP_MIN },
	{ "SCHED_FLAG_UTIL_CLAMP_MAX", SCHED_FLAG_UTIL_CLAMP_MAX },
};

static const struct {
	const char *name;
	int class;
} io_classes[] = {
	{ "IOPRIO_CLASS_RT", IOPRIO_CLASS_RT }, { "IOPRIO_CLASS_BE", IOPRIO_CLASS_BE },
	{ "IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE },
};

/* sysctl prefixes and the namespace that makes them the container's own */
static const struct {
	const char *prefix;
	bool exact;
	enum cell_ns_type ns;
} sysctl_ns[] = {
	{ "kernel.msgmax", true, CELL_NS_IPC }, { "kernel.msgmnb", true, CELL_NS_IPC },
	{ "kernel.msgmni", true, CELL_NS_IPC }, { "kernel.sem", true, CELL_NS_IPC },
	{ "kernel.shmall", true, CELL_NS_IPC }, { "kernel.shmmax", true, CELL_NS_IPC },
	{ "kernel.shmmni", true, CELL_NS_IPC }, { "kernel.shm_rmid_forced", true, CELL_NS_IPC },
	{ "fs.mqueue.", false, CELL_NS_IPC }, { "net.", false, CELL_NS_NET },
	{ "kernel.hostname", true, CELL_NS_UTS }, { "kernel.domainname", true, CELL_NS_UTS },
};

int cell_spec_parse_sched(struct cell_process *p, const json_t *proc, struct cell_err *err)
{
	const json_t *io = json_object_get(proc, "ioPriority"), *sc = json_object_get(proc, "scheduler"), *f;
	size_t i, k;

	if (json_is_object(io)) {
		const char *cls = json_string_value(json_object_get(io, "class"));
		json_int_t level = json_integer_value(json_object_get(io, "priority"));
		for (k = 0; k < sizeof(io_classes) / sizeof(io_classes[0]); k++)
			if (!strcmp(io_classes[k].name, cls))
				break;
		if (k == sizeof(io_classes) / sizeof(io_classes[0]))
			return cell_err_set(err, 0, "process.ioPriority.class: unknown class \"%s\"", cls);
		if (level < 0 || level > 7)
			return cell_err_set(err, 0, "process.ioPriority.priority: %lld is outside 0..7", (long long)level);
		p->has_io_priority = true;
		p->io_priority = IOPRIO_PRIO_VALUE(io_classes[k].class, level);
	}
	if (!json_is_object(sc))
		return 0;
	const char *pol = json_string_value(json_object_get(sc, "policy"));
	for (k = 0; k < sizeof(sched_policies) / sizeof(sched_policies[0]); k++)
		if (!strcmp(sched_policies[k].name, pol))
			break;
	if (k == sizeof(sched_policies) / sizeof(sched_policies[0]))
		return cell_err_set(err, 0, "process.scheduler.policy: unknown policy \"%s\"", pol);
	p->has_scheduler = true;
	p->scheduler.policy = sched_policies[k].policy;
	p->scheduler.nice = json_integer_value(json_object_get(sc, "nice"));
	p->scheduler.priority = json_integer_value(json_object_get(sc, "priority"));
	p->scheduler.runtime = json_integer_value(json_object_get(sc, "runtime"));
	p->scheduler.deadline = json_integer_value(json_object_get(sc, "deadline"));
	p->scheduler.period = json_integer_value(json_object_get(sc, "period"));
	if (p->scheduler.nice < -20 || p->scheduler.nice > 19)
		return cell_err_set(err, 0, "process.scheduler.nice: %d is outside -20..19", p->scheduler.nice);
	json_array_foreach(json_object_get(sc, "flags"), i, f) {
		for (k = 0; k < sizeof(sched_flags) / sizeof(sched_flags[0]); k++)
			if (!strcmp(sched_flags[k].name, json_string_value(f)))
				break;
		if (k == sizeof(sched_flags) / sizeof(sched_flags[0]))
			return cell_err_set(err, 0, "process.scheduler.flags[%zu]: unknown flag \"%s\"", i,
					    json_string_value(f));
		p->scheduler.flags |= sched_flags[k].flag;
	}
	return 0;
}

static int parse_devices(struct cell_spec *s, const json_t *arr, struct cell_err *err)
{
	const json_t *d;
	size_t i, n = json_array_size(arr);

	if (!n)
		return 0;
	s->devices = calloc(n, sizeof(*s->devices));
	if (!s->devices)
		return cell_err_set(err, ENOMEM, "linux.devices");
	s->n_devices = n;
	json_array_foreach(arr, i, d) {
		struct cell_device *dev = &s->devices[i];
		const char *type = json_string_value(json_object_get(d, "type"));
		const char *path = json_string_value(json_object_get(d, "path"));
		const json_t *mode = json_object_get(d, "fileMode");

		if (strlen(type) != 1 || !strchr("cbup", type[0]))
			return cell_err_set(err, 0, "linux.devices[%zu].type: \"%s\" is not c, b, u or p", i, type);
		if (path[0] != '/' || strstr(path, "/../") || !strncmp(path, "/..", 3))
			return cell_err_set(err, 0, "linux.devices[%zu].path: \"%s\" is not an absolute path", i, path);
		dev->type = type[0];
		dev->path = strdup(path);
		if (!dev->path)
			return cell_err_set(err, ENOMEM, "linux.devices");
		dev->major = json_integer_value(json_object_get(d, "major"));
		dev->minor = json_integer_value(json_object_get(d, "minor"));
		if (dev->type != 'p' && (!json_object_get(d, "major") || !json_object_get(d, "minor")))
			return cell_err_set(err, 0, "linux.devices[%zu]: major and minor are required for type %c", i,
					    dev->type);
		if (dev->major < 0 || dev->major > 0xfff || dev->minor < 0 || dev->minor > 0xfffff)
			return cell_err_set(err, 0, "linux.devices[%zu]: major:minor %lld:%lld out of range", i,
					    (long long)dev->major, (long long)dev->minor);
		dev->mode = json_is_integer(mode) ? (mode_t)json_integer_value(mode) : 0666;
		if (dev->mode & ~07777)
			return cell_err_set(err, 0, "linux.devices[%zu].fileMode: %o has file type bits", i, dev->mode);
		dev->uid = json_integer_value(json_object_get(d, "uid"));
		dev->gid = json_integer_value(json_object_get(d, "gid"));
	}
	return 0;
}

int cell_spec_parse_kernel(struct cell_spec *s, const json_t *l, struct cell_err *err)
{
	const json_t *per = json_object_get(l, "personality"), *f;
	size_t i;

	if (parse_devices(s, json_object_get(l, "devices"), err) < 0)
		return -1;
	if (json_is_object(per)) {
		const char *dom = json_string_value(json_object_get(per, "domain"));
		if (!strcmp(dom, "LINUX"))
			s->personality = PER_LINUX;
		else if (!strcmp(dom, "LINUX32"))
			s->personality = PER_LINUX32;
		else
			return cell_err_set(err, 0, "linux.personality.domain: unknown domain \"%s\"", dom);
		/* the spec defines no flag names yet */
		json_array_foreach(json_object_get(per, "flags"), i, f)
			return cell_err_set(err, 0, "linux.personality.flags[%zu]: unknown flag \"%s\"", i,
					    json_string_value(f));
		s->has_personality = true;
	}
	return 0;
}

/* A sysctl may be set only when the container has its own namespace for it. */
int cell_spec_check_sysctl(const struct cell_spec *s, struct cell_err *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(s->sysctl, key, v) {
		size_t k, n = sizeof(sysctl_ns) / sizeof(sysctl_ns[0]);
		for (k = 0; k < n; k++)
			if (sysctl_ns[k].exact ? !strcmp(key, sysctl_ns[k].prefix)
					       : !strncmp(key, sysctl_ns[k].prefix, strlen(sysctl_ns[k].prefix)))
				break;
		if (k == n)
			return cell_err_set(err, 0, "linux.sysctl.%s: not in a namespace a container can own", key);
		if (!s->has_ns[sysctl_ns[k].ns] || s->ns[sysctl_ns[k].ns].path)
			return cell_err_set(err, 0, "linux.sysctl.%s: needs a new %s namespace in linux.namespaces",
					    key, cell_ns_name(sysctl_ns[k].ns));
		if (strstr(key, "..") || strchr(key, '/'))
			return cell_err_set(err, 0, "linux.sysctl.%s: not a sysctl name", key);
	}
	return 0;
}

void cell_spec_free_kernel(struct cell_spec *s)
{
	for (size_t i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
}
