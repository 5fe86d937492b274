package k3s

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecideJoin(t *testing.T) {
	silent := func(name string) PeerAnswer {
		return PeerAnswer{Name: name, URL: "u-" + name, State: PeerUnknown, Err: errors.New("i/o timeout")}
	}
	none := func(name string) PeerAnswer {
		return PeerAnswer{Name: name, URL: "u-" + name, State: PeerNoCluster, Err: errors.New("answers /cacerts without a CA certificate")}
	}
	with := func(name, ca string) PeerAnswer {
		return PeerAnswer{Name: name, URL: "u-" + name, State: PeerHasCluster, CAHash: ca}
	}
	tests := []struct {
		name string
		in   JoinInput
		want JoinDecision
	}{
		{"only server", JoinInput{First: true},
			JoinDecision{Join: Join{ClusterInit: true}, Reason: "the only server: initialising a new cluster"}},
		{"first, every peer answers no cluster", JoinInput{First: true, Peers: []PeerAnswer{none("pi4-2"), none("pi5")}},
			JoinDecision{Join: Join{ClusterInit: true}, Reason: "first server, no cluster answers on pi4-2 (answers /cacerts without a CA certificate), pi5 (answers /cacerts without a CA certificate): initialising a new cluster"}},
		{"first, a silent peer within the grace", JoinInput{First: true, Peers: []PeerAnswer{none("pi4-2"), silent("pi5")}},
			JoinDecision{Wait: true, Reason: "first server: waiting for pi5 to answer before initialising a new cluster: pi4-2 (answers /cacerts without a CA certificate), pi5 (i/o timeout)"}},
		{"first, a silent peer after the grace", JoinInput{First: true, GraceOver: true, Peers: []PeerAnswer{silent("pi4-2"), silent("pi5")}},
			JoinDecision{Join: Join{ClusterInit: true}, Reason: "first server, no cluster answers on pi4-2 (i/o timeout), pi5 (i/o timeout): initialising a new cluster"}},
		{"first, a peer has the cluster", JoinInput{First: true, Peers: []PeerAnswer{none("pi4-2"), with("pi5", caA)}},
			JoinDecision{Join: Join{Server: "u-pi5"}, Via: "pi5", CAHash: caA, Reason: "joining through pi5: it has the cluster (CA sha256 aaaaaaaaaaaa…)"}},
		{"config order wins", JoinInput{Peers: []PeerAnswer{with("pi4-1", caA), with("pi4-2", caA)}},
			JoinDecision{Join: Join{Server: "u-pi4-1"}, Via: "pi4-1", CAHash: caA, Reason: "joining through pi4-1: it has the cluster (CA sha256 aaaaaaaaaaaa…)"}},
		{"pinned: another cluster is skipped", JoinInput{Pin: caA, PinFrom: "token", Peers: []PeerAnswer{with("pi4-1", caB), with("pi5", caA)}},
			JoinDecision{Join: Join{Server: "u-pi5"}, Via: "pi5", CAHash: caA, Reason: "joining through pi5: it has the cluster (CA sha256 aaaaaaaaaaaa…)"}},
		{"pinned first server never inits", JoinInput{First: true, GraceOver: true, Pin: caA, PinFrom: "token", Peers: []PeerAnswer{none("pi4-2"), none("pi5")}},
			JoinDecision{Wait: true, Reason: "waiting for a server of the cluster with CA sha256 aaaaaaaaaaaa… (pinned by the token; never initialising a second cluster): no server of it answers on pi4-2 (answers /cacerts without a CA certificate), pi5 (answers /cacerts without a CA certificate)"}},
		{"pinned: only another cluster", JoinInput{Pin: caA, PinFrom: "token", Peers: []PeerAnswer{with("pi4-1", caB), none("pi5")}},
			JoinDecision{Wait: true, Reason: "waiting for a server of the cluster with CA sha256 aaaaaaaaaaaa… (pinned by the token; never initialising a second cluster): pi4-1 has CA sha256 bbbbbbbbbbbb…, not the pinned one"}},
		{"not first, no cluster anywhere", JoinInput{GraceOver: true, Peers: []PeerAnswer{none("pi4-1"), silent("pi4-2")}},
			JoinDecision{Wait: true, Reason: "waiting for a server with the cluster (only the first server creates it): no cluster answers on pi4-1 (answers /cacerts without a CA certificate), pi4-2 (i/o timeout)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, DecideJoin(tc.in)); diff != "" {
				t.Errorf("DecideJoin (-want +got):\n%s", diff)
			}
		})
	}
}
