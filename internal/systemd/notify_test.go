package systemd

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

func TestChildEnv(t *testing.T) {
	in := []string{
		"PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "WATCHDOG_USEC=30000000",
		"WATCHDOG_PID=1", "LISTEN_FDS=1", "HOME=/root", "NOTIFY_SOCKETX=keep",
	}
	want := []string{"PATH=/usr/bin", "HOME=/root", "NOTIFY_SOCKETX=keep"}
	if diff := cmp.Diff(want, ChildEnv(in)); diff != "" {
		t.Errorf("ChildEnv (-want +got):\n%s", diff)
	}
}

// TestNotifier sends through a real datagram socket, as systemd receives.
func TestNotifier(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)

	n := NewNotifier(zaptest.NewLogger(t))
	sends := []func() error{
		n.Ready, n.Watchdog, n.Stopping,
		func() error { return n.Status("joining\ncluster") },
	}
	for _, send := range sends {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"READY=1", "WATCHDOG=1", "STOPPING=1", "STATUS=joining cluster"}
	var got []string
	buf := make([]byte, 512)
	for range want {
		if err := conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		k, err := conn.Read(buf)
		if err != nil {
			t.Fatalf("reading notification: %v", err)
		}
		got = append(got, string(buf[:k]))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("notifications (-want +got):\n%s", diff)
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if err := NewNotifier(zaptest.NewLogger(t)).Ready(); err != nil {
		t.Errorf("Ready() outside systemd = %v, want nil", err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	tests := []struct {
		name string
		usec string
		pid  string
		want time.Duration
	}{
		{"no watchdog", "", "", 0},
		{"half of WatchdogSec", "20000000", "self", 10 * time.Second},
		{"meant for another process", "20000000", "1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WATCHDOG_USEC", tt.usec)
			pid := tt.pid
			if pid == "self" {
				pid = strconv.Itoa(os.Getpid())
			}
			t.Setenv("WATCHDOG_PID", pid)
			got, err := WatchdogInterval()
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("WatchdogInterval() = %s, want %s", got, tt.want)
			}
		})
	}
}
