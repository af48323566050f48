/* The import flow every source shares: manifest (or an index's linux/amd64
 * entry), config, layers into the store, each verified on the way in,
 * layers unpacked, and only then the name: an image is whole or absent. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>

static int fetch(struct store *s, const struct blob_source *src, const struct desc *d,
		 struct progress *pr, struct cell_err *err)
{
	if (store_has_blob(s, d->digest))
		return 0;
	return src->fetch(src->arg, s, d, pr, err);
}

static int read_json_blob(struct store *s, const char *digest, size_t max, const char *what,
			  json_t **out, struct cell_err *err)
{
	_cleanup_free_ char *text = NULL;
	json_error_t jerr;
	size_t len;

	if (store_read_blob(s, digest, max, &text, &len, err) < 0)
		return cell_err_wrap(err, "%s", what);
	*out = json_loadb(text, len, 0, &jerr);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return cell_err_set(err, 0, "%s %.19s: not a JSON object (%s)", what, digest, jerr.text);
	}
	return 0;
}

/* The manifest of `top`, stepping through one index if top is one. */
static int resolve_manifest(struct store *s, const struct blob_source *src, const struct desc *top,
			    struct desc *out, struct cell_err *err)
{
	_cleanup_free_ char *text = NULL;
	json_t *doc = NULL;
	const char *mt;
	int r;

	if (top->size > MANIFEST_MAX)
		return cell_err_set(err, EFBIG, "manifest %s: %lld bytes is too large", top->digest,
				    (long long)top->size);
	if (fetch(s, src, top, NULL, err) < 0)
		return -1;
	if (read_json_blob(s, top->digest, MANIFEST_MAX, "manifest", &doc, err) < 0)
		return -1;
	mt = json_string_value(json_object_get(doc, "mediaType"));
	if (media_is_index(top->media_type) || (mt && media_is_index(mt)) ||
	    (!mt && json_is_array(json_object_get(doc, "manifests")))) {
		r = index_pick(doc, "image index", NULL, out, err);
		json_decref(doc);
		if (r < 0)
			return -1;
		if (out->size > MANIFEST_MAX)
			return cell_err_set(err, EFBIG, "manifest %s is too large", out->digest);
		return fetch(s, src, out, NULL, err);
	}
	json_decref(doc);
	*out = *top;
	return 0;
}

int import_manifest(struct store *s, const struct blob_source *src, const struct desc *top,
		    const char *name, const struct cell_image_opts *o, struct cell_image_result *res,
		    struct cell_err *err)
{
	struct manifest m = { 0 };
	struct desc md;
	json_t *config = NULL;
	const json_t *diff_ids;
	int ret = -1;

	if (resolve_manifest(s, src, top, &md, err) < 0 || manifest_load(s, md.digest, &m, err) < 0)
		return -1;
	if (m.config.size > CONFIG_MAX) {
		cell_err_set(err, EFBIG, "image config %s is too large", m.config.digest);
		goto out;
	}
	if (fetch(s, src, &m.config, NULL, err) < 0 ||
	    read_json_blob(s, m.config.digest, CONFIG_MAX, "image config", &config, err) < 0 ||
	    config_check_platform(config, err) < 0)
		goto out;
	diff_ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	if (!json_is_array(diff_ids) || json_array_size(diff_ids) != m.n_layers) {
		cell_err_set(err, 0, "image config: rootfs.diff_ids does not list the manifest's %zu layers",
			     m.n_layers);
		goto out;
	}
	for (size_t i = 0; i < m.n_layers; i++) {
		struct progress pr = { .o = o, .p = { .phase = "copy", .layer = i + 1, .layers = m.n_layers,
						      .total = m.layers[i].size } };
		if (fetch(s, src, &m.layers[i], &pr, err) < 0)
			goto out;
	}
	res->unpacked = 0;
	for (size_t i = 0; i < m.n_layers; i++) {
		struct progress pr = { .o = o, .p = { .phase = "unpack", .layer = i + 1, .layers = m.n_layers,
						      .total = m.layers[i].size } };
		bool unpacked;
		if (store_layer_ensure(s, m.layers[i].digest, &pr, &unpacked, err) < 0)
			goto out;
		res->unpacked += unpacked;
	}
	if (store_set_ref(s, name, md.digest, err) < 0)
		goto out;
	snprintf(res->name, sizeof(res->name), "%s", name);
	memcpy(res->digest, md.digest, DIGEST_LEN + 1);
	res->layers = m.n_layers;
	ret = 0;
out:
	json_decref(config);
	manifest_free(&m);
	return ret;
}

void import_cleanup(const char *path)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };

	/* another import holds the store: it may be using what we would drop */
	if (store_open(path, LOCK_EX | LOCK_NB, &s, &(struct cell_err){ 0 }) < 0)
		return;
	store_gc(&s, NULL, &(struct cell_err){ 0 });
}

/* A short, valid name from a file name: "My Image.tar.gz" → "my-image". */
static void name_from_path(const char *path, const char *tag, char *out, size_t len)
{
	const char *b = strrchr(path, '/');
	static const char *const exts[] = { ".tar.gz", ".tar.zst", ".tgz", ".tar", ".oci", ".zst", ".gz" };
	size_t n, o = 0;
	char tmp[256];

	while (b && !b[1] && b > path) { /* "dir/" */
		const char *p = b - 1;
		while (p > path && *p != '/')
			p--;
		b = *p == '/' ? p : NULL;
		break;
	}
	snprintf(tmp, sizeof(tmp), "%s", b ? b + 1 : path);
	tmp[strcspn(tmp, "/")] = '\0';
	n = strlen(tmp);
	for (size_t i = 0; i < CELL_ARRAY_SIZE(exts); i++) {
		size_t e = strlen(exts[i]);
		if (n > e && !strcmp(tmp + n - e, exts[i])) {
			tmp[n - e] = '\0';
			break;
		}
	}
	for (const char *p = tmp; *p && o + 1 < len; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? *p + 32 : *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
		if (!ok || (o == 0 && (c == '.' || c == '-')))
			c = '-';
		out[o++] = c;
	}
	out[o] = '\0';
	if (!o)
		snprintf(out, len, "image");
	n = strlen(out);
	snprintf(out + n, len - n, ":%s", tag ? tag : "latest");
}

/* The name to store under: --name, the source's own, or the file's. */
int import_name(const char *given, const char *from_source, const char *path, char *out, size_t len,
		struct cell_err *err)
{
	char tmp[512];

	if (given)
		return cell_image_ref_normalize(given, out, len, err);
	if (from_source && (strchr(from_source, '/') || strchr(from_source, ':')))
		return cell_image_ref_normalize(from_source, out, len, err);
	name_from_path(path, from_source, tmp, sizeof(tmp));
	return cell_image_ref_normalize(tmp, out, len, err);
}

int cell_image_import(const char *store, const char *path, const struct cell_image_opts *o,
		      struct cell_image_result *res, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	_cleanup_close_ int dfd = -1;
	int r;

	if (o->name) {
		char tmp[512];
		if (cell_image_ref_normalize(o->name, tmp, sizeof(tmp), err) < 0)
			return -1;
	}
	if (store_open(store, LOCK_SH, &s, err) < 0)
		return -1;
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		r = layout_import(&s, dfd, path, o->name, o, res, err);
	else if (errno == ENOTDIR)
		r = archive_import(&s, path, o->name, o, res, err);
	else
		r = cell_err_set(err, errno, "%s", path);
	if (r < 0) {
		store_close(&s);
		import_cleanup(store);
	}
	return r;
}
