/* The event stream of one guest, as `cell events` prints it: one JSON
 * object per event, {"type": T, "id": ID, "data": {...}} (runc's shape:
 * "stats" with cpu/memory/pids/blkio, "oom"; others add their own types).
 *
 * Two kinds of source feed it:
 *  - in the watching process, a table of sources in events.c, each an fd
 *    to poll and a function that emits what became ready: the cgroup's
 *    OOM counter (woken by the kernel) and the stats of every interval;
 *  - any other process — the confinement policy's seccomp notifier, a
 *    microVM's VMM, a hook helper — posts with cell_event_post(), which
 *    appends one JSON line to <state dir>/events (O_APPEND, one write per
 *    event); the watcher follows that file with inotify and passes each
 *    new line on in order. A producer needs only the guest's state dir fd
 *    and a type name ("seccomp", "vm-exit", ...); data is free-form JSON.
 * The stream ends when the guest's first process exits. */
#ifndef CELL_EVENTS_H
#define CELL_EVENTS_H

#include <stdbool.h>
#include <jansson.h>

#include "err.h"
#include "runtime.h"

#define CELL_EVENTS_FILE "events"

/* Post an event for the guest whose state dir is state_dirfd; takes
 * ownership of data (may be NULL). */
int cell_event_post(int state_dirfd, const char *type, json_t *data, struct cell_err *err);

/* Called for each event (borrowed); a negative return stops the stream. */
typedef int (*cell_event_fn)(void *arg, json_t *event);

struct cell_events_opts {
	unsigned interval_ms;        /* stats every interval; 0 = 5 s */
	bool stats_only;             /* one stats event, then return */
};

int cell_events(const struct cell_ctx *ctx, const char *id, const struct cell_events_opts *o,
		cell_event_fn fn, void *arg, struct cell_err *err);

#endif
