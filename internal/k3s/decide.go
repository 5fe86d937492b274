package k3s

import (
	"fmt"
	"strings"
)

// Join is how config.yaml joins the cluster: through Server, or as the
// server that initialises a new cluster (cluster-init). Undecided is the
// plan without network: the decision is taken at join time.
type Join struct {
	ClusterInit bool
	Server      string
	Undecided   bool
}

// PeerState is what one other server's /cacerts said.
type PeerState int

const (
	// PeerUnknown: no answer (timeout, no route, connection refused); it
	// may have a cluster, or be starting the k3s that has one.
	PeerUnknown PeerState = iota
	// PeerNoCluster: a server answered /cacerts without a cluster CA.
	PeerNoCluster
	// PeerHasCluster: /cacerts served a CA bundle, hashed in CAHash.
	PeerHasCluster
)

// PeerAnswer is one configured server's answer.
type PeerAnswer struct {
	Name   string
	URL    string
	State  PeerState
	CAHash string
	Err    error
}

// JoinInput is what the join decision is taken from.
type JoinInput struct {
	// First: this node is the first server of the cluster file, the only
	// one that may ever initialise a cluster.
	First bool
	// Pin is the CA hash the cluster is known to have: the token's (K10
	// form) or the one nodeagent recorded after this node's last join.
	// A pin means a cluster exists, so this node never initialises one.
	Pin, PinFrom string
	// Peers are the other configured servers, in cluster file order.
	Peers []PeerAnswer
	// GraceOver: the first server has waited long enough for peers that do
	// not answer (down, or no k3s listening yet).
	GraceOver bool
}

// JoinDecision is the decision and why, for STATUS and the journal.
type JoinDecision struct {
	Join
	Via    string // the server joined through
	CAHash string // its CA
	// Wait: no decision yet; probe again.
	Wait bool
	// Kept: the node has joined before and keeps its settings; nothing was asked.
	Kept   bool
	Reason string
}

// DecideJoin decides how a server (or agent) that has never joined starts
// k3s. It is pure: the answers come from a CAProber.
//
// Some other server has the cluster: join through the first one in file
// order (only servers whose CA matches the pin count). None has: only the
// first server may initialise one, and only without a pin; it does so at
// once when every other server answered that it has no cluster, and after
// the grace when some do not answer (powered off, slow, or k3s not started
// yet: the brand-new homelab, whose first server so waits once, for the
// grace). Everyone else waits.
//
// Residual risk: with a bare token, a rebuilt first server whose every peer
// stays unreachable for the whole grace creates a second cluster.
// A pinned token (K10<CA hash>::server:<secret>) closes it: a pin proves a
// cluster exists, so a pinned node never initialises.
func DecideJoin(in JoinInput) JoinDecision {
	var mismatch []string
	for _, p := range in.Peers {
		if p.State != PeerHasCluster {
			continue
		}
		if in.Pin != "" && p.CAHash != in.Pin {
			mismatch = append(mismatch, fmt.Sprintf("%s has CA sha256 %s", p.Name, shortHash(p.CAHash)))
			continue
		}
		return JoinDecision{Join: Join{Server: p.URL}, Via: p.Name, CAHash: p.CAHash,
			Reason: fmt.Sprintf("joining through %s: it has the cluster (CA sha256 %s)", p.Name, shortHash(p.CAHash))}
	}
	if in.Pin != "" {
		why := "no server of it answers on " + peerList(in.Peers)
		if len(mismatch) > 0 {
			why = strings.Join(mismatch, ", ") + ", not the pinned one"
		}
		return JoinDecision{Wait: true, Reason: fmt.Sprintf("waiting for a server of the cluster with CA sha256 %s (pinned by the %s; never initialising a second cluster): %s",
			shortHash(in.Pin), in.PinFrom, why)}
	}
	if !in.First {
		return JoinDecision{Wait: true, Reason: "waiting for a server with the cluster (only the first server creates it): no cluster answers on " + peerList(in.Peers)}
	}
	if len(in.Peers) == 0 {
		return JoinDecision{Join: Join{ClusterInit: true}, Reason: "the only server: initialising a new cluster"}
	}
	if silent := unknownPeers(in.Peers); len(silent) > 0 && !in.GraceOver {
		return JoinDecision{Wait: true, Reason: "first server: waiting for " + strings.Join(silent, ", ") +
			" to answer before initialising a new cluster: " + peerList(in.Peers)}
	}
	return JoinDecision{Join: Join{ClusterInit: true},
		Reason: "first server, no cluster answers on " + peerList(in.Peers) + ": initialising a new cluster"}
}

func unknownPeers(peers []PeerAnswer) []string {
	var out []string
	for _, p := range peers {
		if p.State == PeerUnknown {
			out = append(out, p.Name)
		}
	}
	return out
}

// peerList names each peer with what it answered: "pi4-2 (connection refused), pi5".
func peerList(peers []PeerAnswer) string {
	if len(peers) == 0 {
		return "no other server"
	}
	parts := make([]string, 0, len(peers))
	for _, p := range peers {
		if p.Err != nil {
			parts = append(parts, fmt.Sprintf("%s (%v)", p.Name, p.Err))
		} else {
			parts = append(parts, p.Name)
		}
	}
	return strings.Join(parts, ", ")
}
