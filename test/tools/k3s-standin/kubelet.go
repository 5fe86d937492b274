package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	remote "k8s.io/cri-client/pkg"
	fakeremote "k8s.io/cri-client/pkg/fake"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
	"k8s.io/kubernetes/cmd/kubelet/app/options"
	cadvisortest "k8s.io/kubernetes/pkg/kubelet/cadvisor/testing"
	"k8s.io/kubernetes/pkg/kubelet/cm"
	"k8s.io/kubernetes/pkg/kubemark"
	"k8s.io/kubernetes/pkg/volume/util/hostutil"
)

// KubeletPort is the kubelet's port (k3s's kubelet keeps the upstream
// default). The stand-in binds it to the node-ip only, so that instances of
// a local test can share one host's loopback.
const KubeletPort = "10250"

// kubeletSpec is what a node's kubelet is started with, on a server and on
// an agent alike (k3s's pkg/daemons/agent/agent_linux.go
// kubeletArgsAndConfig, run in-process by pkg/daemons/executor/embed.go).
type kubeletSpec struct {
	nodeName, nodeIP string
	kubeconfig       string
	rootDir          string // <data-dir>/agent/kubelet
	podLogsDir       string
	nodeLabel        []string
	nodeTaint        []string
	extraArgs        []string // kubelet-arg
	capacity         machineCapacity
}

// args are k3s's kubelet flags that the hollow kubelet understands, merged
// with kubelet-arg. --cloud-provider=external as k3s passes it while its
// own cloud controller runs (ccm.go): the kubelet taints a new Node
// uninitialized and leaves its addresses to that controller.
func (k kubeletSpec) args() []string {
	defaults := map[string]string{
		"kubeconfig":        k.kubeconfig,
		"root-dir":          k.rootDir,
		"cert-dir":          filepath.Join(k.rootDir, "pki"),
		"hostname-override": k.nodeName,
		"node-ip":           k.nodeIP,
		"node-labels":       strings.Join(k.nodeLabel, ","),
		"cloud-provider":    "external",
		"read-only-port":    "0",
		"address":           k.nodeIP,
		"port":              KubeletPort,
	}
	if len(k.nodeTaint) > 0 {
		// k3s puts them in the kubelet's configuration file
		// (RegisterWithTaints); the flag sets the same field.
		defaults["register-with-taints"] = strings.Join(k.nodeTaint, ",")
	}
	return componentArgs(defaults, k.extraArgs)
}

// kubeletConfig starts from kubemark's hollow kubelet configuration and
// applies args through the kubelet's own flags, so that a flag the kubelet
// does not know is refused as the kubelet would refuse it.
func (k kubeletSpec) kubeletConfig() (*options.KubeletServer, error) {
	short, err := shortRootDir(k.rootDir)
	if err != nil {
		return nil, err
	}
	k.rootDir = short
	f, c := kubemark.GetHollowKubeletConfig(&kubemark.HollowKubeletOptions{
		NodeName: k.nodeName, MaxPods: 110, NodeLabels: map[string]string{},
	})
	// kubemark makes its directories below the system's temporary
	// directory; the stand-in keeps the kubelet's below its data dir.
	_ = os.RemoveAll(f.RootDirectory)
	c.StaticPodPath = filepath.Join(filepath.Dir(k.rootDir), "pod-manifests")
	c.PodLogsDir = k.podLogsDir
	c.ProviderID = "" // the cloud controller's (ccm.go)
	fs := pflag.NewFlagSet("kubelet", pflag.ContinueOnError)
	fs.SetOutput(new(strings.Builder))
	f.AddFlags(fs)
	options.AddKubeletConfigFlags(fs, c)
	if err := fs.Parse(k.args()); err != nil {
		return nil, fmt.Errorf("failed to parse kubelet flag: %w", err)
	}
	for _, d := range []string{k.rootDir, c.StaticPodPath, c.PodLogsDir} {
		if err := os.MkdirAll(d, 0o750); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return &options.KubeletServer{KubeletFlags: *f, KubeletConfiguration: *c}, nil
}

// preparedKubelet is a kubelet whose flags were accepted; run starts it.
type preparedKubelet struct {
	spec kubeletSpec
	ks   *options.KubeletServer
}

// prepareKubelet checks the node labels and parses the kubelet's flags
// before anything starts: k3s exits when its embedded kubelet refuses its
// flags (pkg/daemons/executor/embed.go: "kubelet exited").
func prepareKubelet(k kubeletSpec) (*preparedKubelet, error) {
	if err := validateKubeletNodeLabels(k.nodeLabel); err != nil {
		return nil, fmt.Errorf("kubelet exited: failed to validate kubelet flags: %w", err)
	}
	ks, err := k.kubeletConfig()
	if err != nil {
		return nil, fmt.Errorf("kubelet exited: %w", err)
	}
	return &preparedKubelet{spec: k, ks: ks}, nil
}

// run runs kubemark's hollow kubelet (the real kubelet with a fake
// container runtime, cadvisor and container manager; pods report Running,
// images are never pulled) until ctx ends. Unlike kubemark's Run it returns
// the kubelet's start error instead of exiting the process.
func (p *preparedKubelet) run(ctx context.Context, log *zap.Logger) error {
	k, ks := p.spec, p.ks
	rc, err := clientcmd.BuildConfigFromFlags("", ks.KubeConfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", ks.KubeConfig, err)
	}
	reportVersion(rc, Version)
	rc.UserAgent = "kubelet"
	conns := newConnTracker()
	rc.Dial = conns.DialContext
	go func() { <-ctx.Done(); conns.closeAll() }()
	client, err := clientset.NewForConfig(rc)
	if err != nil {
		return fmt.Errorf("creating the kubelet's client: %w", err)
	}
	// As the kubelet's own heartbeat client (cmd/kubelet/app/server.go
	// buildKubeletClientConfig): no rate limit, a timeout of the shorter
	// of the status update frequency and the lease duration.
	hb := *rc
	hb.QPS = -1
	hb.Timeout = min(ks.NodeStatusUpdateFrequency.Duration, time.Duration(ks.NodeLeaseDurationSeconds)*time.Second)
	heartbeat, err := clientset.NewForConfig(&hb)
	if err != nil {
		return fmt.Errorf("creating the kubelet's heartbeat client: %w", err)
	}
	endpoint, err := fakeremote.GenerateEndpoint()
	if err != nil {
		return fmt.Errorf("choosing the fake runtime's endpoint: %w", err)
	}
	fakeRuntime := fakeremote.NewFakeRemoteRuntime()
	if err := fakeRuntime.Start(endpoint); err != nil {
		return fmt.Errorf("starting the fake container runtime: %w", err)
	}
	defer fakeRuntime.Stop()
	runtimeService, err := remote.NewRemoteRuntimeServiceBuilder().WithEndpoint(endpoint).
		WithConnectionTimeout(15 * time.Second).Build(ctx)
	if err != nil {
		return fmt.Errorf("connecting to the fake container runtime: %w", err)
	}
	hk := kubemark.NewHollowKubelet(&ks.KubeletFlags, &ks.KubeletConfiguration, client, heartbeat,
		capacityCadvisor{Fake: &cadvisortest.Fake{NodeName: k.nodeName}, c: k.capacity},
		fakeRuntime.ImageService, runtimeService, cm.NewStubContainerManager())
	hk.KubeletDeps.HostUtil = hostUtil{hostutil.NewFakeHostUtil(nil)}
	log.Info("starting the kubelet", zap.Strings("args", k.args()), zap.Int("cpu", k.capacity.cpu), zap.Int64("memory", k.capacity.memory))
	if err := kubeletapp.RunKubelet(ctx, ks, hk.KubeletDeps); err != nil {
		return fmt.Errorf("kubelet exited: %w", err)
	}
	<-ctx.Done()
	return nil
}

// hostUtil is kubemark's fake host utilities, except that a volume's mode
// is known: the kubelet asks for it before it makes a missing subPath
// directory (kubelet_pods.go makeMounts), and the fake's "not implemented"
// would fail every container with a subPath mount (CreateContainerConfigError),
// which a real kubelet starts. The mode is the directory's, or 0750 (what
// the kubelet's volume plugins create) when the fake mounter left none.
type hostUtil struct {
	*hostutil.FakeHostUtil
}

func (h hostUtil) GetMode(path string) (os.FileMode, error) {
	if fi, err := os.Stat(path); err == nil {
		return fi.Mode().Perm(), nil
	}
	return 0o750, nil
}

// maxSocketPath is the longest path a unix socket may have (sun_path is
// 108 bytes with its NUL).
const maxSocketPath = 107

// shortRootDir is dir, or a short symbolic link to it when the kubelet's
// sockets below it would be too long: the kubelet serves
// <root-dir>/pod-resources/<10 digits> and exits the whole process when it
// cannot listen there (pkg/kubelet/server/server.go). A test's data dir
// under a long temporary directory (K3S_STANDIN_ROOT) hits that; k3s's own
// /var/lib/kubelet never does.
func shortRootDir(dir string) (string, error) {
	if len(filepath.Join(dir, "pod-resources", "0123456789")) <= maxSocketPath {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	sum := sha256.Sum256([]byte(dir))
	link := filepath.Join(os.TempDir(), "k3s-kubelet-"+hex.EncodeToString(sum[:6]))
	if target, err := os.Readlink(link); err == nil && target == dir {
		return link, nil
	}
	_ = os.Remove(link)
	if err := os.Symlink(dir, link); err != nil {
		return "", fmt.Errorf("the kubelet's root dir %s is too long for its sockets, and linking it from %s: %w", dir, link, err)
	}
	return link, nil
}
