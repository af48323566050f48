/* linux.resources → cgroup settings (runc's v1→v2 conversions) and the
 * cgroup path a guest gets; no kernel involved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "../../cgroups/internal.h"
#include "../../runtime/policy.h"

/* The value written to file, or NULL. */
static const char *value_of(const struct cg_sets *s, const char *file)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].file, file))
			return s->v[i].value;
	return NULL;
}

static int v2(const char *json, struct cg_sets *s, struct cell_err *err)
{
	json_t *res = json_loads(json, 0, NULL);
	int r;

	assert_non_null(res);
	r = cg_v2_settings(res, "/nonexistent", s, err);
	json_decref(res);
	return r;
}

static void test_v2_conversions(void **state)
{
	struct cg_sets s = { 0 };
	struct cell_err err = { 0 };

	assert_int_equal(v2("{\"cpu\": {\"shares\": 1024, \"quota\": 20000}, \"memory\": {\"limit\": 33554432, "
			    "\"swap\": 67108864, \"reservation\": 1048576}, \"pids\": {\"limit\": 0}, "
			    "\"blockIO\": {\"weight\": 500}}", &s, &err), 0);
	assert_string_equal(value_of(&s, "cpu.weight"), "39");
	assert_string_equal(value_of(&s, "cpu.max"), "20000 100000");
	assert_string_equal(value_of(&s, "memory.max"), "33554432");
	assert_string_equal(value_of(&s, "memory.swap.max"), "33554432");
	assert_string_equal(value_of(&s, "memory.low"), "1048576");
	assert_string_equal(value_of(&s, "pids.max"), "max");
	assert_string_equal(value_of(&s, "io.weight"), "default 4950");
	cg_sets_free(&s);
	assert_int_equal(v2("{\"cpu\": {\"shares\": 2}, \"memory\": {\"limit\": -1, \"swap\": -1}}", &s, &err), 0);
	assert_string_equal(value_of(&s, "cpu.weight"), "1");
	assert_string_equal(value_of(&s, "memory.max"), "max");
	assert_string_equal(value_of(&s, "memory.swap.max"), "max");
	cg_sets_free(&s);
}

static void test_v2_rejects(void **state)
{
	struct cg_sets s = { 0 };
	struct cell_err err = { 0 };

	assert_true(v2("{\"memory\": {\"limit\": 67108864, \"swap\": 1048576}}", &s, &err) < 0);
	assert_non_null(strstr(err.msg, "memory.swap"));
	cg_sets_free(&s);
	assert_true(v2("{\"cpu\": {\"realtimeRuntime\": 1000}}", &s, &err) < 0);
	assert_non_null(strstr(err.msg, "cpu.realtimeRuntime"));
	cg_sets_free(&s);
}

static void test_v1_order(void **state)
{
	struct cg_sets s = { 0 };
	struct cell_err err = { 0 };
	json_t *res = json_loads("{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, "
				 "\"type\": \"c\", \"major\": 10, \"minor\": 200, \"access\": \"rw\"}], "
				 "\"cpu\": {\"quota\": -1, \"shares\": 256, \"cpus\": \"0\"}, "
				 "\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 0}]}", 0, NULL);

	assert_int_equal(cg_v1_settings(res, NULL, &s, &err), 0);
	/* the spec's device rules first, in order, then the defaults */
	assert_string_equal(s.v[0].file, "devices.deny");
	assert_string_equal(s.v[0].value, "a *:* rwm");
	assert_string_equal(s.v[1].file, "devices.allow");
	assert_string_equal(s.v[1].value, "c 10:200 rw");
	assert_string_equal(s.v[2].value, "c 1:3 rwm");
	assert_string_equal(value_of(&s, "cpu.cfs_quota_us"), "-1");
	assert_string_equal(value_of(&s, "cpu.shares"), "256");
	assert_string_equal(value_of(&s, "cpuset.cpus"), "0");
	assert_string_equal(value_of(&s, "hugetlb.2MB.limit_in_bytes"), "0");
	cg_sets_free(&s);
	json_decref(res);
}

/* The rule list the lab proves by effect: deny all, null rwm, zero r, with
 * linux.devices creating /dev/null, /dev/zero and /dev/full. */
static const char lab_rules[] = "[{\"allow\": false, \"access\": \"rwm\"}, "
	"{\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"rwm\"}, "
	"{\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 5, \"access\": \"r\"}]";
static const char lab_nodes[] = "[{\"path\": \"/dev/null\", \"type\": \"c\", \"major\": 1, \"minor\": 3}, "
	"{\"path\": \"/dev/zero\", \"type\": \"c\", \"major\": 1, \"minor\": 5}, "
	"{\"path\": \"/dev/full\", \"type\": \"c\", \"major\": 1, \"minor\": 7}]";

static size_t rules_of(const char *rules, const char *nodes, struct cg_dev_rule **out)
{
	json_t *r = json_loads(rules, 0, NULL), *n = nodes ? json_loads(nodes, 0, NULL) : NULL;
	struct cell_err err = { 0 };
	size_t count = 0;

	assert_non_null(r);
	assert_int_equal(cg_dev_rules(r, n, out, &count, &err), 0);
	json_decref(r);
	json_decref(n);
	return count;
}

enum { M = BPF_DEVCG_ACC_MKNOD, R = BPF_DEVCG_ACC_READ, W = BPF_DEVCG_ACC_WRITE,
       C = BPF_DEVCG_DEV_CHAR, B = BPF_DEVCG_DEV_BLOCK };

static void test_dev_rules(void **state)
{
	static const struct { const char *rules, *nodes; int type; uint32_t major, minor; unsigned acc; bool ok; } t[] = {
		{ lab_rules, lab_nodes, C, 1, 3, R | W, true },   /* null */
		{ lab_rules, lab_nodes, C, 1, 3, M, true },
		{ lab_rules, lab_nodes, C, 1, 5, R, true },       /* zero: read only */
		{ lab_rules, lab_nodes, C, 1, 5, W, false },
		{ lab_rules, lab_nodes, C, 1, 5, R | W, false },
		{ lab_rules, lab_nodes, C, 1, 7, R, false },      /* full: the spec creates it, so no default */
		{ lab_rules, lab_nodes, C, 1, 7, W, false },
		{ lab_rules, lab_nodes, C, 1, 7, M, true },       /* ... but the runtime makes its node */
		{ lab_rules, lab_nodes, C, 1, 9, R | W, true },   /* urandom: a default */
		{ lab_rules, lab_nodes, C, 136, 4, R | W, true }, /* pts */
		{ lab_rules, lab_nodes, C, 1, 11, M, false },     /* kmsg: mknod denied */
		{ lab_rules, lab_nodes, B, 1, 3, R, false },      /* the type counts */
		{ lab_rules, NULL, C, 1, 7, R | W, true },        /* without the node: the default */
		{ lab_rules, NULL, C, 1, 5, W, true },
		/* the last rule naming the device wins, bit by bit */
		{ "[{\"allow\": true, \"access\": \"rwm\"}, {\"allow\": false, \"type\": \"b\", \"access\": \"w\"}]",
		  NULL, B, 8, 0, R, true },
		{ "[{\"allow\": true, \"access\": \"rwm\"}, {\"allow\": false, \"type\": \"b\", \"access\": \"w\"}]",
		  NULL, B, 8, 0, R | W, false },
		{ "[{\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}, "
		  "{\"allow\": true, \"type\": \"b\", \"major\": 8, \"minor\": 1, \"access\": \"w\"}]",
		  NULL, B, 8, 1, R | W, true },
		{ "[{\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}, "
		  "{\"allow\": true, \"type\": \"b\", \"major\": 8, \"minor\": 1, \"access\": \"w\"}]",
		  NULL, B, 8, 2, R | W, false },
		{ "[{\"allow\": false, \"type\": \"c\", \"major\": 1, \"minor\": 3}]", NULL, C, 1, 3, R, true },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct cg_dev_rule *r = NULL;
		size_t n = rules_of(t[i].rules, t[i].nodes, &r);
		if (cg_dev_allowed(r, n, t[i].type, t[i].major, t[i].minor, t[i].acc) != t[i].ok)
			fail_msg("case %zu: %d %u:%u access %u should be %s", i, t[i].type, t[i].major, t[i].minor,
				 t[i].acc, t[i].ok ? "allowed" : "denied");
		free(r);
	}
}

static void test_dev_rule_errors(void **state)
{
	struct cell_err err = { 0 };
	struct cg_dev_rule *r = NULL;
	size_t n;
	json_t *bad = json_loads("[{\"allow\": true, \"type\": \"c\", \"access\": \"rwx\"}]", 0, NULL);

	assert_true(cg_dev_rules(bad, NULL, &r, &n, &err) < 0);
	assert_non_null(strstr(err.msg, "devices[0]: access \"rwx\""));
	json_decref(bad);
	bad = json_loads("[{\"allow\": true, \"type\": \"u\"}]", 0, NULL);
	assert_true(cg_dev_rules(bad, NULL, &r, &n, &err) < 0);
	assert_non_null(strstr(err.msg, "devices[0]: type \"u\""));
	json_decref(bad);
}

/* Runs the few instructions cg_dev_program emits, as the kernel would. */
static int run_prog(const struct bpf_insn *p, size_t n, const struct bpf_cgroup_dev_ctx *ctx)
{
	uint64_t r[11] = { 0 };

	for (size_t pc = 0, steps = 0; pc < n && steps < 100000; pc++, steps++) {
		const struct bpf_insn *i = &p[pc];
		uint64_t imm = (uint64_t)(int64_t)i->imm;
		switch (i->code) {
		case BPF_LDX | BPF_MEM | BPF_W:
			assert_int_equal(i->src_reg, 1);
			assert_true(i->off >= 0 && (size_t)i->off + 4 <= sizeof(*ctx));
			r[i->dst_reg] = *(const uint32_t *)((const char *)ctx + i->off);
			break;
		case BPF_ALU | BPF_MOV | BPF_X: r[i->dst_reg] = (uint32_t)r[i->src_reg]; break;
		case BPF_ALU | BPF_AND | BPF_K: r[i->dst_reg] = (uint32_t)(r[i->dst_reg] & imm); break;
		case BPF_ALU | BPF_RSH | BPF_K: r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm; break;
		case BPF_ALU64 | BPF_MOV | BPF_K: r[i->dst_reg] = imm; break;
		case BPF_JMP | BPF_JA: pc += i->off; break;
		case BPF_JMP | BPF_JNE | BPF_K: if (r[i->dst_reg] != imm) pc += i->off; break;
		case BPF_JMP | BPF_JEQ | BPF_K: if (r[i->dst_reg] == imm) pc += i->off; break;
		case BPF_JMP | BPF_EXIT: return (int)r[0];
		default: fail_msg("instruction %zu: unexpected code %#x", pc, i->code);
		}
		assert_true(pc + 1 <= n);
	}
	fail_msg("the program ran off its end");
	return -1;
}

/* The program decides exactly as cg_dev_allowed, over a grid of requests. */
static void test_dev_program(void **state)
{
	static const char *const lists[] = {
		lab_rules,
		"[{\"allow\": true, \"access\": \"rwm\"}, {\"allow\": false, \"type\": \"b\", \"access\": \"w\"}, "
		"{\"allow\": false, \"type\": \"c\", \"major\": 1, \"access\": \"m\"}]",
		"[{\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}, "
		"{\"allow\": true, \"type\": \"b\", \"major\": 8, \"minor\": 1, \"access\": \"w\"}, "
		"{\"allow\": false, \"type\": \"c\", \"minor\": 5, \"access\": \"rw\"}]",
	};
	static const uint32_t majors[] = { 1, 5, 8, 10, 136, 4095 }, minors[] = { 0, 1, 3, 5, 7, 9, 200 };

	for (size_t l = 0; l < sizeof(lists) / sizeof(lists[0]); l++) {
		struct cg_dev_rule *r = NULL;
		struct bpf_insn *p = NULL;
		size_t n = rules_of(lists[l], l == 0 ? lab_nodes : NULL, &r), count = 0, checked = 0;
		assert_int_equal(cg_dev_program(r, n, &p, &count), 0);
		assert_true(count > 6 && count < 4096);
		for (int type = B; type <= C; type++)
			for (size_t a = 0; a < sizeof(majors) / sizeof(majors[0]); a++)
				for (size_t b = 0; b < sizeof(minors) / sizeof(minors[0]); b++)
					for (unsigned acc = 1; acc <= 7; acc++) {
						struct bpf_cgroup_dev_ctx ctx = { (acc << 16) | (unsigned)type,
										  majors[a], minors[b] };
						bool want = cg_dev_allowed(r, n, type, majors[a], minors[b], acc);
						if (run_prog(p, count, &ctx) != (int)want)
							fail_msg("list %zu: %d %u:%u access %u: program says %d", l, type,
								 majors[a], minors[b], acc, !want);
						checked++;
					}
		assert_int_equal(checked, 2 * 6 * 7 * 7);
		free(p);
		free(r);
	}
}

static void test_paths(void **state)
{
	char p[512];
	struct cell_err err = { 0 };

	assert_int_equal(cell_policy_cgroup_path("disabled", "/x", "/run/cell", "c1", p, sizeof(p), &err), 0);
	assert_string_equal(p, "");
	if (cg_version(NULL) == CG_NONE)
		return;
	assert_int_equal(cell_policy_cgroup_path(NULL, NULL, "/run/cell", "unit-c1", p, sizeof(p), &err), 0);
	assert_string_equal(p, "/cell/unit-c1");
	assert_int_equal(cell_policy_cgroup_path("cgroupfs", "", "/other", "unit-c1", p, sizeof(p), &err), 0);
	assert_int_equal(strncmp(p, "/cell/unit-c1@", 14), 0);
	assert_int_equal(strlen(p), 22);
	assert_int_equal(cell_policy_cgroup_path(NULL, "/a/b/", "/run/cell", "c1", p, sizeof(p), &err), 0);
	assert_string_equal(p, "/a/b");
	assert_true(cell_policy_cgroup_path(NULL, "system.slice:cell:c1", "/run/cell", "c1", p, sizeof(p), &err) < 0);
	assert_non_null(strstr(err.msg, "systemd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v2_conversions),
		cmocka_unit_test(test_v2_rejects),
		cmocka_unit_test(test_v1_order),
		cmocka_unit_test(test_dev_rules),
		cmocka_unit_test(test_dev_rule_errors),
		cmocka_unit_test(test_dev_program),
		cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
