/* linux.resources → cgroup settings (runc's v1→v2 conversions) and the
 * cgroup path a guest gets; no kernel involved. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

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

	assert_int_equal(cg_v1_settings(res, &s, &err), 0);
	/* the spec's device rules first, in order, then the defaults */
	assert_string_equal(s.v[0].file, "devices.deny");
	assert_string_equal(s.v[0].value, "a *:* rwm");
	assert_string_equal(s.v[1].file, "devices.allow");
	assert_string_equal(s.v[1].value, "c 10:200 rw");
	assert_string_equal(value_of(&s, "cpu.cfs_quota_us"), "-1");
	assert_string_equal(value_of(&s, "cpu.shares"), "256");
	assert_string_equal(value_of(&s, "cpuset.cpus"), "0");
	assert_string_equal(value_of(&s, "hugetlb.2MB.limit_in_bytes"), "0");
	cg_sets_free(&s);
	json_decref(res);
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
		cmocka_unit_test(test_paths),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
