package k3s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

const s3Secret = "K004-very-secret-application-key"

func TestReadS3Credentials(t *testing.T) {
	cases := []struct {
		name, data string
		mode       os.FileMode
		want       string // error text; empty: it reads
	}{
		{"good", "accessKey: 004abc\nsecretKey: " + s3Secret + "\n", 0o600, ""},
		{"readable by others", "accessKey: a\nsecretKey: " + s3Secret + "\n", 0o644, "readable by group or others"},
		{"no secret", "accessKey: a\n", 0o600, "secretKey is missing"},
		{"unknown field", "accessKey: a\nsecret_key: " + s3Secret + "\n", 0o600, "line 2 not understood"},
		{"a list for a key", "accessKey: a\nsecretKey: [" + s3Secret + "]\n", 0o600, "line 2 not understood"},
		{"a bare value", s3Secret + "\n", 0o600, "line 1 not understood"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "etcd-s3-credentials")
			if err := os.WriteFile(p, []byte(tc.data), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil {
				t.Fatal(err)
			}
			c, err := ReadS3Credentials(p)
			if tc.want == "" {
				if err != nil || c.SecretKey != s3Secret || c.AccessKey != "004abc" {
					t.Fatalf("got %v, %v", c == S3Credentials{}, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Fatalf("error %v, want it to name %s and say %q", err, p, tc.want)
			}
			if strings.Contains(err.Error(), s3Secret) {
				t.Fatalf("the error quotes the secret: %v", err)
			}
		})
	}
	if _, err := ReadS3Credentials(filepath.Join(t.TempDir(), "none")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing file: %v", err)
	}
}

// A server of a cluster with S3 gets k3s's etcd-s3-* keys with the
// credentials; the plan shows them redacted; an agent gets none.
func TestConfigRendersEtcdS3(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.K3s.EtcdSnapshots.S3 = config.EtcdS3{Endpoint: "s3.us-west-004.backblazeb2.com", Bucket: "homelab-etcd",
		Folder: "pi-cluster", CredentialsFile: "/etc/nodeagent/etcd-s3-credentials"}
	n, _ := c.Node("pi4-1")
	tokens := Tokens{Server: "server-secret", S3: S3Credentials{AccessKey: "004abc", SecretKey: s3Secret}}
	out, err := RenderConfig(c, n, tokens, Join{Server: "https://10.0.0.12:6443"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"etcd-s3: true\n", "etcd-s3-endpoint: s3.us-west-004.backblazeb2.com\n", "etcd-s3-bucket: homelab-etcd\n",
		"etcd-s3-folder: pi-cluster\n", "etcd-s3-access-key: 004abc\n", "etcd-s3-secret-key: " + s3Secret + "\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config.yaml lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "etcd-s3-region") {
		t.Errorf("an empty region is rendered (k3s's default us-east-1 applies):\n%s", out)
	}
	planned, err := RenderConfig(c, n, RedactedTokens, Join{Undecided: true})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(planned), s3Secret) || !strings.Contains(string(planned), "etcd-s3-secret-key: <redacted>") {
		t.Errorf("plan config:\n%s", planned)
	}
	c.Nodes = append(c.Nodes, config.Node{Name: "pi3", Role: config.RoleAgent, Address: "10.0.0.20"})
	agent, _ := c.Node("pi3")
	out, err = RenderConfig(c, agent, Tokens{Agent: "agent-secret"}, Join{Server: "https://10.0.0.12:6443"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "etcd-s3") {
		t.Errorf("an agent's config has S3 settings:\n%s", out)
	}
}

// A server reads the S3 keys with its tokens; an agent never opens the file.
func TestReadTokensReadsTheS3Keys(t *testing.T) {
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.K3s.EtcdSnapshots.S3 = config.EtcdS3{Endpoint: "s3.example.org", Bucket: "etcd", CredentialsFile: "/etc/nodeagent/etcd-s3-credentials"}
	root := host.NewRoot(t.TempDir())
	for path, data := range map[string]string{c.K3s.TokenFile: "server-secret\n",
		c.K3s.EtcdSnapshots.S3.CredentialsFile: "accessKey: id\nsecretKey: " + s3Secret + "\n"} {
		if err := os.MkdirAll(filepath.Dir(root.Path(path)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(path), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n, _ := c.Node("pi5")
	tokens, err := ReadTokens(root, c, n)
	if err != nil || tokens.S3.SecretKey != s3Secret || tokens.S3.AccessKey != "id" {
		t.Fatalf("server: %v (keys read: %v)", err, tokens.S3.SecretKey == s3Secret)
	}
	if err := os.Remove(root.Path(c.K3s.EtcdSnapshots.S3.CredentialsFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadTokens(root, c, n); err == nil || !strings.Contains(err.Error(), "etcd-s3-credentials does not exist") {
		t.Fatalf("server without the file: %v", err)
	}
}
