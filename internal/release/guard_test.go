package release

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// trustServer makes inst trust srv's test certificate.
func trustServer(inst *Installer, srv *httptest.Server) {
	tr := inst.client.HTTPClient.Transport.(*http.Transport)
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
}

// An https release base whose mirror redirects to plain http is refused,
// for the checksum file and for the binary, at once (not retried), and
// nothing reaches the http server or the disk (issue #22, item 9).
func TestInstallRefusesARedirectFromHTTPSToHTTP(t *testing.T) {
	bin := payload(3, 1<<20)
	plain := newRelServer(t, bin)
	for _, tc := range []struct {
		name   string
		pinned bool // a pinned hash needs no checksum file: the binary is fetched
		asset  string
	}{
		{"checksum file", false, "sha256sum-arm64.txt"},
		{"binary", true, "k3s-arm64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var tlsReqs atomic.Int32
			tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tlsReqs.Add(1)
				http.Redirect(w, r, plain.URL+r.URL.EscapedPath(), http.StatusFound)
			}))
			t.Cleanup(tlsSrv.Close)
			root := newRoot(t)
			inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
			trustServer(inst, tlsSrv)
			k := testK3s(tlsSrv.URL)
			if tc.pinned {
				k.SHA256 = map[string]string{"arm64": sha(bin)}
			}
			_, err := inst.Install(context.Background(), k, "arm64")
			if !errors.Is(err, ErrRedirectDowngrade) {
				t.Fatalf("err = %v, want %v", err, ErrRedirectDowngrade)
			}
			from := tlsSrv.URL + "/v1.33.5%2Bk3s1/" + tc.asset
			to := plain.URL + "/v1.33.5%2Bk3s1/" + tc.asset
			if !strings.Contains(err.Error(), from) || !strings.Contains(err.Error(), to) {
				t.Errorf("err = %v, want it to name %s and %s", err, from, to)
			}
			if n := tlsReqs.Load(); n != 1 {
				t.Errorf("https requests = %d, want 1 (a refused redirect is not retried)", n)
			}
			if bins, sums := plain.counts(); bins+sums != 0 {
				t.Errorf("the http server got %d binary and %d checksum requests, want none", bins, sums)
			}
			assertBinary(t, root, nil)
		})
	}
}

// A body larger than its cap fails as soon as it passes the cap, whether
// the size is announced or not, and leaves nothing on disk (issue #22,
// item 9: a 300 MiB body was written before the hash check).
func TestInstallCapsTheBody(t *testing.T) {
	const capBytes, body = 1 << 20, 64 << 20
	for _, tc := range []struct {
		name      string
		announced bool
	}{
		{"announced", true},
		{"chunked", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if strings.HasSuffix(r.URL.Path, "/sha256sum-arm64.txt") {
					w.Write([]byte(strings.Repeat("0", 64) + "  k3s-arm64\n"))
					return
				}
				if tc.announced {
					w.Header().Set("Content-Length", "67108864")
				}
				chunk := make([]byte, 64<<10)
				for sent.Load() < body {
					if _, err := w.Write(chunk); err != nil {
						return
					}
					sent.Add(int64(len(chunk)))
				}
			}))
			t.Cleanup(srv.Close)
			root := newRoot(t)
			inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
			inst.caps.binary = capBytes
			_, err := inst.Install(context.Background(), testK3s(srv.URL), "arm64")
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want %v", err, ErrTooLarge)
			}
			if !strings.Contains(err.Error(), srv.URL+"/v1.33.5%2Bk3s1/k3s-arm64") {
				t.Errorf("err = %v, want it to name the binary's URL", err)
			}
			assertBinary(t, root, nil)
		})
	}
}

// The checksum file has a small cap of its own.
func TestInstallCapsTheChecksumFile(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("#", 4<<10)))
	}))
	t.Cleanup(srv.Close)
	root := newRoot(t)
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
	inst.caps.checksums = 1 << 10
	_, err := inst.Install(context.Background(), testK3s(srv.URL), "arm64")
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "sha256sum-arm64.txt") {
		t.Fatalf("err = %v, want %v naming the checksum file", err, ErrTooLarge)
	}
	assertBinary(t, root, nil)
}
