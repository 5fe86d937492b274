package serverwork

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/nodeagent/nodeagent/internal/host"
)

// The rollout as every server reads it on the restart Lease: the holder's
// upgrade in progress; a failed version that refuses every later claim of
// it but not a restart that installs nothing; and a different version that
// clears the record.
func TestRolloutRecordedOnTheRestartLease(t *testing.T) {
	srv := server.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pi41 := workFor(t, srv.KubeconfigPath(), "pi4-1", host.RealClock{})
	pi42 := workFor(t, srv.KubeconfigPath(), "pi4-2", host.RealClock{})
	pi5 := workFor(t, srv.KubeconfigPath(), "pi5", host.RealClock{})
	for _, p := range []*Work{pi41, pi42, pi5} {
		if _, err := p.clientset(); err != nil {
			t.Fatal(err)
		}
	}
	freeRestartLease(t, pi41)
	const b, c = "v1.34.1+k3s1", "v1.34.2+k3s1"
	claim := func(p *Work, version string) (string, error) {
		t.Helper()
		return p.claimLease(ctx, p.client, version)
	}
	rollout := func() RolloutStatus {
		t.Helper()
		s, err := pi5.Rollout(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if h, err := claim(pi41, b); h != "" || err != nil {
		t.Fatalf("pi4-1 claiming for %s: %q, %v", b, h, err)
	}
	if s := rollout(); s.InProgress == nil || s.InProgress.Version != b || s.InProgress.Node != "pi4-1" || s.Failed != nil {
		t.Fatalf("rollout while pi4-1 upgrades: %+v", s)
	}
	if h, err := claim(pi42, b); h != "pi4-1" || err != nil {
		t.Fatalf("pi4-2 claiming while pi4-1 upgrades: %q, %v; want to wait for pi4-1", h, err)
	}
	// B did not come back on pi4-1: rolled back, the failure recorded, the turn passed on.
	failure := Rollout{Version: b, Node: "pi4-1", Since: time.Now(), Reason: "not back within 5m0s: exit status 1"}
	if err := pi41.recordFailure(ctx, pi41.client, failure); err != nil {
		t.Fatal(err)
	}
	if err := pi41.releaseLease(ctx, pi41.client); err != nil {
		t.Fatal(err)
	}
	if s := rollout(); s.InProgress != nil || s.Failed == nil || s.Failed.Version != b || s.Failed.Node != "pi4-1" || s.Failed.Reason != failure.Reason {
		t.Fatalf("rollout after the failure: %+v", s)
	}
	_, err := claim(pi42, b)
	if !errors.Is(err, ErrRolloutStopped) || !strings.Contains(err.Error(), b) || !strings.Contains(err.Error(), "pi4-1") {
		t.Fatalf("pi4-2 claiming for the failed %s: %v; want ErrRolloutStopped naming it and pi4-1", b, err)
	}
	if s := rollout(); s.InProgress != nil {
		t.Errorf("the refused claim took the turn: %+v", s.InProgress)
	}
	// A config change still restarts, one at a time, and keeps the record.
	if h, err := claim(pi42, ""); h != "" || err != nil {
		t.Fatalf("pi4-2 claiming for a config change: %q, %v", h, err)
	}
	if err := pi42.releaseLease(ctx, pi42.client); err != nil {
		t.Fatal(err)
	}
	if s := rollout(); s.Failed == nil {
		t.Error("a plain restart cleared the failed rollout")
	}
	// The cluster file moved on to C: the first claim for it clears the record.
	if h, err := claim(pi5, c); h != "" || err != nil {
		t.Fatalf("pi5 claiming for %s: %q, %v", c, h, err)
	}
	if s := rollout(); s.Failed != nil || s.InProgress == nil || s.InProgress.Version != c || s.InProgress.Node != "pi5" {
		t.Errorf("rollout after a claim for another version: %+v", s)
	}
}

// The came-back check waits for this Node's kubelet to report the version
// the upgrade installed.
func TestNodeReportsVersion(t *testing.T) {
	srv := server.Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p := workFor(t, srv.KubeconfigPath(), "pi4-2", host.RealClock{})
	if _, err := p.clientset(); err != nil {
		t.Fatal(err)
	}
	nodes := p.client.CoreV1().Nodes()
	_ = nodes.Delete(ctx, "pi4-2", metav1.DeleteOptions{})
	n, err := nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "pi4-2"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nodes.Delete(context.Background(), "pi4-2", metav1.DeleteOptions{}) })
	n.Status.NodeInfo.KubeletVersion = "v1.33.5+k3s1"
	if n, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.nodeReports(ctx, p.client, "v1.34.1+k3s1"); err == nil || !strings.Contains(err.Error(), "v1.33.5+k3s1") {
		t.Errorf("node on the old version: %v, want not yet, naming it", err)
	}
	n.Status.NodeInfo.KubeletVersion = "v1.34.1+k3s1"
	if _, err = nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := p.nodeReports(ctx, p.client, "v1.34.1+k3s1"); err != nil {
		t.Errorf("node on the new version: %v", err)
	}
}
