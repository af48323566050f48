/*
 * kvmcheck: proves that /dev/kvm inside the lab really runs guests.
 *
 *   kvmcheck api   prints KVM_GET_API_VERSION (exit 0 only if it is 12)
 *   kvmcheck run   runs a one-page real-mode guest that writes 42 to port
 *                  0x10 and halts; exit 0 only if both exits are seen
 *
 * Built by setup.sh; used by selftest.bats.  Deliberately self-contained so
 * that a failure points at the lab, not at the project's own code.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define TEST_PORT 0x10
#define TEST_VALUE 42

static int fail(const char *what)
{
	fprintf(stderr, "kvmcheck: %s: %s\n", what, strerror(errno));
	return 1;
}

static int run_guest(int kvm)
{
	/* mov $42, %al; out %al, $0x10; hlt */
	static const uint8_t code[] = { 0xb0, TEST_VALUE, 0xe6, TEST_PORT, 0xf4 };
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	int vm, vcpu, saw_io = 0, i;
	long run_size;
	void *mem;

	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		return fail("KVM_CREATE_VM");
	mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return fail("mmap guest memory");
	memcpy(mem, code, sizeof(code));
	memset(&region, 0, sizeof(region));
	region.guest_phys_addr = GUEST_ADDR;
	region.memory_size = 0x1000;
	region.userspace_addr = (uintptr_t)mem;
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail("KVM_SET_USER_MEMORY_REGION");

	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		return fail("KVM_CREATE_VCPU");
	run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size < (long)sizeof(*run))
		return fail("KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail("mmap kvm_run");

	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail("KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail("KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_ADDR;
	regs.rflags = 0x2; /* bit 1 is reserved and must be set */
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail("KVM_SET_REGS");

	for (i = 0; i < 16; i++) {
		if (ioctl(vcpu, KVM_RUN, 0) < 0)
			return fail("KVM_RUN");
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != TEST_PORT ||
			    run->io.size != 1 ||
			    ((uint8_t *)run)[run->io.data_offset] != TEST_VALUE) {
				fprintf(stderr, "kvmcheck: unexpected I/O exit (port 0x%x)\n",
					run->io.port);
				return 1;
			}
			saw_io = 1;
			break;
		case KVM_EXIT_HLT:
			if (!saw_io) {
				fprintf(stderr, "kvmcheck: halted before the I/O exit\n");
				return 1;
			}
			printf("guest ran: out 0x%x <- %d, then hlt\n", TEST_PORT, TEST_VALUE);
			return 0;
		default:
			fprintf(stderr, "kvmcheck: unexpected exit reason %u\n", run->exit_reason);
			return 1;
		}
	}
	fprintf(stderr, "kvmcheck: guest did not halt\n");
	return 1;
}

int main(int argc, char **argv)
{
	int kvm, api;

	if (argc != 2 || (strcmp(argv[1], "api") && strcmp(argv[1], "run"))) {
		fprintf(stderr, "usage: kvmcheck api|run\n");
		return 2;
	}
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return fail("open /dev/kvm");
	api = ioctl(kvm, KVM_GET_API_VERSION, 0);
	if (!strcmp(argv[1], "api")) {
		printf("%d\n", api);
		return api == KVM_API_VERSION ? 0 : 1;
	}
	return run_guest(kvm);
}
