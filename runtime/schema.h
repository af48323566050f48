/* Table-driven type checking of JSON documents (config.json, state, process.json). */
#ifndef CELL_SCHEMA_H
#define CELL_SCHEMA_H

#include <stdbool.h>
#include <jansson.h>

#include "err.h"

enum cell_jkind {
	CELL_J_ANY, CELL_J_STR, CELL_J_BOOL,
	CELL_J_INT,      /* any integer */
	CELL_J_UINT,     /* integer >= 0 */
	CELL_J_U32,      /* 0 .. UINT32_MAX */
	CELL_J_OBJ,      /* sub: the fields */
	CELL_J_ARR,      /* sub: one element descriptor (key NULL) */
	CELL_J_STRMAP,   /* object whose values are all strings */
	CELL_J_OBJMAP,   /* object whose values all match sub (an OBJ descriptor) */
};

struct cell_jfield {
	const char *key;
	enum cell_jkind kind;
	const struct cell_jfield *sub;
	bool required;
};

/* Check `v` against a field descriptor. `path` is the dotted path of v
 * used in messages ("linux.resources"); "" for the document root.
 * JSON null counts as absent. */
int cell_schema_check(const json_t *v, const struct cell_jfield *f, const char *path,
		      struct cell_err *err);

/* The runtime-spec config.json, as a root descriptor. */
extern const struct cell_jfield cell_schema_config;
/* A runtime-spec process object (cell exec --process). */
extern const struct cell_jfield cell_schema_process;

#endif
