package k3s

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nodeagent/nodeagent/internal/host"
)

// ErrOtherClusterPin is a token that already pins a CA other than this
// server's: it belongs to another cluster, so it is never replaced.
var ErrOtherClusterPin = errors.New("the token pins another cluster's CA")

// tokenUser is the user of a server token ("K10<hash>::server:<secret>");
// k3s gives a bare secret the same user. agentTokenUser is the user of an
// agent token ("K10<hash>::node:<secret>", k3s's server/agent-token file).
const (
	tokenUser      = "server"
	agentTokenUser = "node"
)

// PinToken returns token in k3s's secure form
// "K10<caHash>::server:<secret>". token is a bare secret, "K10::server:<secret>",
// or a token that already pins caHash; one that pins another CA is refused
// with ErrOtherClusterPin.
func PinToken(token, caHash string) (string, error) {
	if _, err := hex.DecodeString(caHash); err != nil || len(caHash) != caHashLength {
		return "", fmt.Errorf("pinning the token: CA hash %q is not a sha256 hex digest", caHash)
	}
	caHash = strings.ToLower(caHash)
	pin, err := TokenCAPin(token)
	if err != nil {
		return "", fmt.Errorf("pinning the token: %w", err)
	}
	if pin != "" && pin != caHash {
		return "", fmt.Errorf("pinning the token: it pins CA sha256 %s, this server's CA is sha256 %s: %w",
			shortHash(pin), shortHash(caHash), ErrOtherClusterPin)
	}
	secret, err := tokenSecret(token)
	if err != nil {
		return "", fmt.Errorf("pinning the token: %w", err)
	}
	return tokenPrefix + caHash + "::" + tokenUser + ":" + secret, nil
}

// tokenSecret is the password of the "server" user a token carries: the
// secret of "K10<hash>::server:<secret>", or the whole of a bare secret
// (k3s gives it the same user, pkg/clientaccess/token.go). Errors never
// quote the token.
func tokenSecret(token string) (string, error) { return tokenSecretFor(token, tokenUser) }

// tokenSecretFor is the password of user that token carries.
func tokenSecretFor(token, wantUser string) (string, error) {
	secret := token
	if strings.HasPrefix(token, tokenPrefix) {
		_, cred, ok := strings.Cut(token[len(tokenPrefix):], "::")
		if !ok {
			return "", errors.New("it starts with K10 but has no \"::\"; want K10<CA sha256>::server:<secret> or a bare secret")
		}
		user, pw, ok := strings.Cut(cred, ":")
		if !ok || pw == "" {
			return "", errors.New("it has no \"user:secret\" after \"::\"")
		}
		if user != wantUser {
			return "", fmt.Errorf("it is for user %q, want a %q token", user, wantUser)
		}
		secret = pw
	}
	if secret == "" || strings.ContainsAny(secret, " \t\r\n") {
		return "", errors.New("the secret is empty or holds white space")
	}
	return secret, nil
}

// WritePinnedToken writes the cluster token, pinned to the CA this server
// serves, to out: tokenFile (the host path of k3s.tokenFile, read under root)
// when out is "" or names that file, else a new file out (a path as given,
// which must not exist yet). The token file is replaced atomically (mode
// 0600) and only when its token changes. It returns the CA hash and whether
// it wrote; the token itself is never returned, so it cannot end up in a log.
func WritePinnedToken(root host.Root, tokenFile, out string) (caHash string, changed bool, err error) {
	caHash, ok, err := ClusterCAHash(root)
	if err != nil {
		return "", false, err
	}
	if !ok {
		return "", false, fmt.Errorf("pinning the token: no cluster CA at %s; run this on a server whose k3s has started", root.Path(ServerCAPath))
	}
	tokenPath := root.Path(tokenFile)
	token, err := ReadToken(tokenPath)
	if err != nil {
		return "", false, err
	}
	pinned, err := PinToken(token, caHash)
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", tokenPath, err)
	}
	data := []byte(pinned + "\n")
	same, err := sameFile(tokenPath, out)
	if err != nil {
		return "", false, err
	}
	if same {
		if token == pinned {
			return caHash, false, nil
		}
		if _, err := host.WriteFileAtomic(tokenPath, data, 0o600); err != nil {
			return "", false, fmt.Errorf("writing pinned token: %w", err)
		}
		return caHash, true, nil
	}
	if err := writeNewFile(out, data); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", false, fmt.Errorf("writing pinned token: %s already exists; remove it or write to another path: %w", out, fs.ErrExist)
		}
		return "", false, fmt.Errorf("writing pinned token %s: %w", out, err)
	}
	return caHash, true, nil
}

// sameFile reports whether out is "" or names tokenPath, by path or, when
// both exist, as the same file (a symlink or a hard link).
func sameFile(tokenPath, out string) (bool, error) {
	if out == "" {
		return true, nil
	}
	a, err := filepath.Abs(tokenPath)
	if err != nil {
		return false, err
	}
	b, err := filepath.Abs(out)
	if err != nil {
		return false, err
	}
	if a == b {
		return true, nil
	}
	sa, err := os.Stat(a)
	if err != nil {
		return false, fmt.Errorf("reading k3s token: %w", err)
	}
	sb, err := os.Stat(b)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("writing pinned token: %w", err)
	}
	return os.SameFile(sa, sb), nil
}
