package serverwork

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"time"

	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// LabelGenerated marks the Secrets nodeagent generated. They carry no
// app.kubernetes.io/managed-by label and enter no apply inventory, so the
// apply engine's prune, which deletes only listed objects that still carry
// that label, can never delete one: a lost database password is not
// recreated.
const LabelGenerated = "nodeagent.dev/generated"

// generatedBytes is the randomness of a generated value: 256 bits, written
// base64url without padding (43 characters a shell, a URL and postgres
// take as they are).
const generatedBytes = 32

// GenerateSecrets creates each generated Secret of needs that is missing,
// with random values. A Secret that exists is never changed, whatever it
// holds; one created meanwhile by another server (AlreadyExists) is fine.
// Values go to the apiserver only: the log names the Secret, never a value.
// It returns the Secrets it created.
func GenerateSecrets(ctx context.Context, client kubernetes.Interface, needs []manifests.SecretNeed, log *zap.Logger) ([]string, error) {
	var created []string
	var firstErr error
	for _, n := range needs {
		if !n.Generated() {
			continue
		}
		log := log.With(zap.String("secret", n.String()))
		secrets := client.CoreV1().Secrets(n.Namespace)
		_, err := secrets.Get(ctx, n.Name, metav1.GetOptions{})
		if err == nil {
			log.Debug("generated secret already exists")
			continue
		}
		if !apierrors.IsNotFound(err) {
			firstErr = firstError(firstErr, fmt.Errorf("reading secret %s: %w", n, err))
			continue
		}
		s, err := newGeneratedSecret(n)
		if err != nil {
			return created, err
		}
		_, err = secrets.Create(ctx, s, metav1.CreateOptions{FieldManager: "nodeagent"})
		switch {
		case apierrors.IsAlreadyExists(err):
			log.Info("secret created meanwhile by someone else: kept")
		case err != nil:
			// The error names the Secret; the apiserver never echoes data.
			firstErr = firstError(firstErr, fmt.Errorf("creating secret %s: %w", n, err))
		default:
			log.Info("generated secret created", zap.Strings("keys", n.Keys))
			created = append(created, n.String())
		}
	}
	return created, firstErr
}

func newGeneratedSecret(n manifests.SecretNeed) (*corev1.Secret, error) {
	data := map[string][]byte{}
	for _, k := range n.Keys {
		raw := make([]byte, generatedBytes)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("generating secret %s: %w", n, err)
		}
		data[k] = []byte(base64.RawURLEncoding.EncodeToString(raw))
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: n.Name, Namespace: n.Namespace,
			Labels: map[string]string{LabelGenerated: "true"},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}, nil
}

func firstError(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// Secrets reads which of the Secrets the cluster's objects (rendered and
// overlay) need are in the cluster, for `nodeagent status` and `doctor`.
// Only the keys of a Secret are kept, never a value.
func (p *Work) Secrets(ctx context.Context) ([]manifests.SecretState, error) {
	needs, err := p.secretNeeds()
	if err != nil {
		return nil, err
	}
	client, err := p.clientset()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return ReadSecrets(ctx, client, needs)
}

// secretNeeds are the Secrets the rendered objects and the overlay need.
// The chart files of an air-gapped cluster are not read: no Secret
// reference lies in a HelmChart's content.
func (p *Work) secretNeeds() ([]manifests.SecretNeed, error) {
	set, err := manifests.RenderWith(p.cfg.Cluster, manifests.Inputs{WithoutChartContent: true})
	if err != nil {
		return nil, fmt.Errorf("rendering manifests: %w", err)
	}
	overlay, err := apply.LoadOverlay(p.cfg.Root, p.cfg.Cluster.Apply.OverlayDir)
	if err != nil {
		return nil, err
	}
	return manifests.RequiredSecrets(p.cfg.Cluster, apply.Set{Builtin: set.Objects(), Overlay: overlay}.Objects())
}

// ReadSecrets assesses needs against the Secrets in the cluster.
func ReadSecrets(ctx context.Context, client kubernetes.Interface, needs []manifests.SecretNeed) ([]manifests.SecretState, error) {
	live := map[string][]string{}
	for _, n := range needs {
		s, err := client.CoreV1().Secrets(n.Namespace).Get(ctx, n.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading secret %s: %w", n, err)
		}
		keys := make([]string, 0, len(s.Data))
		for k := range s.Data {
			keys = append(keys, k)
		}
		live[n.String()] = keys
	}
	return manifests.AssessSecrets(needs, live), nil
}
