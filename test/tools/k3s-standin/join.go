package main

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
)

// joinClient talks to the supervisor named by config `server`, the way
// k3s's pkg/clientaccess/token.go does: /cacerts is fetched once without
// verification, the server certificate is then checked against it, and
// every later request trusts only that CA. A K10 token's hash must match the
// CA; a bare token trusts the first CA with a warning.
type joinClient struct {
	base  string
	token joinToken
	http  *http.Client
}

var errMemberList = errors.New("failed to get MemberList from server")

func newJoinClient(ctx context.Context, server string, token joinToken, log *zap.Logger) (*joinClient, error) {
	return newSupervisorClient(ctx, server, "", token, log)
}

// newSupervisorClient is newJoinClient verifying the server's certificate
// for serverName instead of the URL's host when it is set: an agent talks
// to the servers through its load balancer on <local>:6444, which a
// server's certificate names only when <local> is 127.0.0.1 (k3s's case;
// not when a local test moves it to 127.0.0.x).
func newSupervisorClient(ctx context.Context, server, serverName string, token joinToken, log *zap.Logger) (*joinClient, error) {
	u, err := url.Parse(server)
	if err != nil {
		return nil, fmt.Errorf("invalid server url, failed to parse: %s: %w", server, err)
	}
	if u.Scheme != "https" {
		return nil, fmt.Errorf("only https:// URLs are supported, invalid scheme: %s", server)
	}
	base := strings.TrimRight(u.String(), "/")
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // k3s's first /cacerts fetch
	ca, err := get(ctx, insecure, base+"/cacerts", "", "")
	if err != nil {
		return nil, fmt.Errorf("failed to get CA certs: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	c := &joinClient{base: base, token: token, http: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12}}}}
	if _, err := get(ctx, c.http, base+"/cacerts", "", ""); err != nil {
		return nil, fmt.Errorf("CA cert validation failed: %w", err)
	}
	switch got := hashCA(ca); {
	case token.caHash == "":
		log.Warn("Cluster CA certificate is not trusted by the host CA bundle, but the token does not include a CA hash. " +
			"Use the full token from the server's node-token file to enable Cluster CA validation.")
	case subtle.ConstantTimeCompare([]byte(got), []byte(token.caHash)) != 1:
		return nil, fmt.Errorf("token CA hash does not match the Cluster CA certificate hash: %s != %s", token.caHash, got)
	}
	return c, nil
}

func get(ctx context.Context, client *http.Client, u, user, pass string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s: %s", u, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}

// authGet is a request as the "server" user (cluster.shouldBootstrapLoad
// sets WithUser("server") whatever the token says).
func (c *joinClient) authGet(ctx context.Context, path string) ([]byte, error) {
	return get(ctx, c.http, c.base+path, "server", c.token.password)
}

// fetchBootstrap writes the cluster CAs from the existing server
// (cluster.httpBootstrap, /v1-k3s/server-bootstrap), replacing local ones:
// a joiner must share its cluster's authorities.
func (c *joinClient) fetchBootstrap(ctx context.Context, tlsDir string) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	data, err := c.authGet(ctx, "/v1-k3s/server-bootstrap")
	if err != nil {
		return err
	}
	var b bootstrapData
	if err := json.Unmarshal(data, &b); err != nil {
		return fmt.Errorf("decoding bootstrap data: %w", err)
	}
	for _, f := range caFiles {
		file, ok := b[f.key]
		if !ok {
			return fmt.Errorf("bootstrap data lacks %s", f.key)
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f.path, ".key") {
			mode = 0o600
		}
		if err := writeFile(filepath.Join(tlsDir, f.path), file.Content, mode); err != nil {
			return err
		}
	}
	return nil
}

// members is /db/info: the serving member's etcd MemberList.
func (c *joinClient) members(ctx context.Context) ([]*etcdserverpb.Member, error) {
	data, err := c.authGet(ctx, "/db/info")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errMemberList, err)
	}
	var m dbInfo
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decoding /db/info: %w", err)
	}
	return m.Members, nil
}

// joinEtcd is k3s's join loop (ETCD.Start and ETCD.join in
// pkg/etcd/etcd.go): retried every second while etcd has too many learners
// or is unhealthy or the member list cannot be had; any other error, the
// duplicate node name among them, ends the process.
func (s *server) joinEtcd(ctx context.Context, jc *joinClient, name string) (etcdStart, error) {
	for {
		st, err := s.tryJoin(ctx, jc, name)
		switch {
		case err == nil:
			return st, nil
		case errors.Is(err, rpctypes.ErrTooManyLearners), errors.Is(err, rpctypes.ErrUnhealthy):
			s.log.Info("waiting for other members to finish joining etcd cluster", zap.Error(err))
		case errors.Is(err, errMemberList):
			s.log.Info("waiting to retrieve etcd cluster member list", zap.Error(err))
		default:
			return st, fmt.Errorf("etcd cluster join failed: %w", err)
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

var errDuplicateName = errors.New("duplicate node name found, please use a unique name for this node")

func (s *server) tryJoin(ctx context.Context, jc *joinClient, name string) (etcdStart, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	members, err := jc.members(ctx)
	if err != nil {
		return etcdStart{}, err
	}
	cli, err := newEtcdClient(s.paths, s.joinClientURLs(members), s.log)
	if err != nil {
		return etcdStart{}, err
	}
	defer func() { _ = cli.Close() }()
	peer := "https://" + net.JoinHostPort(s.cfg.NodeIP, "2380")
	add, cluster := true, []string{}
	for _, mem := range members {
		for _, p := range mem.PeerURLs {
			u, err := url.Parse(p)
			if err != nil {
				return etcdStart{}, err
			}
			// An unstarted member has no name; one with our address is us.
			if mem.Name == "" && u.Hostname() == s.cfg.NodeIP {
				mem.Name = name
			}
			if mem.Name == name && u.Hostname() == s.cfg.NodeIP {
				add = false
			}
			cluster = append(cluster, mem.Name+"="+mem.PeerURLs[0])
		}
		if mem.Name != name && memberNodeName(mem.Name) == s.cfg.NodeName {
			// k3s drops the name file so a fixed node name gets a new one.
			if err := os.Remove(s.paths.etcdName); err != nil {
				s.log.Error("failed to remove etcd name file", zap.Error(err))
			}
			return etcdStart{}, errDuplicateName
		}
	}
	if add {
		s.log.Info("adding member to etcd cluster", zap.String("member", name), zap.String("peerURL", peer), zap.Strings("cluster", cluster))
		if _, err := cli.MemberAddAsLearner(ctx, []string{peer}); err != nil {
			return etcdStart{}, err
		}
		cluster = append(cluster, name+"="+peer)
	}
	s.log.Info("starting etcd to join cluster", zap.Strings("members", cluster))
	return etcdStart{state: embed.ClusterStateFlagExisting, initialCluster: strings.Join(cluster, ",")}, nil
}

// joinClientURLs is k3s's ClientURLs: the client URLs of voting members
// other than this node, the server joined first; the local endpoint when
// there are none.
func (s *server) joinClientURLs(members []*etcdserverpb.Member) []string {
	joinHost := ""
	if u, err := url.Parse(s.cfg.Server); err == nil {
		joinHost = u.Hostname()
	}
	var urls []string
	for _, mem := range members {
		self, preferred := false, false
		for _, cu := range mem.ClientURLs {
			if u, err := url.Parse(cu); err == nil {
				switch u.Hostname() {
				case s.cfg.NodeIP:
					self = true
				case joinHost:
					preferred = true
				}
			}
		}
		if mem.IsLearner || self {
			continue
		}
		if preferred {
			urls = append(append([]string{}, mem.ClientURLs...), urls...)
		} else {
			urls = append(urls, mem.ClientURLs...)
		}
	}
	if len(urls) == 0 {
		urls = []string{"https://" + net.JoinHostPort(s.env.local, "2379")}
	}
	return urls
}
