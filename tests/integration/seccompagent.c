/* Test helper: a seccomp agent at linux.seccomp.listenerPath. Takes one
 * connection (the container process state JSON and the listener fd),
 * writes the JSON to STATEFILE, then answers every notified system call
 * with EXDEV, printing "notified NAME" for each, until the container goes. */
#define _GNU_SOURCE
#include "../../runtime/fdpass.h"

#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cell_err err = { 0 };
	struct seccomp_notif *req;
	struct seccomp_notif_resp *resp;
	char state[8192];
	int lfd, conn, nfd;
	FILE *f;

	if (argc != 3 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: seccompagent SOCKET STATEFILE\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		perror("seccompagent: listen");
		return 1;
	}
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || cell_recv_fd(conn, &nfd, state, sizeof(state), &err) < 0) {
		fprintf(stderr, "seccompagent: %s\n", err.msg[0] ? err.msg : strerror(errno));
		return 1;
	}
	if (!(f = fopen(argv[2], "w")) || fputs(state, f) < 0 || fclose(f) != 0)
		return 1;
	if (seccomp_notify_alloc(&req, &resp) < 0)
		return 1;
	for (;;) {
		char *name;

		memset(req, 0, sizeof(*req));
		if (seccomp_notify_receive(nfd, req) < 0)
			break; /* the filter's processes are gone */
		name = seccomp_syscall_resolve_num_arch(req->data.arch, req->data.nr);
		printf("notified %s\n", name ? name : "?");
		fflush(stdout);
		free(name);
		memset(resp, 0, sizeof(*resp));
		resp->id = req->id;
		resp->error = -EXDEV;
		seccomp_notify_respond(nfd, resp);
	}
	seccomp_notify_free(req, resp);
	close(nfd);
	close(conn);
	close(lfd);
	return 0;
}
