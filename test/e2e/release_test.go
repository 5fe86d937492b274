package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netns"
)

// releaseServer serves <version>/k3s and <version>/sha256sum-amd64.txt
// from the bridge namespace, the way GitHub serves a k3s release, so the
// agents run their real download-and-verify path.
type releaseServer struct {
	URL string
	// SHA256 is the served binary's hash: the cluster file pins it, since
	// over plain http the checksum file proves nothing (config refuses it).
	SHA256    string
	downloads atomic.Int64 // GETs of the binary
	dir       string
	sums      map[string]string // each served version's binary hash
}

// startReleaseServer lays out the release in a temp dir and serves it on
// serverAddr:releasePort inside the namespace ns.
func startReleaseServer(t *testing.T, ns, version, k3sBinary string) *releaseServer {
	t.Helper()
	rs := &releaseServer{URL: "http://" + net.JoinHostPort(serverAddr, releasePort), dir: t.TempDir(), sums: map[string]string{}}
	rs.SHA256 = rs.add(t, version, k3sBinary)
	ln, err := listenInNetns(ns, net.JoinHostPort(serverAddr, releasePort))
	if err != nil {
		t.Fatalf("release server: %v", err)
	}
	files := http.FileServer(http.Dir(rs.dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if filepath.Base(r.URL.Path) == "k3s" {
			rs.downloads.Add(1)
		}
		files.ServeHTTP(w, r)
	})}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("release server: %v", err)
		}
	}()
	t.Cleanup(func() { _ = srv.Close() })
	return rs
}

// add lays out one more release, version with k3sBinary, and returns the
// binary's hash.
func (rs *releaseServer) add(t *testing.T, version, k3sBinary string) string {
	t.Helper()
	vdir := filepath.Join(rs.dir, version)
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := copyAndHash(t, k3sBinary, filepath.Join(vdir, "k3s"))
	if err := os.WriteFile(filepath.Join(vdir, "sha256sum-amd64.txt"), []byte(sum+"  k3s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rs.sums[version] = sum
	return sum
}

// listenInNetns opens a listening socket inside the named namespace.
func listenInNetns(ns, addr string) (net.Listener, error) {
	var ln net.Listener
	err := inNetns("/run/netns/"+ns, func() error {
		var err error
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in netns %s: %w", addr, ns, err)
	}
	return ln, nil
}

// inNetns runs fn on an OS thread switched into the namespace at path. A
// socket belongs to the namespace it was created in, so sockets fn opens
// stay there. The thread switches back before it is unlocked; if that
// fails it stays locked and dies with the goroutine, so Go never reuses a
// thread in an unknown namespace.
func inNetns(path string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			done <- fmt.Errorf("reading the thread's netns: %w", err)
			return
		}
		defer orig.Close()
		target, err := netns.GetFromPath(path)
		if err != nil {
			done <- fmt.Errorf("opening netns %s: %w", path, err)
			return
		}
		defer target.Close()
		if err := netns.Set(target); err != nil {
			done <- fmt.Errorf("entering netns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			done <- errors.Join(ferr, fmt.Errorf("leaving netns %s: %w", path, err))
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}

func copyAndHash(t *testing.T, src, dst string) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(out, h), in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
