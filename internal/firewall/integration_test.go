package firewall

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// probeTimeout bounds one connection attempt; a DROPped one takes this long.
const probeTimeout = 600 * time.Millisecond

type reachCheck struct {
	name    string
	from    *testNS
	network string
	addr    string
	// want is whether the policy lets it through.
	want bool
}

func (l *lab) checks() []reachCheck {
	hp := net.JoinHostPort
	return []reachCheck{
		{"ssh from the ssh source", l.client, "tcp", hp(labNode, "22"), true},
		{"ssh from a node that is no ssh source", l.peer, "tcp", hp(labNode, "22"), false},
		{"etcd from the other server", l.peer, "tcp", hp(labNode, "2379"), true},
		{"kubelet from the other node", l.peer, "tcp", hp(labNode, "10250"), true},
		{"kubelet from a LAN host", l.client, "tcp", hp(labNode, "10250"), false},
		{"apiserver from the LAN", l.client, "tcp", hp(labNode, "6443"), true},
		{"vxlan from the other node", l.peer, "udp", hp(labNode, "8472"), true},
		{"vxlan from a LAN host", l.client, "udp", hp(labNode, "8472"), false},
		{"the operator's own rule", l.peer, "tcp", hp(labNode, "9100"), true},
		{"a stale nodeagent rule", l.peer, "tcp", hp(labNode, "5000"), false},
		{"LoadBalancer service port, forwarded to the pod", l.client, "tcp", hp(labLB, labLBPort), true},
		{"LoadBalancer address, port not exposed", l.client, "tcp", hp(labLB, labHidePort), false},
		{"pod to its node", l.pod, "tcp", hp(labPodGW, "10250"), true},
		{"pod egress to the LAN", l.pod, "tcp", hp(labClient, "7000"), true},
	}
}

func (l *lab) serveAll(t *testing.T) {
	for _, port := range []string{"22", "2379", "6443", "10250", "9100", "5000"} {
		serve(t, l.node, "tcp", ":"+port)
	}
	serve(t, l.node, "udp", ":8472")
	serve(t, l.pod, "tcp", ":"+labLBPort)
	serve(t, l.pod, "tcp", ":"+labHidePort)
	serve(t, l.client, "tcp", ":7000")
}

// reachability tries every check at once and reports which got through.
func reachability(checks []reachCheck) map[string]bool {
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := map[string]bool{}
	for _, c := range checks {
		wg.Go(func() {
			err := reach(c.from, c.network, c.addr, probeTimeout)
			mu.Lock()
			got[c.name] = err == nil
			mu.Unlock()
		})
	}
	wg.Wait()
	return got
}

// sshProbe connects to the node's SSH port from the SSH source over and
// over until stop is closed, counting attempts and failures.
type sshProbe struct {
	attempts, failures int
	firstErr           error
}

func runSSHProbe(l *lab, stop <-chan struct{}) <-chan sshProbe {
	done := make(chan sshProbe, 1)
	go func() {
		var p sshProbe
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			err := reach(l.client, "tcp", net.JoinHostPort(labNode, "22"), 2*time.Second)
			p.attempts++
			if err != nil {
				p.failures++
				if p.firstErr == nil {
					p.firstErr = err
				}
			}
			select {
			case <-stop:
				done <- p
				return
			case <-tick.C:
			}
		}
	}()
	return done
}

func TestApplyRealUFW(t *testing.T) {
	requireIntegration(t)
	ctx := context.Background()
	// Start from defaults that let everything in and through, so the run
	// must change them for the blocked checks to be blocked.
	l := newLab(t, map[string]string{"DEFAULT_INPUT_POLICY": "ACCEPT", "DEFAULT_FORWARD_POLICY": "ACCEPT"})
	l.serveAll(t)
	c := labCluster(t)
	node, _ := c.Node("node")
	fw := nsFirewall(t, l.root, l.ufw, zaptest.NewLogger(t))

	// An operator's rule, and a rule an older nodeagent made.
	mustRun(t, l.ufw, "ufw", "allow", "proto", "tcp", "from", labPeer, "to", "any", "port", "9100")
	mustRun(t, l.ufw, "ufw", "allow", "proto", "tcp", "from", labPeer, "to", "any", "port", "5000", "comment", "nodeagent:old")

	allOpen := map[string]bool{}
	want := map[string]bool{}
	for _, ch := range l.checks() {
		allOpen[ch.name] = true
		want[ch.name] = ch.want
	}
	if diff := cmp.Diff(allOpen, reachability(l.checks())); diff != "" {
		t.Fatalf("before the run, with ufw inactive, everything should connect (-want +got):\n%s", diff)
	}

	stop := make(chan struct{})
	probe := runSSHProbe(l, stop)
	res, err := fw.Apply(ctx, c, node)
	close(stop)
	p := <-probe
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	t.Logf("first run: %d ufw changes, %d SSH probes during the run", len(res.Applied), p.attempts)
	if p.failures > 0 || p.attempts < 3 {
		t.Errorf("SSH during the run: %d of %d attempts failed (first: %v); want every attempt, at least 3, to connect",
			p.failures, p.attempts, p.firstErr)
	}
	if diff := cmp.Diff(want, reachability(l.checks())); diff != "" {
		t.Errorf("reachability after the run (-want +got):\n%s", diff)
	}

	st, err := fw.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DesiredDefaults(), st.Defaults); diff != "" || !st.Active {
		t.Errorf("active = %v, defaults (-want +got):\n%s", st.Active, diff)
	}
	if add, remove := Diff(Desired(c, node), st.Rules); len(add)+len(remove) > 0 {
		t.Errorf("after the run, diff still has add %v, remove %v", add, remove)
	}

	t.Run("second run changes nothing", func(t *testing.T) {
		l.ufw.reset()
		res, err := fw.Apply(ctx, c, node)
		if err != nil {
			t.Fatal(err)
		}
		reads, writes := l.ufw.counts()
		if len(res.Applied) != 0 || reads != 1 || writes != 0 {
			t.Errorf("second run: %d changes, %d ufw reads, %d ufw writes; want 0, 1, 0 (applied %v)",
				len(res.Applied), reads, writes, res.Applied)
		}
		step, err := fw.Plan(ctx, c, node)
		if err != nil {
			t.Fatal(err)
		}
		if len(step.Actions) != 0 {
			t.Errorf("plan after the run has actions: %+v", step.Actions)
		}
	})

	// With ufw active and incoming denied, the SSH source moves from one
	// host to the whole LAN: the new rule goes in before the old one goes.
	t.Run("changing the SSH sources keeps SSH open", func(t *testing.T) {
		c.Firewall.SSHSources = []string{labLAN}
		l.ufw.reset()
		stop := make(chan struct{})
		probe := runSSHProbe(l, stop)
		res, err := fw.Apply(ctx, c, node)
		close(stop)
		p := <-probe
		if err != nil {
			t.Fatal(err)
		}
		if p.failures > 0 || p.attempts < 2 {
			t.Errorf("SSH during the run: %d of %d attempts failed (first: %v)", p.failures, p.attempts, p.firstErr)
		}
		var got []string
		for _, ch := range res.Applied {
			got = append(got, ruleArgv(ch.Args))
		}
		want := []string{
			"ufw allow proto tcp from 10.99.0.0/24 to any port 22 comment nodeagent:ssh",
			"ufw delete allow proto tcp from 10.99.0.50 to any port 22",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("applied (-want +got):\n%s", diff)
		}
		if err := reach(l.peer, "tcp", net.JoinHostPort(labNode, "22"), probeTimeout); err != nil {
			t.Errorf("ssh from the peer, now inside an SSH source: %v", err)
		}
	})
}
