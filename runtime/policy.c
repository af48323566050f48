/* The shared scheduling layer (see policy.h): cgroup placement and limits
 * for any guest kind, plus pause, resume and update of a live guest. */
#define _GNU_SOURCE
#include "policy.h"
#include "runtime.h"
#include "cleanup.h"
#include "log.h"
#include "schema.h"
#include "spec.h"
#include "util.h"
#include "../cgroups/cgroups.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int cell_policy_cgroup_path(const char *manager, const char *spec_path, const char *root, const char *id,
			    char *out, size_t len, struct cell_err *err)
{
	char self[CG_PATH_MAX];
	int n;

	out[0] = 0;
	if (manager && !strcmp(manager, "disabled"))
		return 0;
	if (!spec_path || !*spec_path) {
		if (!root || !strcmp(root, CELL_DEFAULT_ROOT))
			n = snprintf(out, len, "/cell/%s", id);
		else
			n = snprintf(out, len, "/cell/%s@%08x", id, fnv1a(root));
	} else if (spec_path[0] == '/') {
		n = snprintf(out, len, "%s", spec_path);
	} else {
		if (strchr(spec_path, ':'))
			return cell_err_set(err, EINVAL, "linux.cgroupsPath \"%s\": systemd slice:prefix:name "
					    "paths need the systemd cgroup manager, which cell does not have", spec_path);
		if (cg_self_path(self, sizeof(self), err) < 0)
			return -1;
		n = snprintf(out, len, "%s/%s", strcmp(self, "/") ? self : "", spec_path);
	}
	if (n < 0 || (size_t)n >= len)
		return cell_err_set(err, ENAMETOOLONG, "linux.cgroupsPath");
	/* no trailing slashes: the path names one directory */
	while (n > 1 && out[n - 1] == '/')
		out[--n] = 0;
	if (cg_version(err) == CG_NONE)
		return cell_err_wrap(err, "use --cgroup-manager disabled to run without cgroups");
	if (cg_exists(out))
		return cell_err_set(err, 0, "cgroup %s exists: cell only uses cgroups it creates", out);
	return 0;
}

static int prepare(const char *cgpath, const json_t *resources, const json_t *devices, const char *where,
		   struct cell_err *err)
{
	if (!*cgpath)
		return 0;
	if (cg_create(cgpath, err) < 0)
		return -1;
	if (cg_apply(cgpath, resources, devices, where, err) < 0) {
		cg_destroy(cgpath, &(struct cell_err){ 0 });
		return -1;
	}
	return 0;
}

int cell_policy_prepare_spec(const char *cgpath, const struct cell_spec *spec, const char *where,
			     struct cell_err *err)
{
	return prepare(cgpath, spec->resources, json_object_get(json_object_get(spec->doc, "linux"), "devices"),
		       where, err);
}

int cell_policy_place(const char *cgpath, pid_t pid, struct cell_err *err)
{
	return *cgpath ? cg_attach(cgpath, pid, err) : 0;
}

int cell_policy_update(const char *cgpath, const json_t *resources, const char *where,
		       struct cell_err *err)
{
	if (!*cgpath)
		return cell_err_set(err, 0, "the container has no cgroup (created with --cgroup-manager disabled)");
	return cg_apply(cgpath, resources, NULL, where, err);
}

int cell_policy_release(const char *cgpath, struct cell_err *err)
{
	return *cgpath ? cg_destroy(cgpath, err) : 0;
}

int cell_policy_pids(const char *cgpath, pid_t **pids, size_t *n, struct cell_err *err)
{
	return cg_pids(cgpath, pids, n, err);
}

int cell_policy_signal(const char *cgpath, int sig, struct cell_err *err)
{
	return cg_signal(cgpath, sig, err);
}

int cell_policy_freeze(const char *cgpath, bool frozen, struct cell_err *err)
{
	if (!*cgpath)
		return cell_err_set(err, 0, "the container has no cgroup (created with --cgroup-manager disabled)");
	return cg_freeze(cgpath, frozen, err);
}

/* pause, resume, update: `cell pause|resume|update ID` */
static int live_guest(const struct cell_ctx *ctx, const char *id, struct cell_handle *h, struct cell_state *st,
		      struct cell_err *err)
{
	if (cell_handle_open(ctx->root, id, h, err) < 0)
		return -1;
	if (cell_state_read(h, st, err) < 0) {
		cell_handle_close(h);
		return -1;
	}
	if (cell_state_status(st) == CELL_STATUS_STOPPED) {
		cell_err_set(err, 0, "container %s is not running", id);
		cell_state_free(st);
		cell_handle_close(h);
		return -1;
	}
	return 0;
}

static int set_frozen(const struct cell_ctx *ctx, const char *id, bool frozen, struct cell_err *err)
{
	struct cell_handle h = { .dirfd = -1 };
	struct cell_state st = { 0 };
	enum cell_status want = frozen ? CELL_STATUS_PAUSED : CELL_STATUS_RUNNING;
	int ret = -1;

	if (live_guest(ctx, id, &h, &st, err) < 0)
		return -1;
	if (cell_state_status(&st) != (frozen ? CELL_STATUS_RUNNING : CELL_STATUS_PAUSED))
		cell_err_set(err, 0, "container %s is %s: only a %s container can be %s", id,
			     cell_status_name(cell_state_status(&st)), frozen ? "running" : "paused",
			     frozen ? "paused" : "resumed");
	else if (cell_policy_freeze(st.cgroup ? st.cgroup : "", frozen, err) == 0) {
		st.status = want;
		ret = cell_state_write(&h, &st, err);
	}
	cell_state_free(&st);
	cell_handle_close(&h);
	return ret;
}

int cell_pause(const struct cell_ctx *ctx, const char *id, struct cell_err *err)
{
	return set_frozen(ctx, id, true, err);
}

int cell_resume(const struct cell_ctx *ctx, const char *id, struct cell_err *err)
{
	return set_frozen(ctx, id, false, err);
}

/* runc's update keeps the other entries of a device list (blockIO's
 * weightDevice, throttle*Device) and replaces the one with the same
 * major:minor. */
static bool same_device(const json_t *a, const json_t *b)
{
	const json_t *ma = json_object_get(a, "major"), *mb = json_object_get(b, "major");
	const json_t *na = json_object_get(a, "minor"), *nb = json_object_get(b, "minor");

	return json_is_integer(ma) && json_is_integer(na) && json_equal(ma, mb) && json_equal(na, nb);
}

static int upsert_devices(json_t *dst, const json_t *src)
{
	size_t i, j;
	json_t *s, *d;

	json_array_foreach(src, i, s) {
		json_t *copy = json_deep_copy(s);
		bool done = false;
		json_array_foreach(dst, j, d) {
			if (same_device(d, s)) {
				done = true;
				break;
			}
		}
		if (!copy || (done ? json_array_set_new(dst, j, copy) : json_array_append_new(dst, copy)) < 0)
			return -1;
	}
	return 0;
}

/* src into dst with linux.resources' key structure: objects merge key by
 * key, per-device lists upsert, anything else replaces. */
static int merge_resources(json_t *dst, const json_t *src)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)src, key, v) {
		json_t *d = json_object_get(dst, key);
		size_t kl = strlen(key);
		int r;
		if (json_is_object(d) && json_is_object(v))
			r = merge_resources(d, v);
		else if (json_is_array(d) && json_is_array(v) && kl > 6 && !strcmp(key + kl - 6, "Device"))
			r = upsert_devices(d, v);
		else
			r = json_object_set_new(dst, key, json_deep_copy(v));
		if (r < 0)
			return -1;
	}
	return 0;
}

/* The config saved at create (NULL if unreadable: then the update still
 * applies, and only what it names). */
static json_t *saved_config(const struct cell_handle *h)
{
	_cleanup_free_ char *text = NULL;
	struct cell_err err = { 0 };
	char path[64];
	size_t len;
	json_t *doc;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/config.json", h->dirfd);
	if (cell_read_file(path, &text, &len, 1 << 24, &err) < 0) {
		cell_debug("update %s: saved config: %s", h->id, err.msg);
		return NULL;
	}
	doc = json_loadb(text, len, 0, NULL);
	if (!json_is_object(doc) || !json_is_object(json_object_get(doc, "linux"))) {
		cell_debug("update %s: saved config is not a runtime-spec config", h->id);
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* The update is merged into the saved linux.resources; each object it names
 * is applied whole from the merge, so that a value computed from two fields
 * (cpu.max from quota and period, v2 swap from swap and limit) keeps the
 * field the update left out. The merge is written back, under the lock. */
static int update_locked(struct cell_handle *h, const char *cgpath, const json_t *resources, const char *where,
			 struct cell_err *err)
{
	json_t *doc = saved_config(h), *linux_ = json_object_get(doc, "linux");
	json_t *merged = json_object_get(linux_, "resources"), *apply = json_object(), *given = NULL;
	_cleanup_free_ char *text = NULL;
	const char *key;
	json_t *v;
	int ret = -1;

	merged = json_is_object(merged) ? json_deep_copy(merged) : json_object();
	given = json_deep_copy(resources);
	if (!merged || !apply || !given) {
		cell_err_set(err, ENOMEM, "%s", where);
		goto out;
	}
	if (json_object_get(given, "devices")) {
		/* as runc's update: the device rules stay as created */
		cell_debug("%s.devices: not changed by update", where);
		json_object_del(given, "devices");
	}
	if (merge_resources(merged, given) < 0) {
		cell_err_set(err, ENOMEM, "%s", where);
		goto out;
	}
	json_object_foreach(given, key, v)
		json_object_set(apply, key, json_object_get(merged, key));
	if (cell_policy_update(cgpath, apply, where, err) < 0)
		goto out;
	if (!doc) {
		ret = 0;
		goto out;
	}
	if (json_object_set(linux_, "resources", merged) < 0 || !(text = json_dumps(doc, JSON_COMPACT))) {
		cell_err_set(err, ENOMEM, "config");
		goto out;
	}
	ret = cell_write_file_atomic(h->dirfd, "config.json", text, strlen(text), 0600, err);
	if (ret < 0)
		cell_err_wrap(err, "the limits are applied, but saving them failed");
out:
	json_decref(given);
	json_decref(apply);
	json_decref(merged);
	json_decref(doc);
	return ret;
}

int cell_update(const struct cell_ctx *ctx, const char *id, const json_t *resources, const char *where,
		struct cell_err *err)
{
	struct cell_handle h = { .dirfd = -1 };
	struct cell_state st = { 0 };
	int ret;

	json_t *doc = json_pack("{s:s,s:{s:O}}", "ociVersion", CELL_OCI_VERSION, "linux", "resources", resources);

	/* the same type checks as config.json's, before touching anything */
	ret = doc ? cell_schema_check(doc, &cell_schema_config, "", err) : cell_err_set(err, ENOMEM, "%s", where);
	json_decref(doc);
	if (ret < 0)
		return cell_err_wrap(err, "%s", where);
	if (live_guest(ctx, id, &h, &st, err) < 0)
		return -1;
	ret = update_locked(&h, st.cgroup ? st.cgroup : "", resources, where, err);
	cell_state_free(&st);
	cell_handle_close(&h);
	return ret;
}
