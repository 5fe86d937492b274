package main

import (
	"os"

	"github.com/coreos/go-systemd/v22/daemon"
)

// notifySocketEnv is systemd's variable for Type=notify services.
const notifySocketEnv = "NOTIFY_SOCKET"

// takeNotifySocket hides NOTIFY_SOCKET from the rest of the process: the
// in-process kube-apiserver sends READY=1 itself as soon as it serves, long
// before etcd membership, CRDs and the Node are in place, which would make
// systemd (and nodeagent after it) go on too early.
func takeNotifySocket() string {
	sock := os.Getenv(notifySocketEnv)
	_ = os.Unsetenv(notifySocketEnv)
	return sock
}

// sdNotify sends state to systemd through the saved socket; false when not
// run by systemd. The variable is set only for the call, after the
// apiserver's own (then silent) notification has passed.
func sdNotify(sock, state string) (bool, error) {
	if sock == "" {
		return false, nil
	}
	if err := os.Setenv(notifySocketEnv, sock); err != nil {
		return false, err
	}
	return daemon.SdNotify(true, state)
}
