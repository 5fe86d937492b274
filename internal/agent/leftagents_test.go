package agent

import (
	"context"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/metadata"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
)

// leftAgentsWork records the agents whose Nodes it was asked to remove.
type leftAgentsWork struct {
	fakeServerWork
	removed []string
}

func (w *leftAgentsWork) RemoveLeftAgent(_ context.Context, name string, _ func(string)) error {
	w.removed = append(w.removed, name)
	return nil
}

// clusterWithAgents is the built-in homelab plus two agents.
func clusterWithAgents(t *testing.T) *config.Cluster {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := f.Cluster
	c.Nodes = append(c.Nodes, config.Node{Name: "pi3-a", Role: config.RoleAgent}, config.Node{Name: "pi3-b", Role: config.RoleAgent})
	return &c
}

// Only agents of the cluster file are removed this way: a server whose
// Node carries the label (set by hand, say), a Node the file does not
// name and the server itself are left alone.
func TestLeftAgentsToRemove(t *testing.T) {
	c := clusterWithAgents(t)
	got := leftAgentsToRemove([]string{"pi3-a", "pi4-2", "stranger", "pi3-b", "pi4-1"}, c, "pi4-1")
	if want := []string{"pi3-a", "pi3-b"}; !slices.Equal(got, want) {
		t.Errorf("leftAgentsToRemove = %v, want %v", got, want)
	}
	if got := leftAgentsToRemove(nil, c, "pi4-1"); len(got) != 0 {
		t.Errorf("no requests: %v, want none", got)
	}
}

// Against the real apiserver: the label selector finds the agent that
// asked (with its own kubelet credentials, as NodeRestriction allows) and
// the server work is asked to remove it, and nothing else.
func TestRemoveLeftAgentsFindsTheRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	srv := kubeServer.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, name := range []string{"pi3-a", "pi3-b", "pi4-2"} {
		if _, err := srv.Client().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Node %s: %v", name, err)
		}
		t.Cleanup(func() { _ = srv.Client().CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	for _, name := range []string{"pi3-a", "pi4-2"} {
		patch := []byte(`{"metadata":{"labels":{"` + kube.LeaveRequestLabel + `":"` + kube.LeaveRequested + `"}}}`)
		if _, err := srv.NodeClient(t, name).CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			t.Fatalf("%s asking to leave with its kubelet's credentials: %v", name, err)
		}
	}
	a := testAgent(t, "pi4-1", &recordingReporter{})
	a.log = zaptest.NewLogger(t)
	w := &leftAgentsWork{}
	a.server = w
	client, err := metadata.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	a.removeLeftAgents(ctx, client, clusterWithAgents(t))
	if want := []string{"pi3-a"}; !slices.Equal(w.removed, want) {
		t.Errorf("removed %v, want %v (pi3-b did not ask; pi4-2 is a server)", w.removed, want)
	}
}
