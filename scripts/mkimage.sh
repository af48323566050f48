#!/bin/bash
# Build an OCI image layout OUT from layers, with tar, sha256sum and jq only
# (no skopeo/umoci, so tests can also build broken images on purpose).
# usage: scripts/mkimage.sh OUT LAYER...
#   LAYER: a directory (tarred with numeric owners and xattrs) or a ready tar.
# Environment:
#   IMG_COMPRESS  none (default), gzip or zstd
#   IMG_CONFIG    JSON object merged into the config's "config" (Cmd, Env, ...)
#   IMG_ARCH      architecture (default amd64)
#   IMG_TAG       org.opencontainers.image.ref.name annotation (default latest)
set -euo pipefail
out=${1:?usage: mkimage.sh OUT LAYER...}
shift
compress=${IMG_COMPRESS:-none}
mkdir -p "$out/blobs/sha256"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# put FILE: move FILE into the layout as a blob, print its digest and size
put() {
	local d
	d=$(sha256sum "$1" | cut -d' ' -f1)
	mv "$1" "$out/blobs/sha256/$d"
	echo "sha256:$d $(stat -c %s "$out/blobs/sha256/$d")"
}

layers='[]' diffs='[]' i=0
for l in "$@"; do
	i=$((i + 1))
	if [[ -d $l ]]; then
		tar -C "$l" --numeric-owner --xattrs --xattrs-include='*' --sort=name \
			--pax-option=delete=atime,delete=ctime -cf "$tmp/layer$i.tar" .
	else
		cp "$l" "$tmp/layer$i.tar"
	fi
	diff=sha256:$(sha256sum "$tmp/layer$i.tar" | cut -d' ' -f1)
	mt=application/vnd.oci.image.layer.v1.tar
	case $compress in
	gzip) gzip -n "$tmp/layer$i.tar" && mv "$tmp/layer$i.tar.gz" "$tmp/layer$i.tar"; mt+=+gzip ;;
	zstd) zstd -q --rm "$tmp/layer$i.tar" && mv "$tmp/layer$i.tar.zst" "$tmp/layer$i.tar"; mt+=+zstd ;;
	esac
	read -r d s < <(put "$tmp/layer$i.tar")
	layers=$(jq -c --arg mt "$mt" --arg d "$d" --argjson s "$s" '. + [{mediaType: $mt, digest: $d, size: $s}]' <<<"$layers")
	diffs=$(jq -c --arg d "$diff" '. + [$d]' <<<"$diffs")
done

jq -n --arg arch "${IMG_ARCH:-amd64}" --argjson diffs "$diffs" --argjson extra "${IMG_CONFIG:-{\}}" \
	'{architecture: $arch, os: "linux", created: "2024-01-02T03:04:05Z",
	  config: ({Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"]} + $extra),
	  rootfs: {type: "layers", diff_ids: $diffs}}' >"$tmp/config"
read -r cd cs < <(put "$tmp/config")
jq -n --arg cd "$cd" --argjson cs "$cs" --argjson layers "$layers" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json",
	  config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $cd, size: $cs},
	  layers: $layers}' >"$tmp/manifest"
read -r md ms < <(put "$tmp/manifest")
echo '{"imageLayoutVersion": "1.0.0"}' >"$out/oci-layout"
jq -n --arg md "$md" --argjson ms "$ms" --arg tag "${IMG_TAG:-latest}" \
	'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json",
	  digest: $md, size: $ms, annotations: {"org.opencontainers.image.ref.name": $tag}}]}' >"$out/index.json"
