#!/bin/busybox sh
# Stage 1 of the lab guest: /init of the initramfs that setup.sh builds.
#
# Builds the whole system the tests see: loads the modules (virtio-pci, 9p,
# overlayfs, KVM), stacks a writable tmpfs over the read-only 9p share of the
# host's /, mounts the pseudo filesystems and a pure cgroup2, then switches to
# the host's own bash running guest.sh (stage 2), which only runs bats.
#
# Everything is done here rather than in stage 2 because this busybox is
# static and in RAM: under TCG one exec of a dynamically linked host binary
# over 9p costs ~0.1 s, and stage 2 used to spend 2 s on set-up alone.
#
# Failures are reported on the console, and on the result channel once the run
# share is mounted, so run.sh can tell "lab broke" from "tests failed".

/bin/busybox --install -s /bin
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# Uptime stamps on the console show where boot time goes (CELL_LAB_VERBOSE=1).
echo "cell-lab: stage 1 at $(cut -d' ' -f1 /proc/uptime) s" >/dev/console

RUN=/newroot/run/cell-lab
fail() {
	echo "cell-lab stage 1: $*" >/dev/console
	[ -f $RUN/results.log ] && echo "CELL-LAB-ERROR stage 1: $*" >>$RUN/results.log
	poweroff -f
}

# modules.order: one "file.ko [parameters]" a line, dependencies first.
while read -r mod args; do
	# shellcheck disable=SC2086 # parameters are separate words
	insmod "/lib/modules/$mod" $args || fail "insmod $mod $args failed"
done </modules.order

# cache=loose: the host side does not change under the guest during a run, and
# page-cached 9p makes exec/mmap of the host's binaries much faster.
# msize: bigger 9p messages, fewer round trips through the emulated virtqueue.
mkdir -p /lower /rw /newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 hostroot /lower ||
	fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	fail "cannot mount the overlay root"

# /run is the guest's own tmpfs; the per-run share (config, env, guest.sh and
# the result channel) sits inside it so no host path can hide it.
mount -t tmpfs -o mode=0755,nosuid,nodev tmpfs /newroot/run
mkdir -p $RUN
mount -t 9p -o trans=virtio,version=9p2000.L,cache=none,msize=262144 cellrun $RUN ||
	fail "cannot mount the run share"
# Tells run.sh that the kernel booted (its PVH fallback looks for this).
echo CELL-LAB-STAGE1 >>$RUN/results.log
[ -f $RUN/stage1.conf ] || fail "stage1.conf missing from the run share"
# shellcheck source=/dev/null
. $RUN/stage1.conf # KERNEL_ROOT, KERNEL_VERSION
[ -x /newroot/bin/bash ] || fail "the host root has no /bin/bash"

mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
cd /newroot || fail "cd /newroot"

mkdir -p dev/pts dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts dev/pts || fail "mount devpts"
mount -t tmpfs -o mode=1777,nosuid,nodev shm dev/shm || fail "mount /dev/shm"
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs tmp || fail "mount /tmp"
# a checkout under /tmp (a CI clone) comes back on top of the guest's /tmp
if [ -n "${CHECKOUT:-}" ]; then
	mkdir -p ".$CHECKOUT"
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=262144 checkout ".$CHECKOUT" ||
		fail "cannot mount the checkout $CHECKOUT"
fi
[ -e dev/ptmx ] || ln -s pts/ptmx dev/ptmx
[ -e dev/fd ] || ln -s /proc/self/fd dev/fd
[ -e dev/stdin ] || ln -s /proc/self/fd/0 dev/stdin
[ -e dev/stdout ] || ln -s /proc/self/fd/1 dev/stdout
[ -e dev/stderr ] || ln -s /proc/self/fd/2 dev/stderr
[ -c dev/kvm ] || fail "/dev/kvm did not appear after loading kvm_amd"

# Pure cgroup v2 (nothing of v1 is mounted), with systemd's mount options so
# the hierarchy behaves like a modern host's; every controller the kernel
# offers is enabled for the root's children.
mount -t cgroup2 -o nosuid,nodev,noexec,nsdelegate,memory_recursiveprot cgroup2 sys/fs/cgroup ||
	mount -t cgroup2 cgroup2 sys/fs/cgroup || fail "mount cgroup2"
# shellcheck disable=SC2013 # one line of space-separated names
for c in $(cat sys/fs/cgroup/cgroup.controllers); do
	echo "+$c" >sys/fs/cgroup/cgroup.subtree_control ||
		echo "cell-lab stage 1: warning: cannot enable controller $c" >/dev/console
done

# The kernel's modules were unpacked on the host, not installed: put them where
# modprobe (the host's kmod) and the kernel's request_module look, so tests
# can load more (veth, bridge, tun ...).
mkdir -p "lib/modules/$KERNEL_VERSION"
mount --bind ".$KERNEL_ROOT/lib/modules/$KERNEL_VERSION" "lib/modules/$KERNEL_VERSION" ||
	fail "cannot bind the kernel modules"

hostname cell-lab
ip link set lo up || fail "cannot bring lo up"
cd /

# Stage 2 becomes PID 1; if it ever exits the kernel panics and, with panic=1
# and qemu's -no-reboot, the VM ends at once instead of waiting for the timeout.
exec switch_root /newroot /bin/bash /run/cell-lab/guest.sh
