/* The content-addressed store: blobs by digest, layers unpacked once,
 * names (refs) pointing at manifests, garbage collection. Everything
 * appears by an atomic link or rename, so a reader or a crash never sees
 * half a blob or half a layer. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define OVERLAYFS_MAGIC 0x794c7630

static const char *const store_dirs[] = { "blobs", "blobs/sha256", "layers", "layers/sha256",
					  "refs", "bundles", "tmp", "kernels" };

int store_open(const char *path, int lock, struct store *s, struct cell_err *err)
{
	*s = (struct store){ .dirfd = -1, .lockfd = -1 };
	if (cell_mkdir_p(path, 0711) < 0)
		return cell_err_set(err, errno, "store %s", path);
	s->dirfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (s->dirfd < 0)
		return cell_err_set(err, errno, "store %s", path);
	for (size_t i = 0; i < CELL_ARRAY_SIZE(store_dirs); i++)
		if (mkdirat(s->dirfd, store_dirs[i], 0700) < 0 && errno != EEXIST) {
			cell_err_set(err, errno, "store %s/%s", path, store_dirs[i]);
			goto fail;
		}
	s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lockfd < 0 || flock(s->lockfd, lock) < 0) {
		cell_err_set(err, errno, "lock store %s", path);
		goto fail;
	}
	s->path = realpath(path, NULL);
	if (!s->path) {
		cell_err_set(err, errno, "store %s", path);
		goto fail;
	}
	return 0;
fail:
	store_close(s);
	return -1;
}

void store_close(struct store *s)
{
	if (s->lockfd >= 0)
		close(s->lockfd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->path);
	*s = (struct store){ .dirfd = -1, .lockfd = -1 };
}

void img_progress_report(struct progress *pr, uint64_t bytes)
{
	if (!pr || !pr->o || !pr->o->progress)
		return;
	pr->p.bytes = bytes;
	pr->o->progress(pr->o->progress_arg, &pr->p);
}

static void blob_path(const char *digest, char *out, size_t len)
{
	snprintf(out, len, "blobs/sha256/%s", digest + 7);
}

bool store_has_blob(struct store *s, const char *digest)
{
	char p[128];

	blob_path(digest, p, sizeof(p));
	return faccessat(s->dirfd, p, F_OK, 0) == 0;
}

/* Link a finished O_TMPFILE into blobs/: the blob appears whole. */
static int link_blob(struct store *s, int fd, const char *digest, struct cell_err *err)
{
	char p[128], proc[64];

	blob_path(digest, p, sizeof(p));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	if (linkat(AT_FDCWD, proc, s->dirfd, p, AT_SYMLINK_FOLLOW) < 0 && errno != EEXIST)
		return cell_err_set(err, errno, "store blob %s", digest);
	return 0;
}

struct blob_writer {
	struct store *s;
	int fd;
	struct hasher *h;
	uint64_t n;
	int64_t size;
	const char *digest;
	struct progress *pr;
};

struct blob_writer *blob_writer_open(struct store *s, const char *digest, int64_t size,
				     struct progress *pr, struct cell_err *err)
{
	struct blob_writer *w;

	if (digest && !digest_valid(digest)) {
		cell_err_set(err, 0, "digest \"%s\" is not sha256:<64 hex digits>", digest);
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		cell_err_set(err, ENOMEM, "blob");
		return NULL;
	}
	*w = (struct blob_writer){ .s = s, .size = size, .digest = digest, .pr = pr, .h = hasher_new() };
	/* an O_TMPFILE has no name until it is complete and verified */
	w->fd = openat(s->dirfd, "tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);
	if (w->fd < 0 || !w->h) {
		cell_err_set(err, w->fd < 0 ? errno : ENOMEM, "store %s/tmp", s->path);
		blob_writer_free(w);
		return NULL;
	}
	return w;
}

int blob_writer_write(struct blob_writer *w, const void *buf, size_t len, struct cell_err *err)
{
	const char *what = w->digest ? w->digest : "blob";

	w->n += len;
	if (w->size >= 0 && w->n > (uint64_t)w->size)
		return cell_err_set(err, 0, "%s is larger than its descriptor's %lld bytes", what,
				    (long long)w->size);
	hasher_update(w->h, buf, len);
	if (cell_write_all(w->fd, buf, len) < 0)
		return cell_err_set(err, errno, "write %s into the store", what);
	img_progress_report(w->pr, w->n);
	return 0;
}

int blob_writer_commit(struct blob_writer *w, char *out, struct cell_err *err)
{
	const char *what = w->digest ? w->digest : "blob";
	char got[DIGEST_LEN + 1];

	hasher_final(w->h, got);
	w->h = NULL;
	if (w->size >= 0 && w->n != (uint64_t)w->size)
		return cell_err_set(err, 0, "%s is %llu bytes, its descriptor says %lld (truncated?)", what,
				    (unsigned long long)w->n, (long long)w->size);
	if (w->digest && strcmp(got, w->digest))
		return cell_err_set(err, 0, "%s: content has digest %s", w->digest, got);
	if (out)
		memcpy(out, got, DIGEST_LEN + 1);
	return link_blob(w->s, w->fd, got, err);
}

void blob_writer_free(struct blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	hasher_free(w->h);
	free(w);
}

int store_put_blob(struct store *s, int fd, const char *digest, int64_t size, struct progress *pr,
		   char *out, struct cell_err *err)
{
	struct blob_writer *w = blob_writer_open(s, digest, size, pr, err);
	_cleanup_free_ char *buf = malloc(1 << 20);
	int ret = -1;

	if (!w)
		return -1;
	if (!buf) {
		cell_err_set(err, ENOMEM, "blob");
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf, 1 << 20);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cell_err_set(err, errno, "read %s", digest ? digest : "blob");
			goto out;
		}
		if (r == 0)
			break;
		if (blob_writer_write(w, buf, r, err) < 0)
			goto out;
	}
	ret = blob_writer_commit(w, out, err);
out:
	blob_writer_free(w);
	return ret;
}

int store_put_blob_mem(struct store *s, const void *buf, size_t len, char out[DIGEST_LEN + 1],
		       struct cell_err *err)
{
	_cleanup_close_ int tmp = openat(s->dirfd, "tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0644);

	if (tmp < 0 || cell_write_all(tmp, buf, len) < 0)
		return cell_err_set(err, errno, "store %s/tmp", s->path);
	digest_buf(buf, len, out);
	return link_blob(s, tmp, out, err);
}

int store_open_blob(struct store *s, const char *digest, struct cell_err *err)
{
	char p[128];
	int fd;

	if (!digest_valid(digest))
		return cell_err_set(err, 0, "digest \"%s\" is not sha256:<64 hex digits>", digest);
	blob_path(digest, p, sizeof(p));
	fd = openat(s->dirfd, p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cell_err_set(err, errno, "blob %s", digest);
	return fd;
}

int store_read_blob(struct store *s, const char *digest, size_t max, char **out, size_t *len,
		    struct cell_err *err)
{
	char p[PATH_MAX];

	if (!digest_valid(digest))
		return cell_err_set(err, 0, "digest \"%s\" is not sha256:<64 hex digits>", digest);
	snprintf(p, sizeof(p), "%s/blobs/sha256/%s", s->path, digest + 7);
	return cell_read_file(p, out, len, max, err);
}

int store_mktemp(struct store *s, const char *prefix, char **name, struct cell_err *err)
{
	char p[PATH_MAX];
	size_t off = strlen(s->path) + 1;

	if (snprintf(p, sizeof(p), "%s/tmp/%s.XXXXXX", s->path, prefix) >= (int)sizeof(p))
		return cell_err_set(err, ENAMETOOLONG, "store %s", s->path);
	if (!mkdtemp(p))
		return cell_err_set(err, errno, "mkdtemp %s", p);
	*name = strdup(p + off);
	if (!*name) {
		rmdir(p);
		return cell_err_set(err, ENOMEM, "store");
	}
	return 0;
}

int store_layer_ensure(struct store *s, const char *digest, struct progress *pr, bool *unpacked,
		       struct cell_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int blob = -1, dest = -1;
	char final[128];

	*unpacked = false;
	snprintf(final, sizeof(final), "layers/sha256/%s", digest + 7);
	if (faccessat(s->dirfd, final, F_OK, 0) == 0)
		return 0;
	blob = store_open_blob(s, digest, err);
	if (blob < 0)
		return -1;
	if (store_mktemp(s, "layer", &tmp, err) < 0)
		return -1;
	dest = openat(s->dirfd, tmp, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	/* overlayfs lower dirs keep the mode of the image's root */
	if (dest < 0 || fchmod(dest, 0755) < 0) {
		cell_err_set(err, errno, "%s/%s", s->path, tmp);
		goto fail;
	}
	if (img_layer_unpack(blob, dest, digest, pr, err) < 0)
		goto fail;
	if (renameat(s->dirfd, tmp, s->dirfd, final) < 0) {
		/* a concurrent import unpacked the same layer first: keep theirs */
		if (errno == EEXIST || errno == ENOTEMPTY)
			return img_rm_tree(s->dirfd, tmp, err);
		cell_err_set(err, errno, "rename %s to %s", tmp, final);
		goto fail;
	}
	*unpacked = true;
	return 0;
fail:
	img_rm_tree(s->dirfd, tmp, &(struct cell_err){ 0 });
	return -1;
}

/* refs/<name with '/' as '+'>: '+' cannot appear in a reference. */
static void ref_file(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s", name);
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '+';
}

int store_set_ref(struct store *s, const char *name, const char *digest, struct cell_err *err)
{
	_cleanup_close_ int refs = openat(s->dirfd, "refs", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	char f[512], line[DIGEST_LEN + 2];

	if (refs < 0)
		return cell_err_set(err, errno, "store %s/refs", s->path);
	ref_file(name, f, sizeof(f));
	snprintf(line, sizeof(line), "%s\n", digest);
	return cell_write_file_durable(refs, f, line, strlen(line), 0644, err);
}

static DIR *open_store_dir(struct store *s, const char *name)
{
	int fd = openat(s->dirfd, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d && fd >= 0)
		close(fd);
	return d;
}

int store_refs_each(struct store *s, int (*fn)(void *arg, const char *name, const char *digest),
		    void *arg, struct cell_err *err)
{
	_cleanup_closedir_ DIR *d = open_store_dir(s, "refs");
	struct dirent *e;

	if (!d)
		return cell_err_set(err, errno, "store %s/refs", s->path);
	while ((e = readdir(d))) {
		char buf[DIGEST_LEN + 8] = "", name[512];
		_cleanup_close_ int f = -1;
		ssize_t n;
		int r;

		if (e->d_name[0] == '.')
			continue;
		f = openat(dirfd(d), e->d_name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (f < 0)
			continue;
		n = read(f, buf, sizeof(buf) - 1);
		if (n < DIGEST_LEN)
			continue;
		buf[DIGEST_LEN] = '\0';
		if (!digest_valid(buf))
			continue;
		snprintf(name, sizeof(name), "%s", e->d_name);
		for (char *p = name; *p; p++)
			if (*p == '+')
				*p = '/';
		if ((r = fn(arg, name, buf)))
			return r;
	}
	return 0;
}

struct resolve {
	const char *prefix;          /* hex digits without sha256: */
	char name[512];
	char digest[DIGEST_LEN + 1];
	int matches;
};

static int resolve_one(void *arg, const char *name, const char *digest)
{
	struct resolve *r = arg;

	if (strncmp(digest + 7, r->prefix, strlen(r->prefix)))
		return 0;
	/* several names of one image are one match */
	if (!r->matches || strcmp(r->digest, digest))
		r->matches++;
	if (!r->name[0] || strcmp(name, r->name) < 0)
		snprintf(r->name, sizeof(r->name), "%s", name);
	memcpy(r->digest, digest, sizeof(r->digest));
	return 0;
}

int store_resolve(struct store *s, const char *ref, char name[512], char digest[DIGEST_LEN + 1],
		  struct cell_err *err)
{
	struct resolve r = { 0 };
	char norm[512], f[512], p[PATH_MAX];
	_cleanup_free_ char *text = NULL;
	size_t hex = strspn(ref, "0123456789abcdef");

	if (!strncmp(ref, "sha256:", 7) || (hex >= 6 && !ref[hex])) {
		r.prefix = strncmp(ref, "sha256:", 7) ? ref : ref + 7;
		if (store_refs_each(s, resolve_one, &r, err) < 0)
			return -1;
		if (r.matches > 1)
			return cell_err_set(err, 0, "%s matches %d images; give more digits", ref, r.matches);
		if (r.matches == 1) {
			memcpy(name, r.name, 512);
			memcpy(digest, r.digest, DIGEST_LEN + 1);
			return 0;
		}
		if (ref[hex] == '\0' || !strncmp(ref, "sha256:", 7))
			return cell_err_set(err, ENOENT, "image %s", ref);
	}
	if (cell_image_ref_normalize(ref, norm, sizeof(norm), err) < 0)
		return -1;
	ref_file(norm, f, sizeof(f));
	snprintf(p, sizeof(p), "%s/refs/%s", s->path, f);
	if (cell_read_file(p, &text, NULL, 256, err) < 0) {
		if (err->errnum == ENOENT)
			return cell_err_set(err, ENOENT, "image %s is not in the store %s", norm, s->path);
		return -1;
	}
	text[strcspn(text, "\n")] = '\0';
	if (!digest_valid(text))
		return cell_err_set(err, 0, "store %s: ref %s is damaged", s->path, norm);
	memcpy(name, norm, strlen(norm) + 1);
	memcpy(digest, text, DIGEST_LEN + 1);
	return 0;
}

int cell_image_ref_normalize(const char *in, char *out, size_t len, struct cell_err *err)
{
	const char *slash = strrchr(in, '/'), *colon = strrchr(in, ':');
	size_t n = strlen(in);

	if (!n || n > 255 || strspn(in, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-/:@") != n
	    || in[0] == '/' || in[0] == '.' || in[0] == ':' || strstr(in, "//") || strstr(in, "/.")
	    || in[n - 1] == '/' || in[n - 1] == ':')
		return cell_err_set(err, 0, "\"%s\" is not an image reference NAME[:TAG]", in);
	/* a colon before the last slash is a registry port, not a tag */
	if (colon && (!slash || colon > slash))
		snprintf(out, len, "%s", in);
	else
		snprintf(out, len, "%s:latest", in);
	return 0;
}

/* ---- garbage collection */

struct gc {
	struct store *s;
	json_t *live;
};

static void live_add_manifest(struct gc *g, const char *digest)
{
	struct manifest m = { 0 };

	json_object_set_new(g->live, digest, json_true());
	if (manifest_load(g->s, digest, &m, &(struct cell_err){ 0 }) < 0)
		return;
	json_object_set_new(g->live, m.config.digest, json_true());
	for (size_t i = 0; i < m.n_layers; i++)
		json_object_set_new(g->live, m.layers[i].digest, json_true());
	manifest_free(&m);
}

static int gc_ref(void *arg, const char *name, const char *digest)
{
	live_add_manifest(arg, digest);
	return 0;
}

/* A bundle record is live while its bundle's rootfs is still our overlay. */
static bool bundle_live(struct store *s, const char *rec)
{
	char p[PATH_MAX], back[PATH_MAX];
	_cleanup_free_ char *dir = NULL, *mark = NULL;
	struct statfs sf;

	snprintf(p, sizeof(p), "%s/bundles/%s/bundle", s->path, rec);
	if (cell_read_file(p, &dir, NULL, PATH_MAX, &(struct cell_err){ 0 }) < 0)
		return false;
	snprintf(p, sizeof(p), "%s/.cell-image", dir);
	snprintf(back, sizeof(back), "%s/bundles/%s", s->path, rec);
	if (cell_read_file(p, &mark, NULL, PATH_MAX, &(struct cell_err){ 0 }) < 0 || strcmp(mark, back))
		return false;
	snprintf(p, sizeof(p), "%s/rootfs", dir);
	return statfs(p, &sf) == 0 && sf.f_type == OVERLAYFS_MAGIC;
}

static void gc_bundles(struct gc *g, unsigned *removed)
{
	_cleanup_closedir_ DIR *d = open_store_dir(g->s, "bundles");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char p[PATH_MAX];
		_cleanup_free_ char *layers = NULL;

		if (e->d_name[0] == '.')
			continue;
		if (!bundle_live(g->s, e->d_name)) {
			char rel[PATH_MAX];
			snprintf(rel, sizeof(rel), "bundles/%s", e->d_name);
			if (img_rm_tree(g->s->dirfd, rel, &(struct cell_err){ 0 }) == 0)
				(*removed)++;
			continue;
		}
		snprintf(p, sizeof(p), "%s/bundles/%s/layers", g->s->path, e->d_name);
		if (cell_read_file(p, &layers, NULL, 1 << 20, &(struct cell_err){ 0 }) < 0)
			continue;
		for (char *save, *l = strtok_r(layers, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			json_object_set_new(g->live, l, json_true());
	}
}

/* Remove entries of dir/ (blobs or layers) whose digest is not live. */
static void gc_dir(struct gc *g, const char *dir, unsigned *removed)
{
	_cleanup_closedir_ DIR *d = open_store_dir(g->s, dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char dg[NAME_MAX + 16], rel[PATH_MAX];

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(dg, sizeof(dg), "sha256:%s", e->d_name);
		if (json_object_get(g->live, dg))
			continue;
		snprintf(rel, sizeof(rel), "%s/%s", dir, e->d_name);
		if (img_rm_tree(g->s->dirfd, rel, &(struct cell_err){ 0 }) == 0)
			(*removed)++;
	}
}

int store_gc(struct store *s, unsigned *removed, struct cell_err *err)
{
	struct gc g = { .s = s, .live = json_object() };
	unsigned n = 0;

	if (!g.live)
		return cell_err_set(err, ENOMEM, "gc");
	if (store_refs_each(s, gc_ref, &g, err) < 0) {
		json_decref(g.live);
		return -1;
	}
	gc_bundles(&g, &n);
	gc_dir(&g, "blobs/sha256", &n);
	gc_dir(&g, "layers/sha256", &n);
	/* only under the exclusive lock: no import is using tmp/ now */
	json_object_clear(g.live);
	gc_dir(&g, "tmp", &n);
	/* unpacked kernels are made again on demand; a VMM keeps its open fd */
	gc_dir(&g, "kernels", &n);
	json_decref(g.live);
	if (removed)
		*removed = n;
	return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (remove(path) < 0 && errno != ENOENT)
		return errno;
	return 0;
}

int img_rm_tree(int dirfd, const char *name, struct cell_err *err)
{
	char base[PATH_MAX], p[PATH_MAX], link[64];
	ssize_t n;
	int r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	n = readlink(link, base, sizeof(base) - 1);
	if (n < 0)
		return cell_err_set(err, errno, "readlink %s", link);
	base[n] = '\0';
	if (snprintf(p, sizeof(p), "%s/%s", base, name) >= (int)sizeof(p))
		return cell_err_set(err, ENAMETOOLONG, "remove %s/%s", base, name);
	/* FTW_PHYS: never follow a symlink out; FTW_MOUNT: never into a mount */
	r = nftw(p, rm_entry, 64, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (r < 0 && errno == ENOENT)
		return 0;
	if (r != 0)
		return cell_err_set(err, r > 0 ? r : errno, "remove %s", p);
	return 0;
}
