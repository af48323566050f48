/* The OCI runtime-spec config.json as a validated C structure. */
#ifndef CELL_SPEC_H
#define CELL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "err.h"

#define CELL_OCI_VERSION "1.2.0"

enum cell_ns_type {
	CELL_NS_PID, CELL_NS_NET, CELL_NS_MNT, CELL_NS_IPC,
	CELL_NS_UTS, CELL_NS_USER, CELL_NS_CGROUP, CELL_NS_TIME,
	CELL_NS__COUNT
};

struct cell_ns {
	enum cell_ns_type type;
	char *path;                  /* join this namespace; NULL = create new */
};

struct cell_idmap {
	uint32_t container_id, host_id, size;
};

struct cell_mount {
	char *destination;
	char *source;                /* bind sources made absolute against the bundle */
	char *type;
	char **options;              /* NULL-terminated, as written */
	/* parsed from options */
	unsigned long flags;         /* MS_* to set */
	unsigned long propagation;   /* MS_SHARED/SLAVE/PRIVATE/UNBINDABLE (| MS_REC) */
	unsigned long rec_set, rec_clear; /* MOUNT_ATTR_* for recursive ro/nosuid/... */
	char *data;                  /* options the filesystem itself parses */
	bool bind;
	bool tmpcopyup;
	/* idmap, ridmap or uidMappings: the bind mount gets MOUNT_ATTR_IDMAP
	 * with these mappings, or the container's user namespace without them */
	bool idmap;
	bool idmap_recursive;        /* ridmap: every mount of an rbind tree */
	struct cell_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
};

struct cell_hook {
	char *path;
	char **args;                 /* NULL-terminated, may be NULL */
	char **env;                  /* NULL-terminated, may be NULL */
	int timeout;                 /* seconds, 0 = none */
};

enum cell_hook_kind {
	CELL_HOOK_PRESTART, CELL_HOOK_CREATE_RUNTIME, CELL_HOOK_CREATE_CONTAINER,
	CELL_HOOK_START_CONTAINER, CELL_HOOK_POSTSTART, CELL_HOOK_POSTSTOP,
	CELL_HOOK__COUNT
};

struct cell_hooks {
	struct cell_hook *v[CELL_HOOK__COUNT];
	size_t n[CELL_HOOK__COUNT];
};

struct cell_rlimit {
	int resource;
	uint64_t soft, hard;
};

enum cell_cap_set {
	CELL_CAP_BOUNDING, CELL_CAP_EFFECTIVE, CELL_CAP_INHERITABLE,
	CELL_CAP_PERMITTED, CELL_CAP_AMBIENT, CELL_CAP__COUNT
};

struct cell_device {
	char *path;
	char type;                   /* c, b, u (unbuffered char) or p (fifo) */
	int64_t major, minor;
	mode_t mode;                 /* permission bits; 0666 when not given */
	uid_t uid;
	gid_t gid;
};

struct cell_process {
	bool terminal;
	bool has_console_size;
	unsigned console_height, console_width;
	char *cwd;
	char **args;
	char **env;
	uid_t uid;
	gid_t gid;
	gid_t *additional_gids;
	size_t n_additional_gids;
	bool has_umask;
	mode_t umask;
	struct cell_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	/* capability names per set; applied by the confinement policy */
	bool has_capabilities;
	char **capabilities[CELL_CAP__COUNT];
	char *apparmor_profile;
	char *selinux_label;
	bool has_io_priority;
	int io_priority;             /* IOPRIO_PRIO_VALUE(class, level) */
	bool has_scheduler;
	struct {
		uint32_t policy;
		int32_t nice;
		uint32_t priority;
		uint64_t flags, runtime, deadline, period;
	} scheduler;
};

struct cell_spec {
	char *oci_version;
	char *bundle;                /* absolute */
	char *root_path;             /* absolute */
	bool root_readonly;
	char *hostname;
	char *domainname;
	struct cell_process process;
	struct cell_mount *mounts;
	size_t n_mounts;
	struct cell_hooks hooks;
	json_t *annotations;         /* object of strings, never NULL */

	/* linux */
	struct cell_ns ns[CELL_NS__COUNT];
	bool has_ns[CELL_NS__COUNT];
	struct cell_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	char **masked_paths;
	char **readonly_paths;
	unsigned long rootfs_propagation;  /* 0 = default (rslave) */
	char *cgroups_path;
	bool has_time_offsets;
	int64_t time_offset_secs[2], time_offset_nsecs[2]; /* [0] monotonic, [1] boottime */
	json_t *resources;           /* validated here, applied by cgroups/ */
	json_t *seccomp;             /* applied by the confinement policy */
	json_t *sysctl;
	struct cell_device *devices;
	size_t n_devices;
	bool has_personality;
	unsigned long personality;   /* PER_LINUX or PER_LINUX32 */

	/* the runtime-spec vm object; present = microVM */
	json_t *vm;
	struct cell_vm *vmcfg;       /* parsed from vm (spec_vm.c) */
	bool no_default_devices;     /* /dev gets only linux.devices (the VMM's root) */

	json_t *doc;                 /* the whole document */
};

/* Parse and validate config.json text. `name` is used in messages
 * ("config.json"). `bundle` is the absolute bundle dir used to resolve
 * root.path and relative bind sources; may be NULL for pure validation. */
int cell_spec_parse(const char *text, size_t len, const char *name, const char *bundle,
		    struct cell_spec **out, struct cell_err *err);

/* Load <bundle>/config.json. */
int cell_spec_load(const char *bundle, struct cell_spec **out, struct cell_err *err);

void cell_spec_free(struct cell_spec *spec);

/* Fill a process from a runtime-spec process object already type-checked
 * against cell_schema_process. */
int cell_spec_parse_process(struct cell_process *p, const json_t *proc, struct cell_err *err);
void cell_spec_process_free(struct cell_process *p);

/* The default config.json written by `cell spec`, as JSON text (caller frees). */
char *cell_spec_default(void);
/* The same for an unprivileged user (runc spec --rootless): a user
 * namespace mapping uid/gid to root, no network namespace, /sys bound
 * read-only, no cgroup mount, no resources. */
char *cell_spec_default_rootless(uid_t uid, gid_t gid);

const char *cell_ns_name(enum cell_ns_type t);
int cell_ns_clone_flag(enum cell_ns_type t);
const char *cell_hook_name(enum cell_hook_kind k);

/* spec_kernel.c: linux.devices, linux.sysctl, linux.personality and the
 * process's ioPriority and scheduler (called by the parser). */
int cell_spec_parse_kernel(struct cell_spec *s, const json_t *linux_, struct cell_err *err);
int cell_spec_parse_sched(struct cell_process *p, const json_t *proc, struct cell_err *err);
int cell_spec_check_sysctl(const struct cell_spec *s, struct cell_err *err);
void cell_spec_free_kernel(struct cell_spec *s);

/* spec_vm.c: a microVM's kernel, command line, vCPUs and RAM. */
struct cell_vm {
	char *kernel_path;           /* absolute, or relative to the bundle resolved */
	char *initrd_path;           /* NULL: none */
	char *cmdline;               /* vm.kernel.parameters joined by spaces */
	unsigned vcpus;
	uint64_t mem_bytes;
	bool hugepages;
	bool unpack_kernel;          /* a bzImage boots as the vmlinux it carries (cell.vm.unpack-kernel) */
};
int cell_spec_parse_vm(struct cell_spec *s, struct cell_err *err);
void cell_spec_free_vm(struct cell_spec *s);

/* Parse one mount option list into m's parsed fields. Exposed for tests. */
int cell_mount_parse_options(struct cell_mount *m, const char *path, struct cell_err *err);

/* runtime/guest.c: hand a seccomp listener fd to linux.seccomp.listenerPath
 * with the runtime-spec container process state (pid: the process whose
 * filter it is; st: its container). */
struct cell_state;
int cell_seccomp_send_listener(const json_t *seccomp, const struct cell_state *st, pid_t pid, int fd,
			       struct cell_err *err);

/* Resolve an rlimit name such as "RLIMIT_NOFILE"; -1 if unknown. */
int cell_rlimit_from_name(const char *name);

#endif
