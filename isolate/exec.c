/* The container process's program and identity: PATH lookup with the
 * container's own PATH, rlimits, groups, uid/gid, umask, no_new_privs. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static bool is_executable(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

int exec_resolve(const struct cell_process *p, char **out, struct cell_err *err)
{
	const char *prog = p->args[0], *path = NULL;
	_cleanup_free_ char *copy = NULL;
	char cand[PATH_MAX];

	if (strchr(prog, '/')) {
		struct stat st;
		if (stat(prog, &st) < 0)
			return cell_err_set(err, errno, "exec %s", prog);
		if (!S_ISREG(st.st_mode) || access(prog, X_OK) < 0)
			return cell_err_set(err, EACCES, "exec %s", prog);
		*out = strdup(prog);
		return *out ? 0 : cell_err_set(err, ENOMEM, "exec");
	}
	for (char **e = p->env; e && *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	copy = strdup(path ? path : DEFAULT_PATH);
	if (!copy)
		return cell_err_set(err, ENOMEM, "exec");
	for (char *save = NULL, *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		snprintf(cand, sizeof(cand), "%s/%s", *dir ? dir : ".", prog);
		if (is_executable(cand)) {
			*out = strdup(cand);
			return *out ? 0 : cell_err_set(err, ENOMEM, "exec");
		}
	}
	return cell_err_set(err, 0, "exec \"%s\": executable file not found in $PATH", prog);
}

int exec_prepare_identity(const struct cell_process *p, struct cell_err *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = { .rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard };
		if (setrlimit(p->rlimits[i].resource, &rl) < 0)
			return cell_err_set(err, errno, "process.rlimits[%zu]: setrlimit", i);
	}
	if (caps_before_user(p, err) < 0)
		return -1;
	if (setgroups(p->n_additional_gids, p->additional_gids) < 0 && errno != EPERM)
		return cell_err_set(err, errno, "process.user.additionalGids: setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return cell_err_set(err, errno, "process.user.gid: setgid %u", (unsigned)p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return cell_err_set(err, errno, "process.user.uid: setuid %u", (unsigned)p->uid);
	if (caps_after_user(p, err) < 0)
		return -1;
	umask(p->has_umask ? p->umask : 022);
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return cell_err_set(err, errno, "process.noNewPrivileges");
	return 0;
}
