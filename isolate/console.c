/* process.terminal: a pty made inside the container's devpts, its master
 * sent over the console socket (runc's protocol), /dev/console bound to it. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/fdpass.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

int console_setup(int console_fd, const struct cell_process *p, bool bind_console, int *slave,
		  struct cell_err *err)
{
	_cleanup_close_ int master = -1, sfd = -1, cfd = -1;
	char name[64];

	master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return cell_err_set(err, errno, "process.terminal: open /dev/ptmx");
	if (unlockpt(master) < 0 || ptsname_r(master, name, sizeof(name)) != 0)
		return cell_err_set(err, errno, "process.terminal: pty");
	sfd = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (sfd < 0)
		return cell_err_set(err, errno, "process.terminal: open %s", name);
	if (p->has_console_size) {
		struct winsize ws = { .ws_row = p->console_height, .ws_col = p->console_width };
		if (ioctl(sfd, TIOCSWINSZ, &ws) < 0)
			return cell_err_set(err, errno, "process.consoleSize");
	}
	if (bind_console)
		cfd = open("/dev/console", O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (cfd >= 0 && mount(name, "/dev/console", NULL, MS_BIND, NULL) < 0)
		return cell_err_set(err, errno, "bind %s on /dev/console", name);
	if (cell_send_fd(console_fd, master, name, err) < 0)
		return -1;
	*slave = CELL_STEAL_FD(sfd);
	return 0;
}
