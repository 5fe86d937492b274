// Package firstboot tests, in a booted Debian container, that a first boot
// needing the memory cgroup on the kernel command line reboots once by
// itself and then finishes the join, and that a command line whose flags
// stay ineffective is reported instead of rebooted again.
//
// The node is pi4-1 of a one-server cluster (testdata/cluster.yaml). After
// the reboot the daemon installs k3s from a local release directory (the
// air-gap install) holding the test-only k3s stand-in
// (test/tools/k3s-standin), starts the cluster, applies the manifests and
// says "in step"; state.json records the join and still the first boot's
// reboot, and the container stays in its second boot.
//
// A container has no firmware: a oneshot unit (fake-firmware) plays it at
// boot, bind-mounting over /proc/cmdline the first line of
// /boot/firmware/cmdline.txt plus whatever /etc/fake-firmware.append holds
// (the Raspberry Pi OS firmware may add arguments after cmdline.txt), and
// over /proc/cgroups and /sys/fs/cgroup/cgroup.controllers a memory
// controller that is on only when the last memory argument enables it, as
// the kernel applies them in order (raspberrypi/linux#6980).
//
// Nor has it a LAN: it runs with only loopback, and a oneshot unit (lan)
// gives it pi4-1's address at every boot on a veth pair whose both ends
// stay inside the container's network namespace.
package firstboot
