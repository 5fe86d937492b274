package release

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// A slow download is progress the daemon's watchdog sees: every chunk that
// arrives marks the work of ctx alive (issue #22, item 2). The loopback
// server sends the next chunk only once the previous one was marked, so a
// download that marks nothing stalls and fails.
func TestDownloadMarksProgressAsBytesArrive(t *testing.T) {
	const chunks, chunkSize = 16, 4 << 10
	bin := payload(4, chunks*chunkSize)
	advance := make(chan struct{}, 1)
	var stalledAt atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/sha256sum-arm64.txt") {
			w.Write([]byte(sha(bin) + "  k3s-arm64\n"))
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(bin)))
		for i := range chunks {
			w.Write(bin[i*chunkSize : (i+1)*chunkSize])
			w.(http.Flusher).Flush()
			if i == chunks-1 {
				return
			}
			select {
			case <-advance:
			case <-time.After(3 * time.Second): // deadline: no progress seen
				stalledAt.Store(int32(i + 1))
				return
			case <-r.Context().Done():
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	var marks atomic.Int32
	ctx := host.WithProgress(context.Background(), func() {
		marks.Add(1)
		select {
		case advance <- struct{}{}:
		default:
		}
	})
	opts := testOptions()
	opts.Attempts = 1
	root := newRoot(t)
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, opts)
	if _, err := inst.Install(ctx, testK3s(srv.URL), "arm64"); err != nil {
		t.Fatalf("Install: %v (the server saw no progress after chunk %d of %d)", err, stalledAt.Load(), chunks)
	}
	if n := marks.Load(); n < chunks {
		t.Errorf("progress marks = %d, want at least one per chunk (%d)", n, chunks)
	}
	assertBinary(t, root, bin)
}

// SweepLeftovers removes the temp files of unfinished downloads beside the
// binary and the images, and nothing else: not the binary, its staged
// copy, other dot files or the temp files of other programs.
func TestSweepLeftovers(t *testing.T) {
	root := newRoot(t)
	leftovers := []string{
		"/usr/local/bin/.k3s.download-1234567",
		"/usr/local/bin/.k3s.staged.download-42",
		ImagesDir + "/.k3s-airgap-images-arm64.tar.zst.staged.download-99",
		ImagesDir + "/.k3s-airgap-images-arm64.tar.zst.download-7",
	}
	kept := []string{
		"/usr/local/bin/k3s",
		"/usr/local/bin/.k3s.staged",
		"/usr/local/bin/.kubectl.download-123",
		"/usr/local/bin/.k3s.download-abc",
		"/usr/local/bin/k3s.download-123",
		"/usr/local/bin/.k3s.tmp-123",
		ImagesDir + "/k3s-airgap-images-arm64.tar.zst",
		ImagesDir + "/.other.tar.download-5",
	}
	files := map[string]string{}
	for _, p := range append(append([]string{}, leftovers...), kept...) {
		files[p] = "x"
	}
	writeTree(t, root, files)
	removed, err := SweepLeftovers(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != len(leftovers) {
		t.Errorf("removed %q, want %q", removed, leftovers)
	}
	for _, p := range leftovers {
		if _, err := os.Stat(root.Path(p)); !os.IsNotExist(err) {
			t.Errorf("%s still there (%v)", p, err)
		}
	}
	for _, p := range kept {
		if _, err := os.Stat(root.Path(p)); err != nil {
			t.Errorf("%s removed: %v", p, err)
		}
	}
	// A directory of the same name is not nodeagent's temp file.
	dir := root.Path("/usr/local/bin/.k3s.download-55")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := SweepLeftovers(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("a directory was removed: %v", err)
	}
}

// A body that stalls ends its attempt after IdleTimeout without data, and
// the download is retried, all well before the daemon's stall limit would
// restart the daemon mid-download (the attempt timeout is for slow links,
// not for stalls).
func TestDownloadGivesUpOnAStalledBody(t *testing.T) {
	bin := payload(5, 1<<20)
	srv := newRelServer(t, bin, faultStall, faultStall)
	opts := testOptions()
	opts.IdleTimeout, opts.Attempts = 200*time.Millisecond, 2
	root := newRoot(t)
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, opts)
	start := time.Now()
	_, err := inst.Install(context.Background(), testK3s(srv.URL), "arm64")
	if !errors.Is(err, errIdle) || !strings.Contains(err.Error(), "no data received for 200ms") {
		t.Fatalf("err = %v, want %v", err, errIdle)
	}
	if el := time.Since(start); el > opts.AttemptTimeout {
		t.Errorf("took %s: the stall ran into the attempt timeout (%s)", el, opts.AttemptTimeout)
	}
	if bins, _ := srv.counts(); bins != 2 {
		t.Errorf("binary requests = %d, want 2 (a stalled attempt is retried)", bins)
	}
	assertBinary(t, root, nil)
}
