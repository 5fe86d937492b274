package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.uber.org/zap"
)

// SupervisorPort is k3s's supervisor (and, in real k3s, API proxy) port.
const SupervisorPort = "6443"

// bootstrapData is what a joining server fetches: the shared CAs in k3s's
// format (pkg/bootstrap/bootstrap.go ReadFromDisk), keyed by the field of
// config.ControlRuntimeBootstrap, each with the file's modification time and
// its bytes (base64 in JSON).
type bootstrapData map[string]bootstrapFile

type bootstrapFile struct {
	Timestamp time.Time
	Content   []byte
}

// dbInfo is /db/info: the serving member's etcd MemberList, which joiners
// read (pkg/etcd/etcd.go infoHandler).
type dbInfo struct {
	Members []*etcdserverpb.Member `json:"members"`
}

// startSupervisor serves /ping, /cacerts, the agent routes,
// /v1-k3s/server-bootstrap, /db/info and /db/snapshot on <node-ip>:6443 and
// <local>:6443, with the routes and roles of k3s's
// pkg/server/handlers/router.go and pkg/etcd/etcd.go handler, and proxies
// everything else to the apiserver (apiproxy.go). As in k3s
// (pkg/cluster/cluster.go Start: initClusterAndHTTPS before the managed
// database), it listens before etcd starts.
func (s *server) startSupervisor() (stop func(), err error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.paths.tls, "serving-kube-apiserver.crt"),
		filepath.Join(s.paths.tls, "serving-kube-apiserver.key"))
	if err != nil {
		return nil, fmt.Errorf("loading supervisor certificate: %w", err)
	}
	clientCAs, err := loadPool(filepath.Join(s.paths.tls, "client-ca.crt"))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler: s.supervisorHandler(),
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12,
			// As k3s's listener: a client certificate is asked for, verified
			// against the client CA when given, never required.
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: clientCAs},
		ReadHeaderTimeout: 10 * time.Second,
	}
	var lns []net.Listener
	for _, addr := range uniqueStrings(s.cfg.NodeIP, s.env.local) {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, SupervisorPort))
		if err != nil {
			closeAll(lns)
			return nil, fmt.Errorf("listening for the supervisor: %w", err)
		}
		lns = append(lns, ln)
	}
	for _, ln := range lns {
		go func() {
			if err := srv.ServeTLS(ln, "", ""); !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("supervisor stopped", zap.Error(err))
			}
		}()
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}

// supervisorHandler routes as k3s's pkg/server/handlers/router.go does:
// /ping and /cacerts for anyone; the CA files, the kubelet client
// certificate, readyz and apiservers for agents (the k3s:agent role of the
// "node" user, or system:nodes of a kubelet certificate); the bootstrap
// data, /db/info and /db/snapshot (pkg/etcd/etcd.go handler) for the
// k3s:server role (the "server" user); anything else to the apiserver.
func (s *server) supervisorHandler() http.Handler {
	users := s.cfg.supervisorUsers()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) })
	mux.HandleFunc("GET /cacerts", s.serveCACerts)
	for _, f := range []string{"server-ca.crt", "client-ca.crt"} {
		mux.Handle("/v1-k3s/"+f, s.hasRole(users, agentRoles, s.serveTLSFile(f)))
	}
	mux.Handle("/v1-k3s/server-bootstrap", s.hasRole(users, serverRoles, http.HandlerFunc(s.serveBootstrap)))
	mux.Handle("/db/info", s.isLocalOrHasRole(users, serverRoles, http.HandlerFunc(s.serveDBInfo)))
	mux.Handle("/db/snapshot", s.hasRole(users, serverRoles, http.HandlerFunc(s.snap.serveSnapshot)))
	mux.Handle("/v1-k3s/client-kubelet.crt", s.hasRole(users, agentRoles, http.HandlerFunc(s.serveClientKubeletCert)))
	mux.Handle("/v1-k3s/client-k3s-controller.crt", s.hasRole(users, agentRoles, http.HandlerFunc(s.serveK3sControllerCert)))
	mux.Handle("/v1-k3s/readyz", s.hasRole(users, agentRoles, http.HandlerFunc(s.serveReadyz)))
	mux.Handle("/v1-k3s/apiservers", s.hasRole(users, agentRoles, http.HandlerFunc(s.serveAPIServers)))
	mux.Handle("/", s.apiserverOrUnavailable())
	return mux
}

// apiserverOrUnavailable is the NotFound handler of k3s's router: the
// apiserver (apiproxy.go), or 503 when its proxy cannot be set up.
func (s *server) apiserverOrUnavailable() http.Handler {
	p, err := s.apiProxy()
	if err != nil {
		s.log.Error("the supervisor cannot proxy to the apiserver", zap.Error(err))
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "apiserver not ready", http.StatusServiceUnavailable)
		})
	}
	return p
}

// serveTLSFile is k3s's File handler: 404 over plain HTTP, else the file.
func (s *server) serveTLSFile(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		http.ServeFile(w, r, filepath.Join(s.paths.tls, name))
	})
}

func (s *server) serveCACerts(w http.ResponseWriter, _ *http.Request) {
	data, err := os.ReadFile(filepath.Join(s.paths.tls, "server-ca.crt"))
	if err != nil {
		http.Error(w, "no CA", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write(data)
}

// hasRole is k3s's auth.HasRole (pkg/server/auth/auth.go) with the
// basic-auth password authenticator (pkg/authenticator/basicauth) and the
// client certificates verified against the client CA (a kubelet's
// system:node:<name> in system:nodes opens the agent routes): no
// credentials is 403 "forbidden"; an unknown user or a wrong password 401
// "not authorized"; a user without one of roles 403 "forbidden" (the agent
// token's "node" user at /v1-k3s/server-bootstrap). Bearer tokens are not
// accepted. Basic credentials, when sent, are judged before a certificate.
func (s *server) hasRole(users map[string]supervisorUser, roles []string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, ok := s.basicUser(users, r)
		if !ok {
			http.Error(w, "not authorized", http.StatusUnauthorized)
			return
		}
		if u.name == "" {
			if u, ok = certUser(r); !ok {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
		}
		if !slices.ContainsFunc(roles, func(role string) bool { return slices.Contains(u.groups, role) }) {
			s.log.Warn("rejected request without the role", zap.String("path", r.URL.Path), zap.String("user", u.name))
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r.WithContext(withUser(r.Context(), u)))
	})
}

// basicUser checks basic credentials: the zero user and true when none
// were sent, false when they do not match a user.
func (s *server) basicUser(users map[string]supervisorUser, r *http.Request) (requestUser, bool) {
	name, pass, found := r.BasicAuth()
	if !found {
		return requestUser{}, true
	}
	u, ok := users[name]
	got, want := sha256.Sum256([]byte(pass)), sha256.Sum256([]byte(u.password))
	if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		s.log.Warn("rejected request with invalid credentials", zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
		return requestUser{}, false
	}
	return requestUser{name: name, groups: u.groups}, true
}

// requestUser is the authenticated caller of a supervisor route.
type requestUser struct {
	name   string
	groups []string
}

type userKey struct{}

func withUser(ctx context.Context, u requestUser) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

func userFrom(ctx context.Context) requestUser {
	u, _ := ctx.Value(userKey{}).(requestUser)
	return u
}

// isLocalOrHasRole is k3s's auth.IsLocalOrHasRole: loopback clients
// pass without credentials.
func (s *server) isLocalOrHasRole(users map[string]supervisorUser, roles []string, h http.Handler) http.Handler {
	authed := s.hasRole(users, roles, h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host, _, _ := net.SplitHostPort(r.RemoteAddr); host == "127.0.0.1" || host == "::1" {
			h.ServeHTTP(w, r)
			return
		}
		authed.ServeHTTP(w, r)
	})
}

// serveDBInfo answers the local member list, or 500 while etcd is not
// serving (k3s's infoHandler, whose MemberList fails then).
func (s *server) serveDBInfo(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	m := s.member()
	if m == nil {
		http.Error(w, "failed to get etcd MemberList: etcd datastore is not started", http.StatusInternalServerError)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	list, err := m.cli.MemberList(ctx)
	if err != nil {
		http.Error(w, "failed to get etcd MemberList: "+err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, dbInfo{Members: list.Members})
}

func (s *server) serveBootstrap(w http.ResponseWriter, _ *http.Request) {
	b := bootstrapData{}
	for _, f := range caFiles {
		path := filepath.Join(s.paths.tls, f.path)
		data, err := os.ReadFile(path)
		if err != nil {
			http.Error(w, "bootstrap data incomplete", http.StatusServiceUnavailable)
			return
		}
		info, err := os.Stat(path)
		if err != nil {
			http.Error(w, "bootstrap data incomplete", http.StatusServiceUnavailable)
			return
		}
		b[f.key] = bootstrapFile{Timestamp: info.ModTime(), Content: data}
	}
	writeJSON(w, b)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func uniqueStrings(in ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range in {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		_ = ln.Close()
	}
}
