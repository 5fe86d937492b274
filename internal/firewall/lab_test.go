package firewall

import (
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
)

// Addresses of the test LAN; they exist only inside the test's namespaces.
const (
	labLAN      = "10.99.0.0/24"
	labNode     = "10.99.0.11"
	labPeer     = "10.99.0.12"
	labThird    = "10.99.0.13"
	labClient   = "10.99.0.50"
	labLB       = "10.99.0.100"
	labPodGW    = "10.42.0.1"
	labPod      = "10.42.0.2"
	labLBPort   = "8081" // filebrowser's service port
	labHidePort = "9999" // DNATed like a service port, but not exposed
)

// lab is a small cluster network: a LAN bridge joining the node under test
// (which runs ufw), a peer node and a client that is on the LAN but not in
// the cluster, plus a pod namespace behind the node as behind cni0.
type lab struct {
	lan, node, peer, client, pod *testNS
	// ufw runs the real ufw inside the node namespace on a private copy of
	// its files under root.
	ufw  *countingRunner
	root host.Root
}

func newLab(t testing.TB, defaults map[string]string) *lab {
	t.Helper()
	run := newExecRunner(t)
	p := uniquePrefix(t)
	l := &lab{lan: newNS(t, run, p+"-lan"), node: newNS(t, run, p+"-node"),
		peer: newNS(t, run, p+"-peer"), client: newNS(t, run, p+"-client"), pod: newNS(t, run, p+"-pod")}
	mustRun(t, run, "ip", "-n", l.lan.name, "link", "add", "br0", "type", "bridge")
	mustRun(t, run, "ip", "-n", l.lan.name, "link", "set", "br0", "up")
	for _, h := range []struct {
		ns   *testNS
		port string
		addr string
	}{{l.node, "vnode", labNode}, {l.peer, "vpeer", labPeer}, {l.client, "vclient", labClient}} {
		mustRun(t, run, "ip", "link", "add", "eth0", "netns", h.ns.name, "type", "veth", "peer", "name", h.port, "netns", l.lan.name)
		mustRun(t, run, "ip", "-n", l.lan.name, "link", "set", h.port, "master", "br0", "up")
		mustRun(t, run, "ip", "-n", h.ns.name, "addr", "add", h.addr+"/24", "dev", "eth0")
		mustRun(t, run, "ip", "-n", h.ns.name, "link", "set", "eth0", "up")
	}
	// The pod, behind cni0 of the node; the node routes and masquerades its
	// egress as flannel does.
	mustRun(t, run, "ip", "link", "add", "cni0", "netns", l.node.name, "type", "veth", "peer", "name", "eth0", "netns", l.pod.name)
	mustRun(t, run, "ip", "-n", l.node.name, "addr", "add", labPodGW+"/24", "dev", "cni0")
	mustRun(t, run, "ip", "-n", l.node.name, "link", "set", "cni0", "up")
	mustRun(t, run, "ip", "-n", l.pod.name, "addr", "add", labPod+"/24", "dev", "eth0")
	mustRun(t, run, "ip", "-n", l.pod.name, "link", "set", "eth0", "up")
	mustRun(t, run, "ip", "-n", l.pod.name, "route", "add", "default", "via", labPodGW)
	l.node.exec(t, run, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
	l.node.exec(t, run, "iptables", "-t", "nat", "-A", "POSTROUTING", "-s", "10.42.0.0/16", "!", "-d", "10.42.0.0/16", "-j", "MASQUERADE")
	// kube-proxy's part: the LoadBalancer address is DNATed to the pod in
	// PREROUTING; MetalLB's part (answering ARP) is the client's route.
	for _, port := range []string{labLBPort, labHidePort} {
		l.node.exec(t, run, "iptables", "-t", "nat", "-A", "PREROUTING", "-d", labLB, "-p", "tcp",
			"--dport", port, "-j", "DNAT", "--to-destination", labPod+":"+port)
	}
	mustRun(t, run, "ip", "-n", l.client.name, "route", "add", labLB+"/32", "via", labNode)
	l.root = ufwRoot(t, run, defaults)
	l.ufw = &countingRunner{inner: &nsRunner{inner: run, ns: l.node, root: l.root}}
	return l
}

// labCluster is the built-in homelab moved onto the lab's addresses, with
// one exposed service (filebrowser) on the lab's LoadBalancer address.
func labCluster(t testing.TB) *config.Cluster {
	t.Helper()
	f, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	c := &f.Cluster
	c.Network.LANCIDR = labLAN
	c.Network.LoadBalancer.Pool = []string{labLB + "/32"}
	c.Network.LoadBalancer.Addresses = map[string]string{"filebrowser": labLB}
	c.Nodes = []config.Node{
		{Name: "node", Address: labNode, Role: config.RoleServer, Arch: "arm64"},
		{Name: "peer", Address: labPeer, Role: config.RoleServer, Arch: "arm64"},
		{Name: "third", Address: labThird, Role: config.RoleServer, Arch: "arm64"},
	}
	c.Firewall.SSHSources = []string{labClient + "/32"}
	c.Firewall.IfMissing = "error"
	return c
}
