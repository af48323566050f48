#!/usr/bin/env bats
# Crash safety: cell killed with SIGKILL at several points of a create,
# then `cell delete --force` leaves no process, mount or state behind.

load helpers

# After the crash something is left; delete --force must finish the job.
finish_and_check() {
	cell delete --force c1
	run cell state c1
	[ "$status" -ne 0 ]
	assert_clean
}

@test "killed while running the prestart hook" {
	cfg '.hooks.prestart = [{"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $PPID"]}]'
	run cell create --bundle "$BUNDLE" c1
	[ "$status" -eq 137 ]
	[ -d "$ROOT/c1" ]
	finish_and_check
}

@test "killed while running the createRuntime hook, init waiting" {
	cfg '.hooks.createRuntime = [{"path": "/bin/sh", "args": ["sh", "-c", "kill -9 $PPID; sleep 0.5"]}]'
	run cell create --bundle "$BUNDLE" c1
	[ "$status" -eq 137 ]
	[ "$(jq -r .status "$ROOT/c1/state.json")" = creating ]
	finish_and_check
}

@test "killed while the init runs the createContainer hook" {
	# the hook is in the container's pid namespace: it only says when
	mark=$BATS_TEST_TMPDIR/in-hook
	cfg '.hooks.createContainer = [{"path": "/bin/sh", "args": ["sh", "-c", "touch \($m); sleep 1"]}]' --arg m "$mark"
	"$CELL" --root "$ROOT" create --bundle "$BUNDLE" c1 >/dev/null 2>&1 &
	p=$!
	for i in $(seq 100); do [ -e "$mark" ] && break; sleep 0.02; done
	[ -e "$mark" ]
	kill -9 $p
	wait $p || rc=$?
	[ "$rc" -eq 137 ]
	finish_and_check
}

@test "killed at random moments of create" {
	for delay in 0 0.001 0.002 0.004 0.006 0.008 0.01 0.015 0.02 0.03 0.05; do
		"$CELL" --root "$ROOT" create --bundle "$BUNDLE" c1 >/dev/null 2>&1 &
		p=$!
		sleep $delay
		kill -9 $p 2>/dev/null || true
		wait $p || true
		cell delete --force c1
		run cell state c1
		[ "$status" -ne 0 ]
	done
	assert_clean
}

@test "killed while run waits for the container" {
	args sleep 1000
	"$CELL" --root "$ROOT" run --bundle "$BUNDLE" c1 >/dev/null 2>&1 &
	p=$!
	for i in $(seq 50); do [ "$(status_of c1 2>/dev/null)" = running ] && break; sleep 0.1; done
	kill -9 $p
	wait $p || true
	[ "$(status_of c1)" = running ]
	finish_and_check
}
