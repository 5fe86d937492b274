package main

import (
	"context"
	"errors"
	"regexp"
	"testing"

	"go.uber.org/zap/zaptest"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestNodePasswordHash: k3s's scrypt format, verified by the same rules.
func TestNodePasswordHash(t *testing.T) {
	h, err := hashNodePassword("0123abcd")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$1:[0-9a-f]{16}:15:8:1:[A-Za-z0-9+/]{86}$`).MatchString(h) {
		t.Errorf("hash %q is not in k3s's format $1:<salt hex>:15:8:1:<key b64>", h)
	}
	if err := verifyNodePassword(h, "0123abcd"); err != nil {
		t.Errorf("own password: %v", err)
	}
	if err := verifyNodePassword(h, "other"); !errors.Is(err, errHashMismatch) {
		t.Errorf("other password: %v, want a mismatch", err)
	}
	if err := verifyNodePassword("$2:00:15:8:1:AA", "x"); err == nil {
		t.Error("another hash version accepted")
	}
}

// TestEnsureNodePassword: the first password makes the Secret, the same
// one passes, another is refused with the sentinel the handler maps to 403.
func TestEnsureNodePassword(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	if err := ensureNodePassword(ctx, cs, "Pi5", "first"); err != nil {
		t.Fatal(err)
	}
	s, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "pi5.node-password.k3s", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Type != nodePasswordSecretType || s.Immutable == nil || !*s.Immutable || len(s.Data["hash"]) == 0 {
		t.Errorf("secret %+v; want an immutable k3s.cattle.io/node-password with a hash", s)
	}
	if err := ensureNodePassword(ctx, cs, "Pi5", "first"); err != nil {
		t.Errorf("same password: %v", err)
	}
	if err := ensureNodePassword(ctx, cs, "Pi5", "second"); !errors.Is(err, errNodePasswordVerify) {
		t.Errorf("another password: %v, want errNodePasswordVerify", err)
	}
}

// TestNodePasswordOwner: the Secret gets its Node as owner, and is deleted
// with that Node only (a Secret made after the Node went, by the
// re-flashed agent, stays).
func TestNodePasswordOwner(t *testing.T) {
	ctx := context.Background()
	cs := fake.NewClientset()
	log := zaptest.NewLogger(t)
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a1", UID: "uid-1"}}
	if err := ensureNodePassword(ctx, cs, "a1", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := ownNodePassword(ctx, cs, node); err != nil {
		t.Fatal(err)
	}
	onNodeDeleted(ctx, cs, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "a1", UID: "uid-other"}}, log)
	if _, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "a1.node-password.k3s", metav1.GetOptions{}); err != nil {
		t.Fatalf("secret deleted with a Node it does not belong to: %v", err)
	}
	onNodeDeleted(ctx, cs, node, log)
	if _, err := cs.CoreV1().Secrets("kube-system").Get(ctx, "a1.node-password.k3s", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("secret after its Node's deletion: %v, want NotFound", err)
	}
}
