/* The state store under a private temporary root: ids, handles, state.json
 * round trips, listing, removal and the live status. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../runtime/state.h"
#include "../../runtime/spec.h"
#include "../../runtime/util.h"

/* ---- fixture: a fresh root per test, removed whatever the test left ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int root_setup(void **state)
{
	char *root = strdup("/tmp/cell-test-state.XXXXXX");

	if (!root || !mkdtemp(root))
		return -1;
	*state = root;
	return 0;
}

static int root_teardown(void **state)
{
	char *root = *state;

	nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(root);
	return 0;
}

static void path_join(char *buf, size_t len, const char *root, const char *a, const char *b)
{
	int n = snprintf(buf, len, "%s/%s%s%s", root, a, b ? "/" : "", b ? b : "");

	assert_true(n > 0 && (size_t)n < len);
}

static bool exists(const char *root, const char *a, const char *b)
{
	char p[4096];

	path_join(p, sizeof(p), root, a, b);
	return access(p, F_OK) == 0;
}

/* Names in <root>/<id>, sorted, as one comma-separated string. */
static void dir_names(const char *root, const char *id, char *out, size_t len)
{
	struct dirent **v;
	char p[4096];
	int n;

	path_join(p, sizeof(p), root, id, NULL);
	n = scandir(p, &v, NULL, alphasort);
	assert_true(n >= 0);
	out[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(v[i]->d_name, ".") && strcmp(v[i]->d_name, ".."))
			snprintf(out + strlen(out), len - strlen(out), "%s%s", *out ? "," : "", v[i]->d_name);
		free(v[i]);
	}
	free(v);
}

/* ---- ids ---- */

static void test_id_check(void **state)
{
	static const struct { const char *id, *msg; } bad[] = {
		{ "", "container id must not be empty" },
		{ ".", "container id \".\" is not allowed" },
		{ "..", "container id \"..\" is not allowed" },
		{ "a/b", "container id \"a/b\": only letters, digits and _+-. are allowed" },
		{ "a b", "container id \"a b\": only letters, digits and _+-. are allowed" },
		{ "tab\t", "container id \"tab\t\": only letters, digits and _+-. are allowed" },
		{ "\xc3\xa9", "container id \"\xc3\xa9\": only letters, digits and _+-. are allowed" },
	};
	char id[CELL_ID_MAX + 2];
	struct cell_err err;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cell_id_check(bad[i].id, &err), -1);
		assert_string_equal(err.msg, bad[i].msg);
	}
	assert_int_equal(cell_id_check("web-1_a.b+c", &err), 0);
	assert_int_equal(cell_id_check("...", &err), 0);

	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';                      /* 256 characters */
	assert_int_equal(cell_id_check(id, &err), -1);
	assert_string_equal(err.msg, "container id \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...\" is longer than 255 characters");
	id[CELL_ID_MAX] = '\0';                         /* 255 characters */
	assert_int_equal(cell_id_check(id, &err), 0);
}

/* Bad ids never reach the file system; the longest good one does. */
static void test_handle_ids(void **state)
{
	const char *root = *state;
	static const char *const bad[] = { "", ".", "..", "a/b", "../escape", "a b" };
	char id[CELL_ID_MAX + 1];
	struct cell_handle h;
	struct cell_state st;
	struct cell_err err;
	char names[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(cell_handle_create(root, bad[i], &h, &err), -1);
		assert_int_equal(cell_handle_open(root, bad[i], &h, &err), -1);
		assert_int_equal(cell_state_load(root, bad[i], &st, &err), -1);
	}
	dir_names(root, ".", names, sizeof(names));
	assert_string_equal(names, "");
	assert_false(exists(root, "..", "escape"));

	memset(id, 'y', CELL_ID_MAX);
	id[CELL_ID_MAX] = '\0';
	assert_int_equal(cell_handle_create(root, id, &h, &err), 0);
	assert_string_equal(h.id, id);
	assert_int_equal(cell_handle_remove(&h, &err), 0);
}

/* ---- handles ---- */

static void test_create_open_errors(void **state)
{
	const char *root = *state;
	struct cell_handle h, h2;
	struct cell_state st;
	struct cell_err err;

	assert_int_equal(cell_handle_create(root, "c1", &h, &err), 0);
	assert_true(h.dirfd >= 0);
	assert_true(exists(root, "c1", NULL));
	cell_handle_close(&h);
	assert_int_equal(h.dirfd, -1);

	assert_int_equal(cell_handle_create(root, "c1", &h, &err), -1);
	assert_string_equal(err.msg, "container c1 already exists");
	assert_int_equal(cell_handle_open(root, "nope", &h, &err), -1);
	assert_string_equal(err.msg, "container nope does not exist");
	assert_int_equal(cell_state_load(root, "nope", &st, &err), -1);
	assert_string_equal(err.msg, "container nope does not exist");

	/* open works on what create made; no state.json yet is its own error */
	assert_int_equal(cell_handle_open(root, "c1", &h2, &err), 0);
	assert_int_equal(cell_state_read(&h2, &st, &err), -1);
	assert_string_equal(err.msg, "state of c1: No such file or directory");
	cell_handle_close(&h2);
}

/* create makes missing parents of the root, as for /run/cell */
static void test_create_makes_root(void **state)
{
	char root[4096];
	struct cell_handle h;
	struct cell_err err;

	snprintf(root, sizeof(root), "%s/a/b", (char *)*state);
	assert_int_equal(cell_handle_create(root, "c", &h, &err), 0);
	assert_true(exists(root, "c", NULL));
	cell_handle_close(&h);
}

static void test_remove(void **state)
{
	const char *root = *state;
	struct cell_handle h;
	struct cell_err err;
	char p[4096];

	assert_int_equal(cell_handle_create(root, "gone", &h, &err), 0);
	path_join(p, sizeof(p), root, "gone", "config.json");
	assert_int_equal(close(creat(p, 0600)), 0);
	path_join(p, sizeof(p), root, "gone", "sub");
	assert_int_equal(mkdir(p, 0700), 0);
	path_join(p, sizeof(p), root, "gone", "sub/deeper");
	assert_int_equal(mkdir(p, 0700), 0);
	path_join(p, sizeof(p), root, "gone", "sub/deeper/f");
	assert_int_equal(close(creat(p, 0600)), 0);
	/* a symlink is removed, not followed */
	path_join(p, sizeof(p), root, "gone", "link");
	assert_int_equal(symlink("/etc", p), 0);

	assert_int_equal(cell_handle_remove(&h, &err), 0);
	assert_int_equal(h.dirfd, -1);
	assert_false(exists(root, "gone", NULL));
	assert_int_equal(access("/etc/passwd", F_OK), 0);
	assert_int_equal(cell_handle_open(root, "gone", &h, &err), -1);
	assert_string_equal(err.msg, "container gone does not exist");
}

/* Until the child's fd table shows the guest directory, so it has opened
 * the directory and is at (or past) the lock. */
static void wait_child_holds(pid_t child, const char *dir)
{
	char fdpath[64], link[4096];
	struct dirent *de;

	for (int tries = 0; tries < 500; tries++) {
		DIR *d;

		snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd", (int)child);
		d = opendir(fdpath);
		while (d && (de = readdir(d))) {
			char p[320];
			ssize_t n;

			snprintf(p, sizeof(p), "%s/%s", fdpath, de->d_name);
			n = readlink(p, link, sizeof(link) - 1);
			if (n > 0 && (link[n] = '\0', !strcmp(link, dir))) {
				closedir(d);
				return;
			}
		}
		if (d)
			closedir(d);
		usleep(10000);
	}
	fail_msg("child never opened %s", dir);
}

/* Child: open the guest; exit 0 if that worked, 1 if "does not exist".
 * It first drops the parent's handle fd it inherited: that fd shares the
 * parent's open file description and with it the lock. It writes 'r' once
 * it holds no other fd to the directory and 'x' when open returned. */
static pid_t fork_opener(const char *root, const char *id, int inherited, int *rfd)
{
	int pfd[2];
	pid_t child;

	assert_int_equal(pipe(pfd), 0);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct cell_handle h;
		struct cell_err err;
		char want[64];
		int r;

		close(pfd[0]);
		close(inherited);
		if (write(pfd[1], "r", 1) != 1)
			_exit(3);
		r = cell_handle_open(root, id, &h, &err);
		if (write(pfd[1], "x", 1) != 1)
			_exit(3);
		snprintf(want, sizeof(want), "container %s does not exist", id);
		_exit(r == 0 ? 0 : strcmp(err.msg, want) ? 2 : 1);
	}
	close(pfd[1]);
	*rfd = pfd[0];
	return child;
}

static void expect_byte(int fd, char want)
{
	char c = 0;

	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, want);
}

/* A handle is a lock: a second open waits for it, and an open that was
 * waiting while the guest was removed reports that it does not exist. */
static void test_handle_lock(void **state)
{
	const char *root = *state;
	struct cell_handle h;
	struct cell_err err;
	struct pollfd pfd = { .events = POLLIN };
	char dir[4096];
	int status;
	pid_t child;

	assert_int_equal(cell_handle_create(root, "lk", &h, &err), 0);
	assert_non_null(realpath(root, dir));
	snprintf(dir + strlen(dir), sizeof(dir) - strlen(dir), "/lk");

	child = fork_opener(root, "lk", h.dirfd, &pfd.fd);
	expect_byte(pfd.fd, 'r');
	wait_child_holds(child, dir);
	assert_int_equal(poll(&pfd, 1, 200), 0);      /* still waiting */
	cell_handle_close(&h);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	expect_byte(pfd.fd, 'x');
	close(pfd.fd);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	assert_int_equal(cell_handle_open(root, "lk", &h, &err), 0);
	child = fork_opener(root, "lk", h.dirfd, &pfd.fd);
	expect_byte(pfd.fd, 'r');
	wait_child_holds(child, dir);
	assert_int_equal(cell_handle_remove(&h, &err), 0);
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	expect_byte(pfd.fd, 'x');
	close(pfd.fd);
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
}

/* ---- state.json ---- */

static void test_write_read_round_trip(void **state)
{
	const char *root = *state;
	struct cell_handle h;
	struct cell_state st = { .id = "rt", .kind = "vm", .pid = 4242, .pid_start = 1ull << 40,
				 .bundle = "/srv/bundle", .rootfs = "/srv/bundle/rootfs",
				 .created = "2024-01-02T03:04:05.123456789Z", .owner = 1000 };
	struct cell_state got;
	struct cell_err err;

	st.annotations = json_pack("{s:s, s:s}", "org.example/a", "1", "b", "two words");
	assert_int_equal(cell_handle_create(root, "rt", &h, &err), 0);
	for (enum cell_status s = CELL_STATUS_CREATING; s <= CELL_STATUS_STOPPED; s++) {
		st.status = s;
		assert_int_equal(cell_state_write(&h, &st, &err), 0);
		assert_int_equal(cell_state_read(&h, &got, &err), 0);
		assert_int_equal(got.status, s);
		cell_state_free(&got);
	}
	assert_int_equal(cell_state_load(root, "rt", &got, &err), 0);
	assert_string_equal(got.id, "rt");
	assert_string_equal(got.kind, "vm");
	assert_int_equal(got.status, CELL_STATUS_STOPPED);
	assert_int_equal(got.pid, 4242);
	assert_int_equal(got.pid_start, 1ull << 40);
	assert_string_equal(got.bundle, "/srv/bundle");
	assert_string_equal(got.rootfs, "/srv/bundle/rootfs");
	assert_string_equal(got.created, "2024-01-02T03:04:05.123456789Z");
	assert_int_equal(got.owner, 1000);
	assert_true(json_equal(got.annotations, st.annotations));
	cell_state_free(&got);
	assert_null(got.annotations);

	/* absent annotations read back as an empty object, never NULL */
	json_decref(st.annotations);
	st.annotations = NULL;
	st.bundle = NULL;
	assert_int_equal(cell_state_write(&h, &st, &err), 0);
	assert_int_equal(cell_state_read(&h, &got, &err), 0);
	assert_true(json_is_object(got.annotations));
	assert_int_equal(json_object_size(got.annotations), 0);
	assert_string_equal(got.bundle, "");
	cell_state_free(&got);
	cell_handle_close(&h);
}

/* Writes go through a temporary name and rename(2): nothing else remains,
 * and the file is private to the owner. */
static void test_atomic_write_leaves_no_temp(void **state)
{
	const char *root = *state;
	struct cell_state st = { .id = "at", .kind = "container", .status = CELL_STATUS_CREATED };
	struct cell_handle h;
	struct cell_err err;
	struct stat sb;
	char names[256], p[4096];

	assert_int_equal(cell_handle_create(root, "at", &h, &err), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(cell_state_write(&h, &st, &err), 0);
	dir_names(root, "at", names, sizeof(names));
	assert_string_equal(names, "state.json");
	path_join(p, sizeof(p), root, "at", "state.json");
	assert_int_equal(stat(p, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	cell_handle_close(&h);
}

static void test_corrupt_state(void **state)
{
	const char *root = *state;
	struct cell_handle h;
	struct cell_state st = { 0 };
	struct cell_err err;
	char p[4096];
	int fd;

	assert_int_equal(cell_handle_create(root, "bad", &h, &err), 0);
	path_join(p, sizeof(p), root, "bad", "state.json");
	fd = creat(p, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"pid\": ", 8), 8);
	close(fd);
	assert_int_equal(cell_state_read(&h, &st, &err), -1);
	assert_non_null(strstr(err.msg, "state of bad is corrupt: "));
	cell_state_free(&st);

	/* an unknown status is read as stopped rather than trusted */
	fd = creat(p, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"status\": \"dancing\"}", 21), 21);
	close(fd);
	assert_int_equal(cell_state_read(&h, &st, &err), 0);
	assert_int_equal(st.status, CELL_STATUS_STOPPED);
	assert_string_equal(st.kind, "container");
	cell_state_free(&st);
	cell_handle_close(&h);
}

/* ---- listing ---- */

static void test_list_sorted_skips_dot_entries(void **state)
{
	const char *root = *state;
	static const char *const ids[] = { "web", "Zed", "a.1", "db", "a" };
	struct cell_handle h;
	struct cell_err err;
	char **got, p[4096];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		assert_int_equal(cell_handle_create(root, ids[i], &h, &err), 0);
		cell_handle_close(&h);
	}
	/* hidden directories and plain files are not guests */
	path_join(p, sizeof(p), root, ".hidden", NULL);
	assert_int_equal(mkdir(p, 0700), 0);
	path_join(p, sizeof(p), root, "afile", NULL);
	assert_int_equal(close(creat(p, 0600)), 0);

	assert_int_equal(cell_state_list(root, &got, &err), 0);
	assert_string_equal(got[0], "Zed");
	assert_string_equal(got[1], "a");
	assert_string_equal(got[2], "a.1");
	assert_string_equal(got[3], "db");
	assert_string_equal(got[4], "web");
	assert_null(got[5]);
	for (char **g = got; *g; g++)
		free(*g);
	free(got);
}

/* More guests than the list's first allocation; a missing root is empty. */
static void test_list_many_and_missing_root(void **state)
{
	const char *root = *state;
	struct cell_handle h;
	struct cell_err err;
	char **got, id[16], p[4096];
	size_t n = 0;

	for (int i = 99; i >= 0; i--) {
		snprintf(id, sizeof(id), "g%02d", i);
		assert_int_equal(cell_handle_create(root, id, &h, &err), 0);
		cell_handle_close(&h);
	}
	assert_int_equal(cell_state_list(root, &got, &err), 0);
	for (; got[n]; n++) {
		snprintf(id, sizeof(id), "g%02zu", n);
		assert_string_equal(got[n], id);
		free(got[n]);
	}
	free(got);
	assert_int_equal(n, 100);

	path_join(p, sizeof(p), root, "not-there", NULL);
	assert_int_equal(cell_state_list(p, &got, &err), 0);
	assert_null(got[0]);
	free(got);
}

/* ---- live status and the runtime-spec state object ---- */

static uint64_t my_start_time(void)
{
	uint64_t start;

	assert_int_equal(cell_proc_stat(getpid(), &start, NULL), 0);
	return start;
}

static void test_status_follows_process(void **state)
{
	struct cell_state st = { .status = CELL_STATUS_RUNNING };
	int status;
	pid_t child;

	/* this process, with its real start time: alive */
	st.pid = getpid();
	st.pid_start = my_start_time();
	assert_int_equal(cell_state_status(&st), CELL_STATUS_RUNNING);
	st.status = CELL_STATUS_PAUSED;
	assert_int_equal(cell_state_status(&st), CELL_STATUS_PAUSED);
	/* same pid, other start time: the pid was reused */
	st.status = CELL_STATUS_RUNNING;
	st.pid_start += 1;
	assert_int_equal(cell_state_status(&st), CELL_STATUS_STOPPED);
	/* above any pid_max (2^22): never a process */
	st.pid = 4194304 + 1;
	st.pid_start = 0;
	assert_int_equal(cell_state_status(&st), CELL_STATUS_STOPPED);
	st.pid = 0;
	assert_int_equal(cell_state_status(&st), CELL_STATUS_STOPPED);

	/* a zombie has exited: stopped even before it is reaped */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	st.pid = child;
	for (int i = 0; i < 500; i++) {
		char s = 0;
		if (cell_proc_stat(child, NULL, &s) == 0 && s == 'Z')
			break;
		usleep(10000);
	}
	assert_int_equal(cell_state_status(&st), CELL_STATUS_STOPPED);
	assert_int_equal(waitpid(child, &status, 0), child);
	/* reaped: no such process any more */
	assert_int_equal(cell_state_status(&st), CELL_STATUS_STOPPED);

	/* recorded as stopped stays stopped, whatever the pid */
	st.status = CELL_STATUS_STOPPED;
	st.pid = getpid();
	st.pid_start = my_start_time();
	assert_int_equal(cell_state_status(&st), CELL_STATUS_STOPPED);
}

static void test_state_to_json(void **state)
{
	struct cell_state st = { .id = "j1", .pid = 77, .bundle = "/b", .rootfs = "/b/rootfs",
				 .created = "2024-01-01T00:00:00Z" };
	json_t *o, *want;

	st.annotations = json_pack("{s:s}", "k", "v");
	o = cell_state_to_json(&st, CELL_STATUS_RUNNING);
	want = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s, s:s, s:s, s:{s:s}}",
			 "ociVersion", CELL_OCI_VERSION, "id", "j1", "status", "running", "pid", 77,
			 "bundle", "/b", "rootfs", "/b/rootfs", "created", "2024-01-01T00:00:00Z",
			 "owner", "root", "annotations", "k", "v");
	assert_non_null(want);
	if (!json_equal(o, want)) {
		char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(text, "(the expected object)");
	}
	json_decref(o);
	json_decref(want);

	/* a stopped guest has no pid; missing fields are empty, not absent */
	json_decref(st.annotations);
	st.annotations = NULL;
	st.bundle = NULL;
	o = cell_state_to_json(&st, CELL_STATUS_STOPPED);
	assert_string_equal(json_string_value(json_object_get(o, "status")), "stopped");
	assert_int_equal(json_integer_value(json_object_get(o, "pid")), 0);
	assert_true(json_is_integer(json_object_get(o, "pid")));
	assert_string_equal(json_string_value(json_object_get(o, "bundle")), "");
	assert_true(json_is_object(json_object_get(o, "annotations")));
	json_decref(o);

	assert_string_equal(cell_status_name(CELL_STATUS_CREATING), "creating");
	assert_string_equal(cell_status_name(CELL_STATUS_CREATED), "created");
	assert_string_equal(cell_status_name(CELL_STATUS_PAUSED), "paused");
}

#define T(f) cmocka_unit_test_setup_teardown(f, root_setup, root_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_id_check),
		T(test_handle_ids),
		T(test_create_open_errors),
		T(test_create_makes_root),
		T(test_remove),
		T(test_handle_lock),
		T(test_write_read_round_trip),
		T(test_atomic_write_leaves_no_temp),
		T(test_corrupt_state),
		T(test_list_sorted_skips_dot_entries),
		T(test_list_many_and_missing_root),
		cmocka_unit_test(test_status_follows_process),
		cmocka_unit_test(test_state_to_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
