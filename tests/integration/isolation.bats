#!/usr/bin/env bats
# Isolation, seen from inside the container: namespaces, rootfs, mounts,
# /dev, masked and read-only paths, the process's identity and limits.

load helpers

crun() { cell run --bundle "$BUNDLE" "c$BATS_TEST_NUMBER"; }

@test "the process is PID 1 of its own pid namespace" {
	args sh -c 'echo $$'
	run crun
	[ "$status" -eq 0 ]
	[ "$output" = 1 ]
	# seen from the host: its host pid, then 1 inside
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c2
	pid=$(cell state c2 | jq .pid)
	grep -E "^NSpid:[[:space:]]+$pid[[:space:]]+1\$" /proc/$pid/status
}

@test "ls / shows the bundle's rootfs, not the host's" {
	args ls /
	run crun
	[ "$status" -eq 0 ]
	[[ "$output" == *marker* ]]
	[[ "$output" != *work* ]]
}

@test "hostname and domainname are the container's" {
	cfg '.hostname = "box1" | .domainname = "example.test"'
	args sh -c 'hostname; cat /proc/sys/kernel/domainname'
	run crun
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = box1 ]
	[ "${lines[1]}" = example.test ]
	[ "$(hostname)" != box1 ]
}

@test "every namespace type is new: inodes differ from the host's" {
	cfg '.linux.namespaces = [{"type":"pid"},{"type":"network"},{"type":"ipc"},{"type":"uts"},{"type":"mount"},{"type":"cgroup"},{"type":"time"}]'
	args sh -c 'for n in pid net ipc uts mnt cgroup time; do echo "$n $(stat -L -c %i /proc/self/ns/$n)"; done'
	run crun
	[ "$status" -eq 0 ]
	for n in pid net ipc uts mnt cgroup time; do
		inside=$(printf '%s\n' "$output" | awk -v n=$n '$1 == n { print $2 }')
		[ -n "$inside" ]
		[ "$inside" != "$(stat -L -c %i /proc/self/ns/$n)" ]
	done
}

@test "a namespace given by path is joined" {
	ip netns add "cellt$$"
	cfg '.linux.namespaces |= map(if .type == "network" then .path = $p else . end)' --arg p "/var/run/netns/cellt$$"
	args stat -L -c %i /proc/self/ns/net
	run crun
	want=$(stat -L -c %i "/var/run/netns/cellt$$")
	ip netns del "cellt$$"
	[ "$status" -eq 0 ]
	[ "$output" = "$want" ]
}

@test "a container joins another container's uts and ipc namespaces" {
	cfg '.hostname = "first"'
	args sleep 1000
	cell run -d --bundle "$BUNDLE" first
	pid=$(cell state first | jq .pid)
	cfg '.hostname = null | .linux.namespaces |= map(if .type == "uts" or .type == "ipc" then .path = "/proc/\($p)/ns/\(.type)" else . end)' --arg p "$pid"
	args hostname
	run crun
	[ "$status" -eq 0 ]
	[ "$output" = first ]
}

@test "a user namespace maps ids as configured" {
	cfg '.linux.namespaces += [{"type":"user"}] | .linux.uidMappings = [{"containerID":0,"hostID":0,"size":65536}] | .linux.gidMappings = [{"containerID":0,"hostID":0,"size":65536}]'
	args cat /proc/self/uid_map
	run crun
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^[[:space:]]+0[[:space:]]+0[[:space:]]+65536$ ]]
	host_user=$(stat -L -c %i /proc/self/ns/user)
	args stat -L -c %i /proc/self/ns/user
	run crun
	[ "$output" != "$host_user" ]
}

@test "a time namespace applies linux.timeOffsets" {
	cfg '.linux.namespaces += [{"type":"time"}] | .linux.timeOffsets = {"boottime": {"secs": 864000, "nanosecs": 0}}'
	args cut -d. -f1 /proc/uptime
	run crun
	[ "$status" -eq 0 ]
	host=$(cut -d. -f1 /proc/uptime)
	[ "$output" -ge $((host + 864000 - 5)) ]
}

@test "the cgroup namespace hides the host's cgroup paths" {
	args cat /proc/self/cgroup
	run crun
	[ "$status" -eq 0 ]
	# every line ends in ":/" once the namespace root is the process's cgroup
	! printf '%s\n' "$output" | grep -v ':/$'
}

@test "default devices and symlinks exist in /dev" {
	args sh -c 'for d in null zero full random urandom tty; do stat -c "%n %t:%T %a" /dev/$d; done; for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; echo x >/dev/null && echo null-ok; head -c 4 /dev/zero | wc -c'
	run crun
	[ "$status" -eq 0 ]
	[[ "$output" == *"/dev/null 1:3 666"* ]]
	[[ "$output" == *"/dev/urandom 1:9 666"* ]]
	[[ "$output" == *"/dev/tty 5:0 666"* ]]
	[[ "$output" == *"/proc/self/fd"$'\n'"/proc/self/fd/0"* ]]
	[[ "$output" == *"pts/ptmx"* ]]
	[[ "$output" == *null-ok* ]]
	[ "${lines[-1]}" = 4 ]
}

@test "the default mounts are there with their options" {
	args cat /proc/self/mounts
	run crun
	[ "$status" -eq 0 ]
	[[ "$output" == *"proc /proc proc"* ]]
	[[ "$output" == *"tmpfs /dev tmpfs rw,nosuid"* ]]
	[[ "$output" == *"devpts /dev/pts devpts"* ]]
	[[ "$output" == *"shm /dev/shm tmpfs rw,nosuid,nodev,noexec"* ]]
	[[ "$output" == *"mqueue /dev/mqueue mqueue"* ]]
	[[ "$output" == *"sysfs /sys sysfs ro,nosuid,nodev,noexec"* ]]
	[[ "$output" =~ /sys/fs/cgroup[^[:space:]]*\ (tmpfs|cgroup2)\ ro ]]
}

@test "a masked path is unreadable, a masked directory empty" {
	# both have content on the host
	[ -s /proc/timer_list ] || [ "$(head -c 10 /proc/timer_list | wc -c)" -gt 0 ]
	[ -n "$(ls -A /sys/firmware)" ]
	args sh -c 'wc -c </proc/timer_list; ls -A /sys/firmware | wc -l; touch /sys/firmware/x 2>&1'
	run crun
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = 0 ]
	[ "${lines[1]}" = 0 ]
	[[ "${lines[2]}" == *"Read-only file system"* ]]
}

@test "a read-only path cannot be written" {
	args sh -c 'echo 1 > /proc/sys/vm/drop_caches'
	run crun
	[ "$status" -ne 0 ]
	[[ "$output" == *"Read-only file system"* ]]
}

@test "root.readonly makes / read-only, /tmp mounts stay writable" {
	cfg '.root.readonly = true | .mounts += [{"destination":"/tmp","type":"tmpfs","source":"tmpfs","options":["size=1m"]}]'
	args sh -c 'touch /x 2>&1; touch /tmp/y && echo tmp-ok'
	run crun
	[[ "$output" == *"Read-only file system"* ]]
	[[ "$output" == *tmp-ok* ]]
	[ ! -e "$ROOTFS/x" ]
}

@test "bind mounts: ro, relative source, file, rbind, propagation" {
	mkdir -p "$BUNDLE/data/sub" "$BATS_TEST_TMPDIR/host"
	echo file-content >"$BUNDLE/data/f"
	echo host >"$BATS_TEST_TMPDIR/host/h"
	cfg '.mounts += [
		{"destination":"/data","type":"bind","source":"data","options":["rbind","ro"]},
		{"destination":"/etc/f","source":($b + "/data/f"),"options":["bind"]},
		{"destination":"/host","type":"none","source":$h,"options":["rbind","rw","rprivate"]}]' \
		--arg b "$BUNDLE" --arg h "$BATS_TEST_TMPDIR/host"
	args sh -c 'cat /data/f /etc/f /host/h; touch /data/x 2>&1; echo w >/host/w; grep " /data " /proc/self/mountinfo'
	run crun
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = file-content ]
	[ "${lines[1]}" = file-content ]
	[ "${lines[2]}" = host ]
	[[ "$output" == *"Read-only file system"* ]]
	[ "$(cat "$BATS_TEST_TMPDIR/host/w")" = w ]
	[[ "$output" == *" /data ro,"* ]]
}

@test "a symlink in the rootfs cannot point a mount at the host" {
	d=$BATS_TEST_TMPDIR/evilroot
	cp -a "$ROOTFS" "$d"
	ln -s /etc "$d/escape"
	cfg '.root.path = $r | .mounts += [{"destination":"/escape/cell-test","type":"tmpfs","source":"tmpfs"}]' --arg r "$d"
	args true
	run crun
	[ "$status" -eq 0 ]
	[ ! -e /etc/cell-test ]
	[ -d "$d/etc/cell-test" ]
}

@test "tmpfs options reach the filesystem" {
	cfg '.mounts += [{"destination":"/scratch","type":"tmpfs","source":"tmpfs","options":["size=2m","mode=700","noexec"]}]'
	args sh -c 'grep " /scratch " /proc/self/mounts; stat -c %a /scratch'
	run crun
	[ "$status" -eq 0 ]
	[[ "$output" == *"noexec"*"size=2048k,mode=700"* ]]
	[ "${lines[1]}" = 700 ]
}

@test "user, groups, umask, cwd and env are applied" {
	cfg '.process.user = {"uid": 1000, "gid": 1001, "additionalGids": [2000, 2001], "umask": 63} | .process.cwd = "/tmp" | .process.env += ["GREETING=hello world"]'
	args sh -c 'id; umask; pwd; echo "$GREETING"'
	run crun
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "uid=1000 gid=1001 groups=2000,2001" ]
	[ "${lines[1]}" = 0077 ]
	[ "${lines[2]}" = /tmp ]
	[ "${lines[3]}" = "hello world" ]
}

@test "rlimits, oomScoreAdj and noNewPrivileges are applied" {
	cfg '.process.rlimits = [{"type":"RLIMIT_NOFILE","soft":512,"hard":512},{"type":"RLIMIT_NPROC","soft":100,"hard":200}] | .process.oomScoreAdj = 500 | .process.noNewPrivileges = true'
	args sh -c 'ulimit -n; ulimit -u; cat /proc/self/oom_score_adj; grep NoNewPrivs /proc/self/status'
	run crun
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 512 ]
	[ "${lines[1]}" = 100 ]
	[ "${lines[2]}" = 500 ]
	[[ "${lines[3]}" =~ NoNewPrivs:[[:space:]]+1 ]]
}

@test "--no-pivot runs the container with chroot" {
	args sh -c 'ls /; cat /proc/self/mountinfo | wc -l'
	run cell run --no-pivot --bundle "$BUNDLE" np
	[ "$status" -eq 0 ]
	[[ "$output" == *marker* ]]
}

@test "rootfsPropagation shared is applied to the container's root" {
	cfg '.linux.rootfsPropagation = "rshared"'
	args awk '$5 == "/"' /proc/self/mountinfo
	run crun
	[ "$status" -eq 0 ]
	[[ "$output" == *"shared:"* ]]
}

@test "a session keyring of its own unless --no-new-keyring" {
	cfg '.linux.maskedPaths = []'
	args sh -c 'grep -c "keyring *_ses\.kr$BATS_TEST_NUMBER" /proc/keys'
	cfg '.process.env += ["BATS_TEST_NUMBER=\($n)"]' --arg n "$BATS_TEST_NUMBER"
	run cell run --bundle "$BUNDLE" "kr$BATS_TEST_NUMBER"
	[ "$output" = 1 ]
	args sh -c 'grep -c "keyring *_ses\.nk$" /proc/keys'
	run cell run --no-new-keyring --bundle "$BUNDLE" nk
	[ "$output" = 0 ]
}
