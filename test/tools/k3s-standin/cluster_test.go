package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
)

const testToken = "stand-in-test-token"

func serverConfig(name, ip, join string) string {
	c := fmt.Sprintf("token: %s\nnode-name: %s\nnode-ip: %s\nservice-cidr: 10.96.0.0/16\n"+
		"node-label:\n  - homelab/test=yes\n  - homelab/name=%s\nnode-taint:\n  - dedicated=test:PreferNoSchedule\n"+
		"write-kubeconfig-mode: \"0600\"\nflannel-backend: none\n", testToken, name, ip, name)
	if join == "" {
		return "cluster-init: true\n" + c
	}
	return "server: https://" + join + ":6443\n" + c
}

// TestThreeServers starts three stand-ins at the same moment (no join
// ordering), checks the etcd voters, the supervisor, k3s.yaml with kubectl
// and the Node labels, then kills one and restarts it from its data.
func TestThreeServers(t *testing.T) {
	requireIntegration(t)
	bin := standinBinary(t)
	ins := []*instance{
		newInstance(t, "s1", "127.0.0.2", serverConfig("s1", "127.0.0.2", "")),
		newInstance(t, "s2", "127.0.0.3", serverConfig("s2", "127.0.0.3", "127.0.0.2")),
		newInstance(t, "s3", "127.0.0.4", serverConfig("s3", "127.0.0.4", "127.0.0.2")),
	}
	for _, in := range ins {
		in.start(t, bin)
	}
	for _, in := range ins {
		d := in.waitReady(t, 3*time.Minute)
		t.Logf("%s: start to READY=1 %.1fs, RSS %d MiB", in.name, d.Seconds(), in.rssKiB(t)/1024)
	}

	t.Run("supervisor", func(t *testing.T) { checkSupervisor(t, ins) })
	t.Run("etcd voters", func(t *testing.T) { checkVoters(t, ins[0], ins) })
	t.Run("nodes", func(t *testing.T) { checkNodes(t, ins[1], ins) })
	t.Run("helm simulation", func(t *testing.T) { checkHelmSimulation(t, ins[0]) })

	t.Run("restart from data", func(t *testing.T) {
		s3 := ins[2]
		s3.kubectl(t, "label", "node", "s3", "added-by-test=kept")
		before := memberIDs(t, ins[0])
		if err := s3.stop(t, syscall.SIGKILL, time.Minute); err == nil {
			t.Fatal("SIGKILL: want a non-zero exit")
		}
		s3.start(t, bin)
		t.Logf("s3: restart to READY=1 %.1fs", s3.waitReady(t, 3*time.Minute).Seconds())
		if diff := cmp.Diff(before, memberIDs(t, ins[0])); diff != "" {
			t.Errorf("members after restart (-want +got):\n%s", diff)
		}
		checkVoters(t, ins[0], ins)
		if got := s3.kubectl(t, "get", "node", "s3", "-o", "jsonpath={.metadata.labels.added-by-test}"); got != "kept" {
			t.Errorf("label added through the API after restart = %q, want kept", got)
		}
	})

	t.Run("SIGTERM exits 0", func(t *testing.T) {
		for i := len(ins) - 1; i >= 0; i-- {
			start := time.Now()
			if err := ins[i].stop(t, syscall.SIGTERM, 2*time.Minute); err != nil {
				t.Errorf("%s: exit after SIGTERM: %v\n%s", ins[i].name, err, ins[i].logTail())
			}
			t.Logf("%s: SIGTERM to exit %.1fs", ins[i].name, time.Since(start).Seconds())
		}
	})
}

func checkSupervisor(t *testing.T, ins []*instance) {
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // as nodeagent's probe
	for _, in := range ins {
		tests := []struct {
			path, token string
			wantCode    int
			wantBody    string
		}{
			{path: "/ping", wantCode: 200, wantBody: "pong"},
			{path: "/v1-k3s/server-bootstrap", wantCode: 401, wantBody: "unauthorized\n"},
			{path: "/v1-k3s/server-bootstrap", token: "wrong", wantCode: 401, wantBody: "unauthorized\n"},
		}
		for _, tc := range tests {
			t.Run(in.name+tc.path+tc.token, func(t *testing.T) {
				req, _ := http.NewRequest(http.MethodGet, "https://"+in.ip+":6443"+tc.path, nil)
				if tc.token != "" {
					req.SetBasicAuth("server", tc.token)
				}
				resp, err := client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				got := fmt.Sprintf("%d %s", resp.StatusCode, body)
				if diff := cmp.Diff(fmt.Sprintf("%d %s", tc.wantCode, tc.wantBody), got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// etcdClient uses the files and endpoint nodeagent's quorum check uses.
func etcdClient(t *testing.T, in *instance) *clientv3.Client {
	t.Helper()
	dir := in.path("var/lib/rancher/k3s/server/tls/etcd")
	tlsCfg, err := transport.TLSInfo{
		CertFile: filepath.Join(dir, "client.crt"), KeyFile: filepath.Join(dir, "client.key"),
		TrustedCAFile: filepath.Join(dir, "server-ca.crt"),
	}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"https://" + in.ip + ":2379"}, TLS: tlsCfg, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// checkVoters wants every instance as a started voting member whose client
// URL answers Status, as nodeagent's quorum observer asks.
func checkVoters(t *testing.T, via *instance, ins []*instance) {
	t.Helper()
	cli := etcdClient(t, via)
	var want []string
	for _, in := range ins {
		want = append(want, fmt.Sprintf("%s voter https://%s:2379", in.name, in.ip))
	}
	poll(t, "etcd voters", time.Minute, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := cli.MemberList(ctx)
		if err != nil {
			return err
		}
		var got []string
		for _, m := range resp.Members {
			role := "voter"
			if m.IsLearner {
				role = "learner"
			}
			got = append(got, fmt.Sprintf("%s %s %s", m.Name, role, strings.Join(m.ClientURLs, ",")))
			if len(m.ClientURLs) == 1 {
				if _, err := cli.Status(ctx, m.ClientURLs[0]); err != nil {
					return fmt.Errorf("status of %s: %w", m.Name, err)
				}
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			return fmt.Errorf("members (-want +got):\n%s", diff)
		}
		return nil
	})
}

func memberIDs(t *testing.T, in *instance) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := etcdClient(t, in).MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]uint64{}
	for _, m := range resp.Members {
		ids[m.Name] = m.ID
	}
	return ids
}
