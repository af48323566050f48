/* The default /dev every container gets: the device nodes and symlinks
 * the runtime-spec lists (runtime-linux.md), made with mknod, or bound
 * from the host's nodes inside a user namespace where mknod is denied. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const struct {
	const char *name;
	unsigned major, minor;
} default_devices[] = {
	{ "null", 1, 3 }, { "zero", 1, 5 }, { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

static const struct {
	const char *target, *name;
} default_links[] = {
	{ "/proc/self/fd", "fd" }, { "/proc/self/fd/0", "stdin" },
	{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
};

/* A bind mount of the host's /dev replaces all of this. */
bool devices_needed(const struct cell_spec *s)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (!strcmp(s->mounts[i].destination, "/dev") && s->mounts[i].bind)
			return false;
	return true;
}

static bool has_mount(const struct cell_spec *s, const char *dest)
{
	for (size_t i = 0; i < s->n_mounts; i++)
		if (!strcmp(s->mounts[i].destination, dest))
			return true;
	return false;
}

static int bind_host_device(int devfd, const char *name, struct cell_err *err)
{
	char host[64], target[64];
	_cleanup_close_ int fd = -1;

	fd = openat(devfd, name, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 && errno != EEXIST)
		return cell_err_set(err, errno, "create /dev/%s", name);
	if (fd >= 0)
		close(fd);
	fd = openat(devfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return cell_err_set(err, errno, "open /dev/%s", name);
	snprintf(host, sizeof(host), "/dev/%s", name);
	snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
	if (mount(host, target, NULL, MS_BIND, NULL) < 0)
		return cell_err_set(err, errno, "bind %s", host);
	return 0;
}

/* linux.devices: made with mknod, or bound from the host's node of the
 * same path inside a user namespace, then given their mode and owner. */
static int devices_listed(struct rootfs_ctx *rc, struct cell_err *err)
{
	static const mode_t kinds[] = { ['c'] = S_IFCHR, ['u'] = S_IFCHR, ['b'] = S_IFBLK, ['p'] = S_IFIFO };
	const struct cell_spec *s = rc->spec;

	for (size_t i = 0; i < s->n_devices; i++) {
		const struct cell_device *d = &s->devices[i];
		const char *slash = strrchr(d->path, '/');
		char dir[4096], target[64];
		_cleanup_close_ int dfd = -1, fd = -1;

		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - d->path), d->path);
		if (mkdir_in_root(rc->rootfd, *dir ? dir : "/", 0755) < 0 ||
		    (dfd = open_in_root(rc->rootfd, *dir ? dir : "/", O_PATH | O_DIRECTORY)) < 0)
			return cell_err_set(err, errno, "linux.devices[%zu]: %s", i, d->path);
		if (unlinkat(dfd, slash + 1, 0) < 0 && errno != ENOENT)
			return cell_err_set(err, errno, "linux.devices[%zu]: remove %s", i, d->path);
		if (rc->in_userns) {
			fd = openat(dfd, slash + 1, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd >= 0)
				close(fd);
			fd = openat(dfd, slash + 1, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			snprintf(target, sizeof(target), "/proc/self/fd/%d", fd);
			if (fd < 0 || mount(d->path, target, NULL, MS_BIND, NULL) < 0)
				return cell_err_set(err, errno, "linux.devices[%zu]: bind %s", i, d->path);
			continue;
		}
		if (mknodat(dfd, slash + 1, kinds[(unsigned char)d->type] | d->mode, makedev(d->major, d->minor)) < 0)
			return cell_err_set(err, errno, "linux.devices[%zu]: mknod %s", i, d->path);
		if (fchmodat(dfd, slash + 1, d->mode, 0) < 0 ||
		    fchownat(dfd, slash + 1, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
			return cell_err_set(err, errno, "linux.devices[%zu]: mode and owner of %s", i, d->path);
	}
	return 0;
}

int devices_create(struct rootfs_ctx *rc, struct cell_err *err)
{
	_cleanup_close_ int devfd = -1;

	if (mkdir_in_root(rc->rootfd, "/dev", 0755) < 0)
		return cell_err_set(err, errno, "create /dev");
	devfd = open_in_root(rc->rootfd, "/dev", O_PATH | O_DIRECTORY);
	if (devfd < 0)
		return cell_err_set(err, errno, "open /dev");
	/* a VMM's root: linux.devices only */
	for (size_t i = 0; !rc->spec->no_default_devices && i < CELL_ARRAY_SIZE(default_devices); i++) {
		const char *name = default_devices[i].name;

		if (rc->in_userns) {
			if (bind_host_device(devfd, name, err) < 0)
				return -1;
			continue;
		}
		/* replace whatever the image shipped: it may not be the device we mean */
		if (unlinkat(devfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
			return cell_err_set(err, errno, "remove /dev/%s", name);
		if (mknodat(devfd, name, S_IFCHR | 0666,
			    makedev(default_devices[i].major, default_devices[i].minor)) < 0)
			return cell_err_set(err, errno, "mknod /dev/%s", name);
		if (fchmodat(devfd, name, 0666, 0) < 0)
			return cell_err_set(err, errno, "chmod /dev/%s", name);
	}
	for (size_t i = 0; !rc->spec->no_default_devices && i < CELL_ARRAY_SIZE(default_links); i++)
		if (symlinkat(default_links[i].target, devfd, default_links[i].name) < 0 && errno != EEXIST)
			return cell_err_set(err, errno, "symlink /dev/%s", default_links[i].name);
	if (!rc->spec->no_default_devices && access("/proc/kcore", F_OK) == 0 &&
	    symlinkat("/proc/kcore", devfd, "core") < 0 && errno != EEXIST)
		return cell_err_set(err, errno, "symlink /dev/core");
	if (devices_listed(rc, err) < 0)
		return -1;
	/* the pts instance of this container, not the host's multiplexer */
	if (has_mount(rc->spec, "/dev/pts")) {
		if (unlinkat(devfd, "ptmx", 0) < 0 && errno != ENOENT)
			return cell_err_set(err, errno, "remove /dev/ptmx");
		if (symlinkat("pts/ptmx", devfd, "ptmx") < 0)
			return cell_err_set(err, errno, "symlink /dev/ptmx");
	}
	return 0;
}
