/* The lifecycle commands: create, start, run, kill, delete. */
#define _GNU_SOURCE
#include "cli.h"
#include "../images/images.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char create_usage[] =
	"usage: cell create [options] ID\n\n"
	"Set a container up from a bundle; its process starts on `cell start ID`.\n\n"
	"  -b, --bundle DIR        bundle directory (default: .)\n"
	"      --pid-file FILE     write the init's pid to FILE\n"
	"      --console-socket S  unix socket that receives the terminal's master fd\n"
	"      --preserve-fds N    pass fds 3..3+N-1 to the process\n"
	"      --no-pivot          chroot instead of pivot_root (rootfs on ramfs)\n"
	"      --no-new-keyring    keep the caller's session keyring\n"
	"      --image REF         bundle from a stored image (overlay rootfs, no copy)\n"
	"      --store DIR         image store for --image and for microVM kernels unpacked\n"
	"                          from bzImages (default /var/lib/cell)\n";

static const char run_usage[] =
	"usage: cell run [options] ID\n\n"
	"Create and start a container, wait for its process, remove it, and exit\n"
	"with the process's status (128+N when killed by signal N).\n\n"
	"  -b, --bundle DIR        bundle directory (default: .)\n"
	"  -d, --detach            return once the process has started\n"
	"      --pid-file FILE     write the init's pid to FILE\n"
	"      --console-socket S  unix socket that receives the terminal's master fd\n"
	"      --preserve-fds N    pass fds 3..3+N-1 to the process\n"
	"      --no-pivot          chroot instead of pivot_root\n"
	"      --no-new-keyring    keep the caller's session keyring\n"
	"      --image REF         bundle from a stored image (overlay rootfs, no copy)\n"
	"      --store DIR         image store for --image and for microVM kernels unpacked\n"
	"                          from bzImages (default /var/lib/cell)\n";

static int parse_uint(const char *s, int *out)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (!*s || *end || v < 0 || v > INT_MAX - 3)
		return -1;
	*out = v;
	return 0;
}

/* microVMs: bzImages unpacked into the image store (runtime.h) */
static int vm_kernel(void *arg, int kernel_fd, const char *name, int *elf_fd, char **path, struct cell_err *err)
{
	return cell_image_kernel(arg ? arg : CELL_STORE_DEFAULT, kernel_fd, name, elf_fd, path, err);
}

struct image_opt {
	const char *ref, *store;
	char *bundle;                /* made from ref; released with the container */
};

/* create and run share their options; run adds --detach. */
static int parse_create(struct cli *g, int argc, char **argv, bool run, struct cell_create_opts *o,
			const char **id, struct image_opt *img)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "console-socket", required_argument, NULL, 'c' },
		{ "preserve-fds", required_argument, NULL, 'P' },
		{ "no-pivot", no_argument, NULL, 'n' },
		{ "no-new-keyring", no_argument, NULL, 'k' },
		{ "detach", no_argument, NULL, 'd' },
		{ "image", required_argument, NULL, 'i' },
		{ "store", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, run ? "b:dh" : "b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o->bundle = optarg; break;
		case 'p': o->pid_file = optarg; break;
		case 'c': o->console_socket = optarg; break;
		case 'P':
			if (parse_uint(optarg, &o->preserve_fds) < 0)
				return cli_usage_error(g, "--preserve-fds: \"%s\" is not a count", optarg);
			break;
		case 'n': o->no_pivot = true; break;
		case 'k': o->no_new_keyring = true; break;
		case 'i': img->ref = optarg; break;
		case 's': img->store = optarg; break;
		case 'd':
			if (!run)
				return cli_usage_error(g, "unknown option --detach");
			o->detach = true;
			break;
		case 'h': fputs(run ? run_usage : create_usage, stdout); return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(g, "expects exactly one container ID");
	*id = argv[optind];
	if (img->ref && o->bundle)
		return cli_usage_error(g, "--image and --bundle exclude each other");
	if (img->ref && cli_image_bundle(g, img->store, img->ref, *id, &img->bundle))
		return 1;
	o->bundle = img->bundle ? img->bundle : o->bundle;
	o->vm_kernel = vm_kernel;
	o->vm_kernel_arg = (void *)img->store;
	return -1;
}

int cmd_create(struct cli *g, int argc, char **argv)
{
	struct cell_create_opts o = { 0 };
	struct cell_err err = { 0 };
	struct image_opt img = { 0 };
	const char *id;
	int r = parse_create(g, argc, argv, false, &o, &id, &img);

	if (r >= 0)
		return r;
	r = cell_create(&g->ctx, id, &o, &err) < 0 ? cli_fail(g, &err) : 0;
	if (r)
		cli_image_release(img.bundle);
	free(img.bundle);
	return r;
}

int cmd_run(struct cli *g, int argc, char **argv)
{
	struct cell_create_opts o = { 0 };
	struct cell_err err = { 0 };
	struct image_opt img = { 0 };
	const char *id;
	int code = 0, r = parse_create(g, argc, argv, true, &o, &id, &img);

	if (r >= 0)
		return r;
	if (cell_run(&g->ctx, id, &o, &code, &err) < 0)
		code = cli_fail(g, &err);
	/* a detached container keeps its image bundle until delete */
	if (!o.detach || code)
		cli_image_release(img.bundle);
	free(img.bundle);
	return code;
}

/* Commands of the form `cell NAME [flags] ID`. */
static int parse_id(struct cli *g, int argc, char **argv, const char *usage,
		    const struct option *extra, const char *shortopts, int (*flag)(int c, void *), void *arg,
		    int min_args, int max_args)
{
	struct option opts[8] = { { "help", no_argument, NULL, 'h' } };
	char shorts[16];
	int c, n = 1;

	for (const struct option *e = extra; e && e->name && n < 7; e++)
		opts[n++] = *e;
	snprintf(shorts, sizeof(shorts), "h%s", shortopts ? shortopts : "");
	while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		if (c == '?' || !flag || flag(c, arg) < 0)
			return cli_usage_error(g, "bad option");
	}
	if (argc - optind < min_args || argc - optind > max_args)
		return cli_usage_error(g, "expects %s", min_args == max_args && min_args == 1
					  ? "exactly one container ID" : "a container ID");
	return -1;
}

int cmd_start(struct cli *g, int argc, char **argv)
{
	struct cell_err err = { 0 };
	int r = parse_id(g, argc, argv, "usage: cell start ID\n\nRun the process of a created container.\n",
			 NULL, NULL, NULL, NULL, 1, 1);

	if (r >= 0)
		return r;
	if (cell_start(&g->ctx, argv[optind], &err) < 0)
		return cli_fail(g, &err);
	return 0;
}

static int flag_bool(int c, void *arg)
{
	(void)c;
	*(bool *)arg = true;
	return 0;
}

int cmd_kill(struct cli *g, int argc, char **argv)
{
	static const struct option extra[] = { { "all", no_argument, NULL, 'a' }, { 0 } };
	struct cell_err err = { 0 };
	bool all = false;
	int sig = 15;
	int r = parse_id(g, argc, argv,
			 "usage: cell kill [--all] ID [SIGNAL]\n\n"
			 "Send SIGNAL (name like TERM or SIGTERM, or number; default TERM) to the\n"
			 "container's init, or with -a/--all to every process of the container.\n",
			 extra, "a", flag_bool, &all, 1, 2);

	if (r >= 0)
		return r;
	if (argc - optind == 2 && cell_signal_parse(argv[optind + 1], &sig) < 0)
		return cli_usage_error(g, "unknown signal \"%s\"", argv[optind + 1]);
	if (cell_kill(&g->ctx, argv[optind], sig, all, &err) < 0)
		return cli_fail(g, &err);
	return 0;
}

static int delete_and_release(struct cli *g, const char *id, bool force, const char *bundle);

int cmd_delete(struct cli *g, int argc, char **argv)
{
	static const struct option extra[] = { { "force", no_argument, NULL, 'f' }, { 0 } };
	json_t *st = NULL;
	const char *bundle = NULL;
	bool force = false;
	int r = parse_id(g, argc, argv,
			 "usage: cell delete [--force] ID\n\n"
			 "Remove a stopped (or created) container. -f/--force kills a running one\n"
			 "first and cleans up after an interrupted create.\n",
			 extra, "f", flag_bool, &force, 1, 1);

	if (r >= 0)
		return r;
	if (cell_state(&g->ctx, argv[optind], &st, &(struct cell_err){ 0 }) == 0)
		bundle = json_string_value(json_object_get(st, "bundle"));
	r = delete_and_release(g, argv[optind], force, bundle);
	json_decref(st);
	return r;
}

static int delete_and_release(struct cli *g, const char *id, bool force, const char *bundle)
{
	struct cell_err err = { 0 };

	if (cell_delete(&g->ctx, id, force, &err) < 0) {
		/* runc and containerd expect --force on a missing container to succeed */
		if (force && strstr(err.msg, "does not exist"))
			return 0;
		return cli_fail(g, &err);
	}
	/* a bundle `--image` made goes with its container */
	cli_image_release(bundle);
	return 0;
}
