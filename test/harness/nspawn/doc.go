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
// Host findings on the reference machine (kernel 6.18, hybrid cgroup v1+v2
// at /sys/fs/cgroup, PID 1 not systemd, Debian's systemd-nspawn 252): nspawn
// boots the bookworm rootfs to "running" with no special setup; without a
// host systemd it needs --register=no (no machined) and --keep-unit (no
// scope to create). Without SYSTEMD_NSPAWN_UNIFIED_HIERARCHY=1 the container
// inherits the host's hybrid cgroup layout; with it (what Boot sets) the
// container sees a pure cgroup v2 tree like a Pi running bookworm. nspawn
// prints a harmless `Attempted to remove disk file system under
// "/run/systemd/nspawn/propagate/<name>"` on shutdown.
//
// Figures on that machine (2 cores): overlay root 0.6 ms vs 17 s for
// `cp -a` (ext4 has no reflinks); boot to running 0.25–1.8 s depending on
// load, three parallel boots 0.25–1.1 s each; stop (SIGTERM, orderly halt)
// ~0.25 s. Building the rootfs from scratch: 2.5 min, 28 min while other
// builds saturated the disk.
package nspawn
