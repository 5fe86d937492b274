package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A build stamped to fail at start exits 1 at once, saying so, before it
// reads config.yaml or writes anything.
func TestFailAtStartStamp(t *testing.T) {
	root := t.TempDir()
	t.Setenv("K3S_STANDIN_ROOT", root)
	defer func(v string) { failAtStart = v }(failAtStart)
	failAtStart = "1"
	logFile, err := os.Create(filepath.Join(t.TempDir(), "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer func(f *os.File) { os.Stderr = f }(os.Stderr)
	os.Stderr = logFile
	code := run([]string{"server"})
	os.Stderr = os.NewFile(2, "/dev/stderr")
	if code != 1 {
		t.Fatalf("k3s server of the bad build exited %d, want 1", code)
	}
	logged, err := os.ReadFile(logFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(logged), "stamped to fail at start") || strings.Contains(string(logged), "config") {
		t.Errorf("the bad build did not fail at once on its stamp:\n%s", logged)
	}
	if entries, _ := os.ReadDir(root); len(entries) > 0 {
		t.Errorf("the bad build wrote under its root: %v", entries)
	}
}
