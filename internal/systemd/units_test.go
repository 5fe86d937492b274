package systemd

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

func TestValidUnitName(t *testing.T) {
	tests := []struct {
		name  string
		valid bool
	}{
		{"k3s.service", true},
		{"nodeagent-mount@hd1.service", true},
		{"mnt-hd1.mount", true},
		{"", false},
		{"k3s", false},
		{"../evil.service", false},
		{"a/b.service", false},
		{"..", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := validUnitName(tt.name); (err == nil) != tt.valid {
				t.Errorf("validUnitName(%q) = %v, want valid=%v", tt.name, err, tt.valid)
			}
		})
	}
}

func TestJournalArgs(t *testing.T) {
	tests := []struct {
		name string
		root host.Root
		want []string
	}{
		{"host", host.NewRoot("/"), []string{"-u", "k3s.service", "-n", "20", "-o", "cat", "--no-pager", "-q"}},
		{"container", host.NewRoot("/proc/42/root"),
			[]string{"-u", "k3s.service", "-n", "20", "-o", "cat", "--no-pager", "-q", "--root", "/proc/42/root"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, journalArgs(tt.root, "k3s.service", 20)); diff != "" {
				t.Errorf("journalArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSplitLines(t *testing.T) {
	tests := map[string][]string{
		"":          nil,
		"\n":        nil,
		"a\nb\n":    {"a", "b"},
		"a\n\nb":    {"a", "", "b"},
		"only line": {"only line"},
	}
	for in, want := range tests {
		if diff := cmp.Diff(want, splitLines(in)); diff != "" {
			t.Errorf("splitLines(%q) (-want +got):\n%s", in, diff)
		}
	}
}

func TestNewWithoutBus(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no_bus_socket")
	_, err := New(context.Background(), zaptest.NewLogger(t), host.NewRoot(t.TempDir()), WithBusSocket(sock))
	if err == nil || !strings.Contains(err.Error(), sock) {
		t.Errorf("New on a missing socket = %v, want an error naming %s", err, sock)
	}
}

// InstalledUnit reads the unit file under the root; none is nil, no error.
func TestInstalledUnit(t *testing.T) {
	root := host.NewRoot(t.TempDir())
	m := &Manager{root: root}
	if got, err := m.InstalledUnit("k3s.service"); err != nil || got != nil {
		t.Errorf("no unit: %q, %v; want nil, nil", got, err)
	}
	if err := os.MkdirAll(root.Path(UnitDir), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root.Path(UnitPath("k3s.service")), []byte("[Unit]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := m.InstalledUnit("k3s.service"); err != nil || string(got) != "[Unit]\n" {
		t.Errorf("installed unit: %q, %v", got, err)
	}
	if _, err := m.InstalledUnit("../evil.service"); err == nil {
		t.Error("a name outside the unit directory was read")
	}
}
