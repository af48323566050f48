/* /dev/kvm and the VM: API version, the capabilities the VMM relies on,
 * the VM with its in-kernel irqchip and PIT, the CPUID KVM supports, and
 * whether KVM uses two-dimensional paging. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "internal.h"

#define KVM_CAP(name) { KVM_CAP_##name, "KVM_CAP_" #name }

static const struct { int cap; const char *name; } required_caps[] = {
	KVM_CAP(IRQCHIP),
	KVM_CAP(USER_MEMORY),
	KVM_CAP(SET_TSS_ADDR),
	KVM_CAP(SET_IDENTITY_MAP_ADDR),
	KVM_CAP(PIT2),
	KVM_CAP(IRQ_ROUTING),
	KVM_CAP(EXT_CPUID),
	KVM_CAP(MP_STATE),
	KVM_CAP(IMMEDIATE_EXIT),
};

/* "Y"/"1" in a module parameter; -1 when it cannot be read. */
static int read_bool_param(const char *path)
{
	char buf[8] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	return buf[0] == 'Y' || buf[0] == 'y' || buf[0] == '1';
}

static void detect_tdp(struct vmm *vm)
{
	static const struct { const char *path, *name; } params[] = {
		{ "/sys/module/kvm_amd/parameters/npt", "npt" },
		{ "/sys/module/kvm_intel/parameters/ept", "ept" },
	};
	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		int v = read_bool_param(params[i].path);
		if (v < 0)
			continue;
		vm->tdp = v;
		vmm_debug(vm, "kvm: two-dimensional paging (%s) %s", params[i].name,
			  v ? "on" : "off");
		return;
	}
	vm->tdp = false;
	vmm_debug(vm, "kvm: two-dimensional paging unknown (no kvm_amd/kvm_intel "
		      "parameters readable in /sys); reporting false");
}

static int get_supported_cpuid(struct vmm *vm, struct cell_err *err)
{
	for (unsigned nent = 128; nent <= 4096; nent *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));
		if (!c)
			return cell_err_set(err, ENOMEM, "KVM_GET_SUPPORTED_CPUID");
		c->nent = nent;
		if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		int e = errno;
		free(c);
		if (e != E2BIG)
			return cell_err_set(err, e, "%s: KVM_GET_SUPPORTED_CPUID", vm->cfg.kvm_path);
	}
	return cell_err_set(err, E2BIG, "%s: KVM_GET_SUPPORTED_CPUID", vm->cfg.kvm_path);
}

/* Legacy interrupts as the MADT describes them: ISA IRQ n on 8259 pin n and
 * I/O APIC pin n, except the PIT's IRQ 0, which the I/O APIC has on pin 2
 * (the MADT's interrupt source override).  KVM's default routing puts GSI 0
 * on pin 0, and Linux would fall back to the slow ExtINT path for its timer. */
static int set_gsi_routing(int vm_fd)
{
	struct {
		struct kvm_irq_routing r;
		struct kvm_irq_routing_entry e[16 + 24];
	} t;
	unsigned n = 0;

	memset(&t, 0, sizeof(t));
	for (unsigned gsi = 0; gsi < 24; gsi++) {
		if (gsi == 2)
			continue; /* the cascade: no device interrupt */
		if (gsi < 16) {
			t.e[n].gsi = gsi;
			t.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
			t.e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
			t.e[n].u.irqchip.pin = gsi % 8;
			n++;
		}
		t.e[n].gsi = gsi;
		t.e[n].type = KVM_IRQ_ROUTING_IRQCHIP;
		t.e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		t.e[n].u.irqchip.pin = gsi ? gsi : 2;
		n++;
	}
	t.r.nr = n;
	return ioctl(vm_fd, KVM_SET_GSI_ROUTING, &t);
}

int vm_kvm_open(struct vmm *vm, struct cell_err *err)
{
	const char *path = vm->cfg.kvm_path ? vm->cfg.kvm_path : "/dev/kvm";
	int r;

	vm->cfg.kvm_path = path;
	vm->kvm_fd = open(path, O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return cell_err_set(err, errno, "%s", path);
	r = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r < 0)
		return cell_err_set(err, errno, "%s: KVM_GET_API_VERSION", path);
	if (r != KVM_API_VERSION)
		return cell_err_set(err, 0, "%s: KVM API version %d, need %d", path, r,
				    KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			return cell_err_set(err, 0, "%s: %s missing", path, required_caps[i].name);
	vm->cap_tsc_deadline = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (r > 0 && vm->cfg.vcpus > (unsigned)r)
		vmm_debug(vm, "kvm: %u vCPUs exceed the recommended %d", vm->cfg.vcpus, r);
	r = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (r > 0 && vm->cfg.vcpus > (unsigned)r)
		return cell_err_set(err, 0, "%s: %u vCPUs, KVM allows at most %d", path,
				    vm->cfg.vcpus, r);

	r = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r < 0)
		return cell_err_set(err, errno, "%s: KVM_GET_VCPU_MMAP_SIZE", path);
	if ((size_t)r < sizeof(struct kvm_run))
		return cell_err_set(err, 0, "%s: KVM_GET_VCPU_MMAP_SIZE %d is too small", path, r);
	vm->run_size = (size_t)r;
	if (get_supported_cpuid(vm, err) < 0)
		return -1;
	detect_tdp(vm);

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return cell_err_set(err, errno, "%s: KVM_CREATE_VM", path);
	if (fcntl(vm->vm_fd, F_SETFD, FD_CLOEXEC) < 0)
		return cell_err_set(err, errno, "%s: VM fd", path);
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VM_TSS_ADDR) < 0)
		return cell_err_set(err, errno, "%s: KVM_SET_TSS_ADDR", path);
	uint64_t idmap = VM_IDENTITY_MAP_ADDR;
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		return cell_err_set(err, errno, "%s: KVM_SET_IDENTITY_MAP_ADDR", path);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return cell_err_set(err, errno, "%s: KVM_CREATE_IRQCHIP", path);
	if (set_gsi_routing(vm->vm_fd) < 0)
		return cell_err_set(err, errno, "%s: KVM_SET_GSI_ROUTING", path);
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return cell_err_set(err, errno, "%s: KVM_CREATE_PIT2", path);
	vmm_debug(vm, "kvm: %s API %d, VM created, irqchip and PIT in the kernel", path,
		  KVM_API_VERSION);
	return 0;
}

void vm_kvm_close(struct vmm *vm)
{
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
	free(vm->cpuid);
	vm->cpuid = NULL;
}

void vm_kvm_irq(void *arg, uint32_t gsi, int level)
{
	struct vmm *vm = arg;
	struct kvm_irq_level irq = { .irq = gsi, .level = level ? 1 : 0 };

	/* Fails only for a GSI the irqchip does not have: a device bug. */
	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		vmm_debug(vm, "kvm: KVM_IRQ_LINE gsi %u: %s", gsi, strerror(errno));
}
