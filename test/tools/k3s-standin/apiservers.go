package main

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// serveAPIServers is k3s's /v1-k3s/apiservers (pkg/server/handlers
// APIServers): the JSON list of host:port of every apiserver, which an
// agent's load balancer takes as its servers. k3s collects them from the
// "kubernetes" EndpointSlices and from the k3s/apiaddresses key in etcd;
// the stand-in reads the same EndpointSlices (empty in a loopback test,
// where the endpoint reconciler is off) and, for lack of that key, the
// client-URL host of every started etcd member with the supervisor port,
// since every stand-in server runs an apiserver behind its supervisor.
func (s *server) serveAPIServers(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	var addrs []string
	if cs := s.core.Load(); cs != nil {
		list, err := cs.DiscoveryV1().EndpointSlices(metav1.NamespaceDefault).List(ctx,
			metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=kubernetes"})
		if err == nil {
			addrs = append(addrs, sliceAddresses(list.Items)...)
		}
	}
	if m := s.member(); m != nil {
		if list, err := m.cli.MemberList(ctx); err == nil {
			for _, mem := range list.Members {
				for _, cu := range mem.ClientURLs {
					if u, err := url.Parse(cu); err == nil && u.Hostname() != "" {
						addrs = append(addrs, net.JoinHostPort(u.Hostname(), SupervisorPort))
					}
				}
			}
		}
	}
	slices.Sort(addrs)
	writeJSON(w, slices.Compact(addrs))
}

// sliceAddresses is k3s's util.GetAddressesFromSlices: ready endpoint
// addresses. In k3s the "kubernetes" endpoints name the supervisor port
// (6443, which fronts the apiserver); the stand-in's apiserver advertises
// its own 6444, reachable on loopback only, so the supervisor port is
// named instead of the slice's.
func sliceAddresses(items []discoveryv1.EndpointSlice) []string {
	var out []string
	for _, es := range items {
		for _, ep := range es.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, a := range ep.Addresses {
				out = append(out, net.JoinHostPort(a, SupervisorPort))
			}
		}
	}
	return out
}
