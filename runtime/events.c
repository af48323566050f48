/* `cell events`: one guest's event stream from a table of in-process
 * sources (cgroup OOM, stats ticks) and the events other processes post
 * to its state dir. See events.h. */
#define _GNU_SOURCE
#include "events.h"
#include "cleanup.h"
#include "hooks.h"
#include "log.h"
#include "policy.h"
#include "state.h"
#include "util.h"
#include "../cgroups/cgroups.h"

#include <errno.h>
#include <seccomp.h>
#include <sys/socket.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>

struct watch {
	const char *id;
	const char *cgroup;          /* "" = none */
	char dir[PATH_MAX];          /* the state dir */
	cell_event_fn fn;
	void *arg;
	uint64_t ooms;               /* OOM kills seen so far */
	struct tracked { pid_t pid; int64_t gone_ms; } *procs; /* the guest's processes */
	size_t n_procs, cap_procs;
	off_t posted_off;            /* read position in <dir>/events */
};

static int emit(struct watch *w, const char *type, json_t *data)
{
	json_t *ev = json_pack("{s:s,s:s}", "type", type, "id", w->id);
	int r;

	if (data)
		json_object_set_new(ev, "data", data);
	r = w->fn(w->arg, ev);
	json_decref(ev);
	return r;
}

/* the cgroup's OOM-kill counter */
static int oom_open(struct watch *w, struct cell_err *err)
{
	if (!*w->cgroup || cg_oom_count(w->cgroup, &w->ooms, err) < 0)
		return -1;
	return cg_oom_fd(w->cgroup, err);
}

static int oom_ready(struct watch *w, int fd)
{
	uint64_t n;

	if (fd >= 0)
		cg_oom_fd_drain(fd);
	if (cg_oom_count(w->cgroup, &n, &(struct cell_err){ 0 }) < 0)
		return 0;
	for (; w->ooms < n; w->ooms++)
		if (emit(w, "oom", NULL) < 0)
			return -1;
	return 0;
}

/* events posted by other processes to <state dir>/events */
static int posted_open(struct watch *w, struct cell_err *err)
{
	char path[PATH_MAX + 16];
	struct stat sb;
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	snprintf(path, sizeof(path), "%s/" CELL_EVENTS_FILE, w->dir);
	w->posted_off = stat(path, &sb) == 0 ? sb.st_size : 0;
	if (fd < 0 || inotify_add_watch(fd, w->dir, IN_MODIFY | IN_CREATE) < 0) {
		cell_err_set(err, errno, "watch %s", w->dir);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int posted_ready(struct watch *w, int fd)
{
	char path[PATH_MAX + 16], buf[65536];
	_cleanup_fclose_ FILE *f = NULL;

	if (fd >= 0)
		cg_oom_fd_drain(fd);
	snprintf(path, sizeof(path), "%s/" CELL_EVENTS_FILE, w->dir);
	if (!(f = fopen(path, "re")) || fseeko(f, w->posted_off, SEEK_SET) < 0)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		size_t len = strlen(buf);
		json_t *ev;
		int r = 0;
		if (!len || buf[len - 1] != '\n')
			break;  /* a line still being written */
		w->posted_off += len;
		if ((ev = json_loads(buf, 0, NULL)) && json_is_object(ev))
			r = w->fn(w->arg, ev);
		json_decref(ev);
		if (r < 0)
			return -1;
	}
	return 0;
}

/* The guest's processes as they come and go, from the kernel's process
 * connector: a fork is reported before the child runs, so even a process
 * that lives for one system call is known when its audit record arrives.
 * Exited ones are kept a while for records that come after the exit. */
#define GONE_KEEP_MS 30000

static int64_t now_ms(void);

static bool tracked_has(struct watch *w, pid_t pid)
{
	for (size_t i = 0; i < w->n_procs; i++)
		if (w->procs[i].pid == pid)
			return true;
	return false;
}

static void tracked_add(struct watch *w, pid_t pid)
{
	int64_t now = now_ms();

	/* forget the long gone, then append */
	for (size_t i = 0; i < w->n_procs;)
		if (w->procs[i].gone_ms && now - w->procs[i].gone_ms > GONE_KEEP_MS)
			w->procs[i] = w->procs[--w->n_procs];
		else
			i++;
	if (tracked_has(w, pid))
		return;
	if (w->n_procs == w->cap_procs) {
		size_t cap = w->cap_procs ? w->cap_procs * 2 : 64;
		struct tracked *n = realloc(w->procs, cap * sizeof(*n));
		if (!n)
			return;
		w->procs = n;
		w->cap_procs = cap;
	}
	w->procs[w->n_procs++] = (struct tracked){ .pid = pid };
}

static int procs_open(struct watch *w, struct cell_err *err)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0 };
	struct {
		struct nlmsghdr nl;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed)) req = {
		.nl = { .nlmsg_len = sizeof(req), .nlmsg_type = NLMSG_DONE },
		.cn = { .id = { .idx = CN_IDX_PROC, .val = CN_VAL_PROC }, .len = sizeof(enum proc_cn_mcast_op) },
		.op = PROC_CN_MCAST_LISTEN,
	};
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	int fd;

	if (!*w->cgroup)
		return -1;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || send(fd, &req, sizeof(req), 0) < 0) {
		cell_err_set(err, errno, "process connector");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* after subscribing, so no fork falls between the two */
	if (cell_policy_pids(w->cgroup, &pids, &n, err) == 0)
		for (size_t i = 0; i < n; i++)
			tracked_add(w, pids[i]);
	return fd;
}

static int procs_ready(struct watch *w, int fd)
{
	char buf[8192] __attribute__((aligned(8)));
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (struct nlmsghdr *nl = (struct nlmsghdr *)buf; NLMSG_OK(nl, (size_t)n); nl = NLMSG_NEXT(nl, n)) {
			struct cn_msg *cn = NLMSG_DATA(nl);
			struct proc_event ev;

			if (nl->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(ev)) || cn->len < sizeof(ev))
				continue;
			/* the event follows a 20-byte header: copy it out aligned */
			memcpy(&ev, cn->data, sizeof(ev));
			if (ev.what == PROC_EVENT_FORK && tracked_has(w, ev.event_data.fork.parent_tgid))
				tracked_add(w, ev.event_data.fork.child_tgid);
			else if (ev.what == PROC_EVENT_EXIT)
				for (size_t i = 0; i < w->n_procs; i++)
					if (w->procs[i].pid == ev.event_data.exit.process_tgid)
						w->procs[i].gone_ms = now_ms();
		}
	}
	return 0;
}

/* Seccomp breaches: the kernel's audit records (type=1326) of filters
 * with SCMP_ACT_LOG or SECCOMP_FILTER_FLAG_LOG, read from /dev/kmsg (where
 * they go when no audit daemon takes them), attributed to the guest by the
 * tracked processes, or the process's cgroup. */
static const struct {
	uint32_t code;
	const char *name;
} seccomp_actions[] = {
	{ 0x80000000U, "SCMP_ACT_KILL_PROCESS" }, { 0x00000000U, "SCMP_ACT_KILL_THREAD" },
	{ 0x00030000U, "SCMP_ACT_TRAP" }, { 0x00050000U, "SCMP_ACT_ERRNO" },
	{ 0x7fc00000U, "SCMP_ACT_NOTIFY" }, { 0x7ff00000U, "SCMP_ACT_TRACE" },
	{ 0x7ffc0000U, "SCMP_ACT_LOG" }, { 0x7fff0000U, "SCMP_ACT_ALLOW" },
};

static int seccomp_open(struct watch *w, struct cell_err *err)
{
	int fd;

	if (!*w->cgroup)
		return -1; /* nothing to attribute breaches by */
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		cell_debug("events: /dev/kmsg: %s: no seccomp events", strerror(errno));
		return -1;
	}
	lseek(fd, 0, SEEK_END); /* from now on */
	return fd;
}

/* Value of "key=" in an audit record, into out (quotes stripped). */
static bool audit_field(const char *rec, const char *key, char *out, size_t len)
{
	char pat[32];
	const char *p;
	size_t n;

	snprintf(pat, sizeof(pat), " %s=", key);
	if (!(p = strstr(rec, pat)))
		return false;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		n = strcspn(p, "\"");
	} else {
		n = strcspn(p, " \n");
	}
	if (n >= len)
		n = len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool pid_in_cgroup(pid_t pid, const char *cgroup)
{
	char path[64], line[PATH_MAX + 64];
	_cleanup_fclose_ FILE *f = NULL;
	size_t cl = strlen(cgroup);

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (!(f = fopen(path, "re")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		/* hierarchy-id:controllers:path */
		char *p = strchr(line, ':');
		p = p ? strchr(p + 1, ':') : NULL;
		if (p && !strncmp(p + 1, cgroup, cl) && (p[1 + cl] == '\n' || p[1 + cl] == '/'))
			return true;
	}
	return false;
}

static int seccomp_ready(struct watch *w, int fd)
{
	char rec[8192], v[256], when[48];
	ssize_t n;

	while ((n = read(fd, rec, sizeof(rec) - 1)) != 0) {
		unsigned long code, nr, arch;
		const char *action = "unknown";
		json_t *data;
		char *name;
		pid_t pid;

		if (n < 0) {
			if (errno == EPIPE)
				continue; /* records overwritten before we read them */
			break;
		}
		rec[n] = '\0';
		if (!strstr(rec, "type=1326") || !audit_field(rec, "pid", v, sizeof(v)))
			continue;
		pid = atoi(v);
		if (!tracked_has(w, pid) && !pid_in_cgroup(pid, w->cgroup))
			continue;
		code = audit_field(rec, "code", v, sizeof(v)) ? strtoul(v, NULL, 16) : 0;
		nr = audit_field(rec, "syscall", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;
		arch = audit_field(rec, "arch", v, sizeof(v)) ? strtoul(v, NULL, 16) : SCMP_ARCH_NATIVE;
		for (size_t i = 0; i < sizeof(seccomp_actions) / sizeof(seccomp_actions[0]); i++)
			if ((code & 0xffff0000U) == seccomp_actions[i].code)
				action = seccomp_actions[i].name;
		name = seccomp_syscall_resolve_num_arch(arch, nr);
		cell_time_rfc3339(when, sizeof(when));
		data = json_pack("{s:s, s:i, s:s, s:i, s:s}", "time", when, "pid", (json_int_t)pid,
				 "syscall", name ? name : "?", "syscallNumber", (json_int_t)nr, "action", action);
		free(name);
		if (audit_field(rec, "comm", v, sizeof(v)))
			json_object_set_new(data, "comm", json_string(v));
		if (emit(w, "seccomp", data) < 0)
			return -1;
	}
	return 0;
}

static const struct source {
	const char *name;
	int (*open)(struct watch *w, struct cell_err *err);   /* pollable fd, -1 = unavailable */
	int (*ready)(struct watch *w, int fd);
} sources[] = {
	{ "cgroup-oom", oom_open, oom_ready },
	{ "posted", posted_open, posted_ready },
	/* before "seccomp": forks are known before the records they explain */
	{ "procs", procs_open, procs_ready },
	{ "seccomp", seccomp_open, seccomp_ready },
};

int cell_event_post(int state_dirfd, const char *type, json_t *data, struct cell_err *err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *line = NULL;
	json_t *ev = json_pack("{s:s}", "type", type);
	char id[CELL_ID_MAX + 1] = "", link[64], path[PATH_MAX];
	ssize_t n;

	/* the id is the state dir's name */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", state_dirfd);
	n = readlink(link, path, sizeof(path) - 1);
	if (n > 0) {
		path[n] = 0;
		snprintf(id, sizeof(id), "%.255s", strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
	}
	json_object_set_new(ev, "id", json_string(id));
	if (data)
		json_object_set_new(ev, "data", data);
	line = json_dumps(ev, JSON_COMPACT);
	json_decref(ev);
	if (!line)
		return cell_err_set(err, ENOMEM, "event");
	fd = openat(state_dirfd, CELL_EVENTS_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return cell_err_set(err, errno, "open events of %s", id);
	n = strlen(line);
	line[n] = '\n';  /* replaces the NUL: one write, one line */
	if (write(fd, line, n + 1) != n + 1)
		return cell_err_set(err, errno, "write events of %s", id);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static int emit_stats(struct watch *w, struct cell_err *err)
{
	json_t *data;

	if (cg_stats(w->cgroup, &data, err) < 0)
		return -1;
	return emit(w, "stats", data);
}

int cell_events(const struct cell_ctx *ctx, const char *id, const struct cell_events_opts *o,
		cell_event_fn fn, void *arg, struct cell_err *err)
{
	struct cell_state st = { 0 };
	struct watch w = { .id = id, .fn = fn, .arg = arg };
	struct pollfd pfd[CELL_ARRAY_SIZE(sources) + 1];
	int64_t interval = o->interval_ms ? o->interval_ms : 5000, next;
	_cleanup_close_ int pidfd = -1;
	int ret = -1;

	for (size_t i = 0; i < CELL_ARRAY_SIZE(pfd); i++)
		pfd[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
	if (cell_state_load(ctx->root, id, &st, err) < 0)
		return -1;
	w.cgroup = st.cgroup ? st.cgroup : "";
	snprintf(w.dir, sizeof(w.dir), "%s/%s", ctx->root, id);
	if (cell_state_status(&st) == CELL_STATUS_STOPPED) {
		cell_err_set(err, 0, "container %s is not running", id);
		goto out;
	}
	if ((o->stats_only || o->interval_ms) && !*w.cgroup) {
		cell_err_set(err, 0, "container %s has no cgroup (created with --cgroup-manager disabled): no stats", id);
		goto out;
	}
	if (o->stats_only) {
		ret = emit_stats(&w, err);
		goto out;
	}
	pidfd = cell_pidfd_open(st.pid);
	if (pidfd < 0 || !cell_proc_alive(st.pid, st.pid_start)) {
		cell_err_set(err, 0, "container %s is not running", id);
		goto out;
	}
	for (size_t i = 0; i < CELL_ARRAY_SIZE(sources); i++) {
		struct cell_err serr = { 0 };
		pfd[i].fd = sources[i].open(&w, &serr);
		if (pfd[i].fd < 0 && serr.msg[0])
			cell_debug("events %s: %s: %s", id, sources[i].name, serr.msg);
	}
	pfd[CELL_ARRAY_SIZE(sources)].fd = pidfd;
	next = now_ms() + interval;
	for (;;) {
		int64_t wait = next - now_ms();
		bool gone;

		if (poll(pfd, CELL_ARRAY_SIZE(pfd), wait > 0 ? (int)wait : 0) < 0 && errno != EINTR) {
			cell_err_set(err, errno, "poll");
			goto out;
		}
		gone = pfd[CELL_ARRAY_SIZE(sources)].revents != 0;
		for (size_t i = 0; i < CELL_ARRAY_SIZE(sources); i++) {
			/* at the end every source gets a last look */
			if ((pfd[i].fd >= 0 && (pfd[i].revents || gone)) && sources[i].ready(&w, pfd[i].fd) < 0) {
				ret = 0;
				goto out;
			}
		}
		if (gone)
			break;
		if (now_ms() >= next) {
			struct cell_err serr = { 0 };
			next += interval;
			/* a missed notification is caught at the next tick */
			if (*w.cgroup && (oom_ready(&w, -1) < 0 || emit_stats(&w, &serr) < 0)) {
				if (serr.msg[0])
					cell_debug("events %s: %s", id, serr.msg);
				ret = 0;
				goto out;
			}
		}
	}
	ret = 0;
out:
	free(w.procs);
	for (size_t i = 0; i < CELL_ARRAY_SIZE(sources); i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	cell_state_free(&st);
	return ret;
}
