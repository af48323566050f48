/* vmmrun: runs one microVM through vmshim/vmm.h alone, without the runtime
 * (development and tests/lab/vmm.bats).
 *
 *   vmmrun --kernel K [--initrd I] [--cmdline S] [--vcpus N] [--mem MiB]
 *          [--hugepages] [--mem-dir DIR] [--no-confine] [--debug]
 *
 * Serial console on stdin/stdout, events and errors on stderr ("vmmrun:
 * <msg>"); exits with the guest's status (vmm_run's *status), 1 on a VMM
 * error, 2 on bad usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../vmshim/vmm.h"

static void on_event(void *arg, const char *type, const char *data)
{
	(void)arg;
	fprintf(stderr, "vmmrun: event %s %s\n", type, data);
}

static void on_debug(void *arg, const char *msg)
{
	(void)arg;
	fprintf(stderr, "vmmrun: debug: %s\n", msg);
}

static void usage(void)
{
	fprintf(stderr, "usage: vmmrun --kernel K [--initrd I] [--cmdline S] [--vcpus N] "
			"[--mem MiB] [--hugepages] [--mem-dir DIR] [--no-confine] [--debug]\n");
	exit(2);
}

static unsigned long number(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end) {
		fprintf(stderr, "vmmrun: %s: not a number: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "cmdline", required_argument, NULL, 'c' },
		{ "vcpus", required_argument, NULL, 'n' },
		{ "mem", required_argument, NULL, 'm' },
		{ "hugepages", no_argument, NULL, 'H' },
		{ "mem-dir", required_argument, NULL, 'D' },
		{ "no-confine", no_argument, NULL, 'N' },
		{ "debug", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *kernel = NULL, *initrd = NULL;
	struct vmm_config cfg = {
		.kvm_path = "/dev/kvm",
		.kernel_name = NULL,
		.initrd_fd = -1,
		.cmdline = "console=ttyS0",
		.vcpus = 1,
		.mem_bytes = 256ULL << 20,
		.console_in = STDIN_FILENO,
		.console_out = STDOUT_FILENO,
		.event = on_event,
	};
	bool confine = true;
	struct cell_err err = { 0 };
	struct vmm_info info;
	struct vmm *vm;
	int c, status;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': kernel = optarg; break;
		case 'i': initrd = optarg; break;
		case 'c': cfg.cmdline = optarg; break;
		case 'n': cfg.vcpus = (unsigned)number(optarg, "--vcpus"); break;
		case 'm': cfg.mem_bytes = (uint64_t)number(optarg, "--mem") << 20; break;
		case 'H': cfg.hugepages = true; break;
		case 'D': cfg.mem_dir = optarg; break;
		case 'N': confine = false; break;
		case 'd': cfg.debug = on_debug; break;
		default: usage();
		}
	}
	if (!kernel || optind != argc)
		usage();
	cfg.kernel_name = kernel;
	cfg.kernel_fd = open(kernel, O_RDONLY | O_CLOEXEC);
	if (cfg.kernel_fd < 0) {
		fprintf(stderr, "vmmrun: %s: %s\n", kernel, strerror(errno));
		return 1;
	}
	if (initrd) {
		cfg.initrd_fd = open(initrd, O_RDONLY | O_CLOEXEC);
		if (cfg.initrd_fd < 0) {
			fprintf(stderr, "vmmrun: %s: %s\n", initrd, strerror(errno));
			return 1;
		}
	}
	if (vmm_prepare(&cfg, &vm, &info, &err) < 0) {
		fprintf(stderr, "vmmrun: %s\n", err.msg);
		return 1;
	}
	fprintf(stderr, "vmmrun: prepared: boot %s, %u vCPUs, %" PRIu64 " MiB (%s), tdp %s\n",
		info.boot, info.vcpus, info.mem_bytes >> 20, info.ram, info.tdp ? "yes" : "no");
	if (confine && vmm_confine(vm, &err) < 0) {
		fprintf(stderr, "vmmrun: %s\n", err.msg);
		vmm_destroy(vm);
		return 1;
	}
	if (vmm_run(vm, &status, &err) < 0) {
		fprintf(stderr, "vmmrun: %s\n", err.msg);
		vmm_destroy(vm);
		return 1;
	}
	vmm_destroy(vm);
	fprintf(stderr, "vmmrun: guest status %d\n", status);
	return status;
}
