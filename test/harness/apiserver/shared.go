package apiserver

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// Shared starts one Server on first use and lets every test of a package use
// it, which saves the startup per test. Tests sharing it must not collide:
// give objects unique names (CreateNamespace helps). Typical use:
//
//	var kube apiserver.Shared
//
//	func TestMain(m *testing.M) { os.Exit(kube.Main(m)) }
//
//	func TestX(t *testing.T) { srv := kube.Get(t); … }
//
// The zero value is ready to use.
type Shared struct {
	once sync.Once
	srv  *Server
	dir  string
	err  error
}

// Get returns the shared Server, starting it on the first call. The skip and
// fail rules for a missing binary are those of Start. A failed start fails
// every test that calls Get; a test that fails logs the apiserver's log tail.
func (s *Shared) Get(t testing.TB) *Server {
	t.Helper()
	binary := requireBinary(t)
	s.once.Do(func() {
		s.dir, s.err = os.MkdirTemp("", "nodeagent-kube-apiserver-")
		if s.err != nil {
			s.err = fmt.Errorf("creating shared apiserver dir: %w", s.err)
			return
		}
		s.srv, s.err = launch(binary, s.dir)
		if s.err == nil {
			t.Logf("shared kube-apiserver %s ready at %s in %s", Version, s.srv.url, s.srv.readyIn.Round(time.Millisecond))
		}
	})
	if s.err != nil {
		t.Fatal(s.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("shared kube-apiserver log tail (%s):\n%s", s.srv.proc.logPath, s.srv.proc.logTail())
		}
	})
	return s.srv
}

// Main runs a package's tests and then stops the shared server: the whole
// TestMain of a package that uses one, `os.Exit(kube.Main(m))`.
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	s.Close()
	return code
}

// Close stops the shared Server, if it was started, and removes its files.
func (s *Shared) Close() {
	if s.srv != nil {
		s.srv.stop()
	}
	if s.dir != "" {
		_ = os.RemoveAll(s.dir)
	}
}
