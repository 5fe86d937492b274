package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/serverwork"
)

// checkClusterStatus: `nodeagent status --cluster` on each server shows the
// whole homelab from that one Pi: three registered, Ready servers, each
// with one healthy voting etcd member, the Ready agent without one,
// nodeagent's condition True and its owned labels (pi4-2's zigbee, pi5's
// storage), and the last apply.
func (sc *scenario) checkClusterStatus(t *testing.T) {
	for _, n := range sc.h.each() {
		var st serverwork.ClusterStatus
		poll(t, n.name+": status --cluster shows the whole homelab", time.Minute, pollEvery, func() error {
			out, err := n.exec("nodeagent", "status", "--cluster", "-o", "json")
			if err != nil {
				return err
			}
			st = serverwork.ClusterStatus{}
			if err := json.Unmarshal([]byte(out), &st); err != nil {
				return fmt.Errorf("decoding %q: %w", out, err)
			}
			return wholeHomelab(st)
		})
		text := n.mustExec(t, "nodeagent", "status", "--cluster")
		for _, name := range append(slices.Clone(nodeOrder), agentName) {
			if !slices.ContainsFunc(strings.Split(text, "\n"), func(l string) bool { return strings.HasPrefix(l, name+" ") }) {
				t.Errorf("%s: status --cluster has no row of %s:\n%s", n.name, name, text)
			}
		}
		if n.name == "pi5" {
			t.Logf("status --cluster on pi5:\n%s", text)
		}
	}
	sc.sum.add("status --cluster", "ok", "every server shows 3 Ready servers, 3 healthy voters, the Ready agent, NodeagentReady=True")
}

// wholeHomelab is what a converged homelab's cluster status says.
func wholeHomelab(st serverwork.ClusterStatus) error {
	if st.EtcdError != "" {
		return fmt.Errorf("etcd: %s", st.EtcdError)
	}
	var names []string
	applied := false
	for _, node := range st.Nodes {
		names = append(names, node.Name)
		role, members := "server", 1
		if node.Name == agentName {
			role, members = "agent", 0
		}
		switch {
		case !node.Registered || node.Ready != "True":
			return fmt.Errorf("%s: registered %v, Ready %q", node.Name, node.Registered, node.Ready)
		case node.Role != role:
			return fmt.Errorf("%s: role %q, want %s", node.Name, node.Role, role)
		case len(node.Etcd) != members:
			return fmt.Errorf("%s: etcd members %+v, want %d", node.Name, node.Etcd, members)
		case members == 1 && (node.Etcd[0].Learner || !node.Etcd[0].Healthy):
			return fmt.Errorf("%s: etcd member %+v, want a healthy voter", node.Name, node.Etcd[0])
		case node.NodeagentReady == nil || node.NodeagentReady.Status != "True":
			return fmt.Errorf("%s: %s condition %+v, want True", node.Name, kube.ConditionType, node.NodeagentReady)
		}
		if node.LastApply != nil {
			applied = true
		}
	}
	if want := append(slices.Clone(nodeOrder), agentName); !slices.Equal(names, want) {
		return fmt.Errorf("nodes %v, want %v", names, want)
	}
	if !applied {
		return fmt.Errorf("no node shows a last apply")
	}
	labels := map[string]map[string]string{}
	for _, node := range st.Nodes {
		labels[node.Name] = node.OwnedLabels
	}
	if labels["pi4-2"]["zigbee"] != "true" || labels["pi5"]["storage-type"] != "hdd" {
		return fmt.Errorf("owned labels %v: want zigbee=true on pi4-2, storage-type=hdd on pi5", labels)
	}
	return nil
}
