/* vmshim/internal.h: the VMM core's internal interfaces — the device bus
 * (bus.c), KVM (kvm.c), guest RAM (mem.c), vCPUs (vcpu.c), the seccomp
 * allow-list (seccomp_vmm.c) — and struct vmm, which vmm.c ties together.
 * Devices, boot and ACPI see only vm.h. */
#ifndef CELL_VMSHIM_INTERNAL_H
#define CELL_VMSHIM_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "../runtime/err.h"
#include "vm.h"
#include "vmm.h"

/* ---- the device bus (bus.c) ---- */
enum vm_bus_space { VM_BUS_PIO, VM_BUS_MMIO };

#define VM_BUS_MAX_RANGES      16
/* A hostile guest can probe every port: report only the first access to
 * each distinct unhandled port/address, and at most this many in all. */
#define VM_BUS_MAX_UNHANDLED_EVENTS 16

struct vm_bus_range {
	uint64_t base, len;
	vm_io_fn fn;
	void *dev;
};

typedef void (*vm_event_fn)(void *arg, const char *type, const char *data_json);

struct vm_bus {
	/* Filled before any vCPU runs, read-only afterwards: no lock. */
	struct vm_bus_range r[2][VM_BUS_MAX_RANGES];
	unsigned n[2];
	vm_event_fn event;
	void *event_arg;
	pthread_mutex_t lock;        /* guards the unhandled-access record */
	uint64_t unhandled;          /* all unhandled accesses, silent ones included */
	unsigned nreported;
	struct { uint8_t space; uint64_t addr; } reported[VM_BUS_MAX_UNHANDLED_EVENTS];
};

void vm_bus_init(struct vm_bus *b, vm_event_fn event, void *event_arg);
void vm_bus_destroy(struct vm_bus *b);
/* Register [base, base+len); overlapping ranges are refused. */
int vm_bus_add(struct vm_bus *b, enum vm_bus_space sp, uint64_t base, uint64_t len, vm_io_fn fn,
	       void *dev, struct cell_err *err);
/* One access of len 1..8 bytes; it must lie in one range to be handled. */
void vm_bus_access(struct vm_bus *b, enum vm_bus_space sp, uint64_t addr, uint8_t *data,
		   uint32_t len, bool is_write);
/* KVM_EXIT_IO / KVM_EXIT_MMIO of run (mapped run_size bytes); -1 when
 * KVM's description of the access is inconsistent (bounds). */
int vm_bus_exit_io(struct vm_bus *b, struct kvm_run *run, size_t run_size);
int vm_bus_exit_mmio(struct vm_bus *b, struct kvm_run *run);
uint64_t vm_bus_unhandled(struct vm_bus *b);

/* ---- guest RAM (mem.c) ---- */
/* One shmem file of size bytes, mapped once at a 2 MiB boundary, split in
 * the low/high regions of vm.h's map: a hugetlb memfd when huge; else an
 * unlinked file in dir (a huge=within_size tmpfs: transparent huge pages)
 * when dir is set and takes one; else a plain memfd. */
int vm_mem_create(struct vm_mem *m, uint64_t size, bool huge, const char *dir,
		  struct cell_err *err);
/* KVM_SET_USER_MEMORY_REGION, slot i for region i. */
int vm_mem_register(const struct vm_mem *m, int vm_fd, struct cell_err *err);
void vm_mem_free(struct vm_mem *m);

/* ---- vCPUs (vcpu.c) ---- */
struct vmm;

struct vm_vcpu {
	struct vmm *vm;
	unsigned id;                 /* also its APIC id */
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

/* KVM_CREATE_VCPU, kvm_run, CPUID, MSRs, FPU, LAPIC; the BSP (id 0) also
 * gets vm->boot's registers. */
int vm_vcpu_create(struct vmm *vm, struct vm_vcpu *c, unsigned id, struct cell_err *err);
/* Install the kick signal's handler (process-wide, once). */
int vm_vcpu_signals_init(struct cell_err *err);
int vm_vcpus_start(struct vmm *vm, struct cell_err *err);
/* Set the stop flag, kick every running vCPU out of KVM_RUN, join them. */
void vm_vcpus_stop(struct vmm *vm);
void vm_vcpu_destroy(struct vm_vcpu *c, size_t run_size);

/* ---- KVM (kvm.c) ---- */
/* Opens cfg->kvm_path, checks the API and capabilities, creates the VM with
 * its TSS, identity map, irqchip and PIT, reads the supported CPUID. */
int vm_kvm_open(struct vmm *vm, struct cell_err *err);
void vm_kvm_close(struct vmm *vm);
/* vm_irq_fn for the devices: KVM_IRQ_LINE on the VM (arg: struct vmm). */
void vm_kvm_irq(void *arg, uint32_t gsi, int level);

/* ---- the seccomp allow-list (seccomp_vmm.c) ---- */
/* Compiles vmshim/seccomp-vmm.json (linked in) into a libseccomp context
 * (returned as void * so this header needs no seccomp.h). */
int vm_seccomp_build(void **ctx, struct cell_err *err);
int vm_seccomp_load(void *ctx, struct cell_err *err);
void vm_seccomp_free(void *ctx);

/* ---- the VMM (vmm.c) ---- */
/* How a run ended: the status vmm_run reports. */
#define VM_STATUS_TRIPLE_FAULT   130
#define VM_STATUS_INTERNAL_ERROR 131

struct vmm {
	struct vmm_config cfg;       /* borrowed strings; cmdline copied */
	char *cmdline;
	int kvm_fd, vm_fd;
	size_t run_size;             /* KVM_GET_VCPU_MMAP_SIZE */
	struct kvm_cpuid2 *cpuid;    /* KVM_GET_SUPPORTED_CPUID */
	bool cap_tsc_deadline;
	bool tdp;
	struct vm_mem mem;
	struct vm_bus bus;
	struct vm_boot boot;
	uint64_t rsdp;
	struct vm_serial *serial;
	struct vm_i8042 *i8042;
	struct vm_pm *pm;
	struct vm_vcpu vcpu[VMM_MAX_VCPUS];
	unsigned nvcpus;
	void *seccomp;
	bool confined;
	bool ran;
	int wake_fd;                 /* eventfd: the run has ended */
	int sig_fd;                  /* signalfd: SIGTERM, SIGINT */
	sigset_t sigs;
	atomic_bool stop;            /* vCPU threads: leave KVM_RUN for good */
	atomic_int exit_status;      /* last byte written to VM_EXIT_PORT, -1: none */
	pthread_mutex_t lock;        /* guards the end of the run below */
	bool ended;
	int end_status;
	bool failed;                 /* a VMM failure: vmm_run returns -1 */
	struct cell_err fail_err;
};

/* End the run (first caller wins): the status vmm_run reports. */
void vmm_end(struct vmm *vm, int status);
/* End the run as a VMM failure (err is copied). */
void vmm_fail(struct vmm *vm, const struct cell_err *err);
/* Post an event (data: a JSON object text) / a debug message. */
void vmm_event(struct vmm *vm, const char *type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vmm_debug(struct vmm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
