/* The microVM driver: a VMM process confined exactly like a container.
 *
 * The runtime decides everything else (state, cgroup and limits, hooks,
 * events).  Here a microVM's bundle becomes the spec of its VMM process:
 * new namespaces, a read-only empty root with /dev/kvm as its only
 * device, no capabilities, no_new_privs, the bundle's rlimits and seccomp
 * filter; isolate/ sets that up as for any container, and instead of
 * exec'ing a program its init runs vmshim/'s VMM (cell_payload). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "driver.h"
#include "events.h"
#include "log.h"
#include "../isolate/isolate.h"
#include "../vmshim/vmm.h"

#define VM_ROOT_DIR "vmroot"
#define VM_MEM_DIR "/mem"     /* in the VMM's root: the tmpfs of guest RAM */

struct vm_payload {
	const struct cell_vm *vm;
	int kernel_fd, initrd_fd, events_fd;
	struct vmm *vmm;
	const char *id;              /* checked by cell_id_check: no JSON escapes */
};

/* One JSON line per event, in the format cell_event_post() writes. */
static void vm_event(void *arg, const char *type, const char *data_json)
{
	struct vm_payload *p = arg;
	char line[4096];
	int n;

	if (p->events_fd < 0)
		return;
	n = snprintf(line, sizeof(line), "{\"type\":\"%s\",\"id\":\"%s\",\"data\":%s}\n", type, p->id,
		     data_json && *data_json ? data_json : "{}");
	if (n > 0 && (size_t)n < sizeof(line) && write(p->events_fd, line, n) < 0)
		return;
}

/* --debug inside the VMM: plain writes to stderr, nothing the VMM's
 * seccomp allow-list forbids (no time zone files, no allocation). */
static void vm_debug(void *arg, const char *msg)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "cell: vmm: %s\n", msg);

	(void)arg;
	if (n > 0 && write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		return;
}

static int vm_prepare(void *arg, struct cell_err *err)
{
	struct vm_payload *p = arg;
	struct vmm_info info;
	struct vmm_config cfg = {
		.kvm_path = "/dev/kvm", .kernel_fd = p->kernel_fd, .kernel_name = "vm.kernel.path",
		.initrd_fd = p->initrd_fd, .cmdline = p->vm->cmdline, .vcpus = p->vm->vcpus,
		.mem_bytes = p->vm->mem_bytes, .hugepages = p->vm->hugepages, .mem_dir = VM_MEM_DIR,
		.console_in = STDIN_FILENO, .console_out = STDOUT_FILENO,
		.event = vm_event, .event_arg = p,
		.debug = cell_log_debug_enabled() ? vm_debug : NULL,
	};
	int r = vmm_prepare(&cfg, &p->vmm, &info, err);

	/* the kernel is in guest memory now */
	close(p->kernel_fd);
	if (p->initrd_fd >= 0)
		close(p->initrd_fd);
	p->kernel_fd = p->initrd_fd = -1;
	return r;
}

static int vm_run(void *arg)
{
	struct vm_payload *p = arg;
	struct cell_err err = { 0 };
	struct termios t;
	int status = 0;

	/* the guest's serial line is the terminal: no echo or line editing here */
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	/* a console reader that went away must not kill the guest */
	signal(SIGPIPE, SIG_IGN);
	if (vmm_confine(p->vmm, &err) < 0 || vmm_run(p->vmm, &status, &err) < 0) {
		dprintf(STDERR_FILENO, "cell: vmm: %s\n", err.msg);
		return 1;
	}
	return status;
}

static const struct cell_payload vm_payload_ops = { .prepare = vm_prepare, .run = vm_run };

/* Whether KVM runs guests with two-level paging (AMD NPT / Intel EPT). */
static const char *kvm_tdp(void)
{
	static const char *const params[] = {
		"/sys/module/kvm_amd/parameters/npt", "/sys/module/kvm_intel/parameters/ept",
	};
	char buf[8] = "";

	for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++) {
		_cleanup_close_ int fd = open(params[i], O_RDONLY | O_CLOEXEC);

		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
			return buf[0] == 'Y' || buf[0] == '1' ? "yes" : "no";
	}
	return "unknown";
}

/* Whether tmpfs can be mounted with huge= (transparent huge pages that
 * the administrator has not denied). */
static bool thp_tmpfs(void)
{
	char buf[128] = "";
	_cleanup_close_ int fd = open("/sys/kernel/mm/transparent_hugepage/shmem_enabled", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return false;
	return !strstr(buf, "[deny]");
}

static int open_input(const char *path, const char *field, struct cell_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return cell_err_set(err, errno, "%s: %s", field, path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cell_err_set(err, errno ? errno : EINVAL, "%s: %s: not a regular file", field, path);
	}
	return fd;
}

/* A bzImage boots as the ELF vmlinux it carries, unpacked once into the
 * image store (req->vm_kernel): through PVH, without the guest's own
 * decompression.  The store failing costs only that: the bzImage boots.
 * The state's "vm" object tells which. */
static void choose_kernel(const struct cell_create_req *req, const struct cell_vm *vm, int *kernel_fd)
{
	struct cell_err uerr = { 0 };
	struct vmm_kernel_kind k;
	char *cached = NULL;
	int elf = -1, r = 0;

	if (vm->unpack_kernel && req->vm_kernel)
		r = req->vm_kernel(req->vm_kernel_arg, *kernel_fd, "vm.kernel.path", &elf, &cached, &uerr);
	if (r > 0) {
		close(*kernel_fd);
		*kernel_fd = elf;
		cell_debug("vm %s: the bzImage boots through PVH as its vmlinux %s", req->id, cached);
		if (req->machine)
			json_object_set_new(req->machine, "unpackedKernel", json_string(cached));
	} else if (r < 0) {
		cell_debug("vm %s: the bzImage boots as it is: %s", req->id, uerr.msg);
	}
	free(cached);
	/* how the guest is entered (the VMM checks the file in full) */
	if (req->machine && vmm_kernel_probe(*kernel_fd, "vm.kernel.path", &k, &uerr) == 0)
		json_object_set_new(req->machine, "boot", json_string(k.pvh ? "pvh" : "bzimage"));
}

static int vm_create(const struct cell_create_req *req, pid_t *pid, struct cell_err *err)
{
	const struct cell_spec *s = req->spec;
	const struct cell_vm *vm = s->vmcfg;
	static const enum cell_ns_type own_ns[] = {
		CELL_NS_MNT, CELL_NS_PID, CELL_NS_IPC, CELL_NS_UTS, CELL_NS_NET, CELL_NS_CGROUP,
	};
	struct vm_payload p = { .vm = vm, .kernel_fd = -1, .initrd_fd = -1, .events_fd = -1, .id = req->id };
	struct cell_spec vs = *s;
	struct cell_create_req vr = *req;
	struct cell_mount mounts[3];
	struct cell_device kvm;
	char *no_args[] = { "cell-vmm", NULL }, *no_env[] = { NULL }, *no_caps[] = { NULL };
	char link[64], root[PATH_MAX], dev_data[] = "mode=755,size=64k",
	     pts_data[] = "newinstance,ptmxmode=0666,mode=0620", mem_data[96];
	int fds[3];
	struct stat st;
	ssize_t n;
	int ret = -1;

	if (stat("/dev/kvm", &st) < 0 || !S_ISCHR(st.st_mode))
		return cell_err_set(err, errno ? errno : ENODEV, "vm: /dev/kvm: KVM is not available on this host");
	if ((p.kernel_fd = open_input(vm->kernel_path, "vm.kernel.path", err)) < 0 ||
	    (vm->initrd_path && (p.initrd_fd = open_input(vm->initrd_path, "vm.kernel.initrd", err)) < 0))
		goto out;
	choose_kernel(req, vm, &p.kernel_fd);
	p.events_fd = openat(req->state_dirfd, CELL_EVENTS_FILE,
			     O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (p.events_fd < 0) {
		cell_err_set(err, errno, "events of %s", req->id);
		goto out;
	}
	/* the VMM's root: an empty directory of the guest's state */
	snprintf(link, sizeof(link), "/proc/self/fd/%d", req->state_dirfd);
	n = readlink(link, root, sizeof(root) - sizeof("/" VM_ROOT_DIR));
	if (n < 0) {
		cell_err_set(err, errno, "state directory of %s", req->id);
		goto out;
	}
	root[n] = '\0';
	strcat(root, "/" VM_ROOT_DIR);
	if (mkdirat(req->state_dirfd, VM_ROOT_DIR, 0755) < 0 && errno != EEXIST) {
		cell_err_set(err, errno, "%s", root);
		goto out;
	}
	vs.root_path = root;
	vs.root_readonly = true;
	for (size_t i = 0; i < sizeof(own_ns) / sizeof(own_ns[0]); i++)
		if (!vs.has_ns[own_ns[i]]) {
			vs.has_ns[own_ns[i]] = true;
			vs.ns[own_ns[i]].path = NULL;
		}
	mounts[0] = (struct cell_mount){ .destination = "/dev", .source = "tmpfs", .type = "tmpfs",
					 .options = no_caps, .flags = MS_NOSUID | MS_NOEXEC, .data = dev_data };
	mounts[1] = (struct cell_mount){ .destination = "/dev/pts", .source = "devpts", .type = "devpts",
					 .options = no_caps, .flags = MS_NOSUID | MS_NOEXEC, .data = pts_data };
	vs.mounts = mounts;
	vs.n_mounts = 1;
	if (s->process.terminal)
		mounts[vs.n_mounts++] = mounts[1];
	/* guest RAM's own tmpfs: huge pages for the VMM's mapping, and so 2 MiB
	 * pages in KVM's two-level tables (far fewer faults while the guest
	 * first touches its memory); room for exactly the RAM file */
	if (!vm->hugepages && thp_tmpfs()) {
		snprintf(mem_data, sizeof(mem_data), "mode=0700,nr_inodes=8,size=%llu,huge=within_size",
			 (unsigned long long)vm->mem_bytes);
		mounts[vs.n_mounts++] = (struct cell_mount){
			.destination = VM_MEM_DIR, .source = "tmpfs", .type = "tmpfs", .options = no_caps,
			.flags = MS_NOSUID | MS_NODEV | MS_NOEXEC, .data = mem_data };
	}
	kvm = (struct cell_device){ .path = "/dev/kvm", .type = 'c', .major = major(st.st_rdev),
				    .minor = minor(st.st_rdev), .mode = 0600, .uid = 0, .gid = 0 };
	vs.devices = &kvm;
	vs.n_devices = 1;
	vs.no_default_devices = true;
	vs.masked_paths = vs.readonly_paths = NULL;
	vs.sysctl = NULL;
	vs.hostname = vs.domainname = NULL;
	/* the process: nothing to exec, no capabilities, no new privileges */
	vs.process = (struct cell_process){
		.terminal = s->process.terminal, .has_console_size = s->process.has_console_size,
		.console_height = s->process.console_height, .console_width = s->process.console_width,
		.cwd = "/", .args = no_args, .env = no_env, .rlimits = s->process.rlimits,
		.n_rlimits = s->process.n_rlimits, .no_new_privileges = true,
		.has_oom_score_adj = s->process.has_oom_score_adj, .oom_score_adj = s->process.oom_score_adj,
		.has_capabilities = true,
	};
	for (int i = 0; i < CELL_CAP__COUNT; i++)
		vs.process.capabilities[i] = no_caps;
	fds[0] = p.kernel_fd;
	fds[1] = p.events_fd;
	fds[2] = p.initrd_fd;
	vr.spec = &vs;
	vr.payload = &vm_payload_ops;
	vr.payload_arg = &p;
	vr.payload_fds = fds;
	vr.n_payload_fds = p.initrd_fd >= 0 ? 3 : 2;
	cell_debug("vm %s: %u vCPUs, %llu MiB RAM, kernel %s, KVM two-level paging: %s", req->id, vm->vcpus,
		   (unsigned long long)(vm->mem_bytes >> 20), vm->kernel_path, kvm_tdp());
	ret = cell_container_driver.create(&vr, pid, err);
out:
	if (p.kernel_fd >= 0)
		close(p.kernel_fd);
	if (p.initrd_fd >= 0)
		close(p.initrd_fd);
	if (p.events_fd >= 0)
		close(p.events_fd);
	return ret;
}

static int vm_start(int state_dirfd, pid_t pid, int *notify_fd, struct cell_err *err)
{
	return cell_container_driver.start(state_dirfd, pid, notify_fd, err);
}

static int vm_kill(pid_t pid, uint64_t pid_start, int sig, bool all, struct cell_err *err)
{
	/* TERM and INT reach the VMM, which presses the guest's power button */
	return cell_container_driver.kill(pid, pid_start, sig, all, err);
}

static int vm_exec(const struct cell_exec_req *req, pid_t *pid, struct cell_err *err)
{
	return cell_err_set(err, ENOTSUP, "a microVM has no processes on the host to join: exec is not supported");
}

static int vm_pids(pid_t pid, uint64_t pid_start, pid_t **out, size_t *n, struct cell_err *err)
{
	return cell_container_driver.pids(pid, pid_start, out, n, err);
}

/* The state's "vm" object: the machine as created, and how KVM pages it. */
static json_t *vm_machine(const struct cell_spec *s)
{
	const struct cell_vm *vm = s->vmcfg;
	const char *tdp = kvm_tdp();

	if (!vm)
		return NULL;
	return json_pack("{s:i, s:I, s:s, s:s?, s:b, s:s}", "vcpus", (int)vm->vcpus, "memoryBytes",
			 (json_int_t)vm->mem_bytes, "kernel", vm->kernel_path, "initrd", vm->initrd_path,
			 "hugepages", vm->hugepages, "twoLevelPaging", tdp);
}

const struct cell_driver cell_vm_driver = {
	.kind = "vm",
	.machine = vm_machine,
	.create = vm_create,
	.start = vm_start,
	.kill = vm_kill,
	.exec = vm_exec,
	.pids = vm_pids,
};
