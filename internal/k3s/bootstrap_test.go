package k3s

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// bootstrapServer imitates a k3s supervisor: /cacerts without
// authentication, and /v1-k3s/server-bootstrap for the "server" user only,
// 401 otherwise (pkg/server/handlers/router.go serves it behind
// basic auth for the server role), as JSON keyed by field name with
// {"Timestamp", "Content"} values (pkg/bootstrap/bootstrap.go). Its
// serving certificate is its own CA, so /cacerts names the CA that
// verifies it, as on a real server. files nil serves all the etcd keys.
func bootstrapServer(t *testing.T, secret string, files map[string][]byte) (url, caHash string) {
	t.Helper()
	if files == nil {
		files = map[string][]byte{"ETCDServerCA": []byte("ca pem"), "ETCDServerCAKey": []byte("key pem"),
			"ServerCA": []byte("server ca"), "ServiceKey": []byte("sa key")}
	}
	var caPEM []byte
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/cacerts":
			_, _ = w.Write(caPEM)
		case bootstrapPath:
			user, pw, ok := r.BasicAuth()
			if !ok || user != "server" || pw != secret {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			out := map[string]bootstrapFile{}
			for k, v := range files {
				out[k] = bootstrapFile{Timestamp: "2024-05-01T10:00:00Z", Content: v}
			}
			_ = json.NewEncoder(w).Encode(out)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return srv.URL, CAHash(caPEM)
}

func TestFetchBootstrap(t *testing.T) {
	ctx := context.Background()
	url, hash := bootstrapServer(t, "s3cret", nil)
	for _, token := range []string{"s3cret", "K10" + hash + "::server:s3cret"} {
		b, err := FetchBootstrap(ctx, url, token, hash)
		if err != nil {
			t.Fatalf("FetchBootstrap with token form %.3s…: %v", token, err)
		}
		if string(b.ETCDServerCA) != "ca pem" || string(b.ETCDServerCAKey) != "key pem" {
			t.Errorf("bootstrap %q, %q; want the etcd server CA and key", b.ETCDServerCA, b.ETCDServerCAKey)
		}
	}
}

// Keys match without case, as encoding/json matches field names.
func TestParseBootstrapKeyCase(t *testing.T) {
	b, err := parseBootstrap([]byte(`{"etcdServerCA":{"Timestamp":"2024-05-01T10:00:00Z","Content":"Y2E="},` +
		`"etcdServerCAKey":{"Timestamp":"2024-05-01T10:00:00Z","Content":"a2V5"}}`))
	if err != nil || string(b.ETCDServerCA) != "ca" || string(b.ETCDServerCAKey) != "key" {
		t.Errorf("parseBootstrap = %q, %q, %v; want ca, key", b.ETCDServerCA, b.ETCDServerCAKey, err)
	}
}

func TestFetchBootstrapRefusals(t *testing.T) {
	ctx := context.Background()
	url, hash := bootstrapServer(t, "s3cret", nil)
	partial, partialHash := bootstrapServer(t, "s3cret", map[string][]byte{"ETCDServerCA": []byte("ca pem")})
	// A server whose /cacerts hashes right but whose serving certificate
	// that CA did not sign: TLS verification refuses it.
	impostorCA := testCAPEM(t)
	impostor := httptest.NewUnstartedServer(caHandler(impostorCA))
	impostor.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake is the point
	impostor.StartTLS()
	t.Cleanup(impostor.Close)
	other := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name, url, token, hash, want string
		is                           error
	}{
		{name: "other CA", url: url, token: "s3cret", hash: other, want: "want abababababab…", is: ErrCAMismatch},
		{name: "wrong secret", url: url, token: "wr0ng", hash: hash, want: "HTTP 401: the server refuses the token"},
		{name: "agent token", url: url, token: "K10::node:s3cret", hash: hash, want: `user "node"`},
		{name: "missing key", url: partial, token: "s3cret", hash: partialHash, want: "no ETCDServerCAKey in it"},
		{name: "unverified server", url: impostor.URL, token: "s3cret", hash: CAHash(impostorCA), want: "certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FetchBootstrap(ctx, tc.url, tc.token, tc.hash)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), tc.url) {
				t.Fatalf("FetchBootstrap = %v, want an error naming %s and containing %q", err, tc.url, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			for _, secret := range []string{"s3cret", "wr0ng"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes the token", err)
				}
			}
		})
	}
}
