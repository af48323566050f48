/* The config.json `cell spec` writes: the same shape as runc's default. */
#include "spec.h"

#include <string.h>

static const char default_config[] =
"{\n"
"\t\"ociVersion\": \"" CELL_OCI_VERSION "\",\n"
"\t\"process\": {\n"
"\t\t\"terminal\": true,\n"
"\t\t\"user\": { \"uid\": 0, \"gid\": 0 },\n"
"\t\t\"args\": [ \"sh\" ],\n"
"\t\t\"env\": [\n"
"\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
"\t\t\t\"TERM=xterm\"\n"
"\t\t],\n"
"\t\t\"cwd\": \"/\",\n"
"\t\t\"capabilities\": {\n"
"\t\t\t\"bounding\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
"\t\t\t\"effective\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
"\t\t\t\"permitted\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ],\n"
"\t\t\t\"ambient\": [ \"CAP_AUDIT_WRITE\", \"CAP_KILL\", \"CAP_NET_BIND_SERVICE\" ]\n"
"\t\t},\n"
"\t\t\"rlimits\": [ { \"type\": \"RLIMIT_NOFILE\", \"hard\": 1024, \"soft\": 1024 } ],\n"
"\t\t\"noNewPrivileges\": true\n"
"\t},\n"
"\t\"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
"\t\"hostname\": \"cell\",\n"
"\t\"mounts\": [\n"
"\t\t{ \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
"\t\t{ \"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\",\n"
"\t\t  \"options\": [ \"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\" ] },\n"
"\t\t{ \"destination\": \"/dev/pts\", \"type\": \"devpts\", \"source\": \"devpts\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\" ] },\n"
"\t\t{ \"destination\": \"/dev/shm\", \"type\": \"tmpfs\", \"source\": \"shm\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\" ] },\n"
"\t\t{ \"destination\": \"/dev/mqueue\", \"type\": \"mqueue\", \"source\": \"mqueue\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\" ] },\n"
"\t\t{ \"destination\": \"/sys\", \"type\": \"sysfs\", \"source\": \"sysfs\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"ro\" ] },\n"
"\t\t{ \"destination\": \"/sys/fs/cgroup\", \"type\": \"cgroup\", \"source\": \"cgroup\",\n"
"\t\t  \"options\": [ \"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\" ] }\n"
"\t],\n"
"\t\"linux\": {\n"
"\t\t\"resources\": { \"devices\": [ { \"allow\": false, \"access\": \"rwm\" } ] },\n"
"\t\t\"namespaces\": [\n"
"\t\t\t{ \"type\": \"pid\" }, { \"type\": \"network\" }, { \"type\": \"ipc\" },\n"
"\t\t\t{ \"type\": \"uts\" }, { \"type\": \"mount\" }, { \"type\": \"cgroup\" }\n"
"\t\t],\n"
"\t\t\"maskedPaths\": [\n"
"\t\t\t\"/proc/acpi\", \"/proc/asound\", \"/proc/kcore\", \"/proc/keys\",\n"
"\t\t\t\"/proc/latency_stats\", \"/proc/timer_list\", \"/proc/timer_stats\",\n"
"\t\t\t\"/proc/sched_debug\", \"/sys/firmware\", \"/proc/scsi\"\n"
"\t\t],\n"
"\t\t\"readonlyPaths\": [\n"
"\t\t\t\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"\n"
"\t\t]\n"
"\t}\n"
"}\n";

extern const char cell_seccomp_default_json[];

static json_t *default_doc(void)
{
	json_error_t jerr;
	json_t *doc = json_loads(default_config, 0, &jerr);
	json_t *seccomp = json_loads(cell_seccomp_default_json, 0, &jerr);

	if (!doc || !seccomp) {
		json_decref(doc);
		json_decref(seccomp);
		return NULL;
	}
	json_object_set_new(json_object_get(doc, "linux"), "seccomp", seccomp);
	return doc;
}

static char *dump(json_t *doc)
{
	char *out = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	json_decref(doc);
	return out;
}

char *cell_spec_default(void)
{
	return dump(default_doc());
}

char *cell_spec_default_rootless(uid_t uid, gid_t gid)
{
	json_t *doc = default_doc(), *linux_, *ns, *mounts, *m;
	size_t i;

	if (!doc)
		return NULL;
	linux_ = json_object_get(doc, "linux");
	/* no network namespace: an unprivileged user could not connect it */
	ns = json_object_get(linux_, "namespaces");
	for (i = 0; i < json_array_size(ns);)
		if (!strcmp(json_string_value(json_object_get(json_array_get(ns, i), "type")), "network"))
			json_array_remove(ns, i);
		else
			i++;
	json_array_append_new(ns, json_pack("{s:s}", "type", "user"));
	json_object_set_new(linux_, "uidMappings", json_pack("[{s:i, s:i, s:i}]", "containerID", 0,
							     "hostID", (json_int_t)uid, "size", 1));
	json_object_set_new(linux_, "gidMappings", json_pack("[{s:i, s:i, s:i}]", "containerID", 0,
							     "hostID", (json_int_t)gid, "size", 1));
	json_object_del(linux_, "resources");
	mounts = json_object_get(doc, "mounts");
	for (i = 0; i < json_array_size(mounts);) {
		const char *dst;
		m = json_array_get(mounts, i);
		dst = json_string_value(json_object_get(m, "destination"));
		if (!strcmp(dst, "/sys/fs/cgroup")) {
			json_array_remove(mounts, i);
			continue;
		}
		/* sysfs needs a network namespace of the user's own */
		if (!strcmp(dst, "/sys")) {
			/* replacing the entry frees dst: move on */
			json_array_set_new(mounts, i++, json_pack("{s:s, s:s, s:s, s:[s,s,s,s,s]}", "destination", "/sys",
				"type", "none", "source", "/sys", "options", "rbind", "nosuid", "noexec", "nodev", "ro"));
			continue;
		}
		/* gid 5 (tty) is not mapped */
		if (!strcmp(dst, "/dev/pts")) {
			json_t *opts = json_object_get(m, "options");
			for (size_t k = 0; k < json_array_size(opts); k++)
				if (!strcmp(json_string_value(json_array_get(opts, k)), "gid=5"))
					json_array_remove(opts, k);
		}
		i++;
	}
	return dump(doc);
}
