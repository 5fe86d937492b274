package deb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nodeagent/nodeagent/test/harness/nspawn"
)

// The two versions built for the upgrade.
const (
	oldVersion = "0.1.0"
	newVersion = "0.1.1"
)

// pkgState is what the steps of TestDebianPackage hand each other.
type pkgState struct {
	debs    map[string]string // version -> host path of the .deb
	before  map[string]string // file list before the install
	token   string
	agentTk string // the agent token
	cluster string // the edited cluster file, as installed
}

func TestDebianPackage(t *testing.T) {
	requireHost(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	st := &pkgState{debs: map[string]string{}}
	dir := t.TempDir()
	for _, v := range []string{oldVersion, newVersion} {
		start := time.Now()
		deb, err := buildDeb(ctx, dir, v)
		if err != nil {
			t.Fatal(err)
		}
		if v == oldVersion {
			// The old package is laid out as before 0.2: the homelab as the
			// active conffile, so the upgrade covers dropping it.
			if err := legacyDeb(ctx, deb, deb+".legacy"); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(deb+".legacy", deb); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("built %s in %s", filepath.Base(deb), time.Since(start).Round(100*time.Millisecond))
		st.debs[v] = deb
	}
	// lintian takes ~15 s: run it while the container does its work.
	type lintResult struct {
		errs []string
		out  string
		err  error
	}
	lint := make(chan lintResult, 1)
	go func() {
		errs, out, err := lintianProblems(ctx, st.debs[newVersion])
		lint <- lintResult{errs, out, err}
	}()

	name := "na-deb-" + randomHex(t, 2)
	n := node{Container: nspawn.Boot(t, nspawn.Options{Name: name, PrivateNetwork: true}), t: t}
	for _, v := range []string{oldVersion, newVersion} {
		if err := n.CopyIn(st.debs[v], "/tmp/"+filepath.Base(st.debs[v])); err != nil {
			t.Fatal(err)
		}
	}
	// Each step starts from where the one before left the container; a
	// failed step stops the rest unless it only measured (report).
	steps := []struct {
		name   string
		run    func(*testing.T, node, *pkgState)
		report bool
	}{
		{"install", testInstall, false},
		{"a hostname without its address changes nothing", testNotThisNode, false},
		{"configure and start", testConfigure, false},
		{"journal fields without the token", testJournal, true},
		{"idle daemon", testIdle, true},
		{"watchdog restarts a hung daemon", testWatchdog, false},
		{"upgrade keeps the cluster file", testUpgrade, false},
		{"purge leaves nothing behind", testPurge, false},
		{"the upgrade drops an unedited homelab file", testUpgradeUnedited, false},
		{"purge again leaves nothing behind", testPurge, false},
		{"purge puts the firewall back as it was", testPurgeUndoesTheFirewall, false},
		// Last, so it covers the watchdog's goroutine dump and the upgrade.
		{"the token never reached the journal", testNoTokenInJournal, true},
	}
	for _, s := range steps {
		if !t.Run(s.name, func(t *testing.T) { s.run(t, node{n.Container, t}, st) }) && !s.report {
			t.FailNow()
		}
	}
	t.Run("lintian", func(t *testing.T) {
		r := <-lint
		if r.err != nil {
			t.Fatal(r.err)
		}
		if len(r.errs) > 0 {
			t.Errorf("lintian reports errors or warnings:\n%s", strings.Join(r.errs, "\n"))
		}
		t.Logf("lintian:\n%s", r.out)
	})
}

func testInstall(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	// The empty k3s release directory of the cluster file is the admin's,
	// so it belongs to the world before the install.
	n.sh(ctx, "mkdir -p /srv/k3s-release")
	// A Raspberry Pi's kernel command line, which nodeagent edits only on a
	// node it is sure to be.
	n.sh(ctx, "mkdir -p /boot/firmware && echo '"+piCmdline+"' >/boot/firmware/cmdline.txt")
	st.before = n.fileList(ctx)
	out, err := n.Exec(ctx, "dpkg", "-i", "/tmp/"+filepath.Base(st.debs[oldVersion]))
	if err != nil {
		t.Fatalf("dpkg -i: %v\n%s", err, out)
	}
	if got := n.sh(ctx, "dpkg-query -W -f '${Status} ${Version}' nodeagent"); got != "install ok installed "+oldVersion {
		t.Errorf("dpkg-query = %q, want installed %s", got, oldVersion)
	}
	if got := n.sh(ctx, "stat -c %a /"); got != "755\n" {
		t.Errorf("mode of / after the install = %q, want 755", got)
	}
	if got := n.sh(ctx, "systemctl is-enabled nodeagent.service || true"); got != "enabled\n" {
		t.Errorf("systemctl is-enabled = %q, want enabled", got)
	}
	for _, f := range []string{"/usr/lib/nodeagent/nodeagentd", "/usr/share/man/man1/nodeagent.1.gz", "/usr/share/man/man1/nodeagent-join.1.gz", "/usr/share/bash-completion/completions/nodeagent"} {
		if got := n.sh(ctx, "dpkg -S "+f+" 2>&1 || true"); got != "nodeagent: "+f+"\n" {
			t.Errorf("dpkg -S %s = %q, want it shipped by nodeagent", f, got)
		}
	}
}

// testConfigure puts the test cluster file over the packaged one (so the
// conffile is edited, as on every real node) and the token, restarts the
// daemon, and checks it is active with a STATUS.
func testConfigure(t *testing.T, n node, st *pkgState) {
	ctx := context.Background()
	st.token = randomHex(t, 32)
	tmp := t.TempDir()
	token := filepath.Join(tmp, "token")
	if err := os.WriteFile(token, []byte(st.token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.CopyIn(token, "/etc/nodeagent/token"); err != nil {
		t.Fatal(err)
	}
	st.agentTk = randomHex(t, 32)
	agentToken := filepath.Join(tmp, "agent-token")
	if err := os.WriteFile(agentToken, []byte(st.agentTk+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := n.CopyIn(agentToken, "/etc/nodeagent/agent-token"); err != nil {
		t.Fatal(err)
	}
	st.cluster = renderCluster(t, n.Name(), false)
	cluster := filepath.Join(tmp, "cluster.yaml")
	if err := os.WriteFile(cluster, []byte(st.cluster), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := n.CopyIn(cluster, "/etc/nodeagent/cluster.yaml"); err != nil {
		t.Fatal(err)
	}
	n.sh(ctx, "nodeagent validate")
	// Type=notify: restart returns once READY=1 arrived (or fails).
	n.sh(ctx, "systemctl restart nodeagent.service")
	// The file names this machine by hostname, but its address is not here
	// yet (as before a late DHCP lease): the daemon waits for it ...
	waiting := "waiting for 10.0.0.11 (node " + n.Name() + ", by hostname) on a local interface"
	n.waitUnit(ctx, "the daemon waiting for its address", 30*time.Second, func(m map[string]string) bool {
		return m["StatusText"] == waiting
	}, "StatusText")
	// ... and goes on by itself once the address appears (netlink). A veth
	// pair inside the container: this kernel has no dummy interfaces.
	n.sh(ctx, "ip link add lan0 type veth peer name lan0-peer && ip addr add 10.0.0.11/24 dev lan0 && ip link set lan0 up && ip link set lan0-peer up")
	props := n.waitUnit(ctx, "a STATUS past the address wait", 30*time.Second, func(m map[string]string) bool {
		return m["StatusText"] != "" && m["StatusText"] != waiting
	}, "ActiveState", "SubState", "StatusText", "UnitFileState", "MainPID")
	want := map[string]string{"ActiveState": "active", "SubState": "running", "UnitFileState": "enabled"}
	got := map[string]string{"ActiveState": props["ActiveState"], "SubState": props["SubState"], "UnitFileState": props["UnitFileState"]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("unit state (-want +got):\n%s", diff)
	}
	// The STATUS moves on between the two commands; any text will do.
	status := n.sh(ctx, "systemctl status --no-pager -l nodeagent.service || true")
	if !regexp.MustCompile(`(?m)^ +Status: ".+"$`).MatchString(status) {
		t.Errorf("systemctl status shows no STATUS line:\n%s", status)
	}
	t.Logf("STATUS: %s", props["StatusText"])
}

// renderCluster is testdata/cluster.yaml.tmpl for the node named node.
func renderCluster(t *testing.T, node string, firewall bool) string {
	t.Helper()
	tmpl, err := template.ParseFiles("testdata/cluster.yaml.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, struct {
		Node     string
		Firewall bool
	}{node, firewall}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
