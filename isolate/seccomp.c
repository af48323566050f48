/* linux.seccomp → a libseccomp filter. Compiled in the parent before the
 * container exists (so bad profiles fail early), loaded by the init. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/log.h"
#include "../runtime/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	uint32_t action;
	bool takes_errno;
} actions[] = {
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
	{ "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false },
};

static const struct {
	const char *name;
	enum scmp_compare op;
} operators[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT }, { "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ }, { "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

/* Filter flags as the seccomp() system call takes them: cell loads the
 * exported program itself, so every flag the kernel knows is available. */
static const struct {
	const char *name;
	unsigned int flag;
} flags[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW },
	{ "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1U << 5 },
};

static int action_of(const char *name, const json_t *errno_ret, uint32_t def_errno, uint32_t *out,
		     const char *path, struct cell_err *err)
{
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (strcmp(actions[i].name, name))
			continue;
		*out = actions[i].action;
		if (actions[i].takes_errno) {
			uint32_t e = json_is_integer(errno_ret) ? (uint32_t)json_integer_value(errno_ret) : def_errno;
			*out = (actions[i].action & 0xffff0000U) | (e & 0xffff);
		}
		return 0;
	}
	return cell_err_set(err, 0, "%s: unknown action \"%s\"", path, name);
}

static int arch_of(const char *name, uint32_t *out)
{
	char low[32];
	size_t i;

	if (strncmp(name, "SCMP_ARCH_", 10) || strlen(name + 10) >= sizeof(low))
		return -1;
	for (i = 0; name[10 + i]; i++)
		low[i] = tolower((unsigned char)name[10 + i]);
	low[i] = '\0';
	*out = seccomp_arch_resolve_name(low);
	return *out ? 0 : -1;
}

/* One syscall entry: libseccomp takes one comparison per argument index
 * in a rule, so comparisons on a repeated index become rules of their own
 * (any of them matches), as runc does. */
static int add_syscall(scmp_filter_ctx ctx, const json_t *sc, uint32_t def_action, uint32_t def_errno,
		       size_t idx, struct cell_err *err)
{
	const json_t *names = json_object_get(sc, "names"), *args = json_object_get(sc, "args"), *n, *a;
	struct scmp_arg_cmp cmp[6];
	bool repeated = false;
	char path[64];
	uint32_t action;
	size_t i, j, nargs = json_array_size(args);

	snprintf(path, sizeof(path), "linux.seccomp.syscalls[%zu]", idx);
	if (action_of(json_string_value(json_object_get(sc, "action")), json_object_get(sc, "errnoRet"),
		      def_errno, &action, path, err) < 0)
		return -1;
	if (nargs > 6)
		return cell_err_set(err, 0, "%s.args: at most 6 arguments", path);
	json_array_foreach(args, i, a) {
		const char *op = json_string_value(json_object_get(a, "op"));
		size_t k;

		for (k = 0; k < sizeof(operators) / sizeof(operators[0]); k++)
			if (!strcmp(operators[k].name, op))
				break;
		if (k == sizeof(operators) / sizeof(operators[0]))
			return cell_err_set(err, 0, "%s.args[%zu].op: unknown operator \"%s\"", path, i, op);
		cmp[i] = (struct scmp_arg_cmp){
			.arg = json_integer_value(json_object_get(a, "index")),
			.op = operators[k].op,
			.datum_a = json_integer_value(json_object_get(a, "value")),
			.datum_b = json_integer_value(json_object_get(a, "valueTwo")),
		};
		if (cmp[i].arg > 5)
			return cell_err_set(err, 0, "%s.args[%zu].index: must be 0..5", path, i);
		for (j = 0; j < i; j++)
			repeated |= cmp[j].arg == cmp[i].arg;
	}
	if (action == def_action)
		return 0; /* libseccomp refuses rules equal to the default */
	json_array_foreach(names, i, n) {
		const char *name = json_string_value(n);
		int nr = seccomp_syscall_resolve_name(name), r = 0;

		if (nr == __NR_SCMP_ERROR) {
			cell_debug("seccomp: syscall %s unknown to libseccomp: skipped", name);
			continue;
		}
		if (!repeated) {
			r = seccomp_rule_add_array(ctx, action, nr, nargs, cmp);
		} else {
			for (j = 0; j < nargs && r == 0; j++)
				r = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[j]);
		}
		if (r < 0)
			return cell_err_set(err, -r, "%s: rule for %s", path, name);
	}
	return 0;
}

/* libseccomp's rules → the BPF program the kernel runs. */
static int compile(const json_t *sc, uint32_t def_action, uint32_t def_errno, struct seccomp_filter *f,
		   struct cell_err *err)
{
	const json_t *e;
	scmp_filter_ctx ctx = seccomp_init(def_action);
	struct stat st;
	int mfd = -1, ret = -1;
	size_t i;

	if (!ctx)
		return cell_err_set(err, EINVAL, "linux.seccomp: init");
	json_array_foreach(json_object_get(sc, "architectures"), i, e) {
		uint32_t arch;
		int r;
		if (arch_of(json_string_value(e), &arch) < 0) {
			cell_err_set(err, 0, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
				     json_string_value(e));
			goto out;
		}
		r = seccomp_arch_add(ctx, arch);
		if (r < 0 && r != -EEXIST) {
			cell_err_set(err, -r, "linux.seccomp.architectures[%zu]", i);
			goto out;
		}
	}
	json_array_foreach(json_object_get(sc, "syscalls"), i, e)
		if (add_syscall(ctx, e, def_action, def_errno, i, err) < 0)
			goto out;
	mfd = memfd_create("seccomp-bpf", MFD_CLOEXEC);
	if (mfd < 0 || seccomp_export_bpf(ctx, mfd) < 0 || fstat(mfd, &st) < 0 ||
	    st.st_size % sizeof(struct sock_filter) || !st.st_size) {
		cell_err_set(err, errno, "linux.seccomp: export the filter");
		goto out;
	}
	f->n = st.st_size / sizeof(struct sock_filter);
	f->insns = malloc(st.st_size);
	if (!f->insns || pread(mfd, f->insns, st.st_size, 0) != st.st_size) {
		cell_err_set(err, errno, "linux.seccomp: export the filter");
		goto out;
	}
	ret = 0;
out:
	if (mfd >= 0)
		close(mfd);
	seccomp_release(ctx);
	return ret;
}

/* A compiled program is kept in <state root>/.seccomp, under a hash of the
 * profile; the profile text is stored with it and compared in full, so a
 * hash collision can only miss, never load another profile's program. */
static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

static char *cache_key(const json_t *sc)
{
	char *text = json_dumps(sc, JSON_COMPACT | JSON_SORT_KEYS), *key = NULL;
	const struct scmp_version *v = seccomp_version();

	if (text && asprintf(&key, "%u.%u.%u|%u|%s", v->major, v->minor, v->micro, seccomp_arch_native(), text) < 0)
		key = NULL;
	free(text);
	return key;
}

static bool cache_load(int dirfd, const char *name, const char *key, struct seccomp_filter *f)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	size_t klen = strlen(key);
	struct stat st;
	char *buf;
	bool ok = false;

	if (fd < 0 || fstat(fd, &st) < 0 || (size_t)st.st_size <= klen + 1 ||
	    (st.st_size - klen - 1) % sizeof(struct sock_filter))
		return false;
	buf = malloc(st.st_size);
	if (buf && read(fd, buf, st.st_size) == st.st_size && !memcmp(buf, key, klen) && buf[klen] == '\n') {
		f->n = (st.st_size - klen - 1) / sizeof(struct sock_filter);
		f->insns = malloc(f->n * sizeof(struct sock_filter));
		if (f->insns) {
			memcpy(f->insns, buf + klen + 1, f->n * sizeof(struct sock_filter));
			ok = true;
		}
	}
	free(buf);
	return ok;
}

static void cache_store(int dirfd, const char *name, const char *key, const struct seccomp_filter *f)
{
	size_t klen = strlen(key), blen = f->n * sizeof(struct sock_filter);
	char *buf = malloc(klen + 1 + blen);

	if (!buf)
		return;
	memcpy(buf, key, klen);
	buf[klen] = '\n';
	memcpy(buf + klen + 1, f->insns, blen);
	cell_write_file_atomic(dirfd, name, buf, klen + 1 + blen, 0600, &(struct cell_err){ 0 });
	free(buf);
}

static bool uses_notify(const json_t *sc)
{
	const json_t *e;
	size_t i;

	if (!strcmp(json_string_value(json_object_get(sc, "defaultAction")), "SCMP_ACT_NOTIFY"))
		return true;
	json_array_foreach(json_object_get(sc, "syscalls"), i, e)
		if (!strcmp(json_string_value(json_object_get(e, "action")), "SCMP_ACT_NOTIFY"))
			return true;
	return false;
}

int seccomp_build(const json_t *sc, int cache_dirfd, struct seccomp_filter **out, struct cell_err *err)
{
	struct seccomp_filter *f;
	const json_t *v, *e;
	uint32_t def_action, def_errno = EPERM;
	_cleanup_free_ char *key = NULL;
	char name[32];
	size_t i;

	*out = NULL;
	if (!sc)
		return 0;
	if ((v = json_object_get(sc, "defaultErrnoRet")) && json_is_integer(v))
		def_errno = json_integer_value(v);
	if (action_of(json_string_value(json_object_get(sc, "defaultAction")), v, def_errno, &def_action,
		      "linux.seccomp.defaultAction", err) < 0)
		return -1;
	f = calloc(1, sizeof(*f));
	if (!f)
		return cell_err_set(err, ENOMEM, "linux.seccomp");
	json_array_foreach(json_object_get(sc, "flags"), i, e) {
		const char *fl = json_string_value(e);
		size_t k;
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (!strcmp(flags[k].name, fl))
				break;
		if (k == sizeof(flags) / sizeof(flags[0])) {
			cell_err_set(err, 0, "linux.seccomp.flags[%zu]: \"%s\" is not supported", i, fl);
			goto fail;
		}
		f->flags |= flags[k].flag;
	}
	if (uses_notify(sc)) {
		const char *lp = json_string_value(json_object_get(sc, "listenerPath"));
		if (!lp || !*lp) {
			cell_err_set(err, 0, "linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY");
			goto fail;
		}
		f->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
	}
	key = cache_key(sc);
	if (key)
		snprintf(name, sizeof(name), "%016llx", (unsigned long long)fnv1a(key, strlen(key)));
	if (key && cache_dirfd >= 0 && cache_load(cache_dirfd, name, key, f)) {
		*out = f;
		return 0;
	}
	if (compile(sc, def_action, def_errno, f, err) < 0)
		goto fail;
	if (key && cache_dirfd >= 0)
		cache_store(cache_dirfd, name, key, f);
	*out = f;
	return 0;
fail:
	seccomp_free(f);
	return -1;
}

int seccomp_apply(struct seccomp_filter *f, int *notify_fd, struct cell_err *err)
{
	struct sock_fprog prog;
	long r;

	if (notify_fd)
		*notify_fd = -1;
	if (!f)
		return 0;
	prog = (struct sock_fprog){ .len = f->n, .filter = f->insns };
	r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, f->flags, &prog);
	if (r < 0 && errno == EINVAL && f->flags)
		return cell_err_set(err, errno, "linux.seccomp: load filter (flags %#x: does this kernel know them?)",
				    f->flags);
	if (r < 0)
		return cell_err_set(err, errno, "linux.seccomp: load filter");
	if (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) {
		if (notify_fd)
			*notify_fd = r;
		else
			close(r);
	}
	return 0;
}

bool seccomp_wants_listener(const struct seccomp_filter *f)
{
	return f && (f->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER);
}

void seccomp_free(struct seccomp_filter *f)
{
	if (f) {
		free(f->insns);
		free(f);
	}
}
