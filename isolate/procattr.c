/* Kernel settings of the container and its process: linux.sysctl,
 * linux.personality, process.ioPriority, process.scheduler, and the LSM
 * labels (apparmorProfile, selinuxLabel) where the host has that LSM. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/ioprio.h>
#include <linux/sched/types.h>

static bool apparmor_enabled(void)
{
	char buf[4] = "";
	FILE *f = fopen("/sys/module/apparmor/parameters/enabled", "re");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	return buf[0] == 'Y' && access("/sys/kernel/security/apparmor", F_OK) == 0;
}

static bool selinux_enabled(void)
{
	return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

/* Before anything is set up: a label this host cannot apply is an error. */
int procattr_check(const struct cell_process *p, struct cell_err *err)
{
	if (p->apparmor_profile && *p->apparmor_profile && !apparmor_enabled())
		return cell_err_set(err, 0, "process.apparmorProfile: AppArmor is not enabled on this host");
	if (p->selinux_label && *p->selinux_label && !selinux_enabled())
		return cell_err_set(err, 0, "process.selinuxLabel: SELinux is not enabled on this host");
	return 0;
}

/* While /proc/sys is still writable (before readonlyPaths). */
int procattr_sysctl(const struct cell_spec *s, struct cell_err *err)
{
	const char *key;
	json_t *v;

	json_object_foreach(s->sysctl, key, v) {
		char path[512];
		size_t n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
		if (n >= sizeof(path))
			return cell_err_set(err, ENAMETOOLONG, "linux.sysctl.%s", key);
		for (char *c = path + 10; *c; c++)
			if (*c == '.')
				*c = '/';
		if (cell_write_string(path, json_string_value(v), err) < 0)
			return cell_err_wrap(err, "linux.sysctl.%s", key);
	}
	return 0;
}

/* Just before the user switch: these need the init's privileges. */
int procattr_apply(const struct cell_spec *s, const struct cell_process *p, struct cell_err *err)
{
	if (s && s->has_personality && personality(s->personality) < 0)
		return cell_err_set(err, errno, "linux.personality");
	if (p->has_io_priority && syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, p->io_priority) < 0)
		return cell_err_set(err, errno, "process.ioPriority");
	if (p->has_scheduler) {
		struct sched_attr a = {
			.size = sizeof(a), .sched_policy = p->scheduler.policy, .sched_flags = p->scheduler.flags,
			.sched_nice = p->scheduler.nice, .sched_priority = p->scheduler.priority,
			.sched_runtime = p->scheduler.runtime, .sched_deadline = p->scheduler.deadline,
			.sched_period = p->scheduler.period,
		};
		if (syscall(SYS_sched_setattr, 0, &a, 0) < 0)
			return cell_err_set(err, errno, "process.scheduler");
	}
	if (p->apparmor_profile && *p->apparmor_profile) {
		char buf[1024];
		snprintf(buf, sizeof(buf), "exec %s", p->apparmor_profile);
		if (cell_write_string("/proc/self/attr/apparmor/exec", buf, err) < 0 &&
		    cell_write_string("/proc/self/attr/exec", buf, err) < 0)
			return cell_err_wrap(err, "process.apparmorProfile");
	}
	if (p->selinux_label && *p->selinux_label &&
	    cell_write_string("/proc/self/attr/exec", p->selinux_label, err) < 0)
		return cell_err_wrap(err, "process.selinuxLabel");
	return 0;
}
