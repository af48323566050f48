/* Bundles from stored images: rootfs is an overlayfs of the unpacked
 * layers with an upper dir of its own (nothing is copied), config.json
 * comes from the image config. A record under <store>/bundles/ names the
 * layers a live bundle uses, so removing an image never pulls a layer
 * from under a running container. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/spec.h"
#include "../runtime/state.h"
#include "../runtime/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define MARKER ".cell-image"
#define MOUNT_DATA_MAX 4000          /* mount(2) data is one page */

static const char default_path[] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static int write_at(const char *dir, const char *name, const char *text, struct cell_err *err)
{
	_cleanup_close_ int fd = open(dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cell_err_set(err, errno, "%s", dir);
	return cell_write_file_atomic(fd, name, text, strlen(text), 0644, err);
}

static json_t *strv_concat(const json_t *a, const json_t *b)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(a, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	json_array_foreach(b, i, v)
		if (json_is_string(v))
			json_array_append(out, v);
	return out;
}

/* config.json: cell's default spec with the image's process and labels. */
static int make_config(int rootfd, const json_t *image, const char *name, const char *digest,
		       char **out, struct cell_err *err)
{
	_cleanup_free_ char *def = cell_spec_default();
	const json_t *ic = json_object_get(image, "config"), *labels = json_object_get(ic, "Labels"), *v;
	json_t *doc = def ? json_loads(def, 0, NULL) : NULL, *proc, *env, *args, *ann;
	const char *cwd = json_string_value(json_object_get(ic, "WorkingDir")), *key;
	const char *stop = json_string_value(json_object_get(ic, "StopSignal"));
	size_t i;
	bool has_path = false;

	if (!doc)
		return cell_err_set(err, ENOMEM, "config.json");
	proc = json_object_get(doc, "process");
	args = strv_concat(json_object_get(ic, "Entrypoint"), json_object_get(ic, "Cmd"));
	if (!json_array_size(args))
		json_array_append_new(args, json_string("sh"));
	json_object_set_new(proc, "args", args);
	json_object_set_new(proc, "terminal", json_false());
	env = strv_concat(json_object_get(ic, "Env"), NULL);
	json_array_foreach(env, i, v)
		has_path |= !strncmp(json_string_value(v), "PATH=", 5);
	if (!has_path)
		json_array_insert_new(env, 0, json_string(default_path));
	json_object_set_new(proc, "env", env);
	json_object_set_new(proc, "cwd", json_string(cwd && cwd[0] == '/' ? cwd : "/"));
	if (img_user_resolve(rootfd, json_string_value(json_object_get(ic, "User")), proc, err) < 0) {
		json_decref(doc);
		return -1;
	}
	json_object_set_new(doc, "root", json_pack("{s:s, s:b}", "path", "rootfs", "readonly", 0));
	ann = json_object();
	json_object_foreach((json_t *)labels, key, v)
		if (json_is_string(v))
			json_object_set(ann, key, (json_t *)v);
	if (stop)
		json_object_set_new(ann, "org.opencontainers.image.stopSignal", json_string(stop));
	json_object_set_new(ann, "org.opencontainers.image.ref.name", json_string(name));
	json_object_set_new(ann, "org.opencontainers.image.digest", json_string(digest));
	json_object_set_new(doc, "annotations", ann);
	*out = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	return *out ? 0 : cell_err_set(err, ENOMEM, "config.json");
}

/* lowerdir=top:...:bottom, upperdir, workdir, in one mount(2) page. */
static int mount_rootfs(struct store *s, const struct manifest *m, const char *rec, const char *rootfs,
			struct cell_err *err)
{
	_cleanup_free_ char *data = malloc(MOUNT_DATA_MAX + 256);
	size_t o = 0;

	if (!data)
		return cell_err_set(err, ENOMEM, "mount");
	o += snprintf(data, MOUNT_DATA_MAX, "lowerdir=");
	for (size_t i = m->n_layers; i-- > 0;) {
		o += snprintf(data + o, MOUNT_DATA_MAX + 256 - o, "%s%s/layers/sha256/%s",
			      i + 1 == m->n_layers ? "" : ":", s->path, m->layers[i].digest + 7);
		if (o >= MOUNT_DATA_MAX)
			return cell_err_set(err, E2BIG, "%zu layers are too many for one overlay mount",
					    m->n_layers);
	}
	if (!m->n_layers)
		o += snprintf(data + o, MOUNT_DATA_MAX + 256 - o, "%s/empty", rec);
	o += snprintf(data + o, MOUNT_DATA_MAX + 256 - o, ",upperdir=%s/upper,workdir=%s/work", rec, rec);
	if (o >= MOUNT_DATA_MAX)
		return cell_err_set(err, E2BIG, "overlay mount options are too long");
	/* the upper dir dies with the bundle: no need for overlayfs to sync
	 * it (volatile, Linux 5.10+), which makes umount cheap */
	snprintf(data + o, MOUNT_DATA_MAX + 256 - o, ",volatile");
	if (mount("overlay", rootfs, "overlay", 0, data) == 0)
		return 0;
	data[o] = '\0';
	if (mount("overlay", rootfs, "overlay", 0, data) < 0)
		return cell_err_set(err, errno, "mount overlay on %s", rootfs);
	return 0;
}

static bool dir_empty(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return errno == ENOENT;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			return false;
	return true;
}

/* Make the bundle; `dir` NULL: the record itself is the bundle. */
static int bundle_make(const char *store, const char *ref, const char *dir, const char *id,
		       char **made, struct cell_err *err)
{
	_cleanup_store_ struct store s = { .dirfd = -1, .lockfd = -1 };
	_cleanup_free_ char *text = NULL, *image_text = NULL, *bdir = NULL, *layers = NULL;
	_cleanup_close_ int rootfd = -1;
	struct manifest m = { 0 };
	char name[512], digest[DIGEST_LEN + 1], rec[PATH_MAX], rootfs[PATH_MAX + 8], p[PATH_MAX + 16];
	json_t *image = NULL;
	bool mounted = false, made_dir = false;
	size_t off = 0;
	int ret = -1;

	/* the id names the record under bundles/: it must be a plain name */
	if (id && cell_id_check(id, err) < 0)
		return -1;
	if (store_open(store, LOCK_SH, &s, err) < 0)
		return -1;
	if (store_resolve(&s, ref, name, digest, err) < 0 || manifest_load(&s, digest, &m, err) < 0)
		return -1;
	if (store_read_blob(&s, m.config.digest, CONFIG_MAX, &image_text, NULL, err) < 0 ||
	    !(image = json_loads(image_text, 0, NULL))) {
		cell_err_set(err, err->msg[0] ? err->errnum : 0, "%s: image config unreadable", name);
		goto out;
	}
	if (dir) {
		if (!dir_empty(dir)) {
			cell_err_set(err, EEXIST, "bundle directory %s is not empty", dir);
			goto out;
		}
		if (mkdir(dir, 0755) == 0)
			made_dir = true;
		else if (errno != EEXIST) {
			cell_err_set(err, errno, "mkdir %s", dir);
			goto out;
		}
		bdir = realpath(dir, NULL);
	}
	snprintf(rec, sizeof(rec), "%s/bundles/%s.XXXXXX", s.path, id ? id : "bundle");
	if (!mkdtemp(rec)) {
		cell_err_set(err, errno, "mkdtemp %s", rec);
		goto out;
	}
	if (!bdir)
		bdir = strdup(rec);
	layers = calloc(m.n_layers + 1, DIGEST_LEN + 1);
	if (!bdir || !layers) {
		cell_err_set(err, ENOMEM, "bundle");
		goto fail;
	}
	for (size_t i = 0; i < m.n_layers; i++)
		off += sprintf(layers + off, "%s\n", m.layers[i].digest);
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bdir);
	if (write_at(rec, "layers", layers, err) < 0 || write_at(rec, "bundle", bdir, err) < 0)
		goto fail;
	snprintf(p, sizeof(p), "%s/upper", rec);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/work", rec);
	mkdir(p, 0700);
	snprintf(p, sizeof(p), "%s/empty", rec);
	mkdir(p, 0755);
	if (mkdir(rootfs, 0755) < 0) {
		cell_err_set(err, errno, "mkdir %s", rootfs);
		goto fail;
	}
	if (mount_rootfs(&s, &m, rec, rootfs, err) < 0)
		goto fail;
	mounted = true;
	rootfd = open(rootfs, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (rootfd < 0) {
		cell_err_set(err, errno, "%s", rootfs);
		goto fail;
	}
	if (make_config(rootfd, image, name, digest, &text, err) < 0 ||
	    write_at(bdir, "config.json", text, err) < 0 || write_at(bdir, MARKER, rec, err) < 0)
		goto fail;
	if (made)
		*made = CELL_STEAL(bdir);
	ret = 0;
	goto out;
fail:
	if (mounted)
		umount2(rootfs, MNT_DETACH);
	if (dir) {
		rmdir(rootfs);
		snprintf(p, sizeof(p), "%s/config.json", bdir);
		unlink(p);
		if (made_dir)
			rmdir(bdir);
	}
	{
		const char *b = strrchr(rec, '/') + 1;
		char rel[PATH_MAX];
		snprintf(rel, sizeof(rel), "bundles/%s", b);
		img_rm_tree(s.dirfd, rel, &(struct cell_err){ 0 });
	}
out:
	json_decref(image);
	manifest_free(&m);
	return ret;
}

int cell_image_bundle(const char *store, const char *ref, const char *dir, struct cell_err *err)
{
	return bundle_make(store, ref, dir, NULL, NULL, err);
}

int cell_image_bundle_temp(const char *store, const char *ref, const char *id, char **dir,
			   struct cell_err *err)
{
	return bundle_make(store, ref, NULL, id, dir, err);
}

int cell_image_bundle_release(const char *dir, bool temp_only, struct cell_err *err)
{
	_cleanup_free_ char *rec = NULL, *back = NULL, *real = realpath(dir, NULL);
	char p[PATH_MAX + 32];
	const char *slash;
	_cleanup_close_ int parent = -1;

	if (!real)
		return errno == ENOENT ? 0 : cell_err_set(err, errno, "%s", dir);
	snprintf(p, sizeof(p), "%s/" MARKER, real);
	if (cell_read_file(p, &rec, NULL, PATH_MAX, err) < 0)
		return err->errnum == ENOENT ? (cell_err_clear(err), 0) : -1;
	/* only a record of a store's bundles/ that points back at DIR is ours */
	slash = strrchr(rec, '/');
	if (!slash || slash - rec < 8 || strncmp(slash - 8, "/bundles", 8))
		return cell_err_set(err, 0, "%s: %s does not name a store's bundle record", dir, MARKER);
	snprintf(p, sizeof(p), "%s/bundle", rec);
	if (cell_read_file(p, &back, NULL, PATH_MAX, err) < 0 || strcmp(back, real))
		return cell_err_set(err, 0, "%s: its bundle record %s belongs to another bundle", dir, rec);
	if (temp_only && strcmp(rec, real))
		return 0;
	snprintf(p, sizeof(p), "%s/rootfs", real);
	if (umount2(p, 0) < 0 && errno == EBUSY)
		umount2(p, MNT_DETACH);
	if (strcmp(rec, real)) {
		rmdir(p);
		snprintf(p, sizeof(p), "%s/config.json", real);
		unlink(p);
		snprintf(p, sizeof(p), "%s/" MARKER, real);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%.*s", (int)(slash - rec), rec);
	parent = open(p, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (parent < 0)
		return cell_err_set(err, errno, "%s", p);
	return img_rm_tree(parent, slash + 1, err);
}
