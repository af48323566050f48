#!/bin/bash
# The microVM part of the demo: Debian's own kernel (from tests/lab's cache)
# and a busybox initramfs booted by cell's VMM, as a guest of the runtime.
# Needs /dev/kvm; scripts/demo.sh runs it inside the nested lab otherwise.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cell=${CELL:-$repo/build/cell}
# shellcheck disable=SC1091
. "${CELL_LAB_CACHE:-/var/cache/cell-lab}/lab.env"
work=$(mktemp -d)
root=$work/state
cleanup() {
	for id in $("$cell" --root "$root" list -q 2>/dev/null); do "$cell" --root "$root" delete --force "$id"; done
	rm -rf "$work"
}
trap cleanup EXIT
"$repo/tests/lab/mkinitrd.sh" "$work/initrd.cpio" >/dev/null 2>&1
mkdir -p "$work/vm"
jq -n --arg k "${LAB_VMLINUX:-$LAB_BZIMAGE}" --arg i "$work/initrd.cpio" \
	'{ociVersion: "1.1.0",
	  vm: {kernel: {path: $k, initrd: $i, parameters: ["console=ttyS0", "quiet", "panic=-1", "cell.status=42"]}},
	  annotations: {"cell.vm.vcpus": "2"},
	  linux: {resources: {memory: {limit: 268435456}}}}' >"$work/vm/config.json"
echo "\$ cat config.json"
cat "$work/vm/config.json"
echo "\$ cell run --bundle vm demo-vm    # 2 vCPUs; 256 MiB limit = guest RAM + the VMM"
set +e
"$cell" --root "$root" run --bundle "$work/vm" demo-vm
echo "cell run exited with $? (the status the guest's init wrote to the exit port)"
