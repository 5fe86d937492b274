package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	snapshotv3 "go.etcd.io/etcd/etcdutl/v3/snapshot"
)

const snapshotsDir = "var/lib/rancher/k3s/server/db/snapshots"

// snapshotFiles lists the snapshot dir of in.
func snapshotFiles(t *testing.T, in *instance) []string {
	t.Helper()
	entries, err := os.ReadDir(in.path(snapshotsDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// savedSnapshot runs `k3s etcd-snapshot save args...` on in and returns the
// name of the snapshot it reports saved, checking it against
// <name>-<node>-<unix seconds> taken while the command ran.
func savedSnapshot(t *testing.T, bin string, in *instance, name string, args ...string) (snap, stderr string) {
	t.Helper()
	before := time.Now().Add(-time.Second).Unix()
	_, stderr, code := in.run(t, bin, append([]string{"etcd-snapshot", "save"}, args...)...)
	after := time.Now().Add(time.Second).Unix()
	if code != 0 {
		t.Fatalf("etcd-snapshot save %v: exit %d\n%s", args, code, stderr)
	}
	m := regexp.MustCompile(`Snapshot (` + regexp.QuoteMeta(name) + `-` + in.name + `-(\d+)) saved\.`).FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("etcd-snapshot save output lacks \"Snapshot %s-%s-<unix> saved.\":\n%s", name, in.name, stderr)
	}
	ts, _ := strconv.ParseInt(m[2], 10, 64)
	if ts < before || ts > after {
		t.Errorf("snapshot time %d outside [%d, %d]", ts, before, after)
	}
	path := filepath.Join(in.path(snapshotsDir), m[1])
	if st, err := snapshotv3.NewV3(nil).Status(path); err != nil || st.Revision < 2 {
		t.Errorf("%s is not an etcd snapshot with data: %+v, %v", path, st, err)
	}
	return m[1], stderr
}

// TestSnapshotSaveRetention runs one server and checks `k3s etcd-snapshot
// save` (file name, etcd's format, no .part left), the retention of the
// name prefix, `ls`, the scheduled snapshots and their retention, that etcd-s3
// keys are accepted without their values in the log, and the refusals of
// command-line arguments.
func TestSnapshotSaveRetention(t *testing.T) {
	requireIntegration(t)
	bin := standinBinary(t)
	cfg := serverConfig("s1", "127.0.0.2", "") + "etcd-snapshot-retention: 2\n" +
		"etcd-snapshot-schedule-cron: \"@every 3s\"\netcd-s3: true\netcd-s3-bucket: b\netcd-s3-secret-key: TOPSECRET-S3\n"
	s1 := newInstance(t, "s1", "127.0.0.2", cfg)
	s1.start(t, bin)
	t.Logf("s1: start to READY=1 %.1fs", s1.waitReady(t, 3*time.Minute).Seconds())

	t.Run("save and retention", func(t *testing.T) {
		dir := s1.path(snapshotsDir)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"keep-s1-1000000000", "keep-s1-1000000001", "other-s1-1000000000"} {
			if err := os.WriteFile(filepath.Join(dir, f), []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		snap, stderr := savedSnapshot(t, bin, s1, "keep", "--name", "keep")
		t.Logf("etcd-snapshot save: %.1fs", time.Since(start).Seconds())
		if !strings.Contains(stderr, "Snapshot keep-s1-1000000000 deleted.") {
			t.Errorf("save output lacks the pruned snapshot:\n%s", stderr)
		}
		files := snapshotFiles(t, s1)
		for _, want := range []string{snap, "keep-s1-1000000001", "other-s1-1000000000"} {
			if !slices.Contains(files, want) {
				t.Errorf("snapshot dir lacks %s: %v", want, files)
			}
		}
		for _, f := range files {
			if f == "keep-s1-1000000000" || strings.HasSuffix(f, ".part") {
				t.Errorf("snapshot dir holds %s: %v", f, files)
			}
		}
		out, stderr, code := s1.run(t, bin, "etcd-snapshot", "ls")
		line := regexp.MustCompile(`(?m)^` + snap + ` +file://` + regexp.QuoteMeta(filepath.Join(dir, snap)) + ` +\d+ +\S+$`)
		if code != 0 || !strings.HasPrefix(out, "Name") || !line.MatchString(out) {
			t.Errorf("etcd-snapshot ls: exit %d\n%s\n%s", code, out, stderr)
		}
	})

	t.Run("scheduled snapshots", func(t *testing.T) {
		re := regexp.MustCompile(`^etcd-snapshot-s1-\d+$`)
		poll(t, "scheduled snapshots pruned to the retention", 30*time.Second, func() error {
			var got []string
			for _, f := range snapshotFiles(t, s1) {
				if re.MatchString(f) {
					got = append(got, f)
				}
			}
			if len(got) != 2 || !logHas(t, s1, "Removing local snapshot "+filepath.Join(s1.path(snapshotsDir), "etcd-snapshot-s1-")) {
				return fmt.Errorf("scheduled snapshots %v, want 2 after one was pruned", got)
			}
			return nil
		})
	})

	t.Run("s3 keys", func(t *testing.T) {
		if !logHas(t, s1, "does not upload snapshots to S3") {
			t.Errorf("no log line saying that S3 is not used:\n%s", s1.logTail())
		}
		data, _ := os.ReadFile(s1.path("stderr.log"))
		if strings.Contains(string(data), "TOPSECRET-S3") {
			t.Error("the server log holds the S3 secret key")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"etcd-snapshot", "save", "extra"}, "etcd-snapshot save: argument"},
			{[]string{"etcd-snapshot", "delete", "x"}, "not supported by the k3s test stand-in"},
			{[]string{"server", "--cluster-reset-restore-path=/x"}, "invalid flag use; --cluster-reset required with --cluster-reset-restore-path"},
			{[]string{"server", "--cluster-reset", "--token=x"}, "command-line flags other than"},
		} {
			_, stderr, code := s1.run(t, bin, c.args...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("%v: exit %d, want 1 with %q:\n%s", c.args, code, c.want, stderr)
			}
		}
	})
	if err := s1.stop(t, syscall.SIGTERM, 2*time.Minute); err != nil {
		t.Errorf("s1: exit after SIGTERM: %v", err)
	}
}

// TestClusterResetRestore walks k3s's documented restore of a three-server
// cluster: an object, `etcd-snapshot save`, the object deleted and another
// created, all servers stopped; on s1 the refusals of a missing restore path
// and of a directory, then `server --cluster-reset
// --cluster-reset-restore-path=<snapshot>` (k3s's message, exit 0, the old
// etcd dir moved aside, the reset-flag), the refusal of a second reset
// without a restore path; s1 started normally runs the restored data as a
// one-member cluster; s2 started on its old data is refused by etcd (cluster
// ID mismatch); s2 and s3 with server/db moved aside join it again.
func TestClusterResetRestore(t *testing.T) {
	requireIntegration(t)
	bin := standinBinary(t)
	s1 := newInstance(t, "s1", "127.0.0.2", serverConfig("s1", "127.0.0.2", ""))
	s2 := newInstance(t, "s2", "127.0.0.3", serverConfig("s2", "127.0.0.3", "127.0.0.2"))
	s3 := newInstance(t, "s3", "127.0.0.4", serverConfig("s3", "127.0.0.4", "127.0.0.2"))
	ins := []*instance{s1, s2, s3}
	s1.start(t, bin)
	s1.waitReady(t, 3*time.Minute)
	s2.start(t, bin)
	s3.start(t, bin)
	s2.waitReady(t, 3*time.Minute)
	s3.waitReady(t, 3*time.Minute)

	s1.kubectl(t, "create", "configmap", "before-snapshot", "--from-literal=k=v")
	snap, _ := savedSnapshot(t, bin, s1, "on-demand")
	snapPath := filepath.Join(s1.path(snapshotsDir), snap)
	s2.kubectl(t, "delete", "configmap", "before-snapshot")
	s2.kubectl(t, "create", "configmap", "after-snapshot")
	// s3 leaves with quorum; the last two are killed (etcd without quorum
	// takes ~45 s to stop, and a restore replaces their data anyway).
	if err := s3.stop(t, syscall.SIGTERM, 2*time.Minute); err != nil {
		t.Fatalf("s3: exit after SIGTERM: %v", err)
	}
	_ = s2.stop(t, syscall.SIGKILL, time.Minute)
	_ = s1.stop(t, syscall.SIGKILL, time.Minute)

	etcdDir := s1.path("var/lib/rancher/k3s/server/db/etcd")
	t.Run("refusals before the reset", func(t *testing.T) {
		for _, c := range []struct{ path, want string }{
			{s1.path("missing-snapshot"), "etcd: snapshot path does not exist: " + s1.path("missing-snapshot")},
			{s1.path(snapshotsDir), "etcd: snapshot path must be a file, not a directory"},
		} {
			_, stderr, code := s1.run(t, bin, "server", "--cluster-reset", "--cluster-reset-restore-path="+c.path)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("restore path %s: exit %d, want 1 with %q\n%s", c.path, code, c.want, stderr)
			}
		}
		if !hasEtcdData(envWithRoot(s1.root).paths()) {
			t.Errorf("%s lost its etcd data to a refused reset", etcdDir)
		}
	})

	t.Run("cluster reset with restore", func(t *testing.T) {
		start := time.Now()
		_, stderr, code := s1.run(t, bin, "server", "--cluster-reset", "--cluster-reset-restore-path="+snapPath)
		t.Logf("cluster reset: %.1fs", time.Since(start).Seconds())
		if code != 0 || !strings.Contains(stderr, resetDoneMessage) {
			t.Fatalf("cluster reset: exit %d, want 0 with %q\n%s", code, resetDoneMessage, stderr)
		}
		old, _ := filepath.Glob(etcdDir + "-old-*")
		if len(old) != 1 || !strings.Contains(stderr, "Pre-restore etcd database moved to "+old[0]) {
			t.Errorf("old etcd dirs %v; want one, named in the log", old)
		}
		if _, err := os.Stat(s1.path("var/lib/rancher/k3s/server/db/reset-flag")); err != nil {
			t.Errorf("reset-flag: %v", err)
		}
		_, stderr, code = s1.run(t, bin, "server", "--cluster-reset")
		if want := "Managed etcd cluster membership was previously reset"; code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("second reset without a restore path: exit %d, want 1 with %q\n%s", code, want, stderr)
		}
	})

	t.Run("restored server alone", func(t *testing.T) {
		s1.start(t, bin)
		t.Logf("s1: restored start to READY=1 %.1fs", s1.waitReady(t, 3*time.Minute).Seconds())
		if _, err := os.Stat(s1.path("var/lib/rancher/k3s/server/db/reset-flag")); !os.IsNotExist(err) {
			t.Errorf("reset-flag after a normal start: %v, want it removed", err)
		}
		s1.kubectl(t, "get", "configmap", "before-snapshot")
		if err := s1.kubectlErr("get", "configmap", "after-snapshot"); err == nil {
			t.Error("after-snapshot exists after restoring the snapshot taken before it")
		}
		roles := memberRoles(t, s1)
		if len(roles) != 1 {
			t.Fatalf("members after the reset: %v, want s1 alone", roles)
		}
		for name, role := range roles {
			if memberNodeName(name) != "s1" || role != "voter" {
				t.Errorf("member %s %s, want s1's voter", name, role)
			}
		}
	})

	// etcd's restore makes a new cluster ID (k3s passes no initial-cluster
	// token), so a peer started on its old data is refused by the restored
	// member, and never counts as its member.
	t.Run("old peer refused", func(t *testing.T) {
		before, err := os.ReadFile(s1.path("stderr.log"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(before), "cluster ID mismatch") {
			t.Fatal("s1 logged a cluster ID mismatch before s2 started")
		}
		s2.start(t, bin)
		poll(t, "s1 refusing s2's old cluster ID", time.Minute, func() error {
			if !logHas(t, s1, "request cluster ID mismatch") {
				return fmt.Errorf("s1 has not logged etcd's cluster ID mismatch")
			}
			return nil
		})
		if s2.readyYet() {
			t.Error("s2 on its old data sent READY=1")
		}
		if roles := memberRoles(t, s1); len(roles) != 1 {
			t.Errorf("members with s2 on its old data: %v, want s1 alone", roles)
		}
		_ = s2.stop(t, syscall.SIGKILL, time.Minute)
	})

	t.Run("peers rejoin with server/db moved aside", func(t *testing.T) {
		for _, in := range []*instance{s2, s3} {
			db := in.path("var/lib/rancher/k3s/server/db")
			if err := os.Rename(db, db+"-before-restore"); err != nil {
				t.Fatal(err)
			}
			in.start(t, bin)
			t.Logf("%s: rejoin to READY=1 %.1fs", in.name, in.waitReady(t, 3*time.Minute).Seconds())
		}
		checkVoters(t, s1, ins)
		for _, in := range ins {
			in.kubectl(t, "get", "configmap", "before-snapshot")
		}
	})
}

// envWithRoot is the stand-in's env of an instance's root.
func envWithRoot(root string) env { return env{root: root, local: "127.0.0.1"} }
