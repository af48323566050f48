#!/bin/bash
# microVM boot benchmark: the same Debian kernel and initramfs booted to the
# init's marker line by cell's VMM and by QEMU (-accel kvm), side by side in
# one run; medians and the cell/QEMU ratio, plus the VMM's memory beyond
# guest RAM.
#
# usage: bench/vm-boot.sh [N]        N boots per VMM and kernel (default 5)
# Needs /dev/kvm.  Without it (our development machines) it runs itself inside
# the nested lab (tests/lab/run.sh bench/vm-boot.bats), where KVM is real.
# environment: CELL (default build/cell), QEMU (default qemu-system-x86_64)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
runs=${1:-${CELL_BENCH_RUNS:-5}}
cell=${CELL:-$here/build/cell}
qemu=${QEMU:-$(command -v qemu-system-x86_64 || true)}

die() { echo "vm-boot: $*" >&2; exit 1; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || die "N must be a positive integer, not '$runs'"
[[ -x $cell ]] || make -C "$here" >/dev/null
if [[ ! -c /dev/kvm ]]; then
	echo "vm-boot: no /dev/kvm here: running in the nested lab (TCG outside, KVM inside)" >&2
	export CELL_BENCH_RUNS=$runs CELL CELL_LAB_TIMEOUT=${CELL_LAB_TIMEOUT:-2400}
	exec "$here/tests/lab/run.sh" "$here/bench/vm-boot.bats"
fi
[[ -n $qemu ]] || die "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)"

# shellcheck disable=SC1091
. "${CELL_LAB_CACHE:-/var/cache/cell-lab}/lab.env" 2>/dev/null ||
	die "no lab kernel cache: run tests/lab/setup.sh first"
work=$(mktemp -d)
root=$work/state
cleanup() {
	for id in $("$cell" --root "$root" list -q 2>/dev/null); do
		"$cell" --root "$root" delete --force "$id" >/dev/null 2>&1 || true
	done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM
initrd=$work/initrd.cpio
"$here/tests/lab/mkinitrd.sh" "$initrd" >/dev/null 2>&1 || die "mkinitrd.sh failed"
mem=256
params="console=ttyS0 panic=-1 quiet cell.status=0"

now() { echo "${EPOCHREALTIME/,/.}"; }

# to_marker CMD...: seconds from launch to the marker line on the console,
# or "fail" when there is none within BOOT_TIMEOUT seconds (the boot is
# killed then, and left out of the medians but counted)
BOOT_TIMEOUT=${CELL_BENCH_BOOT_TIMEOUT:-180}
to_marker() {
	local t0 t1 line
	t0=$(now)
	while IFS= read -r line; do
		if [[ $line == *CELL-VM-MARKER* ]]; then
			t1=$(now)
			cat >/dev/null   # let the guest finish and power off
			awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
			return 0
		fi
	done < <(timeout -k 5 "$BOOT_TIMEOUT" "$@" 2>&1)
	echo "vm-boot: no marker within ${BOOT_TIMEOUT}s from: $*" >&2
	echo fail
}

# cell_boot KERNEL [UNPACK]: UNPACK false boots a bzImage by the boot
# protocol, as it is; by default cell boots the vmlinux it carries, unpacked
# into the benchmark's own image store by the first boot
store=$work/store
cell_boot() {
	local k=$1 b=$work/bundle
	mkdir -p "$b"
	jq -n --arg k "$k" --arg i "$initrd" --arg p "$params" --arg m "${mem}M" --arg u "${2:-true}" \
		'{ociVersion: "1.1.0", vm: {kernel: {path: $k, initrd: $i, parameters: ($p | split(" "))}},
		  annotations: {"cell.vm.vcpus": "1", "cell.vm.memory": $m, "cell.vm.unpack-kernel": $u}}' >"$b/config.json"
	to_marker "$cell" --root "$root" run --store "$store" --bundle "$b" "bench$RANDOM$RANDOM"
}

# qemu_boot KERNEL [EXTRA-PARAMS]
qemu_boot() {
	to_marker "$qemu" -accel kvm -cpu host -m "$mem" -smp 1 -nodefaults -display none -monitor none -no-reboot \
		-serial stdio -kernel "$1" -initrd "$initrd" -append "$params${2:+ $2}"
}

median() { sort -n | awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'; }

# The VMMs per kernel: cell; QEMU as it comes; and QEMU given the command
# line cell's guest ends up with (cell adds pci=off: its machine has no PCI
# bus), so that what the parameter alone is worth shows.  The bzImage also
# boots under cell by the boot protocol, as it is (cell-bootproto).
declare -A times
kernels=(bzimage)
[[ -n ${LAB_VMLINUX:-} ]] && kernels+=(pvh)
boot() { # VMM KERNEL
	case $1 in
	cell) cell_boot "$2" ;;
	cell-bootproto) cell_boot "$2" false ;;
	qemu) qemu_boot "$2" ;;
	qemu-pcioff) qemu_boot "$2" pci=off ;;
	esac
}
for kind in "${kernels[@]}"; do
	k=$LAB_BZIMAGE
	vmms=(cell cell-bootproto qemu qemu-pcioff)
	if [[ $kind == pvh ]]; then
		k=$LAB_VMLINUX
		vmms=(cell qemu qemu-pcioff)
	else
		# the first boot of a bzImage unpacks it into the store: timed
		# apart, the runs below find it there
		first=$(cell_boot "$k")
		echo "vm-boot: bzimage cell first boot, unpacking the kernel into the store: $first" >&2
	fi
	for v in "${vmms[@]}"; do times[$v-$kind]=; done
	for ((i = 0; i < runs; i++)); do
		# rotate the order so drift falls on all alike
		for ((j = 0; j < ${#vmms[@]}; j++)); do
			v=${vmms[(i + j) % ${#vmms[@]}]}
			t=$(boot "$v" "$k")
			times[$v-$kind]+="$t "
			echo "vm-boot: $kind $v run $((i + 1)): $t" >&2
		done
	done
done

printf '%-8s %9s %9s %12s %9s %14s   (seconds to the init marker, median of %d)\n' \
	kernel cell qemu qemu+pci=off cell/qemu cell/qemu+pcioff "$runs"
for kind in "${kernels[@]}"; do
	c=$(tr ' ' '\n' <<<"${times[cell-$kind]}" | grep '^[0-9]' | median)
	q=$(tr ' ' '\n' <<<"${times[qemu-$kind]}" | grep '^[0-9]' | median)
	p=$(tr ' ' '\n' <<<"${times[qemu-pcioff-$kind]}" | grep '^[0-9]' | median)
	printf '%-8s %9s %9s %12s %9s %14s\n' "$kind" "$c" "$q" "$p" \
		"$(awk -v a="$c" -v b="$q" 'BEGIN { printf "%.2f", a / b }')" \
		"$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')"
	if [[ $kind == bzimage ]]; then
		c=$(tr ' ' '\n' <<<"${times[cell-bootproto-$kind]}" | grep '^[0-9]' | median)
		printf '%-8s %9s %9s %12s %9s %14s   (cell.vm.unpack-kernel=false: by the boot protocol)\n' "" "$c" "" "" \
			"$(awk -v a="$c" -v b="$q" 'BEGIN { printf "%.2f", a / b }')" \
			"$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')"
		echo "  cell first boot (unpacks the bzImage into the store): $first"
	fi
	for v in cell cell-bootproto qemu qemu-pcioff; do
		[[ -n ${times[$v-$kind]+set} ]] || continue
		f=$(tr ' ' '\n' <<<"${times[$v-$kind]}" | grep -c '^fail$' || true)
		[[ $f == 0 ]] && f=
		echo "  $v runs: ${times[$v-$kind]}${f:+ ($f without a marker)}"
	done
done

# The VMM's own memory: resident pages that are not guest RAM (the memfd is
# RssShmem), sampled while a guest waits at its power button.
b=$work/bundle
params="console=ttyS0 panic=-1 quiet cell.wait=1"
k=${LAB_VMLINUX:-$LAB_BZIMAGE}
jq -n --arg k "$k" --arg i "$initrd" --arg p "$params" --arg m "${mem}M" \
	'{ociVersion: "1.1.0", vm: {kernel: {path: $k, initrd: $i, parameters: ($p | split(" "))}},
	  annotations: {"cell.vm.vcpus": "1", "cell.vm.memory": $m}}' >"$b/config.json"
"$cell" --root "$root" run -d --bundle "$b" rss >"$work/console" 2>&1
for i in $(seq 600); do
	grep -q CELL-VM-MARKER "$work/console" && break
	sleep 0.1
done
sleep 1
pid=$("$cell" --root "$root" state rss | jq .pid)
awk '/^(VmRSS|RssAnon|RssFile|RssShmem):/ { v[$1] = $2 }
     END { printf "VMM memory beyond guest RAM: %.2f MiB (VmRSS %d KiB = anon %d + file %d + guest RAM touched %d)\n",
	   (v["VmRSS:"] - v["RssShmem:"]) / 1024, v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["RssShmem:"] }' "/proc/$pid/status"
"$cell" --root "$root" kill rss KILL
"$cell" --root "$root" delete --force rss
echo "targets: cell <= 0.60 x QEMU's time to the marker; VMM overhead <= 3 MiB"
