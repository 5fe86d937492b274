package apply

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/nodeagent/nodeagent/internal/host"
)

func TestLoadOverlay(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		want     []string // Keys, in order
		wantErr  string   // substring naming file and document
		noCreate bool
	}{
		{name: "missing directory is no overlay", noCreate: true},
		{
			name: "files in name order, multi-document, empty docs and other files skipped",
			files: map[string]string{
				"20-b.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: x}\n",
				"10-a.yml":     "---\napiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n# only a comment\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s, namespace: x}\n",
				"README.md":    "not yaml: [",
				"30-list.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: l1, namespace: x}\n",
			},
			want: []string{"Namespace//x", "Secret/x/s", "ConfigMap/x/b", "ConfigMap/x/l1"},
		},
		{
			name:    "syntax error names file and document",
			files:   map[string]string{"bad.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\nkind: [unclosed\n"},
			wantErr: "bad.yaml: document 2:",
		},
		{
			name:    "missing kind names file and document",
			files:   map[string]string{"a.yaml": "apiVersion: v1\nmetadata: {name: a}\n"},
			wantErr: "a.yaml: document 1: kind is missing",
		},
		{
			name:    "missing name; a leading --- opens document 1",
			files:   map[string]string{"a.yaml": "---\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {namespace: x}\n"},
			wantErr: "a.yaml: document 2: ConfigMap has no metadata.name",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := host.NewRoot(t.TempDir())
			dir := "/etc/nodeagent/manifests.d"
			if !tt.noCreate {
				if err := os.MkdirAll(root.Path(dir), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(root.Path(dir), name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			objs, err := LoadOverlay(root, dir)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, u := range objs {
				got = append(got, Key(u))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMerge(t *testing.T) {
	cm := func(ns, name, mode string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap",
			"metadata": map[string]any{"name": name, "namespace": ns}, "data": map[string]any{"mode": mode},
		}}
	}
	builtin := []*unstructured.Unstructured{cm("a", "one", "builtin"), cm("a", "two", "builtin")}
	overlay := []*unstructured.Unstructured{cm("a", "three", "user"), cm("a", "one", "user")}
	var got []string
	for _, u := range Merge(builtin, overlay) {
		mode, _, _ := unstructured.NestedString(u.Object, "data", "mode")
		got = append(got, Key(u)+"="+mode)
	}
	want := []string{"ConfigMap/a/one=user", "ConfigMap/a/two=builtin", "ConfigMap/a/three=user"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Merge (-want +got):\n%s", diff)
	}
	if mode, _, _ := unstructured.NestedString(builtin[0].Object, "data", "mode"); mode != "builtin" {
		t.Errorf("Merge changed its input: %s", mode)
	}
}

// The overlay is applied with the admin's credentials, so one file root
// alone could not have written refuses the whole overlay (issue #22 item
// 5): applying the rest would let prune delete that file's objects.
func TestLoadOverlayRefusesUntrusted(t *testing.T) {
	const dir = "/etc/nodeagent/manifests.d"
	good := "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n"
	tests := []struct {
		name    string
		spoil   func(t *testing.T, root host.Root)
		wantErr string // after the root's prefix
	}{
		{name: "a file writable by others", spoil: func(t *testing.T, root host.Root) {
			overlayFile(t, root.Path(dir+"/20-b.yaml"), good, 0o666)
		}, wantErr: dir + "/20-b.yaml: writable by others (mode 0666); refusing to use it — chmod o-w"},
		{name: "the directory writable by others", spoil: func(t *testing.T, root host.Root) {
			if err := os.Chmod(root.Path(dir), 0o777); err != nil {
				t.Fatal(err)
			}
		}, wantErr: dir + ": writable by others (mode 0777)"},
		{name: "a file owned by another user", spoil: func(t *testing.T, root host.Root) {
			overlayFile(t, root.Path(dir+"/20-b.yaml"), good, 0o644)
			if os.Geteuid() != 0 {
				t.Skip("giving a file to another user needs root")
			}
			if err := os.Chown(root.Path(dir+"/20-b.yaml"), 65534, 65534); err != nil {
				t.Fatal(err)
			}
		}, wantErr: dir + "/20-b.yaml: owned by uid 65534, not root"},
		{name: "a link out of the directory", spoil: func(t *testing.T, root host.Root) {
			overlayFile(t, root.Path("/home/pi/b.yaml"), good, 0o644)
			if err := os.Symlink(root.Path("/home/pi/b.yaml"), root.Path(dir+"/20-b.yaml")); err != nil {
				t.Fatal(err)
			}
		}, wantErr: dir + "/20-b.yaml: a symbolic link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := host.NewRoot(t.TempDir())
			overlayFile(t, root.Path(dir+"/10-a.yaml"), good, 0o644)
			if _, err := LoadOverlay(root, dir); err != nil {
				t.Fatalf("the good overlay: %v", err)
			}
			tt.spoil(t, root)
			objs, err := LoadOverlay(root, dir)
			if want := root.Path(tt.wantErr); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("LoadOverlay error = %v, want one containing %q", err, want)
			}
			if objs != nil {
				t.Errorf("LoadOverlay returned %d objects with its error, want none", len(objs))
			}
		})
	}
}

// overlayFile writes data at path with mode (not the umask's), creating
// its directories 0755.
func overlayFile(t *testing.T, path, data string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}
