package k3s

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/host"
)

var (
	pinHashA = CAHash([]byte("ca A"))
	pinHashB = CAHash([]byte("ca B"))
)

func TestPinToken(t *testing.T) {
	for _, tc := range []struct {
		name, token, want, wantErr string
	}{
		{name: "bare secret", token: "s3cret", want: "K10" + pinHashA + "::server:s3cret"},
		{name: "K10 without hash", token: "K10::server:s3cret", want: "K10" + pinHashA + "::server:s3cret"},
		{name: "already pinned here", token: "K10" + pinHashA + "::server:s3cret", want: "K10" + pinHashA + "::server:s3cret"},
		{name: "pinned upper case", token: "K10" + strings.ToUpper(pinHashA) + "::server:s3cret", want: "K10" + pinHashA + "::server:s3cret"},
		{name: "secret with colons", token: "K10::server:a:b", want: "K10" + pinHashA + "::server:a:b"},
		{name: "pinned to another cluster", token: "K10" + pinHashB + "::server:s3cret",
			wantErr: "it pins CA sha256 " + pinHashB[:12] + "…, this server's CA is sha256 " + pinHashA[:12] + "…"},
		{name: "short hash", token: "K10abc::server:s3cret", wantErr: "CA hash has 3 characters"},
		{name: "hash not hex", token: "K10" + strings.Repeat("z", 64) + "::server:s3cret", wantErr: "not hex"},
		{name: "K10 without separator", token: "K10server:s3cret", wantErr: "no \"::\""},
		{name: "no secret", token: "K10::server:", wantErr: "no \"user:secret\""},
		{name: "agent token", token: "K10::node:s3cret", wantErr: "user \"node\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PinToken(tc.token, pinHashA)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("PinToken(%q) = %q, %v; want error containing %q", tc.token, got, err, tc.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("PinToken(%q) = %q, %v; want %q", tc.token, got, err, tc.want)
			}
		})
	}
	if _, err := PinToken("s3cret", "abc"); err == nil {
		t.Error("PinToken with a malformed CA hash: no error")
	}
	if _, err := PinToken("K10"+pinHashB+"::server:x", pinHashA); !errors.Is(err, ErrOtherClusterPin) {
		t.Errorf("foreign pin error = %v, want ErrOtherClusterPin", err)
	}
}

// pinTree is a host root with a token file and, when ca is not nil, the
// server's CA.
func pinTree(t *testing.T, token string, ca []byte) (host.Root, string) {
	t.Helper()
	dir := t.TempDir()
	root := host.NewRoot(dir)
	const tokenFile = "/etc/nodeagent/token"
	writeTestFile(t, root.Path(tokenFile), token, 0o600)
	if ca != nil {
		writeTestFile(t, root.Path(ServerCAPath), string(ca), 0o644)
	}
	return root, tokenFile
}

func writeTestFile(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
}

func readPinned(t *testing.T, path string) string {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestWritePinnedToken(t *testing.T) {
	ca := []byte("ca A")
	want := "K10" + pinHashA + "::server:s3cret\n"

	t.Run("no CA", func(t *testing.T) {
		root, tf := pinTree(t, "s3cret\n", nil)
		_, _, err := WritePinnedToken(root, tf, "")
		if err == nil || !strings.Contains(err.Error(), "run this on a server whose k3s has started") {
			t.Fatalf("err = %v, want one saying to run it on a started server", err)
		}
		if got := readPinned(t, root.Path(tf)); got != "s3cret\n" {
			t.Errorf("token file changed to %q", got)
		}
	})

	t.Run("in place, then already", func(t *testing.T) {
		root, tf := pinTree(t, "s3cret\n", ca)
		hash, changed, err := WritePinnedToken(root, tf, "")
		if err != nil || hash != pinHashA || !changed {
			t.Fatalf("WritePinnedToken = %s, %v, %v; want %s, true, nil", hash, changed, err, pinHashA)
		}
		if got := readPinned(t, root.Path(tf)); got != want {
			t.Errorf("token file = %q, want %q", got, want)
		}
		st1, _ := os.Stat(root.Path(tf))
		hash, changed, err = WritePinnedToken(root, tf, root.Path(tf))
		if err != nil || hash != pinHashA || changed {
			t.Fatalf("second WritePinnedToken = %s, %v, %v; want %s, false, nil", hash, changed, err, pinHashA)
		}
		st2, _ := os.Stat(root.Path(tf))
		if !os.SameFile(st1, st2) || !st1.ModTime().Equal(st2.ModTime()) {
			t.Error("an already pinned token file was rewritten")
		}
		if entries, _ := os.ReadDir(filepath.Dir(root.Path(tf))); len(entries) != 1 {
			t.Errorf("token dir holds %d entries, want only the token (no temp files left)", len(entries))
		}
	})

	t.Run("refuses another cluster's pin", func(t *testing.T) {
		foreign := "K10" + pinHashB + "::server:s3cret\n"
		root, tf := pinTree(t, foreign, ca)
		_, _, err := WritePinnedToken(root, tf, "")
		if !errors.Is(err, ErrOtherClusterPin) || !strings.Contains(err.Error(), pinHashA[:12]) || !strings.Contains(err.Error(), pinHashB[:12]) {
			t.Fatalf("err = %v, want ErrOtherClusterPin naming both hashes", err)
		}
		if got := readPinned(t, root.Path(tf)); got != foreign {
			t.Errorf("token file changed to %q", got)
		}
	})

	t.Run("to a new file", func(t *testing.T) {
		root, tf := pinTree(t, "s3cret\n", ca)
		out := filepath.Join(t.TempDir(), "sub", "pinned")
		if _, changed, err := WritePinnedToken(root, tf, out); err != nil || !changed {
			t.Fatalf("WritePinnedToken to %s: %v, %v", out, changed, err)
		}
		if got := readPinned(t, out); got != want {
			t.Errorf("%s = %q, want %q", out, got, want)
		}
		if got := readPinned(t, root.Path(tf)); got != "s3cret\n" {
			t.Errorf("token file changed to %q", got)
		}
		_, _, err := WritePinnedToken(root, tf, out)
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("second write to %s: err = %v, want fs.ErrExist", out, err)
		}
	})

	t.Run("token readable by others", func(t *testing.T) {
		root, tf := pinTree(t, "s3cret\n", ca)
		if err := os.Chmod(root.Path(tf), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := WritePinnedToken(root, tf, ""); err == nil || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("err = %v, want the mode refusal", err)
		}
	})
}
