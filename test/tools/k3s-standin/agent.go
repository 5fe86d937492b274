package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// agent is one running `k3s agent`: the client load balancer, the
// configuration fetched from the servers (CAs, kubelet certificate,
// kubelet.kubeconfig), then the kubelet (kubemark's hollow kubelet, with
// the node's own identity). No containerd, flannel or kube-proxy runs.
type agent struct {
	cfg   *agentConfig
	env   env
	paths paths
	root  *zap.Logger // for each part's own component logger
	log   *zap.Logger
	// notify is systemd's NOTIFY_SOCKET. k3s's install script runs the
	// agent as Type=exec, where READY=1 is ignored; k3s sends it anyway.
	notify string
	// capacity is what the kubelet's cadvisor reports (capacity.go).
	capacity machineCapacity
}

// runAgent is `k3s agent`: exit 0 on SIGTERM, 1 when the configuration is
// unusable or the kubelet would refuse to start.
func runAgent(args []string) int {
	log := newLogger()
	defer func() { _ = log.Sync() }()
	if len(args) > 0 {
		log.Error("command-line flags are not supported by the k3s stand-in's agent; use config.yaml", zap.Strings("args", args))
		return 1
	}
	e := envFromOS()
	cfg, err := loadAgentConfig(e.paths())
	if err != nil {
		log.Error("loading config", zap.Error(err))
		return 1
	}
	for _, k := range cfg.skipped {
		log.Warn("Unknown flag found in config.yaml, skipping", zap.String("flag", "--"+k))
	}
	capacity, err := loadCapacity(e.paths().capacity, "/proc/meminfo")
	if err != nil {
		log.Error("loading the TEST-ONLY capacity setting", zap.Error(err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	installExitGuard(ctx, log)
	a := &agent{cfg: cfg, env: e, paths: e.paths(), root: log, log: log.With(zap.String("component", "agent")),
		notify: takeNotifySocket(), capacity: capacity}
	if err := a.run(ctx); err != nil && ctx.Err() == nil {
		log.Error("agent failed", zap.Error(err))
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

// run follows k3s's agent start (pkg/agent/run.go): the load balancer to
// the configured server, the configuration retried every 5 s (with jitter)
// until the server gives it, the kubelet's flag check, the servers learned
// for the balancer, then the Node and its Lease until ctx ends.
func (a *agent) run(ctx context.Context) error {
	u, err := url.Parse(a.cfg.Server)
	if err != nil || u.Scheme != "https" || u.Port() == "" {
		return fmt.Errorf("server %q: want https://host:port", a.cfg.Server)
	}
	lb, err := newLoadBalancer(net.JoinHostPort(a.env.local, AgentLBPort), u.Host, a.root.With(zap.String("component", "load-balancer")))
	if err != nil {
		return fmt.Errorf("starting the load balancer: %w", err)
	}
	go lb.serve(ctx)
	serverName := ""
	if a.env.local != "127.0.0.1" {
		serverName = "127.0.0.1"
	}
	jc, err := a.getConfig(ctx, lb.url(), serverName)
	if err != nil {
		return err
	}
	// k3s sends READY=1 once the token is validated (pkg/agent/run.go);
	// the stand-in once the whole configuration is fetched.
	if _, err := sdNotify(a.notify, daemon.SdNotifyReady); err != nil {
		a.log.Warn("sd_notify", zap.Error(err))
	}
	kl, err := prepareKubelet(kubeletSpec{
		nodeName: a.cfg.NodeName, nodeIP: a.cfg.NodeIP,
		kubeconfig: filepath.Join(a.paths.agent, "kubelet.kubeconfig"),
		rootDir:    a.paths.kubelet, podLogsDir: a.paths.podLogs,
		nodeLabel: a.cfg.NodeLabel, nodeTaint: a.cfg.NodeTaint, extraArgs: a.cfg.KubeletArg,
		capacity: a.capacity,
	})
	if err != nil {
		return err
	}
	go a.learnServers(ctx, jc, lb)
	return a.runKubelet(ctx, kl)
}

// getConfig is k3s's config.Get: it retries get until it succeeds or ctx
// ends, logging why it waits (a refused node password among the reasons:
// the agent keeps trying, and is accepted once the node's Secret is gone).
func (a *agent) getConfig(ctx context.Context, lbURL, serverName string) (*joinClient, error) {
	for {
		jc, err := a.get(ctx, lbURL, serverName)
		if err == nil {
			return jc, nil
		}
		a.log.Info("Waiting to retrieve agent configuration; server is not ready", zap.Error(err))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5*time.Second + rand.N(5*time.Second)):
		}
	}
}

// get validates the token against /cacerts, writes the CAs, the kubelet
// client certificate and key, and kubelet.kubeconfig.
func (a *agent) get(ctx context.Context, lbURL, serverName string) (*joinClient, error) {
	jc, err := newSupervisorClient(ctx, lbURL, serverName, a.cfg.agentToken(), a.log)
	if err != nil {
		return nil, err
	}
	dir := a.paths.agent
	for _, f := range []string{"client-ca.crt", "server-ca.crt"} {
		data, err := jc.agentGet(ctx, "/v1-k3s/"+f)
		if err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, f), data, 0o600); err != nil {
			return nil, err
		}
	}
	pass, err := ensureNodePasswordFile(a.paths.nodePass)
	if err != nil {
		return nil, err
	}
	crt := filepath.Join(dir, "client-kubelet.crt")
	key := filepath.Join(dir, "client-kubelet.key")
	body, err := jc.nodeNamedGet(ctx, "/v1-k3s/client-kubelet.crt", a.cfg.NodeName, pass, a.paths.nodePass)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", crt, err)
	}
	certs, keys := splitCertKeyPEM(body)
	if err := writeFile(crt, certs, 0o600); err != nil {
		return nil, err
	}
	if err := writeFile(key, keys, 0o600); err != nil {
		return nil, err
	}
	if err := writeAgentKubeconfig(filepath.Join(dir, "kubelet.kubeconfig"), lbURL, serverName,
		filepath.Join(dir, "server-ca.crt"), crt, key); err != nil {
		return nil, err
	}
	return jc, a.getK3sControllerConfig(ctx, jc, lbURL, serverName)
}

// getK3sControllerConfig writes the k3s controller's shared certificate
// and key and k3scontroller.kubeconfig (k3s pkg/agent/config/config.go:
// "not unique to this node").
func (a *agent) getK3sControllerConfig(ctx context.Context, jc *joinClient, lbURL, serverName string) error {
	dir := a.paths.agent
	crt := filepath.Join(dir, "client-k3s-controller.crt")
	key := filepath.Join(dir, "client-k3s-controller.key")
	body, err := jc.agentGet(ctx, "/v1-k3s/client-k3s-controller.crt")
	if err != nil {
		return fmt.Errorf("%s: %w", crt, err)
	}
	certs, keys := splitCertKeyPEM(body)
	if err := writeFile(crt, certs, 0o600); err != nil {
		return err
	}
	if err := writeFile(key, keys, 0o600); err != nil {
		return err
	}
	return writeAgentKubeconfig(filepath.Join(dir, "k3scontroller.kubeconfig"), lbURL, serverName,
		filepath.Join(dir, "server-ca.crt"), crt, key)
}

// learnServers gives the balancer the servers' addresses from
// /v1-k3s/apiservers now and every 30 s (k3s's agent takes them once at
// start and then follows the kubernetes endpoints through its tunnel).
func (a *agent) learnServers(ctx context.Context, jc *joinClient, lb *loadBalancer) {
	for {
		data, err := jc.agentGet(ctx, "/v1-k3s/apiservers")
		var addrs []string
		if err == nil {
			err = json.Unmarshal(data, &addrs)
		}
		if err != nil {
			a.log.Info("Failed to retrieve list of apiservers from server", zap.Error(err))
		} else if len(addrs) > 0 {
			lb.update(addrs)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(30 * time.Second):
		}
	}
}

// runKubelet runs the kubelet, which registers the Node with the node's
// identity (kubelet.kubeconfig) and keeps its status and Lease, and, as
// k3s's agent does once the Node exists, applies node-label and the address
// annotations to it, until ctx ends.
func (a *agent) runKubelet(ctx context.Context, kl *preparedKubelet) error {
	rc, err := clientcmd.BuildConfigFromFlags("", filepath.Join(a.paths.agent, "kubelet.kubeconfig"))
	if err != nil {
		return fmt.Errorf("loading kubelet.kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("creating the kubelet's client: %w", err)
	}
	log := a.root.With(zap.String("component", "kubelet"))
	nc, err := newNodeConfig(a.cfg.NodeName, a.cfg.NodeIP, a.cfg.NodeLabel, log)
	if err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- kl.run(ctx, log) }()
	go func() {
		if err := retry(ctx, log, "configuring node", func() error { return nc.apply(ctx, cs) }); err == nil {
			log.Info("node registered", zap.String("node", nc.name))
		}
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return nil
	}
}
