/* Guest RAM: one shmem file, a memfd or an unlinked file on the VMM's own
 * huge-page tmpfs (either way an fd that snapshots and clones can map
 * again), mapped once, laid out as vm.h's memory map says, and the checked
 * translation of guest physical addresses. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "internal.h"

#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

void *vm_gpa(const struct vm_mem *m, uint64_t gpa, uint64_t len)
{
	if (!m || len == 0)
		return NULL;
	for (unsigned i = 0; i < m->nr; i++) {
		const struct vm_region *r = &m->r[i];
		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t vm_ram_below_4g(const struct vm_mem *m)
{
	return m->nr ? m->r[0].gpa + m->r[0].size : 0;
}

/* RAM as an unlinked file in dir; -1 (errno set) when dir cannot hold one. */
static int tmpfs_ram(const char *dir)
{
	/* O_EXCL: the file can never be linked into the tree */
	return open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
}

int vm_mem_create(struct vm_mem *m, uint64_t size, bool huge, const char *dir,
		  struct cell_err *err)
{
	const uint64_t low_max = VM_MMIO_HOLE_START, align = 2ULL << 20;
	int flags = MAP_SHARED | MAP_FIXED;
	uint8_t *area, *base;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (!huge && dir && (m->memfd = tmpfs_ram(dir)) >= 0) {
		m->kind = "tmpfs-thp";
	} else {
		m->kind = huge ? "hugetlb" : "memfd";
		m->memfd = memfd_create("cell-guest-ram", MFD_CLOEXEC | (huge ? MFD_HUGETLB : 0));
	}
	if (m->memfd < 0) {
		if (huge && (errno == EINVAL || errno == ENOENT || errno == ENOSYS))
			return cell_err_set(err, errno,
					    "guest RAM: memfd_create(MFD_HUGETLB): the kernel "
					    "offers no hugetlb pages");
		return cell_err_set(err, errno, "guest RAM: memfd_create");
	}
	if (ftruncate(m->memfd, (off_t)size) < 0) {
		cell_err_set(err, errno, "guest RAM: resize the %s to %" PRIu64 " bytes", m->kind, size);
		goto fail;
	}
	/* A 2 MiB aligned address, so that a huge page of the file can be
	 * mapped whole (by the host, then by KVM's two-level tables): reserve
	 * the size plus slack, then map the file over its aligned part. */
	m->map_len = size + align;
	area = mmap(NULL, m->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (area == MAP_FAILED) {
		cell_err_set(err, errno, "guest RAM: reserve %" PRIu64 " bytes of address space", size);
		goto fail;
	}
	m->base = area;
	base = (uint8_t *)(((uintptr_t)area + align - 1) & ~(uintptr_t)(align - 1));
	/* Plain shmem pages are charged to the cgroup when the guest touches
	 * them; hugetlb pages must be reserved now so that a shortage is an
	 * error here rather than a SIGBUS in the guest later. */
	if (!huge)
		flags |= MAP_NORESERVE;
	if (mmap(base, size, PROT_READ | PROT_WRITE, flags, m->memfd, 0) == MAP_FAILED) {
		if (huge)
			cell_err_set(err, errno,
				     "guest RAM: %" PRIu64 " MiB of hugetlb pages are not available "
				     "(see /proc/sys/vm/nr_hugepages)", size >> 20);
		else
			cell_err_set(err, errno, "guest RAM: mmap %" PRIu64 " bytes", size);
		goto fail;
	}
	/* the tmpfs decides; where it is "advise" this is what it asks for */
	if (!huge)
		madvise(base, size, MADV_HUGEPAGE);
	m->size = size;
	m->r[0] = (struct vm_region){ 0, size < low_max ? size : low_max, base };
	m->nr = 1;
	if (size > low_max) {
		m->r[1] = (struct vm_region){ VM_MMIO_HOLE_END, size - low_max, base + low_max };
		m->nr = 2;
	}
	return 0;
fail:
	vm_mem_free(m);
	return -1;
}

int vm_mem_register(const struct vm_mem *m, int vm_fd, struct cell_err *err)
{
	for (unsigned i = 0; i < m->nr; i++) {
		struct kvm_userspace_memory_region reg = {
			.slot = i,
			.guest_phys_addr = m->r[i].gpa,
			.memory_size = m->r[i].size,
			.userspace_addr = (uint64_t)(uintptr_t)m->r[i].hva,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &reg) < 0)
			return cell_err_set(err, errno,
					    "KVM_SET_USER_MEMORY_REGION slot %u (0x%" PRIx64
					    "+0x%" PRIx64 ")", i, m->r[i].gpa, m->r[i].size);
	}
	return 0;
}

void vm_mem_free(struct vm_mem *m)
{
	if (m->base)
		munmap(m->base, m->map_len);
	if (m->memfd >= 0)
		close(m->memfd);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}
