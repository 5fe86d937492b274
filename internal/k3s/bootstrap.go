package k3s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// bootstrapPath is where a k3s server gives a joining server the cluster's
// CAs with their keys, for the "server" user of the token
// (pkg/server/handlers/router.go, pkg/bootstrap/bootstrap.go).
const bootstrapPath = "/v1-k3s/server-bootstrap"

// Bounds of the bootstrap fetch: the answer holds a few dozen PEM files.
const (
	bootstrapTimeout = 10 * time.Second
	maxBootstrap     = 1 << 20
)

// Bootstrap is the part of a server's bootstrap data nodeagent uses: the
// etcd server CA and its key, to sign a short-lived etcd client
// certificate in memory. It is never written to disk (k3s writes its own
// copy when it starts).
type Bootstrap struct {
	ETCDServerCA, ETCDServerCAKey []byte
}

// bootstrapFile is one file of k3s's bootstrap answer: a JSON object keyed
// by the field names of ControlRuntimeBootstrap
// (pkg/daemons/config/types.go), each {"Timestamp", "Content"}, Content
// being the file's bytes (base64, as Go encodes []byte).
type bootstrapFile struct {
	Timestamp string
	Content   []byte
}

// ErrCAMismatch is a server whose CA is not the one the join decided on.
var ErrCAMismatch = errors.New("the server's CA is not the cluster's")

// FetchBootstrap fetches the bootstrap data from the supervisor at server
// (https://<addr>:6443) with the token's secret as the "server" user's
// password. The server is verified against the cluster CA: its /cacerts
// must hash to caHash (the join decision's), and that bundle is the only
// root the bootstrap request trusts. Errors name the server, never the
// token.
func FetchBootstrap(ctx context.Context, server, token, caHash string) (Bootstrap, error) {
	secret, err := tokenSecret(token)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("fetching the bootstrap data from %s: the k3s token: %w", server, err)
	}
	server = strings.TrimRight(server, "/")
	ca, err := NewHTTPCAProber(bootstrapTimeout).get(ctx, server+"/cacerts")
	if err != nil {
		return Bootstrap{}, fmt.Errorf("fetching the CA of %s: %w", server, unwrapURL(err))
	}
	if got := CAHash(ca); !isCABundle(ca) || got != strings.ToLower(caHash) {
		return Bootstrap{}, fmt.Errorf("fetching the bootstrap data from %s: it serves CA sha256 %s, want %s: %w",
			server, shortHash(got), shortHash(caHash), ErrCAMismatch)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	body, err := getBootstrap(ctx, server, secret, roots)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("fetching the bootstrap data from %s: %w", server, err)
	}
	b, err := parseBootstrap(body)
	if err != nil {
		return Bootstrap{}, fmt.Errorf("%s: %w", server, err)
	}
	return b, nil
}

func getBootstrap(ctx context.Context, server, secret string, roots *x509.CertPool) ([]byte, error) {
	return supervisorGet(ctx, server+bootstrapPath, secret, roots, maxBootstrap)
}

// supervisorGet is an authenticated GET of the supervisor as the "server"
// user, the server verified against roots.
func supervisorGet(ctx context.Context, url, secret string, roots *x509.CertPool, limit int64) ([]byte, error) {
	client := &http.Client{
		Timeout: bootstrapTimeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			Proxy:             nil,
			DisableKeepAlives: true,
		},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(tokenUser, secret)
	resp, err := client.Do(req)
	if err != nil {
		return nil, unwrapURL(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return body, nil
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("HTTP %d: the server refuses the token (not this cluster's, or not a server token)", resp.StatusCode)
	}
	return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
}

// parseBootstrap reads the etcd server CA and key out of the answer.
func parseBootstrap(body []byte) (Bootstrap, error) {
	var files map[string]bootstrapFile
	if err := json.Unmarshal(body, &files); err != nil {
		return Bootstrap{}, fmt.Errorf("reading the bootstrap data: %w", err)
	}
	var b Bootstrap
	// k3s keys the files by field name (bootstrap.ReadFromDisk); matched
	// without case, as encoding/json matches struct fields.
	for k, f := range files {
		switch {
		case strings.EqualFold(k, "ETCDServerCA"):
			b.ETCDServerCA = f.Content
		case strings.EqualFold(k, "ETCDServerCAKey"):
			b.ETCDServerCAKey = f.Content
		}
	}
	var missing []string
	if len(b.ETCDServerCA) == 0 {
		missing = append(missing, "ETCDServerCA")
	}
	if len(b.ETCDServerCAKey) == 0 {
		missing = append(missing, "ETCDServerCAKey")
	}
	if len(missing) > 0 {
		return Bootstrap{}, fmt.Errorf("reading the bootstrap data: no %s in it", strings.Join(missing, " nor "))
	}
	return b, nil
}
