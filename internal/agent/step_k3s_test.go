package agent

import (
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

// The cluster CA is recorded only once the server is an etcd member
// (member/wal), and then pins its later joins.
func TestK3sStepRecordsClusterCA(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := f.Node("pi4-1")
	root := host.NewRoot(t.TempDir())
	a := &Agent{Deps: Deps{File: f, Node: n, Root: root}, log: zaptest.NewLogger(t)}
	ca := []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
	write := func(p string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(root.Path(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(p), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(k3s.ServerCAPath, ca)
	write("/var/lib/rancher/k3s/server/db/etcd/name", []byte("pi4-1-0a1b2c3d"))
	if err := (k3sStep{a}).recordCA(State{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := LoadState(root); st.ClusterCA != "" {
		t.Fatalf("recorded CA %q before the join finished (no member/wal)", st.ClusterCA)
	}
	if err := os.MkdirAll(root.Path(k3s.EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := (k3sStep{a}).recordCA(State{Joined: true}); err != nil {
		t.Fatal(err)
	}
	st, err := LoadState(root)
	if err != nil {
		t.Fatal(err)
	}
	if st.ClusterCA != k3s.CAHash(ca) || !st.Joined {
		t.Errorf("state %+v, want the CA %s recorded and the rest kept", st, k3s.CAHash(ca))
	}
}
