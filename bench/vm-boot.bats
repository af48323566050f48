#!/usr/bin/env bats
# Runs bench/vm-boot.sh inside the nested lab; its report comes back as TAP
# comments.
@test "bench: microVM boot, cell against QEMU" {
	# progress also to the lab's results share, where the host can follow it
	progress=/dev/null
	[ -d /run/cell-lab ] && progress=/run/cell-lab/vm-boot.progress
	bash "$BATS_TEST_DIRNAME/vm-boot.sh" "${CELL_BENCH_RUNS:-5}" 2>&1 | tee -a "$progress" | sed 's/^/# /' >&3
}
