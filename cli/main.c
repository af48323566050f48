/* cell's command line: global flags, the command table, help text. */
#define _GNU_SOURCE
#include "cli.h"
#include "../runtime/log.h"
#include "../runtime/spec.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct cell_command commands[] = {
	{ "create", "create a container that waits for start", cmd_create },
	{ "start", "run the user process of a created container", cmd_start },
	{ "run", "create and start a container, wait for it, remove it", cmd_run },
	{ "state", "print the runtime-spec state of a container", cmd_state },
	{ "kill", "send a signal to a container's init (or all its processes)", cmd_kill },
	{ "delete", "remove a container and everything it holds", cmd_delete },
	{ "list", "list containers", cmd_list },
	{ "ps", "list the processes of a container", cmd_ps },
	{ "spec", "write a default config.json", cmd_spec },
	{ "features", "print the features this build supports (features.json)", cmd_features },
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
		"  --root DIR           state directory (default " CELL_DEFAULT_ROOT ")\n"
		"  --log FILE           write log lines to FILE\n"
		"  --log-format FMT     text (default) or json\n"
		"  --debug              log debug messages\n"
		"  --systemd-cgroup     not supported: cell manages cgroups itself\n"
		"  -v, --version        print the version\n"
		"  -h, --help           this help; COMMAND --help for a command's\n");
}

static void version(void)
{
	printf("cell version %s\nspec: %s\n", CELL_VERSION, CELL_OCI_VERSION);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "log-format", required_argument, NULL, 'f' },
		{ "debug", no_argument, NULL, 'd' },
		{ "systemd-cgroup", no_argument, NULL, 's' },
		{ "rootless", required_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cli g = { .ctx = { .root = CELL_DEFAULT_ROOT } };
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
