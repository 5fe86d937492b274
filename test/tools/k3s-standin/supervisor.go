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
	"strings"
	"time"

	"go.uber.org/zap"
)

// SupervisorPort is k3s's supervisor (and, in real k3s, API proxy) port.
const SupervisorPort = "6443"

// bootstrapData is what a joining server fetches: the shared CAs, keyed by
// their path relative to server/tls.
type bootstrapData struct {
	Files map[string]string `json:"files"`
}

// joinRequest asks an existing server to add the caller as an etcd learner.
type joinRequest struct {
	Name    string `json:"name"`
	PeerURL string `json:"peerURL"`
}

// joinResponse is what the joiner needs to start etcd with
// ClusterState=existing and later promote itself.
type joinResponse struct {
	InitialCluster string   `json:"initialCluster"`
	ClientURLs     []string `json:"clientURLs"`
}

// startSupervisor serves /ping, /cacerts and the join endpoints on
// <node-ip>:6443 and <local>:6443. It does not proxy the Kubernetes API;
// clients use the apiserver on <local>:6444 directly.
func (s *server) startSupervisor() (stop func(), err error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.paths.tls, "serving-kube-apiserver.crt"),
		filepath.Join(s.paths.tls, "serving-kube-apiserver.key"))
	if err != nil {
		return nil, fmt.Errorf("loading supervisor certificate: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("pong")) })
	mux.HandleFunc("GET /cacerts", s.serveCACerts)
	mux.Handle("GET /v1-k3s/server-bootstrap", s.authenticated(s.serveBootstrap))
	mux.Handle("POST /v1-k3s/etcd-join", s.authenticated(s.serveJoin))
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
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

func (s *server) serveCACerts(w http.ResponseWriter, _ *http.Request) {
	data, err := os.ReadFile(filepath.Join(s.paths.tls, "server-ca.crt"))
	if err != nil {
		http.Error(w, "no CA", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write(data)
}

// authenticated accepts the cluster token as HTTP basic auth password (user
// "server", as k3s) or as a bearer token, compared in constant time.
func (s *server) authenticated(h http.HandlerFunc) http.Handler {
	want := sha256.Sum256([]byte(s.cfg.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := "", false
		if _, pass, basic := r.BasicAuth(); basic {
			got, ok = pass, true
		} else if b, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found {
			got, ok = b, true
		}
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			s.log.Warn("rejected unauthenticated request", zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr))
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h(w, r)
	})
}

func (s *server) serveBootstrap(w http.ResponseWriter, _ *http.Request) {
	b := bootstrapData{Files: map[string]string{}}
	for _, f := range caFiles {
		data, err := os.ReadFile(filepath.Join(s.paths.tls, f))
		if err != nil {
			http.Error(w, "bootstrap data incomplete", http.StatusServiceUnavailable)
			return
		}
		b.Files[f] = string(data)
	}
	writeJSON(w, b)
}

func (s *server) serveJoin(w http.ResponseWriter, r *http.Request) {
	var req joinRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Name == "" || req.PeerURL == "" {
		http.Error(w, "bad join request", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	resp, err := s.etcd.addLearner(ctx, req)
	if err != nil {
		s.log.Warn("join refused", zap.String("member", req.Name), zap.Error(err))
		// 503: the joiner retries (too many learners, no leader yet, ...).
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	s.log.Info("added etcd learner", zap.String("member", req.Name), zap.String("peerURL", req.PeerURL))
	writeJSON(w, resp)
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
