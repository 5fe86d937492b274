package apply

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/nodeagent/nodeagent/internal/host"
)

// LoadOverlay reads the user's manifests: every *.yaml and *.yml file of
// dir (the cluster file's apply.overlayDir, resolved through root), in name
// order, each a multi-document YAML stream. Empty documents are skipped. A
// missing directory is no overlay. Errors name the file and the 1-based
// document index. Every file and the directory must be ones only root could
// have written (host.OpenTrustedDir: owned by root, not writable by others,
// no symbolic link out of the directory); one that is not refuses the whole
// overlay. On error do not apply at all: applying the built-in set alone
// would prune the overlay's objects.
func LoadOverlay(root host.Root, dir string) ([]*unstructured.Unstructured, error) {
	if dir == "" {
		return nil, nil
	}
	path := root.Path(dir)
	d, err := host.OpenTrustedDir(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading overlay: %w", err)
	}
	defer d.Close()
	entries, err := d.ReadDir()
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, en := range entries {
		if ext := filepath.Ext(en.Name()); en.IsDir() || (ext != ".yaml" && ext != ".yml") {
			continue
		}
		file := filepath.Join(path, en.Name())
		data, err := d.ReadFile(en.Name())
		if err != nil {
			return nil, fmt.Errorf("reading overlay: %w", err)
		}
		docs, err := decodeDocuments(data)
		if err != nil {
			return nil, fmt.Errorf("overlay file %s: %w", file, err)
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

// decodeDocuments splits a multi-document YAML stream into objects. A
// "List" document (kubectl get -o yaml of several objects) is expanded.
func decodeDocuments(data []byte) ([]*unstructured.Unstructured, error) {
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []*unstructured.Unstructured
	for doc := 1; ; doc++ {
		raw, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		u, err := decodeDocument(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", doc, err)
		}
		if u == nil {
			continue
		}
		if u.IsList() {
			list, err := u.ToList()
			if err != nil {
				return nil, fmt.Errorf("document %d: %w", doc, err)
			}
			for i := range list.Items {
				objs = append(objs, &list.Items[i])
			}
			continue
		}
		objs = append(objs, u)
	}
}

func decodeDocument(raw []byte) (*unstructured.Unstructured, error) {
	var obj map[string]any
	if err := utilyaml.Unmarshal(raw, &obj); err != nil {
		return nil, err
	}
	if len(obj) == 0 {
		return nil, nil
	}
	u := &unstructured.Unstructured{Object: obj}
	switch {
	case u.GetAPIVersion() == "":
		return nil, errors.New("apiVersion is missing")
	case u.GetKind() == "":
		return nil, errors.New("kind is missing")
	case u.GetName() == "" && !u.IsList():
		return nil, fmt.Errorf("%s has no metadata.name", u.GetKind())
	}
	return u, nil
}

// Merge returns the built-in objects followed by the overlay's. An overlay
// object with the key of a built-in one replaces it in place: the user's
// version wins, and the set never holds one object twice.
func Merge(builtin, overlay []*unstructured.Unstructured) []*unstructured.Unstructured {
	at := make(map[objKey]int, len(builtin))
	out := make([]*unstructured.Unstructured, len(builtin), len(builtin)+len(overlay))
	copy(out, builtin)
	for i, u := range out {
		at[keyOf(u)] = i
	}
	for _, u := range overlay {
		if i, ok := at[keyOf(u)]; ok {
			out[i] = u
			continue
		}
		at[keyOf(u)] = len(out)
		out = append(out, u)
	}
	return out
}
