package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	kcmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	schedoptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// Ports of the scheduler's and the controller-manager's health servers, as
// k3s passes them; bound to the node-local address, not 127.0.0.1, so
// that the instances of a local test can share one host.
const (
	schedulerPort  = "10259"
	controllerPort = "10257"
)

// DefaultClusterCIDR is k3s's default cluster-cidr (pkg/cli/cmds/server.go).
const DefaultClusterCIDR = "10.42.0.0/16"

// schedulerArgs are k3s's kube-scheduler flags (pkg/daemons/control/server.go
// scheduler) merged with kube-scheduler-arg. Leader election is the
// default, so one of the servers' schedulers is active.
func (s *server) schedulerArgs() []string {
	kc := filepath.Join(s.paths.cred, "scheduler.kubeconfig")
	return componentArgs(map[string]string{
		"kubeconfig":                kc,
		"authentication-kubeconfig": kc,
		"authorization-kubeconfig":  kc,
		"bind-address":              s.env.local,
		"secure-port":               schedulerPort,
		"profiling":                 "false",
	}, s.cfg.KubeSchedulerArg)
}

// controllerManagerArgs are k3s's kube-controller-manager flags
// (pkg/daemons/control/server.go controllerManager) merged with
// kube-controller-manager-arg. The cloud controllers (service, route,
// cloud-node-lifecycle) k3s used to switch off are no longer part of the
// v1.37 controller-manager, which refuses their names.
func (s *server) controllerManagerArgs() []string {
	tls := s.paths.tls
	kc := filepath.Join(s.paths.cred, "controller.kubeconfig")
	return componentArgs(map[string]string{
		"kubeconfig":                       kc,
		"authentication-kubeconfig":        kc,
		"authorization-kubeconfig":         kc,
		"service-account-private-key-file": filepath.Join(tls, "service.key"),
		"allocate-node-cidrs":              "true",
		"service-cluster-ip-range":         s.cfg.ServiceCIDR,
		"cluster-cidr":                     s.cfg.ClusterCIDR,
		"root-ca-file":                     filepath.Join(tls, "server-ca.crt"),
		"profiling":                        "false",
		"bind-address":                     s.env.local,
		"secure-port":                      controllerPort,
		"use-service-account-credentials":  "true",
		"controllers":                      "*,tokencleaner",
		"configure-cloud-routes":           "false",
		"cluster-signing-kube-apiserver-client-cert-file": filepath.Join(tls, "client-ca.crt"),
		"cluster-signing-kube-apiserver-client-key-file":  filepath.Join(tls, "client-ca.key"),
		"cluster-signing-kubelet-client-cert-file":        filepath.Join(tls, "client-ca.crt"),
		"cluster-signing-kubelet-client-key-file":         filepath.Join(tls, "client-ca.key"),
		"cluster-signing-kubelet-serving-cert-file":       filepath.Join(tls, "server-ca.crt"),
		"cluster-signing-kubelet-serving-key-file":        filepath.Join(tls, "server-ca.key"),
		"cluster-signing-legacy-unknown-cert-file":        filepath.Join(tls, "client-ca.crt"),
		"cluster-signing-legacy-unknown-key-file":         filepath.Join(tls, "client-ca.key"),
	}, s.cfg.KubeControllerManagerArg)
}

// writeControlPlaneKubeconfigs writes the scheduler's and the
// controller-manager's kubeconfigs with their own client certificates
// (k3s's pkg/daemons/control/deps/deps.go: system:kube-scheduler and
// system:kube-controller-manager, signed by the client CA, in server/cred).
func (s *server) writeControlPlaneKubeconfigs() error {
	ca := filepath.Join(s.paths.tls, "server-ca.crt")
	for _, c := range []struct{ kubeconfig, cert string }{
		{"scheduler.kubeconfig", "client-scheduler"},
		{"controller.kubeconfig", "client-controller"},
	} {
		crt := filepath.Join(s.paths.tls, c.cert+".crt")
		key := filepath.Join(s.paths.tls, c.cert+".key")
		if err := writeAgentKubeconfig(filepath.Join(s.paths.cred, c.kubeconfig), s.apiURL(), "", ca, crt, key); err != nil {
			return err
		}
	}
	return nil
}

// parseComponentFlags parses args with a component's own flags, refusing
// an unknown flag with the component's error, as its command would.
func parseComponentFlags(component string, sets map[string]*pflag.FlagSet, order []string, args []string) error {
	fs := pflag.NewFlagSet(component, pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	for _, name := range order {
		fs.AddFlagSet(sets[name])
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", component, err)
	}
	return nil
}

// prepareScheduler parses the scheduler's flags: an error is returned
// before anything starts (k3s exits when its embedded scheduler fails).
func prepareScheduler(args []string) (*schedoptions.Options, error) {
	opts := schedoptions.NewOptions()
	if err := parseComponentFlags("kube-scheduler", opts.Flags.FlagSets, opts.Flags.Order, args); err != nil {
		return nil, err
	}
	return opts, nil
}

// runScheduler is the upstream kube-scheduler in-process until ctx ends:
// what its command's RunE does, minus its own signal handler and logging
// setup (the stand-in owns SIGTERM, and the kube-apiserver applied klog's).
// The leader election is the scheduler's own lock and timings, run here
// rather than inside schedapp.Run, whose callback calls os.Exit(0) when
// its context ends while it leads (cmd/kube-scheduler/app/server.go
// OnStoppedLeading): that would end the process before the graceful stop
// has stopped etcd. A lost lease still exits 1, as upstream.
func runScheduler(ctx context.Context, opts *schedoptions.Options) error {
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("kube-scheduler: %w", err)
	}
	cc, sched, err := schedapp.Setup(ctx, opts)
	if err != nil {
		return fmt.Errorf("kube-scheduler: %w", err)
	}
	le := cc.LeaderElection
	if le == nil {
		return schedapp.Run(ctx, cc, sched)
	}
	cc.LeaderElection = nil
	cc.ComponentConfig.LeaderElection.LeaderElect = false // no watchdog of an elector Run does not run
	le.Callbacks = leaderelection.LeaderCallbacks{
		OnStartedLeading: func(lctx context.Context) { _ = schedapp.Run(lctx, cc, sched) },
		OnStoppedLeading: func() {
			if ctx.Err() == nil {
				klog.ErrorS(nil, "Leaderelection lost")
				klog.FlushAndExit(klog.ExitFlushTimeout, 1)
			}
		},
	}
	elector, err := leaderelection.NewLeaderElector(*le)
	if err != nil {
		return fmt.Errorf("kube-scheduler: couldn't create leader elector: %w", err)
	}
	elector.Run(ctx)
	return errors.New("kube-scheduler: lost lease")
}

// prepareControllerManager parses the controller-manager's flags.
func prepareControllerManager(args []string) (*kcmoptions.KubeControllerManagerOptions, error) {
	s, err := kcmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return nil, fmt.Errorf("kube-controller-manager: %w", err)
	}
	nfs := s.Flags(kcmapp.KnownControllers(), kcmapp.ControllersDisabledByDefault(), kcmapp.ControllerAliases())
	s.ParsedFlags = &nfs
	if err := parseComponentFlags("kube-controller-manager", nfs.FlagSets, nfs.Order, args); err != nil {
		return nil, err
	}
	return s, nil
}

// runControllerManager is the upstream kube-controller-manager in-process
// until ctx ends, as its command's RunE minus the signal handler.
func runControllerManager(ctx context.Context, s *kcmoptions.KubeControllerManagerOptions) error {
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	c, err := s.Config(ctx, kcmapp.KnownControllers(), kcmapp.ControllersDisabledByDefault(), kcmapp.ControllerAliases())
	if err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	return kcmapp.Run(ctx, c.Complete())
}

// controlPlane holds the parsed scheduler and controller-manager options,
// checked before the server starts anything (a flag refused by either ends
// the process with exit 1, as k3s's embedded components do).
type controlPlane struct {
	sched *schedoptions.Options
	kcm   *kcmoptions.KubeControllerManagerOptions
}

func (s *server) prepareControlPlane() (*controlPlane, error) {
	sched, err := prepareScheduler(s.schedulerArgs())
	if err != nil {
		return nil, err
	}
	kcm, err := prepareControllerManager(s.controllerManagerArgs())
	if err != nil {
		return nil, err
	}
	return &controlPlane{sched: sched, kcm: kcm}, nil
}

// start runs both until ctx ends; a component that returns while ctx is
// live ends the server through failed, as k3s exits when one of its
// embedded components exits.
func (cp *controlPlane) start(ctx context.Context, log *zap.Logger, failed func(error)) {
	for _, c := range []struct {
		name string
		run  func(context.Context) error
	}{
		{"kube-scheduler", func(ctx context.Context) error { return runScheduler(ctx, cp.sched) }},
		{"kube-controller-manager", func(ctx context.Context) error { return runControllerManager(ctx, cp.kcm) }},
	} {
		go func() {
			log.Info("starting", zap.String("component", c.name))
			err := c.run(ctx)
			if ctx.Err() == nil {
				failed(fmt.Errorf("%s exited: %w", c.name, err))
			}
		}()
	}
}
