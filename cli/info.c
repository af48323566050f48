/* The read-only commands (state, list, ps, features, spec) and output helpers. */
#define _GNU_SOURCE
#include "cli.h"
#include "../runtime/cleanup.h"
#include "../runtime/log.h"
#include "../runtime/spec.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(struct cli *g, const struct cell_err *err)
{
	fprintf(stderr, "cell: %s: %s\n", g->name, err->msg);
	cell_log(CELL_LOG_ERROR, "%s: %s", g->name, err->msg);
	return 1;
}

int cli_usage_error(struct cli *g, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "cell: %s: %s (see cell %s --help)\n", g->name, msg, g->name);
	cell_log(CELL_LOG_ERROR, "%s: %s", g->name, msg);
	return 2;
}

void cli_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s) {
		puts(s);
		free(s);
	}
}

/* --format table|json shared by list and ps */
static int parse_format(struct cli *g, int argc, char **argv, const char *usage, bool *json, bool *quiet,
			int nargs)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*json = false;
	while ((c = getopt_long(argc, argv, quiet ? "f:qh" : "f:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "json"))
				*json = true;
			else if (strcmp(optarg, "table"))
				return cli_usage_error(g, "--format: \"%s\" is not table or json", optarg);
			break;
		case 'q':
			if (!quiet)
				return cli_usage_error(g, "bad option");
			*quiet = true;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	if (argc - optind != nargs)
		return cli_usage_error(g, nargs ? "expects exactly one container ID" : "takes no arguments");
	return -1;
}

int cmd_state(struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	struct cell_err err = { 0 };
	json_t *st;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs("usage: cell state ID\n\nPrint the runtime-spec state of a container as JSON.\n", stdout);
			return 0;
		}
		return cli_usage_error(g, "bad option");
	}
	if (argc - optind != 1)
		return cli_usage_error(g, "expects exactly one container ID");
	if (cell_state(&g->ctx, argv[optind], &st, &err) < 0)
		return cli_fail(g, &err);
	cli_print_json(st);
	json_decref(st);
	return 0;
}

int cmd_list(struct cli *g, int argc, char **argv)
{
	struct cell_err err = { 0 };
	bool json, quiet = false;
	json_t *all, *s;
	size_t i, w = 2;
	int r = parse_format(g, argc, argv,
			     "usage: cell list [--format table|json] [--quiet]\n\nList containers.\n",
			     &json, &quiet, 0);

	if (r >= 0)
		return r;
	if (cell_list(&g->ctx, &all, &err) < 0)
		return cli_fail(g, &err);
	if (json) {
		cli_print_json(all);
	} else if (quiet) {
		json_array_foreach(all, i, s)
			puts(json_string_value(json_object_get(s, "id")));
	} else {
		json_array_foreach(all, i, s)
			if (strlen(json_string_value(json_object_get(s, "id"))) > w)
				w = strlen(json_string_value(json_object_get(s, "id")));
		printf("%-*s  %-8s  %-8s  %-30s  %-31s  %s\n", (int)w, "ID", "PID", "STATUS", "BUNDLE",
		       "CREATED", "OWNER");
		json_array_foreach(all, i, s)
			printf("%-*s  %-8lld  %-8s  %-30s  %-31s  %s\n", (int)w,
			       json_string_value(json_object_get(s, "id")),
			       (long long)json_integer_value(json_object_get(s, "pid")),
			       json_string_value(json_object_get(s, "status")),
			       json_string_value(json_object_get(s, "bundle")),
			       json_string_value(json_object_get(s, "created")),
			       json_string_value(json_object_get(s, "owner")));
	}
	json_decref(all);
	return 0;
}

/* One ps row from /proc: user, pid, ppid, state, command line. */
static void print_proc_row(pid_t pid)
{
	char path[64], stat[512], cmd[1024], *p;
	_cleanup_close_ int fd = -1;
	struct passwd *pw;
	uid_t uid = 0;
	int ppid = 0;
	char state = '?';
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "re"))) {
		if (fgets(stat, sizeof(stat), f) && (p = strrchr(stat, ')')))
			sscanf(p + 2, "%c %d", &state, &ppid);
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re"))) {
		char line[256];
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Uid: %u", &uid) == 1)
				break;
		fclose(f);
	}
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, cmd, sizeof(cmd) - 1) : -1;
	if (n <= 0)
		n = 0;
	cmd[n] = '\0';
	for (ssize_t i = 0; i + 1 < n; i++)
		if (!cmd[i])
			cmd[i] = ' ';
	pw = getpwuid(uid);
	printf("%-10s %-8d %-8d %-5c %s\n", pw ? pw->pw_name : "?", (int)pid, ppid, state, cmd);
}

int cmd_ps(struct cli *g, int argc, char **argv)
{
	struct cell_err err = { 0 };
	_cleanup_free_ pid_t *pids = NULL;
	size_t n = 0;
	bool json;
	int r = parse_format(g, argc, argv,
			     "usage: cell ps [--format table|json] ID\n\n"
			     "List the processes of a container (json: an array of host pids).\n",
			     &json, NULL, 1);

	if (r >= 0)
		return r;
	if (cell_ps(&g->ctx, argv[optind], &pids, &n, &err) < 0)
		return cli_fail(g, &err);
	if (json) {
		json_t *a = json_array();
		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, json_integer(pids[i]));
		cli_print_json(a);
		json_decref(a);
		return 0;
	}
	printf("%-10s %-8s %-8s %-5s %s\n", "USER", "PID", "PPID", "STAT", "COMMAND");
	for (size_t i = 0; i < n; i++)
		print_proc_row(pids[i]);
	return 0;
}

int cmd_features(struct cli *g, int argc, char **argv)
{
	json_t *f;

	(void)g;
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs("usage: cell features\n\nPrint features.json (runtime-spec) for this build.\n", stdout);
		return 0;
	}
	if (argc > 1)
		return cli_usage_error(g, "takes no arguments");
	f = cell_features();
	cli_print_json(f);
	json_decref(f);
	return 0;
}

int cmd_spec(struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "rootless", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *bundle = ".";
	_cleanup_free_ char *path = NULL, *text = NULL;
	struct cell_err err = { 0 };
	_cleanup_close_ int fd = -1;
	bool rootless = false;
	int c;

	while ((c = getopt_long(argc, argv, "b:h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': bundle = optarg; break;
		case 'r': rootless = true; break;
		case 'h':
			fputs("usage: cell spec [--bundle DIR] [--rootless]\n\n"
			      "Write a default config.json (as runc spec does) into DIR (default: .).\n"
			      "--rootless: for an unprivileged user, in a user namespace mapping\n"
			      "the caller's uid and gid to root.\n", stdout);
			return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	if (argc - optind != 0)
		return cli_usage_error(g, "takes no arguments");
	text = rootless ? cell_spec_default_rootless(geteuid(), getegid()) : cell_spec_default();
	if (!text || asprintf(&path, "%s/config.json", bundle) < 0) {
		cell_err_set(&err, ENOMEM, "spec");
		return cli_fail(g, &err);
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		cell_err_set(&err, errno, "%s", path);
		return cli_fail(g, &err);
	}
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || write(fd, "\n", 1) != 1) {
		cell_err_set(&err, errno, "write %s", path);
		unlink(path);
		return cli_fail(g, &err);
	}
	return 0;
}
