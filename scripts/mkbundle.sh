#!/bin/bash
# Make an OCI bundle DIR with a busybox rootfs from Debian's busybox-static
# and cell's default config.json, changed for non-interactive use.
# usage: scripts/mkbundle.sh DIR [ARGS...]   (ARGS: the process, default: sh)
set -euo pipefail
dir=${1:?usage: mkbundle.sh DIR [ARGS...]}
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cell=${CELL:-$here/build/cell}
busybox=${BUSYBOX:-/bin/busybox}
[[ -x $busybox ]] || { echo "mkbundle: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }

mkdir -p "$dir/rootfs"/{bin,etc,root,tmp,proc,sys,dev}
chmod 1777 "$dir/rootfs/tmp"
cp "$busybox" "$dir/rootfs/bin/busybox"
for applet in $("$busybox" --list); do
	[[ $applet == busybox ]] || ln -sfn busybox "$dir/rootfs/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$dir/rootfs/etc/passwd"
printf 'root:x:0:\ntty:x:5:\nnogroup:x:65534:\n' >"$dir/rootfs/etc/group"
rm -f "$dir/config.json"
"$cell" spec --bundle "$dir"
args='["sh"]'
if (($#)); then
	# one --arg per word: jq 1.6 reads options after --args and drops NULs
	args='[]'
	for a in "$@"; do args=$(jq -c --arg a "$a" '. + [$a]' <<<"$args"); done
fi
jq --argjson a "$args" '.process.terminal = false | .process.args = $a | .root.readonly = false' \
	"$dir/config.json" >"$dir/config.json.new"
mv "$dir/config.json.new" "$dir/config.json"
