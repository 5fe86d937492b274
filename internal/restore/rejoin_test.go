package restore

import (
	"errors"
	"testing"
	"time"
)

func TestDecideRejoin(t *testing.T) {
	rec := &Record{Node: "pi4-1", Snapshot: "/snap/s1", Time: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), ClusterID: 0xbeef, Member: "pi4-1-aaaa"}
	restored := PeerView{Name: "pi4-1", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa"}, Record: rec}
	stale := PeerView{Name: "pi5", ClusterID: 0x1234, Members: []string{"pi4-1-aaaa", "pi4-2-bbbb", "pi5-cccc"}}
	down := errors.New("connection refused")
	tests := []struct {
		name string
		in   RejoinInput
		want RejoinAction
		via  string
	}{
		{"no record: never move", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{{Name: "pi4-1", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa"}}, stale}}, RejoinNothing, ""},
		{"record for another cluster ID than ours: move", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{restored, stale}}, RejoinMove, "pi4-1"},
		{"record found while another peer is down: move", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{{Name: "pi5", Err: down}, restored}}, RejoinMove, "pi4-1"},
		{"own member present in the restored cluster: nothing", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{{Name: "pi4-1", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa", "pi4-2-bbbb"}, Record: rec}, stale}}, RejoinNothing, ""},
		{"restored server unreachable: wait", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{{Name: "pi4-1", Err: down}, stale}}, RejoinWait, ""},
		{"record API unreadable: wait", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{{Name: "pi4-1", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa"}, RecordErr: down}}}, RejoinWait, ""},
		{"stale record of an older restore: never move", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{{Name: "pi4-1", ClusterID: 0xcafe, Members: []string{"pi4-1-dddd"}, Record: rec}}}, RejoinNothing, ""},
		{"the restorer itself: nothing", RejoinInput{Self: "pi4-1", Member: "pi4-1-eeee", Joined: true,
			Peers: []PeerView{{Name: "pi4-2", ClusterID: 0xbeef, Members: []string{"pi4-2-ffff"}, Record: rec}}}, RejoinNothing, ""},
		{"no etcd data here: nothing", RejoinInput{Self: "pi4-2", Member: "", Joined: false,
			Peers: []PeerView{restored}}, RejoinNothing, ""},
		{"this server's etcd silent: wait", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true, Local: PeerView{Err: down},
			Peers: []PeerView{restored, stale}}, RejoinWait, ""},
		{"this server's etcd silent, every other server in the restored cluster: move", RejoinInput{Self: "pi5", Member: "pi5-cccc", Joined: true, Local: PeerView{Err: down},
			Peers: []PeerView{{Name: "pi4-1", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa", "pi4-2-new"}, Record: rec},
				{Name: "pi4-2", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa", "pi4-2-new"}, Record: rec}}}, RejoinMove, "pi4-1"},
		{"this server's etcd silent, a peer down: wait", RejoinInput{Self: "pi5", Member: "pi5-cccc", Joined: true, Local: PeerView{Err: down},
			Peers: []PeerView{restored, {Name: "pi4-2", Err: down}}}, RejoinWait, ""},
		{"this server's etcd silent, a peer in another cluster: wait", RejoinInput{Self: "pi5", Member: "pi5-cccc", Joined: true, Local: PeerView{Err: down},
			Peers: []PeerView{restored, {Name: "pi4-2", ClusterID: 0x1234, Members: []string{"pi4-2-bbbb"}}}}, RejoinWait, ""},
		{"this server's etcd silent, the record names this server: wait", RejoinInput{Self: "pi4-1", Member: "pi4-1-old", Joined: true, Local: PeerView{Err: down},
			Peers: []PeerView{{Name: "pi4-2", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa"}, Record: rec}}}, RejoinWait, ""},
		{"this server's etcd silent, no record: wait", RejoinInput{Self: "pi5", Member: "pi5-cccc", Joined: true, Local: PeerView{Err: down},
			Peers: []PeerView{{Name: "pi4-1", ClusterID: 0xbeef, Members: []string{"pi4-1-aaaa"}}}}, RejoinWait, ""},
		{"this cluster restored later than the peer's (a stale partition keeps an old record): nothing", RejoinInput{Self: "pi5", Member: "pi5-new", Joined: true,
			Local: PeerView{ClusterID: 0x7777, Record: &Record{Node: "pi5", Time: rec.Time.Add(time.Hour), ClusterID: 0x7777}},
			Peers: []PeerView{restored}}, RejoinNothing, ""},
		{"this cluster restored earlier than the peer's: move", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Local: PeerView{ClusterID: 0x1234, Record: &Record{Node: "pi5", Time: rec.Time.Add(-time.Hour), ClusterID: 0x1234}},
			Peers: []PeerView{restored, stale}}, RejoinMove, "pi4-1"},
		{"a local record of another cluster does not count: move", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Local: PeerView{ClusterID: 0x1234, Record: &Record{Node: "pi5", Time: rec.Time.Add(time.Hour), ClusterID: 0x9999}},
			Peers: []PeerView{restored, stale}}, RejoinMove, "pi4-1"},
		{"all in one cluster: nothing", RejoinInput{Self: "pi4-2", Member: "pi4-2-bbbb", Joined: true,
			Peers: []PeerView{stale}}, RejoinNothing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DecideRejoin(tt.in)
			if got.Action != tt.want || got.Via != tt.via {
				t.Errorf("DecideRejoin = action %d via %q (%s), want action %d via %q", got.Action, got.Via, got.Reason, tt.want, tt.via)
			}
			if got.Reason == "" {
				t.Error("no reason given")
			}
		})
	}
}

func TestRecordRoundTrip(t *testing.T) {
	r := Record{Node: "pi4-1", Snapshot: "/s", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ClusterID: 0xdeadbeef, Member: "pi4-1-a"}
	got, err := RecordFromData(r.Data())
	if err != nil || got != r {
		t.Fatalf("RecordFromData(Data()) = %+v, %v; want %+v", got, err, r)
	}
	if _, err := RecordFromData(map[string]string{"node": "x", "time": "2026-01-02T03:04:05Z", "clusterID": "0"}); err == nil {
		t.Error("a zero cluster ID was accepted")
	}
}
