package k3s

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/internal/release"
)

// seen is what k3s would read at one event: the sha256 of config.yaml, of
// the binary and of the unit file ("" when absent); Version is the version
// the turn was told the restart installs.
type seen struct{ Event, Config, Binary, Unit, Version string }

// recorder is the restart turn and systemd around the fixture's fake,
// noting what k3s would read at each claim, restart and release.
type recorder struct {
	*FakeServiceManager
	fx     *ensureFixture
	events []seen
	// claim decides the nth claim; nil grants every one.
	claim func(n int) error
	// onClaim runs inside a granted claim (before it returns).
	onClaim func()
	// release decides a release of version; nil grants every one.
	release func(ctx context.Context, version string) error
	// failed holds the versions Fail recorded: a claim of one is refused,
	// as the Lease's record makes it.
	failed map[string]string
	// onRestart runs after the nth restart's view was taken.
	onRestart func(n int)
	restarts  int
}

func newRecorder(fx *ensureFixture) *recorder {
	r := &recorder{FakeServiceManager: fx.svc, fx: fx}
	fx.mgr.services, fx.mgr.turn = r, r
	return r
}

func (r *recorder) view(event string) seen {
	file := func(p string) string {
		data, err := os.ReadFile(r.fx.root.Path(p))
		if err != nil {
			return ""
		}
		return sha(data)
	}
	unit := ""
	if u := r.Units["k3s.service"]; u != nil {
		unit = sha(u)
	}
	return seen{Event: event, Config: file(ConfigPath), Binary: file(release.BinaryPath), Unit: unit}
}

func (r *recorder) claims() int {
	n := 0
	for _, e := range r.events {
		if e.Event == "claim" {
			n++
		}
	}
	return n
}

func (r *recorder) Claim(_ context.Context, version string) error {
	r.events = append(r.events, r.withVersion(r.view("claim"), version))
	if reason, ok := r.failed[version]; ok && version != "" {
		return errors.New("rollout stopped: " + version + " " + reason)
	}
	if r.claim != nil {
		if err := r.claim(r.claims()); err != nil {
			return err
		}
	}
	if r.onClaim != nil {
		r.onClaim()
	}
	return nil
}

func (r *recorder) Release(ctx context.Context, version string) error {
	r.events = append(r.events, r.withVersion(r.view("release"), version))
	if r.release != nil {
		return r.release(ctx, version)
	}
	return nil
}

func (r *recorder) Fail(_ context.Context, version, reason string) error {
	r.events = append(r.events, r.withVersion(r.view("fail"), version))
	if r.failed == nil {
		r.failed = map[string]string{}
	}
	r.failed[version] = reason
	return nil
}

func (r *recorder) withVersion(s seen, version string) seen {
	s.Version = version
	return s
}

func (r *recorder) Restart(ctx context.Context, name string) error {
	r.events = append(r.events, r.view("restart"))
	r.restarts++
	if r.onRestart != nil {
		r.onRestart(r.restarts)
	}
	return r.FakeServiceManager.Restart(ctx, name)
}

// newMemberFixture is the fixture after a first start, now an etcd member
// of the three servers, with a recorder as its turn and systemd.
func newMemberFixture(t *testing.T) (*ensureFixture, *recorder) {
	t.Helper()
	fx := newEnsureFixture(t, 64<<10)
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(fx.root.Path(EtcdMemberMarker), 0o700); err != nil {
		t.Fatal(err)
	}
	return fx, newRecorder(fx)
}

// upgrade makes the cluster file ask for a new k3s release.
func (fx *ensureFixture) upgrade(t *testing.T) {
	t.Helper()
	fx.release(t, "v1.33.6+k3s1", payload(8, 64<<10))
}

// release serves bin as k3s version and makes the cluster file ask for it.
func (fx *ensureFixture) release(t testing.TB, version string, bin []byte) {
	t.Helper()
	fx.cluster.K3s.Version = version
	dir := fx.root.Path("/srv/k3s/" + version)
	mustWrite(t, filepath.Join(dir, "k3s-arm64"), bin, 0o644)
	mustWrite(t, filepath.Join(dir, "sha256sum-arm64.txt"), []byte(sha(bin)+"  k3s-arm64\n"), 0o644)
}

var memberChanges = []struct {
	name   string
	change func(t *testing.T, fx *ensureFixture)
	field  func(seen) string
	// version is what the turn is told the restart installs.
	version string
}{
	{"config", func(_ *testing.T, fx *ensureFixture) { fx.cluster.K3s.ClusterDomain = "home.arpa" }, func(s seen) string { return s.Config }, ""},
	{"binary", func(t *testing.T, fx *ensureFixture) { fx.upgrade(t) }, func(s seen) string { return s.Binary }, "v1.33.6+k3s1"},
	{"unit", func(_ *testing.T, fx *ensureFixture) { fx.svc.Units["k3s.service"] = []byte("# an older unit\n") }, func(s seen) string { return s.Unit }, ""},
}

// An etcd member puts a new config, binary or unit in place only once its
// turn is claimed, and before it restarts: k3s restarted by systemd while
// the turn is awaited comes back with the old files.
func TestMemberChangesOnlyInsideItsTurn(t *testing.T) {
	for _, tc := range memberChanges {
		t.Run(tc.name, func(t *testing.T) {
			fx, rec := newMemberFixture(t)
			tc.change(t, fx)
			before := rec.view("claim")
			res, err := fx.mgr.Ensure(context.Background(), fx.join())
			if err != nil || !res.Restarted {
				t.Fatalf("Ensure: %+v, %v; want restarted", res, err)
			}
			after := rec.view("")
			if tc.field(before) == tc.field(after) {
				t.Fatalf("the %s did not change", tc.name)
			}
			restart, release := after, after
			restart.Event, release.Event = "restart", "release"
			before.Version, release.Version = tc.version, tc.version
			if diff := cmp.Diff([]seen{before, restart, release}, rec.events); diff != "" {
				t.Errorf("what k3s would read at each event (-want +got):\n%s", diff)
			}
		})
	}
}

// A turn not granted (refused, or nodeagent stopped while waiting) changes
// nothing k3s reads; the restart stays pending and the next Ensure makes
// the change in its turn.
func TestMemberTurnNotGranted(t *testing.T) {
	refused := errors.New("pi5 unhealthy")
	for _, claimErr := range []error{refused, context.Canceled} {
		t.Run(claimErr.Error(), func(t *testing.T) {
			fx, rec := newMemberFixture(t)
			for _, c := range memberChanges {
				c.change(t, fx)
			}
			rec.claim = func(n int) error {
				if n == 1 {
					return claimErr
				}
				return nil
			}
			before := rec.view("claim")
			if _, err := fx.mgr.Ensure(context.Background(), fx.join()); !errors.Is(err, claimErr) {
				t.Fatalf("Ensure: %v, want %v", err, claimErr)
			}
			if got := rec.view("claim"); got != before {
				t.Errorf("files changed without the turn: before %+v, after %+v", before, got)
			}
			if !fx.mgr.restartPending() || fx.svc.Restarts["k3s.service"] != 1 {
				t.Errorf("pending %v, restarts %d; want a pending restart, none done", fx.mgr.restartPending(), fx.svc.Restarts["k3s.service"])
			}
			res, err := fx.mgr.Ensure(context.Background(), fx.join())
			want := EnsureResult{BinaryChanged: true, ConfigChanged: true, UnitChanged: true, Restarted: true}
			if err != nil || res != want {
				t.Fatalf("next Ensure: %+v, %v; want %+v", res, err, want)
			}
			before.Version = "v1.33.6+k3s1" // the binary is an upgrade
			if got := []string{rec.events[1].Event, rec.events[2].Event, rec.events[3].Event}; !cmp.Equal(got, []string{"claim", "restart", "release"}) || rec.events[1] != before {
				t.Errorf("events %+v; want claim with the old files, restart, release", rec.events)
			}
			if fx.mgr.restartPending() {
				t.Error("the restart stayed pending after it happened")
			}
		})
	}
}

// A restart that fails after the change was put in place (k3s crashed,
// nodeagent died) leaves the restart pending: the next Ensure, with
// nothing left to change, restarts in its turn.
func TestMemberRestartFailsAfterCommit(t *testing.T) {
	fx, rec := newMemberFixture(t)
	fx.cluster.K3s.ClusterDomain = "home.arpa"
	fx.svc.StartErr = errors.New("exit status 1")
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); err == nil {
		t.Fatal("Ensure succeeded with a failing restart")
	}
	if !fx.mgr.restartPending() {
		t.Fatal("no pending restart after a failed one")
	}
	fx.svc.StartErr = nil
	res, err := fx.mgr.Ensure(context.Background(), fx.join())
	if err != nil || res != (EnsureResult{Restarted: true}) {
		t.Fatalf("next Ensure: %+v, %v; want only a restart", res, err)
	}
	var events []string
	for _, e := range rec.events {
		events = append(events, e.Event)
	}
	if diff := cmp.Diff([]string{"claim", "restart", "claim", "restart", "release"}, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if fx.mgr.restartPending() {
		t.Error("the restart stayed pending after it happened")
	}
}

// A staged binary damaged while the turn was awaited is not installed:
// the commit fails with the old binary in place, and the next Ensure
// stages a verified copy again.
func TestMemberDamagedStagedBinary(t *testing.T) {
	fx, rec := newMemberFixture(t)
	fx.upgrade(t)
	staged := filepath.Join(filepath.Dir(fx.root.Path(release.BinaryPath)), ".k3s.staged")
	rec.onClaim = func() {
		rec.onClaim = nil
		mustWrite(t, staged, []byte("not k3s"), 0o755)
	}
	before := rec.view("")
	if _, err := fx.mgr.Ensure(context.Background(), fx.join()); !errors.Is(err, release.ErrChecksumMismatch) {
		t.Fatalf("Ensure: %v, want %v", err, release.ErrChecksumMismatch)
	}
	if got := rec.view(""); got.Binary != before.Binary || fx.svc.Restarts["k3s.service"] != 1 {
		t.Errorf("binary %s, restarts %d; want the old binary %s, no restart", got.Binary, fx.svc.Restarts["k3s.service"], before.Binary)
	}
	if res, err := fx.mgr.Ensure(context.Background(), fx.join()); err != nil || !res.BinaryChanged || !res.Restarted {
		t.Fatalf("next Ensure: %+v, %v; want the binary replaced", res, err)
	}
	if got := rec.view("").Binary; got != sha(payload(8, 64<<10)) {
		t.Errorf("installed binary sha %s, want the release's", got)
	}
}

// A node with no turn to wait for (first start, agent, single server)
// writes its files, then starts k3s, and never claims a turn.
func TestFirstStartWritesThenStarts(t *testing.T) {
	fx := newEnsureFixture(t, 64<<10)
	rec := newRecorder(fx)
	res, err := fx.mgr.Ensure(context.Background(), fx.join())
	if err != nil || !res.Restarted {
		t.Fatalf("Ensure: %+v, %v", res, err)
	}
	after := rec.view("restart")
	if after.Config == "" || after.Binary == "" || after.Unit == "" {
		t.Fatalf("files missing after the first start: %+v", after)
	}
	if diff := cmp.Diff([]seen{after}, rec.events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
