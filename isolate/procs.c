/* The processes of a container: everything in its init's pid namespace
 * when it has its own, else the init and its descendants. (Once guests
 * have cgroups, the cgroup is the authority.) */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int ns_inode(pid_t pid, ino_t *ino)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	if (stat(path, &st) < 0)
		return -1;
	*ino = st.st_ino;
	return 0;
}

static pid_t proc_ppid(pid_t pid)
{
	char path[64], buf[512], *p;
	_cleanup_fclose_ FILE *f = NULL;
	int ppid = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f || !fgets(buf, sizeof(buf), f) || !(p = strrchr(buf, ')')))
		return -1;
	if (sscanf(p + 2, "%*c %d", &ppid) != 1)
		return -1;
	return ppid;
}

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int procs_list(pid_t init, uint64_t init_start, pid_t **out, size_t *n, struct cell_err *err)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ pid_t *all = NULL, *parents = NULL;
	size_t count = 0, cap = 0, found = 0;
	ino_t self_ns, init_ns;
	bool own_ns;
	struct dirent *de;
	pid_t *res;

	*out = NULL;
	*n = 0;
	if (!cell_proc_alive(init, init_start))
		return 0;
	if (ns_inode(getpid(), &self_ns) < 0 || ns_inode(init, &init_ns) < 0)
		return cell_err_set(err, errno, "pid namespace of %d", (int)init);
	own_ns = self_ns != init_ns;
	d = opendir("/proc");
	if (!d)
		return cell_err_set(err, errno, "/proc");
	while ((de = readdir(d))) {
		pid_t pid;
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (count == cap) {
			cap = cap ? cap * 2 : 256;
			pid_t *na = realloc(all, cap * sizeof(pid_t)), *np = realloc(parents, cap * sizeof(pid_t));
			if (na)
				all = na;
			if (np)
				parents = np;
			if (!na || !np)
				return cell_err_set(err, ENOMEM, "ps");
		}
		all[count] = pid;
		parents[count] = own_ns ? 0 : proc_ppid(pid);
		count++;
	}
	res = calloc(count + 1, sizeof(pid_t));
	if (!res)
		return cell_err_set(err, ENOMEM, "ps");
	if (own_ns) {
		for (size_t i = 0; i < count; i++) {
			ino_t ino;
			if (ns_inode(all[i], &ino) == 0 && ino == init_ns)
				res[found++] = all[i];
		}
	} else {
		/* descendants: grow the set until no process joins it */
		res[found++] = init;
		for (bool grew = true; grew;) {
			grew = false;
			for (size_t i = 0; i < count; i++) {
				bool in = false, parent_in = false;
				for (size_t j = 0; j < found; j++) {
					in |= res[j] == all[i];
					parent_in |= res[j] == parents[i];
				}
				if (!in && parent_in) {
					res[found++] = all[i];
					grew = true;
				}
			}
		}
	}
	qsort(res, found, sizeof(pid_t), cmp_pid);
	*out = res;
	*n = found;
	return 0;
}
