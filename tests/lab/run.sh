#!/usr/bin/env bash
# Runs BATS files inside the nested test lab (see README.md) and prints their
# TAP stream on stdout.
#
#   tests/lab/run.sh FILE.bats [FILE.bats ...]
#
# Exit status: bats' own inside the lab (non-zero if a test failed), 1 if the
# lab broke (boot failure, timeout), 2 on bad usage.  If the lab cannot run at
# all here (setup failed: no qemu, no kernel, no mirror) it prints the TAP plan
# `1..0 # SKIP <reason>` and exits 0.  Diagnostics go to stderr.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${CELL_LAB_CACHE:-/var/cache/cell-lab}
TIMEOUT=${CELL_LAB_TIMEOUT:-1200}
MEM=${CELL_LAB_MEM:-4096}
# One host thread for each vCPU (multi) or one for both (single).
TCG_THREAD=${CELL_LAB_TCG_THREAD:-multi}
# seconds without a new line on the result channel after which the lab
# counts as hung (QEMU's TCG livelock, README): 0 waits for TIMEOUT only
STALL=${CELL_LAB_STALL:-600}
case $TCG_THREAD in
single | multi) ;;
*) echo "cell-lab: CELL_LAB_TCG_THREAD must be single or multi" >&2; exit 2 ;;
esac
# pvh boots the extracted ELF vmlinux (faster under TCG), bzimage the packaged
# vmlinuz; auto takes pvh when setup.sh could extract it.
BOOT=${CELL_LAB_BOOT:-auto}

log() { printf 'cell-lab: %s\n' "$*" >&2; }
skip() {
	log "skipped: $*"
	echo "1..0 # SKIP cell-lab: $*"
	exit 0
}
now() { echo "${EPOCHREALTIME/,/.}"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

[ $# -gt 0 ] || { echo "usage: $0 FILE.bats [FILE.bats ...]" >&2; exit 2; }
# The project's checkout. Where it lies under a path the guest mounts afresh
# (a CI clone in /tmp, say), it gets a 9p share of its own at the same path.
CHECKOUT=$(realpath "$LAB_DIR/../..")
case $CHECKOUT in
/tmp/* | /run/*) SHARE_CHECKOUT=1 ;;
*) SHARE_CHECKOUT= ;;
esac
FILES=()
for f in "$@"; do
	[ -f "$f" ] || { log "no such file: $f"; exit 2; }
	# The guest sees the host's / at the same paths, so absolute paths just work,
	# except where the guest mounts its own filesystems.
	f=$(realpath "$f")
	case $f in
	"$CHECKOUT"/*) ;; # shared with the guest below when it is under /tmp or /run
	/tmp/* | /run/* | /dev/* | /proc/* | /sys/*)
		log "$f is not visible inside the lab (the guest has its own /tmp, /run, /dev ...)"
		exit 2
		;;
	esac
	FILES+=("$f")
done
case ${CELL:-} in
"$CHECKOUT"/*) ;;
/tmp/* | /run/* | /dev/shm/*) log "warning: CELL=$CELL is not visible inside the lab" ;;
esac

START=$(now)
[ "$(id -u)" = 0 ] || skip "needs root (qemu's 9p share of / with security_model=none)"

# The whole run, set-up included, stays within $TIMEOUT seconds.  Its last
# line of output becomes the reason given in the SKIP.
SETUP_LOG=$(mktemp)
LAB_ENV=$(mktemp)
if ! CELL_LAB_ENV_FILE=$LAB_ENV timeout "$TIMEOUT" "$LAB_DIR/setup.sh" 2>&1 | tee "$SETUP_LOG" >&2; then
	reason=$(tail -n 1 "$SETUP_LOG" | sed 's/^cell-lab setup: //')
	rm -f "$SETUP_LOG" "$LAB_ENV"
	skip "setup failed: ${reason:-timed out}"
fi
# shellcheck source=/dev/null
. "$LAB_ENV"
rm -f "$SETUP_LOG" "$LAB_ENV"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 is not installed"

case $BOOT in
auto) KERNEL=${LAB_VMLINUX:-$LAB_BZIMAGE} ;;
pvh) KERNEL=$LAB_VMLINUX ;;
bzimage) KERNEL=$LAB_BZIMAGE ;;
*) log "CELL_LAB_BOOT must be auto, pvh or bzimage"; exit 2 ;;
esac
[ -n "$KERNEL" ] || skip "no PVH-bootable vmlinux could be extracted (CELL_LAB_BOOT=pvh)"
BOOT_KIND=bzimage
[ "$KERNEL" = "$LAB_VMLINUX" ] && BOOT_KIND=pvh

# Per-run share (mounted at /run/cell-lab in the guest): configuration, the
# host's environment, stage 2 and the raw result channel.  It lives in the
# cache rather than /tmp because CELL_LAB_CACHE is the one place known to be
# ours and writable.
# Leftovers of runs that were killed outright; no run lasts a day.
find "$CACHE" -maxdepth 1 -name 'run.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null || true
RUNDIR=$(mktemp -d "$CACHE/run.XXXXXX")
QEMU_PID=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
		kill -TERM "$QEMU_PID" 2>/dev/null || true
		wait "$QEMU_PID" 2>/dev/null || true
	fi
	rm -rf "$RUNDIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

NONCE=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
cp "$LAB_DIR/guest.sh" "$RUNDIR/guest.sh"
# Read by stage 1's busybox sh: plain assignments only.  Stage 1 resolves
# paths before switch_root, where an absolute symlink would point into the
# initramfs: hence realpath.
{
	printf 'KERNEL_VERSION=%q\n' "$LAB_KERNEL_VERSION"
	printf 'KERNEL_ROOT=%q\n' "$(realpath "$LAB_KERNEL_ROOT")"
	printf 'CHECKOUT=%q\n' "${SHARE_CHECKOUT:+$CHECKOUT}"
} >"$RUNDIR/stage1.conf"
{
	printf 'NONCE=%q\n' "$NONCE"
	printf 'KERNEL_VERSION=%q\n' "$LAB_KERNEL_VERSION"
	printf 'KVMCHECK=%q\n' "$LAB_KVMCHECK"
	printf 'WORKDIR=%q\n' "$PWD"
	printf 'FILES=(%s)\n' "$(printf '%q ' "${FILES[@]}")"
	# Extra bats options, e.g. CELL_LAB_BATS_ARGS="--timing --filter kvm".
	read -r -a bats_args <<<"${CELL_LAB_BATS_ARGS:-}"
	printf 'BATS_ARGS=('
	[ ${#bats_args[@]} -eq 0 ] || printf '%q ' "${bats_args[@]}"
	printf ')\n'
} >"$RUNDIR/config"

# Variables bats sets for itself (run.sh may be started from inside a host-side
# bats test); passing them in would confuse the bats that runs in the lab.
bats_internal() {
	case $1 in
	BATS_LIB_PATH | BATS_TEST_TIMEOUT | BATS_TEST_RETRIES | BATS_FILE_EXTENSION) return 1 ;;
	BATS_NO_PARALLELIZE_* | BATS_NUMBER_OF_PARALLEL_JOBS | BATS_PARALLEL_BINARY_NAME) return 1 ;;
	BATS_TEST_* | BATS_SUITE_* | BATS_FILE_* | BATS_RUN_* | BATS_DEBUG_* | BATS_LAST_*) return 0 ;;
	BATS_SETUP_* | BATS_TEARDOWN_* | BATS_SOURCE_* | BATS_ERROR_* | BATS_FORMATTER*) return 0 ;;
	BATS_SEMAPHORE_* | BATS_WARNING_* | BATS_RUNLOG_* | BATS_REPORT_* | BATS_VALID_*) return 0 ;;
	BATS_*TMP* | BATS_*CODE_QUOTE* | BATS_COMMENT_* | BATS_GATHER_* | BATS_ROOT*) return 0 ;;
	BATS_LIBEXEC | BATS_CWD | BATS_VERSION | BATS_OUT | BATS_PATH | BATS_INTERRUPTED) return 0 ;;
	BATS_TIMED_OUT | BATS_TRACE_LEVEL | BATS_ENABLE_TIMING | BATS_EXTENDED_SYNTAX) return 0 ;;
	BATS_PRINT_OUTPUT_ON_FAILURE | BATS_SHOW_OUTPUT_OF_SUCCEEDING_TESTS | BATS_VERBOSE_RUN) return 0 ;;
	BATS_GUARANTEED_MINIMUM_VERSION | BATS_RETRY_RETURN_CODE | BATS_PREVIOUS_RUNLOG_FILE) return 0 ;;
	BATS_STACK_TRACE_PREFIX | BATS_UNIQUE_TEST_FILENAMES | BATS_PREFIX) return 0 ;;
	esac
	return 1
}
{
	for name in $(compgen -e); do
		case $name in
		CELL | CELL_* | PATH | HOME | USER | LANG | LC_* | TZ) ;;
		BATS_*) bats_internal "$name" && continue ;;
		*) continue ;;
		esac
		printf 'export %s=%q\n' "$name" "${!name}"
	done
	# Lets a test see that the host's variables did arrive.
	printf 'export CELL_LAB_HOST_KERNEL=%q\n' "$(uname -r)"
} >"$RUNDIR/env"

# Reads the result channel: TAP between the markers goes to stdout, anything
# else bats printed goes to stderr, and markers are recorded in $STATUS.
filter() {
	local line state=boot
	while IFS= read -r line; do
		line=${line%$'\r'}
		case $state:$line in
		boot:"CELL-LAB-STAGE1")
			echo "STAGE1" >>"$STATUS"
			;;
		boot:"CELL-LAB-BEGIN $NONCE")
			state=tests
			echo "BEGIN $(now)" >>"$STATUS"
			;;
		*:"CELL-LAB-ERROR "*)
			echo "ERROR ${line#CELL-LAB-ERROR }" >>"$STATUS"
			;;
		tests:"CELL-LAB-EXIT "*" $NONCE")
			state=finished
			line=${line#CELL-LAB-EXIT }
			echo "EXIT ${line%% *} $(now)" >>"$STATUS"
			;;
		tests:ok* | tests:"not ok"* | tests:[0-9]*..[0-9]* | tests:"#"* | tests:"Bail out!"*)
			printf '%s\n' "$line"
			case $line in
			[0-9]*..[0-9]*) echo "PLAN ${line#*..}" >>"$STATUS" ;;
			ok* | "not ok"*) echo "RESULT $(now)" >>"$STATUS" ;;
			esac
			;;
		tests:*) printf 'cell-lab guest: %s\n' "$line" >&2 ;;
		esac
	done
}

# stall_watch: while qemu ($QEMU_PID) runs, stop it when the result channel
# has been silent for STALL seconds; first ask its monitor where the
# emulated CPUs are, for tests/lab/README.md's known problem.
stall_watch() {
	local age
	while kill -0 "$QEMU_PID" 2>/dev/null; do
		sleep 5
		age=$(($(date +%s) - $(stat -c %Y "$RESULTS")))
		[ "$age" -ge "$STALL" ] || continue
		echo "$age" >"$RUNDIR/stalled"
		{
			echo "info cpus"
			sleep 1
			echo "info registers -a"
			sleep 2
		} | timeout 10 socat - "UNIX-CONNECT:$RUNDIR/monitor.sock" >"$RUNDIR/stall-registers.txt" 2>&1
		kill "$QEMU_PID" 2>/dev/null
		return 0
	done
}

# Boots the lab once with the kernel image $1 and follows the result channel
# until qemu has exited; sets QEMU_START, QEMU_RC and END.
boot_lab() {
	local kernel=$1 remaining
	: >"$RESULTS"
	: >"$STATUS"
	[ "$CONSOLE" = /dev/stderr ] || : >"$CONSOLE"
	# shellcheck disable=SC2054 # commas separate qemu sub-options
	local qemu=(
		qemu-system-x86_64
		-nodefaults -no-user-config -display none -vga none -nic none
		# TCG: the host has no /dev/kvm.  svm+npt make the emulated CPU offer
		# AMD-V with nested paging, which kvm_amd inside the lab needs.
		-accel "tcg,thread=$TCG_THREAD" -cpu qemu64,+svm,+npt -smp 2 -m "$MEM"
		-machine q35
		-kernel "$kernel" -initrd "$LAB_INITRAMFS"
		-append "$APPEND panic=1 rw"
		# A kernel panic (e.g. stage 2 died) ends qemu at once.
		-no-reboot
		# The kernel console, kept for diagnostics; append=on so that, as the
		# caller's stderr, it is not truncated.
		-chardev "file,id=console,path=$CONSOLE,append=on" -serial chardev:console
		# the human monitor, for a look at a lab that stopped (README)
		-monitor "unix:$RUNDIR/monitor.sock,server=on,wait=off"
		-virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
		-virtfs "local,path=$RUNDIR,mount_tag=cellrun,security_model=none,multidevs=remap"
	)
	if [ -n "$SHARE_CHECKOUT" ]; then
		qemu+=(-virtfs "local,path=$CHECKOUT,mount_tag=checkout,security_model=none,readonly=on,multidevs=remap")
	fi
	remaining=$(awk -v s="$START" -v n="$(now)" -v t="$TIMEOUT" \
		'BEGIN { r = int(t - (n - s)); print (r > 10 ? r : 10) }')
	log "booting kernel $LAB_KERNEL_VERSION ($BOOT_KIND), ${MEM} MiB, timeout ${remaining} s"
	QEMU_START=$(now)
	# timeout signals only its child, the qemu started here; -k escalates to KILL.
	timeout -k 10 "$remaining" "${qemu[@]}" </dev/null >&2 &
	QEMU_PID=$!
	local watch=
	if [ "$STALL" -gt 0 ]; then
		stall_watch &
		watch=$!
	fi
	# tail ends by itself once qemu has exited and the last lines are read.  In
	# the background so that `wait` lets a signal to run.sh through at once.
	tail -n +1 -s 0.1 --pid="$QEMU_PID" -f "$RESULTS" | filter &
	wait $!
	QEMU_RC=0
	wait "$QEMU_PID" || QEMU_RC=$?
	[ -z "$watch" ] || kill "$watch" 2>/dev/null || true
	QEMU_PID=
	END=$(now)
}

CONSOLE=$RUNDIR/console.log
RESULTS=$RUNDIR/results.log
STATUS=$RUNDIR/status
if [ "${CELL_LAB_VERBOSE:-0}" = 1 ]; then
	CONSOLE=/dev/stderr
	APPEND="console=ttyS0 loglevel=6"
else
	# errors and worse only: a lab kernel that panics says why
	APPEND="console=ttyS0 quiet loglevel=4"
fi

boot_lab "$KERNEL"
if [ "$BOOT" = auto ] && [ "$BOOT_KIND" = pvh ] && ! grep -q '^STAGE1' "$STATUS" &&
	[ "$QEMU_RC" != 124 ] && [ "$QEMU_RC" != 137 ] && [ ! -s "$RUNDIR/stalled" ]; then
	log "the PVH boot did not reach stage 1; trying the bzImage"
	BOOT_KIND=bzimage
	boot_lab "$LAB_BZIMAGE"
	# Only the kernel entry differed: remember it, setup.sh then stops offering
	# the vmlinux.
	grep -q '^STAGE1' "$STATUS" && touch "$LAB_VMLINUX.broken"
fi

begin=$(awk '$1 == "BEGIN" { print $2 }' "$STATUS")
exit_rc=$(awk '$1 == "EXIT" { print $2 }' "$STATUS")
finish=$(awk '$1 == "EXIT" { print $3 }' "$STATUS")
error=$(sed -n 's/^ERROR //p' "$STATUS" | head -n 1)
plan=$(awk '$1 == "PLAN" { print $2 }' "$STATUS")
results=$(grep -c '^RESULT' "$STATUS" || true)
first=$(awk '$1 == "RESULT" { print $2; exit }' "$STATUS")

[ -n "$begin" ] && log "boot: $(elapsed "$QEMU_START" "$begin") s to bats ($BOOT_KIND)${first:+, $(elapsed "$QEMU_START" "$first") s to the first result}"
[ -n "$finish" ] && log "bats: $(elapsed "$begin" "$finish") s, power-off: $(elapsed "$finish" "$END") s"
log "total: $(elapsed "$START" "$END") s"

if [ -n "$exit_rc" ]; then
	[ "$exit_rc" = 0 ] && exit 0
	log "bats exited with status $exit_rc"
	# bats that failed before any test (a syntax error in a file, say) would
	# otherwise leave nothing for a harness that counts TAP lines.
	if [ "$results" = 0 ]; then
		[ -n "$plan" ] || echo "1..1"
		echo "not ok 1 cell-lab: bats exited with status $exit_rc before reporting any test"
	fi
	exit "$exit_rc"
fi

# No exit marker: the lab itself broke.  Say why, and add a failing TAP line so
# a harness that only counts results still sees the failure.
if [ -n "$error" ]; then
	reason=$error
elif [ -s "$RUNDIR/stalled" ]; then
	reason="timed out: no result for $(cat "$RUNDIR/stalled") s, the lab stalled (its CPUs: $RUNDIR/stall-registers.txt)"
elif [ "$QEMU_RC" = 124 ] || [ "$QEMU_RC" = 137 ]; then
	reason="timed out after ${TIMEOUT} s"
elif [ -z "$begin" ]; then
	reason="the lab did not boot (qemu exit status $QEMU_RC)"
else
	reason="the lab stopped before bats finished (qemu exit status $QEMU_RC)"
fi
log "lab broke: $reason"
if [ "$CONSOLE" != /dev/stderr ] && [ -s "$CONSOLE" ]; then
	log "last lines of the guest console:"
	tail -n 40 "$CONSOLE" | tr -d '\r' | sed 's/^/cell-lab console: /' >&2
fi
if [ -s "$RUNDIR/stall-registers.txt" ]; then
	log "where the lab's CPUs were:"
	grep -aE 'CPU #|thread_id|RIP=|CR0=|EFER=' "$RUNDIR/stall-registers.txt" | tr -d '\r' |
		sed 's/^/cell-lab cpus: /' >&2
fi
[ -n "$plan" ] || echo "1..$((results + 1))"
echo "not ok $((results + 1)) cell-lab: $reason"
exit 1
