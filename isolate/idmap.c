/* Id maps: writing a user namespace's uid_map/gid_map, and the parent's
 * half of an idmapped bind mount (open_tree + MOUNT_ATTR_IDMAP); the init
 * attaches the detached tree with move_mount (mount.c). */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>

int idmap_write(pid_t pid, const char *file, const struct cell_idmap *m, size_t n, struct cell_err *err)
{
	char path[64], *buf;
	size_t len = 0, cap = n * 36 + 1;
	int r;

	buf = malloc(cap);
	if (!buf)
		return cell_err_set(err, ENOMEM, "%s", file);
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += snprintf(buf + len, cap - len, "%u %u %u\n", m[i].container_id, m[i].host_id,
				m[i].size);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	r = cell_write_string(path, buf, err);
	free(buf);
	return r;
}

/* A user namespace with the mount's own mappings: a child cloned into a
 * new one waits on a pipe while we write its maps and open it, then the
 * pipe's EOF lets it exit. */
static int idmap_userns(const struct cell_mount *m, size_t idx, struct cell_err *err)
{
	int hold[2], fd = -1;
	char path[64];
	pid_t pid;

	if (pipe2(hold, O_CLOEXEC) < 0)
		return cell_err_set(err, errno, "mounts[%zu]: pipe", idx);
	pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid == 0) {
		char b;

		close(hold[1]);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	close(hold[0]);
	if (pid < 0) {
		cell_err_set(err, errno, "mounts[%zu]: new user namespace for the mount's mappings", idx);
		goto out;
	}
	if (idmap_write(pid, "uid_map", m->uid_mappings, m->n_uid_mappings, err) < 0) {
		cell_err_wrap(err, "mounts[%zu].uidMappings", idx);
		goto out;
	}
	if (idmap_write(pid, "gid_map", m->gid_mappings, m->n_gid_mappings, err) < 0) {
		cell_err_wrap(err, "mounts[%zu].gidMappings", idx);
		goto out;
	}
	snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		cell_err_set(err, errno, "mounts[%zu]: open %s", idx, path);
out:
	close(hold[1]);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return fd;
}

int mount_idmap_open(const struct cell_mount *m, size_t idx, pid_t init, int *out, struct cell_err *err)
{
	const char *opt = m->idmap_recursive ? "ridmap" : "idmap";
	_cleanup_close_ int tree = -1, userns = -1;
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP };
	char path[64];

	*out = -1;
	/* the kernel idmaps a mount only for a caller privileged over its filesystem */
	if (geteuid() != 0)
		return cell_err_set(err, 0, "mounts[%zu]: idmapped mounts need cell to run as root", idx);
	tree = syscall(SYS_open_tree, AT_FDCWD, m->source,
		       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0));
	if (tree < 0 && errno == ENOSYS)
		return cell_err_set(err, 0, "mounts[%zu]: option \"%s\": this kernel has no open_tree "
				    "(idmapped mounts need Linux 5.12 or later)", idx, opt);
	if (tree < 0)
		return cell_err_set(err, errno, "mounts[%zu]: source %s", idx, m->source);
	if (m->n_uid_mappings) {
		userns = idmap_userns(m, idx, err);
	} else {
		/* the container's own user namespace, created or joined, now mapped */
		snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)init);
		userns = open(path, O_RDONLY | O_CLOEXEC);
		if (userns < 0)
			cell_err_set(err, errno, "mounts[%zu]: the container's user namespace %s", idx, path);
	}
	if (userns < 0)
		return -1;
	attr.userns_fd = userns;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (m->idmap_recursive ? AT_RECURSIVE : 0),
		    &attr, sizeof(attr)) < 0) {
		if (errno == ENOSYS)
			return cell_err_set(err, 0, "mounts[%zu]: option \"%s\": this kernel has no mount_setattr "
					    "(idmapped mounts need Linux 5.12 or later)", idx, opt);
		if (errno == EINVAL)
			return cell_err_set(err, errno, "mounts[%zu]: %s: the filesystem of %s cannot be idmapped "
					    "on this kernel", idx, opt, m->source);
		return cell_err_set(err, errno, "mounts[%zu]: %s %s", idx, opt, m->source);
	}
	*out = CELL_STEAL_FD(tree);
	return 0;
}
