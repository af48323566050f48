/* The parent↔init message channel. */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sync_hdr {
	uint32_t type;
	int32_t value;
};

int sync_send(int fd, enum sync_type type, int32_t value, const char *payload, size_t len)
{
	struct sync_hdr h = { .type = type, .value = value };
	struct iovec iov[2] = { { &h, sizeof(h) }, { (void *)payload, payload ? len : 0 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };

	if (len > SYNC_MAX_PAYLOAD) {
		errno = EMSGSIZE;
		return -1;
	}
	while (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

int sync_recv(int fd, enum sync_type *type, int32_t *value, char **payload, size_t *len,
	      struct cell_err *err)
{
	size_t cap = sizeof(struct sync_hdr) + SYNC_MAX_PAYLOAD + 1;
	char *buf = malloc(cap);
	struct sync_hdr h;
	ssize_t n;

	if (!buf)
		return cell_err_set(err, ENOMEM, "sync");
	while ((n = recv(fd, buf, cap - 1, 0)) < 0 && errno == EINTR)
		;
	if (n < 0) {
		free(buf);
		return cell_err_set(err, errno, "sync");
	}
	if (n == 0) {
		free(buf);
		return 1;
	}
	if ((size_t)n < sizeof(h)) {
		free(buf);
		return cell_err_set(err, EPROTO, "sync: short message");
	}
	memcpy(&h, buf, sizeof(h));
	*type = h.type;
	if (value)
		*value = h.value;
	if (len)
		*len = n - sizeof(h);
	if (payload) {
		memmove(buf, buf + sizeof(h), n - sizeof(h));
		buf[n - sizeof(h)] = '\0';
		*payload = buf;
	} else {
		free(buf);
	}
	return 0;
}

pid_t sync_fork(int *fd, struct cell_err *err)
{
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return cell_err_set(err, errno, "socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cell_err_set(err, errno, "fork");
	}
	close(sv[pid == 0 ? 0 : 1]);
	*fd = sv[pid == 0 ? 1 : 0];
	return pid;
}
