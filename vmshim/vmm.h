/* vmshim/: cell's virtual machine monitor on the KVM API (x86-64).
 *
 * The public contract runtime/ uses.  A microVM is one VMM process: the
 * runtime confines it like a container (isolate/), places it in the
 * guest's cgroup, and inside that confinement calls vmm_prepare() during
 * `cell create` (VM built, kernel loaded, vCPUs created but not running)
 * and vmm_run() at `cell start`. */
#ifndef CELL_VMM_H
#define CELL_VMM_H

#include <stdbool.h>
#include <stdint.h>

#include "../runtime/err.h"

struct vmm;

struct vmm_config {
	const char *kvm_path;      /* "/dev/kvm" */
	int kernel_fd;             /* bzImage, or an ELF vmlinux with a PVH note */
	const char *kernel_name;   /* for messages, e.g. "vm.kernel.path" */
	int initrd_fd;             /* -1: none */
	const char *cmdline;       /* kernel command line ("" for none) */
	unsigned vcpus;            /* 1 .. VMM_MAX_VCPUS */
	uint64_t mem_bytes;        /* guest RAM, a multiple of 2 MiB, >= 16 MiB */
	bool hugepages;            /* back RAM with hugetlb pages (MFD_HUGETLB) */
	/* A directory on a tmpfs mounted with huge=within_size (or always):
	 * RAM is then an unlinked file there, which the kernel backs with
	 * transparent huge pages, so KVM maps guest memory 2 MiB at a time.
	 * NULL, or a directory where that fails: a plain memfd (4 KiB pages,
	 * unless shmem_enabled says otherwise).  Either way one shmem file. */
	const char *mem_dir;
	int console_in;            /* serial input source (read), -1: none */
	int console_out;           /* serial output sink (write) */
	/* Security-relevant events (seccomp is the kernel's; these are the
	 * VMM's: triple fault, internal error, unhandled exits...).  data is
	 * a JSON object text.  May be NULL. */
	void (*event)(void *arg, const char *type, const char *data_json);
	void *event_arg;
	/* Set-up messages (debug log); may be NULL. */
	void (*debug)(void *arg, const char *msg);
	void *debug_arg;
};

#define VMM_MAX_VCPUS 64
#define VMM_MIN_MEM (16ULL << 20)
#define VMM_KVM_MAJOR 10           /* /dev/kvm */
#define VMM_KVM_MINOR 232

/* What vmm_prepare found, for `cell state` and the debug log. */
struct vmm_info {
	bool tdp;                  /* KVM uses two-level paging (EPT/NPT) */
	const char *boot;          /* "bzimage" or "pvh" */
	unsigned vcpus;
	uint64_t mem_bytes;
	const char *ram;           /* "hugetlb", "tmpfs-thp" or "memfd" */
};

/* Open KVM, check its API version and capabilities, build the VM (RAM in
 * a memfd, irqchip, PIT, devices, ACPI tables), load the kernel and
 * initrd, create the vCPUs (not running).  Every malformed input is an
 * error here, before any vCPU runs. */
int vmm_prepare(const struct vmm_config *cfg, struct vmm **out, struct vmm_info *info,
		struct cell_err *err);

/* Install the VMM's seccomp allow-list (vmshim/seccomp-vmm.json). */
int vmm_confine(struct vmm *vm, struct cell_err *err);

/* Run the vCPUs until the guest powers off, resets or fails.  SIGTERM and
 * SIGINT press the ACPI power button; console_in is forwarded to the
 * serial port.  *status: the status the guest reported through the exit
 * port (0 when it reported none) on power-off or reset; 128+ on a guest
 * failure (triple fault: 130, internal error: 131).  Returns -1 only for
 * VMM failures (err set). */
int vmm_run(struct vmm *vm, int *status, struct cell_err *err);

void vmm_destroy(struct vmm *vm);

/* What a kernel file is, from its headers (the checks the loader makes):
 * a PVH ELF vmlinux, or a bzImage with where its compressed kernel lies in
 * the file (payload_len 0: its header does not say). */
struct vmm_kernel_kind {
	bool pvh;
	uint64_t payload_off, payload_len;
};
int vmm_kernel_probe(int fd, const char *name, struct vmm_kernel_kind *out, struct cell_err *err);

#endif
