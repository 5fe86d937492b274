package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// shortTimeouts is the drop-in the e2e uses: only k3s's own *-arg keys.
const shortTimeouts = "kube-controller-manager-arg:\n  - node-monitor-grace-period=20s\n" +
	"kube-apiserver-arg:\n  - default-not-ready-toleration-seconds=10\n  - default-unreachable-toleration-seconds=10\n" +
	"kubelet-arg:\n  - node-status-update-frequency=5s\n"

// writeStandinFile writes a file below an instance's root.
func writeStandinFile(t *testing.T, in *instance, rel, data string) {
	t.Helper()
	p := in.path(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// kout is kubectl returning its output, for polling.
func (in *instance) kout(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args = append([]string{"--kubeconfig", in.path("etc/rancher/k3s/k3s.yaml")}, args...)
	out, err := exec.CommandContext(ctx, kubectl, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestControlPlane runs three servers and an agent, each with its own
// capacity.yaml and the short-timeout drop-in, and checks what the real
// scheduler, controller-manager and kubelet do: every Node Ready with its
// capacity, a Deployment placed by its nodeSelector, a DaemonSet on every
// node, a StatefulSet's local-path claim bound to a PV on its pod's node
// (and the PV gone with the claim), a pod too big for any node Unschedulable, nodeagent's condition kept
// by the kubelet's status updates, and a stopped agent's Node NotReady with
// its pod evicted and its replacement Pending (its selector allows no
// other node).
func TestControlPlane(t *testing.T) {
	requireIntegration(t)
	bin := standinBinary(t)
	mem := map[string]string{"s1": "4Gi", "s2": "8Gi", "s3": "8Gi", "a1": "4Gi"}
	s1 := newInstance(t, "s1", "127.0.0.2", serverConfig("s1", "127.0.0.2", ""))
	s2 := newInstance(t, "s2", "127.0.0.3", serverConfig("s2", "127.0.0.3", "127.0.0.2"))
	s3 := newInstance(t, "s3", "127.0.0.4", serverConfig("s3", "127.0.0.4", "127.0.0.2"))
	a1 := newInstance(t, "a1", "127.0.0.5", agentConfigYAML("a1", "127.0.0.5", "127.0.0.2", ""))
	all := []*instance{s1, s2, s3, a1}
	for _, in := range all {
		writeStandinFile(t, in, "etc/k3s-standin/capacity.yaml", "cpu: \"4\"\nmemory: "+mem[in.name]+"\n")
		writeStandinFile(t, in, "etc/rancher/k3s/config.yaml.d/50-timeouts.yaml", shortTimeouts)
	}
	start := time.Now()
	s1.start(t, bin)
	s1.waitReady(t, 3*time.Minute)
	s2.start(t, bin)
	s3.start(t, bin)
	a1.startArgs(t, bin, "agent")
	s2.waitReady(t, 3*time.Minute)
	s3.waitReady(t, 3*time.Minute)

	poll(t, "every Node Ready with its capacity", 3*time.Minute, func() error {
		out, err := s1.kout("get", "nodes", "-o",
			`jsonpath={range .items[*]}{.metadata.name} {.status.capacity.cpu} {.status.capacity.memory} {.status.conditions[?(@.type=="Ready")].status} {.spec.taints}{"\n"}{end}`)
		if err != nil {
			return err
		}
		var want []string
		for _, in := range all {
			want = append(want, fmt.Sprintf("%s 4 %s True", in.name, mem[in.name]))
		}
		got := strings.Split(out, "\n")
		for i := range got {
			got[i] = strings.TrimSpace(strings.ReplaceAll(got[i], `[{"effect":"PreferNoSchedule","key":"dedicated","value":"test"}]`, ""))
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			return fmt.Errorf("nodes:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
		}
		return nil
	})
	t.Logf("cluster of 3 servers and an agent Ready in %.0fs", time.Since(start).Seconds())
	for _, in := range []*instance{s1, a1} {
		t.Logf("%s RSS %d MiB", in.name, in.rssKiB(t)/1024)
	}

	manifests := filepath.Join(t.TempDir(), "workloads.yaml")
	if err := os.WriteFile(manifests, []byte(workloads), 0o600); err != nil {
		t.Fatal(err)
	}
	s1.kubectl(t, "apply", "-f", manifests)

	t.Run("deployment on its node", func(t *testing.T) {
		poll(t, "pinned pod Running on a1", 2*time.Minute, func() error {
			out, err := s1.kout("get", "pods", "-l", "app=pinned", "-o", `jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{"\n"}{end}`)
			if err != nil || out != "a1 Running" {
				return fmt.Errorf("pinned pods %q, %v", out, err)
			}
			return nil
		})
	})
	t.Run("daemonset on every node", func(t *testing.T) {
		poll(t, "one Running pod per node", 2*time.Minute, func() error {
			out, err := s1.kout("get", "pods", "-l", "app=every", "-o", `jsonpath={range .items[*]}{.spec.nodeName} {.status.phase}{"\n"}{end}`)
			if err != nil {
				return err
			}
			got := strings.Split(out, "\n")
			sort.Strings(got)
			if want := "a1 Running\ns1 Running\ns2 Running\ns3 Running"; strings.Join(got, "\n") != want {
				return fmt.Errorf("daemonset pods:\n%s", out)
			}
			return nil
		})
	})
	t.Run("too big to schedule", func(t *testing.T) {
		poll(t, "huge pod Unschedulable", time.Minute, func() error {
			out, err := s1.kout("get", "pod", "huge", "-o", `jsonpath={.status.phase} {.status.conditions[?(@.type=="PodScheduled")].reason}`)
			if err != nil || out != "Pending Unschedulable" {
				return fmt.Errorf("huge pod %q, %v", out, err)
			}
			return nil
		})
	})
	t.Run("statefulset on local-path", func(t *testing.T) {
		var pv string
		poll(t, "db-0 Running on a bound local-path PV with its node's affinity", 2*time.Minute, func() error {
			node, err := s1.kout("get", "pod", "db-0", "-o", `jsonpath={.spec.nodeName} {.status.phase}`)
			if err != nil {
				return err
			}
			claim, err := s1.kout("get", "pvc", "data-db-0", "-o", `jsonpath={.status.phase} {.spec.volumeName}`)
			if err != nil {
				return err
			}
			f := strings.Fields(claim)
			if len(f) != 2 || f[0] != "Bound" || !strings.HasSuffix(node, " Running") {
				return fmt.Errorf("pod %q, claim %q", node, claim)
			}
			pv = f[1]
			got, err := s1.kout("get", "pv", pv, "-o", `jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]} {.spec.capacity.storage} {.spec.persistentVolumeReclaimPolicy} {.spec.hostPath.path}`)
			if err != nil {
				return err
			}
			nodeName := strings.Fields(node)[0]
			if want := fmt.Sprintf("%s 1Gi Delete /var/lib/rancher/k3s/storage/%s_default_data-db-0", nodeName, pv); got != want {
				return fmt.Errorf("pv %q, want %q", got, want)
			}
			return nil
		})
		s1.kubectl(t, "delete", "statefulset", "db", "--wait=false")
		s1.kubectl(t, "delete", "pvc", "data-db-0", "--wait=false")
		poll(t, "the PV gone with its claim", 2*time.Minute, func() error {
			out, err := s1.kout("get", "pv", "-o", "name")
			if err != nil || out != "" {
				return fmt.Errorf("pvs %q, %v", out, err)
			}
			return nil
		})
	})
	t.Run("nodeagent's condition kept", func(t *testing.T) {
		s1.kubectl(t, "patch", "node", "s1", "--subresource=status", "--type=strategic", "-p",
			`{"status":{"conditions":[{"type":"NodeagentReady","status":"True","reason":"Provisioned","message":"test"}]}}`)
		before, err := s1.kout("get", "node", "s1", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}`)
		if err != nil {
			t.Fatal(err)
		}
		// The kubelet reports every 5 s here (node-status-update-frequency),
		// but writes the status only when it changed or once a
		// node-status-report-frequency passed; wait for a write by the
		// kubelet: a new heartbeat time, or none within the deadline.
		poll(t, "a kubelet status write after the condition", 2*time.Minute, func() error {
			out, err := s1.kout("get", "node", "s1", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].lastHeartbeatTime} {.status.conditions[?(@.type=="NodeagentReady")].reason}`)
			if err != nil {
				return err
			}
			if !strings.HasSuffix(out, " Provisioned") {
				t.Fatalf("NodeagentReady gone after the kubelet's write: %q", out)
			}
			if strings.HasPrefix(out, before+" ") {
				return fmt.Errorf("no kubelet status write yet (%q)", out)
			}
			return nil
		})
	})
	t.Run("stopped agent", func(t *testing.T) {
		stopped := time.Now()
		if err := a1.stop(t, syscall.SIGTERM, 30*time.Second); err != nil {
			t.Fatalf("a1 stop: %v", err)
		}
		poll(t, "a1 NotReady", 2*time.Minute, func() error {
			out, err := s1.kout("get", "node", "a1", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
			if err != nil || out != "Unknown" && out != "False" {
				return fmt.Errorf("a1 Ready=%q, %v", out, err)
			}
			return nil
		})
		t.Logf("a1 NotReady %.0fs after its stop", time.Since(stopped).Seconds())
		poll(t, "pinned pod evicted, its replacement Pending", 2*time.Minute, func() error {
			out, err := s1.kout("get", "pods", "-l", "app=pinned", "-o",
				`jsonpath={range .items[*]}{.spec.nodeName}/{.status.phase}/{.metadata.deletionTimestamp}{"\n"}{end}`)
			if err != nil {
				return err
			}
			var evicted, pending bool
			for _, l := range strings.Split(out, "\n") {
				f := strings.Split(l, "/")
				evicted = evicted || len(f) == 3 && f[0] == "a1" && f[2] != ""
				pending = pending || len(f) == 3 && f[0] == "" && f[1] == "Pending"
			}
			if !evicted || !pending {
				return fmt.Errorf("pinned pods:\n%s", out)
			}
			return nil
		})
		t.Logf("a1's pod evicted and replaced %.0fs after its stop", time.Since(stopped).Seconds())
	})
}

const workloads = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: pinned, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: pinned}}
  template:
    metadata: {labels: {app: pinned}}
    spec:
      nodeSelector: {kubernetes.io/hostname: a1}
      containers: [{name: c, image: registry.invalid/none:1, resources: {requests: {cpu: 100m, memory: 64Mi}}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: every, namespace: default}
spec:
  selector: {matchLabels: {app: every}}
  template:
    metadata: {labels: {app: every}}
    spec:
      tolerations: [{operator: Exists}]
      containers: [{name: c, image: registry.invalid/none:1}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: default}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: c, image: registry.invalid/none:1, volumeMounts: [{name: data, mountPath: /data}]}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local-path, resources: {requests: {storage: 1Gi}}}
---
apiVersion: v1
kind: Pod
metadata: {name: huge, namespace: default}
spec:
  containers: [{name: c, image: registry.invalid/none:1, resources: {requests: {memory: 9Gi}}}]
`
