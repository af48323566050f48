/* The runtime-spec's config.json field types, kept as data, and the walker
 * that checks a document against them. Semantic checks live in spec.c. */
#include "schema.h"

#include <stdint.h>
#include <stdio.h>

#define F(k, kind)          { k, CELL_J_##kind, NULL, false }
#define FR(k, kind)         { k, CELL_J_##kind, NULL, true }
#define FO(k, sub)          { k, CELL_J_OBJ, sub, false }
#define FOR(k, sub)         { k, CELL_J_OBJ, sub, true }
#define FA(k, elem)         { k, CELL_J_ARR, elem, false }
#define FAR(k, elem)        { k, CELL_J_ARR, elem, true }
#define END                 { NULL, 0, NULL, false }

static const struct cell_jfield el_str[] = { { NULL, CELL_J_STR, NULL, true } };
static const struct cell_jfield el_u32[] = { { NULL, CELL_J_U32, NULL, true } };

static const struct cell_jfield f_idmap[] = {
	FR("containerID", U32), FR("hostID", U32), FR("size", U32), END };
static const struct cell_jfield el_idmap[] = { { NULL, CELL_J_OBJ, f_idmap, true } };

static const struct cell_jfield f_root[] = { FR("path", STR), F("readonly", BOOL), END };

static const struct cell_jfield f_mount[] = {
	FR("destination", STR), F("source", STR), F("type", STR), FA("options", el_str),
	FA("uidMappings", el_idmap), FA("gidMappings", el_idmap), END };
static const struct cell_jfield el_mount[] = { { NULL, CELL_J_OBJ, f_mount, true } };

static const struct cell_jfield f_console[] = { FR("height", U32), FR("width", U32), END };
static const struct cell_jfield f_rlimit[] = { FR("type", STR), FR("soft", UINT), FR("hard", UINT), END };
static const struct cell_jfield el_rlimit[] = { { NULL, CELL_J_OBJ, f_rlimit, true } };
static const struct cell_jfield f_caps[] = {
	FA("bounding", el_str), FA("effective", el_str), FA("inheritable", el_str),
	FA("permitted", el_str), FA("ambient", el_str), END };
static const struct cell_jfield f_sched[] = {
	FR("policy", STR), F("nice", INT), F("priority", INT), FA("flags", el_str),
	F("runtime", UINT), F("deadline", UINT), F("period", UINT), END };
static const struct cell_jfield f_ioprio[] = { FR("class", STR), F("priority", INT), END };
static const struct cell_jfield f_affinity[] = { F("initial", STR), F("final", STR), END };
static const struct cell_jfield f_user[] = {
	FR("uid", U32), FR("gid", U32), F("umask", U32), FA("additionalGids", el_u32),
	F("username", STR), END };
static const struct cell_jfield f_process[] = {
	F("terminal", BOOL), FO("consoleSize", f_console), FR("cwd", STR), FA("env", el_str),
	FA("args", el_str), F("commandLine", STR), FA("rlimits", el_rlimit),
	F("apparmorProfile", STR), FO("capabilities", f_caps), F("noNewPrivileges", BOOL),
	F("oomScoreAdj", INT), FO("scheduler", f_sched), F("selinuxLabel", STR),
	FO("ioPriority", f_ioprio), FO("execCPUAffinity", f_affinity), FOR("user", f_user), END };

static const struct cell_jfield f_hook[] = {
	FR("path", STR), FA("args", el_str), FA("env", el_str), F("timeout", INT), END };
static const struct cell_jfield el_hook[] = { { NULL, CELL_J_OBJ, f_hook, true } };
static const struct cell_jfield f_hooks[] = {
	FA("prestart", el_hook), FA("createRuntime", el_hook), FA("createContainer", el_hook),
	FA("startContainer", el_hook), FA("poststart", el_hook), FA("poststop", el_hook), END };

static const struct cell_jfield f_ns[] = { FR("type", STR), F("path", STR), END };
static const struct cell_jfield el_ns[] = { { NULL, CELL_J_OBJ, f_ns, true } };

static const struct cell_jfield f_device[] = {
	FR("type", STR), FR("path", STR), F("major", INT), F("minor", INT),
	F("fileMode", U32), F("uid", U32), F("gid", U32), END };
static const struct cell_jfield el_device[] = { { NULL, CELL_J_OBJ, f_device, true } };

static const struct cell_jfield f_devrule[] = {
	FR("allow", BOOL), F("type", STR), F("major", INT), F("minor", INT), F("access", STR), END };
static const struct cell_jfield el_devrule[] = { { NULL, CELL_J_OBJ, f_devrule, true } };
static const struct cell_jfield f_memory[] = {
	F("limit", INT), F("reservation", INT), F("swap", INT), F("kernel", INT),
	F("kernelTCP", INT), F("swappiness", UINT), F("disableOOMKiller", BOOL),
	F("useHierarchy", BOOL), F("checkBeforeUpdate", BOOL), END };
static const struct cell_jfield f_cpu[] = {
	F("shares", UINT), F("quota", INT), F("burst", UINT), F("period", UINT),
	F("realtimeRuntime", INT), F("realtimePeriod", UINT), F("cpus", STR), F("mems", STR),
	F("idle", INT), END };
static const struct cell_jfield f_pids[] = { FR("limit", INT), END };
static const struct cell_jfield f_wdev[] = {
	FR("major", INT), FR("minor", INT), F("weight", UINT), F("leafWeight", UINT), END };
static const struct cell_jfield el_wdev[] = { { NULL, CELL_J_OBJ, f_wdev, true } };
static const struct cell_jfield f_tdev[] = { FR("major", INT), FR("minor", INT), FR("rate", UINT), END };
static const struct cell_jfield el_tdev[] = { { NULL, CELL_J_OBJ, f_tdev, true } };
static const struct cell_jfield f_blkio[] = {
	F("weight", UINT), F("leafWeight", UINT), FA("weightDevice", el_wdev),
	FA("throttleReadBpsDevice", el_tdev), FA("throttleWriteBpsDevice", el_tdev),
	FA("throttleReadIOPSDevice", el_tdev), FA("throttleWriteIOPSDevice", el_tdev), END };
static const struct cell_jfield f_huge[] = { FR("pageSize", STR), FR("limit", UINT), END };
static const struct cell_jfield el_huge[] = { { NULL, CELL_J_OBJ, f_huge, true } };
static const struct cell_jfield f_prio[] = { FR("name", STR), FR("priority", U32), END };
static const struct cell_jfield el_prio[] = { { NULL, CELL_J_OBJ, f_prio, true } };
static const struct cell_jfield f_network[] = { F("classID", U32), FA("priorities", el_prio), END };
static const struct cell_jfield f_rdma_dev[] = { F("hcaHandles", U32), F("hcaObjects", U32), END };
static const struct cell_jfield obj_rdma_dev[] = { { NULL, CELL_J_OBJ, f_rdma_dev, true } };
static const struct cell_jfield f_resources[] = {
	FA("devices", el_devrule), FO("memory", f_memory), FO("cpu", f_cpu), FO("pids", f_pids),
	FO("blockIO", f_blkio), FA("hugepageLimits", el_huge), FO("network", f_network),
	{ "rdma", CELL_J_OBJMAP, obj_rdma_dev, false }, F("unified", STRMAP), END };

static const struct cell_jfield f_sarg[] = {
	FR("index", U32), FR("value", UINT), F("valueTwo", UINT), FR("op", STR), END };
static const struct cell_jfield el_sarg[] = { { NULL, CELL_J_OBJ, f_sarg, true } };
static const struct cell_jfield f_syscall[] = {
	FAR("names", el_str), FR("action", STR), F("errnoRet", U32), FA("args", el_sarg), END };
static const struct cell_jfield el_syscall[] = { { NULL, CELL_J_OBJ, f_syscall, true } };
static const struct cell_jfield f_seccomp[] = {
	FR("defaultAction", STR), F("defaultErrnoRet", U32), FA("architectures", el_str),
	FA("flags", el_str), F("listenerPath", STR), F("listenerMetadata", STR),
	FA("syscalls", el_syscall), END };

static const struct cell_jfield f_timeoff[] = { F("secs", INT), F("nanosecs", U32), END };
static const struct cell_jfield obj_timeoff[] = { { NULL, CELL_J_OBJ, f_timeoff, true } };
static const struct cell_jfield f_personality[] = { FR("domain", STR), FA("flags", el_str), END };

static const struct cell_jfield f_linux[] = {
	FA("namespaces", el_ns), FA("uidMappings", el_idmap), FA("gidMappings", el_idmap),
	{ "timeOffsets", CELL_J_OBJMAP, obj_timeoff, false },
	FA("devices", el_device), F("cgroupsPath", STR), FO("resources", f_resources),
	F("rootfsPropagation", STR), FO("seccomp", f_seccomp), F("sysctl", STRMAP),
	FA("maskedPaths", el_str), FA("readonlyPaths", el_str), F("mountLabel", STR),
	FO("personality", f_personality), F("intelRdt", ANY), END };

static const struct cell_jfield f_vm_hv[] = { FR("path", STR), FA("parameters", el_str), END };
static const struct cell_jfield f_vm_kernel[] = {
	FR("path", STR), FA("parameters", el_str), F("initrd", STR), END };
static const struct cell_jfield f_vm_image[] = { FR("path", STR), FR("format", STR), END };
static const struct cell_jfield f_vm[] = {
	FO("hypervisor", f_vm_hv), FOR("kernel", f_vm_kernel), FO("image", f_vm_image), END };

static const struct cell_jfield f_config[] = {
	FR("ociVersion", STR), FO("root", f_root), FA("mounts", el_mount),
	FO("process", f_process), F("hostname", STR), F("domainname", STR),
	FO("hooks", f_hooks), F("annotations", STRMAP), FO("linux", f_linux),
	FO("vm", f_vm), END };

const struct cell_jfield cell_schema_config = { NULL, CELL_J_OBJ, f_config, true };
const struct cell_jfield cell_schema_process = { NULL, CELL_J_OBJ, f_process, true };

static const char *kind_name(enum cell_jkind k)
{
	switch (k) {
	case CELL_J_STR: return "string";
	case CELL_J_BOOL: return "boolean";
	case CELL_J_INT: return "integer";
	case CELL_J_UINT: return "non-negative integer";
	case CELL_J_U32: return "32-bit unsigned integer";
	case CELL_J_OBJ: case CELL_J_STRMAP: case CELL_J_OBJMAP: return "object";
	case CELL_J_ARR: return "array";
	default: return "value";
	}
}

static void join_path(char *buf, size_t len, const char *path, const char *key)
{
	if (!path || !*path)
		snprintf(buf, len, "%s", key);
	else
		snprintf(buf, len, "%s.%s", path, key);
}

static int check_kind(const json_t *v, enum cell_jkind k, const char *path, struct cell_err *err)
{
	bool ok;

	switch (k) {
	case CELL_J_ANY: ok = true; break;
	case CELL_J_STR: ok = json_is_string(v); break;
	case CELL_J_BOOL: ok = json_is_boolean(v); break;
	case CELL_J_INT: ok = json_is_integer(v); break;
	case CELL_J_UINT: ok = json_is_integer(v) && json_integer_value(v) >= 0; break;
	case CELL_J_U32:
		ok = json_is_integer(v) && json_integer_value(v) >= 0 &&
		     json_integer_value(v) <= (json_int_t)UINT32_MAX;
		break;
	case CELL_J_OBJ: case CELL_J_STRMAP: case CELL_J_OBJMAP: ok = json_is_object(v); break;
	case CELL_J_ARR: ok = json_is_array(v); break;
	default: ok = false;
	}
	if (!ok)
		return cell_err_set(err, 0, "%s: expected %s", *path ? path : "document", kind_name(k));
	return 0;
}

int cell_schema_check(const json_t *v, const struct cell_jfield *f, const char *path,
		      struct cell_err *err)
{
	char sub[512];
	const char *key;
	json_t *item;
	size_t i;

	if (check_kind(v, f->kind, path, err) < 0)
		return -1;

	switch (f->kind) {
	case CELL_J_OBJ:
		for (const struct cell_jfield *c = f->sub; c && c->key; c++) {
			json_t *cv = json_object_get(v, c->key);
			join_path(sub, sizeof(sub), path, c->key);
			if (!cv || json_is_null(cv)) {
				if (c->required)
					return cell_err_set(err, 0, "%s: required field missing", sub);
				continue;
			}
			if (cell_schema_check(cv, c, sub, err) < 0)
				return -1;
		}
		return 0;
	case CELL_J_ARR:
		json_array_foreach(v, i, item) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (cell_schema_check(item, f->sub, sub, err) < 0)
				return -1;
		}
		return 0;
	case CELL_J_STRMAP:
		json_object_foreach((json_t *)v, key, item) {
			join_path(sub, sizeof(sub), path, key);
			if (!json_is_string(item))
				return cell_err_set(err, 0, "%s: expected string", sub);
		}
		return 0;
	case CELL_J_OBJMAP:
		json_object_foreach((json_t *)v, key, item) {
			join_path(sub, sizeof(sub), path, key);
			if (cell_schema_check(item, f->sub, sub, err) < 0)
				return -1;
		}
		return 0;
	default:
		return 0;
	}
}
