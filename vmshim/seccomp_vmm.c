/* The VMM's seccomp allow-list, kept as data in vmshim/seccomp-vmm.json and
 * linked into the binary as it is; compiled with libseccomp at start-up
 * and loaded for every thread by vmm_confine(). */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <string.h>

#include <jansson.h>
#include <seccomp.h>

#include "internal.h"

__asm__(".section .rodata\n"
	".global cell_vmm_seccomp_json\n"
	".type cell_vmm_seccomp_json, @object\n"
	"cell_vmm_seccomp_json:\n"
	".incbin \"vmshim/seccomp-vmm.json\"\n"
	".byte 0\n"
	".size cell_vmm_seccomp_json, . - cell_vmm_seccomp_json\n"
	".previous\n");

extern const char cell_vmm_seccomp_json[];

#define SRC "vmshim/seccomp-vmm.json"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

/* Argument values the JSON may name. */
static const struct { const char *name; uint64_t value; } arg_names[] = {
	{ "KVM_RUN", KVM_RUN },
	{ "KVM_IRQ_LINE", KVM_IRQ_LINE },
	{ "KVM_GET_REGS", KVM_GET_REGS },
};

static const struct { const char *name; enum scmp_compare op; } ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE },
	{ "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE },
	{ "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE },
	{ "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};

static int parse_action(json_t *rule, const char *where, uint32_t *out, struct cell_err *err)
{
	const char *a = json_string_value(json_object_get(rule, "action"));
	json_t *eret = json_object_get(rule, "errnoRet");

	if (!a)
		return cell_err_set(err, EINVAL, SRC ": %s: no action", where);
	if (!strcmp(a, "SCMP_ACT_ALLOW"))
		*out = SCMP_ACT_ALLOW;
	else if (!strcmp(a, "SCMP_ACT_KILL_PROCESS"))
		*out = SCMP_ACT_KILL_PROCESS;
	else if (!strcmp(a, "SCMP_ACT_KILL") || !strcmp(a, "SCMP_ACT_KILL_THREAD"))
		*out = SCMP_ACT_KILL_THREAD;
	else if (!strcmp(a, "SCMP_ACT_TRAP"))
		*out = SCMP_ACT_TRAP;
	else if (!strcmp(a, "SCMP_ACT_LOG"))
		*out = SCMP_ACT_LOG;
	else if (!strcmp(a, "SCMP_ACT_ERRNO")) {
		json_int_t e = json_is_integer(eret) ? json_integer_value(eret) : EPERM;
		if (e < 0 || e > 4095)
			return cell_err_set(err, EINVAL, SRC ": %s: bad errnoRet", where);
		*out = SCMP_ACT_ERRNO((uint32_t)e);
	} else
		return cell_err_set(err, EINVAL, SRC ": %s: unknown action %s", where, a);
	return 0;
}

static int parse_value(json_t *v, const char *where, uint64_t *out, struct cell_err *err)
{
	if (!v) {
		*out = 0;
		return 0;
	}
	if (json_is_integer(v)) {
		*out = (uint64_t)json_integer_value(v);
		return 0;
	}
	const char *s = json_string_value(v);
	for (size_t i = 0; s && i < sizeof(arg_names) / sizeof(arg_names[0]); i++)
		if (!strcmp(s, arg_names[i].name)) {
			*out = arg_names[i].value;
			return 0;
		}
	return cell_err_set(err, EINVAL, SRC ": %s: bad argument value%s%s", where, s ? " " : "",
			    s ? s : "");
}

static int parse_args(json_t *args, const char *where, struct scmp_arg_cmp *cmp, unsigned *n,
		      struct cell_err *err)
{
	size_t i;
	json_t *a;

	*n = 0;
	if (!args)
		return 0;
	if (!json_is_array(args) || json_array_size(args) > 6)
		return cell_err_set(err, EINVAL, SRC ": %s: args must be an array of at most 6",
				    where);
	json_array_foreach(args, i, a) {
		json_t *idx = json_object_get(a, "index");
		const char *op = json_string_value(json_object_get(a, "op"));
		uint64_t v1, v2;
		size_t k;

		if (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
		    json_integer_value(idx) > 5)
			return cell_err_set(err, EINVAL, SRC ": %s: bad args[%zu].index", where, i);
		for (k = 0; op && k < sizeof(ops) / sizeof(ops[0]); k++)
			if (!strcmp(op, ops[k].name))
				break;
		if (!op || k == sizeof(ops) / sizeof(ops[0]))
			return cell_err_set(err, EINVAL, SRC ": %s: bad args[%zu].op", where, i);
		if (parse_value(json_object_get(a, "value"), where, &v1, err) < 0 ||
		    parse_value(json_object_get(a, "valueTwo"), where, &v2, err) < 0)
			return -1;
		cmp[i] = (struct scmp_arg_cmp){ (unsigned)json_integer_value(idx), ops[k].op, v1, v2 };
		(*n)++;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, json_t *rule, size_t ri, struct cell_err *err)
{
	char where[32];
	struct scmp_arg_cmp cmp[6];
	unsigned ncmp;
	uint32_t action;
	json_t *names = json_object_get(rule, "names"), *nm;
	size_t i;

	snprintf(where, sizeof(where), "syscalls[%zu]", ri);
	if (!json_is_object(rule) || !json_is_array(names))
		return cell_err_set(err, EINVAL, SRC ": %s: needs names", where);
	if (json_is_true(json_object_get(rule, "sanitizerOnly")) && !SANITIZED)
		return 0;
	if (parse_action(rule, where, &action, err) < 0 ||
	    parse_args(json_object_get(rule, "args"), where, cmp, &ncmp, err) < 0)
		return -1;
	json_array_foreach(names, i, nm) {
		const char *name = json_string_value(nm);
		int nr = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;
		if (nr == __NR_SCMP_ERROR)
			return cell_err_set(err, EINVAL, SRC ": %s: unknown system call %s", where,
					    name ? name : "(not a string)");
		int r = seccomp_rule_add_array(ctx, action, nr, ncmp, cmp);
		if (r < 0)
			return cell_err_set(err, -r, SRC ": %s: rule for %s", where, name);
	}
	return 0;
}

int vm_seccomp_build(void **out, struct cell_err *err)
{
	json_error_t jerr;
	json_t *root = json_loads(cell_vmm_seccomp_json, 0, &jerr), *rules, *rule;
	scmp_filter_ctx ctx = NULL;
	uint32_t def;
	size_t i;

	*out = NULL;
	if (!root)
		return cell_err_set(err, EINVAL, SRC ":%d: %s", jerr.line, jerr.text);
	json_t *d = json_object_get(root, "defaultAction");
	json_t *tmp = json_pack("{s:O?}", "action", d);
	int r = tmp ? parse_action(tmp, "defaultAction", &def, err) : cell_err_set(err, ENOMEM, SRC);
	json_decref(tmp);
	if (r < 0)
		goto fail;
	ctx = seccomp_init(def);
	if (!ctx) {
		cell_err_set(err, ENOMEM, SRC ": seccomp_init");
		goto fail;
	}
	rules = json_object_get(root, "syscalls");
	if (!json_is_array(rules)) {
		cell_err_set(err, EINVAL, SRC ": syscalls must be an array");
		goto fail;
	}
	json_array_foreach(rules, i, rule)
		if (add_rule(ctx, rule, i, err) < 0)
			goto fail;
	json_decref(root);
	*out = ctx;
	return 0;
fail:
	if (ctx)
		seccomp_release(ctx);
	json_decref(root);
	return -1;
}

int vm_seccomp_load(void *ctx, struct cell_err *err)
{
	int r;

	/* the vCPU threads, whenever they are created, are covered too */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (r < 0)
		return cell_err_set(err, -r, "VMM seccomp filter: TSYNC");
	r = seccomp_load(ctx);
	if (r < 0)
		return cell_err_set(err, -r, "VMM seccomp filter: load");
	return 0;
}

void vm_seccomp_free(void *ctx)
{
	if (ctx)
		seccomp_release(ctx);
}
