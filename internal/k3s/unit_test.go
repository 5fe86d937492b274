package k3s

import (
	"strings"
	"testing"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/test/golden"
)

func TestUnitFileGolden(t *testing.T) {
	for _, role := range []string{config.RoleServer, config.RoleAgent} {
		t.Run(role, func(t *testing.T) {
			got := UnitFile(role)
			golden.Check(t, "unit/"+UnitName(role), got)
			for _, line := range []string{
				"KillMode=process", "Delegate=yes", "LimitNOFILE=1048576", "LimitNPROC=infinity",
				"LimitCORE=infinity", "TasksMax=infinity", "TimeoutStartSec=0", "Restart=always",
				"RestartSec=5s", "ExecStartPre=-/sbin/modprobe br_netfilter", "ExecStartPre=-/sbin/modprobe overlay",
				"Wants=network-online.target", "After=network-online.target", "EnvironmentFile=-/etc/default/%N",
				"WantedBy=multi-user.target", "ExecStart=/usr/local/bin/k3s " + role,
			} {
				if !strings.Contains(string(got), "\n"+line+"\n") {
					t.Errorf("unit lacks %q", line)
				}
			}
		})
	}
}
