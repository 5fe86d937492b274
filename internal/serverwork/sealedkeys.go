package serverwork

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/host"
)

// KeyStore is the directory on the backups disk that holds the
// sealed-secrets controller's keys, one manifest per key Secret. It is
// root's alone (0700, files 0600); a key that leaves the cluster stays
// here: nothing in it is ever deleted by nodeagent.
type KeyStore struct {
	// Dir is <backups.dir>/sealed-secrets-keys, on the host.
	Dir string
}

// SaveResult is what one save did, by Secret name (no key material).
type SaveResult struct {
	Written, Unchanged []string
}

// ListKeys lists the key Secrets in the controller's namespace.
func ListKeys(ctx context.Context, client kubernetes.Interface, namespace string) ([]*corev1.Secret, error) {
	list, err := client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{LabelSelector: SealedKeyLabel})
	if err != nil {
		return nil, fmt.Errorf("listing sealed-secrets keys in %s: %w", namespace, err)
	}
	out := make([]*corev1.Secret, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, &list.Items[i])
	}
	slices.SortFunc(out, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Save writes each key to the store, atomically (temp file and rename)
// and only when its bytes changed. Saved keys absent from keys stay.
func (k KeyStore) Save(keys []*corev1.Secret, log *zap.Logger) (SaveResult, error) {
	var res SaveResult
	if err := k.ensureDir(); err != nil {
		return res, err
	}
	for _, s := range keys {
		data, err := keyManifest(s)
		if err != nil {
			return res, err
		}
		name := savedKeyFile(s.Name)
		changed, err := host.WriteFileAtomic(filepath.Join(k.Dir, name), data, 0o600)
		if err != nil {
			return res, fmt.Errorf("saving sealed-secrets key %s: %w", s.Name, err)
		}
		if changed {
			log.Info("sealed-secrets key saved", zap.String("secret", s.Namespace+"/"+s.Name), zap.String("file", name))
			res.Written = append(res.Written, s.Name)
		} else {
			res.Unchanged = append(res.Unchanged, s.Name)
		}
	}
	return res, nil
}

// ensureDir creates the store 0700, and narrows it to 0700 when a person
// made it wider: the keys decrypt every SealedSecret of the cluster.
func (k KeyStore) ensureDir() error {
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", k.Dir, err)
	}
	st, err := os.Stat(k.Dir)
	if err != nil {
		return fmt.Errorf("reading %s: %w", k.Dir, err)
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(k.Dir, 0o700); err != nil {
			return fmt.Errorf("narrowing %s to 0700: %w", k.Dir, err)
		}
	}
	return nil
}

// Load reads the saved keys; none when the store does not exist yet.
func (k KeyStore) Load() ([]*corev1.Secret, error) {
	entries, err := os.ReadDir(k.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", k.Dir, err)
	}
	var out []*corev1.Secret
	for _, e := range entries {
		// Temp files of an interrupted write start with a dot.
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), ".") || !strings.HasSuffix(e.Name(), ".yaml") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(k.Dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading saved key %s: %w", e.Name(), err)
		}
		s, err := parseKeyManifest(e.Name(), data)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
