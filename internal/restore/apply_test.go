package restore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/host"
)

// fakeK3s holds the unit's state and what the reset prints.
type fakeK3s struct {
	active   bool
	resetOut string
	resetErr error
	calls    []string
}

func (f *fakeK3s) Run(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if name == "systemctl" {
		f.active = args[0] == "start"
	}
	return nil, nil
}

func (f *fakeK3s) RunCombined(_ context.Context, name string, args ...string) ([]byte, error) {
	f.calls = append(f.calls, name+" "+strings.Join(args, " "))
	if f.active {
		return nil, errors.New("k3s is running")
	}
	return []byte(f.resetOut), f.resetErr
}

func TestRestorerStages(t *testing.T) {
	done := "INFO[0012] Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes\n"
	s := Snapshot{Path: "/snap/s1"}
	for _, tc := range []struct {
		name       string
		out        string
		err        error
		wantErr    string
		wantCalls  []string
		wantActive bool
		recorded   bool
	}{
		{name: "done", out: done, wantActive: true, recorded: true, wantCalls: []string{
			"systemctl stop k3s.service", "/usr/local/bin/k3s server --cluster-reset --cluster-reset-restore-path=/snap/s1", "systemctl start k3s.service"}},
		{name: "exit 0 without the message", out: "INFO[0000] Starting k3s\n", wantErr: "exited without saying", wantCalls: []string{
			"systemctl stop k3s.service", "/usr/local/bin/k3s server --cluster-reset --cluster-reset-restore-path=/snap/s1"}},
		{name: "failed", out: "FATA etcd: snapshot path does not exist", err: errors.New("exit status 1"), wantErr: "k3s stays stopped", wantCalls: []string{
			"systemctl stop k3s.service", "/usr/local/bin/k3s server --cluster-reset --cluster-reset-restore-path=/snap/s1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeK3s{active: true, resetOut: tc.out, resetErr: tc.err}
			recorded := false
			r := &Restorer{Root: host.NewRoot("/"), Run: f, Log: zaptest.NewLogger(t), Binary: "/usr/local/bin/k3s", Unit: "k3s.service",
				Record: func(context.Context, func(string)) error { recorded = true; return nil }}
			err := r.Restore(context.Background(), s, func(string) {})
			if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Restore = %v, want %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantCalls, f.calls); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
			if f.active != tc.wantActive || recorded != tc.recorded {
				t.Errorf("k3s active %v, recorded %v; want %v, %v", f.active, recorded, tc.wantActive, tc.recorded)
			}
		})
	}
}
