/* cell exec [options] ID [COMMAND [ARG...]] */
#define _GNU_SOURCE
#include "cli.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char exec_usage[] =
	"usage: cell exec [options] ID [COMMAND [ARG...]]\n\n"
	"Run a process inside a running container: it joins the container's\n"
	"namespaces and takes its capabilities, seccomp filter, rlimits and\n"
	"no_new_privs unless overridden. Exits with the process's status.\n\n"
	"  -p, --process FILE      the process as runtime-spec JSON (instead of COMMAND)\n"
	"  -d, --detach            return once the process has started\n"
	"  -t, --tty               give the process a terminal\n"
	"      --console-socket S  unix socket that receives the terminal's master fd\n"
	"      --pid-file FILE     write the process's pid to FILE\n"
	"      --cwd DIR           working directory in the container\n"
	"  -e, --env K=V           set an environment variable (repeatable)\n"
	"  -u, --user UID[:GID]    run as this user\n"
	"  -c, --cap CAP           add a capability (repeatable)\n"
	"      --no-new-privs      set no_new_privs\n"
	"      --preserve-fds N    pass fds 3..3+N-1 to the process\n";

/* Append to a NULL-terminated list; the strings are argv's. */
static int push(char ***list, size_t *n, char *s)
{
	char **nl = realloc(*list, (*n + 2) * sizeof(char *));

	if (!nl)
		return -1;
	nl[(*n)++] = s;
	nl[*n] = NULL;
	*list = nl;
	return 0;
}

int cmd_exec(struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "process", required_argument, NULL, 'p' },
		{ "detach", no_argument, NULL, 'd' },
		{ "tty", no_argument, NULL, 't' },
		{ "console-socket", required_argument, NULL, 'C' },
		{ "pid-file", required_argument, NULL, 'P' },
		{ "cwd", required_argument, NULL, 'w' },
		{ "env", required_argument, NULL, 'e' },
		{ "user", required_argument, NULL, 'u' },
		{ "cap", required_argument, NULL, 'c' },
		{ "no-new-privs", no_argument, NULL, 'n' },
		{ "preserve-fds", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cell_exec_opts o = { 0 };
	struct cell_err err = { 0 };
	size_t nenv = 0, ncap = 0;
	int c, code = 0, ret;
	char *end;

	/* '+': options end at the container id; what follows is the command */
	while ((c = getopt_long(argc, argv, "+p:dtu:e:c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p': o.process_file = optarg; break;
		case 'd': o.detach = true; break;
		case 't': o.tty = true; break;
		case 'C': o.console_socket = optarg; break;
		case 'P': o.pid_file = optarg; break;
		case 'w': o.cwd = optarg; break;
		case 'u': o.user = optarg; break;
		case 'n': o.no_new_privs = true; break;
		case 'e':
			if (!strchr(optarg, '=') || *optarg == '=')
				return cli_usage_error(g, "--env: \"%s\" is not K=V", optarg);
			if (push(&o.env, &nenv, optarg) < 0)
				return cli_usage_error(g, "out of memory");
			break;
		case 'c':
			if (push(&o.caps, &ncap, optarg) < 0)
				return cli_usage_error(g, "out of memory");
			break;
		case 'F':
			o.preserve_fds = strtol(optarg, &end, 10);
			if (!*optarg || *end || o.preserve_fds < 0 || o.preserve_fds > INT_MAX - 3)
				return cli_usage_error(g, "--preserve-fds: \"%s\" is not a count", optarg);
			break;
		case 'h': fputs(exec_usage, stdout); return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	if (optind >= argc)
		return cli_usage_error(g, "expects a container ID");
	if (o.process_file && optind + 1 < argc)
		return cli_usage_error(g, "--process and a COMMAND exclude each other");
	o.args = argv + optind + 1;
	ret = cell_exec(&g->ctx, argv[optind], &o, &code, &err);
	free(o.env);
	free(o.caps);
	if (ret < 0)
		return cli_fail(g, &err);
	return code;
}
