package apiserver

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// portAttempts is how often launch picks a new port when another process
// took the one it chose.
const portAttempts = 3

// Server is a running kube-apiserver backed by an embedded etcd.
type Server struct {
	dir        string
	url        string
	config     *rest.Config
	kubeconfig string
	client     kubernetes.Interface
	readyIn    time.Duration
	pki        *pki

	etcd *embed.Etcd
	proc *process
}

// Start runs a kube-apiserver for the test and stops it in t.Cleanup. It
// skips the test when the binary is missing (see BinaryPath), unless CI=true
// or NODEAGENT_INTEGRATION=1. On test failure the apiserver's log tail is
// logged.
func Start(t testing.TB) *Server {
	t.Helper()
	binary := requireBinary(t)
	s, err := launch(binary, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("kube-apiserver log tail (%s):\n%s", s.proc.logPath, s.proc.logTail())
		}
		s.stop()
	})
	t.Logf("kube-apiserver %s ready at %s in %s", Version, s.url, s.readyIn.Round(time.Millisecond))
	return s
}

// launch starts etcd and the apiserver with all state under dir. On error it
// stops whatever it started.
func launch(binary, dir string) (*Server, error) {
	p, err := writePKI(dir)
	if err != nil {
		return nil, fmt.Errorf("writing test PKI: %w", err)
	}
	etcd, etcdURL, err := startEtcd(filepath.Join(dir, "etcd"))
	if err != nil {
		return nil, err
	}
	s := &Server{dir: dir, etcd: etcd, pki: p}
	if err := s.startAPIServer(binary, p, etcdURL); err != nil {
		s.stop()
		return nil, err
	}
	s.config = restConfig(s.url, p)
	if s.client, err = kubernetes.NewForConfig(s.config); err != nil {
		s.stop()
		return nil, fmt.Errorf("creating clientset: %w", err)
	}
	s.kubeconfig = filepath.Join(dir, "kubeconfig.yaml")
	if err := writeKubeconfig(s.kubeconfig, s.url, p.caPEM, p.adminCertPEM, p.adminKeyPEM); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) startAPIServer(binary string, p *pki, etcdURL string) error {
	tlsConfig, err := clientTLS(p)
	if err != nil {
		return err
	}
	logPath := filepath.Join(s.dir, "kube-apiserver.log")
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		start := time.Now()
		proc, err := startProcess(binary, apiserverArgs(s.dir, port, p, etcdURL), logPath)
		if err != nil {
			return err
		}
		s.proc = proc
		s.url = "https://127.0.0.1:" + strconv.Itoa(port)
		err = proc.waitReady(s.url, tlsConfig)
		if err == nil {
			s.readyIn = time.Since(start)
			return nil
		}
		proc.stop()
		if errors.Is(err, errPortInUse) && attempt < portAttempts {
			continue
		}
		return fmt.Errorf("starting kube-apiserver: %w\nlog tail (%s):\n%s", err, logPath, proc.logTail())
	}
}

// apiserverArgs mirrors the flags k3s gives its embedded apiserver where they
// matter to nodeagent (authorization, admission, service CIDR, issuer).
func apiserverArgs(dir string, port int, p *pki, etcdURL string) []string {
	return []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + p.servingCertFile,
		"--tls-private-key-file=" + p.servingKeyFile,
		"--client-ca-file=" + p.caFile,
		"--anonymous-auth=false",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		// No kube-controller-manager creates the "default" ServiceAccount, and
		// the ServiceAccount plugin rejects Pods whose account does not exist.
		"--disable-admission-plugins=ServiceAccount",
		"--allow-privileged=true",
		"--service-cluster-ip-range=10.43.0.0/16",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p.saPubFile,
		"--service-account-signing-key-file=" + p.saKeyFile,
		// EndpointSlices may not hold loopback addresses; upstream's own test
		// server turns the reconciler off for the same reason
		// (cmd/kube-apiserver/app/testing/testserver.go).
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
}

func (s *Server) stop() {
	if s.proc != nil {
		s.proc.stop()
	}
	if s.etcd != nil {
		s.etcd.Close()
	}
}

// URL is the apiserver's base URL, https://127.0.0.1:<port>.
func (s *Server) URL() string { return s.url }

// RestConfig returns a new admin (system:masters) client config with raised
// QPS and Burst; callers may change the copy.
func (s *Server) RestConfig() *rest.Config { return rest.CopyConfig(s.config) }

// KubeconfigPath is an admin kubeconfig (mode 0600) shaped like k3s's
// /etc/rancher/k3s/k3s.yaml: cluster, user and context all named "default".
func (s *Server) KubeconfigPath() string { return s.kubeconfig }

// Client is an admin clientset for the server.
func (s *Server) Client() kubernetes.Interface { return s.client }

// Metadata is an admin metadata client for the server, the kind nodeagent's
// label reconciler writes through.
func (s *Server) Metadata() metadata.Interface { return metadata.NewForConfigOrDie(s.RestConfig()) }

// ReadyIn is how long the apiserver took from exec to a 200 on /readyz.
func (s *Server) ReadyIn() time.Duration { return s.readyIn }

// LogPath is the file the apiserver's stdout and stderr go to.
func (s *Server) LogPath() string { return s.proc.logPath }
