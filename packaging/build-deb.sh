#!/usr/bin/env bash
# Build nodeagent_<version>_<arch>.deb with dpkg-deb from built binaries.
# Usage: packaging/build-deb.sh VERSION ARCH BINDIR OUTDIR
# BINDIR holds nodeagent (the command line) and nodeagentd (the daemon that
# `nodeagent run` hands over to) built for ARCH.
set -euo pipefail
version=$1 arch=$2 bindir=$3 outdir=$4
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
# Dates in the package (manual pages, changelog) are the last commit's, so
# the same commit builds the same package.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 1)}"
stage=$(mktemp -d)
chmod 0755 "$stage" # mktemp makes it 0700, which would be the mode of ./ in the .deb
trap 'rm -rf "$stage" "$stage.gen"' EXIT

install -D -m 0755 "$bindir/nodeagent" "$stage/usr/bin/nodeagent"
install -D -m 0755 "$bindir/nodeagentd" "$stage/usr/lib/nodeagent/nodeagentd"
install -D -m 0644 "$top/systemd/nodeagent.service" "$stage/usr/lib/systemd/system/nodeagent.service"
install -d -m 0755 "$stage/etc/nodeagent/manifests.d"
# The homelab is an example, never the active configuration: the daemon
# waits until the owner puts a cluster file naming this machine in /etc.
install -D -m 0644 "$top/internal/config/default.yaml" "$stage/usr/share/doc/nodeagent/examples/cluster.yaml"
install -D -m 0644 "$top/README.md" "$stage/usr/share/doc/nodeagent/README.md"
# Manual pages from the commands' own help; they do not depend on ARCH, so
# the generator runs for this machine.
man="$stage/usr/share/man/man1"
gen="$stage.gen"
(cd "$top" && env -u GOOS -u GOARCH CGO_ENABLED=0 \
  go build -trimpath -ldflags "-X main.version=$version" -o "$gen" ./cmd/nodeagent)
"$gen" gen-man "$man"
gzip -9n "$man"/*.1
chmod 0644 "$man"/*.1.gz
install -d -m 0755 "$stage/usr/share/bash-completion/completions"
"$gen" completion bash > "$stage/usr/share/bash-completion/completions/nodeagent"
chmod 0644 "$stage/usr/share/bash-completion/completions/nodeagent"
rm -f "$gen"
install -D -m 0644 "$here/deb/lintian-overrides" "$stage/usr/share/lintian/overrides/nodeagent"
install -D -m 0644 "$here/deb/copyright" "$stage/usr/share/doc/nodeagent/copyright"
printf '%s\n' "nodeagent ($version) unstable; urgency=medium" "" "  * Release $version." "" \
  " -- nodeagent maintainers <maintainers@nodeagent.invalid>  $(date -R -d @"$SOURCE_DATE_EPOCH")" \
  | gzip -9n > "$stage/usr/share/doc/nodeagent/changelog.gz"
chmod 0644 "$stage/usr/share/doc/nodeagent/changelog.gz"

install -d -m 0755 "$stage/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" "$here/deb/control.in" > "$stage/DEBIAN/control"
for s in preinst postinst prerm postrm; do install -m 0755 "$here/deb/$s" "$stage/DEBIAN/$s"; done

mkdir -p "$outdir"
out="$outdir/nodeagent_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
