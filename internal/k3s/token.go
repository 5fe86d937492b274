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

// ReadToken reads the cluster token from path. It fails when the file is
// missing, empty, or readable by group or others (a leaked token lets anyone
// on the LAN join a node to the cluster).
func ReadToken(path string) (string, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading k3s token: %s does not exist; create it once with `nodeagent token generate` and copy it (mode 0600) to every node: %w", path, err)
	}
	if err != nil {
		return "", fmt.Errorf("reading k3s token: %w", err)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("reading k3s token: %s has mode %04o, readable by group or others; run chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading k3s token: %w", err)
	}
	tok := string(bytes.TrimSpace(data))
	if tok == "" {
		return "", fmt.Errorf("reading k3s token: %s is empty", path)
	}
	return tok, nil
}
