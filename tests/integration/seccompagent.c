/* Test helper: a seccomp agent at linux.seccomp.listenerPath. Takes any
 * number of connections (the container's init at start, each `cell exec`
 * process with its own filter), each carrying the container process state
 * JSON and a listener fd; appends each state as one line to STATEFILE and
 * answers every notified system call with EXDEV, printing "notified NAME
 * by PID" for each. Exits once every listener it got has no process left. */
#define _GNU_SOURCE
#include "../../runtime/fdpass.h"

#include <errno.h>
#include <poll.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTENERS 16

static int take_connection(int lfd, const char *statefile, int *nfd)
{
	struct cell_err err = { 0 };
	char state[8192];
	int conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	FILE *f;

	if (conn < 0 || cell_recv_fd(conn, nfd, state, sizeof(state), &err) < 0) {
		fprintf(stderr, "seccompagent: %s\n", err.msg[0] ? err.msg : strerror(errno));
		if (conn >= 0)
			close(conn);
		return -1;
	}
	close(conn);
	if (!(f = fopen(statefile, "a")) || fprintf(f, "%s\n", state) < 0 || fclose(f) != 0)
		return -1;
	return 0;
}

static void answer(int nfd, struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	char *name;

	memset(req, 0, sizeof(*req));
	if (seccomp_notify_receive(nfd, req) < 0)
		return; /* the process went away meanwhile */
	name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
	printf("notified %s by %u\n", name ? name : "?", req->pid);
	fflush(stdout);
	free(name);
	memset(resp, 0, sizeof(*resp));
	resp->id = req->id;
	resp->error = -EXDEV;
	seccomp_notify_respond(nfd, resp);
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct pollfd p[1 + MAX_LISTENERS];
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	size_t n = 0;
	int lfd;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: seccompagent SOCKET STATEFILE\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 4) < 0) {
		perror("seccompagent: listen");
		return 1;
	}
	if (seccomp_notify_alloc(&req, &resp) < 0)
		return 1;
	p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
	for (;;) {
		if (poll(p, 1 + n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (size_t i = 1; i <= n; i++) {
			if (p[i].revents & POLLIN) {
				answer(p[i].fd, req, resp);
			} else if (p[i].revents) {
				/* no process uses this filter any more */
				close(p[i].fd);
				p[i--] = p[n--];
				if (!n)
					goto out;
			}
		}
		if ((p[0].revents & POLLIN) && n < MAX_LISTENERS) {
			int nfd;

			if (take_connection(lfd, argv[2], &nfd) < 0)
				break;
			p[++n] = (struct pollfd){ .fd = nfd, .events = POLLIN };
		}
	}
out:
	seccomp_notify_free(req, resp);
	close(lfd);
	return 0;
}
