/* Test helper: the receiving end of --console-socket. Listens on PATH,
 * takes one terminal master, writes INPUT (if given) to it, and copies
 * what the container prints to stdout until the terminal closes.  With
 * AFTER, INPUT is written once AFTER has appeared in that output (a guest
 * that must be ready before it is typed to). */
#define _GNU_SOURCE
#include "../../runtime/fdpass.h"
#include "../../runtime/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct cell_err err = { 0 };
	char name[256], buf[4096];
	int lfd, conn, master;
	ssize_t n;

	if (argc < 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: recvtty SOCKET [INPUT [AFTER]]\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(lfd, 1) < 0) {
		perror("recvtty: listen");
		return 1;
	}
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0 || cell_recv_fd(conn, &master, name, sizeof(name), &err) < 0) {
		fprintf(stderr, "recvtty: %s\n", err.msg[0] ? err.msg : strerror(errno));
		return 1;
	}
	fprintf(stderr, "recvtty: got %s\n", name);
	const char *input = argc > 2 ? argv[2] : NULL, *after = argc > 3 ? argv[3] : NULL;
	char seen[16384];
	size_t nseen = 0;

	if (input && !after) {
		cell_write_all(master, input, strlen(input));
		input = NULL;
	}
	/* EIO once every holder of the pty's slave side is gone */
	while ((n = read(master, buf, sizeof(buf))) > 0) {
		cell_write_all(STDOUT_FILENO, buf, n);
		if (!input)
			continue;
		/* keep the tail of the output, long enough to hold AFTER */
		size_t keep = strlen(after) < sizeof(buf) ? strlen(after) : sizeof(buf);
		if (nseen + (size_t)n >= sizeof(seen)) {
			size_t from = nseen > keep ? nseen - keep : 0;
			memmove(seen, seen + from, nseen - from);
			nseen -= from;
		}
		size_t take = (size_t)n < sizeof(seen) - 1 - nseen ? (size_t)n : sizeof(seen) - 1 - nseen;
		memcpy(seen + nseen, buf + ((size_t)n - take), take);
		nseen += take;
		seen[nseen] = '\0';
		if (memmem(seen, nseen, after, strlen(after))) {
			cell_write_all(master, input, strlen(input));
			input = NULL;
		}
	}
	return 0;
}
