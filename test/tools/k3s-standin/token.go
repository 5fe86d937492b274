package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Token forms, as k3s's pkg/clientaccess/token.go parses them: a bare
// password, or "K10<sha256 of the CA bundle>::<user>:<password>". A bare
// password gets the user "server" (cluster.shouldBootstrapLoad passes
// WithUser("server")). Bootstrap-token forms (abcdef.0123456789abcdef) are
// agent tokens and are not supported by the stand-in.
const (
	tokenPrefix  = "K10"
	caHashLength = sha256.Size * 2
)

// joinToken is a parsed token.
type joinToken struct {
	caHash   string // empty for a bare password
	username string
	password string
}

func parseToken(token string) (joinToken, error) {
	var t joinToken
	if token == "" {
		return t, errors.New("token must not be empty")
	}
	if !strings.HasPrefix(token, tokenPrefix) {
		token = tokenPrefix + ":::" + token
	}
	rest := token[len(tokenPrefix):]
	hash, creds, ok := strings.Cut(rest, "::")
	if ok {
		if len(hash) > 0 && len(hash) != caHashLength {
			return t, errors.New("invalid token CA hash length")
		}
		t.caHash = hash
		rest = creds
	}
	user, pass, ok := strings.Cut(rest, ":")
	if !ok || pass == "" {
		return t, errors.New("invalid token format")
	}
	t.username, t.password = user, pass
	return t, nil
}

// hashCA is the token's CA hash of a bundle holding one certificate: the
// sha256 of the file's bytes (k3s hashes the root's DER only for bundles of
// several certificates, which the stand-in never serves).
func hashCA(pem []byte) string {
	sum := sha256.Sum256(pem)
	return hex.EncodeToString(sum[:])
}

// writeTokenFiles writes server/token in the full K10 form, as k3s's
// pkg/server/server.go does on every server start, and points
// server/node-token at it.
func writeTokenFiles(p paths, password string) error {
	ca, err := os.ReadFile(filepath.Join(p.tls, "server-ca.crt"))
	if err != nil {
		return fmt.Errorf("reading server CA for the token file: %w", err)
	}
	full := tokenPrefix + hashCA(ca) + "::server:" + password + "\n"
	if err := writeFile(p.tokenFile, []byte(full), 0o600); err != nil {
		return err
	}
	nodeToken := filepath.Join(p.server, "node-token")
	if target, err := os.Readlink(nodeToken); err == nil && target == p.tokenFile {
		return nil
	}
	_ = os.Remove(nodeToken)
	if err := os.Symlink(p.tokenFile, nodeToken); err != nil {
		return fmt.Errorf("linking node-token: %w", err)
	}
	return nil
}

// supervisorUser is one entry of k3s's server/cred/passwd file.
type supervisorUser struct {
	password string
	groups   []string
}

// Roles of the supervisor's routes (pkg/server/handlers/router.go).
var (
	agentRoles  = []string{"k3s:agent", "system:nodes", "system:bootstrappers"}
	serverRoles = []string{"k3s:server"}
)

// supervisorUsers are the users k3s's genUsers
// (pkg/daemons/control/deps/deps.go) writes: "server" with the token's
// password and the k3s:server group only, and "node" with the k3s:agent
// group whose password is agent-token, taken whole, or without one the
// server password. So the agent token opens the agent routes and no other,
// and the server token's "server" user does not open the agent routes.
func (c *config) supervisorUsers() map[string]supervisorUser {
	tok, _ := parseToken(c.Token) // validated by loadConfig
	node := tok.password
	if c.AgentToken != "" {
		node = c.AgentToken
	}
	return map[string]supervisorUser{
		"server": {password: tok.password, groups: []string{"k3s:server"}},
		"node":   {password: node, groups: []string{"k3s:agent"}},
	}
}

// writeAgentTokenFile writes server/agent-token as
// K10<CA hash>::node:<agent-token> (mode 0600) when agent-token is set, as
// k3s's pkg/server/server.go does; without it no such file is written.
func writeAgentTokenFile(p paths, agentToken string) error {
	if agentToken == "" {
		return nil
	}
	ca, err := os.ReadFile(filepath.Join(p.tls, "server-ca.crt"))
	if err != nil {
		return fmt.Errorf("reading server CA for the agent token file: %w", err)
	}
	return writeFile(p.agentToken, []byte(tokenPrefix+hashCA(ca)+"::node:"+agentToken+"\n"), 0o600)
}
