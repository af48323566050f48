/* The container's root: propagation, the mounts list, /dev, pivot_root
 * (or chroot with --no-pivot), masked and read-only paths. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The mount point that holds path (longest prefix in mountinfo). */
static int mount_point_of(const char *path, char *out, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, mnt[PATH_MAX];
	size_t cap = 0, best = 0;

	if (!f)
		return -1;
	snprintf(out, len, "/");
	while (getline(&line, &cap, f) > 0) {
		size_t l;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		l = strlen(mnt);
		if (strncmp(path, mnt, l) || (path[l] != '/' && path[l] != '\0' && strcmp(mnt, "/")))
			continue;
		if (l > best) {
			best = l;
			snprintf(out, len, "%s", mnt);
		}
	}
	free(line);
	return 0;
}

int rootfs_prepare(struct rootfs_ctx *rc, struct cell_err *err)
{
	const struct cell_spec *s = rc->spec;
	unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : MS_SLAVE | MS_REC;
	char parent[PATH_MAX];

	/* nothing we mount from here on may propagate back to the host */
	if (mount(NULL, "/", NULL, prop, NULL) < 0)
		return cell_err_set(err, errno, "set propagation of /");
	/* pivot_root refuses a new root whose parent mount is shared */
	if (mount_point_of(s->root_path, parent, sizeof(parent)) == 0 &&
	    mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
		return cell_err_set(err, errno, "make %s private", parent);
	if (mount(s->root_path, s->root_path, NULL, MS_BIND | MS_REC, NULL) < 0)
		return cell_err_set(err, errno, "bind mount rootfs %s", s->root_path);
	rc->rootfd = open(s->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rc->rootfd < 0)
		return cell_err_set(err, errno, "open rootfs %s", s->root_path);
	for (size_t i = 0; i < s->n_mounts; i++)
		if (mount_one(rc, i, err) < 0)
			return cell_err_wrap(err, "mounts[%zu]", i);
	if (devices_needed(s) && devices_create(rc, err) < 0)
		return -1;
	return 0;
}

int rootfs_pivot(struct rootfs_ctx *rc, bool no_pivot, struct cell_err *err)
{
	const char *root = rc->spec->root_path;

	if (fchdir(rc->rootfd) < 0 && chdir(root) < 0)
		return cell_err_set(err, errno, "chdir %s", root);
	if (no_pivot) {
		if (mount(root, "/", NULL, MS_MOVE, NULL) < 0)
			return cell_err_set(err, errno, "move %s to /", root);
		if (chroot(".") < 0)
			return cell_err_set(err, errno, "chroot %s", root);
	} else {
		/* pivot onto itself, then detach the old root stacked beneath */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return cell_err_set(err, errno, "pivot_root %s", root);
		if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
			return cell_err_set(err, errno, "make old root a slave");
		if (umount2(".", MNT_DETACH) < 0)
			return cell_err_set(err, errno, "detach old root");
	}
	if (chdir("/") < 0)
		return cell_err_set(err, errno, "chdir /");
	close(rc->rootfd);
	rc->rootfd = -1;
	return 0;
}

static int mask_path(const char *p, struct cell_err *err)
{
	struct stat st;

	if (lstat(p, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return cell_err_set(err, errno, "linux.maskedPaths: %s", p);
	}
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", p, "tmpfs", MS_RDONLY, "size=0k") < 0)
			return cell_err_set(err, errno, "linux.maskedPaths: mask %s", p);
	} else if (mount("/dev/null", p, NULL, MS_BIND, NULL) < 0) {
		return cell_err_set(err, errno, "linux.maskedPaths: mask %s", p);
	}
	return 0;
}

static int readonly_path(const char *p, struct cell_err *err)
{
	if (mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT)
			return 0;
		return cell_err_set(err, errno, "linux.readonlyPaths: bind %s", p);
	}
	if (remount_bind(p, MS_RDONLY, true, err) < 0)
		return cell_err_wrap(err, "linux.readonlyPaths");
	return 0;
}

int rootfs_finish(struct rootfs_ctx *rc, struct cell_err *err)
{
	const struct cell_spec *s = rc->spec;

	/* the root mount itself gets the asked propagation (it was made
	 * private above so pivot_root would accept it) */
	if (s->rootfs_propagation && mount(NULL, "/", NULL, s->rootfs_propagation, NULL) < 0)
		return cell_err_set(err, errno, "linux.rootfsPropagation");
	/* /proc/sys turns read-only below */
	if (procattr_sysctl(s, err) < 0)
		return -1;
	for (char **p = s->masked_paths; p && *p; p++)
		if (mask_path(*p, err) < 0)
			return -1;
	for (char **p = s->readonly_paths; p && *p; p++)
		if (readonly_path(*p, err) < 0)
			return -1;
	if (s->root_readonly && remount_bind("/", MS_RDONLY, true, err) < 0)
		return cell_err_wrap(err, "root.readonly");
	return 0;
}
