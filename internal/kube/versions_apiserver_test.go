package kube_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"

	"github.com/nodeagent/nodeagent/internal/kube"
	"github.com/nodeagent/nodeagent/test/harness/apiserver"
)

// k3sController is k3s's agent controller identity with the ClusterRole
// k3s binds to it: get on Nodes, no list (k3s's system:k3s-controller
// role in k3s manifests/rolebindings.yaml).
func k3sController(t *testing.T, srv *apiserver.Server) dynamic.Interface {
	t.Helper()
	ctx := testContext(t)
	rbac := srv.Client().RbacV1()
	_, err := rbac.ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:k3s-controller"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	_, err = rbac.ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "system:k3s-controller"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:k3s-controller"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: "User", Name: "system:k3s-controller"}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return dynamicFor(t, srv.UserKubeconfig(t, "system:k3s-controller"))
}

func dynamicFor(t *testing.T, kubeconfig string) dynamic.Interface {
	t.Helper()
	cfg, err := kube.RestConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return dynamic.NewForConfigOrDie(cfg)
}

func reportVersion(t *testing.T, client kubernetes.Interface, name, version string) {
	t.Helper()
	n := getNode(t, client, name)
	n.Status.NodeInfo.KubeletVersion = version
	if _, err := client.CoreV1().Nodes().UpdateStatus(testContext(t), n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// An agent reads the servers' versions with the agent controller's
// credentials; its kubelet's may not read another Node.
func TestKubeletVersionsOfTheServers(t *testing.T) {
	srv := server.Get(t)
	admin := srv.Client()
	a, b := createNode(t, admin, nil), createNode(t, admin, nil)
	reportVersion(t, admin, a, "v1.34.1+k3s1")
	reportVersion(t, admin, b, "v1.33.5+k3s1")
	agent := createNode(t, admin, nil)

	got, err := kube.KubeletVersions(testContext(t), k3sController(t, srv), []string{a, b, "pi-gone"})
	if err != nil {
		t.Fatalf("KubeletVersions with the agent controller's credentials: %v", err)
	}
	if diff := cmp.Diff(map[string]string{a: "v1.34.1+k3s1", b: "v1.33.5+k3s1"}, got); diff != "" {
		t.Errorf("versions (-want +got):\n%s", diff)
	}

	_, err = kube.KubeletVersions(testContext(t), dynamicFor(t, srv.NodeKubeconfig(t, agent)), []string{a})
	if !apierrors.IsForbidden(err) {
		t.Errorf("KubeletVersions with the kubelet's credentials of %s = %v, want Forbidden (Node authorizer: its own Node only)", agent, err)
	}
}
