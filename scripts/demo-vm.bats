#!/usr/bin/env bats
# scripts/demo-vm.sh inside the nested lab; its output comes back as TAP comments.
@test "demo: a microVM" {
	bash "$BATS_TEST_DIRNAME/demo-vm.sh" 2>&1 | sed 's/^/# /' >&3
}
