#!/bin/bash
# Stage 2 of the lab guest: PID 1, the host's own bash on the overlay of the
# host's root, after stage 1 (init.sh) has set the system up.  run.sh copies
# this file into the per-run share, mounted at /run/cell-lab.  It runs the
# requested BATS files with the host's variables, streams their TAP to the
# host between marker lines, and powers off.
#
# No `set -e`: PID 1 must not exit early (the kernel would panic).

RUN=/run/cell-lab
# The result channel: a file in the per-run share (cache=none, so every line is
# written through to the host at once, where run.sh follows it).
OUT=$RUN/results.log
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# shellcheck source=/dev/null
. "$RUN/config" # NONCE, KERNEL_VERSION, KVMCHECK, WORKDIR, BATS_ARGS, FILES
# The host's variables (CELL, CELL_*, user BATS_* ...), then the lab's own.
# shellcheck source=/dev/null
. "$RUN/env"
export CELL_LAB_GUEST=1 CELL_LAB_KERNEL_VERSION="$KERNEL_VERSION" CELL_LAB_KVMCHECK="$KVMCHECK"
cd "$WORKDIR" 2>/dev/null || cd /

emit() { printf '%s\n' "$*" >>"$OUT"; }

echo "cell-lab: stage 2 at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console
emit "CELL-LAB-BEGIN $NONCE"
# bats' own stderr shares the channel; run.sh sends lines that are not TAP to
# its stderr.
bats --tap "${BATS_ARGS[@]}" "${FILES[@]}" >>"$OUT" 2>&1 </dev/null
emit "CELL-LAB-EXIT $? $NONCE"

sync
busybox poweroff -f
echo o >/proc/sysrq-trigger
sleep 60
