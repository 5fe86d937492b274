package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// joinClient talks to the supervisor named by config `server`.
type joinClient struct {
	base  string
	token string
	http  *http.Client
	log   *zap.Logger
}

// newJoinClient trusts the server's CA the way k3s does when the token is a
// full "K10<sha256 of /cacerts>::..." token; a bare token (what nodeagent
// writes) carries no CA hash, so like k3s with a bare token the first
// connection trusts whatever CA answers and the token authenticates the
// caller only.
func newJoinClient(ctx context.Context, base, token string, log *zap.Logger) (*joinClient, error) {
	c := &joinClient{base: strings.TrimRight(base, "/"), token: token, log: log}
	insecure := &tls.Config{InsecureSkipVerify: true} //nolint:gosec // see above
	c.http = &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{TLSClientConfig: insecure}}
	hash, ok := caHash(token)
	if !ok {
		return c, nil
	}
	ca, err := c.get(ctx, "/cacerts", false)
	if err != nil {
		return nil, err
	}
	if sum := sha256.Sum256(ca); hex.EncodeToString(sum[:]) != hash {
		return nil, fmt.Errorf("CA of %s does not match the token's hash", base)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c.http.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	return c, nil
}

func caHash(token string) (string, bool) {
	rest, ok := strings.CutPrefix(token, "K10")
	if !ok {
		return "", false
	}
	hash, _, ok := strings.Cut(rest, "::")
	return hash, ok
}

func (c *joinClient) get(ctx context.Context, path string, auth bool) ([]byte, error) {
	return c.do(ctx, http.MethodGet, path, nil, auth)
}

func (c *joinClient) do(ctx context.Context, method, path string, body []byte, auth bool) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building request for %s: %w", path, err)
	}
	if auth {
		req.SetBasicAuth("server", c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("requesting %s%s: %w", c.base, path, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading %s%s: %w", c.base, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s%s: %s: %s", c.base, path, resp.Status, strings.TrimSpace(string(data)))
	}
	return data, nil
}

// fetchBootstrap writes the cluster CAs from the existing server, replacing
// local ones: a joiner must share its cluster's authorities.
func (c *joinClient) fetchBootstrap(ctx context.Context, tlsDir string) error {
	data, err := c.get(ctx, "/v1-k3s/server-bootstrap", true)
	if err != nil {
		return err
	}
	var b bootstrapData
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("decoding bootstrap data: %w", err)
	}
	for _, f := range caFiles {
		content, ok := b.Files[f]
		if !ok {
			return fmt.Errorf("bootstrap data lacks %s", f)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f, ".key") {
			mode = 0o600
		}
		if err := writeFile(filepath.Join(tlsDir, f), []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

func (c *joinClient) requestJoin(ctx context.Context, req joinRequest) (joinResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return joinResponse{}, fmt.Errorf("encoding join request: %w", err)
	}
	data, err := c.do(ctx, http.MethodPost, "/v1-k3s/etcd-join", body, true)
	if err != nil {
		return joinResponse{}, err
	}
	var resp joinResponse
	if err := json.Unmarshal(data, &resp); err != nil {
		return joinResponse{}, fmt.Errorf("decoding join response: %w", err)
	}
	return resp, nil
}

// retry calls f until it succeeds or ctx ends, backing off from 1s to 10s.
// Joins are retried without limit, as k3s does, because the server being
// joined may still be starting or promoting an earlier learner.
func retry(ctx context.Context, log *zap.Logger, what string, f func() error) error {
	delay := time.Second
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		log.Info("retrying", zap.String("step", what), zap.Int("attempt", attempt), zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}
