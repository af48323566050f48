/* linux.seccomp → a libseccomp filter. Compiled in the parent before the
 * container exists (so bad profiles fail early), loaded by the init. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/log.h"

#include <ctype.h>
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

static const struct {
	const char *name;
	enum scmp_filter_attr attr;
} flags[] = {
	{ "SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC },
	{ "SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG },
	{ "SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB },
};

static int action_of(const char *name, const json_t *errno_ret, uint32_t def_errno, uint32_t *out,
		     const char *path, struct cell_err *err)
{
	if (!strcmp(name, "SCMP_ACT_NOTIFY"))
		return cell_err_set(err, 0, "%s: SCMP_ACT_NOTIFY is not supported yet", path);
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

int seccomp_build(const json_t *sc, void **out, struct cell_err *err)
{
	const json_t *v, *e;
	uint32_t def_action, def_errno = EPERM;
	scmp_filter_ctx ctx;
	size_t i;

	*out = NULL;
	if (!sc)
		return 0;
	if ((v = json_object_get(sc, "defaultErrnoRet")) && json_is_integer(v))
		def_errno = json_integer_value(v);
	if (action_of(json_string_value(json_object_get(sc, "defaultAction")), v, def_errno, &def_action,
		      "linux.seccomp.defaultAction", err) < 0)
		return -1;
	ctx = seccomp_init(def_action);
	if (!ctx)
		return cell_err_set(err, EINVAL, "linux.seccomp: init");
	json_array_foreach(json_object_get(sc, "architectures"), i, e) {
		uint32_t arch;
		int r;
		if (arch_of(json_string_value(e), &arch) < 0) {
			cell_err_set(err, 0, "linux.seccomp.architectures[%zu]: unknown architecture \"%s\"", i,
				     json_string_value(e));
			goto fail;
		}
		r = seccomp_arch_add(ctx, arch);
		if (r < 0 && r != -EEXIST) {
			cell_err_set(err, -r, "linux.seccomp.architectures[%zu]", i);
			goto fail;
		}
	}
	json_array_foreach(json_object_get(sc, "flags"), i, e) {
		const char *f = json_string_value(e);
		size_t k;
		for (k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
			if (!strcmp(flags[k].name, f))
				break;
		if (k == sizeof(flags) / sizeof(flags[0])) {
			cell_err_set(err, 0, "linux.seccomp.flags[%zu]: \"%s\" is not supported", i, f);
			goto fail;
		}
		if (seccomp_attr_set(ctx, flags[k].attr, 1) < 0) {
			cell_err_set(err, 0, "linux.seccomp.flags[%zu]: %s is not supported by this kernel", i, f);
			goto fail;
		}
	}
	/* no_new_privs is the process's own choice (process.noNewPrivileges) */
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	json_array_foreach(json_object_get(sc, "syscalls"), i, e)
		if (add_syscall(ctx, e, def_action, def_errno, i, err) < 0)
			goto fail;
	*out = ctx;
	return 0;
fail:
	seccomp_release(ctx);
	return -1;
}

int seccomp_apply(void *filter, struct cell_err *err)
{
	int r;

	if (!filter)
		return 0;
	r = seccomp_load(filter);
	if (r < 0)
		return cell_err_set(err, -r, "linux.seccomp: load filter");
	return 0;
}

void seccomp_free(void *filter)
{
	if (filter)
		seccomp_release(filter);
}
