/* vmshim/acpi.c without KVM: the tables are parsed back from guest RAM the
 * way a guest would (RSDP -> XSDT/RSDT -> FADT -> FACS/DSDT, MADT) and
 * every checksum, pointer and field is checked against vm.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "../../vmshim/vm.h"

#define MiB (1ULL << 20)

static struct vm_mem mem_new(uint64_t size)
{
	struct vm_mem m = { .memfd = -1, .size = size, .nr = 1 };

	m.base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		      -1, 0);
	assert_true(m.base != MAP_FAILED);
	m.r[0] = (struct vm_region){ 0, size, m.base };
	return m;
}

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static uint8_t sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s = (uint8_t)(s + *p++);
	return s;
}

/* A table at gpa inside the ACPI window with this signature, a sane
 * length and a zero checksum; returns its bytes. */
static const uint8_t *table(struct vm_mem *m, uint64_t gpa, const char *sig)
{
	const uint8_t *t;
	uint32_t len;

	assert_true(gpa >= VM_ACPI_ADDR && gpa + 36 <= VM_ACPI_ADDR + VM_ACPI_MAX);
	t = vm_gpa(m, gpa, 36);
	assert_non_null(t);
	assert_memory_equal(t, sig, 4);
	len = rd32(t + 4);
	assert_true(len >= 36 && gpa + len <= VM_ACPI_ADDR + VM_ACPI_MAX);
	assert_int_equal(sum(t, len), 0);
	assert_memory_equal(t + 10, "CELL  ", 6);            /* OEM id */
	assert_memory_equal(t + 16, "CELL", 4);              /* OEM table id */
	assert_memory_equal(t + 20, sig, 4);
	assert_memory_equal(t + 28, "CELL", 4);              /* creator id */
	return t;
}

static void check_gas(const uint8_t *g, uint64_t port, unsigned bits, unsigned access)
{
	assert_int_equal(g[0], 1);                           /* system I/O */
	assert_int_equal(g[1], bits);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], access);
	assert_int_equal(rd64(g + 4), port);
}

/* Walks every table built for ncpus. */
static void check_tables(unsigned ncpus)
{
	struct vm_mem m = mem_new(16 * MiB);
	struct cell_err err = { 0 };
	uint64_t rsdp_addr = 0, fadt_addr, madt_addr;
	const uint8_t *rsdp, *xsdt, *rsdt, *fadt, *facs, *dsdt, *madt, *p;
	static const uint8_t s5[] = { 0x08, '\\', '_', 'S', '5', '_', 0x12, 0x08, 0x04,
				      0x0A, VM_S5_SLP_TYP, 0x0A, VM_S5_SLP_TYP, 0x00, 0x00 };
	uint8_t *area = vm_gpa(&m, VM_ACPI_ADDR, VM_ACPI_MAX);
	unsigned i;

	memset(area, 0xff, VM_ACPI_MAX);                     /* stale bytes get cleared */
	assert_int_equal(vm_acpi_build(&m, ncpus, &rsdp_addr, &err), 0);
	assert_int_equal(rsdp_addr, VM_ACPI_ADDR);
	assert_int_equal(area[VM_ACPI_MAX - 1], 0);

	/* RSDP: 16-byte aligned in the legacy scan area, both checksums */
	assert_int_equal(rsdp_addr % 16, 0);
	rsdp = vm_gpa(&m, rsdp_addr, 36);
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(sum(rsdp, 36), 0);
	assert_memory_equal(rsdp + 9, "CELL  ", 6);
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(rd32(rsdp + 20), 36);

	/* XSDT and RSDT list the same FADT and MADT */
	xsdt = table(&m, rd64(rsdp + 24), "XSDT");
	assert_int_equal(rd32(xsdt + 4), 36 + 2 * 8);
	rsdt = table(&m, rd32(rsdp + 16), "RSDT");
	assert_int_equal(rd32(rsdt + 4), 36 + 2 * 4);
	fadt_addr = rd64(xsdt + 36);
	madt_addr = rd64(xsdt + 44);
	assert_int_equal(rd32(rsdt + 36), fadt_addr);
	assert_int_equal(rd32(rsdt + 40), madt_addr);

	/* FADT revision 6 */
	fadt = table(&m, fadt_addr, "FACP");
	assert_int_equal(rd32(fadt + 4), 276);
	assert_int_equal(fadt[8], 6);
	assert_int_equal(rd64(fadt + 132), 0);                /* X_FIRMWARE_CTRL: only one FACS pointer */
	assert_int_equal(rd32(fadt + 40), rd64(fadt + 140));  /* DSDT == X_DSDT */
	assert_int_equal(rd16(fadt + 46), VM_SCI_IRQ);
	assert_int_equal(rd32(fadt + 48), 0);                 /* SMI_CMD: no mode switch */
	assert_int_equal(fadt[52], 0);
	assert_int_equal(fadt[53], 0);
	assert_int_equal(rd32(fadt + 56), VM_PM1A_EVT_PORT);
	assert_int_equal(rd32(fadt + 60), 0);                 /* no PM1b */
	assert_int_equal(rd32(fadt + 64), VM_PM1A_CNT_PORT);
	assert_int_equal(rd32(fadt + 68), 0);
	assert_int_equal(rd32(fadt + 72), 0);                 /* no PM2 */
	assert_int_equal(rd32(fadt + 76), VM_PM_TMR_PORT);
	assert_int_equal(rd32(fadt + 80), 0);                 /* no GPE blocks */
	assert_int_equal(fadt[88], VM_PM1A_EVT_LEN);
	assert_int_equal(fadt[89], VM_PM1A_CNT_LEN);
	assert_int_equal(fadt[91], VM_PM_TMR_LEN);
	assert_int_equal(fadt[92], 0);
	assert_int_equal(rd16(fadt + 109), 0x0026);           /* 8042, no VGA, no CMOS RTC */
	/* WBINVD, PROC_C1, SLP_BUTTON, FIX_RTC; PWR_BUTTON, TMR_VAL_EXT,
	 * RESET_REG_SUP and HW_REDUCED_ACPI clear */
	assert_int_equal(rd32(fadt + 112), 0x65);
	assert_int_equal(rd32(fadt + 112) & (1u << 4), 0);
	assert_int_equal(rd32(fadt + 112) & (1u << 8), 0);
	assert_int_equal(rd32(fadt + 112) & (1u << 10), 0);
	assert_int_equal(rd32(fadt + 112) & (1u << 20), 0);
	check_gas(fadt + 148, VM_PM1A_EVT_PORT, VM_PM1A_EVT_LEN * 8, 2);
	check_gas(fadt + 172, VM_PM1A_CNT_PORT, VM_PM1A_CNT_LEN * 8, 2);
	check_gas(fadt + 208, VM_PM_TMR_PORT, VM_PM_TMR_LEN * 8, 3);
	for (i = 160; i < 172; i++)                           /* X_PM1b_EVT_BLK empty */
		assert_int_equal(fadt[i], 0);

	/* FACS: 64-byte aligned, no checksum, in the window, not over the FADT */
	assert_int_equal(rd32(fadt + 36) % 64, 0);
	assert_true(rd32(fadt + 36) >= VM_ACPI_ADDR && rd32(fadt + 36) + 64 <= fadt_addr);
	facs = vm_gpa(&m, rd32(fadt + 36), 64);
	assert_memory_equal(facs, "FACS", 4);
	assert_int_equal(rd32(facs + 4), 64);
	assert_int_equal(facs[32], 2);

	/* DSDT: exactly the \_S5 package */
	dsdt = table(&m, rd64(fadt + 140), "DSDT");
	assert_int_equal(rd32(dsdt + 4), 36 + sizeof(s5));
	assert_int_equal(dsdt[8], 2);
	assert_memory_equal(dsdt + 36, s5, sizeof(s5));

	/* MADT */
	madt = table(&m, madt_addr, "APIC");
	assert_int_equal(rd32(madt + 4), 44 + 8 * ncpus + 12 + 2 * 10);
	assert_int_equal(rd32(madt + 36), VM_LAPIC_ADDR);
	assert_int_equal(rd32(madt + 40), 1);                 /* PCAT_COMPAT */
	p = madt + 44;
	for (i = 0; i < ncpus; i++, p += 8) {
		assert_int_equal(p[0], 0);
		assert_int_equal(p[1], 8);
		assert_int_equal(p[2], i);
		assert_int_equal(p[3], i);
		assert_int_equal(rd32(p + 4), 1);
	}
	assert_int_equal(p[0], 1);                            /* I/O APIC */
	assert_int_equal(p[1], 12);
	assert_int_equal(p[2], ncpus);
	assert_int_equal(rd32(p + 4), VM_IOAPIC_ADDR);
	assert_int_equal(rd32(p + 8), 0);
	p += 12;
	assert_int_equal(p[0], 2);                            /* IRQ 0 -> GSI 2 */
	assert_int_equal(p[1], 10);
	assert_int_equal(p[2], 0);
	assert_int_equal(p[3], 0);
	assert_int_equal(rd32(p + 4), 2);
	assert_int_equal(rd16(p + 8), 0);
	p += 10;
	assert_int_equal(p[0], 2);                            /* SCI: level, active high */
	assert_int_equal(p[1], 10);
	assert_int_equal(p[2], 0);
	assert_int_equal(p[3], VM_SCI_IRQ);
	assert_int_equal(rd32(p + 4), VM_SCI_IRQ);
	assert_int_equal(rd16(p + 8), 0x000D);
	p += 10;
	assert_ptr_equal(p, madt + rd32(madt + 4));

	/* no two structures overlap */
	{
		uint64_t at[7] = { rsdp_addr, rd32(rsdp + 16), rd64(rsdp + 24), rd32(fadt + 36),
				   fadt_addr, rd64(fadt + 140), madt_addr };
		uint64_t len[7] = { 36, rd32(rsdt + 4), rd32(xsdt + 4), 64, rd32(fadt + 4),
				    rd32(dsdt + 4), rd32(madt + 4) };
		unsigned j;

		for (i = 0; i < 7; i++)
			for (j = 0; j < 7; j++)
				if (i != j)
					assert_true(at[i] + len[i] <= at[j] || at[j] + len[j] <= at[i]);
	}
	munmap(m.base, m.size);
}

static void test_one_cpu(void **state) { check_tables(1); }
static void test_four_cpus(void **state) { check_tables(4); }
static void test_max_cpus(void **state) { check_tables(VMM_MAX_VCPUS); }

static void test_refused(void **state)
{
	struct vm_mem m = mem_new(16 * MiB);
	struct vm_mem none = { .memfd = -1 };
	struct cell_err err = { 0 };
	uint64_t rsdp = 7;

	assert_int_equal(vm_acpi_build(&m, 0, &rsdp, &err), -1);
	assert_string_equal(err.msg, "ACPI tables: 0 vCPUs (want 1..64): Invalid argument");
	assert_int_equal(vm_acpi_build(&m, VMM_MAX_VCPUS + 1, &rsdp, &err), -1);
	assert_int_equal(err.errnum, EINVAL);
	assert_int_equal(vm_acpi_build(&none, 1, &rsdp, &err), -1);
	assert_string_equal(err.msg, "ACPI tables: 0xe0000..0x100000 is not guest RAM");
	assert_int_equal(rsdp, 7);
	munmap(m.base, m.size);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_cpu),
		cmocka_unit_test(test_four_cpus),
		cmocka_unit_test(test_max_cpus),
		cmocka_unit_test(test_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
