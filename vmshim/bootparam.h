/* vmshim/bootparam.h: the guest-visible boot structures, written from the
 * documented layouts: the Linux/x86 boot protocol (setup header, zero
 * page; Documentation/arch/x86/boot.rst, zero-page.rst) and the PVH start
 * of day structure (Xen's public arch-x86/hvm/start_info.h).  Private to
 * boot.c and its tests. */
#ifndef CELL_VM_BOOTPARAM_H
#define CELL_VM_BOOTPARAM_H

#include <stddef.h>
#include <stdint.h>

/* ---- Linux/x86 boot protocol ---- */
#define BP_SETUP_HDR_OFF     0x1f1      /* setup header, in the file and the zero page */
#define BP_BOOT_FLAG_MAGIC   0xAA55     /* at 0x1fe */
#define BP_HDRS_MAGIC        0x53726448 /* "HdrS" at 0x202 */
#define BP_SECTOR            512
#define BP_SETUP_SECTS_DFLT  4          /* setup_sects == 0 means 4 */
#define BP_ENTRY64_OFF       0x200      /* 64-bit entry: load address + 0x200 */

/* loadflags */
#define BP_LOADED_HIGH       0x01
#define BP_KEEP_SEGMENTS     0x40
#define BP_CAN_USE_HEAP      0x80
/* xloadflags (2.12+) */
#define BP_XLF_KERNEL_64     0x0001
#define BP_XLF_CAN_BE_LOADED_ABOVE_4G 0x0002

#define BP_LOADER_UNDEFINED  0xff       /* type_of_loader: no assigned id */
#define BP_E820_MAX          128        /* entries in the zero page */

struct bp_setup_header {
	uint8_t  setup_sects;           /* 0x1f1 */
	uint16_t root_flags;
	uint32_t syssize;               /* protected-mode size, 16-byte units */
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;             /* 0x1fe: 0xAA55 */
	uint16_t jump;                  /* 0x200: jmp; byte 0x201 gives the header's end */
	uint32_t header;                /* 0x202: "HdrS" */
	uint16_t version;               /* 0x206 */
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t  type_of_loader;        /* 0x210 */
	uint8_t  loadflags;             /* 0x211 */
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;         /* 0x218 */
	uint32_t ramdisk_size;          /* 0x21c */
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;          /* 0x224 */
	uint8_t  ext_loader_ver;
	uint8_t  ext_loader_type;
	uint32_t cmd_line_ptr;          /* 0x228 */
	uint32_t initrd_addr_max;       /* 0x22c: highest byte the initrd may use */
	uint32_t kernel_alignment;
	uint8_t  relocatable_kernel;    /* 0x234 */
	uint8_t  min_alignment;
	uint16_t xloadflags;            /* 0x236 */
	uint32_t cmdline_size;          /* 0x238: without the NUL */
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;          /* 0x258 */
	uint32_t init_size;             /* 0x260 */
	uint32_t handover_offset;
	uint32_t kernel_info_offset;    /* 0x268 */
} __attribute__((packed));

struct bp_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* The zero page: only the fields a direct-boot loader fills are named. */
struct bp_boot_params {
	uint8_t  _pad0[0x070];
	uint64_t acpi_rsdp_addr;        /* 0x070 */
	uint8_t  _pad1[0x0c0 - 0x078];
	uint32_t ext_ramdisk_image;     /* 0x0c0 */
	uint32_t ext_ramdisk_size;      /* 0x0c4 */
	uint32_t ext_cmd_line_ptr;      /* 0x0c8 */
	uint8_t  _pad2[0x1e8 - 0x0cc];
	uint8_t  e820_entries;          /* 0x1e8 */
	uint8_t  _pad3[BP_SETUP_HDR_OFF - 0x1e9];
	struct bp_setup_header hdr;     /* 0x1f1 */
	uint8_t  _pad4[0x2d0 - 0x1f1 - sizeof(struct bp_setup_header)];
	struct bp_e820_entry e820_table[BP_E820_MAX];  /* 0x2d0 */
	uint8_t  _pad5[0x1000 - 0x2d0 - BP_E820_MAX * sizeof(struct bp_e820_entry)];
} __attribute__((packed));

_Static_assert(sizeof(struct bp_setup_header) == 0x26c - 0x1f1, "setup_header layout");
_Static_assert(offsetof(struct bp_setup_header, header) == 0x202 - 0x1f1, "header");
_Static_assert(offsetof(struct bp_setup_header, version) == 0x206 - 0x1f1, "version");
_Static_assert(offsetof(struct bp_setup_header, cmd_line_ptr) == 0x228 - 0x1f1, "cmd_line_ptr");
_Static_assert(offsetof(struct bp_setup_header, xloadflags) == 0x236 - 0x1f1, "xloadflags");
_Static_assert(offsetof(struct bp_setup_header, init_size) == 0x260 - 0x1f1, "init_size");
_Static_assert(offsetof(struct bp_boot_params, hdr) == 0x1f1, "hdr");
_Static_assert(offsetof(struct bp_boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(sizeof(struct bp_boot_params) == 0x1000, "zero page is one page");

/* ---- PVH (Xen's hvm_start_info, version 1) ---- */
#define PVH_START_MAGIC      0x336ec578
#define PVH_START_VERSION    1
#define PVH_ELFNOTE_PHYS32_ENTRY 18   /* XEN_ELFNOTE_PHYS32_ENTRY, owner "Xen" */

struct pvh_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;          /* version 1+ */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct pvh_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct pvh_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;                  /* e820 types */
	uint32_t reserved;
};

_Static_assert(sizeof(struct pvh_start_info) == 56, "hvm_start_info layout");
_Static_assert(offsetof(struct pvh_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(sizeof(struct pvh_modlist_entry) == 32, "hvm_modlist_entry layout");
_Static_assert(sizeof(struct pvh_memmap_entry) == 24, "hvm_memmap_table_entry layout");

/* Where boot.c puts the pieces of the PVH block at VM_PVH_INFO_ADDR. */
#define PVH_MODLIST_OFF      0x40
#define PVH_MEMMAP_OFF       0x80

/* Where boot.c puts the GDT's selectors (VM_GDT_ADDR). */
#define VM_GDT_CODE32_SEL    0x08
#define VM_GDT_CODE64_SEL    0x10       /* __BOOT_CS of the 64-bit boot protocol */
#define VM_GDT_DATA_SEL      0x18       /* __BOOT_DS */
#define VM_GDT_TSS_SEL       0x20       /* 16 bytes (a long-mode system descriptor) */
#define VM_GDT_SIZE          0x30

#endif
