#!/usr/bin/env bats
# cell pull over the OCI distribution API against Debian's docker-registry
# on 127.0.0.1 (fed by skopeo), and a fake registry (socat on 127.0.0.1)
# that answers 401, 500 or stalls. Every server is started and stopped here.
load helpers

start_registry() {
	local d=$BATS_FILE_TMPDIR/registry i
	mkdir -p "$d"
	for i in $(seq 20); do
		PORT=$((20000 + RANDOM % 20000))
		cat >"$d/config.yml" <<-EOF
		version: 0.1
		log:
		  level: error
		  accesslog:
		    disabled: true
		storage:
		  filesystem:
		    rootdirectory: $d/data
		http:
		  addr: 127.0.0.1:$PORT
		EOF
		docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
		echo $! >"$d/pid"
		for _ in $(seq 50); do
			curl -sf "http://127.0.0.1:$PORT/v2/" >/dev/null && { echo "$PORT" >"$d/port"; return 0; }
			kill -0 "$(cat "$d/pid")" 2>/dev/null || break
			sleep 0.1
		done
		kill "$(cat "$d/pid")" 2>/dev/null; wait "$(cat "$d/pid")" 2>/dev/null || true
	done
	return 1
}

# A multi-platform layout: an index of linux/amd64 and linux/arm64 images,
# each with a file /arch naming its platform.
make_multi() {
	local out=$1 a m ms ml='[]'
	shift
	mkdir -p "$out/blobs/sha256"
	for a in "$@"; do
		mkdir -p "$BATS_FILE_TMPDIR/arch-$a"
		echo "$a" >"$BATS_FILE_TMPDIR/arch-$a/arch"
		IMG_ARCH=$a IMG_CONFIG='{"Cmd": ["cat", "/arch"]}' "$REPO/scripts/mkimage.sh" "$BATS_FILE_TMPDIR/img-$a" \
			"$BATS_FILE_TMPDIR/base/rootfs" "$BATS_FILE_TMPDIR/arch-$a"
		cp "$BATS_FILE_TMPDIR/img-$a"/blobs/sha256/* "$out/blobs/sha256/"
		m=$(jq -r '.manifests[0].digest' "$BATS_FILE_TMPDIR/img-$a/index.json")
		ms=$(jq -r '.manifests[0].size' "$BATS_FILE_TMPDIR/img-$a/index.json")
		ml=$(jq -c --arg m "$m" --argjson s "$ms" --arg a "$a" '. + [{mediaType: "application/vnd.oci.image.manifest.v1+json",
			digest: $m, size: $s, platform: {os: "linux", architecture: $a}}]' <<<"$ml")
	done
	jq -n --argjson ml "$ml" '{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: $ml}' >"$out/idx"
	m=$(sha256sum "$out/idx" | cut -d' ' -f1)
	ms=$(stat -c %s "$out/idx")
	mv "$out/idx" "$out/blobs/sha256/$m"
	echo '{"imageLayoutVersion": "1.0.0"}' >"$out/oci-layout"
	jq -n --arg m "sha256:$m" --argjson s "$ms" '{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json",
		digest: $m, size: $s, annotations: {"org.opencontainers.image.ref.name": "latest"}}]}' >"$out/index.json"
}

push() { # LAYOUT NAME:TAG
	skopeo copy -q --all --dest-tls-verify=false "oci:$1:latest" "docker://127.0.0.1:$PORT/$2"
}

setup_file() {
	CELL=${CELL:-$REPO/build/cell} make_base
	start_registry
	PORT=$(cat "$BATS_FILE_TMPDIR/registry/port")
	mkdir -p "$BATS_FILE_TMPDIR/l2"
	echo hello-from-registry >"$BATS_FILE_TMPDIR/l2/greeting"
	IMG_CONFIG='{"Cmd": ["cat", "/greeting"]}' IMG_COMPRESS=gzip \
		"$REPO/scripts/mkimage.sh" "$BATS_FILE_TMPDIR/app" "$BATS_FILE_TMPDIR/base/rootfs" "$BATS_FILE_TMPDIR/l2"
	push "$BATS_FILE_TMPDIR/app" app:v1
	make_multi "$BATS_FILE_TMPDIR/multi" arm64 amd64
	push "$BATS_FILE_TMPDIR/multi" multi:v1
	make_multi "$BATS_FILE_TMPDIR/armonly" arm64 s390x
	push "$BATS_FILE_TMPDIR/armonly" armonly:v1
}

teardown_file() {
	local p
	for p in "$BATS_FILE_TMPDIR"/registry/pid "$BATS_FILE_TMPDIR"/fake-*.pid; do
		[[ -f $p ]] || continue
		kill "$(cat "$p")" 2>/dev/null || true
	done
}

setup() {
	ROOT=$BATS_TEST_TMPDIR/root
	STORE=$BATS_TEST_TMPDIR/store
	PORT=$(cat "$BATS_FILE_TMPDIR/registry/port")
}

teardown() { :; }

pull() { "$CELL" pull --store "$STORE" "$@"; }

store_empty() {
	local d
	for d in refs blobs/sha256 layers/sha256 tmp; do
		[[ -z $(ls -A "$STORE/$d" 2>/dev/null) ]] || { echo "leftover in $d: $(ls -A "$STORE/$d")" >&2; return 1; }
	done
}

# fake MODE: a one-trick registry on 127.0.0.1; sets FAKE to its address
fake() {
	local mode=$1 script=$BATS_FILE_TMPDIR/fake.sh p
	cat >"$script" <<-'EOF'
	#!/bin/bash
	# read the request head, answer by mode
	read -r method path _
	auth= accept=
	while IFS= read -r l && [[ $l != $'\r' && -n $l ]]; do
		case ${l,,} in
		authorization:*) auth=${l#*: } auth=${auth%$'\r'} ;;
		accept:*) accept=${l#*: } accept=${accept%$'\r'} ;;
		esac
	done
	# token: a registry behind bearer tokens (realm on this same server);
	# with the token a request goes on to the real registry ($3)
	if [[ $1 == token ]]; then
		if [[ $path == /token* ]]; then
			body='{"token":"t0k3n-cell"}'
			printf 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "${#body}" "$body"
		elif [[ $auth == "Bearer t0k3n-cell" ]]; then
			curl -s -i -X "$method" -H "Accept: $accept" -H 'Connection: close' "http://$3$path"
		else
			printf 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="http://%s/token",service="fake",scope="repository:app:pull"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$2"
		fi
		exit 0
	fi
	case $1 in
	500) printf 'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' ;;
	401) printf 'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm="http://%s/token",service="fake",scope="repository:app:pull"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' "$2" ;;
	slow) printf 'HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{'; sleep 4 ;;
	esac
	EOF
	chmod +x "$script"
	for _ in $(seq 20); do
		p=$((20000 + RANDOM % 20000))
		socat "TCP-LISTEN:$p,bind=127.0.0.1,reuseaddr,fork" "EXEC:$script $mode 127.0.0.1\\:$p 127.0.0.1\\:$PORT" 2>/dev/null &
		echo $! >"$BATS_FILE_TMPDIR/fake-$mode.pid"
		sleep 0.2
		if kill -0 "$(cat "$BATS_FILE_TMPDIR/fake-$mode.pid")" 2>/dev/null; then
			FAKE=127.0.0.1:$p
			return 0
		fi
	done
	return 1
}

stop_fake() {
	kill "$(cat "$BATS_FILE_TMPDIR/fake-$1.pid")" 2>/dev/null || true
	rm -f "$BATS_FILE_TMPDIR/fake-$1.pid"
}

@test "pull by tag, then run --image" {
	run pull "127.0.0.1:$PORT/app:v1"
	[[ $status == 0 ]]
	[[ $output == "127.0.0.1:$PORT/app:v1 sha256:"* ]]
	run "$CELL" --root "$ROOT" run --store "$STORE" --image "127.0.0.1:$PORT/app:v1" p1
	[[ $output == hello-from-registry ]]
	# a second pull finds every layer in the store
	[[ $(pull --format json "127.0.0.1:$PORT/app:v1" | jq .unpacked) == 0 ]]
}

@test "pull by digest" {
	d=$(skopeo inspect --raw --tls-verify=false "docker://127.0.0.1:$PORT/app:v1" | sha256sum | cut -d' ' -f1)
	run pull --name bydigest "127.0.0.1:$PORT/app@sha256:$d"
	[[ $status == 0 ]]
	[[ $output == "bydigest:latest sha256:$d" ]]
}

@test "pull of a manifest list picks linux/amd64" {
	pull -q "127.0.0.1:$PORT/multi:v1"
	[[ $("$CELL" image inspect --store "$STORE" "127.0.0.1:$PORT/multi:v1" | jq -r .config.architecture) == amd64 ]]
	run "$CELL" --root "$ROOT" run --store "$STORE" --image "127.0.0.1:$PORT/multi:v1" p2
	[[ $output == amd64 ]]
}

@test "pull: a list without linux/amd64 is refused, nothing stored" {
	run pull "127.0.0.1:$PORT/armonly:v1"
	assert_one_error pull "no linux/amd64 image (only linux/arm64, linux/s390x)"
	store_empty
}

@test "pull: 404 for an unknown tag" {
	run pull "127.0.0.1:$PORT/app:nosuch"
	assert_one_error pull "not found (HTTP 404)"
	store_empty
}

@test "pull: a registry answering 500" {
	fake 500
	run pull "$FAKE/app:v1"
	stop_fake 500
	assert_one_error pull "registry answered HTTP 500"
	store_empty
}

@test "pull: a registry answering 401 and refusing a token" {
	fake 401
	run pull "$FAKE/app:v1"
	stop_fake 401
	assert_one_error pull "token from http://$FAKE/token: HTTP 401"
	store_empty
}

@test "pull: bearer token auth — 401, token from the realm, then the image" {
	fake token
	run pull --name tok:v1 "$FAKE/app:v1"
	stop_fake token
	[[ $status == 0 ]]
	[[ $output == "tok:v1 sha256:"* ]]
	run "$CELL" --root "$ROOT" run --store "$STORE" --image tok:v1 p3
	[[ $output == hello-from-registry ]]
}

@test "pull: a registry that stalls mid-body times out" {
	fake slow
	SECONDS=0
	run pull --timeout 2 "$FAKE/app:v1"
	stop_fake slow
	assert_one_error pull "no data for 2 s"
	((SECONDS < 10))
	store_empty
}
