// Package crash checks that `nodeagent join` converges when it dies at any
// step boundary: one server in a booted container, k3s being the test
// stand-in installed from a local release directory. The test kills join
// itself (SIGKILL, as a power cut would) once it reports a step done; the
// shipped binary has no switch for it.
package crash

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/test/harness/hostbuild"
	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

const (
	repoRoot   = "../.."
	k3sVersion = "v1.33.5+k3s1"
)

// phases are join's step boundaries on a server without disks.
var phases = []string{"preflight", "firewall", "k3s", "register", "usb", "labels", "quorum", "manifests"}

// killAfter runs `nodeagent join` in the container and SIGKILLs it the
// moment its output reports the step done ("✓ <step> (…)"): the shell reads
// join's output line by line through a FIFO, so join gets microseconds
// past the boundary. Exit 0: killed there, or it ended by itself right
// after that line (the last step); 10: it ended before reaching the step.
const killAfter = `step=$1
fifo=/run/join-$step.fifo
rm -f "$fifo" && mkfifo "$fifo"
nodeagent join >"$fifo" 2>&1 &
pid=$!
seen=no
while IFS= read -r line; do
	printf '%s\n' "$line"
	case "$line" in "✓ $step ("*)
		seen=yes
		kill -KILL $pid 2>/dev/null && echo "killed after $step"
		break;;
	esac
done <"$fifo"
wait $pid
rc=$?
[ $seen = yes ] && exit 0
echo "join ended (exit $rc) before $step was done"
exit 10
`

func TestJoinConvergesAfterDyingAtEachPhase(t *testing.T) {
	hostbuild.RequireHost(t, "the crash test", "systemd-nspawn", "nsenter", "go", "kubectl")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	bin := hostbuild.Nodeagent(t, repoRoot)
	standin := hostbuild.Standin(t, repoRoot)
	c := nspawn.Boot(t, nspawn.Options{PrivateNetwork: true})
	node := c.Name()
	// The node's LAN: a veth pair inside the container's own namespace
	// (this kernel has no dummy interfaces); nothing leaves it.
	mustExec(t, ctx, c, "ip", "link", "add", "lan0", "type", "veth", "peer", "name", "lan0-peer")
	mustExec(t, ctx, c, "ip", "addr", "add", "10.78.0.11/24", "dev", "lan0")
	mustExec(t, ctx, c, "ip", "link", "set", "lan0", "up")
	mustExec(t, ctx, c, "ip", "link", "set", "lan0-peer", "up")
	hostbuild.CopyIn(t, c, bin, "/usr/bin/nodeagent")
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal(err)
	}
	hostbuild.CopyIn(t, c, kubectl, "/usr/local/bin/kubectl")
	hostbuild.CopyIn(t, c, standin, "/srv/k3s-release/"+k3sVersion+"/k3s")
	hostbuild.WriteIn(t, c, "/srv/k3s-release/"+k3sVersion+"/sha256sum-amd64.txt", hostbuild.ChecksumLine(t, standin), 0o644)
	cfg, err := os.ReadFile("testdata/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hostbuild.WriteIn(t, c, "/etc/nodeagent/cluster.yaml", []byte(strings.ReplaceAll(string(cfg), "NODE", node)), 0o644)
	hostbuild.WriteIn(t, c, "/etc/nodeagent/token", []byte("crash-test-token-"+node+"\n"), 0o600)
	hostbuild.WriteIn(t, c, "/etc/nodeagent/agent-token", []byte("crash-test-agent-token-"+node+"\n"), 0o600)

	// Die right after each step, killed with SIGKILL: nothing deferred
	// runs, no state is saved.
	killed := 0
	for _, p := range phases {
		out, err := c.Exec(ctx, "sh", "-c", killAfter, "kill-after", p)
		if err != nil {
			t.Fatalf("join killed after %s: %v\n%s", p, err, out)
		}
		if strings.Contains(out, "\nkilled after "+p+"\n") {
			killed++
		}
		t.Logf("join up to %s:\n%s", p, out)
	}
	// Only the last step may race the kill and finish the join by itself.
	if killed < len(phases)-1 {
		t.Errorf("join was killed after %d of %d steps, want at least %d", killed, len(phases), len(phases)-1)
	}
	out, err := c.Exec(ctx, "nodeagent", "join")
	if err != nil || !strings.Contains(out, "joined in") {
		t.Fatalf("join after the interrupted runs: %v\n%s", err, out)
	}
	t.Logf("join after the interrupted runs:\n%s", out)
	before := snapshot(t, ctx, c)
	out, err = c.Exec(ctx, "nodeagent", "join")
	if err != nil || !strings.Contains(out, "joined in") {
		t.Fatalf("second full join: %v\n%s", err, out)
	}
	after := snapshot(t, ctx, c)
	if before != after {
		t.Errorf("a join on a joined node changed the node:\nbefore: %s\nafter:  %s", before, after)
	}
	// On the joined node, plan reads the host and finds nothing to change.
	pl, err := c.Exec(ctx, "nodeagent", "plan")
	if err != nil {
		t.Fatalf("plan on the joined node: %v\n%s", err, pl)
	}
	for _, want := range []string{"k3s binary up to date", "/etc/rancher/k3s/config.yaml up to date", "unit k3s.service up to date",
		"nothing to restart", "is registered already", "labels in step"} {
		if !strings.Contains(pl, want) {
			t.Errorf("plan on the joined node lacks %q:\n%s", want, pl)
		}
	}
	t.Logf("plan on the joined node:\n%s", pl)
	if strings.Contains(pl, "crash-test-token") {
		t.Error("plan on the joined node shows the token")
	}
	status, err := c.Exec(ctx, "nodeagent", "status", "-o", "json")
	if err != nil || !strings.Contains(status, `"joined": true`) || !strings.Contains(status, `"quorum": true`) {
		t.Errorf("status after join: %v\n%s", err, status)
	}
	// The last apply, recorded by the manifests step: by this node, every
	// object it rendered unchanged.
	var st struct {
		Manifests struct {
			By      string         `json:"by"`
			Objects int            `json:"objects"`
			Counts  map[string]int `json:"counts"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatalf("status -o json: %v\n%s", err, status)
	}
	if m := st.Manifests; m.By != node || m.Objects == 0 || m.Counts["unchanged"] != m.Objects {
		t.Errorf("status after join lacks the last manifests apply (by %q, %d objects, counts %v):\n%s", m.By, m.Objects, m.Counts, status)
	}
	text, err := c.Exec(ctx, "nodeagent", "status")
	if err != nil || !strings.Contains(text, "manifests ") {
		t.Errorf("status text after join: %v\n%s", err, text)
	}
	t.Logf("status on the joined node:\n%s", text)
}

// snapshot is what a no-op join must leave alone: the k3s process, its
// config, the firewall rules and the applied objects' inventory.
func snapshot(t *testing.T, ctx context.Context, c *nspawn.Container) string {
	t.Helper()
	var parts []string
	for _, args := range [][]string{
		{"systemctl", "show", "-p", "MainPID", "-p", "NRestarts", "k3s.service"},
		{"stat", "-c", "%Y %i", "/etc/rancher/k3s/config.yaml", "/usr/local/bin/k3s", "/etc/systemd/system/k3s.service"},
		{"sha256sum", "/etc/ufw/user.rules"},
		{"kubectl", "--kubeconfig", "/etc/rancher/k3s/k3s.yaml", "-n", "kube-system", "get", "configmap", "nodeagent-inventory", "-o", "jsonpath={.metadata.resourceVersion}"},
	} {
		out, err := c.Exec(ctx, args...)
		if err != nil {
			t.Fatalf("%v", err)
		}
		parts = append(parts, strings.Join(strings.Fields(out), " "))
	}
	return strings.Join(parts, " | ")
}

func mustExec(t *testing.T, ctx context.Context, c *nspawn.Container, args ...string) {
	t.Helper()
	if out, err := c.Exec(ctx, args...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
}
