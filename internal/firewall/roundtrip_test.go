package firewall

import (
	"context"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"

	"github.com/nodeagent/nodeagent/internal/config"
)

// TestRuleRoundTripRealUFW checks the rule syntax against the real ufw:
// every rule shape nodeagent writes, and every operator rule shape in the
// fixtures, added with AddArgs reads back from ufw's files as the same rule,
// and DeleteArgs removes it (both halves of an IPv4+IPv6 rule).
func TestRuleRoundTripRealUFW(t *testing.T) {
	requireIntegration(t)
	ctx := context.Background()
	root, ufw := ufwHost(t, "-rt")
	fw := nsFirewall(t, root, ufw, zaptest.NewLogger(t))

	c := homelab(t)
	c.Network.TailscaleInterface = "tailscale0"
	c.K3s.FlannelBackend = "wireguard-native"
	c.Firewall.SSHSources = []string{"10.0.0.5/32", "10.0.0.77/24", "2001:DB8::1/64"}
	c.Firewall.ExtraRules = []config.FirewallRule{
		{Port: "60000:60010", Proto: "any", From: "10.0.0.0/24", Comment: "mosh"},
		{Port: "5353", Proto: "any", From: "10.0.0.0/24"},
	}
	n, _ := c.Node("pi4-1")
	c.Network.LoadBalancer.Addresses = nil // the fixtures hold a LoadBalancer rule
	c.Nodes = c.Nodes[:2]                  // one peer shows every per-node rule
	rules := dedupe(append(fixtureRules(t), Desired(c, n)...))

	for _, r := range rules {
		mustRun(t, ufw, "ufw", r.AddArgs()...)
	}
	st, err := fw.Observe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(sortedStrings(rules), sortedStrings(st.Rules)); diff != "" {
		t.Errorf("rules read back from ufw (-added +read):\n%s", diff)
	}
	for _, r := range rules {
		mustRun(t, ufw, "ufw", r.DeleteArgs()...)
	}
	if st, err = fw.Observe(ctx); err != nil || len(st.Rules) != 0 {
		t.Errorf("after deleting every rule, ufw still has %v (err %v)", ruleStrings(st.Rules), err)
	}
}

func sortedStrings(rs []Rule) []string {
	s := ruleStrings(rs)
	sort.Strings(s)
	return s
}
