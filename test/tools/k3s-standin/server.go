package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	apiextv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	apiextclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
)

// server is one running `k3s server`.
type server struct {
	cfg   *config
	env   env
	paths paths
	log   *zap.Logger
	// etcd is set once the local member is started; the supervisor runs
	// before that and answers /db/info with an error until then.
	etcd atomic.Pointer[etcdMember]
	// notify is systemd's NOTIFY_SOCKET, taken from the environment.
	notify string
	// crds are the real CRDs, by component (crds.go).
	crds map[string][]*apiextv1.CustomResourceDefinition
	// snap takes the etcd snapshots (snapshot.go).
	snap *snapshotter
	// core is the admin client once the apiserver is ready (k3s's
	// Runtime.Core); the node-authenticated routes answer 503 before.
	core atomic.Pointer[kubernetes.Clientset]
	// The embedded scheduler and controller-manager and the kubelet,
	// their flags accepted before the server starts (prepareComponents).
	control *controlPlane
	kubelet *preparedKubelet
	// componentErr receives an embedded component's exit while the
	// server runs: the server then fails, as k3s does.
	componentErr chan error
}

// prepareComponents reads the TEST-ONLY capacity setting and parses the
// scheduler's, the controller-manager's and the kubelet's flags (k3s's
// defaults merged with the *-arg keys), refusing what they would refuse.
func (s *server) prepareComponents() error {
	capacity, err := loadCapacity(s.paths.capacity, "/proc/meminfo")
	if err != nil {
		return fmt.Errorf("loading the TEST-ONLY capacity setting: %w", err)
	}
	if s.control, err = s.prepareControlPlane(); err != nil {
		return err
	}
	s.kubelet, err = prepareKubelet(kubeletSpec{
		nodeName: s.cfg.NodeName, nodeIP: s.cfg.NodeIP,
		kubeconfig: filepath.Join(s.paths.agent, "kubelet.kubeconfig"),
		rootDir:    s.paths.kubelet, podLogsDir: s.paths.podLogs,
		nodeLabel: s.cfg.NodeLabel, nodeTaint: s.cfg.NodeTaint, extraArgs: s.cfg.KubeletArg,
		capacity: capacity,
	})
	s.componentErr = make(chan error, 3)
	return err
}

// writeComponentKubeconfigs writes the scheduler's, the
// controller-manager's and the server's kubelet's kubeconfigs.
func (s *server) writeComponentKubeconfigs() error {
	if err := s.writeControlPlaneKubeconfigs(); err != nil {
		return err
	}
	return writeAgentKubeconfig(filepath.Join(s.paths.agent, "kubelet.kubeconfig"), s.apiURL(), "",
		filepath.Join(s.paths.tls, "server-ca.crt"), filepath.Join(s.paths.agent, "client-kubelet.crt"),
		filepath.Join(s.paths.agent, "client-kubelet.key"))
}

func (s *server) member() *etcdMember { return s.etcd.Load() }

// run follows the order of k3s's server start: the member name, the cluster
// CAs (new, or fetched from the server joined), the supervisor on 6443, etcd
// (restarted, new, or joined as a learner), the wait until the local member
// is a voter, then the apiserver, the Node and the controllers; READY=1 at
// the end. On ctx's end they stop in reverse order.
func (s *server) run(ctx context.Context) error {
	start := time.Now()
	name, err := memberName(s.paths, s.cfg.NodeName)
	if err != nil {
		return err
	}
	st, jc, err := s.prepare(ctx)
	if err != nil {
		return err
	}
	stopSupervisor, err := s.startSupervisor()
	if err != nil {
		return err
	}
	defer stopSupervisor()
	if jc != nil {
		if st, err = s.joinEtcd(ctx, jc, name); err != nil {
			return err
		}
	}
	m, err := startEtcd(s, name, st)
	if err != nil {
		return err
	}
	defer m.close()
	s.etcd.Store(m)
	if err := s.snap.schedule(ctx); err != nil {
		return err
	}
	go m.manageLearners(ctx)
	if err := m.waitVoter(ctx); err != nil {
		return err
	}
	api := startAPIServer(s.apiserverArgs())
	defer api.stop()
	if err := s.startKube(ctx, api.done); err != nil {
		if apiErr := api.stop(); apiErr != nil {
			s.log.Error("kube-apiserver failed", zap.Error(apiErr))
		}
		return err
	}
	// k3s sends READY=1 once the apiserver is ready and etcd is a voter
	// (pkg/cli/server/server.go); the Node, the HelmChart CRDs and the
	// controllers come after, as the kubelet and the controllers in k3s
	// do not wait for it either.
	sent, err := sdNotify(s.notify, daemon.SdNotifyReady)
	s.log.Info("ready", zap.Duration("startup", time.Since(start)), zap.Bool("notified", sent), zap.NamedError("notifyError", err))
	go s.afterReady(ctx)
	select {
	case <-ctx.Done():
		s.log.Info("stopping")
		_, _ = sdNotify(s.notify, daemon.SdNotifyStopping)
		if err := api.stop(); err != nil {
			s.log.Warn("kube-apiserver stopped with an error", zap.Error(err))
		}
		return nil
	case <-api.done:
		return fmt.Errorf("kube-apiserver exited: %w", api.err)
	case err := <-m.e.Err():
		return fmt.Errorf("etcd failed: %w", err)
	case err := <-s.componentErr:
		return err
	}
}

// prepare is k3s's cluster.Bootstrap (pkg/cluster/bootstrap.go): with etcd
// data (server/db/etcd/member/wal) cluster-init and server are ignored; with
// none and no server, cluster-init makes a new cluster with new CAs; with
// none and a server, the token is validated against the server's /cacerts
// and the CAs are fetched from it. A failure here ends the process, as in
// k3s; systemd restarts it. The returned joinClient is nil unless joining.
func (s *server) prepare(ctx context.Context) (etcdStart, *joinClient, error) {
	st := etcdStart{state: embed.ClusterStateFlagNew}
	tok, err := parseToken(s.cfg.Token)
	if err != nil {
		return st, nil, fmt.Errorf("token: %w", err)
	}
	var jc *joinClient
	switch {
	case hasEtcdData(s.paths):
		s.log.Info("managed etcd cluster bootstrap already complete and initialized; cluster-init and server are ignored")
		// A start without --cluster-reset clears the reset-flag a reset left
		// (pkg/cluster/managed.go start, ETCD.Start).
		if err := os.Remove(s.paths.resetFlag); err == nil {
			s.log.Info("removed the reset-flag of an earlier cluster reset", zap.String("path", s.paths.resetFlag))
		} else if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("Failed to remove reset-flag", zap.Error(err))
		}
	case s.cfg.Server == "":
		s.log.Info("managed etcd cluster initializing")
		if err := createCAs(s.paths.tls); err != nil {
			return st, nil, err
		}
	default:
		s.log.Info("managed etcd cluster not yet initialized; joining", zap.String("server", s.cfg.Server))
		if jc, err = newJoinClient(ctx, s.cfg.Server, tok, s.log); err != nil {
			return st, nil, fmt.Errorf("failed to validate token: %w", err)
		}
		if err := jc.fetchBootstrap(ctx, s.paths.tls); err != nil {
			return st, nil, fmt.Errorf("failed to bootstrap cluster data: %w", err)
		}
	}
	if err := s.ensureNodeCerts(); err != nil {
		return st, nil, err
	}
	if err := writeTokenFiles(s.paths, tok.password); err != nil {
		return st, jc, err
	}
	return st, jc, writeAgentTokenFile(s.paths, s.cfg.AgentToken)
}

// startKube waits for the apiserver and writes k3s.yaml.
func (s *server) startKube(ctx context.Context, apiExited <-chan struct{}) error {
	if err := s.writeKubeconfig(); err != nil {
		return err
	}
	if err := s.writeComponentKubeconfigs(); err != nil {
		return err
	}
	rc, err := s.restConfig()
	if err != nil {
		return err
	}
	return waitAPIReady(ctx, rc, apiExited)
}

// afterReady installs the HelmChart CRDs, registers the Node and starts the
// etcd node controllers and the chart simulation, retrying until ctx ends.
func (s *server) afterReady(ctx context.Context) {
	rc, err := s.restConfig()
	if err != nil {
		s.log.Error("loading k3s.yaml", zap.Error(err))
		return
	}
	ext, err := apiextclient.NewForConfig(rc)
	if err != nil {
		s.log.Error("creating apiextensions client", zap.Error(err))
		return
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		s.log.Error("creating client", zap.Error(err))
		return
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		s.log.Error("creating dynamic client", zap.Error(err))
		return
	}
	s.core.Store(cs)
	s.startComponents(ctx)
	nc, err := newNodeConfig(s.cfg.NodeName, s.cfg.NodeIP, s.cfg.NodeLabel, s.log)
	if err != nil {
		s.log.Error("node labels", zap.Error(err))
		return
	}
	maps.Copy(nc.labels, serverRoleLabels())
	s.startNodeControllers(ctx, cs)
	if err := retry(ctx, s.log, "configuring node", func() error { return nc.apply(ctx, cs) }); err != nil {
		return
	}
	if err := retry(ctx, s.log, "creating the k3s controller's RBAC", func() error { return ensureK3sControllerRBAC(ctx, cs) }); err != nil {
		return
	}
	if err := retry(ctx, s.log, "creating the local-path StorageClass", func() error { return ensureLocalPathClass(ctx, cs) }); err != nil {
		return
	}
	go s.runLocalPathProvisioner(ctx, cs)
	if err := retry(ctx, s.log, "installing HelmChart CRDs", func() error { return ensureCRDs(ctx, ext, s.crds[helmComponent]) }); err != nil {
		return
	}
	go s.simulateCharts(ctx, dyn, ext, cs, s.crds)
}

// startComponents runs the scheduler, the controller-manager and the
// kubelet until ctx ends (SIGTERM): their watches must end for the
// apiserver's graceful stop to finish. The controller-manager's lost lease
// on that stop asks the process to exit 1 (klog.FlushAndExit in
// cmd/kube-controller-manager/app/controllermanager.go); the exit guard
// ignores that once SIGTERM is handled.
func (s *server) startComponents(ctx context.Context) {
	failed := func(err error) {
		if ctx.Err() == nil {
			s.componentErr <- err
		}
	}
	s.control.start(ctx, s.log, failed)
	go func() {
		err := s.kubelet.run(ctx, s.log.With(zap.String("component", "kubelet")))
		failed(fmt.Errorf("kubelet exited: %w", err))
	}()
}

// retry calls f until it succeeds or ctx ends, backing off from 1s to 10s.
func retry(ctx context.Context, log *zap.Logger, what string, f func() error) error {
	delay := time.Second
	for attempt := 1; ; attempt++ {
		err := f()
		if err == nil {
			return nil
		}
		log.Info("retrying", zap.String("step", what), zap.Int("attempt", attempt), zap.Error(err))
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last error: %v)", what, ctx.Err(), err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}
