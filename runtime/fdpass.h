/* Passing file descriptors over unix sockets (SCM_RIGHTS), as the
 * console-socket protocol of runc does. */
#ifndef CELL_FDPASS_H
#define CELL_FDPASS_H

#include <stddef.h>

#include "err.h"

int cell_send_fd(int sock, int fd, const char *name, struct cell_err *err);
/* Receive one fd; `name` (may be NULL) gets the message text. */
int cell_recv_fd(int sock, int *fd, char *name, size_t namelen, struct cell_err *err);
/* Connect a SOCK_STREAM unix socket to path (any length: long paths go
 * through /proc/self/fd of their directory). */
int cell_unix_connect(const char *path, struct cell_err *err);

#endif
