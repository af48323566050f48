/* OCI image layouts (a directory with oci-layout, index.json and
 * blobs/<alg>/<hex>): the blob source for imports of a directory and,
 * once extracted, of an OCI archive. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int img_open_in_root(int rootfd, const char *path, int flags)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};

	return syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

struct layout_src {
	int fd;
	const char *path;
};

static int layout_fetch(void *arg, struct store *s, const struct desc *d, struct progress *pr,
			struct cell_err *err)
{
	struct layout_src *l = arg;
	_cleanup_close_ int fd = -1;
	char p[128];

	snprintf(p, sizeof(p), "blobs/sha256/%s", d->digest + 7);
	fd = img_open_in_root(l->fd, p, O_RDONLY);
	if (fd < 0)
		return cell_err_set(err, errno, "%s: blob %s", l->path, d->digest);
	if (store_put_blob(s, fd, d->digest, d->size, pr, NULL, err) < 0)
		return cell_err_wrap(err, "%s", l->path);
	return 0;
}

static int read_small(int dirfd, const char *name, const char *path, json_t **out, struct cell_err *err)
{
	_cleanup_close_ int fd = img_open_in_root(dirfd, name, O_RDONLY);
	_cleanup_free_ char *buf = NULL;
	json_error_t jerr;
	size_t n = 0;
	ssize_t r;

	if (fd < 0)
		return cell_err_set(err, errno, "%s/%s", path, name);
	buf = malloc(MANIFEST_MAX + 1);
	if (!buf)
		return cell_err_set(err, ENOMEM, "%s/%s", path, name);
	while ((r = read(fd, buf + n, MANIFEST_MAX + 1 - n)) > 0)
		n += r;
	if (r < 0)
		return cell_err_set(err, errno, "%s/%s", path, name);
	if (n > MANIFEST_MAX)
		return cell_err_set(err, EFBIG, "%s/%s", path, name);
	*out = json_loadb(buf, n, 0, &jerr);
	if (!json_is_object(*out)) {
		json_decref(*out);
		return cell_err_set(err, 0, "%s/%s: not a JSON object (line %d: %s)", path, name, jerr.line,
				    jerr.text);
	}
	return 0;
}

int layout_import(struct store *s, int layoutfd, const char *path, const char *name,
		  const struct cell_image_opts *o, struct cell_image_result *res, struct cell_err *err)
{
	json_t *marker = NULL, *index = NULL;
	struct layout_src l = { .fd = layoutfd, .path = path };
	struct blob_source src = { .fetch = layout_fetch, .arg = &l };
	const char *tag = NULL, *ref_name = NULL;
	char full[512];
	struct desc top;
	size_t i;
	json_t *m;
	int ret = -1;

	if (read_small(layoutfd, "oci-layout", path, &marker, err) < 0)
		return cell_err_wrap(err, "not an OCI image layout");
	if (!json_is_string(json_object_get(marker, "imageLayoutVersion"))) {
		cell_err_set(err, 0, "%s/oci-layout: imageLayoutVersion missing", path);
		goto out;
	}
	if (read_small(layoutfd, "index.json", path, &index, err) < 0)
		goto out;
	if (name) {
		if (cell_image_ref_normalize(name, full, sizeof(full), err) < 0)
			goto out;
		tag = strrchr(full, ':') + 1;
	}
	if (index_pick(index, "index.json", tag, &top, err) < 0) {
		cell_err_wrap(err, "%s", path);
		goto out;
	}
	json_array_foreach(json_object_get(index, "manifests"), i, m)
		if (!strcmp(json_string_value(json_object_get(m, "digest")) ?: "", top.digest))
			ref_name = json_string_value(json_object_get(json_object_get(m, "annotations"),
								     "org.opencontainers.image.ref.name"));
	if (import_name(name, ref_name, path, full, sizeof(full), err) < 0)
		goto out;
	ret = import_manifest(s, &src, &top, full, o, res, err);
out:
	json_decref(marker);
	json_decref(index);
	return ret;
}
