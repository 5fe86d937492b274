package kube_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/metadata"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// kubeletClient is the metadata client an agent's nodeagent has: the
// kubelet's credentials of node name, loaded as the agent loads them.
func kubeletClient(t *testing.T, srv *apiserver.Server, name string) metadata.Interface {
	t.Helper()
	c, err := kube.NewMetadataClient(srv.NodeKubeconfig(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReconcileWithKubeletCredentials(t *testing.T) {
	srv := server.Get(t)
	name := createNode(t, srv.Client(), map[string]string{"kubernetes.io/arch": "arm64"})
	r := kube.NewLabelReconciler(kubeletClient(t, srv, name), zaptest.NewLogger(t))
	ctx := testContext(t)

	want := kube.Desired{
		Labels:      map[string]string{"zigbee": "true", "storage": "true", "node.kubernetes.io/room": "attic"},
		Annotations: map[string]string{"nodeagent.dev/zigbee-device": "/dev/serial/by-id/usb-x"},
	}
	if rep, err := r.Reconcile(ctx, name, want); err != nil || !rep.Written {
		t.Fatalf("Reconcile with the kubelet's credentials = %+v, %v; want a write", rep, err)
	}
	want.Labels = map[string]string{"zigbee": "true"}
	want.Annotations = nil
	if _, err := r.Reconcile(ctx, name, want); err != nil {
		t.Fatalf("Reconcile removing labels: %v", err)
	}
	n := getNode(t, srv.Client(), name)
	if diff := cmp.Diff(map[string]string{"kubernetes.io/arch": "arm64", "zigbee": "true"}, n.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if got := n.Annotations[kube.OwnedLabelsAnnotation]; got != "zigbee" {
		t.Errorf("owned-labels annotation = %q, want zigbee", got)
	}
	if _, ok := n.Annotations["nodeagent.dev/zigbee-device"]; ok {
		t.Errorf("owned annotation left behind: %v", n.Annotations)
	}
}

func TestReconcileRefusedLabelNamesNodeRestriction(t *testing.T) {
	srv := server.Get(t)
	name := createNode(t, srv.Client(), nil)
	r := kube.NewLabelReconciler(kubeletClient(t, srv, name), zaptest.NewLogger(t))

	_, err := r.Reconcile(testContext(t), name, kube.Desired{Labels: map[string]string{"zigbee": "true", "example.k8s.io/room": "attic"}})
	if err == nil {
		t.Fatal("Reconcile of a k8s.io label with the kubelet's credentials succeeded, want NodeRestriction's refusal")
	}
	for _, w := range []string{"NodeRestriction", "example.k8s.io/room", name} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not name %q", err, w)
		}
	}
	if !apierrors.IsForbidden(err) {
		t.Errorf("error %v does not wrap the apiserver's 403", err)
	}
	if n := getNode(t, srv.Client(), name); n.Labels["zigbee"] != "" {
		t.Errorf("a refused patch wrote labels: %v", n.Labels)
	}
}

func TestReconcileOfAnotherNodeRefused(t *testing.T) {
	srv := server.Get(t)
	self := createNode(t, srv.Client(), nil)
	other := createNode(t, srv.Client(), nil)
	r := kube.NewLabelReconciler(kubeletClient(t, srv, self), zaptest.NewLogger(t))

	_, err := r.Reconcile(testContext(t), other, kube.Desired{Labels: map[string]string{"zigbee": "true"}})
	if !apierrors.IsForbidden(err) {
		t.Fatalf("Reconcile of node %s with the kubelet credentials of %s = %v, want Forbidden", other, self, err)
	}
}

// config.KubeletRefusesLabel, which nodeagent validate applies, refuses
// exactly what the real apiserver refuses a node.
func TestNodeRestrictionAgreesWithValidate(t *testing.T) {
	srv := server.Get(t)
	name := createNode(t, srv.Client(), nil)
	r := kube.NewLabelReconciler(kubeletClient(t, srv, name), zaptest.NewLogger(t))
	for _, key := range []string{
		"zigbee", "nodeagent.dev/disk", "kubernetes.io/hostname", "kubernetes.io/arch", "topology.kubernetes.io/zone",
		"node.kubernetes.io/instance-type", "node.kubernetes.io/room", "feature.node.kubernetes.io/usb", "kubelet.kubernetes.io/x",
		"beta.kubernetes.io/arch", "failure-domain.beta.kubernetes.io/zone",
		"node-role.kubernetes.io/worker", "kubernetes.io/role", "example.k8s.io/room", "k8s.io/x",
		"node-restriction.kubernetes.io/zone", "a.node-restriction.kubernetes.io/zone",
	} {
		_, err := r.Reconcile(testContext(t), name, kube.Desired{Labels: map[string]string{key: "v"}})
		refused, validateRefuses := apierrors.IsForbidden(err), config.KubeletRefusesLabel(key) != ""
		if err != nil && !refused {
			t.Fatalf("%s: %v", key, err)
		}
		if refused != validateRefuses {
			t.Errorf("label %s: apiserver refuses = %v, KubeletRefusesLabel refuses = %v (%v)", key, refused, validateRefuses, err)
		}
	}
}
