package serverwork

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// SealedKeyLabel marks the sealed-secrets controller's key Secrets (its
// keyregistry lists Secrets with this label in its namespace at start).
const SealedKeyLabel = "sealedsecrets.bitnami.com/sealed-secrets-key"

// SealedKeysDir is the directory under backups.dir that holds the keys.
const SealedKeysDir = "sealed-secrets-keys"

// savedKeyFile is the file name of a key Secret in SealedKeysDir: a
// manifest `kubectl apply -f` takes, for a restore by hand.
func savedKeyFile(name string) string { return name + ".yaml" }

// keyManifest is what is saved of a key Secret: what the controller reads
// back (name, label, type, the two data items) and nothing the cluster
// sets (uid, resourceVersion, managedFields), so the bytes change only
// when the key does and a put-back creates what was there.
func keyManifest(s *corev1.Secret) ([]byte, error) {
	out := corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name: s.Name, Namespace: s.Namespace,
			Labels: map[string]string{SealedKeyLabel: s.Labels[SealedKeyLabel]},
		},
		Type: s.Type,
		Data: s.Data,
	}
	data, err := yaml.Marshal(&out)
	if err != nil {
		// The error of yaml never holds the value; name the Secret only.
		return nil, fmt.Errorf("encoding key secret %s/%s", s.Namespace, s.Name)
	}
	// A zero creationTimestamp is written as null: leave it out.
	return bytes.ReplaceAll(data, []byte("  creationTimestamp: null\n"), nil), nil
}

// parseKeyManifest reads a saved key back. Errors name the file, never a
// byte of it.
func parseKeyManifest(file string, data []byte) (*corev1.Secret, error) {
	var s corev1.Secret
	if err := yaml.UnmarshalStrict(data, &s); err != nil {
		return nil, fmt.Errorf("reading saved key %s: not a Secret manifest", file)
	}
	if s.Kind != "Secret" || s.Name == "" || len(s.Data[corev1.TLSCertKey]) == 0 || len(s.Data[corev1.TLSPrivateKeyKey]) == 0 {
		return nil, fmt.Errorf("reading saved key %s: not a key Secret (kind, name, tls.crt and tls.key needed)", file)
	}
	return &s, nil
}

// KeyPlan is what a put-back does: create these saved keys (the cluster
// holds none of the saved keys), or nothing; Missing names saved keys the
// cluster lacks while it holds others, left on disk.
type KeyPlan struct {
	Create  []*corev1.Secret
	Missing []string
}

// DecidePutBack compares the saved keys with the live ones by certificate,
// not name: a rebuilt cluster's controller may have made a key of its own
// (under another random name) before the saved ones came back. It puts
// back only when the cluster holds none of the saved keys: a cluster that
// holds some was not rebuilt, and a key missing from it was deleted by a
// person (a compromised key), which nodeagent does not bring back. Each
// key to create is moved to namespace, the controller's namespace now.
func DecidePutBack(saved, live []*corev1.Secret, namespace string) KeyPlan {
	have := map[string]bool{}
	for _, s := range live {
		have[string(s.Data[corev1.TLSCertKey])] = true
	}
	var plan KeyPlan
	var absent []*corev1.Secret
	for _, s := range saved {
		if !have[string(s.Data[corev1.TLSCertKey])] {
			absent = append(absent, s)
		}
	}
	if len(absent) == 0 {
		return plan
	}
	if len(absent) < len(saved) {
		for _, s := range absent {
			plan.Missing = append(plan.Missing, s.Name)
		}
		return plan
	}
	for _, s := range saved {
		c := s.DeepCopy()
		c.Namespace = namespace
		if c.Labels[SealedKeyLabel] == "" {
			c.Labels = map[string]string{SealedKeyLabel: "active"}
		}
		c.Type = corev1.SecretTypeTLS
		plan.Create = append(plan.Create, c)
	}
	slices.SortFunc(plan.Create, func(a, b *corev1.Secret) int { return strings.Compare(a.Name, b.Name) })
	return plan
}
