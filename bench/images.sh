#!/bin/bash
# Images benchmark, in one run:
#  1. import + unpack of a ~200 MB multi-layer gzip image made of Debian
#     packages' files: `cell image import` (copy into the store, verify
#     every digest, unpack) against `umoci unpack` (verify, unpack);
#  2. container start from that image: `cell run --image` (overlay of the
#     stored layers) against copying the rootfs and `cell run --bundle`.
# Prints best-of-N wall times and the cell/peer ratios.
#
# usage: bench/images.sh [N]     N: runs per side (default $BENCH_RUNS or 3)
# environment: CELL (default <repo>/build/cell), BENCH_DIR (scratch, default mktemp)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-${BENCH_RUNS:-3}}
cell=${CELL:-$here/build/cell}
die() { echo "images: $*" >&2; exit 1; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer"
[[ -x $cell ]] || make -C "$here" >&2
command -v umoci >/dev/null || die "umoci missing (apt-get install umoci)"
work=${BENCH_DIR:-$(mktemp -d /var/tmp/cell-bench-images.XXXXXX)}
cleanup() {
	"$cell" bundle --release "$work/bun" 2>/dev/null || true
	"$cell" --root "$work/run" delete --force b1 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
# best SECONDS-taking run of CMD... (N times, each after PREP if set)
best() {
	local b= t0 t
	for _ in $(seq "$runs"); do
		[[ -n ${PREP:-} ]] && eval "$PREP"
		t0=$(now)
		"$@" >/dev/null
		t=$(echo "$(now) - $t0" | bc)
		[[ -z $b ]] || (($(echo "$t < $b" | bc))) && b=$t
	done
	echo "$b"
}

# --- the image: busybox + one layer per large installed package -----------
echo "images: building the image in $work" >&2
CELL=$cell "$here/scripts/mkbundle.sh" "$work/base" true >/dev/null
layers=("$work/base/rootfs")
total=0
for p in libllvm14 libllvm15 gcc-12 cpp-12 libclang-cpp14 clang-14 libgcc-12-dev llvm-14 llvm-14-dev \
	libstdc++-12-dev binutils-x86-64-linux-gnu perl-modules-5.36 libperl5.36 python3.11; do
	((total >= 200 * 1024 * 1024)) && break
	dpkg-query -W "$p" >/dev/null 2>&1 || continue
	dpkg -L "$p" | while read -r f; do if [[ -f $f && ! -L $f ]]; then echo "${f#/}"; fi; done >"$work/$p.list"
	[[ -s $work/$p.list ]] || continue
	tar -C / --numeric-owner -cf "$work/$p.tar" -T "$work/$p.list"
	total=$((total + $(stat -c %s "$work/$p.tar")))
	layers+=("$work/$p.tar")
done
IMG_COMPRESS=gzip IMG_CONFIG='{"Cmd": ["/bin/true"]}' "$here/scripts/mkimage.sh" "$work/layout" "${layers[@]}"
rm -f "$work"/*.tar
gz=$(du -sb "$work/layout" | cut -f1)
printf 'image: %d layers, %.0f MB unpacked, %.0f MB gzip\n' "${#layers[@]}" "$(echo "$total / 1000000" | bc -l)" \
	"$(echo "$gz / 1000000" | bc -l)"

# --- 1. import + unpack ------------------------------------------------------
PREP='rm -rf "$work/store"; sync'
t_cell=$(best "$cell" image import -q --store "$work/store" --name bench "$work/layout")
PREP='rm -rf "$work/umoci"; sync'
t_umoci=$(best umoci unpack --image "$work/layout:latest" "$work/umoci")
unset PREP
printf 'import+unpack  cell %.2f s   umoci unpack %.2f s   cell/umoci %.2f\n' "$t_cell" "$t_umoci" \
	"$(echo "$t_cell / $t_umoci" | bc -l)"

# --- 2. start from the image: overlay vs copying the rootfs -------------------
"$cell" image import -q --store "$work/store" --name bench "$work/layout"
# flush what the import wrote so neither side pays for it
PREP=sync
t_run=$(best "$cell" --root "$work/run" run --store "$work/store" --image bench b1)
run_copy() {
	cp -a "$work/umoci/rootfs" "$work/copy/rootfs"
	"$cell" --root "$work/run" run --bundle "$work/copy" b1
	rm -rf "$work/copy/rootfs"
}
mkdir -p "$work/copy"
jq '.root.path = "rootfs" | .process.args = ["/bin/true"] | .process.terminal = false' \
	"$work/base/config.json" >"$work/copy/config.json"
t_copy=$(best run_copy)
unset PREP
printf 'start          cell run --image %.3f s   copy rootfs + run %.3f s   ratio %.3f\n' "$t_run" "$t_copy" \
	"$(echo "$t_run / $t_copy" | bc -l)"
