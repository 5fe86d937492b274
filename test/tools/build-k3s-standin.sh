#!/usr/bin/env bash
# Builds the TEST-ONLY k3s stand-in (k3s-standin/, see its README.md) into a
# cache outside the repository keyed by a hash of its sources and go.sum, and
# prints the binary's path. The binary is named k3s because nodeagent installs
# it under that name; it is not k3s.
#
# Idempotent: if the binary for these sources is cached it only prints the
# path. The stand-in links the kube-apiserver, kube-scheduler,
# kube-controller-manager and the kubelet (kubemark's hollow kubelet): with an
# empty Go build cache a build takes about 11 minutes on 2 cores; with the
# packages in the cache (same flags: CGO_ENABLED=0 -trimpath) a change to the
# stand-in's own sources relinks in about 15 s.
#
#   NODEAGENT_CACHE   cache root (default: $HOME/.cache/nodeagent)
#
# Use:  K3S_STANDIN="$(test/tools/build-k3s-standin.sh)"
#
# TEST-ONLY variants for upgrade tests, built from the same sources (the Go
# build cache holds the compiled packages, so a variant costs a link) and
# cached beside the main build under the same hash:
#   --version V       reports V (`k3s --version`, the Node's kubelet version)
#                     instead of v1.37.2+k3s-standin: k3s-V
#   --fail-at-start   `k3s server` exits 1 at once: k3s-V-fail-at-start
#   B="$(test/tools/build-k3s-standin.sh --version v1.33.6+k3s1 --fail-at-start)"
set -euo pipefail

version="" fail=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--version) version="${2:?--version needs a value}"; shift 2 ;;
	--fail-at-start) fail=1; shift ;;
	*) echo "build-k3s-standin.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
if [[ -n "$version" && ! "$version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+\+k3s[0-9]+$ ]]; then
	echo "build-k3s-standin.sh: --version $version is not like v1.33.5+k3s1" >&2
	exit 2
fi

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/k3s-standin" && pwd)"
repo="$(cd "$src/../../.." && pwd)"
cache="${NODEAGENT_CACHE:-$HOME/.cache/nodeagent}"

# The real CRDs the stand-in embeds (crds.go), at the versions default.yaml
# pins, from the projects' Go modules (the module cache keeps them).
(cd "$repo" && go run ./test/tools/chart-crds -out "$src/crds") >&2

# The hash covers what the binary is built from: the Go sources (tests
# excluded), the module files and the embedded CRDs.
hash="$(cd "$src" && find . crds -maxdepth 1 -type f \( -name '*.go' ! -name '*_test.go' -o -name go.mod -o -name go.sum -o -name '*.json' \) -print0 |
	sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)"
dir="$cache/k3s-standin-$hash"
name=k3s
[[ -n "$version" ]] && name="$name-$version"
[[ -n "$fail" ]] && name="$name-fail-at-start"
bin="$dir/$name"

if [[ -x "$bin" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$dir"
tmp="$(mktemp "$dir/.$name.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

start=$SECONDS
echo "building the k3s test stand-in into $bin (takes minutes)" >&2
# Build to a temp name and rename, so an interrupted build never leaves a
# half-written binary that a later run would take for a finished one.
# The stamp makes the embedded kube-apiserver report its real version
# instead of "v0.0.0-master"; keep it in step with k8s.io/kubernetes in go.mod.
pkg=k8s.io/component-base/version
ldflags="-s -w -X $pkg.gitVersion=v1.37.2 -X $pkg.gitMajor=1 -X $pkg.gitMinor=37 -X $pkg.gitTreeState=clean"
# The variants stamp only the stand-in's own version: the embedded
# kube-apiserver keeps its real one (its compatibility checks derive from it).
[[ -n "$version" ]] && ldflags="$ldflags -X main.Version=$version"
[[ -n "$fail" ]] && ldflags="$ldflags -X main.failAtStart=1"
(cd "$src" && CGO_ENABLED=0 go build -mod=readonly -trimpath -ldflags="$ldflags" -o "$tmp" .)
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "built the k3s test stand-in in $((SECONDS - start))s" >&2
echo "$bin"
