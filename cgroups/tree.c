/* A guest's cgroup as a directory in each hierarchy: create it (and the
 * ancestors it needs), attach processes, list and signal them, remove it. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/log.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int path_check(const char *path, struct cell_err *err)
{
	if (path[0] != '/' || !path[1] || strlen(path) >= CG_PATH_MAX)
		return cell_err_set(err, EINVAL, "cgroup path \"%s\" is not an absolute path below the root", path);
	for (const char *p = path; *p; p++)
		if (p[0] == '/' && p[1] == '.' && (p[2] == '/' || !p[2] || (p[2] == '.' && (p[3] == '/' || !p[3]))))
			return cell_err_set(err, EINVAL, "cgroup path \"%s\" has . or .. components", path);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A cgroup this call made: v2 hands every controller down to the leaf,
 * v1 cpuset needs cpus and mems before it can hold anything. */
static void seed_new(const char *mnt, const char *dir, const char *parent, bool leaf)
{
	char buf[1024], *tok, *save, cs[PATH_MAX];

	if (cg_version(NULL) == CG_V2) {
		/* a v2 cgroup with controllers enabled below it holds no process */
		if (leaf)
			return;
		if (cg_read(dir, "cgroup.controllers", buf, sizeof(buf), NULL) < 0)
			return;
		for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
			char plus[64];
			struct cell_err e = { 0 };
			snprintf(plus, sizeof(plus), "+%s", tok);
			if (cg_write(dir, "cgroup.subtree_control", plus, &e) < 0)
				cell_debug("cgroup: %s", e.msg);
		}
		return;
	}
	if (cg_dir("cpuset", "", cs, sizeof(cs)) == 0 && !strcmp(cs, mnt)) {
		for (int i = 0; i < 2; i++) {
			const char *f = i ? "cpuset.mems" : "cpuset.cpus";
			if (cg_read(parent, f, buf, sizeof(buf), NULL) == 0)
				cg_write(dir, f, buf[0] == '\n' ? "" : buf, &(struct cell_err){ 0 });
		}
	}
}

static int create_in(const char *mnt, const char *path, struct cell_err *err)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	size_t ml = strlen(mnt);

	snprintf(dir, sizeof(dir), "%s%s", mnt, path);
	for (char *p = dir + ml + 1;; p++) {
		bool leaf = !*p;
		if (*p && *p != '/')
			continue;
		*p = 0;
		snprintf(parent, sizeof(parent), "%.*s", (int)(strrchr(dir, '/') - dir), dir);
		if (mkdir(dir, 0755) < 0) {
			if (errno != EEXIST || leaf)
				return cell_err_set(err, errno, "cgroup %s", dir);
		} else {
			seed_new(mnt, dir, parent, leaf);
		}
		if (leaf)
			return 0;
		*p = '/';
	}
}

bool cg_exists(const char *path)
{
	for (const char *const *m = cg_mounts(); *m; m++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s%s", *m, path);
		if (access(dir, F_OK) == 0)
			return true;
	}
	return false;
}

int cg_create(const char *path, struct cell_err *err)
{
	if (cg_version(err) == CG_NONE || path_check(path, err) < 0)
		return -1;
	if (cg_exists(path))
		return cell_err_set(err, EEXIST, "cgroup %s exists: cell only uses cgroups it creates", path);
	for (const char *const *m = cg_mounts(); *m; m++) {
		if (create_in(*m, path, err) < 0) {
			cg_destroy(path, &(struct cell_err){ 0 });
			return -1;
		}
	}
	return 0;
}

int cg_attach(const char *path, pid_t pid, struct cell_err *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (const char *const *m = cg_mounts(); *m; m++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s%s", *m, path);
		if (cg_write(dir, "cgroup.procs", buf, err) < 0)
			return -1;
	}
	return 0;
}

/* The directory whose cgroup.procs lists the guest. */
static int procs_dir(const char *path, char *dir, size_t len)
{
	if (cg_version(NULL) == CG_V2 || cg_dir("pids", path, dir, len) < 0) {
		const char *m = cg_mounts()[0];
		if (!m)
			return -1;
		snprintf(dir, len, "%s%s", m, path);
	}
	return 0;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int cg_pids(const char *path, pid_t **out, size_t *n, struct cell_err *err)
{
	char dir[PATH_MAX], file[PATH_MAX + 16];
	_cleanup_fclose_ FILE *f = NULL;
	pid_t *v = NULL;
	size_t cnt = 0, cap = 0;
	int pid;

	*out = NULL;
	*n = 0;
	if (procs_dir(path, dir, sizeof(dir)) < 0)
		return cell_err_set(err, ENOENT, "cgroup %s", path);
	snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
	if (!(f = fopen(file, "re")))
		return cell_err_set(err, errno, "open %s", file);
	while (fscanf(f, "%d", &pid) == 1) {
		if (cnt + 1 >= cap) {
			pid_t *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(pid_t));
			if (!nv) {
				free(v);
				return cell_err_set(err, ENOMEM, "ps");
			}
			v = nv;
		}
		v[cnt++] = pid;
	}
	if (!v && !(v = calloc(1, sizeof(pid_t))))
		return cell_err_set(err, ENOMEM, "ps");
	v[cnt] = 0;
	qsort(v, cnt, sizeof(pid_t), cmp_pid);
	*out = v;
	*n = cnt;
	return 0;
}

int cg_signal(const char *path, int sig, struct cell_err *err)
{
	_cleanup_free_ pid_t *pids = NULL;
	char dir[PATH_MAX];
	size_t n;

	if (sig == SIGKILL && cg_version(NULL) == CG_V2) {
		snprintf(dir, sizeof(dir), CG_MNT "%s", path);
		if (cg_file_exists(dir, "cgroup.kill"))
			return cg_write(dir, "cgroup.kill", "1", err);
	}
	if (cg_pids(path, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return cell_err_set(err, errno, "kill %d", (int)pids[i]);
	return 0;
}

int cg_destroy(const char *path, struct cell_err *err)
{
	int ret = 0;

	if (cg_version(err) == CG_NONE || path_check(path, err) < 0)
		return -1;
	if (!cg_exists(path))
		return 0;
	/* what is left dies; a frozen v1 task only dies once thawed */
	for (int i = 0; i < 500; i++) {
		_cleanup_free_ pid_t *pids = NULL;
		size_t n = 0;
		struct cell_err e = { 0 };

		if (cg_pids(path, &pids, &n, &e) < 0 || n == 0)
			break;
		cg_signal(path, SIGKILL, &e);
		if (i == 0)
			cg_freeze(path, false, &e);
		sleep_ms(i < 20 ? 2 : 10);
	}
	for (const char *const *m = cg_mounts(); *m; m++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s%s", *m, path);
		for (int i = 0; rmdir(dir) < 0; i++) {
			if (errno == ENOENT)
				break;
			if (errno != EBUSY || i == 200) {
				if (!ret)
					cell_err_set(err, errno, "remove cgroup %s", dir);
				ret = -1;
				break;
			}
			sleep_ms(10);
		}
	}
	return ret;
}
