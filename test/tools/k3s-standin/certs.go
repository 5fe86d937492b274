package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// caFiles are the cluster-wide authorities (and the service-account key)
// that every server shares: the bootstrap data's key (the field of k3s's
// config.ControlRuntimeBootstrap, pkg/daemons/config/types.go) and the file
// k3s keeps it in, relative to server/tls. Joining servers copy them from
// the bootstrap endpoint.
var caFiles = []struct{ key, path string }{
	{"ServerCA", "server-ca.crt"}, {"ServerCAKey", "server-ca.key"},
	{"ClientCA", "client-ca.crt"}, {"ClientCAKey", "client-ca.key"},
	{"ServiceKey", "service.key"},
	{"RequestHeaderCA", "request-header-ca.crt"}, {"RequestHeaderCAKey", "request-header-ca.key"},
	{"ETCDServerCA", "etcd/server-ca.crt"}, {"ETCDServerCAKey", "etcd/server-ca.key"},
	{"ETCDPeerCA", "etcd/peer-ca.crt"}, {"ETCDPeerCAKey", "etcd/peer-ca.key"},
}

// createCAs generates the authorities of a new cluster, keeping any that
// exist so that a restarted cluster-init server keeps its identity.
func createCAs(tlsDir string) error {
	for _, ca := range []struct{ name, cn string }{
		{"server-ca", "k3s-server-ca"},
		{"client-ca", "k3s-client-ca"},
		{"request-header-ca", "k3s-request-header-ca"},
		{"etcd/server-ca", "etcd-server-ca"},
		{"etcd/peer-ca", "etcd-peer-ca"},
	} {
		crt := filepath.Join(tlsDir, ca.name+".crt")
		if exists(crt) {
			continue
		}
		if err := writeCA(crt, filepath.Join(tlsDir, ca.name+".key"), ca.cn); err != nil {
			return err
		}
	}
	sa := filepath.Join(tlsDir, "service.key")
	if exists(sa) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating service-account key: %w", err)
	}
	return writeKey(sa, key)
}

func writeCA(crtPath, keyPath, cn string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating key for %s: %w", cn, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s@%d", cn, now.Unix())},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return fmt.Errorf("signing %s: %w", cn, err)
	}
	if err := writeKey(keyPath, key); err != nil {
		return err
	}
	return writePEM(crtPath, "CERTIFICATE", der, 0o644)
}

// leaf describes one certificate signed by a cluster CA.
type leaf struct {
	file   string // without .crt/.key, relative to server/tls
	ca     string // likewise
	cn     string
	orgs   []string
	server bool // serving as well as client usage
	dns    []string
	ips    []net.IP
}

// ensureLeaf writes l's certificate and key unless they already exist.
func ensureLeaf(tlsDir string, l leaf) error {
	crtPath := filepath.Join(tlsDir, l.file+".crt")
	if exists(crtPath) {
		return nil
	}
	caCert, caKey, err := loadCA(filepath.Join(tlsDir, l.ca))
	if err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating key for %s: %w", l.file, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: l.cn, Organization: l.orgs},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     l.dns,
		IPAddresses:  l.ips,
	}
	if l.server {
		tmpl.ExtKeyUsage = append(tmpl.ExtKeyUsage, x509.ExtKeyUsageServerAuth)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), caKey)
	if err != nil {
		return fmt.Errorf("signing %s: %w", l.file, err)
	}
	if err := writeKey(filepath.Join(tlsDir, l.file+".key"), key); err != nil {
		return err
	}
	return writePEM(crtPath, "CERTIFICATE", der, 0o644)
}

func loadCA(base string) (*x509.Certificate, crypto.Signer, error) {
	crtPEM, err := os.ReadFile(base + ".crt")
	if err != nil {
		return nil, nil, fmt.Errorf("reading CA: %w", err)
	}
	keyPEM, err := os.ReadFile(base + ".key")
	if err != nil {
		return nil, nil, fmt.Errorf("reading CA key: %w", err)
	}
	cb, _ := pem.Decode(crtPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("CA %s: no PEM block", base)
	}
	crt, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing CA %s: %w", base, err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing CA key %s: %w", base, err)
	}
	return crt, key, nil
}

func writeKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding key %s: %w", path, err)
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// writeFile writes atomically, so a kill mid-write never leaves a truncated
// certificate that a restart would take as present.
func writeFile(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating directory of %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming %s: %w", path, err)
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(fmt.Sprintf("reading random serial: %v", err)) // crypto/rand never fails on Linux
	}
	return n
}
