package k3s

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// A k3s token pins the cluster CA in its secure form
// "K10<sha256 of the CA bundle>::<user>:<password>"; the joiner fetches
// /cacerts without verification and refuses a server whose bundle hashes
// differently (pkg/clientaccess/token.go). A bare secret pins nothing.
const (
	tokenPrefix  = "K10"
	caHashLength = sha256.Size * 2
)

// TokenCAPin returns the CA hash a token pins, or "" for a token that pins
// none (a bare secret, or "K10::user:password"). A K10 hash that is not 64
// hex digits is an error, as k3s refuses it.
func TokenCAPin(token string) (string, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return "", nil
	}
	hash, _, ok := strings.Cut(token[len(tokenPrefix):], "::")
	if !ok || hash == "" {
		return "", nil
	}
	if len(hash) != caHashLength {
		return "", fmt.Errorf("the token's CA hash has %d characters, k3s wants %d", len(hash), caHashLength)
	}
	if _, err := hex.DecodeString(hash); err != nil {
		return "", fmt.Errorf("the token's CA hash is not hex: %w", err)
	}
	return strings.ToLower(hash), nil
}

// CAHash is the hash a token pins for a CA bundle: the sha256 of the bytes
// /cacerts serves (the self-signed CA k3s generates; k3s hashes the root's
// DER instead only for custom CA bundles, which nodeagent does not set up).
func CAHash(bundle []byte) string {
	sum := sha256.Sum256(bundle)
	return hex.EncodeToString(sum[:])
}

// shortHash is a hash as shown to people.
func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}
