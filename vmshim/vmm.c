/* The VMM: builds the machine in the order its parts depend on each other
 * (KVM, RAM, ACPI, kernel, devices, vCPUs), confines itself, runs the
 * vCPU threads and the main event loop (console input, SIGTERM/SIGINT as
 * the power button, the end of the run), and takes it all down. */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"

#define MAX_MEM_BYTES (1ULL << 40)
/* Retry interval while the serial receive FIFO is full. */
#define CONSOLE_RETRY_MS 10

void vmm_event(struct vmm *vm, const char *type, const char *fmt, ...)
{
	char data[512];
	va_list ap;

	if (!vm->cfg.event)
		return;
	va_start(ap, fmt);
	vsnprintf(data, sizeof(data), fmt, ap);
	va_end(ap);
	vm->cfg.event(vm->cfg.event_arg, type, data);
}

void vmm_debug(struct vmm *vm, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (!vm->cfg.debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vm->cfg.debug(vm->cfg.debug_arg, msg);
}

static void wake_main(struct vmm *vm)
{
	uint64_t one = 1;
	/* EAGAIN (a full counter) still leaves the reader woken */
	ssize_t r = write(vm->wake_fd, &one, sizeof(one));
	(void)r;
}

void vmm_end(struct vmm *vm, int status)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->ended) {
		vm->ended = true;
		vm->end_status = status;
	}
	pthread_mutex_unlock(&vm->lock);
	atomic_store(&vm->stop, true);
	wake_main(vm);
}

void vmm_fail(struct vmm *vm, const struct cell_err *err)
{
	pthread_mutex_lock(&vm->lock);
	if (!vm->ended) {
		vm->ended = true;
		vm->failed = true;
		vm->fail_err = *err;
	}
	pthread_mutex_unlock(&vm->lock);
	atomic_store(&vm->stop, true);
	wake_main(vm);
}

/* VM_EXIT_PORT: the guest writes one byte, its exit status. */
static void exit_port_io(void *dev, uint64_t offset, uint8_t *data, uint32_t len, bool is_write)
{
	struct vmm *vm = dev;
	if (is_write && offset == 0 && len >= 1)
		atomic_store(&vm->exit_status, data[0]);
}

static void power_event(void *arg, enum vm_power_event ev)
{
	struct vmm *vm = arg;
	int st = atomic_load(&vm->exit_status);
	/* power-off and reset both end the run */
	vmm_debug(vm, "vmm: the guest %s (exit status %d)",
		  ev == VM_POWER_OFF ? "powered off" : "reset", st);
	vmm_end(vm, st >= 0 ? st : 0);
}

static int check_config(const struct vmm_config *cfg, struct cell_err *err)
{
	if (cfg->vcpus < 1 || cfg->vcpus > VMM_MAX_VCPUS)
		return cell_err_set(err, EINVAL, "vmm: %u vCPUs, must be 1..%d", cfg->vcpus,
				    VMM_MAX_VCPUS);
	if (cfg->mem_bytes < VMM_MIN_MEM || cfg->mem_bytes % (2ULL << 20) ||
	    cfg->mem_bytes > MAX_MEM_BYTES)
		return cell_err_set(err, EINVAL,
				    "vmm: memory of %" PRIu64 " bytes: must be a multiple of 2 MiB "
				    "from 16 MiB to 1 TiB", cfg->mem_bytes);
	if (cfg->kernel_fd < 0)
		return cell_err_set(err, EBADF, "%s: no kernel",
				    cfg->kernel_name ? cfg->kernel_name : "kernel");
	return 0;
}

static int add_devices(struct vmm *vm, struct cell_err *err)
{
	struct vm_bus *b = &vm->bus;

	vm->serial = vm_serial_new(VM_COM1_IRQ, vm_kvm_irq, vm, vm->cfg.console_out);
	vm->i8042 = vm_i8042_new(power_event, vm);
	vm->pm = vm_pm_new(VM_SCI_IRQ, vm_kvm_irq, vm, power_event, vm);
	if (!vm->serial || !vm->i8042 || !vm->pm)
		return cell_err_set(err, ENOMEM, "vmm: devices");
	if (vm_bus_add(b, VM_BUS_PIO, VM_COM1_PORT, 8, vm_serial_io, vm->serial, err) < 0 ||
	    vm_bus_add(b, VM_BUS_PIO, VM_I8042_DATA_PORT, 1, vm_i8042_data_io, vm->i8042, err) < 0 ||
	    vm_bus_add(b, VM_BUS_PIO, VM_I8042_CMD_PORT, 1, vm_i8042_cmd_io, vm->i8042, err) < 0 ||
	    vm_bus_add(b, VM_BUS_PIO, VM_PM1A_EVT_PORT, 12, vm_pm_io, vm->pm, err) < 0 ||
	    vm_bus_add(b, VM_BUS_PIO, VM_EXIT_PORT, 1, exit_port_io, vm, err) < 0)
		return -1;
	return 0;
}

static int prepare(struct vmm *vm, struct cell_err *err)
{
	const struct vmm_config *cfg = &vm->cfg;
	const char *kname = cfg->kernel_name ? cfg->kernel_name : "kernel";
	unsigned i;

	if (vm_seccomp_build(&vm->seccomp, err) < 0)
		return -1;
	if (vm_kvm_open(vm, err) < 0)
		return -1;
	if (vm_mem_create(&vm->mem, cfg->mem_bytes, cfg->hugepages, cfg->mem_dir, err) < 0 ||
	    vm_mem_register(&vm->mem, vm->vm_fd, err) < 0)
		return -1;
	if (vm_acpi_build(&vm->mem, cfg->vcpus, &vm->rsdp, err) < 0)
		return -1;
	if (vm_boot_load(&vm->mem, cfg->kernel_fd, kname, cfg->initrd_fd, vm->cmdline, vm->rsdp,
			 &vm->boot, err) < 0)
		return -1;
	if (add_devices(vm, err) < 0)
		return -1;
	for (i = 0; i < cfg->vcpus; i++) {
		vm->nvcpus = i + 1;  /* a half-made vCPU is undone too */
		if (vm_vcpu_create(vm, &vm->vcpu[i], i, err) < 0)
			return -1;
	}
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0)
		return cell_err_set(err, errno, "vmm: eventfd");
	sigemptyset(&vm->sigs);
	sigaddset(&vm->sigs, SIGTERM);
	sigaddset(&vm->sigs, SIGINT);
	vm->sig_fd = signalfd(-1, &vm->sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->sig_fd < 0)
		return cell_err_set(err, errno, "vmm: signalfd");
	vmm_debug(vm, "vmm: %u vCPUs, %" PRIu64 " MiB of RAM (%s), %s boot, entry 0x%" PRIx64,
		  cfg->vcpus, cfg->mem_bytes >> 20, vm->mem.kind, vm->boot.mode == VM_BOOT_PVH32 ? "PVH" : "bzImage",
		  vm->boot.entry);
	return 0;
}

int vmm_prepare(const struct vmm_config *cfg, struct vmm **out, struct vmm_info *info,
		struct cell_err *err)
{
	struct vmm *vm;

	*out = NULL;
	if (check_config(cfg, err) < 0)
		return -1;
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return cell_err_set(err, ENOMEM, "vmm");
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = vm->wake_fd = vm->sig_fd = -1;
	vm->mem.memfd = -1;
	atomic_init(&vm->stop, false);
	atomic_init(&vm->exit_status, -1);
	pthread_mutex_init(&vm->lock, NULL);
	vm_bus_init(&vm->bus, cfg->event, cfg->event_arg);
	vm->cmdline = vm_cmdline_compose(cfg->cmdline);
	if (!vm->cmdline) {
		vmm_destroy(vm);
		return cell_err_set(err, ENOMEM, "vmm");
	}
	vm->cfg.cmdline = vm->cmdline;
	if (prepare(vm, err) < 0) {
		vmm_destroy(vm);
		return -1;
	}
	if (info) {
		info->tdp = vm->tdp;
		info->boot = vm->boot.mode == VM_BOOT_PVH32 ? "pvh" : "bzimage";
		info->vcpus = cfg->vcpus;
		info->mem_bytes = cfg->mem_bytes;
		info->ram = vm->mem.kind;
	}
	*out = vm;
	return 0;
}

int vmm_confine(struct vmm *vm, struct cell_err *err)
{
	if (vm->confined)
		return 0;
	if (vm_seccomp_load(vm->seccomp, err) < 0)
		return -1;
	vm->confined = true;
	return 0;
}

static void signal_noop(int sig)
{
	(void)sig;
}

/* Test hook (CELL_VMM_TEST_FORBIDDEN=1): a system call the allow-list does
 * not have, so that a test sees the confined VMM die of SIGSYS. */
static int test_forbidden(struct cell_err *err)
{
	const char *v = getenv("CELL_VMM_TEST_FORBIDDEN");
	if (!v || strcmp(v, "1") != 0)
		return 0;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		close(fd);
	return cell_err_set(err, 0, "CELL_VMM_TEST_FORBIDDEN: socket() was not stopped (%s)",
			    "the VMM is not confined");
}

/* Forwards console input to the serial port while its FIFO has room. */
struct console {
	int fd;                      /* -1: none or EOF */
	uint8_t buf[256];
	size_t off, len;
};

static void console_feed(struct vmm *vm, struct console *c)
{
	if (c->off < c->len)
		c->off += vm_serial_input(vm->serial, c->buf + c->off, c->len - c->off);
	if (c->off >= c->len)
		c->off = c->len = 0;
}

static void console_read(struct vmm *vm, struct console *c)
{
	ssize_t n = read(c->fd, c->buf, sizeof(c->buf));
	if (n > 0) {
		c->off = 0;
		c->len = (size_t)n;
		console_feed(vm, c);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		c->fd = -1;          /* EOF or a hung-up terminal: stop reading */
	}
}

static void handle_signals(struct vmm *vm)
{
	struct signalfd_siginfo si;

	while (read(vm->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		/* A guest that has not enabled the power button (no ACPI yet,
		 * or none at all) cannot shut down cleanly: end the run, as
		 * the signal would end a process. */
		if (!vm_pm_power_button(vm->pm))
			vmm_end(vm, 128 + (int)si.ssi_signo);
	}
}

static int event_loop(struct vmm *vm, struct cell_err *err)
{
	struct console con = { .fd = vm->cfg.console_in };

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = vm->wake_fd, .events = POLLIN },
			{ .fd = vm->sig_fd, .events = POLLIN },
			{ .fd = -1, .events = POLLIN },
		};
		int timeout = -1;

		if (con.fd >= 0) {
			if (con.len == 0 && vm_serial_can_input(vm->serial))
				p[2].fd = con.fd;
			else
				timeout = CONSOLE_RETRY_MS;
		}
		if (poll(p, 3, timeout) < 0) {
			if (errno == EINTR)
				continue;
			return cell_err_set(err, errno, "vmm: poll");
		}
		if (p[0].revents)
			return 0;
		if (p[1].revents)
			handle_signals(vm);
		if (p[2].revents)
			console_read(vm, &con);
		else if (con.len)
			console_feed(vm, &con);
		if (atomic_load(&vm->stop))
			return 0;
	}
}

int vmm_run(struct vmm *vm, int *status, struct cell_err *err)
{
	struct sigaction sa = { .sa_handler = signal_noop };
	sigset_t old;
	int r;

	*status = 0;
	if (vm->ran)
		return cell_err_set(err, EINVAL, "vmm: the VM has already run");
	vm->ran = true;
	if (test_forbidden(err) < 0)
		return -1;
	/* SIGTERM/SIGINT arrive through the signalfd.  They get a real
	 * handler all the same: as pid 1 of a pid namespace the VMM would
	 * have them dropped by the kernel while they are SIG_DFL.  Blocked
	 * here, they stay blocked in the vCPU threads created below. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0)
		return cell_err_set(err, errno, "vmm: sigaction");
	r = pthread_sigmask(SIG_BLOCK, &vm->sigs, &old);
	if (r != 0)
		return cell_err_set(err, r, "vmm: pthread_sigmask");
	if (vm_vcpus_start(vm, err) < 0) {
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		return -1;
	}
	r = event_loop(vm, err);
	vm_vcpus_stop(vm);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return -1;
	pthread_mutex_lock(&vm->lock);
	if (vm->failed) {
		*err = vm->fail_err;
		r = -1;
	} else {
		*status = vm->end_status;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

void vmm_destroy(struct vmm *vm)
{
	if (!vm)
		return;
	vm_vcpus_stop(vm);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vm_vcpu_destroy(&vm->vcpu[i], vm->run_size);
	if (vm->serial)
		vm_serial_free(vm->serial);
	if (vm->i8042)
		vm_i8042_free(vm->i8042);
	if (vm->pm)
		vm_pm_free(vm->pm);
	vm_mem_free(&vm->mem);
	vm_kvm_close(vm);
	vm_bus_destroy(&vm->bus);
	vm_seccomp_free(vm->seccomp);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	if (vm->sig_fd >= 0)
		close(vm->sig_fd);
	pthread_mutex_destroy(&vm->lock);
	free(vm->cmdline);
	free(vm);
}
