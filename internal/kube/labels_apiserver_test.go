package kube_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// server is the real kube-apiserver shared by this package's tests; each
// test works on its own Node.
var server apiserver.Shared

func TestMain(m *testing.M) { os.Exit(server.Main(m)) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// createNode registers a Node as k3s would, with the labels k3s sets.
func createNode(t *testing.T, client kubernetes.Interface, labels map[string]string) string {
	t.Helper()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "pi4-2-", Labels: labels}}
	created, err := client.CoreV1().Nodes().Create(testContext(t), node, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node: %v", err)
	}
	return created.Name
}

func getNode(t *testing.T, client kubernetes.Interface, name string) *corev1.Node {
	t.Helper()
	n, err := client.CoreV1().Nodes().Get(testContext(t), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading node %s: %v", name, err)
	}
	return n
}

func handLabel(t *testing.T, client kubernetes.Interface, node, key, value string) {
	t.Helper()
	patch := []byte(`{"metadata":{"labels":{"` + key + `":"` + value + `"}}}`)
	if _, err := client.CoreV1().Nodes().Patch(testContext(t), node, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("setting hand label: %v", err)
	}
}

func TestReconcileOwnsOnlyItsLabels(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx := testContext(t)
	name := createNode(t, client, map[string]string{"kubernetes.io/arch": "arm64"})
	r := kube.NewLabelReconciler(srv.Metadata(), zaptest.NewLogger(t))
	want := kube.Desired{
		Labels:      map[string]string{"zigbee": "true", "storage": "true"},
		Annotations: map[string]string{"nodeagent.dev/zigbee-device": "/dev/serial/by-id/usb-x"},
	}

	rep, err := r.Reconcile(ctx, name, want)
	if err != nil || !rep.Written {
		t.Fatalf("first Reconcile = %+v, %v; want a write", rep, err)
	}
	handLabel(t, client, name, "room", "attic")
	before := getNode(t, client, name).ResourceVersion

	rep, err = r.Reconcile(ctx, name, want)
	if err != nil || rep.Written {
		t.Fatalf("second Reconcile = %+v, %v; want no write", rep, err)
	}
	if rv := getNode(t, client, name).ResourceVersion; rv != before {
		t.Errorf("resourceVersion %s -> %s after a reconcile with nothing to do", before, rv)
	}

	// The dongle is unplugged: zigbee goes, storage and the hand label stay.
	if _, err := r.Reconcile(ctx, name, kube.Desired{Labels: map[string]string{"storage": "true"}}); err != nil {
		t.Fatal(err)
	}
	node := getNode(t, client, name)
	if diff := cmp.Diff(map[string]string{"kubernetes.io/arch": "arm64", "room": "attic", "storage": "true"}, node.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{kube.OwnedLabelsAnnotation: "storage"}, node.Annotations); diff != "" {
		t.Errorf("annotations (-want +got):\n%s", diff)
	}
}

func TestReconcileLeavesConflictingHandLabel(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	name := createNode(t, client, map[string]string{"zigbee": "false"})
	r := kube.NewLabelReconciler(srv.Metadata(), zaptest.NewLogger(t))

	rep, err := r.Reconcile(testContext(t), name, kube.Desired{Labels: map[string]string{"zigbee": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]kube.Conflict{{Kind: kube.KindLabel, Key: "zigbee", Have: "false", Want: "true"}}, rep.Conflicts); diff != "" {
		t.Errorf("conflicts (-want +got):\n%s", diff)
	}
	node := getNode(t, client, name)
	if node.Labels["zigbee"] != "false" || node.Annotations[kube.OwnedLabelsAnnotation] != "" || rep.Written {
		t.Errorf("hand label touched: labels=%v annotations=%v written=%v", node.Labels, node.Annotations, rep.Written)
	}
	// Later nodeagent wants nothing: the hand label must survive that too.
	if _, err := r.Reconcile(testContext(t), name, kube.Desired{}); err != nil {
		t.Fatal(err)
	}
	if got := getNode(t, client, name).Labels["zigbee"]; got != "false" {
		t.Errorf("hand label zigbee = %q after desired set emptied, want false", got)
	}
}

func TestReconcileRetriesOnConflict(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	name := createNode(t, client, nil)
	r := kube.NewLabelReconciler(srv.Metadata(), zaptest.NewLogger(t))
	writes := 0
	// A person labels the node between nodeagent's read and its write: the
	// stale patch must be refused (409) and redone from a fresh read.
	r.SetBeforeWrite(func() {
		writes++
		if writes == 1 {
			handLabel(t, client, name, "room", "attic")
		}
	})
	rep, err := r.Reconcile(testContext(t), name, kube.Desired{Labels: map[string]string{"zigbee": "true"}})
	if err != nil || !rep.Written {
		t.Fatalf("Reconcile = %+v, %v", rep, err)
	}
	if writes != 2 {
		t.Errorf("write attempts = %d, want 2 (one refused for a stale resourceVersion)", writes)
	}
	if diff := cmp.Diff(map[string]string{"room": "attic", "zigbee": "true"}, getNode(t, client, name).Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestNewMetadataClientFromKubeconfig(t *testing.T) {
	srv := server.Get(t)
	cfg, err := kube.RestConfig(srv.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.QPS < 50 || cfg.Burst < 100 {
		t.Errorf("QPS/Burst = %v/%d, want raised for a local apiserver", cfg.QPS, cfg.Burst)
	}
	mc, err := kube.NewMetadataClient(srv.KubeconfigPath())
	if err != nil {
		t.Fatal(err)
	}
	name := createNode(t, srv.Client(), map[string]string{"site": "home"})
	node, err := kube.GetNode(testContext(t), mc, name)
	if err != nil {
		t.Fatalf("reading a node through the kubeconfig client: %v", err)
	}
	if node.Labels["site"] != "home" {
		t.Errorf("node labels = %v, want site=home", node.Labels)
	}
	if _, err := kube.GetNode(testContext(t), mc, name+"-missing"); !apierrors.IsNotFound(err) {
		t.Errorf("reading a missing node: err = %v, want NotFound", err)
	}
	if _, err := kube.NewMetadataClient(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("a missing kubeconfig was accepted")
	}
}
