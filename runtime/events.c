/* `cell events`: one guest's event stream from a table of in-process
 * sources (cgroup OOM, stats ticks) and the events other processes post
 * to its state dir. See events.h. */
#define _GNU_SOURCE
#include "events.h"
#include "cleanup.h"
#include "hooks.h"
#include "log.h"
#include "state.h"
#include "util.h"
#include "../cgroups/cgroups.h"

#include <errno.h>
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

static const struct source {
	const char *name;
	int (*open)(struct watch *w, struct cell_err *err);   /* pollable fd, -1 = unavailable */
	int (*ready)(struct watch *w, int fd);
} sources[] = {
	{ "cgroup-oom", oom_open, oom_ready },
	{ "posted", posted_open, posted_ready },
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
	for (size_t i = 0; i < CELL_ARRAY_SIZE(sources); i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	cell_state_free(&st);
	return ret;
}
