package k3s

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/plan"
)

// tokenBytes of randomness: 256 bits, hex encoded (k3s accepts any string as
// a shared token and derives the real secret from it).
const tokenBytes = 32

// GenerateToken writes a new random cluster token to path (mode 0600). It
// refuses to replace an existing token: every node of the cluster shares it,
// so a new one would lock the node out.
func GenerateToken(path string) error {
	buf := make([]byte, tokenBytes)
	if _, err := rand.Read(buf); err != nil {
		return fmt.Errorf("generating token: %w", err)
	}
	data := []byte(hex.EncodeToString(buf) + "\n")
	if err := writeNewFile(path, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("token %s already exists; it is shared by the whole cluster, so it is not replaced: %w", path, fs.ErrExist)
		}
		return fmt.Errorf("writing token %s: %w", path, err)
	}
	return nil
}

// writeNewFile writes data to path (mode 0600), which must not exist yet:
// through a synced temp file that link(2) puts in place, so the file appears
// whole or not at all and an existing one is never overwritten, even by a
// racing run (the error then wraps fs.ErrExist).
func writeNewFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := writeSynced(tmp, data); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

func writeSynced(f *os.File, data []byte) error {
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

// Tokens are the secrets a node's k3s config holds: an agent node has only
// Agent; a server has both, and the S3 keys when snapshots go to S3.
type Tokens struct {
	Server, Agent string
	S3            S3Credentials
}

// RedactedTokens stand in for the secrets in plans.
var RedactedTokens = Tokens{Server: plan.Redacted, Agent: plan.Redacted,
	S3: S3Credentials{AccessKey: plan.Redacted, SecretKey: plan.Redacted}}

// ReadTokens reads the token files node n needs: the agent token file, and
// on a server also the server token file. An agent never opens the server
// token file, so it need not (and should not) exist there.
func ReadTokens(root host.Root, c *config.Cluster, n config.Node) (Tokens, error) {
	var t Tokens
	var err error
	agentFile := root.Path(c.K3s.AgentTokenFile)
	if n.Role == config.RoleServer {
		if t.Server, err = ReadToken(root.Path(c.K3s.TokenFile)); err != nil {
			return Tokens{}, err
		}
		if s3 := c.K3s.EtcdSnapshots.S3; s3.Enabled() {
			if t.S3, err = ReadS3Credentials(root.Path(s3.CredentialsFile)); err != nil {
				return Tokens{}, err
			}
		}
		// Servers alone need no agent token: k3s then takes the server
		// token for its agent endpoints, which no one else holds.
		if _, serr := os.Stat(agentFile); errors.Is(serr, fs.ErrNotExist) && !AgentTokenNeeded(c) {
			return t, nil
		}
	}
	if t.Agent, err = ReadAgentToken(agentFile); err != nil {
		return Tokens{}, err
	}
	return t, nil
}

// AgentTokenNeeded reports whether the cluster file lists an agent node,
// which joins with the agent token, so every server must hold it too.
func AgentTokenNeeded(c *config.Cluster) bool {
	for _, n := range c.Nodes {
		if n.Role == config.RoleAgent {
			return true
		}
	}
	return false
}

// JoinToken is the token node n joins with: the server token on a server,
// the agent token on an agent.
func (t Tokens) JoinToken(n config.Node) string {
	if n.Role == config.RoleServer {
		return t.Server
	}
	return t.Agent
}

// ReadToken reads the server token from path. It fails when the file is
// missing, empty, or readable by group or others (a leaked token lets anyone
// on the LAN join a node to the cluster).
func ReadToken(path string) (string, error) {
	return readTokenFile(path, "k3s token", "nodeagent token generate", "every server")
}

// ReadAgentToken reads the agent token from path, as ReadToken does.
func ReadAgentToken(path string) (string, error) {
	return readTokenFile(path, "k3s agent token", "nodeagent token generate --agent", "every node")
}

func readTokenFile(path, what, generate, where string) (string, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %s does not exist; create it once with `%s` and copy it (mode 0600) to %s: %w", what, path, generate, where, err)
	}
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("reading %s: %s has mode %04o, readable by group or others; run chmod 600 %s", what, path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", what, err)
	}
	tok := string(bytes.TrimSpace(data))
	if tok == "" {
		return "", fmt.Errorf("reading %s: %s is empty", what, path)
	}
	return tok, nil
}
