/* The device bus: port-I/O and MMIO ranges with their callbacks, and the
 * dispatch of KVM's I/O and MMIO exits to them.  Unhandled reads return
 * all-ones, unhandled writes vanish; the first access to each unhandled
 * port or address is reported, a bounded number of times. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const space_name[] = { [VM_BUS_PIO] = "pio", [VM_BUS_MMIO] = "mmio" };

/* Ports that guests probe as a matter of course (POST codes, I/O delay,
 * legacy devices this machine does not have, PCI configuration): unhandled
 * but not worth an event. */
static const struct { uint16_t first, last; } silent_ports[] = {
	{ 0x0080, 0x0080 },        /* POST code */
	{ 0x00ed, 0x00ed },        /* I/O delay */
	{ 0x0000, 0x001f },        /* DMA controller 1 */
	{ 0x0081, 0x008f },        /* DMA page registers */
	{ 0x0070, 0x0071 },        /* CMOS/RTC */
	{ 0x00c0, 0x00df },        /* DMA controller 2 */
	{ 0x00f0, 0x00ff },        /* FPU error */
	{ 0x0170, 0x0177 },        /* IDE */
	{ 0x01f0, 0x01f7 },
	{ 0x0376, 0x0376 },
	{ 0x03f6, 0x03f6 },
	{ 0x0278, 0x027a },        /* parallel ports */
	{ 0x0378, 0x037a },
	{ 0x03bc, 0x03be },
	{ 0x02e8, 0x02ef },        /* COM4, COM2, COM3 */
	{ 0x02f8, 0x02ff },
	{ 0x03e8, 0x03ef },
	{ 0x03b0, 0x03df },        /* VGA */
	{ 0x03f0, 0x03f5 },        /* floppy */
	{ 0x03f7, 0x03f7 },
	{ 0x0cf8, 0x0cff },        /* PCI configuration mechanism 1 */
	{ 0x0092, 0x0092 },        /* system control port A */
	{ 0x0510, 0x0511 },        /* fw_cfg (probed by some guests) */
	{ 0x002e, 0x002f },        /* Super I/O configuration */
	{ 0x004e, 0x004f },
};

void vm_bus_init(struct vm_bus *b, vm_event_fn event, void *event_arg)
{
	memset(b, 0, sizeof(*b));
	b->event = event;
	b->event_arg = event_arg;
	pthread_mutex_init(&b->lock, NULL);
}

void vm_bus_destroy(struct vm_bus *b)
{
	pthread_mutex_destroy(&b->lock);
}

int vm_bus_add(struct vm_bus *b, enum vm_bus_space sp, uint64_t base, uint64_t len, vm_io_fn fn,
	       void *dev, struct cell_err *err)
{
	if (len == 0 || base + len < base || (sp == VM_BUS_PIO && base + len > 0x10000))
		return cell_err_set(err, EINVAL, "bus: bad %s range 0x%" PRIx64 "+%" PRIu64,
				    space_name[sp], base, len);
	if (b->n[sp] == VM_BUS_MAX_RANGES)
		return cell_err_set(err, ENOSPC, "bus: more than %d %s ranges", VM_BUS_MAX_RANGES,
				    space_name[sp]);
	for (unsigned i = 0; i < b->n[sp]; i++) {
		const struct vm_bus_range *r = &b->r[sp][i];
		if (base < r->base + r->len && r->base < base + len)
			return cell_err_set(err, EEXIST,
					    "bus: %s range 0x%" PRIx64 "+%" PRIu64
					    " overlaps 0x%" PRIx64 "+%" PRIu64,
					    space_name[sp], base, len, r->base, r->len);
	}
	b->r[sp][b->n[sp]++] = (struct vm_bus_range){ base, len, fn, dev };
	return 0;
}

static bool is_silent(enum vm_bus_space sp, uint64_t addr)
{
	if (sp != VM_BUS_PIO)
		return false;
	for (size_t i = 0; i < sizeof(silent_ports) / sizeof(silent_ports[0]); i++)
		if (addr >= silent_ports[i].first && addr <= silent_ports[i].last)
			return true;
	return false;
}

static void unhandled(struct vm_bus *b, enum vm_bus_space sp, uint64_t addr, uint32_t len,
		      bool is_write)
{
	bool report = false;

	pthread_mutex_lock(&b->lock);
	b->unhandled++;
	if (!is_silent(sp, addr) && b->nreported < VM_BUS_MAX_UNHANDLED_EVENTS) {
		report = true;
		for (unsigned i = 0; i < b->nreported; i++)
			if (b->reported[i].space == sp && b->reported[i].addr == addr) {
				report = false;
				break;
			}
		if (report)
			b->reported[b->nreported++] = (typeof(b->reported[0])){ sp, addr };
	}
	pthread_mutex_unlock(&b->lock);
	if (report && b->event) {
		char data[160];
		snprintf(data, sizeof(data),
			 "{\"space\":\"%s\",\"addr\":\"0x%" PRIx64 "\",\"len\":%u,\"write\":%s}",
			 space_name[sp], addr, len, is_write ? "true" : "false");
		b->event(b->event_arg, "vm-unhandled-io", data);
	}
}

void vm_bus_access(struct vm_bus *b, enum vm_bus_space sp, uint64_t addr, uint8_t *data,
		   uint32_t len, bool is_write)
{
	if (len == 0 || len > 8)
		return;
	for (unsigned i = 0; i < b->n[sp]; i++) {
		const struct vm_bus_range *r = &b->r[sp][i];
		/* Overflow-safe: addr - base < len, then the access fits. */
		if (addr >= r->base && addr - r->base < r->len && len <= r->len - (addr - r->base)) {
			if (!is_write)
				memset(data, 0xff, len);
			r->fn(r->dev, addr - r->base, data, len, is_write);
			return;
		}
	}
	if (!is_write)
		memset(data, 0xff, len);
	unhandled(b, sp, addr, len, is_write);
}

int vm_bus_exit_io(struct vm_bus *b, struct kvm_run *run, size_t run_size)
{
	uint32_t size = run->io.size, count = run->io.count;
	uint64_t off = run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;
	uint8_t *data;

	if ((size != 1 && size != 2 && size != 4) || count == 0)
		return -1;
	/* string I/O: count elements of size bytes at data_offset */
	if (off > run_size || (uint64_t)size * count > run_size - off)
		return -1;
	data = (uint8_t *)run + off;
	for (uint32_t i = 0; i < count; i++)
		vm_bus_access(b, VM_BUS_PIO, run->io.port, data + (size_t)i * size, size, is_write);
	return 0;
}

int vm_bus_exit_mmio(struct vm_bus *b, struct kvm_run *run)
{
	uint32_t len = run->mmio.len;

	if (len == 0 || len > sizeof(run->mmio.data))
		return -1;
	vm_bus_access(b, VM_BUS_MMIO, run->mmio.phys_addr, run->mmio.data, len, run->mmio.is_write);
	return 0;
}

uint64_t vm_bus_unhandled(struct vm_bus *b)
{
	pthread_mutex_lock(&b->lock);
	uint64_t n = b->unhandled;
	pthread_mutex_unlock(&b->lock);
	return n;
}
