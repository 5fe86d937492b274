package apiserver

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"path/filepath"
	"testing"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// NodeUser is the user name the Node authorizer and NodeRestriction take
// for the kubelet of node name, in group system:nodes
// (k8s.io/kubernetes pkg/auth/nodeidentifier/default.go).
func NodeUser(name string) string { return "system:node:" + name }

// NodeKubeconfig mints a client certificate for the kubelet of node name
// (CommonName system:node:<name>, Organization system:nodes: the identity
// of the client-kubelet.crt k3s's supervisor signs for each node, k3s
// pkg/agent/config/config.go) and writes a kubeconfig with it, like
// /var/lib/rancher/k3s/agent/kubelet.kubeconfig. Returns its path. Its
// requests meet the Node authorizer and NodeRestriction.
func (s *Server) NodeKubeconfig(t testing.TB, name string) string {
	t.Helper()
	return s.UserKubeconfig(t, NodeUser(name), "system:nodes")
}

// UserKubeconfig mints a client certificate for user in groups, signed by
// the apiserver's client CA, and writes a kubeconfig with it; returns its
// path. What the user may do is what RBAC (or the Node authorizer) grants.
func (s *Server) UserKubeconfig(t testing.TB, user string, groups ...string) string {
	t.Helper()
	cert, err := newCertificate(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, s.pki.ca)
	if err != nil {
		t.Fatalf("minting the client certificate of %s: %v", user, err)
	}
	path := filepath.Join(t.TempDir(), "client.kubeconfig")
	if err := writeKubeconfig(path, s.url, s.pki.caPEM, cert.certPEM, cert.keyPEM); err != nil {
		t.Fatal(err)
	}
	return path
}

// NodeClient is a clientset with the kubelet credentials of node name
// (NodeKubeconfig), for tests that check what a node may do.
func (s *Server) NodeClient(t testing.TB, name string) kubernetes.Interface {
	t.Helper()
	cfg, err := nodeRestConfig(s.NodeKubeconfig(t, name))
	if err != nil {
		t.Fatal(err)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("creating the clientset of node %s: %v", name, err)
	}
	return c
}

func nodeRestConfig(kubeconfig string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	cfg.QPS, cfg.Burst = clientQPS, clientBurst
	return cfg, nil
}
