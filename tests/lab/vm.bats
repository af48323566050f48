#!/usr/bin/env bats
# microVMs through the cell binary, in the lab (real /dev/kvm with nested
# paging, pure cgroup v2): Debian's own kernel boots under cell's VMM with an
# initramfs built here (tests/lab/mkinitrd.sh), as a guest of the runtime.
# A nested guest takes ~10 s to boot under TCG: few tests, each proving
# several things.

load ../integration/helpers
load ../integration/cgroups_lib

setup_file() {
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	# shellcheck disable=SC1091
	. "${CELL_LAB_CACHE:-/var/cache/cell-lab}/lab.env"
	export LAB_BZIMAGE LAB_VMLINUX
	export INITRD=$BATS_FILE_TMPDIR/initrd.cpio
	"$REPO/tests/lab/mkinitrd.sh" "$INITRD" --modules-from "$LAB_KERNEL_ROOT" "$LAB_KERNEL_VERSION" \
		button evdev >&2
	# KVM's per-VM statistics (pages_2m); mounted before any test takes
	# its snapshot of the mount table
	mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug
}

# vm_bundle KERNEL PARAM...: a microVM bundle in $VMB (no rootfs, no process)
vm_bundle() {
	local k=$1 p
	shift
	p=$(printf '%s\n' console=ttyS0 panic=-1 "$@" | jq -R . | jq -sc .)
	VMB=$BATS_TEST_TMPDIR/vm
	mkdir -p "$VMB"
	jq -n --arg k "$k" --arg i "$INITRD" --argjson p "$p" \
		'{ociVersion: "1.1.0", vm: {kernel: {path: $k, initrd: $i, parameters: $p}},
		  annotations: {"cell.vm.vcpus": "2", "cell.vm.memory": "256M"}}' >"$VMB/config.json"
}

vmcfg() {
	jq "$@" "$VMB/config.json" >"$VMB/config.json.new" && mv "$VMB/config.json.new" "$VMB/config.json"
}

# wait_line FILE PATTERN [SECONDS]: SECONDS of wall time (a loop count
# would stretch under TCG); on failure, what the VMMs were doing
wait_line() {
	local end=$((SECONDS + ${3:-60}))
	while ((SECONDS < end)); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	echo "no '$2' in $1 after ${3:-60} s:" >&2
	# a guest kernel's first report of trouble, else the console's end
	if grep -qE 'BUG:|Oops|double fault|general protection|Kernel panic' "$1"; then
		grep -m1 -B5 -A40 -E 'BUG:|Oops|double fault|general protection|Kernel panic' "$1" >&2
	else
		tail -20 "$1" >&2
	fi
	vm_diag >&2
	return 1
}

# vm_diag: each microVM's status, its VMM's threads (state, user and
# system ticks, where they wait) and KVM's exit counters for it
vm_diag() {
	local id pid t s
	for id in $(cell list --quiet 2>/dev/null); do
		pid=$(cell state "$id" | jq -r .pid)
		echo "== $id: $(cell state "$id" | jq -c '{status, vm: (.vm != null)}')"
		[ -d "/proc/$pid" ] || continue
		for t in /proc/"$pid"/task/*; do
			s=$(cut -d' ' -f2,3,14,15 "$t/stat" 2>/dev/null)
			echo "   thread ${t##*/}: $s wchan=$(cat "$t/wchan" 2>/dev/null)"
		done
		for s in exits halt_exits io_exits mmio_exits irq_exits pages_2m pages_4k; do
			[ -r /sys/kernel/debug/kvm/"$pid"-*/"$s" ] &&
				printf '   %s=%s' "$s" "$(cat /sys/kernel/debug/kvm/"$pid"-*/"$s")"
		done
		echo
	done
	uptime
}

# wait_stopped ID SECONDS
wait_stopped() {
	local i
	for i in $(seq $(($2 * 10))); do
		[ "$(cell state "$1" | jq -r .status)" = stopped ] && return 0
		sleep 0.1
	done
	echo "$1 is $(cell state "$1" | jq -r .status)" >&2
	return 1
}

@test "vm: bzImage boots by the boot protocol; the guest sees its vCPUs and RAM; run exits with its status; nothing left" {
	vm_bundle "$LAB_BZIMAGE" cell.status=7
	vmcfg '.annotations."cell.vm.unpack-kernel" = "false"'
	run timeout -k 5 120 "$CELL" --root "$ROOT" --debug run --bundle "$VMB" v1
	echo "$output"
	echo "status=$status"
	[ "$status" -eq 7 ]
	[[ $output == *CELL-VM-MARKER* ]]
	# entered by cell's bzImage loader, not through PVH
	[[ $output == *"CELL-VM loader=ff"* ]]
	[[ $output == *"CELL-VM cpus=2 "* ]]
	[[ $output == *"cpuinfo_processors=2"* ]]
	# 256 MiB of RAM, less what the kernel reserves for itself
	kb=$(grep -o 'memtotal_kb=[0-9]*' <<<"$output" | cut -d= -f2)
	[ "$kb" -gt 200000 ] && [ "$kb" -le 262144 ]
	assert_clean
}

@test "vm: a bzImage boots as the vmlinux it carries, unpacked once into the image store; prune removes it" {
	store=$BATS_TEST_TMPDIR/store
	vm_bundle "$LAB_BZIMAGE" cell.status=3
	out=$BATS_TEST_TMPDIR/console
	cell create --store "$store" --bundle "$VMB" u1 >"$out" 2>&1
	cell state u1 | jq -e --arg s "$store/kernels/" '.vm.boot == "pvh" and (.vm.unpackedKernel | startswith($s))'
	elf=$(cell state u1 | jq -r .vm.unpackedKernel)
	[ "$(head -c 4 "$elf" | od -An -c | tr -d ' ')" = '177ELF' ]
	# the lab's own extraction (tests/lab/setup.sh) gives the same bytes
	[ -z "$LAB_VMLINUX" ] || cmp "$elf" "$LAB_VMLINUX"
	cell start u1
	wait_stopped u1 120
	cat "$out"
	grep -q "CELL-VM-MARKER" "$out"
	# entered through PVH: off Xen, the kernel's PVH code names QEMU (0xb) its loader
	grep -q "CELL-VM loader=b0" "$out"
	cell delete u1
	# the next create finds it there
	cell create --store "$store" --bundle "$VMB" u2 >/dev/null
	[ "$(cell state u2 | jq -r .vm.unpackedKernel)" = "$elf" ]
	cell delete u2
	[ "$(ls "$store/kernels" | grep -vc '^stat-')" -eq 1 ]
	cell image prune --store "$store"
	[ -z "$(ls -A "$store/kernels")" ]
	assert_clean
}

@test "vm: PVH entry of the ELF vmlinux; vCPUs and RAM sized from linux.resources" {
	[ -n "$LAB_VMLINUX" ] || skip "no PVH-bootable vmlinux in the lab cache"
	vm_bundle "$LAB_VMLINUX" cell.status=0
	# 2 CPUs in the cpuset → 2 vCPUs; memory.limit 300 MiB → 276 MiB of RAM (VMM: 24 MiB)
	vmcfg 'del(.annotations) | .linux.resources = {cpu: {cpus: "0-1"}, memory: {limit: 314572800}}'
	run timeout -k 5 120 "$CELL" --root "$ROOT" --debug run --bundle "$VMB" v2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"CELL-VM cpus=2 "* ]]
	[[ $output == *"276 MiB RAM"* ]]
	[[ $output == *"two-level paging: yes"* ]]
	kb=$(grep -o 'memtotal_kb=[0-9]*' <<<"$output" | cut -d= -f2)
	[ "$kb" -gt 220000 ] && [ "$kb" -le 282624 ]
}

@test "vm: the VMM is confined like a container; kill TERM powers the guest off through ACPI" {
	vm_bundle "$LAB_VMLINUX" cell.wait=1 cell.status=5
	[ -n "$LAB_VMLINUX" ] || vm_bundle "$LAB_BZIMAGE" cell.wait=1 cell.status=5
	out=$BATS_TEST_TMPDIR/console
	cell create --bundle "$VMB" v3 >"$out" 2>&1
	[ "$(cell state v3 | jq -r .status)" = created ]
	pid=$(cell state v3 | jq .pid)
	cell start v3
	wait_line "$out" "waiting for power button" 90
	st=/proc/$pid/status
	grep -q '^CapEff:[[:space:]]*0000000000000000$' "$st"
	grep -q '^CapBnd:[[:space:]]*0000000000000000$' "$st"
	grep -q '^NoNewPrivs:[[:space:]]*1$' "$st"
	grep -q '^Seccomp:[[:space:]]*2$' "$st"
	# one thread per vCPU besides the main loop, every one in the guest's cgroup
	[ "$(awk '/^Threads:/ { print $2 }' "$st")" -ge 3 ]
	cg=$(cgpath v3)
	for t in /proc/$pid/task/*; do
		[ "$(cut -d: -f3 "$t/cgroup")" = "$cg" ]
	done
	grep -qx "$pid" "/sys/fs/cgroup$cg/cgroup.procs"
	# its own namespaces, and /dev/kvm as the only device of its root
	for ns in mnt pid net ipc uts; do
		[ "$(stat -L -c %i "/proc/$pid/ns/$ns")" != "$(stat -L -c %i "/proc/self/ns/$ns")" ]
	done
	[ "$(ls "/proc/$pid/root/dev")" = kvm ]
	[ "$(ls "/proc/$pid/root" | tr '\n' ' ')" = "dev mem " ]
	# guest RAM: one unlinked file on the VMM's huge-page tmpfs, mapped with
	# 2 MiB pages by the VMM and so by KVM's two-level tables
	grep -q ' /mem .*huge=within_size' "/proc/$pid/mountinfo"
	[ "$(find "/proc/$pid/root/mem" -mindepth 1 | wc -l)" -eq 0 ]
	[ "$(awk '/^ShmemPmdMapped:/ { print $2 }' "/proc/$pid/smaps_rollup")" -gt 0 ]
	[ "$(cat /sys/kernel/debug/kvm/"$pid"-*/pages_2m)" -gt 0 ]
	cell kill v3 TERM
	wait_line "$out" "CELL-VM power button" 60
	wait_line "$out" "CELL-VM status=5" 30
	wait_stopped v3 20
	cell delete v3
	cg_gone "$cg"
	assert_clean
}

@test "vm: the serial console: stdin reaches the guest, its output comes back on stdout" {
	vm_bundle "$LAB_VMLINUX" cell.mode=echo cell.status=9
	[ -n "$LAB_VMLINUX" ] || vm_bundle "$LAB_BZIMAGE" cell.mode=echo cell.status=9
	out=$BATS_TEST_TMPDIR/console
	mkfifo "$BATS_TEST_TMPDIR/in"
	(rc=0
	 timeout -k 5 120 "$CELL" --root "$ROOT" run --bundle "$VMB" v7 <"$BATS_TEST_TMPDIR/in" >"$out" 2>&1 || rc=$?
	 echo "exit=$rc" >>"$out") 3>&- &
	exec 4>"$BATS_TEST_TMPDIR/in"
	wait_line "$out" "CELL-VM ready for input" 90
	echo "hello from the host" >&4
	exec 4>&-
	wait_line "$out" "exit=" 60
	grep -q "CELL-VM got: hello from the host" "$out"
	grep -q "exit=9" "$out"
}

@test "vm: --console-socket: the guest's serial line is a terminal sent to the socket; what is typed reaches the guest" {
	k=${LAB_VMLINUX:-$LAB_BZIMAGE}
	vm_bundle "$k" cell.mode=echo cell.status=3
	vmcfg '.process = {terminal: true, cwd: "/", args: ["vm"], user: {uid: 0, gid: 0}}'
	sock=$BATS_TEST_TMPDIR/tty.sock
	"$RECVTTY" "$sock" $'typed on the pty\n' "ready for input" >"$BATS_TEST_TMPDIR/tty.out" 2>"$BATS_TEST_TMPDIR/tty.err" &
	recv=$!
	for i in $(seq 50); do [ -S "$sock" ] && break; sleep 0.05; done
	cell create --console-socket "$sock" --bundle "$VMB" v9 </dev/null >"$BATS_TEST_TMPDIR/create.out" 2>&1 ||
		{ cat "$BATS_TEST_TMPDIR/create.out"; false; }
	cell start v9
	# recvtty ends when the VMM, the last holder of the terminal, is gone
	timeout 120 tail --pid="$recv" -f /dev/null
	cat "$BATS_TEST_TMPDIR/tty.err" "$BATS_TEST_TMPDIR/tty.out"
	grep -q 'recvtty: got /dev/pts/' "$BATS_TEST_TMPDIR/tty.err"
	grep -q 'CELL-VM got: typed on the pty' "$BATS_TEST_TMPDIR/tty.out"
	grep -q 'CELL-VM status=3' "$BATS_TEST_TMPDIR/tty.out"
	# nothing of the guest's went to create's own output
	! grep -q CELL-VM "$BATS_TEST_TMPDIR/create.out"
	wait_stopped v9 20
	cell delete v9
	assert_clean
}

@test "vm: pause freezes the vCPUs, resume continues; kill KILL stops at once; delete leaves nothing" {
	vm_bundle "$LAB_VMLINUX" cell.mode=tick
	[ -n "$LAB_VMLINUX" ] || vm_bundle "$LAB_BZIMAGE" cell.mode=tick
	out=$BATS_TEST_TMPDIR/console
	cell run -d --bundle "$VMB" v4 >"$out" 2>&1
	wait_line "$out" "CELL-VM tick 5" 90
	cell pause v4
	[ "$(cell state v4 | jq -r .status)" = paused ]
	sleep 0.5
	a=$(grep -c 'CELL-VM tick' "$out")
	sleep 1.5
	[ "$(grep -c 'CELL-VM tick' "$out")" -eq "$a" ]
	cell resume v4
	sleep 1.5
	[ "$(grep -c 'CELL-VM tick' "$out")" -gt "$a" ]
	cg=$(cgpath v4)
	cell kill v4 KILL
	wait_stopped v4 5
	cell delete v4
	cg_gone "$cg"
	assert_clean
}

@test "vm: malformed kernels and sizes are refused at create, before any vCPU runs; nothing left" {
	head -c 8192 "$LAB_BZIMAGE" >"$BATS_TEST_TMPDIR/truncated"
	echo "not a kernel" >"$BATS_TEST_TMPDIR/text"
	vm_bundle "$BATS_TEST_TMPDIR/truncated"
	run cell create --bundle "$VMB" bad
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == "cell: create: "*vm.kernel.path* ]]
	[ "$(wc -l <<<"$output")" -eq 1 ]
	vm_bundle "$BATS_TEST_TMPDIR/text"
	run cell create --bundle "$VMB" bad
	[ "$status" -ne 0 ]
	[[ $output == "cell: create: "*vm.kernel.path*"not a bzImage"* ]]
	vm_bundle "$BATS_TEST_TMPDIR/nonexistent"
	run cell create --bundle "$VMB" bad
	[[ $output == "cell: create: "*"vm.kernel.path: $BATS_TEST_TMPDIR/nonexistent: No such file or directory"* ]]
	# an initrd larger than the guest's RAM
	vm_bundle "$LAB_BZIMAGE"
	truncate -s 100M "$BATS_TEST_TMPDIR/big.cpio"
	vmcfg --arg i "$BATS_TEST_TMPDIR/big.cpio" '.vm.kernel.initrd = $i | .annotations."cell.vm.memory" = "128M"'
	run cell create --bundle "$VMB" bad
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == "cell: create: "*vm.kernel.initrd* ]]
	vm_bundle "$LAB_BZIMAGE"
	vmcfg '.annotations."cell.vm.vcpus" = "0"'
	run cell create --bundle "$VMB" bad
	[ "$output" = 'cell: create: config.json: annotations: cell.vm.vcpus: "0": expected 1..64' ]
	assert_clean
}

# events_attach ID FILE: `cell events ID >FILE` in the background ($EV),
# returned once it follows both the posted events and the kernel's log
events_attach() {
	local i
	"$CELL" --root "$ROOT" events "$1" >"$2" 2>&1 &
	EV=$!
	for i in $(seq 100); do
		ls -l "/proc/$EV/fd" 2>/dev/null | grep -q inotify &&
			ls -l "/proc/$EV/fd" | grep -q /dev/kmsg && return 0
		sleep 0.1
	done
	echo "cell events did not attach" >&2
	return 1
}

@test "vm: the VMM's seccomp allow-list kills it on a forbidden call; run reports SIGSYS; cell events shows it" {
	vm_bundle "$LAB_BZIMAGE" cell.status=0
	run env CELL_VMM_TEST_FORBIDDEN=1 timeout -k 5 60 "$CELL" --root "$ROOT" run --bundle "$VMB" v6
	echo "$output"
	[ "$status" -eq $((128 + 31)) ]
	[[ $output != *CELL-VM-MARKER* ]]
	# the breach on the guest's event channel, as a container's would be
	CELL_VMM_TEST_FORBIDDEN=1 cell create --bundle "$VMB" v6 >/dev/null 2>&1
	events_attach v6 "$BATS_TEST_TMPDIR/events"
	cell start v6
	wait_stopped v6 20
	timeout 20 tail --pid="$EV" -f /dev/null
	cat "$BATS_TEST_TMPDIR/events"
	jq -se 'any(.type == "seccomp" and .id == "v6" and .data.syscall == "socket" and .data.action == "SCMP_ACT_KILL_PROCESS")' \
		"$BATS_TEST_TMPDIR/events"
	cell delete v6
	assert_clean
}

@test "vm: state shows the machine; KVM exits the VMM cannot handle reach cell events (unhandled port, triple fault)" {
	# port 0x700 (1792) belongs to no device; reboot=t makes the guest's reset a triple fault
	k=${LAB_VMLINUX:-$LAB_BZIMAGE}
	vm_bundle "$k" reboot=t cell.poke=1792 cell.reboot=1
	out=$BATS_TEST_TMPDIR/console
	cell create --bundle "$VMB" v8 >"$out" 2>&1
	cell state v8 | jq -e --arg k "$k" --arg i "$INITRD" '.status == "created" and .vm.vcpus == 2
		and .vm.memoryBytes == 268435456 and .vm.twoLevelPaging == "yes" and .vm.hugepages == false
		and .vm.kernel == $k and .vm.initrd == $i'
	events_attach v8 "$BATS_TEST_TMPDIR/events"
	cell start v8
	wait_line "$out" "CELL-VM poked port 1792" 90
	wait_line "$out" "CELL-VM reboot" 30
	wait_stopped v8 30
	timeout 20 tail --pid="$EV" -f /dev/null
	cat "$BATS_TEST_TMPDIR/events"
	jq -se 'any(.type == "vm-unhandled-io" and .id == "v8" and .data.space == "pio" and .data.addr == "0x700"
		and .data.write == true and .data.len == 1)' "$BATS_TEST_TMPDIR/events"
	jq -se 'any(.type == "vm-triple-fault" and .id == "v8" and (.data.rip | startswith("0x")))' "$BATS_TEST_TMPDIR/events"
	cell delete v8
	assert_clean
}

@test "vm: one scheduling layer: cpu.weight 100 (container) and 400 (microVM) on one CPU split about 1:4" {
	# the guest boots alone on CPU 0, then the container joins it there:
	# a nested boot on a contended CPU is what TCG's nested SVM handles
	# worst (tests/lab/README.md, "Known problem")
	vm_bundle "$LAB_VMLINUX" cell.mode=busy
	[ -n "$LAB_VMLINUX" ] || vm_bundle "$LAB_BZIMAGE" cell.mode=busy
	vmcfg 'del(.annotations) | .linux.resources = {"cpu": {"cpus": "0"}, "unified": {"cpu.weight": "400"}}'
	out=$BATS_TEST_TMPDIR/console
	cell run -d --bundle "$VMB" hi >"$out" 2>&1
	wait_line "$out" "CELL-VM busy" 150
	args sh -c 'while :; do :; done'
	cfg '.linux.resources = {"cpu": {"cpus": "0"}, "unified": {"cpu.weight": "100"}}'
	cell run -d --bundle "$BUNDLE" lo
	sleep 1
	a0=$(cpu_ns "$(cgpath lo)") b0=$(cpu_ns "$(cgpath hi)")
	sleep 4
	a1=$(cpu_ns "$(cgpath lo)") b1=$(cpu_ns "$(cgpath hi)")
	[ "$(cell state lo | jq -r .status)" = running ] && [ "$(cell state hi | jq -r .status)" = running ] ||
		{ tail -20 "$out"; vm_diag; false; }
	ratio=$(((b1 - b0) * 100 / (a1 - a0)))
	echo "microVM/container = $ratio/100"
	[ "$ratio" -ge 280 ] && [ "$ratio" -le 560 ]
}
