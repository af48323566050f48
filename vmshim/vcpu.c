/* vCPUs: creation and initial state (CPUID with the machine's topology,
 * MSRs, FPU, local APIC), one thread per vCPU running KVM_RUN and
 * dispatching its exits, and stopping them all. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define MSR_IA32_TSC            0x00000010
#define MSR_IA32_SYSENTER_CS    0x00000174
#define MSR_IA32_SYSENTER_ESP   0x00000175
#define MSR_IA32_SYSENTER_EIP   0x00000176
#define MSR_IA32_MISC_ENABLE    0x000001a0
#define MSR_MTRR_DEF_TYPE       0x000002ff
#define MSR_STAR                0xc0000081
#define MSR_LSTAR               0xc0000082
#define MSR_CSTAR               0xc0000083
#define MSR_SYSCALL_MASK        0xc0000084
#define MSR_KERNEL_GS_BASE      0xc0000102

#define MISC_ENABLE_FAST_STRING (1ULL << 0)
#define MTRR_ENABLE             (1ULL << 11)
#define MTRR_TYPE_WB            6ULL

#define APIC_LVT0               0x350
#define APIC_LVT1               0x360
#define APIC_MODE_NMI           0x4
#define APIC_MODE_EXTINT        0x7

#define CPUID_1_ECX_TSC_DEADLINE (1U << 24)
#define CPUID_1_ECX_HYPERVISOR   (1U << 31)
#define CPUID_1_EDX_HTT          (1U << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1U << 1)

/* The signal that kicks a vCPU thread out of KVM_RUN. */
#define VCPU_KICK_SIGNAL (SIGRTMIN)

static void kick_handler(int sig)
{
	(void)sig;
}

int vm_vcpu_signals_init(struct cell_err *err)
{
	/* No SA_RESTART: KVM_RUN must return EINTR. */
	struct sigaction sa = { .sa_handler = kick_handler };
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return cell_err_set(err, errno, "vCPU kick signal: sigaction");
	return 0;
}

/* Bits needed to number n things (0 for n == 1). */
static unsigned id_bits(unsigned n)
{
	unsigned b = 0;
	while ((1U << b) < n)
		b++;
	return b;
}

static bool vendor_is(const struct kvm_cpuid2 *c, const char *v)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0) {
			char s[12];
			memcpy(s, &c->entries[i].ebx, 4);
			memcpy(s + 4, &c->entries[i].edx, 4);
			memcpy(s + 8, &c->entries[i].ecx, 4);
			return memcmp(s, v, 12) == 0;
		}
	return false;
}

/* The machine is one package of n single-threaded cores; APIC id = index. */
static void cpuid_adjust(struct vmm *vm, struct kvm_cpuid2 *c, unsigned id)
{
	unsigned n = vm->cfg.vcpus, bits = id_bits(n);
	bool intel = vendor_is(c, "GenuineIntel");
	bool amd = vendor_is(c, "AuthenticAMD") || vendor_is(c, "HygonGenuine");

	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0xffff) | (id << 24) | ((n > 255 ? 255 : n) << 16);
			if (n > 1)
				e->edx |= CPUID_1_EDX_HTT;
			else
				e->edx &= ~CPUID_1_EDX_HTT;
			e->ecx |= CPUID_1_ECX_HYPERVISOR;
			if (vm->cap_tsc_deadline)
				e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
			break;
		case 4:
			if (!intel || (e->eax & 0x1f) == 0)
				break;
			/* cores per package - 1; threads sharing: the L3 is shared */
			e->eax &= 0x3fff;
			e->eax |= ((1U << bits) - 1) << 26;
			if (((e->eax >> 5) & 7) >= 3)
				e->eax |= ((1U << bits) - 1) << 14;
			break;
		case 0xb:
		case 0x1f:
			e->edx = id;
			if (e->index == 0) {          /* SMT level: one thread per core */
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1U << 8) | 0;
			} else if (e->index == 1) {   /* core level: the package */
				e->eax = bits;
				e->ebx = n;
				e->ecx = (2U << 8) | 1;
			} else {
				e->eax = 0;
				e->ebx = 0;
				e->ecx = e->index & 0xff;
			}
			break;
		case 0x80000001:
			if (!amd)
				break;
			if (n > 1)
				e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
			else
				e->ecx &= ~CPUID_80000001_ECX_CMP_LEGACY;
			break;
		case 0x80000008:
			if (!amd)
				break;
			e->ecx = (e->ecx & ~0xf0ffU) | (bits << 12) | ((n - 1) & 0xff);
			break;
		case 0x8000001e:
			if (!amd)
				break;
			e->eax = id;
			e->ebx = id & 0xff;          /* core id, one thread per core */
			e->ecx = 0;                  /* node 0, one node */
			break;
		}
	}
}

static int set_cpuid(struct vmm *vm, struct vm_vcpu *c, struct cell_err *err)
{
	size_t sz = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *cp = malloc(sz);
	int r;

	if (!cp)
		return cell_err_set(err, ENOMEM, "vCPU %u: CPUID", c->id);
	memcpy(cp, vm->cpuid, sz);
	cpuid_adjust(vm, cp, c->id);
	r = ioctl(c->fd, KVM_SET_CPUID2, cp);
	free(cp);
	if (r < 0)
		return cell_err_set(err, errno, "vCPU %u: KVM_SET_CPUID2", c->id);
	return 0;
}

static int set_msrs(struct vm_vcpu *c, struct cell_err *err)
{
	static const struct { uint32_t index; uint64_t value; } init[] = {
		{ MSR_IA32_SYSENTER_CS, 0 },
		{ MSR_IA32_SYSENTER_ESP, 0 },
		{ MSR_IA32_SYSENTER_EIP, 0 },
		{ MSR_STAR, 0 },
		{ MSR_CSTAR, 0 },
		{ MSR_KERNEL_GS_BASE, 0 },
		{ MSR_SYSCALL_MASK, 0 },
		{ MSR_LSTAR, 0 },
		{ MSR_IA32_TSC, 0 },
		{ MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING },
		{ MSR_MTRR_DEF_TYPE, MTRR_ENABLE | MTRR_TYPE_WB },
	};
	enum { N = sizeof(init) / sizeof(init[0]) };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[N];
	} msrs;
	int r;

	memset(&msrs, 0, sizeof(msrs));
	msrs.hdr.nmsrs = N;
	for (unsigned i = 0; i < N; i++) {
		msrs.e[i].index = init[i].index;
		msrs.e[i].data = init[i].value;
	}
	r = ioctl(c->fd, KVM_SET_MSRS, &msrs);
	if (r < 0)
		return cell_err_set(err, errno, "vCPU %u: KVM_SET_MSRS", c->id);
	if (r < N)
		return cell_err_set(err, EINVAL, "vCPU %u: KVM_SET_MSRS: MSR 0x%x refused", c->id,
				    msrs.e[r].index);
	return 0;
}

static int set_fpu(struct vm_vcpu *c, struct cell_err *err)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(c->fd, KVM_SET_FPU, &fpu) < 0)
		return cell_err_set(err, errno, "vCPU %u: KVM_SET_FPU", c->id);
	return 0;
}

static void lvt_set_mode(struct kvm_lapic_state *l, unsigned reg, uint32_t mode)
{
	uint32_t v;
	memcpy(&v, &l->regs[reg], 4);
	v = (v & ~0x700U) | (mode << 8);
	memcpy(&l->regs[reg], &v, 4);
}

static int set_lapic(struct vm_vcpu *c, struct cell_err *err)
{
	struct kvm_lapic_state l;

	if (ioctl(c->fd, KVM_GET_LAPIC, &l) < 0)
		return cell_err_set(err, errno, "vCPU %u: KVM_GET_LAPIC", c->id);
	/* the 8259 reaches the BSP through LINT0, NMIs through LINT1 */
	lvt_set_mode(&l, APIC_LVT0, APIC_MODE_EXTINT);
	lvt_set_mode(&l, APIC_LVT1, APIC_MODE_NMI);
	if (ioctl(c->fd, KVM_SET_LAPIC, &l) < 0)
		return cell_err_set(err, errno, "vCPU %u: KVM_SET_LAPIC", c->id);
	return 0;
}

int vm_vcpu_create(struct vmm *vm, struct vm_vcpu *c, unsigned id, struct cell_err *err)
{
	void *run;

	memset(c, 0, sizeof(*c));
	c->vm = vm;
	c->id = id;
	c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (c->fd < 0)
		return cell_err_set(err, errno, "vCPU %u: KVM_CREATE_VCPU", id);
	/* KVM does not set O_CLOEXEC on the fds it hands out */
	if (fcntl(c->fd, F_SETFD, FD_CLOEXEC) < 0)
		return cell_err_set(err, errno, "vCPU %u: fd", id);
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, 0);
	if (run == MAP_FAILED)
		return cell_err_set(err, errno, "vCPU %u: mmap kvm_run", id);
	c->run = run;
	if (set_cpuid(vm, c, err) < 0 || set_msrs(c, err) < 0 || set_fpu(c, err) < 0 ||
	    set_lapic(c, err) < 0)
		return -1;
	if (id == 0 && vm_boot_setup_bsp(c->fd, &vm->boot, err) < 0)
		return cell_err_wrap(err, "vCPU 0");
	return 0;
}

void vm_vcpu_destroy(struct vm_vcpu *c, size_t run_size)
{
	if (c->run)
		munmap(c->run, run_size);
	if (c->fd >= 0)
		close(c->fd);
	c->run = NULL;
	c->fd = -1;
}

static uint64_t vcpu_rip(struct vm_vcpu *c)
{
	struct kvm_regs regs;
	if (ioctl(c->fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return regs.rip;
}

/* Handles one exit; false when the vCPU must stop. */
static bool vcpu_exit(struct vm_vcpu *c)
{
	struct vmm *vm = c->vm;
	struct kvm_run *run = c->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		if (vm_bus_exit_io(&vm->bus, run, vm->run_size) == 0)
			return true;
		vmm_event(vm, "vm-internal-error",
			  "{\"vcpu\":%u,\"reason\":\"bad KVM_EXIT_IO\",\"size\":%u,\"count\":%u}",
			  c->id, run->io.size, run->io.count);
		vmm_end(vm, VM_STATUS_INTERNAL_ERROR);
		return false;
	case KVM_EXIT_MMIO:
		if (vm_bus_exit_mmio(&vm->bus, run) == 0)
			return true;
		vmm_event(vm, "vm-internal-error",
			  "{\"vcpu\":%u,\"reason\":\"bad KVM_EXIT_MMIO\",\"len\":%u}", c->id,
			  run->mmio.len);
		vmm_end(vm, VM_STATUS_INTERNAL_ERROR);
		return false;
	case KVM_EXIT_HLT:          /* not with the in-kernel irqchip */
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return true;
	case KVM_EXIT_SHUTDOWN:
		vmm_event(vm, "vm-triple-fault", "{\"vcpu\":%u,\"rip\":\"0x%" PRIx64 "\"}", c->id,
			  vcpu_rip(c));
		vmm_end(vm, VM_STATUS_TRIPLE_FAULT);
		return false;
	case KVM_EXIT_INTERNAL_ERROR: {
		uint32_t nd = run->internal.ndata;
		if (nd > sizeof(run->internal.data) / sizeof(run->internal.data[0]))
			nd = sizeof(run->internal.data) / sizeof(run->internal.data[0]);
		vmm_event(vm, "vm-internal-error",
			  "{\"vcpu\":%u,\"suberror\":%u,\"ndata\":%u,\"data0\":\"0x%" PRIx64
			  "\",\"rip\":\"0x%" PRIx64 "\"}",
			  c->id, run->internal.suberror, nd,
			  nd ? (uint64_t)run->internal.data[0] : 0, vcpu_rip(c));
		vmm_end(vm, VM_STATUS_INTERNAL_ERROR);
		return false;
	}
	case KVM_EXIT_FAIL_ENTRY:
		vmm_event(vm, "vm-internal-error",
			  "{\"vcpu\":%u,\"reason\":\"entry failed\","
			  "\"hardware_entry_failure_reason\":\"0x%llx\",\"cpu\":%u}",
			  c->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			  run->fail_entry.cpu);
		vmm_end(vm, VM_STATUS_INTERNAL_ERROR);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
		case KVM_SYSTEM_EVENT_RESET: {
			int st = atomic_load(&vm->exit_status);
			vmm_debug(vm, "vCPU %u: KVM system event %s (exit status %d)", c->id,
				  run->system_event.type == KVM_SYSTEM_EVENT_RESET ? "reset" : "shutdown",
				  st);
			vmm_end(vm, st >= 0 ? st : 0);
			return false;
		}
		default:
			vmm_event(vm, "vm-internal-error",
				  "{\"vcpu\":%u,\"reason\":\"system event\",\"type\":%u}", c->id,
				  run->system_event.type);
			vmm_end(vm, VM_STATUS_INTERNAL_ERROR);
			return false;
		}
	default:
		vmm_event(vm, "vm-unhandled-exit", "{\"vcpu\":%u,\"exit_reason\":%u}", c->id,
			  run->exit_reason);
		vmm_end(vm, VM_STATUS_INTERNAL_ERROR);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vm_vcpu *c = arg;
	struct vmm *vm = c->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	while (!atomic_load(&vm->stop)) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			struct cell_err e = { 0 };
			cell_err_set(&e, errno, "vCPU %u: KVM_RUN", c->id);
			vmm_fail(vm, &e);
			break;
		}
		if (!vcpu_exit(c))
			break;
	}
	return NULL;
}

int vm_vcpus_start(struct vmm *vm, struct cell_err *err)
{
	/* installed here, not at prepare: a runtime may reset the handlers
	 * in between, and a SIG_DFL kick to pid 1 of a namespace is dropped */
	if (vm_vcpu_signals_init(err) < 0)
		return -1;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vm_vcpu *c = &vm->vcpu[i];
		int r = pthread_create(&c->thread, NULL, vcpu_thread, c);
		if (r != 0) {
			cell_err_set(err, r, "vCPU %u: pthread_create", i);
			vm_vcpus_stop(vm);
			return -1;
		}
		c->started = true;
	}
	return 0;
}

void vm_vcpus_stop(struct vmm *vm)
{
	atomic_store(&vm->stop, true);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vm_vcpu *c = &vm->vcpu[i];
		if (!c->started)
			continue;
		/* immediate_exit covers a thread between its stop check and
		 * KVM_RUN; the signal one inside the guest. */
		__atomic_store_n(&c->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(c->thread, VCPU_KICK_SIGNAL);
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		struct vm_vcpu *c = &vm->vcpu[i];
		if (!c->started)
			continue;
		pthread_join(c->thread, NULL);
		c->started = false;
	}
}
