package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
	"time"
)

// serverCA is the cluster CA k3s writes on every server.
const serverCA = "/var/lib/rancher/k3s/server/tls/server-ca.crt"

// rebuiltPi42: pi4-2's card is re-flashed while pi4-1 and pi5 run; it
// rejoins under its name, its agent removing the old member itself.
func (sc *scenario) rebuiltPi42(t *testing.T) {
	r := sc.rebuild(t, "pi4-2")
	sc.sum.add("pi4-2 rebuilt", "ok", fmt.Sprintf("3 voters again, member %s replaced %s", r.newMember, r.oldMember))
}

// rebuiltFirst: pi4-1, the first server (the one that initialised the
// cluster), is re-flashed. It must join the cluster the others keep, not
// start a new one: one CA and one member list on all three, a "join
// decided" with cluster_init=false, no object changed.
func (sc *scenario) rebuiltFirst(t *testing.T) {
	r := sc.rebuild(t, "pi4-1")
	sc.checkOneCluster(t)
	checkNeverInitialised(t, sc.h.nodes["pi4-1"])
	sc.sum.add("pi4-1 rebuilt", "ok", fmt.Sprintf("joined the existing cluster (cluster_init=false), member %s replaced %s", r.newMember, r.oldMember))
}

// checkOneCluster: every running server has the same cluster CA and sees
// the same etcd members (IDs and names): a second cluster would have its
// own CA and its own one-member list.
func (sc *scenario) checkOneCluster(t *testing.T) {
	cas, lists := map[string][]string{}, map[string][]string{}
	for _, n := range sc.h.each() {
		data, err := os.ReadFile(n.c.Path(serverCA))
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		sum := sha256.Sum256(data)
		cas[hex.EncodeToString(sum[:])] = append(cas[hex.EncodeToString(sum[:])], n.name)
		st, err := n.status()
		if err != nil {
			t.Fatal(err)
		}
		if st.Etcd == nil {
			t.Fatalf("%s: etcd not readable: %v", n.name, st.Problems)
		}
		var ms []string
		for _, m := range st.Etcd.Members {
			ms = append(ms, fmt.Sprintf("%x=%s", m.ID, m.Name))
		}
		sort.Strings(ms)
		key := strings.Join(ms, " ")
		lists[key] = append(lists[key], n.name)
	}
	if len(cas) != 1 {
		t.Errorf("the servers have %d cluster CAs (sha256 of %s → nodes): %v", len(cas), serverCA, cas)
	}
	if len(lists) != 1 {
		t.Errorf("the servers see %d etcd member lists (members → nodes): %v", len(lists), lists)
	}
}

// checkNeverInitialised: every join decision of n's agent joined through
// another server.
func checkNeverInitialised(t *testing.T, n *node) {
	entries := n.journalUntil(t, "join decided", func(entries []entry) error {
		if len(all(entries, time.Time{}, "join decided")) == 0 {
			return fmt.Errorf("no 'join decided' in %d entries", len(entries))
		}
		return nil
	})
	for _, e := range all(entries, time.Time{}, "join decided") {
		if got := e.Fields["CLUSTER_INIT"]; got != "false" {
			t.Errorf("%s: join decided with cluster_init=%q, want false: %s", n.name, got, e.Message)
		}
	}
}
