/* File and process helpers: whole-file reads, atomic writes, /proc/PID/stat. */
#define _GNU_SOURCE
#include "util.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int cell_read_file(const char *path, char **out, size_t *len, size_t max, struct cell_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, n = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cell_err_set(err, errno, "%s", path);
	buf = malloc(cap + 1);
	if (!buf)
		return cell_err_set(err, ENOMEM, "%s", path);
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *nb;
			if (cap >= max)
				return cell_err_set(err, EFBIG, "%s", path);
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (!nb)
				return cell_err_set(err, ENOMEM, "%s", path);
			buf = nb;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return cell_err_set(err, errno, "read %s", path);
		if (r == 0)
			break;
		n += r;
	}
	if (n > max)
		return cell_err_set(err, EFBIG, "%s", path);
	buf[n] = '\0';
	*out = CELL_STEAL(buf);
	if (len)
		*len = n;
	return 0;
}

int cell_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= w;
	}
	return 0;
}

static int write_file_via_tmp(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
			      bool durable, struct cell_err *err)
{
	char tmp[512];
	int fd;

	snprintf(tmp, sizeof(tmp), ".%s.%d.tmp", name, (int)getpid());
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return cell_err_set(err, errno, "create %s", tmp);
	if (cell_write_all(fd, data, len) < 0 || (durable && fsync(fd) < 0)) {
		cell_err_set(err, errno, "write %s", tmp);
		close(fd);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	close(fd);
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		cell_err_set(err, errno, "rename %s to %s", tmp, name);
		unlinkat(dirfd, tmp, 0);
		return -1;
	}
	if (durable)
		fsync(dirfd);
	return 0;
}

/* State under /run is gone at reboot anyway: readers must only never see
 * a torn file, which the rename gives without the cost of fsync. */
int cell_write_file_atomic(int dirfd, const char *name, const void *data, size_t len,
			   mode_t mode, struct cell_err *err)
{
	return write_file_via_tmp(dirfd, name, data, len, mode, false, err);
}

int cell_write_file_durable(int dirfd, const char *name, const void *data, size_t len,
			    mode_t mode, struct cell_err *err)
{
	return write_file_via_tmp(dirfd, name, data, len, mode, true, err);
}

int cell_write_string(const char *path, const char *s, struct cell_err *err)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return cell_err_set(err, errno, "open %s", path);
	if (cell_write_all(fd, s, strlen(s)) < 0)
		return cell_err_set(err, errno, "write %s", path);
	return 0;
}

int cell_proc_stat(pid_t pid, uint64_t *starttime, char *state)
{
	char path[64], buf[1024], *p;
	_cleanup_close_ int fd = -1;
	unsigned long long st = 0;
	ssize_t n;
	char s;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -1;
	/* fields after comm: state(3) ... starttime(22) */
	if (sscanf(p + 2, "%c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
		   &s, &st) != 2)
		return -1;
	if (starttime)
		*starttime = st;
	if (state)
		*state = s;
	return 0;
}

bool cell_proc_alive(pid_t pid, uint64_t starttime)
{
	uint64_t st;
	char state;

	if (pid <= 0 || cell_proc_stat(pid, &st, &state) < 0)
		return false;
	if (starttime && st != starttime)
		return false;
	return state != 'Z' && state != 'X';
}

void cell_time_rfc3339(char *buf, size_t len)
{
	struct timespec ts;
	struct tm tm;
	char base[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", base, ts.tv_nsec);
}

int cell_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	size_t len = strlen(path);

	if (len >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int cell_write_pid_file(const char *path, pid_t pid, struct cell_err *err)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dfd = -1;
	const char *slash = strrchr(path, '/');
	char buf[32];

	dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
	if (!dir)
		return cell_err_set(err, ENOMEM, "--pid-file");
	dfd = open(dir, O_DIRECTORY | O_PATH | O_CLOEXEC);
	if (dfd < 0)
		return cell_err_set(err, errno, "--pid-file %s", path);
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (cell_write_file_atomic(dfd, slash ? slash + 1 : path, buf, strlen(buf), 0644, err) < 0)
		return cell_err_wrap(err, "--pid-file %s", path);
	return 0;
}
