package apiserver_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// kube is shared by the tests of this package; TestStartStop covers Start.
var kube apiserver.Shared

func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNodeLabelPatchIsWatched(t *testing.T) {
	srv := kube.Get(t)
	ctx := testContext(t)
	nodes := srv.Client().CoreV1().Nodes()

	// Nodes are cluster-scoped and the server is shared (also across
	// -count runs): a generated name keeps the test repeatable.
	created, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		GenerateName: "pi5-",
		Labels:       map[string]string{"kubernetes.io/arch": "arm64"},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node: %v", err)
	}
	name := created.Name
	w, err := nodes.Watch(ctx, metav1.ListOptions{
		FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
		ResourceVersion: created.ResourceVersion,
	})
	if err != nil {
		t.Fatalf("watching node: %v", err)
	}
	defer w.Stop()

	patch := []byte(`{"metadata":{"labels":{"nodeagent.io/storage":"hdd"}}}`)
	if _, err := nodes.Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("patching node labels: %v", err)
	}

	want := map[string]string{"kubernetes.io/arch": "arm64", "nodeagent.io/storage": "hdd"}
	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed before the patch was seen")
		}
		if ev.Type != watch.Modified {
			t.Fatalf("watch event type = %s, want %s (%v)", ev.Type, watch.Modified, ev.Object)
		}
		node, ok := ev.Object.(*corev1.Node)
		if !ok {
			t.Fatalf("watch event object is %T, want *v1.Node", ev.Object)
		}
		if diff := cmp.Diff(want, node.Labels); diff != "" {
			t.Errorf("watched node labels (-want +got):\n%s", diff)
		}
	case <-ctx.Done():
		t.Fatalf("no watch event for the label patch: %v", ctx.Err())
	}
}

func TestServerSideDryRunCreatesNothing(t *testing.T) {
	srv := kube.Get(t)
	ctx := testContext(t)
	ns := srv.CreateNamespace(t)
	deployments := srv.Client().AppsV1().Deployments(ns)
	dryRun := metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}, FieldManager: "nodeagent-test"}

	got, err := deployments.Create(ctx, pihole(ns), dryRun)
	if err != nil {
		t.Fatalf("dry-run create: %v", err)
	}
	// Defaulting ran on the server: the fields we left empty are filled in.
	wantDefaults := deploymentDefaults{Strategy: "RollingUpdate", RevisionHistoryLimit: 10, ProgressDeadline: 600, PullPolicy: "IfNotPresent"}
	if diff := cmp.Diff(wantDefaults, defaultsOf(got)); diff != "" {
		t.Errorf("dry-run defaults (-want +got):\n%s", diff)
	}
	if _, err := deployments.Get(ctx, "pihole", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after dry-run = %v, want NotFound: dry-run must not persist", err)
	}

	bad := pihole(ns)
	bad.Spec.Selector.MatchLabels = map[string]string{"app": "other"}
	if _, err := deployments.Create(ctx, bad, dryRun); !apierrors.IsInvalid(err) {
		t.Errorf("dry-run create with mismatched selector = %v, want Invalid", err)
	}
}

func TestPodDryRunPassesAdmission(t *testing.T) {
	srv := kube.Get(t)
	ctx := testContext(t)
	ns := srv.CreateNamespace(t)

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "zigbee2mqtt", Namespace: ns},
		Spec:       pihole(ns).Spec.Template.Spec,
	}
	got, err := srv.Client().CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
	if err != nil {
		t.Fatalf("dry-run pod create (needs ServiceAccount admission off): %v", err)
	}
	// DefaultTolerationSeconds admission adds these to every pod.
	var tolerated []string
	for _, tol := range got.Spec.Tolerations {
		tolerated = append(tolerated, tol.Key)
	}
	want := []string{"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}
	if diff := cmp.Diff(want, tolerated); diff != "" {
		t.Errorf("admitted pod tolerations (-want +got):\n%s", diff)
	}
}

func TestStartStop(t *testing.T) {
	srv := apiserver.Start(t)

	info, err := os.Stat(srv.KubeconfigPath())
	if err != nil {
		t.Fatalf("stat kubeconfig: %v", err)
	}
	if mode := info.Mode().Perm(); mode != 0o600 {
		t.Errorf("kubeconfig mode = %o, want 600", mode)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.KubeconfigPath())
	if err != nil {
		t.Fatalf("loading kubeconfig: %v", err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("client from kubeconfig: %v", err)
	}
	version, err := client.Discovery().ServerVersion()
	if err != nil {
		t.Fatalf("server version via kubeconfig: %v", err)
	}
	if version.GitVersion != apiserver.Version {
		t.Errorf("server version = %q, want %q", version.GitVersion, apiserver.Version)
	}
	if got := srv.RestConfig(); got.QPS < 100 || got.Burst < 100 {
		t.Errorf("rest config QPS/Burst = %v/%d, want both >= 100", got.QPS, got.Burst)
	}
}
