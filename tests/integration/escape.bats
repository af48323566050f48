#!/usr/bin/env bats
# The escape suite: from a container with cell's default config (cell spec),
# every attempt below is denied with the specific error, and the process
# runs with runc's default capabilities, no_new_privs and a seccomp filter.

load helpers

# try OP [ARG]: run the probe in a default container, output = errno name
try() {
	args probe "$@"
	run cell run --bundle "$BUNDLE" "e$BATS_TEST_NUMBER"
}

@test "the default process: runc's capabilities, NoNewPrivs 1, Seccomp 2" {
	args grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	# CAP_KILL(5) | CAP_NET_BIND_SERVICE(10) | CAP_AUDIT_WRITE(29)
	[[ "$output" == *$'CapEff:\t0000000020000420'* ]]
	[[ "$output" == *$'CapPrm:\t0000000020000420'* ]]
	[[ "$output" == *$'CapBnd:\t0000000020000420'* ]]
	[[ "$output" == *$'CapInh:\t0000000000000000'* ]]
	[[ "$output" == *$'NoNewPrivs:\t1'* ]]
	[[ "$output" == *$'Seccomp:\t2'* ]]
}

@test "host processes are invisible and unreachable" {
	args sh -c 'ls /proc | grep -c "^[0-9]"'
	run cell run --bundle "$BUNDLE" c1
	[ "$output" -le 3 ]
	try kill $$
	[ "$output" = ESRCH ]
	try ptrace $$
	[ "$output" = ESRCH ]
}

@test "mounting anything is denied" {
	try mount /tmp
	[ "$output" = EPERM ]
}

@test "loading a kernel module is denied" {
	try init_module
	[ "$output" = EPERM ]
	try finit_module
	[ "$output" = EPERM ]
}

@test "kernel memory cannot be read" {
	# /proc/kcore is masked (absent on kernels without it), /dev/mem not created
	args sh -c '{ wc -c </proc/kcore; } 2>/dev/null || echo absent'
	run cell run --bundle "$BUNDLE" c1
	[[ "$output" == 0 || "$output" == absent ]]
	try open /dev/mem
	[ "$output" = ENOENT ]
}

@test "/proc/sys and /sys cannot be written" {
	try write /proc/sys/kernel/hostname
	[ "$output" = EROFS ]
	try write /sys/kernel/profiling
	[ "$output" = EROFS ]
}

@test "keyctl is denied" {
	try keyctl
	[ "$output" = EPERM ]
}

@test "a process outside cannot be ptraced" {
	try ptrace 1
	# pid 1 is the probe itself: no CAP_SYS_PTRACE over itself as init... only EPERM is acceptable
	[ "$output" = EPERM ]
}

@test "new user namespaces are denied by the profile" {
	try unshare-user
	[ "$output" = EPERM ]
	try clone-newuser
	[ "$output" = EPERM ]
}

@test "host devices outside linux.devices cannot be opened or made" {
	[ -e /dev/vda ] || [ -e /dev/sda ] || skip "host has no vda/sda"
	try open /dev/vda
	[ "$output" = ENOENT ]
	try open /dev/sda
	[ "$output" = ENOENT ]
	try mknod /tmp/disk
	[ "$output" = EPERM ]
}

@test "the host's hostname cannot be changed" {
	before=$(hostname)
	try sethostname
	[ "$output" = EPERM ]
	[ "$(hostname)" = "$before" ]
}

@test "clock, reboot and namespace joins are denied" {
	try settime
	[ "$output" = EPERM ]
	try reboot
	[ "$output" = EPERM ]
	try setns /proc/self/ns/net
	[ "$output" = EPERM ]
}

@test "the host's cell binary cannot be reached through /proc/PID/exe" {
	sum=$(sha256sum "$CELL" | cut -d' ' -f1)
	# the container hunts for cell processes entering it and writes to their exe
	args sh -c 'end=$(($(date +%s) + 30)); while [ $(date +%s) -lt $end ]; do
		for e in /proc/[0-9]*/exe; do
			case "$(readlink $e)" in *cell*) echo found $(readlink $e); echo evil 2>/dev/null >$e && echo WROTE;; esac
		done
	done'
	cfg '.process.capabilities = null | .linux.seccomp = null | .process.noNewPrivileges = false'
	"$CELL" --root "$ROOT" run -d --bundle "$BUNDLE" c1 >"$BATS_TEST_TMPDIR/out" 2>&1
	for i in $(seq 20); do cell exec c1 true; done
	cell kill c1 KILL
	# the waiting init of a created container is cell too: a sealed copy,
	# which not even the host's root can write through /proc/PID/exe
	cell create --bundle "$BUNDLE" c2 >/dev/null
	exe=/proc/$(cell state c2 | jq .pid)/exe
	[[ "$(readlink "$exe")" == "/memfd:cell-sealed (deleted)" ]]
	! (echo evil >"$exe") 2>/dev/null
	[ "$(sha256sum "$CELL" | cut -d' ' -f1)" = "$sum" ]
	! grep -q WROTE "$BATS_TEST_TMPDIR/out"
}

@test "an idmapped mount's target is resolved inside the rootfs: a symlink cannot aim it at the host" {
	host=$BATS_TEST_TMPDIR/host-dir
	src=$BATS_TEST_TMPDIR/idsrc
	mkdir -p "$host" "$src"
	echo host-marker >"$host/marker"
	echo from-src >"$src/f"
	chown -R 1000:1000 "$src"
	cp -a "$ROOTFS" "$BATS_TEST_TMPDIR/rootfs"
	ln -s "$host" "$BATS_TEST_TMPDIR/rootfs/escape-link"
	# the same path inside the rootfs is where the mount must land
	mkdir -p "$BATS_TEST_TMPDIR/rootfs$host"
	# no user namespace: the mount's own mappings show on-disk 1000 as root
	cfg '.root.path = $r | .mounts += [{"destination": "/escape-link", "source": $s, "options": ["bind", "idmap"],
		"uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
		"gidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}]}]' --arg r "$BATS_TEST_TMPDIR/rootfs" --arg s "$src"
	args sh -c 'cat /escape-link/f; stat -c "%u %g" /escape-link/f'
	run cell run --bundle "$BUNDLE" c1
	if [[ $status -ne 0 && $output == *"cannot be idmapped on this kernel"* ]]; then
		skip "$(stat -f -c %T "$src") does not support idmapped mounts on $(uname -r)"
	fi
	[ "$status" -eq 0 ]
	[ "$output" = $'from-src\n0 0' ]
	# the host directory the link names got nothing
	[ "$(ls -A "$host")" = marker ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/rootfs$host")" ]
	! grep -q " $host " /proc/self/mountinfo
	assert_clean
}
