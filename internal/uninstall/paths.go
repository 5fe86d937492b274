package uninstall

// What k3s's install.sh puts on a node (and nodeagent's k3s step writes the
// same way), as its k3s-killall.sh and k3s-uninstall.sh remove it.
const (
	// UnitDir holds k3s's units and nodeagent's mount units.
	UnitDir = "/etc/systemd/system"
	// DaemonUnit is nodeagent's own daemon.
	DaemonUnit = "nodeagent.service"
	// BinDir holds the k3s binary, its links and install.sh's scripts.
	BinDir = "/usr/local/bin"
	// DataDir is k3s's data directory (K3S_DATA_DIR's default).
	DataDir = "/var/lib/rancher/k3s"
	// EtcdDataDir is the embedded etcd's data (and kine's database): moved
	// aside, not deleted, unless purging.
	EtcdDataDir = DataDir + "/server/db"
	// AsideDir is where EtcdDataDir goes, followed by the UTC time.
	AsideDir = "/var/lib/rancher/k3s-server-db."
	// MountUnitHeader starts every mount unit internal/disk writes.
	MountUnitHeader = "# Written by nodeagent for the disk"
)

// Trees are the directories k3s-uninstall.sh removes (DataDir without
// crossing into another filesystem mounted below it).
var Trees = []string{
	"/etc/rancher/k3s",
	"/run/k3s",
	"/run/flannel",
	DataDir,
	"/var/lib/kubelet",
	"/var/lib/cni",
}

// Files are the single files k3s-uninstall.sh removes.
var Files = []string{
	BinDir + "/k3s",
	BinDir + "/k3s-killall.sh",
	BinDir + "/k3s-uninstall.sh",
	BinDir + "/k3s-agent-uninstall.sh",
}

// LinkNames are the commands install.sh links to k3s in BinDir.
var LinkNames = []string{"kubectl", "crictl", "ctr"}

// MountPrefixes are the mounts k3s-killall.sh unmounts: every mount point
// starting with one of them (so "/run/netns/cni-" matches each CNI netns).
var MountPrefixes = []string{
	"/run/k3s",
	"/var/lib/kubelet/pods",
	"/var/lib/kubelet/plugins",
	"/run/netns/cni-",
}

// Interfaces are the ones k3s-killall.sh deletes by name, after the veths
// enslaved to cni0.
var Interfaces = []string{"cni0", "flannel.1", "flannel-v6.1", "kube-ipvs0", "flannel-wg", "flannel-wg-v6"}
