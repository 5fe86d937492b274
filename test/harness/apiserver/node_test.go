package apiserver_test

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// TestWhatANodeMayDo pins what the kubelet's credentials of an agent may do
// under the Node authorizer and NodeRestriction, on the real apiserver
// (k8s.io/kubernetes plugin/pkg/auth/authorizer/node/node_authorizer.go,
// plugin/pkg/admission/noderestriction/admission.go,
// plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go NodeRules).
// nodeagent's agent side relies on each allowed row and works around each
// refused one; a change here in a new Kubernetes release shows up first.
func TestWhatANodeMayDo(t *testing.T) {
	srv := kube.Get(t)
	admin := srv.Client()
	self := createNodeNamed(t, admin, "agent-")
	other := createNodeNamed(t, admin, "server-")
	node := srv.NodeClient(t, self)
	ns := srv.CreateNamespace(t)
	own := createPod(t, admin, ns, self)
	foreign := createPod(t, admin, ns, other)

	merge := func(name, patch string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := node.CoreV1().Nodes().Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
			return err
		}
	}
	evict := func(pod string) func(context.Context) error {
		return func(ctx context.Context) error {
			return node.CoreV1().Pods(ns).EvictV1(ctx, &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Name: pod, Namespace: ns}})
		}
	}
	cases := []struct {
		name    string
		do      func(context.Context) error
		allowed bool
	}{
		{"read its own Node", func(ctx context.Context) error {
			_, err := node.CoreV1().Nodes().Get(ctx, self, metav1.GetOptions{})
			return err
		}, true},
		{"read another Node", func(ctx context.Context) error {
			_, err := node.CoreV1().Nodes().Get(ctx, other, metav1.GetOptions{})
			return err
		}, false},
		{"list all Nodes", func(ctx context.Context) error {
			_, err := node.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		}, false},
		{"label its own Node", merge(self, `{"metadata":{"labels":{"zigbee":"true","nodeagent.dev/disk":"hdd"}}}`), true},
		{"annotate its own Node", merge(self, `{"metadata":{"annotations":{"nodeagent.dev/owned-labels":"zigbee"}}}`), true},
		{"set a node.kubernetes.io label", merge(self, `{"metadata":{"labels":{"node.kubernetes.io/room":"attic"}}}`), true},
		{"set a node-restriction.kubernetes.io label", merge(self, `{"metadata":{"labels":{"node-restriction.kubernetes.io/zone":"a"}}}`), false},
		{"set a node-role.kubernetes.io label", merge(self, `{"metadata":{"labels":{"node-role.kubernetes.io/worker":"true"}}}`), false},
		{"set a k8s.io label", merge(self, `{"metadata":{"labels":{"example.k8s.io/x":"y"}}}`), false},
		{"label another Node", merge(other, `{"metadata":{"labels":{"zigbee":"true"}}}`), false},
		{"set a condition in its own Node's status", func(ctx context.Context) error {
			_, err := node.CoreV1().Nodes().Patch(ctx, self, types.StrategicMergePatchType,
				[]byte(`{"status":{"conditions":[{"type":"NodeagentReady","status":"True","reason":"Provisioned"}]}}`), metav1.PatchOptions{}, "status")
			return err
		}, true},
		{"record an Event", func(ctx context.Context) error {
			_, err := node.CoreV1().Events(metav1.NamespaceDefault).Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{GenerateName: self + "."},
				InvolvedObject: corev1.ObjectReference{Kind: "Node", Name: self},
				Reason:         "Provisioned",
			}, metav1.CreateOptions{})
			return err
		}, true},
		{"cordon its own Node", merge(self, `{"spec":{"unschedulable":true}}`), true},
		{"taint its own Node", merge(self, `{"spec":{"taints":[{"key":"leaving","effect":"NoSchedule"}]}}`), false},
		{"list the pods bound to it", func(ctx context.Context) error {
			_, err := node.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
				FieldSelector: fields.OneTermEqualSelector("spec.nodeName", self).String()})
			return err
		}, true},
		{"list all pods", func(ctx context.Context) error {
			_, err := node.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
			return err
		}, false},
		{"evict a pod bound to another node", evict(foreign), false},
		{"evict a pod bound to it", evict(own), true},
		{"delete another Node", func(ctx context.Context) error {
			return node.CoreV1().Nodes().Delete(ctx, other, metav1.DeleteOptions{})
		}, false},
		{"delete its own Node", func(ctx context.Context) error {
			return node.CoreV1().Nodes().Delete(ctx, self, metav1.DeleteOptions{})
		}, false},
	}
	for _, c := range cases {
		err := c.do(testContext(t))
		switch {
		case c.allowed && err != nil:
			t.Errorf("%s: refused, want allowed: %v", c.name, err)
		case !c.allowed && err == nil:
			t.Errorf("%s: allowed, want refused", c.name)
		case !c.allowed && !apierrors.IsForbidden(err):
			t.Errorf("%s: %v, want Forbidden", c.name, err)
		default:
			t.Logf("%s: %v", c.name, err)
		}
	}
}

func createNodeNamed(t *testing.T, client kubernetes.Interface, prefix string) string {
	t.Helper()
	n, err := client.CoreV1().Nodes().Create(testContext(t), &corev1.Node{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating node: %v", err)
	}
	return n.Name
}

func createPod(t *testing.T, client kubernetes.Interface, ns, node string) string {
	t.Helper()
	p, err := client.CoreV1().Pods(ns).Create(testContext(t), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "app-"},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating pod on %s: %v", node, err)
	}
	return p.Name
}
