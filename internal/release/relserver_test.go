package release

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fault is what the test release server does to one binary request.
type fault int

const (
	faultNone      fault = iota
	fault500             // 500 Internal Server Error
	fault429             // 429 with Retry-After: 1
	faultReset           // headers and half the body, then a TCP RST
	faultTruncated       // Content-Length larger than what is sent
	faultStall           // half the body, then nothing until the client gives up
	fault404             // 404 Not Found: final, not retried
)

// relServer is a real HTTP server on 127.0.0.1 serving a k3s release layout
// (<version>/k3s-arm64, sha256sum-arm64.txt) with injected faults.
type relServer struct {
	*httptest.Server
	bin  []byte
	sums string

	mu       sync.Mutex
	faults   []fault // consumed one per binary request
	binReqs  int
	sumReqs  int
	badPaths []string
}

const testVersion = "v1.33.5+k3s1"

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func newRelServer(t testing.TB, bin []byte, faults ...fault) *relServer {
	t.Helper()
	s := &relServer{bin: bin, faults: faults,
		sums: fmt.Sprintf("%s  k3s-arm64\n%s  k3s-airgap-images-arm64.tar\n", sha(bin), strings.Repeat("0", 64))}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *relServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	// GitHub's links escape '+'; a mirror that decodes '+' as space breaks otherwise.
	if !strings.HasPrefix(r.URL.EscapedPath(), "/v1.33.5%2Bk3s1/") {
		s.badPaths = append(s.badPaths, r.URL.EscapedPath())
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/sha256sum-arm64.txt"):
		s.sumReqs++
		sums := s.sums
		s.mu.Unlock()
		fmt.Fprint(w, sums)
		return
	case !strings.HasSuffix(r.URL.Path, "/k3s-arm64"):
		s.mu.Unlock()
		http.NotFound(w, r)
		return
	}
	s.binReqs++
	f := faultNone
	if len(s.faults) > 0 {
		f, s.faults = s.faults[0], s.faults[1:]
	}
	s.mu.Unlock()
	s.serveBinary(w, r, f)
}

func (s *relServer) serveBinary(w http.ResponseWriter, r *http.Request, f fault) {
	half := s.bin[:len(s.bin)/2]
	switch f {
	case fault404:
		http.NotFound(w, r)
	case fault500:
		http.Error(w, "boom", http.StatusInternalServerError)
	case fault429:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	case faultReset:
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", len(s.bin))
		buf.Write(half)
		buf.Flush()
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // close with RST, like a dropped mirror connection
		}
		conn.Close()
	case faultTruncated:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.bin)))
		w.Write(half)
	case faultStall:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.bin)))
		w.Write(half)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	default:
		w.Header().Set("Content-Length", strconv.Itoa(len(s.bin)))
		w.Write(s.bin)
	}
}

func (s *relServer) counts() (bin, sums int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.binReqs, s.sumReqs
}
