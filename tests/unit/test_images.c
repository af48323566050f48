/* images/: path normalisation, digests, references, index selection and
 * layer unpacking of hostile tars built in memory. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../images/internal.h"
#include "../../runtime/cleanup.h"

static void test_path_normalize(void **state)
{
	char out[64];

	assert_int_equal(img_path_normalize("./a//b/./c", out, sizeof(out)), 0);
	assert_string_equal(out, "a/b/c");
	assert_int_equal(img_path_normalize("./", out, sizeof(out)), 1);
	assert_int_equal(img_path_normalize("/etc/passwd", out, sizeof(out)), -1);
	assert_int_equal(img_path_normalize("a/../../b", out, sizeof(out)), -2);
	assert_int_equal(img_path_normalize("..", out, sizeof(out)), -2);
	/* a name that merely starts with dots is fine */
	assert_int_equal(img_path_normalize("a/..b/...", out, sizeof(out)), 0);
	assert_string_equal(out, "a/..b/...");
	assert_int_equal(img_path_normalize("aaaaaaaaaa/bbbbbbbbbb", out, 8), -3);
}

static void test_digest(void **state)
{
	char d[DIGEST_LEN + 1];

	digest_buf("abc", 3, d);
	assert_string_equal(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	assert_true(digest_valid(d));
	assert_false(digest_valid("sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"));
	assert_false(digest_valid("sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
	assert_false(digest_valid("sha256:ba78"));
	assert_false(digest_valid("sha256:../../../../etc/passwd0000000000000000000000000000000000000"));
}

static void test_ref(void **state)
{
	char out[512];
	struct cell_err err;

	assert_int_equal(cell_image_ref_normalize("busybox", out, sizeof(out), &err), 0);
	assert_string_equal(out, "busybox:latest");
	assert_int_equal(cell_image_ref_normalize("127.0.0.1:5000/a/b", out, sizeof(out), &err), 0);
	assert_string_equal(out, "127.0.0.1:5000/a/b:latest");
	assert_int_equal(cell_image_ref_normalize("127.0.0.1:5000/a/b:v1", out, sizeof(out), &err), 0);
	assert_string_equal(out, "127.0.0.1:5000/a/b:v1");
	assert_int_equal(cell_image_ref_normalize("../x", out, sizeof(out), &err), -1);
	assert_int_equal(cell_image_ref_normalize("a/../x", out, sizeof(out), &err), -1);
	assert_int_equal(cell_image_ref_normalize("a b", out, sizeof(out), &err), -1);
	assert_int_equal(cell_image_ref_normalize("", out, sizeof(out), &err), -1);
}

static void test_index_pick(void **state)
{
	const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	const char *d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	json_t *idx = json_pack("{s:[{s:s,s:i,s:{s:s,s:s}},{s:s,s:i,s:{s:s,s:s}}]}", "manifests",
				"digest", d1, "size", 10, "platform", "os", "linux", "architecture", "arm64",
				"digest", d2, "size", 20, "platform", "os", "linux", "architecture", "amd64");
	struct cell_err err;
	struct desc d;

	assert_int_equal(index_pick(idx, "index", NULL, &d, &err), 0);
	assert_string_equal(d.digest, d2);
	assert_int_equal(d.size, 20);
	json_array_remove(json_object_get(idx, "manifests"), 1);
	assert_int_equal(index_pick(idx, "index", NULL, &d, &err), -1);
	assert_non_null(strstr(err.msg, "no linux/amd64 image (only linux/arm64)"));
	json_decref(idx);
}

/* A tar in a memfd with entries: {name, type, target} */
struct ent {
	const char *name;
	mode_t type;
	const char *target;          /* symlink or hard link target */
};

static int make_tar(const struct ent *e, size_t n)
{
	int fd = memfd_create("layer", MFD_CLOEXEC);
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	archive_write_open_fd(a, fd);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, 0644);
		if (e[i].type == AE_IFLNK)
			archive_entry_set_symlink(ae, e[i].target);
		else if (e[i].target)
			archive_entry_set_hardlink(ae, e[i].target);
		if (e[i].type == AE_IFREG && !e[i].target)
			archive_entry_set_size(ae, 2);
		archive_write_header(a, ae);
		if (e[i].type == AE_IFREG && !e[i].target)
			archive_write_data(a, "x\n", 2);
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
	return fd;
}

static int unpack(const struct ent *e, size_t n, char *dir, struct cell_err *err)
{
	int fd = make_tar(e, n), dfd, r;

	strcpy(dir, "/tmp/test_images.XXXXXX");
	assert_non_null(mkdtemp(dir));
	dfd = open(dir, O_DIRECTORY | O_RDONLY);
	r = img_layer_unpack(fd, dfd, "test", NULL, err);
	close(dfd);
	close(fd);
	return r;
}

static void cleanup_dir(const char *dir)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_unpack_kinds(void **state)
{
	const struct ent e[] = {
		{ "./a/", AE_IFDIR, NULL }, { "a/f", AE_IFREG, NULL }, { "a/h", AE_IFREG, "a/f" },
		{ "a/l", AE_IFLNK, "/etc/passwd" }, { "b/.wh.gone", AE_IFREG, NULL },
		{ "b/.wh..wh..opq", AE_IFREG, NULL },
	};
	struct cell_err err = { 0 };
	char dir[64], p[128];
	struct stat st, st2;

	assert_int_equal(unpack(e, CELL_ARRAY_SIZE(e), dir, &err), 0);
	snprintf(p, sizeof(p), "%s/a/f", dir);
	assert_int_equal(stat(p, &st), 0);
	snprintf(p, sizeof(p), "%s/a/h", dir);
	assert_int_equal(stat(p, &st2), 0);
	assert_int_equal(st.st_ino, st2.st_ino);
	/* the symlink is stored, never followed */
	snprintf(p, sizeof(p), "%s/a/l", dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	snprintf(p, sizeof(p), "%s/b/gone", dir);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode));
	assert_int_equal(st.st_rdev, 0);
	cleanup_dir(dir);
}

static void test_unpack_escapes(void **state)
{
	static const struct ent dotdot[] = { { "a/../../x", AE_IFREG, NULL } };
	static const struct ent abs[] = { { "/x", AE_IFREG, NULL } };
	static const struct ent sym[] = { { "l", AE_IFLNK, "/tmp" }, { "l/x", AE_IFREG, NULL } };
	static const struct ent hard[] = { { "h", AE_IFREG, "../../etc/passwd" } };
	static const struct ent hardsym[] = { { "l", AE_IFLNK, "/etc" }, { "h", AE_IFREG, "l/passwd" } };
	static const struct { const struct ent *e; size_t n; const char *msg; } cases[] = {
		{ dotdot, 1, "escapes the layer" }, { abs, 1, "absolute path" },
		{ sym, 2, "through the symlink l" }, { hard, 1, "escapes the layer" },
		{ hardsym, 2, "through the symlink l" },
	};

	for (size_t i = 0; i < CELL_ARRAY_SIZE(cases); i++) {
		struct cell_err err = { 0 };
		char dir[64];
		assert_int_equal(unpack(cases[i].e, cases[i].n, dir, &err), -1);
		if (!strstr(err.msg, cases[i].msg))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i].msg);
		cleanup_dir(dir);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_path_normalize),
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_ref),
		cmocka_unit_test(test_index_pick),
		cmocka_unit_test(test_unpack_kinds),
		cmocka_unit_test(test_unpack_escapes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
