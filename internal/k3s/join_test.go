package k3s

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

var fastProbe = probeBackoff{min: 5 * time.Millisecond, max: 20 * time.Millisecond, probeTimeout: time.Second}

// flakyServer answers /ping with 503 for the first fails requests, then
// "pong", over TLS with a certificate no client trusts (like a fresh k3s CA).
func flakyServer(t *testing.T, fails int) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/ping" {
			http.NotFound(w, r)
			return
		}
		if fails > 0 {
			fails--
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("pong"))
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestWaitForServer(t *testing.T) {
	tests := []struct {
		name     string
		fails    int
		timeout  time.Duration
		wantErr  bool
		attempts []int
	}{
		{name: "up at once", timeout: 5 * time.Second, attempts: nil},
		{name: "up after two 503", fails: 2, timeout: 5 * time.Second, attempts: []int{1, 2}},
		{name: "never up", fails: 1 << 30, timeout: 200 * time.Millisecond, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := flakyServer(t, tc.fails)
			var attempts []int
			err := waitForServer(context.Background(), host.RealClock{}, srv.URL, tc.timeout,
				func(n int, _ error) { attempts = append(attempts, n) }, fastProbe)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				if !strings.Contains(err.Error(), srv.URL) || !strings.Contains(err.Error(), "503") {
					t.Errorf("error %q should name %s and the last answer", err, srv.URL)
				}
				return
			}
			if diff := cmp.Diff(tc.attempts, attempts); diff != "" {
				t.Errorf("progress attempts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWaitForPredecessor(t *testing.T) {
	c := &config.Cluster{
		K3s: config.K3s{JoinTimeout: config.Duration{Duration: 300 * time.Millisecond}},
		Nodes: []config.Node{
			{Name: "first", Address: "127.211.0.2", Role: config.RoleServer},
			{Name: "second", Address: "127.211.0.3", Role: config.RoleServer},
		},
	}
	if err := WaitForPredecessor(context.Background(), c, c.Nodes[0], nil); err != nil {
		t.Errorf("first server waits for nobody, got %v", err)
	}
	// Nothing listens on 127.211.0.2:6443 (an address no other test uses): the
	// error names the node waited for.
	err := WaitForPredecessor(context.Background(), c, c.Nodes[1], nil)
	if err == nil || !strings.Contains(err.Error(), "after first") {
		t.Errorf("error = %v, want it to name node first", err)
	}
}
