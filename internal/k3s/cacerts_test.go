package k3s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testCAPEM is a self-signed CA certificate in PEM, like k3s's server-ca.crt.
func testCAPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k3s-server-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func tlsServer(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewTLSServer(h) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHTTPCAProber(t *testing.T) {
	ca := testCAPEM(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	// A port that was just free: nothing listens, the connection is refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "https://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name  string
		url   string
		state PeerState
		hash  string
	}{
		{"a CA bundle", tlsServer(t, caHandler(ca)), PeerHasCluster, CAHash(ca)},
		{"503 while k3s has no CA", tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "no CA", http.StatusServiceUnavailable)
		})), PeerNoCluster, ""},
		{"200 without a certificate", tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("pong"))
		})), PeerNoCluster, ""},
		{"a PEM key is no CA", tlsServer(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: []byte{1}}))
		})), PeerNoCluster, ""},
		{"connection refused", closedURL, PeerUnknown, ""},
		{"no answer within the timeout", tlsServer(t, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			select {
			case <-block:
			case <-r.Context().Done():
			}
		})), PeerUnknown, ""},
	}
	p := NewHTTPCAProber(300 * time.Millisecond)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := p.ProbeCA(context.Background(), tc.url)
			if a.State != tc.state || a.CAHash != tc.hash {
				t.Errorf("answer %+v, want state %d hash %q", a, tc.state, tc.hash)
			}
			if tc.state != PeerHasCluster && a.Err == nil {
				t.Errorf("answer %+v says no cluster without saying why", a)
			}
		})
	}
}
