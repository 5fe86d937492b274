package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// k3sControllerUser is the identity of every agent's k3s controller
// (tunnel, network policy, flannel's fallback): one client certificate the
// servers share and hand to each agent, as k3s's
// pkg/server/handlers/handlers.go serves ClientK3sControllerCert and
// pkg/agent/config/config.go writes it with k3scontroller.kubeconfig.
const k3sControllerUser = "system:k3s-controller"

// serveK3sControllerCert answers the shared certificate, then its key, as
// k3s's file handler does for an agent (no node password: the files are
// not unique to the node).
func (s *server) serveK3sControllerCert(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var body []byte
	for _, f := range []string{"client-k3s-controller.crt", "client-k3s-controller.key"} {
		data, err := os.ReadFile(filepath.Join(s.paths.tls, f))
		if err != nil {
			http.Error(w, "no "+f, http.StatusInternalServerError)
			return
		}
		body = append(body, data...)
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(body)
}

// ensureK3sControllerRBAC creates the ClusterRole and ClusterRoleBinding
// of the k3s controller, as k3s's deploy controller applies
// manifests/rolebindings.yaml: get on Nodes; list and watch Namespaces and
// NetworkPolicies; list, get and watch Endpoints and Pods. Objects that
// exist (another server made them) are left as they are.
func ensureK3sControllerRBAC(ctx context.Context, cs kubernetes.Interface) error {
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: k3sControllerUser},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}},
			{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"endpoints", "pods"}, Verbs: []string{"list", "get", "watch"}},
		},
	}
	if _, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRole %s: %w", role.Name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: k3sControllerUser},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: k3sControllerUser},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: k3sControllerUser}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding %s: %w", binding.Name, err)
	}
	return nil
}
