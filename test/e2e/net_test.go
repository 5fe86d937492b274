package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// The test subnet. Nothing is ever sent outside it: the bridge lives in a
// namespace of the test's own and has no route anywhere else.
const (
	subnetCIDR   = "10.77.0.0/24"
	subnetPrefix = 24
	serverAddr   = "10.77.0.1"
	releasePort  = "8080"
	// nodeIface is the name of the node's veth end inside its container:
	// eth0, as on a Pi, so the cluster file is the one a Pi would get.
	nodeIface = "eth0"
)

// lab is the run's network: one bridge namespace plus one namespace per node,
// all named with the run's random id so parallel runs never collide.
type lab struct {
	id     string
	bridge string // netns of the bridge and the release server
}

// newLab creates the bridge namespace with br0 up at serverAddr.
func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{id: randomHex(t, 3)}
	l.bridge = "na-e2e-" + l.id + "-br"
	addNetns(t, l.bridge)
	run(t, "ip", "-n", l.bridge, "link", "set", "lo", "up")
	run(t, "ip", "-n", l.bridge, "link", "add", "br0", "type", "bridge")
	run(t, "ip", "-n", l.bridge, "addr", "add", fmt.Sprintf("%s/%d", serverAddr, subnetPrefix), "dev", "br0")
	run(t, "ip", "-n", l.bridge, "link", "set", "br0", "up")
	return l
}

// addNode creates the node's namespace and a veth pair whose node end is
// eth0 with addr, and whose bridge end is enslaved to br0. It returns the
// namespace path for nspawn.
func (l *lab) addNode(t *testing.T, name, addr string) string {
	t.Helper()
	ns := "na-e2e-" + l.id + "-" + name
	addNetns(t, ns)
	// Interface names are at most 15 bytes: "v" + id + index keeps them short.
	peer := "v" + l.id + strings.ReplaceAll(name, "-", "")
	if len(peer) > 15 {
		peer = peer[:15]
	}
	run(t, "ip", "-n", l.bridge, "link", "add", peer, "type", "veth", "peer", "name", nodeIface, "netns", ns)
	run(t, "ip", "-n", l.bridge, "link", "set", peer, "master", "br0")
	run(t, "ip", "-n", l.bridge, "link", "set", peer, "up")
	run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	run(t, "ip", "-n", ns, "addr", "add", fmt.Sprintf("%s/%d", addr, subnetPrefix), "dev", nodeIface)
	run(t, "ip", "-n", ns, "link", "set", nodeIface, "up")
	return "/run/netns/" + ns
}

// addNetns creates a named namespace and deletes it in t.Cleanup (which
// also removes the veth ends inside it).
func addNetns(t *testing.T, ns string) {
	t.Helper()
	run(t, "ip", "netns", "add", ns)
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
			t.Errorf("deleting netns %s: %v: %s", ns, err, out)
		}
	})
}

// run runs a host command of the test's setup and fails the test on error.
func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("running %s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
