#!/bin/bash
# The README's demo: install what is missing, build cell, make a busybox
# bundle from Debian's busybox-static, and run containers from it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
make -j2 >/dev/null
cell=$PWD/build/cell
work=$(mktemp -d /tmp/cell-demo.XXXXXX)
root=$work/state
cleanup() {
	for id in $("$cell" --root "$root" list -q 2>/dev/null); do "$cell" --root "$root" delete --force "$id"; done
	rm -rf "$work"
}
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

say "a busybox bundle made from Debian's busybox-static"
scripts/mkbundle.sh "$work/bundle" sh -c '
echo "hello from $(hostname), I am pid $$ as $(id -un)"
echo "my root:" $(ls /)
echo "my mounts:" $(cut -d" " -f2 /proc/self/mounts | head -8)
echo "processes I can see:" $(ps -o pid= | wc -l)
echo "masked /proc/timer_list reads $(wc -c </proc/timer_list) bytes"
echo 1 2>&1 >/proc/sys/vm/drop_caches | sed "s/^/writing \/proc\/sys: /"'
jq '.hostname = "demo"' "$work/bundle/config.json" >"$work/c" && mv "$work/c" "$work/bundle/config.json"
show "$cell" --version

say "cell run: create, start, wait, delete"
show "$cell" --root "$root" run --bundle "$work/bundle" demo1

say "the lifecycle step by step"
jq '.process.args = ["sh", "-c", "sleep 1000 & sleep 1001"]' "$work/bundle/config.json" >"$work/c" && mv "$work/c" "$work/bundle/config.json"
show "$cell" --root "$root" create --bundle "$work/bundle" demo2
show "$cell" --root "$root" state demo2
show "$cell" --root "$root" start demo2
show "$cell" --root "$root" list
show "$cell" --root "$root" ps demo2
show "$cell" --root "$root" kill --all demo2 KILL
sleep 0.3
show "$cell" --root "$root" list
show "$cell" --root "$root" delete demo2

say "the exit status comes through"
jq '.process.args = ["sh", "-c", "exit 3"]' "$work/bundle/config.json" >"$work/c" && mv "$work/c" "$work/bundle/config.json"
set +e
"$cell" --root "$root" run --bundle "$work/bundle" demo3
echo "cell run exited with $?"
set -e
say "a microVM: Debian's kernel booted by cell's own VMM, same CLI"
if [[ -c /dev/kvm ]]; then
	bash tests/lab/setup.sh >/dev/null
	CELL=$cell bash scripts/demo-vm.sh
else
	echo "(no /dev/kvm here: running it inside the nested lab, where KVM is real; about a minute under TCG)"
	CELL=$cell tests/lab/run.sh scripts/demo-vm.bats | sed -n 's/^# //p'
fi
