/* Small file and process helpers shared by every folder. */
#ifndef CELL_UTIL_H
#define CELL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Read a whole file (at most `max` bytes, else EFBIG). NUL-terminated. */
int cell_read_file(const char *path, char **out, size_t *len, size_t max, struct cell_err *err);

/* Write data to dirfd/name through a temporary name and rename(2), so
 * readers see the old or the new file, never a part. */
int cell_write_file_atomic(int dirfd, const char *name, const void *data, size_t len,
			   mode_t mode, struct cell_err *err);
/* The same, and on disk before it returns (fsync of file and directory):
 * for the image store, which outlives reboots. */
int cell_write_file_durable(int dirfd, const char *name, const void *data, size_t len,
			    mode_t mode, struct cell_err *err);

/* Write a short string to an existing file such as /proc/self/oom_score_adj. */
int cell_write_string(const char *path, const char *s, struct cell_err *err);

int cell_write_all(int fd, const void *buf, size_t len);

/* A process's start time (clock ticks since boot, field 22 of
 * /proc/PID/stat) and state letter; they tell a live pid from a reused one. */
int cell_proc_stat(pid_t pid, uint64_t *starttime, char *state);

/* True when `pid` is alive, not a zombie, and started at `starttime`. */
bool cell_proc_alive(pid_t pid, uint64_t starttime);

/* RFC 3339 time with nanoseconds, UTC. */
void cell_time_rfc3339(char *buf, size_t len);

/* --pid-file: the pid, written atomically next to the file. */
int cell_write_pid_file(const char *path, pid_t pid, struct cell_err *err);

/* mkdir -p with mode for each created component. */
int cell_mkdir_p(const char *path, mode_t mode);

#endif
