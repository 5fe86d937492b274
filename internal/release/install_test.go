package release

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

func testOptions() Options {
	return Options{
		Timeout: 20 * time.Second, AttemptTimeout: 10 * time.Second, HeaderTimeout: 5 * time.Second,
		RetryWaitMin: 10 * time.Millisecond, RetryWaitMax: 50 * time.Millisecond,
		Retries: 3, Attempts: 3,
	}
}

func testK3s(base string) config.K3s {
	return config.K3s{Version: testVersion, ReleaseBase: base}
}

// payload returns n deterministic pseudo-random bytes tagged by seed.
func payload(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed) + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func TestInstallFaults(t *testing.T) {
	newBin, oldBin := payload(1, 3<<20), payload(2, 1<<20)
	tests := []struct {
		name     string
		faults   []fault
		old      []byte // binary present before, nil for none
		wrongSum bool
		timeout  time.Duration
		wantErr  error // nil: installed; errAny: any error
		minTime  time.Duration
		wantReqs int
	}{
		{name: "fresh", wantReqs: 1},
		{name: "500 then success", faults: []fault{fault500, fault500}, old: oldBin, wantReqs: 3},
		{name: "429 honours Retry-After", faults: []fault{fault429}, minTime: time.Second, wantReqs: 2},
		{name: "reset mid-body then success", faults: []fault{faultReset}, old: oldBin, wantReqs: 2},
		{name: "truncated then success", faults: []fault{faultTruncated}, wantReqs: 2},
		{name: "reset every time keeps old", faults: []fault{faultReset, faultReset, faultReset}, old: oldBin, wantErr: errAny, wantReqs: 3},
		{name: "truncated every time leaves none", faults: []fault{faultTruncated, faultTruncated, faultTruncated}, wantErr: errAny, wantReqs: 3},
		{name: "wrong checksum keeps old", wrongSum: true, old: oldBin, wantErr: ErrChecksumMismatch, wantReqs: 1},
		{name: "500 forever keeps old", faults: []fault{fault500, fault500, fault500, fault500}, old: oldBin, wantErr: errAny, wantReqs: 4},
		{name: "404 is final", faults: []fault{fault404}, old: oldBin, wantErr: errAny, wantReqs: 1},
		{name: "stalled body vs overall timeout", faults: []fault{faultStall, faultStall, faultStall}, old: oldBin,
			timeout: 300 * time.Millisecond, wantErr: context.DeadlineExceeded, wantReqs: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRelServer(t, newBin, tc.faults...)
			if tc.wrongSum {
				srv.sums = sha([]byte("something else")) + "  k3s-arm64\n"
			}
			root := newRoot(t)
			if tc.old != nil {
				writeTree(t, root, map[string]string{BinaryPath: string(tc.old)})
				if err := os.Chmod(root.Path(BinaryPath), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			opts := testOptions()
			if tc.timeout > 0 {
				opts.Timeout = tc.timeout
			}
			inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, opts)
			start := time.Now()
			res, err := inst.Install(context.Background(), testK3s(srv.URL), "arm64")
			elapsed := time.Since(start)

			want := newBin
			if tc.wantErr != nil {
				want = tc.old
				if err == nil {
					t.Fatal("Install succeeded, want an error")
				}
				if tc.wantErr != errAny && !errors.Is(err, tc.wantErr) {
					t.Errorf("error = %v, want %v", err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("Install: %v", err)
				}
				if !res.BinaryChanged || res.SHA256 != sha(newBin) {
					t.Errorf("result = %+v, want changed with sha %s", res, sha(newBin))
				}
			}
			assertBinary(t, root, want)
			if elapsed < tc.minTime {
				t.Errorf("took %s, want at least %s (Retry-After)", elapsed, tc.minTime)
			}
			if bins, _ := srv.counts(); bins != tc.wantReqs {
				t.Errorf("binary requests = %d, want %d", bins, tc.wantReqs)
			}
			if len(srv.badPaths) > 0 {
				t.Errorf("requests without %%2B-escaped version: %v", srv.badPaths)
			}
		})
	}
}

var errAny = errors.New("any error")

// assertBinary checks /usr/local/bin holds exactly want as k3s (mode 0755),
// or nothing when want is nil: no temp file may be left behind.
func assertBinary(t *testing.T, root host.Root, want []byte) {
	t.Helper()
	dir := root.Path("/usr/local/bin")
	wantList := []string{}
	if want != nil {
		wantList = []string{"k3s"}
	}
	if diff := cmp.Diff(wantList, listDir(t, dir)); diff != "" {
		t.Fatalf("%s listing (-want +got):\n%s", dir, diff)
	}
	if want == nil {
		return
	}
	got, err := os.ReadFile(filepath.Join(dir, "k3s"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("k3s content: got sha %s, want %s", sha(got), sha(want))
	}
	if st, err := os.Stat(filepath.Join(dir, "k3s")); err != nil || st.Mode().Perm() != 0o755 {
		t.Errorf("k3s mode: %v %v, want 0755", st.Mode(), err)
	}
}

// Reachable reads the checksum file, as the install would first, and
// writes nothing; an unknown version or a missing asset is an error.
func TestReachable(t *testing.T) {
	srv := newRelServer(t, []byte("k3s binary"))
	root := newRoot(t)
	i := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, Options{Retries: 1})
	k := config.K3s{Version: testVersion, ReleaseBase: srv.URL, SHA256: map[string]string{"arm64": sha([]byte("k3s binary"))}}
	loc, err := i.Reachable(context.Background(), k, "arm64")
	if err != nil || !strings.HasSuffix(loc, "/sha256sum-arm64.txt") {
		t.Fatalf("Reachable = %q, %v; want the checksum file, nil", loc, err)
	}
	if bin, sums := srv.counts(); bin != 0 || sums != 1 {
		t.Errorf("requests: %d binary, %d checksum; want only the checksum file", bin, sums)
	}
	if got := listDir(t, root.Path("/")); len(got) != 0 {
		t.Errorf("Reachable wrote %v", got)
	}
	srv.Close()
	if _, err := i.Reachable(context.Background(), k, "arm64"); err == nil {
		t.Error("a release server that is gone: no error")
	}
	// An air-gap directory whose checksum file lists another arch only.
	writeTree(t, root, map[string]string{"/srv/rel/" + testVersion + "/sha256sum-arm64.txt": sha([]byte("x")) + "  k3s\n"})
	k = config.K3s{Version: testVersion, ReleaseBase: "/srv/rel"}
	if _, err := i.Reachable(context.Background(), k, "arm64"); err == nil || !strings.Contains(err.Error(), "does not list k3s-arm64") {
		t.Errorf("a checksum file without the binary: err = %v, want one saying so", err)
	}
}
