/* Logging for --log/--log-format/--debug: text (logfmt) or JSON lines
 * with msg, level and time, as containerd and podman read them. */
#ifndef CELL_LOG_H
#define CELL_LOG_H

#include <stdbool.h>

#include "err.h"

enum cell_log_level { CELL_LOG_DEBUG, CELL_LOG_INFO, CELL_LOG_WARN, CELL_LOG_ERROR };

int cell_log_open(const char *path, const char *format, bool debug, struct cell_err *err);
void cell_log_close(void);
/* Whether --debug is on. */
bool cell_log_debug_enabled(void);
void cell_log(enum cell_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define cell_debug(...) cell_log(CELL_LOG_DEBUG, __VA_ARGS__)
#define cell_warn(...)  cell_log(CELL_LOG_WARN, __VA_ARGS__)

#endif
