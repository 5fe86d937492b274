package quorum

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// Client certificate nodeagent signs for itself from the etcd server CA,
// the way k3s signs its own etcd client certificate
// (pkg/daemons/control/deps/deps.go): ECDSA P-256, client auth only. It
// lives for minutes, in memory only: one run of the stale-member removal.
const (
	MintedClientCN = "nodeagent-stale-member"
	mintedBackdate = time.Minute // tolerates a clock slightly behind the server's
	mintedLifetime = 10 * time.Minute
)

// MintClientTLS signs a short-lived etcd client certificate with the etcd
// server CA (caPEM, caKeyPEM: ECDSA or RSA; PKCS#8, SEC 1 or PKCS#1 keys)
// and returns a TLS config that presents it and trusts that CA only. Nothing
// is written to disk.
func MintClientTLS(caPEM, caKeyPEM []byte, now time.Time) (*tls.Config, error) {
	ca, err := parseCACert(caPEM)
	if err != nil {
		return nil, err
	}
	caKey, err := parsePrivateKey(caKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("reading the etcd server CA key: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating an etcd client key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generating a serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: MintedClientCN},
		NotBefore:    now.Add(-mintedBackdate),
		NotAfter:     now.Add(mintedLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	// CreateCertificate checks the signature against ca's public key, so a
	// key that is not the CA's fails here.
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("signing an etcd client certificate with the etcd server CA: %w", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	return &tls.Config{
		RootCAs:      roots,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}, nil
}

// parseCACert reads the first certificate of caPEM, which must be a CA.
func parseCACert(caPEM []byte) (*x509.Certificate, error) {
	for rest := caPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("reading the etcd server CA: no PEM certificate")
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		ca, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("reading the etcd server CA: %w", err)
		}
		if !ca.IsCA {
			return nil, fmt.Errorf("reading the etcd server CA: %q is not a CA certificate", ca.Subject.CommonName)
		}
		return ca, nil
	}
}

// parsePrivateKey reads an ECDSA or RSA key in any of the PEM forms k3s
// and openssl write.
func parsePrivateKey(keyPEM []byte) (crypto.Signer, error) {
	for rest := keyPEM; ; {
		var b *pem.Block
		if b, rest = pem.Decode(rest); b == nil {
			return nil, errors.New("no PEM private key")
		}
		switch b.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(b.Bytes)
		case "RSA PRIVATE KEY":
			return x509.ParsePKCS1PrivateKey(b.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, err
			}
			switch k := k.(type) {
			case *ecdsa.PrivateKey:
				return k, nil
			case *rsa.PrivateKey:
				return k, nil
			}
			return nil, fmt.Errorf("a %T key; want ECDSA or RSA", k)
		}
	}
}
