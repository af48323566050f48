#!/bin/bash
# Run a libFuzzer binary over tests/fuzz/corpus for a bounded time and
# print TAP (plan first). Builds nothing. The corpus is copied to a
# temporary directory so new inputs never land in the repository; on a
# failure that directory is kept and named, with the crashing input in it.
# usage: tests/fuzz/run.sh FUZZ_BINARY [SECONDS]   (default 30)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${1:-}
secs=${2:-30}
name=$(basename "${bin:-fuzz}")

echo "1..1"
if [[ -z $bin || ! -x $bin ]]; then
	echo "not ok 1 - $name ${secs}s # no executable fuzz binary '${bin}' (make fuzz)"
	exit 1
fi
if ! [[ $secs =~ ^[0-9]+$ ]] || ((secs == 0)); then
	echo "not ok 1 - $name # bad duration '$secs'"
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/cell-fuzz.XXXXXX")
cp -r "$here/corpus" "$work/corpus"
dict=()
[[ -f $here/spec.dict ]] && dict=(-dict="$here/spec.dict")

# -timeout: one input taking 10 s is a hang; -rss_limit_mb bounds memory.
# halt_on_error makes UBSan findings fatal, as in the SAN build.
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1} \
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	-artifact_prefix="$work/" "${dict[@]}" "$work/corpus" >"$work/log" 2>&1
rc=$?

execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
if ((rc == 0)); then
	echo "ok 1 - $name ${secs}s"
	echo "# ${execs:-?} executions"
	rm -rf "$work"
	exit 0
fi
echo "not ok 1 - $name ${secs}s # exit status $rc after ${execs:-?} executions"
grep -E 'ERROR|SUMMARY|runtime error|Test unit written|^ *#[0-9]+ ' "$work/log" | head -n 40 | sed 's/^/# /'
echo "# inputs and log kept in $work"
exit 1
