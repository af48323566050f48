#!/usr/bin/env bats
# Runs bench/vm-boot.sh inside the nested lab; its report comes back as TAP
# comments.
@test "bench: microVM boot, cell against QEMU" {
	bash "$BATS_TEST_DIRNAME/vm-boot.sh" "${CELL_BENCH_RUNS:-5}" 2>&1 | sed 's/^/# /' >&3
}
