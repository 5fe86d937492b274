package apiserver

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// Runs without the kube-apiserver binary: the embedded etcd alone.
func TestStartEtcdServesOnLoopback(t *testing.T) {
	e, endpoint, err := startEtcd(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("connecting to %s: %v", endpoint, err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/registry/probe", "ok"); err != nil {
		t.Fatalf("put: %v", err)
	}
	resp, err := cli.Get(ctx, "/registry/probe")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "ok" {
		t.Errorf("get /registry/probe = %v, want one value \"ok\"", resp.Kvs)
	}
}
