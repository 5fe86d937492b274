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
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// DBMembers asks /db/info as the "server" user, trusts only the CA file,
// and reads the member names.
func TestDBMembers(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if r.URL.Path != "/db/info" || !ok || user != "server" || pass != "s3cret" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"members":[{"ID":1,"name":"pi4-1-0a1b2c3d","peerURLs":["https://10.0.0.11:2380"]},{"ID":2,"peerURLs":["https://10.0.0.12:2380"],"isLearner":true}]}`))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "server-ca.crt")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := DBMembers(context.Background(), srv.URL, "K10"+strings.Repeat("a", 64)+"::server:s3cret", ca)
	if err != nil || !slices.Equal(got, []string{"pi4-1-0a1b2c3d", ""}) {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := DBMembers(context.Background(), srv.URL, "wrong", ca); err == nil || !strings.Contains(err.Error(), "refuses the token") || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("wrong token: %v", err)
	}
	// httptest's servers share one certificate: another CA is made here.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "other-ca"}, IsCA: true,
		BasicConstraintsValid: true, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "other-ca.crt")
	if err := os.WriteFile(other, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := DBMembers(context.Background(), srv.URL, "s3cret", other); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server the CA file does not sign: %v", err)
	}
}
