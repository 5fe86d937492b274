package serverwork

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/nodeagent/nodeagent/internal/apply"
)

// The gate holds a new sealed-secrets HelmChart back while the backups
// node has not recorded its key check, for SealedKeysWait as this server
// first saw it (a later apply, another child, keeps that start), then lets
// it through with a note; the marker opens it (and a later closed gate
// waits its full time again); an installed chart is never held back (the
// prune would remove it).
func TestSealedSecretsGateAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	deleteMarker(t, client)
	ns := srv.CreateNamespace(t)
	clock := &skewedClock{}
	p := workFor(t, srv.KubeconfigPath(), "pi4-1", clock)
	c := *p.cfg.Cluster
	c.Platform.SealedSecrets.Chart = "sealed-secrets-" + ns // the tests' apiserver is shared
	p.cfg.Cluster = &c
	chart := &unstructured.Unstructured{}
	chart.SetAPIVersion("helm.cattle.io/v1")
	chart.SetKind("HelmChart")
	chart.SetNamespace("kube-system")
	chart.SetName(c.Platform.SealedSecrets.Chart)
	other := chart.DeepCopy()
	other.SetName("metallb")
	set := apply.Set{Builtin: []*unstructured.Unstructured{other, chart}}

	check := func(step string, wantHold bool, wantNote string) {
		t.Helper()
		var statuses []string
		got, held, holds, err := p.gateSealedSecrets(ctx, client, set, 0, func(s string) { statuses = append(statuses, s) })
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if holds != wantHold {
			t.Errorf("%s: held %v, want %v", step, holds, wantHold)
		}
		if hold := len(got.Builtin) == 1; hold != wantHold {
			t.Errorf("%s: %d objects left, hold %v, want hold %v", step, len(got.Builtin), hold, wantHold)
		}
		note := strings.Join(held, "; ")
		if (wantNote == "") != (note == "") || !strings.Contains(note, wantNote) || strings.Join(statuses, "; ") != note {
			t.Errorf("%s: note %q, status %q; want a note with %q, also in status", step, note, statuses, wantNote)
		}
	}
	check("first apply", true, "held back until pi5 has checked its saved keys (waited 0s of 15m0s)")
	if _, err := os.Stat(p.cfg.Root.Path(sealedGatePath)); err != nil {
		t.Errorf("gate record: %v", err)
	}
	clock.advance(10 * time.Minute)
	check("ten minutes on", true, "waited 10m0s of 15m0s")
	clock.advance(5 * time.Minute)
	check("at the bound", false, "installed without the key check of pi5")

	// The marker opens it, whatever the wait.
	marker := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: SealedKeysMarker, Namespace: "kube-system"}}
	if _, err := client.CoreV1().ConfigMaps("kube-system").Create(ctx, marker, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	check("keys checked", false, "")
	if _, err := os.Stat(p.cfg.Root.Path(sealedGatePath)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("gate record of an open gate: %v, want it removed", err)
	}

	// An installed chart goes through without a marker.
	deleteMarker(t, client)
	crd, err := os.ReadFile("../../test/harness/apiserver/testdata/helmchart-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	srv.InstallCRDs(t, crd)
	dyn := dynamic.NewForConfigOrDie(srv.RestConfig())
	charts := dyn.Resource(schema.GroupVersionResource{Group: "helm.cattle.io", Version: "v1", Resource: "helmcharts"}).Namespace("kube-system")
	chart.Object["spec"] = map[string]any{"chart": "sealed-secrets"}
	if _, err := charts.Create(ctx, chart, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = charts.Delete(context.Background(), chart.GetName(), metav1.DeleteOptions{}) })
	check("chart installed", false, "")
	if err := charts.Delete(ctx, chart.GetName(), metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	check("chart gone, no marker: a fresh wait", true, "waited 0s of 15m0s")

	// An apply that holds the lease waits for the check: the marker
	// written while it waits lets the chart in, in this apply.
	var statuses []string
	got, notes, holds, err := p.gateSealedSecrets(ctx, client, set, time.Minute, func(s string) {
		statuses = append(statuses, s)
		if strings.Contains(s, "waiting up to 1m0s in this apply") {
			if _, err := client.CoreV1().ConfigMaps("kube-system").Create(ctx, marker.DeepCopy(), metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}
	})
	if err != nil || holds || len(got.Builtin) != 2 || len(notes) != 0 {
		t.Errorf("marker during the wait: held %v, %d objects, notes %q, statuses %q, err %v; want the chart applied", holds, len(got.Builtin), notes, statuses, err)
	}
}
