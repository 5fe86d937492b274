package agent

import (
	"strings"
	"testing"
)

// A re-flashed agent: k3s-agent retries the configuration while the
// servers refuse its new node password, and says so in its journal as
// k3s does; the advice names the node and the command that frees its name.
func TestRefusedNodePasswordIsRecognised(t *testing.T) {
	refused := []string{
		`{"level":"info","msg":"Running load balancer","listen":"127.0.0.1:6444"}`,
		`{"level":"info","msg":"Waiting to retrieve agent configuration; server is not ready","error":"/var/lib/rancher/k3s/agent/client-kubelet.crt: Node password rejected, duplicate hostname or contents of '/etc/rancher/node/password' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag"}`,
	}
	if !refusesPassword(refused) {
		t.Error("the refusal in k3s-agent's journal not recognised")
	}
	for _, lines := range [][]string{nil, refused[:1], {`{"msg":"Waiting to retrieve agent configuration; server is not ready","error":"connection refused"}`}} {
		if refusesPassword(lines) {
			t.Errorf("refusal seen in %q", lines)
		}
	}
	advice := refusedPasswordAdvice("pi4-3")
	if !strings.Contains(advice, "`nodeagent remove-node pi4-3`") || !strings.Contains(advice, "a Pi named pi4-3 joined before") {
		t.Errorf("advice %q: want the node named and remove-node", advice)
	}
}
