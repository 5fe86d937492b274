package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net"
	"path/filepath"
)

// ensureNodeCerts writes this server's own certificates, signed by the shared
// CAs, with k3s's file names. Existing files are kept across restarts.
func (s *server) ensureNodeCerts() error {
	nodeIP := net.ParseIP(s.cfg.NodeIP)
	local := net.ParseIP(s.env.local)
	ips := uniqueIPs(net.ParseIP("127.0.0.1"), local, nodeIP, net.ParseIP(s.cfg.AdvertiseAddress))
	dns := []string{"localhost", s.cfg.NodeName}
	svcIP, err := firstServiceIP(s.cfg.ServiceCIDR)
	if err != nil {
		return err
	}
	apiDNS := append([]string{"kubernetes", "kubernetes.default", "kubernetes.default.svc",
		"kubernetes.default.svc." + s.cfg.ClusterDomain}, dns...)
	apiIPs := append([]net.IP{svcIP}, ips...)
	for _, san := range s.cfg.TLSSAN {
		if ip := net.ParseIP(san); ip != nil {
			apiIPs = append(apiIPs, ip)
		} else {
			apiDNS = append(apiDNS, san)
		}
	}
	if err := ensureAuthProxyCA(s.paths.tls); err != nil {
		return err
	}
	for _, l := range []leaf{
		{file: "etcd/server-client", ca: "etcd/server-ca", cn: "etcd-server", server: true, dns: dns, ips: ips},
		{file: "etcd/peer-server-client", ca: "etcd/peer-ca", cn: "etcd-peer", server: true, dns: dns, ips: ips},
		{file: "etcd/client", ca: "etcd/server-ca", cn: "etcd-client"},
		{file: "serving-kube-apiserver", ca: "server-ca", cn: "kube-apiserver", server: true, dns: apiDNS, ips: uniqueIPs(apiIPs...)},
		{file: "client-admin", ca: "client-ca", cn: "system:admin", orgs: []string{"system:masters"}},
		// Shared by every agent's k3s controller (k3scontroller.go).
		{file: "client-k3s-controller", ca: "client-ca", cn: k3sControllerUser},
		// The supervisor's proxy to the apiserver (apiproxy.go), as k3s's
		// ClientAuthProxyCert.
		{file: "client-auth-proxy", ca: "request-header-ca", cn: authProxyUser},
		// The embedded scheduler's and controller-manager's identities
		// (k3s's deps.go ClientSchedulerCert, ClientControllerCert).
		{file: "client-scheduler", ca: "client-ca", cn: "system:kube-scheduler"},
		{file: "client-controller", ca: "client-ca", cn: "system:kube-controller-manager"},
		// The server's own kubelet, as the node it is (k3s's agent on a
		// server fetches agent/client-kubelet.crt from its own
		// supervisor): agent/, next to server/tls.
		{file: "../../agent/client-kubelet", ca: "client-ca", cn: "system:node:" + s.cfg.NodeName, orgs: []string{"system:nodes"}},
	} {
		if err := ensureLeaf(s.paths.tls, l); err != nil {
			return err
		}
	}
	return ensureKeyFile(filepath.Join(s.paths.tls, "client-kubelet.key"))
}

// ensureAuthProxyCA makes the request-header CA on a server whose data
// predates it (an older stand-in's cluster): a new cluster makes it in
// createCAs and a joiner takes it from the bootstrap data, as k3s's
// RequestHeaderCA.
func ensureAuthProxyCA(tlsDir string) error {
	crt := filepath.Join(tlsDir, "request-header-ca.crt")
	if exists(crt) {
		return nil
	}
	return writeCA(crt, filepath.Join(tlsDir, "request-header-ca.key"), "k3s-request-header-ca")
}

// ensureKeyFile writes a new private key at path unless one exists: k3s's
// shared ClientKubeletKey (pkg/daemons/control/deps/deps.go), which the
// supervisor sends with each kubelet client certificate it signs.
func ensureKeyFile(path string) error {
	if exists(path) {
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating %s: %w", path, err)
	}
	return writeKey(path, key)
}

func uniqueIPs(ips ...net.IP) []net.IP {
	var out []net.IP
	seen := map[string]bool{}
	for _, ip := range ips {
		if ip != nil && !seen[ip.String()] {
			seen[ip.String()] = true
			out = append(out, ip)
		}
	}
	return out
}

// firstServiceIP is the ClusterIP of the "kubernetes" Service, which the
// apiserver's serving certificate must name.
func firstServiceIP(cidr string) (net.IP, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return nil, fmt.Errorf("service-cidr %q: %w", cidr, err)
	}
	ip := make(net.IP, len(n.IP))
	copy(ip, n.IP)
	ip[len(ip)-1]++
	return ip, nil
}
