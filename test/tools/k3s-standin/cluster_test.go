package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
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

// TestThreeServers starts a first server, then two joiners at the same
// moment once the first one is READY, checks the supervisor, the etcd voters and their
// names, the Nodes and the leader-side learner promotion, restarts one from
// its data, and then walks the k3s rules for a rebuilt server: the refusal of
// a duplicate node name, the member removal on Node deletion and on the
// removal annotation, and cluster-init on an empty data dir making a second
// cluster.
func TestThreeServers(t *testing.T) {
	requireIntegration(t)
	bin := standinBinary(t)
	top := t // a wiped root must outlive the subtest that wipes it
	s1 := newInstance(t, "s1", "127.0.0.2", serverConfig("s1", "127.0.0.2", ""))
	s2 := newInstance(t, "s2", "127.0.0.3", serverConfig("s2", "127.0.0.3", "127.0.0.2"))
	s3 := newInstance(t, "s3", "127.0.0.4", serverConfig("s3", "127.0.0.4", "127.0.0.2"))
	ins := []*instance{s1, s2, s3}
	s1.start(t, bin)
	// A joiner exits (and systemd would restart it) when the first server's
	// supervisor does not answer yet, or when its etcd has not published its
	// client URL in /db/info yet: both as in k3s. The test has no systemd,
	// so the joiners start once the first server is READY.
	d := s1.waitReady(t, 3*time.Minute)
	t.Logf("s1: start to READY=1 %.1fs, RSS %d MiB", d.Seconds(), s1.rssKiB(t)/1024)
	s2.start(t, bin)
	s3.start(t, bin)

	// The supervisor listens before etcd starts (k3s's cluster.Start), so a
	// joiner answers /ping long before it is a voter and READY.
	t.Run("ping before etcd", func(t *testing.T) {
		waitPong(t, s2, 30*time.Second)
		if s2.readyYet() {
			t.Fatal("s2 sent READY=1 before its /ping answered")
		}
		for name, role := range memberRoles(t, s1) {
			if memberNodeName(name) == "s2" && role == "voter" {
				t.Fatalf("s2 is already a voter (%s) when its /ping first answers", name)
			}
		}
	})
	for _, in := range []*instance{s2, s3} {
		d := in.waitReady(t, 3*time.Minute)
		t.Logf("%s: start to READY=1 %.1fs, RSS %d MiB", in.name, d.Seconds(), in.rssKiB(t)/1024)
	}

	t.Run("supervisor", func(t *testing.T) { checkSupervisor(t, ins) })
	t.Run("etcd voters", func(t *testing.T) { checkVoters(t, s1, ins) })
	t.Run("nodes", func(t *testing.T) { checkNodes(t, s2, ins) })
	t.Run("member annotations", func(t *testing.T) { checkMemberAnnotations(t, s1, ins) })
	t.Run("leader promotes learners", func(t *testing.T) { checkLeaderPromoted(t, ins, []*instance{s2, s3}) })
	t.Run("token file", func(t *testing.T) { checkTokenFile(t, s1) })
	t.Run("helm simulation", func(t *testing.T) { checkHelmSimulation(t, s1) })

	t.Run("restart from data", func(t *testing.T) {
		s3.kubectl(t, "label", "node", "s3", "added-by-test=kept")
		before := memberIDs(t, s1)
		if err := s3.stop(t, syscall.SIGKILL, time.Minute); err == nil {
			t.Fatal("SIGKILL: want a non-zero exit")
		}
		s3.start(t, bin)
		t.Logf("s3: restart to READY=1 %.1fs", s3.waitReady(t, 3*time.Minute).Seconds())
		if diff := cmp.Diff(before, memberIDs(t, s1)); diff != "" {
			t.Errorf("members after restart (-want +got):\n%s", diff)
		}
		checkVoters(t, s1, ins)
		if got := s3.kubectl(t, "get", "node", "s3", "-o", "jsonpath={.metadata.labels.added-by-test}"); got != "kept" {
			t.Errorf("label added through the API after restart = %q, want kept", got)
		}
	})

	t.Run("duplicate node name refused", func(t *testing.T) {
		if err := s3.stop(t, syscall.SIGTERM, 2*time.Minute); err != nil {
			t.Fatalf("s3: exit after SIGTERM: %v", err)
		}
		s3.wipe(top, serverConfig("s3", "127.0.0.4", "127.0.0.2"))
		s3.start(t, bin)
		if err := s3.waitExit(t, 2*time.Minute); err == nil {
			t.Fatalf("rebuilt s3 with its old member still present: want a non-zero exit\n%s", s3.logTail())
		}
		if !strings.Contains(s3.logTail(), "duplicate node name found, please use a unique name for this node") {
			t.Errorf("log lacks the duplicate node name error:\n%s", s3.logTail())
		}
		if _, err := os.Stat(s3.path("var/lib/rancher/k3s/server/db/etcd/name")); !os.IsNotExist(err) {
			t.Errorf("etcd name file after the refusal: %v, want it removed", err)
		}
	})

	t.Run("node deletion removes the member", func(t *testing.T) {
		s1.kubectl(t, "delete", "node", "s3", "--wait=false")
		waitNoMember(t, s1, "s3")
		poll(t, "node s3 deleted (finalizer released)", time.Minute, func() error {
			if err := s1.kubectlErr("get", "node", "s3"); err == nil {
				return fmt.Errorf("node s3 still exists")
			}
			return nil
		})
		s3.start(t, bin)
		t.Logf("rebuilt s3: start to READY=1 %.1fs", s3.waitReady(t, 3*time.Minute).Seconds())
		checkVoters(t, s1, ins)
	})

	t.Run("remove annotation removes the member", func(t *testing.T) {
		if err := s2.stop(t, syscall.SIGTERM, 2*time.Minute); err != nil {
			t.Fatalf("s2: exit after SIGTERM: %v", err)
		}
		s1.kubectl(t, "annotate", "node", "s2", "etcd.k3s.cattle.io/remove=true")
		waitNoMember(t, s1, "s2")
		poll(t, "removed-node-name annotation", time.Minute, func() error {
			got := s1.kubectl(t, "get", "node", "s2", "-o", `jsonpath={.metadata.annotations.etcd\.k3s\.cattle\.io/removed-node-name}`)
			if memberNodeName(got) != "s2" {
				return fmt.Errorf("removed-node-name = %q", got)
			}
			return nil
		})
		checkVoters(t, s1, []*instance{s1, s3})
	})

	t.Run("cluster-init on an empty data dir makes a second cluster", func(t *testing.T) {
		s2.wipe(top, serverConfig("s2", "127.0.0.3", ""))
		s2.start(t, bin)
		s2.waitReady(t, 3*time.Minute)
		checkVoters(t, s2, []*instance{s2})
		checkVoters(t, s1, []*instance{s1, s3})
		ca1, _ := os.ReadFile(s1.path("var/lib/rancher/k3s/server/tls/server-ca.crt"))
		ca2, _ := os.ReadFile(s2.path("var/lib/rancher/k3s/server/tls/server-ca.crt"))
		if len(ca1) == 0 || string(ca1) == string(ca2) {
			t.Error("the cluster-init server shares the first cluster's CA; want a new one")
		}
	})

	t.Run("SIGTERM exits 0", func(t *testing.T) {
		for _, in := range []*instance{s2, s3, s1} {
			start := time.Now()
			if err := in.stop(t, syscall.SIGTERM, 2*time.Minute); err != nil {
				t.Errorf("%s: exit after SIGTERM: %v\n%s", in.name, err, in.logTail())
			}
			t.Logf("%s: SIGTERM to exit %.1fs", in.name, time.Since(start).Seconds())
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
			{path: "/v1-k3s/server-bootstrap", wantCode: 403, wantBody: "forbidden\n"},
			{path: "/v1-k3s/server-bootstrap", token: "wrong", wantCode: 401, wantBody: "not authorized\n"},
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
		t.Run(in.name+"/v1-k3s/server-bootstrap/format", func(t *testing.T) { checkBootstrapFormat(t, client, in) })
	}
}

// checkBootstrapFormat wants k3s's bootstrap format (pkg/bootstrap
// ReadFromDisk): the CA files keyed by ControlRuntimeBootstrap field, each
// {"Timestamp", "Content": base64}, as the files on disk.
func checkBootstrapFormat(t *testing.T, client *http.Client, in *instance) {
	req, _ := http.NewRequest(http.MethodGet, "https://"+in.ip+":6443/v1-k3s/server-bootstrap", nil)
	req.SetBasicAuth("server", testToken)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]struct {
		Timestamp time.Time
		Content   []byte
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatalf("decoding the bootstrap data: %v", err)
	}
	for key, file := range map[string]string{"ETCDServerCA": "etcd/server-ca.crt", "ETCDServerCAKey": "etcd/server-ca.key", "ServerCA": "server-ca.crt"} {
		want, err := os.ReadFile(in.path("var/lib/rancher/k3s/server/tls/" + file))
		if err != nil {
			t.Fatal(err)
		}
		if f, ok := got[key]; !ok || !bytes.Equal(f.Content, want) || f.Timestamp.IsZero() {
			t.Errorf("bootstrap %s: present %v, content equal to %s %v, timestamp %v", key, ok, file, bytes.Equal(f.Content, want), f.Timestamp)
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
			if !memberNameRE.MatchString(m.Name) {
				return fmt.Errorf("member name %q: want <node-name>-<8 hex>", m.Name)
			}
			got = append(got, fmt.Sprintf("%s %s %s", memberNodeName(m.Name), role, strings.Join(m.ClientURLs, ",")))
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

var memberNameRE = regexp.MustCompile(`^[a-z0-9.-]+-[0-9a-f]{8}$`)

// memberRoles maps member names to "voter" or "learner".
func memberRoles(t *testing.T, in *instance) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := etcdClient(t, in).MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	roles := map[string]string{}
	for _, m := range resp.Members {
		roles[m.Name] = map[bool]string{true: "learner", false: "voter"}[m.IsLearner]
	}
	return roles
}

// waitNoMember waits until no member's name has node's prefix.
func waitNoMember(t *testing.T, via *instance, node string) {
	t.Helper()
	poll(t, "member of "+node+" removed", 2*time.Minute, func() error {
		for name := range memberRoles(t, via) {
			if memberNodeName(name) == node {
				return fmt.Errorf("member %s still present", name)
			}
		}
		return nil
	})
}

// waitPong polls the supervisor's /ping until it answers pong.
func waitPong(t *testing.T, in *instance, timeout time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // as nodeagent's probe
	poll(t, in.name+" /ping", timeout, func() error {
		resp, err := client.Get("https://" + in.ip + ":6443/ping")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if string(body) != "pong" {
			return fmt.Errorf("/ping: %s %q", resp.Status, body)
		}
		return nil
	})
}

// checkMemberAnnotations wants each Node annotated with its member's name
// and address by the metadata controller.
func checkMemberAnnotations(t *testing.T, via *instance, ins []*instance) {
	t.Helper()
	poll(t, "etcd member annotations", time.Minute, func() error {
		names := map[string]string{}
		for name := range memberRoles(t, via) {
			names[memberNodeName(name)] = name
		}
		for _, in := range ins {
			got := via.kubectl(t, "get", "node", in.name, "-o",
				`jsonpath={.metadata.annotations.etcd\.k3s\.cattle\.io/node-name} {.metadata.annotations.etcd\.k3s\.cattle\.io/node-address} {.metadata.finalizers}`)
			want := names[in.name] + " " + in.ip + ` ["wrangler.cattle.io/managed-etcd-controller"]`
			if got != want {
				return fmt.Errorf("node %s: annotations and finalizers %q, want %q", in.name, got, want)
			}
		}
		return nil
	})
}

// checkLeaderPromoted wants each joiner promoted by another server (the etcd
// leader's 15 s loop), never by itself.
func checkLeaderPromoted(t *testing.T, ins, joiners []*instance) {
	t.Helper()
	roles := memberRoles(t, ins[0])
	for _, j := range joiners {
		var member string
		for name := range roles {
			if memberNodeName(name) == j.name {
				member = name
			}
		}
		by := ""
		for _, in := range ins {
			if logHas(t, in, `"msg":"promoted learner"`, member) {
				by += in.name
			}
		}
		if by == "" || by == j.name {
			t.Errorf("%s (%s) promoted by %q; want another server, the etcd leader", j.name, member, by)
		}
	}
}

// logHas reports whether one line of the instance's log holds every part.
func logHas(t *testing.T, in *instance, parts ...string) bool {
	t.Helper()
	data, err := os.ReadFile(in.path("stderr.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}

// checkTokenFile wants server/token in the K10 form whose hash pins the CA.
func checkTokenFile(t *testing.T, in *instance) {
	t.Helper()
	data, err := os.ReadFile(in.path("var/lib/rancher/k3s/server/token"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(in.path("var/lib/rancher/k3s/server/tls/server-ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	want := "K10" + hashCA(ca) + "::server:" + testToken + "\n"
	if string(data) != want {
		t.Errorf("server/token = %q, want %q", data, want)
	}
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
