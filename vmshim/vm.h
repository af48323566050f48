/* vmshim/ internals: the machine description every part of the VMM reads
 * (memory map, I/O ports, IRQs), guest memory access, the device bus, and
 * the interfaces between kvm/vcpu, boot, ACPI and the devices.
 *
 * Guest physical memory map (x86-64):
 *   0x0000_0000 .. min(RAM, 3 GiB)      RAM (low)
 *   0xC000_0000 .. 0x1_0000_0000        hole: MMIO (IOAPIC, LAPIC, TSS)
 *   0x1_0000_0000 .. 4 GiB + (RAM - 3 GiB)   RAM (high), when RAM > 3 GiB
 * Everything the guest hands the VMM is untrusted: use vm_gpa() for any
 * guest address and check every length. */
#ifndef CELL_VM_H
#define CELL_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../runtime/err.h"
#include "vmm.h"

/* ---- the machine layout (one place; boot, ACPI and devices read it) ---- */
#define VM_MMIO_HOLE_START   0xC0000000ULL
#define VM_MMIO_HOLE_END     0x100000000ULL
#define VM_IOAPIC_ADDR       0xFEC00000ULL
#define VM_LAPIC_ADDR        0xFEE00000ULL
#define VM_TSS_ADDR          0xFFFBD000ULL   /* KVM_SET_TSS_ADDR, 3 pages */
#define VM_IDENTITY_MAP_ADDR 0xFFFBC000ULL   /* KVM_SET_IDENTITY_MAP_ADDR */

/* low memory used by the boot code */
#define VM_GDT_ADDR          0x00000500ULL
#define VM_PVH_INFO_ADDR     0x00006000ULL   /* hvm_start_info + memmap */
#define VM_ZERO_PAGE_ADDR    0x00007000ULL   /* struct boot_params */
#define VM_PML4_ADDR         0x00009000ULL   /* + PDPT 0xA000, PDs 0xB000..0xEFFF */
#define VM_CMDLINE_ADDR      0x00020000ULL
#define VM_CMDLINE_MAX       0x00010000ULL   /* incl. NUL */
#define VM_EBDA_START        0x0009FC00ULL   /* e820: reserved from here to 1 MiB */
#define VM_ACPI_ADDR         0x000E0000ULL   /* RSDP here (legacy scan area), tables follow */
#define VM_ACPI_MAX          0x00020000ULL   /* 0xE0000 .. 0xFFFFF */
#define VM_KERNEL_ADDR       0x00100000ULL   /* bzImage protected-mode code */

/* I/O ports and legacy IRQs (GSIs) */
#define VM_COM1_PORT         0x3F8
#define VM_COM1_IRQ          4
#define VM_I8042_DATA_PORT   0x60
#define VM_I8042_CMD_PORT    0x64
#define VM_I8042_IRQ         1
#define VM_PM1A_EVT_PORT     0x600           /* PM1a_EVT_BLK: status(2) enable(2) */
#define VM_PM1A_EVT_LEN      4
#define VM_PM1A_CNT_PORT     0x604           /* PM1a_CNT_BLK */
#define VM_PM1A_CNT_LEN      2
#define VM_PM_TMR_PORT       0x608           /* PM_TMR_BLK, 24-bit, 3.579545 MHz */
#define VM_PM_TMR_LEN        4
#define VM_SCI_IRQ           9               /* level, active high */
#define VM_EXIT_PORT         0x501           /* guest writes its exit status (1 byte) */
#define VM_S5_SLP_TYP        5               /* the DSDT's \_S5 value */

/* ---- guest memory ---- */
struct vm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct vm_mem {
	int memfd;                   /* the shmem file of RAM (memfd or tmpfs) */
	const char *kind;            /* "hugetlb", "tmpfs-thp" or "memfd" */
	uint8_t *base;               /* one mapping of the whole file, 2 MiB aligned */
	size_t map_len;              /* the mapping, alignment slack included */
	uint64_t size;               /* RAM bytes */
	struct vm_region r[2];       /* low, high */
	unsigned nr;
};

/* Host pointer for [gpa, gpa+len) when all of it is RAM in one region,
 * else NULL (len 0 is invalid).  Never trust a guest address otherwise. */
void *vm_gpa(const struct vm_mem *m, uint64_t gpa, uint64_t len);
/* The top of RAM below the hole. */
uint64_t vm_ram_below_4g(const struct vm_mem *m);

/* ---- the device bus ---- */
/* One access: offset from the registered base, len 1/2/4/8, data in guest
 * byte order.  Reads fill data (unhandled bytes read 0xff). */
typedef void (*vm_io_fn)(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);

/* Raise or lower a legacy interrupt line (GSI); devices get it as a callback
 * so they are testable without KVM. */
typedef void (*vm_irq_fn)(void *arg, uint32_t gsi, int level);

/* ---- boot (boot.c) ---- */
enum vm_boot_mode { VM_BOOT_BZIMAGE64, VM_BOOT_PVH32 };

struct vm_boot {
	enum vm_boot_mode mode;
	uint64_t entry;              /* rip */
	uint64_t boot_info;          /* rsi: zero page (bzImage), rbx: start_info (PVH) */
};

/* The kernel command line the guest gets: the user's, plus what describes
 * this machine to the kernel unless the user said otherwise: "pci=off"
 * (there is no PCI bus; it spares the kernel its probes of the PCI
 * configuration ports, e.g. the brute-force AMD GART scans of 8,192
 * reads each).  Additions go before a "--" (what follows it is init's).
 * Returns a malloc'd string, NULL when out of memory. */
char *vm_cmdline_compose(const char *user);

/* Load the kernel (bzImage or PVH ELF, detected), the initrd and the
 * command line into guest memory, write the zero page or start_info with
 * the e820 map (rsdp = where acpi_build put the RSDP), the GDT and page
 * tables.  Names kernel_name/"initrd" in errors; nothing runs. */
int vm_boot_load(struct vm_mem *m, int kernel_fd, const char *kernel_name, int initrd_fd,
		 const char *cmdline, uint64_t rsdp, struct vm_boot *out, struct cell_err *err);

/* The e820 map of m: used by both boot paths (and tested). */
struct vm_e820 { uint64_t addr, size; uint32_t type; };
#define VM_E820_RAM      1
#define VM_E820_RESERVED 2
#define VM_E820_ACPI     3
size_t vm_e820_build(const struct vm_mem *m, struct vm_e820 *out, size_t max);

/* Registers of the boot vCPU for out (KVM_SET_SREGS/REGS on vcpu_fd). */
int vm_boot_setup_bsp(int vcpu_fd, const struct vm_boot *b, struct cell_err *err);

/* ---- ACPI tables (acpi.c) ---- */
/* Writes RSDP, XSDT, FADT (+FACS), MADT and DSDT at VM_ACPI_ADDR for
 * ncpus vCPUs with APIC ids 0..ncpus-1; *rsdp = the RSDP's address. */
int vm_acpi_build(struct vm_mem *m, unsigned ncpus, uint64_t *rsdp, struct cell_err *err);

/* ---- devices (serial.c, i8042.c, pm.c) ---- */
/* Each device has its own lock: vCPU threads and the main loop call in. */
struct vm_serial;
struct vm_serial *vm_serial_new(uint32_t gsi, vm_irq_fn irq, void *irq_arg, int out_fd);
void vm_serial_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Queue host input for the guest; returns bytes taken (the FIFO may be full). */
size_t vm_serial_input(struct vm_serial *s, const uint8_t *buf, size_t n);
/* Whether the receive FIFO has room (the main loop stops reading when full). */
bool vm_serial_can_input(struct vm_serial *s);
void vm_serial_free(struct vm_serial *s);

/* The machine's power events, raised by devices, handled by the VMM. */
enum vm_power_event { VM_POWER_OFF, VM_POWER_RESET };
typedef void (*vm_power_fn)(void *arg, enum vm_power_event ev);

struct vm_i8042;
struct vm_i8042 *vm_i8042_new(vm_power_fn power, void *power_arg);
/* Two ports, one device: register vm_i8042_data_io at VM_I8042_DATA_PORT
 * and vm_i8042_cmd_io at VM_I8042_CMD_PORT (len 1 each, the same dev). */
void vm_i8042_data_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void vm_i8042_cmd_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* The command/status port (an alias of vm_i8042_cmd_io, kept for callers). */
void vm_i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
void vm_i8042_free(struct vm_i8042 *k);

/* ACPI fixed hardware: PM1a event/control blocks, the PM timer, the power
 * button; registered at VM_PM1A_EVT_PORT (len 12: evt 4, cnt 2, pad 2, tmr 4). */
struct vm_pm;
struct vm_pm *vm_pm_new(uint32_t sci_gsi, vm_irq_fn irq, void *irq_arg, vm_power_fn power,
			void *power_arg);
void vm_pm_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write);
/* Press the power button: PWRBTN_STS, and an SCI if the guest enabled it.
 * Returns false if the guest has not enabled the power button event. */
bool vm_pm_power_button(struct vm_pm *pm);
/* The PM timer's value ns nanoseconds after the device was made (24 bits,
 * 3.579545 MHz); what a guest read returns, exported for tests. */
uint32_t vm_pm_timer_at(uint64_t ns);
void vm_pm_free(struct vm_pm *pm);

#endif
