/* features.json (runtime-spec features.md): only what this build does. */
#include "runtime.h"
#include "spec.h"

#include <ctype.h>
#include <string.h>
#include <sys/capability.h>

json_t *cell_features(void)
{
	static const char *const hooks[] = {
		"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
	};
	static const char *const mount_options[] = {
		"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "iversion",
		"lazytime", "loud", "mand", "noatime", "nodev", "nodiratime", "noexec", "noiversion",
		"nolazytime", "nomand", "norelatime", "nostrictatime", "nosuid", "nosymfollow",
		"private", "rbind", "rdev", "rdiratime", "relatime", "remount", "rexec",
		"rnoatime", "rnodev", "rnodiratime", "rnoexec", "rnosuid", "rnosymfollow", "ro",
		"rprivate", "rrelatime", "rro", "rrw", "rshared", "rslave", "rstrictatime",
		"rsuid", "rsymfollow", "runbindable", "rw", "shared", "silent", "slave",
		"strictatime", "suid", "symfollow", "sync", "unbindable",
	};
	json_t *f = json_object(), *a, *linux_, *ns;

	json_object_set_new(f, "ociVersionMin", json_string("1.0.0"));
	json_object_set_new(f, "ociVersionMax", json_string(CELL_OCI_VERSION));
	a = json_array();
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++)
		json_array_append_new(a, json_string(hooks[i]));
	json_object_set_new(f, "hooks", a);
	a = json_array();
	for (size_t i = 0; i < sizeof(mount_options) / sizeof(mount_options[0]); i++)
		json_array_append_new(a, json_string(mount_options[i]));
	json_object_set_new(f, "mountOptions", a);

	linux_ = json_object();
	ns = json_array();
	for (int t = 0; t < CELL_NS__COUNT; t++)
		json_array_append_new(ns, json_string(cell_ns_name(t)));
	json_object_set_new(linux_, "namespaces", ns);
	a = json_array();
	for (int c = 0; c < cap_max_bits(); c++) {
		char *name = cap_to_name(c), *up = name;
		for (char *p = up; p && *p; p++)
			*p = toupper((unsigned char)*p);
		if (name && !strncmp(name, "CAP_", 4))
			json_array_append_new(a, json_string(name));
		cap_free(name);
	}
	json_object_set_new(linux_, "capabilities", a);
	json_object_set_new(linux_, "seccomp", json_pack(
		"{s:b, s:[s,s,s,s,s,s,s,s,s], s:[s,s,s,s,s,s,s], s:[s,s,s], s:[s,s,s,s], s:[s,s,s,s]}",
		"enabled", 1,
		"actions", "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
		"SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
		"operators", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
		"SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
		"archs", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
		"knownFlags", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
		"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
		"supportedFlags", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
		"SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
	json_object_set_new(linux_, "cgroup", json_pack("{s:b, s:b, s:b, s:b, s:b}", "v1", 1, "v2", 1,
							 "systemd", 0, "systemdUser", 0, "rdma", 0));
	json_object_set_new(linux_, "apparmor", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(linux_, "selinux", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(linux_, "intelRdt", json_pack("{s:b}", "enabled", 0));
	json_object_set_new(linux_, "mountExtensions", json_pack("{s:{s:b}}", "idmap", "enabled", 1));
	json_object_set_new(f, "linux", linux_);
	json_object_set_new(f, "annotations", json_pack("{s:s, s:s, s:s}",
		"org.opencontainers.runc.checkpoint.enabled", "false",
		"io.github.cell.microvm.enabled", "true",
		"io.github.cell.version", CELL_VERSION));
	return f;
}
