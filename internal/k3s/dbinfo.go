package k3s

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// ServerCAFile is the CA k3s's supervisor serves its certificate under;
// a cluster reset keeps it.
const ServerCAFile = "/var/lib/rancher/k3s/server/tls/server-ca.crt"

// dbInfoPath is k3s's /db/info: the serving server's etcd member list
// (pkg/etcd/etcd.go, infoHandler), for the "server" user.
const dbInfoPath = "/db/info"

// DBMembers reads the names of the etcd members a server's etcd lists,
// through its supervisor, as a joining k3s server does: the token's secret
// as the "server" user's password, the server verified against caFile.
// It costs one TLS request, so a daemon can ask every minute without an
// etcd client. Errors name the server, never the token.
func DBMembers(ctx context.Context, server, token, caFile string) ([]string, error) {
	secret, err := tokenSecret(token)
	if err != nil {
		return nil, fmt.Errorf("reading the etcd members of %s: the k3s token: %w", server, err)
	}
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the etcd members of %s: %w", server, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("reading the etcd members of %s: %s holds no certificate", server, caFile)
	}
	body, err := supervisorGet(ctx, strings.TrimRight(server, "/")+dbInfoPath, secret, roots, maxBootstrap)
	if err != nil {
		return nil, fmt.Errorf("reading the etcd members of %s: %w", server, err)
	}
	var info struct {
		Members []struct {
			Name string `json:"name"`
		} `json:"members"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return nil, fmt.Errorf("reading the etcd members of %s: %w", server, err)
	}
	names := make([]string, 0, len(info.Members))
	for _, m := range info.Members {
		names = append(names, m.Name)
	}
	return names, nil
}
