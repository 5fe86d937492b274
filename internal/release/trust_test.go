package release

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// An air-gap release directory is trusted as the cluster file is (issue
// #22 item 5): a file someone other than root could have written, or a link
// out of the directory, is refused before anything is installed.
func TestInstallAirgappedRefusesUntrusted(t *testing.T) {
	const base = "/media/usb/k3s"
	dir := base + "/" + testVersion
	tests := []struct {
		name    string
		spoil   func(t *testing.T, root host.Root)
		wantErr string // after the root's prefix
	}{
		{name: "a binary writable by others", spoil: func(t *testing.T, root host.Root) {
			chmodTest(t, root.Path(dir+"/k3s-arm64"), 0o666)
		}, wantErr: dir + "/k3s-arm64: writable by others (mode 0666)"},
		{name: "a checksum file writable by others", spoil: func(t *testing.T, root host.Root) {
			chmodTest(t, root.Path(dir+"/sha256sum-arm64.txt"), 0o646)
		}, wantErr: dir + "/sha256sum-arm64.txt: writable by others (mode 0646)"},
		{name: "a version directory writable by others", spoil: func(t *testing.T, root host.Root) {
			chmodTest(t, root.Path(dir), 0o777)
		}, wantErr: dir + ": writable by others (mode 0777)"},
		{name: "a binary owned by another user", spoil: func(t *testing.T, root host.Root) {
			if os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			if err := os.Chown(root.Path(dir+"/k3s-arm64"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, wantErr: dir + "/k3s-arm64: owned by uid 65534, not root"},
		{name: "a binary linked out of the directory", spoil: func(t *testing.T, root host.Root) {
			writeTree(t, root, map[string]string{"/home/pi/k3s-arm64": "not k3s"})
			if err := os.Remove(root.Path(dir + "/k3s-arm64")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(root.Path("/home/pi/k3s-arm64"), root.Path(dir+"/k3s-arm64")); err != nil {
				t.Fatal(err)
			}
		}, wantErr: dir + "/k3s-arm64: a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bin := payload(7, 64<<10)
			root := newRoot(t)
			writeTree(t, root, map[string]string{
				dir + "/k3s-arm64":           string(bin),
				dir + "/sha256sum-arm64.txt": sha(bin) + "  k3s-arm64\n",
			})
			tt.spoil(t, root)
			inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
			_, err := inst.Install(context.Background(), config.K3s{Version: testVersion, ReleaseBase: base}, "arm64")
			if want := root.Path(tt.wantErr); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Install error = %v, want one containing %q", err, want)
			}
			assertBinary(t, root, nil)
			if got := listDir(t, filepath.Dir(root.Path(DefaultStatePath))); len(got) != 0 {
				t.Errorf("state directory holds %v after a refused install, want nothing", got)
			}
		})
	}
}

func chmodTest(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
