/* The state store: <root>/<id>/ holds state.json (atomic writes) and the
 * config the guest was created from; the directory itself is the lock. */
#ifndef CELL_STATE_H
#define CELL_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "err.h"

#define CELL_DEFAULT_ROOT "/run/cell"
#define CELL_ID_MAX 255

enum cell_status {
	CELL_STATUS_CREATING, CELL_STATUS_CREATED, CELL_STATUS_RUNNING,
	CELL_STATUS_PAUSED, CELL_STATUS_STOPPED,
};

struct cell_state {
	char id[CELL_ID_MAX + 1];
	char kind[16];               /* "container" or "vm": picks the driver */
	enum cell_status status;     /* as last recorded; see cell_state_status() */
	pid_t pid;                   /* the guest's init (or VMM) in the host pid ns */
	uint64_t pid_start;          /* its start time, to detect pid reuse */
	char *bundle;
	char *rootfs;
	char created[48];
	uid_t owner;
	json_t *annotations;         /* never NULL once loaded */
	char *cgroup;                /* the guest's cgroup path; NULL or "" = none */
	json_t *vm;                  /* a microVM's machine (vcpus, memory, paging); NULL otherwise */
};

/* An open, locked state directory. */
struct cell_handle {
	int dirfd;
	char *root;
	char id[CELL_ID_MAX + 1];
};

int cell_id_check(const char *id, struct cell_err *err);

/* Make <root>/<id> (error if it exists) and lock it. */
int cell_handle_create(const char *root, const char *id, struct cell_handle *h, struct cell_err *err);
/* Open and lock an existing <root>/<id>. ENOENT → "container ID does not exist". */
int cell_handle_open(const char *root, const char *id, struct cell_handle *h, struct cell_err *err);
void cell_handle_close(struct cell_handle *h);
/* Remove the directory and everything in it; closes h. */
int cell_handle_remove(struct cell_handle *h, struct cell_err *err);

int cell_state_write(struct cell_handle *h, const struct cell_state *st, struct cell_err *err);
/* Read state.json of an open handle, or lock-free by path (a consistent
 * snapshot thanks to atomic renames). */
int cell_state_read(struct cell_handle *h, struct cell_state *st, struct cell_err *err);
int cell_state_load(const char *root, const char *id, struct cell_state *st, struct cell_err *err);
void cell_state_free(struct cell_state *st);

/* The live status: the recorded one, unless the process has gone. */
enum cell_status cell_state_status(const struct cell_state *st);
const char *cell_status_name(enum cell_status s);

/* The runtime-spec state object (ociVersion, id, status, pid, bundle,
 * annotations) plus rootfs, created and owner as runc prints them. */
json_t *cell_state_to_json(const struct cell_state *st, enum cell_status status);

/* Ids of every guest under root, sorted; *ids is NULL-terminated. */
int cell_state_list(const char *root, char ***ids, struct cell_err *err);

#endif
