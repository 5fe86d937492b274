package k3s

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// SupervisorPort is where the k3s supervisor listens (pkg/server/handlers/router.go).
const SupervisorPort = "6443"

// SupervisorURL is the supervisor of the server at addr.
func SupervisorURL(addr string) string {
	return "https://" + net.JoinHostPort(addr, SupervisorPort)
}

// CAProber asks one k3s server which cluster CA it has. The join decision
// (DecideJoin) sees servers only through it, so it is tested without network.
type CAProber interface {
	ProbeCA(ctx context.Context, url string) PeerAnswer
}

// HTTPCAProber fetches <url>/cacerts, which the supervisor serves without
// authentication as soon as the CAs are known, before etcd starts
// (pkg/server/handlers/router.go, pkg/cluster/cluster.go Start). A server
// that serves a PEM certificate bundle there has a cluster.
//
// TLS verification is off for this request, as for k3s's own first /cacerts
// fetch (pkg/clientaccess/token.go): the CA is what is asked for. Nothing is
// sent and nothing read is trusted beyond its hash, which a pinned token or
// the recorded CA is compared with.
type HTTPCAProber struct {
	client *http.Client
}

// maxCABundle bounds the bundle read; k3s's is one certificate.
const maxCABundle = 64 << 10

// NewHTTPCAProber returns a prober whose every request ends after timeout.
func NewHTTPCAProber(timeout time.Duration) *HTTPCAProber {
	return &HTTPCAProber{client: &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the CA is what is fetched, see above
			Proxy:             nil,
			DisableKeepAlives: true,
		},
	}}
}

// ProbeCA asks the server at url for its CA bundle.
func (p *HTTPCAProber) ProbeCA(ctx context.Context, url string) PeerAnswer {
	a := PeerAnswer{URL: url}
	body, err := p.get(ctx, strings.TrimRight(url, "/")+"/cacerts")
	switch {
	case err == nil && isCABundle(body):
		a.State, a.CAHash = PeerHasCluster, CAHash(body)
	case err == nil:
		a.State, a.Err = PeerNoCluster, errors.New("answers /cacerts without a CA certificate")
	case errors.Is(err, syscall.ECONNREFUSED):
		// The host is up but no k3s listens yet: one that has the cluster
		// may still be starting (a power cut boots all servers at once), so
		// this is no proof that it has none.
		a.State, a.Err = PeerUnknown, errors.New("connection refused")
	case errors.Is(err, errNoCA):
		a.State, a.Err = PeerNoCluster, err
	default:
		a.State, a.Err = PeerUnknown, unwrapURL(err)
	}
	return a
}

var errNoCA = errors.New("no CA served")

// unwrapURL drops the method and URL net/http puts in front of an error:
// the peer is named by the caller.
func unwrapURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func (p *HTTPCAProber) get(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxCABundle))
	if err != nil {
		return nil, fmt.Errorf("reading /cacerts: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d", errNoCA, resp.StatusCode)
	}
	return body, nil
}

// isCABundle reports whether body is PEM holding certificates only.
func isCABundle(body []byte) bool {
	rest, n := bytes.TrimSpace(body), 0
	for len(rest) > 0 {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil || b.Type != "CERTIFICATE" {
			return false
		}
		n++
		rest = bytes.TrimSpace(rest)
	}
	return n > 0
}
