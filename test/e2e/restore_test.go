package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/test/harness/benchfig"
)

const witness = "restore-witness"

// restore: a ConfigMap, a snapshot, the ConfigMap deleted; `nodeagent
// restore` on pi4-1 refuses without --yes, then restores. The other two
// servers notice by themselves (their daemons' probe of pi4-1's member
// list), move their etcd data aside, kept, and rejoin: the ConfigMap is
// back on all three, with three healthy voters.
func (sc *scenario) restore(t *testing.T) {
	pi41 := sc.h.nodes["pi4-1"]
	ctx := context.Background()
	if err := pi41.configMap(ctx, "create"); err != nil {
		t.Fatal(err)
	}
	out := pi41.mustExec(t, "nodeagent", "snapshot", "--name", "before-restore")
	m := snapshotLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("pi4-1: nodeagent snapshot said:\n%s", out)
	}
	if err := pi41.configMap(ctx, "delete"); err != nil {
		t.Fatal(err)
	}
	before := sc.k3sStarts()
	if out, err := pi41.exec("nodeagent", "restore", m[1]); err == nil || !strings.Contains(out+err.Error(), "--yes") {
		t.Fatalf("pi4-1: restore without --yes: %v\n%s", err, out)
	}
	if got := pi41.monotonicProp("k3s.service", "ExecMainStartTimestampMonotonic"); got != before[pi41.name] {
		t.Fatalf("pi4-1: restore without --yes restarted k3s")
	}

	start := time.Now()
	out, err := pi41.execFor(5*time.Minute, "nodeagent", "restore", "--yes", m[1])
	if err != nil {
		t.Fatalf("pi4-1: restore: %v\n%s", err, out)
	}
	restored := time.Since(start).Round(time.Millisecond)
	for _, n := range sc.h.each() {
		poll(t, n.name+" in the restored cluster with the witness back", 6*time.Minute, pollEvery, func() error {
			st, err := n.status()
			if err != nil {
				return err
			}
			if err := healthyCluster(st, 3); err != nil {
				return fmt.Errorf("%v; agent: %s", err, n.unitProp("nodeagent.service", "StatusText"))
			}
			return n.configMap(ctx, "get")
		})
	}
	total := time.Since(start).Round(time.Millisecond)
	for _, n := range sc.h.each() {
		if n == pi41 {
			continue
		}
		if out, err := n.exec("sh", "-c", "ls -d /var/lib/rancher/k3s/server/db.before-restore-*/etcd/member"); err != nil || strings.TrimSpace(out) == "" {
			t.Errorf("%s: the etcd data from before the restore is not kept: %q (%v)", n.name, out, err)
		}
	}
	sc.sum.add("restore", "ok", fmt.Sprintf("pi4-1 restored in %s; three healthy voters, the witness back on all, %s after the command started", restored, total))
	benchfig.Report(t, benchfig.Figure{Name: "restore from a snapshot on pi4-1 → three healthy voters (the others rejoin by themselves)",
		Value: fmt.Sprintf("%s (pi4-1's restore command %s)", total, restored)})
}

// configMap creates, deletes or reads the witness ConfigMap through n's
// API server.
func (n *node) configMap(ctx context.Context, op string) error {
	cfg, err := n.restConfig()
	if err != nil {
		return err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	cms := cs.CoreV1().ConfigMaps("default")
	switch op {
	case "create":
		_, err = cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: witness}, Data: map[string]string{"made": "before the snapshot"}}, metav1.CreateOptions{})
	case "delete":
		err = cms.Delete(ctx, witness, metav1.DeleteOptions{})
	default:
		var cm *corev1.ConfigMap
		cm, err = cms.Get(ctx, witness, metav1.GetOptions{})
		if err == nil && cm.Data["made"] != "before the snapshot" {
			err = fmt.Errorf("%s: the witness holds %v", n.name, cm.Data)
		}
		if apierrors.IsNotFound(err) {
			err = fmt.Errorf("%s: no witness ConfigMap", n.name)
		}
	}
	return err
}
