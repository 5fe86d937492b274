package main

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// TestSupervisorAgentToken follows k3s's supervisor routes and users
// (pkg/server/handlers/router.go, pkg/daemons/control/deps/deps.go
// genUsers): the agent token's "node" user opens the agent routes and is
// refused the bootstrap data, which holds the cluster's CA keys; the
// "server" user gets the bootstrap data and not the agent routes. Without
// agent-token, "node" has the server password.
func TestSupervisorAgentToken(t *testing.T) {
	type req struct{ user, pass, path string }
	const ca, boot = "/v1-k3s/server-ca.crt", "/v1-k3s/server-bootstrap"
	for _, tc := range []struct {
		name       string
		agentToken string
		want       map[req]int
	}{{
		name:       "agent-token set",
		agentToken: "agent-pw",
		want: map[req]int{
			{"node", "agent-pw", boot}: http.StatusForbidden,
			{"node", "agent-pw", ca}:   http.StatusOK,
			{"node", "s3cret", ca}:     http.StatusUnauthorized,
			{"server", "agent-pw", ca}: http.StatusUnauthorized,
			{"server", "s3cret", boot}: http.StatusOK,
			{"server", "s3cret", ca}:   http.StatusForbidden,
			{"", "", boot}:             http.StatusForbidden,
		},
	}, {
		name: "no agent-token",
		want: map[req]int{
			{"node", "s3cret", ca}:     http.StatusOK,
			{"node", "s3cret", boot}:   http.StatusForbidden,
			{"server", "s3cret", boot}: http.StatusOK,
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
			if err := createCAs(p.tls); err != nil {
				t.Fatal(err)
			}
			s := &server{cfg: &config{Token: "s3cret", AgentToken: tc.agentToken}, paths: p, log: zaptest.NewLogger(t)}
			ts := httptest.NewTLSServer(s.supervisorHandler())
			defer ts.Close()
			client := ts.Client()
			client.Transport.(*http.Transport).TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // test server
			got := map[req]int{}
			for r := range tc.want {
				hr, err := http.NewRequest(http.MethodGet, ts.URL+r.path, nil)
				if err != nil {
					t.Fatal(err)
				}
				if r.user != "" {
					hr.SetBasicAuth(r.user, r.pass)
				}
				resp, err := client.Do(hr)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got[r] = resp.StatusCode
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("status codes (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWriteAgentTokenFile: server/agent-token is K10<CA hash>::node:<agent
// token>, mode 0600, and absent without agent-token.
func TestWriteAgentTokenFile(t *testing.T) {
	p := env{root: t.TempDir(), local: "127.0.0.1"}.paths()
	if err := createCAs(p.tls); err != nil {
		t.Fatal(err)
	}
	if err := writeAgentTokenFile(p, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := parseTokenFile(p.agentToken); err == nil {
		t.Fatal("server/agent-token written without agent-token")
	}
	if err := writeAgentTokenFile(p, "agent-pw"); err != nil {
		t.Fatal(err)
	}
	tok, err := parseTokenFile(p.agentToken)
	if err != nil {
		t.Fatal(err)
	}
	if tok.username != "node" || tok.password != "agent-pw" || len(tok.caHash) != caHashLength {
		t.Errorf("server/agent-token = %+v; want the node user, the agent password and a CA hash", tok)
	}
}

// parseTokenFile reads a token file written with mode 0600.
func parseTokenFile(path string) (joinToken, error) {
	st, err := os.Stat(path)
	if err != nil {
		return joinToken{}, err
	}
	if st.Mode().Perm() != 0o600 {
		return joinToken{}, fmt.Errorf("%s has mode %o, want 0600", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return joinToken{}, err
	}
	return parseToken(strings.TrimSpace(string(data)))
}
