/* `cell run` in the foreground: forward signals to the guest, copy its
 * terminal to ours, and return its exit status. */
#define _GNU_SOURCE
#include "runtime.h"
#include "run.h"
#include "cleanup.h"
#include "util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static const int forwarded[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD };

void cell_run_block_signals(void)
{
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < CELL_ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
}

static void copy_winsize(int master)
{
	struct winsize ws;

	if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
		ioctl(master, TIOCSWINSZ, &ws);
}

/* Move what is readable on `from` to `to`; false at EOF or error. */
static bool pump(int from, int to)
{
	char buf[8192];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	return cell_write_all(to, buf, n) == 0;
}

/* Reap children; true once `pid` has exited, with its status. */
static bool reap(pid_t pid, int *status)
{
	bool done = false;
	int st;
	pid_t r;

	while ((r = waitpid(-1, &st, WNOHANG)) > 0)
		if (r == pid) {
			*status = st;
			done = true;
		}
	return done;
}

int cell_run_foreground(pid_t pid, int master, int *exit_code, struct cell_err *err)
{
	struct termios saved, raw;
	bool restore = false, stdin_open = master >= 0, master_open = master >= 0;
	_cleanup_close_ int sfd = -1;
	int status = 0;
	sigset_t set;

	sigemptyset(&set);
	for (size_t i = 0; i < CELL_ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		return cell_err_set(err, errno, "signalfd");
	if (master >= 0 && isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
		copy_winsize(master);
	}
	for (bool exited = reap(pid, &status); !exited || master_open;) {
		struct pollfd p[3] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = master_open ? master : -1, .events = POLLIN },
			{ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		/* once the process is gone, drain what the terminal still holds */
		if (poll(p, 3, exited ? 100 : -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (exited && !(p[1].revents & (POLLIN | POLLHUP)))
			break;
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				if (si.ssi_signo == SIGCHLD)
					exited = exited || reap(pid, &status);
				else if (si.ssi_signo == SIGWINCH && master >= 0)
					copy_winsize(master);
				else if (si.ssi_signo != SIGWINCH)
					kill(pid, si.ssi_signo);
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
			master_open = pump(master, STDOUT_FILENO);
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR))
			stdin_open = pump(STDIN_FILENO, master);
		if (!exited)
			exited = reap(pid, &status);
	}
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (WIFSIGNALED(status))
		*exit_code = 128 + WTERMSIG(status);
	else
		*exit_code = WEXITSTATUS(status);
	return 0;
}
