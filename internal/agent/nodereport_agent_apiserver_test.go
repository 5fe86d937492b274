package agent

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/nodereport"
)

// On an agent the node report finds the kubelet's kubeconfig where k3s
// writes it, and the Node authorizer lets that identity set the condition
// on its own Node and record Events about it.
func TestNodeReportOnAnAgentWithKubeletCredentials(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := kubeServer.Get(t)
	node, err := srv.Client().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "agent-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	root := host.NewRoot(t.TempDir())
	data, err := os.ReadFile(srv.NodeKubeconfig(t, node.Name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(root.Path(kube.KubeletKubeconfig)), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(kube.KubeletKubeconfig), data, 0o600); err != nil {
		t.Fatal(err)
	}
	a := &Agent{Deps: Deps{Root: root, Clock: host.RealClock{}, Node: config.Node{Name: node.Name, Role: config.RoleAgent}}, log: zaptest.NewLogger(t)}
	var wg sync.WaitGroup
	rctx, stop := context.WithCancel(ctx)
	a.startNodeReport(rctx, &wg)
	t.Cleanup(func() { stop(); wg.Wait() })

	a.report.passEnded(nil)
	a.report.w.Record(nodereport.Event{Reason: "Provisioned", Message: "the last reconcile succeeded"})
	f := &reportFixture{client: srv.Client(), node: node.Name}
	f.conditions(t, ctx, "NodeagentReady on the agent's Node", func(c map[corev1.NodeConditionType]corev1.NodeCondition) bool {
		return c["NodeagentReady"].Reason == reasonProvisioned
	})
	poll(t, ctx, "the agent's Event", func() bool { return len(f.events(t, ctx)["Provisioned"]) > 0 }, func() any { return f.events(t, ctx) })
}
