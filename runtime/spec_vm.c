/* The runtime-spec `vm` object: what makes a bundle a microVM, and the
 * policy that sizes it (vCPUs and RAM from the same linux.resources a
 * container is limited by, or cell.vm.* annotations). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"
#include "../vmshim/vmm.h"

/* Bytes the VMM process itself needs inside the guest's memory limit:
 * its own pages, KVM's and the page tables it charges to the cgroup. */
#define VM_OVERHEAD (24ULL << 20)
#define VM_DEFAULT_MEM (128ULL << 20)
#define MIB (1ULL << 20)

static const char *annotation(const struct cell_spec *s, const char *key)
{
	return json_string_value(json_object_get(s->annotations, key));
}

/* "2", "0-3", "0,2-3": how many CPUs a cpuset list names. */
static int count_cpus(const char *list, unsigned *n)
{
	const char *p = list;

	*n = 0;
	while (*p) {
		char *end;
		unsigned long a = strtoul(p, &end, 10), b = a;

		if (end == p)
			return -1;
		p = end;
		if (*p == '-') {
			b = strtoul(p + 1, &end, 10);
			if (end == p + 1 || b < a)
				return -1;
			p = end;
		}
		if (b - a >= 4096)
			return -1;
		*n += b - a + 1;
		if (*p == ',')
			p++;
		else if (*p)
			return -1;
	}
	return *n ? 0 : -1;
}

/* "268435456", "256M", "1G", "512k" */
static int parse_size(const char *text, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!text || *text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	}
	if (*end == 'i' || *end == 'B')
		end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
	if (*end || v > (1ULL << 40))
		return -1;
	*out = v;
	return 0;
}

static int vm_vcpus(const struct cell_spec *s, unsigned *out, struct cell_err *err)
{
	const char *a = annotation(s, "cell.vm.vcpus");
	const json_t *cpu = json_object_get(s->resources, "cpu");
	const char *cpus = json_string_value(json_object_get(cpu, "cpus"));
	json_int_t quota = json_integer_value(json_object_get(cpu, "quota"));
	json_int_t period = json_integer_value(json_object_get(cpu, "period"));

	if (a) {
		char *end;
		unsigned long v = strtoul(a, &end, 10);

		if (*a < '0' || *a > '9' || *end || v < 1 || v > VMM_MAX_VCPUS)
			return cell_err_set(err, 0, "annotations: cell.vm.vcpus: \"%s\": expected 1..%d", a,
					    VMM_MAX_VCPUS);
		*out = v;
		return 0;
	}
	if (cpus && *cpus) {
		if (count_cpus(cpus, out) < 0)
			return cell_err_set(err, 0, "linux.resources.cpu.cpus: \"%s\": not a CPU list", cpus);
	} else if (quota > 0) {
		if (period <= 0)
			period = 100000;
		*out = (quota + period - 1) / period;
	} else {
		*out = 1;
	}
	if (*out > VMM_MAX_VCPUS)
		return cell_err_set(err, 0, "linux.resources.cpu: %u vCPUs: at most %d", *out, VMM_MAX_VCPUS);
	return 0;
}

static int vm_memory(const struct cell_spec *s, uint64_t *out, struct cell_err *err)
{
	const char *a = annotation(s, "cell.vm.memory");
	const json_t *lim = json_object_get(json_object_get(s->resources, "memory"), "limit");
	json_int_t limit = json_is_integer(lim) ? json_integer_value(lim) : -1;

	if (a) {
		if (parse_size(a, out) < 0)
			return cell_err_set(err, 0, "annotations: cell.vm.memory: \"%s\": expected a size such as 256M", a);
		if (*out % (2 * MIB))
			return cell_err_set(err, 0, "annotations: cell.vm.memory: \"%s\": not a multiple of 2 MiB", a);
		if (limit > 0 && *out + VM_OVERHEAD > (uint64_t)limit)
			return cell_err_set(err, 0,
					    "annotations: cell.vm.memory: %s and the VMM's %llu MiB exceed "
					    "linux.resources.memory.limit (%lld)",
					    a, VM_OVERHEAD / MIB, (long long)limit);
	} else if (limit > 0) {
		if ((uint64_t)limit < VM_OVERHEAD + VMM_MIN_MEM)
			return cell_err_set(err, 0,
					    "linux.resources.memory.limit: %lld leaves less than %llu MiB of guest "
					    "RAM after the VMM's %llu MiB",
					    (long long)limit, VMM_MIN_MEM / MIB, VM_OVERHEAD / MIB);
		*out = ((uint64_t)limit - VM_OVERHEAD) & ~(2 * MIB - 1);
	} else {
		*out = VM_DEFAULT_MEM;
	}
	if (*out < VMM_MIN_MEM)
		return cell_err_set(err, 0, "annotations: cell.vm.memory: at least %llu MiB", VMM_MIN_MEM / MIB);
	return 0;
}

static char *bundle_path(const struct cell_spec *s, const char *p)
{
	char *out = NULL;

	if (p[0] == '/' || !s->bundle)
		return strdup(p);
	return asprintf(&out, "%s/%s", s->bundle, p) < 0 ? NULL : out;
}

/* The microVM's VMM needs /dev/kvm; the guest's device cgroup allows it. */
static int allow_kvm(struct cell_spec *s, struct cell_err *err)
{
	json_t *devs;

	if (!s->resources && !(s->resources = json_object()))
		return cell_err_set(err, ENOMEM, "linux.resources");
	devs = json_object_get(s->resources, "devices");
	if (!devs) {
		devs = json_array();
		if (json_object_set_new(s->resources, "devices", devs) < 0)
			return cell_err_set(err, ENOMEM, "linux.resources.devices");
	}
	if (json_array_append_new(devs, json_pack("{s:b,s:s,s:i,s:i,s:s}", "allow", 1, "type", "c", "major",
						  VMM_KVM_MAJOR, "minor", VMM_KVM_MINOR, "access", "rwm")) < 0)
		return cell_err_set(err, ENOMEM, "linux.resources.devices");
	return 0;
}

int cell_spec_parse_vm(struct cell_spec *s, struct cell_err *err)
{
	const json_t *kernel = json_object_get(s->vm, "kernel");
	const json_t *params = json_object_get(kernel, "parameters"), *v;
	const char *initrd = json_string_value(json_object_get(kernel, "initrd"));
	const char *hp = annotation(s, "cell.vm.hugepages"), *up = annotation(s, "cell.vm.unpack-kernel");
	struct cell_vm *vm;
	size_t i, len = 1;

	if (json_object_get(s->vm, "hypervisor"))
		return cell_err_set(err, 0, "vm.hypervisor: cell is the hypervisor; another one is not supported");
	if (json_object_get(s->vm, "image"))
		return cell_err_set(err, 0, "vm.image: disk images need virtio-blk, which cell's VMM does not have yet");
	if (!(vm = calloc(1, sizeof(*vm))))
		return cell_err_set(err, ENOMEM, "vm");
	s->vmcfg = vm;
	if (!(vm->kernel_path = bundle_path(s, json_string_value(json_object_get(kernel, "path")))) ||
	    (initrd && !(vm->initrd_path = bundle_path(s, initrd))))
		return cell_err_set(err, ENOMEM, "vm.kernel");
	json_array_foreach(params, i, v)
		len += strlen(json_string_value(v)) + 1;
	if (!(vm->cmdline = calloc(1, len)))
		return cell_err_set(err, ENOMEM, "vm.kernel.parameters");
	json_array_foreach(params, i, v) {
		if (i)
			strcat(vm->cmdline, " ");
		strcat(vm->cmdline, json_string_value(v));
	}
	if (hp && strcmp(hp, "true") && strcmp(hp, "false"))
		return cell_err_set(err, 0, "annotations: cell.vm.hugepages: \"%s\": expected true or false", hp);
	vm->hugepages = hp && !strcmp(hp, "true");
	if (up && strcmp(up, "true") && strcmp(up, "false"))
		return cell_err_set(err, 0, "annotations: cell.vm.unpack-kernel: \"%s\": expected true or false", up);
	vm->unpack_kernel = !up || !strcmp(up, "true");
	if (vm_vcpus(s, &vm->vcpus, err) < 0 || vm_memory(s, &vm->mem_bytes, err) < 0)
		return -1;
	return allow_kvm(s, err);
}

void cell_spec_free_vm(struct cell_spec *s)
{
	if (!s->vmcfg)
		return;
	free(s->vmcfg->kernel_path);
	free(s->vmcfg->initrd_path);
	free(s->vmcfg->cmdline);
	free(s->vmcfg);
	s->vmcfg = NULL;
}
