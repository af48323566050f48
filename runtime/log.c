/* The log sink: a file (or stderr) in text or JSON-lines form. */
#define _GNU_SOURCE
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>

static int log_fd = -1;
static bool log_json;
static bool log_debug;

static const char *const level_names[] = { "debug", "info", "warning", "error" };

int cell_log_open(const char *path, const char *format, bool debug, struct cell_err *err)
{
	log_debug = debug;
	if (format && strcmp(format, "text") && strcmp(format, "json"))
		return cell_err_set(err, 0, "--log-format: unknown format \"%s\" (text or json)", format);
	log_json = format && !strcmp(format, "json");
	if (!path || !*path)
		return 0;
	log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log_fd < 0)
		return cell_err_set(err, errno, "--log %s", path);
	return 0;
}

bool cell_log_debug_enabled(void)
{
	return log_debug;
}

void cell_log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
}

void cell_log(enum cell_log_level level, const char *fmt, ...)
{
	char msg[2048], when[48];
	char *line = NULL;
	va_list ap;
	int fd = log_fd;

	if (level == CELL_LOG_DEBUG && !log_debug)
		return;
	/* without --log, only debug and warnings reach stderr; errors are printed by cli/ */
	if (fd < 0) {
		if (level == CELL_LOG_ERROR)
			return;
		fd = STDERR_FILENO;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cell_time_rfc3339(when, sizeof(when));
	if (log_json) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", level_names[level], "msg", msg,
				      "time", when);
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (text && asprintf(&line, "%s\n", text) < 0)
			line = NULL;
		free(text);
	} else {
		json_t *quoted = json_string(msg);
		char *q = quoted ? json_dumps(quoted, JSON_ENCODE_ANY) : NULL;
		json_decref(quoted);
		if (q && asprintf(&line, "time=\"%s\" level=%s msg=%s\n", when, level_names[level], q) < 0)
			line = NULL;
		free(q);
	}
	if (line) {
		cell_write_all(fd, line, strlen(line));
		free(line);
	}
}
