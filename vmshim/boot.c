/* vmshim/boot.c: direct kernel boot — detect and load a bzImage (64-bit
 * boot protocol) or an ELF vmlinux with a PVH entry note, the initrd and
 * the command line; the zero page or hvm_start_info with the e820 map; the
 * boot GDT and identity page tables; the boot vCPU's registers.
 * The kernel and initrd files are untrusted input: every offset and size
 * read from them is checked against the file and against guest RAM. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "bootparam.h"
#include "vm.h"

#define MiB ((uint64_t)1 << 20)
#define PAGE_SIZE 0x1000ULL

#define BOOT_MIN_PROTOCOL 0x020c          /* xloadflags (XLF_KERNEL_64) appeared in 2.12 */
#define BOOT_HEAP_END     0xfe00          /* heap_end_ptr: the conventional 16-bit setup heap */
#define BOOT_STACK_ADDR   0x8ff0ULL       /* free low memory below the PML4 at 0x9000 */
#define BOOT_PROBE_LEN    0x400           /* enough for the setup header and the ELF header */
#define BOOT_MAX_PHDRS    128             /* a vmlinux has a handful */
#define BOOT_MAX_NOTES    (1ULL << 20)    /* PT_NOTE bytes we are willing to read */
#define INITRD_NAME       "vm.kernel.initrd"

/* ---- file access ---- */

/* Read exactly len bytes at off; a short file is "truncated". */
static int file_read(int fd, uint64_t off, void *buf, uint64_t len, const char *name,
		     struct cell_err *err)
{
	uint8_t *p = buf;

	while (len > 0) {
		size_t chunk = len > (1U << 30) ? (1U << 30) : (size_t)len;
		ssize_t n = pread(fd, p, chunk, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return cell_err_set(err, errno, "%s: read at offset %" PRIu64, name, off);
		}
		if (n == 0)
			return cell_err_set(err, 0, "%s: truncated (ends before offset %" PRIu64 ")",
					    name, off + len);
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

static int file_size(int fd, const char *name, uint64_t *size, struct cell_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return cell_err_set(err, errno, "%s: fstat", name);
	if (!S_ISREG(st.st_mode))
		return cell_err_set(err, 0, "%s: not a regular file", name);
	*size = (uint64_t)st.st_size;
	return 0;
}

/* "300 MiB" or "4096 bytes" for messages */
static const char *size_str(uint64_t n, char *buf, size_t len)
{
	if (n >= MiB)
		snprintf(buf, len, "%" PRIu64 " MiB", (n + MiB - 1) / MiB);
	else
		snprintf(buf, len, "%" PRIu64 " bytes", n);
	return buf;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) | (uint32_t)get16(p + 2) << 16; }

/* ---- the e820 map ---- */

size_t vm_e820_build(const struct vm_mem *m, struct vm_e820 *out, size_t max)
{
	struct vm_e820 e[5];
	uint64_t low_top = vm_ram_below_4g(m);
	size_t n = 0, i;

	e[n++] = (struct vm_e820){ 0, VM_EBDA_START, VM_E820_RAM };
	/* EBDA, legacy BIOS area and the ACPI tables at 0xE0000 */
	e[n++] = (struct vm_e820){ VM_EBDA_START, VM_KERNEL_ADDR - VM_EBDA_START, VM_E820_RESERVED };
	if (low_top > VM_KERNEL_ADDR)
		e[n++] = (struct vm_e820){ VM_KERNEL_ADDR, low_top - VM_KERNEL_ADDR, VM_E820_RAM };
	for (i = 0; i < m->nr && i < 2; i++)
		if (m->r[i].gpa >= VM_MMIO_HOLE_END && m->r[i].size > 0)
			e[n++] = (struct vm_e820){ m->r[i].gpa, m->r[i].size, VM_E820_RAM };
	for (i = 0; i < n && i < max; i++)
		out[i] = e[i];
	return n < max ? n : max;
}

/* ---- shared pieces ---- */

static void *guest_ptr(struct vm_mem *m, uint64_t gpa, uint64_t len, const char *what,
		       struct cell_err *err)
{
	void *p = vm_gpa(m, gpa, len);

	if (!p)
		cell_err_set(err, 0, "%s: [0x%" PRIx64 ", 0x%" PRIx64 ") is not guest RAM", what, gpa,
			     gpa + len);
	return p;
}

/* The GDT both entry modes use: flat 32-bit code, 64-bit code (__BOOT_CS),
 * flat data (__BOOT_DS) and a TSS descriptor for TR. */
static int write_gdt(struct vm_mem *m, struct cell_err *err)
{
	uint64_t *gdt = guest_ptr(m, VM_GDT_ADDR, VM_GDT_SIZE, "boot GDT", err);

	if (!gdt)
		return -1;
	memset(gdt, 0, VM_GDT_SIZE);
	gdt[VM_GDT_CODE32_SEL / 8] = 0x00cf9b000000ffffULL;  /* base 0, 4 GiB, exec/read, D=1 */
	gdt[VM_GDT_CODE64_SEL / 8] = 0x00af9b000000ffffULL;  /* L=1 */
	gdt[VM_GDT_DATA_SEL / 8] = 0x00cf93000000ffffULL;    /* read/write, B=1 */
	gdt[VM_GDT_TSS_SEL / 8] = 0x00008b0000000067ULL;     /* busy TSS, base 0, limit 0x67 */
	return 0;
}

/* PML4 -> one PDPT -> four PDs of 2 MiB pages: 0..4 GiB identity mapped. */
static int write_page_tables(struct vm_mem *m, struct cell_err *err)
{
	const uint64_t pdpt_addr = VM_PML4_ADDR + PAGE_SIZE, pd_addr = VM_PML4_ADDR + 2 * PAGE_SIZE;
	uint64_t *pml4 = guest_ptr(m, VM_PML4_ADDR, 6 * PAGE_SIZE, "boot page tables", err);
	uint64_t *pdpt, *pd;
	unsigned i;

	if (!pml4)
		return -1;
	memset(pml4, 0, 6 * PAGE_SIZE);
	pdpt = pml4 + 512;
	pd = pml4 + 1024;
	pml4[0] = pdpt_addr | 0x3;                        /* present, writable */
	for (i = 0; i < 4; i++)
		pdpt[i] = (pd_addr + i * PAGE_SIZE) | 0x3;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;       /* present, writable, 2 MiB page */
	return 0;
}

static int write_cmdline(struct vm_mem *m, const char *cmdline, uint64_t max_len,
			 const char *kernel_name, struct cell_err *err)
{
	size_t len = strlen(cmdline);
	char *p;

	if (len > max_len)
		return cell_err_set(err, 0,
				    "%s: the command line is %zu bytes, the kernel accepts at most %" PRIu64,
				    kernel_name, len, max_len);
	p = guest_ptr(m, VM_CMDLINE_ADDR, len + 1, "kernel command line", err);
	if (!p)
		return -1;
	memcpy(p, cmdline, len + 1);
	return 0;
}

/* Put the initrd page-aligned at the highest address whose end is <= top
 * and whose start is >= kernel_end.  *size 0 and *addr 0: no initrd. */
static int load_initrd(struct vm_mem *m, int fd, uint64_t kernel_end, uint64_t top,
		       uint64_t *addr, uint64_t *size, struct cell_err *err)
{
	uint64_t len, at;
	char sz[32];
	void *p;

	*addr = *size = 0;
	if (fd < 0)
		return 0;
	if (file_size(fd, INITRD_NAME, &len, err) < 0)
		return -1;
	if (len == 0)
		return cell_err_set(err, 0, INITRD_NAME ": empty file");
	if (top > vm_ram_below_4g(m))
		top = vm_ram_below_4g(m);
	kernel_end = (kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	if (len > top || ((top - len) & ~(PAGE_SIZE - 1)) < kernel_end)
		return cell_err_set(err, 0,
				    INITRD_NAME ": %s does not fit between the kernel's end (0x%" PRIx64
				    ") and 0x%" PRIx64 " in %" PRIu64 " MiB of RAM",
				    size_str(len, sz, sizeof(sz)), kernel_end, top, m->size / MiB);
	at = (top - len) & ~(PAGE_SIZE - 1);
	p = guest_ptr(m, at, len, INITRD_NAME, err);
	if (!p)
		return -1;
	if (file_read(fd, 0, p, len, INITRD_NAME, err) < 0)
		return -1;
	*addr = at;
	*size = len;
	return 0;
}

/* ---- bzImage ---- */

/* The setup header of a bzImage (probe holds the file's first bytes, up
 * to "HdrS" at least), checked for what a 64-bit direct boot needs. */
static int bz_header(const uint8_t *probe, size_t probe_len, const char *name, struct bp_setup_header *out,
		     uint64_t *out_end, struct cell_err *err)
{
	struct bp_setup_header h;
	uint64_t hdr_end;

	memset(&h, 0, sizeof(h));
	hdr_end = 0x202 + (uint64_t)probe[0x201];
	if (hdr_end > BP_SETUP_HDR_OFF + sizeof(h))
		hdr_end = BP_SETUP_HDR_OFF + sizeof(h);
	if (hdr_end > probe_len)
		return cell_err_set(err, 0, "%s: truncated in the setup header", name);
	if (hdr_end < 0x208)
		return cell_err_set(err, 0, "%s: the setup header ends at 0x%" PRIx64 ", before its version field",
				    name, hdr_end);
	memcpy(&h, probe + BP_SETUP_HDR_OFF, hdr_end - BP_SETUP_HDR_OFF);

	if (h.version < BOOT_MIN_PROTOCOL)
		return cell_err_set(err, 0,
				    "%s: boot protocol %u.%02u is too old (need 2.12+ for the 64-bit entry)",
				    name, h.version >> 8, h.version & 0xff);
	if (!(h.xloadflags & BP_XLF_KERNEL_64))
		return cell_err_set(err, 0, "%s: not a 64-bit kernel (xloadflags lacks XLF_KERNEL_64)",
				    name);
	if (!(h.loadflags & BP_LOADED_HIGH))
		return cell_err_set(err, 0, "%s: a zImage (not loaded high) is not supported", name);

	*out = h;
	*out_end = hdr_end;
	return 0;
}

static int load_bzimage(struct vm_mem *m, int fd, const char *name, uint64_t fsize,
			const uint8_t *probe, size_t probe_len, int initrd_fd, const char *cmdline,
			uint64_t rsdp, struct vm_boot *out, struct cell_err *err)
{
	struct bp_setup_header h;
	struct bp_boot_params *bp;
	struct vm_e820 e820[BP_E820_MAX];
	uint64_t setup_len, pm_len, hdr_end, run_start, kernel_end, top, rd_addr, rd_size;
	unsigned setup_sects;
	size_t ne, i;
	void *dst;

	if (bz_header(probe, probe_len, name, &h, &hdr_end, err) < 0)
		return -1;
	setup_sects = h.setup_sects ? h.setup_sects : BP_SETUP_SECTS_DFLT;
	setup_len = (uint64_t)(setup_sects + 1) * BP_SECTOR;
	if (fsize <= setup_len)
		return cell_err_set(err, 0, "%s: truncated (%" PRIu64 " bytes, the setup code alone is %" PRIu64 ")",
				    name, fsize, setup_len);
	pm_len = fsize - setup_len;
	if (h.syssize) {
		/* syssize counts 16-byte paragraphs; anything past it (a signature) is not code */
		if ((uint64_t)h.syssize * 16 > pm_len)
			return cell_err_set(err, 0,
					    "%s: truncated (syssize says %" PRIu64 " bytes of kernel, the file has %" PRIu64 ")",
					    name, (uint64_t)h.syssize * 16, pm_len);
		pm_len = (uint64_t)h.syssize * 16;
	}

	/* The kernel decompresses itself into init_size bytes from where it
	 * will run: the load address rounded up to kernel_alignment but not
	 * below pref_address (its link-time address) when it can relocate,
	 * else pref_address itself.  The initrd must stay out of that. */
	if (h.kernel_alignment == 0 || (h.kernel_alignment & (h.kernel_alignment - 1)))
		return cell_err_set(err, 0, "%s: kernel_alignment 0x%x is not a power of two", name,
				    h.kernel_alignment);
	run_start = (VM_KERNEL_ADDR + h.kernel_alignment - 1) & ~((uint64_t)h.kernel_alignment - 1);
	if (h.pref_address > run_start || (!h.relocatable_kernel && h.pref_address))
		run_start = h.pref_address;
	if (run_start < VM_KERNEL_ADDR)
		return cell_err_set(err, 0, "%s: pref_address 0x%" PRIx64 " is below 1 MiB", name, run_start);
	kernel_end = VM_KERNEL_ADDR + pm_len;
	if (h.init_size > UINT64_MAX - run_start)
		return cell_err_set(err, 0, "%s: pref_address 0x%" PRIx64 " is out of range", name,
				    run_start);
	if (run_start + h.init_size > kernel_end)
		kernel_end = run_start + h.init_size;
	if (kernel_end > vm_ram_below_4g(m) || !vm_gpa(m, VM_KERNEL_ADDR, kernel_end - VM_KERNEL_ADDR))
		return cell_err_set(err, 0,
				    "%s: the kernel needs memory up to 0x%" PRIx64 " (init_size %" PRIu64
				    " MiB) but RAM below 4 GiB ends at 0x%" PRIx64,
				    name, kernel_end, ((uint64_t)h.init_size + MiB - 1) / MiB,
				    vm_ram_below_4g(m));

	dst = vm_gpa(m, VM_KERNEL_ADDR, pm_len);
	if (file_read(fd, setup_len, dst, pm_len, name, err) < 0)
		return -1;

	if (write_cmdline(m, cmdline, h.cmdline_size < VM_CMDLINE_MAX - 1 ? h.cmdline_size : VM_CMDLINE_MAX - 1,
			  name, err) < 0)
		return -1;

	/* initrd_addr_max is the last byte the initrd may occupy */
	top = (uint64_t)h.initrd_addr_max + 1;
	if (load_initrd(m, initrd_fd, kernel_end, top, &rd_addr, &rd_size, err) < 0)
		return -1;

	bp = guest_ptr(m, VM_ZERO_PAGE_ADDR, sizeof(*bp), "zero page", err);
	if (!bp)
		return -1;
	memset(bp, 0, sizeof(*bp));
	memcpy((uint8_t *)bp + BP_SETUP_HDR_OFF, &h, hdr_end - BP_SETUP_HDR_OFF);
	bp->hdr.type_of_loader = BP_LOADER_UNDEFINED;
	/* KEEP_SEGMENTS only concerns the 32-bit entry; we enter at 64 bits */
	bp->hdr.loadflags |= BP_CAN_USE_HEAP;
	bp->hdr.heap_end_ptr = BOOT_HEAP_END;
	bp->hdr.cmd_line_ptr = (uint32_t)VM_CMDLINE_ADDR;
	bp->ext_cmd_line_ptr = 0;
	bp->hdr.ramdisk_image = (uint32_t)rd_addr;
	bp->hdr.ramdisk_size = (uint32_t)rd_size;
	bp->acpi_rsdp_addr = rsdp;

	ne = vm_e820_build(m, e820, BP_E820_MAX);
	for (i = 0; i < ne; i++) {
		bp->e820_table[i].addr = e820[i].addr;
		bp->e820_table[i].size = e820[i].size;
		bp->e820_table[i].type = e820[i].type;
	}
	bp->e820_entries = (uint8_t)ne;

	out->mode = VM_BOOT_BZIMAGE64;
	out->entry = VM_KERNEL_ADDR + BP_ENTRY64_OFF;
	out->boot_info = VM_ZERO_PAGE_ADDR;
	return 0;
}

/* ---- ELF vmlinux with a PVH entry ---- */

/* Find the XEN_ELFNOTE_PHYS32_ENTRY note in one PT_NOTE segment.
 * Returns 1 found, 0 not there, -1 malformed. */
static int find_pvh_note(const uint8_t *p, uint64_t len, uint64_t *entry, const char *name,
			 struct cell_err *err)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr n;
		uint64_t name_len, desc_len, desc_off;

		memcpy(&n, p + off, sizeof(n));
		/* names and descriptors are padded to 4 bytes */
		name_len = ((uint64_t)n.n_namesz + 3) & ~3ULL;
		desc_len = ((uint64_t)n.n_descsz + 3) & ~3ULL;
		desc_off = off + sizeof(n) + name_len;
		if (name_len > len - off - sizeof(n) || desc_len > len - desc_off)
			return cell_err_set(err, 0, "%s: an ELF note runs past its segment", name);
		if (n.n_type == PVH_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4 &&
		    memcmp(p + off + sizeof(n), "Xen", 4) == 0) {
			if (n.n_descsz == 4)
				*entry = get32(p + desc_off);
			else if (n.n_descsz == 8)
				*entry = (uint64_t)get32(p + desc_off) | (uint64_t)get32(p + desc_off + 4) << 32;
			else
				return cell_err_set(err, 0, "%s: the PVH entry note has %u bytes (want 4 or 8)",
						    name, n.n_descsz);
			return 1;
		}
		off = desc_off + desc_len;
	}
	return 0;
}

static int pvh_scan(int fd, const char *name, uint64_t fsize, const Elf64_Phdr *ph, unsigned phnum,
		    uint64_t *entry, struct cell_err *err)
{
	unsigned i;

	for (i = 0; i < phnum; i++) {
		uint8_t *buf;
		int r;

		if (ph[i].p_type != PT_NOTE || ph[i].p_filesz == 0)
			continue;
		if (ph[i].p_offset > fsize || ph[i].p_filesz > fsize - ph[i].p_offset)
			return cell_err_set(err, 0, "%s: program header %u (PT_NOTE) lies outside the file",
					    name, i);
		if (ph[i].p_filesz > BOOT_MAX_NOTES)
			return cell_err_set(err, 0, "%s: program header %u: %" PRIu64 " bytes of notes is too many",
					    name, i, (uint64_t)ph[i].p_filesz);
		buf = malloc(ph[i].p_filesz);
		if (!buf)
			return cell_err_set(err, ENOMEM, "%s: notes", name);
		r = file_read(fd, ph[i].p_offset, buf, ph[i].p_filesz, name, err);
		if (r == 0)
			r = find_pvh_note(buf, ph[i].p_filesz, entry, name, err);
		free(buf);
		if (r != 0)
			return r;
	}
	return 0;
}

/* The headers of an ELF vmlinux with a PVH entry (probe: the file's first
 * bytes): its program headers (*php, caller frees) and the entry. */
static int pvh_headers(int fd, const char *name, uint64_t fsize, const uint8_t *probe, size_t probe_len,
		       Elf64_Phdr **php, unsigned *phnum, uint64_t *entry_out, struct cell_err *err)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	uint64_t entry = 0;
	int r;

	if (probe_len < sizeof(eh))
		return cell_err_set(err, 0, "%s: truncated in the ELF header", name);
	memcpy(&eh, probe, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64)
		return cell_err_set(err, 0, "%s: not an x86-64 ELF (little-endian, 64-bit) vmlinux", name);
	if (eh.e_type != ET_EXEC)
		return cell_err_set(err, 0, "%s: ELF type %u is not an executable vmlinux", name, eh.e_type);
	if (eh.e_phnum == 0 || eh.e_phnum > BOOT_MAX_PHDRS)
		return cell_err_set(err, 0, "%s: %u ELF program headers (want 1..%u)", name, eh.e_phnum,
				    BOOT_MAX_PHDRS);
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return cell_err_set(err, 0, "%s: ELF program header size %u (want %zu)", name,
				    eh.e_phentsize, sizeof(Elf64_Phdr));
	if (eh.e_phoff > fsize || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > fsize - eh.e_phoff)
		return cell_err_set(err, 0, "%s: the ELF program headers lie outside the file", name);

	ph = calloc(eh.e_phnum, sizeof(*ph));
	if (!ph)
		return cell_err_set(err, ENOMEM, "%s: program headers", name);
	r = file_read(fd, eh.e_phoff, ph, (uint64_t)eh.e_phnum * sizeof(*ph), name, err);
	if (r == 0)
		r = pvh_scan(fd, name, fsize, ph, eh.e_phnum, &entry, err);
	if (r == 0 && entry == 0)
		r = cell_err_set(err, 0, "%s: an ELF vmlinux without a PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY); "
				 "build the kernel with CONFIG_PVH or use a bzImage", name);
	if (r < 0) {
		free(ph);
		return -1;
	}
	*php = ph;
	*phnum = eh.e_phnum;
	*entry_out = entry;
	return 0;
}

static int load_pvh(struct vm_mem *m, int fd, const char *name, uint64_t fsize,
		    const uint8_t *probe, size_t probe_len, int initrd_fd, const char *cmdline,
		    uint64_t rsdp, struct vm_boot *out, struct cell_err *err)
{
	Elf64_Phdr *ph = NULL;
	struct vm_e820 e820[8];
	struct pvh_start_info *si;
	struct pvh_modlist_entry *mod;
	struct pvh_memmap_entry *mm;
	uint64_t entry = 0, kernel_end = 0, rd_addr, rd_size;
	bool entry_loaded = false;
	unsigned i, phnum = 0, nload = 0;
	size_t ne;
	int r = -1;

	if (pvh_headers(fd, name, fsize, probe, probe_len, &ph, &phnum, &entry, err) < 0)
		return -1;

	for (i = 0; i < phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		uint8_t *dst;

		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_filesz > p->p_memsz ||
		    p->p_offset > fsize || p->p_filesz > fsize - p->p_offset) {
			cell_err_set(err, 0, "%s: program header %u (PT_LOAD) lies outside the file", name, i);
			goto out;
		}
		if (p->p_paddr < VM_KERNEL_ADDR) {
			cell_err_set(err, 0, "%s: program header %u loads at 0x%" PRIx64
				     ", below 1 MiB where the boot structures live", name, i, (uint64_t)p->p_paddr);
			goto out;
		}
		if (p->p_memsz > UINT64_MAX - p->p_paddr) {
			cell_err_set(err, 0, "%s: program header %u: p_paddr 0x%" PRIx64 " + p_memsz 0x%" PRIx64
				     " overflows", name, i, (uint64_t)p->p_paddr, (uint64_t)p->p_memsz);
			goto out;
		}
		dst = vm_gpa(m, p->p_paddr, p->p_memsz);
		if (!dst) {
			cell_err_set(err, 0, "%s: program header %u: 0x%" PRIx64 "..0x%" PRIx64
				     " is not in guest RAM (%" PRIu64 " MiB)", name, i, (uint64_t)p->p_paddr,
				     (uint64_t)(p->p_paddr + p->p_memsz), m->size / MiB);
			goto out;
		}
		if (file_read(fd, p->p_offset, dst, p->p_filesz, name, err) < 0)
			goto out;
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
		if (p->p_paddr + p->p_memsz > kernel_end)
			kernel_end = p->p_paddr + p->p_memsz;
		if (entry >= p->p_paddr && entry - p->p_paddr < p->p_memsz)
			entry_loaded = true;
		nload++;
	}
	if (nload == 0) {
		cell_err_set(err, 0, "%s: no loadable ELF segment", name);
		goto out;
	}
	if (!entry_loaded || entry >= VM_MMIO_HOLE_START) {
		cell_err_set(err, 0, "%s: the PVH entry 0x%" PRIx64 " is not inside a loaded segment below 4 GiB",
			     name, entry);
		goto out;
	}

	if (write_cmdline(m, cmdline, VM_CMDLINE_MAX - 1, name, err) < 0)
		goto out;
	if (load_initrd(m, initrd_fd, kernel_end, VM_MMIO_HOLE_START, &rd_addr, &rd_size, err) < 0)
		goto out;

	si = guest_ptr(m, VM_PVH_INFO_ADDR, PAGE_SIZE, "PVH start info", err);
	if (!si)
		goto out;
	memset(si, 0, PAGE_SIZE);
	mod = (struct pvh_modlist_entry *)((uint8_t *)si + PVH_MODLIST_OFF);
	mm = (struct pvh_memmap_entry *)((uint8_t *)si + PVH_MEMMAP_OFF);
	si->magic = PVH_START_MAGIC;
	si->version = PVH_START_VERSION;
	si->cmdline_paddr = VM_CMDLINE_ADDR;
	si->rsdp_paddr = rsdp;
	if (rd_size) {
		mod->paddr = rd_addr;
		mod->size = rd_size;
		si->nr_modules = 1;
		si->modlist_paddr = VM_PVH_INFO_ADDR + PVH_MODLIST_OFF;
	}
	ne = vm_e820_build(m, e820, sizeof(e820) / sizeof(e820[0]));
	for (i = 0; i < ne; i++)
		mm[i] = (struct pvh_memmap_entry){ e820[i].addr, e820[i].size, e820[i].type, 0 };
	si->memmap_paddr = VM_PVH_INFO_ADDR + PVH_MEMMAP_OFF;
	si->memmap_entries = (uint32_t)ne;

	out->mode = VM_BOOT_PVH32;
	out->entry = entry;
	out->boot_info = VM_PVH_INFO_ADDR;
	r = 0;
out:
	free(ph);
	return r;
}

/* The first bytes of a kernel file and what it is: 1 an ELF, 2 a bzImage. */
static int kernel_head(int fd, const char *name, uint8_t *probe, size_t *probe_len, uint64_t *fsize,
		       struct cell_err *err)
{
	if (file_size(fd, name, fsize, err) < 0)
		return -1;
	*probe_len = *fsize < BOOT_PROBE_LEN ? (size_t)*fsize : BOOT_PROBE_LEN;
	if (file_read(fd, 0, probe, *probe_len, name, err) < 0)
		return -1;
	if (*probe_len >= SELFMAG && memcmp(probe, ELFMAG, SELFMAG) == 0)
		return 1;
	if (*probe_len >= 0x206 && get16(probe + 0x1fe) == BP_BOOT_FLAG_MAGIC &&
	    get32(probe + 0x202) == BP_HDRS_MAGIC)
		return 2;
	if (*fsize < 0x206)
		return cell_err_set(err, 0, "%s: not a bzImage or an ELF vmlinux (%" PRIu64 " bytes)", name,
				    *fsize);
	return cell_err_set(err, 0, "%s: not a bzImage or an ELF vmlinux", name);
}

int vmm_kernel_probe(int fd, const char *name, struct vmm_kernel_kind *out, struct cell_err *err)
{
	uint8_t probe[BOOT_PROBE_LEN];
	struct bp_setup_header h;
	Elf64_Phdr *ph;
	uint64_t fsize, hdr_end, entry, off;
	size_t probe_len;
	unsigned phnum;
	int kind = kernel_head(fd, name, probe, &probe_len, &fsize, err);

	memset(out, 0, sizeof(*out));
	if (kind < 0)
		return -1;
	if (kind == 1) {
		if (pvh_headers(fd, name, fsize, probe, probe_len, &ph, &phnum, &entry, err) < 0)
			return -1;
		free(ph);
		out->pvh = true;
		return 0;
	}
	if (bz_header(probe, probe_len, name, &h, &hdr_end, err) < 0)
		return -1;
	/* payload_offset counts from the protected-mode code, after the setup sectors */
	off = (uint64_t)((h.setup_sects ? h.setup_sects : BP_SETUP_SECTS_DFLT) + 1) * BP_SECTOR +
	      h.payload_offset;
	if (hdr_end < 0x250 || h.payload_length == 0)
		return 0;
	if (off > fsize || h.payload_length > fsize - off)
		return cell_err_set(err, 0, "%s: the compressed kernel (payload_offset/payload_length) "
				    "lies outside the file", name);
	out->payload_off = off;
	out->payload_len = h.payload_length;
	return 0;
}

int vm_boot_load(struct vm_mem *m, int kernel_fd, const char *kernel_name, int initrd_fd,
		 const char *cmdline, uint64_t rsdp, struct vm_boot *out, struct cell_err *err)
{
	uint8_t probe[BOOT_PROBE_LEN];
	uint64_t fsize;
	size_t probe_len;
	struct vm_boot b;
	int r;

	if (!kernel_name)
		kernel_name = "kernel";
	if (!cmdline)
		cmdline = "";
	r = kernel_head(kernel_fd, kernel_name, probe, &probe_len, &fsize, err);
	if (r == 1)
		r = load_pvh(m, kernel_fd, kernel_name, fsize, probe, probe_len, initrd_fd, cmdline,
			     rsdp, &b, err);
	else if (r == 2)
		r = load_bzimage(m, kernel_fd, kernel_name, fsize, probe, probe_len, initrd_fd,
				 cmdline, rsdp, &b, err);
	if (r < 0)
		return -1;
	if (write_gdt(m, err) < 0 || write_page_tables(m, err) < 0)
		return -1;
	*out = b;
	return 0;
}

/* ---- the boot vCPU ---- */

#define CR0_PE (1ULL << 0)
#define CR0_ET (1ULL << 4)
#define CR0_PG (1ULL << 31)
#define CR4_PAE (1ULL << 5)
#define EFER_LME (1ULL << 8)
#define EFER_LMA (1ULL << 10)

static struct kvm_segment flat_seg(uint16_t sel, uint8_t type, bool code64)
{
	return (struct kvm_segment){
		.base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
		.present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64 ? 1 : 0, .g = 1,
	};
}

int vm_boot_setup_bsp(int vcpu_fd, const struct vm_boot *b, struct cell_err *err)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_segment data = flat_seg(VM_GDT_DATA_SEL, 0x3, false);   /* read/write, accessed */
	bool lm = b->mode == VM_BOOT_BZIMAGE64;

	if (ioctl(vcpu_fd, KVM_GET_SREGS, &s) < 0)
		return cell_err_set(err, errno, "KVM_GET_SREGS");
	s.cs = flat_seg(lm ? VM_GDT_CODE64_SEL : VM_GDT_CODE32_SEL, 0xb, lm); /* exec/read, accessed */
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = VM_GDT_TSS_SEL,
				     .type = 0xb, .present = 1 };                  /* busy TSS */
	s.gdt.base = VM_GDT_ADDR;
	s.gdt.limit = VM_GDT_SIZE - 1;
	if (lm) {
		s.cr0 = CR0_PE | CR0_ET | CR0_PG;
		s.cr3 = VM_PML4_ADDR;
		s.cr4 = CR4_PAE;
		s.efer = EFER_LME | EFER_LMA;
	} else {
		/* PVH: 32-bit protected mode, paging off */
		s.cr0 = CR0_PE | CR0_ET;
		s.cr3 = 0;
		s.cr4 = 0;
		s.efer = 0;
	}
	if (ioctl(vcpu_fd, KVM_SET_SREGS, &s) < 0)
		return cell_err_set(err, errno, "KVM_SET_SREGS");

	memset(&r, 0, sizeof(r));
	r.rflags = 0x2;                  /* the reserved bit; IF and DF clear */
	r.rip = b->entry;
	r.rsp = BOOT_STACK_ADDR;
	if (lm)
		r.rsi = b->boot_info;    /* struct boot_params */
	else
		r.rbx = b->boot_info;    /* struct hvm_start_info */
	if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0)
		return cell_err_set(err, errno, "KVM_SET_REGS");
	return 0;
}

/* Whether the words of s before any "--" include one starting with key. */
static bool has_param(const char *s, const char *key, const char **dashdash)
{
	size_t kl = strlen(key);

	*dashdash = NULL;
	while (*s) {
		size_t n;
		while (*s == ' ')
			s++;
		n = strcspn(s, " ");
		if (n == 2 && !strncmp(s, "--", 2)) {
			*dashdash = s;
			return false;
		}
		if (n >= kl && !strncmp(s, key, kl))
			return true;
		s += n;
	}
	return false;
}

char *vm_cmdline_compose(const char *user)
{
	static const char add[] = "pci=off";
	const char *dd;
	char *out;

	if (!user)
		user = "";
	if (has_param(user, "pci=", &dd))
		return strdup(user);
	if (!dd) {
		if (asprintf(&out, "%s%s%s", user, *user ? " " : "", add) < 0)
			return NULL;
		return out;
	}
	/* "<before> pci=off -- <init's>" */
	if (asprintf(&out, "%.*s%s %s", (int)(dd - user), user, add, dd) < 0)
		return NULL;
	return out;
}
