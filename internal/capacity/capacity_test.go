package capacity

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

const mi = 1 << 20

// docTable is one node's "Resource Allocation" table of
// homelab-architecture.md: its k3s row and its totals as printed.
type docTable struct {
	k3sRow            string
	k3s               Usage
	workloads         []string
	totalGB, cpu      float64
	headroomCPU       float64
	treeGB            float64 // "Total" of the Hardware Layout tree
	treeWorkloadNames []string
}

var architecture = map[string]docTable{
	"pi4-1": {k3sRow: "k3s server", k3s: Usage{500 * mi, 500}, workloads: []string{"beszel", "nginx-proxy-manager", "pihole"},
		totalGB: 1.1, cpu: 0.8, headroomCPU: 3.2, treeGB: 1.1,
		treeWorkloadNames: []string{"beszel", "nginx-proxy-manager", "pihole"}},
	"pi4-2": {k3sRow: "k3s agent", k3s: Usage{200 * mi, 300}, workloads: []string{"home-assistant", "nginx-proxy-manager", "pihole"},
		totalGB: 1.5, cpu: 1.0, headroomCPU: 3.0, treeGB: 2.85,
		treeWorkloadNames: []string{"home-assistant", "immich-redis", "nginx-proxy-manager", "pihole"}},
	"pi5": {k3sRow: "k3s agent", k3s: Usage{200 * mi, 300},
		workloads: []string{"filebrowser", "immich-machine-learning", "immich-postgres", "immich-redis", "immich-server"},
		totalGB:   4, cpu: 4.0, headroomCPU: 0.0, treeGB: 4.5,
		treeWorkloadNames: []string{"filebrowser", "immich-machine-learning", "immich-postgres", "immich-redis", "immich-server"}},
}

// docOptions replays the tables' own assumptions: their k3s rows, and no
// beszel-agent (the tables leave it out).
func docOptions() Options {
	o := Options{NodeOverhead: map[string]Usage{}, Ignore: []string{"beszel-agent"}}
	for node, d := range architecture {
		o.NodeOverhead[node] = d.k3s
	}
	return o
}

func workloadsOn(t NodeTotal) []string {
	var out []string
	for _, w := range t.Workloads {
		name, _, _ := strings.Cut(w, "#")
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func TestReproducesArchitectureTables(t *testing.T) {
	c := homelab(t)
	r, err := Analyze(c, render(t, c), docOptions())
	if err != nil {
		t.Fatal(err)
	}
	for _, total := range r.Nodes {
		name := total.Node.Name
		doc := architecture[name]
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(doc.workloads, workloadsOn(total)); diff != "" {
				t.Errorf("workloads (-doc +computed):\n%s", diff)
			}
			// The tables print memory as "~1.1GB" (one decimal, MB rows
			// summed with 1GB = 1024MB) and CPU to one decimal.
			gotGB := float64(total.Total().Memory) / (1 << 30)
			if d := gotGB - doc.totalGB; d < -0.05 || d > 0.05 {
				t.Errorf("memory total %.2fGB, doc says ~%.1fGB", gotGB, doc.totalGB)
			}
			if got := float64(total.Total().CPU) / 1000; got != doc.cpu {
				t.Errorf("CPU total %.2f, doc says %.1f", got, doc.cpu)
			}
			if got := float64(total.Free().CPU) / 1000; got != doc.headroomCPU {
				t.Errorf("CPU headroom %.2f, doc says %.1f", got, doc.headroomCPU)
			}
		})
	}
	if len(r.Errors) != 0 {
		t.Errorf("errors under the doc's assumptions: %v", r.Errors)
	}
}

// TestNamesArchitectureInconsistencies computes where the architecture
// disagrees with itself or with the cluster it describes.
func TestNamesArchitectureInconsistencies(t *testing.T) {
	c := homelab(t)
	set := render(t, c)
	real, err := Analyze(c, set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, name := range []string{"pi4-1", "pi4-2", "pi5"} {
		doc := architecture[name]
		n, _ := c.Node(name)
		if doc.k3sRow == "k3s agent" && n.Role == config.RoleServer {
			got = append(got, fmt.Sprintf("%s: table counts a k3s agent (%s) but the node is a server with etcd (%s used here; the tree says ~700MB)",
				name, formatUsage(doc.k3s), formatUsage(DefaultServerOverhead)))
		}
		if doc.treeGB != doc.totalGB {
			got = append(got, fmt.Sprintf("%s: tree total ~%.2fGB, table total ~%.1fGB", name, doc.treeGB, doc.totalGB))
		}
	}
	seen := map[string][]string{}
	for _, name := range []string{"pi4-1", "pi4-2", "pi5"} {
		for _, w := range architecture[name].treeWorkloadNames {
			seen[w] = append(seen[w], name)
		}
	}
	for _, w := range config.SortedKeys(seen) {
		if len(seen[w]) > 1 && c.Workloads[w].Replicas < 2 {
			got = append(got, fmt.Sprintf("%s: one replica, but the tree lists it on %v", w, seen[w]))
		}
	}
	for _, total := range real.Nodes {
		if doc := architecture[total.Node.Name]; doc.headroomCPU == 0 && total.Free().CPU < 0 {
			got = append(got, fmt.Sprintf("%s: table CPU headroom 0.0; with beszel-agent and k3s server the node needs %.2f of %.2f cpu",
				total.Node.Name, float64(total.Total().CPU)/1000, float64(total.Node.Capacity.CPU)/1000))
		}
	}
	want := []string{
		"pi4-2: table counts a k3s agent (200Mi/0.30cpu) but the node is a server with etcd (500Mi/0.50cpu used here; the tree says ~700MB)",
		"pi4-2: tree total ~2.85GB, table total ~1.5GB",
		"pi5: table counts a k3s agent (200Mi/0.30cpu) but the node is a server with etcd (500Mi/0.50cpu used here; the tree says ~700MB)",
		"pi5: tree total ~4.50GB, table total ~4.0GB",
		"immich-redis: one replica, but the tree lists it on [pi4-2 pi5]",
		"pi5: table CPU headroom 0.0; with beszel-agent and k3s server the node needs 4.25 of 4.00 cpu",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("inconsistencies (-want +got):\n%s", diff)
	}
	// The report itself warns about the last one.
	if !slices.ContainsFunc(real.Warnings, func(w string) bool { return strings.HasPrefix(w, "pi5: pods request 3922Mi/3.75cpu") }) {
		t.Errorf("no pi5 overcommitment warning in %q", real.Warnings)
	}
}

// smallCluster is a three-node cluster for placement edge cases: a and b
// servers, c with the HDD.
func smallCluster(mem map[string]string, workloads map[string]config.Workload) *config.Cluster {
	c := &config.Cluster{Metadata: config.Metadata{Name: "t"}, Workloads: workloads}
	off := new(bool)
	c.Platform.MetalLB.Enabled, c.Platform.CertManager.Enabled, c.Platform.SealedSecrets.Enabled = off, off, off
	for _, name := range []string{"a", "b", "c"} {
		n := config.Node{Name: name, Role: config.RoleServer, Arch: "arm64", Capacity: config.Capacity{Memory: mem[name], CPU: "2"}}
		if name == "c" {
			n.Disks = []config.Disk{{MountPoint: "/mnt/hd1", Labels: map[string]string{"storage-type": "hdd"}}}
		}
		c.Nodes = append(c.Nodes, n)
	}
	return c
}

func TestCapacityProblems(t *testing.T) {
	hdd := map[string]string{"storage-type": "hdd"}
	tests := []struct {
		name           string
		mem            map[string]string
		workloads      map[string]config.Workload
		errs, warnings []string
	}{{
		name: "SOFT replica without room after a failure",
		mem:  map[string]string{"a": "2Gi", "b": "2Gi", "c": "1Gi"},
		workloads: map[string]config.Workload{"immich-machine-learning": {Image: "m", Replicas: 2, Prefer: []string{"a", "b"},
			Resources: config.Capacity{Memory: "1200Mi", CPU: "100m"}}},
		warnings: []string{
			"if a fails, immich-machine-learning#1 (SOFT, needs 1200Mi/0.10cpu) does not fit on [b c]",
			"if b fails, immich-machine-learning#2 (SOFT, needs 1200Mi/0.10cpu) does not fit on [a c]",
		},
	}, {
		// A StatefulSet replica is held by its volume, but the other
		// replica serves: nothing to warn about.
		name: "replicated state survives on the other node",
		mem:  map[string]string{"a": "2Gi", "b": "2Gi", "c": "1Gi"},
		workloads: map[string]config.Workload{"pihole": {Image: "p", Replicas: 2, Prefer: []string{"a", "b"},
			Resources: config.Capacity{Memory: "1200Mi", CPU: "100m"}}},
	}, {
		name:      "single replica held by its volume",
		mem:       map[string]string{"a": "2Gi", "b": "2Gi", "c": "1Gi"},
		workloads: map[string]config.Workload{"beszel": {Image: "b", Prefer: []string{"a"}, Resources: config.Capacity{Memory: "100Mi", CPU: "100m"}}},
		warnings:  []string{"if a fails, beszel cannot move although its rule is SOFT: its local-path volume is on a"},
	}, {
		name:      "HARD without room",
		mem:       map[string]string{"a": "4Gi", "b": "4Gi", "c": "1Gi"},
		workloads: map[string]config.Workload{"filebrowser": {Image: "f", Require: hdd, Resources: config.Capacity{Memory: "2Gi", CPU: "100m"}}},
		errs:      []string{"filebrowser (HARD, needs 2048Mi/0.10cpu) does not fit on [c]"},
	}, {
		name: "HARD label no node carries",
		mem:  map[string]string{"a": "4Gi", "b": "4Gi", "c": "4Gi"},
		workloads: map[string]config.Workload{"home-assistant": {Image: "h", Require: map[string]string{"zigbee": "true"},
			Resources: config.Capacity{Memory: "100Mi", CPU: "100m"}}},
		errs: []string{"home-assistant: no node can carry map[zigbee:true]"},
	}, {
		name: "SOFT preference not met",
		mem:  map[string]string{"a": "1Gi", "b": "4Gi", "c": "4Gi"},
		workloads: map[string]config.Workload{"immich-machine-learning": {Image: "m", Prefer: []string{"a"},
			Resources: config.Capacity{Memory: "2Gi", CPU: "1"}}},
		warnings: []string{"immich-machine-learning prefers [a] but is placed on b: no room there"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := smallCluster(tc.mem, tc.workloads)
			set, err := manifests.Render(c)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Analyze(c, set, Options{ServerOverhead: Usage{1, 1}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.errs, r.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.warnings, r.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s\n%s", diff, r)
			}
		})
	}
}

func TestFailureOfHomelabNodes(t *testing.T) {
	r, err := Check(homelab(t))
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		Quorum       bool
		Lost, Pinned []string
		ServedBy     []string
		Moved        []string
		Unplaced     []string
	}
	want := map[string]outcome{
		// The replicas of pihole and npm wait for their volume's node; the
		// other replica keeps the service up.
		"pi4-1": {Quorum: true, Pinned: []string{"pihole#1", "nginx-proxy-manager#1", "beszel"},
			ServedBy: []string{"pihole#2@pi4-2", "nginx-proxy-manager#2@pi4-2"}},
		"pi4-2": {Quorum: true, Lost: []string{"home-assistant"}, Pinned: []string{"pihole#2", "nginx-proxy-manager#2"},
			ServedBy: []string{"pihole#1@pi4-1", "nginx-proxy-manager#1@pi4-1"}},
		"pi5": {Quorum: true, Lost: []string{"immich-server", "filebrowser"}, Pinned: []string{"immich-postgres"},
			Moved: []string{"immich-machine-learning→pi4-1", "immich-redis→pi4-2"}},
	}
	got := map[string]outcome{}
	for _, f := range r.Failures {
		o := outcome{Quorum: f.Quorum, Lost: f.Lost, Pinned: f.Pinned, ServedBy: f.ServedBy, Unplaced: f.Unplaced}
		for _, m := range f.Moved {
			o.Moved = append(o.Moved, m.Pod.Name()+"→"+m.Node)
		}
		got[f.Node] = o
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("single-node failures (-want +got):\n%s", diff)
	}
	if len(r.Errors) != 0 {
		t.Errorf("the homelab default has capacity errors: %v", r.Errors)
	}
}

func TestTaintsKeepPodsAway(t *testing.T) {
	c := smallCluster(map[string]string{"a": "4Gi", "b": "4Gi", "c": "4Gi"}, map[string]config.Workload{
		"beszel-agent": {Image: "x", Resources: config.Capacity{Memory: "50Mi", CPU: "50m"}},
		"immich-redis": {Image: "r", Prefer: []string{"a"}, Resources: config.Capacity{Memory: "100Mi", CPU: "100m"}},
	})
	c.Nodes[0].Taints = []string{"node-role.kubernetes.io/control-plane=true:NoSchedule"}
	c.Nodes[1].Taints = []string{"dedicated=gpu:NoSchedule"}
	set, err := manifests.Render(c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Analyze(c, set, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range r.Placements {
		got = append(got, p.Pod.Name()+"→"+p.Node)
	}
	want := []string{"beszel-agent→a", "beszel-agent→c", "immich-redis→c"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("placements (-want +got):\n%s", diff)
	}
}

func TestQuorumAfterFailure(t *testing.T) {
	c := smallCluster(map[string]string{"a": "4Gi", "b": "4Gi", "c": "4Gi"}, map[string]config.Workload{})
	c.Nodes[2].Role = config.RoleAgent
	r, err := Analyze(c, manifests.Set{}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"if a fails, etcd loses quorum: 1 of 2 servers remain",
		"if b fails, etcd loses quorum: 1 of 2 servers remain",
	}
	if diff := cmp.Diff(want, r.Warnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
	if r.Failures[2].Node != "c" || !r.Failures[2].Quorum {
		t.Errorf("losing the agent c must keep quorum: %+v", r.Failures[2])
	}
}
