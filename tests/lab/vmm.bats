#!/usr/bin/env bats
# The VMM (vmshim/) on a real /dev/kvm, through tests/vm/vmmrun: Debian's
# kernel boots (bzImage and PVH) into a busybox initramfs whose /init prints
# a marker on ttyS0, reports a status through the exit port and powers off.
#
#   tests/lab/run.sh tests/lab/vmm.bats
# CELL_VMMRUN: the vmmrun binary (default: build/tests/vmmrun);
# CELL_VMMRUN_SAN: optionally an ASan build of it, booted once more.

ROOT=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
VMMRUN=${CELL_VMMRUN:-$ROOT/build/tests/vmmrun}
# A wedged guest must not hang the lab.
BOOT_TIMEOUT=120

# bats 1.8 reports a skip in setup_file as a failure: each test skips instead.
setup() {
	[ -c /dev/kvm ] || skip "no /dev/kvm (run through tests/lab/run.sh)"
	[ -x "$VMMRUN" ] || skip "$VMMRUN not built (make BUILD=... \$BUILD/tests/vmmrun)"
}

setup_file() {
	[ -c /dev/kvm ] && [ -x "$VMMRUN" ] || return 0
	# shellcheck source=/dev/null
	. "${CELL_LAB_CACHE:-/var/cache/cell-lab}/lab.env"
	export LAB_BZIMAGE LAB_VMLINUX LAB_KERNEL_ROOT LAB_KERNEL_VERSION
	local d=$BATS_FILE_TMPDIR/initrd
	mkdir -p "$d"/{bin,dev,proc,sys}
	cp /bin/busybox "$d/bin/busybox"
	# the ACPI button driver enables the power button event (a module in Debian)
	cp "$LAB_KERNEL_ROOT/lib/modules/$LAB_KERNEL_VERSION/kernel/drivers/acpi/button.ko" "$d/" || true
	# The status comes from the kernel command line (cell.status=N).
	cat >"$d/init" <<-'EOF'
	#!/bin/busybox sh
	/bin/busybox --install -s /bin
	mount -t devtmpfs dev /dev
	mount -t proc proc /proc
	mount -t sysfs sys /sys
	st=$(sed -n 's/.*cell\.status=\([0-9]*\).*/\1/p' /proc/cmdline)
	# cell.pwrbtn: wait for the ACPI power button, then report status 9
	if grep -q cell.pwrbtn /proc/cmdline; then
		insmod /button.ko
		echo "CELL-VMM-READY" >/dev/ttyS0
		while read -r n rest </sys/firmware/acpi/interrupts/ff_pwr_btn && [ "$n" = 0 ]; do
			sleep 0.2
		done
		st=9
	fi
	echo "CELL-VMM-MARKER cpus=$(grep -c ^processor /proc/cpuinfo) status=${st:-0}" >/dev/ttyS0
	printf "\\$(printf %o "${st:-0}")" | dd of=/dev/port bs=1 seek=1281 conv=notrunc 2>/dev/null
	poweroff -f
	EOF
	chmod +x "$d/init"
	(cd "$d" && find . | cpio -o -H newc --quiet) >"$BATS_FILE_TMPDIR/initrd.cpio"
	export INITRD=$BATS_FILE_TMPDIR/initrd.cpio
}

# vmmrun with the test initramfs and a serial console; panic=-1 turns a
# failed boot into a reset, which ends the run.
boot() {
	run timeout -k 10 "$BOOT_TIMEOUT" "$@" --debug --initrd "$INITRD" --mem 256
	echo "$output"
}

CMDLINE="console=ttyS0 panic=-1 loglevel=4"

@test "vmm: bzImage boots to the marker and its exit status passes through" {
	boot "$VMMRUN" --kernel "$LAB_BZIMAGE" --cmdline "$CMDLINE cell.status=3"
	[[ $output == *"prepared: boot bzimage"* ]]
	[[ $output == *"CELL-VMM-MARKER cpus=1 status=3"* ]]
	[ "$status" -eq 3 ]
}

@test "vmm: PVH vmlinux with 2 vCPUs: the guest sees both" {
	[ -n "${LAB_VMLINUX:-}" ] || skip "no PVH vmlinux in the lab cache"
	boot "$VMMRUN" --kernel "$LAB_VMLINUX" --vcpus 2 --cmdline "$CMDLINE cell.status=0"
	[[ $output == *"prepared: boot pvh, 2 vCPUs"* ]]
	[[ $output == *"CELL-VMM-MARKER cpus=2 status=0"* ]]
	[ "$status" -eq 0 ]
}

@test "vmm: a truncated kernel or a non-kernel file is refused before any vCPU runs" {
	head -c 300000 "$LAB_BZIMAGE" >"$BATS_TEST_TMPDIR/truncated"
	run "$VMMRUN" --kernel "$BATS_TEST_TMPDIR/truncated"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == "vmmrun: $BATS_TEST_TMPDIR/truncated"* ]]
	[[ $output != *prepared* ]]
	run "$VMMRUN" --kernel /bin/busybox
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == "vmmrun: /bin/busybox"* ]]
	[[ $output != *prepared* ]]
	# the lab reserves no hugetlb pages
	if [ "$(cat /proc/sys/vm/nr_hugepages)" = 0 ]; then
		run "$VMMRUN" --kernel "$LAB_BZIMAGE" --hugepages
		echo "$output"
		[ "$status" -eq 1 ]
		[[ $output == "vmmrun: guest RAM: "*"hugetlb pages are not available"* ]]
	fi
}

@test "vmm: a forbidden system call after confinement is killed by SIGSYS" {
	CELL_VMM_TEST_FORBIDDEN=1 run "$VMMRUN" --kernel "$LAB_BZIMAGE" --initrd "$INITRD"
	echo "$output"
	[ "$status" -eq $((128 + 31)) ]
	# Unconfined, the same call goes through, and the VMM says so.
	CELL_VMM_TEST_FORBIDDEN=1 run "$VMMRUN" --kernel "$LAB_BZIMAGE" --initrd "$INITRD" --no-confine
	echo "$output"
	[ "$status" -eq 1 ]
	[[ $output == *"CELL_VMM_TEST_FORBIDDEN: socket() was not stopped"* ]]
}

@test "vmm: SIGTERM presses the ACPI power button" {
	local out=$BATS_TEST_TMPDIR/console pid i
	# timeout(1) passes the SIGTERM sent to it on to vmmrun
	timeout -k 10 "$BOOT_TIMEOUT" "$VMMRUN" --kernel "${LAB_VMLINUX:-$LAB_BZIMAGE}" \
		--initrd "$INITRD" --mem 256 --cmdline "$CMDLINE cell.pwrbtn" >"$out" 2>&1 &
	pid=$!
	for ((i = 0; i < 1000; i++)); do
		grep -q CELL-VMM-READY "$out" && break
		sleep 0.1
	done
	kill -TERM "$pid"
	local st=0
	wait "$pid" || st=$?
	cat "$out"
	[[ $(cat "$out") == *"CELL-VMM-READY"* ]]
	[ "$st" -eq 9 ]
}

@test "vmm: the ASan+UBSan build boots confined" {
	[ -n "${CELL_VMMRUN_SAN:-}" ] || skip "CELL_VMMRUN_SAN not set"
	boot "$CELL_VMMRUN_SAN" --kernel "${LAB_VMLINUX:-$LAB_BZIMAGE}" --vcpus 2 \
		--cmdline "$CMDLINE cell.status=5"
	[[ $output == *"CELL-VMM-MARKER cpus=2 status=5"* ]]
	[ "$status" -eq 5 ]
	[[ $output != *Sanitizer* ]]
}
