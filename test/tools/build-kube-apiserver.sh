#!/usr/bin/env bash
# Builds the real kube-apiserver (k8s.io/kubernetes, see kube-apiserver/go.mod)
# for the integration-test harness in test/harness/apiserver, into a cache
# outside the repository keyed by version, and prints the binary's path.
#
# Idempotent: if the binary is already cached it only prints the path. The
# first build takes ~11 minutes on 2 cores; later runs are instant.
#
#   NODEAGENT_CACHE   cache root (default: $HOME/.cache/nodeagent)
#
# Use:  NODEAGENT_KUBE_APISERVER="$(test/tools/build-kube-apiserver.sh)" go test ./...
set -euo pipefail

# Keep in step with the k8s.io/kubernetes version in kube-apiserver/go.mod and
# with the cache path in test/harness/apiserver/binary.go.
version=v1.37.2

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/kube-apiserver" && pwd)"
cache="${NODEAGENT_CACHE:-$HOME/.cache/nodeagent}"
dir="$cache/kube-apiserver-$version"
bin="$dir/kube-apiserver"

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

if ! grep -Eq "^(require)?[[:space:]]*k8s\.io/kubernetes $version\$" "$src/go.mod"; then
	echo "build-kube-apiserver.sh: version $version does not match $src/go.mod" >&2
	exit 1
fi

mkdir -p "$dir"
tmp="$(mktemp "$dir/.kube-apiserver.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

start=$SECONDS
echo "building kube-apiserver $version into $bin (takes minutes)" >&2
# Build to a temp name and rename, so an interrupted build never leaves a
# half-written binary that a later run would take for a finished one.
# Stamp the version the way Kubernetes' release build does
# (hack/lib/version.sh); a plain module build reports "v0.0.0-master".
major="${version#v}"; major="${major%%.*}"
minor="${version#v*.}"; minor="${minor%%.*}"
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
# GOWORK=off: the tools module must build alone, whatever go.work is around.
(cd "$src" && GOWORK=off CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp" .)
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "built kube-apiserver $version in $((SECONDS - start))s" >&2
echo "$bin"
