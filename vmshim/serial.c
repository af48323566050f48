/* vmshim/serial.c: COM1, a 16550A UART as Linux's 8250 driver probes it.
 *
 * Model:
 * - Transmit is instant: a THR write goes straight to out_fd, so LSR always
 *   shows THRE|TEMT and the THRE interrupt comes back after every write.
 *   out_fd is the caller's: a blocking fd keeps every byte (a stalled reader
 *   stalls the writing vCPU), a non-blocking fd drops bytes when full rather
 *   than block a vCPU forever.  A closed pipe gives EPIPE: the VMM must
 *   ignore SIGPIPE.  out_fd < 0 discards output.
 * - Receive holds what a 16550A holds: 16 bytes with FIFOs on, 1 without.
 *   Below the trigger level, data reports the character timeout (IIR 0xCC)
 *   at once; Linux reads both the same way.
 * - Loopback (MCR bit 4) routes THR to the receiver and MCR to MSR as the
 *   chip does; host input that arrives meanwhile is lost, as on a real SIN.
 * - The interrupt line is modelled as a level: raised while an enabled
 *   interrupt is pending and MCR OUT2 gates it onto the bus (as on PCs;
 *   loopback disconnects it), lowered when none is.  irq() is called with
 *   the device lock held and only when the level changes. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm.h"

enum {
	REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
	REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7, NR_REGS = 8,
};

#define IER_RDI    0x01
#define IER_THRI   0x02
#define IER_RLSI   0x04
#define IER_MSI    0x08
#define IER_MASK   0x0f  /* the upper bits read 0: Linux's XScale probe writes them */

#define IIR_NO_INT 0x01
#define IIR_MSI    0x00
#define IIR_THRI   0x02
#define IIR_RDI    0x04
#define IIR_RLSI   0x06
#define IIR_RX_TO  0x0c
#define IIR_FIFO   0xc0

#define FCR_ENABLE 0x01
#define FCR_CLR_RX 0x02

#define LCR_DLAB   0x80

#define MCR_DTR    0x01
#define MCR_RTS    0x02
#define MCR_OUT1   0x04
#define MCR_OUT2   0x08
#define MCR_LOOP   0x10
#define MCR_MASK   0x1f

#define LSR_DR     0x01
#define LSR_OE     0x02
#define LSR_THRE   0x20
#define LSR_TEMT   0x40

#define MSR_DELTA  0x0f
#define MSR_TERI   0x04
#define MSR_CTS    0x10
#define MSR_DSR    0x20
#define MSR_RI     0x40
#define MSR_DCD    0x80

#define RX_FIFO    16

struct vm_serial {
	pthread_mutex_t lock;
	uint32_t gsi;
	vm_irq_fn irq;
	void *irq_arg;
	int out_fd;

	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool fifo_on;
	uint8_t trigger;             /* receive trigger level in bytes */
	uint8_t lsr_err;             /* sticky LSR error bits, cleared by reading LSR */
	uint8_t msr_delta;           /* MSR bits 0-3, cleared by reading MSR */
	bool thre_pending;           /* THRE interrupt, cleared by the IIR read that reports it */

	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;

	int irq_level;
	uint64_t tx_dropped;
};

static const uint8_t trigger_levels[4] = { 1, 4, 8, 14 };

static unsigned rx_cap(const struct vm_serial *s)
{
	return s->fifo_on ? RX_FIFO : 1;
}

static void rx_clear(struct vm_serial *s)
{
	s->rx_head = 0;
	s->rx_count = 0;
}

/* Returns false on overrun (the byte is lost). */
static bool rx_push(struct vm_serial *s, uint8_t b)
{
	if (s->rx_count >= rx_cap(s))
		return false;
	s->rx[(s->rx_head + s->rx_count) % RX_FIFO] = b;
	s->rx_count++;
	return true;
}

static uint8_t rx_pop(struct vm_serial *s)
{
	uint8_t b;

	if (s->rx_count == 0)
		return 0;
	b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % RX_FIFO;
	s->rx_count--;
	return b;
}

/* The modem input lines (MSR bits 4-7): a null-modem cable with the peer
 * present, or in loopback the chip's own outputs. */
static uint8_t modem_lines(const struct vm_serial *s)
{
	uint8_t m = s->mcr, v = 0;

	if (!(m & MCR_LOOP))
		return MSR_DCD | MSR_DSR | MSR_CTS;
	if (m & MCR_RTS)
		v |= MSR_CTS;
	if (m & MCR_DTR)
		v |= MSR_DSR;
	if (m & MCR_OUT1)
		v |= MSR_RI;
	if (m & MCR_OUT2)
		v |= MSR_DCD;
	return v;
}

static uint8_t iir_id(const struct vm_serial *s)
{
	if ((s->ier & IER_RLSI) && s->lsr_err)
		return IIR_RLSI;
	if ((s->ier & IER_RDI) && s->rx_count)
		return s->rx_count >= s->trigger ? IIR_RDI : IIR_RX_TO;
	if ((s->ier & IER_THRI) && s->thre_pending)
		return IIR_THRI;
	if ((s->ier & IER_MSI) && s->msr_delta)
		return IIR_MSI;
	return IIR_NO_INT;
}

static void update_irq(struct vm_serial *s)
{
	int level = iir_id(s) != IIR_NO_INT && (s->mcr & MCR_OUT2) && !(s->mcr & MCR_LOOP);

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	if (s->irq)
		s->irq(s->irq_arg, s->gsi, level);
}

static void tx_out(struct vm_serial *s, uint8_t b)
{
	ssize_t r;

	if (s->out_fd < 0)
		return;
	/* one byte: no partial writes; EAGAIN (full non-blocking fd) or an
	 * error drops it */
	do
		r = write(s->out_fd, &b, 1);
	while (r < 0 && errno == EINTR);
	if (r != 1)
		s->tx_dropped++;
}

static void write_mcr(struct vm_serial *s, uint8_t v)
{
	uint8_t old = modem_lines(s), now, changed;

	s->mcr = v & MCR_MASK;
	now = modem_lines(s);
	changed = old ^ now;
	/* delta bits: CTS, DSR, DCD on any change; RI on its trailing edge */
	s->msr_delta |= (changed & (MSR_CTS | MSR_DSR | MSR_DCD)) >> 4;
	if ((old & MSR_RI) && !(now & MSR_RI))
		s->msr_delta |= MSR_TERI;
}

static void write_fcr(struct vm_serial *s, uint8_t v)
{
	bool on = v & FCR_ENABLE;

	/* toggling the enable bit empties the FIFOs; with it clear the other
	 * bits are not written */
	if (on != s->fifo_on)
		rx_clear(s);
	s->fifo_on = on;
	if (!on) {
		s->trigger = 1;
		return;
	}
	if (v & FCR_CLR_RX)
		rx_clear(s);
	s->trigger = trigger_levels[v >> 6];
}

static void reg_write(struct vm_serial *s, unsigned reg, uint8_t v)
{
	bool dlab = s->lcr & LCR_DLAB;

	switch (reg) {
	case REG_RBR_THR:
		if (dlab) {
			s->dll = v;
			break;
		}
		if (s->mcr & MCR_LOOP) {
			if (!rx_push(s, v))
				s->lsr_err |= LSR_OE;
		} else {
			tx_out(s, v);
		}
		/* sent at once: THR is empty again */
		s->thre_pending = true;
		break;
	case REG_IER:
		if (dlab) {
			s->dlm = v;
			break;
		}
		/* THRE is (re)asserted when THRI goes 0 -> 1 with THR empty,
		 * which Linux's startup test relies on; it is dropped with THRI */
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thre_pending = true;
		else if (!(v & IER_THRI))
			s->thre_pending = false;
		s->ier = v & IER_MASK;
		break;
	case REG_IIR_FCR:
		write_fcr(s, v);
		break;
	case REG_LCR:
		s->lcr = v;
		break;
	case REG_MCR:
		write_mcr(s, v);
		break;
	case REG_SCR:
		s->scr = v;
		break;
	default:                     /* LSR, MSR: read-only */
		break;
	}
}

static uint8_t reg_read(struct vm_serial *s, unsigned reg)
{
	bool dlab = s->lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case REG_RBR_THR:
		return dlab ? s->dll : rx_pop(s);
	case REG_IER:
		return dlab ? s->dlm : s->ier;
	case REG_IIR_FCR:
		v = iir_id(s);
		if (v == IIR_THRI)
			s->thre_pending = false;
		return v | (s->fifo_on ? IIR_FIFO : 0);
	case REG_LCR:
		return s->lcr;
	case REG_MCR:
		return s->mcr;
	case REG_LSR:
		v = LSR_THRE | LSR_TEMT | s->lsr_err | (s->rx_count ? LSR_DR : 0);
		s->lsr_err = 0;
		return v;
	case REG_MSR:
		v = modem_lines(s) | s->msr_delta;
		s->msr_delta = 0;
		return v;
	default:
		return s->scr;
	}
}

struct vm_serial *vm_serial_new(uint32_t gsi, vm_irq_fn irq, void *irq_arg, int out_fd)
{
	struct vm_serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (pthread_mutex_init(&s->lock, NULL) != 0) {
		free(s);
		return NULL;
	}
	s->gsi = gsi;
	s->irq = irq;
	s->irq_arg = irq_arg;
	s->out_fd = out_fd;
	s->dll = 12;                 /* 9600 baud */
	s->trigger = 1;
	return s;
}

/* Any size at any offset: each byte is its own register access, bytes
 * beyond the 8 registers read 0xff and ignore writes. */
void vm_serial_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_serial *s = dev;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++) {
		bool in_range = offset < NR_REGS && i < NR_REGS - offset;

		if (is_write) {
			if (in_range)
				reg_write(s, (unsigned)(offset + i), data[i]);
		} else {
			data[i] = in_range ? reg_read(s, (unsigned)(offset + i)) : 0xff;
		}
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t vm_serial_input(struct vm_serial *s, const uint8_t *buf, size_t n)
{
	size_t taken = 0;

	pthread_mutex_lock(&s->lock);
	if (s->mcr & MCR_LOOP) {
		taken = n;           /* the receiver listens to THR, not the line */
	} else {
		while (taken < n && rx_push(s, buf[taken]))
			taken++;
	}
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return taken;
}

bool vm_serial_can_input(struct vm_serial *s)
{
	bool room;

	pthread_mutex_lock(&s->lock);
	room = (s->mcr & MCR_LOOP) || s->rx_count < rx_cap(s);
	pthread_mutex_unlock(&s->lock);
	return room;
}

void vm_serial_free(struct vm_serial *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}
