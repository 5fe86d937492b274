#!/usr/bin/env bash
# Installs the Debian packages the tests need, and only those missing, so a
# second run changes nothing and needs no network. Needs root (make test
# gets it through test/tools/as-root.sh).
set -euo pipefail
packages=(
	ufw iptables iproute2 kmod util-linux mount fdisk e2fsprogs xfsprogs dosfstools # firewall and disk labs
	systemd debootstrap systemd-container dbus                                       # nspawn nodes, journald
	lintian curl ca-certificates qemu-user-static                                    # the .deb and its arm64 build
	nginx-core                                                                       # the proxy hosts' config under a real nginx
)
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "installing ${missing[*]} needs root: run as root or with sudo" >&2
	exit 1
fi
echo "installing the Debian packages the tests need: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
