package nodereport_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"

	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/internal/nodereport"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

var server apiserver.Shared

func TestMain(m *testing.M) { os.Exit(server.Main(m)) }

// setClock is a wall clock the test sets.
type setClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *setClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *setClock) set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func (c *setClock) NewTimer(d time.Duration) host.Timer   { return host.RealClock{}.NewTimer(d) }
func (c *setClock) NewTicker(d time.Duration) host.Ticker { return host.RealClock{}.NewTicker(d) }

// lastTransitionTime moves only when the status flips; a daemon started
// again reads the condition there and does not write it again.
func TestConditionTransitionTimeAndRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a kube-apiserver")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv := server.Get(t)
	n, err := srv.Client().CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: "pi4-"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(srv.RestConfig())
	if err != nil {
		t.Fatal(err)
	}
	connect := func() (dynamic.Interface, error) { return dyn, nil }
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := &setClock{now: t0}
	w := nodereport.New(connect, n.Name, clock, zaptest.NewLogger(t))
	go w.Run(ctx)

	steps := []struct {
		at             time.Time
		cond           nodereport.Condition
		wantTransition time.Time
	}{
		{t0, nodereport.Condition{Reason: "DiskMissing", Message: "/mnt/hd1: gone"}, t0},
		{t0.Add(time.Hour), nodereport.Condition{Reason: "K3sFailed", Message: "k3s: no"}, t0},
		{t0.Add(2 * time.Hour), nodereport.Condition{OK: true, Reason: "Provisioned", Message: "ok"}, t0.Add(2 * time.Hour)},
	}
	for _, s := range steps {
		clock.set(s.at)
		w.Set(s.cond)
		c := waitCondition(t, ctx, srv, n.Name, s.cond.Reason)
		if !c.LastTransitionTime.Time.Equal(s.wantTransition) || !c.LastHeartbeatTime.Time.Equal(s.at) {
			t.Errorf("%s: lastTransitionTime %s, lastHeartbeatTime %s; want %s and %s", s.cond.Reason,
				c.LastTransitionTime.UTC(), c.LastHeartbeatTime.UTC(), s.wantTransition, s.at)
		}
	}

	again := nodereport.New(connect, n.Name, clock, zaptest.NewLogger(t))
	go again.Run(ctx)
	again.Set(steps[2].cond)
	again.Record(nodereport.Event{Reason: "TestSettled", Message: "settled"})
	waitFor(t, ctx, "the settle event", func() bool {
		list, err := srv.Client().CoreV1().Events(nodereport.EventNamespace).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + n.Name})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items) == 1
	})
	if got := again.Writes(); got != 1 {
		t.Errorf("a restarted writer made %d writes for an unchanged condition and one event, want 1", got)
	}
}

func waitCondition(t *testing.T, ctx context.Context, srv *apiserver.Server, node, reason string) corev1.NodeCondition {
	t.Helper()
	var got corev1.NodeCondition
	waitFor(t, ctx, "condition "+reason, func() bool {
		n, err := srv.Client().CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range n.Status.Conditions {
			if c.Type == kube.ConditionType {
				got = c
			}
		}
		return got.Reason == reason
	})
	return got
}

func waitFor(t *testing.T, ctx context.Context, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("waiting for %s", what)
		}
		select {
		case <-ctx.Done():
		case <-time.After(20 * time.Millisecond):
		}
	}
}
