package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// nodeSummary is what nodeagent relies on in a Node.
type nodeSummary struct {
	Labels     map[string]string
	InternalIP string
	Ready      string
	Taints     []string
}

// checkNodes polls: a server's READY=1 means its Node is written, but
// another apiserver's watch cache may serve the list a moment later.
func checkNodes(t *testing.T, via *instance, ins []*instance) {
	want := map[string]nodeSummary{}
	for _, in := range ins {
		want[in.name] = nodeSummary{
			Labels: map[string]string{
				"homelab/test": "yes", "homelab/name": in.name,
				"kubernetes.io/hostname": in.name, "kubernetes.io/os": "linux",
				"node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/etcd": "true",
				"node-role.kubernetes.io/master": "true",
			},
			InternalIP: in.ip, Ready: "True", Taints: []string{"dedicated=test:PreferNoSchedule"},
		}
	}
	poll(t, "nodes", 30*time.Second, func() error {
		if diff := cmp.Diff(want, getNodes(t, via)); diff != "" {
			return fmt.Errorf("nodes (-want +got):\n%s", diff)
		}
		return nil
	})
	fi, err := os.Stat(via.path("etc/rancher/k3s/k3s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("k3s.yaml mode = %v, want 0600", fi.Mode().Perm())
	}
}

func getNodes(t *testing.T, via *instance) map[string]nodeSummary {
	var list struct {
		Items []struct {
			Metadata struct {
				Name   string            `json:"name"`
				Labels map[string]string `json:"labels"`
			} `json:"metadata"`
			Spec struct {
				Taints []struct{ Key, Value, Effect string } `json:"taints"`
			} `json:"spec"`
			Status struct {
				Addresses  []struct{ Type, Address string } `json:"addresses"`
				Conditions []struct{ Type, Status string }  `json:"conditions"`
			} `json:"status"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(via.kubectl(t, "get", "nodes", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]nodeSummary{}
	for _, n := range list.Items {
		s := nodeSummary{Labels: map[string]string{}}
		for k, v := range n.Metadata.Labels {
			if strings.HasPrefix(k, "homelab/") || strings.HasPrefix(k, "node-role.") || k == "kubernetes.io/hostname" || k == "kubernetes.io/os" {
				s.Labels[k] = v
			}
		}
		for _, a := range n.Status.Addresses {
			if a.Type == "InternalIP" {
				s.InternalIP = a.Address
			}
		}
		for _, c := range n.Status.Conditions {
			if c.Type == "Ready" {
				s.Ready = c.Status
			}
		}
		for _, tt := range n.Spec.Taints {
			s.Taints = append(s.Taints, fmt.Sprintf("%s=%s:%s", tt.Key, tt.Value, tt.Effect))
		}
		got[n.Metadata.Name] = s
	}
	return got
}

// checkHelmSimulation applies a HelmChart for metallb and then, server-side,
// the IPAddressPool that only becomes served through the simulation.
func checkHelmSimulation(t *testing.T, in *instance) {
	chart := `apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata: {name: metallb, namespace: kube-system}
spec: {chart: metallb, repo: "https://metallb.github.io/metallb", targetNamespace: metallb-system}
`
	pool := `apiVersion: metallb.io/v1beta1
kind: IPAddressPool
metadata: {name: homelab, namespace: default}
spec: {addresses: ["10.77.0.200-10.77.0.220"]}
`
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	in.kubectl(t, "apply", "--server-side", "-f", write("chart.yaml", chart))
	poolFile := write("pool.yaml", pool)
	poll(t, "IPAddressPool served", time.Minute, func() error {
		return in.kubectlErr("apply", "--server-side", "-f", poolFile)
	})
	if got := in.kubectl(t, "get", "ipaddresspools.metallb.io", "homelab", "-o", "jsonpath={.spec.addresses[0]}"); got != "10.77.0.200-10.77.0.220" {
		t.Errorf("IPAddressPool addresses = %q", got)
	}
}
