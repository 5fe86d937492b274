package k3s

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nodeagent/nodeagent/internal/config"
	"github.com/nodeagent/nodeagent/internal/host"
	"github.com/nodeagent/nodeagent/internal/release"
)

// probeBackoff is the retry schedule of the reachability probe.
type probeBackoff struct {
	min, max, probeTimeout time.Duration
}

var defaultProbeBackoff = probeBackoff{min: time.Second, max: 15 * time.Second, probeTimeout: 5 * time.Second}

// WaitForServer polls <url>/ping until the k3s supervisor answers "pong"
// (served without authentication, pkg/server/router.go) or timeout passes.
// progress, if set, is told of every failed attempt.
//
// TLS verification is off for this probe only: the joining node does not know
// the cluster CA yet (k3s itself fetches /cacerts and checks it against the
// token hash when it joins). The probe sends no secret and trusts nothing it
// reads beyond "something answers pong on :6443".
func WaitForServer(ctx context.Context, url string, timeout time.Duration, progress func(attempt int, err error)) error {
	return waitForServer(ctx, host.RealClock{}, url, timeout, progress, defaultProbeBackoff)
}

// WaitForPredecessor waits for the node that must be up before n joins
// (config.Cluster.JoinPredecessor), for at most k3s.joinTimeout. The first
// server has none and returns at once.
func WaitForPredecessor(ctx context.Context, c *config.Cluster, n config.Node, progress func(attempt int, err error)) error {
	pred, ok := c.JoinPredecessor(n)
	if !ok {
		return nil
	}
	url := "https://" + pred.Address + ":6443"
	if err := WaitForServer(ctx, url, c.K3s.JoinTimeout.Duration, progress); err != nil {
		return fmt.Errorf("%s joins after %s, which is not up: %w", n.Name, pred.Name, err)
	}
	return nil
}

func waitForServer(ctx context.Context, clock host.Clock, url string, timeout time.Duration,
	progress func(int, error), b probeBackoff) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{
		Timeout: b.probeTimeout,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // reachability only, see above
			Proxy:           nil,
		},
	}
	defer client.CloseIdleConnections()
	ping := strings.TrimRight(url, "/") + "/ping"
	var last error // the last real answer, not an attempt cut by the deadline
	for attempt := 1; ; attempt++ {
		err := probe(ctx, client, ping)
		if err == nil {
			return nil
		}
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if progress != nil {
			progress(attempt, err)
		}
		if werr := host.Sleep(ctx, clock, release.ExpJitter(b.min, b.max, attempt-1)); werr != nil {
			if errors.Is(werr, context.DeadlineExceeded) {
				return fmt.Errorf("k3s server %s not answering after %s (%d attempts), last error: %w", url, timeout, attempt, last)
			}
			return fmt.Errorf("waiting for k3s server %s: %w", url, werr)
		}
	}
}

func probe(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "pong" {
		return fmt.Errorf("unexpected answer: HTTP %d %q", resp.StatusCode, body)
	}
	return nil
}
