package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"time"

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
	etcd  *etcdMember
	// notify is systemd's NOTIFY_SOCKET, taken from the environment.
	notify string
}

// run starts etcd, the supervisor and the apiserver, registers the Node,
// tells systemd READY=1, and on ctx's end stops them in reverse order.
func (s *server) run(ctx context.Context) error {
	start := time.Now()
	if err := s.startEtcd(ctx); err != nil {
		return err
	}
	defer s.etcd.close()
	stopSupervisor, err := s.startSupervisor()
	if err != nil {
		return err
	}
	defer stopSupervisor()
	api := startAPIServer(s.apiserverArgs())
	defer api.stop()
	if err := s.startKube(ctx, api.done); err != nil {
		if apiErr := api.stop(); apiErr != nil {
			s.log.Error("kube-apiserver failed", zap.Error(apiErr))
		}
		return err
	}
	sent, err := sdNotify(s.notify, daemon.SdNotifyReady)
	s.log.Info("ready", zap.Duration("startup", time.Since(start)), zap.Bool("notified", sent), zap.NamedError("notifyError", err))
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
	case err := <-s.etcd.e.Err():
		return fmt.Errorf("etcd failed: %w", err)
	}
}

// startEtcd restarts from existing data, or creates a new cluster
// (cluster-init), or joins the cluster at config `server`.
func (s *server) startEtcd(ctx context.Context) error {
	st := etcdStart{state: embed.ClusterStateFlagNew}
	var joined joinResponse
	switch {
	case hasEtcdData(s.paths):
		s.log.Info("restarting etcd member from its data; cluster-init and server are ignored")
		if r, err := loadJoinState(s.paths); err == nil {
			joined = r // a learner killed before promotion needs it
		}
	case s.cfg.ClusterInit:
		s.log.Info("initializing a new cluster")
		if err := createCAs(s.paths.tls); err != nil {
			return err
		}
	default:
		var err error
		if joined, err = s.join(ctx); err != nil {
			return err
		}
		st = etcdStart{state: embed.ClusterStateFlagExisting, initialCluster: joined.InitialCluster}
	}
	if err := s.ensureNodeCerts(); err != nil {
		return err
	}
	m, err := startEtcd(s, st)
	if err != nil {
		return err
	}
	s.etcd = m
	if err := m.waitReady(ctx); err != nil {
		m.close()
		return err
	}
	self := "https://" + net.JoinHostPort(s.cfg.NodeIP, "2379")
	others := slices.DeleteFunc(slices.Clone(joined.ClientURLs), func(u string) bool { return u == self })
	if err := m.promote(ctx, others); err != nil {
		m.close()
		return err
	}
	return nil
}

// join copies the cluster CAs from the server at config `server`, writes
// this node's certificates and has that server add it as an etcd learner.
func (s *server) join(ctx context.Context) (joinResponse, error) {
	s.log.Info("joining cluster", zap.String("server", s.cfg.Server))
	var jc *joinClient
	var resp joinResponse
	err := retry(ctx, s.log, "fetching bootstrap data", func() error {
		var err error
		if jc, err = newJoinClient(ctx, s.cfg.Server, s.cfg.Token, s.log); err != nil {
			return err
		}
		return jc.fetchBootstrap(ctx, s.paths.tls)
	})
	if err != nil {
		return resp, err
	}
	if err := s.ensureNodeCerts(); err != nil {
		return resp, err
	}
	req := joinRequest{Name: s.cfg.NodeName, PeerURL: "https://" + net.JoinHostPort(s.cfg.NodeIP, "2380")}
	err = retry(ctx, s.log, "joining etcd", func() error {
		var err error
		resp, err = jc.requestJoin(ctx, req)
		return err
	})
	if err != nil {
		return resp, err
	}
	return resp, saveJoinState(s.paths, resp)
}

// startKube waits for the apiserver, writes k3s.yaml, installs the HelmChart
// CRDs, registers the Node and starts the chart simulation.
func (s *server) startKube(ctx context.Context, apiExited <-chan struct{}) error {
	if err := s.writeKubeconfig(); err != nil {
		return err
	}
	rc, err := s.restConfig()
	if err != nil {
		return err
	}
	if err := waitAPIReady(ctx, rc, apiExited); err != nil {
		return err
	}
	ext, err := apiextclient.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("creating apiextensions client: %w", err)
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("creating dynamic client: %w", err)
	}
	if err := retry(ctx, s.log, "installing HelmChart CRDs", func() error { return ensureCRDs(ctx, ext, helmCRDs) }); err != nil {
		return err
	}
	if err := retry(ctx, s.log, "registering node", func() error { return s.registerNode(ctx, cs) }); err != nil {
		return err
	}
	go s.simulateCharts(ctx, dyn, ext)
	return nil
}
