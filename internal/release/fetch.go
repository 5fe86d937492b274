package release

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"

	"github.com/nodeagent/nodeagent/internal/host"
)

// maxRetryAfter caps a server's Retry-After so a misconfigured mirror cannot
// park the install for hours; the overall timeout still applies. It stays
// well below the daemon's stall limit (5 minutes without progress).
const maxRetryAfter = 2 * time.Minute

// newHTTPClient builds the retrying client: connection errors, 429 and 5xx
// are retried with exponential backoff and full jitter, honouring
// Retry-After. Timeouts bound each phase of one request; the body is bounded
// by the attempt context of the caller.
func newHTTPClient(log *zap.Logger, o Options) *retryablehttp.Client {
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: o.HeaderTimeout,
		ForceAttemptHTTP2:     true,
		ReadBufferSize:        256 << 10,
		MaxIdleConnsPerHost:   2,
	}
	c := retryablehttp.NewClient()
	c.HTTPClient = &http.Client{Transport: transport, CheckRedirect: refuseDowngrade}
	c.RetryMax = o.Retries
	c.RetryWaitMin = o.RetryWaitMin
	c.RetryWaitMax = o.RetryWaitMax
	c.Backoff = jitterBackoff
	c.CheckRetry = retryPolicy
	c.Logger = zapLeveled{log.Sugar()}
	return c
}

// ErrRedirectDowngrade is a redirect from https to another scheme: the
// checksum file is what makes the binary trusted, so neither may come over
// plain http once https was asked for (issue #22, item 9).
var ErrRedirectDowngrade = errors.New("redirect leaves https")

// maxRedirects is net/http's own default limit, kept.
const maxRedirects = 10

// refuseDowngrade is the client's CheckRedirect: net/http's limit, and no
// step from https to http.
func refuseDowngrade(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	prev := via[len(via)-1]
	if prev.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w: refusing the redirect from %s to %s", ErrRedirectDowngrade, prev.URL.Redacted(), req.URL.Redacted())
	}
	return nil
}

// retryPolicy retries what retryablehttp's propagating policy retries,
// except a refused redirect: it is the same on every attempt.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	host.Progress(ctx) // an attempt came back; a retry waits at most maxRetryAfter
	if errors.Is(err, ErrRedirectDowngrade) {
		return false, err
	}
	return retryablehttp.ErrorPropagatedRetryPolicy(ctx, resp, err)
}

// jitterBackoff is exponential backoff with full jitter (AWS architecture
// blog "Exponential Backoff And Jitter"), so nodes retrying the same mirror
// do not stampede; a 429/503 Retry-After is honoured as a floor.
func jitterBackoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := retryAfter(resp.Header.Get("Retry-After")); ok {
			return min(d, maxRetryAfter)
		}
	}
	return ExpJitter(lo, hi, attempt)
}

// ExpJitter is the wait before retry attempt (0-based): exponential from lo,
// capped at hi, with full jitter.
func ExpJitter(lo, hi time.Duration, attempt int) time.Duration {
	ceil := lo << min(attempt, 20)
	if ceil <= 0 || ceil > hi {
		ceil = hi
	}
	if ceil <= lo {
		return lo
	}
	return lo + rand.N(ceil-lo)
}

// retryAfter parses Retry-After as seconds or an HTTP date.
func retryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}

// zapLeveled adapts zap to retryablehttp's LeveledLogger. Its messages are
// constant strings with key/value pairs, so structure is kept.
type zapLeveled struct{ s *zap.SugaredLogger }

func (z zapLeveled) Error(msg string, kv ...any) { z.s.Warnw(msg, kv...) }
func (z zapLeveled) Info(msg string, kv ...any)  { z.s.Debugw(msg, kv...) }
func (z zapLeveled) Debug(msg string, kv ...any) { z.s.Debugw(msg, kv...) }
func (z zapLeveled) Warn(msg string, kv ...any)  { z.s.Warnw(msg, kv...) }

// readError marks a failure while reading the source body (reset, truncation,
// stall): the whole download is worth another attempt.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// open returns the asset at loc and its size (-1 when unknown): an HTTP GET
// through the retrying client, or a host file for a local release.
func (i *Installer) open(ctx context.Context, loc string, local bool) (io.ReadCloser, int64, error) {
	if local {
		// An air-gap release is trusted as the cluster file is: only a
		// file root alone could have written (host.OpenTrusted).
		f, err := host.OpenTrusted(i.root.Path(loc))
		if err != nil {
			return nil, 0, fmt.Errorf("opening k3s release file: %w", err)
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("opening %s: %w", loc, err)
		}
		return f, st.Size(), nil
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, loc, nil)
	if err != nil {
		return nil, 0, fmt.Errorf("requesting %s: %w", loc, err)
	}
	req.Header.Set("User-Agent", "nodeagent")
	resp, err := i.client.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("downloading %s: %w", loc, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, 0, fmt.Errorf("downloading %s: %w", loc, &StatusError{Code: resp.StatusCode})
	}
	return resp.Body, resp.ContentLength, nil
}

// StatusError is an HTTP answer other than 200 that retrying did not fix.
type StatusError struct{ Code int }

func (e *StatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
}

// readSmall reads a small asset (the checksum file) fully, bounded by limit.
func (i *Installer) readSmall(ctx context.Context, loc string, local bool, limit int64) ([]byte, error) {
	body, _, err := i.open(ctx, loc, local)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", loc, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("reading %s: %w: more than %d bytes", loc, ErrTooLarge, limit)
	}
	return data, nil
}

func isReadError(err error) bool {
	var re *readError
	return errors.As(err, &re)
}
