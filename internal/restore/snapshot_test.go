package restore

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/host"
)

func boltHead() []byte {
	b := make([]byte, 4096)
	binary.LittleEndian.PutUint32(b[16:], boltMagic)
	return b
}

func TestResolve(t *testing.T) {
	dir := t.TempDir()
	root := host.NewRoot(dir)
	write := func(p string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(root.Path(p)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root.Path(p), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(SnapshotDir+"/on-demand-pi4-1-1", boltHead())
	write("/mnt/hd1/backups/etcd/nightly-2", boltHead())
	write("/mnt/hd1/backups/etcd/zipped.zip", []byte("PK\x03\x04rest"))
	write("/tmp/notes.txt", []byte("hello, not a snapshot at all"))
	dirs := []string{SnapshotDir, "/mnt/hd1/backups/etcd"}

	s, err := Resolve(root, "on-demand-pi4-1-1", dirs)
	if err != nil || s.Path != SnapshotDir+"/on-demand-pi4-1-1" || s.Size != 4096 {
		t.Errorf("by name in the snapshot dir: %+v, %v", s, err)
	}
	if s, err = Resolve(root, "nightly-2", dirs); err != nil || s.Path != "/mnt/hd1/backups/etcd/nightly-2" {
		t.Errorf("by name in the backups dir: %+v, %v", s, err)
	}
	if s, err = Resolve(root, "/mnt/hd1/backups/etcd/zipped.zip", dirs); err != nil || !s.Zipped {
		t.Errorf("zipped by path: %+v, %v", s, err)
	}
	if _, err = Resolve(root, "/tmp/notes.txt", dirs); !errors.Is(err, ErrNotSnapshot) {
		t.Errorf("a text file: %v, want ErrNotSnapshot", err)
	}
	if _, err = Resolve(root, "missing", dirs); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing name: %v", err)
	}
}
