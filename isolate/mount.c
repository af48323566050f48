/* One entry of config.json's mounts: its target is resolved inside the
 * rootfs with openat2(RESOLVE_IN_ROOT), so a symlink in an untrusted
 * rootfs can never point a mount at the host. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/openat2.h>

int open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* mkdir -p inside the root; each component is looked up scoped to it. */
int mkdir_in_root(int rootfd, const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);
	char *p;

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	p = buf;
	while (*p == '/')
		p++;
	for (;;) {
		char *slash = strchr(p, '/'), saved = 0;
		int fd;

		if (slash) {
			saved = *slash;
			*slash = '\0';
		}
		if (*p) {
			fd = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
			if (fd < 0 && errno == ENOENT) {
				char *last = strrchr(buf, '/');
				_cleanup_close_ int parent = -1;

				if (last && last != buf) {
					*last = '\0';
					parent = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
					*last = '/';
				} else {
					parent = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
				}
				if (parent < 0)
					return -1;
				if (mkdirat(parent, last ? last + 1 : buf, mode) < 0 && errno != EEXIST)
					return -1;
				fd = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
			}
			if (fd < 0)
				return -1;
			close(fd);
		}
		if (!slash)
			return 0;
		*slash = saved;
		p = slash + 1;
	}
}

/* Create an empty file at path (a bind target for a file source). */
static int mkfile_in_root(int rootfd, const char *path)
{
	char buf[PATH_MAX];
	char *last;
	_cleanup_close_ int parent = -1;
	int fd;

	snprintf(buf, sizeof(buf), "%s", path);
	last = strrchr(buf, '/');
	if (last && last != buf) {
		*last = '\0';
		if (mkdir_in_root(rootfd, buf, 0755) < 0)
			return -1;
		parent = open_in_root(rootfd, buf, O_PATH | O_DIRECTORY);
	} else {
		parent = open_in_root(rootfd, "/", O_PATH | O_DIRECTORY);
	}
	if (parent < 0)
		return -1;
	fd = openat(parent, last ? last + 1 : buf, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EEXIST && errno != ELOOP && errno != EISDIR)
		return -1;
	if (fd >= 0)
		close(fd);
	return 0;
}

static unsigned long existing_flags(const char *target)
{
	static const struct { unsigned long st, ms; } map[] = {
		{ ST_RDONLY, MS_RDONLY }, { ST_NOSUID, MS_NOSUID }, { ST_NODEV, MS_NODEV },
		{ ST_NOEXEC, MS_NOEXEC }, { ST_NOATIME, MS_NOATIME },
		{ ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME },
	};
	struct statvfs sv;
	unsigned long f = 0;

	if (statvfs(target, &sv) < 0)
		return 0;
	for (size_t i = 0; i < CELL_ARRAY_SIZE(map); i++)
		if (sv.f_flag & map[i].st)
			f |= map[i].ms;
	return f;
}

/* Change the per-mount flags of a bind mount. With keep_existing the
 * flags it has now stay (readonly paths); in a user namespace the kernel
 * refuses to drop locked flags, so callers pass keep_existing there. */
int remount_bind(const char *target, unsigned long flags, bool keep_existing, struct cell_err *err)
{
	unsigned long f = flags & ~(MS_BIND | MS_REC | MS_REMOUNT);

	if (keep_existing)
		f |= existing_flags(target);
	if (mount(NULL, target, NULL, MS_BIND | MS_REMOUNT | f, NULL) < 0)
		return cell_err_set(err, errno, "remount %s", target);
	return 0;
}

static int fd_path(int fd, char *buf, size_t len)
{
	return snprintf(buf, len, "/proc/self/fd/%d", fd) >= (int)len ? -1 : 0;
}

/* cgroup v2 hosts get a cgroup2 mount; v1/hybrid hosts a tmpfs with each
 * hierarchy the host has mounted under it, as runc lays it out. */
static int mount_cgroup(struct rootfs_ctx *rc, const struct cell_mount *m, struct cell_err *err)
{
	unsigned long flags = m->flags & ~MS_RDONLY;
	_cleanup_fclose_ FILE *mi = NULL;
	_cleanup_close_ int dfd = -1;
	char target[64], *line = NULL;
	struct statfs sfs;
	size_t cap = 0;

	if (statfs("/sys/fs/cgroup", &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC) {
		dfd = open_in_root(rc->rootfd, m->destination, O_PATH | O_DIRECTORY);
		if (dfd < 0 || fd_path(dfd, target, sizeof(target)) < 0)
			return cell_err_set(err, errno, "open %s", m->destination);
		if (mount("cgroup2", target, "cgroup2", m->flags, NULL) < 0)
			return cell_err_set(err, errno, "mount cgroup2 on %s", m->destination);
		return 0;
	}
	dfd = open_in_root(rc->rootfd, m->destination, O_PATH | O_DIRECTORY);
	if (dfd < 0 || fd_path(dfd, target, sizeof(target)) < 0)
		return cell_err_set(err, errno, "open %s", m->destination);
	if (mount("tmpfs", target, "tmpfs", flags, "mode=755") < 0)
		return cell_err_set(err, errno, "mount tmpfs on %s", m->destination);
	close(dfd);
	dfd = open_in_root(rc->rootfd, m->destination, O_PATH | O_DIRECTORY);
	if (dfd < 0)
		return cell_err_set(err, errno, "open %s", m->destination);
	mi = fopen("/proc/self/mountinfo", "re");
	if (!mi)
		return cell_err_set(err, errno, "/proc/self/mountinfo");
	while (getline(&line, &cap, mi) > 0) {
		char mnt[PATH_MAX], fstype[64], super[1024], sub[PATH_MAX + 64], *name, *sep;
		_cleanup_close_ int sfd = -1;

		/* id parent maj:min root mountpoint opts [tags...] - fstype source superopts */
		sep = strstr(line, " - ");
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (strncmp(mnt, "/sys/fs/cgroup/", 15) || strchr(mnt + 15, '/'))
			continue;
		name = mnt + 15;
		if (strcmp(fstype, "cgroup") && strcmp(fstype, "cgroup2"))
			continue;
		if (mkdirat(dfd, name, 0755) < 0 && errno != EEXIST) {
			free(line);
			return cell_err_set(err, errno, "mkdir %s/%s", m->destination, name);
		}
		sfd = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sfd < 0 || fd_path(sfd, sub, sizeof(sub)) < 0) {
			free(line);
			return cell_err_set(err, errno, "open %s/%s", m->destination, name);
		}
		if (!strcmp(fstype, "cgroup2")) {
			if (mount("cgroup2", sub, "cgroup2", m->flags, NULL) < 0) {
				free(line);
				return cell_err_set(err, errno, "mount cgroup2 on %s/%s", m->destination, name);
			}
			continue;
		}
		/* keep only the controller names and name=... from the super options */
		char opts[1024] = "";
		for (char *tok = strtok(super, ","); tok; tok = strtok(NULL, ",")) {
			if (!strcmp(tok, "rw") || !strcmp(tok, "ro") || !strncmp(tok, "release_agent", 13) ||
			    !strcmp(tok, "clone_children") || !strcmp(tok, "noprefix") ||
			    !strcmp(tok, "xattr") || !strcmp(tok, "nsdelegate"))
				continue;
			if (*opts)
				strncat(opts, ",", sizeof(opts) - strlen(opts) - 1);
			strncat(opts, tok, sizeof(opts) - strlen(opts) - 1);
		}
		if (mount("cgroup", sub, "cgroup", m->flags, opts) < 0) {
			free(line);
			return cell_err_set(err, errno, "mount cgroup %s on %s/%s", opts, m->destination, name);
		}
	}
	free(line);
	if (m->flags & MS_RDONLY) {
		char again[64];
		if (fd_path(dfd, again, sizeof(again)) < 0 ||
		    mount(NULL, again, NULL, MS_REMOUNT | MS_RDONLY | flags, "mode=755") < 0)
			return cell_err_set(err, errno, "remount %s read-only", m->destination);
	}
	return 0;
}

static int apply_after(struct rootfs_ctx *rc, const struct cell_mount *m, struct cell_err *err)
{
	_cleanup_close_ int fd = -1;
	char target[64];

	if (!m->propagation && !m->rec_set && !m->rec_clear &&
	    !(m->bind && (m->flags & ~(MS_BIND | MS_REC))))
		return 0;
	/* reopen: the earlier fd names the directory under the new mount */
	fd = open_in_root(rc->rootfd, m->destination, O_PATH);
	if (fd < 0 || fd_path(fd, target, sizeof(target)) < 0)
		return cell_err_set(err, errno, "open %s", m->destination);
	if (m->bind && (m->flags & ~(MS_BIND | MS_REC)) &&
	    remount_bind(target, m->flags, rc->in_userns, err) < 0)
		return cell_err_wrap(err, "mount %s", m->destination);
	if (m->propagation && mount(NULL, target, NULL, m->propagation, NULL) < 0)
		return cell_err_set(err, errno, "set propagation of %s", m->destination);
	if (m->rec_set || m->rec_clear) {
		struct mount_attr attr = { .attr_set = m->rec_set, .attr_clr = m->rec_clear };
		if (m->rec_set & MOUNT_ATTR__ATIME)
			attr.attr_clr |= MOUNT_ATTR__ATIME;
		if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr,
			    sizeof(attr)) < 0)
			return cell_err_set(err, errno, "set recursive attributes of %s", m->destination);
	}
	return 0;
}

/* An idmapped bind mount: the parent made and idmapped the detached tree;
 * it is attached at the target resolved inside the root. */
static int attach_idmapped(struct rootfs_ctx *rc, const struct cell_mount *m, int tree, struct cell_err *err)
{
	_cleanup_close_ int fd = open_in_root(rc->rootfd, m->destination, O_PATH);

	if (fd < 0)
		return cell_err_set(err, errno, "mount %s: open target", m->destination);
	if (syscall(SYS_move_mount, tree, "", fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return cell_err_set(err, errno, "attach idmapped %s on %s", m->source, m->destination);
	return apply_after(rc, m, err);
}

int mount_one(struct rootfs_ctx *rc, size_t idx, struct cell_err *err)
{
	const struct cell_mount *m = &rc->spec->mounts[idx];
	int tree = rc->idmap_fds ? rc->idmap_fds[idx] : -1;
	_cleanup_close_ int fd = -1;
	char target[64];
	bool dir = true;
	int r;

	if (m->idmap && tree < 0)
		return cell_err_set(err, EBADF, "mount %s: no idmapped tree from the parent", m->destination);
	if (m->bind) {
		struct stat st;
		/* an idmapped tree is what the parent opened: its type decides */
		if ((tree >= 0 ? fstat(tree, &st) : stat(m->source, &st)) < 0)
			return cell_err_set(err, errno, "mount %s: source %s", m->destination, m->source);
		dir = S_ISDIR(st.st_mode);
	}
	if ((dir ? mkdir_in_root(rc->rootfd, m->destination, 0755)
		 : mkfile_in_root(rc->rootfd, m->destination)) < 0)
		return cell_err_set(err, errno, "mount %s: create target", m->destination);
	if (tree >= 0) {
		r = attach_idmapped(rc, m, tree, err);
		close(tree);
		rc->idmap_fds[idx] = -1;
		return r;
	}
	if (m->type && !strcmp(m->type, "cgroup") && !m->bind)
		return mount_cgroup(rc, m, err);

	fd = open_in_root(rc->rootfd, m->destination, O_PATH);
	if (fd < 0 || fd_path(fd, target, sizeof(target)) < 0)
		return cell_err_set(err, errno, "mount %s: open target", m->destination);
	if (m->bind) {
		if (mount(m->source, target, NULL, MS_BIND | (m->flags & MS_REC), NULL) < 0)
			return cell_err_set(err, errno, "bind mount %s on %s", m->source, m->destination);
	} else {
		const char *src = m->source ? m->source : m->type;
		if (mount(src, target, m->type, m->flags, m->data) < 0)
			return cell_err_set(err, errno, "mount %s (%s) on %s", src, m->type, m->destination);
	}
	return apply_after(rc, m, err);
}
