/* config.json → struct cell_spec: types are checked by schema.c, the
 * meaning of each value (names, ranges, combinations) here. */
#define _GNU_SOURCE
#include "spec.h"
#include "schema.h"
#include "cleanup.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <strings.h>
#include <sys/capability.h>
#include <linux/mount.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

static const struct {
	const char *name;
	int flag;
} ns_table[CELL_NS__COUNT] = {
	[CELL_NS_PID] = { "pid", CLONE_NEWPID },
	[CELL_NS_NET] = { "network", CLONE_NEWNET },
	[CELL_NS_MNT] = { "mount", CLONE_NEWNS },
	[CELL_NS_IPC] = { "ipc", CLONE_NEWIPC },
	[CELL_NS_UTS] = { "uts", CLONE_NEWUTS },
	[CELL_NS_USER] = { "user", CLONE_NEWUSER },
	[CELL_NS_CGROUP] = { "cgroup", CLONE_NEWCGROUP },
	[CELL_NS_TIME] = { "time", CLONE_NEWTIME },
};

const char *cell_ns_name(enum cell_ns_type t) { return ns_table[t].name; }
int cell_ns_clone_flag(enum cell_ns_type t) { return ns_table[t].flag; }

static const char *const hook_names[CELL_HOOK__COUNT] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

const char *cell_hook_name(enum cell_hook_kind k) { return hook_names[k]; }

static const char *const cap_set_names[CELL_CAP__COUNT] = {
	"bounding", "effective", "inheritable", "permitted", "ambient",
};

static const struct {
	const char *name;
	int resource;
} rlimit_table[] = {
	{ "RLIMIT_AS", RLIMIT_AS }, { "RLIMIT_CORE", RLIMIT_CORE }, { "RLIMIT_CPU", RLIMIT_CPU },
	{ "RLIMIT_DATA", RLIMIT_DATA }, { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS }, { "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_NOFILE", RLIMIT_NOFILE }, { "RLIMIT_NPROC", RLIMIT_NPROC },
	{ "RLIMIT_RSS", RLIMIT_RSS }, { "RLIMIT_RTPRIO", RLIMIT_RTPRIO },
	{ "RLIMIT_RTTIME", RLIMIT_RTTIME }, { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_STACK", RLIMIT_STACK },
};

int cell_rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < CELL_ARRAY_SIZE(rlimit_table); i++)
		if (!strcmp(rlimit_table[i].name, name))
			return rlimit_table[i].resource;
	return -1;
}

/* Mount options as data: what each sets or clears. */
enum opt_kind { OPT_SET, OPT_CLEAR, OPT_PROPAGATION, OPT_REC_SET, OPT_REC_CLEAR, OPT_BIND };

static const struct {
	const char *name;
	enum opt_kind kind;
	unsigned long value;
} mount_opts[] = {
	{ "defaults", OPT_CLEAR, 0 },
	{ "ro", OPT_SET, MS_RDONLY }, { "rw", OPT_CLEAR, MS_RDONLY },
	{ "nosuid", OPT_SET, MS_NOSUID }, { "suid", OPT_CLEAR, MS_NOSUID },
	{ "nodev", OPT_SET, MS_NODEV }, { "dev", OPT_CLEAR, MS_NODEV },
	{ "noexec", OPT_SET, MS_NOEXEC }, { "exec", OPT_CLEAR, MS_NOEXEC },
	{ "sync", OPT_SET, MS_SYNCHRONOUS }, { "async", OPT_CLEAR, MS_SYNCHRONOUS },
	{ "dirsync", OPT_SET, MS_DIRSYNC },
	{ "remount", OPT_SET, MS_REMOUNT },
	{ "mand", OPT_SET, MS_MANDLOCK }, { "nomand", OPT_CLEAR, MS_MANDLOCK },
	{ "atime", OPT_CLEAR, MS_NOATIME }, { "noatime", OPT_SET, MS_NOATIME },
	{ "diratime", OPT_CLEAR, MS_NODIRATIME }, { "nodiratime", OPT_SET, MS_NODIRATIME },
	{ "relatime", OPT_SET, MS_RELATIME }, { "norelatime", OPT_CLEAR, MS_RELATIME },
	{ "strictatime", OPT_SET, MS_STRICTATIME }, { "nostrictatime", OPT_CLEAR, MS_STRICTATIME },
	{ "lazytime", OPT_SET, MS_LAZYTIME }, { "nolazytime", OPT_CLEAR, MS_LAZYTIME },
	{ "silent", OPT_SET, MS_SILENT }, { "loud", OPT_CLEAR, MS_SILENT },
	{ "iversion", OPT_SET, MS_I_VERSION }, { "noiversion", OPT_CLEAR, MS_I_VERSION },
	{ "nosymfollow", OPT_SET, MS_NOSYMFOLLOW }, { "symfollow", OPT_CLEAR, MS_NOSYMFOLLOW },
	{ "bind", OPT_BIND, 0 }, { "rbind", OPT_BIND, MS_REC },
	{ "private", OPT_PROPAGATION, MS_PRIVATE }, { "rprivate", OPT_PROPAGATION, MS_PRIVATE | MS_REC },
	{ "shared", OPT_PROPAGATION, MS_SHARED }, { "rshared", OPT_PROPAGATION, MS_SHARED | MS_REC },
	{ "slave", OPT_PROPAGATION, MS_SLAVE }, { "rslave", OPT_PROPAGATION, MS_SLAVE | MS_REC },
	{ "unbindable", OPT_PROPAGATION, MS_UNBINDABLE },
	{ "runbindable", OPT_PROPAGATION, MS_UNBINDABLE | MS_REC },
	{ "rro", OPT_REC_SET, MOUNT_ATTR_RDONLY }, { "rrw", OPT_REC_CLEAR, MOUNT_ATTR_RDONLY },
	{ "rnosuid", OPT_REC_SET, MOUNT_ATTR_NOSUID }, { "rsuid", OPT_REC_CLEAR, MOUNT_ATTR_NOSUID },
	{ "rnodev", OPT_REC_SET, MOUNT_ATTR_NODEV }, { "rdev", OPT_REC_CLEAR, MOUNT_ATTR_NODEV },
	{ "rnoexec", OPT_REC_SET, MOUNT_ATTR_NOEXEC }, { "rexec", OPT_REC_CLEAR, MOUNT_ATTR_NOEXEC },
	{ "rnodiratime", OPT_REC_SET, MOUNT_ATTR_NODIRATIME },
	{ "rdiratime", OPT_REC_CLEAR, MOUNT_ATTR_NODIRATIME },
	{ "rnoatime", OPT_REC_SET, MOUNT_ATTR_NOATIME },
	{ "rstrictatime", OPT_REC_SET, MOUNT_ATTR_STRICTATIME },
	{ "rrelatime", OPT_REC_SET, MOUNT_ATTR_RELATIME },
	{ "rnosymfollow", OPT_REC_SET, MOUNT_ATTR_NOSYMFOLLOW },
	{ "rsymfollow", OPT_REC_CLEAR, MOUNT_ATTR_NOSYMFOLLOW },
};

int cell_mount_parse_options(struct cell_mount *m, const char *path, struct cell_err *err)
{
	size_t datalen = 0;

	m->flags = m->propagation = m->rec_set = m->rec_clear = 0;
	m->bind = m->tmpcopyup = m->idmap = m->idmap_recursive = false;
	free(m->data);
	m->data = NULL;
	if (m->type && (!strcmp(m->type, "bind") || !strcmp(m->type, "rbind"))) {
		m->bind = true;
		if (!strcmp(m->type, "rbind"))
			m->flags |= MS_REC;
	}
	for (char **o = m->options; o && *o; o++) {
		size_t i;

		for (i = 0; i < CELL_ARRAY_SIZE(mount_opts); i++)
			if (!strcmp(mount_opts[i].name, *o))
				break;
		if (i < CELL_ARRAY_SIZE(mount_opts)) {
			unsigned long v = mount_opts[i].value;
			switch (mount_opts[i].kind) {
			case OPT_SET: m->flags |= v; break;
			case OPT_CLEAR: m->flags &= ~v; break;
			case OPT_PROPAGATION: m->propagation = v; break;
			case OPT_REC_SET: m->rec_set |= v; m->rec_clear &= ~v; break;
			case OPT_REC_CLEAR: m->rec_clear |= v; m->rec_set &= ~v; break;
			case OPT_BIND: m->bind = true; m->flags |= v; break;
			}
			continue;
		}
		if (!strcmp(*o, "tmpcopyup")) {
			m->tmpcopyup = true;
			continue;
		}
		/* runtime-spec: never passed to mount(2) */
		if (!strcmp(*o, "idmap") || !strcmp(*o, "ridmap")) {
			m->idmap = true;
			m->idmap_recursive = **o == 'r';
			continue;
		}
		/* anything else is for the filesystem to parse */
		size_t olen = strlen(*o);
		char *nd = realloc(m->data, datalen + olen + 2);
		if (!nd)
			return cell_err_set(err, ENOMEM, "%s", path);
		m->data = nd;
		if (datalen)
			m->data[datalen++] = ',';
		memcpy(m->data + datalen, *o, olen + 1);
		datalen += olen;
	}
	if (m->tmpcopyup && (!m->type || strcmp(m->type, "tmpfs")))
		return cell_err_set(err, 0, "%s: option \"tmpcopyup\" needs type tmpfs", path);
	return 0;
}

static char **strv_from_json(const json_t *arr)
{
	size_t n = json_array_size(arr), i;
	char **v = calloc(n + 1, sizeof(char *));

	if (!v)
		return NULL;
	for (i = 0; i < n; i++) {
		v[i] = strdup(json_string_value(json_array_get(arr, i)));
		if (!v[i]) {
			cell_strvfreep(&v);
			return NULL;
		}
	}
	return v;
}

static char *str_dup_or_null(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? strdup(s) : NULL;
}

/* A new reference to v if it is an object; JSON null counts as absent. */
static json_t *object_or_null(json_t *v)
{
	return json_is_object(v) ? json_incref(v) : NULL;
}

static int parse_ns(struct cell_spec *s, const json_t *linux_, struct cell_err *err)
{
	json_t *arr = json_object_get(linux_, "namespaces"), *ns;
	size_t i;

	json_array_foreach(arr, i, ns) {
		const char *type = json_string_value(json_object_get(ns, "type"));
		const char *path = json_string_value(json_object_get(ns, "path"));
		int t;

		for (t = 0; t < CELL_NS__COUNT; t++)
			if (!strcmp(type, ns_table[t].name))
				break;
		if (t == CELL_NS__COUNT)
			return cell_err_set(err, 0, "linux.namespaces[%zu].type: unknown namespace type \"%s\"",
					    i, type);
		if (s->has_ns[t])
			return cell_err_set(err, 0, "linux.namespaces[%zu].type: duplicate namespace \"%s\"",
					    i, type);
		if (path && path[0] != '/')
			return cell_err_set(err, 0, "linux.namespaces[%zu].path: \"%s\" is not absolute",
					    i, path);
		s->has_ns[t] = true;
		s->ns[t].type = t;
		if (path && !(s->ns[t].path = strdup(path)))
			return cell_err_set(err, ENOMEM, "linux.namespaces");
	}
	return 0;
}

static int parse_idmaps(const json_t *arr, struct cell_idmap **out, size_t *n, const char *path,
			struct cell_err *err)
{
	json_t *e;
	size_t i;

	*n = json_array_size(arr);
	if (!*n)
		return 0;
	if (*n > 340)
		return cell_err_set(err, 0, "%s: at most 340 mappings", path);
	*out = calloc(*n, sizeof(**out));
	if (!*out)
		return cell_err_set(err, ENOMEM, "%s", path);
	json_array_foreach(arr, i, e) {
		(*out)[i].container_id = json_integer_value(json_object_get(e, "containerID"));
		(*out)[i].host_id = json_integer_value(json_object_get(e, "hostID"));
		(*out)[i].size = json_integer_value(json_object_get(e, "size"));
		if (!(*out)[i].size)
			return cell_err_set(err, 0, "%s[%zu].size: must be greater than zero", path, i);
	}
	return 0;
}

static int parse_hooks(struct cell_spec *s, const json_t *hooks, struct cell_err *err)
{
	for (int k = 0; k < CELL_HOOK__COUNT; k++) {
		json_t *arr = json_object_get(hooks, hook_names[k]), *h;
		size_t i, n = json_array_size(arr);

		if (!n)
			continue;
		s->hooks.v[k] = calloc(n, sizeof(struct cell_hook));
		if (!s->hooks.v[k])
			return cell_err_set(err, ENOMEM, "hooks");
		s->hooks.n[k] = n;
		json_array_foreach(arr, i, h) {
			struct cell_hook *hk = &s->hooks.v[k][i];
			json_t *t = json_object_get(h, "timeout");

			hk->path = str_dup_or_null(h, "path");
			if (!hk->path)
				return cell_err_set(err, ENOMEM, "hooks");
			if (hk->path[0] != '/')
				return cell_err_set(err, 0, "hooks.%s[%zu].path: \"%s\" is not absolute",
						    hook_names[k], i, hk->path);
			if (json_object_get(h, "args") && !(hk->args = strv_from_json(json_object_get(h, "args"))))
				return cell_err_set(err, ENOMEM, "hooks");
			if (json_object_get(h, "env") && !(hk->env = strv_from_json(json_object_get(h, "env"))))
				return cell_err_set(err, ENOMEM, "hooks");
			if (t && json_is_integer(t)) {
				if (json_integer_value(t) <= 0)
					return cell_err_set(err, 0, "hooks.%s[%zu].timeout: must be greater than zero",
							    hook_names[k], i);
				if (json_integer_value(t) > INT_MAX)
					return cell_err_set(err, 0, "hooks.%s[%zu].timeout: at most %d seconds",
							    hook_names[k], i, INT_MAX);
				hk->timeout = json_integer_value(t);
			}
		}
	}
	return 0;
}

static int parse_rlimits(struct cell_process *p, const json_t *arr, struct cell_err *err)
{
	json_t *e;
	size_t i, n = json_array_size(arr);

	if (!n)
		return 0;
	p->rlimits = calloc(n, sizeof(*p->rlimits));
	if (!p->rlimits)
		return cell_err_set(err, ENOMEM, "process.rlimits");
	p->n_rlimits = n;
	json_array_foreach(arr, i, e) {
		const char *type = json_string_value(json_object_get(e, "type"));
		int r = cell_rlimit_from_name(type);

		if (r < 0)
			return cell_err_set(err, 0, "process.rlimits[%zu].type: unknown rlimit \"%s\"", i, type);
		for (size_t j = 0; j < i; j++)
			if (p->rlimits[j].resource == r)
				return cell_err_set(err, 0, "process.rlimits[%zu].type: duplicate rlimit \"%s\"",
						    i, type);
		p->rlimits[i].resource = r;
		p->rlimits[i].soft = json_integer_value(json_object_get(e, "soft"));
		p->rlimits[i].hard = json_integer_value(json_object_get(e, "hard"));
		if (p->rlimits[i].soft > p->rlimits[i].hard)
			return cell_err_set(err, 0, "process.rlimits[%zu]: soft limit %llu exceeds hard limit %llu",
					    i, (unsigned long long)p->rlimits[i].soft,
					    (unsigned long long)p->rlimits[i].hard);
	}
	return 0;
}

int cell_spec_parse_process(struct cell_process *p, const json_t *proc, struct cell_err *err)
{
	const json_t *user = json_object_get(proc, "user"), *v;
	size_t i;

	p->terminal = json_is_true(json_object_get(proc, "terminal"));
	if ((v = json_object_get(proc, "consoleSize")) && json_is_object(v)) {
		p->has_console_size = true;
		p->console_height = json_integer_value(json_object_get(v, "height"));
		p->console_width = json_integer_value(json_object_get(v, "width"));
	}
	p->cwd = str_dup_or_null(proc, "cwd");
	if (!p->cwd || p->cwd[0] != '/')
		return cell_err_set(err, 0, "process.cwd: \"%s\" is not absolute", p->cwd ? p->cwd : "");
	v = json_object_get(proc, "args");
	if (json_array_size(v) == 0)
		return cell_err_set(err, 0, "process.args: must name a program to run");
	if (!(p->args = strv_from_json(v)))
		return cell_err_set(err, ENOMEM, "process.args");
	if (!*p->args[0])
		return cell_err_set(err, 0, "process.args[0]: must not be empty");
	v = json_object_get(proc, "env");
	if (!(p->env = v ? strv_from_json(v) : calloc(1, sizeof(char *))))
		return cell_err_set(err, ENOMEM, "process.env");
	for (i = 0; p->env[i]; i++)
		if (!strchr(p->env[i], '=') || p->env[i][0] == '=')
			return cell_err_set(err, 0, "process.env[%zu]: \"%s\" is not of the form NAME=VALUE",
					    i, p->env[i]);
	p->uid = json_integer_value(json_object_get(user, "uid"));
	p->gid = json_integer_value(json_object_get(user, "gid"));
	if ((v = json_object_get(user, "umask")) && json_is_integer(v)) {
		if (json_integer_value(v) > 0777)
			return cell_err_set(err, 0, "process.user.umask: %lld is not a file mode mask",
					    (long long)json_integer_value(v));
		p->has_umask = true;
		p->umask = json_integer_value(v);
	}
	v = json_object_get(user, "additionalGids");
	if ((p->n_additional_gids = json_array_size(v))) {
		if (!(p->additional_gids = calloc(p->n_additional_gids, sizeof(gid_t))))
			return cell_err_set(err, ENOMEM, "process.user.additionalGids");
		for (i = 0; i < p->n_additional_gids; i++)
			p->additional_gids[i] = json_integer_value(json_array_get(v, i));
	}
	if (parse_rlimits(p, json_object_get(proc, "rlimits"), err) < 0)
		return -1;
	p->no_new_privileges = json_is_true(json_object_get(proc, "noNewPrivileges"));
	if ((v = json_object_get(proc, "oomScoreAdj")) && json_is_integer(v)) {
		if (json_integer_value(v) < -1000 || json_integer_value(v) > 1000)
			return cell_err_set(err, 0, "process.oomScoreAdj: %lld is outside -1000..1000",
					    (long long)json_integer_value(v));
		p->has_oom_score_adj = true;
		p->oom_score_adj = json_integer_value(v);
	}
	if ((v = json_object_get(proc, "capabilities")) && json_is_object(v)) {
		p->has_capabilities = true;
		for (int c = 0; c < CELL_CAP__COUNT; c++) {
			json_t *set = json_object_get(v, cap_set_names[c]);
			if (set && json_is_array(set) && !(p->capabilities[c] = strv_from_json(set)))
				return cell_err_set(err, ENOMEM, "process.capabilities");
			for (i = 0; p->capabilities[c] && p->capabilities[c][i]; i++) {
				cap_value_t cv;
				if (strncasecmp(p->capabilities[c][i], "CAP_", 4) ||
				    cap_from_name(p->capabilities[c][i], &cv) < 0)
					return cell_err_set(err, 0, "process.capabilities.%s[%zu]: unknown capability \"%s\"",
							    cap_set_names[c], i, p->capabilities[c][i]);
			}
		}
	}
	p->apparmor_profile = str_dup_or_null(proc, "apparmorProfile");
	p->selinux_label = str_dup_or_null(proc, "selinuxLabel");
	return cell_spec_parse_sched(p, proc, err);
}

/* A mount's own uidMappings/gidMappings: both or neither (runtime-spec).
 * As in runc, mappings without idmap or ridmap still idmap the mount. */
static int parse_mount_idmaps(struct cell_mount *m, const json_t *e, const char *path,
			      struct cell_err *err)
{
	const json_t *u = json_object_get(e, "uidMappings"), *g = json_object_get(e, "gidMappings");
	char field[96];

	snprintf(field, sizeof(field), "%s.uidMappings", path);
	if (parse_idmaps(u, &m->uid_mappings, &m->n_uid_mappings, field, err) < 0)
		return -1;
	snprintf(field, sizeof(field), "%s.gidMappings", path);
	if (parse_idmaps(g, &m->gid_mappings, &m->n_gid_mappings, field, err) < 0)
		return -1;
	if (m->n_uid_mappings && !m->n_gid_mappings)
		return cell_err_set(err, 0, "%s.gidMappings: required with uidMappings", path);
	if (m->n_gid_mappings && !m->n_uid_mappings)
		return cell_err_set(err, 0, "%s.uidMappings: required with gidMappings", path);
	if (m->n_uid_mappings)
		m->idmap = true;
	return 0;
}

static int parse_mounts(struct cell_spec *s, const json_t *arr, struct cell_err *err)
{
	json_t *e;
	size_t i, n = json_array_size(arr);
	char path[64];

	if (!n)
		return 0;
	s->mounts = calloc(n, sizeof(*s->mounts));
	if (!s->mounts)
		return cell_err_set(err, ENOMEM, "mounts");
	s->n_mounts = n;
	json_array_foreach(arr, i, e) {
		struct cell_mount *m = &s->mounts[i];
		const char *dst = json_string_value(json_object_get(e, "destination"));
		json_t *opts = json_object_get(e, "options");

		snprintf(path, sizeof(path), "mounts[%zu]", i);
		/* runc treats a relative destination as relative to the container's / */
		if (dst[0] == '/')
			m->destination = strdup(dst);
		else if (asprintf(&m->destination, "/%s", dst) < 0)
			m->destination = NULL;
		m->type = str_dup_or_null(e, "type");
		m->source = str_dup_or_null(e, "source");
		if (!m->destination || (opts && !(m->options = strv_from_json(opts))))
			return cell_err_set(err, ENOMEM, "%s", path);
		if (cell_mount_parse_options(m, path, err) < 0 || parse_mount_idmaps(m, e, path, err) < 0)
			return -1;
		if (!m->type && !m->bind)
			return cell_err_set(err, 0, "%s.type: required unless options has bind or rbind", path);
		if (m->idmap && !m->bind)
			return cell_err_set(err, 0, "%s: an idmapped mount must be a bind mount (options bind or rbind)",
					    path);
		if (m->bind && !m->source)
			return cell_err_set(err, 0, "%s.source: required for a bind mount", path);
		/* bind sources are relative to the bundle */
		if (m->bind && m->source[0] != '/' && s->bundle) {
			char *abs;
			if (asprintf(&abs, "%s/%s", s->bundle, m->source) < 0)
				return cell_err_set(err, ENOMEM, "%s", path);
			free(m->source);
			m->source = abs;
		}
	}
	return 0;
}

static int parse_propagation(struct cell_spec *s, const char *v, struct cell_err *err)
{
	static const struct { const char *name; unsigned long flags; } tab[] = {
		{ "shared", MS_SHARED }, { "rshared", MS_SHARED | MS_REC },
		{ "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
		{ "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};

	if (!v || !*v)
		return 0;
	for (size_t i = 0; i < CELL_ARRAY_SIZE(tab); i++)
		if (!strcmp(tab[i].name, v)) {
			s->rootfs_propagation = tab[i].flags;
			return 0;
		}
	return cell_err_set(err, 0, "linux.rootfsPropagation: unknown propagation \"%s\"", v);
}

static int check_abs_paths(char **v, const char *field, struct cell_err *err)
{
	for (size_t i = 0; v && v[i]; i++)
		if (v[i][0] != '/')
			return cell_err_set(err, 0, "%s[%zu]: \"%s\" is not absolute", field, i, v[i]);
	return 0;
}

/* One decimal version component: digits only, no sign, no blanks, fits. */
static bool version_part(const char **p, unsigned *out)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)**p))
		return false;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v > UINT_MAX)
		return false;
	*out = v;
	*p = end;
	return true;
}

/* ociVersion: any 1.x release; other majors have another format. */
static int check_version(const char *v, struct cell_err *err)
{
	unsigned maj, min, patch;
	const char *p = v;

	if (!version_part(&p, &maj) || *p++ != '.' || !version_part(&p, &min) || *p++ != '.' ||
	    !version_part(&p, &patch) || (*p && *p != '-' && *p != '+'))
		return cell_err_set(err, 0, "ociVersion: \"%s\" is not a version (MAJOR.MINOR.PATCH)", v);
	if (maj != 1)
		return cell_err_set(err, 0, "ociVersion: unsupported version \"%s\" (cell reads 1.x)", v);
	return 0;
}

static int parse_linux(struct cell_spec *s, const json_t *l, struct cell_err *err)
{
	json_t *v;

	if (parse_ns(s, l, err) < 0)
		return -1;
	if (parse_idmaps(json_object_get(l, "uidMappings"), &s->uid_mappings, &s->n_uid_mappings,
			 "linux.uidMappings", err) < 0 ||
	    parse_idmaps(json_object_get(l, "gidMappings"), &s->gid_mappings, &s->n_gid_mappings,
			 "linux.gidMappings", err) < 0)
		return -1;
	if ((v = json_object_get(l, "maskedPaths")) && !(s->masked_paths = strv_from_json(v)))
		return cell_err_set(err, ENOMEM, "linux.maskedPaths");
	if ((v = json_object_get(l, "readonlyPaths")) && !(s->readonly_paths = strv_from_json(v)))
		return cell_err_set(err, ENOMEM, "linux.readonlyPaths");
	if (check_abs_paths(s->masked_paths, "linux.maskedPaths", err) < 0 ||
	    check_abs_paths(s->readonly_paths, "linux.readonlyPaths", err) < 0)
		return -1;
	if (parse_propagation(s, json_string_value(json_object_get(l, "rootfsPropagation")), err) < 0)
		return -1;
	s->cgroups_path = str_dup_or_null(l, "cgroupsPath");
	if ((v = json_object_get(l, "timeOffsets")) && json_is_object(v)) {
		static const char *const clocks[2] = { "monotonic", "boottime" };
		const char *key;
		json_t *off;

		json_object_foreach(v, key, off) {
			int c = !strcmp(key, clocks[0]) ? 0 : !strcmp(key, clocks[1]) ? 1 : -1;
			if (c < 0)
				return cell_err_set(err, 0, "linux.timeOffsets.%s: unknown clock", key);
			s->time_offset_secs[c] = json_integer_value(json_object_get(off, "secs"));
			s->time_offset_nsecs[c] = json_integer_value(json_object_get(off, "nanosecs"));
			if (s->time_offset_nsecs[c] >= 1000000000)
				return cell_err_set(err, 0, "linux.timeOffsets.%s.nanosecs: must be below 1e9", key);
		}
		s->has_time_offsets = json_object_size(v) > 0;
	}
	s->resources = object_or_null(json_object_get(l, "resources"));
	s->seccomp = object_or_null(json_object_get(l, "seccomp"));
	s->sysctl = object_or_null(json_object_get(l, "sysctl"));
	return cell_spec_parse_kernel(s, l, err);
}

/* Rules that tie several fields together. */
static int check_combinations(struct cell_spec *s, struct cell_err *err)
{
	bool new_uts = s->has_ns[CELL_NS_UTS] && !s->ns[CELL_NS_UTS].path;
	bool new_user = s->has_ns[CELL_NS_USER] && !s->ns[CELL_NS_USER].path;

	if (s->hostname && *s->hostname && !new_uts)
		return cell_err_set(err, 0, "hostname: setting it needs a new uts namespace in linux.namespaces");
	if (s->domainname && *s->domainname && !new_uts)
		return cell_err_set(err, 0, "domainname: setting it needs a new uts namespace in linux.namespaces");
	if ((s->n_uid_mappings || s->n_gid_mappings) && !new_user)
		return cell_err_set(err, 0, "linux.uidMappings: mappings need a new user namespace in linux.namespaces");
	if (new_user && (!s->n_uid_mappings || !s->n_gid_mappings))
		return cell_err_set(err, 0, "linux.uidMappings: a new user namespace needs uidMappings and gidMappings");
	for (size_t i = 0; i < s->n_mounts; i++)
		if (s->mounts[i].idmap && !s->mounts[i].n_uid_mappings && !s->has_ns[CELL_NS_USER])
			return cell_err_set(err, 0, "mounts[%zu]: option \"%s\" without uidMappings and gidMappings "
					    "maps with the container's user namespace: linux.namespaces has none",
					    i, s->mounts[i].idmap_recursive ? "ridmap" : "idmap");
	if (s->has_time_offsets && !(s->has_ns[CELL_NS_TIME] && !s->ns[CELL_NS_TIME].path))
		return cell_err_set(err, 0, "linux.timeOffsets: offsets need a new time namespace in linux.namespaces");
	if (s->sysctl && cell_spec_check_sysctl(s, err) < 0)
		return -1;
	if (!s->vm) {
		if (!s->root_path)
			return cell_err_set(err, 0, "root: required for a container");
		if (!s->has_ns[CELL_NS_MNT])
			return cell_err_set(err, 0, "linux.namespaces: a container needs a mount namespace");
	}
	return 0;
}

static int resolve_root(struct cell_spec *s, const char *rel, struct cell_err *err)
{
	struct stat st;
	char *joined = NULL;

	if (rel[0] == '/')
		joined = strdup(rel);
	else if (asprintf(&joined, "%s/%s", s->bundle, rel) < 0)
		joined = NULL;
	if (!joined)
		return cell_err_set(err, ENOMEM, "root.path");
	s->root_path = realpath(joined, NULL);
	if (!s->root_path) {
		cell_err_set(err, errno, "root.path: %s", joined);
		free(joined);
		return -1;
	}
	free(joined);
	if (stat(s->root_path, &st) < 0 || !S_ISDIR(st.st_mode))
		return cell_err_set(err, ENOTDIR, "root.path: %s", s->root_path);
	return 0;
}

int cell_spec_parse(const char *text, size_t len, const char *name, const char *bundle,
		    struct cell_spec **out, struct cell_err *err)
{
	struct cell_spec *s;
	json_error_t jerr;
	json_t *doc, *v;

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return cell_err_set(err, 0, "%s: line %d column %d: %s", name, jerr.line, jerr.column,
				    jerr.text);
	s = calloc(1, sizeof(*s));
	if (!s) {
		json_decref(doc);
		return cell_err_set(err, ENOMEM, "%s", name);
	}
	s->doc = doc;
	if (cell_schema_check(doc, &cell_schema_config, "", err) < 0)
		goto fail;
	s->oci_version = str_dup_or_null(doc, "ociVersion");
	if (check_version(s->oci_version, err) < 0)
		goto fail;
	if (bundle && !(s->bundle = strdup(bundle))) {
		cell_err_set(err, ENOMEM, "bundle");
		goto fail;
	}
	s->vm = object_or_null(json_object_get(doc, "vm"));
	if ((v = json_object_get(doc, "root")) && json_is_object(v)) {
		s->root_readonly = json_is_true(json_object_get(v, "readonly"));
		if (bundle) {
			if (resolve_root(s, json_string_value(json_object_get(v, "path")), err) < 0)
				goto fail;
		} else if (!(s->root_path = str_dup_or_null(v, "path"))) {
			cell_err_set(err, ENOMEM, "root.path");
			goto fail;
		}
	}
	s->hostname = str_dup_or_null(doc, "hostname");
	s->domainname = str_dup_or_null(doc, "domainname");
	if ((v = json_object_get(doc, "process")) && json_is_object(v)) {
		if (cell_spec_parse_process(&s->process, v, err) < 0)
			goto fail;
	} else if (!s->vm) {
		cell_err_set(err, 0, "process: required for a container");
		goto fail;
	}
	if (parse_mounts(s, json_object_get(doc, "mounts"), err) < 0 ||
	    parse_hooks(s, json_object_get(doc, "hooks"), err) < 0)
		goto fail;
	v = json_object_get(doc, "annotations");
	s->annotations = v && json_is_object(v) ? json_incref(v) : json_object();
	if ((v = json_object_get(doc, "linux")) && json_is_object(v) && parse_linux(s, v, err) < 0)
		goto fail;
	if (check_combinations(s, err) < 0)
		goto fail;
	if (s->vm && cell_spec_parse_vm(s, err) < 0)
		goto fail;
	*out = s;
	return 0;
fail:
	cell_err_wrap(err, "%s", name);
	cell_spec_free(s);
	return -1;
}

int cell_spec_load(const char *bundle, struct cell_spec **out, struct cell_err *err)
{
	_cleanup_free_ char *abs = NULL, *path = NULL, *text = NULL;
	size_t len;

	abs = realpath(bundle, NULL);
	if (!abs)
		return cell_err_set(err, errno, "bundle %s", bundle);
	if (asprintf(&path, "%s/config.json", abs) < 0)
		return cell_err_set(err, ENOMEM, "bundle");
	if (cell_read_file(path, &text, &len, 1 << 24, err) < 0)
		return -1;
	return cell_spec_parse(text, len, "config.json", abs, out, err);
}

void cell_spec_process_free(struct cell_process *p)
{
	free(p->cwd);
	cell_strvfreep(&p->args);
	cell_strvfreep(&p->env);
	free(p->additional_gids);
	free(p->rlimits);
	for (int c = 0; c < CELL_CAP__COUNT; c++)
		cell_strvfreep(&p->capabilities[c]);
	free(p->apparmor_profile);
	free(p->selinux_label);
}

void cell_spec_free(struct cell_spec *s)
{
	if (!s)
		return;
	free(s->oci_version);
	free(s->bundle);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	cell_spec_process_free(&s->process);
	for (size_t i = 0; i < s->n_mounts; i++) {
		struct cell_mount *m = &s->mounts[i];
		free(m->destination);
		free(m->source);
		free(m->type);
		free(m->data);
		free(m->uid_mappings);
		free(m->gid_mappings);
		cell_strvfreep(&m->options);
	}
	free(s->mounts);
	for (int k = 0; k < CELL_HOOK__COUNT; k++) {
		for (size_t i = 0; i < s->hooks.n[k]; i++) {
			free(s->hooks.v[k][i].path);
			cell_strvfreep(&s->hooks.v[k][i].args);
			cell_strvfreep(&s->hooks.v[k][i].env);
		}
		free(s->hooks.v[k]);
	}
	json_decref(s->annotations);
	for (int t = 0; t < CELL_NS__COUNT; t++)
		free(s->ns[t].path);
	free(s->uid_mappings);
	free(s->gid_mappings);
	cell_strvfreep(&s->masked_paths);
	cell_strvfreep(&s->readonly_paths);
	free(s->cgroups_path);
	json_decref(s->resources);
	json_decref(s->seccomp);
	json_decref(s->sysctl);
	cell_spec_free_kernel(s);
	cell_spec_free_vm(s);
	json_decref(s->vm);
	json_decref(s->doc);
	free(s);
}
