#!/usr/bin/env bats
# Bad input: one clear error line naming the file, field or object, a
# non-zero exit, and nothing left behind.

load helpers

@test "a missing bundle" {
	run cell create --bundle "$BATS_TEST_TMPDIR/nope" c1
	assert_one_error create "bundle $BATS_TEST_TMPDIR/nope: No such file or directory"
	assert_clean
}

@test "a bundle without config.json" {
	mkdir -p "$BATS_TEST_TMPDIR/empty"
	run cell create --bundle "$BATS_TEST_TMPDIR/empty" c1
	assert_one_error create "config.json: No such file or directory"
	assert_clean
}

@test "config.json that is not JSON names line and column" {
	printf '{\n  "ociVersion": "1.2.0",\n  "root": { "path": "rootfs" ,, }\n}\n' >"$BUNDLE/config.json"
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "config.json: line 3 column"
	assert_clean
}

@test "a wrong type names the field" {
	cfg '.linux.resources = {"memory": {"limit": "lots"}}'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "config.json: linux.resources.memory.limit: expected integer"
	cfg '.linux.resources = {} | .process.args = "sh"'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run "config.json: process.args: expected array"
	cfg '.process.args = ["sh"] | .mounts[1].destination = null'
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run "config.json: mounts[1].destination: required field missing"
	assert_clean
}

@test "an unknown namespace type" {
	cfg '.linux.namespaces += [{"type": "bogus"}]'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create 'config.json: linux.namespaces[6].type: unknown namespace type "bogus"'
	assert_clean
}

@test "a namespace path that does not exist" {
	cfg '.linux.namespaces |= map(if .type == "network" then .path = "/proc/999999999/ns/net" else . end)'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create 'linux.namespaces: network namespace /proc/999999999/ns/net: No such file or directory'
	assert_clean
}

@test "a missing rootfs" {
	cfg '.root.path = "nowhere"'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "config.json: root.path: $BUNDLE/nowhere: No such file or directory"
	assert_clean
}

@test "a program that is not in the rootfs" {
	args no-such-program
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'exec "no-such-program": executable file not found in $PATH'
	args /bin/nope
	run cell run --bundle "$BUNDLE" c1
	assert_one_error run 'exec /bin/nope: No such file or directory'
	assert_clean
}

@test "a mount that cannot be made fails create and leaves nothing" {
	cfg '.mounts += [{"destination":"/x","type":"nosuchfs","source":"none"}]'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create 'mounts[7]: mount none (nosuchfs) on /x: No such device'
	assert_clean
}

@test "an id that exists already" {
	cell create --bundle "$BUNDLE" c1 >/dev/null
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "container c1 already exists"
	[ "$(status_of c1)" = created ]
	cell delete c1
	assert_clean
}

@test "ids with bad characters" {
	for id in 'a/b' 'a b' '..' '' 'x;y' "$(printf 'a%.0s' $(seq 300))"; do
		run cell create --bundle "$BUNDLE" "$id"
		assert_one_error create "container id"
	done
	assert_clean
}

@test "commands in the wrong state" {
	args sleep 100
	cell run -d --bundle "$BUNDLE" c1
	run cell start c1
	assert_one_error start "container c1 is running: only a created container can be started"
	run cell delete c1
	assert_one_error delete "container c1 is running: stop it first or use delete --force"
	cell kill c1 KILL
	for i in $(seq 50); do [ "$(status_of c1)" = stopped ] && break; sleep 0.1; done
	run cell kill c1 TERM
	assert_one_error kill "container c1 is not running"
	run cell start c1
	assert_one_error start "container c1 is stopped"
	cell delete c1
	for c in start state kill delete ps; do
		run cell $c nosuch
		assert_one_error $c "container nosuch does not exist"
	done
	assert_clean
}

@test "a terminal without a console socket" {
	cfg '.process.terminal = true'
	run cell create --bundle "$BUNDLE" c1
	assert_one_error create "process.terminal is true: --console-socket is required"
	run cell run -d --bundle "$BUNDLE" c1
	assert_one_error run "--detach needs --console-socket"
	assert_clean
}

@test "usage errors name the command" {
	run cell create
	[ "$status" -eq 2 ]
	[[ "$output" == "cell: create: expects exactly one container ID"* ]]
	run cell kill
	[ "$status" -eq 2 ]
	run cell --log-format xml list
	[ "$status" -ne 0 ]
	[[ "$output" == *'--log-format: unknown format "xml"'* ]]
	run cell --systemd-cgroup list
	[ "$status" -ne 0 ]
	[[ "$output" == *"--systemd-cgroup is not supported"* ]]
}

# microVM bundles: what can be checked without KVM (the lab boots them)
vm_cfg() {
	echo kernel >"$BUNDLE/vmlinuz"
	jq -n '{ociVersion: "1.1.0", vm: {kernel: {path: "vmlinuz", parameters: ["console=ttyS0"]}}}' |
		jq "$@" >"$BUNDLE/config.json"
}

@test "microVM bundles: bad sizes, hypervisor and image are one error naming the field" {
	vm_cfg '.annotations."cell.vm.vcpus" = "65"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create 'config.json: annotations: cell.vm.vcpus: "65": expected 1..64'
	vm_cfg '.annotations."cell.vm.memory" = "lots"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create 'annotations: cell.vm.memory: "lots": expected a size such as 256M'
	vm_cfg '.annotations."cell.vm.memory" = "255M"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create 'cell.vm.memory: "255M": not a multiple of 2 MiB'
	vm_cfg '.linux.resources.memory.limit = 33554432'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create "linux.resources.memory.limit: 33554432 leaves less than 16 MiB of guest RAM"
	vm_cfg '.annotations."cell.vm.memory" = "256M" | .linux.resources.memory.limit = 268435456'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create "exceed linux.resources.memory.limit"
	vm_cfg '.linux.resources.cpu.cpus = "0-"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create 'linux.resources.cpu.cpus: "0-": not a CPU list'
	vm_cfg '.annotations."cell.vm.hugepages" = "yes"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create 'config.json: annotations: cell.vm.hugepages: "yes": expected true or false'
	vm_cfg '.annotations."cell.vm.unpack-kernel" = "1"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create 'config.json: annotations: cell.vm.unpack-kernel: "1": expected true or false'
	vm_cfg '.vm.hypervisor.path = "/usr/bin/qemu"'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create "vm.hypervisor: cell is the hypervisor"
	vm_cfg '.vm.image = {path: "disk.img", format: "raw"}'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create "vm.image: disk images need virtio-blk"
	vm_cfg 'del(.vm.kernel.path)'
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create "vm.kernel.path"
	assert_clean
}

@test "microVM bundles: without /dev/kvm, create says so and leaves nothing" {
	[ ! -e /dev/kvm ] || skip "this host has /dev/kvm (the lab covers it)"
	vm_cfg .
	run cell create --bundle "$BUNDLE" v1
	assert_one_error create "vm: /dev/kvm: KVM is not available on this host"
	run cell run --bundle "$BUNDLE" v1
	assert_one_error run "/dev/kvm"
	assert_clean
}
