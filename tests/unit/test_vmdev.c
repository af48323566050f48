/* vmshim devices without KVM: the 16550A UART, the i8042 and the ACPI PM
 * block, driven through their I/O handlers with fake irq/power callbacks. */
#define _GNU_SOURCE             /* pipe2 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../../vmshim/vm.h"

/* ---- fakes ---- */
struct fake {
	unsigned irq_calls;
	uint32_t last_gsi;
	int level;
	unsigned power_calls;
	enum vm_power_event last_ev;
};

static void fake_irq(void *arg, uint32_t gsi, int level)
{
	struct fake *f = arg;

	f->irq_calls++;
	f->last_gsi = gsi;
	f->level = level;
}

static void fake_power(void *arg, enum vm_power_event ev)
{
	struct fake *f = arg;

	f->power_calls++;
	f->last_ev = ev;
}

/* ---- serial ---- */
static uint8_t sin8(struct vm_serial *s, unsigned reg)
{
	uint8_t v = 0;

	vm_serial_io(s, reg, &v, 1, false);
	return v;
}

static void sout8(struct vm_serial *s, unsigned reg, uint8_t v)
{
	vm_serial_io(s, reg, &v, 1, true);
}

static void test_serial_scratch_dlab(void **state)
{
	struct fake f = { 0 };
	struct vm_serial *s = vm_serial_new(4, fake_irq, &f, -1);

	assert_non_null(s);
	sout8(s, 7, 0x5a);
	assert_int_equal(sin8(s, 7), 0x5a);
	sout8(s, 7, 0xa5);
	assert_int_equal(sin8(s, 7), 0xa5);

	/* IER keeps its low nibble only (Linux's probe writes 0x0f / UUE) */
	sout8(s, 1, 0x00);
	assert_int_equal(sin8(s, 1), 0x00);
	sout8(s, 1, 0xff);
	assert_int_equal(sin8(s, 1), 0x0f);
	sout8(s, 1, 0x00);

	/* DLAB: offsets 0 and 1 are the divisor latch */
	sout8(s, 3, 0x83);
	assert_int_equal(sin8(s, 3), 0x83);
	sout8(s, 0, 0x01);
	sout8(s, 1, 0x02);
	assert_int_equal(sin8(s, 0), 0x01);
	assert_int_equal(sin8(s, 1), 0x02);
	sout8(s, 3, 0x03);
	assert_int_equal(sin8(s, 1), 0x00);    /* IER again, untouched */
	assert_int_equal(sin8(s, 0), 0x00);    /* RBR: nothing received */
	assert_int_equal(sin8(s, 3), 0x03);
	/* LSR: transmitter empty, no data */
	assert_int_equal(sin8(s, 5), 0x60);
	/* MSR outside loopback: DCD, DSR, CTS */
	assert_int_equal(sin8(s, 6), 0xb0);
	assert_int_equal(f.irq_calls, 0);
	vm_serial_free(s);
}

static void test_serial_loopback(void **state)
{
	struct fake f = { 0 };
	int p[2];
	char buf[8];
	struct vm_serial *s;

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	s = vm_serial_new(4, fake_irq, &f, p[1]);
	assert_non_null(s);

	/* Linux autoconfig: MCR = LOOP | OUT2 | RTS, then MSR & 0xf0 == 0x90 */
	sout8(s, 4, 0x10 | 0x0a);
	assert_int_equal(sin8(s, 4), 0x1a);
	assert_int_equal(sin8(s, 6) & 0xf0, 0x90);
	sout8(s, 4, 0x1f);
	assert_int_equal(sin8(s, 6), 0xf0 | 0x02);   /* DSR rose: DDSR; RI rose: no TERI */
	sout8(s, 4, 0x10);
	/* every line dropped: DCTS, DDSR, TERI, DDCD */
	assert_int_equal(sin8(s, 6), 0x0f);
	assert_int_equal(sin8(s, 6), 0x00);

	/* THR comes back on RBR, nothing leaves the chip, no interrupt even
	 * with RDI enabled (loopback disconnects the IRQ output) */
	sout8(s, 1, 0x01);
	sout8(s, 4, 0x18);
	sout8(s, 0, 'x');
	assert_int_equal(sin8(s, 5) & 0x01, 0x01);
	assert_int_equal(sin8(s, 2), 0x04);
	assert_int_equal(sin8(s, 0), 'x');
	assert_int_equal(sin8(s, 5) & 0x01, 0x00);
	assert_int_equal(read(p[0], buf, sizeof(buf)), -1);
	assert_int_equal(f.irq_calls, 0);

	/* out of loopback: THR reaches out_fd */
	sout8(s, 1, 0x00);
	sout8(s, 4, 0x08);
	sout8(s, 0, 'y');
	assert_int_equal(read(p[0], buf, sizeof(buf)), 1);
	assert_int_equal(buf[0], 'y');
	assert_int_equal(f.irq_calls, 0);

	vm_serial_free(s);
	close(p[0]);
	close(p[1]);
}

static void test_serial_fifo_iir(void **state)
{
	struct fake f = { 0 };
	struct vm_serial *s = vm_serial_new(4, fake_irq, &f, -1);

	assert_int_equal(sin8(s, 2), 0x01);
	/* what autoconfig checks: IIR >> 6 == 3 after enabling FIFOs */
	sout8(s, 2, 0x01);
	assert_int_equal(sin8(s, 2), 0xc1);
	assert_int_equal(sin8(s, 2) >> 6, 3);
	/* bit 5 (64-byte FIFO of a 16750) never sets, even if asked for */
	sout8(s, 2, 0x21);
	assert_int_equal(sin8(s, 2) & 0x20, 0);
	sout8(s, 2, 0x00);
	assert_int_equal(sin8(s, 2), 0x01);
	vm_serial_free(s);
}

static void test_serial_thre(void **state)
{
	struct fake f = { 0 };
	int fd = open("/dev/null", O_WRONLY);
	struct vm_serial *s = vm_serial_new(4, fake_irq, &f, fd);

	sout8(s, 2, 0x07);
	sout8(s, 4, 0x0b);                      /* DTR RTS OUT2, as Linux */
	assert_int_equal(f.irq_calls, 0);

	sout8(s, 1, 0x02);                      /* THRI with THR empty */
	assert_int_equal(f.irq_calls, 1);
	assert_int_equal(f.last_gsi, 4);
	assert_int_equal(f.level, 1);
	assert_int_equal(sin8(s, 2), 0xc2);     /* reported once ... */
	assert_int_equal(f.irq_calls, 2);
	assert_int_equal(f.level, 0);
	assert_int_equal(sin8(s, 2), 0xc1);     /* ... then cleared */

	/* Linux's startup test: IER 0 then THRI again re-asserts */
	sout8(s, 1, 0x00);
	sout8(s, 1, 0x02);
	assert_int_equal(f.level, 1);
	assert_int_equal(sin8(s, 2), 0xc2);
	assert_int_equal(f.level, 0);

	/* a THR write empties at once: THRE comes back */
	sout8(s, 0, 'a');
	assert_int_equal(f.level, 1);
	assert_int_equal(f.irq_calls, 5);
	/* the THR write after it keeps the line up, no extra call */
	sout8(s, 0, 'b');
	assert_int_equal(f.irq_calls, 5);
	/* clearing IER drops it */
	sout8(s, 1, 0x00);
	assert_int_equal(f.level, 0);
	assert_int_equal(sin8(s, 2), 0xc1);

	/* OUT2 gates the line */
	sout8(s, 4, 0x03);
	sout8(s, 1, 0x02);
	assert_int_equal(f.level, 0);
	assert_int_equal(f.irq_calls, 6);
	sout8(s, 4, 0x0b);
	assert_int_equal(f.level, 1);
	assert_int_equal(f.irq_calls, 7);

	vm_serial_free(s);
	close(fd);
}

static void test_serial_rx(void **state)
{
	struct fake f = { 0 };
	struct vm_serial *s = vm_serial_new(4, fake_irq, &f, -1);
	const uint8_t in[] = "hello";

	sout8(s, 2, 0x01);                      /* FIFO, trigger 1 */
	assert_true(vm_serial_can_input(s));
	assert_int_equal(vm_serial_input(s, in, 1), 1);
	assert_int_equal(sin8(s, 5), 0x61);     /* DR | THRE | TEMT */
	assert_int_equal(f.irq_calls, 0);       /* IER off */
	sout8(s, 1, 0x01);
	assert_int_equal(f.irq_calls, 0);       /* OUT2 off */
	assert_int_equal(sin8(s, 2), 0xc4);     /* still pending inside */
	sout8(s, 4, 0x08);
	assert_int_equal(f.irq_calls, 1);
	assert_int_equal(f.level, 1);
	assert_int_equal(sin8(s, 0), 'h');
	assert_int_equal(f.irq_calls, 2);
	assert_int_equal(f.level, 0);
	assert_int_equal(sin8(s, 5), 0x60);
	assert_int_equal(sin8(s, 2), 0xc1);

	/* trigger 14: below it the data reports the character timeout */
	sout8(s, 2, 0xc1);
	assert_int_equal(vm_serial_input(s, in + 1, 4), 4);
	assert_int_equal(f.level, 1);
	assert_int_equal(sin8(s, 2), 0xcc);
	for (int i = 1; i < 5; i++)
		assert_int_equal(sin8(s, 0), in[i]);
	assert_int_equal(f.level, 0);
	assert_int_equal(sin8(s, 2), 0xc1);

	/* a 16-bit read at 0 reads RBR and IER */
	assert_int_equal(vm_serial_input(s, in, 1), 1);
	{
		uint8_t d[2] = { 0, 0 };

		vm_serial_io(s, 0, d, 2, false);
		assert_int_equal(d[0], 'h');
		assert_int_equal(d[1], 0x01);
	}
	vm_serial_free(s);
}

static void test_serial_output_pipe(void **state)
{
	struct fake f = { 0 };
	int p[2];
	char buf[32];
	const char *msg = "CELL-VM-MARKER\n";
	struct vm_serial *s;

	assert_int_equal(pipe(p), 0);
	s = vm_serial_new(4, fake_irq, &f, p[1]);
	for (const char *c = msg; *c; c++)
		sout8(s, 0, (uint8_t)*c);
	assert_int_equal(read(p[0], buf, sizeof(buf)), (ssize_t)strlen(msg));
	assert_memory_equal(buf, msg, strlen(msg));
	vm_serial_free(s);
	close(p[0]);
	close(p[1]);
}

static void test_serial_overflow(void **state)
{
	struct fake f = { 0 };
	struct vm_serial *s = vm_serial_new(4, fake_irq, &f, -1);
	uint8_t big[100];

	for (int i = 0; i < 100; i++)
		big[i] = (uint8_t)i;
	/* no FIFO: one holding byte */
	assert_int_equal(vm_serial_input(s, big, 100), 1);
	assert_false(vm_serial_can_input(s));
	assert_int_equal(sin8(s, 0), 0);
	/* FIFO: 16 bytes, in order */
	sout8(s, 2, 0x07);
	assert_int_equal(vm_serial_input(s, big, 100), 16);
	assert_false(vm_serial_can_input(s));
	assert_int_equal(vm_serial_input(s, big, 100), 0);
	for (int i = 0; i < 16; i++)
		assert_int_equal(sin8(s, 0), i);
	assert_true(vm_serial_can_input(s));
	assert_int_equal(sin8(s, 5) & 0x01, 0);
	/* FCR clear RX empties it */
	assert_int_equal(vm_serial_input(s, big, 3), 3);
	sout8(s, 2, 0x03);
	assert_int_equal(sin8(s, 5), 0x60);

	/* loopback overrun: OE and a line status interrupt, cleared by LSR */
	sout8(s, 1, 0x05);
	sout8(s, 4, 0x10);
	for (int i = 0; i < 17; i++)
		sout8(s, 0, (uint8_t)i);
	assert_int_equal(sin8(s, 2), 0xc6);
	assert_int_equal(sin8(s, 5), 0x63);     /* DR | OE | THRE | TEMT */
	assert_int_equal(sin8(s, 5), 0x61);
	assert_int_equal(sin8(s, 2), 0xc4);
	/* host input during loopback is consumed and lost */
	assert_true(vm_serial_can_input(s));
	assert_int_equal(vm_serial_input(s, big, 5), 5);
	for (int i = 0; i < 16; i++)
		assert_int_equal(sin8(s, 0), i);
	assert_int_equal(sin8(s, 5), 0x60);
	assert_int_equal(f.irq_calls, 0);
	vm_serial_free(s);
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static const uint64_t odd_offsets[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 100,
					UINT64_MAX, UINT64_MAX - 3, 1ULL << 63 };

/* Random accesses of every size at odd offsets; ASan/UBSan catch the rest. */
static void garbage(vm_io_fn io, void *dev, size_t span)
{
	uint8_t d[8];

	for (int n = 0; n < 200000; n++) {
		uint64_t r = rnd();
		uint32_t len = 1u << (r & 3);
		uint64_t off = (r >> 8) & 1 ? odd_offsets[(r >> 16) % (sizeof(odd_offsets) / 8)]
					    : (r >> 16) % span;

		for (int i = 0; i < 8; i++)
			d[i] = (uint8_t)(rnd() >> 24);
		io(dev, off, d, len, (r >> 4) & 1);
	}
}

static void test_serial_garbage(void **state)
{
	struct fake f = { 0 };
	int fd = open("/dev/null", O_WRONLY);
	struct vm_serial *s = vm_serial_new(4, fake_irq, &f, fd);
	uint8_t d[8];

	garbage(vm_serial_io, s, 8);
	vm_serial_input(s, (const uint8_t *)"abc", 3);
	/* the line level is still consistent: reads beyond the range are 0xff */
	memset(d, 0, sizeof(d));
	vm_serial_io(s, 6, d, 4, false);
	assert_int_equal(d[2], 0xff);
	assert_int_equal(d[3], 0xff);
	vm_serial_io(s, UINT64_MAX, d, 8, false);
	for (int i = 0; i < 8; i++)
		assert_int_equal(d[i], 0xff);
	/* and the device still works after a reset of its registers */
	sout8(s, 3, 0x03);
	sout8(s, 7, 0x42);
	assert_int_equal(sin8(s, 7), 0x42);
	vm_serial_free(s);
	close(fd);
}

/* ---- i8042 ---- */
static uint8_t kin(struct vm_i8042 *k, bool cmd)
{
	uint8_t v = 0;

	(cmd ? vm_i8042_cmd_io : vm_i8042_data_io)(k, 0, &v, 1, false);
	return v;
}

static void kout(struct vm_i8042 *k, bool cmd, uint8_t v)
{
	(cmd ? vm_i8042_cmd_io : vm_i8042_data_io)(k, 0, &v, 1, true);
}

static void test_i8042_selftest_ctr(void **state)
{
	struct fake f = { 0 };
	struct vm_i8042 *k = vm_i8042_new(fake_power, &f);

	assert_non_null(k);
	assert_int_equal(kin(k, true) & 0x01, 0);   /* nothing to read */
	kout(k, true, 0xaa);
	assert_int_equal(kin(k, true) & 0x03, 0x01); /* OBF, never IBF */
	assert_int_equal(kin(k, false), 0x55);
	assert_int_equal(kin(k, true) & 0x01, 0);

	kout(k, true, 0x20);
	assert_int_equal(kin(k, false), 0x47);
	kout(k, true, 0x60);
	kout(k, false, 0x45);
	kout(k, true, 0x20);
	assert_int_equal(kin(k, false), 0x45);
	kout(k, true, 0xa7);                        /* AUX disable sets CTR bit 5 */
	kout(k, true, 0x20);
	assert_int_equal(kin(k, false), 0x65);
	kout(k, true, 0xa8);
	kout(k, true, 0xad);                        /* KBD disable sets bit 4 */
	kout(k, true, 0x20);
	assert_int_equal(kin(k, false), 0x55);
	kout(k, true, 0xae);
	kout(k, true, 0x20);
	assert_int_equal(kin(k, false), 0x45);

	kout(k, true, 0xab);
	assert_int_equal(kin(k, false), 0x00);
	/* no AUX: the loop byte comes back without AUXDATA, AUX test fails */
	kout(k, true, 0xd3);
	kout(k, false, 0x5a);
	assert_int_equal(kin(k, true) & 0x21, 0x01);
	kout(k, true, 0xa9);
	assert_int_equal(kin(k, false), 0x02);
	assert_int_equal(f.power_calls, 0);
	vm_i8042_free(k);
}

static void test_i8042_keyboard(void **state)
{
	struct fake f = { 0 };
	struct vm_i8042 *k = vm_i8042_new(fake_power, &f);

	kout(k, false, 0xf2);
	assert_int_equal(kin(k, false), 0xfa);
	assert_int_equal(kin(k, false), 0xab);
	assert_int_equal(kin(k, false), 0x83);
	assert_int_equal(kin(k, true) & 0x01, 0);
	kout(k, false, 0xff);
	assert_int_equal(kin(k, false), 0xfa);
	assert_int_equal(kin(k, false), 0xaa);
	kout(k, false, 0xed);                       /* LEDs: ack, param, ack */
	assert_int_equal(kin(k, false), 0xfa);
	kout(k, false, 0x07);
	assert_int_equal(kin(k, false), 0xfa);
	assert_int_equal(kin(k, true) & 0x01, 0);
	assert_int_equal(kin(k, false), 0xfa);      /* empty: last byte again */
	vm_i8042_free(k);
}

static void test_i8042_reset(void **state)
{
	struct fake f = { 0 };
	struct vm_i8042 *k = vm_i8042_new(fake_power, &f);
	uint8_t v = 0xfe;

	kout(k, true, 0xff);                        /* bit 0 set: no pulse */
	assert_int_equal(f.power_calls, 0);
	kout(k, true, 0xfe);
	assert_int_equal(f.power_calls, 1);
	assert_int_equal(f.last_ev, VM_POWER_RESET);
	/* the old name is the command port */
	vm_i8042_io(k, 0, &v, 1, true);
	assert_int_equal(f.power_calls, 2);
	/* output port write with the reset bit clear */
	kout(k, true, 0xd1);
	kout(k, false, 0x02);
	assert_int_equal(f.power_calls, 3);
	assert_int_equal(f.last_ev, VM_POWER_RESET);
	vm_i8042_free(k);
}

static void test_i8042_garbage(void **state)
{
	struct fake f = { 0 };
	struct vm_i8042 *k = vm_i8042_new(fake_power, &f);

	garbage(vm_i8042_data_io, k, 2);
	garbage(vm_i8042_cmd_io, k, 2);
	assert_true(f.power_calls > 0);             /* some random byte pulsed reset */
	assert_int_equal(f.last_ev, VM_POWER_RESET);
	kout(k, true, 0xaa);
	assert_int_equal(kin(k, false), 0x55);
	vm_i8042_free(k);
}

/* ---- pm ---- */
static uint32_t pin(struct vm_pm *pm, unsigned off, uint32_t len)
{
	uint8_t d[4] = { 0 };

	vm_pm_io(pm, off, d, len, false);
	return d[0] | d[1] << 8 | d[2] << 16 | (uint32_t)d[3] << 24;
}

static void pout(struct vm_pm *pm, unsigned off, uint32_t v, uint32_t len)
{
	uint8_t d[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	vm_pm_io(pm, off, d, len, true);
}

static void test_pm_sci_en(void **state)
{
	struct fake f = { 0 };
	struct vm_pm *pm = vm_pm_new(9, fake_irq, &f, fake_power, &f);

	assert_non_null(pm);
	assert_int_equal(pin(pm, 4, 2), 0x0001);
	pout(pm, 4, 0x0000, 2);
	assert_int_equal(pin(pm, 4, 2), 0x0001);
	assert_int_equal(pin(pm, 4, 1), 0x01);
	assert_int_equal(pin(pm, 2, 2), 0x0000);
	assert_int_equal(pin(pm, 6, 2), 0xffff);    /* the gap */
	assert_int_equal(pin(pm, 10, 4) >> 16, 0xffff); /* past the end */
	assert_int_equal(f.irq_calls, 0);
	assert_int_equal(f.power_calls, 0);
	vm_pm_free(pm);
}

static void test_pm_power_button(void **state)
{
	struct fake f = { 0 };
	struct vm_pm *pm = vm_pm_new(9, fake_irq, &f, fake_power, &f);

	/* not enabled: status only, no SCI */
	assert_false(vm_pm_power_button(pm));
	assert_int_equal(pin(pm, 0, 2) & 0x0100, 0x0100);
	assert_int_equal(f.irq_calls, 0);
	/* W1C: writing 0 to the bit keeps it, 1 clears it */
	pout(pm, 0, 0x0000, 2);
	assert_int_equal(pin(pm, 0, 2) & 0x0100, 0x0100);
	pout(pm, 0, 0xfeff, 2);
	assert_int_equal(pin(pm, 0, 2) & 0x0100, 0x0100);
	pout(pm, 1, 0x01, 1);                       /* high byte alone */
	assert_int_equal(pin(pm, 0, 2) & 0x0100, 0);

	/* enabled: SCI on GSI 9 until the guest clears the status */
	pout(pm, 2, 0x0100, 2);
	assert_int_equal(pin(pm, 2, 2), 0x0100);
	assert_int_equal(f.irq_calls, 0);
	assert_true(vm_pm_power_button(pm));
	assert_int_equal(f.irq_calls, 1);
	assert_int_equal(f.last_gsi, 9);
	assert_int_equal(f.level, 1);
	assert_true(vm_pm_power_button(pm));       /* still asserted: no new call */
	assert_int_equal(f.irq_calls, 1);
	pout(pm, 0, 0x0100, 2);
	assert_int_equal(f.irq_calls, 2);
	assert_int_equal(f.level, 0);
	/* pending status + enabling later raises it too */
	pout(pm, 2, 0x0000, 2);
	assert_false(vm_pm_power_button(pm));
	assert_int_equal(f.irq_calls, 2);
	pout(pm, 2, 0x0100, 2);
	assert_int_equal(f.irq_calls, 3);
	assert_int_equal(f.level, 1);
	/* a 4-byte write at 0: clear status and disable in one go */
	pout(pm, 0, 0x00000100, 4);
	assert_int_equal(f.level, 0);
	assert_int_equal(pin(pm, 0, 4) & 0xffff01fe, 0); /* bit 0: TMR_STS */
	assert_int_equal(f.power_calls, 0);
	vm_pm_free(pm);
}

static void test_pm_sleep(void **state)
{
	struct fake f = { 0 };
	struct vm_pm *pm = vm_pm_new(9, fake_irq, &f, fake_power, &f);

	/* ACPICA writes SLP_TYP, then SLP_TYP | SLP_EN */
	pout(pm, 4, 5 << 10, 2);
	assert_int_equal(f.power_calls, 0);
	assert_int_equal(pin(pm, 4, 2), (5 << 10) | 1);
	/* S3 (type 1 here): ignored, wakes at once */
	pout(pm, 4, (1 << 10) | (1 << 13), 2);
	assert_int_equal(f.power_calls, 0);
	assert_int_equal(pin(pm, 0, 2) & 0x8000, 0x8000);
	assert_int_equal(pin(pm, 4, 2), (1 << 10) | 1); /* SLP_EN reads 0 */
	pout(pm, 0, 0x8000, 2);
	assert_int_equal(pin(pm, 0, 2) & 0x8000, 0);
	/* S5 */
	pout(pm, 4, (VM_S5_SLP_TYP << 10) | (1 << 13), 2);
	assert_int_equal(f.power_calls, 1);
	assert_int_equal(f.last_ev, VM_POWER_OFF);
	/* the high byte alone works as well */
	pout(pm, 5, ((VM_S5_SLP_TYP << 10) | (1 << 13)) >> 8, 1);
	assert_int_equal(f.power_calls, 2);
	assert_int_equal(f.last_ev, VM_POWER_OFF);
	vm_pm_free(pm);
}

static void test_pm_timer(void **state)
{
	struct fake f = { 0 };
	struct vm_pm *pm = vm_pm_new(9, fake_irq, &f, fake_power, &f);
	/* the first ns at which 2^24 ticks have passed */
	uint64_t wrap = ((1ULL << 24) * 1000000000ULL + 3579545 - 1) / 3579545;
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint32_t t0, t1, diff;

	assert_int_equal(vm_pm_timer_at(0), 0);
	assert_int_equal(vm_pm_timer_at(1000000000ULL), 3579545);
	assert_int_equal(vm_pm_timer_at(1000), 3);
	assert_int_equal(vm_pm_timer_at(wrap - 1), 0xffffff);
	assert_int_equal(vm_pm_timer_at(wrap), 0);
	assert_int_equal(vm_pm_timer_at(2 * wrap + 1000000000ULL), 3579545);
	/* no overflow far out (about 580 years) */
	assert_true(vm_pm_timer_at(UINT64_MAX) <= 0xffffff);

	t0 = pin(pm, 8, 4);
	nanosleep(&ts, NULL);
	t1 = pin(pm, 8, 4);
	assert_int_equal(t0 >> 24, 0);
	assert_int_equal(t1 >> 24, 0);
	diff = (t1 - t0) & 0xffffff;
	/* 20 ms is 71591 ticks; allow a slow machine up to 2 s */
	assert_true(diff >= 71591);
	assert_true(diff < 2 * 3579545);
	/* a byte read of the top byte is 0 */
	assert_int_equal(pin(pm, 11, 1), 0);
	/* the timer is read-only */
	pout(pm, 8, 0, 4);
	assert_true(((pin(pm, 8, 4) - t1) & 0xffffff) < 2 * 3579545);
	vm_pm_free(pm);
}

static void test_pm_garbage(void **state)
{
	struct fake f = { 0 };
	struct vm_pm *pm = vm_pm_new(9, fake_irq, &f, fake_power, &f);

	garbage(vm_pm_io, pm, 12);
	assert_int_equal(pin(pm, 4, 2) & 1, 1);
	/* the SCI level follows status & enable whatever happened */
	pout(pm, 0, 0xffff, 2);
	pout(pm, 2, 0x0000, 2);
	assert_int_equal(f.level, 0);
	vm_pm_free(pm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_serial_scratch_dlab),
		cmocka_unit_test(test_serial_loopback),
		cmocka_unit_test(test_serial_fifo_iir),
		cmocka_unit_test(test_serial_thre),
		cmocka_unit_test(test_serial_rx),
		cmocka_unit_test(test_serial_output_pipe),
		cmocka_unit_test(test_serial_overflow),
		cmocka_unit_test(test_serial_garbage),
		cmocka_unit_test(test_i8042_selftest_ctr),
		cmocka_unit_test(test_i8042_keyboard),
		cmocka_unit_test(test_i8042_reset),
		cmocka_unit_test(test_i8042_garbage),
		cmocka_unit_test(test_pm_sci_en),
		cmocka_unit_test(test_pm_power_button),
		cmocka_unit_test(test_pm_sleep),
		cmocka_unit_test(test_pm_timer),
		cmocka_unit_test(test_pm_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
