/* SCM_RIGHTS send/receive and unix socket connection by path. */
#define _GNU_SOURCE
#include "fdpass.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int cell_send_fd(int sock, int fd, const char *name, struct cell_err *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	/* the name without its NUL, as runc sends it: receivers parse it as is */
	struct iovec iov = { .iov_base = (void *)name, .iov_len = strlen(name) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	memset(cbuf, 0, sizeof(cbuf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	while (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return cell_err_set(err, errno, "send a file descriptor");
	return 0;
}

int cell_recv_fd(int sock, int *fd, char *name, size_t namelen, struct cell_err *err)
{
	char cbuf[CMSG_SPACE(sizeof(int))], buf[4096];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) - 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1,
			      .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t n;

	while ((n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0)
		if (errno != EINTR)
			return cell_err_set(err, errno, "receive terminal");
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
	    c->cmsg_len != CMSG_LEN(sizeof(int)))
		return cell_err_set(err, 0, "receive terminal: no file descriptor in message");
	memcpy(fd, CMSG_DATA(c), sizeof(int));
	buf[n] = '\0';
	if (name && namelen)
		snprintf(name, namelen, "%s", buf);
	return 0;
}

int cell_unix_connect(const char *path, struct cell_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = -1, dirfd = -1;
	_cleanup_free_ char *dup1 = NULL, *dup2 = NULL;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cell_err_set(err, errno, "socket");
	if (strlen(path) < sizeof(sa.sun_path)) {
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	} else {
		dup1 = strdup(path);
		dup2 = strdup(path);
		if (!dup1 || !dup2)
			return cell_err_set(err, ENOMEM, "%s", path);
		dirfd = open(dirname(dup1), O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return cell_err_set(err, errno, "%s", path);
		if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dirfd,
				     basename(dup2)) >= sizeof(sa.sun_path))
			return cell_err_set(err, ENAMETOOLONG, "%s", path);
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return cell_err_set(err, errno, "connect %s", path);
	return CELL_STEAL_FD(fd);
}
