package k3s

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"
)

// FakeServiceManager is a stateful stand-in for systemd in unit tests: it
// keeps unit files, enablement and active state, and counts what changed,
// so tests assert on the resulting state rather than on calls.
type FakeServiceManager struct {
	mu       sync.Mutex
	Units    map[string][]byte
	Enabled  map[string]bool
	Active   map[string]bool
	Reloads  int // daemon-reloads caused by changed units
	Starts   map[string]int
	Restarts map[string]int
	// StartErr, when set, makes Start and Restart fail and leave the unit
	// inactive, as a crashing k3s would.
	StartErr error
}

// NewFakeServiceManager returns an empty fake.
func NewFakeServiceManager() *FakeServiceManager {
	return &FakeServiceManager{
		Units: map[string][]byte{}, Enabled: map[string]bool{}, Active: map[string]bool{},
		Starts: map[string]int{}, Restarts: map[string]int{},
	}
}

// InstallUnit stores the unit; a change counts as a daemon-reload.
func (f *FakeServiceManager) InstallUnit(_ context.Context, name string, content []byte) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.Units[name]; ok && bytes.Equal(old, content) {
		return false, nil
	}
	f.Units[name] = bytes.Clone(content)
	f.Reloads++
	return true, nil
}

// InstalledUnit returns the stored unit, nil when none.
func (f *FakeServiceManager) InstalledUnit(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return bytes.Clone(f.Units[name]), nil
}

// Enable marks an installed unit enabled.
func (f *FakeServiceManager) Enable(_ context.Context, name string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.Units[name]; !ok {
		return false, fmt.Errorf("enabling %s: unit not found", name)
	}
	if f.Enabled[name] {
		return false, nil
	}
	f.Enabled[name] = true
	return true, nil
}

// Start activates the unit; like systemctl start, a no-op when active.
func (f *FakeServiceManager) Start(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Active[name] {
		return nil
	}
	return f.activate(name, f.Starts)
}

// Restart (re)activates the unit.
func (f *FakeServiceManager) Restart(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.Active[name] = false
	return f.activate(name, f.Restarts)
}

func (f *FakeServiceManager) activate(name string, count map[string]int) error {
	if _, ok := f.Units[name]; !ok {
		return fmt.Errorf("starting %s: unit not found", name)
	}
	count[name]++
	if f.StartErr != nil {
		return fmt.Errorf("starting %s: %w", name, f.StartErr)
	}
	f.Active[name] = true
	return nil
}

// WaitActive fails at once when the unit is not active.
func (f *FakeServiceManager) WaitActive(_ context.Context, name string, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.Active[name] {
		return fmt.Errorf("waiting for %s: unit is inactive", name)
	}
	return nil
}
