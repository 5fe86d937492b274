package config

import (
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	f, err := Default()
	if err != nil {
		t.Fatalf("built-in default does not validate:\n%v", err)
	}
	if got := len(f.Servers()); got != 3 {
		t.Errorf("servers = %d, want 3", got)
	}
	if got, want := f.ServerURL(), "https://10.0.0.11:6443"; got != want {
		t.Errorf("ServerURL = %q, want %q", got, want)
	}
	if got := strings.Join(f.EnabledWorkloads(), ","); !strings.Contains(got, "home-assistant") {
		t.Errorf("enabled workloads %q lack home-assistant", got)
	}
}
