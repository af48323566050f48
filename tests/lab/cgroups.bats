#!/usr/bin/env bats
# cgroups on a pure cgroup v2 host (the lab): the same effects as
# tests/integration/cgroups.bats proves on the hybrid host, plus what only
# v2 has (cgroup.kill, unified keys checked against the v2 files).

load ../integration/helpers
load ../integration/cgroups_lib

setup_file() {
	[[ $(stat -f -c %T /sys/fs/cgroup) == cgroup2fs ]] || skip "not a cgroup v2 host"
}

@test "lab: memory limit 32 MiB: OOM-killed, run exits 137" { cgt_memory_oom; }
@test "lab: events reports the OOM kill" { cgt_events_oom; }
@test "lab: pids limit 10: the 11th fork fails with EAGAIN" { cgt_pids; }
@test "lab: cpu.max 0.2: a busy loop gets 20% +-5" { cgt_cpu_quota; }
@test "lab: cpu.weight 100 and 400 on one CPU split about 1:4" { cgt_cpu_weights; }
@test "lab: pause (cgroup.freeze) stops a counter, resume continues it" { cgt_pause; }
@test "lab: update raises memory.max live and the process then succeeds" { cgt_update; }

@test "lab: unknown unified key is refused; delete kills stragglers (cgroup.kill)" {
	cfg '.linux.resources.unified = {"memory.nonsense": "1"}'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "config.json: linux.resources.unified.memory.nonsense: unknown cgroup file"
	cfg '.linux.resources.unified = {"memory.high": "104857600"} | .linux.namespaces |= map(select(.type != "pid"))'
	args sh -c 'sleep 1000 & sleep 1000 & wait'
	cell run -d --bundle "$BUNDLE" c2
	path=$(cgpath c2)
	[ "$(cat "/sys/fs/cgroup$path/memory.high")" = 104857600 ]
	kill -9 "$(cell state c2 | jq .pid)"
	sleep 0.5
	[ "$(wc -l <"/sys/fs/cgroup$path/cgroup.procs")" -eq 2 ]
	cell delete c2
	cg_gone "$path"
}

# deny all, then c 1:3 rwm (null) and c 1:5 r (zero); the spec creates
# /dev/null, /dev/zero and /dev/full itself, so their default rules give way
dev_rules() {
	cfg '.linux.resources.devices = [{"allow": false, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}]
	| .linux.devices = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438},
		{"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 438},
		{"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 438}]
	| .process.capabilities |= with_entries(.value += ["CAP_MKNOD"])'
	args sh -c 'probe open /dev/full; probe open /dev/zero; head -c 4 /dev/zero | wc -c; probe write /dev/zero
		probe write /dev/null; probe mknod /dev/disk; mknod /dev/null2 c 1 3 && echo mknod-null OK
		probe open /dev/urandom'
}

@test "lab: devices: the eBPF program denies what the rules deny (open, write, mknod)" {
	dev_rules
	run cell run --bundle "$BUNDLE" c1
	echo "$output"
	[ "$status" -eq 0 ]
	# full: EPERM; zero: read yes, write EPERM; null: write; b 8:0: no mknod;
	# c 1:3 has m; urandom: a default device
	[ "$output" = "$(printf '%s\n' EPERM OK 4 EPERM OK EPERM 'mknod-null OK' OK)" ]
}

@test "lab: devices: without device rules nothing is denied (the control)" {
	dev_rules
	cfg 'del(.linux.resources.devices)'
	run cell run --bundle "$BUNDLE" c1
	echo "$output"
	[ "$output" = "$(printf '%s\n' OK OK 4 OK OK OK 'mknod-null OK' OK)" ]
}

@test "lab: devices: the default spec's deny-all keeps the default devices usable" {
	args sh -c 'echo x >/dev/null && head -c 3 /dev/urandom | wc -c && probe open /dev/full && probe open /dev/tty'
	run cell run --bundle "$BUNDLE" c1
	echo "$output"
	[ "${lines[0]}" = 3 ]
	[ "${lines[1]}" = OK ]
	# /dev/tty: allowed by the cgroup; with no terminal the open fails with ENXIO
	[ "${lines[2]}" = ENXIO ]
}

@test "lab: update keeps what it does not name: cpu.max from the saved quota and a new period" {
	cfg '.linux.resources.cpu = {"quota": 20000, "period": 100000}'
	args sleep 100
	cell run -d --bundle "$BUNDLE" c1
	path=$(cgpath c1)
	[ "$(cat "/sys/fs/cgroup$path/cpu.max")" = "20000 100000" ]
	cell update --cpu-period 50000 c1
	[ "$(cat "/sys/fs/cgroup$path/cpu.max")" = "20000 50000" ]
	cell update --memory 64m c1
	cell update --memory-swap 96m c1
	[ "$(cat "/sys/fs/cgroup$path/memory.max")" = 67108864 ]
	[ "$(cat "/sys/fs/cgroup$path/memory.swap.max")" = 33554432 ]
	[ "$(jq -c .linux.resources "$ROOT/c1/config.json")" = \
	  '{"devices":[{"allow":false,"access":"rwm"}],"cpu":{"quota":20000,"period":50000},"memory":{"limit":67108864,"swap":100663296}}' ]
}
