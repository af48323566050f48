/* The container driver, parent side: stage1 joins namespaces given by
 * path and clones the init into new ones; the parent maps ids, runs the
 * runtime hooks when the init asks, and returns once it waits for start. */
#define _GNU_SOURCE
#include "isolate.h"
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/fdpass.h"
#include "../runtime/hooks.h"
#include "../runtime/log.h"
#include "../runtime/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define INIT_SOCK "init.sock"

static _Noreturn void stage1_fail(int sync_fd, struct cell_err *err)
{
	sync_send(sync_fd, SYNC_ERROR, 0, err->msg, strlen(err->msg));
	_exit(1);
}

static int write_time_offsets(const struct cell_spec *s, struct cell_err *err)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n",
		 (long long)s->time_offset_secs[0], (long long)s->time_offset_nsecs[0],
		 (long long)s->time_offset_secs[1], (long long)s->time_offset_nsecs[1]);
	if (cell_write_string("/proc/self/timens_offsets", buf, err) < 0)
		return cell_err_wrap(err, "linux.timeOffsets");
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Close every fd >= from except those in keep[]. */
static void close_fds_except(int from, int *keep, size_t n)
{
	qsort(keep, n, sizeof(int), cmp_int);
	for (size_t i = 0; i < n; i++) {
		if (keep[i] < from)
			continue;
		if (keep[i] > from)
			syscall(SYS_close_range, from, keep[i] - 1, 0);
		from = keep[i] + 1;
	}
	syscall(SYS_close_range, from, ~0U, 0);
}

/* A forked child: joins the namespaces given by path (user first, mount
 * last, all opened before any join), then clones the init. */
static _Noreturn void stage1(const struct cell_create_req *req, int sync_fd, int listen_fd,
			     struct seccomp_filter *seccomp)
{
	static const enum cell_ns_type order[] = {
		CELL_NS_USER, CELL_NS_PID, CELL_NS_NET, CELL_NS_IPC, CELL_NS_UTS,
		CELL_NS_CGROUP, CELL_NS_TIME, CELL_NS_MNT,
	};
	const struct cell_spec *s = req->spec;
	struct cell_err err = { 0 };
	int nsfd[CELL_NS__COUNT];
	unsigned long flags = 0;
	pid_t pid;

	sigset_t none;

	/* the lock belongs to the parent alone */
	close(req->state_dirfd);
	/* the guest gets stdio and the preserved fds; nothing else the caller had */
	{
		int keep[3 + 8] = { sync_fd, listen_fd, req->console_fd };
		size_t n = 3;

		for (size_t i = 0; i < req->n_payload_fds && i < 8; i++)
			keep[n++] = req->payload_fds[i];
		close_fds_except(3 + req->preserve_fds, keep, n);
	}
	/* `cell run` blocks the signals it forwards; the guest must not inherit that */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (int t = 0; t < CELL_NS__COUNT; t++) {
		nsfd[t] = -1;
		if (!s->has_ns[t])
			continue;
		if (!s->ns[t].path) {
			/* time: unshared below; cgroup: by the init once it is in its cgroup */
			if (t != CELL_NS_TIME && t != CELL_NS_CGROUP)
				flags |= cell_ns_clone_flag(t);
			continue;
		}
		nsfd[t] = open(s->ns[t].path, O_RDONLY | O_CLOEXEC);
		if (nsfd[t] < 0) {
			cell_err_set(&err, errno, "linux.namespaces: %s namespace %s", cell_ns_name(t), s->ns[t].path);
			stage1_fail(sync_fd, &err);
		}
	}
	for (size_t i = 0; i < CELL_ARRAY_SIZE(order); i++) {
		int t = order[i];
		if (nsfd[t] >= 0 && setns(nsfd[t], cell_ns_clone_flag(t)) < 0) {
			cell_err_set(&err, errno, "linux.namespaces: join %s namespace %s", cell_ns_name(t),
				     s->ns[t].path);
			stage1_fail(sync_fd, &err);
		}
	}
	/* a new time namespace applies to children, after its offsets are set */
	if (s->has_ns[CELL_NS_TIME] && !s->ns[CELL_NS_TIME].path) {
		if (unshare(cell_ns_clone_flag(CELL_NS_TIME)) < 0) {
			cell_err_set(&err, errno, "linux.namespaces: new time namespace");
			stage1_fail(sync_fd, &err);
		}
		if (s->has_time_offsets && write_time_offsets(s, &err) < 0)
			stage1_fail(sync_fd, &err);
	}
	pid = syscall(SYS_clone, flags | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		cell_err_set(&err, errno, "clone the container init");
		stage1_fail(sync_fd, &err);
	}
	if (pid == 0)
		isolate_init_main(req, sync_fd, listen_fd, seccomp);
	sync_send(sync_fd, SYNC_PID, pid, NULL, 0);
	_exit(0);
}

/* newuidmap/newgidmap (setuid helpers from the uidmap package) write maps
 * an unprivileged user may not write itself: ranges from /etc/subuid. */
static int map_with_helper(const char *helper, pid_t pid, const struct cell_idmap *m, size_t n,
			   struct cell_err *err)
{
	char **argv = calloc(3 * n + 3, sizeof(char *)), pidbuf[16];
	size_t a = 0;
	int status = 0;
	pid_t child;

	if (!argv)
		return cell_err_set(err, ENOMEM, "%s", helper);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	argv[a++] = (char *)helper;
	argv[a++] = pidbuf;
	for (size_t i = 0; i < n; i++) {
		if (asprintf(&argv[a++], "%u", m[i].container_id) < 0 ||
		    asprintf(&argv[a++], "%u", m[i].host_id) < 0 || asprintf(&argv[a++], "%u", m[i].size) < 0)
			break;
	}
	child = fork();
	if (child == 0) {
		execvp(helper, argv);
		_exit(127);
	}
	if (child > 0)
		waitpid(child, &status, 0);
	for (size_t i = 2; i < a; i++)
		free(argv[i]);
	free(argv);
	if (child < 0)
		return cell_err_set(err, errno, "%s", helper);
	if (!WIFEXITED(status) || WEXITSTATUS(status))
		return cell_err_set(err, 0, "%s failed (status %d): is uidmap installed and the range in /etc/sub%cid?",
				    helper, WIFEXITED(status) ? WEXITSTATUS(status) : -1, helper[3]);
	return 0;
}

/* A single mapping onto the caller's own id needs no helper. */
static bool map_is_self(const struct cell_idmap *m, size_t n, unsigned self)
{
	return n == 1 && m[0].size == 1 && m[0].host_id == self;
}

static int map_ids(const struct cell_spec *s, pid_t pid, struct cell_err *err)
{
	bool root = geteuid() == 0;
	char path[64];

	if (!s->has_ns[CELL_NS_USER] || s->ns[CELL_NS_USER].path)
		return 0;
	if (root || map_is_self(s->uid_mappings, s->n_uid_mappings, geteuid())) {
		if (idmap_write(pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err) < 0)
			return cell_err_wrap(err, "linux.uidMappings");
	} else if (map_with_helper("newuidmap", pid, s->uid_mappings, s->n_uid_mappings, err) < 0) {
		return cell_err_wrap(err, "linux.uidMappings");
	}
	if (root)
		return idmap_write(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0
			       ? cell_err_wrap(err, "linux.gidMappings") : 0;
	if (map_is_self(s->gid_mappings, s->n_gid_mappings, getegid())) {
		/* the kernel lets an unprivileged writer map its gid only with setgroups denied */
		snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
		if (cell_write_string(path, "deny", err) < 0 ||
		    idmap_write(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0)
			return cell_err_wrap(err, "linux.gidMappings");
		return 0;
	}
	if (map_with_helper("newgidmap", pid, s->gid_mappings, s->n_gid_mappings, err) < 0)
		return cell_err_wrap(err, "linux.gidMappings");
	return 0;
}

static int listen_init_sock(int dirfd, struct cell_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return cell_err_set(err, errno, "socket");
	snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/" INIT_SOCK, dirfd);
	unlinkat(dirfd, INIT_SOCK, 0);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
		return cell_err_set(err, errno, "listen on " INIT_SOCK);
	return CELL_STEAL_FD(fd);
}

/* Kill a process that may not be our child, and wait until it is gone. */
static void kill_and_wait(pid_t pid)
{
	_cleanup_close_ int pfd = cell_pidfd_open(pid);
	struct pollfd p = { .fd = pfd, .events = POLLIN };

	if (pfd < 0)
		return;
	syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
	poll(&p, 1, 10000);
	waitpid(pid, NULL, WNOHANG);
}

static int parent_recv(int sync_fd, enum sync_type *type, int32_t *value, struct cell_err *err)
{
	_cleanup_free_ char *payload = NULL;
	int r = sync_recv(sync_fd, type, value, &payload, NULL, err);

	if (r < 0)
		return -1;
	if (r == 1)
		return cell_err_set(err, 0, "container init exited during create");
	if (*type == SYNC_ERROR)
		return cell_err_set(err, 0, "%s", payload ? payload : "container init failed");
	return 0;
}

/* Each idmapped mount's detached tree, in spec order, before SYNC_GO. */
static int send_idmapped_mounts(const struct cell_spec *s, pid_t init, int sync_fd, struct cell_err *err)
{
	for (size_t i = 0; i < s->n_mounts; i++) {
		int fd, r;

		if (!s->mounts[i].idmap)
			continue;
		if (mount_idmap_open(&s->mounts[i], i, init, &fd, err) < 0)
			return -1;
		r = cell_send_fd(sync_fd, fd, "idmap", err);
		close(fd);
		if (r < 0)
			return cell_err_wrap(err, "mounts[%zu]: container init", i);
	}
	return 0;
}

static int parent_drive(const struct cell_create_req *req, int sync_fd, pid_t s1, pid_t *init,
			struct cell_err *err)
{
	enum sync_type type;
	int32_t value = 0;
	char *creating, *created, *payload;
	size_t l1, l2;
	int r;

	r = parent_recv(sync_fd, &type, &value, err);
	waitpid(s1, NULL, 0);
	if (r < 0)
		return -1;
	if (type != SYNC_PID || value <= 0)
		return cell_err_set(err, EPROTO, "container init");
	*init = value;
	if (req->on_pid(req->arg, *init, err) < 0 || map_ids(req->spec, *init, err) < 0 ||
	    send_idmapped_mounts(req->spec, *init, sync_fd, err) < 0)
		return -1;
	creating = req->state_json(req->arg, "creating");
	created = req->state_json(req->arg, "created");
	if (!creating || !created) {
		free(creating);
		free(created);
		return cell_err_set(err, ENOMEM, "state");
	}
	l1 = strlen(creating);
	l2 = strlen(created);
	payload = malloc(l1 + l2 + 2);
	if (payload) {
		memcpy(payload, creating, l1 + 1);
		memcpy(payload + l1 + 1, created, l2 + 1);
	}
	free(creating);
	free(created);
	if (!payload)
		return cell_err_set(err, ENOMEM, "state");
	r = sync_send(sync_fd, SYNC_GO, 0, payload, l1 + l2 + 2);
	free(payload);
	if (r < 0)
		return cell_err_set(err, errno, "container init");
	for (;;) {
		if (parent_recv(sync_fd, &type, NULL, err) < 0)
			return -1;
		if (type == SYNC_CREATED)
			return 0;
		if (type != SYNC_RUNTIME_HOOKS)
			return cell_err_set(err, EPROTO, "container init");
		if (req->on_namespaces(req->arg, err) < 0) {
			sync_send(sync_fd, SYNC_ERROR, 0, NULL, 0);
			return -1;
		}
		if (sync_send(sync_fd, SYNC_RUNTIME_HOOKS_DONE, 0, NULL, 0) < 0)
			return cell_err_set(err, errno, "container init");
	}
}

/* <state root>/.seccomp: compiled filters, shared by the guests of a root */
static int seccomp_cache_dir(int state_dirfd)
{
	_cleanup_close_ int root = openat(state_dirfd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (root < 0 || (mkdirat(root, ".seccomp", 0700) < 0 && errno != EEXIST))
		return -1;
	return openat(root, ".seccomp", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

static int container_create(const struct cell_create_req *req, pid_t *out, struct cell_err *err)
{
	_cleanup_close_ int listen_fd = -1;
	struct seccomp_filter *seccomp = NULL;
	_cleanup_close_ int cache = seccomp_cache_dir(req->state_dirfd);
	int sync_fd = -1;
	pid_t s1 = -1, init = 0;
	int r;

	if (seccomp_build(req->spec->seccomp, cache, &seccomp, err) < 0)
		return cell_err_wrap(err, "config.json");
	listen_fd = listen_init_sock(req->state_dirfd, err);
	if (listen_fd >= 0)
		s1 = sync_fork(&sync_fd, err);
	if (s1 == 0)
		stage1(req, sync_fd, listen_fd, seccomp);
	seccomp_free(seccomp);
	if (s1 < 0)
		return -1;
	r = parent_drive(req, sync_fd, s1, &init, err);
	close(sync_fd);
	if (r < 0) {
		if (init > 0)
			kill_and_wait(init);
		unlinkat(req->state_dirfd, INIT_SOCK, 0);
		return -1;
	}
	*out = init;
	return 0;
}

/* The init answers start with EOF (its execve closed the socket), or an
 * error text; before that it may pass the seccomp listener fd. */
static int container_start(int dirfd, pid_t pid, int *notify_fd, struct cell_err *err)
{
	char path[64], msg[CELL_ERR_MSG_MAX];
	_cleanup_close_ int fd = -1;
	size_t len = 0;

	(void)pid;
	*notify_fd = -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d/" INIT_SOCK, dirfd);
	fd = cell_unix_connect(path, err);
	if (fd < 0)
		return cell_err_wrap(err, "container init is not waiting");
	if (cell_write_all(fd, "start", 5) < 0)
		return cell_err_set(err, errno, "start");
	while (len < sizeof(msg) - 1) {
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct iovec iov = { .iov_base = msg + len, .iov_len = sizeof(msg) - 1 - len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		ssize_t n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return cell_err_set(err, errno, "start");
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int))) {
			if (*notify_fd >= 0)
				close(*notify_fd);
			memcpy(notify_fd, CMSG_DATA(c), sizeof(int));
			continue; /* the fd's message carries no error text */
		}
		if (n == 0)
			break;
		len += n;
	}
	unlinkat(dirfd, INIT_SOCK, 0);
	if (len) {
		msg[len] = '\0';
		if (*notify_fd >= 0) {
			close(*notify_fd);
			*notify_fd = -1;
		}
		return cell_err_set(err, 0, "%s", msg);
	}
	return 0;
}

static int signal_pid(pid_t pid, uint64_t start, int sig, struct cell_err *err)
{
	_cleanup_close_ int pfd = cell_pidfd_open(pid);

	/* the pidfd pins the process; its start time proves it is ours */
	if (pfd < 0 || !cell_proc_alive(pid, start))
		return cell_err_set(err, ESRCH, "container process %d", (int)pid);
	if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0)
		return cell_err_set(err, errno, "signal %d to %d", sig, (int)pid);
	return 0;
}

static int container_kill(pid_t pid, uint64_t start, int sig, bool all, struct cell_err *err)
{
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;

	if (!all)
		return signal_pid(pid, start, sig, err);
	if (procs_list(pid, start, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) < 0 && errno != ESRCH)
			return cell_err_set(err, errno, "signal %d to %d", sig, (int)pids[i]);
	return 0;
}

const struct cell_driver cell_container_driver = {
	.kind = "container",
	.create = container_create,
	.start = container_start,
	.kill = container_kill,
	.exec = container_exec,
	.pids = procs_list,
};
