/* process.capabilities through libcap: the bounding set is cut before the
 * uid changes (keeping caps across it), the other four sets after. */
#define _GNU_SOURCE
#include "internal.h"
#include "../runtime/log.h"

#include <errno.h>
#include <stdio.h>
#include <sys/capability.h>
#include <sys/prctl.h>

static int last_cap(void)
{
	static int last = -1;
	FILE *f;

	if (last >= 0)
		return last;
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (!f || fscanf(f, "%d", &last) != 1)
		last = cap_max_bits() - 1;
	if (f)
		fclose(f);
	return last;
}

/* Capabilities of one set as a bitmask; names the kernel does not know
 * (newer than it) are left out, as runc does. */
static uint64_t cap_mask(char **names)
{
	uint64_t m = 0;
	cap_value_t v;

	for (char **n = names; n && *n; n++) {
		if (cap_from_name(*n, &v) < 0)
			continue; /* validated at parse time */
		if (v > last_cap()) {
			cell_debug("capability %s unknown to this kernel: skipped", *n);
			continue;
		}
		m |= 1ULL << v;
	}
	return m;
}

int caps_before_user(const struct cell_process *p, struct cell_err *err)
{
	uint64_t bounding;

	if (!p->has_capabilities)
		return 0;
	bounding = cap_mask(p->capabilities[CELL_CAP_BOUNDING]);
	for (int c = 0; c <= last_cap(); c++)
		if (!(bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return cell_err_set(err, errno, "process.capabilities.bounding: drop %s", cap_to_name(c));
	/* setuid away from 0 would clear the permitted set otherwise */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return cell_err_set(err, errno, "prctl(PR_SET_KEEPCAPS)");
	return 0;
}

int caps_after_user(const struct cell_process *p, struct cell_err *err)
{
	static const struct { enum cell_cap_set set; cap_flag_t flag; } sets[] = {
		{ CELL_CAP_EFFECTIVE, CAP_EFFECTIVE }, { CELL_CAP_PERMITTED, CAP_PERMITTED },
		{ CELL_CAP_INHERITABLE, CAP_INHERITABLE },
	};
	uint64_t ambient, allowed;
	cap_t caps;
	int r;

	if (!p->has_capabilities)
		return 0;
	caps = cap_init();
	if (!caps)
		return cell_err_set(err, errno, "process.capabilities");
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		uint64_t m = cap_mask(p->capabilities[sets[i].set]);
		for (int c = 0; c <= last_cap(); c++) {
			cap_value_t v = c;
			if ((m & (1ULL << c)) && cap_set_flag(caps, sets[i].flag, 1, &v, CAP_SET) < 0) {
				cap_free(caps);
				return cell_err_set(err, errno, "process.capabilities");
			}
		}
	}
	r = cap_set_proc(caps);
	cap_free(caps);
	if (r < 0)
		return cell_err_set(err, errno, "process.capabilities: set effective, permitted, inheritable");
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	/* the kernel allows an ambient cap only if permitted and inheritable */
	ambient = cap_mask(p->capabilities[CELL_CAP_AMBIENT]);
	allowed = cap_mask(p->capabilities[CELL_CAP_PERMITTED]) & cap_mask(p->capabilities[CELL_CAP_INHERITABLE]);
	for (int c = 0; c <= last_cap(); c++) {
		if (!(ambient & (1ULL << c)))
			continue;
		if (!(allowed & (1ULL << c))) {
			cell_debug("ambient %s is not permitted and inheritable: skipped", cap_to_name(c));
			continue;
		}
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
			return cell_err_set(err, errno, "process.capabilities.ambient: raise %s", cap_to_name(c));
	}
	return 0;
}
