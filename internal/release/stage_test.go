package release

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// Stage leaves the installed binary alone until Commit, which renames the
// verified file over it; nothing is left beside it.
func TestStageThenCommit(t *testing.T) {
	oldBin, newBin := payload(1, 64<<10), payload(2, 256<<10)
	srv := newRelServer(t, newBin)
	root := newRoot(t)
	writeTree(t, root, map[string]string{BinaryPath: string(oldBin)})
	if err := os.Chmod(root.Path(BinaryPath), 0o755); err != nil {
		t.Fatal(err)
	}
	inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
	s, err := inst.Stage(context.Background(), testK3s(srv.URL), "arm64")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Changed() || !s.BinaryChanged || s.SHA256 != sha(newBin) {
		t.Errorf("staged = %+v, want the new binary staged", s.InstallResult)
	}
	if diff := cmp.Diff([]string{".k3s.staged", "k3s"}, listDir(t, root.Path("/usr/local/bin"))); diff != "" {
		t.Errorf("after Stage (-want +got):\n%s", diff)
	}
	assertContent(t, root.Path(BinaryPath), oldBin)
	if err := s.Commit(); err != nil {
		t.Fatal(err)
	}
	assertBinary(t, root, newBin)
	// Installed now: a second Stage has nothing to do and fetches nothing.
	s, err = inst.Stage(context.Background(), testK3s(srv.URL), "arm64")
	if err != nil || s.Changed() {
		t.Errorf("second Stage: %+v, %v; want nothing staged", s, err)
	}
	if bins, _ := srv.counts(); bins != 1 {
		t.Errorf("binary requests = %d, want 1", bins)
	}
}

// A staged file is verified each time it is used: a verified leftover of a
// crash is reused without a download, a damaged one is fetched again, and
// one damaged between Stage and Commit is removed, never installed.
func TestStagedLeftovers(t *testing.T) {
	bin := payload(3, 256<<10)
	damage := func(t *testing.T, root host.Root) {
		t.Helper()
		p := stagedPath(root.Path(BinaryPath))
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		data[100] ^= 0xff
		if err := os.WriteFile(p, data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		// between runs on the leftover of an uncommitted Stage
		before func(t *testing.T, root host.Root)
		// between the second Stage and its Commit
		beforeCommit func(t *testing.T, root host.Root)
		wantBins     int
		wantErr      error
	}{
		{name: "verified leftover is reused", wantBins: 1},
		{name: "damaged leftover is fetched again", before: damage, wantBins: 2},
		{name: "damaged before commit is not installed", beforeCommit: damage, wantBins: 1, wantErr: ErrChecksumMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newRelServer(t, bin)
			root := newRoot(t)
			ctx, k := context.Background(), testK3s(srv.URL)
			// A run that staged and then died before its turn.
			if _, err := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions()).Stage(ctx, k, "arm64"); err != nil {
				t.Fatal(err)
			}
			if tc.before != nil {
				tc.before(t, root)
			}
			inst := NewInstaller(root, zaptest.NewLogger(t), host.RealClock{}, testOptions())
			s, err := inst.Stage(ctx, k, "arm64")
			if err != nil || !s.BinaryChanged {
				t.Fatalf("second Stage: %+v, %v; want the binary staged", s, err)
			}
			if tc.beforeCommit != nil {
				tc.beforeCommit(t, root)
			}
			err = s.Commit()
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Commit: %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				assertBinary(t, root, nil) // nothing installed, the damaged file gone
			} else {
				assertBinary(t, root, bin)
			}
			if bins, _ := srv.counts(); bins != tc.wantBins {
				t.Errorf("binary requests = %d, want %d", bins, tc.wantBins)
			}
		})
	}
}

func assertContent(t *testing.T, path string, want []byte) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha(got) != sha(want) {
		t.Errorf("%s: sha %s, want %s", path, sha(got), sha(want))
	}
}
