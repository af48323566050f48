/* cell exec for containers: a forked stage joins every namespace of the
 * container's init (user first, mount last) and forks the new process
 * inside its pid namespace; that process takes the container's policy
 * and execs. Failures travel back over the sync socket. */
#define _GNU_SOURCE
#include "isolate.h"
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/fdpass.h"
#include "../runtime/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/close_range.h>

static const struct {
	const char *file;
	enum cell_ns_type type;
} join_order[] = {
	{ "user", CELL_NS_USER }, { "pid", CELL_NS_PID }, { "net", CELL_NS_NET },
	{ "ipc", CELL_NS_IPC }, { "uts", CELL_NS_UTS }, { "cgroup", CELL_NS_CGROUP },
	{ "time", CELL_NS_TIME }, { "mnt", CELL_NS_MNT },
};

static _Noreturn void enter_fail(int sync_fd, struct cell_err *err)
{
	sync_send(sync_fd, SYNC_ERROR, 0, err->msg, strlen(err->msg));
	_exit(1);
}

/* Load the filter; a listener fd goes up to `cell exec` at once (over
 * notify_sock), which hands it to linux.seccomp.listenerPath. */
static int enter_seccomp(struct seccomp_filter *seccomp, int notify_sock, struct cell_err *err)
{
	int nfd, r;

	if (seccomp_apply(seccomp, &nfd, err) < 0)
		return -1;
	if (nfd < 0)
		return 0;
	r = cell_send_fd(notify_sock, nfd, "seccomp", err);
	close(nfd);
	return r;
}

/* The new process: wait for the parent, then become the user's program. */
static _Noreturn void enter_process(const struct cell_exec_req *req, int sync_fd, int notify_sock,
				    struct seccomp_filter *seccomp)
{
	const struct cell_process *p = req->process;
	struct cell_err err = { 0 };
	enum sync_type type;
	_cleanup_free_ char *exe = NULL;
	int slave = -1;
	sigset_t none;

	if (sync_recv(sync_fd, &type, NULL, NULL, NULL, &err) != 0 || type != SYNC_GO)
		_exit(1);
	setsid();
	if (p->terminal) {
		if (console_setup(req->console_fd, p, false, &slave, &err) < 0)
			enter_fail(sync_fd, &err);
		if (ioctl(slave, TIOCSCTTY, 0) < 0) {
			cell_err_set(&err, errno, "process.terminal: set controlling terminal");
			enter_fail(sync_fd, &err);
		}
		for (int fd = 0; fd < 3; fd++)
			dup2(slave, fd);
	}
	if (chdir(p->cwd) < 0) {
		cell_err_set(&err, errno, "cwd %s", p->cwd);
		enter_fail(sync_fd, &err);
	}
	if (exec_resolve(p, &exe, &err) < 0)
		enter_fail(sync_fd, &err);
	if (!p->no_new_privileges && enter_seccomp(seccomp, notify_sock, &err) < 0)
		enter_fail(sync_fd, &err);
	if (procattr_check(p, &err) < 0 || procattr_apply(NULL, p, &err) < 0 ||
	    exec_prepare_identity(p, &err) < 0)
		enter_fail(sync_fd, &err);
	if (p->no_new_privileges && enter_seccomp(seccomp, notify_sock, &err) < 0)
		enter_fail(sync_fd, &err);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	syscall(SYS_close_range, 3 + req->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
	execve(exe, p->args, p->env);
	cell_err_set(&err, errno, "exec %s", exe);
	enter_fail(sync_fd, &err);
}

static bool same_ns(pid_t pid, const char *file)
{
	char a[64], b[64];
	struct stat sa, sb;

	snprintf(a, sizeof(a), "/proc/%d/ns/%s", (int)pid, file);
	snprintf(b, sizeof(b), "/proc/self/ns/%s", file);
	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev;
}

static _Noreturn void enter_stage1(const struct cell_exec_req *req, int sync_fd, int notify_sock,
				   struct seccomp_filter *seccomp)
{
	int fds[sizeof(join_order) / sizeof(join_order[0])];
	struct cell_err err = { 0 };
	sigset_t none;
	pid_t pid;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* open all first: after joining the mount namespace /proc is the guest's */
	for (size_t i = 0; i < sizeof(join_order) / sizeof(join_order[0]); i++) {
		char path[64];
		fds[i] = -1;
		if (same_ns(req->guest_pid, join_order[i].file))
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)req->guest_pid, join_order[i].file);
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 && errno != ENOENT) {
			cell_err_set(&err, errno, "open %s", path);
			enter_fail(sync_fd, &err);
		}
	}
	/* the pidfd-checked start time: the namespaces are the guest's, not a reused pid's */
	if (!cell_proc_alive(req->guest_pid, req->guest_start)) {
		cell_err_set(&err, 0, "container process %d is gone", (int)req->guest_pid);
		enter_fail(sync_fd, &err);
	}
	for (size_t i = 0; i < sizeof(join_order) / sizeof(join_order[0]); i++) {
		if (fds[i] >= 0 && setns(fds[i], cell_ns_clone_flag(join_order[i].type)) < 0) {
			cell_err_set(&err, errno, "join %s namespace of %d", join_order[i].file, (int)req->guest_pid);
			enter_fail(sync_fd, &err);
		}
		if (fds[i] >= 0)
			close(fds[i]);
	}
	pid = fork();
	if (pid < 0) {
		cell_err_set(&err, errno, "fork");
		enter_fail(sync_fd, &err);
	}
	if (pid == 0)
		enter_process(req, sync_fd, notify_sock, seccomp);
	sync_send(sync_fd, SYNC_PID, pid, NULL, 0);
	_exit(0);
}

/* The listener fd the process sent (it does so before it execs). */
static int enter_take_listener(const struct cell_exec_req *req, int notify_sock, pid_t pid,
			       struct cell_err *err)
{
	int nfd, r;

	if (cell_recv_fd(notify_sock, &nfd, NULL, 0, err) < 0)
		return cell_err_wrap(err, "linux.seccomp: listener of the exec'd process");
	r = req->on_listener(req->arg, pid, nfd, err);
	close(nfd);
	return r;
}

/* After GO: EOF when execve closed the socket, an error message otherwise;
 * meanwhile a seccomp listener fd may arrive on notify_sock. */
static int enter_wait_exec(const struct cell_exec_req *req, int sync_fd, int notify_sock, pid_t pid,
			   struct cell_err *err)
{
	_cleanup_free_ char *payload = NULL;
	enum sync_type type;
	int r;

	while (notify_sock >= 0) {
		struct pollfd p[2] = { { .fd = notify_sock, .events = POLLIN }, { .fd = sync_fd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return cell_err_set(err, errno, "exec");
		}
		/* the fd is sent before execve, so it is queued before the EOF */
		if (p[0].revents & POLLIN) {
			if (enter_take_listener(req, notify_sock, pid, err) < 0)
				return -1;
			break;
		}
		/* no listener coming (the process failed or died): its status is on sync_fd */
		if (p[1].revents || p[0].revents)
			break;
	}
	r = sync_recv(sync_fd, &type, NULL, &payload, NULL, err);
	if (r < 0)
		return -1;
	if (r == 0 && type == SYNC_ERROR)
		return cell_err_set(err, 0, "%s", payload ? payload : "exec failed");
	return 0;
}

static int enter_wait(const struct cell_exec_req *req, int sync_fd, int notify_sock, pid_t s1, pid_t *out,
		      struct cell_err *err)
{
	_cleanup_free_ char *payload = NULL;
	enum sync_type type;
	int32_t value = 0;
	int r = sync_recv(sync_fd, &type, &value, &payload, NULL, err);

	waitpid(s1, NULL, 0);
	if (r < 0)
		return -1;
	if (r == 1)
		return cell_err_set(err, 0, "exec: the process exited during setup");
	if (type == SYNC_ERROR)
		return cell_err_set(err, 0, "%s", payload ? payload : "exec failed");
	*out = value;
	if (req->on_pid && req->on_pid(req->arg, value, err) < 0)
		return -1;
	if (sync_send(sync_fd, SYNC_GO, 0, NULL, 0) < 0)
		return cell_err_set(err, errno, "exec");
	return enter_wait_exec(req, sync_fd, notify_sock, value, err);
}

int container_exec(const struct cell_exec_req *req, pid_t *out, struct cell_err *err)
{
	struct seccomp_filter *seccomp = NULL;
	int sync_fd, r, nsv[2] = { -1, -1 };
	pid_t s1;

	*out = 0;
	if (seccomp_build(req->seccomp, -1, &seccomp, err) < 0)
		return cell_err_wrap(err, "config.json");
	if (seccomp_wants_listener(seccomp)) {
		if (!req->on_listener) {
			seccomp_free(seccomp);
			return cell_err_set(err, 0, "linux.seccomp: SCMP_ACT_NOTIFY: nobody takes the listener of an exec'd process");
		}
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, nsv) < 0) {
			seccomp_free(seccomp);
			return cell_err_set(err, errno, "socketpair");
		}
	}
	s1 = sync_fork(&sync_fd, err);
	if (s1 == 0) {
		if (nsv[0] >= 0)
			close(nsv[0]);
		enter_stage1(req, sync_fd, nsv[1], seccomp);
	}
	seccomp_free(seccomp);
	if (nsv[1] >= 0)
		close(nsv[1]);
	if (s1 < 0) {
		if (nsv[0] >= 0)
			close(nsv[0]);
		return -1;
	}
	r = enter_wait(req, sync_fd, nsv[0], s1, out, err);
	close(sync_fd);
	if (nsv[0] >= 0)
		close(nsv[0]);
	if (r < 0 && *out > 0) {
		kill(*out, SIGKILL);
		waitpid(*out, NULL, WNOHANG);
	}
	return r;
}
