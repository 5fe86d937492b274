package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The daemon relays a child's error line: a broken cluster file must reach
// it with the file, line and field.
func TestApplyReportsErrorsAsALine(t *testing.T) {
	path := filepath.Join("..", "..", "internal", "config", "testdata", "bad", "lb-collides.yaml")
	stdout, _, err := run(t, "apply", "--report", "lines", "--config", path)
	if err == nil {
		t.Fatal("apply with a bad cluster file succeeded")
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "error ") || !strings.Contains(last, "lb-collides.yaml:14: network.loadBalancer.addresses.pihole") {
		t.Errorf("last line = %q, want an error line naming file, line and field", last)
	}
}

func TestServerWorkCommandsRejectAnUnknownReportFormat(t *testing.T) {
	_, _, err := run(t, "quorum", "--report", "xml")
	if err == nil || !strings.Contains(err.Error(), `--report "xml"`) {
		t.Errorf("err = %v", err)
	}
}

func TestFindDaemonPrefersTheOneBesideTheBinary(t *testing.T) {
	dir := t.TempDir()
	self := filepath.Join(dir, "nodeagent")
	if _, err := findDaemon(self); err == nil && !exists(installedDaemon) {
		t.Fatal("found a daemon in an empty directory")
	}
	beside := filepath.Join(dir, "nodeagentd")
	if err := os.WriteFile(beside, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := findDaemon(self)
	if err != nil || got != beside {
		t.Errorf("findDaemon = %q, %v; want %q", got, err, beside)
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// stale-member needs the server to go through and the CA it must serve;
// the token is never a flag.
func TestStaleMemberNeedsViaAndCA(t *testing.T) {
	_, _, err := run(t, "stale-member", "--via", "https://10.0.0.11:6443")
	if err == nil || !strings.Contains(err.Error(), `"ca"`) {
		t.Errorf("stale-member without --ca: err = %v, want the missing flag named", err)
	}
	cmd, _, err := newRootCommand().Find([]string{"stale-member"})
	if err != nil {
		t.Fatal(err)
	}
	if !cmd.Hidden || cmd.Flags().Lookup("token") != nil {
		t.Errorf("stale-member: hidden %v, token flag %v; want a hidden command without one", cmd.Hidden, cmd.Flags().Lookup("token"))
	}
}
