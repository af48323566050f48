#!/usr/bin/env bats
# Checks that the lab provides what the project's tests rely on.  Run it with
#   tests/lab/run.sh tests/lab/selftest.bats
# Outside the lab these tests fail on purpose (on a host without /dev/kvm or
# with cgroup v1): each one guards a promise the lab makes.  They change
# nothing on a host they are run on by mistake.

@test "/dev/kvm exists and KVM_GET_API_VERSION is 12" {
	[ -c /dev/kvm ]
	if [ -x /usr/bin/python3 ]; then
		run /usr/bin/python3 -c 'import fcntl; print(fcntl.ioctl(open("/dev/kvm", "rb"), 0xAE00))'
		[ "$status" -eq 0 ]
		[ "$output" = 12 ]
	fi
	[ -n "${CELL_LAB_KVMCHECK:-}" ] || skip "not in the lab: no kvmcheck"
	run "$CELL_LAB_KVMCHECK" api
	[ "$status" -eq 0 ]
	[ "$output" = 12 ]
}

@test "a trivial KVM guest runs to hlt" {
	[ -n "${CELL_LAB_KVMCHECK:-}" ] || skip "not in the lab: no kvmcheck"
	run "$CELL_LAB_KVMCHECK" run
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"then hlt"* ]]
}

@test "kvm_amd uses nested paging (npt)" {
	run cat /sys/module/kvm_amd/parameters/npt
	[ "$status" -eq 0 ]
	[[ $output == Y || $output == 1 ]]
}

@test "/sys/fs/cgroup is a pure cgroup2 hierarchy" {
	run stat -f -c %T /sys/fs/cgroup
	[ "$output" = cgroup2fs ]
	# No cgroup v1 hierarchy may be mounted anywhere.
	run awk '$3 == "cgroup" { print $2 }' /proc/mounts
	[ -z "$output" ]
}

@test "the root cgroup delegates cpu, memory and pids" {
	local ctl
	ctl=$(cat /sys/fs/cgroup/cgroup.subtree_control)
	echo "subtree_control: $ctl"
	for c in cpu memory pids; do
		[[ " $ctl " == *" $c "* ]]
	done
}

@test "a child cgroup enforces pids.max" {
	# Never touch a host's v1 hierarchy: this test is only meaningful on v2.
	[ "$(stat -f -c %T /sys/fs/cgroup)" = cgroup2fs ]
	local cg=/sys/fs/cgroup/cell-lab-selftest.$$
	mkdir "$cg"
	echo 1 >"$cg/pids.max"
	# The shell takes the only pid slot, so its fork must fail.  busybox sh,
	# because bash retries a failed fork with back-off for about 15 s.
	run busybox sh -c "echo \$\$ > $cg/cgroup.procs && /bin/true; echo forked"
	local events
	events=$(cat "$cg/pids.events")
	rmdir "$cg"
	echo "$output"
	[[ $output == *"can't fork"* ]]
	[[ $events == "max "[1-9]* ]]
}

@test "the host's root is visible and writable through the overlay" {
	# Outside the lab this would write into the host's /usr.
	[ "${CELL_LAB_GUEST:-}" = 1 ]
	[ -x "$BATS_TEST_DIRNAME/run.sh" ]
	echo lab >/usr/cell-lab-write-test
	[ "$(cat /usr/cell-lab-write-test)" = lab ]
	rm /usr/cell-lab-write-test
}

@test "host environment variables reach the lab" {
	[ "${CELL_LAB_GUEST:-}" = 1 ]
	[ -n "${CELL_LAB_HOST_KERNEL:-}" ]
	[ "$(uname -r)" = "$CELL_LAB_KERNEL_VERSION" ]
}
