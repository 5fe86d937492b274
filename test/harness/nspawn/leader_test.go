package nspawn

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// writeProc builds a fake /proc with one status file per process.
func writeProc(t *testing.T, procs map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for pid, status := range procs {
		if err := os.MkdirAll(filepath.Join(dir, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, pid, "status"), []byte(status), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindLeader(t *testing.T) {
	tests := []struct {
		name  string
		procs map[string]string
		want  int
	}{
		{
			name: "leader is a grandchild via the outer child",
			procs: map[string]string{
				"100": "Name:\tsystemd-nspawn\nPPid:\t1\nNSpid:\t100\n",
				"101": "Name:\tsystemd-nspawn\nPPid:\t100\nNSpid:\t101\n",
				"102": "Name:\tsystemd\nPPid:\t101\nNSpid:\t102\t1\n",
				"103": "Name:\tjournald\nPPid:\t102\nNSpid:\t103\t20\n",
			},
			want: 102,
		},
		{
			name: "leader is a direct child",
			procs: map[string]string{
				"100": "PPid:\t1\nNSpid:\t100\n",
				"102": "PPid:\t100\nNSpid:\t102\t1\n",
			},
			want: 102,
		},
		{
			name: "another container's init is not ours",
			procs: map[string]string{
				"100": "PPid:\t1\nNSpid:\t100\n",
				"200": "PPid:\t1\nNSpid:\t200\n",
				"202": "PPid:\t200\nNSpid:\t202\t1\n",
			},
			want: 0,
		},
		{
			name:  "not started yet",
			procs: map[string]string{"100": "PPid:\t1\nNSpid:\t100\n", "self": "PPid:\t1\n"},
			want:  0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findLeader(writeProc(t, tt.procs), 100)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("findLeader = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestMachineName(t *testing.T) {
	tests := map[string]string{
		"TestBoot":                    "na-testboot",
		"TestUnits/Type=notify_fails": "na-testunits-type-notify-fails",
		"TestAVeryLongNameThatGoesOnAndOnForeverAndEver/sub": "na-ongnamethatgoesonandonforeverandever-sub",
	}
	for in, want := range tests {
		if got := machineName(in); got != want {
			t.Errorf("machineName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNspawnArgs(t *testing.T) {
	got := nspawnArgs("/tmp/root", Options{
		Name: "n1", PrivateNetwork: true,
		Binds: []Bind{{Host: "/src"}, {Host: "/a", Container: "/b", ReadOnly: true}},
		Args:  []string{"--capability=all"},
	})
	want := []string{
		"--quiet", "--boot", "--register=no", "--keep-unit",
		"--directory=/tmp/root", "--machine=n1", "--console=read-only", "--link-journal=no",
		"--private-network", "--bind=/src:/src", "--bind-ro=/a:/b", "--capability=all",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("nspawnArgs (-want +got):\n%s", diff)
	}
	got = nspawnArgs("/r", Options{Name: "n2", PrivateNetwork: true, NetNSPath: "/run/netns/x"})
	if tail := got[len(got)-2:]; tail[0] != "--network-namespace-path=/run/netns/x" || tail[1] != "--capability=CAP_NET_ADMIN" {
		t.Errorf("nspawnArgs with NetNSPath ends in %q, want the namespace path and CAP_NET_ADMIN (and no --private-network)", tail)
	}
	got = nspawnArgs("/r", Options{Name: "pi4-2-ab12-r1", Hostname: "pi4-2"})
	if !slices.Contains(got, "--hostname=pi4-2") || !slices.Contains(got, "--machine=pi4-2-ab12-r1") {
		t.Errorf("nspawnArgs with a Hostname = %q, want --machine=pi4-2-ab12-r1 and --hostname=pi4-2", got)
	}
	got = nspawnArgs("/r", Options{Name: "n3", Hostname: "n3"})
	if slices.ContainsFunc(got, func(a string) bool { return strings.HasPrefix(a, "--hostname") }) {
		t.Errorf("nspawnArgs with Hostname = Name = %q, want no --hostname (nspawn's default)", got)
	}
}
