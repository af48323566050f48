/* Test helper, run inside containers: attempts one operation and prints
 * "OK" or the errno name, so tests assert the exact error of a denial.
 * Built static: the busybox rootfs has no libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int result(long r)
{
	if (r < 0) {
		puts(strerrorname_np(errno));
		return 1;
	}
	puts("OK");
	return 0;
}

int main(int argc, char **argv)
{
	const char *op = argc > 1 ? argv[1] : "";
	const char *arg = argc > 2 ? argv[2] : "";
	int fd;

	if (!strcmp(op, "mount"))
		return result(mount("none", arg, "tmpfs", 0, NULL));
	if (!strcmp(op, "init_module"))
		return result(syscall(SYS_init_module, "", 0UL, ""));
	if (!strcmp(op, "finit_module")) {
		fd = open("/dev/null", O_RDONLY);
		return result(syscall(SYS_finit_module, fd, "", 0));
	}
	if (!strcmp(op, "keyctl"))
		return result(syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, "probe"));
	if (!strcmp(op, "unshare-user"))
		return result(unshare(CLONE_NEWUSER));
	if (!strcmp(op, "clone-newuser")) {
		long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL);
		if (pid == 0)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		return result(pid);
	}
	if (!strcmp(op, "ptrace"))
		return result(ptrace(PTRACE_ATTACH, atoi(arg), NULL, NULL));
	if (!strcmp(op, "kill"))
		return result(kill(atoi(arg), 0));
	if (!strcmp(op, "open"))
		return result(open(arg, O_RDONLY));
	if (!strcmp(op, "write")) {
		fd = open(arg, O_WRONLY);
		if (fd < 0)
			return result(fd);
		return result(write(fd, "1", 1));
	}
	if (!strcmp(op, "sethostname"))
		return result(sethostname("escaped", 7));
	if (!strcmp(op, "mknod"))
		return result(mknod(arg, S_IFBLK | 0600, makedev(8, 0)));
	if (!strcmp(op, "settime")) {
		struct timespec ts = { 0 };
		return result(clock_settime(CLOCK_REALTIME, &ts));
	}
	if (!strcmp(op, "reboot"))
		return result(reboot(RB_DISABLE_CAD));
	if (!strcmp(op, "setns"))
		return result(setns(open(arg, O_RDONLY), 0));
	fprintf(stderr, "probe: unknown operation %s\n", op);
	return 2;
}
