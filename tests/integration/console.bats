#!/usr/bin/env bats
# process.terminal: the pty master over --console-socket, as runc sends it.

load helpers

start_recvtty() { # SOCKET [INPUT]
	"$RECVTTY" "$@" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
	RECV=$!
	for i in $(seq 50); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}

@test "create --console-socket sends the terminal; the process has a tty" {
	sock=$BATS_TEST_TMPDIR/tty.sock
	start_recvtty "$sock"
	cfg '.process.terminal = true'
	args sh -c 'tty; [ -t 0 ] && [ -t 1 ] && echo is-a-tty; stat -c %t:%T /dev/console'
	cell create --console-socket "$sock" --bundle "$BUNDLE" c1
	cell start c1
	wait $RECV
	grep -q '^/dev/pts/0' "$BATS_TEST_TMPDIR/tty.out"
	grep -q is-a-tty "$BATS_TEST_TMPDIR/tty.out"
	grep -q '^88:0' "$BATS_TEST_TMPDIR/tty.out"
	grep -q 'got /dev/pts/0' "$BATS_TEST_TMPDIR/tty.err"
}

@test "input typed on the terminal reaches the process" {
	sock=$BATS_TEST_TMPDIR/tty.sock
	start_recvtty "$sock" $'hello-typed\n'
	cfg '.process.terminal = true'
	args sh -c 'read line; echo "got:$line"'
	cell run -d --console-socket "$sock" --bundle "$BUNDLE" c1
	wait $RECV
	grep -q 'got:hello-typed' "$BATS_TEST_TMPDIR/tty.out"
}

@test "consoleSize sets the window size" {
	sock=$BATS_TEST_TMPDIR/tty.sock
	start_recvtty "$sock"
	cfg '.process.terminal = true | .process.consoleSize = {"height": 40, "width": 120}'
	args stty size
	cell run -d --console-socket "$sock" --bundle "$BUNDLE" c1
	wait $RECV
	grep -q '^40 120' "$BATS_TEST_TMPDIR/tty.out"
}

@test "run without a console socket gives the process a terminal of its own" {
	cfg '.process.terminal = true'
	args sh -c 'tty; exit 9'
	run cell run --bundle "$BUNDLE" c1 </dev/null
	[ "$status" -eq 9 ]
	[[ "$output" == /dev/pts/0* ]]
	assert_clean
}

@test "a console socket that does not listen is an error" {
	cfg '.process.terminal = true'
	run cell create --console-socket "$BATS_TEST_TMPDIR/none.sock" --bundle "$BUNDLE" c1
	assert_one_error create "--console-socket: connect $BATS_TEST_TMPDIR/none.sock: No such file or directory"
	assert_clean
}
