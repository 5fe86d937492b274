package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// writeKubeconfig writes k3s.yaml with the admin client certificate. Unlike
// k3s (server https://127.0.0.1:6443 through its proxy) it names the
// apiserver's own port, 6444, as the stand-in has no API proxy.
func (s *server) writeKubeconfig() error {
	mode, err := s.cfg.kubeconfigMode()
	if err != nil {
		return err
	}
	read := func(name string) ([]byte, error) { return os.ReadFile(filepath.Join(s.paths.tls, name)) }
	ca, err := read("server-ca.crt")
	if err != nil {
		return fmt.Errorf("reading server CA: %w", err)
	}
	crt, err := read("client-admin.crt")
	if err != nil {
		return fmt.Errorf("reading admin certificate: %w", err)
	}
	key, err := read("client-admin.key")
	if err != nil {
		return fmt.Errorf("reading admin key: %w", err)
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters["default"] = &clientcmdapi.Cluster{Server: s.apiURL(), CertificateAuthorityData: ca}
	kc.AuthInfos["default"] = &clientcmdapi.AuthInfo{ClientCertificateData: crt, ClientKeyData: key}
	kc.Contexts["default"] = &clientcmdapi.Context{Cluster: "default", AuthInfo: "default"}
	kc.CurrentContext = "default"
	data, err := clientcmd.Write(*kc)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	return writeFile(s.paths.kubeconfig, data, mode)
}

func (s *server) apiURL() string {
	return "https://" + net.JoinHostPort(s.env.local, APIServerPort)
}

func (s *server) restConfig() (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", s.paths.kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", s.paths.kubeconfig, err)
	}
	return cfg, nil
}

// waitAPIReady polls /readyz until the apiserver says it is ready, or the
// apiserver exits (exited is closed), or ctx ends.
func waitAPIReady(ctx context.Context, cfg *rest.Config, exited <-chan struct{}) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("creating client: %w", err)
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		body, err := cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(rctx)
		cancel()
		if err == nil && string(body) == "ok" {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("kube-apiserver exited before ready")
		case <-ctx.Done():
			return fmt.Errorf("waiting for kube-apiserver: %w", ctx.Err())
		case <-tick.C:
		}
	}
}
