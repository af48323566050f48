/* cell exec: the process object is the guest's own config.process with
 * the caller's changes (or a whole process.json), checked by the same
 * schema and parser as config.json, then started by the guest's driver. */
#define _GNU_SOURCE
#include "runtime.h"
#include "cleanup.h"
#include "driver.h"
#include "fdpass.h"
#include "policy.h"
#include "run.h"
#include "schema.h"
#include "spec.h"
#include "state.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_env(json_t *env, const char *kv)
{
	size_t klen = strcspn(kv, "=") + 1, i;
	json_t *e;

	json_array_foreach(env, i, e)
		if (!strncmp(json_string_value(e), kv, klen))
			return json_array_set_new(env, i, json_string(kv));
	return json_array_append_new(env, json_string(kv));
}

static int apply_user(json_t *proc, const char *spec, struct cell_err *err)
{
	unsigned long uid, gid;
	char *end;
	json_t *user = json_object_get(proc, "user");

	uid = strtoul(spec, &end, 10);
	if (end == spec || (*end && *end != ':') || uid > UINT32_MAX)
		return cell_err_set(err, 0, "--user: \"%s\" is not UID[:GID]", spec);
	gid = *end ? strtoul(end + 1, &end, 10) : uid;
	if (*end || gid > UINT32_MAX)
		return cell_err_set(err, 0, "--user: \"%s\" is not UID[:GID]", spec);
	if (!json_is_object(user))
		json_object_set_new(proc, "user", user = json_object());
	json_object_set_new(user, "uid", json_integer(uid));
	json_object_set_new(user, "gid", json_integer(gid));
	json_object_del(user, "additionalGids");
	return 0;
}

/* The process object from the caller's options over the guest's own. */
static json_t *exec_process_json(const struct cell_spec *spec, const struct cell_exec_opts *o,
				 struct cell_err *err)
{
	static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
	json_t *proc, *v;

	if (o->process_file) {
		json_error_t jerr;
		proc = json_load_file(o->process_file, JSON_REJECT_DUPLICATES, &jerr);
		if (!proc)
			cell_err_set(err, 0, "--process %s: line %d column %d: %s", o->process_file, jerr.line,
				     jerr.column, jerr.text);
		return proc;
	}
	if (!o->args || !o->args[0]) {
		cell_err_set(err, 0, "a command to run is required (or --process FILE)");
		return NULL;
	}
	proc = json_deep_copy(json_object_get(spec->doc, "process"));
	if (!proc)
		proc = json_pack("{s:s, s:{s:i, s:i}}", "cwd", "/", "user", "uid", 0, "gid", 0);
	v = json_array();
	for (char **a = o->args; *a; a++)
		json_array_append_new(v, json_string(*a));
	json_object_set_new(proc, "args", v);
	json_object_set_new(proc, "terminal", json_boolean(o->tty));
	json_object_del(proc, "consoleSize");
	if (o->cwd)
		json_object_set_new(proc, "cwd", json_string(o->cwd));
	if (!json_is_array(json_object_get(proc, "env")))
		json_object_set_new(proc, "env", json_array());
	for (char **e = o->env; e && *e; e++)
		set_env(json_object_get(proc, "env"), *e);
	if (o->user && apply_user(proc, o->user, err) < 0) {
		json_decref(proc);
		return NULL;
	}
	if (o->no_new_privs)
		json_object_set_new(proc, "noNewPrivileges", json_true());
	for (char **c = o->caps; c && *c; c++) {
		json_t *caps = json_object_get(proc, "capabilities");
		if (!json_is_object(caps))
			json_object_set_new(proc, "capabilities", caps = json_object());
		for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
			json_t *set = json_object_get(caps, sets[i]);
			if (!json_is_array(set))
				json_object_set_new(caps, sets[i], set = json_array());
			json_array_append_new(set, json_string(*c));
		}
	}
	return proc;
}

/* The new process joins the guest's cgroup before it runs anything. */
static int place_in_cgroup(void *arg, pid_t pid, struct cell_err *err)
{
	const struct cell_state *st = arg;

	return cell_policy_place(st->cgroup ? st->cgroup : "", pid, err);
}

/* SCMP_ACT_NOTIFY: the exec'd process's listener goes to the agent too. */
struct exec_run {
	const struct cell_state *st;
	const struct cell_spec *spec;
};

static int exec_on_pid(void *arg, pid_t pid, struct cell_err *err)
{
	return place_in_cgroup((void *)((struct exec_run *)arg)->st, pid, err);
}

static int exec_on_listener(void *arg, pid_t pid, int fd, struct cell_err *err)
{
	const struct exec_run *er = arg;

	return cell_seccomp_send_listener(er->spec->seccomp, er->st, pid, fd, err);
}

static int load_guest(const struct cell_ctx *ctx, const char *id, struct cell_state *st,
		      struct cell_spec **spec, struct cell_err *err)
{
	struct cell_handle h = { .dirfd = -1 };
	_cleanup_free_ char *text = NULL;
	enum cell_status status;
	char path[64];
	size_t len;
	int r;

	if (cell_handle_open(ctx->root, id, &h, err) < 0)
		return -1;
	r = cell_state_read(&h, st, err);
	if (r == 0) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d/config.json", h.dirfd);
		r = cell_read_file(path, &text, &len, 1 << 24, err);
	}
	cell_handle_close(&h);
	if (r < 0)
		return -1;
	status = cell_state_status(st);
	if (status != CELL_STATUS_RUNNING && status != CELL_STATUS_CREATED && status != CELL_STATUS_PAUSED) {
		cell_state_free(st);
		return cell_err_set(err, 0, "container %s is %s: exec needs a running container", id,
				    cell_status_name(status));
	}
	if (cell_spec_parse(text, len, "config.json", NULL, spec, err) < 0) {
		cell_state_free(st);
		return -1;
	}
	return 0;
}

int cell_exec(const struct cell_ctx *ctx, const char *id, const struct cell_exec_opts *o,
	      int *exit_code, struct cell_err *err)
{
	struct cell_process proc = { 0 };
	struct cell_state st = { 0 };
	struct cell_spec *spec = NULL;
	const char *pname = o->process_file ? o->process_file : "process";
	int sv[2] = { -1, -1 }, console = -1, master = -1, ret = -1;
	json_t *pj = NULL;
	const struct cell_driver *drv;
	struct cell_exec_req req;
	struct exec_run er;
	pid_t pid = 0;

	*exit_code = 0;
	if (load_guest(ctx, id, &st, &spec, err) < 0)
		return -1;
	if (!(pj = exec_process_json(spec, o, err)))
		goto out;
	if (cell_schema_check(pj, &cell_schema_process, "process", err) < 0 ||
	    cell_spec_parse_process(&proc, pj, err) < 0) {
		if (o->process_file)
			cell_err_wrap(err, "%s", pname);
		goto out;
	}
	if (proc.terminal && o->console_socket) {
		if ((console = cell_unix_connect(o->console_socket, err)) < 0) {
			cell_err_wrap(err, "--console-socket");
			goto out;
		}
	} else if (proc.terminal) {
		if (o->detach) {
			cell_err_set(err, 0, "a terminal with --detach needs --console-socket");
			goto out;
		}
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
			cell_err_set(err, errno, "socketpair");
			goto out;
		}
		console = sv[1];
	}
	if (!o->detach) {
		if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
			cell_err_set(err, errno, "prctl(PR_SET_CHILD_SUBREAPER)");
			goto out;
		}
		cell_run_block_signals();
	}
	er = (struct exec_run){ .st = &st, .spec = spec };
	req = (struct cell_exec_req){
		.guest_pid = st.pid, .guest_start = st.pid_start, .process = &proc,
		.seccomp = spec->seccomp, .console_fd = console, .preserve_fds = o->preserve_fds,
		.on_pid = exec_on_pid, .on_listener = exec_on_listener, .arg = &er,
	};
	if (!(drv = cell_driver_for_kind(st.kind, err)) || drv->exec(&req, &pid, err) < 0)
		goto out;
	if (sv[0] >= 0 && cell_recv_fd(sv[0], &master, NULL, 0, err) < 0)
		goto out;
	if (o->pid_file && cell_write_pid_file(o->pid_file, pid, err) < 0)
		goto out;
	ret = o->detach ? 0 : cell_run_foreground(pid, master, exit_code, err);
out:
	if (console >= 0 && console != sv[1])
		close(console);
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	if (master >= 0)
		close(master);
	json_decref(pj);
	cell_spec_free(spec);
	cell_state_free(&st);
	cell_spec_process_free(&proc);
	return ret;
}
