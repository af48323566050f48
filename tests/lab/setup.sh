#!/usr/bin/env bash
# Prepares the nested test lab (see README.md): host packages, Debian's own
# kernel unpacked into a cache, an extracted PVH-bootable vmlinux, the stage-1
# initramfs and the small KVM probe.  Idempotent; a re-run with a warm cache
# only checks and returns within seconds.  Prints progress on stderr and, as
# its result, writes $CELL_LAB_CACHE/lab.env (and $CELL_LAB_ENV_FILE if set)
# for run.sh to source.
set -euo pipefail

LAB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${CELL_LAB_CACHE:-/var/cache/cell-lab}

log() { printf 'cell-lab setup: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get; qemu's 9p share of / needs root)"

# Host tools the lab uses.  gcc/libc6-dev build the KVM probe; kmod gives depmod
# here and modprobe inside the guest (the guest runs the host's userland).
PACKAGES=(qemu-system-x86 busybox-static cpio bats kmod xz-utils gcc libc6-dev)

# Another apt-get may be running on this machine (dpkg lock).  apt waits for the
# dpkg lock itself with DPkg::Lock::Timeout; the lists lock of `apt-get update`
# is not covered, so every apt call is also retried a few times.
APT_OPTS=(-q -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
apt_retry() {
	local i
	for i in 1 2 3 4 5; do
		"$@" && return 0
		log "'$*' failed (attempt $i), retrying in 10 s"
		sleep 10
	done
	return 1
}

APT_UPDATED=0
apt_update() {
	[ "$APT_UPDATED" = 1 ] && return 0
	log "apt-get update"
	apt_retry apt-get "${APT_OPTS[@]}" update >&2 || die "apt-get update failed (no network to Debian's mirror?)"
	APT_UPDATED=1
}

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

install_missing() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	apt_update
	log "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt_retry apt-get "${APT_OPTS[@]}" install -y \
		--no-install-recommends "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# The kernel package the linux-image-amd64 metapackage currently points at (not
# the running host kernel, which may be anything, e.g. a cloud kernel).
kernel_package() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

# Finds the compressed payload inside a bzImage by its magic bytes and
# decompresses it; the first candidate that yields an ELF file wins.  Debian
# uses xz; the others are here so a config change does not silently lose PVH.
extract_vmlinux() {
	local img=$1 out=$2 magic tool off
	for magic in \
		'\xfd7zXZ\x00:xz -dc --single-stream' \
		'\x1f\x8b\x08:gzip -dc' \
		'\x28\xb5\x2f\xfd:zstd -dcq' \
		'\x5d\x00\x00\x00:xz -dc --format=lzma' \
		'BZh:bzip2 -dc'; do
		tool=${magic#*:}
		command -v "${tool%% *}" >/dev/null || continue
		# shellcheck disable=SC2013 # byte offsets, one word each
		for off in $(LC_ALL=C grep -obUaP "${magic%%:*}" "$img" | cut -d: -f1); do
			# Trailing data after the stream makes some decompressors complain;
			# what counts is whether an ELF image came out.
			tail -c +$((off + 1)) "$img" | $tool >"$out" 2>/dev/null || true
			if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
				return 0
			fi
		done
	done
	rm -f "$out"
	return 1
}

# qemu boots an ELF kernel only through the PVH entry point, which the kernel
# advertises with a Xen ELF note of type XEN_ELFNOTE_PHYS32_ENTRY (18).
has_pvh_note() {
	readelf -nW "$1" 2>/dev/null | grep -Eiq 'Xen .*(PHYS32_ENTRY|0x00000012)'
}

fetch_kernel() {
	local pkg=$1 kver=${1#linux-image-} dir=$CACHE/kernels/$1 tmp
	[ -e "$dir/.complete" ] && return 0
	log "fetching $pkg"
	rm -rf "$CACHE/kernels/.tmp-$pkg"
	tmp=$CACHE/kernels/.tmp-$pkg
	mkdir -p "$tmp"
	# Sandbox::User=root: the cache is root's, apt's _apt user may not write it.
	if ! (cd "$tmp" && apt-get "${APT_OPTS[@]}" -o APT::Sandbox::User=root download "$pkg" >&2); then
		# Stale package lists name a version the mirror no longer has.
		apt_update
		(cd "$tmp" && apt_retry apt-get "${APT_OPTS[@]}" -o APT::Sandbox::User=root download "$pkg" >&2) ||
			{ log "apt-get download $pkg failed"; return 1; }
	fi
	dpkg -x "$tmp"/*.deb "$tmp/root"
	rm -f "$tmp"/*.deb
	[ -d "$tmp/root/lib/modules/$kver" ] || die "$pkg has no lib/modules/$kver"
	# The package ships no modules.dep (its postinst runs depmod); make one so
	# both this script and modprobe inside the lab can resolve dependencies.
	depmod -b "$tmp/root" -F "$tmp/root/boot/System.map-$kver" "$kver"
	if extract_vmlinux "$tmp/root/boot/vmlinuz-$kver" "$tmp/vmlinux" && has_pvh_note "$tmp/vmlinux"; then
		log "extracted a PVH-bootable vmlinux"
	else
		log "no PVH-bootable vmlinux could be extracted; the lab boots the bzImage"
		rm -f "$tmp/vmlinux"
	fi
	touch "$tmp/.complete"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

# Modules stage 1 loads: virtio-pci, 9p over virtio and overlayfs to reach the
# host's root, and KVM.  They ride in the initramfs because insmod from RAM is
# much faster under TCG than modprobe over 9p.
INITRAMFS_MODULES=(virtio_pci 9pnet_virtio 9p overlay kvm_amd)
# nested=1 is already the default on 6.x; stated so a kernel that changes the
# default does not silently lose nested guests.  npt is used whenever the
# (emulated) CPU has it, which selftest.bats checks.
# nx_huge_pages=never: no NX-recovery kernel thread per VM.  Before Linux
# 6.13 that thread sits in the VMM's cgroup, where cgroup v2 can never report
# it frozen, so `cell pause` of a microVM could not complete.
declare -A MODULE_PARAMS=([kvm_amd]="nested=1" [kvm]="nx_huge_pages=never")

# Prints the .ko paths (relative to lib/modules/$kver) of the given modules and
# all their dependencies, dependencies first, from modules.dep.
module_load_order() {
	local moddir=$1
	shift
	declare -A path=() deps=() seen=()
	local line key mod
	while IFS= read -r line; do
		mod=${line%%:*}
		key=${mod##*/}
		key=${key%%.ko*}
		key=${key//-/_}
		path[$key]=$mod
		deps[$key]=${line#*:}
	done <"$moddir/modules.dep"
	visit() {
		local k=${1//-/_} dep dk
		[ -n "${seen[$k]:-}" ] && return 0
		seen[$k]=1
		[ -n "${path[$k]:-}" ] || { log "module $1 not found in $moddir"; return 1; }
		for dep in ${deps[$k]}; do
			dk=${dep##*/}
			visit "${dk%%.ko*}" || return 1
		done
		echo "${path[$k]}"
	}
	for mod in "$@"; do visit "$mod" || return 1; done
}

build_initramfs() {
	local kroot=$1 kver=$2 moddir order hash out stage m key
	moddir=$kroot/lib/modules/$kver
	order=$(module_load_order "$moddir" "${INITRAMFS_MODULES[@]}") || die "cannot resolve initramfs modules"
	# Rebuilt whenever the init script, busybox, the kernel or the module set changes.
	hash=$( {
		sha256sum "$LAB_DIR/init.sh" /bin/busybox
		echo "$kver $order"
		declare -p MODULE_PARAMS
	} | sha256sum | cut -c1-16)
	out=$CACHE/initramfs-$kver-$hash.cpio
	INITRAMFS=$out
	# Touched on use: the clean-up below keeps what any checkout used lately.
	[ -e "$out" ] && { touch "$out"; return 0; }
	log "building $out"
	stage=$(mktemp -d "$CACHE/.initramfs.XXXXXX")
	mkdir -p "$stage"/{bin,dev,proc,sys,lib/modules,newroot}
	cp /bin/busybox "$stage/bin/busybox"
	cp "$LAB_DIR/init.sh" "$stage/init"
	chmod 755 "$stage/init"
	# The kernel opens /dev/console for init before devtmpfs is mounted.
	mknod -m 600 "$stage/dev/console" c 5 1
	: >"$stage/modules.order"
	for m in $order; do
		case $m in
		*.ko) cp "$moddir/$m" "$stage/lib/modules/" ;;
		*.ko.xz) xz -dc "$moddir/$m" >"$stage/lib/modules/$(basename "${m%.xz}")" ;;
		*.ko.zst) zstd -dcq "$moddir/$m" >"$stage/lib/modules/$(basename "${m%.zst}")" ;;
		*) die "unsupported module file $m" ;;
		esac
		m=$(basename "$m")
		m=${m%%.ko*}
		key=${m//-/_}
		echo "$m.ko ${MODULE_PARAMS[$key]:-}" >>"$stage/modules.order"
	done
	# Uncompressed: under TCG, unpacking a compressed initramfs costs more than
	# qemu copying a few extra megabytes.
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$out.tmp"
	mv "$out.tmp" "$out"
	rm -rf "$stage"
	# Builds for other versions of init.sh: another checkout sharing the cache
	# may still boot one, so only those unused for a day go.
	find "$CACHE" -maxdepth 1 -name 'initramfs-*.cpio' ! -path "$out" -mmin +1440 -delete
}

build_kvmcheck() {
	local src=$LAB_DIR/kvmcheck.c hash
	hash=$(sha256sum "$src" | cut -c1-16)
	KVMCHECK=$CACHE/bin/kvmcheck-$hash
	[ -x "$KVMCHECK" ] && return 0
	mkdir -p "$CACHE/bin"
	gcc -O2 -Wall -Wextra -Werror -static -o "$KVMCHECK.tmp" "$src" 2>/dev/null ||
		gcc -O2 -Wall -Wextra -Werror -o "$KVMCHECK.tmp" "$src"
	mv "$KVMCHECK.tmp" "$KVMCHECK"
}

main() {
	mkdir -p "$CACHE/kernels"
	# Parallel runs share the cache; one of them does the work at a time.
	exec 9>"$CACHE/.lock"
	flock 9

	install_missing

	local pkg
	pkg=$(kernel_package)
	if [ -z "$pkg" ]; then
		# Package lists never fetched on this machine.
		apt_update
		pkg=$(kernel_package)
	fi
	if [ -z "$pkg" ] || ! fetch_kernel "$pkg"; then
		# Offline, say: any kernel unpacked earlier will do.
		pkg=$(find "$CACHE/kernels" -mindepth 2 -maxdepth 2 -name .complete -printf '%h\n' 2>/dev/null |
			sed 's|.*/||' | sort -V | tail -n 1)
		[ -n "$pkg" ] || die "no kernel: cannot tell or fetch the one linux-image-amd64 depends on"
		log "using the cached $pkg instead"
	fi

	local kver=${pkg#linux-image-} kroot=$CACHE/kernels/$pkg/root vmlinux=
	# run.sh marks the vmlinux broken when only the bzImage booted.
	if [ -e "$CACHE/kernels/$pkg/vmlinux" ] && [ ! -e "$CACHE/kernels/$pkg/vmlinux.broken" ]; then
		vmlinux=$CACHE/kernels/$pkg/vmlinux
	fi
	build_initramfs "$kroot" "$kver"
	build_kvmcheck

	cat >"$CACHE/lab.env.tmp" <<EOF
# Written by tests/lab/setup.sh; sourced by run.sh.
LAB_KERNEL_VERSION=$kver
LAB_KERNEL_ROOT=$kroot
LAB_BZIMAGE=$kroot/boot/vmlinuz-$kver
LAB_VMLINUX=$vmlinux
LAB_INITRAMFS=$INITRAMFS
LAB_KVMCHECK=$KVMCHECK
EOF
	# run.sh asks for its own copy: lab.env may be rewritten meanwhile by a run
	# from another checkout that shares the cache.
	[ -z "${CELL_LAB_ENV_FILE:-}" ] || cp "$CACHE/lab.env.tmp" "$CELL_LAB_ENV_FILE"
	mv "$CACHE/lab.env.tmp" "$CACHE/lab.env"
	if [ -n "$vmlinux" ]; then
		log "ready: kernel $kver, PVH vmlinux"
	else
		log "ready: kernel $kver, bzImage"
	fi
}

main "$@"
