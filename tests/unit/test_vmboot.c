/* vmshim/boot.c without KVM: synthetic bzImages and PVH ELF files loaded
 * into guest RAM over an anonymous mapping; the zero page, start_info, the
 * e820 map, GDT and page tables checked field by field; every malformed
 * kernel refused with a message naming it. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>

#include "../../images/images.h"
#include "../../vmshim/vm.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define KNAME "vm.kernel.path"

/* ---- guest RAM over an anonymous mapping ---- */

static struct vm_mem mem_new(uint64_t size)
{
	struct vm_mem m = { .memfd = -1, .size = size };
	uint64_t low = size < VM_MMIO_HOLE_START ? size : VM_MMIO_HOLE_START;

	m.base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	assert_true(m.base != MAP_FAILED);
	m.r[0] = (struct vm_region){ 0, low, m.base };
	m.nr = 1;
	if (size > low) {
		m.r[1] = (struct vm_region){ VM_MMIO_HOLE_END, size - low, m.base + low };
		m.nr = 2;
	}
	return m;
}

static void mem_free(struct vm_mem *m)
{
	munmap(m->base, m->size);
}

static uint8_t *g(struct vm_mem *m, uint64_t gpa)
{
	uint8_t *p = vm_gpa(m, gpa, 1);

	assert_non_null(p);
	return p;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }
static void wr16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void wr32(uint8_t *p, uint32_t v) { wr16(p, (uint16_t)v); wr16(p + 2, (uint16_t)(v >> 16)); }
static void wr64(uint8_t *p, uint64_t v) { wr32(p, (uint32_t)v); wr32(p + 4, (uint32_t)(v >> 32)); }

/* A file with these bytes (a memfd: a regular file, no disk). */
static int file_of(const void *buf, size_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

/* A sparse file of len bytes whose first bytes are 0x5a. */
static int sparse_file(uint64_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	uint8_t head[64];

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)len), 0);
	memset(head, 0x5a, sizeof(head));
	assert_int_equal(pwrite(fd, head, len < sizeof(head) ? len : sizeof(head), 0),
			 (ssize_t)(len < sizeof(head) ? len : sizeof(head)));
	return fd;
}

/* ---- a synthetic bzImage ---- */

#define SETUP_SECTS 4
#define SETUP_LEN   ((SETUP_SECTS + 1) * 512)
#define PM_LEN      0x10000

struct bz {
	uint8_t img[SETUP_LEN + PM_LEN];
};

static void bz_init(struct bz *b)
{
	uint8_t *h = b->img;
	size_t i;

	memset(b->img, 0, sizeof(b->img));
	h[0x1f1] = SETUP_SECTS;
	wr32(h + 0x1f4, PM_LEN / 16);                 /* syssize */
	wr16(h + 0x1fe, 0xAA55);
	h[0x200] = 0xEB;                              /* jmp short */
	h[0x201] = 0x6A;                              /* header ends at 0x26c */
	memcpy(h + 0x202, "HdrS", 4);
	wr16(h + 0x206, 0x020f);                      /* protocol 2.15 */
	h[0x211] = 0x01;                              /* LOADED_HIGH */
	wr32(h + 0x22c, 0x7fffffff);                  /* initrd_addr_max */
	wr32(h + 0x230, 0x200000);                    /* kernel_alignment */
	h[0x234] = 1;                                 /* relocatable */
	wr16(h + 0x236, 0x3);                         /* XLF_KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	wr32(h + 0x238, 2047);                        /* cmdline_size */
	wr64(h + 0x258, 0x1000000);                   /* pref_address */
	wr32(h + 0x260, 8 * MiB);                     /* init_size */
	for (i = 0; i < PM_LEN; i++)
		b->img[SETUP_LEN + i] = (uint8_t)(i * 7 + 3);
}

static int bz_load(struct vm_mem *m, const struct bz *b, size_t len, int initrd, const char *cmdline,
		   struct vm_boot *out, struct cell_err *err)
{
	int fd = file_of(b->img, len), r;

	r = vm_boot_load(m, fd, KNAME, initrd, cmdline, VM_ACPI_ADDR, out, err);
	close(fd);
	return r;
}

static void test_bzimage_zero_page(void **state)
{
	struct vm_mem m = mem_new(256 * MiB);
	struct cell_err err = { 0 };
	struct vm_boot b = { 0 };
	struct bz bz;
	uint8_t *zp, *e;
	uint64_t *gdt, *pml4, *pdpt, *pd;
	size_t i;

	memset(g(&m, VM_ZERO_PAGE_ADDR), 0xcc, 4096);     /* the loader must clear it */
	bz_init(&bz);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "console=ttyS0 quiet", &b, &err), 0);
	assert_int_equal(b.mode, VM_BOOT_BZIMAGE64);
	assert_int_equal(b.entry, 0x100200);
	assert_int_equal(b.boot_info, VM_ZERO_PAGE_ADDR);

	/* the protected-mode code at 1 MiB */
	assert_memory_equal(g(&m, VM_KERNEL_ADDR), bz.img + SETUP_LEN, PM_LEN);

	zp = g(&m, VM_ZERO_PAGE_ADDR);
	/* copied from the file */
	assert_int_equal(zp[0x1f1], SETUP_SECTS);
	assert_int_equal(rd16(zp + 0x1fe), 0xAA55);
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(rd16(zp + 0x206), 0x020f);
	assert_int_equal(rd16(zp + 0x236), 0x3);
	assert_int_equal(rd32(zp + 0x260), 8 * MiB);
	/* filled by the loader */
	assert_int_equal(zp[0x210], 0xff);                   /* type_of_loader */
	assert_int_equal(zp[0x211], 0x81);                   /* LOADED_HIGH | CAN_USE_HEAP */
	assert_int_equal(rd16(zp + 0x224), 0xfe00);          /* heap_end_ptr */
	assert_int_equal(rd32(zp + 0x228), VM_CMDLINE_ADDR);
	assert_int_equal(rd32(zp + 0x218), 0);               /* no initrd */
	assert_int_equal(rd32(zp + 0x21c), 0);
	assert_int_equal(rd64(zp + 0x070), VM_ACPI_ADDR);    /* acpi_rsdp_addr */
	assert_int_equal(rd32(zp + 0x0c8), 0);               /* ext_cmd_line_ptr */
	assert_int_equal(zp[0x000], 0);                      /* the rest cleared */
	assert_int_equal(zp[0xfff], 0);
	assert_string_equal((char *)g(&m, VM_CMDLINE_ADDR), "console=ttyS0 quiet");

	/* e820 */
	assert_int_equal(zp[0x1e8], 3);
	e = zp + 0x2d0;
	assert_int_equal(rd64(e + 0), 0);
	assert_int_equal(rd64(e + 8), 0x9fc00);
	assert_int_equal(rd32(e + 16), 1);
	assert_int_equal(rd64(e + 20), 0x9fc00);
	assert_int_equal(rd64(e + 28), 0x100000 - 0x9fc00);
	assert_int_equal(rd32(e + 36), 2);
	assert_int_equal(rd64(e + 40), 0x100000);
	assert_int_equal(rd64(e + 48), 255 * MiB);
	assert_int_equal(rd32(e + 56), 1);
	assert_int_equal(rd64(e + 60), 0);                   /* no 4th entry */

	/* GDT */
	gdt = (uint64_t *)g(&m, VM_GDT_ADDR);
	assert_int_equal(gdt[0], 0);
	assert_int_equal(gdt[1], 0x00cf9b000000ffffULL);
	assert_int_equal(gdt[2], 0x00af9b000000ffffULL);
	assert_int_equal(gdt[3], 0x00cf93000000ffffULL);
	assert_int_equal(gdt[4], 0x00008b0000000067ULL);

	/* identity page tables 0..4 GiB */
	pml4 = (uint64_t *)g(&m, VM_PML4_ADDR);
	pdpt = (uint64_t *)g(&m, 0xA000);
	pd = (uint64_t *)g(&m, 0xB000);
	assert_int_equal(pml4[0], 0xA003);
	for (i = 1; i < 512; i++)
		assert_int_equal(pml4[i], 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pdpt[i], 0xB003 + i * 0x1000);
	assert_int_equal(pdpt[4], 0);
	for (i = 0; i < 2048; i++)
		assert_int_equal(pd[i], (i << 21) | 0x83);
	mem_free(&m);
}

static void test_bzimage_initrd(void **state)
{
	struct vm_mem m = mem_new(256 * MiB);
	struct cell_err err = { 0 };
	struct vm_boot b;
	struct bz bz;
	uint64_t len = MiB + 123, at;
	uint8_t *zp;
	int rd;

	bz_init(&bz);
	rd = sparse_file(len);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), rd, "", &b, &err), 0);
	zp = g(&m, VM_ZERO_PAGE_ADDR);
	at = (256 * MiB - len) & ~0xfffULL;
	assert_int_equal(rd32(zp + 0x218), at);
	assert_int_equal(rd32(zp + 0x21c), len);
	assert_int_equal(g(&m, at)[0], 0x5a);
	assert_int_equal(g(&m, at)[63], 0x5a);
	assert_int_equal(g(&m, at)[64], 0);
	assert_string_equal((char *)g(&m, VM_CMDLINE_ADDR), "");

	/* initrd_addr_max (the last byte it may use) below the end of RAM */
	wr32(bz.img + 0x22c, 64 * MiB - 1);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), rd, "", &b, &err), 0);
	assert_int_equal(rd32(zp + 0x218), (64 * MiB - len) & ~0xfffULL);

	/* the kernel decompresses at pref_address (16 MiB) + init_size (8 MiB):
	 * no room between there and 24.5 MiB */
	wr32(bz.img + 0x22c, 24 * MiB + MiB / 2 - 1);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), rd, "", &b, &err), -1);
	assert_non_null(strstr(err.msg, "vm.kernel.initrd: 2 MiB does not fit"));
	close(rd);

	/* too large for RAM */
	bz_init(&bz);
	rd = sparse_file(300 * MiB);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), rd, "", &b, &err), -1);
	assert_string_equal(err.msg, "vm.kernel.initrd: 300 MiB does not fit between the kernel's end "
			    "(0x1800000) and 0x10000000 in 256 MiB of RAM");
	close(rd);

	/* empty */
	rd = sparse_file(0);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), rd, "", &b, &err), -1);
	assert_string_equal(err.msg, "vm.kernel.initrd: empty file");
	close(rd);
	mem_free(&m);
}

static void test_bzimage_refused(void **state)
{
	struct vm_mem m = mem_new(256 * MiB);
	struct cell_err err = { 0 };
	struct vm_boot b = { .entry = 42 };
	struct bz bz;
	char text[4096];

	/* too old a protocol */
	bz_init(&bz);
	wr16(bz.img + 0x206, 0x0205);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": boot protocol 2.05 is too old (need 2.12+ for the 64-bit entry)");
	wr16(bz.img + 0x206, 0x020b);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_non_null(strstr(err.msg, "boot protocol 2.11 is too old"));

	/* a 32-bit kernel */
	bz_init(&bz);
	wr16(bz.img + 0x236, 0x0);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": not a 64-bit kernel (xloadflags lacks XLF_KERNEL_64)");

	/* truncated: shorter than syssize says, and inside the setup code */
	bz_init(&bz);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img) - 16, -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": truncated (syssize says 65536 bytes of kernel, the file has 65520)");
	assert_int_equal(bz_load(&m, &bz, 0x400, -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": truncated (1024 bytes, the setup code alone is 2560)");
	assert_int_equal(bz_load(&m, &bz, 0x100, -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": not a bzImage or an ELF vmlinux (256 bytes)");

	/* not a kernel */
	memset(text, 'x', sizeof(text));
	{
		int fd = file_of(text, sizeof(text));
		assert_int_equal(vm_boot_load(&m, fd, KNAME, -1, "", 0, &b, &err), -1);
		close(fd);
	}
	assert_string_equal(err.msg, KNAME ": not a bzImage or an ELF vmlinux");
	/* no HdrS */
	bz_init(&bz);
	memcpy(bz.img + 0x202, "HdrX", 4);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": not a bzImage or an ELF vmlinux");

	/* init_size beyond RAM */
	bz_init(&bz);
	wr32(bz.img + 0x260, 300 * MiB);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": the kernel needs memory up to 0x13c00000 (init_size 300 MiB) "
			    "but RAM below 4 GiB ends at 0x10000000");

	/* a relocatable kernel linked low runs at the load address rounded up
	 * to kernel_alignment (2 MiB): the initrd may start right after */
	bz_init(&bz);
	wr64(bz.img + 0x258, 0x100000);
	{
		int rd = sparse_file(250 * MiB);
		assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), rd, "", &b, &err), -1);
		assert_non_null(strstr(err.msg, "the kernel's end (0xa00000)"));
		close(rd);
	}
	/* a kernel that cannot relocate runs at pref_address */
	wr64(bz.img + 0x258, 0x4000000);
	bz.img[0x234] = 0;
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), 0);
	assert_int_equal(b.entry, 0x100200);
	b.entry = 42;
	wr64(bz.img + 0x258, 0x80000);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": pref_address 0x80000 is below 1 MiB");
	/* a malformed kernel_alignment */
	bz_init(&bz);
	wr32(bz.img + 0x230, 0x300000);
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": kernel_alignment 0x300000 is not a power of two");

	/* a zImage */
	bz_init(&bz);
	bz.img[0x211] = 0;
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, "", &b, &err), -1);
	assert_non_null(strstr(err.msg, "zImage"));

	assert_int_equal(b.entry, 42);                       /* out untouched on errors */
	mem_free(&m);
}

static void test_bzimage_cmdline(void **state)
{
	struct vm_mem m = mem_new(64 * MiB);
	struct cell_err err = { 0 };
	struct vm_boot b;
	struct bz bz;
	char *line = malloc(VM_CMDLINE_MAX + 1);

	assert_non_null(line);
	bz_init(&bz);
	memset(line, 'a', 2047);
	line[2047] = '\0';
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, line, &b, &err), 0);
	assert_int_equal(strlen((char *)g(&m, VM_CMDLINE_ADDR)), 2047);
	line[2047] = 'a';
	line[2048] = '\0';
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, line, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": the command line is 2048 bytes, the kernel accepts at most 2047");

	/* the kernel's limit above ours: ours applies */
	wr32(bz.img + 0x238, 0x100000);
	memset(line, 'a', VM_CMDLINE_MAX);
	line[VM_CMDLINE_MAX] = '\0';
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, line, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": the command line is 65536 bytes, the kernel accepts at most 65535");
	line[VM_CMDLINE_MAX - 1] = '\0';
	assert_int_equal(bz_load(&m, &bz, sizeof(bz.img), -1, line, &b, &err), 0);
	free(line);
	mem_free(&m);
}

/* The command line the guest gets: pci=off added (no PCI bus), before any
 * "--", unless the user set pci= themselves. */
static void test_cmdline_compose(void **state)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "", "pci=off" },
		{ "console=ttyS0 quiet", "console=ttyS0 quiet pci=off" },
		{ "console=ttyS0 pci=noearly", "console=ttyS0 pci=noearly" },
		{ "console=ttyS0 -- pci=x", "console=ttyS0 pci=off -- pci=x" },
		{ "-- init-arg", "pci=off -- init-arg" },
		{ "  a   b  ", "  a   b   pci=off" },
		{ "nopci=1 xpci=2", "nopci=1 xpci=2 pci=off" },
		{ "a --b", "a --b pci=off" },
	};
	char *s;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		s = vm_cmdline_compose(cases[i].in);
		assert_non_null(s);
		assert_string_equal(s, cases[i].out);
		free(s);
	}
	s = vm_cmdline_compose(NULL);
	assert_string_equal(s, "pci=off");
	free(s);
}

static void test_e820(void **state)
{
	struct vm_mem m = mem_new(256 * MiB);
	struct vm_mem big = { .memfd = -1, .size = 5 * GiB, .nr = 2 };
	struct vm_e820 e[8];

	assert_int_equal(vm_e820_build(&m, e, 8), 3);
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, VM_EBDA_START);
	assert_int_equal(e[0].type, VM_E820_RAM);
	assert_int_equal(e[1].addr, VM_EBDA_START);
	assert_int_equal(e[1].size, 0x100000 - VM_EBDA_START);
	assert_int_equal(e[1].type, VM_E820_RESERVED);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].size, 255 * MiB);
	assert_int_equal(e[2].type, VM_E820_RAM);
	/* a short table gets what fits */
	assert_int_equal(vm_e820_build(&m, e, 2), 2);
	mem_free(&m);

	/* 5 GiB: 3 GiB below the hole, 2 GiB above 4 GiB (no memory needed) */
	big.r[0] = (struct vm_region){ 0, 3 * GiB, NULL };
	big.r[1] = (struct vm_region){ 4 * GiB, 2 * GiB, NULL };
	assert_int_equal(vm_e820_build(&big, e, 8), 4);
	assert_int_equal(e[2].addr, 0x100000);
	assert_int_equal(e[2].size, 3 * GiB - 0x100000);
	assert_int_equal(e[2].type, VM_E820_RAM);
	assert_int_equal(e[3].addr, 4 * GiB);
	assert_int_equal(e[3].size, 2 * GiB);
	assert_int_equal(e[3].type, VM_E820_RAM);
}

/* ---- a synthetic PVH vmlinux ---- */

#define ELF_PHOFF   64
#define NOTE_OFF    0x100
#define LOAD_OFF    0x1000
#define LOAD_FILESZ 0x2000
#define LOAD_MEMSZ  0x5000
#define LOAD_PADDR  0x1000000ULL
#define PVH_ENTRY   0x1000040ULL

struct elf_img {
	uint8_t b[LOAD_OFF + LOAD_FILESZ];
};

static void note_put(uint8_t *p, uint32_t type, const char *owner, const void *desc, uint32_t descsz)
{
	uint32_t namesz = (uint32_t)strlen(owner) + 1;

	wr32(p, namesz);
	wr32(p + 4, descsz);
	wr32(p + 8, type);
	memcpy(p + 12, owner, namesz);
	memcpy(p + 12 + ((namesz + 3) & ~3u), desc, descsz);
}

static void elf_init(struct elf_img *e, unsigned entry_size)
{
	Elf64_Ehdr eh = { 0 };
	Elf64_Phdr ph[2] = { { 0 } };
	uint8_t desc[8], other[4] = { 1, 2, 3, 4 };
	size_t i;

	memset(e->b, 0, sizeof(e->b));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = 0xffffffff81000000ULL;
	eh.e_phoff = ELF_PHOFF;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = 2;
	memcpy(e->b, &eh, sizeof(eh));

	/* an unrelated note first, then the PVH entry */
	note_put(e->b + NOTE_OFF, 6, "Xen", other, 4);                     /* XEN_ELFNOTE_LOADER-ish */
	wr64(desc, PVH_ENTRY);
	note_put(e->b + NOTE_OFF + 20, 18, "Xen", desc, entry_size);
	ph[0].p_type = PT_NOTE;
	ph[0].p_offset = NOTE_OFF;
	ph[0].p_filesz = 20 + 16 + entry_size;
	ph[0].p_align = 4;
	ph[1].p_type = PT_LOAD;
	ph[1].p_offset = LOAD_OFF;
	ph[1].p_vaddr = 0xffffffff81000000ULL;
	ph[1].p_paddr = LOAD_PADDR;
	ph[1].p_filesz = LOAD_FILESZ;
	ph[1].p_memsz = LOAD_MEMSZ;
	ph[1].p_flags = PF_R | PF_X;
	memcpy(e->b + ELF_PHOFF, ph, sizeof(ph));
	for (i = 0; i < LOAD_FILESZ; i++)
		e->b[LOAD_OFF + i] = (uint8_t)(i * 13 + 1);
}

static Elf64_Phdr *elf_ph(struct elf_img *e, unsigned i)
{
	return (Elf64_Phdr *)(e->b + ELF_PHOFF + i * sizeof(Elf64_Phdr));
}

static int elf_load(struct vm_mem *m, const struct elf_img *e, size_t len, int initrd,
		    struct vm_boot *out, struct cell_err *err)
{
	int fd = file_of(e->b, len), r;

	r = vm_boot_load(m, fd, KNAME, initrd, "console=hvc0", VM_ACPI_ADDR, out, err);
	close(fd);
	return r;
}

static void test_pvh(void **state)
{
	struct vm_mem m = mem_new(128 * MiB);
	struct cell_err err = { 0 };
	struct vm_boot b = { 0 };
	struct vm_e820 e820[8];
	struct elf_img e;
	uint8_t *si, *mod, *mm;
	uint64_t rdlen = 4 * MiB + 1, rdat;
	size_t ne, i;
	int rd;

	memset(g(&m, LOAD_PADDR), 0xaa, LOAD_MEMSZ + 16);         /* bss must be cleared */
	memset(g(&m, VM_PVH_INFO_ADDR), 0xcc, 4096);
	elf_init(&e, 8);
	rd = sparse_file(rdlen);
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), rd, &b, &err), 0);
	close(rd);
	assert_int_equal(b.mode, VM_BOOT_PVH32);
	assert_int_equal(b.entry, PVH_ENTRY);
	assert_int_equal(b.boot_info, VM_PVH_INFO_ADDR);

	assert_memory_equal(g(&m, LOAD_PADDR), e.b + LOAD_OFF, LOAD_FILESZ);
	for (i = LOAD_FILESZ; i < LOAD_MEMSZ; i++)
		assert_int_equal(g(&m, LOAD_PADDR)[i], 0);
	assert_int_equal(g(&m, LOAD_PADDR)[LOAD_MEMSZ], 0xaa);  /* nothing past memsz */

	si = g(&m, VM_PVH_INFO_ADDR);
	assert_int_equal(rd32(si + 0), 0x336ec578);
	assert_int_equal(rd32(si + 4), 1);
	assert_int_equal(rd32(si + 8), 0);
	assert_int_equal(rd32(si + 12), 1);                    /* nr_modules */
	assert_int_equal(rd64(si + 24), VM_CMDLINE_ADDR);
	assert_int_equal(rd64(si + 32), VM_ACPI_ADDR);
	assert_string_equal((char *)g(&m, VM_CMDLINE_ADDR), "console=hvc0");

	mod = g(&m, rd64(si + 16));
	rdat = (128 * MiB - rdlen) & ~0xfffULL;
	assert_int_equal(rd64(mod + 0), rdat);
	assert_int_equal(rd64(mod + 8), rdlen);
	assert_int_equal(rd64(mod + 16), 0);
	assert_int_equal(g(&m, rdat)[0], 0x5a);

	ne = vm_e820_build(&m, e820, 8);
	assert_int_equal(ne, 3);
	assert_int_equal(rd32(si + 48), ne);
	mm = g(&m, rd64(si + 40));
	assert_true(rd64(si + 40) >= VM_PVH_INFO_ADDR + 56);  /* not over start_info */
	for (i = 0; i < ne; i++) {
		assert_int_equal(rd64(mm + 24 * i), e820[i].addr);
		assert_int_equal(rd64(mm + 24 * i + 8), e820[i].size);
		assert_int_equal(rd32(mm + 24 * i + 16), e820[i].type);
		assert_int_equal(rd32(mm + 24 * i + 20), 0);
	}
	assert_int_equal(rd64(g(&m, VM_GDT_ADDR) + 8), 0x00cf9b000000ffffULL);

	/* a 4-byte entry note, no initrd */
	elf_init(&e, 4);
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), 0);
	assert_int_equal(b.entry, PVH_ENTRY);
	assert_int_equal(rd32(si + 12), 0);
	assert_int_equal(rd64(si + 16), 0);
	mem_free(&m);
}

static void test_pvh_refused(void **state)
{
	struct vm_mem m = mem_new(64 * MiB);
	struct cell_err err = { 0 };
	struct vm_boot b;
	struct elf_img e;

	/* program headers past the end of the file */
	elf_init(&e, 8);
	((Elf64_Ehdr *)e.b)->e_phoff = sizeof(e.b) - 64;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": the ELF program headers lie outside the file");
	elf_init(&e, 8);
	((Elf64_Ehdr *)e.b)->e_phoff = UINT64_MAX - 8;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": the ELF program headers lie outside the file");

	/* a PT_LOAD whose bytes are not in the file (offset + size overflows) */
	elf_init(&e, 8);
	elf_ph(&e, 1)->p_offset = UINT64_MAX - 0x100;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": program header 1 (PT_LOAD) lies outside the file");
	elf_init(&e, 8);
	elf_ph(&e, 1)->p_filesz = LOAD_MEMSZ + 1;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": program header 1 (PT_LOAD) lies outside the file");

	/* a truncated file */
	elf_init(&e, 8);
	assert_int_equal(elf_load(&m, &e, LOAD_OFF + 16, -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": program header 1 (PT_LOAD) lies outside the file");
	assert_int_equal(elf_load(&m, &e, 40, -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": truncated in the ELF header");

	/* a PT_NOTE past the file, and a note running past its segment */
	elf_init(&e, 8);
	elf_ph(&e, 0)->p_filesz = 0x10000;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": program header 0 (PT_NOTE) lies outside the file");
	elf_init(&e, 8);
	wr32(e.b + NOTE_OFF + 20 + 4, 0x7ffffff0);           /* descsz */
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": an ELF note runs past its segment");

	/* a segment beyond RAM, or over the boot structures */
	elf_init(&e, 8);
	elf_ph(&e, 1)->p_paddr = 64 * MiB - 0x1000;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": program header 1: 0x3fff000..0x4004000 is not in guest RAM (64 MiB)");
	elf_init(&e, 8);
	elf_ph(&e, 1)->p_paddr = UINT64_MAX - 0x10;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": program header 1: p_paddr 0xffffffffffffffef + p_memsz 0x5000 overflows");
	elf_init(&e, 8);
	elf_ph(&e, 1)->p_paddr = 0x8000;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "below 1 MiB"));

	/* no PVH note */
	elf_init(&e, 8);
	wr32(e.b + NOTE_OFF + 20 + 8, 17);
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_non_null(strstr(err.msg, KNAME ": an ELF vmlinux without a PVH entry note"));

	/* the entry outside the loaded segment */
	elf_init(&e, 8);
	wr64(e.b + NOTE_OFF + 20 + 16, 0x2000000);
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_string_equal(err.msg, KNAME ": the PVH entry 0x2000000 is not inside a loaded segment below 4 GiB");

	/* not x86-64, not an executable, odd phentsize */
	elf_init(&e, 8);
	((Elf64_Ehdr *)e.b)->e_machine = EM_AARCH64;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "not an x86-64 ELF"));
	elf_init(&e, 8);
	((Elf64_Ehdr *)e.b)->e_type = ET_DYN;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "not an executable"));
	elf_init(&e, 8);
	((Elf64_Ehdr *)e.b)->e_phentsize = 32;
	assert_int_equal(elf_load(&m, &e, sizeof(e.b), -1, &b, &err), -1);
	assert_non_null(strstr(err.msg, "program header size 32"));
	mem_free(&m);
}

/* ---- a bzImage's vmlinux, unpacked into the store (images/kernel.c) ---- */

/* A bzImage (this file's setup header) whose payload is data compressed
 * with filter, followed by the size trailer the kernel's build appends. */
static size_t bz_packed(uint8_t *out, size_t cap, const void *data, size_t len, int filter, uint32_t trailer)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = archive_entry_new();
	struct bz b;
	size_t used = 0;

	assert_non_null(a);
	assert_non_null(e);
	bz_init(&b);
	memcpy(out, b.img, SETUP_LEN);
	assert_int_equal(archive_write_add_filter(a, filter), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_raw(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_memory(a, out + SETUP_LEN, cap - SETUP_LEN - 4, &used), ARCHIVE_OK);
	archive_entry_set_pathname(e, "vmlinux.bin");
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_size(e, (la_int64_t)len);
	assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
	assert_int_equal(archive_write_data(a, data, len), (la_ssize_t)len);
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_entry_free(e);
	archive_write_free(a);
	wr32(out + SETUP_LEN + used, trailer);
	wr32(out + 0x1f4, (uint32_t)((used + 4 + 15) / 16));  /* syssize */
	wr32(out + 0x248, 0);                                  /* payload_offset */
	wr32(out + 0x24c, (uint32_t)(used + 4));               /* payload_length */
	return SETUP_LEN + used + 4;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* How many names in dir start with prefix. */
static unsigned count_prefix(const char *dir, const char *prefix)
{
	char cmd[512], out[32] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls -A %s 2>/dev/null | grep -c '^%s'", dir, prefix);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(out, sizeof(out), f) ? out : NULL);
	pclose(f);
	return (unsigned)atoi(out);
}

static void assert_fd_holds(int fd, const void *want, size_t len)
{
	struct stat st;
	uint8_t *got = malloc(len);

	assert_non_null(got);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, (off_t)len);
	assert_int_equal(pread(fd, got, len, 0), (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
	/* read-only: nobody holding it changes the cache */
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
}

static void test_kernel_unpack(void **state)
{
	static uint8_t img[64 << 10];
	char store[] = "/tmp/cell-kstore.XXXXXX", kdir[64], *path = NULL;
	struct cell_err err = { 0 };
	struct elf_img e;
	int filters[] = { ARCHIVE_FILTER_XZ, ARCHIVE_FILTER_GZIP, ARCHIVE_FILTER_ZSTD, ARCHIVE_FILTER_BZIP2 };
	int fd, elf = -1;
	size_t len;

	assert_non_null(mkdtemp(store));
	snprintf(kdir, sizeof(kdir), "%s/kernels", store);
	elf_init(&e, 8);
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), filters[i], sizeof(e.b));
		fd = file_of(img, len);
		assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 1);
		assert_fd_holds(elf, e.b, sizeof(e.b));
		assert_non_null(strstr(path, "/kernels/"));
		assert_int_equal(strlen(strrchr(path, '/') + 1), 64);
		close(elf);
		/* again: from the store, the same file */
		free(path);
		assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 1);
		assert_fd_holds(elf, e.b, sizeof(e.b));
		close(elf);
		free(path);
		close(fd);
		/* a file that changed in the last seconds gets no stat shortcut */
		assert_int_equal(count_prefix(kdir, "stat-"), 0);
	}
	/* one vmlinux, four bzImages */
	assert_int_equal(count_prefix(kdir, ""), 4);

	/* the same bzImage changed in place: the new kernel, not the cached one */
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_XZ, sizeof(e.b));
	fd = file_of(img, len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 1);
	close(elf);
	free(path);
	e.b[LOAD_OFF + 5] ^= 0xff;
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_XZ, sizeof(e.b));
	assert_int_equal(pwrite(fd, img, len, 0), (ssize_t)len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 1);
	assert_fd_holds(elf, e.b, sizeof(e.b));
	close(elf);
	free(path);

	/* two seconds on, the file's identity and times lead to its vmlinux */
	sleep(2);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 1);
	close(elf);
	free(path);
	assert_int_equal(count_prefix(kdir, "stat-"), 1);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 1);
	assert_fd_holds(elf, e.b, sizeof(e.b));
	close(elf);
	free(path);
	close(fd);
	rm_rf(store);
}

static void test_kernel_unpack_refused(void **state)
{
	static uint8_t img[64 << 10];
	char store[] = "/tmp/cell-kstore.XXXXXX", kdir[64], bad[160], *path = (char *)"x";
	struct cell_err err = { 0 };
	struct elf_img e;
	int fd, elf = 7;
	size_t len;

	assert_non_null(mkdtemp(store));
	snprintf(kdir, sizeof(kdir), "%s/kernels", store);

	/* an ELF vmlinux boots as it is: the store is not even opened */
	elf_init(&e, 8);
	fd = file_of(e.b, sizeof(e.b));
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	assert_int_equal(elf, -1);
	assert_null(path);
	close(fd);
	/* so is what is not a kernel (the VMM's loader says what is wrong) */
	fd = file_of("hello", 5);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	close(fd);
	assert_int_equal(count_prefix(store, ""), 0);

	/* a payload that is no PVH vmlinux: remembered with the reason */
	wr32(e.b + NOTE_OFF + 20 + 8, 17);
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_XZ, sizeof(e.b));
	fd = file_of(img, len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	close(fd);
	assert_int_equal(count_prefix(kdir, ""), 1);
	snprintf(bad, sizeof(bad), "grep -q 'not an ELF vmlinux with a PVH entry' %s/*.bzimage", kdir);
	assert_int_equal(system(bad), 0);

	/* the size trailer disagrees with the data; damaged compressed data */
	elf_init(&e, 8);
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_GZIP, sizeof(e.b) + 1);
	fd = file_of(img, len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	close(fd);
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_GZIP, sizeof(e.b) - 1);
	fd = file_of(img, len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	close(fd);
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_XZ, sizeof(e.b));
	for (size_t i = SETUP_LEN + 40; i < SETUP_LEN + 80; i++)
		img[i] ^= 0x5a;
	fd = file_of(img, len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	close(fd);
	/* a payload range outside the file */
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_XZ, sizeof(e.b));
	wr32(img + 0x24c, (uint32_t)len);
	fd = file_of(img, len);
	assert_int_equal(cell_image_kernel(store, fd, KNAME, &elf, &path, &err), 0);
	close(fd);
	assert_int_equal(count_prefix(kdir, "stat-"), 0);
	assert_int_equal(elf, -1);
	assert_null(path);

	/* a store that cannot be made: an error naming it */
	len = bz_packed(img, sizeof(img), e.b, sizeof(e.b), ARCHIVE_FILTER_XZ, sizeof(e.b));
	fd = file_of(img, len);
	snprintf(bad, sizeof(bad), "%s/kernels/x", store);
	close(open(bad, O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
	strcat(bad, "/store");
	assert_int_equal(cell_image_kernel(bad, fd, KNAME, &elf, &path, &err), -1);
	assert_non_null(strstr(err.msg, "store "));
	assert_int_equal(err.errnum, ENOTDIR);
	close(fd);
	rm_rf(store);
}

static void test_setup_bsp_needs_kvm(void **state)
{
	struct vm_boot b = { VM_BOOT_BZIMAGE64, 0x100200, VM_ZERO_PAGE_ADDR };
	struct cell_err err = { 0 };

	/* without a vCPU fd the first ioctl fails and says which */
	assert_int_equal(vm_boot_setup_bsp(-1, &b, &err), -1);
	assert_string_equal(err.msg, "KVM_GET_SREGS: Bad file descriptor");
	assert_int_equal(err.errnum, EBADF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_zero_page),
		cmocka_unit_test(test_bzimage_initrd),
		cmocka_unit_test(test_bzimage_refused),
		cmocka_unit_test(test_bzimage_cmdline),
		cmocka_unit_test(test_cmdline_compose),
		cmocka_unit_test(test_e820),
		cmocka_unit_test(test_pvh),
		cmocka_unit_test(test_pvh_refused),
		cmocka_unit_test(test_kernel_unpack),
		cmocka_unit_test(test_kernel_unpack_refused),
		cmocka_unit_test(test_setup_bsp_needs_kvm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
