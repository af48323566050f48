/* CVE-2019-5736: a container must never reach the host's cell binary
 * through /proc/PID/exe of a cell process inside it. Commands that put
 * cell into a container first re-execute from a sealed memfd copy. */
#define _GNU_SOURCE
#include "runtime.h"
#include "cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEAL_NAME "cell-sealed"

static bool running_sealed(void)
{
	_cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	int seals;

	if (fd < 0)
		return false;
	seals = fcntl(fd, F_GET_SEALS);
	return seals >= 0 && (seals & (F_SEAL_WRITE | F_SEAL_SEAL)) == (F_SEAL_WRITE | F_SEAL_SEAL);
}

int cell_reexec_sealed(char **argv, struct cell_err *err)
{
	_cleanup_close_ int src = -1, mfd = -1;
	extern char **environ;
	struct stat st;
	off_t off = 0;

	if (running_sealed())
		return 0;
	src = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		return cell_err_set(err, errno, "/proc/self/exe");
	mfd = memfd_create(SEAL_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return cell_err_set(err, errno, "memfd_create");
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, src, &off, st.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return cell_err_set(err, n < 0 ? errno : EIO, "copy /proc/self/exe");
	}
	if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		return cell_err_set(err, errno, "seal the cell copy");
	fexecve(mfd, argv, environ);
	return cell_err_set(err, errno, "re-execute from the sealed copy");
}
