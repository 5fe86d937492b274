package uevent

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		msg  string
		want Event
		ok   bool
	}{
		{name: "block partition add", msg: "add@/devices/virtual/block/loop0/loop0p1\x00ACTION=add\x00DEVPATH=/devices/virtual/block/loop0/loop0p1\x00SUBSYSTEM=block\x00MAJOR=259\x00DEVNAME=loop0p1\x00DEVTYPE=partition\x00SEQNUM=4242\x00",
			want: Event{Action: "add", DevPath: "/devices/virtual/block/loop0/loop0p1", Subsystem: "block", DevName: "loop0p1"}, ok: true},
		{name: "usb device add", msg: "add@/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.3\x00ACTION=add\x00DEVPATH=/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.3\x00SUBSYSTEM=usb\x00DEVTYPE=usb_device\x00PRODUCT=10c4/ea60/100\x00SEQNUM=2210\x00",
			want: Event{Action: "add", DevPath: "/devices/platform/scb/fd500000.pcie/usb1/1-1/1-1.3", Subsystem: "usb"}, ok: true},
		{name: "udev re-broadcast", msg: "libudev\x00\xfe\xed\xca\xfe(binary)", ok: false},
		{name: "garbage", msg: "hello", ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Parse([]byte(tt.msg))
			if ok != tt.ok {
				t.Fatalf("ok = %v, want %v", ok, tt.ok)
			}
			if diff := cmp.Diff(tt.want, got); ok && diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

// TestListenRealKernel asks the kernel to re-announce a virtual tty (writing
// "change" to its uevent file) and waits for the signal.
func TestListenRealKernel(t *testing.T) {
	const trigger = "/sys/devices/virtual/tty/ptmx/uevent"
	if f, err := os.OpenFile(trigger, os.O_WRONLY, 0); err != nil {
		if os.Getenv("CI") == "true" || os.Getenv("NODEAGENT_INTEGRATION") == "1" {
			t.Fatalf("cannot trigger a kernel uevent: %v", err)
		}
		t.Skipf("cannot trigger a kernel uevent (needs root): %v", err)
	} else {
		f.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := Listen(ctx, func(ev Event) bool { return ev.Subsystem == "tty" && ev.DevPath == "/devices/virtual/tty/ptmx" })
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trigger, []byte("change"), 0); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal("no signal for the kernel's uevent")
	}
}
