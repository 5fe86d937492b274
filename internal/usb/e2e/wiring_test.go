package e2e_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/usb"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

var server apiserver.Shared

func TestMain(m *testing.M) { os.Exit(server.Main(m)) }

// agent is the slice of `nodeagent run` under test: the USB watcher feeding
// the label reconciler, with the node's static labels merged in.
type agent struct {
	reconciles atomic.Int64
	errs       chan error
}

func startAgent(t testing.TB, client metadata.Interface, root host.Root, node string, static map[string]string, debounce time.Duration) *agent {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t)
	rec := kube.NewLabelReconciler(client, log)
	w := usb.NewWatcher(root, f.USBRules(), usb.Options{Debounce: debounce, Resync: time.Hour}, host.RealClock{}, log)
	ctx, cancel := context.WithCancel(context.Background())
	a := &agent{errs: make(chan error, 100)}
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(res usb.Result) {
			want, _ := kube.Merge(kube.Desired{Labels: static}, kube.Desired{Labels: res.Labels, Annotations: res.Annotations})
			a.reconciles.Add(1)
			if _, err := rec.Reconcile(ctx, node, want); err != nil && ctx.Err() == nil {
				a.errs <- err
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watcher: %v", err)
		}
		close(a.errs)
		for err := range a.errs {
			t.Errorf("reconcile: %v", err)
		}
	})
	return a
}

// nodeWatch follows one Node through the apiserver's watch, as a
// scheduler would see it.
type nodeWatch struct {
	events chan *corev1.Node
	// writes counts resourceVersion changes, i.e. writes to the Node.
	writes atomic.Int64
}

func createNode(t testing.TB, client kubernetes.Interface) (string, *nodeWatch) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "pi4-2-", Labels: map[string]string{"kubernetes.io/arch": "arm64"}}}
	created, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node: %v", err)
	}
	w, err := client.CoreV1().Nodes().Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", created.Name).String(),
		ResourceVersion: created.ResourceVersion,
	})
	if err != nil {
		t.Fatalf("watching node: %v", err)
	}
	nw := &nodeWatch{events: make(chan *corev1.Node, 10000)}
	go func() {
		defer w.Stop()
		last := created.ResourceVersion
		for ev := range w.ResultChan() {
			n, ok := ev.Object.(*corev1.Node)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			if n.ResourceVersion != last {
				nw.writes.Add(1)
				last = n.ResourceVersion
			}
			nw.events <- n
		}
	}()
	return created.Name, nw
}

// waitFor returns the first watched state of the Node that satisfies ok.
func (nw *nodeWatch) waitFor(t testing.TB, within time.Duration, what string, ok func(*corev1.Node) bool) *corev1.Node {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case n := <-nw.events:
			if ok(n) {
				return n
			}
		case <-deadline:
			t.Fatalf("node never got %s within %s", what, within)
			return nil
		}
	}
}

func hasLabel(key, value string) func(*corev1.Node) bool {
	return func(n *corev1.Node) bool { v, ok := n.Labels[key]; return ok && v == value }
}

func lacksLabel(key string) func(*corev1.Node) bool {
	return func(n *corev1.Node) bool { _, ok := n.Labels[key]; return !ok }
}

// handLabel sets a label the way a person with kubectl would.
func handLabel(t testing.TB, client kubernetes.Interface, node, key, value string) {
	t.Helper()
	patch := []byte(`{"metadata":{"labels":{"` + key + `":"` + value + `"}}}`)
	if _, err := client.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("setting hand label: %v", err)
	}
}
