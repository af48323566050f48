/* Layer unpacking: a tar (plain, gzip, zstd) from an untrusted image made
 * into a directory overlayfs can stack. Every entry is resolved beneath
 * the layer root component by component without following symlinks, so
 * "..", absolute names and writes through a symlink are refused; `.wh.`
 * whiteouts become overlayfs whiteouts (0/0 character devices) and opaque
 * markers the trusted.overlay.opaque xattr. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <archive.h>
#include <archive_entry.h>

#include "dl.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

/* 0: `out` is the relative path; 1: the root itself; -1: absolute;
 * -2: has a ".." component; -3: too long. */
int img_path_normalize(const char *in, char *out, size_t len)
{
	size_t o = 0;

	if (in[0] == '/')
		return -1;
	for (const char *p = in; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -2;
		if (n && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > len)
				return -3;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		while (*p == '/')
			p++;
	}
	out[o] = '\0';
	return o ? 0 : 1;
}

int img_open_beneath(int rootfd, const char *path, bool create, const char **base,
			struct cell_err *err)
{
	_cleanup_close_ int cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	const char *p = path, *slash;
	char comp[NAME_MAX + 1];

	if (cur < 0)
		return cell_err_set(err, errno, "dup");
	while ((slash = strchr(p, '/'))) {
		size_t n = slash - p;
		int next;

		if (n > NAME_MAX)
			return cell_err_set(err, ENAMETOOLONG, "%s", path);
		memcpy(comp, p, n);
		comp[n] = '\0';
		next = openat(cur, comp, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return cell_err_set(err, errno, "mkdir %.*s", (int)(slash - path), path);
			next = openat(cur, comp, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
		}
		if (next < 0 && (errno == ELOOP || errno == ENOTDIR)) {
			struct stat st;
			if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
				return cell_err_set(err, 0, "%s: goes through the symlink %.*s", path,
						    (int)(slash - path), path);
			return cell_err_set(err, ENOTDIR, "%s: %.*s", path, (int)(slash - path), path);
		}
		if (next < 0)
			return cell_err_set(err, errno, "%s: %.*s", path, (int)(slash - path), path);
		close(cur);
		cur = next;
		p = slash + 1;
	}
	if (strlen(p) > NAME_MAX)
		return cell_err_set(err, ENAMETOOLONG, "%s", path);
	*base = p;
	return CELL_STEAL_FD(cur);
}

/* Make room for a new entry: a directory stays when a directory comes. */
static int clear_existing(int pfd, const char *base, bool keep_dir, bool *kept, struct cell_err *err)
{
	struct stat st;

	*kept = false;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : cell_err_set(err, errno, "%s", base);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*kept = true;
			return 0;
		}
		return img_rm_tree(pfd, base, err);
	}
	if (unlinkat(pfd, base, 0) < 0)
		return cell_err_set(err, errno, "unlink %s", base);
	return 0;
}

static int write_data(struct archive *a, int fd, const char *path, struct cell_err *err)
{
	const void *buf;
	size_t size;
	la_int64_t off, end = 0;
	int r;

	while ((r = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *b = buf;
		while (size) {
			ssize_t w = pwrite(fd, b, size, off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				return cell_err_set(err, errno, "write %s", path);
			b += w;
			off += w;
			size -= w;
		}
		end = off;
	}
	if (r != ARCHIVE_EOF)
		return cell_err_set(err, archive_errno(a) > 0 ? archive_errno(a) : 0, "%s: %s", path,
				    archive_error_string(a) ?: "read error");
	(void)end;
	return 0;
}

static bool xattr_allowed(const char *name)
{
	/* overlayfs trusts these on lower dirs: a layer must not forge them */
	return strncmp(name, "trusted.overlay.", 16) != 0;
}

/* Ownership, mode, xattrs (file capabilities among them) and times, in
 * the order that keeps them: chown clears set-id bits and capabilities. */
static int apply_meta(struct archive_entry *e, int pfd, const char *base, int fd, mode_t type,
		      const char *path, struct cell_err *err)
{
	struct timespec ts[2] = { { .tv_nsec = UTIME_OMIT }, { 0 } };
	const char *xname;
	const void *xval;
	size_t xsize;
	char proc[PATH_MAX];

	if (fchownat(pfd, base, archive_entry_uid(e), archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
		return cell_err_set(err, errno, "chown %s", path);
	if (type != AE_IFLNK) {
		int r = fd >= 0 ? fchmod(fd, archive_entry_mode(e) & 07777)
				: fchmodat(pfd, base, archive_entry_mode(e) & 07777, 0);
		if (r < 0)
			return cell_err_set(err, errno, "chmod %s", path);
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", pfd, base);
	archive_entry_xattr_reset(e);
	while (archive_entry_xattr_next(e, &xname, &xval, &xsize) == ARCHIVE_OK) {
		int r;
		if (!xattr_allowed(xname))
			continue;
		r = fd >= 0 ? fsetxattr(fd, xname, xval, xsize, 0) : lsetxattr(proc, xname, xval, xsize, 0);
		/* user.* cannot be set on symlinks and devices: the kernel's rule, not ours */
		if (r < 0 && !(errno == EPERM && type != AE_IFREG && type != AE_IFDIR))
			return cell_err_set(err, errno, "%s: xattr %s", path, xname);
	}
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	ts[0] = ts[1];
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return cell_err_set(err, errno, "utimes %s", path);
	return 0;
}

static int whiteout(int pfd, const char *base, const char *path, struct cell_err *err)
{
	const char *victim = base + strlen(WH_PREFIX);
	bool kept;

	if (!strcmp(base, WH_OPAQUE)) {
		if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
			return cell_err_set(err, errno, "%s: set opaque", path);
		return 0;
	}
	if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
		return cell_err_set(err, 0, "%s: a whiteout of nothing", path);
	if (clear_existing(pfd, victim, false, &kept, err) < 0)
		return -1;
	if (mknodat(pfd, victim, S_IFCHR, makedev(0, 0)) < 0)
		return cell_err_set(err, errno, "%s: whiteout", path);
	return 0;
}

static int unpack_entry(struct archive *a, struct archive_entry *e, int rootfd, const char *what,
			struct cell_err *err)
{
	const char *raw = archive_entry_pathname(e), *base, *hl = archive_entry_hardlink(e);
	mode_t type = archive_entry_filetype(e);
	char path[PATH_MAX];
	_cleanup_close_ int pfd = -1, fd = -1;
	bool kept = false;
	int r;

	if (!raw)
		return cell_err_set(err, 0, "an entry without a name");
	r = img_path_normalize(raw, path, sizeof(path));
	if (r == 1)
		return 0; /* "./": the layer root keeps the store's mode */
	if (r == -1)
		return cell_err_set(err, 0, "%s: absolute path escapes the layer", raw);
	if (r == -2)
		return cell_err_set(err, 0, "%s: \"..\" escapes the layer", raw);
	if (r < 0)
		return cell_err_set(err, ENAMETOOLONG, "%.64s...", raw);
	pfd = img_open_beneath(rootfd, path, true, &base, err);
	if (pfd < 0)
		return -1;
	if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX)))
		return whiteout(pfd, base, path, err);

	if (hl) {
		char target[PATH_MAX];
		const char *tbase;
		_cleanup_close_ int tpfd = -1;

		r = img_path_normalize(hl, target, sizeof(target));
		if (r != 0)
			return cell_err_set(err, 0, "%s: hard link to %s escapes the layer", path, hl);
		tpfd = img_open_beneath(rootfd, target, false, &tbase, err);
		if (tpfd < 0)
			return cell_err_wrap(err, "%s: hard link", path);
		if (clear_existing(pfd, base, false, &kept, err) < 0)
			return -1;
		/* flags 0: a link to a symlink links the symlink, never its target */
		if (linkat(tpfd, tbase, pfd, base, 0) < 0)
			return cell_err_set(err, errno, "%s: hard link to %s", path, target);
		return 0;
	}

	if (clear_existing(pfd, base, type == AE_IFDIR, &kept, err) < 0)
		return -1;
	switch (type) {
	case AE_IFDIR:
		if (!kept && mkdirat(pfd, base, 0700) < 0)
			return cell_err_set(err, errno, "mkdir %s", path);
		fd = openat(pfd, base, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);
		break;
	case AE_IFREG:
		fd = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0 && write_data(a, fd, path, err) < 0)
			return -1;
		if (fd >= 0 && ftruncate(fd, archive_entry_size(e)) < 0)
			return cell_err_set(err, errno, "truncate %s", path);
		break;
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);
		/* the target is stored as text and never followed here */
		if (!t || symlinkat(t, pfd, base) < 0)
			return cell_err_set(err, t ? errno : 0, "symlink %s", path);
		break;
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO:
		if (mknodat(pfd, base, type | 0600, archive_entry_rdev(e)) < 0)
			return cell_err_set(err, errno, "mknod %s", path);
		break;
	default:
		return 0; /* sockets: nothing to make */
	}
	if ((type == AE_IFDIR || type == AE_IFREG) && fd < 0)
		return cell_err_set(err, errno, "%s", path);
	return apply_meta(e, pfd, base, fd, type, path, err);
}

void img_archive_freep(struct archive **a)
{
	if (*a)
		archive_read_free(*a);
}

struct archive *img_tar_reader(int fd, bool raw)
{
	struct archive *a = archive_read_new();

	if (!a)
		return NULL;
	/* only filters libarchive runs itself: never an external program */
	archive_read_support_filter_none(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_xz(a);
	archive_read_support_filter_bzip2(a);
	if (raw)
		archive_read_support_format_raw(a);
	else
		archive_read_support_format_tar(a);
	if (archive_read_open_fd(a, fd, 1 << 20) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

int img_layer_unpack(int blobfd, int destfd, const char *what, struct progress *pr, struct cell_err *err)
{
	_cleanup_archive_ struct archive *a = NULL;
	struct archive_entry *e;
	unsigned n = 0;
	int r;

	if (lseek(blobfd, 0, SEEK_SET) < 0 || !(a = img_tar_reader(blobfd, false)))
		return cell_err_set(err, 0, "layer %s: not a tar, tar+gzip or tar+zstd", what);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (unpack_entry(a, e, destfd, what, err) < 0)
			return cell_err_wrap(err, "layer %s", what);
		if (++n % 256 == 0)
			img_progress_report(pr, archive_filter_bytes(a, -1));
	}
	if (r != ARCHIVE_EOF)
		return cell_err_set(err, 0, "layer %s: %s", what,
				    archive_error_string(a) ?: "damaged or truncated tar");
	img_progress_report(pr, archive_filter_bytes(a, -1));
	return 0;
}

int img_tar_extract_plain(const char *path, int destfd, struct cell_err *err)
{
	_cleanup_archive_ struct archive *a = NULL;
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct archive_entry *e;
	int r;

	if (fd < 0)
		return cell_err_set(err, errno, "%s", path);
	if (!(a = img_tar_reader(fd, false)))
		return cell_err_set(err, 0, "%s: not a tar archive", path);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *raw = archive_entry_pathname(e), *base;
		mode_t type = archive_entry_filetype(e);
		char rel[PATH_MAX];
		_cleanup_close_ int pfd = -1, out = -1;
		bool kept;

		if (!raw || img_path_normalize(raw, rel, sizeof(rel)) != 0) {
			if (raw && img_path_normalize(raw, rel, sizeof(rel)) == 1)
				continue;
			return cell_err_set(err, 0, "%s: entry %s escapes the archive", path, raw ?: "?");
		}
		pfd = img_open_beneath(destfd, rel, true, &base, err);
		if (pfd < 0)
			return cell_err_wrap(err, "%s", path);
		if (clear_existing(pfd, base, type == AE_IFDIR, &kept, err) < 0)
			return cell_err_wrap(err, "%s", path);
		if (type == AE_IFDIR) {
			if (!kept && mkdirat(pfd, base, 0700) < 0)
				return cell_err_set(err, errno, "%s: %s", path, rel);
		} else if (type == AE_IFREG && !archive_entry_hardlink(e)) {
			out = openat(pfd, base, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (out < 0)
				return cell_err_set(err, errno, "%s: %s", path, rel);
			if (write_data(a, out, rel, err) < 0 || ftruncate(out, archive_entry_size(e)) < 0)
				return cell_err_wrap(err, "%s", path);
		} else if (type == AE_IFLNK && archive_entry_symlink(e)) {
			/* docker-archive links duplicate layers; later opens stay in this root */
			if (symlinkat(archive_entry_symlink(e), pfd, base) < 0)
				return cell_err_set(err, errno, "%s: %s", path, rel);
		}
	}
	if (r != ARCHIVE_EOF)
		return cell_err_set(err, 0, "%s: %s", path, archive_error_string(a) ?: "damaged or truncated tar");
	return 0;
}
