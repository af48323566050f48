/* The image commands: image import/ls/inspect/rm/prune, bundle, pull,
 * and the --image half of run and create. */
#define _GNU_SOURCE
#include "cli.h"
#include "../images/images.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct image_flags {
	const char *store;
	const char *name;
	bool quiet, json;
	long timeout;
};

/* One progress line on a terminal, redrawn at most every 100 ms. */
struct progress_line {
	struct timespec start, last;
	bool shown;
};

static double since(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

static void show_progress(void *arg, const struct cell_image_progress *p)
{
	struct progress_line *l = arg;
	struct timespec now;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!l->shown || p->bytes == 0) {
		l->start = now;
		l->last = (struct timespec){ 0 };
	} else if (since(&l->last, &now) < 0.1 && p->bytes != p->total) {
		return;
	}
	l->last = now;
	l->shown = true;
	secs = since(&l->start, &now);
	fprintf(stderr, "\r\033[K%s layer %u/%u  %.1f", p->phase, p->layer, p->layers, p->bytes / 1048576.0);
	if (p->total)
		fprintf(stderr, "/%.1f", p->total / 1048576.0);
	fprintf(stderr, " MiB  %.1f MiB/s", secs > 0 ? p->bytes / 1048576.0 / secs : 0.0);
}

static void end_progress(struct progress_line *l)
{
	if (l->shown)
		fputs("\r\033[K", stderr);
}

static const char *store_of(const struct image_flags *f)
{
	return f->store ? f->store : CELL_STORE_DEFAULT;
}

/* Options shared by the image commands; returns -1 to go on, else an exit status. */
static int parse_flags(struct cli *g, int argc, char **argv, const char *usage, struct image_flags *f,
		       bool named)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "name", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "format", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (c) {
		case 's': f->store = optarg; break;
		case 'n':
			if (!named)
				return cli_usage_error(g, "unknown option --name");
			f->name = optarg;
			break;
		case 'q': f->quiet = true; break;
		case 't':
			f->timeout = strtol(optarg, &end, 10);
			if (!named || *end || f->timeout <= 0 || f->timeout > 86400)
				return cli_usage_error(g, "--timeout: \"%s\" is not a number of seconds", optarg);
			break;
		case 'f':
			if (strcmp(optarg, "json") && strcmp(optarg, "table"))
				return cli_usage_error(g, "--format: \"%s\" is not table or json", optarg);
			f->json = !strcmp(optarg, "json");
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	return -1;
}

static void print_result(const struct image_flags *f, const struct cell_image_result *r)
{
	if (f->json) {
		json_t *j = json_pack("{s:s, s:s, s:i, s:i}", "name", r->name, "digest", r->digest, "layers",
				      (int)r->layers, "unpacked", (int)r->unpacked);
		cli_print_json(j);
		json_decref(j);
	} else if (!f->quiet) {
		printf("%s %s\n", r->name, r->digest);
	}
}

static const char import_usage[] =
	"usage: cell image import [options] PATH\n\n"
	"Import an OCI image layout directory, an OCI archive, a docker-archive\n"
	"(docker/podman save) or a plain rootfs tar (tar, tar.gz, tar.zst).\n\n"
	"      --name NAME[:TAG]  store the image under this name\n"
	"      --store DIR        image store (default " CELL_STORE_DEFAULT ")\n"
	"  -q, --quiet            no progress and no output\n"
	"      --format json      print the result as JSON\n";

static const char pull_usage[] =
	"usage: cell pull [options] HOST[:PORT]/NAME[:TAG|@DIGEST]\n\n"
	"Fetch an image from a registry over the OCI distribution API.\n\n"
	"      --name NAME[:TAG]  store the image under this name\n"
	"      --store DIR        image store (default " CELL_STORE_DEFAULT ")\n"
	"      --timeout SECS     give up after SECS without data (default 60)\n"
	"  -q, --quiet            no progress and no output\n"
	"      --format json      print the result as JSON\n";

static int fetch_cmd(struct cli *g, int argc, char **argv, bool pull)
{
	struct image_flags f = { 0 };
	struct progress_line line = { 0 };
	struct cell_image_opts o = { 0 };
	struct cell_image_result r = { 0 };
	struct cell_err err = { 0 };
	int ret = parse_flags(g, argc, argv, pull ? pull_usage : import_usage, &f, true);

	if (ret >= 0)
		return ret;
	if (argc - optind != 1)
		return cli_usage_error(g, "expects exactly one %s", pull ? "image reference" : "PATH");
	o.name = f.name;
	o.timeout = f.timeout;
	if (!f.quiet && !f.json && isatty(STDERR_FILENO)) {
		o.progress = show_progress;
		o.progress_arg = &line;
	}
	ret = pull ? cell_image_pull(store_of(&f), argv[optind], &o, &r, &err)
		   : cell_image_import(store_of(&f), argv[optind], &o, &r, &err);
	end_progress(&line);
	if (ret < 0)
		return cli_fail(g, &err);
	print_result(&f, &r);
	return 0;
}

int cmd_pull(struct cli *g, int argc, char **argv)
{
	return fetch_cmd(g, argc, argv, true);
}

static void human_size(int64_t n, char *out, size_t len)
{
	if (n >= 1 << 20)
		snprintf(out, len, "%.1f MB", n / 1e6);
	else
		snprintf(out, len, "%.1f kB", n / 1e3);
}

static int image_ls(struct cli *g, int argc, char **argv)
{
	struct image_flags f = { 0 };
	struct cell_err err = { 0 };
	json_t *list, *v;
	size_t i;
	int ret = parse_flags(g, argc, argv,
			      "usage: cell image ls [--store DIR] [-q] [--format json]\n\n"
			      "List stored images (-q: names only).\n", &f, false);

	if (ret >= 0)
		return ret;
	if (argc != optind)
		return cli_usage_error(g, "takes no arguments");
	if (cell_image_list(store_of(&f), &list, &err) < 0)
		return cli_fail(g, &err);
	if (f.json) {
		cli_print_json(list);
	} else {
		if (!f.quiet)
			printf("%-40s %-19s %-7s %-10s %s\n", "NAME", "DIGEST", "LAYERS", "SIZE", "CREATED");
		json_array_foreach(list, i, v) {
			char size[32];
			if (f.quiet) {
				printf("%s\n", json_string_value(json_object_get(v, "name")));
				continue;
			}
			human_size(json_integer_value(json_object_get(v, "size")), size, sizeof(size));
			printf("%-40s %-19.19s %-7" JSON_INTEGER_FORMAT " %-10s %s\n",
			       json_string_value(json_object_get(v, "name")),
			       json_string_value(json_object_get(v, "digest")),
			       json_integer_value(json_object_get(v, "layers")), size,
			       json_string_value(json_object_get(v, "created")));
		}
	}
	json_decref(list);
	return 0;
}

static int image_ref_cmd(struct cli *g, int argc, char **argv, bool rm)
{
	struct image_flags f = { 0 };
	struct cell_err err = { 0 };
	json_t *out;
	int ret = parse_flags(g, argc, argv,
			      rm ? "usage: cell image rm [--store DIR] REF...\n\n"
				   "Remove images (NAME[:TAG], sha256:DIGEST or a digest prefix); layers\n"
				   "another image or a bundle uses stay.\n"
				 : "usage: cell image inspect [--store DIR] REF\n\n"
				   "Print an image's names, digest, manifest, config and layers as JSON.\n",
			      &f, false);

	if (ret >= 0)
		return ret;
	if (argc - optind < 1 || (!rm && argc - optind != 1))
		return cli_usage_error(g, "expects %s", rm ? "image references" : "exactly one image reference");
	if (!rm) {
		if (cell_image_inspect(store_of(&f), argv[optind], &out, &err) < 0)
			return cli_fail(g, &err);
		cli_print_json(out);
		json_decref(out);
		return 0;
	}
	for (int i = optind; i < argc; i++)
		if (cell_image_remove(store_of(&f), argv[i], &err) < 0)
			return cli_fail(g, &err);
	return 0;
}

static int image_prune(struct cli *g, int argc, char **argv)
{
	struct image_flags f = { 0 };
	struct cell_err err = { 0 };
	unsigned n = 0;
	int ret = parse_flags(g, argc, argv,
			      "usage: cell image prune [--store DIR] [-q]\n\n"
			      "Remove blobs, layers and bundle records no image or live bundle uses,\n"
			      "and what interrupted imports left.\n", &f, false);

	if (ret >= 0)
		return ret;
	if (argc != optind)
		return cli_usage_error(g, "takes no arguments");
	if (cell_image_prune(store_of(&f), &n, &err) < 0)
		return cli_fail(g, &err);
	if (!f.quiet)
		printf("removed %u items\n", n);
	return 0;
}

static int image_import(struct cli *g, int argc, char **argv)
{
	return fetch_cmd(g, argc, argv, false);
}

static int image_inspect(struct cli *g, int argc, char **argv)
{
	return image_ref_cmd(g, argc, argv, false);
}

static int image_rm(struct cli *g, int argc, char **argv)
{
	return image_ref_cmd(g, argc, argv, true);
}

static const char image_usage[] =
	"usage: cell image COMMAND [options] [ARGS]\n\n"
	"  import PATH   import an OCI layout, OCI archive, docker-archive or rootfs tar\n"
	"  ls            list stored images\n"
	"  inspect REF   an image's manifest, config and layers as JSON\n"
	"  rm REF...     remove images\n"
	"  prune         remove what no image uses\n\n"
	"Each takes --store DIR (default " CELL_STORE_DEFAULT ").\n";

int cmd_image(struct cli *g, int argc, char **argv)
{
	static const struct { const char *name; int (*fn)(struct cli *, int, char **); } sub[] = {
		{ "import", image_import }, { "ls", image_ls }, { "list", image_ls },
		{ "inspect", image_inspect }, { "rm", image_rm }, { "remove", image_rm },
		{ "prune", image_prune },
	};
	const char *name = argc > 1 ? argv[1] : NULL;

	if (!name || !strcmp(name, "--help") || !strcmp(name, "-h")) {
		fputs(image_usage, name ? stdout : stderr);
		return name ? 0 : 2;
	}
	/* messages read "cell: image: ..." as the bad-input tests expect */
	argc--;
	argv++;
	optind = 0;
	for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++)
		if (!strcmp(name, sub[i].name))
			return sub[i].fn(g, argc, argv);
	return cli_usage_error(g, "unknown image command \"%s\"", name);
}

int cmd_bundle(struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "release", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *store = CELL_STORE_DEFAULT;
	struct cell_err err = { 0 };
	bool release = false;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': store = optarg; break;
		case 'r': release = true; break;
		case 'h':
			fputs("usage: cell bundle [--store DIR] REF DIR\n"
			      "       cell bundle --release DIR\n\n"
			      "Make DIR a bundle of a stored image: config.json from the image config,\n"
			      "rootfs an overlayfs of its layers with a writable layer of its own.\n"
			      "--release unmounts it and removes what the bundle made.\n", stdout);
			return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	if (argc - optind != (release ? 1 : 2))
		return cli_usage_error(g, release ? "--release expects DIR" : "expects REF and DIR");
	if (release ? cell_image_bundle_release(argv[optind], false, &err)
		    : cell_image_bundle(store, argv[optind], argv[optind + 1], &err))
		return cli_fail(g, &err);
	return 0;
}

int cli_image_bundle(struct cli *g, const char *store, const char *ref, const char *id, char **dir)
{
	struct cell_err err = { 0 };

	if (cell_image_bundle_temp(store ? store : CELL_STORE_DEFAULT, ref, id, dir, &err) < 0)
		return cli_fail(g, &err);
	return 0;
}

void cli_image_release(const char *bundle)
{
	if (bundle)
		cell_image_bundle_release(bundle, true, &(struct cell_err){ 0 });
}
