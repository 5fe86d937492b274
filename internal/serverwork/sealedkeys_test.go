package serverwork

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func keySecret(name, cert string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system", Labels: map[string]string{SealedKeyLabel: "active"},
			ResourceVersion: "12", CreationTimestamp: metav1.Now()},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: []byte(cert), corev1.TLSPrivateKeyKey: []byte("key-of-" + cert)},
	}
}

func names(ss []*corev1.Secret) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Namespace+"/"+s.Name)
	}
	return out
}

func TestDecidePutBack(t *testing.T) {
	a, b := keySecret("sealed-secrets-keyaaaaa", "A"), keySecret("sealed-secrets-keybbbbb", "B")
	// A new controller's own key, under a name of its own.
	fresh := keySecret("sealed-secrets-keyzzzzz", "Z")
	// The same key as a, under another name: the certificate decides.
	aRenamed := keySecret("renamed", "A")
	for _, tc := range []struct {
		name         string
		saved, live  []*corev1.Secret
		create, miss []string
	}{
		{name: "nothing saved", live: []*corev1.Secret{fresh}},
		{name: "empty cluster", saved: []*corev1.Secret{b, a}, create: []string{"sealed/sealed-secrets-keyaaaaa", "sealed/sealed-secrets-keybbbbb"}},
		{name: "a new controller's key only", saved: []*corev1.Secret{a, b}, live: []*corev1.Secret{fresh},
			create: []string{"sealed/sealed-secrets-keyaaaaa", "sealed/sealed-secrets-keybbbbb"}},
		{name: "all there", saved: []*corev1.Secret{a, b}, live: []*corev1.Secret{a, b, fresh}},
		{name: "same certificate, other name", saved: []*corev1.Secret{a}, live: []*corev1.Secret{aRenamed}},
		{name: "one deleted by a person", saved: []*corev1.Secret{a, b}, live: []*corev1.Secret{a}, miss: []string{"sealed-secrets-keybbbbb"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plan := DecidePutBack(tc.saved, tc.live, "sealed")
			if diff := cmp.Diff(tc.create, names(plan.Create)); diff != "" {
				t.Errorf("create (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.miss, plan.Missing); diff != "" {
				t.Errorf("missing (-want +got):\n%s", diff)
			}
			for _, s := range plan.Create {
				if s.Type != corev1.SecretTypeTLS || s.Labels[SealedKeyLabel] != "active" {
					t.Errorf("%s: type %q labels %v", s.Name, s.Type, s.Labels)
				}
			}
		})
	}
	if a.Namespace != "kube-system" {
		t.Errorf("the saved key was changed in place: namespace %s", a.Namespace)
	}
}

// The saved manifest holds what the controller reads back and nothing the
// cluster set, so it is the same bytes for the same key, and reads back.
func TestKeyManifestRoundTrip(t *testing.T) {
	s := keySecret("sealed-secrets-keyaaaaa", "CERT")
	s.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "controller"}}
	s.Labels["other"] = "x"
	data, err := keyManifest(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, unwanted := range []string{"resourceVersion", "uid", "managedFields", "creationTimestamp", "other"} {
		if strings.Contains(string(data), unwanted) {
			t.Errorf("manifest holds %s:\n%s", unwanted, data)
		}
	}
	again := s.DeepCopy()
	again.ResourceVersion, again.CreationTimestamp = "99", metav1.NewTime(time.Unix(5, 0))
	if data2, _ := keyManifest(again); string(data2) != string(data) {
		t.Errorf("the manifest changed with the resourceVersion:\n%s\n%s", data, data2)
	}
	back, err := parseKeyManifest("f.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace, Labels: map[string]string{SealedKeyLabel: "active"}},
		Type:       corev1.SecretTypeTLS, Data: s.Data,
	}
	if diff := cmp.Diff(want, back); diff != "" {
		t.Errorf("read back (-want +got):\n%s", diff)
	}
}

// A broken saved file is named in the error, and no byte of it is.
func TestParseKeyManifestErrorHoldsNoContent(t *testing.T) {
	for _, data := range []string{"apiVersion: v1\nkind: Secret\nmetadata: {name: k}\ndata: {tls.key: U0VDUkVU}\n", "SECRET: [unclosed"} {
		_, err := parseKeyManifest("k.yaml", []byte(data))
		if err == nil || !strings.Contains(err.Error(), "k.yaml") || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "U0VDUkVU") {
			t.Errorf("%q: error %v, want one naming k.yaml without the content", data, err)
		}
	}
}

func TestDecideSealedGate(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name                   string
		enabled, chart, marker bool
		waited                 time.Duration
		hold                   bool
		note                   string
	}{
		{name: "no backups", enabled: false},
		{name: "chart installed", enabled: true, chart: true},
		{name: "keys checked", enabled: true, marker: true},
		{name: "waiting", enabled: true, waited: 4 * time.Minute, hold: true, note: "held back until pi5 has checked its saved keys (waited 4m0s of 15m0s)"},
		{name: "just before the bound", enabled: true, waited: SealedKeysWait - time.Second, hold: true, note: "waited 14m59s of 15m0s"},
		{name: "bound reached", enabled: true, waited: SealedKeysWait, note: "installed without the key check of pi5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := DecideSealedGate(tc.enabled, tc.chart, tc.marker, "pi5", t0, t0.Add(tc.waited))
			if g.Hold != tc.hold || !strings.Contains(g.Note, tc.note) || (tc.note == "") != (g.Note == "") {
				t.Errorf("gate %+v, want hold %v and a note with %q", g, tc.hold, tc.note)
			}
		})
	}
}

func TestHoldSealedSecrets(t *testing.T) {
	obj := func(kind, ns, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		return u
	}
	in := []*unstructured.Unstructured{obj("HelmChart", "kube-system", "metallb"), obj("HelmChart", "kube-system", "sealed-secrets"),
		obj("ConfigMap", "kube-system", "sealed-secrets")}
	var got []string
	for _, o := range holdSealedSecrets(in, "sealed-secrets") {
		got = append(got, o.GetKind()+"/"+o.GetName())
	}
	if diff := cmp.Diff([]string{"HelmChart/metallb", "ConfigMap/sealed-secrets"}, got); diff != "" {
		t.Errorf("held (-want +got):\n%s", diff)
	}
}

// The key directory is narrowed to 0700 when a person widened it; a temp
// file an interrupted write left is not read as a key.
func TestKeyStoreModesAndLeftovers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), SealedKeysDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".sealed-secrets-keyaaaaa.yaml.tmp-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := KeyStore{Dir: dir}
	res, err := k.Save([]*corev1.Secret{keySecret("sealed-secrets-keyaaaaa", "A")}, zap.NewNop())
	if err != nil || len(res.Written) != 1 {
		t.Fatalf("save: %+v, %v", res, err)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v (%v), want 0700", st.Mode(), err)
	}
	saved, err := k.Load()
	if err != nil || len(saved) != 1 || saved[0].Name != "sealed-secrets-keyaaaaa" {
		t.Errorf("load: %v (%v), want the one key", names(saved), err)
	}
}

// An apiserver refusal that may quote the key is kept to its reason.
func TestWithoutDetails(t *testing.T) {
	invalid := apierrors.NewInvalid(schema.GroupKind{Kind: "Secret"}, "k", field.ErrorList{field.Invalid(field.NewPath("data", "tls.key"), "U0VDUkVU", "bad")})
	if got := withoutDetails(invalid).Error(); strings.Contains(got, "U0VDUkVU") || !strings.Contains(got, "Invalid") {
		t.Errorf("invalid: %q", got)
	}
	nf := apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "sealed")
	if got := withoutDetails(nf); !apierrors.IsNotFound(got) {
		t.Errorf("not found: %v, want it as it is", got)
	}
}
