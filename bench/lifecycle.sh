#!/bin/bash
# Lifecycle benchmark: `cell run` of /bin/true N times against Debian's runc
# (and crun, if installed and working), in one run. Prints wall time and peak
# RSS for each runtime and the cell/runc ratios.
#
# usage: bench/lifecycle.sh [N]
#   N        counted runs per runtime (default: $BENCH_RUNS or 100)
# environment:
#   BENCH_RUNS    same as N
#   BENCH_WARMUP  uncounted warm-up runs per runtime (default 5)
#   BENCH_BLOCK   runs per block; blocks alternate cell,runc,runc,cell,... (default 10)
#   CELL          cell binary (default: <repo>/build/cell, built with make if missing)
#   RUNC          runc binary (default: /usr/sbin/runc)
#   CRUN          crun binary (default: `command -v crun`)
#
# Exits 0 even when a target is missed; non-zero only when a runtime could not
# run the container at all (or the setup failed).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-${BENCH_RUNS:-100}}
warmup=${BENCH_WARMUP:-5}
block=${BENCH_BLOCK:-10}
cell=${CELL:-$here/build/cell}
runc=${RUNC:-/usr/sbin/runc}
crun=${CRUN:-$(command -v crun || true)}
gnutime=/usr/bin/time

die() { echo "lifecycle: $*" >&2; exit 1; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$runs'"
[[ $warmup =~ ^[0-9]+$ ]] || die "BENCH_WARMUP must be a non-negative integer"
[[ $block =~ ^[1-9][0-9]*$ ]] || die "BENCH_BLOCK must be a positive integer"

# --- prerequisites ---------------------------------------------------------
if [[ ! -x $cell ]]; then
	echo "lifecycle: $cell missing, building it" >&2
	make -C "$here" >&2
	[[ -x $cell ]] || die "make did not produce $cell"
fi
[[ -x $runc ]] || die "$runc missing (apt-get install runc)"
if ! dpkg -s time >/dev/null 2>&1 || [[ ! -x $gnutime ]]; then
	echo "lifecycle: GNU time missing, installing package 'time'" >&2
	apt-get install -y time >&2 || die "could not install GNU time (apt-get install time)"
fi

# --- scratch space, removed at exit ----------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/cell-bench.XXXXXX")
declare -A root=() cmd=()
names=()

cleanup() {
	local rc=$? n id
	trap - EXIT INT TERM
	# containers left by an interrupted or failed run: only ever in our own
	# state roots, so only ever ones this script started
	for n in "${!root[@]}"; do
		[[ -d ${root[$n]} ]] || continue
		for id in "${root[$n]}"/bench-*; do
			[[ -e $id ]] || continue
			id=${id##*/}
			"${cmd[$n]}" --root "${root[$n]}" delete --force "$id" >/dev/null 2>&1 || true
		done
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bundle=$tmp/bundle
CELL=$cell bash "$here/scripts/mkbundle.sh" "$bundle" /bin/true >/dev/null ||
	die "scripts/mkbundle.sh failed"

add_runtime() { # NAME BINARY
	names+=("$1")
	cmd[$1]=$2
	root[$1]=$tmp/root-$1
	mkdir -p "${root[$1]}"
}
add_runtime cell "$cell"
add_runtime runc "$runc"

seq_no=0
# one run: appends "wall_us peak_rss_kib exit_status" to $tmp/NAME.dat (or
# to $tmp/NAME.warm for warm-up runs); the runtime's stderr goes to NAME.err
run_once() { # NAME DATFILE
	local n=$1 dat=$2 id t0 t1 rc rss
	id=bench-$$-$n-$((seq_no++))
	t0=${EPOCHREALTIME/./}
	rc=0
	"$gnutime" -o "$tmp/rss" -f '%M' "${cmd[$n]}" --root "${root[$n]}" run --bundle "$bundle" "$id" \
		</dev/null >/dev/null 2>>"$tmp/$n.err" || rc=$?
	t1=${EPOCHREALTIME/./}
	rss=$(tail -n 1 "$tmp/rss")
	echo "$((t1 - t0)) $rss $rc" >>"$dat"
}

# crun: include it only if it is installed and runs the bundle
if [[ -n $crun && -x $crun ]]; then
	add_runtime crun "$crun"
	if ! run_once crun "$tmp/crun.probe" || [[ $(awk '{print $3}' "$tmp/crun.probe") != 0 ]]; then
		echo "crun: skipped ($crun does not run the container here: exit status $(awk '{print $3}' "$tmp/crun.probe"); $(grep -m 1 . "$tmp/crun.err" || echo 'no message'))"
		unset 'names[2]'
	fi
else
	echo "crun: skipped (not installed)"
fi

# what the harness alone costs: GNU time running the host's /bin/true
for ((i = 0; i < 20; i++)); do
	t0=${EPOCHREALTIME/./}
	"$gnutime" -o "$tmp/rss" -f '%M' /bin/true
	t1=${EPOCHREALTIME/./}
	echo "$((t1 - t0)) $(tail -n 1 "$tmp/rss") 0" >>"$tmp/base.dat"
done

# --- runs -------------------------------------------------------------------
for n in "${names[@]}"; do
	for ((i = 0; i < warmup; i++)); do run_once "$n" "$tmp/$n.warm"; done
	: >"$tmp/$n.dat"
done

# blocks of $block runs, the order reversed every other round (ABBA...), so
# drift and noise on the machine hit every runtime alike
done_runs=0 round=0
while ((done_runs < runs)); do
	this=$((runs - done_runs < block ? runs - done_runs : block))
	order=("${names[@]}")
	if ((round % 2)); then
		order=()
		for ((k = ${#names[@]} - 1; k >= 0; k--)); do order+=("${names[k]}"); done
	fi
	for n in "${order[@]}"; do
		for ((i = 0; i < this; i++)); do run_once "$n" "$tmp/$n.dat"; done
	done
	done_runs=$((done_runs + this))
	round=$((round + 1))
done

# --- statistics -------------------------------------------------------------
# median of column COL over the successful runs of FILE
median() { # FILE COL
	awk -v c="$2" '$3 == 0 { print $c }' "$1" | sort -n |
		awk '{ v[NR] = $1 } END { if (!NR) { print "nan"; exit }
			print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

declare -A ok=() fail=() total_ms=() mean_ms=() med_ms=() max_rss=() med_rss=()
for n in "${names[@]}"; do
	read -r "ok[$n]" "fail[$n]" "total_ms[$n]" "mean_ms[$n]" "max_rss[$n]" < <(awk '
		$3 == 0 { ok++; sum += $1; if ($2 > max) max = $2 }
		$3 != 0 { fail++ }
		END { printf "%d %d %.1f %.2f %d\n", ok, fail, sum / 1000,
			ok ? sum / ok / 1000 : 0, max }' "$tmp/$n.dat")
	med_ms[$n]=$(awk -v v="$(median "$tmp/$n.dat" 1)" 'BEGIN { printf "%.2f", v / 1000 }')
	med_rss[$n]=$(median "$tmp/$n.dat" 2)
	med_rss[$n]=${med_rss[$n]%.*}
	if ((ok[$n] == 0)); then
		total_ms[$n]=- mean_ms[$n]=- med_ms[$n]=- max_rss[$n]=- med_rss[$n]=-
	fi
done

echo
echo "lifecycle: $runs x '<runtime> run' of /bin/true (after $warmup warm-up runs each," \
	"blocks of $block, alternating order); $(nproc) CPUs, $(uname -r)"
printf '%-6s %5s %5s %10s %9s %9s %12s %12s\n' \
	runtime ok fail "total ms" "mean ms" "med ms" "max RSS KiB" "med RSS KiB"
for n in "${names[@]}"; do
	printf '%-6s %5d %5d %10s %9s %9s %12s %12s\n' "$n" "${ok[$n]}" "${fail[$n]}" \
		"${total_ms[$n]}" "${mean_ms[$n]}" "${med_ms[$n]}" "${max_rss[$n]}" "${med_rss[$n]}"
done

printf 'harness alone (GNU time running the host /bin/true, 20 runs): median %.2f ms, %d KiB\n' \
	"$(awk -v v="$(median "$tmp/base.dat" 1)" 'BEGIN { print v / 1000 }')" "$(median "$tmp/base.dat" 2)"

status=0
for n in "${names[@]}"; do
	if ((fail[$n])); then
		echo "$n: ${fail[$n]} of $runs runs failed; first exit status $(awk '$3 != 0 { print $3; exit }' "$tmp/$n.dat")," \
			"first error: $(grep -m 1 . "$tmp/$n.err" || echo '(none printed)')"
	fi
	if ((ok[$n] == 0)); then
		echo "$n: no run succeeded" >&2
		status=1
	fi
done
((status == 0)) || exit "$status"

echo
# wall: mean per run (the mean over the successful runs); rss: the peak
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
rw=$(ratio "${mean_ms[cell]}" "${mean_ms[runc]}")
rr=$(ratio "${max_rss[cell]}" "${max_rss[runc]}")
echo "ratio wall cell/runc: $rw   (median per run: $(ratio "${med_ms[cell]}" "${med_ms[runc]}"))"
echo "ratio rss cell/runc: $rr   (median per run: $(ratio "${med_rss[cell]}" "${med_rss[runc]}"))"
if [[ -n ${ok[crun]:-} ]]; then
	echo "ratio wall cell/crun: $(ratio "${mean_ms[cell]}" "${mean_ms[crun]}")"
	echo "ratio rss cell/crun: $(ratio "${max_rss[cell]}" "${max_rss[crun]}")"
fi
met() { awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN {
	m = (op == "<=") ? (r <= t) : (r < t); print m ? "met" : "missed" }'; }
echo "target wall <= 0.50: $(met "$rw" '<=' 0.50), target rss < 1.00: $(met "$rr" '<' 1.00)"
