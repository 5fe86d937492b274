package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// run executes the CLI in-process and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"--root", t.TempDir()}, args...))
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestValidateBadFileListsEveryError(t *testing.T) {
	path := filepath.Join("..", "..", "internal", "config", "testdata", "bad", "lb-collides.yaml")
	_, stderr, err := run(t, "validate", "--config", path)
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	for _, want := range []string{
		"lb-collides.yaml:14: network.loadBalancer.addresses.pihole: 192.168.50.10 collides with the address of node a",
		"lb-collides.yaml:15: network.loadBalancer.addresses.beszel: 192.168.50.230 is outside network.loadBalancer.pool",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// A newline in a disk's mount point or options would add lines to its
// mount unit: validate refuses them, naming file, line and field, on one
// line each (the newline is shown quoted, not printed).
func TestValidateRefusesInjectedDiskStrings(t *testing.T) {
	path := filepath.Join("..", "..", "internal", "config", "testdata", "bad", "injection.yaml")
	_, stderr, err := run(t, "validate", "--config", path)
	var exit *cli.ExitError
	if !errors.As(err, &exit) || exit.Code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	for _, want := range []string{
		`injection.yaml:23: nodes[0].disks[0].mountPoint: "/mnt/hd1\nExecStartPre=/bin/sh -c id" contains the control character '\n'`,
		`injection.yaml:27: nodes[0].disks[0].options[1]: "noatime\nExecStartPre=/bin/sh -c id" contains the control character '\n'`,
		`injection.yaml:28: nodes[0].disks[0].options[2]: "user" is not an allowed mount option`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "\nExecStartPre") {
		t.Errorf("stderr prints the injected line as a line of its own:\n%s", stderr)
	}
}

func TestConfigDefaultValidatesAsAFile(t *testing.T) {
	out, _, err := run(t, "config", "default")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cluster.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := run(t, "validate", "--config", path)
	if err != nil || !strings.Contains(stdout, "valid (3 nodes, 3 servers, 12 workloads") {
		t.Fatalf("validate of `config default` output: %v\n%s%s", err, stdout, stderr)
	}
}

func TestPlanAllNodesJSON(t *testing.T) {
	out, _, err := run(t, "plan", "-o", "json", "--node", "pi5")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Nodes []struct {
			Node  string `json:"node"`
			Steps []struct {
				Name string `json:"name"`
			} `json:"steps"`
		} `json:"nodes"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("plan -o json is not JSON: %v", err)
	}
	if len(doc.Nodes) != 2 || doc.Nodes[0].Node != "pi5" || doc.Nodes[1].Node != "cluster" {
		t.Fatalf("nodes = %+v, want pi5 then cluster", doc.Nodes)
	}
	var steps []string
	for _, s := range doc.Nodes[0].Steps {
		steps = append(steps, s.Name)
	}
	if got := strings.Join(steps, ","); got != "preflight,disk,firewall,k3s,register,usb,labels,quorum,sealedkeys,manifests" {
		t.Errorf("pi5 steps = %s", got)
	}
	if strings.Contains(out, "K10") || !strings.Contains(out, "token: \\u003credacted\\u003e") {
		t.Error("plan JSON must show the token redacted")
	}
}

// The manual pages are titled by their command, dated by SOURCE_DATE_EPOCH
// and leave out the generated completion scripts.
func TestGenManTitlesAndDatesEachPage(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1796169600") // 2026-12-01
	if _, _, err := run(t, "gen-man", dir); err != nil {
		t.Fatal(err)
	}
	for page, title := range map[string]string{"nodeagent.1": "NODEAGENT", "nodeagent-join.1": "NODEAGENT-JOIN", "nodeagent-token-generate.1": "NODEAGENT-TOKEN-GENERATE"} {
		data, err := os.ReadFile(filepath.Join(dir, page))
		if err != nil {
			t.Fatal(err)
		}
		if want := `.TH "` + title + `" "1" "Dec 2026" "nodeagent ` + version + `"`; !strings.Contains(string(data), want) {
			t.Errorf("%s: no %q in\n%s", page, want, firstLines(string(data), 4))
		}
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "*completion*"))
	if len(pages) > 0 {
		t.Errorf("pages about shell completion: %v", pages)
	}
	t.Setenv("SOURCE_DATE_EPOCH", "")
	if _, _, err := run(t, "gen-man", t.TempDir()); err == nil || !strings.Contains(err.Error(), "SOURCE_DATE_EPOCH") {
		t.Errorf("without SOURCE_DATE_EPOCH: err = %v, want one naming it", err)
	}
}

func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

// On a node where nodeagent installed k3s, validate refuses a k3s.version
// the skew rule refuses, naming file, line, field and both versions; an
// allowed upgrade passes, and without an installed k3s validate says it
// did not check.
func TestValidateChecksTheInstalledK3s(t *testing.T) {
	root := t.TempDir()
	installed := "v1.33.5+k3s1"
	bin := []byte("k3s " + installed)
	dir := filepath.Join(root, "srv", "k3s", installed)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"k3s-arm64": bin, "sha256sum-arm64.txt": []byte(sha256Hex(bin) + "  k3s-arm64\n")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	inst := release.NewInstaller(host.NewRoot(root), zap.NewNop(), host.RealClock{}, release.Options{})
	if _, err := inst.Install(context.Background(), config.K3s{Version: installed, ReleaseBase: "/srv/k3s"}, "arm64"); err != nil {
		t.Fatal(err)
	}
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	if def.K3s.Version != installed {
		t.Fatalf("the default file's version is %s: update this test", def.K3s.Version)
	}
	file := func(version string) string {
		out := strings.Replace(string(config.DefaultYAML()), "version: "+installed, "version: "+version, 1)
		path := filepath.Join(t.TempDir(), "cluster.yaml")
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	validate := func(r, path string) (string, string, error) {
		cmd := newRootCommand()
		var out, errOut bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&errOut)
		cmd.SetArgs([]string{"--root", r, "validate", "--config", path})
		err := cmd.Execute()
		return out.String(), errOut.String(), err
	}
	for _, want := range []string{"v1.35.0+k3s1", "v1.33.4+k3s1"} {
		path := file(want)
		_, stderr, err := validate(root, path)
		var exit *cli.ExitError
		if !errors.As(err, &exit) || exit.Code != 1 {
			t.Fatalf("validate %s: err = %v, want exit 1\n%s", want, err, stderr)
		}
		prefix := path + ":10: k3s.version: " + want
		if !strings.Contains(stderr, prefix) || !strings.Contains(stderr, installed) {
			t.Errorf("validate %s: stderr lacks %q and the installed %s:\n%s", want, prefix, installed, stderr)
		}
	}
	if stdout, stderr, err := validate(root, file("v1.34.2+k3s1")); err != nil || !strings.Contains(stdout, "valid") {
		t.Errorf("validate of a minor upgrade: %v\n%s%s", err, stdout, stderr)
	}
	if _, stderr, err := validate(t.TempDir(), file("v1.35.0+k3s1")); err != nil || !strings.Contains(stderr, "not checked") {
		t.Errorf("validate without an installed k3s: %v, want valid with a note\n%s", err, stderr)
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
