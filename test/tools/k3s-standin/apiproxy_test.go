package main

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSetRemoteIdentity: identity headers come only from a verified client
// certificate; a caller's own X-Remote-* headers and basic credentials
// never reach the apiserver; a bearer token does.
func TestSetRemoteIdentity(t *testing.T) {
	kubelet := &x509.Certificate{Subject: pkix.Name{CommonName: "system:node:a1", Organization: []string{"system:nodes"}}}
	for _, tc := range []struct {
		name    string
		cert    *x509.Certificate
		in      http.Header
		wantOut http.Header
	}{{
		name:    "kubelet certificate, spoofed headers dropped",
		cert:    kubelet,
		in:      http.Header{"X-Remote-User": {"system:admin"}, "X-Remote-Group": {"system:masters"}, "X-Remote-Extra-Scopes": {"x"}},
		wantOut: http.Header{"X-Remote-User": {"system:node:a1"}, "X-Remote-Group": {"system:nodes"}},
	}, {
		name:    "no certificate, spoofed user dropped",
		in:      http.Header{"X-Remote-User": {"system:admin"}},
		wantOut: http.Header{},
	}, {
		name:    "basic credentials dropped",
		in:      http.Header{"Authorization": {"Basic bm9kZTpwdw=="}},
		wantOut: http.Header{},
	}, {
		name:    "bearer token kept",
		in:      http.Header{"Authorization": {"Bearer abc"}},
		wantOut: http.Header{"Authorization": {"Bearer abc"}},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://127.0.0.1:6443/api", nil)
			r.Header = tc.in.Clone()
			if tc.cert != nil {
				r.TLS = &tls.ConnectionState{VerifiedChains: [][]*x509.Certificate{{tc.cert}}}
			}
			out := tc.in.Clone()
			setRemoteIdentity(out, r)
			if diff := cmp.Diff(tc.wantOut, out); diff != "" {
				t.Errorf("forwarded headers (-want +got):\n%s", diff)
			}
		})
	}
}
