/* The commands on a running guest's cgroup: update, pause, resume, events. */
#define _GNU_SOURCE
#include "cli.h"
#include "../runtime/cleanup.h"
#include "../runtime/events.h"
#include "../runtime/util.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char update_usage[] =
	"usage: cell update [options] ID\n\n"
	"Change the resource limits of a running container. --resources takes a\n"
	"linux.resources object (JSON, - for stdin); the flags set single values\n"
	"and win over it. Sizes take k, m, g suffixes (binary); -1 = unlimited.\n\n"
	"  -r, --resources FILE       linux.resources JSON\n"
	"      --memory N             memory.limit\n"
	"      --memory-swap N        memory.swap (memory + swap)\n"
	"      --memory-reservation N memory.reservation\n"
	"      --cpu-quota N          cpu.quota (microseconds per period)\n"
	"      --cpu-period N         cpu.period (microseconds)\n"
	"      --cpu-share N          cpu.shares\n"
	"      --cpuset-cpus L        cpu.cpus, e.g. 0-1\n"
	"      --cpuset-mems L        cpu.mems\n"
	"      --pids-limit N         pids.limit\n"
	"      --blkio-weight N       blockIO.weight\n";

/* "64m", "1g", "-1", "4096" */
static int parse_size(const char *s, json_int_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (tolower((unsigned char)*end)) {
	case 'k': v <<= 10; end++; break;
	case 'm': v <<= 20; end++; break;
	case 'g': v <<= 30; end++; break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || (v < 0 && v != -1))
		return -1;
	*out = v;
	return 0;
}

/* set res.obj.key, creating obj */
static void res_set(json_t *res, const char *obj, const char *key, json_t *v)
{
	json_t *o = json_object_get(res, obj);

	if (!json_is_object(o)) {
		o = json_object();
		json_object_set_new(res, obj, o);
	}
	json_object_set_new(o, key, v);
}

static const struct update_flag {
	const char *name, *obj, *key;
	bool string;
} update_flags[] = {
	{ "memory", "memory", "limit", false },
	{ "memory-swap", "memory", "swap", false },
	{ "memory-reservation", "memory", "reservation", false },
	{ "cpu-quota", "cpu", "quota", false },
	{ "cpu-period", "cpu", "period", false },
	{ "cpu-share", "cpu", "shares", false },
	{ "cpuset-cpus", "cpu", "cpus", true },
	{ "cpuset-mems", "cpu", "mems", true },
	{ "pids-limit", "pids", "limit", false },
	{ "blkio-weight", "blockIO", "weight", false },
};

static json_t *load_resources(struct cli *g, const char *file, struct cell_err *err)
{
	json_error_t jerr;
	json_t *v = !strcmp(file, "-") ? json_loadf(stdin, 0, &jerr) : json_load_file(file, 0, &jerr);

	if (!v) {
		cell_err_set(err, 0, "--resources %s: %s (line %d)", file, jerr.text, jerr.line);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		cell_err_set(err, 0, "--resources %s: not a JSON object", file);
		return NULL;
	}
	return v;
}

int cmd_update(struct cli *g, int argc, char **argv)
{
	struct option opts[CELL_ARRAY_SIZE(update_flags) + 3] = {
		{ "resources", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct cell_err err = { 0 };
	json_t *res = json_object(), *flags = json_object();
	const char *file = NULL, *key;
	json_t *v;
	char where[4200] = "resources";
	int c, idx, ret;

	for (size_t i = 0; i < CELL_ARRAY_SIZE(update_flags); i++)
		opts[i + 2] = (struct option){ update_flags[i].name, required_argument, NULL, 1000 + (int)i };
	while ((c = getopt_long(argc, argv, "r:h", opts, &idx)) != -1) {
		if (c == 'h') {
			fputs(update_usage, stdout);
			ret = 0;
			goto out;
		} else if (c == 'r') {
			file = optarg;
		} else if (c >= 1000) {
			const struct update_flag *f = &update_flags[c - 1000];
			json_int_t n;
			if (f->string) {
				res_set(flags, f->obj, f->key, json_string(optarg));
			} else if (parse_size(optarg, &n) < 0) {
				ret = cli_usage_error(g, "--%s: \"%s\" is not a number", f->name, optarg);
				goto out;
			} else {
				res_set(flags, f->obj, f->key, json_integer(n));
			}
		} else {
			ret = cli_usage_error(g, "bad option");
			goto out;
		}
	}
	if (argc - optind != 1) {
		ret = cli_usage_error(g, "expects exactly one container ID");
		goto out;
	}
	if (file) {
		json_decref(res);
		if (!(res = load_resources(g, file, &err))) {
			ret = cli_fail(g, &err);
			goto out;
		}
		snprintf(where, sizeof(where), "--resources %s", file);
	}
	json_object_foreach(flags, key, v) {
		json_t *o = json_object_get(res, key);
		if (json_is_object(o))
			json_object_update(o, v);
		else
			json_object_set(res, key, v);
	}
	ret = cell_update(&g->ctx, argv[optind], res, where, &err) < 0 ? cli_fail(g, &err) : 0;
out:
	json_decref(flags);
	json_decref(res);
	return ret;
}

static int one_id(struct cli *g, int argc, char **argv, const char *usage)
{
	static const struct option opts[] = { { "help", no_argument, NULL, 'h' }, { 0 } };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(usage, stdout);
			return 0;
		}
		return cli_usage_error(g, "bad option");
	}
	if (argc - optind != 1)
		return cli_usage_error(g, "expects exactly one container ID");
	return -1;
}

int cmd_pause(struct cli *g, int argc, char **argv)
{
	struct cell_err err = { 0 };
	int r = one_id(g, argc, argv, "usage: cell pause ID\n\nFreeze every process of a running container.\n");

	if (r >= 0)
		return r;
	return cell_pause(&g->ctx, argv[optind], &err) < 0 ? cli_fail(g, &err) : 0;
}

int cmd_resume(struct cli *g, int argc, char **argv)
{
	struct cell_err err = { 0 };
	int r = one_id(g, argc, argv, "usage: cell resume ID\n\nThaw the processes of a paused container.\n");

	if (r >= 0)
		return r;
	return cell_resume(&g->ctx, argv[optind], &err) < 0 ? cli_fail(g, &err) : 0;
}

/* Go-style durations as runc takes them: "5s", "250ms", "1m", "1.5s"; a
 * bare number is seconds. */
static int parse_duration(const char *s, unsigned *ms)
{
	static const struct { const char *unit; double ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 }, { "", 1000 },
	};
	char *end;
	double v = strtod(s, &end);

	if (end == s || v <= 0)
		return -1;
	for (size_t i = 0; i < CELL_ARRAY_SIZE(units); i++) {
		if (!strcmp(end, units[i].unit)) {
			double r = v * units[i].ms;
			if (r < 1 || r > 86400000.0)
				return -1;
			*ms = (unsigned)r;
			return 0;
		}
	}
	return -1;
}

static int print_event(void *arg, json_t *ev)
{
	(void)arg;
	if (json_dumpf(ev, stdout, JSON_COMPACT) < 0 || putchar('\n') == EOF || fflush(stdout) == EOF)
		return -1;
	return 0;
}

int cmd_events(struct cli *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stats", no_argument, NULL, 's' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct cell_events_opts o = { 0 };
	struct cell_err err = { 0 };
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': o.stats_only = true; break;
		case 'i':
			if (parse_duration(optarg, &o.interval_ms) < 0)
				return cli_usage_error(g, "--interval: \"%s\" is not a duration like 5s or 250ms", optarg);
			break;
		case 'h':
			fputs("usage: cell events [--stats] [--interval D] ID\n\n"
			      "Print the container's events as JSON lines (runc's format) until it\n"
			      "exits: resource stats every interval (default 5s) and OOM kills as\n"
			      "they happen. --stats prints one stats event and returns.\n", stdout);
			return 0;
		default: return cli_usage_error(g, "bad option");
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(g, "expects exactly one container ID");
	if (cell_events(&g->ctx, argv[optind], &o, print_event, NULL, &err) < 0)
		return cli_fail(g, &err);
	return 0;
}
