package main

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestParseCapacity(t *testing.T) {
	for _, tc := range []struct {
		name, data string
		want       machineCapacity
		wantErr    string // substring; "" for none
	}{
		{name: "strings", data: "cpu: \"4\"\nmemory: 4Gi\n", want: machineCapacity{cpu: 4, memory: 4 << 30}},
		{name: "number cpu", data: "cpu: 8\nmemory: 8Gi\n", want: machineCapacity{cpu: 8, memory: 8 << 30}},
		{name: "memory only", data: "memory: 512Mi\n", want: machineCapacity{memory: 512 << 20}},
		{name: "empty", data: "", want: machineCapacity{}},
		{name: "fractional cpu", data: "cpu: 500m\n", wantErr: "cpu"},
		{name: "zero cpu", data: "cpu: 0\n", wantErr: "cpu"},
		{name: "bad memory", data: "memory: lots\n", wantErr: "memory"},
		{name: "negative memory", data: "memory: -1Gi\n", wantErr: "memory"},
		{name: "unknown key", data: "cpus: 4\n", wantErr: `unknown key "cpus"`},
		{name: "not yaml", data: "cpu: [\n", wantErr: "capacity.yaml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCapacity("/x/capacity.yaml", []byte(tc.data))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), "/x/capacity.yaml") {
					t.Fatalf("err = %v, want one naming the file and %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseCapacity = %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestLoadCapacityFallsBackToTheHost(t *testing.T) {
	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	if err := os.WriteFile(meminfo, []byte("MemTotal:        8000000 kB\nMemFree: 1 kB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadCapacity(filepath.Join(dir, "absent.yaml"), meminfo)
	if want := (machineCapacity{cpu: runtime.NumCPU(), memory: 8000000 * 1024}); err != nil || got != want {
		t.Errorf("absent file: %+v, %v; want the host's %+v", got, err, want)
	}
	file := filepath.Join(dir, "capacity.yaml")
	if err := os.WriteFile(file, []byte("cpu: 4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err = loadCapacity(file, meminfo)
	if want := (machineCapacity{cpu: 4, memory: 8000000 * 1024}); err != nil || got != want {
		t.Errorf("cpu only: %+v, %v; want %+v", got, err, want)
	}
}
