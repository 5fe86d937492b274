package quorum

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
)

func TestLoadTLS(t *testing.T) {
	dir := t.TempDir()
	if _, err := loadTLS(dir); err == nil || !strings.Contains(err.Error(), "reading etcd CA") {
		t.Fatalf("loadTLS(empty dir) = %v, want a CA error", err)
	}
	writeK3sEtcdPKI(t, dir)
	cfg, err := loadTLS(dir)
	if err != nil {
		t.Fatalf("loadTLS(k3s layout) = %v", err)
	}
	if len(cfg.Certificates) != 1 || cfg.RootCAs == nil {
		t.Errorf("loadTLS: %d certificates, RootCAs %v", len(cfg.Certificates), cfg.RootCAs)
	}
	if err := os.Remove(filepath.Join(dir, KeyFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := loadTLS(dir); err == nil || !strings.Contains(err.Error(), "loading etcd client certificate") {
		t.Fatalf("loadTLS(no key) = %v, want a client certificate error", err)
	}
}

// With nothing listening, Observe fails fast and Wait names the cause.
func TestObserveNoEtcd(t *testing.T) {
	dir := t.TempDir()
	writeK3sEtcdPKI(t, dir)
	u := freeURL(t) // closed again: connection refused
	log := zaptest.NewLogger(t)
	obs := NewObserver(Config{Endpoint: u.String(), TLSDir: dir, CallTimeout: 500 * time.Millisecond}, log)
	t.Cleanup(func() { obs.Close() })
	start := time.Now()
	if _, err := obs.Observe(context.Background()); err == nil || !strings.Contains(err.Error(), "listing etcd members via") {
		t.Fatalf("Observe() = %v, want a member list error", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Observe() took %s with nothing listening", took)
	}
	err := NewGate(obs, GateConfig{Interval: 50 * time.Millisecond}, log).
		Wait(context.Background(), time.Now().Add(300*time.Millisecond), nil)
	if !errors.Is(err, ErrNoQuorum) || !strings.Contains(err.Error(), "cluster never observed") {
		t.Fatalf("Wait() = %v, want ErrNoQuorum with the observe error", err)
	}
}
