/* config.json parsing and validation: every error names the field path. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/mount.h>

#include "../../runtime/spec.h"
#include "../../runtime/schema.h"

/* ---- helpers: start from the default config and edit it by path ---- */

static json_t *default_doc(void)
{
	json_error_t jerr;
	char *text = cell_spec_default();
	json_t *doc;

	assert_non_null(text);
	doc = json_loads(text, 0, &jerr);
	free(text);
	assert_non_null(doc);
	return doc;
}

/* Split "key[3]" into key and index (-1 without brackets). */
static void split_segment(const char *seg, char *key, size_t keylen, long *idx)
{
	const char *br = strchr(seg, '[');

	*idx = -1;
	snprintf(key, keylen, "%.*s", br ? (int)(br - seg) : (int)strlen(seg), seg);
	if (br)
		*idx = strtol(br + 1, NULL, 10);
}

/* Set the value at a dotted path ("mounts[1].options", "linux.namespaces[6]")
 * to the JSON text `value`; value NULL deletes the key or array element.
 * Missing intermediate objects are created so a test can add a whole
 * subtree ("linux.resources.memory.limit"). */
static void edit(json_t *doc, const char *path, const char *value)
{
	char buf[256], key[128], *seg, *next;
	json_t *node = doc, *v = NULL;
	json_error_t jerr;
	long idx;

	if (value) {
		v = json_loads(value, JSON_DECODE_ANY, &jerr);
		assert_non_null(v);
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (seg = buf; (next = strchr(seg, '.')); seg = next + 1) {
		json_t *child;

		*next = '\0';
		split_segment(seg, key, sizeof(key), &idx);
		child = json_object_get(node, key);
		if (!child) {
			child = json_object();
			json_object_set_new(node, key, child);
		}
		node = idx >= 0 ? json_array_get(child, idx) : child;
		assert_non_null(node);
	}
	split_segment(seg, key, sizeof(key), &idx);
	if (idx < 0) {
		if (v)
			json_object_set_new(node, key, v);
		else
			json_object_del(node, key);
		return;
	}
	node = json_object_get(node, key);
	assert_true(json_is_array(node));
	if (!v)
		assert_int_equal(json_array_remove(node, idx), 0);
	else if ((size_t)idx == json_array_size(node))
		assert_int_equal(json_array_append_new(node, v), 0);
	else
		assert_int_equal(json_array_set_new(node, idx, v), 0);
}

/* Parse text; returns the result and leaves the spec in *out (NULL on error). */
static int parse_text(const char *text, const char *bundle, struct cell_spec **out,
		      struct cell_err *err)
{
	*out = NULL;
	cell_err_clear(err);
	return cell_spec_parse(text, strlen(text), "config.json", bundle, out, err);
}

static int parse_doc(json_t *doc, const char *bundle, struct cell_spec **out, struct cell_err *err)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	int r;

	json_decref(doc);
	assert_non_null(text);
	r = parse_text(text, bundle, out, err);
	free(text);
	return r;
}

/* Specs a test holds: a failed assertion longjmps out of the test, so the
 * teardown frees what is still held and leak checking stays quiet. */
static struct cell_spec *held[8];

static void release(struct cell_spec *s)
{
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		if (held[i] == s)
			held[i] = NULL;
	cell_spec_free(s);
}

static int release_all(void **state)
{
	for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++)
		release(held[i]);
	return 0;
}

/* The document must parse; the caller releases the spec. */
static struct cell_spec *accept_doc(json_t *doc, const char *bundle)
{
	struct cell_spec *s;
	struct cell_err err;
	size_t i;

	/* assert_* rather than fail_msg: its text reaches the TAP stream */
	if (parse_doc(doc, bundle, &s, &err) < 0)
		assert_string_equal(err.msg, "(accepted)");
	assert_non_null(s);
	for (i = 0; i < sizeof(held) / sizeof(held[0]) && held[i]; i++)
		;
	assert_true(i < sizeof(held) / sizeof(held[0]));
	held[i] = s;
	return s;
}

/* The document must be rejected with exactly `msg`. */
static void reject_doc(json_t *doc, const char *msg)
{
	struct cell_spec *s;
	struct cell_err err;
	int r = parse_doc(doc, NULL, &s, &err);

	if (r == 0) {
		cell_spec_free(s);
		assert_string_equal("(accepted)", msg);
	}
	assert_int_equal(r, -1);
	assert_null(s);
	assert_string_equal(err.msg, msg);
}

/* One edit of the default config and the error it must give. */
struct reject_case {
	const char *path;
	const char *value;           /* JSON text; NULL deletes */
	const char *msg;
};

static void run_reject_cases(const struct reject_case *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_t *doc = default_doc();

		edit(doc, c[i].path, c[i].value);
		reject_doc(doc, c[i].msg);
	}
}

#define RUN_REJECT(cases) run_reject_cases(cases, sizeof(cases) / sizeof(cases[0]))

static void edit_accept_free(const char *path, const char *value)
{
	json_t *doc = default_doc();

	edit(doc, path, value);
	release(accept_doc(doc, NULL));
}

/* ---- the default spec ---- */

static void test_default_spec_parses(void **state)
{
	struct cell_spec *s = accept_doc(default_doc(), NULL);

	assert_string_equal(s->oci_version, CELL_OCI_VERSION);
	/* without a bundle root.path stays as written */
	assert_string_equal(s->root_path, "rootfs");
	assert_true(s->root_readonly);
	assert_string_equal(s->hostname, "cell");
	assert_null(s->vm);
	assert_true(s->process.terminal);
	assert_string_equal(s->process.cwd, "/");
	assert_string_equal(s->process.args[0], "sh");
	assert_null(s->process.args[1]);
	assert_string_equal(s->process.env[1], "TERM=xterm");
	assert_true(s->process.no_new_privileges);
	assert_int_equal(s->process.n_rlimits, 1);
	assert_int_equal(s->process.rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s->process.rlimits[0].soft, 1024);
	assert_true(s->process.has_capabilities);
	assert_string_equal(s->process.capabilities[CELL_CAP_BOUNDING][1], "CAP_KILL");
	assert_null(s->process.capabilities[CELL_CAP_INHERITABLE]);

	assert_int_equal(s->n_mounts, 7);
	assert_string_equal(s->mounts[1].destination, "/dev");
	assert_string_equal(s->mounts[1].data, "mode=755,size=65536k");
	assert_int_equal(s->mounts[1].flags, MS_NOSUID | MS_STRICTATIME);
	assert_int_equal(s->mounts[5].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
	assert_null(s->mounts[5].data);

	for (int t = 0; t < CELL_NS__COUNT; t++) {
		bool want = t != CELL_NS_USER && t != CELL_NS_TIME;
		assert_int_equal(s->has_ns[t], want);
		assert_null(s->ns[t].path);
	}
	assert_string_equal(s->masked_paths[0], "/proc/acpi");
	assert_string_equal(s->readonly_paths[4], "/proc/sysrq-trigger");
	assert_non_null(s->resources);
	assert_true(json_is_object(s->annotations));
	assert_int_equal(json_object_size(s->annotations), 0);
	release(s);
}

/* ---- a real bundle: root.path and bind sources resolve against it ---- */

struct bundle {
	char dir[64];
	char real[PATH_MAX];         /* realpath of dir: /tmp may be a symlink */
};

static int bundle_setup(void **state)
{
	struct bundle *b = calloc(1, sizeof(*b));
	char path[PATH_MAX];

	if (!b)
		return -1;
	snprintf(b->dir, sizeof(b->dir), "/tmp/cell-test-spec.XXXXXX");
	if (!mkdtemp(b->dir) || !realpath(b->dir, b->real))
		return -1;
	snprintf(path, sizeof(path), "%s/rootfs", b->dir);
	if (mkdir(path, 0755) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/afile", b->dir);
	if (close(creat(path, 0644)) < 0)
		return -1;
	*state = b;
	return 0;
}

static int bundle_teardown(void **state)
{
	struct bundle *b = *state;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/rootfs", b->dir);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/afile", b->dir);
	unlink(path);
	rmdir(b->dir);
	free(b);
	return 0;
}

static void test_bundle_root_and_bind_sources(void **state)
{
	struct bundle *b = *state;
	char want[PATH_MAX + 16];
	json_t *doc = default_doc();
	struct cell_spec *s;

	edit(doc, "mounts[7]", "{\"destination\": \"/data\", \"source\": \"data\", \"options\": [\"rbind\", \"ro\"]}");
	edit(doc, "mounts[8]", "{\"destination\": \"/abs\", \"source\": \"/srv\", \"type\": \"bind\"}");
	s = accept_doc(doc, b->real);
	snprintf(want, sizeof(want), "%s/rootfs", b->real);
	assert_string_equal(s->root_path, want);
	assert_string_equal(s->bundle, b->real);
	/* relative bind sources are joined to the bundle; others are left alone */
	snprintf(want, sizeof(want), "%s/data", b->real);
	assert_string_equal(s->mounts[7].source, want);
	assert_true(s->mounts[7].bind);
	assert_int_equal(s->mounts[7].flags, MS_REC | MS_RDONLY);
	assert_string_equal(s->mounts[8].source, "/srv");
	assert_string_equal(s->mounts[0].source, "proc");
	release(s);
}

static void test_bundle_root_errors(void **state)
{
	struct bundle *b = *state;
	struct cell_spec *s;
	struct cell_err err;
	char want[PATH_MAX + 128];
	json_t *doc = default_doc();

	edit(doc, "root.path", "\"missing\"");
	assert_int_equal(parse_doc(doc, b->real, &s, &err), -1);
	snprintf(want, sizeof(want), "config.json: root.path: %s/missing: No such file or directory", b->real);
	assert_string_equal(err.msg, want);

	doc = default_doc();
	edit(doc, "root.path", "\"afile\"");
	assert_int_equal(parse_doc(doc, b->real, &s, &err), -1);
	snprintf(want, sizeof(want), "config.json: root.path: %s/afile: Not a directory", b->real);
	assert_string_equal(err.msg, want);
}

/* ---- syntax ---- */

static void test_not_json_names_line_and_column(void **state)
{
	static const char text[] = "{\n  \"ociVersion\": \"1.2.0\",\n    oops\n}\n";
	static const char prefix[] = "config.json: line 3 column 8: ";
	struct cell_spec *s;
	struct cell_err err;

	assert_int_equal(parse_text(text, NULL, &s, &err), -1);
	assert_null(s);
	assert_memory_equal(err.msg, prefix, strlen(prefix));
	assert_non_null(strstr(err.msg, "near 'oops'"));

	assert_int_equal(parse_text("", NULL, &s, &err), -1);
	assert_non_null(strstr(err.msg, "config.json: line 1 column 0: "));
	/* a top-level scalar is not a document; an array is not an object */
	assert_int_equal(parse_text("42", NULL, &s, &err), -1);
	assert_int_equal(parse_text("[]", NULL, &s, &err), -1);
	assert_string_equal(err.msg, "config.json: document: expected object");
}

static void test_duplicate_keys_rejected(void **state)
{
	static const char prefix[] = "config.json: line 1 column ";
	struct cell_spec *s;
	struct cell_err err;

	assert_int_equal(parse_text("{\"ociVersion\": \"1.2.0\", \"ociVersion\": \"1.1.0\"}", NULL, &s, &err), -1);
	assert_memory_equal(err.msg, prefix, strlen(prefix));
	assert_non_null(strstr(err.msg, "duplicate object key"));
	/* also deep inside the document */
	assert_int_equal(parse_text("{\"process\": {\"cwd\": \"/\", \"cwd\": \"/tmp\"}}", NULL, &s, &err), -1);
	assert_non_null(strstr(err.msg, "duplicate object key"));
}

static void test_parse_uses_given_name(void **state)
{
	struct cell_spec *s;
	struct cell_err err;
	const char *text = "{\"ociVersion\": 1}";

	assert_int_equal(cell_spec_parse(text, strlen(text), "b/config.json", NULL, &s, &err), -1);
	assert_string_equal(err.msg, "b/config.json: ociVersion: expected string");
	/* the length bounds the text: a valid prefix of a longer buffer parses */
	assert_int_equal(cell_spec_parse("{}garbage", 2, "x", NULL, &s, &err), -1);
	assert_string_equal(err.msg, "x: ociVersion: required field missing");
}

/* ---- types ---- */

static void test_wrong_types(void **state)
{
	static const struct reject_case cases[] = {
		{ "linux.resources.memory.limit", "\"1g\"",
		  "config.json: linux.resources.memory.limit: expected integer" },
		{ "process.args", "\"sh\"", "config.json: process.args: expected array" },
		{ "mounts[1].destination", NULL, "config.json: mounts[1].destination: required field missing" },
		{ "ociVersion", NULL, "config.json: ociVersion: required field missing" },
		{ "ociVersion", "1.2", "config.json: ociVersion: expected string" },
		{ "process.args[1]", "7", "config.json: process.args[1]: expected string" },
		{ "process.terminal", "\"yes\"", "config.json: process.terminal: expected boolean" },
		{ "process.user.uid", "-1", "config.json: process.user.uid: expected 32-bit unsigned integer" },
		{ "process.user.gid", "4294967296",
		  "config.json: process.user.gid: expected 32-bit unsigned integer" },
		{ "process.user", NULL, "config.json: process.user: required field missing" },
		{ "process.rlimits[0].soft", "-1",
		  "config.json: process.rlimits[0].soft: expected non-negative integer" },
		{ "linux", "[]", "config.json: linux: expected object" },
		{ "linux.resources.pids.weird", "1", "config.json: linux.resources.pids.limit: required field missing" },
		{ "linux.resources.devices[0].allow", NULL,
		  "config.json: linux.resources.devices[0].allow: required field missing" },
		{ "linux.sysctl", "{\"net.ipv4.ip_forward\": 1}",
		  "config.json: linux.sysctl.net.ipv4.ip_forward: expected string" },
		{ "annotations", "{\"k\": true}", "config.json: annotations.k: expected string" },
		{ "linux.timeOffsets", "{\"monotonic\": 5}", "config.json: linux.timeOffsets.monotonic: expected object" },
		{ "hooks.prestart", "[{\"args\": []}]", "config.json: hooks.prestart[0].path: required field missing" },
		{ "vm", "{}", "config.json: vm.kernel: required field missing" },
	};

	RUN_REJECT(cases);
}

/* JSON null counts as an absent field, but is not a valid array element. */
static void test_null_is_absent(void **state)
{
	json_t *doc = default_doc();
	struct cell_spec *s;

	edit(doc, "hostname", "null");
	edit(doc, "linux.namespaces[3]", NULL);     /* uts: only an absent hostname is fine */
	edit(doc, "annotations", "null");
	edit(doc, "mounts[1].options", "null");
	edit(doc, "process.user.umask", "null");
	edit(doc, "process.oomScoreAdj", "null");
	edit(doc, "process.env", "null");
	edit(doc, "hooks", "null");
	s = accept_doc(doc, NULL);
	assert_null(s->hostname);
	assert_true(json_is_object(s->annotations));
	assert_null(s->mounts[1].data);
	assert_false(s->process.has_umask);
	assert_false(s->process.has_oom_score_adj);
	assert_null(s->process.env[0]);
	release(s);

	static const struct reject_case cases[] = {
		{ "root.path", "null", "config.json: root.path: required field missing" },
		{ "process.args[0]", "null", "config.json: process.args[0]: expected string" },
		{ "process", "null", "config.json: process: required for a container" },
		{ "root", "null", "config.json: root: required for a container" },
	};
	RUN_REJECT(cases);
}

/* "vm": null once stayed a json null, so s->vm != NULL: the bundle counted
 * as a microVM and the container rules (root, process, mount ns) were skipped. */
static void test_null_vm_is_absent(void **state)
{
	json_t *doc = default_doc();
	struct cell_spec *s;

	edit(doc, "vm", "null");
	s = accept_doc(doc, NULL);
	assert_null(s->vm);
	release(s);

	/* a container without a process must not pass as a microVM */
	doc = default_doc();
	edit(doc, "vm", "null");
	edit(doc, "process", NULL);
	reject_doc(doc, "config.json: process: required for a container");
}

/* linux.seccomp/resources/sysctl = null once stayed json null, and
 * isolate/seccomp.c seccomp_build() took the filter as present and
 * strcmp()ed a NULL defaultAction: SIGSEGV in create. */
static void test_null_linux_objects_are_absent(void **state)
{
	json_t *doc = default_doc();
	struct cell_spec *s;

	edit(doc, "linux.seccomp", "null");
	edit(doc, "linux.resources", "null");
	edit(doc, "linux.sysctl", "null");
	s = accept_doc(doc, NULL);
	assert_null(s->seccomp);
	assert_null(s->resources);
	assert_null(s->sysctl);
	release(s);
}

/* ---- ociVersion ---- */

static void test_oci_versions(void **state)
{
	static const char *const good[] = { "1.0.0", "1.0.2-dev", "1.1.0", "1.2.0", "1.3.0", "1.2.1+build" };
	static const struct reject_case bad[] = {
		{ "ociVersion", "\"2.0.0\"", "config.json: ociVersion: unsupported version \"2.0.0\" (cell reads 1.x)" },
		{ "ociVersion", "\"0.9.0\"", "config.json: ociVersion: unsupported version \"0.9.0\" (cell reads 1.x)" },
		{ "ociVersion", "\"abc\"", "config.json: ociVersion: \"abc\" is not a version (MAJOR.MINOR.PATCH)" },
		{ "ociVersion", "\"1.0\"", "config.json: ociVersion: \"1.0\" is not a version (MAJOR.MINOR.PATCH)" },
		{ "ociVersion", "\"1.0.0x\"", "config.json: ociVersion: \"1.0.0x\" is not a version (MAJOR.MINOR.PATCH)" },
		{ "ociVersion", "\"\"", "config.json: ociVersion: \"\" is not a version (MAJOR.MINOR.PATCH)" },
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char value[32];
		json_t *doc = default_doc();
		struct cell_spec *s;

		snprintf(value, sizeof(value), "\"%s\"", good[i]);
		edit(doc, "ociVersion", value);
		s = accept_doc(doc, NULL);
		assert_string_equal(s->oci_version, good[i]);
		release(s);
	}
	RUN_REJECT(bad);
}

/* BUG (runtime/spec.c check_version): sscanf's %u skips white space, takes
 * a sign and wraps out-of-range numbers, so these are read as major 1. */
static void test_oci_version_strict_numbers(void **state)
{
	static const struct reject_case bad[] = {
		{ "ociVersion", "\"4294967297.0.0\"",
		  "config.json: ociVersion: \"4294967297.0.0\" is not a version (MAJOR.MINOR.PATCH)" },
		{ "ociVersion", "\"-4294967295.0.0\"",
		  "config.json: ociVersion: \"-4294967295.0.0\" is not a version (MAJOR.MINOR.PATCH)" },
		{ "ociVersion", "\" 1.0.0\"", "config.json: ociVersion: \" 1.0.0\" is not a version (MAJOR.MINOR.PATCH)" },
		{ "ociVersion", "\"1.+2.3\"", "config.json: ociVersion: \"1.+2.3\" is not a version (MAJOR.MINOR.PATCH)" },
	};

	RUN_REJECT(bad);
}

/* ---- namespaces and the rules that tie fields together ---- */

static void test_namespaces(void **state)
{
	static const struct reject_case cases[] = {
		{ "linux.namespaces[6]", "{\"type\": \"foo\"}",
		  "config.json: linux.namespaces[6].type: unknown namespace type \"foo\"" },
		{ "linux.namespaces[6]", "{\"type\": \"pid\"}",
		  "config.json: linux.namespaces[6].type: duplicate namespace \"pid\"" },
		{ "linux.namespaces[1]", "{\"type\": \"network\", \"path\": \"proc/1/ns/net\"}",
		  "config.json: linux.namespaces[1].path: \"proc/1/ns/net\" is not absolute" },
		{ "linux.namespaces[1]", "{\"path\": \"/proc/1/ns/net\"}",
		  "config.json: linux.namespaces[1].type: required field missing" },
		{ "linux.namespaces[4]", NULL, "config.json: linux.namespaces: a container needs a mount namespace" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;

	RUN_REJECT(cases);
	/* no linux object at all: still no mount namespace */
	edit(doc, "linux", NULL);
	edit(doc, "hostname", NULL);
	reject_doc(doc, "config.json: linux.namespaces: a container needs a mount namespace");

	doc = default_doc();
	/* joining by path is kept; time is a known type */
	edit(doc, "linux.namespaces[1]", "{\"type\": \"network\", \"path\": \"/proc/1/ns/net\"}");
	edit(doc, "linux.namespaces[6]", "{\"type\": \"time\"}");
	s = accept_doc(doc, NULL);
	assert_string_equal(s->ns[CELL_NS_NET].path, "/proc/1/ns/net");
	assert_true(s->has_ns[CELL_NS_TIME]);
	assert_int_equal(s->ns[CELL_NS_TIME].type, CELL_NS_TIME);
	release(s);
}

static void test_hostname_needs_uts(void **state)
{
	static const struct reject_case cases[] = {
		{ "linux.namespaces[3]", NULL,
		  "config.json: hostname: setting it needs a new uts namespace in linux.namespaces" },
		/* joining an existing uts namespace does not make a new one */
		{ "linux.namespaces[3]", "{\"type\": \"uts\", \"path\": \"/proc/1/ns/uts\"}",
		  "config.json: hostname: setting it needs a new uts namespace in linux.namespaces" },
	};
	json_t *doc;

	RUN_REJECT(cases);
	doc = default_doc();
	edit(doc, "hostname", NULL);
	edit(doc, "domainname", "\"example.org\"");
	edit(doc, "linux.namespaces[3]", NULL);
	reject_doc(doc, "config.json: domainname: setting it needs a new uts namespace in linux.namespaces");
	/* an empty hostname sets nothing */
	doc = default_doc();
	edit(doc, "hostname", "\"\"");
	edit(doc, "linux.namespaces[3]", NULL);
	release(accept_doc(doc, NULL));
}

static void test_user_namespace_and_mappings(void **state)
{
	static const char map[] = "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}]";
	json_t *doc = default_doc();
	struct cell_spec *s;

	edit(doc, "linux.namespaces[6]", "{\"type\": \"user\"}");
	reject_doc(doc, "config.json: linux.uidMappings: a new user namespace needs uidMappings and gidMappings");

	doc = default_doc();
	edit(doc, "linux.namespaces[6]", "{\"type\": \"user\"}");
	edit(doc, "linux.uidMappings", map);
	reject_doc(doc, "config.json: linux.uidMappings: a new user namespace needs uidMappings and gidMappings");

	doc = default_doc();
	edit(doc, "linux.uidMappings", map);
	edit(doc, "linux.gidMappings", map);
	reject_doc(doc, "config.json: linux.uidMappings: mappings need a new user namespace in linux.namespaces");

	doc = default_doc();
	edit(doc, "linux.namespaces[6]", "{\"type\": \"user\"}");
	edit(doc, "linux.uidMappings", map);
	edit(doc, "linux.gidMappings", "[{\"containerID\": 0, \"hostID\": 100000, \"size\": 0}]");
	reject_doc(doc, "config.json: linux.gidMappings[0].size: must be greater than zero");

	doc = default_doc();
	edit(doc, "linux.namespaces[6]", "{\"type\": \"user\"}");
	edit(doc, "linux.uidMappings", map);
	edit(doc, "linux.gidMappings", "[{\"containerID\": 0, \"hostID\": 4294967295, \"size\": 1}]");
	s = accept_doc(doc, NULL);
	assert_int_equal(s->n_uid_mappings, 1);
	assert_int_equal(s->uid_mappings[0].host_id, 100000);
	assert_int_equal(s->uid_mappings[0].size, 65536);
	assert_int_equal(s->gid_mappings[0].host_id, 4294967295u);
	release(s);
}

static void test_linux_paths_propagation_time(void **state)
{
	static const struct reject_case cases[] = {
		{ "linux.maskedPaths[1]", "\"proc/kcore\"", "config.json: linux.maskedPaths[1]: \"proc/kcore\" is not absolute" },
		{ "linux.readonlyPaths[0]", "\"\"", "config.json: linux.readonlyPaths[0]: \"\" is not absolute" },
		{ "linux.rootfsPropagation", "\"sideways\"",
		  "config.json: linux.rootfsPropagation: unknown propagation \"sideways\"" },
		{ "linux.timeOffsets", "{\"monotonic\": {\"secs\": 5}}",
		  "config.json: linux.timeOffsets: offsets need a new time namespace in linux.namespaces" },
		{ "linux.timeOffsets", "{\"realtime\": {\"secs\": 5}}", "config.json: linux.timeOffsets.realtime: unknown clock" },
		{ "linux.timeOffsets", "{\"boottime\": {\"nanosecs\": 1000000000}}",
		  "config.json: linux.timeOffsets.boottime.nanosecs: must be below 1e9" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;

	RUN_REJECT(cases);
	edit(doc, "linux.rootfsPropagation", "\"rslave\"");
	edit(doc, "linux.namespaces[6]", "{\"type\": \"time\"}");
	edit(doc, "linux.timeOffsets", "{\"boottime\": {\"secs\": -5, \"nanosecs\": 999999999}}");
	s = accept_doc(doc, NULL);
	assert_int_equal(s->rootfs_propagation, MS_SLAVE | MS_REC);
	assert_true(s->has_time_offsets);
	assert_int_equal(s->time_offset_secs[1], -5);
	assert_int_equal(s->time_offset_nsecs[1], 999999999);
	release(s);
}

/* A microVM needs neither root, process nor a mount namespace. */
static void test_vm_relaxes_container_rules(void **state)
{
	json_t *doc = default_doc();
	struct cell_spec *s;

	edit(doc, "vm", "{\"kernel\": {\"path\": \"/boot/vmlinuz\"}}");
	edit(doc, "root", NULL);
	edit(doc, "process", NULL);
	edit(doc, "linux.namespaces[4]", NULL);
	s = accept_doc(doc, NULL);
	assert_non_null(s->vm);
	assert_null(s->root_path);
	assert_null(s->process.args);
	release(s);
}

/* ---- process ---- */

static void test_process_fields(void **state)
{
	static const struct reject_case cases[] = {
		{ "process.cwd", "\"tmp\"", "config.json: process.cwd: \"tmp\" is not absolute" },
		{ "process.args", "[]", "config.json: process.args: must name a program to run" },
		{ "process.args[0]", "\"\"", "config.json: process.args[0]: must not be empty" },
		{ "process.env[1]", "\"FOO\"", "config.json: process.env[1]: \"FOO\" is not of the form NAME=VALUE" },
		{ "process.env[0]", "\"=x\"", "config.json: process.env[0]: \"=x\" is not of the form NAME=VALUE" },
		{ "process.user.umask", "512", "config.json: process.user.umask: 512 is not a file mode mask" },
		{ "process.oomScoreAdj", "1001", "config.json: process.oomScoreAdj: 1001 is outside -1000..1000" },
		{ "process.oomScoreAdj", "-1001", "config.json: process.oomScoreAdj: -1001 is outside -1000..1000" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;

	RUN_REJECT(cases);
	edit(doc, "process.user.umask", "511");
	edit(doc, "process.oomScoreAdj", "-1000");
	edit(doc, "process.env[2]", "\"EMPTY=\"");
	edit(doc, "process.user.additionalGids", "[5, 4294967295]");
	edit(doc, "process.consoleSize", "{\"height\": 24, \"width\": 80}");
	s = accept_doc(doc, NULL);
	assert_true(s->process.has_umask);
	assert_int_equal(s->process.umask, 0777);
	assert_true(s->process.has_oom_score_adj);
	assert_int_equal(s->process.oom_score_adj, -1000);
	assert_int_equal(s->process.n_additional_gids, 2);
	assert_int_equal(s->process.additional_gids[1], 4294967295u);
	assert_true(s->process.has_console_size);
	assert_int_equal(s->process.console_width, 80);
	release(s);
	edit_accept_free("process.oomScoreAdj", "1000");
}

static void test_capabilities(void **state)
{
	static const struct reject_case cases[] = {
		{ "process.capabilities.bounding[1]", "\"CAP_FOO\"",
		  "config.json: process.capabilities.bounding[1]: unknown capability \"CAP_FOO\"" },
		{ "process.capabilities.ambient[0]", "\"KILL\"",
		  "config.json: process.capabilities.ambient[0]: unknown capability \"KILL\"" },
		{ "process.capabilities.effective", "\"CAP_KILL\"",
		  "config.json: process.capabilities.effective: expected array" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;

	RUN_REJECT(cases);
	edit(doc, "process.capabilities.inheritable", "[\"CAP_SYS_ADMIN\"]");
	edit(doc, "process.capabilities.ambient", NULL);
	s = accept_doc(doc, NULL);
	assert_string_equal(s->process.capabilities[CELL_CAP_INHERITABLE][0], "CAP_SYS_ADMIN");
	assert_null(s->process.capabilities[CELL_CAP_AMBIENT]);
	release(s);
}

static void test_rlimits(void **state)
{
	static const struct reject_case cases[] = {
		{ "process.rlimits[0].type", "\"RLIMIT_FOO\"",
		  "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"" },
		{ "process.rlimits[0].type", "\"nofile\"", "config.json: process.rlimits[0].type: unknown rlimit \"nofile\"" },
		{ "process.rlimits[1]", "{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1, \"hard\": 1}",
		  "config.json: process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"" },
		{ "process.rlimits[0].soft", "2048",
		  "config.json: process.rlimits[0]: soft limit 2048 exceeds hard limit 1024" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;

	RUN_REJECT(cases);
	edit(doc, "process.rlimits[1]", "{\"type\": \"RLIMIT_CORE\", \"soft\": 0, \"hard\": 9223372036854775807}");
	s = accept_doc(doc, NULL);
	assert_int_equal(s->process.n_rlimits, 2);
	assert_int_equal(s->process.rlimits[1].resource, RLIMIT_CORE);
	assert_int_equal(s->process.rlimits[1].hard, INT64_MAX);
	release(s);
}

static void test_rlimit_names(void **state)
{
	assert_int_equal(cell_rlimit_from_name("RLIMIT_NOFILE"), RLIMIT_NOFILE);
	assert_int_equal(cell_rlimit_from_name("RLIMIT_AS"), RLIMIT_AS);
	assert_int_equal(cell_rlimit_from_name("RLIMIT_STACK"), RLIMIT_STACK);
	assert_int_equal(cell_rlimit_from_name("RLIMIT_RTTIME"), RLIMIT_RTTIME);
	assert_int_equal(cell_rlimit_from_name("rlimit_nofile"), -1);
	assert_int_equal(cell_rlimit_from_name("NOFILE"), -1);
	assert_int_equal(cell_rlimit_from_name(""), -1);
}

/* ---- hooks ---- */

static void test_hooks(void **state)
{
	static const struct reject_case cases[] = {
		{ "hooks.prestart", "[{\"path\": \"bin/hook\"}]", "config.json: hooks.prestart[0].path: \"bin/hook\" is not absolute" },
		{ "hooks.poststop", "[{\"path\": \"/a\"}, {\"path\": \"/b\", \"timeout\": 0}]",
		  "config.json: hooks.poststop[1].timeout: must be greater than zero" },
		{ "hooks.createRuntime", "[{\"path\": \"/a\", \"timeout\": -3}]",
		  "config.json: hooks.createRuntime[0].timeout: must be greater than zero" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;
	struct cell_hook *h;

	RUN_REJECT(cases);
	edit(doc, "hooks.createContainer",
	     "[{\"path\": \"/bin/hook\", \"args\": [\"hook\", \"x\"], \"env\": [\"A=1\"], \"timeout\": 5}]");
	s = accept_doc(doc, NULL);
	assert_int_equal(s->hooks.n[CELL_HOOK_CREATE_CONTAINER], 1);
	assert_int_equal(s->hooks.n[CELL_HOOK_PRESTART], 0);
	h = &s->hooks.v[CELL_HOOK_CREATE_CONTAINER][0];
	assert_string_equal(h->path, "/bin/hook");
	assert_string_equal(h->args[1], "x");
	assert_string_equal(h->env[0], "A=1");
	assert_int_equal(h->timeout, 5);
	assert_string_equal(cell_hook_name(CELL_HOOK_CREATE_CONTAINER), "createContainer");
	release(s);
}

/* ---- mounts ---- */

/* Parse `opts` for a mount of `type` into *m (m->data freed by the caller). */
static int mount_opts(struct cell_mount *m, char *type, char **opts, struct cell_err *err)
{
	memset(m, 0, sizeof(*m));
	m->type = type;
	m->options = opts;
	cell_err_clear(err);
	return cell_mount_parse_options(m, "mounts[0]", err);
}

#define OPTS(...) ((char *[]){ __VA_ARGS__, NULL })

static void test_mount_option_flags(void **state)
{
	struct cell_mount m;
	struct cell_err err;

	assert_int_equal(mount_opts(&m, "proc", OPTS("ro", "nosuid", "nodev", "noexec"), &err), 0);
	assert_int_equal(m.flags, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC);
	assert_null(m.data);
	assert_false(m.bind);
	/* later options win */
	assert_int_equal(mount_opts(&m, "tmpfs", OPTS("ro", "nosuid", "rw", "defaults"), &err), 0);
	assert_int_equal(m.flags, MS_NOSUID);
	assert_int_equal(mount_opts(&m, "tmpfs", OPTS("noatime", "atime", "relatime"), &err), 0);
	assert_int_equal(m.flags, MS_RELATIME);
	assert_int_equal(mount_opts(&m, "tmpfs", NULL, &err), 0);
	assert_int_equal(m.flags, 0);
}

static void test_mount_option_bind_and_propagation(void **state)
{
	struct cell_mount m;
	struct cell_err err;

	assert_int_equal(mount_opts(&m, NULL, OPTS("bind"), &err), 0);
	assert_true(m.bind);
	assert_int_equal(m.flags, 0);
	assert_int_equal(mount_opts(&m, NULL, OPTS("rbind", "ro"), &err), 0);
	assert_true(m.bind);
	assert_int_equal(m.flags, MS_REC | MS_RDONLY);
	/* the type alone also makes a bind mount */
	assert_int_equal(mount_opts(&m, "bind", NULL, &err), 0);
	assert_true(m.bind);
	assert_int_equal(m.flags, 0);
	assert_int_equal(mount_opts(&m, "rbind", NULL, &err), 0);
	assert_true(m.bind);
	assert_int_equal(m.flags, MS_REC);

	assert_int_equal(mount_opts(&m, NULL, OPTS("bind", "rprivate"), &err), 0);
	assert_int_equal(m.propagation, MS_PRIVATE | MS_REC);
	assert_int_equal(mount_opts(&m, NULL, OPTS("bind", "shared", "slave"), &err), 0);
	assert_int_equal(m.propagation, MS_SLAVE);
	assert_int_equal(mount_opts(&m, NULL, OPTS("bind", "runbindable"), &err), 0);
	assert_int_equal(m.propagation, MS_UNBINDABLE | MS_REC);
}

static void test_mount_option_recursive_attrs(void **state)
{
	struct cell_mount m;
	struct cell_err err;

	assert_int_equal(mount_opts(&m, NULL, OPTS("rbind", "rro", "rnosuid"), &err), 0);
	assert_int_equal(m.rec_set, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID);
	assert_int_equal(m.rec_clear, 0);
	/* a later clear undoes a set and the reverse */
	assert_int_equal(mount_opts(&m, NULL, OPTS("rbind", "rro", "rrw", "rnoexec"), &err), 0);
	assert_int_equal(m.rec_set, MOUNT_ATTR_NOEXEC);
	assert_int_equal(m.rec_clear, MOUNT_ATTR_RDONLY);
	assert_int_equal(m.flags, MS_REC);
}

static void test_mount_option_data(void **state)
{
	struct cell_mount m;
	struct cell_err err;

	/* what cell does not know goes to the filesystem, in order */
	assert_int_equal(mount_opts(&m, "devpts", OPTS("nosuid", "newinstance", "ptmxmode=0666", "gid=5"), &err), 0);
	assert_int_equal(m.flags, MS_NOSUID);
	assert_string_equal(m.data, "newinstance,ptmxmode=0666,gid=5");
	/* a second parse starts over */
	m.options = OPTS("ro");
	assert_int_equal(cell_mount_parse_options(&m, "mounts[0]", &err), 0);
	assert_null(m.data);
	assert_int_equal(m.flags, MS_RDONLY);

	assert_int_equal(mount_opts(&m, "tmpfs", OPTS("tmpcopyup", "size=1m"), &err), 0);
	assert_true(m.tmpcopyup);
	assert_string_equal(m.data, "size=1m");
	free(m.data);
}

static void test_mount_option_errors(void **state)
{
	struct cell_mount m;
	struct cell_err err;

	assert_int_equal(mount_opts(&m, NULL, OPTS("bind", "tmpcopyup"), &err), -1);
	assert_string_equal(err.msg, "mounts[0]: option \"tmpcopyup\" needs type tmpfs");
	free(m.data);
	assert_int_equal(mount_opts(&m, "proc", OPTS("tmpcopyup"), &err), -1);
	assert_string_equal(err.msg, "mounts[0]: option \"tmpcopyup\" needs type tmpfs");
	free(m.data);
}

static void test_mount_option_idmap(void **state)
{
	struct cell_mount m;
	struct cell_err err;

	/* idmap and ridmap are cell's to apply, never the filesystem's */
	assert_int_equal(mount_opts(&m, NULL, OPTS("rbind", "mode=1", "idmap"), &err), 0);
	assert_true(m.idmap);
	assert_false(m.idmap_recursive);
	assert_int_equal(m.flags, MS_REC);
	assert_string_equal(m.data, "mode=1");
	free(m.data);
	assert_int_equal(mount_opts(&m, NULL, OPTS("bind", "ridmap"), &err), 0);
	assert_true(m.idmap && m.idmap_recursive);
	assert_null(m.data);
	/* a second parse starts over */
	m.options = OPTS("ro");
	assert_int_equal(cell_mount_parse_options(&m, "mounts[0]", &err), 0);
	assert_false(m.idmap || m.idmap_recursive);
}

static void test_mounts_in_spec(void **state)
{
	static const struct reject_case cases[] = {
		{ "mounts[7]", "{\"destination\": \"/x\", \"source\": \"x\"}",
		  "config.json: mounts[7].type: required unless options has bind or rbind" },
		{ "mounts[7]", "{\"destination\": \"/x\", \"options\": [\"bind\"]}",
		  "config.json: mounts[7].source: required for a bind mount" },
		{ "mounts[2].options[2]", "\"idmap\"",
		  "config.json: mounts[2]: an idmapped mount must be a bind mount (options bind or rbind)" },
		{ "mounts[0].options", "[\"tmpcopyup\"]", "config.json: mounts[0]: option \"tmpcopyup\" needs type tmpfs" },
		{ "mounts[0].uidMappings", "[{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]",
		  "config.json: mounts[0].gidMappings: required with uidMappings" },
		{ "mounts[7]", "{\"destination\": \"/x\", \"source\": \"/y\", \"options\": [\"bind\"], "
			       "\"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}",
		  "config.json: mounts[7].uidMappings: required with gidMappings" },
		{ "mounts[7]", "{\"destination\": \"/x\", \"source\": \"/y\", \"options\": [\"bind\"], "
			       "\"uidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 0}], "
			       "\"gidMappings\": [{\"containerID\": 0, \"hostID\": 1000, \"size\": 1}]}",
		  "config.json: mounts[7].uidMappings[0].size: must be greater than zero" },
		{ "mounts[7]", "{\"destination\": \"/x\", \"source\": \"/y\", \"options\": [\"rbind\", \"ridmap\"]}",
		  "config.json: mounts[7]: option \"ridmap\" without uidMappings and gidMappings maps with the "
		  "container's user namespace: linux.namespaces has none" },
		{ "mounts[0].options", "[1]", "config.json: mounts[0].options[0]: expected string" },
	};
	json_t *doc = default_doc();
	struct cell_spec *s;

	RUN_REJECT(cases);
	/* runc reads a relative destination as relative to the container's / */
	edit(doc, "mounts[7]", "{\"destination\": \"data\", \"source\": \"rel\", \"type\": \"bind\"}");
	s = accept_doc(doc, NULL);
	assert_string_equal(s->mounts[7].destination, "/data");
	/* without a bundle a relative bind source is kept as written */
	assert_string_equal(s->mounts[7].source, "rel");
	release(s);
	/* mappings idmap a bind mount even without the option (runc does) */
	doc = default_doc();
	edit(doc, "mounts[7]", "{\"destination\": \"/x\", \"source\": \"/y\", \"options\": [\"bind\"], "
	     "\"uidMappings\": [{\"containerID\": 1000, \"hostID\": 100000, \"size\": 1}], "
	     "\"gidMappings\": [{\"containerID\": 1000, \"hostID\": 100000, \"size\": 2}]}");
	s = accept_doc(doc, NULL);
	assert_true(s->mounts[7].idmap);
	assert_false(s->mounts[7].idmap_recursive);
	assert_int_equal(s->mounts[7].n_uid_mappings, 1);
	assert_int_equal(s->mounts[7].uid_mappings[0].container_id, 1000);
	assert_int_equal(s->mounts[7].uid_mappings[0].host_id, 100000);
	assert_int_equal(s->mounts[7].gid_mappings[0].size, 2);
	release(s);
}

/* ---- the schema walker on its own ---- */

static void test_schema_process(void **state)
{
	struct cell_err err;
	json_error_t jerr;
	json_t *p = json_loads("{\"cwd\": \"/\", \"args\": [\"sh\"]}", 0, &jerr);

	assert_non_null(p);
	assert_int_equal(cell_schema_check(p, &cell_schema_process, "", &err), -1);
	assert_string_equal(err.msg, "user: required field missing");
	json_object_set_new(p, "user", json_pack("{s:i, s:i}", "uid", 0, "gid", 0));
	assert_int_equal(cell_schema_check(p, &cell_schema_process, "", &err), 0);
	json_object_set_new(p, "terminal", json_null());
	assert_int_equal(cell_schema_check(p, &cell_schema_process, "", &err), 0);
	json_object_set_new(p, "terminal", json_integer(1));
	assert_int_equal(cell_schema_check(p, &cell_schema_process, "process", &err), -1);
	assert_string_equal(err.msg, "process.terminal: expected boolean");
	json_decref(p);
}

static int bundle_teardown_all(void **state)
{
	release_all(state);
	return bundle_teardown(state);
}

#define T(f) cmocka_unit_test_teardown(f, release_all)
#define TB(f) cmocka_unit_test_setup_teardown(f, bundle_setup, bundle_teardown_all)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_default_spec_parses),
		TB(test_bundle_root_and_bind_sources),
		TB(test_bundle_root_errors),
		T(test_not_json_names_line_and_column),
		T(test_duplicate_keys_rejected),
		T(test_parse_uses_given_name),
		T(test_wrong_types),
		T(test_null_is_absent),
		T(test_null_vm_is_absent),
		T(test_null_linux_objects_are_absent),
		T(test_oci_versions),
		T(test_oci_version_strict_numbers),
		T(test_namespaces),
		T(test_hostname_needs_uts),
		T(test_user_namespace_and_mappings),
		T(test_linux_paths_propagation_time),
		T(test_vm_relaxes_container_rules),
		T(test_process_fields),
		T(test_capabilities),
		T(test_rlimits),
		T(test_rlimit_names),
		T(test_hooks),
		T(test_mount_option_flags),
		T(test_mount_option_bind_and_propagation),
		T(test_mount_option_recursive_attrs),
		T(test_mount_option_data),
		T(test_mount_option_errors),
		T(test_mount_option_idmap),
		T(test_mounts_in_spec),
		T(test_schema_process),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
