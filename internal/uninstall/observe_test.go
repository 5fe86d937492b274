package uninstall

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Observe over a fixture tree: only non-empty k3s unit files count, only
// the mount units nodeagent wrote, the shim by its program under k3s's data
// directory with the parents of every process, and mount points unescaped.
func TestObserve(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	write(t, root.Path(UnitDir+"/k3s.service"), "[Service]\n")
	write(t, root.Path(UnitDir+"/k3s-agent.service"), "") // empty: install.sh skips it too
	write(t, root.Path(UnitDir+"/mnt-hd1.mount"), MountUnitHeader+" label=hd1; edits are replaced.\n[Mount]\n")
	write(t, root.Path(UnitDir+"/mnt-usb.mount"), "# the owner's own\n[Mount]\n")
	write(t, root.Path("/lib/systemd/system/"+DaemonUnit), "[Service]\n")
	write(t, root.Path("/proc/1/stat"), "1 (systemd) S 0 1 1\n")
	write(t, root.Path("/proc/1/cmdline"), "/sbin/init\x00")
	write(t, root.Path("/proc/70/stat"), "70 (containerd-shim) S 1 70 70\n")
	write(t, root.Path("/proc/70/cmdline"), DataDir+"/data/abc/bin/containerd-shim-runc-v2\x00-namespace\x00k8s.io\x00")
	write(t, root.Path("/proc/71/stat"), "71 (pause (x)) S 70 71 71\n")
	write(t, root.Path("/proc/71/cmdline"), "/pause\x00")
	write(t, root.Path("/proc/self/mountinfo"), "25 1 8:1 / / rw - ext4 /dev/sda1 rw\n"+
		"40 25 0:50 / /var/lib/kubelet/pods/u\\0401/volumes rw - tmpfs tmpfs rw\n")
	write(t, root.Path(BinDir+"/k3s"), "elf")
	write(t, root.Path(EtcdDataDir+"/etcd/name"), "x")
	run := &host.FakeRunner{Responses: map[string]string{
		"ip netns list":   "cni-1 (id: 0)\n",
		"ip -o link show": "1: lo: <LOOPBACK> mtu 65536\n5: cni0: <BROADCAST> mtu 1450\n",
		"iptables-save":   "*filter\nCOMMIT\n",
		"ip6tables-save":  "",
	}}
	o, err := Observe(context.Background(), root, run, "/var/lib/nodeagent/left")
	if err != nil {
		t.Fatal(err)
	}
	want := Observed{
		K3sUnits:   []string{"k3s.service"},
		DaemonUnit: true,
		MountUnits: []string{"mnt-hd1.mount"},
		Procs:      map[int]int{1: 0, 70: 1, 71: 70},
		Shims:      []int{70},
		Mounts:     []string{"/", "/var/lib/kubelet/pods/u 1/volumes"},
		NetNS:      []string{"cni-1"},
		Links:      []Link{{Name: "lo"}, {Name: "cni0"}},
		Rules:      map[string]string{"iptables-save": "*filter\nCOMMIT\n", "ip6tables-save": ""},
		Present:    map[string]bool{EtcdDataDir: true, DataDir: true, BinDir + "/k3s": true},
		Symlinks:   map[string]string{},
	}
	if diff := cmp.Diff(want, o); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}
