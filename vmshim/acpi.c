/* vmshim/acpi.c: the ACPI tables of the machine vm.h describes — RSDP,
 * RSDT/XSDT, FADT (+FACS, DSDT with \_S5), MADT — written at VM_ACPI_ADDR,
 * where the legacy RSDP scan (0xE0000..0xFFFFF) finds them too.
 * Layouts from the ACPI 6.x specification (chapter 5.2). */
#include <errno.h>
#include <string.h>

#include "vm.h"

#define ACPI_OEM_ID        "CELL  "     /* 6 bytes */
#define ACPI_CREATOR_ID    "CELL"
#define ACPI_OEM_REVISION  1
#define ACPI_CREATOR_REV   1
#define ACPI_HDR_LEN       36

#define ACPI_RSDP_LEN      36
#define ACPI_FADT_LEN      276          /* revision 6 */
#define ACPI_FACS_LEN      64

/* FADT flags */
#define FADT_WBINVD        (1u << 0)
#define FADT_PROC_C1       (1u << 2)
#define FADT_PWR_BUTTON    (1u << 4)    /* set: control-method power button; we use the fixed one */
#define FADT_SLP_BUTTON    (1u << 5)    /* set: no fixed-feature sleep button */
#define FADT_FIX_RTC       (1u << 6)    /* set: no RTC wake status in PM1 */
#define FADT_TMR_VAL_EXT   (1u << 8)    /* set: 32-bit PM timer; ours is 24-bit */
#define FADT_RESET_REG_SUP (1u << 10)

/* FADT IA-PC boot architecture flags */
#define IAPC_8042          (1u << 1)
#define IAPC_NO_VGA        (1u << 2)
#define IAPC_NO_CMOS_RTC   (1u << 5)

/* Generic Address Structure */
#define GAS_SYSTEM_IO      1
#define GAS_ACCESS_WORD    2
#define GAS_ACCESS_DWORD   3

/* MADT */
#define MADT_PCAT_COMPAT   1u
#define MADT_LAPIC         0
#define MADT_IOAPIC        1
#define MADT_ISO           2
#define MADT_LAPIC_ENABLED 1u
#define MADT_ISO_LEVEL_HIGH 0x000D      /* active high (01), level (11 << 2) */

/* AML opcodes (ACPI 6.x chapter 20) */
#define AML_ZERO_OP        0x00
#define AML_NAME_OP        0x08
#define AML_BYTE_PREFIX    0x0A
#define AML_PACKAGE_OP     0x12
#define AML_ROOT_CHAR      '\\'

/* ---- little-endian writers into the table area ---- */

static void put8(uint8_t *p, uint8_t v) { p[0] = v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

static uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* Set the checksum byte at off so that the len bytes sum to 0. */
static void acpi_fix_checksum(uint8_t *p, size_t len, size_t off)
{
	p[off] = 0;
	p[off] = (uint8_t)(0x100 - acpi_sum(p, len));
}

/* The standard header; the checksum is fixed by acpi_finish(). */
static void acpi_header(uint8_t *t, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	put8(t + 8, rev);
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, "CELL", 4);
	memcpy(t + 20, sig, 4);                      /* OEM table id "CELL<sig>" */
	put32(t + 24, ACPI_OEM_REVISION);
	memcpy(t + 28, ACPI_CREATOR_ID, 4);
	put32(t + 32, ACPI_CREATOR_REV);
}

static void acpi_finish(uint8_t *t, uint32_t len)
{
	acpi_fix_checksum(t, len, 9);
}

/* A Generic Address Structure for an I/O port block. */
static void gas_io(uint8_t *p, uint16_t port, uint8_t len, uint8_t access)
{
	put8(p, GAS_SYSTEM_IO);
	put8(p + 1, (uint8_t)(len * 8));             /* register bit width */
	put8(p + 2, 0);                              /* bit offset */
	put8(p + 3, access);
	put64(p + 4, port);
}

/* ---- the tables ---- */

static const uint8_t dsdt_aml[] = {
	/* Name (\_S5, Package (4) { SLP_TYP, SLP_TYP, 0, 0 }) */
	AML_NAME_OP, AML_ROOT_CHAR, '_', 'S', '5', '_',
	AML_PACKAGE_OP,
	0x08,                                        /* PkgLength: itself .. the last element */
	0x04,                                        /* NumElements */
	AML_BYTE_PREFIX, VM_S5_SLP_TYP,              /* PM1a_CNT.SLP_TYP */
	AML_BYTE_PREFIX, VM_S5_SLP_TYP,              /* PM1b_CNT.SLP_TYP */
	AML_ZERO_OP, AML_ZERO_OP,                    /* reserved */
};

static uint32_t dsdt_write(uint8_t *t)
{
	uint32_t len = ACPI_HDR_LEN + sizeof(dsdt_aml);

	acpi_header(t, "DSDT", len, 2);              /* revision 2: 64-bit AML integers */
	memcpy(t + ACPI_HDR_LEN, dsdt_aml, sizeof(dsdt_aml));
	acpi_finish(t, len);
	return len;
}

static uint32_t facs_write(uint8_t *t)
{
	memcpy(t, "FACS", 4);
	put32(t + 4, ACPI_FACS_LEN);
	put8(t + 32, 2);                             /* version */
	return ACPI_FACS_LEN;
}

static uint32_t fadt_write(uint8_t *t, uint64_t facs, uint64_t dsdt)
{
	acpi_header(t, "FACP", ACPI_FADT_LEN, 6);
	put32(t + 36, (uint32_t)facs);               /* FIRMWARE_CTRL */
	put32(t + 40, (uint32_t)dsdt);               /* DSDT */
	put8(t + 45, 0);                             /* Preferred_PM_Profile: unspecified */
	put16(t + 46, VM_SCI_IRQ);                   /* SCI_INT */
	put32(t + 48, 0);                            /* SMI_CMD 0: always in ACPI mode */
	put32(t + 56, VM_PM1A_EVT_PORT);             /* PM1a_EVT_BLK */
	put32(t + 64, VM_PM1A_CNT_PORT);             /* PM1a_CNT_BLK */
	put32(t + 76, VM_PM_TMR_PORT);               /* PM_TMR_BLK */
	put8(t + 88, VM_PM1A_EVT_LEN);               /* PM1_EVT_LEN */
	put8(t + 89, VM_PM1A_CNT_LEN);               /* PM1_CNT_LEN */
	put8(t + 91, VM_PM_TMR_LEN);                 /* PM_TMR_LEN */
	put16(t + 96, 101);                          /* P_LVL2_LAT > 100: no C2 */
	put16(t + 98, 1001);                         /* P_LVL3_LAT > 1000: no C3 */
	put16(t + 109, IAPC_8042 | IAPC_NO_VGA | IAPC_NO_CMOS_RTC);   /* IAPC_BOOT_ARCH */
	put32(t + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON | FADT_FIX_RTC);
	put8(t + 131, 0);                            /* FADT minor version: 6.0 */
	/* X_FIRMWARE_CTRL stays 0: ACPI wants only one of the two FACS
	 * pointers set (Linux installs and lists the FACS twice otherwise),
	 * and the 32-bit one reaches it below 4 GiB for every OS */
	put64(t + 132, 0);
	put64(t + 140, dsdt);                        /* X_DSDT */
	gas_io(t + 148, VM_PM1A_EVT_PORT, VM_PM1A_EVT_LEN, GAS_ACCESS_WORD);  /* X_PM1a_EVT_BLK */
	gas_io(t + 172, VM_PM1A_CNT_PORT, VM_PM1A_CNT_LEN, GAS_ACCESS_WORD);  /* X_PM1a_CNT_BLK */
	gas_io(t + 208, VM_PM_TMR_PORT, VM_PM_TMR_LEN, GAS_ACCESS_DWORD);     /* X_PM_TMR_BLK */
	acpi_finish(t, ACPI_FADT_LEN);
	return ACPI_FADT_LEN;
}

static uint32_t madt_len(unsigned ncpus)
{
	return ACPI_HDR_LEN + 8 + 8 * ncpus + 12 + 2 * 10;
}

static uint8_t *madt_iso(uint8_t *p, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	put8(p, MADT_ISO);
	put8(p + 1, 10);
	put8(p + 2, 0);                              /* bus: ISA */
	put8(p + 3, irq);
	put32(p + 4, gsi);
	put16(p + 8, flags);
	return p + 10;
}

static uint32_t madt_write(uint8_t *t, unsigned ncpus)
{
	uint32_t len = madt_len(ncpus);
	uint8_t *p = t + ACPI_HDR_LEN;
	unsigned i;

	acpi_header(t, "APIC", len, 4);
	put32(p, (uint32_t)VM_LAPIC_ADDR);
	put32(p + 4, MADT_PCAT_COMPAT);              /* dual 8259s present (KVM's PIC) */
	p += 8;
	for (i = 0; i < ncpus; i++, p += 8) {
		put8(p, MADT_LAPIC);
		put8(p + 1, 8);
		put8(p + 2, (uint8_t)i);             /* ACPI processor UID */
		put8(p + 3, (uint8_t)i);             /* APIC id */
		put32(p + 4, MADT_LAPIC_ENABLED);
	}
	put8(p, MADT_IOAPIC);
	put8(p + 1, 12);
	put8(p + 2, (uint8_t)ncpus);                 /* I/O APIC id: after the CPUs' */
	put8(p + 3, 0);
	put32(p + 4, (uint32_t)VM_IOAPIC_ADDR);
	put32(p + 8, 0);                             /* GSI base */
	p += 12;
	p = madt_iso(p, 0, 2, 0);                    /* the PIT's IRQ 0 is the IOAPIC's pin 2 */
	p = madt_iso(p, VM_SCI_IRQ, VM_SCI_IRQ, MADT_ISO_LEVEL_HIGH);
	acpi_finish(t, len);
	return len;
}

/* A root table (RSDT with 32-bit or XSDT with 64-bit entries). */
static uint32_t sdt_write(uint8_t *t, const char sig[4], const uint64_t *ent, unsigned n,
			  unsigned width)
{
	uint32_t len = ACPI_HDR_LEN + n * width;
	unsigned i;

	acpi_header(t, sig, len, 1);
	for (i = 0; i < n; i++) {
		if (width == 8)
			put64(t + ACPI_HDR_LEN + 8 * i, ent[i]);
		else
			put32(t + ACPI_HDR_LEN + 4 * i, (uint32_t)ent[i]);
	}
	acpi_finish(t, len);
	return len;
}

static void rsdp_write(uint8_t *t, uint64_t rsdt, uint64_t xsdt)
{
	memcpy(t, "RSD PTR ", 8);
	memcpy(t + 9, ACPI_OEM_ID, 6);
	put8(t + 15, 2);                             /* revision: ACPI 2.0+ (XSDT) */
	put32(t + 16, (uint32_t)rsdt);
	put32(t + 20, ACPI_RSDP_LEN);
	put64(t + 24, xsdt);
	acpi_fix_checksum(t, 20, 8);                 /* the ACPI 1.0 part */
	acpi_fix_checksum(t, ACPI_RSDP_LEN, 32);     /* the whole structure */
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

int vm_acpi_build(struct vm_mem *m, unsigned ncpus, uint64_t *rsdp, struct cell_err *err)
{
	uint64_t off_rsdt, off_xsdt, off_facs, off_fadt, off_dsdt, off_madt, end, tables[2];
	uint8_t *a;

	if (ncpus < 1 || ncpus > VMM_MAX_VCPUS)
		return cell_err_set(err, EINVAL, "ACPI tables: %u vCPUs (want 1..%u)", ncpus,
				    VMM_MAX_VCPUS);

	/* the layout, 16-byte aligned (the RSDP must be), FACS 64-byte aligned */
	off_rsdt = align_up(ACPI_RSDP_LEN, 16);
	off_xsdt = align_up(off_rsdt + ACPI_HDR_LEN + 2 * 4, 16);
	off_facs = align_up(off_xsdt + ACPI_HDR_LEN + 2 * 8, 64);
	off_fadt = align_up(off_facs + ACPI_FACS_LEN, 16);
	off_dsdt = align_up(off_fadt + ACPI_FADT_LEN, 16);
	off_madt = align_up(off_dsdt + ACPI_HDR_LEN + sizeof(dsdt_aml), 16);
	end = off_madt + madt_len(ncpus);
	if (end > VM_ACPI_MAX)
		return cell_err_set(err, ENOSPC, "ACPI tables: %llu bytes do not fit in 0x%llx",
				    (unsigned long long)end, (unsigned long long)VM_ACPI_MAX);

	a = vm_gpa(m, VM_ACPI_ADDR, VM_ACPI_MAX);
	if (!a)
		return cell_err_set(err, 0, "ACPI tables: 0x%llx..0x%llx is not guest RAM",
				    (unsigned long long)VM_ACPI_ADDR,
				    (unsigned long long)(VM_ACPI_ADDR + VM_ACPI_MAX));
	/* no stale "RSD PTR " for the guest's scan to find */
	memset(a, 0, VM_ACPI_MAX);

	dsdt_write(a + off_dsdt);
	facs_write(a + off_facs);
	fadt_write(a + off_fadt, VM_ACPI_ADDR + off_facs, VM_ACPI_ADDR + off_dsdt);
	madt_write(a + off_madt, ncpus);
	tables[0] = VM_ACPI_ADDR + off_fadt;
	tables[1] = VM_ACPI_ADDR + off_madt;
	sdt_write(a + off_rsdt, "RSDT", tables, 2, 4);
	sdt_write(a + off_xsdt, "XSDT", tables, 2, 8);
	rsdp_write(a, VM_ACPI_ADDR + off_rsdt, VM_ACPI_ADDR + off_xsdt);
	*rsdp = VM_ACPI_ADDR;
	return 0;
}
