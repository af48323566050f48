#!/bin/bash
# The README's test command (make test): install what is missing, build the
# plain and the ASan+UBSan variants, then run unit tests (cmocka), the
# integration suite (BATS, through the cell binary), the fuzzer for a bounded
# time and the nested lab. Ends with "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo=$PWD
passed=0 failed=0 skipped=0
log=$(mktemp -d /tmp/cell-test.XXXXXX)
trap 'rm -rf "$log"' EXIT

# Count a TAP stream: "ok" (skips apart) passes, "not ok" fails.
count_tap() {
	local f=$1 p s n
	p=$(grep -E '^ok ' "$f" | grep -viEc '# skip') || true
	s=$(grep -E '^ok ' "$f" | grep -icE '# skip') || true
	n=$(grep -cE '^not ok ' "$f") || true
	# a plan of 1..0 with a skip reason counts as one skipped suite
	if grep -qiE '^1\.\.0 # skip' "$f"; then s=$((s + 1)); fi
	passed=$((passed + p)) skipped=$((skipped + s)) failed=$((failed + n))
}

# run_suite NAME CMD...: run, show the TAP, count it; a non-zero exit
# with no failing test line still counts as one failure.
run_suite() {
	local name=$1 rc
	shift
	echo "# --- $name"
	"$@" >"$log/$name.tap" 2>"$log/$name.err"
	rc=$?
	report "$name" "$rc"
}

# report NAME RC: counts $log/NAME.tap; a non-zero RC without a failed test
# is a failure of its own
report() {
	local name=$1 rc=$2 out="$log/$1.tap" before=$failed
	cat "$out"
	count_tap "$out"
	if ((rc != 0 && failed == before)); then
		echo "not ok - $name exited with status $rc"
		tail -n 20 "$log/$name.err" | sed 's/^/# /'
		failed=$((failed + 1))
	elif ((rc != 0)); then
		tail -n 20 "$log/$name.err" | sed 's/^/# /'
	fi
}

# run_lab NAME CMD...: a lab suite (tests/lab/run.sh).  QEMU 7.2's TCG can
# livelock with nested SVM (both emulated CPUs spin on its locks; seen with
# QEMU and with cell as the nested VMM, see tests/lab/README.md): the lab
# then hangs until run.sh's time limit; once, its kernel stopped in the
# middle of a test (qemu exited); now and then a nested guest's kernel dies
# of impossible register state.  Such a run is reported and made again, at
# most twice; only the last counts.  Test failures are never
# retried.  A lab whose results stop for CELL_LAB_STALL seconds counts as
# hung at once (every microVM test has a 300 s limit of its own).
# lab_broke TAP: the lab hung or its kernel stopped, or a test failed when
# a nested guest's kernel crashed with register state no VMM gives it (the
# lab has shown CS=0, RSP=0, EFLAGS=0 in such oopses)
lab_broke() {
	grep -qE '^not ok .*cell-lab: (timed out|the lab stopped before bats finished)' "$1" ||
		{ grep -q '^not ok ' "$1" && grep -qE '^# .*(Kernel panic - not syncing|BUG: kernel NULL pointer|double fault)' "$1"; }
}

run_lab() {
	local name=$1 rc try
	shift
	echo "# --- $name"
	for try in 1 2 3; do
		if [ "$try" -gt 1 ]; then
			echo "# the lab hung, its kernel stopped, or a nested guest's kernel crashed; its TAP:"
			sed 's/^/#   /' "$log/$name.tap"
			tail -n 12 "$log/$name.err" | sed 's/^/#   /'
			echo "# --- $name, again (run $try)"
		fi
		"$@" >"$log/$name.tap" 2>"$log/$name.err"
		rc=$?
		lab_broke "$log/$name.tap" || break
	done
	report "$name" "$rc"
}

step() {
	local name=$1
	shift
	echo "# --- $name"
	if "$@" >"$log/step.out" 2>&1; then
		return 0
	fi
	tail -n 40 "$log/step.out"
	echo "not ok - $name"
	failed=$((failed + 1))
	return 1
}

finish() {
	echo
	echo "$passed passed, $failed failed, $skipped skipped"
	((failed == 0))
	exit $?
}

step setup bash scripts/setup.sh || finish
step build make -j2 all unit || finish
step build-san make -j2 SAN=1 all unit || finish

unit_tap() { # BIN: cmocka in TAP mode
	CMOCKA_MESSAGE_OUTPUT=TAP "$1"
}
for t in build/tests/test_*; do
	[[ -x $t ]] && run_suite "unit-$(basename "$t")" unit_tap "$t"
done
for t in build-san/tests/test_*; do
	[[ -x $t ]] && run_suite "unit-san-$(basename "$t")" unit_tap "$t"
done

export CELL_TEST_REPO=$repo
run_suite integration env CELL="$repo/build/cell" bats --tap tests/integration
# the same suite against the sanitizer build: memory errors in any path fail it
run_suite integration-san env CELL="$repo/build-san/cell" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	bats --tap tests/integration

if [[ -x tests/fuzz/run.sh ]] && step build-fuzz make fuzz; then
	run_suite fuzz tests/fuzz/run.sh build/fuzz/fuzz_spec "${CELL_FUZZ_SECONDS:-60}"
fi

if [[ -x tests/lab/run.sh ]]; then
	# pure cgroup v2 and a real /dev/kvm: the lab's own tests, and the
	# lifecycle and escape suites again on a v2 host; microVMs (vm.bats
	# through cell, vmm.bats through vmmrun, its ASan build booted once)
	# Two labs, each with its own time budget: nested guests boot in ~10 s
	# under TCG, and the microVM suites alone take ~6 minutes.
	run_lab lab env CELL="$repo/build/cell" CELL_LAB_TIMEOUT=1200 CELL_LAB_STALL=420 \
		tests/lab/run.sh tests/lab/selftest.bats tests/lab/cgroups.bats \
		tests/integration/lifecycle.bats tests/integration/escape.bats
	run_lab lab-vm env CELL="$repo/build/cell" CELL_VMMRUN_SAN="$repo/build-san/tests/vmmrun" BATS_TEST_TIMEOUT=300 \
		CELL_LAB_TIMEOUT=1200 CELL_LAB_STALL=420 tests/lab/run.sh tests/lab/vm.bats tests/lab/vmm.bats
fi
finish
