/* A microVM's bzImage, unpacked once: the compressed kernel inside it
 * (the payload the setup header points at) is an ELF vmlinux, with a PVH
 * entry note when the kernel has CONFIG_PVH.  Decompressed here and kept
 * in the store by the bzImage's digest, it lets every later boot enter
 * through PVH and skip the guest's own decompression (seconds under
 * nested virtualization).  Anything unexpected means "boot the bzImage
 * as it is": the VMM's loader then judges the file. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/util.h"
#include "../vmshim/vmm.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dl.h"

#define KERNEL_FILE_MAX (256ULL << 20)    /* a bzImage is ~10 MiB */
#define KERNEL_ELF_MAX  (1ULL << 30)      /* its vmlinux ~70 MiB */
#define KERNEL_CHUNK    (1u << 20)
#define KERNELS_DIR     "kernels"
#define KERNEL_NONE     ".bzimage"     /* kernels/<hex>.bzimage: boots as it is */

static int read_whole(int fd, uint8_t *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = pread(fd, buf + off, len - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* Decompress the payload into out.  The kernel's build appends the
 * uncompressed size (32 bits, little-endian) to every compressed format:
 * the output must have exactly that size.  Returns 0, or -1 with why. */
static int decompress(const uint8_t *p, size_t len, int out, char *why, size_t why_len)
{
	_cleanup_archive_ struct archive *a = NULL;
	struct archive_entry *e;
	_cleanup_free_ uint8_t *chunk = NULL;
	uint64_t want, total = 0;
	ssize_t n;

	if (len < 8) {
		snprintf(why, why_len, "%s", "the payload is too short");
		return -1;
	}
	want = (uint64_t)p[len - 4] | (uint64_t)p[len - 3] << 8 | (uint64_t)p[len - 2] << 16 |
	       (uint64_t)p[len - 1] << 24;
	if (want == 0 || want > KERNEL_ELF_MAX) {
		snprintf(why, why_len, "%s", "the payload's size trailer is out of range");
		return -1;
	}
	chunk = malloc(KERNEL_CHUNK);
	a = archive_read_new();
	if (!chunk || !a) {
		snprintf(why, why_len, "%s", "out of memory");
		return -1;
	}
	/* the kernel's compressors libarchive runs itself (lz4 and lzo would
	 * need an external program: those kernels boot as they are) */
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_lzma(a);
	archive_read_support_filter_bzip2(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_raw(a);
	/* without the trailer: decoders that read concatenated streams take it
	 * for a damaged next one */
	if (archive_read_open_memory(a, p, len - 4) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		snprintf(why, why_len, "%s", archive_error_string(a) ?: "not a compressed stream libarchive reads");
		return -1;
	}
	while ((n = archive_read_data(a, chunk, KERNEL_CHUNK)) > 0) {
		if ((uint64_t)n > want - total) {
			snprintf(why, why_len, "%s", "more data than the payload's size trailer says");
			return -1;
		}
		if (cell_write_all(out, chunk, (size_t)n) < 0) {
			snprintf(why, why_len, "%s", strerror(errno));
			return -1;
		}
		total += (uint64_t)n;
	}
	if (total != want) {
		snprintf(why, why_len, "%s", n < 0 ? (archive_error_string(a) ?: "damaged compressed data") :
			       "less data than the payload's size trailer says");
		return -1;
	}
	return 0;
}

/* kernels/<hex>: the vmlinux, read-only, when it is one with a PVH entry */
static int open_cached(int dirfd, const char *rel)
{
	struct vmm_kernel_kind k;
	int fd = openat(dirfd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return -1;
	if (vmm_kernel_probe(fd, rel, &k, &(struct cell_err){ 0 }) == 0 && k.pvh)
		return fd;
	/* damaged (a full disk at the time?): made again below */
	close(fd);
	unlinkat(dirfd, rel, 0);
	return -1;
}

/* The vmlinux in buf (the bzImage, k its payload) under kernels/<hex>:
 * found there, or decompressed now.  Returns 1 with *fd and rel, 0 when
 * it boots as it is (remembered in kernels/<hex>.bzimage), -1 on error. */
static int by_digest(struct store *s, const uint8_t *buf, size_t size, const struct vmm_kernel_kind *k,
		     const char *name, int *fd, char *rel, size_t rel_len, struct cell_err *err)
{
	_cleanup_close_ int tmp = -1;
	struct vmm_kernel_kind elf;
	char dg[DIGEST_LEN + 1], none[128], proc[64], why[256] = "";
	int mfd;

	digest_buf(buf, size, dg);
	if (!dg[0])
		return cell_err_set(err, ENOMEM, "%s: digest", name);
	snprintf(rel, rel_len, KERNELS_DIR "/%s", dg + 7);
	snprintf(none, sizeof(none), KERNELS_DIR "/%s" KERNEL_NONE, dg + 7);
	if ((*fd = open_cached(s->dirfd, rel)) >= 0)
		return 1;
	if (faccessat(s->dirfd, none, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(rel, rel_len, "%s", none);
		return 0;
	}
	tmp = openat(s->dirfd, KERNELS_DIR, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tmp < 0)
		return cell_err_set(err, errno, "store %s/" KERNELS_DIR, s->path);
	if (decompress(buf + k->payload_off, (size_t)k->payload_len, tmp, why, sizeof(why)) == 0 &&
	    (vmm_kernel_probe(tmp, name, &elf, &(struct cell_err){ 0 }) < 0 || !elf.pvh))
		snprintf(why, sizeof(why), "its kernel is not an ELF vmlinux with a PVH entry");
	if (why[0]) {
		/* remembered, so later creates do not try again */
		mfd = openat(s->dirfd, none, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (mfd >= 0) {
			cell_write_all(mfd, why, strlen(why));
			close(mfd);
		}
		snprintf(rel, rel_len, "%s", none);
		return 0;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", tmp);
	if (linkat(AT_FDCWD, proc, s->dirfd, rel, AT_SYMLINK_FOLLOW) < 0 && errno != EEXIST)
		return cell_err_set(err, errno, "store %s/%s", s->path, rel);
	/* a read-only fd: whoever gets it cannot change the cached kernel */
	if ((*fd = open_cached(s->dirfd, rel)) < 0)
		return cell_err_set(err, errno ? errno : EIO, "store %s/%s", s->path, rel);
	return 1;
}

/* kernels/stat-...: which digest a file had when it had this identity and
 * these times.  Any write changes its ctime (which no unprivileged user
 * can set), so the next create reads and digests the file again; a file
 * changed in the last two seconds gets no such shortcut (two writes in
 * one tick of the kernel's coarse clock share a ctime). */
static void stat_key(const struct stat *st, char *out, size_t len)
{
	snprintf(out, len, KERNELS_DIR "/stat-%llx-%llx-%llx-%lld.%09ld-%lld.%09ld",
		 (unsigned long long)st->st_dev, (unsigned long long)st->st_ino,
		 (unsigned long long)st->st_size, (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
		 (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

/* A stat key's target: "<64 hex>" or "<64 hex>.bzimage". */
static bool target_valid(const char *t)
{
	size_t n = strspn(t, "0123456789abcdef");

	return n == 64 && (!t[n] || !strcmp(t + n, KERNEL_NONE));
}

int cell_image_kernel(const char *store, int kernel_fd, const char *name, int *elf_fd, char **path,
		      struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	_cleanup_free_ uint8_t *buf = NULL;
	struct vmm_kernel_kind k;
	struct stat st, st2;
	struct timespec now;
	char key[200], rel[200], target[100];
	ssize_t n;
	int fd = -1, r;

	*elf_fd = -1;
	*path = NULL;
	if (vmm_kernel_probe(kernel_fd, name, &k, &(struct cell_err){ 0 }) < 0 || k.pvh || !k.payload_len)
		return 0;
	if (fstat(kernel_fd, &st) < 0)
		return cell_err_set(err, errno, "%s", name);
	if ((uint64_t)st.st_size > KERNEL_FILE_MAX)
		return 0;
	if (store_open(store, LOCK_SH, &s, err) < 0)
		return -1;
	stat_key(&st, key, sizeof(key));
	n = readlinkat(s.dirfd, key, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		snprintf(rel, sizeof(rel), KERNELS_DIR "/%s", target);
		if (target_valid(target) && strstr(target, KERNEL_NONE) &&
		    faccessat(s.dirfd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
			return 0;
		if (target_valid(target) && (fd = open_cached(s.dirfd, rel)) >= 0)
			goto found;
		unlinkat(s.dirfd, key, 0);
	}

	buf = malloc((size_t)st.st_size);
	if (!buf)
		return cell_err_set(err, ENOMEM, "%s", name);
	if (read_whole(kernel_fd, buf, (size_t)st.st_size) < 0)
		return cell_err_set(err, errno ? errno : EIO, "%s: read", name);
	/* the probe read the file too: check the payload against what we hold */
	if (k.payload_off > (uint64_t)st.st_size || k.payload_len > (uint64_t)st.st_size - k.payload_off)
		return 0;
	r = by_digest(&s, buf, (size_t)st.st_size, &k, name, &fd, rel, sizeof(rel), err);
	if (r < 0)
		return -1;
	/* remembered by stat only when the file did not change while read,
	 * and not while it may still change within its ctime's clock tick */
	if (fstat(kernel_fd, &st2) == 0 && st2.st_ctim.tv_sec == st.st_ctim.tv_sec &&
	    st2.st_ctim.tv_nsec == st.st_ctim.tv_nsec && st2.st_size == st.st_size &&
	    clock_gettime(CLOCK_REALTIME, &now) == 0 && now.tv_sec - st.st_ctim.tv_sec >= 2)
		if (symlinkat(rel + sizeof(KERNELS_DIR), s.dirfd, key) < 0) {
			/* only the next create's shortcut: it digests again */
		}
	if (r == 0)
		return 0;
found:
	if (asprintf(path, "%s/%s", s.path, rel) < 0) {
		*path = NULL;
		close(fd);
		return cell_err_set(err, ENOMEM, "%s", name);
	}
	*elf_fd = fd;
	return 1;
}
