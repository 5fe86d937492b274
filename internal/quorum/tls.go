package quorum

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
)

// Defaults of a k3s server. The file names are the ones k3s itself uses for
// its etcd client (k3s pkg/daemons/control/deps: ETCDServerCA
// "tls/etcd/server-ca.crt", ClientETCDCert "tls/etcd/client.crt",
// ClientETCDKey "tls/etcd/client.key"); the etcd serving certificate
// (server-client.crt) carries 127.0.0.1, localhost and the node addresses as
// SANs, so the member client URLs verify too.
const (
	DefaultEndpoint = "https://127.0.0.1:2379"
	DefaultTLSDir   = "/var/lib/rancher/k3s/server/tls/etcd"

	CAFile   = "server-ca.crt"
	CertFile = "client.crt"
	KeyFile  = "client.key"
)

// loadTLS reads the client certificate and CA from dir. It is called for every
// new connection, not once, because k3s rotates these files on restart when
// they near expiry.
func loadTLS(dir string) (*tls.Config, error) {
	caPath := filepath.Join(dir, CAFile)
	caPEM, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("reading etcd CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("reading etcd CA %s: no PEM certificate found", caPath)
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, fmt.Errorf("loading etcd client certificate from %s: %w", dir, err)
	}
	return &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}, nil
}
