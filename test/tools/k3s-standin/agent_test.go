package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func agentConfigYAML(name, ip, server string, extra string) string {
	return fmt.Sprintf("server: https://%s:6443\ntoken: %s\nnode-name: %s\nnode-ip: %s\nflannel-iface: eth0\n"+
		"write-kubeconfig-mode: \"0644\"\n%s", server, testToken, name, ip, extra)
}

const agentKubeconfig = "var/lib/rancher/k3s/agent/kubelet.kubeconfig"

// TestAgent runs three servers and agents beside them on other loopback
// addresses and checks k3s's agent contract: the Node registered under the
// node's own identity with the kubelet's labels, what the Node authorizer
// and NodeRestriction let that identity do through the supervisor's proxy,
// nothing for an anonymous caller, the kubelet's refusal of a forbidden
// node-label, the node password (a re-flashed agent refused until its Node
// is deleted, then accepted), and the load balancer's failover when the
// configured server stops.
func TestAgent(t *testing.T) {
	requireIntegration(t)
	bin := standinBinary(t)
	top := t // a wiped root must outlive the subtest that wipes it
	s1 := newInstance(t, "s1", "127.0.0.2", serverConfig("s1", "127.0.0.2", ""))
	s2 := newInstance(t, "s2", "127.0.0.3", serverConfig("s2", "127.0.0.3", "127.0.0.2"))
	s3 := newInstance(t, "s3", "127.0.0.4", serverConfig("s3", "127.0.0.4", "127.0.0.2"))
	a1cfg := agentConfigYAML("a1", "127.0.0.5", "127.0.0.2",
		"node-label:\n  - homelab/zigbee=true\nnode-taint:\n  - dedicated=zigbee:NoSchedule\ncluster-init: true\n")
	a1 := newInstance(t, "a1", "127.0.0.5", a1cfg)
	s1.start(t, bin)
	s1.waitReady(t, 3*time.Minute)
	s2.start(t, bin)
	s3.start(t, bin)
	start := time.Now()
	a1.startArgs(t, bin, "agent")
	poll(t, "node a1 registered", 90*time.Second, func() error {
		return s1.kubectlErr("get", "node", "a1")
	})
	t.Logf("a1: start to Node %.1fs", time.Since(start).Seconds())
	a1.waitReady(t, 10*time.Second) // sent before the Node is registered

	t.Run("node", func(t *testing.T) {
		var node struct {
			Metadata struct{ Labels map[string]string }
			Spec     struct {
				Taints []struct{ Key, Value, Effect string }
			}
			Status struct {
				Addresses  []struct{ Type, Address string }
				Conditions []struct{ Type, Status string }
			}
		}
		poll(t, "a1 Ready without the not-ready taint", 30*time.Second, func() error {
			if err := json.Unmarshal([]byte(s1.kubectl(t, "get", "node", "a1", "-o", "json")), &node); err != nil {
				return err
			}
			if len(node.Spec.Taints) != 1 {
				return fmt.Errorf("taints %+v", node.Spec.Taints)
			}
			return nil
		})
		l := node.Metadata.Labels
		for k, want := range map[string]string{"kubernetes.io/hostname": "a1", "kubernetes.io/os": "linux",
			"node.kubernetes.io/instance-type": "k3s", "homelab/zigbee": "true"} {
			if l[k] != want {
				t.Errorf("label %s = %q, want %q", k, l[k], want)
			}
		}
		for k := range l {
			if strings.HasPrefix(k, "node-role.kubernetes.io/") {
				t.Errorf("agent node has role label %s", k)
			}
		}
		if tt := node.Spec.Taints[0]; tt.Key != "dedicated" || tt.Value != "zigbee" || tt.Effect != "NoSchedule" {
			t.Errorf("taint %+v", tt)
		}
		if len(node.Status.Addresses) == 0 || node.Status.Addresses[0].Address != "127.0.0.5" {
			t.Errorf("addresses %+v, want InternalIP 127.0.0.5", node.Status.Addresses)
		}
	})

	t.Run("files", func(t *testing.T) {
		for _, f := range []string{"client-ca.crt", "server-ca.crt", "client-kubelet.crt", "client-kubelet.key", "kubelet.kubeconfig"} {
			st, err := os.Stat(a1.path("var/lib/rancher/k3s/agent/" + f))
			if err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("%s: %v, mode %v; want 0600", f, err, st)
			}
		}
		pw, err := os.ReadFile(a1.path("etc/rancher/node/password"))
		if err != nil || !regexp.MustCompile(`^[0-9a-f]{32}\n$`).Match(pw) {
			t.Errorf("node password file: %v, %d bytes", err, len(pw))
		}
		kc, _ := os.ReadFile(a1.path(agentKubeconfig))
		if !strings.Contains(string(kc), "server: https://127.0.0.5:6444") {
			t.Errorf("kubelet.kubeconfig does not name the load balancer:\n%s", kc)
		}
		data, _ := os.ReadFile(a1.path("var/lib/rancher/k3s/agent/client-kubelet.crt"))
		b, _ := pem.Decode(data)
		if b == nil {
			t.Fatal("client-kubelet.crt: no PEM")
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject.CommonName != "system:node:a1" || !cmp.Equal(c.Subject.Organization, []string{"system:nodes"}) {
			t.Errorf("client-kubelet.crt subject %v", c.Subject)
		}
	})

	t.Run("node identity", func(t *testing.T) {
		asNode := func(args ...string) (string, error) {
			return kubectlAs(a1.path(agentKubeconfig), args...)
		}
		out, err := asNode("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}")
		if err != nil || !strings.HasPrefix(out, "system:node:a1 ") || !strings.Contains(out, "system:nodes") {
			t.Errorf("whoami through the agent's kubeconfig: %q, %v", out, err)
		}
		if out, err := asNode("label", "node", "a1", "homelab/usb=yes", "--overwrite"); err != nil {
			t.Errorf("labelling its own node: %v\n%s", err, out)
		}
		if out, err := asNode("label", "node", "s1", "homelab/usb=yes"); err == nil || !strings.Contains(out, "Forbidden") {
			t.Errorf("labelling another node: %v\n%s; want Forbidden", err, out)
		}
		if out, err := asNode("label", "node", "a1", "node-restriction.kubernetes.io/x=1"); err == nil || !strings.Contains(out, "Forbidden") {
			t.Errorf("a node-restriction label: %v\n%s; want Forbidden", err, out)
		}
		if out, err := asNode("get", "secret", "-n", "kube-system", "a1.node-password.k3s"); err == nil {
			t.Errorf("a node read a secret: %s", out)
		}
	})

	t.Run("k3s controller", func(t *testing.T) {
		kc := a1.path("var/lib/rancher/k3s/agent/k3scontroller.kubeconfig")
		if data, err := os.ReadFile(kc); err != nil || !strings.Contains(string(data), "server: https://127.0.0.5:6444") {
			t.Fatalf("k3scontroller.kubeconfig: %v\n%s", err, data)
		}
		out, err := kubectlAs(kc, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
		if err != nil || out != "system:k3s-controller" {
			t.Errorf("whoami through k3scontroller.kubeconfig: %q, %v", out, err)
		}
		// k3s's ClusterRole: get on Nodes (any node), no list, no writes.
		if out, err := kubectlAs(kc, "get", "node", "s1", "-o", "name"); err != nil {
			t.Errorf("the k3s controller getting another node: %v\n%s", err, out)
		}
		if out, err := kubectlAs(kc, "get", "nodes"); err == nil {
			t.Errorf("the k3s controller listed nodes:\n%s", out)
		}
		if out, err := kubectlAs(kc, "label", "node", "s1", "homelab/x=1"); err == nil || !strings.Contains(out, "Forbidden") {
			t.Errorf("the k3s controller labelling a node: %v\n%s; want Forbidden", err, out)
		}
	})

	t.Run("anonymous", func(t *testing.T) {
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // status codes only
		for _, h := range []map[string]string{
			{},
			{"X-Remote-User": "system:admin", "X-Remote-Group": "system:masters"},
			{"Authorization": "Basic " + basic("node", testToken)},
		} {
			req, _ := http.NewRequest(http.MethodGet, "https://127.0.0.2:6443/api/v1/nodes", nil)
			for k, v := range h {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("GET /api/v1/nodes with %v: %d, want 401", h, resp.StatusCode)
			}
		}
	})

	t.Run("secret", func(t *testing.T) {
		poll(t, "the node-password secret owned by the node", 30*time.Second, func() error {
			out, err := kubectlAs(s1.path("etc/rancher/k3s/k3s.yaml"), "get", "secret", "-n", "kube-system", "a1.node-password.k3s",
				"-o", "jsonpath={.type} {.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}")
			if err != nil || out != "k3s.cattle.io/node-password Node/a1" {
				return fmt.Errorf("%q %v", out, err)
			}
			return nil
		})
	})

	t.Run("forbidden node-label", func(t *testing.T) {
		bad := newInstance(t, "bad", "127.0.0.6", agentConfigYAML("bad", "127.0.0.6", "127.0.0.2",
			"node-label:\n  - node-role.kubernetes.io/worker=true\n"))
		bad.startArgs(t, bin, "agent")
		if err := bad.waitExit(t, 60*time.Second); err == nil {
			t.Fatal("an agent with a node-role label exited 0")
		}
		if !strings.Contains(bad.logTail(), "unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [node-role.kubernetes.io/worker]") {
			t.Errorf("no kubelet refusal in the log:\n%s", bad.logTail())
		}
	})

	t.Run("re-flashed agent", func(t *testing.T) {
		if err := a1.stop(t, syscall.SIGTERM, 20*time.Second); err != nil {
			t.Fatalf("agent SIGTERM: %v", err)
		}
		a1.wipe(top, a1cfg)
		a1.startArgs(t, bin, "agent")
		poll(t, "the new password refused", 60*time.Second, func() error {
			if !strings.Contains(a1.logTail(), "Node password rejected, duplicate hostname") {
				return fmt.Errorf("not yet")
			}
			return nil
		})
		s1.kubectl(t, "delete", "node", "a1")
		poll(t, "secret deleted with its node", 30*time.Second, func() error {
			if s1.kubectlErr("get", "secret", "-n", "kube-system", "a1.node-password.k3s") == nil {
				return fmt.Errorf("still there")
			}
			return nil
		})
		poll(t, "the re-flashed agent registers", 60*time.Second, func() error {
			return s1.kubectlErr("get", "node", "a1")
		})
	})

	t.Run("failover", func(t *testing.T) {
		// s1 can stop once the other two are voters: etcd keeps its quorum.
		s2.waitReady(t, 2*time.Minute)
		s3.waitReady(t, 2*time.Minute)
		poll(t, "the balancer learns all servers", 60*time.Second, func() error {
			log, _ := os.ReadFile(a1.path("stderr.log"))
			if !regexp.MustCompile(`"servers":\["127.0.0.2:6443","127.0.0.3:6443","127.0.0.4:6443"\]`).Match(log) {
				return fmt.Errorf("not yet:\n%s", a1.logTail())
			}
			return nil
		})
		if err := s1.stop(t, syscall.SIGTERM, 60*time.Second); err != nil {
			t.Fatalf("s1 SIGTERM: %v", err)
		}
		poll(t, "the agent's own label through the other servers", 60*time.Second, func() error {
			out, err := kubectlAs(a1.path(agentKubeconfig), "label", "node", "a1", "homelab/after=failover", "--overwrite")
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			return nil
		})
	})
	if err := a1.stop(t, syscall.SIGTERM, 20*time.Second); err != nil {
		t.Errorf("agent SIGTERM: %v", err)
	}
}

// kubectlAs runs kubectl with a kubeconfig and returns its combined output.
func kubectlAs(kubeconfig string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func basic(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}
