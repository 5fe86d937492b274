#!/usr/bin/env bash
# Runs its arguments as root: directly in a root shell (a fresh Debian has
# no sudo), else through sudo with this PATH, so the same Go is found. The
# tests need root for namespaces, loop devices, ufw and containers.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
	exec "$@"
fi
if ! command -v sudo >/dev/null; then
	echo "the tests need root: run this as root (sudo is not installed)" >&2
	exit 1
fi
exec sudo env "PATH=$PATH" "$@"
