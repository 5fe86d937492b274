package nspawn

import (
	"context"
	"errors"
	"os"
	"testing"
)

func TestStoppedContainerRefusesExec(t *testing.T) {
	exited := make(chan struct{})
	close(exited)
	for name, c := range map[string]*Container{
		"never booted": {name: "n0"},
		"exited":       {name: "n1", leader: os.Getpid(), exited: exited},
	} {
		if _, err := c.Exec(context.Background(), "true"); !errors.Is(err, ErrStopped) {
			t.Errorf("%s: Exec = %v, want ErrStopped (the leader PID may be another process's now)", name, err)
		}
		if err := c.CopyIn("/etc/hostname", "/x"); !errors.Is(err, ErrStopped) {
			t.Errorf("%s: CopyIn = %v, want ErrStopped", name, err)
		}
		if c.Running() {
			t.Errorf("%s: Running = true", name)
		}
	}
}
