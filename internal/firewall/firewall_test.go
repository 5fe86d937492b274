package firewall

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// fakeHost is a host without ufw until apt-get installs it: it holds that
// state and the package's default file, and records every command.
type fakeHost struct {
	mu        sync.Mutex
	root      host.Root
	installed bool
	calls     []string
}

func (h *fakeHost) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, host.QuoteArgv(name, args))
	switch {
	case name == "env" && len(args) > 1 && args[1] == "apt-get":
		h.installed = true
		data := []byte("DEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\nDEFAULT_FORWARD_POLICY=\"DROP\"\n")
		return nil, os.WriteFile(h.root.Path(defaultsPath), data, 0o644)
	case name == "ufw" && !h.installed:
		return nil, fmt.Errorf("running ufw: %w", &exec.Error{Name: "ufw", Err: exec.ErrNotFound})
	case name == "ufw" && args[0] == "status":
		return []byte("Status: inactive\n"), nil
	}
	return nil, nil
}

func newFakeHost(t *testing.T) *fakeHost {
	root := host.NewRoot(t.TempDir())
	if err := os.MkdirAll(filepath.Dir(root.Path(defaultsPath)), 0o755); err != nil {
		t.Fatal(err)
	}
	return &fakeHost{root: root}
}

func TestApplyUFWMissing(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		ifMissing string
		wantErr   error
		wantFirst []string
	}{
		{"error names the fix", "error", ErrUFWMissing, []string{"ufw status"}},
		{"install through apt-get", "install", nil, []string{"ufw status",
			"env DEBIAN_FRONTEND=noninteractive apt-get install -y ufw", "ufw status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := homelab(t)
			c.Firewall.IfMissing = tc.ifMissing
			n, _ := c.Node("pi5")
			h := newFakeHost(t)
			fw := New(h.root, h, zaptest.NewLogger(t)).WithNetwork(fakeNetwork{})
			res, err := fw.Apply(ctx, c, n)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Apply error = %v, want %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantFirst, h.calls[:min(len(h.calls), len(tc.wantFirst))]); diff != "" {
				t.Errorf("first commands (-want +got):\n%s", diff)
			}
			if tc.wantErr != nil {
				return
			}
			// Debian's defaults already match: rules, then enable, no `default`.
			want := len(Desired(c, n)) + 1
			if !res.Installed || len(res.Applied) != want || h.calls[len(h.calls)-1] != "ufw --force enable" {
				t.Errorf("installed %v, %d changes (want %d), last command %q", res.Installed,
					len(res.Applied), want, h.calls[len(h.calls)-1])
			}
		})
	}
}

func TestPlanUFWMissing(t *testing.T) {
	c := homelab(t)
	c.Firewall.IfMissing = "install"
	n, _ := c.Node("pi5")
	h := newFakeHost(t)
	step, err := New(h.root, h, zaptest.NewLogger(t)).WithNetwork(fakeNetwork{}).Plan(context.Background(), c, n)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ufw status"}, h.calls); diff != "" {
		t.Errorf("plan must only read (-want +got):\n%s", diff)
	}
	var got []string
	for _, a := range step.Actions {
		got = append(got, a.Commands...)
	}
	first := []string{"env DEBIAN_FRONTEND=noninteractive apt-get install -y ufw",
		"ufw allow proto tcp from 10.0.0.0/24 to any port 22 comment nodeagent:ssh"}
	if len(got) < 3 || !cmp.Equal(first, got[:2]) || got[len(got)-1] != "ufw --force enable" {
		t.Errorf("plan commands = %q; want install, SSH first, enable last", got)
	}
}

func TestApplyRefusals(t *testing.T) {
	off := false
	for _, tc := range []struct {
		name    string
		modify  func(c *config.Cluster)
		wantErr error
	}{
		{"disabled leaves ufw untouched", func(c *config.Cluster) { c.Firewall.Enabled = &off }, nil},
		{"no way in over SSH", func(c *config.Cluster) { c.Firewall.SSHSources = []string{} }, ErrNoSSHAccess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := homelab(t)
			tc.modify(c)
			n, _ := c.Node("pi4-1")
			run := &host.FakeRunner{}
			fw := New(host.NewRoot(t.TempDir()), run, zaptest.NewLogger(t)).WithNetwork(fakeNetwork{})
			res, err := fw.Apply(context.Background(), c, n)
			if !errors.Is(err, tc.wantErr) || len(res.Applied) != 0 {
				t.Errorf("Apply = %+v, %v; want no change and error %v", res, err, tc.wantErr)
			}
			step, err := fw.Plan(context.Background(), c, n)
			if !errors.Is(err, tc.wantErr) || len(step.Actions) != 0 {
				t.Errorf("Plan = %+v, %v; want no action and error %v", step, err, tc.wantErr)
			}
			if len(run.Calls) != 0 {
				t.Errorf("commands run: %q, want none", run.Calls)
			}
		})
	}
}
