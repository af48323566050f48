/* vmshim/pm.c: ACPI fixed hardware for a classic FADT with SMI_CMD = 0 (the
 * machine is always in ACPI mode): the PM1a event block (status, enable),
 * the PM1a control block (sleep states: S5 powers off), the PM timer and
 * the power button, with the SCI as a level-triggered GSI.
 *
 * The range at VM_PM1A_EVT_PORT is 12 bytes: 0-1 PM1 status, 2-3 PM1
 * enable, 4-5 PM1 control, 6-7 unused, 8-11 PM timer.  Every access is
 * taken byte by byte (status bytes are write-1-to-clear each), except that
 * one access reads one timer sample.
 *
 * TMR_STS is found when the guest touches the block (there is no timer
 * thread), so TMR_EN gives no periodic SCI; Linux does not use it.  A sleep
 * state other than S5 wakes at once (WAK_STS), so a guest that asks for one
 * does not spin forever waiting for the wake. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "vm.h"

#define PM_LEN          12

#define STS_TMR         0x0001
#define STS_PWRBTN      0x0100
#define STS_WAK         0x8000
#define EN_TMR          0x0001
#define EN_GBL          0x0020
#define EN_PWRBTN       0x0100
#define EN_SLPBTN       0x0200
#define EN_RTC          0x0400
#define EN_MASK         (EN_TMR | EN_GBL | EN_PWRBTN | EN_SLPBTN | EN_RTC)

#define CNT_SCI_EN      0x0001
#define CNT_BM_RLD      0x0002
#define CNT_SLP_TYP     0x1c00
#define CNT_SLP_EN      0x2000
#define CNT_KEEP        (CNT_BM_RLD | CNT_SLP_TYP)

#define PM_TMR_HZ       3579545ULL
#define NSEC            1000000000ULL

struct vm_pm {
	pthread_mutex_t lock;
	uint32_t gsi;
	vm_irq_fn irq;
	void *irq_arg;
	vm_power_fn power;
	void *power_arg;

	uint16_t sts, en, cnt;
	uint64_t start_ns;
	uint64_t last_ticks;
	int irq_level;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* Ticks in ns, without overflowing 64 bits for any ns. */
static uint64_t ticks_at(uint64_t ns)
{
	return ns / NSEC * PM_TMR_HZ + ns % NSEC * PM_TMR_HZ / NSEC;
}

uint32_t vm_pm_timer_at(uint64_t ns)
{
	return (uint32_t)(ticks_at(ns) & 0xffffff);
}

/* Samples the timer; sets TMR_STS if bit 23 toggled since the last sample. */
static uint64_t sample(struct vm_pm *pm)
{
	uint64_t t = ticks_at(now_ns() - pm->start_ns);

	if ((t >> 23) != (pm->last_ticks >> 23))
		pm->sts |= STS_TMR;
	pm->last_ticks = t;
	return t;
}

static void update_sci(struct vm_pm *pm)
{
	int level = (pm->sts & pm->en & EN_MASK) != 0;

	if (level == pm->irq_level)
		return;
	pm->irq_level = level;
	if (pm->irq)
		pm->irq(pm->irq_arg, pm->gsi, level);
}

static void sleep_request(struct vm_pm *pm, uint16_t cnt)
{
	if (((cnt & CNT_SLP_TYP) >> 10) == VM_S5_SLP_TYP) {
		if (pm->power)
			pm->power(pm->power_arg, VM_POWER_OFF);
		return;
	}
	pm->sts |= STS_WAK;
}

static void byte_write(struct vm_pm *pm, unsigned off, uint8_t v)
{
	unsigned shift = (off & 1) * 8;
	uint16_t cnt;

	switch (off) {
	case 0:
	case 1:
		pm->sts &= (uint16_t)~(v << shift);
		break;
	case 2:
	case 3:
		pm->en = ((pm->en & ~(0xff << shift)) | (v << shift)) & EN_MASK;
		break;
	case 4:
	case 5:
		cnt = (uint16_t)((pm->cnt & ~(0xff << shift)) | (v << shift));
		pm->cnt = cnt & CNT_KEEP;
		if (cnt & CNT_SLP_EN)
			sleep_request(pm, cnt);
		break;
	default:                     /* unused, timer: read-only */
		break;
	}
}

static uint8_t byte_read(struct vm_pm *pm, unsigned off, uint32_t tmr)
{
	unsigned shift = (off & 1) * 8;

	switch (off) {
	case 0:
	case 1:
		return (uint8_t)(pm->sts >> shift);
	case 2:
	case 3:
		return (uint8_t)(pm->en >> shift);
	case 4:
	case 5:
		return (uint8_t)((pm->cnt | CNT_SCI_EN) >> shift);
	case 8:
	case 9:
	case 10:
	case 11:
		return (uint8_t)(tmr >> ((off - 8) * 8));
	default:
		return 0xff;
	}
}

struct vm_pm *vm_pm_new(uint32_t sci_gsi, vm_irq_fn irq, void *irq_arg, vm_power_fn power,
			void *power_arg)
{
	struct vm_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	if (pthread_mutex_init(&pm->lock, NULL) != 0) {
		free(pm);
		return NULL;
	}
	pm->gsi = sci_gsi;
	pm->irq = irq;
	pm->irq_arg = irq_arg;
	pm->power = power;
	pm->power_arg = power_arg;
	pm->start_ns = now_ns();
	return pm;
}

void vm_pm_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vm_pm *pm = dev;
	uint32_t tmr;

	pthread_mutex_lock(&pm->lock);
	tmr = (uint32_t)(sample(pm) & 0xffffff);
	for (uint32_t i = 0; i < len; i++) {
		bool in_range = offset < PM_LEN && i < PM_LEN - offset;

		if (is_write) {
			if (in_range)
				byte_write(pm, (unsigned)(offset + i), data[i]);
		} else {
			data[i] = in_range ? byte_read(pm, (unsigned)(offset + i), tmr) : 0xff;
		}
	}
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
}

bool vm_pm_power_button(struct vm_pm *pm)
{
	bool enabled;

	pthread_mutex_lock(&pm->lock);
	pm->sts |= STS_PWRBTN;
	enabled = pm->en & EN_PWRBTN;
	update_sci(pm);
	pthread_mutex_unlock(&pm->lock);
	return enabled;
}

void vm_pm_free(struct vm_pm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}
