package restore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/host"
)

// SnapshotDir is where k3s writes its etcd snapshots by default
// (`etcd-snapshot-dir`, ${data-dir}/server/db/snapshots).
const SnapshotDir = "/var/lib/rancher/k3s/server/db/snapshots"

// Snapshot is a checked etcd snapshot file.
type Snapshot struct {
	Path    string // on the host, without the test root
	Size    int64
	ModTime time.Time
	// Zipped: k3s's compressed form (etcd-snapshot-compress), which its
	// restore unzips itself (pkg/etcd/snapshot.go decompressSnapshot).
	Zipped bool
}

// ErrNotSnapshot means the file is neither a bbolt database (what etcd's
// snapshot is) nor a k3s zipped snapshot.
var ErrNotSnapshot = errors.New("not an etcd snapshot")

// Resolve finds the snapshot arg names: a path (absolute, or with a
// slash), else a file name looked up in each of dirs in order (k3s's
// snapshot dir, the backups dir). It checks that the file is a snapshot
// and changes nothing.
func Resolve(root host.Root, arg string, dirs []string) (Snapshot, error) {
	if arg == "" {
		return Snapshot{}, errors.New("no snapshot named")
	}
	var candidates []string
	if strings.ContainsRune(arg, '/') {
		p := arg
		if !filepath.IsAbs(p) {
			abs, err := filepath.Abs(p)
			if err != nil {
				return Snapshot{}, fmt.Errorf("snapshot %s: %w", arg, err)
			}
			p = abs
		}
		candidates = []string{p}
	} else {
		for _, d := range dirs {
			if d != "" {
				candidates = append(candidates, filepath.Join(d, arg))
			}
		}
	}
	for _, p := range candidates {
		st, err := os.Stat(root.Path(p))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %s: %w", p, err)
		}
		if !st.Mode().IsRegular() {
			return Snapshot{}, fmt.Errorf("snapshot %s: %w: not a regular file", p, ErrNotSnapshot)
		}
		zipped, err := checkSnapshot(root.Path(p))
		if err != nil {
			return Snapshot{}, fmt.Errorf("snapshot %s: %w", p, err)
		}
		return Snapshot{Path: p, Size: st.Size(), ModTime: st.ModTime(), Zipped: zipped}, nil
	}
	return Snapshot{}, fmt.Errorf("snapshot %s: no such file (looked in %s)", arg, strings.Join(candidates, ", "))
}

// boltMagic is bbolt's meta page magic (go.etcd.io/bbolt internal/common
// Magic), at offset 16 of the first page, after the page header.
const boltMagic = 0xED0CDAED

// checkSnapshot reads the file's head: a bbolt database, or a zip archive
// named .zip as k3s names its compressed snapshots.
func checkSnapshot(path string) (zipped bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, 32)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false, err
	}
	head = head[:n]
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) && strings.HasSuffix(path, ".zip") {
		return true, nil
	}
	if len(head) >= 24 && binary.LittleEndian.Uint32(head[16:20]) == boltMagic {
		return false, nil
	}
	return false, fmt.Errorf("%w: no bbolt header (an etcd snapshot is a bbolt database) and no k3s .zip", ErrNotSnapshot)
}
