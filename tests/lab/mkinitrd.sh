#!/bin/bash
# Builds a small newc initramfs for microVM tests: a static busybox with its
# applets linked at build time, /dev /proc /sys, optional kernel modules, and
# an /init (the default below, or --init FILE).
#
# usage: mkinitrd.sh OUT.cpio [--init FILE] [--modules-from KROOT KVER MOD...]
#   --init FILE       use FILE as /init instead of the default
#   --modules-from KROOT KVER MOD...
#                     copy modules MOD (names such as button evdev, with their
#                     dependencies from KROOT/lib/modules/KVER/modules.dep) to
#                     /lib/modules, decompressed, listed in load order in
#                     /modules.order; must come last on the command line
#
# The default /init (busybox sh):
#   - mounts proc, sysfs, devtmpfs and prints "CELL-VM-MARKER";
#   - prints "CELL-VM cpus=N memtotal_kb=N cpuinfo_processors=N";
#   - prints "CELL-VM loader=XX": boot_params' type_of_loader: b0 when the
#     kernel was entered through PVH (off Xen, its PVH code names QEMU, 0xb),
#     ff from cell's bzImage loader ("undefined");
#   - with cell.wait=1 on the kernel command line: loads /modules.order
#     (for Debian's kernel: button evdev), finds the "Power Button" input
#     devices, prints "CELL-VM waiting for power button", blocks until one
#     sends an event, then prints "CELL-VM power button";
#   - with cell.dmesg=1: prints the kernel's log (boot profiling);
#   - with cell.poke=N: writes a byte to I/O port N (decimal);
#   - with cell.status=N (0-255): prints "CELL-VM status=N" and writes the
#     byte N to I/O port 0x501 (VM_EXIT_PORT) through /dev/port;
#   - powers off (poweroff -f), or with cell.reboot=1 reboots (reboot -f).
#
# Needs only bash, busybox (BUSYBOX, default /bin/busybox; static), cpio and
# xz (for .ko.xz modules).  Run as root to get a /dev/console node; without
# it the init reopens its console after mounting devtmpfs.
set -euo pipefail

BB=${BUSYBOX:-/bin/busybox}

die() {
	echo "mkinitrd.sh: $*" >&2
	exit 1
}

usage() {
	"$BB" sed -n '6,13p' "$0" | "$BB" sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 1 ] || usage
case $1 in -h | --help) usage ;; esac
OUT=$1
shift
INIT=
KROOT='' KVER=''
MODS=()
while [ $# -gt 0 ]; do
	case $1 in
	--init)
		[ $# -ge 2 ] || usage
		INIT=$2
		shift 2
		;;
	--modules-from)
		[ $# -ge 3 ] || usage
		KROOT=$2 KVER=$3
		shift 3
		MODS=("$@")
		shift $#
		;;
	*) usage ;;
	esac
done

[ -x "$BB" ] || die "no busybox at $BB"
"$BB" --list >/dev/null 2>&1 || die "$BB does not run"
[ -z "$INIT" ] || [ -f "$INIT" ] || die "init script $INIT: not found"
command -v cpio >/dev/null || die "cpio is not installed"

STAGE=$("$BB" mktemp -d "${TMPDIR:-/tmp}/cell-initrd.XXXXXX")
trap '"$BB" rm -rf "$STAGE"' EXIT

"$BB" mkdir -p "$STAGE"/{bin,dev,proc,sys,tmp,lib/modules}
# One busybox call links every applet; the links name the binary by its real
# host path (/usr/bin/busybox on merged-/usr hosts), so it goes there.
"$BB" --install -s "$STAGE/bin"
BBPATH=$("$BB" readlink "$STAGE/bin/sh") || die "busybox --install made no links"
case $BBPATH in
/*) ;;
*) die "busybox --install made relative links ($BBPATH)" ;;
esac
"$BB" mkdir -p "$STAGE${BBPATH%/*}"
"$BB" cp "$BB" "$STAGE$BBPATH"
[ -e "$STAGE/bin/busybox" ] || "$BB" ln -s "$BBPATH" "$STAGE/bin/busybox"
# The kernel opens /dev/console for init before anything is mounted.
"$BB" mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true
: >"$STAGE/modules.order"

# ---- modules ----
# norm NAME: the module name with - and _ made equal.
norm() { echo "${1//-/_}"; }

# Copies one module (a path relative to the module dir), decompressed.
copy_module() {
	local rel=$1 base
	base=${rel##*/}
	case $base in
	*.ko) "$BB" cp "$MODDIR/$rel" "$STAGE/lib/modules/$base" ;;
	*.ko.xz) xz -dc "$MODDIR/$rel" >"$STAGE/lib/modules/${base%.xz}" ;;
	*.ko.gz) "$BB" gzip -dc "$MODDIR/$rel" >"$STAGE/lib/modules/${base%.gz}" ;;
	*.ko.zst) zstd -dcq "$MODDIR/$rel" >"$STAGE/lib/modules/${base%.zst}" ;;
	*) die "$rel: not a kernel module" ;;
	esac
	base=${base%.xz}
	base=${base%.gz}
	echo "${base%.zst}" >>"$STAGE/modules.order"
}

if [ ${#MODS[@]} -gt 0 ]; then
	MODDIR=$KROOT/lib/modules/$KVER
	[ -d "$MODDIR" ] || die "no module directory $MODDIR"
	declare -A SEEN=()
	for mod in "${MODS[@]}"; do
		want=$(norm "$mod")
		if [ -f "$MODDIR/modules.builtin" ] &&
			"$BB" grep -q "/$want\.ko\$\|/${mod}\.ko\$" "$MODDIR/modules.builtin"; then
			echo "mkinitrd.sh: $mod is built into $KVER, not copied" >&2
			continue
		fi
		line=
		if [ -f "$MODDIR/modules.dep" ]; then
			while IFS= read -r l; do
				case ${l%%:*} in */"$mod".ko* | */"$want".ko*) ;; *) continue ;; esac
				path=${l%%:*}
				name=${path##*/}
				name=${name%%.ko*}
				if [ "${name//-/_}" = "$want" ]; then
					line=$l
					break
				fi
			done <"$MODDIR/modules.dep"
		else
			path=$("$BB" find "$MODDIR" -name "$mod.ko*" | "$BB" head -n 1)
			[ -n "$path" ] && line="${path#"$MODDIR"/}:"
		fi
		[ -n "$line" ] || die "module $mod not found for $KVER in $MODDIR"
		# modules.dep lists every dependency, the first needed last
		read -r -a deps <<<"${line#*:}"
		for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
			[ -n "${SEEN[${deps[i]}]:-}" ] || {
				SEEN[${deps[i]}]=1
				copy_module "${deps[i]}"
			}
		done
		path=${line%%:*}
		[ -n "${SEEN[$path]:-}" ] || {
			SEEN[$path]=1
			copy_module "$path"
		}
	done
fi

# ---- /init ----
if [ -n "$INIT" ]; then
	"$BB" cp "$INIT" "$STAGE/init"
else
	cat >"$STAGE/init" <<'EOF'
#!/bin/sh
# Default /init of tests/lab/mkinitrd.sh: report the machine, optionally wait
# for the ACPI power button, report cell.status=N on port 0x501, power off.
export PATH=/bin

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

off() {
	poweroff -f
	echo o >/proc/sysrq-trigger
	while :; do sleep 1; done
}

echo CELL-VM-MARKER
echo "CELL-VM cpus=$(nproc) memtotal_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)" \
	"cpuinfo_processors=$(grep -c '^processor' /proc/cpuinfo)"
echo "CELL-VM loader=$(od -An -tx1 -j528 -N1 /sys/kernel/boot_params/data | tr -d ' ')"

wait_button= status= mode= poke= reboot=
for arg in $(cat /proc/cmdline); do
	case $arg in
	cell.wait=1) wait_button=1 ;;
	cell.status=*) status=${arg#cell.status=} ;;
	cell.mode=*) mode=${arg#cell.mode=} ;;
	cell.dmesg=1) dmesg ;;
	cell.poke=*) poke=${arg#cell.poke=} ;;
	cell.reboot=1) reboot=1 ;;
	esac
done

# cell.poke=N: write one byte to I/O port N (decimal), which no device of
# the machine may claim (the VMM's unhandled-I/O event)
if [ -n "$poke" ]; then
	printf '\0' | dd of=/dev/port bs=1 seek="$poke" conv=notrunc 2>/dev/null ||
		echo "CELL-VM cannot write port $poke"
	echo "CELL-VM poked port $poke"
fi

# cell.mode=busy: spin forever (CPU share tests); tick: count on the console;
# echo: read one line from the console and print it back
case $mode in
busy) echo "CELL-VM busy"; while :; do :; done ;;
tick) i=0; while :; do i=$((i + 1)); echo "CELL-VM tick $i"; sleep 0.1; done ;;
echo) echo "CELL-VM ready for input"; read -r line; echo "CELL-VM got: $line" ;;
esac

if [ -n "$wait_button" ]; then
	while read -r mod; do
		insmod "/lib/modules/$mod" || echo "CELL-VM insmod $mod failed"
	done </modules.order
	# the input devices appear asynchronously: look for up to 10 s
	devs= n=0
	while [ -z "$devs" ] && [ $n -lt 100 ]; do
		for d in /sys/class/input/event*; do
			[ "$(cat "$d/device/name" 2>/dev/null)" = "Power Button" ] &&
				[ -c "/dev/input/${d##*/}" ] && devs="$devs /dev/input/${d##*/}"
		done
		[ -n "$devs" ] || { sleep 0.1; n=$((n + 1)); }
	done
	if [ -z "$devs" ]; then
		echo "CELL-VM no power button input device"
	else
		# one reader per device; the first event wakes the fifo's reader
		mkfifo /tmp/button
		for ev in $devs; do
			(dd if="$ev" bs=24 count=1 of=/dev/null 2>/dev/null; echo "$ev" >/tmp/button) &
		done
		echo "CELL-VM waiting for power button:$devs"
		read -r ev </tmp/button
		echo "CELL-VM power button"
	fi
fi

if [ -n "$status" ]; then
	case $status in
	'' | *[!0-9]*) echo "CELL-VM bad cell.status=$status" ;;
	*)
		if [ "$status" -gt 255 ]; then
			echo "CELL-VM bad cell.status=$status"
		else
			echo "CELL-VM status=$status"
			if [ -c /dev/port ]; then
				# shellcheck disable=SC2059 # the octal escape is the point
				printf "\\$(printf %o "$status")" |
					dd of=/dev/port bs=1 seek=1281 conv=notrunc 2>/dev/null ||
					echo "CELL-VM cannot write port 0x501"
			else
				echo "CELL-VM no /dev/port"
			fi
		fi
		;;
	esac
fi
# cell.reboot=1: reboot instead of powering off (with reboot=t on the
# command line, the kernel resets through a triple fault)
[ -z "$reboot" ] || { echo "CELL-VM reboot"; reboot -f; }
off
EOF
fi
"$BB" chmod 755 "$STAGE/init"

(cd "$STAGE" && "$BB" find . -mindepth 1 | LC_ALL=C "$BB" sort |
	cpio -o -H newc -R 0:0 --quiet) >"$OUT.tmp.$$" || {
	"$BB" rm -f "$OUT.tmp.$$"
	die "cpio failed"
}
"$BB" mv "$OUT.tmp.$$" "$OUT"
