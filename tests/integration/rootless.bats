#!/usr/bin/env bats
# An unprivileged user runs containers in a user namespace of its own,
# with state under $XDG_RUNTIME_DIR/cell and no cgroup.

load helpers

USER_ID=65534

setup() {
	make_base
	# bats' own temp dirs are root's (0700): the user gets a dir of its own
	RL=$(mktemp -d /tmp/cell-rootless.XXXXXX)
	chmod 755 "$RL"
	cp -a "$BATS_FILE_TMPDIR/base/rootfs" "$RL/rootfs"
	mkdir -p "$RL/run"
	chown -R $USER_ID:$USER_ID "$RL"
	pidns_snapshot >"$BATS_TEST_TMPDIR/pidns.before"
	wc -l </proc/self/mountinfo >"$BATS_TEST_TMPDIR/mounts.before"
	ROOT=$RL/run/cell
}

teardown() {
	local id
	for id in $(as_user "$CELL" list -q 2>/dev/null); do as_user "$CELL" delete --force "$id" || true; done
	rm -rf "$RL"
}

as_user() {
	setpriv --reuid=$USER_ID --regid=$USER_ID --clear-groups env -u HOME XDG_RUNTIME_DIR="$RL/run" "$@"
}

rl_spec() { # ARGS...: a rootless config running ARGS
	local a='[]' w
	for w in "$@"; do a=$(jq -c --arg w "$w" '. + [$w]' <<<"$a"); done
	as_user "$CELL" spec --rootless --bundle "$RL"
	jq --argjson a "$a" '.process.terminal = false | .process.args = $a | .root.readonly = false' "$RL/config.json" >"$RL/c"
	mv "$RL/c" "$RL/config.json"
	chown $USER_ID "$RL/config.json"
}

@test "spec --rootless maps the caller to root in a user namespace" {
	as_user "$CELL" spec --rootless --bundle "$RL"
	jq -e '.linux.uidMappings == [{"containerID":0,"hostID":65534,"size":1}]
		and (.linux.namespaces | map(.type) | index("user") and (index("network") | not))
		and (.linux.resources == null) and (.mounts | map(.destination) | index("/sys/fs/cgroup") | not)' "$RL/config.json"
}

@test "an unprivileged user runs a container: root inside, itself outside" {
	rl_spec sh -c 'id -u; cat /proc/self/uid_map; echo x >/tmp/f && stat -c %u /tmp/f; exit 4'
	cd "$RL"
	run as_user "$CELL" run r1
	[ "$status" -eq 4 ]
	[ "${lines[0]}" = 0 ]
	[[ "${lines[1]}" =~ ^[[:space:]]+0[[:space:]]+65534[[:space:]]+1$ ]]
	[ "${lines[2]}" = 0 ]
	# the file the container made as root belongs to the user on the host
	[ "$(stat -c %u "$RL/rootfs/tmp/f")" = $USER_ID ]
	[ -z "$(ls -A "$RL/run/cell" | grep -vx .seccomp)" ]
	assert_clean
}

@test "the unprivileged lifecycle: create, state, start, kill, delete" {
	rl_spec sleep 100
	cd "$RL"
	as_user "$CELL" create r1 >/dev/null
	[ -d "$RL/run/cell/r1" ]
	[ "$(as_user "$CELL" state r1 | jq -r .status)" = created ]
	as_user "$CELL" start r1
	pid=$(as_user "$CELL" state r1 | jq .pid)
	[ "$(stat -c %u /proc/$pid)" = $USER_ID ]
	as_user "$CELL" kill r1 KILL
	for i in $(seq 50); do [ "$(as_user "$CELL" state r1 | jq -r .status)" = stopped ] && break; sleep 0.1; done
	as_user "$CELL" delete r1
	assert_clean
}

@test "what needs privilege is a clear error, not a crash" {
	rl_spec true
	jq '.linux.resources = {"pids": {"limit": 10}}' "$RL/config.json" >"$RL/c" && mv "$RL/c" "$RL/config.json"
	chown $USER_ID "$RL/config.json"
	cd "$RL"
	run as_user "$CELL" run r1
	[ "$status" -ne 0 ]
	[[ "$output" == "cell: run: "*"Permission denied"* ]]
	jq '.linux.resources = null | .linux.uidMappings[0].hostID = 0' "$RL/config.json" >"$RL/c" && mv "$RL/c" "$RL/config.json"
	chown $USER_ID "$RL/config.json"
	run as_user "$CELL" run r2
	[ "$status" -ne 0 ]
	[[ "$output" == "cell: run: linux.uidMappings: newuidmap failed"* ]]
	assert_clean
}

@test "an idmapped mount needs root: a clear error, nothing left" {
	rl_spec true
	mkdir -p "$RL/src" "$RL/rootfs/idm"
	chown $USER_ID "$RL/src"
	n=$(jq '.mounts | length' "$RL/config.json")
	jq --arg s "$RL/src" '.mounts += [{"destination": "/idm", "source": $s, "options": ["bind", "idmap"]}]' "$RL/config.json" >"$RL/c" && mv "$RL/c" "$RL/config.json"
	chown $USER_ID "$RL/config.json"
	cd "$RL"
	run as_user "$CELL" run r1
	assert_one_error run "mounts[$n]: idmapped mounts need cell to run as root"
	[ -z "$(ls -A "$RL/run/cell" | grep -vx .seccomp)" ]
	assert_clean
}
