// Package uninstall takes k3s and nodeagent's own changes off a node: what
// k3s's k3s-killall.sh and k3s-uninstall.sh do (both written by k3s's
// install.sh: stop the units, kill the container shims that KillMode=process
// leaves running, unmount k3s's mounts, delete its network namespaces,
// interfaces and iptables chains, remove its binary, units, config and
// data), plus nodeagent's UFW rules (through internal/firewall) and its
// data-disk mount units (through internal/disk's unit names).
//
// Observe reads the host, Decide (pure) turns what it saw into a Plan, and
// Apply carries the plan out through a host.Root and a host.Runner. It never
// deletes what lies on another filesystem than the tree it removes (a data
// disk mounted under k3s's directories stays, and is reported), and it moves
// etcd's data aside to a dated directory unless told to purge it.
package uninstall
