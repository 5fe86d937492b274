package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node-authenticated supervisor routes, as k3s's
// pkg/server/handlers/handlers.go (ClientKubeletCert) and
// pkg/nodepassword/validate.go (GetNodeAuthValidator).
const (
	nodeNameHeader     = "K3s-Node-Name"
	nodePasswordHeader = "K3s-Node-Password"
	nodeUserPrefix     = "system:node:"
	nodesGroup         = "system:nodes"
)

var errCoreNotReady = errors.New("runtime core not ready")

// serveClientKubeletCert signs a client certificate CN=system:node:<name>,
// O=system:nodes with the client CA for the node named in the request
// headers once its node password is verified (ensureNodePassword), and
// answers, as k3s to a GET without a signing request, the certificate, the
// client CA, then the server's shared client-kubelet.key.
func (s *server) serveClientKubeletCert(w http.ResponseWriter, r *http.Request) {
	node, code, err := s.authorizeNode(r)
	if err != nil {
		s.log.Warn("refused a kubelet certificate", zap.String("node", node), zap.Int("status", code), zap.Error(err))
		http.Error(w, err.Error(), code)
		return
	}
	body, err := s.signKubeletClientCert(node)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	s.log.Info("signed a kubelet client certificate", zap.String("node", node))
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write(body)
}

// authorizeNode is k3s's node auth validator: the name and password
// headers are required (400); a caller with a node identity must ask for its
// own name (400) and its Node must exist (401); then the password must
// match the node's Secret (403), which is made on first use. As in k3s, a
// failure other than a mismatch (the Secret cannot be created) lets the
// request through.
func (s *server) authorizeNode(r *http.Request) (string, int, error) {
	node := strings.ToLower(r.Header.Get(nodeNameHeader))
	if node == "" {
		return "", http.StatusBadRequest, errors.New("node name not set")
	}
	pass := r.Header.Get(nodePasswordHeader)
	if pass == "" {
		return node, http.StatusBadRequest, errors.New("node password not set")
	}
	u := userFrom(r.Context())
	authName, isNode := nodeIdentity(u)
	if isNode && authName != node {
		return node, http.StatusBadRequest, errors.New("header node name does not match auth node name")
	}
	cs := s.core.Load()
	if cs == nil {
		return node, http.StatusServiceUnavailable, errCoreNotReady
	}
	if isNode {
		if _, err := cs.CoreV1().Nodes().Get(r.Context(), authName, metav1.GetOptions{}); err != nil {
			return node, http.StatusUnauthorized, fmt.Errorf("unable to verify node identity: %w", err)
		}
	}
	if err := ensureNodePassword(r.Context(), cs, node, pass); err != nil {
		if errors.Is(err, errNodePasswordVerify) {
			return node, http.StatusForbidden, err
		}
		s.log.Warn("node password verification deferred", zap.String("node", node), zap.Error(err))
	}
	return node, http.StatusOK, nil
}

// nodeIdentity is k8s.io/kubernetes/pkg/auth/nodeidentifier's rule: a user
// named system:node:<name> in the system:nodes group.
func nodeIdentity(u requestUser) (string, bool) {
	name, ok := strings.CutPrefix(u.name, nodeUserPrefix)
	if !ok || name == "" {
		return "", false
	}
	for _, g := range u.groups {
		if g == nodesGroup {
			return name, true
		}
	}
	return "", false
}

// signKubeletClientCert returns certificate, CA and key PEM blocks.
func (s *server) signKubeletClientCert(node string) ([]byte, error) {
	caCert, caKey, err := loadCA(filepath.Join(s.paths.tls, "client-ca"))
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(s.paths.tls, "client-kubelet.key"))
	if err != nil {
		return nil, fmt.Errorf("reading the shared kubelet key: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil {
		return nil, errors.New("client-kubelet.key: no PEM block")
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the shared kubelet key: %w", err)
	}
	now := time.Now()
	der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: nodeUserPrefix + node, Organization: []string{nodesGroup}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, caCert, key.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("signing the kubelet certificate of %s: %w", node, err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caCert.Raw})...)
	return append(out, keyPEM...), nil
}

// serveReadyz is k3s's Readyz: "ok" once the server's core clients exist.
func (s *server) serveReadyz(w http.ResponseWriter, _ *http.Request) {
	if s.core.Load() == nil {
		http.Error(w, errCoreNotReady.Error(), http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

func loadPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return pool, nil
}
