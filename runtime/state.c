/* State directories under the root: creation, locking, state.json I/O, removal. */
#define _GNU_SOURCE
#include "state.h"
#include "spec.h"
#include "cleanup.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const status_names[] = {
	[CELL_STATUS_CREATING] = "creating", [CELL_STATUS_CREATED] = "created",
	[CELL_STATUS_RUNNING] = "running", [CELL_STATUS_PAUSED] = "paused",
	[CELL_STATUS_STOPPED] = "stopped",
};

const char *cell_status_name(enum cell_status s) { return status_names[s]; }

int cell_id_check(const char *id, struct cell_err *err)
{
	size_t len = strlen(id);

	if (!len)
		return cell_err_set(err, 0, "container id must not be empty");
	if (len > CELL_ID_MAX)
		return cell_err_set(err, 0, "container id \"%.32s...\" is longer than %d characters",
				    id, CELL_ID_MAX);
	if (!strcmp(id, ".") || !strcmp(id, ".."))
		return cell_err_set(err, 0, "container id \"%s\" is not allowed", id);
	for (const char *p = id; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_+-.", *p))
			return cell_err_set(err, 0,
					    "container id \"%s\": only letters, digits and _+-. are allowed", id);
	return 0;
}

static int handle_lock(struct cell_handle *h, struct cell_err *err)
{
	struct stat st;

	while (flock(h->dirfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return cell_err_set(err, errno, "lock container %s", h->id);
	/* removed while we waited for the lock */
	if (fstat(h->dirfd, &st) < 0 || st.st_nlink == 0)
		return cell_err_set(err, 0, "container %s does not exist", h->id);
	return 0;
}

static int handle_init(struct cell_handle *h, const char *root, const char *id, struct cell_err *err)
{
	h->dirfd = -1;
	if (cell_id_check(id, err) < 0)
		return -1;
	snprintf(h->id, sizeof(h->id), "%s", id);
	h->root = strdup(root);
	if (!h->root)
		return cell_err_set(err, ENOMEM, "root");
	return 0;
}

int cell_handle_create(const char *root, const char *id, struct cell_handle *h, struct cell_err *err)
{
	_cleanup_close_ int rootfd = -1;

	if (handle_init(h, root, id, err) < 0)
		return -1;
	if (cell_mkdir_p(root, 0700) < 0) {
		cell_err_set(err, errno, "state root %s", root);
		goto fail;
	}
	rootfd = open(root, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (rootfd < 0) {
		cell_err_set(err, errno, "state root %s", root);
		goto fail;
	}
	if (mkdirat(rootfd, id, 0700) < 0) {
		if (errno == EEXIST)
			cell_err_set(err, 0, "container %s already exists", id);
		else
			cell_err_set(err, errno, "create %s/%s", root, id);
		goto fail;
	}
	h->dirfd = openat(rootfd, id, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (h->dirfd < 0 || handle_lock(h, err) < 0) {
		if (h->dirfd < 0)
			cell_err_set(err, errno, "open %s/%s", root, id);
		unlinkat(rootfd, id, AT_REMOVEDIR);
		goto fail;
	}
	return 0;
fail:
	cell_handle_close(h);
	return -1;
}

int cell_handle_open(const char *root, const char *id, struct cell_handle *h, struct cell_err *err)
{
	char path[4096];

	if (handle_init(h, root, id, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", root, id);
	h->dirfd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (h->dirfd < 0) {
		if (errno == ENOENT)
			cell_err_set(err, 0, "container %s does not exist", id);
		else
			cell_err_set(err, errno, "open %s", path);
		goto fail;
	}
	if (handle_lock(h, err) < 0)
		goto fail;
	return 0;
fail:
	cell_handle_close(h);
	return -1;
}

void cell_handle_close(struct cell_handle *h)
{
	if (h->dirfd >= 0)
		close(h->dirfd);
	h->dirfd = -1;
	free(h->root);
	h->root = NULL;
}

static int rm_rf_at(int dirfd)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd = dup(dirfd);

	if (fd < 0)
		return -1;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			continue;
		if (errno == EISDIR) {
			_cleanup_close_ int sub = openat(dirfd, de->d_name,
							  O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (sub < 0 || rm_rf_at(sub) < 0 || unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0)
				return -1;
			continue;
		}
		if (errno != ENOENT)
			return -1;
	}
	return 0;
}

int cell_handle_remove(struct cell_handle *h, struct cell_err *err)
{
	char path[4096];
	int ret = 0;

	snprintf(path, sizeof(path), "%s/%s", h->root, h->id);
	if (rm_rf_at(h->dirfd) < 0 || (rmdir(path) < 0 && errno != ENOENT))
		ret = cell_err_set(err, errno, "remove %s", path);
	cell_handle_close(h);
	return ret;
}

json_t *cell_state_to_json(const struct cell_state *st, enum cell_status status)
{
	json_t *o = json_object();

	json_object_set_new(o, "ociVersion", json_string(CELL_OCI_VERSION));
	json_object_set_new(o, "id", json_string(st->id));
	json_object_set_new(o, "status", json_string(cell_status_name(status)));
	if (status != CELL_STATUS_STOPPED && st->pid > 0)
		json_object_set_new(o, "pid", json_integer(st->pid));
	else
		json_object_set_new(o, "pid", json_integer(0));
	json_object_set_new(o, "bundle", json_string(st->bundle ? st->bundle : ""));
	json_object_set_new(o, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
	json_object_set_new(o, "created", json_string(st->created));
	json_object_set_new(o, "owner", json_string(st->owner == 0 ? "root" : ""));
	json_object_set_new(o, "annotations",
			    st->annotations ? json_incref(st->annotations) : json_object());
	if (st->vm)
		json_object_set(o, "vm", st->vm);
	return o;
}

int cell_state_write(struct cell_handle *h, const struct cell_state *st, struct cell_err *err)
{
	json_t *o = json_object();
	char *text;
	int ret;

	json_object_set_new(o, "id", json_string(st->id));
	json_object_set_new(o, "kind", json_string(st->kind));
	json_object_set_new(o, "status", json_string(cell_status_name(st->status)));
	json_object_set_new(o, "pid", json_integer(st->pid));
	json_object_set_new(o, "pidStart", json_integer((json_int_t)st->pid_start));
	json_object_set_new(o, "bundle", json_string(st->bundle ? st->bundle : ""));
	json_object_set_new(o, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
	json_object_set_new(o, "created", json_string(st->created));
	json_object_set_new(o, "owner", json_integer(st->owner));
	json_object_set(o, "annotations", st->annotations ? st->annotations : json_null());
	json_object_set_new(o, "cgroupPath", json_string(st->cgroup ? st->cgroup : ""));
	if (st->vm)
		json_object_set(o, "vm", st->vm);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return cell_err_set(err, ENOMEM, "state of %s", h->id);
	ret = cell_write_file_atomic(h->dirfd, "state.json", text, strlen(text), 0600, err);
	free(text);
	if (ret < 0)
		return cell_err_wrap(err, "state of %s", h->id);
	return 0;
}

static int state_from_json(const char *text, const char *id, struct cell_state *st, struct cell_err *err)
{
	json_error_t jerr;
	json_t *o = json_loads(text, 0, &jerr), *v;
	const char *s;

	memset(st, 0, sizeof(*st));
	if (!o)
		return cell_err_set(err, 0, "state of %s is corrupt: %s", id, jerr.text);
	snprintf(st->id, sizeof(st->id), "%s", id);
	s = json_string_value(json_object_get(o, "kind"));
	snprintf(st->kind, sizeof(st->kind), "%s", s ? s : "container");
	s = json_string_value(json_object_get(o, "status"));
	st->status = CELL_STATUS_STOPPED;
	for (size_t i = 0; s && i < CELL_ARRAY_SIZE(status_names); i++)
		if (!strcmp(s, status_names[i]))
			st->status = i;
	st->pid = json_integer_value(json_object_get(o, "pid"));
	st->pid_start = json_integer_value(json_object_get(o, "pidStart"));
	if ((s = json_string_value(json_object_get(o, "bundle"))))
		st->bundle = strdup(s);
	if ((s = json_string_value(json_object_get(o, "rootfs"))))
		st->rootfs = strdup(s);
	if ((s = json_string_value(json_object_get(o, "created"))))
		snprintf(st->created, sizeof(st->created), "%s", s);
	st->owner = json_integer_value(json_object_get(o, "owner"));
	v = json_object_get(o, "annotations");
	st->annotations = json_is_object(v) ? json_incref(v) : json_object();
	if ((s = json_string_value(json_object_get(o, "cgroupPath"))) && *s)
		st->cgroup = strdup(s);
	v = json_object_get(o, "vm");
	st->vm = json_is_object(v) ? json_incref(v) : NULL;
	json_decref(o);
	return 0;
}

static int state_read_at(int dirfd, const char *id, struct cell_state *st, struct cell_err *err)
{
	_cleanup_free_ char *text = NULL;
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d/state.json", dirfd);
	if (cell_read_file(path, &text, NULL, 1 << 20, err) < 0) {
		if (err->errnum == ENOENT)
			return cell_err_set(err, ENOENT, "state of %s", id);
		return -1;
	}
	return state_from_json(text, id, st, err);
}

int cell_state_read(struct cell_handle *h, struct cell_state *st, struct cell_err *err)
{
	return state_read_at(h->dirfd, h->id, st, err);
}

int cell_state_load(const char *root, const char *id, struct cell_state *st, struct cell_err *err)
{
	_cleanup_close_ int fd = -1;
	char path[4096];

	if (cell_id_check(id, err) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", root, id);
	fd = open(path, O_DIRECTORY | O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return cell_err_set(err, 0, "container %s does not exist", id);
		return cell_err_set(err, errno, "open %s", path);
	}
	return state_read_at(fd, id, st, err);
}

void cell_state_free(struct cell_state *st)
{
	free(st->bundle);
	free(st->rootfs);
	free(st->cgroup);
	json_decref(st->annotations);
	json_decref(st->vm);
	st->bundle = st->rootfs = st->cgroup = NULL;
	st->annotations = st->vm = NULL;
}

enum cell_status cell_state_status(const struct cell_state *st)
{
	if (st->status == CELL_STATUS_STOPPED)
		return CELL_STATUS_STOPPED;
	if (!cell_proc_alive(st->pid, st->pid_start))
		return CELL_STATUS_STOPPED;
	return st->status;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cell_state_list(const char *root, char ***ids, struct cell_err *err)
{
	_cleanup_closedir_ DIR *d = opendir(root);
	struct dirent *de;
	size_t n = 0, cap = 16;
	char **v;

	*ids = NULL;
	v = calloc(cap + 1, sizeof(char *));
	if (!v)
		return cell_err_set(err, ENOMEM, "list");
	if (!d) {
		if (errno == ENOENT) {
			*ids = v;
			return 0;
		}
		free(v);
		return cell_err_set(err, errno, "open %s", root);
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		/* some filesystems do not fill d_type: ask */
		if (de->d_type == DT_UNKNOWN) {
			struct stat sb;
			if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(sb.st_mode))
				continue;
		} else if (de->d_type != DT_DIR) {
			continue;
		}
		if (n == cap) {
			char **nv = realloc(v, (cap * 2 + 1) * sizeof(char *));
			if (!nv) {
				cell_strvfreep(&v);
				return cell_err_set(err, ENOMEM, "list");
			}
			v = nv;
			cap *= 2;
		}
		v[n] = strdup(de->d_name);
		v[++n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_str);
	*ids = v;
	return 0;
}
