#!/usr/bin/env bats
# Images: import (OCI layout, OCI archive, docker-archive, rootfs tar) into a
# store, unpack with whiteouts and every file kind, bundles and run --image
# on an overlay rootfs, rm/prune, and untrusted input refused cleanly.
load helpers

# Two images built once per file: base (busybox + every file kind) and app
# (base + a layer with whiteouts, an opaque dir, a user and a config).
make_images() {
	local d=$BATS_FILE_TMPDIR/img
	[[ -d $d/app ]] && return 0
	mkdir -p "$d/l1" "$d/l2"
	cp -a "$BATS_FILE_TMPDIR/base/rootfs/." "$d/l1/"
	mkdir -p "$d/l1/data" "$d/l1/opq" "$d/l1/dev"
	echo motd >"$d/l1/etc/motd"
	echo old >"$d/l1/opq/old"
	echo file >"$d/l1/data/file"
	chown 1234:5678 "$d/l1/data/file"
	chmod 640 "$d/l1/data/file"
	ln "$d/l1/data/file" "$d/l1/data/hard"
	ln -s file "$d/l1/data/link"
	mknod "$d/l1/dev/zero0" c 1 5
	echo cap >"$d/l1/data/cap"
	setcap cap_net_raw+ep "$d/l1/data/cap"
	echo x >"$d/l1/data/x"
	setfattr -n user.test -v hello "$d/l1/data/x"
	mkdir -p "$d/l2/etc" "$d/l2/opq" "$d/l2/app"
	touch "$d/l2/etc/.wh.motd" "$d/l2/opq/.wh..wh..opq"
	echo new >"$d/l2/opq/new"
	echo hello-file >"$d/l2/app/hello.txt"
	cp "$d/l1/etc/passwd" "$d/l1/etc/group" "$d/l2/etc/"
	echo 'app:x:1000:1000::/home/app:/bin/sh' >>"$d/l2/etc/passwd"
	printf 'app:x:1000:\nextra:x:2000:root,app\n' >>"$d/l2/etc/group"
	"$REPO/scripts/mkimage.sh" "$d/base" "$d/l1"
	IMG_CONFIG='{"Entrypoint": ["/bin/sh", "-c"], "Cmd": ["echo $GREETING; pwd; id -u; id -g; id -G; cat hello.txt"],
		"Env": ["PATH=/bin", "GREETING=hello-from-image"], "WorkingDir": "/app", "User": "app",
		"Labels": {"org.example.role": "test"}, "StopSignal": "SIGUSR1"}' \
		"$REPO/scripts/mkimage.sh" "$d/app" "$d/l1" "$d/l2"
}

setup() {
	make_base
	make_images
	IMG=$BATS_FILE_TMPDIR/img
	ROOT=$BATS_TEST_TMPDIR/root
	STORE=$BATS_TEST_TMPDIR/store
	wc -l </proc/self/mountinfo >"$BATS_TEST_TMPDIR/mounts.before"
}

teardown() {
	local id b
	for id in $("$CELL" --root "$ROOT" list -q 2>/dev/null); do
		"$CELL" --root "$ROOT" delete --force "$id" || true
	done
	for b in "$BATS_TEST_TMPDIR"/bun*; do
		[[ -d $b ]] && "$CELL" bundle --release "$b" || true
	done
}

img() { "$CELL" image "$@" --store "$STORE"; }

layer_dir() { # IMAGE N: the unpacked directory of layer N
	echo "$STORE/layers/sha256/$(img inspect "$1" | jq -r ".layers[$2].digest" | cut -d: -f2)"
}

# Nothing of a failed import stays: no name, blob, layer or temporary.
store_empty() {
	local d
	for d in refs blobs/sha256 layers/sha256 tmp bundles; do
		if [[ -n $(ls -A "$STORE/$d" 2>/dev/null) ]]; then
			echo "leftover in $d: $(ls -A "$STORE/$d")" >&2
			return 1
		fi
	done
}

mounts_unchanged() {
	[[ $(wc -l </proc/self/mountinfo) == $(cat "$BATS_TEST_TMPDIR/mounts.before") ]]
}

@test "image import: an OCI layout, every file kind kept in the unpacked layer" {
	run img import --name base:1 "$IMG/base"
	[[ $status == 0 ]]
	[[ $output == "base:1 sha256:"* ]]
	l=$(layer_dir base:1 0)
	[[ $(stat -c '%u:%g %a' "$l/data/file") == "1234:5678 640" ]]
	[[ $(stat -c %i "$l/data/file") == $(stat -c %i "$l/data/hard") ]]
	[[ $(readlink "$l/data/link") == file ]]
	[[ $(stat -c '%F %t,%T' "$l/dev/zero0") == "character special file 1,5" ]]
	[[ $(getcap "$l/data/cap") == *cap_net_raw* ]]
	[[ $(getfattr --only-values -n user.test "$l/data/x") == hello ]]
	[[ -x $l/bin/busybox && -L $l/bin/sh ]]
}

@test "image import: progress on a terminal (layer n/m, MiB, rate), none otherwise" {
	# script(1) gives the command a terminal
	out=$(script -qec "$CELL image import --store $STORE $IMG/app" /dev/null)
	[[ $out == *"copy layer 1/2"* ]]
	[[ $out == *"layer 2/2"*" MiB"*"MiB/s"* ]]
	run "$CELL" image import --store "$BATS_TEST_TMPDIR/store2" "$IMG/app"
	[[ $status == 0 ]]
	[[ $output != *layer* ]]
}

@test "image import: whiteouts become overlayfs whiteouts, opaque dirs an xattr" {
	img import --name app "$IMG/app" >/dev/null
	l=$(layer_dir app 1)
	[[ $(stat -c '%F %t,%T' "$l/etc/motd") == "character special file 0,0" ]]
	[[ ! -e $l/etc/.wh.motd && ! -e $l/opq/.wh..wh..opq ]]
	[[ $(getfattr --only-values -n trusted.overlay.opaque "$l/opq") == y ]]
}

@test "image ls, inspect: names, digests, config" {
	img import -q --name base:1 "$IMG/base"
	img import -q "$IMG/app"
	run img ls -q
	[[ $output == $'app:latest\nbase:1' ]]
	run img ls --format json
	[[ $(jq -r '.[0].name, .[0].layers' <<<"$output") == $'app:latest\n2' ]]
	digest=$(img inspect app | jq -r .digest)
	[[ $digest == sha256:* ]]
	# by digest and by a unique prefix
	[[ $(img inspect "$digest" | jq -r .name) == app:latest ]]
	[[ $(img inspect "${digest:7:12}" | jq -r '.config.config.WorkingDir') == /app ]]
	[[ $(img inspect app | jq -r '.layers | map(.unpacked) | all') == true ]]
	run img inspect nosuch
	assert_one_error image "nosuch:latest is not in the store"
}

@test "bundle: overlay rootfs of the layers and config.json from the image" {
	img import -q "$IMG/app"
	"$CELL" bundle --store "$STORE" app "$BATS_TEST_TMPDIR/bun"
	b=$BATS_TEST_TMPDIR/bun
	[[ $(stat -f -c %T "$b/rootfs") == overlayfs ]]
	[[ $(cat "$b/rootfs/app/hello.txt") == hello-file ]]
	[[ ! -e $b/rootfs/etc/motd && ! -e $b/rootfs/opq/old && -e $b/rootfs/opq/new ]]
	[[ -e $b/rootfs/data/hard ]]
	c=$b/config.json
	[[ $(jq -c .process.args "$c") == '["/bin/sh","-c","echo $GREETING; pwd; id -u; id -g; id -G; cat hello.txt"]' ]]
	[[ $(jq -c .process.user "$c") == '{"uid":1000,"gid":1000,"additionalGids":[2000]}' ]]
	[[ $(jq -r .process.cwd "$c") == /app ]]
	jq -e '.process.env | index("GREETING=hello-from-image") and index("HOME=/home/app")' "$c"
	[[ $(jq -r '.annotations["org.example.role"]' "$c") == test ]]
	[[ $(jq -r '.annotations["org.opencontainers.image.stopSignal"]' "$c") == SIGUSR1 ]]
	# writes go to the bundle's upper dir, never into a stored layer
	echo changed >"$b/rootfs/app/hello.txt"
	[[ $(cat "$(layer_dir app 1)/app/hello.txt") == hello-file ]]
	"$CELL" bundle --release "$b"
	mounts_unchanged
	[[ -z $(ls -A "$b") && -z $(ls -A "$STORE/bundles") ]]
	run "$CELL" bundle --store "$STORE" nosuch "$BATS_TEST_TMPDIR/bun2"
	assert_one_error bundle "not in the store"
	[[ ! -e $BATS_TEST_TMPDIR/bun2 ]]
}

@test "run --image: the container sees the image's files, env, cwd and user" {
	img import -q "$IMG/app"
	run "$CELL" --root "$ROOT" run --store "$STORE" --image app c1
	[[ $status == 0 ]]
	[[ $output == $'hello-from-image\n/app\n1000\n1000\n1000 2000\nhello-file' ]]
	mounts_unchanged
	[[ -z $(ls -A "$STORE/bundles") ]]
	[[ -z $(ls -A "$ROOT" | grep -vx .seccomp) ]]
}

@test "create --image: annotations from labels; delete releases the rootfs" {
	img import -q "$IMG/app"
	"$CELL" --root "$ROOT" create --store "$STORE" --image app c2
	[[ $("$CELL" --root "$ROOT" state c2 | jq -r '.annotations["org.example.role"]') == test ]]
	[[ -n $(ls -A "$STORE/bundles") ]]
	# a live bundle keeps its layers through rm and prune
	img rm app
	img prune -q
	[[ $(ls "$STORE/layers/sha256" | wc -l) == 2 ]]
	"$CELL" --root "$ROOT" delete --force c2
	mounts_unchanged
	[[ -z $(ls -A "$STORE/bundles") ]]
	img prune -q
	store_empty
}

@test "run --image and --bundle exclude each other; a bad image leaves nothing" {
	run "$CELL" --root "$ROOT" run --store "$STORE" --image nosuch c3
	assert_one_error run "not in the store"
	mounts_unchanged
	[[ -z $(ls -A "$ROOT" 2>/dev/null) ]]
	run "$CELL" --root "$ROOT" run --image x --bundle /tmp c3
	[[ $status == 2 ]]
	# the id names the bundle record: no way out of the store
	run "$CELL" --root "$ROOT" run --store "$STORE" --image nosuch ../../evil
	[[ $status != 0 ]]
	[[ -z $(ls -d "$STORE"/evil* "$BATS_TEST_TMPDIR"/evil* 2>/dev/null) ]]
}

@test "OCI archive with gzip layers, OCI layout with zstd layers" {
	IMG_COMPRESS=gzip "$REPO/scripts/mkimage.sh" "$BATS_TEST_TMPDIR/gz" "$IMG/l1" "$IMG/l2"
	tar -C "$BATS_TEST_TMPDIR/gz" -cf "$BATS_TEST_TMPDIR/gz.tar" .
	run img import --format json "$BATS_TEST_TMPDIR/gz.tar"
	[[ $status == 0 ]]
	[[ $(jq -r '.name, .layers, .unpacked' <<<"$output") == $'gz:latest\n2\n2' ]]
	img inspect gz | jq -e '.layers[0].mediaType | endswith("+gzip")'
	IMG_COMPRESS=zstd "$REPO/scripts/mkimage.sh" "$BATS_TEST_TMPDIR/zst" "$IMG/l1" "$IMG/l2"
	img import -q --name zst "$BATS_TEST_TMPDIR/zst"
	[[ $(cat "$(layer_dir zst 1)/app/hello.txt") == hello-file ]]
	[[ $(getcap "$(layer_dir zst 0)/data/cap") == *cap_net_raw* ]]
}

@test "image rm keeps layers another image uses; prune clears leftovers" {
	img import -q --name base "$IMG/base"
	img import -q --name app "$IMG/app"
	# the base layer is unpacked once and shared
	[[ $(ls "$STORE/layers/sha256" | wc -l) == 2 ]]
	img rm app
	[[ $(img ls -q) == base:latest ]]
	[[ $(ls "$STORE/layers/sha256" | wc -l) == 1 ]]
	[[ -d $(layer_dir base 0)/bin ]]
	mkdir "$STORE/tmp/layer.crashed"
	run img prune
	[[ $output == "removed 1 items" ]]
	img rm base
	store_empty
}

@test "concurrent imports of shared layers: each layer unpacked once" {
	for i in 1 2 3 4; do
		img import -q --name "app:$i" "$IMG/app" &
	done
	img import -q --name base "$IMG/base" &
	wait
	[[ $(img ls -q | wc -l) == 5 ]]
	[[ $(ls "$STORE/layers/sha256" | wc -l) == 2 ]]
	[[ -z $(ls -A "$STORE/tmp") ]]
}

@test "docker-archive from skopeo, and a plain rootfs tar" {
	skopeo copy -q "oci:$IMG/app:latest" "docker-archive:$BATS_TEST_TMPDIR/d.tar:example/app:v1"
	run img import "$BATS_TEST_TMPDIR/d.tar"
	[[ $status == 0 ]]
	[[ $output == "docker.io/example/app:v1 sha256:"* ]]
	run "$CELL" --root "$ROOT" run --store "$STORE" --image docker.io/example/app:v1 d1
	[[ $output == *hello-from-image* ]]
	tar -C "$IMG/l1" --numeric-owner -czf "$BATS_TEST_TMPDIR/rootfs.tar.gz" .
	img import -q "$BATS_TEST_TMPDIR/rootfs.tar.gz"
	[[ $(img inspect rootfs | jq -r '.config.config.Cmd[0], .config.rootfs.diff_ids[0]') == $'/bin/sh\n'"sha256:$(zcat "$BATS_TEST_TMPDIR/rootfs.tar.gz" | sha256sum | cut -d' ' -f1)" ]]
	[[ $(stat -c '%u:%g' "$(layer_dir rootfs 0)/data/file") == 1234:5678 ]]
}

# ---- untrusted input: one clear error, nothing stored

@test "bad input: a truncated archive" {
	tar -C "$IMG/app" -cf "$BATS_TEST_TMPDIR/full.tar" .
	head -c $(($(stat -c %s "$BATS_TEST_TMPDIR/full.tar") / 2)) "$BATS_TEST_TMPDIR/full.tar" >"$BATS_TEST_TMPDIR/t.tar"
	run img import "$BATS_TEST_TMPDIR/t.tar"
	assert_one_error image "t.tar"
	store_empty
}

@test "bad input: a blob whose content does not match its digest" {
	cp -a "$IMG/app" "$BATS_TEST_TMPDIR/bad"
	l=$(jq -r '.layers[1].digest' "$BATS_TEST_TMPDIR/bad/blobs/sha256/$(jq -r '.manifests[0].digest' "$IMG/app/index.json" | cut -d: -f2)" | cut -d: -f2)
	printf 'X' | dd of="$BATS_TEST_TMPDIR/bad/blobs/sha256/$l" bs=1 seek=600 conv=notrunc status=none
	run img import "$BATS_TEST_TMPDIR/bad"
	assert_one_error image "content has digest"
	store_empty
}

@test "bad input: a missing blob" {
	cp -a "$IMG/app" "$BATS_TEST_TMPDIR/bad"
	m=$BATS_TEST_TMPDIR/bad/blobs/sha256/$(jq -r '.manifests[0].digest' "$IMG/app/index.json" | cut -d: -f2)
	rm "$BATS_TEST_TMPDIR/bad/blobs/sha256/$(jq -r '.layers[1].digest' "$m" | cut -d: -f2)"
	run img import "$BATS_TEST_TMPDIR/bad"
	assert_one_error image "No such file"
	store_empty
}

@test "bad input: an image for another platform" {
	IMG_ARCH=arm64 "$REPO/scripts/mkimage.sh" "$BATS_TEST_TMPDIR/arm" "$IMG/l2"
	run img import "$BATS_TEST_TMPDIR/arm"
	assert_one_error image "linux/arm64"
	store_empty
}

@test "bad input: layers with ../, absolute and symlink-escaping entries" {
	s=$BATS_TEST_TMPDIR/s
	target=$BATS_TEST_TMPDIR/outside
	mkdir -p "$s/evil" "$target"
	echo pwned >"$s/f"
	tar -C "$s" -P --transform "s,^f,../../escaped," -cf "$BATS_TEST_TMPDIR/dotdot.tar" f
	tar -C "$s" -P --transform "s,^f,$target/abs," -cf "$BATS_TEST_TMPDIR/abs.tar" f
	ln -s "$target" "$s/link"
	tar -C "$s" -cf "$BATS_TEST_TMPDIR/sym.tar" link
	tar -C "$s" -P --transform "s,^f,link/pwned," -rf "$BATS_TEST_TMPDIR/sym.tar" f
	local -A want=([dotdot]='".." escapes' [abs]='absolute path' [sym]='through the symlink link')
	for t in dotdot abs sym; do
		"$REPO/scripts/mkimage.sh" "$BATS_TEST_TMPDIR/$t" "$BATS_TEST_TMPDIR/$t.tar"
		run img import "$BATS_TEST_TMPDIR/$t"
		assert_one_error image "${want[$t]}"
		store_empty
	done
	[[ -z $(ls -A "$target") ]]
	[[ ! -e $BATS_TEST_TMPDIR/escaped && ! -e $STORE/escaped ]]
}
