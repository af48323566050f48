#!/usr/bin/env bats
# The OCI lifecycle through the cell binary: spec, create, start, state,
# kill, delete, run, list, ps, features.

load helpers

@test "spec writes a runc-style default config.json and refuses to overwrite it" {
	d=$BATS_TEST_TMPDIR/spec
	mkdir -p "$d"
	run cell spec --bundle "$d"
	[ "$status" -eq 0 ]
	jq -e '.ociVersion == "1.2.0" and .root.path == "rootfs" and .process.args == ["sh"]
	       and (.linux.namespaces | map(.type) | sort == ["cgroup","ipc","mount","network","pid","uts"])
	       and (.linux.maskedPaths | index("/proc/kcore")) and .process.noNewPrivileges' "$d/config.json"
	run cell spec --bundle "$d"
	assert_one_error spec "File exists"
}

@test "create waits for start; state goes created, running, stopped" {
	args sh -c 'read line </dev/null; sleep 2'
	# the init keeps create's stdio for the process: not captured here
	cell create --bundle "$BUNDLE" c1 >/dev/null
	[ "$(status_of c1)" = created ]
	pid=$(cell state c1 | jq .pid)
	[ "$pid" -gt 0 ]
	# the process has not run yet: the init is still cell itself, waiting
	[ "$(readlink /proc/$pid/exe)" != /bin/busybox ]
	cell start c1
	[ "$(status_of c1)" = running ]
	for i in $(seq 100); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	[ "$(status_of c1)" = stopped ]
	run cell state c1
	echo "$output" | jq -e '.id == "c1" and .pid == 0 and .ociVersion == "1.2.0" and (.bundle | endswith("/bundle")) and .annotations == {}'
	cell delete c1
	assert_clean
}

@test "state carries the bundle's annotations" {
	cfg '.annotations = {"org.example.k": "v"}'
	cell create --bundle "$BUNDLE" c1
	cell state c1 | jq -e '.annotations["org.example.k"] == "v"'
	cell delete c1
}

@test "run passes the exit status through" {
	args sh -c 'exit 42'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 42 ]
	assert_clean
}

@test "run exits 128+N when the process is killed by signal N" {
	args sleep 30
	cell run --bundle "$BUNDLE" c1 &
	runner=$!
	for i in $(seq 50); do [ "$(status_of c1 2>/dev/null)" = running ] && break; sleep 0.1; done
	cell kill c1 KILL
	wait $runner || rc=$?
	[ "$rc" -eq 137 ]
	assert_clean
}

@test "run forwards SIGTERM to the container" {
	args sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
	# $! must be cell itself, not a subshell running the helper function
	"$CELL" --root "$ROOT" run --bundle "$BUNDLE" c1 &
	runner=$!
	for i in $(seq 50); do [ "$(status_of c1 2>/dev/null)" = running ] && break; sleep 0.1; done
	sleep 0.2
	kill -TERM $runner
	wait $runner || rc=$?
	[ "$rc" -eq 7 ]
	assert_clean
}

@test "run --detach returns with the container running" {
	args sleep 30
	cell run --detach --bundle "$BUNDLE" c1
	[ "$(status_of c1)" = running ]
	cell kill c1 KILL
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	cell delete c1
	assert_clean
}

@test "kill takes signal names and numbers" {
	args sh -c 'trap "echo got-usr1 >/tmp/sig" USR1; trap "exit 3" TERM; while :; do sleep 0.1; done'
	cfg '.root.readonly = false'
	cell create --bundle "$BUNDLE" c1
	cell start c1
	sleep 0.3
	cell kill c1 SIGUSR1
	sleep 0.3
	cell kill c1 15
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	[ "$(status_of c1)" = stopped ]
	run cell kill c1 NOSUCHSIG
	[ "$status" -ne 0 ]
	[[ "$output" == *'unknown signal "NOSUCHSIG"'* ]]
	cell delete c1
}

@test "kill --all reaches every process of the container" {
	args sh -c 'sleep 1000 & sleep 1001 & wait'
	cell run -d --bundle "$BUNDLE" c1
	sleep 0.3
	run cell ps --format json c1
	[ "$(echo "$output" | jq length)" -eq 3 ]
	cell kill --all c1 KILL
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	[ "$(status_of c1)" = stopped ]
	cell delete c1
	assert_clean
}

@test "kill of a created container ends its init" {
	cell create --bundle "$BUNDLE" c1
	cell kill c1 TERM
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	[ "$(status_of c1)" = stopped ]
	cell delete c1
	assert_clean
}

@test "delete of a created container kills its init" {
	cell create --bundle "$BUNDLE" c1
	cell delete c1
	assert_clean
}

@test "delete --force removes a running container" {
	args sleep 1000
	cell run -d --bundle "$BUNDLE" c1
	cell delete --force c1
	assert_clean
	# and of a container that does not exist succeeds, as runc's does
	cell delete --force nosuch
}

@test "list shows containers as a table and as json" {
	args sleep 1000
	cell run -d --bundle "$BUNDLE" a1
	cell create --bundle "$BUNDLE" b2
	run cell list
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == ID*PID*STATUS*BUNDLE*CREATED*OWNER ]]
	[[ "${lines[1]}" == a1*running* ]]
	[[ "${lines[2]}" == b2*created* ]]
	cell list --format json | jq -e 'length == 2 and .[0].id == "a1" and .[1].status == "created"'
	[ "$(cell list -q | tr '\n' ' ')" = "a1 b2 " ]
}

@test "ps lists the container's processes" {
	args sh -c 'sleep 1000 & wait'
	cell run -d --bundle "$BUNDLE" c1
	sleep 0.3
	run cell ps c1
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == USER*PID*PPID*STAT*COMMAND ]]
	[[ "$output" == *"sleep 1000"* ]]
	[[ "$output" == *"sh -c"* ]]
	init=$(cell state c1 | jq .pid)
	cell ps --format json c1 | jq -e --argjson p "$init" 'index($p) != null and length == 2'
}

@test "--pid-file receives the init's pid" {
	cell create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/pid" c1
	[ "$(cat "$BATS_TEST_TMPDIR/pid")" = "$(cell state c1 | jq .pid)" ]
}

@test "--preserve-fds passes extra descriptors to the process" {
	args sh -c 'cat <&3; cat /proc/self/fdinfo/4 >/dev/null 2>&1 && echo fd4-leaked || echo fd4-closed'
	echo via-fd-3 >"$BATS_TEST_TMPDIR/in"
	run cell run --preserve-fds 1 --bundle "$BUNDLE" c1 3<"$BATS_TEST_TMPDIR/in" 4<"$BATS_TEST_TMPDIR/in"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = via-fd-3 ]
	[ "${lines[1]}" = fd4-closed ]
}

@test "features reports this build's abilities" {
	run cell features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.ociVersionMin == "1.0.0" and (.hooks | length == 6)
		and (.linux.namespaces | index("time")) and (.mountOptions | index("rbind"))
		and .linux.seccomp.enabled and (.linux.seccomp.actions | index("SCMP_ACT_ERRNO"))
		and (.linux.capabilities | index("CAP_SYS_ADMIN"))'
}

@test "--version and --help on every command" {
	run "$CELL" --version
	[[ "$output" == "cell version "* ]]
	for c in create start run state kill delete list ps spec features; do
		run "$CELL" "$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == "usage: cell $c"* ]]
	done
	run "$CELL" --help
	[ "$status" -eq 0 ]
	run "$CELL" nosuchcommand
	[ "$status" -ne 0 ]
}

@test "--log-format json writes json lines with level, msg and time" {
	run "$CELL" --root "$ROOT" --log "$BATS_TEST_TMPDIR/log" --log-format json start nosuch
	[ "$status" -ne 0 ]
	jq -e '.level == "error" and (.msg | contains("nosuch does not exist")) and (.time | test("^20"))' \
		"$BATS_TEST_TMPDIR/log"
	"$CELL" --root "$ROOT" --log "$BATS_TEST_TMPDIR/log2" --debug create --bundle "$BUNDLE" c1 >/dev/null
	grep -q 'level=debug msg="created c1' "$BATS_TEST_TMPDIR/log2"
}

@test "every 1.x ociVersion is accepted, other majors are not" {
	for v in 1.0.0 1.0.2-dev 1.1.0 1.2.0 1.3.0; do
		cfg '.ociVersion = $v' --arg v "$v"
		cell run --bundle "$BUNDLE" "v$v"
	done
	cfg '.ociVersion = "2.0.0"'
	run cell run --bundle "$BUNDLE" v2
	assert_one_error run 'ociVersion: unsupported version "2.0.0"'
	assert_clean
}
