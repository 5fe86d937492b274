package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// authProxyUser is the CN of the supervisor's client certificate towards
// the apiserver, the only name the apiserver accepts identity headers from
// (k3s's ClientAuthProxyCert and --requestheader-allowed-names).
const authProxyUser = "system:auth-proxy"

// apiProxy is what k3s's supervisor does with every request it does not
// route itself (pkg/server/handlers/router.go: the NotFound handler is the
// apiserver): the apiserver answers it as the caller. k3s hands the
// request to the in-process apiserver's handler, which authenticates the
// client certificate presented on 6443; the stand-in's apiserver runs its
// own listener on <local>:6444, so the supervisor forwards the request there
// with the identity of the client certificate it verified against the
// client CA in the request-header (front-proxy) headers, over its own
// system:auth-proxy certificate. The apiserver's authorizers (Node, RBAC)
// and admission (NodeRestriction) then judge the caller as they would on a
// direct connection. A caller without a client certificate gets no identity
// headers: a bearer token is passed on and judged by the apiserver; anything
// else is anonymous, which the apiserver refuses (401).
func (s *server) apiProxy() (http.Handler, error) {
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(s.paths.tls, name)) }
	ca, err := read("server-ca.crt")
	if err != nil {
		return nil, fmt.Errorf("reading server CA for the API proxy: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	cert, err := tls.LoadX509KeyPair(filepath.Join(s.paths.tls, "client-auth-proxy.crt"),
		filepath.Join(s.paths.tls, "client-auth-proxy.key"))
	if err != nil {
		return nil, fmt.Errorf("loading the API proxy's client certificate: %w", err)
	}
	target := &url.URL{Scheme: "https", Host: net.JoinHostPort(s.env.local, APIServerPort)}
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			setRemoteIdentity(r.Out.Header, r.In)
		},
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
		FlushInterval: -1, // watches stream
		// k3s answers 503 "apiserver not ready" until its apiserver runs
		// (pkg/server/handlers/handlers.go APIServer).
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
			http.Error(w, "apiserver not ready", http.StatusServiceUnavailable)
		},
	}, nil
}

// setRemoteIdentity replaces any identity headers the caller sent (a
// caller must never name itself) with the verified client certificate's
// subject, and drops basic credentials, which only the supervisor's own
// routes accept.
func setRemoteIdentity(h http.Header, in *http.Request) {
	for k := range h {
		if strings.HasPrefix(strings.ToLower(k), "x-remote-") {
			h.Del(k)
		}
	}
	if strings.HasPrefix(strings.ToLower(h.Get("Authorization")), "basic ") {
		h.Del("Authorization")
	}
	u, ok := certUser(in)
	if !ok {
		return
	}
	h.Set("X-Remote-User", u.name)
	for _, g := range u.groups {
		h.Add("X-Remote-Group", g)
	}
}

// certUser is the identity of a client certificate verified against the
// client CA during the handshake (the supervisor asks for one but does not
// require it), as the apiserver's x509 authenticator reads it.
func certUser(r *http.Request) (requestUser, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return requestUser{}, false
	}
	c := r.TLS.VerifiedChains[0][0]
	if c.Subject.CommonName == "" {
		return requestUser{}, false
	}
	return requestUser{name: c.Subject.CommonName, groups: c.Subject.Organization}, true
}
