/* Freezing and thawing a cgroup: v2 cgroup.freeze, v1 freezer.state. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static int frozen_dir(const char *path, char *dir, size_t len, struct cell_err *err)
{
	if (cg_version(err) == CG_NONE)
		return -1;
	if (cg_dir("freezer", path, dir, len) < 0)
		return cell_err_set(err, ENOTSUP, "the freezer controller is not available on this host");
	return 0;
}

int cg_frozen(const char *path, bool *frozen, struct cell_err *err)
{
	char dir[PATH_MAX], buf[64];
	uint64_t v;

	if (frozen_dir(path, dir, sizeof(dir), err) < 0)
		return -1;
	if (cg_version(NULL) == CG_V2) {
		if (cg_read_kv(dir, "cgroup.events", "frozen", &v) < 0)
			return cell_err_set(err, errno, "read %s/cgroup.events", dir);
		*frozen = v == 1;
		return 0;
	}
	if (cg_read(dir, "freezer.state", buf, sizeof(buf), err) < 0)
		return -1;
	*frozen = !strncmp(buf, "FROZEN", 6);
	return 0;
}

int cg_freeze(const char *path, bool frozen, struct cell_err *err)
{
	char dir[PATH_MAX];
	bool v2 = cg_version(NULL) == CG_V2, now = !frozen;

	if (frozen_dir(path, dir, sizeof(dir), err) < 0)
		return -1;
	if (cg_write(dir, v2 ? "cgroup.freeze" : "freezer.state",
		     v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED"), err) < 0)
		return -1;
	/* the kernel reports frozen once every task has stopped */
	for (int i = 0; i < 1000; i++) {
		struct timespec ts = { 0, 5000000 };
		if (cg_frozen(path, &now, err) < 0)
			return -1;
		if (now == frozen)
			return 0;
		if (!v2 && frozen && i % 20 == 19)
			cg_write(dir, "freezer.state", "FROZEN", err);
		nanosleep(&ts, NULL);
	}
	if (!frozen)
		return cell_err_set(err, ETIMEDOUT, "cgroup %s did not thaw", path);
	/* leave the guest running, not half frozen */
	cg_write(dir, v2 ? "cgroup.freeze" : "freezer.state", v2 ? "0" : "THAWED", &(struct cell_err){ 0 });
	if (v2)
		return cell_err_set(err, ETIMEDOUT,
				    "cgroup %s did not freeze (before Linux 6.13, KVM's NX-recovery kernel "
				    "thread in a microVM's cgroup prevents it: load kvm with nx_huge_pages=never)",
				    path);
	return cell_err_set(err, ETIMEDOUT, "cgroup %s did not freeze", path);
}
