#!/usr/bin/env bats
# The six OCI hooks: when they run, where, what state they receive, and
# what their failure does.

load helpers

# hook NAME SCRIPT: append a hook running `sh -c SCRIPT` (args: name).
hook() {
	cfg '.hooks[$k] += [{"path": "/bin/sh", "args": ["sh", "-c", $s, $k]}]' --arg k "$1" --arg s "$2"
}

# A hook that records its name and the state it got on stdin.
record() {
	hook "$1" "cat > $2/\$0.json; echo \$0 >> $2/order"
}

@test "all six hooks run in order, each with the state of its moment" {
	log=$BATS_TEST_TMPDIR/log
	mkdir -p "$log"
	cfg '.mounts += [{"destination":"/hooklog","type":"bind","source":$l,"options":["bind"]}]' --arg l "$log"
	for h in prestart createRuntime createContainer poststart poststop; do record $h "$log"; done
	# startContainer runs inside the container: its paths are the container's
	record startContainer /hooklog
	args true
	cell create --bundle "$BUNDLE" c1 >/dev/null
	pid=$(cell state c1 | jq .pid)
	cell start c1
	sleep 0.2
	cell delete c1
	[ "$(tr '\n' ' ' <"$log/order")" = "prestart createRuntime createContainer startContainer poststart poststop " ]
	for h in prestart createRuntime createContainer; do
		jq -e --argjson p "$pid" '.status == "creating" and .id == "c1" and .pid == $p and .ociVersion == "1.2.0"' "$log/$h.json"
	done
	jq -e --argjson p "$pid" '.status == "created" and .pid == $p' "$log/startContainer.json"
	jq -e '.status == "running" or .status == "stopped"' "$log/poststart.json"
	jq -e --arg b "$BUNDLE" '.status == "stopped" and .bundle == $b' "$log/poststop.json"
	assert_clean
}

@test "createContainer runs in the container's namespaces, startContainer in its root" {
	log=$BATS_TEST_TMPDIR/log
	mkdir -p "$log"
	cfg '.hostname = "hooked" | .mounts += [{"destination":"/hooklog","type":"bind","source":$l,"options":["bind"]}]' --arg l "$log"
	hook createContainer "hostname > $log/cc-hostname; stat -L -c %i /proc/self/ns/uts > $log/cc-uts"
	hook startContainer "ls / > /hooklog/sc-ls"
	hook createRuntime "hostname > $log/cr-hostname"
	args sh -c 'stat -L -c %i /proc/self/ns/uts'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[ "$(cat "$log/cc-hostname")" = hooked ]
	[ "$(cat "$log/cc-uts")" = "$output" ]
	[ "$(cat "$log/cr-hostname")" = "$(hostname)" ]
	grep -qx marker "$log/sc-ls"
}

@test "a hook gets its args and env" {
	log=$BATS_TEST_TMPDIR/log
	mkdir -p "$log"
	cfg '.hooks.prestart = [{"path": "/bin/sh", "args": ["sh", "-c", "echo \"$0 $1 $GREETING\" > \($l)/out", "a0", "a1"], "env": ["GREETING=hi"]}]' --arg l "$log"
	args true
	cell run --bundle "$BUNDLE" c1
	[ "$(cat "$log/out")" = "a0 a1 hi" ]
}

@test "a failing prestart hook fails create, runs poststop, leaves nothing" {
	log=$BATS_TEST_TMPDIR/log
	mkdir -p "$log"
	hook prestart "exit 3"
	record poststop "$log"
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create 'hook prestart[0] (/bin/sh): exited with status 3'
	[ -s "$log/poststop.json" ]
	assert_clean
}

@test "a failing createContainer hook fails create and leaves nothing" {
	hook createContainer "echo oops >&2; exit 1"
	run cell create --bundle "$BUNDLE" c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"cell: create: hook createContainer[0] (/bin/sh): exited with status 1"* ]]
	assert_clean
}

@test "a hook past its timeout is killed and fails create" {
	cfg '.hooks.createRuntime = [{"path": "/bin/sleep", "args": ["sleep", "100"], "timeout": 1}]'
	SECONDS=0
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create 'hook createRuntime[0] (/bin/sleep): timed out after 1 s'
	[ "$SECONDS" -lt 10 ]
	assert_clean
}

@test "a failing startContainer hook fails start and stops the container" {
	hook startContainer "exit 5"
	args sleep 100
	cell create --bundle "$BUNDLE" c1 >/dev/null
	run cell start c1
	assert_one_error start 'hook startContainer[0] (/bin/sh): exited with status 5'
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	[ "$(status_of c1)" = stopped ]
	cell delete c1
	assert_clean
}

@test "failing poststart and poststop hooks only warn" {
	hook poststart "exit 1"
	hook poststop "exit 1"
	args sh -c 'echo ran'
	run cell run --bundle "$BUNDLE" c1
	[ "$status" -eq 0 ]
	[[ "$output" == *ran* ]]
	[[ "$output" == *'level=warning msg="hook poststart[0] (/bin/sh): exited with status 1"'* ]]
	[[ "$output" == *'level=warning msg="hook poststop[0] (/bin/sh): exited with status 1"'* ]]
	assert_clean
}
