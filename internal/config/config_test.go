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
	if first, _ := f.FirstServer(); first.Name != "pi4-1" {
		t.Errorf("first server = %q, want pi4-1", first.Name)
	}
	if got := strings.Join(f.EnabledWorkloads(), ","); !strings.Contains(got, "home-assistant") {
		t.Errorf("enabled workloads %q lack home-assistant", got)
	}
}
