package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/zap"
)

// runEtcdSnapshot is `k3s etcd-snapshot save [--name N]` and `k3s
// etcd-snapshot ls|list|l`, as k3s v1.33's pkg/cli/etcdsnapshot: the command
// does not touch etcd itself but POSTs a request to the running server's
// supervisor (/db/snapshot, role k3s:server) and reports the answer.
// The server is etcd-server from config.yaml, default https://127.0.0.1:6443;
// the token is etcd-token, else the server's own server/token file (k3s's
// commandSetup; config.yaml's `token` key is a server flag that the
// etcd-snapshot command does not have). The token is validated against the
// server's /cacerts as any K10 token. Exit 0 on success, 1 on any error.
func runEtcdSnapshot(args []string) int {
	log := newLogger()
	defer func() { _ = log.Sync() }()
	op, name, err := parseSnapshotArgs(args)
	if err != nil {
		log.Error(err.Error(), zap.Strings("args", args))
		return 1
	}
	env := envFromOS()
	p := env.paths()
	cfg, err := loadConfig(p)
	if err != nil {
		log.Error("loading config", zap.Error(err))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	server := cfg.EtcdServer
	if server == "" {
		server = "https://" + net.JoinHostPort(env.local, SupervisorPort)
	}
	token := cfg.EtcdToken
	if token == "" {
		data, err := os.ReadFile(p.tokenFile)
		if err != nil {
			log.Error("reading the server token", zap.Error(err))
			return 1
		}
		token = strings.TrimRight(string(data), "\n")
	}
	tok, err := parseToken(token)
	if err != nil {
		log.Error("token", zap.Error(err))
		return 1
	}
	jc, err := newJoinClient(ctx, server, tok, log)
	if err != nil {
		log.Error("failed to validate token", zap.Error(err))
		return 1
	}
	req := snapshotRequest{Operation: op}
	if op == "save" {
		req.Name = []string{name}
	}
	body, err := jc.postSnapshot(ctx, req)
	if err != nil {
		log.Error("etcd-snapshot "+op+" failed; see server log for details", zap.Error(err))
		return 1
	}
	switch op {
	case "save":
		var res snapshotResult
		if err := json.Unmarshal(body, &res); err != nil {
			log.Error("decoding the server's answer", zap.Error(err))
			return 1
		}
		for _, n := range res.Deleted {
			log.Info(fmt.Sprintf("Snapshot %s deleted.", n))
		}
		for _, n := range res.Created {
			log.Info(fmt.Sprintf("Snapshot %s saved.", n))
		}
	case "list":
		var l snapshotList
		if err := json.Unmarshal(body, &l); err != nil {
			log.Error("decoding the server's answer", zap.Error(err))
			return 1
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
		fmt.Fprint(w, "Name\tLocation\tSize\tCreated\n")
		for _, it := range l.Items {
			fmt.Fprintf(w, "%s\t%s\t%d\t%s\n", it.Spec.SnapshotName, it.Spec.Location, it.Status.Size, it.Status.CreationTime.Format(time.RFC3339))
		}
		if err := w.Flush(); err != nil {
			return 1
		}
	}
	return 0
}

// parseSnapshotArgs takes the subcommand (save; ls, list or l) and, for
// save, --name N or --name=N (default "on-demand", pkg/cli/cmds/etcd_snapshot.go).
// Any other flag or argument is refused, as config.yaml carries the rest.
func parseSnapshotArgs(args []string) (op, name string, err error) {
	if len(args) == 0 {
		return "", "", errors.New("usage: k3s etcd-snapshot save [--name N] | k3s etcd-snapshot ls")
	}
	switch args[0] {
	case "save":
		op, name = "save", "on-demand"
	case "ls", "list", "l":
		op = "list"
	default:
		return "", "", fmt.Errorf("k3s etcd-snapshot %s: not supported by the k3s test stand-in (save and ls only)", args[0])
	}
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		switch a := rest[i]; {
		case op == "save" && a == "--name" && i+1 < len(rest):
			i++
			name = rest[i]
		case op == "save" && strings.HasPrefix(a, "--name="):
			name = strings.TrimPrefix(a, "--name=")
		default:
			// k3s's save takes no arguments (util.ErrCommandNoArgs); the
			// stand-in also refuses the flags it does not implement.
			return "", "", fmt.Errorf("k3s etcd-snapshot %s: argument %q not supported by the k3s test stand-in", args[0], a)
		}
	}
	if op == "save" && name == "" {
		return "", "", errors.New("--name must not be empty")
	}
	return op, name, nil
}

// postSnapshot POSTs a snapshot request as the "server" user (k3s's
// clientaccess.WithUser("server")) and returns the answer's body; a status
// other than 2xx is an error with the server's message.
func (c *joinClient) postSnapshot(ctx context.Context, sr snapshotRequest) ([]byte, error) {
	b, err := json.Marshal(sr)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/db/snapshot", bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("server", c.token.password)
	req.Header.Set("Content-Type", "application/json")
	client := *c.http
	client.Timeout = 5 * time.Minute // a snapshot of a large datastore takes a while
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
