/* vmshim/i8042.c: the PS/2 controller, enough for Linux's i8042 and atkbd
 * drivers to probe without errors or long timeouts, and for the reset line
 * (command 0xFE, or an output-port write with bit 0 clear) to reboot.
 *
 * A keyboard is attached and answers its commands; there is no AUX (mouse)
 * device.  Linux's AUX_LOOP check (0xD3) gets its byte back as keyboard data,
 * which it takes as "no AUX" at once (auxerr) instead of waiting for a
 * timeout, and AUX_TEST (0xA9) reports 0x02 (clock line stuck high).
 *
 * Poll mode: no interrupts are raised, so the guest only sees replies it
 * polls for (the controller commands; atkbd, which waits for IRQ 1, finds
 * no keyboard after its timeouts in the background).  Registered twice with
 * one device: vm_i8042_data_io at 0x60 and vm_i8042_cmd_io at 0x64. */
#include <pthread.h>
#include <stdlib.h>

#include "vm.h"

#define STR_OBF      0x01
#define STR_SYS      0x04
#define STR_CMDDAT   0x08            /* last write was to the command port */
#define STR_KEYLOCK  0x10            /* 1: keyboard not inhibited */
#define STR_AUXDATA  0x20

#define CTR_SYS      0x04
#define CTR_KBDDIS   0x10
#define CTR_AUXDIS   0x20

#define OUT_FIFO     16

struct vm_i8042 {
	pthread_mutex_t lock;
	vm_power_fn power;
	void *power_arg;

	uint8_t ram[32];             /* ram[0] is the controller configuration byte */
	uint8_t outport;
	uint8_t status_cmd;          /* STR_CMDDAT or 0 */
	uint8_t pending;             /* controller command waiting for its data byte, 0: none */
	uint8_t kbd_pending;         /* keyboard command waiting for its parameter, 0: none */
	uint8_t last;                /* what an empty data port reads */

	uint8_t out[OUT_FIFO];
	bool out_aux[OUT_FIFO];
	unsigned out_head, out_count;
};

static void out_push(struct vm_i8042 *k, uint8_t b, bool aux)
{
	unsigned i;

	if (k->out_count >= OUT_FIFO)
		return;
	i = (k->out_head + k->out_count) % OUT_FIFO;
	k->out[i] = b;
	k->out_aux[i] = aux;
	k->out_count++;
}

static uint8_t status(const struct vm_i8042 *k)
{
	uint8_t v = k->status_cmd | STR_KEYLOCK | (k->ram[0] & CTR_SYS ? STR_SYS : 0);

	if (k->out_count) {
		v |= STR_OBF;
		if (k->out_aux[k->out_head])
			v |= STR_AUXDATA;
	}
	return v;
}

static uint8_t data_read(struct vm_i8042 *k)
{
	if (k->out_count) {
		k->last = k->out[k->out_head];
		k->out_head = (k->out_head + 1) % OUT_FIFO;
		k->out_count--;
	}
	return k->last;
}

static void kbd_command(struct vm_i8042 *k, uint8_t v)
{
	uint8_t cmd = k->kbd_pending;

	if (cmd) {                   /* the parameter of an earlier command */
		k->kbd_pending = 0;
		out_push(k, 0xfa, false);
		if (cmd == 0xf0 && v == 0)   /* get scan code set */
			out_push(k, 0x02, false);
		return;
	}
	switch (v) {
	case 0xed:                   /* set LEDs */
	case 0xf0:                   /* scan code set */
	case 0xf3:                   /* typematic rate */
		k->kbd_pending = v;
		out_push(k, 0xfa, false);
		break;
	case 0xee:                   /* echo */
		out_push(k, 0xee, false);
		break;
	case 0xf2:                   /* identify: MF2 keyboard */
		out_push(k, 0xfa, false);
		out_push(k, 0xab, false);
		out_push(k, 0x83, false);
		break;
	case 0xff:                   /* reset: ack, then self-test passed */
		out_push(k, 0xfa, false);
		out_push(k, 0xaa, false);
		break;
	default:                     /* enable, disable, defaults, ... */
		out_push(k, 0xfa, false);
		break;
	}
}

static void reset_line(struct vm_i8042 *k)
{
	if (k->power)
		k->power(k->power_arg, VM_POWER_RESET);
}

static void data_write(struct vm_i8042 *k, uint8_t v)
{
	uint8_t cmd = k->pending;

	k->status_cmd = 0;
	k->pending = 0;
	if (cmd >= 0x60 && cmd <= 0x7f) {
		k->ram[cmd - 0x60] = v;
		return;
	}
	switch (cmd) {
	case 0xd1:                   /* write output port; bit 0 is the reset line */
		k->outport = v;
		if (!(v & 0x01))
			reset_line(k);
		break;
	case 0xd2:                   /* as if from the keyboard */
		out_push(k, v, false);
		break;
	case 0xd3:                   /* AUX loopback: no AUX device, see above */
		out_push(k, v, false);
		break;
	case 0xd4:                   /* to the AUX device: nobody answers */
		out_push(k, 0xfe, true);
		break;
	default:                     /* no command waiting: for the keyboard */
		kbd_command(k, v);
		break;
	}
}

static void cmd_write(struct vm_i8042 *k, uint8_t v)
{
	k->status_cmd = STR_CMDDAT;
	k->pending = 0;
	k->kbd_pending = 0;
	/* a new command discards unread replies, so the next read is its own */
	k->out_count = 0;

	if (v >= 0x20 && v <= 0x3f) {
		out_push(k, k->ram[v - 0x20], false);
		return;
	}
	if ((v >= 0x60 && v <= 0x7f) || (v >= 0xd1 && v <= 0xd4)) {
		k->pending = v;
		return;
	}
	if (v >= 0xf0) {             /* pulse output lines: bit 0 clear pulses reset */
		if (!(v & 0x01))
			reset_line(k);
		return;
	}
	switch (v) {
	case 0xa7:
		k->ram[0] |= CTR_AUXDIS;
		break;
	case 0xa8:
		k->ram[0] &= ~CTR_AUXDIS;
		break;
	case 0xa9:                   /* AUX port test: clock stuck high, nothing there */
		out_push(k, 0x02, false);
		break;
	case 0xaa:                   /* controller self test */
		k->ram[0] |= CTR_SYS;
		out_push(k, 0x55, false);
		break;
	case 0xab:                   /* keyboard port test */
		out_push(k, 0x00, false);
		break;
	case 0xad:
		k->ram[0] |= CTR_KBDDIS;
		break;
	case 0xae:
		k->ram[0] &= ~CTR_KBDDIS;
		break;
	case 0xc0:                   /* input port */
	case 0xe0:                   /* test inputs */
		out_push(k, 0x00, false);
		break;
	case 0xd0:                   /* output port */
		out_push(k, k->outport, false);
		break;
	default:
		break;
	}
}

struct vm_i8042 *vm_i8042_new(vm_power_fn power, void *power_arg)
{
	struct vm_i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	if (pthread_mutex_init(&k->lock, NULL) != 0) {
		free(k);
		return NULL;
	}
	k->power = power;
	k->power_arg = power_arg;
	/* as firmware leaves it: keyboard and AUX interrupts on, translation, system flag */
	k->ram[0] = 0x47;
	k->outport = 0x03;           /* reset line high, A20 on */
	return k;
}

/* One byte per access; the rest of a wider access reads 0xff. */
static void port_io(struct vm_i8042 *k, bool cmd_port, uint64_t offset, uint8_t *data,
		    uint32_t len, bool is_write)
{
	if (len == 0)
		return;
	pthread_mutex_lock(&k->lock);
	if (offset != 0) {
		if (!is_write)
			data[0] = 0xff;
	} else if (is_write) {
		if (cmd_port)
			cmd_write(k, data[0]);
		else
			data_write(k, data[0]);
	} else {
		data[0] = cmd_port ? status(k) : data_read(k);
	}
	pthread_mutex_unlock(&k->lock);
	for (uint32_t i = 1; i < len; i++)
		if (!is_write)
			data[i] = 0xff;
}

void vm_i8042_data_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	port_io(dev, false, offset, data, len, is_write);
}

void vm_i8042_cmd_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	port_io(dev, true, offset, data, len, is_write);
}

void vm_i8042_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	port_io(dev, true, offset, data, len, is_write);
}

void vm_i8042_free(struct vm_i8042 *k)
{
	if (!k)
		return;
	pthread_mutex_destroy(&k->lock);
	free(k);
}
