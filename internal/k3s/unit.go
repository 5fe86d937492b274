package k3s

import (
	"context"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
)

// ServiceManager installs and runs systemd units. internal/systemd
// implements it over D-Bus; FakeServiceManager stands in for unit tests.
type ServiceManager interface {
	// InstallUnit writes /etc/systemd/system/<name> (0644) and reloads
	// systemd when the content changed.
	InstallUnit(ctx context.Context, name string, content []byte) (changed bool, err error)
	// InstalledUnit returns the unit file as installed, nil when there is
	// none, so a change can be held back until the restart turn.
	InstalledUnit(name string) ([]byte, error)
	Enable(ctx context.Context, name string) (changed bool, err error)
	Start(ctx context.Context, name string) error
	Restart(ctx context.Context, name string) error
	// WaitActive waits until the unit is active; its error carries the unit
	// state and the last journal lines.
	WaitActive(ctx context.Context, name string, timeout time.Duration) error
}

// UnitName is the unit of a role, named as the official install script does
// so docs, k3s-killall.sh and muscle memory still apply.
func UnitName(role string) string {
	if role == config.RoleAgent {
		return "k3s-agent.service"
	}
	return "k3s.service"
}

// UnitFile returns the systemd unit for role, equivalent to the one the
// official install script writes (install.sh create_systemd_service_file).
// All settings come from config.yaml, so ExecStart has no flags and the
// token never appears in argv. As in install.sh, the server is Type=notify
// (it reports READY when the apiserver is up) and the agent Type=exec.
func UnitFile(role string) []byte {
	cmd, typ := "server", "notify"
	if role == config.RoleAgent {
		cmd, typ = "agent", "exec"
	}
	r := strings.NewReplacer("@TYPE@", typ, "@CMD@", cmd)
	return []byte(r.Replace(unitTemplate))
}

const unitTemplate = `# Written by nodeagent; equivalent to the unit of the k3s install script.
[Unit]
Description=Lightweight Kubernetes
Documentation=https://k3s.io
Wants=network-online.target
After=network-online.target

[Install]
WantedBy=multi-user.target

[Service]
Type=@TYPE@
EnvironmentFile=-/etc/default/%N
EnvironmentFile=-/etc/sysconfig/%N
KillMode=process
Delegate=yes
User=root
# Having non-zero Limit*s causes performance problems due to accounting overhead
# in the kernel. We recommend using cgroups to do container-local accounting.
LimitNOFILE=1048576
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
TimeoutStartSec=0
Restart=always
RestartSec=5s
ExecStartPre=-/sbin/modprobe br_netfilter
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/local/bin/k3s @CMD@
`
