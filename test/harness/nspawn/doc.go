// Package nspawn boots real systemd (with D-Bus and journald) in
// systemd-nspawn containers for integration tests.
//
// Boot starts `systemd-nspawn --boot --register=no --keep-unit` on a
// throwaway overlay of the cached Debian rootfs that
// test/tools/build-rootfs.sh builds, finds the container's PID 1 (the
// leader) through /proc, and returns once `systemctl is-system-running`
// inside answers running or degraded. The test then reaches the container
// from the host: Path maps a container path through /proc/<leader>/root,
// BusSocket is the container's system bus, Exec runs a command inside with
// nsenter. Everything is torn down in t.Cleanup; on failure the container's
// journal and console are written to the test log.
//
// Rootfs lookup: $NODEAGENT_ROOTFS, else the cache path the build script
// prints for --print-path. When the rootfs, systemd-nspawn or root is
// missing the test is skipped, or fails when CI=true or
// NODEAGENT_INTEGRATION=1 (then a missing rootfs is built on the spot).
//
// Host requirements found on the reference machine (kernel 6.18, hybrid
// cgroup v1+v2 at /sys/fs/cgroup, PID 1 not systemd, systemd-nspawn 252):
// see the notes at nspawnEnv.
package nspawn
