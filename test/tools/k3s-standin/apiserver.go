package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/spf13/pflag"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	logsapi "k8s.io/component-base/logs/api/v1"
	_ "k8s.io/component-base/logs/json/register"          // as upstream's main
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // as upstream's main
	_ "k8s.io/component-base/metrics/prometheus/version"  // as upstream's main
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
	"k8s.io/kubernetes/cmd/kube-apiserver/app/options"
)

// APIServerPort is where k3s runs its kube-apiserver behind the 6443 proxy.
const APIServerPort = "6444"

// apiserverArgs are the kube-apiserver flags, close to the ones k3s passes
// (pkg/daemons/control/server.go). Authorization is Node,RBAC as in k3s; the
// default admission plugins are kept since none needs a controller to admit
// the objects nodeagent applies.
func (s *server) apiserverArgs() []string {
	tls := s.paths.tls
	etcd := s.paths.etcdTLS
	args := map[string]string{
		"bind-address":                     s.env.local,
		"secure-port":                      APIServerPort,
		"advertise-address":                s.cfg.AdvertiseAddress,
		"etcd-servers":                     "https://" + net.JoinHostPort(s.env.local, "2379"),
		"etcd-cafile":                      filepath.Join(etcd, "server-ca.crt"),
		"etcd-certfile":                    filepath.Join(etcd, "client.crt"),
		"etcd-keyfile":                     filepath.Join(etcd, "client.key"),
		"tls-cert-file":                    filepath.Join(tls, "serving-kube-apiserver.crt"),
		"tls-private-key-file":             filepath.Join(tls, "serving-kube-apiserver.key"),
		"client-ca-file":                   filepath.Join(tls, "client-ca.crt"),
		"service-account-key-file":         filepath.Join(tls, "service.key"),
		"service-account-signing-key-file": filepath.Join(tls, "service.key"),
		"service-account-issuer":           "https://kubernetes.default.svc." + s.cfg.ClusterDomain,
		"api-audiences":                    "https://kubernetes.default.svc." + s.cfg.ClusterDomain + ",k3s",
		"service-cluster-ip-range":         s.cfg.ServiceCIDR,
		"authorization-mode":               "Node,RBAC",
		"enable-admission-plugins":         "NodeRestriction",
		"allow-privileged":                 "true",
		"anonymous-auth":                   "false",
		"profiling":                        "false",
		"cert-dir":                         filepath.Join(tls, "temporary-certs"),
		"storage-backend":                  "etcd3",
		// The supervisor on 6443 proxies to this apiserver with the
		// caller's identity in these headers (apiproxy.go), as k3s
		// configures its request-header authentication.
		"requestheader-client-ca-file":       filepath.Join(tls, "request-header-ca.crt"),
		"requestheader-allowed-names":        authProxyUser,
		"requestheader-username-headers":     "X-Remote-User",
		"requestheader-group-headers":        "X-Remote-Group",
		"requestheader-extra-headers-prefix": "X-Remote-Extra-",
		"proxy-client-cert-file":             filepath.Join(tls, "client-auth-proxy.crt"),
		"proxy-client-key-file":              filepath.Join(tls, "client-auth-proxy.key"),
	}
	if ip := net.ParseIP(s.cfg.AdvertiseAddress); ip != nil && ip.IsLoopback() {
		// Only in a local test on 127.0.0.x: the endpoint reconciler
		// refuses loopback addresses for the "kubernetes" Service.
		args["endpoint-reconciler-type"] = "none"
	}
	// kube-apiserver-arg entries override these, as in k3s.
	return componentArgs(args, s.cfg.KubeAPIServerArg)
}

// apiserverRun is the in-process kube-apiserver: done is closed when it has
// returned, err is then its result.
type apiserverRun struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func startAPIServer(args []string) *apiserverRun {
	ctx, cancel := context.WithCancel(context.Background())
	r := &apiserverRun{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = runAPIServer(ctx, args)
	}()
	return r
}

// apiserverStopTimeout bounds the graceful shutdown: when the last servers
// stop together, etcd has lost quorum and in-flight requests never finish.
const apiserverStopTimeout = 15 * time.Second

// stop cancels the apiserver and waits for its graceful shutdown, for at
// most apiserverStopTimeout.
func (r *apiserverRun) stop() error {
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(apiserverStopTimeout):
		return fmt.Errorf("kube-apiserver still stopping after %s; leaving it", apiserverStopTimeout)
	}
}

// runAPIServer runs the upstream kube-apiserver in-process until ctx ends,
// doing what app.NewAPIServerCommand's RunE does minus its signal handler:
// the stand-in owns SIGTERM so it can stop the apiserver before etcd.
func runAPIServer(ctx context.Context, args []string) error {
	s := options.NewServerRunOptions()
	fs := pflag.NewFlagSet("kube-apiserver", pflag.ContinueOnError)
	for _, f := range s.Flags().FlagSets {
		fs.AddFlagSet(f)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("parsing kube-apiserver flags: %w", err)
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("setting component globals: %w", err)
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	gate := s.GenericServerRunOptions.ComponentGlobalsRegistry.FeatureGateFor(basecompatibility.DefaultKubeComponent)
	if err := logsapi.ValidateAndApply(s.Logs, gate); err != nil {
		return fmt.Errorf("applying kube-apiserver logging options: %w", err)
	}
	completed, err := s.Complete(ctx)
	if err != nil {
		return fmt.Errorf("completing kube-apiserver options: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return fmt.Errorf("validating kube-apiserver options: %w", utilerrors.NewAggregate(errs))
	}
	return app.Run(ctx, completed)
}
