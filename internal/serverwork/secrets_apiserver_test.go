package serverwork

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/nodeagent/nodeagent/internal/apply"
	"github.com/nodeagent/nodeagent/internal/manifests"
)

// capturedText is every log entry's message and fields, as text.
func capturedText(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&b, "%s %v\n", e.Message, e.ContextMap())
	}
	return b.String()
}

// A missing generated Secret is created with a 43-character value per key;
// an existing one is left exactly as it is; an external one is never
// created; no value reaches the log; a second run creates nothing.
func TestGenerateSecretsAgainstAPIServer(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	existing, err := client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "kept"},
		Data:       map[string][]byte{"other": []byte("set by a person")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	needs := []manifests.SecretNeed{
		{Namespace: ns, Name: "db", Keys: []string{"password"}, Source: manifests.SecretGenerated},
		{Namespace: ns, Name: "kept", Keys: []string{"password"}, Source: manifests.SecretGenerated},
		{Namespace: ns, Name: "from-outside", Keys: []string{"KEY"}, Source: manifests.SecretExternal},
	}
	core, logs := observer.New(zapcore.DebugLevel)
	created, err := GenerateSecrets(ctx, client, needs, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{ns + "/db"}, created); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	db, err := client.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Data) != 1 || len(db.Data["password"]) != 43 || db.Labels[LabelGenerated] != "true" || db.Labels[apply.LabelManagedBy] != "" {
		t.Errorf("generated secret: keys %d, password of %d bytes, labels %v; want one key of 43 bytes, labelled generated, not managed-by",
			len(db.Data), len(db.Data["password"]), db.Labels)
	}
	if text := capturedText(logs); strings.Contains(text, string(db.Data["password"])) || !strings.Contains(text, ns+"/db") {
		t.Errorf("the log holds the value or lacks the secret's name:\n%s", text)
	}
	kept, err := client.CoreV1().Secrets(ns).Get(ctx, "kept", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if kept.ResourceVersion != existing.ResourceVersion || !cmp.Equal(kept.Data, existing.Data) {
		t.Errorf("existing secret changed: rv %s → %s, data %v", existing.ResourceVersion, kept.ResourceVersion, kept.Data)
	}
	if _, err := client.CoreV1().Secrets(ns).Get(ctx, "from-outside", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("external secret: %v, want not found", err)
	}

	again, err := GenerateSecrets(ctx, client, needs, zap.New(core))
	if err != nil || len(again) != 0 {
		t.Errorf("second run created %v (%v), want nothing", again, err)
	}
	db2, err := client.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil || db2.ResourceVersion != db.ResourceVersion {
		t.Errorf("second run changed the generated secret: %v", err)
	}
}

// The apply engine's prune never deletes a generated Secret: not on an
// ordinary run, and not even when an inventory lists it (as if nodeagent
// had once applied it), because it lacks the managed-by label.
func TestPruneKeepsGeneratedSecrets(t *testing.T) {
	srv := server.Get(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ns := srv.CreateNamespace(t)
	inv := types.NamespacedName{Namespace: "kube-system", Name: "inv-" + ns}
	e, err := apply.New(srv.RestConfig(), apply.Options{Inventory: inv, KindTimeout: time.Second}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	cm := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "settings", "namespace": ns}, "data": map[string]any{"a": "b"}}}
	if _, err := e.Apply(ctx, apply.Set{Builtin: []*unstructured.Unstructured{cm}}); err != nil {
		t.Fatal(err)
	}
	need := manifests.SecretNeed{Namespace: ns, Name: "db", Keys: []string{"password"}, Source: manifests.SecretGenerated}
	if _, err := GenerateSecrets(ctx, client, []manifests.SecretNeed{need}, zap.NewNop()); err != nil {
		t.Fatal(err)
	}
	secret, err := client.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// List the Secret in the inventory, as if an apply had created it.
	invCM, err := client.CoreV1().ConfigMaps(inv.Namespace).Get(ctx, inv.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var entries []apply.Entry
	if err := json.Unmarshal([]byte(invCM.Data["objects.json"]), &entries); err != nil {
		t.Fatal(err)
	}
	entries = append(entries, apply.Entry{APIVersion: "v1", Kind: "Secret", Namespace: ns, Name: "db", UID: string(secret.UID), Source: apply.SourceBuiltin})
	raw, _ := json.Marshal(entries)
	invCM.Data["objects.json"] = string(raw)
	if _, err := client.CoreV1().ConfigMaps(inv.Namespace).Update(ctx, invCM, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	for run := range 2 {
		report, err := e.Apply(ctx, apply.Set{Builtin: []*unstructured.Unstructured{cm}})
		if err != nil {
			t.Fatal(err)
		}
		var outcome apply.Outcome
		for _, r := range report.Pruned {
			if r.Name == "db" {
				outcome = r.Outcome
			}
		}
		// The first run meets the listed entry and keeps the Secret (the
		// entry then leaves the inventory); the second has nothing to do.
		if want := map[int]apply.Outcome{0: apply.Kept, 1: ""}[run]; outcome != want {
			t.Errorf("run %d: prune of the generated secret: %q, want %q", run, outcome, want)
		}
		got, err := client.CoreV1().Secrets(ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil || got.UID != secret.UID || got.ResourceVersion != secret.ResourceVersion {
			t.Fatalf("run %d: generated secret after apply: %v, want it unchanged", run, err)
		}
	}
}
