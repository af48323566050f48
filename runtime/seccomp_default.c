/* The default seccomp profile, kept as data in runtime/seccomp-default.json
 * and linked into the binary as it is: an allow-list of the system calls
 * ordinary programs use; namespaces, mounts, modules, keyrings, kexec,
 * clocks, swap, reboot and the like are denied (EPERM). */
#include "spec.h"

__asm__(".section .rodata\n"
	".global cell_seccomp_default_json\n"
	".type cell_seccomp_default_json, @object\n"
	"cell_seccomp_default_json:\n"
	".incbin \"runtime/seccomp-default.json\"\n"
	".byte 0\n"
	".size cell_seccomp_default_json, . - cell_seccomp_default_json\n"
	".previous\n");
