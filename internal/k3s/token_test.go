package k3s

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateToken(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "etc/nodeagent/token")
	if err := GenerateToken(path); err != nil {
		t.Fatalf("GenerateToken: %v", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode = %04o, want 0600", st.Mode().Perm())
	}
	tok, err := ReadToken(path)
	if err != nil {
		t.Fatalf("ReadToken: %v", err)
	}
	if len(tok) != 2*tokenBytes {
		t.Errorf("token length = %d, want %d", len(tok), 2*tokenBytes)
	}
	// Never overwritten; the existing token survives.
	if err := GenerateToken(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second GenerateToken error = %v, want fs.ErrExist", err)
	}
	if again, _ := ReadToken(path); again != tok {
		t.Error("existing token was replaced")
	}
	if names := listDir(t, filepath.Dir(path)); len(names) != 1 {
		t.Errorf("temp files left: %v", names)
	}
	other := filepath.Join(dir, "other")
	if err := GenerateToken(other); err != nil {
		t.Fatal(err)
	}
	if o, _ := ReadToken(other); o == tok {
		t.Error("two generated tokens are equal")
	}
}

func TestReadTokenErrors(t *testing.T) {
	tests := []struct {
		name, content string
		mode          os.FileMode
		missing       bool
		want          string
	}{
		{name: "missing", missing: true, want: "does not exist"},
		{name: "empty", content: " \n", mode: 0o600, want: "is empty"},
		{name: "group readable", content: "s3cr3t", mode: 0o640, want: "readable by group or others"},
		{name: "world readable", content: "s3cr3t", mode: 0o604, want: "readable by group or others"},
		{name: "ok", content: "tok\n", mode: 0o400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "token")
			if !tc.missing {
				if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(path, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			tok, err := ReadToken(path)
			if tc.want == "" {
				if err != nil || tok != "tok" {
					t.Errorf("ReadToken = %q, %v; want tok", tok, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error leaks the token: %v", err)
			}
		})
	}
}
