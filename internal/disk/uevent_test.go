package disk

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseUevent(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Uevent
		ok   bool
	}{
		{name: "kernel add", msg: "add@/devices/virtual/block/loop0/loop0p1\x00ACTION=add\x00DEVPATH=/devices/virtual/block/loop0/loop0p1\x00SUBSYSTEM=block\x00MAJOR=259\x00DEVNAME=loop0p1\x00DEVTYPE=partition\x00SEQNUM=4242\x00",
			want: Uevent{Action: "add", DevPath: "/devices/virtual/block/loop0/loop0p1", Subsystem: "block", DevName: "loop0p1"}, ok: true},
		{name: "udev re-broadcast", msg: "libudev\x00\xfe\xed\xca\xfe(binary)", ok: false},
		{name: "garbage", msg: "hello", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseUevent([]byte(tt.msg))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); ok && diff != "" {
				t.Errorf("ParseUevent (-want +got):\n%s", diff)
			}
		})
	}
}
