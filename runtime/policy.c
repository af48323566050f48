/* The shared scheduling layer (see policy.h): cgroup placement and limits
 * for any guest kind, plus pause, resume and update of a live guest. */
#define _GNU_SOURCE
#include "policy.h"
#include "runtime.h"
#include "cleanup.h"
#include "log.h"
#include "schema.h"
#include "spec.h"
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

int cell_policy_prepare(const char *cgpath, const json_t *resources, const char *where,
			struct cell_err *err)
{
	if (!*cgpath)
		return 0;
	if (cg_create(cgpath, err) < 0)
		return -1;
	if (cg_apply(cgpath, resources, where, err) < 0) {
		cg_destroy(cgpath, &(struct cell_err){ 0 });
		return -1;
	}
	return 0;
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
	return cg_apply(cgpath, resources, where, err);
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
	ret = cell_policy_update(st.cgroup ? st.cgroup : "", resources, where, err);
	cell_state_free(&st);
	cell_handle_close(&h);
	return ret;
}
