package apiserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Client rate limits: client-go's defaults (5 QPS, burst 10) throttle tests
// that create many objects, and nothing else shares this apiserver.
const (
	clientQPS   = 200
	clientBurst = 400
)

func restConfig(url string, p *pki) *rest.Config {
	return &rest.Config{
		Host: url,
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   p.caPEM,
			CertData: p.adminCertPEM,
			KeyData:  p.adminKeyPEM,
		},
		QPS:       clientQPS,
		Burst:     clientBurst,
		UserAgent: "nodeagent-test-harness",
	}
}

// clientTLS is the admin TLS config used to poll /readyz before a
// rest.Config exists.
func clientTLS(p *pki) (*tls.Config, error) {
	cert, err := tls.X509KeyPair(p.adminCertPEM, p.adminKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading admin certificate: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.caPEM) {
		return nil, errors.New("loading test CA: no certificate in PEM")
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      roots,
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// writeKubeconfig writes a kubeconfig with embedded credentials (the admin's
// or a node's), named like k3s.yaml ("default" cluster, user and context)
// and private like it.
func writeKubeconfig(path, url string, caPEM, certPEM, keyPEM []byte) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["default"] = &clientcmdapi.Cluster{
		Server:                   url,
		CertificateAuthorityData: caPEM,
	}
	cfg.AuthInfos["default"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: certPEM,
		ClientKeyData:         keyPEM,
	}
	cfg.Contexts["default"] = &clientcmdapi.Context{Cluster: "default", AuthInfo: "default"}
	cfg.CurrentContext = "default"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	// WriteToFile creates with 0600 but keeps the mode of an existing file.
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("restricting kubeconfig %s: %w", path, err)
	}
	return nil
}
