// Command k3s is a TEST-ONLY stand-in for the k3s binary, server and agent.
// It is NOT k3s: it reproduces the slice of k3s's contract that nodeagent
// relies on (config.yaml, embedded etcd with k3s's certificate layout, the
// supervisor's /ping, join and agent endpoints, k3s.yaml, the Node object,
// the HelmChart CRD, sd_notify; an agent's node password, kubelet
// certificate, kubelet.kubeconfig and Node) from real upstream parts,
// embedded etcd and the kube-apiserver, so that the end-to-end test can run
// nodeagent without downloading k3s.
// README.md lists what it reproduces and what it does not.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	_ "time/tzdata" // CronJob time zones, as the upstream kube-apiserver.

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Version is what `k3s --version` prints and the Node reports as its
// kubelet version (k3s stamps its own version into both, scripts/build's
// VERSIONFLAGS); the "+k3s-standin" build suffix keeps it from being
// mistaken for a real k3s release. TEST-ONLY knob: an upgrade test stamps
// a k3s-like version instead (build-k3s-standin.sh --version V, that is
// -ldflags "-X main.Version=V"), to serve two builds that differ only there.
var Version = "v1.37.2+k3s-standin"

// failAtStart, when stamped non-empty (build-k3s-standin.sh --fail-at-start,
// -ldflags "-X main.failAtStart=1"), makes `k3s server` exit 1 at start
// before it touches anything: the bad build of an upgrade test. TEST-ONLY
// knob; never set in the default build.
var failAtStart string

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: k3s server | k3s agent | k3s etcd-snapshot save|ls | k3s --version (TEST-ONLY k3s stand-in)")
		return 1
	}
	switch args[0] {
	case "--version", "-v", "version":
		fmt.Printf("k3s version %s (TEST-ONLY stand-in built from etcd and kube-apiserver, not k3s)\n", Version)
		fmt.Printf("go version %s\n", runtime.Version())
		return 0
	case "server":
		return runServer(args[1:])
	case "etcd-snapshot":
		return runEtcdSnapshot(args[1:])
	case "agent":
		return runAgent(args[1:])
	default:
		fmt.Fprintf(os.Stderr, "k3s %s: not supported by the k3s test stand-in (only server, agent, etcd-snapshot and --version)\n", args[0])
		return 1
	}
}

func runServer(args []string) int {
	log := newLogger()
	defer func() { _ = log.Sync() }()
	if failAtStart != "" {
		log.Error("this TEST-ONLY build is stamped to fail at start", zap.String("version", Version))
		return 1
	}
	reset, restorePath, err := parseServerFlags(args)
	if err != nil {
		log.Error(err.Error(), zap.Strings("args", args))
		return 1
	}
	env := envFromOS()
	cfg, err := loadConfig(env.paths())
	if err != nil {
		log.Error("loading config", zap.Error(err))
		return 1
	}
	crds, err := loadCRDs()
	if err != nil {
		log.Error("loading CRDs", zap.Error(err))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s := &server{cfg: cfg, env: env, paths: env.paths(), log: log.With(zap.String("component", "server")),
		notify: takeNotifySocket(), crds: crds}
	s.snap = &snapshotter{s: s}
	if len(cfg.s3Keys) > 0 {
		log.Warn("etcd-s3 keys are accepted but the k3s stand-in never uploads snapshots to S3", zap.Strings("keys", cfg.s3Keys))
	}
	if cfg.EtcdSnapshotCompress {
		log.Warn("etcd-snapshot-compress is ignored: the k3s stand-in writes uncompressed snapshots")
	}
	if reset {
		if err := s.clusterReset(ctx, restorePath); err != nil {
			log.Error("cluster reset failed", zap.Error(err))
			return 1
		}
		return 0
	}
	if err := s.prepareComponents(); err != nil {
		log.Error("embedded component refused its configuration", zap.Error(err))
		return 1
	}
	installExitGuard(ctx, log)
	if err := s.run(ctx); err != nil {
		if ctx.Err() != nil {
			// Stopped while starting: a clean stop for systemd too.
			log.Info("stopped while starting", zap.Error(err))
			return 0
		}
		log.Error("server failed", zap.Error(err))
		return 1
	}
	log.Info("stopped cleanly")
	return 0
}

// parseServerFlags accepts the two flags of a cluster reset,
// --cluster-reset and --cluster-reset-restore-path[=]PATH (pkg/cli/cmds/server.go);
// nodeagent passes everything else through config.yaml, and any other flag
// is refused rather than silently ignored. As k3s (pkg/cli/server/server.go)
// a restore path needs --cluster-reset.
func parseServerFlags(args []string) (reset bool, restorePath string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--cluster-reset":
			reset = true
		case a == "--cluster-reset-restore-path" && i+1 < len(args):
			i++
			restorePath = args[i]
		case strings.HasPrefix(a, "--cluster-reset-restore-path="):
			restorePath = strings.TrimPrefix(a, "--cluster-reset-restore-path=")
		default:
			return false, "", errors.New("command-line flags other than --cluster-reset and --cluster-reset-restore-path are not supported; use config.yaml")
		}
	}
	if restorePath != "" && !reset {
		return false, "", errors.New("invalid flag use; --cluster-reset required with --cluster-reset-restore-path")
	}
	return reset, restorePath, nil
}

// newLogger logs JSON lines to stderr, which journald captures.
func newLogger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(os.Stderr), zapcore.InfoLevel)
	return zap.New(core).Named("k3s-standin")
}
