/* The container's init: runs inside the new namespaces, sets the root up,
 * reports "created", then waits on init.sock for `cell start` and execs
 * the user process. Any failure is sent to whoever waits for it. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/fdpass.h"
#include "../runtime/util.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/close_range.h>

#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

struct init_ctx {
	const struct cell_create_req *req;
	const struct cell_spec *spec;
	int sync_fd;
	int listen_fd;
	int conn_fd;                 /* the `cell start` connection */
	int pty_slave;
	char *state_creating;
	char *state_created;
	char *exe;
	struct seccomp_filter *seccomp;
	struct rootfs_ctx rc;
};

/* The parent sends each idmapped mount's tree (spec order) before GO. */
static void init_recv_idmapped(struct init_ctx *c, struct cell_err *err)
{
	const struct cell_spec *s = c->spec;

	c->rc.idmap_fds = NULL;
	for (size_t i = 0; i < s->n_mounts; i++) {
		if (!s->mounts[i].idmap)
			continue;
		if (!c->rc.idmap_fds) {
			c->rc.idmap_fds = malloc(s->n_mounts * sizeof(int));
			if (!c->rc.idmap_fds)
				_exit(1);
			for (size_t j = 0; j < s->n_mounts; j++)
				c->rc.idmap_fds[j] = -1;
		}
		if (cell_recv_fd(c->sync_fd, &c->rc.idmap_fds[i], NULL, 0, err) < 0)
			_exit(1); /* the parent is gone or gave up: it reports */
	}
}

static int init_recv_go(struct init_ctx *c, struct cell_err *err)
{
	enum sync_type type;
	char *payload = NULL;
	size_t len = 0;
	int r;

	init_recv_idmapped(c, err);
	r = sync_recv(c->sync_fd, &type, NULL, &payload, &len, err);
	if (r != 0 || type != SYNC_GO) {
		free(payload);
		_exit(1); /* the parent is gone or gave up: nobody to report to */
	}
	/* payload: creating-state NUL created-state */
	c->state_creating = payload;
	c->state_created = payload + strnlen(payload, len) + 1;
	if (c->state_created > payload + len)
		c->state_created = payload + len;
	return 0;
}

static int init_runtime_hooks(struct init_ctx *c, struct cell_err *err)
{
	enum sync_type type;
	_cleanup_free_ char *payload = NULL;

	if (sync_send(c->sync_fd, SYNC_RUNTIME_HOOKS, 0, NULL, 0) < 0)
		return cell_err_set(err, errno, "sync");
	if (sync_recv(c->sync_fd, &type, NULL, &payload, NULL, err) != 0)
		_exit(1);
	if (type != SYNC_RUNTIME_HOOKS_DONE)
		_exit(1); /* the parent reports its own hook failure */
	return 0;
}

static void join_keyring(const char *id)
{
	char name[CELL_ERR_MSG_MAX];

	snprintf(name, sizeof(name), "_ses.%s", id);
	/* best effort as in runc: some hosts forbid keyctl to containers */
	syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name);
}

static bool maps_zero(const struct cell_idmap *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].container_id == 0)
			return true;
	return false;
}

/* Our ids are mapped now; until we take the namespace's root, files we
 * make belong to the host's root, which a namespace that maps container
 * 0 elsewhere (0 -> 100000) cannot represent (EOVERFLOW). */
static int become_userns_root(const struct cell_spec *s, struct cell_err *err)
{
	if (!s->has_ns[CELL_NS_USER] || s->ns[CELL_NS_USER].path)
		return 0;
	if (maps_zero(s->gid_mappings, s->n_gid_mappings) && setresgid(0, 0, 0) < 0)
		return cell_err_set(err, errno, "linux.gidMappings: become gid 0 in the user namespace");
	if (maps_zero(s->uid_mappings, s->n_uid_mappings) && setresuid(0, 0, 0) < 0)
		return cell_err_set(err, errno, "linux.uidMappings: become uid 0 in the user namespace");
	return 0;
}

static int init_setup(struct init_ctx *c, struct cell_err *err)
{
	const struct cell_spec *s = c->spec;
	const struct cell_process *p = &s->process;
	char buf[32];

	init_recv_go(c, err);
	if (become_userns_root(s, err) < 0)
		return -1;
	if (procattr_check(p, err) < 0)
		return -1;
	/* the parent has placed us in our cgroup: it becomes the namespace's root */
	if (s->has_ns[CELL_NS_CGROUP] && !s->ns[CELL_NS_CGROUP].path && unshare(CLONE_NEWCGROUP) < 0)
		return cell_err_set(err, errno, "linux.namespaces: new cgroup namespace");
	setsid();
	umask(0);
	if (!c->req->no_new_keyring)
		join_keyring(c->req->id);
	if (p->has_oom_score_adj) {
		snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
		if (cell_write_string("/proc/self/oom_score_adj", buf, err) < 0)
			return cell_err_wrap(err, "process.oomScoreAdj");
	}
	if (s->hostname && *s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0)
		return cell_err_set(err, errno, "hostname %s", s->hostname);
	if (s->domainname && *s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0)
		return cell_err_set(err, errno, "domainname %s", s->domainname);
	c->rc.spec = s;
	c->rc.in_userns = s->has_ns[CELL_NS_USER];
	c->rc.rootfd = -1;
	if (rootfs_prepare(&c->rc, err) < 0)
		return -1;
	if (init_runtime_hooks(c, err) < 0)
		return -1;
	if (c->req->run_hooks(s->hooks.v[CELL_HOOK_CREATE_CONTAINER], s->hooks.n[CELL_HOOK_CREATE_CONTAINER],
			      "createContainer", c->state_creating, err) < 0)
		return -1;
	if (rootfs_pivot(&c->rc, c->req->no_pivot, err) < 0 || rootfs_finish(&c->rc, err) < 0)
		return -1;
	if (p->terminal) {
		if (c->req->console_fd < 0)
			return cell_err_set(err, 0, "process.terminal: needs --console-socket");
		if (console_setup(c->req->console_fd, p, true, &c->pty_slave, err) < 0)
			return -1;
		close(c->req->console_fd);
		/* let go of create's stdio now (runc does): containerd reads it to EOF */
		for (int fd = 0; fd < 3; fd++)
			dup2(c->pty_slave, fd);
	}
	if (!c->req->payload && exec_resolve(p, &c->exe, err) < 0)
		return -1;
	if (chdir(p->cwd) < 0)
		return cell_err_set(err, errno, "process.cwd %s", p->cwd);
	if (c->req->payload)
		return c->req->payload->prepare(c->req->payload_arg, err);
	return 0;
}

static void die_on_signal(int sig)
{
	_exit(128 + sig);
}

/* Before start, the init is pid 1 of its namespace: without handlers the
 * kernel would drop `cell kill ID TERM`. */
static void init_catch_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM };
	struct sigaction sa = { .sa_handler = die_on_signal };

	for (size_t i = 0; i < CELL_ARRAY_SIZE(sigs); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void init_reset_signals(void)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static void init_wait_start(struct init_ctx *c)
{
	char cmd[16];
	ssize_t n;

	for (;;) {
		c->conn_fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c->conn_fd < 0) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		n = read(c->conn_fd, cmd, sizeof(cmd) - 1);
		if (n == 5 && !memcmp(cmd, "start", 5))
			break;
		close(c->conn_fd);
	}
	close(c->listen_fd);
}

static _Noreturn void init_fail_start(struct init_ctx *c, struct cell_err *err, int code)
{
	cell_write_all(c->conn_fd, err->msg, strlen(err->msg));
	_exit(code);
}

/* Load the filter; a listener fd goes to `cell start`, which hands it to
 * linux.seccomp.listenerPath on the host. */
static int init_seccomp(struct init_ctx *c, struct cell_err *err)
{
	int nfd;

	if (seccomp_apply(c->seccomp, &nfd, err) < 0)
		return -1;
	if (nfd >= 0) {
		int r = cell_send_fd(c->conn_fd, nfd, "seccomp", err);
		close(nfd);
		return r;
	}
	return 0;
}

static _Noreturn void init_exec(struct init_ctx *c)
{
	const struct cell_process *p = &c->spec->process;
	struct cell_err err = { 0 };

	if (c->req->run_hooks(c->spec->hooks.v[CELL_HOOK_START_CONTAINER],
			      c->spec->hooks.n[CELL_HOOK_START_CONTAINER], "startContainer",
			      c->state_created, &err) < 0)
		init_fail_start(c, &err, 1);
	if (c->pty_slave >= 0) {
		if (ioctl(c->pty_slave, TIOCSCTTY, 0) < 0) {
			cell_err_set(&err, errno, "process.terminal: set controlling terminal");
			init_fail_start(c, &err, 1);
		}
		for (int fd = 0; fd < 3; fd++)
			if (dup2(c->pty_slave, fd) < 0) {
				cell_err_set(&err, errno, "process.terminal: stdio");
				init_fail_start(c, &err, 1);
			}
	}
	/* without no_new_privs, loading a filter needs CAP_SYS_ADMIN, which the
	 * user switch may drop: load it first then (runc does the same) */
	if (!p->no_new_privileges && init_seccomp(c, &err) < 0)
		init_fail_start(c, &err, 1);
	if (procattr_apply(c->spec, p, &err) < 0 || exec_prepare_identity(p, &err) < 0)
		init_fail_start(c, &err, 1);
	if (p->no_new_privileges && init_seccomp(c, &err) < 0)
		init_fail_start(c, &err, 1);
	init_reset_signals();
	/* only stdio and the preserved fds reach the process */
	syscall(SYS_close_range, 3 + c->req->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC);
	if (c->req->payload) {
		/* the connection's EOF tells `cell start` the guest runs */
		close(c->conn_fd);
		_exit(c->req->payload->run(c->req->payload_arg));
	}
	execve(c->exe, p->args, p->env);
	cell_err_set(&err, errno, "exec %s", c->exe);
	init_fail_start(c, &err, 127);
}

_Noreturn void isolate_init_main(const struct cell_create_req *req, int sync_fd, int listen_fd,
				 struct seccomp_filter *seccomp)
{
	struct init_ctx c = {
		.req = req, .spec = req->spec, .sync_fd = sync_fd, .listen_fd = listen_fd,
		.conn_fd = -1, .pty_slave = -1, .seccomp = seccomp,
	};
	struct cell_err err = { 0 };

	if (init_setup(&c, &err) < 0) {
		sync_send(sync_fd, SYNC_ERROR, 0, err.msg, strlen(err.msg));
		_exit(1);
	}
	init_catch_signals();
	if (sync_send(sync_fd, SYNC_CREATED, 0, NULL, 0) < 0)
		_exit(1);
	close(sync_fd);
	init_wait_start(&c);
	init_exec(&c);
}
