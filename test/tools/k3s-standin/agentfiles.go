package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// What k3s's agent fetches and writes before it starts the kubelet
// (pkg/agent/config/config.go get): the two CAs, its node password, the
// kubelet's client certificate and key, and kubelet.kubeconfig naming the
// agent's load balancer. Every file is written 0600, as k3s writes them.

// ensureNodePasswordFile is k3s's ensureNodePassword: the password in the
// file, or 16 random bytes in hex written once (0600) and kept.
func ensureNodePasswordFile(path string) (string, error) {
	if data, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(data)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("reading node password: %w", err)
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	pass := hex.EncodeToString(b)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return pass, writeFile(path, []byte(pass+"\n"), 0o600)
}

// agentGet is a request as the token's user ("node" for an agent token).
func (c *joinClient) agentGet(ctx context.Context, path string) ([]byte, error) {
	return get(ctx, c.http, c.base+path, c.token.username, c.token.password)
}

// nodeNamedGet is k3s's getNodeNamedCrt: the request names the node and
// carries its password; a 403 is the node password refusal, with k3s's
// message.
func (c *joinClient) nodeNamedGet(ctx context.Context, path, node, pass, passFile string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(c.token.username, c.token.password)
	req.Header.Set(nodeNameHeader, node)
	req.Header.Set(nodePasswordHeader, pass)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	switch resp.StatusCode {
	case http.StatusOK:
		return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	case http.StatusForbidden:
		return nil, fmt.Errorf("Node password rejected, duplicate hostname or contents of '%s' may not match server node-passwd entry, try enabling a unique node name with the --with-node-id flag", passFile) //nolint:staticcheck // k3s's message
	default:
		return nil, fmt.Errorf("%s: %s", c.base+path, resp.Status)
	}
}

// splitCertKeyPEM is k3s's: private keys to one side, certificates to the
// other.
func splitCertKeyPEM(data []byte) (certs, keys []byte) {
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			return certs, keys
		}
		data = rest
		if strings.Contains(b.Type, "PRIVATE KEY") {
			keys = append(keys, pem.EncodeToMemory(b)...)
		} else {
			certs = append(certs, pem.EncodeToMemory(b)...)
		}
	}
}

// writeAgentKubeconfig is k3s's deps.KubeConfig: the CA and the client
// certificate and key by path. serverName is set only when a local test
// moved the load balancer off 127.0.0.1, which the servers' certificates
// name.
func writeAgentKubeconfig(path, server, serverName, ca, crt, key string) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["local"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: ca, TLSServerName: serverName}
	kc.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificate: crt, ClientKey: key}
	kc.Contexts["local"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "user"}
	kc.CurrentContext = "local"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	return writeFile(path, data, 0o600)
}
