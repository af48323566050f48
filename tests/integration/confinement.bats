#!/usr/bin/env bats
# Capabilities and seccomp as config.json asks, seen from inside; and
# `cell exec`, which joins a running container and takes its policy.

load helpers

@test "an unknown capability is an error naming it" {
	cfg '.process.capabilities.bounding += ["CAP_NOT_A_THING"]'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'config.json: process.capabilities.bounding[3]: unknown capability "CAP_NOT_A_THING"'
	assert_clean
}

@test "a non-root user keeps exactly the listed capabilities, ambient included" {
	cfg '.process.user = {"uid": 1000, "gid": 1000} | .process.capabilities = {
		"bounding": ["CAP_NET_BIND_SERVICE", "CAP_CHOWN"], "effective": ["CAP_NET_BIND_SERVICE"],
		"permitted": ["CAP_NET_BIND_SERVICE"], "inheritable": ["CAP_NET_BIND_SERVICE"],
		"ambient": ["CAP_NET_BIND_SERVICE"]}'
	args grep -E '^Cap(Eff|Bnd|Amb):' /proc/self/status
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[[ "$output" == *$'CapEff:\t0000000000000400'* ]]
	[[ "$output" == *$'CapBnd:\t0000000000000401'* ]]
	[[ "$output" == *$'CapAmb:\t0000000000000400'* ]]
}

@test "without CAP_CHOWN root cannot chown; with it, it can" {
	cfg '.process.capabilities = {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]}'
	args sh -c 'touch /tmp/f && chown 1000 /tmp/f'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"Operation not permitted"* ]]
	cfg '.process.capabilities = {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}'
	run cell run --bundle "$BUNDLE" c2
	[ "$status" -eq 0 ]
}

@test "a seccomp rule denies a syscall with the asked errno" {
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}'
	args sh -c 'mkdir /tmp/d; grep Seccomp: /proc/self/status'
	run cell run --bundle "$BUNDLE" c1
	[[ "$output" == *"Permission denied"* ]]
	[[ "$output" == *$'Seccomp:\t2'* ]]
}

@test "SCMP_ACT_KILL kills the process with SIGSYS" {
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}]}'
	args uname
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 159 ]
}

@test "seccomp argument comparisons: EQ on a mode, MASKED_EQ on clone flags" {
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}]},
		{"names": ["fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 2, "value": 511, "op": "SCMP_CMP_EQ"}]}]}'
	args sh -c 'touch /tmp/m; chmod 755 /tmp/m && echo 755-ok; chmod 777 /tmp/m || echo 777-denied'
	run cell run --bundle "$BUNDLE" c1
	[[ "$output" == *755-ok* ]]
	[[ "$output" == *777-denied* ]]
}

@test "two comparisons on one argument: either matches" {
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
		{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO", "args": [
			{"index": 1, "value": 511, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 448, "op": "SCMP_CMP_EQ"},
			{"index": 2, "value": 511, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 448, "op": "SCMP_CMP_EQ"}]}]}'
	args sh -c 'touch /tmp/m; chmod 755 /tmp/m && echo 755-ok; chmod 777 /tmp/m || echo 777-denied; chmod 700 /tmp/m || echo 700-denied'
	run cell run --bundle "$BUNDLE" c1
	[[ "$output" == *755-ok* ]]
	[[ "$output" == *777-denied* ]]
	[[ "$output" == *700-denied* ]]
}

@test "unknown seccomp actions and operators are errors; unknown syscalls are skipped" {
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_BOGUS"}'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'config.json: linux.seccomp.defaultAction: unknown action "SCMP_ACT_BOGUS"'
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 1, "op": "SCMP_CMP_SOMETIMES"}]}]}'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'linux.seccomp.syscalls[0].args[0].op: unknown operator "SCMP_CMP_SOMETIMES"'
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'linux.seccomp.architectures[0]: unknown architecture "SCMP_ARCH_Z80"'
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": [{"names": ["not_a_syscall_at_all"], "action": "SCMP_ACT_ERRNO"}]}'
	args echo still-runs
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "$output" = still-runs ]
	assert_clean
}

@test "exec runs in the container's namespaces with its policy" {
	cfg '.hostname = "execbox"'
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c1
	run cell exec c1 sh -c 'hostname; ls /proc | grep -c "^[0-9]"; grep -E "^(CapEff|NoNewPrivs|Seccomp):" /proc/self/status; ls /'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = execbox ]
	[ "${lines[1]}" -le 4 ]
	[ "${lines[2]}" = $'CapEff:\t0000000020000420' ]
	[ "${lines[3]}" = $'NoNewPrivs:\t1' ]
	[ "${lines[4]}" = $'Seccomp:\t2' ]
	[[ "$output" == *marker* ]]
	cell ps --format json c1 | jq -e 'length == 1'
}

@test "exec passes the exit status, env, cwd, user and extra capabilities" {
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c1
	run cell exec c1 sh -c 'exit 33'
	[ "$status" -eq 33 ]
	run cell exec --env FOO=bar --cwd /tmp --user 1000:1001 c1 sh -c 'echo $FOO; pwd; id -u; id -g'
	[ "$output" = $'bar\n/tmp\n1000\n1001' ]
	run cell exec --cap CAP_SYS_ADMIN c1 grep CapEff /proc/self/status
	[ "$output" = $'CapEff:\t0000000020200420' ]
	run cell exec c1 nosuch
	assert_one_error exec 'exec "nosuch": executable file not found in $PATH'
}

@test "exec --process takes a runtime-spec process object" {
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c1
	echo '{"args": ["sh", "-c", "echo $A; id -u"], "env": ["A=from-json", "PATH=/bin"], "cwd": "/", "user": {"uid": 7, "gid": 7}}' >"$BATS_TEST_TMPDIR/p.json"
	run cell exec --process "$BATS_TEST_TMPDIR/p.json" c1
	[ "$status" -eq 0 ]
	[ "$output" = $'from-json\n7' ]
	echo '{"args": "sh", "cwd": "/", "user": {"uid": 0, "gid": 0}}' >"$BATS_TEST_TMPDIR/bad.json"
	run cell exec --process "$BATS_TEST_TMPDIR/bad.json" c1
	assert_one_error exec "$BATS_TEST_TMPDIR/bad.json: process.args: expected array"
}

@test "exec --detach --pid-file, and a terminal over the console socket" {
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c1
	cell exec -d --pid-file "$BATS_TEST_TMPDIR/pid" c1 sleep 999
	pid=$(cat "$BATS_TEST_TMPDIR/pid")
	[[ "$(tr '\0' ' ' </proc/$pid/cmdline)" == "sleep 999 " ]]
	cell ps --format json c1 | jq -e --argjson p "$pid" 'index($p) != null'
	"$RECVTTY" "$BATS_TEST_TMPDIR/tty.sock" >"$BATS_TEST_TMPDIR/tty.out" 2>/dev/null &
	recv=$!
	for i in $(seq 50); do [ -S "$BATS_TEST_TMPDIR/tty.sock" ] && break; sleep 0.05; done
	cell exec -t -d --console-socket "$BATS_TEST_TMPDIR/tty.sock" c1 tty
	wait $recv
	grep -q '^/dev/pts/' "$BATS_TEST_TMPDIR/tty.out"
}

@test "exec into a container that is not running is an error" {
	cell create --bundle "$BUNDLE" c1 >/dev/null
	cell kill c1 KILL
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	run cell exec c1 true
	assert_one_error exec "container c1 is stopped: exec needs a running container"
	run cell exec nosuch true
	assert_one_error exec "container nosuch does not exist"
}

@test "linux.sysctl is applied in the container's own namespaces only" {
	cfg '.linux.sysctl = {"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"}'
	args sh -c 'cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "$output" = $'1\n1234' ]
	[ "$(cat /proc/sys/kernel/shmmni)" != 1234 ]
	cfg '.linux.sysctl = {"vm.swappiness": "10"}'
	run cell run --bundle "$BUNDLE" c2
	assert_one_error run 'config.json: linux.sysctl.vm.swappiness: not in a namespace a container can own'
	cfg '.linux.sysctl = {"net.ipv4.ip_forward": "1"} | .linux.namespaces |= map(select(.type != "network"))'
	run cell run --bundle "$BUNDLE" c3
	assert_one_error run 'linux.sysctl.net.ipv4.ip_forward: needs a new network namespace'
	assert_clean
}

@test "linux.devices are created with their type, numbers, mode and owner" {
	cfg '.linux.devices = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 432, "uid": 0, "gid": 1001},
		{"path": "/dev/sub/fifo", "type": "p", "fileMode": 420}]'
	args sh -c 'stat -c "%F %t:%T %a %u %g" /dev/mynull; echo x >/dev/mynull && echo write-ok; stat -c "%F %a" /dev/sub/fifo'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "character special file 1:3 660 0 1001" ]
	[ "${lines[1]}" = write-ok ]
	[ "${lines[2]}" = "fifo 644" ]
	cfg '.linux.devices = [{"path": "/dev/x", "type": "z", "major": 1, "minor": 3}]'
	run cell run --bundle "$BUNDLE" c2
	assert_one_error run 'config.json: linux.devices[0].type: "z" is not c, b, u or p'
}

@test "personality, ioPriority and scheduler reach the process" {
	cfg '.linux.personality = {"domain": "LINUX32"} | .process.ioPriority = {"class": "IOPRIO_CLASS_BE", "priority": 6}
		| .process.scheduler = {"policy": "SCHED_BATCH", "nice": 7}'
	args sh -c 'uname -m; ionice -p $$; awk "{print \$19, \$41}" /proc/self/stat'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = i686 ]
	[[ "${lines[1]}" == *"best"*"6"* ]]
	[ "${lines[2]}" = "7 3" ]
	cfg '.process.scheduler = {"policy": "SCHED_SOMETIMES"}'
	run cell run --bundle "$BUNDLE" c2
	assert_one_error run 'process.scheduler.policy: unknown policy "SCHED_SOMETIMES"'
}

@test "an LSM label the host lacks is a clear error; an empty one is fine" {
	[ ! -e /sys/kernel/security/apparmor ] || skip "this host has AppArmor"
	cfg '.process.apparmorProfile = "cell-default"'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run "process.apparmorProfile: AppArmor is not enabled on this host"
	cfg '.process.apparmorProfile = "" | .process.selinuxLabel = ""'
	args true
	cell run --bundle "$BUNDLE" c2
	assert_clean
}

@test "seccomp breaches are streamed by cell events" {
	[ -r /dev/kmsg ] || skip "no /dev/kmsg"
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"], "syscalls": [
		{"names": ["uname"], "action": "SCMP_ACT_LOG"},
		{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}'
	args sh -c 'sleep 1.5; uname >/dev/null; mkdir /tmp/nope 2>/dev/null; sleep 1.5'
	cell run -d --bundle "$BUNDLE" c1
	cell events c1 >"$BATS_TEST_TMPDIR/events" &
	ev=$!
	for i in $(seq 100); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	wait $ev || true
	jq -se 'map(select(.type == "seccomp")) | any(.id == "c1" and .data.syscall == "uname" and .data.action == "SCMP_ACT_LOG" and .data.pid > 0 and (.data.time | test("^20")))' "$BATS_TEST_TMPDIR/events"
	jq -se 'map(select(.type == "seccomp")) | any(.data.syscall == "mkdir" and .data.action == "SCMP_ACT_ERRNO")' "$BATS_TEST_TMPDIR/events"
}

@test "SCMP_ACT_NOTIFY: the agent at listenerPath gets the fd and the state, and answers" {
	sock=$BATS_TEST_TMPDIR/agent.sock
	"$TESTBIN/seccompagent" "$sock" "$BATS_TEST_TMPDIR/state.json" >"$BATS_TEST_TMPDIR/agent.out" &
	agent=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": $s, "listenerMetadata": "meta-1",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}' --arg s "$sock"
	args sh -c 'mkdir /tmp/agent-test; echo done'
	run cell run --bundle "$BUNDLE" c1
	wait $agent
	[ "$status" -eq 0 ]
	[[ "$output" == *"Invalid cross-device link"* ]]
	grep -q '^notified mkdir' "$BATS_TEST_TMPDIR/agent.out"
	jq -e '.fds == ["seccompFd"] and .metadata == "meta-1" and .pid > 0 and .state.id == "c1"
		and .state.status == "running" and .ociVersion == "1.2.0"' "$BATS_TEST_TMPDIR/state.json"
	cfg '.linux.seccomp.listenerPath = null'
	run cell run --bundle "$BUNDLE" c2
	assert_one_error run "config.json: linux.seccomp.listenerPath: required with SCMP_ACT_NOTIFY"
	assert_clean
}

@test "a compiled filter is reused from the state root's cache" {
	args true
	cell run --bundle "$BUNDLE" c1
	n=$(ls "$ROOT/.seccomp" | wc -l)
	[ "$n" -ge 1 ]
	cell run --bundle "$BUNDLE" c2
	[ "$(ls "$ROOT/.seccomp" | wc -l)" = "$n" ]
	# a cached entry whose profile differs is not used: it is compiled again
	f=$(ls "$ROOT/.seccomp" | head -1)
	printf 'garbage' >"$ROOT/.seccomp/$f"
	args grep Seccomp: /proc/self/status
	run cell run --bundle "$BUNDLE" c3
	[ "$output" = $'Seccomp:\t2' ]
}

@test "SCMP_ACT_NOTIFY for cell exec: the exec'd process's listener reaches the agent, which answers" {
	sock=$BATS_TEST_TMPDIR/agent.sock
	"$TESTBIN/seccompagent" "$sock" "$BATS_TEST_TMPDIR/state.json" >"$BATS_TEST_TMPDIR/agent.out" &
	agent=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
	cfg '.linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": $s, "listenerMetadata": "meta-x",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]}' --arg s "$sock"
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c1
	init=$(cell state c1 | jq .pid)
	run cell exec c1 sh -c 'mkdir /tmp/from-exec; echo rc=$?'
	[ "$status" -eq 0 ]
	[[ "$output" == *"Invalid cross-device link"* ]]
	[[ "$output" == *"rc=1"* ]]
	# the init's listener at start, then the exec'd process's own
	[ "$(wc -l <"$BATS_TEST_TMPDIR/state.json")" = 2 ]
	sed -n 2p "$BATS_TEST_TMPDIR/state.json" | jq -e --argjson init "$init" '.fds == ["seccompFd"] and .metadata == "meta-x"
		and .pid > 0 and .pid != $init and .state.pid == $init and .state.id == "c1" and .state.status == "running"'
	grep -q '^notified mkdir' "$BATS_TEST_TMPDIR/agent.out"
	# with the agent gone, exec fails naming the path and leaves no process behind
	kill $agent
	wait $agent || true
	run cell exec c1 sleep 100
	assert_one_error exec "linux.seccomp.listenerPath: "
	cell ps --format json c1 | jq -e 'length == 1'
}

# idmap: a user namespace mapping container 0 to host 100000, and a bind
# mount whose on-disk ids ($1, e.g. 1000) show as host 100000 (container 0)
idmap_setup() {
	SRC=$BATS_TEST_TMPDIR/idsrc
	mkdir -p "$SRC" "$ROOTFS/idm"
	# the init works as the namespace's root (host 100000): bats' 0700 dirs
	# above the rootfs must let it through, as runc's tests arrange too
	local d
	for d in "$ROOTFS" "$SRC"; do
		while [[ $d == "$BATS_RUN_TMPDIR"* ]]; do chmod o+x "$d"; d=$(dirname "$d"); done
	done
	echo data >"$SRC/f"
	chown -R 1000:1000 "$SRC"
	cfg '.linux.namespaces += [{"type": "user"}]
		| .linux.uidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .linux.gidMappings = [{"containerID": 0, "hostID": 100000, "size": 65536}]
		| .mounts += [{"destination": "/idm", "source": $s, "options": ["bind", "idmap"],
			"uidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1}],
			"gidMappings": [{"containerID": 1000, "hostID": 100000, "size": 1}]}]' --arg s "$SRC"
}

# ext4 takes idmapped mounts since Linux 5.12, tmpfs only since 6.3
skip_unless_idmappable() {
	if [[ $status -ne 0 && $output == *"cannot be idmapped on this kernel"* ]]; then
		skip "$(stat -f -c %T "$SRC") ($SRC) does not support idmapped mounts on $(uname -r)"
	fi
}

@test "an idmapped bind mount: the host's uid 1000 is root inside, and what root makes is 1000's" {
	idmap_setup
	args sh -c 'stat -c "%u %g" /idm/f; id -u; echo x >/idm/new && echo made; grep " /idm " /proc/self/mountinfo'
	run cell run --bundle "$BUNDLE" c1
	skip_unless_idmappable
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "0 0" ]
	[ "${lines[1]}" = 0 ]
	[ "${lines[2]}" = made ]
	[[ "${lines[3]}" == *idmapped* ]]
	[ "$(stat -c '%u %g' "$SRC/new")" = "1000 1000" ]
	# the host sees its own ids, unchanged
	[ "$(stat -c '%u %g' "$SRC/f")" = "1000 1000" ]
	assert_clean
}

@test "ridmap without mappings maps with the container's user namespace; ro still applies" {
	idmap_setup
	cfg '.mounts[7].options = ["rbind", "ridmap", "ro"] | del(.mounts[7].uidMappings, .mounts[7].gidMappings)'
	args sh -c 'stat -c "%u %g" /idm/f; echo x >/idm/new || echo ro'
	run cell run --bundle "$BUNDLE" c1
	skip_unless_idmappable
	[ "$status" -eq 0 ]
	# on-disk 1000 -> host 101000 through 0:100000:65536 -> 1000 inside
	[ "${lines[0]}" = "1000 1000" ]
	[[ "$output" == *"Read-only file system"* ]]
	[ ! -e "$SRC/new" ]
	assert_clean
}

@test "idmapped mount errors name the field" {
	idmap_setup
	cp "$BUNDLE/config.json" "$BATS_TEST_TMPDIR/idmap.json"
	cfg '.mounts[7].type = "tmpfs" | .mounts[7].options = ["idmap"]'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'config.json: mounts[7]: an idmapped mount must be a bind mount (options bind or rbind)'
	cp "$BATS_TEST_TMPDIR/idmap.json" "$BUNDLE/config.json"
	cfg 'del(.mounts[7].gidMappings)'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'config.json: mounts[7].gidMappings: required with uidMappings'
	cp "$BATS_TEST_TMPDIR/idmap.json" "$BUNDLE/config.json"
	cfg 'del(.mounts[7].uidMappings, .mounts[7].gidMappings, .linux.uidMappings, .linux.gidMappings)
		| .linux.namespaces |= map(select(.type != "user"))'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run "config.json: mounts[7]: option \"idmap\" without uidMappings and gidMappings maps with the container's user namespace: linux.namespaces has none"
	cp "$BATS_TEST_TMPDIR/idmap.json" "$BUNDLE/config.json"
	cfg '.mounts[7].uidMappings += [{"containerID": 1000, "hostID": 5, "size": 1}]'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'mounts[7].uidMappings: write /proc/'
	cp "$BATS_TEST_TMPDIR/idmap.json" "$BUNDLE/config.json"
	cfg '.mounts[7].source = "/proc/sys"'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'mounts[7]: idmap: the filesystem of /proc/sys cannot be idmapped on this kernel'
	assert_clean
}
