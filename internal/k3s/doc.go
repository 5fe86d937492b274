// Package k3s installs and runs k3s on a node: it resolves and verifies the
// release binary (and air-gap images), renders /etc/rancher/k3s/config.yaml
// from the cluster file, writes the systemd unit, starts or restarts k3s only
// when something changed, and orders joins so servers join one at a time.
//
// The package follows the project's observe / pure diff / apply rule: the
// rendering functions (RenderConfig, UnitFile, ResolveRelease, Plan) are pure,
// Installer and Manager compare what is on the host with what is wanted and
// write only the difference, and a second run on an unchanged node writes no
// file and restarts nothing. The Raspberry Pi preflight checks (memory cgroup,
// kernel modules, swap, time sync) read host files through host.Root so they
// are table-tested on temp trees.
package k3s
