#!/usr/bin/env bash
# Builds the Debian bookworm root filesystem that test/harness/nspawn boots
# with systemd-nspawn (a full systemd with D-Bus and journald), into a cache
# outside the repository keyed by a hash of the recipe below, and prints its
# path.
#
# Idempotent: if the rootfs is already cached it only prints the path. The
# first build (debootstrap from deb.debian.org) takes a few minutes on 2
# cores; later runs are instant. Needs root and debootstrap.
#
#   NODEAGENT_CACHE          cache root (default: $HOME/.cache/nodeagent)
#   NODEAGENT_DEBIAN_MIRROR  mirror (default: http://deb.debian.org/debian)
#
# Use:  NODEAGENT_ROOTFS="$(test/tools/build-rootfs.sh)" go test ./...
#       test/tools/build-rootfs.sh --print-path   # the cache path, built or not
set -euo pipefail

suite=bookworm
mirror="${NODEAGENT_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
# What the tests need inside a node: systemd + D-Bus + journald to manage
# units, ufw/iptables for the firewall step, iproute2 for addresses,
# util-linux/kmod/procps for disks and processes, ca-certificates for TLS.
packages=systemd,systemd-sysv,dbus,libpam-systemd,iproute2,iputils-ping,netbase,ufw,iptables,kmod,util-linux,ca-certificates,procps
# Units that either need a real console or the network outside the test, or
# only add boot time in a throwaway container.
masked=(
	console-getty.service container-getty@.service getty@.service
	systemd-firstboot.service
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer
	systemd-networkd-wait-online.service
)
# Bump rev when the post-install steps below change.
rev=1
recipe="$suite|$packages|${masked[*]}|rev$rev"
key="$(printf '%s' "$recipe" | sha256sum | cut -c1-12)"

cache="${NODEAGENT_CACHE:-$HOME/.cache/nodeagent}"
dir="$cache/rootfs-$suite-$key"

if [[ "${1:-}" == --print-path || -f "$dir/.nodeagent-rootfs" ]]; then
	echo "$dir"
	exit 0
fi
if [[ $EUID -ne 0 ]]; then
	echo "build-rootfs.sh: debootstrap needs root" >&2
	exit 1
fi
command -v debootstrap >/dev/null || {
	echo "build-rootfs.sh: debootstrap not installed (apt-get install debootstrap)" >&2
	exit 1
}

mkdir -p "$cache"
# Build into a temp directory and rename when complete, so an interrupted
# build is never taken for a finished one.
tmp="$(mktemp -d "$cache/.rootfs-$suite-$key.XXXXXX")"
trap 'rm -rf --one-file-system "$tmp"' EXIT

start=$SECONDS
echo "building $suite rootfs into $dir (takes minutes)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$tmp" "$mirror" >&2

# Each container gets its own machine-id from the harness; an empty file
# keeps the image from carrying one that every copy would share.
: >"$tmp/etc/machine-id"
rm -f "$tmp/var/lib/dbus/machine-id"
echo nodeagent-test >"$tmp/etc/hostname"
# Persistent journal, so `journalctl --root` finds it after the unit is gone.
mkdir -p "$tmp/var/log/journal"
chroot "$tmp" systemctl mask "${masked[@]}" >&2
# debootstrap leaves the downloaded .debs behind; they are 100+ MB of copy
# time for every container.
rm -rf "$tmp"/var/cache/apt/archives/*.deb "$tmp"/var/lib/apt/lists/*
printf '%s\n' "$recipe" >"$tmp/.nodeagent-rootfs"

mv -T "$tmp" "$dir"
trap - EXIT
echo "built $suite rootfs in $((SECONDS - start))s" >&2
echo "$dir"
