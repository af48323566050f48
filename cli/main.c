/* cell's command line: global flags, the command table, help text. */
#define _GNU_SOURCE
#include "cli.h"
#include "../runtime/log.h"
#include "../runtime/spec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct cell_command commands[] = {
	{ "create", "create a container that waits for start", cmd_create, true },
	{ "start", "run the user process of a created container", cmd_start, false },
	{ "run", "create and start a container, wait for it, remove it", cmd_run, true },
	{ "state", "print the runtime-spec state of a container", cmd_state, false },
	{ "exec", "run a new process inside a running container", cmd_exec, true },
	{ "kill", "send a signal to a container's init (or all its processes)", cmd_kill, false },
	{ "delete", "remove a container and everything it holds", cmd_delete, false },
	{ "list", "list containers", cmd_list, false },
	{ "ps", "list the processes of a container", cmd_ps, false },
	{ "spec", "write a default config.json", cmd_spec, false },
	{ "features", "print the features this build supports (features.json)", cmd_features, false },
	{ "update", "change the resource limits of a running container", cmd_update, false },
	{ "pause", "freeze every process of a container", cmd_pause, false },
	{ "resume", "thaw a paused container", cmd_resume, false },
	{ "events", "print a container's stats and OOM events as JSON lines", cmd_events, false },
	{ "image", "import, list, inspect, remove and prune stored images", cmd_image, false },
	{ "bundle", "make a bundle (config.json + overlay rootfs) from a stored image", cmd_bundle, false },
	{ "pull", "fetch an image from a registry into the store", cmd_pull, false },
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: cell [global options] COMMAND [options] [ARGS]\n\n"
		"Runs containers (and, later, microVMs) from OCI bundles.\n\n"
		"Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out,
		"\nGlobal options:\n"
		"  --root DIR           state directory (default " CELL_DEFAULT_ROOT ",\n"
		"                       $XDG_RUNTIME_DIR/cell when not root)\n"
		"  --log FILE           write log lines to FILE\n"
		"  --log-format FMT     text (default) or json\n"
		"  --debug              log debug messages\n"
		"  --systemd-cgroup     not supported: cell manages cgroups itself\n"
		"  --cgroup-manager M   cgroupfs (default) or disabled (no cgroup, no limits)\n"
		"  -v, --version        print the version\n"
		"  -h, --help           this help; COMMAND --help for a command's\n");
}

static void version(void)
{
	printf("cell version %s\nspec: %s\n", CELL_VERSION, CELL_OCI_VERSION);
}

/* Root's state lives in /run/cell; another user's in its runtime dir. */
static const char *default_root(void)
{
	static char buf[4096];
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (geteuid() == 0)
		return CELL_DEFAULT_ROOT;
	if (xdg && *xdg)
		snprintf(buf, sizeof(buf), "%s/cell", xdg);
	else
		snprintf(buf, sizeof(buf), "/run/user/%u/cell", (unsigned)geteuid());
	return buf;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "systemd-cgroup", no_argument, NULL, 's' },
		{ "cgroup-manager", required_argument, NULL, 'C' },
		{ "rootless", required_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli g = { .ctx = { .root = default_root() } };
	const char *log_path = NULL, *log_format = NULL;
	bool debug = false, systemd = false;
	struct cell_err err = { 0 };
	int c, ret;

	/* '+': stop at the command; its own options are parsed after it */
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r': g.ctx.root = optarg; break;
		case 'l': log_path = optarg; break;
		case 'f': log_format = optarg; break;
		case 'd': debug = true; break;
		case 's': systemd = true; break;
		case 'C':
			if (!strcmp(optarg, "systemd"))
				systemd = true;
			else if (strcmp(optarg, "cgroupfs") && strcmp(optarg, "disabled")) {
				fprintf(stderr, "cell: --cgroup-manager: \"%s\" is not cgroupfs or disabled\n", optarg);
				return 2;
			}
			g.ctx.cgroup_manager = optarg;
			break;
		case 'R': break; /* runc's --rootless=auto: cell detects it */
		case 'v': version(); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	g.name = argv[optind];
	if (cell_log_open(log_path, log_format, debug, &err) < 0) {
		fprintf(stderr, "cell: %s\n", err.msg);
		return 1;
	}
	if (systemd) {
		cli_fail(&g, &(struct cell_err){ .msg = "--systemd-cgroup is not supported: "
							"cell manages cgroups itself" });
		return 1;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, g.name))
			continue;
		if (commands[i].enters_guest && cell_reexec_sealed(argv, &err) < 0) {
			cli_fail(&g, &err);
			return 1;
		}
		/* the command parses argv[optind..] with getopt from scratch */
		argc -= optind;
		argv += optind;
		optind = 0;
		ret = commands[i].fn(&g, argc, argv);
		cell_log_close();
		return ret;
	}
	fprintf(stderr, "cell: unknown command \"%s\"; see cell --help\n", g.name);
	return 2;
}
