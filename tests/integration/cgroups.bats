#!/usr/bin/env bats
# cgroups: limits proven by their effect inside the container or by the
# kernel's own counters; update, pause/resume, events; ps, kill --all and
# delete through the cgroup; bad input leaves no cgroup behind.
# The same effects run on pure cgroup v2 in tests/lab/cgroups.bats.

load helpers
load cgroups_lib

@test "memory limit 32 MiB: touching 64 MiB is OOM-killed, run exits 137" {
	cgt_memory_oom
}

@test "events reports the OOM kill as it happens" {
	cgt_events_oom
}

@test "pids limit 10: the 11th process cannot be forked (EAGAIN)" {
	cgt_pids
}

@test "cpu quota 0.2: a busy loop gets 20% +-5 of a CPU" {
	cgt_cpu_quota
}

@test "cpu shares 256 and 1024 on one CPU split about 1:4" {
	cgt_cpu_weights
}

@test "pause stops a counter, resume continues it" {
	cgt_pause
}

@test "update raises the memory limit live and the process then succeeds" {
	cgt_update
}

@test "events --stats prints runc's stats JSON" {
	cfg '.linux.resources = {"memory": {"limit": 67108864}, "pids": {"limit": 20}}'
	args sh -c 'while :; do :; done'
	cell run -d --bundle "$BUNDLE" c1
	sleep 0.3
	run cell events --stats c1
	[ "$status" -eq 0 ]
	[ "$(jq -r .type <<<"$output")" = stats ]
	[ "$(jq -r .id <<<"$output")" = c1 ]
	[ "$(jq .data.cpu.usage.total <<<"$output")" -gt 0 ]
	[ "$(jq .data.memory.usage.limit <<<"$output")" = 67108864 ]
	[ "$(jq .data.memory.usage.usage <<<"$output")" -gt 0 ]
	[ "$(jq .data.pids.current <<<"$output")" = 1 ]
	[ "$(jq .data.pids.limit <<<"$output")" = 20 ]
	jq -e '.data.blkio | type == "object"' <<<"$output"
	# interval events keep coming while it runs
	run timeout 1.5 "$CELL" --root "$ROOT" events --interval 200ms c1
	[ "$(grep -c '"type":"stats"' <<<"$output")" -ge 4 ]
}

@test "ps and kill --all go through the cgroup; delete kills what is left" {
	# no pid namespace: a child outlives its parent's death
	cfg '.linux.namespaces |= map(select(.type != "pid"))'
	args sh -c 'sleep 1000 & sleep 1000 & wait'
	cell run -d --bundle "$BUNDLE" c1
	sleep 0.3
	[ "$(cell ps --format json c1 | jq length)" -eq 3 ]
	path=$(cgpath c1)
	kill -9 "$(cell state c1 | jq .pid)"
	sleep 0.2
	[ "$(status_of c1)" = stopped ]
	# the two sleeps are orphans, still in the cgroup
	[ "$(wc -l <"$(cgdir pids "$path")/cgroup.procs")" -eq 2 ]
	cell delete c1
	cg_gone "$path"
	assert_clean
	[ -z "$(pgrep -f '^sleep 1000$' | xargs -r -n1 sh -c 'grep -l "$0" /dev/null' 2>/dev/null)" ]
}

@test "kill --all signals every process in the cgroup" {
	cfg '.linux.namespaces |= map(select(.type != "pid"))'
	args sh -c 'trap "" TERM; sleep 1000 & sleep 1000 & wait'
	cell run -d --bundle "$BUNDLE" c1
	sleep 0.3
	path=$(cgpath c1)
	cell kill --all c1 KILL
	for i in $(seq 50); do [ -z "$(cat "$(cgdir pids "$path")/cgroup.procs")" ] && break; sleep 0.1; done
	[ -z "$(cat "$(cgdir pids "$path")/cgroup.procs")" ]
}

@test "unknown unified key: one error naming it, no cgroup left" {
	cfg '.linux.cgroupsPath = $p | .linux.resources.unified = {"memory.nonsense": "1"}' --arg p "/cell-test/$$-unified"
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "config.json: linux.resources.unified.memory.nonsense: unknown cgroup file"
	assert_clean
	cg_gone "/cell-test/$$-unified"
}

@test "a value the kernel rejects names its field, nothing is left" {
	cfg '.linux.cgroupsPath = $p | .linux.resources.cpu = {"cpus": "999"}' --arg p "/cell-test/$$-bad"
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "config.json: linux.resources.cpu.cpus"
	assert_clean
	cg_gone "/cell-test/$$-bad"
}

@test "cgroupsPath: absolute as given, relative below cell's own cgroup; an existing cgroup is refused" {
	cfg '.linux.cgroupsPath = $p' --arg p "/cell-test/$$-abs"
	args sh -c 'cat /proc/self/cgroup; sleep 100'
	cell run -d --bundle "$BUNDLE" c1
	[ "$(cgpath c1)" = "/cell-test/$$-abs" ]
	grep -qx "$$" <<<"$$"
	grep -q "$(cell state c1 | jq .pid)" "$(cgdir pids "/cell-test/$$-abs")/cgroup.procs"
	# the same path again: refused, the running guest's cgroup untouched
	run cell create --bundle "$BUNDLE" c2
	assert_one_error create "cgroup /cell-test/$$-abs exists"
	[ "$(wc -l <"$(cgdir pids "/cell-test/$$-abs")/cgroup.procs")" -ge 1 ]
	cell delete --force c1
	cg_gone "/cell-test/$$-abs"
	rmdir /sys/fs/cgroup/*/cell-test /sys/fs/cgroup/cell-test 2>/dev/null || true
	# relative: below the cgroup cell runs in
	self=$(awk -F: '$2 ~ /(^|,)cpu(,|$)/ || ($1 == "0" && $2 == "") {print $3; exit}' /proc/self/cgroup)
	cfg '.linux.cgroupsPath = $p' --arg p "cell-rel-$$"
	cell run -d --bundle "$BUNDLE" c3
	[ "$(cgpath c3)" = "${self%/}/cell-rel-$$" ]
	# default: /cell/ID, qualified by the state root when it is not /run/cell
	cfg 'del(.linux.cgroupsPath)'
	cell run -d --bundle "$BUNDLE" c4
	[[ $(cgpath c4) == /cell/c4@???????? ]]
}

@test "--cgroup-manager disabled: no cgroup; --systemd-cgroup is refused" {
	args sh -c 'sleep 100'
	"$CELL" --root "$ROOT" --cgroup-manager disabled run -d --bundle "$BUNDLE" c1
	[ "$(cgpath c1)" = "" ]
	run cell update --pids-limit 5 c1
	assert_one_error update "has no cgroup"
	run cell pause c1
	assert_one_error pause "has no cgroup"
	cell delete --force c1
	run cell --systemd-cgroup list
	assert_one_error list "--systemd-cgroup is not supported"
	run cell --cgroup-manager systemd list
	assert_one_error list "not supported"
	run cell --cgroup-manager nonsense list
	[ "$status" -eq 2 ]
}

@test "killed mid-create: delete --force removes the cgroup too" {
	mark=$BATS_TEST_TMPDIR/in-hook
	cfg '.linux.cgroupsPath = $p | .linux.resources.pids = {"limit": 50}' --arg p "/cell-test/$$-crash"
	cfg '.hooks.createContainer = [{"path": "/bin/sh", "args": ["sh", "-c", "touch \($m); sleep 1"]}]' --arg m "$mark"
	"$CELL" --root "$ROOT" create --bundle "$BUNDLE" c1 >/dev/null 2>&1 &
	p=$!
	for i in $(seq 100); do [ -e "$mark" ] && break; sleep 0.02; done
	[ -e "$mark" ]
	[ -d "$(cgdir pids "/cell-test/$$-crash")" ]
	kill -9 $p
	wait $p || true
	cell delete --force c1
	cg_gone "/cell-test/$$-crash"
	assert_clean
	rmdir /sys/fs/cgroup/*/cell-test /sys/fs/cgroup/cell-test 2>/dev/null || true
}

@test "update: bad input is one error naming the field" {
	args sh -c 'sleep 100'
	cell run -d --bundle "$BUNDLE" c1
	echo '{"memory": {"limit": "lots"}}' >"$BATS_TEST_TMPDIR/r.json"
	run cell update --resources "$BATS_TEST_TMPDIR/r.json" c1
	assert_one_error update "memory.limit"
	run cell update --pids-limit many c1
	[ "$status" -eq 2 ]
	run cell update --pids-limit 5 nosuch
	assert_one_error update "does not exist"
}

@test "update writes the limits back into the saved config; a later update keeps them" {
	cfg '.linux.resources.memory = {"limit": 33554432} | .linux.resources.pids = {"limit": 50}'
	args sh -c 'sleep 100'
	cell run -d --bundle "$BUNDLE" c1
	saved=$ROOT/c1/config.json
	cell update --memory 64m c1
	[ "$(jq .linux.resources.memory.limit "$saved")" = 67108864 ]
	[ "$(jq .linux.resources.pids.limit "$saved")" = 50 ]
	cell update --pids-limit 7 c1
	[ "$(jq -c .linux.resources.memory "$saved")" = '{"limit":67108864}' ]
	[ "$(jq .linux.resources.pids.limit "$saved")" = 7 ]
	# the kernel has both
	run cell events --stats c1
	[ "$(jq .data.memory.usage.limit <<<"$output")" = 67108864 ]
	[ "$(jq .data.pids.limit <<<"$output")" = 7 ]
	# a resources file merges key by key; its device rules are not changed (as runc)
	echo '{"memory": {"reservation": 16777216}, "devices": [{"allow": true, "access": "rwm"}]}' >"$BATS_TEST_TMPDIR/r.json"
	cell update --resources "$BATS_TEST_TMPDIR/r.json" c1
	[ "$(jq -c .linux.resources.memory "$saved")" = '{"limit":67108864,"reservation":16777216}' ]
	[ "$(jq -c .linux.resources.devices "$saved")" = '[{"allow":false,"access":"rwm"}]' ]
	# the rest of the config is as created
	[ "$(jq -c .process.args "$saved")" = '["sh","-c","sleep 100"]' ]
	# an update the kernel refuses is not recorded
	run cell update --memory-swap 1m c1
	[ "$status" -ne 0 ]
	[ "$(jq .linux.resources.memory.swap "$saved")" = null ]
	cell delete --force c1
	assert_clean
}

@test "devices: the spec's rules are enforced, the default devices stay usable" {
	cfg '.linux.resources.devices = [{"allow": false, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
		{"allow": true, "type": "c", "major": 1, "minor": 5, "access": "r"}]
	| .linux.devices = [{"path": "/dev/full", "type": "c", "major": 1, "minor": 7, "fileMode": 438},
		{"path": "/dev/zero", "type": "c", "major": 1, "minor": 5, "fileMode": 438}]'
	args sh -c 'probe open /dev/full; probe write /dev/zero; probe open /dev/zero; probe write /dev/null
		probe open /dev/urandom; probe open /dev/random'
	run cell run --bundle "$BUNDLE" c1
	echo "$output"
	# full and zero are the spec's nodes, so only its rules count (zero: read
	# only); null and urandom are default devices the rules cannot take away
	[ "$output" = "$(printf '%s\n' EPERM EPERM OK OK OK OK)" ]
	# without /dev/zero in linux.devices its default rule (rwm) is back
	cfg '.linux.devices |= map(select(.path != "/dev/zero"))'
	run cell run --bundle "$BUNDLE" c2
	[ "$output" = "$(printf '%s\n' EPERM OK OK OK OK OK)" ]
}
