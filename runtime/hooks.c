/* Running OCI hooks: the state on stdin, args and env as given, an optional
 * timeout after which the hook is killed. */
#define _GNU_SOURCE
#include "hooks.h"
#include "cleanup.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

int cell_pidfd_open(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

/* Wait for a child, at most timeout_ms (-1 = forever). 1 on timeout. */
static int wait_child(pid_t pid, int timeout_ms, int *status)
{
	_cleanup_close_ int pfd = cell_pidfd_open(pid);

	if (pfd >= 0 && timeout_ms >= 0) {
		struct pollfd p = { .fd = pfd, .events = POLLIN };
		int r;

		while ((r = poll(&p, 1, timeout_ms)) < 0 && errno == EINTR)
			;
		if (r == 0)
			return 1;
	}
	while (waitpid(pid, status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int run_one(const struct cell_hook *h, const char *label, const char *state, struct cell_err *err)
{
	char *default_args[] = { h->path, NULL };
	char *empty_env[] = { NULL };
	int sv[2], status = 0, r;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cell_err_set(err, errno, "hook %s", label);
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cell_err_set(err, errno, "hook %s: fork", label);
	}
	if (pid == 0) {
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (dup2(sv[1], STDIN_FILENO) < 0)
			_exit(127);
		execve(h->path, h->args && h->args[0] ? h->args : default_args,
		       h->env ? h->env : empty_env);
		fprintf(stderr, "cell: hook %s: exec %s: %s\n", label, h->path, strerror(errno));
		_exit(127);
	}
	close(sv[1]);
	/* a hook that never reads its stdin is fine: ignore EPIPE */
	cell_debug("hook %s: running %s", label, h->path);
	if (send(sv[0], state, strlen(state), MSG_NOSIGNAL) < 0 && errno != EPIPE)
		cell_debug("hook %s: writing state: %s", label, strerror(errno));
	shutdown(sv[0], SHUT_WR);
	r = wait_child(pid, h->timeout > 0 ? h->timeout * 1000 : -1, &status);
	close(sv[0]);
	if (r == 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return cell_err_set(err, 0, "hook %s (%s): timed out after %d s", label, h->path, h->timeout);
	}
	if (r < 0)
		return cell_err_set(err, errno, "hook %s (%s): wait", label, h->path);
	if (WIFSIGNALED(status))
		return cell_err_set(err, 0, "hook %s (%s): killed by signal %d", label, h->path,
				    WTERMSIG(status));
	if (WEXITSTATUS(status))
		return cell_err_set(err, 0, "hook %s (%s): exited with status %d", label, h->path,
				    WEXITSTATUS(status));
	return 0;
}

int cell_hooks_run(const struct cell_hook *hooks, size_t n, const char *kind, const char *state,
		   struct cell_err *err)
{
	char label[64];

	for (size_t i = 0; i < n; i++) {
		snprintf(label, sizeof(label), "%s[%zu]", kind, i);
		if (run_one(&hooks[i], label, state, err) < 0)
			return -1;
	}
	return 0;
}
