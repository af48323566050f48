/* Where the cgroup hierarchies are (v2, or v1 controllers found through
 * libcgroup on hybrid hosts) and reading/writing their files with errors
 * that name the file. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <libcgroup.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

const char *const cg_v1_ctrls[] = {
	"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
	"hugetlb", "net_cls", "net_prio", "rdma", NULL,
};

#define N_V1 (CELL_ARRAY_SIZE(cg_v1_ctrls) - 1)

static enum cg_version version = CG_NONE;
static bool probed;
static char v1_mnt[N_V1][PATH_MAX];     /* "" = not mounted */
static const char *mounts[N_V1 + 1];

static bool is_fs(const char *path, long magic)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && (long)sf.f_type == magic;
}

/* libcgroup knows the v1 mount points; on hybrid hosts it also maps a
 * controller that has no v1 mount to the unified one, so check the type. */
static void probe_v1(void)
{
	size_t nm = 0;

	if (cgroup_init() != 0)
		return;
	for (size_t i = 0; i < N_V1; i++) {
		char *mp = NULL;
		bool dup = false;

		if (cgroup_get_subsys_mount_point(cg_v1_ctrls[i], &mp) == 0 && mp &&
		    is_fs(mp, CGROUP_SUPER_MAGIC))
			snprintf(v1_mnt[i], sizeof(v1_mnt[i]), "%s", mp);
		free(mp);
		if (!v1_mnt[i][0])
			continue;
		for (size_t j = 0; j < nm; j++)
			dup |= !strcmp(mounts[j], v1_mnt[i]);
		if (!dup)
			mounts[nm++] = v1_mnt[i];
	}
	mounts[nm] = NULL;
	if (nm)
		version = CG_V1;
}

enum cg_version cg_version(struct cell_err *err)
{
	if (!probed) {
		probed = true;
		if (is_fs(CG_MNT, CGROUP2_SUPER_MAGIC)) {
			version = CG_V2;
			mounts[0] = CG_MNT;
		} else {
			probe_v1();
		}
	}
	if (version == CG_NONE && err)
		cell_err_set(err, ENOENT, "no cgroup hierarchy mounted at " CG_MNT);
	return version;
}

const char *const *cg_mounts(void)
{
	cg_version(NULL);
	return mounts;
}

static int ctrl_index(const char *ctrl)
{
	for (size_t i = 0; i < N_V1; i++)
		if (!strcmp(cg_v1_ctrls[i], ctrl))
			return i;
	return -1;
}

bool cg_has_ctrl(const char *ctrl)
{
	char buf[512], *tok, *save;
	int i;

	switch (cg_version(NULL)) {
	case CG_V1:
		i = ctrl_index(ctrl);
		return i >= 0 && v1_mnt[i][0];
	case CG_V2:
		if (cg_read(CG_MNT, "cgroup.controllers", buf, sizeof(buf), NULL) < 0)
			return false;
		for (tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
			if (!strcmp(tok, ctrl))
				return true;
		return false;
	default:
		return false;
	}
}

int cg_dir(const char *ctrl, const char *path, char *buf, size_t len)
{
	const char *base;
	int i, n;

	switch (cg_version(NULL)) {
	case CG_V2:
		base = CG_MNT;
		break;
	case CG_V1:
		i = ctrl ? ctrl_index(ctrl) : -1;
		if (i < 0 || !v1_mnt[i][0])
			return -1;
		base = v1_mnt[i];
		break;
	default:
		return -1;
	}
	n = snprintf(buf, len, "%s%s", base, path);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int cg_write(const char *dir, const char *file, const char *val, struct cell_err *err)
{
	_cleanup_close_ int fd = -1;
	size_t len = strlen(val);

	fd = openat(AT_FDCWD, dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (fd >= 0) {
		int f = openat(fd, file, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		close(fd);
		fd = f;
	}
	if (fd < 0)
		return cell_err_set(err, errno, "open %s/%s", dir, file);
	/* one write: the kernel parses it as a unit */
	if (write(fd, val, len) != (ssize_t)len)
		return cell_err_set(err, errno, "write \"%s\" to %s/%s", val, dir, file);
	return 0;
}

int cg_read(const char *dir, const char *file, char *buf, size_t len, struct cell_err *err)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	ssize_t n, got = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return err ? cell_err_set(err, errno, "open %s", path) : -1;
	while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	return 0;
}

bool cg_file_exists(const char *dir, const char *file)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return access(path, F_OK) == 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *v)
{
	char buf[64];

	if (cg_read(dir, file, buf, sizeof(buf), NULL) < 0)
		return -1;
	if (!strncmp(buf, "max", 3)) {
		*v = UINT64_MAX;
		return 0;
	}
	*v = strtoull(buf, NULL, 10);
	return 0;
}

int cg_read_kv(const char *dir, const char *file, const char *key, uint64_t *v)
{
	char buf[8192], *line, *save;
	size_t kl = strlen(key);

	if (cg_read(dir, file, buf, sizeof(buf), NULL) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, key, kl) && line[kl] == ' ') {
			*v = strtoull(line + kl + 1, NULL, 10);
			return 0;
		}
	}
	return -1;
}

int cg_self_path(char *buf, size_t len, struct cell_err *err)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[1024];
	enum cg_version v = cg_version(err);

	if (v == CG_NONE)
		return -1;
	if (!f)
		return cell_err_set(err, errno, "/proc/self/cgroup");
	while (fgets(line, sizeof(line), f)) {
		char *ctrls = strchr(line, ':'), *p = ctrls ? strchr(ctrls + 1, ':') : NULL;
		bool match = false;

		if (!p)
			continue;
		*p++ = 0;
		ctrls++;
		p[strcspn(p, "\n")] = 0;
		if (v == CG_V2) {
			match = !*ctrls;
		} else {
			char *save, *tok;
			for (tok = strtok_r(ctrls, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				match |= !strcmp(tok, "cpu");
		}
		if (match) {
			snprintf(buf, len, "%s", p);
			return 0;
		}
	}
	return cell_err_set(err, ENOENT, "/proc/self/cgroup: no %s entry", v == CG_V2 ? "cgroup2" : "cpu");
}

int cg_sets_add(struct cg_sets *s, const char *ctrl, const char *file, const char *field,
		const char *fmt, ...)
{
	va_list ap;
	struct cg_set *e;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		struct cg_set *v = realloc(s->v, cap * sizeof(*v));
		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	e = &s->v[s->n++];
	snprintf(e->ctrl, sizeof(e->ctrl), "%s", ctrl);
	snprintf(e->file, sizeof(e->file), "%s", file);
	snprintf(e->field, sizeof(e->field), "%s", field);
	va_start(ap, fmt);
	vsnprintf(e->value, sizeof(e->value), fmt, ap);
	va_end(ap);
	return 0;
}

void cg_sets_free(struct cg_sets *s)
{
	free(s->v);
	*s = (struct cg_sets){ 0 };
}

bool cg_json_int(const json_t *o, const char *key, int64_t *v)
{
	json_t *j = o ? json_object_get(o, key) : NULL;

	if (!json_is_integer(j))
		return false;
	*v = json_integer_value(j);
	return true;
}
