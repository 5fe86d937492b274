package quorum

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"testing"
	"time"
)

// caPEMs returns a CA certificate and its key in the PEM form named.
func caPEMs(t *testing.T, form string) (certPEM, keyPEM []byte) {
	t.Helper()
	tmpl := template(t, "etcd-server-ca@1714557600")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	var pub, priv any
	var block *pem.Block
	switch form {
	case "ec", "ec-pkcs8":
		k := newKey(t)
		pub, priv = &k.PublicKey, k
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "EC PRIVATE KEY", Bytes: der}
	case "rsa", "rsa-pkcs8":
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub, priv = &k.PublicKey, k
		block = &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}
	}
	if strings.HasSuffix(form, "pkcs8") {
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		block = &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(block)
}

func TestMintClientTLS(t *testing.T) {
	now := time.Now().Truncate(time.Second) // certificates hold whole seconds
	for _, form := range []string{"ec", "ec-pkcs8", "rsa", "rsa-pkcs8"} {
		t.Run(form, func(t *testing.T) {
			caPEM, keyPEM := caPEMs(t, form)
			cfg, err := MintClientTLS(caPEM, keyPEM, now)
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Certificates) != 1 || cfg.RootCAs == nil {
				t.Fatalf("config has %d certificates, RootCAs %v", len(cfg.Certificates), cfg.RootCAs)
			}
			leaf, err := x509.ParseCertificate(cfg.Certificates[0].Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			// The etcd server verifies the client against the CA for client auth.
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("minted certificate does not verify for client auth: %v", err)
			}
			if _, err := leaf.Verify(x509.VerifyOptions{Roots: cfg.RootCAs, CurrentTime: now,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
				t.Error("minted certificate verifies for server auth, want client auth only")
			}
			k, ok := cfg.Certificates[0].PrivateKey.(*ecdsa.PrivateKey)
			if !ok || k.Curve != elliptic.P256() {
				t.Errorf("client key %T, want ECDSA P-256", cfg.Certificates[0].PrivateKey)
			}
			if leaf.Subject.CommonName != MintedClientCN || leaf.NotAfter.Sub(now) > 10*time.Minute || now.Sub(leaf.NotBefore) > time.Minute {
				t.Errorf("certificate %q valid %s..%s, want %s for 10 minutes from now", leaf.Subject.CommonName,
					leaf.NotBefore, leaf.NotAfter, MintedClientCN)
			}
		})
	}
}

func TestMintClientTLSRefuses(t *testing.T) {
	caPEM, keyPEM := caPEMs(t, "ec")
	_, otherKey := caPEMs(t, "ec")
	leafTmpl := template(t, "not a CA")
	k := newKey(t)
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, leafTmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})
	for _, tc := range []struct {
		name       string
		cert, key  []byte
		wantSubstr string
	}{
		{"key of another CA", caPEM, otherKey, "signing an etcd client certificate"},
		{"not a CA", leafPEM, keyPEM, "is not a CA certificate"},
		{"no certificate", []byte("garbage"), keyPEM, "no PEM certificate"},
		{"no key", caPEM, []byte("garbage"), "no PEM private key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := MintClientTLS(tc.cert, tc.key, time.Now()); err == nil || !strings.Contains(err.Error(), tc.wantSubstr) {
				t.Errorf("MintClientTLS = %v, want an error containing %q", err, tc.wantSubstr)
			}
		})
	}
}
