// Package systemd manages systemd units over D-Bus (never by running
// systemctl) and speaks the sd_notify protocol for nodeagent itself.
//
// Manager installs unit files under a host.Root, enables, starts, restarts
// and stops units through org.freedesktop.systemd1, waits for them to become
// active and reports their state; when a unit fails, the error carries its
// ActiveState, SubState, Result and the last lines of its journal. Every
// change is observed first: an unchanged unit file is not rewritten and
// triggers no daemon-reload, an enabled unit is not enabled again.
//
// Notifier sends READY, STATUS, WATCHDOG and STOPPING to the service manager
// (k3s-io/k3s pkg/agent/run.go does the same), and ChildEnv keeps
// NOTIFY_SOCKET and WATCHDOG_* out of the commands nodeagent runs, so a child
// cannot report readiness in nodeagent's name.
//
// Tests reach a container's system bus from the host with WithBusSocket and
// a Root at /proc/<pid>/root (see test/harness/nspawn).
package systemd
