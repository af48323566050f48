/* Archives: an OCI archive (a tar of a layout), a docker-archive
 * (`docker save`, `podman save`) and a plain rootfs tar. The first two are
 * extracted into the store's tmp/ and read from there; a rootfs tar
 * becomes the one layer of an image whose config cell writes. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/util.h"

#include <archive.h>
#include <archive_entry.h>

#include "dl.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum kind { KIND_ROOTFS, KIND_OCI, KIND_DOCKER };

static const char layer_tar[] = "application/vnd.oci.image.layer.v1.tar";

/* What the top level of the tar holds tells the kind apart. */
static int detect(const char *path, enum kind *k, struct cell_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_archive_ struct archive *a = NULL;
	struct archive_entry *e;
	bool layout = false, index = false, manifest = false;
	int r;

	if (fd < 0)
		return cell_err_set(err, errno, "%s", path);
	if (!(a = img_tar_reader(fd, false)))
		return cell_err_set(err, 0, "%s: not a tar archive", path);
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		char n[PATH_MAX];
		if (!archive_entry_pathname(e) || img_path_normalize(archive_entry_pathname(e), n, sizeof(n)) != 0)
			continue;
		layout |= !strcmp(n, "oci-layout");
		index |= !strcmp(n, "index.json");
		manifest |= !strcmp(n, "manifest.json");
	}
	if (r != ARCHIVE_EOF)
		return cell_err_set(err, 0, "%s: %s", path, archive_error_string(a) ?: "not a tar archive");
	*k = layout && index ? KIND_OCI : manifest ? KIND_DOCKER : KIND_ROOTFS;
	return 0;
}

/* The layer's media type from its first bytes. */
static void layer_media_type(int fd, char *out, size_t len)
{
	unsigned char m[4] = { 0 };

	if (pread(fd, m, 4, 0) == 4 && m[0] == 0x1f && m[1] == 0x8b)
		snprintf(out, len, "%s+gzip", layer_tar);
	else if (m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
		snprintf(out, len, "%s+zstd", layer_tar);
	else
		snprintf(out, len, "%s", layer_tar);
}

/* sha256 of the uncompressed tar: the config's rootfs.diff_ids entry. */
static int diff_id(int fd, const char *blob_digest, char out[DIGEST_LEN + 1], struct cell_err *err)
{
	_cleanup_archive_ struct archive *a = NULL;
	struct archive_entry *e;
	struct hasher *h;
	char mt[128], buf[1 << 16];
	ssize_t n;

	layer_media_type(fd, mt, sizeof(mt));
	if (!strcmp(mt, layer_tar)) {
		memcpy(out, blob_digest, DIGEST_LEN + 1);
		return 0;
	}
	if (lseek(fd, 0, SEEK_SET) < 0 || !(a = img_tar_reader(fd, true)) || archive_read_next_header(a, &e) != ARCHIVE_OK)
		return cell_err_set(err, 0, "layer %s: cannot decompress", blob_digest);
	if (!(h = hasher_new()))
		return cell_err_set(err, ENOMEM, "hash");
	while ((n = archive_read_data(a, buf, sizeof(buf))) > 0)
		hasher_update(h, buf, n);
	if (n < 0) {
		hasher_free(h);
		return cell_err_set(err, 0, "layer %s: %s", blob_digest, archive_error_string(a) ?: "damaged");
	}
	hasher_final(h, out);
	return 0;
}

/* Everything is in the store already: a missing blob is our bug. */
static int store_fetch(void *arg, struct store *s, const struct desc *d, struct progress *pr,
		       struct cell_err *err)
{
	return cell_err_set(err, ENOENT, "blob %s", d->digest);
}

static json_t *descriptor(const char *mt, const char *digest, int64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size", (json_int_t)size);
}

/* Store a manifest for config + layers and import it under name. */
static int import_built(struct store *s, const char *config_digest, int64_t config_size,
			json_t *layers, const char *name, const struct cell_image_opts *o,
			struct cell_image_result *res, struct cell_err *err)
{
	static const struct blob_source src = { .fetch = store_fetch };
	json_t *m = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
			      "application/vnd.oci.image.manifest.v1+json", "config",
			      descriptor("application/vnd.oci.image.config.v1+json", config_digest, config_size),
			      "layers", layers);
	_cleanup_free_ char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	struct desc top = { .media_type = "application/vnd.oci.image.manifest.v1+json" };

	json_decref(m);
	if (!text)
		return cell_err_set(err, ENOMEM, "manifest");
	if (store_put_blob_mem(s, text, strlen(text), top.digest, err) < 0)
		return -1;
	top.size = strlen(text);
	return import_manifest(s, &src, &top, name, o, res, err);
}

static int rootfs_import(struct store *s, const char *path, const char *name,
			 const struct cell_image_opts *o, struct cell_image_result *res, struct cell_err *err)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC), blob = -1;
	struct progress pr = { .o = o, .p = { .phase = "copy", .layer = 1, .layers = 1 } };
	char digest[DIGEST_LEN + 1], did[DIGEST_LEN + 1], cdigest[DIGEST_LEN + 1], mt[128], created[48];
	char full[512];
	_cleanup_free_ char *text = NULL;
	json_t *config;
	off_t size;

	if (fd < 0)
		return cell_err_set(err, errno, "%s", path);
	if (import_name(name, NULL, path, full, sizeof(full), err) < 0)
		return -1;
	size = lseek(fd, 0, SEEK_END);
	if (size < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return cell_err_set(err, errno, "%s", path);
	pr.p.total = size;
	if (store_put_blob(s, fd, NULL, -1, &pr, digest, err) < 0)
		return cell_err_wrap(err, "%s", path);
	blob = store_open_blob(s, digest, err);
	if (blob < 0 || diff_id(blob, digest, did, err) < 0)
		return cell_err_wrap(err, "%s", path);
	layer_media_type(blob, mt, sizeof(mt));
	cell_time_rfc3339(created, sizeof(created));
	config = json_pack("{s:s, s:s, s:s, s:{s:[s], s:[s]}, s:{s:s, s:[s]}}", "architecture", "amd64",
			   "os", "linux", "created", created, "config", "Env",
			   "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "Cmd", "/bin/sh",
			   "rootfs", "type", "layers", "diff_ids", did);
	text = config ? json_dumps(config, JSON_COMPACT) : NULL;
	json_decref(config);
	if (!text)
		return cell_err_set(err, ENOMEM, "config");
	if (store_put_blob_mem(s, text, strlen(text), cdigest, err) < 0)
		return -1;
	return import_built(s, cdigest, strlen(text), json_pack("[o]", descriptor(mt, digest, size)), full,
			    o, res, err);
}

/* "<64 hex>.json" or "blobs/sha256/<64 hex>": a name that is a digest. */
static bool digest_in_name(const char *p, char out[DIGEST_LEN + 1])
{
	const char *b = strrchr(p, '/');
	char d[DIGEST_LEN + 8];

	b = b ? b + 1 : p;
	snprintf(d, sizeof(d), "sha256:%.64s", b);
	if (!digest_valid(d) || (b[64] && strcmp(b + 64, ".json")))
		return false;
	memcpy(out, d, DIGEST_LEN + 1);
	return true;
}

/* Copy one file of the extracted archive into the store, verified when
 * its name is a digest. */
static int put_file(struct store *s, int dirfd, const char *rel, const char *path, struct progress *pr,
		    char out[DIGEST_LEN + 1], int64_t *size, struct cell_err *err)
{
	_cleanup_close_ int fd = -1;
	char named[DIGEST_LEN + 1];
	bool check = digest_in_name(rel, named);
	off_t sz;

	fd = img_open_in_root(dirfd, rel, O_RDONLY);
	if (fd < 0)
		return cell_err_set(err, errno, "%s: %s is missing", path, rel);
	sz = lseek(fd, 0, SEEK_END);
	if (sz < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return cell_err_set(err, errno, "%s: %s", path, rel);
	if (pr)
		pr->p.total = sz;
	if (store_put_blob(s, fd, check ? named : NULL, sz, pr, out, err) < 0)
		return cell_err_wrap(err, "%s: %s", path, rel);
	*size = sz;
	return 0;
}

static int docker_import(struct store *s, int dirfd, const char *path, const char *name,
			 const struct cell_image_opts *o, struct cell_image_result *res, struct cell_err *err)
{
	_cleanup_close_ int mfd = img_open_in_root(dirfd, "manifest.json", O_RDONLY);
	_cleanup_free_ char *text = NULL;
	json_t *doc = NULL, *config = NULL, *layers = NULL;
	const json_t *entry, *ls, *diff_ids, *tags;
	char cdigest[DIGEST_LEN + 1], full[512], mp[64];
	const char *cpath;
	int64_t csize;
	size_t cap = CONFIG_MAX;
	int ret = -1;

	snprintf(mp, sizeof(mp), "/proc/self/fd/%d", mfd);
	if (mfd < 0 || cell_read_file(mp, &text, NULL, MANIFEST_MAX, err) < 0)
		return cell_err_set(err, errno, "%s: manifest.json", path);
	doc = json_loads(text, 0, NULL);
	entry = json_array_get(doc, 0);
	cpath = json_string_value(json_object_get(entry, "Config"));
	ls = json_object_get(entry, "Layers");
	tags = json_object_get(entry, "RepoTags");
	if (!json_is_array(doc) || !cpath || !json_is_array(ls) || json_array_size(ls) > LAYERS_MAX) {
		cell_err_set(err, 0, "%s: manifest.json: expected [{Config, Layers, RepoTags}]", path);
		goto out;
	}
	if (json_array_size(doc) > 1 && !name) {
		cell_err_set(err, 0, "%s holds %zu images; this imports the first only with --name", path,
			     json_array_size(doc));
		goto out;
	}
	if (import_name(name, json_string_value(json_array_get(tags, 0)), path, full, sizeof(full), err) < 0 ||
	    put_file(s, dirfd, cpath, path, NULL, cdigest, &csize, err) < 0)
		goto out;
	free(text);
	text = NULL;
	if (store_read_blob(s, cdigest, cap, &text, NULL, err) < 0 || !(config = json_loads(text, 0, NULL))) {
		cell_err_set(err, 0, "%s: %s: not JSON", path, cpath);
		goto out;
	}
	diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	if (!json_is_array(diff_ids) || json_array_size(diff_ids) != json_array_size(ls)) {
		cell_err_set(err, 0, "%s: %s: rootfs.diff_ids does not match the %zu layers", path, cpath,
			     json_array_size(ls));
		goto out;
	}
	layers = json_array();
	for (size_t i = 0; i < json_array_size(ls); i++) {
		const char *lp = json_string_value(json_array_get(ls, i));
		struct progress pr = { .o = o, .p = { .phase = "copy", .layer = i + 1, .layers = json_array_size(ls) } };
		char ld[DIGEST_LEN + 1], did[DIGEST_LEN + 1], mt[128];
		_cleanup_close_ int blob = -1;
		int64_t lsize;

		if (!lp) {
			cell_err_set(err, 0, "%s: manifest.json: Layers[%zu] is not a string", path, i);
			goto out;
		}
		if (put_file(s, dirfd, lp, path, &pr, ld, &lsize, err) < 0)
			goto out;
		/* a docker-archive's integrity is its config's diff_ids */
		blob = store_open_blob(s, ld, err);
		if (blob < 0 || diff_id(blob, ld, did, err) < 0)
			goto out;
		if (strcmp(did, json_string_value(json_array_get(diff_ids, i)) ?: "")) {
			cell_err_set(err, 0, "%s: %s: content has digest %s, the config's diff_ids[%zu] says %s",
				     path, lp, did, i, json_string_value(json_array_get(diff_ids, i)) ?: "nothing");
			goto out;
		}
		layer_media_type(blob, mt, sizeof(mt));
		json_array_append_new(layers, descriptor(mt, ld, lsize));
	}
	ret = import_built(s, cdigest, csize, CELL_STEAL(layers), full, o, res, err);
out:
	json_decref(layers);
	json_decref(config);
	json_decref(doc);
	return ret;
}

int archive_import(struct store *s, const char *path, const char *name,
		   const struct cell_image_opts *o, struct cell_image_result *res, struct cell_err *err)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int dfd = -1;
	enum kind k = KIND_ROOTFS;
	int ret = -1;

	if (detect(path, &k, err) < 0)
		return -1;
	if (k == KIND_ROOTFS)
		return rootfs_import(s, path, name, o, res, err);
	if (store_mktemp(s, "archive", &tmp, err) < 0)
		return -1;
	dfd = openat(s->dirfd, tmp, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0)
		cell_err_set(err, errno, "%s/%s", s->path, tmp);
	else if (img_tar_extract_plain(path, dfd, err) == 0)
		ret = k == KIND_OCI ? layout_import(s, dfd, path, name, o, res, err)
				    : docker_import(s, dfd, path, name, o, res, err);
	img_rm_tree(s->dirfd, tmp, &(struct cell_err){ 0 });
	return ret;
}
