# Shared set-up for the integration suite: every test gets its own state
# root and bundle; one busybox rootfs per file is shared read-mostly.
REPO=${CELL_TEST_REPO:-$(cd "$BATS_TEST_DIRNAME/../.." && pwd)}
CELL=${CELL:-$REPO/build/cell}
# test helpers are built next to the binary under test (build/ or build-san/)
TESTBIN=${CELL_TESTBIN:-$(dirname "$CELL")/tests}
RECVTTY=$TESTBIN/recvtty
# build/tests/probe: a static program that tries one operation inside the container

make_base() {
	if [[ ! -d $BATS_FILE_TMPDIR/base ]]; then
		CELL=$CELL "$REPO/scripts/mkbundle.sh" "$BATS_FILE_TMPDIR/base" true >/dev/null
		echo base-marker >"$BATS_FILE_TMPDIR/base/rootfs/marker"
		cp "$TESTBIN/probe" "$BATS_FILE_TMPDIR/base/rootfs/bin/probe"
	fi
}

pidns_snapshot() {
	stat -L -c %i /proc/[0-9]*/ns/pid 2>/dev/null | sort -u
}

setup() {
	make_base
	ROOT=$BATS_TEST_TMPDIR/root
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	ROOTFS=$BATS_FILE_TMPDIR/base/rootfs
	mkdir -p "$BUNDLE"
	jq --arg r "$ROOTFS" '.root.path = $r' "$BATS_FILE_TMPDIR/base/config.json" >"$BUNDLE/config.json"
	pidns_snapshot >"$BATS_TEST_TMPDIR/pidns.before"
	wc -l </proc/self/mountinfo >"$BATS_TEST_TMPDIR/mounts.before"
}

teardown() {
	local id
	for id in $("$CELL" --root "$ROOT" list -q 2>/dev/null); do
		"$CELL" --root "$ROOT" delete --force "$id" || true
	done
}

cell() { "$CELL" --root "$ROOT" "$@"; }

# cfg JQ-FILTER [jq args...]: edit the bundle's config.json in place.
cfg() {
	local f=$1
	shift
	jq "$@" "$f" "$BUNDLE/config.json" >"$BUNDLE/config.json.new" && mv "$BUNDLE/config.json.new" "$BUNDLE/config.json"
}

# args CMD...: the container's process.
args() {
	local a='[]' w
	for w in "$@"; do a=$(jq -c --arg w "$w" '. + [$w]' <<<"$a"); done
	cfg '.process.args = $a' --argjson a "$a"
}

# Nothing a create makes outlives it: no state dir entry, no process in a
# pid namespace that was not there before, no new mount on the host.
assert_clean() {
	local i new
	for i in $(seq 50); do
		new=$(comm -13 "$BATS_TEST_TMPDIR/pidns.before" <(pidns_snapshot))
		[[ -z $new ]] && break
		sleep 0.1
	done
	if [[ -n $new ]]; then
		echo "leftover pid namespaces: $new" >&2
		for p in /proc/[0-9]*; do
			[[ $(stat -L -c %i "$p/ns/pid" 2>/dev/null) == "$new" ]] && echo "  $p: $(tr '\0' ' ' <"$p/cmdline")" >&2
		done
		return 1
	fi
	# .seccomp is the root's cache of compiled filters, not a guest's
	if [[ -n $(ls -A "$ROOT" 2>/dev/null | grep -vx .seccomp) ]]; then
		echo "leftover state: $(ls -A "$ROOT")" >&2
		return 1
	fi
	[[ $(wc -l </proc/self/mountinfo) == $(cat "$BATS_TEST_TMPDIR/mounts.before") ]] || {
		echo "host mount table changed" >&2
		return 1
	}
}

# One error line, naming the command, and a non-zero exit.
assert_one_error() {
	[[ $status -ne 0 ]] || { echo "expected failure, got status 0" >&2; return 1; }
	[[ $(printf '%s\n' "$output" | grep -c .) == 1 ]] || { echo "expected one line, got: $output" >&2; return 1; }
	[[ $output == "cell: $1: "* ]] || { echo "expected 'cell: $1: ...', got: $output" >&2; return 1; }
	if [[ -n ${2:-} && $output != *"$2"* ]]; then
		echo "expected message to contain '$2', got: $output" >&2
		return 1
	fi
}

status_of() { cell state "$1" | jq -r .status; }
