package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/identity"
)

func TestConfigWaitStatus(t *testing.T) {
	mm := &identity.MismatchError{Hostname: "pi4-1", Node: config.Node{Name: "pi4-1", Address: "10.0.0.11"},
		Local: []netip.Addr{netip.MustParseAddr("192.168.1.23")}}
	tests := []struct {
		name   string
		err    error
		waited time.Duration
		want   string
	}{
		{"no cluster file", identity.ErrNoClusterFile, 0,
			"waiting for a usable cluster file: no cluster file: copy " + identity.ExamplePath},
		{"address not there yet", fmt.Errorf("resolving: %w", mm), time.Second,
			"waiting for 10.0.0.11 (node pi4-1, by hostname) on a local interface"},
		{"address never came", mm, identity.AddressWait,
			`not acting: hostname "pi4-1" names node pi4-1, but its address 10.0.0.11 is on no local interface (local addresses [192.168.1.23])`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !isConfigProblem(tt.err) {
				t.Errorf("isConfigProblem(%v) = false: the daemon would exit instead of waiting", tt.err)
			}
			if got := configWaitStatus(tt.err, tt.waited); !strings.HasPrefix(got, tt.want) {
				t.Errorf("status = %q, want it to start with %q", got, tt.want)
			}
		})
	}
}

// A cluster file others could write is refused (issue #22 item 5); the
// daemon waits for the chmod that fixes it, saying what is wrong, rather
// than exiting into a restart loop.
func TestWaitsForAClusterFileOnlyRootCanWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, config.DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if err == nil {
		t.Fatal("a cluster file writable by others was loaded")
	}
	if !isConfigProblem(err) {
		t.Errorf("isConfigProblem(%v) = false: the daemon would exit instead of waiting", err)
	}
	want := "waiting for a usable cluster file: reading cluster file: " + path + ": writable by others (mode 0666)"
	if got := configWaitStatus(err, 0); !strings.HasPrefix(got, want) {
		t.Errorf("status = %q, want it to start with %q", got, want)
	}
}
