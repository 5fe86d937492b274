package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/nodeagent/nodeagent/internal/cli"
	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/k3s"
)

// runTokenPin runs `nodeagent token pin` on the host tree under root and
// returns stdout and stderr.
func runTokenPin(t *testing.T, root string, args ...string) (string, string, error) {
	t.Helper()
	g := &cli.Globals{}
	cmd := &cobra.Command{Use: "nodeagent", SilenceUsage: true}
	g.AddFlags(cmd)
	cmd.AddCommand(newTokenCommand(g))
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"--root", root, "token", "pin"}, args...))
	err := cmd.Execute()
	return out.String(), errOut.String(), err
}

func TestTokenPin(t *testing.T) {
	const secret = "0123456789abcdef-the-secret"
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: string(config.DefaultYAML())}, 0o644)
	writeFiles(t, root, map[string]string{config.DefaultTokenFile: secret + "\n"}, 0o600)
	tokenPath := filepath.Join(root, config.DefaultTokenFile)

	stdout, stderr, err := runTokenPin(t, root)
	if err == nil || !strings.Contains(err.Error(), "whose k3s has started") {
		t.Fatalf("pin without a CA: err = %v, want the not-a-started-server error", err)
	}
	if strings.Contains(stdout+stderr+err.Error(), secret) {
		t.Errorf("output shows the secret:\n%s%s", stdout, stderr)
	}

	ca := "-----BEGIN CERTIFICATE-----\nfake\n-----END CERTIFICATE-----\n"
	writeFiles(t, root, map[string]string{k3s.ServerCAPath: ca}, 0o644)
	hash := k3s.CAHash([]byte(ca))
	for i, verb := range []string{"wrote", "already pinned:"} {
		stdout, stderr, err = runTokenPin(t, root)
		if err != nil {
			t.Fatalf("pin %d: %v\n%s", i, err, stderr)
		}
		want := verb + " " + tokenPath + " (mode 0600): pins cluster CA sha256 " + hash[:12] + "…; copy it to the same path on every node\n"
		if stdout != want || stderr != "" {
			t.Errorf("pin %d: stdout %q, stderr %q; want stdout %q", i, stdout, stderr, want)
		}
	}
	data, err := os.ReadFile(tokenPath)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(data), "K10"+hash+"::server:"+secret+"\n"; got != want {
		t.Errorf("token file = %q, want %q", got, want)
	}

	out := filepath.Join(t.TempDir(), "pinned")
	if stdout, _, err = runTokenPin(t, root, "--file", out); err != nil || !strings.HasPrefix(stdout, "wrote "+out+" ") {
		t.Fatalf("pin --file: %v, stdout %q", err, stdout)
	}
	stdout, stderr, err = runTokenPin(t, root, "--file", out)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("pin --file onto an existing file: err = %v", err)
	}
	if strings.Contains(stdout+stderr+err.Error(), secret) {
		t.Errorf("output shows the secret:\n%s%s", stdout, stderr)
	}
}

// TestTokenGenerateAgent: --agent writes k3s.agentTokenFile (mode 0600),
// not the server token file, and prints no secret.
func TestTokenGenerateAgent(t *testing.T) {
	root := t.TempDir()
	writeFiles(t, root, map[string]string{config.DefaultPath: string(config.DefaultYAML())}, 0o644)
	g := &cli.Globals{}
	cmd := &cobra.Command{Use: "nodeagent", SilenceUsage: true}
	g.AddFlags(cmd)
	cmd.AddCommand(newTokenCommand(g))
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"--root", root, "token", "generate", "--agent"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	agentPath := filepath.Join(root, config.DefaultAgentTokenFile)
	st, err := os.Stat(agentPath)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("agent token file: %v, mode %v; want it with mode 0600", err, st)
	}
	if _, err := os.Stat(filepath.Join(root, config.DefaultTokenFile)); err == nil {
		t.Error("--agent also wrote the server token file")
	}
	tok, err := k3s.ReadAgentToken(agentPath)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), tok) || !strings.Contains(out.String(), "every node") {
		t.Errorf("output %q: want the path and where to copy it, never the token", out.String())
	}
}
