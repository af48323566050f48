/* linux.resources.devices: the rule list (the spec's rules, then the
 * default devices), what it allows as a pure function, and on cgroup v2 the
 * BPF_PROG_TYPE_CGROUP_DEVICE program that enforces the same thing.
 *
 * Meaning, for v1 and v2 alike: each access bit (m, r, w) of a request is
 * decided by the last rule that names the device and has that bit; no such
 * rule denies. The defaults come after the spec's rules, as runc appends
 * them, so the spec cannot take them away, except that a default whose node
 * the spec itself creates in linux.devices is dropped (runc: "the spec one
 * takes priority"). Unlike runc, there is no blanket "c *:* m, b *:* m".
 *
 * cell applies the rules before the container's init exists, and that init
 * then makes /dev with mknod; runc applies them after. So the nodes the
 * runtime makes (the defaults, and linux.devices) keep the m bit whatever
 * the spec's rules say: a node is of no use without r or w. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/cleanup.h"
#include "../runtime/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RWM (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)

static const struct {
	const char *path;            /* NULL: no single node */
	struct cg_dev_rule rule;
} default_devices[] = {
	{ "/dev/null", { 'c', 1, 3, RWM, true } },
	{ "/dev/zero", { 'c', 1, 5, RWM, true } },
	{ "/dev/full", { 'c', 1, 7, RWM, true } },
	{ "/dev/random", { 'c', 1, 8, RWM, true } },
	{ "/dev/urandom", { 'c', 1, 9, RWM, true } },
	{ "/dev/tty", { 'c', 5, 0, RWM, true } },
	{ "/dev/console", { 'c', 5, 1, RWM, true } },
	{ "/dev/ptmx", { 'c', 5, 2, RWM, true } },
	{ NULL, { 'c', 136, -1, RWM, true } },    /* /dev/pts/N */
};

static const struct { char c; unsigned bit; } access_chars[] = {
	{ 'r', BPF_DEVCG_ACC_READ }, { 'w', BPF_DEVCG_ACC_WRITE }, { 'm', BPF_DEVCG_ACC_MKNOD },
};

static int dev_num(const json_t *d, const char *key, int64_t *v)
{
	*v = -1;
	if (cg_json_int(d, key, v) && *v > INT32_MAX)
		return -1;
	if (*v < 0)
		*v = -1;
	return 0;
}

int cg_dev_rule_parse(const json_t *d, struct cg_dev_rule *r, struct cell_err *err)
{
	const char *type = json_string_value(json_object_get(d, "type"));
	const char *access = json_string_value(json_object_get(d, "access"));

	if (!type || !*type)
		type = "a";
	if (strlen(type) != 1 || !strchr("abc", type[0]))
		return cell_err_set(err, EINVAL, "type \"%s\" is not a, b or c", type);
	r->type = type[0];
	if (!access || !*access)
		access = "rwm";
	r->access = 0;
	for (const char *p = access; *p; p++) {
		size_t i;
		for (i = 0; i < CELL_ARRAY_SIZE(access_chars) && access_chars[i].c != *p; i++)
			;
		if (i == CELL_ARRAY_SIZE(access_chars))
			return cell_err_set(err, EINVAL, "access \"%s\" is not a subset of rwm", access);
		r->access |= access_chars[i].bit;
	}
	if (dev_num(d, "major", &r->major) < 0 || dev_num(d, "minor", &r->minor) < 0)
		return cell_err_set(err, ERANGE, "major or minor is not a device number");
	r->allow = json_is_true(json_object_get(d, "allow"));
	return 0;
}

int cg_dev_rule_format(const struct cg_dev_rule *r, char *buf, size_t len)
{
	char maj[24] = "*", min[24] = "*", acc[4];
	size_t n = 0;

	if (r->major >= 0)
		snprintf(maj, sizeof(maj), "%lld", (long long)r->major);
	if (r->minor >= 0)
		snprintf(min, sizeof(min), "%lld", (long long)r->minor);
	for (size_t i = 0; i < CELL_ARRAY_SIZE(access_chars); i++)
		if (r->access & access_chars[i].bit)
			acc[n++] = access_chars[i].c;
	acc[n] = 0;
	n = (size_t)snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, acc);
	return n < len ? 0 : -1;
}

static bool spec_creates(const json_t *spec_devices, const char *path)
{
	size_t i;
	json_t *d;

	json_array_foreach(spec_devices, i, d) {
		const char *p = json_string_value(json_object_get(d, "path"));
		if (p && !strcmp(p, path))
			return true;
	}
	return false;
}

/* linux.devices[i] as an "m" rule; false for a fifo (no device). */
static bool node_rule(const json_t *d, struct cg_dev_rule *r)
{
	const char *type = json_string_value(json_object_get(d, "type"));

	if (!type || !strchr("cub", type[0]) || !type[0] || type[1])
		return false;
	*r = (struct cg_dev_rule){ type[0] == 'b' ? 'b' : 'c', -1, -1, BPF_DEVCG_ACC_MKNOD, true };
	return dev_num(d, "major", &r->major) == 0 && dev_num(d, "minor", &r->minor) == 0 && r->major >= 0 &&
	       r->minor >= 0;
}

int cg_dev_rules(const json_t *rules, const json_t *spec_devices, struct cg_dev_rule **out, size_t *n,
		 struct cell_err *err)
{
	size_t i, k = 0;
	json_t *d;
	struct cg_dev_rule *v = calloc(json_array_size(rules) + CELL_ARRAY_SIZE(default_devices) +
				       json_array_size(spec_devices), sizeof(*v));

	if (!v)
		return cell_err_set(err, ENOMEM, "devices");
	json_array_foreach(rules, i, d) {
		if (cg_dev_rule_parse(d, &v[k++], err) < 0) {
			free(v);
			return cell_err_wrap(err, "devices[%zu]", i);
		}
	}
	for (i = 0; i < CELL_ARRAY_SIZE(default_devices); i++) {
		v[k] = default_devices[i].rule;
		/* given way to the spec's node: only the runtime's mknod is left */
		if (default_devices[i].path && spec_creates(spec_devices, default_devices[i].path))
			v[k].access = BPF_DEVCG_ACC_MKNOD;
		k++;
	}
	json_array_foreach(spec_devices, i, d)
		if (node_rule(d, &v[k]))
			k++;
	*out = v;
	*n = k;
	return 0;
}

static bool rule_names(const struct cg_dev_rule *r, int type, uint32_t major, uint32_t minor)
{
	return (r->type == 'a' || (r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR) == type) &&
	       (r->major < 0 || r->major == major) && (r->minor < 0 || r->minor == minor);
}

static bool rule_is_all(const struct cg_dev_rule *r)
{
	return r->type == 'a' && r->major < 0 && r->minor < 0;
}

bool cg_dev_allowed(const struct cg_dev_rule *rules, size_t n, int type, uint32_t major, uint32_t minor,
		    unsigned access)
{
	for (size_t b = 0; b < CELL_ARRAY_SIZE(access_chars); b++) {
		unsigned bit = access_chars[b].bit;
		bool ok = false;
		if (!(access & bit))
			continue;
		for (size_t i = n; i-- > 0;) {
			if ((rules[i].access & bit) && rule_names(&rules[i], type, major, minor)) {
				ok = rules[i].allow;
				break;
			}
		}
		if (!ok)
			return false;
	}
	return true;
}

/* The program, built to decide exactly as cg_dev_allowed does:
 *   r2 = type, r3 = access, r4 = major, r5 = minor
 *   for each bit: skip it unless requested; then the rules, last first:
 *     a rule that names the device allows (on to the next bit) or denies
 *     (return 0); none: return 0
 *   return 1 */
struct prog {
	struct bpf_insn *v;
	size_t n, cap;
};

#define INSN(c, d, s, o, i) ((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static int emit(struct prog *p, struct bpf_insn insn)
{
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct bpf_insn *v = reallocarray(p->v, cap, sizeof(*v));
		if (!v)
			return -1;
		p->v = v;
		p->cap = cap;
	}
	p->v[p->n++] = insn;
	return 0;
}

/* Point the jumps at v[from..] whose off is `mark` to target. */
static void patch(struct prog *p, size_t from, int16_t mark, size_t target)
{
	for (size_t i = from; i < p->n; i++)
		if (BPF_CLASS(p->v[i].code) == BPF_JMP && BPF_OP(p->v[i].code) != BPF_EXIT && p->v[i].off == mark)
			p->v[i].off = (int16_t)(target - i - 1);
}

#define NEXT_RULE (-1)
#define NEXT_BIT (-2)

static int emit_rule(struct prog *p, const struct cg_dev_rule *r)
{
	size_t start = p->n;
	int e = 0;

	if (r->type != 'a')
		e |= emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, NEXT_RULE,
				  r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
	if (r->major >= 0)
		e |= emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, NEXT_RULE, (int32_t)r->major));
	if (r->minor >= 0)
		e |= emit(p, INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, NEXT_RULE, (int32_t)r->minor));
	if (r->allow) {
		e |= emit(p, INSN(BPF_JMP | BPF_JA, 0, 0, NEXT_BIT, 0));
	} else {
		e |= emit(p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
		e |= emit(p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	}
	if (!e)
		patch(p, start, NEXT_RULE, p->n);
	return e ? -1 : 0;
}

int cg_dev_program(const struct cg_dev_rule *rules, size_t n, struct bpf_insn **out, size_t *count)
{
	struct prog p = { 0 };
	int e = 0;

	e |= emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, 0, 0));
	e |= emit(&p, INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
	e |= emit(&p, INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff));
	e |= emit(&p, INSN(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16));
	e |= emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1,
			   offsetof(struct bpf_cgroup_dev_ctx, major), 0));
	e |= emit(&p, INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1,
			   offsetof(struct bpf_cgroup_dev_ctx, minor), 0));
	for (size_t b = 0; b < CELL_ARRAY_SIZE(access_chars) && !e; b++) {
		unsigned bit = access_chars[b].bit;
		size_t start = p.n;
		bool decided = false;
		/* r1 (the context) is free now */
		e |= emit(&p, INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0));
		e |= emit(&p, INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)bit));
		e |= emit(&p, INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, NEXT_BIT, 0));
		for (size_t i = n; i-- > 0 && !decided && !e;) {
			if (!(rules[i].access & bit))
				continue;
			e |= emit_rule(&p, &rules[i]);
			/* what a rule for every device shadows is unreachable code */
			decided = rule_is_all(&rules[i]);
		}
		if (!decided) {
			e |= emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0));
			e |= emit(&p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
		}
		if (!e)
			patch(&p, start, NEXT_BIT, p.n);
	}
	e |= emit(&p, INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1));
	e |= emit(&p, INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	if (e || p.n > BPF_MAXINSNS * 16) {
		free(p.v);
		return -1;
	}
	*out = p.v;
	*count = p.n;
	return 0;
}

static long sys_bpf(int cmd, union bpf_attr *a)
{
	return syscall(SYS_bpf, cmd, a, sizeof(*a));
}

/* An unprivileged user, or root of a user namespace, cannot load device
 * programs; runc and crun then go without device rules. */
static bool rootless(void)
{
	char buf[64] = "";
	_cleanup_fclose_ FILE *f = NULL;
	unsigned a, b, c;

	if (geteuid() != 0)
		return true;
	f = fopen("/proc/self/uid_map", "re");
	if (!f || !fgets(buf, sizeof(buf), f))
		return false;
	return sscanf(buf, "%u %u %u", &a, &b, &c) != 3 || a != 0 || b != 0 || c != UINT32_MAX;
}

static int prog_load(const struct bpf_insn *insns, size_t n, struct cell_err *err)
{
	union bpf_attr a;
	_cleanup_free_ char *log = NULL;
	int fd, saved;

	memset(&a, 0, sizeof(a));
	a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	a.insns = (uintptr_t)insns;
	a.insn_cnt = (uint32_t)n;
	/* the program calls no helpers, so no GPL-only ones either */
	a.license = (uintptr_t)"Apache-2.0";
	snprintf(a.prog_name, sizeof(a.prog_name), "cell_devices");
	fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
	if (fd >= 0 || errno == EPERM || errno == EACCES)
		return fd < 0 ? cell_err_set(err, errno, "loading the device program") : fd;
	/* once more with the verifier's log, for the message */
	saved = errno;
	if ((log = calloc(1, 1 << 16))) {
		a.log_buf = (uintptr_t)log;
		a.log_size = 1 << 16;
		a.log_level = 1;
		fd = (int)sys_bpf(BPF_PROG_LOAD, &a);
		if (fd >= 0)
			return fd;
		char *last = log + strlen(log);
		while (last > log && last[-1] == '\n')
			*--last = 0;
		last = strrchr(log, '\n');
		return cell_err_set(err, saved, "loading the device program (%zu instructions): %s", n,
				    last ? last + 1 : log);
	}
	return cell_err_set(err, saved, "loading the device program");
}

int cg_dev_attach(const char *dir, const struct cg_dev_rule *rules, size_t n, struct cell_err *err)
{
	_cleanup_free_ struct bpf_insn *insns = NULL;
	_cleanup_close_ int prog = -1, cg = -1;
	size_t count;
	union bpf_attr a;

	if (cg_dev_program(rules, n, &insns, &count) < 0)
		return cell_err_set(err, ENOMEM, "devices: %zu rules are too many for one program", n);
	cg = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cg < 0)
		return cell_err_set(err, errno, "open %s", dir);
	prog = prog_load(insns, count, err);
	if (prog >= 0) {
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)cg;
		a.attach_bpf_fd = (uint32_t)prog;
		a.attach_type = BPF_CGROUP_DEVICE;
		/* with the host's own programs on the ancestors, all must allow */
		a.attach_flags = BPF_F_ALLOW_MULTI;
		if (sys_bpf(BPF_PROG_ATTACH, &a) == 0)
			return 0;
		cell_err_set(err, errno, "attaching the device program to %s", dir);
	}
	if ((err->errnum == EPERM || err->errnum == EACCES) && rootless()) {
		cell_debug("devices: %s; rootless, so without device rules as runc does", err->msg);
		cell_err_clear(err);
		return 0;
	}
	return -1;
}
