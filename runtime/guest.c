/* The lifecycle: create, start, kill, delete, state, list and ps, with
 * hooks and state records, for any guest kind through its driver. */
#define _GNU_SOURCE
#include "runtime.h"
#include "cleanup.h"
#include "driver.h"
#include "hooks.h"
#include "log.h"
#include "spec.h"
#include "util.h"
#include "fdpass.h"
#include "run.h"
#include "policy.h"
#include "../isolate/isolate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The guest's cgroup path, "" when it has none. */
#define CGPATH(st) ((st)->cgroup ? (st)->cgroup : "")

const struct cell_driver *cell_driver_for_kind(const char *kind, struct cell_err *err)
{
	if (!strcmp(kind, "container"))
		return &cell_container_driver;
	if (!strcmp(kind, "vm"))
		return &cell_vm_driver;
	cell_err_set(err, 0, "guest kind \"%s\" has no driver in this build", kind);
	return NULL;
}

static const struct cell_driver *driver_for_spec(const struct cell_spec *s, struct cell_err *err)
{
	return s->vm ? &cell_vm_driver : &cell_container_driver;
}

/* What create's driver callbacks work on. */
struct create_run {
	struct cell_handle *h;
	struct cell_state *st;
	const struct cell_spec *spec;
	bool runtime_hooks_ran;
};

static char *state_text(const struct cell_state *st, enum cell_status status)
{
	json_t *o = cell_state_to_json(st, status);
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

static int cb_on_pid(void *arg, pid_t pid, struct cell_err *err)
{
	struct create_run *cr = arg;

	cr->st->pid = pid;
	if (cell_proc_stat(pid, &cr->st->pid_start, NULL) < 0)
		return cell_err_set(err, ESRCH, "container init %d", (int)pid);
	if (cell_state_write(cr->h, cr->st, err) < 0)
		return -1;
	/* the init waits for us: everything it becomes starts inside */
	return cell_policy_place(CGPATH(cr->st), pid, err);
}

static char *cb_state_json(void *arg, const char *status)
{
	struct create_run *cr = arg;

	return state_text(cr->st, !strcmp(status, "created") ? CELL_STATUS_CREATED : CELL_STATUS_CREATING);
}

static int cb_on_namespaces(void *arg, struct cell_err *err)
{
	struct create_run *cr = arg;
	_cleanup_free_ char *state = state_text(cr->st, CELL_STATUS_CREATING);
	const struct cell_hooks *hk = &cr->spec->hooks;

	if (!state)
		return cell_err_set(err, ENOMEM, "state");
	cr->runtime_hooks_ran = true;
	if (cell_hooks_run(hk->v[CELL_HOOK_PRESTART], hk->n[CELL_HOOK_PRESTART], "prestart", state, err) < 0 ||
	    cell_hooks_run(hk->v[CELL_HOOK_CREATE_RUNTIME], hk->n[CELL_HOOK_CREATE_RUNTIME], "createRuntime",
			   state, err) < 0)
		return -1;
	return 0;
}

/* poststop hooks: failures are warnings (runtime-spec). */
static void run_poststop(const struct cell_spec *spec, const struct cell_state *st)
{
	_cleanup_free_ char *state = NULL;
	struct cell_err err = { 0 };

	if (!spec || !spec->hooks.n[CELL_HOOK_POSTSTOP])
		return;
	state = state_text(st, CELL_STATUS_STOPPED);
	if (state && cell_hooks_run(spec->hooks.v[CELL_HOOK_POSTSTOP], spec->hooks.n[CELL_HOOK_POSTSTOP],
				    "poststop", state, &err) < 0)
		cell_warn("%s", err.msg);
}

/* The config a guest was created from, kept in its state dir. */
static struct cell_spec *load_saved_spec(struct cell_handle *h)
{
	_cleanup_free_ char *text = NULL;
	struct cell_spec *spec = NULL;
	struct cell_err err = { 0 };
	char path[64];
	size_t len;

	snprintf(path, sizeof(path), "/proc/self/fd/%d/config.json", h->dirfd);
	if (cell_read_file(path, &text, &len, 1 << 24, &err) < 0 ||
	    cell_spec_parse(text, len, "config.json", NULL, &spec, &err) < 0) {
		cell_debug("saved config of %s: %s", h->id, err.msg);
		return NULL;
	}
	return spec;
}

static int save_config(struct cell_handle *h, const struct cell_spec *spec, struct cell_err *err)
{
	_cleanup_free_ char *text = json_dumps(spec->doc, JSON_COMPACT);

	if (!text)
		return cell_err_set(err, ENOMEM, "config");
	return cell_write_file_atomic(h->dirfd, "config.json", text, strlen(text), 0600, err);
}

/* Create with an already-open console fd (run uses its own socketpair). */
static int create_with_console(const struct cell_ctx *ctx, const char *id,
			       const struct cell_create_opts *o, int console_fd, struct cell_err *err)
{
	struct cell_spec *spec = NULL;
	struct cell_handle h = { .dirfd = -1 };
	struct cell_state st = { 0 };
	const struct cell_driver *drv;
	struct create_run cr;
	struct cell_create_req req;
	const char *manager;
	_cleanup_close_ int own_console = -1;
	char cgpath[512];
	bool cg_made = false;
	pid_t pid = 0;
	int ret = -1;

	if (cell_id_check(id, err) < 0)
		return -1;
	if (cell_spec_load(o->bundle ? o->bundle : ".", &spec, err) < 0)
		return -1;
	if (!(drv = driver_for_spec(spec, err)))
		goto out;
	if (spec->process.terminal && console_fd < 0 && !o->console_socket) {
		cell_err_set(err, 0, "process.terminal is true: --console-socket is required");
		goto out;
	}
	if (!spec->process.terminal && o->console_socket) {
		cell_err_set(err, 0, "--console-socket given but process.terminal is false");
		goto out;
	}
	if (o->console_socket) {
		own_console = cell_unix_connect(o->console_socket, err);
		if (own_console < 0) {
			cell_err_wrap(err, "--console-socket");
			goto out;
		}
		console_fd = own_console;
	}
	if (cell_handle_create(ctx->root, id, &h, err) < 0)
		goto out;
	snprintf(st.id, sizeof(st.id), "%s", id);
	snprintf(st.kind, sizeof(st.kind), "%s", drv->kind);
	st.status = CELL_STATUS_CREATING;
	st.bundle = strdup(spec->bundle);
	st.rootfs = spec->root_path ? strdup(spec->root_path) : NULL;
	cell_time_rfc3339(st.created, sizeof(st.created));
	st.owner = geteuid();
	st.annotations = json_incref(spec->annotations);
	st.vm = drv->machine ? drv->machine(spec) : NULL;
	/* recorded before it exists, so delete --force finds it after a crash */
	/* an unprivileged user has no cgroup to manage unless one was
	 * delegated: with no limits to apply, the guest goes without */
	manager = ctx->cgroup_manager;
	if (!manager && geteuid() != 0 && !spec->resources && !spec->cgroups_path)
		manager = "disabled";
	if (cell_policy_cgroup_path(manager, spec->cgroups_path, ctx->root, id, cgpath,
				    sizeof(cgpath), err) < 0 || !(st.cgroup = strdup(cgpath))) {
		if (!st.cgroup && !err->msg[0])
			cell_err_set(err, ENOMEM, "cgroup path");
		goto remove;
	}
	if (save_config(&h, spec, err) < 0 || cell_state_write(&h, &st, err) < 0)
		goto remove;
	if (cell_policy_prepare_spec(cgpath, spec, "config.json: linux.resources", err) < 0)
		goto remove;
	cg_made = true;

	cr = (struct create_run){ .h = &h, .st = &st, .spec = spec };
	req = (struct cell_create_req){
		.id = id, .spec = spec, .state_dirfd = h.dirfd, .console_fd = console_fd,
		.preserve_fds = o->preserve_fds, .no_pivot = o->no_pivot,
		.no_new_keyring = o->no_new_keyring, .on_pid = cb_on_pid,
		.state_json = cb_state_json, .on_namespaces = cb_on_namespaces,
		.run_hooks = cell_hooks_run, .arg = &cr,
		.vm_kernel = o->vm_kernel, .vm_kernel_arg = o->vm_kernel_arg, .machine = st.vm,
	};
	if (drv->create(&req, &pid, err) < 0) {
		if (cr.runtime_hooks_ran)
			run_poststop(spec, &st);
		goto remove;
	}
	st.status = CELL_STATUS_CREATED;
	if (cell_state_write(&h, &st, err) < 0 || (o->pid_file && cell_write_pid_file(o->pid_file, pid, err) < 0)) {
		drv->kill(st.pid, st.pid_start, SIGKILL, true, &(struct cell_err){ 0 });
		goto remove;
	}
	cell_debug("created %s, init pid %d", id, (int)pid);
	ret = 0;
	cell_handle_close(&h);
	goto out;
remove:
	if (cg_made)
		cell_policy_release(cgpath, &(struct cell_err){ 0 });
	cell_handle_remove(&h, &(struct cell_err){ 0 });
out:
	cell_state_free(&st);
	cell_spec_free(spec);
	return ret;
}

int cell_create(const struct cell_ctx *ctx, const char *id, const struct cell_create_opts *o,
		struct cell_err *err)
{
	return create_with_console(ctx, id, o, -1, err);
}

static int open_guest(const struct cell_ctx *ctx, const char *id, struct cell_handle *h,
		      struct cell_state *st, const struct cell_driver **drv, struct cell_err *err)
{
	if (cell_handle_open(ctx->root, id, h, err) < 0)
		return -1;
	if (cell_state_read(h, st, err) < 0) {
		cell_handle_close(h);
		return -1;
	}
	if (drv && !(*drv = cell_driver_for_kind(st->kind, err))) {
		cell_state_free(st);
		cell_handle_close(h);
		return -1;
	}
	return 0;
}

/* The seccomp agent at linux.seccomp.listenerPath gets the listener fd and
 * the runtime-spec's container process state, as runc sends them: pid is
 * the process whose filter it is (the init, or an exec'd process), state
 * the container's. */
int cell_seccomp_send_listener(const json_t *seccomp, const struct cell_state *st, pid_t pid, int fd,
			       struct cell_err *err)
{
	const char *path = json_string_value(json_object_get(seccomp, "listenerPath"));
	const char *meta = json_string_value(json_object_get(seccomp, "listenerMetadata"));
	_cleanup_close_ int sock = -1;
	_cleanup_free_ char *text = NULL;
	json_t *msg;

	if (!path)
		return cell_err_set(err, 0, "linux.seccomp.listenerPath: missing");
	msg = json_pack("{s:s, s:[s], s:i, s:s, s:o}", "ociVersion", CELL_OCI_VERSION, "fds", "seccompFd",
			"pid", (json_int_t)pid, "metadata", meta ? meta : "", "state",
			cell_state_to_json(st, CELL_STATUS_RUNNING));
	text = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	if (!text)
		return cell_err_set(err, ENOMEM, "seccomp listener");
	sock = cell_unix_connect(path, err);
	if (sock < 0)
		return cell_err_wrap(err, "linux.seccomp.listenerPath");
	if (cell_send_fd(sock, fd, text, err) < 0)
		return cell_err_wrap(err, "linux.seccomp.listenerPath %s", path);
	return 0;
}

static int send_to_listener(const struct cell_spec *spec, const struct cell_state *st, int fd,
			    struct cell_err *err)
{
	return cell_seccomp_send_listener(spec ? spec->seccomp : NULL, st, st->pid, fd, err);
}

int cell_start(const struct cell_ctx *ctx, const char *id, struct cell_err *err)
{
	struct cell_handle h = { .dirfd = -1 };
	struct cell_state st = { 0 };
	const struct cell_driver *drv;
	struct cell_spec *spec = NULL;
	enum cell_status status;
	int ret = -1, notify_fd = -1;

	if (open_guest(ctx, id, &h, &st, &drv, err) < 0)
		return -1;
	status = cell_state_status(&st);
	if (status != CELL_STATUS_CREATED) {
		cell_err_set(err, 0, "container %s is %s: only a created container can be started", id,
			     cell_status_name(status));
		goto out;
	}
	if (drv->start(h.dirfd, st.pid, &notify_fd, err) < 0)
		goto out;
	st.status = CELL_STATUS_RUNNING;
	if (cell_state_write(&h, &st, err) < 0)
		goto out;
	spec = load_saved_spec(&h);
	if (notify_fd >= 0 && send_to_listener(spec, &st, notify_fd, err) < 0) {
		/* its notified system calls would wait for an agent forever */
		drv->kill(st.pid, st.pid_start, SIGKILL, true, &(struct cell_err){ 0 });
		goto out;
	}
	if (spec && spec->hooks.n[CELL_HOOK_POSTSTART]) {
		_cleanup_free_ char *state = state_text(&st, cell_state_status(&st));
		struct cell_err herr = { 0 };
		if (state && cell_hooks_run(spec->hooks.v[CELL_HOOK_POSTSTART],
					    spec->hooks.n[CELL_HOOK_POSTSTART], "poststart", state, &herr) < 0)
			cell_warn("%s", herr.msg);
	}
	ret = 0;
out:
	if (notify_fd >= 0)
		close(notify_fd);
	cell_spec_free(spec);
	cell_state_free(&st);
	cell_handle_close(&h);
	return ret;
}

int cell_kill(const struct cell_ctx *ctx, const char *id, int sig, bool all, struct cell_err *err)
{
	struct cell_handle h = { .dirfd = -1 };
	struct cell_state st = { 0 };
	const struct cell_driver *drv;
	int ret = -1;

	if (open_guest(ctx, id, &h, &st, &drv, err) < 0)
		return -1;
	if (cell_state_status(&st) == CELL_STATUS_STOPPED)
		cell_err_set(err, 0, "container %s is not running", id);
	else if (all && *CGPATH(&st))
		ret = cell_policy_signal(CGPATH(&st), sig, err);
	else
		ret = drv->kill(st.pid, st.pid_start, sig, all, err);
	cell_state_free(&st);
	cell_handle_close(&h);
	return ret;
}

static void wait_gone(pid_t pid, uint64_t start)
{
	_cleanup_close_ int pfd = cell_pidfd_open(pid);
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (pfd < 0 || !cell_proc_alive(pid, start))
		return;
	poll(&p, 1, 10000);
	/* our own child when we are `cell run`, the subreaper */
	waitpid(pid, NULL, WNOHANG);
}

static int delete_locked(struct cell_handle *h, struct cell_state *st, const struct cell_driver *drv,
			 bool force, struct cell_err *err)
{
	enum cell_status status = cell_state_status(st);
	struct cell_spec *spec;

	if ((status == CELL_STATUS_RUNNING || status == CELL_STATUS_PAUSED) && !force)
		return cell_err_set(err, 0, "container %s is %s: stop it first or use delete --force",
				    st->id, cell_status_name(status));
	if (status != CELL_STATUS_STOPPED) {
		struct cell_err kerr = { 0 };
		if (*CGPATH(st) && cell_policy_signal(CGPATH(st), SIGKILL, &kerr) == 0 &&
		    status == CELL_STATUS_PAUSED)
			cell_policy_freeze(CGPATH(st), false, &kerr);
		if (drv->kill(st->pid, st->pid_start, SIGKILL, true, &kerr) < 0)
			cell_debug("delete %s: %s", st->id, kerr.msg);
		wait_gone(st->pid, st->pid_start);
	}
	/* stragglers die with the cgroup; the state stays if that fails */
	if (cell_policy_release(CGPATH(st), err) < 0)
		return -1;
	spec = load_saved_spec(h);
	run_poststop(spec, st);
	cell_spec_free(spec);
	return cell_handle_remove(h, err);
}

int cell_delete(const struct cell_ctx *ctx, const char *id, bool force, struct cell_err *err)
{
	struct cell_handle h = { .dirfd = -1 };
	struct cell_state st = { 0 };
	const struct cell_driver *drv;
	int ret;

	if (cell_handle_open(ctx->root, id, &h, err) < 0)
		return -1;
	if (cell_state_read(&h, &st, err) < 0) {
		/* a create that died before its first state write left only the dir */
		if (err->errnum == ENOENT && force)
			return cell_handle_remove(&h, err);
		cell_handle_close(&h);
		return cell_err_wrap(err, "use delete --force to remove what is left");
	}
	if (!(drv = cell_driver_for_kind(st.kind, err))) {
		cell_state_free(&st);
		cell_handle_close(&h);
		return -1;
	}
	ret = delete_locked(&h, &st, drv, force, err);
	if (ret < 0 && h.dirfd >= 0)
		cell_handle_close(&h);
	cell_state_free(&st);
	return ret;
}

int cell_state(const struct cell_ctx *ctx, const char *id, json_t **out, struct cell_err *err)
{
	struct cell_state st = { 0 };

	if (cell_state_load(ctx->root, id, &st, err) < 0)
		return -1;
	*out = cell_state_to_json(&st, cell_state_status(&st));
	cell_state_free(&st);
	return 0;
}

int cell_list(const struct cell_ctx *ctx, json_t **out, struct cell_err *err)
{
	_cleanup_strv_ char **ids = NULL;
	json_t *arr;

	if (cell_state_list(ctx->root, &ids, err) < 0)
		return -1;
	arr = json_array();
	for (char **id = ids; *id; id++) {
		struct cell_state st = { 0 };
		struct cell_err lerr = { 0 };
		if (cell_state_load(ctx->root, *id, &st, &lerr) < 0) {
			cell_debug("list: %s", lerr.msg);
			continue;
		}
		json_array_append_new(arr, cell_state_to_json(&st, cell_state_status(&st)));
		cell_state_free(&st);
	}
	*out = arr;
	return 0;
}

int cell_ps(const struct cell_ctx *ctx, const char *id, pid_t **pids, size_t *n, struct cell_err *err)
{
	struct cell_state st = { 0 };
	const struct cell_driver *drv;
	int ret;

	if (cell_state_load(ctx->root, id, &st, err) < 0)
		return -1;
	if (!(drv = cell_driver_for_kind(st.kind, err))) {
		cell_state_free(&st);
		return -1;
	}
	if (*CGPATH(&st) && cell_state_status(&st) != CELL_STATUS_STOPPED)
		ret = cell_policy_pids(CGPATH(&st), pids, n, err);
	else
		ret = drv->pids(st.pid, st.pid_start, pids, n, err);
	cell_state_free(&st);
	return ret;
}


int cell_run(const struct cell_ctx *ctx, const char *id, const struct cell_create_opts *o,
	     int *exit_code, struct cell_err *err)
{
	struct cell_spec *spec = NULL;
	struct cell_state st = { 0 };
	int sv[2] = { -1, -1 }, master = -1, ret = -1;
	bool own_console;

	*exit_code = 0;
	if (cell_id_check(id, err) < 0 || cell_spec_load(o->bundle ? o->bundle : ".", &spec, err) < 0)
		return -1;
	own_console = spec->process.terminal && !o->console_socket;
	cell_spec_free(spec);
	if (own_console && o->detach)
		return cell_err_set(err, 0, "process.terminal is true: --detach needs --console-socket");
	if (own_console && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return cell_err_set(err, errno, "socketpair");
	/* the init is our grandchild: adopt it so we can wait for it */
	if (!o->detach) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
			cell_err_set(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
			goto out;
		}
		/* from here, signals wait for the loop that forwards them */
		cell_run_block_signals();
	}
	if (create_with_console(ctx, id, o, sv[1], err) < 0)
		goto out;
	if (sv[1] >= 0) {
		close(sv[1]);
		sv[1] = -1;
		if (cell_recv_fd(sv[0], &master, NULL, 0, err) < 0)
			goto fail_delete;
	}
	if (cell_start(ctx, id, err) < 0)
		goto fail_delete;
	if (o->detach) {
		ret = 0;
		goto out;
	}
	if (cell_state_load(ctx->root, id, &st, err) < 0)
		goto out;
	ret = cell_run_foreground(st.pid, master, exit_code, err);
	cell_state_free(&st);
	cell_delete(ctx, id, true, &(struct cell_err){ 0 });
	goto out;
fail_delete:
	cell_delete(ctx, id, true, &(struct cell_err){ 0 });
out:
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (master >= 0)
		close(master);
	return ret;
}
