#!/bin/bash
# Install every Debian package cell's build, tests, demo and benchmarks use.
# Idempotent and quick when all is present: apt-get runs only for what is missing.
set -euo pipefail
pkgs=(
	build-essential pkg-config clang llvm
	libjansson-dev libseccomp-dev libcap-dev libnl-3-dev libnl-route-3-dev
	libcgroup-dev libarchive-dev libssl-dev libcurl4-openssl-dev zstd
	libcmocka-dev bats jq busybox-static iproute2 procps time
	runc podman conmon containerd
	skopeo umoci docker-registry socat attr
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0
if [[ $(id -u) != 0 ]]; then
	echo "setup: missing packages ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
for try in 1 2 3; do
	apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null && exit 0
	echo "setup: apt-get failed (try $try), retrying" >&2
	sleep 5
done
exit 1
