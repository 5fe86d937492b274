// Package preflight holds the host checks a Raspberry Pi must pass before
// k3s can run there, and the one fix nodeagent makes itself: the memory
// cgroup (enabled on the kernel command line, then a reboot), the kernel
// modules, swap, and a synchronised clock (the Pi has no RTC, and TLS needs
// the right time). `nodeagent join` runs them as its first step and
// `nodeagent doctor` reports them.
//
// Every check reads host files through host.Root, so the checks are
// table-tested on temp trees.
package preflight
