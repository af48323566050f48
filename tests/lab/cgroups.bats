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
