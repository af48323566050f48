/* libFuzzer harness for the config.json parser and validator: any bytes in,
 * a spec or an error out; never a crash, a leak or an unterminated message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/spec.h"

/* Invariants a caller relies on; abort() makes libFuzzer keep the input. */
static void check_spec(const struct cell_spec *s)
{
	if (!s->oci_version || !s->annotations || !json_is_object(s->annotations) || !s->doc)
		abort();
	/* a container always has what isolate/ will dereference */
	if (!s->vm && (!s->root_path || !s->process.cwd || s->process.cwd[0] != '/' ||
		       !s->process.args || !s->process.args[0] || !s->process.env ||
		       !s->has_ns[CELL_NS_MNT]))
		abort();
	for (size_t i = 0; i < s->n_mounts; i++) {
		const struct cell_mount *m = &s->mounts[i];
		if (!m->destination || m->destination[0] != '/' || (!m->type && !m->bind) ||
		    (m->bind && !m->source))
			abort();
	}
	for (int k = 0; k < CELL_HOOK__COUNT; k++)
		for (size_t i = 0; i < s->hooks.n[k]; i++)
			if (!s->hooks.v[k][i].path || s->hooks.v[k][i].path[0] != '/')
				abort();
	for (size_t i = 0; i < s->process.n_rlimits; i++)
		if (s->process.rlimits[i].soft > s->process.rlimits[i].hard)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cell_spec *spec = NULL;
	struct cell_err err;

	memset(&err, 0xa5, sizeof(err));    /* a message must be written, not left over */
	if (cell_spec_parse((const char *)data, size, "config.json", NULL, &spec, &err) == 0) {
		check_spec(spec);
		cell_spec_free(spec);
		return 0;
	}
	if (spec || strnlen(err.msg, sizeof(err.msg)) == sizeof(err.msg) ||
	    strncmp(err.msg, "config.json: ", 13))
		abort();
	return 0;
}
